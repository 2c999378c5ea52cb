/* SPDX-License-Identifier: ISC */
/*
 * Allocation wrappers: every one aborts the process on out-of-memory, so
 * callers never check for NULL.
 */
#ifndef ALIA_XMALLOC_H
#define ALIA_XMALLOC_H

#include <stddef.h>

void *xmalloc(size_t);
void *xcalloc(size_t, size_t);
void *xreallocarray(void *, size_t, size_t);
char *xstrdup(const char *);
char *xstrndup(const char *, size_t);
int xasprintf(char **, const char *, ...) __attribute__((format(printf, 2, 3)));

#endif
