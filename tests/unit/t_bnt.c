/* t_bnt.c: the bnt(5) reader, writer and mapper. */
#include <float.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <fcntl.h>

#include "bnt.h"
#include "crc32.h"
#include "dtype.h"
#include "check.h"

static uint32_t rng = 12345;

static uint32_t
rnd(void)
{
	rng = rng * 1664525u + 1013904223u;
	return rng >> 8;
}

struct sample {
	struct bnt_tensor t;
	unsigned char *data;
	unsigned char *scales;
};

static void
make_tensor(struct sample *s, const char *name, int dtype, uint64_t r,
    uint64_t c, int sk, uint32_t blk)
{
	uint64_t i;
	struct bn_err e;

	memset(s, 0, sizeof *s);
	s->t.name = name;
	s->t.dtype = dtype;
	s->t.ndim = 2;
	s->t.dims[0] = r;
	s->t.dims[1] = c;
	s->t.scale_kind = sk;
	s->t.scale_dtype = sk ? BN_DTYPE_BF16 : 0;
	s->t.scale_block = blk;
	s->t.scale_flags = sk ? BNT_SCALE_DIV : 0;
	CHECK(bnt_tensor_layout(&s->t, &e) == BN_OK);
	s->data = calloc(1, s->t.data_bytes + 1);
	for (i = 0; i < s->t.data_bytes; i++)
		s->data[i] = (unsigned char)rnd();
	if (dtype == BN_DTYPE_T2)
		for (i = 0; i < r; i++) {
			uint64_t k;

			memset(s->data + i * s->t.row_bytes, 0x55,
			    s->t.row_bytes);
			for (k = 0; k < c; k++)
				bn_t2_set(s->data + i * s->t.row_bytes, k,
				    (int)(rnd() % 3) - 1);
		}
	if (sk) {
		s->scales = malloc(2 * s->t.nscales);
		for (i = 0; i < s->t.nscales; i++) {
			uint16_t h = bn_f32_to_bf16(0.5f + (float)i);

			memcpy(s->scales + 2 * i, &h, 2);
		}
	}
}

static char *
write_stream(struct sample *s, int n, int zlevel, size_t *len)
{
	struct bnt_writer *w;
	struct bn_kv kv;
	struct bn_vocab v;
	char *buf;
	FILE *fp = open_memstream(&buf, len);
	int i;

	w = bnt_writer_open(fp, zlevel);
	bn_kv_init(&kv);
	bn_kv_set(&kv, "arch", "llama");
	bn_kv_set(&kv, "norm_eps", "1e-05");
	CHECK(bnt_write_config(w, &kv) == BN_OK);
	bn_vocab_init(&v);
	CHECK(bn_vocab_alloc(&v, 3, 1, 1, 1) == 0);
	bn_vocab_set_token(&v, 0, "a", 1);
	bn_vocab_set_token(&v, 1, "b\0c", 3);
	bn_vocab_set_token(&v, 2, "", 0);
	bn_vocab_set_merge(&v, 0, "a b", 3);
	v.scores[1] = -1.5f;
	v.types[0] = BN_TOK_CONTROL;
	bn_kv_set(&v.kv, "model", "gpt2");
	CHECK(bnt_write_tokenizer(w, &v) == BN_OK);
	CHECK(bnt_write_record(w, BNT_KIND_NOTE, 0, "hello", 5, NULL, 0) ==
	    BN_OK);
	CHECK(bnt_write_record(w, 0x1234, 0, "m", 1, "payload", 7) == BN_OK);
	for (i = 0; i < n; i++)
		CHECK(bnt_write_tensor(w, &s[i].t, s[i].data, s[i].scales) ==
		    BN_OK);
	CHECK(bnt_writer_finish(w) == BN_OK);
	bnt_writer_free(w);
	fclose(fp);
	bn_kv_free(&kv);
	bn_vocab_free(&v);
	return buf;
}

/* bnt_tensor_check_values: non-finite floats anywhere (in a block of
 * 64, at its edges, in the tail) and scales bnt(5) does not allow. */
static void
check_values(void)
{
	struct bnt_tensor t;
	struct bn_err e;
	float f[200], sc[2];
	uint16_t h[130];
	double d[3] = { 1, 2, 3 };
	size_t i, at[] = { 0, 63, 64, 127, 128, 190, 199 };

	memset(&t, 0, sizeof t);
	t.name = "w";
	t.dtype = BN_DTYPE_F32;
	t.ndim = 2;
	t.dims[0] = 2;
	t.dims[1] = 100;
	CHECK(bnt_tensor_layout(&t, &e) == BN_OK);
	for (i = 0; i < 200; i++)
		f[i] = (float)i - 100;
	CHECK(bnt_tensor_check_values(&t, f, NULL, &e) == BN_OK);
	for (i = 0; i < sizeof at / sizeof at[0]; i++) {
		f[at[i]] = i & 1 ? NAN : -INFINITY;
		CHECK(bnt_tensor_check_values(&t, f, NULL, &e) == BN_EFORMAT);
		f[at[i]] = FLT_MAX;
		CHECK(bnt_tensor_check_values(&t, f, NULL, &e) == BN_OK);
	}
	f[150] = NAN;
	f[199] = INFINITY;
	CHECK(bnt_tensor_check_values(&t, f, NULL, &e) == BN_EFORMAT);
	CHECK(strcmp(e.msg, "tensor 'w': element 150 is nan, not a finite "
	    "number") == 0);
	t.dtype = BN_DTYPE_F16;
	t.dims[0] = 1;
	t.dims[1] = 130;
	CHECK(bnt_tensor_layout(&t, &e) == BN_OK);
	for (i = 0; i < 130; i++)
		h[i] = 0x7bff;		/* the largest f16 */
	CHECK(bnt_tensor_check_values(&t, h, NULL, &e) == BN_OK);
	h[129] = 0xfc00;
	CHECK(bnt_tensor_check_values(&t, h, NULL, &e) == BN_EFORMAT);
	CHECK(strstr(e.msg, "element 129 is -inf") != NULL);
	t.dtype = BN_DTYPE_BF16;	/* 0x7bff is finite as bf16 too */
	CHECK(bnt_tensor_check_values(&t, h, NULL, &e) == BN_OK);
	h[5] = 0x7fc0;
	CHECK(bnt_tensor_check_values(&t, h, NULL, &e) == BN_EFORMAT);
	CHECK(strstr(e.msg, "element 5 is nan") != NULL);
	t.dtype = BN_DTYPE_F64;
	t.dims[1] = 3;
	CHECK(bnt_tensor_layout(&t, &e) == BN_OK);
	CHECK(bnt_tensor_check_values(&t, d, NULL, &e) == BN_OK);
	d[2] = HUGE_VAL;
	CHECK(bnt_tensor_check_values(&t, d, NULL, &e) == BN_EFORMAT);
	/* scales: a multiplier may be 0, a divisor must be normal */
	t.dtype = BN_DTYPE_T2;
	t.dims[0] = 2;
	t.dims[1] = 128;
	t.scale_kind = BNT_SCALE_ROW;
	t.scale_dtype = BN_DTYPE_F32;
	CHECK(bnt_tensor_layout(&t, &e) == BN_OK);
	sc[0] = 1;
	sc[1] = 0;
	CHECK(bnt_tensor_check_values(&t, f, sc, &e) == BN_OK);
	sc[1] = NAN;
	CHECK(bnt_tensor_check_values(&t, f, sc, &e) == BN_EFORMAT);
	t.scale_flags = BNT_SCALE_DIV;
	sc[1] = -0.0f;
	CHECK(bnt_tensor_check_values(&t, f, sc, &e) == BN_EFORMAT);
	CHECK(strcmp(e.msg, "tensor 'w': scale 1 is -0, a divisor must be "
	    "a normal number") == 0);
	sc[1] = 1e-40f;
	CHECK(bnt_tensor_check_values(&t, f, sc, &e) == BN_EFORMAT);
	sc[1] = FLT_MIN;
	CHECK(bnt_tensor_check_values(&t, f, sc, &e) == BN_OK);
}

/* Whether read_stream reads on into concatenated streams. */
static int all_streams;

/* Read a stream from memory; return the number of tensors that matched
 * s[], or -1 on a reader error. */
static int
read_stream(const char *buf, size_t len, struct sample *s, int n)
{
	struct bnt_reader *r;
	struct bnt_record rec;
	FILE *fp = fmemopen((void *)buf, len, "rb");
	int st, ok = 0, k = 0;

	if (len == 0)
		fp = fopen("/dev/null", "rb");
	r = bnt_reader_open(fp, "mem");
	if (all_streams)
		bnt_reader_all_streams(r);
	while ((st = bnt_read_next(r, &rec)) == BN_OK) {
		if (rec.kind == BNT_KIND_CONFIG) {
			const char *a = bn_kv_get(&rec.config, "arch");
			CHECK(a != NULL && strcmp(a, "llama") == 0);
		}
		if (rec.kind == BNT_KIND_TOKENIZER)
			CHECK(rec.vocab.n_tokens == 3 &&
			    rec.vocab.token_len[1] == 3 &&
			    memcmp(rec.vocab.tokens[1], "b\0c", 3) == 0 &&
			    rec.vocab.scores[1] == -1.5f &&
			    rec.vocab.types[0] == BN_TOK_CONTROL &&
			    rec.vocab.n_merges == 1);
		if (rec.kind != BNT_KIND_TENSOR)
			continue;
		k %= n;
		if (strcmp(rec.tensor.name, s[k].t.name) == 0 &&
		    rec.len == s[k].t.raw_len &&
		    memcmp(rec.data, s[k].data, s[k].t.data_bytes) == 0 &&
		    (s[k].scales == NULL || memcmp(rec.data +
		    s[k].t.scale_offset, s[k].scales, 2 * s[k].t.nscales) ==
		    0))
			ok++;
		k++;
	}
	bnt_reader_close(r);
	fclose(fp);
	return st == BN_END ? ok : -1;
}

int
main(void)
{
	struct sample s[6];
	struct bnt_map m;
	struct bn_err e;
	struct bnt_tensor t;
	char *buf, *z, *two, path[] = "/tmp/t_bnt.XXXXXX";
	size_t len, zlen, i, bad;
	int fd, n = 6;

	/* dtype helpers */
	CHECK(bn_f16_to_f32(0x3c00) == 1.0f);
	CHECK(bn_f32_to_f16(65504.0f) == 0x7bff);
	CHECK(bn_f32_to_f16(1e6f) == 0x7c00);
	CHECK(bn_f16_to_f32(0x0001) == 5.9604644775390625e-08f);
	CHECK(bn_f32_to_bf16(1.00390625f) == 0x3f80);	/* tie to even */
	CHECK(bn_f32_to_bf16(1.01171875f) == 0x3f82);
	CHECK(bn_crc32c(0, "123456789", 9) == 0xe3069283u);
	CHECK(bn_crc32c_sw(0, "123456789", 9) == 0xe3069283u);
	/* long buffers (three-stream hardware path): the table's result,
	 * at every split and length around the 3 x 4096-byte strides */
	{
		size_t lens[] = { 12287, 12288, 12289, 24576 + 13, 100000 };
		unsigned char *big = malloc(100000);
		size_t k, cut;

		for (k = 0; k < 100000; k++)
			big[k] = (unsigned char)(k * 2654435761u >> 13);
		for (k = 0; k < sizeof lens / sizeof lens[0]; k++) {
			uint32_t want = bn_crc32c_sw(0, big, lens[k]);

			CHECK(bn_crc32c(0, big, lens[k]) == want);
			cut = lens[k] / 3;
			CHECK(bn_crc32c(bn_crc32c(0, big, cut), big + cut,
			    lens[k] - cut) == want);
		}
		CHECK(bn_crc32c(0, big, 100000) != bn_crc32c(0, big + 1,
		    99999));
		free(big);
	}

	make_tensor(&s[0], "blk.0.attn_q.weight", BN_DTYPE_T2, 4, 300,
	    BNT_SCALE_TENSOR, 0);
	make_tensor(&s[1], "f32", BN_DTYPE_F32, 3, 5, 0, 0);
	make_tensor(&s[2], "bf16", BN_DTYPE_BF16, 2, 7, 0, 0);
	make_tensor(&s[3], "q8", BN_DTYPE_I8, 2, 64, BNT_SCALE_BLOCK, 32);
	make_tensor(&s[4], "b1", BN_DTYPE_B1, 5, 40, BNT_SCALE_ROW, 0);
	make_tensor(&s[5], "t3", BN_DTYPE_T3, 1, 11, 0, 0);
	/* t2 layout: element 32 of a block sits in bits 2-3 of byte 0 */
	{
		unsigned char row[32] = { 0 };

		memset(row, 0x55, 32);
		bn_t2_set(row, 32, 1);
		CHECK(row[0] == 0x59 && bn_t2_get(row, 32) == 1 &&
		    bn_t2_get(row, 0) == 0);
	}
	CHECK(s[0].t.row_bytes == 96 && s[0].t.scale_offset == 384);
	CHECK(s[5].t.row_bytes == 3);

	buf = write_stream(s, n, 0, &len);
	CHECK(len % 64 == 0);
	CHECK(read_stream(buf, len, s, n) == n);

	/* every proper prefix is an error, never a clean end */
	for (bad = 0, i = 0; i < len; i++)
		if (read_stream(buf, i, s, n) != -1)
			bad++;
	CHECK(bad == 0);

	/* concatenation: one stream, one model; a second is refused
	 * unless the reader is told to read them all */
	two = malloc(2 * len);
	memcpy(two, buf, len);
	memcpy(two + len, buf, len);
	CHECK(read_stream(two, 2 * len, s, n) == -1);
	all_streams = 1;
	CHECK(read_stream(two, 2 * len, s, n) == 2 * n);
	/* trailing junk after END is an error */
	CHECK(read_stream(two, len + 10, s, n) == -1);
	all_streams = 0;
	CHECK(read_stream(two, len + 10, s, n) == -1);
	CHECK(read_stream(two, len + 1, s, n) == -1);

	/* flipped bits anywhere are caught (header, metadata, payload) */
	for (bad = 0, i = 0; i < len; i += 7) {
		buf[i] ^= 0x10;
		if (read_stream(buf, len, s, n) != -1)
			bad++;
		buf[i] ^= 0x10;
	}
	CHECK(bad == 0);

	/* unknown header flag, unknown critical kind */
	{
		char *c = malloc(len);
		uint32_t crc;

		memcpy(c, buf, len);
		c[12] = 2;
		crc = bn_crc32c(0, c, 60);
		memcpy(c + 60, &crc, 4);
		CHECK(read_stream(c, len, s, n) == -1);
		free(c);
	}
	{
		struct bnt_writer *w;
		char *b2;
		size_t l2;
		FILE *fp = open_memstream(&b2, &l2);

		w = bnt_writer_open(fp, 0);
		bnt_write_record(w, 0x80001234u, 0, "x", 1, NULL, 0);
		bnt_writer_finish(w);
		bnt_writer_free(w);
		fclose(fp);
		CHECK(read_stream(b2, l2, s, n) == -1);
		free(b2);
	}

	/* zstd round trip */
	z = write_stream(s, n, 3, &zlen);
	CHECK(read_stream(z, zlen, s, n) == n);

	/* mmap: in place, aligned, and refuses compressed payloads */
	fd = mkstemp(path);
	CHECK(fd >= 0 && write(fd, buf, len) == (ssize_t)len);
	close(fd);
	CHECK(bnt_map_open(&m, path, 0, &e) == BN_OK);
	CHECK(m.ntensors == (size_t)n && m.has_config && m.has_vocab);
	for (i = 0; i < m.ntensors; i++) {
		CHECK((uintptr_t)m.tensors[i].data % 64 == 0);
		CHECK(memcmp(m.tensors[i].data, s[i].data,
		    s[i].t.data_bytes) == 0);
	}
	CHECK(bnt_map_find(&m, "b1") == &m.tensors[4]);
	CHECK(bnt_tensor_scale(&m.tensors[0].t, m.tensors[0].scales, 0) ==
	    0.5f);
	bnt_map_close(&m);
	fd = open(path, O_WRONLY | O_TRUNC);
	CHECK(write(fd, z, zlen) == (ssize_t)zlen);
	close(fd);
	CHECK(bnt_map_open(&m, path, 0, &e) == BN_EUNSUPPORTED);
	fd = open(path, O_WRONLY | O_TRUNC);
	CHECK(write(fd, buf, len / 2) == (ssize_t)(len / 2));
	close(fd);
	CHECK(bnt_map_open(&m, path, 0, &e) == BN_EFORMAT);
	/* a mapped file is one stream: a second, or stray bytes, refused */
	fd = open(path, O_WRONLY | O_TRUNC);
	CHECK(write(fd, two, 2 * len) == (ssize_t)(2 * len));
	close(fd);
	CHECK(bnt_map_open(&m, path, 0, &e) == BN_EFORMAT);
	CHECK(strstr(e.msg, "a second stream at offset") != NULL);
	fd = open(path, O_WRONLY | O_TRUNC);
	CHECK(write(fd, two, len + 1) == (ssize_t)(len + 1));
	close(fd);
	CHECK(bnt_map_open(&m, path, 0, &e) == BN_EFORMAT);
	CHECK(strstr(e.msg, "data after the END record") != NULL);
	unlink(path);
	check_values();

	/* layout validation: overflow, bad block, scales on f32 */
	memset(&t, 0, sizeof t);
	t.name = "x";
	t.dtype = BN_DTYPE_F32;
	t.ndim = 3;
	t.dims[0] = t.dims[1] = t.dims[2] = UINT64_C(1) << 30;
	CHECK(bnt_tensor_layout(&t, &e) == BN_EFORMAT);
	t.ndim = 1;
	t.dims[0] = 4;
	t.scale_kind = BNT_SCALE_TENSOR;
	t.scale_dtype = BN_DTYPE_F32;
	CHECK(bnt_tensor_layout(&t, &e) == BN_EFORMAT);
	t.dtype = BN_DTYPE_T2;
	t.scale_kind = BNT_SCALE_BLOCK;
	t.scale_block = 3;
	CHECK(bnt_tensor_layout(&t, &e) == BN_EFORMAT);

	free(buf);
	free(two);
	free(z);
	for (i = 0; i < (size_t)n; i++) {
		free(s[i].data);
		free(s[i].scales);
	}
	return check_done();
}
