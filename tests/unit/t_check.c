/* t_check.c: unit tests for bnverify's checks and comparisons
 * (inspect/check.c, inspect/compare.c): the corruption corpus of
 * tests/fixtures/bad, and hand-made records and tensor sets. */
#include <glob.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../inspect/check.h"
#include "compare.h"
#include "config.h"
#include "dtype.h"
#include "model.h"

#include "check.h"

#define BAD "tests/fixtures/bad/"

/* Check the stream at path with c (initialized here); returns the
 * reader's last status, or BN_ENOINPUT. */
static int
check_file(struct bn_check *c, const char *path, struct bn_tset *ref,
    double tol, int allow_nonfinite)
{
	struct bnt_reader *r;
	struct bnt_record rec;
	FILE *fp;
	int st;

	bn_check_init(c, ref, tol, allow_nonfinite);
	if ((fp = fopen(path, "rb")) == NULL) {
		fprintf(stderr, "%s: cannot open\n", path);
		return BN_ENOINPUT;
	}
	r = bnt_reader_open(fp, path);
	while ((st = bnt_read_next(r, &rec)) == BN_OK)
		CHECK(bn_check_record(c, &rec) == BN_OK);
	CHECK(bn_check_finish(c, st, bnt_reader_error(r)) == BN_OK);
	bnt_reader_close(r);
	fclose(fp);
	return st;
}

/* Has rep exactly one problem, about tensor (NULL: none) with message
 * msg? */
static int
one_problem(const struct bn_report *rep, long long record,
    const char *tensor, const char *msg)
{
	const struct bn_problem *p = rep->p;

	if (rep->np != 1) {
		fprintf(stderr, "  %zu problems, want 1 (%s)\n", rep->np, msg);
		return 0;
	}
	if (p->record != record || (tensor == NULL) != (p->tensor == NULL) ||
	    (tensor != NULL && strcmp(tensor, p->tensor) != 0) ||
	    strcmp(p->msg, msg) != 0) {
		fprintf(stderr, "  got %lld '%s': '%s', want '%s'\n",
		    p->record, p->tensor ? p->tensor : "", p->msg, msg);
		return 0;
	}
	return 1;
}

static void
test_good(void)
{
	struct bn_check c;
	struct bn_tset ref = { NULL, 0, 0 };
	struct bn_err e;
	FILE *fp;
	size_t i;

	CHECK(check_file(&c, BAD "good.bnt", NULL, -1, 0) == BN_END);
	CHECK(c.rep.np == 0);
	CHECK(c.rep.records == 4 && c.rep.tensors == 2);
	CHECK(c.rep.nc == 0);
	bn_check_free(&c);

	/* against itself: every tensor compared, identical */
	CHECK((fp = fopen(BAD "good.bnt", "rb")) != NULL);
	CHECK(bn_load_reference(fp, "good.bnt", &ref, &e) == BN_OK);
	fclose(fp);
	CHECK(ref.n == 2);
	CHECK(check_file(&c, BAD "good.bnt", &ref, 0, 0) == BN_END);
	CHECK(c.rep.np == 0);
	CHECK(c.rep.nc == 2);
	for (i = 0; i < c.rep.nc; i++) {
		CHECK(c.rep.c[i].max_abs == 0 && c.rep.c[i].rms == 0);
		CHECK(c.rep.c[i].cosine == 1 && !c.rep.c[i].fail);
	}
	CHECK(c.rep.c[0].agree == 1);	/* w.t2 against its own codes */
	CHECK(c.rep.c[1].agree < 0);	/* v.f32 has none */
	bn_check_free(&c);
	for (i = 0; i < ref.n; i++)
		CHECK(!ref.v[i].seen);
	bn_tset_free(&ref);
}

/* The bnt-* files: what tests/gen/mkbad.c did to each, as the one
 * problem (the reader's) says it. */
static const struct {
	const char *prefix, *says;
} damage[] = {
	{ "bnt-absurd-meta-len", "metadata of 1099511627776 bytes exceeds" },
	{ "bnt-absurd-shape", "tensor 'w.t2': shape overflows" },
	{ "bnt-bad-dtype", "tensor 'w.t2': bad type code 77" },
	{ "bnt-bad-magic", "not a bnt stream (bad magic)" },
	{ "bnt-bad-version", "unsupported bnt version 99" },
	{ "bnt-data-past-end", "truncated payload" },
	{ "bnt-empty", "empty input" },
	{ "bnt-flip-file-header", "file header checksum mismatch" },
	{ "bnt-flip-metadata", "record checksum mismatch" },
	{ "bnt-flip-padding", "nonzero metadata padding" },
	{ "bnt-flip-payload", "record checksum mismatch" },
	{ "bnt-flip-record-header", "record header checksum mismatch" },
	{ "bnt-no-end", "truncated stream (no END record)" },
	{ "bnt-raw-len-mismatch", "does not match its shape" },
	{ "bnt-trunc-header", "truncated file header (30 of 64 bytes)" },
	{ "bnt-trunc-rec", "truncated stream (no END record)" },
	{ "bnt-trunc-", "truncated " },
	{ "bnt-unknown-critical-kind", "unknown critical record kind" },
	{ "bnt-unknown-feature", "unknown required feature flags" },
	{ "bnt-unknown-record-flag", "unknown record flags" },
};

static void
test_damaged(void)
{
	struct bn_check c;
	glob_t g;
	const char *base, *says;
	size_t i, k;
	int st;

	CHECK(glob(BAD "bnt-*.bnt", 0, NULL, &g) == 0);
	CHECK(g.gl_pathc >= 30);
	for (i = 0; i < g.gl_pathc; i++) {
		base = g.gl_pathv[i] + strlen(BAD);
		says = NULL;
		for (k = 0; says == NULL && k < sizeof damage /
		    sizeof damage[0]; k++)
			if (strncmp(base, damage[k].prefix,
			    strlen(damage[k].prefix)) == 0)
				says = damage[k].says;
		CHECK(says != NULL);
		st = check_file(&c, g.gl_pathv[i], NULL, -1, 0);
		CHECK(st < 0);
		/* one problem, about the stream as a whole */
		CHECK(c.rep.np == 1 && c.rep.p[0].record == -1 &&
		    c.rep.p[0].tensor == NULL);
		if (c.rep.np == 1 && says != NULL &&
		    strstr(c.rep.p[0].msg, says) == NULL) {
			fprintf(stderr, "  %s: '%s'\n", base, c.rep.p[0].msg);
			CHECK(!"the damage named");
		}
		bn_check_free(&c);
	}
	globfree(&g);
}

static void
test_invariants(void)
{
	struct bn_check c;

	CHECK(check_file(&c, BAD "inv-ternary-code.bnt", NULL, -1, 0) ==
	    BN_END);
	CHECK(one_problem(&c.rep, 1, "w.t2", "invalid ternary code at "
	    "element 0 (payload byte 0)"));
	CHECK(c.rep.p[0].offset == 128);
	bn_check_free(&c);
	CHECK(check_file(&c, BAD "inv-nan.bnt", NULL, -1, 0) == BN_END);
	CHECK(one_problem(&c.rep, 2, "v.f32", "1 non-finite values, the "
	    "first at element 0"));
	bn_check_free(&c);
	CHECK(check_file(&c, BAD "inv-nan.bnt", NULL, -1, 1) == BN_END);
	CHECK(c.rep.np == 0);
	bn_check_free(&c);
	CHECK(check_file(&c, BAD "inv-zero-scale.bnt", NULL, -1, 0) ==
	    BN_END);
	CHECK(one_problem(&c.rep, 1, "w.t2", "scale 0 is 0"));
	bn_check_free(&c);
}

/* A whole llama config of vocab 8 in kv. */
static void
llama_kv(struct bn_kv *kv)
{
	bn_kv_free(kv);
	bn_kv_set(kv, "arch", "llama");
	bn_kv_set(kv, "vocab_size", "8");
	bn_kv_set(kv, "hidden_size", "4");
	bn_kv_set(kv, "n_layers", "2");
	bn_kv_set(kv, "n_heads", "2");
	bn_kv_set(kv, "ffn_size", "6");
	bn_kv_set(kv, "rope_style", "half");
}

/* bn_config_check of the llama config with key set to val: the
 * message, "" if it passes. */
static const char *
rule(const char *key, const char *val)
{
	static struct bn_err e;
	struct bn_kv kv;
	int st;

	bn_kv_init(&kv);
	llama_kv(&kv);
	bn_kv_set(&kv, key, val);
	st = bn_config_check(&kv, &e);
	bn_kv_free(&kv);
	return st == BN_OK ? "" : e.msg;
}

/* The rules of common/config.c, one case each. */
static void
test_config_rules(void)
{
	struct bn_kv kv, vkv;
	struct bn_config c;
	struct bn_err e;

	CHECK(strcmp(rule("source", "x"), "") == 0);
	CHECK(strcmp(rule("n_layers", "0"), "config: n_layers is 0; it "
	    "must be at least 1") == 0);
	CHECK(strcmp(rule("n_layers", "two"), "config: bad n_layers "
	    "'two'") == 0);
	CHECK(strcmp(rule("n_layers", "-1"), "config: bad n_layers "
	    "'-1'") == 0);
	CHECK(strcmp(rule("ctx_len", "0"), "config: ctx_len is 0; it must "
	    "be at least 1") == 0);
	CHECK(strcmp(rule("vocab_size", "0"), "config: vocab_size is 0; it "
	    "must be at least 1") == 0);
	CHECK(strcmp(rule("n_kv_heads", "0"), "config: n_kv_heads is 0; it "
	    "must be at least 1") == 0);
	CHECK(strcmp(rule("n_kv_heads", "3"), "config: n_heads 2 is not a "
	    "multiple of n_kv_heads 3") == 0);
	CHECK(strcmp(rule("head_dim", "3"), "config: bad head_dim 3 (an "
	    "even number above 0)") == 0);
	CHECK(strcmp(rule("norm_eps", "-1"), "config: bad norm_eps '-1' (a "
	    "finite number above 0)") == 0);
	CHECK(strcmp(rule("norm_eps", "1e-50"), "config: bad norm_eps "
	    "'1e-50' (a finite number above 0)") == 0);
	CHECK(strcmp(rule("rope_theta", "0"), "config: bad rope_theta '0' "
	    "(a finite number above 0)") == 0);
	CHECK(strcmp(rule("rope_theta", "1e4x"), "config: bad rope_theta "
	    "'1e4x' (a finite number above 0)") == 0);
	CHECK(strcmp(rule("rope_theta", "inf"), "config: bad rope_theta "
	    "'inf' (a finite number above 0)") == 0);
	CHECK(strcmp(rule("tie_embeddings", "2"), "config: tie_embeddings "
	    "is 2; it must be 0 or 1") == 0);
	CHECK(strcmp(rule("bos_id", "7"), "") == 0);
	CHECK(strcmp(rule("bos_id", "8"), "config: bos_id 8 is not below "
	    "vocab_size 8") == 0);
	CHECK(strcmp(rule("pad_id", "1000000"), "config: pad_id 1000000 is "
	    "not below vocab_size 8") == 0);
	CHECK(strcmp(rule("rope_style", "spiral"), "config: unknown "
	    "rope_style 'spiral'") == 0);
	CHECK(strcmp(rule("act", "gelu"), "config: unsupported act "
	    "'gelu'") == 0);
	CHECK(strcmp(rule("rope_scaling", "yarn"), "config: unsupported "
	    "rope_scaling 'yarn'") == 0);
	CHECK(strcmp(rule("rope_orig_ctx_len", "0"), "") == 0); /* unused */
	CHECK(strcmp(rule("rope_scaling", "llama3"), "") == 0);
	/* an arch bntools does not run: only the keys present are judged;
	 * bn_config_from_kv refuses it */
	CHECK(strcmp(rule("arch", "gpt2"), "") == 0);
	bn_kv_init(&kv);
	bn_kv_set(&kv, "arch", "gpt2");
	bn_kv_set(&kv, "n_layers", "0");
	CHECK(bn_config_check(&kv, &e) == BN_EFORMAT &&
	    strcmp(e.msg, "config: n_layers is 0; it must be at least 1") == 0);
	bn_kv_set(&kv, "n_layers", "2");
	CHECK(bn_config_check(&kv, &e) == BN_OK);
	CHECK(bn_config_from_kv(&c, &kv, &e) == BN_EUNSUPPORTED &&
	    strcmp(e.msg, "config: unsupported arch 'gpt2'") == 0);
	bn_kv_free(&kv);
	bn_kv_set(&kv, "source", "a config of notes only");
	CHECK(bn_config_check(&kv, &e) == BN_OK);
	/* a known arch needs its dimensions */
	bn_kv_set(&kv, "arch", "bitnet");
	CHECK(bn_config_check(&kv, &e) == BN_EFORMAT &&
	    strcmp(e.msg, "config: vocab_size is missing") == 0);
	llama_kv(&kv);
	CHECK(bn_config_from_kv(&c, &kv, &e) == BN_OK && c.bos == -1 &&
	    c.pad == -1 && c.head_dim == 2 && c.kv_heads == 2);

	/* the tokenizer alone, and against the config */
	bn_kv_init(&vkv);
	bn_kv_set(&vkv, "bos_id", "2");
	CHECK(bn_config_check_vocab(NULL, &vkv, 3, &e) == BN_OK);
	bn_kv_set(&vkv, "unk_id", "3");
	CHECK(bn_config_check_vocab(NULL, &vkv, 3, &e) == BN_EFORMAT &&
	    strcmp(e.msg, "tokenizer: unk_id '3' is not a token id (of 3)") ==
	    0);
	bn_kv_set(&vkv, "unk_id", "x");
	CHECK(bn_config_check_vocab(NULL, &vkv, 3, &e) == BN_EFORMAT);
	bn_kv_free(&vkv);
	bn_kv_set(&vkv, "bos_id", "2");
	/* fewer tokens than rows: padding, allowed */
	CHECK(bn_config_check_vocab(&kv, &vkv, 3, &e) == BN_OK);
	CHECK(bn_config_check_vocab(&kv, &vkv, 8, &e) == BN_OK);
	CHECK(bn_config_check_vocab(&kv, &vkv, 9, &e) == BN_EFORMAT &&
	    strcmp(e.msg, "tokenizer: 9 tokens, more than the config's "
	    "vocab_size 8 (token ids 8 and above have no embedding)") == 0);
	bn_kv_set(&kv, "eos_id", "5");
	CHECK(bn_config_check_vocab(&kv, &vkv, 5, &e) == BN_EFORMAT &&
	    strcmp(e.msg, "config: eos_id 5 is not a token of the tokenizer "
	    "(of 5)") == 0);
	CHECK(bn_config_check_vocab(&kv, &vkv, 6, &e) == BN_OK);
	/* a config bad on its own is bn_config_check's to report */
	bn_kv_set(&kv, "n_layers", "0");
	CHECK(bn_config_check_vocab(&kv, &vkv, 100, &e) == BN_OK);
	bn_kv_free(&vkv);
	bn_kv_free(&kv);
}

static void
test_config_vocab(void)
{
	struct bn_report rep;
	struct bnt_record rec;
	struct bn_check c;

	memset(&rep, 0, sizeof rep);
	memset(&rec, 0, sizeof rec);
	rec.kind = BNT_KIND_CONFIG;
	rec.index = 3;
	rec.offset = 640;
	bn_kv_init(&rec.config);
	llama_kv(&rec.config);
	CHECK(bn_check_config(&rep, &rec) == BN_OK && rep.np == 0);
	bn_kv_set(&rec.config, "n_layers", "two");
	CHECK(bn_check_config(&rep, &rec) == BN_OK);
	CHECK(one_problem(&rep, 3, NULL, "config: bad n_layers 'two'"));
	CHECK(rep.p[0].offset == 640);
	bn_report_free(&rep);
	bn_kv_set(&rec.config, "n_layers", "2");
	bn_kv_set(&rec.config, "act", "gelu");
	CHECK(bn_check_config(&rep, &rec) == BN_OK);
	CHECK(one_problem(&rep, 3, NULL, "config: unsupported act 'gelu'"));
	bn_report_free(&rep);
	bn_kv_set(&rec.config, "act", "silu");

	/* a stream's config and tokenizer, in either order */
	bn_check_init(&c, NULL, -1, 0);
	CHECK(bn_check_record(&c, &rec) == BN_OK && c.rep.np == 0);
	bn_kv_free(&rec.config);
	memset(&rec, 0, sizeof rec);
	rec.kind = BNT_KIND_TOKENIZER;
	rec.index = 4;
	bn_vocab_init(&rec.vocab);
	rec.vocab.n_tokens = 9;
	CHECK(bn_check_record(&c, &rec) == BN_OK);
	CHECK(one_problem(&c.rep, 4, NULL, "tokenizer: 9 tokens, more than "
	    "the config's vocab_size 8 (token ids 8 and above have no "
	    "embedding)"));
	bn_check_free(&c);

	rec.vocab.n_tokens = 3;
	bn_kv_set(&rec.vocab.kv, BN_VOC_BOS, "2");
	CHECK(bn_check_vocab(&rep, &rec) == BN_OK && rep.np == 0);
	bn_kv_set(&rec.vocab.kv, BN_VOC_EOS, "3");
	CHECK(bn_check_vocab(&rep, &rec) == BN_OK);
	CHECK(one_problem(&rep, 4, NULL, "tokenizer: eos_id '3' is not a "
	    "token id (of 3)"));
	bn_report_free(&rep);
	/* reported once, not again against the config */
	bn_check_init(&c, NULL, -1, 0);
	CHECK(bn_check_record(&c, &rec) == BN_OK && c.rep.np == 1);
	bn_kv_free(&rec.vocab.kv);
	memset(&rec, 0, sizeof rec);
	rec.kind = BNT_KIND_CONFIG;
	rec.index = 5;
	bn_kv_init(&rec.config);
	llama_kv(&rec.config);
	CHECK(bn_check_record(&c, &rec) == BN_OK && c.rep.np == 1);
	bn_check_free(&c);
	bn_kv_free(&rec.config);
}

/* A tensor set of the tensors of a one-layer bitnet model (vocab 8,
 * hidden 4, 2 heads, ffn 6), as a stream would hold them. */
static const struct {
	const char *name;
	uint64_t d0, d1;	/* d1 0: a vector */
} tiny[] = {
	{ "token_embd.weight", 8, 4 },
	{ "blk.0.attn_norm.weight", 4, 0 },
	{ "blk.0.attn_q.weight", 4, 4 },
	{ "blk.0.attn_k.weight", 4, 4 },
	{ "blk.0.attn_v.weight", 4, 4 },
	{ "blk.0.attn_sub_norm.weight", 4, 0 },
	{ "blk.0.attn_output.weight", 4, 4 },
	{ "blk.0.ffn_norm.weight", 4, 0 },
	{ "blk.0.ffn_gate.weight", 6, 4 },
	{ "blk.0.ffn_up.weight", 6, 4 },
	{ "blk.0.ffn_sub_norm.weight", 6, 0 },
	{ "blk.0.ffn_down.weight", 4, 6 },
	{ "output_norm.weight", 4, 0 },
	{ "output.weight", 8, 4 },
};

/* The set without the tensors whose names contain skip (NULL: none),
 * ffn_down transposed if bad_down. */
static void
tiny_set(struct bn_tset *ts, const char *skip, int bad_down)
{
	struct bnt_tensor t;
	size_t i;

	memset(ts, 0, sizeof *ts);
	for (i = 0; i < sizeof tiny / sizeof tiny[0]; i++) {
		if (skip != NULL && strstr(tiny[i].name, skip) != NULL)
			continue;
		memset(&t, 0, sizeof t);
		t.name = tiny[i].name;
		t.dtype = BN_DTYPE_F32;
		t.ndim = tiny[i].d1 ? 2 : 1;
		t.dims[0] = tiny[i].d0;
		t.dims[1] = tiny[i].d1;
		if (bad_down && strstr(t.name, "ffn_down") != NULL) {
			t.dims[0] = 6;
			t.dims[1] = 4;
		}
		CHECK(bn_tset_add(ts, &t, NULL) == BN_OK);
	}
}

static void
test_arch(void)
{
	struct bn_report rep;
	struct bn_tset ts;
	struct bn_kv cfg;

	memset(&rep, 0, sizeof rep);
	bn_kv_init(&cfg);
	bn_kv_set(&cfg, "arch", "bitnet");
	bn_kv_set(&cfg, "vocab_size", "8");
	bn_kv_set(&cfg, "hidden_size", "4");
	bn_kv_set(&cfg, "n_layers", "1");
	bn_kv_set(&cfg, "n_heads", "2");
	bn_kv_set(&cfg, "ffn_size", "6");
	tiny_set(&ts, NULL, 0);
	CHECK(bn_check_arch(&rep, &cfg, &ts) == BN_OK && rep.np == 0);
	bn_tset_free(&ts);

	/* the roles every architecture has first, then bitnet's own */
	tiny_set(&ts, "attn_", 1);
	CHECK(bn_check_arch(&rep, &cfg, &ts) == BN_OK);
	CHECK(rep.np == 7);
	if (rep.np == 7) {
		CHECK(strcmp(rep.p[0].tensor, "blk.0.attn_norm.weight") == 0);
		CHECK(strcmp(rep.p[0].msg, "missing (arch bitnet needs "
		    "it)") == 0);
		CHECK(rep.p[0].record == -1);
		CHECK(strcmp(rep.p[1].tensor, "blk.0.attn_q.weight") == 0);
		CHECK(strcmp(rep.p[2].tensor, "blk.0.attn_k.weight") == 0);
		CHECK(strcmp(rep.p[3].tensor, "blk.0.attn_v.weight") == 0);
		CHECK(strcmp(rep.p[4].tensor, "blk.0.attn_output.weight") ==
		    0);
		CHECK(strcmp(rep.p[5].tensor, "blk.0.ffn_down.weight") == 0);
		CHECK(strcmp(rep.p[5].msg, "shape 6x4, the config needs "
		    "4x6") == 0);
		CHECK(strcmp(rep.p[6].tensor, "blk.0.attn_sub_norm.weight") ==
		    0);
	}
	bn_report_free(&rep);

	/* llama needs no sub norms; a tied head is token_embd */
	bn_kv_set(&cfg, "arch", "llama");
	bn_kv_set(&cfg, "tie_embeddings", "1");
	bn_tset_free(&ts);
	tiny_set(&ts, "sub_norm", 0);
	CHECK(bn_check_arch(&rep, &cfg, &ts) == BN_OK && rep.np == 0);
	bn_tset_free(&ts);
	tiny_set(&ts, "output", 0);
	CHECK(bn_check_arch(&rep, &cfg, &ts) == BN_OK);
	CHECK(rep.np == 2);	/* attn_output and output_norm */
	CHECK(rep.np == 2 && strcmp(rep.p[1].tensor, "output_norm.weight") ==
	    0);
	bn_report_free(&rep);

	bn_kv_set(&cfg, "ffn_size", "");
	CHECK(bn_check_arch(&rep, &cfg, &ts) == BN_OK);
	CHECK(one_problem(&rep, -1, NULL, "config: arch llama needs "
	    "vocab_size, hidden_size, n_layers, n_heads and ffn_size"));
	bn_report_free(&rep);
	bn_kv_set(&cfg, "arch", "gpt2");	/* not checked */
	CHECK(bn_check_arch(&rep, &cfg, &ts) == BN_OK && rep.np == 0);
	bn_tset_free(&ts);
	bn_kv_free(&cfg);
}

/* A 2x4 tensor record: f32 values, or t2 codes with row scales. */
static void
make_rec(struct bnt_record *rec, const char *name, int dtype, uint64_t d0,
    uint64_t d1, unsigned char *buf)
{
	struct bn_err e;

	memset(rec, 0, sizeof *rec);
	rec->kind = BNT_KIND_TENSOR;
	rec->index = 1;
	rec->offset = 128;
	rec->tensor.name = name;
	rec->tensor.dtype = dtype;
	rec->tensor.ndim = 2;
	rec->tensor.dims[0] = d0;
	rec->tensor.dims[1] = d1;
	if (dtype == BN_DTYPE_T2) {
		rec->tensor.scale_kind = BNT_SCALE_ROW;
		rec->tensor.scale_dtype = BN_DTYPE_F32;
	}
	CHECK(bnt_tensor_layout(&rec->tensor, &e) == BN_OK);
	rec->data = buf;
	rec->len = rec->tensor.raw_len;
}

static void
test_compare(void)
{
	static const float refv[8] = { 0.5, 0, -0.5, 0.5, 1, 2, 2, -1 };
	static const int codes[8] = { 1, 0, -1, 1, 0, 1, 1, -1 };
	static const float scales[2] = { 0.5, 2 };
	static const float want[8] = { 0.5, 0, -0.5, 0.5, 0, 2, 2, -2 };
	unsigned char fbuf[64], tbuf[256];
	struct bnt_record fr, tr;
	struct bn_report rep;
	struct bn_tset ref = { NULL, 0, 0 };
	struct bn_held *h, cur;
	struct bn_cmp c;
	double agree;
	int i, same;

	memcpy(fbuf, refv, sizeof refv);
	make_rec(&fr, "w", BN_DTYPE_F32, 2, 4, fbuf);
	memset(tbuf, 0, sizeof tbuf);
	make_rec(&tr, "w", BN_DTYPE_T2, 2, 4, tbuf);
	for (i = 0; i < 8; i++)
		bn_t2_set(tbuf + i / 4 * tr.tensor.row_bytes, i % 4, codes[i]);
	memcpy(tbuf + tr.tensor.scale_offset, scales, sizeof scales);

	/* values with their scales, codes without */
	CHECK(bn_tset_add(&ref, &fr.tensor, &h) == BN_OK);
	CHECK(bn_hold_values(h, &fr) == BN_OK && h->code == NULL);
	memset(&cur, 0, sizeof cur);
	cur.t = tr.tensor;
	CHECK(bn_hold_values(&cur, &tr) == BN_OK && cur.code != NULL);
	for (i = 0, same = 0; i < 8; i++)
		same += cur.val[i] == want[i] && cur.code[i] == codes[i];
	CHECK(same == 8);

	/* max |d| 1, rms sqrt(2 / 8), cosine sqrt(10.75 / 12.75); the
	 * reference quantizes (absmean 0.9375) to codes that differ at
	 * element 4 only */
	CHECK(bn_compare_values(h, &cur, &c) == BN_OK);
	CHECK(c.max_abs == 1);
	CHECK(fabs(c.rms - 0.5) < 1e-12);
	CHECK(fabs(c.cosine - sqrt(10.75 / 12.75)) < 1e-12);
	CHECK(c.agree == 0.875);
	cur.t.dtype = BN_DTYPE_B1;	/* sign around the mean 0.5625 */
	CHECK(bn_code_agreement(h, &cur, &agree) == BN_OK);
	CHECK(agree == 0.5);
	cur.t.dtype = BN_DTYPE_T2;
	CHECK(bn_compare_values(&cur, &cur, &c) == BN_OK);
	CHECK(c.max_abs == 0 && c.agree == 1);	/* both packed */

	memset(&rep, 0, sizeof rep);
	CHECK(bn_compare(&rep, -1, h, &tr) == BN_OK);
	CHECK(rep.np == 0 && rep.nc == 1);
	CHECK(rep.nc == 1 && strcmp(rep.c[0].name, "w") == 0 &&
	    rep.c[0].max_abs == 1 && !rep.c[0].fail);
	CHECK(bn_compare(&rep, 0.5, h, &tr) == BN_OK);
	CHECK(rep.nc == 2 && rep.c[1].fail);
	CHECK(one_problem(&rep, 1, "w", "differs from the reference by 1 "
	    "(tolerance 0.5)"));
	bn_report_free(&rep);
	tr.tensor.dims[0] = 4;
	tr.tensor.dims[1] = 2;
	CHECK(bn_compare(&rep, 0.5, h, &tr) == BN_OK && rep.nc == 0);
	CHECK(one_problem(&rep, 1, "w", "shape differs from the reference"));
	bn_report_free(&rep);
	free(cur.val);
	free(cur.code);
	bn_tset_free(&ref);
}

static void
test_model_helpers(void)
{
	static const float a[4] = { 1, 3, 3, 2 }, b[4] = { 1, 2.5, 1, 2 };
	float nan4[4] = { 1, 3, 3, NAN }, nan2[4] = { 1, 3, NAN, 2 };
	float x[2] = { 7, 8 };
	float hidden[3 * 2];
	struct bn_refset rs = { NULL, 0, 0 };
	struct bnt_tensor t;
	const struct bnt_tensor *got;
	const unsigned char *data;
	struct bn_capture cap = { hidden, 1, 2, 2 };
	struct bn_err e;

	CHECK(bn_argmax(a, 4) == 1);
	CHECK(bn_max_abs_diff(a, b, 4) == 2);
	CHECK(isnan(bn_max_abs_diff(a, nan4, 4)));
	CHECK(bn_max_abs_diff(nan2, a, 4) == 0);	/* a NaN then 0 */

	memset(&t, 0, sizeof t);
	t.name = "logits.0";
	t.dtype = BN_DTYPE_F32;
	t.ndim = 1;
	t.dims[0] = 4;
	CHECK(bnt_tensor_layout(&t, &e) == BN_OK);
	CHECK(bn_refset_tensor(&rs, &t, a, NULL) == BN_OK);
	CHECK(bn_refset_get(&rs, "logits.0", BN_DTYPE_F32, &got, &data,
	    &e) == BN_OK);
	CHECK(got != NULL && got->nelem == 4 && data != NULL &&
	    memcmp(data, a, sizeof a) == 0);
	CHECK(bn_refset_get(&rs, "logits.1", BN_DTYPE_F32, &got, &data,
	    &e) == BN_OK && got == NULL && data == NULL);
	CHECK(bn_refset_get(&rs, "logits.0", BN_DTYPE_I32, &got, &data,
	    &e) == BN_EFORMAT);
	CHECK(strcmp(e.msg, "'logits.0' has type f32") == 0);
	bn_refset_free(&rs);

	/* two layers: the embedding, layer 0's output, the final norm's */
	memset(hidden, 0, sizeof hidden);
	bn_capture_hook(&cap, -1, BN_SITE_EMBED, x, 1, 2);
	x[0] = 9;
	bn_capture_hook(&cap, 0, BN_SITE_LAYER, x, 1, 2);
	x[0] = 10;
	bn_capture_hook(&cap, 1, BN_SITE_LAYER, x, 1, 2);	/* the last */
	bn_capture_hook(&cap, 0, BN_SITE_QKV_IN, x, 1, 2);
	CHECK(hidden[0] == 7 && hidden[2] == 9 && hidden[4] == 0);
	bn_capture_hook(&cap, 1, BN_SITE_FINAL, x, 1, 2);
	CHECK(hidden[4] == 10 && hidden[5] == 8);
}

int
main(void)
{
	test_good();
	test_damaged();
	test_invariants();
	test_config_rules();
	test_config_vocab();
	test_arch();
	test_compare();
	test_model_helpers();
	return check_done();
}
