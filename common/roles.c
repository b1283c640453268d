/* roles.c: the table of tensor roles (roles.h). */
#include <stdio.h>
#include <string.h>

#include "parse.h"
#include "roles.h"

#define LL (BN_ARCH_BIT(BN_ARCH_LLAMA) | BN_ARCH_BIT(BN_ARCH_BITNET) | \
	BN_ARCH_BIT(BN_ARCH_QWEN2) | BN_ARCH_BIT(BN_ARCH_QWEN3))
#define BN BN_ARCH_BIT(BN_ARCH_BITNET)
#define Q2 BN_ARCH_BIT(BN_ARCH_QWEN2)
#define Q3 BN_ARCH_BIT(BN_ARCH_QWEN3)

const struct bn_role bn_roles[BN_R_COUNT] = {
	[BN_R_TOKEN_EMBD] = { "token_embd.weight",
	    "model.embed_tokens.weight", 0, BN_ROLE_EMBED,
	    BN_DIM_VOCAB, BN_DIM_HIDDEN, LL },
	[BN_R_ATTN_NORM] = { "attn_norm.weight", "input_layernorm.weight",
	    1, BN_ROLE_NORM, BN_DIM_NONE, BN_DIM_HIDDEN, LL },
	[BN_R_ATTN_Q] = { "attn_q.weight", "self_attn.q_proj.weight", 1,
	    BN_ROLE_PROJ, BN_DIM_Q, BN_DIM_HIDDEN, LL },
	[BN_R_ATTN_Q_BIAS] = { "attn_q.bias", "self_attn.q_proj.bias", 1,
	    BN_ROLE_BIAS, BN_DIM_NONE, BN_DIM_Q, Q2 },
	[BN_R_ATTN_K] = { "attn_k.weight", "self_attn.k_proj.weight", 1,
	    BN_ROLE_PROJ, BN_DIM_KV, BN_DIM_HIDDEN, LL },
	[BN_R_ATTN_K_BIAS] = { "attn_k.bias", "self_attn.k_proj.bias", 1,
	    BN_ROLE_BIAS, BN_DIM_NONE, BN_DIM_KV, Q2 },
	[BN_R_ATTN_V] = { "attn_v.weight", "self_attn.v_proj.weight", 1,
	    BN_ROLE_PROJ, BN_DIM_KV, BN_DIM_HIDDEN, LL },
	[BN_R_ATTN_V_BIAS] = { "attn_v.bias", "self_attn.v_proj.bias", 1,
	    BN_ROLE_BIAS, BN_DIM_NONE, BN_DIM_KV, Q2 },
	[BN_R_ATTN_Q_NORM] = { "attn_q_norm.weight", "self_attn.q_norm.weight",
	    1, BN_ROLE_NORM, BN_DIM_NONE, BN_DIM_HEAD, Q3 },
	[BN_R_ATTN_K_NORM] = { "attn_k_norm.weight", "self_attn.k_norm.weight",
	    1, BN_ROLE_NORM, BN_DIM_NONE, BN_DIM_HEAD, Q3 },
	[BN_R_ATTN_SUB_NORM] = { "attn_sub_norm.weight",
	    "self_attn.attn_sub_norm.weight", 1, BN_ROLE_NORM, BN_DIM_NONE,
	    BN_DIM_Q, BN, "self_attn.inner_attn_ln.weight" },
	[BN_R_ATTN_OUTPUT] = { "attn_output.weight",
	    "self_attn.o_proj.weight", 1, BN_ROLE_PROJ, BN_DIM_HIDDEN,
	    BN_DIM_Q, LL },
	[BN_R_FFN_NORM] = { "ffn_norm.weight",
	    "post_attention_layernorm.weight", 1, BN_ROLE_NORM, BN_DIM_NONE,
	    BN_DIM_HIDDEN, LL },
	[BN_R_FFN_GATE] = { "ffn_gate.weight", "mlp.gate_proj.weight", 1,
	    BN_ROLE_PROJ, BN_DIM_FFN, BN_DIM_HIDDEN, LL },
	[BN_R_FFN_UP] = { "ffn_up.weight", "mlp.up_proj.weight", 1,
	    BN_ROLE_PROJ, BN_DIM_FFN, BN_DIM_HIDDEN, LL },
	[BN_R_FFN_SUB_NORM] = { "ffn_sub_norm.weight",
	    "mlp.ffn_sub_norm.weight", 1, BN_ROLE_NORM, BN_DIM_NONE,
	    BN_DIM_FFN, BN, "mlp.ffn_layernorm.weight" },
	[BN_R_FFN_DOWN] = { "ffn_down.weight", "mlp.down_proj.weight", 1,
	    BN_ROLE_PROJ, BN_DIM_HIDDEN, BN_DIM_FFN, LL },
	[BN_R_OUTPUT_NORM] = { "output_norm.weight", "model.norm.weight", 0,
	    BN_ROLE_NORM, BN_DIM_NONE, BN_DIM_HIDDEN, LL },
	[BN_R_OUTPUT] = { "output.weight", "lm_head.weight", 0, BN_ROLE_HEAD,
	    BN_DIM_VOCAB, BN_DIM_HIDDEN, LL },
};

static const char layer_bnt[] = "blk.";
static const char layer_hf[] = "model.layers.";

void
bn_dims_from_config(struct bn_dims *d, const struct bn_config *c)
{
	d->d[BN_DIM_NONE] = 0;
	d->d[BN_DIM_VOCAB] = (uint64_t)c->vocab;
	d->d[BN_DIM_HIDDEN] = (uint64_t)c->hidden;
	d->d[BN_DIM_Q] = (uint64_t)c->heads * (uint64_t)c->head_dim;
	d->d[BN_DIM_KV] = (uint64_t)c->kv_heads * (uint64_t)c->head_dim;
	d->d[BN_DIM_FFN] = (uint64_t)c->ffn;
	d->d[BN_DIM_HEAD] = (uint64_t)c->head_dim;
}

int
bn_role_present(int id, int arch, int tied)
{
	if (id < 0 || id >= BN_R_COUNT ||
	    !(bn_roles[id].archs & BN_ARCH_BIT(arch)))
		return 0;
	return !(tied && bn_roles[id].kind == BN_ROLE_HEAD);
}

int
bn_role_is_proj(int id)
{
	return id >= 0 && id < BN_R_COUNT && bn_roles[id].kind == BN_ROLE_PROJ;
}

char *
bn_role_name(int id, int layer, char *buf, size_t size)
{
	if (bn_roles[id].layer)
		snprintf(buf, size, "%s%d.%s", layer_bnt, layer,
		    bn_roles[id].name);
	else
		snprintf(buf, size, "%s", bn_roles[id].name);
	return buf;
}

void
bn_role_shape(int id, const struct bn_dims *d, uint64_t *rows,
    uint64_t *cols)
{
	*rows = d->d[bn_roles[id].rows];
	*cols = d->d[bn_roles[id].cols];
}

/* After prefix pfx, a layer number written without leading zeros and a
 * dot: the rest of the name, else NULL. */
static const char *
layer_rest(const char *s, const char *pfx, unsigned long *layer)
{
	size_t n = strlen(pfx);
	const char *p;

	if (strncmp(s, pfx, n) != 0)
		return NULL;
	p = s + n;
	if (*p < '0' || *p > '9' || (p[0] == '0' && p[1] != '.'))
		return NULL;
	*layer = 0;
	while (*p >= '0' && *p <= '9' && *layer < 1000000)
		*layer = *layer * 10 + (unsigned long)(*p++ - '0');
	return *p == '.' ? p + 1 : NULL;
}

int
bn_role_of(const char *name, int *layer)
{
	unsigned long l;
	const char *rest = layer_rest(name, layer_bnt, &l);
	int i;

	for (i = 0; i < BN_R_COUNT; i++) {
		if (bn_roles[i].layer && rest != NULL &&
		    strcmp(rest, bn_roles[i].name) == 0) {
			*layer = (int)l;
			return i;
		}
		if (!bn_roles[i].layer && strcmp(name, bn_roles[i].name) == 0) {
			*layer = -1;
			return i;
		}
	}
	return -1;
}

int
bn_is_projection(const char *name)
{
	int layer;

	return bn_role_is_proj(bn_role_of(name, &layer));
}

const char *
bn_role_unexpected(const struct bn_config *c, const char *name)
{
	unsigned long l;
	int id, layer;

	if (layer_rest(name, layer_hf, &l) != NULL)
		return bn_has_suffix(name, ".rotary_emb.inv_freq") ? NULL :
		    "a Hugging Face tensor that no role maps";
	if (strncmp(name, layer_bnt, sizeof layer_bnt - 1) == 0) {
		if ((id = bn_role_of(name, &layer)) < 0)
			return "not a tensor of the table of roles";
		if (layer >= c->layers)
			return "a layer past the model's last";
		if (!bn_role_present(id, c->arch, c->tied))
			return "this architecture has no place for it";
		return NULL;
	}
	if (c->tied && strcmp(name, bn_roles[BN_R_OUTPUT].name) == 0)
		return "the model ties its output to token_embd";
	return NULL;
}

uint64_t
bn_rope_perm_heads(const struct bn_config *c, const char *name)
{
	int layer, id = bn_role_of(name, &layer);

	return id == BN_R_ATTN_Q ? (uint64_t)c->heads : id == BN_R_ATTN_K ?
	    (uint64_t)c->kv_heads : 0;
}

static int
copy(char *out, size_t size, const char *s)
{
	size_t n = strlen(s);

	if (n >= size)
		return -1;
	memcpy(out, s, n + 1);
	return 0;
}

/* Rename s from one column of the table (from_hf: the transformers
 * names, or a row's other name) to the other. */
static int
rename_role(const char *s, int from_hf, char *out, size_t size)
{
	const char *pin = from_hf ? layer_hf : layer_bnt;
	const char *pout = from_hf ? layer_bnt : layer_hf;
	unsigned long layer;
	const char *rest = layer_rest(s, pin, &layer);
	int i, n;

	for (i = 0; i < BN_R_COUNT; i++) {
		const struct bn_role *r = &bn_roles[i];
		const char *in = from_hf ? r->hf : r->name;
		const char *to = from_hf ? r->name : r->hf;

		if (!r->layer && strcmp(s, in) == 0)
			return copy(out, size, to);
		if (r->layer && rest != NULL && (strcmp(rest, in) == 0 ||
		    (from_hf && r->hf_alt != NULL &&
		    strcmp(rest, r->hf_alt) == 0))) {
			n = snprintf(out, size, "%s%lu.%s", pout, layer, to);
			return n < 0 || (size_t)n >= size ? -1 : 0;
		}
	}
	return copy(out, size, s);
}

int
bn_name_from_hf(const char *hf, char *out, size_t size)
{
	return rename_role(hf, 1, out, size);
}

int
bn_name_to_hf(const char *name, char *out, size_t size)
{
	return rename_role(name, 0, out, size);
}
