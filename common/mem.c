/* mem.c: allocation with overflow checks. */
#include <errno.h>
#include <stdlib.h>

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
