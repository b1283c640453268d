/* gguf.c: GGUF v2 and v3 (llama.cpp) -> config, vocab and tensor records. */
#include <inttypes.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bnt.h"
#include "config.h"
#include "dtype.h"
#include "fileset.h"
#include "import.h"
#include "kv.h"
#include "mem.h"
#include "roles.h"
#include "status.h"
#include "vocab.h"

/*
 * A GGUF file (all integers little-endian; docs/gguf.md in ggml):
 *   "GGUF", u32 version, u64 n_tensors, u64 n_kv,
 *   n_kv times: string key, u32 value type, value,
 *   n_tensors times: string name, u32 n_dims, u64 ne[n_dims], u32 ggml
 *     type, u64 offset (from the start of the data section),
 *   zeros up to general.alignment (default 32), the data section.
 * A string is u64 length + bytes; an array is u32 element type, u64
 * count, elements.  ne[0] is the innermost (row) dimension, so bnt dims
 * are ne[] reversed.  Version 1 used 32-bit counts: refused.
 */

#define GG_HEADER_SIZE 24
#define GG_DEFAULT_ALIGN 32
#define GG_MAX_ALIGN (1 << 20)	/* as ggml's reader */
#define GG_MAX_DEPTH 16		/* nested arrays */
#define GG_MIN_KV 13		/* empty key (8) + type (4) + u8 value */
#define GG_MIN_TINFO 24		/* empty name + n_dims + type + offset */

enum gg_vtype {
	GG_U8 = 0, GG_I8, GG_U16, GG_I16, GG_U32, GG_I32, GG_F32, GG_BOOL,
	GG_STR, GG_ARR, GG_U64, GG_I64, GG_F64, GG_NVTYPES
};

/* Bytes of a scalar value; for strings and arrays, their least size. */
static const unsigned char vsize[GG_NVTYPES] = {
	1, 1, 2, 2, 4, 4, 4, 1, 8, 12, 8, 8, 8
};

/* ggml types: the ones we convert, with their block geometry. */
enum {
	GT_F32 = 0, GT_F16 = 1, GT_Q8_0 = 8, GT_I8 = 24, GT_I32 = 26,
	GT_I64 = 27, GT_F64 = 28, GT_BF16 = 30, GT_TQ1_0 = 34, GT_TQ2_0 = 35
};

struct gg_type {
	uint32_t ggml;
	const char *name;
	int dtype;		/* bnt dtype, -1: not converted */
	uint32_t blck;		/* elements per block */
	uint32_t bsize;		/* bytes per block */
};

static const struct gg_type gg_types[] = {
	{ GT_F32, "f32", BN_DTYPE_F32, 1, 4 },
	{ GT_F16, "f16", BN_DTYPE_F16, 1, 2 },
	{ 2, "q4_0", -1, 0, 0 },
	{ 3, "q4_1", -1, 0, 0 },
	{ 6, "q5_0", -1, 0, 0 },
	{ 7, "q5_1", -1, 0, 0 },
	{ GT_Q8_0, "q8_0", BN_DTYPE_I8, 32, 34 },
	{ 9, "q8_1", -1, 0, 0 },
	{ 10, "q2_K", -1, 0, 0 },
	{ 11, "q3_K", -1, 0, 0 },
	{ 12, "q4_K", -1, 0, 0 },
	{ 13, "q5_K", -1, 0, 0 },
	{ 14, "q6_K", -1, 0, 0 },
	{ 15, "q8_K", -1, 0, 0 },
	{ 16, "iq2_xxs", -1, 0, 0 },
	{ 17, "iq2_xs", -1, 0, 0 },
	{ 18, "iq3_xxs", -1, 0, 0 },
	{ 19, "iq1_s", -1, 0, 0 },
	{ 20, "iq4_nl", -1, 0, 0 },
	{ 21, "iq3_s", -1, 0, 0 },
	{ 22, "iq2_s", -1, 0, 0 },
	{ 23, "iq4_xs", -1, 0, 0 },
	{ GT_I8, "i8", BN_DTYPE_I8, 1, 1 },
	{ 25, "i16", -1, 0, 0 },
	{ GT_I32, "i32", BN_DTYPE_I32, 1, 4 },
	{ GT_I64, "i64", BN_DTYPE_I64, 1, 8 },
	{ GT_F64, "f64", BN_DTYPE_F64, 1, 8 },
	{ 29, "iq1_m", -1, 0, 0 },
	{ GT_BF16, "bf16", BN_DTYPE_BF16, 1, 2 },
	{ GT_TQ1_0, "tq1_0", BN_DTYPE_T2, 256, 54 },
	{ GT_TQ2_0, "tq2_0", BN_DTYPE_T2, 256, 66 },
	{ 39, "mxfp4", -1, 0, 0 },
};

struct gg_kv {
	const unsigned char *key;
	size_t klen;
	uint32_t type;
	size_t off;		/* the value; for arrays, the first element */
	uint32_t atype;		/* arrays: element type */
	uint64_t n;		/* arrays: element count */
};

struct gg_tensor {
	char *name;		/* NUL-terminated copy */
	uint32_t ndim;
	uint64_t ne[BNT_MAX_DIMS];
	const struct gg_type *type;
	uint64_t offset;	/* from the start of the data section */
	uint64_t nelem;
	uint64_t nbytes;
};

struct gguf {
	const unsigned char *p;
	size_t size;
	size_t pos;
	uint32_t version;
	uint64_t n_kv, n_tensors;
	struct gg_kv *kv;
	struct gg_tensor *t;
	uint64_t align;
	uint64_t data_off;
	const struct gg_tensor *rope_freqs;	/* read into the config */
	struct bn_err *e;
};

/* Key names in messages: printable and not absurdly long. */
#define KEYFMT "%.*s"
#define KEYARG(k) \
	(int)((k)->klen > 200 ? 200 : (k)->klen), (const char *)(k)->key

static uint16_t
le16(const unsigned char *p)
{
	return (uint16_t)(p[0] | p[1] << 8);
}

static uint32_t
le32(const unsigned char *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
	    (uint32_t)p[3] << 24;
}

static uint64_t
le64(const unsigned char *p)
{
	return (uint64_t)le32(p) | (uint64_t)le32(p + 4) << 32;
}

static size_t
left(const struct gguf *g)
{
	return g->size - g->pos;
}

static int
is_int_type(uint32_t t)
{
	return t <= GG_I32 || t == GG_U64 || t == GG_I64;
}

/* Skip over one value of type type at g->pos, checking every length
 * against the bytes left before using it. */
static int
skip_value(struct gguf *g, const struct gg_kv *k, uint32_t type, int depth)
{
	uint64_t len, n, i;
	uint32_t at;
	int rc;

	if (type >= GG_NVTYPES)
		return bn_seterr(g->e, BN_EFORMAT,
		    "key '" KEYFMT "': bad value type %" PRIu32, KEYARG(k),
		    type);
	if (type == GG_STR) {
		if (left(g) < 8)
			goto trunc;
		len = le64(g->p + g->pos);
		g->pos += 8;
		if (len > left(g))
			return bn_seterr(g->e, BN_EFORMAT, "key '" KEYFMT
			    "': string length %" PRIu64 " exceeds the %zu "
			    "bytes left", KEYARG(k), len, left(g));
		g->pos += (size_t)len;
		return BN_OK;
	}
	if (type != GG_ARR) {
		if (left(g) < vsize[type])
			goto trunc;
		g->pos += vsize[type];
		return BN_OK;
	}
	if (depth >= GG_MAX_DEPTH)
		return bn_seterr(g->e, BN_EFORMAT,
		    "key '" KEYFMT "': arrays nested too deeply", KEYARG(k));
	if (left(g) < 12)
		goto trunc;
	at = le32(g->p + g->pos);
	n = le64(g->p + g->pos + 4);
	g->pos += 12;
	if (at >= GG_NVTYPES)
		return bn_seterr(g->e, BN_EFORMAT, "key '" KEYFMT
		    "': bad array element type %" PRIu32, KEYARG(k), at);
	if (n > left(g) / vsize[at])
		return bn_seterr(g->e, BN_EFORMAT, "key '" KEYFMT
		    "': array of %" PRIu64 " elements exceeds the %zu bytes "
		    "left", KEYARG(k), n, left(g));
	if (at != GG_STR && at != GG_ARR) {
		g->pos += (size_t)n * vsize[at];
		return BN_OK;
	}
	for (i = 0; i < n; i++)
		if ((rc = skip_value(g, k, at, depth + 1)) != BN_OK)
			return rc;
	return BN_OK;
trunc:
	return bn_seterr(g->e, BN_EFORMAT,
	    "key '" KEYFMT "': value truncated", KEYARG(k));
}

static int
cmp_kv(const void *a, const void *b)
{
	const struct gg_kv *x = *(const struct gg_kv *const *)a;
	const struct gg_kv *y = *(const struct gg_kv *const *)b;
	size_t n = x->klen < y->klen ? x->klen : y->klen;
	int c = memcmp(x->key, y->key, n);

	if (c != 0)
		return c;
	return x->klen < y->klen ? -1 : x->klen > y->klen;
}

static int
cmp_tname(const void *a, const void *b)
{
	const struct gg_tensor *x = *(const struct gg_tensor *const *)a;
	const struct gg_tensor *y = *(const struct gg_tensor *const *)b;

	return strcmp(x->name, y->name);
}

static int
cmp_toff(const void *a, const void *b)
{
	const struct gg_tensor *x = *(const struct gg_tensor *const *)a;
	const struct gg_tensor *y = *(const struct gg_tensor *const *)b;

	if (x->offset != y->offset)
		return x->offset < y->offset ? -1 : 1;
	return x->nbytes < y->nbytes ? -1 : x->nbytes > y->nbytes;
}

static int
parse_header(struct gguf *g)
{
	uint32_t v;

	if (g->size < 4 || memcmp(g->p, "GGUF", 4) != 0)
		return bn_seterr(g->e, BN_EFORMAT,
		    "not a GGUF file (bad magic)");
	if (g->size < 8)
		return bn_seterr(g->e, BN_EFORMAT,
		    "truncated header (%zu of %d bytes)", g->size,
		    GG_HEADER_SIZE);
	v = le32(g->p + 4);
	if (v != 0 && (v & 0xffff) == 0)
		return bn_seterr(g->e, BN_EUNSUPPORTED,
		    "big-endian GGUF (version %" PRIu32 ") is not supported",
		    (uint32_t)(v >> 24 | (v >> 8 & 0xff00)));
	if (v == 1)
		return bn_seterr(g->e, BN_EUNSUPPORTED,
		    "GGUF version 1 is not supported (only 2 and 3)");
	if (v == 0 || v > 3)
		return bn_seterr(g->e, v == 0 ? BN_EFORMAT : BN_EUNSUPPORTED,
		    "unsupported GGUF version %" PRIu32, v);
	if (g->size < GG_HEADER_SIZE)
		return bn_seterr(g->e, BN_EFORMAT,
		    "truncated header (%zu of %d bytes)", g->size,
		    GG_HEADER_SIZE);
	g->version = v;
	g->n_tensors = le64(g->p + 8);
	g->n_kv = le64(g->p + 16);
	g->pos = GG_HEADER_SIZE;
	return BN_OK;
}

static int
parse_kvs(struct gguf *g)
{
	struct gg_kv *k, **sorted;
	uint64_t i, len;
	int rc;

	if (g->n_kv > left(g) / GG_MIN_KV)
		return bn_seterr(g->e, BN_EFORMAT, "metadata count %" PRIu64
		    " exceeds the file size", g->n_kv);
	if (g->n_kv == 0)
		return BN_OK;
	if ((g->kv = calloc((size_t)g->n_kv, sizeof *g->kv)) == NULL)
		return bn_seterr(g->e, BN_ENOMEM, "out of memory");
	for (i = 0; i < g->n_kv; i++) {
		k = &g->kv[i];
		if (left(g) < 8)
			goto trunc;
		len = le64(g->p + g->pos);
		g->pos += 8;
		if (len > left(g))
			return bn_seterr(g->e, BN_EFORMAT, "metadata key %"
			    PRIu64 ": key length %" PRIu64 " exceeds the %zu "
			    "bytes left", i, len, left(g));
		if (len == 0)
			return bn_seterr(g->e, BN_EFORMAT,
			    "metadata key %" PRIu64 ": empty key", i);
		k->key = g->p + g->pos;
		k->klen = (size_t)len;
		g->pos += (size_t)len;
		if (left(g) < 4)
			goto trunc;
		k->type = le32(g->p + g->pos);
		g->pos += 4;
		if (k->type == GG_ARR && left(g) >= 12) {
			k->atype = le32(g->p + g->pos);
			k->n = le64(g->p + g->pos + 4);
			k->off = g->pos + 12;
		} else
			k->off = g->pos;
		if ((rc = skip_value(g, k, k->type, 0)) != BN_OK)
			return rc;
	}
	if ((sorted = calloc((size_t)g->n_kv, sizeof *sorted)) == NULL)
		return bn_seterr(g->e, BN_ENOMEM, "out of memory");
	for (i = 0; i < g->n_kv; i++)
		sorted[i] = &g->kv[i];
	qsort(sorted, (size_t)g->n_kv, sizeof *sorted, cmp_kv);
	rc = BN_OK;
	for (i = 1; i < g->n_kv && rc == BN_OK; i++)
		if (cmp_kv(&sorted[i - 1], &sorted[i]) == 0)
			rc = bn_seterr(g->e, BN_EFORMAT,
			    "duplicate key '" KEYFMT "'", KEYARG(sorted[i]));
	free(sorted);
	return rc;
trunc:
	return bn_seterr(g->e, BN_EFORMAT,
	    "metadata truncated at key %" PRIu64 " of %" PRIu64, i, g->n_kv);
}

static const struct gg_kv *
find_kv(const struct gguf *g, const char *key)
{
	size_t n = strlen(key);
	uint64_t i;

	for (i = 0; i < g->n_kv; i++)
		if (g->kv[i].klen == n && memcmp(g->kv[i].key, key, n) == 0)
			return &g->kv[i];
	return NULL;
}

/* An integer-valued key: 0 found, 1 absent, or an error status. */
static int
get_uint(const struct gguf *g, const char *key, uint64_t *v)
{
	const struct gg_kv *k = find_kv(g, key);
	const unsigned char *p;
	int64_t s = 0;

	if (k == NULL)
		return 1;
	p = g->p + k->off;
	switch (k->type) {
	case GG_U8: *v = p[0]; return 0;
	case GG_U16: *v = le16(p); return 0;
	case GG_U32: *v = le32(p); return 0;
	case GG_U64: *v = le64(p); return 0;
	case GG_I8: s = (int8_t)p[0]; break;
	case GG_I16: s = (int16_t)le16(p); break;
	case GG_I32: s = (int32_t)le32(p); break;
	case GG_I64: s = (int64_t)le64(p); break;
	default:
		return bn_seterr(g->e, BN_EFORMAT,
		    "key '%s': expected an integer", key);
	}
	if (s < 0)
		return bn_seterr(g->e, BN_EFORMAT,
		    "key '%s': negative value %" PRId64, key, s);
	*v = (uint64_t)s;
	return 0;
}

/* A float-valued key; *is32 tells whether it was stored as f32. */
static int
get_float(const struct gguf *g, const char *key, double *v, int *is32)
{
	const struct gg_kv *k = find_kv(g, key);
	uint32_t u;
	uint64_t w;
	float f;

	if (k == NULL)
		return 1;
	*is32 = k->type == GG_F32;
	if (k->type == GG_F32) {
		u = le32(g->p + k->off);
		memcpy(&f, &u, 4);
		*v = f;
		return 0;
	}
	if (k->type == GG_F64) {
		w = le64(g->p + k->off);
		memcpy(v, &w, 8);
		return 0;
	}
	if (is_int_type(k->type)) {
		int rc = get_uint(g, key, &w);

		*v = (double)w;
		return rc;
	}
	return bn_seterr(g->e, BN_EFORMAT, "key '%s': expected a number", key);
}

static int
get_bool(const struct gguf *g, const char *key, int *v)
{
	const struct gg_kv *k = find_kv(g, key);

	if (k == NULL)
		return 1;
	if (k->type != GG_BOOL)
		return bn_seterr(g->e, BN_EFORMAT,
		    "key '%s': expected a boolean", key);
	*v = g->p[k->off] != 0;
	return 0;
}

/* A string-valued key as a malloc'd C string. */
static int
get_str(const struct gguf *g, const char *key, char **v)
{
	const struct gg_kv *k = find_kv(g, key);
	uint64_t len;

	if (k == NULL)
		return 1;
	if (k->type != GG_STR)
		return bn_seterr(g->e, BN_EFORMAT,
		    "key '%s': expected a string", key);
	len = le64(g->p + k->off);
	if (memchr(g->p + k->off + 8, '\0', (size_t)len) != NULL ||
	    memchr(g->p + k->off + 8, '\n', (size_t)len) != NULL)
		return bn_seterr(g->e, BN_EFORMAT,
		    "key '%s': string holds a NUL or a newline", key);
	if ((*v = malloc((size_t)len + 1)) == NULL)
		return bn_seterr(g->e, BN_ENOMEM, "out of memory");
	memcpy(*v, g->p + k->off + 8, (size_t)len);
	(*v)[len] = '\0';
	return 0;
}

static const struct gg_type *
find_type(uint32_t t)
{
	size_t i;

	for (i = 0; i < sizeof gg_types / sizeof gg_types[0]; i++)
		if (gg_types[i].ggml == t)
			return &gg_types[i];
	return NULL;
}

static int
parse_tensor_info(struct gguf *g, struct gg_tensor *t, uint64_t idx)
{
	uint64_t len, n, i, rowblocks;
	uint32_t type;
	const unsigned char *name;

	if (left(g) < 8)
		goto trunc;
	len = le64(g->p + g->pos);
	g->pos += 8;
	if (len > left(g))
		return bn_seterr(g->e, BN_EFORMAT, "tensor %" PRIu64 ": name "
		    "length %" PRIu64 " exceeds the %zu bytes left", idx, len,
		    left(g));
	if (len == 0 || len > BNT_MAX_NAME)
		return bn_seterr(g->e, BN_EFORMAT, "tensor %" PRIu64
		    ": bad name length %" PRIu64, idx, len);
	name = g->p + g->pos;
	if (memchr(name, '\0', (size_t)len) != NULL)
		return bn_seterr(g->e, BN_EFORMAT,
		    "tensor %" PRIu64 ": name holds a NUL", idx);
	if ((t->name = malloc((size_t)len + 1)) == NULL)
		return bn_seterr(g->e, BN_ENOMEM, "out of memory");
	memcpy(t->name, name, (size_t)len);
	t->name[len] = '\0';
	g->pos += (size_t)len;
	if (left(g) < 4)
		goto trunc;
	n = le32(g->p + g->pos);
	g->pos += 4;
	if (n > BNT_MAX_DIMS)
		return bn_seterr(g->e, BN_EFORMAT, "tensor '%s': %" PRIu64
		    " dimensions (at most %d)", t->name, n, BNT_MAX_DIMS);
	t->ndim = (uint32_t)n;
	if (left(g) < 8 * n + 12)
		goto trunc;
	for (i = 0; i < n; i++) {
		t->ne[i] = le64(g->p + g->pos);
		g->pos += 8;
		if (t->ne[i] > INT64_MAX)
			return bn_seterr(g->e, BN_EFORMAT, "tensor '%s': "
			    "negative dimension %" PRId64, t->name,
			    (int64_t)t->ne[i]);
	}
	for (; i < BNT_MAX_DIMS; i++)
		t->ne[i] = 1;
	type = le32(g->p + g->pos);
	t->offset = le64(g->p + g->pos + 4);
	g->pos += 12;
	t->type = find_type(type);
	if (t->type == NULL)
		return bn_seterr(g->e, BN_EFORMAT, "tensor '%s': bad ggml "
		    "type %" PRIu32, t->name, type);
	if (t->type->dtype < 0)
		return bn_seterr(g->e, BN_EUNSUPPORTED, "tensor '%s': ggml "
		    "type %s (%" PRIu32 ") is not supported", t->name,
		    t->type->name, type);
	if (t->ne[0] % t->type->blck != 0)
		return bn_seterr(g->e, BN_EFORMAT, "tensor '%s': row length %"
		    PRIu64 " is not a multiple of the %s block (%" PRIu32 ")",
		    t->name, t->ne[0], t->type->name, t->type->blck);
	t->nelem = 1;
	rowblocks = t->ne[0] / t->type->blck;
	if (bn_mul_u64(rowblocks, t->type->bsize, &t->nbytes) != 0)
		goto overflow;
	for (i = 0; i < BNT_MAX_DIMS; i++)
		if (bn_mul_u64(t->nelem, t->ne[i], &t->nelem) != 0 ||
		    (i > 0 && bn_mul_u64(t->nbytes, t->ne[i], &t->nbytes) != 0))
			goto overflow;
	if (t->nbytes > SIZE_MAX || t->nelem > INT64_MAX)
		goto overflow;
	return BN_OK;
overflow:
	return bn_seterr(g->e, BN_EFORMAT,
	    "tensor '%s': element count overflows", t->name);
trunc:
	if (t->name != NULL)
		return bn_seterr(g->e, BN_EFORMAT,
		    "tensor '%s': tensor info truncated", t->name);
	return bn_seterr(g->e, BN_EFORMAT,
	    "tensor %" PRIu64 ": tensor info truncated", idx);
}

static int
parse_tensors(struct gguf *g)
{
	struct gg_tensor **sorted;
	struct gg_tensor *t;
	uint64_t i, end, space;
	int rc;

	if (g->n_tensors > left(g) / GG_MIN_TINFO)
		return bn_seterr(g->e, BN_EFORMAT, "tensor count %" PRIu64
		    " exceeds the file size", g->n_tensors);
	if (g->n_tensors == 0)
		return BN_OK;
	if ((g->t = calloc((size_t)g->n_tensors, sizeof *g->t)) == NULL)
		return bn_seterr(g->e, BN_ENOMEM, "out of memory");
	for (i = 0; i < g->n_tensors; i++)
		if ((rc = parse_tensor_info(g, &g->t[i], i)) != BN_OK)
			return rc;
	if (bn_align_u64(g->pos, g->align, &g->data_off) != 0 ||
	    g->data_off > g->size)
		return bn_seterr(g->e, BN_EFORMAT,
		    "file ends before the tensor data");
	space = g->size - g->data_off;
	for (i = 0; i < g->n_tensors; i++) {
		t = &g->t[i];
		if (t->offset % g->align != 0)
			return bn_seterr(g->e, BN_EFORMAT, "tensor '%s': "
			    "offset %" PRIu64 " is not a multiple of the "
			    "alignment (%" PRIu64 ")", t->name, t->offset,
			    g->align);
		if (t->offset > space || (t->offset == space && t->nbytes > 0))
			return bn_seterr(g->e, BN_EFORMAT,
			    "tensor '%s': offset past end of file", t->name);
		if (t->nbytes > space - t->offset)
			return bn_seterr(g->e, BN_EFORMAT, "tensor '%s': data "
			    "past end of file (%" PRIu64 " bytes at offset %"
			    PRIu64 ", %" PRIu64 " in the data section)",
			    t->name, t->nbytes, t->offset, space);
	}
	if ((sorted = calloc((size_t)g->n_tensors, sizeof *sorted)) == NULL)
		return bn_seterr(g->e, BN_ENOMEM, "out of memory");
	for (i = 0; i < g->n_tensors; i++)
		sorted[i] = &g->t[i];
	rc = BN_OK;
	qsort(sorted, (size_t)g->n_tensors, sizeof *sorted, cmp_tname);
	for (i = 1; i < g->n_tensors && rc == BN_OK; i++)
		if (strcmp(sorted[i - 1]->name, sorted[i]->name) == 0)
			rc = bn_seterr(g->e, BN_EFORMAT,
			    "duplicate tensor '%s'", sorted[i]->name);
	qsort(sorted, (size_t)g->n_tensors, sizeof *sorted, cmp_toff);
	for (i = 1; i < g->n_tensors && rc == BN_OK; i++) {
		end = sorted[i - 1]->offset + sorted[i - 1]->nbytes;
		if (sorted[i - 1]->nbytes > 0 && end > sorted[i]->offset &&
		    sorted[i]->nbytes > 0)
			rc = bn_seterr(g->e, BN_EFORMAT,
			    "tensor '%s': data overlaps tensor '%s'",
			    sorted[i]->name, sorted[i - 1]->name);
	}
	free(sorted);
	return rc;
}

static int
find_alignment(struct gguf *g)
{
	uint64_t a;
	int rc;

	g->align = GG_DEFAULT_ALIGN;
	rc = get_uint(g, "general.alignment", &a);
	if (rc == 1)
		return BN_OK;
	if (rc != 0)
		return rc;
	if (a == 0 || (a & (a - 1)) != 0)
		return bn_seterr(g->e, BN_EFORMAT, "key 'general.alignment': "
		    "%" PRIu64 " is not a power of two", a);
	if (a > GG_MAX_ALIGN)
		return bn_seterr(g->e, BN_EFORMAT, "key 'general.alignment': "
		    "%" PRIu64 " is over %d", a, GG_MAX_ALIGN);
	g->align = a;
	return BN_OK;
}

/* Config keys with a counterpart among {arch}.* keys. */
static const struct {
	const char *cfg;
	const char *suffix;
} arch_uints[] = {
	{ BN_CFG_HIDDEN, "embedding_length" },
	{ BN_CFG_LAYERS, "block_count" },
	{ BN_CFG_HEADS, "attention.head_count" },
	{ BN_CFG_KV_HEADS, "attention.head_count_kv" },
	{ BN_CFG_FFN, "feed_forward_length" },
	{ BN_CFG_CTX, "context_length" },
};

static int
set_uint(struct gguf *g, struct bn_kv *kv, const char *cfg, const char *key)
{
	uint64_t v;
	int rc = get_uint(g, key, &v);

	if (rc == 1)
		return BN_OK;
	if (rc != 0)
		return rc;
	if (bn_kv_setf(kv, cfg, "%" PRIu64, v) != 0)
		return bn_seterr(g->e, BN_ENOMEM, "out of memory");
	return BN_OK;
}

static int
set_float(struct gguf *g, struct bn_kv *kv, const char *cfg, const char *key)
{
	double v;
	int rc, is32 = 0;

	rc = get_float(g, key, &v, &is32);
	if (rc == 1)
		return BN_OK;
	if (rc != 0)
		return rc;
	if (bn_kv_setf(kv, cfg, is32 ? "%.9g" : "%.17g", v) != 0)
		return bn_seterr(g->e, BN_ENOMEM, "out of memory");
	return BN_OK;
}

static int
has_tensor(const struct gguf *g, const char *name)
{
	uint64_t i;

	for (i = 0; i < g->n_tensors; i++)
		if (strcmp(g->t[i].name, name) == 0)
			return 1;
	return 0;
}

/*
 * llama.cpp's llama3 rope_scaling: rope_freqs.weight, F32 [head_dim / 2],
 * by whose element i llama.cpp divides the angle of pair i.  Only the
 * ratios of original_max_position_embeddings to the two band factors
 * change the maths, so the keys come back with low_freq_factor 1: factor
 * from the slowest pair, and orig_ctx and high_freq_factor from a line
 * through the pairs between the bands.  The factors these keys give must
 * be the file's, else the tensor is refused.
 */
#define ROPE_FREQS "rope_freqs.weight"

static int
rope_freqs_keys(struct gguf *g, struct bn_kv *kv, const struct gg_tensor *t)
{
	const unsigned char *p = g->p + g->data_off + t->offset;
	struct bn_config c;
	double sx = 0, sy = 0, sxx = 0, sxy = 0, a, b, x, y, high, orig;
	float f, fac, want;
	int i, half, n = 0, one = 1, st;

	if ((st = bn_config_from_kv(&c, kv, g->e)) != BN_OK)
		return st;
	half = c.head_dim / 2;
	if (t->type->ggml != GT_F32 || t->ndim != 1 ||
	    t->ne[0] != (uint64_t)half)
		return bn_seterr(g->e, BN_EFORMAT, "tensor '" ROPE_FREQS "': "
		    "expected F32 [%d]", half);
	memcpy(&fac, p + 4 * (size_t)(half - 1), 4);
	for (i = 0; i < half; i++) {
		memcpy(&f, p + 4 * (size_t)i, 4);
		if (!(f >= 1.0f && f <= fac))
			goto refuse;
		one &= f == 1.0f;
		if (f <= 1.0f || f >= fac)
			continue;
		/* smooth s = orig / wavelen - low over high - low */
		x = bn_rope_inv_freq(&c, i) / 6.283185307179586;
		y = (1.0 / f - 1.0 / fac) / (1.0 - 1.0 / fac);
		sx += x, sy += y, sxx += x * x, sxy += x * y, n++;
	}
	g->rope_freqs = t;
	if (one)
		return BN_OK;	/* no scaling */
	if (n < 2 || (a = n * sxx - sx * sx) == 0)
		goto refuse;
	a = (n * sxy - sx * sy) / a;	/* orig / (high - low) */
	b = (sy - a * sx) / n;		/* -low / (high - low) */
	if (!(b < 0))
		goto refuse;
	high = 1.0 - 1.0 / b;
	orig = -a / b;
	if (!(orig >= 1 && orig < 1 << 30))
		goto refuse;
	if (bn_kv_set(kv, BN_CFG_ROPE_SCALING, "llama3") != 0 ||
	    bn_kv_setf(kv, BN_CFG_ROPE_FACTOR, "%.9g", (double)fac) != 0 ||
	    bn_kv_set(kv, BN_CFG_ROPE_LOW_FREQ, "1") != 0 ||
	    bn_kv_setf(kv, BN_CFG_ROPE_HIGH_FREQ, "%.6g", high) != 0 ||
	    bn_kv_setf(kv, BN_CFG_ROPE_ORIG_CTX, "%.0f", orig) != 0)
		return bn_seterr(g->e, BN_ENOMEM, "out of memory");
	if (bn_config_from_kv(&c, kv, g->e) != BN_OK)
		goto refuse;
	for (i = 0; i < half; i++) {
		struct bn_config plain = c;

		plain.rope_scaling = BN_ROPE_NONE;
		want = bn_rope_inv_freq(&plain, i) / bn_rope_inv_freq(&c, i);
		memcpy(&f, p + 4 * (size_t)i, 4);
		if (!(fabsf(f - want) <= 1e-5f * want))
			goto refuse;
	}
	return BN_OK;
refuse:
	return bn_seterr(g->e, BN_EUNSUPPORTED, "tensor '" ROPE_FREQS "': "
	    "factors that no llama3 rope_scaling gives");
}

static int
build_config(struct gguf *g, struct bn_kv *kv, const char *arch)
{
	const struct gg_kv *tok;
	char key[256];
	uint64_t hidden, heads, v;
	size_t i;
	int rc, rh, rn;

#define SET(k, ...) do {						\
	if (bn_kv_setf(kv, k, __VA_ARGS__) != 0)			\
		return bn_seterr(g->e, BN_ENOMEM, "out of memory");	\
} while (0)
#define AKEY(s) (snprintf(key, sizeof key, "%s.%s", arch, s), key)

	if (strlen(arch) > 200 || *arch == '\0')
		return bn_seterr(g->e, BN_EFORMAT,
		    "key 'general.architecture': bad architecture name");
	SET(BN_CFG_ARCH, "%s", arch);
	tok = find_kv(g, "tokenizer.ggml.tokens");
	if (tok != NULL && tok->type == GG_ARR)
		SET(BN_CFG_VOCAB, "%" PRIu64, tok->n);
	else if ((rc = set_uint(g, kv, BN_CFG_VOCAB, AKEY("vocab_size"))) !=
	    BN_OK)
		return rc;
	for (i = 0; i < sizeof arch_uints / sizeof arch_uints[0]; i++)
		if ((rc = set_uint(g, kv, arch_uints[i].cfg,
		    AKEY(arch_uints[i].suffix))) != BN_OK)
			return rc;
	rc = get_uint(g, AKEY("rope.dimension_count"), &v);
	if (rc == 0)
		SET(BN_CFG_HEAD_DIM, "%" PRIu64, v);
	else if (rc != 1)
		return rc;
	else {
		rh = get_uint(g, AKEY("embedding_length"), &hidden);
		rn = get_uint(g, AKEY("attention.head_count"), &heads);
		if (rh == 0 && rn == 0 && heads > 0 && hidden % heads == 0)
			SET(BN_CFG_HEAD_DIM, "%" PRIu64, hidden / heads);
	}
	if ((rc = set_float(g, kv, BN_CFG_NORM_EPS,
	    AKEY("attention.layer_norm_rms_epsilon"))) != BN_OK)
		return rc;
	if ((rc = set_float(g, kv, BN_CFG_ROPE_THETA,
	    AKEY("rope.freq_base"))) != BN_OK)
		return rc;
	SET(BN_CFG_ROPE_STYLE, "interleaved");
	SET(BN_CFG_ACT, "%s", strcmp(arch, "bitnet") == 0 ? "relu2" : "silu");
	if (g->n_tensors > 0)
		SET(BN_CFG_TIED, "%d", !has_tensor(g,
		    bn_roles[BN_R_OUTPUT].name) && has_tensor(g,
		    bn_roles[BN_R_TOKEN_EMBD].name));
	SET(BN_CFG_BITLINEAR, "%d", strcmp(arch, "bitnet") == 0);
	if ((rc = set_uint(g, kv, BN_CFG_BOS,
	    "tokenizer.ggml.bos_token_id")) != BN_OK ||
	    (rc = set_uint(g, kv, BN_CFG_EOS,
	    "tokenizer.ggml.eos_token_id")) != BN_OK ||
	    (rc = set_uint(g, kv, BN_CFG_PAD,
	    "tokenizer.ggml.padding_token_id")) != BN_OK)
		return rc;
	SET(BN_CFG_SOURCE, "gguf");
	for (i = 0; i < g->n_tensors; i++)
		if (strcmp(g->t[i].name, ROPE_FREQS) == 0)
			return rope_freqs_keys(g, kv, &g->t[i]);
	return BN_OK;
#undef AKEY
#undef SET
}

static int
emit_config(struct gguf *g, struct bn_sink *s)
{
	struct bn_kv kv;
	char *arch = NULL;
	int rc;

	rc = get_str(g, "general.architecture", &arch);
	if (rc == 1)
		return BN_OK;
	if (rc != 0)
		return rc;
	bn_kv_init(&kv);
	rc = build_config(g, &kv, arch);
	if (rc == BN_OK && s->config != NULL)
		rc = s->config(s->ctx, &kv);
	bn_kv_free(&kv);
	free(arch);
	return rc;
}

/* An array-of-strings key: its count, or an error. */
static int
str_array(const struct gguf *g, const char *key, const struct gg_kv **k)
{
	*k = find_kv(g, key);
	if (*k == NULL)
		return 1;
	if ((*k)->type != GG_ARR || (*k)->atype != GG_STR)
		return bn_seterr(g->e, BN_EFORMAT,
		    "key '%s': expected an array of strings", key);
	if ((*k)->n > UINT32_MAX)
		return bn_seterr(g->e, BN_EFORMAT,
		    "key '%s': too many entries (%" PRIu64 ")", key, (*k)->n);
	return 0;
}

static int
fill_strings(const struct gguf *g, const struct gg_kv *k, struct bn_vocab *v,
    int merges)
{
	size_t pos = k->off;
	uint64_t len, i;
	int rc;

	for (i = 0; i < k->n; i++) {
		len = le64(g->p + pos);
		if (len > UINT32_MAX)
			return bn_seterr(g->e, BN_EFORMAT, "key '" KEYFMT
			    "': entry %" PRIu64 " too long", KEYARG(k), i);
		rc = merges ?
		    bn_vocab_set_merge(v, (uint32_t)i,
		    (const char *)g->p + pos + 8, (uint32_t)len) :
		    bn_vocab_set_token(v, (uint32_t)i,
		    (const char *)g->p + pos + 8, (uint32_t)len);
		if (rc != 0)
			return bn_seterr(g->e, BN_ENOMEM, "out of memory");
		pos += 8 + (size_t)len;
	}
	return BN_OK;
}

static int
fill_types(const struct gguf *g, const struct gg_kv *k, struct bn_vocab *v)
{
	const unsigned char *p = g->p + k->off;
	uint64_t i;
	int64_t x;

	for (i = 0; i < k->n; i++) {
		switch (k->atype) {
		case GG_U8: x = p[i]; break;
		case GG_I8: x = (int8_t)p[i]; break;
		case GG_U16: x = le16(p + 2 * i); break;
		case GG_I16: x = (int16_t)le16(p + 2 * i); break;
		case GG_U32: x = le32(p + 4 * i); break;
		case GG_I32: x = (int32_t)le32(p + 4 * i); break;
		default: x = (int64_t)le64(p + 8 * i); break;
		}
		if (x < INT32_MIN || x > INT32_MAX)
			return bn_seterr(g->e, BN_EFORMAT, "key "
			    "'tokenizer.ggml.token_type': entry %" PRIu64
			    " out of range", i);
		v->types[i] = (int32_t)x;
	}
	return BN_OK;
}

/* Special-token ids: as llama.cpp does, an id past the vocabulary is
 * ignored. */
static int
set_id(struct gguf *g, struct bn_vocab *v, const char *vkey, const char *key)
{
	uint64_t id;
	int rc = get_uint(g, key, &id);

	if (rc == 1 || (rc == 0 && id >= v->n_tokens))
		return BN_OK;
	if (rc != 0)
		return rc;
	if (bn_kv_setf(&v->kv, vkey, "%" PRIu64, id) != 0)
		return bn_seterr(g->e, BN_ENOMEM, "out of memory");
	return BN_OK;
}

static int
set_flag(struct gguf *g, struct bn_vocab *v, const char *vkey,
    const char *key)
{
	int b = 0, rc = get_bool(g, key, &b);

	if (rc == 1)
		return BN_OK;
	if (rc != 0)
		return rc;
	if (bn_kv_set(&v->kv, vkey, b ? "1" : "0") != 0)
		return bn_seterr(g->e, BN_ENOMEM, "out of memory");
	return BN_OK;
}

static int
set_string(struct gguf *g, struct bn_vocab *v, const char *vkey,
    const char *key, const char *dflt)
{
	char *s = NULL;
	int rc = get_str(g, key, &s);

	if (rc != 0 && rc != 1)
		return rc;
	if (rc == 1 && dflt == NULL)
		return BN_OK;
	rc = bn_kv_set(&v->kv, vkey, s != NULL ? s : dflt);
	free(s);
	if (rc != 0)
		return bn_seterr(g->e, BN_ENOMEM, "out of memory");
	return BN_OK;
}

/* tokenizer.chat_template, newlines and all (bn_vocab_set_chat_template
 * escapes them for the record). */
static int
set_chat_template(struct gguf *g, struct bn_vocab *v)
{
	const struct gg_kv *k = find_kv(g, "tokenizer.chat_template");
	uint64_t len;

	if (k == NULL)
		return BN_OK;
	if (k->type != GG_STR)
		return bn_seterr(g->e, BN_EFORMAT, "key "
		    "'tokenizer.chat_template': expected a string");
	len = le64(g->p + k->off);
	if (memchr(g->p + k->off + 8, '\0', (size_t)len) != NULL)
		return bn_seterr(g->e, BN_EFORMAT, "key "
		    "'tokenizer.chat_template': string holds a NUL");
	if (bn_vocab_set_chat_template(v, (const char *)g->p + k->off + 8,
	    (size_t)len) != 0)
		return bn_seterr(g->e, BN_ENOMEM, "out of memory");
	return BN_OK;
}

static int
build_vocab(struct gguf *g, struct bn_vocab *v, const struct gg_kv *tok)
{
	const struct gg_kv *mer = NULL, *sc, *ty;
	const unsigned char *p;
	uint64_t i;
	uint32_t u;
	int rc;

	if ((rc = str_array(g, "tokenizer.ggml.merges", &mer)) != 0 &&
	    rc != 1)
		return rc;
	sc = find_kv(g, "tokenizer.ggml.scores");
	if (sc != NULL && (sc->type != GG_ARR || sc->atype != GG_F32 ||
	    sc->n != tok->n))
		return bn_seterr(g->e, BN_EFORMAT, "key 'tokenizer.ggml."
		    "scores': expected %" PRIu64 " f32 values", tok->n);
	ty = find_kv(g, "tokenizer.ggml.token_type");
	if (ty != NULL && (ty->type != GG_ARR || !is_int_type(ty->atype) ||
	    ty->n != tok->n))
		return bn_seterr(g->e, BN_EFORMAT, "key 'tokenizer.ggml."
		    "token_type': expected %" PRIu64 " integers", tok->n);
	if (bn_vocab_alloc(v, (uint32_t)tok->n,
	    mer != NULL ? (uint32_t)mer->n : 0, sc != NULL, ty != NULL) != 0)
		return bn_seterr(g->e, BN_ENOMEM, "out of memory");
	if ((rc = fill_strings(g, tok, v, 0)) != BN_OK)
		return rc;
	if (mer != NULL && (rc = fill_strings(g, mer, v, 1)) != BN_OK)
		return rc;
	if (sc != NULL)
		for (i = 0, p = g->p + sc->off; i < sc->n; i++) {
			u = le32(p + 4 * i);
			memcpy(&v->scores[i], &u, 4);
		}
	if (ty != NULL && (rc = fill_types(g, ty, v)) != BN_OK)
		return rc;
	if ((rc = set_string(g, v, BN_VOC_MODEL, "tokenizer.ggml.model",
	    NULL)) != BN_OK ||
	    (rc = set_string(g, v, BN_VOC_PRE, "tokenizer.ggml.pre",
	    "default")) != BN_OK ||
	    (rc = set_id(g, v, BN_VOC_BOS, "tokenizer.ggml.bos_token_id")) !=
	    BN_OK ||
	    (rc = set_id(g, v, BN_VOC_EOS, "tokenizer.ggml.eos_token_id")) !=
	    BN_OK ||
	    (rc = set_id(g, v, BN_VOC_UNK,
	    "tokenizer.ggml.unknown_token_id")) != BN_OK ||
	    (rc = set_id(g, v, BN_VOC_PAD,
	    "tokenizer.ggml.padding_token_id")) != BN_OK ||
	    (rc = set_flag(g, v, BN_VOC_ADD_BOS,
	    "tokenizer.ggml.add_bos_token")) != BN_OK ||
	    (rc = set_flag(g, v, BN_VOC_ADD_EOS,
	    "tokenizer.ggml.add_eos_token")) != BN_OK ||
	    (rc = set_chat_template(g, v)) != BN_OK)
		return rc;
	return BN_OK;
}

static int
emit_vocab(struct gguf *g, struct bn_sink *s)
{
	const struct gg_kv *tok;
	struct bn_vocab v;
	int rc;

	if ((rc = str_array(g, "tokenizer.ggml.tokens", &tok)) == 1)
		return BN_OK;
	if (rc != 0)
		return rc;
	bn_vocab_init(&v);
	rc = build_vocab(g, &v, tok);
	if (rc == BN_OK && s->vocab != NULL)
		rc = s->vocab(s->ctx, &v);
	bn_vocab_free(&v);
	return rc;
}

/* Set t2 element k of a row (codes start zeroed). */
static void
t2_put(unsigned char *row, uint64_t k, unsigned code)
{
	row[k / BN_T2_BLOCK * 32 + k % 32] |=
	    (unsigned char)(code << (2 * (k % BN_T2_BLOCK / 32)));
}

/*
 * TQ1_0 block (54 bytes): qs[48], qh[4], f16 d.  Trit n of a byte b is
 * ((uint8_t)(b * 3^n) * 3) >> 8, as ggml's dequantize_row_tq1_0 reads it;
 * the trit is the t2 code (value + 1).  Element order within the block:
 * qs[m], m < 32: n*32 + m; qs[32 + m], m < 16: 160 + n*16 + m;
 * qh[j]: 240 + n*4 + j (n < 4).
 */
static void
tq1_block(const unsigned char *blk, unsigned char *out)
{
	static const unsigned char pow3[5] = { 1, 3, 9, 27, 81 };
	unsigned n, m;
	unsigned char q;

	memset(out, 0, 64);
	for (n = 0; n < 5; n++)
		for (m = 0; m < 32; m++) {
			q = (unsigned char)(blk[m] * pow3[n]);
			t2_put(out, n * 32 + m, (unsigned)(q * 3) >> 8);
		}
	for (n = 0; n < 5; n++)
		for (m = 0; m < 16; m++) {
			q = (unsigned char)(blk[32 + m] * pow3[n]);
			t2_put(out, 160 + n * 16 + m, (unsigned)(q * 3) >> 8);
		}
	for (n = 0; n < 4; n++)
		for (m = 0; m < 4; m++) {
			q = (unsigned char)(blk[48 + m] * pow3[n]);
			t2_put(out, 240 + n * 4 + m, (unsigned)(q * 3) >> 8);
		}
}

/*
 * Blocked types: split ggml's interleaved blocks into the bnt codes and
 * the f16 block scales.  TQ2_0 (66 bytes: qs[64], f16 d) is t2 already:
 * dequantize_row_tq2_0 reads element 128*h + 32*l + m of a block from
 * bits 2l..2l+1 of qs[32*h + m] as code - 1, which is t2's byte j =
 * element j, j+32, j+64, j+96 of each 128-element block; code 3, which
 * t2 forbids, is refused.  Q8_0 (34 bytes: f16 d, int8 qs[32]).
 */
static int
split_blocks(struct gguf *g, const struct gg_tensor *gt,
    const unsigned char *src, unsigned char *data, unsigned char *scales)
{
	uint64_t nb = gt->nelem / gt->type->blck, b;
	const unsigned char *blk;
	unsigned j;

	for (b = 0; b < nb; b++) {
		blk = src + b * gt->type->bsize;
		switch (gt->type->ggml) {
		case GT_Q8_0:
			memcpy(scales + 2 * b, blk, 2);
			memcpy(data + 32 * b, blk + 2, 32);
			break;
		case GT_TQ2_0:
			for (j = 0; j < 64; j++)
				if ((blk[j] & 0x03) == 0x03 ||
				    (blk[j] & 0x0c) == 0x0c ||
				    (blk[j] & 0x30) == 0x30 ||
				    (blk[j] & 0xc0) == 0xc0)
					return bn_seterr(g->e, BN_EFORMAT,
					    "tensor '%s': block %" PRIu64
					    " holds the invalid tq2_0 code 3",
					    gt->name, b);
			memcpy(data + 64 * b, blk, 64);
			memcpy(scales + 2 * b, blk + 64, 2);
			break;
		case GT_TQ1_0:
			tq1_block(blk, data + 64 * b);
			memcpy(scales + 2 * b, blk + 52, 2);
			break;
		}
	}
	return BN_OK;
}

static int
emit_tensor(struct gguf *g, const struct gg_tensor *gt, struct bn_sink *s)
{
	const unsigned char *src = g->p + g->data_off + gt->offset;
	unsigned char *data = NULL, *scales = NULL;
	struct bnt_tensor t;
	uint64_t nb, i;
	int rc;

	memset(&t, 0, sizeof t);
	t.name = gt->name;
	t.dtype = gt->type->dtype;
	t.ndim = gt->ndim;
	for (i = 0; i < gt->ndim; i++)
		t.dims[i] = gt->ne[gt->ndim - 1 - i];
	if (gt->type->blck > 1) {
		t.scale_kind = BNT_SCALE_BLOCK;
		t.scale_dtype = BN_DTYPE_F16;
		t.scale_block = gt->type->blck;
	}
	if ((rc = bnt_tensor_layout(&t, g->e)) != BN_OK)
		return rc;
	if (gt->type->blck == 1) {
		/* plain types pass through in place (the host is taken to
		 * be little-endian, as everywhere in bntools), copied only
		 * when a small general.alignment left them misaligned */
		if (t.data_bytes != gt->nbytes)
			return bn_seterr(g->e, BN_EINTERNAL, "tensor '%s': "
			    "layout disagrees with the GGUF size", gt->name);
		if (s->tensor == NULL)
			return BN_OK;
		if ((uintptr_t)src % 8 == 0)
			return s->tensor(s->ctx, &t, src, NULL);
		if ((data = malloc(gt->nbytes > 0 ? (size_t)gt->nbytes : 1)) ==
		    NULL)
			return bn_seterr(g->e, BN_ENOMEM, "out of memory");
		memcpy(data, src, (size_t)gt->nbytes);
		rc = s->tensor(s->ctx, &t, data, NULL);
		free(data);
		return rc;
	}
	nb = gt->nelem / gt->type->blck;
	if (t.nscales != nb || t.data_bytes != nb * (gt->type->ggml ==
	    GT_Q8_0 ? 32 : 64))
		return bn_seterr(g->e, BN_EINTERNAL, "tensor '%s': "
		    "layout disagrees with the GGUF size", gt->name);
	data = malloc(t.data_bytes > 0 ? (size_t)t.data_bytes : 1);
	scales = malloc(nb > 0 ? (size_t)nb * 2 : 1);
	if (data == NULL || scales == NULL)
		rc = bn_seterr(g->e, BN_ENOMEM, "out of memory");
	else
		rc = split_blocks(g, gt, src, data, scales);
	if (rc == BN_OK && s->tensor != NULL)
		rc = s->tensor(s->ctx, &t, data, scales);
	free(data);
	free(scales);
	return rc;
}

int
bn_import_gguf(const struct bn_file *f, struct bn_sink *s, struct bn_err *e)
{
	struct gguf g;
	uint64_t i;
	int rc;

	memset(&g, 0, sizeof g);
	g.p = f->data;
	g.size = f->data != NULL ? f->size : 0;
	g.e = e;
	if ((rc = parse_header(&g)) != BN_OK ||
	    (rc = parse_kvs(&g)) != BN_OK ||
	    (rc = find_alignment(&g)) != BN_OK ||
	    (rc = parse_tensors(&g)) != BN_OK)
		goto out;
	if ((rc = emit_config(&g, s)) != BN_OK ||
	    (rc = emit_vocab(&g, s)) != BN_OK)
		goto out;
	for (i = 0; i < g.n_tensors; i++)
		if (&g.t[i] != g.rope_freqs &&
		    (rc = emit_tensor(&g, &g.t[i], s)) != BN_OK)
			goto out;
out:
	if (g.t != NULL)
		for (i = 0; i < g.n_tensors; i++)
			free(g.t[i].name);
	free(g.t);
	free(g.kv);
	return rc;
}
