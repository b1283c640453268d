/* table.h: a table of typed cells (strings, integers, reals, empty),
 * filled row by row and written as aligned text, CSV or JSON Lines.
 * The tools' report format, shared by bnstat and bnverify. */
#ifndef BN_TABLE_H
#define BN_TABLE_H

#include <stddef.h>
#include <stdio.h>

enum bn_cell_type { BN_CELL_NONE, BN_CELL_STR, BN_CELL_INT, BN_CELL_REAL };
enum bn_table_fmt { BN_TABLE_TEXT, BN_TABLE_CSV, BN_TABLE_JSON };

struct bn_cell {
	int type;		/* enum bn_cell_type */
	char *s;
	double v;
	long long i;
};

/* Cells go in row by row: ncol puts make a row.  An allocation that
 * fails sets oom and drops the cell; bn_table_write then says so. */
struct bn_table {
	const char *const *cols;
	size_t ncol, nrow, cap;	/* cap: cells */
	struct bn_cell *c;	/* nrow * ncol */
	size_t fill;		/* cells filled in the last row */
	int oom;
};

void bn_table_init(struct bn_table *t, const char *const *cols, size_t ncol);
void bn_table_put_str(struct bn_table *t, const char *s);
void bn_table_put_int(struct bn_table *t, long long i);
void bn_table_put_real(struct bn_table *t, double v);
void bn_table_put_none(struct bn_table *t);
/* Write to fp: text pads each column to its widest cell (strings to
 * the left, numbers to the right; "-" for none, reals as %.6g); CSV
 * has a header line and quotes strings that need it; JSON Lines has
 * one object per row (null for none and non-finite reals).  Reals
 * are %.9g in CSV and JSON.  BN_OK, or BN_ENOMEM (nothing written) if
 * a put or the widths ran out of memory. */
int bn_table_write(const struct bn_table *t, FILE *fp, int fmt);
/* Free the cells; t can be filled again with the same columns. */
void bn_table_free(struct bn_table *t);

#endif
