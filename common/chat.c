/* chat.c: recognise and format chat templates (chat.h). */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "chat.h"
#include "mem.h"

static const char *const names[BN_CHAT_NFAMILIES] = {
	"unknown", "llama3", "chatml", "bitnet", "falcon3", "phi3", "gemma",
	"mistral"
};

/* end-of-turn token texts; the vocabulary's eos is added by the caller */
static const char *const eot_llama3[] = { "<|eot_id|>", "<|eom_id|>",
    "<|end_of_text|>", NULL };
static const char *const eot_chatml[] = { "<|im_end|>", "<|endoftext|>",
    NULL };
static const char *const eot_bitnet[] = { "<|eot_id|>", "<|end_of_text|>",
    NULL };
static const char *const eot_falcon3[] = { "<|endoftext|>", NULL };
static const char *const eot_phi3[] = { "<|end|>", "<|endoftext|>", NULL };
static const char *const eot_gemma[] = { "<end_of_turn>", "<eos>", NULL };
static const char *const eot_mistral[] = { "</s>", NULL };
static const char *const eot_none[] = { NULL };

int
bn_chat_family(const char *name)
{
	int f;

	for (f = 1; f < BN_CHAT_NFAMILIES; f++)
		if (strcmp(name, names[f]) == 0)
			return f;
	return BN_CHAT_UNKNOWN;
}

const char *
bn_chat_name(int family)
{
	return family > 0 && family < BN_CHAT_NFAMILIES ? names[family] :
	    names[0];
}

const char *
bn_chat_names(void)
{
	return "llama3, chatml, bitnet, falcon3, phi3, gemma, mistral";
}

const char *const *
bn_chat_eot(int family)
{
	switch (family) {
	case BN_CHAT_LLAMA3: return eot_llama3;
	case BN_CHAT_CHATML: return eot_chatml;
	case BN_CHAT_BITNET: return eot_bitnet;
	case BN_CHAT_FALCON3: return eot_falcon3;
	case BN_CHAT_PHI3: return eot_phi3;
	case BN_CHAT_GEMMA: return eot_gemma;
	case BN_CHAT_MISTRAL: return eot_mistral;
	}
	return eot_none;
}

/*
 * The order and the substrings are llama.cpp's; a family it recognises
 * that is not formatted here (Phi-4, SmolVLM, Llama-2 and Mistral v1 to
 * v3, GLM) is unknown rather than taken for a neighbour.
 */
int
bn_chat_detect(const char *t)
{
	int f;

#define HAS(s)	(strstr(t, (s)) != NULL)
	if ((f = bn_chat_family(t)) != BN_CHAT_UNKNOWN)
		return f;
	if (HAS("<|im_start|>"))
		return HAS("<|im_sep|>") || HAS("<end_of_utterance>") ?
		    BN_CHAT_UNKNOWN : BN_CHAT_CHATML;
	if (strncmp(t, "mistral", 7) == 0 || HAS("[INST]"))
		return HAS("[SYSTEM_PROMPT]") ? BN_CHAT_MISTRAL :
		    BN_CHAT_UNKNOWN;
	if (HAS("<|assistant|>") && HAS("<|end|>"))
		return BN_CHAT_PHI3;
	if (HAS("[gMASK]<sop>"))
		return BN_CHAT_UNKNOWN;
	/* llama.cpp asks for "</s>"; Falcon3's own text says eos_token */
	if (HAS("<|assistant|>") && HAS("<|user|>"))
		return HAS("</s>") || HAS("eos_token") ? BN_CHAT_FALCON3 :
		    BN_CHAT_UNKNOWN;
	if (HAS("<start_of_turn>"))
		return BN_CHAT_GEMMA;
	if (HAS("<|start_header_id|>") && HAS("<|end_header_id|>"))
		return BN_CHAT_LLAMA3;
	/* BitNet 2B-4T: Llama-3's template with "Role: " headers */
	if (HAS("<|eot_id|>") && (HAS("'Assistant: '") ||
	    HAS("| capitalize + ': '")))
		return BN_CHAT_BITNET;
#undef HAS
	return BN_CHAT_UNKNOWN;
}

int
bn_chat_default_system(const char *t, int family, char **out)
{
	static const char head[] = "'<|im_start|>system";
	const char *p, *end;
	size_t n;

	if (family != BN_CHAT_CHATML ||
	    strstr(t, "messages[0]['role'] != 'system'") == NULL ||
	    (p = strstr(t, head)) == NULL)
		return 0;
	p += sizeof head - 1;
	if (*p == '\n')
		p++;
	else if (p[0] == '\\' && p[1] == 'n')	/* a Jinja escape */
		p += 2;
	else
		return 0;
	if ((end = strstr(p, "<|im_end|>")) == NULL)
		return 0;
	/* plain text only: no quote, escape or markup in it */
	for (n = 0; p + n < end; n++)
		if (strchr("'\"\\{}\n", p[n]) != NULL)
			return 0;
	if ((*out = malloc(n + 1)) == NULL)
		return 0;
	memcpy(*out, p, n);
	(*out)[n] = '\0';
	return 1;
}

/* Jinja's trim: surrounding white space off */
static void
put_trim(struct bn_buf *b, const char *s, size_t n)
{
	while (n > 0 && isspace((unsigned char)*s)) {
		s++;
		n--;
	}
	while (n > 0 && isspace((unsigned char)s[n - 1]))
		n--;
	bn_buf_put(b, s, n);
}

int
bn_chat_format(int family, const struct bn_chat_msg *m, size_t n, int gen,
    char **out, size_t *len, struct bn_err *e)
{
	struct bn_buf b = { 0 };
	const char *sys = NULL;
	size_t i, syslen = 0;
	int r;

	if (family <= BN_CHAT_UNKNOWN || family >= BN_CHAT_NFAMILIES)
		return bn_seterr(e, BN_EUSAGE, "unknown chat template family");
	for (i = 0; i < n; i++) {
		const char *role = m[i].role, *c = m[i].content;
		size_t cl = m[i].len;
		int last = i + 1 == n;

		if (strcmp(role, "system") != 0 && strcmp(role, "user") != 0 &&
		    strcmp(role, "assistant") != 0) {
			bn_buf_free(&b);
			return bn_seterr(e, BN_EUSAGE, "message %zu: unknown "
			    "role '%s' (system, user or assistant)", i + 1,
			    role);
		}
		r = role[0];
		switch (family) {
		case BN_CHAT_LLAMA3:
			bn_buf_printf(&b, "<|start_header_id|>%s"
			    "<|end_header_id|>\n\n", role);
			put_trim(&b, c, cl);
			bn_buf_puts(&b, "<|eot_id|>");
			break;
		case BN_CHAT_CHATML:
			bn_buf_printf(&b, "<|im_start|>%s\n", role);
			bn_buf_put(&b, c, cl);
			bn_buf_puts(&b, "<|im_end|>\n");
			break;
		case BN_CHAT_BITNET:	/* role | capitalize */
			bn_buf_printf(&b, "%c%s: ", toupper(r), role + 1);
			put_trim(&b, c, cl);
			bn_buf_puts(&b, "<|eot_id|>");
			break;
		case BN_CHAT_FALCON3:
			bn_buf_printf(&b, "<|%s|>\n", role);
			bn_buf_put(&b, c, cl);
			if (r == 'a')
				bn_buf_puts(&b, last ? "<|endoftext|>" :
				    "<|endoftext|>\n");
			else
				bn_buf_puts(&b, "\n");
			break;
		case BN_CHAT_PHI3:
			if (r == 's' && cl == 0)
				break;
			bn_buf_printf(&b, "<|%s|>\n", role);
			bn_buf_put(&b, c, cl);
			bn_buf_puts(&b, "<|end|>\n");
			break;
		case BN_CHAT_GEMMA:
			/* no system role: it leads the first user turn, as
			 * llama.cpp does */
			if (r == 's') {
				sys = c;
				syslen = cl;
				break;
			}
			bn_buf_printf(&b, "<start_of_turn>%s\n", r == 'a' ?
			    "model" : "user");
			if (sys != NULL && r == 'u') {
				put_trim(&b, sys, syslen);
				bn_buf_puts(&b, "\n\n");
				sys = NULL;
			}
			put_trim(&b, c, cl);
			bn_buf_puts(&b, "<end_of_turn>\n");
			break;
		case BN_CHAT_MISTRAL:
			bn_buf_puts(&b, r == 's' ? "[SYSTEM_PROMPT] " :
			    r == 'u' ? "[INST] " : " ");
			bn_buf_put(&b, c, cl);
			bn_buf_puts(&b, r == 's' ? "[/SYSTEM_PROMPT]" :
			    r == 'u' ? "[/INST]" : "</s>");
			break;
		}
	}
	if (gen)
		switch (family) {
		case BN_CHAT_LLAMA3:
			bn_buf_puts(&b, "<|start_header_id|>assistant"
			    "<|end_header_id|>\n\n");
			break;
		case BN_CHAT_CHATML:
			bn_buf_puts(&b, "<|im_start|>assistant\n");
			break;
		case BN_CHAT_BITNET:
			bn_buf_puts(&b, "Assistant: ");
			break;
		case BN_CHAT_FALCON3:
			if (n > 0)	/* inside the loop, on its last */
				bn_buf_puts(&b, "<|assistant|>\n");
			break;
		case BN_CHAT_PHI3:
			bn_buf_puts(&b, "<|assistant|>\n");
			break;
		case BN_CHAT_GEMMA:
			bn_buf_puts(&b, "<start_of_turn>model\n");
			break;
		case BN_CHAT_MISTRAL:	/* the prompt ends with [/INST] */
			break;
		}
	if (bn_buf_reserve(&b, 1) != 0 || b.oom) {
		bn_buf_free(&b);
		return bn_seterr(e, BN_ENOMEM, "out of memory");
	}
	*out = b.p;
	*len = b.n;
	return BN_OK;
}
