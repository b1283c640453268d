/* hf.c: bnt(5) -> a Hugging Face directory for transformers
 * (export.h): config.json, model.safetensors (or shards and their
 * index), tokenizer.json, tokenizer_config.json, generation_config.json.
 *
 * Ternary projections go out in the packed layout of transformers'
 * BitNet quantizer (integrations/bitnet.py, as the published BitNet
 * b1.58 2B-4T checkpoint is stored): a uint8 weight of [out/4, in],
 * unpacked row r in packed row r mod (out/4) at bits 2 (r div (out/4)),
 * code value+1; and a weight_scale of one element: W = code /
 * weight_scale for a stream whose scales divide (linear_class
 * bitlinear), W = code * weight_scale for one whose scales multiply
 * (autobitlinear, as 2B-4T ships).  Float tensors keep their type
 * unless asked. */
#include <inttypes.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bnt.h"
#include "config.h"
#include "dtype.h"
#include "export.h"
#include "json.h"
#include "kv.h"
#include "mem.h"
#include "pb.h"
#include "roles.h"
#include "status.h"
#include "unicode.h"
#include "vocab.h"

/* A JSON number as RFC 8259 spells it. */
static int
json_number(const char *s)
{
	if (*s == '-')
		s++;
	if (*s == '0')
		s++;
	else if (*s >= '1' && *s <= '9')
		while (*s >= '0' && *s <= '9')
			s++;
	else
		return 0;
	if (*s == '.') {
		if (*++s < '0' || *s > '9')
			return 0;
		while (*s >= '0' && *s <= '9')
			s++;
	}
	if (*s == 'e' || *s == 'E') {
		s++;
		if (*s == '+' || *s == '-')
			s++;
		if (*s < '0' || *s > '9')
			return 0;
		while (*s >= '0' && *s <= '9')
			s++;
	}
	return *s == '\0';
}

/* "key": the configuration's own text for a number if it has a valid
 * one (so that a round trip gives the same text), else def. */
static void
cfg_num(struct bn_buf *b, const struct bn_kv *kv, const char *jkey,
    const char *kkey, const char *def)
{
	const char *v = bn_kv_get(kv, kkey);

	bn_buf_printf(b, ",\n  \"%s\": %s", jkey, v != NULL && json_number(v) ?
	    v : def);
}

/* The same for an integer def. */
static void
cfg_int(struct bn_buf *b, const struct bn_kv *kv, const char *jkey,
    const char *kkey, int def)
{
	char d[16];

	snprintf(d, sizeof d, "%d", def);
	cfg_num(b, kv, jkey, kkey, d);
}

/* malloc'd transformers name, by roles.h's table (unknown names pass
 * unchanged). */
static char *
hf_name(const char *name)
{
	size_t n = strlen(name) + 64;	/* a renaming adds 25 at most */
	char *out = malloc(n);

	if (out != NULL && bn_name_to_hf(name, out, n) != 0) {
		free(out);
		out = NULL;
	}
	return out;
}

enum { K_COPY, K_CONVERT, K_PACK, K_SCALE };

struct out_tensor {
	const struct bnt_map_tensor *mt;
	char *name;		/* transformers name, malloc'd */
	int kind;		/* K_* */
	int dtype;		/* output type (bn_dtype) */
	unsigned ndim;
	uint64_t dims[BNT_MAX_DIMS];
	uint64_t bytes;
	uint64_t perm_heads;	/* interleaved rope -> halves: heads */
	unsigned shard;		/* 0-based */
	uint64_t off;		/* in its shard's data */
};

struct ctx {
	const struct bnt_map *m;
	const struct bn_hf_opts *o;
	const struct bn_hf_sink *s;
	struct bn_config c;
	struct out_tensor *t;
	size_t n, cap;
	int packed, floaty;	/* projections: packed / float seen */
	int div, mul;		/* packed: divisor / multiplier scales seen */
	int fdtype;		/* the model's float type (config's dtype) */
};

static void notice(const struct ctx *x, const char *fmt, ...)
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

static const char *
st_dtype(int dtype)
{
	switch (dtype) {
	case BN_DTYPE_F32: return "F32";
	case BN_DTYPE_F16: return "F16";
	case BN_DTYPE_BF16: return "BF16";
	case BN_DTYPE_F64: return "F64";
	case BN_DTYPE_I8: return "I8";
	case BN_DTYPE_U8: return "U8";
	case BN_DTYPE_I32: return "I32";
	case BN_DTYPE_I64: return "I64";
	}
	return NULL;
}

static const char *
torch_dtype(int dtype)
{
	return dtype == BN_DTYPE_F16 ? "float16" : dtype == BN_DTYPE_BF16 ?
	    "bfloat16" : "float32";
}

static int
elem_size(int dtype)
{
	switch (dtype) {
	case BN_DTYPE_I8: case BN_DTYPE_U8: return 1;
	case BN_DTYPE_F16: case BN_DTYPE_BF16: return 2;
	case BN_DTYPE_F32: case BN_DTYPE_I32: return 4;
	}
	return 8;
}

static int
add(struct ctx *x, const struct out_tensor *t, struct bn_err *e)
{
	if (bn_grow(&x->t, &x->cap, x->n + 1, sizeof *x->t) != 0)
		return bn_seterr(e, BN_ENOMEM, "out of memory");
	x->t[x->n++] = *t;
	return BN_OK;
}

static int
plan_tensor(struct ctx *x, const struct bnt_map_tensor *mt, struct bn_err *e)
{
	const struct bnt_tensor *t = &mt->t;
	const struct bn_dtype_traits *tr = bn_dtype_traits(t->dtype);
	struct out_tensor o, s;
	uint64_t n;
	unsigned i;
	int st;

	memset(&o, 0, sizeof o);
	o.mt = mt;
	o.ndim = t->ndim;
	memcpy(o.dims, t->dims, sizeof o.dims);
	if (x->c.arch == BN_ARCH_LLAMA && x->c.rope_interleaved &&
	    t->ndim == 2)
		o.perm_heads = bn_rope_perm_heads(&x->c, t->name);
	if (o.perm_heads && t->rows != o.perm_heads * (uint64_t)x->c.head_dim)
		return bn_seterr(e, BN_EFORMAT, "tensor '%s': %" PRIu64 " rows "
		    "for %" PRIu64 " heads", t->name, t->rows, o.perm_heads);
	if (tr->is_packed) {
		if (t->dtype == BN_DTYPE_B1)
			return bn_seterr(e, BN_EUNSUPPORTED, "tensor '%s': "
			    "binary weights have no transformers layout",
			    t->name);
		if (t->scale_kind != BNT_SCALE_TENSOR)
			return bn_seterr(e, BN_EUNSUPPORTED, "tensor '%s': "
			    "transformers' BitNet layout holds one scale per "
			    "tensor (requantize with bnquant --scale tensor)",
			    t->name);
		if (t->ndim != 2 || t->dims[0] % 4 != 0)
			return bn_seterr(e, BN_EUNSUPPORTED, "tensor '%s': "
			    "packing 4 rows per byte needs 2-D and rows a "
			    "multiple of 4", t->name);
		if (!bn_is_projection(t->name))
			return bn_seterr(e, BN_EUNSUPPORTED, "tensor '%s': "
			    "transformers' BitNet packs only the projections",
			    t->name);
		if (t->scale_flags & BNT_SCALE_DIV)
			x->div = 1;
		else
			x->mul = 1;
		o.kind = K_PACK;
		o.dtype = BN_DTYPE_U8;
		o.dims[0] = t->dims[0] / 4;
		x->packed = 1;
	} else if (tr->is_float || t->scale_kind != BNT_SCALE_NONE) {
		o.dtype = x->o->floats == BN_HF_KEEP ? (tr->is_float ?
		    t->dtype : BN_DTYPE_F32) : x->o->floats;
		if (o.dtype == BN_DTYPE_F64)
			o.dtype = BN_DTYPE_F32;
		o.kind = o.dtype == t->dtype && !o.perm_heads ? K_COPY :
		    K_CONVERT;
		if (bn_is_projection(t->name))
			x->floaty = 1;
		if (strcmp(t->name, bn_roles[BN_R_TOKEN_EMBD].name) == 0)
			x->fdtype = o.dtype;
	} else {
		if (st_dtype(t->dtype) == NULL)
			return bn_seterr(e, BN_EUNSUPPORTED, "tensor '%s': "
			    "type %s has no safetensors counterpart", t->name,
			    tr->name);
		o.dtype = t->dtype;
		o.kind = o.perm_heads ? K_CONVERT : K_COPY;
		if (o.perm_heads)
			return bn_seterr(e, BN_EUNSUPPORTED, "tensor '%s': "
			    "cannot permute %s rows", t->name, tr->name);
	}
	for (n = elem_size(o.dtype), i = 0; i < o.ndim; i++)
		n *= o.dims[i];
	o.bytes = n;
	if ((o.name = hf_name(t->name)) == NULL)
		return bn_seterr(e, BN_ENOMEM, "out of memory");
	if ((st = add(x, &o, e)) != BN_OK) {
		free(o.name);
		return st;
	}
	if (o.kind != K_PACK)
		return BN_OK;
	memset(&s, 0, sizeof s);
	s.mt = mt;
	s.kind = K_SCALE;
	s.dtype = t->scale_dtype;
	s.ndim = 1;
	s.dims[0] = 1;
	s.bytes = (uint64_t)elem_size(s.dtype);
	n = strlen(o.name) + sizeof "_scale";
	if ((s.name = malloc(n)) == NULL)
		return bn_seterr(e, BN_ENOMEM, "out of memory");
	snprintf(s.name, n, "%s_scale", o.name);
	if ((st = add(x, &s, e)) != BN_OK)
		free(s.name);
	return st;
}

/* Two tensors renamed to one transformers name (a bnt name that is
 * already another's transformers name) would write one safetensors key
 * twice. */
static int
check_names(const struct ctx *x, struct bn_err *e)
{
	const struct out_tensor *a, *b;
	size_t i, j;

	for (i = 0; i < x->n; i++)
		for (j = i + 1; j < x->n; j++) {
			a = &x->t[i];
			b = &x->t[j];
			if (strcmp(a->name, b->name) != 0)
				continue;
			return bn_seterr(e, BN_EFORMAT, "%stensor '%s' and "
			    "%stensor '%s' would both be '%s' in "
			    "safetensors", a->kind == K_SCALE ?
			    "the scale of " : "", a->mt->t.name,
			    b->kind == K_SCALE ? "the scale of " : "",
			    b->mt->t.name, a->name);
		}
	return BN_OK;
}

/* Source row of output row r: transformers rotates halves (i, i+d/2);
 * rope_style=interleaved rows are in adjacent pairs (2i, 2i+1). */
static uint64_t
src_row(const struct ctx *x, const struct out_tensor *o, uint64_t r)
{
	uint64_t d = (uint64_t)x->c.head_dim, h, j;

	if (o->perm_heads == 0)
		return r;
	h = r / d;
	j = r % d;
	return h * d + (j < d / 2 ? 2 * j : 2 * (j - d / 2) + 1);
}

/* config.json */
static int
write_json(const struct ctx *x, const char *name, struct bn_buf *b,
    struct bn_err *e)
{
	int st;

	if (b->oom)
		return bn_seterr(e, BN_ENOMEM, "out of memory");
	if ((st = x->s->begin(x->s->ctx, name, b->n, e)) != BN_OK ||
	    (st = x->s->write(x->s->ctx, b->p, b->n, e)) != BN_OK ||
	    (st = x->s->end(x->s->ctx, e)) != BN_OK)
		return st;
	return BN_OK;
}

/* One float of rope_scaling: the record's text, else v (with a point,
 * as transformers checks for floats). */
static void
rope_num(struct bn_buf *b, const struct bn_kv *kv, const char *jkey,
    const char *kkey, float v)
{
	const char *s = bn_kv_get(kv, kkey);
	char d[32];

	if (s == NULL || !json_number(s)) {
		snprintf(d, sizeof d, "%.9g", (double)v);
		if (strpbrk(d, ".e") == NULL)
			strcat(d, ".0");
		s = d;
	}
	bn_buf_printf(b, ", \"%s\": %s", jkey, s);
}

/* The members of a llama3 rope_scaling object. */
static void
llama3_json(struct bn_buf *b, const struct bn_kv *kv,
    const struct bn_config *c)
{
	bn_buf_puts(b, "\"rope_type\": \"llama3\"");
	rope_num(b, kv, "factor", BN_CFG_ROPE_FACTOR, c->rope_factor);
	rope_num(b, kv, "low_freq_factor", BN_CFG_ROPE_LOW_FREQ,
	    c->rope_low_freq);
	rope_num(b, kv, "high_freq_factor", BN_CFG_ROPE_HIGH_FREQ,
	    c->rope_high_freq);
	bn_buf_printf(b, ", \"original_max_position_embeddings\": %d",
	    c->rope_orig_ctx);
}

static int
config_json(const struct ctx *x, struct bn_err *e)
{
	const struct bn_kv *kv = &x->m->config;
	const struct bn_config *c = &x->c;
	int bitnet = c->arch == BN_ARCH_BITNET;
	const char *theta = bn_kv_get(kv, BN_CFG_ROPE_THETA);
	struct bn_buf b = { 0 };
	char d[64];
	int st;

	if (theta == NULL || !json_number(theta))
		theta = "10000.0";
	bn_buf_printf(&b, "{\n  \"architectures\": [\"%s\"],\n  "
	    "\"model_type\": \"%s\"",
	    bitnet ? "BitNetForCausalLM" : c->arch == BN_ARCH_QWEN2 ?
	    "Qwen2ForCausalLM" : c->arch == BN_ARCH_QWEN3 ?
	    "Qwen3ForCausalLM" : "LlamaForCausalLM", bn_arch_name(c->arch));
	cfg_int(&b, kv, "vocab_size", BN_CFG_VOCAB, c->vocab);
	cfg_int(&b, kv, "hidden_size", BN_CFG_HIDDEN, c->hidden);
	cfg_int(&b, kv, "intermediate_size", BN_CFG_FFN, c->ffn);
	cfg_int(&b, kv, "num_hidden_layers", BN_CFG_LAYERS, c->layers);
	cfg_int(&b, kv, "num_attention_heads", BN_CFG_HEADS, c->heads);
	cfg_int(&b, kv, "num_key_value_heads", BN_CFG_KV_HEADS, c->kv_heads);
	cfg_int(&b, kv, "head_dim", BN_CFG_HEAD_DIM, c->head_dim);
	cfg_int(&b, kv, "max_position_embeddings", BN_CFG_CTX, c->ctx);
	snprintf(d, sizeof d, "%.9g", (double)c->norm_eps);
	cfg_num(&b, kv, "rms_norm_eps", BN_CFG_NORM_EPS, d);
	bn_buf_printf(&b, ",\n  \"rope_theta\": %s", theta);
	if (c->rope_scaling == BN_ROPE_LLAMA3) {
		/* transformers 4 reads rope_scaling, 5 rope_parameters */
		bn_buf_puts(&b, ",\n  \"rope_scaling\": {");
		llama3_json(&b, kv, c);
		bn_buf_printf(&b, "},\n  \"rope_parameters\": {\"rope_theta\": "
		    "%s, ", theta);
		llama3_json(&b, kv, c);
		bn_buf_puts(&b, "}");
	} else
		bn_buf_printf(&b, ",\n  \"rope_parameters\": {\"rope_theta\": "
		    "%s, \"rope_type\": \"default\"}", theta);
	bn_buf_printf(&b, ",\n  \"hidden_act\": \"%s\"",
	    c->act == BN_ACT_RELU2 ? "relu2" : "silu");
	bn_buf_printf(&b, ",\n  \"tie_word_embeddings\": %s",
	    c->tied ? "true" : "false");
	if (c->bos >= 0)
		cfg_num(&b, kv, "bos_token_id", BN_CFG_BOS, "null");
	if (c->eos >= 0)
		cfg_num(&b, kv, "eos_token_id", BN_CFG_EOS, "null");
	cfg_num(&b, kv, "pad_token_id", BN_CFG_PAD, "null");
	/* qwen2's q, k and v always have biases: no attention_bias */
	if (c->arch != BN_ARCH_QWEN2)
		bn_buf_puts(&b, ",\n  \"attention_bias\": false");
	bn_buf_puts(&b, ",\n  \"attention_dropout\": 0.0,\n  "
	    "\"mlp_bias\": false,\n  \"initializer_range\": 0.02,\n  "
	    "\"use_cache\": true");
	bn_buf_printf(&b, ",\n  \"dtype\": \"%s\",\n  \"torch_dtype\": \"%s\"",
	    torch_dtype(x->fdtype), torch_dtype(x->fdtype));
	if (c->bitlinear || bitnet)
		bn_buf_printf(&b, ",\n  \"quantization_config\": "
		    "{\"quant_method\": \"bitnet\", \"linear_class\": \"%s\", "
		    "\"quantization_mode\": \"%s\"}", x->packed && x->div ?
		    "bitlinear" : "autobitlinear", x->packed ? "offline" :
		    "online");
	bn_buf_puts(&b, "\n}\n");
	st = write_json(x, "config.json", &b, e);
	bn_buf_free(&b);
	return st;
}

static int
generation_json(const struct ctx *x, struct bn_err *e)
{
	struct bn_buf b = { 0 };
	int st;

	bn_buf_puts(&b, "{\n  \"_from_model_config\": true");
	if (x->c.bos >= 0)
		bn_buf_printf(&b, ",\n  \"bos_token_id\": %d", x->c.bos);
	if (x->c.eos >= 0)
		bn_buf_printf(&b, ",\n  \"eos_token_id\": %d", x->c.eos);
	bn_buf_puts(&b, "\n}\n");
	st = write_json(x, "generation_config.json", &b, e);
	bn_buf_free(&b);
	return st;
}

/* tokenizer.json and tokenizer_config.json */

static const char llama3_regex[] =
    "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+"
    "|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+"
    "|\\s+(?!\\S)|\\s+";

static int
is_llama3(const char *pre)
{
	static const char *const names[] = { "llama3", "llama-v3",
	    "llama-bpe", "falcon3", "falcon-h1" };
	size_t i;

	for (i = 0; pre != NULL && i < sizeof names / sizeof names[0]; i++)
		if (strcmp(pre, names[i]) == 0)
			return 1;
	return 0;
}

static int
tok_id(const struct bn_vocab *v, const char *key, int64_t *id)
{
	uint64_t u;

	if (bn_kv_get_u64(&v->kv, key, &u) != 0 || u >= v->n_tokens)
		return -1;
	*id = (int64_t)u;
	return 0;
}

static void
template_item(struct bn_buf *b, const struct bn_vocab *v, int64_t id)
{
	bn_buf_put(b, "{\"SpecialToken\": {\"id\": ", 24);
	bn_json_put_str(b, v->tokens[id], v->token_len[id]);
	bn_buf_put(b, ", \"type_id\": 0}}", 16);
}

/* Sequence seq of a template, between bos and eos where they are >= 0. */
static void
template_seq(struct bn_buf *b, const struct bn_vocab *v, int64_t bos,
    int64_t eos, char seq, int type_id)
{
	if (bos >= 0) {
		template_item(b, v, bos);
		bn_buf_put(b, ", ", 2);
	}
	bn_buf_printf(b, "{\"Sequence\": {\"id\": \"%c\", \"type_id\": %d}}",
	    seq, type_id);
	if (eos >= 0) {
		bn_buf_put(b, ", ", 2);
		template_item(b, v, eos);
	}
}

/* The chat template, if the record has one, as a member of
 * tokenizer_config.json. */
static void
chat_template(struct bn_buf *tc, const struct bn_vocab *v)
{
	size_t len;
	char *s = bn_vocab_chat_template(v, &len);

	if (s == NULL) {
		/* malformed or out of memory: fail the write, drop nothing */
		if (bn_kv_get(&v->kv, BN_VOC_CHAT) != NULL)
			tc->oom = 1;
		return;
	}
	bn_buf_puts(tc, ",\n  \"chat_template\": ");
	bn_json_put_str(tc, s, len);
	free(s);
}

/* A SentencePiece vocabulary: tokenizer.model, SentencePiece's
 * ModelProto, as import/hf.c reads it (pieces 1 {piece 1, score 2,
 * type 3}; trainer_spec 2 {model_type 3 = BPE, unk_id 40, bos_id 41,
 * eos_id 42, pad_id 43}; normalizer_spec 3 {add_dummy_prefix 3}), and
 * tokenizer_config.json for LlamaTokenizer. */
static int
tokenizer_model(const struct ctx *x, struct bn_err *e)
{
	static const char *const ids[] = { BN_VOC_UNK, BN_VOC_BOS,
	    BN_VOC_EOS, BN_VOC_PAD };
	const struct bn_vocab *v = &x->m->vocab;
	struct pb b = { 0 };
	struct bn_buf tc = { 0 };
	uint64_t id, prefix = 1;
	size_t at, k;
	uint32_t i;
	int st;

	if (v->scores == NULL || v->types == NULL)
		return bn_seterr(e, BN_EUNSUPPORTED, "SentencePiece "
		    "vocabulary without scores or token types: no "
		    "tokenizer.model");
	for (i = 0; i < v->n_tokens; i++) {
		at = pb_begin(&b, 1);
		pb_bytes(&b, 1, v->tokens[i], v->token_len[i]);
		pb_float(&b, 2, v->scores[i]);
		pb_int(&b, 3, v->types[i]);
		pb_end(&b, at);
	}
	at = pb_begin(&b, 2);
	pb_int(&b, 3, 2);
	for (k = 0; k < sizeof ids / sizeof ids[0]; k++)
		pb_int(&b, 40 + (unsigned)k, bn_kv_get_u64(&v->kv, ids[k],
		    &id) == 0 ? (int64_t)id : -1);
	pb_end(&b, at);
	bn_kv_get_u64(&v->kv, "add_space_prefix", &prefix);
	at = pb_begin(&b, 3);
	pb_int(&b, 3, prefix != 0);
	pb_end(&b, at);
	if (b.oom) {
		pb_free(&b);
		return bn_seterr(e, BN_ENOMEM, "out of memory");
	}
	if ((st = x->s->begin(x->s->ctx, "tokenizer.model", b.n, e)) ==
	    BN_OK && (st = x->s->write(x->s->ctx, b.p, b.n, e)) == BN_OK)
		st = x->s->end(x->s->ctx, e);
	pb_free(&b);
	if (st != BN_OK)
		return st;
	bn_buf_printf(&tc, "{\n  \"tokenizer_class\": \"LlamaTokenizer\",\n  "
	    "\"model_max_length\": %d", x->c.ctx);
	chat_template(&tc, v);
	bn_buf_puts(&tc, "\n}\n");
	st = write_json(x, "tokenizer_config.json", &tc, e);
	bn_buf_free(&tc);
	return st;
}

static int
tokenizer_json(const struct ctx *x, struct bn_err *e)
{
	const struct bn_vocab *v = &x->m->vocab;
	const char *model = bn_kv_get(&v->kv, BN_VOC_MODEL);
	const char *pre = bn_kv_get(&v->kv, BN_VOC_PRE);
	const char *sp;
	struct bn_buf b = { 0 }, tc = { 0 };
	int64_t bos = -1, eos = -1, unk = -1, tb, te;
	uint64_t flag;
	uint32_t i, first;
	int add_bos = 0, add_eos = 0, st;

	if (model != NULL && strcmp(model, "llama") == 0)
		return tokenizer_model(x, e);
	if (model != NULL && strcmp(model, "gpt2") != 0)
		return bn_seterr(e, BN_EUNSUPPORTED, "tokenizer model '%s' "
		    "has no transformers form here", model);
	for (i = 0; i < v->n_tokens; i++)
		if (!bn_utf8_valid((const unsigned char *)v->tokens[i],
		    v->token_len[i]))
			return bn_seterr(e, BN_EUNSUPPORTED, "token %" PRIu32
			    ": not UTF-8, cannot go in tokenizer.json", i);
	for (i = 0; i < v->n_merges; i++)
		if (!bn_utf8_valid((const unsigned char *)v->merges[i],
		    v->merge_len[i]) || (sp = memchr(v->merges[i], ' ',
		    v->merge_len[i])) == NULL)
			return bn_seterr(e, BN_EUNSUPPORTED, "merge %" PRIu32
			    ": not two UTF-8 tokens", i);
	tok_id(v, BN_VOC_BOS, &bos);
	tok_id(v, BN_VOC_EOS, &eos);
	tok_id(v, BN_VOC_UNK, &unk);
	if (bn_kv_get_u64(&v->kv, BN_VOC_ADD_BOS, &flag) == 0)
		add_bos = flag != 0 && bos >= 0;
	if (bn_kv_get_u64(&v->kv, BN_VOC_ADD_EOS, &flag) == 0)
		add_eos = flag != 0 && eos >= 0;

	bn_buf_puts(&b, "{\n  \"version\": \"1.0\",\n  \"truncation\": null,\n"
	    "  \"padding\": null,\n  \"added_tokens\": [");
	for (first = 1, i = 0; i < v->n_tokens; i++) {
		if (v->types == NULL || (v->types[i] != BN_TOK_CONTROL &&
		    v->types[i] != BN_TOK_USER))
			continue;
		bn_buf_printf(&b, "%s\n    {\"id\": %" PRIu32 ", \"content\": ",
		    first ? "" : ",", i);
		bn_json_put_str(&b, v->tokens[i], v->token_len[i]);
		bn_buf_printf(&b, ", \"single_word\": false, "
		    "\"lstrip\": false, \"rstrip\": false, "
		    "\"normalized\": %s, \"special\": %s}",
		    v->types[i] == BN_TOK_CONTROL ? "false" : "true",
		    v->types[i] == BN_TOK_CONTROL ? "true" : "false");
		first = 0;
	}
	bn_buf_printf(&b, "%s],\n  \"normalizer\": null,\n",
	    first ? "" : "\n  ");
	if (is_llama3(pre))
		bn_buf_puts(&b, "  \"pre_tokenizer\": {\"type\": \"Sequence\", "
		    "\"pretokenizers\": [{\"type\": \"Split\", \"pattern\": "
		    "{\"Regex\": ");
	if (is_llama3(pre)) {
		bn_json_put_str(&b, llama3_regex, strlen(llama3_regex));
		bn_buf_puts(&b, "}, \"behavior\": \"Isolated\", \"invert\": "
		    "false}, {\"type\": \"ByteLevel\", \"add_prefix_space\": "
		    "false, \"trim_offsets\": true, \"use_regex\": false}]},"
		    "\n");
	} else
		bn_buf_puts(&b, "  \"pre_tokenizer\": {\"type\": "
		    "\"ByteLevel\", \"add_prefix_space\": false, "
		    "\"trim_offsets\": true, \"use_regex\": true},\n");
	if (add_bos || add_eos) {
		bn_buf_puts(&b, "  \"post_processor\": {\"type\": "
		    "\"Sequence\", \"processors\": [{\"type\": \"ByteLevel\", "
		    "\"add_prefix_space\": true, \"trim_offsets\": false, "
		    "\"use_regex\": true}, {\"type\": \"TemplateProcessing\", "
		    "\"single\": [");
		tb = add_bos ? bos : -1;
		te = add_eos ? eos : -1;
		template_seq(&b, v, tb, te, 'A', 0);
		bn_buf_puts(&b, "], \"pair\": [");
		template_seq(&b, v, tb, te, 'A', 0);
		bn_buf_put(&b, ", ", 2);
		template_seq(&b, v, tb, te, 'B', 1);
		bn_buf_puts(&b, "], \"special_tokens\": {");
		for (i = 0; i < 2; i++) {
			int64_t id = i == 0 ? bos : eos;

			if (!(i == 0 ? add_bos : add_eos) ||
			    (i == 1 && add_bos && eos == bos))
				continue;
			if (i == 1 && add_bos)
				bn_buf_put(&b, ", ", 2);
			bn_json_put_str(&b, v->tokens[id], v->token_len[id]);
			bn_buf_puts(&b, ": {\"id\": ");
			bn_json_put_str(&b, v->tokens[id], v->token_len[id]);
			bn_buf_printf(&b, ", \"ids\": [%" PRId64 "], "
			    "\"tokens\": [", id);
			bn_json_put_str(&b, v->tokens[id], v->token_len[id]);
			bn_buf_put(&b, "]}", 2);
		}
		bn_buf_puts(&b, "}}]},\n");
	} else
		bn_buf_puts(&b, "  \"post_processor\": {\"type\": "
		    "\"ByteLevel\", \"add_prefix_space\": true, "
		    "\"trim_offsets\": false, \"use_regex\": true},\n");
	bn_buf_puts(&b, "  \"decoder\": {\"type\": \"ByteLevel\", "
	    "\"add_prefix_space\": true, \"trim_offsets\": true, "
	    "\"use_regex\": true},\n  \"model\": {\n    \"type\": \"BPE\",\n"
	    "    \"dropout\": null,\n    \"unk_token\": ");
	if (unk >= 0)
		bn_json_put_str(&b, v->tokens[unk], v->token_len[unk]);
	else
		bn_buf_put(&b, "null", 4);
	bn_buf_printf(&b, ",\n    \"continuing_subword_prefix\": null,\n"
	    "    \"end_of_word_suffix\": null,\n    \"fuse_unk\": false,\n"
	    "    \"byte_fallback\": false,\n    \"ignore_merges\": %s,\n"
	    "    \"vocab\": {", is_llama3(pre) ? "true" : "false");
	for (i = 0; i < v->n_tokens; i++) {
		bn_buf_put(&b, i ? ",\n      " : "\n      ", i ? 8 : 7);
		bn_json_put_str(&b, v->tokens[i], v->token_len[i]);
		bn_buf_printf(&b, ": %" PRIu32, i);
	}
	bn_buf_puts(&b, "\n    },\n    \"merges\": [");
	for (i = 0; i < v->n_merges; i++) {
		sp = memchr(v->merges[i], ' ', v->merge_len[i]);
		bn_buf_put(&b, i ? ",\n      [" : "\n      [", i ? 9 : 8);
		bn_json_put_str(&b, v->merges[i], (size_t)(sp - v->merges[i]));
		bn_buf_put(&b, ", ", 2);
		bn_json_put_str(&b, sp + 1, v->merge_len[i] - (size_t)(sp + 1 -
		    v->merges[i]));
		bn_buf_put(&b, "]", 1);
	}
	bn_buf_puts(&b, "\n    ]\n  }\n}\n");
	if ((st = write_json(x, "tokenizer.json", &b, e)) != BN_OK)
		goto out;

	bn_buf_printf(&tc, "{\n  \"tokenizer_class\": "
	    "\"PreTrainedTokenizerFast\",\n  "
	    "\"clean_up_tokenization_spaces\": false,\n  "
	    "\"model_max_length\": %d,\n  \"add_bos_token\": %s,\n  "
	    "\"add_eos_token\": %s", x->c.ctx, add_bos ? "true" : "false",
	    add_eos ? "true" : "false");
	if (bos >= 0) {
		bn_buf_puts(&tc, ",\n  \"bos_token\": ");
		bn_json_put_str(&tc, v->tokens[bos], v->token_len[bos]);
	}
	if (eos >= 0) {
		bn_buf_puts(&tc, ",\n  \"eos_token\": ");
		bn_json_put_str(&tc, v->tokens[eos], v->token_len[eos]);
	}
	if (unk >= 0) {
		bn_buf_puts(&tc, ",\n  \"unk_token\": ");
		bn_json_put_str(&tc, v->tokens[unk], v->token_len[unk]);
	}
	chat_template(&tc, v);
	bn_buf_puts(&tc, "\n}\n");
	st = write_json(x, "tokenizer_config.json", &tc, e);
out:
	bn_buf_free(&b);
	bn_buf_free(&tc);
	return st;
}

/* model.safetensors: the header of shard k. */
static int
st_header(const struct ctx *x, unsigned k, struct bn_buf *h, struct bn_err *e)
{
	const struct out_tensor *o;
	size_t i, pad;
	unsigned j;
	int first = 1;

	bn_buf_puts(h, "{\"__metadata__\":{\"format\":\"pt\"}");
	for (i = 0; i < x->n; i++) {
		o = &x->t[i];
		if (o->shard != k)
			continue;
		bn_buf_put(h, ",", 1);
		bn_json_put_str(h, o->name, strlen(o->name));
		bn_buf_printf(h, ":{\"dtype\":\"%s\",\"shape\":[",
		    st_dtype(o->dtype));
		for (j = 0; j < o->ndim; j++)
			bn_buf_printf(h, "%s%" PRIu64, j ? "," : "",
			    o->dims[j]);
		bn_buf_printf(h, "],\"data_offsets\":[%" PRIu64 ",%" PRIu64
		    "]}", o->off, o->off + o->bytes);
		first = 0;
	}
	(void)first;
	bn_buf_put(h, "}", 1);
	/* pad with spaces so the data starts 8-byte aligned */
	pad = (8 - h->n % 8) % 8;
	while (pad-- > 0)
		bn_buf_put(h, " ", 1);
	if (h->oom)
		return bn_seterr(e, BN_ENOMEM, "out of memory");
	return BN_OK;
}

static int
sink_write(const struct ctx *x, const void *p, size_t n, struct bn_err *e)
{
	return x->s->write(x->s->ctx, p, n, e);
}

/* Or the t2 codes of one row into bits 2g of out[0..n); BN_EFORMAT on
 * code 3.  t2 byte j of a 128-element block holds elements j, j+32,
 * j+64, j+96 in bits 0-1, 2-3, 4-5, 6-7.  Whole blocks go 8 bytes at a
 * time: shifting a word of 8 source bytes right by 2k and masking with
 * 0x03 per byte gives elements j+32k..j+32k+7, one per byte. */
static int
pack_t2(const unsigned char *src, uint64_t n, unsigned g, unsigned char *out)
{
	const uint64_t lo = 0x0303030303030303u, odd = 0x5555555555555555u;
	uint64_t i, j, w, o, base, el;
	unsigned k, b;

	for (base = 0; base + 128 <= n; base += 128, src += 32)
		for (j = 0; j < 32; j += 8) {
			memcpy(&w, src + j, 8);
			if (w & w >> 1 & odd)
				return BN_EFORMAT;
			for (k = 0; k < 4; k++) {
				memcpy(&o, out + base + 32 * k + j, 8);
				o |= (w >> 2 * k & lo) << 2 * g;
				memcpy(out + base + 32 * k + j, &o, 8);
			}
		}
	for (i = 0; base < n && i < 32; i++) {	/* a partial last block */
		b = src[i];
		if (b & b >> 1 & 0x55)
			return BN_EFORMAT;
		for (k = 0; k < 4; k++) {
			el = base + i + 32 * k;
			if (el < n)
				out[el] |= (unsigned char)((b >> (2 * k) &
				    3) << (2 * g));
		}
	}
	return BN_OK;
}

static int
write_data(const struct ctx *x, const struct out_tensor *o,
    unsigned char *buf, float *f, struct bn_err *e)
{
	const struct bnt_map_tensor *mt = o->mt;
	const struct bnt_tensor *t = &mt->t;
	const unsigned char *src;
	uint64_t r, sr, np, p, c, rows = t->rows;
	unsigned g;
	int v, st, es = elem_size(o->dtype);

	switch (o->kind) {
	case K_SCALE:
		return sink_write(x, mt->scales, (size_t)es, e);
	case K_PACK:
		np = t->dims[0] / 4;
		for (p = 0; p < np; p++) {
			memset(buf, 0, t->row_len);
			for (g = 0; g < 4; g++) {
				sr = src_row(x, o, g * np + p);
				src = (const unsigned char *)mt->data +
				    sr * t->row_bytes;
				if (t->dtype == BN_DTYPE_T2) {
					if ((st = pack_t2(src, t->row_len, g,
					    buf)) != BN_OK)
						return bn_seterr(e, BN_EFORMAT,
						    "tensor '%s': invalid code "
						    "in row %" PRIu64, t->name,
						    sr);
					continue;
				}
				for (c = 0; c < t->row_len; c++) {
					v = t->dtype == BN_DTYPE_T2 ?
					    bn_t2_get(src, c) :
					    bn_t3_get(src, c);
					if (v < -1 || v > 1)
						return bn_seterr(e, BN_EFORMAT,
						    "tensor '%s': invalid code "
						    "in row %" PRIu64, t->name,
						    sr);
					buf[c] |= (unsigned char)((v + 1) <<
					    (2 * g));
				}
			}
			if ((st = sink_write(x, buf, t->row_len, e)) != BN_OK)
				return st;
		}
		return BN_OK;
	}
	for (r = 0; r < rows; r++) {
		sr = src_row(x, o, r);
		src = (const unsigned char *)mt->data + sr * t->row_bytes;
		if (o->kind == K_COPY) {
			if ((st = sink_write(x, src, t->row_bytes, e)) != BN_OK)
				return st;
			continue;
		}
		if (bnt_map_row_f32(mt, sr, f) != 0)
			return bn_seterr(e, BN_EFORMAT, "tensor '%s': invalid "
			    "code in row %" PRIu64, t->name, sr);
		if (bn_dtype_traits(o->dtype)->is_float)
			bn_row_from_f32(o->dtype, f, t->row_len, buf);
		else
			memcpy(buf, src, t->row_bytes);
		if ((st = sink_write(x, buf, t->row_len * (uint64_t)es,
		    e)) != BN_OK)
			return st;
	}
	return BN_OK;
}

static int
weights(struct ctx *x, struct bn_err *e)
{
	struct bn_buf h = { 0 }, idx = { 0 };
	unsigned char len8[8], *buf = NULL;
	float *f = NULL;
	uint64_t used = 0, total = 0, maxlen = 1;
	unsigned nshards = 1, k, j;
	char name[64];
	size_t i;
	int st = BN_OK;

	/* assign shards: a new one when the next tensor would pass the
	 * size (a tensor larger than it gets a shard of its own) */
	for (i = 0; i < x->n; i++) {
		struct out_tensor *o = &x->t[i];

		if (x->o->shard_size && used > 0 &&
		    used + o->bytes > x->o->shard_size &&
		    o->kind != K_SCALE) {
			nshards++;
			used = 0;
		}
		o->shard = nshards - 1;
		o->off = used;
		used += o->bytes;
		total += o->bytes;
		if (o->mt->t.row_len > maxlen)
			maxlen = o->mt->t.row_len;
	}
	if ((buf = malloc(maxlen * 8)) == NULL ||
	    (f = malloc(maxlen * sizeof *f)) == NULL) {
		st = bn_seterr(e, BN_ENOMEM, "out of memory");
		goto out;
	}
	for (k = 0; k < nshards && st == BN_OK; k++) {
		if (nshards == 1)
			snprintf(name, sizeof name, "model.safetensors");
		else
			snprintf(name, sizeof name, "model-%05u-of-%05u."
			    "safetensors", k + 1, nshards);
		h.n = 0;
		if ((st = st_header(x, k, &h, e)) != BN_OK)
			break;
		for (used = 0, i = 0; i < x->n; i++)
			if (x->t[i].shard == k)
				used += x->t[i].bytes;
		for (j = 0; j < 8; j++)
			len8[j] = (unsigned char)((uint64_t)h.n >> (8 * j));
		if ((st = x->s->begin(x->s->ctx, name, 8 + h.n + used, e)) ||
		    (st = sink_write(x, len8, 8, e)) ||
		    (st = sink_write(x, h.p, h.n, e)))
			break;
		for (i = 0; i < x->n && st == BN_OK; i++)
			if (x->t[i].shard == k &&
			    (st = write_data(x, &x->t[i], buf, f, e)) != BN_OK)
				bn_err_prefix(e, "%s", name);
		if (st == BN_OK)
			st = x->s->end(x->s->ctx, e);
	}
	if (st != BN_OK || nshards == 1)
		goto out;
	bn_buf_printf(&idx, "{\n  \"metadata\": {\"total_size\": %" PRIu64
	    "},\n  \"weight_map\": {", total);
	for (i = 0; i < x->n; i++) {
		bn_buf_put(&idx, i ? ",\n    " : "\n    ", i ? 6 : 5);
		bn_json_put_str(&idx, x->t[i].name, strlen(x->t[i].name));
		bn_buf_printf(&idx, ": \"model-%05u-of-%05u.safetensors\"",
		    x->t[i].shard + 1, nshards);
	}
	bn_buf_puts(&idx, "\n  }\n}\n");
	st = write_json(x, "model.safetensors.index.json", &idx, e);
out:
	bn_buf_free(&h);
	bn_buf_free(&idx);
	free(buf);
	free(f);
	return st;
}

void
bn_hf_opts_init(struct bn_hf_opts *o)
{
	memset(o, 0, sizeof *o);
	o->floats = BN_HF_KEEP;
}

int
bn_export_hf(const struct bnt_map *m, const struct bn_hf_opts *o,
    const struct bn_hf_sink *s, struct bn_err *e)
{
	struct ctx x;
	size_t i;
	int st;

	memset(&x, 0, sizeof x);
	x.m = m;
	x.o = o;
	x.s = s;
	x.fdtype = BN_DTYPE_F32;
	if (o->floats != BN_HF_KEEP && o->floats != BN_DTYPE_F32 &&
	    o->floats != BN_DTYPE_F16 && o->floats != BN_DTYPE_BF16)
		return bn_seterr(e, BN_EUSAGE, "bad float type");
	if (!m->has_config)
		return bn_seterr(e, BN_EFORMAT, "no configuration record");
	if ((st = bn_config_from_map(&x.c, m, e)) != BN_OK)
		return st;
	if (x.c.arch != BN_ARCH_LLAMA && x.c.rope_interleaved)
		return bn_seterr(e, BN_EUNSUPPORTED, "rope_style interleaved "
		    "in a %s model", bn_arch_name(x.c.arch));
	for (i = 0; i < m->ntensors; i++)
		if ((st = plan_tensor(&x, &m->tensors[i], e)) != BN_OK)
			goto out;
	if ((st = check_names(&x, e)) != BN_OK)
		goto out;
	if (x.packed && x.floaty) {
		st = bn_seterr(e, BN_EUNSUPPORTED, "some projections are "
		    "ternary and some float: transformers' BitNet needs all "
		    "of one kind");
		goto out;
	}
	if (x.div && x.mul) {
		st = bn_seterr(e, BN_EUNSUPPORTED, "some scales divide and "
		    "some multiply: transformers' BitNet needs one "
		    "linear_class for all");
		goto out;
	}
	if (x.packed && !x.c.bitlinear && x.c.arch == BN_ARCH_LLAMA)
		notice(&x, "warning: ternary projections without bitlinear=1: "
		    "transformers will quantize activations per token");
	if ((st = config_json(&x, e)) != BN_OK ||
	    (st = generation_json(&x, e)) != BN_OK)
		goto out;
	if (m->has_vocab && m->vocab.n_tokens > 0) {
		if ((st = tokenizer_json(&x, e)) != BN_OK)
			goto out;
	} else
		notice(&x, "no tokenizer record: tokenizer.json not written");
	st = weights(&x, e);
out:
	for (i = 0; i < x.n; i++)
		free(x.t[i].name);
	free(x.t);
	return st;
}
