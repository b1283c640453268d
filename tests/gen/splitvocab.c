/* splitvocab.c: split llama.cpp's tokenizer test input (.inp: cases
 * separated by "\n__ggml_vocab_test__\n") into PREFIX.0, PREFIX.1, ...
 * with the bytes of each case exactly.
 *
 * usage: splitvocab FILE.inp PREFIX */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void
put(const char *prefix, int i, const char *p, size_t n)
{
	char path[4096];
	FILE *fp;

	snprintf(path, sizeof path, "%s.%d", prefix, i);
	if ((fp = fopen(path, "wb")) == NULL || fwrite(p, 1, n, fp) != n ||
	    fclose(fp) != 0) {
		perror(path);
		exit(1);
	}
}

int
main(int argc, char *argv[])
{
	static const char sep[] = "\n__ggml_vocab_test__\n";
	char *buf = NULL, *p, *q;
	size_t cap = 0, n = 0, r;
	FILE *fp;
	int i = 0;

	if (argc != 3 || (fp = fopen(argv[1], "rb")) == NULL) {
		fputs("usage: splitvocab file.inp prefix\n", stderr);
		return 64;
	}
	do {
		if (n == cap && (buf = realloc(buf, cap = cap ? 2 * cap :
		    65536)) == NULL)
			return 71;
		r = fread(buf + n, 1, cap - n, fp);
		n += r;
	} while (r > 0);
	fclose(fp);
	for (p = buf; p < buf + n; p = q + sizeof sep - 1) {
		q = p;
		while (q + sizeof sep - 1 <= buf + n &&
		    memcmp(q, sep, sizeof sep - 1) != 0)
			q++;
		if (q + sizeof sep - 1 > buf + n)
			break;
		put(argv[2], i++, p, (size_t)(q - p));
	}
	free(buf);
	printf("%d\n", i);
	return 0;
}
