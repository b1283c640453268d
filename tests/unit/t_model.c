/* t_model.c: the forward pass (model/model.c) against a naive
 * double-precision transformer written here from bnt(5) and model.h.
 * Tiny models (vocab 11, 2 layers, 4 heads on 2 KV heads) are
 * written by hand with bnt_writer, opened with bn_model_open and run.
 *
 * The reference, per token row x (transformers' Llama and BitNet):
 *   rms(x, g) = g * x / sqrt(mean(x^2) + eps)
 *   h = rms(x, attn_norm); q, k, v = Wq h, Wk h, Wv h
 *   qwen2: q, k, v += bq, bk, bv; qwen3: each head's hd values of q
 *     and k <- rms(., q_norm) and rms(., k_norm), before RoPE
 *   RoPE, rotate-half (or pairs with rope_style interleaved): for
 *     i < hd / 2, a = pos * theta^(-2i / hd),
 *     (x_i, x_{i+hd/2}) <- (x_i cos a - x_{i+hd/2} sin a,
 *                           x_{i+hd/2} cos a + x_i sin a)
 *   causal attention: head h reads KV head h / (heads / kv_heads);
 *     softmax over p <= t of q_t . k_p / sqrt(hd), times v_p
 *   bitnet: o_in = rms(att, attn_sub_norm), else att; x += Wo o_in
 *   h = rms(x, ffn_norm); m = act(Wgate h) * (Wup h), act = SiLU
 *     (llama) or squared ReLU (bitnet); bitnet: m = rms(m,
 *     ffn_sub_norm); x += Wdown m
 *   logits = Whead rms(x, output_norm), Whead = token_embd if tied.
 * BitLinear (BitNet's AutoBitLinear, online or with packed weights):
 *   activations per token s = 127 / max(max|x|, 1e-5),
 *   xq = clamp(round_half_even(x s), -128, 127); weights ternary codes
 *   t with a scale w (value t / w with BNT_SCALE_DIV, else t * w);
 *   y = sum(t xq) / (s w) or sum(t xq) w / s.  Float weights of a
 *   bitnet model are ternarized on load: w = 1 / max(mean|W|, 1e-5)
 *   over the tensor (f32), t = clamp(round(W w), -1, 1), divided.
 * The loader (model.c's bind_linear) takes the BitLinear path at every
 * row length: rows that end inside a t2 block (128) are padded with
 * zero codes and their int8 activations with zeros, the absmax taken
 * over the real elements only.  The cases below cover widths of whole
 * blocks, of one and a half, and under one, packed and ternarized on
 * load, and check that the float path differs visibly.
 *
 * Also: tokens one at a time, or in pieces, give the same bits as all
 * at once (the KV cache); 1 or 3 threads and the other kernel table
 * give the same bits; hooks fire at the documented sites with the
 * reference's activations (and, where quantized, the same int8 codes);
 * bn_forward refuses bad token ids, too many tokens and a full
 * context. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "dtype.h"
#include "kernels.h"
#include "kv.h"
#include "model.h"

#define VOCAB	11
#define NLAYER	2
#define NHEAD	4
#define NKV	2		/* heads 0, 1 read KV head 0; 2, 3 head 1 */
#define NTOK	6		/* tokens a run */
#define CTX	8
#define TOL	1e-5		/* relative to the largest reference */
#define TOL16	2e-3		/* the same with an f16 KV cache */
#define TOL16Q	5e-2		/* and with int8 activations: a code
				 * moved by the f16 rounding moves the
				 * sum by about 1/127 of its scale */
#define TOL8	3e-2		/* the q8 KV cache (these random models:
				 * 2.2e-3 to 1.5e-2 measured) */
#define TOL8Q	1e-1		/* and with int8 activations (2.1e-2 to
				 * 5.4e-2) */
#define MAXEV	(2 + 5 * NLAYER)

enum { LQ, LK, LV, LO, LGATE, LUP, LDOWN, NLIN };
static const char *const lin_name[NLIN] = { "attn_q", "attn_k", "attn_v",
    "attn_output", "ffn_gate", "ffn_up", "ffn_down" };
enum { NATT, NFFN, NATTSUB, NFFNSUB, NNORM };
static const char *const norm_name[NNORM] = { "attn_norm", "ffn_norm",
    "attn_sub_norm", "ffn_sub_norm" };

enum { ST_F32, ST_T2 };		/* how the linear weights are stored */

struct tcase {
	const char *name;
	int arch, store, hidden, ffn, head_dim, tied, interleaved;
	unsigned flags;		/* bn_model_open_flags */
	int contrast;		/* a ref mode the model must differ from */
};

static const struct tcase cases[] = {
	/* heads x head_dim 16, not hidden: attn_output is 8 x 16 */
	{ "llama", BN_ARCH_LLAMA, ST_F32, 8, 16, 4, 0, 0, 0, -1 },
	{ "llama-tied", BN_ARCH_LLAMA, ST_F32, 8, 16, 2, 1, 1, 0, -1 },
	/* q k v o gate up BitLinear on t2 in place; down (192) on rows
	 * re-packed to two blocks */
	{ "bitnet-t2", BN_ARCH_BITNET, ST_T2, 128, 192, 32, 0, 0, 0, 0 },
	{ "bitnet-t2-noquant", BN_ARCH_BITNET, ST_T2, 128, 192, 32, 0, 0,
	    BN_MODEL_NOQUANT, 1 },
	/* no width a whole t2 block: every row padded to one block */
	{ "bitnet-t2-narrow", BN_ARCH_BITNET, ST_T2, 8, 16, 2, 0, 0, 0, 0 },
	/* f32 weights ternarized on load, down (192) padded to two blocks */
	{ "bitnet-online", BN_ARCH_BITNET, ST_F32, 128, 192, 32, 0, 0, 0, 0 },
	/* ternarized on load, no width a whole block (160, 200, 96) */
	{ "bitnet-online-odd", BN_ARCH_BITNET, ST_F32, 160, 200, 24, 0, 0, 0,
	    0 },
	/* q, k and v biases, untied and tied */
	{ "qwen2", BN_ARCH_QWEN2, ST_F32, 8, 16, 4, 0, 0, 0, -1 },
	{ "qwen2-tied", BN_ARCH_QWEN2, ST_F32, 8, 16, 2, 1, 0, 0, -1 },
	/* per-head q and k norms; heads x head_dim 24, not hidden 8 */
	{ "qwen3-tied", BN_ARCH_QWEN3, ST_F32, 8, 16, 6, 1, 0, 0, -1 },
};

/* One weight matrix as written. */
struct lin {
	size_t rows, n;
	int ternary;		/* open to the BitLinear path */
	float *f;		/* ST_F32: the stored values */
	int8_t *code;		/* ternary codes (stored or ternarized) */
	float *scale;		/* per row (all equal: a tensor scale) */
	int per_row, div;
	double *w;		/* the values of the float path */
	double *wq;		/* code / scale or code * scale */
};

struct net {
	const struct tcase *tc;
	size_t H, F, HD, Q, KV;
	double eps, theta;
	float *embd;		/* [VOCAB][H] */
	int bf16;		/* embd and blk.0.attn_norm stored as bf16 */
	float *norm[NLAYER][NNORM], *out_norm;
	float *bias[NLAYER][3];	/* qwen2: q, k, v */
	float *qknorm[NLAYER][2];	/* qwen3: q, k, per head */
	struct lin lin[NLAYER][NLIN], head;
};

static uint64_t seed;

static double
rnd(void)	/* uniform in [-1, 1) */
{
	seed ^= seed << 13;
	seed ^= seed >> 7;
	seed ^= seed << 17;
	return (double)(seed >> 11) * 0x1p-52 - 1.0;
}

static float
bf16_round(float f)	/* toward zero to a bf16 value */
{
	uint32_t u;

	memcpy(&u, &f, 4);
	u &= 0xffff0000u;
	memcpy(&f, &u, 4);
	return f;
}

static float *
fvec(size_t n, double base, double scale, int bf16)
{
	float *v = malloc(n * sizeof *v);
	size_t i;

	for (i = 0; i < n; i++) {
		v[i] = (float)(base + scale * rnd());
		if (bf16)
			v[i] = bf16_round(v[i]);
	}
	return v;
}

static void
lin_make(struct lin *l, const struct net *nt, size_t rows, size_t n,
    int role)
{
	size_t i, r, N = rows * n;
	double sum, u;
	float mean, s, q;

	memset(l, 0, sizeof *l);
	l->rows = rows;
	l->n = n;
	l->w = malloc(N * sizeof *l->w);
	l->wq = malloc(N * sizeof *l->wq);
	l->code = malloc(N);
	l->scale = malloc(rows * sizeof *l->scale);
	if (nt->tc->store == ST_T2 && role >= 0) {
		/* q k v and down: a tensor divisor, as 2B-4T stores them;
		 * o gate up: a multiplier per row */
		l->per_row = role == LO || role == LGATE || role == LUP;
		l->div = !l->per_row;
		for (r = 0; r < rows; r++)
			l->scale[r] = l->per_row ? (float)(0.06 + 0.03 *
			    rnd()) : role == LDOWN ? 12.0f : 8.0f;
		for (i = 0; i < N; i++) {
			u = rnd();
			l->code[i] = (int8_t)(u < -1 / 3.0 ? -1 : u < 1 / 3.0 ?
			    0 : 1);
			r = i / n;
			l->wq[i] = l->div ? l->code[i] / (double)l->scale[r] :
			    l->code[i] * (double)l->scale[r];
			l->w[i] = l->wq[i];
		}
		l->ternary = 1;
		return;
	}
	l->f = fvec(N, 0, nt->H >= 128 ? 0.1 : 0.5, 0);
	for (i = 0; i < N; i++)
		l->w[i] = l->f[i];
	if (role < 0 || nt->tc->arch != BN_ARCH_BITNET)
		return;
	/* ternarized on load: the scale in f32 over the whole tensor */
	for (sum = 0, i = 0; i < N; i++)
		sum += fabs(l->w[i]);
	mean = (float)(sum / (double)N);
	s = 1.0f / (mean > 1e-5f ? mean : 1e-5f);
	for (r = 0; r < rows; r++)
		l->scale[r] = s;
	for (i = 0; i < N; i++) {
		q = nearbyintf(l->f[i] * s);
		l->code[i] = (int8_t)(q > 1 ? 1 : q < -1 ? -1 : q);
		l->wq[i] = l->code[i] / (double)s;
	}
	l->div = 1;
	l->ternary = 1;
}

static void
lin_free(struct lin *l)
{
	free(l->f);
	free(l->code);
	free(l->scale);
	free(l->w);
	free(l->wq);
}

static size_t
norm_len(const struct net *nt, int j)
{
	return j == NFFNSUB ? nt->F : j == NATTSUB ? nt->Q : nt->H;
}

static void
net_make(struct net *nt, const struct tcase *tc)
{
	int l, j;

	memset(nt, 0, sizeof *nt);
	nt->tc = tc;
	nt->H = (size_t)tc->hidden;
	nt->F = (size_t)tc->ffn;
	nt->HD = (size_t)tc->head_dim;
	nt->Q = NHEAD * nt->HD;
	nt->KV = NKV * nt->HD;
	nt->eps = (double)1e-5f;
	nt->theta = 10000;
	nt->bf16 = tc->arch == BN_ARCH_LLAMA && !tc->tied;
	nt->embd = fvec(VOCAB * nt->H, 0, 1, nt->bf16);
	for (l = 0; l < NLAYER; l++) {
		for (j = 0; j < NNORM; j++)
			nt->norm[l][j] = fvec(norm_len(nt, j), 1, 0.25,
			    nt->bf16 && l == 0 && j == NATT);
		lin_make(&nt->lin[l][LQ], nt, nt->Q, nt->H, LQ);
		lin_make(&nt->lin[l][LK], nt, nt->KV, nt->H, LK);
		lin_make(&nt->lin[l][LV], nt, nt->KV, nt->H, LV);
		lin_make(&nt->lin[l][LO], nt, nt->H, nt->Q, LO);
		lin_make(&nt->lin[l][LGATE], nt, nt->F, nt->H, LGATE);
		lin_make(&nt->lin[l][LUP], nt, nt->F, nt->H, LUP);
		lin_make(&nt->lin[l][LDOWN], nt, nt->H, nt->F, LDOWN);
		for (j = 0; j < 3 && tc->arch == BN_ARCH_QWEN2; j++)
			nt->bias[l][j] = fvec(j ? nt->KV : nt->Q, 0, 0.5, 0);
		for (j = 0; j < 2 && tc->arch == BN_ARCH_QWEN3; j++)
			nt->qknorm[l][j] = fvec(nt->HD, 1, 0.25, 0);
	}
	nt->out_norm = fvec(nt->H, 1, 0.25, 0);
	lin_make(&nt->head, nt, VOCAB, nt->H, -1);
	if (tc->tied) {		/* output.weight is not written */
		size_t i;

		for (i = 0; i < VOCAB * nt->H; i++)
			nt->head.w[i] = nt->embd[i];
	}
}

static void
net_free(struct net *nt)
{
	int l, j;

	free(nt->embd);
	for (l = 0; l < NLAYER; l++) {
		for (j = 0; j < NNORM; j++)
			free(nt->norm[l][j]);
		for (j = 0; j < NLIN; j++)
			lin_free(&nt->lin[l][j]);
		for (j = 0; j < 3; j++)
			free(nt->bias[l][j]);
		for (j = 0; j < 2; j++)
			free(nt->qknorm[l][j]);
	}
	free(nt->out_norm);
	lin_free(&nt->head);
}

/* ---- writing the bnt stream, by bnt(5) ---- */

/* One tensor: f32 or bf16 values, or t2 codes packed by hand. */
static int
put(struct bnt_writer *w, const char *name, unsigned ndim, size_t rows,
    size_t n, const float *f, int bf16, const struct lin *l)
{
	struct bnt_tensor t;
	struct bn_err e;
	unsigned char *data, *p;
	size_t r, c;
	unsigned sh;
	uint32_t u;
	int st;

	memset(&t, 0, sizeof t);
	t.name = name;
	t.ndim = ndim;
	t.dims[0] = ndim == 1 ? n : rows;
	if (ndim == 2)
		t.dims[1] = n;
	t.dtype = l != NULL ? BN_DTYPE_T2 : bf16 ? BN_DTYPE_BF16 :
	    BN_DTYPE_F32;
	if (l != NULL) {
		t.scale_kind = l->per_row ? BNT_SCALE_ROW : BNT_SCALE_TENSOR;
		t.scale_dtype = BN_DTYPE_F32;
		t.scale_flags = l->div ? BNT_SCALE_DIV : 0;
	}
	if (bnt_tensor_layout(&t, &e) != BN_OK ||
	    (data = malloc(t.data_bytes)) == NULL)
		return -1;
	if (l != NULL) {
		/* byte j of block b: elements 128b + j, +32, +64, +96 in
		 * bits 0-1, 2-3, 4-5, 6-7, each as value + 1; padding 0 */
		memset(data, 0x55, t.data_bytes);
		for (r = 0; r < rows; r++)
			for (c = 0; c < n; c++) {
				p = data + r * t.row_bytes + c / 128 * 32 +
				    c % 32;
				sh = 2 * (unsigned)(c % 128 / 32);
				*p = (unsigned char)((*p & ~(3u << sh)) |
				    (unsigned)(l->code[r * n + c] + 1) << sh);
			}
	} else if (bf16) {
		for (c = 0; c < rows * n; c++) {
			memcpy(&u, &f[c], 4);
			data[2 * c] = (unsigned char)(u >> 16);
			data[2 * c + 1] = (unsigned char)(u >> 24);
		}
	} else
		memcpy(data, f, rows * n * sizeof *f);
	st = bnt_write_tensor(w, &t, data, l != NULL ? l->scale : NULL);
	free(data);
	return st;
}

static int
write_net(const struct net *nt, const char *path)
{
	const struct tcase *tc = nt->tc;
	struct bnt_writer *w;
	struct bn_kv kv;
	char name[64];
	FILE *fp;
	int l, j, st;

	if ((fp = fopen(path, "wb")) == NULL)
		return -1;
	bn_kv_init(&kv);
	bn_kv_set(&kv, "arch", bn_arch_name(tc->arch));
	bn_kv_setf(&kv, "vocab_size", "%d", VOCAB);
	bn_kv_setf(&kv, "hidden_size", "%d", tc->hidden);
	bn_kv_setf(&kv, "n_layers", "%d", NLAYER);
	bn_kv_setf(&kv, "n_heads", "%d", NHEAD);
	bn_kv_setf(&kv, "n_kv_heads", "%d", NKV);
	bn_kv_setf(&kv, "head_dim", "%d", tc->head_dim);
	bn_kv_setf(&kv, "ffn_size", "%d", tc->ffn);
	bn_kv_setf(&kv, "ctx_len", "%d", CTX);
	bn_kv_set(&kv, "norm_eps", "1e-05");
	bn_kv_set(&kv, "rope_theta", "10000");
	bn_kv_set(&kv, "rope_style", tc->interleaved ? "interleaved" :
	    "half");
	bn_kv_setf(&kv, "tie_embeddings", "%d", tc->tied);
	w = bnt_writer_open(fp, 0);
	st = w == NULL || bnt_write_config(w, &kv) != BN_OK;
	st = st || put(w, "token_embd.weight", 2, VOCAB, nt->H, nt->embd,
	    nt->bf16, NULL) != BN_OK;
	for (l = 0; l < NLAYER && !st; l++) {
		for (j = 0; j < NNORM && !st; j++) {
			if (j >= NATTSUB && tc->arch != BN_ARCH_BITNET)
				continue;
			snprintf(name, sizeof name, "blk.%d.%s.weight", l,
			    norm_name[j]);
			st = put(w, name, 1, 1, norm_len(nt, j),
			    nt->norm[l][j], nt->bf16 && l == 0 && j == NATT,
			    NULL) != BN_OK;
		}
		for (j = 0; j < NLIN && !st; j++) {
			const struct lin *li = &nt->lin[l][j];

			snprintf(name, sizeof name, "blk.%d.%s.weight", l,
			    lin_name[j]);
			st = put(w, name, 2, li->rows, li->n, li->f, 0,
			    tc->store == ST_T2 ? li : NULL) != BN_OK;
		}
		for (j = 0; j < 3 && nt->bias[l][j] != NULL && !st; j++) {
			snprintf(name, sizeof name, "blk.%d.%s.bias", l,
			    lin_name[j]);
			st = put(w, name, 1, 1, j ? nt->KV : nt->Q,
			    nt->bias[l][j], 0, NULL) != BN_OK;
		}
		for (j = 0; j < 2 && nt->qknorm[l][j] != NULL && !st; j++) {
			snprintf(name, sizeof name, "blk.%d.%s_norm.weight", l,
			    lin_name[j]);
			st = put(w, name, 1, 1, nt->HD, nt->qknorm[l][j], 0,
			    NULL) != BN_OK;
		}
	}
	st = st || put(w, "output_norm.weight", 1, 1, nt->H, nt->out_norm, 0,
	    NULL) != BN_OK;
	if (!tc->tied)
		st = st || put(w, "output.weight", 2, VOCAB, nt->H, nt->head.f,
		    0, NULL) != BN_OK;
	st = st || bnt_writer_finish(w) != BN_OK;
	bnt_writer_free(w);
	bn_kv_free(&kv);
	return fclose(fp) != 0 || st ? -1 : 0;
}

/* ---- activations at the hook sites ---- */

struct ev {
	int layer, site, quant;
	size_t T, dim;
	double *x;
};

struct evlist {
	struct ev e[MAXEV];
	int n, over;
};

static void
ev_add(struct evlist *el, int layer, int site, int quant, const float *xf,
    const double *xd, size_t T, size_t dim)
{
	struct ev *e;
	size_t i;

	if (el == NULL)
		return;
	if (el->n == MAXEV) {
		el->over = 1;
		return;
	}
	e = &el->e[el->n++];
	e->layer = layer;
	e->site = site;
	e->quant = quant;
	e->T = T;
	e->dim = dim;
	e->x = malloc(T * dim * sizeof *e->x);
	for (i = 0; i < T * dim; i++)
		e->x[i] = xf != NULL ? xf[i] : xd[i];
}

static void
ev_clear(struct evlist *el)
{
	int i;

	for (i = 0; i < el->n; i++)
		free(el->e[i].x);
	el->n = el->over = 0;
}

static void
hook(void *ctx, int layer, int site, const float *x, size_t T, size_t dim)
{
	ev_add(ctx, layer, site, 0, x, NULL, T, dim);
}

/* ---- the reference, in double ---- */

/* mode 0: no activation is quantized (BN_MODEL_NOQUANT); 1: every
 * ternary weight is a BitLinear, whatever its width. */
static int
quantized(const struct lin *l, int mode)
{
	return l->ternary && mode == 1;
}

static void
r_rms(double *y, const double *x, const float *g, size_t n, double eps)
{
	double ss = 0, r;
	size_t i;

	for (i = 0; i < n; i++)
		ss += x[i] * x[i];
	r = 1 / sqrt(ss / (double)n + eps);
	for (i = 0; i < n; i++)
		y[i] = g[i] * (x[i] * r);
}

static void
r_linear(const struct lin *l, int quant, const double *x, double *y,
    size_t T)
{
	size_t t, r, i, n = l->n;
	double *xq = malloc(n * sizeof *xq), m, s, v, sum;

	for (t = 0; t < T; t++, x += n, y += l->rows) {
		if (!quant) {
			for (r = 0; r < l->rows; r++) {
				for (sum = 0, i = 0; i < n; i++)
					sum += l->w[r * n + i] * x[i];
				y[r] = sum;
			}
			continue;
		}
		for (m = 0, i = 0; i < n; i++)
			m = fmax(m, fabs(x[i]));
		s = 127 / fmax(m, 1e-5);
		for (i = 0; i < n; i++) {
			v = nearbyint(x[i] * s);
			xq[i] = v < -128 ? -128 : v > 127 ? 127 : v;
		}
		for (r = 0; r < l->rows; r++) {
			for (sum = 0, i = 0; i < n; i++)
				sum += l->wq[r * n + i] * xq[i];
			y[r] = sum / s;
		}
	}
	free(xq);
}

static void
r_rope(const struct net *nt, double *v, size_t nh, size_t pos)
{
	size_t half = nt->HD / 2, h, i, ia, ib;
	double a, b, ang;

	for (h = 0; h < nh; h++, v += nt->HD)
		for (i = 0; i < half; i++) {
			ia = nt->tc->interleaved ? 2 * i : i;
			ib = nt->tc->interleaved ? 2 * i + 1 : i + half;
			ang = (double)pos * pow(nt->theta, -2.0 * (double)i /
			    (double)nt->HD);
			a = v[ia];
			b = v[ib];
			v[ia] = a * cos(ang) - b * sin(ang);
			v[ib] = b * cos(ang) + a * sin(ang);
		}
}

static void
r_forward(const struct net *nt, const int32_t *tok, size_t T, int mode,
    double *logits, struct evlist *el)
{
	size_t H = nt->H, F = nt->F, HD = nt->HD, Q = nt->Q, KV = nt->KV;
	size_t t, p, h, g, i, big = F > H ? F : H;
	double *x = malloc(T * H * sizeof *x), *xn = malloc(T * big *
	    sizeof *xn), *q = malloc(T * Q * sizeof *q), *k = malloc(T * KV *
	    sizeof *k), *v = malloc(T * KV * sizeof *v), *att = malloc(T * Q *
	    sizeof *att), *ga = malloc(T * F * sizeof *ga), *up = malloc(T *
	    F * sizeof *up), *y = malloc(T * H * sizeof *y);
	double *sc = malloc(T * sizeof *sc), mx, sum, a;
	int bitnet = nt->tc->arch == BN_ARCH_BITNET, l;

	for (t = 0; t < T; t++)
		for (i = 0; i < H; i++)
			x[t * H + i] = nt->embd[(size_t)tok[t] * H + i];
	ev_add(el, -1, BN_SITE_EMBED, 0, NULL, x, T, H);
	for (l = 0; l < NLAYER; l++) {
		const struct lin *L = nt->lin[l];

		for (t = 0; t < T; t++)
			r_rms(xn + t * H, x + t * H, nt->norm[l][NATT], H,
			    nt->eps);
		ev_add(el, l, BN_SITE_QKV_IN, quantized(&L[LQ], mode), NULL,
		    xn, T, H);
		r_linear(&L[LQ], quantized(&L[LQ], mode), xn, q, T);
		r_linear(&L[LK], quantized(&L[LK], mode), xn, k, T);
		r_linear(&L[LV], quantized(&L[LV], mode), xn, v, T);
		for (t = 0; t < T && nt->bias[l][0] != NULL; t++) {
			for (i = 0; i < Q; i++)
				q[t * Q + i] += nt->bias[l][0][i];
			for (i = 0; i < KV; i++) {
				k[t * KV + i] += nt->bias[l][1][i];
				v[t * KV + i] += nt->bias[l][2][i];
			}
		}
		for (t = 0; t < T && nt->qknorm[l][0] != NULL; t++) {
			for (h = 0; h < NHEAD; h++)
				r_rms(q + t * Q + h * HD, q + t * Q + h * HD,
				    nt->qknorm[l][0], HD, nt->eps);
			for (h = 0; h < NKV; h++)
				r_rms(k + t * KV + h * HD, k + t * KV + h * HD,
				    nt->qknorm[l][1], HD, nt->eps);
		}
		for (t = 0; t < T; t++) {
			r_rope(nt, q + t * Q, NHEAD, t);
			r_rope(nt, k + t * KV, NKV, t);
		}
		for (t = 0; t < T; t++)
			for (h = 0; h < NHEAD; h++) {
				double *o = att + t * Q + h * HD;

				g = h / (NHEAD / NKV);
				for (mx = -INFINITY, p = 0; p <= t; p++) {
					for (a = 0, i = 0; i < HD; i++)
						a += q[t * Q + h * HD + i] *
						    k[p * KV + g * HD + i];
					sc[p] = a / sqrt((double)HD);
					mx = fmax(mx, sc[p]);
				}
				for (sum = 0, p = 0; p <= t; p++)
					sum += sc[p] = exp(sc[p] - mx);
				for (i = 0; i < HD; i++)
					o[i] = 0;
				for (p = 0; p <= t; p++)
					for (i = 0; i < HD; i++)
						o[i] += sc[p] / sum *
						    v[p * KV + g * HD + i];
			}
		if (bitnet)
			for (t = 0; t < T; t++)
				r_rms(att + t * Q, att + t * Q,
				    nt->norm[l][NATTSUB], Q, nt->eps);
		ev_add(el, l, BN_SITE_O_IN, quantized(&L[LO], mode), NULL, att,
		    T, Q);
		r_linear(&L[LO], quantized(&L[LO], mode), att, y, T);
		for (i = 0; i < T * H; i++)
			x[i] += y[i];
		for (t = 0; t < T; t++)
			r_rms(xn + t * H, x + t * H, nt->norm[l][NFFN], H,
			    nt->eps);
		ev_add(el, l, BN_SITE_UP_IN, quantized(&L[LGATE], mode), NULL,
		    xn, T, H);
		r_linear(&L[LGATE], quantized(&L[LGATE], mode), xn, ga, T);
		r_linear(&L[LUP], quantized(&L[LUP], mode), xn, up, T);
		for (i = 0; i < T * F; i++) {
			a = ga[i];
			a = bitnet ? (a > 0 ? a * a : 0) : a / (1 + exp(-a));
			ga[i] = a * up[i];
		}
		if (bitnet)
			for (t = 0; t < T; t++)
				r_rms(ga + t * F, ga + t * F,
				    nt->norm[l][NFFNSUB], F, nt->eps);
		ev_add(el, l, BN_SITE_DOWN_IN, quantized(&L[LDOWN], mode),
		    NULL, ga, T, F);
		r_linear(&L[LDOWN], quantized(&L[LDOWN], mode), ga, y, T);
		for (i = 0; i < T * H; i++)
			x[i] += y[i];
		ev_add(el, l, BN_SITE_LAYER, 0, NULL, x, T, H);
	}
	for (t = 0; t < T; t++)
		r_rms(xn + t * H, x + t * H, nt->out_norm, H, nt->eps);
	ev_add(el, NLAYER, BN_SITE_FINAL, 0, NULL, xn, T, H);
	r_linear(&nt->head, 0, xn, logits, T);
	free(x);
	free(xn);
	free(q);
	free(k);
	free(v);
	free(att);
	free(ga);
	free(up);
	free(y);
	free(sc);
}

/* ---- comparing ---- */

/* max |a - b| over max |b| */
static double
relerr(const double *a, const double *b, size_t n)
{
	double d = 0, m = 0;
	size_t i;

	for (i = 0; i < n; i++) {
		d = fmax(d, fabs(a[i] - b[i]));
		m = fmax(m, fabs(b[i]));
	}
	return m > 0 ? d / m : d;
}

static double
relerr_f(const float *a, const double *b, size_t n)
{
	double *ad = malloc(n * sizeof *ad), r;
	size_t i;

	for (i = 0; i < n; i++)
		ad[i] = a[i];
	r = relerr(ad, b, n);
	free(ad);
	return r;
}

/* The int8 codes of a row: from the model's f32 activations as
 * kernels.h specifies quant_i8, and from the reference's doubles.
 * Returns the mismatches; *margin: the reference's nearest approach to
 * a rounding tie; *dev: the largest difference of x s between the two. */
static size_t
codes_differ(const double *xf, const double *xd, size_t n, double *margin,
    double *dev)
{
	float m = 0, s, v;
	double md = 0, sd, vd;
	size_t i, bad = 0;
	int cf, cd;

	for (i = 0; i < n; i++) {
		m = fmaxf(m, fabsf((float)xf[i]));
		md = fmax(md, fabs(xd[i]));
	}
	s = 127.0f / (m > 1e-5f ? m : 1e-5f);
	sd = 127 / fmax(md, 1e-5);
	for (i = 0; i < n; i++) {
		v = nearbyintf((float)xf[i] * s);
		cf = (int)(v < -128 ? -128 : v > 127 ? 127 : v);
		vd = xd[i] * sd;
		cd = (int)fmin(fmax(nearbyint(vd), -128), 127);
		*dev = fmax(*dev, fabs((double)((float)xf[i] * s) - vd));
		if (fabs(vd) < 127)
			*margin = fmin(*margin, fabs(fabs(vd - floor(vd)) -
			    0.5));
		bad += cf != cd;
	}
	return bad;
}

/* The model's events against the documented sites and the reference's
 * values; returns the worst relative error, and counts code mismatches
 * at quantized sites. */
static double
check_events(const struct net *nt, const struct evlist *me,
    const struct evlist *re, size_t T, size_t *bad, double *margin,
    double *dev, int *nquant)
{
	double worst = 0;
	int i, l, ok = !me->over && me->n == MAXEV && re->n == MAXEV;
	size_t t;
	struct { int layer, site; size_t dim; } want[MAXEV];

	want[0].layer = -1;
	want[0].site = BN_SITE_EMBED;
	want[0].dim = nt->H;
	for (l = 0; l < NLAYER; l++) {
		struct { int site; size_t dim; } s[5] = {
		    { BN_SITE_QKV_IN, nt->H }, { BN_SITE_O_IN, nt->Q },
		    { BN_SITE_UP_IN, nt->H }, { BN_SITE_DOWN_IN, nt->F },
		    { BN_SITE_LAYER, nt->H } };

		for (i = 0; i < 5; i++) {
			want[1 + 5 * l + i].layer = l;
			want[1 + 5 * l + i].site = s[i].site;
			want[1 + 5 * l + i].dim = s[i].dim;
		}
	}
	want[MAXEV - 1].layer = NLAYER;
	want[MAXEV - 1].site = BN_SITE_FINAL;
	want[MAXEV - 1].dim = nt->H;
	CHECK(ok);
	if (!ok)
		return INFINITY;
	for (i = 0; i < MAXEV; i++) {
		const struct ev *m = &me->e[i], *r = &re->e[i];

		CHECK(m->layer == want[i].layer && m->site == want[i].site &&
		    m->T == T && m->dim == want[i].dim);
		CHECK(r->layer == m->layer && r->site == m->site &&
		    r->T == m->T && r->dim == m->dim);
		if (m->T != T || m->dim != want[i].dim || r->dim != m->dim)
			return INFINITY;
		worst = fmax(worst, relerr(m->x, r->x, T * m->dim));
		if (i == 0)	/* the embedding rows, exactly */
			CHECK(memcmp(m->x, r->x, T * m->dim * sizeof *m->x) ==
			    0);
		if (r->quant) {
			++*nquant;
			for (t = 0; t < T; t++)
				*bad += codes_differ(m->x + t * m->dim,
				    r->x + t * m->dim, m->dim, margin, dev);
		}
	}
	return worst;
}

static int kvtype = BN_KV_F32;	/* the KV cache of run's and test_batch's */

/* Logits and hooks of a fresh state, all NTOK tokens at once. */
static int
run(const struct bn_model *m, const int32_t *tok, int threads, float *lg,
    struct evlist *el)
{
	struct bn_state *s;
	struct bn_err e;
	int st;

	if (bn_state_new_kv(&s, m, CTX, NTOK, threads, kvtype, &e) != BN_OK)
		return -1;
	if (el != NULL)
		bn_state_set_hook(s, hook, el);
	st = bn_forward(m, s, tok, NTOK, lg, 1);
	bn_state_free(s);
	return st;
}

/*
 * Continuous batching: three sequences (tok, tok reversed, tok rotated)
 * run in steps that mix prompt pieces and single tokens of all three,
 * some rows without logits; every row has the bits that sequence gives
 * on its own (ref0: tok's logits, all rows).
 */
static void
test_batch(const struct bn_model *m, const int32_t *tok, const float *ref0)
{
	/* each step: how many tokens of sequence 0, 1, 2 */
	static const int plan[][3] = {
		{ 2, 1, 0 }, { 1, 3, 2 }, { 0, 1, 1 }, { 3, 0, 1 }, { 0, 1, 2 }
	};
	static float ref[3][NTOK * VOCAB], out[NTOK * VOCAB];
	int32_t seqtok[3][NTOK], btok[NTOK], bad, zero[NTOK + 1] = { 0 };
	struct bn_state *s, *sq[3], *bseq[NTOK + 1];
	unsigned char want[NTOK];
	struct bn_err e;
	int done[3] = { 0 }, n, k, j, p, same = 1, rows = 0;
	size_t i, at[NTOK][2];

	for (i = 0; i < NTOK; i++) {
		seqtok[0][i] = tok[i];
		seqtok[1][i] = tok[NTOK - 1 - i];
		seqtok[2][i] = tok[(i + 2) % NTOK];
	}
	memcpy(ref[0], ref0, sizeof ref[0]);
	CHECK(run(m, seqtok[1], 1, ref[1], NULL) == BN_OK);
	CHECK(run(m, seqtok[2], 1, ref[2], NULL) == BN_OK);
	CHECK(memcmp(ref[1], ref[0], sizeof ref[0]) != 0);
	CHECK(bn_state_new_kv(&s, m, CTX, NTOK, 2, kvtype, &e) == BN_OK);
	for (k = 0; k < 3; k++)
		CHECK(bn_state_new_kv(&sq[k], m, CTX, 1, 1, kvtype, &e) ==
		    BN_OK);
	for (p = 0; p < (int)(sizeof plan / sizeof plan[0]); p++) {
		for (n = 0, k = 0; k < 3; k++)
			for (j = 0; j < plan[p][k]; j++) {
				btok[n] = seqtok[k][done[k] + j];
				bseq[n] = sq[k];
				/* odd steps: logits of each last token only */
				want[n] = p % 2 == 0 || j == plan[p][k] - 1;
				at[n][0] = (size_t)k;
				at[n][1] = (size_t)(done[k] + j);
				n++;
			}
		CHECK(bn_forward_batch(m, s, bseq, btok, n, want, out) ==
		    BN_OK);
		for (i = 0, j = 0; j < n; j++)
			if (want[j]) {
				same &= memcmp(out + i * VOCAB,
				    ref[at[j][0]] + at[j][1] * VOCAB,
				    VOCAB * sizeof(float)) == 0;
				i++;
				rows++;
			}
		for (k = 0; k < 3; k++)
			done[k] += plan[p][k];
	}
	CHECK(same);
	CHECK(rows == 13);
	for (k = 0; k < 3; k++)
		CHECK(bn_state_pos(sq[k]) == NTOK && done[k] == NTOK);
	/* refusals change nothing: a full context, a bad token, too many */
	bseq[0] = sq[0];
	CHECK(bn_forward_batch(m, s, bseq, tok, 1, NULL, out) == BN_OK);
	CHECK(bn_forward_batch(m, s, bseq, tok, 1, NULL, out) == BN_OK);
	CHECK(bn_state_pos(sq[0]) == CTX);
	bseq[1] = sq[1];
	CHECK(bn_forward_batch(m, s, bseq + 1, tok, 1, NULL, out) == BN_OK);
	CHECK(bn_forward_batch(m, s, bseq, tok, 2, NULL, out) == BN_EUSAGE);
	CHECK(bn_state_pos(sq[1]) == NTOK + 1);
	bad = VOCAB;
	CHECK(bn_forward_batch(m, s, bseq + 1, &bad, 1, NULL, out) ==
	    BN_EUSAGE);
	bseq[0] = bseq[1];
	/* two tokens of sequence 1 need positions NTOK + 1 and CTX */
	CHECK(bn_forward_batch(m, s, bseq, tok, 2, NULL, out) == BN_EUSAGE);
	CHECK(bn_state_pos(sq[1]) == NTOK + 1);
	for (i = 0; i < NTOK + 1; i++)
		bseq[i] = sq[2];
	bn_state_reset(sq[2]);
	CHECK(bn_forward_batch(m, s, bseq, zero, NTOK + 1, NULL, out) ==
	    BN_EUSAGE);
	CHECK(bn_state_pos(sq[2]) == 0);
	for (k = 0; k < 3; k++)
		bn_state_free(sq[k]);
	bn_state_free(s);
}

/* Logits of one token at a time (threads: more than the KV heads split
 * the groups of query heads). */
static int
run_steps(const struct bn_model *m, const int32_t *tok, int threads,
    float *lg)
{
	struct bn_state *s;
	struct bn_err e;
	size_t i;
	int st = BN_OK;

	if (bn_state_new_kv(&s, m, CTX, 1, threads, kvtype, &e) != BN_OK)
		return -1;
	for (i = 0; i < NTOK && st == BN_OK; i++)
		st = bn_forward(m, s, tok + i, 1, lg + i * VOCAB, 0);
	bn_state_free(s);
	return st;
}

/*
 * The f16 and q8 KV caches: logits within tol of the double reference
 * (keys and values rounded to f16 add about 2^-11 relative each, to
 * int8 codes of a row's scale about 1/254 of its largest) and not the
 * f32 cache's bits; then one token at a time, any threads, and
 * continuous batching over such sequences give its bits exactly.
 */
static double
test_kv16(const struct bn_model *m, const int32_t *tok, const float *lg32,
    const double *ref, double tol, int type)
{
	static float lg[NTOK * VOCAB], lg2[NTOK * VOCAB];
	struct bn_state *s;
	struct bn_err e;
	double err;

	CHECK(bn_state_new_kv(&s, m, CTX, 1, 1, 2, &e) == BN_EUSAGE);
	CHECK(bn_state_new_kv(&s, m, CTX, 1, 1, -1, &e) == BN_EUSAGE);
	CHECK(bn_state_new_kv(&s, m, CTX, 1, 1, 4, &e) == BN_EUSAGE);
	kvtype = type;
	CHECK(run(m, tok, 1, lg, NULL) == BN_OK);
	err = relerr_f(lg, ref, NTOK * VOCAB);
	CHECK(err < tol);
	CHECK(memcmp(lg, lg32, sizeof lg) != 0);
	CHECK(run_steps(m, tok, 1, lg2) == BN_OK);
	CHECK(memcmp(lg, lg2, sizeof lg) == 0);
	CHECK(run_steps(m, tok, 3, lg2) == BN_OK);
	CHECK(memcmp(lg, lg2, sizeof lg) == 0);
	CHECK(run(m, tok, 3, lg2, NULL) == BN_OK);
	CHECK(memcmp(lg, lg2, sizeof lg) == 0);
	test_batch(m, tok, lg);
	kvtype = BN_KV_F32;
	/* and f32's split groups of heads: its bits */
	CHECK(run_steps(m, tok, 3, lg2) == BN_OK);
	CHECK(memcmp(lg32, lg2, sizeof lg) == 0);
	CHECK(run_steps(m, tok, 4, lg2) == BN_OK);
	CHECK(memcmp(lg32, lg2, sizeof lg) == 0);
	return err;
}

static void
test_case(const struct tcase *tc, const char *dir)
{
	static const int32_t tok[NTOK] = { 3, 0, VOCAB - 1, 7, 7, 1 };
	float lg[NTOK * VOCAB], lg2[NTOK * VOCAB], one[VOCAB];
	double ref[NTOK * VOCAB], alt[NTOK * VOCAB], err, margin = 1, dev = 0;
	struct evlist me = { 0 }, re = { 0 };
	const struct bn_kernels *save;
	struct bn_state *s;
	struct bn_model m;
	struct bn_err e;
	struct net nt;
	char path[512];
	int32_t badtok[NTOK + 1] = { 0 };
	size_t bad = 0, i;
	int nquant = 0, mode = tc->flags & BN_MODEL_NOQUANT ? 0 : 1, same;

	/* a seed (17 x the golden ratio) whose BitLinear inputs keep ten
	 * times farther from a rounding tie than f32 and double differ */
	seed = 0x81af155173f23d65u;
	net_make(&nt, tc);
	snprintf(path, sizeof path, "%s/%s.bnt", dir, tc->name);
	CHECK(write_net(&nt, path) == 0);
	if (bn_model_open_flags(&m, path, tc->flags, &e) != BN_OK) {
		fprintf(stderr, "%s: %s\n", tc->name, e.msg);
		CHECK(!"model opens");
		net_free(&nt);
		return;
	}
	CHECK(m.c.arch == tc->arch && m.c.vocab == VOCAB &&
	    m.c.hidden == tc->hidden && m.c.head_dim == tc->head_dim &&
	    m.c.tied == tc->tied && m.c.rope_interleaved == tc->interleaved);
	/* the BitLinear path where the reference takes it, else float */
	for (i = 0; i < NLAYER; i++) {
		const struct bn_layer *L = &m.layer[i];

		CHECK(L->q.kind == (quantized(&nt.lin[i][LQ], mode) ?
		    BN_LIN_T2 : BN_LIN_FLOAT));
		CHECK(L->o.kind == (quantized(&nt.lin[i][LO], mode) ?
		    BN_LIN_T2 : BN_LIN_FLOAT));
		CHECK(L->down.kind == (quantized(&nt.lin[i][LDOWN], mode) ?
		    BN_LIN_T2 : BN_LIN_FLOAT));
	}
	CHECK(m.head.kind == BN_LIN_FLOAT);

	/* all at once, against the reference, hooks too */
	r_forward(&nt, tok, NTOK, mode, ref, &re);
	CHECK(run(&m, tok, 1, lg, &me) == BN_OK);
	err = relerr_f(lg, ref, NTOK * VOCAB);
	CHECK(err < TOL);
	CHECK(check_events(&nt, &me, &re, NTOK, &bad, &margin, &dev,
	    &nquant) < TOL);
	CHECK(bad == 0);
	/* the BitLinear cases quantize at every site, whatever its width;
	 * equal codes mean something where the reference's x s keeps
	 * farther from a rounding tie than f32 and double differ */
	CHECK(nquant == (mode == 1 && tc->arch == BN_ARCH_BITNET ?
	    4 * NLAYER : 0));
	CHECK(nquant == 0 || margin > 2 * dev);
	if (tc->contrast >= 0) {
		r_forward(&nt, tok, NTOK, tc->contrast, alt, NULL);
		CHECK(relerr(alt, ref, NTOK * VOCAB) > 100 * TOL);
		CHECK(relerr_f(lg, alt, NTOK * VOCAB) > 100 * TOL);
	}
	printf("%-18s logits rel err %.1e", tc->name, err);
	if (nquant)
		printf(", %d quantized sites: x s off by %.1e, ties %.1e away",
		    nquant, dev, margin);
	printf("\n");
	ev_clear(&me);

	/* one token at a time through the KV cache: the same bits */
	CHECK(bn_state_new(&s, &m, CTX, NTOK, 2, &e) == BN_OK);
	bn_state_set_hook(s, hook, &me);
	for (same = 1, i = 0; i < NTOK; i++) {
		ev_clear(&me);
		CHECK(bn_forward(&m, s, tok + i, 1, one, 0) == BN_OK);
		same &= memcmp(one, lg + i * VOCAB, sizeof one) == 0;
		CHECK(me.n == MAXEV && me.e[0].T == 1 &&
		    me.e[MAXEV - 1].T == 1);
	}
	CHECK(same);
	CHECK(bn_state_pos(s) == NTOK);
	ev_clear(&me);
	bn_state_set_hook(s, NULL, NULL);

	/* refusals leave the state as it was */
	CHECK(bn_forward(&m, s, tok, 3, lg2, 1) == BN_EUSAGE);	/* full */
	CHECK(bn_forward(&m, s, tok, 2, NULL, 0) == BN_OK);
	CHECK(bn_forward(&m, s, tok, 1, NULL, 0) == BN_EUSAGE);
	CHECK(bn_state_pos(s) == CTX);
	bn_state_reset(s);
	CHECK(bn_state_pos(s) == 0);
	badtok[1] = VOCAB;
	CHECK(bn_forward(&m, s, badtok, 2, lg2, 1) == BN_EUSAGE);
	badtok[1] = -1;
	CHECK(bn_forward(&m, s, badtok, 2, lg2, 1) == BN_EUSAGE);
	badtok[1] = 0;
	CHECK(bn_forward(&m, s, tok, 0, lg2, 1) == BN_EUSAGE);
	CHECK(bn_forward(&m, s, badtok, NTOK + 1, NULL, 0) == BN_EUSAGE);
	CHECK(bn_state_pos(s) == 0);
	CHECK(me.n == 0);

	/* in two pieces after a reset, and the last row alone */
	CHECK(bn_forward(&m, s, tok, 2, lg2, 1) == BN_OK);
	CHECK(bn_forward(&m, s, tok + 2, NTOK - 2, lg2 + 2 * VOCAB, 1) ==
	    BN_OK);
	CHECK(memcmp(lg, lg2, sizeof lg) == 0);
	bn_state_reset(s);
	CHECK(bn_forward(&m, s, tok, NTOK, one, 0) == BN_OK);
	CHECK(memcmp(one, lg + (NTOK - 1) * VOCAB, sizeof one) == 0);
	bn_state_free(s);

	test_batch(&m, tok, lg);
	printf("%-18s f16 KV cache: logits rel err %.1e (tolerance %.0e)\n",
	    tc->name, test_kv16(&m, tok, lg, ref, nquant ? TOL16Q : TOL16,
	    BN_KV_F16), nquant ? TOL16Q : TOL16);
	printf("%-18s q8 KV cache: logits rel err %.1e (tolerance %.0e)\n",
	    tc->name, test_kv16(&m, tok, lg, ref, nquant ? TOL8Q : TOL8,
	    BN_KV_Q8), nquant ? TOL8Q : TOL8);

	/* three threads, and the other kernel table: the same bits */
	CHECK(run(&m, tok, 3, lg2, NULL) == BN_OK);
	CHECK(memcmp(lg, lg2, sizeof lg) == 0);
	save = bn_k;
	if (bn_kernels_init(save == &bn_kernels_ref ? "avx2" : "ref") == 0 &&
	    bn_k != save) {
		CHECK(run(&m, tok, 1, lg2, NULL) == BN_OK);
		CHECK(memcmp(lg, lg2, sizeof lg) == 0);
	}
	bn_k = save;

	/* the int8 head: a prompt's rows at once (its weights in blocks
	 * that every row passes) give each row's bits of one at a time */
	CHECK(bn_model_quantize_head(&m, &e) == BN_OK);
	CHECK(m.head.kind == BN_LIN_I8);
	CHECK(run(&m, tok, 2, lg2, NULL) == BN_OK);
	CHECK(bn_state_new(&s, &m, CTX, NTOK, 1, &e) == BN_OK);
	for (same = 1, i = 0; i < NTOK; i++) {
		CHECK(bn_forward(&m, s, tok + i, 1, one, 0) == BN_OK);
		same &= memcmp(one, lg2 + i * VOCAB, sizeof one) == 0;
	}
	CHECK(same);
	bn_state_free(s);

	ev_clear(&re);
	bn_model_close(&m);
	unlink(path);
	net_free(&nt);
}

int
main(void)
{
	char dir[] = "/tmp/t_model.XXXXXX";
	size_t i;

	if (bn_kernels_init(NULL) != 0 || mkdtemp(dir) == NULL)
		return 1;
	for (i = 0; i < sizeof cases / sizeof cases[0]; i++)
		test_case(&cases[i], dir);
	rmdir(dir);
	return check_done();
}
