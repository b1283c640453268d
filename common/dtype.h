/* dtype.h: the bnt(5) element types and their traits. */
#ifndef BN_DTYPE_H
#define BN_DTYPE_H

#include <stddef.h>
#include <stdint.h>

/* Type codes as stored in bnt(5) tensor records; never renumber. */
enum bn_dtype {
	BN_DTYPE_F32 = 0,
	BN_DTYPE_F16 = 1,
	BN_DTYPE_BF16 = 2,
	BN_DTYPE_I8 = 3,
	BN_DTYPE_U8 = 4,
	BN_DTYPE_I32 = 5,
	BN_DTYPE_I64 = 6,
	BN_DTYPE_F64 = 7,
	BN_DTYPE_T2 = 16,	/* ternary, 2 bits, 128-element blocks */
	BN_DTYPE_T3 = 17,	/* ternary, base 3, 5 per byte */
	BN_DTYPE_B1 = 18,	/* binary sign, 32 per uint32 */
	BN_DTYPE_COUNT = 19
};

#define BN_T2_BLOCK 128		/* elements per t2 block (32 bytes) */
#define BN_T3_GROUP 5		/* trits per t3 byte */
#define BN_B1_WORD 32		/* elements per b1 word */

struct bn_dtype_traits {
	const char *name;	/* "f32", "t2", ...; NULL: unassigned code */
	unsigned bits;		/* bits per element for plain types; 0 packed */
	int is_float;		/* f32, f16, bf16, f64 */
	int is_packed;		/* t2, t3, b1: rows padded, may carry scales */
};

const struct bn_dtype_traits *bn_dtype_traits(int dtype);	/* NULL if bad */
int bn_dtype_from_name(const char *name);			/* -1 if bad */

/* Bytes for one row of n elements (packed types pad the row); -1 on
 * overflow or bad type. */
int bn_dtype_row_bytes(int dtype, uint64_t n, uint64_t *bytes);
/* Bytes for a tensor of rows x n (n = last dim); -1 on overflow. */
int bn_dtype_tensor_bytes(int dtype, uint64_t rows, uint64_t n,
    uint64_t *bytes);

/* Scalar conversions (round to nearest even, as PyTorch does). */
float bn_f16_to_f32(uint16_t h);
uint16_t bn_f32_to_f16(float f);
float bn_bf16_to_f32(uint16_t h);
uint16_t bn_f32_to_bf16(float f);

/* Decode element i of one row of a packed type into -1, 0 or +1;
 * returns 2 for an invalid code (t2 code 3, t3 byte > 242). */
int bn_t2_get(const uint8_t *row, uint64_t i);
void bn_t2_set(uint8_t *row, uint64_t i, int v);
int bn_t3_get(const uint8_t *row, uint64_t i);
/* A t2 row of n values into a t3 row (ceil(n / 5) bytes, zeroed by the
 * caller), the padding values 0. */
void bn_t2_row_to_t3(const uint8_t *t2, uint8_t *t3, uint64_t n);
int bn_b1_get(const uint8_t *row, uint64_t i);	/* -1 or +1 */

/* Convert one row of n elements of any non-packed type to f32 (scale
 * not applied for packed types: values are the codes -1, 0, +1). */
int bn_row_to_f32(int dtype, const void *row, uint64_t n, float *out);
/* Convert n f32 values to a float dtype (f32, f16, bf16). */
int bn_row_from_f32(int dtype, const float *in, uint64_t n, void *out);

#endif
