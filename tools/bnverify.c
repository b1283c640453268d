/* bnverify: prove a bnt(5) stream sound: structure, checksums,
 * invariants, the tensors its architecture needs, and optionally its
 * agreement with a reference stream; also a checking pass-through. */
#include <getopt.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <unistd.h>

#include "bnt.h"
#include "import.h"
#include "kernels.h"
#include "model.h"
#include "quant.h"
#include "dtype.h"
#include "err.h"
#include "mem.h"
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

/* A tensor kept for comparison or for the architecture check. */
struct held {
	struct bnt_tensor t;
	char *name;
	float *val;		/* dequantized values, or NULL */
	int8_t *code;		/* packed codes, or NULL */
	int seen;		/* matched in the checked stream */
};

struct tset {
	struct held *v;
	size_t n;
};

struct problem {
	long long record;	/* -1: the stream as a whole */
	unsigned long long offset;
	char *tensor;
	char *msg;
};

struct cmp {
	char *name;
	double max_abs, rms, cosine, agree;	/* agree < 0: n/a */
	int fail;
};

struct report {
	const char *file;
	unsigned long long records, tensors, bytes;
	struct problem *p;
	size_t np;
	struct cmp *c;
	size_t nc;
	int fatal;		/* exit code for an I/O failure, else 0 */
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
add_problem(struct report *rep, long long rec, unsigned long long off,
    const char *tensor, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

static void
add_problem(struct report *rep, long long rec, unsigned long long off,
    const char *tensor, const char *fmt, ...)
{
	struct problem *p;
	char buf[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof buf, fmt, ap);
	va_end(ap);
	p = bn_reallocarray(rep->p, rep->np + 1, sizeof *p);
	if (p == NULL)
		bn_errx(EX_OSERR, "out of memory");
	rep->p = p;
	p += rep->np++;
	p->record = rec;
	p->offset = off;
	p->tensor = tensor != NULL ? strdup(tensor) : NULL;
	p->msg = strdup(buf);
	if (p->msg == NULL || (tensor != NULL && p->tensor == NULL))
		bn_errx(EX_OSERR, "out of memory");
}

/* Dequantized value of every element (scales applied), and the codes
 * of a packed tensor. Returns 0, or -1 on an invalid code. */
static int
dequantize(const struct bnt_tensor *t, const unsigned char *data,
    const unsigned char *scales, float *val, int8_t *code)
{
	uint64_t r, c, i;
	float s;

	for (r = 0; r < t->rows; r++) {
		if (bn_row_to_f32(t->dtype, data + r * t->row_bytes,
		    t->row_len, val + r * t->row_len) != 0)
			return -1;
		for (c = 0; c < t->row_len; c++) {
			i = r * t->row_len + c;
			if (code != NULL)
				code[i] = (int8_t)val[i];
			if (t->scale_kind == BNT_SCALE_NONE)
				continue;
			s = bnt_tensor_scale(t, scales,
			    bnt_scale_index(t, r, c));
			val[i] = t->scale_flags & BNT_SCALE_DIV ? val[i] / s :
			    val[i] * s;
		}
	}
	return 0;
}

/* Invariants of one tensor's payload. */
static void
check_tensor(struct report *rep, const struct opts *o,
    const struct bnt_record *rec)
{
	const struct bnt_tensor *t = &rec->tensor;
	const unsigned char *d = rec->data;
	long long ri = (long long)rec->index;
	unsigned long long off = rec->offset;
	uint64_t r, c, bad = 0, first = 0, nonfinite = 0, nf_first = 0;
	float *row;

	if (bn_dtype_traits(t->dtype)->is_packed) {
		for (r = 0; r < t->rows && bad == 0; r++) {
			const unsigned char *rp = d + r * t->row_bytes;
			uint64_t padded = t->row_len;

			for (c = 0; c < t->row_len; c++) {
				int v = t->dtype == BN_DTYPE_T2 ?
				    bn_t2_get(rp, c) : t->dtype ==
				    BN_DTYPE_T3 ? bn_t3_get(rp, c) : 0;
				if (v == 2 && bad++ == 0)
					first = r * t->row_len + c;
			}
			/* padding must encode zero (t2, t3) or be 0 (b1) */
			if (t->dtype == BN_DTYPE_T2)
				padded = t->row_bytes * 4;
			else if (t->dtype == BN_DTYPE_T3)
				padded = t->row_bytes * 5;
			for (c = t->row_len; c < padded; c++)
				if ((t->dtype == BN_DTYPE_T2 ?
				    bn_t2_get(rp, c) : bn_t3_get(rp, c)) != 0)
					add_problem(rep, ri, off, t->name,
					    "row %llu: nonzero padding",
					    (unsigned long long)r);
			if (t->dtype == BN_DTYPE_B1)
				for (c = t->row_len; c < t->row_bytes * 8; c++)
					if (rp[c / 8] >> (c % 8) & 1)
						add_problem(rep, ri, off,
						    t->name, "row %llu: "
						    "nonzero padding bit",
						    (unsigned long long)r);
			if (rep->np > 100)
				break;
		}
		if (bad)
			add_problem(rep, ri, off, t->name, "invalid ternary "
			    "code at element %llu (payload byte %llu)",
			    (unsigned long long)first,
			    (unsigned long long)(first / t->row_len *
			    t->row_bytes + (t->dtype == BN_DTYPE_T2 ?
			    (first % t->row_len) / 128 * 32 +
			    (first % t->row_len) % 32 :
			    (first % t->row_len) / 5)));
	} else if (bn_dtype_traits(t->dtype)->is_float &&
	    !o->allow_nonfinite) {
		if ((row = malloc(t->row_len ? t->row_len * 4 : 4)) == NULL)
			bn_errx(EX_OSERR, "out of memory");
		for (r = 0; r < t->rows; r++) {
			bn_row_to_f32(t->dtype, d + r * t->row_bytes,
			    t->row_len, row);
			for (c = 0; c < t->row_len; c++)
				if (!isfinite(row[c]) && nonfinite++ == 0)
					nf_first = r * t->row_len + c;
		}
		free(row);
		if (nonfinite)
			add_problem(rep, ri, off, t->name, "%llu non-finite "
			    "values, the first at element %llu",
			    (unsigned long long)nonfinite,
			    (unsigned long long)nf_first);
	}
	/* a multiplying scale may be 0 (an all-zero block); a divisor not */
	for (r = 0; r < t->nscales; r++) {
		float s = bnt_tensor_scale(t, d + t->scale_offset, r);

		if (!isfinite(s) || (s == 0 && (t->scale_flags &
		    BNT_SCALE_DIV))) {
			add_problem(rep, ri, off, t->name, "scale %llu is %g",
			    (unsigned long long)r, (double)s);
			break;
		}
	}
}

static const char *const u64_keys[] = { "vocab_size", "hidden_size",
    "n_layers", "n_heads", "n_kv_heads", "head_dim", "ffn_size", "ctx_len",
    "tie_embeddings", "bitlinear", "bos_id", "eos_id", "pad_id" };

static void
check_config(struct report *rep, const struct bnt_record *rec)
{
	const struct bn_kv *kv = &rec->config;
	const char *s;
	uint64_t u;
	double f;
	size_t i;

	for (i = 0; i < sizeof u64_keys / sizeof u64_keys[0]; i++)
		if (bn_kv_get_u64(kv, u64_keys[i], &u) < 0)
			add_problem(rep, (long long)rec->index, rec->offset,
			    NULL, "config: %s is not a count: '%s'",
			    u64_keys[i], bn_kv_get(kv, u64_keys[i]));
	if (bn_kv_get_f64(kv, BN_CFG_NORM_EPS, &f) < 0 ||
	    bn_kv_get_f64(kv, BN_CFG_ROPE_THETA, &f) < 0)
		add_problem(rep, (long long)rec->index, rec->offset, NULL,
		    "config: norm_eps or rope_theta is not a number");
	if ((s = bn_kv_get(kv, BN_CFG_ROPE_STYLE)) != NULL &&
	    strcmp(s, "half") != 0 && strcmp(s, "interleaved") != 0)
		add_problem(rep, (long long)rec->index, rec->offset, NULL,
		    "config: unknown rope_style '%s'", s);
	if ((s = bn_kv_get(kv, BN_CFG_ACT)) != NULL &&
	    strcmp(s, "silu") != 0 && strcmp(s, "relu2") != 0)
		add_problem(rep, (long long)rec->index, rec->offset, NULL,
		    "config: unknown act '%s'", s);
}

static void
check_vocab(struct report *rep, const struct bnt_record *rec)
{
	static const char *const ids[] = { BN_VOC_BOS, BN_VOC_EOS,
	    BN_VOC_UNK, BN_VOC_PAD };
	const struct bn_vocab *v = &rec->vocab;
	uint64_t id;
	uint32_t i;

	for (i = 0; i < 4; i++)
		if (bn_kv_get_u64(&v->kv, ids[i], &id) < 0 ||
		    (bn_kv_get_u64(&v->kv, ids[i], &id) == 0 &&
		    id >= v->n_tokens))
			add_problem(rep, (long long)rec->index, rec->offset,
			    NULL, "tokenizer: %s '%s' is not a token id",
			    ids[i], bn_kv_get(&v->kv, ids[i]));
	for (i = 0; v->types != NULL && i < v->n_tokens; i++)
		if (v->types[i] < 0 || v->types[i] > BN_TOK_BYTE) {
			add_problem(rep, (long long)rec->index, rec->offset,
			    NULL, "tokenizer: token %u has type %d",
			    (unsigned)i, (int)v->types[i]);
			break;
		}
}

static struct held *
tset_find(struct tset *ts, const char *name)
{
	size_t i;

	for (i = 0; i < ts->n; i++)
		if (strcmp(ts->v[i].name, name) == 0)
			return &ts->v[i];
	return NULL;
}

static struct held *
tset_add(struct tset *ts, const struct bnt_tensor *t)
{
	struct held *h = bn_reallocarray(ts->v, ts->n + 1, sizeof *h);

	if (h == NULL)
		bn_errx(EX_OSERR, "out of memory");
	ts->v = h;
	h += ts->n++;
	memset(h, 0, sizeof *h);
	h->t = *t;
	if ((h->name = strdup(t->name)) == NULL)
		bn_errx(EX_OSERR, "out of memory");
	h->t.name = h->name;
	return h;
}

static void
tset_free(struct tset *ts)
{
	size_t i;

	for (i = 0; i < ts->n; i++) {
		free(ts->v[i].name);
		free(ts->v[i].val);
		free(ts->v[i].code);
	}
	free(ts->v);
	ts->v = NULL;
	ts->n = 0;
}

/* Fill h->val (and h->code for packed types) from a record. */
static int
hold_values(struct held *h, const struct bnt_record *rec)
{
	const struct bnt_tensor *t = &rec->tensor;
	size_t n;

	if (t->nelem > SIZE_MAX / 4)
		return -1;
	n = (size_t)t->nelem;
	if ((h->val = malloc(n ? n * 4 : 4)) == NULL)
		bn_errx(EX_OSERR, "out of memory");
	if (bn_dtype_traits(t->dtype)->is_packed &&
	    (h->code = malloc(n ? n : 1)) == NULL)
		bn_errx(EX_OSERR, "out of memory");
	return dequantize(t, rec->data, t->scale_kind != BNT_SCALE_NONE ?
	    rec->data + t->scale_offset : NULL, h->val, h->code);
}

/* Re-quantize a float reference as bnquant does (the same functions):
 * ternary absmean over the tensor, or sign around the mean for binary;
 * the share of codes that agree. */
static double
code_agreement(const struct held *ref, const struct held *pk)
{
	uint64_t i, n = ref->t.nelem, same = 0;
	uint8_t *q;
	float s, a, b;
	int bin = pk->t.dtype == BN_DTYPE_B1;

	if (n == 0)
		return 1;
	if ((q = calloc(n / 4 + 32, 1)) == NULL)
		bn_errx(EX_OSERR, "out of memory");
	if (bin) {
		bn_binary_stats(ref->val, n, &a, &b);
		bn_binary_codes(ref->val, n, a, q, 0);
	} else {
		s = bn_ternary_scale(ref->val, n);
		bn_ternary_codes(ref->val, n, s, q, 0);
	}
	for (i = 0; i < n; i++)
		same += (bin ? bn_b1_get(q, i) : bn_t2_get(q, i)) ==
		    pk->code[i];
	free(q);
	return (double)same / (double)n;
}

static void
compare(struct report *rep, const struct opts *o, struct held *ref,
    const struct bnt_record *rec)
{
	struct held cur;
	struct cmp *c;
	double dot = 0, na = 0, nb = 0, se = 0, d, mx = 0;
	uint64_t i, n;
	unsigned k;
	int shape_ok = ref->t.ndim == rec->tensor.ndim;

	for (k = 0; shape_ok && k < ref->t.ndim; k++)
		shape_ok = ref->t.dims[k] == rec->tensor.dims[k];
	if (!shape_ok) {
		add_problem(rep, (long long)rec->index, rec->offset,
		    rec->tensor.name, "shape differs from the reference");
		return;
	}
	memset(&cur, 0, sizeof cur);
	cur.t = rec->tensor;
	if (hold_values(&cur, rec) != 0) {
		free(cur.val);
		free(cur.code);
		return;		/* the invariant check reports it */
	}
	n = rec->tensor.nelem;
	for (i = 0; i < n; i++) {
		double a = cur.val[i], b = ref->val[i];

		if (isnan(a) && isnan(b))
			continue;
		d = fabs(a - b);
		if (isnan(d) || d > mx)
			mx = isnan(d) ? INFINITY : d;
		se += d * d;
		dot += a * b;
		na += a * a;
		nb += b * b;
	}
	c = bn_reallocarray(rep->c, rep->nc + 1, sizeof *c);
	if (c == NULL || (c[rep->nc].name = strdup(rec->tensor.name)) == NULL)
		bn_errx(EX_OSERR, "out of memory");
	rep->c = c;
	c += rep->nc++;
	c->max_abs = mx;
	c->rms = n ? sqrt(se / (double)n) : 0;
	c->cosine = na > 0 && nb > 0 ? dot / sqrt(na * nb) :
	    (na == nb ? 1 : 0);
	c->agree = cur.code != NULL && ref->code == NULL &&
	    rec->tensor.dtype != BN_DTYPE_T3 ? code_agreement(ref, &cur) :
	    cur.code != NULL && ref->code != NULL ? -2 : -1;
	if (c->agree == -2) {	/* both packed: compare codes directly */
		uint64_t same = 0;

		for (i = 0; i < n; i++)
			same += cur.code[i] == ref->code[i];
		c->agree = n ? (double)same / (double)n : 1;
	}
	c->fail = o->tol >= 0 && !(mx <= o->tol);
	if (c->fail)
		add_problem(rep, (long long)rec->index, rec->offset,
		    rec->tensor.name, "differs from the reference by %g "
		    "(tolerance %g)", mx, o->tol);
	free(cur.val);
	free(cur.code);
}

static int
load_reference(const char *path, struct tset *ref)
{
	struct bnt_reader *r;
	struct bnt_record rec;
	struct held *h;
	FILE *fp;
	int st;

	fp = bn_open_in(path, 1, 1);
	if ((r = bnt_reader_open(fp, bn_display_name(path))) == NULL)
		bn_errx(EX_OSERR, "out of memory");
	while ((st = bnt_read_next(r, &rec)) == BN_OK) {
		if (rec.kind != BNT_KIND_TENSOR)
			continue;
		if (tset_find(ref, rec.tensor.name) != NULL)
			bn_errx(EX_DATAERR, "%s: duplicate tensor '%s'",
			    bn_display_name(path), rec.tensor.name);
		h = tset_add(ref, &rec.tensor);
		if (hold_values(h, &rec) != 0)
			bn_errx(EX_DATAERR, "%s: tensor '%s': invalid code",
			    bn_display_name(path), rec.tensor.name);
	}
	if (st != BN_END)
		bn_errx(bn_exit_code(st) == EX_IOERR ? EX_IOERR : EX_DATAERR,
		    "%s: %s", bn_display_name(path), bnt_reader_error(r));
	bnt_reader_close(r);
	if (fp != stdin)
		fclose(fp);
	return 0;
}

/* The tensors an architecture needs, with the shapes its config gives. */
static void
check_arch(struct report *rep, const struct bn_kv *cfg, struct tset *seen)
{
	uint64_t V, H, L, nh, nkv, hd, F, tied = 0, l;
	const char *arch = bn_kv_get(cfg, BN_CFG_ARCH);
	int bitnet;
	char name[64];
	struct need {
		const char *fmt;
		uint64_t d0, d1;	/* d1 == 0: one dimension */
	} per[11], *q;
	size_t np, i;

	if (arch == NULL || seen->n == 0)
		return;
	bitnet = strcmp(arch, "bitnet") == 0;
	if (!bitnet && strcmp(arch, "llama") != 0)
		return;
	if (bn_kv_get_u64(cfg, BN_CFG_VOCAB, &V) != 0 ||
	    bn_kv_get_u64(cfg, BN_CFG_HIDDEN, &H) != 0 ||
	    bn_kv_get_u64(cfg, BN_CFG_LAYERS, &L) != 0 ||
	    bn_kv_get_u64(cfg, BN_CFG_HEADS, &nh) != 0 ||
	    bn_kv_get_u64(cfg, BN_CFG_FFN, &F) != 0 || nh == 0) {
		add_problem(rep, -1, 0, NULL, "config: arch %s needs "
		    "vocab_size, hidden_size, n_layers, n_heads and ffn_size",
		    arch);
		return;
	}
	if (bn_kv_get_u64(cfg, BN_CFG_KV_HEADS, &nkv) != 0)
		nkv = nh;
	if (bn_kv_get_u64(cfg, BN_CFG_HEAD_DIM, &hd) != 0)
		hd = H / nh;
	bn_kv_get_u64(cfg, BN_CFG_TIED, &tied);
	if (L > 100000)
		L = 100000;
	np = 0;
	per[np++] = (struct need){ "blk.%llu.attn_norm.weight", H, 0 };
	per[np++] = (struct need){ "blk.%llu.attn_q.weight", nh * hd, H };
	per[np++] = (struct need){ "blk.%llu.attn_k.weight", nkv * hd, H };
	per[np++] = (struct need){ "blk.%llu.attn_v.weight", nkv * hd, H };
	per[np++] = (struct need){ "blk.%llu.attn_output.weight", H, nh * hd };
	per[np++] = (struct need){ "blk.%llu.ffn_norm.weight", H, 0 };
	per[np++] = (struct need){ "blk.%llu.ffn_gate.weight", F, H };
	per[np++] = (struct need){ "blk.%llu.ffn_up.weight", F, H };
	per[np++] = (struct need){ "blk.%llu.ffn_down.weight", H, F };
	if (bitnet) {
		per[np++] = (struct need){ "blk.%llu.attn_sub_norm.weight",
		    nh * hd, 0 };
		per[np++] = (struct need){ "blk.%llu.ffn_sub_norm.weight",
		    F, 0 };
	}
	for (l = 0; l <= L; l++) {
		struct need top[3] = {
			{ "token_embd.weight", V, H },
			{ "output_norm.weight", H, 0 },
			{ "output.weight", V, H },
		};
		size_t nq = l < L ? np : (tied ? 2 : 3);

		for (i = 0; i < nq; i++) {
			struct held *h;

			q = l < L ? &per[i] : &top[i];
			snprintf(name, sizeof name, q->fmt,
			    (unsigned long long)l);
			if ((h = tset_find(seen, name)) == NULL) {
				add_problem(rep, -1, 0, name, "missing (arch "
				    "%s needs it)", arch);
				continue;
			}
			if (q->d1 == 0 ? h->t.ndim != 1 || h->t.dims[0] != q->d0 :
			    h->t.ndim != 2 || h->t.dims[0] != q->d0 ||
			    h->t.dims[1] != q->d1) {
				char got[128];

				add_problem(rep, -1, 0, name, "shape %s, "
				    "the config needs %llu%s%.0llu", bnt_shape_str(
				    &h->t, got, sizeof got),
				    (unsigned long long)q->d0, q->d1 ? "x" :
				    "", (unsigned long long)q->d1);
			}
		}
	}
}

static void
json_str(FILE *fp, const char *s)
{
	const unsigned char *p = (const unsigned char *)s;

	fputc('"', fp);
	for (; *p; p++) {
		if (*p == '"' || *p == '\\')
			fprintf(fp, "\\%c", *p);
		else if (*p < 0x20)
			fprintf(fp, "\\u%04x", *p);
		else
			fputc(*p, fp);
	}
	fputc('"', fp);
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
print_report(const struct opts *o, const struct report *rep)
{
	size_t i;

	if (o->pass)
		return;		/* standard output carries the stream */
	if (o->json) {
		printf("{\"file\":");
		json_str(stdout, rep->file);
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
				json_str(stdout, rep->p[i].tensor);
			else
				fputs("null", stdout);
			fputs(",\"message\":", stdout);
			json_str(stdout, rep->p[i].msg);
			fputc('}', stdout);
		}
		fputc(']', stdout);
		if (o->against != NULL) {
			fputs(",\"compare\":[", stdout);
			for (i = 0; i < rep->nc; i++) {
				printf("%s{\"tensor\":", i ? "," : "");
				json_str(stdout, rep->c[i].name);
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
			    rep->file, rep->c[i].name, rep->c[i].max_abs,
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
		    rep->file, rep->records, rep->tensors, rep->bytes);
	else
		printf("%s: FAILED: %zu problem%s\n", rep->file, rep->np,
		    rep->np == 1 ? "" : "s");
}

static void
warn_problems(const struct opts *o, const struct report *rep)
{
	size_t i;

	if (o->quiet || o->json)
		return;
	for (i = 0; i < rep->np; i++) {
		const struct problem *p = &rep->p[i];
		char where[96] = "";

		if (p->record >= 0)
			snprintf(where, sizeof where, "record %lld (offset "
			    "%llu): ", p->record, p->offset);
		if (p->tensor)
			bn_warnx("%s: %stensor '%s': %s", rep->file, where,
			    p->tensor, p->msg);
		else
			bn_warnx("%s: %s%s", rep->file, where, p->msg);
	}
}

/* Check one input; returns the exit code for it. */
static int
verify(const struct opts *o, const char *path, struct tset *ref,
    struct bn_out *out)
{
	struct report rep = { .file = bn_display_name(path) };
	struct tset seen = { NULL, 0 };
	struct bn_kv cfg;
	struct bnt_reader *r;
	struct bnt_record rec;
	size_t before, i;
	FILE *fp;
	int st, code, forwarding = 1, nconfig = 0, nvocab = 0;

	bn_kv_init(&cfg);
	if (strcmp(path, "-") == 0)
		fp = bn_open_in(path, 1, o->force);
	else if ((fp = fopen(path, "rb")) == NULL) {
		bn_warn("%s", path);
		return EX_NOINPUT;
	}
	if ((r = bnt_reader_open(fp, rep.file)) == NULL)
		bn_errx(EX_OSERR, "out of memory");
	while ((st = bnt_read_next(r, &rec)) == BN_OK) {
		before = rep.np;
		rep.records++;
		if (o->verbose && !o->json)
			fprintf(stderr, "%s: record %llu (offset %llu): "
			    "kind 0x%08x%s%s\n", bn_progname,
			    (unsigned long long)rec.index,
			    (unsigned long long)rec.offset,
			    (unsigned)rec.kind, rec.kind ==
			    BNT_KIND_TENSOR ? " tensor " : "",
			    rec.kind == BNT_KIND_TENSOR ? rec.tensor.name : "");
		if (rec.kind == BNT_KIND_TENSOR) {
			rep.tensors++;
			rep.bytes += rec.tensor.raw_len;
			if (tset_find(&seen, rec.tensor.name) != NULL)
				add_problem(&rep, (long long)rec.index,
				    rec.offset, rec.tensor.name,
				    "duplicate tensor name");
			else
				tset_add(&seen, &rec.tensor);
			check_tensor(&rep, o, &rec);
			if (ref != NULL) {
				struct held *h = tset_find(ref,
				    rec.tensor.name);

				if (h == NULL)
					add_problem(&rep, (long long)rec.index,
					    rec.offset, rec.tensor.name,
					    "not in the reference");
				else if ((h->seen = 1) && rep.np == before)
					compare(&rep, o, h, &rec);
			}
		} else if (rec.kind == BNT_KIND_CONFIG) {
			if (nconfig++ > 0)
				add_problem(&rep, (long long)rec.index,
				    rec.offset, NULL, "a second CONFIG record "
				    "in one stream");
			bn_kv_free(&cfg);
			for (i = 0; i < rec.config.n; i++)
				bn_kv_set(&cfg, rec.config.v[i].key,
				    rec.config.v[i].val);
			check_config(&rep, &rec);
		} else if (rec.kind == BNT_KIND_TOKENIZER) {
			if (nvocab++ > 0)
				add_problem(&rep, (long long)rec.index,
				    rec.offset, NULL, "a second TOKENIZER "
				    "record in one stream");
			check_vocab(&rep, &rec);
		} else if (rec.kind == BNT_KIND_END)
			nconfig = nvocab = 0;
		if (out != NULL && forwarding) {
			if (rep.np != before)
				forwarding = 0;		/* stop at the bad one */
			else if (bnt_reader_forward(r, out->fp) != BN_OK)
				bn_err(EX_IOERR, "%s", out->name);
		}
	}
	if (st != BN_END) {
		if (bn_exit_code(st) == EX_IOERR) {
			bn_warnx("%s: %s", rep.file, bnt_reader_error(r));
			rep.fatal = EX_IOERR;
		}
		add_problem(&rep, -1, 0, NULL, "%s", bnt_reader_error(r));
		/* reader errors already say where; drop our prefix */
		rep.p[rep.np - 1].record = -1;
	} else {
		check_arch(&rep, &cfg, &seen);
		if (ref != NULL)
			for (i = 0; i < ref->n; i++)
				if (!ref->v[i].seen)
					add_problem(&rep, -1, 0, ref->v[i].name,
					    "in the reference but not in the "
					    "stream");
	}
	warn_problems(o, &rep);
	print_report(o, &rep);
	code = rep.fatal ? rep.fatal : rep.np ? 1 : 0;
	bnt_reader_close(r);
	if (fp != stdin)
		fclose(fp);
	for (i = 0; i < rep.np; i++) {
		free(rep.p[i].tensor);
		free(rep.p[i].msg);
	}
	free(rep.p);
	for (i = 0; i < rep.nc; i++)
		free(rep.c[i].name);
	free(rep.c);
	tset_free(&seen);
	if (ref != NULL)
		for (i = 0; i < ref->n; i++)
			ref->v[i].seen = 0;
	bn_kv_free(&cfg);
	return code;
}

/* ---- --model: the model's numbers against a reference ---- */

struct refset {
	struct bnt_tensor *t;
	unsigned char **data;
	size_t n;
};

static int
ref_tensor(void *ctx, const struct bnt_tensor *t, const void *data,
    const void *scales)
{
	struct refset *r = ctx;
	struct bnt_tensor *nt;
	unsigned char **nd;

	(void)scales;
	nt = bn_reallocarray(r->t, r->n + 1, sizeof *nt);
	nd = nt ? bn_reallocarray(r->data, r->n + 1, sizeof *nd) : NULL;
	if (nt)
		r->t = nt;
	if (nd)
		r->data = nd;
	if (nt == NULL || nd == NULL)
		return BN_ENOMEM;
	r->t[r->n] = *t;
	r->t[r->n].name = strdup(t->name);
	r->data[r->n] = malloc(t->data_bytes ? t->data_bytes : 1);
	if (r->t[r->n].name == NULL || r->data[r->n] == NULL)
		return BN_ENOMEM;
	memcpy(r->data[r->n], data, t->data_bytes);
	r->n++;
	return BN_OK;
}

static const unsigned char *
ref_get(const struct refset *r, const char *name, int dtype,
    const struct bnt_tensor **t)
{
	size_t i;

	for (i = 0; i < r->n; i++)
		if (strcmp(r->t[i].name, name) == 0) {
			if (r->t[i].dtype != dtype)
				bn_errx(EX_DATAERR, "%s: '%s' has type %s",
				    "reference", name,
				    bn_dtype_traits(r->t[i].dtype)->name);
			*t = &r->t[i];
			return r->data[i];
		}
	return NULL;
}

static size_t
argmax(const float *l, int n)
{
	size_t best = 0;
	int i;

	for (i = 1; i < n; i++)
		if (l[i] > l[(int)best])
			best = (size_t)i;
	return best;
}

struct capture {
	float *hidden;		/* [layers + 1][T][H] */
	size_t T, H;
	int layers;
};

static void
capture_hook(void *ctx, int layer, int site, const float *x, size_t T,
    size_t dim)
{
	struct capture *c = ctx;
	size_t slot;

	if (site == BN_SITE_EMBED)
		slot = 0;
	else if (site == BN_SITE_LAYER && layer < c->layers - 1)
		slot = (size_t)layer + 1;
	else if (site == BN_SITE_FINAL)
		slot = (size_t)c->layers;
	else
		return;
	if (T == c->T && dim == c->H)
		memcpy(c->hidden + slot * T * dim, x, T * dim * sizeof *x);
}

static double
max_abs_diff(const float *a, const float *b, size_t n)
{
	double m = 0, d;
	size_t i;

	for (i = 0; i < n; i++) {
		d = fabs((double)a[i] - (double)b[i]);
		if (!(d <= m))
			m = d;
	}
	return m;
}

static int
verify_model(const struct opts *o)
{
	struct refset ref = { NULL, NULL, 0 };
	struct bn_sink sink = { &ref, NULL, NULL, ref_tensor };
	struct bn_err e = { "" };
	struct bn_model m;
	struct bn_state *s;
	struct capture cap;
	const struct bnt_tensor *ti, *tl, *th, *tg;
	const unsigned char *ids, *lg, *hd, *gr;
	char name[64];
	double tol = o->tol >= 0 ? o->tol : 1e-3, worst = 0, d;
	size_t V, H, T, t, k, i, agree;
	int st, K, L, bad = 0, nrefs = 0;
	float *logits;

	if (bn_kernels_init(NULL) != 0)
		bn_errx(EX_UNAVAILABLE, "BN_KERNEL=%s: not available on this "
		    "CPU", getenv("BN_KERNEL"));
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
			bn_errx(EX_DATAERR, "%s: no %s of %zux%zu", o->reference,
			    name, T, V);
		if ((st = bn_state_new(&s, &m, (int)T + 64, (int)T, 1, &e)))
			bn_errx(bn_exit_code(st), "%s", e.msg);
		cap.T = T;
		cap.hidden = calloc(((size_t)m.c.layers + 1) * T * H,
		    sizeof(float));
		logits = malloc(T * V * sizeof *logits);
		if (cap.hidden == NULL || logits == NULL)
			bn_errx(EX_OSERR, "out of memory");
		bn_state_set_hook(s, capture_hook, &cap);
		if (bn_forward(&m, s, (const int32_t *)ids, (int)T, logits, 1)
		    != BN_OK)
			bn_errx(EX_DATAERR, "%s: input_ids.%d: token out of "
			    "range", o->reference, K);
		bn_state_set_hook(s, NULL, NULL);
		d = max_abs_diff(logits, (const float *)lg, T * V);
		for (agree = 0, t = 0; t < T; t++)
			agree += argmax(logits + t * V, (int)V) ==
			    argmax((const float *)lg + t * V, (int)V);
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
			    max_abs_diff(cap.hidden + (size_t)L * T * H,
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
				next = (int32_t)argmax(logits, (int)V);
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
	for (i = 0; i < ref.n; i++) {
		free((char *)ref.t[i].name);
		free(ref.data[i]);
	}
	free(ref.t);
	free(ref.data);
	bn_close_stdout();
	return bad;
}

int
main(int argc, char *argv[])
{
	struct opts o = { .tol = -1 };
	struct tset ref = { NULL, 0 };
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
	if (o.pass)
		bn_out_open(&out, o.output, 1, o.force);
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
	tset_free(&ref);
	bn_close_stdout();
	return worst;
}
