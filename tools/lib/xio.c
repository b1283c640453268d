/* xio.c: tool-side files (see xio.h). */
#include <sys/stat.h>

#include <dirent.h>
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

/* the tool's other temporaries (bn_tmp_mkstemp...), in the order made:
 * the files in a directory come after it */
struct tmp {
	char *path;
	int dir;
};
static struct tmp *volatile tmps;
static volatile sig_atomic_t ntmps;
static const int sigs[] = { SIGHUP, SIGINT, SIGPIPE, SIGTERM };

/* the files a tool reads, which no output may be (bn_note_input) */
struct input {
	dev_t dev;
	ino_t ino;
	char *name;
};
static struct input *inputs;
static size_t ninputs;

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

/* Only regular files are noted: a terminal or a pipe may well be both
 * a tool's input and its output. */
static void
note(const struct stat *sb, const char *name)
{
	struct input *ni;

	if (!S_ISREG(sb->st_mode))
		return;
	if ((ni = realloc(inputs, (ninputs + 1) * sizeof *ni)) == NULL ||
	    (ni[ninputs].name = strdup(name)) == NULL)
		bn_errx(EX_OSERR, "out of memory");
	ni[ninputs].dev = sb->st_dev;
	ni[ninputs].ino = sb->st_ino;
	inputs = ni;
	ninputs++;
}

void
bn_note_input(const char *path)
{
	char sub[4096];
	struct dirent *d;
	struct stat sb;
	DIR *dp;

	if (path == NULL || strcmp(path, "-") == 0) {
		if (fstat(STDIN_FILENO, &sb) == 0)
			note(&sb, "<stdin>");
		return;
	}
	if (stat(path, &sb) != 0)
		return;		/* the tool's open says why */
	if (!S_ISDIR(sb.st_mode)) {
		note(&sb, path);
		return;
	}
	/* a model directory: the files bn_fileset_from_dir reads */
	if ((dp = opendir(path)) == NULL)
		return;
	while ((d = readdir(dp)) != NULL) {
		if (d->d_name[0] == '.' || (size_t)snprintf(sub, sizeof sub,
		    "%s/%s", path, d->d_name) >= sizeof sub)
			continue;
		if (stat(sub, &sb) == 0)
			note(&sb, sub);
	}
	closedir(dp);
}

FILE *
bn_open_in(const char *path, int binary, int force)
{
	struct stat sb;
	FILE *fp;

	if (path == NULL || strcmp(path, "-") == 0) {
		if (binary && !force && isatty(STDIN_FILENO))
			bn_errx(EX_USAGE, "refusing to read binary data from "
			    "a terminal; use --force");
		bn_note_input("-");
		return stdin;
	}
	if ((fp = fopen(path, "rb")) == NULL)
		bn_err(EX_NOINPUT, "%s", path);
	if (fstat(fileno(fp), &sb) == 0)
		note(&sb, path);
	return fp;
}

void
bn_out_check(const char *path)
{
	const char *name = path;
	struct stat sb;
	size_t i;
	int r;

	if (path == NULL || strcmp(path, "-") == 0) {
		r = fstat(STDOUT_FILENO, &sb);
		name = "<stdout>";
	} else
		r = stat(path, &sb);
	if (r != 0 || S_ISDIR(sb.st_mode))
		return;
	for (i = 0; i < ninputs; i++)
		if (inputs[i].dev == sb.st_dev && inputs[i].ino == sb.st_ino)
			bn_errx(EX_USAGE, "%s: output is the same file as "
			    "input %s", name, inputs[i].name);
}

char *
bn_out_target(const char *path)
{
	char lnk[4096], *cur, *nb;
	const char *slash;
	struct stat sb;
	size_t dir;
	ssize_t n;
	int hops;

	if ((cur = strdup(path)) == NULL)
		bn_errx(EX_OSERR, "out of memory");
	for (hops = 0; hops < 40; hops++) {
		if (strncmp(cur, "/proc/", 6) == 0 ||
		    strncmp(cur, "/dev/fd/", 8) == 0) {
			free(cur);
			return NULL;
		}
		if (lstat(cur, &sb) != 0 || !S_ISLNK(sb.st_mode) ||
		    (n = readlink(cur, lnk, sizeof lnk - 1)) <= 0)
			break;
		lnk[n] = '\0';
		/* a relative link is relative to its own directory */
		slash = strrchr(cur, '/');
		dir = lnk[0] == '/' || slash == NULL ? 0 :
		    (size_t)(slash - cur) + 1;
		if ((nb = malloc(dir + (size_t)n + 1)) == NULL)
			bn_errx(EX_OSERR, "out of memory");
		memcpy(nb, cur, dir);
		memcpy(nb + dir, lnk, (size_t)n + 1);
		free(cur);
		cur = nb;
	}
	if (hops == 40) {
		errno = ELOOP;
		bn_err(EX_CANTCREAT, "%s", path);
	}
	return cur;
}

/* Async-signal-safe: unlink and rmdir only. */
static void
remove_pending(void)
{
	sig_atomic_t i;

	if (pending_tmp != NULL)
		unlink(pending_tmp);
	for (i = ntmps; i-- > 0; )
		if (tmps[i].dir)
			rmdir(tmps[i].path);
		else
			unlink(tmps[i].path);
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
	size_t i;

	if (handlers_set)
		return;
	atexit(remove_pending);
	for (i = 0; i < sizeof sigs / sizeof sigs[0]; i++)
		signal(sigs[i], on_signal);
	handlers_set = 1;
}

/* Block the handlers' signals while the list changes (block set) or
 * restore the mask (block clear). */
static void
mask(int block, sigset_t *old)
{
	sigset_t set;
	size_t i;

	if (!block) {
		sigprocmask(SIG_SETMASK, old, NULL);
		return;
	}
	sigemptyset(&set);
	for (i = 0; i < sizeof sigs / sizeof sigs[0]; i++)
		sigaddset(&set, sigs[i]);
	sigprocmask(SIG_BLOCK, &set, old);
}

/* Add a copy of path to the list; the caller blocks the signals. */
static void
tmp_add(const char *path, int dir)
{
	struct tmp *nt;
	char *p;

	if ((p = strdup(path)) == NULL || (nt = malloc(((size_t)ntmps + 1) *
	    sizeof *nt)) == NULL)
		bn_errx(EX_OSERR, "out of memory");
	if (ntmps > 0)
		memcpy(nt, tmps, (size_t)ntmps * sizeof *nt);
	nt[ntmps].path = p;
	nt[ntmps].dir = dir;
	free(tmps);
	tmps = nt;
	ntmps++;
}

int
bn_tmp_mkstemp(char *tmpl)
{
	sigset_t old;
	int fd;

	set_handlers();
	mask(1, &old);
	if ((fd = mkstemp(tmpl)) >= 0)
		tmp_add(tmpl, 0);
	mask(0, &old);
	return fd;
}

char *
bn_tmp_mkdtemp(char *tmpl)
{
	sigset_t old;
	char *d;

	set_handlers();
	mask(1, &old);
	if ((d = mkdtemp(tmpl)) != NULL)
		tmp_add(tmpl, 1);
	mask(0, &old);
	return d;
}

void
bn_tmp_note(const char *path)
{
	sigset_t old;

	mask(1, &old);
	tmp_add(path, 0);
	mask(0, &old);
}

void
bn_tmp_forget(const char *path)
{
	size_t n = strlen(path), i, j;
	sigset_t old;

	mask(1, &old);
	for (i = j = 0; i < (size_t)ntmps; i++)
		if (strcmp(tmps[i].path, path) == 0 ||
		    (strncmp(tmps[i].path, path, n) == 0 &&
		    tmps[i].path[n] == '/'))
			free(tmps[i].path);
		else
			tmps[j++] = tmps[i];
	ntmps = (sig_atomic_t)j;
	mask(0, &old);
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
	char *target;
	size_t n;
	int fd;

	memset(o, 0, sizeof *o);
	bn_out_check(path);
	if (path == NULL || strcmp(path, "-") == 0) {
		o->fp = stdout;
		o->name = "<stdout>";
		if (binary && !force && isatty(STDOUT_FILENO))
			bn_errx(EX_USAGE, "refusing to write binary data to a "
			    "terminal; use -o or --force");
		return;
	}
	o->name = path;
	target = bn_out_target(path);
	if (target == NULL || (stat(path, &sb) == 0 && !S_ISREG(sb.st_mode))) {
		/* a device, a FIFO, /dev/stdout (even when it is a regular
		 * file): write in place, never replace it */
		free(target);
		if ((o->fp = fopen(path, "wb")) == NULL)
			bn_err(EX_CANTCREAT, "%s", path);
		if (binary && !force && isatty(fileno(o->fp)))
			bn_errx(EX_USAGE, "refusing to write binary data to a "
			    "terminal; use --force");
		o->buf = bn_outbuf(o->fp);
		return;
	}
	/* a regular file, or none yet: write beside the file the links
	 * lead to, and rename over it (the links stay) */
	o->path = target;
	n = strlen(target) + sizeof ".tmp.XXXXXX";
	if ((o->tmp = malloc(n)) == NULL)
		bn_errx(EX_OSERR, "out of memory");
	snprintf(o->tmp, n, "%s.tmp.XXXXXX", target);
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
			bn_err(EX_CANTCREAT, "%s", o->name);
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
