/* bnpack: import a checkpoint (HF directory, safetensors, GGUF, PyTorch,
 * NumPy, tar bundle or bnt) and write it as a bnt(5) stream. */
#include <getopt.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <unistd.h>

#include "bnt.h"
#include "config.h"
#include "dtype.h"
#include "err.h"
#include "import.h"
#include "mem.h"
#include "parse.h"
#include "version.h"
#include "xio.h"

enum { OPT_DTYPE = 256, OPT_EXCLUDE, OPT_FORCE, OPT_INCLUDE, OPT_ZSTD };

struct opts {
	const char *input;
	const char *output;	/* -o: NULL or "-" means stdout */
	int dtype;		/* --dtype: -1 keeps */
	regex_t include, exclude;
	int has_include, has_exclude;
	int force;
	int list;		/* -l */
	int verbose;
	int zlevel;		/* --zstd: 0 none */
};

struct listrow {
	char *name, *dtype, *shape;
	unsigned long long bytes;
};

struct packer {
	const struct opts *o;
	struct bnt_writer *w;
	struct bn_out out;
	struct listrow *rows;
	size_t nrows, caprows;
	unsigned long long ntensors, nbytes;
	struct bn_kv cfg, vkv;	/* the config, the tokenizer's metadata */
	uint64_t n_tokens;	/* and its token count */
	int has_cfg, has_vocab;
	struct bn_err err;	/* the sink's own failure */
};

static const char shortopts[] = "hlo:vV";
static const struct option longopts[] = {
	{ "dtype",	required_argument,	NULL,	OPT_DTYPE },
	{ "exclude",	required_argument,	NULL,	OPT_EXCLUDE },
	{ "force",	no_argument,		NULL,	OPT_FORCE },
	{ "help",	no_argument,		NULL,	'h' },
	{ "include",	required_argument,	NULL,	OPT_INCLUDE },
	{ "list",	no_argument,		NULL,	'l' },
	{ "output",	required_argument,	NULL,	'o' },
	{ "verbose",	no_argument,		NULL,	'v' },
	{ "version",	no_argument,		NULL,	'V' },
	{ "zstd",	optional_argument,	NULL,	OPT_ZSTD },
	{ NULL,		0,			NULL,	0 }
};

static _Noreturn void
usage(FILE *fp, int status)
{
	fprintf(fp, "usage: %s [-lv] [-o file] [--force] [--zstd[=level]] "
	    "[--dtype keep|f32|f16|bf16] [--include regex] [--exclude regex] "
	    "input\n", bn_progname);
	if (fp == stdout)
		fputs("Import a checkpoint and write it as a bnt(5) stream.\n"
		    "  -l, --list         list tensors (name, dtype, shape, "
		    "bytes); write nothing\n"
		    "  -o, --output FILE  write FILE (default: standard "
		    "output)\n"
		    "  -v, --verbose      report each tensor on standard "
		    "error\n"
		    "      --dtype TYPE   convert float tensors: keep, f32, "
		    "f16 or bf16\n"
		    "      --exclude RE   drop tensors whose name matches RE\n"
		    "      --force        write binary data to a terminal\n"
		    "      --include RE   keep only tensors whose name "
		    "matches RE\n"
		    "      --zstd[=N]     compress payloads with zstd (level "
		    "1-19, default 3)\n"
		    "  -h, --help         show this help\n"
		    "  -V, --version      show the version\n", fp);
	exit(status);
}

static void
compile_re(regex_t *re, const char *s, const char *opt)
{
	char msg[128];
	int rc;

	if ((rc = regcomp(re, s, REG_EXTENDED | REG_NOSUB)) != 0) {
		regerror(rc, re, msg, sizeof msg);
		bn_warnx("%s: invalid regex '%s': %s", opt, s, msg);
		usage(stderr, EX_USAGE);
	}
}

static void
parse_args(int argc, char *argv[], struct opts *o)
{
	unsigned lvl;
	int ch;

	argv[0] = (char *)bn_progname;
	while ((ch = getopt_long(argc, argv, shortopts, longopts, NULL)) != -1)
		switch (ch) {
		case OPT_DTYPE:
			if (strcmp(optarg, "keep") == 0)
				o->dtype = -1;
			else if (strcmp(optarg, "f32") == 0 ||
			    strcmp(optarg, "f16") == 0 ||
			    strcmp(optarg, "bf16") == 0)
				o->dtype = bn_dtype_from_name(optarg);
			else {
				bn_warnx("--dtype: invalid type '%s'", optarg);
				usage(stderr, EX_USAGE);
			}
			break;
		case OPT_EXCLUDE:
			if (o->has_exclude)
				regfree(&o->exclude);
			compile_re(&o->exclude, optarg, "--exclude");
			o->has_exclude = 1;
			break;
		case OPT_FORCE:
			o->force = 1;
			break;
		case OPT_INCLUDE:
			if (o->has_include)
				regfree(&o->include);
			compile_re(&o->include, optarg, "--include");
			o->has_include = 1;
			break;
		case OPT_ZSTD:
			o->zlevel = 3;
			if (optarg != NULL) {
				if (bn_parse_uint(optarg, 1, 19, &lvl) != 0) {
					bn_warnx("--zstd: invalid level '%s'",
					    optarg);
					usage(stderr, EX_USAGE);
				}
				o->zlevel = (int)lvl;
			}
			break;
		case 'h':
			usage(stdout, EXIT_SUCCESS);
		case 'l':
			o->list = 1;
			break;
		case 'o':
			o->output = optarg;
			break;
		case 'v':
			o->verbose++;
			break;
		case 'V':
			bn_print_version(stdout);
			exit(EXIT_SUCCESS);
		default:
			usage(stderr, EX_USAGE);
		}
	argc -= optind;
	argv += optind;
	if (argc != 1)
		usage(stderr, EX_USAGE);
	o->input = argv[0];
}

static int
copy_kv(struct packer *p, struct bn_kv *to, const struct bn_kv *from)
{
	size_t i;

	bn_kv_free(to);
	for (i = 0; i < from->n; i++)
		if (bn_kv_set(to, from->v[i].key, from->v[i].val) != 0)
			return bn_seterr(&p->err, BN_ENOMEM, "out of memory");
	return BN_OK;
}

/* The rules of common/config.c, as bnverify and the loaders apply
 * them, before the record is written: the config, the tokenizer, and
 * the two together once both have come. */
static int
check_records(struct packer *p)
{
	if (p->has_cfg && bn_config_check(&p->cfg, &p->err) != BN_OK)
		return BN_EFORMAT;
	if (p->has_vocab && bn_config_check_vocab(p->has_cfg ? &p->cfg :
	    NULL, &p->vkv, p->n_tokens, &p->err) != BN_OK)
		return BN_EFORMAT;
	return BN_OK;
}

static int
sink_config(void *ctx, const struct bn_kv *kv)
{
	struct packer *p = ctx;
	int st;

	if (p->o->list)
		return BN_OK;
	if ((st = copy_kv(p, &p->cfg, kv)) != BN_OK)
		return st;
	p->has_cfg = 1;
	if ((st = check_records(p)) != BN_OK)
		return st;
	if (bnt_write_config(p->w, kv) == BN_OK)
		return BN_OK;
	return bn_seterr(&p->err, BN_EIO, "%s", bnt_writer_error(p->w));
}

static int
sink_vocab(void *ctx, const struct bn_vocab *v)
{
	struct packer *p = ctx;
	int st;

	if (p->o->list)
		return BN_OK;
	if ((st = copy_kv(p, &p->vkv, &v->kv)) != BN_OK)
		return st;
	p->n_tokens = v->n_tokens;
	p->has_vocab = 1;
	if ((st = check_records(p)) != BN_OK)
		return st;
	if (bnt_write_tokenizer(p->w, v) == BN_OK)
		return BN_OK;
	return bn_seterr(&p->err, BN_EIO, "%s", bnt_writer_error(p->w));
}

static int
add_row(struct packer *p, const struct bnt_tensor *t)
{
	struct listrow *r;
	char shape[256];

	if (bn_grow(&p->rows, &p->caprows, p->nrows + 1, sizeof *p->rows) != 0)
		return bn_seterr(&p->err, BN_ENOMEM, "out of memory");
	r = &p->rows[p->nrows];
	r->name = strdup(t->name);
	r->dtype = strdup(bn_dtype_traits(t->dtype)->name);
	r->shape = strdup(bnt_shape_str(t, shape, sizeof shape));
	r->bytes = (unsigned long long)t->raw_len;
	if (r->name == NULL || r->dtype == NULL || r->shape == NULL)
		return bn_seterr(&p->err, BN_ENOMEM, "out of memory");
	p->nrows++;
	return BN_OK;
}

static int
sink_tensor(void *ctx, const struct bnt_tensor *in, const void *data,
    const void *scales)
{
	struct packer *p = ctx;
	const struct opts *o = p->o;
	struct bnt_tensor t = *in;
	void *conv = NULL;
	float *row = NULL;
	uint64_t r;
	int st;

	if (o->has_include && regexec(&o->include, t.name, 0, NULL, 0) != 0)
		return BN_OK;
	if (o->has_exclude && regexec(&o->exclude, t.name, 0, NULL, 0) == 0)
		return BN_OK;
	if (o->dtype >= 0 && bn_dtype_traits(t.dtype)->is_float &&
	    t.dtype != o->dtype) {
		const unsigned char *src = data;

		t.dtype = o->dtype;
		if (bnt_tensor_layout(&t, &p->err) != BN_OK)
			return BN_EFORMAT;
		if (!o->list) {
			conv = malloc(t.data_bytes ? (size_t)t.data_bytes : 1);
			row = malloc(t.row_len ? (size_t)t.row_len * 4 : 4);
			if (conv == NULL || row == NULL) {
				free(conv);
				free(row);
				return bn_seterr(&p->err, BN_ENOMEM,
				    "tensor '%s': out of memory", t.name);
			}
			for (r = 0; r < t.rows; r++) {
				bn_row_to_f32(in->dtype, src + r *
				    in->row_bytes, t.row_len, row);
				bn_row_from_f32(t.dtype, row, t.row_len,
				    (unsigned char *)conv + r * t.row_bytes);
			}
			free(row);
			data = conv;
		}
	}
	p->ntensors++;
	p->nbytes += t.raw_len;
	if (o->verbose) {
		char shape[256];

		bn_warnx("%s: %s %s (%llu bytes)", t.name,
		    bn_dtype_traits(t.dtype)->name,
		    bnt_shape_str(&t, shape, sizeof shape),
		    (unsigned long long)t.raw_len);
	}
	if (o->list)
		st = add_row(p, &t);
	else if ((st = bnt_write_tensor(p->w, &t, data, scales)) != BN_OK)
		st = bn_seterr(&p->err, st, "%s", bnt_writer_error(p->w));
	free(conv);
	return st;
}

static void
print_list(const struct packer *p)
{
	size_t i, wn = 4, wd = 5, ws = 5, l;

	for (i = 0; i < p->nrows; i++) {
		if ((l = strlen(p->rows[i].name)) > wn)
			wn = l;
		if ((l = strlen(p->rows[i].dtype)) > wd)
			wd = l;
		if ((l = strlen(p->rows[i].shape)) > ws)
			ws = l;
	}
	printf("%-*s  %-*s  %-*s  %s\n", (int)wn, "name", (int)wd, "dtype",
	    (int)ws, "shape", "bytes");
	for (i = 0; i < p->nrows; i++)
		printf("%-*s  %-*s  %-*s  %llu\n", (int)wn, p->rows[i].name,
		    (int)wd, p->rows[i].dtype, (int)ws, p->rows[i].shape,
		    p->rows[i].bytes);
}

int
main(int argc, char *argv[])
{
	struct opts o = { .dtype = -1 };
	struct packer p = { .o = &o };
	struct bn_sink sink = { &p, sink_config, sink_vocab, sink_tensor };
	struct bn_err e = { "" };
	size_t i;
	int st;

	bn_setprogname(argv[0]);
	parse_args(argc, argv, &o);
	if (strcmp(o.input, "-") == 0 && !o.force && isatty(0))
		bn_errx(EX_USAGE, "refusing to read binary data from a "
		    "terminal; use --force");
	if (!o.list) {
		bn_note_input(o.input);
		bn_out_open(&p.out, o.output, 1, o.force);
		if ((p.w = bnt_writer_open(p.out.fp, o.zlevel)) == NULL)
			bn_errx(EX_OSERR, "out of memory");
	}
	st = bn_import_path(o.input, &sink, &e);
	if (st == BN_OK && !o.list && bnt_writer_finish(p.w) != BN_OK)
		st = bn_seterr(&p.err, BN_EIO, "%s", bnt_writer_error(p.w));
	if (st != BN_OK) {
		if (!o.list)
			bn_out_abort(&p.out);
		/* a write error names the output, anything else the input */
		if (p.err.msg[0] != '\0')
			bn_errx(bn_exit_code(st), "%s: %s", st == BN_EIO ?
			    (p.out.name ? p.out.name : "<stdout>") :
			    bn_display_name(o.input), p.err.msg);
		bn_errx(bn_exit_code(st), "%s: %s", bn_display_name(o.input),
		    e.msg[0] ? e.msg : bn_strerror(st));
	}
	if (o.list)
		print_list(&p);
	else
		bn_out_close(&p.out);
	if (o.verbose)
		bn_warnx("%s: %llu tensors, %llu bytes",
		    bn_display_name(o.input), p.ntensors, p.nbytes);
	bnt_writer_free(p.w);
	bn_kv_free(&p.cfg);
	bn_kv_free(&p.vkv);
	for (i = 0; i < p.nrows; i++) {
		free(p.rows[i].name);
		free(p.rows[i].dtype);
		free(p.rows[i].shape);
	}
	free(p.rows);
	if (o.has_include)
		regfree(&o.include);
	if (o.has_exclude)
		regfree(&o.exclude);
	bn_close_stdout();
	return 0;
}
