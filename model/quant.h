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

#endif
