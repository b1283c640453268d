/* status.h: library status codes and their mapping to exit codes. */
#ifndef BN_STATUS_H
#define BN_STATUS_H

#include <stdarg.h>
#include <stddef.h>

/* Library functions return BN_OK (0), BN_END (1, end of stream) or a
 * negative BN_E* code; they never print or exit. */
enum bn_status {
	BN_OK = 0,
	BN_END = 1,		/* no more records */
	BN_EFORMAT = -1,	/* input is not valid (65) */
	BN_EIO = -2,		/* read or write error (74) */
	BN_ENOMEM = -3,		/* out of memory, mmap failed (71) */
	BN_ENOINPUT = -4,	/* cannot open an input (66) */
	BN_ECANTCREAT = -5,	/* cannot create an output (73) */
	BN_EUNSUPPORTED = -6,	/* valid but not supported here (65) */
	BN_EUSAGE = -7,		/* caller passed bad arguments (64) */
	BN_EINTERNAL = -8,	/* a self-check failed (70) */
};

/* A detail string, kept by handles and importers as libarchive does. */
struct bn_err {
	char msg[512];
};

const char *bn_strerror(int status);
int bn_exit_code(int status);

/* bn_seterr: format a detail into e (if not NULL); returns status. */
int bn_seterr(struct bn_err *e, int status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Put "prefix: " in front of e's detail (prefix formatted). */
void bn_err_prefix(struct bn_err *e, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
int bn_vseterr(struct bn_err *e, int status, const char *fmt, va_list ap);

#endif
