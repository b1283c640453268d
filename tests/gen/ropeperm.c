/* ropeperm.c: rewrite a Hugging Face-convention (rotate-half) model in
 * the GGUF convention: permute the rows of every attn_q and attn_k the
 * way llama.cpp's converter does, and set rope_style=interleaved.  The
 * two files must compute the same logits: a test of both RoPE paths.
 *
 * usage: ropeperm IN.bnt OUT.bnt [keep]
 * (keep: leave rope_style alone, a control that must then disagree) */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bnt.h"
#include "kv.h"

int
main(int argc, char *argv[])
{
	struct bnt_reader *r;
	struct bnt_writer *w;
	struct bnt_record rec;
	struct bn_kv cfg;
	FILE *in, *out;
	long nh = 0, nkv = 0, hd = 0;
	int st;

	if (argc < 3 || argc > 4 || (in = fopen(argv[1], "rb")) == NULL ||
	    (out = fopen(argv[2], "wb")) == NULL) {
		fputs("usage: ropeperm in.bnt out.bnt [keep]\n", stderr);
		return 64;
	}
	r = bnt_reader_open(in, argv[1]);
	w = bnt_writer_open(out, 0);
	bn_kv_init(&cfg);
	while ((st = bnt_read_next(r, &rec)) == BN_OK) {
		const struct bnt_tensor *t = &rec.tensor;

		if (rec.kind == BNT_KIND_CONFIG) {
			size_t i;
			int64_t v;

			for (i = 0; i < rec.config.n; i++)
				bn_kv_set(&cfg, rec.config.v[i].key,
				    rec.config.v[i].val);
			if (argc == 3)
				bn_kv_set(&cfg, "rope_style", "interleaved");
			if (bn_kv_get_i64(&cfg, "n_heads", &v) == 0)
				nh = (long)v;
			nkv = nh;
			if (bn_kv_get_i64(&cfg, "n_kv_heads", &v) == 0)
				nkv = (long)v;
			if (bn_kv_get_i64(&cfg, "head_dim", &v) == 0)
				hd = (long)v;
			bnt_write_config(w, &cfg);
		} else if (rec.kind == BNT_KIND_TOKENIZER)
			bnt_write_tokenizer(w, &rec.vocab);
		else if (rec.kind == BNT_KIND_TENSOR) {
			const char *q = strstr(t->name, ".attn_q.");
			const char *k = strstr(t->name, ".attn_k.");
			unsigned char *d = malloc(t->raw_len + 1);
			size_t rb = (size_t)t->row_bytes;
			long heads = q ? nh : nkv, h, i, j;

			memcpy(d, rec.data, t->raw_len);
			if ((q || k) && t->scale_kind == BNT_SCALE_NONE &&
			    hd > 0)
				for (h = 0; h < heads; h++)
					for (i = 0; i < hd / 2; i++)
						for (j = 0; j < 2; j++)
							memcpy(d + (size_t)(h *
							    hd + 2 * i + j) * rb,
							    rec.data + (size_t)(h *
							    hd + j * hd / 2 + i) *
							    rb, rb);
			bnt_write_tensor(w, t, d, NULL);
			free(d);
		}
	}
	bnt_writer_finish(w);
	bnt_writer_free(w);
	bnt_reader_close(r);
	bn_kv_free(&cfg);
	fclose(in);
	return fclose(out) != 0 || st != BN_END;
}
