/* unicode.h: UTF-8 decoding and the code point classes the tokenizer's
 * pre-tokenizers need (general category major class, White_Space). */
#ifndef BN_UNICODE_H
#define BN_UNICODE_H

#include <stddef.h>
#include <stdint.h>

#define BN_UC_L		0x01	/* \p{L}: Lu Ll Lt Lm Lo */
#define BN_UC_M		0x02	/* \p{M} */
#define BN_UC_N		0x04	/* \p{N}: Nd Nl No */
#define BN_UC_P		0x08	/* \p{P} */
#define BN_UC_S		0x10	/* \p{S} */
#define BN_UC_WS	0x20	/* \s: the White_Space property */

/* Not a code point: what bn_utf8_decode() gives for a byte that does not
 * start a valid sequence.  It has no class (flags 0). */
#define BN_UC_INVALID	0xFFFFFFFFu

/* BN_UC_* flags of code point cp (0 for unassigned, Z other than white
 * space, C, and BN_UC_INVALID). */
unsigned bn_unicode_flags(uint32_t cp);
/* The Unicode version the table was generated from. */
const char *bn_unicode_version(void);

/* Decode one code point from s (n > 0 bytes).  Returns its length, 1 to
 * 4.  A byte that does not start a well-formed sequence (stray
 * continuation, overlong form, surrogate, past U+10FFFF, truncated)
 * is returned alone as BN_UC_INVALID, length 1. */
size_t bn_utf8_decode(const unsigned char *s, size_t n, uint32_t *cp);
/* Is s[0..n) all well-formed UTF-8 (as bn_utf8_decode() judges it)? */
int bn_utf8_valid(const unsigned char *s, size_t n);
/* Encode cp (at most U+10FFFF) into out; returns 1 to 4, or 0 if cp is
 * out of range. */
size_t bn_utf8_encode(uint32_t cp, unsigned char out[4]);

/* The value of a hexadecimal digit, or -1. */
int bn_hex_digit(int c);

#endif
