/* t_gguf.c: GGUF import: llama.cpp's vocab files, block conversions and
 * a corpus of broken headers built in memory. */
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bnt.h"
#include "dtype.h"
#include "fileset.h"
#include "import.h"
#include "kv.h"
#include "status.h"
#include "vocab.h"

#include "check.h"

static int nskip;


/* ---- a sink that records what it is given ---- */

struct rec {
	char order[64];		/* 'c', 'v', 't' per call */
	size_t n;
	struct bn_kv cfg;
	uint32_t n_tokens, n_merges;
	int has_scores, has_types;
	char tok[4][32];	/* tokens 0..3, truncated */
	int32_t types[4];
	float scores[4];
	char model[32], pre[32], bos[16], eos[16], unk[16], add_bos[4],
	    add_eos[4];
	int ntensors;
	struct bnt_tensor t[8];
	unsigned char *data[8], *scales[8];
};

static void
rec_init(struct rec *r)
{
	memset(r, 0, sizeof *r);
	bn_kv_init(&r->cfg);
}

static void
rec_free(struct rec *r)
{
	int i;

	bn_kv_free(&r->cfg);
	for (i = 0; i < r->ntensors; i++) {
		free(r->data[i]);
		free(r->scales[i]);
	}
}

static void
copy_kv(char *dst, size_t n, const struct bn_kv *kv, const char *key)
{
	const char *v = bn_kv_get(kv, key);

	snprintf(dst, n, "%s", v != NULL ? v : "-");
}

static int
on_config(void *ctx, const struct bn_kv *kv)
{
	struct rec *r = ctx;
	size_t i;

	if (r->n < sizeof r->order - 1)
		r->order[r->n++] = 'c';
	for (i = 0; i < kv->n; i++)
		if (bn_kv_set(&r->cfg, kv->v[i].key, kv->v[i].val) != 0)
			return BN_ENOMEM;
	return BN_OK;
}

static int
on_vocab(void *ctx, const struct bn_vocab *v)
{
	struct rec *r = ctx;
	uint32_t i;

	if (r->n < sizeof r->order - 1)
		r->order[r->n++] = 'v';
	r->n_tokens = v->n_tokens;
	r->n_merges = v->n_merges;
	r->has_scores = v->scores != NULL;
	r->has_types = v->types != NULL;
	for (i = 0; i < 4 && i < v->n_tokens; i++) {
		snprintf(r->tok[i], sizeof r->tok[i], "%s", v->tokens[i]);
		if (v->types != NULL)
			r->types[i] = v->types[i];
		if (v->scores != NULL)
			r->scores[i] = v->scores[i];
	}
	copy_kv(r->model, sizeof r->model, &v->kv, BN_VOC_MODEL);
	copy_kv(r->pre, sizeof r->pre, &v->kv, BN_VOC_PRE);
	copy_kv(r->bos, sizeof r->bos, &v->kv, BN_VOC_BOS);
	copy_kv(r->eos, sizeof r->eos, &v->kv, BN_VOC_EOS);
	copy_kv(r->unk, sizeof r->unk, &v->kv, BN_VOC_UNK);
	copy_kv(r->add_bos, sizeof r->add_bos, &v->kv, BN_VOC_ADD_BOS);
	copy_kv(r->add_eos, sizeof r->add_eos, &v->kv, BN_VOC_ADD_EOS);
	return BN_OK;
}

static int
on_tensor(void *ctx, const struct bnt_tensor *t, const void *data,
    const void *scales)
{
	struct rec *r = ctx;
	int i = r->ntensors;

	if (r->n < sizeof r->order - 1)
		r->order[r->n++] = 't';
	if (i >= 8)
		return BN_OK;
	r->t[i] = *t;
	r->t[i].name = NULL;
	r->data[i] = malloc(t->data_bytes + 1);
	memcpy(r->data[i], data, t->data_bytes);
	if (scales != NULL) {
		r->scales[i] = malloc(t->nscales * 2 + 1);
		memcpy(r->scales[i], scales, t->nscales * 2);
	}
	r->ntensors++;
	return BN_OK;
}

static int
import_mem(const unsigned char *p, size_t n, struct rec *r, struct bn_err *e)
{
	struct bn_sink s = { r, on_config, on_vocab, on_tensor };
	struct bn_file f;
	unsigned char *copy;
	int rc;

	/* an exact-size heap copy, so ASan sees any read past the end */
	if ((copy = malloc(n > 0 ? n : 1)) == NULL)
		return BN_ENOMEM;
	if (n > 0)
		memcpy(copy, p, n);
	memset(&f, 0, sizeof f);
	f.name = "mem.gguf";
	f.data = copy;
	f.size = n;
	e->msg[0] = '\0';
	rc = bn_import_gguf(&f, &s, e);
	free(copy);
	return rc;
}

/* ---- llama.cpp's vocabulary-only files ---- */

static const char *
vocab_path(const char *base, char *buf, size_t n)
{
	snprintf(buf, n, "../shared/vocab/%s", base);
	if (access(buf, R_OK) == 0)
		return buf;
	snprintf(buf, n, "tests/fixtures/vocab/%s", base);
	if (access(buf, R_OK) == 0)
		return buf;
	return NULL;
}

static int
import_path(const char *base, struct rec *r, struct bn_err *e)
{
	struct bn_sink s = { r, on_config, on_vocab, on_tensor };
	struct bn_file f;
	char buf[512];
	const char *path = vocab_path(base, buf, sizeof buf);
	int rc;

	if (path == NULL) {
		printf("skip: %s not found\n", base);
		nskip++;
		return 1;
	}
	if ((rc = bn_file_open(&f, path, e)) != BN_OK) {
		printf("%s: %s\n", path, e->msg);
		return rc;
	}
	rc = bn_import_gguf(&f, &s, e);
	if (rc != BN_OK)
		printf("%s: %s\n", path, e->msg);
	bn_file_close(&f);
	return rc;
}

static int
cfg_is(const struct rec *r, const char *key, const char *val)
{
	const char *v = bn_kv_get(&r->cfg, key);

	return v != NULL && strcmp(v, val) == 0;
}

static void
test_vocab_bpe(void)
{
	struct bn_err e;
	struct rec r;
	int rc;

	rec_init(&r);
	rc = import_path("ggml-vocab-llama-bpe.gguf", &r, &e);
	if (rc != 1) {
		CHECK(rc == BN_OK);
		CHECK(strcmp(r.order, "cv") == 0);
		CHECK(r.n_tokens == 128256);
		CHECK(r.n_merges == 280147);
		CHECK(strcmp(r.model, "gpt2") == 0);
		CHECK(strcmp(r.pre, "llama-bpe") == 0);
		CHECK(!r.has_scores);
		CHECK(r.has_types && r.types[0] == BN_TOK_NORMAL);
		CHECK(strcmp(r.tok[0], "!") == 0);
		CHECK(strcmp(r.tok[1], "\"") == 0);
		CHECK(strcmp(r.bos, "128000") == 0);
		CHECK(strcmp(r.eos, "128001") == 0);
		CHECK(strcmp(r.add_bos, "-") == 0);
		CHECK(cfg_is(&r, BN_CFG_ARCH, "llama"));
		CHECK(cfg_is(&r, BN_CFG_VOCAB, "128256"));
		CHECK(cfg_is(&r, BN_CFG_HIDDEN, "4096"));
		CHECK(cfg_is(&r, BN_CFG_LAYERS, "32"));
		CHECK(cfg_is(&r, BN_CFG_HEADS, "32"));
		CHECK(cfg_is(&r, BN_CFG_KV_HEADS, "8"));
		CHECK(cfg_is(&r, BN_CFG_HEAD_DIM, "128"));
		CHECK(cfg_is(&r, BN_CFG_FFN, "14336"));
		CHECK(cfg_is(&r, BN_CFG_CTX, "8192"));
		CHECK(cfg_is(&r, BN_CFG_NORM_EPS, "9.99999975e-06"));
		CHECK(cfg_is(&r, BN_CFG_ROPE_THETA, "500000"));
		CHECK(cfg_is(&r, BN_CFG_ROPE_STYLE, "interleaved"));
		CHECK(cfg_is(&r, BN_CFG_ACT, "silu"));
		CHECK(cfg_is(&r, BN_CFG_BITLINEAR, "0"));
		CHECK(cfg_is(&r, BN_CFG_BOS, "128000"));
		CHECK(cfg_is(&r, BN_CFG_EOS, "128001"));
		CHECK(cfg_is(&r, BN_CFG_SOURCE, "gguf"));
		CHECK(r.ntensors == 0);
	}
	rec_free(&r);
}

static void
test_vocab_spm(void)
{
	struct bn_err e;
	struct rec r;
	int rc;

	rec_init(&r);
	rc = import_path("ggml-vocab-llama-spm.gguf", &r, &e);
	if (rc != 1) {
		CHECK(rc == BN_OK);
		CHECK(strcmp(r.order, "cv") == 0);
		CHECK(r.n_tokens == 32000);
		CHECK(r.n_merges == 0);
		CHECK(strcmp(r.model, "llama") == 0);
		CHECK(strcmp(r.pre, "default") == 0);
		CHECK(r.has_scores);
		CHECK(r.has_types);
		CHECK(strcmp(r.tok[0], "<unk>") == 0);
		CHECK(strcmp(r.tok[1], "<s>") == 0);
		CHECK(strcmp(r.tok[2], "</s>") == 0);
		CHECK(r.types[0] == BN_TOK_UNKNOWN);
		CHECK(r.types[1] == BN_TOK_CONTROL);
		CHECK(r.types[3] == BN_TOK_BYTE);
		CHECK(r.scores[0] == 0.0f);
		CHECK(strcmp(r.bos, "1") == 0 && strcmp(r.eos, "2") == 0);
		CHECK(strcmp(r.unk, "0") == 0);
		CHECK(strcmp(r.add_bos, "1") == 0);
		CHECK(strcmp(r.add_eos, "0") == 0);
		CHECK(cfg_is(&r, BN_CFG_VOCAB, "32000"));
		CHECK(cfg_is(&r, BN_CFG_KV_HEADS, "32"));
		CHECK(bn_kv_get(&r.cfg, BN_CFG_ROPE_THETA) == NULL);
	}
	rec_free(&r);
}

/* ---- a tiny GGUF writer for hand-made files ---- */

struct buf {
	unsigned char p[8192];
	size_t n;
};

static void
b_bytes(struct buf *b, const void *p, size_t n)
{
	if (b->n + n <= sizeof b->p) {
		memcpy(b->p + b->n, p, n);
		b->n += n;
	}
}

static void
b_u32(struct buf *b, uint32_t v)
{
	unsigned char c[4];
	int i;

	for (i = 0; i < 4; i++)
		c[i] = (unsigned char)(v >> (8 * i));
	b_bytes(b, c, 4);
}

static void
b_u64(struct buf *b, uint64_t v)
{
	b_u32(b, (uint32_t)v);
	b_u32(b, (uint32_t)(v >> 32));
}

static void
b_str(struct buf *b, const char *s)
{
	b_u64(b, strlen(s));
	b_bytes(b, s, strlen(s));
}

static void
b_pad(struct buf *b, size_t a)
{
	static const unsigned char z[64];

	b_bytes(b, z, (a - b->n % a) % a);
}

static void
b_header(struct buf *b, uint32_t version, uint64_t nt, uint64_t nkv)
{
	b->n = 0;
	b_bytes(b, "GGUF", 4);
	b_u32(b, version);
	b_u64(b, nt);
	b_u64(b, nkv);
}

static void
b_tinfo(struct buf *b, const char *name, uint32_t ndim, const uint64_t *ne,
    uint32_t type, uint64_t off)
{
	uint32_t i;

	b_str(b, name);
	b_u32(b, ndim);
	for (i = 0; i < ndim; i++)
		b_u64(b, ne[i]);
	b_u32(b, type);
	b_u64(b, off);
}

static int
expect(const struct buf *b, int want, const char *what)
{
	struct bn_err e;
	struct rec r;
	int rc;

	rec_init(&r);
	rc = import_mem(b->p, b->n, &r, &e);
	rec_free(&r);
	if (rc != want) {
		printf("%s: got %d (%s), want %d\n", what, rc, e.msg, want);
		return 0;
	}
	if (rc != BN_OK && e.msg[0] == '\0') {
		printf("%s: no detail message\n", what);
		return 0;
	}
	return 1;
}

/* ---- block conversions ---- */

/* Trit k (0, 1, 2 = value + 1) of a fixed pseudo-random pattern. */
static int
trit(unsigned k)
{
	return (int)((k * 7u + k / 5u + (k >> 3)) % 3u);
}

static unsigned char
tq1_byte(const int *tr, int n)
{
	unsigned q = 0;
	int i;

	for (i = 0; i < n; i++)
		q = q * 3 + (unsigned)tr[i];
	if (n == 4)
		q *= 3;
	return (unsigned char)((q * 256 + 242) / 243);	/* ggml's packing */
}

static void
test_blocks(void)
{
	static const uint64_t ne_q[2] = { 64, 2 }, ne_t[2] = { 256, 2 };
	struct buf b;
	struct bn_err e;
	struct rec r;
	unsigned char blk[66];
	int tr[5], rc, ok, n, m, j;
	unsigned k, blkno, row;

	b_header(&b, 3, 3, 0);
	b_tinfo(&b, "q8", 2, ne_q, 8, 0);		/* 4 blocks * 34 */
	b_tinfo(&b, "tq1", 2, ne_t, 34, 160);	/* 2 blocks * 54 */
	b_tinfo(&b, "tq2", 2, ne_t, 35, 288);	/* 2 blocks * 66 */
	b_pad(&b, 32);
	for (blkno = 0; blkno < 4; blkno++) {	/* q8_0: d, qs[32] */
		blk[0] = 0x00;
		blk[1] = (unsigned char)(0x3c + blkno);	/* 1.0, 2.0, ... */
		for (j = 0; j < 32; j++)
			blk[2 + j] = (unsigned char)(blkno * 32 + j * 5 - 77);
		b_bytes(&b, blk, 34);
	}
	b_pad(&b, 32);
	for (blkno = 0; blkno < 2; blkno++) {	/* tq1_0 */
		for (m = 0; m < 32; m++) {
			for (n = 0; n < 5; n++)
				tr[n] = trit(256 * blkno + n * 32 + m);
			blk[m] = tq1_byte(tr, 5);
		}
		for (m = 0; m < 16; m++) {
			for (n = 0; n < 5; n++)
				tr[n] = trit(256 * blkno + 160 + n * 16 + m);
			blk[32 + m] = tq1_byte(tr, 5);
		}
		for (j = 0; j < 4; j++) {
			for (n = 0; n < 4; n++)
				tr[n] = trit(256 * blkno + 240 + n * 4 + j);
			blk[48 + j] = tq1_byte(tr, 4);
		}
		blk[52] = 0x00;
		blk[53] = (unsigned char)(0x38 + blkno);	/* 0.5, ... */
		b_bytes(&b, blk, 54);
	}
	b_pad(&b, 32);
	for (blkno = 0; blkno < 2; blkno++) {	/* tq2_0 */
		memset(blk, 0, sizeof blk);
		/* element 128h + 32l + m: bits 2l of qs[32h + m] */
		for (k = 0; k < 256; k++) {
			j = trit(1000 + 256 * blkno + k);
			blk[k / 128 * 32 + k % 32] |=
			    (unsigned char)(j << (2 * (k % 128 / 32)));
		}
		blk[64] = 0x00;
		blk[65] = (unsigned char)(0x40 + blkno);	/* 2.0, ... */
		b_bytes(&b, blk, 66);
	}

	rec_init(&r);
	rc = import_mem(b.p, b.n, &r, &e);
	CHECK(rc == BN_OK);
	if (rc != BN_OK)
		printf("blocks: %s\n", e.msg);
	CHECK(strcmp(r.order, "ttt") == 0);
	CHECK(r.ntensors == 3);
	if (r.ntensors == 3) {
		/* q8_0 -> i8 with f16 block scales of 32 */
		CHECK(r.t[0].dtype == BN_DTYPE_I8);
		CHECK(r.t[0].ndim == 2 && r.t[0].dims[0] == 2 &&
		    r.t[0].dims[1] == 64);
		CHECK(r.t[0].scale_kind == BNT_SCALE_BLOCK);
		CHECK(r.t[0].scale_block == 32);
		CHECK(r.t[0].scale_dtype == BN_DTYPE_F16);
		CHECK(r.t[0].scale_flags == 0);
		CHECK(r.t[0].nscales == 4);
		ok = 1;
		for (k = 0; k < 128; k++)
			ok &= r.data[0][k] == (unsigned char)(k / 32 * 32 +
			    k % 32 * 5 - 77);
		CHECK(ok);
		for (k = 0; k < 4; k++)
			CHECK(r.scales[0][2 * k] == 0 &&
			    r.scales[0][2 * k + 1] == 0x3c + k);
		CHECK(bnt_tensor_scale(&r.t[0], r.scales[0],
		    bnt_scale_index(&r.t[0], 1, 40)) == 1.75f);
		/* tq1_0 -> t2 */
		CHECK(r.t[1].dtype == BN_DTYPE_T2);
		CHECK(r.t[1].scale_block == 256 && r.t[1].nscales == 2);
		CHECK(r.t[1].data_bytes == 128);
		ok = 1;
		for (row = 0; row < 2; row++)
			for (k = 0; k < 256; k++)
				ok &= bn_t2_get(r.data[1] + 64 * row, k) ==
				    trit(256 * row + k) - 1;
		CHECK(ok);
		CHECK(r.scales[1][1] == 0x38 && r.scales[1][3] == 0x39);
		/* tq2_0 -> t2: the same bytes */
		CHECK(r.t[2].dtype == BN_DTYPE_T2);
		ok = 1;
		for (row = 0; row < 2; row++)
			for (k = 0; k < 256; k++)
				ok &= bn_t2_get(r.data[2] + 64 * row, k) ==
				    trit(1000 + 256 * row + k) - 1;
		CHECK(ok);
		CHECK(memcmp(r.data[2], b.p + b.n - 132, 64) == 0);
		CHECK(r.scales[2][1] == 0x40 && r.scales[2][3] == 0x41);
	}
	rec_free(&r);

	/* every truncation of this valid file is refused, cleanly */
	ok = 1;
	for (k = 0; k < b.n; k++) {
		rec_init(&r);
		rc = import_mem(b.p, k, &r, &e);
		ok &= rc == BN_EFORMAT && e.msg[0] != '\0';
		rec_free(&r);
	}
	CHECK(ok);

	/* code 3 in a tq2_0 block */
	b.p[b.n - 100] = 0xc0;
	CHECK(expect(&b, BN_EFORMAT, "tq2_0 code 3"));
}

/* ---- broken headers ---- */

static void
base_kv(struct buf *b)
{
	b_str(b, "general.architecture");
	b_u32(b, 8);
	b_str(b, "llama");
}

/* One f32 tensor, ne = {32, 2}, at offset off; nt tensors claimed. */
static void
one_tensor(struct buf *b, uint32_t ndim, const uint64_t *ne, uint32_t type,
    uint64_t off)
{
	static const unsigned char z[256];

	b_header(b, 3, 1, 1);
	base_kv(b);
	b_tinfo(b, "blk.0.attn_q.weight", ndim, ne, type, off);
	b_pad(b, 32);
	b_bytes(b, z, sizeof z);
}

static void
test_broken(void)
{
	static const uint64_t ne[9] = { 32, 2, 1, 1, 1, 1, 1, 1, 1 };
	static const uint64_t big[4] = {
		UINT64_C(1) << 32, UINT64_C(1) << 32, UINT64_C(1) << 32,
		UINT64_C(1) << 32
	};
	static const uint64_t neg[2] = { 32, UINT64_C(1) << 63 };
	static const uint64_t odd[2] = { 48, 2 };
	struct buf b;
	int i;

	one_tensor(&b, 2, ne, 0, 0);
	CHECK(expect(&b, BN_OK, "valid"));
	CHECK(expect(&b, BN_OK, "valid"));

	/* huge-string: a string claiming 2^62 bytes */
	b_header(&b, 3, 0, 1);
	b_str(&b, "general.name");
	b_u32(&b, 8);
	b_u64(&b, UINT64_C(1) << 62);
	b_bytes(&b, "abc", 3);
	CHECK(expect(&b, BN_EFORMAT, "huge-string"));
	/* a key claiming 2^60 bytes */
	b_header(&b, 3, 0, 1);
	b_u64(&b, UINT64_C(1) << 60);
	b_bytes(&b, "abcdefghijklmnop", 16);
	CHECK(expect(&b, BN_EFORMAT, "huge key"));
	/* huge-array: 2^62 strings, and 2^61 u64s */
	b_header(&b, 3, 0, 1);
	b_str(&b, "tokenizer.ggml.tokens");
	b_u32(&b, 9);
	b_u32(&b, 8);
	b_u64(&b, UINT64_C(1) << 62);
	b_str(&b, "a");
	CHECK(expect(&b, BN_EFORMAT, "huge-array"));
	b_header(&b, 3, 0, 1);
	b_str(&b, "x");
	b_u32(&b, 9);
	b_u32(&b, 10);
	b_u64(&b, UINT64_C(1) << 61);
	b_u64(&b, 0);
	CHECK(expect(&b, BN_EFORMAT, "huge u64 array"));
	/* nested arrays, too deep and fine */
	b_header(&b, 3, 0, 1);
	b_str(&b, "x");
	b_u32(&b, 9);
	for (i = 0; i < 100; i++) {
		b_u32(&b, 9);
		b_u64(&b, 1);
	}
	b_u32(&b, 0);
	b_u64(&b, 0);
	CHECK(expect(&b, BN_EFORMAT, "nested too deep"));
	b_header(&b, 3, 0, 1);
	b_str(&b, "x");
	b_u32(&b, 9);
	b_u32(&b, 9);
	b_u64(&b, 2);
	b_u32(&b, 8);
	b_u64(&b, 1);
	b_str(&b, "s");
	b_u32(&b, 4);
	b_u64(&b, 2);
	b_u64(&b, 7);
	CHECK(expect(&b, BN_OK, "nested arrays"));
	/* huge counts in the header */
	b_header(&b, 3, UINT64_C(1) << 62, 0);
	CHECK(expect(&b, BN_EFORMAT, "huge tensor count"));
	b_header(&b, 3, 0, UINT64_MAX);
	CHECK(expect(&b, BN_EFORMAT, "huge kv count"));
	/* bad value types */
	b_header(&b, 3, 0, 1);
	b_str(&b, "x");
	b_u32(&b, 13);
	b_u32(&b, 0);
	CHECK(expect(&b, BN_EFORMAT, "bad value type"));

	/* tensor infos */
	one_tensor(&b, 2, ne, 0, 1u << 20);
	CHECK(expect(&b, BN_EFORMAT, "tensor-offset-past-eof"));
	one_tensor(&b, 2, ne, 0, 64);
	CHECK(expect(&b, BN_EFORMAT, "data past eof"));
	one_tensor(&b, 2, ne, 99, 0);
	CHECK(expect(&b, BN_EFORMAT, "bad-type"));
	one_tensor(&b, 2, ne, 12, 0);		/* q4_K */
	CHECK(expect(&b, BN_EUNSUPPORTED, "unsupported type"));
	one_tensor(&b, 9, ne, 0, 0);
	CHECK(expect(&b, BN_EFORMAT, "too-many-dims"));
	one_tensor(&b, 8, ne, 0, 0);
	CHECK(expect(&b, BN_OK, "eight dims"));
	one_tensor(&b, 4, big, 0, 0);
	CHECK(expect(&b, BN_EFORMAT, "ne-overflow"));
	one_tensor(&b, 2, neg, 0, 0);
	CHECK(expect(&b, BN_EFORMAT, "negative ne"));
	one_tensor(&b, 2, ne, 0, 4);
	CHECK(expect(&b, BN_EFORMAT, "misaligned-offset"));
	one_tensor(&b, 2, odd, 8, 0);		/* q8_0 row of 48 */
	CHECK(expect(&b, BN_EFORMAT, "row not a block multiple"));
	one_tensor(&b, 2, ne, 35, 0);		/* tq2_0 row of 32 */
	CHECK(expect(&b, BN_EFORMAT, "ternary row of 32"));

	/* two tensors: same name; overlapping data */
	b_header(&b, 3, 2, 0);
	b_tinfo(&b, "a", 2, ne, 0, 0);
	b_tinfo(&b, "a", 2, ne, 0, 256);
	b_pad(&b, 32);
	b.n += 512;
	memset(b.p + b.n - 512, 0, 512);
	CHECK(expect(&b, BN_EFORMAT, "duplicate tensor"));
	b_header(&b, 3, 2, 0);
	b_tinfo(&b, "a", 2, ne, 0, 0);
	b_tinfo(&b, "b", 2, ne, 0, 128);
	b_pad(&b, 32);
	b.n += 512;
	memset(b.p + b.n - 512, 0, 512);
	CHECK(expect(&b, BN_EFORMAT, "overlapping tensors"));

	/* alignment */
	b_header(&b, 3, 0, 1);
	b_str(&b, "general.alignment");
	b_u32(&b, 4);
	b_u32(&b, 48);
	CHECK(expect(&b, BN_EFORMAT, "bad alignment"));
	b_header(&b, 3, 0, 1);
	b_str(&b, "general.alignment");
	b_u32(&b, 4);
	b_u32(&b, 0);
	CHECK(expect(&b, BN_EFORMAT, "zero alignment"));
	b_header(&b, 3, 0, 1);
	b_str(&b, "general.alignment");
	b_u32(&b, 4);
	b_u32(&b, UINT32_C(1) << 31);
	CHECK(expect(&b, BN_EFORMAT, "huge alignment"));
	b_header(&b, 3, 0, 1);
	b_str(&b, "general.alignment");
	b_u32(&b, 8);
	b_str(&b, "32");
	CHECK(expect(&b, BN_EFORMAT, "string alignment"));

	/* alignment 1: the f32 data may land at any address */
	for (i = 0; i < 4; i++) {
		struct bn_err e;
		struct rec r;
		float v = 0.0f;
		int rc;

		b_header(&b, 3, 1, 2);
		b_str(&b, "general.alignment");
		b_u32(&b, 4);
		b_u32(&b, 1);
		b_str(&b, "pad");
		b_u32(&b, 9);
		b_u32(&b, 0);
		b_u64(&b, (uint64_t)i);
		b_bytes(&b, "xyz", (size_t)i);
		b_tinfo(&b, "t", 2, ne, 0, 0);
		while (b.n < sizeof b.p - 4)
			b_bytes(&b, "\0\0\x80\x3f", 4);	/* 1.0f */
		rec_init(&r);
		rc = import_mem(b.p, b.n, &r, &e);
		if (r.ntensors == 1)
			memcpy(&v, r.data[0] + 4 * 63, 4);
		CHECK(rc == BN_OK && r.ntensors == 1 && v == 1.0f);
		rec_free(&r);
	}

	/* headers */
	b_header(&b, 3, 0, 0);
	b.n = 16;
	CHECK(expect(&b, BN_EFORMAT, "truncated-header"));
	b.n = 0;
	CHECK(expect(&b, BN_EFORMAT, "empty file"));
	b_header(&b, 3, 0, 0);
	b.p[3] = 'G';
	CHECK(expect(&b, BN_EFORMAT, "bad magic"));
	b_header(&b, 1, 0, 0);
	CHECK(expect(&b, BN_EUNSUPPORTED, "version 1"));
	b_header(&b, 4, 0, 0);
	CHECK(expect(&b, BN_EUNSUPPORTED, "version 4"));
	b_header(&b, UINT32_C(3) << 24, 0, 0);	/* big-endian v3 */
	CHECK(expect(&b, BN_EUNSUPPORTED, "big-endian"));
	b_header(&b, 2, 0, 0);
	CHECK(expect(&b, BN_OK, "empty v2"));

	/* duplicate key; vocab arrays of the wrong kind */
	b_header(&b, 3, 0, 2);
	base_kv(&b);
	base_kv(&b);
	CHECK(expect(&b, BN_EFORMAT, "duplicate key"));
	b_header(&b, 3, 0, 2);
	b_str(&b, "tokenizer.ggml.tokens");
	b_u32(&b, 9);
	b_u32(&b, 8);
	b_u64(&b, 2);
	b_str(&b, "a");
	b_str(&b, "b");
	b_str(&b, "tokenizer.ggml.scores");
	b_u32(&b, 9);
	b_u32(&b, 6);
	b_u64(&b, 1);
	b_u32(&b, 0);
	CHECK(expect(&b, BN_EFORMAT, "scores count"));
	b_header(&b, 3, 0, 1);
	b_str(&b, "tokenizer.ggml.tokens");
	b_u32(&b, 9);
	b_u32(&b, 4);
	b_u64(&b, 1);
	b_u32(&b, 0);
	CHECK(expect(&b, BN_EFORMAT, "tokens not strings"));
}

int
main(void)
{
	test_vocab_bpe();
	test_vocab_spm();
	test_blocks();
	test_broken();
	if (nskip > 0)
		printf("%u passed, %u failed, %d skipped\n", check_pass, check_fail,
		    nskip);
	else
		printf("%u passed, %u failed\n", check_pass, check_fail);
	return check_fail != 0;
}
