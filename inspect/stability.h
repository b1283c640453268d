/* stability.h: how the codes of ternary or binary weights change
 * across k checkpoints in training order: the transition matrix, flips
 * and oscillations (a flip back against the last one) per weight, and
 * an EMA of oscillations.  The formulas are in bnstat(1). */
#ifndef BN_STABILITY_H
#define BN_STABILITY_H

#include <stddef.h>
#include <stdint.h>

#include "bnt.h"
#include "status.h"
#include "table.h"

struct bn_stab_tensor {
	char *name;
	uint64_t n;
	int8_t *prev, *first, *dir;	/* dir: last non-zero direction */
	uint16_t *flips, *osc;		/* per weight, saturating */
	float *f;			/* oscillation EMA */
	uint64_t m[3][3];		/* [from + 1][to + 1], over pairs */
	uint64_t *pair;			/* flips per consecutive pair */
	double delta0, delta;		/* value of a code of 1 */
	int seen;			/* last checkpoint it was in */
};

struct bn_stab {
	struct bn_stab_tensor *t;
	size_t nt, cap;
	int k;				/* checkpoints */
	double momentum;		/* of the EMA */
	double *step;			/* train.step of each checkpoint */
	int have_steps;			/* 0: some checkpoint had none */
};

/* BN_OK or BN_ENOMEM.  The caller sets step[ck], or clears have_steps,
 * for each checkpoint. */
int bn_stab_init(struct bn_stab *s, int k, double momentum);
void bn_stab_free(struct bn_stab *s);

/* Add checkpoint ck's codes of one tensor (checkpoints in order, from
 * 0; every tensor of checkpoint 0 in each later one, once).  BN_OK,
 * BN_EFORMAT with a detail in e (a new tensor after checkpoint 0, one
 * seen twice, another element count) or BN_ENOMEM. */
int bn_stab_add(struct bn_stab *s, int ck, const char *name,
    const int8_t *code, uint64_t n, double delta, struct bn_err *e);
/* The same for a tensor with codes (bn_has_codes), coded as
 * bn_tensor_codes does; BN_EFORMAT also for an invalid packed code. */
int bn_stab_add_tensor(struct bn_stab *s, int ck, const struct bnt_tensor *t,
    const unsigned char *data, int binary, struct bn_err *e);
/* After checkpoint ck: BN_OK, or BN_EFORMAT if a tensor is missing
 * (or checkpoint 0 had none). */
int bn_stab_check(const struct bn_stab *s, int ck, struct bn_err *e);
/* After the last checkpoint: unless the steps increase, number the
 * checkpoints 0, 1, ... and clear have_steps.  The steps spanned. */
double bn_stab_finish(struct bn_stab *s);

/* The columns of a row; NAME is text, the rest bn_stab_values. */
enum bn_stab_col {
	BN_STAB_NAME, BN_STAB_N, BN_STAB_FLIP_RATE, BN_STAB_STABILITY,
	BN_STAB_SOFT, BN_STAB_HARD,
	BN_STAB_M,		/* 9 columns m_nn .. m_pp: from * 3 + to */
	BN_STAB_SCALE_DRIFT = BN_STAB_M + 9, BN_STAB_FIRST_LAST,
	BN_STAB_FLIPS_1K,	/* this and the rest need 3+ checkpoints */
	BN_STAB_OSC_1K, BN_STAB_OSC_EMA, BN_STAB_OSC_SHARE, BN_STAB_NEVER,
	BN_STAB_NCOL
};
extern const char *const bn_stab_cols[BN_STAB_NCOL];

/* Row of tensor i (v[BN_STAB_NAME] unused; NaN where undefined). */
void bn_stab_values(const struct bn_stab *s, size_t i, double steps,
    double *v);
/* Put a row v of k checkpoints (NaN, and the 3-checkpoint columns for
 * fewer, as empty cells). */
void bn_stab_row(struct bn_table *tb, const char *name, const double *v,
    int k);
/* The "(all)" row (weighted by elements) and the "(mean)" row (mean
 * over tensors) of the nt rows vals[i]. */
void bn_stab_totals(const struct bn_stab *s, double *const *vals,
    double *all, double *mean);

/* log2 bins of a weight's flip count: 0, 1, 2, 3-4, 5-8, ... */
#define BN_FLIP_BINS 34
int bn_flip_bin(uint32_t c);
void bn_flip_bin_range(int b, long long *lo, long long *hi);
/* The histogram's rows: name, bin_lo, bin_hi, count, non-empty bins. */
extern const char *const bn_flip_cols[4];
void bn_flip_rows(struct bn_table *tb, const char *name, const uint64_t *h);
/* Add tensor i's flip counts into h[BN_FLIP_BINS]. */
void bn_stab_flip_hist(const struct bn_stab *s, size_t i, uint64_t *h);
/* The model's flipped share between checkpoints p and p + 1. */
double bn_stab_pair_rate(const struct bn_stab *s, int p);

#endif
