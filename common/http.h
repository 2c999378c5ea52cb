/* SPDX-License-Identifier: ISC */
/*
 * HTTP/1.1 requests as bytes: an incremental request parser that is fed
 * whatever arrived and says when a whole request (head and body) is there,
 * or which status to answer when it is not acceptable, and a helper that
 * writes a response head and body into an evbuffer. It does no I/O and
 * knows no process.
 */
#ifndef ALIA_HTTP_H
#define ALIA_HTTP_H

#include <stddef.h>
#include <time.h>

struct evbuffer;
struct http_parser;

/* Bounds on what one request may hold; each breach has its own status. */
struct http_limits {
	size_t max_line;         /* request line, 414 */
	size_t max_headers;      /* header count, 431 */
	size_t max_header_bytes; /* all header lines together, 431 */
	size_t max_body;         /* Content-Length or decoded chunks, 413 */
};

struct http_header {
	char *name;
	char *value;
};
/* Frees the names and values of n headers, not the array. */
void http_headers_free(struct http_header *, size_t n);
/* Whether c may stand in a token: a method, a header's name. */
int http_tchar(unsigned char c);

/*
 * A parsed request. Every string is NUL-terminated and owned by the
 * parser; it lives until the next http_parser_reset() or free.
 */
struct http_request {
	char *method;
	char *target; /* as sent */
	char *path;   /* percent-decoded, no NUL or ".." */
	char *query;  /* after '?', raw; NULL if none */
	int minor;    /* HTTP/1.minor */
	struct http_header *headers;
	size_t nheaders;
	char *body; /* NUL-terminated for convenience */
	size_t bodylen;
	int keepalive;
};

#define HTTP_MORE     0    /* every byte consumed, request incomplete */
#define HTTP_DONE     1    /* a whole request; bytes after it unused */
#define HTTP_CONTINUE 2    /* head with Expect: 100-continue; call again */
#define HTTP_ERROR    (-1) /* see http_parser_status, _error */

struct http_parser *http_parser_new(const struct http_limits *);
void http_parser_free(struct http_parser *);
/* Forgets the request parsed so far and gets ready for the next one. */
void http_parser_reset(struct http_parser *);
/*
 * Consumes up to len bytes and stores how many it used in *used: all of
 * them on HTTP_MORE, those up to the end of the request on HTTP_DONE,
 * those up to the end of the head on HTTP_CONTINUE (answer "100
 * Continue", then feed the rest). Once done or failed, it consumes
 * nothing until reset.
 */
int http_parse(struct http_parser *, const void *, size_t, size_t *used);
/* Whether some bytes of a request have been consumed since the reset. */
int http_parser_started(const struct http_parser *);
/* The request once http_parse() said HTTP_DONE, else NULL. */
const struct http_request *http_parser_request(const struct http_parser *);
/* The decoded path once the request line is parsed, else NULL. */
const char *http_parser_path(const struct http_parser *);
/* After HTTP_ERROR, the status to answer (400, 413, ...) and why. */
int http_parser_status(const struct http_parser *);
const char *http_parser_error(const struct http_parser *);

/* The value of the first header called name, any case; NULL if none. */
const char *http_header_get(const struct http_request *, const char *name);

/*
 * Whether an Accept-Encoding-style list allows coding: named with a q
 * above 0, or not named and "*" allowed.
 */
int http_accepts(const char *list, const char *coding);
/* Whether an If-None-Match value matches etag (weakly, or "*"). */
int http_etag_match(const char *header, const char *etag);
/* An IMF-fixdate ("Sun, 06 Nov 1994 08:49:37 GMT") into buf. */
void http_date(char *buf, size_t len, time_t);
/* Reads an IMF-fixdate; 0, or -1 when it is not one. */
int http_date_parse(const char *, time_t *);

/* The reason phrase of a status ("Not Found"); "Unknown" if not known. */
const char *http_status_text(int);
/*
 * Appends a response head: status line, Content-Type (omitted if NULL),
 * Content-Length (not for 304), Connection, X-Content-Type-Options: nosniff, then extra
 * (whole "Name: value\r\n" lines, or NULL) and the blank line.
 */
void http_response_head(struct evbuffer *, int status, const char *ctype,
    size_t len, int keepalive, const char *extra);
/* Appends a whole response: the head above and len bytes of body. */
void http_response_write(struct evbuffer *, int status, const char *ctype,
    const void *body, size_t len, int keepalive, const char *extra);

#endif
