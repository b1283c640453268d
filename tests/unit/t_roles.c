/* t_roles.c: the table of tensor roles (common/roles.h), the name
 * mapping it drives, and the UTF-8 check of common/unicode.h. */
#include <stdint.h>
#include <string.h>

#include "check.h"
#include "roles.h"
#include "unicode.h"

/* from_hf(hf) == bnt and to_hf(bnt) == hf */
static int
pair(const char *hf, const char *bnt)
{
	char a[96], b[96];

	return bn_name_from_hf(hf, a, sizeof a) == 0 && strcmp(a, bnt) == 0 &&
	    bn_name_to_hf(bnt, b, sizeof b) == 0 && strcmp(b, hf) == 0;
}

static void
names(void)
{
	char buf[96];
	int l;

	CHECK(pair("model.embed_tokens.weight", "token_embd.weight"));
	CHECK(pair("lm_head.weight", "output.weight"));
	CHECK(pair("model.norm.weight", "output_norm.weight"));
	CHECK(pair("model.layers.0.self_attn.q_proj.weight",
	    "blk.0.attn_q.weight"));
	CHECK(pair("model.layers.17.mlp.down_proj.weight",
	    "blk.17.ffn_down.weight"));
	CHECK(pair("model.layers.3.self_attn.attn_sub_norm.weight",
	    "blk.3.attn_sub_norm.weight"));
	CHECK(pair("model.layers.3.mlp.ffn_sub_norm.weight",
	    "blk.3.ffn_sub_norm.weight"));
	/* 1bitLLM's (and llama.cpp's converter's) names for the sub-norms
	 * are read, never written */
	CHECK(bn_name_from_hf("model.layers.3.self_attn.inner_attn_ln.weight",
	    buf, sizeof buf) == 0 && strcmp(buf,
	    "blk.3.attn_sub_norm.weight") == 0);
	CHECK(bn_name_from_hf("model.layers.0.mlp.ffn_layernorm.weight", buf,
	    sizeof buf) == 0 && strcmp(buf, "blk.0.ffn_sub_norm.weight") == 0);
	CHECK(pair("model.layers.2.post_attention_layernorm.weight",
	    "blk.2.ffn_norm.weight"));
	/* unknown names and malformed layer numbers pass unchanged */
	CHECK(pair("model.layers.2.self_attn.rotary_emb.inv_freq",
	    "model.layers.2.self_attn.rotary_emb.inv_freq"));
	CHECK(bn_name_from_hf("model.layers.01.mlp.up_proj.weight", buf,
	    sizeof buf) == 0 && strcmp(buf,
	    "model.layers.01.mlp.up_proj.weight") == 0);
	CHECK(bn_name_from_hf("model.layers.x.mlp.up_proj.weight", buf,
	    sizeof buf) == 0 && strcmp(buf,
	    "model.layers.x.mlp.up_proj.weight") == 0);
	/* too small an output */
	CHECK(bn_name_from_hf("model.layers.3.mlp.up_proj.weight", buf, 10) ==
	    -1);
	CHECK(bn_name_to_hf("output.weight", buf, 5) == -1);
	/* role of a name */
	CHECK(bn_role_of("blk.12.ffn_gate.weight", &l) == BN_R_FFN_GATE &&
	    l == 12);
	CHECK(bn_role_of("output_norm.weight", &l) == BN_R_OUTPUT_NORM &&
	    l == -1);
	CHECK(bn_role_of("blk.1.ffn_gate.bias", &l) == -1);
	CHECK(bn_role_of("blk.ffn_gate.weight", &l) == -1);
	CHECK(bn_role_of("ffn_gate.weight", &l) == -1);
	CHECK(bn_is_projection("blk.0.attn_output.weight"));
	CHECK(!bn_is_projection("blk.0.attn_norm.weight"));
	CHECK(!bn_is_projection("blk.0.attn_sub_norm.weight"));
	CHECK(!bn_is_projection("token_embd.weight"));
	CHECK(!bn_is_projection("output.weight"));
	CHECK(strcmp(bn_role_name(BN_R_ATTN_V, 5, buf, sizeof buf),
	    "blk.5.attn_v.weight") == 0);
	CHECK(strcmp(bn_role_name(BN_R_OUTPUT, 5, buf, sizeof buf),
	    "output.weight") == 0);
}

static void
shapes(void)
{
	struct bn_config c = { .arch = BN_ARCH_BITNET, .vocab = 100,
	    .hidden = 64, .layers = 2, .heads = 4, .kv_heads = 2,
	    .head_dim = 24, .ffn = 96, .tied = 1 };
	struct bn_dims d;
	uint64_t r, k;
	int id, nl = 0, nt = 0;

	bn_dims_from_config(&d, &c);
	bn_role_shape(BN_R_ATTN_Q, &d, &r, &k);
	CHECK(r == 96 && k == 64);
	bn_role_shape(BN_R_ATTN_K, &d, &r, &k);
	CHECK(r == 48 && k == 64);
	bn_role_shape(BN_R_ATTN_OUTPUT, &d, &r, &k);
	CHECK(r == 64 && k == 96);
	bn_role_shape(BN_R_ATTN_SUB_NORM, &d, &r, &k);
	CHECK(r == 0 && k == 96);
	bn_role_shape(BN_R_FFN_DOWN, &d, &r, &k);
	CHECK(r == 64 && k == 96);
	bn_role_shape(BN_R_TOKEN_EMBD, &d, &r, &k);
	CHECK(r == 100 && k == 64);
	for (id = 0; id < BN_R_COUNT; id++)
		if (bn_role_present(id, c.arch, c.tied)) {
			if (bn_roles[id].layer)
				nl++;
			else
				nt++;
		}
	CHECK(nl == 11 && nt == 2);	/* tied: no output.weight */
	CHECK(bn_role_present(BN_R_OUTPUT, BN_ARCH_BITNET, 0));
	CHECK(!bn_role_present(BN_R_FFN_SUB_NORM, BN_ARCH_LLAMA, 0));
	CHECK(bn_role_present(BN_R_FFN_NORM, BN_ARCH_LLAMA, 0));
	CHECK(!bn_role_present(-1, BN_ARCH_LLAMA, 0));
	CHECK(!bn_role_present(BN_R_COUNT, BN_ARCH_LLAMA, 0));
	CHECK(bn_rope_perm_heads(&c, "blk.1.attn_q.weight") == 4);
	CHECK(bn_rope_perm_heads(&c, "blk.1.attn_k.weight") == 2);
	CHECK(bn_rope_perm_heads(&c, "blk.1.attn_v.weight") == 0);
	/* what a model must not hold */
	c.arch = BN_ARCH_LLAMA;
	c.tied = 0;
	CHECK(bn_role_unexpected(&c, "blk.1.attn_q.weight") == NULL);
	CHECK(bn_role_unexpected(&c, "output.weight") == NULL);
	CHECK(bn_role_unexpected(&c, "optim.m.blk.0.attn_q.weight") == NULL);
	CHECK(bn_role_unexpected(&c,
	    "model.layers.0.self_attn.rotary_emb.inv_freq") == NULL);
	CHECK(bn_role_unexpected(&c, "blk.0.attn_sub_norm.weight") != NULL);
	CHECK(bn_role_unexpected(&c, "blk.0.attn_q.bias") != NULL);
	CHECK(bn_role_unexpected(&c, "blk.2.attn_q.weight") != NULL);
	CHECK(bn_role_unexpected(&c, "blk.0.attn_qq.weight") != NULL);
	CHECK(bn_role_unexpected(&c,
	    "model.layers.0.self_attn.inner_attn_ln.weight") != NULL);
	c.tied = 1;
	CHECK(bn_role_unexpected(&c, "output.weight") != NULL);
	c.arch = BN_ARCH_BITNET;
	CHECK(bn_role_unexpected(&c, "blk.0.attn_sub_norm.weight") == NULL);
	/* norms and biases are vectors, the rest matrices */
	for (id = 0; id < BN_R_COUNT; id++)
		CHECK((bn_roles[id].kind == BN_ROLE_NORM ||
		    bn_roles[id].kind == BN_ROLE_BIAS) ==
		    (bn_roles[id].rows == BN_DIM_NONE));
	CHECK(pair("model.layers.4.self_attn.k_proj.bias",
	    "blk.4.attn_k.bias"));
	CHECK(pair("model.layers.4.self_attn.q_norm.weight",
	    "blk.4.attn_q_norm.weight"));
	CHECK(bn_role_present(BN_R_ATTN_V_BIAS, BN_ARCH_QWEN2, 0));
	CHECK(!bn_role_present(BN_R_ATTN_V_BIAS, BN_ARCH_QWEN3, 0));
	CHECK(bn_role_present(BN_R_ATTN_K_NORM, BN_ARCH_QWEN3, 0));
	CHECK(!bn_role_present(BN_R_ATTN_K_NORM, BN_ARCH_LLAMA, 0));
	bn_role_shape(BN_R_ATTN_Q_NORM, &d, &r, &k);
	CHECK(r == 0 && k == 24);
}

static void
utf8(void)
{
	static const struct {
		const char *s;
		int ok;
	} v[] = {
		{ "", 1 }, { "abc", 1 }, { "\xc3\xa9", 1 },
		{ "\xe2\x82\xac", 1 }, { "\xf0\x9f\x98\x80", 1 },
		{ "\xc0\xaf", 0 },		/* overlong */
		{ "\xe0\x80\xaf", 0 },		/* overlong */
		{ "\xed\xa0\x80", 0 },		/* surrogate */
		{ "\xf4\x90\x80\x80", 0 },	/* past U+10FFFF */
		{ "\xc3", 0 },			/* cut */
		{ "\x80", 0 },			/* lone continuation */
		{ "a\xff", 0 },
	};
	size_t i;

	for (i = 0; i < sizeof v / sizeof v[0]; i++)
		CHECK(bn_utf8_valid((const unsigned char *)v[i].s,
		    strlen(v[i].s)) == v[i].ok);
	/* an embedded NUL is a valid code point */
	CHECK(bn_utf8_valid((const unsigned char *)"a\0b", 3) == 1);
}

int
main(void)
{
	names();
	shapes();
	utf8();
	return check_done();
}
