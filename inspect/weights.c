/* weights.c: moments, codes and latent histograms of one tensor. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "bnt.h"
#include "dtype.h"
#include "mem.h"
#include "roles.h"
#include "quant.h"
#include "status.h"
#include "table.h"
#include "weights.h"

const char *const bn_wstat_cols[BN_WSTAT_NCOL] = {
	"file", "name", "dtype", "shape", "count", "mean", "std", "min",
	"max", "neg", "zero", "pos", "scale", "near"
};
const char *const bn_whist_cols[BN_WHIST_NCOL] = {
	"file", "name", "bin_lo", "bin_hi", "count"
};

void
bn_moments_f32(const float *v, uint64_t n, struct bn_moments *m)
{
	double sum = 0, sq = 0, mn = INFINITY, mx = -INFINITY, d;
	uint64_t i, nan = 0;

	for (i = 0; i < n; i++) {
		d = v[i];
		if (isnan(d)) {
			nan++;
			continue;
		}
		sum += d;
		sq += d * d;
		mn = d < mn ? d : mn;
		mx = d > mx ? d : mx;
	}
	m->n = n;
	m->nan = nan;
	if (n == nan) {
		m->mean = m->std = m->min = m->max = NAN;
		return;
	}
	m->mean = sum / (double)(n - nan);
	m->std = sqrt(fmax(sq / (double)(n - nan) - m->mean * m->mean, 0));
	m->min = mn;
	m->max = mx;
}

static int
is_latent(const struct bnt_tensor *t)
{
	return bn_dtype_traits(t->dtype)->is_float && t->ndim == 2 &&
	    t->scale_kind == BNT_SCALE_NONE && bn_is_projection(t->name);
}

int
bn_has_codes(const struct bnt_tensor *t)
{
	return strncmp(t->name, "optim.", 6) != 0 &&
	    (bn_dtype_traits(t->dtype)->is_packed || is_latent(t));
}

static void *
alloc(uint64_t n, size_t size)
{
	size_t bytes;

	if (n > SIZE_MAX || bn_mul_size(n ? (size_t)n : 1, size, &bytes) != 0)
		return NULL;
	return malloc(bytes);
}

int
bn_tensor_values(const struct bnt_tensor *t, const unsigned char *data,
    float **out)
{
	float *v;
	uint64_t r;

	if ((*out = v = alloc(t->nelem, sizeof *v)) == NULL)
		return BN_ENOMEM;
	for (r = 0; r < t->rows; r++)
		if (bnt_tensor_row_f32(t, data, data + t->scale_offset, r,
		    v + r * t->row_len) != 0) {
			free(v);
			*out = NULL;
			return BN_EFORMAT;
		}
	return BN_OK;
}

double
bn_unit_scale(const struct bnt_tensor *t, const unsigned char *data)
{
	double sum = 0, s;
	uint64_t i;

	if (t->scale_kind == BNT_SCALE_NONE || t->nscales == 0)
		return 1;
	for (i = 0; i < t->nscales; i++) {
		s = bnt_tensor_scale(t, data + t->scale_offset, i);
		sum += t->scale_flags & BNT_SCALE_DIV ? 1 / s : s;
	}
	return sum / (double)t->nscales;
}

static int
packed_codes(const struct bnt_tensor *t, const unsigned char *data,
    int8_t *code)
{
	const uint8_t *p;
	uint64_t r, c;
	int x;

	for (r = 0; r < t->rows; r++)
		for (c = 0; c < t->row_len; c++) {
			p = data + r * t->row_bytes;
			x = t->dtype == BN_DTYPE_T2 ? bn_t2_get(p, c) :
			    t->dtype == BN_DTYPE_T3 ? bn_t3_get(p, c) :
			    bn_b1_get(p, c);
			if (x == 2)
				return BN_EFORMAT;
			code[r * t->row_len + c] = (int8_t)x;
		}
	return BN_OK;
}

/* Float weights v through the whole-tensor quantizer, as one row. */
static int
float_codes(const float *v, uint64_t n, int binary, struct bn_codes *c)
{
	int dt = binary ? BN_DTYPE_B1 : BN_DTYPE_T2;
	struct bn_quant q;
	uint64_t i, bytes;
	float s, a;

	memset(&q, 0, sizeof q);
	q.kind = binary ? BN_QUANT_BINARY : BN_QUANT_TERNARY;
	q.scales = &s;
	q.alphas = &a;
	if (bn_dtype_row_bytes(dt, n, &bytes) != 0 || bytes > SIZE_MAX ||
	    (q.codes = malloc(bytes ? (size_t)bytes : 1)) == NULL)
		return BN_ENOMEM;
	q.row_bytes = (size_t)bytes;
	bn_quant_tensor(v, 1, (size_t)n, &q);
	for (i = 0; i < n; i++)
		c->code[i] = (int8_t)(binary ? bn_b1_get(q.codes, i) :
		    bn_t2_get(q.codes, i));
	free(q.codes);
	/* binary: s is beta, the value of a code of 1 */
	c->alpha = a;
	c->delta = binary ? s : 1 / (double)s;
	c->s = binary ? (s > 0 ? 1 / s : 1) : s;
	return BN_OK;
}

int
bn_tensor_codes(const struct bnt_tensor *t, const unsigned char *data,
    int binary, int want_lat, struct bn_codes *c)
{
	float *v;
	int st;

	memset(c, 0, sizeof *c);
	if ((c->code = alloc(t->nelem, 1)) == NULL)
		return BN_ENOMEM;
	if (bn_dtype_traits(t->dtype)->is_packed) {
		if ((st = packed_codes(t, data, c->code)) != BN_OK) {
			bn_codes_free(c);
			return st;
		}
		c->delta = bn_unit_scale(t, data);
		return BN_OK;
	}
	if ((st = bn_tensor_values(t, data, &v)) != BN_OK ||
	    (st = float_codes(v, t->nelem, binary, c)) != BN_OK) {
		free(v);
		bn_codes_free(c);
		return st;
	}
	if (want_lat)
		c->lat = v;
	else
		free(v);
	return BN_OK;
}

void
bn_codes_free(struct bn_codes *c)
{
	free(c->code);
	free(c->lat);
	c->code = NULL;
	c->lat = NULL;
}

/* Shares of the codes; near-threshold mass and histogram of the
 * latent weights, if any. */
static void
code_stats(const struct bn_codes *c, uint64_t n, int binary,
    struct bn_wstat *w)
{
	uint64_t i, cnt[3] = { 0, 0, 0 }, near = 0;
	double u, b;

	for (i = 0; i < n; i++)
		cnt[c->code[i] + 1]++;
	w->coded = 1;
	w->neg = n ? (double)cnt[0] / (double)n : 0;
	w->zero = n ? (double)cnt[1] / (double)n : 0;
	w->pos = n ? (double)cnt[2] / (double)n : 0;
	w->delta = c->delta;
	if (c->lat == NULL)
		return;
	w->latent = 1;
	for (i = 0; i < n; i++) {
		u = binary ? ((double)c->lat[i] - c->alpha) * c->s :
		    (double)c->lat[i] * c->s;
		/* thresholds: 0 binary, +-0.5 ternary */
		if (binary ? fabs(u) <= 0.05 : fabs(fabs(u) - 0.5) <= 0.05)
			near++;
		b = floor((u - BN_WHIST_LO) / (BN_WHIST_HI - BN_WHIST_LO) *
		    BN_WHIST_BINS);
		if (b >= 0 && b < BN_WHIST_BINS)
			w->hist[(size_t)b]++;
	}
	w->near = n ? (double)near / (double)n : 0;
}

int
bn_weight_stats(const struct bnt_tensor *t, const unsigned char *data,
    int binary, struct bn_wstat *w, struct bn_err *e)
{
	struct bn_codes c;
	float *v;
	int st;

	memset(w, 0, sizeof *w);
	if ((st = bn_tensor_values(t, data, &v)) == BN_OK) {
		bn_moments_f32(v, t->nelem, &w->m);
		free(v);
		if (!bn_has_codes(t))
			return BN_OK;
		st = bn_tensor_codes(t, data, binary, 1, &c);
	}
	if (st == BN_EFORMAT)
		return bn_seterr(e, st, "tensor '%s': invalid packed code",
		    t->name);
	if (st != BN_OK)
		return bn_seterr(e, st, "out of memory");
	code_stats(&c, t->nelem, binary, w);
	bn_codes_free(&c);
	return BN_OK;
}

static void
put_reals(struct bn_table *tb, int ok, const double *v, int n)
{
	int i;

	for (i = 0; i < n; i++)
		if (ok)
			bn_table_put_real(tb, v[i]);
		else
			bn_table_put_none(tb);
}

void
bn_wstat_row(struct bn_table *tb, const char *file,
    const struct bnt_tensor *t, const struct bn_wstat *w)
{
	const struct bn_moments *m = &w->m;
	const double mom[4] = { m->mean, m->std, m->min, m->max };
	const double codes[4] = { w->neg, w->zero, w->pos, w->delta };
	char shape[128];

	bn_table_put_str(tb, file);
	bn_table_put_str(tb, t->name);
	bn_table_put_str(tb, bn_dtype_traits(t->dtype)->name);
	bn_table_put_str(tb, bnt_shape_str(t, shape, sizeof shape));
	bn_table_put_int(tb, (long long)m->n);
	put_reals(tb, m->n > m->nan, mom, 4);
	put_reals(tb, w->coded && m->n > 0, codes, 4);
	put_reals(tb, w->latent && m->n > 0, &w->near, 1);
}

void
bn_whist_rows(struct bn_table *tb, const char *file, const char *name,
    const uint64_t *hist)
{
	const double span = BN_WHIST_HI - BN_WHIST_LO;
	size_t b;

	for (b = 0; b < BN_WHIST_BINS; b++) {
		bn_table_put_str(tb, file);
		bn_table_put_str(tb, name);
		bn_table_put_real(tb, BN_WHIST_LO + span * (double)b /
		    BN_WHIST_BINS);
		bn_table_put_real(tb, BN_WHIST_LO + span * (double)(b + 1) /
		    BN_WHIST_BINS);
		bn_table_put_int(tb, (long long)hist[b]);
	}
}
