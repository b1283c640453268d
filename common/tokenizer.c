/* tokenizer.c: byte-level BPE and SentencePiece BPE encode and decode. */
#include <inttypes.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "kv.h"
#include "mem.h"
#include "status.h"
#include "tokenizer.h"
#include "unicode.h"
#include "unicode_re.h"
#include "vocab.h"

enum { TK_BPE, TK_SPM };
enum { PRE_GPT2, PRE_LLAMA3, PRE_REGEX };

#define PRE_MAX_RE	6	/* regexes of one pre-tokenizer */

/* A merge (left id, right id) -> (rank, merged id); id -1: empty slot. */
struct merge {
	uint64_t key;
	uint32_t rank;
	int32_t id;
};

struct bn_tokenizer {
	int kind;		/* TK_BPE, TK_SPM */
	int pre;		/* PRE_* (byte-level BPE) */
	int digits;		/* PRE_LLAMA3: \p{N}{1,digits} */
	struct bn_re *re[PRE_MAX_RE];	/* PRE_REGEX: split by each */
	int nre;
	int ignore_merges;	/* a word that is a token is taken whole */
	int space_prefix;	/* SentencePiece: add ' ' in front */
	int add_bos;
	int32_t bos, eos, unk;
	uint32_t n;
	char *blob;		/* the token texts, back to back */
	size_t *off;		/* token i is blob[off[i]], len[i] bytes */
	uint32_t *len;
	float *score;		/* n, or NULL */
	int32_t *type;		/* n (BN_TOK_NORMAL if the vocab had none) */
	uint32_t *hash;		/* text -> id + 1, 0: empty; hmask + 1 slots */
	size_t hmask;
	struct merge *mer;	/* mmask + 1 slots, or NULL */
	size_t mmask;
	int32_t byte_tok[256];	/* token of a lone byte (-1: none) */
	int32_t *spec;		/* tokens split out of the text, by first */
	uint32_t spec_at[257];	/* byte, then longest first */
	/* byte-level BPE: byte -> code point (UTF-8) and back */
	unsigned char bmap[256][2];
	unsigned char bmap_len[256];
	int16_t cp_byte[324];	/* code point -> byte, -1 if none */
};

/* ---- hashing ---- */

static uint64_t
hash_bytes(const void *p, size_t n)
{
	const unsigned char *s = p;
	uint64_t h = 0xcbf29ce484222325u;
	size_t i;

	for (i = 0; i < n; i++) {
		h ^= s[i];
		h *= 0x100000001b3u;
	}
	return h ^ (h >> 29);
}

static uint64_t
hash_u64(uint64_t x)
{
	x ^= x >> 33;
	x *= 0xff51afd7ed558ccdu;
	x ^= x >> 33;
	x *= 0xc4ceb9fe1a85ec53u;
	return x ^ (x >> 33);
}

int32_t
bn_tokenizer_find(const struct bn_tokenizer *tk, const char *s, size_t len)
{
	size_t i = (size_t)hash_bytes(s, len) & tk->hmask;
	uint32_t v;

	while ((v = tk->hash[i]) != 0) {
		v--;
		if (tk->len[v] == len && memcmp(tk->blob + tk->off[v], s,
		    len) == 0)
			return (int32_t)v;
		i = (i + 1) & tk->hmask;
	}
	return -1;
}

/* Insert token id; a later token with the same text wins, as in
 * llama.cpp's token_to_id map. */
static void
hash_put(struct bn_tokenizer *tk, uint32_t id)
{
	const char *s = tk->blob + tk->off[id];
	size_t i = (size_t)hash_bytes(s, tk->len[id]) & tk->hmask;
	uint32_t v;

	while ((v = tk->hash[i]) != 0) {
		v--;
		if (tk->len[v] == tk->len[id] && memcmp(tk->blob + tk->off[v],
		    s, tk->len[id]) == 0)
			break;
		i = (i + 1) & tk->hmask;
	}
	tk->hash[i] = id + 1;
}

static const struct merge *
merge_find(const struct bn_tokenizer *tk, int32_t a, int32_t b)
{
	uint64_t key = (uint64_t)(uint32_t)a << 32 | (uint32_t)b;
	size_t i = (size_t)hash_u64(key) & tk->mmask;

	while (tk->mer[i].id >= 0) {
		if (tk->mer[i].key == key)
			return &tk->mer[i];
		i = (i + 1) & tk->mmask;
	}
	return NULL;
}

/* The first merge of a pair wins (llama.cpp's bpe_ranks.emplace). */
static void
merge_put(struct bn_tokenizer *tk, int32_t a, int32_t b, uint32_t rank,
    int32_t id)
{
	uint64_t key = (uint64_t)(uint32_t)a << 32 | (uint32_t)b;
	size_t i = (size_t)hash_u64(key) & tk->mmask;

	while (tk->mer[i].id >= 0) {
		if (tk->mer[i].key == key)
			return;
		i = (i + 1) & tk->mmask;
	}
	tk->mer[i].key = key;
	tk->mer[i].rank = rank;
	tk->mer[i].id = id;
}

/* ---- construction ---- */

static size_t
pow2_above(size_t n)
{
	size_t c = 16;

	while (c < n * 2)
		c *= 2;
	return c;
}

static int32_t
kv_id(const struct bn_vocab *v, const char *key)
{
	uint64_t x;

	if (bn_kv_get_u64(&v->kv, key, &x) != 0 || x >= v->n_tokens)
		return -1;
	return (int32_t)x;
}

static int
kv_flag(const struct bn_vocab *v, const char *key, int dflt)
{
	uint64_t x;

	if (bn_kv_get_u64(&v->kv, key, &x) != 0)
		return dflt;
	return x != 0;
}

/* GPT-2's bytes_to_unicode(): printable Latin-1 bytes stand for
 * themselves, the other 68 for U+0100.. in byte order. */
static void
init_byte_map(struct bn_tokenizer *tk)
{
	unsigned b, cp, extra = 0;

	for (cp = 0; cp < 324; cp++)
		tk->cp_byte[cp] = -1;
	for (b = 0; b < 256; b++) {
		if ((b >= 33 && b <= 126) || (b >= 161 && b <= 172) ||
		    b >= 174)
			cp = b;
		else
			cp = 256 + extra++;
		tk->cp_byte[cp] = (int16_t)b;
		tk->bmap_len[b] = (unsigned char)bn_utf8_encode(cp,
		    tk->bmap[b]);
	}
}

/* The pre-tokenizers of llama.cpp's names (tokenizer.ggml.pre), as
 * the models' tokenizer.json files define them.  PRE_REGEX ones split
 * the text by each regex in turn: every match and every text between
 * matches is a piece, and the next regex splits each piece. */
#define RE_GPT2 "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+" \
	"| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)"
#define RE_CONTRACT "(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]" \
	"|'[lL][lL]|'[dD])"

static const char *const re_qwen35[] = {
	RE_CONTRACT "|[^\r\n\\p{L}\\p{N}]?[\\p{L}\\p{M}]+|\\p{N}"
	"| ?[^\\s\\p{L}\\p{M}\\p{N}]+[\r\n]*|\\s*[\r\n]+|\\s+(?!\\S)"
	"|\\s+",
	NULL
};

/* DeepSeek's letters: the cased ones (Lu Ll Lt and a few more) */
static const char *const re_deepseek_llm[] = {
	"[\r\n]",
	"\\s?[A-Za-z\\x{B5}\\x{C0}-\\x{D6}\\x{D8}-\\x{F6}\\x{F8}-\\x{1BA}"
	"\\x{1BC}-\\x{1BF}\\x{1C4}-\\x{293}\\x{295}-\\x{2AF}\\x{370}-\\x{373}"
	"\\x{376}\\x{377}\\x{37B}-\\x{37D}\\x{37F}\\x{386}\\x{388}-\\x{38A}"
	"\\x{38C}\\x{38E}-\\x{3A1}\\x{3A3}-\\x{3F5}\\x{3F7}-\\x{481}"
	"\\x{48A}-\\x{52F}\\x{531}-\\x{556}\\x{10A0}-\\x{10C5}"
	"\\x{13A0}-\\x{13F5}\\x{13F8}-\\x{13FD}\\x{1C90}-\\x{1CBA}"
	"\\x{1CBD}-\\x{1CBF}\\x{1D00}-\\x{1D2B}\\x{1D6B}-\\x{1D77}"
	"\\x{1D79}-\\x{1D9A}\\x{1E00}-\\x{1F15}\\x{1F18}-\\x{1F1D}"
	"\\x{1F20}-\\x{1F45}\\x{1F48}-\\x{1F4D}\\x{1F50}-\\x{1F57}\\x{1F59}"
	"\\x{1F5B}\\x{1F5D}\\x{1F5F}-\\x{1F7D}\\x{1F80}-\\x{1FB4}"
	"\\x{1FB6}-\\x{1FBC}\\x{1FBE}\\x{1FC2}-\\x{1FC4}\\x{1FC6}-\\x{1FCC}"
	"\\x{1FD0}-\\x{1FD3}\\x{1FD6}-\\x{1FDB}\\x{1FE0}-\\x{1FEC}"
	"\\x{1FF2}-\\x{1FF4}\\x{1FF6}-\\x{1FFC}\\x{2102}\\x{2107}"
	"\\x{210A}-\\x{2113}\\x{2115}\\x{2119}-\\x{211D}\\x{2124}\\x{2126}"
	"\\x{2128}\\x{212A}-\\x{212D}\\x{212F}-\\x{2134}\\x{2139}"
	"\\x{213C}-\\x{213F}\\x{2145}-\\x{2149}\\x{214E}\\x{2183}\\x{2184}"
	"\\x{2C00}-\\x{2C7B}\\x{2C7E}-\\x{2CE4}\\x{2CEB}-\\x{2CEE}\\x{2CF2}"
	"\\x{2CF3}\\x{A640}-\\x{A66D}\\x{A680}-\\x{A69B}\\x{A722}-\\x{A76F}"
	"\\x{A771}-\\x{A787}\\x{A78B}-\\x{A78E}\\x{AB70}-\\x{ABBF}"
	"\\x{FB00}-\\x{FB06}\\x{FB13}-\\x{FB17}\\x{FF21}-\\x{FF3A}"
	"\\x{FF41}-\\x{FF5A}\\x{10400}-\\x{1044F}\\x{104B0}-\\x{104D3}"
	"\\x{104D8}-\\x{104FB}\\x{10C80}-\\x{10CB2}\\x{10CC0}-\\x{10CF2}"
	"\\x{118A0}-\\x{118DF}\\x{1E900}-\\x{1E943}]+",
	"\\s?[!-/:-~\\x{FF01}-\\x{FF0F}\\x{FF1A}-\\x{FF5E}\\x{2018}-\\x{201F}"
	"\\x{3000}-\\x{3002}]+",
	"\\s+$",
	"[\\x{4E00}-\\x{9FA5}\\x{800}-\\x{4E00}\\x{AC00}-\\x{D7FF}]+",
	"\\p{N}+",
	NULL
};

static const char *const re_deepseek_coder[] = {
	"[\r\n]",
	"\\s?\\p{L}+",
	"\\s?\\p{P}+",
	"[\\x{4E00}-\\x{9FA5}\\x{800}-\\x{4E00}\\x{AC00}-\\x{D7FF}]+",
	"\\p{N}",
	NULL
};

static const char *const re_falcon[] = {
	"[\\p{P}$+<=>^~|`]+",
	RE_GPT2,
	"[0-9][0-9][0-9]",
	NULL
};

/* StarCoder's: digits one by one, then GPT-2's */
static const char *const re_starcoder[] = {
	"\\p{N}",
	RE_GPT2,
	NULL
};

#define F_LLAMA3	0x1	/* ignore_merges and add_bos */

static const struct pre {
	const char *name;
	int kind;		/* PRE_* */
	int digits;		/* PRE_LLAMA3 */
	int flags;		/* F_* */
	const char *const *re;	/* PRE_REGEX */
} pres[] = {
	{ "gpt2", PRE_GPT2, 0, 0, NULL },
	{ "gpt-2", PRE_GPT2, 0, 0, NULL },
	{ "default", PRE_GPT2, 0, 0, NULL },
	{ "mpt", PRE_GPT2, 0, 0, NULL },
	{ "olmo", PRE_GPT2, 0, 0, NULL },
	{ "phi-2", PRE_GPT2, 0, 0, NULL },
	{ "llama3", PRE_LLAMA3, 3, F_LLAMA3, NULL },
	{ "llama-v3", PRE_LLAMA3, 3, F_LLAMA3, NULL },
	{ "llama-bpe", PRE_LLAMA3, 3, F_LLAMA3, NULL },
	{ "falcon3", PRE_LLAMA3, 3, F_LLAMA3, NULL },
	{ "falcon-h1", PRE_LLAMA3, 3, F_LLAMA3, NULL },
	{ "pixtral", PRE_LLAMA3, 3, F_LLAMA3, NULL },
	{ "midm-2.0", PRE_LLAMA3, 3, F_LLAMA3, NULL },
	{ "lfm2", PRE_LLAMA3, 3, F_LLAMA3, NULL },
	{ "smaug-bpe", PRE_LLAMA3, 3, F_LLAMA3, NULL },
	{ "dbrx", PRE_LLAMA3, 3, F_LLAMA3, NULL },
	/* LLaMA-3's regex with \p{N} for \p{N}{1,3} */
	{ "qwen2", PRE_LLAMA3, 1, 0, NULL },
	{ "deepseek-r1-qwen", PRE_LLAMA3, 1, 0, NULL },
	{ "stablelm2", PRE_LLAMA3, 1, 0, NULL },
	{ "qwen35", PRE_REGEX, 0, 0, re_qwen35 },
	{ "deepseek-llm", PRE_REGEX, 0, 0, re_deepseek_llm },
	{ "deepseek-coder", PRE_REGEX, 0, 0, re_deepseek_coder },
	{ "falcon", PRE_REGEX, 0, 0, re_falcon },
	{ "starcoder", PRE_REGEX, 0, 0, re_starcoder },
	{ "refact", PRE_REGEX, 0, 0, re_starcoder },
	{ "command-r", PRE_REGEX, 0, 0, re_starcoder },
	{ "smollm", PRE_REGEX, 0, 0, re_starcoder },
	{ "codeshell", PRE_REGEX, 0, 0, re_starcoder },
};

static int
set_pre(struct bn_tokenizer *tk, const char *pre, struct bn_err *e)
{
	const struct pre *p = NULL;
	size_t i;
	int rc;

	if (pre == NULL)
		pre = "gpt2";
	for (i = 0; i < sizeof pres / sizeof pres[0]; i++)
		if (strcmp(pre, pres[i].name) == 0)
			p = &pres[i];
	if (p == NULL)
		return bn_seterr(e, BN_EUNSUPPORTED, "pre-tokenizer '%s' is "
		    "not supported (gpt2, llama3, qwen2, qwen35, "
		    "deepseek-llm, deepseek-coder, falcon, starcoder and "
		    "their llama.cpp aliases)", pre);
	tk->pre = p->kind;
	tk->digits = p->digits;
	if (p->flags & F_LLAMA3) {
		/* llama.cpp: ignore_merges, add_bos for these */
		tk->ignore_merges = 1;
		tk->add_bos = 1;
	}
	for (i = 0; p->re != NULL && p->re[i] != NULL; i++) {
		if ((rc = bn_re_compile(&tk->re[i], p->re[i], e)) != BN_OK)
			return rc;
		tk->nre++;
	}
	return BN_OK;
}

static int
copy_tokens(struct bn_tokenizer *tk, const struct bn_vocab *v,
    struct bn_err *e)
{
	size_t total = 0, i;

	for (i = 0; i < v->n_tokens; i++) {
		if (v->tokens[i] == NULL && v->token_len[i] != 0)
			return bn_seterr(e, BN_EFORMAT, "token %zu missing", i);
		if (bn_add_size(total, v->token_len[i], &total) != 0)
			return bn_seterr(e, BN_ENOMEM, "vocabulary too large");
	}
	tk->blob = malloc(total > 0 ? total : 1);
	tk->off = calloc(v->n_tokens, sizeof *tk->off);
	tk->len = calloc(v->n_tokens, sizeof *tk->len);
	tk->type = calloc(v->n_tokens, sizeof *tk->type);
	tk->hmask = pow2_above(v->n_tokens) - 1;
	tk->hash = calloc(tk->hmask + 1, sizeof *tk->hash);
	if (v->scores != NULL)
		tk->score = calloc(v->n_tokens, sizeof *tk->score);
	if (tk->blob == NULL || tk->off == NULL || tk->len == NULL ||
	    tk->type == NULL || tk->hash == NULL ||
	    (v->scores != NULL && tk->score == NULL))
		return bn_seterr(e, BN_ENOMEM, "out of memory");
	total = 0;
	for (i = 0; i < v->n_tokens; i++) {
		if (v->token_len[i] > 0)
			memcpy(tk->blob + total, v->tokens[i], v->token_len[i]);
		tk->off[i] = total;
		tk->len[i] = v->token_len[i];
		total += v->token_len[i];
		tk->type[i] = v->types != NULL ? v->types[i] : BN_TOK_NORMAL;
		if (tk->score != NULL)
			tk->score[i] = v->scores[i];
		hash_put(tk, (uint32_t)i);
	}
	return BN_OK;
}

/* Merge i is "a b"; a token may itself hold a space, so try each space
 * (from the second byte on, as llama.cpp does) until both halves and
 * their concatenation are tokens.  Merges that name no tokens are
 * skipped. */
static void
add_merge(struct bn_tokenizer *tk, const char *m, size_t len, uint32_t rank,
    char *tmp)
{
	int32_t a, b, id;
	size_t i;

	for (i = 1; i + 1 < len; i++) {
		if (m[i] != ' ')
			continue;
		a = bn_tokenizer_find(tk, m, i);
		b = bn_tokenizer_find(tk, m + i + 1, len - i - 1);
		if (a < 0 || b < 0)
			continue;
		memcpy(tmp, m, i);
		memcpy(tmp + i, m + i + 1, len - i - 1);
		if ((id = bn_tokenizer_find(tk, tmp, len - 1)) < 0)
			continue;
		merge_put(tk, a, b, rank, id);
		return;
	}
}

static int
build_merges(struct bn_tokenizer *tk, const struct bn_vocab *v,
    struct bn_err *e)
{
	size_t i, maxlen = 1;
	char *tmp;

	tk->mmask = pow2_above(v->n_merges) - 1;
	tk->mer = malloc((tk->mmask + 1) * sizeof *tk->mer);
	for (i = 0; i < v->n_merges; i++)
		if (v->merge_len[i] > maxlen)
			maxlen = v->merge_len[i];
	tmp = malloc(maxlen);
	if (tk->mer == NULL || tmp == NULL) {
		free(tmp);
		return bn_seterr(e, BN_ENOMEM, "out of memory");
	}
	for (i = 0; i <= tk->mmask; i++)
		tk->mer[i].id = -1;
	for (i = 0; i < v->n_merges; i++)
		if (v->merges[i] != NULL)
			add_merge(tk, v->merges[i], v->merge_len[i],
			    (uint32_t)i, tmp);
	free(tmp);
	return BN_OK;
}

/* Tokens that encode splits out of the text before anything else:
 * control, user-defined (added) and unknown tokens with some text. */
static int
is_split_type(int32_t t)
{
	return t == BN_TOK_CONTROL || t == BN_TOK_USER || t == BN_TOK_UNKNOWN;
}

struct spec_key {
	unsigned char c;	/* first byte */
	uint32_t len;
	int32_t id;
};

/* By first byte, then longest first, then by id. */
static int
cmp_spec(const void *pa, const void *pb)
{
	const struct spec_key *a = pa, *b = pb;

	if (a->c != b->c)
		return a->c < b->c ? -1 : 1;
	if (a->len != b->len)
		return a->len > b->len ? -1 : 1;
	return a->id < b->id ? -1 : a->id > b->id;
}

static int
build_specials(struct bn_tokenizer *tk, struct bn_err *e)
{
	struct spec_key *sk;
	uint32_t i, k = 0, c;

	for (i = 0; i < tk->n; i++)
		if (is_split_type(tk->type[i]) && tk->len[i] > 0)
			k++;
	tk->spec = calloc(k > 0 ? k : 1, sizeof *tk->spec);
	sk = calloc(k > 0 ? k : 1, sizeof *sk);
	if (tk->spec == NULL || sk == NULL) {
		free(sk);
		return bn_seterr(e, BN_ENOMEM, "out of memory");
	}
	for (k = 0, i = 0; i < tk->n; i++)
		if (is_split_type(tk->type[i]) && tk->len[i] > 0 &&
		    bn_tokenizer_find(tk, tk->blob + tk->off[i],
		    tk->len[i]) == (int32_t)i) {
			sk[k].c = (unsigned char)tk->blob[tk->off[i]];
			sk[k].len = tk->len[i];
			sk[k++].id = (int32_t)i;
		}
	qsort(sk, k, sizeof *sk, cmp_spec);
	for (c = 0, i = 0; c < 256; c++) {
		tk->spec_at[c] = i;
		while (i < k && sk[i].c == c) {
			tk->spec[i] = sk[i].id;
			i++;
		}
	}
	tk->spec_at[256] = i;
	free(sk);
	return BN_OK;
}

static void
build_byte_tokens(struct bn_tokenizer *tk)
{
	static const char hex[] = "0123456789ABCDEF";
	char buf[6];
	unsigned b;

	for (b = 0; b < 256; b++) {
		if (tk->kind == TK_BPE) {
			tk->byte_tok[b] = bn_tokenizer_find(tk,
			    (const char *)tk->bmap[b], tk->bmap_len[b]);
			continue;
		}
		buf[0] = '<';
		buf[1] = '0';
		buf[2] = 'x';
		buf[3] = hex[b >> 4];
		buf[4] = hex[b & 15];
		buf[5] = '>';
		tk->byte_tok[b] = bn_tokenizer_find(tk, buf, 6);
		if (tk->byte_tok[b] < 0) {
			buf[0] = (char)b;
			tk->byte_tok[b] = bn_tokenizer_find(tk, buf, 1);
		}
	}
}

int
bn_tokenizer_new(struct bn_tokenizer **tkp, const struct bn_vocab *v,
    struct bn_err *e)
{
	struct bn_tokenizer *tk;
	const char *model;
	int rc;

	*tkp = NULL;
	if (v->n_tokens == 0 || v->n_tokens > INT32_MAX - 1)
		return bn_seterr(e, BN_EFORMAT, "vocabulary has %" PRIu32
		    " tokens", v->n_tokens);
	if ((tk = calloc(1, sizeof *tk)) == NULL)
		return bn_seterr(e, BN_ENOMEM, "out of memory");
	tk->n = v->n_tokens;
	model = bn_kv_get(&v->kv, BN_VOC_MODEL);
	if (model == NULL)
		model = v->n_merges > 0 || v->scores == NULL ? "gpt2" : "llama";
	if (strcmp(model, "gpt2") == 0) {
		tk->kind = TK_BPE;
		rc = set_pre(tk, bn_kv_get(&v->kv, BN_VOC_PRE), e);
	} else if (strcmp(model, "llama") == 0) {
		tk->kind = TK_SPM;
		tk->add_bos = 1;
		tk->space_prefix = 1;
		rc = BN_OK;
	} else
		rc = bn_seterr(e, BN_EUNSUPPORTED, "tokenizer model '%s' is "
		    "not supported (gpt2, llama)", model);
	if (rc != BN_OK) {
		bn_tokenizer_free(tk);
		return rc;
	}
	tk->add_bos = kv_flag(v, BN_VOC_ADD_BOS, tk->add_bos);
	if (tk->kind == TK_SPM)
		tk->space_prefix = kv_flag(v, "add_space_prefix", 1);
	tk->bos = kv_id(v, BN_VOC_BOS);
	tk->eos = kv_id(v, BN_VOC_EOS);
	tk->unk = kv_id(v, BN_VOC_UNK);
	init_byte_map(tk);
	if ((rc = copy_tokens(tk, v, e)) != BN_OK ||
	    (tk->kind == TK_BPE && (rc = build_merges(tk, v, e)) != BN_OK) ||
	    (rc = build_specials(tk, e)) != BN_OK) {
		bn_tokenizer_free(tk);
		return rc;
	}
	build_byte_tokens(tk);
	*tkp = tk;
	return BN_OK;
}

void
bn_tokenizer_free(struct bn_tokenizer *tk)
{
	int i;

	if (tk == NULL)
		return;
	for (i = 0; i < tk->nre; i++)
		bn_re_free(tk->re[i]);
	free(tk->blob);
	free(tk->off);
	free(tk->len);
	free(tk->score);
	free(tk->type);
	free(tk->hash);
	free(tk->mer);
	free(tk->spec);
	free(tk);
}

/* ---- an encoding session: output and scratch space ---- */

struct sym {
	int32_t prev, next;
	int32_t id;		/* BPE: token (-2: merged away) */
	uint32_t n;		/* SPM: bytes (0: merged away) */
	uint32_t off;		/* SPM: offset in the text */
};

/* A candidate merge; the heap pops the smallest key first. */
struct cand {
	uint64_t key;		/* priority << 32 | left symbol */
	int32_t right;
	int32_t a, b;		/* BPE: the pair's ids; SPM: a = size */
	int32_t m;		/* BPE: merged id */
};

struct sess {
	const struct bn_tokenizer *tk;
	int32_t *out;
	size_t n, cap;
	struct sym *sym;
	size_t symcap;
	struct cand *heap;
	size_t nheap, heapcap;
	unsigned char *buf;
	size_t bufcap;
	/* PRE_REGEX: the fragment's code points, flags, byte offsets */
	uint32_t *cp;
	unsigned char *fl;
	size_t *boff;
	size_t cpcap, flcap, boffcap;
	struct bn_re_scratch rs;
	int nomem;		/* 1: out of memory, 2: a fragment too long */
};

static void
emit(struct sess *s, int32_t id)
{
	if (id < 0 || s->nomem)
		return;
	if (bn_grow(&s->out, &s->cap, s->n + 1, sizeof *s->out) != 0) {
		s->nomem = 1;
		return;
	}
	s->out[s->n++] = id;
}

static void
heap_push(struct sess *s, const struct cand *c)
{
	size_t i, p;

	if (bn_grow(&s->heap, &s->heapcap, s->nheap + 1,
	    sizeof *s->heap) != 0) {
		s->nomem = 1;
		return;
	}
	i = s->nheap++;
	while (i > 0) {
		p = (i - 1) / 2;
		if (s->heap[p].key <= c->key)
			break;
		s->heap[i] = s->heap[p];
		i = p;
	}
	s->heap[i] = *c;
}

static void
heap_pop(struct sess *s, struct cand *top)
{
	struct cand last;
	size_t i = 0, k, n;

	*top = s->heap[0];
	last = s->heap[--s->nheap];
	n = s->nheap;
	for (;;) {
		k = 2 * i + 1;
		if (k >= n)
			break;
		if (k + 1 < n && s->heap[k + 1].key < s->heap[k].key)
			k++;
		if (last.key <= s->heap[k].key)
			break;
		s->heap[i] = s->heap[k];
		i = k;
	}
	if (n > 0)
		s->heap[i] = last;
}

/* ---- byte-level BPE ---- */

static void
bpe_pair(struct sess *s, int32_t l, int32_t r)
{
	const struct merge *m;
	struct cand c;
	int32_t a, b;

	if (l < 0 || r < 0)
		return;
	a = s->sym[l].id;
	b = s->sym[r].id;
	if (a < 0 || b < 0 || (m = merge_find(s->tk, a, b)) == NULL)
		return;
	c.key = (uint64_t)m->rank << 32 | (uint32_t)l;
	c.right = r;
	c.a = a;
	c.b = b;
	c.m = m->id;
	heap_push(s, &c);
}

/* A symbol that is no token: the unknown token, if there is one (a
 * byte-level vocabulary has every byte, so this is for odd ones). */
static void
emit_unknown(struct sess *s)
{
	emit(s, s->tk->unk);
}

static void
bpe_word(struct sess *s, const unsigned char *w, size_t wl)
{
	const struct bn_tokenizer *tk = s->tk;
	struct sym *y;
	struct cand c;
	size_t i, ml = 0;
	int32_t id, l, r;

	if (wl > INT32_MAX) {
		s->nomem = 2;
		return;
	}
	if (tk->ignore_merges) {
		if (bn_grow(&s->buf, &s->bufcap, wl * 2, 1) != 0) {
			s->nomem = 1;
			return;
		}
		for (i = 0; i < wl; i++) {
			memcpy(s->buf + ml, tk->bmap[w[i]], tk->bmap_len[w[i]]);
			ml += tk->bmap_len[w[i]];
		}
		if ((id = bn_tokenizer_find(tk, (const char *)s->buf,
		    ml)) >= 0) {
			emit(s, id);
			return;
		}
	}
	if (bn_grow(&s->sym, &s->symcap, wl, sizeof *s->sym) != 0) {
		s->nomem = 1;
		return;
	}
	y = s->sym;
	for (i = 0; i < wl; i++) {
		y[i].prev = (int32_t)i - 1;
		y[i].next = i + 1 < wl ? (int32_t)i + 1 : -1;
		y[i].id = tk->byte_tok[w[i]];
	}
	s->nheap = 0;
	for (i = 1; i < wl; i++)
		bpe_pair(s, (int32_t)i - 1, (int32_t)i);
	while (s->nheap > 0) {
		heap_pop(s, &c);
		l = (int32_t)(uint32_t)c.key;
		r = c.right;
		/* stale: one side merged since */
		if (y[l].id != c.a || y[r].id != c.b || y[l].next != r)
			continue;
		y[l].id = c.m;
		y[r].id = -2;
		y[l].next = y[r].next;
		if (y[r].next >= 0)
			y[y[r].next].prev = l;
		bpe_pair(s, y[l].prev, l);
		bpe_pair(s, l, y[l].next);
	}
	for (l = 0; l >= 0; l = y[l].next) {
		if (y[l].id >= 0)
			emit(s, y[l].id);
		else
			emit_unknown(s);
	}
}

/* The pre-tokenizers: GPT-2's
 *   's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+
 *   |\s+(?!\S)|\s+
 * and LLaMA-3's
 *   (?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}
 *   | ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+
 * matched by hand with the regex engine's leftmost-first semantics.
 * Positions are byte offsets; a byte that is not valid UTF-8 is a
 * character of no class (it matches [^\s\p{L}\p{N}]). */

#define CL_OTHER 0x100		/* not \s, \p{L}, \p{N} */

struct text {
	const unsigned char *s;
	size_t n;
};

/* Class of the character at i (0 at the end); its length in *len. */
static unsigned
cls(const struct text *t, size_t i, size_t *len)
{
	uint32_t cp;
	unsigned f;

	if (i >= t->n) {
		*len = 0;
		return 0;
	}
	if (t->s[i] < 0x80) {
		*len = 1;
		cp = t->s[i];
	} else
		*len = bn_utf8_decode(t->s + i, t->n - i, &cp);
	f = bn_unicode_flags(cp) & (BN_UC_L | BN_UC_N | BN_UC_WS);
	return f != 0 ? f : CL_OTHER;
}

static int
is_nl(const struct text *t, size_t i)
{
	return i < t->n && (t->s[i] == '\r' || t->s[i] == '\n');
}

/* 's 't 're 've 'm 'll 'd at i: the match's length, or 0. */
static size_t
contraction(const struct text *t, size_t i, int fold)
{
	unsigned char c1, c2;

	if (i + 1 >= t->n || t->s[i] != '\'')
		return 0;
	c1 = t->s[i + 1];
	c2 = i + 2 < t->n ? t->s[i + 2] : 0;
	if (fold) {
		if (c1 >= 'A' && c1 <= 'Z')
			c1 += 'a' - 'A';
		if (c2 >= 'A' && c2 <= 'Z')
			c2 += 'a' - 'A';
	}
	if (c1 == 's' || c1 == 't' || c1 == 'm' || c1 == 'd')
		return 2;
	if ((c1 == 'r' && c2 == 'e') || (c1 == 'v' && c2 == 'e') ||
	    (c1 == 'l' && c2 == 'l'))
		return 3;
	return 0;
}

/* Skip characters of class mask from i; returns the end. */
static size_t
run(const struct text *t, size_t i, unsigned mask)
{
	size_t l;

	while (cls(t, i, &l) & mask)
		i += l;
	return i;
}

/* Whitespace at i (a \s character): \s+(?!\S) then \s+, and for
 * LLaMA-3 \s*[\r\n]+ before them. */
static size_t
spaces(const struct text *t, size_t i, int llama3)
{
	size_t j = i, l, last = i, nl = 0;
	unsigned c;

	while ((c = cls(t, j, &l)) & BN_UC_WS) {
		if (is_nl(t, j))
			nl = j + 1;
		last = j;
		j += l;
	}
	if (llama3 && nl > 0)
		return nl;		/* \s*[\r\n]+: up to the last newline */
	if (j >= t->n || last == i)
		return j;		/* \s+(?!\S) at the end, or \s+ */
	return last;			/* \s+(?!\S): leave one for the word */
}

static size_t
match_gpt2(const struct text *t, size_t i)
{
	size_t l, j, k;
	unsigned c, c2;

	if ((k = contraction(t, i, 0)) > 0)
		return i + k;
	c = cls(t, i, &l);
	j = i;
	c2 = c;
	if (t->s[i] == ' ') {
		c2 = cls(t, i + 1, &k);
		if (c2 & (BN_UC_L | BN_UC_N | CL_OTHER))
			j = i + 1;
		else
			c2 = c;
	}
	if (c2 & BN_UC_L)
		return run(t, j, BN_UC_L);
	if (c2 & BN_UC_N)
		return run(t, j, BN_UC_N);
	if (c2 & CL_OTHER)
		return run(t, j, CL_OTHER);
	return spaces(t, i, 0);
}

static size_t
match_llama3(const struct text *t, size_t i, int digits)
{
	size_t l, k, j;
	unsigned c, c2;
	int n;

	if ((k = contraction(t, i, 1)) > 0)
		return i + k;
	c = cls(t, i, &l);
	/* [^\r\n\p{L}\p{N}]?\p{L}+ */
	if (c & BN_UC_L)
		return run(t, i, BN_UC_L);
	if (!(c & BN_UC_N) && !is_nl(t, i) && (cls(t, i + l, &k) & BN_UC_L))
		return run(t, i + l, BN_UC_L);
	/* \p{N}{1,3} (Qwen2: \p{N}) */
	if (c & BN_UC_N) {
		for (j = i, n = 0; n < digits && (cls(t, j, &k) & BN_UC_N);
		    n++)
			j += k;
		return j;
	}
	/*  ?[^\s\p{L}\p{N}]+[\r\n]* */
	j = i;
	c2 = c;
	if (t->s[i] == ' ') {
		c2 = cls(t, i + 1, &k);
		j = i + 1;
	}
	if (c2 & CL_OTHER) {
		j = run(t, j, CL_OTHER);
		while (is_nl(t, j))
			j++;
		return j;
	}
	return spaces(t, i, 1);
}

/* Split code points [a, b) of the fragment at p by regex lv and what
 * follows: each match and each text between matches is a piece. */
static void
re_split(struct sess *s, const unsigned char *p, size_t a, size_t b, int lv)
{
	const struct bn_tokenizer *tk = s->tk;
	size_t pos = a, ms, me;
	int r;

	if (lv == tk->nre) {
		bpe_word(s, p + s->boff[a], s->boff[b] - s->boff[a]);
		return;
	}
	while (pos < b && !s->nomem) {
		r = bn_re_search(tk->re[lv], s->cp + a, s->fl + a, b - a,
		    pos - a, &ms, &me, &s->rs);
		if (r < 0)
			s->nomem = 1;
		if (r <= 0)
			break;
		if (a + ms > pos)
			re_split(s, p, pos, a + ms, lv + 1);
		re_split(s, p, a + ms, a + me, lv + 1);
		pos = a + me;
	}
	if (pos < b && !s->nomem)
		re_split(s, p, pos, b, lv + 1);
}

static void
re_fragment(struct sess *s, const unsigned char *p, size_t n)
{
	size_t i, k, m = 0;
	uint32_t c;

	if (bn_grow(&s->cp, &s->cpcap, n, sizeof *s->cp) != 0 ||
	    bn_grow(&s->fl, &s->flcap, n, 1) != 0 ||
	    bn_grow(&s->boff, &s->boffcap, n + 1, sizeof *s->boff) != 0) {
		s->nomem = 1;
		return;
	}
	for (i = 0; i < n; i += k, m++) {
		k = bn_utf8_decode(p + i, n - i, &c);
		s->cp[m] = c;
		s->fl[m] = (unsigned char)bn_unicode_flags(c);
		s->boff[m] = i;
	}
	s->boff[m] = n;
	re_split(s, p, 0, m, 0);
}

static void
bpe_fragment(struct sess *s, const unsigned char *p, size_t n)
{
	struct text t = { p, n };
	size_t i = 0, j;

	if (s->tk->pre == PRE_REGEX) {
		re_fragment(s, p, n);
		return;
	}
	while (i < n && !s->nomem) {
		if (s->tk->pre == PRE_LLAMA3)
			j = match_llama3(&t, i, s->tk->digits);
		else
			j = match_gpt2(&t, i);
		if (j <= i)		/* cannot happen; never loop */
			j = i + 1;
		bpe_word(s, p + i, j - i);
		i = j;
	}
}

/* ---- SentencePiece ---- */

/* llama.cpp's unicode_len_utf8(): the length a lead byte announces. */
static size_t
utf8_len(unsigned char c)
{
	static const unsigned char tab[16] = {
		1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 2, 2, 3, 4
	};

	return tab[c >> 4];
}

/* Scores as an unsigned key that sorts like the float (-0 = +0). */
static uint32_t
score_key(float f)
{
	uint32_t u;

	if (f == 0)
		f = 0;
	memcpy(&u, &f, sizeof u);
	return (u & 0x80000000u) ? ~u : (u | 0x80000000u);
}

static void
spm_pair(struct sess *s, int32_t l, int32_t r)
{
	const struct bn_tokenizer *tk = s->tk;
	struct cand c;
	size_t n;
	int32_t id;

	if (l < 0 || r < 0)
		return;
	n = (size_t)s->sym[l].n + s->sym[r].n;
	id = bn_tokenizer_find(tk, (const char *)s->buf + s->sym[l].off, n);
	if (id < 0)
		return;
	/* highest score first, then leftmost */
	c.key = (uint64_t)~score_key(tk->score != NULL ? tk->score[id] :
	    0.0f) << 32 | (uint32_t)l;
	c.right = r;
	c.a = (int32_t)n;
	c.b = 0;
	c.m = id;
	heap_push(s, &c);
}

static void
spm_fragment(struct sess *s, const unsigned char *p, size_t n, int prefix)
{
	const struct bn_tokenizer *tk = s->tk;
	size_t i, len = 0, nsym = 0, k;
	unsigned char *b;
	struct sym *y;
	struct cand c;
	int32_t l, r, id;

	if (n > INT32_MAX / 4) {
		s->nomem = 2;
		return;
	}
	if (bn_grow(&s->buf, &s->bufcap, 3 * (n + 1), 1) != 0 ||
	    bn_grow(&s->sym, &s->symcap, n + 1, sizeof *s->sym) != 0) {
		s->nomem = 1;
		return;
	}
	b = s->buf;
	y = s->sym;
	/* the space prefix, and ' ' -> U+2581 LOWER ONE EIGHTH BLOCK */
	if (prefix) {
		memcpy(b, "\xe2\x96\x81", 3);
		len = 3;
	}
	for (i = 0; i < n; i++) {
		if (p[i] == ' ') {
			memcpy(b + len, "\xe2\x96\x81", 3);
			len += 3;
		} else
			b[len++] = p[i];
	}
	for (i = 0; i < len; i += k, nsym++) {
		k = utf8_len(s->buf[i]);
		if (k > len - i)
			k = len - i;
		y[nsym].off = (uint32_t)i;
		y[nsym].n = (uint32_t)k;
		y[nsym].prev = (int32_t)nsym - 1;
		y[nsym].next = i + k < len ? (int32_t)nsym + 1 : -1;
	}
	if (nsym == 0)
		return;
	s->nheap = 0;
	for (i = 1; i < nsym; i++)
		spm_pair(s, (int32_t)i - 1, (int32_t)i);
	while (s->nheap > 0) {
		heap_pop(s, &c);
		l = (int32_t)(uint32_t)c.key;
		r = c.right;
		if (y[l].n == 0 || y[r].n == 0 ||
		    (size_t)y[l].n + y[r].n != (size_t)c.a)
			continue;
		y[l].n += y[r].n;
		y[r].n = 0;
		y[l].next = y[r].next;
		if (y[r].next >= 0)
			y[y[r].next].prev = l;
		spm_pair(s, y[l].prev, l);
		spm_pair(s, l, y[l].next);
	}
	for (l = 0; l >= 0; l = y[l].next) {
		id = bn_tokenizer_find(tk, (const char *)s->buf + y[l].off,
		    y[l].n);
		if (id >= 0) {
			emit(s, id);
			continue;
		}
		/* a character that is no token: its bytes */
		for (k = 0; k < y[l].n; k++) {
			id = tk->byte_tok[s->buf[y[l].off + k]];
			if (id >= 0)
				emit(s, id);
			else
				emit_unknown(s);
		}
	}
}

/* ---- encode ---- */

/* The leftmost, longest special token in p[from..n) that flags allow:
 * its offset, or n if none. */
static size_t
find_special(const struct bn_tokenizer *tk, const unsigned char *p,
    size_t n, size_t from, unsigned flags, int32_t *idp)
{
	uint32_t k;
	int32_t id;
	size_t i;

	for (i = from; i < n; i++) {
		for (k = tk->spec_at[p[i]]; k < tk->spec_at[p[i] + 1]; k++) {
			id = tk->spec[k];
			if (tk->len[id] > n - i || memcmp(tk->blob +
			    tk->off[id], p + i, tk->len[id]) != 0)
				continue;
			if (tk->type[id] != BN_TOK_USER &&
			    !(flags & BN_TK_SPECIAL))
				continue;
			*idp = id;
			return i;
		}
	}
	return n;
}

int
bn_tokenizer_encode_flags(const struct bn_tokenizer *tk, const char *text,
    size_t len, unsigned flags, int32_t **ids, size_t *n, struct bn_err *e)
{
	const unsigned char *p = (const unsigned char *)text;
	struct sess s;
	size_t i = 0, at;
	int32_t id = -1;
	int prev_special = 1;

	memset(&s, 0, sizeof s);
	s.tk = tk;
	*ids = NULL;
	*n = 0;
	while (i < len && !s.nomem) {
		at = find_special(tk, p, len, i, flags, &id);
		if (at > i) {
			if (tk->kind == TK_SPM)
				spm_fragment(&s, p + i, at - i,
				    tk->space_prefix && prev_special);
			else
				bpe_fragment(&s, p + i, at - i);
			prev_special = 0;
		}
		if (at < len) {
			emit(&s, id);
			prev_special = 1;
			at += tk->len[id];
		}
		i = at;
	}
	free(s.sym);
	free(s.heap);
	free(s.buf);
	free(s.cp);
	free(s.fl);
	free(s.boff);
	bn_re_scratch_free(&s.rs);
	if (s.nomem) {
		free(s.out);
		if (s.nomem == 2)
			return bn_seterr(e, BN_EUNSUPPORTED, "text too long "
			    "to encode in one piece");
		return bn_seterr(e, BN_ENOMEM, "out of memory");
	}
	*ids = s.out;
	*n = s.n;
	return BN_OK;
}

int
bn_tokenizer_encode(const struct bn_tokenizer *tk, const char *text,
    size_t len, int32_t **ids, size_t *n, struct bn_err *e)
{
	return bn_tokenizer_encode_flags(tk, text, len, BN_TK_SPECIAL, ids, n,
	    e);
}

/* ---- decode ---- */

/* Append n bytes at *pos if they fit; *pos counts them anyway. */
static void
put(char *buf, size_t size, size_t *pos, const void *src, size_t n)
{
	if (*pos + n <= size && n > 0)
		memcpy(buf + *pos, src, n);
	*pos += n;
}

/* Byte-level: each code point of the token back to its byte (a code
 * point outside the map is copied as is). */
static void
piece_bytes(const struct bn_tokenizer *tk, const unsigned char *s,
    size_t n, char *buf, size_t size, size_t *pos)
{
	uint32_t cp;
	size_t i, l;
	char b;

	for (i = 0; i < n; i += l) {
		l = bn_utf8_decode(s + i, n - i, &cp);
		if (cp < 324 && tk->cp_byte[cp] >= 0) {
			b = (char)tk->cp_byte[cp];
			put(buf, size, pos, &b, 1);
		} else
			put(buf, size, pos, s + i, l);
	}
}

/* SentencePiece: U+2581 -> ' '. */
static void
piece_spaces(const unsigned char *s, size_t n, char *buf, size_t size,
    size_t *pos)
{
	size_t i, j;

	for (i = 0; i < n; i = j) {
		if (n - i >= 3 && memcmp(s + i, "\xe2\x96\x81", 3) == 0) {
			put(buf, size, pos, " ", 1);
			j = i + 3;
			continue;
		}
		for (j = i + 1; j < n && !(n - j >= 3 &&
		    memcmp(s + j, "\xe2\x96\x81", 3) == 0); j++)
			;
		put(buf, size, pos, s + i, j - i);
	}
}

/* The piece of id into buf as far as it fits; returns its length. */
static size_t
piece(const struct bn_tokenizer *tk, int32_t id, unsigned flags, char *buf,
    size_t size)
{
	const unsigned char *s = (const unsigned char *)tk->blob + tk->off[id];
	size_t n = tk->len[id], pos = 0;
	int32_t t = tk->type[id];
	int h1, h2;
	char b;

	if (t == BN_TOK_CONTROL) {
		if (flags & BN_TK_SPECIAL)
			put(buf, size, &pos, s, n);
	} else if (t == BN_TOK_USER && tk->kind == TK_BPE) {
		put(buf, size, &pos, s, n);
	} else if (t == BN_TOK_BYTE && n == 6 && s[0] == '<' && s[1] == '0' &&
	    s[2] == 'x' && (h1 = bn_hex_digit(s[3])) >= 0 &&
	    (h2 = bn_hex_digit(s[4])) >= 0 && s[5] == '>') {
		b = (char)(h1 << 4 | h2);
		put(buf, size, &pos, &b, 1);
	} else if (t == BN_TOK_UNKNOWN && tk->kind == TK_SPM) {
		/* llama.cpp shows SentencePiece's unknown as U+2585 */
		put(buf, size, &pos, "\xe2\x96\x85", 3);
	} else if (tk->kind == TK_SPM)
		piece_spaces(s, n, buf, size, &pos);
	else if (t == BN_TOK_UNKNOWN)
		put(buf, size, &pos, s, n);
	else
		piece_bytes(tk, s, n, buf, size, &pos);
	return pos;
}

int
bn_tokenizer_piece(const struct bn_tokenizer *tk, int32_t id,
    unsigned flags, char *buf, size_t size, size_t *len)
{
	size_t n;
	char *t;

	*len = 0;
	if (id < 0 || (uint32_t)id >= tk->n)
		return BN_EUSAGE;
	n = piece(tk, id, flags, NULL, 0);
	if (n <= size) {
		piece(tk, id, flags, buf, size);
		if ((flags & BN_TK_LSTRIP) && n > 0 && buf[0] == ' ')
			memmove(buf, buf + 1, --n);
		*len = n;
		return BN_OK;
	}
	/* too long, unless a stripped space makes it fit */
	*len = n;
	if (!(flags & BN_TK_LSTRIP) || n - 1 > size ||
	    (t = malloc(n)) == NULL)
		return BN_EUSAGE;
	piece(tk, id, flags, t, n);
	if (t[0] != ' ') {
		free(t);
		return BN_EUSAGE;
	}
	memcpy(buf, t + 1, n - 1);
	free(t);
	*len = n - 1;
	return BN_OK;
}

int
bn_tokenizer_decode(const struct bn_tokenizer *tk, int32_t id, char *buf,
    size_t size, size_t *len)
{
	return bn_tokenizer_piece(tk, id, 0, buf, size, len);
}

int
bn_tokenizer_detokenize(const struct bn_tokenizer *tk, const int32_t *ids,
    size_t n, unsigned flags, char **text, size_t *len,
    struct bn_err *e)
{
	size_t i, total = 0, pos = 0, k;
	char *out;

	*text = NULL;
	*len = 0;
	for (i = 0; i < n; i++) {
		if (ids[i] < 0 || (uint32_t)ids[i] >= tk->n)
			return bn_seterr(e, BN_EUSAGE, "token %zu: id %" PRId32
			    " out of range", i, ids[i]);
		if (bn_add_size(total, piece(tk, ids[i], flags, NULL, 0),
		    &total) != 0)
			return bn_seterr(e, BN_ENOMEM, "text too long");
	}
	if ((out = malloc(total + 1)) == NULL)
		return bn_seterr(e, BN_ENOMEM, "out of memory");
	for (i = 0; i < n; i++) {
		k = piece(tk, ids[i], flags, out + pos, total - pos);
		if (i == 0 && (flags & BN_TK_LSTRIP) && k > 0 &&
		    out[pos] == ' ') {
			memmove(out + pos, out + pos + 1, k - 1);
			k--;
		}
		pos += k;
	}
	out[pos] = '\0';
	*text = out;
	*len = pos;
	return BN_OK;
}

/* ---- accessors ---- */

int32_t
bn_tokenizer_bos(const struct bn_tokenizer *tk)
{
	return tk->bos;
}

int32_t
bn_tokenizer_eos(const struct bn_tokenizer *tk)
{
	return tk->eos;
}

int32_t
bn_tokenizer_unk(const struct bn_tokenizer *tk)
{
	return tk->unk;
}

int32_t
bn_tokenizer_n_vocab(const struct bn_tokenizer *tk)
{
	return (int32_t)tk->n;
}

int
bn_tokenizer_add_bos(const struct bn_tokenizer *tk)
{
	return tk->add_bos;
}

int
bn_tokenizer_space_prefix(const struct bn_tokenizer *tk)
{
	return tk->kind == TK_SPM && tk->space_prefix;
}
