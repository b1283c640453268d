/* fuzz.h: shared pieces of the libFuzzer targets in tests/fuzz/.
 * Each fz_*.c defines LLVMFuzzerTestOneInput for one parser; the sink
 * touches the first and last byte of every tensor it is given so that
 * AddressSanitizer sees a payload that reaches past its buffer. */
#ifndef BN_FUZZ_H
#define BN_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "bnt.h"
#include "dtype.h"
#include "fileset.h"
#include "import.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static volatile unsigned fz_sink_acc;

static int
fz_tensor(void *ctx, const struct bnt_tensor *t, const void *data,
    const void *scales)
{
	const unsigned char *p = data;

	(void)ctx;
	if (t->data_bytes > 0)
		fz_sink_acc += p[0] + p[t->data_bytes - 1];
	if (scales != NULL && t->nscales > 0)
		fz_sink_acc += ((const unsigned char *)scales)[0];
	return 0;
}

static int
fz_config(void *ctx, const struct bn_kv *kv)
{
	(void)ctx;
	(void)kv;
	return 0;
}

static int
fz_vocab(void *ctx, const struct bn_vocab *v)
{
	(void)ctx;
	(void)v;
	return 0;
}

static inline void
fz_sink_init(struct bn_sink *s)
{
	memset(s, 0, sizeof *s);
	s->config = fz_config;
	s->vocab = fz_vocab;
	s->tensor = fz_tensor;
}

/* A bn_file over the fuzzer's buffer (not owned). */
static inline void
fz_file(struct bn_file *f, const uint8_t *data, size_t size,
    const char *name)
{
	memset(f, 0, sizeof *f);
	f->name = (char *)name;
	f->data = data;
	f->size = size;
}

#endif
