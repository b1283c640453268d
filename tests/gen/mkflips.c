/* mkflips.c: checkpoints with a known, counted set of code flips, for
 * bnstat --stability (tests/cli/bnstat.bats).
 *
 * usage: mkflips DIR
 *
 * Two BitLinear weights, blk.0.attn_q.weight [8, 128] and
 * blk.0.ffn_up.weight [2, 128], start from the codes -1, 0, +1 for
 * element i mod 3 = 0, 1, 2.  Each checkpoint is written three ways:
 * t2 (codes, one f32 divisor per tensor), f32 master weights (code *
 * amp, which absmean ternarization maps back to the same codes, since
 * |w| / mean|W| >= 1 for every non-zero code) and, for the binary pair,
 * b1.  Every file also holds a norm vector and an optimizer tensor
 * (optim.m.*), which bnstat must ignore.
 *
 * pair-a, pair-b (train.step 0 and 100):
 *   attn_q: 10 (-1 -> 0), 20 (0 -> +1), 30 (+1 -> 0) soft flips,
 *           5 (-1 -> +1), 7 (+1 -> -1) hard flips: 72 of 1024;
 *   ffn_up: 8 (0 -> -1) soft flips: 8 of 256;
 *   t2 divisor 2 then 2.5 (scale drift 0.8); f32 amp 0.5 then 0.4.
 * bin-a, bin-b (b1, codes -1, +1 for i even, odd; and f32 masters
 * with train.quant=binary):
 *   attn_q: 9 (-1 -> +1), 11 (+1 -> -1): 20 hard flips of 1024.
 * osc-0, osc-1, osc-2 (t2 with train.step 0, 100, 200; f32 without):
 *   attn_q: 12 weights 0 -> +1 -> 0 and 6 weights +1 -> -1 -> +1
 *           (flips 2, oscillations 1), 9 weights -1 -> 0 -> +1 (flips
 *           2, no oscillation), 4 weights 0 -> 0 -> -1 (flip 1);
 *   ffn_up: no flips. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bnt.h"
#include "dtype.h"
#include "kv.h"

#define NQ 1024			/* attn_q: 8 x 128 */
#define NU 256			/* ffn_up: 2 x 128 */

static const char *dir;

/* Change n elements with code `from` (i mod 3 class) to `to`, taking
 * the first unchanged ones at or after element `start`. */
static void
flip(int8_t *c, const int8_t *base, size_t len, size_t start, int from,
    int to, int n)
{
	size_t i;

	for (i = start; i < len && n > 0; i++)
		if (base[i] == from && c[i] == from) {
			c[i] = (int8_t)to;
			n--;
		}
	if (n > 0) {
		fprintf(stderr, "mkflips: not enough codes %d\n", from);
		exit(1);
	}
}

static void
tensor(struct bnt_writer *w, const char *name, int dtype, uint64_t rows,
    uint64_t cols, const int8_t *c, float amp)
{
	struct bnt_tensor t;
	struct bn_err e;
	unsigned char *d;
	float s = 1 / amp, *f;
	uint64_t i, r;

	memset(&t, 0, sizeof t);
	t.name = name;
	t.dtype = dtype;
	t.ndim = 2;
	t.dims[0] = rows;
	t.dims[1] = cols;
	if (dtype != BN_DTYPE_F32) {
		t.scale_kind = BNT_SCALE_TENSOR;
		t.scale_dtype = BN_DTYPE_F32;
		t.scale_flags = dtype == BN_DTYPE_T2 ? BNT_SCALE_DIV : 0;
	}
	if (bnt_tensor_layout(&t, &e) != BN_OK) {
		fprintf(stderr, "mkflips: %s\n", e.msg);
		exit(1);
	}
	d = calloc(1, (size_t)t.raw_len);
	if (dtype == BN_DTYPE_T2)
		memset(d, 0x55, (size_t)t.data_bytes);
	for (r = 0; r < rows; r++)
		for (i = 0; i < cols; i++) {
			int v = c[r * cols + i];
			unsigned char *row = d + r * t.row_bytes;

			if (dtype == BN_DTYPE_T2)
				bn_t2_set(row, i, v);
			else if (dtype == BN_DTYPE_B1 && v > 0)
				row[i / 8] |= (unsigned char)(1u << (i % 8));
			else if (dtype == BN_DTYPE_F32) {
				f = (float *)(void *)row;
				f[i] = (float)v * amp;
			}
		}
	if (dtype == BN_DTYPE_T2)
		memcpy(d + t.scale_offset, &s, 4);
	else if (dtype == BN_DTYPE_B1)
		memcpy(d + t.scale_offset, &amp, 4);
	if (bnt_write_tensor(w, &t, d, d + t.scale_offset) != BN_OK) {
		fprintf(stderr, "mkflips: %s\n", bnt_writer_error(w));
		exit(1);
	}
	free(d);
}

static void
extra(struct bnt_writer *w, float seed)
{
	static float norm[128], m[NQ];
	struct bnt_tensor t;
	struct bn_err e;
	size_t i;

	for (i = 0; i < 128; i++)
		norm[i] = 1;
	for (i = 0; i < NQ; i++)		/* anything: must be ignored */
		m[i] = seed * (float)((i * 7919) % 13) - 6;
	memset(&t, 0, sizeof t);
	t.name = "blk.0.attn_norm.weight";
	t.dtype = BN_DTYPE_F32;
	t.ndim = 1;
	t.dims[0] = 128;
	bnt_tensor_layout(&t, &e);
	bnt_write_tensor(w, &t, norm, NULL);
	t.name = "optim.m.blk.0.attn_q.weight";
	t.ndim = 2;
	t.dims[0] = 8;
	t.dims[1] = 128;
	bnt_tensor_layout(&t, &e);
	bnt_write_tensor(w, &t, m, NULL);
}

/* Write DIR/name.ext with both tensors; step < 0: no train.step. */
static void
file(const char *name, const char *ext, int dtype, long step,
    const int8_t *q, const int8_t *u, float amp)
{
	char path[4096];
	struct bnt_writer *w;
	struct bn_kv kv;
	FILE *fp;

	snprintf(path, sizeof path, "%s/%s.%s.bnt", dir, name,
	    strcmp(ext, "bf32") == 0 ? "f32" : ext);
	if ((fp = fopen(path, "wb")) == NULL) {
		perror(path);
		exit(1);
	}
	w = bnt_writer_open(fp, 0);
	bn_kv_init(&kv);
	bn_kv_set(&kv, "source", "mkflips");
	bn_kv_set(&kv, "bitlinear", "1");
	if (step >= 0)
		bn_kv_setf(&kv, "train.step", "%ld", step);
	if (step >= 0 && dtype == BN_DTYPE_F32)
		bn_kv_set(&kv, "train.quant", strcmp(ext, "bf32") == 0 ?
		    "binary" : "ternary");
	bnt_write_config(w, &kv);
	bn_kv_free(&kv);
	tensor(w, "blk.0.attn_q.weight", dtype, 8, 128, q, amp);
	if (u != NULL)
		tensor(w, "blk.0.ffn_up.weight", dtype, 2, 128, u, amp);
	extra(w, amp);
	if (bnt_writer_finish(w) != BN_OK || fclose(fp) != 0) {
		fprintf(stderr, "mkflips: %s: write error\n", path);
		exit(1);
	}
	bnt_writer_free(w);
}

static void
both(const char *name, long step, const int8_t *q, const int8_t *u,
    float amp, long fstep)
{
	file(name, "t2", BN_DTYPE_T2, step, q, u, amp);
	file(name, "f32", BN_DTYPE_F32, fstep, q, u, amp);
}

int
main(int argc, char *argv[])
{
	static int8_t q0[NQ], u0[NU], q1[NQ], u1[NU], q2[NQ], b0[NQ], b1[NQ];
	size_t i;

	if (argc != 2) {
		fprintf(stderr, "usage: mkflips DIR\n");
		return 64;
	}
	dir = argv[1];
	for (i = 0; i < NQ; i++)
		q0[i] = (int8_t)((int)(i % 3) - 1);
	for (i = 0; i < NU; i++)
		u0[i] = (int8_t)((int)(i % 3) - 1);

	/* the pair */
	memcpy(q1, q0, NQ);
	memcpy(u1, u0, NU);
	flip(q1, q0, NQ, 0, -1, 0, 10);
	flip(q1, q0, NQ, 0, 0, 1, 20);
	flip(q1, q0, NQ, 0, 1, 0, 30);
	flip(q1, q0, NQ, 500, -1, 1, 5);
	flip(q1, q0, NQ, 500, 1, -1, 7);
	flip(u1, u0, NU, 0, 0, -1, 8);
	both("pair-a", 0, q0, u0, 0.5f, 0);
	both("pair-b", 100, q1, u1, 0.4f, 100);

	/* binary */
	for (i = 0; i < NQ; i++)
		b0[i] = i % 2 ? 1 : -1;
	memcpy(b1, b0, NQ);
	flip(b1, b0, NQ, 0, -1, 1, 9);
	flip(b1, b0, NQ, 0, 1, -1, 11);
	file("bin-a", "b1", BN_DTYPE_B1, 0, b0, NULL, 0.5f);
	file("bin-b", "b1", BN_DTYPE_B1, 100, b1, NULL, 0.5f);
	file("bin-a", "bf32", BN_DTYPE_F32, 0, b0, NULL, 0.5f);
	file("bin-b", "bf32", BN_DTYPE_F32, 100, b1, NULL, 0.5f);

	/* the oscillation */
	memcpy(q1, q0, NQ);
	memcpy(q2, q0, NQ);
	flip(q1, q0, NQ, 0, 0, 1, 12);		/* 0 -> +1 -> 0 */
	flip(q1, q0, NQ, 0, 1, -1, 6);		/* +1 -> -1 -> +1 */
	flip(q1, q0, NQ, 0, -1, 0, 9);		/* -1 -> 0 -> +1 */
	flip(q2, q0, NQ, 0, -1, 1, 9);		/* the same 9 */
	flip(q2, q0, NQ, 600, 0, -1, 4);	/* 0 -> 0 -> -1 */
	both("osc-0", 0, q0, u0, 0.5f, -1);
	both("osc-1", 100, q1, u0, 0.5f, -1);
	both("osc-2", 200, q2, u0, 0.5f, -1);
	return 0;
}
