/* SPDX-License-Identifier: ISC */
/*
 * The incremental HTTP/1.1 response parser of the Docker client: it reads
 * what the daemon sends back on one connection, in pieces of any size, and
 * keeps the status, the headers and the body of one response at a time.
 *
 * A response moves through four outer states. HEAD collects lines (status
 * line, then headers, up to an empty line); when the head is complete the
 * status and the framing headers decide what follows. 101 stops the parser
 * in UPGRADE at once: the bytes after the head belong to the raw stream and
 * are left unconsumed for the caller. 1xx other than 101 is an interim
 * response and is skipped. 204, 304 and a zero Content-Length end in DONE
 * with an empty body. Otherwise BODY reads in one of three modes: LENGTH
 * counts down Content-Length, EOF takes everything until the peer closes
 * (docker_http_eof() then ends it), and CHUNKED cycles through SIZE (a hex
 * size line with optional extensions), DATA (that many bytes), DATA_END
 * (the empty line after the data) and, after the zero-size chunk, TRAILER
 * (header lines up to an empty one). The parser consumes nothing past the
 * end of a response, so the caller knows where the next one starts.
 * Anything malformed, and any line or head past its limit, puts the parser
 * in ERROR for good, with a reason. Body bytes are appended to an evbuffer
 * that the caller may drain while the body is still arriving, which is how
 * endless chunked streams (/events) are read.
 */
#include <sys/types.h>

#include <ctype.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <event2/buffer.h>

#include "common/http.h"
#include "common/log.h"
#include "common/xmalloc.h"
#include "master/master.h"

#define HTTP_LINE_MAX    8192
#define HTTP_HEAD_MAX    65536
#define HTTP_HEADERS_MAX 64
#define HTTP_CHUNK_MAX   ((uint64_t)1 << 40)

enum http_body {
	BODY_NONE,
	BODY_LENGTH,
	BODY_EOF,
	BODY_CHUNKED,
};

enum http_chunk {
	CHUNK_SIZE,
	CHUNK_DATA,
	CHUNK_DATA_END,
	CHUNK_TRAILER,
};

struct docker_http {
	enum docker_http_state state;
	enum http_body body_mode;
	enum http_chunk chunk;
	int status;
	int minor; /* HTTP/1.minor */
	int keepalive;
	int seen_status;
	uint64_t remaining; /* of Content-Length or of the chunk */
	size_t consumed;    /* bytes of this response so far */
	size_t headlen;
	char line[HTTP_LINE_MAX + 1];
	size_t linelen;
	int linecr; /* the line so far ends in CR */
	struct http_header headers[HTTP_HEADERS_MAX];
	size_t nheaders;
	struct evbuffer *body;
	char error[128];
};

struct docker_http *
docker_http_new(void)
{
	struct docker_http *h;

	h = xcalloc(1, sizeof(*h));
	if ((h->body = evbuffer_new()) == NULL)
		fatalx("%s: evbuffer_new", __func__);
	docker_http_reset(h);
	return h;
}

static void
http_clear_headers(struct docker_http *h)
{
	http_headers_free(h->headers, h->nheaders);
	h->nheaders = 0;
}

void
docker_http_free(struct docker_http *h)
{
	if (h == NULL)
		return;
	http_clear_headers(h);
	evbuffer_free(h->body);
	free(h);
}

void
docker_http_reset(struct docker_http *h)
{
	http_clear_headers(h);
	evbuffer_drain(h->body, evbuffer_get_length(h->body));
	h->state = DOCKER_HTTP_HEAD;
	h->body_mode = BODY_NONE;
	h->chunk = CHUNK_SIZE;
	h->status = 0;
	h->minor = 1;
	h->keepalive = 0;
	h->seen_status = 0;
	h->remaining = 0;
	h->consumed = 0;
	h->headlen = 0;
	h->linelen = 0;
	h->linecr = 0;
	h->error[0] = '\0';
}

static int
http_fail(struct docker_http *h, const char *why)
{
	h->state = DOCKER_HTTP_ERROR;
	snprintf(h->error, sizeof(h->error), "%s", why);
	return -1;
}

/*
 * Collects bytes into h->line up to a newline. Returns 1 with a complete,
 * NUL-terminated line (CR stripped), 0 when more bytes are needed, -1 when
 * the line is too long or holds a bare CR or NUL.
 */
static int
http_line(struct docker_http *h, const char *p, size_t len, size_t *off)
{
	const char *nl;
	size_t n, i;

	nl = memchr(p + *off, '\n', len - *off);
	n = (nl != NULL ? (size_t)(nl - (p + *off)) : len - *off);
	if (h->linelen + n > HTTP_LINE_MAX)
		return http_fail(h, "line too long");
	for (i = 0; i < n; i++) {
		char c = p[*off + i];

		if (c == '\0' || (h->linecr && c != '\n'))
			return http_fail(h, "stray CR or NUL in line");
		h->linecr = (c == '\r');
		if (!h->linecr)
			h->line[h->linelen++] = c;
	}
	*off += n;
	if (nl == NULL)
		return 0;
	(*off)++;
	h->linecr = 0;
	h->line[h->linelen] = '\0';
	h->linelen = 0;
	return 1;
}

static int
http_status_line(struct docker_http *h, const char *s)
{
	const char *r;

	if (strncmp(s, "HTTP/1.", 7) != 0 || !isdigit((unsigned char)s[7]) ||
	    s[8] != ' ')
		return http_fail(h, "malformed status line");
	h->minor = s[7] - '0';
	if (!isdigit((unsigned char)s[9]) || !isdigit((unsigned char)s[10]) ||
	    !isdigit((unsigned char)s[11]))
		return http_fail(h, "malformed status code");
	h->status = (s[9] - '0') * 100 + (s[10] - '0') * 10 + (s[11] - '0');
	if (h->status < 100 || h->status > 599)
		return http_fail(h, "status code out of range");
	if (s[12] != '\0' && s[12] != ' ')
		return http_fail(h, "malformed status line");
	for (r = s + 12; *r != '\0'; r++) {
		if (iscntrl((unsigned char)*r) && *r != '\t')
			return http_fail(h, "control character in reason");
	}
	h->keepalive = (h->minor >= 1);
	h->seen_status = 1;
	return 0;
}

static int
http_header_line(struct docker_http *h, char *s)
{
	char *colon, *v, *end;

	if (*s == ' ' || *s == '\t')
		return http_fail(h, "folded header line");
	for (colon = s; *colon != '\0' && *colon != ':'; colon++) {
		if (!http_tchar((unsigned char)*colon))
			return http_fail(h, "bad header name");
	}
	if (*colon != ':' || colon == s)
		return http_fail(h, "header line without name or colon");
	*colon = '\0';
	for (v = colon + 1; *v == ' ' || *v == '\t'; v++)
		;
	for (end = v; *end != '\0'; end++) {
		if (iscntrl((unsigned char)*end) && *end != '\t')
			return http_fail(h, "control character in header");
	}
	while (end > v && (end[-1] == ' ' || end[-1] == '\t'))
		*--end = '\0';
	if (h->nheaders == HTTP_HEADERS_MAX)
		return http_fail(h, "too many headers");
	h->headers[h->nheaders].name = xstrdup(s);
	h->headers[h->nheaders].value = xstrdup(v);
	h->nheaders++;
	return 0;
}

/* Parses a decimal Content-Length; -1 when it is not a number. */
static int
http_length(const char *s, uint64_t *out)
{
	uint64_t n = 0;

	if (*s == '\0')
		return -1;
	for (; *s != '\0'; s++) {
		if (!isdigit((unsigned char)*s) || n > (UINT64_MAX - 9) / 10)
			return -1;
		n = n * 10 + (uint64_t)(*s - '0');
	}
	*out = n;
	return 0;
}

/* Decides the body framing once the head is complete. */
static int
http_head_done(struct docker_http *h)
{
	const char *te, *conn;
	uint64_t len = 0, other;
	int have_len = 0;
	size_t i;

	if (h->status >= 100 && h->status < 200 && h->status != 101) {
		/* An interim response: forget it, read the real one. */
		http_clear_headers(h);
		h->seen_status = 0;
		h->headlen = 0;
		return 0;
	}
	for (i = 0; i < h->nheaders; i++) {
		if (strcasecmp(h->headers[i].name, "Content-Length") != 0)
			continue;
		if (http_length(h->headers[i].value, &other) == -1)
			return http_fail(h, "bad Content-Length");
		if (have_len && other != len)
			return http_fail(h, "conflicting Content-Length");
		len = other;
		have_len = 1;
	}
	if ((conn = docker_http_header(h, "Connection")) != NULL) {
		if (strcasecmp(conn, "close") == 0)
			h->keepalive = 0;
		else if (strcasecmp(conn, "keep-alive") == 0)
			h->keepalive = 1;
	}
	if (h->status == 101) {
		h->state = DOCKER_HTTP_UPGRADE;
		h->keepalive = 0;
		return 0;
	}
	if (h->status == 204 || h->status == 304) {
		h->state = DOCKER_HTTP_DONE;
		return 0;
	}
	if ((te = docker_http_header(h, "Transfer-Encoding")) != NULL) {
		if (strcasecmp(te, "chunked") != 0)
			return http_fail(h, "unsupported Transfer-Encoding");
		h->body_mode = BODY_CHUNKED;
		h->chunk = CHUNK_SIZE;
		h->state = DOCKER_HTTP_BODY;
		return 0;
	}
	if (have_len) {
		h->body_mode = BODY_LENGTH;
		h->remaining = len;
		h->state = (len == 0 ? DOCKER_HTTP_DONE : DOCKER_HTTP_BODY);
		return 0;
	}
	h->body_mode = BODY_EOF;
	h->keepalive = 0;
	h->state = DOCKER_HTTP_BODY;
	return 0;
}

static int
http_chunk_size(struct docker_http *h, const char *s)
{
	uint64_t n = 0;
	const char *p;
	int digits = 0;

	for (p = s; isxdigit((unsigned char)*p); p++, digits++) {
		if (n >= HTTP_CHUNK_MAX)
			return http_fail(h, "chunk too large");
		n = n * 16 +
		    (uint64_t)(isdigit((unsigned char)*p)
		            ? *p - '0'
		            : tolower((unsigned char)*p) - 'a' + 10);
	}
	if (digits == 0)
		return http_fail(h, "malformed chunk size");
	while (*p == ' ' || *p == '\t')
		p++;
	if (*p != '\0' && *p != ';')
		return http_fail(h, "malformed chunk size");
	for (; *p != '\0'; p++) {
		if (iscntrl((unsigned char)*p) && *p != '\t')
			return http_fail(
			    h, "control character in chunk extension");
	}
	h->remaining = n;
	h->chunk = (n == 0 ? CHUNK_TRAILER : CHUNK_DATA);
	return 0;
}

/* Takes what p[*off] holds of the h->remaining bytes to come: what is left. */
static uint64_t
http_take(struct docker_http *h, const char *p, size_t len, size_t *off)
{
	size_t n = len - *off;

	if (n > h->remaining)
		n = (size_t)h->remaining;
	evbuffer_add(h->body, p + *off, n);
	*off += n;
	h->remaining -= n;
	return h->remaining;
}

/* Consumes body bytes from p[*off]; returns -1 on a framing error. */
static int
http_body(struct docker_http *h, const char *p, size_t len, size_t *off)
{
	int r;

	switch (h->body_mode) {
	case BODY_EOF:
		evbuffer_add(h->body, p + *off, len - *off);
		*off = len;
		return 0;
	case BODY_LENGTH:
		if (http_take(h, p, len, off) == 0)
			h->state = DOCKER_HTTP_DONE;
		return 0;
	case BODY_CHUNKED:
		break;
	case BODY_NONE:
		return http_fail(h, "body without framing");
	}
	if (h->chunk == CHUNK_DATA) {
		if (http_take(h, p, len, off) == 0)
			h->chunk = CHUNK_DATA_END;
		return 0;
	}
	if ((r = http_line(h, p, len, off)) != 1)
		return r;
	switch (h->chunk) {
	case CHUNK_SIZE:
		return http_chunk_size(h, h->line);
	case CHUNK_DATA_END:
		if (h->line[0] != '\0')
			return http_fail(h, "chunk data longer than its size");
		h->chunk = CHUNK_SIZE;
		return 0;
	case CHUNK_TRAILER:
		if (h->line[0] == '\0')
			h->state = DOCKER_HTTP_DONE;
		else if (strchr(h->line, ':') == NULL)
			return http_fail(h, "malformed trailer");
		return 0;
	case CHUNK_DATA:
		break;
	}
	return http_fail(h, "impossible chunk state");
}

ssize_t
docker_http_parse(struct docker_http *h, const void *buf, size_t len)
{
	const char *p = buf;
	size_t off = 0, before;
	int r;

	while (off < len) {
		before = off;
		switch (h->state) {
		case DOCKER_HTTP_HEAD:
			r = http_line(h, p, len, &off);
			h->headlen += off - before;
			if (r == -1)
				return -1;
			if (h->headlen > HTTP_HEAD_MAX)
				return http_fail(h, "response head too large");
			if (r == 0)
				break;
			if (!h->seen_status)
				r = http_status_line(h, h->line);
			else if (h->line[0] == '\0')
				r = http_head_done(h);
			else
				r = http_header_line(h, h->line);
			if (r == -1)
				return -1;
			break;
		case DOCKER_HTTP_BODY:
			if (http_body(h, p, len, &off) == -1)
				return -1;
			break;
		case DOCKER_HTTP_DONE:
		case DOCKER_HTTP_UPGRADE:
			h->consumed += off;
			return (ssize_t)off;
		case DOCKER_HTTP_ERROR:
			return -1;
		}
	}
	h->consumed += off;
	return (ssize_t)off;
}

int
docker_http_eof(struct docker_http *h)
{
	if (h->state == DOCKER_HTTP_BODY && h->body_mode == BODY_EOF) {
		h->state = DOCKER_HTTP_DONE;
		return 0;
	}
	if (h->state == DOCKER_HTTP_DONE || h->state == DOCKER_HTTP_UPGRADE)
		return 0;
	if (h->state != DOCKER_HTTP_ERROR)
		http_fail(h,
		    h->consumed == 0
		        ? "connection closed"
		        : "connection closed in the middle of a response");
	return -1;
}

enum docker_http_state
docker_http_state(const struct docker_http *h)
{
	return h->state;
}

int
docker_http_status(const struct docker_http *h)
{
	return h->status;
}

const char *
docker_http_header(const struct docker_http *h, const char *name)
{
	size_t i;

	for (i = 0; i < h->nheaders; i++) {
		if (strcasecmp(h->headers[i].name, name) == 0)
			return h->headers[i].value;
	}
	return NULL;
}

struct evbuffer *
docker_http_body(struct docker_http *h)
{
	return h->body;
}

int
docker_http_keepalive(const struct docker_http *h)
{
	return h->state == DOCKER_HTTP_DONE && h->keepalive;
}

size_t
docker_http_consumed(const struct docker_http *h)
{
	return h->consumed;
}

const char *
docker_http_error(const struct docker_http *h)
{
	return h->error[0] != '\0' ? h->error : "no error";
}
