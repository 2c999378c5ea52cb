/* SPDX-License-Identifier: ISC */
/*
 * Sign-in and API tokens: 256 random bits written as 64 lowercase hex
 * characters. Only their SHA-256 is ever stored (alia.tokens.hash). And
 * the form of session ids, 128 random bits written as a UUID.
 */
#ifndef ALIA_TOKEN_H
#define ALIA_TOKEN_H

#include <stddef.h>

#define TOKEN_BYTES 32
#define TOKEN_HEX   (2 * TOKEN_BYTES) /* characters, without the NUL */

/* A new random token into out (TOKEN_HEX + 1 bytes); -1 without entropy. */
int token_new(char *out);
/*
 * The stored form of a token (len characters of s): the SHA-256 of its
 * hex characters into
 * hash (TOKEN_BYTES). Returns -1 when s is not a token's form.
 */
int token_hash(const char *s, size_t len, unsigned char *hash);
/* hash as "\\x" and hex, for a bytea parameter (2 * TOKEN_BYTES + 3). */
void token_bytea(const unsigned char *hash, char *out);
/* Whether s has the form of a session id: a UUID in lowercase text. */
int token_uuid_valid(const char *s);

#endif
