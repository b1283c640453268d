/* check.c: the invariants of a bnt stream (check.h). */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "config.h"
#include "dtype.h"
#include "mem.h"
#include "roles.h"

int
bn_report_add(struct bn_report *rep, long long record,
    unsigned long long offset, const char *tensor, const char *fmt, ...)
{
	struct bn_problem *p;
	char buf[512], *t = NULL, *m;
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof buf, fmt, ap);
	va_end(ap);
	if (bn_grow(&rep->p, &rep->pcap, rep->np + 1, sizeof *rep->p) != 0 ||
	    (tensor != NULL && (t = strdup(tensor)) == NULL) ||
	    (m = strdup(buf)) == NULL) {
		free(t);
		rep->oom = 1;
		return BN_ENOMEM;
	}
	p = &rep->p[rep->np++];
	p->record = record;
	p->offset = offset;
	p->tensor = t;
	p->msg = m;
	return BN_OK;
}

void
bn_report_free(struct bn_report *rep)
{
	size_t i;

	for (i = 0; i < rep->np; i++) {
		free(rep->p[i].tensor);
		free(rep->p[i].msg);
	}
	free(rep->p);
	for (i = 0; i < rep->nc; i++)
		free(rep->c[i].name);
	free(rep->c);
	memset(rep, 0, sizeof *rep);
}

static int
status(const struct bn_report *rep)
{
	return rep->oom ? BN_ENOMEM : BN_OK;
}

/* The payload byte of element i of a packed tensor (t2 or t3). */
static unsigned long long
code_byte(const struct bnt_tensor *t, uint64_t i)
{
	uint64_t c = i % t->row_len;

	return i / t->row_len * t->row_bytes + (t->dtype == BN_DTYPE_T2 ?
	    c / 128 * 32 + c % 32 : c / 5);
}

/* Codes (only 3 of a t2 or t3 is invalid) and zero padding. */
static void
check_codes(struct bn_report *rep, const struct bnt_record *rec)
{
	const struct bnt_tensor *t = &rec->tensor;
	long long ri = (long long)rec->index;
	unsigned long long off = rec->offset;
	uint64_t r, c, bad = 0, first = 0, padded;
	const unsigned char *rp;
	int v;

	for (r = 0; r < t->rows && bad == 0; r++) {
		rp = rec->data + r * t->row_bytes;
		padded = t->row_len;
		for (c = 0; c < t->row_len; c++) {
			v = t->dtype == BN_DTYPE_T2 ? bn_t2_get(rp, c) :
			    t->dtype == BN_DTYPE_T3 ? bn_t3_get(rp, c) : 0;
			if (v == 2 && bad++ == 0)
				first = r * t->row_len + c;
		}
		/* padding must encode zero (t2, t3) or be 0 (b1) */
		if (t->dtype == BN_DTYPE_T2)
			padded = t->row_bytes * 4;
		else if (t->dtype == BN_DTYPE_T3)
			padded = t->row_bytes * 5;
		for (c = t->row_len; c < padded; c++)
			if ((t->dtype == BN_DTYPE_T2 ? bn_t2_get(rp, c) :
			    bn_t3_get(rp, c)) != 0)
				bn_report_add(rep, ri, off, t->name,
				    "row %llu: nonzero padding",
				    (unsigned long long)r);
		if (t->dtype == BN_DTYPE_B1)
			for (c = t->row_len; c < t->row_bytes * 8; c++)
				if (rp[c / 8] >> (c % 8) & 1)
					bn_report_add(rep, ri, off, t->name,
					    "row %llu: nonzero padding bit",
					    (unsigned long long)r);
		if (rep->np > 100)
			break;
	}
	if (bad)
		bn_report_add(rep, ri, off, t->name, "invalid ternary code at "
		    "element %llu (payload byte %llu)",
		    (unsigned long long)first, code_byte(t, first));
}

/* NaN and infinity in a float tensor. */
static int
check_finite(struct bn_report *rep, const struct bnt_record *rec)
{
	const struct bnt_tensor *t = &rec->tensor;
	uint64_t r, c, nonfinite = 0, first = 0;
	float *row;

	if ((row = malloc(t->row_len ? t->row_len * 4 : 4)) == NULL)
		return BN_ENOMEM;
	for (r = 0; r < t->rows; r++) {
		bn_row_to_f32(t->dtype, rec->data + r * t->row_bytes,
		    t->row_len, row);
		for (c = 0; c < t->row_len; c++)
			if (!isfinite(row[c]) && nonfinite++ == 0)
				first = r * t->row_len + c;
	}
	free(row);
	if (nonfinite)
		bn_report_add(rep, (long long)rec->index, rec->offset, t->name,
		    "%llu non-finite values, the first at element %llu",
		    (unsigned long long)nonfinite, (unsigned long long)first);
	return BN_OK;
}

int
bn_check_tensor(struct bn_report *rep, const struct bnt_record *rec,
    int allow_nonfinite)
{
	const struct bnt_tensor *t = &rec->tensor;
	uint64_t r;
	float s;

	if (bn_dtype_traits(t->dtype)->is_packed)
		check_codes(rep, rec);
	else if (bn_dtype_traits(t->dtype)->is_float && !allow_nonfinite &&
	    check_finite(rep, rec) != BN_OK)
		return BN_ENOMEM;
	/* bnt(5): finite; a divisor also normal, so code / scale is finite */
	for (r = 0; r < t->nscales; r++) {
		s = bnt_tensor_scale(t, rec->data + t->scale_offset, r);
		if (!bnt_scale_valid(s, t->scale_flags)) {
			bn_report_add(rep, (long long)rec->index, rec->offset,
			    t->name, "scale %llu is %g", (unsigned long long)r,
			    (double)s);
			break;
		}
	}
	return status(rep);
}

/* The rules of common/config.c, the same that bnpack and the loaders
 * apply; one problem, the first the rules find. */
int
bn_check_config(struct bn_report *rep, const struct bnt_record *rec)
{
	struct bn_err e;

	if (bn_config_check(&rec->config, &e) != BN_OK)
		bn_report_add(rep, (long long)rec->index, rec->offset, NULL,
		    "%s", e.msg);
	return status(rep);
}

int
bn_check_vocab(struct bn_report *rep, const struct bnt_record *rec)
{
	const struct bn_vocab *v = &rec->vocab;
	long long ri = (long long)rec->index;
	struct bn_err e;
	uint32_t i;

	if (bn_config_check_vocab(NULL, &v->kv, v->n_tokens, &e) != BN_OK)
		bn_report_add(rep, ri, rec->offset, NULL, "%s", e.msg);
	for (i = 0; v->types != NULL && i < v->n_tokens; i++)
		if (v->types[i] < 0 || v->types[i] > BN_TOK_BYTE) {
			bn_report_add(rep, ri, rec->offset, NULL, "tokenizer: "
			    "token %u has type %d", (unsigned)i,
			    (int)v->types[i]);
			break;
		}
	return status(rep);
}

/* The architectures of the table of roles, as BN_ARCH_BIT()s. */
static unsigned
all_archs(void)
{
	unsigned all = 0;
	int i;

	for (i = 0; i < BN_R_COUNT; i++)
		all |= bn_roles[i].archs;
	return all;
}

/* Role id in layer l (top tensors: l is -1) against seen. */
static void
check_role(struct bn_report *rep, const char *arch, const struct bn_dims *d,
    const struct bn_tset *seen, int id, int l)
{
	const struct bn_held *h;
	uint64_t rows, cols, d0, d1;
	char name[64], got[128];

	bn_role_name(id, l, name, sizeof name);
	if ((h = bn_tset_find(seen, name)) == NULL) {
		bn_report_add(rep, -1, 0, name, "missing (arch %s needs it)",
		    arch);
		return;
	}
	/* d1 == 0: one dimension of d0 */
	bn_role_shape(id, d, &rows, &cols);
	d0 = bn_roles[id].rows == BN_DIM_NONE ? cols : rows;
	d1 = bn_roles[id].rows == BN_DIM_NONE ? 0 : cols;
	if (d1 == 0 ? h->t.ndim != 1 || h->t.dims[0] != d0 :
	    h->t.ndim != 2 || h->t.dims[0] != d0 || h->t.dims[1] != d1)
		bn_report_add(rep, -1, 0, name, "shape %s, the config needs "
		    "%llu%s%.0llu", bnt_shape_str(&h->t, got, sizeof got),
		    (unsigned long long)d0, d1 ? "x" : "",
		    (unsigned long long)d1);
}

int
bn_check_arch(struct bn_report *rep, const struct bn_kv *cfg,
    const struct bn_tset *seen)
{
	const char *arch = bn_kv_get(cfg, BN_CFG_ARCH);
	uint64_t V, H, L, nh, nkv, hd, F, tied = 0, l;
	struct bn_dims d;
	unsigned all = all_archs();
	int a, id, pass, common;

	if (arch == NULL || seen->n == 0)
		return BN_OK;
	if ((a = bn_arch_from_name(arch)) == 0)
		return BN_OK;
	if (bn_kv_get_u64(cfg, BN_CFG_VOCAB, &V) != 0 ||
	    bn_kv_get_u64(cfg, BN_CFG_HIDDEN, &H) != 0 ||
	    bn_kv_get_u64(cfg, BN_CFG_LAYERS, &L) != 0 ||
	    bn_kv_get_u64(cfg, BN_CFG_HEADS, &nh) != 0 ||
	    bn_kv_get_u64(cfg, BN_CFG_FFN, &F) != 0 || nh == 0)
		return bn_report_add(rep, -1, 0, NULL, "config: arch %s needs "
		    "vocab_size, hidden_size, n_layers, n_heads and ffn_size",
		    arch);
	if (bn_kv_get_u64(cfg, BN_CFG_KV_HEADS, &nkv) != 0)
		nkv = nh;
	if (bn_kv_get_u64(cfg, BN_CFG_HEAD_DIM, &hd) != 0)
		hd = H / nh;
	bn_kv_get_u64(cfg, BN_CFG_TIED, &tied);
	if (L > 100000)
		L = 100000;
	d.d[BN_DIM_NONE] = 0;
	d.d[BN_DIM_VOCAB] = V;
	d.d[BN_DIM_HIDDEN] = H;
	d.d[BN_DIM_Q] = nh * hd;
	d.d[BN_DIM_KV] = nkv * hd;
	d.d[BN_DIM_FFN] = F;
	d.d[BN_DIM_HEAD] = hd;
	/*
	 * Each layer's tensors, then the top ones (l == L).  The roles
	 * every architecture has come first, then the architecture's own,
	 * in the order bnverify has always reported them.
	 */
	for (l = 0; l <= L; l++)
		for (pass = 0; pass < 2; pass++)
			for (id = 0; id < BN_R_COUNT; id++) {
				common = (bn_roles[id].archs & all) == all;
				if (bn_roles[id].layer == (l < L) &&
				    common == !pass &&
				    bn_role_present(id, a, tied != 0))
					check_role(rep, arch, &d, seen, id,
					    l < L ? (int)l : -1);
			}
	return status(rep);
}

void
bn_check_init(struct bn_check *c, struct bn_tset *ref, double tol,
    int allow_nonfinite)
{
	memset(c, 0, sizeof *c);
	bn_kv_init(&c->cfg);
	bn_kv_init(&c->vkv);
	c->ref = ref;
	c->tol = tol;
	c->allow_nonfinite = allow_nonfinite;
}

static int
check_tensor_record(struct bn_check *c, const struct bnt_record *rec)
{
	struct bn_report *rep = &c->rep;
	const struct bnt_tensor *t = &rec->tensor;
	long long ri = (long long)rec->index;
	size_t before = rep->np;
	struct bn_held *h;
	int st;

	rep->tensors++;
	rep->bytes += t->raw_len;
	if (bn_tset_find(&c->seen, t->name) != NULL)
		bn_report_add(rep, ri, rec->offset, t->name, "duplicate "
		    "tensor name");
	else if (bn_tset_add(&c->seen, t, NULL) != BN_OK)
		return BN_ENOMEM;
	if ((st = bn_check_tensor(rep, rec, c->allow_nonfinite)) != BN_OK ||
	    c->ref == NULL)
		return st;
	if ((h = bn_tset_find(c->ref, t->name)) == NULL)
		return bn_report_add(rep, ri, rec->offset, t->name, "not in "
		    "the reference");
	h->seen = 1;
	/* a tensor with problems is not compared */
	return rep->np == before ? bn_compare(rep, c->tol, h, rec) : BN_OK;
}

static int
copy_kv(struct bn_kv *to, const struct bn_kv *from)
{
	size_t i;

	bn_kv_free(to);
	for (i = 0; i < from->n; i++)
		if (bn_kv_set(to, from->v[i].key, from->v[i].val) != 0)
			return BN_ENOMEM;
	return BN_OK;
}

/* The tokenizer against the config, once the stream has had both (at
 * the second of the two records). */
static int
check_pair(struct bn_check *c, const struct bnt_record *rec)
{
	struct bn_err e;

	/* a tokenizer bad on its own has been reported */
	if (c->nconfig == 0 || c->nvocab == 0 || bn_config_check_vocab(NULL,
	    &c->vkv, c->n_tokens, &e) != BN_OK)
		return BN_OK;
	if (bn_config_check_vocab(&c->cfg, &c->vkv, c->n_tokens, &e) !=
	    BN_OK)
		bn_report_add(&c->rep, (long long)rec->index, rec->offset,
		    NULL, "%s", e.msg);
	return status(&c->rep);
}

int
bn_check_record(struct bn_check *c, const struct bnt_record *rec)
{
	struct bn_report *rep = &c->rep;
	long long ri = (long long)rec->index;

	rep->records++;
	c->ended = rec->kind == BNT_KIND_END;
	switch (rec->kind) {
	case BNT_KIND_TENSOR:
		return check_tensor_record(c, rec);
	case BNT_KIND_CONFIG:
		if (c->nconfig++ > 0)
			bn_report_add(rep, ri, rec->offset, NULL, "a second "
			    "CONFIG record in one stream");
		if (copy_kv(&c->cfg, &rec->config) != BN_OK ||
		    bn_check_config(rep, rec) != BN_OK)
			return BN_ENOMEM;
		return check_pair(c, rec);
	case BNT_KIND_TOKENIZER:
		if (c->nvocab++ > 0)
			bn_report_add(rep, ri, rec->offset, NULL, "a second "
			    "TOKENIZER record in one stream");
		if (copy_kv(&c->vkv, &rec->vocab.kv) != BN_OK ||
		    bn_check_vocab(rep, rec) != BN_OK)
			return BN_ENOMEM;
		c->n_tokens = rec->vocab.n_tokens;
		return check_pair(c, rec);
	case BNT_KIND_END:
		/* the stream is whole: its own checks, then a fresh start
		 * for the next one */
		if (bn_check_arch(rep, &c->cfg, &c->seen) != BN_OK)
			return BN_ENOMEM;
		bn_tset_free(&c->seen);
		bn_kv_free(&c->cfg);
		bn_kv_free(&c->vkv);
		c->n_tokens = 0;
		c->nconfig = c->nvocab = 0;
		break;
	}
	return status(rep);
}

int
bn_check_finish(struct bn_check *c, int st, const char *msg)
{
	size_t i;

	if (st != BN_END)	/* the reader's message says where */
		return bn_report_add(&c->rep, -1, 0, NULL, "%s", msg);
	if (!c->ended && bn_check_arch(&c->rep, &c->cfg, &c->seen) != BN_OK)
		return BN_ENOMEM;
	for (i = 0; c->ref != NULL && i < c->ref->n; i++)
		if (!c->ref->v[i].seen)
			bn_report_add(&c->rep, -1, 0, c->ref->v[i].name,
			    "in the reference but not in the stream");
	return status(&c->rep);
}

void
bn_check_free(struct bn_check *c)
{
	size_t i;

	bn_report_free(&c->rep);
	bn_tset_free(&c->seen);
	bn_kv_free(&c->cfg);
	bn_kv_free(&c->vkv);
	for (i = 0; c->ref != NULL && i < c->ref->n; i++)
		c->ref->v[i].seen = 0;
}
