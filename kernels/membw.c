/* membw.c: memory read bandwidth (see membw.h). */
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <time.h>

#include "membw.h"

struct job {
	const uint64_t *p;
	size_t n;
	uint64_t sum;	/* kept, so that the reads are not optimized away */
};

static double
now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static void *
run(void *arg)
{
	struct job *j = arg;
	uint64_t s0 = 0, s1 = 0, s2 = 0, s3 = 0;
	size_t i;

	for (i = 0; i + 4 <= j->n; i += 4) {
		s0 += j->p[i];
		s1 += j->p[i + 1];
		s2 += j->p[i + 2];
		s3 += j->p[i + 3];
	}
	j->sum = s0 + s1 + s2 + s3;
	return NULL;
}

double
bn_membw(size_t mib, int threads, int reps)
{
	size_t n = mib * 1048576 / 8, i, per;
	pthread_t *tid = NULL;
	struct job *job = NULL;
	uint64_t *buf;
	double best = 0, t0, bw;
	int r, k, started;

	if (threads < 1 || reps < 1 || mib < 1 ||
	    (per = n / (size_t)threads / 4 * 4) == 0)
		return 0;
	buf = aligned_alloc(64, n * 8);
	tid = calloc((size_t)threads, sizeof *tid);
	job = calloc((size_t)threads, sizeof *job);
	if (buf == NULL || tid == NULL || job == NULL)
		goto out;
	for (i = 0; i < n; i++)
		buf[i] = i;
	for (r = 0; r < reps; r++) {
		t0 = now();
		for (started = 0; started < threads; started++) {
			job[started].p = buf + per * (size_t)started;
			job[started].n = per;
			if (pthread_create(&tid[started], NULL, run,
			    &job[started]) != 0)
				break;
		}
		for (k = 0; k < started; k++)
			pthread_join(tid[k], NULL);
		if (started < threads) {
			best = 0;
			break;
		}
		bw = (double)(per * (size_t)threads * 8) / (now() - t0);
		if (bw > best)
			best = bw;
	}
out:
	free(buf);
	free(tid);
	free(job);
	return best;
}
