/* version.c: --version: tool, version, libraries. */
#include <archive.h>
#include <stdio.h>
#include <zstd.h>

#include "crc32.h"
#include "err.h"
#include "version.h"

#ifndef BN_VERSION
#define BN_VERSION "0.0.0"
#endif

void
bn_print_version(FILE *fp)
{
	fprintf(fp, "%s (bntools) %s\n", bn_progname, BN_VERSION);
	fprintf(fp, "crc32c %s, libzstd %s, %s\n",
	    bn_crc32c_hw_ok() ? "sse4.2" : "table", ZSTD_versionString(),
	    archive_version_details());
}
