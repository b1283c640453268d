/* rows.c: axpy_rows_h as a table's axpy_rows head by head, matmul_i8 as
 * its matvec_i8 token by token (kernels.h), for the tables without their
 * own. */
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

void
bn_matmul_i8_each(const struct bn_kernels *k, const int8_t *w,
    size_t row_bytes, const int8_t *x, size_t ldx, int32_t *y, size_t ldy,
    size_t n, size_t rows, size_t T)
{
	size_t t;

	for (t = 0; t < T; t++)
		k->matvec_i8(w, row_bytes, x + t * ldx, y + t * ldy, n, rows);
}
