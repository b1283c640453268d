/* sample.c: temperature, top-k, top-p sampling (sample.h). */
#include <math.h>
#include <stdlib.h>

#include "sample.h"

struct bn_cand {
	float p;
	int32_t id;
};

/* by logit, largest first; equal logits by id */
static int
cmp_cand(const void *a, const void *b)
{
	const struct bn_cand *x = a, *y = b;

	if (x->p != y->p)
		return x->p < y->p ? 1 : -1;
	return x->id < y->id ? -1 : x->id > y->id;
}

int
bn_sampler_init(struct bn_sampler *sm, int vocab, double temp, int top_k,
    double top_p, uint64_t seed)
{
	sm->temp = temp;
	sm->top_k = top_k;
	sm->top_p = top_p;
	sm->vocab = vocab;
	bn_rng_seed(&sm->rng, seed);
	if ((sm->c = calloc(vocab > 0 ? (size_t)vocab : 1, sizeof *sm->c)) ==
	    NULL)
		return BN_ENOMEM;
	return BN_OK;
}

void
bn_sampler_free(struct bn_sampler *sm)
{
	free(sm->c);
	sm->c = NULL;
}

static int32_t
argmax(const float *l, int n)
{
	int32_t best = 0;
	int i;

	for (i = 1; i < n; i++)
		if (l[i] > l[best])
			best = i;
	return best;
}

int32_t
bn_sample(struct bn_sampler *sm, const float *l)
{
	struct bn_cand *c = sm->c;
	double sum = 0, acc = 0, r;
	int i, n = sm->vocab, k = n;
	float mx;

	if (sm->temp <= 0)
		return argmax(l, n);
	for (i = 0; i < n; i++) {
		c[i].p = l[i];
		c[i].id = i;
	}
	qsort(c, (size_t)n, sizeof *c, cmp_cand);
	if (sm->top_k > 0 && sm->top_k < k)
		k = sm->top_k;
	mx = c[0].p;
	for (i = 0; i < k; i++) {
		c[i].p = expf((float)((c[i].p - mx) / sm->temp));
		sum += c[i].p;
	}
	for (i = 0; i < k; i++) {
		acc += c[i].p / sum;
		if (acc >= sm->top_p) {
			k = i + 1;
			break;
		}
	}
	for (sum = 0, i = 0; i < k; i++)
		sum += c[i].p;
	r = bn_rng_double(&sm->rng) * sum;
	for (i = 0; i < k - 1; i++) {
		r -= c[i].p;
		if (r < 0)
			break;
	}
	return c[i].id;
}
