/* membw.c: memory read bandwidth as kernels/membw.c measures it, over a
 * 1 GiB buffer (or -s MiB) with 1 and N threads; prints GB/s (1e9
 * bytes/s), best of reps.
 * Usage: membw [-t N] [-s MiB] [-r reps].  Last line: "membw_1=X
 * membw_N=Y" for scripts. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "membw.h"

/* GB/s (1e9 bytes/s), as bn_membw measures */
static double
measure(size_t mib, int threads, int reps)
{
	return bn_membw(mib, threads, reps) / 1e9;
}

int
main(int argc, char **argv)
{
	size_t mib = 1024;
	int threads = 2, reps = 5, a;
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
	b1 = measure(mib, 1, reps);
	bn = measure(mib, threads, reps);
	if (b1 == 0 || bn == 0) {
		fprintf(stderr, "membw: cannot measure (out of memory?)\n");
		return 71;
	}
	printf("read 1 thread: %.2f GB/s\n", b1);
	printf("read %d threads: %.2f GB/s\n", threads, bn);
	printf("membw_1=%.2f membw_N=%.2f\n", b1, bn);
	return 0;
}
