/* gemm.c: the blocked, packed single-precision product of gemm.h.
 * Loops as in BLIS/GotoBLAS: column blocks of NC, depth blocks of KC
 * (B packed into NR-wide panels), row blocks of MC (A packed into
 * MR-high panels), then the micro-kernel over the tiles.  Threads take
 * disjoint column ranges, or row ranges when C is taller than wide. */
#include <stdlib.h>
#include <string.h>

#include "gemm.h"

struct bn_gemm {
	struct bn_pool *pool;
	int n;
	float *buf;		/* per thread: A block, then B block */
};

#define ABUF ((size_t)BN_GEMM_MC * BN_GEMM_KC)
#define BBUF ((size_t)BN_GEMM_NC * BN_GEMM_KC)

struct bn_gemm *
bn_gemm_new(struct bn_pool *pool)
{
	struct bn_gemm *g = calloc(1, sizeof *g);

	if (g == NULL)
		return NULL;
	g->pool = pool;
	g->n = pool != NULL ? bn_pool_size(pool) : 1;
	g->buf = aligned_alloc(64, (size_t)g->n * (ABUF + BBUF) *
	    sizeof(float));
	if (g->buf == NULL) {
		free(g);
		return NULL;
	}
	return g;
}

void
bn_gemm_free(struct bn_gemm *g)
{
	if (g == NULL)
		return;
	free(g->buf);
	free(g);
}

struct job {
	int ta, tb, acc;
	size_t M, N, K, lda, ldb, ldc;
	const float *a, *b;
	float *c;
	bn_gemm_ukernel *uk;
	float *buf;
	int nthreads;
};

static inline float
aval(const struct job *j, size_t i, size_t k)
{
	return j->ta ? j->a[k * j->lda + i] : j->a[i * j->lda + k];
}

static inline float
bval(const struct job *j, size_t k, size_t c)
{
	return j->tb ? j->b[c * j->ldb + k] : j->b[k * j->ldb + c];
}

/* A rows [i0, i0 + mc), depth [p0, p0 + kc) into MR-high panels. */
static void
pack_a(const struct job *j, float *ap, size_t i0, size_t mc, size_t p0,
    size_t kc)
{
	size_t ir, k, r;

	for (ir = 0; ir < mc; ir += BN_GEMM_MR) {
		size_t h = mc - ir < BN_GEMM_MR ? mc - ir : BN_GEMM_MR;

		if (!j->ta) {
			for (r = 0; r < BN_GEMM_MR; r++) {
				const float *src = j->a + (i0 + ir + r) *
				    j->lda + p0;

				if (r >= h) {
					for (k = 0; k < kc; k++)
						ap[k * BN_GEMM_MR + r] = 0;
					continue;
				}
				for (k = 0; k < kc; k++)
					ap[k * BN_GEMM_MR + r] = src[k];
			}
		} else
			for (k = 0; k < kc; k++) {
				const float *src = j->a + (p0 + k) * j->lda +
				    i0 + ir;

				for (r = 0; r < BN_GEMM_MR; r++)
					ap[k * BN_GEMM_MR + r] = r < h ?
					    src[r] : 0;
			}
		ap += kc * BN_GEMM_MR;
	}
}

/* B columns [c0, c0 + nc), depth [p0, p0 + kc) into NR-wide panels. */
static void
pack_b(const struct job *j, float *bp, size_t c0, size_t nc, size_t p0,
    size_t kc)
{
	size_t jr, k, c;

	for (jr = 0; jr < nc; jr += BN_GEMM_NR) {
		size_t w = nc - jr < BN_GEMM_NR ? nc - jr : BN_GEMM_NR;

		if (j->tb) {
			for (c = 0; c < BN_GEMM_NR; c++) {
				const float *src = j->b + (c0 + jr + c) *
				    j->ldb + p0;

				if (c >= w) {
					for (k = 0; k < kc; k++)
						bp[k * BN_GEMM_NR + c] = 0;
					continue;
				}
				for (k = 0; k < kc; k++)
					bp[k * BN_GEMM_NR + c] = src[k];
			}
		} else
			for (k = 0; k < kc; k++) {
				const float *src = j->b + (p0 + k) * j->ldb +
				    c0 + jr;

				if (w == BN_GEMM_NR)
					memcpy(bp + k * BN_GEMM_NR, src,
					    BN_GEMM_NR * sizeof *src);
				else
					for (c = 0; c < BN_GEMM_NR; c++)
						bp[k * BN_GEMM_NR + c] =
						    c < w ? src[c] : 0;
			}
		bp += kc * BN_GEMM_NR;
	}
}

static void
part(const struct job *j, float *abuf, float *bbuf, size_t i0, size_t i1,
    size_t j0, size_t j1)
{
	size_t jc, pc, ic, jr, ir;

	for (jc = j0; jc < j1; jc += BN_GEMM_NC) {
		size_t nc = j1 - jc < BN_GEMM_NC ? j1 - jc : BN_GEMM_NC;

		for (pc = 0; pc < j->K; pc += BN_GEMM_KC) {
			size_t kc = j->K - pc < BN_GEMM_KC ? j->K - pc :
			    BN_GEMM_KC;
			int acc = j->acc || pc > 0;

			pack_b(j, bbuf, jc, nc, pc, kc);
			for (ic = i0; ic < i1; ic += BN_GEMM_MC) {
				size_t mc = i1 - ic < BN_GEMM_MC ? i1 - ic :
				    BN_GEMM_MC;

				pack_a(j, abuf, ic, mc, pc, kc);
				for (jr = 0; jr < nc; jr += BN_GEMM_NR)
					for (ir = 0; ir < mc; ir += BN_GEMM_MR)
						j->uk(kc, abuf + ir * kc,
						    bbuf + jr * kc,
						    j->c + (ic + ir) * j->ldc +
						    jc + jr, j->ldc,
						    mc - ir < BN_GEMM_MR ?
						    mc - ir : BN_GEMM_MR,
						    nc - jr < BN_GEMM_NR ?
						    nc - jr : BN_GEMM_NR, acc);
			}
		}
	}
}

static void
task(void *ctx, int i, int n)
{
	const struct job *j = ctx;
	float *abuf = j->buf + (size_t)i * (ABUF + BBUF), *bbuf = abuf + ABUF;
	size_t per, lo, hi;

	(void)n;
	n = j->nthreads;
	if (i >= n)
		return;
	/* split the longer side: each thread packs all of the other
	 * operand, so the shorter one should be the one duplicated */
	if (j->N >= j->M) {
		per = (j->N + (size_t)n - 1) / (size_t)n;
		per = (per + BN_GEMM_NR - 1) / BN_GEMM_NR * BN_GEMM_NR;
		lo = (size_t)i * per;
		hi = lo + per < j->N ? lo + per : j->N;
		if (lo < hi)
			part(j, abuf, bbuf, 0, j->M, lo, hi);
	} else {
		per = (j->M + (size_t)n - 1) / (size_t)n;
		per = (per + BN_GEMM_MR - 1) / BN_GEMM_MR * BN_GEMM_MR;
		lo = (size_t)i * per;
		hi = lo + per < j->M ? lo + per : j->M;
		if (lo < hi)
			part(j, abuf, bbuf, lo, hi, 0, j->N);
	}
}

void
bn_sgemm(struct bn_gemm *g, int ta, int tb, size_t M, size_t N, size_t K,
    const float *a, size_t lda, const float *b, size_t ldb, float *c,
    size_t ldc, int acc)
{
	struct job j = { ta, tb, acc, M, N, K, lda, ldb, ldc, a, b, c,
	    bn_k->gemm_uk, g->buf, g->n };
	size_t i;

	if (M == 0 || N == 0)
		return;
	if (K == 0) {
		if (!acc)
			for (i = 0; i < M; i++)
				memset(c + i * ldc, 0, N * sizeof *c);
		return;
	}
	/* small products are not worth waking the pool */
	if (g->pool == NULL || g->n == 1 || M * N * K < 32768) {
		j.nthreads = 1;
		task(&j, 0, 1);
		return;
	}
	bn_pool_run(g->pool, task, &j);
}
