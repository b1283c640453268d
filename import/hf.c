/* hf.c: Hugging Face directories: config.json, tokenizer.json and the
 * weights (model.safetensors, its shards, or pytorch_model.bin / .pt). */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json.h"
#include "mem.h"
#include "parse.h"
#include "roles.h"
#include "safetensors.h"

/* The split regexes of GPT-2 and LLaMA-3, as tokenizer.json spells them
 * once its JSON escapes are decoded. */
static const char gpt2_regex[] =
    "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+"
    "|\\s+(?!\\S)|\\s+";
static const char llama3_regex[] =
    "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+"
    "|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+"
    "|\\s+(?!\\S)|\\s+";
/* Qwen2's: LLaMA-3's with single digits */
static const char qwen2_regex[] =
    "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+"
    "|\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+"
    "|\\s+(?!\\S)|\\s+";

static const char *
base_name(const char *path)
{
	const char *p = strrchr(path, '/');

	return p != NULL ? p + 1 : path;
}

/* A JSON string fit for a one-line message. */
static const char *
show(const char *s, size_t len, char *buf, size_t size)
{
	size_t i;

	for (i = 0; i < len && i + 1 < size; i++)
		buf[i] = (unsigned char)s[i] < 0x20 || s[i] == 0x7f ?
		    '?' : s[i];
	buf[i] = '\0';
	if (i < len && size > 4)
		memcpy(buf + size - 4, "...", 4);
	return buf;
}

static int
parse_file(const struct bn_file *f, struct bn_json_doc *d, struct bn_err *e)
{
	int st;

	if ((st = bn_json_parse(d, f->data, f->size, e)) != BN_OK)
		return st;
	if (d->root->type != BN_JSON_OBJECT)
		return bn_seterr(e, BN_EFORMAT, "not a JSON object");
	return BN_OK;
}

/* config.json */

static int
put(struct bn_kv *kv, const char *key, const char *val, struct bn_err *e)
{
	if (bn_kv_set(kv, key, val) != 0)
		return bn_seterr(e, BN_EFORMAT, "'%s': value not usable as "
		    "a configuration value", key);
	return BN_OK;
}

/* A non-negative integer member; absent or null: *v = NULL. */
static int
get_uint(const struct bn_json *o, const char *name, const struct bn_json **v,
    uint64_t *u, struct bn_err *e)
{
	const struct bn_json *j = bn_json_get(o, name);

	*v = NULL;
	if (j == NULL || j->type == BN_JSON_NULL)
		return BN_OK;
	if (bn_json_u64(j, u) != 0)
		return bn_seterr(e, BN_EFORMAT, "'%s': expected a "
		    "non-negative integer", name);
	*v = j;
	return BN_OK;
}

static int
put_uint(const struct bn_json *o, const char *name, const char *key,
    struct bn_kv *kv, uint64_t *u, struct bn_err *e)
{
	const struct bn_json *v;
	uint64_t x = 0;
	int st;

	if ((st = get_uint(o, name, &v, &x, e)) != BN_OK)
		return st;
	if (u != NULL)
		*u = v != NULL ? x : 0;
	return v != NULL ? put(kv, key, v->str, e) : BN_OK;
}

static int
put_number(const struct bn_json *v, const char *name, const char *key,
    struct bn_kv *kv, struct bn_err *e)
{
	if (v == NULL || v->type == BN_JSON_NULL)
		return BN_OK;
	if (v->type != BN_JSON_NUMBER)
		return bn_seterr(e, BN_EFORMAT, "'%s': expected a number",
		    name);
	return put(kv, key, v->str, e);
}

static int
put_string(const struct bn_json *o, const char *name, const char *key,
    struct bn_kv *kv, struct bn_err *e)
{
	const struct bn_json *v = bn_json_get(o, name);

	if (v == NULL || v->type == BN_JSON_NULL)
		return BN_OK;
	if (v->type != BN_JSON_STRING || strlen(v->str) != v->len)
		return bn_seterr(e, BN_EFORMAT, "'%s': expected a string",
		    name);
	return put(kv, key, v->str, e);
}

/* A token id: an integer, or a list whose first element is one;
 * negative ids (-1 for "none") are left out. */
static int
put_token_id(const struct bn_json *o, const char *name, const char *key,
    struct bn_kv *kv, struct bn_err *e)
{
	const struct bn_json *v = bn_json_get(o, name);
	int64_t id;

	if (v != NULL && v->type == BN_JSON_ARRAY)
		v = bn_json_at(v, 0);
	if (v == NULL || v->type == BN_JSON_NULL)
		return BN_OK;
	if (bn_json_i64(v, &id) != 0)
		return bn_seterr(e, BN_EFORMAT, "'%s': expected an integer",
		    name);
	return id >= 0 ? put(kv, key, v->str, e) : BN_OK;
}

/* What a bitnet quantization_config says the projections hold. */
struct hf_quant {
	int bitnet;		/* quant_method bitnet */
	int online;		/* float masters, ternarized at load */
	unsigned scale_flags;	/* of packed weights: BNT_SCALE_DIV or 0 */
};

static int
is_true(const struct bn_json *o, const char *name)
{
	const struct bn_json *v = bn_json_get(o, name);

	return v != NULL && v->type == BN_JSON_TRUE;
}

/* A member that is present and not null. */
static const struct bn_json *
member(const struct bn_json *o, const char *name)
{
	const struct bn_json *v = bn_json_get(o, name);

	return v != NULL && v->type != BN_JSON_NULL ? v : NULL;
}

/* Keys that change the maths and that bntools does not implement:
 * refused by name rather than dropped. */
static int
check_maths(const struct bn_json *c, const char *arch, struct bn_err *e)
{
	static const char *const softcap[] = {
		"final_logit_softcapping", "attn_logit_softcapping"
	};
	const struct bn_json *v, *lt;
	char b1[64];
	size_t i;

	/* qwen2's q/k/v biases are fixed by its architecture, not by
	 * attention_bias, which Qwen2 does not read */
	if (is_true(c, "attention_bias") && strcmp(arch, "qwen2") != 0)
		return bn_seterr(e, BN_EUNSUPPORTED, "'attention_bias': "
		    "attention biases are not implemented for '%s'", arch);
	if (is_true(c, "mlp_bias"))
		return bn_seterr(e, BN_EUNSUPPORTED, "'mlp_bias': MLP biases "
		    "are not implemented");
	if (is_true(c, "use_sliding_window"))
		return bn_seterr(e, BN_EUNSUPPORTED, "'sliding_window': "
		    "sliding-window attention (use_sliding_window true) is "
		    "not implemented");
	lt = member(c, "layer_types");
	for (i = 0; lt != NULL && lt->type == BN_JSON_ARRAY && i < lt->n; i++)
		if (!bn_json_streq(&lt->kids[i], "full_attention"))
			return bn_seterr(e, BN_EUNSUPPORTED, "'layer_types': "
			    "layer %zu is not full_attention (sliding-window "
			    "attention is not implemented)", i);
	for (i = 0; i < sizeof softcap / sizeof softcap[0]; i++)
		if (member(c, softcap[i]) != NULL)
			return bn_seterr(e, BN_EUNSUPPORTED, "'%s': logit "
			    "soft-capping is not implemented", softcap[i]);
	v = member(c, "partial_rotary_factor");
	if (v == NULL)
		v = member(member(c, "rope_parameters"),
		    "partial_rotary_factor");
	if (v != NULL && (v->type != BN_JSON_NUMBER ||
	    strtod(v->str, NULL) != 1.0))
		return bn_seterr(e, BN_EUNSUPPORTED, "'partial_rotary_factor':"
		    " %s: partial rotary embeddings are not implemented",
		    v->type == BN_JSON_NUMBER ? show(v->str, v->len, b1,
		    sizeof b1) : "not a number");
	return BN_OK;
}

/* hidden_act: silu (swish is its other name) or relu2. */
static int
act_kv(const struct bn_json *c, struct bn_kv *kv, struct bn_err *e)
{
	const struct bn_json *v = member(c, "hidden_act");
	char b1[64];

	if (v == NULL)
		return BN_OK;
	if (v->type != BN_JSON_STRING || strlen(v->str) != v->len)
		return bn_seterr(e, BN_EFORMAT, "'hidden_act': expected a "
		    "string");
	if (strcmp(v->str, "silu") == 0 || strcmp(v->str, "swish") == 0)
		return put(kv, BN_CFG_ACT, "silu", e);
	if (strcmp(v->str, "relu2") == 0)
		return put(kv, BN_CFG_ACT, "relu2", e);
	return bn_seterr(e, BN_EUNSUPPORTED, "'hidden_act': '%s' is not "
	    "implemented (silu and relu2 are)", show(v->str, v->len, b1,
	    sizeof b1));
}

/* rope_theta and rope_scaling (transformers 5: rope_parameters, which
 * holds both).  Only the llama3 scaling is implemented. */
static int
rope_kv(const struct bn_json *c, struct bn_kv *kv, struct bn_err *e)
{
	static const struct {
		const char *name, *key;
	} llama3[] = {
		{ "factor", BN_CFG_ROPE_FACTOR },
		{ "low_freq_factor", BN_CFG_ROPE_LOW_FREQ },
		{ "high_freq_factor", BN_CFG_ROPE_HIGH_FREQ },
		{ "original_max_position_embeddings", BN_CFG_ROPE_ORIG_CTX },
	};
	const struct bn_json *rp, *rs, *v, *type;
	const char *where;
	char b1[64];
	size_t i;
	int st;

	rp = member(c, "rope_parameters");
	if ((v = member(c, "rope_theta")) == NULL)
		v = member(rp, "rope_theta");
	if (v == NULL)
		st = put(kv, BN_CFG_ROPE_THETA, "10000", e);
	else
		st = put_number(v, "rope_theta", BN_CFG_ROPE_THETA, kv, e);
	if (st != BN_OK || (st = put(kv, BN_CFG_ROPE_STYLE, "half", e)))
		return st;
	where = "rope_scaling";
	if ((rs = member(c, where)) == NULL) {
		where = "rope_parameters";
		rs = rp;
	}
	if (rs == NULL)
		return BN_OK;
	if (rs->type != BN_JSON_OBJECT)
		return bn_seterr(e, BN_EFORMAT, "'%s': expected an object",
		    where);
	if ((type = member(rs, "rope_type")) == NULL)
		type = member(rs, "type");
	if (type == NULL && rs == rp)
		return BN_OK;	/* rope_theta alone */
	if (type == NULL || type->type != BN_JSON_STRING)
		return bn_seterr(e, BN_EFORMAT, "'%s': no rope_type", where);
	if (strcmp(type->str, "default") == 0)
		return BN_OK;
	if (strcmp(type->str, "llama3") != 0)
		return bn_seterr(e, BN_EUNSUPPORTED, "'%s': rope_type '%s' is "
		    "not implemented (llama3 is)", where,
		    show(type->str, type->len, b1, sizeof b1));
	if ((st = put(kv, BN_CFG_ROPE_SCALING, "llama3", e)) != BN_OK)
		return st;
	for (i = 0; i < sizeof llama3 / sizeof llama3[0]; i++) {
		if ((v = member(rs, llama3[i].name)) == NULL)
			return bn_seterr(e, BN_EFORMAT, "'%s': llama3 needs "
			    "'%s'", where, llama3[i].name);
		if (v->type != BN_JSON_NUMBER)
			return bn_seterr(e, BN_EFORMAT, "'%s.%s': expected a "
			    "number", where, llama3[i].name);
		if ((st = put(kv, llama3[i].key, v->str, e)) != BN_OK)
			return st;
	}
	return BN_OK;
}

/* Does modules_to_not_convert keep a projection of one of n layers in
 * float?  transformers leaves a Linear unconverted when any entry is a
 * substring of its dotted module name. */
static int
keeps_projection(const struct bn_json *list, uint64_t n, struct bn_err *e)
{
	const struct bn_json *m;
	char mod[256], b1[64];
	const char *hf;
	uint64_t l;
	size_t i, len;
	int id;

	if (list->type != BN_JSON_ARRAY)
		return bn_seterr(e, BN_EFORMAT, "'quantization_config."
		    "modules_to_not_convert': expected a list");
	for (i = 0; i < list->n; i++) {
		m = &list->kids[i];
		if (m->type != BN_JSON_STRING || strlen(m->str) != m->len)
			return bn_seterr(e, BN_EFORMAT, "'quantization_config."
			    "modules_to_not_convert': entry %zu is not a "
			    "string", i);
		for (id = 0; id < BN_R_COUNT; id++) {
			if (!bn_role_is_proj(id))
				continue;
			hf = bn_roles[id].hf;
			len = strlen(hf);
			if (len > 7 && strcmp(hf + len - 7, ".weight") == 0)
				len -= 7;
			for (l = 0; l < n; l++) {
				snprintf(mod, sizeof mod, "model.layers.%llu."
				    "%.*s", (unsigned long long)l, (int)len,
				    hf);
				if (strstr(mod, m->str) != NULL)
					return bn_seterr(e, BN_EUNSUPPORTED,
					    "'quantization_config."
					    "modules_to_not_convert': '%s' "
					    "keeps %s in float, which a bnt "
					    "BitLinear model cannot say",
					    show(m->str, m->len, b1,
					    sizeof b1), mod);
			}
		}
	}
	return BN_OK;
}

/* quantization_config: only quant_method bitnet (BitNetQuantConfig). */
static int
quant_config(const struct bn_json *c, uint64_t layers, struct hf_quant *q,
    struct bn_err *e)
{
	const struct bn_json *qc, *v, *cls, *mode;
	char b1[64];

	memset(q, 0, sizeof *q);
	q->scale_flags = BNT_SCALE_DIV;
	if ((qc = member(c, "quantization_config")) == NULL)
		return BN_OK;
	if (qc->type != BN_JSON_OBJECT)
		return bn_seterr(e, BN_EFORMAT, "'quantization_config': "
		    "expected an object");
	v = member(qc, "quant_method");
	if (v == NULL || v->type != BN_JSON_STRING)
		return bn_seterr(e, BN_EFORMAT, "'quantization_config."
		    "quant_method': expected a string");
	if (strcmp(v->str, "bitnet") != 0)
		return bn_seterr(e, BN_EUNSUPPORTED, "'quantization_config."
		    "quant_method': '%s' is not supported (bitnet is)",
		    show(v->str, v->len, b1, sizeof b1));
	q->bitnet = 1;
	cls = member(qc, "linear_class");
	mode = member(qc, "quantization_mode");
	if (cls != NULL && !bn_json_streq(cls, "bitlinear") &&
	    !bn_json_streq(cls, "autobitlinear"))
		return bn_seterr(e, BN_EUNSUPPORTED, "'quantization_config."
		    "linear_class': expected bitlinear or autobitlinear");
	if (mode != NULL && !bn_json_streq(mode, "offline") &&
	    !bn_json_streq(mode, "online"))
		return bn_seterr(e, BN_EUNSUPPORTED, "'quantization_config."
		    "quantization_mode': expected offline or online");
	q->online = bn_json_streq(mode, "online");
	if (bn_json_streq(cls, "autobitlinear"))
		q->scale_flags = 0;	/* AutoBitLinear multiplies */
	else if (q->online)
		return bn_seterr(e, BN_EUNSUPPORTED, "'quantization_config."
		    "quantization_mode': online needs linear_class "
		    "autobitlinear (bitlinear holds packed codes)");
	if ((v = member(qc, "use_rms_norm")) != NULL &&
	    v->type != BN_JSON_FALSE)
		return bn_seterr(e, BN_EUNSUPPORTED, "'quantization_config."
		    "use_rms_norm': an RMSNorm inside every BitLinear is not "
		    "implemented");
	if ((v = member(qc, "modules_to_not_convert")) != NULL)
		return keeps_projection(v, layers, e);
	return BN_OK;
}

static int
config_kv(const struct bn_json *c, struct bn_kv *kv, struct hf_quant *q,
    struct bn_err *e)
{
	const struct bn_json *v, *heads, *mt;
	uint64_t hidden = 0, nh = 0, layers = 0, u;
	int st, tied = 0, bitlinear;

	mt = member(c, "model_type");
	if ((st = put_string(c, "model_type", BN_CFG_ARCH, kv, e)) ||
	    (st = check_maths(c, mt != NULL ? mt->str : "", e)) ||
	    (st = put_uint(c, "vocab_size", BN_CFG_VOCAB, kv, NULL, e)) ||
	    (st = put_uint(c, "hidden_size", BN_CFG_HIDDEN, kv, &hidden, e)) ||
	    (st = put_uint(c, "num_hidden_layers", BN_CFG_LAYERS, kv, &layers,
	    e)) ||
	    (st = quant_config(c, layers, q, e)) ||
	    (st = put_uint(c, "num_attention_heads", BN_CFG_HEADS, kv, &nh,
	    e)))
		return st;
	if ((st = get_uint(c, "num_attention_heads", &heads, &u, e)) != 0)
		return st;
	if ((st = get_uint(c, "num_key_value_heads", &v, &u, e)) != 0)
		return st;
	if (v == NULL)
		v = heads;
	if (v != NULL && (st = put(kv, BN_CFG_KV_HEADS, v->str, e)) != 0)
		return st;
	if ((st = get_uint(c, "head_dim", &v, &u, e)) != 0)
		return st;
	if (v != NULL)
		st = put(kv, BN_CFG_HEAD_DIM, v->str, e);
	else if (hidden != 0 && nh != 0 && bn_json_get(c, "hidden_size") &&
	    heads != NULL)
		st = bn_kv_setf(kv, BN_CFG_HEAD_DIM, "%llu",
		    (unsigned long long)(hidden / nh)) ? bn_seterr(e,
		    BN_ENOMEM, "out of memory") : BN_OK;
	if (st != BN_OK)
		return st;
	if ((st = put_uint(c, "intermediate_size", BN_CFG_FFN, kv, NULL,
	    e)) ||
	    (st = put_uint(c, "max_position_embeddings", BN_CFG_CTX, kv, NULL,
	    e)) ||
	    (st = put_number(bn_json_get(c, "rms_norm_eps"), "rms_norm_eps",
	    BN_CFG_NORM_EPS, kv, e)))
		return st;
	if ((st = rope_kv(c, kv, e)) || (st = act_kv(c, kv, e)))
		return st;
	v = bn_json_get(c, "tie_word_embeddings");
	if (v != NULL && v->type != BN_JSON_NULL) {
		if (v->type != BN_JSON_TRUE && v->type != BN_JSON_FALSE)
			return bn_seterr(e, BN_EFORMAT, "'tie_word_embeddings':"
			    " expected true or false");
		tied = v->type == BN_JSON_TRUE;
	}
	/* 1bitLLM's bitnet_b1_58-* (BitnetForCausalLM, as llama.cpp's
	 * converter registers it: model_type llama, fp16 masters that its
	 * BitLinear ternarizes per tensor, sub-norms inner_attn_ln and
	 * ffn_layernorm): the bitnet architecture, online */
	v = bn_json_at(member(c, "architectures"), 0);
	if (bn_json_streq(v, "BitnetForCausalLM") && bn_json_streq(mt,
	    "llama") && !q->bitnet) {
		if ((st = put(kv, BN_CFG_ARCH, "bitnet", e)) != BN_OK)
			return st;
		q->bitnet = q->online = 1;
	}
	bitlinear = q->bitnet || bn_json_streq(mt, "bitnet");
	if ((st = put(kv, BN_CFG_TIED, tied ? "1" : "0", e)) ||
	    (st = put(kv, BN_CFG_BITLINEAR, bitlinear ? "1" : "0", e)) ||
	    (st = put_token_id(c, "bos_token_id", BN_CFG_BOS, kv, e)) ||
	    (st = put_token_id(c, "eos_token_id", BN_CFG_EOS, kv, e)) ||
	    (st = put_token_id(c, "pad_token_id", BN_CFG_PAD, kv, e)) ||
	    (st = put(kv, BN_CFG_SOURCE, "hf", e)))
		return st;
	return BN_OK;
}

static int
read_config(const struct bn_file *f, struct bn_kv *kv, struct hf_quant *q,
    struct bn_err *e)
{
	struct bn_json_doc d;
	int st;

	bn_kv_init(kv);
	if ((st = parse_file(f, &d, e)) == BN_OK)
		st = config_kv(d.root, kv, q, e);
	bn_json_free(&d);
	if (st != BN_OK)
		bn_kv_free(kv);
	return st;
}

int
bn_import_config_json(const struct bn_file *f, struct bn_kv *kv,
    struct bn_err *e)
{
	struct hf_quant q;

	return read_config(f, kv, &q, e);
}

/* tokenizer.json */

/* A pre-tokenizer or post-processor of the given type, at the top or in
 * a Sequence (list member name: pretokenizers or processors). */
static const struct bn_json *
find_step(const struct bn_json *p, const char *list, const char *type)
{
	const struct bn_json *l;
	size_t i;

	if (bn_json_streq(bn_json_get(p, "type"), type))
		return p;
	if (!bn_json_streq(bn_json_get(p, "type"), "Sequence"))
		return NULL;
	l = bn_json_get(p, list);
	for (i = 0; l != NULL && i < l->n && l->type == BN_JSON_ARRAY; i++)
		if (bn_json_streq(bn_json_get(&l->kids[i], "type"), type))
			return &l->kids[i];
	return NULL;
}

static const char *
pre_name(const struct bn_json *pre, const struct bn_json *bl)
{
	const struct bn_json *split, *re, *ur;

	split = find_step(pre, "pretokenizers", "Split");
	if (split != NULL) {
		re = bn_json_get(bn_json_get(split, "pattern"), "Regex");
		ur = bn_json_get(bl, "use_regex");
		if (ur == NULL || ur->type != BN_JSON_FALSE)
			return "default";
		if (bn_json_streq(re, llama3_regex))
			return "llama3";
		if (bn_json_streq(re, gpt2_regex))
			return "gpt2";
		if (bn_json_streq(re, qwen2_regex))
			return "qwen2";
		return "default";
	}
	ur = bn_json_get(bl, "use_regex");
	return ur == NULL || ur->type == BN_JSON_TRUE ? "gpt2" : "default";
}

/* Id of a special token of a TemplateProcessing, -1 if unknown. */
static int64_t
template_id(const struct bn_json *tp, const struct bn_json *item)
{
	const struct bn_json *st, *sp, *ids, *id;
	int64_t x;
	size_t i;

	st = bn_json_get(item, "SpecialToken");
	id = bn_json_get(st, "id");
	sp = bn_json_get(tp, "special_tokens");
	if (id == NULL || id->type != BN_JSON_STRING || sp == NULL)
		return -1;
	/* special_tokens maps a name to {id, ids, tokens} */
	for (i = 0; i < sp->n && sp->type == BN_JSON_OBJECT; i++)
		if (sp->kids[i].key_len == id->len &&
		    memcmp(sp->kids[i].key, id->str, id->len) == 0) {
			ids = bn_json_get(&sp->kids[i], "ids");
			if (ids != NULL && ids->type == BN_JSON_ARRAY &&
			    ids->n == 1 && bn_json_i64(&ids->kids[0], &x) == 0)
				return x;
		}
	return -1;
}

static int
post_flags(const struct bn_json *root, struct bn_kv *kv, struct bn_err *e)
{
	const struct bn_json *tp, *single, *first = NULL, *last = NULL;
	int64_t bos = -1, eos = -1;
	int add_bos = 0, add_eos = 0;

	tp = find_step(bn_json_get(root, "post_processor"), "processors",
	    "TemplateProcessing");
	single = bn_json_get(tp, "single");
	if (single != NULL && single->type == BN_JSON_ARRAY && single->n > 0) {
		first = &single->kids[0];
		last = &single->kids[single->n - 1];
	}
	if (first != NULL && bn_json_get(first, "SpecialToken") != NULL) {
		add_bos = 1;
		bos = template_id(tp, first);
	}
	if (last != NULL && last != first &&
	    bn_json_get(last, "SpecialToken") != NULL) {
		add_eos = 1;
		eos = template_id(tp, last);
	}
	if (bn_kv_set(kv, BN_VOC_ADD_BOS, add_bos ? "1" : "0") != 0 ||
	    bn_kv_set(kv, BN_VOC_ADD_EOS, add_eos ? "1" : "0") != 0 ||
	    (bos >= 0 && bn_kv_setf(kv, BN_VOC_BOS, "%lld",
	    (long long)bos) != 0) ||
	    (eos >= 0 && bn_kv_setf(kv, BN_VOC_EOS, "%lld",
	    (long long)eos) != 0))
		return bn_seterr(e, BN_ENOMEM, "out of memory");
	return BN_OK;
}

struct slot {
	const char *s;		/* the token's text */
	size_t len;
	int type;
};

static int
set_slot(struct slot *sl, uint64_t n, uint64_t i, const char *s, size_t len,
    int type, struct bn_err *e)
{
	char b1[64], b2[64];

	if (i >= n)
		return bn_seterr(e, BN_EINTERNAL, "token id out of range");
	if (sl[i].s != NULL) {
		/* an added token is usually in model.vocab too */
		if (type != BN_TOK_NORMAL && sl[i].type == BN_TOK_NORMAL &&
		    sl[i].len == len && memcmp(sl[i].s, s, len) == 0) {
			sl[i].type = type;
			return BN_OK;
		}
		return bn_seterr(e, BN_EFORMAT, "token id %llu used twice "
		    "('%s' and '%s')", (unsigned long long)i,
		    show(sl[i].s, sl[i].len, b1, sizeof b1),
		    show(s, len, b2, sizeof b2));
	}
	sl[i].s = s;
	sl[i].len = len;
	sl[i].type = type;
	return BN_OK;
}

/* model.vocab and added_tokens -> n dense tokens in sl (malloc'd). */
static int
collect_tokens(const struct bn_json *voc, const struct bn_json *added,
    struct slot **slp, uint64_t *np, struct bn_err *e)
{
	const struct bn_json *a, *c, *sp;
	struct slot *sl;
	uint64_t n = 0, x, total;
	char b1[64];
	size_t i;
	int st = BN_OK, type;

	for (i = 0; i < voc->n; i++) {
		if (bn_json_u64(&voc->kids[i], &x) != 0)
			return bn_seterr(e, BN_EFORMAT, "token '%s': bad id",
			    show(voc->kids[i].key, voc->kids[i].key_len, b1,
			    sizeof b1));
		if (x >= n)
			n = x + 1;
	}
	for (i = 0; added != NULL && i < added->n; i++) {
		a = &added->kids[i];
		c = bn_json_get(a, "content");
		if (bn_json_u64(bn_json_get(a, "id"), &x) != 0 || c == NULL ||
		    c->type != BN_JSON_STRING)
			return bn_seterr(e, BN_EFORMAT, "added token %zu: "
			    "needs an integer id and a string content", i);
		if (x >= n)
			n = x + 1;
	}
	/* dense ids: n cannot exceed the number of entries */
	total = voc->n + (added != NULL ? added->n : 0);
	if (n > total || n > UINT32_MAX)
		return bn_seterr(e, BN_EFORMAT, "token ids are not dense "
		    "(largest %llu for %llu entries)",
		    (unsigned long long)n - 1, (unsigned long long)total);
	if ((sl = calloc(n ? (size_t)n : 1, sizeof *sl)) == NULL)
		return bn_seterr(e, BN_ENOMEM, "out of memory");
	for (i = 0; i < voc->n && st == BN_OK; i++) {
		bn_json_u64(&voc->kids[i], &x);
		st = set_slot(sl, n, x, voc->kids[i].key, voc->kids[i].key_len,
		    BN_TOK_NORMAL, e);
	}
	for (i = 0; added != NULL && i < added->n && st == BN_OK; i++) {
		a = &added->kids[i];
		c = bn_json_get(a, "content");
		sp = bn_json_get(a, "special");
		type = sp != NULL && sp->type == BN_JSON_TRUE ?
		    BN_TOK_CONTROL : BN_TOK_USER;
		bn_json_u64(bn_json_get(a, "id"), &x);
		st = set_slot(sl, n, x, c->str, c->len, type, e);
	}
	for (x = 0; x < n && st == BN_OK; x++)
		if (sl[x].s == NULL)
			st = bn_seterr(e, BN_EFORMAT, "token ids are not "
			    "dense: no token %llu", (unsigned long long)x);
	if (st != BN_OK) {
		free(sl);
		return st;
	}
	*slp = sl;
	*np = n;
	return BN_OK;
}

/* Merge i as "a b" into *buf (grown as needed). */
static int
merge_text(const struct bn_json *m, size_t i, char **buf, size_t *cap,
    size_t *len, struct bn_err *e)
{
	const struct bn_json *a, *b;
	size_t need;
	char *p;

	if (m->type == BN_JSON_STRING) {
		p = memchr(m->str, ' ', m->len);
		if (p == NULL || memchr(p + 1, ' ', m->len -
		    (size_t)(p + 1 - m->str)) != NULL || p == m->str ||
		    p + 1 == m->str + m->len)
			return bn_seterr(e, BN_EFORMAT, "merge %zu: expected "
			    "two tokens separated by one space", i);
		a = m;
		b = NULL;
		need = m->len + 1;
	} else {
		if (m->type != BN_JSON_ARRAY || m->n != 2 ||
		    m->kids[0].type != BN_JSON_STRING ||
		    m->kids[1].type != BN_JSON_STRING)
			return bn_seterr(e, BN_EFORMAT, "merge %zu: expected "
			    "a string or a pair of strings", i);
		a = &m->kids[0];
		b = &m->kids[1];
		need = a->len + b->len + 2;
	}
	if (need > UINT32_MAX)
		return bn_seterr(e, BN_EFORMAT, "merge %zu: too long", i);
	if (bn_grow(buf, cap, need, 1) != 0)
		return bn_seterr(e, BN_ENOMEM, "out of memory");
	memcpy(*buf, a->str, a->len);
	*len = a->len;
	if (b != NULL) {
		(*buf)[(*len)++] = ' ';
		memcpy(*buf + *len, b->str, b->len);
		*len += b->len;
	}
	return BN_OK;
}

static int
tokenizer_vocab(const struct bn_json *root, struct bn_vocab *v,
    struct bn_err *e)
{
	const struct bn_json *model, *type, *pre, *bl, *voc, *merges, *unk;
	const struct bn_json *added;
	struct slot *sl = NULL;
	uint64_t n = 0, i;
	size_t cap = 0, len = 0;
	char *buf = NULL, b1[64];
	int st;

	model = bn_json_get(root, "model");
	if (model == NULL || model->type != BN_JSON_OBJECT)
		return bn_seterr(e, BN_EFORMAT, "'model': expected an object");
	type = bn_json_get(model, "type");
	merges = bn_json_get(model, "merges");
	if (type != NULL && !bn_json_streq(type, "BPE")) {
		if (type->type != BN_JSON_STRING)
			return bn_seterr(e, BN_EFORMAT, "'model.type': "
			    "expected a string");
		return bn_seterr(e, BN_EUNSUPPORTED, "%s tokenizers are not "
		    "supported (only byte-level BPE)",
		    show(type->str, type->len, b1, sizeof b1));
	}
	if (type == NULL && merges == NULL)
		return bn_seterr(e, BN_EUNSUPPORTED, "tokenizer model without "
		    "a type or merges is not supported (only byte-level BPE)");
	pre = bn_json_get(root, "pre_tokenizer");
	bl = find_step(pre, "pretokenizers", "ByteLevel");
	if (bl == NULL)
		return bn_seterr(e, BN_EUNSUPPORTED, "BPE without a ByteLevel "
		    "pre-tokenizer is not supported");
	voc = bn_json_get(model, "vocab");
	if (voc == NULL || voc->type != BN_JSON_OBJECT)
		return bn_seterr(e, BN_EFORMAT, "'model.vocab': expected an "
		    "object");
	if (merges != NULL && merges->type == BN_JSON_NULL)
		merges = NULL;
	if (merges != NULL && (merges->type != BN_JSON_ARRAY ||
	    merges->n > UINT32_MAX))
		return bn_seterr(e, BN_EFORMAT, "'model.merges': expected an "
		    "array");
	added = bn_json_get(root, "added_tokens");
	if (added != NULL && added->type == BN_JSON_NULL)
		added = NULL;
	if (added != NULL && added->type != BN_JSON_ARRAY)
		return bn_seterr(e, BN_EFORMAT, "'added_tokens': expected "
		    "an array");
	if ((st = collect_tokens(voc, added, &sl, &n, e)) != BN_OK)
		return st;
	if (bn_vocab_alloc(v, (uint32_t)n, merges != NULL ?
	    (uint32_t)merges->n : 0, 0, 1) != 0) {
		st = bn_seterr(e, BN_ENOMEM, "out of memory");
		goto out;
	}
	for (i = 0; i < n; i++) {
		if (sl[i].len > UINT32_MAX) {
			st = bn_seterr(e, BN_EFORMAT, "token %llu: too long",
			    (unsigned long long)i);
			goto out;
		}
		if (bn_vocab_set_token(v, (uint32_t)i, sl[i].s,
		    (uint32_t)sl[i].len) != 0) {
			st = bn_seterr(e, BN_ENOMEM, "out of memory");
			goto out;
		}
		v->types[i] = sl[i].type;
	}
	for (i = 0; merges != NULL && i < merges->n; i++) {
		if ((st = merge_text(&merges->kids[i], (size_t)i, &buf, &cap,
		    &len, e)) != BN_OK)
			goto out;
		if (bn_vocab_set_merge(v, (uint32_t)i, buf,
		    (uint32_t)len) != 0) {
			st = bn_seterr(e, BN_ENOMEM, "out of memory");
			goto out;
		}
	}
	if (bn_kv_set(&v->kv, BN_VOC_MODEL, "gpt2") != 0 ||
	    bn_kv_set(&v->kv, BN_VOC_PRE, pre_name(pre, bl)) != 0) {
		st = bn_seterr(e, BN_ENOMEM, "out of memory");
		goto out;
	}
	if ((st = post_flags(root, &v->kv, e)) != BN_OK)
		goto out;
	unk = bn_json_get(model, "unk_token");
	if (unk != NULL && unk->type == BN_JSON_STRING)
		for (i = 0; i < n; i++)
			if (sl[i].len == unk->len &&
			    memcmp(sl[i].s, unk->str, unk->len) == 0) {
				if (bn_kv_setf(&v->kv, BN_VOC_UNK, "%llu",
				    (unsigned long long)i) != 0)
					st = bn_seterr(e, BN_ENOMEM,
					    "out of memory");
				break;
			}
out:
	free(sl);
	free(buf);
	return st;
}

int
bn_import_tokenizer_json(const struct bn_file *f, struct bn_vocab *v,
    struct bn_err *e)
{
	struct bn_json_doc d;
	int st;

	bn_vocab_init(v);
	if ((st = parse_file(f, &d, e)) == BN_OK)
		st = tokenizer_vocab(d.root, v, e);
	bn_json_free(&d);
	if (st != BN_OK)
		bn_vocab_free(v);
	return st;
}

/* The directory */

/* Shards named by model.safetensors.index.json's weight_map.  Errors
 * name the index or the shard. */
static int
cmp_hf(const void *a, const void *b)
{
	const struct bn_st_entry *x = *(const struct bn_st_entry *const *)a;
	const struct bn_st_entry *y = *(const struct bn_st_entry *const *)b;

	return strcmp(x->hf_name, y->hf_name);
}

static int
check_index(const struct bn_json *wm, struct bn_st_list *l,
    struct bn_err *e)
{
	const struct bn_json *m;
	struct bn_st_entry key, *kp, **p, **hit;
	char b1[160], b2[160];
	size_t i, lo;
	int st = BN_OK;

	if ((p = bn_reallocarray(NULL, l->n ? l->n : 1, sizeof *p)) == NULL)
		return bn_seterr(e, BN_ENOMEM, "out of memory");
	for (i = 0; i < l->n; i++)
		p[i] = &l->v[i];
	qsort(p, l->n, sizeof *p, cmp_hf);
	for (i = 0; i < wm->n && st == BN_OK; i++) {
		m = &wm->kids[i];
		key.hf_name = (char *)m->key;
		kp = &key;
		hit = strlen(m->key) != m->key_len ? NULL :
		    bsearch(&kp, p, l->n, sizeof *p, cmp_hf);
		if (hit != NULL) {
			/* back up to the first of equal names */
			for (lo = (size_t)(hit - p); lo > 0 &&
			    strcmp(p[lo - 1]->hf_name, m->key) == 0; lo--)
				;
			for (; lo < l->n && strcmp(p[lo]->hf_name,
			    m->key) == 0; lo++)
				if (strcmp(base_name(p[lo]->file),
				    base_name(m->str)) == 0)
					break;
			if (lo < l->n && strcmp(p[lo]->hf_name, m->key) == 0)
				continue;
		}
		st = bn_seterr(e, BN_EFORMAT, "tensor '%s': not in shard "
		    "'%s'", show(m->key, m->key_len, b1, sizeof b1),
		    show(m->str, m->len, b2, sizeof b2));
	}
	free(p);
	return st;
}

static int
scan_index(const struct bn_fileset *fs, const struct bn_file *idx,
    struct bn_st_list *l, struct bn_err *e)
{
	const struct bn_json *wm, *m, **files = NULL;
	const struct bn_file *f;
	struct bn_json_doc d;
	size_t nf = 0, i, j;
	char b1[160];
	int st;

	if ((st = parse_file(idx, &d, e)) != BN_OK)
		goto bad;
	wm = bn_json_get(d.root, "weight_map");
	if (wm == NULL || wm->type != BN_JSON_OBJECT) {
		st = bn_seterr(e, BN_EFORMAT, "'weight_map': expected an "
		    "object");
		goto bad;
	}
	if ((files = bn_reallocarray(NULL, wm->n ? wm->n : 1,
	    sizeof *files)) == NULL) {
		st = bn_seterr(e, BN_ENOMEM, "out of memory");
		goto out;
	}
	for (i = 0; i < wm->n; i++) {
		m = &wm->kids[i];
		if (m->type != BN_JSON_STRING || strlen(m->str) != m->len ||
		    m->len == 0) {
			st = bn_seterr(e, BN_EFORMAT, "'weight_map': tensor "
			    "'%s': expected a file name",
			    show(m->key, m->key_len, b1, sizeof b1));
			goto bad;
		}
		for (j = 0; j < nf; j++)
			if (strcmp(files[j]->str, m->str) == 0)
				break;
		if (j == nf)
			files[nf++] = m;
	}
	for (j = 0; j < nf; j++) {
		f = bn_fileset_get(fs, base_name(files[j]->str));
		if (f == NULL) {
			st = bn_seterr(e, BN_EFORMAT, "missing shard '%s'",
			    show(files[j]->str, files[j]->len, b1, sizeof b1));
			goto bad;
		}
		if (f->skipped) {	/* bn_hf_wants reads *.safetensors */
			st = bn_seterr(e, BN_EFORMAT, "shard '%s': not a "
			    ".safetensors name, left unread in the archive",
			    show(files[j]->str, files[j]->len, b1, sizeof b1));
			goto bad;
		}
		if ((st = bn_st_scan(f, l, e)) != BN_OK) {
			bn_err_prefix(e, "%s", base_name(f->name));
			goto out;
		}
	}
	if ((st = check_index(wm, l, e)) != BN_OK)
		goto bad;
	goto out;
bad:
	bn_err_prefix(e, "%s", base_name(idx->name));
out:
	free(files);
	bn_json_free(&d);
	return st;
}

/* "model-00001-of-00003.safetensors": 0 with index and count. */
static int
shard_name(const char *name, unsigned long *i, unsigned long *n, int *w)
{
	const char *p = name;
	char *end;
	int w1;

	if (strncmp(p, "model-", 6) != 0)
		return -1;
	p += 6;
	if (*p < '0' || *p > '9')
		return -1;
	*i = strtoul(p, &end, 10);
	w1 = (int)(end - p);
	if (strncmp(end, "-of-", 4) != 0 || end[4] < '0' || end[4] > '9')
		return -1;
	p = end + 4;
	*n = strtoul(p, &end, 10);
	*w = (int)(end - p);
	if (w1 != *w || *w > 9 || strcmp(end, ".safetensors") != 0 ||
	    *i < 1 || *i > *n)
		return -1;
	return 0;
}

/* Shards without an index: model-0000N-of-0000M.safetensors, all M. */
static int
scan_shards(const struct bn_fileset *fs, struct bn_st_list *l, int *found,
    struct bn_err *e)
{
	unsigned long i, n = 0, k, m;
	const struct bn_file *f;
	char name[64];
	size_t j;
	int w = 0, w1, st;

	*found = 0;
	for (j = 0; j < fs->n; j++) {
		if (shard_name(base_name(fs->files[j].name), &k, &m, &w1) != 0)
			continue;
		if (n != 0 && (m != n || w1 != w))
			return bn_seterr(e, BN_EFORMAT, "shards of different "
			    "sets ('%s')", base_name(fs->files[j].name));
		n = m;
		w = w1;
	}
	if (n == 0)
		return BN_OK;
	*found = 1;
	for (i = 1; i <= n; i++) {
		snprintf(name, sizeof name, "model-%0*lu-of-%0*lu.safetensors",
		    w, i, w, n);
		if ((f = bn_fileset_get(fs, name)) == NULL)
			return bn_seterr(e, BN_EFORMAT, "missing shard '%s'",
			    name);
		if ((st = bn_st_scan(f, l, e)) != BN_OK) {
			bn_err_prefix(e, "%s", name);
			return st;
		}
	}
	return BN_OK;
}

/* The files the import looks for by name: a model's files.  They must
 * all be in one directory. */
static int
model_file(const char *base)
{
	static const char *const names[] = {
		"config.json", "tokenizer.json", "tokenizer.model",
		"tokenizer_config.json", "model.safetensors",
		"model.safetensors.index.json", "pytorch_model.bin",
		"pytorch_model.bin.index.json",
	};
	unsigned long k, m;
	size_t i;
	int w;

	for (i = 0; i < sizeof names / sizeof names[0]; i++)
		if (strcmp(base, names[i]) == 0)
			return 1;
	return shard_name(base, &k, &m, &w) == 0 || bn_has_suffix(base, ".pt");
}

int
bn_hf_wants(const char *name)
{
	const char *base = base_name(name);

	/* an index may name shards of any *.safetensors name */
	return model_file(base) || bn_has_suffix(base, ".safetensors");
}

/* The directory of a member as the archive names it (with the prefix
 * stripped from every name), "." at the top, fit for a message. */
static const char *
show_dir(const struct bn_fileset *fs, const char *name, char *buf,
    size_t size)
{
	char tmp[320];
	size_t n = (size_t)(base_name(name) - name);

	snprintf(tmp, sizeof tmp, "%s%.*s", fs->prefix ? fs->prefix : "",
	    (int)n, name);
	n = strlen(tmp);
	if (n > 1 && tmp[n - 1] == '/')
		tmp[--n] = '\0';
	if (n == 0)
		strcpy(tmp, ".");
	return show(tmp, strlen(tmp), buf, size);
}

/* The directory of the model's files, as *view (the files directly in
 * it; view->files alone is to be freed): an archive may hold other
 * files, but not the files of two models, which would be mixed. */
static int
model_dir(const struct bn_fileset *fs, struct bn_fileset *view,
    struct bn_err *e)
{
	const struct bn_file *first = NULL, *f;
	char b1[160], b2[160], b3[160], b4[160];
	size_t i, dlen = 0, len;

	bn_fileset_init(view);
	for (i = 0; i < fs->n; i++) {
		f = &fs->files[i];
		if (!model_file(base_name(f->name)))
			continue;
		len = (size_t)(base_name(f->name) - f->name);
		if (first == NULL) {
			first = f;
			dlen = len;
		} else if (len != dlen ||
		    strncmp(f->name, first->name, len) != 0)
			return bn_seterr(e, BN_EFORMAT, "two model "
			    "directories: '%s' (%s) and '%s' (%s)",
			    show_dir(fs, first->name, b1, sizeof b1),
			    show(base_name(first->name),
			    strlen(base_name(first->name)), b2, sizeof b2),
			    show_dir(fs, f->name, b3, sizeof b3),
			    show(base_name(f->name), strlen(base_name(f->name)),
			    b4, sizeof b4));
	}
	if (fs->n == 0)
		return BN_OK;
	if ((view->files = calloc(fs->n, sizeof *view->files)) == NULL)
		return bn_seterr(e, BN_ENOMEM, "out of memory");
	for (i = 0; i < fs->n; i++) {
		f = &fs->files[i];
		len = (size_t)(base_name(f->name) - f->name);
		if (first == NULL || (len == dlen &&
		    strncmp(f->name, first->name, len) == 0)) {
			view->files[view->n] = *f;
			view->files[view->n].priv_kind = 0;	/* fs owns */
			view->n++;
		}
	}
	view->cap = fs->n;
	view->root = fs->root;
	view->prefix = fs->prefix;
	return BN_OK;
}

/* A torch checkpoint: pytorch_model.bin, else the one *.pt; NULL if
 * none.  Several .pt files are ambiguous. */
static int
find_torch(const struct bn_fileset *fs, const struct bn_file **tf,
    struct bn_err *e)
{
	size_t i;

	*tf = bn_fileset_get(fs, "pytorch_model.bin");
	if (*tf != NULL)
		return BN_OK;
	if (bn_fileset_get(fs, "pytorch_model.bin.index.json") != NULL)
		return bn_seterr(e, BN_EUNSUPPORTED, "sharded "
		    "pytorch_model.bin checkpoints are not supported");
	for (i = 0; i < fs->n; i++)
		if (bn_has_suffix(fs->files[i].name, ".pt")) {
			if (*tf != NULL)
				return bn_seterr(e, BN_EFORMAT, "several .pt "
				    "files ('%s', '%s')",
				    base_name((*tf)->name),
				    base_name(fs->files[i].name));
			*tf = &fs->files[i];
		}
	return BN_OK;
}

/* A bitnet quantization_config's mode against the stored projections:
 * offline holds packed codes and a weight_scale for each, online float
 * masters. */
static int
check_packing(const struct bn_st_list *l, const struct hf_quant *q,
    struct bn_err *e)
{
	const struct bn_st_entry *en;
	char b1[160];
	size_t i;

	for (i = 0; q->bitnet && i < l->n; i++) {
		en = &l->v[i];
		if (en->is_scale || !bn_is_projection(en->name))
			continue;
		if (q->online && en->scale != NULL)
			return bn_seterr(e, BN_EFORMAT, "tensor '%s': packed "
			    "codes, but quantization_mode is online",
			    show(en->hf_name, strlen(en->hf_name), b1,
			    sizeof b1));
		if (!q->online && en->scale == NULL)
			return bn_seterr(e, BN_EFORMAT, "tensor '%s': not "
			    "packed codes with a weight_scale, but "
			    "quantization_mode is offline",
			    show(en->hf_name, strlen(en->hf_name), b1,
			    sizeof b1));
	}
	return BN_OK;
}

/* Forwards tensors to the real sink, dropping output.weight when the
 * embeddings are tied. */
struct tie_sink {
	struct bn_sink *s;
	int tied;
};

static int
tie_config(void *ctx, const struct bn_kv *kv)
{
	(void)ctx;
	(void)kv;
	return BN_OK;
}

static int
tie_vocab(void *ctx, const struct bn_vocab *v)
{
	(void)ctx;
	(void)v;
	return BN_OK;
}

static int
tie_tensor(void *ctx, const struct bnt_tensor *t, const void *data,
    const void *scales)
{
	struct tie_sink *ts = ctx;

	if (ts->tied && strcmp(t->name, bn_roles[BN_R_OUTPUT].name) == 0)
		return BN_OK;
	if (ts->s->tensor == NULL)
		return BN_OK;
	return ts->s->tensor(ts->s->ctx, t, data, scales);
}

/* tokenizer.model: SentencePiece's ModelProto (protobuf).  Read:
 * pieces (1) {piece 1, score 2, type 3}, trainer_spec (2) {model_type
 * 3, unk_id 40, bos_id 41, eos_id 42, pad_id 43}, normalizer_spec (3)
 * {add_dummy_prefix 3}.  Only BPE models (model_type 2) are taken. */

struct pb {
	const unsigned char *p, *end;
};

/* A varint into *v; -1 if truncated or over 64 bits. */
static int
pb_varint(struct pb *b, uint64_t *v)
{
	unsigned sh = 0;

	*v = 0;
	while (b->p < b->end && sh < 64) {
		*v |= (uint64_t)(*b->p & 0x7f) << sh;
		if (!(*b->p++ & 0x80))
			return 0;
		sh += 7;
	}
	return -1;
}

/* The next field: its number, wire type, and for wire type 2 its bytes
 * in *sub, for 0 its value in *v (1 and 5: the 8 or 4 bytes in *sub). */
static int
pb_field(struct pb *b, uint32_t *num, unsigned *wt, uint64_t *v,
    struct pb *sub)
{
	uint64_t key, n;
	size_t len;

	if (pb_varint(b, &key) != 0 || key >> 3 == 0 || key >> 3 > 0x1fffffff)
		return -1;
	*num = (uint32_t)(key >> 3);
	*wt = (unsigned)(key & 7);
	switch (*wt) {
	case 0:
		return pb_varint(b, v);
	case 1:
	case 5:
		len = *wt == 1 ? 8 : 4;
		break;
	case 2:
		if (pb_varint(b, &n) != 0 || n > (uint64_t)(b->end - b->p))
			return -1;
		len = (size_t)n;
		break;
	default:
		return -1;
	}
	if (len > (size_t)(b->end - b->p))
		return -1;
	sub->p = b->p;
	sub->end = b->p + len;
	b->p += len;
	return 0;
}

/* One pass over the pieces: count them (v NULL) or fill v. */
static int
spm_pieces(struct pb b, struct bn_vocab *v, uint32_t *count,
    struct bn_err *e)
{
	struct pb sub, f, x;
	uint64_t val;
	uint32_t num, k = 0, u;
	unsigned wt, wt2;

	while (b.p < b.end) {
		if (pb_field(&b, &num, &wt, &val, &sub) != 0)
			return bn_seterr(e, BN_EFORMAT, "malformed protobuf");
		if (num != 1 || wt != 2)
			continue;
		if (k == UINT32_MAX - 1)
			return bn_seterr(e, BN_EFORMAT, "too many pieces");
		if (v != NULL) {
			if (k >= v->n_tokens)
				return bn_seterr(e, BN_EFORMAT,
				    "pieces changed");
			v->types[k] = BN_TOK_NORMAL;
			v->scores[k] = 0;
			if (bn_vocab_set_token(v, k, "", 0) != 0)
				return bn_seterr(e, BN_ENOMEM,
				    "out of memory");
			for (f = sub; f.p < f.end;) {
				if (pb_field(&f, &num, &wt2, &val, &x) != 0)
					return bn_seterr(e, BN_EFORMAT,
					    "piece %" PRIu32
					    " malformed", k);
				if (num == 1 && wt2 == 2 && (x.end - x.p >
				    UINT32_MAX || bn_vocab_set_token(v, k,
				    (const char *)x.p,
				    (uint32_t)(x.end - x.p)) != 0))
					return bn_seterr(e, BN_ENOMEM,
					    "out of memory");
				if (num == 2 && wt2 == 5) {
					u = (uint32_t)x.p[0] |
					    (uint32_t)x.p[1] << 8 |
					    (uint32_t)x.p[2] << 16 |
					    (uint32_t)x.p[3] << 24;
					memcpy(&v->scores[k], &u, 4);
				}
				if (num == 3 && wt2 == 0) {
					if (val < 1 || val > 6)
						return bn_seterr(e, BN_EFORMAT,
						    "piece %"
						    PRIu32 " has type %" PRIu64,
						    k, val);
					v->types[k] = (int32_t)val;
				}
			}
		}
		k++;
	}
	*count = k;
	return BN_OK;
}

static int
spm_id(struct bn_vocab *v, const char *key, uint64_t id, struct bn_err *e)
{
	/* protobuf int32: -1 comes as a 64-bit two's complement */
	if ((int64_t)id < 0 || id >= v->n_tokens)
		return BN_OK;
	if (bn_kv_setf(&v->kv, key, "%" PRIu64, id) != 0)
		return bn_seterr(e, BN_ENOMEM, "out of memory");
	return BN_OK;
}

static int
spm_model(const struct bn_file *fl, struct bn_vocab *v, struct bn_err *e)
{
	struct pb b = { fl->data, fl->data + fl->size }, sub, f, x;
	uint64_t val, type = 1, unk = 0, bos = 1, eos = 2, pad = UINT64_MAX;
	uint64_t prefix = 1;
	uint32_t num, spec, n;
	unsigned wt;
	int st;

	bn_vocab_init(v);
	if ((st = spm_pieces(b, NULL, &n, e)) != BN_OK)
		return st;
	if (n == 0)
		return bn_seterr(e, BN_EFORMAT, "no pieces");
	while (b.p < b.end) {
		if (pb_field(&b, &spec, &wt, &val, &sub) != 0)
			return bn_seterr(e, BN_EFORMAT, "malformed protobuf");
		if ((spec != 2 && spec != 3) || wt != 2)
			continue;
		for (f = sub; f.p < f.end;) {
			if (pb_field(&f, &num, &wt, &val, &x) != 0)
				return bn_seterr(e, BN_EFORMAT,
				    "malformed spec");
			if (wt != 0)
				continue;
			if (spec == 3 && num == 3)
				prefix = val;
			else if (spec == 2 && num == 3)
				type = val;
			else if (spec == 2 && num == 40)
				unk = val;
			else if (spec == 2 && num == 41)
				bos = val;
			else if (spec == 2 && num == 42)
				eos = val;
			else if (spec == 2 && num == 43)
				pad = val;
		}
	}
	if (type != 2)
		return bn_seterr(e, BN_EUNSUPPORTED, ""
		    "model_type %" PRIu64 " (only BPE, 2, is read)", type);
	if (bn_vocab_alloc(v, n, 0, 1, 1) != 0)
		return bn_seterr(e, BN_ENOMEM, "out of memory");
	b.p = fl->data;
	if ((st = spm_pieces(b, v, &n, e)) != BN_OK ||
	    (st = spm_id(v, BN_VOC_UNK, unk, e)) != BN_OK ||
	    (st = spm_id(v, BN_VOC_BOS, bos, e)) != BN_OK ||
	    (st = spm_id(v, BN_VOC_EOS, eos, e)) != BN_OK ||
	    (st = spm_id(v, BN_VOC_PAD, pad, e)) != BN_OK)
		return st;
	if (bn_kv_set(&v->kv, BN_VOC_MODEL, "llama") != 0 ||
	    bn_kv_set(&v->kv, "add_space_prefix", prefix ? "1" : "0") != 0)
		return bn_seterr(e, BN_ENOMEM, "out of memory");
	return BN_OK;
}

/* tokenizer_config.json: its chat template (a string, or a list of
 * {name, template} of which "default" is taken) into v. */
static int
tokenizer_config(const struct bn_file *f, struct bn_vocab *v,
    struct bn_err *e)
{
	const struct bn_json *ct, *list;
	struct bn_json_doc d;
	size_t i;
	int st;

	memset(&d, 0, sizeof d);
	if ((st = parse_file(f, &d, e)) != BN_OK)
		goto out;
	ct = bn_json_get(d.root, "chat_template");
	if (ct != NULL && ct->type == BN_JSON_ARRAY) {
		list = ct;
		ct = NULL;
		for (i = 0; i < list->n; i++)
			if (bn_json_streq(bn_json_get(&list->kids[i], "name"),
			    "default"))
				ct = bn_json_get(&list->kids[i], "template");
	}
	if (ct != NULL && ct->type == BN_JSON_STRING &&
	    bn_vocab_set_chat_template(v, ct->str, ct->len) != 0)
		st = bn_seterr(e, BN_EFORMAT, "chat_template: holds a NUL");
out:
	bn_json_free(&d);
	return st;
}

int
bn_import_hf(const struct bn_fileset *all, struct bn_sink *s,
    struct bn_err *e)
{
	const struct bn_file *cf, *cf2, *tf, *mf, *idx, *one, *torch = NULL;
	const struct bn_fileset *fs;
	struct tie_sink ts;
	struct bn_sink wrap;
	struct bn_fileset zip, view;
	struct bn_st_list l;
	struct bn_vocab v;
	struct bn_kv kv;
	struct hf_quant q;
	const char *val;
	size_t i;
	int st = BN_OK, have_st = 0, tied = 0;

	if ((st = model_dir(all, &view, e)) != BN_OK)
		return st;
	fs = &view;
	bn_kv_init(&kv);
	bn_vocab_init(&v);
	bn_st_init(&l);
	bn_fileset_init(&zip);
	cf = bn_fileset_get(fs, "config.json");
	tf = bn_fileset_get(fs, "tokenizer.json");
	memset(&q, 0, sizeof q);
	q.scale_flags = BNT_SCALE_DIV;
	if (cf != NULL) {
		if ((st = read_config(cf, &kv, &q, e)) != BN_OK) {
			bn_err_prefix(e, "config.json");
			goto out;
		}
		val = bn_kv_get(&kv, BN_CFG_TIED);
		tied = val != NULL && strcmp(val, "1") == 0;
	}
	/* SentencePiece's tokenizer.model where there is no tokenizer.json */
	mf = tf == NULL ? bn_fileset_get(fs, "tokenizer.model") : NULL;
	if (tf != NULL || mf != NULL) {
		if (tf != NULL &&
		    (st = bn_import_tokenizer_json(tf, &v, e)) != BN_OK) {
			bn_err_prefix(e, "tokenizer.json");
			goto out;
		}
		if (tf == NULL && (st = spm_model(mf, &v, e)) != BN_OK) {
			bn_err_prefix(e, "tokenizer.model");
			goto out;
		}
		if ((cf2 = bn_fileset_get(fs, "tokenizer_config.json")) !=
		    NULL && (st = tokenizer_config(cf2, &v, e)) != BN_OK) {
			bn_err_prefix(e, "tokenizer_config.json");
			goto out;
		}
		/* the model's own special ids win */
		if (((val = bn_kv_get(&kv, BN_CFG_BOS)) != NULL &&
		    bn_kv_set(&v.kv, BN_VOC_BOS, val) != 0) ||
		    ((val = bn_kv_get(&kv, BN_CFG_EOS)) != NULL &&
		    bn_kv_set(&v.kv, BN_VOC_EOS, val) != 0)) {
			st = bn_seterr(e, BN_ENOMEM, "out of memory");
			goto out;
		}
	}
	/* find and check the weights before emitting anything */
	idx = bn_fileset_get(fs, "model.safetensors.index.json");
	one = bn_fileset_get(fs, "model.safetensors");
	if (idx != NULL) {
		if ((st = scan_index(fs, idx, &l, e)) != BN_OK)
			goto out;
		have_st = 1;
	} else if (one != NULL) {
		if ((st = bn_st_scan(one, &l, e)) != BN_OK) {
			bn_err_prefix(e, "model.safetensors");
			goto out;
		}
		have_st = 1;
	} else if ((st = scan_shards(fs, &l, &have_st, e)) != BN_OK)
		goto out;
	l.scale_flags = q.scale_flags;
	if (have_st) {
		if ((st = bn_st_finish(&l, e)) != BN_OK ||
		    (st = check_packing(&l, &q, e)) != BN_OK)
			goto out;
	} else {
		if ((st = find_torch(fs, &torch, e)) != BN_OK)
			goto out;
		if (torch == NULL) {
			st = bn_seterr(e, BN_EFORMAT, "no model weights "
			    "(model.safetensors, its shards, "
			    "pytorch_model.bin or a .pt file)");
			goto out;
		}
	}
	if (cf != NULL && s->config != NULL &&
	    (st = s->config(s->ctx, &kv)) != BN_OK)
		goto out;
	if ((tf != NULL || mf != NULL) && s->vocab != NULL &&
	    (st = s->vocab(s->ctx, &v)) != BN_OK)
		goto out;
	if (have_st) {
		for (i = 0; i < l.n && st == BN_OK; i++)
			if (!tied || strcmp(l.v[i].name,
			    bn_roles[BN_R_OUTPUT].name) != 0)
				st = bn_st_emit(&l, i, s, e);
		goto out;
	}
	if ((st = bn_fileset_from_archive(&zip, torch, e)) != BN_OK) {
		bn_err_prefix(e, "%s", base_name(torch->name));
		goto out;
	}
	ts.s = s;
	ts.tied = tied;
	wrap.ctx = &ts;
	wrap.config = tie_config;
	wrap.vocab = tie_vocab;
	wrap.tensor = tie_tensor;
	if ((st = bn_import_torch(&zip, &wrap, e)) != BN_OK)
		bn_err_prefix(e, "%s", base_name(torch->name));
out:
	bn_fileset_free(&zip);
	bn_st_free(&l);
	bn_vocab_free(&v);
	bn_kv_free(&kv);
	free(view.files);
	return st;
}
