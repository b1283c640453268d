/* bnt.h: the bnt(5) packed-tensor stream: reader, writer, mapper.
 *
 * A stream is a 64-byte file header followed by records, the last an END
 * record; streams may be concatenated.  Each record is a 32-byte header,
 * its metadata, zero padding to a multiple of 64, its payload and zero
 * padding to a multiple of 64, so every payload in a regular file is
 * 64-byte aligned.  man/man5/bnt.5 is the normative description.
 *
 * All integers are little-endian.  Checksums are CRC-32C (Castagnoli).
 *
 * File header (64 bytes):
 *   0  magic[8]     89 42 4e 54 0d 0a 1a 0a  ("\x89BNT\r\n\x1a\n")
 *   8  u32 version  1
 *  12  u32 flags    required features (BNT_F_*); unknown bits: refuse
 *  16  u8  zero[44]
 *  60  u32 crc      CRC-32C of bytes 0..59
 *
 * Record header (32 bytes):
 *   0  u32 kind     BNT_KIND_*; bit 31 = critical
 *   4  u32 flags    BNT_R_*; unknown bits: refuse
 *   8  u64 meta_len metadata bytes (<= BNT_MAX_META)
 *  16  u64 data_len stored payload bytes
 *  24  u32 crc      CRC-32C of metadata then stored payload (no padding)
 *  28  u32 hcrc     CRC-32C of bytes 0..27 of this header
 * then metadata, zeros to a multiple of 64 (counting from the record
 * start), payload, zeros to a multiple of 64.
 *
 * END record: meta_len = data_len = 0.
 * CONFIG record: metadata = "key=value\n" lines (kv.h); no payload.
 * NOTE record: metadata = UTF-8 text; no payload.
 * TOKENIZER record: metadata = "key=value\n" lines (vocab.h keys plus
 *   n_tokens, n_merges, has_scores, has_types); payload = n_tokens times
 *   (u32 len, bytes), n_merges times (u32 len, bytes), zeros to a
 *   multiple of 4, f32 scores[n_tokens] if has_scores=1, i32
 *   types[n_tokens] if has_types=1.
 * TENSOR record metadata (24 + 8 * ndim + name_len bytes):
 *   0  u8  dtype        enum bn_dtype
 *   1  u8  ndim         0..8
 *   2  u8  scale_kind   enum bnt_scale
 *   3  u8  scale_dtype  f32, f16 or bf16 (0 when no scales)
 *   4  u32 scale_flags  BNT_SCALE_DIV
 *   8  u32 scale_block  elements per scale (BNT_SCALE_BLOCK), else 0
 *  12  u32 name_len     1..BNT_MAX_NAME
 *  16  u64 raw_len      uncompressed payload bytes (must equal layout)
 *  24  u64 dims[ndim]   outermost first; the last is the row length
 *  ..  name             UTF-8, no NUL
 * TENSOR payload (uncompressed): rows * row_bytes of data; if scaled,
 *   zeros to a multiple of 64, then nscales scales.  Scales are allowed
 *   on t2, t3, b1 and i8.  Row layouts of the packed types:
 *   t2: blocks of 128 elements in 32 bytes; byte j of a block holds
 *       elements j, j+32, j+64, j+96 in bits 0-1, 2-3, 4-5, 6-7 as
 *       value+1 (code 3 is invalid); the row is padded with code 1.
 *   t3: 5 elements per byte, byte = sum (v_k+1) * 3^k, k = 0..4 for
 *       elements 5i..5i+4; bytes above 242 are invalid; padding v = 0.
 *   b1: 32 elements per little-endian u32; bit k of word i is element
 *       32i+k, 1 = +1, 0 = -1; padding bits are 0. */
#ifndef BN_BNT_H
#define BN_BNT_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "kv.h"
#include "status.h"
#include "vocab.h"

#define BNT_MAGIC "\x89" "BNT\r\n\x1a\n"	/* 8 bytes */
#define BNT_VERSION 1
#define BNT_ALIGN 64
#define BNT_HEADER_SIZE 64
#define BNT_RECORD_SIZE 32
#define BNT_MAX_DIMS 8
#define BNT_MAX_NAME 4096
#define BNT_MAX_META (16u << 20)	/* metadata is small; 16 MiB cap */

/* File header flags a reader must understand (it refuses others). */
#define BNT_F_ZSTD 0x1u			/* some payloads are zstd frames */
#define BNT_F_KNOWN BNT_F_ZSTD

/* Record kinds.  Bit 31 set: critical (a reader that does not know the
 * kind must refuse the stream); clear: skip it by its lengths. */
#define BNT_KIND_CRITICAL 0x80000000u
#define BNT_KIND_END		0x80000000u
#define BNT_KIND_CONFIG		0x80000001u
#define BNT_KIND_TOKENIZER	0x80000002u
#define BNT_KIND_TENSOR		0x80000003u
#define BNT_KIND_NOTE		0x00000001u	/* free text; skippable */

/* Record flags. */
#define BNT_R_ZSTD 0x1u			/* payload is one zstd frame */
#define BNT_R_KNOWN BNT_R_ZSTD

enum bnt_scale {
	BNT_SCALE_NONE = 0,
	BNT_SCALE_TENSOR = 1,	/* one scale */
	BNT_SCALE_ROW = 2,	/* one per row */
	BNT_SCALE_BLOCK = 3	/* one per scale_block elements of a row */
};
#define BNT_SCALE_DIV 0x1u	/* value = code / scale (else code * scale) */

/* A tensor's description.  Fill the first group, then call
 * bnt_tensor_layout() to validate it and compute the second. */
struct bnt_tensor {
	const char *name;	/* UTF-8, 1..BNT_MAX_NAME bytes, no NUL */
	int dtype;		/* enum bn_dtype */
	unsigned ndim;		/* 0..BNT_MAX_DIMS */
	uint64_t dims[BNT_MAX_DIMS];	/* outermost first; last = row */
	int scale_kind;		/* enum bnt_scale; packed types only */
	int scale_dtype;	/* f32, f16 or bf16 */
	uint32_t scale_block;	/* BNT_SCALE_BLOCK: divides the row length */
	uint32_t scale_flags;	/* BNT_SCALE_DIV */

	uint64_t rows;		/* product of all dims but the last */
	uint64_t row_len;	/* last dim (1 for ndim 0) */
	uint64_t nelem;
	uint64_t row_bytes;	/* bytes per row, padded for packed types */
	uint64_t data_bytes;	/* rows * row_bytes */
	uint64_t nscales;
	uint64_t scale_offset;	/* align64(data_bytes) when scaled */
	uint64_t raw_len;	/* uncompressed payload length */
};

int bnt_tensor_layout(struct bnt_tensor *t, struct bn_err *e);
/* "4096x256" into buf; returns buf. */
char *bnt_shape_str(const struct bnt_tensor *t, char *buf, size_t size);
/* Scale i as f32; 0 if the tensor has no scales. */
float bnt_tensor_scale(const struct bnt_tensor *t, const void *scales,
    uint64_t i);
/* 1 if s is a scale bnt(5) allows under flags: finite, and for a
 * divisor (BNT_SCALE_DIV) a normal positive or negative number, so that
 * code / s is finite; a multiplying scale may be 0.  The one rule for
 * checkers, loaders and exporters. */
int bnt_scale_valid(float s, uint32_t flags);
/* BN_OK if a tensor's values are ones bnt(5) allows: a float tensor's
 * all finite, every scale bnt_scale_valid; else BN_EFORMAT naming the
 * tensor and the first bad value.  One pass, no allocation. */
int bnt_tensor_check_values(const struct bnt_tensor *t, const void *data,
    const void *scales, struct bn_err *e);
/* The scale that applies to element (row r, column c). */
uint64_t bnt_scale_index(const struct bnt_tensor *t, uint64_t r,
    uint64_t c);

/* One record as the reader returns it; pointers are valid until the
 * next call on the reader. */
struct bnt_record {
	uint32_t kind;
	uint32_t flags;
	uint64_t index;		/* 0-based record number in the input */
	uint64_t offset;	/* byte offset of its header in the input */
	uint64_t meta_len;
	uint64_t data_len;	/* stored (maybe compressed) payload bytes */
	const unsigned char *meta;
	const unsigned char *data;	/* decompressed payload */
	size_t len;			/* its length */
	struct bnt_tensor tensor;	/* BNT_KIND_TENSOR */
	struct bn_kv config;		/* BNT_KIND_CONFIG (reader owns it) */
	struct bn_vocab vocab;		/* BNT_KIND_TOKENIZER (reader owns) */
};

/* Streaming reader: reads records in order from a FILE (pipes work). */
struct bnt_reader;

struct bnt_reader *bnt_reader_open(FILE *fp, const char *name);
/* A reader takes one stream, one model: after its END record it reads
 * on and refuses (BN_EFORMAT) input that holds anything more, a second
 * stream or stray bytes.  This lets it read every concatenated stream
 * instead (bnverify, bnstat's tensor report). */
void bnt_reader_all_streams(struct bnt_reader *r);
/* BN_OK with *rec filled, BN_END after the last stream's END record at
 * end of input, or a negative status (see bnt_reader_error). Checks
 * header and record checksums, lengths, flags and padding. */
int bnt_read_next(struct bnt_reader *r, struct bnt_record *rec);
/* Write the bytes of the record last returned (preceded by the file
 * header that came before it, if any) to out, exactly as read: a
 * pass-through filter calls it after its own checks. BN_OK or BN_EIO. */
int bnt_reader_forward(struct bnt_reader *r, FILE *out);
const char *bnt_reader_error(const struct bnt_reader *r);
void bnt_reader_close(struct bnt_reader *r);

/* Mapped reader: a whole regular file, payloads used in place. */
struct bnt_map_tensor {
	struct bnt_tensor t;	/* t.name points into the map's own copy */
	const void *data;	/* in the mapping, 64-byte aligned */
	const void *scales;	/* NULL if none */
};

struct bnt_map {
	void *base;
	size_t size;
	struct bnt_map_tensor *tensors;
	size_t ntensors;
	struct bn_kv config;	/* empty if the file has none */
	int has_config;
	struct bn_vocab vocab;
	int has_vocab;
	char **names;		/* storage for tensor names */
};

/* Map path, check it (checksums too unless BNT_MAP_NOCRC) and index
 * its tensors.  Compressed payloads cannot be mapped (BN_EUNSUPPORTED).
 * The file must hold one stream: bytes after its END record are refused.
 * Values are checked too (BN_EFORMAT naming the tensor): every float
 * tensor finite and every scale valid (bnt_scale_valid), unless
 * BNT_MAP_NONFINITE. */
#define BNT_MAP_NOCRC 0x1u
#define BNT_MAP_NONFINITE 0x2u
int bnt_map_open(struct bnt_map *m, const char *path, unsigned flags,
    struct bn_err *e);
const struct bnt_map_tensor *bnt_map_find(const struct bnt_map *m,
    const char *name);
/* The one row dequantizer: row r of tensor t, whose rows start at data
 * and scales at scales, as f32 values (float types widened, codes times
 * their scale, or divided by it with BNT_SCALE_DIV); out holds row_len
 * values.  0, or -1 on an invalid code. */
int bnt_tensor_row_f32(const struct bnt_tensor *t, const void *data,
    const void *scales, uint64_t r, float *out);
/* The same for a mapped tensor. */
int bnt_map_row_f32(const struct bnt_map_tensor *t, uint64_t r, float *out);
/* One scale per row when the tensor's scales allow it: out[r] for each
 * row (1 for a tensor without scales).  0, or -1 if the scales vary
 * within a row, or one is 0 or not finite. */
int bnt_map_row_scales(const struct bnt_map_tensor *t, float *out);
void bnt_map_close(struct bnt_map *m);

/* Writer: never seeks; writes the file header before the first record
 * and an END record at bnt_writer_finish(). */
struct bnt_writer;

/* zlevel 0: no compression; 1..22: zstd level for tensor payloads. */
struct bnt_writer *bnt_writer_open(FILE *fp, int zlevel);
int bnt_write_config(struct bnt_writer *w, const struct bn_kv *kv);
int bnt_write_tokenizer(struct bnt_writer *w, const struct bn_vocab *v);
/* t must have passed bnt_tensor_layout(); scales may be NULL when
 * t->scale_kind is BNT_SCALE_NONE. */
int bnt_write_tensor(struct bnt_writer *w, const struct bnt_tensor *t,
    const void *data, const void *scales);
/* Any record, as is (for tests and tools that pass records through). */
int bnt_write_record(struct bnt_writer *w, uint32_t kind, uint32_t flags,
    const void *meta, size_t mlen, const void *data, size_t dlen);
int bnt_writer_finish(struct bnt_writer *w);
const char *bnt_writer_error(const struct bnt_writer *w);
void bnt_writer_free(struct bnt_writer *w);

#endif
