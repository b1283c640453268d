/* kpick.h: the tools' one way to pick the kernels. */
#ifndef BN_KPICK_H
#define BN_KPICK_H

/* bn_kernels_init(NULL), or exit 69 with a message naming what
 * BN_KERNEL asked for and why it cannot be had. */
void bn_kernels_pick(void);

#endif
