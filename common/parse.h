/* parse.h: strict parsing of numbers, sizes and shapes; tests on
 * names. */
#ifndef BN_PARSE_H
#define BN_PARSE_H

#include <stdint.h>

/* Each returns 0, or -1 for junk, overflow, a sign where none is allowed,
 * or a value outside [min, max]. */
int bn_parse_u64(const char *s, uint64_t min, uint64_t max, uint64_t *v);
int bn_parse_i64(const char *s, int64_t min, int64_t max, int64_t *v);
int bn_parse_uint(const char *s, unsigned min, unsigned max, unsigned *v);
int bn_parse_f64(const char *s, double *v);	/* finite or not, no junk */

/* 1 if s ends with suffix. */
int bn_has_suffix(const char *s, const char *suffix);

#endif
