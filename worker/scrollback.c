/* SPDX-License-Identifier: ISC */
/*
 * The scrollback ring: the most recent output of the session, kept whether
 * or not a browser is attached, so that a browser that attaches or
 * re-syncs gets the screen back.
 *
 * The ring is one buffer of a fixed size with a head (where the next byte
 * goes) and a fill count. Appending copies at most two spans and moves the
 * head; an append larger than the ring keeps only its tail. The contents,
 * oldest first, start at head - len, wrapped: the span from there to the
 * end of the buffer, then the span from the start of the buffer to head.
 */
#include <stdlib.h>
#include <string.h>

#include "common/xmalloc.h"
#include "worker/worker.h"

struct scrollback {
	unsigned char *buf;
	size_t size;
	size_t head; /* where the next byte goes */
	size_t len;  /* bytes held, at most size */
};

struct scrollback *
scrollback_new(size_t size)
{
	struct scrollback *sb;

	sb = xcalloc(1, sizeof(*sb));
	sb->buf = xmalloc(size);
	sb->size = size;
	return sb;
}

void
scrollback_free(struct scrollback *sb)
{
	if (sb == NULL)
		return;
	free(sb->buf);
	free(sb);
}

void
scrollback_append(struct scrollback *sb, const void *data, size_t len)
{
	const unsigned char *p = data;
	size_t n;

	if (sb->size == 0 || len == 0)
		return;
	if (len > sb->size) {
		p += len - sb->size;
		len = sb->size;
	}
	n = sb->size - sb->head;
	if (n > len)
		n = len;
	memcpy(sb->buf + sb->head, p, n);
	memcpy(sb->buf, p + n, len - n);
	sb->head = (sb->head + len) % sb->size;
	sb->len += len;
	if (sb->len > sb->size)
		sb->len = sb->size;
}

void
scrollback_prepend(struct scrollback *sb, const void *data, size_t len)
{
	unsigned char *held;
	size_t n;

	held = xmalloc(sb->len + 1);
	n = scrollback_copy(sb, held, sb->len);
	sb->head = sb->len = 0;
	scrollback_append(sb, data, len);
	scrollback_append(sb, held, n);
	free(held);
}

size_t
scrollback_len(const struct scrollback *sb)
{
	return sb->len;
}

void
scrollback_spans(const struct scrollback *sb, const unsigned char **p1,
    size_t *l1, const unsigned char **p2, size_t *l2)
{
	size_t start;

	if (sb->len <= sb->head) {
		*p1 = sb->buf + sb->head - sb->len;
		*l1 = sb->len;
		*p2 = sb->buf;
		*l2 = 0;
		return;
	}
	start = sb->size - (sb->len - sb->head);
	*p1 = sb->buf + start;
	*l1 = sb->size - start;
	*p2 = sb->buf;
	*l2 = sb->head;
}

size_t
scrollback_copy(const struct scrollback *sb, void *out, size_t len)
{
	const unsigned char *p1, *p2;
	size_t l1, l2;

	scrollback_spans(sb, &p1, &l1, &p2, &l2);
	if (l1 > len)
		l1 = len;
	memcpy(out, p1, l1);
	len -= l1;
	if (l2 > len)
		l2 = len;
	memcpy((unsigned char *)out + l1, p2, l2);
	return l1 + l2;
}
