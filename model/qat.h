/* qat.h: bnquant's training run: data, teacher, schedule, evaluation
 * and checkpoints around the trainer of train.h.  Like every library
 * it prints nothing and never exits: the caller is told of each step,
 * of the checkpoints and of the end through the hooks, and it writes
 * the log, the progress line and the notices itself. */
#ifndef BN_QAT_H
#define BN_QAT_H

#include <stdint.h>
#include <stdio.h>

#include "status.h"

/* One step as the run reports it. */
struct bn_qat_step {
	int step, steps;	/* steps done (a resumed run's included), of */
	double loss, ce, kl;	/* kl with a teacher only (else 0) */
	int teacher;		/* whether there is one */
	float lr;
	double grad_norm;	/* the gradients' L2 norm, before clipping */
	uint64_t tokens;	/* trained on so far, a resumed run's included */
	double val;		/* validation loss of this step, else NAN */
	double last_val;	/* the latest validation loss, else NAN */
	int ranks;		/* MPI processes (1 without) */
	double comm_s;		/* seconds of this step's gradient all-reduce */
	double tok_s;		/* tokens per second since this run started */
	float lambda;		/* the step's quantization strength */
	double hid;		/* hidden-state term, with hid_distill */
	double att;		/* attention-relation term (att_weight) */
	double eta_s;		/* seconds left at that rate */
};

/* What the run tells its caller, all on MPI rank 0 only; any member may
 * be NULL.  A hook that returns a status other than BN_OK stops the run
 * with that status (its detail in e). */
struct bn_qat_hooks {
	void *ctx;
	/* Before the first step, the run's state restored: the step it
	 * starts from (> 0 when resumed). */
	int (*start)(void *ctx, int step, struct bn_err *e);
	/* After each step. */
	void (*step)(void *ctx, const struct bn_qat_step *s);
	/* A checkpoint of step into path: open a stream (*fp) to write
	 * it to, then close it, ok or not (ok 0: throw it away).  Without
	 * them the run writes path with fopen in place. */
	int (*ckpt_open)(void *ctx, const char *path, int step, FILE **fp,
	    struct bn_err *e);
	int (*ckpt_close)(void *ctx, FILE *fp, int ok, struct bn_err *e);
	/* After the last step, before the output is written: the last
	 * validation loss (NAN if none) over nwin windows. */
	void (*end)(void *ctx, double val, size_t nwin);
};

struct bn_qat_opts {
	const char *input;	/* model to train (NULL: from resume) */
	const char *train, *val, *teacher, *resume, *ckpt_dir;
	int quant;		/* enum bn_tquant */
	int steps, batch, ctx, warmup;	/* warmup < 0: steps / 10 */
	float lr, min_lr, wd, clip, beta1, beta2, eps, alpha, tau;
	uint64_t seed;
	int eval_every, ckpt_every, threads;
	int nonfinite;		/* load non-finite values (--allow-nonfinite) */
	/* the quantization warm-up over the first lambda_warmup steps
	 * (0: none), enum bn_lambda_shape (train.h) */
	int lambda_warmup, lambda_shape;
	/* hidden-state distillation against the teacher (train.h):
	 * hid_distill 0 off, 1 MSE, 2 cosine; weight; the layers (from 0;
	 * nhid_layers 0: every layer) */
	int hid_distill;
	float hid_weight;
	const int *hid_layers;
	int nhid_layers;
	/* attention-relation distillation against the teacher (train.h's
	 * bn_train_attn): off at weight 0; layer -1 is the last; relation
	 * heads, the student's n_heads */
	float att_weight, att_temp;
	int att_layer;
	struct bn_qat_hooks hooks;
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
