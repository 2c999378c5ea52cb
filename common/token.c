/* SPDX-License-Identifier: ISC */
/*
 * Tokens: making them from the kernel's random bytes, checking their
 * form, and hashing them for storage; checking a session id's form.
 */
#include <sys/random.h>
#include <ctype.h>
#include <stdio.h>
#include <string.h>

#include <openssl/sha.h>

#include "common/token.h"

int
token_new(char *out)
{
	unsigned char raw[TOKEN_BYTES];
	size_t i;

	if (getrandom(raw, sizeof(raw), 0) != (ssize_t)sizeof(raw))
		return -1;
	for (i = 0; i < sizeof(raw); i++)
		snprintf(out + 2 * i, 3, "%02x", raw[i]);
	return 0;
}

int
token_hash(const char *s, size_t len, unsigned char *hash)
{
	size_t i;

	if (len != TOKEN_HEX)
		return -1;
	for (i = 0; i < len; i++)
		if (!((s[i] >= '0' && s[i] <= '9') ||
		        (s[i] >= 'a' && s[i] <= 'f')))
			return -1;
	SHA256((const unsigned char *)s, len, hash);
	return 0;
}

void
token_bytea(const unsigned char *hash, char *out)
{
	size_t i;

	memcpy(out, "\\x", 2);
	for (i = 0; i < TOKEN_BYTES; i++)
		snprintf(out + 2 + 2 * i, 3, "%02x", hash[i]);
}

int
token_uuid_valid(const char *s)
{
	size_t i;

	if (strlen(s) != 36)
		return 0;
	for (i = 0; i < 36; i++) {
		if (i == 8 || i == 13 || i == 18 || i == 23) {
			if (s[i] != '-')
				return 0;
		} else if (!isxdigit((unsigned char)s[i]) ||
		    isupper((unsigned char)s[i]))
			return 0;
	}
	return 1;
}
