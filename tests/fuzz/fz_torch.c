/* fz_torch: a torch.save zip (.pt) through libarchive and
 * bn_import_torch. */
#include "fuzz.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct bn_fileset fs;
	struct bn_file f;
	struct bn_sink s;
	struct bn_err e;

	fz_file(&f, data, size, "fuzz.pt");
	fz_sink_init(&s);
	bn_fileset_init(&fs);
	if (bn_fileset_from_archive(&fs, &f, &e) == BN_OK)
		(void)bn_import_torch(&fs, &s, &e);
	bn_fileset_free(&fs);
	return 0;
}
