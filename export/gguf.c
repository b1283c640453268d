/* gguf.c: bnt(5) -> GGUF v3 for llama.cpp (export.h).
 *
 * The header, key/value section and tensor infos are built in memory
 * (a few MiB at most, the vocabulary included), then the tensor data
 * is streamed a row at a time.  GGUF dims are innermost first.  Names,
 * keys and layouts follow llama.cpp's llama-arch.cpp, gguf-py and
 * ggml-quants.c (block_tq1_0, block_tq2_0, block_q8_0). */
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bnt.h"
#include "dtype.h"
#include "config.h"
#include "export.h"
#include "kv.h"
#include "mem.h"
#include "roles.h"
#include "status.h"
#include "vocab.h"

#define GGUF_ALIGN 32

enum {
	GV_U8 = 0, GV_I8 = 1, GV_U16 = 2, GV_I16 = 3, GV_U32 = 4, GV_I32 = 5,
	GV_F32 = 6, GV_BOOL = 7, GV_STR = 8, GV_ARR = 9, GV_U64 = 10,
	GV_I64 = 11, GV_F64 = 12
};

enum {
	GT_F32 = BN_GGUF_F32, GT_F16 = BN_GGUF_F16, GT_Q8_0 = BN_GGUF_Q8_0,
	GT_I8 = 24, GT_I32 = 26, GT_I64 = 27, GT_F64 = 28,
	GT_BF16 = BN_GGUF_BF16, GT_TQ1_0 = BN_GGUF_TQ1_0,
	GT_TQ2_0 = BN_GGUF_TQ2_0
};

#define QK_K 256		/* TQ1_0, TQ2_0 block */
#define TQ1_BYTES 54		/* qs[48], qh[4], f16 d */
#define TQ2_BYTES 66		/* qs[64], f16 d */
#define QK8_0 32
#define Q8_BYTES 34		/* f16 d, qs[32] */

static void
put_u32(struct bn_buf *b, uint32_t v)
{
	unsigned char c[4];

	c[0] = (unsigned char)v;
	c[1] = (unsigned char)(v >> 8);
	c[2] = (unsigned char)(v >> 16);
	c[3] = (unsigned char)(v >> 24);
	bn_buf_put(b, c, 4);
}

static void
put_u64(struct bn_buf *b, uint64_t v)
{
	put_u32(b, (uint32_t)v);
	put_u32(b, (uint32_t)(v >> 32));
}

static void
put_f32(struct bn_buf *b, float f)
{
	uint32_t v;

	memcpy(&v, &f, 4);
	put_u32(b, v);
}

static void
put_str(struct bn_buf *b, const char *s, size_t n)
{
	put_u64(b, n);
	bn_buf_put(b, s, n);
}

/* The key/value section and its count. */
struct kvs {
	struct bn_buf b;
	uint64_t n;
};

static void
key(struct kvs *k, const char *name, uint32_t type)
{
	put_str(&k->b, name, strlen(name));
	put_u32(&k->b, type);
	k->n++;
}

static void
kv_u32(struct kvs *k, const char *name, uint32_t v)
{
	key(k, name, GV_U32);
	put_u32(&k->b, v);
}

static void
kv_f32(struct kvs *k, const char *name, float v)
{
	key(k, name, GV_F32);
	put_f32(&k->b, v);
}

static void
kv_bool(struct kvs *k, const char *name, int v)
{
	unsigned char c = v != 0;

	key(k, name, GV_BOOL);
	bn_buf_put(&k->b, &c, 1);
}

static void
kv_str(struct kvs *k, const char *name, const char *v)
{
	key(k, name, GV_STR);
	put_str(&k->b, v, strlen(v));
}

static void
kv_arr(struct kvs *k, const char *name, uint32_t type, uint64_t n)
{
	key(k, name, GV_ARR);
	put_u32(&k->b, type);
	put_u64(&k->b, n);
}

static void
vocab_dummy(struct kvs *k, uint64_t n)
{
	char t[32];
	uint64_t i;
	size_t len;

	/* SentencePiece: <unk> <s> </s>, the 256 byte tokens, then t%d */
	kv_str(k, "tokenizer.ggml.model", "llama");
	kv_arr(k, "tokenizer.ggml.tokens", GV_STR, n);
	for (i = 0; i < n; i++) {
		if (i == 0)
			len = (size_t)snprintf(t, sizeof t, "<unk>");
		else if (i == 1)
			len = (size_t)snprintf(t, sizeof t, "<s>");
		else if (i == 2)
			len = (size_t)snprintf(t, sizeof t, "</s>");
		else if (i < 259)
			len = (size_t)snprintf(t, sizeof t, "<0x%02X>",
			    (unsigned)(i - 3));
		else
			len = (size_t)snprintf(t, sizeof t, "t%" PRIu64, i);
		put_str(&k->b, t, len);
	}
	kv_arr(k, "tokenizer.ggml.scores", GV_F32, n);
	for (i = 0; i < n; i++)
		put_f32(&k->b, i < 259 ? 0.0f : -(float)(i - 259));
	kv_arr(k, "tokenizer.ggml.token_type", GV_I32, n);
	for (i = 0; i < n; i++)
		put_u32(&k->b, i == 0 ? 2 : i < 3 ? 3 : i < 259 ? 6 : 1);
	kv_u32(k, "tokenizer.ggml.unknown_token_id", 0);
	kv_u32(k, "tokenizer.ggml.bos_token_id", 1);
	kv_u32(k, "tokenizer.ggml.eos_token_id", 2);
	kv_bool(k, "tokenizer.ggml.add_bos_token", 1);
	kv_bool(k, "tokenizer.ggml.add_eos_token", 0);
}

static void
vocab_id(struct kvs *k, const struct bn_vocab *v, const char *vkey,
    const char *gkey)
{
	uint64_t id;

	if (bn_kv_get_u64(&v->kv, vkey, &id) == 0 && id < v->n_tokens)
		kv_u32(k, gkey, (uint32_t)id);
}

static void
vocab_own(struct kvs *k, const struct bn_vocab *v)
{
	const char *model = bn_kv_get(&v->kv, BN_VOC_MODEL);
	const char *pre = bn_kv_get(&v->kv, BN_VOC_PRE);
	uint64_t flag;
	uint32_t i;

	if (model == NULL)
		model = v->n_merges ? "gpt2" : "llama";
	kv_str(k, "tokenizer.ggml.model", model);
	/* llama.cpp's names for the pre-tokenizers bnrun runs: GPT-2's
	 * regex is "gpt-2", LLaMA-3's "llama-bpe" */
	if (strcmp(model, "gpt2") != 0)
		;	/* SentencePiece: no pre-tokenizer to name */
	else if (pre != NULL && (strcmp(pre, "gpt2") == 0 ||
	    strcmp(pre, "default") == 0))
		pre = "gpt-2";
	else if (pre != NULL && strcmp(pre, "llama3") == 0)
		pre = "llama-bpe";
	if (pre != NULL)
		kv_str(k, "tokenizer.ggml.pre", pre);
	else if (strcmp(model, "gpt2") == 0)
		kv_str(k, "tokenizer.ggml.pre", "gpt-2");
	kv_arr(k, "tokenizer.ggml.tokens", GV_STR, v->n_tokens);
	for (i = 0; i < v->n_tokens; i++)
		put_str(&k->b, v->tokens[i], v->token_len[i]);
	if (v->scores != NULL) {
		kv_arr(k, "tokenizer.ggml.scores", GV_F32, v->n_tokens);
		for (i = 0; i < v->n_tokens; i++)
			put_f32(&k->b, v->scores[i]);
	}
	kv_arr(k, "tokenizer.ggml.token_type", GV_I32, v->n_tokens);
	for (i = 0; i < v->n_tokens; i++)
		put_u32(&k->b, v->types ? (uint32_t)v->types[i] : 1);
	if (strcmp(model, "gpt2") == 0 || v->n_merges) {
		kv_arr(k, "tokenizer.ggml.merges", GV_STR, v->n_merges);
		for (i = 0; i < v->n_merges; i++)
			put_str(&k->b, v->merges[i], v->merge_len[i]);
	}
	vocab_id(k, v, BN_VOC_BOS, "tokenizer.ggml.bos_token_id");
	vocab_id(k, v, BN_VOC_EOS, "tokenizer.ggml.eos_token_id");
	vocab_id(k, v, BN_VOC_UNK, "tokenizer.ggml.unknown_token_id");
	vocab_id(k, v, BN_VOC_PAD, "tokenizer.ggml.padding_token_id");
	if (bn_kv_get_u64(&v->kv, BN_VOC_ADD_BOS, &flag) == 0)
		kv_bool(k, "tokenizer.ggml.add_bos_token", flag != 0);
	if (bn_kv_get_u64(&v->kv, BN_VOC_ADD_EOS, &flag) == 0)
		kv_bool(k, "tokenizer.ggml.add_eos_token", flag != 0);
	if (bn_kv_get(&v->kv, BN_VOC_CHAT) != NULL) {
		size_t len;
		char *s = bn_vocab_chat_template(v, &len);

		if (s == NULL)	/* malformed or out of memory: fail */
			k->b.oom = 1;
		else {
			key(k, "tokenizer.chat_template", GV_STR);
			put_str(&k->b, s, len);
			free(s);
		}
	}
}

static const char *
type_name(uint32_t type)
{
	switch (type) {
	case GT_F32: return "F32";
	case GT_F16: return "F16";
	case GT_BF16: return "BF16";
	case GT_Q8_0: return "Q8_0";
	case GT_TQ1_0: return "TQ1_0";
	case GT_TQ2_0: return "TQ2_0";
	case GT_I8: return "I8";
	case GT_I32: return "I32";
	case GT_I64: return "I64";
	case GT_F64: return "F64";
	}
	return "?";
}

/* Bytes of one GGUF row of n elements (n fits the type's block). */
static uint64_t
row_size(uint32_t type, uint64_t n)
{
	switch (type) {
	case GT_F32: case GT_I32: return 4 * n;
	case GT_F16: case GT_BF16: return 2 * n;
	case GT_I8: return n;
	case GT_I64: case GT_F64: return 8 * n;
	case GT_Q8_0: return n / QK8_0 * Q8_BYTES;
	case GT_TQ1_0: return n / QK_K * TQ1_BYTES;
	case GT_TQ2_0: return n / QK_K * TQ2_BYTES;
	}
	return 0;
}

/* How one GGUF tensor goes out. */
struct plan {
	const struct bnt_map_tensor *mt;
	char *name;		/* "<stem>.scale" (malloc'd) or mt->t.name */
	int scale_only;		/* bitnet: mt's per-tensor scale, F32 [1] */
	int rope_freqs;		/* llama3 rope_scaling: F32 [head_dim / 2] */
	int fold;		/* ternary: the block d carries the scale */
	int direct;		/* scaled i8, f16 scales per 32 -> Q8_0 */
	int copy;		/* rows go out as they are */
	uint32_t type;		/* GT_* */
	uint64_t row_out;	/* GGUF bytes per row */
	uint64_t bytes;		/* GGUF data bytes */
	uint64_t offset;	/* from the data section start */
	uint64_t perm_heads;	/* rope half -> adjacent: heads to permute */
};

struct ctx {
	const struct bnt_map *m;
	const struct bn_gguf_opts *o;
	struct bn_config c;
	const char *arch;	/* GGUF general.architecture */
	struct plan *pl;
	size_t n, cap;
};

static void
notice(const struct ctx *x, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void
notice(const struct ctx *x, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	if (x->o->notice == NULL)
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	x->o->notice(x->o->ctx, msg);
}

/* The configuration, checked for what llama.cpp's graphs run. */
static int
read_cfg(struct ctx *x, struct bn_err *e)
{
	const struct bnt_map *m = x->m;
	struct bn_config *c = &x->c;
	int st;

	if (!m->has_config)
		return bn_seterr(e, BN_EFORMAT, "no configuration record");
	if ((st = bn_config_from_map(c, m, e)) != BN_OK)
		return st;
	if (c->arch == BN_ARCH_LLAMA) {
		x->arch = "llama";
		if (c->act != BN_ACT_SILU)
			return bn_seterr(e, BN_EUNSUPPORTED, "act '%s': "
			    "llama.cpp's llama needs silu",
			    bn_kv_get(&m->config, BN_CFG_ACT));
		return BN_OK;
	}
	if (c->arch == BN_ARCH_QWEN2 || c->arch == BN_ARCH_QWEN3) {
		/* llama.cpp's names; its graphs rotate halves (NEOX) as
		 * transformers does, so q and k keep their rows */
		x->arch = bn_arch_name(c->arch);
		if (c->rope_interleaved)
			return bn_seterr(e, BN_EUNSUPPORTED, "rope_style "
			    "interleaved: llama.cpp's %s rotates halves",
			    x->arch);
		if (c->act != BN_ACT_SILU)
			return bn_seterr(e, BN_EUNSUPPORTED, "act '%s': "
			    "llama.cpp's %s needs silu",
			    bn_kv_get(&m->config, BN_CFG_ACT), x->arch);
		return BN_OK;
	}
	x->arch = "bitnet";
	if (c->rope_interleaved)
		return bn_seterr(e, BN_EUNSUPPORTED, "rope_style "
		    "interleaved: llama.cpp's bitnet rotates halves");
	if (bnt_map_find(m, bn_roles[BN_R_OUTPUT].name) != NULL)
		return bn_seterr(e, BN_EUNSUPPORTED, "tensor '%s': llama.cpp's "
		    "bitnet ties the output to %s", bn_roles[BN_R_OUTPUT].name,
		    bn_roles[BN_R_TOKEN_EMBD].name);
	if (c->act != BN_ACT_SILU)
		notice(x, "warning: llama.cpp's bitnet graph computes SiLU "
		    "where this model uses squared ReLU: it loads the file "
		    "but its outputs differ from bnrun's");
	return BN_OK;
}

static int
add_plan(struct ctx *x, const struct plan *p, struct bn_err *e)
{
	if (bn_grow(&x->pl, &x->cap, x->n + 1, sizeof *x->pl) != 0)
		return bn_seterr(e, BN_ENOMEM, "out of memory");
	x->pl[x->n++] = *p;
	return BN_OK;
}

static int
plain_type(int dtype)
{
	switch (dtype) {
	case BN_DTYPE_F32: return GT_F32;
	case BN_DTYPE_F16: return GT_F16;
	case BN_DTYPE_BF16: return GT_BF16;
	case BN_DTYPE_I8: return GT_I8;
	case BN_DTYPE_I32: return GT_I32;
	case BN_DTYPE_I64: return GT_I64;
	case BN_DTYPE_F64: return GT_F64;
	}
	return -1;
}

/* Q8_0 needs rows of 32: else F16, announced. */
static uint32_t
q8_or_f16(const struct ctx *x, const struct bnt_tensor *t)
{
	if (t->row_len % QK8_0 == 0)
		return GT_Q8_0;
	notice(x, "tensor '%s': row length %" PRIu64 " is not a multiple "
	    "of 32: F16 instead of Q8_0", t->name, t->row_len);
	return GT_F16;
}

static int
plan_tensor(struct ctx *x, const struct bnt_map_tensor *mt, struct bn_err *e)
{
	const struct bnt_tensor *t = &mt->t;
	const struct bn_dtype_traits *tr = bn_dtype_traits(t->dtype);
	const struct bn_config *c = &x->c;
	struct plan p, s;
	size_t n;
	int st, pt;

	memset(&p, 0, sizeof p);
	p.mt = mt;
	p.name = (char *)t->name;
	if (tr->is_packed) {
		if (t->row_len % QK_K == 0 && (t->scale_kind !=
		    BNT_SCALE_BLOCK || t->scale_block % QK_K == 0)) {
			p.type = (uint32_t)x->o->ternary;
			p.fold = !(c->arch == BN_ARCH_BITNET &&
			    t->scale_kind == BNT_SCALE_TENSOR &&
			    bn_is_projection(t->name));
		} else {
			p.type = (uint32_t)x->o->fallback;
			if (p.type == GT_Q8_0 && t->row_len % QK8_0 != 0)
				p.type = GT_F16;
			notice(x, "tensor '%s': %s instead of %s (row length "
			    "%" PRIu64 "%s is not a multiple of 256)",
			    t->name, type_name(p.type),
			    type_name((uint32_t)x->o->ternary), t->row_len,
			    t->row_len % QK_K == 0 ? ", scale block" : "");
		}
	} else if (t->scale_kind != BNT_SCALE_NONE) {
		/* scaled i8 (an imported Q8_0, say) */
		p.direct = t->scale_kind == BNT_SCALE_BLOCK &&
		    t->scale_block == QK8_0 && t->scale_dtype ==
		    BN_DTYPE_F16 && !(t->scale_flags & BNT_SCALE_DIV);
		p.type = p.direct ? GT_Q8_0 : q8_or_f16(x, t);
	} else if (tr->is_float) {
		if (c->bitlinear && bn_is_projection(t->name))
			return bn_seterr(e, BN_EUNSUPPORTED, "tensor '%s': "
			    "float projection of a BitLinear model (ternarize "
			    "it first: bnquant -q ternary)", t->name);
		if (t->ndim <= 1)	/* norms: F32, as llama.cpp writes them */
			p.type = GT_F32;
		else if (x->o->floats == BN_GGUF_KEEP)
			p.type = (uint32_t)plain_type(t->dtype);
		else if (x->o->floats == BN_GGUF_Q8_0)
			p.type = q8_or_f16(x, t);
		else
			p.type = (uint32_t)x->o->floats;
		p.copy = (int)p.type == plain_type(t->dtype);
	} else {
		if ((pt = plain_type(t->dtype)) < 0)
			return bn_seterr(e, BN_EUNSUPPORTED, "tensor '%s': type "
			    "%s has no GGUF counterpart", t->name, tr->name);
		p.type = (uint32_t)pt;
		p.copy = 1;
	}
	if (c->arch == BN_ARCH_LLAMA && !c->rope_interleaved && t->ndim == 2)
		p.perm_heads = bn_rope_perm_heads(c, t->name);
	if (p.perm_heads && t->rows != p.perm_heads * (uint64_t)c->head_dim)
		return bn_seterr(e, BN_EFORMAT, "tensor '%s': %" PRIu64 " rows "
		    "for %" PRIu64 " heads of %" PRIu64, t->name, t->rows,
		    p.perm_heads, (uint64_t)c->head_dim);
	p.row_out = row_size(p.type, t->row_len);
	p.bytes = t->rows * p.row_out;
	if ((st = add_plan(x, &p, e)) != BN_OK)
		return st;
	if (p.type != GT_TQ1_0 && p.type != GT_TQ2_0)
		return BN_OK;
	if (p.fold)
		return BN_OK;
	/* bitnet: the per-tensor scale as llama.cpp's "<stem>.scale" */
	memset(&s, 0, sizeof s);
	n = strlen(t->name) - strlen("weight");
	if ((s.name = malloc(n + sizeof "scale")) == NULL)
		return bn_seterr(e, BN_ENOMEM, "out of memory");
	memcpy(s.name, t->name, n);
	memcpy(s.name + n, "scale", sizeof "scale");
	s.mt = mt;
	s.scale_only = 1;
	s.type = GT_F32;
	s.row_out = s.bytes = 4;
	if ((st = add_plan(x, &s, e)) != BN_OK)
		free(s.name);
	return st;
}

/* Output row r of a permuted q/k tensor comes from this source row:
 * llama.cpp rotates adjacent pairs (2i, 2i+1), rope_style=half rotates
 * (i, i + d/2). */
static uint64_t
src_row(const struct plan *p, const struct bn_config *c, uint64_t r)
{
	uint64_t d = (uint64_t)c->head_dim, h, i;

	if (p->perm_heads == 0)
		return r;
	h = r / d;
	i = r % d;
	return h * d + (i % 2) * (d / 2) + i / 2;
}

static int
wr(FILE *out, const void *p, size_t n, struct bn_err *e)
{
	if (n && fwrite(p, 1, n, out) != n)
		return bn_seterr(e, BN_EIO, "write error");
	return BN_OK;
}

/* The value a tensor's scale i stands for: element = code * it. */
static float
mul_scale(const struct bnt_map_tensor *mt, uint64_t i)
{
	const struct bnt_tensor *t = &mt->t;
	float s;

	if (t->scale_kind == BNT_SCALE_NONE)
		return 1.0f;
	s = bnt_tensor_scale(t, mt->scales, i);
	return t->scale_flags & BNT_SCALE_DIV ? 1.0f / s : s;
}

static void
put_f16(unsigned char *p, float f)
{
	uint16_t h = bn_f32_to_f16(f);

	p[0] = (unsigned char)h;
	p[1] = (unsigned char)(h >> 8);
}

/* ggml's quantize_row_q8_0_ref: d = amax / 127, q = round(x / d). */
static void
q8_row(const float *f, uint64_t n, unsigned char *out)
{
	uint64_t b, j;
	float amax, d, id, v;

	for (b = 0; b < n / QK8_0; b++, f += QK8_0, out += Q8_BYTES) {
		amax = 0;
		for (j = 0; j < QK8_0; j++) {
			v = f[j] < 0 ? -f[j] : f[j];
			if (v > amax)
				amax = v;
		}
		d = amax / 127;
		id = d != 0 ? 1.0f / d : 0.0f;
		put_f16(out, d);
		for (j = 0; j < QK8_0; j++)
			out[2 + j] = (unsigned char)(int8_t)roundf(f[j] * id);
	}
}

/* One 256-element TQ1_0 block from t2 codes (ggml's
 * quantize_row_tq1_0_ref order): qs[m], m < 32, holds elements
 * m + 32n; qs[32 + m], m < 16, elements 160 + m + 16n; qh[j] elements
 * 240 + j + 4n; the first trit most significant, each byte q stored as
 * ceil(q * 256 / 243). */
static void
tq1_block(const unsigned char *t2, uint64_t base, unsigned char *blk)
{
	unsigned m, n, q;

#define CODE(k) ((unsigned)(bn_t2_get(t2, base + (k)) + 1))
	for (m = 0; m < 32; m++) {
		for (q = 0, n = 0; n < 5; n++)
			q = q * 3 + CODE(m + 32 * n);
		blk[m] = (unsigned char)((q * 256 + 242) / 243);
	}
	for (m = 0; m < 16; m++) {
		for (q = 0, n = 0; n < 5; n++)
			q = q * 3 + CODE(160 + m + 16 * n);
		blk[32 + m] = (unsigned char)((q * 256 + 242) / 243);
	}
	for (m = 0; m < 4; m++) {
		for (q = 0, n = 0; n < 4; n++)
			q = q * 3 + CODE(240 + m + 4 * n);
		q *= 3;
		blk[48 + m] = (unsigned char)((q * 256 + 242) / 243);
	}
#undef CODE
}

/* Row sr of a packed tensor as t2 codes (in buf if converted). */
static const unsigned char *
t2_row(const struct bnt_map_tensor *mt, uint64_t sr, unsigned char *buf,
    struct bn_err *e)
{
	const struct bnt_tensor *t = &mt->t;
	const unsigned char *src = (const unsigned char *)mt->data +
	    sr * t->row_bytes;
	uint64_t i;
	int v;

	if (t->dtype == BN_DTYPE_T2) {
		/* code 3 (both bits of a pair set) is invalid; rows are
		 * 64-byte multiples here, 8 bytes at a time */
		uint64_t w;

		for (i = 0; i < t->row_len / 4; i += 8) {
			memcpy(&w, src + i, 8);
			if (w & w >> 1 & UINT64_C(0x5555555555555555)) {
				bn_seterr(e, BN_EFORMAT, "invalid code in row %"
				    PRIu64, sr);
				return NULL;
			}
		}
		return src;
	}
	for (i = 0; i < t->row_len; i++) {
		v = t->dtype == BN_DTYPE_T2 ? bn_t2_get(src, i) :
		    t->dtype == BN_DTYPE_T3 ? bn_t3_get(src, i) :
		    bn_b1_get(src, i);
		if (v < -1 || v > 1) {
			bn_seterr(e, BN_EFORMAT, "invalid code in row %"
			    PRIu64, sr);
			return NULL;
		}
		if (t->dtype != BN_DTYPE_T2)
			bn_t2_set(buf, i, v);
	}
	return t->dtype == BN_DTYPE_T2 ? src : buf;
}

/*
 * llama3 rope_scaling as llama.cpp's converter writes it: the tensor
 * rope_freqs.weight, by whose element i llama.cpp divides the angle of pair
 * i.  Each is the unscaled inverse frequency over bn_rope_inv_freq's, so
 * llama.cpp turns by bnrun's angles.
 */
static int
plan_rope_freqs(struct ctx *x, struct bn_err *e)
{
	struct plan p;

	if (x->c.rope_scaling == BN_ROPE_NONE)
		return BN_OK;
	if (x->c.arch != BN_ARCH_LLAMA)
		return bn_seterr(e, BN_EUNSUPPORTED, "rope_scaling '%s': "
		    "llama.cpp's %s graph has no rope_freqs", bn_kv_get(
		    &x->m->config, BN_CFG_ROPE_SCALING), x->arch);
	memset(&p, 0, sizeof p);
	p.name = "rope_freqs.weight";
	p.rope_freqs = 1;
	p.type = GT_F32;
	p.row_out = p.bytes = (uint64_t)x->c.head_dim / 2 * 4;
	return add_plan(x, &p, e);
}

static int
rope_freqs(const struct ctx *x, FILE *out, unsigned char *row,
    struct bn_err *e)
{
	struct bn_config plain = x->c;
	float f;
	int i;

	plain.rope_scaling = BN_ROPE_NONE;
	for (i = 0; i < x->c.head_dim / 2; i++) {
		f = bn_rope_inv_freq(&plain, i) / bn_rope_inv_freq(&x->c, i);
		memcpy(row + 4 * i, &f, 4);	/* little-endian, as bnt */
	}
	return wr(out, row, (size_t)x->c.head_dim / 2 * 4, e);
}

static int
write_tensor(const struct ctx *x, const struct plan *p, FILE *out,
    unsigned char *row, float *f, unsigned char *t2, struct bn_err *e)
{
	const struct bnt_map_tensor *mt = p->mt;
	const struct bnt_tensor *t = &mt->t;
	const unsigned char *src, *codes;
	uint64_t r, sr, b, nb;
	unsigned char *blk;
	float s;
	int rc;

	if (p->scale_only) {
		s = mul_scale(mt, 0);
		memcpy(row, &s, 4);	/* little-endian hosts only, as bnt */
		return wr(out, row, 4, e);
	}
	for (r = 0; r < t->rows; r++) {
		sr = src_row(p, &x->c, r);
		src = (const unsigned char *)mt->data + sr * t->row_bytes;
		switch (p->type) {
		case GT_TQ1_0:
		case GT_TQ2_0:
			if ((codes = t2_row(mt, sr, t2, e)) == NULL)
				return BN_EFORMAT;
			nb = t->row_len / QK_K;
			for (b = 0; b < nb; b++) {
				s = p->fold ? mul_scale(mt,
				    bnt_scale_index(t, sr, b * QK_K)) : 1.0f;
				if (p->type == GT_TQ2_0) {
					blk = row + b * TQ2_BYTES;
					memcpy(blk, codes + b * 64, 64);
					put_f16(blk + 64, s);
				} else {
					blk = row + b * TQ1_BYTES;
					tq1_block(codes, b * QK_K, blk);
					put_f16(blk + 52, s);
				}
			}
			break;
		case GT_Q8_0:
			if (p->direct) {
				for (b = 0; b < t->row_len / QK8_0; b++) {
					memcpy(row + b * Q8_BYTES,
					    (const unsigned char *)mt->scales +
					    2 * bnt_scale_index(t, sr,
					    b * QK8_0), 2);
					memcpy(row + b * Q8_BYTES + 2,
					    src + b * QK8_0, QK8_0);
				}
				break;
			}
			if (bnt_map_row_f32(mt, sr, f) != 0)
				return bn_seterr(e, BN_EFORMAT, "invalid code in "
				    "row %" PRIu64, sr);
			q8_row(f, t->row_len, row);
			break;
		default:
			if (p->copy) {
				memcpy(row, src, p->row_out);
				break;
			}
			if (bnt_map_row_f32(mt, sr, f) != 0)
				return bn_seterr(e, BN_EFORMAT, "invalid code in "
				    "row %" PRIu64, sr);
			if (p->type == GT_F32)
				memcpy(row, f, p->row_out);
			else
				bn_row_from_f32(p->type == GT_F16 ?
				    BN_DTYPE_F16 : BN_DTYPE_BF16, f,
				    t->row_len, row);
		}
		if ((rc = wr(out, row, p->row_out, e)) != BN_OK)
			return rc;
	}
	return BN_OK;
}

void
bn_gguf_opts_init(struct bn_gguf_opts *o)
{
	memset(o, 0, sizeof *o);
	o->ternary = BN_GGUF_TQ2_0;
	o->fallback = BN_GGUF_Q8_0;
	o->floats = BN_GGUF_KEEP;
}

int
bn_export_gguf(const struct bnt_map *m, FILE *out, struct bn_err *e)
{
	struct bn_gguf_opts o;

	bn_gguf_opts_init(&o);
	return bn_export_gguf_opts(m, out, &o, e);
}

int
bn_export_gguf_opts(const struct bnt_map *m, FILE *out,
    const struct bn_gguf_opts *o, struct bn_err *e)
{
	static const unsigned char zeros[GGUF_ALIGN];
	struct ctx x;
	struct kvs k;
	struct bn_buf info, head;
	const struct bnt_tensor *t;
	const struct plan *p;
	unsigned char *row = NULL, *t2 = NULL;
	float *f = NULL;
	uint64_t off = 0, maxrow = 1, maxlen = 1;
	size_t i;
	unsigned j;
	char key_[64];
	int rc;

	memset(&x, 0, sizeof x);
	memset(&k, 0, sizeof k);
	memset(&info, 0, sizeof info);
	memset(&head, 0, sizeof head);
	x.m = m;
	x.o = o;
	if ((o->ternary != BN_GGUF_TQ2_0 && o->ternary != BN_GGUF_TQ1_0) ||
	    (o->fallback != BN_GGUF_Q8_0 && o->fallback != BN_GGUF_F16) ||
	    (o->floats != BN_GGUF_KEEP && o->floats != BN_GGUF_F32 &&
	    o->floats != BN_GGUF_F16 && o->floats != BN_GGUF_BF16 &&
	    o->floats != BN_GGUF_Q8_0))
		return bn_seterr(e, BN_EUSAGE, "bad GGUF type option");
	if ((rc = read_cfg(&x, e)) != BN_OK)
		return rc;
	if ((rc = plan_rope_freqs(&x, e)) != BN_OK)
		goto out;
	for (i = 0; i < m->ntensors; i++)
		if ((rc = plan_tensor(&x, &m->tensors[i], e)) != BN_OK)
			goto out;

#define ARCHKEY(s) (snprintf(key_, sizeof key_, "%s." s, x.arch), key_)
	kv_str(&k, "general.architecture", x.arch);
	kv_str(&k, "general.name", "bntools export");
	kv_u32(&k, "general.alignment", GGUF_ALIGN);
	kv_u32(&k, "general.quantization_version", 2);
	kv_u32(&k, ARCHKEY("vocab_size"), (uint32_t)x.c.vocab);
	kv_u32(&k, ARCHKEY("context_length"), (uint32_t)x.c.ctx);
	kv_u32(&k, ARCHKEY("embedding_length"), (uint32_t)x.c.hidden);
	kv_u32(&k, ARCHKEY("block_count"), (uint32_t)x.c.layers);
	kv_u32(&k, ARCHKEY("feed_forward_length"), (uint32_t)x.c.ffn);
	kv_u32(&k, ARCHKEY("attention.head_count"), (uint32_t)x.c.heads);
	kv_u32(&k, ARCHKEY("attention.head_count_kv"),
	    (uint32_t)x.c.kv_heads);
	kv_u32(&k, ARCHKEY("attention.key_length"), (uint32_t)x.c.head_dim);
	kv_u32(&k, ARCHKEY("attention.value_length"),
	    (uint32_t)x.c.head_dim);
	kv_f32(&k, ARCHKEY("attention.layer_norm_rms_epsilon"),
	    x.c.norm_eps);
	kv_f32(&k, ARCHKEY("rope.freq_base"), x.c.rope_theta);
	kv_u32(&k, ARCHKEY("rope.dimension_count"), (uint32_t)x.c.head_dim);
#undef ARCHKEY
	if (m->has_vocab && m->vocab.n_tokens > 0)
		vocab_own(&k, &m->vocab);
	else
		vocab_dummy(&k, (uint64_t)x.c.vocab);

	for (i = 0; i < x.n; i++) {
		p = &x.pl[i];
		x.pl[i].offset = off;
		off += (p->bytes + GGUF_ALIGN - 1) / GGUF_ALIGN * GGUF_ALIGN;
		put_str(&info, p->name, strlen(p->name));
		if (p->rope_freqs) {
			put_u32(&info, 1);
			put_u64(&info, (uint64_t)x.c.head_dim / 2);
		} else if (p->scale_only) {
			put_u32(&info, 1);
			put_u64(&info, 1);
		} else {
			t = &p->mt->t;
			put_u32(&info, t->ndim ? t->ndim : 1);
			if (t->ndim == 0)
				put_u64(&info, 1);
			for (j = 0; j < t->ndim; j++)
				put_u64(&info, t->dims[t->ndim - 1 - j]);
			if (t->row_len > maxlen)
				maxlen = t->row_len;
		}
		put_u32(&info, p->type);
		put_u64(&info, p->offset);
		if (p->row_out > maxrow)
			maxrow = p->row_out;
	}
	bn_buf_put(&head, "GGUF", 4);
	put_u32(&head, 3);
	put_u64(&head, x.n);
	put_u64(&head, k.n);
	row = malloc(maxrow > 4 ? maxrow : 4);
	f = malloc(maxlen * sizeof *f);
	t2 = malloc(maxlen / 4 + 64);
	if (head.oom || k.b.oom || info.oom || row == NULL || f == NULL ||
	    t2 == NULL) {
		rc = bn_seterr(e, BN_ENOMEM, "out of memory");
		goto out;
	}
	off = head.n + k.b.n + info.n;
	if ((rc = wr(out, head.p, head.n, e)) || (rc = wr(out, k.b.p, k.b.n,
	    e)) || (rc = wr(out, info.p, info.n, e)) || (rc = wr(out, zeros,
	    (GGUF_ALIGN - off % GGUF_ALIGN) % GGUF_ALIGN, e)))
		goto out;
	for (i = 0; i < x.n; i++) {
		p = &x.pl[i];
		memset(t2, 0x55, maxlen / 4 + 64);
		rc = p->rope_freqs ? rope_freqs(&x, out, row, e) :
		    write_tensor(&x, p, out, row, f, t2, e);
		if (rc != BN_OK || (rc = wr(out, zeros, (GGUF_ALIGN -
		    p->bytes % GGUF_ALIGN) % GGUF_ALIGN, e)) != BN_OK) {
			bn_err_prefix(e, "tensor '%s'", p->name);
			goto out;
		}
	}
	if (fflush(out) != 0)
		rc = bn_seterr(e, BN_EIO, "write error");
out:
	for (i = 0; i < x.n; i++)
		if (x.pl[i].scale_only)
			free(x.pl[i].name);
	free(x.pl);
	free(row);
	free(f);
	free(t2);
	bn_buf_free(&k.b);
	bn_buf_free(&info);
	bn_buf_free(&head);
	return rc;
}
