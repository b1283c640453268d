/* check.h: the unit tests' CHECK() macro and tally. */
#ifndef BN_CHECK_H
#define BN_CHECK_H

#include <stdio.h>

static unsigned check_pass, check_fail;

#define CHECK(cond) do {						\
	if (cond)							\
		check_pass++;						\
	else {								\
		check_fail++;						\
		fprintf(stderr, "%s:%d: CHECK(%s) failed\n", __FILE__,	\
		    __LINE__, #cond);					\
	}								\
} while (0)

static inline int
check_done(void)
{
	printf("%u passed, %u failed\n", check_pass, check_fail);
	return check_fail != 0;
}

#endif
