/* npy.c: NumPy .npy arrays and .npz archives of them -> bnt tensors.
 *
 * A .npy file is "\x93NUMPY", a major and minor version byte, the header
 * length (u16 in version 1, u32 in versions 2 and 3), the header (a
 * Python dict literal with the keys 'descr', 'fortran_order' and 'shape',
 * padded with spaces and ended by '\n') and the raw C-order data. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "bnt.h"
#include "dtype.h"
#include "fileset.h"
#include "import.h"
#include "roles.h"
#include "mem.h"
#include "status.h"

#define NPY_MAGIC "\x93NUMPY"
#define MAX_DIM_VALUE (UINT64_C(1) << 56)

static const struct {
	const char *descr;
	int dtype;
} descrs[] = {
	{ "<f2", BN_DTYPE_F16 },
	{ "<f4", BN_DTYPE_F32 },
	{ "<f8", BN_DTYPE_F64 },
	{ "<i1", BN_DTYPE_I8 },
	{ "<i4", BN_DTYPE_I32 },
	{ "<i8", BN_DTYPE_I64 },
	{ "<u1", BN_DTYPE_U8 },
	{ "|i1", BN_DTYPE_I8 },
	{ "|u1", BN_DTYPE_U8 },
};

/* A cursor over the header text. */
struct hp {
	const char *p, *end;
};

static void
ws(struct hp *h)
{
	while (h->p < h->end && *h->p == ' ')
		h->p++;
}

static int
eat(struct hp *h, char c)
{
	ws(h);
	if (h->p < h->end && *h->p == c) {
		h->p++;
		return 1;
	}
	return 0;
}

/* A quoted string without escapes into out; 0 or -1. */
static int
str(struct hp *h, char *out, size_t size)
{
	char q;
	size_t n = 0;

	ws(h);
	if (h->p >= h->end || (*h->p != '\'' && *h->p != '"'))
		return -1;
	q = *h->p++;
	while (h->p < h->end && *h->p != q) {
		if (*h->p == '\\' || *h->p == '\n' || n + 1 >= size)
			return -1;
		out[n++] = *h->p++;
	}
	if (h->p >= h->end)
		return -1;
	h->p++;
	out[n] = '\0';
	return 0;
}

static int
word(struct hp *h, const char *w)
{
	size_t n = strlen(w);

	ws(h);
	if ((size_t)(h->end - h->p) < n || memcmp(h->p, w, n) != 0)
		return 0;
	h->p += n;
	return 1;
}

static int
uint(struct hp *h, uint64_t *v)
{
	ws(h);
	if (h->p >= h->end || *h->p < '0' || *h->p > '9')
		return -1;
	*v = 0;
	while (h->p < h->end && *h->p >= '0' && *h->p <= '9') {
		*v = *v * 10 + (uint64_t)(*h->p++ - '0');
		if (*v > MAX_DIM_VALUE)
			return -1;
	}
	if (h->p < h->end && *h->p == 'L')	/* Python 2 long */
		h->p++;
	return 0;
}

/* "(", then "n," or "n, m, ..." with an optional trailing comma, ")". */
static int
shape(struct hp *h, struct bnt_tensor *t)
{
	uint64_t v;
	int comma = 0;

	if (!eat(h, '('))
		return -1;
	t->ndim = 0;
	for (;;) {
		if (eat(h, ')'))
			break;
		if (t->ndim > 0 && !comma)
			return -1;
		if (t->ndim == BNT_MAX_DIMS || uint(h, &v) != 0)
			return -1;
		t->dims[t->ndim++] = v;
		comma = eat(h, ',');
	}
	if (t->ndim == 1 && !comma)
		return -1;	/* "(5)" is not a tuple */
	return 0;
}

static int
bad_header(struct bn_err *e, const char *name, const char *what)
{
	return bn_seterr(e, BN_EFORMAT, "tensor '%s': bad .npy header (%s)",
	    name, what);
}

/* Parse the header dict into t (ndim, dims) and descr (32 bytes). */
static int
header_dict(const char *p, size_t n, const char *name, struct bnt_tensor *t,
    char *descr, struct bn_err *e)
{
	struct hp h = { p, p + n };
	char key[32];
	int seen = 0, fortran = 0, bit;

	if (n == 0 || p[n - 1] != '\n')
		return bad_header(e, name, "no final newline");
	h.end--;
	if (!eat(&h, '{'))
		return bad_header(e, name, "not a dict");
	for (;;) {
		if (eat(&h, '}'))
			break;
		if (str(&h, key, sizeof key) != 0 || !eat(&h, ':'))
			return bad_header(e, name, "bad key");
		if (strcmp(key, "descr") == 0) {
			bit = 1;
			if (str(&h, descr, 32) != 0)
				return bad_header(e, name, "bad descr");
		} else if (strcmp(key, "fortran_order") == 0) {
			bit = 2;
			if (word(&h, "True"))
				fortran = 1;
			else if (!word(&h, "False"))
				return bad_header(e, name, "bad fortran_order");
		} else if (strcmp(key, "shape") == 0) {
			bit = 4;
			if (shape(&h, t) != 0)
				return bad_header(e, name, "bad shape");
		} else
			return bad_header(e, name, "unknown key");
		if (seen & bit)
			return bad_header(e, name, "repeated key");
		seen |= bit;
		if (!eat(&h, ',')) {
			if (!eat(&h, '}'))
				return bad_header(e, name, "missing comma");
			break;
		}
	}
	ws(&h);
	if (h.p != h.end)
		return bad_header(e, name, "junk after the dict");
	if (seen != 7)
		return bad_header(e, name, "missing key");
	if (fortran)
		return bn_seterr(e, BN_EUNSUPPORTED, "tensor '%s': "
		    "fortran_order arrays are not supported", name);
	return BN_OK;
}

/* Parse the header dict into t (dtype, ndim, dims). */
static int
header(const char *p, size_t n, const char *name, struct bnt_tensor *t,
    struct bn_err *e)
{
	char descr[32];
	size_t i;
	int rc;

	if ((rc = header_dict(p, n, name, t, descr, e)) != BN_OK)
		return rc;
	for (i = 0; i < sizeof descrs / sizeof descrs[0]; i++)
		if (strcmp(descr, descrs[i].descr) == 0) {
			t->dtype = descrs[i].dtype;
			return BN_OK;
		}
	if (descr[0] == '>')
		return bn_seterr(e, BN_EUNSUPPORTED, "tensor '%s': big-endian "
		    "dtype '%s' is not supported", name, descr);
	return bn_seterr(e, BN_EUNSUPPORTED, "tensor '%s': dtype '%s' is "
	    "not supported", name, descr);
}

/* The magic, version and header length of p[0..n): the header is
 * p[*pre..*pre + *hlen). */
static int
prefix(const unsigned char *p, size_t n, const char *name, size_t *ppre,
    size_t *phlen, struct bn_err *e)
{
	size_t pre, hlen;

	if (n < 10 || memcmp(p, NPY_MAGIC, 6) != 0)
		return bn_seterr(e, BN_EFORMAT, "tensor '%s': not a .npy "
		    "array", name);
	if (p[7] != 0 || p[6] < 1 || p[6] > 3)
		return bn_seterr(e, BN_EUNSUPPORTED, "tensor '%s': .npy "
		    "version %u.%u is not supported", name, p[6], p[7]);
	if (p[6] == 1) {
		pre = 10;
		hlen = (size_t)p[8] | (size_t)p[9] << 8;
	} else {
		pre = 12;
		if (n < pre)
			return bn_seterr(e, BN_EFORMAT, "tensor '%s': "
			    "truncated .npy header", name);
		hlen = (size_t)p[8] | (size_t)p[9] << 8 |
		    (size_t)p[10] << 16 | (size_t)p[11] << 24;
	}
	if (hlen > n - pre)
		return bn_seterr(e, BN_EFORMAT, "tensor '%s': truncated .npy "
		    "header (%zu of %zu bytes)", name, n - pre, hlen);
	*ppre = pre;
	*phlen = hlen;
	return BN_OK;
}

int
bn_npy_header(const unsigned char *p, size_t n, const char *name,
    char descr[32], struct bnt_tensor *t, size_t *data_off, struct bn_err *e)
{
	size_t pre, hlen;
	int rc;

	if ((rc = prefix(p, n, name, &pre, &hlen, e)) != BN_OK)
		return rc;
	memset(t, 0, sizeof *t);
	t->name = name;
	if ((rc = header_dict((const char *)p + pre, hlen, name, t, descr,
	    e)) != BN_OK)
		return rc;
	*data_off = pre + hlen;
	return BN_OK;
}

/* Check p[0..n) as a .npy array and send it as tensor name. */
static int
npy_emit(const unsigned char *p, size_t n, const char *name,
    struct bn_sink *s, struct bn_err *e)
{
	struct bnt_tensor t;
	size_t pre, hlen;
	int rc;

	if ((rc = prefix(p, n, name, &pre, &hlen, e)) != BN_OK)
		return rc;
	memset(&t, 0, sizeof t);
	t.name = name;
	if ((rc = header((const char *)p + pre, hlen, name, &t, e)) != BN_OK)
		return rc;
	t.scale_kind = BNT_SCALE_NONE;
	if ((rc = bnt_tensor_layout(&t, e)) != BN_OK)
		return rc;
	pre += hlen;
	if (t.data_bytes != n - pre)
		return bn_seterr(e, BN_EFORMAT, "tensor '%s': %zu bytes of "
		    "data, expected %llu", name, n - pre,
		    (unsigned long long)t.data_bytes);
	if (s == NULL || s->tensor == NULL)
		return BN_OK;
	return s->tensor(s->ctx, &t, p + pre, NULL);
}

int
bn_import_npy(const struct bn_file *f, const char *name, struct bn_sink *s,
    struct bn_err *e)
{
	char hf[BNT_MAX_NAME + 1], out[BNT_MAX_NAME + 1];
	const char *base;
	size_t len;

	if (name == NULL) {
		base = strrchr(f->name, '/');
		base = base != NULL ? base + 1 : f->name;
		len = strlen(base);
		if (len > 4 && strcmp(base + len - 4, ".npy") == 0)
			len -= 4;
		if (len == 0 || len > BNT_MAX_NAME)
			return bn_seterr(e, BN_EUSAGE, "'%s': no tensor name",
			    f->name);
		memcpy(hf, base, len);
		hf[len] = '\0';
		if (bn_name_from_hf(hf, out, sizeof out) != 0)
			return bn_seterr(e, BN_EFORMAT, "'%s': name too long",
			    f->name);
		name = out;
	}
	return npy_emit(f->data, f->size, name, s, e);
}

struct npz_ent {
	char *name;
	const struct bn_file *f;
};

static int
cmp_npz(const void *a, const void *b)
{
	return strcmp(((const struct npz_ent *)a)->name,
	    ((const struct npz_ent *)b)->name);
}

int
bn_import_npz(const struct bn_fileset *zip, struct bn_sink *s,
    struct bn_err *e)
{
	struct npz_ent *v;
	char hf[BNT_MAX_NAME + 1];
	const char *nm;
	size_t i, n = 0, len;
	int rc = BN_OK;

	if (zip->n == 0)
		return bn_seterr(e, BN_EFORMAT, "no arrays in the archive");
	if ((v = calloc(zip->n, sizeof *v)) == NULL)
		return bn_seterr(e, BN_ENOMEM, "out of memory");
	for (i = 0; i < zip->n; i++) {
		nm = zip->files[i].name;
		len = strlen(nm);
		if (len <= 4 || strcmp(nm + len - 4, ".npy") != 0) {
			rc = bn_seterr(e, BN_EFORMAT, "member '%s': not a .npy "
			    "array", nm);
			goto out;
		}
		len -= 4;
		if (len > BNT_MAX_NAME) {
			rc = bn_seterr(e, BN_EFORMAT, "member '%.64s...': name "
			    "too long", nm);
			goto out;
		}
		memcpy(hf, nm, len);
		hf[len] = '\0';
		if ((v[n].name = malloc(BNT_MAX_NAME + 1)) == NULL) {
			rc = bn_seterr(e, BN_ENOMEM, "out of memory");
			goto out;
		}
		v[n].f = &zip->files[i];
		if (bn_name_from_hf(hf, v[n++].name, BNT_MAX_NAME + 1) != 0) {
			rc = bn_seterr(e, BN_EFORMAT, "member '%.64s...': name "
			    "too long", nm);
			goto out;
		}
	}
	qsort(v, n, sizeof v[0], cmp_npz);
	for (i = 1; i < n; i++)
		if (strcmp(v[i - 1].name, v[i].name) == 0) {
			rc = bn_seterr(e, BN_EFORMAT, "members '%s' and '%s': "
			    "duplicate tensor name '%s'", v[i - 1].f->name,
			    v[i].f->name, v[i].name);
			goto out;
		}
	for (i = 0; i < n && rc == BN_OK; i++)
		rc = npy_emit(v[i].f->data, v[i].f->size, v[i].name, s, e);
out:
	for (i = 0; i < n; i++)
		free(v[i].name);
	free(v);
	return rc;
}
