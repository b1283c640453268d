/* pool.c: a persistent pool of worker threads; the caller takes part.
 *
 * bn_pool_run publishes the job and bumps a generation counter; workers
 * spin on it for a while, then sleep on a condition variable.  The
 * caller runs index 0, then waits (spin, then sleep) until the pending
 * count reaches 0.  Sleeping is announced through a counter that both
 * sides check after their own store, a full fence between the store and
 * the load (Dekker's handshake: seq_cst atomics alone order them in C11,
 * but under qemu-aarch64 on an x86 host, which seems to let an ldar pass
 * an earlier stlr's store, a wakeup was lost: t_train hung in 4 of 30
 * runs there, none in 40 with the fences), so no wakeup is lost; the
 * sleep itself is under the mutex. */
#ifdef __linux__
#define _GNU_SOURCE	/* sched_getaffinity, CPU_COUNT */
#include <sched.h>
#endif
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "kernels.h"

#define SPIN 20000	/* polls before sleeping (some tens of us) */

struct worker {
	struct bn_pool *p;
	int i;
	pthread_t th;
};

struct bn_pool {
	int n;
	struct worker *w;
	pthread_mutex_t mu;
	pthread_cond_t wake;	/* workers: a new generation */
	pthread_cond_t done;	/* caller: pending reached 0 */
	atomic_ulong gen;	/* bumped once per run, and to stop */
	atomic_int pending;	/* workers still running this generation */
	atomic_int sleepers;	/* workers asleep or about to be */
	atomic_int waiting;	/* the caller is asleep or about to be */
	atomic_int stop;
	void (*fn)(void *, int, int);	/* written before gen is bumped */
	void *ctx;
};

static inline void
cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
	__builtin_ia32_pause();
#endif
}

static void *
worker_main(void *arg)
{
	struct worker *me = arg;
	struct bn_pool *p = me->p;
	unsigned long seen = 0, g = 0;
	int k;

	for (;;) {
		for (k = 0; k < SPIN; k++) {
			g = atomic_load_explicit(&p->gen, memory_order_acquire);
			if (g != seen)
				break;
			cpu_relax();
		}
		if (g == seen) {
			pthread_mutex_lock(&p->mu);
			atomic_fetch_add(&p->sleepers, 1);
			atomic_thread_fence(memory_order_seq_cst);
			while ((g = atomic_load(&p->gen)) == seen)
				pthread_cond_wait(&p->wake, &p->mu);
			atomic_fetch_sub(&p->sleepers, 1);
			pthread_mutex_unlock(&p->mu);
		}
		seen = g;
		if (atomic_load_explicit(&p->stop, memory_order_acquire))
			break;
		p->fn(p->ctx, me->i, p->n);
		/* seq_cst and a fence, then check for a sleeping caller */
		if (atomic_fetch_sub(&p->pending, 1) == 1 &&
		    (atomic_thread_fence(memory_order_seq_cst),
		    atomic_load(&p->waiting))) {
			pthread_mutex_lock(&p->mu);
			pthread_cond_signal(&p->done);
			pthread_mutex_unlock(&p->mu);
		}
	}
	return NULL;
}

/* Start a new generation and wake whoever sleeps. */
static void
publish(struct bn_pool *p)
{
	atomic_fetch_add(&p->gen, 1);		/* seq_cst, a fence, */
	atomic_thread_fence(memory_order_seq_cst);
	if (atomic_load(&p->sleepers) > 0) {	/* then check for sleepers */
		pthread_mutex_lock(&p->mu);
		pthread_cond_broadcast(&p->wake);
		pthread_mutex_unlock(&p->mu);
	}
}

struct bn_pool *
bn_pool_create(int nthreads)
{
	struct bn_pool *p;
	int i;

	if (nthreads < 1)
		return NULL;
	if ((p = calloc(1, sizeof *p)) == NULL)
		return NULL;
	p->n = nthreads;
	if ((p->w = calloc((size_t)nthreads, sizeof *p->w)) == NULL) {
		free(p);
		return NULL;
	}
	atomic_init(&p->gen, 0);
	atomic_init(&p->pending, 0);
	atomic_init(&p->sleepers, 0);
	atomic_init(&p->waiting, 0);
	atomic_init(&p->stop, 0);
	if (pthread_mutex_init(&p->mu, NULL) != 0)
		goto fail_mu;
	if (pthread_cond_init(&p->wake, NULL) != 0)
		goto fail_wake;
	if (pthread_cond_init(&p->done, NULL) != 0)
		goto fail_done;
	for (i = 1; i < nthreads; i++) {
		p->w[i].p = p;
		p->w[i].i = i;
		if (pthread_create(&p->w[i].th, NULL, worker_main,
		    &p->w[i]) != 0) {
			p->n = i;	/* join the ones started */
			bn_pool_free(p);
			return NULL;
		}
	}
	return p;
fail_done:
	pthread_cond_destroy(&p->wake);
fail_wake:
	pthread_mutex_destroy(&p->mu);
fail_mu:
	free(p->w);
	free(p);
	return NULL;
}

int
bn_pool_size(const struct bn_pool *p)
{
	return p->n;
}

void
bn_pool_run(struct bn_pool *p, void (*fn)(void *ctx, int i, int n),
    void *ctx)
{
	int k;

	if (p->n == 1) {
		fn(ctx, 0, 1);
		return;
	}
	p->fn = fn;
	p->ctx = ctx;
	atomic_store_explicit(&p->pending, p->n - 1, memory_order_relaxed);
	publish(p);
	fn(ctx, 0, p->n);
	for (k = 0; k < SPIN; k++) {
		if (atomic_load_explicit(&p->pending,
		    memory_order_acquire) == 0)
			return;
		cpu_relax();
	}
	pthread_mutex_lock(&p->mu);
	atomic_store(&p->waiting, 1);		/* seq_cst, a fence, */
	atomic_thread_fence(memory_order_seq_cst);	/* then check */
	while (atomic_load(&p->pending) != 0)
		pthread_cond_wait(&p->done, &p->mu);
	atomic_store(&p->waiting, 0);
	pthread_mutex_unlock(&p->mu);
}

void
bn_pool_free(struct bn_pool *p)
{
	int i;

	if (p == NULL)
		return;
	if (p->n > 1) {
		atomic_store_explicit(&p->stop, 1, memory_order_release);
		publish(p);
		for (i = 1; i < p->n; i++)
			pthread_join(p->w[i].th, NULL);
	}
	pthread_cond_destroy(&p->done);
	pthread_cond_destroy(&p->wake);
	pthread_mutex_destroy(&p->mu);
	free(p->w);
	free(p);
}

/* The CPU quota of cgroup v2 (cpu.max: "QUOTA PERIOD" or "max PERIOD")
 * or v1 (cfs_quota_us, cfs_period_us), rounded up; 0 when none. */
static long
cgroup_cpus(void)
{
	FILE *f;
	long q = -1, per = 0;
	char tok[32];

	if ((f = fopen("/sys/fs/cgroup/cpu.max", "r")) != NULL) {
		if (fscanf(f, "%31s %ld", tok, &per) == 2 &&
		    tok[0] >= '0' && tok[0] <= '9')
			q = strtol(tok, NULL, 10);
		fclose(f);
	} else if ((f = fopen("/sys/fs/cgroup/cpu/cpu.cfs_quota_us",
	    "r")) != NULL) {
		if (fscanf(f, "%ld", &q) != 1)
			q = -1;
		fclose(f);
		if ((f = fopen("/sys/fs/cgroup/cpu/cpu.cfs_period_us",
		    "r")) != NULL) {
			if (fscanf(f, "%ld", &per) != 1)
				per = 0;
			fclose(f);
		}
	}
	if (q <= 0 || per <= 0)
		return 0;
	return (q + per - 1) / per;
}

int
bn_pool_default_threads(void)
{
	long n = sysconf(_SC_NPROCESSORS_ONLN), c;
#ifdef __linux__
	cpu_set_t set;

	if (sched_getaffinity(0, sizeof set, &set) == 0 &&
	    CPU_COUNT(&set) > 0)
		n = CPU_COUNT(&set);
#endif
	if ((c = cgroup_cpus()) > 0 && c < n)
		n = c;
	return n < 1 ? 1 : n > 64 ? 64 : (int)n;
}
