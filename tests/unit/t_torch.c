/* t_torch.c: the restricted pickle reader, torch.save zips, npy and npz. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bnt.h"
#include "dtype.h"
#include "fileset.h"
#include "import.h"
#include "pickle.h"
#include "status.h"
#include "check.h"

#define BF16_DIR "../shared/fixtures/bitnet-tiny-bf16"
#define BF16_DIR_LOCAL "tests/fixtures/bitnet-tiny-bf16"

/* A sink that keeps a copy of everything it is sent. */
struct rec {
	char *name;
	int dtype;
	unsigned ndim;
	uint64_t dims[BNT_MAX_DIMS];
	unsigned char *data;
	const void *ptr;	/* where the importer's data was */
	size_t bytes;
};

struct recs {
	struct rec *v;
	size_t n;
};

static int
rec_tensor(void *ctx, const struct bnt_tensor *t, const void *data,
    const void *scales)
{
	struct recs *r = ctx;
	struct rec *x;

	(void)scales;
	r->v = realloc(r->v, (r->n + 1) * sizeof *r->v);
	if (r->v == NULL)
		abort();
	x = &r->v[r->n++];
	memset(x, 0, sizeof *x);
	x->name = strdup(t->name);
	x->dtype = t->dtype;
	x->ndim = t->ndim;
	memcpy(x->dims, t->dims, sizeof x->dims);
	x->bytes = (size_t)t->data_bytes;
	x->ptr = data;
	x->data = malloc(x->bytes + 1);
	if (x->name == NULL || x->data == NULL)
		abort();
	if (x->bytes > 0)
		memcpy(x->data, data, x->bytes);
	return BN_OK;
}

static void
recs_free(struct recs *r)
{
	size_t i;

	for (i = 0; i < r->n; i++) {
		free(r->v[i].name);
		free(r->v[i].data);
	}
	free(r->v);
	r->v = NULL;
	r->n = 0;
}

static struct bn_sink
sink_for(struct recs *r)
{
	struct bn_sink s;

	memset(&s, 0, sizeof s);
	s.ctx = r;
	s.tensor = rec_tensor;
	return s;
}

static const struct rec *
find(const struct recs *r, const char *name)
{
	size_t i;

	for (i = 0; i < r->n; i++)
		if (strcmp(r->v[i].name, name) == 0)
			return &r->v[i];
	return NULL;
}

static int
sorted(const struct recs *r)
{
	size_t i;

	for (i = 1; i < r->n; i++)
		if (strcmp(r->v[i - 1].name, r->v[i].name) >= 0)
			return 0;
	return 1;
}

/* Import an archive file with the torch importer. */
static int
torch_file(const char *path, struct recs *r, struct bn_err *e)
{
	struct bn_file f;
	struct bn_fileset fs;
	struct bn_sink s = sink_for(r);
	int rc;

	memset(e, 0, sizeof *e);
	if ((rc = bn_file_open(&f, path, e)) != BN_OK)
		return rc;
	bn_fileset_init(&fs);
	rc = bn_fileset_from_archive(&fs, &f, e);
	if (rc == BN_OK)
		rc = bn_import_torch(&fs, &s, e);
	bn_fileset_free(&fs);
	bn_file_close(&f);
	return rc;
}

/* The .pt against the model.safetensors next to it, byte for byte. */
static void
test_fixture(void)
{
	char pt[256], st[256];
	const char *dir = BF16_DIR;
	struct recs a = { 0 }, b = { 0 };
	struct bn_file f;
	struct bn_sink s = sink_for(&b);
	struct bn_err e;
	const struct rec *x, *y;
	size_t i, diff = 0, same = 0;
	FILE *fp;

	snprintf(pt, sizeof pt, "%s/pytorch_model.pt", dir);
	if ((fp = fopen(pt, "rb")) == NULL) {
		dir = BF16_DIR_LOCAL;
		snprintf(pt, sizeof pt, "%s/pytorch_model.pt", dir);
	} else
		fclose(fp);
	snprintf(st, sizeof st, "%s/model.safetensors", dir);

	CHECK(torch_file(pt, &a, &e) == BN_OK);
	if (e.msg[0] != '\0')
		fprintf(stderr, "%s: %s\n", pt, e.msg);
	CHECK(a.n == 24);
	CHECK(sorted(&a));
	CHECK(find(&a, "token_embd.weight") != NULL);
	CHECK(find(&a, "blk.1.attn_q.weight") != NULL);
	CHECK(find(&a, "output_norm.weight") != NULL);

	memset(&e, 0, sizeof e);
	CHECK(bn_file_open(&f, st, &e) == BN_OK);
	CHECK(bn_import_safetensors(&f, &s, &e) == BN_OK);
	if (e.msg[0] != '\0')
		fprintf(stderr, "%s: %s\n", st, e.msg);
	bn_file_close(&f);
	CHECK(b.n > 0);

	for (i = 0; i < a.n; i++) {
		x = &a.v[i];
		if ((y = find(&b, x->name)) == NULL) {
			fprintf(stderr, "t_torch: only in the .pt: %s\n",
			    x->name);
			diff++;
			continue;
		}
		CHECK(x->dtype == BN_DTYPE_BF16 && x->dtype == y->dtype);
		CHECK(x->ndim == y->ndim);
		CHECK(memcmp(x->dims, y->dims, sizeof x->dims) == 0);
		CHECK(x->bytes == y->bytes);
		if (x->bytes == y->bytes && memcmp(x->data, y->data,
		    x->bytes) == 0)
			same++;
		else
			fprintf(stderr, "t_torch: %s differs\n", x->name);
	}
	for (i = 0; i < b.n; i++)
		if (find(&a, b.v[i].name) == NULL) {
			fprintf(stderr, "t_torch: only in the .safetensors: "
			    "%s\n", b.v[i].name);
			diff++;
		}
	CHECK(diff == 0);
	CHECK(same == a.n);
	x = find(&a, "token_embd.weight");
	CHECK(x != NULL && x->ndim == 2 && x->dims[0] == 4096 &&
	    x->dims[1] == 256);
	recs_free(&a);
	recs_free(&b);
}

static void
test_evil(void)
{
	struct recs r = { 0 };
	struct bn_err e;

	CHECK(torch_file("tests/fixtures/bad/evil-os-system.pt", &r,
	    &e) == BN_EFORMAT);
	CHECK(strcmp(e.msg, "pickle: global 'os.system' is not allowed") ==
	    0);
	CHECK(r.n == 0);
	CHECK(torch_file("tests/fixtures/bad/evil-stack-global.pt", &r,
	    &e) == BN_EFORMAT);
	CHECK(strstr(e.msg, "'builtins.eval'") != NULL);
	CHECK(r.n == 0);
}

/* A growing byte buffer for hand-made pickles. */
struct buf {
	unsigned char b[4096];
	size_t n;
};

static void
put(struct buf *p, const void *s, size_t n)
{
	if (p->n + n > sizeof p->b)
		abort();
	memcpy(p->b + p->n, s, n);
	p->n += n;
}

static void
putc1(struct buf *p, int c)
{
	unsigned char ch = (unsigned char)c;

	put(p, &ch, 1);
}

static void
putstr(struct buf *p, const char *s)	/* BINUNICODE */
{
	size_t n = strlen(s);
	unsigned char h[5] = { 'X', (unsigned char)n, (unsigned char)(n >> 8),
	    0, 0 };

	put(p, h, 5);
	put(p, s, n);
}

static void
putint(struct buf *p, int32_t v)	/* BININT */
{
	uint32_t u = (uint32_t)v;
	unsigned char h[5] = { 'J', (unsigned char)u, (unsigned char)(u >> 8),
	    (unsigned char)(u >> 16), (unsigned char)(u >> 24) };

	put(p, h, 5);
}

static void
putglobal(struct buf *p, const char *mod, const char *name)
{
	putc1(p, 'c');
	put(p, mod, strlen(mod));
	putc1(p, '\n');
	put(p, name, strlen(name));
	putc1(p, '\n');
}

/* _rebuild_tensor_v2(('storage', torch.<st>, key, 'cpu', numel), off,
 * size, stride, False, OrderedDict()) as torch writes it. */
static void
puttensor(struct buf *p, const char *st, const char *key, int numel,
    int off, unsigned nd, const int *size, const int *stride)
{
	unsigned i;

	putglobal(p, "torch._utils", "_rebuild_tensor_v2");
	putc1(p, '(');
	putc1(p, '(');
	putstr(p, "storage");
	putglobal(p, "torch", st);
	putstr(p, key);
	putstr(p, "cpu");
	putint(p, numel);
	putc1(p, 't');
	putc1(p, 'Q');
	putint(p, off);
	putc1(p, '(');
	for (i = 0; i < nd; i++)
		putint(p, size[i]);
	putc1(p, 't');
	putc1(p, '(');
	for (i = 0; i < nd; i++)
		putint(p, stride[i]);
	putc1(p, 't');
	putc1(p, 0x89);		/* NEWFALSE */
	putglobal(p, "collections", "OrderedDict");
	putc1(p, ')');
	putc1(p, 'R');
	putc1(p, 't');
	putc1(p, 'R');
}

static void
begin(struct buf *p)
{
	p->n = 0;
	put(p, "\x80\x02}(", 4);	/* PROTO 2, EMPTY_DICT, MARK */
}

static void
end(struct buf *p)
{
	put(p, "u.", 2);		/* SETITEMS, STOP */
}

static float storage0[8] = { 1, 2, 3, 4, 5, 6, 7, 8 };
static int32_t storage1[2] = { -5, 42 };

/* Import a hand-made data.pkl with members data/0 (8 f32) and data/1
 * (2 i32) under "m/". */
static int
torch_mem(const struct buf *p, const char *byteorder, struct recs *r,
    struct bn_err *e)
{
	char n0[] = "m/data.pkl", n1[] = "m/data/0", n2[] = "m/data/1",
	    n3[] = "m/byteorder";
	struct bn_file files[4];
	struct bn_fileset fs;
	struct bn_sink s = sink_for(r);

	memset(files, 0, sizeof files);
	memset(&fs, 0, sizeof fs);
	memset(e, 0, sizeof *e);
	files[0].name = n0;
	files[0].data = p->b;
	files[0].size = p->n;
	files[1].name = n1;
	files[1].data = (const unsigned char *)storage0;
	files[1].size = sizeof storage0;
	files[2].name = n2;
	files[2].data = (const unsigned char *)storage1;
	files[2].size = sizeof storage1;
	files[3].name = n3;
	files[3].data = (const unsigned char *)byteorder;
	files[3].size = byteorder != NULL ? strlen(byteorder) : 0;
	fs.files = files;
	fs.n = byteorder != NULL ? 4 : 3;
	return bn_import_torch(&fs, &s, e);
}

static void
test_torch_mem(void)
{
	static const int s23[] = { 2, 3 }, c23[] = { 3, 1 }, t23[] = { 1, 2 };
	static const int s4[] = { 4 }, c1[] = { 1 }, s2[] = { 2 };
	static const int s1x2[] = { 1, 2 }, odd[] = { 99, 1 };
	struct recs r = { 0 };
	struct bn_err e;
	struct buf p;
	const struct rec *x;

	/* shared storage, a nested dict, a name mapping, sorted output */
	begin(&p);
	putstr(&p, "model.layers.0.self_attn.q_proj.weight");
	puttensor(&p, "FloatStorage", "0", 8, 0, 2, s23, c23);
	putstr(&p, "b");
	puttensor(&p, "FloatStorage", "0", 8, 2, 1, s4, c1);
	putstr(&p, "nested");
	put(&p, "}(", 2);
	putstr(&p, "x");
	puttensor(&p, "IntStorage", "1", 2, 0, 1, s2, c1);
	putstr(&p, "row");	/* a size-1 dimension: any stride */
	puttensor(&p, "FloatStorage", "0", 8, 6, 2, s1x2, odd);
	putc1(&p, 'u');
	putstr(&p, "epoch");	/* not a tensor: skipped */
	putint(&p, 3);
	end(&p);
	CHECK(torch_mem(&p, "little", &r, &e) == BN_OK);
	if (e.msg[0] != '\0')
		fprintf(stderr, "t_torch: %s\n", e.msg);
	CHECK(r.n == 4);
	CHECK(sorted(&r));
	x = find(&r, "blk.0.attn_q.weight");
	CHECK(x != NULL && x->dtype == BN_DTYPE_F32 && x->ndim == 2 &&
	    x->dims[0] == 2 && x->dims[1] == 3 && x->bytes == 24 &&
	    x->ptr == (const void *)storage0);
	x = find(&r, "b");
	CHECK(x != NULL && x->ndim == 1 && x->dims[0] == 4 &&
	    x->ptr == (const void *)(storage0 + 2));
	x = find(&r, "nested.x");
	CHECK(x != NULL && x->dtype == BN_DTYPE_I32 && x->bytes == 8 &&
	    memcmp(x->data, storage1, 8) == 0);
	x = find(&r, "nested.row");
	CHECK(x != NULL && x->ptr == (const void *)(storage0 + 6));
	recs_free(&r);

	/* no byteorder member: fine */
	CHECK(torch_mem(&p, NULL, &r, &e) == BN_OK);
	recs_free(&r);
	CHECK(torch_mem(&p, "big", &r, &e) == BN_EUNSUPPORTED);
	CHECK(strstr(e.msg, "big-endian") != NULL);

	/* a training checkpoint */
	p.n = 0;
	put(&p, "\x80\x02}(", 4);
	putstr(&p, "state_dict");
	put(&p, "}(", 2);
	putstr(&p, "w");
	puttensor(&p, "FloatStorage", "0", 8, 0, 1, s4, c1);
	putc1(&p, 'u');
	putstr(&p, "epoch");
	putint(&p, 3);
	end(&p);
	CHECK(torch_mem(&p, "little", &r, &e) == BN_OK);
	CHECK(r.n == 1 && strcmp(r.v[0].name, "w") == 0);
	recs_free(&r);

	/* a transposed view */
	begin(&p);
	putstr(&p, "t");
	puttensor(&p, "FloatStorage", "0", 8, 0, 2, s23, t23);
	end(&p);
	CHECK(torch_mem(&p, "little", &r, &e) == BN_EUNSUPPORTED);
	CHECK(strstr(e.msg, "'t'") != NULL &&
	    strstr(e.msg, "not contiguous") != NULL);
	CHECK(r.n == 0);

	/* past the end of the storage */
	begin(&p);
	putstr(&p, "t");
	puttensor(&p, "FloatStorage", "0", 8, 5, 2, s23, c23);
	end(&p);
	CHECK(torch_mem(&p, "little", &r, &e) == BN_EFORMAT);
	CHECK(strstr(e.msg, "'t'") != NULL);

	/* a storage that claims more than its member holds */
	begin(&p);
	putstr(&p, "t");
	puttensor(&p, "FloatStorage", "0", 100, 0, 2, s23, c23);
	end(&p);
	CHECK(torch_mem(&p, "little", &r, &e) == BN_EFORMAT);

	/* a storage member that is not there; a path in the key */
	begin(&p);
	putstr(&p, "t");
	puttensor(&p, "FloatStorage", "7", 8, 0, 1, s4, c1);
	end(&p);
	CHECK(torch_mem(&p, "little", &r, &e) == BN_EFORMAT);
	begin(&p);
	putstr(&p, "t");
	puttensor(&p, "FloatStorage", "../0", 8, 0, 1, s4, c1);
	end(&p);
	CHECK(torch_mem(&p, "little", &r, &e) == BN_EFORMAT);

	/* a type bntools has no dtype for */
	begin(&p);
	putstr(&p, "t");
	puttensor(&p, "ShortStorage", "0", 8, 0, 1, s4, c1);
	end(&p);
	CHECK(torch_mem(&p, "little", &r, &e) == BN_EUNSUPPORTED);
	CHECK(strstr(e.msg, "ShortStorage") != NULL);

	/* a global that is not on the list */
	begin(&p);
	putstr(&p, "t");
	puttensor(&p, "SecretStorage", "0", 8, 0, 1, s4, c1);
	end(&p);
	CHECK(torch_mem(&p, "little", &r, &e) == BN_EFORMAT);
	CHECK(strcmp(e.msg, "pickle: global 'torch.SecretStorage' is not "
	    "allowed") == 0);
	CHECK(r.n == 0);
}

static int
load(const void *p, size_t n, struct bn_err *e)
{
	struct bn_pickle pk;
	int rc;

	memset(e, 0, sizeof *e);
	rc = bn_pickle_load(&pk, p, n, e);
	bn_pickle_free(&pk);
	return rc;
}

#define LOAD(s, e) load(s, sizeof s - 1, e)

static void
test_pickle(void)
{
	static const char p4[] =
	    "\x80\x04\x95\x30\0\0\0\0\0\0\0"	/* PROTO 4, FRAME */
	    "\x8c\x0b" "collections\x94"	/* SHORT_BINUNICODE, MEMOIZE */
	    "\x8c\x0bOrderedDict\x94"
	    "\x93\x94)R\x94"			/* STACK_GLOBAL, REDUCE */
	    "\x8c\x01k\x8a\x02\xff\x7f" "s"	/* LONG1 32767, SETITEM */
	    "h\x00h\x01\x86" "0.";		/* BINGET 0, 1, TUPLE2, POP */
	static const char self[] =
	    "\x80\x02]q\x00h\x00" "a(\x8a\x01\xfeG\x3f\xf8\0\0\0\0\0\0" "e.";
	struct bn_pickle pk;
	struct bn_err e;
	const struct bn_pickle_obj *v;
	unsigned char *big;
	size_t i;

	memset(&e, 0, sizeof e);
	CHECK(bn_pickle_load(&pk, (const unsigned char *)p4, sizeof p4 - 1,
	    &e) == BN_OK);
	if (e.msg[0] != '\0')
		fprintf(stderr, "t_torch: %s\n", e.msg);
	CHECK(pk.proto == 4 && pk.root != NULL &&
	    pk.root->kind == BN_PICKLE_DICT && pk.root->n == 2);
	v = bn_pickle_dict_get(pk.root, "k");
	CHECK(v != NULL && v->kind == BN_PICKLE_INT && v->ival == 32767);
	bn_pickle_free(&pk);

	/* negative LONG1, BINFLOAT, a list that holds itself */
	memset(&e, 0, sizeof e);
	CHECK(bn_pickle_load(&pk, (const unsigned char *)self,
	    sizeof self - 1, &e) == BN_OK);
	CHECK(pk.root != NULL && pk.root->kind == BN_PICKLE_LIST &&
	    pk.root->n == 3 && pk.root->items[0] == pk.root &&
	    pk.root->items[1]->ival == -2 && pk.root->items[2]->fval == 1.5);
	bn_pickle_free(&pk);

	CHECK(LOAD("\x80\x02X\x10\0\0\0abc.", &e) == BN_EFORMAT);
	CHECK(strstr(e.msg, "truncated") != NULL);
	CHECK(LOAD("\x80\x02X\xff\xff\xff\xff" "abc.", &e) == BN_EFORMAT);
	CHECK(LOAD("\x80\x05\x8d\xff\xff\xff\xff\xff\xff\xff\xff.", &e) ==
	    BN_EFORMAT);
	CHECK(LOAD("\x80\x02h\x05.", &e) == BN_EFORMAT);
	CHECK(strstr(e.msg, "memo") != NULL);
	CHECK(LOAD("\x80\x02Nr\xff\xff\xff\x7f.", &e) == BN_EFORMAT);
	CHECK(LOAD("N.", &e) == BN_EUNSUPPORTED);
	CHECK(LOAD("\x80\x06N.", &e) == BN_EUNSUPPORTED);
	CHECK(LOAD("\x80\x02N", &e) == BN_EFORMAT);
	CHECK(LOAD("\x80\x02.", &e) == BN_EFORMAT);
	CHECK(LOAD("\x80\x02(N0\x30.", &e) == BN_EFORMAT);
	CHECK(LOAD("\x80\x02Nt.", &e) == BN_EFORMAT);
	CHECK(LOAD("\x80\x02N(s.", &e) == BN_EFORMAT);
	CHECK(LOAD("\x80\x02]N(Nu.", &e) == BN_EFORMAT);
	CHECK(LOAD("\x80\x02\x8a\x09\0\0\0\0\0\0\0\0\0.", &e) ==
	    BN_EUNSUPPORTED);
	CHECK(LOAD("\x80\x02S'x'\n.", &e) == BN_EUNSUPPORTED);
	CHECK(LOAD("\x80\x02" "ctorch\nFloatStorage\n)R.", &e) == BN_EFORMAT);
	CHECK(strstr(e.msg, "not allowed") != NULL);
	CHECK(LOAD("\x80\x02N)R.", &e) == BN_EFORMAT);
	CHECK(LOAD("\x80\x02" "cposix\nsystem\n.", &e) == BN_EFORMAT);
	CHECK(strcmp(e.msg, "pickle: global 'posix.system' is not allowed") ==
	    0);
	CHECK(LOAD("\x80\x02" "csubprocess\nPopen\n.", &e) == BN_EFORMAT);
	CHECK(LOAD("\x80\x02" "ccollections\nOrderedDict\x00x\n.", &e) ==
	    BN_EFORMAT);
	CHECK(LOAD("\x80\x02" "ccollections\nOrderedDict", &e) == BN_EFORMAT);
	CHECK(LOAD("\x80\x04\x8c\x02os\x8c\x06system\x93.", &e) ==
	    BN_EFORMAT);
	CHECK(strcmp(e.msg, "pickle: global 'os.system' is not allowed") ==
	    0);
	CHECK(LOAD("\x80\x04N\x8c\x06system\x93.", &e) == BN_EFORMAT);
	CHECK(LOAD("\x80\x02" "ccollections\nOrderedDict\nK\x01\x85R.",
	    &e) == BN_EUNSUPPORTED);
	CHECK(LOAD("\x80\x02" "N\x95\xff\0\0\0\0\0\0\0.", &e) == BN_EFORMAT);

	/* 2^16 + 1 MARKs, and a stack deeper than the limit */
	big = malloc((1u << 21) + 8);
	if (big == NULL)
		abort();
	big[0] = 0x80;
	big[1] = 2;
	for (i = 0; i < (1u << 16) + 1; i++)
		big[2 + i] = '(';
	big[2 + i] = '.';
	CHECK(load(big, 3 + i, &e) == BN_EFORMAT);
	CHECK(strstr(e.msg, "MARK") != NULL);
	for (i = 0; i < BN_PICKLE_MAX_STACK + 1; i++)
		big[2 + i] = 'N';
	big[2 + i] = '.';
	CHECK(load(big, 3 + i, &e) == BN_EFORMAT);
	CHECK(strstr(e.msg, "stack") != NULL);
	free(big);
}

static void
test_npy(void)
{
	static const float want_a[] = { 0.5f, -1, 2, 3.25f, -0.125f, 100 };
	static const int64_t want_b[] = { -1, 0, 9000000000LL };
	static const uint16_t want_e[] = { 0x3c00, 0xc000, 0x3800, 0x7bff };
	struct recs r = { 0 };
	struct bn_sink s = sink_for(&r);
	struct bn_file f, m;
	struct bn_fileset fs;
	struct bn_err e;
	const struct rec *x;
	char name[] = "x.npy";
	unsigned char buf[256];
	size_t hl;

	memset(&e, 0, sizeof e);
	CHECK(bn_file_open(&f, "tests/fixtures/small.npy", &e) == BN_OK);
	CHECK(bn_import_npy(&f, NULL, &s, &e) == BN_OK);
	CHECK(bn_import_npy(&f, "given", &s, &e) == BN_OK);
	CHECK(r.n == 2);
	if (r.n == 2) {
		x = &r.v[0];
		CHECK(strcmp(x->name, "small") == 0);
		CHECK(strcmp(r.v[1].name, "given") == 0);
		CHECK(x->dtype == BN_DTYPE_F32 && x->ndim == 2 &&
		    x->dims[0] == 2 && x->dims[1] == 3 && x->bytes == 24);
		CHECK(memcmp(x->data, want_a, 24) == 0);
	}
	bn_file_close(&f);
	recs_free(&r);

	memset(&e, 0, sizeof e);
	CHECK(bn_file_open(&f, "tests/fixtures/small.npz", &e) == BN_OK);
	bn_fileset_init(&fs);
	CHECK(bn_fileset_from_archive(&fs, &f, &e) == BN_OK);
	CHECK(bn_import_npz(&fs, &s, &e) == BN_OK);
	if (e.msg[0] != '\0')
		fprintf(stderr, "t_torch: small.npz: %s\n", e.msg);
	CHECK(r.n == 4 && sorted(&r));
	x = find(&r, "a");
	CHECK(x != NULL && x->bytes == 24 && memcmp(x->data, want_a,
	    24) == 0);
	x = find(&r, "b");
	CHECK(x != NULL && x->dtype == BN_DTYPE_I64 && x->ndim == 1 &&
	    x->dims[0] == 3 && memcmp(x->data, want_b, 24) == 0);
	x = find(&r, "c");
	CHECK(x != NULL && x->dtype == BN_DTYPE_U8 && x->ndim == 0 &&
	    x->bytes == 1 && x->data[0] == 7);
	x = find(&r, "token_embd.weight");
	CHECK(x != NULL && x->dtype == BN_DTYPE_F16 && x->ndim == 2 &&
	    x->bytes == 8 && memcmp(x->data, want_e, 8) == 0);
	bn_fileset_free(&fs);
	bn_file_close(&f);
	recs_free(&r);

	/* hand-made headers */
	memset(&m, 0, sizeof m);
	m.name = name;
	m.data = buf;
#define NPY(hdr, ndata) do {						\
	hl = sizeof hdr - 1;						\
	memcpy(buf, "\x93NUMPY\x01\x00", 8);				\
	buf[8] = (unsigned char)hl;					\
	buf[9] = 0;							\
	memcpy(buf + 10, hdr, hl);					\
	memset(buf + 10 + hl, 0, ndata);				\
	m.size = 10 + hl + (ndata);					\
	memset(&e, 0, sizeof e);					\
} while (0)
	NPY("{'descr': '<i4', 'fortran_order': False, 'shape': (2,), }\n", 8);
	CHECK(bn_import_npy(&m, NULL, &s, &e) == BN_OK);
	CHECK(r.n == 1 && strcmp(r.v[0].name, "x") == 0 &&
	    r.v[0].dtype == BN_DTYPE_I32);
	recs_free(&r);
	NPY("{\"shape\": (2, 1),\"descr\":\"|i1\",\"fortran_order\":False}"
	    "  \n", 2);
	CHECK(bn_import_npy(&m, NULL, &s, &e) == BN_OK);
	recs_free(&r);
	NPY("{'descr': '<f4', 'fortran_order': True, 'shape': (2, 2), }\n",
	    16);
	CHECK(bn_import_npy(&m, NULL, &s, &e) == BN_EUNSUPPORTED);
	CHECK(strstr(e.msg, "fortran_order") != NULL);
	NPY("{'descr': '|b1', 'fortran_order': False, 'shape': (2,), }\n", 2);
	CHECK(bn_import_npy(&m, NULL, &s, &e) == BN_EUNSUPPORTED);
	CHECK(strstr(e.msg, "|b1") != NULL);
	NPY("{'descr': '>f4', 'fortran_order': False, 'shape': (2,), }\n", 8);
	CHECK(bn_import_npy(&m, NULL, &s, &e) == BN_EUNSUPPORTED);
	NPY("{'descr': '<f4', 'fortran_order': False, 'shape': (2), }\n", 8);
	CHECK(bn_import_npy(&m, NULL, &s, &e) == BN_EFORMAT);
	NPY("{'descr': '<f4', 'fortran_order': False, 'shape': (2,), }\n", 4);
	CHECK(bn_import_npy(&m, NULL, &s, &e) == BN_EFORMAT);
	NPY("{'descr': '<f4', 'fortran_order': False, 'shape': (2,), }\n",
	    12);
	CHECK(bn_import_npy(&m, NULL, &s, &e) == BN_EFORMAT);
	NPY("{'descr': '<f4', 'shape': (2,), }\n", 8);
	CHECK(bn_import_npy(&m, NULL, &s, &e) == BN_EFORMAT);
	NPY("{'descr': '<f4', 'descr': '<f4', 'fortran_order': False, "
	    "'shape': (2,), }\n", 8);
	CHECK(bn_import_npy(&m, NULL, &s, &e) == BN_EFORMAT);
	NPY("{'descr': '<f4', 'fortran_order': False, 'shape': (2,), }", 8);
	CHECK(bn_import_npy(&m, NULL, &s, &e) == BN_EFORMAT);
	NPY("{'descr': '<f4', 'fortran_order': False, 'shape': (2,) 'x', }\n",
	    8);
	CHECK(bn_import_npy(&m, NULL, &s, &e) == BN_EFORMAT);
	NPY("{'descr': '<f4', 'fortran_order': False, "
	    "'shape': (99999999999999999999,), }\n", 8);
	CHECK(bn_import_npy(&m, NULL, &s, &e) == BN_EFORMAT);
	NPY("{'descr': '<f4', 'fortran_order': False, "
	    "'shape': (4294967296, 4294967296, 4294967296), }\n", 8);
	CHECK(bn_import_npy(&m, NULL, &s, &e) == BN_EFORMAT);
	CHECK(r.n == 0);
	buf[6] = 4;
	CHECK(bn_import_npy(&m, NULL, &s, &e) == BN_EUNSUPPORTED);
	buf[6] = 1;
	buf[8] = 200;	/* header longer than the file */
	CHECK(bn_import_npy(&m, NULL, &s, &e) == BN_EFORMAT);
	m.size = 9;
	CHECK(bn_import_npy(&m, NULL, &s, &e) == BN_EFORMAT);
	recs_free(&r);
#undef NPY
}

int
main(void)
{
	test_pickle();
	test_torch_mem();
	test_evil();
	test_npy();
	test_fixture();
	return check_done();
}
