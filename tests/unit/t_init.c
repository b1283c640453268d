/* t_init.c: model/init.c's generator: splitmix64's published first
 * outputs (common/rng.c's seeding), ln/sin/cos series against libm,
 * Box-Muller moments, the option checks, and the tensors a new model
 * holds (names, order, shapes, values) as the loader and the trainer
 * bind them. */
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "model.h"
#include "train.h"
#include "../../model/init.c"

/* A layer's tensors in stream order, the architecture that alone has
 * it (0: every one); then the shape in the test's sizes: H hidden, Q
 * heads x head_dim, K kv_heads x head_dim, F ffn, D head_dim (0 rows:
 * a vector). */
static const struct {
	const char *name;
	int arch;
	char rows, cols;
} layer_want[] = {
	{ "attn_norm.weight", 0, 0, 'H' }, { "attn_q.weight", 0, 'Q', 'H' },
	{ "attn_q.bias", BN_ARCH_QWEN2, 0, 'Q' },
	{ "attn_k.weight", 0, 'K', 'H' },
	{ "attn_k.bias", BN_ARCH_QWEN2, 0, 'K' },
	{ "attn_v.weight", 0, 'K', 'H' },
	{ "attn_v.bias", BN_ARCH_QWEN2, 0, 'K' },
	{ "attn_q_norm.weight", BN_ARCH_QWEN3, 0, 'D' },
	{ "attn_k_norm.weight", BN_ARCH_QWEN3, 0, 'D' },
	{ "attn_sub_norm.weight", BN_ARCH_BITNET, 0, 'Q' },
	{ "attn_output.weight", 0, 'H', 'Q' },
	{ "ffn_norm.weight", 0, 0, 'H' }, { "ffn_gate.weight", 0, 'F', 'H' },
	{ "ffn_up.weight", 0, 'F', 'H' },
	{ "ffn_sub_norm.weight", BN_ARCH_BITNET, 0, 'F' },
	{ "ffn_down.weight", 0, 'H', 'F' },
};

static uint64_t
dim(char d, const struct bn_init_opts *o, int hd)
{
	switch (d) {
	case 'H': return (uint64_t)o->hidden;
	case 'Q': return (uint64_t)(o->heads * hd);
	case 'K': return (uint64_t)(o->kv_heads * hd);
	case 'F': return (uint64_t)o->ffn;
	case 'D': return (uint64_t)hd;
	default: return 0;
	}
}

static int
same_tensor(const struct bnt_map_tensor *t, const char *name,
    uint64_t rows, uint64_t cols)
{
	return strcmp(t->t.name, name) == 0 && t->t.dtype == BN_DTYPE_F32 &&
	    t->t.ndim == (rows ? 2u : 1u) &&
	    t->t.dims[0] == (rows ? rows : cols) &&
	    (rows == 0 || t->t.dims[1] == cols);
}

/* Write a two-layer model of arch (head_dim hd, 0: hidden / heads)
 * with the fixture's tokenizer, then check its tensors one by one, its
 * values, and that model.c and train.c bind it. */
static void
test_schema(int arch, int hd, const struct bn_vocab *v)
{
	char path[] = "/tmp/t_init.XXXXXX", name[64];
	struct bn_init_opts o;
	struct bnt_writer *w;
	struct bnt_map m;
	struct bn_model md;
	struct bn_train *tr;
	struct bn_err e;
	const float *x;
	uint64_t V = v->n_tokens;
	size_t k = 0, i, j, per = 0;
	int fd, l, ok = 1, bitnet = arch == BN_ARCH_BITNET, H;
	FILE *f;

	memset(&o, 0, sizeof o);
	o.arch = arch;
	o.hidden = 16;
	o.layers = 2;
	o.heads = 2;
	o.kv_heads = 1;
	o.ffn = 24;
	o.ctx = 8;
	o.seed = 3;
	o.head_dim = hd;
	CHECK(bn_init_check(&o, (uint32_t)V, &e) == BN_OK);
	H = hd != 0 ? hd : 8;
	for (i = 0; i < sizeof layer_want / sizeof layer_want[0]; i++)
		per += layer_want[i].arch == 0 || layer_want[i].arch == arch;
	CHECK((fd = mkstemp(path)) >= 0 && (f = fdopen(fd, "wb")) != NULL);
	CHECK((w = bnt_writer_open(f, 0)) != NULL);
	CHECK(bn_init_model(w, &o, v, &e) == BN_OK);
	CHECK(bnt_writer_finish(w) == BN_OK);
	bnt_writer_free(w);
	CHECK(fclose(f) == 0);
	CHECK(bnt_map_open(&m, path, 0, &e) == BN_OK);
	CHECK(m.ntensors == 1 + 2 * per + 1 + !bitnet);
	ok &= same_tensor(&m.tensors[k++], "token_embd.weight", V, 16);
	for (l = 0; l < 2; l++)
		for (i = 0; i < sizeof layer_want / sizeof layer_want[0];
		    i++) {
			if (layer_want[i].arch != 0 &&
			    layer_want[i].arch != arch)
				continue;
			snprintf(name, sizeof name, "blk.%d.%s", l,
			    layer_want[i].name);
			ok &= k < m.ntensors && same_tensor(&m.tensors[k++],
			    name, dim(layer_want[i].rows, &o, H),
			    dim(layer_want[i].cols, &o, H));
		}
	ok &= k < m.ntensors && same_tensor(&m.tensors[k++],
	    "output_norm.weight", 0, 16);
	if (!bitnet)
		ok &= k < m.ntensors && same_tensor(&m.tensors[k++],
		    "output.weight", V, 16);
	CHECK(ok && k == m.ntensors);
	/* norms are ones, biases zeros, the rest normal draws */
	for (i = 0, ok = 1; i < m.ntensors; i++) {
		int bias = strstr(m.tensors[i].t.name, ".bias") != NULL;

		x = m.tensors[i].data;
		if (m.tensors[i].t.ndim == 1)
			for (j = 0; j < m.tensors[i].t.nelem; j++)
				ok &= x[j] == (bias ? 0.0f : 1.0f);
		else
			ok &= x[0] != x[1] && fabsf(x[0]) < 0.2f;
	}
	CHECK(ok);
	bnt_map_close(&m);

	CHECK(bn_model_open(&md, path, &e) == BN_OK);
	CHECK(md.c.arch == arch && md.c.tied == bitnet && md.c.head_dim == H);
	CHECK(md.c.norm_eps == (arch == BN_ARCH_QWEN2 ||
	    arch == BN_ARCH_QWEN3 ? 1e-6f : 1e-5f));
	CHECK(md.layer[1].down.rows == 16 && md.layer[1].down.n == 24);
	CHECK(bitnet ? md.layer[0].ffn_sub_norm.n == 24 :
	    md.layer[0].ffn_sub_norm.w == NULL);
	CHECK(arch == BN_ARCH_QWEN2 ? md.layer[1].q_bias.n == 2 * (size_t)H &&
	    md.layer[1].v_bias.n == (size_t)H : md.layer[1].q_bias.w == NULL);
	CHECK(arch == BN_ARCH_QWEN3 ? md.layer[1].q_norm.n == (size_t)H &&
	    md.layer[1].k_norm.n == (size_t)H : md.layer[1].k_norm.w == NULL);
	bn_model_close(&md);
	CHECK(bnt_map_open(&m, path, 0, &e) == BN_OK);
	CHECK(bn_train_new(&tr, &m, BN_TQ_TERNARY, 1, 4, 1, &e) == BN_OK);
	CHECK(tr->np == (int)m.ntensors);
	for (i = 0, ok = 1; i < m.ntensors; i++)
		ok &= strcmp(tr->p[i].name, m.tensors[i].t.name) == 0 &&
		    tr->p[i].quant == (m.tensors[i].t.ndim == 2 &&
		    strstr(m.tensors[i].t.name, "blk.") != NULL);
	CHECK(ok);
	bn_train_free(tr);
	bnt_map_close(&m);
	unlink(path);
}

int
main(void)
{
	struct bn_init_opts o;
	struct bn_err e;
	struct rng r;
	double x, c, s, err, z, m1, m2, m4;
	struct bn_rng sm;
	int i, n = 1000000;

	/* the seeding: splitmix64 from state 0 (Vigna's reference code) */
	bn_rng_seed(&sm, 0);
	CHECK(sm.s[0] == UINT64_C(0xe220a8397b1dcdaf));
	CHECK(sm.s[1] == UINT64_C(0x6e789e6aa1b965f4));

	/* the series against libm, over (0, 1] and [0, 1) */
	for (err = 0, i = 1; i <= 100000; i++) {
		x = i / 100000.0;
		err = fmax(err, fabs(det_log(x) - log(x)) /
		    fmax(1, fabs(log(x))));
	}
	CHECK(err < 1e-15);
	CHECK(det_log(0x1p-53) == -53 * 0.69314718055994530942);
	CHECK(det_log(1) == 0);
	for (err = 0, i = 0; i < 100000; i++) {
		x = i / 100000.0;
		det_cossin(x, &c, &s);
		err = fmax(err, fabs(c - cos(2 * 3.14159265358979323846 * x)));
		err = fmax(err, fabs(s - sin(2 * 3.14159265358979323846 * x)));
	}
	CHECK(err < 1e-14);

	/* N(0, 1): mean, variance, kurtosis of a million draws */
	rng_seed(&r, 42);
	for (m1 = m2 = m4 = 0, i = 0; i < n; i++) {
		z = rng_normal(&r);
		m1 += z;
		m2 += z * z;
		m4 += z * z * z * z;
	}
	m1 /= n;
	m2 /= n;
	m4 /= n;
	CHECK(fabs(m1) < 0.005);
	CHECK(fabs(m2 - 1) < 0.005);
	CHECK(fabs(m4 / (m2 * m2) - 3) < 0.03);

	/* same seed, same stream; another seed, another */
	{
		struct rng a, b;
		double za, zb;
		int same = 1;

		rng_seed(&a, 7);
		rng_seed(&b, 7);
		for (i = 0; i < 1000; i++) {
			za = rng_normal(&a);
			zb = rng_normal(&b);
			same &= memcmp(&za, &zb, sizeof za) == 0;
		}
		CHECK(same);
		rng_seed(&b, 8);
		rng_seed(&a, 7);
		CHECK(rng_normal(&a) != rng_normal(&b));
	}

	/* option checks and defaults */
	memset(&o, 0, sizeof o);
	o.arch = BN_ARCH_LLAMA;
	CHECK(bn_init_check(&o, 4096, &e) == BN_OK);
	CHECK(o.hidden == 256 && o.layers == 6 && o.heads == 8 &&
	    o.kv_heads == 4 && o.ffn == 768 && o.ctx == 256);
	memset(&o, 0, sizeof o);
	o.arch = BN_ARCH_BITNET;
	o.heads = 4;
	CHECK(bn_init_check(&o, 4096, &e) == BN_OK && o.kv_heads == 4);
	o.heads = 7;
	CHECK(bn_init_check(&o, 4096, &e) == BN_EUSAGE);
	CHECK(strcmp(e.msg, "heads 7 does not divide hidden 256") == 0);
	o.heads = 8;
	o.kv_heads = 3;
	CHECK(bn_init_check(&o, 4096, &e) == BN_EUSAGE);
	o.kv_heads = 8;
	o.hidden = 8 * 3;
	CHECK(bn_init_check(&o, 4096, &e) == BN_EUSAGE);	/* odd head */
	o.hidden = BN_INIT_MAX_HIDDEN;
	o.layers = BN_INIT_MAX_LAYERS;
	o.ffn = BN_INIT_MAX_FFN;
	CHECK(bn_init_check(&o, UINT32_MAX, &e) == BN_EUSAGE);
	CHECK(strncmp(e.msg, "too many parameters", 19) == 0);
	o.hidden = 256;
	o.layers = 6;
	o.ffn = 768;
	CHECK(bn_init_check(&o, 0, &e) == BN_EUSAGE);
	o.arch = 0;
	CHECK(bn_init_check(&o, 4096, &e) == BN_EUSAGE);
	/* --head-dim: heads need not divide hidden; it must be even */
	o.arch = BN_ARCH_QWEN3;
	o.heads = 7;
	o.kv_heads = 7;
	o.head_dim = 10;
	CHECK(bn_init_check(&o, 4096, &e) == BN_OK && o.head_dim == 10);
	o.head_dim = 9;
	CHECK(bn_init_check(&o, 4096, &e) == BN_EUSAGE);
	CHECK(strcmp(e.msg, "head-dim 9 is odd") == 0);
	o.head_dim = BN_INIT_MAX_HIDDEN + 2;
	CHECK(bn_init_check(&o, 4096, &e) == BN_EUSAGE);

	/* the tensors of a new model */
	{
		struct bn_vocab v;

		bn_vocab_init(&v);
		CHECK(bn_init_load_vocab("tests/fixtures/austen-llama-6m/"
		    "tokenizer.json", &v, &e) == BN_OK);
		test_schema(BN_ARCH_LLAMA, 0, &v);
		test_schema(BN_ARCH_BITNET, 0, &v);
		test_schema(BN_ARCH_QWEN2, 0, &v);
		/* heads x head_dim (2 x 12) is not hidden (16) */
		test_schema(BN_ARCH_QWEN3, 12, &v);
		test_schema(BN_ARCH_LLAMA, 6, &v);
		bn_vocab_free(&v);
	}
	return check_done();
}
