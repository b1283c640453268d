/* detect.c: recognise an input by its content and import it. */
#include <sys/stat.h>

#include <string.h>

#include "import.h"

enum bn_format
bn_detect(const unsigned char *p, size_t n)
{
	uint64_t hlen;
	size_t i;

	if (n >= 8 && memcmp(p, BNT_MAGIC, 8) == 0)
		return BN_FMT_BNT;
	if (n >= 4 && memcmp(p, "GGUF", 4) == 0)
		return BN_FMT_GGUF;
	if (n >= 6 && memcmp(p, "\x93NUMPY", 6) == 0)
		return BN_FMT_NPY;
	if (n >= 4 && memcmp(p, "PK\x03\x04", 4) == 0)
		return BN_FMT_ZIP;
	/* gzip, zstd, xz, bzip2; or ustar at offset 257 */
	if ((n >= 2 && p[0] == 0x1f && p[1] == 0x8b) ||
	    (n >= 4 && memcmp(p, "\x28\xb5\x2f\xfd", 4) == 0) ||
	    (n >= 6 && memcmp(p, "\xfd" "7zXZ", 5) == 0) ||
	    (n >= 3 && memcmp(p, "BZh", 3) == 0) ||
	    (n >= 262 && memcmp(p + 257, "ustar", 5) == 0))
		return BN_FMT_ARCHIVE;
	/* safetensors: u64 header length, then '{' */
	if (n >= 9) {
		for (hlen = 0, i = 0; i < 8; i++)
			hlen |= (uint64_t)p[i] << (8 * i);
		if (hlen >= 2 && hlen <= n - 8 && p[8] == '{')
			return BN_FMT_SAFETENSORS;
	}
	for (i = 0; i < n && (p[i] == ' ' || p[i] == '\n' || p[i] == '\r' ||
	    p[i] == '\t'); i++)
		;
	if (i < n && p[i] == '{')
		return BN_FMT_JSON;
	return BN_FMT_UNKNOWN;
}

const char *
bn_format_name(enum bn_format f)
{
	static const char *const names[] = {
		[BN_FMT_UNKNOWN] = "unknown", [BN_FMT_BNT] = "bnt",
		[BN_FMT_SAFETENSORS] = "safetensors", [BN_FMT_GGUF] = "gguf",
		[BN_FMT_ZIP] = "zip", [BN_FMT_NPY] = "npy",
		[BN_FMT_ARCHIVE] = "archive", [BN_FMT_JSON] = "json",
		[BN_FMT_DIR] = "directory",
	};

	return (unsigned)f < sizeof names / sizeof names[0] ? names[f] :
	    "unknown";
}

static int
contains(const unsigned char *p, size_t n, const char *needle)
{
	size_t k = strlen(needle), i;

	for (i = 0; k <= n && i <= n - k; i++)
		if (memcmp(p + i, needle, k) == 0)
			return 1;
	return 0;
}

/* A lone JSON file: a tokenizer.json (has "model") or a config.json. */
static int
import_json(const struct bn_file *f, struct bn_sink *s, struct bn_err *e)
{
	struct bn_vocab v;
	struct bn_kv kv;
	int st;

	if (contains(f->data, f->size, "\"model\"")) {
		bn_vocab_init(&v);
		st = bn_import_tokenizer_json(f, &v, e);
		if (st == BN_OK && s->vocab != NULL)
			st = s->vocab(s->ctx, &v);
		bn_vocab_free(&v);
		return st;
	}
	bn_kv_init(&kv);
	st = bn_import_config_json(f, &kv, e);
	if (st == BN_OK && s->config != NULL)
		st = s->config(s->ctx, &kv);
	bn_kv_free(&kv);
	return st;
}

/* A zip is a torch.save checkpoint if it has a data.pkl, else an npz. */
static int
import_zip(const struct bn_file *f, struct bn_sink *s, struct bn_err *e)
{
	struct bn_fileset zip;
	int st;

	bn_fileset_init(&zip);
	st = bn_fileset_from_archive(&zip, f, e);
	if (st == BN_OK)
		st = bn_fileset_get(&zip, "data.pkl") != NULL ?
		    bn_import_torch(&zip, s, e) : bn_import_npz(&zip, s, e);
	bn_fileset_free(&zip);
	return st;
}

static int
import_archive(const struct bn_file *f, struct bn_sink *s, struct bn_err *e)
{
	struct bn_fileset fs;
	int st;

	bn_fileset_init(&fs);
	st = bn_fileset_from_archive_want(&fs, f, bn_hf_wants, e);
	if (st == BN_OK)
		st = bn_import_hf(&fs, s, e);
	bn_fileset_free(&fs);
	return st;
}

int
bn_import_path(const char *path, struct bn_sink *s, struct bn_err *e)
{
	struct bn_fileset fs;
	struct bn_file f;
	struct stat sb;
	const char *base;
	int st;

	if (strcmp(path, "-") != 0 && stat(path, &sb) == 0 &&
	    S_ISDIR(sb.st_mode)) {
		bn_fileset_init(&fs);
		st = bn_fileset_from_dir(&fs, path, e);
		if (st == BN_OK)
			st = bn_import_hf(&fs, s, e);
		bn_fileset_free(&fs);
		return st;
	}
	if ((st = bn_file_open(&f, path, e)) != BN_OK)
		return st;
	switch (bn_detect(f.data, f.size)) {
	case BN_FMT_BNT:
		st = bn_import_bnt(&f, s, e);
		break;
	case BN_FMT_SAFETENSORS:
		st = bn_import_safetensors(&f, s, e);
		break;
	case BN_FMT_GGUF:
		st = bn_import_gguf(&f, s, e);
		break;
	case BN_FMT_NPY:
		base = strrchr(path, '/');
		base = base != NULL ? base + 1 : path;
		{
			char name[256];
			size_t n = strlen(base);

			if (n > 4 && strcmp(base + n - 4, ".npy") == 0)
				n -= 4;
			if (n >= sizeof name)
				n = sizeof name - 1;
			memcpy(name, base, n);
			name[n] = '\0';
			if (strcmp(name, "-") == 0)
				strcpy(name, "array");
			st = bn_import_npy(&f, name, s, e);
		}
		break;
	case BN_FMT_ZIP:
		st = import_zip(&f, s, e);
		break;
	case BN_FMT_ARCHIVE:
		st = import_archive(&f, s, e);
		break;
	case BN_FMT_JSON:
		st = import_json(&f, s, e);
		break;
	default:
		st = bn_seterr(e, BN_EFORMAT, "unrecognised input format");
		break;
	}
	bn_file_close(&f);
	return st;
}

/* bnt in, through the sink (so bnpack can filter and convert bnt). */
int
bn_import_bnt(const struct bn_file *f, struct bn_sink *s, struct bn_err *e)
{
	struct bnt_reader *r;
	struct bnt_record rec;
	FILE *fp;
	int st;

	if (f->size == 0)
		return bn_seterr(e, BN_EFORMAT, "empty input");
	if ((fp = fmemopen((void *)f->data, f->size, "rb")) == NULL)
		return bn_seterr(e, BN_ENOMEM, "out of memory");
	if ((r = bnt_reader_open(fp, f->name)) == NULL) {
		fclose(fp);
		return bn_seterr(e, BN_ENOMEM, "out of memory");
	}
	for (;;) {
		const struct bnt_tensor *t = &rec.tensor;

		st = bnt_read_next(r, &rec);
		if (st == BN_END) {
			st = BN_OK;
			break;
		}
		if (st != BN_OK) {
			bn_seterr(e, st, "%s", bnt_reader_error(r));
			break;
		}
		if (rec.kind == BNT_KIND_CONFIG && s->config != NULL)
			st = s->config(s->ctx, &rec.config);
		else if (rec.kind == BNT_KIND_TOKENIZER && s->vocab != NULL)
			st = s->vocab(s->ctx, &rec.vocab);
		else if (rec.kind == BNT_KIND_TENSOR && s->tensor != NULL)
			st = s->tensor(s->ctx, t, rec.data,
			    t->scale_kind != BNT_SCALE_NONE ?
			    rec.data + t->scale_offset : NULL);
		if (st != BN_OK)
			break;
	}
	bnt_reader_close(r);
	fclose(fp);
	return st;
}
