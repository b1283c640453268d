/* splitcases.c: write each case of a tokenizers encode-cases.json
 * ([{"text": ..., "ids": [...]}]) as PREFIX.N.txt (the text's bytes)
 * and PREFIX.N.ids (the ids, space-separated, one line).
 *
 * usage: splitcases FILE.json PREFIX */
#include <stdio.h>
#include <stdlib.h>

#include "fileset.h"
#include "json.h"

int
main(int argc, char *argv[])
{
	struct bn_json_doc d;
	struct bn_file f;
	struct bn_err e;
	const struct bn_json *c, *t, *ids;
	char path[4096];
	FILE *fp;
	size_t i, k;

	if (argc != 3) {
		fputs("usage: splitcases file.json prefix\n", stderr);
		return 64;
	}
	if (bn_file_open(&f, argv[1], &e) != 0 ||
	    bn_json_parse(&d, f.data, f.size, &e) != 0 ||
	    d.root->type != BN_JSON_ARRAY) {
		fprintf(stderr, "splitcases: %s: %s\n", argv[1], e.msg);
		return 65;
	}
	for (i = 0; i < d.root->n; i++) {
		c = bn_json_at(d.root, i);
		t = bn_json_get(c, "text");
		ids = bn_json_get(c, "ids");
		if (t == NULL || ids == NULL || t->type != BN_JSON_STRING ||
		    ids->type != BN_JSON_ARRAY)
			return 65;
		snprintf(path, sizeof path, "%s.%zu.txt", argv[2], i);
		if ((fp = fopen(path, "wb")) == NULL)
			return 73;
		fwrite(t->str, 1, t->len, fp);
		fclose(fp);
		snprintf(path, sizeof path, "%s.%zu.ids", argv[2], i);
		if ((fp = fopen(path, "w")) == NULL)
			return 73;
		for (k = 0; k < ids->n; k++)
			fprintf(fp, "%s%.*s", k ? " " : "",
			    (int)bn_json_at(ids, k)->len,
			    bn_json_at(ids, k)->str);
		fputc('\n', fp);
		fclose(fp);
	}
	printf("%zu\n", i);
	bn_json_free(&d);
	bn_file_close(&f);
	return 0;
}
