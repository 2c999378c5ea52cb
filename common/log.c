/* SPDX-License-Identifier: ISC */
/*
 * Log lines go to stderr, one write(2) each so that lines of concurrent
 * processes sharing the stream do not interleave:
 *   2026-11-28T02:30:01.123Z front[1234] s=0123abcd...: message
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "log.h"

static char log_proc[32] = "alia";
static uint64_t log_session;
static int log_verbose;

void
log_init(const char *procname, int verbose)
{
	log_setproc(procname);
	log_verbose = verbose;
}

void
log_setproc(const char *procname)
{
	snprintf(log_proc, sizeof(log_proc), "%s", procname);
}

void
log_setsession(uint64_t id)
{
	log_session = id;
}

int
log_getverbose(void)
{
	return log_verbose;
}

static void
log_vline(const char *level, const char *fmt, va_list ap, const char *err)
{
	char line[2048], stamp[32];
	struct timeval tv;
	struct tm tm;
	size_t n;
	int r;

	gettimeofday(&tv, NULL);
	gmtime_r(&tv.tv_sec, &tm);
	strftime(stamp, sizeof(stamp), "%Y-%m-%dT%H:%M:%S", &tm);
	if (log_session != 0)
		r = snprintf(line, sizeof(line),
		    "%s.%03ldZ %s[%ld] s=%016llx %s", stamp,
		    (long)(tv.tv_usec / 1000), log_proc, (long)getpid(),
		    (unsigned long long)log_session, level);
	else
		r = snprintf(line, sizeof(line), "%s.%03ldZ %s[%ld] %s", stamp,
		    (long)(tv.tv_usec / 1000), log_proc, (long)getpid(), level);
	n = r < 0 ? 0 : (size_t)r;
	if (n < sizeof(line)) {
		r = vsnprintf(line + n, sizeof(line) - n, fmt, ap);
		n += r < 0 ? 0 : (size_t)r;
	}
	if (err != NULL && n < sizeof(line)) {
		r = snprintf(line + n, sizeof(line) - n, ": %s", err);
		n += r < 0 ? 0 : (size_t)r;
	}
	if (n >= sizeof(line) - 1)
		n = sizeof(line) - 2;
	line[n++] = '\n';
	(void)!write(STDERR_FILENO, line, n);
}

void
log_warn(const char *fmt, ...)
{
	va_list ap;
	int saved = errno;

	va_start(ap, fmt);
	log_vline("", fmt, ap, strerror(saved));
	va_end(ap);
	errno = saved;
}

void
log_warnx(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vline("", fmt, ap, NULL);
	va_end(ap);
}

void
log_info(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vline("", fmt, ap, NULL);
	va_end(ap);
}

void
log_debug(const char *fmt, ...)
{
	va_list ap;

	if (!log_verbose)
		return;
	va_start(ap, fmt);
	log_vline("debug: ", fmt, ap, NULL);
	va_end(ap);
}

void
fatal(const char *fmt, ...)
{
	va_list ap;
	int saved = errno;

	va_start(ap, fmt);
	log_vline("fatal: ", fmt, ap, strerror(saved));
	va_end(ap);
	exit(1);
}

void
fatalx(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vline("fatal: ", fmt, ap, NULL);
	va_end(ap);
	exit(1);
}
