/* chat.h: chat templates.  The families in use are recognised from the
 * template text (the Jinja string of the tokenizer record) by the
 * substrings llama.cpp's llm_chat_detect_template looks for, and
 * formatted in C as the models' own templates render them, with
 * bos_token empty: the BOS goes in as a token id, not as text. */
#ifndef BN_CHAT_H
#define BN_CHAT_H

#include <stddef.h>

#include "status.h"

enum bn_chat_family {
	BN_CHAT_UNKNOWN = 0,
	BN_CHAT_LLAMA3,		/* Meta-Llama-3-8B-Instruct */
	BN_CHAT_CHATML,		/* Qwen2 (<|im_start|>) */
	BN_CHAT_BITNET,		/* BitNet b1.58 2B-4T */
	BN_CHAT_FALCON3,	/* Falcon3-*-Instruct */
	BN_CHAT_PHI3,		/* Phi-3.5-mini-instruct */
	BN_CHAT_GEMMA,		/* gemma-7b-it */
	BN_CHAT_MISTRAL,	/* Mistral 'v7' ([SYSTEM_PROMPT]) */
	BN_CHAT_NFAMILIES
};

struct bn_chat_msg {
	const char *role;	/* system, user or assistant */
	const char *content;
	size_t len;		/* bytes of content */
};

/* The family a --chat-template NAME names (llama3, chatml, bitnet,
 * falcon3, phi3, gemma, mistral), BN_CHAT_UNKNOWN if none. */
int bn_chat_family(const char *name);
const char *bn_chat_name(int family);
/* The names, comma-separated, for messages. */
const char *bn_chat_names(void);
/* The family of a template text (a bare family name counts too), or
 * BN_CHAT_UNKNOWN. */
int bn_chat_detect(const char *tmpl);
/* The system prompt a ChatML template puts first when the conversation
 * has none (Qwen2's "You are a helpful assistant"): *out (malloc'd,
 * NUL-terminated) and 1, or 0 when the template has none (or memory
 * ran out). */
int bn_chat_default_system(const char *tmpl, int family, char **out);
/* The texts of the family's end-of-turn tokens, NULL-terminated. */
const char *const *bn_chat_eot(int family);

/* Format n messages, and the assistant's generation prompt if gen, into
 * *out (malloc'd, NUL-terminated, *len bytes).  BN_OK, BN_EUSAGE (an
 * unknown family or role) or BN_ENOMEM, with a detail in e. */
int bn_chat_format(int family, const struct bn_chat_msg *m, size_t n,
    int gen, char **out, size_t *len, struct bn_err *e);

#endif
