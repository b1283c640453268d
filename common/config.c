/* config.c: the configuration record as typed values. */
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "config.h"


static int
get_int(const struct bn_kv *kv, const char *key, int def, int *out,
    struct bn_err *e)
{
	int64_t v;
	int rc = bn_kv_get_i64(kv, key, &v);

	if (rc == 1) {
		if (def == INT32_MIN)
			return bn_seterr(e, BN_EFORMAT, "config: %s is missing",
			    key);
		*out = def;
		return BN_OK;
	}
	if (rc < 0 || v < -1 || v > (1 << 30))
		return bn_seterr(e, BN_EFORMAT, "config: bad %s '%s'", key,
		    bn_kv_get(kv, key));
	*out = (int)v;
	return BN_OK;
}

static int
get_float(const struct bn_kv *kv, const char *key, double def, float *out,
    struct bn_err *e)
{
	double v;
	int rc = bn_kv_get_f64(kv, key, &v);

	if (rc == 1)
		v = def;
	else if (rc < 0 || !isfinite(v) || v <= 0)
		return bn_seterr(e, BN_EFORMAT, "config: bad %s '%s'", key,
		    bn_kv_get(kv, key));
	*out = (float)v;
	return BN_OK;
}

static const char *const arch_names[] = {
	[BN_ARCH_LLAMA] = "llama",
	[BN_ARCH_BITNET] = "bitnet",
	[BN_ARCH_QWEN2] = "qwen2",
	[BN_ARCH_QWEN3] = "qwen3",
};

int
bn_arch_from_name(const char *s)
{
	size_t i;

	for (i = 1; i < sizeof arch_names / sizeof arch_names[0]; i++)
		if (arch_names[i] != NULL && strcmp(s, arch_names[i]) == 0)
			return (int)i;
	return 0;
}

const char *
bn_arch_name(int arch)
{
	if (arch <= 0 || (size_t)arch >= sizeof arch_names /
	    sizeof arch_names[0] || arch_names[arch] == NULL)
		return "?";
	return arch_names[arch];
}

int
bn_config_from_kv(struct bn_config *c, const struct bn_kv *kv,
    struct bn_err *e)
{
	const char *s;
	int st;

	memset(c, 0, sizeof *c);
	if ((s = bn_kv_get(kv, BN_CFG_ARCH)) == NULL)
		return bn_seterr(e, BN_EFORMAT, "config: no arch");
	if ((c->arch = bn_arch_from_name(s)) == 0)
		return bn_seterr(e, BN_EUNSUPPORTED, "config: unsupported "
		    "arch '%s'", s);
	if ((st = get_int(kv, BN_CFG_VOCAB, INT32_MIN, &c->vocab, e)) ||
	    (st = get_int(kv, BN_CFG_HIDDEN, INT32_MIN, &c->hidden, e)) ||
	    (st = get_int(kv, BN_CFG_LAYERS, INT32_MIN, &c->layers, e)) ||
	    (st = get_int(kv, BN_CFG_HEADS, INT32_MIN, &c->heads, e)) ||
	    (st = get_int(kv, BN_CFG_KV_HEADS, c->heads, &c->kv_heads, e)) ||
	    (st = get_int(kv, BN_CFG_FFN, INT32_MIN, &c->ffn, e)) ||
	    (st = get_int(kv, BN_CFG_CTX, 2048, &c->ctx, e)) ||
	    (st = get_int(kv, BN_CFG_TIED, 0, &c->tied, e)) ||
	    (st = get_int(kv, BN_CFG_BITLINEAR, c->arch == BN_ARCH_BITNET,
	    &c->bitlinear, e)) ||
	    (st = get_int(kv, BN_CFG_BOS, -1, &c->bos, e)) ||
	    (st = get_int(kv, BN_CFG_EOS, -1, &c->eos, e)) ||
	    (st = get_float(kv, BN_CFG_NORM_EPS, 1e-5, &c->norm_eps, e)) ||
	    (st = get_float(kv, BN_CFG_ROPE_THETA, 10000, &c->rope_theta, e)))
		return st;
	if (c->heads <= 0 || c->kv_heads <= 0 || c->heads % c->kv_heads != 0 ||
	    c->vocab <= 0 || c->hidden <= 0 || c->layers <= 0 || c->ffn <= 0 ||
	    c->ctx <= 0)
		return bn_seterr(e, BN_EFORMAT, "config: inconsistent "
		    "dimensions");
	if ((st = get_int(kv, BN_CFG_HEAD_DIM, c->hidden / c->heads,
	    &c->head_dim, e)) != BN_OK)
		return st;
	if (c->head_dim <= 0 || c->head_dim % 2 != 0)
		return bn_seterr(e, BN_EFORMAT, "config: bad head_dim %d",
		    c->head_dim);
	s = bn_kv_get(kv, BN_CFG_ROPE_STYLE);
	c->rope_interleaved = s != NULL && strcmp(s, "interleaved") == 0;
	s = bn_kv_get(kv, BN_CFG_ROPE_SCALING);
	if (s == NULL || strcmp(s, "none") == 0)
		c->rope_scaling = BN_ROPE_NONE;
	else if (strcmp(s, "llama3") == 0) {
		c->rope_scaling = BN_ROPE_LLAMA3;
		if ((st = get_float(kv, BN_CFG_ROPE_FACTOR, 8, &c->rope_factor,
		    e)) || (st = get_float(kv, BN_CFG_ROPE_LOW_FREQ, 1,
		    &c->rope_low_freq, e)) || (st = get_float(kv,
		    BN_CFG_ROPE_HIGH_FREQ, 4, &c->rope_high_freq, e)) ||
		    (st = get_int(kv, BN_CFG_ROPE_ORIG_CTX, 8192,
		    &c->rope_orig_ctx, e)))
			return st;
		if (c->rope_high_freq <= c->rope_low_freq ||
		    c->rope_orig_ctx <= 0)
			return bn_seterr(e, BN_EFORMAT, "config: bad llama3 "
			    "rope_scaling (high_freq_factor must exceed "
			    "low_freq_factor)");
	} else
		return bn_seterr(e, BN_EUNSUPPORTED, "config: unsupported "
		    "rope_scaling '%s'", s);
	s = bn_kv_get(kv, BN_CFG_ACT);
	c->act = s != NULL ? (strcmp(s, "relu2") == 0 ? BN_ACT_RELU2 :
	    strcmp(s, "silu") == 0 ? BN_ACT_SILU : 0) :
	    c->arch == BN_ARCH_BITNET ? BN_ACT_RELU2 : BN_ACT_SILU;
	if (c->act == 0)
		return bn_seterr(e, BN_EUNSUPPORTED, "config: unsupported act "
		    "'%s'", s);
	return BN_OK;
}

/*
 * transformers' _compute_llama3_parameters, in f32 as torch does it: the
 * wavelengths longer than orig_ctx / low_freq are slowed by factor, those
 * shorter than orig_ctx / high_freq are kept, and those between are blended
 * by the smooth factor.  torch computes x / t as t.reciprocal() * x.
 */
static float
llama3_inv_freq(const struct bn_config *c, float inv)
{
	float wavelen = (1.0f / inv) * 6.28318530717958647692f;
	float lo = (float)((double)c->rope_orig_ctx / c->rope_low_freq);
	float hi = (float)((double)c->rope_orig_ctx / c->rope_high_freq);
	float s;

	if (wavelen > lo)
		return inv / c->rope_factor;
	if (wavelen < hi)
		return inv;
	s = ((1.0f / wavelen) * (float)c->rope_orig_ctx - c->rope_low_freq) /
	    (float)((double)c->rope_high_freq - c->rope_low_freq);
	return (1.0f - s) * inv / c->rope_factor + s * inv;
}

float
bn_rope_inv_freq(const struct bn_config *c, int i)
{
	float inv = 1.0f / powf(c->rope_theta, (float)(2 * i) /
	    (float)c->head_dim);

	if (c->rope_scaling == BN_ROPE_LLAMA3)
		inv = llama3_inv_freq(c, inv);
	return inv;
}

void
bn_rope_table(const struct bn_config *c, size_t npos, float *cosv,
    float *sinv)
{
	size_t half = (size_t)c->head_dim / 2, i, p;

	for (i = 0; i < half; i++) {
		float inv = bn_rope_inv_freq(c, (int)i);

		for (p = 0; p < npos; p++) {
			float a = (float)p * inv;

			cosv[p * half + i] = cosf(a);
			sinv[p * half + i] = sinf(a);
		}
	}
}
