/* xio.h: tool-side files: "-" is stdin/stdout, terminal guards,
 * outputs written under a temporary name and renamed on success. These
 * functions print and exit (tools only). */
#ifndef BN_XIO_H
#define BN_XIO_H

#include <stdio.h>

struct bn_out {
	FILE *fp;
	const char *name;	/* for messages: path or "<stdout>" */
	char *path;		/* the file to replace (links followed), else
				 * NULL */
	char *tmp;		/* temporary path, else NULL */
	char *buf;		/* the stream's buffer (bn_outbuf), else NULL */
};

/* "-" -> "<stdin>", else the name itself. */
const char *bn_display_name(const char *path);
/* Open an input ("-" or NULL: stdin); exits 66 naming the file. With
 * binary set, refuses a terminal on stdin (exit 64) unless force.  The
 * file is noted as bn_note_input does. */
FILE *bn_open_in(const char *path, int binary, int force);
/* Note an input opened some other way (a mapped file, "-": stdin), so
 * that no output may be it; for a directory, the files in it that
 * bn_fileset_from_dir reads.  Only regular files count.  Call it
 * before opening outputs. */
void bn_note_input(const char *path);
/* Exit 64 if PATH (after its links; NULL or "-": stdout) is the same
 * file as a noted input.  bn_out_open calls it first. */
void bn_out_check(const char *path);
/* Where the symbolic links of PATH lead (malloc'd): the file an output
 * replaces.  NULL where the chain goes through /proc or /dev/fd (as
 * /dev/stdout does): that is a descriptor of the process, written in
 * place.  Exits 73 on a loop of links, 71 out of memory. */
char *bn_out_target(const char *path);
/* Open an output (NULL or "-": stdout).  After bn_out_check, a path
 * whose symbolic links lead to a regular file, or to none yet, is
 * written beside that file as TARGET.tmp.XXXXXX and renamed over it by
 * bn_out_close (the links stay); a device, FIFO or /dev/stdout is
 * written in place.  Exits 73 when it cannot be created; with binary
 * set refuses a terminal (exit 64) unless force.  The temporary file
 * is removed if the process exits or is killed by SIGINT, SIGTERM,
 * SIGHUP or SIGPIPE before close. */
void bn_out_open(struct bn_out *o, const char *path, int binary, int force);
/* A tool's own temporaries (a spool file, a directory being filled):
 * mkstemp and mkdtemp that note what they made (-1 and NULL on failure,
 * errno set), and bn_tmp_note for a file about to be made in such a
 * directory.  They are removed, files before their directory, if the
 * process exits or is killed by SIGINT, SIGTERM, SIGHUP or SIGPIPE,
 * until bn_tmp_forget(path) (with a directory's files).  Exits 71 out
 * of memory. */
int bn_tmp_mkstemp(char *tmpl);
char *bn_tmp_mkdtemp(char *tmpl);
void bn_tmp_note(const char *path);
void bn_tmp_forget(const char *path);
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
