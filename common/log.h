/* SPDX-License-Identifier: ISC */
/*
 * Logging for every process: each line is prefixed with the process name
 * and, while one is set, the session id it concerns.
 */
#ifndef ALIA_LOG_H
#define ALIA_LOG_H

#include <stddef.h>
#include <stdint.h>

struct uuid;

#define LOG_FMT(a, b) __attribute__((format(printf, a, b)))

/* Starts logging to stderr; verbose enables log_debug. */
void log_init(const char *procname, int verbose);
void log_setproc(const char *procname);
/* Sets the session prefixed to every line; NULL clears it. */
void log_setsession(const struct uuid *);
int log_getverbose(void);

/*
 * Copies src to dst (len bytes, NUL-terminated), its control characters
 * escaped: \n \r \t, else \xHH; cut short rather than overflow. The one
 * way text from outside is made safe for a log line or alia.audit.
 * Returns the length written.
 */
size_t log_escape(char *dst, size_t len, const char *src);
/* A buffer that holds n bytes escaped, and the NUL. */
#define LOG_ESCAPED(n) (4 * (n) + 1)

void log_warn(const char *, ...) LOG_FMT(1, 2);
void log_warnx(const char *, ...) LOG_FMT(1, 2);
void log_info(const char *, ...) LOG_FMT(1, 2);
void log_debug(const char *, ...) LOG_FMT(1, 2);
__attribute__((noreturn)) void fatal(const char *, ...) LOG_FMT(1, 2);
__attribute__((noreturn)) void fatalx(const char *, ...) LOG_FMT(1, 2);

#endif
