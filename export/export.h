/* export.h: bnt(5) models -> outside formats. */
#ifndef BN_EXPORT_H
#define BN_EXPORT_H

#include <stdio.h>

#include "bnt.h"
#include "status.h"

/* Write the mapped model m to out as GGUF v3 (alignment 32) for
 * llama.cpp: general.architecture=llama, llama.* hyperparameters from
 * the configuration, the bnt's tokenizer or (if it has none) a dummy
 * SentencePiece vocabulary of vocab_size tokens, and its tensors: t2
 * (t3, b1) with tensor, row or 256-multiple block scales -> TQ2_0;
 * f32, f16, bf16, i8, i32, i64, f64 unscaled as they are.  With
 * rope_style=half the rows of attn_q and attn_k are permuted to
 * llama.cpp's adjacent-pair rotation.  Never seeks out.  BN_OK or a
 * negative status with e filled. */
int bn_export_gguf(const struct bnt_map *m, FILE *out, struct bn_err *e);

/* ONNX packings of ternary weights (export/onnx.c has the measurements
 * that chose the default). */
enum bn_onnx_packing {
	BN_ONNX_NBITS = 1,	/* com.microsoft.MatMulNBits bits=2 */
	BN_ONNX_DQ_INT2 = 2	/* DequantizeLinear of INT2 (opset 25) */
};
#define BN_ONNX_PACK_DEFAULT BN_ONNX_NBITS

struct bn_onnx_opts {
	int kv_cache;	/* 0: input_ids -> logits; 1: with past/present
			 * key/value per layer and position_ids */
	int packing;	/* enum bn_onnx_packing; 0: the default */
};

/* Write the mapped model m to f as an ONNX model for ONNX Runtime
 * (standard operators, plus com.microsoft.MatMulNBits with
 * BN_ONNX_NBITS): input_ids int64 [batch, seq] -> logits f32 [batch,
 * seq, vocab]; o->kv_cache adds position_ids int64 [batch, seq],
 * past_key_values.L.key/value f32 [batch, kv_heads, past_seq, head_dim]
 * inputs and present.L.key/value outputs.  Ternary, binary and int8
 * weights stay packed and run as BitLinear (per-token int8 activations)
 * as bnrun runs them.  o may be NULL (defaults).  Never seeks.  BN_OK
 * or a negative status with e filled. */
int bn_export_onnx(const struct bnt_map *m, FILE *f,
    const struct bn_onnx_opts *o, struct bn_err *e);

#endif
