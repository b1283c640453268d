/* roles.h: the one table of tensor roles.  Every tensor a model may
 * hold is one row: its bnt (llama.cpp GGUF) name, its Hugging Face
 * name, its shape in config terms, whether BitLinear quantizes it and
 * which architectures have it.  The loader (model/), the initializer,
 * the trainer, the exporters, the importers' name mapping and
 * bnverify's checks all read it: a new architecture or tensor is one
 * row here. */
#ifndef BN_ROLES_H
#define BN_ROLES_H

#include <stddef.h>
#include <stdint.h>

#include "config.h"

/* A dimension in config terms. */
enum bn_dim {
	BN_DIM_NONE = 0,	/* rows of a vector */
	BN_DIM_VOCAB,		/* vocab_size */
	BN_DIM_HIDDEN,		/* hidden_size */
	BN_DIM_Q,		/* n_heads * head_dim */
	BN_DIM_KV,		/* n_kv_heads * head_dim */
	BN_DIM_FFN,		/* ffn_size */
	BN_DIM_HEAD,		/* head_dim */
	BN_DIM_COUNT
};

enum bn_role_kind {
	BN_ROLE_EMBED = 1,	/* token embedding rows */
	BN_ROLE_NORM,		/* a norm's weight vector */
	BN_ROLE_PROJ,		/* a projection: BitLinear quantizes it */
	BN_ROLE_BIAS,		/* a projection's bias vector */
	BN_ROLE_HEAD		/* the output head (absent when tied) */
};

/* Rows of bn_roles[], in the order a model stream holds them (the
 * order bnquant --init writes): the top tensors before and after the
 * layers, each layer's in between. */
enum bn_role_id {
	BN_R_TOKEN_EMBD = 0,
	BN_R_ATTN_NORM,
	BN_R_ATTN_Q,
	BN_R_ATTN_Q_BIAS,
	BN_R_ATTN_K,
	BN_R_ATTN_K_BIAS,
	BN_R_ATTN_V,
	BN_R_ATTN_V_BIAS,
	BN_R_ATTN_Q_NORM,
	BN_R_ATTN_K_NORM,
	BN_R_ATTN_SUB_NORM,
	BN_R_ATTN_OUTPUT,
	BN_R_FFN_NORM,
	BN_R_FFN_GATE,
	BN_R_FFN_UP,
	BN_R_FFN_SUB_NORM,
	BN_R_FFN_DOWN,
	BN_R_OUTPUT_NORM,
	BN_R_OUTPUT,
	BN_R_COUNT
};

#define BN_ARCH_BIT(a) (1u << (a))

struct bn_role {
	const char *name;	/* bnt name; after "blk.N." if per layer */
	const char *hf;		/* transformers name; after "model.layers.N."
				 * if per layer */
	int layer;		/* one per decoder layer */
	int kind;		/* enum bn_role_kind */
	int rows, cols;		/* enum bn_dim; a vector: rows NONE */
	unsigned archs;		/* BN_ARCH_BIT() of the architectures */
	const char *hf_alt;	/* another transformers name it is read
				 * from (never written), or NULL */
};

extern const struct bn_role bn_roles[BN_R_COUNT];

/* The dimensions of a configuration, indexed by enum bn_dim. */
struct bn_dims {
	uint64_t d[BN_DIM_COUNT];
};

void bn_dims_from_config(struct bn_dims *d, const struct bn_config *c);

/* Does a model of architecture arch (tied: the head is token_embd)
 * hold role id? */
int bn_role_present(int id, int arch, int tied);
/* Is role id a projection that BitLinear quantizes? */
int bn_role_is_proj(int id);
/* The role's bnt name in layer l (ignored for top tensors) into buf;
 * returns buf. */
char *bn_role_name(int id, int layer, char *buf, size_t size);
/* The shape of role id: rows (0 for a vector) and cols. */
void bn_role_shape(int id, const struct bn_dims *d, uint64_t *rows,
    uint64_t *cols);
/* 1 if name is a projection BitLinear quantizes (blk.N.attn_q, ...,
 * a row of kind BN_ROLE_PROJ). */
int bn_is_projection(const char *name);
/* The role of a bnt name and its layer (-1 for top tensors); -1 if the
 * name is none of the table's. */
int bn_role_of(const char *name, int *layer);

/* Why a model of config c must not hold a tensor named name, or NULL
 * if it may: a layer tensor (blk.N.*) the table does not know, one the
 * architecture has no place for, a layer past the last, an output head
 * in a tied model, or a Hugging Face layer tensor that no role maps
 * (model.layers.N.*, but for the rotary_emb.inv_freq buffers some
 * checkpoints carry, which RoPE recomputes).  Other names (optimizer
 * state, ...) are not the model's to judge. */
const char *bn_role_unexpected(const struct bn_config *c, const char *name);

/* The heads of a query or key projection (n_heads, n_kv_heads), whose
 * rows a RoPE convention change permutes head by head; 0 for any other
 * tensor. */
uint64_t bn_rope_perm_heads(const struct bn_config *c, const char *name);

/* Hugging Face name -> bnt name and back, by the table; a name the
 * table does not know passes unchanged.  0, or -1 if out is too
 * small. */
int bn_name_from_hf(const char *hf, char *out, size_t size);
int bn_name_to_hf(const char *name, char *out, size_t size);

#endif
