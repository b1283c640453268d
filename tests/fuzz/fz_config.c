/* fz_config: a config.json through bn_import_config_json and the model
 * configuration check (bn_config_from_kv). */
#include "config.h"
#include "fuzz.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct bn_config c;
	struct bn_file f;
	struct bn_kv kv;
	struct bn_err e;

	fz_file(&f, data, size, "config.json");
	bn_kv_init(&kv);
	if (bn_import_config_json(&f, &kv, &e) == BN_OK)
		(void)bn_config_from_kv(&c, &kv, &e);
	bn_kv_free(&kv);
	return 0;
}
