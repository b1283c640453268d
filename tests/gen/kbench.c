/* kbench.c: kernel microbenchmark, ref against avx2 (and avx2 against
 * avx512 where the CPU has it) in the same run.
 *
 * Prints seconds per call, GB/s of weight bytes and GOP/s (2 ops per
 * weight element per token).  Also measures an exact lookup-table
 * ternary matvec (T-MAC style: pairs of trits index a 16-entry int16
 * table split into low and high bytes, two vpshufb per pair for 32 rows
 * at once) on its own pre-shuffled layout, against the shipped
 * _mm256_maddubs_epi16 kernel, and the same lookups for 4 tokens at
 * once against matmul_t2 (T-MAC's matmul: indices extracted once per
 * step, looked up in each token's tables).  Usage: kbench
 * [seconds-per-case]. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "dtype.h"
#include "kernels.h"

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <immintrin.h>
#define HAVE_LUT 1
#endif

static double min_secs = 0.5;
static const struct bn_kernels *A;	/* the avx2 table, if this CPU runs it */
static const struct bn_kernels *X5;	/* the avx512 one, likewise */
static uint32_t rng = 42;

static uint32_t
rnd(void)
{
	rng = rng * 1664525u + 1013904223u;
	return rng >> 8;
}

static double
now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static void *
xmalloc(size_t n)
{
	void *p = aligned_alloc(64, (n + 63) / 64 * 64);

	if (p == NULL) {
		perror("kbench");
		exit(1);
	}
	return p;
}

static void
fill_t2(uint8_t *w, size_t bytes)
{
	size_t i;

	for (i = 0; i < bytes; i++)
		w[i] = (uint8_t)(rnd() % 3 | rnd() % 3 << 2 | rnd() % 3 << 4 |
		    rnd() % 3 << 6);
}

struct job {
	const struct bn_kernels *k;
	int kind;	/* 0 matvec_t2, 1 matmul_t2, 2 matvec_f, 3 matmul_f,
			 * 4 matvec_i8 */
	int dtype;
	const void *w;
	size_t rb, n, rows, T;
	const void *x;
	void *y;
};

static void
call(const struct job *j)
{
	switch (j->kind) {
	case 0:
		j->k->matvec_t2(j->w, j->rb, j->x, j->y, j->n, j->rows);
		break;
	case 1:
		j->k->matmul_t2(j->w, j->rb, j->x, j->n, j->y, j->rows, j->n,
		    j->rows, j->T);
		break;
	case 2:
		j->k->matvec_f(j->dtype, j->w, j->rb, j->x, j->y, j->n,
		    j->rows);
		break;
	case 4:
		j->k->matvec_i8(j->w, j->rb, j->x, j->y, j->n, j->rows);
		break;
	default:
		j->k->matmul_f(j->dtype, j->w, j->rb, j->x, j->n, j->y,
		    j->rows, j->n, j->rows, j->T);
	}
}

/* Seconds per call: repeat for at least min_secs (once for slow ones),
 * keep the best of the rounds. */
static double
timeit(void (*fn)(const void *), const void *arg)
{
	double t0, t, best = 1e30, total = 0;
	int reps = 0;

	fn(arg);	/* warm caches and pages */
	while (total < min_secs || reps < 3) {
		t0 = now();
		fn(arg);
		t = now() - t0;
		total += t;
		best = t < best ? t : best;
		if (++reps >= 3 && t > min_secs)
			break;
	}
	return best;
}

static void
call_v(const void *j)
{
	call(j);
}

static double
report(const char *what, struct job *j, double wbytes)
{
	double s = timeit(call_v, j);
	double ops = 2.0 * (double)j->rows * (double)j->n * (double)j->T;

	printf("%-34s %-6s %9.3f ms %7.2f GB/s %8.2f GOP/s\n", what,
	    j->k->name, s * 1e3, wbytes / s * 1e-9, ops / s * 1e-9);
	return s;
}

#ifdef HAVE_LUT
/* The LUT layout: tiles of 32 rows; for element pairs (2g, 2g + 1),
 * idx = c(2g) + 4 c(2g+1); step s holds pairs 2s (low nibble) and
 * 2s + 1 (high nibble), one byte per row of the tile. */
static int
t2code(const uint8_t *row, size_t i)
{
	return row[i / 128 * 32 + i % 32] >> (2 * (i % 128 / 32)) & 3;
}

static void
lut_pack(const uint8_t *w, size_t rb, size_t n, size_t rows, uint8_t *out)
{
	size_t t, s, r, g;
	unsigned lo, hi;

	for (t = 0; t < rows / 32; t++)
		for (s = 0; s < n / 4; s++)
			for (r = 0; r < 32; r++) {
				const uint8_t *row = w + (32 * t + r) * rb;

				g = 2 * s;
				lo = (unsigned)(t2code(row, 2 * g) +
				    4 * t2code(row, 2 * g + 1));
				g++;
				hi = (unsigned)(t2code(row, 2 * g) +
				    4 * t2code(row, 2 * g + 1));
				*out++ = (uint8_t)(lo | hi << 4);
			}
}

/* Tables: for pair g, 16 int16 entries split in lo[16] and hi[16]. */
__attribute__((target("avx2")))
static void
lut_tables(const int8_t *x, size_t n, uint8_t *tab)
{
	size_t g;
	int a, b, e;

	for (g = 0; g < n / 2; g++, tab += 32)
		for (a = 0; a < 4; a++)
			for (b = 0; b < 4; b++) {
				e = (a - 1) * x[2 * g] + (b - 1) * x[2 * g + 1];
				tab[a + 4 * b] = (uint8_t)(e & 0xff);
				tab[16 + a + 4 * b] = (uint8_t)((unsigned)e >> 8);
			}
}

__attribute__((target("avx2")))
static void
lut_matvec(const uint8_t *wp, const int8_t *x, int32_t *y, size_t n,
    size_t rows, uint8_t *tab)
{
	const __m256i m4 = _mm256_set1_epi8(0x0f);
	size_t t, s, s1, g;
	int r;

	lut_tables(x, n, tab);
	for (t = 0; t < rows / 32; t++) {
		__m256i acc32[4], a0, a1, v, i0, i1, l, h, tl, th;
		int32_t out[32];

		for (r = 0; r < 4; r++)
			acc32[r] = _mm256_setzero_si256();
		for (s = 0; s < n / 4; s = s1) {
			s1 = s + 60 < n / 4 ? s + 60 : n / 4;
			a0 = a1 = _mm256_setzero_si256();
			for (; s < s1; s++) {
				v = _mm256_loadu_si256((const __m256i *)
				    (wp + 32 * s));
				i0 = _mm256_and_si256(v, m4);
				i1 = _mm256_and_si256(_mm256_srli_epi16(v, 4),
				    m4);
				g = 2 * s;
				tl = _mm256_broadcastsi128_si256(_mm_loadu_si128(
				    (const __m128i *)(tab + 32 * g)));
				th = _mm256_broadcastsi128_si256(_mm_loadu_si128(
				    (const __m128i *)(tab + 32 * g + 16)));
				l = _mm256_shuffle_epi8(tl, i0);
				h = _mm256_shuffle_epi8(th, i0);
				a0 = _mm256_add_epi16(a0,
				    _mm256_unpacklo_epi8(l, h));
				a1 = _mm256_add_epi16(a1,
				    _mm256_unpackhi_epi8(l, h));
				tl = _mm256_broadcastsi128_si256(_mm_loadu_si128(
				    (const __m128i *)(tab + 32 * g + 32)));
				th = _mm256_broadcastsi128_si256(_mm_loadu_si128(
				    (const __m128i *)(tab + 32 * g + 48)));
				l = _mm256_shuffle_epi8(tl, i1);
				h = _mm256_shuffle_epi8(th, i1);
				a0 = _mm256_add_epi16(a0,
				    _mm256_unpacklo_epi8(l, h));
				a1 = _mm256_add_epi16(a1,
				    _mm256_unpackhi_epi8(l, h));
			}
			/* a0: rows 0-7 | 16-23, a1: rows 8-15 | 24-31 */
			acc32[0] = _mm256_add_epi32(acc32[0],
			    _mm256_cvtepi16_epi32(_mm256_castsi256_si128(a0)));
			acc32[1] = _mm256_add_epi32(acc32[1],
			    _mm256_cvtepi16_epi32(_mm256_castsi256_si128(a1)));
			acc32[2] = _mm256_add_epi32(acc32[2],
			    _mm256_cvtepi16_epi32(
			    _mm256_extracti128_si256(a0, 1)));
			acc32[3] = _mm256_add_epi32(acc32[3],
			    _mm256_cvtepi16_epi32(
			    _mm256_extracti128_si256(a1, 1)));
		}
		for (r = 0; r < 4; r++)
			_mm256_storeu_si256((__m256i *)(out + 8 * r),
			    acc32[r]);
		memcpy(y + 32 * t, out, sizeof out);
		wp += 8 * n;
	}
}

static void
bench_lut(size_t rows, size_t n)
{
	size_t rb = n / 4, i;
	uint8_t *w = xmalloc(rows * rb), *wp = xmalloc(rows * rb);
	uint8_t *tab = xmalloc(16 * n);
	int8_t *x = xmalloc(n);
	int32_t *y1 = xmalloc(rows * 4), *y2 = xmalloc(rows * 4);
	double t0, best = 1e30, t, total = 0;
	char what[64];

	fill_t2(w, rows * rb);
	for (i = 0; i < n; i++)
		x[i] = (int8_t)(rnd() & 0xff);
	lut_pack(w, rb, n, rows, wp);
	A->matvec_t2(w, rb, x, y1, n, rows);
	lut_matvec(wp, x, y2, n, rows, tab);
	if (memcmp(y1, y2, rows * 4) != 0)
		printf("LUT result differs from maddubs!\n");
	while (total < min_secs) {
		t0 = now();
		lut_matvec(wp, x, y2, n, rows, tab);
		t = now() - t0;
		total += t;
		best = t < best ? t : best;
	}
	snprintf(what, sizeof what, "matvec_t2 LUT %zux%zu", rows, n);
	printf("%-34s %-6s %9.3f ms %7.2f GB/s %8.2f GOP/s (tables incl.)\n",
	    what, "avx2", best * 1e3, (double)(rows * rb) / best * 1e-9,
	    2.0 * (double)rows * (double)n / best * 1e-9);
	free(w), free(wp), free(tab), free(x), free(y1), free(y2);
}

/* The same lookups for TB tokens at once: the indices of a step are
 * extracted once and looked up in each token's tables (T-MAC's matmul);
 * tab holds T tables of 16 n bytes. */
__attribute__((target("avx2")))
static void
lut_matmul(const uint8_t *wp, const int8_t *x, int32_t *y, size_t n,
    size_t rows, size_t T, uint8_t *tab)
{
	enum { TB = 4 };
	const __m256i m4 = _mm256_set1_epi8(0x0f);
	size_t t0, tile, s, s1, g, nt;
	int r, t;

	for (t0 = 0; t0 < T; t0++)
		lut_tables(x + t0 * n, n, tab + t0 * 16 * n);
	for (t0 = 0; t0 < T; t0 += TB) {
		nt = T - t0 < TB ? T - t0 : TB;
		for (tile = 0; tile < rows / 32; tile++) {
			const uint8_t *w = wp + tile * 8 * n;
			__m256i a0[TB], a1[TB], v, i0, i1, l, h, tl, th;
			int32_t acc[TB][32];

			memset(acc, 0, sizeof acc);
			for (s = 0; s < n / 4; s = s1) {
				s1 = s + 60 < n / 4 ? s + 60 : n / 4;
				_Pragma("GCC unroll 4")
				for (t = 0; t < TB; t++)
					a0[t] = a1[t] = _mm256_setzero_si256();
				for (; s < s1; s++) {
					v = _mm256_loadu_si256((const __m256i *)
					    (w + 32 * s));
					i0 = _mm256_and_si256(v, m4);
					i1 = _mm256_and_si256(
					    _mm256_srli_epi16(v, 4), m4);
					g = 2 * s;
					_Pragma("GCC unroll 4")
					for (t = 0; t < TB; t++) {
						const uint8_t *tb = tab +
						    (t0 + (size_t)t % nt) *
						    16 * n + 32 * g;

						tl = _mm256_broadcastsi128_si256(
						    _mm_loadu_si128((const
						    __m128i *)tb));
						th = _mm256_broadcastsi128_si256(
						    _mm_loadu_si128((const
						    __m128i *)(tb + 16)));
						l = _mm256_shuffle_epi8(tl, i0);
						h = _mm256_shuffle_epi8(th, i0);
						a0[t] = _mm256_add_epi16(a0[t],
						    _mm256_unpacklo_epi8(l, h));
						a1[t] = _mm256_add_epi16(a1[t],
						    _mm256_unpackhi_epi8(l, h));
						tl = _mm256_broadcastsi128_si256(
						    _mm_loadu_si128((const
						    __m128i *)(tb + 32)));
						th = _mm256_broadcastsi128_si256(
						    _mm_loadu_si128((const
						    __m128i *)(tb + 48)));
						l = _mm256_shuffle_epi8(tl, i1);
						h = _mm256_shuffle_epi8(th, i1);
						a0[t] = _mm256_add_epi16(a0[t],
						    _mm256_unpacklo_epi8(l, h));
						a1[t] = _mm256_add_epi16(a1[t],
						    _mm256_unpackhi_epi8(l, h));
					}
				}
				/* a0: rows 0-7 | 16-23, a1: rows 8-15 | 24-31 */
				for (t = 0; t < TB; t++) {
					int16_t u[32];
					int j;

					_mm256_storeu_si256((__m256i *)u, a0[t]);
					for (j = 0; j < 8; j++) {
						acc[t][j] += u[j];
						acc[t][16 + j] += u[8 + j];
					}
					_mm256_storeu_si256((__m256i *)u, a1[t]);
					for (j = 0; j < 8; j++) {
						acc[t][8 + j] += u[j];
						acc[t][24 + j] += u[8 + j];
					}
				}
			}
			for (t = 0; t < (int)nt; t++)
				for (r = 0; r < 32; r++)
					y[(t0 + (size_t)t) * rows + 32 * tile +
					    (size_t)r] = acc[t][r];
		}
	}
}

static void
bench_lut_mm(size_t rows, size_t n, size_t T)
{
	size_t rb = n / 4, i;
	uint8_t *w = xmalloc(rows * rb), *wp = xmalloc(rows * rb);
	uint8_t *tab = xmalloc(16 * n * T);
	int8_t *x = xmalloc(n * T);
	int32_t *y1 = xmalloc(rows * T * 4), *y2 = xmalloc(rows * T * 4);
	double t0, best = 1e30, t, total = 0;
	char what[64];

	fill_t2(w, rows * rb);
	for (i = 0; i < n * T; i++)
		x[i] = (int8_t)(rnd() & 0xff);
	lut_pack(w, rb, n, rows, wp);
	A->matmul_t2(w, rb, x, n, y1, rows, n, rows, T);
	lut_matmul(wp, x, y2, n, rows, T, tab);
	if (memcmp(y1, y2, rows * T * 4) != 0)
		printf("LUT result differs from maddubs!\n");
	while (total < min_secs) {
		t0 = now();
		lut_matmul(wp, x, y2, n, rows, T, tab);
		t = now() - t0;
		total += t;
		best = t < best ? t : best;
	}
	snprintf(what, sizeof what, "matmul_t2 LUT %zux%zu T=%zu", rows, n,
	    T);
	printf("%-34s %-6s %9.3f ms %7.2f GB/s %8.2f GOP/s (tables incl.)\n",
	    what, "avx2", best * 1e3, (double)(rows * rb) / best * 1e-9,
	    2.0 * (double)rows * (double)n * (double)T / best * 1e-9);
	free(w), free(wp), free(tab), free(x), free(y1), free(y2);
}
#endif

/* The avx512 table on job j (avx2 took s2 seconds; want: ref's y). */
static void
vs_avx512(const char *what, struct job *j, double wbytes, double s2,
    const void *want)
{
	size_t ny = j->rows * (j->kind == 1 ? j->T : 1) * 4;
	void *y = xmalloc(ny);
	double s;

	j->k = X5;
	j->y = y;
	s = report(what, j, wbytes);
	printf("%-34s      %9.2fx avx2's speed%s\n", "", s2 / s,
	    memcmp(y, want, ny) ? "  RESULTS DIFFER" : "");
	free(y);
}

static void
bench_t2(size_t rows, size_t n, size_t T, int have)
{
	size_t rb = n / 4, i;
	uint8_t *w = xmalloc(rows * rb);
	int8_t *x = xmalloc(n * T);
	int32_t *y1 = xmalloc(rows * T * 4), *y2 = xmalloc(rows * T * 4);
	struct job j = { .kind = T > 1, .w = w, .rb = rb, .n = n,
	    .rows = rows, .T = T, .x = x };
	char what[64];
	double s0, s1 = 0;

	fill_t2(w, rows * rb);
	for (i = 0; i < n * T; i++)
		x[i] = (int8_t)(rnd() & 0xff);
	snprintf(what, sizeof what, "%s %zux%zu", T > 1 ? "matmul_t2" :
	    "matvec_t2", rows, n);
	if (T > 1)
		snprintf(what + strlen(what), sizeof what - strlen(what),
		    " T=%zu", T);
	j.k = &bn_kernels_ref;
	j.y = y1;
	s0 = report(what, &j, (double)(rows * rb));
	if (have) {
		j.k = A;
		j.y = y2;
		s1 = report(what, &j, (double)(rows * rb));
		printf("%-34s      %9.1fx faster%s\n", "", s0 / s1,
		    memcmp(y1, y2, rows * T * 4) ? "  RESULTS DIFFER" : "");
	}
	if (have && X5 != NULL)
		vs_avx512(what, &j, (double)(rows * rb), s1, y1);
	free(w), free(x), free(y1), free(y2);
}

/* int8 x int8 (the compact head), one token */
static void
bench_i8(size_t rows, size_t n, int have)
{
	int8_t *w = xmalloc(rows * n), *x = xmalloc(n);
	int32_t *y1 = xmalloc(rows * 4), *y2 = xmalloc(rows * 4);
	struct job j = { .kind = 4, .w = w, .rb = n, .n = n, .rows = rows,
	    .T = 1, .x = x };
	char what[64];
	double s0, s1 = 0;
	size_t i;

	for (i = 0; i < rows * n; i++)
		w[i] = (int8_t)(rnd() & 0xff);
	for (i = 0; i < n; i++)
		x[i] = (int8_t)(rnd() & 0xff);
	snprintf(what, sizeof what, "matvec_i8 %zux%zu", rows, n);
	j.k = &bn_kernels_ref;
	j.y = y1;
	s0 = report(what, &j, (double)(rows * n));
	if (have) {
		j.k = A;
		j.y = y2;
		s1 = report(what, &j, (double)(rows * n));
		printf("%-34s      %9.1fx faster%s\n", "", s0 / s1,
		    memcmp(y1, y2, rows * 4) ? "  RESULTS DIFFER" : "");
	}
	if (have && X5 != NULL)
		vs_avx512(what, &j, (double)(rows * n), s1, y1);
	free(w), free(x), free(y1), free(y2);
}

static void
bench_f(int dtype, size_t rows, size_t n, size_t T, int have)
{
	size_t es = dtype == BN_DTYPE_F32 ? 4 : 2, rb = n * es, i;
	uint16_t *w = xmalloc(rows * rb);
	float *x = xmalloc(n * T * 4), *y1 = xmalloc(rows * T * 4);
	float *y2 = xmalloc(rows * T * 4);
	struct job j = { .kind = T > 1 ? 3 : 2, .dtype = dtype, .w = w,
	    .rb = rb, .n = n, .rows = rows, .T = T, .x = x };
	char what[64];
	double s0, s1;

	for (i = 0; i < rows * n; i++)
		w[i] = bn_f32_to_bf16((float)rnd() / (float)(1u << 24) - 0.5f);
	for (i = 0; i < n * T; i++)
		x[i] = (float)rnd() / (float)(1u << 24) - 0.5f;
	snprintf(what, sizeof what, "%s bf16 %zux%zu%s", T > 1 ? "matmul_f" :
	    "matvec_f", rows, n, T > 1 ? " T=64" : "");
	j.k = &bn_kernels_ref;
	j.y = y1;
	s0 = report(what, &j, (double)(rows * rb));
	if (have) {
		j.k = A;
		j.y = y2;
		s1 = report(what, &j, (double)(rows * rb));
		printf("%-34s      %9.1fx faster%s\n", "", s0 / s1,
		    memcmp(y1, y2, rows * T * 4) ? "  RESULTS DIFFER" : "");
	}
	free(w), free(x), free(y1), free(y2);
}

int
main(int argc, char *argv[])
{
	int have;

	if (argc > 1)
		min_secs = atof(argv[1]);
	if (bn_kernels_init("avx512") == 0)
		X5 = bn_k;
	have = bn_kernels_init("avx2") == 0;
	A = bn_k;
	if (!have)
		printf("no AVX2 on this CPU: ref only\n");
	bench_t2(6912, 2560, 1, have);
	bench_t2(6912 * 32, 2560, 1, have);
	bench_f(BN_DTYPE_F16, 6912 * 32, 2560, 1, have);
	bench_t2(2560, 6912, 1, have);
	bench_i8(128256, 2560, have);	/* the 2B-4T head */
#ifdef HAVE_LUT
	if (have) {
		bench_lut(6912, 2560);
		bench_lut(2560, 6912);
	}
#endif
	/* a batch of 4 sequences (bnserve's step), the weights from
	 * memory: its time against one token's (6912x32 above) */
	bench_t2(6912 * 32, 2560, 4, have);
	bench_t2(6912, 2560, 64, have);
	/* the 2B-4T projections at bench/run-vs-llamacpp's prompt length */
	bench_t2(2560, 2560, 128, have);
	bench_t2(6912, 2560, 128, have);
	bench_t2(2560, 6912, 128, have);
#ifdef HAVE_LUT
	if (have) {
		bench_lut_mm(2560, 2560, 128);
		bench_lut_mm(6912, 2560, 128);
		bench_lut_mm(2560, 6912, 128);
	}
#endif
	bench_f(BN_DTYPE_BF16, 6912, 2560, 1, have);
	bench_f(BN_DTYPE_BF16, 2560, 2560, 64, have);
	return 0;
}
