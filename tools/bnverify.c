/* bnverify: prove a bnt(5) stream sound: structure, checksums,
 * invariants, the tensors its architecture needs, and optionally its
 * agreement with a reference stream; also a checking pass-through. */
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <unistd.h>

#include "bnt.h"
#include "check.h"
#include "compare.h"
#include "dtype.h"
#include "import.h"
#include "json.h"
#include "kernels.h"
#include "kpick.h"
#include "model.h"
#include "err.h"
#include "parse.h"
#include "version.h"
#include "xio.h"

enum { OPT_AGAINST = 256, OPT_ALLOW_NONFINITE, OPT_FORCE, OPT_JSON,
    OPT_MODEL, OPT_REFERENCE, OPT_TOL };

struct opts {
	const char *against;
	const char *model;	/* --model */
	const char *reference;	/* --reference */
	const char *output;
	double tol;		/* < 0: report only */
	int allow_nonfinite;
	int force;
	int json;
	int pass;		/* -p */
	int quiet;
	int verbose;
};

static const char shortopts[] = "hn:o:pqvV";
static const struct option longopts[] = {
	{ "against",	required_argument,	NULL,	OPT_AGAINST },
	{ "allow-nonfinite", no_argument,	NULL,	OPT_ALLOW_NONFINITE },
	{ "force",	no_argument,		NULL,	OPT_FORCE },
	{ "help",	no_argument,		NULL,	'h' },
	{ "json",	no_argument,		NULL,	OPT_JSON },
	{ "model",	required_argument,	NULL,	OPT_MODEL },
	{ "output",	required_argument,	NULL,	'o' },
	{ "pass",	no_argument,		NULL,	'p' },
	{ "quiet",	no_argument,		NULL,	'q' },
	{ "reference",	required_argument,	NULL,	OPT_REFERENCE },
	{ "tol",	required_argument,	NULL,	OPT_TOL },
	{ "verbose",	no_argument,		NULL,	'v' },
	{ "version",	no_argument,		NULL,	'V' },
	{ NULL,		0,			NULL,	0 }
};

static _Noreturn void
usage(FILE *fp, int status)
{
	fprintf(fp, "usage: %s [-pqv] [--allow-nonfinite] [--against ref] "
	    "[--force] [--json] [-o file] [--tol x] [file ...]\n"
	    "       %s --model model --reference ref.safetensors [-qv] "
	    "[--tol x]\n", bn_progname, bn_progname);
	if (fp == stdout)
		fputs("Check bnt(5) streams; exit 0 if valid, 1 if not.\n"
		    "  -o, --output FILE    with -p, write the stream to FILE\n"
		    "  -p, --pass           copy the stream to standard output "
		    "while checking it\n"
		    "  -q, --quiet          print nothing; the exit status "
		    "tells\n"
		    "  -v, --verbose        one line per record\n"
		    "      --against REF    compare every tensor with REF\n"
		    "      --allow-nonfinite  accept NaN and infinity in "
		    "float tensors\n"
		    "      --force          with -p, binary to or from a "
		    "terminal\n"
		    "      --json           one JSON object per file\n"
		    "      --model MODEL    run MODEL on the inputs of "
		    "--reference\n"
		    "      --reference REF  a safetensors file of input_ids.K, "
		    "logits.K, hidden.K.L, greedy.K\n"
		    "      --tol X          largest allowed absolute difference "
		    "from REF (0: identical)\n"
		    "  -h, --help           show this help\n"
		    "  -V, --version        show the version\n", fp);
	exit(status);
}

static void
parse_args(int argc, char *argv[], struct opts *o, int *nfiles,
    char ***files)
{
	int ch;

	argv[0] = (char *)bn_progname;
	while ((ch = getopt_long(argc, argv, shortopts, longopts, NULL)) != -1)
		switch (ch) {
		case OPT_AGAINST:
			o->against = optarg;
			break;
		case OPT_ALLOW_NONFINITE:
			o->allow_nonfinite = 1;
			break;
		case OPT_FORCE:
			o->force = 1;
			break;
		case OPT_JSON:
			o->json = 1;
			break;
		case OPT_MODEL:
			o->model = optarg;
			break;
		case OPT_REFERENCE:
			o->reference = optarg;
			break;
		case OPT_TOL:
			if (bn_parse_f64(optarg, &o->tol) != 0 ||
			    !(o->tol >= 0) || isinf(o->tol)) {
				bn_warnx("--tol: invalid tolerance '%s'",
				    optarg);
				usage(stderr, EX_USAGE);
			}
			break;
		case 'h':
			usage(stdout, EXIT_SUCCESS);
		case 'o':
			o->output = optarg;
			break;
		case 'p':
			o->pass = 1;
			break;
		case 'q':
			o->quiet = 1;
			break;
		case 'v':
			o->verbose++;
			break;
		case 'V':
			bn_print_version(stdout);
			exit(EXIT_SUCCESS);
		default:
			usage(stderr, EX_USAGE);
		}
	*nfiles = argc - optind;
	*files = argv + optind;
	if (o->pass && *nfiles > 1) {
		bn_warnx("-p takes at most one input");
		usage(stderr, EX_USAGE);
	}
	if ((o->model == NULL) != (o->reference == NULL) ||
	    (o->model != NULL && (*nfiles > 0 || o->pass || o->against))) {
		bn_warnx("--model and --reference go together, without files, "
		    "-p or --against");
		usage(stderr, EX_USAGE);
	}
	if (o->output != NULL && !o->pass) {
		bn_warnx("-o needs -p");
		usage(stderr, EX_USAGE);
	}
}
static void
json_num(FILE *fp, double x)
{
	if (isfinite(x))
		fprintf(fp, "%.9g", x);
	else
		fputs("null", fp);
}

static void
print_report(const struct opts *o, const char *file,
    const struct bn_report *rep)
{
	size_t i;

	if (o->pass)
		return;		/* standard output carries the stream */
	if (o->json) {
		printf("{\"file\":");
		bn_json_fput_str(stdout, file);
		printf(",\"ok\":%s,\"records\":%llu,\"tensors\":%llu,"
		    "\"bytes\":%llu,\"problems\":[", rep->np ? "false" : "true",
		    rep->records, rep->tensors, rep->bytes);
		for (i = 0; i < rep->np; i++) {
			printf("%s{\"record\":", i ? "," : "");
			if (rep->p[i].record < 0)
				fputs("null,\"offset\":null", stdout);
			else
				printf("%lld,\"offset\":%llu", rep->p[i].record,
				    rep->p[i].offset);
			fputs(",\"tensor\":", stdout);
			if (rep->p[i].tensor)
				bn_json_fput_str(stdout, rep->p[i].tensor);
			else
				fputs("null", stdout);
			fputs(",\"message\":", stdout);
			bn_json_fput_str(stdout, rep->p[i].msg);
			fputc('}', stdout);
		}
		fputc(']', stdout);
		if (o->against != NULL) {
			fputs(",\"compare\":[", stdout);
			for (i = 0; i < rep->nc; i++) {
				printf("%s{\"tensor\":", i ? "," : "");
				bn_json_fput_str(stdout, rep->c[i].name);
				fputs(",\"max_abs\":", stdout);
				json_num(stdout, rep->c[i].max_abs);
				fputs(",\"rms\":", stdout);
				json_num(stdout, rep->c[i].rms);
				fputs(",\"cosine\":", stdout);
				json_num(stdout, rep->c[i].cosine);
				fputs(",\"code_agreement\":", stdout);
				json_num(stdout, rep->c[i].agree < 0 ? NAN :
				    rep->c[i].agree);
				printf(",\"ok\":%s}", rep->c[i].fail ?
				    "false" : "true");
			}
			fputc(']', stdout);
		}
		fputs("}\n", stdout);
		return;
	}
	if (o->against != NULL && !o->quiet) {
		for (i = 0; i < rep->nc; i++) {
			printf("%s: %s: max_abs %.9g rms %.9g cosine %.9g",
			    file, rep->c[i].name, rep->c[i].max_abs,
			    rep->c[i].rms, rep->c[i].cosine);
			if (rep->c[i].agree >= 0)
				printf(" codes %.6f", rep->c[i].agree);
			fputs(rep->c[i].fail ? " FAIL\n" : "\n", stdout);
		}
	}
	if (o->quiet)
		return;
	if (rep->np == 0)
		printf("%s: ok: %llu records, %llu tensors, %llu bytes\n",
		    file, rep->records, rep->tensors, rep->bytes);
	else
		printf("%s: FAILED: %zu problem%s\n", file, rep->np,
		    rep->np == 1 ? "" : "s");
}

static void
warn_problems(const struct opts *o, const char *file,
    const struct bn_report *rep)
{
	size_t i;

	if (o->quiet || o->json)
		return;
	for (i = 0; i < rep->np; i++) {
		const struct bn_problem *p = &rep->p[i];
		char where[96] = "";

		if (p->record >= 0)
			snprintf(where, sizeof where, "record %lld (offset "
			    "%llu): ", p->record, p->offset);
		if (p->tensor)
			bn_warnx("%s: %stensor '%s': %s", file, where,
			    p->tensor, p->msg);
		else
			bn_warnx("%s: %s%s", file, where, p->msg);
	}
}

/*
 * -p: a record that passed goes to the output, except an END record: it
 * is held back until what follows is known, the first record of another
 * stream that passed too, or the end of an input without a problem.  So
 * an output cut short by a failure never ends in an END record, and no
 * reader takes it for a whole stream.
 */
struct held {
	char *buf;	/* the END record as forwarded, its file header too */
	size_t len;	/* 0: none held */
};

static void
forward(struct bnt_reader *r, const struct bnt_record *rec,
    struct bn_out *out, struct held *h)
{
	FILE *mem;

	if (h->len > 0) {
		if (fwrite(h->buf, 1, h->len, out->fp) != h->len)
			bn_err(EX_IOERR, "%s", out->name);
		h->len = 0;
	}
	free(h->buf);
	h->buf = NULL;
	if (rec->kind != BNT_KIND_END) {
		if (bnt_reader_forward(r, out->fp) != BN_OK)
			bn_err(EX_IOERR, "%s", out->name);
		return;
	}
	if ((mem = open_memstream(&h->buf, &h->len)) == NULL ||
	    bnt_reader_forward(r, mem) != BN_OK || fclose(mem) != 0)
		bn_errx(EX_OSERR, "out of memory");
}

/* Check one input; returns the exit code for it. */
static int
verify(const struct opts *o, const char *path, struct bn_tset *ref,
    struct bn_out *out)
{
	const char *file = bn_display_name(path);
	struct bn_check chk;
	struct bnt_reader *r;
	struct bnt_record rec;
	struct held held = { NULL, 0 };
	size_t before;
	FILE *fp;
	int st, code, fatal = 0, forwarding = 1;

	if (strcmp(path, "-") == 0)
		fp = bn_open_in(path, 1, o->force);
	else if ((fp = fopen(path, "rb")) == NULL) {
		bn_warn("%s", path);
		return EX_NOINPUT;
	}
	if ((r = bnt_reader_open(fp, file)) == NULL)
		bn_errx(EX_OSERR, "out of memory");
	bnt_reader_all_streams(r);	/* every stream is checked */
	bn_check_init(&chk, ref, o->tol, o->allow_nonfinite);
	while ((st = bnt_read_next(r, &rec)) == BN_OK) {
		before = chk.rep.np;
		if (o->verbose && !o->json)
			fprintf(stderr, "%s: record %llu (offset %llu): "
			    "kind 0x%08x%s%s\n", bn_progname,
			    (unsigned long long)rec.index,
			    (unsigned long long)rec.offset,
			    (unsigned)rec.kind, rec.kind ==
			    BNT_KIND_TENSOR ? " tensor " : "",
			    rec.kind == BNT_KIND_TENSOR ? rec.tensor.name : "");
		if (bn_check_record(&chk, &rec) != BN_OK)
			bn_errx(EX_OSERR, "out of memory");
		if (out != NULL && forwarding) {
			if (chk.rep.np != before)
				forwarding = 0;	/* stop at the bad one */
			else
				forward(r, &rec, out, &held);
		}
	}
	if (st != BN_END && bn_exit_code(st) == EX_IOERR) {
		bn_warnx("%s: %s", file, bnt_reader_error(r));
		fatal = EX_IOERR;
	}
	if (bn_check_finish(&chk, st, bnt_reader_error(r)) != BN_OK)
		bn_errx(EX_OSERR, "out of memory");
	warn_problems(o, file, &chk.rep);
	print_report(o, file, &chk.rep);
	code = fatal ? fatal : chk.rep.np ? 1 : 0;
	/* the last END only once the whole input has passed */
	if (out != NULL && code == 0 && held.len > 0 &&
	    fwrite(held.buf, 1, held.len, out->fp) != held.len)
		bn_err(EX_IOERR, "%s", out->name);
	free(held.buf);
	bnt_reader_close(r);
	if (fp != stdin)
		fclose(fp);
	bn_check_free(&chk);
	return code;
}

/* --model: the model's numbers against a reference. */

/* The reference tensor called name, NULL if there is none. */
static const unsigned char *
ref_get(const struct bn_refset *r, const char *name, int dtype,
    const struct bnt_tensor **t)
{
	const unsigned char *data;
	struct bn_err e;

	if (bn_refset_get(r, name, dtype, t, &data, &e) != BN_OK)
		bn_errx(EX_DATAERR, "%s: %s", "reference", e.msg);
	return data;
}

static int
verify_model(const struct opts *o)
{
	struct bn_refset ref = { NULL, 0, 0 };
	struct bn_sink sink = { &ref, NULL, NULL, bn_refset_tensor };
	struct bn_err e = { "" };
	struct bn_model m;
	struct bn_state *s;
	struct bn_capture cap;
	const struct bnt_tensor *ti, *tl, *th, *tg;
	const unsigned char *ids, *lg, *hd, *gr;
	char name[64];
	double tol = o->tol >= 0 ? o->tol : 1e-3, worst = 0, d;
	size_t V, H, T, t, k, agree;
	int st, K, L, bad = 0, nrefs = 0;
	float *logits;

	bn_kernels_pick();
	if ((st = bn_import_path(o->reference, &sink, &e)) != BN_OK)
		bn_errx(bn_exit_code(st), "%s: %s", o->reference, e.msg);
	if ((st = bn_model_open(&m, o->model, &e)) != BN_OK)
		bn_errx(bn_exit_code(st), "%s: %s", o->model, e.msg);
	V = (size_t)m.c.vocab;
	H = (size_t)m.c.hidden;
	cap.layers = m.c.layers;
	cap.H = H;
	for (K = 0;; K++) {
		snprintf(name, sizeof name, "input_ids.%d", K);
		if ((ids = ref_get(&ref, name, BN_DTYPE_I32, &ti)) == NULL)
			break;
		nrefs++;
		T = (size_t)ti->nelem;
		snprintf(name, sizeof name, "logits.%d", K);
		if ((lg = ref_get(&ref, name, BN_DTYPE_F32, &tl)) == NULL ||
		    tl->nelem != T * V)
			bn_errx(EX_DATAERR, "%s: no %s of %zux%zu",
			    o->reference, name, T, V);
		if ((st = bn_state_new(&s, &m, (int)T + 64, (int)T, 1, &e)))
			bn_errx(bn_exit_code(st), "%s", e.msg);
		cap.T = T;
		cap.hidden = calloc(((size_t)m.c.layers + 1) * T * H,
		    sizeof(float));
		logits = malloc(T * V * sizeof *logits);
		if (cap.hidden == NULL || logits == NULL)
			bn_errx(EX_OSERR, "out of memory");
		bn_state_set_hook(s, bn_capture_hook, &cap);
		if (bn_forward(&m, s, (const int32_t *)ids, (int)T, logits, 1)
		    != BN_OK)
			bn_errx(EX_DATAERR, "%s: input_ids.%d: token out of "
			    "range", o->reference, K);
		bn_state_set_hook(s, NULL, NULL);
		d = bn_max_abs_diff(logits, (const float *)lg, T * V);
		for (agree = 0, t = 0; t < T; t++)
			agree += bn_argmax(logits + t * V, V) ==
			    bn_argmax((const float *)lg + t * V, V);
		if (d > worst || isnan(d))
			worst = d;
		if (!(d <= tol) || agree != T)
			bad = 1;
		if (!o->quiet)
			printf("%s: input_ids.%d: %zu tokens: logits max_abs "
			    "%.6g argmax %zu/%zu%s\n", o->reference, K, T, d,
			    agree, T, !(d <= tol) || agree != T ? " FAIL" :
			    "");
		for (L = 0; L <= m.c.layers && !o->quiet; L++) {
			snprintf(name, sizeof name, "hidden.%d.%d", K, L);
			if ((hd = ref_get(&ref, name, BN_DTYPE_F32, &th)) ==
			    NULL || th->nelem != T * H)
				continue;
			printf("%s: %s: max_abs %.6g\n", o->reference, name,
			    bn_max_abs_diff(cap.hidden + (size_t)L * T * H,
			    (const float *)hd, T * H));
		}
		snprintf(name, sizeof name, "greedy.%d", K);
		if ((gr = ref_get(&ref, name, BN_DTYPE_I32, &tg)) != NULL &&
		    tg->nelem > T) {
			const int32_t *g = (const int32_t *)gr;
			size_t n = (size_t)tg->nelem;
			int32_t next;

			bn_state_free(s);
			if ((st = bn_state_new(&s, &m, (int)n + 1, (int)T, 1,
			    &e)) != BN_OK)
				bn_errx(bn_exit_code(st), "%s", e.msg);
			bn_forward(&m, s, (const int32_t *)ids, (int)T, logits,
			    0);
			for (agree = 0, k = T; k < n; k++) {
				next = (int32_t)bn_argmax(logits, V);
				if (next != g[k])
					break;
				agree++;
				bn_forward(&m, s, &next, 1, logits, 0);
			}
			if (!o->quiet)
				printf("%s: greedy.%d: %zu/%zu tokens agree\n",
				    o->reference, K, agree, n - T);
		}
		bn_state_free(s);
		free(cap.hidden);
		free(logits);
	}
	if (nrefs == 0)
		bn_errx(EX_DATAERR, "%s: no input_ids.0", o->reference);
	if (!o->quiet)
		printf("%s: %s: worst logit difference %.6g (tolerance %g)\n",
		    o->model, bad ? "FAILED" : "ok", worst, tol);
	bn_model_close(&m);
	bn_refset_free(&ref);
	bn_close_stdout();
	return bad;
}

static void
load_reference(const char *path, struct bn_tset *ref)
{
	struct bn_err e;
	FILE *fp = bn_open_in(path, 1, 1);
	int st;

	if ((st = bn_load_reference(fp, bn_display_name(path), ref, &e)) !=
	    BN_OK)
		bn_errx(bn_exit_code(st), "%s", e.msg);
	if (fp != stdin)
		fclose(fp);
}

int
main(int argc, char *argv[])
{
	struct opts o = { .tol = -1 };
	struct bn_tset ref = { NULL, 0, 0 };
	struct bn_out out;
	char *stdin_only[] = { "-" };
	char **files;
	int nfiles, i, code, worst = 0;

	bn_setprogname(argv[0]);
	parse_args(argc, argv, &o, &nfiles, &files);
	if (o.model != NULL)
		return verify_model(&o);
	if (nfiles == 0) {
		files = stdin_only;
		nfiles = 1;
	}
	if (o.against != NULL)
		load_reference(o.against, &ref);
	if (o.pass) {
		for (i = 0; i < nfiles; i++)
			bn_note_input(files[i]);
		bn_out_open(&out, o.output, 1, o.force);
	}
	for (i = 0; i < nfiles; i++) {
		code = verify(&o, files[i], o.against ? &ref : NULL,
		    o.pass ? &out : NULL);
		if (code == EX_IOERR || (worst != EX_IOERR && code > worst))
			worst = code;
	}
	if (o.pass) {
		if (worst != 0)
			bn_out_abort(&out);
		else
			bn_out_close(&out);
	}
	bn_tset_free(&ref);
	bn_close_stdout();
	return worst;
}