/* t3k.c: the kernels' 1.6-bit ternary layout (kernels.h says what it
 * is): packing a row, reading one code back, the reference products,
 * and the chunked matmul every table shares. */
#include <string.h>

#include "dtype.h"
#include "kernels.h"

static const uint8_t pow3[5] = { 1, 3, 9, 27, 81 };

size_t
bn_t3k_row_bytes(size_t n)
{
	return (n + BN_T3K_BLOCK - 1) / BN_T3K_BLOCK * 64;
}

void
bn_t3k_pack(uint8_t *row, const uint8_t *codes, size_t n)
{
	size_t b, j, k, e;
	unsigned v;

	for (b = 0; b < n; b += BN_T3K_BLOCK, row += 64)
		for (j = 0; j < 64; j++) {
			for (v = 0, k = 0; k < 5; k++) {
				e = b + 64 * k + j;
				v = 3 * v + (e < n ? codes[e] : 1);
			}
			row[j] = (uint8_t)((v * 256 + 242) / 243);
		}
}

int
bn_t3k_get(const uint8_t *row, size_t i)
{
	size_t b = i / BN_T3K_BLOCK, k = i % BN_T3K_BLOCK / 64;
	uint8_t m = (uint8_t)(row[64 * b + i % 64] * pow3[k]);

	return m * 3 >> 8;
}

/* The specification: each code decoded, times x. */
static int32_t
dot_t3(const uint8_t *w, const int8_t *x, size_t n)
{
	int32_t sum = 0;
	size_t i;

	for (i = 0; i < n; i++)
		sum += (bn_t3k_get(w, i) - 1) * x[i];
	return sum;
}

void
bn_matvec_t3_ref(const uint8_t *w, size_t row_bytes, const int8_t *x,
    int32_t *y, size_t n, size_t rows)
{
	size_t r;

	for (r = 0; r < rows; r++)
		y[r] = dot_t3(w + r * row_bytes, x, n);
}

void
bn_matmul_t3_ref(const uint8_t *w, size_t row_bytes, const int8_t *x,
    size_t ldx, int32_t *y, size_t ldy, size_t n, size_t rows, size_t T)
{
	size_t t;

	for (t = 0; t < T; t++)
		bn_matvec_t3_ref(w, row_bytes, x + t * ldx, y + t * ldy, n, rows);
}

void
bn_t3_t2_ref(const uint8_t *w, size_t row_bytes, uint8_t *out,
    size_t out_row_bytes, size_t n, size_t rows)
{
	size_t r, i;
	uint8_t *o;

	for (r = 0; r < rows; r++) {
		o = out + r * out_row_bytes;
		memset(o, 0, n / 4);
		for (i = 0; i < n; i++)
			o[i / BN_T2_BLOCK * 32 + i % 32] |= (uint8_t)(
			    bn_t3k_get(w + r * row_bytes, i) <<
			    (2 * (i % BN_T2_BLOCK / 32)));
	}
}

/* t2 bytes decoded at a time: rows that stay in L2 while the tokens
 * pass (matmul_t2 chunks them again for its own tiles). */
#define T3_CHUNK (64 * 1024)

void
bn_matmul_t3_chunked(const struct bn_kernels *k, const uint8_t *w,
    size_t row_bytes, const int8_t *x, size_t ldx, int32_t *y, size_t ldy,
    size_t n, size_t rows, size_t T)
{
	_Alignas(64) uint8_t buf[T3_CHUNK];
	size_t r0, nr, t, ob = n / 4, per = T3_CHUNK / (ob ? ob : 1);

	if (per == 0) {		/* a row longer than the buffer */
		for (t = 0; t < T; t++)
			k->matvec_t3(w, row_bytes, x + t * ldx, y + t * ldy, n,
			    rows);
		return;
	}
	for (r0 = 0; r0 < rows; r0 += nr) {
		nr = rows - r0 < per ? rows - r0 : per;
		k->t3_t2(w + r0 * row_bytes, row_bytes, buf, ob, n, nr);
		k->matmul_t2(buf, ob, x, ldx, y + r0, ldy, n, nr, T);
	}
}
