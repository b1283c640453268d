/* export.h: bnt(5) models -> outside formats. */
#ifndef BN_EXPORT_H
#define BN_EXPORT_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "bnt.h"
#include "status.h"

/* GGUF tensor types, as ggml numbers them. */
enum bn_gguf_type {
	BN_GGUF_KEEP = -1,	/* float tensors: as they are */
	BN_GGUF_F32 = 0,
	BN_GGUF_F16 = 1,
	BN_GGUF_Q8_0 = 8,
	BN_GGUF_BF16 = 30,
	BN_GGUF_TQ1_0 = 34,
	BN_GGUF_TQ2_0 = 35
};

struct bn_gguf_opts {
	int ternary;	/* t2, t3, b1 tensors: BN_GGUF_TQ2_0 or TQ1_0 */
	int fallback;	/* ternary rows not a multiple of 256: Q8_0, F16 */
	int floats;	/* 2-D float tensors: KEEP, F32, F16, BF16, Q8_0 */
	/* Told of each fallback and caveat (one line, no newline). */
	void (*notice)(void *ctx, const char *msg);
	void *ctx;
};

/* Defaults: TQ2_0, fallback Q8_0, floats kept, no notices. */
void bn_gguf_opts_init(struct bn_gguf_opts *o);

/* Write the mapped model m to out as GGUF v3 (alignment 32) for
 * llama.cpp: general.architecture llama or bitnet with its
 * hyperparameters from the configuration; the bnt's tokenizer as
 * tokenizer.ggml.* keys (or, if it has none, a dummy SentencePiece
 * vocabulary of vocab_size tokens); its tensors: t2 (t3, b1) -> TQ2_0
 * or TQ1_0 with the tensor, row or 256-multiple block scale in each
 * block's d, except bitnet's per-tensor scales, which go out as F32
 * "<stem>.scale" tensors of one element (d = 1); rows not a multiple of
 * 256 -> the fallback type; 1-D float tensors -> F32; 2-D float
 * tensors as o->floats says; i8 with f16 scales per 32 -> Q8_0; i8,
 * i32, i64 as they are.  With rope_style=half the rows of a llama
 * model's attn_q and attn_k are permuted to llama.cpp's adjacent-pair
 * rotation.  Never seeks out.  BN_OK or a negative status with e
 * filled (BN_EUNSUPPORTED: llama.cpp cannot run this model). */
int bn_export_gguf_opts(const struct bnt_map *m, FILE *out,
    const struct bn_gguf_opts *o, struct bn_err *e);
/* The same with the defaults. */
int bn_export_gguf(const struct bnt_map *m, FILE *out, struct bn_err *e);

/* ONNX packings of ternary weights, all 2 bits in the file
 * (bench/README.md, "ONNX packings", has the measurements that chose
 * the default). */
enum bn_onnx_packing {
	BN_ONNX_NBITS = 1,	/* com.microsoft.MatMulNBits bits=2 */
	BN_ONNX_DQ_INT2 = 2,	/* DequantizeLinear of INT2 (opset 25) */
	BN_ONNX_INT2_MMI = 3	/* INT2, Cast to INT8, MatMulInteger */
};
#define BN_ONNX_PACK_DEFAULT BN_ONNX_INT2_MMI

struct bn_onnx_opts {
	int kv_cache;	/* 0: input_ids -> logits; 1: with past/present
			 * key/value per layer and position_ids */
	int packing;	/* enum bn_onnx_packing; 0: the default */
};

/* Write the mapped model m to f as an ONNX model for ONNX Runtime
 * (standard operators, or com.microsoft.MatMulNBits with
 * BN_ONNX_NBITS): input_ids int64 [batch, seq] -> logits f32 [batch,
 * seq, vocab]; o->kv_cache adds position_ids int64 [batch, seq],
 * past_key_values.L.key/value f32 [batch, kv_heads, past_seq, head_dim]
 * inputs and present.L.key/value outputs.  Ternary, binary and int8
 * weights stay packed and run as BitLinear (per-token int8 activations)
 * as bnrun runs them.  o may be NULL (defaults).  Never seeks.  BN_OK
 * or a negative status with e filled. */
int bn_export_onnx(const struct bnt_map *m, FILE *f,
    const struct bn_onnx_opts *o, struct bn_err *e);

/* Hugging Face directories: each file goes to the sink as begin (its
 * name and size in bytes), write (its bytes, in order), end. */
struct bn_hf_sink {
	void *ctx;
	int (*begin)(void *ctx, const char *name, uint64_t size,
	    struct bn_err *e);
	int (*write)(void *ctx, const void *p, size_t n, struct bn_err *e);
	int (*end)(void *ctx, struct bn_err *e);
};

#define BN_HF_KEEP (-1)

struct bn_hf_opts {
	int floats;		/* BN_HF_KEEP or BN_DTYPE_F32, F16, BF16 */
	uint64_t shard_size;	/* 0: one model.safetensors */
	void (*notice)(void *ctx, const char *msg);
	void *ctx;
};

void bn_hf_opts_init(struct bn_hf_opts *o);

/* Write m as config.json, generation_config.json, tokenizer.json and
 * tokenizer_config.json (byte-level BPE vocabularies only), then
 * model.safetensors, or model-0000K-of-0000N.safetensors shards of at
 * most shard_size bytes (a larger tensor gets one of its own) and
 * model.safetensors.index.json, with transformers' tensor names
 * (blk.N.attn_q.weight -> model.layers.N.self_attn.q_proj.weight).
 * Ternary projections with one scale per tensor go out packed, 4 rows
 * per byte, with a "weight_scale" of the scale's own type, and the
 * configuration gets quantization_config {quant_method: bitnet,
 * quantization_mode: offline}; float ones of a BitLinear model get
 * mode online.  A llama model with rope_style=interleaved has its q and
 * k rows permuted back to halves.  BN_OK or a negative status with e
 * filled; BN_EUNSUPPORTED for what transformers cannot hold (binary
 * weights, row or block scales). */
int bn_export_hf(const struct bnt_map *m, const struct bn_hf_opts *o,
    const struct bn_hf_sink *s, struct bn_err *e);

#endif
