/* compare.c: tensors against a reference (compare.h). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "compare.h"
#include "dtype.h"
#include "mem.h"
#include "model.h"
#include "quant.h"

struct bn_held *
bn_tset_find(const struct bn_tset *ts, const char *name)
{
	size_t i;

	for (i = 0; i < ts->n; i++)
		if (strcmp(ts->v[i].name, name) == 0)
			return &ts->v[i];
	return NULL;
}

int
bn_tset_add(struct bn_tset *ts, const struct bnt_tensor *t,
    struct bn_held **hp)
{
	struct bn_held *h;
	char *name;

	if (bn_grow(&ts->v, &ts->cap, ts->n + 1, sizeof *ts->v) != 0 ||
	    (name = strdup(t->name)) == NULL)
		return BN_ENOMEM;
	h = &ts->v[ts->n++];
	memset(h, 0, sizeof *h);
	h->t = *t;
	h->name = name;
	h->t.name = name;
	if (hp != NULL)
		*hp = h;
	return BN_OK;
}

void
bn_tset_free(struct bn_tset *ts)
{
	size_t i;

	for (i = 0; i < ts->n; i++) {
		free(ts->v[i].name);
		free(ts->v[i].val);
		free(ts->v[i].code);
	}
	free(ts->v);
	memset(ts, 0, sizeof *ts);
}

static int
hold_rows(struct bn_held *h, const struct bnt_record *rec)
{
	const struct bnt_tensor *t = &rec->tensor;
	const unsigned char *scales = t->scale_kind != BNT_SCALE_NONE ?
	    rec->data + t->scale_offset : NULL;
	struct bnt_tensor raw = *t;
	uint64_t r, c;
	float *v;

	raw.scale_kind = BNT_SCALE_NONE;
	for (r = 0; r < t->rows; r++) {
		v = h->val + r * t->row_len;
		/* the codes are the row's values before its scales */
		if (h->code != NULL) {
			if (bnt_tensor_row_f32(&raw, rec->data, NULL, r,
			    v) != 0)
				return BN_EFORMAT;
			for (c = 0; c < t->row_len; c++)
				h->code[r * t->row_len + c] = (int8_t)v[c];
		}
		if (bnt_tensor_row_f32(t, rec->data, scales, r, v) != 0)
			return BN_EFORMAT;
	}
	return BN_OK;
}

int
bn_hold_values(struct bn_held *h, const struct bnt_record *rec)
{
	const struct bnt_tensor *t = &rec->tensor;
	size_t n;
	int st;

	if (t->nelem > SIZE_MAX / 4)
		return BN_EFORMAT;
	n = (size_t)t->nelem;
	if ((h->val = malloc(n ? n * 4 : 4)) == NULL)
		return BN_ENOMEM;
	if (bn_dtype_traits(t->dtype)->is_packed &&
	    (h->code = malloc(n ? n : 1)) == NULL)
		st = BN_ENOMEM;
	else
		st = hold_rows(h, rec);
	if (st != BN_OK) {
		free(h->val);
		free(h->code);
		h->val = NULL;
		h->code = NULL;
	}
	return st;
}

/* Quantize the float reference as bnquant does (bn_quant_tensor, one
 * statistic over the whole tensor, taken as one row of n). */
int
bn_code_agreement(const struct bn_held *ref, const struct bn_held *pk,
    double *agree)
{
	struct bn_quant q;
	uint64_t i, n = ref->t.nelem, same = 0, bytes;
	int bin = pk->t.dtype == BN_DTYPE_B1;

	*agree = 1;
	if (n == 0)
		return BN_OK;
	memset(&q, 0, sizeof q);
	q.kind = bin ? BN_QUANT_BINARY : BN_QUANT_TERNARY;
	if (bn_dtype_row_bytes(bin ? BN_DTYPE_B1 : BN_DTYPE_T2, n, &bytes) !=
	    0 || bytes > SIZE_MAX || (q.codes = malloc(bytes)) == NULL)
		return BN_ENOMEM;
	q.row_bytes = (size_t)bytes;
	bn_quant_tensor(ref->val, 1, (size_t)n, &q);
	for (i = 0; i < n; i++)
		same += (bin ? bn_b1_get(q.codes, i) :
		    bn_t2_get(q.codes, i)) == pk->code[i];
	free(q.codes);
	*agree = (double)same / (double)n;
	return BN_OK;
}

int
bn_compare_values(const struct bn_held *ref, const struct bn_held *cur,
    struct bn_cmp *c)
{
	double dot = 0, na = 0, nb = 0, se = 0, d, mx = 0;
	uint64_t i, n = cur->t.nelem, same = 0;

	for (i = 0; i < n; i++) {
		double a = cur->val[i], b = ref->val[i];

		if (isnan(a) && isnan(b))
			continue;
		d = fabs(a - b);
		if (isnan(d) || d > mx)
			mx = isnan(d) ? INFINITY : d;
		se += d * d;
		dot += a * b;
		na += a * a;
		nb += b * b;
	}
	c->max_abs = mx;
	c->rms = n ? sqrt(se / (double)n) : 0;
	c->cosine = na > 0 && nb > 0 ? dot / sqrt(na * nb) :
	    (na == nb ? 1 : 0);
	c->agree = -1;
	if (cur->code != NULL && ref->code == NULL &&
	    cur->t.dtype != BN_DTYPE_T3)
		return bn_code_agreement(ref, cur, &c->agree);
	if (cur->code != NULL && ref->code != NULL) {
		/* both packed: compare the codes directly */
		for (i = 0; i < n; i++)
			same += cur->code[i] == ref->code[i];
		c->agree = n ? (double)same / (double)n : 1;
	}
	return BN_OK;
}

int
bn_compare(struct bn_report *rep, double tol, const struct bn_held *ref,
    const struct bnt_record *rec)
{
	const struct bnt_tensor *t = &rec->tensor;
	struct bn_held cur;
	struct bn_cmp *c;
	unsigned k;
	int st, shape_ok = ref->t.ndim == t->ndim;

	for (k = 0; shape_ok && k < ref->t.ndim; k++)
		shape_ok = ref->t.dims[k] == t->dims[k];
	if (!shape_ok)
		return bn_report_add(rep, (long long)rec->index, rec->offset,
		    t->name, "shape differs from the reference");
	memset(&cur, 0, sizeof cur);
	cur.t = *t;
	if ((st = bn_hold_values(&cur, rec)) != BN_OK)
		return st == BN_EFORMAT ? BN_OK : st;	/* check.c says */
	if (bn_grow(&rep->c, &rep->ccap, rep->nc + 1, sizeof *rep->c) != 0)
		st = BN_ENOMEM;
	else {
		c = &rep->c[rep->nc];
		memset(c, 0, sizeof *c);
		if ((c->name = strdup(t->name)) == NULL)
			st = BN_ENOMEM;
		else if ((st = bn_compare_values(ref, &cur, c)) != BN_OK)
			free(c->name);
		else {
			rep->nc++;
			c->fail = tol >= 0 && !(c->max_abs <= tol);
			if (c->fail)
				st = bn_report_add(rep, (long long)rec->index,
				    rec->offset, t->name, "differs from the "
				    "reference by %g (tolerance %g)",
				    c->max_abs, tol);
		}
	}
	free(cur.val);
	free(cur.code);
	return st;
}

int
bn_load_reference(FILE *fp, const char *name, struct bn_tset *ref,
    struct bn_err *e)
{
	struct bnt_reader *r;
	struct bnt_record rec;
	struct bn_held *h;
	int st;

	if ((r = bnt_reader_open(fp, name)) == NULL)
		return bn_seterr(e, BN_ENOMEM, "out of memory");
	while ((st = bnt_read_next(r, &rec)) == BN_OK) {
		if (rec.kind != BNT_KIND_TENSOR)
			continue;
		if (bn_tset_find(ref, rec.tensor.name) != NULL) {
			st = bn_seterr(e, BN_EFORMAT, "%s: duplicate tensor "
			    "'%s'", name, rec.tensor.name);
			goto out;
		}
		if ((st = bn_tset_add(ref, &rec.tensor, &h)) == BN_OK)
			st = bn_hold_values(h, &rec);
		if (st == BN_ENOMEM) {
			bn_seterr(e, st, "out of memory");
			goto out;
		}
		if (st != BN_OK) {
			bn_seterr(e, st, "%s: tensor '%s': invalid code", name,
			    rec.tensor.name);
			goto out;
		}
	}
	if (st == BN_END)
		st = BN_OK;
	else	/* a damaged stream is bad data, whatever the reader says */
		st = bn_seterr(e, st == BN_EIO ? BN_EIO : BN_EFORMAT,
		    "%s: %s", name, bnt_reader_error(r));
out:
	bnt_reader_close(r);
	return st;
}

int
bn_refset_tensor(void *ctx, const struct bnt_tensor *t, const void *data,
    const void *scales)
{
	struct bn_refset *r = ctx;
	struct bn_reftensor *rt;
	char *name;

	(void)scales;
	if (bn_grow(&r->v, &r->cap, r->n + 1, sizeof *r->v) != 0)
		return BN_ENOMEM;
	rt = &r->v[r->n];
	rt->t = *t;
	name = strdup(t->name);
	rt->data = malloc(t->data_bytes ? t->data_bytes : 1);
	if (name == NULL || rt->data == NULL) {
		free(name);
		free(rt->data);
		return BN_ENOMEM;
	}
	rt->t.name = name;
	memcpy(rt->data, data, t->data_bytes);
	r->n++;
	return BN_OK;
}

int
bn_refset_get(const struct bn_refset *r, const char *name, int dtype,
    const struct bnt_tensor **t, const unsigned char **data,
    struct bn_err *e)
{
	size_t i;

	*t = NULL;
	*data = NULL;
	for (i = 0; i < r->n; i++)
		if (strcmp(r->v[i].t.name, name) == 0) {
			if (r->v[i].t.dtype != dtype)
				return bn_seterr(e, BN_EFORMAT, "'%s' has "
				    "type %s", name,
				    bn_dtype_traits(r->v[i].t.dtype)->name);
			*t = &r->v[i].t;
			*data = r->v[i].data;
			break;
		}
	return BN_OK;
}

void
bn_refset_free(struct bn_refset *r)
{
	size_t i;

	for (i = 0; i < r->n; i++) {
		free((char *)r->v[i].t.name);
		free(r->v[i].data);
	}
	free(r->v);
	memset(r, 0, sizeof *r);
}

size_t
bn_argmax(const float *l, size_t n)
{
	size_t best = 0, i;

	for (i = 1; i < n; i++)
		if (l[i] > l[best])
			best = i;
	return best;
}

double
bn_max_abs_diff(const float *a, const float *b, size_t n)
{
	double m = 0, d;
	size_t i;

	for (i = 0; i < n; i++) {
		d = fabs((double)a[i] - (double)b[i]);
		if (!(d <= m))
			m = d;
	}
	return m;
}

void
bn_capture_hook(void *ctx, int layer, int site, const float *x, size_t T,
    size_t dim)
{
	struct bn_capture *c = ctx;
	size_t slot;

	if (site == BN_SITE_EMBED)
		slot = 0;
	else if (site == BN_SITE_LAYER && layer < c->layers - 1)
		slot = (size_t)layer + 1;
	else if (site == BN_SITE_FINAL)
		slot = (size_t)c->layers;
	else
		return;
	if (T == c->T && dim == c->H)
		memcpy(c->hidden + slot * T * dim, x, T * dim * sizeof *x);
}
