/* mkbad.c: write the bnt corruption corpus (tests/fixtures/bad).
 *
 * usage: mkbad DIR
 *
 * Builds a small valid stream, then writes damaged copies of it:
 * truncations at every record boundary and inside every record, at
 * seeded random offsets, flipped bits, and hand-made lies whose
 * checksums are recomputed so that the deeper checks are reached.
 * Files named bnt-*.bnt must be rejected by every reader (bnpack 65,
 * bnverify 1); inv-*.bnt are well formed but break an invariant
 * (bnverify 1). */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bnt.h"
#include "crc32.h"
#include "dtype.h"

static const char *dir;
static unsigned char *base;
static size_t blen;
static size_t recs[64];		/* record start offsets */
static size_t nrecs;

static void
put32(unsigned char *p, uint32_t v)
{
	memcpy(p, &v, 4);	/* little-endian hosts */
}

static uint64_t
get64(const unsigned char *p)
{
	uint64_t v;

	memcpy(&v, p, 8);
	return v;
}

static void
out(const char *name, const unsigned char *p, size_t n)
{
	char path[4096];
	FILE *fp;

	snprintf(path, sizeof path, "%s/%s", dir, name);
	if ((fp = fopen(path, "wb")) == NULL ||
	    fwrite(p, 1, n, fp) != n || fclose(fp) != 0) {
		perror(path);
		exit(1);
	}
}

static unsigned char *
copy(void)
{
	unsigned char *c = malloc(blen);

	memcpy(c, base, blen);
	return c;
}

/* Recompute the checksums of the record at off after an edit. */
static void
reseal(unsigned char *c, size_t off)
{
	uint64_t ml = get64(c + off + 8), dl = get64(c + off + 16);
	size_t data = off + 32 + ml + (64 - (32 + ml) % 64) % 64;

	if (data + dl <= blen)
		put32(c + off + 24, bn_crc32c(bn_crc32c(0, c + off + 32, ml),
		    c + data, dl));
	put32(c + off + 28, bn_crc32c(0, c + off, 28));
}

static void
build(void)
{
	struct bnt_writer *w;
	struct bnt_tensor t;
	struct bn_kv kv;
	struct bn_err e;
	unsigned char q[2 * 32], sc[2];
	float f[8];
	char *buf;
	size_t len, off;
	FILE *fp = open_memstream(&buf, &len);
	int i;

	w = bnt_writer_open(fp, 0);
	bn_kv_init(&kv);
	bn_kv_set(&kv, "source", "mkbad");
	bnt_write_config(w, &kv);
	memset(&t, 0, sizeof t);
	t.name = "w.t2";
	t.dtype = BN_DTYPE_T2;
	t.ndim = 2;
	t.dims[0] = 2;
	t.dims[1] = 128;
	t.scale_kind = BNT_SCALE_TENSOR;
	t.scale_dtype = BN_DTYPE_BF16;
	t.scale_flags = BNT_SCALE_DIV;
	bnt_tensor_layout(&t, &e);
	for (i = 0; i < 64; i++)
		q[i] = (unsigned char)(i % 3 == 0 ? 0x55 : i % 3 == 1 ? 0x9a :
		    0x46);
	{
		uint16_t h = bn_f32_to_bf16(2.0f);

		memcpy(sc, &h, 2);
	}
	bnt_write_tensor(w, &t, q, sc);
	memset(&t, 0, sizeof t);
	t.name = "v.f32";
	t.dtype = BN_DTYPE_F32;
	t.ndim = 1;
	t.dims[0] = 8;
	bnt_tensor_layout(&t, &e);
	for (i = 0; i < 8; i++)
		f[i] = (float)i / 8;
	bnt_write_tensor(w, &t, f, NULL);
	bnt_writer_finish(w);
	bnt_writer_free(w);
	fclose(fp);
	bn_kv_free(&kv);
	base = (unsigned char *)buf;
	blen = len;
	for (off = 64; off < blen && nrecs < 64;) {
		uint64_t ml = get64(base + off + 8), dl = get64(base + off + 16);

		recs[nrecs++] = off;
		off += 32 + ml + (64 - (32 + ml) % 64) % 64;
		off += dl + (64 - dl % 64) % 64;
	}
}

int
main(int argc, char *argv[])
{
	unsigned char *c;
	char name[128];
	uint32_t rng = 2026;
	size_t i, o;

	if (argc != 2) {
		fputs("usage: mkbad dir\n", stderr);
		return 64;
	}
	dir = argv[1];
	build();
	out("good.bnt", base, blen);

	/* truncations: every record boundary, inside every record */
	for (i = 0; i < nrecs; i++) {
		snprintf(name, sizeof name, "bnt-trunc-rec%zu.bnt", i);
		out(name, base, recs[i]);
		snprintf(name, sizeof name, "bnt-trunc-in-rec%zu.bnt", i);
		out(name, base, recs[i] + 40);
	}
	out("bnt-trunc-header.bnt", base, 30);
	out("bnt-empty.bnt", base, 0);
	for (i = 0; i < 8; i++) {
		rng = rng * 1664525u + 1013904223u;
		o = 1 + (rng >> 8) % (blen - 1);
		snprintf(name, sizeof name, "bnt-trunc-at%zu.bnt", o);
		out(name, base, o);
	}
	/* flipped bits: file header, record header, metadata, payload,
	 * scales, padding */
	{
		static const struct { const char *n; size_t at; } fl[] = {
			{ "bnt-flip-file-header.bnt", 9 },
			{ "bnt-flip-record-header.bnt", 64 + 3 },
			{ "bnt-flip-metadata.bnt", 64 + 32 + 2 },
		};

		for (i = 0; i < sizeof fl / sizeof fl[0]; i++) {
			c = copy();
			c[fl[i].at] ^= 0x04;
			out(fl[i].n, c, blen);
			free(c);
		}
		c = copy();
		c[recs[1] + 128 + 5] ^= 0x40;	/* t2 payload */
		out("bnt-flip-payload.bnt", c, blen);
		free(c);
		c = copy();
		c[recs[1] + 120] ^= 0x01;	/* metadata padding */
		out("bnt-flip-padding.bnt", c, blen);
		free(c);
	}
	/* header lies with valid checksums */
	c = copy();
	memcpy(c, "\x89" "BNX\r\n\x1a\n", 8);
	put32(c + 60, bn_crc32c(0, c, 60));
	out("bnt-bad-magic.bnt", c, blen);
	free(c);
	c = copy();
	put32(c + 8, 99);
	put32(c + 60, bn_crc32c(0, c, 60));
	out("bnt-bad-version.bnt", c, blen);
	free(c);
	c = copy();
	put32(c + 12, 0x100);
	put32(c + 60, bn_crc32c(0, c, 60));
	out("bnt-unknown-feature.bnt", c, blen);
	free(c);
	c = copy();
	put32(c + recs[1], 0x80000077u);
	reseal(c, recs[1]);
	out("bnt-unknown-critical-kind.bnt", c, blen);
	free(c);
	c = copy();
	put32(c + recs[1] + 4, 0x8);
	reseal(c, recs[1]);
	out("bnt-unknown-record-flag.bnt", c, blen);
	free(c);
	/* absurd lengths */
	c = copy();
	memcpy(c + recs[1] + 8, "\0\0\0\0\0\1\0\0", 8);	/* meta_len 2^40 */
	reseal(c, recs[1]);
	out("bnt-absurd-meta-len.bnt", c, blen);
	free(c);
	c = copy();
	memcpy(c + recs[1] + 16, "\0\0\0\0\0\0\1\0", 8);	/* data 2^48 */
	reseal(c, recs[1]);
	out("bnt-data-past-end.bnt", c, blen);
	free(c);
	c = copy();
	memcpy(c + recs[1] + 32 + 24, "\0\0\0\0\0\0\0\x40", 8);	/* dim */
	reseal(c, recs[1]);
	out("bnt-absurd-shape.bnt", c, blen);
	free(c);
	c = copy();
	c[recs[1] + 32 + 16] ^= 0x01;				/* raw_len */
	reseal(c, recs[1]);
	out("bnt-raw-len-mismatch.bnt", c, blen);
	free(c);
	c = copy();
	c[recs[1] + 32 + 0] = 77;				/* dtype */
	reseal(c, recs[1]);
	out("bnt-bad-dtype.bnt", c, blen);
	free(c);
	out("bnt-no-end.bnt", base, recs[nrecs - 1]);
	/* well formed, invariants broken */
	c = copy();
	c[recs[1] + 128] = 0xff;				/* code 3 */
	reseal(c, recs[1]);
	out("inv-ternary-code.bnt", c, blen);
	free(c);
	c = copy();
	{
		float nan = NAN;

		memcpy(c + recs[2] + 128, &nan, 4);
	}
	reseal(c, recs[2]);
	out("inv-nan.bnt", c, blen);
	free(c);
	c = copy();
	memset(c + recs[1] + 128 + 64, 0, 2);	/* the bf16 scale: 0 */
	reseal(c, recs[1]);
	out("inv-zero-scale.bnt", c, blen);
	free(c);
	free(base);
	return 0;
}
