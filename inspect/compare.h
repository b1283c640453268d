/* compare.h: a stream's tensors against a reference stream's
 * (bnverify --against): the largest and RMS difference, the cosine and
 * the share of ternary or binary codes that agree; and the pieces of
 * the model-against-reference check (bnverify --model): a set of
 * reference tensors, the hidden states a forward pass goes through. */
#ifndef BN_COMPARE_H
#define BN_COMPARE_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "bnt.h"
#include "status.h"

struct bn_report;	/* check.h */

/* A tensor kept for comparison or for the architecture check. */
struct bn_held {
	struct bnt_tensor t;	/* t.name is name */
	char *name;
	float *val;		/* dequantized values, or NULL */
	int8_t *code;		/* packed codes, or NULL */
	int seen;		/* matched in the checked stream */
};

struct bn_tset {
	struct bn_held *v;
	size_t n, cap;
};

struct bn_held *bn_tset_find(const struct bn_tset *ts, const char *name);
/* Add a copy of t's header (not its values) as *h: BN_OK or
 * BN_ENOMEM.  *h is valid until the next add. */
int bn_tset_add(struct bn_tset *ts, const struct bnt_tensor *t,
    struct bn_held **h);
void bn_tset_free(struct bn_tset *ts);

/* Fill h->val with a record's values, scales applied, and h->code with
 * the codes of a packed tensor.  BN_OK, BN_EFORMAT (an invalid code) or
 * BN_ENOMEM. */
int bn_hold_values(struct bn_held *h, const struct bnt_record *rec);

/* One tensor's comparison. */
struct bn_cmp {
	char *name;
	double max_abs, rms, cosine;
	double agree;		/* share of equal codes; < 0: n/a */
	int fail;		/* max_abs over the tolerance */
};

/* The share of codes of packed tensor pk that the float reference ref
 * gets when quantized as bnquant does (ternary absmean or binary sign
 * over the whole tensor), into *agree.  BN_OK or BN_ENOMEM. */
int bn_code_agreement(const struct bn_held *ref, const struct bn_held *pk,
    double *agree);
/* Compare cur with ref (same element count) into c (c->name and
 * c->fail untouched).  BN_OK or BN_ENOMEM. */
int bn_compare_values(const struct bn_held *ref, const struct bn_held *cur,
    struct bn_cmp *c);
/* Compare a record with its reference tensor and add the result to
 * rep->c; a shape that differs, or a difference over tol (tol < 0:
 * none), is a problem in rep.  A record with an invalid code is left
 * to the invariant check.  BN_OK or BN_ENOMEM. */
int bn_compare(struct bn_report *rep, double tol, const struct bn_held *ref,
    const struct bnt_record *rec);

/* Read every tensor of the bnt stream fp (called name in messages)
 * into ref with its values.  BN_OK, BN_EFORMAT (a duplicate name, an
 * invalid code, a damaged stream), BN_EIO or BN_ENOMEM, with a detail
 * in e. */
int bn_load_reference(FILE *fp, const char *name, struct bn_tset *ref,
    struct bn_err *e);

/* Tensors of a reference file (--model --reference), by name. */
struct bn_reftensor {
	struct bnt_tensor t;	/* t.name is malloc'd */
	unsigned char *data;
};

struct bn_refset {
	struct bn_reftensor *v;
	size_t n, cap;
};

/* A bn_sink tensor callback that keeps a copy in ctx, a bn_refset. */
int bn_refset_tensor(void *ctx, const struct bnt_tensor *t, const void *data,
    const void *scales);
/* The tensor called name into *t and *data (NULL if there is none):
 * BN_OK, or BN_EFORMAT if its dtype is not dtype. */
int bn_refset_get(const struct bn_refset *r, const char *name, int dtype,
    const struct bnt_tensor **t, const unsigned char **data,
    struct bn_err *e);
void bn_refset_free(struct bn_refset *r);

/* The index of the largest of l[0..n) (the first of equals). */
size_t bn_argmax(const float *l, size_t n);
/* The largest |a[i] - b[i]|.  A NaN difference replaces the largest
 * so far but the next difference replaces it, so only a NaN at the end
 * shows (as bnverify has always reported it). */
double bn_max_abs_diff(const float *a, const float *b, size_t n);

/* The hidden states of one forward pass over T tokens: the embedding,
 * each layer's output but the last, the final norm's output. */
struct bn_capture {
	float *hidden;		/* [layers + 1][T][H] */
	size_t T, H;
	int layers;
};

/* A bn_hook_fn (model.h) with ctx a bn_capture. */
void bn_capture_hook(void *ctx, int layer, int site, const float *x,
    size_t T, size_t dim);

#endif
