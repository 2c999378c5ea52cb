/* SPDX-License-Identifier: ISC */
/*
 * A small blocking HTTP/1.1 and websocket (RFC 6455) client for tests and
 * the benchmark. All sockets are non-blocking and every wait goes through
 * poll() with a deadline, so a silent or broken server makes a test fail
 * with a timeout instead of hanging. Received bytes land in one buffer per
 * connection: the HTTP answer is parsed from its front, and whatever
 * follows a 101 stays there as the first websocket frames.
 */
#include <sys/types.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "wsclient.h"

#define WSC_GUID      "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
#define WSC_MAX_FRAME (256u * 1024 * 1024)
#define WSC_MAX_HEAD  (64 * 1024)

long
wsc_now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000L + ts.tv_nsec / 1000;
}

/* Milliseconds left until deadline (microseconds), at least 0. */
static int
wsc_left(long deadline)
{
	long left = (deadline - wsc_now_us() + 999) / 1000;

	return left < 0 ? 0 : (int)left;
}

static void *
wsc_alloc(size_t n)
{
	void *p;

	if ((p = malloc(n == 0 ? 1 : n)) == NULL) {
		perror("wsclient: malloc");
		abort();
	}
	return p;
}

static void *
wsc_grow(void *p, size_t n)
{
	if ((p = realloc(p, n == 0 ? 1 : n)) == NULL) {
		perror("wsclient: realloc");
		abort();
	}
	return p;
}

void
wsc_agent_init(struct wsc_agent *a, int port)
{
	memset(a, 0, sizeof(*a));
	a->port = port;
	a->timeout_ms = 10000;
}

int
wsc_tcp_connect(int port)
{
	struct sockaddr_in sin;
	int fd, one = 1;

	if ((fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1)
		return -1;
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_port = htons((uint16_t)port);
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (connect(fd, (struct sockaddr *)&sin, sizeof(sin)) == -1) {
		close(fd);
		return -1;
	}
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK) == -1) {
		close(fd);
		return -1;
	}
	return fd;
}

void
wsc_init(struct wsc *w, int fd)
{
	memset(w, 0, sizeof(*w));
	w->fd = fd;
}

void
wsc_drop(struct wsc *w)
{
	if (w->fd != -1) {
		close(w->fd);
		w->fd = -1;
	}
}

void
wsc_free(struct wsc *w)
{
	wsc_drop(w);
	free(w->in);
	free(w->msg);
	wsc_response_free(&w->resp);
	memset(w, 0, sizeof(*w));
	w->fd = -1;
}

void
wsc_response_free(struct wsc_response *r)
{
	free(r->head);
	free(r->body);
	memset(r, 0, sizeof(*r));
}

/* Gives the connection its receive buffer before anything is parsed. */
static void
wsc_ensure(struct wsc *w)
{
	if (w->in == NULL) {
		w->incap = 262144;
		w->in = wsc_alloc(w->incap);
		w->inoff = w->inlen = 0;
	}
}

/* Reads what is there, waiting up to timeout_ms: >0 bytes, 0 timeout, -1. */
static int
wsc_fill(struct wsc *w, int timeout_ms)
{
	struct pollfd pfd;
	ssize_t n;
	int rv;

	if (w->fd == -1 || w->eof)
		return -1;
	if (w->inoff > 0 && w->inoff == w->inlen)
		w->inoff = w->inlen = 0;
	if (w->inoff > 0 && w->inoff >= w->incap / 2) {
		memmove(w->in, w->in + w->inoff, w->inlen - w->inoff);
		w->inlen -= w->inoff;
		w->inoff = 0;
	}
	if (w->incap - w->inlen < 65536) {
		w->incap = w->incap == 0 ? 262144 : w->incap * 2;
		w->in = wsc_grow(w->in, w->incap);
	}
	for (;;) {
		n = read(w->fd, w->in + w->inlen, w->incap - w->inlen);
		if (n > 0) {
			w->inlen += (size_t)n;
			return (int)n;
		}
		if (n == 0) {
			w->eof = 1;
			return -1;
		}
		if (errno == EINTR)
			continue;
		if (errno != EAGAIN) {
			w->eof = 1;
			return -1;
		}
		pfd.fd = w->fd;
		pfd.events = POLLIN;
		if ((rv = poll(&pfd, 1, timeout_ms)) == -1 && errno != EINTR)
			return -1;
		if (rv == 0)
			return 0;
		timeout_ms = 0;
	}
}

int
wsc_send_raw(struct wsc *w, const void *p, size_t n)
{
	const char *s = p;
	long deadline = wsc_now_us() + 10000000L;
	struct pollfd pfd;
	ssize_t r;

	if (w->fd == -1)
		return -1;
	while (n > 0) {
		r = send(w->fd, s, n, MSG_NOSIGNAL);
		if (r > 0) {
			s += r;
			n -= (size_t)r;
			continue;
		}
		if (r == -1 && errno == EINTR)
			continue;
		if (r == -1 && errno != EAGAIN)
			return -1;
		pfd.fd = w->fd;
		pfd.events = POLLOUT;
		if (poll(&pfd, 1, wsc_left(deadline)) <= 0 &&
		    wsc_left(deadline) == 0)
			return -1;
	}
	return 0;
}

static const char *
wsc_memmem_crlf2(const unsigned char *p, size_t n)
{
	return memmem(p, n, "\r\n\r\n", 4);
}

int
wsc_header(
    const struct wsc_response *r, const char *name, char *out, size_t outlen)
{
	const char *line, *end, *v;
	size_t nlen = strlen(name), vlen;

	if (r->head == NULL || (line = strstr(r->head, "\r\n")) == NULL)
		return -1;
	for (line += 2; *line != '\0'; line = end + 2) {
		if ((end = strstr(line, "\r\n")) == NULL)
			end = line + strlen(line);
		if ((size_t)(end - line) > nlen && line[nlen] == ':' &&
		    strncasecmp(line, name, nlen) == 0) {
			for (v = line + nlen + 1; *v == ' ' || *v == '\t'; v++)
				;
			vlen = (size_t)(end - v);
			while (vlen > 0 &&
			    (v[vlen - 1] == ' ' || v[vlen - 1] == '\t'))
				vlen--;
			if (vlen >= outlen)
				vlen = outlen - 1;
			memcpy(out, v, vlen);
			out[vlen] = '\0';
			return 0;
		}
		if (*end == '\0')
			break;
	}
	return -1;
}

/* Takes n bytes of body from the buffer, reading more as needed. */
static int
wsc_take(struct wsc *w, struct wsc_response *r, size_t n, long deadline)
{
	size_t have;

	while (w->inlen - w->inoff < n)
		if (wsc_fill(w, wsc_left(deadline)) <= 0)
			return -1;
	have = r->bodylen;
	r->body = wsc_grow(r->body, have + n + 1);
	memcpy(r->body + have, w->in + w->inoff, n);
	r->bodylen += n;
	r->body[r->bodylen] = '\0';
	w->inoff += n;
	return 0;
}

/* Reads one CRLF-terminated line (without it) from the buffer. */
static int
wsc_line(struct wsc *w, char *out, size_t outlen, long deadline)
{
	const unsigned char *nl;
	size_t n;

	while ((nl = memmem(
	            w->in + w->inoff, w->inlen - w->inoff, "\r\n", 2)) == NULL)
		if (wsc_fill(w, wsc_left(deadline)) <= 0)
			return -1;
	n = (size_t)(nl - (w->in + w->inoff));
	if (n >= outlen)
		return -1;
	memcpy(out, w->in + w->inoff, n);
	out[n] = '\0';
	w->inoff += n + 2;
	return 0;
}

static int
wsc_chunked(struct wsc *w, struct wsc_response *r, long deadline)
{
	char line[128];
	unsigned long n;
	char *end;

	for (;;) {
		if (wsc_line(w, line, sizeof(line), deadline) == -1)
			return -1;
		n = strtoul(line, &end, 16);
		if (end == line)
			return -1;
		if (n == 0)
			break;
		if (wsc_take(w, r, n, deadline) == -1 ||
		    wsc_line(w, line, sizeof(line), deadline) == -1)
			return -1;
	}
	/* Trailers, up to the empty line. */
	do {
		if (wsc_line(w, line, sizeof(line), deadline) == -1)
			return -1;
	} while (line[0] != '\0');
	return 0;
}

int
wsc_read_response(struct wsc *w, struct wsc_response *r, int timeout_ms)
{
	long deadline = wsc_now_us() + (long)timeout_ms * 1000;
	const char *end;
	char v[64];
	size_t hlen;

	memset(r, 0, sizeof(*r));
	wsc_ensure(w);
	while ((end = wsc_memmem_crlf2(
	            w->in + w->inoff, w->inlen - w->inoff)) == NULL) {
		if (w->inlen - w->inoff > WSC_MAX_HEAD)
			return -1;
		if (wsc_fill(w, wsc_left(deadline)) <= 0)
			return -1;
	}
	hlen = (size_t)((const unsigned char *)end - (w->in + w->inoff));
	r->head = wsc_alloc(hlen + 3);
	memcpy(r->head, w->in + w->inoff, hlen + 2);
	r->head[hlen + 2] = '\0';
	w->inoff += hlen + 4;
	if (sscanf(r->head, "HTTP/1.%*d %d", &r->status) != 1 ||
	    r->status < 100 || r->status > 999) {
		r->status = 0;
		return -1;
	}
	r->body = wsc_alloc(1);
	r->body[0] = '\0';
	if (r->status == 101 || r->status == 204 || r->status == 304 ||
	    r->status / 100 == 1)
		return 0;
	if (wsc_header(r, "Transfer-Encoding", v, sizeof(v)) == 0 &&
	    strcasestr(v, "chunked") != NULL)
		return wsc_chunked(w, r, deadline);
	if (wsc_header(r, "Content-Length", v, sizeof(v)) == 0)
		return wsc_take(w, r, strtoul(v, NULL, 10), deadline);
	/* Delimited by the end of the connection. */
	for (;;) {
		if (w->inlen > w->inoff &&
		    wsc_take(w, r, w->inlen - w->inoff, deadline) == -1)
			return -1;
		if (w->eof)
			return 0;
		if (wsc_fill(w, wsc_left(deadline)) == 0)
			return -1;
	}
}

/* Remembers the first cookie of a Set-Cookie header. */
static void
wsc_jar_update(struct wsc_agent *a, const struct wsc_response *r)
{
	char v[1024];
	size_t n;

	if (wsc_header(r, "Set-Cookie", v, sizeof(v)) == -1)
		return;
	n = strcspn(v, ";");
	v[n] = '\0';
	if (strchr(v, '=') != NULL)
		snprintf(a->cookie, sizeof(a->cookie), "%s", v);
}

int
wsc_request(struct wsc_agent *a, const char *method, const char *path,
    const char *json, struct wsc_response *r)
{
	struct wsc w;
	char *req;
	size_t len, blen = json != NULL ? strlen(json) : 0;
	int fd, rv;

	memset(r, 0, sizeof(*r));
	if ((fd = wsc_tcp_connect(a->port)) == -1)
		return -1;
	wsc_init(&w, fd);
	len = 1024 + strlen(path) + strlen(a->cookie) + blen;
	req = wsc_alloc(len);
	snprintf(req, len,
	    "%s %s HTTP/1.1\r\n"
	    "Host: 127.0.0.1:%d\r\n"
	    "User-Agent: alia-wsclient\r\n"
	    "Accept: application/json\r\n"
	    "Connection: close\r\n"
	    "%s%s%s"
	    "%s"
	    "Content-Length: %zu\r\n"
	    "\r\n"
	    "%s",
	    method, path, a->port, a->cookie[0] ? "Cookie: " : "", a->cookie,
	    a->cookie[0] ? "\r\n" : "",
	    json != NULL ? "Content-Type: application/json\r\n" : "", blen,
	    json != NULL ? json : "");
	rv = wsc_send_raw(&w, req, strlen(req));
	free(req);
	if (rv == 0)
		rv = wsc_read_response(&w, r, a->timeout_ms);
	if (r->head != NULL)
		wsc_jar_update(a, r);
	wsc_free(&w);
	return rv;
}

int
wsc_json_get(const char *json, const char *key, char *out, size_t outlen)
{
	char pat[128];
	const char *p;
	size_t n = 0;

	snprintf(pat, sizeof(pat), "\"%s\"", key);
	for (p = json; (p = strstr(p, pat)) != NULL; p += strlen(pat)) {
		const char *q = p + strlen(pat);

		while (isspace((unsigned char)*q))
			q++;
		if (*q != ':')
			continue;
		for (q++; isspace((unsigned char)*q); q++)
			;
		if (*q == '"') {
			for (q++; *q != '\0' && *q != '"'; q++) {
				if (*q == '\\' && q[1] != '\0')
					q++;
				if (n + 1 < outlen)
					out[n++] = *q;
			}
		} else {
			for (; *q != '\0' && *q != ',' && *q != '}' &&
			     *q != ']' && !isspace((unsigned char)*q);
			     q++)
				if (n + 1 < outlen)
					out[n++] = *q;
		}
		out[n] = '\0';
		return 0;
	}
	return -1;
}

void
wsc_make_key(char key[25])
{
	unsigned char raw[16];
	unsigned char b64[32];

	if (getrandom(raw, sizeof(raw), 0) != sizeof(raw)) {
		perror("wsclient: getrandom");
		abort();
	}
	EVP_EncodeBlock(b64, raw, sizeof(raw));
	memcpy(key, b64, 24);
	key[24] = '\0';
}

void
wsc_accept_for(const char *key, char out[29])
{
	unsigned char md[EVP_MAX_MD_SIZE], b64[64];
	unsigned int mdlen = 0;
	char buf[128];

	snprintf(buf, sizeof(buf), "%s%s", key, WSC_GUID);
	EVP_Digest(buf, strlen(buf), md, &mdlen, EVP_sha1(), NULL);
	EVP_EncodeBlock(b64, md, (int)mdlen);
	memcpy(out, b64, 28);
	out[28] = '\0';
}

size_t
wsc_upgrade_request(const struct wsc_agent *a, const char *path,
    const char *key, char *buf, size_t buflen)
{
	int n;

	n = snprintf(buf, buflen,
	    "GET %s HTTP/1.1\r\n"
	    "Host: 127.0.0.1:%d\r\n"
	    "User-Agent: alia-wsclient\r\n"
	    "Origin: http://127.0.0.1:%d\r\n"
	    "Upgrade: websocket\r\n"
	    "Connection: Upgrade\r\n"
	    "Sec-WebSocket-Key: %s\r\n"
	    "Sec-WebSocket-Version: 13\r\n"
	    "%s%s%s"
	    "\r\n",
	    path, a->port, a->port, key, a->cookie[0] ? "Cookie: " : "",
	    a->cookie, a->cookie[0] ? "\r\n" : "");
	return n < 0 || (size_t)n >= buflen ? 0 : (size_t)n;
}

int
wsc_open(struct wsc *w, struct wsc_agent *a, const char *path)
{
	char key[25], want[29], got[64], req[4096];
	size_t n;
	int fd;

	wsc_init(w, -1);
	if ((fd = wsc_tcp_connect(a->port)) == -1)
		return -1;
	wsc_init(w, fd);
	wsc_make_key(key);
	if ((n = wsc_upgrade_request(a, path, key, req, sizeof(req))) == 0 ||
	    wsc_send_raw(w, req, n) == -1 ||
	    wsc_read_response(w, &w->resp, a->timeout_ms) == -1)
		return -1;
	wsc_jar_update(a, &w->resp);
	if (w->resp.status != 101)
		return -1;
	wsc_accept_for(key, want);
	if (wsc_header(&w->resp, "Sec-WebSocket-Accept", got, sizeof(got)) ==
	        -1 ||
	    strcmp(got, want) != 0) {
		fprintf(
		    stderr, "wsclient: bad Sec-WebSocket-Accept '%s'\n", got);
		return -1;
	}
	if (wsc_header(&w->resp, "Upgrade", got, sizeof(got)) == -1 ||
	    strcasecmp(got, "websocket") != 0) {
		fprintf(stderr, "wsclient: 101 without Upgrade: websocket\n");
		return -1;
	}
	return 0;
}

int
wsc_send_frame(struct wsc *w, int fin, int op, const void *p, size_t n)
{
	unsigned char hdr[14], mask[4], *buf;
	const unsigned char *s = p;
	size_t h = 0, i;
	int rv;

	hdr[h++] = (unsigned char)((fin ? 0x80 : 0) | (op & 0x0f));
	if (n < 126)
		hdr[h++] = (unsigned char)(0x80 | n);
	else if (n <= 0xffff) {
		hdr[h++] = 0x80 | 126;
		hdr[h++] = (unsigned char)(n >> 8);
		hdr[h++] = (unsigned char)n;
	} else {
		hdr[h++] = 0x80 | 127;
		for (i = 0; i < 8; i++)
			hdr[h++] = (unsigned char)((uint64_t)n >> (56 - 8 * i));
	}
	if (getrandom(mask, sizeof(mask), 0) != sizeof(mask))
		abort();
	memcpy(hdr + h, mask, 4);
	h += 4;
	buf = wsc_alloc(h + n);
	memcpy(buf, hdr, h);
	for (i = 0; i < n; i++)
		buf[h + i] = s[i] ^ mask[i & 3];
	rv = wsc_send_raw(w, buf, h + n);
	free(buf);
	return rv;
}

int
wsc_send_text(struct wsc *w, const char *s)
{
	return wsc_send_frame(w, 1, WSC_OP_TEXT, s, strlen(s));
}

int
wsc_send_binary(struct wsc *w, const void *p, size_t n)
{
	return wsc_send_frame(w, 1, WSC_OP_BINARY, p, n);
}

int
wsc_send_close(struct wsc *w, int code, const char *reason)
{
	unsigned char buf[125];
	size_t n = 0;

	if (code > 0) {
		buf[0] = (unsigned char)(code >> 8);
		buf[1] = (unsigned char)code;
		n = strlen(reason);
		if (n > sizeof(buf) - 2)
			n = sizeof(buf) - 2;
		memcpy(buf + 2, reason, n);
		n += 2;
	}
	return wsc_send_frame(w, 1, WSC_OP_CLOSE, buf, n);
}

int
wsc_send_ping(struct wsc *w, const void *p, size_t n)
{
	return wsc_send_frame(w, 1, WSC_OP_PING, p, n);
}

/* Appends to the message being reassembled. */
static void
wsc_msg_add(struct wsc *w, const unsigned char *p, size_t n)
{
	if (w->msglen + n + 1 > w->msgcap) {
		w->msgcap = (w->msglen + n + 1) * 2;
		w->msg = wsc_grow(w->msg, w->msgcap);
	}
	memcpy(w->msg + w->msglen, p, n);
	w->msglen += n;
	w->msg[w->msglen] = '\0';
}

/*
 * Parses one frame from the buffer: 1 a message is complete, 0 need more
 * bytes or a frame was consumed without completing one, -1 bad frame.
 */
static int
wsc_frame(struct wsc *w, struct wsc_msg *m, int *progress)
{
	unsigned char *p = w->in + w->inoff, *payload, mask[4];
	size_t avail = w->inlen - w->inoff, h = 2, i;
	uint64_t n;
	int fin, op, masked;

	*progress = 0;
	if (avail < 2)
		return 0;
	fin = p[0] & 0x80;
	op = p[0] & 0x0f;
	masked = p[1] & 0x80;
	n = p[1] & 0x7f;
	if (n == 126) {
		if (avail < 4)
			return 0;
		n = (uint64_t)p[2] << 8 | p[3];
		h = 4;
	} else if (n == 127) {
		if (avail < 10)
			return 0;
		for (n = 0, i = 0; i < 8; i++)
			n = n << 8 | p[2 + i];
		h = 10;
	}
	if (n > WSC_MAX_FRAME) {
		fprintf(stderr, "wsclient: frame of %llu bytes\n",
		    (unsigned long long)n);
		return -1;
	}
	if (masked) {
		if (avail < h + 4)
			return 0;
		memcpy(mask, p + h, 4);
		h += 4;
	}
	if (avail < h + n)
		return 0;
	payload = p + h;
	if (masked)
		for (i = 0; i < n; i++)
			payload[i] ^= mask[i & 3];
	w->inoff += h + n;
	*progress = 1;
	memset(m, 0, sizeof(*m));
	switch (op) {
	case WSC_OP_PING:
		wsc_send_frame(w, 1, WSC_OP_PONG, payload, n);
		return 0;
	case WSC_OP_PONG:
	case WSC_OP_CLOSE:
		w->msglen = 0;
		wsc_msg_add(w, payload, n);
		m->op = op;
		m->data = w->msg;
		m->len = n;
		if (op == WSC_OP_CLOSE) {
			w->closed = 1;
			w->close_code =
			    n >= 2 ? (payload[0] << 8 | payload[1]) : 1005;
			snprintf(w->close_reason, sizeof(w->close_reason),
			    "%.*s", n >= 2 ? (int)(n - 2) : 0,
			    (const char *)payload + 2);
			m->code = w->close_code;
			m->reason = w->close_reason;
		}
		return 1;
	case WSC_OP_TEXT:
	case WSC_OP_BINARY:
		w->msglen = 0;
		w->msgop = op;
		wsc_msg_add(w, payload, n);
		break;
	case WSC_OP_CONT:
		if (w->msgop == 0) {
			fprintf(
			    stderr, "wsclient: continuation out of place\n");
			return -1;
		}
		wsc_msg_add(w, payload, n);
		break;
	default:
		fprintf(stderr, "wsclient: server sent opcode %d\n", op);
		return -1;
	}
	if (!fin)
		return 0;
	m->op = w->msgop;
	m->data = w->msg;
	m->len = w->msglen;
	w->msgop = 0;
	return 1;
}

int
wsc_recv(struct wsc *w, struct wsc_msg *m, int timeout_ms)
{
	long deadline = wsc_now_us() + (long)timeout_ms * 1000;
	int rv, progress;

	memset(m, 0, sizeof(*m));
	wsc_ensure(w);
	for (;;) {
		do {
			if ((rv = wsc_frame(w, m, &progress)) != 0)
				return rv;
		} while (progress);
		if ((rv = wsc_fill(w, wsc_left(deadline))) <= 0)
			return rv;
	}
}
