/* unicode_re.h: a small backtracking regular expression matcher over
 * code points, for the pre-tokenizer patterns of byte-level BPE
 * tokenizers (tokenizer.json "Split" regexes and their llama.cpp
 * equivalents).
 *
 * Syntax: literals (UTF-8), . (not \n), [...] and [^...] with ranges,
 * \s \S \p{L} \p{M} \p{N} \p{P} \p{S} and \P{..} (inside a class too),
 * \r \n \t \f \v \xHH \x{H...}, \ before punctuation; groups (...),
 * (?:...), lookahead (?=...) and (?!...); alternation |; greedy
 * quantifiers ? * + {n} {n,} {n,m}; anchors ^ and $ (the ends of the
 * text matched).  Alternatives are tried in order and quantifiers
 * greedily, so the first match found is the regex engines' leftmost-
 * first one (Oniguruma, Rust's regex, ECMAScript).  No backreferences,
 * lazy quantifiers or case folding: write [sS]. */
#ifndef BN_UNICODE_RE_H
#define BN_UNICODE_RE_H

#include <stddef.h>
#include <stdint.h>

#include "status.h"

struct bn_re;

/* Scratch space for bn_re_match(): zero it before the first use. */
struct bn_re_scratch {
	void *stk;
	size_t n, cap;
	unsigned char *memo;
	size_t memobits;
};

/* Compile the NUL-terminated pattern.  BN_OK, BN_EFORMAT (a syntax
 * error, or a repetition of something that can match nothing) or
 * BN_ENOMEM, with a detail in e. */
int bn_re_compile(struct bn_re **re, const char *pat, struct bn_err *e);
void bn_re_free(struct bn_re *re);

/* The leftmost match of re in the n code points cp[] (fl[k]: the
 * BN_UC_* flags of cp[k]) that starts at from or later: 1 with it in
 * [*ms, *me), 0 if none, -1 if out of memory.  A compiled pattern never
 * matches the empty string.  Linear in n but for texts of over 2^28
 * states (code points times program size), searched without a memo. */
int bn_re_search(const struct bn_re *re, const uint32_t *cp,
    const unsigned char *fl, size_t n, size_t from, size_t *ms, size_t *me,
    struct bn_re_scratch *sc);
void bn_re_scratch_free(struct bn_re_scratch *sc);

#endif
