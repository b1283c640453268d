/* bnrun: run a bnt(5) model on the CPU: generate text, measure
 * perplexity, benchmark, or tokenize. */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <math.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <time.h>
#include <unistd.h>

#include "bnt.h"
#include "chat.h"
#include "compare.h"
#include "err.h"
#include "json.h"
#include "kernels.h"
#include "kpick.h"
#include "membw.h"
#include "mem.h"
#include "model.h"
#include "parse.h"
#include "roles.h"
#include "sample.h"
#include "tokenizer.h"
#include "version.h"
#include "xio.h"

/* --head auto: an int8 head from this vocabulary size up, where the
 * head is a large share of the bytes read per token (a third for
 * BitNet b1.58 2B-4T's f16 head) */
#define HEAD_AUTO_VOCAB 32000
enum { HEAD_AUTO, HEAD_Q8, HEAD_Q4, HEAD_KEEP };

enum { OPT_ALLOW_NONFINITE = 256, OPT_BENCH, OPT_BOS, OPT_CHAT_TEMPLATE,
    OPT_CHAT_TEMPLATE_FILE, OPT_CTX, OPT_DEPTH, OPT_HEAD, OPT_JSON, OPT_KL_BASE,
    OPT_KV_TYPE, OPT_LOGITS, OPT_MAX_KLD, OPT_NO_BOS, OPT_PARALLEL,
    OPT_PERPLEXITY, OPT_PP, OPT_PRINT_PROMPT, OPT_SEED, OPT_STOP, OPT_SYSTEM,
    OPT_TEMP, OPT_TERNARY, OPT_TG, OPT_TOKENIZE, OPT_TOP_K, OPT_TOP_P };

#define MAX_STOP 16

struct opts {
	const char *model;
	const char *prompt;	/* -p */
	const char *file;	/* -f */
	const char *ppl;	/* --perplexity FILE */
	const char *kl_base;	/* --kl-base FILE: the reference model */
	const char *logits;	/* --logits FILE */
	double max_kld;		/* --max-kld X; < 0: no gate */
	int bench, tokenize, json;
	int nonfinite;		/* --allow-nonfinite */
	int head;		/* --head: HEAD_AUTO, HEAD_Q8, _Q4, _KEEP */
	int bos;		/* -1: as the vocabulary says */
	int n;			/* -n: tokens to generate */
	int ctx;		/* 0: the model's (capped) */
	int threads;
	int pp, tg;
	int depth;		/* --bench --depth; -1: none */
	int parallel;		/* --bench --parallel: sequences a step (0:
				 * not given, then 1) */
	int kvtype;		/* --kv-type: BN_KV_F32, _F16, _Q8 */
	unsigned layout;	/* --ternary: BN_MODEL_T2, _T3 or 0 */
	int headq;		/* the head was made int8 or 4-bit */
	int top_k;
	double temp, top_p;
	unsigned long long seed;
	int verbose;
	int chat;		/* --chat, -i */
	int print_prompt;	/* --print-prompt */
	const char *system;	/* --system */
	const char *tmpl_name;	/* --chat-template */
	const char *tmpl_file;	/* --chat-template-file */
	const char *stop[MAX_STOP];	/* --stop */
	int nstop;
};

static const char shortopts[] = "f:him:n:p:t:vV";
static const struct option longopts[] = {
	{ "allow-nonfinite", no_argument,	NULL,	OPT_ALLOW_NONFINITE },
	{ "bench",	no_argument,		NULL,	OPT_BENCH },
	{ "bos",	no_argument,		NULL,	OPT_BOS },
	{ "chat",	no_argument,		NULL,	'i' },
	{ "chat-template", required_argument, NULL,
	    OPT_CHAT_TEMPLATE },
	{ "chat-template-file", required_argument, NULL,
	    OPT_CHAT_TEMPLATE_FILE },
	{ "ctx",	required_argument,	NULL,	OPT_CTX },
	{ "depth",	required_argument,	NULL,	OPT_DEPTH },
	{ "file",	required_argument,	NULL,	'f' },
	{ "head",	required_argument,	NULL,	OPT_HEAD },
	{ "help",	no_argument,		NULL,	'h' },
	{ "json",	no_argument,		NULL,	OPT_JSON },
	{ "kl-base",	required_argument,	NULL,	OPT_KL_BASE },
	{ "kv-type",	required_argument,	NULL,	OPT_KV_TYPE },
	{ "logits",	required_argument,	NULL,	OPT_LOGITS },
	{ "max-kld",	required_argument,	NULL,	OPT_MAX_KLD },
	{ "model",	required_argument,	NULL,	'm' },
	{ "n-predict",	required_argument,	NULL,	'n' },
	{ "no-bos",	no_argument,		NULL,	OPT_NO_BOS },
	{ "parallel",	required_argument,	NULL,	OPT_PARALLEL },
	{ "perplexity",	required_argument,	NULL,	OPT_PERPLEXITY },
	{ "pp",		required_argument,	NULL,	OPT_PP },
	{ "print-prompt", no_argument,	NULL,	OPT_PRINT_PROMPT },
	{ "prompt",	required_argument,	NULL,	'p' },
	{ "seed",	required_argument,	NULL,	OPT_SEED },
	{ "stop",	required_argument,	NULL,	OPT_STOP },
	{ "system",	required_argument,	NULL,	OPT_SYSTEM },
	{ "temp",	required_argument,	NULL,	OPT_TEMP },
	{ "tg",		required_argument,	NULL,	OPT_TG },
	{ "threads",	required_argument,	NULL,	't' },
	{ "tokenize",	no_argument,		NULL,	OPT_TOKENIZE },
	{ "top-k",	required_argument,	NULL,	OPT_TOP_K },
	{ "top-p",	required_argument,	NULL,	OPT_TOP_P },
	{ "ternary",	required_argument,	NULL,	OPT_TERNARY },
	{ "verbose",	no_argument,		NULL,	'v' },
	{ "version",	no_argument,		NULL,	'V' },
	{ NULL,		0,			NULL,	0 }
};

static _Noreturn void
usage(FILE *fp, int status)
{
	fprintf(fp, "usage: %s -m model [-p prompt | -f file] [-n n] "
	    "[--temp t] [--top-k k] [--top-p p] [--seed s] [-t threads] "
	    "[--head auto | q8 | q4 | keep] [--ternary t2 | t3 | auto] "
	    "[--allow-nonfinite]\n"
	    "       %s -m model --perplexity file [--ctx n] [-t threads] "
	    "[--kl-base model [--max-kld x]] [--json] [--logits file] "
	    "[--allow-nonfinite]\n"
	    "       %s -m model --bench [--pp n] [--tg n] [--depth n] "
	    "[--parallel n] [--json] [-t threads] [--allow-nonfinite]\n"
	    "       %s -m model --tokenize\n"
	    "       %s -m model --chat [--system text] [--stop string] "
	    "[--chat-template name | --chat-template-file file] [-n n] "
	    "[--temp t] ...\n"
	    "       %s -m model --chat --print-prompt [--chat-template name "
	    "| --chat-template-file file]\n", bn_progname, bn_progname,
	    bn_progname, bn_progname, bn_progname, bn_progname);
	if (fp == stdout)
		fputs("Run a bnt(5) model on the CPU; see bnrun(1).\n"
		    "  -f, --file FILE      read the prompt from FILE\n"
		    "  -m, --model FILE     the model (a bnt file)\n"
		    "  -n, --n-predict N    generate at most N tokens "
		    "(default 128)\n"
		    "  -p, --prompt TEXT    the prompt\n"
		    "  -t, --threads N      worker threads (default: all "
		    "CPUs)\n"
		    "  -v, --verbose        timings on standard error\n"
		    "      --allow-nonfinite  load NaN, infinity and invalid "
		    "scales\n"
		    "      --bench          prompt and generation speed\n"
		    "      --bos, --no-bos  add a BOS token or not (default: "
		    "as the vocabulary says)\n"
		    "      --ctx N          context length (perplexity "
		    "window, default 256)\n"
		    "      --depth N        --bench: tokens in the KV cache "
		    "before each test\n"
		    "      --head auto|q8|q4|keep  output head: int8 (q8), "
		    "4.5 bits (q4) or as\n"
		    "                       stored (keep); "
		    "auto: q8 from a vocabulary of 32000 (default)\n"
		    "      --json           --bench, --perplexity results as "
		    "JSON\n"
		    "      --kv-type f32|f16|q8  the KV cache's type (default "
		    "f32)\n"
		    "      --kl-base FILE   --perplexity: KL divergence from "
		    "the model FILE\n"
		    "      --logits FILE    --perplexity: write the logits "
		    "(float32 little-endian)\n"
		    "      --max-kld X      --kl-base: exit 1 when the mean "
		    "KLD is above X\n"
		    "      --parallel N     --bench: generate N sequences "
		    "at once, a forward\n"
		    "                       pass a step over all of them "
		    "(as bnserve does)\n"
		    "      --perplexity FILE  mean NLL and perplexity of "
		    "FILE\n"
		    "      --pp N, --tg N   --bench prompt and generation "
		    "lengths (512, 128)\n"
		    "      --seed S         sampling seed\n"
		    "      --ternary t2|t3|auto  ternary weights in memory: 2 "
		    "bits (t2), 1.6 (t3);\n"
		    "                       auto: as stored (default)\n"
		    "      --temp T         temperature (default 0.8; 0: "
		    "greedy)\n"
		    "      --tokenize       print the ids of standard input\n"
		    "      --top-k K        keep the K likeliest (default 40; "
		    "0: all)\n"
		    "      --top-p P        nucleus mass (default 0.95)\n"
		    "  -i, --chat           a conversation, a line a turn "
		    "(/exit ends it)\n"
		    "      --chat-template NAME  the template family: llama3, "
		    "chatml, bitnet,\n"
		    "                       falcon3, phi3, gemma, mistral "
		    "(default: the model's)\n"
		    "      --chat-template-file FILE  the Jinja template "
		    "text in FILE\n"
		    "      --print-prompt   --chat: format the JSON messages "
		    "of standard input\n"
		    "      --stop STRING    --chat: end a reply at STRING\n"
		    "      --system TEXT    --chat: the system prompt\n"
		    "  -h, --help           show this help\n"
		    "  -V, --version        show the version\n", fp);
	exit(status);
}

static int
uarg(const char *opt, const char *s, unsigned min, unsigned max)
{
	unsigned v;

	if (bn_parse_uint(s, min, max, &v) != 0) {
		bn_warnx("%s: invalid count '%s'", opt, s);
		usage(stderr, EX_USAGE);
	}
	return (int)v;
}

static double
farg(const char *opt, const char *s, double min, double max)
{
	double v;

	if (bn_parse_f64(s, &v) != 0 || !(v >= min && v <= max)) {
		bn_warnx("%s: invalid value '%s'", opt, s);
		usage(stderr, EX_USAGE);
	}
	return v;
}

static void
parse_args(int argc, char *argv[], struct opts *o)
{
	uint64_t u;
	int ch, modes;

	argv[0] = (char *)bn_progname;
	while ((ch = getopt_long(argc, argv, shortopts, longopts, NULL)) != -1)
		switch (ch) {
		case OPT_ALLOW_NONFINITE: o->nonfinite = 1; break;
		case OPT_BENCH: o->bench = 1; break;
		case OPT_BOS: o->bos = 1; break;
		case OPT_CHAT_TEMPLATE: o->tmpl_name = optarg; break;
		case OPT_CHAT_TEMPLATE_FILE: o->tmpl_file = optarg; break;
		case OPT_PRINT_PROMPT: o->print_prompt = 1; break;
		case OPT_STOP:
			if (o->nstop == MAX_STOP || *optarg == '\0') {
				bn_warnx("--stop: at most %d non-empty strings",
				    MAX_STOP);
				usage(stderr, EX_USAGE);
			}
			o->stop[o->nstop++] = optarg;
			break;
		case OPT_SYSTEM: o->system = optarg; break;
		case OPT_CTX: o->ctx = uarg("--ctx", optarg, 2, 1u << 20);
			break;
		case OPT_DEPTH:
			o->depth = uarg("--depth", optarg, 0, 1u << 20);
			break;
		case OPT_PARALLEL:
			o->parallel = uarg("--parallel", optarg, 1, 256);
			break;
		case OPT_HEAD:
			if (strcmp(optarg, "auto") == 0)
				o->head = HEAD_AUTO;
			else if (strcmp(optarg, "q8") == 0)
				o->head = HEAD_Q8;
			else if (strcmp(optarg, "q4") == 0)
				o->head = HEAD_Q4;
			else if (strcmp(optarg, "keep") == 0)
				o->head = HEAD_KEEP;
			else {
				bn_warnx("--head: invalid type '%s'", optarg);
				usage(stderr, EX_USAGE);
			}
			break;
		case OPT_JSON: o->json = 1; break;
		case OPT_KL_BASE: o->kl_base = optarg; break;
		case OPT_KV_TYPE:
			if ((o->kvtype = bn_kv_type(optarg)) < 0) {
				bn_warnx("--kv-type: invalid type '%s'",
				    optarg);
				usage(stderr, EX_USAGE);
			}
			break;
		case OPT_TERNARY:
			if (bn_model_ternary_flag(optarg, &o->layout) != 0) {
				bn_warnx("--ternary: invalid layout '%s'",
				    optarg);
				usage(stderr, EX_USAGE);
			}
			break;
		case OPT_LOGITS: o->logits = optarg; break;
		case OPT_MAX_KLD:
			o->max_kld = farg("--max-kld", optarg, 0, HUGE_VAL);
			break;
		case OPT_NO_BOS: o->bos = 0; break;
		case OPT_PERPLEXITY: o->ppl = optarg; break;
		case OPT_PP: o->pp = uarg("--pp", optarg, 1, 1u << 16); break;
		case OPT_SEED:
			if (bn_parse_u64(optarg, 0, UINT64_MAX, &u) != 0) {
				bn_warnx("--seed: invalid seed '%s'", optarg);
				usage(stderr, EX_USAGE);
			}
			o->seed = u;
			break;
		case OPT_TEMP: o->temp = farg("--temp", optarg, 0, 100); break;
		case OPT_TG: o->tg = uarg("--tg", optarg, 1, 1u << 16); break;
		case OPT_TOKENIZE: o->tokenize = 1; break;
		case OPT_TOP_K: o->top_k = uarg("--top-k", optarg, 0, 1u << 30);
			break;
		case OPT_TOP_P: o->top_p = farg("--top-p", optarg, 0, 1); break;
		case 'f': o->file = optarg; break;
		case 'h': usage(stdout, EXIT_SUCCESS);
		case 'i': o->chat = 1; break;
		case 'm': o->model = optarg; break;
		case 'n': o->n = uarg("-n", optarg, 0, 1u << 30); break;
		case 'p': o->prompt = optarg; break;
		case 't': o->threads = uarg("-t", optarg, 1, 1024); break;
		case 'v': o->verbose++; break;
		case 'V':
			bn_kernels_init(NULL);
			bn_print_version(stdout);
			printf("kernels %s\n", bn_k->name);
			exit(EXIT_SUCCESS);
		default: usage(stderr, EX_USAGE);
		}
	if (optind != argc || o->model == NULL)
		usage(stderr, EX_USAGE);
	modes = o->bench + o->tokenize + (o->ppl != NULL) +
	    (o->prompt != NULL || o->file != NULL);
	if (modes > 1 || (o->prompt != NULL && o->file != NULL)) {
		bn_warnx("choose one of -p, -f, --perplexity, --bench and "
		    "--tokenize");
		usage(stderr, EX_USAGE);
	}
	if (o->depth >= 0 && !o->bench) {
		bn_warnx("--depth needs --bench");
		usage(stderr, EX_USAGE);
	}
	if (o->parallel > 0 && !o->bench) {
		bn_warnx("--parallel needs --bench");
		usage(stderr, EX_USAGE);
	}
	if (o->parallel == 0)
		o->parallel = 1;
	if ((o->kl_base != NULL || o->logits != NULL) && o->ppl == NULL) {
		bn_warnx("--kl-base and --logits need --perplexity");
		usage(stderr, EX_USAGE);
	}
	if (o->logits != NULL && strcmp(o->logits, "-") == 0) {
		bn_warnx("--logits: the report is on standard output; name a "
		    "file");
		usage(stderr, EX_USAGE);
	}
	if (o->max_kld >= 0 && o->kl_base == NULL) {
		bn_warnx("--max-kld needs --kl-base");
		usage(stderr, EX_USAGE);
	}
	if (o->chat && modes > 0) {
		bn_warnx("--chat goes with none of -p, -f, --perplexity, "
		    "--bench and --tokenize");
		usage(stderr, EX_USAGE);
	}
	if (!o->chat && (o->print_prompt || o->system != NULL ||
	    o->nstop > 0 || o->tmpl_name != NULL || o->tmpl_file != NULL)) {
		bn_warnx("--system, --stop, --print-prompt and --chat-template "
		    "go with --chat");
		usage(stderr, EX_USAGE);
	}
	if (o->tmpl_name != NULL && o->tmpl_file != NULL) {
		bn_warnx("choose one of --chat-template and "
		    "--chat-template-file");
		usage(stderr, EX_USAGE);
	}
	if (o->tmpl_name != NULL &&
	    bn_chat_family(o->tmpl_name) == BN_CHAT_UNKNOWN) {
		bn_warnx("--chat-template: unknown family '%s' (one of %s)",
		    o->tmpl_name, bn_chat_names());
		usage(stderr, EX_USAGE);
	}
}

static double
now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static int32_t *
tokenize(const struct bn_tokenizer *tk, const char *name, const char *text,
    size_t len, size_t vocab, size_t *n)
{
	struct bn_err e = { "" };
	int32_t *ids;
	size_t i;
	int st;

	if ((st = bn_tokenizer_encode(tk, text, len, &ids, n, &e)) != BN_OK)
		bn_errx(bn_exit_code(st), "%s: %s", name, e.msg);
	/* every id the model is indexed with, targets included */
	for (i = 0; vocab > 0 && i < *n; i++)
		if (ids[i] < 0 || (size_t)ids[i] >= vocab)
			bn_errx(EX_DATAERR, "%s: token %zu has id %" PRId32
			    ", outside the model's vocabulary of %zu", name,
			    i, ids[i], vocab);
	return ids;
}

/*
 * The text of a generated token.  The model may have more rows than
 * the tokenizer has tokens (padding, as Qwen's 151936 for 151665): such
 * an id has no text, and the first one is reported, once, on standard
 * error rather than vanishing without a word.
 */
static void
emit(const struct bn_tokenizer *tk, int32_t id)
{
	static int warned;
	char buf[512], *big;
	size_t len;

	if (id >= bn_tokenizer_n_vocab(tk)) {
		if (!warned++)
			bn_warnx("token %" PRId32 " has no text: the tokenizer "
			    "has %" PRId32 " tokens, the model more; such "
			    "tokens are left out of the output", id,
			    bn_tokenizer_n_vocab(tk));
		return;
	}
	if (bn_tokenizer_decode(tk, id, buf, sizeof buf, &len) == BN_OK)
		fwrite(buf, 1, len, stdout);
	else if (len > sizeof buf) {	/* a long piece */
		if ((big = malloc(len)) == NULL)
			bn_errx(EX_OSERR, "out of memory");
		if (bn_tokenizer_decode(tk, id, big, len, &len) == BN_OK)
			fwrite(big, 1, len, stdout);
		free(big);
	}
}

/* the sampler (model/sample.h), seeded by --seed: one for the run */
static struct bn_sampler smp;

static void
generate(const struct opts *o, const struct bn_model *m,
    struct bn_state *s, const struct bn_tokenizer *tk)
{
	const char *name = o->file ? bn_display_name(o->file) : "-p";
	char *text;
	size_t len, np, i;
	int32_t *ids, *all, next;
	float *logits = malloc((size_t)m->c.vocab * sizeof *logits);
	double t0, t1, t2;
	int st, bos, gen = 0;

	if (logits == NULL)
		bn_errx(EX_OSERR, "out of memory");
	if (o->file != NULL)
		text = bn_slurp(o->file, &len);
	else if ((text = strdup(o->prompt)) == NULL)
		bn_errx(EX_OSERR, "out of memory");
	else
		len = strlen(text);
	ids = tokenize(tk, name, text, len, (size_t)m->c.vocab, &np);
	bos = o->bos >= 0 ? o->bos : bn_tokenizer_add_bos(tk);
	if ((all = malloc((np + 1) * sizeof *all)) == NULL)
		bn_errx(EX_OSERR, "out of memory");
	i = 0;
	if (bos && bn_tokenizer_bos(tk) >= 0)
		all[i++] = bn_tokenizer_bos(tk);
	memcpy(all + i, ids, np * sizeof *ids);
	np += i;
	if (np == 0)
		bn_errx(EX_DATAERR, "%s: empty prompt", name);
	if ((int)np + o->n > bn_state_pos(s) + o->ctx)
		bn_errx(EX_USAGE, "prompt and -n need %zu positions, the "
		    "context has %d", np + (size_t)o->n, o->ctx);
	fwrite(text, 1, len, stdout);
	fflush(stdout);
	t0 = now();
	/* the prompt in batches, logits of the last token only */
	for (i = 0; i < np; i += (size_t)o->pp) {
		size_t k = np - i < (size_t)o->pp ? np - i : (size_t)o->pp;

		if ((st = bn_forward(m, s, all + i, (int)k, logits, 0)) != 0)
			bn_errx(EX_SOFTWARE, "forward pass failed");
	}
	t1 = now();
	while (gen < o->n) {
		next = bn_sample(&smp, logits);
		if (next == bn_tokenizer_eos(tk) || next == m->c.eos)
			break;
		emit(tk, next);
		fflush(stdout);
		gen++;
		if (gen == o->n)
			break;
		if (bn_forward(m, s, &next, 1, logits, 0) != BN_OK)
			bn_errx(EX_SOFTWARE, "forward pass failed");
	}
	t2 = now();
	putchar('\n');
	if (o->verbose)
		bn_warnx("prompt: %zu tokens, %.2f tok/s; generation: %d "
		    "tokens, %.2f tok/s", np, np / (t1 - t0), gen,
		    gen > 1 ? (gen - 1) / (t2 - t1) : 0.0);
	free(text);
	free(ids);
	free(all);
	free(logits);
}

/* log of the sum of exp(l[i]), in double, shifted by the largest */
static double
logsumexp(const float *l, size_t n)
{
	double mx = l[0], sum = 0;
	size_t i;

	for (i = 1; i < n; i++)
		if (l[i] > mx)
			mx = l[i];
	for (i = 0; i < n; i++)
		sum += exp((double)l[i] - mx);
	return log(sum) + mx;
}

/* n floats to fp, little-endian whatever the host */
static void
write_f32le(struct bn_out *out, const float *x, size_t n)
{
	unsigned char b[4096];
	size_t i, k = 0;
	uint32_t u;

	for (i = 0; i < n; i++) {
		memcpy(&u, &x[i], sizeof u);
		b[k++] = (unsigned char)u;
		b[k++] = (unsigned char)(u >> 8);
		b[k++] = (unsigned char)(u >> 16);
		b[k++] = (unsigned char)(u >> 24);
		if (k == sizeof b || i + 1 == n) {
			if (fwrite(b, 1, k, out->fp) != k)
				bn_err(EX_IOERR, "%s", out->name);
			k = 0;
		}
	}
}

static int
cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

/* the q-quantile of sorted v[n], interpolated linearly between the
 * neighbours of position q (n - 1), as NumPy's default */
static double
quantile(const double *v, size_t n, double q)
{
	double pos = q * (double)(n - 1), f;
	size_t i = (size_t)pos;

	if (i + 1 >= n)
		return v[n - 1];
	f = pos - (double)i;
	return v[i] + (v[i + 1] - v[i]) * f;
}

/* mean and its standard error (sample deviation over sqrt n) */
static void
mean_err(const double *v, size_t n, double *mean, double *err)
{
	double sum = 0, ss = 0;
	size_t i;

	for (i = 0; i < n; i++)
		sum += v[i];
	*mean = sum / (double)n;
	for (i = 0; i < n; i++)
		ss += (v[i] - *mean) * (v[i] - *mean);
	*err = n > 1 ? sqrt(ss / (double)(n - 1) / (double)n) : 0;
}

/* The reference of --kl-base, run beside the model on the same windows. */
struct base {
	const char *name;
	const struct bn_model *m;
	struct bn_state *s;
};

/*
 * Mean NLL and perplexity of o->ppl over consecutive windows of o->ctx
 * tokens (no BOS).  With a base, also the KL divergence KL(base ||
 * model) of each scored token's next-token distribution, whether the
 * two agree on the likeliest token, and the change in the probability
 * of the correct token (model minus base); the per-token KLD and
 * delta-p are kept for their percentiles, the logits one window at a
 * time.  Returns the mean KLD (0 without a base).
 */
static double
perplexity(const struct opts *o, const struct bn_model *m,
    struct bn_state *s, const struct bn_tokenizer *tk, const struct base *b)
{
	size_t len, n, w, nw, t, k = 0;
	char *text = bn_slurp(o->ppl, &len);
	size_t V = (size_t)m->c.vocab, N = (size_t)o->ctx;
	int32_t *ids = tokenize(tk, bn_display_name(o->ppl), text, len, V, &n);
	float *logits = malloc(N * V * sizeof *logits), *bl = NULL;
	double nll = 0, bnll = 0, count = 0, t0 = now(), same = 0, ksum = 0;
	double *kld = NULL, *dp = NULL;
	double km, ke, dm, de, st, se, med, p90, p99, mx, ppl, bppl;
	int tty = isatty(STDERR_FILENO);
	struct bn_out out;

	if (logits == NULL)
		bn_errx(EX_OSERR, "out of memory");
	nw = n > 0 ? (n - 1) / N : 0;
	if (nw == 0)
		bn_errx(EX_DATAERR, "%s: %zu tokens, fewer than one window of "
		    "%zu", bn_display_name(o->ppl), n, N + 1);
	if (b != NULL && ((bl = malloc(N * V * sizeof *bl)) == NULL ||
	    (kld = malloc(nw * N * sizeof *kld)) == NULL ||
	    (dp = malloc(nw * N * sizeof *dp)) == NULL))
		bn_errx(EX_OSERR, "out of memory");
	if (o->logits != NULL) {
		/* never written over a model or the text */
		bn_note_input(o->model);
		bn_note_input(o->ppl);
		if (o->kl_base != NULL)
			bn_note_input(o->kl_base);
		bn_out_open(&out, o->logits, 1, 0);
	}
	for (w = 0; w < nw; w++) {
		const int32_t *in = ids + w * N;

		bn_state_reset(s);
		if (bn_forward(m, s, in, (int)N, logits, 1) != BN_OK)
			bn_errx(EX_SOFTWARE, "forward pass failed");
		if (o->logits != NULL)
			write_f32le(&out, logits, N * V);
		if (b != NULL) {
			bn_state_reset(b->s);
			if (bn_forward(b->m, b->s, in, (int)N, bl, 1) != BN_OK)
				bn_errx(EX_SOFTWARE, "forward pass failed");
		}
		for (t = 0; t < N; t++) {
			const float *l = logits + t * V, *r;
			double lq = logsumexp(l, V), lb, d = 0;
			size_t i;

			nll += lq - (double)l[in[t + 1]];
			count++;
			if (b == NULL)
				continue;
			r = bl + t * V;
			lb = logsumexp(r, V);
			bnll += lb - (double)r[in[t + 1]];
			for (i = 0; i < V; i++) {
				double pb = (double)r[i] - lb;

				d += exp(pb) * (pb - ((double)l[i] - lq));
			}
			kld[k] = d;
			ksum += d;
			dp[k++] = exp((double)l[in[t + 1]] - lq) -
			    exp((double)r[in[t + 1]] - lb);
			same += bn_argmax(l, V) == bn_argmax(r, V);
		}
		if (tty && b != NULL)
			fprintf(stderr, "\r[%zu/%zu] nll %.4f ppl %.3f kld "
			    "%.4f  %.1f tok/s", w + 1, nw, nll / count,
			    exp(nll / count), ksum / count,
			    count / (now() - t0));
		else if (tty)
			fprintf(stderr, "\r[%zu/%zu] nll %.4f ppl %.3f  "
			    "%.1f tok/s", w + 1, nw, nll / count,
			    exp(nll / count), count / (now() - t0));
	}
	if (tty)
		fputc('\n', stderr);
	if (o->logits != NULL)
		bn_out_close(&out);
	ppl = exp(nll / count);
	if (b == NULL) {
		if (o->json)
			printf("{\"windows\":%zu,\"ctx\":%zu,\"tokens\":%.0f,"
			    "\"nll\":%.17g,\"ppl\":%.17g}\n", nw, N, count,
			    nll / count, ppl);
		else
			printf("windows %zu ctx %zu tokens %.0f nll %.6f "
			    "ppl %.4f\n", nw, N, count, nll / count, ppl);
		free(text);
		free(ids);
		free(logits);
		return 0;
	}
	bppl = exp(bnll / count);
	mean_err(kld, k, &km, &ke);
	mean_err(dp, k, &dm, &de);
	st = same / count;
	se = sqrt(st * (1 - st) / (count - 1));
	qsort(kld, k, sizeof *kld, cmp_double);
	med = quantile(kld, k, 0.5);
	p90 = quantile(kld, k, 0.9);
	p99 = quantile(kld, k, 0.99);
	mx = kld[k - 1];
	if (o->json)
		printf("{\"windows\":%zu,\"ctx\":%zu,\"tokens\":%.0f,"
		    "\"base\":{\"nll\":%.17g,\"ppl\":%.17g},"
		    "\"model\":{\"nll\":%.17g,\"ppl\":%.17g},"
		    "\"kld\":{\"mean\":%.17g,\"stderr\":%.17g,"
		    "\"median\":%.17g,\"p90\":%.17g,\"p99\":%.17g,"
		    "\"max\":%.17g},"
		    "\"same_top_pct\":{\"mean\":%.17g,\"stderr\":%.17g},"
		    "\"delta_p_pct\":{\"mean\":%.17g,\"stderr\":%.17g}}\n",
		    nw, N, count, bnll / count, bppl, nll / count, ppl, km, ke,
		    med, p90, p99, mx, 100 * st, 100 * se, 100 * dm, 100 * de);
	else {
		printf("windows %zu ctx %zu tokens %.0f\n", nw, N, count);
		printf("base  nll %.6f ppl %.4f\n", bnll / count, bppl);
		printf("model nll %.6f ppl %.4f\n", nll / count, ppl);
		printf("kld mean %.6f +- %.6f\n", km, ke);
		printf("kld median %.6f p90 %.6f p99 %.6f max %.6f\n", med,
		    p90, p99, mx);
		printf("same-top %.4f +- %.4f %%\n", 100 * st, 100 * se);
		printf("delta-p %.4f +- %.4f %%\n", 100 * dm, 100 * de);
	}
	free(text);
	free(ids);
	free(logits);
	free(bl);
	free(kld);
	free(dp);
	return km;
}

/* the first pair of a or b that the other lacks or holds another value
 * for; 0 if none (the order does not count) */
static int
kv_diff(const struct bn_kv *a, const struct bn_kv *b, char *msg,
    size_t size)
{
	const char *v;
	size_t i;

	for (i = 0; i < a->n; i++)
		if ((v = bn_kv_get(b, a->v[i].key)) == NULL ||
		    strcmp(v, a->v[i].val) != 0) {
			if (v == NULL)
				snprintf(msg, size, "%.60s=%.60s against no "
				    "%.60s", a->v[i].key, a->v[i].val,
				    a->v[i].key);
			else
				snprintf(msg, size, "%.60s=%.60s against "
				    "%.60s", a->v[i].key, a->v[i].val, v);
			return 1;
		}
	for (i = 0; i < b->n; i++)
		if (bn_kv_get(a, b->v[i].key) == NULL) {
			snprintf(msg, size, "no %.60s against %.60s=%.60s",
			    b->v[i].key, b->v[i].key, b->v[i].val);
			return 1;
		}
	return 0;
}

/*
 * Whether two tokenizer records differ, and where first: metadata,
 * tokens, scores, types, merges.  The message names the difference.
 */
static int
vocab_diff(const struct bn_vocab *a, const struct bn_vocab *b, char *msg,
    size_t size)
{
	uint32_t i;

	if (kv_diff(&a->kv, &b->kv, msg, size))
		return 1;
	if (a->n_tokens != b->n_tokens) {
		snprintf(msg, size, "%" PRIu32 " tokens against %" PRIu32,
		    a->n_tokens, b->n_tokens);
		return 1;
	}
	for (i = 0; i < a->n_tokens; i++) {
		if (a->token_len[i] != b->token_len[i] || memcmp(a->tokens[i],
		    b->tokens[i], a->token_len[i]) != 0) {
			snprintf(msg, size, "token %" PRIu32 " differs", i);
			return 1;
		}
		if ((a->scores == NULL) != (b->scores == NULL) ||
		    (a->scores != NULL && memcmp(&a->scores[i], &b->scores[i],
		    sizeof *a->scores) != 0)) {
			snprintf(msg, size, "the score of token %" PRIu32
			    " differs", i);
			return 1;
		}
		if ((a->types == NULL) != (b->types == NULL) ||
		    (a->types != NULL && a->types[i] != b->types[i])) {
			snprintf(msg, size, "the type of token %" PRIu32
			    " differs", i);
			return 1;
		}
	}
	if (a->n_merges != b->n_merges) {
		snprintf(msg, size, "%" PRIu32 " merges against %" PRIu32,
		    a->n_merges, b->n_merges);
		return 1;
	}
	for (i = 0; i < a->n_merges; i++)
		if (a->merge_len[i] != b->merge_len[i] || memcmp(a->merges[i],
		    b->merges[i], a->merge_len[i]) != 0) {
			snprintf(msg, size, "merge %" PRIu32 " differs", i);
			return 1;
		}
	return 0;
}

/* The compact head --head asks for (auto: int8 from a vocabulary of
 * HEAD_AUTO_VOCAB); 1 if one was made. */
static int
make_head(const struct opts *o, struct bn_model *m, const char *path)
{
	struct bn_err e = { "" };
	int st = BN_OK, made = 0;

	if (o->head == HEAD_Q4) {
		st = bn_model_quantize_head_q4(m, &e);
		made = 1;
	} else if (o->head == HEAD_Q8 || (o->head == HEAD_AUTO &&
	    m->c.vocab >= HEAD_AUTO_VOCAB)) {
		st = bn_model_quantize_head(m, &e);
		made = 1;
	}
	if (st != BN_OK)
		bn_errx(bn_exit_code(st), "%s: %s", path, e.msg);
	return made;
}

/* open the --kl-base model as the model was opened; refuse one that
 * tokenizes or indexes differently (exit 65) */
static void
open_base(const struct opts *o, const struct bn_model *m,
    struct bn_model *bm)
{
	struct bn_err e = { "" };
	char msg[256];
	int st;

	if ((st = bn_model_open_flags(bm, o->kl_base, (o->nonfinite ?
	    BN_MODEL_NONFINITE : 0) | o->layout, &e)) != BN_OK)
		bn_errx(bn_exit_code(st), "%s: %s", o->kl_base, e.msg);
	make_head(o, bm, o->kl_base);
	if (!bm->map.has_vocab)
		bn_errx(EX_DATAERR, "%s: no tokenizer record", o->kl_base);
	if (vocab_diff(&m->map.vocab, &bm->map.vocab, msg, sizeof msg))
		bn_errx(EX_DATAERR, "%s and %s have different tokenizers: %s",
		    o->model, o->kl_base, msg);
	if (m->c.vocab != bm->c.vocab)
		bn_errx(EX_DATAERR, "%s and %s have different vocabulary "
		    "sizes: %d against %d", o->model, o->kl_base, m->c.vocab,
		    bm->c.vocab);
}

/*
 * --bench --depth: the tests run with depth tokens already in the KV
 * cache, as llama-bench -d does, so depth + pp and depth + tg must fit
 * the context (--ctx, else the model's).  The cache is sized to what
 * the tests need.
 */
static void
depth_ctx(struct opts *o, const struct bn_model *m)
{
	int limit = o->ctx > 0 ? o->ctx : m->c.ctx;

	if ((long)o->depth + o->tg > limit)
		bn_errx(EX_USAGE, "--depth %d + --tg %d is over the context "
		    "of %d", o->depth, o->tg, limit);
	if ((long)o->depth + o->pp > limit)
		bn_errx(EX_USAGE, "--depth %d + --pp %d is over the context "
		    "of %d", o->depth, o->pp, limit);
	o->ctx = o->depth + (o->pp > o->tg ? o->pp : o->tg);
}

/*
 * The bytes one generated token reads: every mapped tensor the forward
 * pass uses, with one row of token_embd (all of it when it is also the
 * head), the int8 copy in place of the head when --head made one and
 * each projection made at load (repacked, ternarized) as it is; and the
 * keys and values (f32, f16 or q8 with its scales, --kv-type) of the
 * depth positions before it.
 */
static unsigned long long
weight_bytes(const struct opts *o, const struct bn_model *m)
{
	char embd[64], head[64];
	const struct bnt_tensor *t;
	const struct bn_linear *l;
	unsigned long long w = 0;
	size_t k;
	int layer, id;

	bn_role_name(BN_R_TOKEN_EMBD, 0, embd, sizeof embd);
	bn_role_name(m->c.tied ? BN_R_TOKEN_EMBD : BN_R_OUTPUT, 0, head,
	    sizeof head);
	for (k = 0; k < m->map.ntensors; k++) {
		t = &m->map.tensors[k].t;
		id = bn_role_of(t->name, &layer);
		l = id >= 0 ? bn_model_linear(m, layer, id) : NULL;
		if (l != NULL && l->owned != NULL)	/* made at load */
			w += (unsigned long long)l->rows * (l->row_bytes +
			    (l->scale ? sizeof(float) : 0));
		else if (strcmp(t->name, embd) == 0 &&
		    (o->headq || !m->c.tied))
			w += m->embd_row_bytes;
		else if (!o->headq || strcmp(t->name, head) != 0)
			w += t->raw_len;
	}
	if (o->headq)		/* and its scales */
		w += (unsigned long long)m->head.rows * (m->head.row_bytes +
		    (m->head.kind == BN_LIN_Q4 ? m->head.n / BN_Q4_BLOCK *
		    sizeof(uint16_t) : sizeof(float)));
	return w;
}

static unsigned long long
kv_bytes(const struct opts *o, const struct bn_model *m, int depth)
{
	return 2ULL * (unsigned)m->c.layers * (unsigned)depth *
	    (unsigned)m->c.kv_heads * bn_kv_row_bytes(o->kvtype,
	    (size_t)m->c.head_dim);
}

/* bench's bandwidth: a buffer larger than the last-level cache, best
 * of a few passes (kernels/membw.c, also tests/gen/membw's) */
#define BW_MIB	256
#define BW_REPS	5

/* The CPU model of /proc/cpuinfo, or "unknown". */
static void
cpu_model(char *buf, size_t size)
{
	FILE *fp = fopen("/proc/cpuinfo", "r");
	char line[512], *p;
	size_t n;

	snprintf(buf, size, "unknown");
	if (fp == NULL)
		return;
	while (fgets(line, sizeof line, fp) != NULL)
		if (strncmp(line, "model name", 10) == 0 &&
		    (p = strchr(line, ':')) != NULL) {
			p += strspn(p + 1, " \t") + 1;
			n = strcspn(p, "\n");
			if (n > 0)
				snprintf(buf, size, "%.*s", (int)n, p);
			break;
		}
	fclose(fp);
}

/* The depth fill: n tokens into the cache of the sequence q (s itself,
 * or one of --parallel's), s's batches at a time, untimed */
static void
fill(const struct bn_model *m, struct bn_state *s, struct bn_state *q,
    const int32_t *tok, int batch, int n)
{
	struct bn_state **seq = malloc((size_t)batch * sizeof *seq);
	int i, k;

	if (seq == NULL)
		bn_errx(EX_OSERR, "out of memory");
	for (i = 0; i < batch; i++)
		seq[i] = q;
	for (i = 0; i < n; i += k) {
		k = n - i < batch ? n - i : batch;
		if (bn_forward_batch(m, s, seq, tok, k, NULL, NULL) != BN_OK)
			bn_errx(EX_SOFTWARE, "forward pass failed");
	}
	free(seq);
}

/*
 * --parallel P: the generation test for P sequences at once, each with
 * its own cache (filled to the depth), one forward pass a step over the
 * P of them, as bnserve runs P requests; returns the tokens of all P a
 * second, best of reps.
 */
static double
bench_parallel(const struct opts *o, const struct bn_model *m,
    struct bn_state *s, const int32_t *tok, int d, int reps)
{
	int P = o->parallel, i, j, r;
	struct bn_state **seq = calloc((size_t)P, sizeof *seq);
	int32_t *cur = malloc((size_t)P * sizeof *cur);
	float *logits = malloc((size_t)P * (size_t)m->c.vocab *
	    sizeof *logits);
	struct bn_err e;
	double t0, tg, best = 0;
	int st;

	if (seq == NULL || cur == NULL || logits == NULL)
		bn_errx(EX_OSERR, "out of memory");
	for (j = 0; j < P; j++) {
		if ((st = bn_state_new_kv(&seq[j], m, o->ctx, 1, 1, o->kvtype,
		    &e)) != BN_OK)
			bn_errx(bn_exit_code(st), "%s", e.msg);
		fill(m, s, seq[j], tok, o->pp, d);
	}
	for (r = 0; r < reps; r++) {
		for (j = 0; j < P; j++)
			bn_state_rewind(seq[j], d);
		t0 = now();
		for (i = 0; i < o->tg; i++) {
			for (j = 0; j < P; j++)
				cur[j] = tok[(i + 3 * j) % o->pp];
			if (bn_forward_batch(m, s, seq, cur, P, NULL, logits) !=
			    BN_OK)
				bn_errx(EX_SOFTWARE, "forward pass failed");
		}
		tg = (double)P * o->tg / (now() - t0);
		if (tg > best)
			best = tg;
	}
	for (j = 0; j < P; j++)
		bn_state_free(seq[j]);
	free(seq);
	free(cur);
	free(logits);
	return best;
}

static void
bench(const struct opts *o, const struct bn_model *m, struct bn_state *s)
{
	int32_t *tok = malloc((size_t)o->pp * sizeof *tok);
	float *logits = malloc((size_t)m->c.vocab * sizeof *logits);
	double t0, tp, tg;
	int i, j, reps = 3, d = o->depth > 0 ? o->depth : 0;
	double best_pp = 0, best_tg = 0, bw;
	unsigned long long wbytes = 0, wstep, wtok, kv;
	char cpu[256], at[32] = "", test[64], kvname[16] = "", xp[16] = "";
	char share[64] = "";
	size_t k;

	if (tok == NULL || logits == NULL)
		bn_errx(EX_OSERR, "out of memory");
	for (i = 0; i < o->pp; i++)
		tok[i] = (int32_t)((i * 7919) % m->c.vocab);
	/* the cache up to the depth is filled once: each test rewinds to it */
	bn_state_reset(s);
	fill(m, s, s, tok, o->pp, d);
	for (j = 0; j < reps; j++) {
		bn_state_rewind(s, d);
		t0 = now();
		if (bn_forward(m, s, tok, o->pp, logits, 0) != BN_OK)
			bn_errx(EX_SOFTWARE, "forward pass failed");
		tp = o->pp / (now() - t0);
		if (tp > best_pp)
			best_pp = tp;
		if (o->parallel > 1)
			continue;	/* below, with P caches */
		bn_state_rewind(s, d);
		t0 = now();
		for (i = 0; i < o->tg; i++) {
			int32_t t = tok[i % o->pp];

			if (bn_forward(m, s, &t, 1, logits, 0) != BN_OK)
				bn_errx(EX_SOFTWARE, "forward pass failed");
		}
		tg = o->tg / (now() - t0);
		if (tg > best_tg)
			best_tg = tg;
	}
	if (o->parallel > 1)
		best_tg = bench_parallel(o, m, s, tok, d, reps);
	for (k = 0; k < m->map.ntensors; k++)
		wbytes += m->map.tensors[k].t.raw_len;
	/* P sequences share a step's weights: a token reads 1/P of them */
	wstep = weight_bytes(o, m);
	wtok = wstep / (unsigned)o->parallel;
	kv = kv_bytes(o, m, d);
	bw = bn_membw(BW_MIB, o->threads, BW_REPS);
	cpu_model(cpu, sizeof cpu);
	if (o->parallel > 1)
		snprintf(xp, sizeof xp, " x%d", o->parallel);
	if (o->depth >= 0)
		snprintf(at, sizeof at, " @ d%d", o->depth);
	if (o->json) {
		printf("{\"model\":\"%s\",\"size\":%llu,\"threads\":%d,"
		    "\"kernels\":\"%s\",\"pp\":%d,\"pp_tps\":%.3f,\"tg\":%d,"
		    "\"tg_tps\":%.3f", o->model, wbytes, o->threads,
		    bn_k->name, o->pp, best_pp, o->tg, best_tg);
		if (o->depth >= 0)
			printf(",\"depth\":%d", o->depth);
		if (o->parallel > 1)
			printf(",\"parallel\":%d", o->parallel);
		if (o->kvtype != BN_KV_F32)
			printf(",\"kv_type\":\"%s\"",
			    bn_kv_type_name(o->kvtype));
		printf(",\"weight_bytes\":%llu,\"kv_bytes\":%llu,"
		    "\"bytes_per_token\":%llu,\"membw_gbs\":%.3f,"
		    "\"bw_share\":%.4f,\"cpu\":", wstep, kv, wtok + kv,
		    bw / 1e9, bw > 0 ? (wtok + kv) * best_tg / bw : 0);
		bn_json_fput_str(stdout, cpu);
		printf("}\n");
	} else {
		printf("| %-24s | %10s | %7s | %7s | %8s | %10s |\n", "model",
		    "size", "kernels", "threads", "test", "t/s");
		if (o->depth < 0 && o->parallel == 1) {
			printf("| %-24.24s | %7.2f MiB | %7s | %7d | %5s%-3d | "
			    "%10.2f |\n", o->model, wbytes / 1048576.0,
			    bn_k->name, o->threads, "pp", o->pp, best_pp);
			printf("| %-24.24s | %7.2f MiB | %7s | %7d | %5s%-3d | "
			    "%10.2f |\n", o->model, wbytes / 1048576.0,
			    bn_k->name, o->threads, "tg", o->tg, best_tg);
		} else {
			snprintf(test, sizeof test, "pp%d%s", o->pp, at);
			printf("| %-24.24s | %7.2f MiB | %7s | %7d | %8s | "
			    "%10.2f |\n", o->model, wbytes / 1048576.0,
			    bn_k->name, o->threads, test, best_pp);
			snprintf(test, sizeof test, "tg%d%s%s", o->tg, xp,
			    at);
			printf("| %-24.24s | %7.2f MiB | %7s | %7d | %8s | "
			    "%10.2f |\n", o->model, wbytes / 1048576.0,
			    bn_k->name, o->threads, test, best_tg);
		}
		if (o->kvtype != BN_KV_F32)
			snprintf(kvname, sizeof kvname, " (%s)",
			    bn_kv_type_name(o->kvtype));
		if (o->parallel > 1)
			snprintf(share, sizeof share, " / %d sequences",
			    o->parallel);
		printf("bytes/token: %llu weights%s + %llu KV cache%s = %llu "
		    "(tg%d%s%s)\n", wstep, share, kv, kvname, wtok + kv, o->tg,
		    xp, at);
		if (bw > 0)
			printf("memory read: %.2f GB/s with %d thread%s (%d "
			    "MiB, best of %d); tg%d%s%s reads %.2f GB/s, "
			    "%.1f%% of it\n", bw / 1e9, o->threads,
			    o->threads == 1 ? "" : "s", BW_MIB, BW_REPS,
			    o->tg, xp, at, (wtok + kv) * best_tg / 1e9,
			    100 * (wtok + kv) * best_tg / bw);
		else
			printf("memory read: not measured (out of memory)\n");
		printf("cpu: %s\n", cpu);
	}
	free(tok);
	free(logits);
}

static void
print_ids(const struct bn_tokenizer *tk)
{
	size_t len, n, i;
	char *text = bn_slurp("-", &len);
	int32_t *ids = tokenize(tk, "<stdin>", text, len, 0, &n);

	for (i = 0; i < n; i++)
		printf("%s%d", i ? " " : "", (int)ids[i]);
	putchar('\n');
	free(text);
	free(ids);
}

/*
 * The chat template family: --chat-template NAME, else the one the
 * template text (--chat-template-file, else the tokenizer record's)
 * belongs to.  A template of no known family is an error that names
 * the way out.  *sys: the template's own system prompt for a
 * conversation without one, or NULL.
 */
static int
chat_family(const struct opts *o, const struct bn_vocab *v, char **sys)
{
	const char *from = o->model;
	char *text;
	size_t len;
	int f;

	*sys = NULL;
	if (o->tmpl_name != NULL)
		return bn_chat_family(o->tmpl_name);
	if (o->tmpl_file != NULL) {
		text = bn_slurp(o->tmpl_file, &len);
		from = bn_display_name(o->tmpl_file);
		if (memchr(text, '\0', len) != NULL)
			bn_errx(EX_DATAERR, "%s: the chat template holds a NUL",
			    from);
	} else if ((text = bn_vocab_chat_template(v, &len)) == NULL)
		bn_errx(EX_DATAERR, "%s: no chat template in the tokenizer "
		    "record; name its family with --chat-template NAME (%s)",
		    from, bn_chat_names());
	if ((f = bn_chat_detect(text)) == BN_CHAT_UNKNOWN)
		bn_errx(EX_DATAERR, "%s: chat template of no known family; "
		    "name its family with --chat-template NAME (%s)", from,
		    bn_chat_names());
	bn_chat_default_system(text, f, sys);
	free(text);
	if (o->verbose)
		bn_warnx("chat template: %s", bn_chat_name(f));
	return f;
}

/* --print-prompt: a JSON array of {"role", "content"} on standard input,
 * formatted with the generation prompt, on standard output */
static void
print_prompt(int family, const char *sys)
{
	struct bn_json_doc d = { 0 };
	struct bn_err e = { "" };
	struct bn_chat_msg *msg;
	const struct bn_json *a, *r, *c;
	char *text, *out;
	size_t len, i, k;
	int st;

	text = bn_slurp("-", &len);
	if ((st = bn_json_parse(&d, text, len, &e)) != BN_OK)
		bn_errx(bn_exit_code(st), "<stdin>: %s", e.msg);
	a = d.root;
	if (a->type != BN_JSON_ARRAY)
		bn_errx(EX_DATAERR, "<stdin>: expected an array of messages");
	if ((msg = calloc(a->n + 1, sizeof *msg)) == NULL)
		bn_errx(EX_OSERR, "out of memory");
	k = 0;
	if (sys != NULL && a->n > 0 && ((r = bn_json_get(bn_json_at(a, 0),
	    "role")) == NULL || !bn_json_streq(r, "system"))) {
		msg[0].role = "system";
		msg[0].content = sys;
		msg[k++].len = strlen(sys);
	}
	for (i = 0; i < a->n; i++, k++) {
		r = bn_json_get(bn_json_at(a, i), "role");
		c = bn_json_get(bn_json_at(a, i), "content");
		if (r == NULL || c == NULL || r->type != BN_JSON_STRING ||
		    c->type != BN_JSON_STRING)
			bn_errx(EX_DATAERR, "<stdin>: message %zu: expected "
			    "string role and content", i + 1);
		msg[k].role = r->str;
		msg[k].content = c->str;
		msg[k].len = c->len;
	}
	if ((st = bn_chat_format(family, msg, k, 1, &out, &len, &e)) !=
	    BN_OK)
		bn_errx(st == BN_EUSAGE ? EX_DATAERR : bn_exit_code(st),
		    "<stdin>: %s", e.msg);
	fwrite(out, 1, len, stdout);
	free(out);
	free(msg);
	bn_json_free(&d);
	free(text);
}

static volatile sig_atomic_t interrupted;

static void
on_sigint(int sig)
{
	(void)sig;
	interrupted = 1;
}

/* Append the text of token id to b: control tokens give their text
 * if special, else nothing (as emit() prints). */
static void
piece(const struct bn_tokenizer *tk, int32_t id, unsigned flags,
    struct bn_buf *b)
{
	size_t len;

	if (id >= bn_tokenizer_n_vocab(tk))
		return;
	if (bn_tokenizer_piece(tk, id, flags, NULL, 0, &len) != BN_OK &&
	    len == 0)
		return;
	if (bn_buf_reserve(b, len) != 0 || bn_tokenizer_piece(tk, id, flags,
	    b->p + b->n, len + 1, &len) != BN_OK)
		return;
	b->n += len;
	b->p[b->n] = '\0';
}

struct conv {
	struct bn_chat_msg *msg;
	size_t n, cap;
};

static void
conv_add(struct conv *c, const char *role, const char *text, size_t len)
{
	char *copy = malloc(len + 1);

	if (copy == NULL || bn_grow(&c->msg, &c->cap, c->n + 1,
	    sizeof *c->msg) != 0)
		bn_errx(EX_OSERR, "out of memory");
	memcpy(copy, text, len);
	copy[len] = '\0';
	c->msg[c->n].role = role;
	c->msg[c->n].content = copy;
	c->msg[c->n++].len = len;
}

/* Does the reply end with a --stop string, starting in its last piece? */
static int
stopped(const struct opts *o, const struct bn_buf *r, size_t from)
{
	size_t k, sl;

	for (k = 0; k < (size_t)o->nstop; k++) {
		size_t at;

		sl = strlen(o->stop[k]);
		for (at = from >= sl ? from - sl + 1 : 0; at + sl <= r->n; at++)
			if (memcmp(r->p + at, o->stop[k], sl) == 0)
				return 1;
	}
	return 0;
}

/*
 * --chat: a line of standard input a turn.  The KV cache keeps the
 * conversation: a turn formats the whole of it and runs only the text
 * after what the cache already holds (kept as text in `seen`).
 */
static void
chat(const struct opts *o, const struct bn_model *m, struct bn_state *s,
    const struct bn_tokenizer *tk, int family, const char *sys)
{
	const char *const *eot = bn_chat_eot(family);
	int32_t stop_ids[16], *ids, next;
	struct bn_buf seen = { 0 }, reply = { 0 }, shown = { 0 };
	struct conv cv = { 0 };
	struct bn_err e = { "" };
	struct sigaction sa;
	float *logits = malloc((size_t)m->c.vocab * sizeof *logits);
	char *line = NULL, *full;
	size_t cap = 0, flen, nid, i, k, nstop = 0;
	ssize_t ll;
	int st, turn = 0, gen, tty = isatty(STDIN_FILENO) &&
	    isatty(STDOUT_FILENO);
	int bos = o->bos >= 0 ? o->bos : bn_tokenizer_add_bos(tk);

	if (logits == NULL)
		bn_errx(EX_OSERR, "out of memory");
	for (k = 0; eot[k] != NULL && nstop < 14; k++)
		if ((next = bn_tokenizer_find(tk, eot[k], strlen(eot[k]))) >= 0)
			stop_ids[nstop++] = next;
	stop_ids[nstop++] = bn_tokenizer_eos(tk);
	stop_ids[nstop++] = m->c.eos;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_sigint;
	sa.sa_flags = SA_RESTART;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	if (o->system != NULL)
		sys = o->system;
	if (sys != NULL)
		conv_add(&cv, "system", sys, strlen(sys));
	for (;;) {
		if (tty) {
			fputs("> ", stdout);
			fflush(stdout);
		}
		if ((ll = getline(&line, &cap, stdin)) < 0)
			break;
		if (ll > 0 && line[ll - 1] == '\n')
			line[--ll] = '\0';
		if (ll > 0 && line[ll - 1] == '\r')
			line[--ll] = '\0';
		if (strcmp(line, "/exit") == 0)
			break;
		if (ll == 0)
			continue;
		/* a SIGINT from here on ends this turn's reply */
		interrupted = 0;
		turn++;
		conv_add(&cv, "user", line, (size_t)ll);
		if ((st = bn_chat_format(family, cv.msg, cv.n, 1, &full, &flen,
		    &e)) != BN_OK)
			bn_errx(bn_exit_code(st), "%s", e.msg);
		/* what the cache holds must lead the conversation; when it
		 * does not (a reply the template re-spaces), start over */
		if (seen.n > 0 && (seen.n > flen ||
		    memcmp(full, seen.p, seen.n) != 0)) {
			if (o->verbose)
				bn_warnx("turn %d: the conversation no longer "
				    "starts with the cached text: the cache "
				    "starts over", turn);
			bn_state_reset(s);
			seen.n = 0;
		}
		st = bn_tokenizer_encode(tk, full + seen.n, flen - seen.n,
		    &ids, &nid, &e);
		if (st != BN_OK)
			bn_errx(bn_exit_code(st), "turn %d: %s", turn, e.msg);
		if (bn_state_pos(s) == 0 && bos && bn_tokenizer_bos(tk) >= 0) {
			if ((ids = realloc(ids, (nid + 1) * sizeof *ids)) ==
			    NULL)
				bn_errx(EX_OSERR, "out of memory");
			memmove(ids + 1, ids, nid * sizeof *ids);
			ids[0] = bn_tokenizer_bos(tk);
			nid++;
		}
		for (i = 0; i < nid; i++)
			if (ids[i] < 0 || ids[i] >= m->c.vocab)
				bn_errx(EX_DATAERR, "turn %d: token id %d "
				    "outside the model's vocabulary", turn,
				    (int)ids[i]);
		if (bn_state_pos(s) + (int)nid >= o->ctx)
			bn_errx(EX_DATAERR, "context full: turn %d needs %zu "
			    "positions and a reply, %d of the %d are left "
			    "(--ctx)", turn, nid, o->ctx - bn_state_pos(s),
			    o->ctx);
		for (i = 0; i < nid; i += (size_t)o->pp) {
			k = nid - i < (size_t)o->pp ? nid - i : (size_t)o->pp;
			if (bn_forward(m, s, ids + i, (int)k, logits, 0) !=
			    BN_OK)
				bn_errx(EX_SOFTWARE, "forward pass failed");
		}
		bn_buf_put(&seen, full + seen.n, flen - seen.n);
		free(full);
		free(ids);
		reply.n = 0;
		for (gen = 0; gen < o->n && !interrupted; ) {
			size_t from = reply.n;

			next = bn_sample(&smp, logits);
			for (k = 0; k < nstop; k++)
				if (next == stop_ids[k])
					break;
			if (k < nstop)
				break;
			if (bn_state_pos(s) >= o->ctx) {
				fflush(stdout);
				bn_warnx("context full (%d positions): the "
				    "reply ends here", o->ctx);
				break;
			}
			shown.n = 0;
			piece(tk, next, 0, &shown);
			if (shown.n > 0)
				fwrite(shown.p, 1, shown.n, stdout);
			fflush(stdout);
			piece(tk, next, BN_TK_SPECIAL, &reply);
			gen++;
			if (bn_forward(m, s, &next, 1, logits, 0) != BN_OK)
				bn_errx(EX_SOFTWARE, "forward pass failed");
			if (stopped(o, &reply, from))
				break;
		}
		putchar('\n');
		fflush(stdout);
		if (reply.oom || seen.oom || shown.oom)
			bn_errx(EX_OSERR, "out of memory");
		bn_buf_put(&seen, reply.p, reply.n);
		/* Mistral's template puts the space before a reply */
		k = family == BN_CHAT_MISTRAL && reply.n > 0 &&
		    reply.p[0] == ' ';
		conv_add(&cv, "assistant", reply.n ? reply.p + k : "",
		    reply.n - k);
		if (o->verbose)
			bn_warnx("turn %d: %zu prompt tokens processed, %d "
			    "generated, %d in the context%s", turn, nid, gen,
			    bn_state_pos(s), interrupted ? " (interrupted)" :
			    "");
	}
	for (i = 0; i < cv.n; i++)
		free((char *)cv.msg[i].content);
	free(cv.msg);
	free(line);
	bn_buf_free(&seen);
	bn_buf_free(&reply);
	bn_buf_free(&shown);
	free(logits);
}

int
main(int argc, char *argv[])
{
	struct opts o = { .bos = -1, .n = 128, .pp = 512, .tg = 128,
	    .depth = -1, .top_k = 40, .temp = 0.8, .top_p = 0.95,
	    .max_kld = -1 };
	struct bn_err e = { "" };
	struct bn_tokenizer *tk = NULL;
	struct bn_model m, bm;
	struct bnt_map vm;
	struct bn_state *s = NULL;
	struct base b = { NULL, NULL, NULL };
	double kld;
	int st, batch, family = 0;
	char *sys = NULL;

	bn_setprogname(argv[0]);
	o.seed = (unsigned long long)time(NULL);
	parse_args(argc, argv, &o);
	bn_kernels_pick();
	if (o.threads == 0)
		o.threads = bn_pool_default_threads();
	if (o.print_prompt) {
		if ((st = bnt_map_open(&vm, o.model, BNT_MAP_NOCRC |
		    BNT_MAP_NONFINITE, &e)) != 0)
			bn_errx(bn_exit_code(st), "%s: %s", o.model, e.msg);
		if (!vm.has_vocab && o.tmpl_name == NULL &&
		    o.tmpl_file == NULL)
			bn_errx(EX_DATAERR, "%s: no tokenizer record", o.model);
		family = chat_family(&o, &vm.vocab, &sys);
		print_prompt(family, sys);
		free(sys);
		bnt_map_close(&vm);
		bn_close_stdout();
		return 0;
	}
	if (o.tokenize) {
		/* any bnt with a tokenizer will do, even without tensors */
		if ((st = bnt_map_open(&vm, o.model, BNT_MAP_NOCRC |
		    BNT_MAP_NONFINITE, &e)) != 0)
			bn_errx(bn_exit_code(st), "%s: %s", o.model, e.msg);
		if (!vm.has_vocab)
			bn_errx(EX_DATAERR, "%s: no tokenizer record", o.model);
		if ((st = bn_tokenizer_new(&tk, &vm.vocab, &e)) != BN_OK)
			bn_errx(bn_exit_code(st), "%s: %s", o.model, e.msg);
		print_ids(tk);
		bn_tokenizer_free(tk);
		bnt_map_close(&vm);
		bn_close_stdout();
		return 0;
	}
	if ((st = bn_model_open_flags(&m, o.model, (o.nonfinite ?
	    BN_MODEL_NONFINITE : 0) | o.layout, &e)) != BN_OK)
		bn_errx(bn_exit_code(st), "%s: %s", o.model, e.msg);
	o.headq = make_head(&o, &m, o.model);
	if (!o.bench) {
		if (bn_sampler_init(&smp, m.c.vocab, o.temp, o.top_k, o.top_p,
		    o.seed) != BN_OK)
			bn_errx(EX_OSERR, "out of memory");
		if (!m.map.has_vocab)
			bn_errx(EX_DATAERR, "%s: no tokenizer record", o.model);
		if ((st = bn_tokenizer_new(&tk, &m.map.vocab, &e)) != BN_OK)
			bn_errx(bn_exit_code(st), "%s: %s", o.model, e.msg);
	}
	if (o.kl_base != NULL) {
		open_base(&o, &m, &bm);
		b.name = o.kl_base;
		b.m = &bm;
	}
	if (o.chat)
		family = chat_family(&o, &m.map.vocab, &sys);
	if (o.ppl != NULL && o.ctx == 0)
		o.ctx = 256;
	if (o.depth >= 0)
		depth_ctx(&o, &m);
	if (o.ctx == 0)
		o.ctx = o.bench ? o.pp + o.tg : m.c.ctx < 4096 ? m.c.ctx : 4096;
	if (o.bench && o.ctx < o.pp + o.tg)
		o.ctx = o.pp + o.tg;
	batch = o.ppl != NULL ? o.ctx : o.bench ? o.pp : 64;
	if (o.pp > batch || !o.bench)
		o.pp = batch;
	if (o.bench && o.parallel > batch)
		batch = o.parallel;
	if ((st = bn_state_new_kv(&s, &m, o.ctx, batch, o.threads, o.kvtype,
	    &e)) != 0)
		bn_errx(bn_exit_code(st), "%s", e.msg);
	if (b.m != NULL && (st = bn_state_new_kv(&b.s, b.m, o.ctx, batch,
	    o.threads, o.kvtype, &e)) != 0)
		bn_errx(bn_exit_code(st), "%s: %s", o.kl_base, e.msg);
	if (o.bench)
		bench(&o, &m, s);
	else if (o.ppl != NULL) {
		kld = perplexity(&o, &m, s, tk, b.m != NULL ? &b : NULL);
		/* a NaN (--allow-nonfinite) fails the gate too */
		if (o.max_kld >= 0 && !(kld <= o.max_kld)) {
			bn_close_stdout();
			bn_errx(1, "mean KLD %.6f is above --max-kld %g", kld,
			    o.max_kld);
		}
	} else if (o.chat)
		chat(&o, &m, s, tk, family, sys);
	else
		generate(&o, &m, s, tk);
	if (b.m != NULL) {
		bn_state_free(b.s);
		bn_model_close(&bm);
	}
	bn_state_free(s);
	bn_sampler_free(&smp);
	bn_tokenizer_free(tk);
	bn_model_close(&m);
	free(sys);
	bn_close_stdout();
	return 0;
}
