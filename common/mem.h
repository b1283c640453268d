/* mem.h: overflow-checked size arithmetic and allocation. */
#ifndef BN_MEM_H
#define BN_MEM_H

#include <stddef.h>
#include <stdint.h>

/* Each returns 0 and stores the result, or -1 on overflow. */
static inline int
bn_mul_size(size_t a, size_t b, size_t *r)
{
	return __builtin_mul_overflow(a, b, r) ? -1 : 0;
}

static inline int
bn_add_size(size_t a, size_t b, size_t *r)
{
	return __builtin_add_overflow(a, b, r) ? -1 : 0;
}

static inline int
bn_mul_u64(uint64_t a, uint64_t b, uint64_t *r)
{
	return __builtin_mul_overflow(a, b, r) ? -1 : 0;
}

static inline int
bn_add_u64(uint64_t a, uint64_t b, uint64_t *r)
{
	return __builtin_add_overflow(a, b, r) ? -1 : 0;
}

/* Round n up to a multiple of a (a power of two); -1 on overflow. */
static inline int
bn_align_u64(uint64_t n, uint64_t a, uint64_t *r)
{
	if (n > UINT64_MAX - (a - 1))
		return -1;
	*r = (n + a - 1) & ~(a - 1);
	return 0;
}

void *bn_reallocarray(void *p, size_t n, size_t size);

#endif
