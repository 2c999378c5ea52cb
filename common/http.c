/* SPDX-License-Identifier: ISC */
/*
 * The HTTP/1.1 request parser and the response head writer. The parser
 * owns every byte of the request it keeps: each is copied out of the
 * caller's buffer, so the caller may drop what was consumed at once.
 *
 * The parser is a small state machine fed arbitrary slices of the stream:
 *
 *   LINE   collecting the request line (empty lines before it are skipped,
 *          a few of them at most)
 *   HEADER collecting header lines up to the empty line that ends the head;
 *          the head is then checked as a whole (framing, Host, Connection)
 *   BODY   copying Content-Length bytes of body
 *   CHUNK  a chunked body: a chunk-size line (hex, extensions ignored, at
 *          most HTTP_MAX_CHUNK_LINE bytes), then DATA, that many bytes,
 *          then CRLF, the LF alone; size 0 ends the chunks and TRAILER
 *          lines (dropped, counted against the header bytes) follow up to
 *          the empty line
 *   DONE   a whole request is there; nothing more is consumed until reset
 *   ERROR  a status and message say why; nothing more is consumed
 *
 * A line is gathered into one buffer until its LF (a CR before the LF is
 * dropped; any other CR or control byte is an error), so a request may be
 * split anywhere. Every allocation is bounded by the limits: the line
 * buffer by the longer of the request line and header bytes, the header
 * array by the header count, the body by the body limit.
 *
 * Framing: a Content-Length body, or Transfer-Encoding: chunked alone
 * (decoded; its decoded size held to the same max_body, 413). Any other
 * transfer coding is answered with 501, Transfer-Encoding together with
 * Content-Length with 400, as is a Content-Length that is not a plain
 * decimal or that differs between repeated headers.
 *
 * Expect: 100-continue on an HTTP/1.1 request with a body makes
 * http_parse() stop once after the head with HTTP_CONTINUE, so that the
 * caller can send "100 Continue" before the client sends the body; a body
 * declared too large has been refused with 413 by then. Any other
 * expectation is answered with 417.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <event2/buffer.h>

#include "common/http.h"
#include "common/xmalloc.h"

#define HTTP_MAX_EMPTY_LINES 4
#define HTTP_MAX_CHUNK_LINE  64

enum http_state {
	HTTP_S_LINE,
	HTTP_S_HEADER,
	HTTP_S_BODY,
	HTTP_S_CHUNK_SIZE,
	HTTP_S_CHUNK_DATA,
	HTTP_S_CHUNK_END,
	HTTP_S_TRAILER,
	HTTP_S_DONE,
	HTTP_S_ERROR,
};

struct http_parser {
	struct http_limits limits;
	enum http_state state;
	char *line;
	size_t linelen;
	size_t linecap;
	size_t empty;  /* empty lines before request */
	size_t hbytes; /* header bytes so far */
	size_t hcap;   /* slots in req.headers */
	size_t bodygot;
	size_t chunkleft; /* bytes left of the current chunk */
	size_t bodycap;   /* chunked: bytes allocated for req.body */
	int cont;         /* HTTP_CONTINUE is due before the body */
	int status;
	const char *error;
	struct http_request req;
};

static int
http_fail(struct http_parser *p, int status, const char *error)
{
	p->state = HTTP_S_ERROR;
	p->status = status;
	p->error = error;
	return HTTP_ERROR;
}

int
http_tchar(unsigned char c)
{
	if ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') ||
	    (c >= 'A' && c <= 'Z'))
		return 1;
	return c != '\0' && strchr("!#$%&'*+-.^_`|~", c) != NULL;
}

static int
http_hexval(unsigned char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

struct http_parser *
http_parser_new(const struct http_limits *limits)
{
	struct http_parser *p;

	p = xcalloc(1, sizeof(*p));
	p->limits = *limits;
	return p;
}

void
http_headers_free(struct http_header *h, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		free(h[i].name);
		free(h[i].value);
	}
}

static void
http_request_clear(struct http_request *req)
{
	http_headers_free(req->headers, req->nheaders);
	free(req->headers);
	free(req->method);
	free(req->target);
	free(req->path);
	free(req->query);
	free(req->body);
	memset(req, 0, sizeof(*req));
}

void
http_parser_reset(struct http_parser *p)
{
	http_request_clear(&p->req);
	p->state = HTTP_S_LINE;
	p->linelen = 0;
	p->empty = 0;
	p->hbytes = 0;
	p->hcap = 0;
	p->bodygot = 0;
	p->chunkleft = 0;
	p->bodycap = 0;
	p->cont = 0;
	p->status = 0;
	p->error = NULL;
}

void
http_parser_free(struct http_parser *p)
{
	if (p == NULL)
		return;
	http_request_clear(&p->req);
	free(p->line);
	free(p);
}

int
http_parser_started(const struct http_parser *p)
{
	return p->state != HTTP_S_LINE || p->linelen > 0 || p->empty > 0;
}

const struct http_request *
http_parser_request(const struct http_parser *p)
{
	return p->state == HTTP_S_DONE ? &p->req : NULL;
}

int
http_parser_status(const struct http_parser *p)
{
	return p->state == HTTP_S_ERROR ? p->status : 0;
}

const char *
http_parser_error(const struct http_parser *p)
{
	return p->state == HTTP_S_ERROR ? p->error : NULL;
}

const char *
http_parser_path(const struct http_parser *p)
{
	return p->req.path;
}

const char *
http_header_get(const struct http_request *req, const char *name)
{
	size_t i;

	for (i = 0; i < req->nheaders; i++) {
		if (strcasecmp(req->headers[i].name, name) == 0)
			return req->headers[i].value;
	}
	return NULL;
}

/* Decodes the path part of a target into req->path; 0 or -1. */
static int
http_decode_path(struct http_request *req, const char *raw, size_t len)
{
	char *out, *seg, *end;
	size_t i, n = 0;
	int hi, lo;

	out = xmalloc(len + 1);
	for (i = 0; i < len; i++) {
		if (raw[i] != '%') {
			out[n++] = raw[i];
			continue;
		}
		if (len - i < 3 || (hi = http_hexval(raw[i + 1])) == -1 ||
		    (lo = http_hexval(raw[i + 2])) == -1 ||
		    (hi == 0 && lo == 0)) {
			free(out);
			return -1;
		}
		out[n++] = (char)(hi << 4 | lo);
		i += 2;
	}
	out[n] = '\0';

	/* No ".." segment, however it was spelt. */
	for (seg = out; seg != NULL; seg = end != NULL ? end + 1 : NULL) {
		end = strchr(seg, '/');
		if ((end != NULL ? (size_t)(end - seg) : strlen(seg)) == 2 &&
		    seg[0] == '.' && seg[1] == '.') {
			free(out);
			return -1;
		}
	}
	req->path = out;
	return 0;
}

/* Splits the target into path and query. */
static int
http_parse_target(struct http_parser *p)
{
	struct http_request *req = &p->req;
	const char *t = req->target, *q, *slash;

	if (strcmp(t, "*") == 0) {
		if (strcmp(req->method, "OPTIONS") != 0)
			return http_fail(p, 400, "'*' target without OPTIONS");
		req->path = xstrdup("*");
		return 0;
	}
	if (strncasecmp(t, "http://", 7) == 0 ||
	    strncasecmp(t, "https://", 8) == 0) {
		/* Absolute form: the path starts after the authority. */
		t = strstr(t, "//") + 2;
		slash = t + strcspn(t, "/?");
		if (slash == t)
			return http_fail(p, 400, "no host in absolute target");
		if (*slash != '/') {
			if (*slash == '?')
				req->query = xstrdup(slash + 1);
			req->path = xstrdup("/");
			return 0;
		}
		t = slash;
	}
	if (*t != '/')
		return http_fail(p, 400, "target is not a path");
	if (strchr(t, '#') != NULL)
		return http_fail(p, 400, "fragment in target");
	if ((q = strchr(t, '?')) != NULL)
		req->query = xstrdup(q + 1);
	else
		q = t + strlen(t);
	if (http_decode_path(req, t, (size_t)(q - t)) == -1)
		return http_fail(p, 400, "bad escape, NUL or '..' in path");
	return 0;
}

/* "METHOD SP target SP HTTP/1.x". */
static int
http_parse_reqline(struct http_parser *p, char *line, size_t len)
{
	struct http_request *req = &p->req;
	char *sp1, *sp2, *v;
	size_t i;

	if ((sp1 = memchr(line, ' ', len)) == NULL ||
	    (sp2 = memchr(sp1 + 1, ' ', len - (size_t)(sp1 + 1 - line))) ==
	        NULL)
		return http_fail(p, 400, "malformed request line");
	if (sp1 == line)
		return http_fail(p, 400, "empty method");
	for (i = 0; line + i < sp1; i++) {
		if (!http_tchar((unsigned char)line[i]))
			return http_fail(p, 400, "bad character in method");
	}
	if (sp2 == sp1 + 1)
		return http_fail(p, 400, "empty target");
	for (i = 1; sp1 + i < sp2; i++) {
		if (sp1[i] < 0x21 || sp1[i] > 0x7e)
			return http_fail(p, 400, "bad character in target");
	}
	v = sp2 + 1;
	if ((size_t)(line + len - v) != 8 || strncmp(v, "HTTP/", 5) != 0 ||
	    v[5] < '0' || v[5] > '9' || v[6] != '.' || v[7] < '0' || v[7] > '9')
		return http_fail(p, 400, "malformed HTTP version");
	if (v[5] != '1')
		return http_fail(p, 505, "only HTTP/1.x is supported");

	req->method = xstrndup(line, (size_t)(sp1 - line));
	req->target = xstrndup(sp1 + 1, (size_t)(sp2 - sp1 - 1));
	req->minor = v[7] - '0';
	return http_parse_target(p);
}

/* "name: value", stored with the value trimmed. */
static int
http_parse_header(struct http_parser *p, char *line, size_t len)
{
	struct http_request *req = &p->req;
	struct http_header *h;
	char *colon, *v, *e;
	size_t i;

	if (line[0] == ' ' || line[0] == '\t')
		return http_fail(p, 400, "folded header line");
	if ((colon = memchr(line, ':', len)) == NULL || colon == line)
		return http_fail(p, 400, "malformed header line");
	for (i = 0; line + i < colon; i++) {
		if (!http_tchar((unsigned char)line[i]))
			return http_fail(
			    p, 400, "bad character in header name");
	}
	v = colon + 1;
	e = line + len;
	while (v < e && (*v == ' ' || *v == '\t'))
		v++;
	while (e > v && (e[-1] == ' ' || e[-1] == '\t'))
		e--;
	for (i = 0; v + i < e; i++) {
		unsigned char c = (unsigned char)v[i];

		if ((c < 0x20 && c != '\t') || c == 0x7f)
			return http_fail(
			    p, 400, "bad character in header value");
	}

	if (req->nheaders >= p->limits.max_headers)
		return http_fail(p, 431, "too many header fields");
	if (req->nheaders == p->hcap) {
		p->hcap = p->hcap == 0 ? 8 : p->hcap * 2;
		if (p->hcap > p->limits.max_headers)
			p->hcap = p->limits.max_headers;
		req->headers =
		    xreallocarray(req->headers, p->hcap, sizeof(*req->headers));
	}
	h = &req->headers[req->nheaders++];
	h->name = xstrndup(line, (size_t)(colon - line));
	h->value = xstrndup(v, (size_t)(e - v));
	return 0;
}

/* Whether a comma-separated header value lists token, in any case. */
static int
http_list_has(const char *list, const char *token)
{
	size_t n = strlen(token), len;
	const char *s = list;

	while (*s != '\0') {
		s += strspn(s, " \t,");
		len = strcspn(s, ",");
		while (len > 0 && (s[len - 1] == ' ' || s[len - 1] == '\t'))
			len--;
		if (len == n && strncasecmp(s, token, n) == 0)
			return 1;
		s += strcspn(s, ",");
	}
	return 0;
}

/* Checks the head as a whole and decides the framing of the body. */
static int
http_end_head(struct http_parser *p)
{
	struct http_request *req = &p->req;
	const char *cl = NULL, *te = NULL, *expect = NULL, *name, *v;
	size_t i, d, hosts = 0, body = 0;
	int close = 0, keep = 0, toobig = 0;

	for (i = 0; i < req->nheaders; i++) {
		name = req->headers[i].name;
		v = req->headers[i].value;
		if (strcasecmp(name, "Content-Length") == 0) {
			if (*v == '\0' || v[strspn(v, "0123456789")] != '\0')
				return http_fail(p, 400, "bad Content-Length");
			if (cl != NULL && strcmp(cl, v) != 0)
				return http_fail(
				    p, 400, "conflicting Content-Length");
			cl = v;
		} else if (strcasecmp(name, "Transfer-Encoding") == 0)
			te = v;
		else if (strcasecmp(name, "Host") == 0)
			hosts++;
		else if (strcasecmp(name, "Expect") == 0) {
			if (expect != NULL)
				return http_fail(p, 400, "repeated Expect");
			expect = v;
		} else if (strcasecmp(name, "Connection") == 0) {
			close |= http_list_has(v, "close");
			keep |= http_list_has(v, "keep-alive");
		}
	}
	if (hosts > 1 || (hosts == 0 && req->minor >= 1))
		return http_fail(p, 400, "a request needs one Host header");
	if (te != NULL && cl != NULL)
		return http_fail(
		    p, 400, "both Transfer-Encoding and Content-Length");
	if (te != NULL && strcasecmp(te, "chunked") != 0)
		return http_fail(
		    p, 501, "only the chunked transfer coding is supported");
	if (expect != NULL && strcasecmp(expect, "100-continue") != 0)
		return http_fail(p, 417, "only Expect: 100-continue is known");
	if (cl != NULL) {
		for (; *cl != '\0' && !toobig; cl++) {
			d = (size_t)(*cl - '0');
			if (body > (SIZE_MAX - d) / 10)
				toobig = 1;
			else
				body = body * 10 + d;
			if (body > p->limits.max_body)
				toobig = 1;
		}
		if (toobig || body > p->limits.max_body)
			return http_fail(p, 413, "request body too large");
	}
	req->keepalive = !close && (req->minor >= 1 || keep);
	if (te != NULL) {
		/* Grown as chunks come, up to max_body. */
		p->bodycap =
		    256 < p->limits.max_body ? 256 : p->limits.max_body;
		req->body = xmalloc(p->bodycap + 1);
		req->body[0] = '\0';
		req->bodylen = 0;
		p->state = HTTP_S_CHUNK_SIZE;
	} else {
		req->body = xmalloc(body + 1);
		req->body[0] = '\0';
		req->bodylen = body;
		p->state = body > 0 ? HTTP_S_BODY : HTTP_S_DONE;
	}
	p->cont = expect != NULL && req->minor >= 1 && p->state != HTTP_S_DONE;
	return 0;
}

/* A chunk-size line: hex digits, then nothing or ";" extensions. */
static int
http_chunk_size(struct http_parser *p, const char *line, size_t len)
{
	size_t i, size = 0;
	int d;

	for (i = 0; i < len && (d = http_hexval((unsigned char)line[i])) != -1;
	     i++) {
		if (size > (SIZE_MAX - (size_t)d) / 16 ||
		    size * 16 + (size_t)d > p->limits.max_body)
			return http_fail(p, 413, "request body too large");
		size = size * 16 + (size_t)d;
	}
	if (i == 0)
		return http_fail(p, 400, "bad chunk size");
	while (i < len && (line[i] == ' ' || line[i] == '\t'))
		i++;
	if (i < len && line[i] != ';')
		return http_fail(p, 400, "bad chunk size");
	if (size > p->limits.max_body - p->req.bodylen)
		return http_fail(p, 413, "request body too large");
	if (size == 0) {
		p->state = HTTP_S_TRAILER;
		return 0;
	}
	if (p->req.bodylen + size > p->bodycap) {
		/* Doubles, but never past max_body. */
		p->bodycap = p->bodycap * 2 > p->req.bodylen + size
		    ? p->bodycap * 2
		    : p->req.bodylen + size;
		if (p->bodycap > p->limits.max_body)
			p->bodycap = p->limits.max_body;
		p->req.body = xreallocarray(p->req.body, p->bodycap + 1, 1);
	}
	p->chunkleft = size;
	p->state = HTTP_S_CHUNK_DATA;
	return 0;
}

/* Handles one complete line, its LF and any CR before it removed. */
static int
http_line(struct http_parser *p, char *line, size_t len)
{
	if (p->state == HTTP_S_LINE) {
		if (len == 0) {
			if (++p->empty > HTTP_MAX_EMPTY_LINES)
				return http_fail(
				    p, 400, "empty lines instead of a request");
			return 0;
		}
		if (len > p->limits.max_line)
			return http_fail(p, 414, "request line too long");
		if (http_parse_reqline(p, line, len) == HTTP_ERROR)
			return HTTP_ERROR;
		p->state = HTTP_S_HEADER;
		return 0;
	}
	if (p->state == HTTP_S_CHUNK_SIZE)
		return http_chunk_size(p, line, len);
	if (p->state == HTTP_S_CHUNK_END) {
		if (len != 0)
			return http_fail(
			    p, 400, "chunk data longer than its size");
		p->state = HTTP_S_CHUNK_SIZE;
		return 0;
	}
	if (p->state == HTTP_S_TRAILER) {
		if (len == 0) {
			p->req.body[p->req.bodylen] = '\0';
			p->state = HTTP_S_DONE;
			return 0;
		}
		/* Trailer fields are dropped, but bounded with the head. */
		if (p->hbytes + len > p->limits.max_header_bytes)
			return http_fail(p, 431, "trailer fields too large");
		p->hbytes += len;
		return 0;
	}
	if (len == 0)
		return http_end_head(p);
	if (p->hbytes + len > p->limits.max_header_bytes)
		return http_fail(p, 431, "header fields too large");
	p->hbytes += len;
	return http_parse_header(p, line, len);
}

/* Appends to the current line unless that breaks a limit. */
static int
http_line_append(struct http_parser *p, const char *s, size_t n)
{
	size_t max, cap;

	/* One byte of slack for the CR before the LF. */
	if (p->state == HTTP_S_LINE) {
		max = p->limits.max_line + 1;
		if (p->linelen + n > max)
			return http_fail(p, 414, "request line too long");
	} else if (p->state == HTTP_S_CHUNK_SIZE ||
	    p->state == HTTP_S_CHUNK_END) {
		max = HTTP_MAX_CHUNK_LINE + 1;
		if (p->linelen + n > max)
			return http_fail(p, 400, "chunk-size line too long");
	} else {
		max = p->limits.max_header_bytes - p->hbytes + 1;
		if (p->linelen + n > max)
			return http_fail(p, 431, "header fields too large");
	}
	if (p->linelen + n + 1 > p->linecap) {
		/* Doubles, but never past what the limit allows. */
		cap = p->linecap < 128 ? 256 : 2 * p->linecap;
		if (cap > max + 1)
			cap = max + 1;
		if (cap < p->linelen + n + 1)
			cap = p->linelen + n + 1;
		p->line = xreallocarray(p->line, cap, 1);
		p->linecap = cap;
	}
	memcpy(p->line + p->linelen, s, n);
	p->linelen += n;
	return 0;
}

int
http_parse(struct http_parser *p, const void *buf, size_t len, size_t *used)
{
	const char *s = buf, *lf;
	size_t off = 0, n;

	*used = 0;
	while (off < len) {
		switch (p->state) {
		case HTTP_S_LINE:
		case HTTP_S_HEADER:
		case HTTP_S_CHUNK_SIZE:
		case HTTP_S_CHUNK_END:
		case HTTP_S_TRAILER:
			lf = memchr(s + off, '\n', len - off);
			n = lf != NULL ? (size_t)(lf - (s + off)) : len - off;
			if (http_line_append(p, s + off, n) == HTTP_ERROR) {
				*used = off;
				return HTTP_ERROR;
			}
			off += n;
			if (lf == NULL)
				break;
			off++;
			n = p->linelen;
			p->linelen = 0;
			if (n > 0 && p->line[n - 1] == '\r')
				n--;
			p->line[n] = '\0';
			if (memchr(p->line, '\0', n) != NULL) {
				*used = off;
				return http_fail(p, 400, "NUL in request head");
			}
			if (http_line(p, p->line, n) == HTTP_ERROR) {
				*used = off;
				return HTTP_ERROR;
			}
			if (p->cont) {
				p->cont = 0;
				*used = off;
				return HTTP_CONTINUE;
			}
			break;
		case HTTP_S_CHUNK_DATA:
			n = p->chunkleft;
			if (n > len - off)
				n = len - off;
			memcpy(p->req.body + p->req.bodylen, s + off, n);
			p->req.bodylen += n;
			p->chunkleft -= n;
			off += n;
			if (p->chunkleft == 0)
				p->state = HTTP_S_CHUNK_END;
			break;
		case HTTP_S_BODY:
			n = p->req.bodylen - p->bodygot;
			if (n > len - off)
				n = len - off;
			memcpy(p->req.body + p->bodygot, s + off, n);
			p->bodygot += n;
			off += n;
			if (p->bodygot == p->req.bodylen) {
				p->req.body[p->bodygot] = '\0';
				p->state = HTTP_S_DONE;
			}
			break;
		case HTTP_S_DONE:
		case HTTP_S_ERROR:
			*used = off;
			return p->state == HTTP_S_DONE ? HTTP_DONE : HTTP_ERROR;
		}
	}
	*used = off;
	if (p->state == HTTP_S_DONE)
		return HTTP_DONE;
	if (p->state == HTTP_S_ERROR)
		return HTTP_ERROR;
	return HTTP_MORE;
}

const char *
http_status_text(int status)
{
	switch (status) {
	case 100:
		return "Continue";
	case 101:
		return "Switching Protocols";
	case 200:
		return "OK";
	case 201:
		return "Created";
	case 204:
		return "No Content";
	case 301:
		return "Moved Permanently";
	case 302:
		return "Found";
	case 304:
		return "Not Modified";
	case 400:
		return "Bad Request";
	case 401:
		return "Unauthorized";
	case 403:
		return "Forbidden";
	case 404:
		return "Not Found";
	case 405:
		return "Method Not Allowed";
	case 408:
		return "Request Timeout";
	case 409:
		return "Conflict";
	case 410:
		return "Gone";
	case 413:
		return "Content Too Large";
	case 414:
		return "URI Too Long";
	case 417:
		return "Expectation Failed";
	case 426:
		return "Upgrade Required";
	case 429:
		return "Too Many Requests";
	case 431:
		return "Request Header Fields Too Large";
	case 500:
		return "Internal Server Error";
	case 501:
		return "Not Implemented";
	case 502:
		return "Bad Gateway";
	case 503:
		return "Service Unavailable";
	case 504:
		return "Gateway Timeout";

	case 505:
		return "HTTP Version Not Supported";
	default:
		return "Unknown";
	}
}

void
http_response_head(struct evbuffer *out, int status, const char *ctype,
    size_t len, int keepalive, const char *extra)
{
	evbuffer_add_printf(
	    out, "HTTP/1.1 %d %s\r\n", status, http_status_text(status));
	if (ctype != NULL)
		evbuffer_add_printf(out, "Content-Type: %s\r\n", ctype);
	/* A 304 has no body, and its length would be the 200's. */
	if (status != 304)
		evbuffer_add_printf(out, "Content-Length: %zu\r\n", len);
	evbuffer_add_printf(out,
	    "Connection: %s\r\n"
	    "X-Content-Type-Options: nosniff\r\n"
	    "%s\r\n",
	    keepalive ? "keep-alive" : "close", extra != NULL ? extra : "");
}

void
http_response_write(struct evbuffer *out, int status, const char *ctype,
    const void *body, size_t len, int keepalive, const char *extra)
{
	http_response_head(out, status, ctype, len, keepalive, extra);
	if (len > 0)
		evbuffer_add(out, body, len);
}

/*
 * The q value of one element of an Accept-style list ("gzip;q=0.5"):
 * 1000 times it, 1000 when absent, -1 when malformed.
 */
static int
http_qvalue(const char *params, size_t len)
{
	const char *q = NULL;
	size_t i;
	int v = 0;

	for (i = 0; i < len; i++) {
		if (params[i] == ';') {
			i++;
			while (
			    i < len && (params[i] == ' ' || params[i] == '\t'))
				i++;
			if (i + 1 < len &&
			    (params[i] == 'q' || params[i] == 'Q') &&
			    params[i + 1] == '=')
				q = params + i + 2;
		}
	}
	if (q == NULL)
		return 1000;
	len -= (size_t)(q - params);
	if (len == 0 || (q[0] != '0' && q[0] != '1'))
		return -1;
	v = (q[0] - '0') * 1000;
	if (len > 1 && q[1] == '.') {
		for (i = 2; i < len && i < 5 && q[i] >= '0' && q[i] <= '9';
		     i++) {
			v += (q[i] - '0') * (i == 2 ? 100 : i == 3 ? 10 : 1);
		}
	}
	return v > 1000 ? -1 : v;
}

int
http_accepts(const char *list, const char *coding)
{
	size_t n = strlen(coding), len, name;
	const char *s = list;
	int star = -1, q;

	if (list == NULL)
		return 0;
	while (*s != '\0') {
		s += strspn(s, " \t,");
		len = strcspn(s, ",");
		name = strcspn(s, " \t;,");
		if (name > len)
			name = len;
		q = http_qvalue(s + name, len - name);
		if (name == n && strncasecmp(s, coding, n) == 0)
			return q > 0;
		if (name == 1 && s[0] == '*')
			star = q;
		s += len;
	}
	return star > 0;
}

int
http_etag_match(const char *header, const char *etag)
{
	const char *s = header, *e;
	size_t n;

	if (header == NULL)
		return 0;
	if (strncmp(etag, "W/", 2) == 0)
		etag += 2;
	n = strlen(etag);
	while (*s != '\0') {
		s += strspn(s, " \t,");
		if (*s == '*')
			return 1;
		/* Weak comparison: W/ does not matter. */
		if (strncmp(s, "W/", 2) == 0)
			s += 2;
		if (*s != '"')
			break;
		if ((e = strchr(s + 1, '"')) == NULL)
			break;
		if ((size_t)(e + 1 - s) == n && strncmp(s, etag, n) == 0)
			return 1;
		s = e + 1;
	}
	return 0;
}

void
http_date(char *buf, size_t len, time_t t)
{
	struct tm tm;

	gmtime_r(&t, &tm);
	if (strftime(buf, len, "%a, %d %b %Y %H:%M:%S GMT", &tm) == 0 &&
	    len > 0)
		buf[0] = '\0';
}

int
http_date_parse(const char *s, time_t *t)
{
	struct tm tm;
	const char *end;

	memset(&tm, 0, sizeof(tm));
	if (s == NULL ||
	    (end = strptime(s, "%a, %d %b %Y %H:%M:%S GMT", &tm)) == NULL ||
	    *end != '\0')
		return -1;
	*t = timegm(&tm);
	return 0;
}
