/* stability.c: code transitions, flips and oscillations across
 * checkpoints. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "bnt.h"
#include "mem.h"
#include "stability.h"
#include "status.h"
#include "table.h"
#include "weights.h"

const char *const bn_stab_cols[BN_STAB_NCOL] = {
	"name", "n", "flip_rate", "stability", "soft", "hard",
	"m_nn", "m_nz", "m_np", "m_zn", "m_zz", "m_zp", "m_pn", "m_pz", "m_pp",
	"scale_drift", "stability_first_last", "flips_per_1k", "osc_per_1k",
	"osc_ema", "osc_share", "never_flipped"
};
const char *const bn_flip_cols[4] = { "name", "bin_lo", "bin_hi", "count" };

int
bn_stab_init(struct bn_stab *s, int k, double momentum)
{
	memset(s, 0, sizeof *s);
	s->k = k;
	s->momentum = momentum;
	s->have_steps = 1;
	if ((s->step = calloc(k > 0 ? (size_t)k : 1, sizeof *s->step)) == NULL)
		return BN_ENOMEM;
	return BN_OK;
}

static void
tensor_free(struct bn_stab_tensor *t)
{
	free(t->name);
	free(t->prev);
	free(t->first);
	free(t->dir);
	free(t->flips);
	free(t->osc);
	free(t->f);
	free(t->pair);
}

void
bn_stab_free(struct bn_stab *s)
{
	size_t i;

	for (i = 0; i < s->nt; i++)
		tensor_free(&s->t[i]);
	free(s->t);
	free(s->step);
	memset(s, 0, sizeof *s);
}

/* A new tensor's arrays, zeroed; BN_OK or BN_ENOMEM. */
static int
tensor_new(struct bn_stab *s, const char *name, uint64_t n)
{
	struct bn_stab_tensor *t;
	size_t m = n ? (size_t)n : 1;

	if (n > SIZE_MAX / 4 || bn_grow(&s->t, &s->cap, s->nt + 1,
	    sizeof *s->t) != 0)
		return BN_ENOMEM;
	t = &s->t[s->nt];
	memset(t, 0, sizeof *t);
	t->n = n;
	t->seen = -1;
	t->name = strdup(name);
	t->prev = calloc(m, 1);
	t->first = calloc(m, 1);
	t->dir = calloc(m, 1);
	t->flips = calloc(m, 2);
	t->osc = calloc(m, 2);
	t->f = calloc(m, 4);
	t->pair = calloc((size_t)s->k, sizeof *t->pair);
	if (t->name == NULL || t->prev == NULL || t->first == NULL ||
	    t->dir == NULL || t->flips == NULL || t->osc == NULL ||
	    t->f == NULL || t->pair == NULL) {
		tensor_free(t);
		return BN_ENOMEM;
	}
	s->nt++;
	return BN_OK;
}

/* The tensor name of checkpoint ck, checked, in *out. */
static int
slot(struct bn_stab *s, int ck, const char *name, uint64_t n,
    struct bn_stab_tensor **out, struct bn_err *e)
{
	struct bn_stab_tensor *t = NULL;
	size_t i;
	int st;

	for (i = 0; i < s->nt && t == NULL; i++)
		if (strcmp(s->t[i].name, name) == 0)
			t = &s->t[i];
	if (t == NULL) {
		if (ck > 0)
			return bn_seterr(e, BN_EFORMAT, "tensor '%s' is not in "
			    "the first checkpoint", name);
		if ((st = tensor_new(s, name, n)) != BN_OK)
			return bn_seterr(e, st, "out of memory");
		t = &s->t[s->nt - 1];
	}
	if (t->seen == ck)
		return bn_seterr(e, BN_EFORMAT, "tensor '%s' appears twice",
		    name);
	if (t->n != n)
		return bn_seterr(e, BN_EFORMAT, "tensor '%s': %llu elements, "
		    "%llu in the first checkpoint", name,
		    (unsigned long long)n, (unsigned long long)t->n);
	t->seen = ck;
	*out = t;
	return BN_OK;
}

/* Count the moves from the previous codes to these. */
static void
update(struct bn_stab *s, struct bn_stab_tensor *t, int ck,
    const int8_t *code, double delta)
{
	double m = s->momentum;
	int a, b, d, osc;
	uint64_t i;

	if (ck == 0) {
		memcpy(t->prev, code, (size_t)t->n);
		memcpy(t->first, code, (size_t)t->n);
		t->delta0 = t->delta = delta;
		return;
	}
	for (i = 0; i < t->n; i++) {
		a = t->prev[i];
		b = code[i];
		t->m[a + 1][b + 1]++;
		osc = 0;
		if (a != b) {
			t->flips[i] += t->flips[i] < UINT16_MAX;
			t->pair[ck - 1]++;
			d = b > a ? 1 : -1;
			if (t->dir[i] == -d) {
				osc = 1;
				t->osc[i] += t->osc[i] < UINT16_MAX;
			}
			t->dir[i] = (int8_t)d;
		}
		t->f[i] = (float)(m * osc + (1 - m) * t->f[i]);
		t->prev[i] = (int8_t)b;
	}
	t->delta = delta;
}

int
bn_stab_add(struct bn_stab *s, int ck, const char *name,
    const int8_t *code, uint64_t n, double delta, struct bn_err *e)
{
	struct bn_stab_tensor *t;
	int st;

	if ((st = slot(s, ck, name, n, &t, e)) == BN_OK)
		update(s, t, ck, code, delta);
	return st;
}

int
bn_stab_add_tensor(struct bn_stab *s, int ck, const struct bnt_tensor *t,
    const unsigned char *data, int binary, struct bn_err *e)
{
	struct bn_stab_tensor *st;
	struct bn_codes c;
	int rc;

	if ((rc = slot(s, ck, t->name, t->nelem, &st, e)) != BN_OK)
		return rc;
	if ((rc = bn_tensor_codes(t, data, binary, 0, &c)) == BN_EFORMAT)
		return bn_seterr(e, rc, "tensor '%s': invalid packed code",
		    t->name);
	if (rc != BN_OK)
		return bn_seterr(e, rc, "out of memory");
	update(s, st, ck, c.code, c.delta);
	bn_codes_free(&c);
	return BN_OK;
}

int
bn_stab_check(const struct bn_stab *s, int ck, struct bn_err *e)
{
	size_t i;

	if (ck == 0 && s->nt == 0)
		return bn_seterr(e, BN_EFORMAT, "no ternary or binary weights "
		    "(packed, or float projections)");
	for (i = 0; i < s->nt; i++)
		if (s->t[i].seen != ck)
			return bn_seterr(e, BN_EFORMAT, "tensor '%s' is "
			    "missing", s->t[i].name);
	return BN_OK;
}

double
bn_stab_finish(struct bn_stab *s)
{
	int ck;

	for (ck = 1; ck < s->k && s->have_steps; ck++)
		if (!(s->step[ck] > s->step[ck - 1]))
			s->have_steps = 0;
	if (!s->have_steps)
		for (ck = 0; ck < s->k; ck++)
			s->step[ck] = ck;
	return s->step[s->k - 1] - s->step[0];
}

void
bn_stab_values(const struct bn_stab *s, size_t i, double steps, double *v)
{
	const struct bn_stab_tensor *t = &s->t[i];
	const uint64_t (*m)[3] = t->m;
	double pairs = (double)(s->k - 1), n = (double)t->n, tot, fsum = 0;
	uint64_t fl = 0, os = 0, nev = 0, same = 0, any = 0, j;
	int a, b;

	for (j = 0; j < t->n; j++) {
		fl += t->flips[j];
		os += t->osc[j];
		nev += t->flips[j] == 0;
		any += t->osc[j] > 0;
		same += t->first[j] == t->prev[j];
		fsum += t->f[j];
	}
	v[BN_STAB_N] = n;
	tot = n * pairs;
	v[BN_STAB_FLIP_RATE] = tot > 0 ? (double)fl / tot : 0;
	v[BN_STAB_STABILITY] = 1 - v[BN_STAB_FLIP_RATE];
	/* soft: +-1 <-> 0; hard: -1 <-> +1 */
	v[BN_STAB_SOFT] = tot > 0 ? (double)(m[0][1] + m[1][0] + m[1][2] +
	    m[2][1]) / tot : 0;
	v[BN_STAB_HARD] = tot > 0 ? (double)(m[0][2] + m[2][0]) / tot : 0;
	for (a = 0; a < 3; a++)
		for (b = 0; b < 3; b++)
			v[BN_STAB_M + 3 * a + b] = tot > 0 ?
			    (double)m[a][b] / tot : 0;
	v[BN_STAB_SCALE_DRIFT] = t->delta0 != 0 ? t->delta / t->delta0 : NAN;
	v[BN_STAB_FIRST_LAST] = n > 0 ? (double)same / n : 1;
	if (s->k >= 3 && n > 0) {
		v[BN_STAB_FLIPS_1K] = (double)fl / n / steps * 1000;
		v[BN_STAB_OSC_1K] = (double)os / n / steps * 1000;
		v[BN_STAB_OSC_EMA] = fsum / n;
		v[BN_STAB_OSC_SHARE] = (double)any / n;
		v[BN_STAB_NEVER] = (double)nev / n;
	} else
		v[BN_STAB_FLIPS_1K] = v[BN_STAB_OSC_1K] = v[BN_STAB_OSC_EMA] =
		    v[BN_STAB_OSC_SHARE] = v[BN_STAB_NEVER] = NAN;
}

void
bn_stab_totals(const struct bn_stab *s, double *const *vals, double *all,
    double *mean)
{
	double wsum = 0, n;
	size_t i, j;

	memset(all, 0, BN_STAB_NCOL * sizeof *all);
	memset(mean, 0, BN_STAB_NCOL * sizeof *mean);
	for (i = 0; i < s->nt; i++) {
		n = (double)s->t[i].n;
		wsum += n;
		for (j = BN_STAB_N; j < BN_STAB_NCOL; j++) {
			all[j] += vals[i][j] * (j == BN_STAB_N ? 1 : n);
			mean[j] += vals[i][j] / (double)s->nt;
		}
	}
	for (j = BN_STAB_FLIP_RATE; j < BN_STAB_NCOL; j++)
		all[j] = wsum > 0 ? all[j] / wsum : 0;
	mean[BN_STAB_N] = all[BN_STAB_N];
}

void
bn_stab_row(struct bn_table *tb, const char *name, const double *v, int k)
{
	int i;

	bn_table_put_str(tb, name);
	bn_table_put_int(tb, (long long)v[BN_STAB_N]);
	for (i = BN_STAB_FLIP_RATE; i < BN_STAB_NCOL; i++)
		if (isnan(v[i]) || (i >= BN_STAB_FLIPS_1K && k < 3))
			bn_table_put_none(tb);
		else
			bn_table_put_real(tb, v[i]);
}

int
bn_flip_bin(uint32_t c)
{
	int b = 0;

	if (c <= 2)
		return (int)c;
	for (c -= 1; c > 1; c >>= 1)
		b++;
	return b + 2;
}

void
bn_flip_bin_range(int b, long long *lo, long long *hi)
{
	if (b <= 2) {
		*lo = *hi = b;
		return;
	}
	*lo = (1LL << (b - 2)) + 1;
	*hi = 1LL << (b - 1);
}

void
bn_flip_rows(struct bn_table *tb, const char *name, const uint64_t *h)
{
	long long lo, hi;
	int b;

	for (b = 0; b < BN_FLIP_BINS; b++)
		if (h[b] != 0) {
			bn_flip_bin_range(b, &lo, &hi);
			bn_table_put_str(tb, name);
			bn_table_put_int(tb, lo);
			bn_table_put_int(tb, hi);
			bn_table_put_int(tb, (long long)h[b]);
		}
}

void
bn_stab_flip_hist(const struct bn_stab *s, size_t i, uint64_t *h)
{
	const struct bn_stab_tensor *t = &s->t[i];
	uint64_t j;

	for (j = 0; j < t->n; j++)
		h[bn_flip_bin(t->flips[j])]++;
}

double
bn_stab_pair_rate(const struct bn_stab *s, int p)
{
	uint64_t f = 0, n = 0;
	size_t i;

	for (i = 0; i < s->nt; i++) {
		f += s->t[i].pair[p];
		n += s->t[i].n;
	}
	return n ? (double)f / (double)n : 0;
}
