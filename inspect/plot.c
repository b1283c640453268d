/* plot.c: bnstat's SVG plots: panels of bars per category (tensor or
 * site), histograms and curves, stacked in one column. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ber.h"
#include "mem.h"
#include "plot.h"
#include "stability.h"
#include "status.h"
#include "svg.h"
#include "weights.h"

#define SVG_W 900.0
#define PANEL_H 220.0
#define PANEL_TOP 56.0
#define PANEL_BOT 50.0
#define PANEL_CATBOT 90.0
#define NAME_MAX 128		/* a category label, with its NUL */

/* Bar edges for panels of up to cap bars. */
struct scratch {
	double *lo, *hi;
};

static int
scratch_new(struct scratch *sc, size_t cap)
{
	sc->lo = bn_reallocarray(NULL, cap ? cap : 1, sizeof(double));
	sc->hi = bn_reallocarray(NULL, cap ? cap : 1, sizeof(double));
	if (sc->lo == NULL || sc->hi == NULL) {
		free(sc->lo);
		free(sc->hi);
		return BN_ENOMEM;
	}
	return BN_OK;
}

static void
scratch_free(struct scratch *sc)
{
	free(sc->lo);
	free(sc->hi);
}

static double
max_of(const double *v, size_t n, double floor)
{
	double m = floor;
	size_t i;

	for (i = 0; i < n; i++)
		if (isfinite(v[i]) && v[i] > m)
			m = v[i];
	return m;
}

/* "blk.3.attn_q.weight" -> "3.attn_q": n labels in one allocation
 * (free the array), or NULL. */
static char **
short_names(const char *const *names, size_t n)
{
	char **p, *b;
	size_t i, len, size;

	if (bn_mul_size(n, sizeof *p + NAME_MAX, &size) != 0 ||
	    (p = malloc(size ? size : 1)) == NULL)
		return NULL;
	b = (char *)(p + n);
	for (i = 0; i < n; i++, b += NAME_MAX) {
		p[i] = b;
		snprintf(b, NAME_MAX, "%s", strncmp(names[i], "blk.", 4) ?
		    names[i] : names[i] + 4);
		len = strlen(b);
		if (len > 7 && strcmp(b + len - 7, ".weight") == 0)
			b[len - 7] = '\0';
	}
	return p;
}

/* A bar per category (names), one or two series side by side; the y
 * of the next panel. */
static double
cats(struct bn_svg *s, struct scratch *sc, double y, const char *title,
    const char *ylabel, const char *const *names, size_t n, const double *v1,
    const char *l1, const double *v2, const char *l2)
{
	struct bn_svg_axes a = { 70, y + PANEL_TOP, SVG_W - 100, PANEL_H,
	    0, (double)(n ? n : 1), 0, 1, title, NULL, ylabel, 1 };
	double m = max_of(v1, n, 0);
	size_t i;

	if (v2 != NULL && max_of(v2, n, 0) > m)
		m = max_of(v2, n, 0);
	a.ymax = m > 0 ? m * 1.1 : 1;
	bn_svg_axes(s, &a);
	for (i = 0; i < n; i++) {
		sc->lo[i] = (double)i + 0.1;
		sc->hi[i] = (double)i + (v2 != NULL ? 0.5 : 0.9);
	}
	bn_svg_bars(s, &a, sc->lo, sc->hi, v1, n, "#4477aa");
	if (v2 != NULL) {
		for (i = 0; i < n; i++) {
			sc->lo[i] = (double)i + 0.5;
			sc->hi[i] = (double)i + 0.9;
		}
		bn_svg_bars(s, &a, sc->lo, sc->hi, v2, n, "#ee6677");
		bn_svg_legend(s, &a, 0, "#4477aa", l1);
		bn_svg_legend(s, &a, 1, "#ee6677", l2);
	}
	bn_svg_xcats(s, &a, names, n);
	return y + PANEL_TOP + PANEL_H + PANEL_CATBOT;
}

/* A histogram over [x0, x1] with nb equal bins, marks as dashed lines;
 * the y of the next panel. */
static double
hist(struct bn_svg *s, struct scratch *sc, double y, const char *title,
    const char *xlabel, const char *ylabel, double x0, double x1,
    const double *cnt, size_t nb, const double *marks, size_t nmarks)
{
	struct bn_svg_axes a = { 70, y + PANEL_TOP, SVG_W - 100, PANEL_H,
	    x0, x1, 0, 1, title, xlabel, ylabel, 0 };
	char buf[32];
	size_t i;

	a.ymax = max_of(cnt, nb, 0) * 1.1;
	if (!(a.ymax > 0))
		a.ymax = 1;
	bn_svg_axes(s, &a);
	for (i = 0; i < nb; i++) {
		sc->lo[i] = x0 + (x1 - x0) * (double)i / (double)nb;
		sc->hi[i] = x0 + (x1 - x0) * (double)(i + 1) / (double)nb;
	}
	bn_svg_bars(s, &a, sc->lo, sc->hi, cnt, nb, "#4477aa");
	for (i = 0; i < nmarks; i++) {
		snprintf(buf, sizeof buf, "%g", marks[i]);
		bn_svg_vline(s, &a, marks[i], "#cc3311", buf);
	}
	return y + PANEL_TOP + PANEL_H + PANEL_BOT;
}

int
bn_wplot_add(struct bn_wplot *p, const char *name, const struct bn_wstat *w)
{
	size_t b, k = p->n;

	if (w->latent) {
		p->latent = 1;
		for (b = 0; b < BN_WHIST_BINS; b++)
			p->pooled[b] += w->hist[b];
	}
	if (!w->coded || w->m.n == 0)
		return BN_OK;
	if (bn_grow(&p->names, &p->capn, k + 1, sizeof *p->names) ||
	    bn_grow(&p->zero, &p->capz, k + 1, sizeof *p->zero) ||
	    bn_grow(&p->near, &p->capr, k + 1, sizeof *p->near) ||
	    (p->names[k] = strdup(name)) == NULL)
		return BN_ENOMEM;
	p->zero[k] = w->zero;
	p->near[k] = w->latent ? w->near : NAN;
	p->n++;
	return BN_OK;
}

void
bn_wplot_free(struct bn_wplot *p)
{
	size_t k;

	for (k = 0; k < p->n; k++)
		free(p->names[k]);
	free(p->names);
	free(p->zero);
	free(p->near);
	memset(p, 0, sizeof *p);
}

int
bn_plot_weights(FILE *fp, const struct bn_wplot *p)
{
	static const double marks[4] = { -1.5, -0.5, 0.5, 1.5 };
	static const double bmarks[1] = { 0 };
	double y = 0, cnt[BN_WHIST_BINS], height;
	struct scratch sc;
	struct bn_svg s;
	char **names;
	size_t i;

	if ((names = short_names((const char *const *)p->names, p->n)) ==
	    NULL)
		return BN_ENOMEM;
	if (scratch_new(&sc, p->n > BN_WHIST_BINS ? p->n : BN_WHIST_BINS)) {
		free(names);
		return BN_ENOMEM;
	}
	height = (p->latent ? PANEL_TOP + PANEL_H + PANEL_BOT : 0) +
	    (p->n ? 2 * (PANEL_TOP + PANEL_H + PANEL_CATBOT) : 0) + 20;
	bn_svg_begin(&s, fp, SVG_W, height, "bnstat: weight statistics");
	if (p->latent) {
		for (i = 0; i < BN_WHIST_BINS; i++)
			cnt[i] = (double)p->pooled[i];
		y = hist(&s, &sc, y, p->binary ? "Latent weights of the "
		    "projections, all tensors (binary: (w - mean w) / "
		    "mean |w|, threshold 0)" : "Latent weights of the "
		    "projections, all tensors (ternary thresholds at +-0.5)",
		    p->binary ? "latent weight, units of mean |w|" :
		    "latent weight w / mean|W| (absmean scale units)",
		    "weights per bin (width 0.05)", BN_WHIST_LO, BN_WHIST_HI,
		    cnt, BN_WHIST_BINS, p->binary ? bmarks : marks,
		    p->binary ? 1 : 4);
	}
	if (p->n) {
		y = cats(&s, &sc, y, "Share of zero codes per tensor",
		    "share of codes that are 0", (const char *const *)names,
		    p->n, p->zero, NULL, NULL, NULL);
		cats(&s, &sc, y, "Near-threshold mass per tensor (|u| within "
		    "0.05 of a threshold)", "share of weights",
		    (const char *const *)names, p->n, p->near, NULL, NULL,
		    NULL);
	}
	free(names);
	scratch_free(&sc);
	return bn_svg_end(&s);
}

/* The model's flip rate between consecutive checkpoints against the
 * later one's step; the y of the next panel. */
static double
flip_curve(struct bn_svg *s, const struct bn_stab *st, double y,
    double *x, double *fr)
{
	struct bn_svg_axes a;
	int p;

	for (p = 0; p + 1 < st->k; p++) {
		x[p] = st->step[p + 1];
		fr[p] = bn_stab_pair_rate(st, p);
	}
	memset(&a, 0, sizeof a);
	a.x = 70;
	a.y = y + PANEL_TOP;
	a.w = SVG_W - 100;
	a.h = PANEL_H;
	a.xmin = st->step[0];
	a.xmax = st->step[st->k - 1];
	if (!(a.xmax > a.xmin))
		a.xmax = a.xmin + 1;
	a.ymin = 0;
	a.ymax = max_of(fr, (size_t)st->k - 1, 0) * 1.1;
	if (!(a.ymax > 0))
		a.ymax = 1;
	a.title = "Flip curve: model flip rate between consecutive "
	    "checkpoints";
	a.xlabel = st->have_steps ? "training step (train.step of the later "
	    "checkpoint)" : "checkpoint number (no train.step: assumed "
	    "equally spaced)";
	a.ylabel = "flipped share of weights";
	bn_svg_axes(s, &a);
	bn_svg_line(s, &a, x, fr, (size_t)st->k - 1, "#4477aa");
	return y + PANEL_TOP + PANEL_H + PANEL_BOT;
}

int
bn_plot_stability(FILE *fp, const struct bn_stab *st, double *const *vals,
    const uint64_t *fh)
{
	double y = 0, height, *soft, *hard, *x, *fr, cnt[BN_FLIP_BINS], tot;
	char **names, bins[BN_FLIP_BINS][48];
	const char *bp[BN_FLIP_BINS];
	size_t i, nt = st->nt, k = (size_t)st->k;
	const char **full;
	struct scratch sc;
	struct bn_svg s;
	long long lo, hi;
	int nb = 0;

	if ((full = bn_reallocarray(NULL, nt ? nt : 1, sizeof *full)) ==
	    NULL)
		return BN_ENOMEM;
	for (i = 0; i < nt; i++)
		full[i] = st->t[i].name;
	names = short_names(full, nt);
	free(full);
	soft = bn_reallocarray(NULL, 2 * (nt ? nt : 1) + 2 * k,
	    sizeof *soft);
	if (names == NULL || soft == NULL || scratch_new(&sc, nt >
	    BN_FLIP_BINS ? nt : BN_FLIP_BINS) != BN_OK) {
		free(names);
		free(soft);
		return BN_ENOMEM;
	}
	hard = soft + (nt ? nt : 1);
	x = hard + (nt ? nt : 1);
	fr = x + k;
	for (i = 0; i < nt; i++) {
		soft[i] = vals[i][BN_STAB_SOFT];
		hard[i] = vals[i][BN_STAB_HARD];
	}
	for (i = 0; i < BN_FLIP_BINS; i++)
		if (fh[i])
			nb = (int)i + 1;
	height = 3 * (PANEL_TOP + PANEL_H) + 2 * PANEL_CATBOT + PANEL_BOT + 20;
	bn_svg_begin(&s, fp, SVG_W, height,
	    "bnstat --stability: code flips across checkpoints");
	y = cats(&s, &sc, y, "Flip rate per tensor (mean over consecutive "
	    "checkpoints)", "share of weights per interval",
	    (const char *const *)names, nt, soft, "soft (+-1 <-> 0)", hard,
	    "hard (-1 <-> +1)");
	y = flip_curve(&s, st, y, x, fr);
	tot = 0;
	for (i = 0; i < BN_FLIP_BINS; i++)
		tot += (double)fh[i];
	for (i = 0; i < (size_t)nb; i++) {
		cnt[i] = tot > 0 ? (double)fh[i] / tot : 0;
		bn_flip_bin_range((int)i, &lo, &hi);
		if (lo == hi)
			snprintf(bins[i], sizeof bins[i], "%lld", lo);
		else
			snprintf(bins[i], sizeof bins[i], "%lld-%lld", lo, hi);
		bp[i] = bins[i];
	}
	y = cats(&s, &sc, y, "Flips per weight over the run", "share of "
	    "weights", bp, (size_t)nb, cnt, NULL, NULL, NULL);
	bn_svg_text(&s, SVG_W / 2, y - 14, 11, "middle", "flips of a weight "
	    "between consecutive checkpoints, summed over the run");
	free(names);
	free(soft);
	scratch_free(&sc);
	return bn_svg_end(&s);
}

/* The per-token absmax of the student's activations, all sites, over
 * the bins that have any. */
static void
absmax_hist(struct bn_svg *s, const struct bn_ber *b, double y)
{
	struct bn_svg_axes a = { 70, 0, SVG_W - 100, PANEL_H, BN_AOFF - 0.0,
	    0, 0, 1, NULL, NULL, NULL, 0 };
	double cnt[BN_ABINS], lo[BN_ABINS], hi[BN_ABINS], tot = 0;
	int k, klo = BN_ABINS, khi = 0;
	size_t i;

	memset(cnt, 0, sizeof cnt);
	for (i = 0; i < b->ns; i++)
		for (k = 0; k < BN_ABINS; k++)
			cnt[k] += (double)b->s[i].ah[k];
	for (k = 0; k < BN_ABINS; k++)
		if (cnt[k] > 0) {
			klo = k < klo ? k : klo;
			khi = k > khi ? k : khi;
			tot += cnt[k];
		}
	if (klo > khi)
		klo = khi = BN_AOFF;
	a.y = y + PANEL_TOP;
	a.xmin = klo - BN_AOFF;
	a.xmax = khi - BN_AOFF + 1;
	a.title = "Per-token absmax of the student's activations, all sites";
	a.xlabel = "log2 of the per-token absmax";
	a.ylabel = "share of token rows";
	for (k = 0; k < BN_ABINS; k++) {
		cnt[k] = tot > 0 ? cnt[k] / tot : 0;
		lo[k] = (double)k - BN_AOFF;
		hi[k] = (double)k - BN_AOFF + 1;
	}
	a.ymax = max_of(cnt, BN_ABINS, 0) * 1.1;
	if (!(a.ymax > 0))
		a.ymax = 1;
	bn_svg_axes(s, &a);
	bn_svg_bars(s, &a, lo + klo, hi + klo, cnt + klo,
	    (size_t)(khi - klo + 1), "#4477aa");
}

int
bn_plot_ber(FILE *fp, const struct bn_ber *b)
{
	double y = 0, height, *v1, *v2, *cs, v[BN_BER_NCOL];
	size_t i, n = b->ns;
	struct scratch sc;
	struct bn_svg s;
	const char **names;

	names = bn_reallocarray(NULL, n ? n : 1, sizeof *names);
	v1 = bn_reallocarray(NULL, 3 * (n ? n : 1), sizeof *v1);
	if (names == NULL || v1 == NULL || scratch_new(&sc, n) != BN_OK) {
		free(names);
		free(v1);
		return BN_ENOMEM;
	}
	v2 = v1 + n;
	cs = v2 + n;
	for (i = 0; i < n; i++) {
		names[i] = b->s[i].name;
		bn_ber_values(&b->s[i], v);
		v1[i] = v[BN_BER_SIGN];
		v2[i] = v[BN_BER_CODE];
		cs[i] = v[BN_BER_COSINE];
	}
	height = 2 * (PANEL_TOP + PANEL_H + PANEL_CATBOT) + PANEL_TOP +
	    PANEL_H + PANEL_BOT + 20;
	bn_svg_begin(&s, fp, SVG_W, height,
	    "bnstat --ber: activation errors against the float reference");
	y = cats(&s, &sc, y, "Bit-error rates per site (student against "
	    "reference)", "error rate (share of elements)", names, n, v1,
	    "sign BER", v2, "int8 code error rate");
	y = cats(&s, &sc, y, "Cosine similarity per site", "cosine similarity",
	    names, n, cs, NULL, NULL, NULL);
	absmax_hist(&s, b, y);
	free(names);
	free(v1);
	scratch_free(&sc);
	return bn_svg_end(&s);
}
