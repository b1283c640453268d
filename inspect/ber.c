/* ber.c: activation errors of a student model against a reference. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ber.h"
#include "config.h"
#include "kernels.h"
#include "model.h"
#include "status.h"
#include "table.h"

const char *const bn_ber_cols[BN_BER_NCOL] = {
	"site", "layer", "dim", "n", "ber_sign", "cer_int8", "ber_bit",
	"cosine", "rel_mse", "sqnr_db", "absmax_mean"
};
const char *const bn_ber_hcols[4] = { "site", "bin_lo", "bin_hi", "count" };

static const char *const site_names[] = {
	[BN_SITE_EMBED] = "embed", [BN_SITE_LAYER] = "out",
	[BN_SITE_FINAL] = "final", [BN_SITE_QKV_IN] = "qkv_in",
	[BN_SITE_O_IN] = "o_in", [BN_SITE_UP_IN] = "up_in",
	[BN_SITE_DOWN_IN] = "down_in"
};

/* A layer's sites in the order the forward pass reaches them. */
static const int layer_slot[] = {
	[BN_SITE_QKV_IN] = 0, [BN_SITE_O_IN] = 1, [BN_SITE_UP_IN] = 2,
	[BN_SITE_DOWN_IN] = 3, [BN_SITE_LAYER] = 4
};

static size_t
site_index(size_t nlayers, int layer, int kind)
{
	if (kind == BN_SITE_EMBED)
		return 0;
	if (kind == BN_SITE_FINAL)
		return 1 + BN_BER_PER_LAYER * nlayers;
	return 1 + BN_BER_PER_LAYER * (size_t)layer + (size_t)layer_slot[kind];
}

static size_t
widest(const struct bn_config *c, size_t d)
{
	size_t qkv = (size_t)c->heads * (size_t)c->head_dim;

	if ((size_t)c->ffn > d)
		d = (size_t)c->ffn;
	return qkv > d ? qkv : d;
}

int
bn_ber_init(struct bn_ber *b, const struct bn_config *student,
    const struct bn_config *ref, size_t batch)
{
	memset(b, 0, sizeof *b);
	b->ns = 2 + BN_BER_PER_LAYER * (size_t)student->layers;
	b->batch = batch;
	b->maxd = widest(ref, widest(student, (size_t)student->hidden));
	b->s = calloc(b->ns, sizeof *b->s);
	b->qs = malloc(b->maxd ? b->maxd : 1);
	b->qr = malloc(b->maxd ? b->maxd : 1);
	if (b->s == NULL || b->qs == NULL || b->qr == NULL) {
		bn_ber_free(b);
		return BN_ENOMEM;
	}
	return BN_OK;
}

void
bn_ber_free(struct bn_ber *b)
{
	size_t i;

	for (i = 0; b->s != NULL && i < b->ns; i++)
		free(b->s[i].buf);
	free(b->s);
	free(b->qs);
	free(b->qr);
	b->s = NULL;
	b->qs = b->qr = NULL;
}

void
bn_ber_compare(struct bn_ber_site *s, const float *a, const float *r, size_t T,
    size_t dim, int8_t *qs, int8_t *qr)
{
	size_t i, t;
	double m, d;
	int k;

	for (t = 0; t < T; t++, a += dim, r += dim) {
		m = 0;
		bn_k->quant_i8(a, qs, dim);
		bn_k->quant_i8(r, qr, dim);
		for (i = 0; i < dim; i++) {
			d = (double)a[i] - r[i];
			s->sign += (a[i] >= 0) != (r[i] >= 0);
			s->code += qs[i] != qr[i];
			s->bits += __builtin_popcount((unsigned)(uint8_t)
			    (qs[i] ^ qr[i]));
			s->dot += (double)a[i] * r[i];
			s->ss += (double)a[i] * a[i];
			s->rr += (double)r[i] * r[i];
			s->dd += d * d;
			if (fabsf(a[i]) > m)
				m = fabsf(a[i]);
		}
		s->n += (double)dim;
		s->amax_sum += m;
		s->tokens++;
		k = m > 0 ? (int)floor(log2(m)) + BN_AOFF : 0;
		k = k < 0 ? 0 : k >= BN_ABINS ? BN_ABINS - 1 : k;
		s->ah[k]++;
	}
}

/* The student's activations: keep them for the reference's pass. */
static void
capture(struct bn_ber *b, struct bn_ber_site *s, int layer, int kind,
    const float *x, size_t T, size_t dim)
{
	if (s->buf == NULL) {
		s->dim = dim;
		s->layer = layer;
		s->kind = kind;
		if (kind == BN_SITE_EMBED || kind == BN_SITE_FINAL)
			snprintf(s->name, sizeof s->name, "%s",
			    site_names[kind]);
		else
			snprintf(s->name, sizeof s->name, "blk.%d.%s", layer,
			    site_names[kind]);
		if (b->batch > SIZE_MAX / sizeof(float) / (dim ? dim : 1) ||
		    (s->buf = malloc(b->batch * dim * sizeof(float) +
		    1)) == NULL) {
			b->status = bn_seterr(&b->e, BN_ENOMEM,
			    "out of memory");
			return;
		}
	}
	memcpy(s->buf, x, T * dim * sizeof(float));
	s->T = T;
}

/* The student's pass keeps, the reference's compares. */
static void
ber_hook(void *ctx, int layer, int kind, const float *x, size_t T,
    size_t dim)
{
	struct bn_ber *b = ctx;
	size_t nl = (b->ns - 2) / BN_BER_PER_LAYER;
	struct bn_ber_site *s = &b->s[site_index(nl, layer, kind)];

	if (b->status != BN_OK)
		return;
	if (b->capture) {
		capture(b, s, layer, kind, x, T, dim);
		return;
	}
	if (s->buf == NULL || s->dim != dim || s->T != T) {
		b->status = bn_seterr(&b->e, BN_EFORMAT, "site %s: the "
		    "reference's activations have another shape", s->buf ?
		    s->name : site_names[kind]);
		return;
	}
	bn_ber_compare(s, s->buf, x, T, dim, b->qs, b->qr);
}

int
bn_ber_window(struct bn_ber *b, const struct bn_model *m,
    struct bn_state *sm, const struct bn_model *r, struct bn_state *sr,
    const int32_t *ids, int n, int *which)
{
	bn_state_set_hook(sm, ber_hook, b);
	bn_state_set_hook(sr, ber_hook, b);
	bn_state_reset(sm);
	bn_state_reset(sr);
	b->capture = 1;
	*which = 0;
	if (bn_forward(m, sm, ids, n, NULL, 0) != BN_OK)
		return BN_EUSAGE;
	b->capture = 0;
	*which = 1;
	if (bn_forward(r, sr, ids, n, NULL, 0) != BN_OK)
		return BN_EUSAGE;
	return b->status;
}

void
bn_ber_total(const struct bn_ber *b, struct bn_ber_site *all)
{
	const struct bn_ber_site *s;
	size_t i, k;

	memset(all, 0, sizeof *all);
	snprintf(all->name, sizeof all->name, "(all)");
	for (i = 0; i < b->ns; i++) {
		s = &b->s[i];
		all->n += s->n;
		all->sign += s->sign;
		all->code += s->code;
		all->bits += s->bits;
		all->dot += s->dot;
		all->ss += s->ss;
		all->rr += s->rr;
		all->dd += s->dd;
		all->amax_sum += s->amax_sum;
		all->tokens += s->tokens;
		for (k = 0; k < BN_ABINS; k++)
			all->ah[k] += s->ah[k];
	}
}

void
bn_ber_values(const struct bn_ber_site *s, double *v)
{
	v[BN_BER_SIGN] = s->n ? s->sign / s->n : 0;
	v[BN_BER_CODE] = s->n ? s->code / s->n : 0;
	v[BN_BER_BIT] = s->n ? s->bits / (8 * s->n) : 0;
	v[BN_BER_COSINE] = s->ss > 0 && s->rr > 0 ?
	    s->dot / sqrt(s->ss * s->rr) : s->ss == s->rr ? 1 : 0;
	v[BN_BER_REL_MSE] = s->rr > 0 ? s->dd / s->rr : s->dd > 0 ?
	    INFINITY : 0;
	v[BN_BER_SQNR] = s->dd > 0 ? 10 * log10(s->rr / s->dd) : INFINITY;
	v[BN_BER_ABSMAX] = s->tokens ? s->amax_sum / (double)s->tokens : 0;
}

void
bn_ber_abin_range(int k, double *lo, double *hi)
{
	*lo = k == 0 ? 0 : ldexp(1, k - BN_AOFF);
	*hi = k == BN_ABINS - 1 ? INFINITY : ldexp(1, k - BN_AOFF + 1);
}

void
bn_ber_rows(struct bn_table *tb, const struct bn_ber *b,
    const struct bn_ber_site *all)
{
	const struct bn_ber_site *s;
	double v[BN_BER_NCOL];
	size_t i;
	int k;

	for (i = 0; i <= b->ns; i++) {
		s = i < b->ns ? &b->s[i] : all;
		bn_ber_values(s, v);
		bn_table_put_str(tb, s->name);
		if (i < b->ns && s->kind != BN_SITE_EMBED &&
		    s->kind != BN_SITE_FINAL)
			bn_table_put_int(tb, s->layer);
		else
			bn_table_put_none(tb);
		if (i < b->ns)
			bn_table_put_int(tb, (long long)s->dim);
		else
			bn_table_put_none(tb);
		bn_table_put_int(tb, (long long)s->n);
		for (k = BN_BER_SIGN; k < BN_BER_NCOL; k++)
			bn_table_put_real(tb, v[k]);
	}
}

void
bn_ber_hist_rows(struct bn_table *tb, const struct bn_ber *b,
    const struct bn_ber_site *all)
{
	const struct bn_ber_site *s;
	double lo, hi;
	size_t i;
	int k;

	for (i = 0; i <= b->ns; i++) {
		s = i < b->ns ? &b->s[i] : all;
		for (k = 0; k < BN_ABINS; k++)
			if (s->ah[k]) {
				bn_ber_abin_range(k, &lo, &hi);
				bn_table_put_str(tb, s->name);
				bn_table_put_real(tb, lo);
				bn_table_put_real(tb, hi);
				bn_table_put_int(tb, (long long)s->ah[k]);
			}
	}
}
