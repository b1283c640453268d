/* import.h: outside formats -> bnt records, through a sink. */
#ifndef BN_IMPORT_H
#define BN_IMPORT_H

#include <stddef.h>
#include <stdint.h>

#include "bnt.h"
#include "fileset.h"
#include "kv.h"
#include "status.h"
#include "vocab.h"

/* Where an importer sends what it finds, in this order: config (at most
 * once), vocab (at most once), then tensors.  A callback's non-zero
 * status stops the import and is returned as is (the sink reports its
 * own errors).  Pointers are valid only during the call. */
struct bn_sink {
	void *ctx;
	int (*config)(void *ctx, const struct bn_kv *kv);
	int (*vocab)(void *ctx, const struct bn_vocab *v);
	/* t passed bnt_tensor_layout(); data holds t->data_bytes bytes,
	 * scales t->nscales values of t->scale_dtype (or NULL). */
	int (*tensor)(void *ctx, const struct bnt_tensor *t, const void *data,
	    const void *scales);
};

enum bn_format {
	BN_FMT_UNKNOWN = 0,
	BN_FMT_BNT,
	BN_FMT_SAFETENSORS,
	BN_FMT_GGUF,
	BN_FMT_ZIP,		/* torch.save zip or .npz */
	BN_FMT_NPY,
	BN_FMT_ARCHIVE,		/* tar, tar.gz, tar.zst of an HF directory */
	BN_FMT_JSON,		/* a lone tokenizer.json or config.json */
	BN_FMT_DIR		/* a Hugging Face directory */
};

/* Guess a file's format from its first bytes (n may be small). */
enum bn_format bn_detect(const unsigned char *p, size_t n);
const char *bn_format_name(enum bn_format f);

/* Top level: a path (directory, or file of any format above). */
int bn_import_path(const char *path, struct bn_sink *s, struct bn_err *e);

/* One importer per format (import/<format>.c).  Errors put a one-line
 * detail in e, naming the tensor or key and what is wrong with it. */
int bn_import_safetensors(const struct bn_file *f, struct bn_sink *s,
    struct bn_err *e);
int bn_import_gguf(const struct bn_file *f, struct bn_sink *s,
    struct bn_err *e);
int bn_import_torch(const struct bn_fileset *zip, struct bn_sink *s,
    struct bn_err *e);
int bn_import_npy(const struct bn_file *f, const char *name,
    struct bn_sink *s, struct bn_err *e);
/* The header of a .npy array from its first n bytes (all of the header
 * must be there): the dtype string ("<u2") into descr, the shape into t
 * (ndim, dims), the offset of the data into *data_off.  name is for
 * messages.  BN_OK, BN_EFORMAT or BN_EUNSUPPORTED (fortran_order,
 * an unknown version). */
int bn_npy_header(const unsigned char *p, size_t n, const char *name,
    char descr[32], struct bnt_tensor *t, size_t *data_off,
    struct bn_err *e);
int bn_import_npz(const struct bn_fileset *zip, struct bn_sink *s,
    struct bn_err *e);
/* A Hugging Face directory (from disk or an archive): config.json,
 * tokenizer.json, model.safetensors or its shards with the index, or
 * pytorch_model.bin / .pt.  Those files (model files) must all be in
 * one directory of the archive, and only that directory's files are
 * read; model files in two directories are refused (BN_EFORMAT). */
int bn_import_hf(const struct bn_fileset *fs, struct bn_sink *s,
    struct bn_err *e);
/* The members of an archive bn_import_hf may read (its model files and
 * any *.safetensors), for bn_fileset_from_archive_want. */
int bn_hf_wants(const char *name);
/* Pieces of an HF directory, also usable alone. */
int bn_import_config_json(const struct bn_file *f, struct bn_kv *kv,
    struct bn_err *e);
int bn_import_tokenizer_json(const struct bn_file *f, struct bn_vocab *v,
    struct bn_err *e);
/* Re-read a bnt stream (bnpack can filter and convert bnt too). */
int bn_import_bnt(const struct bn_file *f, struct bn_sink *s,
    struct bn_err *e);

#endif
