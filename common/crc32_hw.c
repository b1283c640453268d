/* crc32_hw.c: CRC-32C with the SSE4.2 crc32 instruction (x86-64 only). */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "crc32.h"

#if defined(__x86_64__) && defined(__SSE4_2__)
#include <nmmintrin.h>
#include <pthread.h>

int
bn_crc32c_hw_ok(void)
{
	__builtin_cpu_init();
	return __builtin_cpu_supports("sse4.2");
}

/* The crc32 instruction takes 3 cycles and can start every cycle, so
 * long buffers run three streams of LANE bytes at once and join them:
 * the register is linear in what it starts from, so the register after
 * A B (|B| = LANE) is shift(register after A) ^ (B's from 0), shift
 * being LANE zero bytes, a linear map kept as four byte tables. */
#define LANE 4096

static uint32_t shift_tab[4][256];
static pthread_once_t shift_once = PTHREAD_ONCE_INIT;

static uint32_t
zeros(uint32_t c)	/* the register after LANE zero bytes */
{
	uint64_t r = c;
	int i;

	for (i = 0; i < LANE / 8; i++)
		r = _mm_crc32_u64(r, 0);
	return (uint32_t)r;
}

static void
shift_init(void)
{
	uint32_t bit[32];
	int i, k, b;

	for (i = 0; i < 32; i++)
		bit[i] = zeros(1u << i);
	for (k = 0; k < 4; k++)
		for (b = 0; b < 256; b++) {
			uint32_t v = 0;

			for (i = 0; i < 8; i++)
				if (b >> i & 1)
					v ^= bit[8 * k + i];
			shift_tab[k][b] = v;
		}
}

static uint64_t
shift(uint64_t c)
{
	return shift_tab[0][c & 0xff] ^ shift_tab[1][c >> 8 & 0xff] ^
	    shift_tab[2][c >> 16 & 0xff] ^ shift_tab[3][c >> 24 & 0xff];
}

uint32_t
bn_crc32c_hw(uint32_t crc, const void *buf, size_t n)
{
	const unsigned char *p = buf;
	uint64_t c = ~crc & 0xffffffffu, c1, c2, w0, w1, w2;
	size_t i;

	if (n >= 3 * LANE) {
		pthread_once(&shift_once, shift_init);
		for (; n >= 3 * LANE; p += 3 * LANE, n -= 3 * LANE) {
			c1 = c2 = 0;
			for (i = 0; i < LANE; i += 8) {
				memcpy(&w0, p + i, 8);
				memcpy(&w1, p + LANE + i, 8);
				memcpy(&w2, p + 2 * LANE + i, 8);
				c = _mm_crc32_u64(c, w0);
				c1 = _mm_crc32_u64(c1, w1);
				c2 = _mm_crc32_u64(c2, w2);
			}
			c = shift(shift(c) ^ c1) ^ c2;
		}
	}
	while (n >= 8) {
		memcpy(&w0, p, 8);
		c = _mm_crc32_u64(c, w0);
		p += 8;
		n -= 8;
	}
	while (n-- > 0)
		c = _mm_crc32_u8((uint32_t)c, *p++);
	return ~(uint32_t)c;
}
#else
int
bn_crc32c_hw_ok(void)
{
	return 0;
}

uint32_t
bn_crc32c_hw(uint32_t crc, const void *buf, size_t n)
{
	return bn_crc32c_sw(crc, buf, n);
}
#endif
