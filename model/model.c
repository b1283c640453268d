/* model.c: bind a bnt(5) model in place and run its forward pass. */
#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dtype.h"
#include "kv.h"
#include "mem.h"
#include "model.h"
#include "quant.h"
#include "roles.h"

/* ---- binding tensors ---- */

static const struct bnt_map_tensor *
find(const struct bn_model *m, const char *name, struct bn_err *e)
{
	const struct bnt_map_tensor *t = bnt_map_find(&m->map, name);

	if (t == NULL)
		bn_seterr(e, BN_EFORMAT, "tensor '%s' is missing", name);
	return t;
}

static int
shape2(const struct bnt_map_tensor *t, size_t rows, size_t n,
    struct bn_err *e)
{
	if (t->t.ndim != 2 || t->t.dims[0] != rows || t->t.dims[1] != n)
		return bn_seterr(e, BN_EFORMAT, "tensor '%s': shape %llux%llu "
		    "expected", t->t.name, (unsigned long long)rows,
		    (unsigned long long)n);
	return BN_OK;
}

static int
bind_vec(const struct bn_model *m, struct bn_vec *v, const char *name,
    size_t n, struct bn_err *e)
{
	const struct bnt_map_tensor *t = find(m, name, e);

	if (t == NULL)
		return BN_EFORMAT;
	if (t->t.ndim != 1 || t->t.dims[0] != n ||
	    !bn_dtype_traits(t->t.dtype)->is_float ||
	    t->t.dtype == BN_DTYPE_F64)
		return bn_seterr(e, BN_EFORMAT, "tensor '%s': a float vector "
		    "of %zu expected", name, n);
	v->dtype = t->t.dtype;
	v->w = t->data;
	v->n = n;
	return BN_OK;
}

/* Row length n rounded up to whole t2 blocks: the width of t2 rows and
 * of the int8 activations they multiply.  The padding holds zero codes
 * and zero activations, which add nothing to a sum, so a BitLinear of
 * any width runs on the block kernels exactly. */
static size_t
t2_width(size_t n)
{
	return (n + BN_T2_BLOCK - 1) / BN_T2_BLOCK * BN_T2_BLOCK;
}

/* Ternarize float weights on load, as BitNet's online mode does:
 * s = 1 / max(mean |W|, 1e-5) over the real elements; t = clamp(round(
 * W * s), -1, 1); the linear then computes isum / (as * s). */
static int
ternarize(struct bn_linear *l, const struct bnt_map_tensor *t,
    struct bn_err *e)
{
	size_t rows = l->rows, n = l->n, rb = t2_width(n) / 4, r;
	float *v, s;
	uint8_t *w = NULL;

	if ((v = malloc(rows * n * sizeof *v)) == NULL ||
	    (w = malloc(rows * rb)) == NULL ||
	    (l->owned_scale = malloc(rows * sizeof(float))) == NULL) {
		free(v);
		free(w);
		return bn_seterr(e, BN_ENOMEM, "out of memory");
	}
	for (r = 0; r < rows; r++)
		bnt_map_row_f32(t, r, v + r * n);
	/* the bytes past each row's n codes get code 1 (zero) */
	bn_quant_tensor(v, rows, n, &(struct bn_quant){ .kind =
	    BN_QUANT_TERNARY, .codes = w, .row_bytes = rb, .scales = &s });
	for (r = 0; r < rows; r++)
		l->owned_scale[r] = s;
	free(v);
	l->kind = BN_LIN_T2;
	l->owned = w;
	l->w = w;
	l->row_bytes = rb;
	l->scale = l->owned_scale;
	l->div = 1;
	return BN_OK;
}

/* Dequantize to f32 (types the kernels do not take directly). */
static int
to_float(struct bn_linear *l, const struct bnt_map_tensor *t,
    struct bn_err *e)
{
	float *w = malloc(l->rows * l->n * sizeof *w);
	size_t r;

	if (w == NULL)
		return bn_seterr(e, BN_ENOMEM, "out of memory");
	for (r = 0; r < l->rows; r++)
		bnt_map_row_f32(t, r, w + r * l->n);
	l->kind = BN_LIN_FLOAT;
	l->dtype = BN_DTYPE_F32;
	l->owned = w;
	l->w = w;
	l->row_bytes = l->n * sizeof *w;
	return BN_OK;
}

/* Packed codes (t3, b1, or t2 whose rows end inside a block) re-packed
 * as t2 rows of whole blocks, the padding code 1 (zero) whatever the
 * stream's padding holds; scales as for t2. */
static int
repack_t2(struct bn_linear *l, const struct bnt_map_tensor *t,
    struct bn_err *e)
{
	size_t r, c, rb = t2_width(l->n) / 4;
	uint8_t *w = malloc(l->rows * rb);
	const unsigned char *p;

	if (w == NULL)
		return bn_seterr(e, BN_ENOMEM, "out of memory");
	memset(w, 0x55, l->rows * rb);
	for (r = 0; r < l->rows; r++) {
		p = (const unsigned char *)t->data + r * t->t.row_bytes;
		for (c = 0; c < l->n; c++)
			bn_t2_set(w + r * rb, c, t->t.dtype == BN_DTYPE_T3 ?
			    bn_t3_get(p, c) : t->t.dtype == BN_DTYPE_B1 ?
			    bn_b1_get(p, c) : bn_t2_get(p, c));
	}
	l->owned = w;
	l->w = w;
	l->row_bytes = rb;
	return BN_OK;
}

/* The codes (0, 1, 2) of the packed row p of dtype (t2, t3 or b1) into
 * c, code 1 from n to nq; -1 if one is invalid (t2's 3, a t3 byte above
 * 242). */
static int
row_codes(int dtype, const uint8_t *p, size_t n, size_t nq, uint8_t *c)
{
	size_t i, k;
	unsigned b;

	switch (dtype) {
	case BN_DTYPE_T2:
		for (i = 0; i < n; i++)
			if ((c[i] = p[i / BN_T2_BLOCK * 32 + i % 32] >>
			    (2 * (i % BN_T2_BLOCK / 32)) & 3) == 3)
				return -1;
		break;
	case BN_DTYPE_T3:
		for (i = 0; i < n; i += BN_T3_GROUP) {
			if ((b = p[i / BN_T3_GROUP]) > 242)
				return -1;
			for (k = 0; k < BN_T3_GROUP && i + k < n; k++, b /= 3)
				c[i + k] = (uint8_t)(b % 3);
		}
		break;
	default:		/* b1: 1 = +1, 0 = -1 */
		for (i = 0; i < n; i++)
			c[i] = (uint8_t)(p[i / 8] >> (i % 8) & 1 ? 2 : 0);
		break;
	}
	memset(c + n, 1, nq - n);
	return 0;
}

/* Packed rows (the tensor's, or l's own t2 rows when t is NULL) into
 * t3k, the kernels' 1.6-bit layout, t2_width(n) codes a row (the int8
 * activations' width), 64-byte aligned; scales as they are. */
static int
repack_t3k(struct bn_linear *l, const struct bnt_map_tensor *t,
    const char *name, struct bn_err *e)
{
	size_t r, nq = t2_width(l->n), rb = bn_t3k_row_bytes(nq);
	int dt = t ? t->t.dtype : BN_DTYPE_T2;
	size_t srb = t ? (size_t)t->t.row_bytes : l->row_bytes;
	const uint8_t *src = t ? t->data : l->w;
	uint8_t *w = aligned_alloc(64, l->rows * rb), *c = malloc(nq);

	if (w == NULL || c == NULL) {
		free(w);
		free(c);
		return bn_seterr(e, BN_ENOMEM, "out of memory");
	}
	for (r = 0; r < l->rows; r++) {
		if (row_codes(dt, src + r * srb, l->n, nq, c) != 0) {
			free(w);
			free(c);
			return bn_seterr(e, BN_EFORMAT, "tensor '%s': row %zu: "
			    "an invalid %s code", name, r,
			    bn_dtype_traits(dt)->name);
		}
		bn_t3k_pack(w + r * rb, c, nq);
	}
	free(c);
	free(l->owned);
	l->kind = BN_LIN_T3;
	l->owned = w;
	l->w = w;
	l->row_bytes = rb;
	return BN_OK;
}

/* One scale per row if the tensor's scales allow it; -1 if not, -2
 * out of memory. */
static int
row_scales(struct bn_linear *l, const struct bnt_map_tensor *t)
{
	if ((l->owned_scale = malloc(l->rows * sizeof(float))) == NULL)
		return -2;
	if (bnt_map_row_scales(t, l->owned_scale) != 0)
		return -1;
	l->scale = l->owned_scale;
	l->div = (t->t.scale_flags & BNT_SCALE_DIV) != 0;
	return 0;
}

/* bitlinear: 1 ternarize float weights, 0 keep them, -1 everything in
 * float (BN_MODEL_NOQUANT).  layout: where ternary weights go, 2 t2, 3
 * t3k, 0 t3k for bnt's t3 and t2 for the rest. */
static int
bind_linear(struct bn_model *m, struct bn_linear *l, const char *name,
    size_t rows, size_t n, int bitlinear, int layout, struct bn_err *e)
{
	const struct bnt_map_tensor *t = find(m, name, e);
	int st, dt, rc;

	memset(l, 0, sizeof *l);
	if (t == NULL)
		return BN_EFORMAT;
	if ((st = shape2(t, rows, n, e)) != BN_OK)
		return st;
	l->rows = rows;
	l->n = n;
	dt = t->t.dtype;
	if (bn_dtype_traits(dt)->is_float && dt != BN_DTYPE_F64 &&
	    t->t.scale_kind == BNT_SCALE_NONE) {
		if (bitlinear > 0) {
			if ((st = ternarize(l, t, e)) == BN_OK && layout == 3)
				st = repack_t3k(l, NULL, name, e);
			return st;
		}
		l->kind = BN_LIN_FLOAT;
		l->dtype = dt;
		l->w = t->data;
		l->row_bytes = (size_t)t->t.row_bytes;
		return BN_OK;
	}
	if (bitlinear < 0)		/* BN_MODEL_NOQUANT: all in float */
		return to_float(l, t, e);
	if (dt == BN_DTYPE_I8 && t->t.scale_kind != BNT_SCALE_BLOCK) {
		if ((rc = row_scales(l, t)) == -2)
			return bn_seterr(e, BN_ENOMEM, "out of memory");
		if (rc == 0) {
			l->kind = BN_LIN_I8;
			l->w = t->data;
			l->row_bytes = (size_t)t->t.row_bytes;
			return BN_OK;
		}
		free(l->owned_scale);
		l->owned_scale = NULL;
		l->scale = NULL;
	}
	if (dt == BN_DTYPE_T2 || dt == BN_DTYPE_T3 || dt == BN_DTYPE_B1) {
		rc = row_scales(l, t);
		if (rc == -2)
			return bn_seterr(e, BN_ENOMEM, "out of memory");
		if (rc == 0) {
			l->kind = BN_LIN_T2;
			if (layout == 3 || (layout == 0 &&
			    dt == BN_DTYPE_T3))
				return repack_t3k(l, t, name, e);
			/* in place only where no row ends inside a block:
			 * a reader must not trust the stream's padding */
			if (dt == BN_DTYPE_T2 && n % BN_T2_BLOCK == 0) {
				l->w = t->data;
				l->row_bytes = (size_t)t->t.row_bytes;
				return BN_OK;
			}
			return repack_t2(l, t, e);
		}
		free(l->owned_scale);
		l->owned_scale = NULL;
		l->scale = NULL;
	}
	return to_float(l, t, e);
}

/* Where each per-layer role binds in struct bn_layer: a struct bn_vec
 * for a norm, a struct bn_linear for a projection; 1 + the offset, so
 * that 0 says a role has no place here. */
#define SLOT(m) (1 + offsetof(struct bn_layer, m))
static const size_t layer_off[BN_R_COUNT] = {
	[BN_R_ATTN_NORM] = SLOT(attn_norm),
	[BN_R_ATTN_Q] = SLOT(q),
	[BN_R_ATTN_K] = SLOT(k),
	[BN_R_ATTN_Q_BIAS] = SLOT(q_bias),
	[BN_R_ATTN_K_BIAS] = SLOT(k_bias),
	[BN_R_ATTN_V] = SLOT(v),
	[BN_R_ATTN_V_BIAS] = SLOT(v_bias),
	[BN_R_ATTN_Q_NORM] = SLOT(q_norm),
	[BN_R_ATTN_K_NORM] = SLOT(k_norm),
	[BN_R_ATTN_SUB_NORM] = SLOT(attn_sub_norm),
	[BN_R_ATTN_OUTPUT] = SLOT(o),
	[BN_R_FFN_NORM] = SLOT(ffn_norm),
	[BN_R_FFN_GATE] = SLOT(gate),
	[BN_R_FFN_UP] = SLOT(up),
	[BN_R_FFN_SUB_NORM] = SLOT(ffn_sub_norm),
	[BN_R_FFN_DOWN] = SLOT(down),
};
#undef SLOT

/* The member of L that role id binds to; NULL if none. */
static void *
layer_slot(struct bn_layer *L, int id)
{
	return layer_off[id] ? (char *)L + layer_off[id] - 1 : NULL;
}

const struct bn_linear *
bn_model_linear(const struct bn_model *m, int layer, int id)
{
	if (m->layer == NULL || layer < 0 || layer >= m->c.layers || id < 0 ||
	    id >= BN_R_COUNT || !bn_role_is_proj(id))
		return NULL;
	return layer_slot(&m->layer[layer], id);
}

static void
free_linear(struct bn_linear *l)
{
	free(l->owned);
	free(l->owned_scale);
	free(l->q4s);
	memset(l, 0, sizeof *l);
}

/* a compact head has no code for NaN or infinity (a float to integer
 * conversion of them is undefined): the head stays as stored */
static int
nonfinite_head(struct bn_err *e, size_t r)
{
	return bn_seterr(e, BN_EFORMAT, "the output head: row %zu: NaN or "
	    "infinity cannot be quantized (--head keep runs it)", r);
}

int
bn_model_quantize_head(struct bn_model *m, struct bn_err *e)
{
	struct bn_linear *l = &m->head;
	size_t r, c, n = l->n;
	float *row, mx, s;
	int8_t *w;

	if (l->kind != BN_LIN_FLOAT)
		return BN_OK;		/* already compact */
	row = malloc(n * sizeof *row);
	w = malloc(l->rows * n);
	s = 0;
	if (row == NULL || w == NULL ||
	    (l->owned_scale = realloc(l->owned_scale, l->rows *
	    sizeof(float))) == NULL) {
		free(row);
		free(w);
		return bn_seterr(e, BN_ENOMEM, "out of memory");
	}
	for (r = 0; r < l->rows; r++) {
		bn_row_to_f32(l->dtype, (const char *)l->w + r * l->row_bytes,
		    n, row);
		for (mx = 0, c = 0; c < n; c++)
			if (fabsf(row[c]) > mx || !isfinite(row[c]))
				mx = fabsf(row[c]);
		if (!isfinite(mx))
			break;
		s = mx > 0 ? mx / 127 : 1;
		for (c = 0; c < n; c++)
			w[r * n + c] = (int8_t)nearbyintf(row[c] / s);
		l->owned_scale[r] = s;
	}
	free(row);
	if (r < l->rows) {
		free(w);
		return nonfinite_head(e, r);
	}
	free(l->owned);
	l->owned = w;
	l->w = w;
	l->kind = BN_LIN_I8;
	l->row_bytes = n;
	l->scale = l->owned_scale;
	l->div = 0;
	return BN_OK;
}

int
bn_model_quantize_head_q4(struct bn_model *m, struct bn_err *e)
{
	struct bn_linear *l = &m->head;
	size_t r, b, c, n = l->n, nb = n / BN_Q4_BLOCK;
	float *row, mx, d;
	int8_t *q;
	uint8_t *w;
	uint16_t *sc;
	uint16_t h;

	if (l->kind != BN_LIN_FLOAT)
		return bn_seterr(e, BN_EUNSUPPORTED, "a q4 head is made from "
		    "a float head, not from this one");
	if (n % BN_Q4_BLOCK != 0 || n > BN_Q4_MAXN)
		return bn_seterr(e, BN_EUNSUPPORTED, "a q4 head needs a hidden "
		    "size that is a multiple of %d up to %d, not %zu",
		    BN_Q4_BLOCK, BN_Q4_MAXN, n);
	row = malloc(n * sizeof *row);
	q = malloc(n);
	w = malloc(l->rows * (n / 2));
	sc = malloc(l->rows * nb * sizeof *sc);
	if (row == NULL || q == NULL || w == NULL || sc == NULL) {
		free(row), free(q), free(w), free(sc);
		return bn_seterr(e, BN_ENOMEM, "out of memory");
	}
	for (r = 0; r < l->rows; r++) {
		bn_row_to_f32(l->dtype, (const char *)l->w + r * l->row_bytes,
		    n, row);
		for (b = 0; b < nb; b++) {
			const float *v = row + BN_Q4_BLOCK * b;

			for (mx = 0, c = 0; c < BN_Q4_BLOCK; c++)
				if (fabsf(v[c]) > mx || !isfinite(v[c]))
					mx = fabsf(v[c]);
			if (!isfinite(mx))
				break;
			h = bn_f32_to_f16(mx / 7);
			d = bn_f16_to_f32(h);
			sc[r * nb + b] = h;
			for (c = 0; c < BN_Q4_BLOCK; c++) {
				float t = d > 0 ? nearbyintf(v[c] / d) : 0;

				q[BN_Q4_BLOCK * b + c] = (int8_t)(t < -8 ? -8 :
				    t > 7 ? 7 : t);
			}
		}
		if (b < nb)
			break;
		bn_q4_pack(w + r * (n / 2), q, n);
	}
	free(row);
	free(q);
	if (r < l->rows) {
		free(w), free(sc);
		return nonfinite_head(e, r);
	}
	free(l->owned);
	l->owned = w;
	l->w = w;
	l->q4s = sc;
	l->kind = BN_LIN_Q4;
	l->row_bytes = n / 2;
	return BN_OK;
}

void
bn_model_close(struct bn_model *m)
{
	int i, id;

	if (m->layer != NULL)
		for (i = 0; i < m->c.layers; i++)
			for (id = 0; id < BN_R_COUNT; id++)
				if (bn_roles[id].layer && bn_role_is_proj(id) &&
				    layer_off[id])
					free_linear(layer_slot(&m->layer[i],
					    id));
	free(m->layer);
	free_linear(&m->head);
	bnt_map_close(&m->map);
	memset(m, 0, sizeof *m);
}

int
bn_model_ternary_flag(const char *name, unsigned *flag)
{
	if (strcmp(name, "t2") == 0)
		*flag = BN_MODEL_T2;
	else if (strcmp(name, "t3") == 0)
		*flag = BN_MODEL_T3;
	else if (strcmp(name, "auto") == 0)
		*flag = 0;
	else
		return -1;
	return 0;
}

int
bn_model_open(struct bn_model *m, const char *path, struct bn_err *e)
{
	return bn_model_open_flags(m, path, 0, e);
}

int
bn_model_open_flags(struct bn_model *m, const char *path, unsigned flags,
    struct bn_err *e)
{
	const struct bnt_map_tensor *t;
	struct bn_config *c = &m->c;
	struct bn_dims d;
	char name[64];
	uint64_t rows, cols;
	size_t k;
	int i, id, st, bl, lay = flags & BN_MODEL_T3 ? 3 : flags & BN_MODEL_T2 ?
	    2 : 0;

	memset(m, 0, sizeof *m);
	if ((st = bnt_map_open(&m->map, path, flags & BN_MODEL_NONFINITE ?
	    BNT_MAP_NONFINITE : 0, e)) != BN_OK)
		return st;
	if (!m->map.has_config) {
		bnt_map_close(&m->map);
		return bn_seterr(e, BN_EFORMAT, "no configuration record (not a "
		    "model)");
	}
	if ((st = bn_config_from_map(c, &m->map, e)) != BN_OK)
		goto fail;
	bn_dims_from_config(&d, c);
	bl = flags & BN_MODEL_NOQUANT ? -1 : c->bitlinear;
	bn_role_name(BN_R_TOKEN_EMBD, 0, name, sizeof name);
	bn_role_shape(BN_R_TOKEN_EMBD, &d, &rows, &cols);
	if ((t = find(m, name, e)) == NULL) {
		st = BN_EFORMAT;
		goto fail;
	}
	if ((st = shape2(t, (size_t)rows, (size_t)cols, e)) != BN_OK)
		goto fail;
	if (!bn_dtype_traits(t->t.dtype)->is_float ||
	    t->t.dtype == BN_DTYPE_F64) {
		st = bn_seterr(e, BN_EUNSUPPORTED, "%s: type %s is not "
		    "supported for embeddings", name,
		    bn_dtype_traits(t->t.dtype)->name);
		goto fail;
	}
	m->embd = t->data;
	m->embd_dtype = t->t.dtype;
	m->embd_row_bytes = (size_t)t->t.row_bytes;
	bn_role_shape(BN_R_OUTPUT_NORM, &d, &rows, &cols);
	if ((st = bind_vec(m, &m->out_norm, bn_role_name(BN_R_OUTPUT_NORM, 0,
	    name, sizeof name), (size_t)cols, e)))
		goto fail;
	/* the head: token_embd itself when tied */
	id = c->tied ? BN_R_TOKEN_EMBD : BN_R_OUTPUT;
	bn_role_shape(id, &d, &rows, &cols);
	if ((st = bind_linear(m, &m->head, bn_role_name(id, 0, name,
	    sizeof name), (size_t)rows, (size_t)cols, bl < 0 ? -1 : 0, lay,
	    e)) !=
	    BN_OK)
		goto fail;
	if ((m->layer = calloc((size_t)c->layers, sizeof *m->layer)) == NULL) {
		st = bn_seterr(e, BN_ENOMEM, "out of memory");
		goto fail;
	}
	for (i = 0; i < c->layers; i++)
		for (id = 0; id < BN_R_COUNT; id++) {
			struct bn_layer *L = &m->layer[i];

			if (!bn_roles[id].layer ||
			    !bn_role_present(id, c->arch, c->tied))
				continue;
			bn_role_name(id, i, name, sizeof name);
			bn_role_shape(id, &d, &rows, &cols);
			if (layer_slot(L, id) == NULL)
				st = bn_seterr(e, BN_EUNSUPPORTED, "tensor '%s': "
				    "the forward pass has no place for it",
				    name);
			else if (bn_role_is_proj(id))
				st = bind_linear(m, layer_slot(L, id), name,
				    (size_t)rows, (size_t)cols, bl, lay, e);
			else
				st = bind_vec(m, layer_slot(L, id), name,
				    (size_t)cols, e);
			if (st != BN_OK)
				goto fail;
		}
	/* a tensor the model holds but would not use is a misread */
	for (k = 0; k < m->map.ntensors; k++) {
		const char *nm = m->map.tensors[k].t.name, *why;

		if ((why = bn_role_unexpected(c, nm)) != NULL) {
			st = bn_seterr(e, BN_EFORMAT, "tensor '%s': %s", nm,
			    why);
			goto fail;
		}
	}
	return BN_OK;
fail:
	bn_model_close(m);
	return st;
}

/* ---- forward ---- */

struct bn_state {
	const struct bn_model *m;
	struct bn_pool *pool;
	int nthreads;
	int ctx, batch, pos;
	int kvtype;		/* BN_KV_F32, BN_KV_F16 or BN_KV_Q8 */
	size_t kvsz;		/* bytes per cache element: 4, 2 or 1 */
	void *kc, *vc;		/* [layers][kv_heads][ctx][head_dim] of
				 * kvtype: a KV head's rows one stream */
	float *ks, *vs;		/* q8: each row's scale [layers][kv_heads][ctx] */
	float *x, *xn, *q, *k, *v, *att, *g, *u;
	int8_t *q8;		/* a q8 cache's queries: [batch][heads][head_dim] */
	float *qsc;		/* and 1 / their quant_i8 scales [batch][heads] */
	int8_t *xq;		/* [batch][max dim] */
	float *as;		/* activation scales [batch] */
	int32_t *isum;		/* [batch][max rows] */
	float *scores;		/* [max(nthreads, kv_heads)][heads / kv_heads][ctx] */
	float *cosv, *sinv;	/* [ctx][head_dim / 2] */
	float *bias;		/* [heads * head_dim]: a bias in f32 */
	struct bn_state **seq;	/* [batch]: each token's sequence, */
	int *tpos;		/* its position */
	unsigned char *want;	/* and whether its logits are wanted */
	bn_hook_fn hook;
	void *hook_ctx;
	int hook_qkv;		/* the hook sees BN_SITE_Q, _K, _V too */
};

/* Zeroed and 64-byte aligned: a kernel's vector loads of the int8
 * activations then never cross a cache line (t3k's matvec loads x five
 * times for every 64 weight bytes, and ran at half its speed on rows 16
 * bytes off).  Buffers of 64 KiB or more (the KV cache) are aligned to
 * a page: threads that read parts of its rows then do not share the
 * pairs of lines the prefetchers fetch together. */
static void *
zalloc(size_t n, size_t size, int *bad)
{
	void *p = NULL;

	if (bn_mul_size(n, size, &n) != 0 || posix_memalign(&p, n < 65536 ?
	    64 : 4096, n ? n : 1) != 0) {
		*bad = 1;
		return NULL;
	}
	memset(p, 0, n ? n : 1);
	return p;
}

int
bn_kv_type(const char *name)
{
	return strcmp(name, "f32") == 0 ? BN_KV_F32 : strcmp(name, "f16") ==
	    0 ? BN_KV_F16 : strcmp(name, "q8") == 0 ? BN_KV_Q8 : -1;
}

const char *
bn_kv_type_name(int kv_type)
{
	return kv_type == BN_KV_F32 ? "f32" : kv_type == BN_KV_F16 ? "f16" :
	    kv_type == BN_KV_Q8 ? "q8" : NULL;
}

size_t
bn_kv_row_bytes(int kv_type, size_t n)
{
	return kv_type == BN_KV_Q8 ? n + sizeof(float) : kv_type == BN_KV_F16 ?
	    2 * n : 4 * n;
}

int
bn_state_new(struct bn_state **sp, const struct bn_model *m, int ctx,
    int batch, int nthreads, struct bn_err *e)
{
	return bn_state_new_kv(sp, m, ctx, batch, nthreads, BN_KV_F32, e);
}

int
bn_state_kv_type(const struct bn_state *s)
{
	return s->kvtype;
}

int
bn_state_new_kv(struct bn_state **sp, const struct bn_model *m, int ctx,
    int batch, int nthreads, int kv_type, struct bn_err *e)
{
	const struct bn_config *c = &m->c;
	struct bn_state *s;
	size_t kvd = (size_t)c->kv_heads * (size_t)c->head_dim;
	size_t qd = (size_t)c->heads * (size_t)c->head_dim;
	size_t B, maxd, maxr, half = (size_t)c->head_dim / 2;
	int bad = 0;

	if (ctx <= 0 || batch <= 0 || nthreads <= 0)
		return bn_seterr(e, BN_EUSAGE, "bad context, batch or threads");
	if (bn_kv_type_name(kv_type) == NULL)
		return bn_seterr(e, BN_EUSAGE, "unknown KV cache type %d",
		    kv_type);
	if ((s = calloc(1, sizeof *s)) == NULL)
		return bn_seterr(e, BN_ENOMEM, "out of memory");
	s->m = m;
	s->kvtype = kv_type;
	s->kvsz = kv_type == BN_KV_Q8 ? 1 : kv_type == BN_KV_F16 ? 2 : 4;
	s->ctx = ctx;
	s->batch = batch;
	s->nthreads = nthreads;
	B = (size_t)batch;
	maxd = (size_t)c->hidden;
	if (qd > maxd)
		maxd = qd;
	if ((size_t)c->ffn > maxd)
		maxd = (size_t)c->ffn;
	maxr = maxd > (size_t)c->vocab ? maxd : (size_t)c->vocab;
	s->kc = zalloc((size_t)c->layers * (size_t)ctx, kvd * s->kvsz, &bad);
	s->vc = zalloc((size_t)c->layers * (size_t)ctx, kvd * s->kvsz, &bad);
	if (kv_type == BN_KV_Q8) {
		s->ks = zalloc((size_t)c->layers * (size_t)ctx,
		    (size_t)c->kv_heads * sizeof(float), &bad);
		s->vs = zalloc((size_t)c->layers * (size_t)ctx,
		    (size_t)c->kv_heads * sizeof(float), &bad);
	}
	s->x = zalloc(B, (size_t)c->hidden * sizeof(float), &bad);
	s->xn = zalloc(B, maxd * sizeof(float), &bad);
	s->q = zalloc(B, qd * sizeof(float), &bad);
	s->k = zalloc(B, kvd * sizeof(float), &bad);
	s->q8 = zalloc(B, qd, &bad);
	s->qsc = zalloc(B, (size_t)c->heads * sizeof(float), &bad);
	s->v = zalloc(B, kvd * sizeof(float), &bad);
	s->att = zalloc(B, qd * sizeof(float), &bad);
	s->g = zalloc(B, (size_t)c->ffn * sizeof(float), &bad);
	s->u = zalloc(B, (size_t)c->ffn * sizeof(float), &bad);
	s->xq = zalloc(B, t2_width(maxd), &bad);
	s->as = zalloc(B, sizeof(float), &bad);
	s->isum = zalloc(B, maxr * sizeof(int32_t), &bad);
	/* a thread's group of heads; or every head (att1_scores) */
	s->scores = zalloc((size_t)(nthreads > c->kv_heads ? nthreads :
	    c->kv_heads) * (size_t)(c->heads / c->kv_heads),
	    (size_t)ctx * sizeof(float), &bad);
	s->cosv = zalloc((size_t)ctx, half * sizeof(float), &bad);
	s->sinv = zalloc((size_t)ctx, half * sizeof(float), &bad);
	s->bias = zalloc(qd, sizeof(float), &bad);
	s->seq = zalloc(B, sizeof *s->seq, &bad);
	s->tpos = zalloc(B, sizeof *s->tpos, &bad);
	s->want = zalloc(B, 1, &bad);
	if (!bad && (s->pool = bn_pool_create(nthreads)) == NULL)
		bad = 2;
	if (bad) {
		bn_state_free(s);
		return bn_seterr(e, BN_ENOMEM, bad == 2 ? "cannot start "
		    "threads" : "out of memory (context %d)", ctx);
	}
	bn_rope_table(c, (size_t)ctx, s->cosv, s->sinv);
	*sp = s;
	return BN_OK;
}

void
bn_state_free(struct bn_state *s)
{
	if (s == NULL)
		return;
	if (s->pool != NULL)
		bn_pool_free(s->pool);
	free(s->kc);
	free(s->vc);
	free(s->ks);
	free(s->vs);
	free(s->x);
	free(s->xn);
	free(s->q);
	free(s->k);
	free(s->q8);
	free(s->qsc);
	free(s->v);
	free(s->att);
	free(s->g);
	free(s->u);
	free(s->xq);
	free(s->as);
	free(s->isum);
	free(s->scores);
	free(s->cosv);
	free(s->sinv);
	free(s->bias);
	free(s->seq);
	free(s->tpos);
	free(s->want);
	free(s);
}

void
bn_state_reset(struct bn_state *s)
{
	s->pos = 0;
}

int
bn_state_pos(const struct bn_state *s)
{
	return s->pos;
}

void
bn_state_rewind(struct bn_state *s, int pos)
{
	if (pos >= 0 && pos < s->pos)
		s->pos = pos;
}

void
bn_state_set_hook(struct bn_state *s, bn_hook_fn fn, void *ctx)
{
	s->hook = fn;
	s->hook_ctx = ctx;
}

void
bn_state_hook_qkv(struct bn_state *s, int on)
{
	s->hook_qkv = on;
}

/* A linear layer over T rows, split by output rows across threads. */
#define I8_BLOCK_BYTES (64 * 1024)	/* int8 rows kept in cache (L2) */
struct linjob {
	const struct bn_linear *l;
	const float *x;		/* [T][n] f32 (float weights) */
	const int8_t *xq;	/* [T][t2_width(n)] int8, zero past n */
	const float *as;
	int32_t *isum;
	float *y;		/* [T][rows] */
	size_t T;
};

static void
lin_task(void *ctx, int i, int n)
{
	const struct linjob *j = ctx;
	const struct bn_linear *l = j->l;
	size_t per = (l->rows + (size_t)n - 1) / (size_t)n, r0, r1, t, r;
	size_t nq = t2_width(l->n);

	per = (per + 7) & ~(size_t)7;
	r0 = (size_t)i * per;
	r1 = r0 + per > l->rows ? l->rows : r0 + per;
	if (r0 >= r1)
		return;
	if (l->kind == BN_LIN_FLOAT) {
		const char *w = (const char *)l->w + r0 * l->row_bytes;

		if (j->T == 1)
			bn_k->matvec_f(l->dtype, w, l->row_bytes, j->x,
			    j->y + r0, l->n, r1 - r0);
		else
			bn_k->matmul_f(l->dtype, w, l->row_bytes, j->x, l->n,
			    j->y + r0, l->rows, l->n, r1 - r0, j->T);
		return;
	}
	if (l->kind == BN_LIN_I8 || l->kind == BN_LIN_Q4) {
		/* the compact head over T tokens (a prompt's rows, a batch
		 * of sequences): in blocks of rows that stay in cache while
		 * every token passes, so that the weights come from memory
		 * once, not T times; q4's sums come in float */
		size_t b0, b1, blk = I8_BLOCK_BYTES / l->row_bytes;

		if (blk < 1)
			blk = 1;
		for (b0 = r0; b0 < r1; b0 = b1) {
			b1 = b0 + blk < r1 ? b0 + blk : r1;
			if (l->kind == BN_LIN_I8 && j->T > 1) {
				bn_k->matmul_i8((const int8_t *)l->w + b0 *
				    l->row_bytes, l->row_bytes, j->xq, nq,
				    j->isum + b0, l->rows, l->n, b1 - b0, j->T);
				continue;
			}
			for (t = 0; t < j->T; t++)
				if (l->kind == BN_LIN_Q4)
					bn_k->matvec_q4((const uint8_t *)l->w +
					    b0 * l->row_bytes, l->row_bytes,
					    l->q4s + b0 * (l->n / BN_Q4_BLOCK),
					    l->n / BN_Q4_BLOCK, j->xq + t * nq,
					    j->y + t * l->rows + b0, l->n,
					    b1 - b0);
				else
					bn_k->matvec_i8((const int8_t *)l->w +
					    b0 * l->row_bytes, l->row_bytes,
					    j->xq + t * nq, j->isum + t *
					    l->rows + b0, l->n, b1 - b0);
		}
		if (l->kind == BN_LIN_Q4) {	/* y = v / as */
			for (t = 0; t < j->T; t++)
				for (r = r0; r < r1; r++)
					j->y[t * l->rows + r] /= j->as[t];
			return;
		}
	} else if (l->kind == BN_LIN_T3) {	/* t3k rows of nq codes */
		if (j->T == 1)
			bn_k->matvec_t3((const uint8_t *)l->w + r0 *
			    l->row_bytes, l->row_bytes, j->xq, j->isum + r0,
			    nq, r1 - r0);
		else
			bn_k->matmul_t3((const uint8_t *)l->w + r0 *
			    l->row_bytes, l->row_bytes, j->xq, nq,
			    j->isum + r0, l->rows, nq, r1 - r0, j->T);
	} else if (j->T == 1)	/* t2 rows of nq codes, zero past n */
		bn_k->matvec_t2((const uint8_t *)l->w + r0 * l->row_bytes,
		    l->row_bytes, j->xq, j->isum + r0, nq, r1 - r0);
	else
		bn_k->matmul_t2((const uint8_t *)l->w + r0 * l->row_bytes,
		    l->row_bytes, j->xq, nq, j->isum + r0, l->rows, nq,
		    r1 - r0, j->T);
	/* BitNet's post-quant step: isum / (as * ws), in f32 */
	for (t = 0; t < j->T; t++)
		bn_k->isum_f32(j->isum + t * l->rows + r0, l->scale + r0,
		    j->as[t], l->div, j->y + t * l->rows + r0, r1 - r0);
}

/* Row t of X[T][n] in int8 for the integer products: s->xq's row t and
 * its scale as[t].  The absmax is over the n real elements; the int8
 * rows are t2_width(n) long, zero past n, to meet rows padded with zero
 * codes. */
static void
quant_row(struct bn_state *s, const float *x, size_t n, size_t t)
{
	size_t nq = t2_width(n);

	s->as[t] = bn_k->quant_i8(x + t * n, s->xq + t * nq, n);
	memset(s->xq + t * nq + n, 0, nq - n);
}

/* Y[T][rows] = linear(X[T][n]); X already quantized (quant_row) if
 * xq_ready. */
static void
linear(struct bn_state *s, const struct bn_linear *l, const float *x,
    float *y, size_t T, int xq_ready)
{
	struct linjob j = { l, x, s->xq, s->as, s->isum, y, T };
	size_t t;

	if (l->kind != BN_LIN_FLOAT && !xq_ready)
		for (t = 0; t < T; t++)
			quant_row(s, x, l->n, t);
	bn_pool_run(s->pool, lin_task, &j);
}

/* row t of rows of w->n values */
static void
norm_row(float *y, const float *x, const struct bn_vec *w, size_t t,
    float eps)
{
	bn_k->rmsnorm(y + t * w->n, x + t * w->n, w->dtype, w->w, w->n, eps);
}

static void
rmsnorm_rows(const struct bn_state *s, float *y, const float *x,
    const struct bn_vec *w, size_t T)
{
	size_t t;

	for (t = 0; t < T; t++)
		norm_row(y, x, w, t, s->m->c.norm_eps);
}

/* y[t] += b for T rows of b->n values (qwen2's q, k and v biases). */
static void
add_bias(struct bn_state *s, float *y, const struct bn_vec *b, size_t T)
{
	size_t t, i;

	bn_row_to_f32(b->dtype, b->w, (uint64_t)b->n, s->bias);
	for (t = 0; t < T; t++)
		for (i = 0; i < b->n; i++)
			y[t * b->n + i] += s->bias[i];
}

static void
rope(const struct bn_state *s, float *v, int pos, int nheads)
{
	const struct bn_config *c = &s->m->c;
	size_t half = (size_t)c->head_dim / 2, i;
	const float *cs = s->cosv + (size_t)pos * half;
	const float *sn = s->sinv + (size_t)pos * half;
	int h;

	for (h = 0; h < nheads; h++) {
		float *p = v + (size_t)h * (size_t)c->head_dim;

		for (i = 0; i < half; i++) {
			float a, b;

			if (c->rope_interleaved) {
				a = p[2 * i];
				b = p[2 * i + 1];
				p[2 * i] = a * cs[i] - b * sn[i];
				p[2 * i + 1] = b * cs[i] + a * sn[i];
			} else {
				a = p[i];
				b = p[i + half];
				p[i] = a * cs[i] - b * sn[i];
				p[i + half] = b * cs[i] + a * sn[i];
			}
		}
	}
}

/*
 * Attention for T new tokens; token t attends to the cache of its
 * sequence seq[t] up to its position pos[t].  The work is split over
 * (token, KV head, part of its group) units: the query heads that share
 * a KV head (GQA) take their scores together, each key row read once
 * for all of them, then their sums of the value rows (kept in cache
 * between heads).  Each head's numbers are computed in the same order
 * whatever the split, the cache's type or the kernels.
 */
/* a q8 cache's row scales of KV head g in layer l; NULL for f32, f16 */
static const float *
kv_scales(const struct bn_state *sq, const float *base, int layer, size_t g)
{
	if (base == NULL)
		return NULL;
	return base + ((size_t)layer * (size_t)sq->m->c.kv_heads + g) *
	    (size_t)sq->ctx;
}

struct attjob {
	struct bn_state *s;
	struct bn_state *const *seq;
	const int *pos;
	int layer;
	size_t T;
	size_t nsub;		/* parts each group of heads is split in */
};

static void
att_task(void *ctx, int i, int n)
{
	const struct attjob *j = ctx;
	struct bn_state *s = j->s;
	const struct bn_config *c = &s->m->c;
	size_t hd = (size_t)c->head_dim, kvh = (size_t)c->kv_heads;
	size_t qd = (size_t)c->heads * hd;
	size_t gs = (size_t)(c->heads / c->kv_heads);
	size_t per = (gs + j->nsub - 1) / j->nsub, total = j->T * kvh * j->nsub;
	size_t w, t, g, h0, h1, hh, nh, np, stride, ld = (size_t)s->ctx;
	float *sc0 = s->scores + (size_t)i * gs * ld;
	float scale = 1.0f / sqrtf((float)hd);

	for (w = (size_t)i; w < total; w += (size_t)n) {
		const struct bn_state *sq;
		const char *kb, *vb;
		const float *q;

		t = w / (kvh * j->nsub);
		g = w / j->nsub % kvh;
		h0 = g * gs + w % j->nsub * per;
		h1 = h0 + per < (g + 1) * gs ? h0 + per : (g + 1) * gs;
		if (h0 >= h1)
			continue;
		nh = h1 - h0;
		q = s->q + t * qd + h0 * hd;
		sq = j->seq[t];
		stride = hd * sq->kvsz;
		kb = (const char *)sq->kc + (((size_t)j->layer * kvh + g) *
		    (size_t)sq->ctx) * stride;
		vb = (const char *)sq->vc + (((size_t)j->layer * kvh + g) *
		    (size_t)sq->ctx) * stride;
		np = (size_t)j->pos[t] + 1;
		/* the scores of the nh heads: K rows as a weight matrix
		 * (the kernels' one dot order) */
		if (sq->kvtype == BN_KV_Q8)
			bn_k->scores_i8((const int8_t *)kb, stride, s->q8 + t *
			    qd + h0 * hd, hd, s->qsc + t * (size_t)c->heads +
			    h0, nh, sc0, ld, hd, np);
		else if (nh == 1)
			bn_k->matvec_f(sq->kvtype, kb, stride, q, sc0, hd, np);
		else
			bn_k->matmul_f(sq->kvtype, kb, stride, q, hd, sc0, ld,
			    hd, np, nh);
		for (hh = 0; hh < nh; hh++)
			bn_k->softmax(sc0 + hh * ld, np, scale,
			    kv_scales(sq, sq->ks, j->layer, g),
			    kv_scales(sq, sq->vs, j->layer, g));
		/* the heads' sums of the value rows, each row read once */
		memset(s->att + t * qd + h0 * hd, 0, nh * hd * sizeof(float));
		bn_k->axpy_rows_h(sq->kvtype, s->att + t * qd + h0 * hd, hd,
		    sc0, ld, nh, vb, stride, hd, np);
	}
}

/*
 * One token's attention on several threads, split by data rather than by
 * heads (a token has few KV heads: 5 on 2 threads, and parts of a group
 * of heads each read its keys and values again).  The scores: whole KV
 * heads, the rest of them (kv_heads % threads) in ranges of positions,
 * one a thread; the softmax by heads; the sums of the value rows by KV
 * heads, or ranges of columns where the KV heads are fewer than the
 * threads (measured on 2 threads, 5 KV heads of 2048 f16 rows: a thread
 * reading half of each value row ran at half the speed, and 3 heads
 * against 2 cost less).  K and V are read once; every number is what
 * att_task computes.
 */
struct att1job {
	struct bn_state *s;
	const struct bn_state *sq;
	int layer;
	size_t np;		/* positions attended */
	size_t vparts;		/* column ranges a KV head's values */
};

static const char *
kv_rows(const struct bn_state *sq, const void *base, int layer, size_t g)
{
	const struct bn_config *c = &sq->m->c;
	size_t stride = (size_t)c->head_dim * sq->kvsz;

	return (const char *)base + (((size_t)layer * (size_t)c->kv_heads +
	    g) * (size_t)sq->ctx) * stride;
}

static void
att1_scores(void *ctx, int i, int n)
{
	const struct att1job *j = ctx;
	struct bn_state *s = j->s;
	const struct bn_config *c = &s->m->c;
	size_t hd = (size_t)c->head_dim, gs = (size_t)(c->heads / c->kv_heads);
	size_t stride = hd * j->sq->kvsz, ld = (size_t)s->ctx, w, g, p0, p1;
	size_t kvh = (size_t)c->kv_heads, nt = (size_t)n;
	size_t whole = kvh - kvh % nt, units = whole + kvh % nt * nt;

	for (w = (size_t)i; w < units; w += nt) {
		const char *kb;
		float *sc;

		if (w < whole) {
			g = w;
			p0 = 0;
			p1 = j->np;
		} else {
			g = whole + (w - whole) / nt;
			p0 = j->np * ((w - whole) % nt) / nt;
			p1 = j->np * ((w - whole) % nt + 1) / nt;
		}
		if (p0 == p1)
			continue;
		kb = kv_rows(j->sq, j->sq->kc, j->layer, g) + p0 * stride;
		sc = s->scores + g * gs * ld + p0;
		if (j->sq->kvtype == BN_KV_Q8)
			bn_k->scores_i8((const int8_t *)kb, stride, s->q8 + g *
			    gs * hd, hd, s->qsc + g * gs, gs, sc, ld, hd, p1 -
			    p0);
		else if (gs == 1)
			bn_k->matvec_f(j->sq->kvtype, kb, stride, s->q + g * hd,
			    sc, hd, p1 - p0);
		else
			bn_k->matmul_f(j->sq->kvtype, kb, stride, s->q + g *
			    gs * hd, hd, sc, ld, hd, p1 - p0, gs);
	}
}

static void
att1_softmax(void *ctx, int i, int n)
{
	const struct att1job *j = ctx;
	struct bn_state *s = j->s;
	size_t hd = (size_t)s->m->c.head_dim, h, g;
	size_t gs = (size_t)(s->m->c.heads / s->m->c.kv_heads);

	for (h = (size_t)i; h < (size_t)s->m->c.heads; h += (size_t)n) {
		g = h / gs;
		bn_k->softmax(s->scores + h * (size_t)s->ctx, j->np,
		    1.0f / sqrtf((float)hd), kv_scales(j->sq, j->sq->ks,
		    j->layer, g), kv_scales(j->sq, j->sq->vs, j->layer, g));
	}
}

static void
att1_values(void *ctx, int i, int n)
{
	const struct att1job *j = ctx;
	struct bn_state *s = j->s;
	const struct bn_config *c = &s->m->c;
	size_t hd = (size_t)c->head_dim, gs = (size_t)(c->heads / c->kv_heads);
	size_t stride = hd * j->sq->kvsz, ld = (size_t)s->ctx, w, g, h, c0, c1;

	for (w = (size_t)i; w < (size_t)c->kv_heads * j->vparts;
	    w += (size_t)n) {
		float *y;

		/* columns in whole vectors of 16 but for the last range */
		g = w / j->vparts;
		c0 = hd * (w % j->vparts) / j->vparts / 16 * 16;
		c1 = w % j->vparts + 1 == j->vparts ? hd : hd * (w % j->vparts +
		    1) / j->vparts / 16 * 16;
		if (c0 >= c1)
			continue;
		y = s->att + g * gs * hd + c0;
		for (h = 0; h < gs; h++)
			memset(y + h * hd, 0, (c1 - c0) * sizeof(float));
		bn_k->axpy_rows_h(j->sq->kvtype, y, hd, s->scores + g * gs * ld,
		    ld, gs, kv_rows(j->sq, j->sq->vc, j->layer, g) + c0 *
		    j->sq->kvsz, stride, c1 - c0, j->np);
	}
}

static void
hook(struct bn_state *s, int layer, int site, const float *x, size_t T,
    size_t dim)
{
	if (s->hook != NULL)
		s->hook(s->hook_ctx, layer, site, x, T, dim);
}

static void
embed(const struct bn_model *m, int32_t tok, float *out)
{
	bn_row_to_f32(m->embd_dtype, (const char *)m->embd +
	    (size_t)tok * m->embd_row_bytes, (uint64_t)m->c.hidden, out);
}

/*
 * The forward pass's work of one token at a time between the products:
 * norms, the int8 rows the next products read, RoPE and the KV cache's
 * rows, the residual sums and the FFN's activation.  A prompt's or a
 * batch's tokens (TOK_PAR_MIN or more) are shared among the threads: a
 * token's numbers are the same whichever thread makes them.  Measured
 * on 2 cores, 700M shape: a batch step of 2 tokens 10.5-11.0 -> 10.3-
 * 10.8 ms, of 4 14.0-14.4 -> 12.9-13.3 ms; pp512 385 -> 440-460 t/s.
 */
#define TOK_PAR_MIN 2
enum { PH_ATTN_IN, PH_ROPE, PH_O_IN, PH_FFN_IN, PH_DOWN_IN, PH_RESID };
struct tokjob {
	const struct bn_model *m;
	struct bn_state *s;
	struct bn_state *const *seq;
	const int *pos;
	int l, phase;
	size_t T;
};

static int
int8_in(const struct bn_linear *l)	/* reads its input as int8 rows */
{
	return l->kind != BN_LIN_FLOAT;
}

/* the cache rows of token t (its keys after RoPE) and, for a q8 cache,
 * its query heads in int8 */
static void
kv_store(const struct tokjob *j, size_t t)
{
	const struct bn_config *c = &j->m->c;
	struct bn_state *s = j->s, *sq = j->seq[t];
	size_t hd = (size_t)c->head_dim, kvd = (size_t)c->kv_heads * hd;
	size_t qd = (size_t)c->heads * hd, g, at;

	rope(s, s->q + t * qd, j->pos[t], c->heads);
	rope(s, s->k + t * kvd, j->pos[t], c->kv_heads);
	/* a q8 cache's scores are int8 products */
	for (g = 0; sq->kvtype == BN_KV_Q8 && g < (size_t)c->heads; g++)
		s->qsc[t * (size_t)c->heads + g] = 1.0f / bn_k->quant_i8(
		    s->q + t * qd + g * hd, s->q8 + t * qd + g * hd, hd);
	for (g = 0; g < (size_t)c->kv_heads; g++) {
		at = (((size_t)j->l * (size_t)c->kv_heads + g) *
		    (size_t)sq->ctx + (size_t)j->pos[t]) * hd;
		if (sq->kvtype == BN_KV_Q8) {
			sq->ks[at / hd] = 1.0f / bn_k->quant_i8(s->k + t * kvd +
			    g * hd, (int8_t *)sq->kc + at, hd);
			sq->vs[at / hd] = 1.0f / bn_k->quant_i8(s->v + t * kvd +
			    g * hd, (int8_t *)sq->vc + at, hd);
		} else if (sq->kvtype == BN_KV_F16) {
			bn_row_from_f32(BN_DTYPE_F16, s->k + t * kvd + g * hd,
			    hd, (uint16_t *)sq->kc + at);
			bn_row_from_f32(BN_DTYPE_F16, s->v + t * kvd + g * hd,
			    hd, (uint16_t *)sq->vc + at);
		} else {
			memcpy((float *)sq->kc + at, s->k + t * kvd + g * hd,
			    hd * sizeof(float));
			memcpy((float *)sq->vc + at, s->v + t * kvd + g * hd,
			    hd * sizeof(float));
		}
	}
}

static void
tok_phase(const struct tokjob *j, size_t t0, size_t t1)
{
	const struct bn_config *c = &j->m->c;
	const struct bn_layer *L = &j->m->layer[j->l];
	struct bn_state *s = j->s;
	size_t H = (size_t)c->hidden, F = (size_t)c->ffn, t, i;
	float eps = c->norm_eps;

	for (t = t0; t < t1; t++)
		switch (j->phase) {
		case PH_ATTN_IN:
			norm_row(s->xn, s->x, &L->attn_norm, t, eps);
			if (int8_in(&L->q) || int8_in(&L->k) || int8_in(&L->v))
				quant_row(s, s->xn, L->q.n, t);
			break;
		case PH_ROPE:
			kv_store(j, t);
			break;
		case PH_O_IN:
			if (c->arch == BN_ARCH_BITNET)
				norm_row(s->att, s->att, &L->attn_sub_norm, t,
				    eps);
			if (int8_in(&L->o))
				quant_row(s, s->att, L->o.n, t);
			break;
		case PH_FFN_IN:
			for (i = t * H; i < (t + 1) * H; i++)
				s->x[i] += s->xn[i];
			norm_row(s->xn, s->x, &L->ffn_norm, t, eps);
			if (int8_in(&L->gate) || int8_in(&L->up))
				quant_row(s, s->xn, L->gate.n, t);
			break;
		case PH_DOWN_IN:
			for (i = t * F; i < (t + 1) * F; i++) {
				float a = s->g[i];

				if (c->act == BN_ACT_RELU2) {
					a = a > 0 ? a : 0;
					a = a * a;
				} else
					a = a / (1.0f + expf(-a));
				s->g[i] = a * s->u[i];
			}
			if (c->arch == BN_ARCH_BITNET)
				norm_row(s->g, s->g, &L->ffn_sub_norm, t, eps);
			if (int8_in(&L->down))
				quant_row(s, s->g, L->down.n, t);
			break;
		default:	/* PH_RESID */
			for (i = t * H; i < (t + 1) * H; i++)
				s->x[i] += s->xn[i];
			break;
		}
}

static void
tok_task(void *ctx, int i, int n)
{
	const struct tokjob *j = ctx;

	tok_phase(j, j->T * (size_t)i / (size_t)n,
	    j->T * (size_t)(i + 1) / (size_t)n);
}

static void
tokens(struct tokjob *j, int phase)
{
	j->phase = phase;
	if (j->T >= TOK_PAR_MIN && j->s->nthreads > 1)
		bn_pool_run(j->s->pool, tok_task, j);
	else
		tok_phase(j, 0, j->T);
}

/*
 * The forward pass over T tokens: token t at position pos[t] of sequence
 * seq[t] (its KV cache), the scratch and the threads of s.  Tokens of
 * one sequence come in order, so each sees the ones before it in the
 * cache.  logits: NULL, or one row per token with want[t] (want NULL:
 * every token).  The callers checked positions and token ids.
 */
static void
forward(const struct bn_model *m, struct bn_state *s,
    struct bn_state *const *seq, const int *pos, const int32_t *tok,
    size_t T, const unsigned char *want, float *logits)
{
	const struct bn_config *c = &m->c;
	size_t H = (size_t)c->hidden, F = (size_t)c->ffn;
	size_t hd = (size_t)c->head_dim, kvd = (size_t)c->kv_heads * hd;
	size_t qd = (size_t)c->heads * hd, t, nw;
	struct tokjob tj = { m, s, seq, pos, 0, 0, T };
	int l;

	for (t = 0; t < T; t++)
		embed(m, tok[t], s->x + t * H);
	hook(s, -1, BN_SITE_EMBED, s->x, T, H);
	for (l = 0; l < c->layers; l++) {
		const struct bn_layer *L = &m->layer[l];
		struct attjob aj = { s, seq, pos, l, T, 1 };

		tj.l = l;
		tokens(&tj, PH_ATTN_IN);	/* xq: q, k and v's one input */
		hook(s, l, BN_SITE_QKV_IN, s->xn, T, H);
		linear(s, &L->q, s->xn, s->q, T, 1);
		linear(s, &L->k, s->xn, s->k, T, 1);
		linear(s, &L->v, s->xn, s->v, T, 1);
		if (c->arch == BN_ARCH_QWEN2) {
			add_bias(s, s->q, &L->q_bias, T);
			add_bias(s, s->k, &L->k_bias, T);
			add_bias(s, s->v, &L->v_bias, T);
		}
		if (c->arch == BN_ARCH_QWEN3) {	/* each head on its own */
			rmsnorm_rows(s, s->q, s->q, &L->q_norm,
			    T * (size_t)c->heads);
			rmsnorm_rows(s, s->k, s->k, &L->k_norm,
			    T * (size_t)c->kv_heads);
		}
		tokens(&tj, PH_ROPE);
		/* fewer units than threads, or units the threads cannot
		 * share evenly (a token, few KV heads: 5 on 2 threads run
		 * as 3 and 2): the groups of heads in parts, while the
		 * units are few (a part reads its group's keys again) */
		while (aj.nsub < (size_t)(c->heads / c->kv_heads) &&
		    (T * (size_t)c->kv_heads * aj.nsub < (size_t)s->nthreads ||
		    (T * (size_t)c->kv_heads * aj.nsub % (size_t)s->nthreads &&
		    T * (size_t)c->kv_heads * aj.nsub < 4 * (size_t)s->nthreads)))
			aj.nsub++;
		if (s->hook_qkv) {
			hook(s, l, BN_SITE_Q, s->q, T, qd);
			hook(s, l, BN_SITE_K, s->k, T, kvd);
			hook(s, l, BN_SITE_V, s->v, T, kvd);
		}
		if (T == 1 && s->nthreads > 1) {
			struct att1job a1 = { s, seq[0], l, (size_t)pos[0] + 1,
			    c->kv_heads >= s->nthreads ? 1 : (size_t)((s->nthreads +
			    c->kv_heads - 1) / c->kv_heads) };

			bn_pool_run(s->pool, att1_scores, &a1);
			bn_pool_run(s->pool, att1_softmax, &a1);
			bn_pool_run(s->pool, att1_values, &a1);
		} else
			bn_pool_run(s->pool, att_task, &aj);
		tokens(&tj, PH_O_IN);		/* BitNet's sub-norm, xq */
		hook(s, l, BN_SITE_O_IN, s->att, T, qd);
		linear(s, &L->o, s->att, s->xn, T, 1);
		tokens(&tj, PH_FFN_IN);		/* x += o's, the norm, xq */
		hook(s, l, BN_SITE_UP_IN, s->xn, T, H);
		linear(s, &L->gate, s->xn, s->g, T, 1);
		linear(s, &L->up, s->xn, s->u, T, 1);
		tokens(&tj, PH_DOWN_IN);	/* act(g) u, sub-norm, xq */
		hook(s, l, BN_SITE_DOWN_IN, s->g, T, F);
		linear(s, &L->down, s->g, s->xn, T, 1);
		tokens(&tj, PH_RESID);
		hook(s, l, BN_SITE_LAYER, s->x, T, H);
	}
	rmsnorm_rows(s, s->xn, s->x, &m->out_norm, T);
	hook(s, c->layers, BN_SITE_FINAL, s->xn, T, H);
	if (logits == NULL)
		return;
	/* the rows wanted, gathered in order (x is free now) */
	for (nw = 0, t = 0; t < T; t++)
		if (want == NULL || want[t]) {
			if (nw != t)
				memcpy(s->xn + nw * H, s->xn + t * H,
				    H * sizeof(float));
			nw++;
		}
	if (nw > 0)
		linear(s, &m->head, s->xn, logits, nw, 0);
}

int
bn_forward(const struct bn_model *m, struct bn_state *s, const int32_t *tok,
    int n, float *logits, int all)
{
	size_t T = (size_t)n, t;

	if (n <= 0 || n > s->batch || s->pos + n > s->ctx)
		return BN_EUSAGE;
	for (t = 0; t < T; t++) {
		if (tok[t] < 0 || tok[t] >= m->c.vocab)
			return BN_EUSAGE;
		s->seq[t] = s;
		s->tpos[t] = s->pos + (int)t;
		s->want[t] = all || t == T - 1;
	}
	forward(m, s, s->seq, s->tpos, tok, T, s->want, logits);
	s->pos += n;
	return BN_OK;
}

int
bn_forward_batch(const struct bn_model *m, struct bn_state *s,
    struct bn_state *const *seq, const int32_t *tok, int n,
    const unsigned char *want, float *logits)
{
	size_t T = (size_t)n, t, u;

	if (n <= 0 || n > s->batch)
		return BN_EUSAGE;
	/* each sequence's new tokens take its next positions */
	for (t = 0; t < T; t++) {
		int p = seq[t]->pos;

		for (u = 0; u < t; u++)
			p += seq[u] == seq[t];
		if (tok[t] < 0 || tok[t] >= m->c.vocab || seq[t]->m != m ||
		    p >= seq[t]->ctx || p >= s->ctx)
			return BN_EUSAGE;
		s->tpos[t] = p;
	}
	forward(m, s, seq, s->tpos, tok, T, want, logits);
	for (t = 0; t < T; t++)
		seq[t]->pos++;
	return BN_OK;
}
