/* qat.c: a training run (qat.h).
 *
 * Data: the training text is tokenized once with the model's tokenizer;
 * each step takes `batch` windows of ctx + 1 tokens at offsets drawn
 * from xoshiro256** (seeded by --seed), inputs the first ctx, targets
 * the next.  Validation follows bnrun --perplexity's protocol
 * (consecutive, non-overlapping windows of ctx inputs, no BOS).
 *
 * A checkpoint is a bnt(5) model holding the f32 master weights under
 * their usual names (bitlinear=1), the AdamW moments as optim.m.NAME and
 * optim.v.NAME, and the run's state as train.* configuration keys: the
 * step, the generator state, the number of windows drawn and every
 * hyper-parameter.  Resuming restores all of it, so that the run goes
 * on bit for bit as if it had never stopped.
 *
 * Built with MPI (make MPI=1), the run is data-parallel: every rank
 * draws the same windows and takes its own slice of each batch
 * (batch / ranks sequences) and of the validation windows; the
 * gradients, averaged with one MPI_Allreduce per step, are the same
 * mean over the global batch up to the order of the float sums, so the
 * optimizer steps agree on every rank.  Rank 0 calls the hooks and
 * writes the checkpoints and the output.  The state is global, so a run
 * resumes with any number of ranks. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "bnt.h"
#include "dtype.h"
#include "import.h"
#include "mem.h"
#include "model.h"
#include "qat.h"
#include "rng.h"
#include "tokenizer.h"
#include "train.h"

#ifdef BN_MPI
#include <mpi.h>
#endif

void
bn_qat_defaults(struct bn_qat_opts *o)
{
	memset(o, 0, sizeof *o);
	o->quant = BN_TQ_TERNARY;
	o->steps = 200;
	o->batch = 16;
	o->ctx = 256;
	o->warmup = -1;
	o->lr = 1e-3f;
	o->min_lr = 0;
	o->wd = 0;
	o->clip = 1.0f;
	o->beta1 = 0.9f;
	o->beta2 = 0.95f;
	o->eps = 1e-8f;
	o->alpha = 0.5f;
	o->tau = 1.0f;
	o->hid_weight = 1.0f;
	o->att_temp = 1.0f;
	o->att_layer = -1;
	o->seed = 0;
	o->threads = 0;
}

static double
now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* A whole text file ("-": stdin) into *text (NUL-terminated, malloc'd),
 * its length in *len. */
static int
read_text(const char *path, char **text, size_t *len, struct bn_err *e)
{
	int in = strcmp(path, "-") == 0;
	FILE *fp = in ? stdin : fopen(path, "rb");
	char *buf = NULL;
	size_t cap = 0, n = 0, r;
	int st = BN_OK;

	if (fp == NULL)
		return bn_seterr(e, BN_ENOINPUT, "%s: %s", path,
		    strerror(errno));
	do {
		if (cap - n < 65536 && bn_grow(&buf, &cap, n + 65536 + 1,
		    1) != 0) {
			st = bn_seterr(e, BN_ENOMEM, "out of memory");
			break;
		}
		r = fread(buf + n, 1, cap - 1 - n, fp);
		n += r;
	} while (r > 0);
	if (st == BN_OK && ferror(fp))
		st = bn_seterr(e, BN_EIO, "%s: %s", in ? "<stdin>" : path,
		    strerror(errno));
	if (!in)
		fclose(fp);
	if (st != BN_OK) {
		free(buf);
		return st;
	}
	buf[n] = '\0';
	*text = buf;
	*len = n;
	return BN_OK;
}

static int
tokenize_file(const struct bn_tokenizer *tk, const char *path, int32_t **ids,
    size_t *n, struct bn_err *e)
{
	size_t len = 0;
	char *text = NULL;
	int st;

	if ((st = read_text(path, &text, &len, e)) != BN_OK)
		return st;
	st = bn_tokenizer_encode(tk, text, len, ids, n, e);
	free(text);
	if (st != BN_OK)
		bn_err_prefix(e, "%s", path);
	return st;
}

/* A corpus (--train, --val): the tokens of a text, of text files (a
 * directory's *.txt in name order, or @LIST's paths, one a line) with
 * EOS between documents, held in ids; or a token file (.u16, .u32,
 * llm.c's .bin, .npy) read window by window from fd, never whole. */
struct corpus {
	const char *path;
	int32_t *ids;			/* text: the tokens */
	uint64_t n;			/* tokens */
	int fd;				/* token file, else -1 */
	int width;			/* its bytes per token: 2, 4 or 8 */
	int sign;			/* signed (.npy <i4, <i8) */
	uint64_t data;			/* offset of its first token */
	int32_t vocab;
	unsigned char *buf;
	size_t cap;
};

#define LLMC_MAGIC	20240520	/* llm.c's .bin: 256 int32 header */
#define LLMC_HEADER	1024
#define SCAN_TOKENS	(1 << 18)	/* the first check reads this many */

static int
has_suffix(const char *s, const char *suf)
{
	size_t n = strlen(s), k = strlen(suf);

	return n > k && strcmp(s + n - k, suf) == 0;
}

static uint64_t
le(const unsigned char *p, int width)
{
	uint64_t v = 0;
	int i;

	for (i = width - 1; i >= 0; i--)
		v = v << 8 | p[i];
	return v;
}

/* Tokens [off, off + n) of a token file into dst, each checked. */
static int
corpus_file_read(struct corpus *c, uint64_t off, size_t n, int32_t *dst,
    struct bn_err *e)
{
	size_t bytes = n * (size_t)c->width, got = 0, i;
	uint64_t at = c->data + off * (uint64_t)c->width;

	if (bytes > c->cap) {
		free(c->buf);
		if ((c->buf = malloc(bytes)) == NULL) {
			c->cap = 0;
			return bn_seterr(e, BN_ENOMEM, "out of memory");
		}
		c->cap = bytes;
	}
	while (got < bytes) {
		ssize_t r = pread(c->fd, c->buf + got, bytes - got,
		    (off_t)(at + got));

		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return bn_seterr(e, BN_EIO, "%s: %s", c->path,
			    strerror(errno));
		if (r == 0)
			return bn_seterr(e, BN_EFORMAT, "%s: truncated at "
			    "byte %" PRIu64, c->path, at + got);
		got += (size_t)r;
	}
	for (i = 0; i < n; i++) {
		uint64_t v = le(c->buf + i * (size_t)c->width, c->width);
		int64_t sv = !c->sign ? (int64_t)(v & INT64_MAX) :
		    c->width == 4 ? (int64_t)(int32_t)(uint32_t)v : (int64_t)v;

		if ((c->sign && sv < 0) || v >= (uint64_t)c->vocab)
			return bn_seterr(e, BN_EFORMAT, "%s: token %" PRIu64
			    " (byte %" PRIu64 "): id %" PRId64 ", not below "
			    "the vocabulary's %d", c->path, off + i,
			    at + i * (uint64_t)c->width, sv, c->vocab);
		dst[i] = (int32_t)v;
	}
	return BN_OK;
}

/* Tokens [off, off + n) of the corpus into dst. */
static int
corpus_read(struct corpus *c, uint64_t off, size_t n, int32_t *dst,
    struct bn_err *e)
{
	if (c->fd < 0) {
		memcpy(dst, c->ids + off, n * sizeof *dst);
		return BN_OK;
	}
	return corpus_file_read(c, off, n, dst, e);
}

/* Open a token file: its width, first token and count from the suffix
 * and header; then every id checked, a chunk at a time. */
static int
corpus_tokens(struct corpus *c, struct bn_err *e)
{
	unsigned char h[LLMC_HEADER];
	struct stat sb;
	uint64_t size, off, k;
	int32_t *tmp;
	ssize_t got;
	int st;

	if ((c->fd = open(c->path, O_RDONLY)) < 0)
		return bn_seterr(e, BN_ENOINPUT, "%s: %s", c->path,
		    strerror(errno));
	if (fstat(c->fd, &sb) != 0)
		return bn_seterr(e, BN_EIO, "%s: %s", c->path,
		    strerror(errno));
	if (!S_ISREG(sb.st_mode))
		return bn_seterr(e, BN_EFORMAT, "%s: not a regular file",
		    c->path);
	size = (uint64_t)sb.st_size;
	if ((got = pread(c->fd, h, sizeof h, 0)) < 0)
		return bn_seterr(e, BN_EIO, "%s: %s", c->path,
		    strerror(errno));
	c->data = 0;
	if (has_suffix(c->path, ".u16") || has_suffix(c->path, ".u32")) {
		c->width = has_suffix(c->path, ".u16") ? 2 : 4;
	} else if (has_suffix(c->path, ".bin")) {
		uint64_t ver;

		if ((size_t)got < LLMC_HEADER || le(h, 4) != LLMC_MAGIC)
			return bn_seterr(e, BN_EFORMAT, "%s: not an llm.c "
			    "token file (no %d header; a raw uint16 stream, "
			    "as nanoGPT's, is read as .u16)", c->path,
			    LLMC_MAGIC);
		ver = le(h + 4, 4);
		if (ver != 1 && ver != 2)
			return bn_seterr(e, BN_EUNSUPPORTED, "%s: llm.c "
			    "version %" PRIu64 " (1: uint16, 2: uint32)",
			    c->path, ver);
		c->width = ver == 1 ? 2 : 4;
		c->data = LLMC_HEADER;
		if (size - LLMC_HEADER != le(h + 8, 4) * (uint64_t)c->width)
			return bn_seterr(e, BN_EFORMAT, "%s: the header says "
			    "%" PRIu64 " tokens, the file holds %" PRIu64
			    " bytes of them", c->path, le(h + 8, 4),
			    size - LLMC_HEADER);
	} else {			/* .npy */
		struct bnt_tensor t;
		char descr[32];
		size_t doff;

		if ((st = bn_npy_header(h, (size_t)got, c->path, descr, &t,
		    &doff, e)) != BN_OK)
			return st;
		if (strcmp(descr, "<u2") == 0)
			c->width = 2;
		else if (strcmp(descr, "<u4") == 0)
			c->width = 4;
		else if (strcmp(descr, "<i4") == 0 || strcmp(descr, "<i8") ==
		    0) {
			c->width = descr[2] == '4' ? 4 : 8;
			c->sign = 1;
		} else
			return bn_seterr(e, BN_EUNSUPPORTED, "%s: dtype '%s' "
			    "(tokens are <u2, <u4, <i4 or <i8)", c->path,
			    descr);
		if (t.ndim != 1)
			return bn_seterr(e, BN_EFORMAT, "%s: %d dimensions, "
			    "tokens are 1", c->path, t.ndim);
		c->data = doff;
		if (size - doff != t.dims[0] * (uint64_t)c->width)
			return bn_seterr(e, BN_EFORMAT, "%s: shape (%" PRIu64
			    ",) but %" PRIu64 " bytes of data", c->path,
			    t.dims[0], size - doff);
	}
	if ((size - c->data) % (uint64_t)c->width != 0)
		return bn_seterr(e, BN_EFORMAT, "%s: %" PRIu64 " bytes, not a "
		    "whole number of %d-byte tokens", c->path, size - c->data,
		    c->width);
	c->n = (size - c->data) / (uint64_t)c->width;
	if ((tmp = malloc(SCAN_TOKENS * sizeof *tmp)) == NULL)
		return bn_seterr(e, BN_ENOMEM, "out of memory");
	for (off = 0, st = BN_OK; off < c->n && st == BN_OK; off += k) {
		k = c->n - off < SCAN_TOKENS ? c->n - off : SCAN_TOKENS;
		st = corpus_file_read(c, off, (size_t)k, tmp, e);
	}
	free(tmp);
	free(c->buf);
	c->buf = NULL;
	c->cap = 0;
	return st;
}

static int
cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The documents of a directory (its regular *.txt, sorted) or of @LIST
 * into *docs (malloc'd paths, *n of them). */
static int
corpus_docs(const char *path, char ***docs, size_t *n, struct bn_err *e)
{
	char **v = NULL, *text = NULL, *p, *q;
	size_t cap = 0, k = 0, len;
	int st = BN_OK;

	if (path[0] == '@') {
		if ((st = read_text(path + 1, &text, &len, e)) != BN_OK)
			return st;
		for (p = text; st == BN_OK && *p != '\0'; p = q) {
			if ((q = strchr(p, '\n')) != NULL)
				*q++ = '\0';
			else
				q = p + strlen(p);
			if (*p == '\0')
				continue;	/* blank lines */
			if (bn_grow(&v, &cap, k + 1, sizeof *v) != 0 ||
			    (v[k] = strdup(p)) == NULL)
				st = bn_seterr(e, BN_ENOMEM, "out of memory");
			else
				k++;
		}
		free(text);
	} else {
		DIR *d = opendir(path);
		struct dirent *de;
		struct stat sb;

		if (d == NULL)
			return bn_seterr(e, BN_ENOINPUT, "%s: %s", path,
			    strerror(errno));
		while (st == BN_OK && (de = readdir(d)) != NULL) {
			if (!has_suffix(de->d_name, ".txt"))
				continue;
			if (bn_grow(&v, &cap, k + 1, sizeof *v) != 0 ||
			    (v[k] = malloc(strlen(path) +
			    strlen(de->d_name) + 2)) == NULL) {
				st = bn_seterr(e, BN_ENOMEM, "out of memory");
				break;
			}
			sprintf(v[k], "%s/%s", path, de->d_name);
			if (stat(v[k], &sb) == 0 && S_ISREG(sb.st_mode))
				k++;
			else
				free(v[k]);
		}
		closedir(d);
		if (st == BN_OK && k > 1)
			qsort(v, k, sizeof *v, cmp_str);
	}
	if (st == BN_OK && k == 0)
		st = bn_seterr(e, BN_EFORMAT, "%s: no text files", path);
	if (st != BN_OK) {
		while (k > 0)
			free(v[--k]);
		free(v);
		return st;
	}
	*docs = v;
	*n = k;
	return BN_OK;
}

/* Open path as a corpus for a model of vocab tokens. */
static int
corpus_open(struct corpus *c, const char *path, const struct bn_tokenizer *tk,
    int32_t vocab, struct bn_err *e)
{
	struct stat sb;
	char **docs = NULL;
	size_t ndocs = 0, i, n;
	int32_t *ids, eos;
	int st;

	memset(c, 0, sizeof *c);
	c->path = path;
	c->fd = -1;
	c->vocab = vocab;
	if (has_suffix(path, ".u16") || has_suffix(path, ".u32") ||
	    has_suffix(path, ".bin") || has_suffix(path, ".npy"))
		return corpus_tokens(c, e);
	if (path[0] != '@' && (stat(path, &sb) != 0 || !S_ISDIR(sb.st_mode))) {
		/* one text, as ever */
		if ((st = tokenize_file(tk, path, &c->ids, &n, e)) == BN_OK)
			c->n = n;
		return st;
	}
	if ((st = corpus_docs(path, &docs, &ndocs, e)) != BN_OK)
		return st;
	eos = bn_tokenizer_eos(tk);
	if (ndocs > 1 && (eos < 0 || eos >= vocab))
		st = bn_seterr(e, BN_EFORMAT, "%s: the tokenizer has no EOS "
		    "token to put between documents", path);
	for (i = 0; st == BN_OK && i < ndocs; i++) {
		if ((st = tokenize_file(tk, docs[i], &ids, &n, e)) != BN_OK)
			break;
		if (bn_grow(&c->ids, &c->cap, (size_t)c->n + n + 1,
		    sizeof *c->ids) != 0) {
			free(ids);
			st = bn_seterr(e, BN_ENOMEM, "out of memory");
			break;
		}
		if (i > 0)
			c->ids[c->n++] = eos;
		if (n > 0)
			memcpy(c->ids + c->n, ids, n * sizeof *ids);
		c->n += n;
		free(ids);
	}
	for (i = 0; i < ndocs; i++)
		free(docs[i]);
	free(docs);
	c->cap = 0;
	return st;
}

static void
corpus_close(struct corpus *c)
{
	free(c->ids);
	free(c->buf);
	if (c->fd >= 0)
		close(c->fd);
	c->ids = NULL;
	c->buf = NULL;
	c->fd = -1;
}

struct run {
	const struct bn_qat_opts *o;
	struct bnt_map map;		/* the model or checkpoint */
	struct bn_train *t;
	struct bn_tokenizer *tk;
	struct corpus train, val;
	int have_val;
	struct bn_model teacher;
	struct bn_state *ts;
	float *tlogits;
	int32_t *batch;
	struct bn_rng rng;
	uint64_t windows;		/* windows drawn so far */
	int step;			/* steps done */
	int have_teacher;
	int rank, nranks;		/* MPI; 0 and 1 without */
	int lb;				/* sequences per rank per step */
	double comm;			/* seconds in MPI_Allreduce, last step */
	/* hidden-state distillation: the teacher's layer outputs,
	 * [nhl][lb * ctx][hidden], of layers hl */
	float *thid;
	int *hl, nhl;
	int hook_b;			/* the sequence the teacher runs */
	/* attention-relation distillation: the teacher's q, k, v of
	 * layer att_layer, [lb * ctx][dim] */
	float *tqkv[3];
	size_t tdim[3];
	int att_layer;
};

/* Sum n doubles over the ranks, in place (nothing without MPI). */
static void
sum_ranks(const struct run *r, double *v, int n)
{
#ifdef BN_MPI
	if (r->nranks > 1)
		MPI_Allreduce(MPI_IN_PLACE, v, n, MPI_DOUBLE, MPI_SUM,
		    MPI_COMM_WORLD);
#else
	(void)r;
	(void)v;
	(void)n;
#endif
}

/* Average the gradients over the ranks. */
static void
average_grads(struct run *r)
{
#ifdef BN_MPI
	struct bn_train *t = r->t;
	float k = 1.0f / (float)r->nranks;
	size_t i, off, n;

	double t0 = now();

	if (r->nranks == 1)
		return;
	/* MPI counts are ints: in chunks of at most 2^30 values */
	for (off = 0; off < t->n; off += n) {
		n = t->n - off < ((size_t)1 << 30) ? t->n - off :
		    (size_t)1 << 30;
		MPI_Allreduce(MPI_IN_PLACE, t->g + off, (int)n, MPI_FLOAT,
		    MPI_SUM, MPI_COMM_WORLD);
	}
	for (i = 0; i < t->n; i++)
		t->g[i] *= k;
	r->comm = now() - t0;
#else
	(void)r;
#endif
}

/* The mean CE over the validation windows (bnrun's protocol) into
 * *mean. */
static int
validate(struct run *r, size_t *nwin, double *mean, struct bn_err *e)
{
	const struct bn_qat_opts *o = r->o;
	size_t T = (size_t)o->ctx, nw, w, k;
	double sum = 0;
	int st;

	/* the model as it is written: fully quantized, CE only */
	r->t->lambda = 1;
	r->t->th = NULL;
	r->t->ta[0] = NULL;
	nw = r->have_val && r->val.n > T ? (size_t)(r->val.n - 1) / T : 0;
	/* rank k takes windows k, k + ranks, ... */
	for (w = (size_t)r->rank * (size_t)r->lb; w < nw;
	    w += (size_t)r->lb * (size_t)r->nranks) {
		size_t nb = nw - w < (size_t)r->lb ? nw - w : (size_t)r->lb;
		double ce;

		for (k = 0; k < nb; k++)
			if ((st = corpus_read(&r->val, (w + k) * T, T + 1,
			    r->batch + k * (T + 1), e)) != BN_OK)
				return st;
		bn_train_step(r->t, r->batch, (int)nb, NULL, 1, 1, 0, &ce,
		    NULL);
		sum += ce * (double)nb;
	}
	sum_ranks(r, &sum, 1);
	*nwin = nw;
	*mean = nw ? sum / (double)nw : NAN;
	return BN_OK;
}

/* The teacher's hook: layer outputs into r->thid. */
static void
teach_hook(void *ctx, int layer, int site, const float *x, size_t T,
    size_t dim)
{
	struct run *r = ctx;
	size_t N = (size_t)r->lb * (size_t)r->o->ctx;
	int k;

	if (T != (size_t)r->o->ctx)
		return;
	if (site == BN_SITE_Q || site == BN_SITE_K || site == BN_SITE_V) {
		k = site - BN_SITE_Q;
		if (layer == r->att_layer && r->tqkv[k] != NULL &&
		    dim == r->tdim[k])
			memcpy(r->tqkv[k] + (size_t)r->hook_b * T * dim, x, T *
			    dim * sizeof *x);
		return;
	}
	if (site != BN_SITE_LAYER)
		return;
	for (k = 0; k < r->nhl; k++)
		if (r->hl[k] == layer)
			memcpy(r->thid + ((size_t)k * N + (size_t)r->hook_b *
			    T) * dim, x, T * dim * sizeof *x);
}

/* Teacher logits (and layer outputs) for the current batch, by the
 * inference code. */
static int
teach(struct run *r, struct bn_err *e)
{
	const struct bn_qat_opts *o = r->o;
	size_t T = (size_t)o->ctx, V = (size_t)r->t->c.vocab, b;

	for (b = 0; b < (size_t)r->lb; b++) {
		r->hook_b = (int)b;
		bn_state_reset(r->ts);
		if (bn_forward(&r->teacher, r->ts, r->batch + b * (T + 1),
		    (int)T, r->tlogits + b * T * V, 1) != BN_OK)
			return bn_seterr(e, BN_EFORMAT, "%s: the teacher cannot "
			    "run these tokens", o->teacher);
	}
	return BN_OK;
}

static void
put_kv(struct bn_kv *kv, const struct bn_kv *src)
{
	size_t i;

	for (i = 0; i < src->n; i++)
		if (strncmp(src->v[i].key, "train.", 6) != 0)
			bn_kv_set(kv, src->v[i].key, src->v[i].val);
}

static int
write_f32(struct bnt_writer *w, const char *name, const struct bn_tparam *p,
    const float *data, struct bn_err *e)
{
	struct bnt_tensor t;

	memset(&t, 0, sizeof t);
	t.name = name;
	t.dtype = BN_DTYPE_F32;
	t.ndim = (unsigned)p->ndim;
	if (p->ndim == 1)
		t.dims[0] = p->cols;
	else {
		t.dims[0] = p->rows;
		t.dims[1] = p->cols;
	}
	if (bnt_tensor_layout(&t, e) != BN_OK)
		return BN_EFORMAT;
	return bnt_write_tensor(w, &t, data, NULL);
}

/* The model (and, for a checkpoint, the run's state) as a bnt stream. */
static int
write_model(struct run *r, FILE *fp, int ckpt, struct bn_err *e)
{
	const struct bn_qat_opts *o = r->o;
	const struct bn_train *t = r->t;
	struct bnt_writer *w;
	struct bn_kv kv;
	char name[96];
	int i, st = BN_OK;

	if ((w = bnt_writer_open(fp, 0)) == NULL)
		return bn_seterr(e, BN_ENOMEM, "out of memory");
	bn_kv_init(&kv);
	put_kv(&kv, &r->map.config);
	bn_kv_set(&kv, "bitlinear", "1");
	if (ckpt) {
		bn_kv_setf(&kv, "train.step", "%d", r->step);
		bn_kv_setf(&kv, "train.steps", "%d", o->steps);
		bn_kv_setf(&kv, "train.rng", "%016" PRIx64 "%016" PRIx64
		    "%016" PRIx64 "%016" PRIx64, r->rng.s[0], r->rng.s[1],
		    r->rng.s[2], r->rng.s[3]);
		bn_kv_setf(&kv, "train.windows", "%" PRIu64, r->windows);
		bn_kv_setf(&kv, "train.seed", "%" PRIu64, o->seed);
		bn_kv_setf(&kv, "train.quant", "%s", o->quant ==
		    BN_TQ_BINARY ? "binary" : o->quant == BN_TQ_TERNARY ?
		    "ternary" : "float");
		bn_kv_setf(&kv, "train.batch", "%d", o->batch);
		bn_kv_setf(&kv, "train.ctx", "%d", o->ctx);
		bn_kv_setf(&kv, "train.lr", "%.9g", (double)o->lr);
		bn_kv_setf(&kv, "train.min_lr", "%.9g", (double)o->min_lr);
		bn_kv_setf(&kv, "train.warmup", "%d", o->warmup);
		bn_kv_setf(&kv, "train.wd", "%.9g", (double)o->wd);
		bn_kv_setf(&kv, "train.clip", "%.9g", (double)o->clip);
		bn_kv_setf(&kv, "train.alpha", "%.9g", (double)o->alpha);
		bn_kv_setf(&kv, "train.tau", "%.9g", (double)o->tau);
		if (o->hid_distill) {
			size_t cap = (size_t)r->nhl * 12 + 1, n = 0;
			char *list = malloc(cap);
			int k;

			bn_kv_set(&kv, "train.distill_hidden", o->hid_distill ==
			    2 ? "cos" : "mse");
			bn_kv_setf(&kv, "train.distill_hidden_weight", "%.9g",
			    (double)o->hid_weight);
			for (k = 0; list != NULL && k < r->nhl; k++)
				n += (size_t)snprintf(list + n, cap - n, "%s%d",
				    k ? "," : "", r->hl[k]);
			if (list == NULL || bn_kv_set(&kv,
			    "train.distill_hidden_layers", list) != 0)
				st = bn_seterr(e, BN_ENOMEM, "out of memory");
			free(list);
		}
		if (o->att_weight > 0) {
			bn_kv_setf(&kv, "train.distill_attn", "%.9g",
			    (double)o->att_weight);
			bn_kv_setf(&kv, "train.distill_attn_layer", "%d",
			    r->att_layer);
			bn_kv_setf(&kv, "train.distill_attn_temp", "%.9g",
			    (double)o->att_temp);
		}
		if (o->lambda_warmup > 0) {
			bn_kv_setf(&kv, "train.lambda_warmup", "%d",
			    o->lambda_warmup);
			bn_kv_set(&kv, "train.lambda_shape", o->lambda_shape ==
			    BN_LAMBDA_SIGMOID ? "sigmoid" : "linear");
		}
	}
	if (st == BN_OK && (bnt_write_config(w, &kv) != BN_OK ||
	    (r->map.has_vocab && bnt_write_tokenizer(w, &r->map.vocab) !=
	    BN_OK)))
		st = BN_EIO;
	bn_kv_free(&kv);
	for (i = 0; st == BN_OK && i < t->np; i++) {
		const struct bn_tparam *p = &t->p[i];

		if ((st = write_f32(w, p->name, p, t->w + p->off, e)) != BN_OK)
			break;
		if (!ckpt)
			continue;
		snprintf(name, sizeof name, "optim.m.%s", p->name);
		if ((st = write_f32(w, name, p, t->m + p->off, e)) != BN_OK)
			break;
		snprintf(name, sizeof name, "optim.v.%s", p->name);
		st = write_f32(w, name, p, t->v + p->off, e);
	}
	if (st == BN_OK)
		st = bnt_writer_finish(w);
	if (st != BN_OK && e->msg[0] == '\0')
		bn_seterr(e, st, "%s", bnt_writer_error(w));
	bnt_writer_free(w);
	return st;
}

/* A checkpoint into the stream the hooks open (or path, in place).  A
 * write error is BN_EIO, "path: detail". */
static int
checkpoint(struct run *r, struct bn_err *e)
{
	const struct bn_qat_hooks *h = &r->o->hooks;
	char path[4096];
	struct bn_err we = { "" };
	FILE *fp = NULL;
	int st, cst;

	snprintf(path, sizeof path, "%s/ckpt-%06d.bnt", r->o->ckpt_dir,
	    r->step);
	if (h->ckpt_open != NULL) {
		if ((st = h->ckpt_open(h->ctx, path, r->step, &fp, e)) !=
		    BN_OK)
			return st;
	} else if ((fp = fopen(path, "wb")) == NULL)
		return bn_seterr(e, BN_ECANTCREAT, "%s: %s", path,
		    strerror(errno));
	st = BN_OK;
	if (write_model(r, fp, 1, &we) != BN_OK)
		st = bn_seterr(e, BN_EIO, "%s: %s", path, we.msg);
	if (h->ckpt_close != NULL)
		cst = h->ckpt_close(h->ctx, fp, st == BN_OK, e);
	else if (fclose(fp) != 0 && st == BN_OK)
		cst = bn_seterr(e, BN_EIO, "%s: %s", path, strerror(errno));
	else
		cst = BN_OK;
	return st != BN_OK ? st : cst;
}

/* Restore the run's state from the checkpoint in r->map. */
static int
restore(struct run *r, struct bn_err *e)
{
	const struct bn_kv *kv = &r->map.config;
	struct bn_train *t = r->t;
	const char *s = bn_kv_get(kv, "train.rng");
	char name[96], hex[17];
	uint64_t u;
	int i, k;

	if (bn_kv_get_u64(kv, "train.step", &u) != 0 || u > INT32_MAX ||
	    s == NULL || strlen(s) != 64 ||
	    bn_kv_get_u64(kv, "train.windows", &r->windows) != 0)
		return bn_seterr(e, BN_EFORMAT, "not a checkpoint (no "
		    "train.step, train.rng or train.windows)");
	r->step = (int)u;
	for (k = 0; k < 4; k++) {
		char *end;

		memcpy(hex, s + 16 * k, 16);
		hex[16] = '\0';
		errno = 0;
		r->rng.s[k] = strtoull(hex, &end, 16);
		if (*end != '\0' || errno != 0)
			return bn_seterr(e, BN_EFORMAT, "train.rng: not 64 hex "
			    "digits");
	}
	for (i = 0; i < t->np; i++) {
		const struct bn_tparam *p = &t->p[i];
		const struct bnt_map_tensor *m, *v;

		snprintf(name, sizeof name, "optim.m.%s", p->name);
		m = bnt_map_find(&r->map, name);
		snprintf(name, sizeof name, "optim.v.%s", p->name);
		v = bnt_map_find(&r->map, name);
		if (m == NULL || v == NULL || m->t.dtype != BN_DTYPE_F32 ||
		    v->t.dtype != BN_DTYPE_F32 ||
		    m->t.nelem != p->rows * p->cols ||
		    v->t.nelem != p->rows * p->cols)
			return bn_seterr(e, BN_EFORMAT, "%s: no f32 optimizer "
			    "state of its shape", p->name);
		memcpy(t->m + p->off, m->data, p->rows * p->cols *
		    sizeof(float));
		memcpy(t->v + p->off, v->data, p->rows * p->cols *
		    sizeof(float));
	}
	return BN_OK;
}

static void
run_free(struct run *r)
{
	bn_train_free(r->t);
	bn_tokenizer_free(r->tk);
	corpus_close(&r->train);
	corpus_close(&r->val);
	free(r->batch);
	free(r->tlogits);
	free(r->thid);
	free(r->hl);
	free(r->tqkv[0]);
	free(r->tqkv[1]);
	free(r->tqkv[2]);
	if (r->ts != NULL)
		bn_state_free(r->ts);
	if (r->have_teacher)
		bn_model_close(&r->teacher);
	bnt_map_close(&r->map);
}

/* Hidden-state distillation: the layers, checked against both models,
 * and room for the teacher's outputs, which its hook fills. */
static int
hid_setup(struct run *r, struct bn_err *e)
{
	const struct bn_qat_opts *o = r->o;
	const struct bn_config *c = &r->t->c;
	int k, j;

	if (r->teacher.c.hidden != c->hidden)
		return bn_seterr(e, BN_EUSAGE, "%s: hidden size %d, the "
		    "student has %d (--distill-hidden compares them)",
		    o->teacher, r->teacher.c.hidden, c->hidden);
	r->nhl = o->nhid_layers > 0 ? o->nhid_layers : c->layers;
	if ((r->hl = malloc((size_t)r->nhl * sizeof *r->hl)) == NULL)
		return bn_seterr(e, BN_ENOMEM, "out of memory");
	for (k = 0; k < r->nhl; k++) {
		r->hl[k] = o->nhid_layers > 0 ? o->hid_layers[k] : k;
		if (r->hl[k] < 0 || r->hl[k] >= c->layers ||
		    r->hl[k] >= r->teacher.c.layers)
			return bn_seterr(e, BN_EUSAGE,
			    "--distill-hidden-layers: layer %d: the student "
			    "has %d layers, the teacher %d (from 0)", r->hl[k],
			    c->layers,
			    r->teacher.c.layers);
		for (j = 0; j < k; j++)
			if (r->hl[j] == r->hl[k])
				return bn_seterr(e, BN_EUSAGE,
				    "--distill-hidden-layers: layer %d twice",
				    r->hl[k]);
	}
	if ((r->thid = malloc((size_t)r->nhl * (size_t)r->lb *
	    (size_t)o->ctx * (size_t)c->hidden * sizeof *r->thid)) == NULL)
		return bn_seterr(e, BN_ENOMEM, "out of memory");
	bn_state_set_hook(r->ts, teach_hook, r);
	return BN_OK;
}

/* Attention-relation distillation: the layer, checked against both
 * models, the trainer's part, and room for the teacher's q, k, v. */
static int
att_setup(struct run *r, struct bn_err *e)
{
	const struct bn_qat_opts *o = r->o;
	const struct bn_config *c = &r->t->c, *tc = &r->teacher.c;
	int k, st;

	r->att_layer = o->att_layer >= 0 ? o->att_layer : c->layers - 1;
	if (r->att_layer >= c->layers || r->att_layer >= tc->layers)
		return bn_seterr(e, BN_EUSAGE, "--distill-attn-layer %d: the "
		    "student has %d layers, the teacher %d (from 0)",
		    r->att_layer, c->layers, tc->layers);
	r->tdim[0] = (size_t)tc->heads * (size_t)tc->head_dim;
	r->tdim[1] = r->tdim[2] = (size_t)tc->kv_heads * (size_t)tc->head_dim;
	if ((st = bn_train_attn(r->t, r->att_layer, c->heads, o->att_weight,
	    o->att_temp, r->tdim, e)) != BN_OK) {
		bn_err_prefix(e, "--distill-attn");
		return st;
	}
	for (k = 0; k < 3; k++)
		if ((r->tqkv[k] = malloc((size_t)r->lb * (size_t)o->ctx *
		    r->tdim[k] * sizeof(float))) == NULL)
			return bn_seterr(e, BN_ENOMEM, "out of memory");
	bn_state_set_hook(r->ts, teach_hook, r);
	bn_state_hook_qkv(r->ts, 1);
	return BN_OK;
}

int
bn_qat_run(const struct bn_qat_opts *o, FILE *out, struct bn_err *e)
{
	struct run r;
	const struct bn_qat_hooks *h = &o->hooks;
	const char *src = o->resume != NULL ? o->resume : o->input;
	size_t T = (size_t)o->ctx, V, nwin = 0, b, tokens = 0;
	double t0, last = NAN, val = NAN, loss = 0;
	int st, s0, warmup = o->warmup >= 0 ? o->warmup : o->steps / 10;

	memset(&r, 0, sizeof r);
	r.train.fd = r.val.fd = -1;
	r.o = o;
	r.nranks = 1;
#ifdef BN_MPI
	MPI_Comm_rank(MPI_COMM_WORLD, &r.rank);
	MPI_Comm_size(MPI_COMM_WORLD, &r.nranks);
#endif
	if (o->batch % r.nranks != 0)
		return bn_seterr(e, BN_EUSAGE, "--batch %d: not a multiple of "
		    "the %d ranks", o->batch, r.nranks);
	r.lb = o->batch / r.nranks;
	if ((st = bnt_map_open(&r.map, src, o->nonfinite ? BNT_MAP_NONFINITE :
	    0, e)) != BN_OK) {
		bn_err_prefix(e, "%s", src);
		return st;
	}
	if (!r.map.has_vocab) {
		bnt_map_close(&r.map);
		return bn_seterr(e, BN_EFORMAT, "%s: no tokenizer (the "
		    "training text is tokenized with the model's)", src);
	}
	if ((st = bn_train_new(&r.t, &r.map, o->quant, r.lb, o->ctx,
	    o->threads, e)) != BN_OK) {
		bn_err_prefix(e, "%s", src);
		goto fail;
	}
	V = (size_t)r.t->c.vocab;
	if ((st = bn_tokenizer_new(&r.tk, &r.map.vocab, e)) != BN_OK ||
	    (st = corpus_open(&r.train, o->train, r.tk, r.t->c.vocab, e)) !=
	    BN_OK || (o->val != NULL && (r.have_val = 1) &&
	    (st = corpus_open(&r.val, o->val, r.tk, r.t->c.vocab, e)) !=
	    BN_OK))
		goto fail;
	if (r.train.n < T + 2) {
		st = bn_seterr(e, BN_EUSAGE, "%s: %" PRIu64 " tokens, fewer "
		    "than one window of %zu", o->train, r.train.n, T + 1);
		goto fail;
	}
	if ((r.batch = malloc((size_t)r.lb * (T + 1) * sizeof *r.batch)) ==
	    NULL) {
		st = bn_seterr(e, BN_ENOMEM, "out of memory");
		goto fail;
	}
	if (o->teacher != NULL) {
		if ((st = bn_model_open_flags(&r.teacher, o->teacher,
		    o->nonfinite ? BN_MODEL_NONFINITE : 0, e)) != BN_OK) {
			bn_err_prefix(e, "%s", o->teacher);
			goto fail;
		}
		r.have_teacher = 1;
		if (r.teacher.c.vocab != r.t->c.vocab) {
			st = bn_seterr(e, BN_EUSAGE, "%s: vocabulary of %d tokens, "
			    "the student has %d", o->teacher, r.teacher.c.vocab,
			    r.t->c.vocab);
			goto fail;
		}
		if ((st = bn_state_new(&r.ts, &r.teacher, o->ctx, o->ctx,
		    o->threads, e)) != BN_OK ||
		    (r.tlogits = malloc((size_t)r.lb * T * V *
		    sizeof *r.tlogits)) == NULL) {
			if (st == BN_OK)
				st = bn_seterr(e, BN_ENOMEM, "out of memory");
			goto fail;
		}
		if (o->hid_distill && (st = hid_setup(&r, e)) != BN_OK)
			goto fail;
		if (o->att_weight > 0 && (st = att_setup(&r, e)) != BN_OK)
			goto fail;
	}
	bn_rng_seed(&r.rng, o->seed);
	if (o->resume != NULL && (st = restore(&r, e)) != BN_OK) {
		bn_err_prefix(e, "%s", o->resume);
		goto fail;
	}
	if (r.rank == 0 && h->start != NULL &&
	    (st = h->start(h->ctx, r.step, e)) != BN_OK)
		goto fail;
	if (r.rank == 0 && o->ckpt_dir != NULL && mkdir(o->ckpt_dir, 0777) != 0 &&
	    errno != EEXIST) {
		st = bn_seterr(e, BN_ECANTCREAT, "%s: %s", o->ckpt_dir,
		    strerror(errno));
		goto fail;
	}
	t0 = now();
	s0 = r.step;
	while (r.step < o->steps) {
		struct bn_qat_step rs;
		double ce, kl, hid, att, norm, dt, sums[5];
		int k;
		float lam;
		float lr = bn_train_lr(r.step, o->steps, warmup, o->lr,
		    o->min_lr);

		for (b = 0; b < (size_t)o->batch; b++) {
			uint64_t off = bn_rng_below(&r.rng, r.train.n - T);

			/* every rank draws all; keeps its slice */
			if (b / (size_t)r.lb == (size_t)r.rank &&
			    (st = corpus_read(&r.train, off, T + 1, r.batch +
			    (b % (size_t)r.lb) * (T + 1), e)) != BN_OK)
				goto fail;
			r.windows++;
		}
		if (r.have_teacher && (st = teach(&r, e)) != BN_OK)
			goto fail;
		lam = bn_train_lambda(r.step, o->lambda_warmup,
		    o->lambda_shape);
		r.t->lambda = lam;
		if (r.thid != NULL) {
			r.t->th = r.thid;
			r.t->hl = r.hl;
			r.t->nhl = r.nhl;
			r.t->hid_cos = o->hid_distill == 2;
			r.t->hid_weight = o->hid_weight;
		}
		for (k = 0; r.tqkv[0] != NULL && k < 3; k++)
			r.t->ta[k] = r.tqkv[k];
		loss = bn_train_step(r.t, r.batch, r.lb, r.have_teacher ?
		    r.tlogits : NULL, o->alpha, o->tau, 1, &ce, &kl);
		hid = r.thid != NULL ? r.t->hid_loss : 0;
		att = r.tqkv[0] != NULL ? r.t->att_loss : 0;
		if (r.nranks > 1) {
			sums[0] = loss;
			sums[1] = ce;
			sums[2] = kl;
			sums[3] = hid;
			sums[4] = att;
			sum_ranks(&r, sums, 5);
			loss = sums[0] / r.nranks;
			ce = sums[1] / r.nranks;
			kl = sums[2] / r.nranks;
			hid = sums[3] / r.nranks;
			att = sums[4] / r.nranks;
			average_grads(&r);
		}
		if (!isfinite(loss)) {
			st = bn_seterr(e, BN_EFORMAT, "step %d: the loss is %g",
			    r.step + 1, loss);
			goto fail;
		}
		norm = bn_train_clip(r.t, o->clip);
		bn_train_adamw(r.t, r.step + 1, lr, o->beta1, o->beta2, o->eps,
		    o->wd);
		r.step++;
		tokens += (size_t)o->batch * T;
		val = NAN;
		if (r.have_val && ((o->eval_every > 0 &&
		    r.step % o->eval_every == 0) || r.step == o->steps)) {
			if ((st = validate(&r, &nwin, &val, e)) != BN_OK)
				goto fail;
			last = val;
		}
		dt = now() - t0;
		if (r.rank == 0 && h->step != NULL) {
			memset(&rs, 0, sizeof rs);
			rs.lambda = lam;
			rs.hid = hid;
			rs.att = att;
			rs.step = r.step;
			rs.steps = o->steps;
			rs.loss = loss;
			rs.ce = ce;
			rs.teacher = r.have_teacher;
			rs.kl = r.have_teacher ? kl : 0;
			rs.lr = lr;
			rs.grad_norm = norm;
			rs.tokens = (uint64_t)r.step * (uint64_t)o->batch * T;
			rs.val = val;
			rs.last_val = last;
			rs.ranks = r.nranks;
			rs.comm_s = r.comm;
			rs.tok_s = (double)tokens / dt;
			rs.eta_s = dt / (double)(r.step - s0) *
			    (double)(o->steps - r.step);
			h->step(h->ctx, &rs);
		}
		if (r.rank == 0 && o->ckpt_dir != NULL && o->ckpt_every > 0 &&
		    (r.step % o->ckpt_every == 0 || r.step == o->steps) &&
		    (st = checkpoint(&r, e)) != BN_OK)
			goto fail;
	}
	if (r.rank == 0 && h->end != NULL)
		h->end(h->ctx, last, nwin);
	st = out != NULL ? write_model(&r, out, 0, e) : BN_OK;
fail:
	run_free(&r);
	return st;
}
