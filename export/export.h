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

#endif
