/* kv.h: ordered key=value lists: the model configuration (bnt(5)). */
#ifndef BN_KV_H
#define BN_KV_H

#include <stddef.h>
#include <stdint.h>

/* Documented configuration keys (bnt(5), "Configuration record"). */
#define BN_CFG_ARCH		"arch"	/* llama | bitnet | qwen2 | qwen3 */
#define BN_CFG_VOCAB		"vocab_size"
#define BN_CFG_HIDDEN		"hidden_size"
#define BN_CFG_LAYERS		"n_layers"
#define BN_CFG_HEADS		"n_heads"
#define BN_CFG_KV_HEADS		"n_kv_heads"
#define BN_CFG_HEAD_DIM		"head_dim"
#define BN_CFG_FFN		"ffn_size"
#define BN_CFG_CTX		"ctx_len"
#define BN_CFG_NORM_EPS		"norm_eps"
#define BN_CFG_ROPE_THETA	"rope_theta"
#define BN_CFG_ROPE_STYLE	"rope_style"	/* half | interleaved */
#define BN_CFG_ROPE_SCALING	"rope_scaling"	/* none | llama3 */
#define BN_CFG_ROPE_FACTOR	"rope_factor"
#define BN_CFG_ROPE_LOW_FREQ	"rope_low_freq_factor"
#define BN_CFG_ROPE_HIGH_FREQ	"rope_high_freq_factor"
#define BN_CFG_ROPE_ORIG_CTX	"rope_orig_ctx_len"
#define BN_CFG_ACT		"act"		/* silu | relu2 */
#define BN_CFG_TIED		"tie_embeddings"	/* 0 | 1 */
#define BN_CFG_BITLINEAR	"bitlinear"	/* 0 | 1 */
#define BN_CFG_BOS		"bos_id"
#define BN_CFG_EOS		"eos_id"
#define BN_CFG_PAD		"pad_id"
#define BN_CFG_SOURCE		"source"	/* free text: where it came from */

struct bn_kv_pair {
	char *key;
	char *val;
};

struct bn_kv {
	struct bn_kv_pair *v;
	size_t n, cap;
};

void bn_kv_init(struct bn_kv *kv);
void bn_kv_free(struct bn_kv *kv);
/* Set (replace or append) key; returns 0, or -1 (no memory, or a key or
 * value containing '=', a newline or a NUL in the key). */
int bn_kv_set(struct bn_kv *kv, const char *key, const char *val);
int bn_kv_setf(struct bn_kv *kv, const char *key, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
const char *bn_kv_get(const struct bn_kv *kv, const char *key);
/* Typed getters: 0 found and parsed, 1 absent, -1 malformed. */
int bn_kv_get_u64(const struct bn_kv *kv, const char *key, uint64_t *v);
int bn_kv_get_i64(const struct bn_kv *kv, const char *key, int64_t *v);
int bn_kv_get_f64(const struct bn_kv *kv, const char *key, double *v);

/* Text form: "key=value\n" per pair, in order. Returns malloc'd text. */
char *bn_kv_format(const struct bn_kv *kv, size_t *len);
/* Parse that form; -1 on a malformed line (no '=', empty key, NUL). */
int bn_kv_parse(struct bn_kv *kv, const char *text, size_t len);

#endif
