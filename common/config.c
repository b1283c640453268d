/* config.c: the configuration record as typed values. */
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "bnt.h"
#include "config.h"
#include "vocab.h"


/*
 * The rules of bnt(5) for a configuration record, the one set that
 * bnverify, bnpack and every model load apply.  Counts and token ids
 * are decimal integers from 0 to 2^30.  def INT32_MIN: the key is
 * required; REQ_OPT: required of an arch bntools runs, else absent
 * reads as 0 (not known) and the rules that need it are skipped.
 */
#define REQ_OPT (INT32_MIN + 1)

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
		*out = def == REQ_OPT ? 0 : def;
		return BN_OK;
	}
	if (rc < 0 || v < 0 || v > (1 << 30))
		return bn_seterr(e, BN_EFORMAT, "config: bad %s '%s'", key,
		    bn_kv_get(kv, key));
	*out = (int)v;
	return BN_OK;
}

/* A count that must be at least 1. */
static int
get_count(const struct bn_kv *kv, const char *key, int def, int *out,
    struct bn_err *e)
{
	int st;

	if ((st = get_int(kv, key, def, out, e)) != BN_OK)
		return st;
	if (*out < 1 && bn_kv_get(kv, key) != NULL)
		return bn_seterr(e, BN_EFORMAT, "config: %s is %d; it must be "
		    "at least 1", key, *out);
	return BN_OK;
}

/* A boolean: 0 or 1. */
static int
get_bool(const struct bn_kv *kv, const char *key, int def, int *out,
    struct bn_err *e)
{
	int st;

	if ((st = get_int(kv, key, def, out, e)) != BN_OK)
		return st;
	if (*out > 1)
		return bn_seterr(e, BN_EFORMAT, "config: %s is %d; it must be "
		    "0 or 1", key, *out);
	return BN_OK;
}

/* A token id (-1: absent), below vocab_size. */
static int
get_id(const struct bn_kv *kv, const char *key, int vocab, int *out,
    struct bn_err *e)
{
	int st;

	if ((st = get_int(kv, key, -1, out, e)) != BN_OK)
		return st;
	if (vocab > 0 && *out >= vocab)
		return bn_seterr(e, BN_EFORMAT, "config: %s %d is not below "
		    "vocab_size %d", key, *out, vocab);
	return BN_OK;
}

/* A finite real above 0. */
static int
get_float(const struct bn_kv *kv, const char *key, double def, float *out,
    struct bn_err *e)
{
	double v;
	int rc = bn_kv_get_f64(kv, key, &v);

	if (rc == 1)
		v = def;
	else if (rc < 0 || !isfinite(v) || v <= 0 || !isfinite((float)v) ||
	    (float)v == 0)
		return bn_seterr(e, BN_EFORMAT, "config: bad %s '%s' (a "
		    "finite number above 0)", key, bn_kv_get(kv, key));
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

/* Fill c from kv by the rules.  An arch bntools does not know is
 * BN_EUNSUPPORTED unless any_arch; then, as with no arch at all, c->arch
 * is 0 and the keys such a record lacks are 0, not known. */
static int
parse(struct bn_config *c, const struct bn_kv *kv, int any_arch,
    struct bn_err *e)
{
	const char *s;
	int st, req;

	memset(c, 0, sizeof *c);
	if ((s = bn_kv_get(kv, BN_CFG_ARCH)) == NULL && !any_arch)
		return bn_seterr(e, BN_EFORMAT, "config: arch is missing");
	if ((c->arch = s != NULL ? bn_arch_from_name(s) : 0) == 0 &&
	    !any_arch)
		return bn_seterr(e, BN_EUNSUPPORTED, "config: unsupported "
		    "arch '%s'", s);
	req = c->arch != 0 ? INT32_MIN : REQ_OPT;
	if ((st = get_count(kv, BN_CFG_VOCAB, req, &c->vocab, e)) ||
	    (st = get_count(kv, BN_CFG_HIDDEN, req, &c->hidden, e)) ||
	    (st = get_count(kv, BN_CFG_LAYERS, req, &c->layers, e)) ||
	    (st = get_count(kv, BN_CFG_HEADS, req, &c->heads, e)) ||
	    (st = get_count(kv, BN_CFG_KV_HEADS, c->heads ? c->heads :
	    REQ_OPT, &c->kv_heads, e)) ||
	    (st = get_count(kv, BN_CFG_FFN, req, &c->ffn, e)) ||
	    (st = get_count(kv, BN_CFG_CTX, 2048, &c->ctx, e)) ||
	    (st = get_bool(kv, BN_CFG_TIED, 0, &c->tied, e)) ||
	    (st = get_bool(kv, BN_CFG_BITLINEAR, c->arch == BN_ARCH_BITNET,
	    &c->bitlinear, e)) ||
	    (st = get_id(kv, BN_CFG_BOS, c->vocab, &c->bos, e)) ||
	    (st = get_id(kv, BN_CFG_EOS, c->vocab, &c->eos, e)) ||
	    (st = get_id(kv, BN_CFG_PAD, c->vocab, &c->pad, e)) ||
	    (st = get_float(kv, BN_CFG_NORM_EPS, 1e-5, &c->norm_eps, e)) ||
	    (st = get_float(kv, BN_CFG_ROPE_THETA, 10000, &c->rope_theta, e)))
		return st;
	if (c->heads > 0 && c->kv_heads > 0 && c->heads % c->kv_heads != 0)
		return bn_seterr(e, BN_EFORMAT, "config: n_heads %d is not a "
		    "multiple of n_kv_heads %d", c->heads, c->kv_heads);
	if ((st = get_int(kv, BN_CFG_HEAD_DIM, c->heads > 0 ? c->hidden /
	    c->heads : REQ_OPT, &c->head_dim, e)) != BN_OK)
		return st;
	if ((c->head_dim <= 0 && (c->arch != 0 ||
	    bn_kv_get(kv, BN_CFG_HEAD_DIM) != NULL)) || c->head_dim % 2 != 0)
		return bn_seterr(e, BN_EFORMAT, "config: bad head_dim %d (an "
		    "even number above 0)", c->head_dim);
	s = bn_kv_get(kv, BN_CFG_ROPE_STYLE);
	if (s != NULL && strcmp(s, "half") != 0 &&
	    strcmp(s, "interleaved") != 0)
		return bn_seterr(e, BN_EFORMAT, "config: unknown rope_style "
		    "'%s'", s);
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
		    (st = get_count(kv, BN_CFG_ROPE_ORIG_CTX, 8192,
		    &c->rope_orig_ctx, e)))
			return st;
		if (c->rope_high_freq <= c->rope_low_freq)
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

int
bn_config_from_kv(struct bn_config *c, const struct bn_kv *kv,
    struct bn_err *e)
{
	return parse(c, kv, 0, e);
}

int
bn_config_check(const struct bn_kv *kv, struct bn_err *e)
{
	struct bn_config c;

	return parse(&c, kv, 1, e);
}

/* Tokenizer id key of v: -1 if absent, -2 if malformed. */
static int64_t
vocab_id(const struct bn_kv *v, const char *key)
{
	uint64_t x;
	int rc = bn_kv_get_u64(v, key, &x);

	return rc == 1 ? -1 : rc < 0 || x > INT64_MAX ? -2 : (int64_t)x;
}

int
bn_config_check_vocab(const struct bn_kv *cfg, const struct bn_kv *vkv,
    uint64_t n_tokens, struct bn_err *e)
{
	static const char *const ids[] = { BN_VOC_BOS, BN_VOC_EOS,
	    BN_VOC_UNK, BN_VOC_PAD };
	static const char *const cids[] = { BN_CFG_BOS, BN_CFG_EOS,
	    BN_CFG_PAD };
	struct bn_config c;
	struct bn_err ce;
	int64_t id;
	size_t i;

	for (i = 0; i < sizeof ids / sizeof ids[0]; i++)
		if ((id = vocab_id(vkv, ids[i])) == -2 ||
		    (id >= 0 && (uint64_t)id >= n_tokens))
			return bn_seterr(e, BN_EFORMAT, "tokenizer: %s '%s' "
			    "is not a token id (of %llu)", ids[i],
			    bn_kv_get(vkv, ids[i]),
			    (unsigned long long)n_tokens);
	/* a config that breaks its own rules is reported for itself */
	if (cfg == NULL || parse(&c, cfg, 1, &ce) != BN_OK)
		return BN_OK;
	/* the model may have rows the tokenizer never produces (padding),
	 * but a token without a row would index past the embeddings */
	if (n_tokens > (uint64_t)c.vocab)
		return bn_seterr(e, BN_EFORMAT, "tokenizer: %llu tokens, more "
		    "than the config's vocab_size %d (token ids %d and above "
		    "have no embedding)", (unsigned long long)n_tokens,
		    c.vocab, c.vocab);
	for (i = 0; i < sizeof cids / sizeof cids[0]; i++)
		if ((id = vocab_id(cfg, cids[i])) >= 0 &&
		    (uint64_t)id >= n_tokens)
			return bn_seterr(e, BN_EFORMAT, "config: %s %lld is "
			    "not a token of the tokenizer (of %llu)", cids[i],
			    (long long)id, (unsigned long long)n_tokens);
	return BN_OK;
}

int
bn_config_from_map(struct bn_config *c, const struct bnt_map *m,
    struct bn_err *e)
{
	int st;

	if ((st = bn_config_from_kv(c, &m->config, e)) != BN_OK)
		return st;
	if (m->has_vocab)
		return bn_config_check_vocab(&m->config, &m->vocab.kv,
		    m->vocab.n_tokens, e);
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
