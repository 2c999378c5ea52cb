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
 *   DONE   a whole request is there; nothing more is consumed until reset
 *   ERROR  a status and message say why; nothing more is consumed
 *
 * A line is gathered into one buffer until its LF (a CR before the LF is
 * dropped; any other CR or control byte is an error), so a request may be
 * split anywhere. Every allocation is bounded by the limits: the line
 * buffer by the longer of the request line and header bytes, the header
 * array by the header count, the body by the body limit.
 *
 * Framing: only Content-Length bodies are accepted. Transfer-Encoding of
 * any kind is answered with 501 (no client of alia needs to send chunked
 * requests), and together with Content-Length with 400, as is a
 * Content-Length that is not a plain decimal or that differs between
 * repeated headers.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <event2/buffer.h>

#include "common/http.h"
#include "common/xmalloc.h"

#define HTTP_MAX_EMPTY_LINES 4

enum http_state {
	HTTP_S_LINE,
	HTTP_S_HEADER,
	HTTP_S_BODY,
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

static int
http_istchar(unsigned char c)
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

static void
http_request_clear(struct http_request *req)
{
	size_t i;

	for (i = 0; i < req->nheaders; i++) {
		free(req->headers[i].name);
		free(req->headers[i].value);
	}
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
		if (!http_istchar((unsigned char)line[i]))
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
		if (!http_istchar((unsigned char)line[i]))
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
	const char *cl = NULL, *te = NULL, *name, *v;
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
		else if (strcasecmp(name, "Connection") == 0) {
			close |= http_list_has(v, "close");
			keep |= http_list_has(v, "keep-alive");
		}
	}
	if (hosts > 1 || (hosts == 0 && req->minor >= 1))
		return http_fail(p, 400, "a request needs one Host header");
	if (te != NULL && cl != NULL)
		return http_fail(
		    p, 400, "both Transfer-Encoding and Content-Length");
	if (te != NULL)
		return http_fail(p, 501, "Transfer-Encoding is not supported");
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
	req->body = xmalloc(body + 1);
	req->body[0] = '\0';
	req->bodylen = body;
	p->state = body > 0 ? HTTP_S_BODY : HTTP_S_DONE;
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
	evbuffer_add_printf(out,
	    "Content-Length: %zu\r\n"
	    "Connection: %s\r\n"
	    "X-Content-Type-Options: nosniff\r\n"
	    "%s\r\n",
	    len, keepalive ? "keep-alive" : "close",
	    extra != NULL ? extra : "");
}

void
http_response_write(struct evbuffer *out, int status, const char *ctype,
    const void *body, size_t len, int keepalive, const char *extra)
{
	http_response_head(out, status, ctype, len, keepalive, extra);
	if (len > 0)
		evbuffer_add(out, body, len);
}
