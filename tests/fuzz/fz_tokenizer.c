/* fz_tokenizer: a tokenizer.json through bn_import_tokenizer_json, then
 * a tokenizer built from it encodes and decodes a short text. */
#include <stdlib.h>

#include "fuzz.h"
#include "tokenizer.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char text[] = "Hello, world! \xc3\xa9t\xc3\xa9 <s> 123\n"
	    "\xe2\x96\x81x \xff";
	struct bn_tokenizer *tk;
	struct bn_vocab v;
	struct bn_file f;
	struct bn_err e;
	int32_t *ids = NULL;
	size_t n = 0, len;
	char *out;

	fz_file(&f, data, size, "tokenizer.json");
	bn_vocab_init(&v);
	if (bn_import_tokenizer_json(&f, &v, &e) == BN_OK &&
	    bn_tokenizer_new(&tk, &v, &e) == BN_OK) {
		if (bn_tokenizer_encode(tk, text, sizeof text - 1, &ids, &n,
		    &e) == BN_OK && bn_tokenizer_detokenize(tk, ids, n, 0,
		    &out, &len, &e) == BN_OK)
			free(out);
		free(ids);
		bn_tokenizer_free(tk);
	}
	bn_vocab_free(&v);
	return 0;
}
