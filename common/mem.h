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

/* The one growable array: make *pp (an array of *cap elements of size
 * bytes) hold at least need elements, doubling from 16.  0, or -1 on
 * overflow or out of memory (*pp and *cap unchanged). */
int bn_grow(void *pp, size_t *cap, size_t need, size_t size);

/* The one growable byte buffer, always NUL-terminated after its n
 * bytes.  Appends after a failed allocation are dropped and set oom, so
 * a writer checks once at the end. */
struct bn_buf {
	char *p;
	size_t n, cap;
	int oom;
};

/* Room for extra more bytes (and the NUL): 0, or -1 (and oom). */
int bn_buf_reserve(struct bn_buf *b, size_t extra);
void bn_buf_put(struct bn_buf *b, const void *s, size_t n);
void bn_buf_puts(struct bn_buf *b, const char *s);
void bn_buf_printf(struct bn_buf *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
void bn_buf_free(struct bn_buf *b);

#endif
