/* xio.c: tool-side files (see xio.h). */
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <unistd.h>

#include "err.h"
#include "xio.h"

/* the one temporary output a tool may have open at a time */
static char *volatile pending_tmp;
static int handlers_set;

static mode_t
umask_get(void)
{
	mode_t m = umask(0);

	umask(m);
	return m;
}

const char *
bn_display_name(const char *path)
{
	return path == NULL || strcmp(path, "-") == 0 ? "<stdin>" : path;
}

FILE *
bn_open_in(const char *path, int binary, int force)
{
	FILE *fp;

	if (path == NULL || strcmp(path, "-") == 0) {
		if (binary && !force && isatty(STDIN_FILENO))
			bn_errx(EX_USAGE, "refusing to read binary data from "
			    "a terminal; use --force");
		return stdin;
	}
	if ((fp = fopen(path, "rb")) == NULL)
		bn_err(EX_NOINPUT, "%s", path);
	return fp;
}

static void
remove_pending(void)
{
	if (pending_tmp != NULL)
		unlink(pending_tmp);
}

static void
on_signal(int sig)
{
	remove_pending();
	signal(sig, SIG_DFL);
	raise(sig);
}

static void
set_handlers(void)
{
	static const int sigs[] = { SIGHUP, SIGINT, SIGPIPE, SIGTERM };
	size_t i;

	if (handlers_set)
		return;
	atexit(remove_pending);
	for (i = 0; i < sizeof sigs / sizeof sigs[0]; i++)
		signal(sigs[i], on_signal);
	handlers_set = 1;
}

char *
bn_outbuf(FILE *fp)
{
	char *b = malloc(BN_OUTBUF);

	if (b != NULL && setvbuf(fp, b, _IOFBF, BN_OUTBUF) != 0) {
		free(b);
		b = NULL;
	}
	return b;
}

void
bn_out_open(struct bn_out *o, const char *path, int binary, int force)
{
	struct stat sb;
	size_t n;
	int fd;

	memset(o, 0, sizeof *o);
	if (path == NULL || strcmp(path, "-") == 0) {
		o->fp = stdout;
		o->name = "<stdout>";
		if (binary && !force && isatty(STDOUT_FILENO))
			bn_errx(EX_USAGE, "refusing to write binary data to a "
			    "terminal; use -o or --force");
		return;
	}
	o->name = path;
	if (lstat(path, &sb) == 0 && !S_ISREG(sb.st_mode)) {
		/* device, FIFO, a symbolic link such as /dev/stdout (even
		 * to a regular file): write in place, never replace it */
		if ((o->fp = fopen(path, "wb")) == NULL)
			bn_err(EX_CANTCREAT, "%s", path);
		if (binary && !force && isatty(fileno(o->fp)))
			bn_errx(EX_USAGE, "refusing to write binary data to a "
			    "terminal; use --force");
		o->buf = bn_outbuf(o->fp);
		return;
	}
	n = strlen(path) + sizeof ".tmp.XXXXXX";
	if ((o->tmp = malloc(n)) == NULL || (o->path = strdup(path)) == NULL)
		bn_errx(EX_OSERR, "out of memory");
	snprintf(o->tmp, n, "%s.tmp.XXXXXX", path);
	set_handlers();
	if ((fd = mkstemp(o->tmp)) < 0)
		bn_err(EX_CANTCREAT, "%s", path);
	pending_tmp = o->tmp;
	fchmod(fd, 0644 & ~umask_get());
	if ((o->fp = fdopen(fd, "wb")) == NULL)
		bn_err(EX_CANTCREAT, "%s", path);
	o->buf = bn_outbuf(o->fp);
}

void
bn_out_close(struct bn_out *o)
{
	int bad;

	bad = fflush(o->fp) != 0 || ferror(o->fp);
	if (o->fp == stdout) {
		if (bad)
			bn_err(EX_IOERR, "<stdout>");
		return;	/* bn_close_stdout or exit closes it */
	}
	if (fclose(o->fp) != 0)
		bad = 1;
	o->fp = NULL;
	free(o->buf);
	o->buf = NULL;
	if (bad)
		bn_err(EX_IOERR, "%s", o->name);
	if (o->tmp != NULL) {
		if (rename(o->tmp, o->path) != 0)
			bn_err(EX_CANTCREAT, "%s", o->path);
		pending_tmp = NULL;
		free(o->tmp);
		free(o->path);
		o->tmp = o->path = NULL;
	}
}

void
bn_out_abort(struct bn_out *o)
{
	if (o->fp != NULL && o->fp != stdout)
		fclose(o->fp);
	o->fp = NULL;
	free(o->buf);
	o->buf = NULL;
	if (o->tmp != NULL) {
		unlink(o->tmp);
		pending_tmp = NULL;
		free(o->tmp);
		free(o->path);
		o->tmp = o->path = NULL;
	}
}

void
bn_close_stdout(void)
{
	if (fflush(stdout) != 0 || ferror(stdout))
		bn_err(EX_IOERR, "<stdout>");
}

char *
bn_slurp(const char *path, size_t *len)
{
	FILE *fp = bn_open_in(path, 0, 1);
	char *buf = NULL, *nb;
	size_t cap = 0, n = 0, r;

	for (;;) {
		if (cap - n < 65536) {
			cap = cap ? 2 * cap : 1 << 16;
			if ((nb = realloc(buf, cap + 1)) == NULL)
				bn_errx(EX_OSERR, "out of memory");
			buf = nb;
		}
		r = fread(buf + n, 1, cap - n, fp);
		n += r;
		if (r == 0)
			break;
	}
	if (ferror(fp))
		bn_err(EX_IOERR, "%s", bn_display_name(path));
	if (fp != stdin)
		fclose(fp);
	buf[n] = '\0';
	*len = n;
	return buf;
}
