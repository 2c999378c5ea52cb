/* SPDX-License-Identifier: ISC */
/*
 * Logging for every process: each line is prefixed with the process name
 * and, while one is set, the session id it concerns.
 */
#ifndef ALIA_LOG_H
#define ALIA_LOG_H

#include <stdint.h>

#define LOG_FMT(a, b) __attribute__((format(printf, a, b)))

/* Starts logging to stderr; verbose enables log_debug. */
void log_init(const char *procname, int verbose);
void log_setproc(const char *procname);
/* Sets the session id prefixed to every line; 0 clears it. */
void log_setsession(uint64_t id);
int log_getverbose(void);

void log_warn(const char *, ...) LOG_FMT(1, 2);
void log_warnx(const char *, ...) LOG_FMT(1, 2);
void log_info(const char *, ...) LOG_FMT(1, 2);
void log_debug(const char *, ...) LOG_FMT(1, 2);
__attribute__((noreturn)) void fatal(const char *, ...) LOG_FMT(1, 2);
__attribute__((noreturn)) void fatalx(const char *, ...) LOG_FMT(1, 2);

#endif
