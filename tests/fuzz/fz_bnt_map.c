/* fz_bnt_map: the mapped bnt reader (bnt_map_open) on a memfd, with
 * and without checksum checks (checksums made to match) and value
 * checks; then a model bound from it (bn_model_open_flags), its ternary
 * rows repacked as t2 or as t3k. */
#define _GNU_SOURCE
#include <sys/mman.h>

#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "fuzz.h"
#include "fz_bnt_fixcrc.h"
#include "model.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct bnt_map m;
	struct bn_err e;
	unsigned char *b;
	char path[64];
	size_t i, off;
	int fd;

	if ((b = malloc(size + 1)) == NULL)
		return 0;
	memcpy(b, data, size);
	fz_bnt_fixcrc(b, size);
	if ((fd = memfd_create("fz_bnt_map", 0)) < 0) {
		free(b);
		return 0;
	}
	for (off = 0; off < size; ) {
		ssize_t w = write(fd, b + off, size - off);

		if (w <= 0)
			break;
		off += (size_t)w;
	}
	snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
	if (bnt_map_open(&m, path, (size & 1 ? BNT_MAP_NOCRC : 0) |
	    (size & 2 ? BNT_MAP_NONFINITE : 0), &e) == BN_OK) {
		for (i = 0; i < m.ntensors; i++) {
			const struct bnt_map_tensor *t = &m.tensors[i];
			const unsigned char *p = t->data;

			if (t->t.data_bytes > 0)
				fz_sink_acc += p[0] + p[t->t.data_bytes - 1];
			if (t->scales != NULL && t->t.nscales > 0)
				fz_sink_acc += *(const unsigned char *)
				    t->scales;
			(void)bnt_map_find(&m, t->t.name);
		}
		bnt_map_close(&m);
		if (size & 4) {
			struct bn_model mod;

			if (bn_model_open_flags(&mod, path, (size & 8 ?
			    BN_MODEL_T3 : BN_MODEL_T2) | (size & 2 ?
			    BN_MODEL_NONFINITE : 0), &e) == BN_OK)
				bn_model_close(&mod);
		}
	}
	close(fd);
	free(b);
	return 0;
}
