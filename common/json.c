/* SPDX-License-Identifier: ISC */
/*
 * The depth bound on JSON from outside, and the tree parser behind it.
 *
 * The scan counts the brackets and braces that open and close outside
 * strings and comments, exactly as yajl's lexer splits a text: a string
 * runs from '"' to the next '"' not escaped by a backslash (whatever the
 * escape, the character after a backslash never ends the string), a "//"
 * comment to the end of its line, a block comment to the first star and
 * slash. yajl_tree_parse() allows comments, so a '"' inside one must not
 * hide the brackets after it. The scan does not validate: where the text
 * is invalid yajl stops there, before any bracket the scan may have
 * miscounted, so the depth yajl reaches is never more than the scan's.
 */
#include <stdio.h>
#include <string.h>

#include "common/json.h"

int
json_depth_ok(const void *text, size_t len, int max)
{
	const unsigned char *s = text;
	size_t i = 0;
	int depth = 0;

	while (i < len) {
		switch (s[i++]) {
		case '[':
		case '{':
			if (++depth > max)
				return 0;
			break;
		case ']':
		case '}':
			if (depth > 0)
				depth--;
			break;
		case '"':
			while (i < len && s[i] != '"')
				i += s[i] == '\\' ? 2 : 1;
			i++;
			break;
		case '/':
			if (i < len && s[i] == '/') {
				while (i < len && s[i] != '\n')
					i++;
			} else if (i < len && s[i] == '*') {
				for (i++; i + 1 < len; i++)
					if (s[i] == '*' && s[i + 1] == '/')
						break;
				i += 2;
			}
			break;
		}
	}
	return 1;
}

yajl_val
json_parse(const char *text, char *err, size_t errlen)
{
	yajl_val tree;

	if (!json_depth_ok(text, strlen(text), JSON_MAX_DEPTH)) {
		if (err != NULL && errlen > 0)
			snprintf(err, errlen,
			    "JSON nested deeper than %d levels",
			    JSON_MAX_DEPTH);
		return NULL;
	}
	tree = yajl_tree_parse(text, err, errlen);
	/* yajl's message goes on to show the text, on more lines. */
	if (tree == NULL && err != NULL && errlen > 0)
		err[strcspn(err, "\n")] = '\0';
	return tree;
}

/* The length of the valid UTF-8 sequence at p (n bytes left), or 0. */
static size_t
utf8_seq(const unsigned char *p, size_t n)
{
	unsigned int c = p[0], cp, min;
	size_t k, i;

	if (c < 0x80)
		return 1;
	if (c >= 0xc2 && c <= 0xdf)
		k = 2, cp = c & 0x1f, min = 0x80;
	else if (c >= 0xe0 && c <= 0xef)
		k = 3, cp = c & 0x0f, min = 0x800;
	else if (c >= 0xf0 && c <= 0xf4)
		k = 4, cp = c & 0x07, min = 0x10000;
	else
		return 0;
	if (n < k)
		return 0;
	for (i = 1; i < k; i++) {
		if ((p[i] & 0xc0) != 0x80)
			return 0;
		cp = cp << 6 | (p[i] & 0x3f);
	}
	if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	return k;
}

size_t
json_utf8(const unsigned char *in, size_t len, unsigned char *out)
{
	static const unsigned char bad[] = {0xef, 0xbf, 0xbd};
	size_t i = 0, o = 0, k;

	while (i < len) {
		if ((k = utf8_seq(in + i, len - i)) == 0) {
			memcpy(out + o, bad, sizeof(bad));
			o += sizeof(bad);
			i++;
			continue;
		}
		memcpy(out + o, in + i, k);
		o += k;
		i += k;
	}
	return o;
}
