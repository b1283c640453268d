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
