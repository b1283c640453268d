/* parse.c: strict number parsing. */
#include <ctype.h>
#include <errno.h>
#include <stdlib.h>

#include <string.h>

#include "parse.h"

int
bn_parse_u64(const char *s, uint64_t min, uint64_t max, uint64_t *v)
{
	unsigned long long x;
	char *end;

	if (!isdigit((unsigned char)*s))
		return -1;
	errno = 0;
	x = strtoull(s, &end, 10);
	if (errno != 0 || *end != '\0' || x < min || x > max)
		return -1;
	*v = x;
	return 0;
}

int
bn_parse_i64(const char *s, int64_t min, int64_t max, int64_t *v)
{
	long long x;
	char *end;

	if (!isdigit((unsigned char)*s) && *s != '-')
		return -1;
	errno = 0;
	x = strtoll(s, &end, 10);
	if (errno != 0 || *end != '\0' || end == s || x < min || x > max)
		return -1;
	*v = x;
	return 0;
}

int
bn_parse_uint(const char *s, unsigned min, unsigned max, unsigned *v)
{
	uint64_t x;

	if (bn_parse_u64(s, min, max, &x) != 0)
		return -1;
	*v = (unsigned)x;
	return 0;
}

int
bn_parse_f64(const char *s, double *v)
{
	char *end;
	double x;

	if (*s == '\0' || isspace((unsigned char)*s))
		return -1;
	errno = 0;
	x = strtod(s, &end);
	if (*end != '\0' || errno == ERANGE)
		return -1;
	*v = x;
	return 0;
}

int
bn_has_suffix(const char *s, const char *suffix)
{
	size_t n = strlen(s), k = strlen(suffix);

	return n >= k && strcmp(s + n - k, suffix) == 0;
}

int
bn_is_projection(const char *name)
{
	static const char *const proj[] = { "attn_q", "attn_k", "attn_v",
	    "attn_output", "ffn_gate", "ffn_up", "ffn_down" };
	const char *p;
	size_t i, n;

	if (strncmp(name, "blk.", 4) != 0)
		return 0;
	for (p = name + 4; *p >= '0' && *p <= '9'; p++)
		;
	if (p == name + 4 || *p++ != '.')
		return 0;
	for (i = 0; i < sizeof proj / sizeof proj[0]; i++) {
		n = strlen(proj[i]);
		if (strncmp(p, proj[i], n) == 0 && strcmp(p + n, ".weight") == 0)
			return 1;
	}
	return 0;
}
