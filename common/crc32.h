/* crc32.h: CRC-32C (Castagnoli), the bnt(5) record checksum. */
#ifndef BN_CRC32_H
#define BN_CRC32_H

#include <stddef.h>
#include <stdint.h>

/* Extend crc (start with 0) over n bytes; uses SSE4.2 when the CPU has it. */
uint32_t bn_crc32c(uint32_t crc, const void *buf, size_t n);
uint32_t bn_crc32c_sw(uint32_t crc, const void *buf, size_t n);
/* Hardware path (crc32_hw.c, built with -msse4.2); call only when
 * bn_crc32c_hw_ok() says the CPU has it. */
uint32_t bn_crc32c_hw(uint32_t crc, const void *buf, size_t n);
int bn_crc32c_hw_ok(void);

#endif
