/* init.h: a freshly initialised model (llama, bitnet, qwen2 or qwen3)
 * as a bnt(5) stream, for training from scratch (bnquant --init). */
#ifndef BN_INIT_H
#define BN_INIT_H

#include <stdint.h>

#include "bnt.h"
#include "status.h"
#include "vocab.h"

/* Bounds on each size (the model core's limits are looser). */
#define BN_INIT_MAX_HIDDEN	(1 << 16)
#define BN_INIT_MAX_LAYERS	(1 << 10)
#define BN_INIT_MAX_HEADS	(1 << 10)
#define BN_INIT_MAX_FFN		(1 << 18)
#define BN_INIT_MAX_CTX		(1 << 24)
/* At most this many parameters in all (2^36 f32 = 256 GiB). */
#define BN_INIT_MAX_PARAMS	(UINT64_C(1) << 36)

/* The standard deviation of every linear and embedding weight
 * (transformers' initializer_range default). */
#define BN_INIT_STD 0.02

/* Sizes; 0 means the default (the shape of austen-llama-6m: hidden 256,
 * 6 layers, 8 heads, 4 KV heads, ffn 768, ctx 256; head_dim hidden /
 * heads). */
struct bn_init_opts {
	int arch;		/* enum bn_arch (config.h) */
	int hidden, layers, heads, kv_heads, ffn, ctx;
	int head_dim;		/* 0: hidden / heads (which must divide) */
	uint64_t seed;
};

/* Fill the defaults into o (head_dim stays 0 if unset) and check it:
 * BN_OK, or BN_EUSAGE with a one-line detail in e (a size out of range,
 * heads not dividing hidden without a head_dim, kv_heads not dividing
 * heads, an odd head size, too many parameters for vocab tokens). */
int bn_init_check(struct bn_init_opts *o, uint32_t vocab, struct bn_err *e);

/* The tokenizer of path (a tokenizer.json, a GGUF vocabulary, an HF
 * directory or any bnt stream that has one) into v (bn_vocab_init'd
 * by the caller).  BN_OK, or a status with a detail in e; BN_EFORMAT
 * "no tokenizer" when the input holds none. */
int bn_init_load_vocab(const char *path, struct bn_vocab *v,
    struct bn_err *e);

/* Write the CONFIG record, the TOKENIZER record (a copy of vocab) and
 * every tensor, f32, initialised as transformers' LlamaPreTrainedModel,
 * BitNetPreTrainedModel, Qwen2PreTrainedModel and Qwen3PreTrainedModel
 * do: linear and embedding weights N(0, 0.02^2), biases 0, norm
 * weights 1, the pad row of the embedding (if the vocabulary names a
 * pad_id) 0.  Normals come from xoshiro256** seeded by
 * splitmix64(seed), through Box-Muller with our own log, sin and cos,
 * so a seed gives the same bytes on any IEEE-754 machine.  The caller
 * calls bn_init_check first and finishes the writer afterwards.  BN_OK,
 * or a status with a detail in e. */
int bn_init_model(struct bnt_writer *w, const struct bn_init_opts *o,
    const struct bn_vocab *vocab, struct bn_err *e);

#endif
