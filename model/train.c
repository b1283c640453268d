/* train.c: quantization-aware training (train.h).  The structure is
 * llm.c's: one flat array of parameters and one of gradients, a
 * forward pass that keeps what the backward pass needs, and the
 * backward pass in reverse order.  Products go through kernels/gemm.c;
 * per-row layers are model/layers.inc.  BitLinear (bnquant(1)):
 * the forward uses the dequantized weights Q(W) and activations Q(x);
 * the backward is the float backward at those tensors, and the
 * gradient of Q(W) is the gradient of W (identity STE).
 *
 * Every reduction has one order whatever the number of threads (work
 * is split by rows, columns or heads, never inside a sum), so a run
 * repeats bit for bit. */
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dtype.h"
#include "gemm.h"
#include "model.h"
#include "quant.h"
#include "roles.h"
#include "train.h"

#define REAL float
#define L(name) name##_f
#define SQRT sqrtf
#define EXP expf
#define DOT(a, b, n) bn_k->dot_f32(a, b, n)
#define AXPY(y, a, x, n) bn_k->axpy_f32(y, a, x, n)
#include "layers.inc"
#undef REAL
#undef L
#undef SQRT
#undef EXP
#undef DOT
#undef AXPY

struct bn_train_layer {
	int an, q, k, v, o, asn, fn, gate, up, down, fsn;	/* params */
	int qb, kb, vb;		/* qwen2's q, k, v biases, or -1 */
	int qn, kn;		/* qwen3's per-head q and k norms, or -1 */
	/* kept activations, N rows each */
	float *xin, *r1, *xa, *q_, *k_, *v_, *P, *ao, *ra, *oa;
	float *xmid, *r2, *fa, *ga, *ua, *h, *rh, *da;
	/* qwen3: q and k before their norms, and each head's rstd */
	float *qp, *kp, *rq, *rk;
};

/* the final norm's input, rstd and output */
struct fin {
	float *x, *r, *xf;
};

#define NROWS(t) ((size_t)(t)->B * (size_t)(t)->T)

static size_t
add_param(struct bn_train *t, const char *name, size_t rows, size_t cols,
    int ndim, int quant)
{
	struct bn_tparam *p = &t->p[t->np];

	snprintf(p->name, sizeof p->name, "%s", name);
	p->rows = rows;
	p->cols = cols;
	p->ndim = ndim;
	p->quant = quant;
	p->off = t->n;
	t->n += rows * cols;
	return (size_t)t->np++;
}

/* Where each per-layer role's parameter index is in struct
 * bn_train_layer: 1 + the offset, so that 0 says a role has no place
 * here. */
#define SLOT(m) (1 + offsetof(struct bn_train_layer, m))
static const size_t param_off[BN_R_COUNT] = {
	[BN_R_ATTN_NORM] = SLOT(an),
	[BN_R_ATTN_Q] = SLOT(q),
	[BN_R_ATTN_Q_BIAS] = SLOT(qb),
	[BN_R_ATTN_K] = SLOT(k),
	[BN_R_ATTN_K_BIAS] = SLOT(kb),
	[BN_R_ATTN_V] = SLOT(v),
	[BN_R_ATTN_V_BIAS] = SLOT(vb),
	[BN_R_ATTN_Q_NORM] = SLOT(qn),
	[BN_R_ATTN_K_NORM] = SLOT(kn),
	[BN_R_ATTN_SUB_NORM] = SLOT(asn),
	[BN_R_ATTN_OUTPUT] = SLOT(o),
	[BN_R_FFN_NORM] = SLOT(fn),
	[BN_R_FFN_GATE] = SLOT(gate),
	[BN_R_FFN_UP] = SLOT(up),
	[BN_R_FFN_SUB_NORM] = SLOT(fsn),
	[BN_R_FFN_DOWN] = SLOT(down),
};
#undef SLOT

/* The member of S holding role id's parameter index; NULL if none. */
static int *
layer_param(struct bn_train_layer *S, int id)
{
	return param_off[id] ? (int *)(void *)((char *)S + param_off[id] -
	    1) : NULL;
}

/* Add role id of layer l with its shape; a projection is quantized if
 * bl.  Its index into t->p. */
static int
add_role(struct bn_train *t, int id, int l, const struct bn_dims *d,
    int bl)
{
	char name[64];
	uint64_t rows, cols;

	bn_role_shape(id, d, &rows, &cols);
	return (int)add_param(t, bn_role_name(id, l, name, sizeof name),
	    rows ? (size_t)rows : 1, (size_t)cols, rows ? 2 : 1,
	    bl && bn_role_is_proj(id));
}

int
bn_train_find(const struct bn_train *t, const char *name)
{
	int i;

	for (i = 0; i < t->np; i++)
		if (strcmp(t->p[i].name, name) == 0)
			return i;
	return -1;
}

static int
load_param(struct bn_train *t, const struct bnt_map *map, int i,
    struct bn_err *e)
{
	const struct bn_tparam *p = &t->p[i];
	const struct bnt_map_tensor *m = bnt_map_find(map, p->name);
	uint64_t rows, n;
	size_t r;

	if (m == NULL)
		return bn_seterr(e, BN_EFORMAT, "no tensor '%s'", p->name);
	rows = m->t.rows;
	n = m->t.row_len;
	if (m->t.ndim > 2 || rows != p->rows || n != p->cols)
		return bn_seterr(e, BN_EFORMAT, "tensor '%s': shape does not "
		    "match the configuration", p->name);
	if (m->t.dtype == BN_DTYPE_F64 || m->t.dtype == BN_DTYPE_I32 ||
	    m->t.dtype == BN_DTYPE_I64 || m->t.dtype == BN_DTYPE_U8)
		return bn_seterr(e, BN_EUNSUPPORTED, "tensor '%s': type %s "
		    "cannot be trained", p->name,
		    bn_dtype_traits(m->t.dtype)->name);
	for (r = 0; r < p->rows; r++)
		bnt_map_row_f32(m, r, t->w + p->off + r * p->cols);
	return BN_OK;
}

/* Carve n floats out of the activation arena. */
static float *
carve(float **cur, size_t n)
{
	float *p = *cur;

	*cur += (n + 15) & ~(size_t)15;
	return p;
}

static size_t
layer_floats(const struct bn_train *t)
{
	const struct bn_config *c = &t->c;
	size_t N = NROWS(t), C = (size_t)c->hidden, F = (size_t)c->ffn;
	size_t qd = (size_t)c->heads * (size_t)c->head_dim;
	size_t kvd = (size_t)c->kv_heads * (size_t)c->head_dim;
	size_t per = 3 * C + 3 * qd + 2 * kvd + C + C + 4 * F + 4 + 16 * 18;

	/* qwen3: q and k before their norms, a rstd per head */
	if (bn_role_present(BN_R_ATTN_Q_NORM, c->arch, c->tied))
		per += qd + (size_t)c->heads + 16 * 2;
	if (bn_role_present(BN_R_ATTN_K_NORM, c->arch, c->tied))
		per += kvd + (size_t)c->kv_heads + 16 * 2;
	return N * per + (size_t)t->B * (size_t)c->heads * (size_t)t->T *
	    (size_t)t->T + 16 * 18;
}

static void
bind_acts(struct bn_train *t)
{
	const struct bn_config *c = &t->c;
	size_t N = NROWS(t), C = (size_t)c->hidden, F = (size_t)c->ffn;
	size_t qd = (size_t)c->heads * (size_t)c->head_dim;
	size_t kvd = (size_t)c->kv_heads * (size_t)c->head_dim;
	float *cur = t->act;
	int l;

	for (l = 0; l < c->layers; l++) {
		struct bn_train_layer *S = &t->L[l];

		S->xin = carve(&cur, N * C);
		S->r1 = carve(&cur, N);
		S->xa = carve(&cur, N * C);
		S->q_ = carve(&cur, N * qd);
		S->k_ = carve(&cur, N * kvd);
		S->v_ = carve(&cur, N * kvd);
		S->P = carve(&cur, (size_t)t->B * (size_t)c->heads *
		    (size_t)t->T * (size_t)t->T);
		S->ao = carve(&cur, N * qd);
		S->ra = carve(&cur, N);
		S->oa = carve(&cur, N * qd);
		S->xmid = carve(&cur, N * C);
		S->r2 = carve(&cur, N);
		S->fa = carve(&cur, N * C);
		S->ga = carve(&cur, N * F);
		S->ua = carve(&cur, N * F);
		S->h = carve(&cur, N * F);
		S->rh = carve(&cur, N);
		S->da = carve(&cur, N * F);
		if (S->qn >= 0) {
			S->qp = carve(&cur, N * qd);
			S->rq = carve(&cur, N * (size_t)c->heads);
		}
		if (S->kn >= 0) {
			S->kp = carve(&cur, N * kvd);
			S->rk = carve(&cur, N * (size_t)c->kv_heads);
		}
	}
}

void
bn_train_free(struct bn_train *t)
{
	int i;

	if (t == NULL)
		return;
	free(t->w);
	free(t->g);
	free(t->m);
	free(t->v);
	free(t->wq);
	free(t->p);
	free(t->L);
	free(t->act);
	free(t->logits);
	free(t->rowloss);
	free(t->tgt);
	free(t->scratch);
	free(t->cosv);
	free(t->sinv);
	bn_gemm_free(t->gemm);
	for (i = 0; t->tgemm != NULL && i < t->nthreads; i++)
		bn_gemm_free(t->tgemm[i]);
	free(t->tgemm);
	free(t->att_tmp);
	free(t->att_w);
	free(t->att_kl);
	if (t->pool != NULL)
		bn_pool_free(t->pool);
	free(t);
}

static size_t
scratch_floats(const struct bn_train *t)
{
	const struct bn_config *c = &t->c;
	size_t N = NROWS(t), C = (size_t)c->hidden, F = (size_t)c->ffn;
	size_t qd = (size_t)c->heads * (size_t)c->head_dim;
	size_t w = F > qd ? F : qd;

	w = w > C ? w : C;
	/* dx, dxm (C); d1, d2, d3 (w); dq (qd), dk, dv (kvd); fin (2C+1);
	 * attention tmp per thread (T) */
	return N * (2 * C + 3 * w + qd + 2 * (size_t)c->kv_heads *
	    (size_t)c->head_dim + 2 * C + 1) + 64 * 12 +
	    (size_t)t->nthreads * (size_t)t->T;
}

int
bn_train_new(struct bn_train **tp, const struct bnt_map *map, int quant,
    int B, int T, int nthreads, struct bn_err *e)
{
	struct bn_train *t;
	struct bn_config *c;
	struct bn_dims d;
	size_t C, V, np, half, i;
	int l, id, bl, st;

	*tp = NULL;
	if ((t = calloc(1, sizeof *t)) == NULL)
		return bn_seterr(e, BN_ENOMEM, "out of memory");
	c = &t->c;
	if (!map->has_config) {
		free(t);
		return bn_seterr(e, BN_EFORMAT, "no configuration record "
		    "(not a model)");
	}
	if ((st = bn_config_from_map(c, map, e)) != BN_OK) {
		free(t);
		return st;
	}
	/* a tensor the model holds but would not train is a misread */
	for (i = 0; i < map->ntensors; i++) {
		const char *nm = map->tensors[i].t.name, *why;

		if ((why = bn_role_unexpected(c, nm)) != NULL) {
			free(t);
			return bn_seterr(e, BN_EFORMAT, "tensor '%s': %s", nm,
			    why);
		}
	}
	if (c->hidden > BN_TRAIN_MAXW || c->ffn > BN_TRAIN_MAXW ||
	    c->heads * c->head_dim > BN_TRAIN_MAXW || B < 1 || T < 1 ||
	    T > c->ctx) {
		st = bn_seterr(e, BN_EUNSUPPORTED, "cannot train this shape "
		    "(widths up to %d, 1 <= ctx <= %d)", BN_TRAIN_MAXW,
		    c->ctx);
		free(t);
		return st;
	}
	t->quant = quant;
	t->lambda = 1;
	t->B = B;
	t->T = T;
	t->nthreads = nthreads;
	C = (size_t)c->hidden;
	V = (size_t)c->vocab;
	half = (size_t)c->head_dim / 2;
	np = BN_R_COUNT + (size_t)c->layers * BN_R_COUNT;
	if ((t->p = calloc(np, sizeof *t->p)) == NULL ||
	    (t->L = calloc((size_t)c->layers, sizeof *t->L)) == NULL) {
		bn_train_free(t);
		return bn_seterr(e, BN_ENOMEM, "out of memory");
	}
	bn_dims_from_config(&d, c);
	bl = quant != BN_TQ_FLOAT;
	t->emb = add_role(t, BN_R_TOKEN_EMBD, 0, &d, 0);
	for (l = 0; l < c->layers; l++)
		for (id = 0; id < BN_R_COUNT; id++) {
			int *slot = layer_param(&t->L[l], id), here;

			if (!bn_roles[id].layer)
				continue;
			here = bn_role_present(id, c->arch, c->tied);
			if (here && slot == NULL) {
				bn_train_free(t);
				return bn_seterr(e, BN_EUNSUPPORTED, "cannot "
				    "train a model with %s tensors",
				    bn_roles[id].name);
			}
			if (slot != NULL)
				*slot = here ? add_role(t, id, l, &d, bl) : -1;
		}
	t->out_norm = add_role(t, BN_R_OUTPUT_NORM, 0, &d, 0);
	t->head = c->tied ? t->emb : add_role(t, BN_R_OUTPUT, 0, &d, 0);
	t->act_n = layer_floats(t) * (size_t)c->layers + NROWS(t) * (2 * C + 1)
	    + 64;
	if ((t->w = calloc(t->n, sizeof *t->w)) == NULL ||
	    (t->g = calloc(t->n, sizeof *t->g)) == NULL ||
	    (t->m = calloc(t->n, sizeof *t->m)) == NULL ||
	    (t->v = calloc(t->n, sizeof *t->v)) == NULL ||
	    (t->wq = calloc(t->n, sizeof *t->wq)) == NULL ||
	    (t->act = calloc(t->act_n, sizeof *t->act)) == NULL ||
	    (t->logits = malloc(NROWS(t) * V * sizeof *t->logits)) == NULL ||
	    (t->rowloss = malloc(2 * NROWS(t) * sizeof *t->rowloss)) ==
	    NULL || (t->tgt = malloc(NROWS(t) * sizeof *t->tgt)) == NULL ||
	    (t->scratch = malloc(scratch_floats(t) * sizeof(float))) ==
	    NULL || (t->cosv = malloc((size_t)T * half * sizeof(float))) ==
	    NULL || (t->sinv = malloc((size_t)T * half * sizeof(float))) ==
	    NULL) {
		bn_train_free(t);
		return bn_seterr(e, BN_ENOMEM, "out of memory for training "
		    "(%d x %d tokens)", B, T);
	}
	bind_acts(t);
	for (l = 0; l < t->np; l++)
		if ((st = load_param(t, map, l, e)) != BN_OK) {
			bn_train_free(t);
			return st;
		}
	bn_rope_table(c, (size_t)T, t->cosv, t->sinv);
	if ((t->pool = bn_pool_create(nthreads)) == NULL ||
	    (t->gemm = bn_gemm_new(t->pool)) == NULL ||
	    (t->tgemm = calloc((size_t)nthreads, sizeof *t->tgemm)) == NULL ||
	    (t->att_tmp = malloc((size_t)nthreads * (size_t)T * (size_t)T *
	    sizeof(float))) == NULL) {
		bn_train_free(t);
		return bn_seterr(e, BN_ENOMEM, "cannot start threads");
	}
	for (l = 0; l < nthreads; l++)
		if ((t->tgemm[l] = bn_gemm_new(NULL)) == NULL) {
			bn_train_free(t);
			return bn_seterr(e, BN_ENOMEM, "out of memory");
		}
	*tp = t;
	return BN_OK;
}

/* ---- helpers over the pool ---- */

static const float *
W(const struct bn_train *t, int i)
{
	const struct bn_tparam *p = &t->p[i];

	return p->quant ? t->wq + p->off : t->w + p->off;
}

static float *
G(const struct bn_train *t, int i)
{
	return t->g + t->p[i].off;
}

/* Y[N][O] = X[N][I] W[O][I]^T */
static void
lin_fwd(struct bn_train *t, int wi, const float *x, float *y, size_t N)
{
	const struct bn_tparam *p = &t->p[wi];

	bn_sgemm(t->gemm, 0, 1, N, p->rows, p->cols, x, p->cols, W(t, wi),
	    p->cols, y, p->rows, 0);
}

/* dW += dY^T X; dX (+)= dY W */
static void
lin_bwd(struct bn_train *t, int wi, const float *x, const float *dy,
    float *dx, size_t N, int acc)
{
	const struct bn_tparam *p = &t->p[wi];

	bn_sgemm(t->gemm, 1, 0, p->rows, p->cols, N, dy, p->rows, x, p->cols,
	    G(t, wi), p->cols, 1);
	if (dx != NULL)
		bn_sgemm(t->gemm, 0, 0, N, p->cols, p->rows, dy, p->rows,
		    W(t, wi), p->cols, dx, p->cols, acc);
}

struct rowjob {
	struct bn_train *t;
	int kind;
	size_t N, n;
	const float *x, *g, *dy, *r, *u;
	float *y, *r_out, *dx, *dg, *du;
	int acc;
	/* loss */
	const int32_t *tok;
	const float *zt;
	float alpha, tau, scale;
	double *ce, *kl;
};

enum { RJ_RMS, RJ_RMS_BWD, RJ_RMS_DG, RJ_QUANT, RJ_ACT, RJ_ACT_BWD,
    RJ_LOSS };

static void
row_task(void *ctx, int i, int nt)
{
	const struct rowjob *j = ctx;
	const struct bn_train *t = j->t;
	size_t per, lo, hi, r, n = j->n;
	int8_t q[BN_TRAIN_MAXW];

	if (j->kind == RJ_RMS_DG) {	/* columns: dg[c] += sum dy x r */
		per = (n + (size_t)nt - 1) / (size_t)nt;
		lo = (size_t)i * per;
		hi = lo + per < n ? lo + per : n;
		for (r = 0; r < j->N; r++) {
			size_t c;

			for (c = lo; c < hi; c++)
				j->dg[c] += j->dy[r * n + c] *
				    (j->x[r * n + c] * j->r[r]);
		}
		return;
	}
	per = (j->N + (size_t)nt - 1) / (size_t)nt;
	lo = (size_t)i * per;
	hi = lo + per < j->N ? lo + per : j->N;
	for (r = lo; r < hi; r++) {
		const float *x = j->x + r * n;

		switch (j->kind) {
		case RJ_RMS:
			j->r_out[r] = rms_fwd_f(j->y + r * n, x, j->g, n,
			    bn_k->dot_f32(x, x, n), t->c.norm_eps);
			break;
		case RJ_RMS_BWD: {
			/* dx only; dg in RJ_RMS_DG */
			const float *dy = j->dy + r * n;
			float *dx = j->dx + r * n, rr = j->r[r], s = 0;
			size_t c;

			for (c = 0; c < n; c++)
				s += dy[c] * j->g[c] * (x[c] * rr);
			s /= (float)n;
			for (c = 0; c < n; c++) {
				float d = rr * (dy[c] * j->g[c] -
				    x[c] * rr * s);

				dx[c] = j->acc ? dx[c] + d : d;
			}
			break;
		}
		case RJ_QUANT: {
			/* y = Q(x) = round(x s) / s, s = 127 / absmax; in
			 * the warm-up x + lambda (Q(x) - x) */
			float s = bn_k->quant_i8(x, q, n), lam = t->lambda;
			size_t c;

			if (lam < 1)
				for (c = 0; c < n; c++)
					j->y[r * n + c] = x[c] + lam *
					    ((float)q[c] / s - x[c]);
			else
				for (c = 0; c < n; c++)
					j->y[r * n + c] = (float)q[c] / s;
			break;
		}
		case RJ_ACT:
			act_fwd_f(j->y + r * n, x, j->u + r * n, n,
			    t->c.act == BN_ACT_RELU2);
			break;
		case RJ_ACT_BWD:
			act_bwd_f(j->dx + r * n, j->du + r * n, j->dy + r * n,
			    x, j->u + r * n, n, t->c.act == BN_ACT_RELU2);
			break;
		case RJ_LOSS:
			loss_row_f(j->y != NULL ? j->y + r * n : NULL, x,
			    j->zt != NULL ? j->zt + r * n : NULL, n, j->tok[r],
			    j->alpha, j->tau, j->scale, j->ce + r, j->kl + r);
			break;
		}
	}
}

static void
rows(struct bn_train *t, struct rowjob *j)
{
	j->t = t;
	bn_pool_run(t->pool, row_task, j);
}

static void
rms(struct bn_train *t, int gi, const float *x, float *y, float *r, size_t N)
{
	struct rowjob j = { .kind = RJ_RMS, .N = N, .n = t->p[gi].cols,
	    .x = x, .g = t->w + t->p[gi].off, .y = y, .r_out = r };

	rows(t, &j);
}

static void
rms_back(struct bn_train *t, int gi, const float *x, const float *r,
    const float *dy, float *dx, size_t N, int acc)
{
	struct rowjob j = { .kind = RJ_RMS_BWD, .N = N, .n = t->p[gi].cols,
	    .x = x, .g = t->w + t->p[gi].off, .dy = dy, .r = r, .dx = dx,
	    .acc = acc };

	rows(t, &j);
	j.kind = RJ_RMS_DG;
	j.dg = G(t, gi);
	rows(t, &j);
}

/* y[r] += b for N rows of the bias vector bi (qwen2's q, k and v). */
static void
bias_fwd(struct bn_train *t, int bi, float *y, size_t N)
{
	const float *b = t->w + t->p[bi].off;
	size_t n = t->p[bi].cols, r, i;

	for (r = 0; r < N; r++)
		for (i = 0; i < n; i++)
			y[r * n + i] += b[i];
}

/* Its gradient: db += the sum of dy's N rows, in row order. */
static void
bias_bwd(struct bn_train *t, int bi, const float *dy, size_t N)
{
	float *g = G(t, bi);
	size_t n = t->p[bi].cols, r, i;

	for (r = 0; r < N; r++)
		for (i = 0; i < n; i++)
			g[i] += dy[r * n + i];
}

static void
quant_rows(struct bn_train *t, const float *x, float *y, size_t N, size_t n)
{
	struct rowjob j = { .kind = RJ_QUANT, .N = N, .n = n, .x = x, .y = y };

	if (t->quant == BN_TQ_FLOAT) {
		if (y != x)
			memcpy(y, x, N * n * sizeof *y);
		return;
	}
	rows(t, &j);
}

/* Quantize every projection weight into t->wq; in the warm-up
 * (lambda < 1) W + lambda (Q(W) - W). */
static void
quant_weights(struct bn_train *t)
{
	float lam = t->lambda;
	size_t k;
	int i;

	for (i = 0; i < t->np; i++) {
		const struct bn_tparam *p = &t->p[i];
		const float *w = t->w + p->off;
		float *wq = t->wq + p->off;

		if (!p->quant)
			continue;
		bn_quant_tensor(w, p->rows, p->cols, &(struct bn_quant){
		    .kind = t->quant == BN_TQ_TERNARY ? BN_QUANT_TERNARY :
		    BN_QUANT_BINARY, .values = wq });
		if (lam < 1)
			for (k = 0; k < p->rows * p->cols; k++)
				wq[k] = w[k] + lam * (wq[k] - w[k]);
	}
}

/* ---- attention over the pool: units are (sequence, kv group) ---- */

struct attjob {
	struct bn_train *t;
	struct bn_train_layer *S;
	int nseq, back;
	const float *dout;
	float *dq, *dk, *dv;
	float *tmp;
};

/* Causal softmax of the scores in P (T x T, row t: columns 0..t), in
 * place, the scores scaled first; zero above the diagonal. */
static void
softmax_causal(float *P, size_t T, float scale)
{
	size_t t, p;

	for (t = 0; t < T; t++) {
		float *r = P + t * T, mx = -INFINITY, sum = 0;

		for (p = 0; p <= t; p++) {
			r[p] *= scale;
			mx = r[p] > mx ? r[p] : mx;
		}
		for (p = 0; p <= t; p++) {
			r[p] = expf(r[p] - mx);
			sum += r[p];
		}
		for (p = 0; p <= t; p++)
			r[p] /= sum;
		for (p = t + 1; p < T; p++)
			r[p] = 0;
	}
}

/* Attention of one head by products (layers.inc's att_fwd and att_bwd
 * are the same arithmetic per element, as loops):
 *   forward   S = Q K^T, P = softmax(S / sqrt(hd)), O = P V;
 *   backward  dP = dO V^T, dS = P (dP - rowsum(P dP)) / sqrt(hd),
 *             dV += P^T dO, dQ = dS K, dK += dS^T Q. */
static void
att_task(void *ctx, int i, int nt)
{
	const struct attjob *j = ctx;
	const struct bn_train *t = j->t;
	const struct bn_config *c = &t->c;
	const struct bn_train_layer *S = j->S;
	struct bn_gemm *g = t->tgemm[i];
	size_t T = (size_t)t->T, hd = (size_t)c->head_dim;
	size_t qd = (size_t)c->heads * hd, kvd = (size_t)c->kv_heads * hd;
	size_t units = (size_t)j->nseq * (size_t)c->kv_heads, u;
	size_t per = (size_t)(c->heads / c->kv_heads), hh, r, p;
	float scale = 1.0f / sqrtf((float)hd), *dS = j->tmp + (size_t)i * T * T;

	for (u = (size_t)i; u < units; u += (size_t)nt) {
		size_t b = u / (size_t)c->kv_heads, gi = u % (size_t)c->kv_heads;
		size_t row = b * T;

		for (hh = 0; hh < per; hh++) {
			size_t h = gi * per + hh;
			float *P = S->P + (b * (size_t)c->heads + h) * T * T;
			size_t qo = row * qd + h * hd, ko = row * kvd + gi * hd;
			int acc = hh > 0;

			if (!j->back) {
				bn_sgemm(g, 0, 1, T, T, hd, S->q_ + qo, qd,
				    S->k_ + ko, kvd, P, T, 0);
				softmax_causal(P, T, scale);
				bn_sgemm(g, 0, 0, T, hd, T, P, T, S->v_ + ko,
				    kvd, S->ao + qo, qd, 0);
				continue;
			}
			bn_sgemm(g, 0, 1, T, T, hd, j->dout + qo, qd,
			    S->v_ + ko, kvd, dS, T, 0);
			for (r = 0; r < T; r++) {
				const float *pr = P + r * T;
				float *d = dS + r * T, dot = 0;

				for (p = 0; p <= r; p++)
					dot += pr[p] * d[p];
				for (p = 0; p <= r; p++)
					d[p] = pr[p] * (d[p] - dot) * scale;
				for (p = r + 1; p < T; p++)
					d[p] = 0;
			}
			bn_sgemm(g, 1, 0, T, hd, T, P, T, j->dout + qo, qd,
			    j->dv + ko, kvd, acc);
			bn_sgemm(g, 0, 0, T, hd, T, dS, T, S->k_ + ko, kvd,
			    j->dq + qo, qd, 0);
			bn_sgemm(g, 1, 0, T, hd, T, dS, T, S->q_ + qo, qd,
			    j->dk + ko, kvd, acc);
		}
	}
}

/* ---- attention-relation distillation over the pool: units are
 * (q, k or v; sequence; relation head) ---- */

struct reljob {
	struct bn_train *t;
	const struct bn_train_layer *S;
	int nseq;
	float *d[3];		/* dq, dk, dv, or NULL */
};

static void
rel_task(void *ctx, int i, int nt)
{
	const struct reljob *j = ctx;
	struct bn_train *t = j->t;
	const struct bn_config *c = &t->c;
	size_t T = (size_t)t->T, A = (size_t)t->att_heads;
	size_t per = (size_t)j->nseq * A, units = 3 * per, u;
	float scale = t->att_weight / (float)((size_t)j->nseq * A * T);

	for (u = (size_t)i; u < units; u += (size_t)nt) {
		size_t k = u / per, b = u % per / A, a = u % A;
		size_t ld = (size_t)(k == 0 ? c->heads : c->kv_heads) *
		    (size_t)c->head_dim, lt = t->ta_dim[k];
		size_t off = b * T * ld + a * (ld / A);
		const float *x = k == 0 ? j->S->q_ : k == 1 ? j->S->k_ :
		    j->S->v_;

		t->att_kl[u] = rel_unit_f(j->d[k] != NULL ? j->d[k] + off :
		    NULL, x + off, ld, ld / A, t->ta[k] + b * T * lt + a *
		    (lt / A), lt, lt / A, T, t->att_temp, scale, t->att_w +
		    (size_t)i * t->att_per);
	}
}

/* The term (forward, d NULL) or its gradient added to dq, dk, dv. */
static void
rel_run(struct bn_train *t, const struct bn_train_layer *S, int nseq,
    float *dq, float *dk, float *dv)
{
	struct reljob j = { t, S, nseq, { dq, dk, dv } };
	size_t u, per = (size_t)nseq * (size_t)t->att_heads;
	double sum = 0;

	bn_pool_run(t->pool, rel_task, &j);
	for (u = 0; u < 3 * per; u++)
		sum += t->att_kl[u];
	t->att_loss = sum / (double)(per * (size_t)t->T);
}

int
bn_train_attn(struct bn_train *t, int layer, int heads, float weight,
    float temp, const size_t tdim[3], struct bn_err *e)
{
	const struct bn_config *c = &t->c;
	size_t T = (size_t)t->T, dmax = 0, tmax = 0, w[3];
	int k;

	if (layer < 0 || layer >= c->layers)
		return bn_seterr(e, BN_EUSAGE, "layer %d: the student has %d "
		    "layers (from 0)", layer, c->layers);
	w[0] = (size_t)c->heads * (size_t)c->head_dim;
	w[1] = w[2] = (size_t)c->kv_heads * (size_t)c->head_dim;
	for (k = 0; k < 3; k++) {
		if (heads < 1 || w[k] % (size_t)heads != 0 ||
		    tdim[k] % (size_t)heads != 0 || tdim[k] == 0)
			return bn_seterr(e, BN_EUSAGE, "%c: %zu values (the "
			    "teacher's %zu) do not split into %d relation "
			    "heads", "qkv"[k], w[k], tdim[k], heads);
		dmax = w[k] / (size_t)heads > dmax ? w[k] / (size_t)heads :
		    dmax;
		tmax = tdim[k] / (size_t)heads > tmax ? tdim[k] /
		    (size_t)heads : tmax;
		t->ta_dim[k] = tdim[k];
	}
	t->att_per = 3 * T * T + T * (dmax + tmax + 1) + dmax;
	free(t->att_w);
	free(t->att_kl);
	t->att_w = malloc((size_t)t->nthreads * t->att_per * sizeof(float));
	t->att_kl = malloc(3 * (size_t)t->B * (size_t)heads *
	    sizeof(double));
	if (t->att_w == NULL || t->att_kl == NULL)
		return bn_seterr(e, BN_ENOMEM, "out of memory");
	t->att_layer = layer;
	t->att_heads = heads;
	t->att_weight = weight;
	t->att_temp = temp;
	return BN_OK;
}

/* ---- the step ---- */

/* The hidden-state term of layer hl[k] (student rows x, N of them),
 * and with dx its gradient times hid_weight / nhl added to dx. */
static double
hid_term(const struct bn_train *t, int k, const float *x, size_t N,
    float *dx)
{
	size_t C = (size_t)t->c.hidden, r;
	const float *th = t->th + (size_t)k * N * C;
	float scale = t->hid_weight / (float)t->nhl / (float)N;
	double sum = 0;

	for (r = 0; r < N; r++)
		sum += hid_row_f(dx != NULL ? dx + r * C : NULL, x + r * C,
		    th + r * C, C, t->hid_cos, scale);
	return sum / (double)N;
}

double
bn_train_step(struct bn_train *t, const int32_t *tok, int nseq,
    const float *teacher, float alpha, float tau, int grad, double *ce_out,
    double *kl_out)
{
	const struct bn_config *c = &t->c;
	size_t T = (size_t)t->T, N = (size_t)nseq * T, C = (size_t)c->hidden;
	size_t F = (size_t)c->ffn, V = (size_t)c->vocab;
	size_t hd = (size_t)c->head_dim, qd = (size_t)c->heads * hd;
	size_t kvd = (size_t)c->kv_heads * hd, half = hd / 2;
	size_t b, s, r, i;
	float *sc = t->scratch;
	float *dx = sc, *dxm = dx + N * C;
	size_t wmax = F > qd ? F : qd;
	float *d1, *d2, *d3, *dq, *dk, *dv, *gq, *gk;
	struct fin fin;
	double *ce, *kl, ces = 0, kls = 0;
	int32_t *tgt;
	int k, l, bitnet = c->arch == BN_ARCH_BITNET;

	wmax = wmax > C ? wmax : C;
	d1 = dxm + N * C;
	d2 = d1 + N * wmax;
	d3 = d2 + N * wmax;
	dq = d3 + N * wmax;
	dk = dq + N * qd;
	dv = dk + N * kvd;
	fin.x = dv + N * kvd;
	fin.xf = fin.x + N * C;
	fin.r = fin.xf + N * C;
	if (nseq < 1 || nseq > t->B)
		return NAN;
	for (b = 0; b < (size_t)nseq; b++)
		for (s = 0; s <= T; s++)
			if (tok[b * (T + 1) + s] < 0 ||
			    tok[b * (T + 1) + s] >= c->vocab)
				return NAN;
	if (t->quant != BN_TQ_FLOAT)
		quant_weights(t);

	/* forward */
	for (b = 0; b < (size_t)nseq; b++)
		for (s = 0; s < T; s++)
			memcpy(t->L[0].xin + (b * T + s) * C, t->w +
			    t->p[t->emb].off + (size_t)tok[b * (T + 1) + s] *
			    C, C * sizeof(float));
	for (l = 0; l < c->layers; l++) {
		struct bn_train_layer *S = &t->L[l];
		float *xout = l + 1 < c->layers ? t->L[l + 1].xin : fin.x;
		struct attjob aj = { t, S, nseq, 0, NULL, NULL, NULL, NULL,
		    NULL };

		rms(t, S->an, S->xin, d1, S->r1, N);
		quant_rows(t, d1, S->xa, N, C);
		/* qwen3 keeps q and k before their norms */
		lin_fwd(t, S->q, S->xa, S->qn >= 0 ? S->qp : S->q_, N);
		lin_fwd(t, S->k, S->xa, S->kn >= 0 ? S->kp : S->k_, N);
		lin_fwd(t, S->v, S->xa, S->v_, N);
		if (S->qb >= 0)
			bias_fwd(t, S->qb, S->qn >= 0 ? S->qp : S->q_, N);
		if (S->kb >= 0)
			bias_fwd(t, S->kb, S->kn >= 0 ? S->kp : S->k_, N);
		if (S->vb >= 0)
			bias_fwd(t, S->vb, S->v_, N);
		/* an RMSNorm per head, before RoPE */
		if (S->qn >= 0)
			rms(t, S->qn, S->qp, S->q_, S->rq,
			    N * (size_t)c->heads);
		if (S->kn >= 0)
			rms(t, S->kn, S->kp, S->k_, S->rk,
			    N * (size_t)c->kv_heads);
		for (r = 0; r < N; r++) {
			size_t pos = r % T;

			rope_f(S->q_ + r * qd, t->cosv + pos * half,
			    t->sinv + pos * half, (size_t)c->heads, hd,
			    c->rope_interleaved, 0);
			rope_f(S->k_ + r * kvd, t->cosv + pos * half,
			    t->sinv + pos * half, (size_t)c->kv_heads, hd,
			    c->rope_interleaved, 0);
		}
		bn_pool_run(t->pool, att_task, &aj);
		if (t->ta[0] != NULL && l == t->att_layer)
			rel_run(t, S, nseq, NULL, NULL, NULL);
		if (bitnet) {
			rms(t, S->asn, S->ao, d1, S->ra, N);
			quant_rows(t, d1, S->oa, N, qd);
		} else
			quant_rows(t, S->ao, S->oa, N, qd);
		lin_fwd(t, S->o, S->oa, d1, N);
		for (i = 0; i < N * C; i++)
			S->xmid[i] = S->xin[i] + d1[i];
		rms(t, S->fn, S->xmid, d1, S->r2, N);
		quant_rows(t, d1, S->fa, N, C);
		lin_fwd(t, S->gate, S->fa, S->ga, N);
		lin_fwd(t, S->up, S->fa, S->ua, N);
		{
			struct rowjob j = { .kind = RJ_ACT, .N = N, .n = F,
			    .x = S->ga, .u = S->ua, .y = S->h };

			rows(t, &j);
		}
		if (bitnet) {
			rms(t, S->fsn, S->h, d1, S->rh, N);
			quant_rows(t, d1, S->da, N, F);
		} else
			quant_rows(t, S->h, S->da, N, F);
		lin_fwd(t, S->down, S->da, d1, N);
		for (i = 0; i < N * C; i++)
			xout[i] = S->xmid[i] + d1[i];
	}
	rms(t, t->out_norm, fin.x, fin.xf, fin.r, N);
	lin_fwd(t, t->head, fin.xf, t->logits, N);
	if (t->th != NULL) {
		double h = 0;

		for (k = 0; k < t->nhl; k++)
			h += hid_term(t, k, t->hl[k] + 1 < c->layers ?
			    t->L[t->hl[k] + 1].xin : fin.x, N, NULL);
		t->hid_loss = h / t->nhl;
	}

	/* loss; for the backward pass, the logits become their
	 * gradient */
	ce = t->rowloss;
	kl = ce + N;
	tgt = t->tgt;
	for (b = 0; b < (size_t)nseq; b++)
		for (s = 0; s < T; s++)
			tgt[b * T + s] = tok[b * (T + 1) + s + 1];
	{
		struct rowjob j = { .kind = RJ_LOSS, .N = N, .n = V,
		    .x = t->logits, .y = grad ? t->logits : NULL, .tok = tgt,
		    .zt = teacher, .alpha = teacher != NULL ? alpha : 1,
		    .tau = tau, .scale = 1.0f / (float)N, .ce = ce, .kl = kl };

		rows(t, &j);
	}
	for (r = 0; r < N; r++) {
		ces += ce[r];
		kls += kl[r];
	}
	ces /= (double)N;
	kls /= (double)N;
	if (ce_out != NULL)
		*ce_out = ces;
	if (kl_out != NULL)
		*kl_out = kls;
	if (!grad)
		goto out;

	/* backward */
	memset(t->g, 0, t->n * sizeof *t->g);
	lin_bwd(t, t->head, fin.xf, t->logits, d1, N, 0);
	rms_back(t, t->out_norm, fin.x, fin.r, d1, dx, N, 0);
	for (l = c->layers - 1; l >= 0; l--) {
		struct bn_train_layer *S = &t->L[l];
		struct attjob aj = { t, S, nseq, 1, NULL, dq, dk, dv,
		    t->att_tmp };

		/* the hidden-state term's gradient at this layer's output */
		for (k = 0; t->th != NULL && k < t->nhl; k++)
			if (t->hl[k] == l)
				hid_term(t, k, l + 1 < c->layers ?
				    t->L[l + 1].xin : fin.x, N, dx);
		/* x_out = xmid + down(Q(h')) */
		memcpy(dxm, dx, N * C * sizeof *dx);
		lin_bwd(t, S->down, S->da, dx, d1, N, 0);
		if (bitnet) {
			rms_back(t, S->fsn, S->h, S->rh, d1, d2, N, 0);
			memcpy(d1, d2, N * F * sizeof *d1);
		}
		{
			struct rowjob j = { .kind = RJ_ACT_BWD, .N = N, .n = F,
			    .x = S->ga, .u = S->ua, .dy = d1, .dx = d2,
			    .du = d3 };

			rows(t, &j);
		}
		lin_bwd(t, S->gate, S->fa, d2, d1, N, 0);
		lin_bwd(t, S->up, S->fa, d3, d1, N, 1);
		rms_back(t, S->fn, S->xmid, S->r2, d1, dxm, N, 1);
		/* xmid = xin + o(Q(ao')) */
		memcpy(dx, dxm, N * C * sizeof *dx);
		lin_bwd(t, S->o, S->oa, dxm, d1, N, 0);
		if (bitnet) {
			rms_back(t, S->asn, S->ao, S->ra, d1, d2, N, 0);
			memcpy(d1, d2, N * qd * sizeof *d1);
		}
		aj.dout = d1;
		bn_pool_run(t->pool, att_task, &aj);
		/* the relation term's gradient at q, k (after RoPE) and v */
		if (t->ta[0] != NULL && l == t->att_layer)
			rel_run(t, S, nseq, dq, dk, dv);
		for (r = 0; r < N; r++) {
			size_t pos = r % T;

			rope_f(dq + r * qd, t->cosv + pos * half,
			    t->sinv + pos * half, (size_t)c->heads, hd,
			    c->rope_interleaved, 1);
			rope_f(dk + r * kvd, t->cosv + pos * half,
			    t->sinv + pos * half, (size_t)c->kv_heads, hd,
			    c->rope_interleaved, 1);
		}
		/* qwen3's norms (into d1 and d3, free here) and qwen2's
		 * biases */
		gq = dq;
		gk = dk;
		if (S->qn >= 0) {
			rms_back(t, S->qn, S->qp, S->rq, dq, d1,
			    N * (size_t)c->heads, 0);
			gq = d1;
		}
		if (S->kn >= 0) {
			rms_back(t, S->kn, S->kp, S->rk, dk, d3,
			    N * (size_t)c->kv_heads, 0);
			gk = d3;
		}
		if (S->qb >= 0)
			bias_bwd(t, S->qb, gq, N);
		if (S->kb >= 0)
			bias_bwd(t, S->kb, gk, N);
		if (S->vb >= 0)
			bias_bwd(t, S->vb, dv, N);
		lin_bwd(t, S->q, S->xa, gq, d2, N, 0);
		lin_bwd(t, S->k, S->xa, gk, d2, N, 1);
		lin_bwd(t, S->v, S->xa, dv, d2, N, 1);
		rms_back(t, S->an, S->xin, S->r1, d2, dx, N, 1);
	}
	{
		float *ge = G(t, t->emb);

		for (b = 0; b < (size_t)nseq; b++)
			for (s = 0; s < T; s++) {
				const float *d = dx + (b * T + s) * C;
				float *gr = ge + (size_t)tok[b * (T + 1) + s] *
				    C;

				for (i = 0; i < C; i++)
					gr[i] += d[i];
			}
	}
out:
	if (teacher != NULL)
		ces = (double)alpha * ces + (1.0 - (double)alpha) *
		    (double)tau * (double)tau * kls;
	if (t->th != NULL)
		ces += (double)t->hid_weight * t->hid_loss;
	if (t->ta[0] != NULL)
		ces += (double)t->att_weight * t->att_loss;
	return ces;
}

double
bn_train_clip(struct bn_train *t, double clip)
{
	double ss = 0, norm;
	size_t i;

	for (i = 0; i < t->n; i++)
		ss += (double)t->g[i] * (double)t->g[i];
	norm = sqrt(ss);
	if (clip > 0 && norm > clip) {
		float k = (float)(clip / (norm + 1e-6));

		for (i = 0; i < t->n; i++)
			t->g[i] *= k;
	}
	return norm;
}

void
bn_train_adamw(struct bn_train *t, int step, float lr, float beta1,
    float beta2, float eps, float wd)
{
	float bc1 = 1.0f - powf(beta1, (float)step);
	float bc2s = sqrtf(1.0f - powf(beta2, (float)step));
	float stepsize = lr / bc1;
	int i;

	for (i = 0; i < t->np; i++) {
		const struct bn_tparam *p = &t->p[i];
		float *w = t->w + p->off, *g = t->g + p->off;
		float *m = t->m + p->off, *v = t->v + p->off;
		float decay = p->ndim == 2 ? 1.0f - lr * wd : 1.0f;
		size_t k, n = p->rows * p->cols;

		for (k = 0; k < n; k++) {
			w[k] *= decay;
			m[k] = m[k] + (g[k] - m[k]) * (1.0f - beta1);
			v[k] = v[k] * beta2 + (1.0f - beta2) * g[k] * g[k];
			w[k] -= stepsize * (m[k] / (sqrtf(v[k]) / bc2s + eps));
		}
	}
}

float
bn_train_lambda(int s, int n, int shape)
{
	double x;

	if (n <= 0 || s >= n)
		return 1;
	x = (double)s / (double)n;
	if (shape == BN_LAMBDA_SIGMOID)
		return (float)(1.0 / (1.0 + exp(-BN_LAMBDA_K * (x - 0.5))));
	return (float)x;
}

float
bn_train_lr(int s, int steps, int warmup, float lr, float min_lr)
{
	double prog;

	if (s < warmup)
		return (float)((double)lr * (s + 1) / warmup);
	if (steps <= warmup)
		return lr;
	prog = (double)(s - warmup) / (double)(steps - warmup);
	return (float)(min_lr + 0.5 * ((double)lr - min_lr) *
	    (1.0 + cos(3.14159265358979323846 * prog)));
}
