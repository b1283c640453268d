/* vocab.c: tokenizer vocabularies and their bnt(5) record encoding. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mem.h"
#include "vocab.h"

void
bn_vocab_init(struct bn_vocab *v)
{
	memset(v, 0, sizeof *v);
	bn_kv_init(&v->kv);
}

void
bn_vocab_free(struct bn_vocab *v)
{
	uint32_t i;

	if (v->tokens != NULL)
		for (i = 0; i < v->n_tokens; i++)
			free(v->tokens[i]);
	if (v->merges != NULL)
		for (i = 0; i < v->n_merges; i++)
			free(v->merges[i]);
	free(v->tokens);
	free(v->token_len);
	free(v->scores);
	free(v->types);
	free(v->merges);
	free(v->merge_len);
	bn_kv_free(&v->kv);
	bn_vocab_init(v);
}

int
bn_vocab_alloc(struct bn_vocab *v, uint32_t n, uint32_t m, int with_scores,
    int with_types)
{
	v->n_tokens = n;
	v->n_merges = m;
	v->tokens = calloc(n ? n : 1, sizeof *v->tokens);
	v->token_len = calloc(n ? n : 1, sizeof *v->token_len);
	v->merges = calloc(m ? m : 1, sizeof *v->merges);
	v->merge_len = calloc(m ? m : 1, sizeof *v->merge_len);
	if (with_scores)
		v->scores = calloc(n ? n : 1, sizeof *v->scores);
	if (with_types)
		v->types = calloc(n ? n : 1, sizeof *v->types);
	if (v->tokens == NULL || v->token_len == NULL || v->merges == NULL ||
	    v->merge_len == NULL || (with_scores && v->scores == NULL) ||
	    (with_types && v->types == NULL)) {
		bn_vocab_free(v);
		return -1;
	}
	return 0;
}

static int
set_str(char **dst, uint32_t *dlen, const char *s, uint32_t len)
{
	char *p = malloc((size_t)len + 1);

	if (p == NULL)
		return -1;
	memcpy(p, s, len);
	p[len] = '\0';
	free(*dst);
	*dst = p;
	*dlen = len;
	return 0;
}

int
bn_vocab_set_chat_template(struct bn_vocab *v, const char *s, size_t len)
{
	struct bn_buf b = { 0 };
	size_t i;
	int rc;

	if (memchr(s, '\0', len) != NULL)
		return -1;
	for (i = 0; i < len; i++) {
		if (s[i] == '\\')
			bn_buf_puts(&b, "\\\\");
		else if (s[i] == '\n')
			bn_buf_puts(&b, "\\n");
		else if (s[i] == '\r')
			bn_buf_puts(&b, "\\r");
		else
			bn_buf_put(&b, s + i, 1);
	}
	if (bn_buf_reserve(&b, 1) != 0 || b.oom) {
		bn_buf_free(&b);
		return -1;
	}
	rc = bn_kv_set(&v->kv, BN_VOC_CHAT, b.n > 0 ? b.p : "");
	bn_buf_free(&b);
	return rc;
}

char *
bn_vocab_chat_template(const struct bn_vocab *v, size_t *len)
{
	const char *s = bn_kv_get(&v->kv, BN_VOC_CHAT);
	size_t i, n = 0;
	char *out;

	if (s == NULL || (out = malloc(strlen(s) + 1)) == NULL)
		return NULL;
	for (i = 0; s[i] != '\0'; i++) {
		if (s[i] != '\\') {
			out[n++] = s[i];
			continue;
		}
		switch (s[++i]) {
		case '\\': out[n++] = '\\'; break;
		case 'n': out[n++] = '\n'; break;
		case 'r': out[n++] = '\r'; break;
		default:
			free(out);
			return NULL;
		}
	}
	out[n] = '\0';
	*len = n;
	return out;
}

int
bn_vocab_set_token(struct bn_vocab *v, uint32_t i, const char *s,
    uint32_t len)
{
	if (i >= v->n_tokens)
		return -1;
	return set_str(&v->tokens[i], &v->token_len[i], s, len);
}

int
bn_vocab_set_merge(struct bn_vocab *v, uint32_t i, const char *s,
    uint32_t len)
{
	if (i >= v->n_merges)
		return -1;
	return set_str(&v->merges[i], &v->merge_len[i], s, len);
}

static void
put32(unsigned char *p, uint32_t x)
{
	p[0] = (unsigned char)x;
	p[1] = (unsigned char)(x >> 8);
	p[2] = (unsigned char)(x >> 16);
	p[3] = (unsigned char)(x >> 24);
}

static uint32_t
get32(const unsigned char *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
	    (uint32_t)p[3] << 24;
}

static const char *const counts[] = { "n_tokens", "n_merges", "has_scores",
    "has_types" };

int
bn_vocab_encode(const struct bn_vocab *v, char **meta, size_t *mlen,
    unsigned char **data, size_t *dlen)
{
	struct bn_kv kv;
	unsigned char *d;
	size_t n = 0, off = 0, i, j;
	int rc = -1;

	bn_kv_init(&kv);
	for (i = 0; i < v->kv.n; i++) {
		for (j = 0; j < 4; j++)
			if (strcmp(v->kv.v[i].key, counts[j]) == 0)
				break;
		if (j == 4 && bn_kv_set(&kv, v->kv.v[i].key,
		    v->kv.v[i].val) != 0)
			goto out;
	}
	if (bn_kv_setf(&kv, "n_tokens", "%" PRIu32, v->n_tokens) != 0 ||
	    bn_kv_setf(&kv, "n_merges", "%" PRIu32, v->n_merges) != 0 ||
	    bn_kv_set(&kv, "has_scores", v->scores ? "1" : "0") != 0 ||
	    bn_kv_set(&kv, "has_types", v->types ? "1" : "0") != 0)
		goto out;
	for (i = 0; i < v->n_tokens; i++)
		n += 4 + v->token_len[i];
	for (i = 0; i < v->n_merges; i++)
		n += 4 + v->merge_len[i];
	n = (n + 3) & ~(size_t)3;
	if (v->scores)
		n += 4 * (size_t)v->n_tokens;
	if (v->types)
		n += 4 * (size_t)v->n_tokens;
	if ((d = calloc(n ? n : 1, 1)) == NULL)
		goto out;
	for (i = 0; i < v->n_tokens; i++) {
		put32(d + off, v->token_len[i]);
		memcpy(d + off + 4, v->tokens[i], v->token_len[i]);
		off += 4 + v->token_len[i];
	}
	for (i = 0; i < v->n_merges; i++) {
		put32(d + off, v->merge_len[i]);
		memcpy(d + off + 4, v->merges[i], v->merge_len[i]);
		off += 4 + v->merge_len[i];
	}
	off = (off + 3) & ~(size_t)3;
	if (v->scores) {
		memcpy(d + off, v->scores, 4 * (size_t)v->n_tokens);
		off += 4 * (size_t)v->n_tokens;
	}
	if (v->types)
		memcpy(d + off, v->types, 4 * (size_t)v->n_tokens);
	if ((*meta = bn_kv_format(&kv, mlen)) == NULL) {
		free(d);
		goto out;
	}
	*data = d;
	*dlen = n;
	rc = 0;
out:
	bn_kv_free(&kv);
	return rc;
}

/* Read count strings (u32 len + bytes) from data[*off..len). */
static int
get_strings(const unsigned char *d, size_t len, size_t *off, uint32_t count,
    char **s, uint32_t *slen, const char *what, struct bn_err *e)
{
	uint32_t i, l;

	for (i = 0; i < count; i++) {
		if (len - *off < 4)
			return bn_seterr(e, BN_EFORMAT, "tokenizer: %s %u "
			    "truncated", what, (unsigned)i);
		l = get32(d + *off);
		*off += 4;
		if (l > len - *off)
			return bn_seterr(e, BN_EFORMAT, "tokenizer: %s %u "
			    "claims %u bytes past the payload", what,
			    (unsigned)i, (unsigned)l);
		if (set_str(&s[i], &slen[i], (const char *)d + *off, l) != 0)
			return bn_seterr(e, BN_ENOMEM, "out of memory");
		*off += l;
	}
	return BN_OK;
}

int
bn_vocab_decode(struct bn_vocab *v, const void *meta, size_t mlen,
    const void *data, size_t dlen, struct bn_err *e)
{
	const unsigned char *d = data;
	uint64_t nt, nm;
	int64_t hs = 0, ht = 0;
	struct bn_kv kv;
	size_t off = 0, need, i;
	int st;

	bn_kv_init(&kv);
	if (bn_kv_parse(&kv, meta, mlen) != 0) {
		bn_kv_free(&kv);
		return bn_seterr(e, BN_EFORMAT, "tokenizer: malformed "
		    "metadata");
	}
	if (bn_kv_get_u64(&kv, "n_tokens", &nt) != 0 ||
	    bn_kv_get_u64(&kv, "n_merges", &nm) != 0 ||
	    bn_kv_get_i64(&kv, "has_scores", &hs) < 0 ||
	    bn_kv_get_i64(&kv, "has_types", &ht) < 0 ||
	    (hs != 0 && hs != 1) || (ht != 0 && ht != 1)) {
		bn_kv_free(&kv);
		return bn_seterr(e, BN_EFORMAT, "tokenizer: bad or missing "
		    "n_tokens, n_merges, has_scores or has_types");
	}
	/* every token and merge takes at least 4 bytes: bound the counts */
	if (nt > dlen / 4 || nm > dlen / 4 || nt + nm > dlen / 4) {
		bn_kv_free(&kv);
		return bn_seterr(e, BN_EFORMAT, "tokenizer: %llu tokens and "
		    "%llu merges cannot fit in %zu bytes",
		    (unsigned long long)nt, (unsigned long long)nm, dlen);
	}
	bn_vocab_free(v);
	if (bn_vocab_alloc(v, (uint32_t)nt, (uint32_t)nm, (int)hs, (int)ht)
	    != 0) {
		bn_kv_free(&kv);
		return bn_seterr(e, BN_ENOMEM, "out of memory");
	}
	for (i = 0; i < kv.n; i++) {
		size_t j;

		for (j = 0; j < 4; j++)
			if (strcmp(kv.v[i].key, counts[j]) == 0)
				break;
		if (j == 4 && bn_kv_set(&v->kv, kv.v[i].key, kv.v[i].val)
		    != 0) {
			st = bn_seterr(e, BN_ENOMEM, "out of memory");
			goto fail;
		}
	}
	if ((st = get_strings(d, dlen, &off, v->n_tokens, v->tokens,
	    v->token_len, "token", e)) != BN_OK ||
	    (st = get_strings(d, dlen, &off, v->n_merges, v->merges,
	    v->merge_len, "merge", e)) != BN_OK)
		goto fail;
	off = (off + 3) & ~(size_t)3;
	need = off + 4 * (size_t)nt * (size_t)(hs + ht);
	if (off > dlen || need != dlen) {
		st = bn_seterr(e, BN_EFORMAT, "tokenizer: payload is %zu "
		    "bytes, its counts need %zu", dlen, need);
		goto fail;
	}
	if (hs) {
		memcpy(v->scores, d + off, 4 * (size_t)nt);
		off += 4 * (size_t)nt;
	}
	if (ht)
		memcpy(v->types, d + off, 4 * (size_t)nt);
	bn_kv_free(&kv);
	return BN_OK;
fail:
	bn_kv_free(&kv);
	bn_vocab_free(v);
	return st;
}
