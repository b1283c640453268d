/* dispatch.c: pick the best kernel table for this CPU, once. */
#include <stdlib.h>
#include <string.h>

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <cpuid.h>
#define BN_HAVE_X86 1
#endif

#include "kernels.h"

const struct bn_kernels *bn_k = &bn_kernels_ref;

/* AVX2, FMA and F16C, with the OS saving the ymm state.
 * __builtin_cpu_supports("avx2") includes the OS check; clang 14 has
 * no "f16c" there, so F16C comes from CPUID leaf 1 (ECX bit 29). */
static int
have_avx2(void)
{
#ifdef BN_HAVE_X86
	unsigned a, b, c, d;

	__builtin_cpu_init();
	if (!__builtin_cpu_supports("avx2") || !__builtin_cpu_supports("fma"))
		return 0;
	if (!__get_cpuid(1, &a, &b, &c, &d))
		return 0;
	return (c & 1u << 29) != 0;
#else
	return 0;
#endif
}

int
bn_kernels_init(const char *force)
{
	if (force == NULL)
		force = getenv("BN_KERNEL");	/* tests pin a path this way */
	if (force == NULL || *force == '\0') {
#ifdef BN_HAVE_X86
		bn_k = have_avx2() ? &bn_kernels_avx2 : &bn_kernels_ref;
#else
		bn_k = &bn_kernels_ref;
#endif
	} else if (strcmp(force, "ref") == 0)
		bn_k = &bn_kernels_ref;
#ifdef BN_HAVE_X86
	else if (strcmp(force, "avx2") == 0 && have_avx2())
		bn_k = &bn_kernels_avx2;
#endif
	else
		return -1;			/* caller exits EX_UNAVAILABLE */
	return 0;
}
