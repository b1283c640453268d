/* fz_chat: a chat template text (from a model's tokenizer record, so
 * untrusted) through bn_chat_detect and bn_chat_default_system, and the
 * input, cut in three, as the contents of a conversation formatted by
 * every family. */
#include <stdlib.h>

#include "chat.h"
#include "fuzz.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct bn_chat_msg m[3];
	struct bn_err e;
	char *t, *sys = NULL, *out;
	size_t len, third = size / 3;
	int f;

	if ((t = malloc(size + 1)) == NULL)
		return 0;
	memcpy(t, data, size);
	t[size] = '\0';
	fz_sink_acc += (unsigned)bn_chat_detect(t);
	if (bn_chat_default_system(t, BN_CHAT_CHATML, &sys))
		fz_sink_acc += (unsigned char)sys[0];
	free(sys);
	m[0] = (struct bn_chat_msg){ "system", t, third };
	m[1] = (struct bn_chat_msg){ "user", t + third, third };
	m[2] = (struct bn_chat_msg){ "assistant", t + 2 * third,
	    size - 2 * third };
	for (f = 1; f < BN_CHAT_NFAMILIES; f++)
		if (bn_chat_format(f, m, 3, 1, &out, &len, &e) == BN_OK) {
			if (len > 0)
				fz_sink_acc += (unsigned char)out[len - 1];
			free(out);
		}
	free(t);
	return 0;
}
