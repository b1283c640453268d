/* onnx.c: bnt(5) model -> ONNX graph for ONNX Runtime (export.h).
 *
 * The file is protobuf (onnx.proto, proto2), written by the encoder of
 * pb.h: each nested message is encoded in place and its length inserted
 * when it ends, so one message is a single growing buffer.  The graph's
 * nodes, initializers, inputs and outputs are built in memory, but for
 * the initializers' payloads, which are written from where they lie
 * (float weights from the mapped input, converted codes from their own
 * buffers; large t2 tensors' INT2 codes are made block by block as they
 * are written), after the model's own fields.  Protobuf limits a
 * message to 2 GiB and external data files are not written, so larger
 * models are refused (BitNet b1.58 2B-4T, bf16 embeddings and 2-bit
 * weights, fits).
 *
 * The graph computes what model/model.c computes, with standard
 * operators: Gather for the embeddings; RMSNorm as
 * w * (x * Reciprocal(sqrt(mean(x * x) + eps))) (not Div(1, ..), which
 * ONNX Runtime's basic level rewrites into x / sqrt(..), a different
 * rounding that flips BitLinear's int8 near-ties: 0.044 on bitnet-tiny's
 * logits instead of 9.5e-7); RoPE from cos/sin tables
 * computed as bnrun computes them (f32 cosf/sinf), rotate-half or
 * interleaved pairs; GQA attention as a 5-D MatMul over
 * [batch, kv_heads, group, seq, head_dim]; SiLU as a / (1 + exp(-a))
 * or squared ReLU; SubLN for bitnet.  A BitLinear layer quantizes its
 * input per token as bnrun's quant_i8 does (s = 127 / max(max|x|, 1e-5),
 * Clip(Round(x * s), -128, 127)), multiplies by the integer codes (the
 * sums are integers below 2^24, exact in f32) and applies the scales as
 * bnrun does: isum / (s * ws) for divisor scales, isum * ws / s else.
 *
 * Ternary codes stay packed at 2 bits in the file.  Three packings:
 *   BN_ONNX_INT2_MMI (default)  an INT2 initializer [in, out] (opset 25),
 *                   Cast to INT8, MatMulInteger with the activation
 *                   codes + 128 as UINT8 (zero point 128), Cast to f32;
 *   BN_ONNX_NBITS   com.microsoft.MatMulNBits bits=2, block 128, code+2
 *                   with the default zero point 2, scale 1 (opset 21);
 *   BN_ONNX_DQ_INT2 DequantizeLinear of the INT2 initializer, scale 1,
 *                   then MatMul (opset 25).
 * All three are exact: integer sums, then bnrun's scale arithmetic.
 * bench/README.md ("ONNX packings") has the measurements, with ONNX
 * Runtime, of file size, memory, decode and prompt times of each.
 *
 * ONNX Runtime constant-folds the Cast (and DequantizeLinear) of an
 * initializer at load: INT2 weights become INT8 (1 byte each) for
 * MatMulInteger, f32 (4 bytes) for DequantizeLinear; MatMulNBits keeps
 * them at 2 bits but, exact, dequantizes them to f32 on every call.  Its
 * lookup-table kernel (session option mlas.use_lut_gemm=1) is fast but
 * quantizes activations itself, so logits move (0.195 from bnrun's on
 * austen-llama-6m after bnquant -q ternary, 0.058 on bitnet-tiny; 0.17
 * with accuracy_level=4).  Hence the default: the smallest file, the
 * fastest exact path (prompts faster than the LUT), standard operators
 * only, at the price of int8 weights in memory. */
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bnt.h"
#include "config.h"
#include "dtype.h"
#include "export.h"
#include "kernels.h"
#include "pb.h"
#include "roles.h"
#include "status.h"

#ifndef BN_VERSION
#define BN_VERSION "0"
#endif

/* onnx.proto TensorProto.DataType */
enum {
	OT_FLOAT = 1, OT_UINT8 = 2, OT_INT8 = 3, OT_INT64 = 7,
	OT_FLOAT16 = 10, OT_BFLOAT16 = 16, OT_INT2 = 26
};

/* onnx.proto AttributeProto.AttributeType */
enum { OA_FLOAT = 1, OA_INT = 2, OA_STRING = 3, OA_INTS = 7 };

#define PB_MAX ((size_t)INT32_MAX)	/* protobuf's 2 GiB message limit */

/* ---- the graph builder ---- */

/* An initializer's payload, written at offset off of the initializers */
struct hole {
	size_t off;
	const void *p;
	size_t n;
	void *owned;		/* freed at the end, if not NULL */
	/* or, with p NULL: this t2 tensor as INT2 [n, rows], made by
	 * int2_t2_block as it is written */
	const struct bnt_map_tensor *t2;
};

struct gb {
	struct pb nodes, inits, inputs, outputs;
	struct hole *holes;	/* in offset order */
	size_t nholes, capholes;
	size_t holebytes;
	char **names;		/* every generated name, freed at the end */
	size_t nnames, capnames;
	unsigned tmp;
	int oom;
	const struct bn_config *c;
	const struct bn_onnx_opts *o;
	const char *mask;	/* bool [S, T]: key after query */
	const char *cos, *sin;	/* [Bp, S, 1, half] */
	int opset;
	int packing;		/* enum bn_onnx_packing, resolved */
	const char *embd;	/* token_embd as the file has it */
};

static const char *
keep(struct gb *g, char *s)
{
	char **n;

	if (s == NULL) {
		g->oom = 1;
		return "";
	}
	if (g->nnames == g->capnames) {
		g->capnames = g->capnames ? 2 * g->capnames : 256;
		if ((n = realloc(g->names, g->capnames * sizeof *n)) == NULL) {
			free(s);
			g->oom = 1;
			return "";
		}
		g->names = n;
	}
	g->names[g->nnames++] = s;
	return s;
}

static const char *
fmt(struct gb *g, const char *f, ...) __attribute__((format(printf, 2, 3)));

static const char *
fmt(struct gb *g, const char *f, ...)
{
	va_list ap;
	char buf[256];

	va_start(ap, f);
	vsnprintf(buf, sizeof buf, f, ap);
	va_end(ap);
	return keep(g, strdup(buf));
}

static const char *
tmp(struct gb *g)
{
	return fmt(g, "t%u", g->tmp++);
}

struct attr {
	const char *name;
	int type;
	int64_t i;
	float f;
	const int64_t *ints;
	size_t nints;
	const char *s;
};

#define AI(n, v) { (n), OA_INT, (v), 0, NULL, 0, NULL }
#define AF(n, v) { (n), OA_FLOAT, 0, (v), NULL, 0, NULL }
#define AIS(n, v, k) { (n), OA_INTS, 0, 0, (v), (k), NULL }

/* NodeProto: input 1, output 2, name 3, op_type 4, attribute 5,
 * domain 7.  AttributeProto: name 1, f 2, i 3, s 4, ints 8, type 20. */
static void
node(struct gb *g, const char *op, const char *domain, const char *const *in,
    size_t nin, const char *const *out, size_t nout, const struct attr *a,
    size_t na)
{
	struct pb *b = &g->nodes;
	size_t at, aa, i, k;

	at = pb_begin(b, 1);
	for (i = 0; i < nin; i++)
		pb_str(b, 1, in[i]);
	for (i = 0; i < nout; i++)
		pb_str(b, 2, out[i]);
	pb_str(b, 3, fmt(g, "n%u", g->tmp++));
	pb_str(b, 4, op);
	for (i = 0; i < na; i++) {
		aa = pb_begin(b, 5);
		pb_str(b, 1, a[i].name);
		switch (a[i].type) {
		case OA_FLOAT:
			pb_float(b, 2, a[i].f);
			break;
		case OA_INT:
			pb_int(b, 3, a[i].i);
			break;
		case OA_STRING:
			pb_str(b, 4, a[i].s);
			break;
		case OA_INTS:
			for (k = 0; k < a[i].nints; k++)
				pb_int(b, 8, a[i].ints[k]);
			break;
		}
		pb_int(b, 20, a[i].type);
		pb_end(b, aa);
	}
	if (domain != NULL)
		pb_str(b, 7, domain);
	pb_end(b, at);
}

/* One-output node with up to three inputs; returns the output name. */
static const char *
op(struct gb *g, const char *type, const char *a, const char *b,
    const char *c, const struct attr *at, size_t na)
{
	const char *in[3] = { a, b, c };
	const char *out = tmp(g);

	node(g, type, NULL, in, c ? 3 : b ? 2 : 1, &out, 1, at, na);
	return out;
}

#define OP1(g, t, a) op((g), (t), (a), NULL, NULL, NULL, 0)
#define OP2(g, t, a, b) op((g), (t), (a), (b), NULL, NULL, 0)

/* TensorProto: dims 1, data_type 2, name 8, raw_data 9; in
 * GraphProto.initializer (5).  The payload raw[n] is not copied unless
 * small: it is written from where it lies (the mapped input, or a
 * converted buffer the builder then owns and frees). */
#define HOLE_MIN 4096

static void
init_raw(struct gb *g, const char *name, int type, const int64_t *dims,
    size_t nd, const void *raw, size_t n, void *owned)
{
	struct pb *b = &g->inits, h = { NULL, 0, 0, 0 };
	struct hole *nh;
	size_t i;

	for (i = 0; i < nd; i++)
		pb_int(&h, 1, dims[i]);
	pb_int(&h, 2, type);
	pb_str(&h, 8, name);
	pb_tag(&h, 9, 2);
	pb_varint(&h, n);
	pb_tag(b, 5, 2);
	pb_varint(b, h.n + n);
	pb_raw(b, h.p, h.n);
	if (h.oom)
		g->oom = 1;
	pb_free(&h);
	if (n < HOLE_MIN) {
		pb_raw(b, raw, n);
		free(owned);
		return;
	}
	if (g->nholes == g->capholes) {
		g->capholes = g->capholes ? 2 * g->capholes : 64;
		if ((nh = realloc(g->holes, g->capholes * sizeof *nh)) ==
		    NULL) {
			free(owned);
			g->oom = 1;
			return;
		}
		g->holes = nh;
	}
	nh = &g->holes[g->nholes++];
	nh->off = b->n;
	nh->p = raw;
	nh->n = n;
	nh->owned = owned;
	nh->t2 = NULL;
	g->holebytes += n;
}

/* An INT2 initializer [n, rows] of t2 tensor t, n bytes (>= HOLE_MIN),
 * made by write_inits. */
static void
init_lazy_t2(struct gb *g, const char *name, const int64_t *dims,
    const struct bnt_map_tensor *t, size_t n)
{
	size_t k = g->nholes;

	init_raw(g, name, OT_INT2, dims, 2, NULL, n, NULL);
	if (g->nholes > k)
		g->holes[k].t2 = t;
}

static void
le32(unsigned char *p, uint32_t v)
{
	p[0] = (unsigned char)v;
	p[1] = (unsigned char)(v >> 8);
	p[2] = (unsigned char)(v >> 16);
	p[3] = (unsigned char)(v >> 24);
}

/* f32 values, little-endian, into an initializer */
static void
init_f32(struct gb *g, const char *name, const int64_t *dims, size_t nd,
    const float *v, size_t n)
{
	unsigned char *raw = malloc(n ? 4 * n : 1);
	uint32_t u;
	size_t i;

	if (raw == NULL) {
		g->oom = 1;
		return;
	}
	for (i = 0; i < n; i++) {
		memcpy(&u, &v[i], 4);
		le32(raw + 4 * i, u);
	}
	init_raw(g, name, OT_FLOAT, dims, nd, raw, 4 * n, raw);
}

/* A scalar f32 constant (initializer), one per value. */
static const char *
cf(struct gb *g, float v)
{
	uint32_t u;
	const char *name;
	size_t i;

	memcpy(&u, &v, 4);
	name = fmt(g, "c.f.%08" PRIx32, u);
	for (i = 0; i + 1 < g->nnames; i++)
		if (strcmp(g->names[i], name) == 0)
			return name;
	init_f32(g, name, NULL, 0, &v, 1);
	return name;
}

/* A 1-D int64 constant (or a scalar if n is 0: one value v[0]). */
static const char *
ci(struct gb *g, const int64_t *v, size_t n, int scalar)
{
	char buf[200];
	unsigned char raw[8 * 8];
	int64_t dims[1];
	size_t i, k, len;
	const char *name;

	len = (size_t)snprintf(buf, sizeof buf, "c.i%s", scalar ? "s" : "");
	for (i = 0; i < n && len < sizeof buf - 24; i++)
		len += (size_t)snprintf(buf + len, sizeof buf - len,
		    ".%" PRId64, v[i]);
	name = keep(g, strdup(buf));
	for (i = 0; i + 1 < g->nnames; i++)
		if (strcmp(g->names[i], name) == 0)
			return name;
	for (i = 0; i < n && i < 8; i++)
		for (k = 0; k < 8; k++)
			raw[8 * i + k] = (unsigned char)((uint64_t)v[i] >>
			    (8 * k));
	dims[0] = (int64_t)n;
	init_raw(g, name, OT_INT64, dims, scalar ? 0 : 1, raw, 8 * n, NULL);
	return name;
}

static const char *
ci1(struct gb *g, int64_t a)
{
	return ci(g, &a, 1, 0);
}

static const char *
cis(struct gb *g, int64_t a)
{
	return ci(g, &a, 1, 1);
}

/* ValueInfoProto: name 1, type 2 -> TypeProto.tensor_type 1 ->
 * elem_type 1, shape 2 -> TensorShapeProto.dim 1 -> dim_value 1 |
 * dim_param 2.  dims: a number, or a name for a symbolic dimension. */
static void
value_info(struct pb *b, unsigned field, const char *name, int type,
    const char *const *dims, size_t nd)
{
	size_t vi, ty, tt, sh, d, i;

	vi = pb_begin(b, field);
	pb_str(b, 1, name);
	ty = pb_begin(b, 2);
	tt = pb_begin(b, 1);
	pb_int(b, 1, type);
	sh = pb_begin(b, 2);
	for (i = 0; i < nd; i++) {
		d = pb_begin(b, 1);
		if (dims[i][0] >= '0' && dims[i][0] <= '9')
			pb_int(b, 1, strtoll(dims[i], NULL, 10));
		else
			pb_str(b, 2, dims[i]);
		pb_end(b, d);
	}
	pb_end(b, sh);
	pb_end(b, tt);
	pb_end(b, ty);
	pb_end(b, vi);
}

/* ---- model pieces ---- */

static const struct bnt_map_tensor *
need(const struct bnt_map *m, const char *name, struct bn_err *e)
{
	const struct bnt_map_tensor *t = bnt_map_find(m, name);

	if (t == NULL)
		bn_seterr(e, BN_EFORMAT, "tensor '%s' is missing", name);
	return t;
}

static int
plain_float(int dt)
{
	return dt == BN_DTYPE_F32 || dt == BN_DTYPE_F16 || dt == BN_DTYPE_BF16;
}

static int
onnx_float_type(int dt)
{
	return dt == BN_DTYPE_F16 ? OT_FLOAT16 : dt == BN_DTYPE_BF16 ?
	    OT_BFLOAT16 : OT_FLOAT;
}

/* A float tensor (f32, f16, bf16, unscaled) as an initializer of its
 * own type; returns its name. */
static const char *
float_init(struct gb *g, const struct bnt_map_tensor *t)
{
	const char *name = fmt(g, "%s", t->t.name);
	int64_t dims[BNT_MAX_DIMS];
	size_t i;

	for (i = 0; i < t->t.ndim; i++)
		dims[i] = (int64_t)t->t.dims[i];
	/* f32, f16 and bf16 rows are plain little-endian arrays */
	init_raw(g, name, onnx_float_type(t->t.dtype), dims, t->t.ndim,
	    t->data, (size_t)t->t.data_bytes, NULL);
	return name;
}

/* x as f32 (a Cast unless dtype is f32) */
static const char *
to_f32(struct gb *g, const char *x, int dtype)
{
	struct attr to = AI("to", OT_FLOAT);

	if (dtype == BN_DTYPE_F32)
		return x;
	return op(g, "Cast", x, NULL, NULL, &to, 1);
}

static const char *
float_weight(struct gb *g, const struct bnt_map_tensor *t)
{
	return to_f32(g, float_init(g, t), t->t.dtype);
}

/* ONNX Runtime folds constant subgraphs (Cast, Transpose of an
 * initializer) only up to 1 GiB of output: wider weights are split into
 * row ranges of at most this many f32 bytes, each folded once. */
#define CHUNK_BYTES ((uint64_t)512 << 20)

/* x [.., n] times the transpose of the float initializer w [rows, n] of
 * type dtype: MatMul(x, Transpose(Cast(w))), by row ranges. */
static const char *
matmul_wt(struct gb *g, const char *x, const char *w, int dtype,
    uint64_t rows, uint64_t n)
{
	static const int64_t perm[2] = { 1, 0 };
	struct attr tp = AIS("perm", perm, 2), ax = AI("axis", -1);
	uint64_t k = (rows * n * 4 + CHUNK_BYTES - 1) / CHUNK_BYTES, per, r0;
	const char **parts, *y, *wt;
	size_t i;

	if (k <= 1) {
		wt = op(g, "Transpose", to_f32(g, w, dtype), NULL, NULL, &tp,
		    1);
		return OP2(g, "MatMul", x, wt);
	}
	per = (rows + k - 1) / k;
	if ((parts = calloc((size_t)k, sizeof *parts)) == NULL) {
		g->oom = 1;
		return "";
	}
	for (i = 0, r0 = 0; r0 < rows; i++, r0 += per) {
		const char *in[4] = { w, ci1(g, (int64_t)r0),
			ci1(g, (int64_t)(r0 + per < rows ? r0 + per : rows)),
			ci1(g, 0) };
		const char *sl = tmp(g);

		node(g, "Slice", NULL, in, 4, &sl, 1, NULL, 0);
		wt = op(g, "Transpose", to_f32(g, sl, dtype), NULL, NULL, &tp,
		    1);
		parts[i] = OP2(g, "MatMul", x, wt);
	}
	y = tmp(g);
	node(g, "Concat", NULL, parts, i, &y, 1, &ax, 1);
	free(parts);
	return y;
}

/* Code of element c of row r: -1, 0, +1 (t2, t3, b1) or -128..127
 * (i8); 2 for an invalid t2 or t3 code. */
static int
code_at(const struct bnt_map_tensor *t, uint64_t r, uint64_t c)
{
	const uint8_t *p = (const uint8_t *)t->data + r * t->t.row_bytes;

	switch (t->t.dtype) {
	case BN_DTYPE_T2:	/* inline: the exporter's hot loop */
		return (p[c / 128 * 32 + c % 32] >> 2 * (c % 128 / 32) & 3) -
		    1;
	case BN_DTYPE_T3:
		return bn_t3_get(p, c);
	case BN_DTYPE_B1:
		return bn_b1_get(p, c);
	default:
		return ((const int8_t *)p)[c];
	}
}

/* A t2 row of n elements (n a multiple of 128) as MatMulNBits codes:
 * out byte i holds elements 4i..4i+3 low first as value + 2.  In a t2
 * block, byte j holds elements j, j+32, j+64, j+96: out byte i of a
 * block reads bytes 4(i % 8)..+3 at shift 2(i / 8).  -1 on code 3. */
static int
t2_to_nbits(const uint8_t *p, uint64_t n, uint8_t *out)
{
	uint64_t b;
	uint32_t w[8], x, bad = 0;
	unsigned i, m;

	for (b = 0; b < n / 128; b++, p += 32, out += 32) {
		for (m = 0; m < 8; m++)		/* bytes 4m..4m+3 */
			w[m] = (uint32_t)p[4 * m] |
			    (uint32_t)p[4 * m + 1] << 8 |
			    (uint32_t)p[4 * m + 2] << 16 |
			    (uint32_t)p[4 * m + 3] << 24;
		for (i = 0; i < 32; i++) {
			/* four codes, one per byte lane, then value + 2 */
			x = w[i % 8] >> 2 * (i / 8) & 0x03030303u;
			bad |= x & x >> 1;
			x += 0x01010101u;
			out[i] = (uint8_t)((x & 0x3) | (x >> 6 & 0xc) |
			    (x >> 12 & 0x30) | (x >> 18 & 0xc0));
		}
	}
	return bad & 0x01010101u ? -1 : 0;
}

/* Columns 128 blk..128 blk + 127 of a t2 tensor [rows, n] (rows a
 * multiple of 4, n of 128) as INT2 [n, rows] (see int2_transposed):
 * out[0 .. 128 rows / 4), the part of the output those columns fill,
 * by the kernel table's int2_t2.  Returns 0, -1 on code 3.
 *
 * The transpose is a kernel because it is the export's hot loop (it
 * bounds the export's throughput: bench/README.md), so it has a plain-C
 * reference and an AVX2 version chosen at start-up like every other.
 * export/ sits above kernels/ in the floors (README, "Architecture";
 * the Makefile's LIBS), so calling the table from here is a use of a
 * lower floor; bn_k points to the reference until bn_kernels_init. */
static int
int2_t2_block(const struct bnt_map_tensor *t, uint64_t blk, unsigned char *out)
{
	const struct bnt_tensor *d = &t->t;

	return bn_k->int2_t2((const uint8_t *)t->data + 32 * blk,
	    d->row_bytes, d->rows / 4, out, d->rows / 4) ? -1 : 0;
}

/* Whether int2_t2_block serves t. */
static int
int2_t2_ok(const struct bnt_map_tensor *t)
{
	return t->t.dtype == BN_DTYPE_T2 && t->t.row_len % 128 == 0 &&
	    t->t.rows % 4 == 0;
}

/* The codes of a packed tensor [rows, n] (rows a multiple of 4) as
 * INT2 [n, rows]: element (r, c) at index c * rows + r, 4 per byte, low
 * bits first, two's complement.  t2 (n a multiple of 128, as linear()
 * requires of packed codes) goes through the kernel a block at a time;
 * t3 and b1 a tile of up to 64 rows at a time, so each column's bytes
 * of the tile are written together.  Returns 0, -1 on an invalid code,
 * -2 out of memory. */
#define TILE 64

static int
int2_transposed(const struct bnt_map_tensor *t, unsigned char *q)
{
	const struct bnt_tensor *d = &t->t;
	uint64_t rows = d->rows, n = d->row_len, r0, r, c, tr;
	int8_t *e;
	unsigned char *o;
	int bad = 0;

	if (int2_t2_ok(t)) {
		for (c = 0; c < n / 128; c++)
			bad |= int2_t2_block(t, c, q + 128 * c * (rows / 4));
		return bad;
	}
	if ((e = malloc(TILE * n)) == NULL)
		return -2;
	for (r0 = 0; r0 < rows; r0 += TILE) {
		tr = rows - r0 < TILE ? rows - r0 : TILE;
		for (r = 0; r < tr; r++)
			for (c = 0; c < n; c++)
				e[r * n + c] = (int8_t)code_at(t, r0 + r, c);
		for (c = 0; c < n; c++) {
			o = q + (c * rows + r0) / 4;
			for (r = 0; r < tr; r += 4) {
				int v0 = e[r * n + c], v1 = e[(r + 1) * n + c];
				int v2 = e[(r + 2) * n + c];
				int v3 = e[(r + 3) * n + c];

				bad |= v0 == 2 || v1 == 2 || v2 == 2 ||
				    v3 == 2;
				o[r / 4] = (unsigned char)((v0 & 3) |
				    (v1 & 3) << 2 | (v2 & 3) << 4 |
				    (v3 & 3) << 6);
			}
		}
	}
	free(e);
	return bad ? -1 : 0;
}

/* The codes of tensor t [rows, n] transposed to [n, rows] into q
 * (zeroed): INT2, 4 per byte, when packed, else INT8.  Returns 0, -1 on
 * an invalid code, -2 out of memory. */
static int
codes_transposed(const struct bnt_map_tensor *t, int packed, unsigned char *q)
{
	uint64_t rows = t->t.rows, n = t->t.row_len, r, c, k;
	int v, bad = 0;

	if (packed && rows % 4 == 0)
		return int2_transposed(t, q);
	for (r = 0; r < rows; r++)
		for (c = 0; c < n; c++) {
			k = c * rows + r;
			v = code_at(t, r, c);
			bad |= packed && v == 2;
			if (packed)
				q[k / 4] |= (unsigned char)((v & 3) <<
				    2 * (k % 4));
			else
				q[k] = (unsigned char)(int8_t)v;
		}
	return bad ? -1 : 0;
}

/* Per-token int8 absmax quantization of x [.., n] (kernels' quant_i8):
 * *xq gets the codes as f32, *s the scale [.., 1]. */
static void
act_quant(struct gb *g, const char *x, const char **xq, const char **s)
{
	static const int64_t last[1] = { -1 };
	struct attr rk[1] = { AI("keepdims", 1) };
	const char *m;

	m = op(g, "ReduceMax", OP1(g, "Abs", x), ci(g, last, 1, 0), NULL, rk,
	    1);
	m = OP2(g, "Max", m, cf(g, 1e-5f));
	*s = OP2(g, "Div", cf(g, 127.0f), m);
	*xq = op(g, "Clip", OP1(g, "Round", OP2(g, "Mul", x, *s)),
	    cf(g, -128.0f), cf(g, 127.0f), NULL, 0);
}

/* A quantized activation, shared by linears reading the same input. */
struct qin {
	const char *x, *xq, *s;
	const char *a8;		/* xq + 128 as u8 (BN_ONNX_INT2_MMI) */
};

/* The u8 scalar 128, MatMulInteger's activation zero point. */
static const char *
zp128(struct gb *g)
{
	static const unsigned char v = 128;
	const char *name = "c.u8.128";
	size_t i;

	for (i = 0; i < g->nnames; i++)
		if (strcmp(g->names[i], name) == 0)
			return g->names[i];
	init_raw(g, name, OT_UINT8, NULL, 0, &v, 1, NULL);
	return keep(g, strdup(name));
}

/* y = x W^T for a bnt weight [rows, n], as model.c's bind_linear and
 * linear() compute it.  bitlinear float weights must be ternarized
 * first (bnquant). */
static const char *
linear(struct gb *g, const struct bnt_map_tensor *t, int bitlinear,
    struct qin *qi, struct bn_err *e, int *st)
{
	const struct bnt_tensor *d = &t->t;
	size_t rows = (size_t)d->rows, n = (size_t)d->row_len, r, c, nb;
	int dt = d->dtype, quant = 0, packed, v, bad = 0;
	float *sc = NULL, *vals;
	const char *w, *y, *isum, *base = fmt(g, "%s", d->name);
	int64_t dims[3];

	if (d->ndim != 2)
		return *st = bn_seterr(e, BN_EFORMAT, "tensor '%s': 2 "
		    "dimensions expected", d->name), "";
	packed = dt == BN_DTYPE_T2 || dt == BN_DTYPE_T3 || dt == BN_DTYPE_B1;
	if (plain_float(dt) && d->scale_kind == BNT_SCALE_NONE) {
		if (bitlinear)
			return *st = bn_seterr(e, BN_EUNSUPPORTED, "tensor "
			    "'%s': float weights of a bitlinear model: "
			    "ternarize them first (bnquant -q ternary)",
			    d->name), "";
		return matmul_wt(g, qi->x, float_init(g, t), dt, d->rows, n);
	}
	if ((sc = malloc(rows * sizeof *sc)) == NULL) {
		*st = bn_seterr(e, BN_ENOMEM, "out of memory");
		return "";
	}
	/* BitLinear at every width, as model.c: int8 activations */
	if ((dt == BN_DTYPE_I8 && d->scale_kind != BNT_SCALE_BLOCK) || packed)
		quant = bnt_map_row_scales(t, sc) == 0;
	if (!quant) {		/* dequantize to f32, as model.c's to_float */
		if ((vals = malloc(rows * n * sizeof *vals)) == NULL) {
			free(sc);
			*st = bn_seterr(e, BN_ENOMEM, "out of memory");
			return "";
		}
		for (r = 0; r < rows; r++)
			bnt_map_row_f32(t, r, vals + r * n);
		dims[0] = (int64_t)rows;
		dims[1] = (int64_t)n;
		init_f32(g, base, dims, 2, vals, rows * n);
		free(vals);
		free(sc);
		return matmul_wt(g, qi->x, base, BN_DTYPE_F32, d->rows, n);
	}
	if (qi->xq == NULL)
		act_quant(g, qi->x, &qi->xq, &qi->s);
	if (packed && g->packing == BN_ONNX_NBITS) {
		/* B [rows, ceil(n / 128), 32]: code + 2, 4 per byte, low
		 * first; a row's last block padded with code 0, which
		 * MatMulNBits reads no further than K = n */
		size_t rb;
		unsigned char *q;

		nb = (n + BN_T2_BLOCK - 1) / BN_T2_BLOCK;
		rb = nb * (BN_T2_BLOCK / 4);
		q = calloc(rows, rb);
		struct attr a[4] = { AI("K", (int64_t)n),
			AI("N", (int64_t)rows), AI("bits", 2),
			AI("block_size", BN_T2_BLOCK) };
		const char *in[3], *one, *out;
		float *ones;

		ones = malloc(rows * nb * sizeof *ones);
		if (q == NULL || ones == NULL) {
			free(q);
			free(ones);
			free(sc);
			*st = bn_seterr(e, BN_ENOMEM, "out of memory");
			return "";
		}
		for (r = 0; r < rows && bad == 0; r++)
			if (dt == BN_DTYPE_T2 && n % BN_T2_BLOCK == 0)
				bad = t2_to_nbits((const uint8_t *)t->data +
				    r * d->row_bytes, n, q + r * rb);
			else
				for (c = 0; c < nb * BN_T2_BLOCK; c++) {
					v = c < n ? code_at(t, r, c) : 0;
					bad |= v == 2;
					q[r * rb + c / 4] |= (unsigned char)
					    ((v + 2) << 2 * (c % 4));
				}
		for (r = 0; r < rows * nb; r++)
			ones[r] = 1;
		dims[0] = (int64_t)rows;
		dims[1] = (int64_t)nb;
		dims[2] = BN_T2_BLOCK / 4;
		init_raw(g, base, OT_UINT8, dims, 3, q, rows * rb, q);
		/* scales of 1, shared by the weights of one shape */
		one = fmt(g, "ones.%zux%zu", rows, nb);
		for (r = 0; r + 1 < g->nnames; r++)
			if (strcmp(g->names[r], one) == 0)
				break;
		dims[0] = (int64_t)(rows * nb);
		if (r + 1 >= g->nnames)
			init_f32(g, one, dims, 1, ones, rows * nb);
		free(ones);
		in[0] = qi->xq;
		in[1] = base;
		in[2] = one;
		out = tmp(g);
		node(g, "MatMulNBits", "com.microsoft", in, 3, &out, 1, a, 4);
		isum = out;
	} else {
		/* [n, rows] codes (transposed for MatMul), INT2 or INT8 */
		size_t nel = n * rows, bytes = packed ? (nel + 3) / 4 : nel;
		unsigned char *q = NULL;

		dims[0] = (int64_t)n;
		dims[1] = (int64_t)rows;
		if (int2_t2_ok(t) && bytes >= HOLE_MIN)
			/* made as it is written: codes checked then */
			init_lazy_t2(g, base, dims, t, bytes);
		else {
			if ((q = calloc(bytes ? bytes : 1, 1)) == NULL ||
			    (bad = codes_transposed(t, packed, q)) == -2) {
				free(q);
				free(sc);
				*st = bn_seterr(e, BN_ENOMEM, "out of memory");
				return "";
			}
			init_raw(g, base, packed ? OT_INT2 : OT_INT8, dims, 2,
			    q, bytes, q);
		}
		if (g->packing == BN_ONNX_INT2_MMI) {
			/* u8 activations (code + 128, zero point 128) times
			 * the s8 weights: MLAS's u8s8 integer GEMM, exact */
			struct attr t8 = AI("to", OT_INT8), tf = AI("to",
			    OT_FLOAT), tu = AI("to", OT_UINT8);

			if (qi->a8 == NULL)
				qi->a8 = op(g, "Cast", OP2(g, "Add", qi->xq,
				    cf(g, 128.0f)), NULL, NULL, &tu, 1);
			w = op(g, "Cast", base, NULL, NULL, &t8, 1);
			isum = op(g, "Cast", op(g, "MatMulInteger", qi->a8, w,
			    zp128(g), NULL, 0), NULL, NULL, &tf, 1);
		} else {
			w = OP2(g, "DequantizeLinear", base, cf(g, 1.0f));
			isum = OP2(g, "MatMul", qi->xq, w);
		}
	}
	if (bad) {
		free(sc);
		*st = bn_seterr(e, BN_EFORMAT, "tensor '%s': invalid packed "
		    "code", d->name);
		return "";
	}
	for (r = 1; r < rows && sc[r] == sc[0]; r++)
		;
	if (r == rows)		/* one scale: a scalar */
		w = cf(g, sc[0]);
	else {
		w = fmt(g, "%s.scale", d->name);
		dims[0] = (int64_t)rows;
		init_f32(g, w, dims, 1, sc, rows);
	}
	free(sc);
	if (d->scale_flags & BNT_SCALE_DIV)
		y = OP2(g, "Div", isum, OP2(g, "Mul", qi->s, w));
	else
		y = OP2(g, "Div", OP2(g, "Mul", isum, w), qi->s);
	return y;
}

static const char *
rmsnorm(struct gb *g, const char *x, const struct bnt_map_tensor *w)
{
	static const int64_t last[1] = { -1 };
	struct attr rk[1] = { AI("keepdims", 1) };
	const char *ms, *r;

	ms = op(g, "ReduceMean", OP2(g, "Mul", x, x), ci(g, last, 1, 0), NULL,
	    rk, 1);
	r = OP1(g, "Reciprocal", OP1(g, "Sqrt", OP2(g, "Add", ms,
	    cf(g, g->c->norm_eps))));
	return OP2(g, "Mul", OP2(g, "Mul", x, r), float_weight(g, w));
}

static const char *
slice(struct gb *g, const char *x, int64_t from, int64_t to, int64_t axis)
{
	const char *in[4] = { x, ci1(g, from), ci1(g, to), ci1(g, axis) };
	const char *out = tmp(g);

	node(g, "Slice", NULL, in, 4, &out, 1, NULL, 0);
	return out;
}

static const char *
concat(struct gb *g, const char *a, const char *b, int64_t axis,
    const char *out)
{
	const char *in[2] = { a, b };
	struct attr ax = AI("axis", axis);

	if (out == NULL)
		out = tmp(g);
	node(g, "Concat", NULL, in, 2, &out, 1, &ax, 1);
	return out;
}

static const char *
reshape(struct gb *g, const char *x, const int64_t *shape, size_t n)
{
	return OP2(g, "Reshape", x, ci(g, shape, n, 0));
}

static const char *
unsqueeze(struct gb *g, const char *x, int64_t axis)
{
	return OP2(g, "Unsqueeze", x, ci1(g, axis));
}

/* RoPE over x [B, S, nh, hd] (model.c's rope()). */
static const char *
rope(struct gb *g, const char *x)
{
	int64_t hd = g->c->head_dim, half = hd / 2;
	const char *a, *b, *o1, *o2, *cs = g->cos, *sn = g->sin;

	if (g->c->rope_interleaved) {
		int64_t s5[5] = { 0, 0, 0, half, 2 }, s4[4] = { 0, 0, 0, hd };

		x = reshape(g, x, s5, 5);
		a = slice(g, x, 0, 1, 4);
		b = slice(g, x, 1, 2, 4);
		cs = unsqueeze(g, cs, 4);
		sn = unsqueeze(g, sn, 4);
		o1 = OP2(g, "Sub", OP2(g, "Mul", a, cs), OP2(g, "Mul", b, sn));
		o2 = OP2(g, "Add", OP2(g, "Mul", b, cs), OP2(g, "Mul", a, sn));
		return reshape(g, concat(g, o1, o2, 4, NULL), s4, 4);
	}
	a = slice(g, x, 0, half, 3);
	b = slice(g, x, half, hd, 3);
	o1 = OP2(g, "Sub", OP2(g, "Mul", a, cs), OP2(g, "Mul", b, sn));
	o2 = OP2(g, "Add", OP2(g, "Mul", b, cs), OP2(g, "Mul", a, sn));
	return concat(g, o1, o2, 3, NULL);
}

static const char *
transpose(struct gb *g, const char *x, const int64_t *perm, size_t n)
{
	struct attr tp = AIS("perm", perm, n);

	return op(g, "Transpose", x, NULL, NULL, &tp, 1);
}

static int
layer(struct gb *g, const struct bnt_map *m, int l, const char **xp,
    struct bn_err *e)
{
	const struct bn_config *c = g->c;
	const struct bnt_map_tensor *t;
	static const int64_t p0213[4] = { 0, 2, 1, 3 };
	static const int64_t p01243[5] = { 0, 1, 2, 4, 3 };
	int64_t hd = c->head_dim, H = c->heads, KV = c->kv_heads;
	int64_t s4q[4] = { 0, 0, H, hd }, s4k[4] = { 0, 0, KV, hd };
	int64_t s5[5] = { 0, KV, H / KV, -1, hd }, sh[4] = { 0, H, -1, hd };
	int64_t s3[3] = { 0, 0, H * hd };
	const char *x = *xp, *xn, *q, *k, *v, *sc, *o, *gt, *up, *h;
	struct qin qi;
	struct attr sm = AI("axis", -1);
	char name[96];
	int st = BN_OK, bl = c->bitlinear;

#define T(id) ((t = need(m, bn_role_name(id, l, name, sizeof name), e)) == \
	NULL)
	if (T(BN_R_ATTN_NORM))
		return BN_EFORMAT;
	xn = rmsnorm(g, x, t);
	qi.x = xn;
	qi.xq = qi.s = qi.a8 = NULL;
	if (T(BN_R_ATTN_Q))
		return BN_EFORMAT;
	q = linear(g, t, bl, &qi, e, &st);
	if (st != BN_OK || T(BN_R_ATTN_K))
		return st ? st : BN_EFORMAT;
	k = linear(g, t, bl, &qi, e, &st);
	if (st != BN_OK || T(BN_R_ATTN_V))
		return st ? st : BN_EFORMAT;
	v = linear(g, t, bl, &qi, e, &st);
	if (st != BN_OK)
		return st;
	if (bn_role_present(BN_R_ATTN_Q_BIAS, c->arch, c->tied)) {
		if (T(BN_R_ATTN_Q_BIAS))
			return BN_EFORMAT;
		q = OP2(g, "Add", q, float_weight(g, t));
		if (T(BN_R_ATTN_K_BIAS))
			return BN_EFORMAT;
		k = OP2(g, "Add", k, float_weight(g, t));
		if (T(BN_R_ATTN_V_BIAS))
			return BN_EFORMAT;
		v = OP2(g, "Add", v, float_weight(g, t));
	}
	/* [B, S, nh, hd]: qwen3's norms are over each head's hd */
	q = reshape(g, q, s4q, 4);
	if (bn_role_present(BN_R_ATTN_Q_NORM, c->arch, c->tied)) {
		if (T(BN_R_ATTN_Q_NORM))
			return BN_EFORMAT;
		q = rmsnorm(g, q, t);
	}
	q = transpose(g, rope(g, q), p0213, 4);
	k = reshape(g, k, s4k, 4);
	if (bn_role_present(BN_R_ATTN_K_NORM, c->arch, c->tied)) {
		if (T(BN_R_ATTN_K_NORM))
			return BN_EFORMAT;
		k = rmsnorm(g, k, t);
	}
	k = transpose(g, rope(g, k), p0213, 4);
	v = transpose(g, reshape(g, v, s4k, 4), p0213, 4);
	if (g->o->kv_cache) {		/* [B, KV, P + S, hd] */
		k = concat(g, fmt(g, "past_key_values.%d.key", l), k, 2,
		    fmt(g, "present.%d.key", l));
		v = concat(g, fmt(g, "past_key_values.%d.value", l), v, 2,
		    fmt(g, "present.%d.value", l));
	}
	/* [B, KV, G, S, hd] x [B, KV, 1, hd, T] -> [B, KV, G, S, T] */
	q = reshape(g, q, s5, 5);
	sc = OP2(g, "MatMul", q, transpose(g, unsqueeze(g, k, 2), p01243, 5));
	sc = OP2(g, "Mul", sc, cf(g, 1.0f / sqrtf((float)hd)));
	sc = op(g, "Where", g->mask, cf(g, -INFINITY), sc, NULL, 0);
	sc = op(g, "Softmax", sc, NULL, NULL, &sm, 1);
	o = OP2(g, "MatMul", sc, unsqueeze(g, v, 2));
	o = reshape(g, transpose(g, reshape(g, o, sh, 4), p0213, 4), s3, 3);
	if (bn_role_present(BN_R_ATTN_SUB_NORM, c->arch, c->tied)) {
		if (T(BN_R_ATTN_SUB_NORM))
			return BN_EFORMAT;
		o = rmsnorm(g, o, t);
	}
	qi.x = o;
	qi.xq = qi.s = qi.a8 = NULL;
	if (T(BN_R_ATTN_OUTPUT))
		return BN_EFORMAT;
	o = linear(g, t, bl, &qi, e, &st);
	if (st != BN_OK || T(BN_R_FFN_NORM))
		return st ? st : BN_EFORMAT;
	x = OP2(g, "Add", x, o);
	qi.x = rmsnorm(g, x, t);
	qi.xq = qi.s = qi.a8 = NULL;
	if (T(BN_R_FFN_GATE))
		return BN_EFORMAT;
	gt = linear(g, t, bl, &qi, e, &st);
	if (st != BN_OK || T(BN_R_FFN_UP))
		return st ? st : BN_EFORMAT;
	up = linear(g, t, bl, &qi, e, &st);
	if (st != BN_OK)
		return st;
	if (c->act == BN_ACT_RELU2) {
		gt = OP1(g, "Relu", gt);
		gt = OP2(g, "Mul", gt, gt);
	} else
		gt = OP2(g, "Div", gt, OP2(g, "Add", cf(g, 1.0f), OP1(g, "Exp",
		    OP1(g, "Neg", gt))));
	h = OP2(g, "Mul", gt, up);
	if (bn_role_present(BN_R_FFN_SUB_NORM, c->arch, c->tied)) {
		if (T(BN_R_FFN_SUB_NORM))
			return BN_EFORMAT;
		h = rmsnorm(g, h, t);
	}
	qi.x = h;
	qi.xq = qi.s = qi.a8 = NULL;
	if (T(BN_R_FFN_DOWN))
		return BN_EFORMAT;
	o = linear(g, t, bl, &qi, e, &st);
	if (st != BN_OK)
		return st;
#undef T
	*xp = OP2(g, "Add", x, o);
	return BN_OK;
}

/* Every tensor the graph reads, with the shape model.c's loader
 * requires: vectors are f32, f16 or bf16, matrices [rows, n]. */
static int
check_shape(const struct bnt_map *m, const char *name, uint64_t rows,
    uint64_t n, struct bn_err *e)
{
	const struct bnt_map_tensor *t = need(m, name, e);

	if (t == NULL)
		return BN_EFORMAT;
	if (rows == 0 && (t->t.ndim != 1 || t->t.dims[0] != n ||
	    !plain_float(t->t.dtype) || t->t.scale_kind != BNT_SCALE_NONE))
		return bn_seterr(e, BN_EFORMAT, "tensor '%s': a float vector "
		    "of %" PRIu64 " expected", name, n);
	if (rows != 0 && (t->t.ndim != 2 || t->t.dims[0] != rows ||
	    t->t.dims[1] != n))
		return bn_seterr(e, BN_EFORMAT, "tensor '%s': shape %" PRIu64
		    "x%" PRIu64 " expected", name, rows, n);
	return BN_OK;
}

/* Role id of layer l if the architecture has it. */
static int
check_role(const struct bnt_map *m, const struct bn_config *c,
    const struct bn_dims *d, int id, int l, struct bn_err *e)
{
	uint64_t rows, n;
	char name[96];

	if (!bn_role_present(id, c->arch, c->tied))
		return BN_OK;
	bn_role_shape(id, d, &rows, &n);
	return check_shape(m, bn_role_name(id, l, name, sizeof name), rows,
	    n, e);
}

/* The layers' tensors, then the top ones after them (build() checks
 * token_embd). */
static int
check_model(const struct bnt_map *m, const struct bn_config *c,
    struct bn_err *e)
{
	struct bn_dims d;
	int l, id, st;

	bn_dims_from_config(&d, c);
	for (l = 0; l < c->layers; l++)
		for (id = 0; id < BN_R_COUNT; id++)
			if (bn_roles[id].layer &&
			    (st = check_role(m, c, &d, id, l, e)) != BN_OK)
				return st;
	for (id = 0; id < BN_R_COUNT; id++)
		if (!bn_roles[id].layer && bn_roles[id].kind != BN_ROLE_EMBED &&
		    (st = check_role(m, c, &d, id, 0, e)) != BN_OK)
			return st;
	if (c->ctx > (1 << 20))
		return bn_seterr(e, BN_EUNSUPPORTED, "context length %d: RoPE "
		    "tables too large", c->ctx);
	return BN_OK;
}

/* Positions, the RoPE tables for them and the causal mask. */
static int
positions(struct gb *g)
{
	const struct bn_config *c = g->c;
	size_t half = (size_t)c->head_dim / 2, ctx = (size_t)c->ctx;
	float *cv, *sv;
	int64_t dims[2] = { (int64_t)ctx, (int64_t)half };
	const char *seq, *pos, *qpos, *kpos, *zero, *one, *past, *total;

	if ((cv = malloc(ctx * half * sizeof *cv)) == NULL ||
	    (sv = malloc(ctx * half * sizeof *sv)) == NULL) {
		free(cv);
		return BN_ENOMEM;
	}
	bn_rope_table(c, ctx, cv, sv);
	init_f32(g, "rope.cos", dims, 2, cv, ctx * half);
	init_f32(g, "rope.sin", dims, 2, sv, ctx * half);
	free(cv);
	free(sv);
	zero = cis(g, 0);
	one = cis(g, 1);
	seq = OP2(g, "Gather", OP1(g, "Shape", "input_ids"), one);
	if (g->o->kv_cache) {
		past = OP2(g, "Gather", OP1(g, "Shape",
		    "past_key_values.0.key"), cis(g, 2));
		total = OP2(g, "Add", past, seq);
		qpos = op(g, "Range", past, total, one, NULL, 0);
		kpos = op(g, "Range", zero, total, one, NULL, 0);
		pos = "position_ids";
	} else {
		qpos = kpos = op(g, "Range", zero, seq, one, NULL, 0);
		pos = unsqueeze(g, qpos, 0);
	}
	/* [Bp, S, half] -> [Bp, S, 1, half] */
	g->cos = unsqueeze(g, OP2(g, "Gather", "rope.cos", pos), 2);
	g->sin = unsqueeze(g, OP2(g, "Gather", "rope.sin", pos), 2);
	g->mask = OP2(g, "Greater", unsqueeze(g, kpos, 0),
	    unsqueeze(g, qpos, 1));
	return BN_OK;
}

static int
build(struct gb *g, const struct bnt_map *m, struct bn_err *e)
{
	const struct bn_config *c = g->c;
	const struct bnt_map_tensor *emb, *t;
	const char *x, *bsv[3] = { "batch", "seq", NULL }, *kvd[4];
	char vs[24], kvs[24], hds[24];
	struct qin qi;
	int l, st = BN_OK;

	if ((emb = need(m, bn_roles[BN_R_TOKEN_EMBD].name, e)) == NULL)
		return BN_EFORMAT;
	if (emb->t.ndim != 2 || emb->t.dims[0] != (uint64_t)c->vocab ||
	    emb->t.dims[1] != (uint64_t)c->hidden ||
	    !plain_float(emb->t.dtype) || emb->t.scale_kind != BNT_SCALE_NONE)
		return bn_seterr(e, BN_EUNSUPPORTED, "%s: a float [%d, %d] "
		    "tensor expected", bn_roles[BN_R_TOKEN_EMBD].name, c->vocab,
		    c->hidden);
	if ((st = check_model(m, c, e)) != BN_OK)
		return st;
	snprintf(vs, sizeof vs, "%d", c->vocab);
	snprintf(kvs, sizeof kvs, "%d", c->kv_heads);
	snprintf(hds, sizeof hds, "%d", c->head_dim);
	value_info(&g->inputs, 11, "input_ids", OT_INT64, bsv, 2);
	if (g->o->kv_cache) {
		value_info(&g->inputs, 11, "position_ids", OT_INT64, bsv, 2);
		kvd[0] = "batch";
		kvd[1] = kvs;
		kvd[3] = hds;
		for (l = 0; l < c->layers; l++) {
			kvd[2] = "past_seq";
			value_info(&g->inputs, 11, fmt(g,
			    "past_key_values.%d.key", l), OT_FLOAT, kvd, 4);
			value_info(&g->inputs, 11, fmt(g,
			    "past_key_values.%d.value", l), OT_FLOAT, kvd, 4);
		}
	}
	bsv[2] = vs;
	value_info(&g->outputs, 12, "logits", OT_FLOAT, bsv, 3);
	if (g->o->kv_cache)
		for (l = 0; l < c->layers; l++) {
			kvd[2] = "total_seq";
			value_info(&g->outputs, 12, fmt(g, "present.%d.key", l),
			    OT_FLOAT, kvd, 4);
			value_info(&g->outputs, 12, fmt(g, "present.%d.value",
			    l), OT_FLOAT, kvd, 4);
		}
	if ((st = positions(g)) != BN_OK)
		return bn_seterr(e, st, "out of memory");
	/* the rows first, then Cast: the table stays as the file has it */
	g->embd = float_init(g, emb);
	x = to_f32(g, OP2(g, "Gather", g->embd, "input_ids"), emb->t.dtype);
	for (l = 0; l < c->layers; l++)
		if ((st = layer(g, m, l, &x, e)) != BN_OK)
			return st;
	if ((t = need(m, bn_roles[BN_R_OUTPUT_NORM].name, e)) == NULL)
		return BN_EFORMAT;
	qi.x = rmsnorm(g, x, t);
	qi.xq = qi.s = qi.a8 = NULL;
	if ((t = need(m, bn_roles[c->tied ? BN_R_TOKEN_EMBD :
	    BN_R_OUTPUT].name, e)) == NULL)
		return BN_EFORMAT;
	if (c->tied) {		/* the embedding initializer, reused */
		const char *y = matmul_wt(g, qi.x, g->embd, emb->t.dtype,
		    emb->t.dims[0], emb->t.dims[1]), *out = "logits";

		node(g, "Identity", NULL, &y, 1, &out, 1, NULL, 0);
	} else {
		const char *y = linear(g, t, 0, &qi, e, &st), *out = "logits";

		if (st != BN_OK)
			return st;
		node(g, "Identity", NULL, &y, 1, &out, 1, NULL, 0);
	}
	return BN_OK;
}

static int
wr(FILE *f, const void *p, size_t n, struct bn_err *e)
{
	if (n > 0 && fwrite(p, 1, n, f) != n)
		return bn_seterr(e, BN_EIO, "write error");
	return BN_OK;
}

/* A t2 tensor as INT2 [n, rows], a block of 128 columns at a time. */
static int
write_int2_t2(FILE *f, const struct bnt_map_tensor *t, struct bn_err *e)
{
	size_t part = 128 * (size_t)(t->t.rows / 4);
	uint64_t blk;
	unsigned char *buf = malloc(part);
	int st = BN_OK;

	if (buf == NULL)
		return bn_seterr(e, BN_ENOMEM, "out of memory");
	for (blk = 0; blk < t->t.row_len / 128 && st == BN_OK; blk++)
		if (int2_t2_block(t, blk, buf) != 0)
			st = bn_seterr(e, BN_EFORMAT, "tensor '%s': invalid "
			    "packed code", t->t.name);
		else
			st = wr(f, buf, part, e);
	free(buf);
	return st;
}

/* The initializers: the encoded bytes with the payloads in between. */
static int
write_inits(FILE *f, const struct gb *g, struct bn_err *e)
{
	size_t i, at = 0;
	int st = BN_OK;

	for (i = 0; i < g->nholes && st == BN_OK; i++) {
		st = wr(f, g->inits.p + at, g->holes[i].off - at, e);
		if (st == BN_OK && g->holes[i].t2 != NULL)
			st = write_int2_t2(f, g->holes[i].t2, e);
		else if (st == BN_OK)
			st = wr(f, g->holes[i].p, g->holes[i].n, e);
		at = g->holes[i].off;
	}
	if (st == BN_OK)
		st = wr(f, g->inits.p + at, g->inits.n - at, e);
	return st;
}

int
bn_export_onnx(const struct bnt_map *m, FILE *f, const struct bn_onnx_opts *o,
    struct bn_err *e)
{
	struct bn_config c;
	struct bn_onnx_opts def = { 0, 0 };
	struct gb g;
	struct pb model = { NULL, 0, 0, 0 }, graph = { NULL, 0, 0, 0 };
	struct pb *parts[5];
	size_t at, i, glen;
	int st;

	if (o == NULL)
		o = &def;
	if (o->packing != 0 && o->packing != BN_ONNX_NBITS &&
	    o->packing != BN_ONNX_DQ_INT2 && o->packing != BN_ONNX_INT2_MMI)
		return bn_seterr(e, BN_EUSAGE, "unknown ONNX packing %d",
		    o->packing);
	if (!m->has_config)
		return bn_seterr(e, BN_EFORMAT, "no configuration record (not "
		    "a model)");
	if ((st = bn_config_from_map(&c, m, e)) != BN_OK)
		return st;
	memset(&g, 0, sizeof g);
	g.c = &c;
	g.o = o;
	g.packing = o->packing ? o->packing : BN_ONNX_PACK_DEFAULT;
	g.opset = g.packing == BN_ONNX_NBITS ? 21 : 25;
	st = build(&g, m, e);
	if (st == BN_OK && (g.oom || g.nodes.oom || g.inits.oom ||
	    g.inputs.oom || g.outputs.oom))
		st = bn_seterr(e, BN_ENOMEM, "out of memory");
	/* GraphProto: node 1, name 2, initializer 5, input 11, output 12;
	 * its parts are written one after the other, not copied */
	pb_str(&graph, 2, "bntools");
	parts[0] = &g.nodes;
	parts[1] = &graph;
	parts[2] = &g.inits;
	parts[3] = &g.inputs;
	parts[4] = &g.outputs;
	for (glen = g.holebytes, i = 0; i < 5; i++)
		glen += parts[i]->n;
	if (st == BN_OK && graph.oom)
		st = bn_seterr(e, BN_ENOMEM, "out of memory");
	if (st == BN_OK && glen > PB_MAX - 1024)
		st = bn_seterr(e, BN_EUNSUPPORTED, "the graph needs %zu bytes, "
		    "over protobuf's 2 GiB limit (ONNX external data is not "
		    "written)", glen);
	/* ModelProto: ir_version 1, producer_name 2, producer_version 3,
	 * graph 7, opset_import 8 (OperatorSetIdProto: domain 1,
	 * version 2). */
	if (st == BN_OK) {
		/* IR 10 goes with opset 21; IR 13 (opset 25) added INT2 */
		pb_int(&model, 1, g.opset >= 25 ? 13 : 10);
		pb_str(&model, 2, "bntools");
		pb_str(&model, 3, BN_VERSION);
		at = pb_begin(&model, 8);
		pb_str(&model, 1, "");
		pb_int(&model, 2, g.opset);
		pb_end(&model, at);
		if (g.packing == BN_ONNX_NBITS) {
			at = pb_begin(&model, 8);
			pb_str(&model, 1, "com.microsoft");
			pb_int(&model, 2, 1);
			pb_end(&model, at);
		}
		pb_tag(&model, 7, 2);
		pb_varint(&model, glen);
		if (model.oom)
			st = bn_seterr(e, BN_ENOMEM, "out of memory");
		else
			st = wr(f, model.p, model.n, e);
		for (i = 0; i < 5 && st == BN_OK; i++)
			if (parts[i] == &g.inits)
				st = write_inits(f, &g, e);
			else
				st = wr(f, parts[i]->p, parts[i]->n, e);
	}
	pb_free(&model);
	pb_free(&graph);
	pb_free(&g.nodes);
	pb_free(&g.inits);
	pb_free(&g.inputs);
	pb_free(&g.outputs);
	for (i = 0; i < g.nnames; i++)
		free(g.names[i]);
	free(g.names);
	for (i = 0; i < g.nholes; i++)
		free(g.holes[i].owned);
	free(g.holes);
	return st;
}
