/* SPDX-License-Identifier: ISC */
/*
 * Checked strings and numbers for text from outside (configuration,
 * environment, Docker's answers, database rows): a copy or a format that
 * says when it did not fit instead of cutting silently, and a decimal
 * parser with a range that refuses anything but a whole number; the
 * filling of a fixed buffer from a stream of bytes, as far as it goes; and
 * base64, which the websocket handshake needs and the worker has no
 * library for.
 */
#ifndef ALIA_STR_H
#define ALIA_STR_H

#include <stddef.h>

/* Copies src into dst of size bytes; -1 if it did not fit (cut short). */
int str_copy(char *dst, size_t size, const char *src);
/* snprintf into dst of size bytes; -1 if it failed or was cut short. */
int str_fmt(char *dst, size_t size, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/*
 * Parses s, a whole decimal number (an optional '-', then digits only),
 * into *out when it lies in [min, max]; else -1 and *out is untouched.
 */
int str_num(const char *s, long long min, long long max, long long *out);
/*
 * Copies what fits of the *len bytes at *p into buf, which holds *have of
 * cap bytes, and moves *have, *p and *len past what it copied.
 */
void str_fill(
    void *buf, size_t *have, size_t cap, const unsigned char **p, size_t *len);
/*
 * Writes len bytes of src as padded base64 (RFC 4648) and a NUL into dst
 * of size bytes; -1 if it did not fit (dst is then untouched).
 */
int str_base64(char *dst, size_t size, const void *src, size_t len);

#endif
