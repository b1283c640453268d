/* t_hf.c: unit tests for the Hugging Face importers (import/hf.c,
 * import/safetensors.c) against the reference fixtures. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "dtype.h"
#include "fileset.h"
#include "import.h"
#include "json.h"

#include "check.h"



#define MAXT 128

struct t2 {
	char name[64];
	uint64_t out, in;
	signed char *codes;		/* out * in */
	float scale;
};

/* A sink that records what it gets. */
struct tsink {
	int order;		/* 1 config, 2 vocab, 3 tensors; -1: bad */
	int nconfig, nvocab;
	struct bn_kv kv;	/* copy of the config */
	struct bn_kv vkv;	/* copy of the vocab's kv */
	uint32_t n_tokens, n_merges;
	char tok[3][16];
	int type[3];
	char merge0[32];
	size_t nt;
	char names[MAXT][64];
	int dtypes[MAXT];
	uint64_t dims[MAXT][2];
	struct bnt_tensor q;	/* blk.0.attn_q.weight */
	unsigned char qscale[4];
	struct t2 t2[16];
	size_t nt2;
	/* bf16 pass: compare against t2 */
	const struct tsink *ref;
	uint64_t agree, total, scale_agree, ncompared;
	float maxdiff;
};

static int
s_config(void *ctx, const struct bn_kv *kv)
{
	struct tsink *t = ctx;
	size_t i;

	t->nconfig++;
	if (t->order > 0)
		t->order = -1;
	else
		t->order = 1;
	for (i = 0; i < kv->n; i++)
		bn_kv_set(&t->kv, kv->v[i].key, kv->v[i].val);
	return 0;
}

static int
s_vocab(void *ctx, const struct bn_vocab *v)
{
	struct tsink *t = ctx;
	size_t i;

	t->nvocab++;
	t->order = t->order > 1 || t->order < 0 ? -1 : 2;
	for (i = 0; i < v->kv.n; i++)
		bn_kv_set(&t->vkv, v->kv.v[i].key, v->kv.v[i].val);
	t->n_tokens = v->n_tokens;
	t->n_merges = v->n_merges;
	for (i = 0; i < 3 && i < v->n_tokens; i++) {
		snprintf(t->tok[i], sizeof t->tok[i], "%s", v->tokens[i]);
		t->type[i] = v->types != NULL ? v->types[i] : -1;
	}
	if (v->n_merges > 0)
		snprintf(t->merge0, sizeof t->merge0, "%s", v->merges[0]);
	return 0;
}

/* round(clip(W * (1 / mean|W|))), the absmean ternarisation. */
static void
compare_bf16(struct tsink *t, const struct bnt_tensor *bt, const void *data)
{
	const struct t2 *r = NULL;
	const uint16_t *w = data;
	double sum = 0;
	float mean, s, x, v;
	uint64_t i, n;
	size_t k;

	for (k = 0; k < t->ref->nt2; k++)
		if (strcmp(t->ref->t2[k].name, bt->name) == 0)
			r = &t->ref->t2[k];
	if (r == NULL)
		return;
	n = bt->nelem;
	if (bt->dtype != BN_DTYPE_BF16 || bt->dims[0] != r->out ||
	    bt->dims[1] != r->in) {
		printf("  %s: shape or type differs\n", bt->name);
		return;
	}
	for (i = 0; i < n; i++)
		sum += fabsf(bn_bf16_to_f32(w[i]));
	mean = (float)(sum / (double)n);
	s = 1.0f / (mean < 1e-5f ? 1e-5f : mean);
	for (i = 0; i < n; i++) {
		x = bn_bf16_to_f32(w[i]) * s;
		v = rintf(x);
		v = v > 1 ? 1 : v < -1 ? -1 : v;
		t->agree += (int)v == r->codes[i];
		t->total++;
	}
	t->ncompared++;
	t->scale_agree += bn_f32_to_bf16(s) == bn_f32_to_bf16(r->scale);
	if (fabsf(s - r->scale) / s > t->maxdiff)
		t->maxdiff = fabsf(s - r->scale) / s;
}

static int
s_tensor(void *ctx, const struct bnt_tensor *bt, const void *data,
    const void *scales)
{
	struct tsink *t = ctx;
	struct t2 *r;
	uint64_t i, j;
	uint16_t h;

	if (t->order < 0 || t->order > 3)
		t->order = -1;
	else
		t->order = 3;
	if (t->ref != NULL) {
		compare_bf16(t, bt, data);
		return 0;
	}
	if (t->nt < MAXT) {
		snprintf(t->names[t->nt], sizeof t->names[0], "%s", bt->name);
		t->dtypes[t->nt] = bt->dtype;
		t->dims[t->nt][0] = bt->ndim > 0 ? bt->dims[0] : 0;
		t->dims[t->nt][1] = bt->ndim > 1 ? bt->dims[1] : 0;
		t->nt++;
	}
	if (strcmp(bt->name, "blk.0.attn_q.weight") == 0) {
		t->q = *bt;
		t->q.name = NULL;
		if (scales != NULL)
			memcpy(t->qscale, scales, bt->scale_dtype ==
			    BN_DTYPE_F32 ? 4 : 2);
	}
	if (bt->dtype == BN_DTYPE_T2 && t->nt2 < 16) {
		r = &t->t2[t->nt2++];
		snprintf(r->name, sizeof r->name, "%s", bt->name);
		r->out = bt->dims[0];
		r->in = bt->dims[1];
		r->codes = malloc(r->out * r->in);
		for (i = 0; i < r->out; i++)
			for (j = 0; j < r->in; j++)
				r->codes[i * r->in + j] =
				    (signed char)bn_t2_get((const uint8_t *)data
				    + i * bt->row_bytes, j);
		memcpy(&h, scales, 2);
		r->scale = bt->scale_dtype == BN_DTYPE_BF16 ?
		    bn_bf16_to_f32(h) : 0;
	}
	return 0;
}

static void
tsink_init(struct tsink *t, struct bn_sink *s)
{
	memset(t, 0, sizeof *t);
	bn_kv_init(&t->kv);
	bn_kv_init(&t->vkv);
	s->ctx = t;
	s->config = s_config;
	s->vocab = s_vocab;
	s->tensor = s_tensor;
}

static void
tsink_free(struct tsink *t)
{
	size_t i;

	for (i = 0; i < t->nt2; i++)
		free(t->t2[i].codes);
	bn_kv_free(&t->kv);
	bn_kv_free(&t->vkv);
}

static int
kveq(const struct bn_kv *kv, const char *k, const char *v)
{
	const char *x = bn_kv_get(kv, k);

	if (x == NULL || strcmp(x, v) != 0) {
		printf("  %s = %s, expected %s\n", k, x ? x : "(none)", v);
		return 0;
	}
	return 1;
}

static int
has_name(const struct tsink *t, const char *name)
{
	size_t i;

	for (i = 0; i < t->nt; i++)
		if (strcmp(t->names[i], name) == 0)
			return (int)i + 1;
	return 0;
}

static int
sorted(const struct tsink *t)
{
	size_t i;

	for (i = 1; i < t->nt; i++)
		if (strcmp(t->names[i - 1], t->names[i]) >= 0)
			return 0;
	return 1;
}

static const char *fixtures;

static int
import_dir(const char *model, struct bn_sink *s, struct bn_err *e)
{
	struct bn_fileset fs;
	char path[512];
	int st;

	snprintf(path, sizeof path, "%s/%s", fixtures, model);
	bn_fileset_init(&fs);
	st = bn_fileset_from_dir(&fs, path, e);
	if (st == BN_OK)
		st = bn_import_hf(&fs, s, e);
	bn_fileset_free(&fs);
	return st;
}

/* The raw bytes of the q_proj weight_scale in bitnet-tiny. */
static int
raw_qscale(unsigned char out[2])
{
	struct bn_json_doc d;
	struct bn_file f;
	struct bn_err e;
	const struct bn_json *m;
	char path[512];
	uint64_t hlen = 0, b;
	int k, ok = 0;

	snprintf(path, sizeof path, "%s/bitnet-tiny/model.safetensors",
	    fixtures);
	if (bn_file_open(&f, path, &e) != BN_OK)
		return 0;
	for (k = 7; k >= 0; k--)
		hlen = hlen << 8 | f.data[k];
	if (bn_json_parse(&d, f.data + 8, hlen, &e) == BN_OK) {
		m = bn_json_get(d.root,
		    "model.layers.0.self_attn.q_proj.weight_scale");
		if (bn_json_u64(bn_json_at(bn_json_get(m, "data_offsets"), 0),
		    &b) == 0) {
			memcpy(out, f.data + 8 + hlen + b, 2);
			ok = 1;
		}
	}
	bn_json_free(&d);
	bn_file_close(&f);
	return ok;
}

static void
test_bitnet(void)
{
	struct tsink t, b;
	struct bn_sink s, sb;
	struct bn_err e;
	unsigned char raw[2];
	int i;

	tsink_init(&t, &s);
	e.msg[0] = '\0';
	CHECK(import_dir("bitnet-tiny", &s, &e) == BN_OK);
	if (e.msg[0] != '\0')
		printf("  bitnet-tiny: %s\n", e.msg);
	CHECK(t.nconfig == 1 && t.nvocab == 1 && t.order == 3);
	CHECK(kveq(&t.kv, "arch", "bitnet"));
	CHECK(kveq(&t.kv, "vocab_size", "4096"));
	CHECK(kveq(&t.kv, "hidden_size", "256"));
	CHECK(kveq(&t.kv, "n_layers", "2"));
	CHECK(kveq(&t.kv, "n_heads", "8"));
	CHECK(kveq(&t.kv, "n_kv_heads", "2"));
	CHECK(kveq(&t.kv, "head_dim", "32"));
	CHECK(kveq(&t.kv, "ffn_size", "768"));
	CHECK(kveq(&t.kv, "ctx_len", "512"));
	CHECK(kveq(&t.kv, "norm_eps", "1e-05"));
	CHECK(kveq(&t.kv, "rope_theta", "500000.0"));
	CHECK(kveq(&t.kv, "rope_style", "half"));
	CHECK(kveq(&t.kv, "act", "relu2"));
	CHECK(kveq(&t.kv, "tie_embeddings", "1"));
	CHECK(kveq(&t.kv, "bitlinear", "1"));
	CHECK(kveq(&t.kv, "bos_id", "0"));
	CHECK(kveq(&t.kv, "eos_id", "1"));
	CHECK(bn_kv_get(&t.kv, "pad_id") == NULL);
	CHECK(kveq(&t.kv, "source", "hf"));
	CHECK(strcmp(t.kv.v[0].key, "arch") == 0);

	CHECK(t.n_tokens == 4096);
	CHECK(strcmp(t.tok[0], "<|bos|>") == 0 && t.type[0] == BN_TOK_CONTROL);
	CHECK(strcmp(t.tok[1], "<|eos|>") == 0 && t.type[1] == BN_TOK_CONTROL);
	CHECK(t.type[2] == BN_TOK_NORMAL);
	CHECK(t.n_merges == 3838);
	CHECK(strcmp(t.merge0, "h e") == 0);
	CHECK(kveq(&t.vkv, "model", "gpt2"));
	CHECK(kveq(&t.vkv, "pre", "gpt2"));
	CHECK(kveq(&t.vkv, "add_bos", "0"));
	CHECK(kveq(&t.vkv, "bos_id", "0"));
	CHECK(kveq(&t.vkv, "eos_id", "1"));

	CHECK(t.nt == 24);
	CHECK(sorted(&t));
	CHECK(has_name(&t, "token_embd.weight"));
	CHECK(has_name(&t, "output_norm.weight"));
	CHECK(!has_name(&t, "output.weight"));
	CHECK(has_name(&t, "blk.0.attn_q.weight"));
	CHECK(has_name(&t, "blk.1.ffn_sub_norm.weight"));
	CHECK(has_name(&t, "blk.1.attn_sub_norm.weight"));
	CHECK((i = has_name(&t, "blk.0.ffn_down.weight")) &&
	    t.dtypes[i - 1] == BN_DTYPE_T2 && t.dims[i - 1][0] == 256 &&
	    t.dims[i - 1][1] == 768);
	CHECK((i = has_name(&t, "blk.1.attn_k.weight")) &&
	    t.dtypes[i - 1] == BN_DTYPE_T2 && t.dims[i - 1][0] == 64 &&
	    t.dims[i - 1][1] == 256);
	CHECK((i = has_name(&t, "token_embd.weight")) &&
	    t.dtypes[i - 1] == BN_DTYPE_BF16 && t.dims[i - 1][0] == 4096);
	for (i = 0; i < (int)t.nt; i++)
		CHECK(strstr(t.names[i], "weight_scale") == NULL);
	CHECK(t.q.dtype == BN_DTYPE_T2 && t.q.ndim == 2 &&
	    t.q.dims[0] == 256 && t.q.dims[1] == 256);
	CHECK(t.q.scale_kind == BNT_SCALE_TENSOR &&
	    t.q.scale_dtype == BN_DTYPE_BF16 &&
	    t.q.scale_flags == BNT_SCALE_DIV && t.q.nscales == 1);
	CHECK(raw_qscale(raw) && memcmp(raw, t.qscale, 2) == 0);
	CHECK(t.nt2 == 14);

	/* the packed codes are the absmean ternarisation of the bf16
	 * master weights */
	tsink_init(&b, &sb);
	b.ref = &t;
	CHECK(import_dir("bitnet-tiny-bf16", &sb, &e) == BN_OK);
	printf("  bitnet-tiny vs bitnet-tiny-bf16: %llu of %llu codes agree "
	    "in %llu tensors; %llu of %llu bf16 scales equal, max rel diff "
	    "%.3g\n", (unsigned long long)b.agree,
	    (unsigned long long)b.total, (unsigned long long)b.ncompared,
	    (unsigned long long)b.scale_agree,
	    (unsigned long long)b.ncompared, (double)b.maxdiff);
	CHECK(b.ncompared == 14 && b.total > 0 && b.agree == b.total);
	tsink_free(&b);
	tsink_free(&t);
}

static void
test_llama(void)
{
	struct tsink t;
	struct bn_sink s;
	struct bn_err e;

	tsink_init(&t, &s);
	e.msg[0] = '\0';
	CHECK(import_dir("austen-llama-6m", &s, &e) == BN_OK);
	if (e.msg[0] != '\0')
		printf("  austen-llama-6m: %s\n", e.msg);
	CHECK(kveq(&t.kv, "arch", "llama"));
	CHECK(kveq(&t.kv, "n_kv_heads", "4"));
	CHECK(kveq(&t.kv, "head_dim", "32"));
	CHECK(kveq(&t.kv, "rope_theta", "10000.0"));
	CHECK(kveq(&t.kv, "act", "silu"));
	CHECK(kveq(&t.kv, "tie_embeddings", "0"));
	CHECK(kveq(&t.kv, "bitlinear", "0"));
	CHECK(t.nt == 57 && sorted(&t));
	CHECK(has_name(&t, "output.weight"));
	CHECK(has_name(&t, "blk.5.ffn_gate.weight"));
	tsink_free(&t);
}

/* bitnet-tiny-bf16 without its safetensors: the .pt file is used */
static void
test_torch(void)
{
	struct bn_fileset fs, sub;
	struct bn_file *keep;
	struct tsink t;
	struct bn_sink s;
	struct bn_err e;
	char path[512];
	size_t i;
	int st;

	snprintf(path, sizeof path, "%s/bitnet-tiny-bf16", fixtures);
	bn_fileset_init(&fs);
	CHECK(bn_fileset_from_dir(&fs, path, &e) == BN_OK);
	keep = calloc(fs.n ? fs.n : 1, sizeof *keep);
	memset(&sub, 0, sizeof sub);
	sub.files = keep;
	for (i = 0; i < fs.n; i++)
		if (strstr(fs.files[i].name, ".safetensors") == NULL)
			keep[sub.n++] = fs.files[i];
	tsink_init(&t, &s);
	e.msg[0] = '\0';
	st = bn_import_hf(&sub, &s, &e);
	if (st != BN_OK)
		printf("  pytorch_model.pt: %s\n", e.msg);
	CHECK(st == BN_OK);
	CHECK(t.nconfig == 1 && t.nvocab == 1 && t.order == 3);
	CHECK(t.nt == 24 && !has_name(&t, "output.weight"));
	CHECK(has_name(&t, "blk.0.attn_q.weight"));
	tsink_free(&t);
	free(keep);
	bn_fileset_free(&fs);
}

/* In-memory files */

struct mem {
	unsigned char buf[4096];
	size_t len;
};

/* A safetensors file: header JSON, then n bytes of data. */
static void
mkst(struct mem *m, const char *hdr, const void *data, size_t n)
{
	size_t h = strlen(hdr), i;

	for (i = 0; i < 8; i++)
		m->buf[i] = (unsigned char)((uint64_t)h >> (8 * i));
	memcpy(m->buf + 8, hdr, h);
	if (n > 0)
		memcpy(m->buf + 8 + h, data, n);
	m->len = 8 + h + n;
}

static void
mkfile(struct bn_file *f, const char *name, const void *data, size_t len)
{
	memset(f, 0, sizeof *f);
	f->name = (char *)name;
	f->data = data;
	f->size = len;
}

static int
st_import(const char *hdr, const void *data, size_t n, struct tsink *t,
    struct bn_err *e)
{
	static struct mem m;
	struct bn_sink s;
	struct bn_file f;

	tsink_init(t, &s);
	mkst(&m, hdr, data, n);
	mkfile(&f, "x.safetensors", m.buf, m.len);
	e->msg[0] = '\0';
	return bn_import_safetensors(&f, &s, e);
}

static int
st_fails(const char *hdr, const void *data, size_t n, int want,
    const char *msg)
{
	struct tsink t;
	struct bn_err e;
	int st;

	st = st_import(hdr, data, n, &t, &e);
	tsink_free(&t);
	if (st != want || strstr(e.msg, msg) == NULL) {
		printf("  status %d (%s), expected %d (%s)\n", st, e.msg, want,
		    msg);
		return 0;
	}
	return 1;
}

static void
test_safetensors(void)
{
	static const unsigned char z[64];
	/* packed [1, 3]: columns hold codes (g0..g3) */
	static const unsigned char pk[3 + 4] = {
		0x00 | 1 << 2 | 2 << 4 | 1 << 6,	/* -1, 0, +1, 0 */
		0x02 | 2 << 2 | 2 << 4 | 0 << 6,	/* +1, +1, +1, -1 */
		0x01 | 1 << 2 | 1 << 4 | 1 << 6,	/* zeros */
		0x00, 0x00, 0x80, 0x3f			/* f32 1.0 */
	};
	struct bn_file f;
	struct bn_err e;
	struct tsink t;
	struct mem m;
	uint64_t r, c;
	int st;

	/* the packed layout on a small case */
	st = st_import("{\"a.weight\":{\"dtype\":\"U8\",\"shape\":[1,3],"
	    "\"data_offsets\":[0,3]},\"a.weight_scale\":{\"dtype\":\"F32\","
	    "\"shape\":[1],\"data_offsets\":[3,7]}}", pk, 7, &t, &e);
	CHECK(st == BN_OK && t.nt == 1 && t.nt2 == 1);
	if (t.nt2 == 1) {
		static const signed char want[4][3] = {
			{ -1, 1, 0 }, { 0, 1, 0 }, { 1, 1, 0 }, { 0, -1, 0 }
		};
		int same = 1;

		CHECK(strcmp(t.t2[0].name, "a.weight") == 0 &&
		    t.t2[0].out == 4 && t.t2[0].in == 3);
		for (r = 0; r < 4; r++)
			for (c = 0; c < 3; c++)
				same &= t.t2[0].codes[r * 3 + c] ==
				    want[r][c];
		CHECK(same);
	}
	tsink_free(&t);

	/* ordering: sorted by bnt name, not by offsets */
	st = st_import("{\"__metadata__\":{\"format\":\"pt\"},"
	    "\"model.norm.weight\":{\"dtype\":\"F32\",\"shape\":[2],"
	    "\"data_offsets\":[0,8]},\"lm_head.weight\":{\"dtype\":\"I8\","
	    "\"shape\":[],\"data_offsets\":[8,9]},\"z\":{\"dtype\":\"F64\","
	    "\"shape\":[0,3],\"data_offsets\":[9,9]}}", z, 9, &t, &e);
	CHECK(st == BN_OK && t.nt == 3 && sorted(&t) &&
	    strcmp(t.names[0], "output.weight") == 0 &&
	    strcmp(t.names[1], "output_norm.weight") == 0);
	tsink_free(&t);

	CHECK(st_fails("{\"x\":{\"dtype\":\"F32\",\"shape\":[2],"
	    "\"data_offsets\":[0,8]}}", z, 4, BN_EFORMAT,
	    "tensor 'x': data_offsets past end of file"));
	CHECK(st_fails("{\"x\":{\"dtype\":\"F32\",\"shape\":[3],"
	    "\"data_offsets\":[0,8]}}", z, 8, BN_EFORMAT,
	    "span 8 bytes, shape and dtype need 12"));
	CHECK(st_fails("{\"model.layers.0.mlp.up_proj.weight\":{\"dtype\":"
	    "\"BOOL\",\"shape\":[2],\"data_offsets\":[0,2]}}", z, 2,
	    BN_EUNSUPPORTED, "tensor 'model.layers.0.mlp.up_proj.weight': "
	    "unsupported dtype 'BOOL'"));
	CHECK(st_fails("{\"x\":{\"dtype\":\"F32\",\"shape\":[4294967296,"
	    "4294967296],\"data_offsets\":[0,8]}}", z, 8, BN_EFORMAT,
	    "overflows"));
	CHECK(st_fails("{\"x\":{\"dtype\":\"F32\",\"shape\":[-1],"
	    "\"data_offsets\":[0,8]}}", z, 8, BN_EFORMAT, "shape"));
	CHECK(st_fails("{\"x\":{\"dtype\":\"F32\",\"shape\":[1,1,1,1,1,1,1,"
	    "1,1],\"data_offsets\":[0,4]}}", z, 4, BN_EUNSUPPORTED,
	    "9 dimensions"));
	CHECK(st_fails("{\"x\":{\"dtype\":\"F32\",\"shape\":[1],"
	    "\"data_offsets\":[4,0]}}", z, 8, BN_EFORMAT, "out of order"));
	CHECK(st_fails("{\"x\":{\"dtype\":\"F32\",\"shape\":[1],"
	    "\"data_offsets\":[4,8]}}", z, 8, BN_EFORMAT, "unused bytes"));
	CHECK(st_fails("{\"x\":{\"dtype\":\"F32\",\"shape\":[1],"
	    "\"data_offsets\":[0,4]}}", z, 8, BN_EFORMAT, "after the last"));
	CHECK(st_fails("{\"x\":{\"dtype\":\"F32\",\"shape\":[2],"
	    "\"data_offsets\":[0,8]},\"y\":{\"dtype\":\"F32\",\"shape\":[1],"
	    "\"data_offsets\":[4,8]}}", z, 8, BN_EFORMAT, "overlap"));
	CHECK(st_fails("{\"model.norm.weight\":{\"dtype\":\"F32\",\"shape\":"
	    "[1],\"data_offsets\":[0,4]},\"output_norm.weight\":{\"dtype\":"
	    "\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}", z, 8,
	    BN_EFORMAT, "duplicate tensor 'output_norm.weight'"));
	CHECK(st_fails("{\"a.weight_scale\":{\"dtype\":\"F32\",\"shape\":[1],"
	    "\"data_offsets\":[0,4]}}", pk + 3, 4, BN_EUNSUPPORTED,
	    "no packed uint8"));
	CHECK(st_fails("{\"a.weight\":{\"dtype\":\"U8\",\"shape\":[1,1],"
	    "\"data_offsets\":[0,1]},\"a.weight_scale\":{\"dtype\":\"F32\","
	    "\"shape\":[1],\"data_offsets\":[1,5]}}", "\xff\x00\x00\x80\x3f",
	    5, BN_EFORMAT, "invalid ternary code 3"));
	CHECK(st_fails("{\"a.weight\":{\"dtype\":\"U8\",\"shape\":[1,1],"
	    "\"data_offsets\":[0,1]},\"a.weight_scale\":{\"dtype\":\"F32\","
	    "\"shape\":[1],\"data_offsets\":[1,5]}}", z, 5, BN_EFORMAT,
	    "not finite and non-zero"));
	CHECK(st_fails("{\"x\":[]}", z, 0, BN_EFORMAT, "not an object"));
	CHECK(st_fails("[]", z, 0, BN_EFORMAT, "not a JSON object"));
	CHECK(st_fails("{\"x\":{\"dtype\":\"F32\",\"shape\":[1],"
	    "\"data_offsets\":[0,4]}", z, 4, BN_EFORMAT, "JSON header: byte"));

	/* header length beyond the file, and tiny files */
	mkst(&m, "{}", NULL, 0);
	m.buf[0] = 200;
	mkfile(&f, "x", m.buf, m.len);
	tsink_init(&t, &(struct bn_sink){ 0 });
	CHECK(bn_import_safetensors(&f, &(struct bn_sink){ 0 }, &e) ==
	    BN_EFORMAT && strstr(e.msg, "past end of file") != NULL);
	m.buf[0] = 0;
	m.buf[5] = 1;	/* 1 TB header */
	CHECK(bn_import_safetensors(&f, &(struct bn_sink){ 0 }, &e) ==
	    BN_EFORMAT);
	mkfile(&f, "x", m.buf, 5);
	CHECK(bn_import_safetensors(&f, &(struct bn_sink){ 0 }, &e) ==
	    BN_EFORMAT && strstr(e.msg, "too short") != NULL);
	tsink_free(&t);
}

/* Sharded checkpoints, from in-memory files. */
static void
test_shards(void)
{
	static const unsigned char z[64];
	static struct mem s1, s2, s3;
	static const char idx[] = "{\"metadata\":{},\"weight_map\":{"
	    "\"model.norm.weight\":\"model-00002-of-00002.safetensors\","
	    "\"a.weight\":\"model-00001-of-00002.safetensors\","
	    "\"a.weight_scale\":\"model-00002-of-00002.safetensors\","
	    "\"lm_head.weight\":\"model-00001-of-00002.safetensors\"}}";
	static const char cfg[] = "{\"model_type\":\"llama\","
	    "\"tie_word_embeddings\":true,\"rope_theta\":10000,"
	    "\"eos_token_id\":[5,6],\"pad_token_id\":-1}";
	struct bn_file files[5];
	struct bn_fileset fs;
	struct bn_sink s;
	struct bn_err e;
	struct tsink t;
	int st;

	mkst(&s1, "{\"a.weight\":{\"dtype\":\"U8\",\"shape\":[1,2],"
	    "\"data_offsets\":[0,2]},\"lm_head.weight\":{\"dtype\":\"F32\","
	    "\"shape\":[1],\"data_offsets\":[2,6]}}", "\x55\x55\0\0\0\0", 6);
	mkst(&s2, "{\"model.norm.weight\":{\"dtype\":\"F32\",\"shape\":[1],"
	    "\"data_offsets\":[0,4]},\"a.weight_scale\":{\"dtype\":\"BF16\","
	    "\"shape\":[1],\"data_offsets\":[4,6]}}", "\0\0\0\0\x80\x3f", 6);
	mkst(&s3, "{\"model.norm.weight\":{\"dtype\":\"F32\",\"shape\":[1],"
	    "\"data_offsets\":[0,4]}}", z, 4);
	mkfile(&files[0], "d/model.safetensors.index.json", idx,
	    sizeof idx - 1);
	mkfile(&files[1], "d/model-00001-of-00002.safetensors", s1.buf,
	    s1.len);
	mkfile(&files[2], "d/model-00002-of-00002.safetensors", s2.buf,
	    s2.len);
	mkfile(&files[3], "d/config.json", cfg, sizeof cfg - 1);
	mkfile(&files[4], "d/reference.safetensors", s3.buf, s3.len);
	memset(&fs, 0, sizeof fs);
	fs.files = files;
	fs.n = 5;

	tsink_init(&t, &s);
	st = bn_import_hf(&fs, &s, &e);
	CHECK(st == BN_OK);
	if (st != BN_OK)
		printf("  shards: %s\n", e.msg);
	/* output.weight dropped: tied */
	CHECK(t.nt == 2 && strcmp(t.names[0], "a.weight") == 0 &&
	    strcmp(t.names[1], "output_norm.weight") == 0);
	CHECK(t.dtypes[0] == BN_DTYPE_T2 && t.dims[0][0] == 4);
	CHECK(kveq(&t.kv, "rope_theta", "10000") &&
	    kveq(&t.kv, "tie_embeddings", "1") && kveq(&t.kv, "eos_id", "5") &&
	    bn_kv_get(&t.kv, "pad_id") == NULL &&
	    kveq(&t.kv, "bitlinear", "0") &&
	    bn_kv_get(&t.kv, "n_kv_heads") == NULL);
	CHECK(t.nconfig == 1 && t.nvocab == 0);
	tsink_free(&t);

	/* a missing shard, with and without the index */
	fs.n = 2;
	tsink_init(&t, &s);
	CHECK(bn_import_hf(&fs, &s, &e) == BN_EFORMAT &&
	    strcmp(e.msg, "model.safetensors.index.json: missing shard "
	    "'model-00002-of-00002.safetensors'") == 0);
	CHECK(t.nt == 0 && t.nconfig == 0);
	tsink_free(&t);
	fs.files = files + 1;
	fs.n = 1;
	tsink_init(&t, &s);
	CHECK(bn_import_hf(&fs, &s, &e) == BN_EFORMAT &&
	    strcmp(e.msg, "missing shard "
	    "'model-00002-of-00002.safetensors'") == 0);
	tsink_free(&t);
	/* without the index, both shards */
	fs.n = 2;
	tsink_init(&t, &s);
	CHECK(bn_import_hf(&fs, &s, &e) == BN_OK && t.nt == 3);
	tsink_free(&t);
	/* a duplicate across shards */
	mkst(&s2, "{\"model.norm.weight\":{\"dtype\":\"F32\",\"shape\":[1],"
	    "\"data_offsets\":[0,4]},\"lm_head.weight\":{\"dtype\":\"F32\","
	    "\"shape\":[1],\"data_offsets\":[4,8]}}", z, 8);
	mkfile(&files[2], "d/model-00002-of-00002.safetensors", s2.buf,
	    s2.len);
	tsink_init(&t, &s);
	CHECK(bn_import_hf(&fs, &s, &e) == BN_EFORMAT &&
	    strcmp(e.msg, "duplicate tensor 'output.weight' (in "
	    "'model-00001-of-00002.safetensors' and "
	    "'model-00002-of-00002.safetensors')") == 0);
	tsink_free(&t);
	/* the index names a tensor a shard lacks */
	fs.files = files;
	fs.n = 3;
	tsink_init(&t, &s);
	CHECK(bn_import_hf(&fs, &s, &e) == BN_EFORMAT &&
	    strstr(e.msg, "tensor 'a.weight_scale': not in shard") != NULL);
	tsink_free(&t);
	/* nothing at all */
	fs.files = files + 3;
	fs.n = 2;
	tsink_init(&t, &s);
	CHECK(bn_import_hf(&fs, &s, &e) == BN_EFORMAT &&
	    strstr(e.msg, "no model weights") != NULL);
	tsink_free(&t);
}

static int
tok(const char *json, struct bn_vocab *v, struct bn_err *e)
{
	struct bn_file f;

	mkfile(&f, "tokenizer.json", json, strlen(json));
	e->msg[0] = '\0';
	return bn_import_tokenizer_json(&f, v, e);
}

static void
test_tokenizer(void)
{
	struct bn_vocab v;
	struct bn_err e;
	const char *l3 = "{\"added_tokens\":[{\"id\":3,\"content\":\"<s>\","
	    "\"special\":true},{\"id\":4,\"content\":\"<u>\","
	    "\"special\":false}],"
	    "\"pre_tokenizer\":{\"type\":\"Sequence\",\"pretokenizers\":["
	    "{\"type\":\"Split\",\"pattern\":{\"Regex\":\"(?i:'s|'t|'re|'ve|"
	    "'m|'ll|'d)|[^\\\\r\\\\n\\\\p{L}\\\\p{N}]?\\\\p{L}+|\\\\p{N}{1,3}| "
	    "?[^\\\\s\\\\p{L}\\\\p{N}]+[\\\\r\\\\n]*|\\\\s*[\\\\r\\\\n]+|"
	    "\\\\s+(?!\\\\S)|\\\\s+\"},\"behavior\":\"Isolated\"},"
	    "{\"type\":\"ByteLevel\",\"use_regex\":false}]},"
	    "\"post_processor\":{\"type\":\"Sequence\",\"processors\":["
	    "{\"type\":\"ByteLevel\"},{\"type\":\"TemplateProcessing\","
	    "\"single\":[{\"SpecialToken\":{\"id\":\"<s>\",\"type_id\":0}},"
	    "{\"Sequence\":{\"id\":\"A\",\"type_id\":0}}],\"special_tokens\":"
	    "{\"<s>\":{\"id\":\"<s>\",\"ids\":[3],\"tokens\":[\"<s>\"]}}}]},"
	    "\"model\":{\"type\":\"BPE\",\"vocab\":{\"a\":0,\"b\":1,\"ab\":2},"
	    "\"merges\":[[\"a\",\"b\"]]}}";

	CHECK(tok(l3, &v, &e) == BN_OK);
	if (e.msg[0] != '\0')
		printf("  %s\n", e.msg);
	CHECK(v.n_tokens == 5 && v.n_merges == 1 &&
	    strcmp(v.merges[0], "a b") == 0);
	CHECK(v.n_tokens == 5 && strcmp(v.tokens[3], "<s>") == 0 &&
	    v.types[3] == BN_TOK_CONTROL && v.types[4] == BN_TOK_USER &&
	    v.types[2] == BN_TOK_NORMAL);
	CHECK(kveq(&v.kv, "pre", "llama3") && kveq(&v.kv, "add_bos", "1") &&
	    kveq(&v.kv, "bos_id", "3") && kveq(&v.kv, "model", "gpt2"));
	bn_vocab_free(&v);

	CHECK(tok("{\"model\":{\"type\":\"Unigram\",\"vocab\":[]}}", &v, &e)
	    == BN_EUNSUPPORTED && strstr(e.msg, "Unigram") != NULL);
	CHECK(tok("{\"model\":{\"type\":\"WordPiece\",\"vocab\":{}}}", &v,
	    &e) == BN_EUNSUPPORTED && strstr(e.msg, "WordPiece") != NULL);
	CHECK(tok("{\"pre_tokenizer\":{\"type\":\"Metaspace\"},\"model\":{"
	    "\"type\":\"BPE\",\"vocab\":{\"a\":0},\"merges\":[]}}", &v, &e) ==
	    BN_EUNSUPPORTED);
	CHECK(tok("{\"pre_tokenizer\":{\"type\":\"ByteLevel\"},\"model\":{"
	    "\"type\":\"BPE\",\"vocab\":{\"a\":0,\"b\":2},\"merges\":[]}}",
	    &v, &e) == BN_EFORMAT && strstr(e.msg, "dense") != NULL);
	CHECK(tok("{\"pre_tokenizer\":{\"type\":\"ByteLevel\"},\"model\":{"
	    "\"type\":\"BPE\",\"vocab\":{\"a\":0,\"b\":0},\"merges\":[]}}",
	    &v, &e) == BN_EFORMAT && strstr(e.msg, "used twice") != NULL);
	CHECK(tok("{\"pre_tokenizer\":{\"type\":\"ByteLevel\"},\"added_tokens\""
	    ":[{\"id\":0,\"content\":\"x\",\"special\":true}],\"model\":{"
	    "\"type\":\"BPE\",\"vocab\":{\"a\":0},\"merges\":[]}}",
	    &v, &e) == BN_EFORMAT && strstr(e.msg, "used twice") != NULL);
	CHECK(tok("{\"pre_tokenizer\":{\"type\":\"ByteLevel\"},\"model\":{"
	    "\"type\":\"BPE\",\"vocab\":{\"a\":0},\"merges\":[\"ab\"]}}",
	    &v, &e) == BN_EFORMAT && strstr(e.msg, "merge 0") != NULL);
	CHECK(tok("{\"pre_tokenizer\":{\"type\":\"ByteLevel\","
	    "\"use_regex\":false},\"model\":{\"type\":\"BPE\",\"vocab\":"
	    "{\"a\":0,\"b\":1},\"merges\":[\"a b\"]}}", &v, &e) == BN_OK &&
	    kveq(&v.kv, "pre", "default") && kveq(&v.kv, "add_bos", "0") &&
	    v.n_merges == 1 && strcmp(v.merges[0], "a b") == 0);
	bn_vocab_free(&v);
	CHECK(tok("[1]", &v, &e) == BN_EFORMAT);
	CHECK(tok("{\"model\":", &v, &e) == BN_EFORMAT &&
	    strncmp(e.msg, "byte 9: ", 8) == 0);
}

static void
test_config(void)
{
	struct bn_file f;
	struct bn_kv kv;
	struct bn_err e;
	const char *c1 = "{\"model_type\":\"qwen2\",\"hidden_size\":64,"
	    "\"num_attention_heads\":4,\"rope_theta\":1000000.0,"
	    "\"rms_norm_eps\":1e-06,\"bos_token_id\":null}";
	const char *c2 = "{\"hidden_size\":64.0}";
	const char *c3 = "{\"tie_word_embeddings\":1}";

	mkfile(&f, "config.json", c1, strlen(c1));
	CHECK(bn_import_config_json(&f, &kv, &e) == BN_OK);
	CHECK(kveq(&kv, "arch", "qwen2") && kveq(&kv, "head_dim", "16") &&
	    kveq(&kv, "n_kv_heads", "4") &&
	    kveq(&kv, "rope_theta", "1000000.0") &&
	    kveq(&kv, "norm_eps", "1e-06") &&
	    kveq(&kv, "tie_embeddings", "0") &&
	    bn_kv_get(&kv, "bos_id") == NULL);
	bn_kv_free(&kv);
	mkfile(&f, "config.json", c2, strlen(c2));
	CHECK(bn_import_config_json(&f, &kv, &e) == BN_EFORMAT &&
	    strcmp(e.msg, "'hidden_size': expected a non-negative integer")
	    == 0);
	mkfile(&f, "config.json", c3, strlen(c3));
	CHECK(bn_import_config_json(&f, &kv, &e) == BN_EFORMAT);
}

int
main(void)
{
	struct stat sb;

	fixtures = "../shared/fixtures";
	if (stat(fixtures, &sb) != 0)
		fixtures = "tests/fixtures";
	test_bitnet();
	test_llama();
	test_torch();
	test_safetensors();
	test_shards();
	test_tokenizer();
	test_config();
	printf("%u passed, %u failed\n", check_pass, check_fail);
	return check_fail != 0;
}
