/* SPDX-License-Identifier: ISC */
/*
 * The one gate for JSON from outside (browsers, share links, the Docker
 * daemon): a linear scan that bounds how deeply a text nests, run before
 * any parser builds or walks a tree, and yajl's tree parser behind it.
 * yajl's tree parser has no depth limit and frees a tree recursively, so
 * an unbounded text could exhaust the stack.
 */
#ifndef ALIA_JSON_H
#define ALIA_JSON_H

#include <stddef.h>

#include <yajl/yajl_tree.h>

/* Arrays and objects nest at most this deep in any JSON alia reads. */
#define JSON_MAX_DEPTH 32

/*
 * Whether len bytes of JSON text nest arrays and objects at most max
 * levels deep, as yajl (comments allowed) would see them. It validates
 * nothing else; a text it passes may still be invalid.
 */
int json_depth_ok(const void *text, size_t len, int max);
/*
 * yajl_tree_parse() of the NUL-terminated text, or NULL with the reason
 * on one line in err (which may be NULL) when it is invalid or nests
 * deeper than JSON_MAX_DEPTH; in the latter case no tree is built.
 */
yajl_val json_parse(const char *text, char *err, size_t errlen);
/*
 * len bytes as UTF-8 a JSON string may hold: each byte that does not
 * begin a valid sequence (stray, overlong, surrogate, past U+10FFFF,
 * cut short) becomes U+FFFD. Written to out, which holds 3 * len bytes
 * at least; its length.
 */
size_t json_utf8(const unsigned char *in, size_t len, unsigned char *out);

#endif
