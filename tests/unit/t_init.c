/* t_init.c: model/init.c's generator: splitmix64's published first
 * outputs (common/rng.c's seeding), ln/sin/cos series against libm, Box-Muller moments, and the
 * option checks. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "check.h"
#include "../../model/init.c"

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
	return check_done();
}
