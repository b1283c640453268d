/* dispatch.c: pick the best kernel table for this CPU, once. */
#include <stdlib.h>
#include <string.h>

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <cpuid.h>
#define BN_HAVE_X86 1
#endif
#if defined(__aarch64__)
#define BN_HAVE_ARM 1
#if defined(__linux__)
#include <sys/auxv.h>
#ifndef HWCAP_ASIMDDP
#define HWCAP_ASIMDDP (1UL << 20)
#endif
#endif
#endif

#include "kernels.h"

const struct bn_kernels *bn_k = &bn_kernels_ref;

/* AVX2, FMA and F16C, with the OS saving the ymm state.
 * __builtin_cpu_supports("avx2") includes the OS check; clang 14 has
 * no "f16c" there, so F16C comes from CPUID leaf 1 (ECX bit 29). */
#ifdef BN_HAVE_X86
static int
have_avx2(void)
{
	unsigned a, b, c, d;

	__builtin_cpu_init();
	if (!__builtin_cpu_supports("avx2") || !__builtin_cpu_supports("fma"))
		return 0;
	if (!__get_cpuid(1, &a, &b, &c, &d))
		return 0;
	return (c & 1u << 29) != 0;
}

/* AVX2 as above and AVX-512 F, BW, VL and VNNI (CPUID leaf 7: EBX bits
 * 16, 30, 31, ECX bit 11), with the OS saving the opmask and zmm state:
 * OSXSAVE (leaf 1 ECX bit 27), then XCR0 bits 1-2 (xmm, ymm) and 5-7
 * (opmask, zmm 0-15 upper halves, zmm 16-31). */
static int
have_avx512(void)
{
	unsigned a, b, c, d, lo, hi;

	if (!have_avx2() || !__get_cpuid(1, &a, &b, &c, &d) ||
	    (c & 1u << 27) == 0)
		return 0;
	__asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
	if ((lo & 0xe6) != 0xe6)
		return 0;
	if (!__get_cpuid_count(7, 0, &a, &b, &c, &d))
		return 0;
	return (b & 1u << 16) && (b & 1u << 30) && (b & 1u << 31) &&
	    (c & 1u << 11);
}
#endif

#ifdef BN_HAVE_ARM
/* ARMv8.2 dot product (sdot): the kernel says so in AT_HWCAP. */
static int
have_dotprod(void)
{
#if defined(__linux__)
	return (getauxval(AT_HWCAP) & HWCAP_ASIMDDP) != 0;
#else
	return 0;
#endif
}
#endif

int
bn_kernels_init(const char *force)
{
	if (force == NULL)
		force = getenv("BN_KERNEL");	/* tests pin a path this way */
	if (force == NULL || *force == '\0') {
#ifdef BN_HAVE_X86
		bn_k = have_avx512() ? &bn_kernels_avx512 :
		    have_avx2() ? &bn_kernels_avx2 : &bn_kernels_ref;
#elif defined(BN_HAVE_ARM)
		bn_k = have_dotprod() ? &bn_kernels_neon_dotprod :
		    &bn_kernels_neon;
#else
		bn_k = &bn_kernels_ref;
#endif
	} else if (strcmp(force, "ref") == 0)
		bn_k = &bn_kernels_ref;
#ifdef BN_HAVE_X86
	else if (strcmp(force, "avx2") == 0 && have_avx2())
		bn_k = &bn_kernels_avx2;
	else if (strcmp(force, "avx512") == 0 && have_avx512())
		bn_k = &bn_kernels_avx512;
#endif
#ifdef BN_HAVE_ARM
	else if (strcmp(force, "neon") == 0)
		bn_k = &bn_kernels_neon;
	else if (strcmp(force, "neon-dotprod") == 0 && have_dotprod())
		bn_k = &bn_kernels_neon_dotprod;
#endif
	else if (strcmp(force, "avx2") == 0 || strcmp(force, "avx512") == 0 ||
	    strcmp(force, "neon") == 0 || strcmp(force, "neon-dotprod") == 0)
		return -1;			/* caller exits EX_UNAVAILABLE */
	else
		return -2;
	return 0;
}
