/* err.h: diagnostics for tools (err(3) style); only tools call these. */
#ifndef BN_ERR_H
#define BN_ERR_H

#include <stdarg.h>

extern const char *bn_progname;

void bn_setprogname(const char *argv0);
void bn_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void bn_warnx(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
_Noreturn void bn_err(int code, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
_Noreturn void bn_errx(int code, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

#endif
