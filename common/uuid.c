/* SPDX-License-Identifier: ISC */
/*
 * The text form of a session's 128-bit id, both ways. Only the canonical
 * form is read (36 characters, lower-case hex, dashes after the 8th,
 * 12th, 16th and 20th digit), so that parsing and formatting give back
 * the same text and one session never has two spellings.
 */
#include <stdio.h>
#include <string.h>

#include "common/uuid.h"

static int
uuid_nibble(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

int
uuid_parse(const char *text, struct uuid *u)
{
	size_t i, n = 0;
	int hi, lo;

	for (i = 0; n < sizeof(u->b); n++) {
		if (i == 8 || i == 13 || i == 18 || i == 23) {
			if (text[i++] != '-')
				return -1;
		}
		if ((hi = uuid_nibble(text[i])) == -1 ||
		    (lo = uuid_nibble(text[i + 1])) == -1)
			return -1;
		u->b[n] = (uint8_t)(hi << 4 | lo);
		i += 2;
	}
	return text[i] == '\0' ? 0 : -1;
}

void
uuid_format(const struct uuid *u, char *out)
{
	const uint8_t *b = u->b;

	snprintf(out, UUID_TEXT,
	    "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-"
	    "%02x%02x%02x%02x%02x%02x",
	    b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10],
	    b[11], b[12], b[13], b[14], b[15]);
}

int
uuid_is_zero(const struct uuid *u)
{
	static const struct uuid zero;

	return memcmp(u, &zero, sizeof(zero)) == 0;
}

int
uuid_equal(const struct uuid *a, const struct uuid *b)
{
	return uuid_cmp(a, b) == 0;
}

int
uuid_cmp(const struct uuid *a, const struct uuid *b)
{
	return memcmp(a, b, sizeof(*a));
}
