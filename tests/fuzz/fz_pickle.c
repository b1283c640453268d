/* fz_pickle: raw pickle bytes through bn_pickle_load (the restricted
 * unpickler behind .pt files). */
#include "fuzz.h"
#include "pickle.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct bn_pickle pk;
	struct bn_err e;

	memset(&pk, 0, sizeof pk);
	(void)bn_pickle_load(&pk, data, size, &e);
	bn_pickle_free(&pk);
	return 0;
}
