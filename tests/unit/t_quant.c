/* t_quant.c: model/quant.c's quantizers on hand-made inputs: the worked
 * example of the HF 1.58-bit blog, and bn_quant_tensor over each scope
 * (tensor, row, block) for ternary and binary codes, their scales, the
 * padding after a row's codes and the dequantized values. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "kernels.h"
#include "quant.h"
#include "dtype.h"

/* HF "Fine-tuning LLMs to 1.58bit": W -> codes, X -> int8 */
static void
test_blog(void)
{
	static const float W[9] = { 0.8f, -0.5f, 1.2f, -1.5f, 0.4f, -0.9f,
	    1.3f, -0.7f, 0.2f };
	static const int code[9] = { 1, -1, 1, -1, 0, -1, 1, -1, 0 };
	static const float X[3][3] = { { 1.0f, -0.6f, 0.7f },
	    { -0.9f, 0.4f, -1.2f }, { 0.8f, -0.5f, 0.3f } };
	static const int8_t q8[3][3] = { { 127, -76, 89 }, { -95, 42, -127 },
	    { 127, -79, 48 } };
	uint8_t row[16];
	int8_t q[3];
	float s = bn_ternary_scale(W, 9);
	int i, r, ok = 1;

	CHECK(fabsf(1.0f / s - 0.8333333f) < 1e-6f);
	memset(row, 0x55, sizeof row);
	bn_ternary_codes(W, 9, s, row, 0);
	for (i = 0; i < 9; i++)
		ok &= bn_t2_get(row, (uint64_t)i) == code[i];
	CHECK(ok);
	for (r = 0, ok = 1; r < 3; r++) {
		bn_k->quant_i8(X[r], q, 3);
		for (i = 0; i < 3; i++)
			ok &= q[i] == q8[r][i];
	}
	CHECK(ok);
}

/* Two rows of four, worked by hand below. */
static const float W[8] = { 0.5f, -1.0f, 0.1f, 2.0f,
    -0.2f, 0.3f, -3.0f, 0.0f };

/* Ternary over scope block (0: the tensor): codes, scales and values
 * t / s.  A t2 row of four holds them in the low bits of its first four
 * bytes (one 32-byte block); the rest is code 0 (01). */
static void
ternary_case(size_t block, const int *code, const float *mean, size_t ns)
{
	uint8_t codes[2 * 32];
	float sc[4] = { 0 }, val[8];
	size_t i, si;
	int ok = 1;

	memset(codes, 0xaa, sizeof codes);
	bn_quant_tensor(W, 2, 4, &(struct bn_quant){ .kind =
	    BN_QUANT_TERNARY, .block = block, .codes = codes,
	    .row_bytes = 32, .scales = sc, .values = val });
	for (i = 0; i < 8; i++)
		ok &= bn_t2_get(codes + i / 4 * 32, i % 4) == code[i];
	CHECK(ok);
	for (i = 0, ok = 1; i < sizeof codes; i++)
		ok &= i % 32 < 4 ? (codes[i] & 0xfc) == 0x54 :
		    codes[i] == 0x55;
	CHECK(ok);
	for (i = 0, ok = 1; i < ns; i++)
		ok &= fabsf(1.0f / sc[i] - mean[i]) < 1e-6f;
	CHECK(ok);
	CHECK(ns == 4 || sc[ns] == 0);
	for (i = 0, ok = 1; i < 8; i++) {
		si = block == 0 ? 0 : i / block;
		ok &= val[i] == (float)code[i] / sc[si];
	}
	CHECK(ok);
}

static void
test_ternary(void)
{
	/* the tensor: mean |w| = 7.1 / 8; the same codes as by rows */
	static const int ct[8] = { 1, -1, 0, 1, 0, 0, -1, 0 };
	static const float mt[1] = { 0.8875f };
	/* rows: means 0.9 and 0.875 */
	static const float mr[2] = { 0.9f, 0.875f };
	/* blocks of two: means 0.75, 1.05, 0.25, 1.5; -0.2 * 4 rounds to
	 * -1 here where it was 0 by rows */
	static const int cb[8] = { 1, -1, 0, 1, -1, 1, -1, 0 };
	static const float mb[4] = { 0.75f, 1.05f, 0.25f, 1.5f };

	ternary_case(0, ct, mt, 1);
	ternary_case(4, ct, mr, 2);
	ternary_case(2, cb, mb, 4);
}

static void
test_binary(void)
{
	/* rows: alpha 0.4 and -0.725, beta 0.9 and 0.875 */
	static const int code[8] = { 1, -1, -1, 1, 1, 1, -1, 1 };
	static const float alpha[2] = { 0.4f, -0.725f };
	static const float beta[2] = { 0.9f, 0.875f };
	/* the tensor: alpha -0.1625; 0.0 lies above it */
	static const int ct[8] = { 1, -1, 1, 1, -1, 1, -1, 1 };
	uint8_t codes[2 * 4];
	float sc[2], al[2], val[8];
	size_t i;
	int ok = 1;

	/* a b1 row of four: one 32-bit word, the codes in its low bits */
	memset(codes, 0xff, sizeof codes);
	bn_quant_tensor(W, 2, 4, &(struct bn_quant){ .kind =
	    BN_QUANT_BINARY, .block = 4, .codes = codes, .row_bytes = 4,
	    .scales = sc, .alphas = al, .values = val });
	for (i = 0; i < 8; i++)
		ok &= bn_b1_get(codes + i / 4 * 4, i % 4) == code[i];
	CHECK(ok);
	CHECK(codes[0] == 0x9 && codes[4] == 0xb);
	for (i = 0, ok = 1; i < sizeof codes; i++)
		ok &= i % 4 == 0 || codes[i] == 0;
	CHECK(ok);
	CHECK(fabsf(al[0] - alpha[0]) < 1e-6f &&
	    fabsf(al[1] - alpha[1]) < 1e-6f);
	CHECK(fabsf(sc[0] - beta[0]) < 1e-6f &&
	    fabsf(sc[1] - beta[1]) < 1e-6f);
	for (i = 0, ok = 1; i < 8; i++)
		ok &= val[i] == code[i] * sc[i / 4];
	CHECK(ok);

	bn_quant_tensor(W, 2, 4, &(struct bn_quant){ .kind =
	    BN_QUANT_BINARY, .codes = codes, .row_bytes = 4, .scales = sc,
	    .alphas = al });
	for (i = 0, ok = 1; i < 8; i++)
		ok &= bn_b1_get(codes + i / 4 * 4, i % 4) == ct[i];
	CHECK(ok);
	CHECK(fabsf(al[0] + 0.1625f) < 1e-6f && fabsf(sc[0] - 0.8875f) < 1e-6f);
}

/* On a larger tensor: the packed codes are the scope quantizers' codes,
 * and the values alone (no codes) are the same as with codes. */
static void
test_agree(void)
{
	enum { R = 7, C = 40 };
	static float w[R * C], v1[R * C], v2[R * C];
	static uint8_t a[R * 32], b[R * 32];
	float sc[R * C / 8], s;
	size_t i, r;
	int ok = 1;

	srand(7);
	for (i = 0; i < R * C; i++)
		w[i] = (float)rand() / RAND_MAX * 2 - 1;
	bn_quant_tensor(w, R, C, &(struct bn_quant){ .kind =
	    BN_QUANT_TERNARY, .block = 8, .codes = a, .row_bytes = 32,
	    .scales = sc, .values = v1 });
	memset(b, 0x55, sizeof b);
	for (r = 0; r < R; r++)
		for (i = 0; i < C; i += 8) {
			s = bn_ternary_scale(w + r * C + i, 8);
			ok &= s == sc[(r * C + i) / 8];
			bn_ternary_codes(w + r * C + i, 8, s, b + r * 32, i);
		}
	CHECK(ok && memcmp(a, b, sizeof a) == 0);
	bn_quant_tensor(w, R, C, &(struct bn_quant){ .kind =
	    BN_QUANT_TERNARY, .block = 8, .values = v2 });
	CHECK(memcmp(v1, v2, sizeof v1) == 0);
}

int
main(void)
{
	if (bn_kernels_init(NULL) != 0)
		return 1;
	test_blog();
	test_ternary();
	test_binary();
	test_agree();
	return check_done();
}
