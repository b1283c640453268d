/* fz_gguf: a .gguf file through bn_import_gguf. */
#include "fuzz.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct bn_file f;
	struct bn_sink s;
	struct bn_err e;

	fz_file(&f, data, size, "fuzz.gguf");
	fz_sink_init(&s);
	(void)bn_import_gguf(&f, &s, &e);
	return 0;
}
