/* x86.h: what kernels_avx2.c and kernels_avx512.c share (private to
 * kernels/x86/). */
#ifndef BN_X86_H
#define BN_X86_H

#include <stddef.h>
#include <stdint.h>

/* The AVX-512 VNNI integer kernels (kernels_avx512.c), for
 * bn_kernels_avx512 only: call them only where the CPU has AVX-512 F,
 * BW, VL and VNNI and the OS saves the zmm state. */
void bn_avx512_matvec_t2(const uint8_t *w, size_t row_bytes,
    const int8_t *x, int32_t *y, size_t n, size_t rows);
void bn_avx512_matmul_t2(const uint8_t *w, size_t row_bytes,
    const int8_t *x, size_t ldx, int32_t *y, size_t ldy, size_t n,
    size_t rows, size_t T);
void bn_avx512_matvec_t3(const uint8_t *w, size_t row_bytes,
    const int8_t *x, int32_t *y, size_t n, size_t rows);
void bn_avx512_t3_t2(const uint8_t *w, size_t row_bytes, uint8_t *out,
    size_t out_row_bytes, size_t n, size_t rows);
void bn_avx512_matvec_q4(const uint8_t *w, size_t row_bytes,
    const uint16_t *s, size_t s_stride, const int8_t *x, float *y,
    size_t n, size_t rows);
void bn_avx512_matvec_i8(const int8_t *w, size_t row_bytes,
    const int8_t *x, int32_t *y, size_t n, size_t rows);

#endif
