/* mkonnx.c: test helper: export a bnt model as ONNX (bn_export_onnx),
 * or write bnrun's logits for a reference's prompts.
 *
 *   mkonnx [--kv] [--packing nbits|int2|int2mm] IN.bnt OUT.onnx
 *   mkonnx --logits IN.bnt REF.safetensors OUT.safetensors
 *
 * The second form runs the model (model/model.c, as bnrun does) on each
 * input_ids.K of REF and writes input_ids.K (i32), logits.K (f32,
 * [T, vocab]) and greedy.K (i32, the prompt and 24 greedily chosen
 * tokens, as bnrun --temp 0 chooses them) to OUT, the file
 * tests/peers/onnx compares ONNX Runtime with. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bnt.h"
#include "dtype.h"
#include "export.h"
#include "import.h"
#include "kernels.h"
#include "model.h"
#include "status.h"

#define NGREEDY 24	/* tokens of greedy continuation */

struct refset {
	struct bnt_tensor t[64];
	unsigned char *data[64];
	char *names[64];
	size_t n;
};

static int
ref_tensor(void *ctx, const struct bnt_tensor *t, const void *data,
    const void *scales)
{
	struct refset *r = ctx;

	(void)scales;
	if (r->n == 64 || strncmp(t->name, "input_ids.", 10) != 0)
		return BN_OK;
	r->t[r->n] = *t;
	if ((r->names[r->n] = strdup(t->name)) == NULL ||
	    (r->data[r->n] = malloc(t->data_bytes + 1)) == NULL)
		return BN_ENOMEM;
	r->t[r->n].name = r->names[r->n];
	memcpy(r->data[r->n], data, t->data_bytes);
	r->n++;
	return BN_OK;
}

static int32_t
argmax(const float *l, size_t n)
{
	size_t i, best = 0;

	for (i = 1; i < n; i++)
		if (l[i] > l[best])
			best = i;
	return (int32_t)best;
}

static int
die(const char *what, const char *msg)
{
	fprintf(stderr, "mkonnx: %s: %s\n", what, msg);
	return 1;
}

static int
logits(const char *model, const char *ref, const char *out)
{
	static struct refset rs;
	struct bn_sink sink = { &rs, NULL, NULL, ref_tensor };
	struct bn_err e = { "" };
	struct bn_model m;
	struct bn_state *s;
	float **lg, *last;
	int32_t **gr, next;
	size_t j;
	char hdr[8192];
	size_t len = 0, off = 0, i, T, V;
	uint64_t hl;
	unsigned char c8[8];
	FILE *f;
	int st, k;

	if (bn_kernels_init(NULL) != 0)
		return die("BN_KERNEL", "not available");
	if ((st = bn_import_path(ref, &sink, &e)) != BN_OK)
		return die(ref, e.msg);
	if ((st = bn_model_open(&m, model, &e)) != BN_OK)
		return die(model, e.msg);
	V = (size_t)m.c.vocab;
	if ((lg = calloc(rs.n + 1, sizeof *lg)) == NULL ||
	    (gr = calloc(rs.n + 1, sizeof *gr)) == NULL ||
	    (last = malloc(V * sizeof *last)) == NULL)
		return die(model, "out of memory");
	len += (size_t)snprintf(hdr + len, sizeof hdr - len, "{");
	for (i = 0; i < rs.n; i++) {
		if (rs.t[i].dtype != BN_DTYPE_I32)
			return die(rs.t[i].name, "not i32");
		T = (size_t)rs.t[i].nelem;
		if ((st = bn_state_new(&s, &m, (int)T + NGREEDY, (int)T, 1,
		    &e)) != BN_OK)
			return die(model, e.msg);
		if ((lg[i] = malloc(T * V * sizeof(float))) == NULL ||
		    (gr[i] = malloc((T + NGREEDY) * sizeof(int32_t))) == NULL)
			return die(model, "out of memory");
		if (bn_forward(&m, s, (const int32_t *)rs.data[i], (int)T,
		    lg[i], 1) != BN_OK)
			return die(rs.t[i].name, "token out of range");
		/* greedy continuation, as bnrun --temp 0 */
		memcpy(gr[i], rs.data[i], 4 * T);
		next = argmax(lg[i] + (T - 1) * V, V);
		for (j = 0; j < NGREEDY; j++) {
			gr[i][T + j] = next;
			if (j + 1 < NGREEDY) {
				bn_forward(&m, s, &gr[i][T + j], 1, last, 0);
				next = argmax(last, V);
			}
		}
		bn_state_free(s);
		k = atoi(rs.t[i].name + 10);
		len += (size_t)snprintf(hdr + len, sizeof hdr - len,
		    "%s\"input_ids.%d\":{\"dtype\":\"I32\",\"shape\":[%zu],"
		    "\"data_offsets\":[%zu,%zu]},\"logits.%d\":{\"dtype\":"
		    "\"F32\",\"shape\":[%zu,%zu],\"data_offsets\":[%zu,%zu]}",
		    i ? "," : "", k, T, off, off + 4 * T, k, T, V, off + 4 * T,
		    off + 4 * T + 4 * T * V);
		off += 4 * T + 4 * T * V;
		len += (size_t)snprintf(hdr + len, sizeof hdr - len,
		    ",\"greedy.%d\":{\"dtype\":\"I32\",\"shape\":[%zu],"
		    "\"data_offsets\":[%zu,%zu]}", k, T + NGREEDY, off,
		    off + 4 * (T + NGREEDY));
		off += 4 * (T + NGREEDY);
	}
	len += (size_t)snprintf(hdr + len, sizeof hdr - len, "}");
	while (len % 8 != 0)
		hdr[len++] = ' ';
	if ((f = fopen(out, "wb")) == NULL)
		return die(out, "cannot create");
	for (hl = len, i = 0; i < 8; i++)
		c8[i] = (unsigned char)(hl >> 8 * i);
	fwrite(c8, 1, 8, f);
	fwrite(hdr, 1, len, f);
	for (i = 0; i < rs.n; i++) {	/* little-endian hosts only */
		fwrite(rs.data[i], 1, (size_t)rs.t[i].data_bytes, f);
		fwrite(lg[i], sizeof(float), (size_t)rs.t[i].nelem * V, f);
		fwrite(gr[i], sizeof(int32_t), (size_t)rs.t[i].nelem + NGREEDY,
		    f);
		free(lg[i]);
		free(gr[i]);
		free(rs.data[i]);
		free(rs.names[i]);
	}
	free(lg);
	free(gr);
	free(last);
	bn_model_close(&m);
	if (fclose(f) != 0)
		return die(out, "write error");
	return 0;
}

int
main(int argc, char **argv)
{
	struct bn_onnx_opts o = { 0, 0 };
	struct bn_err e = { "" };
	struct bnt_map m;
	FILE *f;
	int i = 1, st;

	if (argc == 5 && strcmp(argv[1], "--logits") == 0)
		return logits(argv[2], argv[3], argv[4]);
	for (; i < argc && argv[i][0] == '-'; i++) {
		if (strcmp(argv[i], "--kv") == 0)
			o.kv_cache = 1;
		else if (strcmp(argv[i], "--packing") == 0 && i + 1 < argc) {
			i++;
			o.packing = strcmp(argv[i], "int2") == 0 ?
			    BN_ONNX_DQ_INT2 : strcmp(argv[i], "int2mm") == 0 ?
			    BN_ONNX_INT2_MMI : strcmp(argv[i], "nbits") == 0 ?
			    BN_ONNX_NBITS : -1;
		} else
			break;
	}
	if (argc - i != 2) {
		fprintf(stderr, "usage: mkonnx [--kv] [--packing nbits|int2|int2mm] "
		    "in.bnt out.onnx\n"
		    "       mkonnx --logits in.bnt ref.safetensors "
		    "out.safetensors\n");
		return 64;
	}
	if ((st = bnt_map_open(&m, argv[i], 0, &e)) != BN_OK)
		return die(argv[i], e.msg);
	if ((f = fopen(argv[i + 1], "wb")) == NULL)
		return die(argv[i + 1], "cannot create");
	st = bn_export_onnx(&m, f, &o, &e);
	if (fclose(f) != 0 && st == BN_OK)
		return die(argv[i + 1], "write error");
	bnt_map_close(&m);
	if (st != BN_OK) {
		remove(argv[i + 1]);
		fprintf(stderr, "mkonnx: %s: %s\n", argv[i], e.msg);
		return bn_exit_code(st);
	}
	return 0;
}
