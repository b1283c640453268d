/* fz_bnt_stream: the streaming bnt reader (bnt_read_next) on a memory
 * FILE, checksums made to match; every record is also forwarded.  Odd
 * lengths read every concatenated stream, even ones the first only. */
#include <stdio.h>
#include <stdlib.h>

#include "fuzz.h"
#include "fz_bnt_fixcrc.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct bnt_reader *r;
	struct bnt_record rec;
	unsigned char *b;
	FILE *fp, *out;
	int n = 0;

	if (size == 0 || (b = malloc(size)) == NULL)
		return 0;
	memcpy(b, data, size);
	fz_bnt_fixcrc(b, size);
	if ((fp = fmemopen(b, size, "rb")) == NULL) {
		free(b);
		return 0;
	}
	out = fopen("/dev/null", "wb");
	if ((r = bnt_reader_open(fp, "fuzz")) != NULL) {
		if (size & 1)
			bnt_reader_all_streams(r);
		while (bnt_read_next(r, &rec) == BN_OK && n++ < 100000) {
			if (rec.kind == BNT_KIND_TENSOR && rec.len > 0)
				fz_sink_acc += rec.data[0] +
				    rec.data[rec.len - 1];
			if (out != NULL)
				bnt_reader_forward(r, out);
		}
		(void)bnt_reader_error(r);
		bnt_reader_close(r);
	}
	if (out != NULL)
		fclose(out);
	fclose(fp);
	free(b);
	return 0;
}
