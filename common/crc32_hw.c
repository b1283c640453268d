/* crc32_hw.c: CRC-32C with the SSE4.2 crc32 instruction (x86-64 only). */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "crc32.h"

#if defined(__x86_64__) && defined(__SSE4_2__)
#include <nmmintrin.h>

int
bn_crc32c_hw_ok(void)
{
	__builtin_cpu_init();
	return __builtin_cpu_supports("sse4.2");
}

uint32_t
bn_crc32c_hw(uint32_t crc, const void *buf, size_t n)
{
	const unsigned char *p = buf;
	uint64_t c = ~crc & 0xffffffffu, w;

	while (n >= 8) {
		memcpy(&w, p, 8);
		c = _mm_crc32_u64(c, w);
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
