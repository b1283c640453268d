/* bnstat: statistics of bnt(5) models: per-tensor histograms, the
 * stability of ternary codes across checkpoints, and activation
 * bit-error rates of a quantized model against a float reference, as
 * text, CSV, JSON Lines or SVG.  The formulas are in bnstat(1). */
#include <getopt.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <unistd.h>

#include "bnt.h"
#include "dtype.h"
#include "err.h"
#include "kernels.h"
#include "mem.h"
#include "model.h"
#include "parse.h"
#include "quant.h"
#include "svg.h"
#include "tokenizer.h"
#include "version.h"
#include "xio.h"

enum {
	OPT_BER = 256, OPT_CSV, OPT_DATA, OPT_FORCE, OPT_HIST, OPT_JSON,
	OPT_MAX_BER,
	OPT_MIN_STAB, OPT_MOMENTUM, OPT_NO_QUANT, OPT_REF, OPT_STABILITY,
	OPT_SVG, OPT_TOKENS
};
enum { FMT_TEXT, FMT_CSV, FMT_JSON };
enum { MODE_REPORT, MODE_STABILITY, MODE_BER };

struct opts {
	int mode, fmt, hist, noquant, verbose, threads, force;
	int binary;		/* -q: 0 ternary, 1 binary, -1 train.quant */
	const char *svg, *data, *ref;
	double max_ber, min_stab, momentum;
	int has_max_ber, has_min_stab;
	unsigned tokens;
	char **files;
	int nfiles;
};

static const char shortopts[] = "hq:t:vV";
static const struct option longopts[] = {
	{ "ber",		no_argument,		NULL,	OPT_BER },
	{ "csv",		no_argument,		NULL,	OPT_CSV },
	{ "data",		required_argument,	NULL,	OPT_DATA },
	{ "force",		no_argument,		NULL,	OPT_FORCE },
	{ "help",		no_argument,		NULL,	'h' },
	{ "hist",		no_argument,		NULL,	OPT_HIST },
	{ "json",		no_argument,		NULL,	OPT_JSON },
	{ "max-ber",		required_argument,	NULL,	OPT_MAX_BER },
	{ "min-stability",	required_argument,	NULL,	OPT_MIN_STAB },
	{ "momentum",		required_argument,	NULL,	OPT_MOMENTUM },
	{ "no-quant",		no_argument,		NULL,	OPT_NO_QUANT },
	{ "quant",		required_argument,	NULL,	'q' },
	{ "ref",		required_argument,	NULL,	OPT_REF },
	{ "stability",		no_argument,		NULL,	OPT_STABILITY },
	{ "svg",		required_argument,	NULL,	OPT_SVG },
	{ "threads",		required_argument,	NULL,	't' },
	{ "tokens",		required_argument,	NULL,	OPT_TOKENS },
	{ "verbose",		no_argument,		NULL,	'v' },
	{ "version",		no_argument,		NULL,	'V' },
	{ NULL,			0,			NULL,	0 }
};

static _Noreturn void
usage(FILE *fp, int status)
{
	fprintf(fp, "usage: %s [-v] [-q ternary | binary] [--csv | --json] "
	    "[--hist] [--svg file] [--force] [file ...]\n"
	    "       %s --stability [-v] [-q ternary | binary] [--momentum m] "
	    "[--min-stability y] [--csv | --json] [--hist] [--svg file] "
	    "a b [c ...]\n"
	    "       %s --ber --data text [-v] [-t n] [--ref float.bnt] "
	    "[--tokens n] [--no-quant] [--max-ber x] [--csv | --json] "
	    "[--hist] [--svg file] model\n", bn_progname, bn_progname,
	    bn_progname);
	if (fp == stdout)
		fputs("Statistics of bnt(5) models; see bnstat(1).\n"
		    "      --stability       code flips across checkpoints "
		    "(in training order)\n"
		    "      --ber             activation error rates against a "
		    "float reference\n"
		    "      --csv, --json     CSV or JSON Lines instead of "
		    "aligned text\n"
		    "      --data FILE       text to run the models on "
		    "(--ber)\n"
		    "      --force           read binary data from a terminal\n"
		    "      --hist            print the histogram rows instead "
		    "of the table\n"
		    "      --max-ber X       exit 1 if a site's sign BER "
		    "exceeds X\n"
		    "      --min-stability Y exit 1 if a tensor's stability "
		    "is below Y\n"
		    "      --momentum M      oscillation EMA momentum "
		    "(default 0.01)\n"
		    "      --no-quant        --ber: run the model with its "
		    "quantizers off too\n"
		    "  -q, --quant TYPE      code float weights as ternary "
		    "(default) or binary\n"
		    "      --ref FILE        reference model (default: MODEL, "
		    "quantizers off)\n"
		    "      --svg FILE        plots as a self-contained SVG\n"
		    "  -t, --threads N       threads for --ber (default: all "
		    "CPUs)\n"
		    "      --tokens N        tokens of --data to use (default "
		    "256)\n"
		    "  -v, --verbose         progress on standard error\n"
		    "  -h, --help            show this help\n"
		    "  -V, --version         show the version\n", fp);
	exit(status);
}

static double
parse_real(const char *opt, const char *s, double lo, double hi)
{
	double v;

	if (bn_parse_f64(s, &v) != 0 || !(v >= lo && v <= hi)) {
		bn_warnx("%s: invalid value '%s'", opt, s);
		usage(stderr, EX_USAGE);
	}
	return v;
}

static void
parse_args(int argc, char *argv[], struct opts *o)
{
	unsigned u;
	int ch;

	argv[0] = (char *)bn_progname;
	while ((ch = getopt_long(argc, argv, shortopts, longopts, NULL)) != -1)
		switch (ch) {
		case OPT_BER: o->mode = MODE_BER; break;
		case OPT_CSV: o->fmt = FMT_CSV; break;
		case OPT_DATA: o->data = optarg; break;
		case OPT_FORCE: o->force = 1; break;
		case OPT_HIST: o->hist = 1; break;
		case OPT_JSON: o->fmt = FMT_JSON; break;
		case OPT_MAX_BER:
			o->max_ber = parse_real("--max-ber", optarg, 0, 1);
			o->has_max_ber = 1;
			break;
		case OPT_MIN_STAB:
			o->min_stab = parse_real("--min-stability", optarg, 0,
			    1);
			o->has_min_stab = 1;
			break;
		case OPT_MOMENTUM:
			o->momentum = parse_real("--momentum", optarg, 1e-9, 1);
			break;
		case OPT_NO_QUANT: o->noquant = 1; break;
		case OPT_REF: o->ref = optarg; break;
		case OPT_STABILITY: o->mode = MODE_STABILITY; break;
		case OPT_SVG: o->svg = optarg; break;
		case OPT_TOKENS:
			if (bn_parse_uint(optarg, 1, 1u << 24, &o->tokens)) {
				bn_warnx("--tokens: invalid count '%s'",
				    optarg);
				usage(stderr, EX_USAGE);
			}
			break;
		case 'h': usage(stdout, EXIT_SUCCESS);
		case 'q':
			if (strcmp(optarg, "ternary") == 0)
				o->binary = 0;
			else if (strcmp(optarg, "binary") == 0)
				o->binary = 1;
			else {
				bn_warnx("-q: invalid type '%s'", optarg);
				usage(stderr, EX_USAGE);
			}
			break;
		case 't':
			if (bn_parse_uint(optarg, 1, 1024, &u) != 0) {
				bn_warnx("-t: invalid count '%s'", optarg);
				usage(stderr, EX_USAGE);
			}
			o->threads = (int)u;
			break;
		case 'v': o->verbose++; break;
		case 'V':
			bn_print_version(stdout);
			exit(EXIT_SUCCESS);
		default: usage(stderr, EX_USAGE);
		}
	o->files = argv + optind;
	o->nfiles = argc - optind;
	if (o->mode == MODE_STABILITY && o->nfiles < 2) {
		bn_warnx("--stability: two or more checkpoints are needed");
		usage(stderr, EX_USAGE);
	}
	if (o->mode == MODE_BER && (o->nfiles != 1 || o->data == NULL)) {
		bn_warnx("--ber: one model and --data are needed");
		usage(stderr, EX_USAGE);
	}
	if (o->mode != MODE_BER && (o->data != NULL || o->ref != NULL ||
	    o->has_max_ber || o->noquant)) {
		bn_warnx("--data, --ref, --no-quant and --max-ber go with "
		    "--ber");
		usage(stderr, EX_USAGE);
	}
	if (o->mode != MODE_STABILITY && o->has_min_stab) {
		bn_warnx("--min-stability goes with --stability");
		usage(stderr, EX_USAGE);
	}
}

/* ---- tables: aligned text, CSV, JSON Lines ---- */

enum { C_NONE, C_STR, C_INT, C_REAL };

struct cell {
	int type;
	char *s;
	double v;
	long long i;
};

struct table {
	const char *const *cols;
	size_t ncol, nrow, cap;
	struct cell *c;		/* nrow * ncol */
	size_t fill;		/* cells filled in the last row */
};

static struct cell *
next_cell(struct table *t)
{
	struct cell *c;

	if (t->fill == 0 || t->fill == t->ncol) {
		if (t->nrow == t->cap) {
			t->cap = t->cap ? 2 * t->cap : 64;
			t->c = bn_reallocarray(t->c, t->cap * t->ncol,
			    sizeof *t->c);
			if (t->c == NULL)
				bn_errx(EX_OSERR, "out of memory");
		}
		t->nrow++;
		t->fill = 0;
	}
	c = &t->c[(t->nrow - 1) * t->ncol + t->fill++];
	memset(c, 0, sizeof *c);
	return c;
}

static void
put_s(struct table *t, const char *s)
{
	struct cell *c = next_cell(t);

	c->type = C_STR;
	if ((c->s = strdup(s)) == NULL)
		bn_errx(EX_OSERR, "out of memory");
}

static void
put_i(struct table *t, long long i)
{
	struct cell *c = next_cell(t);

	c->type = C_INT;
	c->i = i;
}

static void
put_f(struct table *t, double v)
{
	struct cell *c = next_cell(t);

	c->type = C_REAL;
	c->v = v;
}

static void
put_none(struct table *t)
{
	next_cell(t)->type = C_NONE;
}

static void
fmt_cell(const struct cell *c, int fmt, char *buf, size_t size)
{
	switch (c->type) {
	case C_NONE:
		snprintf(buf, size, "%s", fmt == FMT_TEXT ? "-" :
		    fmt == FMT_JSON ? "null" : "");
		break;
	case C_STR: snprintf(buf, size, "%s", c->s); break;
	case C_INT: snprintf(buf, size, "%lld", c->i); break;
	default:
		if (fmt == FMT_JSON && !isfinite(c->v))
			snprintf(buf, size, "null");
		else if (isnan(c->v))
			snprintf(buf, size, "nan");
		else
			snprintf(buf, size, fmt == FMT_TEXT ? "%.6g" : "%.9g",
			    c->v);
	}
}

static void
json_str(const char *s)
{
	putchar('"');
	for (; *s != '\0'; s++)
		if (*s == '"' || *s == '\\')
			printf("\\%c", *s);
		else if ((unsigned char)*s < 0x20)
			printf("\\u%04x", (unsigned char)*s);
		else
			putchar(*s);
	putchar('"');
}

static void
csv_str(const char *s)
{
	if (strpbrk(s, ",\"\n\r") == NULL) {
		fputs(s, stdout);
		return;
	}
	putchar('"');
	for (; *s != '\0'; s++) {
		if (*s == '"')
			putchar('"');
		putchar(*s);
	}
	putchar('"');
}

static void
table_free(struct table *t)
{
	size_t r;

	for (r = 0; r < t->nrow * t->ncol; r++)
		free(t->c[r].s);
	free(t->c);
	t->c = NULL;
	t->nrow = t->cap = t->fill = 0;
}

static void
table_print(struct table *t, int fmt)
{
	size_t r, k, *w, len;
	char buf[512];
	struct cell *c;

	if ((w = calloc(t->ncol, sizeof *w)) == NULL)
		bn_errx(EX_OSERR, "out of memory");
	if (fmt == FMT_TEXT) {
		for (k = 0; k < t->ncol; k++)
			w[k] = strlen(t->cols[k]);
		for (r = 0; r < t->nrow; r++)
			for (k = 0; k < t->ncol; k++) {
				fmt_cell(&t->c[r * t->ncol + k], fmt, buf,
				    sizeof buf);
				if ((len = strlen(buf)) > w[k])
					w[k] = len;
			}
	}
	if (fmt == FMT_TEXT)
		for (k = 0; k < t->ncol; k++)
			if (k + 1 < t->ncol)
				printf("%-*s  ", (int)w[k], t->cols[k]);
			else
				printf("%s\n", t->cols[k]);
	else if (fmt == FMT_CSV)
		for (k = 0; k < t->ncol; k++)
			printf("%s%s", t->cols[k], k + 1 < t->ncol ? "," :
			    "\n");
	for (r = 0; r < t->nrow; r++) {
		if (fmt == FMT_JSON)
			putchar('{');
		for (k = 0; k < t->ncol; k++) {
			c = &t->c[r * t->ncol + k];
			fmt_cell(c, fmt, buf, sizeof buf);
			if (fmt == FMT_JSON) {
				printf("%s\"%s\":", k ? "," : "", t->cols[k]);
				if (c->type == C_STR)
					json_str(buf);
				else
					fputs(buf, stdout);
			} else if (fmt == FMT_CSV) {
				if (c->type == C_STR)
					csv_str(buf);
				else
					fputs(buf, stdout);
				putchar(k + 1 < t->ncol ? ',' : '\n');
			} else if (k + 1 < t->ncol)
				printf(c->type == C_STR || c->type == C_NONE ?
				    "%-*s  " : "%*s  ", (int)w[k], buf);
			else
				printf("%s\n", buf);
		}
		if (fmt == FMT_JSON)
			puts("}");
	}
	free(w);
	table_free(t);
}

/* ---- which tensors are BitLinear weights, and their codes ---- */

static int
is_packed(int dtype)
{
	return dtype == BN_DTYPE_T2 || dtype == BN_DTYPE_T3 ||
	    dtype == BN_DTYPE_B1;
}

static int
is_latent(const struct bnt_tensor *t)
{
	return bn_dtype_traits(t->dtype)->is_float && t->ndim == 2 &&
	    t->scale_kind == BNT_SCALE_NONE && bn_is_projection(t->name);
}

/* Do the stability and code statistics cover this tensor? */
static int
has_codes(const struct bnt_tensor *t)
{
	return strncmp(t->name, "optim.", 6) != 0 &&
	    (is_packed(t->dtype) || is_latent(t));
}

static void *
xmalloc(size_t n, size_t size)
{
	void *p;

	if (bn_mul_size(n ? n : 1, size, &n) != 0 || (p = malloc(n)) == NULL)
		bn_errx(EX_OSERR, "out of memory");
	return p;
}

/* Values of all elements (scales applied), as the model's loader
 * computes them. */
static float *
tensor_values(const struct bnt_tensor *t, const unsigned char *data)
{
	float *v = xmalloc((size_t)t->nelem, sizeof *v), s;
	const unsigned char *sc = data + t->scale_offset;
	uint64_t r, c;

	for (r = 0; r < t->rows; r++) {
		float *o = v + r * t->row_len;

		bn_row_to_f32(t->dtype, data + r * t->row_bytes, t->row_len, o);
		if (t->scale_kind == BNT_SCALE_NONE)
			continue;
		for (c = 0; c < t->row_len; c++) {
			s = bnt_tensor_scale(t, sc, bnt_scale_index(t, r, c));
			o[c] = t->scale_flags & BNT_SCALE_DIV ? o[c] / s :
			    o[c] * s;
		}
	}
	return v;
}

/* The value of a code of 1: 1/s for divisors, s otherwise; the mean
 * over all scales of the tensor. */
static double
unit_scale(const struct bnt_tensor *t, const unsigned char *data)
{
	double sum = 0, s;
	uint64_t i;

	if (t->scale_kind == BNT_SCALE_NONE || t->nscales == 0)
		return 1;
	for (i = 0; i < t->nscales; i++) {
		s = bnt_tensor_scale(t, data + t->scale_offset, i);
		sum += t->scale_flags & BNT_SCALE_DIV ? 1 / s : s;
	}
	return sum / (double)t->nscales;
}

/* Codes -1, 0, +1 of a BitLinear weight, as the forward pass sees them:
 * packed codes as stored; float master weights through the quantizer of
 * model/quant.h over the whole tensor (as the loader does).  *delta is
 * the value of a code of 1; *s is the multiplier to latent units (u =
 * w * s, or (w - alpha) * s binary), 0 for packed.  -1 if a code is
 * invalid. */
static int
tensor_codes(const struct bnt_tensor *t, const unsigned char *data,
    int binary, int8_t *code, float **lat, double *delta, float *s,
    float *alpha)
{
	uint64_t r, c, n = t->nelem;
	uint8_t *row;
	float *v, a, b;
	int x;

	*s = *alpha = 0;
	if (lat != NULL)
		*lat = NULL;
	if (is_packed(t->dtype)) {
		for (r = 0; r < t->rows; r++)
			for (c = 0; c < t->row_len; c++) {
				const uint8_t *p = data + r * t->row_bytes;

				x = t->dtype == BN_DTYPE_T2 ? bn_t2_get(p, c) :
				    t->dtype == BN_DTYPE_T3 ? bn_t3_get(p, c) :
				    bn_b1_get(p, c);
				if (x == 2)
					return -1;
				code[r * t->row_len + c] = (int8_t)x;
			}
		*delta = unit_scale(t, data);
		return 0;
	}
	v = tensor_values(t, data);
	row = xmalloc((size_t)(n / 4 + 64), 1);
	if (binary) {
		bn_binary_stats(v, (size_t)n, &a, &b);
		memset(row, 0, (size_t)(n / 4 + 64));
		bn_binary_codes(v, (size_t)n, a, row, 0);
		for (c = 0; c < n; c++)
			code[c] = (int8_t)bn_b1_get(row, c);
		*delta = b;
		*alpha = a;
		*s = b > 0 ? 1 / b : 1;
	} else {
		*s = bn_ternary_scale(v, (size_t)n);
		memset(row, 0x55, (size_t)(n / 4 + 64));
		bn_ternary_codes(v, (size_t)n, *s, row, 0);
		for (c = 0; c < n; c++)
			code[c] = (int8_t)bn_t2_get(row, c);
		*delta = 1 / (double)*s;
	}
	free(row);
	if (lat != NULL)
		*lat = v;
	else
		free(v);
	return 0;
}

/* "blk.3.attn_q.weight" -> "3.attn_q" for plot labels */
static void
short_name(const char *name, char *buf, size_t size)
{
	size_t len;

	if (strncmp(name, "blk.", 4) == 0)
		name += 4;
	snprintf(buf, size, "%s", name);
	len = strlen(buf);
	if (len > 7 && strcmp(buf + len - 7, ".weight") == 0)
		buf[len - 7] = '\0';
}

static char *
xstrdup(const char *s)
{
	char *p = strdup(s);

	if (p == NULL)
		bn_errx(EX_OSERR, "out of memory");
	return p;
}

/* ---- SVG helpers ---- */

#define SVG_W 900.0
#define PANEL_H 220.0
#define PANEL_TOP 56.0
#define PANEL_BOT 50.0
#define PANEL_CATBOT 90.0

static FILE *
svg_open(struct bn_out *out, const char *path)
{
	bn_out_open(out, path, 0, 1);
	return out->fp;
}

static void
svg_close(struct bn_out *out, struct bn_svg *s)
{
	if (bn_svg_end(s) != BN_OK)
		bn_err(EX_IOERR, "%s", out->name);
	bn_out_close(out);
}

static double
max_of(const double *v, size_t n, double floor)
{
	double m = floor;
	size_t i;

	for (i = 0; i < n; i++)
		if (isfinite(v[i]) && v[i] > m)
			m = v[i];
	return m;
}

/* A bar per category (names), one or two series side by side. */
static double
svg_cats(struct bn_svg *s, double y, const char *title, const char *ylabel,
    char *const *names, size_t n, const double *v1, const char *l1,
    const double *v2, const char *l2)
{
	struct bn_svg_axes a = { 70, y + PANEL_TOP, SVG_W - 100, PANEL_H,
	    0, (double)(n ? n : 1), 0, 1, title, NULL, ylabel, 1 };
	double *lo = xmalloc(n, sizeof *lo), *hi = xmalloc(n, sizeof *hi);
	double m = max_of(v1, n, 0);
	size_t i;

	if (v2 != NULL && max_of(v2, n, 0) > m)
		m = max_of(v2, n, 0);
	a.ymax = m > 0 ? m * 1.1 : 1;
	bn_svg_axes(s, &a);
	for (i = 0; i < n; i++) {
		lo[i] = (double)i + 0.1;
		hi[i] = (double)i + (v2 != NULL ? 0.5 : 0.9);
	}
	bn_svg_bars(s, &a, lo, hi, v1, n, "#4477aa");
	if (v2 != NULL) {
		for (i = 0; i < n; i++) {
			lo[i] = (double)i + 0.5;
			hi[i] = (double)i + 0.9;
		}
		bn_svg_bars(s, &a, lo, hi, v2, n, "#ee6677");
		bn_svg_legend(s, &a, 0, "#4477aa", l1);
		bn_svg_legend(s, &a, 1, "#ee6677", l2);
	}
	bn_svg_xcats(s, &a, (const char *const *)names, n);
	free(lo);
	free(hi);
	return y + PANEL_TOP + PANEL_H + PANEL_CATBOT;
}

/* A histogram over [x0, x1] with nb equal bins. */
static double
svg_hist(struct bn_svg *s, double y, const char *title, const char *xlabel,
    const char *ylabel, double x0, double x1, const double *cnt, size_t nb,
    const double *marks, size_t nmarks)
{
	struct bn_svg_axes a = { 70, y + PANEL_TOP, SVG_W - 100, PANEL_H,
	    x0, x1, 0, 1, title, xlabel, ylabel, 0 };
	double *lo = xmalloc(nb, sizeof *lo), *hi = xmalloc(nb, sizeof *hi);
	char buf[32];
	size_t i;

	a.ymax = max_of(cnt, nb, 0) * 1.1;
	if (!(a.ymax > 0))
		a.ymax = 1;
	bn_svg_axes(s, &a);
	for (i = 0; i < nb; i++) {
		lo[i] = x0 + (x1 - x0) * (double)i / (double)nb;
		hi[i] = x0 + (x1 - x0) * (double)(i + 1) / (double)nb;
	}
	bn_svg_bars(s, &a, lo, hi, cnt, nb, "#4477aa");
	for (i = 0; i < nmarks; i++) {
		snprintf(buf, sizeof buf, "%g", marks[i]);
		bn_svg_vline(s, &a, marks[i], "#cc3311", buf);
	}
	free(lo);
	free(hi);
	return y + PANEL_TOP + PANEL_H + PANEL_BOT;
}

/* -q, or else the train.quant key of a training checkpoint */
static int
quant_of(const struct opts *o, const struct bn_kv *config)
{
	const char *q;

	if (o->binary >= 0)
		return o->binary;
	q = config != NULL ? bn_kv_get(config, "train.quant") : NULL;
	return q != NULL && strcmp(q, "binary") == 0;
}

/* ---- default report ---- */

#define HBINS 120		/* latent histogram: [-3, 3] in steps of 0.05 */
#define HLO (-3.0)
#define HHI 3.0

struct hist {
	char *name;
	uint64_t c[HBINS];
};

struct report {
	struct table t;
	struct hist *h;		/* latent histograms */
	size_t nh;
	char **names;		/* per code tensor, for plots */
	double *zero, *near;
	size_t nq;
	uint64_t pooled[HBINS];
	int binary;		/* how this file's float weights are coded */
};

static const char *const report_cols[] = {
	"file", "name", "dtype", "shape", "count", "mean", "std", "min",
	"max", "neg", "zero", "pos", "scale", "near"
};

/* One row; 0, or EX_DATAERR (said) for an invalid packed code. */
static int
report_tensor(struct report *rp, const char *file,
    const struct bnt_tensor *t, const unsigned char *data)
{
	struct table *tb = &rp->t;
	double sum = 0, sq = 0, mn = INFINITY, mx = -INFINITY, d, delta;
	uint64_t i, n = t->nelem, nan = 0, cnt[3] = { 0, 0, 0 }, near = 0;
	float *v = NULL, *lat = NULL, s, alpha;
	struct hist *h = NULL;
	int8_t *code = NULL;
	char shape[128];
	int q = has_codes(t);

	if (t->dtype == BN_DTYPE_T2 || t->dtype == BN_DTYPE_T3 ||
	    t->dtype == BN_DTYPE_B1 || t->dtype == BN_DTYPE_I8 ||
	    bn_dtype_traits(t->dtype)->is_float || t->dtype == BN_DTYPE_U8 ||
	    t->dtype == BN_DTYPE_I32 || t->dtype == BN_DTYPE_I64)
		v = tensor_values(t, data);
	for (i = 0; i < n; i++) {
		d = v[i];
		if (isnan(d)) {
			nan++;
			continue;
		}
		sum += d;
		sq += d * d;
		mn = d < mn ? d : mn;
		mx = d > mx ? d : mx;
	}
	free(v);
	if (nan)
		bn_warnx("%s: warning: tensor '%s' contains NaN", file,
		    t->name);
	if (q) {
		code = xmalloc((size_t)n, 1);
		if (tensor_codes(t, data, rp->binary, code, &lat, &delta, &s,
		    &alpha) != 0) {
			bn_warnx("%s: tensor '%s': invalid packed code", file,
			    t->name);
			free(code);
			return EX_DATAERR;
		}
		for (i = 0; i < n; i++)
			cnt[code[i] + 1]++;
		free(code);
	}
	if (lat != NULL) {
		if ((rp->h = bn_reallocarray(rp->h, rp->nh + 1,
		    sizeof *rp->h)) == NULL)
			bn_errx(EX_OSERR, "out of memory");
		h = &rp->h[rp->nh++];
		memset(h, 0, sizeof *h);
		h->name = xstrdup(t->name);
		for (i = 0; i < n; i++) {
			double u = rp->binary ? ((double)lat[i] - alpha) * s :
			    (double)lat[i] * s, b;

			if (rp->binary ? fabs(u) <= 0.05 :
			    fabs(fabs(u) - 0.5) <= 0.05)
				near++;
			b = floor((u - HLO) / (HHI - HLO) * HBINS);
			if (b >= 0 && b < HBINS) {
				h->c[(size_t)b]++;
				rp->pooled[(size_t)b]++;
			}
		}
		free(lat);
	}
	put_s(tb, file);
	put_s(tb, t->name);
	put_s(tb, bn_dtype_traits(t->dtype)->name);
	put_s(tb, bnt_shape_str(t, shape, sizeof shape));
	put_i(tb, (long long)n);
	if (n > nan) {
		d = sum / (double)(n - nan);
		put_f(tb, d);
		put_f(tb, sqrt(fmax(sq / (double)(n - nan) - d * d, 0)));
		put_f(tb, mn);
		put_f(tb, mx);
	} else {
		put_none(tb);
		put_none(tb);
		put_none(tb);
		put_none(tb);
	}
	if (q && n > 0) {
		put_f(tb, (double)cnt[0] / (double)n);
		put_f(tb, (double)cnt[1] / (double)n);
		put_f(tb, (double)cnt[2] / (double)n);
		put_f(tb, delta);
	} else {
		put_none(tb);
		put_none(tb);
		put_none(tb);
		put_none(tb);
	}
	if (h != NULL && n > 0)
		put_f(tb, (double)near / (double)n);
	else
		put_none(tb);
	if (q && n > 0) {
		size_t k = rp->nq++;

		rp->names = bn_reallocarray(rp->names, rp->nq, sizeof(char *));
		rp->zero = bn_reallocarray(rp->zero, rp->nq, sizeof(double));
		rp->near = bn_reallocarray(rp->near, rp->nq, sizeof(double));
		if (rp->names == NULL || rp->zero == NULL || rp->near == NULL)
			bn_errx(EX_OSERR, "out of memory");
		short_name(t->name, shape, sizeof shape);
		rp->names[k] = xstrdup(shape);
		rp->zero[k] = (double)cnt[1] / (double)n;
		rp->near[k] = h != NULL ? (double)near / (double)n : NAN;
	}
	return 0;
}

/* One input file: 0, or an exit status (the file is skipped). */
static int
report_file(struct report *rp, const struct opts *o, const char *path)
{
	const char *name = bn_display_name(path);
	struct bnt_record rec;
	struct bnt_reader *r;
	FILE *fp;
	int st, rc = 0;

	if (strcmp(path, "-") == 0)
		fp = bn_open_in(path, 1, o->force);
	else if ((fp = fopen(path, "rb")) == NULL) {
		bn_warn("%s", path);
		return EX_NOINPUT;
	}
	if ((r = bnt_reader_open(fp, name)) == NULL)
		bn_errx(EX_OSERR, "out of memory");
	rp->binary = quant_of(o, NULL);
	while ((st = bnt_read_next(r, &rec)) == BN_OK)
		if (rec.kind == BNT_KIND_CONFIG)
			rp->binary = quant_of(o, &rec.config);
		else if (rec.kind == BNT_KIND_TENSOR &&
		    strncmp(rec.tensor.name, "optim.", 6) != 0 &&
		    (rc = report_tensor(rp, name, &rec.tensor, rec.data)))
			break;
	if (st != BN_END && st != BN_OK)
		bn_warnx("%s: %s", name, bnt_reader_error(r));
	bnt_reader_close(r);
	if (fp != stdin)
		fclose(fp);
	return rc ? rc : st == BN_END ? 0 : bn_exit_code(st);
}

static void
report_svg(const struct report *rp, const struct opts *o)
{
	double y = 0, cnt[HBINS], marks[4] = { -1.5, -0.5, 0.5, 1.5 };
	double bmarks[1] = { 0 }, height;
	struct bn_out out;
	struct bn_svg s;
	size_t i;

	height = (rp->nh ? PANEL_TOP + PANEL_H + PANEL_BOT : 0) +
	    (rp->nq ? 2 * (PANEL_TOP + PANEL_H + PANEL_CATBOT) : 0) + 20;
	bn_svg_begin(&s, svg_open(&out, o->svg), SVG_W, height,
	    "bnstat: weight statistics");
	if (rp->nh) {
		for (i = 0; i < HBINS; i++)
			cnt[i] = (double)rp->pooled[i];
		y = svg_hist(&s, y, rp->binary ? "Latent weights of the "
		    "projections, all tensors (binary: (w - mean w) / "
		    "mean |w|, threshold 0)" : "Latent weights of the "
		    "projections, "
		    "all tensors (ternary thresholds at +-0.5)",
		    rp->binary ? "latent weight, units of mean |w|" :
		    "latent weight w / mean|W| (absmean scale units)",
		    "weights per bin (width 0.05)", HLO, HHI, cnt, HBINS,
		    rp->binary ? bmarks : marks, rp->binary ? 1 : 4);
	}
	if (rp->nq) {
		y = svg_cats(&s, y, "Share of zero codes per tensor",
		    "share of codes that are 0", rp->names, rp->nq, rp->zero,
		    NULL, NULL, NULL);
		y = svg_cats(&s, y, "Near-threshold mass per tensor "
		    "(|u| within 0.05 of a threshold)", "share of weights",
		    rp->names, rp->nq, rp->near, NULL, NULL, NULL);
	}
	svg_close(&out, &s);
}

static int
run_report(const struct opts *o)
{
	static const char *const hcols[] = {
		"file", "name", "bin_lo", "bin_hi", "count"
	};
	static char *stdin_only[] = { "-" };
	struct table ht = { hcols, 5, 0, 0, NULL, 0 };
	struct report rp;
	char **files = o->nfiles ? o->files : stdin_only;
	int n = o->nfiles ? o->nfiles : 1, i, rc = 0, st;
	size_t k, b;

	memset(&rp, 0, sizeof rp);
	rp.t.cols = report_cols;
	rp.t.ncol = sizeof report_cols / sizeof report_cols[0];
	for (i = 0; i < n; i++) {
		size_t h0 = rp.nh;

		if ((st = report_file(&rp, o, files[i])) > rc)
			rc = st;
		for (k = h0; o->hist && k < rp.nh; k++)
			for (b = 0; b < HBINS; b++) {
				put_s(&ht, bn_display_name(files[i]));
				put_s(&ht, rp.h[k].name);
				put_f(&ht, HLO + (HHI - HLO) * (double)b /
				    HBINS);
				put_f(&ht, HLO + (HHI - HLO) * (double)(b + 1) /
				    HBINS);
				put_i(&ht, (long long)rp.h[k].c[b]);
			}
	}
	if (o->hist)
		table_print(&ht, o->fmt);
	if (!o->hist && (rp.t.nrow > 0 || rc == 0))
		table_print(&rp.t, o->fmt);
	else
		table_free(&rp.t);
	if (o->svg != NULL)
		report_svg(&rp, o);
	for (k = 0; k < rp.nh; k++)
		free(rp.h[k].name);
	for (k = 0; k < rp.nq; k++)
		free(rp.names[k]);
	free(rp.h);
	free(rp.names);
	free(rp.zero);
	free(rp.near);
	bn_close_stdout();
	return rc;
}

/* ---- stability across checkpoints ---- */

struct stab {
	char *name;
	uint64_t n;
	int8_t *prev, *first, *dir;	/* dir: last non-zero direction */
	uint16_t *flips, *osc;		/* per weight, saturating */
	float *f;			/* oscillation EMA */
	uint64_t m[3][3];		/* transitions summed over pairs */
	uint64_t *pair;			/* flips per consecutive pair */
	double delta0, delta;
	int seen;			/* last checkpoint it was in */
};

struct run {
	struct stab *t;
	size_t nt;
	int k;				/* checkpoints */
	double *step;
	int have_steps;
	int binary;		/* how this file's float weights are coded */
};

static struct stab *
stab_find(struct run *rn, const char *name)
{
	size_t i;

	for (i = 0; i < rn->nt; i++)
		if (strcmp(rn->t[i].name, name) == 0)
			return &rn->t[i];
	return NULL;
}

static void
stab_update(struct run *rn, const struct opts *o, int ck, const char *file,
    const struct bnt_tensor *t, const unsigned char *data)
{
	struct stab *st = stab_find(rn, t->name);
	double delta, m = o->momentum;
	float s, alpha;
	int8_t *code;
	uint64_t i;
	int a, b, d, osc;

	if (st == NULL) {
		if (ck > 0)
			bn_errx(EX_DATAERR, "%s: tensor '%s' is not in the "
			    "first checkpoint", file, t->name);
		if ((rn->t = bn_reallocarray(rn->t, rn->nt + 1,
		    sizeof *rn->t)) == NULL)
			bn_errx(EX_OSERR, "out of memory");
		st = &rn->t[rn->nt++];
		memset(st, 0, sizeof *st);
		st->name = xstrdup(t->name);
		st->n = t->nelem;
		st->prev = xmalloc((size_t)st->n, 1);
		st->first = xmalloc((size_t)st->n, 1);
		st->dir = calloc((size_t)st->n ? (size_t)st->n : 1, 1);
		st->flips = calloc((size_t)st->n ? (size_t)st->n : 1, 2);
		st->osc = calloc((size_t)st->n ? (size_t)st->n : 1, 2);
		st->f = calloc((size_t)st->n ? (size_t)st->n : 1, 4);
		st->pair = calloc((size_t)o->nfiles, sizeof *st->pair);
		st->seen = -1;
		if (st->dir == NULL || st->flips == NULL || st->osc == NULL ||
		    st->f == NULL || st->pair == NULL)
			bn_errx(EX_OSERR, "out of memory");
	}
	if (st->seen == ck)
		bn_errx(EX_DATAERR, "%s: tensor '%s' appears twice", file,
		    t->name);
	if (st->n != t->nelem)
		bn_errx(EX_DATAERR, "%s: tensor '%s': %llu elements, %llu in "
		    "the first checkpoint", file, t->name,
		    (unsigned long long)t->nelem, (unsigned long long)st->n);
	st->seen = ck;
	code = xmalloc((size_t)st->n, 1);
	if (tensor_codes(t, data, rn->binary, code, NULL, &delta, &s,
	    &alpha) != 0)
		bn_errx(EX_DATAERR, "%s: tensor '%s': invalid packed code",
		    file, t->name);
	if (ck == 0) {
		memcpy(st->prev, code, (size_t)st->n);
		memcpy(st->first, code, (size_t)st->n);
		st->delta0 = st->delta = delta;
		free(code);
		return;
	}
	for (i = 0; i < st->n; i++) {
		a = st->prev[i];
		b = code[i];
		st->m[a + 1][b + 1]++;
		osc = 0;
		if (a != b) {
			st->flips[i] += st->flips[i] < UINT16_MAX;
			st->pair[ck - 1]++;
			d = b > a ? 1 : -1;
			if (st->dir[i] == -d) {
				osc = 1;
				st->osc[i] += st->osc[i] < UINT16_MAX;
			}
			st->dir[i] = (int8_t)d;
		}
		st->f[i] = (float)(m * osc + (1 - m) * st->f[i]);
		st->prev[i] = (int8_t)b;
	}
	st->delta = delta;
	free(code);
}

static void
stab_file(struct run *rn, const struct opts *o, int ck, const char *path)
{
	const char *name = bn_display_name(path);
	struct bnt_record rec;
	struct bnt_reader *r;
	int64_t step;
	size_t i;
	FILE *fp;
	int st, got_step = 0;

	fp = bn_open_in(path, 1, o->force);
	if ((r = bnt_reader_open(fp, name)) == NULL)
		bn_errx(EX_OSERR, "out of memory");
	rn->binary = quant_of(o, NULL);
	while ((st = bnt_read_next(r, &rec)) == BN_OK) {
		if (rec.kind == BNT_KIND_CONFIG)
			rn->binary = quant_of(o, &rec.config);
		if (rec.kind == BNT_KIND_CONFIG &&
		    bn_kv_get_i64(&rec.config, "train.step", &step) == 0) {
			rn->step[ck] = (double)step;
			got_step = 1;
		}
		if (rec.kind == BNT_KIND_TENSOR && has_codes(&rec.tensor))
			stab_update(rn, o, ck, name, &rec.tensor, rec.data);
	}
	if (st != BN_END)
		bn_errx(bn_exit_code(st), "%s: %s", name,
		    bnt_reader_error(r));
	bnt_reader_close(r);
	if (fp != stdin)
		fclose(fp);
	if (!got_step)
		rn->have_steps = 0;
	if (ck == 0 && rn->nt == 0)
		bn_errx(EX_DATAERR, "%s: no ternary or binary weights (packed, "
		    "or float projections)", name);
	for (i = 0; i < rn->nt; i++)
		if (rn->t[i].seen != ck)
			bn_errx(EX_DATAERR, "%s: tensor '%s' is missing", name,
			    rn->t[i].name);
	if (o->verbose)
		fprintf(stderr, "%s: checkpoint %d: %s, %zu tensors\n",
		    bn_progname, ck, name, rn->nt);
}

static const char *const stab_cols[] = {
	"name", "n", "flip_rate", "stability", "soft", "hard",
	"m_nn", "m_nz", "m_np", "m_zn", "m_zz", "m_zp", "m_pn", "m_pz", "m_pp",
	"scale_drift", "stability_first_last", "flips_per_1k", "osc_per_1k",
	"osc_ema", "osc_share", "never_flipped"
};
#define NSTAB (sizeof stab_cols / sizeof stab_cols[0])

/* The values of one row (index 0 is the name, unused). */
static void
stab_values(const struct run *rn, const struct stab *st, double steps,
    double *v)
{
	double pairs = (double)(rn->k - 1), n = (double)st->n, tot = 0;
	uint64_t fl = 0, os = 0, nev = 0, same = 0, any = 0, i;
	double fsum = 0;
	int a, b;

	for (i = 0; i < st->n; i++) {
		fl += st->flips[i];
		os += st->osc[i];
		nev += st->flips[i] == 0;
		any += st->osc[i] > 0;
		same += st->first[i] == st->prev[i];
		fsum += st->f[i];
	}
	v[1] = n;
	tot = n * pairs;
	v[2] = tot > 0 ? (double)fl / tot : 0;
	v[3] = 1 - v[2];
	v[4] = tot > 0 ? (double)(st->m[0][1] + st->m[1][0] + st->m[1][2] +
	    st->m[2][1]) / tot : 0;
	v[5] = tot > 0 ? (double)(st->m[0][2] + st->m[2][0]) / tot : 0;
	for (a = 0; a < 3; a++)
		for (b = 0; b < 3; b++)
			v[6 + 3 * a + b] = tot > 0 ? (double)st->m[a][b] / tot :
			    0;
	v[15] = st->delta0 != 0 ? st->delta / st->delta0 : NAN;
	v[16] = n > 0 ? (double)same / n : 1;
	if (rn->k >= 3 && n > 0) {
		v[17] = (double)fl / n / steps * 1000;
		v[18] = (double)os / n / steps * 1000;
		v[19] = fsum / n;
		v[20] = (double)any / n;
		v[21] = (double)nev / n;
	} else
		v[17] = v[18] = v[19] = v[20] = v[21] = NAN;
}

static void
put_row(struct table *t, const char *name, const double *v, int k)
{
	size_t i;

	put_s(t, name);
	put_i(t, (long long)v[1]);
	for (i = 2; i < NSTAB; i++)
		if (isnan(v[i]) || (i >= 17 && k < 3))
			put_none(t);
		else
			put_f(t, v[i]);
}

/* log2 bins of flip counts: 0, 1, 2, 3-4, 5-8, ... */
static int
flip_bin(uint32_t c)
{
	int b = 0;

	if (c <= 2)
		return (int)c;
	for (c -= 1; c > 1; c >>= 1)
		b++;
	return b + 2;
}

static void
flip_bin_range(int b, long long *lo, long long *hi)
{
	if (b <= 2) {
		*lo = *hi = b;
		return;
	}
	*lo = (1LL << (b - 2)) + 1;
	*hi = 1LL << (b - 1);
}

#define FBINS 34

static void
stab_svg(const struct run *rn, const struct opts *o, double **vals,
    const uint64_t *fh)
{
	double y = 0, height, *soft, *hard, *x, *fr, cnt[FBINS], tot;
	char **names, buf[128], *bins[FBINS];
	struct bn_svg_axes a;
	struct bn_out out;
	struct bn_svg s;
	size_t i, nt = rn->nt, p;
	int nb = 0;

	names = xmalloc(nt, sizeof *names);
	soft = xmalloc(nt, sizeof *soft);
	hard = xmalloc(nt, sizeof *hard);
	x = xmalloc((size_t)rn->k, sizeof *x);
	fr = xmalloc((size_t)rn->k, sizeof *fr);
	for (i = 0; i < nt; i++) {
		short_name(rn->t[i].name, buf, sizeof buf);
		names[i] = xstrdup(buf);
		soft[i] = vals[i][4];
		hard[i] = vals[i][5];
	}
	for (i = 0; i < FBINS; i++)
		if (fh[i])
			nb = (int)i + 1;
	height = 3 * (PANEL_TOP + PANEL_H) + 2 * PANEL_CATBOT + PANEL_BOT + 20;
	bn_svg_begin(&s, svg_open(&out, o->svg), SVG_W, height,
	    "bnstat --stability: code flips across checkpoints");
	y = svg_cats(&s, y, "Flip rate per tensor (mean over consecutive "
	    "checkpoints)", "share of weights per interval", names, nt,
	    soft, "soft (+-1 <-> 0)", hard, "hard (-1 <-> +1)");
	/* flip curve: model flip rate per interval, at the later step */
	for (p = 0; p + 1 < (size_t)rn->k; p++) {
		uint64_t f = 0, n = 0;

		for (i = 0; i < nt; i++) {
			f += rn->t[i].pair[p];
			n += rn->t[i].n;
		}
		x[p] = rn->step[p + 1];
		fr[p] = n ? (double)f / (double)n : 0;
	}
	memset(&a, 0, sizeof a);
	a.x = 70;
	a.y = y + PANEL_TOP;
	a.w = SVG_W - 100;
	a.h = PANEL_H;
	a.xmin = rn->step[0];
	a.xmax = rn->step[rn->k - 1];
	if (!(a.xmax > a.xmin))
		a.xmax = a.xmin + 1;
	a.ymin = 0;
	a.ymax = max_of(fr, (size_t)rn->k - 1, 0) * 1.1;
	if (!(a.ymax > 0))
		a.ymax = 1;
	a.title = "Flip curve: model flip rate between consecutive "
	    "checkpoints";
	a.xlabel = rn->have_steps ? "training step (train.step of the later "
	    "checkpoint)" : "checkpoint number (no train.step: assumed "
	    "equally spaced)";
	a.ylabel = "flipped share of weights";
	bn_svg_axes(&s, &a);
	bn_svg_line(&s, &a, x, fr, (size_t)rn->k - 1, "#4477aa");
	y += PANEL_TOP + PANEL_H + PANEL_BOT;
	tot = 0;
	for (i = 0; i < FBINS; i++)
		tot += (double)fh[i];
	for (i = 0; i < (size_t)nb; i++) {
		long long lo, hi;

		cnt[i] = tot > 0 ? (double)fh[i] / tot : 0;
		flip_bin_range((int)i, &lo, &hi);
		if (lo == hi)
			snprintf(buf, sizeof buf, "%lld", lo);
		else
			snprintf(buf, sizeof buf, "%lld-%lld", lo, hi);
		bins[i] = xstrdup(buf);
	}
	y = svg_cats(&s, y, "Flips per weight over the run", "share of "
	    "weights", bins, (size_t)nb, cnt, NULL, NULL, NULL);
	bn_svg_text(&s, SVG_W / 2, y - 14, 11, "middle", "flips of a weight "
	    "between consecutive checkpoints, summed over the run");
	for (i = 0; i < (size_t)nb; i++)
		free(bins[i]);
	svg_close(&out, &s);
	for (i = 0; i < nt; i++)
		free(names[i]);
	free(names);
	free(soft);
	free(hard);
	free(x);
	free(fr);
}

static int
run_stability(struct opts *o)
{
	static const char *const hcols[] = {
		"name", "bin_lo", "bin_hi", "count"
	};
	struct run rn;
	struct table t = { stab_cols, NSTAB, 0, 0, NULL, 0 };
	double **vals, all[NSTAB], mean[NSTAB], steps, wsum = 0;
	uint64_t fh[FBINS], *th;
	size_t i, j;
	int ck, rc = 0;
	long long lo, hi;

	memset(&rn, 0, sizeof rn);
	rn.k = o->nfiles;
	rn.have_steps = 1;
	rn.step = calloc((size_t)rn.k, sizeof *rn.step);
	if (rn.step == NULL)
		bn_errx(EX_OSERR, "out of memory");
	for (ck = 0; ck < rn.k; ck++)
		stab_file(&rn, o, ck, o->files[ck]);
	for (ck = 1; ck < rn.k && rn.have_steps; ck++)
		if (!(rn.step[ck] > rn.step[ck - 1]))
			rn.have_steps = 0;
	if (!rn.have_steps) {
		if (rn.k >= 3)
			bn_warnx("warning: no increasing train.step in the "
			    "checkpoints; assuming equally spaced checkpoints, "
			    "one step apart");
		for (ck = 0; ck < rn.k; ck++)
			rn.step[ck] = ck;
	}
	steps = rn.step[rn.k - 1] - rn.step[0];
	vals = xmalloc(rn.nt, sizeof *vals);
	memset(all, 0, sizeof all);
	memset(mean, 0, sizeof mean);
	memset(fh, 0, sizeof fh);
	for (i = 0; i < rn.nt; i++) {
		vals[i] = xmalloc(NSTAB, sizeof(double));
		stab_values(&rn, &rn.t[i], steps, vals[i]);
		wsum += (double)rn.t[i].n;
		for (j = 1; j < NSTAB; j++) {
			all[j] += vals[i][j] * (j == 1 ? 1 : (double)rn.t[i].n);
			mean[j] += vals[i][j] / (double)rn.nt;
		}
	}
	for (j = 2; j < NSTAB; j++)
		all[j] = wsum > 0 ? all[j] / wsum : 0;
	mean[1] = all[1];
	if (!o->hist) {
		for (i = 0; i < rn.nt; i++)
			put_row(&t, rn.t[i].name, vals[i], rn.k);
		put_row(&t, "(all)", all, rn.k);
		put_row(&t, "(mean)", mean, rn.k);
		table_print(&t, o->fmt);
	}
	t.cols = hcols;
	t.ncol = 4;
	th = xmalloc(FBINS, sizeof *th);
	for (i = 0; i < rn.nt; i++) {
		memset(th, 0, FBINS * sizeof *th);
		for (j = 0; j < rn.t[i].n; j++)
			th[flip_bin(rn.t[i].flips[j])]++;
		for (j = 0; j < FBINS; j++) {
			fh[j] += th[j];
			if (!o->hist || th[j] == 0)
				continue;
			flip_bin_range((int)j, &lo, &hi);
			put_s(&t, rn.t[i].name);
			put_i(&t, lo);
			put_i(&t, hi);
			put_i(&t, (long long)th[j]);
		}
	}
	if (o->hist) {
		for (j = 0; j < FBINS; j++)
			if (fh[j]) {
				flip_bin_range((int)j, &lo, &hi);
				put_s(&t, "(all)");
				put_i(&t, lo);
				put_i(&t, hi);
				put_i(&t, (long long)fh[j]);
			}
		table_print(&t, o->fmt);
	}
	bn_close_stdout();
	if (o->svg != NULL)
		stab_svg(&rn, o, vals, fh);
	if (o->has_min_stab)
		for (i = 0; i < rn.nt; i++)
			if (vals[i][3] < o->min_stab) {
				bn_warnx("%s: stability %.6g below %.6g",
				    rn.t[i].name, vals[i][3], o->min_stab);
				rc = 1;
			}
	for (i = 0; i < rn.nt; i++) {
		struct stab *st = &rn.t[i];

		free(vals[i]);
		free(st->name);
		free(st->prev);
		free(st->first);
		free(st->dir);
		free(st->flips);
		free(st->osc);
		free(st->f);
		free(st->pair);
	}
	free(th);
	free(vals);
	free(rn.t);
	free(rn.step);
	return rc;
}

/* ---- activation bit-error rates ---- */

#define ABINS 40		/* per-token absmax: [2^(k-20), 2^(k-19)) */
#define AOFF 20

struct site {
	char name[48];
	int layer, kind;
	size_t dim;
	float *buf;		/* the student's activations, [T][dim] */
	size_t T;
	double n, sign, code, bits, dot, ss, rr, dd, amax_sum;
	uint64_t tokens, ah[ABINS];
};

struct ber {
	struct site *s;
	size_t ns, batch, maxd;
	int8_t *qs, *qr;
	int capture;		/* 1: student pass, 0: reference pass */
	int bad;
	char err[160];
};

static const char *const site_names[] = {
	"embed", "out", "final", "qkv_in", "o_in", "up_in", "down_in"
};

static size_t
site_index(int nlayers, int layer, int kind)
{
	static const int order[] = { 0, 4, 0, 0, 1, 2, 3 };

	if (kind == BN_SITE_EMBED)
		return 0;
	if (kind == BN_SITE_FINAL)
		return 1 + 5 * (size_t)nlayers;
	return 1 + 5 * (size_t)layer + (size_t)order[kind];
}

static void
ber_hook(void *ctx, int layer, int kind, const float *x, size_t T,
    size_t dim)
{
	struct ber *b = ctx;
	size_t nl = (b->ns - 2) / 5, i, t;
	struct site *s = &b->s[site_index((int)nl, layer, kind)];

	if (b->bad)
		return;
	if (b->capture) {
		if (s->buf == NULL) {
			s->dim = dim;
			s->layer = layer;
			s->kind = kind;
			if (kind == BN_SITE_EMBED || kind == BN_SITE_FINAL)
				snprintf(s->name, sizeof s->name, "%s",
				    site_names[kind]);
			else
				snprintf(s->name, sizeof s->name, "blk.%d.%s",
				    layer, site_names[kind]);
			s->buf = xmalloc(b->batch * dim, sizeof(float));
		}
		memcpy(s->buf, x, T * dim * sizeof(float));
		s->T = T;
		return;
	}
	if (s->buf == NULL || s->dim != dim || s->T != T) {
		snprintf(b->err, sizeof b->err, "site %s: the reference's "
		    "activations have another shape", s->buf ? s->name :
		    site_names[kind]);
		b->bad = 1;
		return;
	}
	for (t = 0; t < T; t++) {
		const float *a = s->buf + t * dim, *r = x + t * dim;
		double m = 0;
		int k;

		bn_k->quant_i8(a, b->qs, dim);
		bn_k->quant_i8(r, b->qr, dim);
		for (i = 0; i < dim; i++) {
			double d = (double)a[i] - r[i];

			s->sign += (a[i] >= 0) != (r[i] >= 0);
			s->code += b->qs[i] != b->qr[i];
			s->bits += __builtin_popcount((unsigned)(uint8_t)
			    (b->qs[i] ^ b->qr[i]));
			s->dot += (double)a[i] * r[i];
			s->ss += (double)a[i] * a[i];
			s->rr += (double)r[i] * r[i];
			s->dd += d * d;
			if (fabsf(a[i]) > m)
				m = fabsf(a[i]);
		}
		s->n += (double)dim;
		s->amax_sum += m;
		s->tokens++;
		k = m > 0 ? (int)floor(log2(m)) + AOFF : 0;
		k = k < 0 ? 0 : k >= ABINS ? ABINS - 1 : k;
		s->ah[k]++;
	}
}

static const char *const ber_cols[] = {
	"site", "layer", "dim", "n", "ber_sign", "cer_int8", "ber_bit",
	"cosine", "rel_mse", "sqnr_db", "absmax_mean"
};

static void
ber_values(const struct site *s, double *v)
{
	v[0] = s->n ? s->sign / s->n : 0;
	v[1] = s->n ? s->code / s->n : 0;
	v[2] = s->n ? s->bits / (8 * s->n) : 0;
	v[3] = s->ss > 0 && s->rr > 0 ? s->dot / sqrt(s->ss * s->rr) :
	    s->ss == s->rr ? 1 : 0;
	v[4] = s->rr > 0 ? s->dd / s->rr : s->dd > 0 ? INFINITY : 0;
	v[5] = s->dd > 0 ? 10 * log10(s->rr / s->dd) : INFINITY;
	v[6] = s->tokens ? s->amax_sum / (double)s->tokens : 0;
}

static void
ber_svg(const struct ber *b, const struct opts *o)
{
	double y = 0, height, *v1, *v2, *cs, cnt[ABINS], v[7], tot = 0;
	double lo[ABINS], hi[ABINS];
	struct bn_svg_axes a = { 70, 0, SVG_W - 100, PANEL_H, AOFF - 0.0,
	    0, 0, 1, NULL, NULL, NULL, 0 };
	char **names;
	struct bn_out out;
	struct bn_svg s;
	size_t i, k, n = b->ns;
	int klo = ABINS, khi = 0;

	names = xmalloc(n, sizeof *names);
	v1 = xmalloc(n, sizeof *v1);
	v2 = xmalloc(n, sizeof *v2);
	cs = xmalloc(n, sizeof *cs);
	memset(cnt, 0, sizeof cnt);
	for (i = 0; i < n; i++) {
		names[i] = b->s[i].name;
		ber_values(&b->s[i], v);
		v1[i] = v[0];
		v2[i] = v[1];
		cs[i] = v[3];
		for (k = 0; k < ABINS; k++)
			cnt[k] += (double)b->s[i].ah[k];
	}
	for (k = 0; k < ABINS; k++)
		if (cnt[k] > 0) {
			klo = (int)k < klo ? (int)k : klo;
			khi = (int)k > khi ? (int)k : khi;
			tot += cnt[k];
		}
	if (klo > khi)
		klo = khi = AOFF;
	height = 2 * (PANEL_TOP + PANEL_H + PANEL_CATBOT) + PANEL_TOP +
	    PANEL_H + PANEL_BOT + 20;
	bn_svg_begin(&s, svg_open(&out, o->svg), SVG_W, height,
	    "bnstat --ber: activation errors against the float reference");
	y = svg_cats(&s, y, "Bit-error rates per site (student against "
	    "reference)", "error rate (share of elements)", names, n, v1,
	    "sign BER", v2, "int8 code error rate");
	y = svg_cats(&s, y, "Cosine similarity per site", "cosine similarity",
	    names, n, cs, NULL, NULL, NULL);
	a.y = y + PANEL_TOP;
	a.xmin = klo - AOFF;
	a.xmax = khi - AOFF + 1;
	a.title = "Per-token absmax of the student's activations, all sites";
	a.xlabel = "log2 of the per-token absmax";
	a.ylabel = "share of token rows";
	for (k = 0; k < ABINS; k++) {
		cnt[k] = tot > 0 ? cnt[k] / tot : 0;
		lo[k] = (double)k - AOFF;
		hi[k] = (double)k - AOFF + 1;
	}
	a.ymax = max_of(cnt, ABINS, 0) * 1.1;
	if (!(a.ymax > 0))
		a.ymax = 1;
	bn_svg_axes(&s, &a);
	bn_svg_bars(&s, &a, lo + klo, hi + klo, cnt + klo,
	    (size_t)(khi - klo + 1), "#4477aa");
	svg_close(&out, &s);
	free(names);
	free(v1);
	free(v2);
	free(cs);
}

static int
run_ber(struct opts *o)
{
	static const char *const hcols[] = {
		"site", "bin_lo", "bin_hi", "count"
	};
	const char *path = o->files[0], *rpath = o->ref ? o->ref : path;
	struct table t = { ber_cols, sizeof ber_cols / sizeof ber_cols[0], 0,
	    0, NULL, 0 };
	struct bn_model m, r;
	struct bn_state *sm = NULL, *sr = NULL;
	struct bn_tokenizer *tk = NULL;
	struct bn_err e = { "" };
	struct ber b;
	struct site all;
	int32_t *ids;
	size_t len, nids, pos, w, i, k;
	double v[7];
	char *text;
	int st, ctx, rc = 0;

	if ((st = bn_model_open_flags(&m, path, o->noquant ? BN_MODEL_NOQUANT :
	    0, &e)) != BN_OK)
		bn_errx(bn_exit_code(st), "%s: %s", path, e.msg);
	if ((st = bn_model_open_flags(&r, rpath, BN_MODEL_NOQUANT, &e)) !=
	    BN_OK)
		bn_errx(bn_exit_code(st), "%s: %s", rpath, e.msg);
	if (m.c.layers != r.c.layers || m.c.hidden != r.c.hidden ||
	    m.c.vocab != r.c.vocab)
		bn_errx(EX_DATAERR, "%s: the reference's layers, width or "
		    "vocabulary differ from '%s'", rpath, path);
	if (!m.map.has_vocab && !r.map.has_vocab)
		bn_errx(EX_DATAERR, "%s: no tokenizer record", path);
	if ((st = bn_tokenizer_new(&tk, m.map.has_vocab ? &m.map.vocab :
	    &r.map.vocab, &e)) != BN_OK)
		bn_errx(bn_exit_code(st), "%s: %s", path, e.msg);
	text = bn_slurp(o->data, &len);
	if ((st = bn_tokenizer_encode(tk, text, len, &ids, &nids, &e)) !=
	    BN_OK)
		bn_errx(bn_exit_code(st), "%s: %s", bn_display_name(o->data),
		    e.msg);
	free(text);
	if (nids == 0)
		bn_errx(EX_DATAERR, "%s: no tokens", bn_display_name(o->data));
	if (nids > o->tokens)
		nids = o->tokens;
	ctx = m.c.ctx < r.c.ctx ? m.c.ctx : r.c.ctx;
	if (ctx <= 0 || ctx > 256)
		ctx = 256;
	if ((size_t)ctx > nids)
		ctx = (int)nids;
	if (o->threads == 0)
		o->threads = bn_pool_default_threads();
	if ((st = bn_state_new(&sm, &m, ctx, ctx, o->threads, &e)) != BN_OK ||
	    (st = bn_state_new(&sr, &r, ctx, ctx, o->threads, &e)) != BN_OK)
		bn_errx(bn_exit_code(st), "%s", e.msg);
	memset(&b, 0, sizeof b);
	b.ns = 2 + 5 * (size_t)m.c.layers;
	b.batch = (size_t)ctx;
	b.maxd = (size_t)m.c.hidden;
	if ((size_t)m.c.ffn > b.maxd)
		b.maxd = (size_t)m.c.ffn;
	if ((size_t)m.c.heads * (size_t)m.c.head_dim > b.maxd)
		b.maxd = (size_t)m.c.heads * (size_t)m.c.head_dim;
	if ((size_t)r.c.ffn > b.maxd)
		b.maxd = (size_t)r.c.ffn;
	if ((size_t)r.c.heads * (size_t)r.c.head_dim > b.maxd)
		b.maxd = (size_t)r.c.heads * (size_t)r.c.head_dim;
	if ((b.s = calloc(b.ns, sizeof *b.s)) == NULL)
		bn_errx(EX_OSERR, "out of memory");
	b.qs = xmalloc(b.maxd, 1);
	b.qr = xmalloc(b.maxd, 1);
	bn_state_set_hook(sm, ber_hook, &b);
	bn_state_set_hook(sr, ber_hook, &b);
	for (pos = 0; pos < nids; pos += w) {
		w = nids - pos < (size_t)ctx ? nids - pos : (size_t)ctx;
		bn_state_reset(sm);
		bn_state_reset(sr);
		b.capture = 1;
		if (bn_forward(&m, sm, ids + pos, (int)w, NULL, 0) != BN_OK)
			bn_errx(EX_DATAERR, "%s: a token id is out of range",
			    path);
		b.capture = 0;
		if (bn_forward(&r, sr, ids + pos, (int)w, NULL, 0) != BN_OK)
			bn_errx(EX_DATAERR, "%s: a token id is out of range",
			    rpath);
		if (b.bad)
			bn_errx(EX_DATAERR, "%s: %s", rpath, b.err);
		if (o->verbose)
			fprintf(stderr, "%s: %zu of %zu tokens\n", bn_progname,
			    pos + w, nids);
	}
	memset(&all, 0, sizeof all);
	snprintf(all.name, sizeof all.name, "(all)");
	for (i = 0; i < b.ns; i++) {
		struct site *s = &b.s[i];

		all.n += s->n;
		all.sign += s->sign;
		all.code += s->code;
		all.bits += s->bits;
		all.dot += s->dot;
		all.ss += s->ss;
		all.rr += s->rr;
		all.dd += s->dd;
		all.amax_sum += s->amax_sum;
		all.tokens += s->tokens;
		for (k = 0; k < ABINS; k++)
			all.ah[k] += s->ah[k];
	}
	if (o->hist) {
		t.cols = hcols;
		t.ncol = 4;
	}
	for (i = 0; i <= b.ns; i++) {
		struct site *s = i < b.ns ? &b.s[i] : &all;

		if (o->hist) {
			for (k = 0; k < ABINS; k++)
				if (s->ah[k]) {
					put_s(&t, s->name);
					put_f(&t, k == 0 ? 0 :
					    ldexp(1, (int)k - AOFF));
					put_f(&t, k == ABINS - 1 ? INFINITY :
					    ldexp(1, (int)k - AOFF + 1));
					put_i(&t, (long long)s->ah[k]);
				}
			continue;
		}
		ber_values(s, v);
		put_s(&t, s->name);
		if (i < b.ns && s->kind != BN_SITE_EMBED &&
		    s->kind != BN_SITE_FINAL)
			put_i(&t, s->layer);
		else
			put_none(&t);
		if (i < b.ns)
			put_i(&t, (long long)s->dim);
		else
			put_none(&t);
		put_i(&t, (long long)s->n);
		for (k = 0; k < 7; k++)
			put_f(&t, v[k]);
	}
	table_print(&t, o->fmt);
	bn_close_stdout();
	if (o->svg != NULL)
		ber_svg(&b, o);
	if (o->has_max_ber)
		for (i = 0; i < b.ns; i++) {
			ber_values(&b.s[i], v);
			if (v[0] > o->max_ber) {
				bn_warnx("%s: sign BER %.6g above %.6g",
				    b.s[i].name, v[0], o->max_ber);
				rc = 1;
			}
		}
	for (i = 0; i < b.ns; i++)
		free(b.s[i].buf);
	free(b.s);
	free(b.qs);
	free(b.qr);
	free(ids);
	bn_state_free(sm);
	bn_state_free(sr);
	bn_tokenizer_free(tk);
	bn_model_close(&m);
	bn_model_close(&r);
	return rc;
}

int
main(int argc, char *argv[])
{
	struct opts o = { .binary = -1, .momentum = 0.01, .tokens = 256 };

	bn_setprogname(argv[0]);
	parse_args(argc, argv, &o);
	if (bn_kernels_init(NULL) != 0)
		bn_errx(EX_UNAVAILABLE, "BN_KERNEL=%s: not available on this "
		    "CPU", getenv("BN_KERNEL"));
	switch (o.mode) {
	case MODE_STABILITY: return run_stability(&o);
	case MODE_BER: return run_ber(&o);
	default: return run_report(&o);
	}
}
