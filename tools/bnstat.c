/* bnstat: statistics of bnt(5) models: per-tensor histograms, the
 * stability of ternary codes across checkpoints, and activation
 * bit-error rates of a quantized model against a float reference, as
 * text, CSV, JSON Lines or SVG.  The formulas are in bnstat(1). */
#include <getopt.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>

#include "ber.h"
#include "bnt.h"
#include "err.h"
#include "kernels.h"
#include "kpick.h"
#include "mem.h"
#include "model.h"
#include "parse.h"
#include "plot.h"
#include "stability.h"
#include "table.h"
#include "tokenizer.h"
#include "version.h"
#include "weights.h"
#include "xio.h"

enum {
	OPT_ALLOW_NONFINITE = 256, OPT_BER, OPT_CSV, OPT_DATA, OPT_FORCE,
	OPT_HIST, OPT_JSON, OPT_MAX_BER,
	OPT_MIN_STAB, OPT_MOMENTUM, OPT_NO_QUANT, OPT_REF, OPT_STABILITY,
	OPT_SVG, OPT_TOKENS
};
enum { MODE_REPORT, MODE_STABILITY, MODE_BER };

struct opts {
	int mode, fmt, hist, noquant, verbose, threads, force;
	int nonfinite;		/* --allow-nonfinite */
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
	{ "allow-nonfinite",	no_argument,	NULL,	OPT_ALLOW_NONFINITE },
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
	    "[--tokens n] [--no-quant] [--max-ber x] [--allow-nonfinite] "
	    "[--csv | --json] [--hist] [--svg file] model\n", bn_progname,
	    bn_progname, bn_progname);
	if (fp == stdout)
		fputs("Statistics of bnt(5) models; see bnstat(1).\n"
		    "      --stability       code flips across checkpoints "
		    "(in training order)\n"
		    "      --ber             activation error rates against a "
		    "float reference\n"
		    "      --allow-nonfinite --ber: load NaN, infinity and "
		    "invalid scales\n"
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
		case OPT_ALLOW_NONFINITE: o->nonfinite = 1; break;
		case OPT_BER: o->mode = MODE_BER; break;
		case OPT_CSV: o->fmt = BN_TABLE_CSV; break;
		case OPT_DATA: o->data = optarg; break;
		case OPT_FORCE: o->force = 1; break;
		case OPT_HIST: o->hist = 1; break;
		case OPT_JSON: o->fmt = BN_TABLE_JSON; break;
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
	    o->has_max_ber || o->noquant || o->nonfinite)) {
		bn_warnx("--data, --ref, --no-quant, --max-ber and "
		    "--allow-nonfinite go with --ber");
		usage(stderr, EX_USAGE);
	}
	if (o->mode != MODE_STABILITY && o->has_min_stab) {
		bn_warnx("--min-stability goes with --stability");
		usage(stderr, EX_USAGE);
	}
}

static _Noreturn void
oom(void)
{
	bn_errx(EX_OSERR, "out of memory");
}

/* Exit for a library status: its detail after name. */
static _Noreturn void
die(int st, const char *name, const struct bn_err *e)
{
	if (st == BN_ENOMEM)
		oom();
	bn_errx(bn_exit_code(st), "%s: %s", name, e->msg);
}

static void
print_table(struct bn_table *t, int fmt)
{
	if (bn_table_write(t, stdout, fmt) != BN_OK)
		oom();
	bn_table_free(t);
}

static FILE *
svg_open(struct bn_out *out, const struct opts *o)
{
	bn_out_open(out, o->svg, 0, 1);
	return out->fp;
}

/* st: what the plot returned */
static void
svg_close(struct bn_out *out, int st)
{
	if (st == BN_ENOMEM) {
		bn_out_abort(out);
		oom();
	}
	if (st != BN_OK)
		bn_err(EX_IOERR, "%s", out->name);
	bn_out_close(out);
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

struct report {
	struct bn_table t, ht;	/* rows; histogram rows (--hist) */
	struct bn_wplot p;	/* what --svg draws */
	int binary;		/* how this file's float weights are coded */
};

/* One row; 0, or EX_DATAERR (said) for an invalid packed code. */
static int
report_tensor(struct report *rp, const struct opts *o, const char *file,
    const struct bnt_tensor *t, const unsigned char *data)
{
	struct bn_wstat w;
	struct bn_err e;
	int st;

	if ((st = bn_weight_stats(t, data, rp->binary, &w, &e)) == BN_ENOMEM)
		oom();
	if (st != BN_OK) {
		bn_warnx("%s: %s", file, e.msg);
		return EX_DATAERR;
	}
	if (w.m.nan)
		bn_warnx("%s: warning: tensor '%s' contains NaN", file,
		    t->name);
	bn_wstat_row(&rp->t, file, t, &w);
	if (w.latent && o->hist)
		bn_whist_rows(&rp->ht, file, t->name, w.hist);
	if (bn_wplot_add(&rp->p, t->name, &w) != BN_OK)
		oom();
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
		oom();
	bnt_reader_all_streams(r);	/* a table of tensors, not a model */
	rp->binary = quant_of(o, NULL);
	while ((st = bnt_read_next(r, &rec)) == BN_OK)
		if (rec.kind == BNT_KIND_CONFIG)
			rp->binary = quant_of(o, &rec.config);
		else if (rec.kind == BNT_KIND_TENSOR &&
		    strncmp(rec.tensor.name, "optim.", 6) != 0 &&
		    (rc = report_tensor(rp, o, name, &rec.tensor, rec.data)))
			break;
	if (st != BN_END && st != BN_OK)
		bn_warnx("%s: %s", name, bnt_reader_error(r));
	bnt_reader_close(r);
	if (fp != stdin)
		fclose(fp);
	return rc ? rc : st == BN_END ? 0 : bn_exit_code(st);
}

static int
run_report(const struct opts *o)
{
	static char *stdin_only[] = { "-" };
	char **files = o->nfiles ? o->files : stdin_only;
	int n = o->nfiles ? o->nfiles : 1, i, rc = 0, st;
	struct report rp;
	struct bn_out out;

	memset(&rp, 0, sizeof rp);
	bn_table_init(&rp.t, bn_wstat_cols, BN_WSTAT_NCOL);
	bn_table_init(&rp.ht, bn_whist_cols, BN_WHIST_NCOL);
	for (i = 0; i < n; i++)
		if ((st = report_file(&rp, o, files[i])) > rc)
			rc = st;
	if (o->hist)
		print_table(&rp.ht, o->fmt);
	if (!o->hist && (rp.t.nrow > 0 || rc == 0))
		print_table(&rp.t, o->fmt);
	bn_table_free(&rp.t);
	rp.p.binary = rp.binary;
	if (o->svg != NULL)
		svg_close(&out, bn_plot_weights(svg_open(&out, o), &rp.p));
	bn_wplot_free(&rp.p);
	bn_close_stdout();
	return rc;
}

/* ---- stability across checkpoints ---- */

static void
stab_file(struct bn_stab *sb, const struct opts *o, int ck, const char *path)
{
	const char *name = bn_display_name(path);
	struct bnt_record rec;
	struct bnt_reader *r;
	struct bn_err e;
	int64_t step;
	FILE *fp;
	int st, got_step = 0, binary;

	fp = bn_open_in(path, 1, o->force);
	if ((r = bnt_reader_open(fp, name)) == NULL)
		oom();
	binary = quant_of(o, NULL);
	while ((st = bnt_read_next(r, &rec)) == BN_OK) {
		if (rec.kind == BNT_KIND_CONFIG) {
			binary = quant_of(o, &rec.config);
			if (bn_kv_get_i64(&rec.config, "train.step",
			    &step) == 0) {
				sb->step[ck] = (double)step;
				got_step = 1;
			}
		}
		if (rec.kind == BNT_KIND_TENSOR && bn_has_codes(&rec.tensor) &&
		    (st = bn_stab_add_tensor(sb, ck, &rec.tensor, rec.data,
		    binary, &e)) != BN_OK)
			die(st, name, &e);
	}
	if (st != BN_END)
		bn_errx(bn_exit_code(st), "%s: %s", name,
		    bnt_reader_error(r));
	bnt_reader_close(r);
	if (fp != stdin)
		fclose(fp);
	if (!got_step)
		sb->have_steps = 0;
	if ((st = bn_stab_check(sb, ck, &e)) != BN_OK)
		die(st, name, &e);
	if (o->verbose)
		fprintf(stderr, "%s: checkpoint %d: %s, %zu tensors\n",
		    bn_progname, ck, name, sb->nt);
}

/* fh: the model's flip-count histogram; with --hist, print it after
 * each tensor's. */
static void
stab_hist(const struct bn_stab *sb, const struct opts *o, uint64_t *fh)
{
	uint64_t th[BN_FLIP_BINS];
	struct bn_table t;
	size_t i, j;

	bn_table_init(&t, bn_flip_cols, 4);
	memset(fh, 0, BN_FLIP_BINS * sizeof *fh);
	for (i = 0; i < sb->nt; i++) {
		memset(th, 0, sizeof th);
		bn_stab_flip_hist(sb, i, th);
		for (j = 0; j < BN_FLIP_BINS; j++)
			fh[j] += th[j];
		if (o->hist)
			bn_flip_rows(&t, sb->t[i].name, th);
	}
	if (o->hist) {
		bn_flip_rows(&t, "(all)", fh);
		print_table(&t, o->fmt);
	}
	bn_table_free(&t);
}

static int
run_stability(struct opts *o)
{
	double *block, **vals, all[BN_STAB_NCOL], mean[BN_STAB_NCOL], steps;
	uint64_t fh[BN_FLIP_BINS];
	struct bn_table t;
	struct bn_stab sb;
	struct bn_out out;
	size_t i, nt;
	int ck, rc = 0;

	if (bn_stab_init(&sb, o->nfiles, o->momentum) != BN_OK)
		oom();
	for (ck = 0; ck < sb.k; ck++)
		stab_file(&sb, o, ck, o->files[ck]);
	steps = bn_stab_finish(&sb);
	if (!sb.have_steps && sb.k >= 3)
		bn_warnx("warning: no increasing train.step in the "
		    "checkpoints; assuming equally spaced checkpoints, one "
		    "step apart");
	nt = sb.nt;
	vals = bn_reallocarray(NULL, nt ? nt : 1, sizeof *vals);
	block = bn_reallocarray(NULL, nt ? nt : 1, BN_STAB_NCOL *
	    sizeof *block);
	if (vals == NULL || block == NULL)
		oom();
	for (i = 0; i < nt; i++) {
		vals[i] = block + i * BN_STAB_NCOL;
		bn_stab_values(&sb, i, steps, vals[i]);
	}
	bn_stab_totals(&sb, vals, all, mean);
	if (!o->hist) {
		bn_table_init(&t, bn_stab_cols, BN_STAB_NCOL);
		for (i = 0; i < nt; i++)
			bn_stab_row(&t, sb.t[i].name, vals[i], sb.k);
		bn_stab_row(&t, "(all)", all, sb.k);
		bn_stab_row(&t, "(mean)", mean, sb.k);
		print_table(&t, o->fmt);
	}
	stab_hist(&sb, o, fh);
	bn_close_stdout();
	if (o->svg != NULL)
		svg_close(&out, bn_plot_stability(svg_open(&out, o), &sb, vals,
		    fh));
	for (i = 0; o->has_min_stab && i < nt; i++)
		if (vals[i][BN_STAB_STABILITY] < o->min_stab) {
			bn_warnx("%s: stability %.6g below %.6g", sb.t[i].name,
			    vals[i][BN_STAB_STABILITY], o->min_stab);
			rc = 1;
		}
	free(block);
	free(vals);
	bn_stab_free(&sb);
	return rc;
}

/* ---- activation bit-error rates ---- */

/* Token ids of --data, at most --tokens. */
static int32_t *
data_tokens(const struct opts *o, const struct bn_model *m,
    const struct bn_model *r, size_t *nids)
{
	const char *path = o->files[0], *name = bn_display_name(o->data);
	struct bn_tokenizer *tk = NULL;
	struct bn_err e = { "" };
	int32_t *ids;
	size_t len;
	char *text;
	int st;

	if (!m->map.has_vocab && !r->map.has_vocab)
		bn_errx(EX_DATAERR, "%s: no tokenizer record", path);
	if ((st = bn_tokenizer_new(&tk, m->map.has_vocab ? &m->map.vocab :
	    &r->map.vocab, &e)) != BN_OK)
		bn_errx(bn_exit_code(st), "%s: %s", path, e.msg);
	text = bn_slurp(o->data, &len);
	if ((st = bn_tokenizer_encode(tk, text, len, &ids, nids, &e)) !=
	    BN_OK)
		bn_errx(bn_exit_code(st), "%s: %s", name, e.msg);
	free(text);
	bn_tokenizer_free(tk);
	if (*nids == 0)
		bn_errx(EX_DATAERR, "%s: no tokens", name);
	if (*nids > o->tokens)
		*nids = o->tokens;
	return ids;
}

static int
run_ber(struct opts *o)
{
	const char *path = o->files[0], *rpath = o->ref ? o->ref : path;
	struct bn_state *sm = NULL, *sr = NULL;
	struct bn_err e = { "" };
	struct bn_ber_site all;
	struct bn_model m, r;
	struct bn_table t;
	struct bn_out out;
	struct bn_ber b;
	double v[BN_BER_NCOL];
	size_t nids, pos, w, i;
	int32_t *ids;
	unsigned nf = o->nonfinite ? BN_MODEL_NONFINITE : 0;
	int st, ctx, which, rc = 0;

	if ((st = bn_model_open_flags(&m, path, (o->noquant ?
	    BN_MODEL_NOQUANT : 0) | nf, &e)) != BN_OK)
		bn_errx(bn_exit_code(st), "%s: %s", path, e.msg);
	if ((st = bn_model_open_flags(&r, rpath, BN_MODEL_NOQUANT | nf, &e)) !=
	    BN_OK)
		bn_errx(bn_exit_code(st), "%s: %s", rpath, e.msg);
	if (m.c.layers != r.c.layers || m.c.hidden != r.c.hidden ||
	    m.c.vocab != r.c.vocab)
		bn_errx(EX_DATAERR, "%s: the reference's layers, width or "
		    "vocabulary differ from '%s'", rpath, path);
	ids = data_tokens(o, &m, &r, &nids);
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
	if (bn_ber_init(&b, &m.c, &r.c, (size_t)ctx) != BN_OK)
		oom();
	for (pos = 0; pos < nids; pos += w) {
		w = nids - pos < (size_t)ctx ? nids - pos : (size_t)ctx;
		st = bn_ber_window(&b, &m, sm, &r, sr, ids + pos, (int)w,
		    &which);
		if (st == BN_EUSAGE)
			bn_errx(EX_DATAERR, "%s: a token id is out of range",
			    which ? rpath : path);
		if (st != BN_OK)
			die(st, rpath, &b.e);
		if (o->verbose)
			fprintf(stderr, "%s: %zu of %zu tokens\n", bn_progname,
			    pos + w, nids);
	}
	bn_ber_total(&b, &all);
	if (o->hist) {
		bn_table_init(&t, bn_ber_hcols, 4);
		bn_ber_hist_rows(&t, &b, &all);
	} else {
		bn_table_init(&t, bn_ber_cols, BN_BER_NCOL);
		bn_ber_rows(&t, &b, &all);
	}
	print_table(&t, o->fmt);
	bn_close_stdout();
	if (o->svg != NULL)
		svg_close(&out, bn_plot_ber(svg_open(&out, o), &b));
	for (i = 0; o->has_max_ber && i < b.ns; i++) {
		bn_ber_values(&b.s[i], v);
		if (v[BN_BER_SIGN] > o->max_ber) {
			bn_warnx("%s: sign BER %.6g above %.6g", b.s[i].name,
			    v[BN_BER_SIGN], o->max_ber);
			rc = 1;
		}
	}
	bn_ber_free(&b);
	free(ids);
	bn_state_free(sm);
	bn_state_free(sr);
	bn_model_close(&m);
	bn_model_close(&r);
	return rc;
}

int
main(int argc, char *argv[])
{
	struct opts o = { .binary = -1, .momentum = 0.01, .tokens = 256 };
	int i;

	bn_setprogname(argv[0]);
	parse_args(argc, argv, &o);
	if (o.svg != NULL) {	/* which the plot may not overwrite */
		for (i = 0; i < o.nfiles; i++)
			bn_note_input(o.files[i]);
		if (o.nfiles == 0)
			bn_note_input("-");
		if (o.ref != NULL)
			bn_note_input(o.ref);
		if (o.data != NULL)
			bn_note_input(o.data);
		bn_out_check(o.svg);	/* before the report, not after */
	}
	bn_kernels_pick();
	switch (o.mode) {
	case MODE_STABILITY: return run_stability(&o);
	case MODE_BER: return run_ber(&o);
	default: return run_report(&o);
	}
}
