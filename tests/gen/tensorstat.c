/* tensorstat.c: the exact contents of the f32 tensors of a bnt(5)
 * stream, for tests of bnquant --init (their moments are bnstat's).
 *
 * usage: tensorstat [FILE]
 *
 * One line per f32 tensor on standard output:
 *   name elements fnv zero-rows
 * fnv is the 64-bit FNV-1a hash of the tensor's payload bytes in hex,
 * so a test can pin the exact values without depending on the other
 * records; zero-rows lists the rows that are all zero (0,5,9), or is
 * "-". */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "bnt.h"
#include "dtype.h"

int
main(int argc, char *argv[])
{
	struct bnt_reader *r;
	struct bnt_record rec;
	FILE *fp = stdin;
	int st;

	if (argc > 2) {
		fputs("usage: tensorstat [file]\n", stderr);
		return 64;
	}
	if (argc == 2 && (fp = fopen(argv[1], "rb")) == NULL) {
		perror(argv[1]);
		return 66;
	}
	if ((r = bnt_reader_open(fp, argc == 2 ? argv[1] : "<stdin>")) == NULL)
		return 71;
	while ((st = bnt_read_next(r, &rec)) == BN_OK) {
		const struct bnt_tensor *t = &rec.tensor;
		uint64_t i, row, nz, h = UINT64_C(0xcbf29ce484222325);
		float x;

		if (rec.kind != BNT_KIND_TENSOR || t->dtype != BN_DTYPE_F32)
			continue;
		for (i = 0; i < t->data_bytes; i++)
			h = (h ^ rec.data[i]) * UINT64_C(0x100000001b3);
		printf("%s %llu %016llx", t->name,
		    (unsigned long long)t->nelem, (unsigned long long)h);
		nz = 0;
		for (row = 0; row < t->rows; row++) {
			for (i = 0; i < t->row_len; i++) {
				memcpy(&x, rec.data + 4 * (row * t->row_len +
				    i), 4);
				if (x != 0)
					break;
			}
			if (t->row_len > 0 && i == t->row_len)
				printf("%s%llu", nz++ ? "," : " ",
				    (unsigned long long)row);
		}
		puts(nz ? "" : " -");
	}
	if (st != BN_END) {
		fprintf(stderr, "tensorstat: %s\n", bnt_reader_error(r));
		return 65;
	}
	bnt_reader_close(r);
	if (fp != stdin)
		fclose(fp);
	return 0;
}
