/* dtype.c: the type-traits table and element conversions. */
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "dtype.h"
#include "mem.h"

static const struct bn_dtype_traits traits[BN_DTYPE_COUNT] = {
	[BN_DTYPE_F32] = { .name = "f32", .bits = 32, .is_float = 1 },
	[BN_DTYPE_F16] = { .name = "f16", .bits = 16, .is_float = 1 },
	[BN_DTYPE_BF16] = { .name = "bf16", .bits = 16, .is_float = 1 },
	[BN_DTYPE_I8] = { .name = "i8", .bits = 8 },
	[BN_DTYPE_U8] = { .name = "u8", .bits = 8 },
	[BN_DTYPE_I32] = { .name = "i32", .bits = 32 },
	[BN_DTYPE_I64] = { .name = "i64", .bits = 64 },
	[BN_DTYPE_F64] = { .name = "f64", .bits = 64, .is_float = 1 },
	[BN_DTYPE_T2] = { .name = "t2", .is_packed = 1 },
	[BN_DTYPE_T3] = { .name = "t3", .is_packed = 1 },
	[BN_DTYPE_B1] = { .name = "b1", .is_packed = 1 },
};

const struct bn_dtype_traits *
bn_dtype_traits(int dtype)
{
	if (dtype < 0 || dtype >= BN_DTYPE_COUNT || traits[dtype].name == NULL)
		return NULL;
	return &traits[dtype];
}

int
bn_dtype_from_name(const char *name)
{
	int i;

	for (i = 0; i < BN_DTYPE_COUNT; i++)
		if (traits[i].name != NULL && strcmp(traits[i].name, name) == 0)
			return i;
	return -1;
}

int
bn_dtype_row_bytes(int dtype, uint64_t n, uint64_t *bytes)
{
	const struct bn_dtype_traits *t = bn_dtype_traits(dtype);
	uint64_t units;

	if (t == NULL)
		return -1;
	switch (dtype) {
	case BN_DTYPE_T2:
		units = n / BN_T2_BLOCK + (n % BN_T2_BLOCK != 0);
		return bn_mul_u64(units, 32, bytes);
	case BN_DTYPE_T3:
		*bytes = n / BN_T3_GROUP + (n % BN_T3_GROUP != 0);
		return 0;
	case BN_DTYPE_B1:
		units = n / BN_B1_WORD + (n % BN_B1_WORD != 0);
		return bn_mul_u64(units, 4, bytes);
	default:
		return bn_mul_u64(n, t->bits / 8, bytes);
	}
}

int
bn_dtype_tensor_bytes(int dtype, uint64_t rows, uint64_t n, uint64_t *bytes)
{
	uint64_t rb;

	if (bn_dtype_row_bytes(dtype, n, &rb) != 0)
		return -1;
	return bn_mul_u64(rows, rb, bytes);
}

float
bn_f16_to_f32(uint16_t h)
{
	uint32_t sign = (uint32_t)(h >> 15) << 31, exp = h >> 10 & 0x1f;
	uint32_t man = h & 0x3ff, bits;
	float f;

	if (exp == 0) {
		/* zero or subnormal: man * 2^-24, exact in f32 */
		f = ldexpf((float)man, -24);
		return sign ? -f : f;
	}
	if (exp == 31)
		bits = sign | 0x7f800000u | man << 13;
	else
		bits = sign | (exp + 112) << 23 | man << 13;
	memcpy(&f, &bits, 4);
	return f;
}

uint16_t
bn_f32_to_f16(float f)
{
	uint32_t x, sign, man;
	int exp;
	uint16_t h;

	memcpy(&x, &f, 4);
	sign = x >> 16 & 0x8000;
	if ((x & 0x7fffffff) > 0x7f800000)	/* NaN: keep it quiet */
		return (uint16_t)(sign | 0x7e00 | (x >> 13 & 0x3ff));
	exp = (int)(x >> 23 & 0xff) - 127 + 15;
	man = x & 0x7fffff;
	if (exp >= 31)
		return (uint16_t)(sign | 0x7c00);	/* overflow: inf */
	if (exp <= 0) {
		uint32_t m, shift, half, rest;

		if (exp < -10)
			return (uint16_t)sign;		/* underflow: zero */
		m = man | 0x800000;
		shift = (uint32_t)(14 - exp);
		h = (uint16_t)(m >> shift);
		half = 1u << (shift - 1);
		rest = m & ((1u << shift) - 1);
		if (rest > half || (rest == half && (h & 1)))
			h++;
		return (uint16_t)(sign | h);
	}
	h = (uint16_t)((uint32_t)exp << 10 | man >> 13);
	if ((man & 0x1fff) > 0x1000 || ((man & 0x1fff) == 0x1000 && (h & 1)))
		h++;	/* may carry into the exponent: still correct */
	return (uint16_t)(sign | h);
}

float
bn_bf16_to_f32(uint16_t h)
{
	uint32_t bits = (uint32_t)h << 16;
	float f;

	memcpy(&f, &bits, 4);
	return f;
}

uint16_t
bn_f32_to_bf16(float f)
{
	uint32_t x;

	memcpy(&x, &f, 4);
	if ((x & 0x7fffffff) > 0x7f800000)
		return (uint16_t)(x >> 16 | 0x40);	/* quiet NaN */
	x += 0x7fff + (x >> 16 & 1);
	return (uint16_t)(x >> 16);
}

int
bn_t2_get(const uint8_t *row, uint64_t i)
{
	uint64_t blk = i / BN_T2_BLOCK, k = i % BN_T2_BLOCK;
	unsigned c = row[blk * 32 + k % 32] >> (2 * (k / 32)) & 3;

	return c == 3 ? 2 : (int)c - 1;
}

void
bn_t2_set(uint8_t *row, uint64_t i, int v)
{
	uint64_t blk = i / BN_T2_BLOCK, k = i % BN_T2_BLOCK;
	uint8_t *b = &row[blk * 32 + k % 32];
	unsigned sh = 2 * (unsigned)(k / 32);

	*b = (uint8_t)((*b & ~(3u << sh)) | (unsigned)(v + 1) << sh);
}

int
bn_t3_get(const uint8_t *row, uint64_t i)
{
	unsigned b = row[i / BN_T3_GROUP], k = (unsigned)(i % BN_T3_GROUP);

	if (b > 242)
		return 2;
	while (k-- > 0)
		b /= 3;
	return (int)(b % 3) - 1;
}

void
bn_t2_row_to_t3(const uint8_t *t2, uint8_t *t3, uint64_t n)
{
	static const uint8_t pow3[BN_T3_GROUP] = { 1, 3, 9, 27, 81 };
	uint64_t i;

	for (i = 0; i < n; i++)
		t3[i / BN_T3_GROUP] += (uint8_t)((bn_t2_get(t2, i) + 1) *
		    pow3[i % BN_T3_GROUP]);
	for (; i % BN_T3_GROUP != 0; i++)	/* padding: v = 0, code 1 */
		t3[i / BN_T3_GROUP] += pow3[i % BN_T3_GROUP];
}

int
bn_b1_get(const uint8_t *row, uint64_t i)
{
	const uint8_t *w = row + i / BN_B1_WORD * 4;
	unsigned bit = (unsigned)(i % BN_B1_WORD);

	return w[bit / 8] >> (bit % 8) & 1 ? 1 : -1;
}

int
bn_row_to_f32(int dtype, const void *row, uint64_t n, float *out)
{
	const unsigned char *p = row;
	uint64_t i;
	int v;

	for (i = 0; i < n; i++) {
		switch (dtype) {
		case BN_DTYPE_F32: memcpy(&out[i], p + 4 * i, 4); break;
		case BN_DTYPE_F64: {
			double d;
			memcpy(&d, p + 8 * i, 8);
			out[i] = (float)d;
			break;
		}
		case BN_DTYPE_F16:
		case BN_DTYPE_BF16: {
			uint16_t h;
			memcpy(&h, p + 2 * i, 2);
			out[i] = dtype == BN_DTYPE_F16 ? bn_f16_to_f32(h) :
			    bn_bf16_to_f32(h);
			break;
		}
		case BN_DTYPE_I8: out[i] = (float)(int8_t)p[i]; break;
		case BN_DTYPE_U8: out[i] = (float)p[i]; break;
		case BN_DTYPE_I32: {
			int32_t x;
			memcpy(&x, p + 4 * i, 4);
			out[i] = (float)x;
			break;
		}
		case BN_DTYPE_I64: {
			int64_t x;
			memcpy(&x, p + 8 * i, 8);
			out[i] = (float)x;
			break;
		}
		case BN_DTYPE_T2:
		case BN_DTYPE_T3:
		case BN_DTYPE_B1:
			v = dtype == BN_DTYPE_T2 ? bn_t2_get(p, i) :
			    dtype == BN_DTYPE_T3 ? bn_t3_get(p, i) :
			    bn_b1_get(p, i);
			if (v == 2)
				return -1;
			out[i] = (float)v;
			break;
		default:
			return -1;
		}
	}
	return 0;
}

int
bn_row_from_f32(int dtype, const float *in, uint64_t n, void *out)
{
	unsigned char *p = out;
	uint64_t i;
	uint16_t h;

	for (i = 0; i < n; i++) {
		switch (dtype) {
		case BN_DTYPE_F32: memcpy(p + 4 * i, &in[i], 4); break;
		case BN_DTYPE_F16:
			h = bn_f32_to_f16(in[i]);
			memcpy(p + 2 * i, &h, 2);
			break;
		case BN_DTYPE_BF16:
			h = bn_f32_to_bf16(in[i]);
			memcpy(p + 2 * i, &h, 2);
			break;
		default:
			return -1;
		}
	}
	return 0;
}
