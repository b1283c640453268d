/* fz_tar: a tar bundle (any libarchive format) through
 * bn_fileset_from_archive and then the Hugging Face importer; on inputs
 * of odd length reading only the members bnpack reads (bn_hf_wants),
 * skipping the others, as bnpack does. */
#include "fuzz.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct bn_fileset fs;
	struct bn_file f;
	struct bn_sink s;
	struct bn_err e;
	size_t i;

	fz_file(&f, data, size, "fuzz.tar");
	fz_sink_init(&s);
	bn_fileset_init(&fs);
	if (bn_fileset_from_archive_want(&fs, &f, size & 1 ? bn_hf_wants :
	    NULL, &e) == BN_OK) {
		for (i = 0; i < fs.n; i++)
			if (fs.files[i].size > 0)
				fz_sink_acc += fs.files[i].data[0] +
				    fs.files[i].data[fs.files[i].size - 1];
		(void)bn_fileset_get(&fs, "config.json");
		(void)bn_import_hf(&fs, &s, &e);
	}
	bn_fileset_free(&fs);
	return 0;
}
