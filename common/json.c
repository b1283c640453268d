/* json.c: a strict RFC 8259 JSON parser into a read-only tree.
 *
 * Two passes over the input with the same recursive descent: the first
 * validates it and counts nodes, text bytes and each container's
 * members; the second fills exactly sized arrays, so every container's
 * members are contiguous and nothing is reallocated while building. */
#include <stdlib.h>
#include <string.h>

#include "json.h"
#include "mem.h"
#include "unicode.h"

struct parser {
	const unsigned char *p;
	size_t len, pos;
	int build;		/* 0: validate and count; 1: build */
	size_t nnodes;		/* values seen */
	size_t ntext;		/* text bytes, NULs included */
	size_t *counts;		/* members of each container, preorder */
	size_t ncont, capcont;
	size_t ci;		/* next container (build pass) */
	struct bn_json *nodes;
	size_t next;		/* next free node (build pass) */
	char *text;
	size_t tpos;
	const char *err;	/* NULL, or what went wrong at err_off */
	size_t err_off;
	int oom;
};

static int parse_value(struct parser *, struct bn_json *, unsigned);

static int
fail(struct parser *P, size_t off, const char *msg)
{
	if (P->err == NULL) {
		P->err = msg;
		P->err_off = off;
	}
	return -1;
}

static void
skip_ws(struct parser *P)
{
	while (P->pos < P->len) {
		unsigned char c = P->p[P->pos];

		if (c != ' ' && c != '\t' && c != '\n' && c != '\r')
			break;
		P->pos++;
	}
}

/* Four hex digits at pos; -1 if malformed. */
static long
hex4(struct parser *P, size_t pos)
{
	long v = 0;
	int i, h;

	if (P->len - pos < 4)
		return -1;
	for (i = 0; i < 4; i++) {
		if ((h = bn_hex_digit(P->p[pos + (size_t)i])) < 0)
			return -1;
		v = v * 16 + h;
	}
	return v;
}

/* A string at pos (at the opening quote).  Build pass: decoded into the
 * text buffer, *out and *outlen set. */
static int
parse_string(struct parser *P, const char **out, size_t *outlen)
{
	unsigned char *dst = NULL, u8[4];
	size_t n = 0, start = P->pos, k;
	uint32_t cp;
	long u, u2;

	if (P->build)
		dst = (unsigned char *)P->text + P->tpos;
	P->pos++;
	for (;;) {
		unsigned char c;

		if (P->pos >= P->len)
			return fail(P, start, "unterminated string");
		c = P->p[P->pos];
		if (c == '"')
			break;
		if (c < 0x20)
			return fail(P, P->pos, "control character in string");
		if (c >= 0x80) {
			k = bn_utf8_decode(P->p + P->pos, P->len - P->pos,
			    &cp);
			if (cp == BN_UC_INVALID)
				return fail(P, P->pos,
				    "invalid UTF-8 in string");
			if (dst != NULL)
				memcpy(dst + n, P->p + P->pos, k);
			n += k;
			P->pos += k;
			continue;
		}
		if (c != '\\') {
			if (dst != NULL)
				dst[n] = c;
			n++;
			P->pos++;
			continue;
		}
		if (P->pos + 1 >= P->len)
			return fail(P, start, "unterminated string");
		switch (P->p[P->pos + 1]) {
		case '"': cp = '"'; break;
		case '\\': cp = '\\'; break;
		case '/': cp = '/'; break;
		case 'b': cp = '\b'; break;
		case 'f': cp = '\f'; break;
		case 'n': cp = '\n'; break;
		case 'r': cp = '\r'; break;
		case 't': cp = '\t'; break;
		case 'u':
			if ((u = hex4(P, P->pos + 2)) < 0)
				return fail(P, P->pos, "bad \\u escape");
			if (u >= 0xDC00 && u <= 0xDFFF)
				return fail(P, P->pos, "lone low surrogate");
			if (u >= 0xD800 && u <= 0xDBFF) {
				if (P->len - P->pos < 12 ||
				    P->p[P->pos + 6] != '\\' ||
				    P->p[P->pos + 7] != 'u' ||
				    (u2 = hex4(P, P->pos + 8)) < 0xDC00 ||
				    u2 > 0xDFFF)
					return fail(P, P->pos,
					    "lone high surrogate");
				cp = 0x10000 + ((uint32_t)(u - 0xD800) << 10) +
				    (uint32_t)(u2 - 0xDC00);
				P->pos += 6;
			} else
				cp = (uint32_t)u;
			P->pos += 4;
			break;
		default:
			return fail(P, P->pos, "bad escape in string");
		}
		P->pos += 2;
		k = bn_utf8_encode(cp, u8);
		if (dst != NULL)
			memcpy(dst + n, u8, k);
		n += k;
	}
	P->pos++;
	if (dst != NULL) {
		dst[n] = '\0';
		*out = (const char *)dst;
		*outlen = n;
		P->tpos += n + 1;
	} else
		P->ntext += n + 1;
	return 0;
}

static int
is_digit(struct parser *P, size_t pos)
{
	return pos < P->len && P->p[pos] >= '0' && P->p[pos] <= '9';
}

static int
parse_number(struct parser *P, struct bn_json *v)
{
	size_t start = P->pos, n;
	char *t;

	if (P->p[P->pos] == '-')
		P->pos++;
	if (!is_digit(P, P->pos))
		return fail(P, start, "invalid number");
	if (P->p[P->pos] == '0') {
		P->pos++;
		if (is_digit(P, P->pos))
			return fail(P, start, "number with a leading zero");
	} else
		while (is_digit(P, P->pos))
			P->pos++;
	if (P->pos < P->len && P->p[P->pos] == '.') {
		P->pos++;
		if (!is_digit(P, P->pos))
			return fail(P, start, "invalid number");
		while (is_digit(P, P->pos))
			P->pos++;
	}
	if (P->pos < P->len && (P->p[P->pos] == 'e' || P->p[P->pos] == 'E')) {
		P->pos++;
		if (P->pos < P->len &&
		    (P->p[P->pos] == '+' || P->p[P->pos] == '-'))
			P->pos++;
		if (!is_digit(P, P->pos))
			return fail(P, start, "invalid number");
		while (is_digit(P, P->pos))
			P->pos++;
	}
	n = P->pos - start;
	if (!P->build) {
		P->ntext += n + 1;
		return 0;
	}
	t = P->text + P->tpos;
	memcpy(t, P->p + start, n);
	t[n] = '\0';
	P->tpos += n + 1;
	v->type = BN_JSON_NUMBER;
	v->str = t;
	v->len = n;
	v->num = strtod(t, NULL);	/* syntax checked; C locale */
	return 0;
}

static int
parse_literal(struct parser *P, struct bn_json *v)
{
	static const struct {
		const char *s;
		size_t n;
		int type;
	} lit[] = {
		{ "false", 5, BN_JSON_FALSE },
		{ "null", 4, BN_JSON_NULL },
		{ "true", 4, BN_JSON_TRUE },
	};
	size_t i;

	for (i = 0; i < sizeof lit / sizeof lit[0]; i++)
		if (P->len - P->pos >= lit[i].n &&
		    memcmp(P->p + P->pos, lit[i].s, lit[i].n) == 0) {
			P->pos += lit[i].n;
			if (v != NULL) {
				v->type = lit[i].type;
				v->num = lit[i].type == BN_JSON_TRUE;
			}
			return 0;
		}
	return fail(P, P->pos, "invalid literal");
}

/* Open a container: count pass records a slot, build pass reserves its
 * members' nodes. */
static int
open_container(struct parser *P, struct bn_json *v, size_t *slot)
{
	size_t n;

	if (!P->build) {
		if (bn_grow(&P->counts, &P->capcont, P->ncont + 1,
		    sizeof *P->counts) != 0) {
			P->oom = 1;
			return fail(P, P->pos, "out of memory");
		}
		*slot = P->ncont;
		P->counts[P->ncont++] = 0;
		return 0;
	}
	if (P->ci >= P->ncont)
		return fail(P, P->pos, "internal error");
	n = P->counts[P->ci++];
	if (n > P->nnodes - P->next)
		return fail(P, P->pos, "internal error");
	v->kids = n ? &P->nodes[P->next] : NULL;
	v->n = n;
	P->next += n;
	return 0;
}

/* Member i of a container being built, or NULL in the count pass. */
static struct bn_json *
member(struct parser *P, struct bn_json *v, size_t i)
{
	if (!P->build)
		return NULL;
	if (i >= v->n) {
		fail(P, P->pos, "internal error");
		return NULL;
	}
	return &v->kids[i];
}

static int
parse_array(struct parser *P, struct bn_json *v, unsigned depth)
{
	size_t slot = 0, n = 0;
	struct bn_json *m;

	if (open_container(P, v, &slot) != 0)
		return -1;
	P->pos++;
	skip_ws(P);
	if (P->pos < P->len && P->p[P->pos] == ']') {
		P->pos++;
		return 0;
	}
	for (;;) {
		m = member(P, v, n);
		if (P->build && m == NULL)
			return -1;
		if (parse_value(P, m, depth) != 0)
			return -1;
		n++;
		skip_ws(P);
		if (P->pos >= P->len)
			return fail(P, P->pos, "unterminated array");
		if (P->p[P->pos] == ']')
			break;
		if (P->p[P->pos] != ',')
			return fail(P, P->pos, "expected ',' or ']' in array");
		P->pos++;
	}
	P->pos++;
	if (!P->build)
		P->counts[slot] = n;
	return 0;
}

static int
parse_object(struct parser *P, struct bn_json *v, unsigned depth)
{
	size_t slot = 0, n = 0, klen = 0;
	const char *key = NULL;
	struct bn_json *m;

	if (open_container(P, v, &slot) != 0)
		return -1;
	P->pos++;
	skip_ws(P);
	if (P->pos < P->len && P->p[P->pos] == '}') {
		P->pos++;
		return 0;
	}
	for (;;) {
		skip_ws(P);
		if (P->pos >= P->len)
			return fail(P, P->pos, "unterminated object");
		if (P->p[P->pos] != '"')
			return fail(P, P->pos,
			    "expected a string as member name");
		if (parse_string(P, &key, &klen) != 0)
			return -1;
		skip_ws(P);
		if (P->pos >= P->len || P->p[P->pos] != ':')
			return fail(P, P->pos,
			    "expected ':' after member name");
		P->pos++;
		m = member(P, v, n);
		if (P->build && m == NULL)
			return -1;
		if (parse_value(P, m, depth) != 0)
			return -1;
		if (m != NULL) {
			m->key = key;
			m->key_len = klen;
		}
		n++;
		skip_ws(P);
		if (P->pos >= P->len)
			return fail(P, P->pos, "unterminated object");
		if (P->p[P->pos] == '}')
			break;
		if (P->p[P->pos] != ',')
			return fail(P, P->pos, "expected ',' or '}' in object");
		P->pos++;
	}
	P->pos++;
	if (!P->build)
		P->counts[slot] = n;
	return 0;
}

static int
parse_value(struct parser *P, struct bn_json *v, unsigned depth)
{
	unsigned char c;

	skip_ws(P);
	if (P->pos >= P->len)
		return fail(P, P->pos, "unexpected end of input");
	if (!P->build)
		P->nnodes++;
	else
		v->offset = P->pos;
	c = P->p[P->pos];
	switch (c) {
	case '{':
	case '[':
		if (depth >= BN_JSON_MAX_DEPTH)
			return fail(P, P->pos, "nesting too deep");
		if (v != NULL)
			v->type = c == '{' ? BN_JSON_OBJECT : BN_JSON_ARRAY;
		return c == '{' ? parse_object(P, v, depth + 1) :
		    parse_array(P, v, depth + 1);
	case '"':
		if (v != NULL)
			v->type = BN_JSON_STRING;
		return parse_string(P, v != NULL ? &v->str : NULL,
		    v != NULL ? &v->len : NULL);
	case 't':
	case 'f':
	case 'n':
		return parse_literal(P, v);
	default:
		if (c == '-' || (c >= '0' && c <= '9'))
			return parse_number(P, v);
		if (c == 0xEF && P->pos == 0)
			return fail(P, P->pos, "byte-order mark");
		return fail(P, P->pos, "unexpected character");
	}
}

static int
run(struct parser *P)
{
	P->pos = 0;
	if (parse_value(P, P->build ? &P->nodes[0] : NULL, 0) != 0)
		return -1;
	skip_ws(P);
	if (P->pos != P->len)
		return fail(P, P->pos, "trailing data after the value");
	return 0;
}

int
bn_json_parse(struct bn_json_doc *d, const void *buf, size_t len,
    struct bn_err *e)
{
	struct parser P;
	size_t i;
	int st;

	memset(d, 0, sizeof *d);
	memset(&P, 0, sizeof P);
	P.p = buf;
	P.len = len;
	if (len > 0 && buf == NULL)
		return bn_seterr(e, BN_EUSAGE, "json: no buffer");
	if (run(&P) != 0)
		goto err;
	/* nnodes <= len and ntext <= 2 * len, so neither overflows */
	d->nodes = calloc(P.nnodes, sizeof *d->nodes);
	d->text = malloc(P.ntext ? P.ntext : 1);
	if (d->nodes == NULL || d->text == NULL) {
		P.oom = 1;
		P.err = "out of memory";
		goto err;
	}
	for (i = 0; i < P.nnodes; i++)
		d->nodes[i].type = BN_JSON_NULL;
	P.build = 1;
	P.nodes = d->nodes;
	P.text = d->text;
	P.next = 1;
	if (run(&P) != 0 || P.next != P.nnodes || P.tpos != P.ntext ||
	    P.ci != P.ncont) {
		free(P.counts);
		bn_json_free(d);
		return bn_seterr(e, BN_EINTERNAL, "json: passes disagree");
	}
	free(P.counts);
	d->root = &d->nodes[0];
	return BN_OK;
err:
	free(P.counts);
	bn_json_free(d);
	d->err_offset = P.err_off;
	st = P.oom ? BN_ENOMEM : BN_EFORMAT;
	if (P.oom)
		return bn_seterr(e, st, "out of memory");
	return bn_seterr(e, st, "byte %zu: %s", P.err_off, P.err);
}

void
bn_json_free(struct bn_json_doc *d)
{
	free(d->nodes);
	free(d->text);
	d->nodes = NULL;
	d->text = NULL;
	d->root = NULL;
}

const struct bn_json *
bn_json_get(const struct bn_json *o, const char *key)
{
	size_t i, n;

	if (o == NULL || o->type != BN_JSON_OBJECT)
		return NULL;
	n = strlen(key);
	for (i = o->n; i-- > 0;)
		if (o->kids[i].key_len == n &&
		    memcmp(o->kids[i].key, key, n) == 0)
			return &o->kids[i];
	return NULL;
}

const struct bn_json *
bn_json_at(const struct bn_json *a, size_t i)
{
	if (a == NULL || (a->type != BN_JSON_ARRAY &&
	    a->type != BN_JSON_OBJECT) || i >= a->n)
		return NULL;
	return &a->kids[i];
}

int
bn_json_streq(const struct bn_json *v, const char *s)
{
	return v != NULL && v->type == BN_JSON_STRING &&
	    v->len == strlen(s) && memcmp(v->str, s, v->len) == 0;
}

/* Magnitude of an integer's digits; -1 if not a plain integer or too
 * large for a uint64_t. */
static int
int_digits(const struct bn_json *v, int *neg, uint64_t *mag)
{
	const char *s;
	uint64_t m = 0;

	if (v == NULL || v->type != BN_JSON_NUMBER)
		return -1;
	s = v->str;
	*neg = *s == '-';
	if (*neg)
		s++;
	if (*s == '\0')
		return -1;
	for (; *s != '\0'; s++) {
		if (*s < '0' || *s > '9')
			return -1;
		if (m > (UINT64_MAX - (uint64_t)(*s - '0')) / 10)
			return -1;
		m = m * 10 + (uint64_t)(*s - '0');
	}
	*mag = m;
	return 0;
}

int
bn_json_i64(const struct bn_json *v, int64_t *out)
{
	uint64_t m;
	int neg;

	if (int_digits(v, &neg, &m) != 0)
		return -1;
	if (neg) {
		if (m > (uint64_t)INT64_MAX + 1)
			return -1;
		*out = m == (uint64_t)INT64_MAX + 1 ? INT64_MIN : -(int64_t)m;
	} else {
		if (m > (uint64_t)INT64_MAX)
			return -1;
		*out = (int64_t)m;
	}
	return 0;
}

int
bn_json_u64(const struct bn_json *v, uint64_t *out)
{
	uint64_t m;
	int neg;

	if (int_digits(v, &neg, &m) != 0 || (neg && m != 0))
		return -1;
	*out = m;
	return 0;
}

const char *
bn_json_type_name(int type)
{
	static const char *const names[] = {
		"null", "false", "true", "number", "string", "array", "object"
	};

	if (type < 0 || type > BN_JSON_OBJECT)
		return "?";
	return names[type];
}

/* ---- writing ---- */

/* s[0..n) as a JSON string through put(ctx, bytes, len). */
static void
escape(const char *s, size_t n, void (*put)(void *, const char *, size_t),
    void *ctx)
{
	size_t i, run = 0;
	unsigned char c;
	char u[8];

	put(ctx, "\"", 1);
	for (i = 0; i < n; i++) {
		c = (unsigned char)s[i];
		if (c >= 0x20 && c != '"' && c != '\\')
			continue;
		put(ctx, s + run, i - run);
		run = i + 1;
		if (c == '"')
			put(ctx, "\\\"", 2);
		else if (c == '\\')
			put(ctx, "\\\\", 2);
		else if (c == '\n')
			put(ctx, "\\n", 2);
		else if (c == '\t')
			put(ctx, "\\t", 2);
		else if (c == '\r')
			put(ctx, "\\r", 2);
		else {
			snprintf(u, sizeof u, "\\u%04x", c);
			put(ctx, u, 6);
		}
	}
	put(ctx, s + run, n - run);
	put(ctx, "\"", 1);
}

static void
put_buf(void *ctx, const char *p, size_t n)
{
	bn_buf_put(ctx, p, n);
}

static void
put_file(void *ctx, const char *p, size_t n)
{
	fwrite(p, 1, n, ctx);
}

void
bn_json_put_str(struct bn_buf *b, const char *s, size_t n)
{
	escape(s, n, put_buf, b);
}

void
bn_json_fput_str(FILE *fp, const char *s)
{
	escape(s, strlen(s), put_file, fp);
}
