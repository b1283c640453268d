/* vocab.h: a tokenizer's vocabulary as carried by a bnt(5) tokenizer
 * record (enough to rebuild byte-level BPE or SentencePiece). */
#ifndef BN_VOCAB_H
#define BN_VOCAB_H

#include <stdint.h>

#include "kv.h"
#include "status.h"

/* Token types, as GGUF's tokenizer.ggml.token_type numbers them. */
enum bn_token_type {
	BN_TOK_UNDEFINED = 0,
	BN_TOK_NORMAL = 1,
	BN_TOK_UNKNOWN = 2,
	BN_TOK_CONTROL = 3,	/* special tokens: <|bos|>, <s> */
	BN_TOK_USER = 4,	/* added, not special */
	BN_TOK_UNUSED = 5,
	BN_TOK_BYTE = 6		/* SentencePiece <0xNN> */
};

/* Documented keys of the tokenizer record's metadata (bnt(5)). */
#define BN_VOC_MODEL	"model"		/* gpt2 (byte-level BPE) | llama (SPM) */
#define BN_VOC_PRE	"pre"		/* gpt2 | llama3 | qwen2 | ... */
#define BN_VOC_BOS	"bos_id"
#define BN_VOC_EOS	"eos_id"
#define BN_VOC_UNK	"unk_id"
#define BN_VOC_PAD	"pad_id"
#define BN_VOC_ADD_BOS	"add_bos"	/* 0 | 1 */
#define BN_VOC_ADD_EOS	"add_eos"	/* 0 | 1 */
#define BN_VOC_CHAT	"chat_template"	/* Jinja, escaped \\ \n \r */

struct bn_vocab {
	struct bn_kv kv;	/* model, pre, special ids, flags, others */
	uint32_t n_tokens;
	char **tokens;		/* token i: token_len[i] bytes (+ NUL) */
	uint32_t *token_len;
	float *scores;		/* NULL or n_tokens (SentencePiece) */
	int32_t *types;		/* NULL or n_tokens (enum bn_token_type) */
	uint32_t n_merges;
	char **merges;		/* "a b", merge_len[i] bytes (+ NUL) */
	uint32_t *merge_len;
};

void bn_vocab_init(struct bn_vocab *v);
void bn_vocab_free(struct bn_vocab *v);
/* Allocate arrays for n tokens and m merges (scores/types if asked);
 * entries start NULL.  Returns 0 or -1. */
int bn_vocab_alloc(struct bn_vocab *v, uint32_t n, uint32_t m,
    int with_scores, int with_types);
/* Copy len bytes into token i (or merge i). 0 or -1. */
int bn_vocab_set_token(struct bn_vocab *v, uint32_t i, const char *s,
    uint32_t len);
int bn_vocab_set_merge(struct bn_vocab *v, uint32_t i, const char *s,
    uint32_t len);

/* Set the chat template (len bytes, any but NUL) in v->kv, written
 * with \\, \n and \r for a backslash, a newline and a carriage return
 * so that it fits a key=value line.  0, or -1 (no memory, or a NUL). */
int bn_vocab_set_chat_template(struct bn_vocab *v, const char *s,
    size_t len);
/* The chat template as it was set (malloc'd, NUL-terminated, *len
 * bytes): NULL if there is none, or if it is malformed (an escape
 * other than those three) or memory ran out. */
char *bn_vocab_chat_template(const struct bn_vocab *v, size_t *len);

/* Serialize to the record's metadata text and payload (malloc'd). */
int bn_vocab_encode(const struct bn_vocab *v, char **meta, size_t *mlen,
    unsigned char **data, size_t *dlen);
/* Parse a record back; BN_OK or BN_EFORMAT with a detail in e. */
int bn_vocab_decode(struct bn_vocab *v, const void *meta, size_t mlen,
    const void *data, size_t dlen, struct bn_err *e);

#endif
