/* safetensors.c: safetensors files -> bnt tensors, including the packed
 * BitNet b1.58 layout (uint8 weight of [out/4, in] + weight_scale). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "dtype.h"
#include "json.h"
#include "mem.h"
#include "roles.h"
#include "safetensors.h"

#define ST_MAX_HEADER (100u * 1000 * 1000)	/* bytes of JSON header */

static const struct {
	const char *name;
	int dtype;
	unsigned size;
} st_types[] = {
	{ "BF16", BN_DTYPE_BF16, 2 },
	{ "F16", BN_DTYPE_F16, 2 },
	{ "F32", BN_DTYPE_F32, 4 },
	{ "F64", BN_DTYPE_F64, 8 },
	{ "I32", BN_DTYPE_I32, 4 },
	{ "I64", BN_DTYPE_I64, 8 },
	{ "I8", BN_DTYPE_I8, 1 },
	{ "U8", BN_DTYPE_U8, 1 },
};

/* A name fit for a one-line message: control bytes become '?', long
 * names are cut. */
static const char *
show(const char *s, char *buf, size_t size)
{
	size_t i;

	for (i = 0; s[i] != '\0' && i + 1 < size; i++)
		buf[i] = (unsigned char)s[i] < 0x20 || s[i] == 0x7f ?
		    '?' : s[i];
	buf[i] = '\0';
	if (s[i] != '\0' && size > 4)
		memcpy(buf + size - 4, "...", 4);
	return buf;
}

static const char *
base_name(const char *path)
{
	const char *p = strrchr(path, '/');

	return p != NULL ? p + 1 : path;
}

static unsigned
dtype_size(int dtype)
{
	size_t i;

	for (i = 0; i < sizeof st_types / sizeof st_types[0]; i++)
		if (st_types[i].dtype == dtype)
			return st_types[i].size;
	return 0;
}

void
bn_st_init(struct bn_st_list *l)
{
	memset(l, 0, sizeof *l);
	l->scale_flags = BNT_SCALE_DIV;
}

void
bn_st_free(struct bn_st_list *l)
{
	size_t i;

	for (i = 0; i < l->n; i++) {
		free(l->v[i].hf_name);
		free(l->v[i].name);
	}
	free(l->v);
	bn_st_init(l);
}

static struct bn_st_entry *
add_entry(struct bn_st_list *l)
{
	struct bn_st_entry *p;

	if (bn_grow(&l->v, &l->cap, l->n + 1, sizeof *l->v) != 0)
		return NULL;
	p = &l->v[l->n++];
	memset(p, 0, sizeof *p);
	return p;
}

/* Check one header member and fill en. */
static int
scan_tensor(const struct bn_json *m, const char *nm, uint64_t dsize,
    const unsigned char *base, struct bn_st_entry *en, struct bn_err *e)
{
	const struct bn_json *dt, *shape, *off;
	uint64_t nelem = 1, bytes, begin, end;
	unsigned esize = 0;
	size_t i;

	if (m->type != BN_JSON_OBJECT)
		return bn_seterr(e, BN_EFORMAT, "tensor '%s': entry is not "
		    "an object", nm);
	dt = bn_json_get(m, "dtype");
	shape = bn_json_get(m, "shape");
	off = bn_json_get(m, "data_offsets");
	if (dt == NULL || dt->type != BN_JSON_STRING)
		return bn_seterr(e, BN_EFORMAT, "tensor '%s': no dtype", nm);
	for (i = 0; i < sizeof st_types / sizeof st_types[0]; i++)
		if (bn_json_streq(dt, st_types[i].name)) {
			en->dtype = st_types[i].dtype;
			esize = st_types[i].size;
		}
	if (esize == 0) {
		char b[32];

		return bn_seterr(e, BN_EUNSUPPORTED, "tensor '%s': "
		    "unsupported dtype '%s'", nm, show(dt->str, b, sizeof b));
	}
	if (shape == NULL || shape->type != BN_JSON_ARRAY)
		return bn_seterr(e, BN_EFORMAT, "tensor '%s': no shape", nm);
	if (shape->n > BNT_MAX_DIMS)
		return bn_seterr(e, BN_EUNSUPPORTED, "tensor '%s': %zu "
		    "dimensions (at most %d)", nm, shape->n, BNT_MAX_DIMS);
	en->ndim = (unsigned)shape->n;
	for (i = 0; i < shape->n; i++) {
		if (bn_json_u64(&shape->kids[i], &en->dims[i]) != 0)
			return bn_seterr(e, BN_EFORMAT, "tensor '%s': shape "
			    "entry %zu is not a non-negative integer", nm, i);
		if (bn_mul_u64(nelem, en->dims[i], &nelem) != 0)
			return bn_seterr(e, BN_EFORMAT, "tensor '%s': shape "
			    "overflows", nm);
	}
	if (bn_mul_u64(nelem, esize, &bytes) != 0)
		return bn_seterr(e, BN_EFORMAT, "tensor '%s': shape "
		    "overflows", nm);
	if (off == NULL || off->type != BN_JSON_ARRAY || off->n != 2 ||
	    bn_json_u64(&off->kids[0], &begin) != 0 ||
	    bn_json_u64(&off->kids[1], &end) != 0)
		return bn_seterr(e, BN_EFORMAT, "tensor '%s': data_offsets "
		    "is not a pair of non-negative integers", nm);
	if (begin > end)
		return bn_seterr(e, BN_EFORMAT, "tensor '%s': data_offsets "
		    "out of order", nm);
	if (end > dsize)
		return bn_seterr(e, BN_EFORMAT, "tensor '%s': data_offsets "
		    "past end of file", nm);
	if (end - begin != bytes)
		return bn_seterr(e, BN_EFORMAT, "tensor '%s': data_offsets "
		    "span %llu bytes, shape and dtype need %llu", nm,
		    (unsigned long long)(end - begin),
		    (unsigned long long)bytes);
	en->data = base + begin;
	en->size = bytes;
	return BN_OK;
}

static int
cmp_data(const void *a, const void *b)
{
	const struct bn_st_entry *x = *(const struct bn_st_entry *const *)a;
	const struct bn_st_entry *y = *(const struct bn_st_entry *const *)b;

	if (x->data != y->data)
		return x->data < y->data ? -1 : 1;
	return x->size < y->size ? -1 : x->size > y->size;
}

/* Like the reference implementation, require the tensors to tile the
 * data area exactly: no overlaps, no holes, nothing after the last. */
static int
check_tiling(struct bn_st_entry *v, size_t n, const unsigned char *base,
    uint64_t dsize, struct bn_err *e)
{
	struct bn_st_entry **p;
	uint64_t at = 0, b;
	char s1[160], s2[160];
	size_t i;
	int st = BN_OK;

	if (n == 0) {
		if (dsize != 0)
			return bn_seterr(e, BN_EFORMAT, "%llu bytes of data "
			    "but no tensors", (unsigned long long)dsize);
		return BN_OK;
	}
	if ((p = bn_reallocarray(NULL, n, sizeof *p)) == NULL)
		return bn_seterr(e, BN_ENOMEM, "out of memory");
	for (i = 0; i < n; i++)
		p[i] = &v[i];
	qsort(p, n, sizeof *p, cmp_data);
	for (i = 0; i < n; i++) {
		b = (uint64_t)(p[i]->data - base);
		if (b < at) {
			st = bn_seterr(e, BN_EFORMAT, "tensor '%s': "
			    "data_offsets overlap tensor '%s'",
			    show(p[i]->hf_name, s1, sizeof s1),
			    show(p[i - 1]->hf_name, s2, sizeof s2));
			break;
		}
		if (b > at) {
			st = bn_seterr(e, BN_EFORMAT, "tensor '%s': %llu "
			    "unused bytes before its data",
			    show(p[i]->hf_name, s1, sizeof s1),
			    (unsigned long long)(b - at));
			break;
		}
		at = b + p[i]->size;
	}
	if (st == BN_OK && at != dsize)
		st = bn_seterr(e, BN_EFORMAT, "%llu bytes after the last "
		    "tensor's data", (unsigned long long)(dsize - at));
	free(p);
	return st;
}

int
bn_st_scan(const struct bn_file *f, struct bn_st_list *l, struct bn_err *e)
{
	const struct bn_json *root, *m;
	const unsigned char *base;
	struct bn_json_doc doc;
	struct bn_st_entry *en;
	uint64_t hlen, dsize;
	size_t i, first = l->n;
	char nm[160];
	int st, k;

	if (f->size < 8)
		return bn_seterr(e, BN_EFORMAT, "file too short for a "
		    "safetensors header (%zu bytes)", f->size);
	hlen = 0;
	for (k = 7; k >= 0; k--)
		hlen = hlen << 8 | f->data[k];
	if (hlen > f->size - 8)
		return bn_seterr(e, BN_EFORMAT, "header length %llu past end "
		    "of file (%zu bytes)", (unsigned long long)hlen, f->size);
	if (hlen > ST_MAX_HEADER)
		return bn_seterr(e, BN_EFORMAT, "header length %llu over the "
		    "limit of %u bytes", (unsigned long long)hlen,
		    ST_MAX_HEADER);
	if (hlen == 0 || f->data[8] != '{')
		return bn_seterr(e, BN_EFORMAT, "header is not a JSON object");
	if ((st = bn_json_parse(&doc, f->data + 8, (size_t)hlen, e)) != BN_OK) {
		bn_json_free(&doc);
		bn_err_prefix(e, "JSON header");
		return st;
	}
	root = doc.root;
	if (root->type != BN_JSON_OBJECT) {
		bn_json_free(&doc);
		return bn_seterr(e, BN_EFORMAT, "header is not a JSON object");
	}
	base = f->data + 8 + hlen;
	dsize = f->size - 8 - hlen;
	for (i = 0; i < root->n; i++) {
		m = &root->kids[i];
		if (strcmp(m->key, "__metadata__") == 0 && m->key_len == 12)
			continue;
		show(m->key, nm, sizeof nm);
		if (m->key_len == 0 || strlen(m->key) != m->key_len) {
			st = bn_seterr(e, BN_EFORMAT, "tensor '%s': empty name "
			    "or NUL in name", nm);
			goto out;
		}
		if ((en = add_entry(l)) == NULL) {
			st = bn_seterr(e, BN_ENOMEM, "out of memory");
			goto out;
		}
		en->file = f->name;
		if ((en->hf_name = strdup(m->key)) == NULL) {
			st = bn_seterr(e, BN_ENOMEM, "out of memory");
			goto out;
		}
		if ((st = scan_tensor(m, nm, dsize, base, en, e)) != BN_OK)
			goto out;
	}
	/* v is NULL while the list is empty: no arithmetic on it */
	st = check_tiling(l->n > first ? l->v + first : NULL, l->n - first,
	    base, dsize, e);
out:
	bn_json_free(&doc);
	return st;
}

static int
cmp_hf(const void *a, const void *b)
{
	const struct bn_st_entry *x = *(const struct bn_st_entry *const *)a;
	const struct bn_st_entry *y = *(const struct bn_st_entry *const *)b;

	return strcmp(x->hf_name, y->hf_name);
}

static int
cmp_name(const void *a, const void *b)
{
	const struct bn_st_entry *x = *(const struct bn_st_entry *const *)a;
	const struct bn_st_entry *y = *(const struct bn_st_entry *const *)b;

	return strcmp(x->name, y->name);
}

static float
scale_value(const struct bn_st_entry *s)
{
	uint16_t h;
	float f;

	if (s->dtype == BN_DTYPE_F32) {
		memcpy(&f, s->data, 4);
		return f;
	}
	memcpy(&h, s->data, 2);
	return s->dtype == BN_DTYPE_BF16 ? bn_bf16_to_f32(h) :
	    bn_f16_to_f32(h);
}

/* Pair every "X.weight_scale" with its packed "X.weight". */
static int
pair_scales(struct bn_st_list *l, struct bn_st_entry **by_hf,
    struct bn_err *e)
{
	static const char sfx[] = ".weight_scale";
	struct bn_st_entry key, *kp, **hit, *s, *w;
	char s1[160], s2[160], *wname;
	size_t i, n;
	float x;

	for (i = 0; i < l->n; i++)
		by_hf[i] = &l->v[i];
	qsort(by_hf, l->n, sizeof *by_hf, cmp_hf);
	for (i = 0; i < l->n; i++) {
		s = &l->v[i];
		n = strlen(s->hf_name);
		if (n < sizeof sfx - 1 ||
		    strcmp(s->hf_name + n - (sizeof sfx - 1), sfx) != 0)
			continue;
		show(s->hf_name, s1, sizeof s1);
		if ((wname = strdup(s->hf_name)) == NULL)
			return bn_seterr(e, BN_ENOMEM, "out of memory");
		wname[n - 6] = '\0';	/* drop "_scale" */
		key.hf_name = wname;
		kp = &key;
		hit = bsearch(&kp, by_hf, l->n, sizeof *by_hf, cmp_hf);
		free(wname);
		w = hit != NULL ? *hit : NULL;
		if (w == NULL || w->dtype != BN_DTYPE_U8 || w->ndim != 2)
			return bn_seterr(e, BN_EUNSUPPORTED, "tensor '%s': "
			    "no packed uint8 2-D weight to apply it to", s1);
		if (w->scale != NULL)
			return bn_seterr(e, BN_EFORMAT, "tensor '%s': "
			    "duplicate weight_scale", s1);
		if ((s->dtype != BN_DTYPE_BF16 && s->dtype != BN_DTYPE_F16 &&
		    s->dtype != BN_DTYPE_F32) || s->ndim > 1 ||
		    (s->ndim == 1 && s->dims[0] != 1))
			return bn_seterr(e, BN_EUNSUPPORTED, "tensor '%s': "
			    "expected one bf16, f16 or f32 value", s1);
		x = scale_value(s);
		if (!isfinite(x) || x == 0)
			return bn_seterr(e, BN_EFORMAT, "tensor '%s': scale "
			    "%g is not finite and non-zero", s1, (double)x);
		if (w->dims[0] > UINT64_MAX / 4)
			return bn_seterr(e, BN_EFORMAT, "tensor '%s': shape "
			    "overflows", show(w->hf_name, s2, sizeof s2));
		w->scale = s;
		s->is_scale = 1;
	}
	return BN_OK;
}

int
bn_st_finish(struct bn_st_list *l, struct bn_err *e)
{
	struct bn_st_entry **p;
	char buf[BNT_MAX_NAME + 1], s1[160], s2[160], s3[160];
	size_t i;
	int st;

	if (l->n == 0)
		return BN_OK;
	if ((p = bn_reallocarray(NULL, l->n, sizeof *p)) == NULL)
		return bn_seterr(e, BN_ENOMEM, "out of memory");
	if ((st = pair_scales(l, p, e)) != BN_OK)
		goto out;
	for (i = 0; i < l->n; i++) {
		if (bn_name_from_hf(l->v[i].hf_name, buf, sizeof buf) != 0) {
			st = bn_seterr(e, BN_EFORMAT, "tensor '%s': name "
			    "longer than %d bytes", show(l->v[i].hf_name, s1,
			    sizeof s1), BNT_MAX_NAME);
			goto out;
		}
		free(l->v[i].name);
		if ((l->v[i].name = strdup(buf)) == NULL) {
			st = bn_seterr(e, BN_ENOMEM, "out of memory");
			goto out;
		}
	}
	for (i = 0; i < l->n; i++)
		p[i] = &l->v[i];
	qsort(p, l->n, sizeof *p, cmp_name);
	for (i = 1; i < l->n; i++)
		if (strcmp(p[i - 1]->name, p[i]->name) == 0) {
			if (strcmp(p[i - 1]->file, p[i]->file) != 0)
				st = bn_seterr(e, BN_EFORMAT, "duplicate "
				    "tensor '%s' (in '%s' and '%s')",
				    show(p[i]->name, s1, sizeof s1),
				    show(base_name(p[i - 1]->file), s2,
				    sizeof s2), show(base_name(p[i]->file),
				    s3, sizeof s3));
			else
				st = bn_seterr(e, BN_EFORMAT, "duplicate "
				    "tensor '%s'", show(p[i]->name, s1,
				    sizeof s1));
			goto out;
		}
	/* reorder the entries themselves; scale pointers follow */
	{
		struct bn_st_entry *nv;
		size_t *at;

		nv = bn_reallocarray(NULL, l->n, sizeof *nv);
		at = bn_reallocarray(NULL, l->n, sizeof *at);
		if (nv == NULL || at == NULL) {
			free(nv);
			free(at);
			st = bn_seterr(e, BN_ENOMEM, "out of memory");
			goto out;
		}
		for (i = 0; i < l->n; i++) {
			nv[i] = *p[i];
			at[p[i] - l->v] = i;
		}
		for (i = 0; i < l->n; i++)
			if (nv[i].scale != NULL)
				nv[i].scale = &nv[at[nv[i].scale - l->v]];
		free(at);
		free(l->v);
		l->v = nv;
		l->cap = l->n;
	}
out:
	free(p);
	return st;
}

/* Packed BitNet weight: [out/4, in] bytes, 4 codes per byte; row r of
 * the unpacked matrix is packed row r mod (out/4), bits 2 (r div
 * (out/4)).  Value = code - 1; code 3 is invalid.  The scale is
 * stored as is, with flags saying whether it divides or multiplies. */
static int
emit_packed(const struct bn_st_entry *w, unsigned flags, struct bn_sink *s,
    struct bn_err *e)
{
	const struct bn_st_entry *sc = w->scale;
	uint64_t np = w->dims[0], in = w->dims[1], p, c;
	struct bnt_tensor t;
	unsigned char *buf, *dst;
	const unsigned char *src;
	unsigned g, code;
	char s1[160];
	int st;

	memset(&t, 0, sizeof t);
	t.name = w->name;
	t.dtype = BN_DTYPE_T2;
	t.ndim = 2;
	t.dims[0] = np * 4;
	t.dims[1] = in;
	t.scale_kind = BNT_SCALE_TENSOR;
	t.scale_dtype = sc->dtype;
	t.scale_flags = flags;	/* the scale as stored: never inverted */
	if ((st = bnt_tensor_layout(&t, e)) != BN_OK)
		return st;
	if (t.data_bytes > SIZE_MAX)
		return bn_seterr(e, BN_ENOMEM, "tensor '%s': too large",
		    show(w->hf_name, s1, sizeof s1));
	if ((buf = malloc(t.data_bytes ? (size_t)t.data_bytes : 1)) == NULL)
		return bn_seterr(e, BN_ENOMEM, "out of memory");
	memset(buf, 0x55, (size_t)t.data_bytes);	/* code 1: zero */
	for (g = 0; g < 4; g++)
		for (p = 0; p < np; p++) {
			src = w->data + p * in;
			dst = buf + (g * np + p) * t.row_bytes;
			for (c = 0; c < in; c++) {
				code = src[c] >> (2 * g) & 3;
				if (code == 3) {
					free(buf);
					return bn_seterr(e, BN_EFORMAT,
					    "tensor '%s': invalid ternary code "
					    "3 (packed row %llu, column %llu)",
					    show(w->hf_name, s1, sizeof s1),
					    (unsigned long long)p,
					    (unsigned long long)c);
				}
				bn_t2_set(dst, c, (int)code - 1);
			}
		}
	st = s->tensor != NULL ? s->tensor(s->ctx, &t, buf, sc->data) : BN_OK;
	free(buf);
	return st;
}

int
bn_st_emit(const struct bn_st_list *l, size_t i, struct bn_sink *s,
    struct bn_err *e)
{
	const struct bn_st_entry *en = &l->v[i];
	struct bnt_tensor t;
	char s1[160];
	int st;

	if (en->is_scale)
		return BN_OK;
	if (en->scale != NULL)
		return emit_packed(en, l->scale_flags, s, e);
	memset(&t, 0, sizeof t);
	t.name = en->name;
	t.dtype = en->dtype;
	t.ndim = en->ndim;
	memcpy(t.dims, en->dims, sizeof t.dims);
	if ((st = bnt_tensor_layout(&t, e)) != BN_OK)
		return st;
	if (t.data_bytes != en->size ||
	    en->size != en->size / dtype_size(en->dtype) *
	    dtype_size(en->dtype))
		return bn_seterr(e, BN_EINTERNAL, "tensor '%s': layout of "
		    "%llu bytes for %llu stored",
		    show(en->hf_name, s1, sizeof s1),
		    (unsigned long long)t.data_bytes,
		    (unsigned long long)en->size);
	return s->tensor != NULL ? s->tensor(s->ctx, &t, en->data, NULL) :
	    BN_OK;
}

int
bn_import_safetensors(const struct bn_file *f, struct bn_sink *s,
    struct bn_err *e)
{
	struct bn_st_list l;
	size_t i;
	int st;

	bn_st_init(&l);
	st = bn_st_scan(f, &l, e);
	if (st == BN_OK)
		st = bn_st_finish(&l, e);
	for (i = 0; st == BN_OK && i < l.n; i++)
		st = bn_st_emit(&l, i, s, e);
	bn_st_free(&l);
	return st;
}
