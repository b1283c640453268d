/* weights.h: statistics of one tensor's weights: moments, the codes
 * -1, 0, +1 a BitLinear weight has in the forward pass, their shares,
 * and the histogram of float master weights in latent units. */
#ifndef BN_WEIGHTS_H
#define BN_WEIGHTS_H

#include <stdint.h>

#include "bnt.h"
#include "status.h"
#include "table.h"

/* latent histogram: [-3, 3] in steps of 0.05 */
#define BN_WHIST_BINS 120
#define BN_WHIST_LO (-3.0)
#define BN_WHIST_HI 3.0

/* Moments of the values that are not NaN, summed in double; std is
 * the population one (divisor n - nan).  NaN if all are NaN. */
struct bn_moments {
	uint64_t n, nan;
	double mean, std, min, max;
};

void bn_moments_f32(const float *v, uint64_t n, struct bn_moments *m);

/* Does the tensor have codes: packed (t2, t3, b1: the dtype's
 * is_packed), or a float projection the loader codes (2-D, unscaled);
 * never an optimizer state ("optim.")? */
int bn_has_codes(const struct bnt_tensor *t);

/* All elements as floats, scales applied, as the loader computes them,
 * into *out (malloc'd).  BN_OK, BN_EFORMAT (an invalid packed code or
 * an unknown dtype) or BN_ENOMEM; *out is NULL on error. */
int bn_tensor_values(const struct bnt_tensor *t, const unsigned char *data,
    float **out);
/* The value of a code of 1: 1/s for divisors, s otherwise; the mean
 * over the tensor's scales, 1 if it has none. */
double bn_unit_scale(const struct bnt_tensor *t, const unsigned char *data);

/* The codes of a tensor with codes: packed ones as stored; float
 * master weights through model/quant.h's quantizer over the whole
 * tensor, ternary (absmean) or binary (sign of w - mean), as the
 * loader does.  Latent units: u = (w - alpha) * s. */
struct bn_codes {
	int8_t *code;		/* nelem codes */
	float *lat;		/* the float weights, if asked for, else NULL */
	double delta;		/* the value of a code of 1 */
	float s;		/* to latent units; 0 for packed */
	float alpha;		/* binary: the mean; else 0 */
};

/* BN_OK, BN_EFORMAT (an invalid packed code) or BN_ENOMEM; c holds
 * nothing to free on error. */
int bn_tensor_codes(const struct bnt_tensor *t, const unsigned char *data,
    int binary, int want_lat, struct bn_codes *c);
void bn_codes_free(struct bn_codes *c);

/* One tensor's row of bnstat's report. */
struct bn_wstat {
	struct bn_moments m;
	int coded;		/* bn_has_codes: the four below are set */
	double neg, zero, pos;	/* shares of the codes (0 if empty) */
	double delta;
	int latent;		/* float master weights: near and hist set */
	double near;		/* share with u within 0.05 of a threshold */
	uint64_t hist[BN_WHIST_BINS];	/* of u; out of range left out */
};

/* BN_OK, BN_EFORMAT ("tensor 'NAME': invalid packed code" in e) or
 * BN_ENOMEM. */
int bn_weight_stats(const struct bnt_tensor *t, const unsigned char *data,
    int binary, struct bn_wstat *w, struct bn_err *e);

/* The report's columns: file, name, dtype, shape, count, moments, code
 * shares, scale (delta), near; empty cells where a value is undefined. */
#define BN_WSTAT_NCOL 14
extern const char *const bn_wstat_cols[BN_WSTAT_NCOL];
void bn_wstat_row(struct bn_table *tb, const char *file,
    const struct bnt_tensor *t, const struct bn_wstat *w);
/* The latent histogram's rows: file, name, bin_lo, bin_hi, count. */
#define BN_WHIST_NCOL 5
extern const char *const bn_whist_cols[BN_WHIST_NCOL];
void bn_whist_rows(struct bn_table *tb, const char *file, const char *name,
    const uint64_t *hist);

#endif
