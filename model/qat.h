/* qat.h: bnquant's training run: data, teacher, schedule, evaluation,
 * logs and checkpoints around the trainer of train.h.  Writes
 * checkpoints through xio.h, so it exits on an output error (tools
 * only). */
#ifndef BN_QAT_H
#define BN_QAT_H

#include <stdint.h>
#include <stdio.h>

#include "status.h"

struct bn_qat_opts {
	const char *input;	/* model to train (NULL: from resume) */
	const char *train, *val, *teacher, *resume, *ckpt_dir, *log;
	int quant;		/* enum bn_tquant */
	int steps, batch, ctx, warmup;	/* warmup < 0: steps / 10 */
	float lr, min_lr, wd, clip, beta1, beta2, eps, alpha, tau;
	uint64_t seed;
	int eval_every, ckpt_every, threads;
	int progress;		/* a progress line on stderr */
	int verbose;
};

/* Defaults (bnquant(1)). */
void bn_qat_defaults(struct bn_qat_opts *o);

/* Train, then write the final model (master weights, bitlinear=1, no
 * optimizer state) to out (NULL: not written, as on MPI ranks other
 * than 0).  With MPI the caller has initialised it; the batch must be a
 * multiple of the number of ranks.  BN_OK, or a status with a detail
 * in e. */
int bn_qat_run(const struct bn_qat_opts *o, FILE *out, struct bn_err *e);

#endif
