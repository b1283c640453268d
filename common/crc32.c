/* crc32.c: CRC-32C, table-driven (slicing by 8) with a hardware path. */
#include <stdint.h>
#include <string.h>

#include "crc32.h"

#define POLY 0x82f63b78u	/* Castagnoli, reflected */

static uint32_t table[8][256];
static int table_ready;
static int use_hw = -1;

static void
init_table(void)
{
	uint32_t c;
	int i, j, k;

	for (i = 0; i < 256; i++) {
		c = (uint32_t)i;
		for (j = 0; j < 8; j++)
			c = c & 1 ? (c >> 1) ^ POLY : c >> 1;
		table[0][i] = c;
	}
	for (i = 0; i < 256; i++)
		for (k = 1; k < 8; k++)
			table[k][i] = (table[k - 1][i] >> 8) ^
			    table[0][table[k - 1][i] & 0xff];
	table_ready = 1;
}

uint32_t
bn_crc32c_sw(uint32_t crc, const void *buf, size_t n)
{
	const unsigned char *p = buf;
	uint64_t w;

	if (!table_ready)
		init_table();
	crc = ~crc;
	while (n >= 8) {
		memcpy(&w, p, 8);	/* little-endian hosts only */
		w ^= crc;
		crc = table[7][w & 0xff] ^ table[6][(w >> 8) & 0xff] ^
		    table[5][(w >> 16) & 0xff] ^ table[4][(w >> 24) & 0xff] ^
		    table[3][(w >> 32) & 0xff] ^ table[2][(w >> 40) & 0xff] ^
		    table[1][(w >> 48) & 0xff] ^ table[0][w >> 56];
		p += 8;
		n -= 8;
	}
	while (n-- > 0)
		crc = (crc >> 8) ^ table[0][(crc ^ *p++) & 0xff];
	return ~crc;
}

uint32_t
bn_crc32c(uint32_t crc, const void *buf, size_t n)
{
	if (use_hw < 0)
		use_hw = bn_crc32c_hw_ok();
	return use_hw ? bn_crc32c_hw(crc, buf, n) : bn_crc32c_sw(crc, buf, n);
}
