/* mkrandmodel.c: write a random-weight llama-architecture bnt(5) model.
 *
 * Usage: mkrandmodel [--shape 2b4t|700m|tiny] [--seed S] [--bad-code NAME]
 *                    [--vocab FROM.bnt] -o OUT.bnt
 *
 * --bad-code NAME: the last byte of projection NAME holds the invalid
 * code 3 in its top field (a well-formed file whose codes are not).
 *
 * Projections are t2 with one f32 tensor scale (multiply), codes -1, 0
 * and +1 about a third each; norms are f32 ones; token_embd and output
 * are f16, small uniform values.  No tokenizer record (bnrun --bench
 * does not need one) unless --vocab names a bnt stream to copy it from
 * (bnpack of ggml-vocab-llama-spm.gguf for 700m, -llama-bpe for 2b4t:
 * what bench/serve needs to send text).  One tensor is in memory at a
 * time. */
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bnt.h"
#include "dtype.h"
#include "kv.h"
#include "status.h"

struct shape {
	const char *name;
	unsigned hidden, layers, heads, kv_heads, head_dim, ffn, vocab;
};

static const struct shape shapes[] = {
	{ "2b4t", 2560, 30, 20, 5, 128, 6912, 128256 },
	{ "700m", 1536, 24, 16, 4, 96, 4096, 32000 },
	{ "tiny", 256, 2, 4, 2, 64, 512, 512 },
};

static uint64_t rng = 0x9e3779b97f4a7c15ull;
static const char *bad_code;	/* --bad-code */

static uint64_t
rnd(void)
{
	/* xorshift64* */
	rng ^= rng >> 12;
	rng ^= rng << 25;
	rng ^= rng >> 27;
	return rng * 0x2545f4914f6cdd1dull;
}

static void
die(const char *what)
{
	fprintf(stderr, "mkrandmodel: %s\n", what);
	exit(1);
}

static void
put_tensor(struct bnt_writer *w, struct bnt_tensor *t, const void *data,
    const void *scales)
{
	struct bn_err e;

	memset(&e, 0, sizeof e);
	if (bnt_tensor_layout(t, &e) != BN_OK)
		die("bad tensor layout");
	if (bnt_write_tensor(w, t, data, scales) != BN_OK) {
		fprintf(stderr, "mkrandmodel: %s: %s\n", t->name,
		    bnt_writer_error(w));
		exit(1);
	}
}

/* rows x n ternary, codes uniform in {-1, 0, +1}, one f32 scale. */
static void
put_t2(struct bnt_writer *w, const char *name, uint64_t rows, uint64_t n,
    float scale)
{
	struct bnt_tensor t;
	unsigned char *data;
	uint64_t i;
	unsigned k;

	memset(&t, 0, sizeof t);
	t.name = name;
	t.dtype = BN_DTYPE_T2;
	t.ndim = 2;
	t.dims[0] = rows;
	t.dims[1] = n;
	t.scale_kind = BNT_SCALE_TENSOR;
	t.scale_dtype = BN_DTYPE_F32;
	if (n % BN_T2_BLOCK != 0)
		die("row length not a multiple of 128");
	if ((data = malloc(rows * (n / 4))) == NULL)
		die("out of memory");
	/* each byte: four codes, each (16 random bits * 3) >> 16 in 0..2 */
	for (i = 0; i < rows * (n / 4); i++) {
		uint64_t x = rnd();
		unsigned b = 0;

		for (k = 0; k < 4; k++) {
			b |= (unsigned)(((x & 0xffff) * 3) >> 16) << (2 * k);
			x >>= 16;
		}
		data[i] = (unsigned char)b;
	}
	if (bad_code != NULL && strcmp(name, bad_code) == 0)
		data[rows * (n / 4) - 1] |= 0xc0;
	put_tensor(w, &t, data, &scale);
	free(data);
}

static void
put_f16(struct bnt_writer *w, const char *name, uint64_t rows, uint64_t n,
    float amp)
{
	struct bnt_tensor t;
	uint16_t *data;
	uint64_t i;

	memset(&t, 0, sizeof t);
	t.name = name;
	t.dtype = BN_DTYPE_F16;
	t.ndim = 2;
	t.dims[0] = rows;
	t.dims[1] = n;
	if ((data = malloc(rows * n * 2)) == NULL)
		die("out of memory");
	for (i = 0; i < rows * n; i++) {
		double u = (double)(rnd() >> 11) / 9007199254740992.0;

		data[i] = bn_f32_to_f16((float)((2 * u - 1) * amp));
	}
	put_tensor(w, &t, data, NULL);
	free(data);
}

static void
put_ones(struct bnt_writer *w, const char *name, uint64_t n)
{
	struct bnt_tensor t;
	float *data;
	uint64_t i;

	memset(&t, 0, sizeof t);
	t.name = name;
	t.dtype = BN_DTYPE_F32;
	t.ndim = 1;
	t.dims[0] = n;
	if ((data = malloc(n * sizeof *data)) == NULL)
		die("out of memory");
	for (i = 0; i < n; i++)
		data[i] = 1.0f;
	put_tensor(w, &t, data, NULL);
	free(data);
}

int
main(int argc, char **argv)
{
	const struct shape *s = &shapes[0];
	const char *out = NULL;
	struct bnt_writer *w;
	struct bn_kv kv;
	char name[64];
	uint64_t q, kvd, seed = 1;
	const char *vocab = NULL;
	FILE *fp;
	unsigned l;
	int i;
	size_t k;

	for (i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--shape") == 0 && i + 1 < argc) {
			for (k = 0; k < sizeof shapes / sizeof shapes[0]; k++)
				if (strcmp(argv[i + 1], shapes[k].name) == 0)
					break;
			if (k == sizeof shapes / sizeof shapes[0])
				die("unknown shape (2b4t, 700m, tiny)");
			s = &shapes[k];
			i++;
		} else if (strcmp(argv[i], "--seed") == 0 && i + 1 < argc)
			seed = strtoull(argv[++i], NULL, 10);
		else if (strcmp(argv[i], "--bad-code") == 0 && i + 1 < argc)
			bad_code = argv[++i];
		else if (strcmp(argv[i], "--vocab") == 0 && i + 1 < argc)
			vocab = argv[++i];
		else if (strcmp(argv[i], "-o") == 0 && i + 1 < argc)
			out = argv[++i];
		else {
			fprintf(stderr, "usage: mkrandmodel [--shape 2b4t|700m|"
			    "tiny] [--seed S] [--bad-code NAME] [--vocab FROM.bnt] "
			    "-o OUT.bnt\n");
			return 64;
		}
	}
	if (out == NULL)
		die("no -o OUT.bnt");
	rng ^= seed * 0xbf58476d1ce4e5b9ull;
	if (rng == 0)
		rng = 1;
	if ((fp = fopen(out, "wb")) == NULL) {
		perror(out);
		return 73;
	}
	if ((w = bnt_writer_open(fp, 0)) == NULL)
		die("out of memory");
	bn_kv_init(&kv);
	if (bn_kv_set(&kv, BN_CFG_ARCH, "llama") ||
	    bn_kv_setf(&kv, BN_CFG_VOCAB, "%u", s->vocab) ||
	    bn_kv_setf(&kv, BN_CFG_HIDDEN, "%u", s->hidden) ||
	    bn_kv_setf(&kv, BN_CFG_LAYERS, "%u", s->layers) ||
	    bn_kv_setf(&kv, BN_CFG_HEADS, "%u", s->heads) ||
	    bn_kv_setf(&kv, BN_CFG_KV_HEADS, "%u", s->kv_heads) ||
	    bn_kv_setf(&kv, BN_CFG_HEAD_DIM, "%u", s->head_dim) ||
	    bn_kv_setf(&kv, BN_CFG_FFN, "%u", s->ffn) ||
	    bn_kv_set(&kv, BN_CFG_CTX, "4096") ||
	    bn_kv_set(&kv, BN_CFG_NORM_EPS, "1e-5") ||
	    bn_kv_set(&kv, BN_CFG_ROPE_THETA, "500000") ||
	    bn_kv_set(&kv, BN_CFG_ROPE_STYLE, "interleaved") ||
	    bn_kv_set(&kv, BN_CFG_ACT, "silu") ||
	    bn_kv_set(&kv, BN_CFG_TIED, "0") ||
	    bn_kv_set(&kv, BN_CFG_BITLINEAR, "1") ||
	    bn_kv_setf(&kv, BN_CFG_SOURCE, "mkrandmodel --shape %s --seed %"
	    PRIu64, s->name, seed))
		die("out of memory");
	if (bnt_write_config(w, &kv) != BN_OK)
		die(bnt_writer_error(w));
	bn_kv_free(&kv);
	if (vocab != NULL) {
		struct bnt_map vm;
		struct bn_err e;

		if (bnt_map_open(&vm, vocab, 0, &e) != BN_OK)
			die(e.msg);
		if (!vm.has_vocab)
			die("--vocab: no tokenizer record");
		if (vm.vocab.n_tokens > s->vocab)
			die("--vocab: more tokens than the shape's vocabulary");
		if (bnt_write_tokenizer(w, &vm.vocab) != BN_OK)
			die(bnt_writer_error(w));
		bnt_map_close(&vm);
	}

	q = (uint64_t)s->heads * s->head_dim;
	kvd = (uint64_t)s->kv_heads * s->head_dim;
	put_f16(w, "token_embd.weight", s->vocab, s->hidden, 0.05f);
	for (l = 0; l < s->layers; l++) {
#define NM(x) (snprintf(name, sizeof name, "blk.%u." x, l), name)
		put_ones(w, NM("attn_norm.weight"), s->hidden);
		put_t2(w, NM("attn_q.weight"), q, s->hidden, 0.02f);
		put_t2(w, NM("attn_k.weight"), kvd, s->hidden, 0.02f);
		put_t2(w, NM("attn_v.weight"), kvd, s->hidden, 0.02f);
		put_t2(w, NM("attn_output.weight"), s->hidden, q, 0.02f);
		put_ones(w, NM("ffn_norm.weight"), s->hidden);
		put_t2(w, NM("ffn_gate.weight"), s->ffn, s->hidden, 0.02f);
		put_t2(w, NM("ffn_up.weight"), s->ffn, s->hidden, 0.02f);
		put_t2(w, NM("ffn_down.weight"), s->hidden, s->ffn, 0.02f);
#undef NM
	}
	put_ones(w, "output_norm.weight", s->hidden);
	put_f16(w, "output.weight", s->vocab, s->hidden, 0.05f);
	if (bnt_writer_finish(w) != BN_OK)
		die(bnt_writer_error(w));
	bnt_writer_free(w);
	if (fclose(fp) != 0) {
		perror(out);
		return 74;
	}
	return 0;
}
