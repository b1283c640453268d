/* t_inspect.c: unit tests for bnstat's measurements (inspect/weights.c,
 * stability.c, ber.c, table.c) on hand-made inputs with known answers. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ber.h"
#include "bnt.h"
#include "dtype.h"
#include "kernels.h"
#include "stability.h"
#include "table.h"
#include "weights.h"

#include "check.h"

static int
near(double a, double b, double tol)
{
	return fabs(a - b) <= tol;
}

/* A 2-D tensor of rows x cols of dtype with no scales. */
static struct bnt_tensor
tensor(const char *name, int dtype, uint64_t rows, uint64_t cols)
{
	struct bnt_tensor t;
	struct bn_err e;

	memset(&t, 0, sizeof t);
	t.name = name;
	t.dtype = dtype;
	t.ndim = 2;
	t.dims[0] = rows;
	t.dims[1] = cols;
	CHECK(bnt_tensor_layout(&t, &e) == BN_OK);
	return t;
}

static void
test_moments(void)
{
	const float v[5] = { 1, 2, 3, 4, NAN }, nan2[2] = { NAN, NAN };
	struct bn_moments m;

	bn_moments_f32(v, 5, &m);
	CHECK(m.n == 5 && m.nan == 1);
	CHECK(m.mean == 2.5 && m.min == 1 && m.max == 4);
	CHECK(near(m.std, sqrt(1.25), 1e-12));
	bn_moments_f32(nan2, 2, &m);
	CHECK(m.n == 2 && m.nan == 2 && isnan(m.mean) && isnan(m.std));
	bn_moments_f32(v, 0, &m);
	CHECK(m.n == 0 && isnan(m.min));
}

/* Float master weights with mean |w| = 1, so u = w: each in the middle
 * of its 0.05 bin, two within 0.05 of the threshold 0.5. */
static void
test_latent(void)
{
	static const float w[8] = {
		0.525f, -0.525f, 1.475f, -1.475f, 0.025f, 0.225f, 2.475f,
		-1.275f
	};
	static const int bins[8] = { 70, 49, 89, 30, 60, 64, 109, 34 };
	struct bnt_tensor t = tensor("blk.0.attn_q.weight", BN_DTYPE_F32, 2,
	    4);
	struct bn_wstat ws;
	struct bn_codes c;
	struct bn_err e;
	uint64_t sum = 0;
	int i, ok = 1;

	CHECK(bn_has_codes(&t));
	CHECK(bn_weight_stats(&t, (const unsigned char *)w, 0, &ws, &e) ==
	    BN_OK);
	CHECK(ws.m.n == 8 && ws.m.nan == 0);
	CHECK(near(ws.m.mean, 1.45 / 8, 1e-7));
	CHECK(near(ws.m.min, -1.475, 1e-7) && near(ws.m.max, 2.475, 1e-7));
	CHECK(ws.coded && ws.latent);
	CHECK(ws.neg == 3 / 8.0 && ws.zero == 2 / 8.0 && ws.pos == 3 / 8.0);
	CHECK(near(ws.delta, 1, 1e-6));
	CHECK(ws.near == 2 / 8.0);
	for (i = 0; i < 8; i++)
		ok &= ws.hist[bins[i]] == 1;
	for (i = 0; i < BN_WHIST_BINS; i++)
		sum += ws.hist[i];
	CHECK(ok && sum == 8);
	/* the codes as the loader sees them, and binary: w - mean > 0 */
	CHECK(bn_tensor_codes(&t, (const unsigned char *)w, 0, 0, &c) ==
	    BN_OK);
	CHECK(c.code[0] == 1 && c.code[1] == -1 && c.code[4] == 0 &&
	    c.code[6] == 1 && c.lat == NULL && c.alpha == 0);
	bn_codes_free(&c);
	CHECK(bn_tensor_codes(&t, (const unsigned char *)w, 1, 1, &c) ==
	    BN_OK);
	CHECK(near(c.alpha, 1.45 / 8, 1e-6) && near(c.delta, 1, 1e-6));
	CHECK(c.code[4] == -1 && c.code[5] == 1 && c.code[7] == -1);
	CHECK(c.lat != NULL && c.lat[2] == w[2]);
	bn_codes_free(&c);
	/* not a projection: moments only */
	t.name = "token_embd.weight";
	CHECK(bn_weight_stats(&t, (const unsigned char *)w, 0, &ws, &e) ==
	    BN_OK);
	CHECK(!ws.coded && !ws.latent && ws.m.n == 8);
}

/* Packed t2 codes: shares as stored; an invalid code is refused. */
static void
test_packed(void)
{
	static const int v[6] = { -1, 0, 1, 1, 0, 1 };
	struct bnt_tensor t = tensor("w.t2", BN_DTYPE_T2, 2, 3);
	unsigned char data[2 * 32];
	struct bn_wstat ws;
	struct bn_err e;
	int i;

	CHECK(t.row_bytes * 2 <= sizeof data);
	memset(data, 0x55, sizeof data);
	for (i = 0; i < 6; i++)
		bn_t2_set(data + i / 3 * t.row_bytes, i % 3, v[i]);
	CHECK(bn_weight_stats(&t, data, 0, &ws, &e) == BN_OK);
	CHECK(ws.coded && !ws.latent && ws.delta == 1);
	CHECK(ws.neg == 1 / 6.0 && ws.zero == 2 / 6.0 && ws.pos == 3 / 6.0);
	CHECK(near(ws.m.mean, 2 / 6.0, 1e-12) && ws.m.min == -1 &&
	    ws.m.max == 1);
	data[t.row_bytes] |= 3;		/* code 3: not a ternary value */
	CHECK(bn_weight_stats(&t, data, 0, &ws, &e) == BN_EFORMAT);
	CHECK(strcmp(e.msg, "tensor 'w.t2': invalid packed code") == 0);
}

/* Four weights over three checkpoints (momentum 0.5):
 *   w0: -1 -> 0 -> -1   2 flips, 1 oscillation
 *   w1:  0 -> 0 ->  0   never
 *   w2:  1 -> -1 -> -1  1 flip (hard)
 *   w3:  0 -> 1 ->  0   2 flips, 1 oscillation */
static void
test_stability(void)
{
	static const int8_t ck[3][4] = {
		{ -1, 0, 1, 0 }, { 0, 0, -1, 1 }, { -1, 0, -1, 0 }
	};
	static const int8_t other[2] = { 1, 1 };
	double v[BN_STAB_NCOL], all[BN_STAB_NCOL], mean[BN_STAB_NCOL];
	double *vals[2], v2[BN_STAB_NCOL];
	const struct bn_stab_tensor *t;
	uint64_t h[BN_FLIP_BINS];
	struct bn_stab s;
	struct bn_err e;
	long long lo, hi;
	int k;

	CHECK(bn_stab_init(&s, 3, 0.5) == BN_OK);
	s.have_steps = 0;
	CHECK(bn_stab_check(&s, 0, &e) == BN_EFORMAT);
	for (k = 0; k < 3; k++) {
		CHECK(bn_stab_add(&s, k, "a", ck[k], 4, k == 2 ? 2 : 1, &e) ==
		    BN_OK);
		CHECK(bn_stab_add(&s, k, "b", other, 2, 1, &e) == BN_OK);
		CHECK(bn_stab_check(&s, k, &e) == BN_OK);
	}
	CHECK(bn_stab_finish(&s) == 2 && s.step[2] == 2);
	t = &s.t[0];
	/* m[from + 1][to + 1], summed over both pairs */
	CHECK(t->m[0][0] == 1 && t->m[0][1] == 1 && t->m[0][2] == 0);
	CHECK(t->m[1][0] == 1 && t->m[1][1] == 2 && t->m[1][2] == 1);
	CHECK(t->m[2][0] == 1 && t->m[2][1] == 1 && t->m[2][2] == 0);
	CHECK(t->flips[0] == 2 && t->flips[1] == 0 && t->flips[2] == 1 &&
	    t->flips[3] == 2);
	CHECK(t->osc[0] == 1 && t->osc[1] == 0 && t->osc[2] == 0 &&
	    t->osc[3] == 1);
	CHECK(t->pair[0] == 3 && t->pair[1] == 2);
	CHECK(t->f[0] == 0.5f && t->f[2] == 0);
	bn_stab_values(&s, 0, 2, v);
	CHECK(v[BN_STAB_N] == 4);
	CHECK(v[BN_STAB_FLIP_RATE] == 5 / 8.0);
	CHECK(v[BN_STAB_STABILITY] == 3 / 8.0);
	CHECK(v[BN_STAB_SOFT] == 4 / 8.0 && v[BN_STAB_HARD] == 1 / 8.0);
	CHECK(v[BN_STAB_M + 4] == 2 / 8.0);	/* m_zz */
	CHECK(v[BN_STAB_M + 6] == 1 / 8.0);	/* m_pn */
	CHECK(v[BN_STAB_SCALE_DRIFT] == 2);
	CHECK(v[BN_STAB_FIRST_LAST] == 3 / 4.0);
	CHECK(v[BN_STAB_FLIPS_1K] == 625 && v[BN_STAB_OSC_1K] == 250);
	CHECK(v[BN_STAB_OSC_EMA] == 0.25 && v[BN_STAB_OSC_SHARE] == 0.5);
	CHECK(v[BN_STAB_NEVER] == 0.25);
	CHECK(strcmp(bn_stab_cols[BN_STAB_OSC_EMA], "osc_ema") == 0);
	CHECK(strcmp(bn_stab_cols[BN_STAB_M + 8], "m_pp") == 0);
	CHECK(bn_stab_pair_rate(&s, 0) == 3 / 6.0);
	/* "b" never flips: (all) weights by elements, (mean) by tensors */
	bn_stab_values(&s, 1, 2, v2);
	vals[0] = v;
	vals[1] = v2;
	bn_stab_totals(&s, vals, all, mean);
	CHECK(all[BN_STAB_N] == 6 && mean[BN_STAB_N] == 6);
	CHECK(all[BN_STAB_FLIP_RATE] == 5 / 12.0);
	CHECK(mean[BN_STAB_FLIP_RATE] == 5 / 16.0);
	memset(h, 0, sizeof h);
	bn_stab_flip_hist(&s, 0, h);
	CHECK(h[0] == 1 && h[1] == 1 && h[2] == 2 && h[3] == 0);
	CHECK(bn_flip_bin(3) == 3 && bn_flip_bin(4) == 3 &&
	    bn_flip_bin(5) == 4 && bn_flip_bin(9) == 5);
	bn_flip_bin_range(4, &lo, &hi);
	CHECK(lo == 5 && hi == 8);
	bn_stab_free(&s);

	/* checkpoints that do not match */
	CHECK(bn_stab_init(&s, 2, 0.01) == BN_OK);
	CHECK(bn_stab_add(&s, 0, "a", ck[0], 4, 1, &e) == BN_OK);
	CHECK(bn_stab_add(&s, 0, "a", ck[0], 4, 1, &e) == BN_EFORMAT);
	CHECK(strcmp(e.msg, "tensor 'a' appears twice") == 0);
	CHECK(bn_stab_add(&s, 1, "c", ck[0], 4, 1, &e) == BN_EFORMAT);
	CHECK(strcmp(e.msg, "tensor 'c' is not in the first checkpoint") ==
	    0);
	CHECK(bn_stab_add(&s, 1, "a", ck[0], 3, 1, &e) == BN_EFORMAT);
	CHECK(strcmp(e.msg, "tensor 'a': 3 elements, 4 in the first "
	    "checkpoint") == 0);
	CHECK(bn_stab_check(&s, 1, &e) == BN_EFORMAT);
	bn_stab_values(&s, 0, 1, v);
	CHECK(isnan(v[BN_STAB_FLIPS_1K]));	/* needs 3 checkpoints */
	bn_stab_free(&s);
}

/* One token of 4: the student against the reference. */
static void
ber_of(const float *a, const float *r, double *v)
{
	struct bn_ber_site s;
	int8_t qs[4], qr[4];

	memset(&s, 0, sizeof s);
	bn_ber_compare(&s, a, r, 1, 4, qs, qr);
	CHECK(s.n == 4 && s.tokens == 1);
	bn_ber_values(&s, v);
}

static void
test_ber(void)
{
	static const float r[4] = { 1, -1, 1, -1 };
	static const float neg[4] = { -1, 1, -1, 1 };
	static const float a[4] = { 1.1f, -0.9f, 1.1f, -0.9f };
	static const float zero[4] = { 0, 0, 0, 0 };
	struct bn_config c = { 0 };
	struct bn_ber_site s, all;
	double v[BN_BER_NCOL], lo, hi;
	int8_t qs[4], qr[4];
	struct bn_ber b;

	ber_of(r, r, v);
	CHECK(v[BN_BER_SIGN] == 0 && v[BN_BER_CODE] == 0 &&
	    v[BN_BER_BIT] == 0);
	CHECK(v[BN_BER_COSINE] == 1 && v[BN_BER_REL_MSE] == 0);
	CHECK(isinf(v[BN_BER_SQNR]) && v[BN_BER_ABSMAX] == 1);
	ber_of(neg, r, v);
	CHECK(v[BN_BER_SIGN] == 1 && v[BN_BER_CODE] == 1);
	CHECK(v[BN_BER_COSINE] == -1 && v[BN_BER_REL_MSE] == 4);
	CHECK(near(v[BN_BER_SQNR], -10 * log10(4), 1e-12));
	/* 1.1 -> 127, -0.9 -> -104 (0x98) against -127 (0x81): 3 bits */
	ber_of(a, r, v);
	CHECK(v[BN_BER_SIGN] == 0 && v[BN_BER_CODE] == 0.5);
	CHECK(v[BN_BER_BIT] == 6 / 32.0);
	CHECK(near(v[BN_BER_COSINE], 4 / sqrt(4.04 * 4), 1e-7));
	CHECK(near(v[BN_BER_REL_MSE], 0.01, 1e-7));
	CHECK(near(v[BN_BER_SQNR], 20, 1e-5));
	CHECK(near(v[BN_BER_ABSMAX], 1.1, 1e-7));
	ber_of(zero, zero, v);
	CHECK(v[BN_BER_COSINE] == 1 && v[BN_BER_REL_MSE] == 0);
	/* absmax bins: 1.1 in [1, 2), 0.9 in [0.5, 1) */
	memset(&s, 0, sizeof s);
	bn_ber_compare(&s, a, r, 1, 4, qs, qr);
	bn_ber_compare(&s, r, a, 1, 4, qs, qr);
	CHECK(s.tokens == 2 && s.ah[BN_AOFF] == 2);
	bn_ber_abin_range(BN_AOFF, &lo, &hi);
	CHECK(lo == 1 && hi == 2);
	bn_ber_abin_range(0, &lo, &hi);
	CHECK(lo == 0 && hi == ldexp(1, 1 - BN_AOFF));
	bn_ber_abin_range(BN_ABINS - 1, &lo, &hi);
	CHECK(isinf(hi));
	/* the sites of 2 layers, summed */
	c.layers = 2;
	c.hidden = 8;
	c.ffn = 16;
	c.heads = 2;
	c.head_dim = 4;
	CHECK(bn_ber_init(&b, &c, &c, 4) == BN_OK);
	CHECK(b.ns == 2 + 2 * BN_BER_PER_LAYER && b.maxd == 16);
	bn_ber_compare(&b.s[0], a, r, 1, 4, qs, qr);
	bn_ber_compare(&b.s[b.ns - 1], r, r, 1, 4, qs, qr);
	bn_ber_total(&b, &all);
	CHECK(strcmp(all.name, "(all)") == 0 && all.n == 8 &&
	    all.tokens == 2 && all.code == 2);
	bn_ber_free(&b);
	CHECK(strcmp(bn_ber_cols[BN_BER_SQNR], "sqnr_db") == 0);
}

/* The table written to a string in format fmt (static buffer). */
static const char *
written(const struct bn_table *t, int fmt)
{
	static char out[1024];
	FILE *fp = tmpfile();
	size_t n;

	if (fp == NULL)
		return "";
	CHECK(bn_table_write(t, fp, fmt) == BN_OK);
	rewind(fp);
	n = fread(out, 1, sizeof out - 1, fp);
	out[n] = '\0';
	fclose(fp);
	return out;
}

static void
test_table(void)
{
	static const char *const cols[] = { "name", "n", "x" };
	struct bn_table t;

	bn_table_init(&t, cols, 3);
	bn_table_put_str(&t, "a");
	bn_table_put_int(&t, 1);
	bn_table_put_real(&t, 0.1234567891);
	bn_table_put_str(&t, "b,c");
	bn_table_put_none(&t);
	bn_table_put_real(&t, NAN);
	bn_table_put_str(&t, "d\"e");
	bn_table_put_int(&t, -12);
	bn_table_put_real(&t, INFINITY);
	CHECK(t.nrow == 3);
	CHECK(strcmp(written(&t, BN_TABLE_TEXT),
	    "name  n    x\n"
	    "a       1  0.123457\n"
	    "b,c   -    nan\n"
	    "d\"e   -12  inf\n") == 0);
	CHECK(strcmp(written(&t, BN_TABLE_CSV),
	    "name,n,x\n"
	    "a,1,0.123456789\n"
	    "\"b,c\",,nan\n"
	    "\"d\"\"e\",-12,inf\n") == 0);
	CHECK(strcmp(written(&t, BN_TABLE_JSON),
	    "{\"name\":\"a\",\"n\":1,\"x\":0.123456789}\n"
	    "{\"name\":\"b,c\",\"n\":null,\"x\":null}\n"
	    "{\"name\":\"d\\\"e\",\"n\":-12,\"x\":null}\n") == 0);
	bn_table_free(&t);
	CHECK(t.nrow == 0);
	CHECK(strcmp(written(&t, BN_TABLE_CSV), "name,n,x\n") == 0);
	CHECK(strcmp(written(&t, BN_TABLE_JSON), "") == 0);
	bn_table_free(&t);
}

/* The report's row of a packed tensor: no near-threshold mass. */
static void
test_report_row(void)
{
	struct bnt_tensor t = tensor("blk.0.ffn_up.weight", BN_DTYPE_T2, 1,
	    3);
	unsigned char data[32];
	struct bn_table tb;
	struct bn_wstat ws;
	struct bn_err e;

	memset(data, 0x55, sizeof data);
	bn_t2_set(data, 0, -1);
	bn_t2_set(data, 2, 1);
	CHECK(bn_weight_stats(&t, data, 0, &ws, &e) == BN_OK);
	bn_table_init(&tb, bn_wstat_cols, BN_WSTAT_NCOL);
	bn_wstat_row(&tb, "m.bnt", &t, &ws);
	CHECK(strcmp(written(&tb, BN_TABLE_CSV),
	    "file,name,dtype,shape,count,mean,std,min,max,neg,zero,pos,"
	    "scale,near\n"
	    "m.bnt,blk.0.ffn_up.weight,t2,1x3,3,0,0.816496581,-1,1,"
	    "0.333333333,0.333333333,0.333333333,1,\n") == 0);
	bn_table_free(&tb);
}

int
main(void)
{
	if (bn_kernels_init(NULL) != 0)
		return 1;
	test_moments();
	test_latent();
	test_packed();
	test_stability();
	test_ber();
	test_table();
	test_report_row();
	return check_done();
}
