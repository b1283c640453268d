/* json.h: a strict RFC 8259 JSON parser into a read-only tree.
 *
 * The whole document is parsed at once into one node array and one text
 * buffer owned by a struct bn_json_doc.  Objects keep their members in
 * input order (duplicate names are kept; bn_json_get() returns the last,
 * as Python's json module does).  Strings are decoded to UTF-8 (\uXXXX
 * escapes included, surrogate pairs joined; lone surrogates, invalid
 * UTF-8 and raw control characters are refused) and NUL-terminated, but
 * may contain NUL bytes of their own (\u0000): use len.  Numbers keep
 * their text as written ("1e-05") as well as a double.  Containers nest
 * at most BN_JSON_MAX_DEPTH deep.  A leading byte-order mark is refused.
 *
 * Memory: at most about 40 bytes per input byte (one node per value and
 * a copy of the text), whatever the input; no other limit is applied. */
#ifndef BN_JSON_H
#define BN_JSON_H

#include <stddef.h>
#include <stdio.h>
#include <stdint.h>

#include "mem.h"
#include "status.h"

#define BN_JSON_MAX_DEPTH 256

enum bn_json_type {
	BN_JSON_NULL = 0,
	BN_JSON_FALSE,
	BN_JSON_TRUE,
	BN_JSON_NUMBER,
	BN_JSON_STRING,
	BN_JSON_ARRAY,
	BN_JSON_OBJECT
};

struct bn_json {
	int type;		/* enum bn_json_type */
	const char *key;	/* member of an object: its name, else NULL */
	size_t key_len;
	const char *str;	/* STRING: decoded text; NUMBER: raw text */
	size_t len;		/* bytes of str (without the final NUL) */
	double num;		/* NUMBER: value (may be +-inf if huge) */
	struct bn_json *kids;	/* ARRAY, OBJECT: n members, in order */
	size_t n;
	size_t offset;		/* offset of the value in the input */
};

struct bn_json_doc {
	struct bn_json *root;	/* NULL until parsed */
	size_t err_offset;	/* byte offset of a syntax error */
	struct bn_json *nodes;	/* private storage */
	char *text;
};

/* Parse len bytes (any bytes: no NUL terminator needed).  BN_OK, or
 * BN_EFORMAT with "byte N: what is wrong" in e and N in d->err_offset,
 * or BN_ENOMEM.  Free d with bn_json_free() in every case. */
int bn_json_parse(struct bn_json_doc *d, const void *buf, size_t len,
    struct bn_err *e);
void bn_json_free(struct bn_json_doc *d);

/* Member key of object o (last one if repeated); NULL if o is not an
 * object or has none. */
const struct bn_json *bn_json_get(const struct bn_json *o, const char *key);
/* Element i of an array or object; NULL if out of range or a scalar. */
const struct bn_json *bn_json_at(const struct bn_json *a, size_t i);
/* Is v a string equal to s (no embedded NULs)? */
int bn_json_streq(const struct bn_json *v, const char *s);
/* v as an integer written without fraction or exponent, in range:
 * 0, or -1 (absent, not a number, not an integer, out of range). */
int bn_json_i64(const struct bn_json *v, int64_t *out);
int bn_json_u64(const struct bn_json *v, uint64_t *out);
/* "null", "false", ..., "object"; "?" for a bad type. */
const char *bn_json_type_name(int type);

/* The one JSON string writer: s[0..n) quoted, with '"', '\\', \n, \r
 * and \t escaped short and other control characters as \u00XX; other
 * bytes go as they are (the caller checked UTF-8 where it matters). */
void bn_json_put_str(struct bn_buf *b, const char *s, size_t n);
/* The same to a stream, for a NUL-terminated s. */
void bn_json_fput_str(FILE *fp, const char *s);

#endif
