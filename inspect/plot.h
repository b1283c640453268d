/* plot.h: bnstat's plots, each a self-contained SVG document written to
 * a stream the caller opened.  Each returns BN_OK, BN_ENOMEM (before
 * writing anything) or BN_EIO (the stream had an error). */
#ifndef BN_PLOT_H
#define BN_PLOT_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "ber.h"
#include "stability.h"
#include "weights.h"

/* The report's plots: the pooled latent histogram, and per tensor with
 * codes the share of zero codes and the near-threshold mass. */
struct bn_wplot {
	uint64_t pooled[BN_WHIST_BINS];	/* of all latent weights */
	int latent;		/* any: the histogram panel */
	int binary;		/* how the latent weights were coded */
	char **names;		/* tensor names */
	double *zero, *near;	/* near: NaN for packed tensors */
	size_t n, capn, capz, capr;
};

/* Add a tensor's statistics (one with codes and elements); BN_OK or
 * BN_ENOMEM.  Free with bn_wplot_free. */
int bn_wplot_add(struct bn_wplot *p, const char *name,
    const struct bn_wstat *w);
void bn_wplot_free(struct bn_wplot *p);
int bn_plot_weights(FILE *fp, const struct bn_wplot *p);
/* Soft and hard flip rates per tensor (from vals, bn_stab_values rows),
 * the flip curve, and the flips per weight (fh: BN_FLIP_BINS counts). */
int bn_plot_stability(FILE *fp, const struct bn_stab *s,
    double *const *vals, const uint64_t *fh);
/* Error rates and cosine per site, and the per-token absmax. */
int bn_plot_ber(FILE *fp, const struct bn_ber *b);

#endif
