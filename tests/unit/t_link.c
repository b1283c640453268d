/* t_link.c: a program that calls only bn_export_onnx (and maps its
 * input) links against the Makefile's LIBS in their order, one pass:
 * export/ uses the kernel table below it, never a library above it
 * (issue 16; make check-floors checks every library with nm). */
#include <stdio.h>
#include <string.h>

#include "bnt.h"
#include "export.h"

#include "check.h"

int
main(void)
{
	struct bnt_map m;
	struct bn_err e = { "" };
	FILE *f = tmpfile();
	char head[11];

	CHECK(f != NULL);
	CHECK(bnt_map_open(&m, "models/austen-ternary.bnt", 0, &e) == BN_OK);
	if (f != NULL && e.msg[0] == '\0') {
		CHECK(bn_export_onnx(&m, f, NULL, &e) == BN_OK);
		CHECK(ftell(f) > 1000000);	/* 42 INT2 projections */
		rewind(f);			/* IR 13, producer bntools */
		CHECK(fread(head, 1, 11, f) == 11 &&
		    memcmp(head, "\x08\x0d\x12\x07" "bntools", 11) == 0);
		bnt_map_close(&m);
	}
	if (e.msg[0] != '\0')
		fprintf(stderr, "%s\n", e.msg);
	if (f != NULL)
		fclose(f);
	return check_done();
}
