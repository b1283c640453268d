/* membw.h: the machine's memory read bandwidth, measured (bench's
 * physical limit: bnrun --bench, tests/gen/membw). */
#ifndef BN_MEMBW_H
#define BN_MEMBW_H

#include <stddef.h>

/* Read bandwidth in bytes/s: threads threads sum a buffer of mib MiB
 * (larger than the last-level cache) in equal parts, best of reps
 * passes.  0 when it cannot be measured (no memory, no threads). */
double bn_membw(size_t mib, int threads, int reps);

#endif
