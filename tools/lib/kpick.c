/* kpick.c: BN_KERNEL for the tools (the library returns, this exits). */
#include <stdlib.h>
#include <sysexits.h>

#include "err.h"
#include "kernels.h"
#include "kpick.h"

void
bn_kernels_pick(void)
{
	switch (bn_kernels_init(NULL)) {
	case 0:
		return;
	case -2:
		bn_errx(EX_UNAVAILABLE, "BN_KERNEL=%s: unknown; known: ref, "
		    "avx2, avx512 (x86-64), neon, neon-dotprod (aarch64)",
		    getenv("BN_KERNEL"));
	default:
		bn_errx(EX_UNAVAILABLE, "BN_KERNEL=%s: not available on this "
		    "CPU", getenv("BN_KERNEL"));
	}
}
