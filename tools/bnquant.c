/* bnquant: quantize the projections of a bnt(5) model to ternary
 * (BitNet b1.58 absmean) or binary (BitNet sign), post-training. */
#include <getopt.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <unistd.h>

#include "bnt.h"
#include "dtype.h"
#include "err.h"
#include "parse.h"
#include "quant.h"
#include "version.h"
#include "xio.h"

enum { OPT_FORCE = 256, OPT_KEEP, OPT_SCALE };

#define DEFAULT_KEEP "^(token_embd|output)\\.weight$|norm"

struct opts {
	const char *input, *output;
	int binary;		/* -q binary */
	int scale_kind;		/* enum bnt_scale */
	unsigned block;
	regex_t keep;
	int force, verbose;
};

static const char shortopts[] = "ho:q:vV";
static const struct option longopts[] = {
	{ "force",	no_argument,		NULL,	OPT_FORCE },
	{ "help",	no_argument,		NULL,	'h' },
	{ "keep",	required_argument,	NULL,	OPT_KEEP },
	{ "output",	required_argument,	NULL,	'o' },
	{ "quant",	required_argument,	NULL,	'q' },
	{ "scale",	required_argument,	NULL,	OPT_SCALE },
	{ "verbose",	no_argument,		NULL,	'v' },
	{ "version",	no_argument,		NULL,	'V' },
	{ NULL,		0,			NULL,	0 }
};

static _Noreturn void
usage(FILE *fp, int status)
{
	fprintf(fp, "usage: %s -q ternary|binary [-v] [--scale "
	    "tensor|row|block:n] [--keep regex] [--force] [-o file] [file]\n",
	    bn_progname);
	if (fp == stdout)
		fputs("Quantize a bnt(5) model's projections; see "
		    "bnquant(1).\n"
		    "  -o, --output FILE  write FILE (default: standard "
		    "output)\n"
		    "  -q, --quant TYPE   ternary (absmean) or binary (sign)\n"
		    "  -v, --verbose      report each tensor on standard "
		    "error\n"
		    "      --force        binary data to or from a terminal\n"
		    "      --keep RE      leave 2-D float tensors matching RE "
		    "in float\n"
		    "                     (default: '" DEFAULT_KEEP "')\n"
		    "      --scale KIND   tensor (default), row or block:N\n"
		    "  -h, --help         show this help\n"
		    "  -V, --version      show the version\n", fp);
	exit(status);
}

static void
parse_args(int argc, char *argv[], struct opts *o)
{
	const char *keep = DEFAULT_KEEP;
	int ch, q = 0;

	argv[0] = (char *)bn_progname;
	while ((ch = getopt_long(argc, argv, shortopts, longopts, NULL)) != -1)
		switch (ch) {
		case OPT_FORCE: o->force = 1; break;
		case OPT_KEEP: keep = optarg; break;
		case OPT_SCALE:
			if (strcmp(optarg, "tensor") == 0)
				o->scale_kind = BNT_SCALE_TENSOR;
			else if (strcmp(optarg, "row") == 0)
				o->scale_kind = BNT_SCALE_ROW;
			else if (strncmp(optarg, "block:", 6) == 0 &&
			    bn_parse_uint(optarg + 6, 1, 1u << 24,
			    &o->block) == 0)
				o->scale_kind = BNT_SCALE_BLOCK;
			else {
				bn_warnx("--scale: invalid scale '%s'", optarg);
				usage(stderr, EX_USAGE);
			}
			break;
		case 'h': usage(stdout, EXIT_SUCCESS);
		case 'o': o->output = optarg; break;
		case 'q':
			if (strcmp(optarg, "ternary") == 0)
				o->binary = 0;
			else if (strcmp(optarg, "binary") == 0)
				o->binary = 1;
			else {
				bn_warnx("-q: invalid type '%s'", optarg);
				usage(stderr, EX_USAGE);
			}
			q = 1;
			break;
		case 'v': o->verbose++; break;
		case 'V':
			bn_print_version(stdout);
			exit(EXIT_SUCCESS);
		default: usage(stderr, EX_USAGE);
		}
	if (!q || argc - optind > 1)
		usage(stderr, EX_USAGE);
	o->input = optind < argc ? argv[optind] : "-";
	if (regcomp(&o->keep, keep, REG_EXTENDED | REG_NOSUB) != 0) {
		bn_warnx("--keep: invalid regex '%s'", keep);
		usage(stderr, EX_USAGE);
	}
}

/* Quantize one float tensor and write it with w.  The statistic is
 * taken over each scope (the tensor, a row, or a block of a row). */
static int
quantize(const struct opts *o, const struct bnt_record *rec,
    struct bnt_writer *w, const char *name)
{
	const struct bnt_tensor *in = &rec->tensor;
	struct bnt_tensor t = *in;
	struct bn_err e = { "" };
	uint64_t r, c, len, scope;
	float *v, *sc, s = 0, a = 0;
	uint8_t *q;
	size_t si = 0;
	int st;

	t.dtype = o->binary ? BN_DTYPE_B1 : BN_DTYPE_T2;
	t.scale_kind = o->scale_kind;
	t.scale_dtype = BN_DTYPE_F32;
	t.scale_block = o->scale_kind == BNT_SCALE_BLOCK ? o->block : 0;
	t.scale_flags = o->binary ? 0 : BNT_SCALE_DIV;
	if (bnt_tensor_layout(&t, &e) != BN_OK)
		bn_errx(EX_DATAERR, "%s: %s", name, e.msg);
	len = in->row_len;
	v = malloc((in->nelem ? in->nelem : 1) * sizeof *v);
	q = calloc(t.data_bytes ? t.data_bytes : 1, 1);
	sc = malloc((t.nscales ? t.nscales : 1) * sizeof *sc);
	if (v == NULL || q == NULL || sc == NULL)
		bn_errx(EX_OSERR, "out of memory");
	if (!o->binary)
		memset(q, 0x55, t.data_bytes);	/* t2 padding: code 0 */
	for (r = 0; r < in->rows; r++)
		bn_row_to_f32(in->dtype, rec->data + r * in->row_bytes, len,
		    v + r * len);
	scope = o->scale_kind == BNT_SCALE_BLOCK ? o->block : len;
	if (o->scale_kind == BNT_SCALE_TENSOR) {
		if (o->binary) {
			bn_binary_stats(v, in->nelem, &a, &s);
		} else
			s = bn_ternary_scale(v, in->nelem);
		sc[si++] = s;
	}
	for (r = 0; r < in->rows; r++)
		for (c = 0; c < len; c += scope) {
			const float *p = v + r * len + c;
			uint8_t *row = q + r * t.row_bytes;

			if (o->scale_kind != BNT_SCALE_TENSOR) {
				if (o->binary)
					bn_binary_stats(p, scope, &a, &s);
				else
					s = bn_ternary_scale(p, scope);
				sc[si++] = s;
			}
			if (o->binary)
				bn_binary_codes(p, scope, a, row, c);
			else
				bn_ternary_codes(p, scope, s, row, c);
		}
	if (o->verbose)
		bn_warnx("%s: %s, %llu scales", t.name,
		    bn_dtype_traits(t.dtype)->name,
		    (unsigned long long)t.nscales);
	st = bnt_write_tensor(w, &t, q, sc);
	free(v);
	free(q);
	free(sc);
	return st;
}

int
main(int argc, char *argv[])
{
	struct opts o = { .scale_kind = BNT_SCALE_TENSOR };
	struct bnt_reader *r;
	struct bnt_writer *w;
	struct bnt_record rec;
	struct bn_out out;
	struct bn_kv kv;
	const char *name;
	FILE *in;
	size_t i;
	int st, wst = BN_OK;

	bn_setprogname(argv[0]);
	parse_args(argc, argv, &o);
	name = bn_display_name(o.input);
	in = bn_open_in(o.input, 1, o.force);
	if ((r = bnt_reader_open(in, name)) == NULL)
		bn_errx(EX_OSERR, "out of memory");
	bn_out_open(&out, o.output, 1, o.force);
	if ((w = bnt_writer_open(out.fp, 0)) == NULL)
		bn_errx(EX_OSERR, "out of memory");
	while (wst == BN_OK && (st = bnt_read_next(r, &rec)) == BN_OK) {
		const struct bnt_tensor *t = &rec.tensor;

		switch (rec.kind) {
		case BNT_KIND_CONFIG:
			bn_kv_init(&kv);
			for (i = 0; i < rec.config.n; i++)
				bn_kv_set(&kv, rec.config.v[i].key,
				    rec.config.v[i].val);
			bn_kv_set(&kv, "bitlinear", "1");
			wst = bnt_write_config(w, &kv);
			bn_kv_free(&kv);
			break;
		case BNT_KIND_TOKENIZER:
			wst = bnt_write_tokenizer(w, &rec.vocab);
			break;
		case BNT_KIND_TENSOR:
			if (t->ndim == 2 && bn_dtype_traits(t->dtype)->is_float &&
			    regexec(&o.keep, t->name, 0, NULL, 0) != 0)
				wst = quantize(&o, &rec, w, name);
			else
				wst = bnt_write_tensor(w, t, rec.data,
				    t->scale_kind != BNT_SCALE_NONE ?
				    rec.data + t->scale_offset : NULL);
			break;
		case BNT_KIND_END:
			break;
		default:	/* notes and unknown optional records */
			wst = bnt_write_record(w, rec.kind, rec.flags,
			    rec.meta, rec.meta_len, rec.data, rec.len);
		}
	}
	if (wst != BN_OK)
		bn_errx(bn_exit_code(wst), "%s: %s", out.name,
		    bnt_writer_error(w));
	if (st != BN_END)
		bn_errx(bn_exit_code(st), "%s: %s", name, bnt_reader_error(r));
	if ((wst = bnt_writer_finish(w)) != BN_OK)
		bn_errx(bn_exit_code(wst), "%s: %s", out.name,
		    bnt_writer_error(w));
	bn_out_close(&out);
	bnt_writer_free(w);
	bnt_reader_close(r);
	if (in != stdin)
		fclose(in);
	regfree(&o.keep);
	bn_close_stdout();
	return 0;
}
