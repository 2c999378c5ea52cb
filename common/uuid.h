/* SPDX-License-Identifier: ISC */
/*
 * A session's one identity: 128 bits, written as a UUID in text (the
 * database's type, lower-case hex in the 8-4-4-4-12 form). Messages
 * between processes carry the bytes; logs, SQL and URLs the text.
 */
#ifndef ALIA_UUID_H
#define ALIA_UUID_H

#include <stdint.h>

#define UUID_TEXT 37 /* a UUID in text form and its NUL */

struct uuid {
	uint8_t b[16];
};

/* Reads the text form (lower-case only); -1 if text is not one. */
int uuid_parse(const char *text, struct uuid *);
/* Writes the text form into out, UUID_TEXT bytes. */
void uuid_format(const struct uuid *, char *out);
/* Whether every bit is zero: no session. */
int uuid_is_zero(const struct uuid *);
int uuid_equal(const struct uuid *, const struct uuid *);
/* Orders uuids by their bytes, like memcmp. */
int uuid_cmp(const struct uuid *, const struct uuid *);

/*
 * A tree of sessions (bsd/sys/tree.h): declares its head, struct name,
 * and generates it, static, for struct type linked by its RB_ENTRY field
 * and ordered by its struct uuid key; with name_find(head, id), the
 * element whose key is id, or NULL.
 */
#define UUID_TREE(name, type, field, key)                        \
	RB_HEAD(name, type);                                     \
	static int name##_cmp(struct type *a, struct type *b)    \
	{                                                        \
		return uuid_cmp(&a->key, &b->key);               \
	}                                                        \
	RB_GENERATE_STATIC(name, type, field, name##_cmp)        \
	static __attribute__((unused)) struct type *name##_find( \
	    struct name *head, const struct uuid *id)            \
	{                                                        \
		struct type k;                                   \
                                                                 \
		k.key = *id;                                     \
		return RB_FIND(name, head, &k);                  \
	}

#endif
