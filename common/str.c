/* SPDX-License-Identifier: ISC */
/*
 * Checked copies, formats, number parsing, buffer filling, base64; see
 * str.h.
 */
#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <bsd/stdlib.h>
#include <bsd/string.h>

#include "common/str.h"

int
str_copy(char *dst, size_t size, const char *src)
{
	return strlcpy(dst, src, size) < size ? 0 : -1;
}

int
str_fmt(char *dst, size_t size, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(dst, size, fmt, ap);
	va_end(ap);
	return n < 0 || (size_t)n >= size ? -1 : 0;
}

int
str_num(const char *s, long long min, long long max, long long *out)
{
	const char *err = NULL;
	const char *p = s[0] == '-' ? s + 1 : s;
	long long n;

	/* strtonum would take leading spaces and a '+'; text is exact. */
	if (!isdigit((unsigned char)*p))
		return -1;
	for (; *p != '\0'; p++)
		if (!isdigit((unsigned char)*p))
			return -1;
	n = strtonum(s, min, max, &err);
	if (err != NULL)
		return -1;
	*out = n;
	return 0;
}

void
str_fill(
    void *buf, size_t *have, size_t cap, const unsigned char **p, size_t *len)
{
	size_t n = cap - *have;

	if (n > *len)
		n = *len;
	memcpy((unsigned char *)buf + *have, *p, n);
	*have += n;
	*p += n;
	*len -= n;
}

int
str_base64(char *dst, size_t size, const void *src, size_t len)
{
	static const char digits[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
	                             "abcdefghijklmnopqrstuvwxyz0123456789+/";
	const unsigned char *p = src;
	unsigned long v;
	size_t i, o = 0;

	if (size == 0 || len > (size - 1) / 4 * 3)
		return -1;
	for (i = 0; i < len; i += 3) {
		v = (unsigned long)p[i] << 16;
		if (i + 1 < len)
			v |= (unsigned long)p[i + 1] << 8;
		if (i + 2 < len)
			v |= p[i + 2];
		dst[o++] = digits[v >> 18 & 63];
		dst[o++] = digits[v >> 12 & 63];
		dst[o++] = i + 1 < len ? digits[v >> 6 & 63] : '=';
		dst[o++] = i + 2 < len ? digits[v & 63] : '=';
	}
	dst[o] = '\0';
	return 0;
}
