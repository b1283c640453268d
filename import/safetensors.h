/* safetensors.h: safetensors tensor lists, shared by safetensors.c and
 * hf.c (sharded checkpoints are merged before anything is emitted). */
#ifndef BN_SAFETENSORS_H
#define BN_SAFETENSORS_H

#include <stddef.h>
#include <stdint.h>

#include "bnt.h"
#include "fileset.h"
#include "import.h"
#include "status.h"

/* One stored tensor, checked against its file. */
struct bn_st_entry {
	char *hf_name;			/* as in the header */
	char *name;			/* bnt name (bn_st_finish) */
	const char *file;		/* file name, for diagnostics */
	int dtype;			/* enum bn_dtype of the stored data */
	unsigned ndim;
	uint64_t dims[BNT_MAX_DIMS];
	const unsigned char *data;	/* in the file */
	uint64_t size;			/* bytes */
	/* packed BitNet weight: U8 [out/4, in] + its weight_scale */
	const struct bn_st_entry *scale;
	int is_scale;			/* consumed by a packed weight */
};

struct bn_st_list {
	struct bn_st_entry *v;
	size_t n, cap;
	/* packed weights' scale: BNT_SCALE_DIV (BitLinear divides, the
	 * default) or 0 (AutoBitLinear multiplies) */
	unsigned scale_flags;
};

void bn_st_init(struct bn_st_list *l);
void bn_st_free(struct bn_st_list *l);
/* Parse f's header and append its tensors; f must outlive the list. */
int bn_st_scan(const struct bn_file *f, struct bn_st_list *l,
    struct bn_err *e);
/* Pair packed weights with their scales, map names, sort by bnt name,
 * refuse duplicates. */
int bn_st_finish(struct bn_st_list *l, struct bn_err *e);
/* Emit entry i (nothing for a consumed weight_scale). */
int bn_st_emit(const struct bn_st_list *l, size_t i, struct bn_sink *s,
    struct bn_err *e);

#endif
