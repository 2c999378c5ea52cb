/* SPDX-License-Identifier: ISC */
/*
 * Unit tests of common/http.c: tables of valid, malformed and oversized
 * requests, each fed whole, split at every offset and byte by byte, and
 * the response writer.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "tests/unit/unit.h"
#include <event2/buffer.h>

#include "common/http.h"

static const struct http_limits limits = {
    .max_line = 64,
    .max_headers = 8,
    .max_header_bytes = 256,
    .max_body = 32,
};

struct valid_case {
	const char *name;
	const char *input;
	const char *method;
	const char *path;
	const char *query; /* NULL: no query */
	int minor;
	int keepalive;
	const char *body;
	const char *hname; /* a header to look up, or NULL */
	const char *hvalue;
};

static const struct valid_case valid_cases[] = {
    {"simple GET", "GET / HTTP/1.1\r\nHost: h\r\n\r\n", "GET", "/", NULL, 1, 1,
        "", "host", "h"},
    {"decoded path and query",
        "GET /a%20b/c%2Fd?x=1&y=%20 HTTP/1.1\r\nHost: h\r\n\r\n", "GET",
        "/a b/c/d", "x=1&y=%20", 1, 1, "", NULL, NULL},
    {"HTTP/1.0 closes", "GET /x HTTP/1.0\r\n\r\n", "GET", "/x", NULL, 0, 0, "",
        NULL, NULL},
    {"HTTP/1.0 keep-alive", "GET /x HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n",
        "GET", "/x", NULL, 0, 1, "", "connection", "Keep-Alive"},
    {"Connection list with close",
        "GET / HTTP/1.1\r\nHost: h\r\nConnection: upgrade,  CLOSE \r\n\r\n",
        "GET", "/", NULL, 1, 0, "", "Connection", "upgrade,  CLOSE"},
    {"body with Content-Length",
        "POST /api HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\n\r\nhello",
        "POST", "/api", NULL, 1, 1, "hello", "content-length", "5"},
    {"body of exactly max_body",
        "PUT / HTTP/1.1\r\nHost: h\r\nContent-Length: 32\r\n\r\n"
        "0123456789abcdef0123456789abcdef",
        "PUT", "/", NULL, 1, 1, "0123456789abcdef0123456789abcdef", NULL, NULL},
    {"zero Content-Length, repeated",
        "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 0\r\n"
        "Content-Length: 0\r\n\r\n",
        "POST", "/", NULL, 1, 1, "", NULL, NULL},
    {"bare LF line ends", "GET /lf HTTP/1.1\nHost: h\n\n", "GET", "/lf", NULL,
        1, 1, "", "HOST", "h"},
    {"value trimmed, name any case",
        "GET / HTTP/1.1\r\nHost: h\r\nX-Thing: \t spaced value \t\r\n\r\n",
        "GET", "/", NULL, 1, 1, "", "x-THING", "spaced value"},
    {"empty header value", "GET / HTTP/1.1\r\nHost: h\r\nX-E:\r\n\r\n", "GET",
        "/", NULL, 1, 1, "", "x-e", ""},
    {"absolute form", "GET http://h.example/p/q?z HTTP/1.1\r\nHost: h\r\n\r\n",
        "GET", "/p/q", "z", 1, 1, "", NULL, NULL},
    {"absolute form without path",
        "GET https://h.example HTTP/1.1\r\nHost: h\r\n\r\n", "GET", "/", NULL,
        1, 1, "", NULL, NULL},
    {"empty lines before request", "\r\n\r\nGET / HTTP/1.1\r\nHost: h\r\n\r\n",
        "GET", "/", NULL, 1, 1, "", NULL, NULL},
    {"OPTIONS *", "OPTIONS * HTTP/1.1\r\nHost: h\r\n\r\n", "OPTIONS", "*", NULL,
        1, 1, "", NULL, NULL},
    {"dots that are not ..", "GET /.a/..b/.../x. HTTP/1.1\r\nHost: h\r\n\r\n",
        "GET", "/.a/..b/.../x.", NULL, 1, 1, "", NULL, NULL},
    {"HTTP/1.9 is 1.x", "GET / HTTP/1.9\r\nHost: h\r\n\r\n", "GET", "/", NULL,
        9, 1, "", NULL, NULL},
    {"obs-text in value", "GET / HTTP/1.1\r\nHost: h\r\nX-U: \xc3\xa9\r\n\r\n",
        "GET", "/", NULL, 1, 1, "", "x-u", "\xc3\xa9"},
    {"chunked body, extensions and trailer",
        "POST /c HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n"
        "5\r\nhello\r\n6;ext=\"1\"\r\n world\r\n0\r\nX-T: y\r\n\r\n",
        "POST", "/c", NULL, 1, 1, "hello world", "transfer-encoding",
        "chunked"},
    {"chunked, any case, bare LF, hex digits",
        "POST / HTTP/1.1\nHost: h\nTransfer-Encoding: Chunked\n\n"
        "A\n0123456789\n00\n\n",
        "POST", "/", NULL, 1, 1, "0123456789", NULL, NULL},
    {"chunked, empty",
        "PUT / HTTP/1.1\r\nHost: h\r\n"
        "Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
        "PUT", "/", NULL, 1, 1, "", NULL, NULL},
    {"chunked body of exactly max_body",
        "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n"
        "10\r\n0123456789abcdef\r\n10\r\n0123456789abcdef\r\n0\r\n\r\n",
        "POST", "/", NULL, 1, 1, "0123456789abcdef0123456789abcdef", NULL,
        NULL},
    {"Expect: 100-continue",
        "POST / HTTP/1.1\r\nHost: h\r\nExpect: 100-Continue\r\n"
        "Content-Length: 2\r\n\r\nhi",
        "POST", "/", NULL, 1, 1, "hi", "expect", "100-Continue"},
    {"Expect: 100-continue without a body",
        "GET / HTTP/1.1\r\nHost: h\r\nExpect: 100-continue\r\n\r\n", "GET", "/",
        NULL, 1, 1, "", NULL, NULL},
};

struct bad_case {
	const char *name;
	const char *input;
	size_t len; /* 0: strlen(input) */
	int status; /* 0: valid after all */
};

/* A GET of target with its one Host header. */
#define GET(target)  "GET " target " HTTP/1.1\r\nHost: h\r\n\r\n"
/* The head of a POST up to its Host header; the case adds the rest. */
#define POST_HEAD    "POST / HTTP/1.1\r\nHost: h\r\n"
#define CHUNKED_HEAD POST_HEAD "Transfer-Encoding: chunked\r\n\r\n"
/* A literal with a NUL inside, and its length. */
#define NUL_IN(s)    s, sizeof(s) - 1

static const struct bad_case bad_cases[] = {
    {"no target", "GET\r\n\r\n", 0, 400},
    {"no version", "GET /\r\n\r\n", 0, 400},
    {"extra field", "GET / HTTP/1.1 x\r\nHost: h\r\n\r\n", 0, 400},
    {"double space", GET(" /"), 0, 400},
    {"bad method char", "G(T / HTTP/1.1\r\nHost: h\r\n\r\n", 0, 400},
    {"lower-case version", "GET / http/1.1\r\nHost: h\r\n\r\n", 0, 400},
    {"version junk", "GET / HTTP/1.1x\r\nHost: h\r\n\r\n", 0, 400},
    {"HTTP/2.0", "GET / HTTP/2.0\r\nHost: h\r\n\r\n", 0, 505},
    {"HTTP/0.9", "GET / HTTP/0.9\r\n\r\n", 0, 505},
    {"relative target", GET("index.html"), 0, 400},
    {"* without OPTIONS", GET("*"), 0, 400},
    {"absolute without host", GET("http:///x"), 0, 400},
    {"fragment", GET("/a#b"), 0, 400},
    {"control char in target", GET("/a\x01"), 0, 400},
    {"high byte in target", GET("/\xc3\xa9"), 0, 400},
    {"NUL in path", GET("/a%00b"), 0, 400},
    {"raw NUL in line", NUL_IN(GET("/a\0b")), 400},
    {"bad escape", GET("/%zz"), 0, 400},
    {"short escape", GET("/a%4"), 0, 400},
    {"dot-dot", GET("/a/../b"), 0, 400},
    {"trailing dot-dot", GET("/a/.."), 0, 400},
    {"escaped dot-dot", GET("/%2e%2E/etc"), 0, 400},
    {"half-escaped dot-dot", GET("/x/.%2e"), 0, 400},
    {"dot-dot in the query is fine", GET("/x?../y"), 0, 0},
    {"header without colon", "GET / HTTP/1.1\r\nHost h\r\n\r\n", 0, 400},
    {"space before colon", "GET / HTTP/1.1\r\nHost : h\r\n\r\n", 0, 400},
    {"empty header name", "GET / HTTP/1.1\r\nHost: h\r\n: x\r\n\r\n", 0, 400},
    {"folded header", "GET / HTTP/1.1\r\nHost: h\r\nX: a\r\n b\r\n\r\n", 0,
        400},
    {"CR inside value", "GET / HTTP/1.1\r\nHost: h\rX: y\r\n\r\n", 0, 400},
    {"NUL inside value", NUL_IN("GET / HTTP/1.1\r\nHost: h\0\r\n\r\n"), 400},
    {"missing Host", "GET / HTTP/1.1\r\n\r\n", 0, 400},
    {"two Hosts", "GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", 0, 400},
    {"CL and TE",
        POST_HEAD "Content-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\nabc",
        0, 400},
    {"TE and CL",
        POST_HEAD "Transfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\nabc",
        0, 400},
    {"gzip, chunked", POST_HEAD "Transfer-Encoding: gzip, chunked\r\n\r\n", 0,
        501},
    {"unknown coding", POST_HEAD "Transfer-Encoding: x\r\n\r\n", 0, 501},
    {"a chunk over max_body", CHUNKED_HEAD "21\r\n", 0, 413},
    {"chunks adding up over max_body",
        CHUNKED_HEAD "20\r\n0123456789abcdef0123456789abcdef\r\n1\r\n", 0, 413},
    {"huge chunk size", CHUNKED_HEAD "fffffffffffffffffffffff\r\n", 0, 413},
    {"chunk-size line too long",
        CHUNKED_HEAD
        "1;xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
        "xxxxxxxxxx\r\n",
        0, 400},
    {"chunk size not hex", CHUNKED_HEAD "g\r\n", 0, 400},
    {"empty chunk size", CHUNKED_HEAD "\r\n", 0, 400},
    {"negative chunk size", CHUNKED_HEAD "-1\r\n", 0, 400},
    {"chunk longer than its size", CHUNKED_HEAD "2\r\nabc\r\n0\r\n\r\n", 0,
        400},
    {"NUL in chunk size", NUL_IN(CHUNKED_HEAD "1\0\r\n"), 400},
    {"unknown expectation",
        POST_HEAD "Expect: 200-ok\r\nContent-Length: 1\r\n\r\nx", 0, 417},
    {"100-continue with a body too large",
        POST_HEAD "Expect: 100-continue\r\nContent-Length: 33\r\n\r\n", 0, 413},
    {"negative CL", POST_HEAD "Content-Length: -1\r\n\r\n", 0, 400},
    {"signed CL", POST_HEAD "Content-Length: +1\r\n\r\n", 0, 400},
    {"CL list", POST_HEAD "Content-Length: 1, 1\r\n\r\n", 0, 400},
    {"empty CL", POST_HEAD "Content-Length:\r\n\r\n", 0, 400},
    {"conflicting CL",
        POST_HEAD "Content-Length: 1\r\nContent-Length: 2\r\n\r\n", 0, 400},
    {"huge CL", POST_HEAD "Content-Length: 184467440737095516160\r\n\r\n", 0,
        413},
    {"CL over max_body", POST_HEAD "Content-Length: 33\r\n\r\n", 0, 413},
    {"too many empty lines", "\r\n\r\n\r\n\r\n\r\nGET / HTTP/1.1\r\n\r\n", 0,
        400},
};

/* A request built as prefix, count times unit, then suffix. */
struct gen_case {
	const char *name;
	const char *prefix;
	const char *unit;
	size_t count;
	const char *suffix;
	int status; /* 0: valid */
};

static const struct gen_case gen_cases[] = {
    {"request line at the limit", "GET /", "a", 50,
        " HTTP/1.1\r\nHost: h\r\n\r\n", 0},
    {"request line over the limit", "GET /", "a", 51,
        " HTTP/1.1\r\nHost: h\r\n\r\n", 414},
    {"request line without end", "GET /", "a", 200, "", 414},
    {"headers at the count limit", "GET / HTTP/1.1\r\nHost: h\r\n", "X: y\r\n",
        7, "\r\n", 0},
    {"one header too many", "GET / HTTP/1.1\r\nHost: h\r\n", "X: y\r\n", 8,
        "\r\n", 431},
    {"header bytes at the limit", "GET / HTTP/1.1\r\nHost: h\r\nX-Long: ", "v",
        241, "\r\n\r\n", 0},
    {"header bytes over the limit",
        "GET / HTTP/1.1\r\nHost: h\r\nX-Long: ", "v", 242, "\r\n\r\n", 431},
    {"header line without end", "GET / HTTP/1.1\r\nHost: h\r\nX: ", "v", 1000,
        "", 431},
    {"body over the limit", POST_HEAD "Content-Length: 33\r\n\r\n", "b", 33, "",
        413},
    {"body at the limit", POST_HEAD "Content-Length: 32\r\n\r\n", "b", 32, "",
        0},
    {"chunked body, one byte a chunk, at the limit", CHUNKED_HEAD, "1\r\nb\r\n",
        32, "0\r\n\r\n", 0},
    {"chunked body, one byte a chunk, over the limit", CHUNKED_HEAD,
        "1\r\nb\r\n", 33, "0\r\n\r\n", 413},
    {"trailer bytes over the limit", CHUNKED_HEAD "0\r\nX-T: ", "v", 300,
        "\r\n\r\n", 431},
};

struct outcome {
	int rc;
	int status;
	size_t used;
	int conts;     /* HTTP_CONTINUE answers */
	size_t contat; /* bytes used when the first came */
};

/*
 * Feeds buf in pieces of step bytes, or when step is 0 in two: split
 * bytes, then the rest.
 */
static struct outcome
feed(struct http_parser *p, const char *buf, size_t len, size_t split,
    size_t step)
{
	struct outcome o = {HTTP_MORE, 0, 0, 0, 0};
	size_t off = 0, n, used;
	int calls = 0;

	do {
		if (step > 0)
			n = len - off < step ? len - off : step;
		else
			n = calls == 0 ? split : len - off;
		calls++;
		o.rc = http_parse(p, buf + off, n, &used);
		if (used > n)
			fail_msg("used %zu of %zu", used, n);
		off += used;
		o.used = off;
		if (o.rc == HTTP_MORE && used != n)
			fail_msg("HTTP_MORE left %zu bytes unused", n - used);
		if (o.rc == HTTP_CONTINUE && o.conts++ == 0)
			o.contat = off;
	} while ((o.rc == HTTP_MORE || o.rc == HTTP_CONTINUE) && off < len);
	if (o.rc == HTTP_MORE && step == 0 && calls == 1 && split < len)
		fail_msg("stopped early");
	o.status = http_parser_status(p);
	return o;
}

static void
check_request(
    const char *name, const struct http_parser *p, const struct valid_case *c)
{
	const struct http_request *req = http_parser_request(p);
	const char *v;

	if (req == NULL)
		fail_msg("%s: no request", name);
	if (strcmp(req->method, c->method) != 0)
		fail_msg("%s: method %s", name, req->method);
	if (strcmp(req->path, c->path) != 0)
		fail_msg("%s: path %s", name, req->path);
	if ((c->query == NULL) != (req->query == NULL) ||
	    (c->query != NULL && strcmp(req->query, c->query) != 0))
		fail_msg(
		    "%s: query %s", name, req->query ? req->query : "(none)");
	if (req->minor != c->minor)
		fail_msg("%s: minor %d", name, req->minor);
	if (req->keepalive != c->keepalive)
		fail_msg("%s: keepalive %d", name, req->keepalive);
	if (req->bodylen != strlen(c->body) ||
	    memcmp(req->body, c->body, req->bodylen) != 0 ||
	    req->body[req->bodylen] != '\0')
		fail_msg("%s: body %.*s", name, (int)req->bodylen, req->body);
	if (c->hname != NULL) {
		v = http_header_get(req, c->hname);
		if (v == NULL || strcmp(v, c->hvalue) != 0)
			fail_msg("%s: header %s is %s", name, c->hname,
			    v ? v : "(none)");
	}
	if (http_header_get(req, "X-Not-There") != NULL)
		fail_msg("%s: found a header that is not there", name);
}

static void
test_valid(void **state)
{
	const struct valid_case *c;
	struct http_parser *p;
	struct outcome o;
	size_t i, len, split;
	char name[128];

	p = http_parser_new(&limits);
	for (i = 0; i < sizeof(valid_cases) / sizeof(valid_cases[0]); i++) {
		c = &valid_cases[i];
		len = strlen(c->input);
		for (split = 0; split <= len + 1; split++) {
			http_parser_reset(p);
			if (split <= len) {
				snprintf(name, sizeof(name), "%s (split %zu)",
				    c->name, split);
				o = feed(p, c->input, len, split, 0);
			} else {
				snprintf(name, sizeof(name), "%s (bytewise)",
				    c->name);
				o = feed(p, c->input, len, 0, 1);
			}
			if (o.rc != HTTP_DONE || o.used != len)
				fail_msg(
				    "%s: rc %d status %d used %zu/%zu (%s)",
				    name, o.rc, o.status, o.used, len,
				    http_parser_error(p));
			check_request(name, p, c);
		}
	}
	http_parser_free(p);
}

static void
expect_error(const char *name, const char *buf, size_t len, int status)
{
	struct http_parser *p;
	struct outcome o;
	size_t split;

	p = http_parser_new(&limits);
	for (split = 0; split <= len + 1; split++) {
		http_parser_reset(p);
		if (split <= len)
			o = feed(p, buf, len, split, 0);
		else
			o = feed(p, buf, len, 0, 1);
		if (status == 0) {
			if (o.rc != HTTP_DONE || o.used != len)
				fail_msg("%s (split %zu): rc %d status %d (%s)",
				    name, split, o.rc, o.status,
				    http_parser_error(p));
			continue;
		}
		if (o.rc != HTTP_ERROR || o.status != status)
			fail_msg("%s (split %zu): rc %d status %d, want %d",
			    name, split, o.rc, o.status, status);
		if (http_parser_error(p) == NULL ||
		    *http_parser_error(p) == '\0')
			fail_msg("%s: no message", name);
		if (http_parser_request(p) != NULL)
			fail_msg("%s: a request after an error", name);
	}
	http_parser_free(p);
}

static void
test_malformed(void **state)
{
	const struct bad_case *c;
	size_t i;

	for (i = 0; i < sizeof(bad_cases) / sizeof(bad_cases[0]); i++) {
		c = &bad_cases[i];
		expect_error(c->name, c->input,
		    c->len != 0 ? c->len : strlen(c->input), c->status);
	}
}

static void
test_limits(void **state)
{
	const struct gen_case *c;
	char *buf;
	size_t i, j, len, plen, ulen;

	for (i = 0; i < sizeof(gen_cases) / sizeof(gen_cases[0]); i++) {
		c = &gen_cases[i];
		plen = strlen(c->prefix);
		ulen = strlen(c->unit);
		len = plen + ulen * c->count + strlen(c->suffix);
		buf = malloc(len + 1);
		assert_non_null(buf);
		memcpy(buf, c->prefix, plen);
		for (j = 0; j < c->count; j++)
			memcpy(buf + plen + j * ulen, c->unit, ulen);
		strcpy(buf + plen + ulen * c->count, c->suffix);
		expect_error(c->name, buf, len, c->status);
		free(buf);
	}
}

static void
test_pipelined(void **state)
{
	static const char two[] = "GET /one HTTP/1.1\r\nHost: h\r\n\r\n"
	                          "POST /two HTTP/1.1\r\nHost: h\r\n"
	                          "Content-Length: 3\r\n\r\nabc"
	                          "GET /thr";
	struct http_parser *p;
	const struct http_request *req;
	size_t len = sizeof(two) - 1, off = 0, used;

	p = http_parser_new(&limits);
	assert_int_equal(http_parser_started(p), 0);
	assert_int_equal(http_parse(p, two, len, &used), HTTP_DONE);
	assert_int_equal(used, strlen("GET /one HTTP/1.1\r\nHost: h\r\n\r\n"));
	req = http_parser_request(p);
	assert_non_null(req);
	assert_string_equal(req->path, "/one");
	/* Done: nothing more is consumed until reset. */
	off += used;
	assert_int_equal(http_parse(p, two + off, len - off, &used), HTTP_DONE);
	assert_int_equal(used, 0);

	http_parser_reset(p);
	assert_null(http_parser_request(p));
	assert_int_equal(http_parse(p, two + off, len - off, &used), HTTP_DONE);
	req = http_parser_request(p);
	assert_string_equal(req->method, "POST");
	assert_string_equal(req->path, "/two");
	assert_string_equal(req->body, "abc");
	off += used;
	assert_string_equal(two + off, "GET /thr");

	http_parser_reset(p);
	assert_int_equal(http_parse(p, two + off, len - off, &used), HTTP_MORE);
	assert_int_equal(used, len - off);
	assert_int_equal(http_parser_started(p), 1);
	assert_null(http_parser_request(p));
	http_parser_free(p);
}

static void
test_error_sticks(void **state)
{
	static const char bad[] = "BAD\r\nGET / HTTP/1.1\r\nHost: h\r\n\r\n";
	struct http_parser *p;
	size_t used;

	p = http_parser_new(&limits);
	assert_int_equal(
	    http_parse(p, bad, sizeof(bad) - 1, &used), HTTP_ERROR);
	assert_int_equal(used, 5);
	assert_int_equal(http_parser_status(p), 400);
	assert_int_equal(http_parse(p, bad + used, 3, &used), HTTP_ERROR);
	assert_int_equal(used, 0);
	http_parser_free(p);
}

/* Checks that out holds exactly want, and empties it. */
static void
expect_buffer(struct evbuffer *out, const char *want)
{
	size_t len = evbuffer_get_length(out);

	assert_int_equal(len, strlen(want));
	assert_memory_equal(evbuffer_pullup(out, -1), want, len);
	evbuffer_drain(out, len);
}

/*
 * Expect: 100-continue stops the parser once, right after the head, and
 * only when a body follows; without Expect it never stops.
 */
static void
test_continue(void **state)
{
	static const char head[] = "POST / HTTP/1.1\r\nHost: h\r\n"
	                           "Expect: 100-continue\r\n"
	                           "Content-Length: 5\r\n\r\n";
	static const char chead[] = "POST / HTTP/1.1\r\nHost: h\r\n"
	                            "Expect: 100-continue\r\n"
	                            "Transfer-Encoding: chunked\r\n\r\n";
	char buf[256];
	struct http_parser *p;
	struct outcome o;
	size_t len, split;

	p = http_parser_new(&limits);
	len = (size_t)snprintf(buf, sizeof(buf), "%shello", head);
	for (split = 0; split <= len + 1; split++) {
		http_parser_reset(p);
		o = split <= len ? feed(p, buf, len, split, 0)
		                 : feed(p, buf, len, 0, 1);
		assert_int_equal(o.rc, HTTP_DONE);
		assert_int_equal(o.conts, 1);
		assert_int_equal(o.contat, strlen(head));
		assert_string_equal(http_parser_request(p)->body, "hello");
	}
	len =
	    (size_t)snprintf(buf, sizeof(buf), "%s2\r\nab\r\n0\r\n\r\n", chead);
	http_parser_reset(p);
	o = feed(p, buf, len, 0, 1);
	assert_int_equal(o.rc, HTTP_DONE);
	assert_int_equal(o.conts, 1);
	assert_int_equal(o.contat, strlen(chead));
	assert_string_equal(http_parser_request(p)->body, "ab");

	/* The head alone: CONTINUE, then MORE until the body comes. */
	http_parser_reset(p);
	o = feed(p, head, strlen(head), strlen(head), 0);
	assert_int_equal(o.rc, HTTP_CONTINUE);
	assert_int_equal(o.used, strlen(head));
	assert_null(http_parser_request(p));

	/* No Expect, or HTTP/1.0: no stop. */
	len = (size_t)snprintf(buf, sizeof(buf),
	    "POST / HTTP/1.0\r\nExpect: 100-continue\r\n"
	    "Content-Length: 1\r\n\r\nx");
	http_parser_reset(p);
	o = feed(p, buf, len, 0, 1);
	assert_int_equal(o.rc, HTTP_DONE);
	assert_int_equal(o.conts, 0);
	http_parser_free(p);
}

static void
test_accepts(void **state)
{
	static const struct {
		const char *list;
		int gzip;
	} cases[] = {
	    {"gzip", 1},
	    {"gzip, deflate, br", 1},
	    {"deflate, GZIP", 1},
	    {"br;q=1.0, gzip;q=0.8, *;q=0.1", 1},
	    {"gzip;q=0", 0},
	    {"gzip; q=0.000", 0},
	    {"gzip;q=0.001", 1},
	    {"identity", 0},
	    {"", 0},
	    {"*", 1},
	    {"*;q=0", 0},
	    {"*, gzip;q=0", 0},
	    {"x-gzip", 0},
	    {"gzipx", 0},
	    {"deflate,gzip;q=1", 1},
	};
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		if (http_accepts(cases[i].list, "gzip") != cases[i].gzip)
			fail_msg("Accept-Encoding '%s': want %d", cases[i].list,
			    cases[i].gzip);
	}
	assert_false(http_accepts(NULL, "gzip"));
}

static void
test_validators(void **state)
{
	char date[40];
	time_t t;

	assert_true(http_etag_match("\"a-1\"", "\"a-1\""));
	assert_true(http_etag_match("\"x\", \"a-1\"", "\"a-1\""));
	assert_true(http_etag_match("W/\"a-1\"", "\"a-1\""));
	assert_true(http_etag_match("*", "\"a-1\""));
	assert_false(http_etag_match("\"a-1-gz\"", "\"a-1\""));
	assert_false(http_etag_match("\"a-\"", "\"a-1\""));
	assert_false(http_etag_match("a-1", "\"a-1\""));
	assert_false(http_etag_match("", "\"a-1\""));
	assert_false(http_etag_match(NULL, "\"a-1\""));

	http_date(date, sizeof(date), 784111777);
	assert_string_equal(date, "Sun, 06 Nov 1994 08:49:37 GMT");
	assert_int_equal(http_date_parse(date, &t), 0);
	assert_int_equal(t, 784111777);
	assert_int_equal(http_date_parse("Sun, 06 Nov 1994 08:49:37", &t), -1);
	assert_int_equal(http_date_parse("yesterday", &t), -1);
	assert_int_equal(http_date_parse(NULL, &t), -1);
}

static void
test_response(void **state)
{
	struct evbuffer *out;

	out = evbuffer_new();
	assert_non_null(out);
	http_response_write(
	    out, 404, "text/plain", "gone\n", 5, 1, "X-A: b\r\n");
	expect_buffer(out,
	    "HTTP/1.1 404 Not Found\r\n"
	    "Content-Type: text/plain\r\n"
	    "Content-Length: 5\r\n"
	    "Connection: keep-alive\r\n"
	    "X-Content-Type-Options: nosniff\r\n"
	    "X-A: b\r\n"
	    "\r\n"
	    "gone\n");
	http_response_head(out, 413, NULL, 0, 0, NULL);
	expect_buffer(out,
	    "HTTP/1.1 413 Content Too Large\r\n"
	    "Content-Length: 0\r\n"
	    "Connection: close\r\n"
	    "X-Content-Type-Options: nosniff\r\n"
	    "\r\n");
	/* A 304 tells no length: it has no body. */
	http_response_head(out, 304, NULL, 0, 1, "ETag: \"x\"\r\n");
	expect_buffer(out,
	    "HTTP/1.1 304 Not Modified\r\n"
	    "Connection: keep-alive\r\n"
	    "X-Content-Type-Options: nosniff\r\n"
	    "ETag: \"x\"\r\n"
	    "\r\n");
	evbuffer_free(out);

	assert_string_equal(
	    http_status_text(431), "Request Header Fields Too Large");
	assert_string_equal(
	    http_status_text(505), "HTTP Version Not Supported");
	assert_string_equal(http_status_text(417), "Expectation Failed");
	assert_string_equal(http_status_text(999), "Unknown");
}

UNIT_MAIN(cmocka_unit_test(test_valid), cmocka_unit_test(test_malformed),
    cmocka_unit_test(test_limits), cmocka_unit_test(test_pipelined),
    cmocka_unit_test(test_error_sticks), cmocka_unit_test(test_continue),
    cmocka_unit_test(test_accepts), cmocka_unit_test(test_validators),
    cmocka_unit_test(test_response))
