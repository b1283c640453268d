/* gemm.h: single-precision matrix products for training (forward,
 * input gradients and weight gradients), blocked and packed, split
 * over a thread pool.
 *
 * C[i][j] (+)= sum_k A(i,k) B(k,j), i < M, j < N, k < K, where
 *   A(i,k) = ta ? a[k * lda + i] : a[i * lda + k],
 *   B(k,j) = tb ? b[j * ldb + k] : b[k * ldb + j].
 * Each C element is summed in one fixed order (k in blocks of
 * BN_GEMM_KC, each block from k = 0 up, then added to C), whatever the
 * number of threads: results do not depend on the thread count. */
#ifndef BN_GEMM_H
#define BN_GEMM_H

#include <stddef.h>

#include "kernels.h"

#define BN_GEMM_MR 6
#define BN_GEMM_NR 16
#define BN_GEMM_KC 256
#define BN_GEMM_MC 96
#define BN_GEMM_NC 1024

/* Per-thread packing buffers for a pool of n threads; NULL if out of
 * memory. */
struct bn_gemm;
struct bn_gemm *bn_gemm_new(struct bn_pool *pool);
void bn_gemm_free(struct bn_gemm *g);

/* acc: 0 overwrites C, 1 adds to it. */
void bn_sgemm(struct bn_gemm *g, int ta, int tb, size_t M, size_t N,
    size_t K, const float *a, size_t lda, const float *b, size_t ldb,
    float *c, size_t ldc, int acc);

/* The micro-kernel: a BN_GEMM_MR x BN_GEMM_NR tile from packed panels
 * (ap: kc columns of MR values, bp: kc rows of NR values); only the top
 * left mr x nr of the tile is stored, added to C if acc. */
typedef void bn_gemm_ukernel(size_t kc, const float *ap, const float *bp,
    float *c, size_t ldc, size_t mr, size_t nr, int acc);
bn_gemm_ukernel bn_gemm_ukernel_ref, bn_gemm_ukernel_avx2,
    bn_gemm_ukernel_neon;

#endif
