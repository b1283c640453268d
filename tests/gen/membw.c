/* membw.c: memory read bandwidth: sum a 1 GiB buffer (or -s MiB) with
 * 1 and N threads (pthreads); prints GB/s (1e9 bytes/s), best of reps.
 * Usage: membw [-t N] [-s MiB] [-r reps].  Last line: "membw_1=X
 * membw_N=Y" for scripts. */
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct job {
	const uint64_t *p;
	size_t n;
	uint64_t sum;
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

static double
measure(const uint64_t *buf, size_t n, int threads, int reps,
    uint64_t *sink)
{
	pthread_t tid[256];
	struct job job[256];
	double best = 0, t0, gbs;
	int r, k;

	for (r = 0; r < reps; r++) {
		t0 = now();
		for (k = 0; k < threads; k++) {
			job[k].p = buf + n / threads * k;
			job[k].n = n / threads;
			if (pthread_create(&tid[k], NULL, run, &job[k]) != 0) {
				perror("membw");
				exit(1);
			}
		}
		for (k = 0; k < threads; k++) {
			pthread_join(tid[k], NULL);
			*sink += job[k].sum;
		}
		gbs = (double)(n / threads * threads) * 8 / (now() - t0) / 1e9;
		if (gbs > best)
			best = gbs;
	}
	return best;
}

int
main(int argc, char **argv)
{
	size_t mib = 1024, n, i;
	int threads = 2, reps = 5, a;
	uint64_t *buf, sink = 0;
	double b1, bn;

	for (a = 1; a < argc; a++) {
		if (strcmp(argv[a], "-t") == 0 && a + 1 < argc)
			threads = atoi(argv[++a]);
		else if (strcmp(argv[a], "-s") == 0 && a + 1 < argc)
			mib = (size_t)atol(argv[++a]);
		else if (strcmp(argv[a], "-r") == 0 && a + 1 < argc)
			reps = atoi(argv[++a]);
		else {
			fprintf(stderr, "usage: membw [-t N] [-s MiB] "
			    "[-r reps]\n");
			return 64;
		}
	}
	if (threads < 1 || threads > 256 || reps < 1 || mib < 1) {
		fprintf(stderr, "membw: bad arguments\n");
		return 64;
	}
	n = mib * 1048576 / 8;
	if ((buf = aligned_alloc(64, n * 8)) == NULL) {
		perror("membw");
		return 71;
	}
	for (i = 0; i < n; i++)
		buf[i] = i;
	b1 = measure(buf, n, 1, reps, &sink);
	bn = measure(buf, n, threads, reps, &sink);
	printf("read 1 thread: %.2f GB/s\n", b1);
	printf("read %d threads: %.2f GB/s\n", threads, bn);
	printf("membw_1=%.2f membw_N=%.2f%s\n", b1, bn, sink == 42 ? " " : "");
	free(buf);
	return 0;
}
