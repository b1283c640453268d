/* t_export.c: export/gguf.c's ternary and Q8_0 encoders against the GGUF
 * importer (import/gguf.c), and its refusal of invalid codes. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bnt.h"
#include "check.h"
#include "dtype.h"
#include "export.h"
#include "import.h"
#include "status.h"

#define ROWS 6
#define COLS 512

static uint32_t rng = 12345;

static uint32_t
next(void)
{
	rng = rng * 1103515245u + 12345u;
	return rng >> 8;
}

/* A llama configuration and one tensor "w" of dtype dt, ROWS x cols. */
static int
write_model(const char *path, int dt, uint64_t cols, const void *data,
    const void *scales, int scale_kind)
{
	struct bn_kv kv;
	struct bnt_tensor t;
	struct bnt_writer *w;
	struct bn_err e;
	FILE *fp;
	int st;

	bn_kv_init(&kv);
	bn_kv_set(&kv, "arch", "llama");
	bn_kv_set(&kv, "vocab_size", "300");
	bn_kv_set(&kv, "hidden_size", "256");
	bn_kv_set(&kv, "n_layers", "1");
	bn_kv_set(&kv, "n_heads", "8");
	bn_kv_set(&kv, "ffn_size", "512");
	memset(&t, 0, sizeof t);
	t.name = "w";
	t.dtype = dt;
	t.ndim = 2;
	t.dims[0] = ROWS;
	t.dims[1] = cols;
	t.scale_kind = scale_kind;
	t.scale_dtype = scale_kind ? BN_DTYPE_F32 : 0;
	t.scale_flags = scale_kind ? BNT_SCALE_DIV : 0;
	if (bnt_tensor_layout(&t, &e) != BN_OK ||
	    (fp = fopen(path, "wb")) == NULL)
		return -1;
	w = bnt_writer_open(fp, 0);
	st = bnt_write_config(w, &kv) || bnt_write_tensor(w, &t, data,
	    scales) || bnt_writer_finish(w);
	bnt_writer_free(w);
	bn_kv_free(&kv);
	return fclose(fp) != 0 || st ? -1 : 0;
}

static int
export(const char *in, const char *out, int ternary, int floats,
    struct bn_err *e)
{
	struct bn_gguf_opts o;
	struct bnt_map m;
	FILE *fp;
	int st;

	bn_gguf_opts_init(&o);
	o.ternary = ternary;
	o.floats = floats;
	if ((st = bnt_map_open(&m, in, 0, e)) != BN_OK)
		return st;
	if ((fp = fopen(out, "wb")) == NULL)
		return BN_ECANTCREAT;
	st = bn_export_gguf_opts(&m, fp, &o, e);
	fclose(fp);
	bnt_map_close(&m);
	return st;
}

/* What the GGUF importer gives back for "w". */
struct got {
	struct bnt_tensor t;
	unsigned char *data, *scales;
};

static int
got_tensor(void *ctx, const struct bnt_tensor *t, const void *data,
    const void *scales)
{
	struct got *g = ctx;
	size_t ns = (size_t)t->nscales * 2;

	if (strcmp(t->name, "w") != 0)
		return BN_OK;
	g->t = *t;
	g->data = malloc(t->data_bytes);
	g->scales = malloc(ns ? ns : 1);
	memcpy(g->data, data, t->data_bytes);
	if (ns)
		memcpy(g->scales, scales, ns);
	return BN_OK;
}

static void
test_ternary(const char *dir, int type)
{
	static uint8_t codes[ROWS * COLS / 4];
	char in[256], out[256];
	struct got g = { 0 };
	struct bn_sink s = { &g, NULL, NULL, got_tensor };
	struct bn_err e = { "" };
	float scale = 37.5f, d;
	uint64_t r, c;
	int same = 1, v;

	for (r = 0; r < ROWS; r++)
		for (c = 0; c < COLS; c++)
			bn_t2_set(codes + r * COLS / 4, c, (int)(next() % 3) - 1);
	snprintf(in, sizeof in, "%s/t.bnt", dir);
	snprintf(out, sizeof out, "%s/t.gguf", dir);
	CHECK(write_model(in, BN_DTYPE_T2, COLS, codes, &scale,
	    BNT_SCALE_TENSOR) == 0);
	CHECK(export(in, out, type, BN_GGUF_KEEP, &e) == BN_OK);
	CHECK(bn_import_path(out, &s, &e) == BN_OK);
	CHECK(g.data != NULL && g.t.dtype == BN_DTYPE_T2 &&
	    g.t.dims[0] == ROWS && g.t.dims[1] == COLS);
	if (g.data == NULL)
		return;
	for (r = 0; r < ROWS; r++)
		for (c = 0; c < COLS; c++) {
			v = bn_t2_get(g.data + r * g.t.row_bytes, c);
			if (v != bn_t2_get(codes + r * COLS / 4, c))
				same = 0;
		}
	CHECK(same);
	/* d of every block: 1 / scale in f16 */
	d = bnt_tensor_scale(&g.t, g.scales, 0);
	CHECK(d == bn_f16_to_f32(bn_f32_to_f16(1.0f / scale)));
	CHECK(g.t.nscales == ROWS * COLS / 256);
	free(g.data);
	free(g.scales);
}

static void
test_invalid(const char *dir)
{
	static uint8_t codes[ROWS * COLS / 4];
	char in[256], out[256];
	struct bn_err e = { "" };
	float scale = 2.0f;

	memset(codes, 0x55, sizeof codes);
	codes[3 * COLS / 4 + 7] = 0xd5;	/* element code 3 in row 3 */
	snprintf(in, sizeof in, "%s/bad.bnt", dir);
	snprintf(out, sizeof out, "%s/bad.gguf", dir);
	CHECK(write_model(in, BN_DTYPE_T2, COLS, codes, &scale,
	    BNT_SCALE_TENSOR) == 0);
	CHECK(export(in, out, BN_GGUF_TQ2_0, BN_GGUF_KEEP, &e) == BN_EFORMAT);
	CHECK(strstr(e.msg, "invalid code in row 3") != NULL);
	CHECK(export(in, out, BN_GGUF_TQ1_0, BN_GGUF_KEEP, &e) == BN_EFORMAT);
	/* rows of 128: the Q8_0 fallback refuses it too */
	memset(codes, 0x55, sizeof codes);
	codes[3 * 128 / 4 + 7] = 0xd5;
	CHECK(write_model(in, BN_DTYPE_T2, 128, codes, &scale,
	    BNT_SCALE_TENSOR) == 0);
	CHECK(export(in, out, BN_GGUF_TQ2_0, BN_GGUF_KEEP, &e) == BN_EFORMAT);
	CHECK(strstr(e.msg, "invalid code in row 3") != NULL);
}

/* f32 -> Q8_0 is ggml's quantize_row_q8_0_ref: d = amax / 127 */
static void
test_q8(const char *dir)
{
	static float x[ROWS * 64];
	char in[256], out[256];
	struct got g = { 0 };
	struct bn_sink s = { &g, NULL, NULL, got_tensor };
	struct bn_err e = { "" };
	float amax, d, id;
	int i, j, same = 1;

	for (i = 0; i < ROWS * 64; i++)
		x[i] = ((float)(next() % 2001) - 1000.0f) / 517.0f;
	snprintf(in, sizeof in, "%s/q.bnt", dir);
	snprintf(out, sizeof out, "%s/q.gguf", dir);
	CHECK(write_model(in, BN_DTYPE_F32, 64, x, NULL, 0) == 0);
	CHECK(export(in, out, BN_GGUF_TQ2_0, BN_GGUF_Q8_0, &e) == BN_OK);
	CHECK(bn_import_path(out, &s, &e) == BN_OK);
	CHECK(g.data != NULL && g.t.dtype == BN_DTYPE_I8 &&
	    g.t.scale_kind == BNT_SCALE_BLOCK && g.t.scale_block == 32);
	if (g.data == NULL)
		return;
	for (i = 0; i < ROWS * 64 / 32; i++) {
		for (amax = 0, j = 0; j < 32; j++)
			amax = fmaxf(amax, fabsf(x[32 * i + j]));
		d = amax / 127;
		id = d != 0 ? 1.0f / d : 0.0f;
		if (bnt_tensor_scale(&g.t, g.scales, (uint64_t)i) !=
		    bn_f16_to_f32(bn_f32_to_f16(d)))
			same = 0;
		for (j = 0; j < 32; j++)
			if ((int8_t)g.data[32 * i + j] !=
			    (int8_t)roundf(x[32 * i + j] * id))
				same = 0;
	}
	CHECK(same);
	free(g.data);
	free(g.scales);
}

int
main(void)
{
	char dir[] = "/tmp/t_export.XXXXXX";
	char cmd[64];

	if (mkdtemp(dir) == NULL) {
		perror("mkdtemp");
		return 1;
	}
	test_ternary(dir, BN_GGUF_TQ2_0);
	test_ternary(dir, BN_GGUF_TQ1_0);
	test_invalid(dir);
	test_q8(dir);
	snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
	if (system(cmd) != 0)
		fprintf(stderr, "t_export: could not remove %s\n", dir);
	return check_done();
}
