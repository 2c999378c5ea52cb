/* SPDX-License-Identifier: ISC */
/*
 * Search text from terminal output, made in C where the bytes are: the
 * same text as sql/002's alia.plain_text(alia.utf8_lenient(data)), which
 * alia.index_pending() stores and alia.search() reads.
 *
 * The cleaning runs as five passes, in the order the SQL runs its own,
 * each over the output of the one before and writing in place after the
 * first (none of the last four makes text longer):
 *  1. decode: valid UTF-8 is copied, a NUL byte dropped, every other byte
 *     that does not start a valid sequence becomes U+FFFD (so the output
 *     needs up to three bytes per input byte);
 *  2. escapes: ESC [ parameters, intermediates and an optional final
 *     byte; ESC ] P X ^ _ (the string sequences) up to BEL or ESC \, or
 *     to the end; any other ESC with its intermediates and an optional
 *     final byte; a lone ESC alone;
 *  3. backspace: a character other than LF or BS before a BS goes with it;
 *  4. carriage return: a run of CR, with the LF after it if there is one,
 *     becomes one LF;
 *  5. controls: C0 controls other than TAB and LF, DEL and the C1 controls
 *     (U+0080 to U+009F) go.
 * From pass 2 on the text is valid UTF-8, so a character's length is read
 * from its first byte; only pass 3 has to step by characters.
 */
#include <stdlib.h>
#include <string.h>

#include "common/xmalloc.h"
#include "recorder/recorder.h"

#define ESC 0x1b
#define BEL 0x07

/* The length of the valid UTF-8 sequence at p (n bytes left), 0: none. */
static size_t
text_utf8_len(const unsigned char *p, size_t n)
{
	unsigned char lo = 0x80, hi = 0xbf;
	size_t need, k;

	if (p[0] < 0x80)
		return 1;
	if (p[0] >= 0xc2 && p[0] <= 0xdf)
		need = 1;
	else if (p[0] >= 0xe0 && p[0] <= 0xef)
		need = 2;
	else if (p[0] >= 0xf0 && p[0] <= 0xf4)
		need = 3;
	else
		return 0;
	if (p[0] == 0xe0)
		lo = 0xa0;
	else if (p[0] == 0xed)
		hi = 0x9f;
	else if (p[0] == 0xf0)
		lo = 0x90;
	else if (p[0] == 0xf4)
		hi = 0x8f;
	if (need >= n || p[1] < lo || p[1] > hi)
		return 0;
	for (k = 2; k <= need; k++)
		if (p[k] < 0x80 || p[k] > 0xbf)
			return 0;
	return need + 1;
}

/* Pass 1: in (len bytes) as UTF-8 into out (3 * len bytes at least). */
static size_t
text_decode(const unsigned char *in, size_t len, unsigned char *out)
{
	size_t i = 0, o = 0, n;

	while (i < len) {
		if ((n = text_utf8_len(in + i, len - i)) > 0) {
			if (in[i] != '\0') {
				memcpy(out + o, in + i, n);
				o += n;
			}
			i += n;
			continue;
		}
		memcpy(out + o, "\xef\xbf\xbd", 3);
		o += 3;
		i++;
	}
	return o;
}

/* The end of the escape sequence whose ESC is at s[i]. */
static size_t
text_escape_end(const unsigned char *s, size_t len, size_t i)
{
	i++;
	if (i < len && s[i] == '[') {
		for (i++; i < len && s[i] >= 0x30 && s[i] <= 0x3f; i++)
			;
		for (; i < len && s[i] >= 0x20 && s[i] <= 0x2f; i++)
			;
		return i < len && s[i] >= 0x40 && s[i] <= 0x7e ? i + 1 : i;
	}
	if (i < len && strchr("]PX^_", s[i]) != NULL && s[i] != '\0') {
		for (i++; i < len && s[i] != BEL && s[i] != ESC; i++)
			;
		if (i < len && s[i] == BEL)
			return i + 1;
		if (i + 1 < len && s[i] == ESC && s[i + 1] == '\\')
			return i + 2;
		return i;
	}
	for (; i < len && s[i] >= 0x20 && s[i] <= 0x2f; i++)
		;
	return i < len && s[i] >= 0x30 && s[i] <= 0x7e ? i + 1 : i;
}

/* Pass 2: escape sequences out. */
static size_t
text_escapes(unsigned char *s, size_t len)
{
	size_t i = 0, o = 0;

	while (i < len) {
		if (s[i] == ESC)
			i = text_escape_end(s, len, i);
		else
			s[o++] = s[i++];
	}
	return o;
}

/* The length of the UTF-8 character whose first byte is c. */
static size_t
text_char_len(unsigned char c)
{
	if (c < 0xc0)
		return 1;
	if (c < 0xe0)
		return 2;
	return c < 0xf0 ? 3 : 4;
}

/* Pass 3: a character before a backspace goes with it. */
static size_t
text_backspaces(unsigned char *s, size_t len)
{
	size_t i = 0, o = 0, n;

	while (i < len) {
		n = text_char_len(s[i]);
		if (s[i] != '\n' && s[i] != '\b' && i + n < len &&
		    s[i + n] == '\b') {
			i += n + 1;
			continue;
		}
		memmove(s + o, s + i, n);
		o += n;
		i += n;
	}
	return o;
}

/* Pass 4: a run of CR and the LF after it, if any, as one LF. */
static size_t
text_returns(unsigned char *s, size_t len)
{
	size_t i = 0, o = 0;

	while (i < len) {
		if (s[i] != '\r') {
			s[o++] = s[i++];
			continue;
		}
		while (i < len && s[i] == '\r')
			i++;
		if (i < len && s[i] == '\n')
			i++;
		s[o++] = '\n';
	}
	return o;
}

/* Pass 5: control characters but TAB and LF out, C1 (C2 80-9F) too. */
static size_t
text_controls(unsigned char *s, size_t len)
{
	size_t i = 0, o = 0;

	while (i < len) {
		if ((s[i] < 0x20 && s[i] != '\t' && s[i] != '\n') ||
		    s[i] == 0x7f)
			i++;
		else if (s[i] == 0xc2 && i + 1 < len && s[i + 1] < 0xa0)
			i += 2;
		else
			s[o++] = s[i++];
	}
	return o;
}

char *
recorder_text_clean(const void *data, size_t len, size_t *lenp)
{
	unsigned char *s;
	size_t n;

	s = xreallocarray(NULL, len + 1, 3);
	n = text_decode(data, len, s);
	n = text_escapes(s, n);
	n = text_backspaces(s, n);
	n = text_returns(s, n);
	n = text_controls(s, n);
	s[n] = '\0';
	*lenp = n;
	return (char *)s;
}

size_t
recorder_text_chars(const char *s, size_t len)
{
	size_t i, n = 0;

	for (i = 0; i < len; i++)
		if (((unsigned char)s[i] & 0xc0) != 0x80)
			n++;
	return n;
}

size_t
recorder_text_last(const char *s, size_t len, size_t chars)
{
	size_t i = len;

	while (i > 0 && chars > 0) {
		i--;
		if (((unsigned char)s[i] & 0xc0) != 0x80)
			chars--;
	}
	return i;
}
