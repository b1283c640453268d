/* rows.c: axpy_rows_h as a table's axpy_rows head by head (kernels.h),
 * for the tables without their own. */
#include "kernels.h"

void
bn_axpy_rows_h_each(const struct bn_kernels *k, int dtype, float *y,
    size_t ldy, const float *a, size_t lda, size_t nh, const void *x,
    size_t row_bytes, size_t n, size_t rows)
{
	size_t h;

	for (h = 0; h < nh; h++)
		k->axpy_rows(dtype, y + h * ldy, a + h * lda, x, row_bytes, n,
		    rows);
}
