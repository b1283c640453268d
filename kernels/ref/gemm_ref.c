/* gemm_ref.c: the plain-C micro-kernel of gemm.h: each C element is
 * fmaf(a, b, acc) over k, as the AVX2 kernel computes it, so the two
 * agree bit for bit. */
#include <math.h>

#include "gemm.h"

void
bn_gemm_ukernel_ref(size_t kc, const float *ap, const float *bp, float *c,
    size_t ldc, size_t mr, size_t nr, int acc)
{
	float t[BN_GEMM_MR][BN_GEMM_NR] = { { 0 } };
	size_t k, i, j;

	for (k = 0; k < kc; k++, ap += BN_GEMM_MR, bp += BN_GEMM_NR)
		for (i = 0; i < BN_GEMM_MR; i++)
			for (j = 0; j < BN_GEMM_NR; j++)
				t[i][j] = fmaf(ap[i], bp[j], t[i][j]);
	for (i = 0; i < mr; i++)
		for (j = 0; j < nr; j++)
			c[i * ldc + j] = acc ? c[i * ldc + j] + t[i][j] :
			    t[i][j];
}
