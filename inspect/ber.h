/* ber.h: error rates of a quantized model's activations against a
 * float reference, per site (embedding, each BitLinear input, each
 * layer's output, final norm): the sign bit-error rate, the int8 code
 * error rate and bit-error rate (per-token absmax codes, as BitLinear
 * quantizes its inputs), cosine similarity, relative MSE, SQNR and the
 * histogram of per-token absmax.  The formulas are in bnstat(1). */
#ifndef BN_BER_H
#define BN_BER_H

#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "status.h"
#include "table.h"

struct bn_model;
struct bn_state;

/* per-token absmax: bin k holds [2^(k-20), 2^(k-19)); the first and
 * last bins take everything below and above */
#define BN_ABINS 40
#define BN_AOFF 20
#define BN_BER_PER_LAYER 5	/* sites of a layer */

struct bn_ber_site {
	char name[48];		/* "embed", "blk.3.qkv_in", "final", "(all)" */
	int layer, kind;	/* enum bn_site */
	size_t dim;
	float *buf;		/* the student's activations, [T][dim] */
	size_t T;
	double n, sign, code, bits, dot, ss, rr, dd, amax_sum;
	uint64_t tokens, ah[BN_ABINS];
};

/* Both models run the same tokens, the student first (capture set),
 * then the reference (capture clear); the hook keeps the student's
 * activations and compares the reference's with them. */
struct bn_ber {
	struct bn_ber_site *s;	/* ns = 2 + 5 * layers, in forward order */
	size_t ns, batch, maxd;
	int8_t *qs, *qr;	/* int8 codes of a row, maxd each */
	int capture;		/* 1: the student's pass */
	int status;		/* BN_OK, or what stopped the hook */
	struct bn_err e;
};

/* For a student and a reference of the same layers, up to batch tokens
 * a pass: BN_OK or BN_ENOMEM. */
int bn_ber_init(struct bn_ber *b, const struct bn_config *student,
    const struct bn_config *ref, size_t batch);
void bn_ber_free(struct bn_ber *b);
/* Run n tokens (n <= batch) through the student (sm) and then the
 * reference (sr), each from an empty cache, with a hook on both states
 * that compares them site by site.  BN_OK; BN_EUSAGE if a forward pass
 * refused them (a token id out of range), *which saying whose (0 the
 * student, 1 the reference); or what stopped the hook: BN_EFORMAT (the
 * reference's activations have another shape) or BN_ENOMEM, with a
 * detail in b->e. */
int bn_ber_window(struct bn_ber *b, const struct bn_model *m,
    struct bn_state *sm, const struct bn_model *r, struct bn_state *sr,
    const int32_t *ids, int n, int *which);
/* Add T rows of student activations a against reference r into s;
 * qs and qr hold dim codes each. */
void bn_ber_compare(struct bn_ber_site *s, const float *a, const float *r,
    size_t T, size_t dim, int8_t *qs, int8_t *qr);
/* All sites summed, named "(all)". */
void bn_ber_total(const struct bn_ber *b, struct bn_ber_site *all);

/* The columns of a row; bn_ber_values fills SIGN to ABSMAX. */
enum bn_ber_col {
	BN_BER_SITE, BN_BER_LAYER, BN_BER_DIM, BN_BER_N,
	BN_BER_SIGN, BN_BER_CODE, BN_BER_BIT, BN_BER_COSINE, BN_BER_REL_MSE,
	BN_BER_SQNR, BN_BER_ABSMAX,
	BN_BER_NCOL
};
extern const char *const bn_ber_cols[BN_BER_NCOL];
void bn_ber_values(const struct bn_ber_site *s, double *v);
/* The range of absmax bin k: [*lo, *hi). */
void bn_ber_abin_range(int k, double *lo, double *hi);
/* A row per site, then all's (no layer or dim). */
void bn_ber_rows(struct bn_table *tb, const struct bn_ber *b,
    const struct bn_ber_site *all);
/* The absmax histograms' rows: site, bin_lo, bin_hi, count, of the
 * non-empty bins of each site, then of all. */
extern const char *const bn_ber_hcols[4];
void bn_ber_hist_rows(struct bn_table *tb, const struct bn_ber *b,
    const struct bn_ber_site *all);

#endif
