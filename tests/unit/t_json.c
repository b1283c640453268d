/* t_json.c: unit tests for the JSON parser (common/json.c). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json.h"

#include "check.h"



/* Parse s (strlen) and return the status. */
static int
parse(struct bn_json_doc *d, const char *s, struct bn_err *e)
{
	return bn_json_parse(d, s, strlen(s), e);
}

static int
bad(const char *s, size_t off)
{
	struct bn_json_doc d;
	struct bn_err e;
	int st;

	e.msg[0] = '\0';
	st = bn_json_parse(&d, s, strlen(s), &e);
	bn_json_free(&d);
	if (st != BN_EFORMAT)
		printf("  accepted: %s\n", s);
	else if (off != (size_t)-1 && d.err_offset != off)
		printf("  %s: offset %zu, expected %zu (%s)\n", s,
		    d.err_offset, off, e.msg);
	return st == BN_EFORMAT && (off == (size_t)-1 || d.err_offset == off);
}

static int
good(const char *s)
{
	struct bn_json_doc d;
	struct bn_err e;
	int st;

	st = parse(&d, s, &e);
	if (st != BN_OK)
		printf("  refused: %s (%s)\n", s, e.msg);
	bn_json_free(&d);
	return st == BN_OK;
}

static void
test_values(void)
{
	struct bn_json_doc d;
	struct bn_err e;
	const struct bn_json *r, *v;
	int64_t i;
	uint64_t u;

	CHECK(parse(&d, " {\"a\": 1, \"b\": [true, false, null], "
	    "\"c\": \"x\\u00e9\\ud83d\\ude00\\n\", \"eps\": 1e-05, "
	    "\"t\": 500000.0, \"a\": -2, \"o\": {}} ", &e) == BN_OK);
	r = d.root;
	CHECK(r != NULL && r->type == BN_JSON_OBJECT && r->n == 7);
	CHECK(r->offset == 1);
	CHECK(strcmp(r->kids[0].key, "a") == 0 && r->kids[1].key[0] == 'b');
	CHECK(strcmp(r->kids[6].key, "o") == 0);
	v = bn_json_get(r, "a");	/* the last "a" wins */
	CHECK(v != NULL && v->type == BN_JSON_NUMBER && v->num == -2);
	CHECK(bn_json_i64(v, &i) == 0 && i == -2);
	CHECK(bn_json_u64(v, &u) == -1);
	CHECK(bn_json_i64(&r->kids[0], &i) == 0 && i == 1);
	v = bn_json_get(r, "b");
	CHECK(v->type == BN_JSON_ARRAY && v->n == 3);
	CHECK(bn_json_at(v, 0)->type == BN_JSON_TRUE);
	CHECK(bn_json_at(v, 1)->type == BN_JSON_FALSE);
	CHECK(bn_json_at(v, 2)->type == BN_JSON_NULL);
	CHECK(bn_json_at(v, 3) == NULL);
	CHECK(bn_json_at(v, 0)->key == NULL);
	v = bn_json_get(r, "c");
	CHECK(v->type == BN_JSON_STRING && v->len == 8 &&
	    memcmp(v->str, "x\xc3\xa9\xf0\x9f\x98\x80\n", 8) == 0 &&
	    v->str[8] == '\0');
	v = bn_json_get(r, "eps");
	CHECK(strcmp(v->str, "1e-05") == 0 && v->num == 1e-05);
	CHECK(bn_json_i64(v, &i) == -1);
	v = bn_json_get(r, "t");
	CHECK(strcmp(v->str, "500000.0") == 0 && v->num == 500000.0);
	CHECK(bn_json_u64(v, &u) == -1);
	v = bn_json_get(r, "o");
	CHECK(v->type == BN_JSON_OBJECT && v->n == 0 && v->kids == NULL);
	CHECK(bn_json_get(r, "zz") == NULL);
	CHECK(bn_json_get(bn_json_get(r, "b"), "a") == NULL);
	CHECK(bn_json_streq(bn_json_get(r, "c"), "x") == 0);
	bn_json_free(&d);

	/* scalars at top level; NUL inside strings and keys */
	CHECK(parse(&d, "\"a\\u0000b\"", &e) == BN_OK);
	CHECK(d.root->type == BN_JSON_STRING && d.root->len == 3 &&
	    memcmp(d.root->str, "a\0b", 4) == 0);
	bn_json_free(&d);
	CHECK(parse(&d, "{\"k\\u0000\":1}", &e) == BN_OK);
	CHECK(d.root->kids[0].key_len == 2 && bn_json_get(d.root, "k") == NULL);
	bn_json_free(&d);
	CHECK(parse(&d, "-0", &e) == BN_OK && d.root->type == BN_JSON_NUMBER);
	CHECK(bn_json_i64(d.root, &i) == 0 && i == 0);
	bn_json_free(&d);
	CHECK(parse(&d, "9223372036854775807", &e) == BN_OK);
	CHECK(bn_json_i64(d.root, &i) == 0 && i == INT64_MAX);
	bn_json_free(&d);
	CHECK(parse(&d, "-9223372036854775808", &e) == BN_OK);
	CHECK(bn_json_i64(d.root, &i) == 0 && i == INT64_MIN);
	bn_json_free(&d);
	CHECK(parse(&d, "9223372036854775808", &e) == BN_OK);
	CHECK(bn_json_i64(d.root, &i) == -1);
	CHECK(bn_json_u64(d.root, &u) == 0 && u == 9223372036854775808u);
	bn_json_free(&d);
	CHECK(parse(&d, "18446744073709551616", &e) == BN_OK);
	CHECK(bn_json_u64(d.root, &u) == -1);
	bn_json_free(&d);
	CHECK(parse(&d, "1e999", &e) == BN_OK && isinf(d.root->num));
	bn_json_free(&d);
	CHECK(parse(&d, "\"\\/\\\\\\\"\\b\\f\\r\\t\"", &e) == BN_OK &&
	    strcmp(d.root->str, "/\\\"\b\f\r\t") == 0);
	bn_json_free(&d);
	/* raw UTF-8 passes through */
	CHECK(parse(&d, "\"\xc4\xa0t \xe2\x82\xac \xf4\x8f\xbf\xbf\"", &e)
	    == BN_OK && d.root->len == 12);
	bn_json_free(&d);
	/* not NUL-terminated input */
	CHECK(bn_json_parse(&d, "[1]xyz", 3, &e) == BN_OK && d.root->n == 1);
	bn_json_free(&d);
	CHECK(bn_json_parse(&d, "", 0, &e) == BN_EFORMAT);
	bn_json_free(&d);
	CHECK(bn_json_parse(&d, NULL, 0, &e) == BN_EFORMAT);
	bn_json_free(&d);
}

static void
test_errors(void)
{
	struct bn_json_doc d;
	struct bn_err e;

	CHECK(bad("", 0));
	CHECK(bad("   ", 3));
	CHECK(bad("{", 1));
	CHECK(bad("[1,]", 3));
	CHECK(bad("[1 2]", 3));
	CHECK(bad("{\"a\" 1}", 5));
	CHECK(bad("{\"a\":1,}", 7));
	CHECK(bad("{a:1}", 1));
	CHECK(bad("[01]", 1));
	CHECK(bad("[1.]", 1));
	CHECK(bad("[.5]", 1));
	CHECK(bad("[+1]", 1));
	CHECK(bad("[1e]", 1));
	CHECK(bad("[-]", 1));
	CHECK(bad("[NaN]", 1));
	CHECK(bad("[Infinity]", 1));
	CHECK(bad("[tru]", 1));
	CHECK(bad("[nul", 1));
	CHECK(bad("\"abc", 0));
	CHECK(bad("\"a\tb\"", 2));
	CHECK(bad("\"\\x\"", 1));
	CHECK(bad("\"\\u12\"", 1));
	CHECK(bad("\"\\ud800\"", 1));
	CHECK(bad("\"\\ud800\\u0041\"", 1));
	CHECK(bad("\"\\udc00\"", 1));
	CHECK(bad("\"\xc0\x80\"", 1));		/* overlong */
	CHECK(bad("\"\xed\xa0\x80\"", 1));	/* encoded surrogate */
	CHECK(bad("\"\xf4\x90\x80\x80\"", 1));	/* > U+10FFFF */
	CHECK(bad("\"\xe2\x82\"", 1));		/* truncated */
	CHECK(bad("\"\xff\"", 1));
	CHECK(bad("\xef\xbb\xbf{}", 0));	/* BOM */
	CHECK(bad("{} {}", 3));
	CHECK(bad("[1]]", 3));
	CHECK(bad("'a'", 0));
	CHECK(bad("[1,\n\"a\x01\"]", 6));
	CHECK(bn_json_parse(&d, "[1,\0]", 5, &e) == BN_EFORMAT &&
	    d.err_offset == 3);
	bn_json_free(&d);
	CHECK(bad("{\"a\":1}x", 7));
	CHECK(parse(&d, "[1, x]", &e) == BN_EFORMAT &&
	    strncmp(e.msg, "byte 4: ", 8) == 0);
	bn_json_free(&d);
	CHECK(good("[]") && good("{}") && good(" \t\r\n0 ") && good("\"\"") &&
	    good("[[[]]]") && good("{\"\":{\"\":[]}}") && good("-1.5E+3") &&
	    good("[0.0e-0]"));
}

static void
test_depth(void)
{
	char buf[2 * BN_JSON_MAX_DEPTH + 8];
	struct bn_json_doc d;
	struct bn_err e;
	const struct bn_json *v;
	int i, n;

	n = BN_JSON_MAX_DEPTH;
	for (i = 0; i < n; i++) {
		buf[i] = '[';
		buf[2 * n - 1 - i] = ']';
	}
	buf[2 * n] = '\0';
	CHECK(parse(&d, buf, &e) == BN_OK);
	for (v = d.root, i = 1; v->n == 1; v = &v->kids[0])
		i++;
	CHECK(i == n);
	bn_json_free(&d);
	n = BN_JSON_MAX_DEPTH + 1;
	for (i = 0; i < n; i++) {
		buf[i] = '[';
		buf[2 * n - 1 - i] = ']';
	}
	buf[2 * n] = '\0';
	CHECK(bad(buf, BN_JSON_MAX_DEPTH));
}

/* Every prefix and many one-byte mutations of a document: no crash, no
 * leak (under ASan), and a consistent tree whenever accepted. */
static void
test_fuzz(void)
{
	static const char doc[] = "{\"model\": {\"type\": \"BPE\", \"vocab\": "
	    "{\"a\": 0, \"\\u0120b\": 1}, \"merges\": [[\"a\", \"b\"], "
	    "\"a b\"]}, \"x\": [1.5e3, -0, true, null, \"\\ud83d\\ude00\"]}";
	static const unsigned char subst[] = "{}[]\",:\\0-e.tu\x80\xff \x01";
	unsigned char buf[sizeof doc];
	struct bn_json_doc d;
	struct bn_err e;
	size_t n = sizeof doc - 1, i, j, ok = 0, total = 0;
	int fine = 1;

	for (i = 0; i <= n; i++) {
		int st = bn_json_parse(&d, doc, i, &e);

		if ((st == BN_OK) != (i == n))
			fine = 0;
		bn_json_free(&d);
	}
	CHECK(fine);
	srand(1);
	for (i = 0; i < n; i++)
		for (j = 0; j < sizeof subst - 1; j++) {
			memcpy(buf, doc, n);
			buf[i] = subst[j];
			total++;
			if (bn_json_parse(&d, buf, n, &e) == BN_OK) {
				ok++;
				if (d.root == NULL)
					fine = 0;
			} else if (d.err_offset > n)
				fine = 0;
			bn_json_free(&d);
		}
	for (i = 0; i < 20000; i++) {
		size_t len = (size_t)rand() % 64;

		for (j = 0; j < len; j++)
			buf[j] = subst[(size_t)rand() % (sizeof subst - 1)];
		if (bn_json_parse(&d, buf, len, &e) == BN_OK && d.root == NULL)
			fine = 0;
		bn_json_free(&d);
	}
	CHECK(fine);
	CHECK(ok > 0 && ok < total);
}

int
main(void)
{
	test_values();
	test_errors();
	test_depth();
	test_fuzz();
	printf("%u passed, %u failed\n", check_pass, check_fail);
	return check_fail != 0;
}
