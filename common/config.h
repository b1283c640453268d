/* config.h: a model's configuration record (bnt(5)) as typed values,
 * with the defaults every tool applies. */
#ifndef BN_CONFIG_H
#define BN_CONFIG_H

#include "kv.h"
#include "status.h"

enum bn_arch {
	BN_ARCH_LLAMA = 1,
	BN_ARCH_BITNET = 2,	/* + attn_sub_norm, ffn_sub_norm */
	BN_ARCH_QWEN2 = 3,	/* + q, k, v biases */
	BN_ARCH_QWEN3 = 4	/* + per-head q and k RMSNorm before RoPE */
};
enum bn_rope_scaling { BN_ROPE_NONE = 0, BN_ROPE_LLAMA3 = 1 };
enum bn_act { BN_ACT_SILU = 1, BN_ACT_RELU2 = 2 };

struct bn_config {
	int arch;
	int vocab, hidden, layers, heads, kv_heads, head_dim, ffn, ctx;
	float norm_eps, rope_theta;
	int rope_interleaved;	/* 0: HF rotate-half, 1: GGUF pairs */
	int rope_scaling;	/* enum bn_rope_scaling */
	float rope_factor, rope_low_freq, rope_high_freq;	/* llama3 */
	int rope_orig_ctx;	/* llama3: original_max_position_embeddings */
	int act;
	int tied;
	int bitlinear;		/* float projections ternarized on load */
	int bos, eos, pad;	/* -1 if none */
};

/* The architecture named s (the config record's arch value): BN_ARCH_*,
 * or 0 if bntools has no such architecture; and back ("?" for 0). */
int bn_arch_from_name(const char *s);
const char *bn_arch_name(int arch);

/*
 * Fill c from a configuration record, checked by the rules of bnt(5)
 * that every tool applies: arch, vocab_size, hidden_size, n_layers,
 * n_heads and ffn_size present; counts (with n_kv_heads, ctx_len and
 * rope_orig_ctx_len) integers from 1 to 2^30; n_heads a multiple of
 * n_kv_heads; head_dim even; booleans 0 or 1; bos_id, eos_id and pad_id
 * below vocab_size; norm_eps, rope_theta and the llama3 factors finite
 * and above 0; rope_style, rope_scaling and act of the values bnt(5)
 * lists.  BN_OK, or BN_EFORMAT / BN_EUNSUPPORTED with a message naming
 * the key in e.
 */
int bn_config_from_kv(struct bn_config *c, const struct bn_kv *kv,
    struct bn_err *e);
/* The same rules for a record of any arch, as bnverify and bnpack
 * apply them: an arch bntools does not implement is no error here. */
int bn_config_check(const struct bn_kv *kv, struct bn_err *e);
/*
 * A tokenizer record (its metadata vkv and its n_tokens) alone, or with
 * cfg not NULL against that configuration: the tokenizer's bos_id,
 * eos_id, unk_id and pad_id are token ids below n_tokens; n_tokens is
 * at most vocab_size (a model may have rows no token uses, as padding,
 * but never a token without a row); the config's bos_id, eos_id and
 * pad_id are below n_tokens.  A cfg that breaks its own rules is left
 * to bn_config_check.  BN_OK or BN_EFORMAT with a detail in e.
 */
int bn_config_check_vocab(const struct bn_kv *cfg, const struct bn_kv *vkv,
    uint64_t n_tokens, struct bn_err *e);

struct bnt_map;
/* A model's configuration as every loader takes it: c from the
 * config record of m (which has one) by bn_config_from_kv, and the
 * tokenizer record, if m has one, checked against it. */
int bn_config_from_map(struct bn_config *c, const struct bnt_map *m,
    struct bn_err *e);

/* The one RoPE table builder, as transformers computes the angles, in
 * f32: for positions p < npos and i < head_dim / 2, cosv and sinv
 * [p * head_dim / 2 + i] of p * bn_rope_inv_freq(c, i).  The forward
 * pass, the trainer and the ONNX export use it. */
void bn_rope_table(const struct bn_config *c, size_t npos, float *cosv,
    float *sinv);

/* The inverse frequency of pair i < head_dim / 2 that bn_rope_table uses:
 * 1 / rope_theta^(2i / head_dim), with the llama3 rope_scaling applied. */
float bn_rope_inv_freq(const struct bn_config *c, int i);

#endif
