/* t_train.c: the training code's pieces.
 *   - kernels/gemm.c against a double-precision triple loop, for every
 *     transposition and awkward sizes; the same bits with 1 and 3
 *     threads and with the ref and AVX2 micro-kernels;
 *   - every layer's backward in model/layers.inc, instantiated in
 *     double, against central finite differences of its forward
 *     (the quantizers' tests are in t_quant.c). */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "gemm.h"
#include "kernels.h"

static double
ddot(const double *a, const double *b, size_t n)
{
	double s = 0;
	size_t i;

	for (i = 0; i < n; i++)
		s += a[i] * b[i];
	return s;
}

static void
daxpy(double *y, double a, const double *x, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		y[i] += a * x[i];
}

#define REAL double
#define L(name) name##_d
#define SQRT sqrt
#define EXP exp
#define DOT(a, b, n) ddot(a, b, n)
#define AXPY(y, a, x, n) daxpy(y, a, x, n)
#include "layers.inc"

static uint64_t seed = 88172645463325252ull;

static double
rnd(void)	/* uniform in [-1, 1) */
{
	seed ^= seed << 13;
	seed ^= seed >> 7;
	seed ^= seed << 17;
	return (double)(seed >> 11) * 0x1p-52 - 1.0;
}

static void
fill(double *x, size_t n, double scale)
{
	size_t i;

	for (i = 0; i < n; i++)
		x[i] = scale * rnd();
}

/* ---- gemm ---- */

static void
gemm_case(struct bn_gemm *g1, struct bn_gemm *g3, int ta, int tb, size_t M,
    size_t N, size_t K, int acc)
{
	size_t lda = (ta ? M : K) + 3, ldb = (tb ? K : N) + 1, ldc = N + 5;
	size_t asz = (ta ? K : M) * lda, bsz = (tb ? N : K) * ldb, i, j, k;
	size_t csz = M * ldc;
	float *a = malloc(asz * sizeof *a), *b = malloc(bsz * sizeof *b);
	float *c0 = malloc(csz * sizeof *c0), *c1 = malloc(csz * sizeof *c1);
	float *c3 = malloc(csz * sizeof *c3), *c4 = malloc(csz * sizeof *c4);
	const struct bn_kernels *save = bn_k;
	double worst = 0;
	int other, pad_ok = 1;

	for (i = 0; i < asz; i++)
		a[i] = (float)rnd();
	for (i = 0; i < bsz; i++)
		b[i] = (float)rnd();
	for (i = 0; i < csz; i++)
		c0[i] = (float)rnd();
	memcpy(c1, c0, csz * sizeof *c0);
	memcpy(c3, c0, csz * sizeof *c0);
	memcpy(c4, c0, csz * sizeof *c0);
	bn_sgemm(g1, ta, tb, M, N, K, a, lda, b, ldb, c1, ldc, acc);
	bn_sgemm(g3, ta, tb, M, N, K, a, lda, b, ldb, c3, ldc, acc);
	CHECK(memcmp(c1, c3, csz * sizeof *c1) == 0);
	/* the other micro-kernel, where this CPU runs it */
	other = bn_kernels_init(save == &bn_kernels_ref ? "avx2" : "ref") == 0;
	if (other) {
		bn_sgemm(g1, ta, tb, M, N, K, a, lda, b, ldb, c4, ldc, acc);
		CHECK(memcmp(c1, c4, csz * sizeof *c1) == 0);
	}
	bn_k = save;
	for (i = 0; i < M; i++) {
		for (j = 0; j < N; j++) {
			double s = acc ? c0[i * ldc + j] : 0, m = 1 + fabs(s);

			for (k = 0; k < K; k++) {
				double x = ta ? a[k * lda + i] : a[i * lda + k];
				double y = tb ? b[j * ldb + k] : b[k * ldb + j];

				s += x * y;
				m += fabs(x * y);
			}
			s = fabs(c1[i * ldc + j] - s) / m;
			worst = s > worst ? s : worst;
		}
		for (j = N; j < ldc; j++)
			pad_ok &= c1[i * ldc + j] == c0[i * ldc + j];
	}
	CHECK(worst < 1e-6);
	CHECK(pad_ok);
	if (worst >= 1e-6)
		fprintf(stderr, "gemm ta %d tb %d %zux%zux%zu acc %d: %g\n", ta,
		    tb, M, N, K, acc, worst);
	free(a);
	free(b);
	free(c0);
	free(c1);
	free(c3);
	free(c4);
}

/* ---- finite differences (double) ---- */

/* f(x) for the current buffers; the test perturbs x[i] by +-h. */
typedef double (*lossfn)(void *ctx);

static double
fd(lossfn f, void *ctx, double *x, size_t i)
{
	double h = 1e-6 * (1 + fabs(x[i])), v = x[i], p, m;

	x[i] = v + h;
	p = f(ctx);
	x[i] = v - h;
	m = f(ctx);
	x[i] = v;
	return (p - m) / (2 * h);
}

/* max |analytic - numeric| / (1 + max |numeric|) over every element */
static double
fd_all(lossfn f, void *ctx, double *x, const double *grad, size_t n)
{
	double worst = 0, big = 0, d;
	size_t i;

	for (i = 0; i < n; i++) {
		double num = fd(f, ctx, x, i);

		d = fabs(grad[i] - num);
		worst = d > worst ? d : worst;
		big = fabs(num) > big ? fabs(num) : big;
	}
	return worst / (1 + big);
}

/* Each layer's test computes loss = sum(w * y) for a fixed random w,
 * so dL/dy = w. */
#define NR 24
#define TT 7
#define HD 8

struct rmsctx {
	double x[NR], g[NR], w[NR], y[NR];
};

static double
rms_loss(void *p)
{
	struct rmsctx *c = p;

	rms_fwd_d(c->y, c->x, c->g, NR, ddot(c->x, c->x, NR), 1e-5);
	return ddot(c->w, c->y, NR);
}

static void
test_rms(void)
{
	struct rmsctx c;
	double dx[NR], dg[NR] = { 0 }, r;

	fill(c.x, NR, 1);
	fill(c.g, NR, 1);
	fill(c.w, NR, 1);
	r = rms_fwd_d(c.y, c.x, c.g, NR, ddot(c.x, c.x, NR), 1e-5);
	rms_bwd_d(dx, dg, c.w, c.x, c.g, r, NR, 0);
	CHECK(fd_all(rms_loss, &c, c.x, dx, NR) < 1e-8);
	CHECK(fd_all(rms_loss, &c, c.g, dg, NR) < 1e-8);
}

struct actctx {
	double a[NR], u[NR], w[NR], h[NR];
	int relu2;
};

static double
act_loss(void *p)
{
	struct actctx *c = p;

	act_fwd_d(c->h, c->a, c->u, NR, c->relu2);
	return ddot(c->w, c->h, NR);
}

static void
test_act(int relu2)
{
	struct actctx c;
	double da[NR], du[NR];

	fill(c.a, NR, 2);
	fill(c.u, NR, 1);
	fill(c.w, NR, 1);
	c.relu2 = relu2;
	act_bwd_d(da, du, c.w, c.a, c.u, NR, relu2);
	CHECK(fd_all(act_loss, &c, c.a, da, NR) < 1e-8);
	CHECK(fd_all(act_loss, &c, c.u, du, NR) < 1e-8);
}

/* RoPE is a rotation: the backward (inv = 1) is its transpose. */
struct ropectx {
	double v[2 * HD], w[2 * HD], y[2 * HD];
	float cs[HD / 2], sn[HD / 2];
	int il;
};

static double
rope_loss(void *p)
{
	struct ropectx *c = p;

	memcpy(c->y, c->v, sizeof c->y);
	rope_d(c->y, c->cs, c->sn, 2, HD, c->il, 0);
	return ddot(c->w, c->y, 2 * HD);
}

static void
test_rope(int il)
{
	struct ropectx c;
	double g[2 * HD];
	size_t i;

	fill(c.v, 2 * HD, 1);
	fill(c.w, 2 * HD, 1);
	for (i = 0; i < HD / 2; i++) {
		c.cs[i] = cosf(0.7f * (float)(i + 1));
		c.sn[i] = sinf(0.7f * (float)(i + 1));
	}
	c.il = il;
	memcpy(g, c.w, sizeof g);
	rope_d(g, c.cs, c.sn, 2, HD, il, 1);
	CHECK(fd_all(rope_loss, &c, c.v, g, 2 * HD) < 1e-8);
}

/* one head, T positions; q with a wider row stride than k and v */
struct attctx {
	double q[TT * 2 * HD], k[TT * HD], v[TT * HD], w[TT * 2 * HD];
	double o[TT * 2 * HD], P[TT * TT];
};

static double
att_loss(void *p)
{
	struct attctx *c = p;

	memset(c->o, 0, sizeof c->o);
	att_fwd_d(c->o, c->P, c->q, c->k, c->v, TT, HD, 2 * HD, HD);
	return ddot(c->w, c->o, TT * 2 * HD);
}

static void
test_att(void)
{
	struct attctx c;
	double dq[TT * 2 * HD] = { 0 }, dk[TT * HD] = { 0 };
	double dv[TT * HD] = { 0 }, tmp[TT];
	size_t t, i;

	fill(c.q, TT * 2 * HD, 1);
	fill(c.k, TT * HD, 1);
	fill(c.v, TT * HD, 1);
	fill(c.w, TT * 2 * HD, 1);
	/* only the head's own columns of the output count */
	for (t = 0; t < TT; t++)
		for (i = HD; i < 2 * HD; i++)
			c.w[t * 2 * HD + i] = 0;
	att_loss(&c);
	att_bwd_d(dq, dk, dv, c.w, c.P, c.q, c.k, c.v, TT, HD, 2 * HD, HD,
	    tmp);
	CHECK(fd_all(att_loss, &c, c.q, dq, TT * 2 * HD) < 1e-8);
	CHECK(fd_all(att_loss, &c, c.k, dk, TT * HD) < 1e-8);
	CHECK(fd_all(att_loss, &c, c.v, dv, TT * HD) < 1e-8);
}

struct lossctx {
	double z[NR], zt[NR], dz[NR];
	int kd;
	double alpha, tau;
};

static double
lrow_loss(void *p)
{
	struct lossctx *c = p;
	double ce, kl;

	loss_row_d(c->dz, c->z, c->kd ? c->zt : NULL, NR, 5, c->alpha,
	    c->tau, 1, &ce, &kl);
	return c->kd ? c->alpha * ce + (1 - c->alpha) * c->tau * c->tau * kl :
	    ce;
}

static void
test_loss(int kd, double alpha, double tau)
{
	struct lossctx c;
	double g[NR], ce, kl;

	fill(c.z, NR, 3);
	fill(c.zt, NR, 3);
	c.kd = kd;
	c.alpha = alpha;
	c.tau = tau;
	loss_row_d(g, c.z, kd ? c.zt : NULL, NR, 5, alpha, tau, 1, &ce, &kl);
	CHECK(fd_all(lrow_loss, &c, c.z, g, NR) < 1e-8);
	if (kd) {	/* KL(p || p) = 0 */
		memcpy(c.zt, c.z, sizeof c.z);
		loss_row_d(g, c.z, c.zt, NR, 5, alpha, tau, 1, &ce, &kl);
		CHECK(fabs(kl) < 1e-12);
	}
}

int
main(void)
{
	static const size_t sz[][3] = { { 1, 1, 1 }, { 5, 17, 3 },
	    { 6, 16, 256 }, { 7, 33, 257 }, { 100, 70, 300 },
	    { 13, 1030, 40 }, { 200, 9, 600 }, { 97, 129, 513 } };
	struct bn_pool *p3;
	struct bn_gemm *g1, *g3;
	size_t i;
	int ta, tb;

	if (bn_kernels_init(NULL) != 0)
		return 1;
	p3 = bn_pool_create(3);
	g1 = bn_gemm_new(NULL);
	g3 = bn_gemm_new(p3);
	CHECK(p3 != NULL && g1 != NULL && g3 != NULL);
	for (i = 0; i < sizeof sz / sizeof sz[0]; i++)
		for (ta = 0; ta < 2; ta++)
			for (tb = 0; tb < 2; tb++) {
				gemm_case(g1, g3, ta, tb, sz[i][0], sz[i][1],
				    sz[i][2], 0);
				gemm_case(g1, g3, ta, tb, sz[i][0], sz[i][1],
				    sz[i][2], 1);
			}
	bn_gemm_free(g1);
	bn_gemm_free(g3);
	bn_pool_free(p3);
	test_rms();
	test_act(0);
	test_act(1);
	test_rope(0);
	test_rope(1);
	test_att();
	test_loss(0, 1, 1);
	test_loss(1, 0.5, 1);
	test_loss(1, 0.3, 2.5);
	return check_done();
}
