/* names.c: Hugging Face tensor names -> bnt (llama.cpp GGUF) names. */
#include <stdio.h>
#include <string.h>

#include "import.h"

static const struct {
	const char *hf;		/* suffix after "model.layers.N." */
	const char *bnt;	/* after "blk.N." */
} layer_names[] = {
	{ "input_layernorm.weight", "attn_norm.weight" },
	{ "mlp.down_proj.weight", "ffn_down.weight" },
	{ "mlp.ffn_sub_norm.weight", "ffn_sub_norm.weight" },
	{ "mlp.gate_proj.weight", "ffn_gate.weight" },
	{ "mlp.up_proj.weight", "ffn_up.weight" },
	{ "post_attention_layernorm.weight", "ffn_norm.weight" },
	{ "self_attn.attn_sub_norm.weight", "attn_sub_norm.weight" },
	{ "self_attn.k_proj.weight", "attn_k.weight" },
	{ "self_attn.o_proj.weight", "attn_output.weight" },
	{ "self_attn.q_proj.weight", "attn_q.weight" },
	{ "self_attn.v_proj.weight", "attn_v.weight" },
};

static const struct {
	const char *hf, *bnt;
} top_names[] = {
	{ "lm_head.weight", "output.weight" },
	{ "model.embed_tokens.weight", "token_embd.weight" },
	{ "model.norm.weight", "output_norm.weight" },
};

static int
copy(char *out, size_t size, const char *s)
{
	size_t n = strlen(s);

	if (n >= size)
		return -1;
	memcpy(out, s, n + 1);
	return 0;
}

int
bn_name_from_hf(const char *hf, char *out, size_t size)
{
	static const char pfx[] = "model.layers.";
	const char *p;
	unsigned long layer;
	size_t i;
	int n;

	for (i = 0; i < sizeof top_names / sizeof top_names[0]; i++)
		if (strcmp(hf, top_names[i].hf) == 0)
			return copy(out, size, top_names[i].bnt);
	if (strncmp(hf, pfx, sizeof pfx - 1) != 0)
		return copy(out, size, hf);
	p = hf + sizeof pfx - 1;
	if (*p < '0' || *p > '9' || (p[0] == '0' && p[1] != '.'))
		return copy(out, size, hf);
	layer = 0;
	while (*p >= '0' && *p <= '9' && layer < 1000000)
		layer = layer * 10 + (unsigned long)(*p++ - '0');
	if (*p++ != '.')
		return copy(out, size, hf);
	for (i = 0; i < sizeof layer_names / sizeof layer_names[0]; i++)
		if (strcmp(p, layer_names[i].hf) == 0) {
			n = snprintf(out, size, "blk.%lu.%s", layer,
			    layer_names[i].bnt);
			return n < 0 || (size_t)n >= size ? -1 : 0;
		}
	return copy(out, size, hf);
}
