/* bnquant: quantize the projections of a bnt(5) model to ternary
 * (BitNet b1.58 absmean) or binary (BitNet sign), post-training. */
#include <getopt.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <unistd.h>

#include "bnt.h"
#include "config.h"
#include "dtype.h"
#include "err.h"
#include "init.h"
#include "parse.h"
#include "quant.h"
#include "version.h"
#include "xio.h"

enum { OPT_FORCE = 256, OPT_KEEP, OPT_SCALE,
	/* --init */
	OPT_CTX, OPT_FFN, OPT_HEADS, OPT_HIDDEN, OPT_INIT, OPT_KV_HEADS,
	OPT_LAYERS, OPT_SEED, OPT_TOKENIZER };

#define DEFAULT_KEEP "^(token_embd|output)\\.weight$|norm"

struct opts {
	const char *input, *output;
	int binary;		/* -q binary */
	int scale_kind;		/* enum bnt_scale */
	unsigned block;
	regex_t keep;
	int force, verbose;
	const char *init;	/* --init ARCH: a new model, not -q */
	const char *tokenizer;	/* --tokenizer FILE */
	struct bn_init_opts io;	/* --init sizes and seed */
};

static const char shortopts[] = "ho:q:vV";
static const struct option longopts[] = {
	{ "ctx",	required_argument,	NULL,	OPT_CTX },
	{ "ffn",	required_argument,	NULL,	OPT_FFN },
	{ "force",	no_argument,		NULL,	OPT_FORCE },
	{ "heads",	required_argument,	NULL,	OPT_HEADS },
	{ "help",	no_argument,		NULL,	'h' },
	{ "hidden",	required_argument,	NULL,	OPT_HIDDEN },
	{ "init",	required_argument,	NULL,	OPT_INIT },
	{ "keep",	required_argument,	NULL,	OPT_KEEP },
	{ "kv-heads",	required_argument,	NULL,	OPT_KV_HEADS },
	{ "layers",	required_argument,	NULL,	OPT_LAYERS },
	{ "output",	required_argument,	NULL,	'o' },
	{ "quant",	required_argument,	NULL,	'q' },
	{ "scale",	required_argument,	NULL,	OPT_SCALE },
	{ "seed",	required_argument,	NULL,	OPT_SEED },
	{ "tokenizer",	required_argument,	NULL,	OPT_TOKENIZER },
	{ "verbose",	no_argument,		NULL,	'v' },
	{ "version",	no_argument,		NULL,	'V' },
	{ NULL,		0,			NULL,	0 }
};

static _Noreturn void
usage(FILE *fp, int status)
{
	fprintf(fp, "usage: %s -q ternary|binary [-v] [--scale "
	    "tensor|row|block:n] [--keep regex] [--force] [-o file] [file]\n"
	    "       %s --init llama|bitnet [--hidden n] [--layers n] "
	    "[--heads n] [--kv-heads n] [--ffn n] [--ctx n] --tokenizer file "
	    "[--seed s] [--force] [-o file]\n",
	    bn_progname, bn_progname);
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
		    "      --scale KIND   tensor (default), row or block:N\n"
		    "Initialise a new model (--init); see bnquant(1):\n"
		    "      --init ARCH    llama or bitnet\n"
		    "      --tokenizer FILE  tokenizer.json, GGUF vocabulary "
		    "or bnt model\n"
		    "      --hidden N     hidden size (default 256)\n"
		    "      --layers N     layers (default 6)\n"
		    "      --heads N      attention heads (default 8)\n"
		    "      --kv-heads N   key/value heads (default 4, or "
		    "--heads)\n"
		    "      --ffn N        feed-forward size (default 768)\n"
		    "      --ctx N        context length (default 256)\n"
		    "      --seed S       random seed (default 0)\n"
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

static void
parse_args(int argc, char *argv[], struct opts *o)
{
	const char *keep = DEFAULT_KEEP;
	int ch, q = 0, initopt = 0;

	argv[0] = (char *)bn_progname;
	while ((ch = getopt_long(argc, argv, shortopts, longopts, NULL)) != -1)
		switch (ch) {
		case OPT_CTX: init_size("--ctx", &o->io.ctx); initopt = 1; break;
		case OPT_FFN: init_size("--ffn", &o->io.ffn); initopt = 1; break;
		case OPT_FORCE: o->force = 1; break;
		case OPT_HEADS:
			init_size("--heads", &o->io.heads);
			initopt = 1;
			break;
		case OPT_HIDDEN:
			init_size("--hidden", &o->io.hidden);
			initopt = 1;
			break;
		case OPT_INIT:
			if (strcmp(optarg, "llama") == 0)
				o->io.arch = BN_ARCH_LLAMA;
			else if (strcmp(optarg, "bitnet") == 0)
				o->io.arch = BN_ARCH_BITNET;
			else
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
			initopt = 1;
			break;
		case OPT_TOKENIZER: o->tokenizer = optarg; initopt = 1; break;
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
	if (o->init != NULL) {
		if (q || argc - optind > 0)
			usage(stderr, EX_USAGE);
		if (o->tokenizer == NULL)
			bn_errx(EX_USAGE, "--init: --tokenizer is required");
		return;
	}
	if (!q || initopt || argc - optind > 1)
		usage(stderr, EX_USAGE);
	o->input = optind < argc ? argv[optind] : "-";
	if (regcomp(&o->keep, keep, REG_EXTENDED | REG_NOSUB) != 0) {
		bn_warnx("--keep: invalid regex '%s'", keep);
		usage(stderr, EX_USAGE);
	}
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
	uint64_t r, c, len, scope;
	float *v, *sc, s = 0, a = 0;
	uint8_t *q;
	size_t si = 0;
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
	q = calloc(t.data_bytes ? t.data_bytes : 1, 1);
	sc = malloc((t.nscales ? t.nscales : 1) * sizeof *sc);
	if (v == NULL || q == NULL || sc == NULL)
		bn_errx(EX_OSERR, "out of memory");
	if (!o->binary)
		memset(q, 0x55, t.data_bytes);	/* t2 padding: code 0 */
	for (r = 0; r < in->rows; r++)
		bn_row_to_f32(in->dtype, rec->data + r * in->row_bytes, len,
		    v + r * len);
	scope = o->scale_kind == BNT_SCALE_BLOCK ? o->block : len;
	if (o->scale_kind == BNT_SCALE_TENSOR) {
		if (o->binary) {
			bn_binary_stats(v, in->nelem, &a, &s);
		} else
			s = bn_ternary_scale(v, in->nelem);
		sc[si++] = s;
	}
	for (r = 0; r < in->rows; r++)
		for (c = 0; c < len; c += scope) {
			const float *p = v + r * len + c;
			uint8_t *row = q + r * t.row_bytes;

			if (o->scale_kind != BNT_SCALE_TENSOR) {
				if (o->binary)
					bn_binary_stats(p, scope, &a, &s);
				else
					s = bn_ternary_scale(p, scope);
				sc[si++] = s;
			}
			if (o->binary)
				bn_binary_codes(p, scope, a, row, c);
			else
				bn_ternary_codes(p, scope, s, row, c);
		}
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
	bn_out_open(&out, o->output, 1, o->force);
	if ((w = bnt_writer_open(out.fp, 0)) == NULL)
		bn_errx(EX_OSERR, "out of memory");
	if ((st = bn_init_model(w, &o->io, &v, &e)) != BN_OK)
		bn_errx(bn_exit_code(st), "%s: %s", out.name, e.msg);
	if ((st = bnt_writer_finish(w)) != BN_OK)
		bn_errx(bn_exit_code(st), "%s: %s", out.name,
		    bnt_writer_error(w));
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

int
main(int argc, char *argv[])
{
	struct opts o = { .scale_kind = BNT_SCALE_TENSOR };
	struct bnt_reader *r;
	struct bnt_writer *w;
	struct bnt_record rec;
	struct bn_out out;
	struct bn_kv kv;
	const char *name;
	FILE *in;
	size_t i;
	int st, wst = BN_OK;

	bn_setprogname(argv[0]);
	parse_args(argc, argv, &o);
	if (o.init != NULL) {
		do_init(&o);
		return 0;
	}
	name = bn_display_name(o.input);
	in = bn_open_in(o.input, 1, o.force);
	if ((r = bnt_reader_open(in, name)) == NULL)
		bn_errx(EX_OSERR, "out of memory");
	bn_out_open(&out, o.output, 1, o.force);
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
	bn_out_close(&out);
	bnt_writer_free(w);
	bnt_reader_close(r);
	if (in != stdin)
		fclose(in);
	regfree(&o.keep);
	bn_close_stdout();
	return 0;
}
