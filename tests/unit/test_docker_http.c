/* SPDX-License-Identifier: ISC */
/*
 * Unit tests of the Docker client's HTTP response parser: a table of
 * responses, each fed whole, split in two at every byte, and one byte at a
 * time, and each expected to give the same status, body, final state and
 * unconsumed rest, or the same error.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "tests/unit/unit.h"
#include <event2/buffer.h>

#include "common/xmalloc.h"
#include "master/master.h"

#define S(x) x, sizeof(x) - 1

struct http_case {
	const char *name;
	const char *input;
	size_t len;
	int eof;   /* the peer closes after the input */
	int error; /* a parse error is expected */
	int status;
	enum docker_http_state state;
	const char *body;
	const char *rest; /* bytes left unconsumed */
	int keepalive;
	const char *hname; /* a header to look up */
	const char *hvalue;
};

/* The status line of a 200, and the head of a chunked 200. */
#define OK_HEAD      "HTTP/1.1 200 OK\r\n"
#define CHUNKED_HEAD OK_HEAD "Transfer-Encoding: chunked\r\n\r\n"

static const struct http_case cases[] = {
    {"content-length",
        S(OK_HEAD "Content-Length: 5\r\n"
                  "Api-Version: 1.41\r\n\r\nhello"),
        0, 0, 200, DOCKER_HTTP_DONE, "hello", "", 1, "api-version", "1.41"},
    {"content-length, next response left over",
        S("HTTP/1.1 201 Created\r\nContent-Length: 2\r\n\r\n{}"
          "HTTP/1.1 204 No Content\r\n\r\n"),
        0, 0, 201, DOCKER_HTTP_DONE, "{}", "HTTP/1.1 204 No Content\r\n\r\n", 1,
        NULL, NULL},
    {"chunked with extensions and trailers",
        S(CHUNKED_HEAD "5;ext=1\r\nhello\r\n6 ; a=\"b\"\r\n world\r\n"
                       "0\r\nX-Trailer: yes\r\n\r\n"),
        0, 0, 200, DOCKER_HTTP_DONE, "hello world", "", 1, NULL, NULL},
    {"chunked, hex sizes in both cases",
        S(OK_HEAD "Transfer-Encoding: Chunked\r\n\r\n"
                  "a\r\n0123456789\r\nB\r\nabcdefghijk\r\n0\r\n\r\n"),
        0, 0, 200, DOCKER_HTTP_DONE, "0123456789abcdefghijk", "", 1, NULL,
        NULL},
    {"chunked wins over content-length",
        S(OK_HEAD "Content-Length: 100\r\n"
                  "Transfer-Encoding: chunked\r\n\r\n2\r\nok\r\n0\r\n\r\n"),
        0, 0, 200, DOCKER_HTTP_DONE, "ok", "", 1, NULL, NULL},
    {"chunked stream still open",
        S(CHUNKED_HEAD "1c\r\n{\"Action\":\"start\",\"id\":\"x\"}\n\r\n"), 0, 0,
        200, DOCKER_HTTP_BODY, "{\"Action\":\"start\",\"id\":\"x\"}\n", "", 0,
        NULL, NULL},
    {"204 without length",
        S("HTTP/1.1 204 No Content\r\nServer: Docker\r\n\r\n"), 0, 0, 204,
        DOCKER_HTTP_DONE, "", "", 1, NULL, NULL},
    {"204 leaves the next bytes", S("HTTP/1.1 204 No Content\r\n\r\nHTTP/1.1"),
        0, 0, 204, DOCKER_HTTP_DONE, "", "HTTP/1.1", 1, NULL, NULL},
    {"304 ignores content-length",
        S("HTTP/1.1 304 Not Modified\r\nContent-Length: 10\r\n\r\n"), 0, 0, 304,
        DOCKER_HTTP_DONE, "", "", 1, NULL, NULL},
    {"101 with bytes after the head",
        S("HTTP/1.1 101 UPGRADED\r\n"
          "Content-Type: application/vnd.docker.raw-stream\r\n"
          "Connection: Upgrade\r\nUpgrade: tcp\r\n\r\nhello\r\n$ "),
        0, 0, 101, DOCKER_HTTP_UPGRADE, "", "hello\r\n$ ", 0, "upgrade", "tcp"},
    {"plain-text error body",
        S("HTTP/1.1 400 Bad Request\r\n"
          "Content-Type: text/plain; charset=utf-8\r\n"
          "Content-Length: 39\r\n\r\n"
          "client version 1.10 is too old. Minimum"),
        0, 0, 400, DOCKER_HTTP_DONE, "client version 1.10 is too old. Minimum",
        "", 1, NULL, NULL},
    {"json error body",
        S("HTTP/1.1 404 Not Found\r\nContent-Type: application/json\r\n"
          "Content-Length: 27\r\n\r\n{\"message\":\"No such image\"}\n"),
        0, 0, 404, DOCKER_HTTP_DONE, "{\"message\":\"No such image\"}", "\n", 1,
        NULL, NULL},
    {"body until close", S(OK_HEAD "Content-Type: text/plain\r\n\r\nabc"), 1, 0,
        200, DOCKER_HTTP_DONE, "abc", "", 0, NULL, NULL},
    {"connection close",
        S(OK_HEAD "Connection: close\r\n"
                  "Content-Length: 2\r\n\r\nOK"),
        0, 0, 200, DOCKER_HTTP_DONE, "OK", "", 0, NULL, NULL},
    {"HTTP/1.0 is not kept alive",
        S("HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nOK"), 0, 0, 200,
        DOCKER_HTTP_DONE, "OK", "", 0, NULL, NULL},
    {"interim 100 skipped",
        S("HTTP/1.1 100 Continue\r\n\r\n" OK_HEAD "Content-Length: 1\r\n\r\nx"),
        0, 0, 200, DOCKER_HTTP_DONE, "x", "", 1, NULL, NULL},
    {"bare LF line ends, no reason", S("HTTP/1.1 200\nContent-Length: 2\n\nok"),
        0, 0, 200, DOCKER_HTTP_DONE, "ok", "", 1, NULL, NULL},
    {"header value trimmed",
        S(OK_HEAD "Api-Version: \t 1.41 \t\r\n"
                  "Content-Length: 0\r\n\r\n"),
        0, 0, 200, DOCKER_HTTP_DONE, "", "", 1, "Api-Version", "1.41"},

    {"truncated content-length body",
        S(OK_HEAD "Content-Length: 10\r\n\r\nabc"), 1, 1},
    {"closed before any byte", S(""), 1, 1},
    {"truncated chunked body", S(CHUNKED_HEAD "5\r\nab"), 1, 1},
    {"not HTTP", S("SSH-2.0-OpenSSH_9.2\r\n"), 0, 1},
    {"status not numeric", S("HTTP/1.1 2x0 OK\r\n\r\n"), 0, 1},
    {"status glued to reason", S("HTTP/1.1 200OK\r\n\r\n"), 0, 1},
    {"status out of range", S("HTTP/1.1 999 What\r\n\r\n"), 0, 1},
    {"HTTP/2 status line", S("HTTP/2 200\r\n\r\n"), 0, 1},
    {"empty status line", S("\r\n"), 0, 1},
    {"bad chunk size", S(CHUNKED_HEAD "zz\r\n"), 0, 1},
    {"empty chunk size", S(CHUNKED_HEAD "\r\n"), 0, 1},
    {"negative chunk size", S(CHUNKED_HEAD "-1\r\n"), 0, 1},
    {"chunk size overflow", S(CHUNKED_HEAD "FFFFFFFFFFFFFFFFFFFFFF\r\n"), 0, 1},
    {"chunk data longer than its size",
        S(CHUNKED_HEAD "3\r\nhello\r\n0\r\n\r\n"), 0, 1},
    {"unsupported transfer-encoding",
        S(OK_HEAD "Transfer-Encoding: gzip\r\n\r\n"), 0, 1},
    {"bad content-length", S(OK_HEAD "Content-Length: 12a\r\n\r\n"), 0, 1},
    {"negative content-length", S(OK_HEAD "Content-Length: -1\r\n\r\n"), 0, 1},
    {"conflicting content-lengths",
        S(OK_HEAD "Content-Length: 1\r\n"
                  "Content-Length: 2\r\n\r\nab"),
        0, 1},
    {"content-length overflow",
        S(OK_HEAD "Content-Length: 99999999999999999999999\r\n\r\n"), 0, 1},
    {"folded header", S(OK_HEAD "X-A: 1\r\n  more\r\n\r\n"), 0, 1},
    {"header without colon", S(OK_HEAD "Content-Length 0\r\n\r\n"), 0, 1},
    {"space in header name", S(OK_HEAD "Content Length: 0\r\n\r\n"), 0, 1},
    {"NUL in header", S(OK_HEAD "X-A: a\0b\r\n\r\n"), 0, 1},
    {"CR inside a line", S(OK_HEAD "X-A: a\rb\r\n\r\n"), 0, 1},
    {"malformed trailer", S(CHUNKED_HEAD "0\r\nnot a header\r\n\r\n"), 0, 1},
};

struct outcome {
	int error;
	int status;
	enum docker_http_state state;
	char *body;
	char *rest;
	int keepalive;
	const char *hvalue;
};

/* Feeds the input in pieces ending at cuts[]; collects what came out. */
static void
feed(struct docker_http *h, const struct http_case *c, const size_t *cuts,
    size_t ncuts, struct outcome *o)
{
	struct evbuffer *body;
	size_t off = 0, i, end, len, piece;
	ssize_t n;

	memset(o, 0, sizeof(*o));
	docker_http_reset(h);
	for (i = 0; i <= ncuts && off < c->len; i++) {
		end = (i < ncuts ? cuts[i] : c->len);
		if (end < off)
			continue;
		piece = end - off;
		n = docker_http_parse(h, c->input + off, piece);
		if (n == -1) {
			o->error = 1;
			assert_int_equal(
			    docker_http_state(h), DOCKER_HTTP_ERROR);
			return;
		}
		assert_true((size_t)n <= piece);
		off += (size_t)n;
		if ((size_t)n < piece)
			break; /* stopped at the end of the response */
	}
	if (c->eof && docker_http_eof(h) == -1) {
		o->error = 1;
		return;
	}
	o->status = docker_http_status(h);
	o->state = docker_http_state(h);
	body = docker_http_body(h);
	len = evbuffer_get_length(body);
	o->body = xmalloc(len + 1);
	evbuffer_copyout(body, o->body, len);
	o->body[len] = '\0';
	o->rest = xstrndup(c->input + off, c->len - off);
	o->keepalive = docker_http_keepalive(h);
	if (c->hname != NULL)
		o->hvalue = docker_http_header(h, c->hname);
}

static void
check(const struct http_case *c, const struct outcome *o, const char *how)
{
	if (c->error) {
		if (!o->error)
			fail_msg(
			    "%s (%s): parsed, error expected", c->name, how);
		return;
	}
	if (o->error)
		fail_msg("%s (%s): unexpected parse error", c->name, how);
	if (o->status != c->status || o->state != c->state)
		fail_msg("%s (%s): status %d state %d, want %d %d", c->name,
		    how, o->status, o->state, c->status, c->state);
	if (strcmp(o->body, c->body) != 0)
		fail_msg("%s (%s): body \"%s\", want \"%s\"", c->name, how,
		    o->body, c->body);
	if (strcmp(o->rest, c->rest) != 0)
		fail_msg("%s (%s): rest \"%s\", want \"%s\"", c->name, how,
		    o->rest, c->rest);
	if (o->keepalive != c->keepalive)
		fail_msg("%s (%s): keepalive %d", c->name, how, o->keepalive);
	if (c->hname != NULL &&
	    (o->hvalue == NULL || strcmp(o->hvalue, c->hvalue) != 0))
		fail_msg("%s (%s): header %s is \"%s\"", c->name, how, c->hname,
		    o->hvalue != NULL ? o->hvalue : "(none)");
}

static void
outcome_free(struct outcome *o)
{
	free(o->body);
	free(o->rest);
}

static void
test_table(void **state)
{
	struct docker_http *h = docker_http_new();
	struct outcome o;
	size_t i, cut, *cuts;
	char how[64];

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct http_case *c = &cases[i];

		feed(h, c, NULL, 0, &o);
		check(c, &o, "whole");
		outcome_free(&o);
		for (cut = 0; cut <= c->len; cut++) {
			snprintf(how, sizeof(how), "split at %zu", cut);
			feed(h, c, &cut, 1, &o);
			check(c, &o, how);
			outcome_free(&o);
		}
		cuts = xreallocarray(NULL, c->len + 1, sizeof(*cuts));
		for (cut = 0; cut < c->len; cut++)
			cuts[cut] = cut + 1;
		feed(h, c, cuts, c->len, &o);
		check(c, &o, "byte by byte");
		outcome_free(&o);
		free(cuts);
	}
	docker_http_free(h);
}

/* A body drained while it arrives, as the event stream reader does. */
static void
test_drain_while_streaming(void **state)
{
	static const char head[] =
	    "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n";
	struct docker_http *h = docker_http_new();
	char chunk[64];
	int i, n;

	assert_int_equal(
	    docker_http_parse(h, head, strlen(head)), (ssize_t)strlen(head));
	for (i = 0; i < 1000; i++) {
		n = snprintf(chunk, sizeof(chunk), "3\r\n%03d\r\n", i);
		assert_int_equal(docker_http_parse(h, chunk, (size_t)n), n);
		assert_int_equal(evbuffer_get_length(docker_http_body(h)), 3);
		evbuffer_drain(docker_http_body(h), 3);
	}
	assert_int_equal(docker_http_state(h), DOCKER_HTTP_BODY);
	assert_int_equal(docker_http_parse(h, "0\r\n\r\n", 5), 5);
	assert_int_equal(docker_http_state(h), DOCKER_HTTP_DONE);
	docker_http_free(h);
}

static void
test_oversized_line(void **state)
{
	struct docker_http *h = docker_http_new();
	const char *start = "HTTP/1.1 200 OK\r\nX-Big: ";
	char *big;
	size_t n = 9000;

	big = xmalloc(n);
	memset(big, 'a', n);
	assert_true(docker_http_parse(h, start, strlen(start)) > 0);
	assert_int_equal(docker_http_parse(h, big, n), -1);
	assert_int_equal(docker_http_state(h), DOCKER_HTTP_ERROR);
	free(big);
	docker_http_free(h);
}

static void
test_oversized_head(void **state)
{
	struct docker_http *h = docker_http_new();
	const char *start = "HTTP/1.1 200 OK\r\n";
	char line[8000];
	int i, rv = 0;

	memset(line, 'b', sizeof(line));
	memcpy(line, "X-Fill: ", 8);
	line[sizeof(line) - 2] = '\r';
	line[sizeof(line) - 1] = '\n';
	assert_true(docker_http_parse(h, start, strlen(start)) > 0);
	for (i = 0; i < 20 && rv != -1; i++)
		rv = (int)docker_http_parse(h, line, sizeof(line));
	assert_int_equal(rv, -1);
	assert_true(i * sizeof(line) > 65536);
	docker_http_free(h);
}

static void
test_too_many_headers(void **state)
{
	struct docker_http *h = docker_http_new();
	const char *start = "HTTP/1.1 200 OK\r\n";
	int i, rv = 0;

	assert_true(docker_http_parse(h, start, strlen(start)) > 0);
	for (i = 0; i < 100 && rv != -1; i++)
		rv = (int)docker_http_parse(h, "X-A: 1\r\n", 8);
	assert_int_equal(rv, -1);
	assert_true(i > 64);
	docker_http_free(h);
}

/* After an error the parser stays failed until reset. */
static void
test_error_sticks(void **state)
{
	struct docker_http *h = docker_http_new();
	const char *ok = "HTTP/1.1 204 No Content\r\n\r\n";

	assert_int_equal(docker_http_parse(h, "junk\r\n", 6), -1);
	assert_int_equal(docker_http_parse(h, ok, strlen(ok)), -1);
	docker_http_reset(h);
	assert_int_equal(
	    docker_http_parse(h, ok, strlen(ok)), (ssize_t)strlen(ok));
	assert_int_equal(docker_http_status(h), 204);
	docker_http_free(h);
}

UNIT_MAIN(cmocka_unit_test(test_table),
    cmocka_unit_test(test_drain_while_streaming),
    cmocka_unit_test(test_oversized_line),
    cmocka_unit_test(test_oversized_head),
    cmocka_unit_test(test_too_many_headers),
    cmocka_unit_test(test_error_sticks))
