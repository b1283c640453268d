/* table.c: typed cells written as aligned text, CSV or JSON Lines. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json.h"
#include "mem.h"
#include "status.h"
#include "table.h"

void
bn_table_init(struct bn_table *t, const char *const *cols, size_t ncol)
{
	memset(t, 0, sizeof *t);
	t->cols = cols;
	t->ncol = ncol;
}

/* The next cell, starting a row (all cells empty) when the last one
 * is full; NULL (and oom) if there is no room. */
static struct bn_cell *
next_cell(struct bn_table *t)
{
	size_t need;

	if (t->oom)
		return NULL;
	if (t->fill == 0 || t->fill == t->ncol) {
		if (bn_mul_size(t->nrow + 1, t->ncol, &need) != 0 ||
		    bn_grow(&t->c, &t->cap, need, sizeof *t->c) != 0) {
			t->oom = 1;
			return NULL;
		}
		memset(&t->c[t->nrow * t->ncol], 0, t->ncol * sizeof *t->c);
		t->nrow++;
		t->fill = 0;
	}
	return &t->c[(t->nrow - 1) * t->ncol + t->fill++];
}

void
bn_table_put_str(struct bn_table *t, const char *s)
{
	struct bn_cell *c = next_cell(t);

	if (c == NULL)
		return;
	c->type = BN_CELL_STR;
	if ((c->s = strdup(s)) == NULL) {
		c->type = BN_CELL_NONE;
		t->oom = 1;
	}
}

void
bn_table_put_int(struct bn_table *t, long long i)
{
	struct bn_cell *c = next_cell(t);

	if (c != NULL) {
		c->type = BN_CELL_INT;
		c->i = i;
	}
}

void
bn_table_put_real(struct bn_table *t, double v)
{
	struct bn_cell *c = next_cell(t);

	if (c != NULL) {
		c->type = BN_CELL_REAL;
		c->v = v;
	}
}

void
bn_table_put_none(struct bn_table *t)
{
	struct bn_cell *c = next_cell(t);

	if (c != NULL)
		c->type = BN_CELL_NONE;
}

static void
fmt_cell(const struct bn_cell *c, int fmt, char *buf, size_t size)
{
	switch (c->type) {
	case BN_CELL_NONE:
		snprintf(buf, size, "%s", fmt == BN_TABLE_TEXT ? "-" :
		    fmt == BN_TABLE_JSON ? "null" : "");
		break;
	case BN_CELL_STR: snprintf(buf, size, "%s", c->s); break;
	case BN_CELL_INT: snprintf(buf, size, "%lld", c->i); break;
	default:
		if (fmt == BN_TABLE_JSON && !isfinite(c->v))
			snprintf(buf, size, "null");
		else if (isnan(c->v))
			snprintf(buf, size, "nan");
		else
			snprintf(buf, size, fmt == BN_TABLE_TEXT ? "%.6g" :
			    "%.9g", c->v);
	}
}

/* RFC 4180: quoted, with doubled quotes, if it holds , " or a newline */
static void
csv_str(FILE *fp, const char *s)
{
	if (strpbrk(s, ",\"\n\r") == NULL) {
		fputs(s, fp);
		return;
	}
	putc('"', fp);
	for (; *s != '\0'; s++) {
		if (*s == '"')
			putc('"', fp);
		putc(*s, fp);
	}
	putc('"', fp);
}

static void
write_header(const struct bn_table *t, FILE *fp, int fmt, const size_t *w)
{
	size_t k;

	for (k = 0; k < t->ncol; k++)
		if (fmt == BN_TABLE_CSV)
			fprintf(fp, "%s%s", t->cols[k], k + 1 < t->ncol ?
			    "," : "\n");
		else if (k + 1 < t->ncol)
			fprintf(fp, "%-*s  ", (int)w[k], t->cols[k]);
		else
			fprintf(fp, "%s\n", t->cols[k]);
}

static void
write_row(const struct bn_table *t, FILE *fp, int fmt, const size_t *w,
    size_t r)
{
	const struct bn_cell *c;
	char buf[512];
	size_t k;

	if (fmt == BN_TABLE_JSON)
		putc('{', fp);
	for (k = 0; k < t->ncol; k++) {
		c = &t->c[r * t->ncol + k];
		fmt_cell(c, fmt, buf, sizeof buf);
		if (fmt == BN_TABLE_JSON) {
			fprintf(fp, "%s\"%s\":", k ? "," : "", t->cols[k]);
			if (c->type == BN_CELL_STR)
				bn_json_fput_str(fp, buf);
			else
				fputs(buf, fp);
		} else if (fmt == BN_TABLE_CSV) {
			if (c->type == BN_CELL_STR)
				csv_str(fp, buf);
			else
				fputs(buf, fp);
			putc(k + 1 < t->ncol ? ',' : '\n', fp);
		} else if (k + 1 < t->ncol)
			fprintf(fp, c->type == BN_CELL_STR ||
			    c->type == BN_CELL_NONE ? "%-*s  " : "%*s  ",
			    (int)w[k], buf);
		else
			fprintf(fp, "%s\n", buf);
	}
	if (fmt == BN_TABLE_JSON)
		fputs("}\n", fp);
}

int
bn_table_write(const struct bn_table *t, FILE *fp, int fmt)
{
	size_t r, k, *w, len;
	char buf[512];

	if (t->oom || (w = calloc(t->ncol ? t->ncol : 1, sizeof *w)) == NULL)
		return BN_ENOMEM;
	if (fmt == BN_TABLE_TEXT) {
		for (k = 0; k < t->ncol; k++)
			w[k] = strlen(t->cols[k]);
		for (r = 0; r < t->nrow; r++)
			for (k = 0; k < t->ncol; k++) {
				fmt_cell(&t->c[r * t->ncol + k], fmt, buf,
				    sizeof buf);
				if ((len = strlen(buf)) > w[k])
					w[k] = len;
			}
	}
	if (fmt != BN_TABLE_JSON)
		write_header(t, fp, fmt, w);
	for (r = 0; r < t->nrow; r++)
		write_row(t, fp, fmt, w, r);
	free(w);
	return BN_OK;
}

void
bn_table_free(struct bn_table *t)
{
	size_t i;

	for (i = 0; i < t->nrow * t->ncol; i++)
		free(t->c[i].s);
	free(t->c);
	t->c = NULL;
	t->nrow = t->cap = t->fill = 0;
	t->oom = 0;
}
