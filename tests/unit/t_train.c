/* t_train.c: the training code's pieces.
 *   - kernels/gemm.c against a double-precision triple loop, for every
 *     transposition and awkward sizes; the same bits with 1 and 3
 *     threads and with the ref and AVX2 micro-kernels;
 *   - every layer's backward in model/layers.inc, instantiated in
 *     double, against central finite differences of its forward
 *     (the quantizers' tests are in t_quant.c);
 *   - whole tiny models (llama, qwen2 with its q/k/v biases, qwen3 with
 *     its per-head q/k norms and heads x head_dim != hidden), float
 *     projections: model/train.c's logits against model/model.c's
 *     bn_forward on the same weights, and against a double-precision
 *     forward written here from layers.inc's pieces; train.c's
 *     gradients (every element of the biases and q/k norms, a few of
 *     every other tensor) against central finite differences of that
 *     double forward's loss; the same gradient bits with 1 and 3
 *     threads. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bnt.h"
#include "check.h"
#include "config.h"
#include "dtype.h"
#include "gemm.h"
#include "kernels.h"
#include "kv.h"
#include "model.h"
#include "roles.h"
#include "train.h"

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

static const char *const tables[] = { "ref", "avx2", "avx512", "neon",
    "neon-dotprod" };

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
	/* every table's micro-kernel this CPU runs: the same bits */
	for (other = 0; other < (int)(sizeof tables / sizeof *tables);
	    other++) {
		if (bn_kernels_init(tables[other]) != 0)
			continue;
		memcpy(c4, c0, csz * sizeof *c0);
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

struct hidctx {
	double s[NR], t[NR];
	int cosine;
};

static double
hrow_loss(void *p)
{
	struct hidctx *c = p;

	return hid_row_d(NULL, c->s, c->t, NR, c->cosine, 1);
}

/* hid_row's gradient (scale 0.7, added to what ds held) against finite
 * differences; MSE 0 and cosine 1 for equal rows, cosine 0 for a row
 * and its negative's, 2. */
static void
test_hid(int cosine)
{
	struct hidctx c;
	double g[NR], g0[NR], w;
	size_t i;

	fill(c.s, NR, 1);
	fill(c.t, NR, 1);
	fill(g0, NR, 1);
	memcpy(g, g0, sizeof g);
	c.cosine = cosine;
	hid_row_d(g, c.s, c.t, NR, cosine, 0.7);
	for (i = 0; i < NR; i++)
		g[i] = (g[i] - g0[i]) / 0.7;
	w = fd_all(hrow_loss, &c, c.s, g, NR);
	CHECK(w < 1e-8);
	fprintf(stderr, "hid_row %s: worst gradient error %.2g (relative "
	    "to 1 + the largest)\n", cosine ? "cos" : "mse", w);
	memcpy(c.t, c.s, sizeof c.s);
	CHECK(fabs(hid_row_d(NULL, c.s, c.t, NR, cosine, 1)) < 1e-12);
	for (i = 0; cosine && i < NR; i++)
		c.t[i] = -2 * c.s[i];
	if (cosine)
		CHECK(fabs(hid_row_d(NULL, c.s, c.t, NR, 1, 1) - 2) < 1e-12);
}

struct relctx {
	double x[TT * 7], y[TT * 6], w[3 * TT * TT + TT * 11 + 4];
	double tau;
};

static double
rel_loss(void *p)
{
	struct relctx *c = p;

	return rel_unit_d(NULL, c->x + 1, 7, 4, c->y, 6, 6, TT, c->tau, 1,
	    c->w);
}

/* rel_unit's gradient (rows of 4 of a stride of 7, at an offset; the
 * teacher's of 6) against finite differences; its KL is 0 against
 * itself. */
static void
test_rel(double tau)
{
	struct relctx c;
	double g[TT * 7], g0[TT * 7], w;
	size_t i;

	fill(c.x, TT * 7, 1);
	fill(c.y, TT * 6, 1);
	fill(g0, TT * 7, 1);
	c.tau = tau;
	memcpy(g, g0, sizeof g);
	rel_unit_d(g + 1, c.x + 1, 7, 4, c.y, 6, 6, TT, tau, 0.7, c.w);
	for (i = 0; i < TT * 7; i++)
		g[i] = (g[i] - g0[i]) / 0.7;
	w = fd_all(rel_loss, &c, c.x, g, TT * 7);
	CHECK(w < 1e-8);
	fprintf(stderr, "rel_unit tau %g: worst gradient error %.2g "
	    "(relative to 1 + the largest)\n", tau, w);
	CHECK(rel_loss(&c) > 1e-3);
	for (i = 0; i < TT; i++)
		memcpy(c.y + i * 6, c.x + 1 + i * 7, 4 * sizeof *c.y);
	CHECK(fabs(rel_unit_d(NULL, c.x + 1, 7, 4, c.y, 6, 4, TT, tau, 1,
	    c.w)) < 1e-12);
}

/* ---- a whole tiny model ---- */

#define MV 13		/* vocab */
#define MT 5		/* tokens a sequence */
#define MB 2		/* sequences */
#define ML 2		/* layers */
#define MNP (2 + ML * BN_R_COUNT + 2)

struct tiny {
	struct bn_config c;
	int np, idx[ML][BN_R_COUNT], emb, onorm, head;
	int role[MNP];
	size_t off[MNP], rows[MNP], cols[MNP], n;
	char name[MNP][64];
	double *w;		/* every parameter, in stream order */
	float *cosv, *sinv;
	int32_t tok[MB * (MT + 1)];
	/* hidden-state distillation (ref_loss adds it with th) */
	const double *th;	/* [nhl][MB * MT][hidden] */
	const int *hl;
	int nhl, hid_cos;
	double hid_weight;
	/* attention-relation distillation (with ta[0]) */
	const double *ta[3];	/* [MB * MT][tdim[j]] */
	size_t tdim[3];
	int att_layer, att_heads;
	double att_weight, att_temp;
};

/* The configuration record of a tiny model. */
static int
tiny_kv(struct bn_kv *kv, int arch, int H, int heads, int kv_heads, int hd,
    int F, int tied)
{
	int st = 0;

	bn_kv_init(kv);
	st |= bn_kv_set(kv, "arch", bn_arch_name(arch));
	st |= bn_kv_setf(kv, "vocab_size", "%d", MV);
	st |= bn_kv_setf(kv, "hidden_size", "%d", H);
	st |= bn_kv_setf(kv, "n_layers", "%d", ML);
	st |= bn_kv_setf(kv, "n_heads", "%d", heads);
	st |= bn_kv_setf(kv, "n_kv_heads", "%d", kv_heads);
	st |= bn_kv_setf(kv, "head_dim", "%d", hd);
	st |= bn_kv_setf(kv, "ffn_size", "%d", F);
	st |= bn_kv_setf(kv, "ctx_len", "%d", MT + 3);
	st |= bn_kv_set(kv, "norm_eps", "1e-06");
	st |= bn_kv_set(kv, "rope_theta", "10000");
	st |= bn_kv_setf(kv, "tie_embeddings", "%d", tied);
	return st;
}

static void
tiny_add(struct tiny *m, int id, int l, const struct bn_dims *d)
{
	uint64_t rows, cols;
	int i = m->np++;

	bn_role_shape(id, d, &rows, &cols);
	bn_role_name(id, l, m->name[i], sizeof m->name[i]);
	m->role[i] = id;
	m->rows[i] = rows ? (size_t)rows : 1;
	m->cols[i] = (size_t)cols;
	m->off[i] = m->n;
	m->n += m->rows[i] * m->cols[i];
	if (bn_roles[id].layer)
		m->idx[l][id] = i;
}

/* The parameters in the table's order (the trainer's too), random:
 * matrices and biases around 0, norms around 1, all f32 values. */
static int
tiny_make(struct tiny *m, const struct bn_kv *kv)
{
	struct bn_dims d;
	struct bn_err e;
	size_t i, j;
	int id, l;

	memset(m, 0, sizeof *m);
	if (bn_config_from_kv(&m->c, kv, &e) != BN_OK) {
		fprintf(stderr, "tiny: %s\n", e.msg);
		return -1;
	}
	bn_dims_from_config(&d, &m->c);
	tiny_add(m, BN_R_TOKEN_EMBD, 0, &d);
	m->emb = 0;
	for (l = 0; l < ML; l++)
		for (id = 0; id < BN_R_COUNT; id++) {
			m->idx[l][id] = -1;
			if (bn_roles[id].layer &&
			    bn_role_present(id, m->c.arch, m->c.tied))
				tiny_add(m, id, l, &d);
		}
	m->onorm = m->np;
	tiny_add(m, BN_R_OUTPUT_NORM, 0, &d);
	m->head = m->emb;
	if (!m->c.tied) {
		m->head = m->np;
		tiny_add(m, BN_R_OUTPUT, 0, &d);
	}
	m->w = malloc(m->n * sizeof *m->w);
	m->cosv = malloc(MT * (size_t)m->c.head_dim / 2 * sizeof(float));
	m->sinv = malloc(MT * (size_t)m->c.head_dim / 2 * sizeof(float));
	if (m->w == NULL || m->cosv == NULL || m->sinv == NULL)
		return -1;
	for (i = 0; i < (size_t)m->np; i++) {
		int kind = bn_roles[m->role[i]].kind;

		for (j = 0; j < m->rows[i] * m->cols[i]; j++)
			m->w[m->off[i] + j] = (float)(kind == BN_ROLE_NORM ?
			    1 + 0.25 * rnd() : kind == BN_ROLE_BIAS ?
			    0.4 * rnd() : 0.5 * rnd());
	}
	bn_rope_table(&m->c, MT, m->cosv, m->sinv);
	for (i = 0; i < MB * (MT + 1); i++) {
		rnd();
		m->tok[i] = (int32_t)((seed >> 20) % MV);
	}
	return 0;
}

static void
tiny_free(struct tiny *m)
{
	free(m->w);
	free(m->cosv);
	free(m->sinv);
}

static int
tiny_write(const struct tiny *m, const struct bn_kv *kv, const char *path)
{
	struct bnt_writer *w;
	struct bn_err e;
	FILE *fp;
	float *buf;
	int i, st;

	if ((fp = fopen(path, "wb")) == NULL)
		return -1;
	w = bnt_writer_open(fp, 0);
	st = w == NULL || bnt_write_config(w, kv) != BN_OK;
	for (i = 0; i < m->np && !st; i++) {
		struct bnt_tensor t;
		size_t j, n = m->rows[i] * m->cols[i];

		memset(&t, 0, sizeof t);
		t.name = m->name[i];
		t.dtype = BN_DTYPE_F32;
		t.ndim = bn_roles[m->role[i]].rows ? 2 : 1;
		t.dims[0] = t.ndim == 2 ? m->rows[i] : m->cols[i];
		t.dims[1] = m->cols[i];
		if (bnt_tensor_layout(&t, &e) != BN_OK ||
		    (buf = malloc(n * sizeof *buf)) == NULL) {
			st = 1;
			break;
		}
		for (j = 0; j < n; j++)
			buf[j] = (float)m->w[m->off[i] + j];
		st = bnt_write_tensor(w, &t, buf, NULL) != BN_OK;
		free(buf);
	}
	st = st || bnt_writer_finish(w) != BN_OK;
	bnt_writer_free(w);
	return fclose(fp) != 0 || st ? -1 : 0;
}

static const double *
P(const struct tiny *m, int i)
{
	return i < 0 ? NULL : m->w + m->off[i];
}

/* y[r] = W x (+ b) for W [rows][n] */
static void
matvec(double *y, const double *W, const double *b, const double *x,
    size_t rows, size_t n)
{
	size_t r;

	for (r = 0; r < rows; r++)
		y[r] = ddot(W + r * n, x, n) + (b != NULL ? b[r] : 0);
}

/* The mean cross-entropy of the batch by the model's equations in
 * double (the llama forward plus qwen2's biases after the q, k and v
 * projections and qwen3's RMSNorm of each head of q and k before
 * RoPE); logits [MB][MT][MV] if not NULL. */
static double
ref_loss(const struct tiny *m, double *logits)
{
	const struct bn_config *c = &m->c;
	size_t H = (size_t)c->hidden, F = (size_t)c->ffn;
	size_t hd = (size_t)c->head_dim, half = hd / 2;
	size_t nh = (size_t)c->heads, nkv = (size_t)c->kv_heads;
	size_t Q = nh * hd, KV = nkv * hd, b, t, l, j;
	double eps = (double)c->norm_eps, sum = 0, hid = 0, rel = 0, ce, kl;
	double *rw = malloc((3 * MT * MT + MT * (2 * Q + 1) + Q) *
	    sizeof *rw);
	double *x = malloc(MT * H * sizeof *x), *h = malloc(H * sizeof *h);
	double *q = malloc(MT * Q * sizeof *q), *k = malloc(MT * KV *
	    sizeof *k), *v = malloc(MT * KV * sizeof *v);
	double *o = malloc(MT * Q * sizeof *o), *Pm = malloc(MT * MT *
	    sizeof *Pm), *a = malloc(F * sizeof *a), *u = malloc(F *
	    sizeof *u), *g = malloc(F * sizeof *g), *y = malloc((H > MV ?
	    H : MV) * sizeof *y), z[MV], dz[MV];

	for (b = 0; b < MB; b++) {
		const int32_t *tk = m->tok + b * (MT + 1);

		for (t = 0; t < MT; t++)
			memcpy(x + t * H, P(m, m->emb) + (size_t)tk[t] * H,
			    H * sizeof *x);
		for (l = 0; l < ML; l++) {
			const int *I = m->idx[l];

			for (t = 0; t < MT; t++) {
				double *qt = q + t * Q, *kt = k + t * KV;

				rms_fwd_d(h, x + t * H, P(m, I[BN_R_ATTN_NORM]),
				    H, ddot(x + t * H, x + t * H, H), eps);
				matvec(qt, P(m, I[BN_R_ATTN_Q]),
				    P(m, I[BN_R_ATTN_Q_BIAS]), h, Q, H);
				matvec(kt, P(m, I[BN_R_ATTN_K]),
				    P(m, I[BN_R_ATTN_K_BIAS]), h, KV, H);
				matvec(v + t * KV, P(m, I[BN_R_ATTN_V]),
				    P(m, I[BN_R_ATTN_V_BIAS]), h, KV, H);
				for (j = 0; I[BN_R_ATTN_Q_NORM] >= 0 && j < nh;
				    j++)
					rms_fwd_d(qt + j * hd, qt + j * hd,
					    P(m, I[BN_R_ATTN_Q_NORM]), hd,
					    ddot(qt + j * hd, qt + j * hd, hd),
					    eps);
				for (j = 0; I[BN_R_ATTN_K_NORM] >= 0 && j < nkv;
				    j++)
					rms_fwd_d(kt + j * hd, kt + j * hd,
					    P(m, I[BN_R_ATTN_K_NORM]), hd,
					    ddot(kt + j * hd, kt + j * hd, hd),
					    eps);
				rope_d(qt, m->cosv + t * half, m->sinv +
				    t * half, nh, hd, c->rope_interleaved, 0);
				rope_d(kt, m->cosv + t * half, m->sinv +
				    t * half, nkv, hd, c->rope_interleaved, 0);
			}
			/* q, k (after RoPE) and v against the teacher's */
			for (j = 0; m->ta[0] != NULL && (int)l ==
			    m->att_layer && j < 3 * (size_t)m->att_heads;
			    j++) {
				size_t kk = j / (size_t)m->att_heads, ah = j %
				    (size_t)m->att_heads, ld = kk ? KV : Q;
				size_t lt = m->tdim[kk];
				size_t A = (size_t)m->att_heads;

				rel += rel_unit_d(NULL, (kk == 0 ? q : kk == 1 ?
				    k : v) + ah * (ld / A), ld, ld / A,
				    m->ta[kk] + b * MT * lt + ah * (lt / A), lt,
				    lt / A, MT, m->att_temp, 1, rw);
			}
			for (j = 0; j < nh; j++) {
				size_t kg = j / (nh / nkv) * hd;

				att_fwd_d(o + j * hd, Pm, q + j * hd, k + kg,
				    v + kg, MT, hd, Q, KV);
			}
			for (t = 0; t < MT; t++) {
				double *xt = x + t * H;

				matvec(y, P(m, I[BN_R_ATTN_OUTPUT]), NULL,
				    o + t * Q, H, Q);
				for (j = 0; j < H; j++)
					xt[j] += y[j];
				rms_fwd_d(h, xt, P(m, I[BN_R_FFN_NORM]), H,
				    ddot(xt, xt, H), eps);
				matvec(a, P(m, I[BN_R_FFN_GATE]), NULL, h, F,
				    H);
				matvec(u, P(m, I[BN_R_FFN_UP]), NULL, h, F, H);
				act_fwd_d(g, a, u, F, c->act == BN_ACT_RELU2);
				matvec(y, P(m, I[BN_R_FFN_DOWN]), NULL, g, H,
				    F);
				for (j = 0; j < H; j++)
					xt[j] += y[j];
			}
			/* layer l's output against the teacher's */
			for (j = 0; m->th != NULL && j < (size_t)m->nhl; j++)
				for (t = 0; m->hl[j] == (int)l && t < MT; t++)
					hid += hid_row_d(NULL, x + t * H,
					    m->th + (j * MB * MT + b * MT + t) *
					    H, H, m->hid_cos, 1);
		}
		for (t = 0; t < MT; t++) {
			rms_fwd_d(h, x + t * H, P(m, m->onorm), H,
			    ddot(x + t * H, x + t * H, H), eps);
			matvec(z, P(m, m->head), NULL, h, MV, H);
			if (logits != NULL)
				memcpy(logits + (b * MT + t) * MV, z,
				    sizeof z);
			loss_row_d(dz, z, NULL, MV, tk[t + 1], 1, 1, 1, &ce,
			    &kl);
			sum += ce;
		}
	}
	free(x);
	free(h);
	free(q);
	free(k);
	free(v);
	free(o);
	free(Pm);
	free(a);
	free(u);
	free(g);
	free(y);
	free(rw);
	return sum / (MB * MT) + (m->th != NULL ? m->hid_weight * hid /
	    (MB * MT) / m->nhl : 0) + (m->ta[0] != NULL ? m->att_weight *
	    rel / (MB * MT * m->att_heads) : 0);
}

static double
ref_loss_cb(void *p)
{
	return ref_loss(p, NULL);
}

/* One tiny model of arch: logits of train.c against model.c and the
 * double forward, train.c's gradients against finite differences. */
static void
test_model(int arch, int H, int heads, int kv_heads, int hd, int F,
    int tied)
{
	char path[] = "/tmp/t_train.XXXXXX";
	struct tiny m;
	struct bn_kv kv;
	struct bn_err e;
	struct bn_model md;
	struct bn_state *st;
	struct bnt_map map;
	struct bn_train *t, *t1;
	double *ref = malloc(MB * MT * MV * sizeof *ref), ce, loss, worst;
	float *lg = malloc(MB * MT * MV * sizeof *lg);
	size_t i, j, b;
	int fh, names = 1, newkind = 0, same;

	CHECK(ref != NULL && lg != NULL);
	CHECK(tiny_kv(&kv, arch, H, heads, kv_heads, hd, F, tied) == 0);
	CHECK(tiny_make(&m, &kv) == 0);
	CHECK((fh = mkstemp(path)) >= 0);
	close(fh);
	CHECK(tiny_write(&m, &kv, path) == 0);
	bn_kv_free(&kv);

	/* model.c, one sequence at a time */
	CHECK(bn_model_open(&md, path, &e) == BN_OK);
	CHECK(bn_state_new(&st, &md, MT, MT, 1, &e) == BN_OK);
	for (b = 0; b < MB; b++) {
		bn_state_reset(st);
		CHECK(bn_forward(&md, st, m.tok + b * (MT + 1), MT,
		    lg + b * MT * MV, 1) == BN_OK);
	}
	bn_state_free(st);
	bn_model_close(&md);
	loss = ref_loss(&m, ref);

	/* train.c: the same tensors in the same order, the same logits */
	CHECK(bnt_map_open(&map, path, 0, &e) == BN_OK);
	CHECK(bn_train_new(&t, &map, BN_TQ_FLOAT, MB, MT, 3, &e) == BN_OK);
	CHECK(bn_train_new(&t1, &map, BN_TQ_FLOAT, MB, MT, 1, &e) == BN_OK);
	CHECK(t->np == m.np && t->n == m.n);
	for (i = 0; i < (size_t)m.np; i++)
		names &= strcmp(t->p[i].name, m.name[i]) == 0 &&
		    t->p[i].off == m.off[i] && !t->p[i].quant;
	CHECK(names);
	CHECK(fabs(bn_train_step(t, m.tok, MB, NULL, 1, 1, 0, &ce, NULL) -
	    loss) < 1e-5);
	for (worst = 0, i = 0; i < MB * MT * MV; i++) {
		worst = fmax(worst, fabs((double)t->logits[i] - lg[i]));
		worst = fmax(worst, fabs((double)t->logits[i] - ref[i]) / 4);
	}
	CHECK(worst <= 1e-5);
	if (worst > 1e-5)
		fprintf(stderr, "%s: logits differ by %g\n",
		    bn_arch_name(arch), worst);

	/* gradients: every element of the new kinds, three of the rest */
	bn_train_step(t, m.tok, MB, NULL, 1, 1, 1, NULL, NULL);
	bn_train_step(t1, m.tok, MB, NULL, 1, 1, 1, NULL, NULL);
	same = memcmp(t->g, t1->g, t->n * sizeof *t->g) == 0;
	CHECK(same);
	for (worst = 0, i = 0; i < (size_t)m.np; i++) {
		int kind = bn_roles[m.role[i]].kind, all = kind ==
		    BN_ROLE_BIAS || m.role[i] == BN_R_ATTN_Q_NORM ||
		    m.role[i] == BN_R_ATTN_K_NORM;
		size_t n = m.rows[i] * m.cols[i];
		size_t step = all || n < 3 ? 1 : (n - 1) / 2;
		double big = 0, err = 0;

		newkind += all;
		for (j = 0; j < n; j += step) {
			size_t at = m.off[i] + j;
			double num = fd(ref_loss_cb, &m, m.w + at, 0);

			big = fmax(big, fabs(num));
			err = fmax(err, fabs(num - (double)t->g[at]));
		}
		err /= 1e-3 + big;
		if (err > 1e-4)
			fprintf(stderr, "%s: %s: gradient off by %g\n",
			    bn_arch_name(arch), m.name[i], err);
		worst = fmax(worst, err);
	}
	CHECK(worst <= 1e-4);
	CHECK(newkind == (arch == BN_ARCH_QWEN2 ? 3 * ML : arch ==
	    BN_ARCH_QWEN3 ? 2 * ML : 0));
	bn_train_free(t);
	bn_train_free(t1);
	bnt_map_close(&map);
	unlink(path);
	tiny_free(&m);
	free(ref);
	free(lg);
}

/* Hidden-state distillation through the whole model: train.c's loss
 * and every tensor's gradient (a few elements each) with the term on
 * layers hl against ref_loss's, by central finite differences in
 * double.  Float projections, so the loss is smooth. */
static void
test_hid_model(int arch, int H, int heads, int kv_heads, int hd, int F,
    int cosine)
{
	static const int hl[] = { 1, 0 };
	char path[] = "/tmp/t_train.XXXXXX";
	struct tiny m;
	struct bn_kv kv;
	struct bn_err e;
	struct bnt_map map;
	struct bn_train *t;
	size_t nth = 2 * MB * MT * (size_t)H, i, j;
	double *th = malloc(nth * sizeof *th), loss, worst = 0, ce;
	float *thf = malloc(nth * sizeof *thf);
	int fh;

	CHECK(th != NULL && thf != NULL);
	CHECK(tiny_kv(&kv, arch, H, heads, kv_heads, hd, F, 0) == 0);
	CHECK(tiny_make(&m, &kv) == 0);
	CHECK((fh = mkstemp(path)) >= 0);
	close(fh);
	CHECK(tiny_write(&m, &kv, path) == 0);
	bn_kv_free(&kv);
	for (i = 0; i < nth; i++) {	/* f32 values, as hidden states */
		thf[i] = (float)(1.5 * rnd());
		th[i] = thf[i];
	}
	m.th = th;
	m.hl = hl;
	m.nhl = 2;
	m.hid_cos = cosine;
	m.hid_weight = 0.7;
	CHECK(bnt_map_open(&map, path, 0, &e) == BN_OK);
	CHECK(bn_train_new(&t, &map, BN_TQ_FLOAT, MB, MT, 2, &e) == BN_OK);
	t->th = thf;
	t->hl = hl;
	t->nhl = 2;
	t->hid_cos = cosine;
	t->hid_weight = 0.7f;
	loss = ref_loss(&m, NULL);
	CHECK(fabs(bn_train_step(t, m.tok, MB, NULL, 1, 1, 1, &ce, NULL) -
	    loss) < 1e-5);
	CHECK(t->hid_loss > 1e-3);	/* the term is there */
	for (i = 0; i < (size_t)m.np; i++) {
		size_t n = m.rows[i] * m.cols[i];
		size_t step = n < 3 ? 1 : (n - 1) / 2;
		double big = 0, err = 0;

		for (j = 0; j < n; j += step) {
			size_t at = m.off[i] + j;
			double num = fd(ref_loss_cb, &m, m.w + at, 0);

			big = fmax(big, fabs(num));
			err = fmax(err, fabs(num - (double)t->g[at]));
		}
		err /= 1e-3 + big;
		if (err > 1e-4)
			fprintf(stderr, "hidden %s: %s: gradient off by %g\n",
			    cosine ? "cos" : "mse", m.name[i], err);
		worst = fmax(worst, err);
	}
	CHECK(worst <= 1e-4);
	fprintf(stderr, "hidden %s, %s: worst relative gradient error %.2g "
	    "over %d tensors\n", cosine ? "cos" : "mse", bn_arch_name(arch),
	    worst, m.np);
	/* without the term, the plain loss */
	t->th = NULL;
	m.th = NULL;
	CHECK(fabs(bn_train_step(t, m.tok, MB, NULL, 1, 1, 0, NULL, NULL) -
	    ref_loss(&m, NULL)) < 1e-5);
	bn_train_free(t);
	bnt_map_close(&map);
	unlink(path);
	tiny_free(&m);
	free(th);
	free(thf);
}

/* Attention-relation distillation through the whole model at layer
 * al, a teacher of other widths: train.c's loss and gradients against
 * ref_loss's by central finite differences in double. */
static void
test_rel_model(int arch, int H, int heads, int kv_heads, int hd, int F,
    int al, double temp)
{
	char path[] = "/tmp/t_train.XXXXXX";
	const size_t tdim[3] = { 12, 8, 4 };
	struct tiny m;
	struct bn_kv kv;
	struct bn_err e;
	struct bnt_map map;
	struct bn_train *t;
	double *ta[3], loss, worst = 0;
	float *taf[3];
	size_t i, j, k;
	int fh;

	CHECK(tiny_kv(&kv, arch, H, heads, kv_heads, hd, F, 0) == 0);
	CHECK(tiny_make(&m, &kv) == 0);
	CHECK((fh = mkstemp(path)) >= 0);
	close(fh);
	CHECK(tiny_write(&m, &kv, path) == 0);
	bn_kv_free(&kv);
	for (k = 0; k < 3; k++) {
		ta[k] = malloc(MB * MT * tdim[k] * sizeof *ta[k]);
		taf[k] = malloc(MB * MT * tdim[k] * sizeof *taf[k]);
		CHECK(ta[k] != NULL && taf[k] != NULL);
		for (i = 0; i < MB * MT * tdim[k]; i++) {
			taf[k][i] = (float)rnd();
			ta[k][i] = taf[k][i];
		}
		m.ta[k] = ta[k];
		m.tdim[k] = tdim[k];
	}
	m.att_layer = al;
	m.att_heads = 4;
	m.att_weight = 0.7;
	m.att_temp = temp;
	CHECK(bnt_map_open(&map, path, 0, &e) == BN_OK);
	CHECK(bn_train_new(&t, &map, BN_TQ_FLOAT, MB, MT, 2, &e) == BN_OK);
	CHECK(bn_train_attn(t, al, 4, 0.7f, (float)temp, tdim, &e) == BN_OK);
	for (k = 0; k < 3; k++)
		t->ta[k] = taf[k];
	loss = ref_loss(&m, NULL);
	CHECK(fabs(bn_train_step(t, m.tok, MB, NULL, 1, 1, 1, NULL, NULL) -
	    loss) < 1e-5);
	CHECK(t->att_loss > 1e-3);
	for (i = 0; i < (size_t)m.np; i++) {
		size_t n = m.rows[i] * m.cols[i];
		size_t step = n < 3 ? 1 : (n - 1) / 2;
		double big = 0, err = 0;

		for (j = 0; j < n; j += step) {
			size_t at = m.off[i] + j;
			double num = fd(ref_loss_cb, &m, m.w + at, 0);

			big = fmax(big, fabs(num));
			err = fmax(err, fabs(num - (double)t->g[at]));
		}
		err /= 1e-3 + big;
		if (err > 1e-4)
			fprintf(stderr, "relation: %s: gradient off by %g\n",
			    m.name[i], err);
		worst = fmax(worst, err);
	}
	CHECK(worst <= 1e-4);
	fprintf(stderr, "relation, %s, layer %d, temperature %g: worst "
	    "relative gradient error %.2g over %d tensors\n",
	    bn_arch_name(arch), al, temp, worst, m.np);
	/* widths that 4 relation heads do not split */
	CHECK(bn_train_attn(t, al, 3, 1, 1, tdim, &e) == BN_EUSAGE);
	CHECK(bn_train_attn(t, ML, 4, 1, 1, tdim, &e) == BN_EUSAGE);
	bn_train_free(t);
	bnt_map_close(&map);
	unlink(path);
	tiny_free(&m);
	for (k = 0; k < 3; k++) {
		free(ta[k]);
		free(taf[k]);
	}
}

/* The lambda warm-up: bn_train_lambda's values at steps 0, N/2 and N
 * by hand, then the forward's weights W + lambda (Q(W) - W) at such a
 * step against the quantized weights (lambda 1) and the masters, and
 * lambda 0 the float forward bit for bit. */
static void
test_lambda(void)
{
	char path[] = "/tmp/t_train.XXXXXX";
	struct tiny m;
	struct bn_kv kv;
	struct bn_err e;
	struct bnt_map map;
	struct bn_train *tf, *t1, *tl;
	const int N = 10;
	float lam;
	size_t k;
	int fh, i, exact = 1, quant = 0, s;

	/* linear s / N; sigmoid 1 / (1 + exp(-100 (s / N - 0.5))) */
	CHECK(bn_train_lambda(0, N, BN_LAMBDA_LINEAR) == 0.0f);
	CHECK(bn_train_lambda(N / 2, N, BN_LAMBDA_LINEAR) == 0.5f);
	CHECK(bn_train_lambda(3, N, BN_LAMBDA_LINEAR) == 0.3f);
	CHECK(bn_train_lambda(N, N, BN_LAMBDA_LINEAR) == 1.0f);
	CHECK(bn_train_lambda(N + 7, N, BN_LAMBDA_LINEAR) == 1.0f);
	/* 1 / (1 + e^50) = 1.9287498479639178e-22 */
	CHECK(fabs(bn_train_lambda(0, N, BN_LAMBDA_SIGMOID) /
	    1.9287498479639178e-22 - 1) < 1e-6);
	CHECK(bn_train_lambda(N / 2, N, BN_LAMBDA_SIGMOID) == 0.5f);
	/* step 4 of 10: 1 / (1 + e^10) = 4.5397868702434395e-05 */
	CHECK(fabs(bn_train_lambda(4, N, BN_LAMBDA_SIGMOID) /
	    4.5397868702434395e-05 - 1) < 1e-6);
	CHECK(bn_train_lambda(N, N, BN_LAMBDA_SIGMOID) == 1.0f);
	CHECK(bn_train_lambda(0, 0, BN_LAMBDA_SIGMOID) == 1.0f);
	CHECK(bn_train_lambda(0, 0, BN_LAMBDA_LINEAR) == 1.0f);

	CHECK(tiny_kv(&kv, BN_ARCH_LLAMA, 16, 4, 2, 4, 24, 0) == 0);
	CHECK(tiny_make(&m, &kv) == 0);
	CHECK((fh = mkstemp(path)) >= 0);
	close(fh);
	CHECK(tiny_write(&m, &kv, path) == 0);
	bn_kv_free(&kv);
	CHECK(bnt_map_open(&map, path, 0, &e) == BN_OK);
	CHECK(bn_train_new(&tf, &map, BN_TQ_FLOAT, MB, MT, 2, &e) == BN_OK);
	CHECK(bn_train_new(&t1, &map, BN_TQ_TERNARY, MB, MT, 2, &e) ==
	    BN_OK);
	CHECK(bn_train_new(&tl, &map, BN_TQ_TERNARY, MB, MT, 2, &e) ==
	    BN_OK);
	CHECK(t1->lambda == 1.0f);
	bn_train_step(tf, m.tok, MB, NULL, 1, 1, 0, NULL, NULL);
	bn_train_step(t1, m.tok, MB, NULL, 1, 1, 0, NULL, NULL);
	for (s = 0; s <= N; s += N / 2) {
		lam = tl->lambda = bn_train_lambda(s, N, s == N / 2 ?
		    BN_LAMBDA_SIGMOID : BN_LAMBDA_LINEAR);
		bn_train_step(tl, m.tok, MB, NULL, 1, 1, 0, NULL, NULL);
		for (i = 0; i < tl->np; i++) {
			const struct bn_tparam *p = &tl->p[i];

			quant += p->quant;
			for (k = 0; p->quant && k < p->rows * p->cols; k++) {
				float w = tl->w[p->off + k];
				float q = t1->wq[p->off + k];

				/* at 1, Q(W) itself: W + (Q(W) - W) may
				 * round away from it */
				exact &= tl->wq[p->off + k] == (lam < 1 ?
				    w + lam * (q - w) : q);
			}
		}
		if (s == 0)	/* lambda 0: the float forward */
			CHECK(memcmp(tl->logits, tf->logits, MB * MT * MV *
			    sizeof(float)) == 0);
		if (s == N)	/* lambda 1: the quantized forward */
			CHECK(memcmp(tl->logits, t1->logits, MB * MT * MV *
			    sizeof(float)) == 0);
	}
	CHECK(exact);
	CHECK(quant == 3 * 7 * ML);
	bn_train_free(tf);
	bn_train_free(t1);
	bn_train_free(tl);
	bnt_map_close(&map);
	unlink(path);
	tiny_free(&m);
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
	test_lambda();
	test_hid(0);
	test_hid(1);
	test_hid_model(BN_ARCH_LLAMA, 16, 4, 2, 4, 24, 0);
	test_hid_model(BN_ARCH_LLAMA, 16, 4, 2, 4, 24, 1);
	test_hid_model(BN_ARCH_QWEN3, 16, 4, 2, 6, 24, 1);
	test_rel(1);
	test_rel(0.3);
	test_rel_model(BN_ARCH_LLAMA, 16, 4, 2, 4, 24, 0, 1);
	test_rel_model(BN_ARCH_LLAMA, 16, 4, 2, 4, 24, 1, 0.5);
	test_rel_model(BN_ARCH_QWEN3, 16, 4, 2, 6, 24, 1, 1);
	/* arch, hidden, heads, kv heads, head_dim, ffn, tied */
	test_model(BN_ARCH_LLAMA, 16, 4, 2, 4, 24, 0);
	test_model(BN_ARCH_QWEN2, 16, 4, 2, 4, 24, 0);
	test_model(BN_ARCH_QWEN2, 16, 4, 2, 4, 24, 1);
	test_model(BN_ARCH_QWEN3, 16, 4, 2, 6, 24, 0);
	/* half a head (10) wider than the hidden size (8) */
	test_model(BN_ARCH_QWEN3, 8, 2, 1, 20, 12, 1);
	return check_done();
}
