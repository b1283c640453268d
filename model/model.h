/* model.h: the one transformer (architectures llama, bitnet, qwen2 and
 * qwen3): config and weights bound in place from a mapped bnt(5) file, a
 * forward pass with a KV cache, and hooks that expose activations. */
#ifndef BN_MODEL_H
#define BN_MODEL_H

#include <stddef.h>
#include <stdint.h>

#include "bnt.h"
#include "config.h"
#include "kernels.h"
#include "status.h"

/* A weight matrix [rows, n], used in place where it can be. */
enum bn_lin_kind { BN_LIN_FLOAT = 1, BN_LIN_T2 = 2, BN_LIN_I8 = 3,
	BN_LIN_T3 = 4,		/* kernels.h's t3k layout */
	BN_LIN_Q4 = 5 };	/* kernels.h's q4 (the head): y = v / as */

struct bn_linear {
	int kind;
	int dtype;		/* BN_LIN_FLOAT: f32, f16 or bf16 */
	const void *w;
	size_t row_bytes;
	size_t rows, n;
	/* BN_LIN_T2, _T3, _I8 (int8 activations too):
	 * y = isum / (as * s) (div) or isum * s / as */
	const float *scale;	/* one per row (owned), all equal if tensor */
	int div;
	void *owned;		/* converted weights, when not in place */
	float *owned_scale;
	uint16_t *q4s;		/* BN_LIN_Q4: f16 scales, n / 32 a row */
};

struct bn_vec {			/* a norm's weight or a bias vector */
	int dtype;
	const void *w;
	size_t n;
};

struct bn_layer {
	struct bn_vec attn_norm, ffn_norm, attn_sub_norm, ffn_sub_norm;
	struct bn_vec q_bias, k_bias, v_bias;	/* qwen2 */
	struct bn_vec q_norm, k_norm;		/* qwen3: per head */
	struct bn_linear q, k, v, o, gate, up, down;
};

struct bn_model {
	struct bn_config c;
	struct bnt_map map;
	const void *embd;	/* token_embd rows */
	int embd_dtype;
	size_t embd_row_bytes;
	struct bn_vec out_norm;
	struct bn_linear head;
	struct bn_layer *layer;
};

/* Open and bind a model; BN_OK or a status with a detail in e. */
int bn_model_open(struct bn_model *m, const char *path, struct bn_err *e);
/* The same with BN_MODEL_* flags.  BN_MODEL_NOQUANT turns the
 * quantizers off: every linear layer is bound in float (float master
 * weights as stored, packed and int8 weights dequantized with their
 * scales), so no activation is quantized either; bnstat --ber uses it
 * as the full-precision reference. */
#define BN_MODEL_NOQUANT 0x1u
/* BN_MODEL_NONFINITE: load weights that are not finite and scales that
 * bnt(5) does not allow (BNT_MAP_NONFINITE); without it they are
 * refused (BN_EFORMAT naming the tensor). */
#define BN_MODEL_NONFINITE 0x2u
/* Where ternary weights (t2, t3 and b1 tensors, and float weights that
 * bitlinear ternarizes at load) live in memory: BN_MODEL_T2 2 bits a
 * weight (the fastest prompts), BN_MODEL_T3 1.6 (kernels.h's t3k: fewer
 * bytes read per generated token); neither: t3k for bnt's t3 tensors,
 * t2 for the rest.  The results are the same to the bit. */
#define BN_MODEL_T2 0x4u
#define BN_MODEL_T3 0x8u
/* The flag of a layout's name, as the tools' --ternary takes it: "t2",
 * "t3" or "auto" (0); -1 if none. */
int bn_model_ternary_flag(const char *name, unsigned *flag);
int bn_model_open_flags(struct bn_model *m, const char *path,
    unsigned flags, struct bn_err *e);
void bn_model_close(struct bn_model *m);
/* A layer's projection of role id (roles.h) as bound; NULL if none. */
const struct bn_linear *bn_model_linear(const struct bn_model *m,
    int layer, int id);
/* The same with 4-bit weights, an f16 scale per 32 (kernels.h's q4:
 * 4.5 bits a weight, s = max|w| / 7 rounded to f16, q = round(w / s) in
 * -8..7); BN_EUNSUPPORTED unless the hidden size is a multiple of 32 up
 * to BN_Q4_MAXN. */
int bn_model_quantize_head_q4(struct bn_model *m, struct bn_err *e);
/* Replace a float output head by int8 weights with one absmax scale per
 * row (s = max|w| / 127), used with int8 activations: a compact head
 * that halves the bytes an f16 head reads per token. */
int bn_model_quantize_head(struct bn_model *m, struct bn_err *e);


/* Activation sites for hooks. */
enum bn_site {
	BN_SITE_EMBED = 0,	/* embedding output (layer -1) */
	BN_SITE_LAYER = 1,	/* a decoder layer's output */
	BN_SITE_FINAL = 2,	/* after the final norm */
	BN_SITE_QKV_IN = 3,	/* BitLinear / linear inputs ... */
	BN_SITE_O_IN = 4,
	BN_SITE_UP_IN = 5,
	BN_SITE_DOWN_IN = 6,
	BN_SITE_Q = 7,		/* q, k (after RoPE) and v, with */
	BN_SITE_K = 8,		/* bn_state_hook_qkv only */
	BN_SITE_V = 9
};

/* Called with T rows of dim values (row t at x + t * dim). */
typedef void (*bn_hook_fn)(void *ctx, int layer, int site, const float *x,
    size_t T, size_t dim);

/* Per-sequence state: KV cache, scratch for up to `batch` tokens a call,
 * the thread pool. */
struct bn_state;

int bn_state_new(struct bn_state **s, const struct bn_model *m, int ctx,
    int batch, int nthreads, struct bn_err *e);
/* The KV cache's element type: f32 (as bn_state_new makes), f16 (keys
 * and values rounded to nearest f16, half the bytes that each generated
 * token reads per position) or q8 (each head's key and value rows as
 * int8 codes and an f32 scale, as the kernels' quant_i8 makes them: a
 * quarter of the bytes; the scores are dot(codes, q) times the key's
 * scale, the softmax's weights times the value's scale weigh the value
 * codes).  The values equal dtype.h's f32, f16 and i8. */
enum { BN_KV_F32 = 0, BN_KV_F16 = 1, BN_KV_Q8 = 3 };
/* --kv-type's names "f32", "f16", "q8" to a type; -1 if none */
int bn_kv_type(const char *name);
const char *bn_kv_type_name(int kv_type);
/* bytes a cached row of n keys or values takes (q8: with its scale) */
size_t bn_kv_row_bytes(int kv_type, size_t n);
/* bn_state_new with a KV cache of kv_type; BN_EUSAGE if unknown. */
int bn_state_new_kv(struct bn_state **s, const struct bn_model *m, int ctx,
    int batch, int nthreads, int kv_type, struct bn_err *e);
int bn_state_kv_type(const struct bn_state *s);
void bn_state_free(struct bn_state *s);
void bn_state_reset(struct bn_state *s);	/* empty the KV cache */
int bn_state_pos(const struct bn_state *s);
/* Forget the cache past the first pos positions (pos <= bn_state_pos). */
void bn_state_rewind(struct bn_state *s, int pos);
void bn_state_set_hook(struct bn_state *s, bn_hook_fn fn, void *ctx);
/* on: the hook also sees each layer's q, k and v projections' outputs
 * (q and k after qwen3's norms and RoPE) as BN_SITE_Q, _K and _V;
 * off (as a new state is) it does not. */
void bn_state_hook_qkv(struct bn_state *s, int on);

/* Run n tokens (n <= batch) at the next positions.  logits: NULL, or
 * room for vocab floats (last token only) or n * vocab (all != 0).
 * BN_EUSAGE if the context is full or a token id is out of range. */
int bn_forward(const struct bn_model *m, struct bn_state *s,
    const int32_t *tok, int n, float *logits, int all);
/*
 * Continuous batching: n tokens of possibly different sequences in one
 * pass, each weight matrix read once for all of them.  Token i runs at
 * the next position of sequence seq[i] (a state of the same model, used
 * for its KV cache and position; the tokens of one sequence in order);
 * the scratch, threads and RoPE table are s's (n <= its batch, every
 * position < its ctx; each sequence's cache has its own type).
 * logits: NULL, or one row of vocab floats per token with want[i] != 0,
 * in order (want NULL: every token).  The numbers are those bn_forward
 * gives each sequence on its own.
 * BN_EUSAGE if a context is full or a token id is out of range (then
 * nothing has run).
 */
int bn_forward_batch(const struct bn_model *m, struct bn_state *s,
    struct bn_state *const *seq, const int32_t *tok, int n,
    const unsigned char *want, float *logits);

#endif
