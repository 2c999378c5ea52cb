/* SPDX-License-Identifier: ISC */
/*
 * libFuzzer harness for the Docker client's response parser
 * (master/docker_http.c): the input after its first byte is a stream of
 * responses from the daemon, fed whole and again split in two at an offset
 * taken from the first byte; both feedings must agree on how far they got,
 * the status, the state and the body, and the parser must never consume
 * more than it was given.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>

#include "master/master.h"

int LLVMFuzzerTestOneInput(const uint8_t *, size_t);

struct run {
	size_t consumed;
	int error;
	int status;
	int state;
	size_t bodylen;
	unsigned char body[256];
	int responses;
};

/* Feeds one piece; returns how much of it was consumed, or -1. */
static ssize_t
piece(struct docker_http *h, const uint8_t *p, size_t len, struct run *r)
{
	size_t off = 0;
	ssize_t n;

	while (off < len) {
		n = docker_http_parse(h, p + off, len - off);
		if (n == -1)
			return -1;
		if ((size_t)n > len - off)
			abort();
		off += (size_t)n;
		if (docker_http_state(h) == DOCKER_HTTP_UPGRADE)
			break;
		if (docker_http_state(h) != DOCKER_HTTP_DONE)
			continue;
		/* Pipelined responses: start the next one. */
		r->responses++;
		r->status = docker_http_status(h);
		docker_http_header(h, "Api-Version");
		docker_http_keepalive(h);
		docker_http_reset(h);
	}
	return (ssize_t)off;
}

static void
parse(const uint8_t *data, size_t len, size_t split, struct run *r)
{
	struct docker_http *h = docker_http_new();
	struct evbuffer *body;
	ssize_t a, b = 0;

	memset(r, 0, sizeof(*r));
	if (split > len)
		split = len;
	a = piece(h, data, split, r);
	if (a != -1 && (size_t)a == split)
		b = piece(h, data + split, len - split, r);
	if (a == -1 || b == -1) {
		r->error = 1;
		if (docker_http_state(h) != DOCKER_HTTP_ERROR)
			abort();
		docker_http_error(h);
	} else {
		r->consumed = (size_t)a + (size_t)b;
		if (docker_http_state(h) == DOCKER_HTTP_BODY)
			r->error = docker_http_eof(h);
		r->status = docker_http_status(h);
		r->state = docker_http_state(h);
		body = docker_http_body(h);
		r->bodylen = evbuffer_get_length(body);
		evbuffer_copyout(body, r->body, sizeof(r->body));
	}
	docker_http_free(h);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
	struct run whole, split;
	size_t at;

	if (len < 1)
		return 0;
	at = data[0];
	data++;
	len--;
	parse(data, len, len, &whole);
	parse(data, len, at, &split);
	if (whole.error != split.error)
		abort();
	if (whole.error)
		return 0;
	if (whole.consumed != split.consumed || whole.status != split.status ||
	    whole.state != split.state || whole.responses != split.responses ||
	    whole.bodylen != split.bodylen ||
	    memcmp(whole.body, split.body,
	        whole.bodylen < sizeof(whole.body) ? whole.bodylen
	                                           : sizeof(whole.body)) != 0)
		abort();
	return 0;
}
