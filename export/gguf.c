/* gguf.c: bnt(5) -> GGUF v3 for llama.cpp (export.h).
 *
 * The header, key/value section and tensor infos are built in memory
 * (a few MiB at most, the vocabulary included), then the tensor data
 * is streamed a row at a time.  GGUF dims are innermost first. */
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bnt.h"
#include "dtype.h"
#include "config.h"
#include "export.h"
#include "kv.h"
#include "status.h"
#include "vocab.h"

#define GGUF_ALIGN 32

enum {
	GV_U8 = 0, GV_I8 = 1, GV_U16 = 2, GV_I16 = 3, GV_U32 = 4, GV_I32 = 5,
	GV_F32 = 6, GV_BOOL = 7, GV_STR = 8, GV_ARR = 9, GV_U64 = 10,
	GV_I64 = 11, GV_F64 = 12
};

enum {
	GT_F32 = 0, GT_F16 = 1, GT_I8 = 24, GT_I32 = 26, GT_I64 = 27,
	GT_F64 = 28, GT_BF16 = 30, GT_TQ2_0 = 35
};

#define TQ2_BLOCK 256
#define TQ2_BYTES 66

struct buf {
	unsigned char *p;
	size_t n, cap;
	int oom;
};

static void
put(struct buf *b, const void *p, size_t n)
{
	unsigned char *q;
	size_t cap;

	if (b->oom)
		return;
	if (b->n + n > b->cap) {
		cap = b->cap ? b->cap : 4096;
		while (cap < b->n + n)
			cap *= 2;
		if ((q = realloc(b->p, cap)) == NULL) {
			b->oom = 1;
			return;
		}
		b->p = q;
		b->cap = cap;
	}
	memcpy(b->p + b->n, p, n);
	b->n += n;
}

static void
put_u32(struct buf *b, uint32_t v)
{
	unsigned char c[4];

	c[0] = (unsigned char)v;
	c[1] = (unsigned char)(v >> 8);
	c[2] = (unsigned char)(v >> 16);
	c[3] = (unsigned char)(v >> 24);
	put(b, c, 4);
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
	uint32_t v;

	memcpy(&v, &f, 4);
	put_u32(b, v);
}

static void
put_str(struct buf *b, const char *s, size_t n)
{
	put_u64(b, n);
	put(b, s, n);
}

/* The key/value section and its count. */
struct kvs {
	struct buf b;
	uint64_t n;
};

static void
key(struct kvs *k, const char *name, uint32_t type)
{
	put_str(&k->b, name, strlen(name));
	put_u32(&k->b, type);
	k->n++;
}

static void
kv_u32(struct kvs *k, const char *name, uint32_t v)
{
	key(k, name, GV_U32);
	put_u32(&k->b, v);
}

static void
kv_f32(struct kvs *k, const char *name, float v)
{
	key(k, name, GV_F32);
	put_f32(&k->b, v);
}

static void
kv_bool(struct kvs *k, const char *name, int v)
{
	unsigned char c = v != 0;

	key(k, name, GV_BOOL);
	put(&k->b, &c, 1);
}

static void
kv_str(struct kvs *k, const char *name, const char *v)
{
	key(k, name, GV_STR);
	put_str(&k->b, v, strlen(v));
}

static void
kv_arr(struct kvs *k, const char *name, uint32_t type, uint64_t n)
{
	key(k, name, GV_ARR);
	put_u32(&k->b, type);
	put_u64(&k->b, n);
}

/* The configuration, checked for what llama.cpp's llama graph runs. */
static int
read_cfg(const struct bnt_map *m, struct bn_config *c, struct bn_err *e)
{
	int st;

	if (!m->has_config)
		return bn_seterr(e, BN_EFORMAT, "no configuration record");
	if ((st = bn_config_from_kv(c, &m->config, e)) != BN_OK)
		return st;
	if (c->arch != BN_ARCH_LLAMA)
		return bn_seterr(e, BN_EUNSUPPORTED, "arch '%s': GGUF export "
		    "supports llama only", bn_kv_get(&m->config, BN_CFG_ARCH));
	if (c->act != BN_ACT_SILU)
		return bn_seterr(e, BN_EUNSUPPORTED, "act '%s': llama.cpp's "
		    "llama needs silu", bn_kv_get(&m->config, BN_CFG_ACT));
	return BN_OK;
}

static void
vocab_dummy(struct kvs *k, uint64_t n)
{
	char t[32];
	uint64_t i;
	size_t len;

	/* SentencePiece: <unk> <s> </s>, the 256 byte tokens, then t%d */
	kv_str(k, "tokenizer.ggml.model", "llama");
	kv_arr(k, "tokenizer.ggml.tokens", GV_STR, n);
	for (i = 0; i < n; i++) {
		if (i == 0)
			len = (size_t)snprintf(t, sizeof t, "<unk>");
		else if (i == 1)
			len = (size_t)snprintf(t, sizeof t, "<s>");
		else if (i == 2)
			len = (size_t)snprintf(t, sizeof t, "</s>");
		else if (i < 259)
			len = (size_t)snprintf(t, sizeof t, "<0x%02X>",
			    (unsigned)(i - 3));
		else
			len = (size_t)snprintf(t, sizeof t, "t%" PRIu64, i);
		put_str(&k->b, t, len);
	}
	kv_arr(k, "tokenizer.ggml.scores", GV_F32, n);
	for (i = 0; i < n; i++)
		put_f32(&k->b, i < 259 ? 0.0f : -(float)(i - 259));
	kv_arr(k, "tokenizer.ggml.token_type", GV_I32, n);
	for (i = 0; i < n; i++)
		put_u32(&k->b, i == 0 ? 2 : i < 3 ? 3 : i < 259 ? 6 : 1);
	kv_u32(k, "tokenizer.ggml.unknown_token_id", 0);
	kv_u32(k, "tokenizer.ggml.bos_token_id", 1);
	kv_u32(k, "tokenizer.ggml.eos_token_id", 2);
	kv_bool(k, "tokenizer.ggml.add_bos_token", 1);
	kv_bool(k, "tokenizer.ggml.add_eos_token", 0);
}

static void
vocab_id(struct kvs *k, const struct bn_vocab *v, const char *vkey,
    const char *gkey)
{
	uint64_t id;

	if (bn_kv_get_u64(&v->kv, vkey, &id) == 0 && id < v->n_tokens)
		kv_u32(k, gkey, (uint32_t)id);
}

static void
vocab_own(struct kvs *k, const struct bn_vocab *v)
{
	const char *model = bn_kv_get(&v->kv, BN_VOC_MODEL);
	const char *pre = bn_kv_get(&v->kv, BN_VOC_PRE);
	uint64_t flag;
	uint32_t i;

	if (model == NULL)
		model = v->n_merges ? "gpt2" : "llama";
	kv_str(k, "tokenizer.ggml.model", model);
	if (pre != NULL)
		kv_str(k, "tokenizer.ggml.pre", pre);
	kv_arr(k, "tokenizer.ggml.tokens", GV_STR, v->n_tokens);
	for (i = 0; i < v->n_tokens; i++)
		put_str(&k->b, v->tokens[i], v->token_len[i]);
	if (v->scores != NULL) {
		kv_arr(k, "tokenizer.ggml.scores", GV_F32, v->n_tokens);
		for (i = 0; i < v->n_tokens; i++)
			put_f32(&k->b, v->scores[i]);
	}
	kv_arr(k, "tokenizer.ggml.token_type", GV_I32, v->n_tokens);
	for (i = 0; i < v->n_tokens; i++)
		put_u32(&k->b, v->types ? (uint32_t)v->types[i] : 1);
	if (strcmp(model, "gpt2") == 0 || v->n_merges) {
		kv_arr(k, "tokenizer.ggml.merges", GV_STR, v->n_merges);
		for (i = 0; i < v->n_merges; i++)
			put_str(&k->b, v->merges[i], v->merge_len[i]);
	}
	vocab_id(k, v, BN_VOC_BOS, "tokenizer.ggml.bos_token_id");
	vocab_id(k, v, BN_VOC_EOS, "tokenizer.ggml.eos_token_id");
	vocab_id(k, v, BN_VOC_UNK, "tokenizer.ggml.unknown_token_id");
	vocab_id(k, v, BN_VOC_PAD, "tokenizer.ggml.padding_token_id");
	if (bn_kv_get_u64(&v->kv, BN_VOC_ADD_BOS, &flag) == 0)
		kv_bool(k, "tokenizer.ggml.add_bos_token", flag != 0);
	if (bn_kv_get_u64(&v->kv, BN_VOC_ADD_EOS, &flag) == 0)
		kv_bool(k, "tokenizer.ggml.add_eos_token", flag != 0);
}

/* How one tensor goes out. */
struct plan {
	uint32_t type;		/* GT_* */
	uint64_t bytes;		/* GGUF data bytes */
	uint64_t offset;	/* from the data section start */
	uint64_t perm_heads;	/* rope half -> adjacent: heads to permute */
};

static int
has_suffix(const char *s, const char *suf)
{
	size_t n = strlen(s), k = strlen(suf);

	return n >= k && strcmp(s + n - k, suf) == 0;
}

static int
plan_tensor(const struct bnt_tensor *t, const struct bn_config *c, struct plan *p,
    struct bn_err *e)
{
	memset(p, 0, sizeof *p);
	switch (t->dtype) {
	case BN_DTYPE_T2:
	case BN_DTYPE_T3:
	case BN_DTYPE_B1:
		if (t->row_len % TQ2_BLOCK != 0)
			return bn_seterr(e, BN_EUNSUPPORTED, "tensor '%s': row "
			    "length %" PRIu64 " is not a multiple of 256 "
			    "(TQ2_0)", t->name, t->row_len);
		if (t->scale_kind == BNT_SCALE_BLOCK &&
		    t->scale_block % TQ2_BLOCK != 0)
			return bn_seterr(e, BN_EUNSUPPORTED, "tensor '%s': "
			    "scale block %" PRIu32 " is not a multiple of 256",
			    t->name, t->scale_block);
		p->type = GT_TQ2_0;
		p->bytes = t->rows * (t->row_len / TQ2_BLOCK) * TQ2_BYTES;
		break;
	case BN_DTYPE_F32: p->type = GT_F32; break;
	case BN_DTYPE_F16: p->type = GT_F16; break;
	case BN_DTYPE_BF16: p->type = GT_BF16; break;
	case BN_DTYPE_I8: p->type = GT_I8; break;
	case BN_DTYPE_I32: p->type = GT_I32; break;
	case BN_DTYPE_I64: p->type = GT_I64; break;
	case BN_DTYPE_F64: p->type = GT_F64; break;
	default:
		return bn_seterr(e, BN_EUNSUPPORTED, "tensor '%s': type %s "
		    "has no GGUF counterpart", t->name,
		    bn_dtype_traits(t->dtype)->name);
	}
	if (p->type != GT_TQ2_0) {
		if (t->scale_kind != BNT_SCALE_NONE)
			return bn_seterr(e, BN_EUNSUPPORTED, "tensor '%s': "
			    "scaled %s", t->name,
			    bn_dtype_traits(t->dtype)->name);
		p->bytes = t->data_bytes;
	}
	if (!c->rope_interleaved && t->ndim == 2) {
		if (has_suffix(t->name, ".attn_q.weight"))
			p->perm_heads = c->heads;
		else if (has_suffix(t->name, ".attn_k.weight"))
			p->perm_heads = c->kv_heads;
		if (p->perm_heads && t->rows != p->perm_heads *
		    (uint64_t)c->head_dim)
			return bn_seterr(e, BN_EFORMAT, "tensor '%s': %" PRIu64
			    " rows for %" PRIu64 " heads of %" PRIu64,
			    t->name, t->rows, p->perm_heads,
			    (uint64_t)c->head_dim);
	}
	return BN_OK;
}

/* Output row r of a permuted q/k tensor comes from this source row:
 * llama.cpp rotates adjacent pairs (2i, 2i+1), rope_style=half rotates
 * (i, i + d/2). */
static uint64_t
src_row(const struct plan *p, const struct bn_config *c, uint64_t r)
{
	uint64_t d = (uint64_t)c->head_dim, h, i;

	if (p->perm_heads == 0)
		return r;
	h = r / d;
	i = r % d;
	return h * d + (i % 2) * (d / 2) + i / 2;
}

static int
wr(FILE *out, const void *p, size_t n, struct bn_err *e)
{
	if (n && fwrite(p, 1, n, out) != n)
		return bn_seterr(e, BN_EIO, "write error");
	return BN_OK;
}

static int
write_tq2(const struct bnt_map_tensor *mt, const struct plan *p,
    const struct bn_config *c, FILE *out, struct bn_err *e)
{
	const struct bnt_tensor *t = &mt->t;
	uint64_t nb = t->row_len / TQ2_BLOCK, r, sr, b, i;
	unsigned char *row, *t2 = NULL;
	const unsigned char *src;
	uint16_t d;
	float s;
	int rc = BN_OK, v;

	if ((row = malloc(nb * TQ2_BYTES)) == NULL ||
	    (t->dtype != BN_DTYPE_T2 && (t2 = malloc(t->row_len / 4)) ==
	    NULL)) {
		free(row);
		return bn_seterr(e, BN_ENOMEM, "out of memory");
	}
	for (r = 0; r < t->rows && rc == BN_OK; r++) {
		sr = src_row(p, c, r);
		src = (const unsigned char *)mt->data + sr * t->row_bytes;
		if (t->dtype != BN_DTYPE_T2) {
			for (i = 0; i < t->row_len; i++) {
				v = t->dtype == BN_DTYPE_T3 ?
				    bn_t3_get(src, i) : bn_b1_get(src, i);
				if (v < -1 || v > 1) {
					rc = bn_seterr(e, BN_EFORMAT,
					    "tensor '%s': invalid code",
					    t->name);
					break;
				}
				bn_t2_set(t2, i, v);
			}
			src = t2;
		}
		for (b = 0; b < nb; b++) {
			memcpy(row + b * TQ2_BYTES, src + b * 64, 64);
			s = t->scale_kind == BNT_SCALE_NONE ? 1.0f :
			    bnt_tensor_scale(t, mt->scales,
			    bnt_scale_index(t, sr, b * TQ2_BLOCK));
			if (t->scale_flags & BNT_SCALE_DIV)
				s = 1.0f / s;
			d = bn_f32_to_f16(s);
			row[b * TQ2_BYTES + 64] = (unsigned char)d;
			row[b * TQ2_BYTES + 65] = (unsigned char)(d >> 8);
		}
		if (rc == BN_OK)
			rc = wr(out, row, nb * TQ2_BYTES, e);
	}
	free(row);
	free(t2);
	return rc;
}

static int
write_plain(const struct bnt_map_tensor *mt, const struct plan *p,
    const struct bn_config *c, FILE *out, struct bn_err *e)
{
	const struct bnt_tensor *t = &mt->t;
	uint64_t r;
	int rc;

	if (p->perm_heads == 0)
		return wr(out, mt->data, t->data_bytes, e);
	for (r = 0; r < t->rows; r++)
		if ((rc = wr(out, (const unsigned char *)mt->data +
		    src_row(p, c, r) * t->row_bytes, t->row_bytes, e)))
			return rc;
	return BN_OK;
}

int
bn_export_gguf(const struct bnt_map *m, FILE *out, struct bn_err *e)
{
	static const unsigned char zeros[GGUF_ALIGN];
	struct kvs k;
	struct buf info, head;
	struct plan *pl = NULL;
	struct bn_config c;
	uint64_t off = 0, i, nt = 0;
	unsigned j;
	int rc;

	memset(&k, 0, sizeof k);
	memset(&info, 0, sizeof info);
	memset(&head, 0, sizeof head);
	if ((rc = read_cfg(m, &c, e)) != BN_OK)
		return rc;
	if (m->ntensors && (pl = calloc(m->ntensors, sizeof *pl)) == NULL)
		return bn_seterr(e, BN_ENOMEM, "out of memory");

	kv_str(&k, "general.architecture", "llama");
	kv_str(&k, "general.name", "bntools export");
	kv_u32(&k, "general.alignment", GGUF_ALIGN);
	kv_u32(&k, "llama.vocab_size", (uint32_t)c.vocab);
	kv_u32(&k, "llama.context_length", (uint32_t)c.ctx);
	kv_u32(&k, "llama.embedding_length", (uint32_t)c.hidden);
	kv_u32(&k, "llama.block_count", (uint32_t)c.layers);
	kv_u32(&k, "llama.feed_forward_length", (uint32_t)c.ffn);
	kv_u32(&k, "llama.attention.head_count", (uint32_t)c.heads);
	kv_u32(&k, "llama.attention.head_count_kv", (uint32_t)c.kv_heads);
	kv_u32(&k, "llama.attention.key_length", (uint32_t)c.head_dim);
	kv_u32(&k, "llama.attention.value_length", (uint32_t)c.head_dim);
	kv_f32(&k, "llama.attention.layer_norm_rms_epsilon", c.norm_eps);
	kv_f32(&k, "llama.rope.freq_base", c.rope_theta);
	kv_u32(&k, "llama.rope.dimension_count", (uint32_t)c.head_dim);
	if (m->has_vocab && m->vocab.n_tokens > 0)
		vocab_own(&k, &m->vocab);
	else
		vocab_dummy(&k, c.vocab);

	for (i = 0; i < m->ntensors; i++) {
		const struct bnt_tensor *t = &m->tensors[i].t;

		if ((rc = plan_tensor(t, &c, &pl[i], e)) != BN_OK)
			goto out;
		pl[i].offset = off;
		off += (pl[i].bytes + GGUF_ALIGN - 1) / GGUF_ALIGN * GGUF_ALIGN;
		put_str(&info, t->name, strlen(t->name));
		put_u32(&info, t->ndim ? t->ndim : 1);
		if (t->ndim == 0)
			put_u64(&info, 1);
		for (j = 0; j < t->ndim; j++)
			put_u64(&info, t->dims[t->ndim - 1 - j]);
		put_u32(&info, pl[i].type);
		put_u64(&info, pl[i].offset);
		nt++;
	}
	put(&head, "GGUF", 4);
	put_u32(&head, 3);
	put_u64(&head, nt);
	put_u64(&head, k.n);
	if (head.oom || k.b.oom || info.oom) {
		rc = bn_seterr(e, BN_ENOMEM, "out of memory");
		goto out;
	}
	off = head.n + k.b.n + info.n;
	if ((rc = wr(out, head.p, head.n, e)) || (rc = wr(out, k.b.p, k.b.n,
	    e)) || (rc = wr(out, info.p, info.n, e)) || (rc = wr(out, zeros,
	    (GGUF_ALIGN - off % GGUF_ALIGN) % GGUF_ALIGN, e)))
		goto out;
	for (i = 0; i < m->ntensors; i++) {
		const struct bnt_map_tensor *mt = &m->tensors[i];

		rc = pl[i].type == GT_TQ2_0 ? write_tq2(mt, &pl[i], &c, out, e) :
		    write_plain(mt, &pl[i], &c, out, e);
		if (rc != BN_OK || (rc = wr(out, zeros, (GGUF_ALIGN -
		    pl[i].bytes % GGUF_ALIGN) % GGUF_ALIGN, e)) != BN_OK) {
			bn_err_prefix(e, "tensor '%s'", mt->t.name);
			goto out;
		}
	}
	if (fflush(out) != 0)
		rc = bn_seterr(e, BN_EIO, "write error");
out:
	free(pl);
	free(k.b.p);
	free(info.p);
	free(head.p);
	return rc;
}
