/* quant.h: post-training quantizers (BitNet b1.58 absmean ternary, the
 * original BitNet sign binary), split into a statistic over a scope
 * (tensor, row or block) and the codes of each element. */
#ifndef BN_QUANT_H
#define BN_QUANT_H

#include <stddef.h>
#include <stdint.h>

/* s = 1 / max(mean |w|, 1e-5), the mean summed in double, then f32. */
float bn_ternary_scale(const float *w, size_t n);
/* t = clamp(round_half_even(w * s), -1, 1) into a t2 row from element
 * off; the value is t / s. */
void bn_ternary_codes(const float *w, size_t n, float s, uint8_t *row,
    size_t off);
/* alpha = mean w, beta = mean |w|. */
void bn_binary_stats(const float *w, size_t n, float *alpha, float *beta);
/* code = w - alpha > 0 ? +1 : -1 into a b1 row from element off; the
 * value is code * beta. */
void bn_binary_codes(const float *w, size_t n, float alpha, uint8_t *row,
    size_t off);

enum bn_quant_kind {
	BN_QUANT_TERNARY = 0,	/* absmean: codes t2, value t / s */
	BN_QUANT_BINARY		/* sign: codes b1, value code * beta */
};

/* What to quantize a tensor into; a NULL pointer is not written. */
struct bn_quant {
	int kind;		/* enum bn_quant_kind */
	size_t block;		/* scope: 0 the tensor, else that many elements
				 * of a row (cols: one per row); it divides
				 * cols */
	uint8_t *codes;		/* packed rows (t2 or b1) of row_bytes each;
				 * the bytes after a row's codes hold code 0
				 * (t2) or zero bits (b1) */
	size_t row_bytes;
	float *scales;		/* one per scope: ternary s, binary beta */
	float *alphas;		/* one per scope: binary alpha */
	float *values;		/* rows * cols dequantized values */
};

/* Quantize the rows x cols floats w (row major) with one statistic per
 * scope, as q says: the one quantizer of whole tensors that the loader,
 * the trainer and bnquant share. */
void bn_quant_tensor(const float *w, size_t rows, size_t cols,
    const struct bn_quant *q);

#endif
