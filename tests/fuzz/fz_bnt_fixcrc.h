/* fz_bnt_fixcrc.h: rewrite the CRC-32C fields of a bnt stream so that
 * mutated inputs get past the checksums and reach the parser behind
 * them.  Walks file headers and records by their (claimed) lengths and
 * stops where they leave the buffer. */
#ifndef BN_FZ_BNT_FIXCRC_H
#define BN_FZ_BNT_FIXCRC_H

#include "crc32.h"

static uint64_t
fz_get64(const unsigned char *p)
{
	uint64_t v = 0;
	int i;

	for (i = 7; i >= 0; i--)
		v = v << 8 | p[i];
	return v;
}

static void
fz_put32(unsigned char *p, uint32_t v)
{
	p[0] = v & 0xff;
	p[1] = v >> 8 & 0xff;
	p[2] = v >> 16 & 0xff;
	p[3] = v >> 24 & 0xff;
}

static void
fz_bnt_fixcrc(unsigned char *b, size_t n)
{
	size_t off = 0;
	int need_hdr = 1;

	while (off < n) {
		uint64_t ml, dl, mend, dend;
		uint32_t kind;

		if (need_hdr) {
			if (n - off < BNT_HEADER_SIZE)
				return;
			fz_put32(b + off + 60, bn_crc32c(0, b + off, 60));
			off += BNT_HEADER_SIZE;
			need_hdr = 0;
			continue;
		}
		if (n - off < BNT_RECORD_SIZE)
			return;
		kind = (uint32_t)b[off] | (uint32_t)b[off + 1] << 8 |
		    (uint32_t)b[off + 2] << 16 | (uint32_t)b[off + 3] << 24;
		ml = fz_get64(b + off + 8);
		dl = fz_get64(b + off + 16);
		if (ml <= n - off - BNT_RECORD_SIZE &&
		    dl <= n - off - BNT_RECORD_SIZE - ml) {
			uint32_t c = bn_crc32c(0, b + off + BNT_RECORD_SIZE,
			    (size_t)ml);

			mend = (BNT_RECORD_SIZE + ml + 63) / 64 * 64;
			if (mend <= n - off)
				c = bn_crc32c(c, b + off + mend,
				    dl <= n - off - mend ? (size_t)dl :
				    n - off - mend);
			fz_put32(b + off + 24, c);
		} else {
			mend = dend = n;
		}
		fz_put32(b + off + 28, bn_crc32c(0, b + off, 28));
		if (ml > n || dl > n)
			return;
		mend = (BNT_RECORD_SIZE + ml + 63) / 64 * 64;
		dend = mend + (dl + 63) / 64 * 64;
		if (dend > n - off)
			return;
		off += (size_t)dend;
		if (kind == BNT_KIND_END && ml == 0 && dl == 0)
			need_hdr = 1;
	}
}

#endif
