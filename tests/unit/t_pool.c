/* t_pool.c: the thread pool under stress: many short jobs, each
 * index writing its own slots (plain stores: ThreadSanitizer checks
 * that bn_pool_run orders them before and after the caller's reads),
 * pools created and freed in a loop, sizes 1 to 4 (the machines have few cores);
 * the default thread count follows the affinity mask. */
#ifdef __linux__
#define _GNU_SOURCE	/* sched_setaffinity */
#include <sched.h>
#endif
#include <stdint.h>
#include <stdlib.h>
#include <unistd.h>

#include "kernels.h"
#include "check.h"

#define SLOTS 64

struct job {
	uint64_t round;
	uint64_t slot[8][SLOTS];
	int seen_n;
};

static void
work(void *ctx, int i, int n)
{
	struct job *j = ctx;
	int k;

	for (k = 0; k < SLOTS; k++)
		j->slot[i][k] = j->round * 1000 + (uint64_t)(i * SLOTS + k);
	if (i == 0)
		j->seen_n = n;
}

static int
run_rounds(struct bn_pool *p, int n, unsigned rounds)
{
	static struct job j;
	unsigned r;
	int i, k, ok = 1;

	for (r = 0; r < rounds; r++) {
		j.round = r;		/* written by the caller before run */
		bn_pool_run(p, work, &j);
		for (i = 0; i < n; i++)
			for (k = 0; k < SLOTS; k++)
				if (j.slot[i][k] != (uint64_t)r * 1000 +
				    (uint64_t)(i * SLOTS + k))
					ok = 0;
		if (j.seen_n != n)
			ok = 0;
	}
	return ok;
}

int
main(void)
{
	struct bn_pool *p;
	int n, c;

	for (n = 1; n <= 4; n++) {
		CHECK((p = bn_pool_create(n)) != NULL);
		if (p == NULL)
			continue;
		CHECK(bn_pool_size(p) == n);
		CHECK(run_rounds(p, n, 200));
		bn_pool_free(p);
	}
	/* create, run a little, free: workers that never slept, and
	 * workers stopped while asleep */
	for (c = 0; c < 20; c++) {
		n = 2 + c % 4;
		CHECK((p = bn_pool_create(n)) != NULL);
		if (p == NULL)
			continue;
		CHECK(run_rounds(p, n, (unsigned)(c % 3)));
		bn_pool_free(p);
	}
	/* the default: 1 to 64, no more than the online CPUs, and 1
	 * once this process may only run on one CPU */
	n = bn_pool_default_threads();
	CHECK(n >= 1 && n <= 64 && n <= sysconf(_SC_NPROCESSORS_ONLN));
#ifdef __linux__
	{
		cpu_set_t set;

		CPU_ZERO(&set);
		CPU_SET(sched_getcpu(), &set);
		CHECK(sched_setaffinity(0, sizeof set, &set) == 0);
		CHECK(bn_pool_default_threads() == 1);
	}
#endif
	return check_done();
}
