/* fz_config: a config.json through bn_import_config_json and the rules
 * of common/config.c: bn_config_from_kv, bn_config_check, and
 * bn_config_check_vocab with the record's own keys as the tokenizer's
 * (bos_id, eos_id, pad_id) and a token count from the input's size. */
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
	if (bn_import_config_json(&f, &kv, &e) == BN_OK) {
		(void)bn_config_from_kv(&c, &kv, &e);
		(void)bn_config_check(&kv, &e);
		(void)bn_config_check_vocab(&kv, &kv, size, &e);
		(void)bn_config_check_vocab(NULL, &kv, size / 2, &e);
	}
	bn_kv_free(&kv);
	return 0;
}
