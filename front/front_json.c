/* SPDX-License-Identifier: ISC */
/*
 * front's JSON answers: the few yajl helpers every handler writes its
 * objects with, the answer that sends a generator's document (never
 * cached), and {"error": message}, the shape of every error under /api/.
 * It sits under every handler and calls none of them.
 */
#include <stdlib.h>
#include <string.h>

#include <yajl/yajl_gen.h>

#include "common/xmalloc.h"
#include "front/front.h"

#define JSON_TYPE "application/json"

void
front_json_str(yajl_gen g, const char *s)
{
	yajl_gen_string(g, (const unsigned char *)s, strlen(s));
}

void
front_json_key_str(yajl_gen g, const char *k, const char *v)
{
	front_json_str(g, k);
	if (v == NULL)
		yajl_gen_null(g);
	else
		front_json_str(g, v);
}

void
front_json_key_int(yajl_gen g, const char *k, long long v)
{
	front_json_str(g, k);
	yajl_gen_integer(g, v);
}

void
front_json_key_num(yajl_gen g, const char *k, const char *v)
{
	front_json_str(g, k);
	yajl_gen_number(g, v, strlen(v));
}

void
front_json_send(struct conn *c, int status, yajl_gen g, const char *extra)
{
	const unsigned char *buf;
	size_t len;
	char *hdr;

	yajl_gen_get_buf(g, &buf, &len);
	xasprintf(
	    &hdr, "Cache-Control: no-store\r\n%s", extra != NULL ? extra : "");
	front_http_respond(c, status, JSON_TYPE, buf, len, hdr);
	free(hdr);
}

yajl_gen
front_json_object(void)
{
	yajl_gen g = yajl_gen_alloc(NULL);

	yajl_gen_map_open(g);
	return g;
}

void
front_json_object_send(
    struct conn *c, int status, yajl_gen g, const char *extra)
{
	yajl_gen_map_close(g);
	front_json_send(c, status, g, extra);
	yajl_gen_free(g);
}

void
front_json_error(
    struct conn *c, int status, const char *message, const char *extra)
{
	yajl_gen g = front_json_object();

	front_json_key_str(g, "error", message);
	front_json_object_send(c, status, g, extra);
}
