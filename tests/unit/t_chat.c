/* t_chat.c: chat template detection and formatting (common/chat.h):
 * llama.cpp's order of tests, the families not formatted here, the
 * template's own system prompt, and the property bnrun --chat's cache
 * rests on: what a turn left (its prompt and reply) leads the next. */
#include <stdlib.h>
#include <string.h>

#include "chat.h"
#include "check.h"

static void
detect(void)
{
	int f;

	for (f = 1; f < BN_CHAT_NFAMILIES; f++) {
		CHECK(bn_chat_family(bn_chat_name(f)) == f);
		CHECK(bn_chat_detect(bn_chat_name(f)) == f);
	}
	CHECK(bn_chat_family("zephyr") == BN_CHAT_UNKNOWN);
	CHECK(bn_chat_detect("") == BN_CHAT_UNKNOWN);
	CHECK(bn_chat_detect("{{ '<|im_start|>' }}") == BN_CHAT_CHATML);
	/* Phi-4 and SmolVLM use <|im_start|> but are not ChatML */
	CHECK(bn_chat_detect("<|im_start|><|im_sep|>") == BN_CHAT_UNKNOWN);
	CHECK(bn_chat_detect("<|im_start|><end_of_utterance>") ==
	    BN_CHAT_UNKNOWN);
	/* Mistral v7 has [SYSTEM_PROMPT]; Llama-2 and v1 to v3 do not */
	CHECK(bn_chat_detect("[INST] [SYSTEM_PROMPT]") == BN_CHAT_MISTRAL);
	CHECK(bn_chat_detect("[INST] <<SYS>>") == BN_CHAT_UNKNOWN);
	CHECK(bn_chat_detect("<|assistant|> <|end|>") == BN_CHAT_PHI3);
	CHECK(bn_chat_detect("<|user|> <|assistant|> eos_token") ==
	    BN_CHAT_FALCON3);
	CHECK(bn_chat_detect("<|user|> <|assistant|> </s>") ==
	    BN_CHAT_FALCON3);
	CHECK(bn_chat_detect("<|user|> <|assistant|>") == BN_CHAT_UNKNOWN);
	CHECK(bn_chat_detect("<start_of_turn>") == BN_CHAT_GEMMA);
	CHECK(bn_chat_detect("<|start_header_id|> <|end_header_id|>") ==
	    BN_CHAT_LLAMA3);
	CHECK(bn_chat_detect("'Assistant: ' <|eot_id|>") == BN_CHAT_BITNET);
	CHECK(bn_chat_detect("<|eot_id|>") == BN_CHAT_UNKNOWN);
}

static void
default_system(void)
{
	static const char nl[] = "{% if loop.first and messages[0]['role'] "
	    "!= 'system' %}{{ '<|im_start|>system\nBe brief<|im_end|>\n' }}";
	static const char esc[] = "{% if loop.first and messages[0]['role'] "
	    "!= 'system' %}{{ '<|im_start|>system\\nBe brief<|im_end|>\\n' }}";
	char *s = NULL;

	CHECK(bn_chat_default_system(nl, BN_CHAT_CHATML, &s) == 1 &&
	    strcmp(s, "Be brief") == 0);
	free(s);
	s = NULL;
	CHECK(bn_chat_default_system(esc, BN_CHAT_CHATML, &s) == 1 &&
	    strcmp(s, "Be brief") == 0);
	free(s);
	CHECK(bn_chat_default_system(esc, BN_CHAT_PHI3, &s) == 0);
	CHECK(bn_chat_default_system("<|im_start|>", BN_CHAT_CHATML, &s) ==
	    0);
}

static void
prefix(void)
{
	struct bn_chat_msg m[] = {
		{ "system", "Be brief", 8 },
		{ "user", "Hello", 5 },
		{ "assistant", "Hi there", 8 },
		{ "user", "Why", 3 },
	};
	struct bn_err e;
	char *a, *b;
	size_t al, bl, n;
	int f;

	for (f = 1; f < BN_CHAT_NFAMILIES; f++) {
		/* turn 1's prompt, then its reply as generated */
		CHECK(bn_chat_format(f, m, 2, 1, &a, &al, &e) == 0);
		n = al;
		if (f == BN_CHAT_MISTRAL)	/* the model puts the space */
			CHECK(strcmp(a + al - 7, "[/INST]") == 0);
		CHECK(bn_chat_format(f, m, 4, 1, &b, &bl, &e) == 0);
		CHECK(bl > n && memcmp(a, b, n) == 0);
		CHECK(memcmp(b + n, f == BN_CHAT_MISTRAL ? " Hi there" :
		    "Hi there", f == BN_CHAT_MISTRAL ? 9 : 8) == 0);
		free(a);
		free(b);
	}
	m[1].role = "tool";
	CHECK(bn_chat_format(BN_CHAT_CHATML, m, 2, 1, &a, &al, &e) ==
	    BN_EUSAGE && strstr(e.msg, "'tool'") != NULL);
	CHECK(bn_chat_format(BN_CHAT_UNKNOWN, m, 1, 1, &a, &al, &e) ==
	    BN_EUSAGE);
}

int
main(void)
{
	detect();
	default_system();
	prefix();
	return check_done();
}
