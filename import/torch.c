/* torch.c: torch.save() zip checkpoints (state dicts) -> bnt tensors.
 *
 * The zip holds <prefix>/data.pkl, a pickle of the state dict whose
 * tensors are _rebuild_tensor_v2(storage, offset, size, stride, ...)
 * calls, each storage a persistent id ('storage', torch.<T>Storage, key,
 * location, numel) whose bytes are the member <prefix>/data/<key>.
 * Tensors are emitted in place (pointers into the members), in order of
 * their bnt names. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "bnt.h"
#include "dtype.h"
#include "fileset.h"
#include "import.h"
#include "roles.h"
#include "mem.h"
#include "pickle.h"
#include "status.h"

#define MAX_DEPTH 16		/* nested dicts of tensors */
#define MAX_TENSORS (1u << 20)
#define MAX_VISITS (1u << 24)	/* dict entries looked at (shared dicts) */

static const char rebuild_v2[] = "torch._utils._rebuild_tensor_v2";

static const struct {
	const char *name;
	int dtype;
	unsigned size;
} storages[] = {
	{ "torch.BFloat16Storage", BN_DTYPE_BF16, 2 },
	{ "torch.ByteStorage", BN_DTYPE_U8, 1 },
	{ "torch.CharStorage", BN_DTYPE_I8, 1 },
	{ "torch.DoubleStorage", BN_DTYPE_F64, 8 },
	{ "torch.FloatStorage", BN_DTYPE_F32, 4 },
	{ "torch.HalfStorage", BN_DTYPE_F16, 2 },
	{ "torch.IntStorage", BN_DTYPE_I32, 4 },
	{ "torch.LongStorage", BN_DTYPE_I64, 8 },
};

struct ent {
	char *hf;		/* key path in the state dict */
	char *name;		/* bnt name */
	const struct bn_pickle_obj *call;	/* _rebuild_tensor_v2(...) */
};

struct walk {
	struct ent *v;
	size_t n, cap;
	size_t visits;
	char path[BNT_MAX_NAME + 1];
	struct bn_err *e;
};

/* The _rebuild_tensor_v2 call behind o (a Parameter wraps one), or NULL. */
static const struct bn_pickle_obj *
tensor_call(const struct bn_pickle_obj *o)
{
	if (bn_pickle_is_call(o, "torch._utils._rebuild_parameter") ||
	    bn_pickle_is_call(o,
	    "torch._utils._rebuild_parameter_with_state")) {
		if (o->items[1]->n < 1)
			return NULL;
		o = o->items[1]->items[0];
	}
	return bn_pickle_is_call(o, rebuild_v2) ? o : NULL;
}

static int
has_tensors(const struct bn_pickle_obj *d)
{
	size_t i;

	for (i = 1; i < d->n; i += 2)
		if (d->items[i]->kind == BN_PICKLE_CALL)
			return 1;
	return 0;
}

static int
add_ent(struct walk *w, const struct bn_pickle_obj *call)
{
	struct ent *a;

	if (w->n == w->cap) {
		if (w->cap >= MAX_TENSORS)
			return bn_seterr(w->e, BN_EFORMAT, "more than %u "
			    "tensors", MAX_TENSORS);
		if (bn_grow(&w->v, &w->cap, w->n + 1, sizeof *w->v) != 0)
			return bn_seterr(w->e, BN_ENOMEM, "out of memory");
	}
	a = &w->v[w->n];
	a->name = NULL;
	a->call = call;
	if ((a->hf = strdup(w->path)) == NULL)
		return bn_seterr(w->e, BN_ENOMEM, "out of memory");
	w->n++;
	return BN_OK;
}

/* Collect the tensors of dict d, whose keys are joined to path[0..plen)
 * with '.'. */
static int
walk_dict(struct walk *w, const struct bn_pickle_obj *d, size_t plen,
    int depth)
{
	const struct bn_pickle_obj *k, *v, *t;
	size_t i, j, len;
	int rc;

	for (i = 0; i + 1 < d->n; i += 2) {
		k = d->items[i];
		v = d->items[i + 1];
		if (++w->visits > MAX_VISITS)
			return bn_seterr(w->e, BN_EFORMAT, "state dict has "
			    "more than %u entries", MAX_VISITS);
		t = tensor_call(v);
		if (t == NULL && v->kind != BN_PICKLE_CALL &&
		    v->kind != BN_PICKLE_DICT) {
			/* scalars, strings, lists: not weights */
			if (v->kind != BN_PICKLE_LIST &&
			    v->kind != BN_PICKLE_TUPLE)
				continue;
			for (j = 0; j < v->n; j++)
				if (v->items[j]->kind == BN_PICKLE_CALL)
					break;
			if (j == v->n)
				continue;
			w->path[plen] = '\0';
			return bn_seterr(w->e, BN_EUNSUPPORTED, "key '%s%s': "
			    "a sequence of tensors is not supported", w->path,
			    k->kind == BN_PICKLE_STR ? k->str : "?");
		}
		w->path[plen] = '\0';
		if (k->kind != BN_PICKLE_STR || k->len == 0 ||
		    strlen(k->str) != k->len)
			return bn_seterr(w->e, BN_EFORMAT, "state dict under "
			    "'%s': a key is not a string", w->path);
		len = plen + k->len;
		if (len > BNT_MAX_NAME)
			return bn_seterr(w->e, BN_EFORMAT, "key '%s%.40s...' "
			    "is too long", w->path, k->str);
		memcpy(w->path + plen, k->str, k->len + 1);
		if (t != NULL) {
			if ((rc = add_ent(w, t)) != BN_OK)
				return rc;
			continue;
		}
		if (v->kind == BN_PICKLE_CALL)
			return bn_seterr(w->e, BN_EUNSUPPORTED, "key '%s': "
			    "unsupported object", w->path);
		if (depth + 1 >= MAX_DEPTH)
			return bn_seterr(w->e, BN_EFORMAT, "key '%s': dicts "
			    "nested deeper than %d", w->path, MAX_DEPTH);
		if (len + 1 > BNT_MAX_NAME)
			return bn_seterr(w->e, BN_EFORMAT, "key '%.40s...' is "
			    "too long", w->path);
		w->path[len] = '.';
		w->path[len + 1] = '\0';
		if ((rc = walk_dict(w, v, len + 1, depth + 1)) != BN_OK)
			return rc;
	}
	return BN_OK;
}

static int
cmp_ent(const void *a, const void *b)
{
	return strcmp(((const struct ent *)a)->name,
	    ((const struct ent *)b)->name);
}

/* The member named exactly name. */
static const struct bn_file *
member(const struct bn_fileset *fs, const char *name)
{
	size_t i;

	for (i = 0; i < fs->n; i++)
		if (strcmp(fs->files[i].name, name) == 0)
			return &fs->files[i];
	return NULL;
}

/* data.pkl at the top or under one directory; *plen: its prefix. */
static int
find_pickle(const struct bn_fileset *fs, const struct bn_file **pkl,
    size_t *plen, struct bn_err *e)
{
	const char *nm, *slash;
	size_t i, len;

	*pkl = NULL;
	for (i = 0; i < fs->n; i++) {
		nm = fs->files[i].name;
		len = strlen(nm);
		if (len < 8 || strcmp(nm + len - 8, "data.pkl") != 0)
			continue;
		if (len > 8) {
			slash = strchr(nm, '/');
			if (slash == NULL || slash == nm ||
			    slash != nm + len - 9)
				continue;
		}
		if (*pkl != NULL)
			return bn_seterr(e, BN_EFORMAT, "'%s' and '%s': more "
			    "than one data.pkl", (*pkl)->name, nm);
		*pkl = &fs->files[i];
		*plen = len - 8;
	}
	if (*pkl == NULL)
		return bn_seterr(e, BN_EFORMAT, "no data.pkl: not a torch.save "
		    "zip");
	return BN_OK;
}

static int
check_byteorder(const struct bn_fileset *fs, const char *pfx, size_t plen,
    struct bn_err *e)
{
	const struct bn_file *f;
	char name[512];
	size_t n;

	if (plen + sizeof "byteorder" > sizeof name)
		return bn_seterr(e, BN_EFORMAT, "member name too long");
	memcpy(name, pfx, plen);
	memcpy(name + plen, "byteorder", sizeof "byteorder");
	if ((f = member(fs, name)) == NULL)
		return BN_OK;	/* older files: native order (little) */
	n = f->size;
	if (n > 0 && f->data[n - 1] == '\n')
		n--;
	if (n == 6 && memcmp(f->data, "little", 6) == 0)
		return BN_OK;
	if (n == 3 && memcmp(f->data, "big", 3) == 0)
		return bn_seterr(e, BN_EUNSUPPORTED, "big-endian torch "
		    "checkpoints are not supported");
	return bn_seterr(e, BN_EFORMAT, "bad byteorder member");
}

static int
get_int(const struct bn_pickle_obj *o, int64_t *v)
{
	if (o->kind != BN_PICKLE_INT)
		return -1;
	*v = o->ival;
	return 0;
}

/* Check one tensor against its storage and send it to the sink. */
static int
emit(const struct bn_fileset *fs, const char *pfx, size_t plen,
    const struct ent *en, struct bn_sink *s, struct bn_err *e)
{
	const struct bn_pickle_obj *args, *pid, *size, *stride, *key;
	const struct bn_file *f;
	struct bnt_tensor t;
	char mname[512];
	int64_t off, numel, v;
	uint64_t nelem, expect, end, bytes;
	unsigned elsize = 0;
	size_t i;
	int dtype = -1, rc;

	args = en->call->items[1];
	if (args->n < 4)
		return bn_seterr(e, BN_EFORMAT, "tensor '%s': %zu arguments "
		    "to _rebuild_tensor_v2", en->hf, args->n);
	pid = args->items[0];
	if (pid->kind != BN_PICKLE_PERSID ||
	    pid->items[0]->kind != BN_PICKLE_TUPLE ||
	    pid->items[0]->n < 5 ||
	    !bn_pickle_str_eq(pid->items[0]->items[0], "storage"))
		return bn_seterr(e, BN_EFORMAT, "tensor '%s': bad storage "
		    "reference", en->hf);
	pid = pid->items[0];
	for (i = 0; i < sizeof storages / sizeof storages[0]; i++)
		if (bn_pickle_is_global(pid->items[1], storages[i].name)) {
			dtype = storages[i].dtype;
			elsize = storages[i].size;
		}
	if (dtype < 0)
		return bn_seterr(e, BN_EUNSUPPORTED, "tensor '%s': storage "
		    "type '%s' is not supported", en->hf,
		    pid->items[1]->kind == BN_PICKLE_GLOBAL ?
		    pid->items[1]->str : "?");
	key = pid->items[2];
	if (key->kind != BN_PICKLE_STR || key->len == 0 || key->len > 64 ||
	    strspn(key->str, "0123456789abcdefghijklmnopqrstuvwxyz"
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZ_") != key->len)
		return bn_seterr(e, BN_EFORMAT, "tensor '%s': bad storage "
		    "key", en->hf);
	if (get_int(pid->items[4], &numel) != 0 || numel < 0)
		return bn_seterr(e, BN_EFORMAT, "tensor '%s': bad storage "
		    "size", en->hf);
	if (plen + 5 + key->len + 1 > sizeof mname)
		return bn_seterr(e, BN_EFORMAT, "member name too long");
	memcpy(mname, pfx, plen);
	memcpy(mname + plen, "data/", 5);
	memcpy(mname + plen + 5, key->str, key->len + 1);
	if ((f = member(fs, mname)) == NULL)
		return bn_seterr(e, BN_EFORMAT, "tensor '%s': no member "
		    "'%s'", en->hf, mname);
	if (bn_mul_u64((uint64_t)numel, elsize, &bytes) != 0 ||
	    bytes > f->size)
		return bn_seterr(e, BN_EFORMAT, "tensor '%s': storage '%s' "
		    "has %zu bytes, not %lld elements of %u", en->hf, mname,
		    f->size, (long long)numel, elsize);

	if (get_int(args->items[1], &off) != 0 || off < 0)
		return bn_seterr(e, BN_EFORMAT, "tensor '%s': bad storage "
		    "offset", en->hf);
	size = args->items[2];
	stride = args->items[3];
	if (size->kind != BN_PICKLE_TUPLE || stride->kind != BN_PICKLE_TUPLE ||
	    size->n != stride->n)
		return bn_seterr(e, BN_EFORMAT, "tensor '%s': bad size or "
		    "stride", en->hf);
	if (size->n > BNT_MAX_DIMS)
		return bn_seterr(e, BN_EUNSUPPORTED, "tensor '%s': %zu "
		    "dimensions", en->hf, size->n);
	memset(&t, 0, sizeof t);
	t.name = en->name;
	t.dtype = dtype;
	t.ndim = (unsigned)size->n;
	t.scale_kind = BNT_SCALE_NONE;
	nelem = 1;
	for (i = 0; i < size->n; i++) {
		if (get_int(size->items[i], &v) != 0 || v < 0)
			return bn_seterr(e, BN_EFORMAT, "tensor '%s': bad "
			    "dimension %zu", en->hf, i);
		t.dims[i] = (uint64_t)v;
		if (bn_mul_u64(nelem, t.dims[i], &nelem) != 0)
			return bn_seterr(e, BN_EFORMAT, "tensor '%s': size "
			    "overflows", en->hf);
	}
	/* row-major contiguous; a dimension of 1 may have any stride */
	expect = 1;
	for (i = size->n; nelem > 0 && i-- > 0;) {
		if (get_int(stride->items[i], &v) != 0)
			return bn_seterr(e, BN_EFORMAT, "tensor '%s': bad "
			    "stride", en->hf);
		if (t.dims[i] != 1 && (v < 0 || (uint64_t)v != expect))
			return bn_seterr(e, BN_EUNSUPPORTED, "tensor '%s': "
			    "not contiguous (stride %lld in dimension %zu, "
			    "expected %llu)", en->hf, (long long)v, i,
			    (unsigned long long)expect);
		expect *= t.dims[i];	/* <= nelem: no overflow */
	}
	if (nelem > 0 && (bn_add_u64((uint64_t)off, nelem, &end) != 0 ||
	    end > (uint64_t)numel))
		return bn_seterr(e, BN_EFORMAT, "tensor '%s': elements "
		    "%lld..%llu beyond its storage of %lld", en->hf,
		    (long long)off, (unsigned long long)off + nelem,
		    (long long)numel);
	if ((rc = bnt_tensor_layout(&t, e)) != BN_OK)
		return rc;
	if (bn_mul_u64(nelem, elsize, &bytes) != 0 || t.data_bytes != bytes)
		return bn_seterr(e, BN_EINTERNAL, "tensor '%s': layout of "
		    "%llu bytes", en->hf, (unsigned long long)t.data_bytes);
	if (s == NULL || s->tensor == NULL)
		return BN_OK;
	return s->tensor(s->ctx, &t, nelem == 0 ? f->data :
	    f->data + (size_t)off * elsize, NULL);
}

int
bn_import_torch(const struct bn_fileset *zip, struct bn_sink *s,
    struct bn_err *e)
{
	struct bn_pickle pk;
	struct walk *w;
	const struct bn_file *pkl;
	const struct bn_pickle_obj *root, *sub;
	char pfx[256];
	size_t plen = 0, i;
	int rc, hop;

	if ((rc = find_pickle(zip, &pkl, &plen, e)) != BN_OK)
		return rc;
	if (plen >= sizeof pfx)
		return bn_seterr(e, BN_EFORMAT, "member name too long");
	memcpy(pfx, pkl->name, plen);
	pfx[plen] = '\0';
	if ((rc = check_byteorder(zip, pfx, plen, e)) != BN_OK)
		return rc;
	if ((rc = bn_pickle_load(&pk, pkl->data, pkl->size, e)) != BN_OK)
		return rc;
	if ((w = calloc(1, sizeof *w)) == NULL) {
		bn_pickle_free(&pk);
		return bn_seterr(e, BN_ENOMEM, "out of memory");
	}
	w->e = e;
	root = pk.root;
	if (tensor_call(root) != NULL) {
		rc = bn_seterr(e, BN_EUNSUPPORTED, "data.pkl holds a single "
		    "tensor, not a state dict");
		goto out;
	}
	if (root->kind != BN_PICKLE_DICT) {
		rc = bn_seterr(e, BN_EUNSUPPORTED, "data.pkl does not hold a "
		    "state dict");
		goto out;
	}
	/* a training checkpoint: {"state_dict": {...}, ...} */
	for (hop = 0; hop < 2 && !has_tensors(root); hop++) {
		if ((sub = bn_pickle_dict_get(root, "state_dict")) == NULL ||
		    sub->kind != BN_PICKLE_DICT)
			sub = bn_pickle_dict_get(root, "model");
		if (sub == NULL || sub->kind != BN_PICKLE_DICT)
			break;
		root = sub;
	}
	if ((rc = walk_dict(w, root, 0, 0)) != BN_OK)
		goto out;
	if (w->n == 0) {
		rc = bn_seterr(e, BN_EFORMAT, "data.pkl holds no tensors");
		goto out;
	}
	for (i = 0; i < w->n; i++) {
		if ((w->v[i].name = malloc(BNT_MAX_NAME + 1)) == NULL) {
			rc = bn_seterr(e, BN_ENOMEM, "out of memory");
			goto out;
		}
		if (bn_name_from_hf(w->v[i].hf, w->v[i].name,
		    BNT_MAX_NAME + 1) != 0) {
			rc = bn_seterr(e, BN_EFORMAT, "tensor '%.64s...': "
			    "name too long", w->v[i].hf);
			goto out;
		}
	}
	qsort(w->v, w->n, sizeof w->v[0], cmp_ent);
	for (i = 1; i < w->n; i++)
		if (strcmp(w->v[i - 1].name, w->v[i].name) == 0) {
			rc = bn_seterr(e, BN_EFORMAT, "tensors '%s' and '%s': "
			    "duplicate name '%s'", w->v[i - 1].hf,
			    w->v[i].hf, w->v[i].name);
			goto out;
		}
	for (i = 0; i < w->n; i++)
		if ((rc = emit(zip, pfx, plen, &w->v[i], s, e)) != BN_OK)
			goto out;
out:
	for (i = 0; i < w->n; i++) {
		free(w->v[i].hf);
		free(w->v[i].name);
	}
	free(w->v);
	free(w);
	bn_pickle_free(&pk);
	return rc;
}
