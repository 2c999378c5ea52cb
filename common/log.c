/* SPDX-License-Identifier: ISC */
/*
 * Log lines go to stderr, one write(2) each so that lines of concurrent
 * processes sharing the stream do not interleave: the UTC time, the
 * process name and pid, the session (log_setsession: 16 hex digits) when
 * one is set, "debug: " or "fatal: " for those levels, the message, and
 * for log_warn and fatal the error's text after a colon:
 *   2026-11-28T02:30:01.123Z master[85] stopping
 *   2026-11-28T02:30:01.125Z master[85] debug: front ready (pid 86)
 *   2026-11-28T02:30:01.130Z worker[87] s=000000000000002a every event is acked
 * Control characters in a message are escaped (log_escape), so that text
 * from outside (a user name, a header) cannot forge or colour a line.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "common/log.h"
#include "common/uuid.h"

static char log_proc[32] = "alia";
static char log_session[UUID_TEXT]; /* empty: none */
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
log_setsession(const struct uuid *session)
{
	if (session == NULL)
		log_session[0] = '\0';
	else
		uuid_format(session, log_session);
}

int
log_getverbose(void)
{
	return log_verbose;
}

size_t
log_escape(char *dst, size_t len, const char *src)
{
	static const char hex[] = "0123456789abcdef";
	const unsigned char *p = (const unsigned char *)src;
	char e[5];
	size_t n = 0, k;

	if (len == 0)
		return 0;
	for (; *p != '\0'; p++) {
		e[0] = (char)*p;
		k = 1;
		if (*p < 0x20 || *p == 0x7f) {
			e[0] = '\\';
			k = 2;
			if (*p == '\n')
				e[1] = 'n';
			else if (*p == '\r')
				e[1] = 'r';
			else if (*p == '\t')
				e[1] = 't';
			else {
				e[1] = 'x';
				e[2] = hex[*p >> 4];
				e[3] = hex[*p & 15];
				k = 4;
			}
		}
		if (n + k >= len)
			break; /* truncated, never in the middle of an escape */
		memcpy(dst + n, e, k);
		n += k;
	}
	dst[n] = '\0';
	return n;
}

static void
log_vline(const char *level, const char *fmt, va_list ap, const char *err)
{
	char line[2048], stamp[32], msg[2048];
	struct timeval tv;
	struct tm tm;
	size_t n;
	int r;

	gettimeofday(&tv, NULL);
	gmtime_r(&tv.tv_sec, &tm);
	strftime(stamp, sizeof(stamp), "%Y-%m-%dT%H:%M:%S", &tm);
	if (log_session[0] != '\0')
		r = snprintf(line, sizeof(line), "%s.%03ldZ %s[%ld] s=%s %s",
		    stamp, (long)(tv.tv_usec / 1000), log_proc, (long)getpid(),
		    log_session, level);
	else
		r = snprintf(line, sizeof(line), "%s.%03ldZ %s[%ld] %s", stamp,
		    (long)(tv.tv_usec / 1000), log_proc, (long)getpid(), level);
	n = r < 0 ? 0 : (size_t)r;
	if (n < sizeof(line)) {
		r = vsnprintf(msg, sizeof(msg), fmt, ap);
		/* A libpq message ends in a newline of its own. */
		for (r = (int)strnlen(msg, sizeof(msg));
		     r > 0 && (msg[r - 1] == '\n' || msg[r - 1] == ' ');)
			msg[--r] = '\0';
		n += log_escape(line + n, sizeof(line) - n, msg);
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
