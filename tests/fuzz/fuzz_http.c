/* SPDX-License-Identifier: ISC */
/*
 * libFuzzer harness for the HTTP request parser (common/http.c): feeds
 * the input whole and split in two at an offset taken from its first
 * byte, with small limits, reads back every field of a parsed request,
 * and checks that both feedings agree and that HTTP_CONTINUE comes at
 * most once a request, before it is done. Every parsed request also goes
 * through the forwarded-header walk (common/proxy.c) from a trusted and
 * an untrusted peer: the client must be an address, the untrusted
 * peer's answer the peer itself.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/http.h"
#include "common/proxy.h"

int LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static const struct http_limits limits = {
    .max_line = 128,
    .max_headers = 16,
    .max_header_bytes = 512,
    .max_body = 256,
};

static struct proxy_trust trust;

/* The forwarded client of req, from a trusted and an untrusted peer. */
static size_t
forwarded(const struct http_request *req)
{
	char client[PROXY_ADDR_LEN];
	int https = 0, flags;

	flags = proxy_client(
	    &trust, req, "10.0.0.1", client, sizeof(client), &https);
	if (client[0] == '\0' || (https != 0 && https != 1) ||
	    (!(flags & PROXY_FOR) && strcmp(client, "10.0.0.1") != 0) ||
	    ((flags & PROXY_FOR) && !proxy_trusted(&trust, "10.0.0.1")))
		abort();
	https = 1;
	flags = proxy_client(
	    &trust, req, "192.0.2.1", client, sizeof(client), &https);
	if (flags != 0 || https != 1 || strcmp(client, "192.0.2.1") != 0)
		abort();
	return strlen(client);
}

/* Parses data (split at split) as a stream of pipelined requests. */
static size_t
parse_all(const uint8_t *data, size_t len, size_t split, int *status)
{
	const struct http_request *req;
	struct http_parser *p;
	size_t off = 0, used, i, sum = 0;
	int r, conts = 0;

	p = http_parser_new(&limits);
	*status = 0;
	while (off < len) {
		r = http_parse(p, data + off,
		    off < split ? split - off : len - off, &used);
		if (used > len - off)
			abort();
		off += used;
		if (r == HTTP_ERROR) {
			*status = http_parser_status(p);
			if (*status < 400 || http_parser_error(p) == NULL)
				abort();
			break;
		}
		if (r == HTTP_CONTINUE) {
			/* Once per request, right after a head with a body. */
			if (http_parser_request(p) != NULL || conts++ > 0)
				abort();
			continue;
		}
		if (r == HTTP_MORE) {
			if (off == split)
				continue;
			break;
		}
		req = http_parser_request(p);
		if (req == NULL || req->path[0] == '\0' ||
		    strlen(req->path) > limits.max_line ||
		    req->bodylen > limits.max_body ||
		    req->nheaders > limits.max_headers)
			abort();
		sum += strlen(req->method) + strlen(req->target) +
		    req->bodylen + (req->query ? strlen(req->query) : 0) +
		    forwarded(req);
		for (i = 0; i < req->nheaders; i++) {
			if (http_header_get(req, req->headers[i].name) == NULL)
				abort();
			sum += strlen(req->headers[i].value);
		}
		http_parser_reset(p);
		conts = 0;
	}
	http_parser_free(p);
	/* How much an error consumed depends on the split; the rest not. */
	return *status != 0 ? sum : sum + off;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
	size_t a, b, split;
	int sa, sb;
	char err[128];

	if (trust.n == 0 &&
	    proxy_trust_parse(&trust, "10.0.0.0/8, fd00::/8, 127.0.0.1", err,
	        sizeof(err)) == -1)
		abort();
	a = parse_all(data, len, len, &sa);
	split = len > 0 ? data[0] % (len + 1) : 0;
	b = parse_all(data, len, split, &sb);
	if (a != b || sa != sb)
		abort();
	return 0;
}
