/* version.h: --version output. */
#ifndef BN_VERSION_H
#define BN_VERSION_H

#include <stdio.h>

void bn_print_version(FILE *fp);

#endif
