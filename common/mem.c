/* mem.c: allocation with overflow checks, the growable array and byte
 * buffer. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mem.h"

void *
bn_reallocarray(void *p, size_t n, size_t size)
{
	size_t total;

	if (bn_mul_size(n, size, &total) != 0) {
		errno = ENOMEM;
		return NULL;
	}
	return realloc(p, total == 0 ? 1 : total);
}

int
bn_grow(void *pp, size_t *cap, size_t need, size_t size)
{
	void **p = pp, *q;
	size_t c = *cap ? *cap : 16;

	if (need <= *cap)
		return 0;
	while (c < need) {
		if (c > SIZE_MAX / 2)
			return -1;
		c *= 2;
	}
	if ((q = bn_reallocarray(*p, c, size)) == NULL)
		return -1;
	*p = q;
	*cap = c;
	return 0;
}

int
bn_buf_reserve(struct bn_buf *b, size_t extra)
{
	size_t need;

	if (b->oom)
		return -1;
	if (bn_add_size(b->n, extra, &need) != 0 ||
	    bn_add_size(need, 1, &need) != 0 ||
	    bn_grow(&b->p, &b->cap, need, 1) != 0) {
		b->oom = 1;
		return -1;
	}
	return 0;
}

void
bn_buf_put(struct bn_buf *b, const void *s, size_t n)
{
	if (bn_buf_reserve(b, n) != 0)
		return;
	if (n > 0)
		memcpy(b->p + b->n, s, n);
	b->n += n;
	b->p[b->n] = '\0';
}

void
bn_buf_puts(struct bn_buf *b, const char *s)
{
	bn_buf_put(b, s, strlen(s));
}

void
bn_buf_printf(struct bn_buf *b, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0 || bn_buf_reserve(b, (size_t)n) != 0)
		return;
	va_start(ap, fmt);
	vsnprintf(b->p + b->n, (size_t)n + 1, fmt, ap);
	va_end(ap);
	b->n += (size_t)n;
}

void
bn_buf_free(struct bn_buf *b)
{
	free(b->p);
	memset(b, 0, sizeof *b);
}
