/* xio.h: tool-side files: "-" is stdin/stdout, terminal guards,
 * outputs written under a temporary name and renamed on success. These
 * functions print and exit (tools only). */
#ifndef BN_XIO_H
#define BN_XIO_H

#include <stdio.h>

struct bn_out {
	FILE *fp;
	const char *name;	/* for messages: path or "<stdout>" */
	char *path;		/* final path when renaming, else NULL */
	char *tmp;		/* temporary path, else NULL */
	char *buf;		/* the stream's buffer (bn_outbuf), else NULL */
};

/* "-" -> "<stdin>", else the name itself. */
const char *bn_display_name(const char *path);
/* Open an input ("-" or NULL: stdin); exits 66 naming the file. With
 * binary set, refuses a terminal on stdin (exit 64) unless force. */
FILE *bn_open_in(const char *path, int binary, int force);
/* Open an output (NULL or "-": stdout).  A regular file (existing or
 * not) is written as PATH.tmp.XXXXXX and renamed by bn_out_close; a
 * device, FIFO or /dev/stdout is written in place.  Exits 73 when it
 * cannot be created; with binary set refuses a terminal (exit 64)
 * unless force.  The temporary file is removed if the process exits
 * or is killed by SIGINT, SIGTERM, SIGHUP or SIGPIPE before close. */
void bn_out_open(struct bn_out *o, const char *path, int binary, int force);
/* Give a stream that has not been used yet a BN_OUTBUF-byte buffer
 * (glibc's setvbuf ignores the size without one: st_blksize, 4 KiB,
 * one write(2) per 4 KiB).  Returns the buffer, to be freed after
 * fclose, or NULL (the stream keeps its default buffer). */
#define BN_OUTBUF (1 << 20)
char *bn_outbuf(FILE *fp);
/* Flush and close; rename into place.  Exits 74 on a write error. */
void bn_out_close(struct bn_out *o);
/* Close and throw the output away (temporary removed). */
void bn_out_abort(struct bn_out *o);
/* A whole file ("-": stdin) in a NUL-terminated buffer (malloc'd),
 * its length in *len.  Exits 66 if it cannot be opened, 74 on a read
 * error, 71 out of memory. */
char *bn_slurp(const char *path, size_t *len);
/* Flush stdout and check it (exits 74 on error), for report output. */
void bn_close_stdout(void);

#endif
