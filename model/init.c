/* init.c: a freshly initialised llama, bitnet, qwen2 or qwen3 model as a
 * bnt(5) stream.
 *
 * The initialisation is transformers' (LlamaPreTrainedModel._init_weights,
 * which BitNetPreTrainedModel inherits, and Qwen2's and Qwen3's, the
 * same): every nn.Linear and nn.Embedding weight is drawn from N(0,
 * initializer_range^2) with initializer_range = 0.02, the row padding_idx
 * (= pad_token_id) of the embedding is then set to zero, every bias
 * (qwen2's q, k and v) is 0 and every RMSNorm weight (qwen3's per-head
 * q and k norms too) is 1.  Biases and norms draw nothing.  BitNet's
 * BitLinear layers keep float master weights initialised the same way;
 * they are ternarized by the forward pass (bitlinear=1), not here.
 *
 * The normals must be the same bytes on every machine for a given seed,
 * so they use no libc generator and no libm transcendental function:
 *
 *   state  s[0..3] = four successive outputs of splitmix64(seed)
 *   next   xoshiro256** (Blackman and Vigna 2018) on s
 *   u1     = ((next >> 11) + 1) * 2^-53      in (0, 1]
 *   u2     =  (next >> 11)      * 2^-53      in [0, 1)
 *   z0, z1 = sqrt(-2 ln u1) * (cos, sin)(2 pi u2)      (Box-Muller)
 *
 * z0 is used first, then z1, then the next pair.  ln, sin and cos are
 * computed below with +, -, *, / and frexp only (a series each, accurate
 * to about 1e-16), and sqrt is correctly rounded by IEEE 754, so with
 * FP contraction off (config.mk) the results are bit-identical wherever
 * double is IEEE binary64 evaluated without excess precision.  Each
 * weight is (float)(0.02 * z), drawn in the order the tensors are
 * written, each tensor row-major. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "dtype.h"
#include "import.h"
#include "init.h"
#include "mem.h"
#include "rng.h"
#include "roles.h"

/* ---- the generator ---- */

struct rng {
	struct bn_rng x;	/* xoshiro256** seeded by splitmix64 */
	double spare;
	int has_spare;
};

static void
rng_seed(struct rng *r, uint64_t seed)
{
	bn_rng_seed(&r->x, seed);
	r->has_spare = 0;
	r->spare = 0;
}

/* ln x for x in (0, 1]: x = m 2^k with m in [sqrt(1/2), sqrt(2)), and
 * ln m = 2 atanh(f) = 2 (f + f^3/3 + f^5/5 + ...), f = (m-1)/(m+1),
 * |f| < 0.172, summed to f^25 (error below 1e-20). */
static double
det_log(double x)
{
	double m, f, f2, s;
	int k, i;

	m = frexp(x, &k);
	if (m < 0.70710678118654752440) {
		m *= 2;
		k--;
	}
	f = (m - 1) / (m + 1);
	f2 = f * f;
	s = 0;
	for (i = 12; i >= 0; i--)
		s = 2.0 / (2 * i + 1) + f2 * s;
	return k * 0.69314718055994530942 + f * s;
}

/* cos and sin of 2 pi t for t in [0, 1): quarter-turn q, x in
 * [0, pi/2), Taylor series in nested form to x^25 (error below 1e-20). */
static void
det_cossin(double t, double *c, double *s)
{
	double x, x2, cs, sn;
	int q, k;

	q = (int)(t * 4);
	x = (t * 4 - q) * 1.57079632679489661923;
	x2 = x * x;
	cs = sn = 1;
	for (k = 12; k >= 1; k--) {
		sn = 1 - x2 / ((2.0 * k) * (2.0 * k + 1)) * sn;
		cs = 1 - x2 / ((2.0 * k - 1) * (2.0 * k)) * cs;
	}
	sn *= x;
	switch (q & 3) {
	case 0: *c = cs; *s = sn; break;
	case 1: *c = -sn; *s = cs; break;
	case 2: *c = -cs; *s = -sn; break;
	default: *c = sn; *s = -cs; break;
	}
}

static double
rng_normal(struct rng *r)
{
	double u1, u2, rad, c, s;

	if (r->has_spare) {
		r->has_spare = 0;
		return r->spare;
	}
	u1 = (double)((bn_rng_next(&r->x) >> 11) + 1) * 0x1p-53;
	u2 = bn_rng_double(&r->x);
	rad = sqrt(-2 * det_log(u1));
	det_cossin(u2, &c, &s);
	r->spare = rad * s;
	r->has_spare = 1;
	return rad * c;
}

/* ---- options ---- */

static int
range(const char *what, int v, int max, struct bn_err *e)
{
	if (v < 1 || v > max)
		return bn_seterr(e, BN_EUSAGE, "%s %d is out of range (1 to "
		    "%d)", what, v, max);
	return BN_OK;
}

/* The head size: --head-dim, or hidden / heads. */
static int
head_dim(const struct bn_init_opts *o)
{
	return o->head_dim != 0 ? o->head_dim : o->hidden / o->heads;
}

/* Parameters of the model o describes with V tokens; -1 on overflow. */
static int
count_params(const struct bn_init_opts *o, uint64_t V, uint64_t *n)
{
	uint64_t H = (uint64_t)o->hidden, F = (uint64_t)o->ffn;
	uint64_t hd = (uint64_t)head_dim(o);
	uint64_t Q = hd * (uint64_t)o->heads, KV = hd * (uint64_t)o->kv_heads;
	uint64_t a, b, per, tot;

	/* per layer: 2 norms, q, k, v, o, gate, up, down, bitnet sub-norms,
	 * qwen2's biases, qwen3's q and k norms */
	if (bn_mul_u64(Q + 2 * KV + Q, H, &a) || bn_mul_u64(3 * F, H, &b) ||
	    bn_add_u64(a, b, &per) || bn_add_u64(per, 2 * H, &per) ||
	    (o->arch == BN_ARCH_BITNET && bn_add_u64(per, Q + F, &per)) ||
	    (o->arch == BN_ARCH_QWEN2 && bn_add_u64(per, Q + 2 * KV, &per)) ||
	    (o->arch == BN_ARCH_QWEN3 && bn_add_u64(per, 2 * hd, &per)) ||
	    bn_mul_u64(per, (uint64_t)o->layers, &tot) ||
	    bn_mul_u64(V, H, &a) ||
	    bn_add_u64(tot, o->arch == BN_ARCH_BITNET ? a : 2 * a, &tot) ||
	    bn_add_u64(tot, H, &tot))
		return -1;
	*n = tot;
	return 0;
}

int
bn_init_check(struct bn_init_opts *o, uint32_t vocab, struct bn_err *e)
{
	uint64_t n;
	int st;

	if (o->arch != BN_ARCH_LLAMA && o->arch != BN_ARCH_BITNET &&
	    o->arch != BN_ARCH_QWEN2 && o->arch != BN_ARCH_QWEN3)
		return bn_seterr(e, BN_EUSAGE, "unknown architecture");
	if (o->kv_heads == 0)
		o->kv_heads = o->heads == 0 ? 4 : o->heads;
	if (o->hidden == 0)
		o->hidden = 256;
	if (o->layers == 0)
		o->layers = 6;
	if (o->heads == 0)
		o->heads = 8;
	if (o->ffn == 0)
		o->ffn = 768;
	if (o->ctx == 0)
		o->ctx = 256;
	if ((st = range("hidden", o->hidden, BN_INIT_MAX_HIDDEN, e)) ||
	    (st = range("layers", o->layers, BN_INIT_MAX_LAYERS, e)) ||
	    (st = range("heads", o->heads, BN_INIT_MAX_HEADS, e)) ||
	    (st = range("kv-heads", o->kv_heads, BN_INIT_MAX_HEADS, e)) ||
	    (st = range("ffn", o->ffn, BN_INIT_MAX_FFN, e)) ||
	    (st = range("ctx", o->ctx, BN_INIT_MAX_CTX, e)) ||
	    (o->head_dim != 0 && (st = range("head-dim", o->head_dim,
	    BN_INIT_MAX_HIDDEN, e))))
		return st;
	if (o->head_dim == 0 && o->hidden % o->heads != 0)
		return bn_seterr(e, BN_EUSAGE, "heads %d does not divide hidden "
		    "%d", o->heads, o->hidden);
	if (o->heads % o->kv_heads != 0)
		return bn_seterr(e, BN_EUSAGE, "kv-heads %d does not divide "
		    "heads %d", o->kv_heads, o->heads);
	if (o->head_dim == 0 && (o->hidden / o->heads) % 2 != 0)
		return bn_seterr(e, BN_EUSAGE, "head size %d (hidden / heads) "
		    "is odd", o->hidden / o->heads);
	if (o->head_dim % 2 != 0)
		return bn_seterr(e, BN_EUSAGE, "head-dim %d is odd",
		    o->head_dim);
	if (vocab == 0)
		return bn_seterr(e, BN_EUSAGE, "the vocabulary is empty");
	if (count_params(o, vocab, &n) != 0 || n > BN_INIT_MAX_PARAMS)
		return bn_seterr(e, BN_EUSAGE, "too many parameters (more than "
		    "%llu)", (unsigned long long)BN_INIT_MAX_PARAMS);
	return BN_OK;
}

/* ---- the tokenizer source ---- */

struct vsink {
	struct bn_vocab *v;
	int got;
	struct bn_err *e;
};

static int
copy_vocab(struct bn_vocab *dst, const struct bn_vocab *src,
    struct bn_err *e)
{
	unsigned char *data = NULL;
	char *meta = NULL;
	size_t mlen, dlen;
	int st;

	if (bn_vocab_encode(src, &meta, &mlen, &data, &dlen) != 0)
		return bn_seterr(e, BN_ENOMEM, "out of memory");
	st = bn_vocab_decode(dst, meta, mlen, data, dlen, e);
	free(meta);
	free(data);
	return st;
}

static int
sink_vocab(void *ctx, const struct bn_vocab *v)
{
	struct vsink *s = ctx;
	int st;

	if (s->got)
		return BN_OK;
	if ((st = copy_vocab(s->v, v, s->e)) == BN_OK)
		s->got = 1;
	return st;
}

/* Tensors come after the vocabulary: stop reading there. */
static int
sink_tensor(void *ctx, const struct bnt_tensor *t, const void *data,
    const void *scales)
{
	(void)ctx;
	(void)t;
	(void)data;
	(void)scales;
	return BN_END;
}

int
bn_init_load_vocab(const char *path, struct bn_vocab *v, struct bn_err *e)
{
	struct vsink vs = { v, 0, e };
	struct bn_sink s = { &vs, NULL, sink_vocab, sink_tensor };
	int st;

	st = bn_import_path(path, &s, e);
	if (st == BN_END)
		st = BN_OK;
	if (st == BN_OK && !vs.got)
		st = bn_seterr(e, BN_EFORMAT, "no tokenizer");
	return st;
}

/* ---- the model ---- */

/* A tensor of normal draws (normal) or of the value one. */
static int
put_tensor(struct bnt_writer *w, struct rng *r, const char *name,
    uint64_t d0, uint64_t d1, int normal, float one, int64_t zero_row,
    struct bn_err *e)
{
	struct bnt_tensor t;
	uint64_t i, n;
	float *buf;
	int st;

	memset(&t, 0, sizeof t);
	t.name = name;
	t.dtype = BN_DTYPE_F32;
	t.scale_kind = BNT_SCALE_NONE;
	t.ndim = d1 != 0 ? 2 : 1;
	t.dims[0] = d0;
	t.dims[1] = d1;
	if ((st = bnt_tensor_layout(&t, e)) != BN_OK) {
		bn_err_prefix(e, "%s", name);
		return st;
	}
	n = t.nelem;
	if (n > SIZE_MAX / sizeof *buf ||
	    (buf = malloc((size_t)n * sizeof *buf)) == NULL)
		return bn_seterr(e, BN_ENOMEM, "%s: out of memory", name);
	for (i = 0; i < n; i++)
		buf[i] = normal ? (float)(BN_INIT_STD * rng_normal(r)) : one;
	if (zero_row >= 0 && d1 != 0 && (uint64_t)zero_row < d0)
		memset(buf + (uint64_t)zero_row * d1, 0, (size_t)d1 *
		    sizeof *buf);
	st = bnt_write_tensor(w, &t, buf, NULL);
	free(buf);
	if (st != BN_OK)
		return bn_seterr(e, st, "%s", bnt_writer_error(w));
	return BN_OK;
}

/* A special id of the vocabulary, or -1. */
static int64_t
vocab_id(const struct bn_vocab *v, const char *key)
{
	int64_t id;

	if (bn_kv_get_i64(&v->kv, key, &id) != 0 || id < 0 ||
	    id >= (int64_t)v->n_tokens)
		return -1;
	return id;
}

static int
put_config(struct bnt_writer *w, const struct bn_init_opts *o,
    const struct bn_vocab *v, struct bn_err *e)
{
	int bitnet = o->arch == BN_ARCH_BITNET, st = 0;
	int qwen = o->arch == BN_ARCH_QWEN2 || o->arch == BN_ARCH_QWEN3;
	int64_t bos = vocab_id(v, BN_VOC_BOS), eos = vocab_id(v, BN_VOC_EOS);
	int64_t pad = vocab_id(v, BN_VOC_PAD);
	struct bn_kv kv;

	bn_kv_init(&kv);
	st |= bn_kv_set(&kv, BN_CFG_ARCH, bn_arch_name(o->arch));
	st |= bn_kv_setf(&kv, BN_CFG_VOCAB, "%lu", (unsigned long)v->n_tokens);
	st |= bn_kv_setf(&kv, BN_CFG_HIDDEN, "%d", o->hidden);
	st |= bn_kv_setf(&kv, BN_CFG_LAYERS, "%d", o->layers);
	st |= bn_kv_setf(&kv, BN_CFG_HEADS, "%d", o->heads);
	st |= bn_kv_setf(&kv, BN_CFG_KV_HEADS, "%d", o->kv_heads);
	st |= bn_kv_setf(&kv, BN_CFG_HEAD_DIM, "%d", head_dim(o));
	st |= bn_kv_setf(&kv, BN_CFG_FFN, "%d", o->ffn);
	st |= bn_kv_setf(&kv, BN_CFG_CTX, "%d", o->ctx);
	/* transformers' Qwen2Config and Qwen3Config: rms_norm_eps 1e-6 */
	st |= bn_kv_set(&kv, BN_CFG_NORM_EPS, qwen ? "1e-06" : "1e-05");
	st |= bn_kv_set(&kv, BN_CFG_ROPE_THETA, bitnet ? "500000" : "10000");
	st |= bn_kv_set(&kv, BN_CFG_ROPE_STYLE, "half");
	st |= bn_kv_set(&kv, BN_CFG_ACT, bitnet ? "relu2" : "silu");
	st |= bn_kv_set(&kv, BN_CFG_TIED, bitnet ? "1" : "0");
	st |= bn_kv_set(&kv, BN_CFG_BITLINEAR, "1");
	if (bos >= 0)
		st |= bn_kv_setf(&kv, BN_CFG_BOS, "%lld", (long long)bos);
	if (eos >= 0)
		st |= bn_kv_setf(&kv, BN_CFG_EOS, "%lld", (long long)eos);
	if (pad >= 0)
		st |= bn_kv_setf(&kv, BN_CFG_PAD, "%lld", (long long)pad);
	st |= bn_kv_setf(&kv, BN_CFG_SOURCE, "initialised: N(0, %g^2), "
	    "seed %llu", BN_INIT_STD, (unsigned long long)o->seed);
	if (st != 0)
		st = bn_seterr(e, BN_ENOMEM, "out of memory");
	else if ((st = bnt_write_config(w, &kv)) != BN_OK)
		bn_seterr(e, st, "%s", bnt_writer_error(w));
	bn_kv_free(&kv);
	return st;
}

/* Role id of layer l, present in the architecture: ones for a norm,
 * zeros for a bias, N(0, std^2) for the rest; the embedding's pad row
 * zero. */
static int
put_role(struct bnt_writer *w, struct rng *r, int id, int l,
    const struct bn_dims *d, int64_t pad, struct bn_err *e)
{
	const struct bn_role *ro = &bn_roles[id];
	uint64_t rows, cols;
	char nm[64];

	bn_role_shape(id, d, &rows, &cols);
	bn_role_name(id, l, nm, sizeof nm);
	if (rows == 0)
		return put_tensor(w, r, nm, cols, 0, 0, ro->kind ==
		    BN_ROLE_BIAS ? 0.0f : 1.0f, -1, e);
	return put_tensor(w, r, nm, rows, cols, ro->kind != BN_ROLE_NORM,
	    1.0f, ro->kind == BN_ROLE_EMBED ? pad : -1, e);
}

/* The tensors in the order of the table (roles.h): the top ones before
 * the layers, each layer's, the top ones after. */
int
bn_init_model(struct bnt_writer *w, const struct bn_init_opts *o,
    const struct bn_vocab *vocab, struct bn_err *e)
{
	uint64_t H = (uint64_t)o->hidden, hd = (uint64_t)head_dim(o);
	int64_t pad = vocab_id(vocab, BN_VOC_PAD);
	int bitnet = o->arch == BN_ARCH_BITNET, i, id, j, end, st;
	struct bn_dims d;
	struct rng r;

	d.d[BN_DIM_NONE] = 0;
	d.d[BN_DIM_VOCAB] = vocab->n_tokens;
	d.d[BN_DIM_HIDDEN] = H;
	d.d[BN_DIM_Q] = hd * (uint64_t)o->heads;
	d.d[BN_DIM_KV] = hd * (uint64_t)o->kv_heads;
	d.d[BN_DIM_FFN] = (uint64_t)o->ffn;
	d.d[BN_DIM_HEAD] = hd;
	if ((st = put_config(w, o, vocab, e)) != BN_OK)
		return st;
	if ((st = bnt_write_tokenizer(w, vocab)) != BN_OK)
		return bn_seterr(e, st, "%s", bnt_writer_error(w));
	rng_seed(&r, o->seed);
	for (id = 0; id < BN_R_COUNT; id = end) {
		for (end = id + 1; bn_roles[id].layer && end < BN_R_COUNT &&
		    bn_roles[end].layer; end++)
			;
		for (i = 0; i < (bn_roles[id].layer ? o->layers : 1); i++)
			for (j = id; j < end; j++)
				if (bn_role_present(j, o->arch, bitnet) &&
				    (st = put_role(w, &r, j, i, &d, pad, e)))
					return st;
	}
	return BN_OK;
}
