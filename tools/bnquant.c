/* bnquant: quantize the projections of a bnt(5) model to ternary
 * (BitNet b1.58 absmean) or binary (BitNet sign): post-training, or by
 * quantization-aware training with distillation (model/qat.c); and
 * initialise new models (model/init.c). */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <math.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <unistd.h>

#include "bnt.h"
#include "config.h"
#include "convert.h"
#include "dtype.h"
#include "err.h"
#include "init.h"
#include "kernels.h"
#include "kpick.h"
#include "qat.h"
#include "parse.h"
#include "quant.h"
#include "train.h"
#include "version.h"
#include "xio.h"

#ifdef BN_MPI
#include <mpi.h>
#endif

enum { OPT_FORCE = 256, OPT_KEEP, OPT_PACK, OPT_SCALE,
	/* --init */
	OPT_CTX, OPT_FFN, OPT_HEAD_DIM, OPT_HEADS, OPT_HIDDEN, OPT_INIT,
	OPT_KV_HEADS,
	OPT_LAYERS, OPT_SEED, OPT_TOKENIZER,
	/* --train */
	OPT_ALLOW_NONFINITE, OPT_BATCH, OPT_CKPT_EVERY, OPT_CLIP,
	OPT_DISTILL_ATTN, OPT_DISTILL_ATTN_LAYER, OPT_DISTILL_ATTN_TEMP,
	OPT_DISTILL_HIDDEN, OPT_DISTILL_HIDDEN_LAYERS,
	OPT_DISTILL_HIDDEN_WEIGHT,
	OPT_EVAL_EVERY, OPT_KD_ALPHA, OPT_KD_TEMP, OPT_KEEP_MASTER,
	OPT_LAMBDA_SHAPE, OPT_LAMBDA_WARMUP, OPT_LOG,
	OPT_LR, OPT_MIN_LR, OPT_RESUME, OPT_STEPS, OPT_TEACHER, OPT_TRAIN,
	OPT_VAL, OPT_WARMUP, OPT_WD,
	/* --to-arch */
	OPT_TO_ARCH };

#define DEFAULT_KEEP "^(token_embd|output)\\.weight$|norm"

struct opts {
	const char *input, *output;
	int binary;		/* -q binary */
	int t3;			/* --pack t3 */
	int scale_kind;		/* enum bnt_scale */
	unsigned block;
	regex_t keep;
	int force, verbose;
	const char *init;	/* --init ARCH: a new model, not -q */
	const char *tokenizer;	/* --tokenizer FILE */
	struct bn_init_opts io;	/* --init sizes and seed */
	struct bn_qat_opts qo;	/* --train */
	const char *log;	/* --log FILE */
	int keep_master;
	const char *to_arch;	/* --to-arch bitnet */
};

static const char shortopts[] = "C:ho:q:t:vV";
static const struct option longopts[] = {
	{ "allow-nonfinite", no_argument,	NULL,	OPT_ALLOW_NONFINITE },
	{ "batch",	required_argument,	NULL,	OPT_BATCH },
	{ "ckpt-dir",	required_argument,	NULL,	'C' },
	{ "ckpt-every",	required_argument,	NULL,	OPT_CKPT_EVERY },
	{ "clip",	required_argument,	NULL,	OPT_CLIP },
	{ "ctx",	required_argument,	NULL,	OPT_CTX },
	{ "distill-attn", required_argument,	NULL, OPT_DISTILL_ATTN },
	{ "distill-attn-layer", required_argument, NULL,
	    OPT_DISTILL_ATTN_LAYER },
	{ "distill-attn-temp", required_argument, NULL, OPT_DISTILL_ATTN_TEMP },
	{ "distill-hidden", required_argument,	NULL, OPT_DISTILL_HIDDEN },
	{ "distill-hidden-layers", required_argument, NULL,
	    OPT_DISTILL_HIDDEN_LAYERS },
	{ "distill-hidden-weight", required_argument, NULL,
	    OPT_DISTILL_HIDDEN_WEIGHT },
	{ "eval-every",	required_argument,	NULL,	OPT_EVAL_EVERY },
	{ "ffn",	required_argument,	NULL,	OPT_FFN },
	{ "force",	no_argument,		NULL,	OPT_FORCE },
	{ "head-dim",	required_argument,	NULL,	OPT_HEAD_DIM },
	{ "heads",	required_argument,	NULL,	OPT_HEADS },
	{ "help",	no_argument,		NULL,	'h' },
	{ "hidden",	required_argument,	NULL,	OPT_HIDDEN },
	{ "init",	required_argument,	NULL,	OPT_INIT },
	{ "kd-alpha",	required_argument,	NULL,	OPT_KD_ALPHA },
	{ "kd-temp",	required_argument,	NULL,	OPT_KD_TEMP },
	{ "keep",	required_argument,	NULL,	OPT_KEEP },
	{ "keep-master", no_argument,		NULL,	OPT_KEEP_MASTER },
	{ "kv-heads",	required_argument,	NULL,	OPT_KV_HEADS },
	{ "lambda-shape", required_argument,	NULL,	OPT_LAMBDA_SHAPE },
	{ "lambda-warmup", required_argument,	NULL,	OPT_LAMBDA_WARMUP },
	{ "layers",	required_argument,	NULL,	OPT_LAYERS },
	{ "log",	required_argument,	NULL,	OPT_LOG },
	{ "lr",		required_argument,	NULL,	OPT_LR },
	{ "min-lr",	required_argument,	NULL,	OPT_MIN_LR },
	{ "output",	required_argument,	NULL,	'o' },
	{ "pack",	required_argument,	NULL,	OPT_PACK },
	{ "quant",	required_argument,	NULL,	'q' },
	{ "resume",	required_argument,	NULL,	OPT_RESUME },
	{ "scale",	required_argument,	NULL,	OPT_SCALE },
	{ "seed",	required_argument,	NULL,	OPT_SEED },
	{ "steps",	required_argument,	NULL,	OPT_STEPS },
	{ "teacher",	required_argument,	NULL,	OPT_TEACHER },
	{ "threads",	required_argument,	NULL,	't' },
	{ "to-arch",	required_argument,	NULL,	OPT_TO_ARCH },
	{ "tokenizer",	required_argument,	NULL,	OPT_TOKENIZER },
	{ "train",	required_argument,	NULL,	OPT_TRAIN },
	{ "val",	required_argument,	NULL,	OPT_VAL },
	{ "warmup",	required_argument,	NULL,	OPT_WARMUP },
	{ "wd",		required_argument,	NULL,	OPT_WD },
	{ "verbose",	no_argument,		NULL,	'v' },
	{ "version",	no_argument,		NULL,	'V' },
	{ NULL,		0,			NULL,	0 }
};

static _Noreturn void
usage(FILE *fp, int status)
{
	fprintf(fp, "usage: %s -q ternary|binary [-v] [--scale "
	    "tensor|row|block:n] [--pack t2|t3] [--keep regex] [--force] "
	    "[-o file] [file]\n"
	    "       %s --init llama|bitnet|qwen2|qwen3 [--hidden n] "
	    "[--layers n] [--heads n] [--kv-heads n] [--head-dim n] [--ffn n] "
	    "[--ctx n] --tokenizer file [--seed s] [--force] [-o file]\n"
	    "       %s --to-arch bitnet [--force] [-o file] [model]\n"
	    "       %s --train corpus [-q ternary|binary] [--val corpus] "
	    "[--teacher model] [--steps n] [--batch n] [--ctx n] [--lr x] "
	    "[--min-lr x] [--warmup n] [--wd x] [--clip x] [--kd-alpha x] "
	    "[--kd-temp x] [--distill-hidden mse|cos "
	    "[--distill-hidden-weight w] [--distill-hidden-layers list]] "
	    "[--distill-attn w [--distill-attn-layer n] "
	    "[--distill-attn-temp t]] "
	    "[--lambda-warmup n [--lambda-shape linear|sigmoid]] [--seed s] "
	    "[--eval-every n] [-C dir --ckpt-every n] [--resume ckpt] [--log file] [--keep-master] "
	    "[--allow-nonfinite] [--to-arch bitnet] [-t n] [-v] [-o file] "
	    "[model]\n",
	    bn_progname, bn_progname, bn_progname, bn_progname);
	if (fp == stdout)
		fputs("Quantize a bnt(5) model's projections; see "
		    "bnquant(1).\n"
		    "  -o, --output FILE  write FILE (default: standard "
		    "output)\n"
		    "  -q, --quant TYPE   ternary (absmean) or binary (sign)\n"
		    "  -v, --verbose      report each tensor on standard "
		    "error\n"
		    "      --force        binary data to or from a terminal\n"
		    "      --keep RE      leave 2-D float tensors matching RE "
		    "in float\n"
		    "                     (default: '" DEFAULT_KEEP "')\n"
		    "      --pack t2|t3   ternary codes in 2 bits (default) "
		    "or 1.6 (5 a byte)\n"
		    "      --scale KIND   tensor (default), row or block:N\n"
		    "Initialise a new model (--init); see bnquant(1):\n"
		    "      --init ARCH    llama, bitnet, qwen2 or qwen3\n"
		    "      --tokenizer FILE  tokenizer.json, GGUF vocabulary "
		    "or bnt model\n"
		    "      --hidden N     hidden size (default 256)\n"
		    "      --layers N     layers (default 6)\n"
		    "      --heads N      attention heads (default 8)\n"
		    "      --kv-heads N   key/value heads (default 4, or "
		    "--heads)\n"
		    "      --head-dim N   head size (default hidden / heads)\n"
		    "      --ffn N        feed-forward size (default 768)\n"
		    "      --ctx N        context length (default 256)\n"
		    "      --seed S       random seed (default 0)\n"
		    "Convert a llama model to the BitNet layout; see "
		    "bnquant(1):\n"
		    "      --to-arch bitnet  sub-norms of ones before "
		    "attn_output and ffn_down\n"
		    "                     (alone, or before --train)\n"
		    "Quantization-aware training (--train); see bnquant(1):\n"
		    "      --train FILE   training text, tokens (.u16, .u32, "
		    ".bin, .npy), directory\n"
		    "                     of *.txt or @list of texts\n"
		    "      --val FILE     validation corpus, by bnrun's "
		    "perplexity protocol\n"
		    "      --teacher M    distil from the float model M\n"
		    "      --steps N      optimizer steps (default 200)\n"
		    "      --batch N      sequences per step (default 16)\n"
		    "      --ctx N        tokens per sequence (default 256)\n"
		    "      --lr X         peak learning rate (default 1e-3)\n"
		    "      --min-lr X     final learning rate (default 0)\n"
		    "      --warmup N     warm-up steps (default steps/10)\n"
		    "      --wd X         AdamW weight decay (default 0)\n"
		    "      --clip X       gradient norm clip (default 1)\n"
		    "      --kd-alpha A   weight of CE against KL (default "
		    "0.5)\n"
		    "      --kd-temp T    distillation temperature (default "
		    "1)\n"
		    "      --distill-hidden D  distil layer outputs by mse "
		    "or cos (default off)\n"
		    "      --distill-hidden-weight W  its weight (default 1)\n"
		    "      --distill-hidden-layers L  layers, as 0,2,5 "
		    "(default all)\n"
		    "      --distill-attn W  attention-relation distillation "
		    "weight (default 0: off)\n"
		    "      --distill-attn-layer N  its layer (default the "
		    "last)\n"
		    "      --distill-attn-temp T  its temperature (default "
		    "1)\n"
		    "      --lambda-warmup N  quantize gradually over N "
		    "steps (default 0: off)\n"
		    "      --lambda-shape S   linear (default) or sigmoid\n"
		    "      --eval-every N validate every N steps\n"
		    "  -C, --ckpt-dir DIR checkpoints into DIR ...\n"
		    "      --ckpt-every N ... every N steps\n"
		    "      --resume CKPT  go on from a checkpoint\n"
		    "      --log FILE     one JSON object per step\n"
		    "      --keep-master  write float master weights, not "
		    "codes\n"
		    "      --allow-nonfinite  load NaN, infinity and invalid "
		    "scales\n"
		    "  -t, --threads N    threads (default: all CPUs)\n"
		    "  -h, --help         show this help\n"
		    "  -V, --version      show the version\n", fp);
	exit(status);
}

/* A --init size: a count, checked again by bn_init_check(). */
static void
init_size(const char *opt, int *v)
{
	unsigned u;

	if (bn_parse_uint(optarg, 1, 1u << 30, &u) != 0)
		bn_errx(EX_USAGE, "%s: invalid size '%s'", opt, optarg);
	*v = (int)u;
}

/* A --train count in [min, 2^30]. */
static int
count(const char *opt, unsigned min)
{
	unsigned u;

	if (bn_parse_uint(optarg, min, 1u << 30, &u) != 0)
		bn_errx(EX_USAGE, "%s: invalid count '%s'", opt, optarg);
	return (int)u;
}

/* A --train number in [lo, hi]. */
static float
number(const char *opt, double lo, double hi)
{
	double d;

	if (bn_parse_f64(optarg, &d) != 0 || !(d >= lo && d <= hi))
		bn_errx(EX_USAGE, "%s: '%s' is not a number in [%g, %g]", opt,
		    optarg, lo, hi);
	return (float)d;
}

/* --distill-hidden-layers: layers from 0, comma-separated, each
 * once. */
static void
layer_list(struct opts *o)
{
	static int v[BN_INIT_MAX_LAYERS];
	const char *p = optarg;
	char num[16];
	unsigned u;
	size_t k;
	int n = 0, j;

	for (;;) {
		k = strcspn(p, ",");
		if (k == 0 || k >= sizeof num || n == BN_INIT_MAX_LAYERS)
			bn_errx(EX_USAGE, "--distill-hidden-layers: invalid "
			    "list '%s'", optarg);
		memcpy(num, p, k);
		num[k] = '\0';
		if (bn_parse_uint(num, 0, BN_INIT_MAX_LAYERS - 1, &u) != 0)
			bn_errx(EX_USAGE, "--distill-hidden-layers: invalid "
			    "layer '%s'", num);
		for (j = 0; j < n; j++)
			if (v[j] == (int)u)
				bn_errx(EX_USAGE, "--distill-hidden-layers: "
				    "layer %u twice", u);
		v[n++] = (int)u;
		if (p[k] == '\0')
			break;
		p += k + 1;
	}
	o->qo.hid_layers = v;
	o->qo.nhid_layers = n;
}

static void
parse_args(int argc, char *argv[], struct opts *o)
{
	const char *keep = DEFAULT_KEEP;
	int ch, q = 0, initopt = 0, trainopt = 0;

	argv[0] = (char *)bn_progname;
	while ((ch = getopt_long(argc, argv, shortopts, longopts, NULL)) != -1)
		switch (ch) {
		case OPT_BATCH: o->qo.batch = count("--batch", 1); break;
		case OPT_CKPT_EVERY:
			o->qo.ckpt_every = count("--ckpt-every", 1);
			break;
		case OPT_CLIP: o->qo.clip = number("--clip", 0, 1e30); break;
		case OPT_CTX:
			init_size("--ctx", &o->io.ctx);
			o->qo.ctx = o->io.ctx;
			initopt = 1;
			break;
		case OPT_EVAL_EVERY:
			o->qo.eval_every = count("--eval-every", 1);
			break;
		case OPT_KD_ALPHA:
			o->qo.alpha = number("--kd-alpha", 0, 1);
			break;
		case OPT_KD_TEMP:
			o->qo.tau = number("--kd-temp", 1e-3, 1e3);
			break;
		case OPT_DISTILL_ATTN:
			o->qo.att_weight = number("--distill-attn", 0, 1e6);
			trainopt |= 16;
			break;
		case OPT_DISTILL_ATTN_LAYER:
			o->qo.att_layer = count("--distill-attn-layer", 0);
			trainopt |= 32;
			break;
		case OPT_DISTILL_ATTN_TEMP:
			o->qo.att_temp = number("--distill-attn-temp", 1e-3,
			    1e3);
			trainopt |= 32;
			break;
		case OPT_DISTILL_HIDDEN:
			if (strcmp(optarg, "mse") == 0)
				o->qo.hid_distill = 1;
			else if (strcmp(optarg, "cos") == 0)
				o->qo.hid_distill = 2;
			else
				bn_errx(EX_USAGE, "--distill-hidden: invalid "
				    "loss '%s' (mse or cos)", optarg);
			trainopt |= 4;
			break;
		case OPT_DISTILL_HIDDEN_LAYERS:
			layer_list(o);
			trainopt |= 8;
			break;
		case OPT_DISTILL_HIDDEN_WEIGHT:
			o->qo.hid_weight = number("--distill-hidden-weight", 0,
			    1e6);
			trainopt |= 8;
			break;
		case OPT_KEEP_MASTER: o->keep_master = 1; break;
		case OPT_LAMBDA_SHAPE:
			if (strcmp(optarg, "linear") == 0)
				o->qo.lambda_shape = BN_LAMBDA_LINEAR;
			else if (strcmp(optarg, "sigmoid") == 0)
				o->qo.lambda_shape = BN_LAMBDA_SIGMOID;
			else
				bn_errx(EX_USAGE, "--lambda-shape: invalid "
				    "shape '%s' (linear or sigmoid)", optarg);
			trainopt |= 1;
			break;
		case OPT_LAMBDA_WARMUP:
			o->qo.lambda_warmup = count("--lambda-warmup", 0);
			trainopt |= 2;
			break;
		case OPT_LOG: o->log = optarg; break;
		case OPT_LR: o->qo.lr = number("--lr", 0, 10); break;
		case OPT_MIN_LR: o->qo.min_lr = number("--min-lr", 0, 10); break;
		case OPT_RESUME: o->qo.resume = optarg; break;
		case OPT_ALLOW_NONFINITE: o->qo.nonfinite = 1; break;
		case OPT_STEPS: o->qo.steps = count("--steps", 1); break;
		case OPT_TEACHER: o->qo.teacher = optarg; break;
		case OPT_TRAIN: o->qo.train = optarg; break;
		case OPT_VAL: o->qo.val = optarg; break;
		case OPT_WARMUP: o->qo.warmup = count("--warmup", 0); break;
		case OPT_WD: o->qo.wd = number("--wd", 0, 10); break;
		case 'C': o->qo.ckpt_dir = optarg; break;
		case 't': o->qo.threads = count("--threads", 1); break;
		case OPT_FFN: init_size("--ffn", &o->io.ffn); initopt = 1; break;
		case OPT_FORCE: o->force = 1; break;
		case OPT_HEAD_DIM:
			init_size("--head-dim", &o->io.head_dim);
			initopt = 1;
			break;
		case OPT_HEADS:
			init_size("--heads", &o->io.heads);
			initopt = 1;
			break;
		case OPT_HIDDEN:
			init_size("--hidden", &o->io.hidden);
			initopt = 1;
			break;
		case OPT_INIT:
			o->io.arch = bn_arch_from_name(optarg);
			if (o->io.arch != BN_ARCH_LLAMA &&
			    o->io.arch != BN_ARCH_BITNET &&
			    o->io.arch != BN_ARCH_QWEN2 &&
			    o->io.arch != BN_ARCH_QWEN3)
				bn_errx(EX_USAGE, "--init: invalid architecture "
				    "'%s'", optarg);
			o->init = optarg;
			break;
		case OPT_KEEP: keep = optarg; break;
		case OPT_KV_HEADS:
			init_size("--kv-heads", &o->io.kv_heads);
			initopt = 1;
			break;
		case OPT_LAYERS:
			init_size("--layers", &o->io.layers);
			initopt = 1;
			break;
		case OPT_PACK:
			if (strcmp(optarg, "t2") == 0 ||
			    strcmp(optarg, "t3") == 0)
				o->t3 = optarg[1] == '3';
			else {
				bn_warnx("--pack: invalid packing '%s'",
				    optarg);
				usage(stderr, EX_USAGE);
			}
			break;
		case OPT_SCALE:
			if (strcmp(optarg, "tensor") == 0)
				o->scale_kind = BNT_SCALE_TENSOR;
			else if (strcmp(optarg, "row") == 0)
				o->scale_kind = BNT_SCALE_ROW;
			else if (strncmp(optarg, "block:", 6) == 0 &&
			    bn_parse_uint(optarg + 6, 1, 1u << 24,
			    &o->block) == 0)
				o->scale_kind = BNT_SCALE_BLOCK;
			else {
				bn_warnx("--scale: invalid scale '%s'", optarg);
				usage(stderr, EX_USAGE);
			}
			break;
		case OPT_SEED:
			if (bn_parse_u64(optarg, 0, UINT64_MAX, &o->io.seed) != 0)
				bn_errx(EX_USAGE, "--seed: invalid seed '%s'",
				    optarg);
			o->qo.seed = o->io.seed;
			initopt = 1;
			break;
		case OPT_TOKENIZER: o->tokenizer = optarg; initopt = 1; break;
		case OPT_TO_ARCH:
			if (strcmp(optarg, "bitnet") != 0)
				bn_errx(EX_USAGE, "--to-arch: invalid "
				    "architecture '%s' (bitnet)", optarg);
			o->to_arch = optarg;
			break;
		case 'h': usage(stdout, EXIT_SUCCESS);
		case 'o': o->output = optarg; break;
		case 'q':
			if (strcmp(optarg, "ternary") == 0)
				o->binary = 0;
			else if (strcmp(optarg, "binary") == 0)
				o->binary = 1;
			else {
				bn_warnx("-q: invalid type '%s'", optarg);
				usage(stderr, EX_USAGE);
			}
			q = 1;
			break;
		case 'v': o->verbose++; break;
		case 'V':
			bn_print_version(stdout);
			exit(EXIT_SUCCESS);
		default: usage(stderr, EX_USAGE);
		}
	if ((trainopt & 3) && o->qo.train == NULL)
		bn_errx(EX_USAGE, "--lambda-warmup and --lambda-shape need "
		    "--train");
	if ((trainopt & 8) && !(trainopt & 4))
		bn_errx(EX_USAGE, "--distill-hidden-weight and "
		    "--distill-hidden-layers need --distill-hidden");
	if ((trainopt & 4) && (o->qo.train == NULL || o->qo.teacher == NULL))
		bn_errx(EX_USAGE, "--distill-hidden: needs --train and "
		    "--teacher");
	if ((trainopt & 32) && !(trainopt & 16))
		bn_errx(EX_USAGE, "--distill-attn-layer and "
		    "--distill-attn-temp need --distill-attn");
	if ((trainopt & 16) && (o->qo.train == NULL || o->qo.teacher == NULL))
		bn_errx(EX_USAGE, "--distill-attn: needs --train and "
		    "--teacher");
	if ((trainopt & 1) && o->qo.lambda_warmup == 0)
		bn_errx(EX_USAGE, "--lambda-shape: needs --lambda-warmup N "
		    "(N > 0)");
	if (o->to_arch != NULL && (o->init != NULL || o->qo.resume != NULL ||
	    (o->qo.train == NULL && (q || initopt || o->qo.nonfinite))))
		bn_errx(EX_USAGE, "--to-arch: alone or with --train (not "
		    "--init, --resume or -q without --train)");
	if (o->t3 && (o->binary || o->init != NULL || o->qo.train != NULL ||
	    o->qo.resume != NULL || o->to_arch != NULL))
		bn_errx(EX_USAGE, "--pack t3: with -q ternary only (not "
		    "binary, --init, --train or --to-arch)");
	if (o->init != NULL) {
		if (q || o->qo.nonfinite || argc - optind > 0)
			usage(stderr, EX_USAGE);
		if (o->tokenizer == NULL)
			bn_errx(EX_USAGE, "--init: --tokenizer is required");
		return;
	}
	if (o->qo.train != NULL || o->qo.resume != NULL) {
		if (argc - optind > 1 || o->tokenizer != NULL ||
		    o->scale_kind != BNT_SCALE_TENSOR)
			usage(stderr, EX_USAGE);
		if (o->qo.train == NULL)
			bn_errx(EX_USAGE, "--resume: --train is required");
		o->qo.quant = o->binary ? BN_TQ_BINARY : BN_TQ_TERNARY;
		o->qo.input = optind < argc ? argv[optind] : NULL;
		if (o->qo.input == NULL && o->qo.resume == NULL)
			bn_errx(EX_USAGE, "--train: a model file is required");
		if ((o->qo.ckpt_dir == NULL) != (o->qo.ckpt_every == 0))
			bn_errx(EX_USAGE, "-C and --ckpt-every go together");
		if (o->qo.threads == 0)
			o->qo.threads = bn_pool_default_threads();
	} else if (o->to_arch != NULL) {
		if (argc - optind > 1)
			usage(stderr, EX_USAGE);
	} else if (!q || initopt || o->qo.nonfinite || argc - optind > 1)
		usage(stderr, EX_USAGE);
	o->input = optind < argc ? argv[optind] : "-";
	if (regcomp(&o->keep, keep, REG_EXTENDED | REG_NOSUB) != 0) {
		bn_warnx("--keep: invalid regex '%s'", keep);
		usage(stderr, EX_USAGE);
	}
}

/* t2 codes (t's layout, in *q) to bnt(5)'s t3, 5 a byte: t and *q
 * become the t3 tensor's. */
static int
to_t3(struct bnt_tensor *t, uint8_t **q, struct bn_err *e)
{
	struct bnt_tensor t3 = *t;
	uint64_t r;
	uint8_t *o;
	int st;

	t3.dtype = BN_DTYPE_T3;
	if ((st = bnt_tensor_layout(&t3, e)) != BN_OK)
		return st;
	if ((o = calloc(t3.data_bytes ? t3.data_bytes : 1, 1)) == NULL)
		return bn_seterr(e, BN_ENOMEM, "out of memory");
	for (r = 0; r < t->rows; r++)
		bn_t2_row_to_t3(*q + r * t->row_bytes, o + r * t3.row_bytes,
		    t->row_len);
	free(*q);
	*q = o;
	*t = t3;
	return BN_OK;
}

/* Quantize one float tensor and write it with w.  The statistic is
 * taken over each scope (the tensor, a row, or a block of a row). */
static int
quantize(const struct opts *o, const struct bnt_record *rec,
    struct bnt_writer *w, const char *name)
{
	const struct bnt_tensor *in = &rec->tensor;
	struct bnt_tensor t = *in;
	struct bn_err e = { "" };
	uint64_t r, len;
	float *v, *sc;
	uint8_t *q;
	int st;

	t.dtype = o->binary ? BN_DTYPE_B1 : BN_DTYPE_T2;
	t.scale_kind = o->scale_kind;
	t.scale_dtype = BN_DTYPE_F32;
	t.scale_block = o->scale_kind == BNT_SCALE_BLOCK ? o->block : 0;
	t.scale_flags = o->binary ? 0 : BNT_SCALE_DIV;
	if (bnt_tensor_layout(&t, &e) != BN_OK)
		bn_errx(EX_DATAERR, "%s: %s", name, e.msg);
	len = in->row_len;
	v = malloc((in->nelem ? in->nelem : 1) * sizeof *v);
	q = malloc(t.data_bytes ? t.data_bytes : 1);
	sc = malloc((t.nscales ? t.nscales : 1) * sizeof *sc);
	if (v == NULL || q == NULL || sc == NULL)
		bn_errx(EX_OSERR, "out of memory");
	for (r = 0; r < in->rows; r++)
		bn_row_to_f32(in->dtype, rec->data + r * in->row_bytes, len,
		    v + r * len);
	/* a NaN or an infinity has no ternary or binary code: the absmean
	 * scale would launder it into a finite one */
	for (r = 0; r < in->nelem; r++)
		if (!isfinite(v[r])) {
			const char *what = isnan(v[r]) ? "NaN" : "infinity";

			/* freed first: leak checkers see a clean exit */
			free(v);
			free(q);
			free(sc);
			bn_errx(EX_DATAERR, "%s: tensor '%s': %s at row %llu, "
			    "column %llu: cannot quantize", name, in->name,
			    what, (unsigned long long)(r / len),
			    (unsigned long long)(r % len));
		}
	bn_quant_tensor(v, in->rows, len, &(struct bn_quant){ .kind =
	    o->binary ? BN_QUANT_BINARY : BN_QUANT_TERNARY, .block =
	    o->scale_kind == BNT_SCALE_BLOCK ? o->block :
	    o->scale_kind == BNT_SCALE_ROW ? len : 0, .codes = q,
	    .row_bytes = t.row_bytes, .scales = sc });
	if (o->t3 && (st = to_t3(&t, &q, &e)) != BN_OK)
		bn_errx(bn_exit_code(st), "%s: %s", name, e.msg);
	if (o->verbose)
		bn_warnx("%s: %s, %llu scales", t.name,
		    bn_dtype_traits(t.dtype)->name,
		    (unsigned long long)t.nscales);
	st = bnt_write_tensor(w, &t, q, sc);
	free(v);
	free(q);
	free(sc);
	return st;
}

/* --init: a new model with the tokenizer of o->tokenizer (model/init.c). */
static void
do_init(struct opts *o)
{
	struct bn_err e = { "" };
	struct bnt_writer *w;
	struct bn_vocab v;
	struct bn_out out;
	int st;

	if (bn_init_check(&o->io, 1, &e) != BN_OK)
		bn_errx(EX_USAGE, "%s", e.msg);
	bn_vocab_init(&v);
	if ((st = bn_init_load_vocab(o->tokenizer, &v, &e)) != BN_OK)
		bn_errx(bn_exit_code(st), "%s: %s",
		    bn_display_name(o->tokenizer), e.msg);
	if (bn_init_check(&o->io, v.n_tokens, &e) != BN_OK)
		bn_errx(EX_USAGE, "%s", e.msg);
	bn_note_input(o->tokenizer);
	bn_out_open(&out, o->output, 1, o->force);
	if ((w = bnt_writer_open(out.fp, 0)) == NULL)
		bn_errx(EX_OSERR, "out of memory");
	/* free before exiting, so that leak checkers see a clean exit */
	st = bn_init_model(w, &o->io, &v, &e);
	if (st == BN_OK)
		st = bnt_writer_finish(w);
	if (st != BN_OK && bnt_writer_error(w)[0] != '\0')	/* I/O */
		snprintf(e.msg, sizeof e.msg, "%s", bnt_writer_error(w));
	if (st != BN_OK) {
		bnt_writer_free(w);
		bn_vocab_free(&v);
		bn_errx(bn_exit_code(st), "%s: %s", out.name, e.msg);
	}
	if (o->verbose)
		bn_warnx("%s: %s, vocabulary %lu, hidden %d, %d layers, seed "
		    "%llu", out.name, o->init, (unsigned long)v.n_tokens,
		    o->io.hidden, o->io.layers,
		    (unsigned long long)o->io.seed);
	bn_out_close(&out);
	bnt_writer_free(w);
	bn_vocab_free(&v);
	bn_close_stdout();
}

/* Post-training quantization of the stream in into out. */
static void
ptq(struct opts *op, FILE *in, const char *name, struct bn_out *outp)
{
	struct opts o = *op;
	struct bn_out out = *outp;
	struct bnt_reader *r;
	struct bnt_writer *w;
	struct bnt_record rec;
	struct bn_kv kv;
	size_t i;
	int st, wst = BN_OK;

	if ((r = bnt_reader_open(in, name)) == NULL)
		bn_errx(EX_OSERR, "out of memory");
	if ((w = bnt_writer_open(out.fp, 0)) == NULL)
		bn_errx(EX_OSERR, "out of memory");
	while (wst == BN_OK && (st = bnt_read_next(r, &rec)) == BN_OK) {
		const struct bnt_tensor *t = &rec.tensor;

		switch (rec.kind) {
		case BNT_KIND_CONFIG:
			bn_kv_init(&kv);
			for (i = 0; i < rec.config.n; i++)
				bn_kv_set(&kv, rec.config.v[i].key,
				    rec.config.v[i].val);
			bn_kv_set(&kv, "bitlinear", "1");
			wst = bnt_write_config(w, &kv);
			bn_kv_free(&kv);
			break;
		case BNT_KIND_TOKENIZER:
			wst = bnt_write_tokenizer(w, &rec.vocab);
			break;
		case BNT_KIND_TENSOR:
			if (t->ndim == 2 && bn_dtype_traits(t->dtype)->is_float &&
			    regexec(&o.keep, t->name, 0, NULL, 0) != 0)
				wst = quantize(&o, &rec, w, name);
			else
				wst = bnt_write_tensor(w, t, rec.data,
				    t->scale_kind != BNT_SCALE_NONE ?
				    rec.data + t->scale_offset : NULL);
			break;
		case BNT_KIND_END:
			break;
		default:	/* notes and unknown optional records */
			wst = bnt_write_record(w, rec.kind, rec.flags,
			    rec.meta, rec.meta_len, rec.data, rec.len);
		}
	}
	if (wst != BN_OK)
		bn_errx(bn_exit_code(wst), "%s: %s", out.name,
		    bnt_writer_error(w));
	if (st != BN_END)
		bn_errx(bn_exit_code(st), "%s: %s", name, bnt_reader_error(r));
	if ((wst = bnt_writer_finish(w)) != BN_OK)
		bn_errx(bn_exit_code(wst), "%s: %s", out.name,
		    bnt_writer_error(w));
	bnt_writer_free(w);
	bnt_reader_close(r);
}

/* --to-arch bitnet: the model read from in (name) into out (outname),
 * by model/convert.c. */
static void
to_bitnet(FILE *in, const char *name, FILE *out, const char *outname)
{
	struct bn_err e = { "" };
	struct bnt_reader *r;
	struct bnt_writer *w;
	char msg[sizeof e.msg + 4096];
	int st;

	if ((r = bnt_reader_open(in, name)) == NULL ||
	    (w = bnt_writer_open(out, 0)) == NULL)
		bn_errx(EX_OSERR, "out of memory");
	st = bn_convert_bitnet(r, w, &e);
	if (st == BN_OK && (st = bnt_writer_finish(w)) != BN_OK)
		snprintf(e.msg, sizeof e.msg, "%s", bnt_writer_error(w));
	if (st == BN_OK)
		msg[0] = '\0';
	else if (e.msg[0] != '\0')
		snprintf(msg, sizeof msg, "%s: %s", name, e.msg);
	else if (bnt_writer_error(w)[0] != '\0')
		snprintf(msg, sizeof msg, "%s: %s", outname,
		    bnt_writer_error(w));
	else
		snprintf(msg, sizeof msg, "%s: %s", name, bnt_reader_error(r));
	/* free before exiting, so that leak checkers see a clean exit */
	bnt_writer_free(w);
	bnt_reader_close(r);
	if (st != BN_OK)
		bn_errx(bn_exit_code(st), "%s", msg);
}

/* The converted model that --to-arch --train trains, removed at exit. */
static char conv_path[4096];

static void
conv_unlink(void)
{
	if (conv_path[0] != '\0')
		unlink(conv_path);
}

/* Convert o->qo.input into a temporary file, which becomes the model
 * to train. */
static void
convert_for_training(struct opts *o)
{
	const char *dir = getenv("TMPDIR"), *name;
	FILE *in, *out;
	int fd;

	if (dir == NULL || *dir == '\0')
		dir = "/tmp";
	if ((size_t)snprintf(conv_path, sizeof conv_path, "%s/bnquant.XXXXXX",
	    dir) >= sizeof conv_path)
		bn_errx(EX_CANTCREAT, "TMPDIR: too long");
	if ((fd = mkstemp(conv_path)) < 0) {
		conv_path[0] = '\0';
		bn_err(EX_CANTCREAT, "%s", dir);
	}
	atexit(conv_unlink);
	if ((out = fdopen(fd, "wb")) == NULL)
		bn_err(EX_OSERR, "fdopen");
	name = bn_display_name(o->qo.input);
	in = bn_open_in(o->qo.input, 1, 1);
	to_bitnet(in, name, out, conv_path);
	if (fclose(out) != 0)
		bn_err(EX_IOERR, "%s", conv_path);
	fclose(in);
	o->qo.input = conv_path;
}

/* What --train prints and writes as the run goes (qat.h's hooks, MPI
 * rank 0): the JSON log (--log), the progress line on a terminal, the
 * checkpoints, and with -v a notice of each and the validation loss. */
struct report {
	const struct opts *o;
	FILE *log;
	int progress;
	struct bn_out ck;	/* the checkpoint being written */
	int ckstep;
};

static int
report_start(void *ctx, int step, struct bn_err *e)
{
	struct report *rp = ctx;

	/* a resumed run appends */
	if (rp->o->log != NULL && (rp->log = fopen(rp->o->log, step > 0 ?
	    "a" : "w")) == NULL)
		return bn_seterr(e, BN_ECANTCREAT, "%s: %s", rp->o->log,
		    strerror(errno));
	return BN_OK;
}

static void
report_step(void *ctx, const struct bn_qat_step *s)
{
	struct report *rp = ctx;

	if (rp->log != NULL) {
		fprintf(rp->log, "{\"step\":%d,\"loss\":%.6f,\"ce\":%.6f",
		    s->step, s->loss, s->ce);
		if (s->teacher)
			fprintf(rp->log, ",\"kl\":%.6f", s->kl);
		if (rp->o->qo.hid_distill)
			fprintf(rp->log, ",\"hid\":%.6f", s->hid);
		if (rp->o->qo.att_weight > 0)
			fprintf(rp->log, ",\"att\":%.6f", s->att);
		if (rp->o->qo.lambda_warmup > 0)
			fprintf(rp->log, ",\"lambda\":%.6g", (double)s->lambda);
		fprintf(rp->log, ",\"lr\":%.6g,\"grad_norm\":%.6f,"
		    "\"tokens\":%" PRIu64, (double)s->lr, s->grad_norm,
		    s->tokens);
		if (!isnan(s->val))
			fprintf(rp->log, ",\"val\":%.6f", s->val);
		if (s->ranks > 1)
			fprintf(rp->log, ",\"ranks\":%d,\"comm_s\":%.4f",
			    s->ranks, s->comm_s);
		fprintf(rp->log, ",\"tok_s\":%.1f}\n", s->tok_s);
		fflush(rp->log);
	}
	if (rp->progress) {
		fprintf(stderr, "\rstep %d/%d  loss %.4f", s->step, s->steps,
		    s->loss);
		if (!isnan(s->last_val))
			fprintf(stderr, "  val %.4f", s->last_val);
		fprintf(stderr, "  %.0f tok/s  ETA %dm%02ds\033[K", s->tok_s,
		    (int)(s->eta_s / 60), (int)fmod(s->eta_s, 60));
		fflush(stderr);
	}
}

/* A checkpoint goes in place under a temporary name, like -o. */
static int
report_ckpt_open(void *ctx, const char *path, int step, FILE **fp,
    struct bn_err *e)
{
	struct report *rp = ctx;

	(void)e;
	bn_out_open(&rp->ck, path, 1, 1);
	rp->ckstep = step;
	*fp = rp->ck.fp;
	return BN_OK;
}

static int
report_ckpt_close(void *ctx, FILE *fp, int ok, struct bn_err *e)
{
	struct report *rp = ctx;
	const char *name = rp->ck.name;

	(void)fp;
	(void)e;
	if (!ok) {
		bn_out_abort(&rp->ck);
		return BN_OK;
	}
	bn_out_close(&rp->ck);
	if (rp->o->verbose)
		bn_warnx("%s: step %d", name, rp->ckstep);
	return BN_OK;
}

static void
report_end(void *ctx, double val, size_t nwin)
{
	struct report *rp = ctx;

	if (rp->progress)
		fputc('\n', stderr);
	if (rp->o->verbose && !isnan(val))
		bn_warnx("validation loss %.6f (%zu windows of %d)", val,
		    nwin, rp->o->qo.ctx);
}

/* --train: the run writes master weights into a temporary file, which
 * is then quantized as -q does (or copied, --keep-master). */
static void
do_train(struct opts *o)
{
	struct bn_err e = { "" };
	struct bn_out out;
	struct report rp;
	const char *input = o->qo.input;
	FILE *tmp;
	int st, rank = 0;

	memset(&rp, 0, sizeof rp);
	rp.o = o;
	rp.progress = isatty(STDERR_FILENO);
	o->qo.hooks.ctx = &rp;
	o->qo.hooks.start = report_start;
	o->qo.hooks.step = report_step;
	o->qo.hooks.ckpt_open = report_ckpt_open;
	o->qo.hooks.ckpt_close = report_ckpt_close;
	o->qo.hooks.end = report_end;

#ifdef BN_MPI
	MPI_Comm_rank(MPI_COMM_WORLD, &rank);
#endif
	bn_kernels_pick();
	/* every rank trains the converted model */
	if (o->to_arch != NULL)
		convert_for_training(o);
	if (rank != 0) {	/* rank 0 writes */
		if ((st = bn_qat_run(&o->qo, NULL, &e)) != BN_OK)
			bn_errx(bn_exit_code(st), "%s", e.msg);
		return;
	}
	/* the run's inputs, which neither -o nor --log may be */
	bn_note_input(o->qo.train);
	if (o->qo.val != NULL)
		bn_note_input(o->qo.val);
	if (o->qo.teacher != NULL)
		bn_note_input(o->qo.teacher);
	if (o->qo.resume != NULL)
		bn_note_input(o->qo.resume);
	if (input != NULL)
		bn_note_input(input);
	if (o->log != NULL)
		bn_out_check(o->log);
	if ((tmp = tmpfile()) == NULL)
		bn_err(EX_CANTCREAT, "tmpfile");
	bn_out_open(&out, o->output, 1, o->force);
	st = bn_qat_run(&o->qo, tmp, &e);
	if (rp.log != NULL)
		fclose(rp.log);
	if (st != BN_OK) {
		bn_out_abort(&out);
		bn_errx(bn_exit_code(st), "%s", e.msg);
	}
	if (fflush(tmp) != 0 || fseek(tmp, 0, SEEK_SET) != 0)
		bn_err(EX_IOERR, "temporary file");
	if (o->keep_master) {
		char buf[1 << 16];
		size_t n;

		while ((n = fread(buf, 1, sizeof buf, tmp)) > 0)
			if (fwrite(buf, 1, n, out.fp) != n)
				break;
		if (ferror(tmp))
			bn_err(EX_IOERR, "temporary file");
	} else
		ptq(o, tmp, "<training>", &out);
	fclose(tmp);
	bn_out_close(&out);
}

int
main(int argc, char *argv[])
{
	struct opts o = { .scale_kind = BNT_SCALE_TENSOR };
	struct bn_out out;
	const char *name;
	FILE *in;

	bn_setprogname(argv[0]);
	bn_qat_defaults(&o.qo);
	parse_args(argc, argv, &o);
	if (o.init != NULL) {
		do_init(&o);
		return 0;
	}
	if (o.qo.train != NULL) {
#ifdef BN_MPI
		MPI_Init(&argc, &argv);
#endif
		do_train(&o);
		regfree(&o.keep);
		bn_close_stdout();
#ifdef BN_MPI
		MPI_Finalize();
#endif
		return 0;
	}
	name = bn_display_name(o.input);
	in = bn_open_in(o.input, 1, o.force);
	bn_out_open(&out, o.output, 1, o.force);
	if (o.to_arch != NULL)
		to_bitnet(in, name, out.fp, out.name);
	else
		ptq(&o, in, name, &out);
	bn_out_close(&out);
	if (in != stdin)
		fclose(in);
	regfree(&o.keep);
	bn_close_stdout();
	return 0;
}
