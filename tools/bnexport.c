/* bnexport: write a bnt(5) model in the formats its runtimes load:
 * GGUF for llama.cpp, ONNX for ONNX Runtime, a Hugging Face directory
 * for transformers. */
#include <archive.h>
#include <archive_entry.h>
#include <dirent.h>
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sysexits.h>
#include <unistd.h>

#include "bnt.h"
#include "dtype.h"
#include "err.h"
#include "export.h"
#include "kernels.h"
#include "kpick.h"
#include "parse.h"
#include "status.h"
#include "version.h"
#include "xio.h"

enum { OPT_ALLOW_NONFINITE = 256, OPT_FALLBACK, OPT_FLOAT, OPT_FORCE,
    OPT_KV_CACHE, OPT_SHARD_SIZE };
enum { FMT_NONE, FMT_GGUF, FMT_HF, FMT_ONNX };

struct opts {
	const char *input, *output;
	int format;
	int ternary, fallback, floats;	/* enum bn_gguf_type; floats also hf */
	int quant_set;
	int packing, kv_cache;		/* onnx */
	int fallback_set;
	unsigned long long shard;
	int force, verbose;
	int nonfinite;			/* --allow-nonfinite */
};

static const char shortopts[] = "F:ho:q:vV";
static const struct option longopts[] = {
	{ "allow-nonfinite", no_argument,	NULL,	OPT_ALLOW_NONFINITE },
	{ "fallback",	required_argument,	NULL,	OPT_FALLBACK },
	{ "float",	required_argument,	NULL,	OPT_FLOAT },
	{ "force",	no_argument,		NULL,	OPT_FORCE },
	{ "format",	required_argument,	NULL,	'F' },
	{ "help",	no_argument,		NULL,	'h' },
	{ "kv-cache",	no_argument,		NULL,	OPT_KV_CACHE },
	{ "output",	required_argument,	NULL,	'o' },
	{ "quant",	required_argument,	NULL,	'q' },
	{ "shard-size",	required_argument,	NULL,	OPT_SHARD_SIZE },
	{ "verbose",	no_argument,		NULL,	'v' },
	{ "version",	no_argument,		NULL,	'V' },
	{ NULL,		0,			NULL,	0 }
};

static _Noreturn void
usage(FILE *fp, int status)
{
	fprintf(fp, "usage: %s -F gguf|onnx|hf [-v] [-q type] [--fallback "
	    "q8_0|f16] [--float type] [--kv-cache] [--shard-size n] [--force] "
	    "[--allow-nonfinite] [-o out] [file]\n", bn_progname);
	if (fp == stdout)
		fputs("Export a bnt(5) model for llama.cpp, ONNX Runtime or "
		    "transformers;\nsee bnexport(1).\n"
		    "  -F, --format FMT   gguf (llama.cpp), onnx (ONNX "
		    "Runtime) or hf (a Hugging\n"
		    "                     Face directory)\n"
		    "  -o, --output OUT   gguf, onnx: a file (default: "
		    "standard output);\n"
		    "                     hf: a directory, or NAME.tar.zst "
		    "(required)\n"
		    "  -q, --quant TYPE   ternary tensors: gguf: tq2_0 "
		    "(default) or tq1_0;\n"
		    "                     onnx: int2mm (INT2 weights, "
		    "MatMulInteger; default),\n"
		    "                     nbits (MatMulNBits) or int2 "
		    "(DequantizeLinear)\n"
		    "  -v, --verbose      report each file on standard error\n"
		    "      --allow-nonfinite  export NaN, infinity and invalid "
		    "scales\n"
		    "      --fallback T   gguf ternary rows not a multiple of "
		    "256: q8_0 (default)\n"
		    "                     or f16\n"
		    "      --float TYPE   2-D float tensors: keep (default), "
		    "f32, f16, bf16,\n"
		    "                     q8_0 (gguf only)\n"
		    "      --force        binary data to or from a terminal\n"
		    "      --kv-cache     onnx: past/present key and value "
		    "inputs and outputs\n"
		    "      --shard-size N hf: split model.safetensors past N "
		    "bytes (K, M, G)\n"
		    "  -h, --help         show this help\n"
		    "  -V, --version      show the version\n", fp);
	exit(status);
}

static int
float_type(const char *s)
{
	if (strcmp(s, "keep") == 0)
		return BN_GGUF_KEEP;
	if (strcmp(s, "f32") == 0)
		return BN_GGUF_F32;
	if (strcmp(s, "f16") == 0)
		return BN_GGUF_F16;
	if (strcmp(s, "bf16") == 0)
		return BN_GGUF_BF16;
	if (strcmp(s, "q8_0") == 0)
		return BN_GGUF_Q8_0;
	return -2;
}

/* "4096", "512K", "2M", "5G" */
static int
parse_size(const char *s, unsigned long long *v)
{
	unsigned long long x = 0, mul = 1;
	const char *p = s;

	if (*p < '0' || *p > '9')
		return -1;
	for (; *p >= '0' && *p <= '9'; p++) {
		if (x > (UINT64_MAX - 9) / 10)
			return -1;
		x = x * 10 + (unsigned long long)(*p - '0');
	}
	if (*p == 'K' || *p == 'k')
		mul = 1ull << 10;
	else if (*p == 'M' || *p == 'm')
		mul = 1ull << 20;
	else if (*p == 'G' || *p == 'g')
		mul = 1ull << 30;
	if (mul != 1)
		p++;
	if (*p != '\0' || x == 0 || x > UINT64_MAX / mul)
		return -1;
	*v = x * mul;
	return 0;
}

static void
parse_args(int argc, char *argv[], struct opts *o)
{
	int ch, t;

	argv[0] = (char *)bn_progname;
	while ((ch = getopt_long(argc, argv, shortopts, longopts, NULL)) != -1)
		switch (ch) {
		case 'F':
			if (strcmp(optarg, "gguf") == 0)
				o->format = FMT_GGUF;
			else if (strcmp(optarg, "hf") == 0)
				o->format = FMT_HF;
			else if (strcmp(optarg, "onnx") == 0)
				o->format = FMT_ONNX;
			else {
				bn_warnx("-F: invalid format '%s'", optarg);
				usage(stderr, EX_USAGE);
			}
			break;
		case OPT_ALLOW_NONFINITE: o->nonfinite = 1; break;
		case OPT_FALLBACK:
			o->fallback_set = 1;
			if (strcmp(optarg, "q8_0") == 0)
				o->fallback = BN_GGUF_Q8_0;
			else if (strcmp(optarg, "f16") == 0)
				o->fallback = BN_GGUF_F16;
			else {
				bn_warnx("--fallback: invalid type '%s'",
				    optarg);
				usage(stderr, EX_USAGE);
			}
			break;
		case OPT_FLOAT:
			if ((t = float_type(optarg)) == -2) {
				bn_warnx("--float: invalid type '%s'", optarg);
				usage(stderr, EX_USAGE);
			}
			o->floats = t;
			break;
		case OPT_FORCE: o->force = 1; break;
		case OPT_KV_CACHE: o->kv_cache = 1; break;
		case OPT_SHARD_SIZE:
			if (parse_size(optarg, &o->shard) != 0) {
				bn_warnx("--shard-size: invalid size '%s'",
				    optarg);
				usage(stderr, EX_USAGE);
			}
			break;
		case 'h': usage(stdout, EXIT_SUCCESS);
		case 'o': o->output = optarg; break;
		case 'q':
			if (strcmp(optarg, "tq2_0") == 0)
				o->ternary = BN_GGUF_TQ2_0;
			else if (strcmp(optarg, "tq1_0") == 0)
				o->ternary = BN_GGUF_TQ1_0;
			else if (strcmp(optarg, "nbits") == 0)
				o->packing = BN_ONNX_NBITS;
			else if (strcmp(optarg, "int2") == 0)
				o->packing = BN_ONNX_DQ_INT2;
			else if (strcmp(optarg, "int2mm") == 0)
				o->packing = BN_ONNX_INT2_MMI;
			else {
				bn_warnx("-q: invalid type '%s'", optarg);
				usage(stderr, EX_USAGE);
			}
			o->quant_set = 1;
			break;
		case 'v': o->verbose++; break;
		case 'V':
			bn_print_version(stdout);
			exit(EXIT_SUCCESS);
		default: usage(stderr, EX_USAGE);
		}
	if (o->format == FMT_NONE || argc - optind > 1)
		usage(stderr, EX_USAGE);
	o->input = optind < argc ? argv[optind] : "-";
	if (o->quant_set && (o->format == FMT_ONNX) != (o->packing != 0)) {
		bn_warnx("-q: type not for -F %s", o->format == FMT_GGUF ?
		    "gguf" : o->format == FMT_ONNX ? "onnx" : "hf");
		usage(stderr, EX_USAGE);
	}
	if (o->format == FMT_ONNX && (o->floats != BN_GGUF_KEEP ||
	    o->fallback_set)) {
		bn_warnx("--float, --fallback: not with -F onnx");
		usage(stderr, EX_USAGE);
	}
	if (o->kv_cache && o->format != FMT_ONNX) {
		bn_warnx("--kv-cache: only with -F onnx");
		usage(stderr, EX_USAGE);
	}
	if (o->format == FMT_HF) {
		if (o->output == NULL || strcmp(o->output, "-") == 0) {
			bn_warnx("-F hf: needs -o DIR or -o NAME.tar.zst");
			usage(stderr, EX_USAGE);
		}
		if (o->quant_set) {
			bn_warnx("-q: only with -F gguf");
			usage(stderr, EX_USAGE);
		}
		if (o->floats == BN_GGUF_Q8_0) {
			bn_warnx("--float: q8_0 only with -F gguf");
			usage(stderr, EX_USAGE);
		}
	} else if (o->shard != 0) {
		bn_warnx("--shard-size: only with -F hf");
		usage(stderr, EX_USAGE);
	}
}

static void
notice(void *ctx, const char *msg)
{
	bn_warnx("%s: %s", (const char *)ctx, msg);
}

/* The input as a mapped file.  A pipe, or anything that is not a
 * regular file, is first copied to a temporary file (removed on exit
 * and on signals, as xio.h says, and once mapped). */
static void
open_model(const struct opts *o, struct bnt_map *m, const char *name)
{
	struct bn_err e = { "" };
	const char *path = o->input, *dir;
	char buf[1 << 16], *spool_path = NULL;
	struct stat sb;
	size_t n;
	FILE *in, *sp;
	int fd, st;

	if (strcmp(path, "-") == 0 || stat(path, &sb) != 0 ||
	    !S_ISREG(sb.st_mode)) {
		in = bn_open_in(path, 1, o->force);
		if ((dir = getenv("TMPDIR")) == NULL || *dir == '\0')
			dir = "/tmp";
		n = strlen(dir) + sizeof "/bnexport.XXXXXX";
		if ((spool_path = malloc(n)) == NULL)
			bn_errx(EX_OSERR, "out of memory");
		snprintf(spool_path, n, "%s/bnexport.XXXXXX", dir);
		if ((fd = bn_tmp_mkstemp(spool_path)) < 0)
			bn_err(EX_CANTCREAT, "%s", spool_path);
		if ((sp = fdopen(fd, "wb")) == NULL)
			bn_err(EX_OSERR, "%s", spool_path);
		while ((n = fread(buf, 1, sizeof buf, in)) > 0)
			if (fwrite(buf, 1, n, sp) != n)
				bn_err(EX_IOERR, "%s", spool_path);
		if (ferror(in))
			bn_err(EX_IOERR, "%s", name);
		if (fclose(sp) != 0)
			bn_err(EX_IOERR, "%s", spool_path);
		if (in != stdin)
			fclose(in);
		path = spool_path;
	} else if (access(path, R_OK) != 0)
		bn_err(EX_NOINPUT, "%s", name);
	else
		bn_note_input(path);
	if ((st = bnt_map_open(m, path, o->nonfinite ? BNT_MAP_NONFINITE : 0,
	    &e)) != BN_OK)
		bn_errx(bn_exit_code(st), "%s: %s", name, e.msg);
	if (spool_path != NULL) {
		unlink(spool_path);
		bn_tmp_forget(spool_path);
		free(spool_path);
	}
}

static void
export_gguf(const struct opts *o, const struct bnt_map *m, const char *name)
{
	struct bn_gguf_opts go;
	struct bn_err e = { "" };
	struct bn_out out;
	int st;

	bn_gguf_opts_init(&go);
	go.ternary = o->ternary;
	go.fallback = o->fallback;
	go.floats = o->floats;
	go.notice = notice;
	go.ctx = (void *)name;
	bn_out_open(&out, o->output, 1, o->force);
	if ((st = bn_export_gguf_opts(m, out.fp, &go, &e)) != BN_OK) {
		bn_out_abort(&out);
		bn_errx(bn_exit_code(st), "%s: %s", st == BN_EIO ? out.name :
		    name, e.msg);
	}
	bn_out_close(&out);
}

static void
export_onnx(const struct opts *o, const struct bnt_map *m, const char *name)
{
	struct bn_onnx_opts oo;
	struct bn_err e = { "" };
	struct bn_out out;
	int st;

	memset(&oo, 0, sizeof oo);
	oo.kv_cache = o->kv_cache;
	oo.packing = o->packing;
	bn_out_open(&out, o->output, 1, o->force);
	if ((st = bn_export_onnx(m, out.fp, &oo, &e)) != BN_OK) {
		bn_out_abort(&out);
		bn_errx(bn_exit_code(st), "%s: %s", st == BN_EIO ? out.name :
		    name, e.msg);
	}
	bn_out_close(&out);
}

/* Hugging Face outputs: a directory written under a temporary name and
 * renamed, or one tar.zst archive through libarchive. */
struct hf_out {
	const char *name;	/* -o as given */
	int verbose;
	/* directory */
	char *dir;		/* -o, links followed, no trailing '/' */
	char *tmpdir;		/* noted by bn_tmp_mkdtemp */
	int fill;		/* dir exists (empty): tmpdir is inside */
	char **files;		/* names written, for fill */
	size_t nfiles;
	FILE *fp;
	char *buf;		/* fp's buffer */
	char *cur;		/* path of the file being written */
	/* archive */
	struct bn_out out;
	struct archive *a;
	char *prefix;		/* "NAME/" inside the archive */
};

static int
dir_begin(void *ctx, const char *file, uint64_t size, struct bn_err *e)
{
	struct hf_out *h = ctx;
	size_t n = strlen(h->tmpdir) + strlen(file) + 2;
	char **nf;

	(void)size;
	free(h->cur);
	if ((h->cur = malloc(n)) == NULL)
		return bn_seterr(e, BN_ENOMEM, "out of memory");
	snprintf(h->cur, n, "%s/%s", h->tmpdir, file);
	if ((nf = realloc(h->files, (h->nfiles + 1) * sizeof *nf)) == NULL)
		return bn_seterr(e, BN_ENOMEM, "out of memory");
	h->files = nf;
	if ((h->files[h->nfiles] = strdup(file)) == NULL)
		return bn_seterr(e, BN_ENOMEM, "out of memory");
	h->nfiles++;
	bn_tmp_note(h->cur);
	if ((h->fp = fopen(h->cur, "wb")) == NULL)
		return bn_seterr(e, BN_ECANTCREAT, "%s: %s", file,
		    strerror(errno));
	h->buf = bn_outbuf(h->fp);
	if (h->verbose)
		bn_warnx("%s/%s: %llu bytes", h->name, file,
		    (unsigned long long)size);
	return BN_OK;
}

static int
dir_write(void *ctx, const void *p, size_t n, struct bn_err *e)
{
	struct hf_out *h = ctx;

	if (n && fwrite(p, 1, n, h->fp) != n)
		return bn_seterr(e, BN_EIO, "%s", strerror(errno));
	return BN_OK;
}

static int
dir_end(void *ctx, struct bn_err *e)
{
	struct hf_out *h = ctx;
	int bad = fflush(h->fp) != 0 || ferror(h->fp);

	if (fclose(h->fp) != 0)
		bad = 1;
	h->fp = NULL;
	free(h->buf);
	h->buf = NULL;
	if (bad)
		return bn_seterr(e, BN_EIO, "%s", strerror(errno));
	return BN_OK;
}

static int
arc_begin(void *ctx, const char *file, uint64_t size, struct bn_err *e)
{
	struct hf_out *h = ctx;
	struct archive_entry *ent;
	size_t n = strlen(h->prefix) + strlen(file) + 1;
	char *path;
	int r;

	if ((path = malloc(n)) == NULL || (ent = archive_entry_new()) ==
	    NULL) {
		free(path);
		return bn_seterr(e, BN_ENOMEM, "out of memory");
	}
	snprintf(path, n, "%s%s", h->prefix, file);
	archive_entry_set_pathname(ent, path);
	archive_entry_set_size(ent, (la_int64_t)size);
	archive_entry_set_filetype(ent, AE_IFREG);
	archive_entry_set_perm(ent, 0644);
	r = archive_write_header(h->a, ent);
	archive_entry_free(ent);
	free(path);
	if (r != ARCHIVE_OK)
		return bn_seterr(e, BN_EIO, "%s", archive_error_string(h->a));
	if (h->verbose)
		bn_warnx("%s: %s%s: %llu bytes", h->name, h->prefix, file,
		    (unsigned long long)size);
	return BN_OK;
}

static int
arc_write(void *ctx, const void *p, size_t n, struct bn_err *e)
{
	struct hf_out *h = ctx;
	la_ssize_t w;

	while (n > 0) {
		w = archive_write_data(h->a, p, n);
		if (w <= 0)
			return bn_seterr(e, BN_EIO, "%s",
			    archive_error_string(h->a));
		p = (const char *)p + w;
		n -= (size_t)w;
	}
	return BN_OK;
}

static int
arc_end(void *ctx, struct bn_err *e)
{
	struct hf_out *h = ctx;

	if (archive_write_finish_entry(h->a) != ARCHIVE_OK)
		return bn_seterr(e, BN_EIO, "%s", archive_error_string(h->a));
	return BN_OK;
}

/* -o DIR: the directory it names, without trailing slashes, its links
 * followed (malloc'd). */
static char *
dir_target(const char *out)
{
	size_t n = strlen(out);
	char *p, *t;

	while (n > 1 && out[n - 1] == '/')
		n--;
	if ((p = malloc(n + 1)) == NULL)
		bn_errx(EX_OSERR, "out of memory");
	memcpy(p, out, n);
	p[n] = '\0';
	if ((t = bn_out_target(p)) == NULL)
		return p;
	free(p);
	return t;
}

/* The temporary directory the files are written in: beside a new
 * directory, which it then becomes, or inside an existing empty one,
 * which it fills (git clone takes the same two); a directory that is
 * not empty is refused. */
static void
dir_open(struct hf_out *h, const char *out)
{
	struct dirent *d;
	struct stat sb;
	size_t n;
	DIR *dp;
	int empty = 1;

	h->dir = dir_target(out);
	if (stat(h->dir, &sb) == 0) {
		if (!S_ISDIR(sb.st_mode))
			bn_errx(EX_CANTCREAT, "%s: exists and is not a "
			    "directory", out);
		if ((dp = opendir(h->dir)) == NULL)
			bn_err(EX_CANTCREAT, "%s", out);
		while ((d = readdir(dp)) != NULL)
			if (strcmp(d->d_name, ".") != 0 &&
			    strcmp(d->d_name, "..") != 0)
				empty = 0;
		closedir(dp);
		if (!empty)
			bn_errx(EX_CANTCREAT, "%s: directory is not empty",
			    out);
		h->fill = 1;
	}
	n = strlen(h->dir) + sizeof "/.tmp.XXXXXX";
	if ((h->tmpdir = malloc(n)) == NULL)
		bn_errx(EX_OSERR, "out of memory");
	if (h->fill)
		snprintf(h->tmpdir, n, "%s/.tmp.XXXXXX", h->dir);
	else
		snprintf(h->tmpdir, n, "%s.tmp.XXXXXX", h->dir);
	if (bn_tmp_mkdtemp(h->tmpdir) == NULL)
		bn_err(EX_CANTCREAT, "%s", out);
	if (!h->fill)
		chmod(h->tmpdir, 0755 & ~umask(umask(0)));
}

/* All written: the temporary directory becomes -o, or its files move
 * into -o (with the signals that remove temporaries held back, so that
 * it is filled whole). */
static void
dir_close(struct hf_out *h, const char *out)
{
	static const int sigs[] = { SIGHUP, SIGINT, SIGPIPE, SIGTERM };
	char from[4096], to[4096];
	sigset_t set, old;
	size_t i;

	if (!h->fill) {
		if (rename(h->tmpdir, h->dir) != 0)
			bn_err(EX_CANTCREAT, "%s", out);
		bn_tmp_forget(h->tmpdir);
		return;
	}
	sigemptyset(&set);
	for (i = 0; i < sizeof sigs / sizeof sigs[0]; i++)
		sigaddset(&set, sigs[i]);
	sigprocmask(SIG_BLOCK, &set, &old);
	for (i = 0; i < h->nfiles; i++) {
		if ((size_t)snprintf(from, sizeof from, "%s/%s", h->tmpdir,
		    h->files[i]) >= sizeof from || (size_t)snprintf(to,
		    sizeof to, "%s/%s", h->dir, h->files[i]) >= sizeof to) {
			errno = ENAMETOOLONG;
			bn_err(EX_CANTCREAT, "%s", out);
		}
		if (rename(from, to) != 0)
			bn_err(EX_CANTCREAT, "%s/%s", out, h->files[i]);
	}
	if (rmdir(h->tmpdir) != 0)
		bn_err(EX_CANTCREAT, "%s", h->tmpdir);
	bn_tmp_forget(h->tmpdir);
	sigprocmask(SIG_SETMASK, &old, NULL);
}

static void
export_hf(const struct opts *o, const struct bnt_map *m, const char *name)
{
	struct bn_hf_opts ho;
	struct bn_hf_sink s;
	struct bn_err e = { "" };
	struct hf_out h;
	const char *base;
	size_t n;
	int st, arc;

	memset(&h, 0, sizeof h);
	h.name = o->output;
	h.verbose = o->verbose;
	bn_hf_opts_init(&ho);
	ho.floats = o->floats == BN_GGUF_KEEP ? BN_HF_KEEP :
	    o->floats == BN_GGUF_F32 ? BN_DTYPE_F32 :
	    o->floats == BN_GGUF_F16 ? BN_DTYPE_F16 : BN_DTYPE_BF16;
	ho.shard_size = o->shard;
	ho.notice = notice;
	ho.ctx = (void *)name;
	arc = bn_has_suffix(o->output, ".tar.zst");
	s.ctx = &h;
	if (arc) {
		base = strrchr(o->output, '/');
		base = base != NULL ? base + 1 : o->output;
		n = strlen(base) - strlen(".tar.zst");
		/* members are STEM/FILE: no "../" */
		if (n == 0 || strncmp(base, ".", n) == 0 ||
		    strncmp(base, "..", n) == 0)
			bn_errx(EX_USAGE, "%s: archive name without a stem",
			    o->output);
		if ((h.prefix = malloc(n + 2)) == NULL)
			bn_errx(EX_OSERR, "out of memory");
		memcpy(h.prefix, base, n);
		memcpy(h.prefix + n, "/", 2);
		bn_out_open(&h.out, o->output, 1, o->force);
		if ((h.a = archive_write_new()) == NULL)
			bn_errx(EX_OSERR, "out of memory");
		if (archive_write_add_filter_zstd(h.a) != ARCHIVE_OK ||
		    archive_write_set_format_pax_restricted(h.a) !=
		    ARCHIVE_OK ||
		    archive_write_set_bytes_in_last_block(h.a, 1) !=
		    ARCHIVE_OK || archive_write_open_FILE(h.a, h.out.fp) !=
		    ARCHIVE_OK) {
			bn_out_abort(&h.out);
			bn_errx(EX_UNAVAILABLE, "%s: %s", o->output,
			    archive_error_string(h.a));
		}
		s.begin = arc_begin;
		s.write = arc_write;
		s.end = arc_end;
	} else {
		bn_out_check(o->output);
		dir_open(&h, o->output);
		s.begin = dir_begin;
		s.write = dir_write;
		s.end = dir_end;
	}
	st = bn_export_hf(m, &ho, &s, &e);
	if (arc) {
		if (st == BN_OK && archive_write_close(h.a) != ARCHIVE_OK)
			st = bn_seterr(&e, BN_EIO, "%s",
			    archive_error_string(h.a));
		archive_write_free(h.a);
		if (st != BN_OK) {
			bn_out_abort(&h.out);
			bn_errx(bn_exit_code(st), "%s: %s", st == BN_EIO ||
			    st == BN_ECANTCREAT ? o->output : name, e.msg);
		}
		bn_out_close(&h.out);
		free(h.prefix);
		return;
	}
	if (st != BN_OK)
		bn_errx(bn_exit_code(st), "%s: %s", st == BN_EIO ||
		    st == BN_ECANTCREAT ? o->output : name, e.msg);
	dir_close(&h, o->output);
	for (n = 0; n < h.nfiles; n++)
		free(h.files[n]);
	free(h.files);
	free(h.dir);
	free(h.tmpdir);
	free(h.cur);
}

int
main(int argc, char *argv[])
{
	struct opts o = { .ternary = BN_GGUF_TQ2_0, .fallback = BN_GGUF_Q8_0,
	    .floats = BN_GGUF_KEEP };
	struct bnt_map m;
	const char *name;

	bn_setprogname(argv[0]);
	parse_args(argc, argv, &o);
	bn_kernels_pick();
	name = bn_display_name(o.input);
	open_model(&o, &m, name);
	if (o.format == FMT_GGUF)
		export_gguf(&o, &m, name);
	else if (o.format == FMT_ONNX)
		export_onnx(&o, &m, name);
	else
		export_hf(&o, &m, name);
	bnt_map_close(&m);
	bn_close_stdout();
	return 0;
}
