/* fz_npy: an .npy file through bn_import_npy and bn_npy_header (the
 * header of a bnquant token corpus); an .npz (zip) through libarchive
 * and bn_import_npz when the input starts with "PK". */
#include <stdlib.h>

#include "fuzz.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct bn_fileset fs;
	struct bn_file f;
	struct bn_sink s;
	struct bn_err e;
	struct bnt_tensor t;
	char descr[32];
	size_t off;

	fz_sink_init(&s);
	if (size >= 2 && data[0] == 'P' && data[1] == 'K') {
		fz_file(&f, data, size, "fuzz.npz");
		bn_fileset_init(&fs);
		if (bn_fileset_from_archive(&fs, &f, &e) == BN_OK)
			(void)bn_import_npz(&fs, &s, &e);
		bn_fileset_free(&fs);
		return 0;
	}
	fz_file(&f, data, size, "fuzz.npy");
	(void)bn_import_npy(&f, "x", &s, &e);
	if (bn_npy_header(data, size, "x", descr, &t, &off, &e) == BN_OK &&
	    (off > size || strlen(descr) >= sizeof descr))
		abort();
	return 0;
}
