/* unicode.c: UTF-8 decoding and code point classes from unicode_tab.h. */
#include <stddef.h>
#include <stdint.h>

#include "unicode.h"
#include "unicode_tab.h"

/* The ASCII classes, looked up often enough to deserve a table. */
static unsigned
ascii_flags(uint32_t c)
{
	if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'))
		return BN_UC_L;
	if (c >= '0' && c <= '9')
		return BN_UC_N;
	if (c == ' ' || (c >= 0x09 && c <= 0x0d))
		return BN_UC_WS;
	if (c < 0x20 || c == 0x7f)
		return 0;
	/* $ + < = > ^ ` | ~ are symbols, the rest punctuation */
	switch (c) {
	case '$': case '+': case '<': case '=': case '>': case '^': case '`':
	case '|': case '~':
		return BN_UC_S;
	default:
		return BN_UC_P;
	}
}

unsigned
bn_unicode_flags(uint32_t cp)
{
	size_t lo = 0, hi = BN_UC_NRUNS, mid;

	if (cp < 0x80)
		return ascii_flags(cp);
	if (cp > 0x10FFFF)
		return 0;
	/* the last run whose first code point is <= cp */
	while (hi - lo > 1) {
		mid = lo + (hi - lo) / 2;
		if (bn_uc_first[mid] <= cp)
			lo = mid;
		else
			hi = mid;
	}
	return bn_uc_flags[lo];
}

const char *
bn_unicode_version(void)
{
	return BN_UNICODE_VERSION;
}

size_t
bn_utf8_decode(const unsigned char *s, size_t n, uint32_t *cp)
{
	uint32_t c = s[0], min;
	size_t len, i;

	if (c < 0x80) {
		*cp = c;
		return 1;
	}
	if (c >= 0xc2 && c <= 0xdf) {
		len = 2;
		c &= 0x1f;
		min = 0x80;
	} else if (c >= 0xe0 && c <= 0xef) {
		len = 3;
		c &= 0x0f;
		min = 0x800;
	} else if (c >= 0xf0 && c <= 0xf4) {
		len = 4;
		c &= 0x07;
		min = 0x10000;
	} else {
		*cp = BN_UC_INVALID;
		return 1;
	}
	if (n < len) {
		*cp = BN_UC_INVALID;
		return 1;
	}
	for (i = 1; i < len; i++) {
		if ((s[i] & 0xc0) != 0x80) {
			*cp = BN_UC_INVALID;
			return 1;
		}
		c = c << 6 | (s[i] & 0x3f);
	}
	if (c < min || c > 0x10FFFF || (c >= 0xd800 && c <= 0xdfff)) {
		*cp = BN_UC_INVALID;
		return 1;
	}
	*cp = c;
	return len;
}

int
bn_utf8_valid(const unsigned char *s, size_t n)
{
	uint32_t cp;
	size_t i, k;

	for (i = 0; i < n; i += k) {
		k = bn_utf8_decode(s + i, n - i, &cp);
		if (cp == BN_UC_INVALID)
			return 0;
	}
	return 1;
}

size_t
bn_utf8_encode(uint32_t cp, unsigned char out[4])
{
	if (cp < 0x80) {
		out[0] = (unsigned char)cp;
		return 1;
	}
	if (cp < 0x800) {
		out[0] = (unsigned char)(0xc0 | cp >> 6);
		out[1] = (unsigned char)(0x80 | (cp & 0x3f));
		return 2;
	}
	if (cp < 0x10000) {
		out[0] = (unsigned char)(0xe0 | cp >> 12);
		out[1] = (unsigned char)(0x80 | (cp >> 6 & 0x3f));
		out[2] = (unsigned char)(0x80 | (cp & 0x3f));
		return 3;
	}
	if (cp <= 0x10FFFF) {
		out[0] = (unsigned char)(0xf0 | cp >> 18);
		out[1] = (unsigned char)(0x80 | (cp >> 12 & 0x3f));
		out[2] = (unsigned char)(0x80 | (cp >> 6 & 0x3f));
		out[3] = (unsigned char)(0x80 | (cp & 0x3f));
		return 4;
	}
	return 0;
}

int
bn_hex_digit(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}
