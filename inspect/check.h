/* check.h: the invariants of a bnt(5) stream (bnverify): each tensor's
 * payload, the config and tokenizer records, the tensors the
 * architecture needs with the shapes its config gives, and optionally
 * the agreement of every tensor with a reference (compare.h).  The
 * checks add problems to a report and return a status. */
#ifndef BN_INSPECT_CHECK_H
#define BN_INSPECT_CHECK_H

#include <stddef.h>

#include "bnt.h"
#include "compare.h"
#include "kv.h"
#include "status.h"

struct bn_problem {
	long long record;	/* -1: the stream as a whole */
	unsigned long long offset;
	char *tensor;		/* NULL: no one tensor */
	char *msg;
};

struct bn_report {
	unsigned long long records, tensors, bytes;
	struct bn_problem *p;
	size_t np, pcap;
	struct bn_cmp *c;	/* with --against: one per tensor compared */
	size_t nc, ccap;
	int oom;		/* a problem was lost for want of memory */
};

/* Add a problem (the message printf-formatted, at most 511 bytes):
 * BN_OK, or BN_ENOMEM (and oom set). */
int bn_report_add(struct bn_report *rep, long long record,
    unsigned long long offset, const char *tensor, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));
void bn_report_free(struct bn_report *rep);

/* One record each.  BN_OK or BN_ENOMEM; problems go to rep. */
int bn_check_tensor(struct bn_report *rep, const struct bnt_record *rec,
    int allow_nonfinite);
int bn_check_config(struct bn_report *rep, const struct bnt_record *rec);
int bn_check_vocab(struct bn_report *rep, const struct bnt_record *rec);
/* The tensors of seen against what the arch of cfg needs (llama and
 * bitnet; others are not checked), by the table of roles. */
int bn_check_arch(struct bn_report *rep, const struct bn_kv *cfg,
    const struct bn_tset *seen);

/* A stream checked record by record. */
struct bn_check {
	struct bn_report rep;
	struct bn_tset seen;	/* the stream's tensors, headers only */
	struct bn_kv cfg;	/* its CONFIG record */
	struct bn_kv vkv;	/* its TOKENIZER record's metadata */
	unsigned long long n_tokens;	/* and token count */
	struct bn_tset *ref;	/* NULL, or the tensors to compare with */
	double tol;		/* for the comparison; < 0: report only */
	int allow_nonfinite;
	int nconfig, nvocab;	/* in the stream since the last END */
	int ended;		/* the last record was an END */
};

void bn_check_init(struct bn_check *c, struct bn_tset *ref, double tol,
    int allow_nonfinite);
/* Check one record (counted in c->rep): BN_OK or BN_ENOMEM.  It has
 * problems if c->rep.np grew. */
int bn_check_record(struct bn_check *c, const struct bnt_record *rec);
/* After the last record: st is what bnt_read_next returned last and
 * msg the reader's error.  A damaged stream is one problem; with a
 * reference, the tensors missing from the stream(s) are.  Each stream
 * gets the architecture check at its END record (names, the config
 * and the tokenizer are per stream: concatenated streams are checked
 * one by one).  BN_OK or BN_ENOMEM. */
int bn_check_finish(struct bn_check *c, int st, const char *msg);
/* Free the report and the rest; clears the reference's seen marks. */
void bn_check_free(struct bn_check *c);

#endif
