/* kv.c: ordered key=value lists. */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kv.h"
#include "mem.h"
#include "parse.h"

void
bn_kv_init(struct bn_kv *kv)
{
	memset(kv, 0, sizeof *kv);
}

void
bn_kv_free(struct bn_kv *kv)
{
	size_t i;

	for (i = 0; i < kv->n; i++) {
		free(kv->v[i].key);
		free(kv->v[i].val);
	}
	free(kv->v);
	bn_kv_init(kv);
}

int
bn_kv_set(struct bn_kv *kv, const char *key, const char *val)
{
	char *k, *v;
	size_t i;

	if (*key == '\0' || strpbrk(key, "=\n") != NULL ||
	    strchr(val, '\n') != NULL)
		return -1;
	if ((v = strdup(val)) == NULL)
		return -1;
	for (i = 0; i < kv->n; i++)
		if (strcmp(kv->v[i].key, key) == 0) {
			free(kv->v[i].val);
			kv->v[i].val = v;
			return 0;
		}
	if (bn_grow(&kv->v, &kv->cap, kv->n + 1, sizeof *kv->v) != 0)
		goto fail;
	if ((k = strdup(key)) == NULL)
		goto fail;
	kv->v[kv->n].key = k;
	kv->v[kv->n].val = v;
	kv->n++;
	return 0;
fail:
	free(v);
	return -1;
}

int
bn_kv_setf(struct bn_kv *kv, const char *key, const char *fmt, ...)
{
	char buf[512];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(buf, sizeof buf, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sizeof buf)
		return -1;
	return bn_kv_set(kv, key, buf);
}

const char *
bn_kv_get(const struct bn_kv *kv, const char *key)
{
	size_t i;

	for (i = 0; i < kv->n; i++)
		if (strcmp(kv->v[i].key, key) == 0)
			return kv->v[i].val;
	return NULL;
}

int
bn_kv_get_u64(const struct bn_kv *kv, const char *key, uint64_t *v)
{
	const char *s = bn_kv_get(kv, key);

	if (s == NULL)
		return 1;
	return bn_parse_u64(s, 0, UINT64_MAX, v) == 0 ? 0 : -1;
}

int
bn_kv_get_i64(const struct bn_kv *kv, const char *key, int64_t *v)
{
	const char *s = bn_kv_get(kv, key);

	if (s == NULL)
		return 1;
	return bn_parse_i64(s, INT64_MIN, INT64_MAX, v) == 0 ? 0 : -1;
}

int
bn_kv_get_f64(const struct bn_kv *kv, const char *key, double *v)
{
	const char *s = bn_kv_get(kv, key);

	if (s == NULL)
		return 1;
	return bn_parse_f64(s, v) == 0 ? 0 : -1;
}

char *
bn_kv_format(const struct bn_kv *kv, size_t *len)
{
	size_t i, n = 1, off = 0;
	char *s;

	for (i = 0; i < kv->n; i++)
		n += strlen(kv->v[i].key) + strlen(kv->v[i].val) + 2;
	if ((s = malloc(n)) == NULL)
		return NULL;
	for (i = 0; i < kv->n; i++)
		off += (size_t)sprintf(s + off, "%s=%s\n", kv->v[i].key,
		    kv->v[i].val);
	*len = off;
	return s;
}

int
bn_kv_parse(struct bn_kv *kv, const char *text, size_t len)
{
	const char *p = text, *end = text + len, *nl, *eq;
	char *line;
	int rc;

	if (memchr(text, '\0', len) != NULL)
		return -1;
	while (p < end) {
		nl = memchr(p, '\n', (size_t)(end - p));
		if (nl == NULL)
			return -1;	/* every line ends with a newline */
		eq = memchr(p, '=', (size_t)(nl - p));
		if (eq == NULL || eq == p)
			return -1;
		if ((line = strndup(p, (size_t)(nl - p))) == NULL)
			return -1;
		line[eq - p] = '\0';
		rc = bn_kv_set(kv, line, line + (eq - p) + 1);
		free(line);
		if (rc != 0)
			return -1;
		p = nl + 1;
	}
	return 0;
}
