/* sample.h: the sampler of bnrun and bnserve: temperature, top-k and
 * top-p (nucleus) over the logits, in the order of llama.cpp's default
 * chain, with common/rng.h's random numbers; one per sequence. */
#ifndef BN_SAMPLE_H
#define BN_SAMPLE_H

#include <stdint.h>

#include "rng.h"
#include "status.h"

struct bn_cand;

struct bn_sampler {
	double temp;		/* <= 0: the largest logit (greedy) */
	int top_k;		/* <= 0: all */
	double top_p;		/* >= 1: all */
	int vocab;
	struct bn_rng rng;
	struct bn_cand *c;	/* [vocab] scratch */
};

/* BN_OK or BN_ENOMEM. */
int bn_sampler_init(struct bn_sampler *sm, int vocab, double temp,
    int top_k, double top_p, uint64_t seed);
void bn_sampler_free(struct bn_sampler *sm);
/* The next token from vocab logits. */
int32_t bn_sample(struct bn_sampler *sm, const float *logits);

#endif
