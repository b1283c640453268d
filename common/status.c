/* status.c: status strings, exit codes, detail strings. */
#include <stdio.h>
#include <string.h>
#include <sysexits.h>

#include "status.h"

const char *
bn_strerror(int status)
{
	switch (status) {
	case BN_OK: return "success";
	case BN_END: return "end of stream";
	case BN_EFORMAT: return "invalid data";
	case BN_EIO: return "input/output error";
	case BN_ENOMEM: return "out of memory";
	case BN_ENOINPUT: return "cannot open input";
	case BN_ECANTCREAT: return "cannot create output";
	case BN_EUNSUPPORTED: return "unsupported";
	case BN_EUSAGE: return "invalid argument";
	default: return "internal error";
	}
}

int
bn_exit_code(int status)
{
	switch (status) {
	case BN_OK:
	case BN_END: return 0;
	case BN_EFORMAT:
	case BN_EUNSUPPORTED: return EX_DATAERR;
	case BN_EIO: return EX_IOERR;
	case BN_ENOMEM: return EX_OSERR;
	case BN_ENOINPUT: return EX_NOINPUT;
	case BN_ECANTCREAT: return EX_CANTCREAT;
	case BN_EUSAGE: return EX_USAGE;
	default: return EX_SOFTWARE;
	}
}

int
bn_vseterr(struct bn_err *e, int status, const char *fmt, va_list ap)
{
	if (e != NULL)
		vsnprintf(e->msg, sizeof e->msg, fmt, ap);
	return status;
}

int
bn_seterr(struct bn_err *e, int status, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	bn_vseterr(e, status, fmt, ap);
	va_end(ap);
	return status;
}

void
bn_err_prefix(struct bn_err *e, const char *fmt, ...)
{
	char pfx[128];
	size_t n, m;
	va_list ap;
	int k;

	if (e == NULL)
		return;
	va_start(ap, fmt);
	k = vsnprintf(pfx, sizeof pfx - 2, fmt, ap);
	va_end(ap);
	if (k < 0)
		return;
	n = strlen(pfx);
	pfx[n++] = ':';
	pfx[n++] = ' ';
	m = strlen(e->msg);
	if (n + m >= sizeof e->msg)
		m = sizeof e->msg - n - 1;
	memmove(e->msg + n, e->msg, m);
	memcpy(e->msg, pfx, n);
	e->msg[n + m] = '\0';
}
