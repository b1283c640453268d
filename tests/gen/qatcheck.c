/* qatcheck: compare bntools' training (model/train.c) with the PyTorch
 * reference of tests/peers/qat-ref.py.
 *
 *   qatcheck [-t threads] ternary|binary MODEL.bnt REF.bnt
 *
 * REF (ref.safetensors packed by bnpack) holds tokens [10][B][T+1],
 * the losses of 10 AdamW steps, every gradient at step 0, the
 * hyper-parameters (lr, warm-up, wd, clip, eps, alpha, tau; cosine to 0,
 * betas 0.9/0.95) and, for distillation, the teacher's logits; for
 * hidden-state distillation also teacher_hidden [nl][B * T][hidden],
 * hid_layers (i32 [nl]) and hid_params (cosine 1 or MSE 0, weight);
 * for attention-relation distillation teacher_attn.q, .k, .v ([B][T]
 * [width]) and attn_params (layer, weight, temperature).
 * Checks
 * each gradient tensor within max|a - b| <= 1e-4 * max|b| and each loss
 * within 1e-3.
 * Prints one line per check; exit 0 if all pass. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bnt.h"
#include "dtype.h"
#include "kernels.h"
#include "train.h"

static const float *
get(const struct bnt_map *m, const char *name, uint64_t n)
{
	const struct bnt_map_tensor *t = bnt_map_find(m, name);

	if (t == NULL || t->t.nelem != n || t->t.scale_kind != BNT_SCALE_NONE) {
		fprintf(stderr, "qatcheck: %s: missing or wrong size\n", name);
		exit(2);
	}
	return t->data;
}

int
main(int argc, char *argv[])
{
	struct bnt_map model, ref;
	struct bn_err e = { 0 };
	struct bn_train *t;
	const struct bnt_map_tensor *tt;
	const int32_t *tok;
	const float *loss, *hp, *teacher = NULL;
	int quant, threads = 2, B, T, fails = 0, checks = 0, s, i;
	char name[96];

	if (argc > 2 && strcmp(argv[1], "-t") == 0) {
		threads = atoi(argv[2]);
		argv += 2;
		argc -= 2;
	}
	if (argc != 4) {
		fprintf(stderr, "usage: qatcheck [-t n] ternary|binary "
		    "model.bnt ref.bnt\n");
		return 2;
	}
	quant = strcmp(argv[1], "binary") == 0 ? BN_TQ_BINARY : BN_TQ_TERNARY;
	if (bn_kernels_init(NULL) != 0 ||
	    bnt_map_open(&model, argv[2], 0, &e) != BN_OK ||
	    bnt_map_open(&ref, argv[3], 0, &e) != BN_OK) {
		fprintf(stderr, "qatcheck: %s\n", e.msg);
		return 2;
	}
	if ((tt = bnt_map_find(&ref, "tokens")) == NULL || tt->t.ndim != 3 ||
	    tt->t.dtype != BN_DTYPE_I32 || tt->t.dims[0] != 10) {
		fprintf(stderr, "qatcheck: no tokens [10][B][T+1]\n");
		return 2;
	}
	tok = tt->data;
	B = (int)tt->t.dims[1];
	T = (int)tt->t.dims[2] - 1;
	loss = get(&ref, "loss", 10);
	hp = get(&ref, "hparams", 7);
	if (bn_train_new(&t, &model, quant, B, T, threads, &e) != BN_OK) {
		fprintf(stderr, "qatcheck: %s\n", e.msg);
		return 2;
	}
	if (bnt_map_find(&ref, "teacher") != NULL)
		teacher = get(&ref, "teacher", (uint64_t)B * (uint64_t)T *
		    (uint64_t)t->c.vocab);
	if ((tt = bnt_map_find(&ref, "hid_layers")) != NULL) {
		const float *hpar = get(&ref, "hid_params", 2);

		if (tt->t.dtype != BN_DTYPE_I32 || tt->t.ndim != 1) {
			fprintf(stderr, "qatcheck: hid_layers: not i32 [nl]\n");
			return 2;
		}
		t->hl = tt->data;
		t->nhl = (int)tt->t.dims[0];
		t->th = get(&ref, "teacher_hidden", (uint64_t)t->nhl *
		    (uint64_t)B * (uint64_t)T * (uint64_t)t->c.hidden);
		t->hid_cos = hpar[0] != 0;
		t->hid_weight = hpar[1];
	}
	if (bnt_map_find(&ref, "attn_params") != NULL) {
		const float *ap = get(&ref, "attn_params", 3);
		size_t tdim[3];

		for (i = 0; i < 3; i++) {
			snprintf(name, sizeof name, "teacher_attn.%c",
			    "qkv"[i]);
			if ((tt = bnt_map_find(&ref, name)) == NULL ||
			    tt->t.ndim != 3) {
				fprintf(stderr, "qatcheck: %s: missing\n",
				    name);
				return 2;
			}
			tdim[i] = (size_t)tt->t.dims[2];
			t->ta[i] = get(&ref, name, (uint64_t)B * (uint64_t)T *
			    tdim[i]);
		}
		if (bn_train_attn(t, (int)ap[0], t->c.heads, ap[1], ap[2],
		    tdim, &e) != BN_OK) {
			fprintf(stderr, "qatcheck: %s\n", e.msg);
			return 2;
		}
	}
	for (s = 0; s < 10; s++) {
		double l = bn_train_step(t, tok + (size_t)s * (size_t)B *
		    (size_t)(T + 1), B, teacher, hp[5], hp[6], 1, NULL, NULL);
		int ok = fabs(l - loss[s]) <= 1e-3;

		printf("%s step %d loss %.6f reference %.6f diff %.2e\n",
		    ok ? "ok  " : "FAIL", s, l, loss[s], fabs(l - loss[s]));
		fails += !ok;
		checks++;
		if (s == 0)
			for (i = 0; i < t->np; i++) {
				const struct bn_tparam *p = &t->p[i];
				size_t n = p->rows * p->cols, k;
				const float *r, *g = t->g + p->off;
				double mb = 0, md = 0;

				snprintf(name, sizeof name, "grad.%s", p->name);
				r = get(&ref, name, n);
				for (k = 0; k < n; k++) {
					double d = fabs((double)g[k] - r[k]);

					mb = fabs(r[k]) > mb ? fabs(r[k]) : mb;
					md = d > md ? d : md;
				}
				ok = md <= 1e-4 * mb;
				printf("%s grad %s max|diff| %.3e max|ref| %.3e "
				    "ratio %.2e\n", ok ? "ok  " : "FAIL",
				    p->name, md, mb, mb > 0 ? md / mb : md);
				fails += !ok;
				checks++;
			}
		bn_train_clip(t, hp[3]);
		bn_train_adamw(t, s + 1, bn_train_lr(s, 10, (int)hp[1], hp[0],
		    0), 0.9f, 0.95f, hp[4], hp[2]);
	}
	printf("%d passed, %d failed\n", checks - fails, fails);
	bn_train_free(t);
	bnt_map_close(&model);
	bnt_map_close(&ref);
	return fails != 0;
}
