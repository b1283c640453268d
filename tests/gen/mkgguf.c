/* mkgguf.c: write a small seeded GGUF v3 model and its f32 reference. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/*
 * usage: mkgguf [-s seed] OUT.gguf OUT-ref.safetensors
 *        mkgguf --bad KIND OUT.gguf
 *
 * The model file holds llama.* hyperparameters, a tiny gpt2 tokenizer,
 * a few keys of every GGUF value type and tensors of
 * the six types bntools imports: f32, f16, bf16, q8_0, tq1_0, tq2_0.  The
 * quantizers follow ggml's quantize_row_*_ref; the reference file holds
 * each tensor as f32, as ggml's dequantize_row_* computes it (d * q in
 * f32), with the bnt shape (GGUF ne[] reversed).  Everything here is
 * written from the GGUF and ggml block descriptions; it shares no code
 * with import/gguf.c.  No nested arrays: ggml's own reader refuses them,
 * and this file should stay loadable by llama.cpp.
 *
 * --bad writes a deliberately broken GGUF for the corruption corpus.
 */

enum {
	V_U8 = 0, V_I8, V_U16, V_I16, V_U32, V_I32, V_F32, V_BOOL, V_STR,
	V_ARR, V_U64, V_I64, V_F64
};

enum {
	T_F32 = 0, T_F16 = 1, T_Q8_0 = 8, T_BF16 = 30, T_TQ1_0 = 34,
	T_TQ2_0 = 35
};

#define ALIGN 64

struct buf {
	unsigned char *p;
	size_t n, cap;
};

static void
die(const char *msg)
{
	fprintf(stderr, "mkgguf: %s\n", msg);
	exit(1);
}

static void
put(struct buf *b, const void *p, size_t n)
{
	if (b->n + n > b->cap) {
		size_t cap = b->cap ? b->cap : 4096;

		while (cap < b->n + n)
			cap *= 2;
		if ((b->p = realloc(b->p, cap)) == NULL)
			die("out of memory");
		b->cap = cap;
	}
	memcpy(b->p + b->n, p, n);
	b->n += n;
}

static void
put_u8(struct buf *b, unsigned v)
{
	unsigned char c = (unsigned char)v;

	put(b, &c, 1);
}

static void
put_u16(struct buf *b, unsigned v)
{
	put_u8(b, v & 0xff);
	put_u8(b, v >> 8 & 0xff);
}

static void
put_u32(struct buf *b, uint32_t v)
{
	put_u16(b, v & 0xffff);
	put_u16(b, v >> 16);
}

static void
put_u64(struct buf *b, uint64_t v)
{
	put_u32(b, (uint32_t)v);
	put_u32(b, (uint32_t)(v >> 32));
}

static void
put_f32(struct buf *b, float f)
{
	uint32_t u;

	memcpy(&u, &f, 4);
	put_u32(b, u);
}

static void
put_str(struct buf *b, const char *s)
{
	put_u64(b, strlen(s));
	put(b, s, strlen(s));
}

static void
pad_to(struct buf *b, size_t a)
{
	while (b->n % a != 0)
		put_u8(b, 0);
}

static void
key(struct buf *b, const char *k, unsigned type)
{
	put_str(b, k);
	put_u32(b, type);
}

static void
kv_u32(struct buf *b, const char *k, uint32_t v)
{
	key(b, k, V_U32);
	put_u32(b, v);
}

static void
kv_f32(struct buf *b, const char *k, float v)
{
	key(b, k, V_F32);
	put_f32(b, v);
}

static void
kv_str(struct buf *b, const char *k, const char *v)
{
	key(b, k, V_STR);
	put_str(b, v);
}

/* splitmix64 */
static uint64_t
rnd(uint64_t *s)
{
	uint64_t z = (*s += UINT64_C(0x9e3779b97f4a7c15));

	z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
	z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
	return z ^ (z >> 31);
}

/* Uniform in [-1, 1), 24 random bits. */
static float
rnd_f(uint64_t *s)
{
	return (float)(rnd(s) >> 40) / 8388608.0f - 1.0f;
}

/* f32 -> f16, round to nearest even (what ggml's FP32_TO_FP16 gives). */
static uint16_t
f32_to_f16(float f)
{
	uint32_t x, sign, mant, r;
	int e;

	memcpy(&x, &f, 4);
	sign = x >> 16 & 0x8000;
	x &= 0x7fffffff;
	if (x > 0x7f800000)
		return (uint16_t)(sign | 0x7e00);
	if (x >= 0x477ff000)	/* rounds to 65536 or more */
		return (uint16_t)(sign | 0x7c00);
	e = (int)(x >> 23) - 127;
	mant = x & 0x7fffff;
	if (e < -14) {
		/* subnormal half: value / 2^-24, rounded to even */
		int shift;
		uint32_t m, q, rem, half;

		if (e < -25)
			return (uint16_t)sign;
		m = mant | 0x800000;
		shift = -e - 1;		/* m * 2^(e-23) / 2^-24 */
		q = m >> shift;
		rem = m & ((1u << shift) - 1);
		half = 1u << (shift - 1);
		if (rem > half || (rem == half && (q & 1)))
			q++;
		return (uint16_t)(sign | q);
	}
	r = (uint32_t)(e + 15) << 10 | mant >> 13;
	if ((mant & 0x1fff) > 0x1000 || ((mant & 0x1fff) == 0x1000 && (r & 1)))
		r++;
	return (uint16_t)(sign | r);
}

static float
f16_to_f32(uint16_t h)
{
	uint32_t e = h >> 10 & 0x1f, m = h & 0x3ff, x;
	float f;

	if (e == 0)
		f = (float)m * 0x1p-24f;
	else if (e == 31)
		f = m ? NAN : INFINITY;
	else {
		x = (e + 112) << 23 | m << 13;
		memcpy(&f, &x, 4);
	}
	return h & 0x8000 ? -f : f;
}

static uint16_t
f32_to_bf16(float f)
{
	uint32_t x;

	memcpy(&x, &f, 4);
	if ((x & 0x7fffffff) > 0x7f800000)
		return (uint16_t)(x >> 16 | 64);
	return (uint16_t)((x + (0x7fff + (x >> 16 & 1))) >> 16);
}

static float
bf16_to_f32(uint16_t h)
{
	uint32_t x = (uint32_t)h << 16;
	float f;

	memcpy(&f, &x, 4);
	return f;
}

static float
amax_of(const float *x, int n)
{
	float a = 0.0f;
	int i;

	for (i = 0; i < n; i++)
		a = a > fabsf(x[i]) ? a : fabsf(x[i]);
	return a;
}

/* q8_0 block: f16 d, int8 qs[32]; y gets ggml's dequantized values. */
static void
q8_0_block(const float *x, struct buf *b, float *y)
{
	float d = amax_of(x, 32) / 127, id = d != 0.0f ? 1.0f / d : 0.0f, dd;
	uint16_t h = f32_to_f16(d);
	int8_t q[32];
	int j;

	put_u16(b, h);
	dd = f16_to_f32(h);
	for (j = 0; j < 32; j++) {
		q[j] = (int8_t)roundf(x[j] * id);
		put_u8(b, (uint8_t)q[j]);
		y[j] = (float)q[j] * dd;
	}
}

/* tq2_0 block: qs[64], f16 d. */
static void
tq2_0_block(const float *x, struct buf *b, float *y)
{
	float d = amax_of(x, 256), id = d != 0.0f ? 1.0f / d : 0.0f, dd;
	unsigned char qs[64];
	uint16_t h = f32_to_f16(d);
	int j, m, n, l;

	for (j = 0; j < 64; j += 32)
		for (m = 0; m < 32; m++) {
			unsigned q = 0;

			for (n = 0; n < 4; n++)
				q += (unsigned)((lroundf(x[4 * j + m + 32 * n] *
				    id) + 1) & 3) << (2 * n);
			qs[j + m] = (unsigned char)q;
		}
	put(b, qs, 64);
	put_u16(b, h);
	/* ggml's dequantize_row_tq2_0 */
	dd = f16_to_f32(h);
	for (j = 0; j < 64; j += 32)
		for (l = 0; l < 4; l++)
			for (m = 0; m < 32; m++)
				*y++ = (float)((qs[j + m] >> (2 * l) & 3) - 1) *
				    dd;
}

/* Pack n trits (first trit most significant) the way ggml's tq1_0
 * quantizer does: ceil(v * 256 / 243). */
static unsigned char
tq1_pack(const float *x, int stride, int n, float id)
{
	unsigned q = 0;
	int k;

	for (k = 0; k < n; k++)
		q = q * 3 + (unsigned)(lroundf(x[k * stride] * id) + 1);
	if (n == 4)
		q *= 3;
	return (unsigned char)((q * 256 + 242) / 243);
}

static int
tq1_trit(unsigned char b, int n)
{
	static const unsigned char pow3[5] = { 1, 3, 9, 27, 81 };
	unsigned char q = (unsigned char)(b * pow3[n]);

	return (int)(((unsigned)q * 3) >> 8);
}

/* tq1_0 block: qs[48] (5 trits a byte), qh[4] (4 trits), f16 d. */
static void
tq1_0_block(const float *x, struct buf *b, float *y)
{
	float d = amax_of(x, 256), id = d != 0.0f ? 1.0f / d : 0.0f, dd;
	unsigned char blk[52];
	uint16_t h = f32_to_f16(d);
	int j, m, n;

	for (m = 0; m < 32; m++)
		blk[m] = tq1_pack(x + m, 32, 5, id);
	for (m = 0; m < 16; m++)
		blk[32 + m] = tq1_pack(x + 160 + m, 16, 5, id);
	for (j = 0; j < 4; j++)
		blk[48 + j] = tq1_pack(x + 240 + j, 4, 4, id);
	put(b, blk, 52);
	put_u16(b, h);
	/* ggml's dequantize_row_tq1_0 */
	dd = f16_to_f32(h);
	for (n = 0; n < 5; n++)
		for (m = 0; m < 32; m++)
			*y++ = (float)(tq1_trit(blk[m], n) - 1) * dd;
	for (n = 0; n < 5; n++)
		for (m = 0; m < 16; m++)
			*y++ = (float)(tq1_trit(blk[32 + m], n) - 1) * dd;
	for (n = 0; n < 4; n++)
		for (j = 0; j < 4; j++)
			*y++ = (float)(tq1_trit(blk[48 + j], n) - 1) * dd;
}

struct spec {
	const char *name;
	unsigned type;
	unsigned ndim;
	uint64_t ne[4];		/* GGUF order: ne[0] is the row */
};

/* a consistent one-layer llama (hidden 256, 4 heads of 64, 2 KV heads,
 * FFN 512, vocab 32) using every type, plus 3-D extras */
static const struct spec specs[] = {
	{ "token_embd.weight", T_F16, 2, { 256, 32 } },
	{ "output_norm.weight", T_F32, 1, { 256 } },
	{ "output.weight", T_Q8_0, 2, { 256, 32 } },
	{ "blk.0.attn_norm.weight", T_BF16, 1, { 256 } },
	{ "blk.0.attn_q.weight", T_Q8_0, 2, { 256, 256 } },
	{ "blk.0.attn_k.weight", T_TQ1_0, 2, { 256, 128 } },
	{ "blk.0.attn_v.weight", T_TQ2_0, 2, { 256, 128 } },
	{ "blk.0.attn_output.weight", T_Q8_0, 2, { 256, 256 } },
	{ "blk.0.ffn_norm.weight", T_BF16, 1, { 256 } },
	{ "blk.0.ffn_gate.weight", T_TQ2_0, 2, { 256, 512 } },
	{ "blk.0.ffn_up.weight", T_TQ1_0, 2, { 256, 512 } },
	{ "blk.0.ffn_down.weight", T_Q8_0, 2, { 512, 256 } },
	{ "blk.0.ffn_gate_exps.weight", T_F32, 3, { 32, 8, 4 } },
	{ "blk.0.ffn_up_exps.weight", T_TQ2_0, 3, { 256, 3, 2 } },
	{ "blk.0.ffn_down_exps.weight", T_TQ1_0, 3, { 256, 2, 3 } },
};
#define NSPEC (sizeof specs / sizeof specs[0])

static uint64_t
nelem(const struct spec *s)
{
	uint64_t n = 1;
	unsigned i;

	for (i = 0; i < s->ndim; i++)
		n *= s->ne[i];
	return n;
}

/* Source values: mostly uniform with a per-row magnitude; row 0 of each
 * tensor starts with a zero block (d = 0 paths) and row 1 holds exact
 * ternary multiples (rounding ties of the ternary quantizers). */
static void
fill(float *x, const struct spec *s, uint64_t *seed)
{
	uint64_t n = nelem(s), row = s->ne[0], i;
	float mag = 1.0f;

	for (i = 0; i < n; i++) {
		if (i % row == 0)
			mag = 0.01f + (float)(rnd(seed) % 1000) / 250.0f;
		if (i < 256 && s->ndim > 1)
			x[i] = 0.0f;
		else if (i / row == 1)
			x[i] = (float)((int)(rnd(seed) % 5) - 2) * 0.25f * mag;
		else
			x[i] = rnd_f(seed) * mag;
	}
}

/* One tensor's data into b; its reference values into y. */
static void
encode(const struct spec *s, const float *x, struct buf *b, float *y)
{
	uint64_t n = nelem(s), i;
	uint16_t h;

	switch (s->type) {
	case T_F32:
		for (i = 0; i < n; i++) {
			put_f32(b, x[i]);
			y[i] = x[i];
		}
		break;
	case T_F16:
		for (i = 0; i < n; i++) {
			h = f32_to_f16(x[i]);
			put_u16(b, h);
			y[i] = f16_to_f32(h);
		}
		break;
	case T_BF16:
		for (i = 0; i < n; i++) {
			h = f32_to_bf16(x[i]);
			put_u16(b, h);
			y[i] = bf16_to_f32(h);
		}
		break;
	case T_Q8_0:
		for (i = 0; i < n; i += 32)
			q8_0_block(x + i, b, y + i);
		break;
	case T_TQ1_0:
		for (i = 0; i < n; i += 256)
			tq1_0_block(x + i, b, y + i);
		break;
	case T_TQ2_0:
		for (i = 0; i < n; i += 256)
			tq2_0_block(x + i, b, y + i);
		break;
	}
}

static const char *const tokens[32] = {
	"a", "b", "c", "d", "e", "f", "g", "h", "i", "j", "k", "l", "m",
	"n", "o", "p", "q", "r", "s", "t", "u", "v", "w", "x", "y", "z",
	"\xc4\xa0", "th", "he", "\xc4\xa0t", "<|bos|>", "<|eos|>"
};
static const char *const merges[3] = { "t h", "h e", "\xc4\xa0 t" };

static void
metadata(struct buf *b, uint64_t seed, int *nkv)
{
	unsigned i;
	int n = 0;

	kv_str(b, "general.architecture", "llama"), n++;
	kv_str(b, "general.name", "mkgguf"), n++;
	kv_u32(b, "general.alignment", ALIGN), n++;
	kv_u32(b, "llama.context_length", 128), n++;
	kv_u32(b, "llama.embedding_length", 256), n++;
	kv_u32(b, "llama.block_count", 1), n++;
	kv_u32(b, "llama.feed_forward_length", 512), n++;
	kv_u32(b, "llama.attention.head_count", 4), n++;
	kv_u32(b, "llama.attention.head_count_kv", 2), n++;
	kv_f32(b, "llama.rope.freq_base", 10000.0f), n++;
	kv_f32(b, "llama.attention.layer_norm_rms_epsilon", 1e-5f), n++;
	kv_u32(b, "llama.rope.dimension_count", 64), n++;
	kv_u32(b, "llama.vocab_size", 32), n++;
	kv_str(b, "tokenizer.ggml.model", "gpt2"), n++;
	kv_str(b, "tokenizer.ggml.pre", "gpt2"), n++;
	key(b, "tokenizer.ggml.tokens", V_ARR), n++;
	put_u32(b, V_STR);
	put_u64(b, 32);
	for (i = 0; i < 32; i++)
		put_str(b, tokens[i]);
	key(b, "tokenizer.ggml.token_type", V_ARR), n++;
	put_u32(b, V_I32);
	put_u64(b, 32);
	for (i = 0; i < 32; i++)
		put_u32(b, i >= 30 ? 3 : 1);
	key(b, "tokenizer.ggml.merges", V_ARR), n++;
	put_u32(b, V_STR);
	put_u64(b, 3);
	for (i = 0; i < 3; i++)
		put_str(b, merges[i]);
	kv_u32(b, "tokenizer.ggml.bos_token_id", 30), n++;
	kv_u32(b, "tokenizer.ggml.eos_token_id", 31), n++;
	kv_u32(b, "tokenizer.ggml.padding_token_id", 31), n++;
	key(b, "tokenizer.ggml.add_bos_token", V_BOOL), n++;
	put_u8(b, 1);
	key(b, "tokenizer.ggml.add_eos_token", V_BOOL), n++;
	put_u8(b, 0);
	/* every other value type, for the parser */
	key(b, "mkgguf.u8", V_U8), n++;
	put_u8(b, 200);
	key(b, "mkgguf.i8", V_I8), n++;
	put_u8(b, 0x80);
	key(b, "mkgguf.u16", V_U16), n++;
	put_u16(b, 65535);
	key(b, "mkgguf.i16", V_I16), n++;
	put_u16(b, 0x8000);
	key(b, "mkgguf.i32", V_I32), n++;
	put_u32(b, 0xffffffffu);
	key(b, "mkgguf.u64", V_U64), n++;
	put_u64(b, seed);
	key(b, "mkgguf.i64", V_I64), n++;
	put_u64(b, UINT64_C(0x8000000000000000));
	key(b, "mkgguf.f64", V_F64), n++;
	put_u64(b, UINT64_C(0x400921fb54442d18));
	key(b, "mkgguf.empty", V_STR), n++;
	put_u64(b, 0);
	key(b, "mkgguf.bools", V_ARR), n++;
	put_u32(b, V_BOOL);
	put_u64(b, 2);
	put_u8(b, 0);
	put_u8(b, 1);
	*nkv = n;
}

static void
write_file(const char *path, const void *p, size_t n)
{
	FILE *fp = fopen(path, "wb");

	if (fp == NULL)
		die("cannot create output");
	if (fwrite(p, 1, n, fp) != n || fclose(fp) != 0)
		die("write error");
}

static void
make_model(uint64_t seed, const char *gpath, const char *rpath)
{
	struct buf hdr = { 0 }, data = { 0 }, json = { 0 }, ref = { 0 };
	uint64_t off[NSPEC], roff = 0, n, s = seed, i;
	float *x, *y;
	size_t k;
	char tmp[512];
	int nkv, len;
	unsigned d;

	/* tensor data first, so the offsets are known */
	for (k = 0; k < NSPEC; k++) {
		n = nelem(&specs[k]);
		if ((x = malloc(n * sizeof *x)) == NULL ||
		    (y = malloc(n * sizeof *y)) == NULL)
			die("out of memory");
		fill(x, &specs[k], &s);
		pad_to(&data, ALIGN);
		off[k] = data.n;
		encode(&specs[k], x, &data, y);
		for (i = 0; i < n; i++)
			put_f32(&ref, y[i]);
		free(x);
		free(y);
	}
	put(&hdr, "GGUF", 4);
	put_u32(&hdr, 3);
	put_u64(&hdr, NSPEC);
	put_u64(&hdr, 0);	/* n_kv, patched below */
	metadata(&hdr, seed, &nkv);
	for (i = 0; i < 8; i++)
		hdr.p[16 + i] = (unsigned char)((uint64_t)nkv >> (8 * i));
	for (k = 0; k < NSPEC; k++) {
		put_str(&hdr, specs[k].name);
		put_u32(&hdr, specs[k].ndim);
		for (d = 0; d < specs[k].ndim; d++)
			put_u64(&hdr, specs[k].ne[d]);
		put_u32(&hdr, specs[k].type);
		put_u64(&hdr, off[k]);
	}
	pad_to(&hdr, ALIGN);
	pad_to(&data, ALIGN);	/* ggml pads the last tensor too */
	put(&hdr, data.p, data.n);
	write_file(gpath, hdr.p, hdr.n);

	/* safetensors: u64 header length, JSON, f32 data */
	len = snprintf(tmp, sizeof tmp, "{\"__metadata__\":{\"source\":"
	    "\"mkgguf\",\"seed\":\"%llu\"}", (unsigned long long)seed);
	put(&json, tmp, (size_t)len);
	for (k = 0; k < NSPEC; k++) {
		n = nelem(&specs[k]);
		len = snprintf(tmp, sizeof tmp, ",\"%s\":{\"dtype\":\"F32\","
		    "\"shape\":[", specs[k].name);
		put(&json, tmp, (size_t)len);
		for (d = specs[k].ndim; d-- > 0;) {
			len = snprintf(tmp, sizeof tmp, "%llu%s",
			    (unsigned long long)specs[k].ne[d], d ? "," : "");
			put(&json, tmp, (size_t)len);
		}
		len = snprintf(tmp, sizeof tmp, "],\"data_offsets\":[%llu,"
		    "%llu]}", (unsigned long long)roff,
		    (unsigned long long)(roff + 4 * n));
		put(&json, tmp, (size_t)len);
		roff += 4 * n;
	}
	put_u8(&json, '}');
	while (json.n % 8 != 0)
		put_u8(&json, ' ');
	hdr.n = 0;
	put_u64(&hdr, json.n);
	put(&hdr, json.p, json.n);
	put(&hdr, ref.p, ref.n);
	write_file(rpath, hdr.p, hdr.n);
	free(hdr.p);
	free(data.p);
	free(json.p);
	free(ref.p);
}

/* A small valid file with one knob turned per KIND. */
static int
make_bad(const char *kind, const char *path)
{
	struct buf b = { 0 };
	uint32_t type = T_F32, ndim = 2;
	uint64_t ne[9] = { 32, 2, 1, 1, 1, 1, 1, 1, 1 }, offset = 0;
	uint64_t strlen_claim = 0, arr_claim = 0;
	int align = 32, dupkey = 0, q2 = 0, deep = 0, i;

	if (strcmp(kind, "huge-string") == 0)
		strlen_claim = UINT64_C(1) << 62;
	else if (strcmp(kind, "huge-array") == 0)
		arr_claim = UINT64_C(1) << 62;
	else if (strcmp(kind, "tensor-offset-past-eof") == 0)
		offset = 1u << 20;
	else if (strcmp(kind, "bad-type") == 0)
		type = 99;
	else if (strcmp(kind, "too-many-dims") == 0)
		ndim = 9;
	else if (strcmp(kind, "ne-overflow") == 0) {
		ndim = 4;
		for (i = 0; i < 4; i++)
			ne[i] = UINT64_C(1) << 32;
	} else if (strcmp(kind, "misaligned-offset") == 0)
		offset = 4;
	else if (strcmp(kind, "bad-alignment") == 0)
		align = 48;
	else if (strcmp(kind, "duplicate-key") == 0)
		dupkey = 1;
	else if (strcmp(kind, "tq2-code3") == 0) {
		type = T_TQ2_0;
		ne[0] = 256;
		ne[1] = 1;
		q2 = 1;
	} else if (strcmp(kind, "nested-deep") == 0)
		deep = 1;
	else if (strcmp(kind, "truncated-header") != 0 &&
	    strcmp(kind, "bad-magic") != 0)
		return -1;

	put(&b, strcmp(kind, "bad-magic") == 0 ? "GGUG" : "GGUF", 4);
	put_u32(&b, 3);
	put_u64(&b, 1);
	put_u64(&b, 3 + dupkey + (strlen_claim != 0) + (arr_claim != 0) +
	    deep);
	if (strcmp(kind, "truncated-header") == 0) {
		write_file(path, b.p, 16);
		free(b.p);
		return 0;
	}
	kv_str(&b, "general.architecture", "llama");
	kv_u32(&b, "general.alignment", (uint32_t)align);
	kv_u32(&b, "llama.block_count", 1);
	if (dupkey)
		kv_u32(&b, "llama.block_count", 2);
	if (deep) {
		key(&b, "mkgguf.deep", V_ARR);
		for (i = 0; i < 40; i++) {
			put_u32(&b, V_ARR);
			put_u64(&b, 1);
		}
		put_u32(&b, V_U8);
		put_u64(&b, 0);
	}
	if (arr_claim != 0) {
		key(&b, "tokenizer.ggml.tokens", V_ARR);
		put_u32(&b, V_STR);
		put_u64(&b, arr_claim);
		put_str(&b, "a");
	}
	if (strlen_claim != 0) {
		key(&b, "general.name", V_STR);
		put_u64(&b, strlen_claim);
		put(&b, "mkgguf", 6);
	}
	put_str(&b, "blk.0.attn_q.weight");
	put_u32(&b, ndim);
	for (i = 0; i < (int)ndim; i++)
		put_u64(&b, ne[i]);
	put_u32(&b, type);
	put_u64(&b, offset);
	pad_to(&b, align == 48 ? 32 : (size_t)align);
	for (i = 0; i < 512; i++)
		put_u8(&b, q2 && i < 64 ? 0xff : (i & 1 ? 0x3c : 0));
	write_file(path, b.p, b.n);
	free(b.p);
	return 0;
}

static void
usage(void)
{
	fputs("usage: mkgguf [-s seed] OUT.gguf OUT-ref.safetensors\n"
	    "       mkgguf --bad KIND OUT.gguf\n"
	    "KIND: huge-string huge-array tensor-offset-past-eof bad-type\n"
	    "      too-many-dims ne-overflow misaligned-offset "
	    "truncated-header\n"
	    "      bad-alignment duplicate-key tq2-code3 nested-deep "
	    "bad-magic\n", stderr);
	exit(64);
}

int
main(int argc, char *argv[])
{
	uint64_t seed = 1;
	char *end;

	if (argc == 4 && strcmp(argv[1], "--bad") == 0) {
		if (make_bad(argv[2], argv[3]) != 0)
			usage();
		return 0;
	}
	if (argc == 5 && strcmp(argv[1], "-s") == 0) {
		seed = strtoull(argv[2], &end, 0);
		if (*argv[2] == '\0' || *end != '\0' || *argv[2] == '-')
			usage();
		argv += 2;
		argc -= 2;
	}
	if (argc != 3)
		usage();
	make_model(seed, argv[1], argv[2]);
	return 0;
}
