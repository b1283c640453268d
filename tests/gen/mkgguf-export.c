/* mkgguf-export.c: mkgguf-export IN.bnt OUT.gguf, over bn_export_gguf()
 * (a test helper until the bnexport tool exists). */
#include <stdio.h>
#include <string.h>

#include "bnt.h"
#include "export.h"
#include "status.h"

int
main(int argc, char **argv)
{
	struct bnt_map m;
	struct bn_err e;
	FILE *fp;
	int rc;

	memset(&e, 0, sizeof e);
	if (argc != 3) {
		fprintf(stderr, "usage: mkgguf-export IN.bnt OUT.gguf\n");
		return 64;
	}
	if ((rc = bnt_map_open(&m, argv[1], BNT_MAP_NOCRC, &e)) != BN_OK) {
		fprintf(stderr, "mkgguf-export: %s: %s\n", argv[1], e.msg);
		return bn_exit_code(rc);
	}
	if ((fp = fopen(argv[2], "wb")) == NULL) {
		perror(argv[2]);
		bnt_map_close(&m);
		return 73;
	}
	rc = bn_export_gguf(&m, fp, &e);
	if (fclose(fp) != 0 && rc == BN_OK)
		rc = bn_seterr(&e, BN_EIO, "write error");
	bnt_map_close(&m);
	if (rc != BN_OK) {
		fprintf(stderr, "mkgguf-export: %s: %s\n", argv[2], e.msg);
		remove(argv[2]);
		return bn_exit_code(rc);
	}
	return 0;
}
