/* t_tokenizer.c: the tokenizer against llama.cpp's test vectors
 * (LLaMA-3 byte-level BPE, LLaMA-2 SentencePiece) and Hugging Face
 * tokenizers' output for the fixture tokenizer.json; decode round trips,
 * special tokens, UTF-8 and code point classes, and a timing of the
 * Austen corpus. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "check.h"
#include "fileset.h"
#include "import.h"
#include "json.h"
#include "kv.h"
#include "status.h"
#include "tokenizer.h"
#include "unicode.h"
#include "unicode_re.h"
#include "vocab.h"

static unsigned nskip;

/* ../shared/<dir>/<base>, else tests/fixtures/<fdir>/<base>. */
static const char *
fixture(const char *dir, const char *fdir, const char *base, char *buf,
    size_t n)
{
	snprintf(buf, n, "../shared/%s/%s", dir, base);
	if (access(buf, R_OK) == 0)
		return buf;
	snprintf(buf, n, "tests/fixtures/%s/%s", fdir, base);
	if (access(buf, R_OK) == 0)
		return buf;
	printf("skip: %s not found\n", base);
	nskip++;
	return NULL;
}

/* ---- loading ---- */

struct load {
	struct bn_tokenizer *tk;
	int rc;
	struct bn_err *e;
	const char *pre;	/* NULL, or the pre-tokenizer to use */
};

static int
on_vocab(void *ctx, const struct bn_vocab *v)
{
	struct load *l = ctx;
	struct bn_vocab w;
	size_t n;
	char *t;

	if (l->pre == NULL) {
		l->rc = bn_tokenizer_new(&l->tk, v, l->e);
		return l->rc;
	}
	/* the same vocabulary under another pre-tokenizer */
	w = *v;
	bn_kv_init(&w.kv);
	t = bn_kv_format(&v->kv, &n);
	CHECK(t != NULL && bn_kv_parse(&w.kv, t, n) == 0 &&
	    bn_kv_set(&w.kv, BN_VOC_PRE, l->pre) == 0);
	free(t);
	l->rc = bn_tokenizer_new(&l->tk, &w, l->e);
	bn_kv_free(&w.kv);
	return l->rc;
}

static struct bn_tokenizer *
load_gguf(const char *path, const char *pre)
{
	struct bn_err e;
	struct load l = { NULL, 0, &e, pre };
	struct bn_sink s = { &l, NULL, on_vocab, NULL };
	struct bn_file f;

	if (bn_file_open(&f, path, &e) != BN_OK) {
		printf("%s: %s\n", path, e.msg);
		return NULL;
	}
	if (bn_import_gguf(&f, &s, &e) != BN_OK || l.tk == NULL)
		printf("%s: %s\n", path, e.msg);
	bn_file_close(&f);
	return l.tk;
}

static struct bn_tokenizer *
load_json(const char *path)
{
	struct bn_tokenizer *tk = NULL;
	struct bn_vocab v;
	struct bn_file f;
	struct bn_err e;

	if (bn_file_open(&f, path, &e) != BN_OK) {
		printf("%s: %s\n", path, e.msg);
		return NULL;
	}
	if (bn_import_tokenizer_json(&f, &v, &e) != BN_OK)
		printf("%s: %s\n", path, e.msg);
	else {
		if (bn_tokenizer_new(&tk, &v, &e) != BN_OK)
			printf("%s: %s\n", path, e.msg);
		bn_vocab_free(&v);
	}
	bn_file_close(&f);
	return tk;
}

/* ---- reporting ---- */

static void
show_text(const char *s, size_t n)
{
	size_t i;

	putchar('\'');
	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c == '\n')
			fputs("\\n", stdout);
		else if (c == '\t')
			fputs("\\t", stdout);
		else if (c == '\r')
			fputs("\\r", stdout);
		else if (c < 0x20 || c == 0x7f)
			printf("\\x%02x", c);
		else
			putchar(c);
	}
	putchar('\'');
}

static void
show_ids(const struct bn_tokenizer *tk, const char *what, const int32_t *ids,
    size_t n)
{
	char buf[256];
	size_t i, l;

	printf("  %-9s", what);
	for (i = 0; i < n; i++) {
		if (bn_tokenizer_piece(tk, ids[i], BN_TK_SPECIAL, buf,
		    sizeof buf, &l) != BN_OK)
			l = 0;
		printf(" %d", ids[i]);
		show_text(buf, l);
	}
	putchar('\n');
}

static int shown;

/* Encode text and compare with want; print the first mismatch in
 * detail.  Returns 1 if equal. */
static int
expect(const struct bn_tokenizer *tk, const char *set, const char *text,
    size_t len, unsigned flags, const int32_t *want, size_t nwant)
{
	struct bn_err e;
	int32_t *ids;
	size_t n;
	int ok;

	if (bn_tokenizer_encode_flags(tk, text, len, flags, &ids, &n, &e) !=
	    BN_OK) {
		printf("%s: encode: %s\n", set, e.msg);
		return 0;
	}
	ok = n == nwant && (n == 0 || memcmp(ids, want, n * sizeof *ids) == 0);
	if (!ok && shown++ < 3) {
		printf("%s: mismatch for ", set);
		show_text(text, len);
		putchar('\n');
		show_ids(tk, "expected", want, nwant);
		show_ids(tk, "got", ids, n);
	}
	free(ids);
	return ok;
}

/* decode(encode(text)) == text (lstrip: SentencePiece's space prefix
 * removed from the first piece). */
static int
round_trip(const struct bn_tokenizer *tk, const char *set, const char *text,
    size_t len, unsigned dflags)
{
	struct bn_err e;
	int32_t *ids;
	size_t n, tl;
	char *out;
	int ok;

	if (bn_tokenizer_encode_flags(tk, text, len, 0, &ids, &n, &e) != BN_OK)
		return 0;
	if (bn_tokenizer_detokenize(tk, ids, n, dflags, &out, &tl, &e) !=
	    BN_OK) {
		free(ids);
		return 0;
	}
	ok = tl == len && memcmp(out, text, len) == 0;
	if (!ok && shown++ < 6) {
		printf("%s: round trip of ", set);
		show_text(text, len);
		printf(" gave ");
		show_text(out, tl);
		putchar('\n');
	}
	free(out);
	free(ids);
	return ok;
}

/* ---- llama.cpp's .inp/.out vectors ---- */

static const char sep[] = "\n__ggml_vocab_test__\n";

/* The inputs as test-tokenizer-0 splits them: at every separator; a
 * final empty piece after the last separator is not a test. */
static size_t
split_inputs(const char *p, size_t n, const char **at, size_t *len,
    size_t max)
{
	size_t pos = 0, k = 0, sl = sizeof sep - 1, i;
	const char *q;

	while (pos < n && k < max) {
		q = NULL;
		for (i = pos; i + sl <= n; i++)
			if (memcmp(p + i, sep, sl) == 0) {
				q = p + i;
				break;
			}
		at[k] = p + pos;
		if (q == NULL) {
			len[k++] = n - pos;
			break;
		}
		len[k++] = (size_t)(q - (p + pos));
		pos = (size_t)(q - p) + sl;
	}
	return k;
}

#define MAXCASES 256
#define MAXIDS 1024

/* llama.cpp's vectors for vocabulary base (vec: another's vectors,
 * with the pre-tokenizer pre; NULL: its own). */
static void
vocab_set(const char *base, const char *vec, const char *pre, int spm)
{
	char path[512], pinp[600], pout[600];
	const char *at[MAXCASES], *lp, *end;
	struct bn_file fi, fo;
	struct bn_tokenizer *tk;
	struct bn_err e;
	size_t len[MAXCASES], ncase, i, nid, line = 0;
	int32_t *ids;
	unsigned pass = 0, pass_sp = 0, rt = 0;
	char *ep;
	long v;

	if (fixture("vocab", "vocab", base, path, sizeof path) == NULL)
		return;
	snprintf(pinp, sizeof pinp, "%s.inp", path);
	snprintf(pout, sizeof pout, "%s.out", path);
	if (vec != NULL) {
		snprintf(pinp, sizeof pinp, "%.*s/%s.inp",
		    (int)(strrchr(path, '/') - path), path, vec);
		snprintf(pout, sizeof pout, "%.*s/%s.out",
		    (int)(strrchr(path, '/') - path), path, vec);
		base = vec;
	}
	tk = load_gguf(path, pre);
	CHECK(tk != NULL);
	if (tk == NULL)
		return;
	if (bn_file_open(&fi, pinp, &e) != BN_OK) {
		printf("%s: %s\n", pinp, e.msg);
		CHECK(0);
		bn_tokenizer_free(tk);
		return;
	}
	if (bn_file_open(&fo, pout, &e) != BN_OK) {
		printf("%s: %s\n", pout, e.msg);
		CHECK(0);
		bn_file_close(&fi);
		bn_tokenizer_free(tk);
		return;
	}
	ncase = split_inputs((const char *)fi.data, fi.size, at, len,
	    MAXCASES);
	ids = malloc(MAXIDS * sizeof *ids);
	lp = (const char *)fo.data;
	end = lp + fo.size;
	for (i = 0; i < ncase && lp < end; i++, line++) {
		/* one line of ids, separated by spaces */
		nid = 0;
		while (lp < end && *lp != '\n') {
			if (*lp == ' ') {
				lp++;
				continue;
			}
			v = strtol(lp, &ep, 10);
			if (ep == lp)
				break;
			if (nid < MAXIDS)
				ids[nid++] = (int32_t)v;
			lp = ep;
		}
		while (lp < end && *lp != '\n')
			lp++;
		if (lp < end)
			lp++;
		/* llama.cpp's test: parse_special = false */
		pass += expect(tk, base, at[i], len[i], 0, ids, nid);
		pass_sp += expect(tk, base, at[i], len[i], BN_TK_SPECIAL, ids,
		    nid);
		rt += round_trip(tk, base, at[i], len[i],
		    spm ? BN_TK_LSTRIP : 0);
	}
	CHECK(ncase > 0 && line == ncase);
	CHECK(pass == ncase);
	CHECK(pass_sp == ncase);
	CHECK(rt == ncase);
	printf("%s: %u/%zu match, %u/%zu with special matching, %u/%zu round "
	    "trips\n", base, pass, ncase, pass_sp, ncase, rt, ncase);
	free(ids);
	bn_file_close(&fi);
	bn_file_close(&fo);
	bn_tokenizer_free(tk);
}

/* ---- Hugging Face fixture ---- */

static void
hf_cases(const struct bn_tokenizer *tk)
{
	const struct bn_json *c, *text, *want;
	char path[512];
	struct bn_json_doc d;
	struct bn_file f;
	struct bn_err e;
	int32_t ids[MAXIDS];
	unsigned pass = 0, rt = 0;
	size_t i, k, n = 0;
	int64_t x;

	if (fixture("fixtures/tokenizer", "tokenizer", "encode-cases.json",
	    path, sizeof path) == NULL)
		return;
	if (bn_file_open(&f, path, &e) != BN_OK) {
		printf("%s: %s\n", path, e.msg);
		CHECK(0);
		return;
	}
	if (bn_json_parse(&d, f.data, f.size, &e) != BN_OK) {
		printf("%s: %s\n", path, e.msg);
		CHECK(0);
	} else {
		n = d.root->n;
		for (i = 0; i < n; i++) {
			c = &d.root->kids[i];
			text = bn_json_get(c, "text");
			want = bn_json_get(c, "ids");
			CHECK(text != NULL && want != NULL &&
			    want->n <= MAXIDS);
			if (text == NULL || want == NULL || want->n > MAXIDS)
				continue;
			for (k = 0; k < want->n; k++) {
				bn_json_i64(&want->kids[k], &x);
				ids[k] = (int32_t)x;
			}
			pass += expect(tk, "encode-cases", text->str, text->len,
			    BN_TK_SPECIAL, ids, want->n);
			rt += round_trip(tk, "encode-cases", text->str,
			    text->len, 0);
		}
	}
	CHECK(n > 0 && pass == n);
	CHECK(rt == n);
	printf("encode-cases.json: %u/%zu match, %u/%zu round trips\n", pass,
	    n, rt, n);
	bn_json_free(&d);
	bn_file_close(&f);
}

/* reference.safetensors: input_ids.K = BOS + encode(prompt K), and
 * greedy.K decodes (specials skipped) to greedy_text K. */
static const int32_t *
st_tensor(const struct bn_file *f, const struct bn_json *h, const char *name,
    size_t *n, size_t base)
{
	const struct bn_json *t = bn_json_get(h, name), *o;
	uint64_t a, b;

	o = bn_json_get(t, "data_offsets");
	if (o == NULL || o->n != 2 || bn_json_u64(&o->kids[0], &a) != 0 ||
	    bn_json_u64(&o->kids[1], &b) != 0 || b < a || base + b > f->size ||
	    !bn_json_streq(bn_json_get(t, "dtype"), "I32") || a % 4 != 0)
		return NULL;
	*n = (size_t)(b - a) / 4;
	return (const int32_t *)(const void *)(f->data + base + a);
}

static void
hf_reference(const struct bn_tokenizer *tk)
{
	char path[512], name[32];
	const struct bn_json *r, *h, *prompt, *gt;
	struct bn_json_doc d, dh;
	struct bn_file f, fs;
	struct bn_err e;
	const int32_t *want;
	int32_t *ids, *al;
	size_t i, n, nw, tl, hl, base;
	char *text;

	if (fixture("fixtures/austen-llama-6m", "austen-llama-6m",
	    "reference.json", path, sizeof path) == NULL)
		return;
	if (bn_file_open(&f, path, &e) != BN_OK)
		return;
	if (bn_json_parse(&d, f.data, f.size, &e) != BN_OK) {
		bn_file_close(&f);
		return;
	}
	strcpy(strrchr(path, '/') + 1, "reference.safetensors");
	if (bn_file_open(&fs, path, &e) != BN_OK || fs.size < 8) {
		printf("skip: %s\n", path);
		nskip++;
		bn_json_free(&d);
		bn_file_close(&f);
		return;
	}
	for (i = 0, hl = 0; i < 8; i++)
		hl |= (size_t)fs.data[i] << (8 * i);
	base = 8 + hl;
	CHECK(base <= fs.size);
	if (base > fs.size || bn_json_parse(&dh, fs.data + 8, hl, &e) !=
	    BN_OK) {
		bn_file_close(&fs);
		bn_json_free(&d);
		bn_file_close(&f);
		return;
	}
	h = dh.root;
	for (i = 0; i < d.root->n; i++) {
		r = &d.root->kids[i];
		prompt = bn_json_get(r, "prompt");
		gt = bn_json_get(r, "greedy_text");
		CHECK(prompt != NULL && gt != NULL);
		if (prompt == NULL || gt == NULL)
			continue;
		/* the prompt */
		snprintf(name, sizeof name, "input_ids.%zu", i);
		want = st_tensor(&fs, h, name, &nw, base);
		CHECK(want != NULL && nw > 0);
		if (want == NULL || nw == 0)
			continue;
		al = malloc(nw * sizeof *al);	/* aligned copy */
		memcpy(al, want, nw * sizeof *al);
		CHECK(al[0] == 0);		/* BOS, as the README says */
		CHECK(expect(tk, name, prompt->str, prompt->len, BN_TK_SPECIAL,
		    al + 1, nw - 1));
		free(al);
		/* the greedy continuation decodes to greedy_text */
		snprintf(name, sizeof name, "greedy.%zu", i);
		want = st_tensor(&fs, h, name, &nw, base);
		CHECK(want != NULL);
		if (want == NULL)
			continue;
		ids = malloc(nw * sizeof *ids);
		memcpy(ids, want, nw * sizeof *ids);
		CHECK(bn_tokenizer_detokenize(tk, ids, nw, 0, &text, &n, &e) ==
		    BN_OK);
		tl = gt->len;
		CHECK(n == tl && memcmp(text, gt->str, tl) == 0);
		free(text);
		free(ids);
	}
	bn_json_free(&dh);
	bn_file_close(&fs);
	bn_json_free(&d);
	bn_file_close(&f);
}

/* Special tokens, pieces, invalid UTF-8, errors, with the fixture. */
static void
hf_specials(const struct bn_tokenizer *tk)
{
	static const char raw[] = "a\xff\xfe b\xc3 \xed\xa0\x80\xf0\x9f";
	struct bn_err e;
	int32_t *ids;
	size_t n, l;
	char buf[16], *out;
	int i, found;

	CHECK(bn_tokenizer_n_vocab(tk) == 4096);
	CHECK(bn_tokenizer_add_bos(tk) == 0);
	CHECK(bn_tokenizer_space_prefix(tk) == 0);
	CHECK(bn_tokenizer_find(tk, "<|bos|>", 7) == 0);
	CHECK(bn_tokenizer_find(tk, "<|eos|>", 7) == 1);
	CHECK(bn_tokenizer_find(tk, "\xc4\xa0", 2) == 222);	/* 'Ġ' */

	/* split out (Hugging Face), or not (llama.cpp, parse_special off) */
	CHECK(bn_tokenizer_encode(tk, "<|bos|>Hello<|eos|><|eos|>", 26,
	    &ids, &n, &e) == BN_OK);
	CHECK(n == 6 && ids[0] == 0 && ids[4] == 1 && ids[5] == 1);
	free(ids);
	CHECK(bn_tokenizer_encode_flags(tk, "<|bos|>", 7, 0, &ids, &n, &e) ==
	    BN_OK);
	CHECK(n > 1);
	for (found = 0, i = 0; i < (int)n; i++)
		found |= ids[i] == 0;
	CHECK(!found);
	free(ids);

	/* control pieces are empty unless asked for */
	CHECK(bn_tokenizer_decode(tk, 0, buf, sizeof buf, &l) == BN_OK &&
	    l == 0);
	CHECK(bn_tokenizer_piece(tk, 0, BN_TK_SPECIAL, buf, sizeof buf, &l) ==
	    BN_OK && l == 7 && memcmp(buf, "<|bos|>", 7) == 0);
	CHECK(bn_tokenizer_decode(tk, 222, buf, sizeof buf, &l) == BN_OK &&
	    l == 1 && buf[0] == ' ');
	CHECK(bn_tokenizer_piece(tk, 222, BN_TK_LSTRIP, buf, 0, &l) ==
	    BN_OK && l == 0);
	CHECK(bn_tokenizer_piece(tk, 0, BN_TK_SPECIAL, buf, 3, &l) ==
	    BN_EUSAGE && l == 7);
	CHECK(bn_tokenizer_decode(tk, 4096, buf, sizeof buf, &l) ==
	    BN_EUSAGE);
	CHECK(bn_tokenizer_decode(tk, -1, buf, sizeof buf, &l) == BN_EUSAGE);

	/* bytes that are not UTF-8 survive byte-level BPE */
	CHECK(round_trip(tk, "raw bytes", raw, sizeof raw - 1, 0));
	CHECK(round_trip(tk, "NUL", "a\0b", 3, 0));
	CHECK(bn_tokenizer_encode(tk, NULL, 0, &ids, &n, &e) == BN_OK &&
	    n == 0 && ids == NULL);

	/* detokenize with specials, and an id out of range */
	{
		int32_t t[3] = { 0, 41, 1 };

		CHECK(bn_tokenizer_detokenize(tk, t, 3, BN_TK_SPECIAL, &out,
		    &n, &e) == BN_OK && n > 14 &&
		    memcmp(out, "<|bos|>", 7) == 0 && out[n] == '\0');
		free(out);
		t[1] = 99999;
		CHECK(bn_tokenizer_detokenize(tk, t, 3, 0, &out, &n, &e) ==
		    BN_EUSAGE && out == NULL);
	}
}

/* SentencePiece specifics. */
static void
spm_specials(void)
{
	char path[512], buf[16];
	struct bn_tokenizer *tk;
	struct bn_err e;
	int32_t *ids;
	size_t n, l;

	if (fixture("vocab", "vocab", "ggml-vocab-llama-spm.gguf", path,
	    sizeof path) == NULL || (tk = load_gguf(path, NULL)) == NULL)
		return;
	CHECK(bn_tokenizer_bos(tk) == 1 && bn_tokenizer_eos(tk) == 2 &&
	    bn_tokenizer_unk(tk) == 0);
	CHECK(bn_tokenizer_add_bos(tk) == 1);
	CHECK(bn_tokenizer_space_prefix(tk) == 1);
	/* byte fallback: U+10FFFF is no token; <0xF4> is 247 */
	CHECK(bn_tokenizer_encode(tk, "\xf4\x8f\xbf\xbf", 4, &ids, &n, &e) ==
	    BN_OK);
	CHECK(n == 5 && ids[0] == 29871 && ids[1] == 0xf4 + 3 &&
	    ids[4] == 0xbf + 3);
	free(ids);
	CHECK(bn_tokenizer_decode(tk, 0x0a + 3, buf, sizeof buf, &l) ==
	    BN_OK && l == 1 && buf[0] == '\n');
	/* '▁Hello' and its stripped form */
	CHECK(bn_tokenizer_decode(tk, 15043, buf, sizeof buf, &l) == BN_OK &&
	    l == 6 && memcmp(buf, " Hello", 6) == 0);
	CHECK(bn_tokenizer_piece(tk, 15043, BN_TK_LSTRIP, buf, 5, &l) ==
	    BN_OK && l == 5 && memcmp(buf, "Hello", 5) == 0);
	/* <s> in the text, then a fresh space prefix (llama.cpp) */
	CHECK(bn_tokenizer_encode(tk, "Hello<s>Hello", 13, &ids, &n, &e) ==
	    BN_OK);
	CHECK(n == 3 && ids[0] == 15043 && ids[1] == 1 && ids[2] == 15043);
	free(ids);
	CHECK(bn_tokenizer_encode_flags(tk, "<s>", 3, 0, &ids, &n, &e) ==
	    BN_OK);
	CHECK(n > 1 && ids[0] != 1);
	free(ids);
	bn_tokenizer_free(tk);
}

static void
vocab_errors(void)
{
	struct bn_tokenizer *tk = NULL;
	struct bn_vocab v;
	struct bn_err e;

	bn_vocab_init(&v);
	CHECK(bn_tokenizer_new(&tk, &v, &e) == BN_EFORMAT && tk == NULL);
	CHECK(bn_vocab_alloc(&v, 2, 1, 0, 0) == 0);
	CHECK(bn_vocab_set_token(&v, 0, "a", 1) == 0);
	CHECK(bn_vocab_set_token(&v, 1, "b", 1) == 0);
	CHECK(bn_vocab_set_merge(&v, 0, "a b", 3) == 0);
	CHECK(bn_kv_set(&v.kv, BN_VOC_MODEL, "gpt2") == 0);
	CHECK(bn_kv_set(&v.kv, BN_VOC_PRE, "tekken") == 0);
	CHECK(bn_tokenizer_new(&tk, &v, &e) == BN_EUNSUPPORTED && tk == NULL);
	CHECK(strstr(e.msg, "tekken") != NULL);
	CHECK(bn_kv_set(&v.kv, BN_VOC_MODEL, "bert") == 0);
	CHECK(bn_tokenizer_new(&tk, &v, &e) == BN_EUNSUPPORTED);
	/* a merge whose result is no token is ignored */
	CHECK(bn_kv_set(&v.kv, BN_VOC_MODEL, "gpt2") == 0);
	CHECK(bn_kv_set(&v.kv, BN_VOC_PRE, "gpt2") == 0);
	CHECK(bn_tokenizer_new(&tk, &v, &e) == BN_OK && tk != NULL);
	if (tk != NULL) {
		int32_t *ids;
		size_t n;

		CHECK(bn_tokenizer_encode(tk, "ab", 2, &ids, &n, &e) ==
		    BN_OK && n == 2 && ids[0] == 0 && ids[1] == 1);
		free(ids);
		CHECK(bn_tokenizer_bos(tk) == -1 && bn_tokenizer_eos(tk) == -1);
	}
	bn_tokenizer_free(tk);
	bn_vocab_free(&v);
}

/* ---- the chat template in the tokenizer record ---- */

static int
on_chat(void *ctx, const struct bn_vocab *v)
{
	size_t n;

	*(char **)ctx = bn_vocab_chat_template(v, &n);
	return BN_OK;
}

static void
chat_template_tests(void)
{
	static const char tpl[] = "{% for m in messages %}\\n\\\n"
	    "{{ m['content'] }}\r\n{% endfor %}\\";
	struct bn_vocab v, w;
	struct bn_err e;
	unsigned char *data;
	char *meta, *got, path[512];
	size_t mlen, dlen, n;
	struct bn_file f;
	struct bn_sink sk = { &got, NULL, on_chat, NULL };

	bn_vocab_init(&v);
	CHECK(bn_vocab_chat_template(&v, &n) == NULL);
	CHECK(bn_vocab_alloc(&v, 1, 0, 0, 0) == 0);
	CHECK(bn_vocab_set_token(&v, 0, "a", 1) == 0);
	CHECK(bn_vocab_set_chat_template(&v, tpl, sizeof tpl - 1) == 0);
	CHECK(strchr(bn_kv_get(&v.kv, BN_VOC_CHAT), '\n') == NULL);
	/* through the record and back, byte for byte */
	CHECK(bn_vocab_encode(&v, &meta, &mlen, &data, &dlen) == 0);
	bn_vocab_init(&w);
	CHECK(bn_vocab_decode(&w, meta, mlen, data, dlen, &e) == BN_OK);
	got = bn_vocab_chat_template(&w, &n);
	CHECK(got != NULL && n == sizeof tpl - 1 && memcmp(got, tpl, n) == 0);
	free(got);
	free(meta);
	free(data);
	bn_vocab_free(&w);
	/* a NUL cannot be kept; an unknown escape reads as none */
	CHECK(bn_vocab_set_chat_template(&v, "a\0b", 3) == -1);
	CHECK(bn_kv_set(&v.kv, BN_VOC_CHAT, "a\\tb") == 0);
	CHECK(bn_vocab_chat_template(&v, &n) == NULL);
	CHECK(bn_kv_set(&v.kv, BN_VOC_CHAT, "a\\") == 0);
	CHECK(bn_vocab_chat_template(&v, &n) == NULL);
	bn_vocab_free(&v);
	/* GGUF's tokenizer.chat_template, newlines and all */
	if (fixture("vocab", "vocab", "ggml-vocab-qwen2.gguf", path,
	    sizeof path) == NULL || bn_file_open(&f, path, &e) != BN_OK)
		return;
	got = NULL;
	CHECK(bn_import_gguf(&f, &sk, &e) == BN_OK);
	CHECK(got != NULL && strncmp(got, "{% for message in messages %}",
	    29) == 0 && strstr(got, "<|im_start|>") != NULL &&
	    strchr(got, '\n') != NULL);
	free(got);
	bn_file_close(&f);
}

/* ---- the pre-tokenizer regex engine ---- */

/* Split text by pat as the tokenizer does (matches and the text
 * between them), the pieces joined by '|' into out.  0, or -1 if pat
 * does not compile. */
static int
re_pieces(const char *pat, const char *text, char *out, size_t size)
{
	struct bn_re_scratch sc;
	struct bn_re *re;
	struct bn_err e;
	uint32_t cp[256];
	unsigned char fl[256];
	size_t off[257], n = 0, i, k, pos = 0, ms, me, o = 0, len;

	if (bn_re_compile(&re, pat, &e) != BN_OK)
		return -1;
	len = strlen(text);
	for (i = 0; i < len && n < 256; i += k, n++) {
		k = bn_utf8_decode((const unsigned char *)text + i, len - i,
		    &cp[n]);
		fl[n] = (unsigned char)bn_unicode_flags(cp[n]);
		off[n] = i;
	}
	off[n] = len;
	memset(&sc, 0, sizeof sc);
	out[0] = 0;
	while (pos < n) {
		if (bn_re_search(re, cp, fl, n, pos, &ms, &me, &sc) != 1)
			ms = me = n;
		if (ms > pos)
			o += (size_t)snprintf(out + o, size - o, "%s%.*s",
			    o ? "|" : "", (int)(off[ms] - off[pos]),
			    text + off[pos]);
		if (me > ms)
			o += (size_t)snprintf(out + o, size - o, "%s%.*s",
			    o ? "|" : "", (int)(off[me] - off[ms]),
			    text + off[ms]);
		pos = me;
	}
	bn_re_scratch_free(&sc);
	bn_re_free(re);
	return 0;
}

static int
re_is(const char *pat, const char *text, const char *want)
{
	char got[1024];

	if (re_pieces(pat, text, got, sizeof got) != 0) {
		printf("regex '%s' does not compile\n", pat);
		return 0;
	}
	if (strcmp(got, want) != 0) {
		printf("regex '%s' on '%s': got '%s' want '%s'\n", pat, text,
		    got, want);
		return 0;
	}
	return 1;
}

static void
regex_tests(void)
{
	static const char *const bad[] = {
		"(", "a)", "[a", "a**", "*a", "\\d", "\\p{Lu}", "\\p{", "a{2,1}",
		"a+?", "(?<x>a)", "\\x{110000}", "[z-a]", "a*", "(a|)", "$",
		"(?!a)", "(a*)+b", NULL
	};
	struct bn_re_scratch sc;
	struct bn_re *re;
	struct bn_err e;
	uint32_t *cp;
	unsigned char *fl;
	size_t i, n, ms, me;

	for (i = 0; bad[i] != NULL; i++) {
		CHECK(bn_re_compile(&re, bad[i], &e) == BN_EFORMAT &&
		    re == NULL);
		if (re != NULL)
			printf("regex '%s' compiled\n", bad[i]);
	}
	/* alternatives in order, quantifiers greedy: leftmost-first */
	CHECK(re_is("a|ab", "abab", "a|b|a|b"));
	CHECK(re_is("ab|a", "abab", "ab|ab"));
	CHECK(re_is("\\p{N}{1,3}", "12345678", "123|456|78"));
	CHECK(re_is("[0-9]{2}", "12345", "12|34|5"));
	CHECK(re_is("\\s+(?!\\S)|\\s+", "a   b  ", "a|  | |b|  "));
	CHECK(re_is(" ?\\p{L}+", "h\xc3\xa9llo w\xc3\xb6rld",
	    "h\xc3\xa9llo| w\xc3\xb6rld"));
	CHECK(re_is("[^\\s\\p{L}]+", "ab, !?c", "ab|,| |!?|c"));
	CHECK(re_is("\\s+$", "a  b  ", "a  b|  "));
	CHECK(re_is("^a", "aaa", "a|aa"));
	CHECK(re_is("(?=b)\\p{L}", "abab", "a|b|a|b"));
	CHECK(re_is("[\\x{4E00}-\\x{9FA5}]+", "x\xe4\xb8\x80\xe4\xba\x8cy",
	    "x|\xe4\xb8\x80\xe4\xba\x8c|y"));
	CHECK(re_is("[\\p{P}$+]+|\\P{P}", "a$+.b", "a|$+.|b"));
	CHECK(re_is("(?:'[sS]|'[tT])|.", "it'S", "i|t|'S"));
	CHECK(re_is("a{2,}", "aaaaab", "aaaaa|b"));
	CHECK(re_is("\\.\\-", "a.-b", "a|.-|b"));
	/* a long failing search stays linear (the memo) */
	n = 200000;
	cp = malloc(n * sizeof *cp);
	fl = malloc(n);
	CHECK(cp != NULL && fl != NULL);
	if (cp == NULL || fl == NULL) {
		free(cp);
		free(fl);
		return;
	}
	for (i = 0; i < n; i++) {
		cp[i] = i + 1 < n ? ' ' : '1';
		fl[i] = (unsigned char)bn_unicode_flags(cp[i]);
	}
	memset(&sc, 0, sizeof sc);
	CHECK(bn_re_compile(&re, "\\s+$|\\p{L}", &e) == BN_OK);
	if (re != NULL) {
		CHECK(bn_re_search(re, cp, fl, n, 0, &ms, &me, &sc) == 0);
		cp[n - 1] = 'x';
		fl[n - 1] = BN_UC_L;
		CHECK(bn_re_search(re, cp, fl, n, 0, &ms, &me, &sc) == 1 &&
		    ms == n - 1 && me == n);
		cp[n - 1] = ' ';
		fl[n - 1] = BN_UC_WS;
		CHECK(bn_re_search(re, cp, fl, n, 5, &ms, &me, &sc) == 1 &&
		    ms == 5 && me == n);
	}
	bn_re_free(re);
	bn_re_scratch_free(&sc);
	free(cp);
	free(fl);
}

static void
unicode_tests(void)
{
	static const struct {
		const char *s;
		size_t len;
		uint32_t cp;
	} dec[] = {
		{ "A", 1, 'A' },
		{ "\xc3\xa9", 2, 0xe9 },
		{ "\xe2\x96\x81", 3, 0x2581 },
		{ "\xf0\x9f\x99\x82", 4, 0x1f642 },
		{ "\xc0\x80", 1, BN_UC_INVALID },	/* overlong */
		{ "\xe0\x80\x80", 1, BN_UC_INVALID },	/* overlong */
		{ "\xed\xa0\x80", 1, BN_UC_INVALID },	/* surrogate */
		{ "\xf4\x90\x80\x80", 1, BN_UC_INVALID },	/* > U+10FFFF */
		{ "\xf5\x80\x80\x80", 1, BN_UC_INVALID },
		{ "\x80", 1, BN_UC_INVALID },
		{ "\xe2\x96", 1, BN_UC_INVALID },	/* truncated */
		{ "\xe2\x41\x81", 1, BN_UC_INVALID },
	};
	unsigned char u[4];
	uint32_t cp;
	size_t i, l;

	for (i = 0; i < sizeof dec / sizeof dec[0]; i++) {
		l = bn_utf8_decode((const unsigned char *)dec[i].s,
		    strlen(dec[i].s), &cp);
		CHECK(l == dec[i].len && cp == dec[i].cp);
		if (dec[i].cp != BN_UC_INVALID)
			CHECK(bn_utf8_encode(cp, u) == l &&
			    memcmp(u, dec[i].s, l) == 0);
	}
	CHECK(bn_utf8_encode(0x110000, u) == 0);
	CHECK(bn_unicode_flags('a') == BN_UC_L);
	CHECK(bn_unicode_flags('7') == BN_UC_N);
	CHECK(bn_unicode_flags('\n') == BN_UC_WS);
	CHECK(bn_unicode_flags(0x1c) == 0);		/* not White_Space */
	CHECK(bn_unicode_flags('$') == BN_UC_S);
	CHECK(bn_unicode_flags('!') == BN_UC_P);
	CHECK(bn_unicode_flags(0xa0) & BN_UC_WS);
	CHECK(bn_unicode_flags(0x85) & BN_UC_WS);
	CHECK(bn_unicode_flags(0x3000) & BN_UC_WS);
	CHECK(bn_unicode_flags(0x4f60) == BN_UC_L);	/* 你 */
	CHECK(bn_unicode_flags(0x0663) == BN_UC_N);	/* Arabic-Indic 3 */
	CHECK(bn_unicode_flags(0x2167) == BN_UC_N);	/* Roman numeral 8 */
	CHECK(bn_unicode_flags(0x17b6) == BN_UC_M);	/* Khmer vowel sign */
	CHECK(bn_unicode_flags(0x1f642) == BN_UC_S);	/* 🙂 */
	CHECK(bn_unicode_flags(0x10ffff) == 0);
	CHECK(bn_unicode_flags(BN_UC_INVALID) == 0);
	CHECK(strlen(bn_unicode_version()) > 0);
}

/* Time the whole Austen corpus through the fixture tokenizer (where
 * ../shared is not there, as in CI: the validation part the repository
 * holds; a check that cannot run fails, it is not skipped). */
static void
timing(const struct bn_tokenizer *tk)
{
	struct timespec t0, t1;
	char path[512];
	struct bn_file f;
	struct bn_err e;
	int32_t *ids;
	size_t n;
	double s;
	char *out;
	size_t ol;

	snprintf(path, sizeof path, "../shared/corpus/austen.txt");
	if (access(path, R_OK) != 0)
		snprintf(path, sizeof path, "tests/fixtures/austen-val.txt");
	if (bn_file_open(&f, path, &e) != BN_OK) {
		printf("%s: %s\n", path, e.msg);
		CHECK(0);
		return;
	}
	clock_gettime(CLOCK_MONOTONIC, &t0);
	CHECK(bn_tokenizer_encode(tk, (const char *)f.data, f.size, &ids, &n,
	    &e) == BN_OK);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	s = (double)(t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) / 1e9;
	printf("%s: %zu bytes -> %zu tokens in %.3f s (%.1f MB/s)\n",
	    path, f.size, n, s, (double)f.size / 1e6 / s);
	CHECK(n > f.size / 8 && n < f.size);
	CHECK(bn_tokenizer_detokenize(tk, ids, n, 0, &out, &ol, &e) == BN_OK);
	CHECK(ol == f.size && memcmp(out, f.data, ol) == 0);
	free(out);
	free(ids);
	bn_file_close(&f);
}

int
main(void)
{
	struct bn_tokenizer *tk;
	char path[512];

	unicode_tests();
	vocab_errors();
	regex_tests();
	chat_template_tests();
	vocab_set("ggml-vocab-llama-bpe.gguf", NULL, NULL, 0);
	vocab_set("ggml-vocab-llama-spm.gguf", NULL, NULL, 1);
	vocab_set("ggml-vocab-qwen2.gguf", NULL, NULL, 0);
	/* Qwen3.5's vocabulary is Qwen2's, with its own pre-tokenizer */
	vocab_set("ggml-vocab-qwen2.gguf", "ggml-vocab-qwen35.gguf", "qwen35",
	    0);
	vocab_set("ggml-vocab-deepseek-llm.gguf", NULL, NULL, 0);
	vocab_set("ggml-vocab-deepseek-coder.gguf", NULL, NULL, 0);
	vocab_set("ggml-vocab-gpt-2.gguf", NULL, NULL, 0);
	vocab_set("ggml-vocab-falcon.gguf", NULL, NULL, 0);
	vocab_set("ggml-vocab-starcoder.gguf", NULL, NULL, 0);
	vocab_set("ggml-vocab-refact.gguf", NULL, NULL, 0);
	spm_specials();
	if (fixture("fixtures/tokenizer", "tokenizer", "tokenizer.json", path,
	    sizeof path) != NULL) {
		tk = load_json(path);
		CHECK(tk != NULL);
		if (tk != NULL) {
			hf_cases(tk);
			hf_reference(tk);
			hf_specials(tk);
			timing(tk);
			bn_tokenizer_free(tk);
		}
	}
	if (nskip > 0)
		printf("%u skipped\n", nskip);
	return check_done();
}
