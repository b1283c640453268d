/* tokenizer.h: byte-level BPE (GPT-2, LLaMA-3) and SentencePiece BPE
 * (LLaMA-1/2) encoding and decoding over a struct bn_vocab.
 *
 * Byte-level BPE ("model" gpt2) splits the text with the pre-tokenizer
 * that "pre" names (llama.cpp's tokenizer.ggml.pre: gpt2|gpt-2|default,
 * llama3|llama-bpe, qwen2, qwen35, deepseek-llm, deepseek-coder, falcon,
 * starcoder|refact|command-r and aliases; GPT-2 and LLaMA-3 style ones
 * by hand, the others by regexes, unicode_re.h), maps bytes to GPT-2's
 * printable code points and applies the merges by rank, as Hugging Face
 * tokenizers and llama.cpp do.  SentencePiece ("model" llama) follows llama.cpp's
 * llm_tokenizer_spm: a space prefix, ' ' -> U+2581, bigram merges by
 * score, <0xNN> byte fallback.  Added and special tokens written in
 * the text are split out first (leftmost, longest). */
#ifndef BN_TOKENIZER_H
#define BN_TOKENIZER_H

#include <stddef.h>
#include <stdint.h>

#include "status.h"
#include "vocab.h"

struct bn_tokenizer;

/* Flags for bn_tokenizer_encode_flags() and bn_tokenizer_piece(). */
#define BN_TK_SPECIAL	0x1	/* encode: control and unknown tokens
				 * written in the text are matched as
				 * tokens (added, user-defined tokens
				 * always are); decode: control tokens
				 * give their text (else nothing) */
#define BN_TK_LSTRIP	0x2	/* decode: drop one leading space of the
				 * (first) piece, as llama.cpp does for
				 * SentencePiece's space prefix */

/* Build a tokenizer from v (which it copies: v may be freed after).
 * BN_OK, BN_EUNSUPPORTED (unknown model or pre-tokenizer), BN_EFORMAT
 * (an inconsistent vocabulary) or BN_ENOMEM, with a detail in e. */
int bn_tokenizer_new(struct bn_tokenizer **tk, const struct bn_vocab *v,
    struct bn_err *e);
void bn_tokenizer_free(struct bn_tokenizer *tk);

/* Encode len bytes of text (any bytes, NULs included) into *ids
 * (malloc'd, *n of them; NULL when *n is 0), without BOS or EOS.  Text
 * that is not valid UTF-8 is kept byte for byte (byte-level BPE) or
 * falls back to byte tokens (SentencePiece).  bn_tokenizer_encode()
 * matches special tokens written in the text (BN_TK_SPECIAL), as
 * Hugging Face's encode() does; flags 0 is llama.cpp's
 * parse_special=false.  BN_OK, BN_ENOMEM, or BN_EUNSUPPORTED for a
 * word (BPE) or a text between special tokens (SentencePiece) of 512 MB
 * or more. */
int bn_tokenizer_encode(const struct bn_tokenizer *tk, const char *text,
    size_t len, int32_t **ids, size_t *n, struct bn_err *e);
int bn_tokenizer_encode_flags(const struct bn_tokenizer *tk,
    const char *text, size_t len, unsigned flags, int32_t **ids, size_t *n,
    struct bn_err *e);

/* The bytes of token id (not NUL-terminated) into buf: SentencePiece
 * U+2581 -> ' ' and <0xNN> -> the byte; byte-level BPE code points ->
 * bytes; control tokens give nothing.  *len is set to the piece's
 * length in every case.  BN_OK, or BN_EUSAGE if id is out of range or
 * the piece is longer than size (nothing written then). */
int bn_tokenizer_decode(const struct bn_tokenizer *tk, int32_t id,
    char *buf, size_t size, size_t *len);
/* The same with BN_TK_* flags. */
int bn_tokenizer_piece(const struct bn_tokenizer *tk, int32_t id,
    unsigned flags, char *buf, size_t size, size_t *len);
/* n tokens to text (malloc'd, NUL-terminated, *len bytes without the
 * NUL); BN_TK_LSTRIP applies to the first piece only.  BN_OK,
 * BN_EUSAGE (an id out of range) or BN_ENOMEM. */
int bn_tokenizer_detokenize(const struct bn_tokenizer *tk,
    const int32_t *ids, size_t n, unsigned flags, char **text, size_t *len,
    struct bn_err *e);

/* Special ids (-1 if the vocabulary has none), the vocabulary size, and
 * whether the model wants a BOS in front of a prompt. */
int32_t bn_tokenizer_bos(const struct bn_tokenizer *tk);
int32_t bn_tokenizer_eos(const struct bn_tokenizer *tk);
int32_t bn_tokenizer_unk(const struct bn_tokenizer *tk);
int32_t bn_tokenizer_n_vocab(const struct bn_tokenizer *tk);
int bn_tokenizer_add_bos(const struct bn_tokenizer *tk);
/* Does SentencePiece encoding add a space prefix (so decoding should
 * strip it with BN_TK_LSTRIP)?  0 for byte-level BPE. */
int bn_tokenizer_space_prefix(const struct bn_tokenizer *tk);
/* The id of the token whose text (as stored in the vocabulary) is the
 * len bytes at s, -1 if none. */
int32_t bn_tokenizer_find(const struct bn_tokenizer *tk, const char *s,
    size_t len);

#endif
