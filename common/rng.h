/* rng.h: xoshiro256** (Blackman and Vigna 2018) seeded by splitmix64:
 * the same numbers from a seed on every machine, and a state that fits
 * in a checkpoint. */
#ifndef BN_RNG_H
#define BN_RNG_H

#include <stdint.h>

struct bn_rng {
	uint64_t s[4];
};

/* s[0..3] = four successive outputs of splitmix64(seed). */
void bn_rng_seed(struct bn_rng *r, uint64_t seed);
uint64_t bn_rng_next(struct bn_rng *r);
/* Uniform in [0, n), n >= 1 (rejection: no modulo bias). */
uint64_t bn_rng_below(struct bn_rng *r, uint64_t n);
/* Uniform in [0, 1): the top 53 bits of the next output. */
double bn_rng_double(struct bn_rng *r);

#endif
