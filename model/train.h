/* train.h: quantization-aware training of the llama, bitnet, qwen2
 * (q, k and v biases) and qwen3 (per-head q and k norms) architectures:
 * float master weights, BitLinear projections (absmean ternary or sign
 * binary weights, per-token int8 absmax activations, identity
 * straight-through estimator), the backward pass, AdamW.  Biases and
 * norms stay float.  Formulas: bnquant(1), "Quantization-aware
 * training". */
#ifndef BN_TRAIN_H
#define BN_TRAIN_H

#include <stddef.h>
#include <stdint.h>

#include "bnt.h"
#include "config.h"
#include "kernels.h"
#include "status.h"

/* the widest row (hidden, ffn, heads x head_dim) a trainer takes */
#define BN_TRAIN_MAXW 16384

enum bn_tquant { BN_TQ_FLOAT = 0, BN_TQ_TERNARY = 1, BN_TQ_BINARY = 2 };

/* One parameter tensor, [rows][cols] (a vector: rows 1), at off in the
 * flat arrays w, g, m, v. */
struct bn_tparam {
	char name[64];
	size_t rows, cols, off;
	int ndim;
	int quant;	/* a BitLinear weight */
};

struct bn_train_layer;

struct bn_train {
	struct bn_config c;
	int quant;		/* enum bn_tquant for the projections */
	int B, T;		/* sequences per call, tokens per sequence */
	size_t n;		/* parameters */
	float *w, *g, *m, *v;	/* weights, gradients, AdamW moments */
	float *wq;		/* quantized projection weights (dequantized) */
	struct bn_tparam *p;
	int np;
	int emb, out_norm, head;	/* indices into p */
	struct bn_train_layer *L;
	float *act;		/* activations kept for the backward pass */
	size_t act_n;
	float *logits, *scratch;
	double *rowloss;	/* per row: CE, then KL */
	int32_t *tgt;		/* targets of the rows */
	float *cosv, *sinv;
	struct bn_pool *pool;
	struct bn_gemm *gemm;
	struct bn_gemm **tgemm;	/* one single-threaded gemm per thread */
	float *att_tmp;		/* per thread: T x T */
	int nthreads;
	/* Quantization strength (bn_train_lambda): the forward uses
	 * X + lambda (Q(X) - X) for every quantized weight and activation
	 * X; 1 (as bn_train_new sets it) is Q(X) itself. */
	float lambda;
	/* Hidden-state distillation, on while th is not NULL: bn_train_step
	 * adds hid_weight times the mean over the nhl layers hl[] (each
	 * from 0) of the mean over the rows of layer l's output (the
	 * residual stream, bnrun's BN_SITE_LAYER) of hid_row (layers.inc:
	 * mean squared error, or 1 - cosine with hid_cos) against th, the
	 * teacher's: [nhl][nseq * T][hidden], row b * T + s.  hid_loss is
	 * the last step's mean term. */
	const float *th;
	const int *hl;
	int nhl, hid_cos;
	float hid_weight;
	double hid_loss;
	/* Attention-relation distillation (bn_train_attn), on while ta[0]
	 * is not NULL: the teacher's q, k (after RoPE) and v of layer
	 * att_layer, [nseq * T][ta_dim[j]] each. */
	const float *ta[3];
	size_t ta_dim[3];
	int att_layer, att_heads;
	float att_weight, att_temp;
	double att_loss;	/* the last step's term, unweighted */
	float *att_w;		/* per thread scratch */
	double *att_kl;		/* per unit */
	size_t att_per;
};

/* Build a trainer for the model in map (float, or packed: codes times
 * scale become the master weights), for up to B sequences of T tokens,
 * with projections quantized as quant. */
int bn_train_new(struct bn_train **tp, const struct bnt_map *map,
    int quant, int B, int T, int nthreads, struct bn_err *e);
void bn_train_free(struct bn_train *t);

/* The loss of nseq <= B sequences of T + 1 tokens each (row b at
 * tok + b * (T + 1)): inputs tok[0..T), targets tok[1..T].  With
 * teacher (nseq * T rows of vocab logits, or NULL): loss = alpha * CE
 * + (1 - alpha) * tau^2 * KL(teacher || student); with t->th, plus
 * t->hid_weight * t->hid_loss; with t->ta[0], plus t->att_weight *
 * t->att_loss.  grad: 1 computes
 * the gradients into t->g (overwritten); 0 leaves the nseq * T rows of
 * vocab logits in t->logits.  ce and kl are the mean terms
 * (either may be NULL); returns the loss, or NAN if a token is out of
 * range. */
double bn_train_step(struct bn_train *t, const int32_t *tok, int nseq,
    const float *teacher, float alpha, float tau, int grad, double *ce,
    double *kl);

/* Global L2 norm of the gradients; if clip > 0 and the norm exceeds it,
 * scale them to norm clip (as torch's clip_grad_norm_).  Returns the
 * norm before clipping. */
double bn_train_clip(struct bn_train *t, double clip);

/* One AdamW step (torch.optim.AdamW's arithmetic), step >= 1; weight
 * decay applies to matrices only. */
void bn_train_adamw(struct bn_train *t, int step, float lr, float beta1,
    float beta2, float eps, float wd);

/* The learning rate of step s in [0, steps): linear warm-up over
 * warmup steps, lr * (s + 1) / warmup, then a cosine from lr down to
 * min_lr at the last step: min_lr + (lr - min_lr) / 2 * (1 + cos(pi *
 * (s - warmup) / (steps - warmup))). */
float bn_train_lr(int s, int steps, int warmup, float lr, float min_lr);

/* The lambda warm-up of the Hugging Face 1.58-bit fine-tuning recipe
 * ("Fine-tuning LLMs to 1.58bit", huggingface.co/blog/1_58_llm_extreme_
 * quantization): the quantization strength of step s (from 0) of a
 * warm-up over n steps, 1 from step n on (and always, n 0).
 * BN_LAMBDA_LINEAR: s / n; BN_LAMBDA_SIGMOID: 1 / (1 + exp(-k (s / n -
 * 0.5))) with k = BN_LAMBDA_K, the steepest the blog tried and its
 * best. */
enum bn_lambda_shape { BN_LAMBDA_LINEAR = 0, BN_LAMBDA_SIGMOID = 1 };
#define BN_LAMBDA_K 100.0
float bn_train_lambda(int s, int n, int shape);

/* Attention-relation distillation at layer (from 0), as MiniLM-v2 and
 * BitDistill (arXiv 2510.13998, eqs. 10-12): for each of q, k and v,
 * the heads' values are split again into heads relation heads (of
 * q_dim / heads, kv_dim / heads, and the teacher's tdim[j] / heads
 * values), and bn_train_step adds weight times the sum over q, k, v of
 * the mean over sequences, relation heads and positions of layers.inc's
 * rel_unit KL at temperature temp.  The caller then sets t->ta[] before
 * each step (NULL: off).  BN_OK, or BN_EUSAGE (a layer past the last,
 * a width heads does not divide) or BN_ENOMEM with a detail in e. */
int bn_train_attn(struct bn_train *t, int layer, int heads, float weight,
    float temp, const size_t tdim[3], struct bn_err *e);

/* Index of the parameter named name, or -1. */
int bn_train_find(const struct bn_train *t, const char *name);

#endif
