/* convert.c: a llama model in the bitnet layout (convert.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "convert.h"
#include "dtype.h"
#include "kv.h"
#include "roles.h"

/* Why arch cannot become bitnet, into e: the roles it has that bitnet
 * has not, by the role table; BN_OK if none. */
static int
refuse(const struct bn_config *c, struct bn_err *e)
{
	char list[256] = "";
	size_t n = 0;
	int id;

	if (c->arch == BN_ARCH_BITNET)
		return bn_seterr(e, BN_EUNSUPPORTED, "the model is bitnet "
		    "already");
	for (id = 0; id < BN_R_COUNT; id++)
		if (bn_role_present(id, c->arch, c->tied) &&
		    !bn_role_present(id, BN_ARCH_BITNET, c->tied))
			n += (size_t)snprintf(list + n, n < sizeof list ?
			    sizeof list - n : 0, "%s%s", n ? ", " : "",
			    bn_roles[id].name);
	if (n > 0)
		return bn_seterr(e, BN_EUNSUPPORTED, "arch %s: bitnet has no "
		    "place for its %s; not converted", bn_arch_name(c->arch),
		    list);
	return BN_OK;
}

/* The f32 ones of role id in layer l. */
static int
ones(struct bnt_writer *w, int id, int l, const struct bn_dims *d,
    float *buf, struct bn_err *e)
{
	struct bnt_tensor t;
	char name[64];
	uint64_t rows, cols, i;

	bn_role_shape(id, d, &rows, &cols);
	for (i = 0; i < cols; i++)
		buf[i] = 1;
	memset(&t, 0, sizeof t);
	t.name = bn_role_name(id, l, name, sizeof name);
	t.dtype = BN_DTYPE_F32;
	t.ndim = 1;
	t.dims[0] = cols;
	if (bnt_tensor_layout(&t, e) != BN_OK)
		return BN_EFORMAT;
	return bnt_write_tensor(w, &t, buf, NULL);
}

int
bn_convert_bitnet(struct bnt_reader *r, struct bnt_writer *w,
    struct bn_err *e)
{
	struct bnt_record rec;
	struct bn_config c;
	struct bn_dims d;
	struct bn_kv kv;
	float *buf = NULL;
	size_t i;
	int st, wst = BN_OK, have = 0, nsub = 0, id, l;

	while (wst == BN_OK && (st = bnt_read_next(r, &rec)) == BN_OK) {
		const struct bnt_tensor *t = &rec.tensor;

		switch (rec.kind) {
		case BNT_KIND_CONFIG:
			if (have) {
				free(buf);
				return bn_seterr(e, BN_EFORMAT, "a second "
				    "configuration record");
			}
			if ((st = bn_config_from_kv(&c, &rec.config, e)) !=
			    BN_OK || (st = refuse(&c, e)) != BN_OK)
				return st;
			bn_dims_from_config(&d, &c);
			if ((buf = malloc((size_t)(d.d[BN_DIM_FFN] >
			    d.d[BN_DIM_Q] ? d.d[BN_DIM_FFN] : d.d[BN_DIM_Q]) *
			    sizeof *buf)) == NULL)
				return bn_seterr(e, BN_ENOMEM, "out of memory");
			have = 1;
			bn_kv_init(&kv);
			for (i = 0; i < rec.config.n; i++)
				bn_kv_set(&kv, rec.config.v[i].key,
				    rec.config.v[i].val);
			bn_kv_set(&kv, BN_CFG_ARCH, "bitnet");
			bn_kv_set(&kv, BN_CFG_ACT, c.act == BN_ACT_RELU2 ?
			    "relu2" : "silu");
			bn_kv_set(&kv, BN_CFG_BITLINEAR, c.bitlinear ? "1" :
			    "0");
			wst = bnt_write_config(w, &kv);
			bn_kv_free(&kv);
			break;
		case BNT_KIND_TENSOR:
			if (!have)
				return bn_seterr(e, BN_EFORMAT, "tensor '%s' "
				    "before the configuration record",
				    t->name);
			id = bn_role_of(t->name, &l);
			if (id == BN_R_ATTN_OUTPUT || id == BN_R_FFN_DOWN) {
				if ((wst = ones(w, id == BN_R_ATTN_OUTPUT ?
				    BN_R_ATTN_SUB_NORM : BN_R_FFN_SUB_NORM, l,
				    &d, buf, e)) != BN_OK)
					break;
				nsub++;
			}
			wst = bnt_write_tensor(w, t, rec.data,
			    t->scale_kind != BNT_SCALE_NONE ?
			    rec.data + t->scale_offset : NULL);
			break;
		case BNT_KIND_TOKENIZER:
			wst = bnt_write_tokenizer(w, &rec.vocab);
			break;
		case BNT_KIND_END:
			break;
		default:	/* notes and unknown optional records */
			wst = bnt_write_record(w, rec.kind, rec.flags,
			    rec.meta, rec.meta_len, rec.data, rec.len);
		}
	}
	free(buf);
	if (wst != BN_OK)
		return wst;
	if (st != BN_END)
		return st;
	if (!have)
		return bn_seterr(e, BN_EFORMAT, "no configuration record "
		    "(not a model)");
	if (nsub != 2 * c.layers)
		return bn_seterr(e, BN_EFORMAT, "%d of %d layers have "
		    "attn_output and ffn_down", nsub / 2, c.layers);
	return BN_OK;
}
