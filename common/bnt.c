/* bnt.c: the bnt(5) stream: layout, streaming reader, writer, mapper. */
#include <sys/mman.h>
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zstd.h>

#include "bnt.h"
#include "crc32.h"
#include "dtype.h"
#include "mem.h"

/* ---- little-endian fields ---- */

static uint32_t
get32(const unsigned char *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
	    (uint32_t)p[3] << 24;
}

static uint64_t
get64(const unsigned char *p)
{
	return (uint64_t)get32(p) | (uint64_t)get32(p + 4) << 32;
}

static void
put32(unsigned char *p, uint32_t v)
{
	p[0] = (unsigned char)v;
	p[1] = (unsigned char)(v >> 8);
	p[2] = (unsigned char)(v >> 16);
	p[3] = (unsigned char)(v >> 24);
}

static void
put64(unsigned char *p, uint64_t v)
{
	put32(p, (uint32_t)v);
	put32(p + 4, (uint32_t)(v >> 32));
}

static size_t
pad64(uint64_t n)
{
	return (size_t)((BNT_ALIGN - n % BNT_ALIGN) % BNT_ALIGN);
}

static const unsigned char zeros[BNT_ALIGN];

/* ---- tensor layout ---- */

static int
scales_allowed(int dtype)
{
	return dtype == BN_DTYPE_T2 || dtype == BN_DTYPE_T3 ||
	    dtype == BN_DTYPE_B1 || dtype == BN_DTYPE_I8;
}

int
bnt_tensor_layout(struct bnt_tensor *t, struct bn_err *e)
{
	const char *nm = t->name != NULL ? t->name : "";
	uint64_t rows = 1, sbytes;
	size_t nlen = t->name != NULL ? strlen(t->name) : 0;
	unsigned i;

	if (nlen == 0 || nlen > BNT_MAX_NAME)
		return bn_seterr(e, BN_EFORMAT, "tensor name of %zu bytes",
		    nlen);
	if (bn_dtype_traits(t->dtype) == NULL)
		return bn_seterr(e, BN_EFORMAT, "tensor '%s': bad type code %d",
		    nm, t->dtype);
	if (t->ndim > BNT_MAX_DIMS)
		return bn_seterr(e, BN_EFORMAT, "tensor '%s': %u dimensions",
		    nm, t->ndim);
	for (i = 0; i + 1 < t->ndim; i++)
		if (bn_mul_u64(rows, t->dims[i], &rows) != 0)
			goto overflow;
	t->rows = rows;
	t->row_len = t->ndim > 0 ? t->dims[t->ndim - 1] : 1;
	if (bn_mul_u64(rows, t->row_len, &t->nelem) != 0 ||
	    bn_dtype_row_bytes(t->dtype, t->row_len, &t->row_bytes) != 0 ||
	    bn_mul_u64(rows, t->row_bytes, &t->data_bytes) != 0)
		goto overflow;
	/* bound everything so that later sums cannot overflow */
	if (t->data_bytes > (UINT64_C(1) << 56))
		goto overflow;
	t->nscales = 0;
	t->scale_offset = 0;
	t->raw_len = t->data_bytes;
	switch (t->scale_kind) {
	case BNT_SCALE_NONE:
		if (t->scale_block != 0 || t->scale_flags != 0)
			return bn_seterr(e, BN_EFORMAT, "tensor '%s': scale "
			    "fields set without scales", nm);
		return BN_OK;
	case BNT_SCALE_TENSOR:
		t->nscales = 1;
		break;
	case BNT_SCALE_ROW:
		t->nscales = rows;
		break;
	case BNT_SCALE_BLOCK:
		if (t->scale_block == 0 || t->row_len % t->scale_block != 0)
			return bn_seterr(e, BN_EFORMAT, "tensor '%s': scale "
			    "block %u does not divide the row length %llu",
			    nm, t->scale_block,
			    (unsigned long long)t->row_len);
		t->nscales = t->nelem / t->scale_block;
		break;
	default:
		return bn_seterr(e, BN_EFORMAT, "tensor '%s': bad scale kind %d",
		    nm, t->scale_kind);
	}
	if (!scales_allowed(t->dtype))
		return bn_seterr(e, BN_EFORMAT, "tensor '%s': type %s cannot "
		    "carry scales", nm, bn_dtype_traits(t->dtype)->name);
	if (t->scale_kind != BNT_SCALE_BLOCK && t->scale_block != 0)
		return bn_seterr(e, BN_EFORMAT, "tensor '%s': scale block "
		    "set for a %s scale", nm, t->scale_kind ==
		    BNT_SCALE_TENSOR ? "tensor" : "row");
	if (t->scale_dtype != BN_DTYPE_F32 && t->scale_dtype != BN_DTYPE_F16 &&
	    t->scale_dtype != BN_DTYPE_BF16)
		return bn_seterr(e, BN_EFORMAT, "tensor '%s': bad scale type "
		    "code %d", nm, t->scale_dtype);
	if ((t->scale_flags & ~BNT_SCALE_DIV) != 0)
		return bn_seterr(e, BN_EFORMAT, "tensor '%s': unknown scale "
		    "flags 0x%x", nm, t->scale_flags);
	sbytes = t->nscales * (t->scale_dtype == BN_DTYPE_F32 ? 4 : 2);
	t->scale_offset = t->data_bytes + pad64(t->data_bytes);
	t->raw_len = t->scale_offset + sbytes;
	return BN_OK;
overflow:
	return bn_seterr(e, BN_EFORMAT, "tensor '%s': shape overflows", nm);
}

char *
bnt_shape_str(const struct bnt_tensor *t, char *buf, size_t size)
{
	size_t off = 0;
	unsigned i;
	int n;

	if (size == 0)
		return buf;
	buf[0] = '\0';
	if (t->ndim == 0) {
		snprintf(buf, size, "scalar");
		return buf;
	}
	for (i = 0; i < t->ndim && off < size; i++) {
		n = snprintf(buf + off, size - off, "%s%llu", i ? "x" : "",
		    (unsigned long long)t->dims[i]);
		if (n < 0)
			break;
		off += (size_t)n;
	}
	return buf;
}

float
bnt_tensor_scale(const struct bnt_tensor *t, const void *scales, uint64_t i)
{
	const unsigned char *p = scales;
	uint16_t h;
	float f;

	if (t->scale_kind == BNT_SCALE_NONE || scales == NULL)
		return 0;
	switch (t->scale_dtype) {
	case BN_DTYPE_F32:
		memcpy(&f, p + 4 * i, 4);
		return f;
	case BN_DTYPE_F16:
		memcpy(&h, p + 2 * i, 2);
		return bn_f16_to_f32(h);
	default:
		memcpy(&h, p + 2 * i, 2);
		return bn_bf16_to_f32(h);
	}
}

int
bnt_scale_valid(float s, uint32_t flags)
{
	if (!isfinite(s))
		return 0;
	return (flags & BNT_SCALE_DIV) == 0 || isnormal(s);
}

/* The first of n float elements at p whose exponent bits are all set
 * (NaN or infinity), or n: the sign bit cleared, a block's largest
 * pattern is compared with the exponent mask.  Blocks of a fixed 64
 * elements, so that the compiler vectorizes the inner loop. */
static uint64_t
nonfinite16(const unsigned char *p, uint64_t n, uint16_t inf)
{
	uint64_t i, j, k;
	uint16_t x, mx;

	for (i = 0; i < n; i += k) {
		k = n - i < 64 ? n - i : 64;
		mx = 0;
		if (k == 64)
			for (j = 0; j < 64; j++) {
				memcpy(&x, p + 2 * (i + j), 2);
				x &= 0x7fff;
				mx = x > mx ? x : mx;
			}
		if (k == 64 && mx < inf)
			continue;
		for (j = 0; j < k; j++) {
			memcpy(&x, p + 2 * (i + j), 2);
			if ((x & 0x7fff) >= inf)
				return i + j;
		}
	}
	return n;
}

static uint64_t
nonfinite32(const unsigned char *p, uint64_t n)
{
	uint64_t i, j, k;
	uint32_t x, mx;

	for (i = 0; i < n; i += k) {
		k = n - i < 64 ? n - i : 64;
		mx = 0;
		if (k == 64)
			for (j = 0; j < 64; j++) {
				memcpy(&x, p + 4 * (i + j), 4);
				x &= 0x7fffffff;
				mx = x > mx ? x : mx;
			}
		if (k == 64 && mx < 0x7f800000)
			continue;
		for (j = 0; j < k; j++) {
			memcpy(&x, p + 4 * (i + j), 4);
			if ((x & 0x7fffffff) >= 0x7f800000)
				return i + j;
		}
	}
	return n;
}

static uint64_t
nonfinite64(const unsigned char *p, uint64_t n)
{
	uint64_t i, x;

	for (i = 0; i < n; i++) {
		memcpy(&x, p + 8 * i, 8);
		if ((x & UINT64_C(0x7fffffffffffffff)) >=
		    UINT64_C(0x7ff0000000000000))
			break;
	}
	return i;
}

int
bnt_tensor_check_values(const struct bnt_tensor *t, const void *data,
    const void *scales, struct bn_err *e)
{
	const unsigned char *p = data;
	uint64_t i, n = t->nelem;
	double v;
	float s;

	switch (t->dtype) {
	case BN_DTYPE_F32:
		i = nonfinite32(p, n);
		break;
	case BN_DTYPE_F16:
		i = nonfinite16(p, n, 0x7c00);
		break;
	case BN_DTYPE_BF16:
		i = nonfinite16(p, n, 0x7f80);
		break;
	case BN_DTYPE_F64:
		i = nonfinite64(p, n);
		break;
	default:
		i = n;
	}
	if (i < n) {
		if (t->dtype == BN_DTYPE_F64)
			memcpy(&v, p + 8 * i, 8);
		else {
			bn_row_to_f32(t->dtype, p + i *
			    (bn_dtype_traits(t->dtype)->bits / 8), 1, &s);
			v = s;
		}
		return bn_seterr(e, BN_EFORMAT, "tensor '%s': element %llu "
		    "is %g, not a finite number", t->name,
		    (unsigned long long)i, v);
	}
	for (i = 0; i < t->nscales; i++) {
		s = bnt_tensor_scale(t, scales, i);
		if (!bnt_scale_valid(s, t->scale_flags))
			return bn_seterr(e, BN_EFORMAT, "tensor '%s': scale "
			    "%llu is %g, %s", t->name, (unsigned long long)i,
			    (double)s, isfinite(s) ? "a divisor must be a "
			    "normal number" : "not a finite number");
	}
	return BN_OK;
}

uint64_t
bnt_scale_index(const struct bnt_tensor *t, uint64_t r, uint64_t c)
{
	switch (t->scale_kind) {
	case BNT_SCALE_ROW:
		return r;
	case BNT_SCALE_BLOCK:
		return (r * t->row_len + c) / t->scale_block;
	default:
		return 0;
	}
}

/* Parse tensor metadata into t (name points into meta's copy in *name). */
static int
parse_tensor_meta(const unsigned char *m, uint64_t len, struct bnt_tensor *t,
    char **name, struct bn_err *e)
{
	uint64_t need, raw;
	uint32_t nlen;
	unsigned i;

	memset(t, 0, sizeof *t);
	if (len < 24)
		return bn_seterr(e, BN_EFORMAT, "tensor metadata of %llu "
		    "bytes is too short", (unsigned long long)len);
	t->dtype = m[0];
	t->ndim = m[1];
	t->scale_kind = m[2];
	t->scale_dtype = m[3];
	t->scale_flags = get32(m + 4);
	t->scale_block = get32(m + 8);
	nlen = get32(m + 12);
	raw = get64(m + 16);
	if (t->ndim > BNT_MAX_DIMS)
		return bn_seterr(e, BN_EFORMAT, "tensor with %u dimensions",
		    t->ndim);
	if (nlen == 0 || nlen > BNT_MAX_NAME)
		return bn_seterr(e, BN_EFORMAT, "tensor name of %u bytes",
		    (unsigned)nlen);
	need = 24 + 8 * (uint64_t)t->ndim + nlen;
	if (need != len)
		return bn_seterr(e, BN_EFORMAT, "tensor metadata is %llu bytes, "
		    "its fields need %llu", (unsigned long long)len,
		    (unsigned long long)need);
	for (i = 0; i < t->ndim; i++)
		t->dims[i] = get64(m + 24 + 8 * i);
	if (memchr(m + 24 + 8 * t->ndim, '\0', nlen) != NULL)
		return bn_seterr(e, BN_EFORMAT, "tensor name contains NUL");
	if ((*name = strndup((const char *)m + 24 + 8 * t->ndim, nlen)) ==
	    NULL)
		return bn_seterr(e, BN_ENOMEM, "out of memory");
	t->name = *name;
	if (bnt_tensor_layout(t, e) != BN_OK)
		return BN_EFORMAT;
	if (raw != t->raw_len)
		return bn_seterr(e, BN_EFORMAT, "tensor '%s': payload length "
		    "%llu does not match its shape (%llu)", t->name,
		    (unsigned long long)raw, (unsigned long long)t->raw_len);
	return BN_OK;
}

static size_t
tensor_meta_len(const struct bnt_tensor *t)
{
	return 24 + 8 * (size_t)t->ndim + strlen(t->name);
}

static void
encode_tensor_meta(const struct bnt_tensor *t, unsigned char *m)
{
	size_t nlen = strlen(t->name);
	unsigned i;

	m[0] = (unsigned char)t->dtype;
	m[1] = (unsigned char)t->ndim;
	m[2] = (unsigned char)t->scale_kind;
	m[3] = (unsigned char)(t->scale_kind ? t->scale_dtype : 0);
	put32(m + 4, t->scale_flags);
	put32(m + 8, t->scale_block);
	put32(m + 12, (uint32_t)nlen);
	put64(m + 16, t->raw_len);
	for (i = 0; i < t->ndim; i++)
		put64(m + 24 + 8 * i, t->dims[i]);
	memcpy(m + 24 + 8 * t->ndim, t->name, nlen);
}

/* ---- headers ---- */

static int
check_file_header(const unsigned char *h, struct bn_err *e, uint32_t *flags)
{
	uint32_t v;
	size_t i;

	if (memcmp(h, BNT_MAGIC, 8) != 0)
		return bn_seterr(e, BN_EFORMAT, "not a bnt stream (bad magic)");
	if (get32(h + 60) != bn_crc32c(0, h, 60))
		return bn_seterr(e, BN_EFORMAT, "file header checksum mismatch");
	v = get32(h + 8);
	if (v != BNT_VERSION)
		return bn_seterr(e, BN_EFORMAT, "unsupported bnt version %u",
		    (unsigned)v);
	*flags = get32(h + 12);
	if ((*flags & ~BNT_F_KNOWN) != 0)
		return bn_seterr(e, BN_EFORMAT, "unknown required feature "
		    "flags 0x%x", (unsigned)(*flags & ~BNT_F_KNOWN));
	for (i = 16; i < 60; i++)
		if (h[i] != 0)
			return bn_seterr(e, BN_EFORMAT, "file header reserved "
			    "byte %zu is not zero", i);
	return BN_OK;
}

static void
make_file_header(unsigned char *h, uint32_t flags)
{
	memset(h, 0, BNT_HEADER_SIZE);
	memcpy(h, BNT_MAGIC, 8);
	put32(h + 8, BNT_VERSION);
	put32(h + 12, flags);
	put32(h + 60, bn_crc32c(0, h, 60));
}

struct rechdr {
	uint32_t kind, flags, crc;
	uint64_t meta_len, data_len;
};

static int
parse_record_header(const unsigned char *h, uint32_t fflags,
    struct rechdr *rh, struct bn_err *e)
{
	if (get32(h + 28) != bn_crc32c(0, h, 28))
		return bn_seterr(e, BN_EFORMAT, "record header checksum "
		    "mismatch");
	rh->kind = get32(h);
	rh->flags = get32(h + 4);
	rh->meta_len = get64(h + 8);
	rh->data_len = get64(h + 16);
	rh->crc = get32(h + 24);
	if ((rh->flags & ~BNT_R_KNOWN) != 0)
		return bn_seterr(e, BN_EFORMAT, "unknown record flags 0x%x",
		    (unsigned)rh->flags);
	if ((rh->flags & BNT_R_ZSTD) && !(fflags & BNT_F_ZSTD))
		return bn_seterr(e, BN_EFORMAT, "compressed record in a stream "
		    "whose header does not announce compression");
	if (rh->meta_len > BNT_MAX_META)
		return bn_seterr(e, BN_EFORMAT, "record metadata of %llu bytes "
		    "exceeds the limit", (unsigned long long)rh->meta_len);
	if (rh->data_len > (UINT64_C(1) << 56))
		return bn_seterr(e, BN_EFORMAT, "record payload of %llu bytes "
		    "is absurd", (unsigned long long)rh->data_len);
	if (rh->kind == BNT_KIND_END && (rh->meta_len | rh->data_len) != 0)
		return bn_seterr(e, BN_EFORMAT, "END record with a body");
	if ((rh->kind == BNT_KIND_CONFIG || rh->kind == BNT_KIND_NOTE) &&
	    rh->data_len != 0)
		return bn_seterr(e, BN_EFORMAT, "%s record with a payload",
		    rh->kind == BNT_KIND_NOTE ? "NOTE" : "CONFIG");
	if ((rh->kind & BNT_KIND_CRITICAL) && rh->kind != BNT_KIND_END &&
	    rh->kind != BNT_KIND_CONFIG && rh->kind != BNT_KIND_TOKENIZER &&
	    rh->kind != BNT_KIND_TENSOR)
		return bn_seterr(e, BN_EFORMAT, "unknown critical record kind "
		    "0x%08x", (unsigned)rh->kind);
	return BN_OK;
}

static void
make_record_header(unsigned char *h, uint32_t kind, uint32_t flags,
    uint64_t mlen, uint64_t dlen, uint32_t crc)
{
	put32(h, kind);
	put32(h + 4, flags);
	put64(h + 8, mlen);
	put64(h + 16, dlen);
	put32(h + 24, crc);
	put32(h + 28, bn_crc32c(0, h, 28));
}

/* Decompress one zstd frame of exactly want bytes into a malloc'd
 * buffer that grows with the output (a lying frame cannot make us
 * allocate what it does not produce). */
static int
unzstd(const void *src, size_t n, uint64_t want, unsigned char **out,
    struct bn_err *e)
{
	ZSTD_DStream *ds;
	ZSTD_inBuffer in = { src, n, 0 };
	ZSTD_outBuffer ob;
	unsigned char *buf = NULL, *nb;
	size_t cap = 0, got = 0, rc = 1;
	int st = BN_OK;

	if ((ds = ZSTD_createDStream()) == NULL)
		return bn_seterr(e, BN_ENOMEM, "out of memory");
	ZSTD_initDStream(ds);
	for (;;) {
		if (got == cap) {
			size_t ncap = cap ? 2 * cap : 1 << 16;

			if (ncap > want + 1)
				ncap = (size_t)want + 1;
			if (ncap <= cap) {
				st = bn_seterr(e, BN_EFORMAT, "compressed "
				    "payload is longer than %llu bytes",
				    (unsigned long long)want);
				break;
			}
			if ((nb = realloc(buf, ncap)) == NULL) {
				st = bn_seterr(e, BN_ENOMEM, "out of memory");
				break;
			}
			buf = nb;
			cap = ncap;
		}
		ob.dst = buf;
		ob.size = cap;
		ob.pos = got;
		rc = ZSTD_decompressStream(ds, &ob, &in);
		got = ob.pos;
		if (ZSTD_isError(rc)) {
			st = bn_seterr(e, BN_EFORMAT, "bad compressed payload: "
			    "%s", ZSTD_getErrorName(rc));
			break;
		}
		if (rc == 0)
			break;			/* frame complete */
		if (in.pos == in.size && got < cap) {
			st = bn_seterr(e, BN_EFORMAT, "compressed payload is "
			    "truncated");
			break;
		}
	}
	ZSTD_freeDStream(ds);
	if (st == BN_OK && in.pos != in.size)
		st = bn_seterr(e, BN_EFORMAT, "data after the compressed frame");
	if (st == BN_OK && got != want)
		st = bn_seterr(e, BN_EFORMAT, "compressed payload gives %zu "
		    "bytes, expected %llu", got, (unsigned long long)want);
	if (st != BN_OK) {
		free(buf);
		return st;
	}
	*out = buf;
	return BN_OK;
}

/* Check padding bytes are zero. */
static int
all_zero(const unsigned char *p, size_t n)
{
	while (n-- > 0)
		if (*p++ != 0)
			return 0;
	return 1;
}

/* Interpret a record's body (after checksums): fill rec's typed parts. */
static int
decode_body(struct bnt_record *rec, struct bn_kv *kv, struct bn_vocab *voc,
    char **name, struct bn_err *e)
{
	switch (rec->kind) {
	case BNT_KIND_TENSOR:
		if (parse_tensor_meta(rec->meta, rec->meta_len, &rec->tensor,
		    name, e) != BN_OK)
			return BN_EFORMAT;
		if (rec->len != rec->tensor.raw_len)
			return bn_seterr(e, BN_EFORMAT, "tensor '%s': payload "
			    "is %zu bytes, its shape needs %llu",
			    rec->tensor.name, rec->len,
			    (unsigned long long)rec->tensor.raw_len);
		if (rec->tensor.scale_kind != BNT_SCALE_NONE &&
		    !all_zero(rec->data + rec->tensor.data_bytes,
		    (size_t)(rec->tensor.scale_offset -
		    rec->tensor.data_bytes)))
			return bn_seterr(e, BN_EFORMAT, "tensor '%s': nonzero "
			    "padding before the scales", rec->tensor.name);
		return BN_OK;
	case BNT_KIND_CONFIG:
		if (bn_kv_parse(kv, (const char *)rec->meta,
		    (size_t)rec->meta_len) != 0)
			return bn_seterr(e, BN_EFORMAT, "malformed "
			    "configuration record");
		return BN_OK;
	case BNT_KIND_TOKENIZER:
		return bn_vocab_decode(voc, rec->meta,
		    (size_t)rec->meta_len, rec->data, rec->len, e);
	default:
		return BN_OK;
	}
}

/* Bytes at off after a stream's END record, where one stream (one
 * model) is wanted: refuse them, saying whether they begin another. */
static int
after_end(const unsigned char *p, size_t avail, uint64_t off,
    struct bn_err *e)
{
	if (avail >= 8 && memcmp(p, BNT_MAGIC, 8) == 0)
		return bn_seterr(e, BN_EFORMAT, "a second stream at offset "
		    "%llu; this tool takes one model (bnverify -p passes all "
		    "streams)", (unsigned long long)off);
	return bn_seterr(e, BN_EFORMAT, "data after the END record at offset "
	    "%llu", (unsigned long long)off);
}

/* ---- streaming reader ---- */

struct bnt_reader {
	FILE *fp;
	char *name;
	struct bn_err err;
	uint64_t off;		/* bytes consumed */
	uint64_t index;
	uint32_t fflags;
	int state;		/* 0 expect file header, 1 records, 2 after END */
	uint64_t rec_off;	/* offset of the record being read */
	unsigned char *buf;	/* header + metadata + stored payload */
	size_t cap;
	unsigned char *raw;	/* decompressed payload */
	char *tname;
	struct bn_kv kv;
	struct bn_vocab vocab;
	unsigned char fhdr[BNT_HEADER_SIZE];
	int fhdr_pending;	/* a file header precedes the last record */
	size_t last_ml, last_dl;	/* the last record's lengths */
	int have_last;
	int all_streams;	/* read on past END into further streams */
};

struct bnt_reader *
bnt_reader_open(FILE *fp, const char *name)
{
	struct bnt_reader *r = calloc(1, sizeof *r);

	if (r == NULL)
		return NULL;
	r->fp = fp;
	if ((r->name = strdup(name)) == NULL) {
		free(r);
		return NULL;
	}
	bn_kv_init(&r->kv);
	bn_vocab_init(&r->vocab);
	return r;
}

void
bnt_reader_all_streams(struct bnt_reader *r)
{
	r->all_streams = 1;
}

const char *
bnt_reader_error(const struct bnt_reader *r)
{
	return r->err.msg;
}

void
bnt_reader_close(struct bnt_reader *r)
{
	if (r == NULL)
		return;
	free(r->buf);
	free(r->raw);
	free(r->tname);
	bn_kv_free(&r->kv);
	bn_vocab_free(&r->vocab);
	free(r->name);
	free(r);
}

/* Read exactly n bytes at buf (growing buffers by what arrives); returns
 * number read (short at end of input), or -1 on a read error. */
static int64_t
rd(struct bnt_reader *r, unsigned char *buf, size_t n)
{
	size_t got = fread(buf, 1, n, r->fp);

	r->off += got;
	if (got < n && ferror(r->fp))
		return -1;
	return (int64_t)got;
}

/* Read n bytes appended at r->buf + at, in bounded chunks. */
static int
read_body(struct bnt_reader *r, size_t at, uint64_t n, const char *what)
{
	uint64_t done = 0;
	int64_t got;
	size_t step, chunk;

	while (done < n) {
		/* a claimed length is only believed as far as bytes arrive:
		 * 1 MiB first, then at most what has come, up to 64 MiB */
		chunk = done < (1u << 20) ? 1u << 20 : done < (64u << 20) ?
		    (size_t)done : 64u << 20;
		step = n - done > chunk ? chunk : (size_t)(n - done);
		if (bn_grow(&r->buf, &r->cap, at + done + step, 1) != 0)
			return bn_seterr(&r->err, BN_ENOMEM, "out of memory");
		got = rd(r, r->buf + at + done, step);
		if (got < 0)
			return bn_seterr(&r->err, BN_EIO, "read error: %s",
			    strerror(errno));
		done += (uint64_t)got;
		if ((size_t)got < step)
			return bn_seterr(&r->err, BN_EFORMAT, "truncated %s "
			    "(%llu of %llu bytes)", what,
			    (unsigned long long)done, (unsigned long long)n);
	}
	return BN_OK;
}

static int
skip_pad(struct bnt_reader *r, size_t n, const char *what)
{
	unsigned char p[BNT_ALIGN];
	int64_t got;

	if (n == 0)
		return BN_OK;
	got = rd(r, p, n);
	if (got < 0)
		return bn_seterr(&r->err, BN_EIO, "read error: %s",
		    strerror(errno));
	if ((size_t)got < n)
		return bn_seterr(&r->err, BN_EFORMAT, "truncated %s padding",
		    what);
	if (!all_zero(p, n))
		return bn_seterr(&r->err, BN_EFORMAT, "nonzero %s padding",
		    what);
	return BN_OK;
}

static int
put(FILE *out, const void *p, size_t n)
{
	return n == 0 || fwrite(p, 1, n, out) == n ? BN_OK : BN_EIO;
}

int
bnt_reader_forward(struct bnt_reader *r, FILE *out)
{
	size_t ml = r->last_ml, dl = r->last_dl;

	if (!r->have_last)
		return BN_OK;
	if (r->fhdr_pending) {
		if (put(out, r->fhdr, BNT_HEADER_SIZE) != BN_OK)
			return BN_EIO;
		r->fhdr_pending = 0;
	}
	r->have_last = 0;
	if (put(out, r->buf, BNT_RECORD_SIZE + ml) != BN_OK ||
	    put(out, zeros, pad64(BNT_RECORD_SIZE + ml)) != BN_OK ||
	    put(out, r->buf + BNT_RECORD_SIZE + ml, dl) != BN_OK ||
	    put(out, zeros, pad64(dl)) != BN_OK)
		return BN_EIO;
	return BN_OK;
}

static int
read_one(struct bnt_reader *r, struct bnt_record *rec)
{
	unsigned char h[BNT_HEADER_SIZE];
	struct rechdr rh;
	uint64_t start;
	size_t mpad, dpad, ml, dl;
	int64_t got;
	int st;

	for (;;) {
		start = r->off;
		if (r->state != 1) {
			got = rd(r, h, BNT_HEADER_SIZE);
			if (got < 0)
				return bn_seterr(&r->err, BN_EIO, "read error: "
				    "%s", strerror(errno));
			if (got == 0 && r->state == 2)
				return BN_END;
			if (r->state == 2 && !r->all_streams)
				return after_end(h, (size_t)got, start,
				    &r->err);
			if (got == 0)
				return bn_seterr(&r->err, BN_EFORMAT, "empty "
				    "input");
			if (got < BNT_HEADER_SIZE)
				return bn_seterr(&r->err, BN_EFORMAT,
				    "truncated file header (%lld of %d bytes)",
				    (long long)got, BNT_HEADER_SIZE);
			if ((st = check_file_header(h, &r->err, &r->fflags))
			    != BN_OK)
				return st;
			memcpy(r->fhdr, h, BNT_HEADER_SIZE);
			r->fhdr_pending = 1;
			r->state = 1;
			continue;
		}
		r->rec_off = start;
		got = rd(r, h, BNT_RECORD_SIZE);
		if (got < 0)
			return bn_seterr(&r->err, BN_EIO, "read error: %s",
			    strerror(errno));
		if (got < BNT_RECORD_SIZE)
			return bn_seterr(&r->err, BN_EFORMAT, got == 0 ?
			    "truncated stream (no END record)" :
			    "truncated record header");
		if ((st = parse_record_header(h, r->fflags, &rh, &r->err))
		    != BN_OK)
			return st;
		break;
	}
	r->have_last = 0;
	ml = (size_t)rh.meta_len;
	dl = (size_t)rh.data_len;
	if (bn_grow(&r->buf, &r->cap, BNT_RECORD_SIZE, 1) != 0)
		return bn_seterr(&r->err, BN_ENOMEM, "out of memory");
	memcpy(r->buf, h, BNT_RECORD_SIZE);
	if ((st = read_body(r, BNT_RECORD_SIZE, ml, "metadata")) != BN_OK)
		return st;
	mpad = pad64(BNT_RECORD_SIZE + rh.meta_len);
	if ((st = skip_pad(r, mpad, "metadata")) != BN_OK)
		return st;
	if ((st = read_body(r, BNT_RECORD_SIZE + ml, dl, "payload")) != BN_OK)
		return st;
	dpad = pad64(rh.data_len);
	if ((st = skip_pad(r, dpad, "payload")) != BN_OK)
		return st;
	if (bn_crc32c(0, r->buf + BNT_RECORD_SIZE, ml + dl) != rh.crc)
		return bn_seterr(&r->err, BN_EFORMAT, "record checksum "
		    "mismatch");

	memset(rec, 0, sizeof *rec);
	rec->kind = rh.kind;
	rec->flags = rh.flags;
	rec->index = r->index;
	rec->offset = start;
	rec->meta_len = rh.meta_len;
	rec->data_len = rh.data_len;
	rec->meta = r->buf + BNT_RECORD_SIZE;
	rec->data = r->buf + BNT_RECORD_SIZE + ml;
	rec->len = dl;
	free(r->raw);
	r->raw = NULL;
	free(r->tname);
	r->tname = NULL;
	bn_kv_free(&r->kv);
	bn_vocab_free(&r->vocab);
	if (rh.flags & BNT_R_ZSTD) {
		uint64_t want;

		if (rh.kind != BNT_KIND_TENSOR)
			return bn_seterr(&r->err, BN_EFORMAT, "compressed "
			    "record that is not a tensor");
		if (parse_tensor_meta(rec->meta, rec->meta_len, &rec->tensor,
		    &r->tname, &r->err) != BN_OK)
			return BN_EFORMAT;
		want = rec->tensor.raw_len;
		free(r->tname);
		r->tname = NULL;
		if ((st = unzstd(rec->data, dl, want, &r->raw, &r->err))
		    != BN_OK)
			return st;
		rec->data = r->raw;
		rec->len = (size_t)want;
	}
	st = decode_body(rec, &r->kv, &r->vocab, &r->tname, &r->err);
	/* the reader owns these; rec holds views until the next call */
	rec->config = r->kv;
	rec->vocab = r->vocab;
	if (st != BN_OK)
		return st;
	r->last_ml = ml;
	r->last_dl = dl;
	r->have_last = 1;
	if (rh.kind == BNT_KIND_END)
		r->state = 2;
	return BN_OK;
}

int
bnt_read_next(struct bnt_reader *r, struct bnt_record *rec)
{
	int st;

	r->err.msg[0] = '\0';
	r->rec_off = UINT64_MAX;
	st = read_one(r, rec);
	if (st == BN_OK)
		r->index++;
	else if (st != BN_END && r->rec_off != UINT64_MAX)
		bn_err_prefix(&r->err, "record %llu (offset %llu)",
		    (unsigned long long)r->index,
		    (unsigned long long)r->rec_off);
	return st;
}

/* ---- writer ---- */

struct bnt_writer {
	FILE *fp;
	int zlevel;
	int started;
	int finished;
	struct bn_err err;
	ZSTD_CCtx *cctx;
};

struct bnt_writer *
bnt_writer_open(FILE *fp, int zlevel)
{
	struct bnt_writer *w = calloc(1, sizeof *w);

	if (w == NULL)
		return NULL;
	w->fp = fp;
	w->zlevel = zlevel;
	return w;
}

const char *
bnt_writer_error(const struct bnt_writer *w)
{
	return w->err.msg;
}

void
bnt_writer_free(struct bnt_writer *w)
{
	if (w == NULL)
		return;
	ZSTD_freeCCtx(w->cctx);
	free(w);
}

static int
wr(struct bnt_writer *w, const void *p, size_t n)
{
	if (n != 0 && fwrite(p, 1, n, w->fp) != n)
		return bn_seterr(&w->err, BN_EIO, "write error: %s",
		    strerror(errno));
	return BN_OK;
}

static int
start(struct bnt_writer *w)
{
	unsigned char h[BNT_HEADER_SIZE];

	if (w->started)
		return BN_OK;
	make_file_header(h, w->zlevel > 0 ? BNT_F_ZSTD : 0);
	w->started = 1;
	return wr(w, h, sizeof h);
}

/* Write a record whose payload is the concatenation of parts. */
static int
put_record(struct bnt_writer *w, uint32_t kind, uint32_t flags,
    const void *meta, size_t mlen, const void *const *part,
    const size_t *plen, int nparts)
{
	unsigned char h[BNT_RECORD_SIZE];
	uint64_t dlen = 0;
	uint32_t crc;
	int i, st;

	if (w->finished)
		return bn_seterr(&w->err, BN_EINTERNAL, "record after END");
	if (mlen > BNT_MAX_META)
		return bn_seterr(&w->err, BN_EUSAGE, "metadata too long");
	if ((st = start(w)) != BN_OK)
		return st;
	crc = bn_crc32c(0, meta, mlen);
	for (i = 0; i < nparts; i++) {
		crc = bn_crc32c(crc, part[i], plen[i]);
		dlen += plen[i];
	}
	make_record_header(h, kind, flags, mlen, dlen, crc);
	if ((st = wr(w, h, sizeof h)) != BN_OK ||
	    (st = wr(w, meta, mlen)) != BN_OK ||
	    (st = wr(w, zeros, pad64(BNT_RECORD_SIZE + mlen))) != BN_OK)
		return st;
	for (i = 0; i < nparts; i++)
		if ((st = wr(w, part[i], plen[i])) != BN_OK)
			return st;
	return wr(w, zeros, pad64(dlen));
}

int
bnt_write_record(struct bnt_writer *w, uint32_t kind, uint32_t flags,
    const void *meta, size_t mlen, const void *data, size_t dlen)
{
	const void *part[1] = { data };
	size_t plen[1] = { dlen };

	return put_record(w, kind, flags, meta, mlen, part, plen, 1);
}

int
bnt_write_config(struct bnt_writer *w, const struct bn_kv *kv)
{
	size_t len;
	char *text = bn_kv_format(kv, &len);
	int st;

	if (text == NULL)
		return bn_seterr(&w->err, BN_ENOMEM, "out of memory");
	st = bnt_write_record(w, BNT_KIND_CONFIG, 0, text, len, NULL, 0);
	free(text);
	return st;
}

int
bnt_write_tokenizer(struct bnt_writer *w, const struct bn_vocab *v)
{
	unsigned char *data;
	size_t mlen, dlen;
	char *meta;
	int st;

	if (bn_vocab_encode(v, &meta, &mlen, &data, &dlen) != 0)
		return bn_seterr(&w->err, BN_ENOMEM, "out of memory");
	st = bnt_write_record(w, BNT_KIND_TOKENIZER, 0, meta, mlen, data,
	    dlen);
	free(meta);
	free(data);
	return st;
}

int
bnt_write_tensor(struct bnt_writer *w, const struct bnt_tensor *t,
    const void *data, const void *scales)
{
	const void *part[3];
	size_t plen[3], mlen = tensor_meta_len(t), cb;
	unsigned char *meta, *raw = NULL, *z = NULL;
	int np = 1, st;

	if ((meta = malloc(mlen)) == NULL)
		return bn_seterr(&w->err, BN_ENOMEM, "out of memory");
	encode_tensor_meta(t, meta);
	part[0] = data;
	plen[0] = (size_t)t->data_bytes;
	if (t->scale_kind != BNT_SCALE_NONE) {
		part[1] = zeros;
		plen[1] = (size_t)(t->scale_offset - t->data_bytes);
		part[2] = scales;
		plen[2] = (size_t)(t->raw_len - t->scale_offset);
		np = 3;
	}
	if (w->zlevel > 0 && t->raw_len > 0) {
		size_t off = 0, bound;
		int i;

		if (w->cctx == NULL && (w->cctx = ZSTD_createCCtx()) == NULL)
			goto nomem;
		if ((raw = malloc((size_t)t->raw_len)) == NULL)
			goto nomem;
		for (i = 0; i < np; i++) {
			memcpy(raw + off, part[i], plen[i]);
			off += plen[i];
		}
		bound = ZSTD_compressBound((size_t)t->raw_len);
		if ((z = malloc(bound)) == NULL)
			goto nomem;
		cb = ZSTD_compressCCtx(w->cctx, z, bound, raw,
		    (size_t)t->raw_len, w->zlevel);
		if (ZSTD_isError(cb)) {
			st = bn_seterr(&w->err, BN_EINTERNAL, "zstd: %s",
			    ZSTD_getErrorName(cb));
			goto out;
		}
		if (cb < t->raw_len) {
			st = bnt_write_record(w, BNT_KIND_TENSOR, BNT_R_ZSTD,
			    meta, mlen, z, cb);
			goto out;
		}
	}
	st = put_record(w, BNT_KIND_TENSOR, 0, meta, mlen, part, plen, np);
out:
	free(meta);
	free(raw);
	free(z);
	return st;
nomem:
	st = bn_seterr(&w->err, BN_ENOMEM, "out of memory");
	goto out;
}

int
bnt_writer_finish(struct bnt_writer *w)
{
	int st;

	if (w->finished)
		return BN_OK;
	if ((st = put_record(w, BNT_KIND_END, 0, NULL, 0, NULL, NULL, 0))
	    != BN_OK)
		return st;
	w->finished = 1;
	return BN_OK;
}

/* ---- mapped reader ---- */

static int
map_add_tensor(struct bnt_map *m, const struct bnt_tensor *t, char *name,
    const unsigned char *data)
{
	struct bnt_map_tensor *nt;
	char **nn;

	nt = bn_reallocarray(m->tensors, m->ntensors + 1, sizeof *nt);
	if (nt == NULL)
		return -1;
	m->tensors = nt;
	nn = bn_reallocarray(m->names, m->ntensors + 1, sizeof *nn);
	if (nn == NULL)
		return -1;
	m->names = nn;
	nn[m->ntensors] = name;
	nt += m->ntensors;
	nt->t = *t;
	nt->t.name = name;
	nt->data = data;
	nt->scales = t->scale_kind != BNT_SCALE_NONE ?
	    data + t->scale_offset : NULL;
	m->ntensors++;
	return 0;
}

static int
map_walk(struct bnt_map *m, unsigned flags, struct bn_err *e)
{
	const unsigned char *p = m->base;
	uint64_t off = 0, size = m->size, body, rec_end;
	uint32_t fflags = 0;
	struct bnt_record rec;
	struct rechdr rh;
	int state = 0, st;
	char *name;

	for (;;) {
		if (state != 1) {
			if (off == size && state == 2)
				return BN_OK;
			if (state == 2)
				return after_end(p + off, size - off, off, e);
			if (size - off < BNT_HEADER_SIZE)
				return bn_seterr(e, BN_EFORMAT, off == 0 &&
				    size == 0 ? "empty input" :
				    "truncated file header");
			if ((st = check_file_header(p + off, e, &fflags))
			    != BN_OK)
				return st;
			off += BNT_HEADER_SIZE;
			state = 1;
			continue;
		}
		if (size - off < BNT_RECORD_SIZE)
			return bn_seterr(e, BN_EFORMAT, "offset %llu: "
			    "truncated %s", (unsigned long long)off,
			    off == size ? "stream (no END record)" :
			    "record header");
		if ((st = parse_record_header(p + off, fflags, &rh, e))
		    != BN_OK)
			goto where;
		body = off + BNT_RECORD_SIZE;
		if (rh.meta_len > size - body)
			goto trunc;
		rec_end = body + rh.meta_len + pad64(BNT_RECORD_SIZE +
		    rh.meta_len);
		if (rec_end > size || rh.data_len > size - rec_end)
			goto trunc;
		memset(&rec, 0, sizeof rec);
		rec.kind = rh.kind;
		rec.meta = p + body;
		rec.meta_len = rh.meta_len;
		rec.data = p + rec_end;
		rec.len = (size_t)rh.data_len;
		rec.data_len = rh.data_len;
		rec_end += rh.data_len;
		if (pad64(rh.data_len) > size - rec_end)
			goto trunc;
		if (!all_zero(p + body + rh.meta_len,
		    pad64(BNT_RECORD_SIZE + rh.meta_len)) ||
		    !all_zero(p + rec_end, pad64(rh.data_len))) {
			st = bn_seterr(e, BN_EFORMAT, "nonzero padding");
			goto where;
		}
		if (!(flags & BNT_MAP_NOCRC) && bn_crc32c(bn_crc32c(0,
		    rec.meta, rec.meta_len), rec.data, rec.len) != rh.crc) {
			st = bn_seterr(e, BN_EFORMAT, "record checksum "
			    "mismatch");
			goto where;
		}
		if (rh.flags & BNT_R_ZSTD) {
			st = bn_seterr(e, BN_EUNSUPPORTED, "cannot map a "
			    "compressed payload (repack without --zstd)");
			goto where;
		}
		name = NULL;
		if (rh.kind == BNT_KIND_CONFIG) {
			bn_kv_free(&m->config);
			m->has_config = 1;
		}
		if (rh.kind == BNT_KIND_TOKENIZER) {
			bn_vocab_free(&m->vocab);
			m->has_vocab = 1;
		}
		st = decode_body(&rec, &m->config, &m->vocab, &name, e);
		if (st == BN_OK && rh.kind == BNT_KIND_TENSOR &&
		    !(flags & BNT_MAP_NONFINITE))
			st = bnt_tensor_check_values(&rec.tensor, rec.data,
			    rec.data + rec.tensor.scale_offset, e);
		if (st == BN_OK && rh.kind == BNT_KIND_TENSOR &&
		    map_add_tensor(m, &rec.tensor, name, rec.data) != 0)
			st = bn_seterr(e, BN_ENOMEM, "out of memory");
		else if (st != BN_OK || rh.kind != BNT_KIND_TENSOR)
			free(name);
		if (st != BN_OK)
			goto where;
		off = rec_end + pad64(rh.data_len);
		if (rh.kind == BNT_KIND_END)
			state = 2;
	}
trunc:
	st = bn_seterr(e, BN_EFORMAT, "record claims more bytes than "
	    "follow it");
where:
	bn_err_prefix(e, "offset %llu", (unsigned long long)off);
	return st;
}

int
bnt_map_open(struct bnt_map *m, const char *path, unsigned flags,
    struct bn_err *e)
{
	struct stat sb;
	int fd, st;

	memset(m, 0, sizeof *m);
	bn_kv_init(&m->config);
	bn_vocab_init(&m->vocab);
	if ((fd = open(path, O_RDONLY)) < 0)
		return bn_seterr(e, BN_ENOINPUT, "%s", strerror(errno));
	if (fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode)) {
		close(fd);
		return bn_seterr(e, BN_EUNSUPPORTED, "not a regular file");
	}
	if ((uint64_t)sb.st_size > SIZE_MAX) {
		close(fd);
		return bn_seterr(e, BN_ENOMEM, "file too large to map");
	}
	m->size = (size_t)sb.st_size;
	if (m->size > 0) {
		m->base = mmap(NULL, m->size, PROT_READ, MAP_PRIVATE, fd, 0);
		if (m->base == MAP_FAILED) {
			m->base = NULL;
			close(fd);
			return bn_seterr(e, BN_ENOMEM, "mmap: %s",
			    strerror(errno));
		}
	}
	close(fd);
	if ((st = map_walk(m, flags, e)) != BN_OK)
		bnt_map_close(m);
	return st;
}

const struct bnt_map_tensor *
bnt_map_find(const struct bnt_map *m, const char *name)
{
	size_t i;

	for (i = 0; i < m->ntensors; i++)
		if (strcmp(m->tensors[i].t.name, name) == 0)
			return &m->tensors[i];
	return NULL;
}

int
bnt_tensor_row_f32(const struct bnt_tensor *t, const void *data,
    const void *scales, uint64_t r, float *out)
{
	const unsigned char *p = (const unsigned char *)data +
	    r * t->row_bytes;
	uint64_t c;
	float s;

	if (bn_row_to_f32(t->dtype, p, t->row_len, out) != 0)
		return -1;
	if (t->scale_kind == BNT_SCALE_NONE)
		return 0;
	for (c = 0; c < t->row_len; c++) {
		s = bnt_tensor_scale(t, scales, bnt_scale_index(t, r, c));
		out[c] = t->scale_flags & BNT_SCALE_DIV ? out[c] / s :
		    out[c] * s;
	}
	return 0;
}

int
bnt_map_row_f32(const struct bnt_map_tensor *t, uint64_t r, float *out)
{
	return bnt_tensor_row_f32(&t->t, t->data, t->scales, r, out);
}

int
bnt_map_row_scales(const struct bnt_map_tensor *t, float *out)
{
	const struct bnt_tensor *d = &t->t;
	uint64_t r, c;
	float s;

	for (r = 0; r < d->rows; r++) {
		s = d->scale_kind == BNT_SCALE_NONE ? 1 :
		    bnt_tensor_scale(d, t->scales, bnt_scale_index(d, r, 0));
		if (d->scale_kind == BNT_SCALE_BLOCK)
			for (c = d->scale_block; c < d->row_len;
			    c += d->scale_block)
				if (bnt_tensor_scale(d, t->scales,
				    bnt_scale_index(d, r, c)) != s)
					return -1;
		if (!isfinite(s) || s == 0)
			return -1;
		out[r] = s;
	}
	return 0;
}

void
bnt_map_close(struct bnt_map *m)
{
	size_t i;

	if (m->base != NULL)
		munmap(m->base, m->size);
	for (i = 0; i < m->ntensors; i++)
		free(m->names[i]);
	free(m->names);
	free(m->tensors);
	bn_kv_free(&m->config);
	bn_vocab_free(&m->vocab);
	memset(m, 0, sizeof *m);
}
