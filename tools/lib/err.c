/* err.c: one-line diagnostics prefixed with the tool name. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"

const char *bn_progname = "bntools";

void
bn_setprogname(const char *argv0)
{
	const char *p;

	if (argv0 == NULL || *argv0 == '\0')
		return;
	p = strrchr(argv0, '/');
	bn_progname = p != NULL ? p + 1 : argv0;
}

static void
vwarnc(int code, const char *fmt, va_list ap)
{
	fprintf(stderr, "%s: ", bn_progname);
	vfprintf(stderr, fmt, ap);
	if (code != 0)
		fprintf(stderr, ": %s", strerror(code));
	fputc('\n', stderr);
}

void
bn_warn(const char *fmt, ...)
{
	va_list ap;
	int e = errno;

	va_start(ap, fmt);
	vwarnc(e, fmt, ap);
	va_end(ap);
}

void
bn_warnx(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vwarnc(0, fmt, ap);
	va_end(ap);
}

void
bn_err(int code, const char *fmt, ...)
{
	va_list ap;
	int e = errno;

	va_start(ap, fmt);
	vwarnc(e, fmt, ap);
	va_end(ap);
	exit(code);
}

void
bn_errx(int code, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vwarnc(0, fmt, ap);
	va_end(ap);
	exit(code);
}
