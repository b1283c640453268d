/* fz_tokenizer: a tokenizer.json through bn_import_tokenizer_json, then
 * a tokenizer built from it encodes and decodes a short text; and the
 * input as text through each pre-tokenizer (the regex engine). */
#include <stdlib.h>

#include "fuzz.h"
#include "tokenizer.h"

static void
pre_tokenize(const uint8_t *data, size_t size)
{
	static const char *const pre[] = {
		"gpt2", "llama3", "qwen2", "qwen35", "deepseek-llm",
		"deepseek-coder", "falcon", "starcoder"
	};
	struct bn_tokenizer *tk;
	struct bn_vocab v;
	struct bn_err e;
	int32_t *ids;
	size_t n;

	if (size == 0)
		return;
	bn_vocab_init(&v);
	if (bn_vocab_alloc(&v, 3, 1, 0, 0) == 0 &&
	    bn_vocab_set_token(&v, 0, "a", 1) == 0 &&
	    bn_vocab_set_token(&v, 1, "b", 1) == 0 &&
	    bn_vocab_set_token(&v, 2, "ab", 2) == 0 &&
	    bn_vocab_set_merge(&v, 0, "a b", 3) == 0 &&
	    bn_kv_set(&v.kv, BN_VOC_PRE, pre[data[0] % 8]) == 0 &&
	    bn_tokenizer_new(&tk, &v, &e) == BN_OK) {
		if (bn_tokenizer_encode(tk, (const char *)data + 1, size - 1,
		    &ids, &n, &e) == BN_OK)
			free(ids);
		bn_tokenizer_free(tk);
	}
	bn_vocab_free(&v);
}

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
	pre_tokenize(data, size);
	return 0;
}
