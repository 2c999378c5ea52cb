/* SPDX-License-Identifier: ISC */
/*
 * The HTTP server of the front role: it owns the listening socket and
 * every browser connection until it is handed elsewhere. Requests are
 * parsed by common/http.c; this file adds time limits, connection limits
 * and the answers, and hands each request to the router (conf.route,
 * front_route.c), which decides what it gets.
 *
 * A connection is in one of five states, each with its own timer:
 *
 *   IDLE     waiting for the first byte of a request: idle_timeout_ms,
 *            then it is closed without a word
 *   READING  a request has begun (a new connection starts here): the whole
 *            request must be in within header_timeout_ms of its start, or
 *            it gets 408; a trickle of bytes does not extend the deadline
 *   CLOSING  a last response is queued: reading stops, and once the output
 *            has drained the connection moves on to LINGER
 *   LINGER   our write side is shut; what the client still sends is read
 *            and dropped for a short while so that the close does not turn
 *            into a reset that would destroy the response before the
 *            client has read it
 *   WAITING  a request's answer comes later, from master or the
 *            database: nothing more is parsed until front_http_respond()
 *            answers it, or the wait times out with 504
 *
 * A websocket's connection waits HANDED: its socket (under TLS, one end
 * of a socketpair, the other kept) went to master with the attach, and
 * front neither reads nor writes it until master's word.
 * front_http_handed() lets it go: closed without a word, or under TLS
 * relayed through the kept end; an answer (front_http_respond) takes it
 * back, the handed fd refused; a wait that times out closes it silently.
 *
 * Every request is answered at once and in order, so pipelined requests
 * need nothing special; but input is only parsed while the queued output
 * is below a high mark, so a client that sends without reading stalls
 * itself only. A stalled write side (no progress for idle_timeout_ms)
 * closes the connection. Beyond max_conns, a new connection gets 503
 * and is closed; only a bounded number of those may be pending at once.
 *
 * A closed connection leaves the live list at once but is freed once the
 * callback has returned (common/defer.c), so that no callback frees
 * memory another one still uses.
 *
 * Errors under /api/ are JSON objects {"error": "..."}, whichever layer
 * finds them (front_http_error); elsewhere they are text.
 *
 * Behind a reverse proxy in trusted_proxies each request says whom it is
 * for and over which scheme (common/proxy.c); before a request is
 * routed, the connection's client address and scheme are set from it, so
 * the sign-in limiter, the audit trail, the Origin check and the log see
 * the browser, not the proxy. A connection from any other peer is its
 * own client, whatever its headers say.
 */
#include <sys/types.h>
#include <sys/queue.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <netinet/in.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>
#include <event2/listener.h>
#include <openssl/ssl.h>

#include "common/defer.h"
#include "common/http.h"
#include "common/log.h"
#include "common/proxy.h"
#include "common/xmalloc.h"
#include "front/front.h"

#define FRONT_HTTP_MAX_LINE          8192
#define FRONT_HTTP_MAX_HEADERS       64
#define FRONT_HTTP_MAX_HEADER_BYTES  16384
#define FRONT_HTTP_IN_HIGH           (64 * 1024)
#define FRONT_HTTP_OUT_HIGH          (1024 * 1024)
#define FRONT_HTTP_OUT_LOW           (256 * 1024)
#define FRONT_HTTP_LINGER_MS         2000
#define FRONT_HTTP_MAX_REFUSING      64
#define FRONT_HTTP_ACCEPT_PAUSE_MS   1000
#define FRONT_HTTP_HEADER_TIMEOUT_MS 10000
#define FRONT_HTTP_IDLE_TIMEOUT_MS   60000
#define FRONT_HTTP_WAIT_TIMEOUT_MS   30000

#define FRONT_HTTP_TEXT       "text/plain; charset=utf-8"
#define FRONT_HTTP_JSON       "application/json"
#define FRONT_HTTP_READ_CHUNK 16384 /* bytes of a file read at once */
#define FRONT_HTTP_PEER_LEN   64
#define FRONT_HTTP_LABEL_LEN  128

enum conn_state {
	CONN_IDLE,
	CONN_READING,
	CONN_CLOSING,
	CONN_LINGER,
	CONN_WAITING,
};

struct conn {
	TAILQ_ENTRY(conn) entry;
	struct bufferevent *bev;
	struct http_parser *parser;
	struct event *timer;
	enum conn_state state;
	int flags;
#define CONN_REFUSED 0x1  /* over max_conns: only gets 503 */
#define CONN_CLOSE   0x2  /* close after the current response */
#define CONN_DEAD    0x4  /* closed, waiting to be freed */
#define CONN_KEEP    0x8  /* the current request keeps the connection */
#define CONN_HEAD    0x10 /* the current request is HEAD */
#define CONN_HELD    0x20 /* parked with its request kept for a re-run */
#define CONN_HANDED  0x40 /* its socket went to master: not read, not written */
	uint64_t waiting; /* the parked request's id */
	int kept;         /* handed under TLS: the relay's end, else -1 */
	int https;        /* the current request's scheme is https */
	char peer[FRONT_HTTP_PEER_LEN]; /* the TCP peer, ADDR:PORT */
	char addr[PROXY_ADDR_LEN];      /* the TCP peer's address */
	char client[PROXY_ADDR_LEN];    /* the current request's client */
	char label
	    [FRONT_HTTP_LABEL_LEN]; /* for log lines: peer, or client via */
	struct defer defer;
};
TAILQ_HEAD(conn_list, conn);

static struct {
	struct event_base *base;
	struct evconnlistener *listener;
	struct event *accept_pause;
	struct front_http_conf conf;
	struct http_limits limits;
	int nconns;
	int nrefusing;
	struct conn_list conns;
} fh;

static void conn_process(struct conn *);
static void conn_forwarded(struct conn *, const struct http_request *);

static uint64_t front_http_next_req;

static void
conn_timer_set(struct conn *c, int ms)
{
	struct timeval tv;

	tv.tv_sec = ms / 1000;
	tv.tv_usec = (ms % 1000) * 1000;
	evtimer_add(c->timer, &tv);
}

static void
conn_free(void *arg)
{
	struct conn *c = arg;

	if (c->bev != NULL) /* NULL: it went on with a relay */
		bufferevent_free(c->bev);
	event_free(c->timer);
	http_parser_free(c->parser);
	free(c);
}

/* The one close path: the connection stops now and is freed later. */
static void
conn_close(struct conn *c, const char *reason)
{
	if (c->flags & CONN_DEAD)
		return;
	log_debug("%s: %s: %s", __func__, c->label, reason);
	c->flags |= CONN_DEAD;
	TAILQ_REMOVE(&fh.conns, c, entry);
	if (c->flags & CONN_REFUSED)
		fh.nrefusing--;
	else
		fh.nconns--;
	if (c->kept != -1)
		close(c->kept);
	c->kept = -1;
	bufferevent_setcb(c->bev, NULL, NULL, NULL, NULL);
	bufferevent_disable(c->bev, EV_READ | EV_WRITE);
	evtimer_del(c->timer);
	defer_queue(fh.base, &c->defer, conn_free, c);
}

/* Shuts our side and drops whatever the client still sends, briefly. */
static void
conn_linger(struct conn *c)
{
	c->state = CONN_LINGER;
	if (shutdown(bufferevent_getfd(c->bev), SHUT_WR) == -1) {
		conn_close(c, "shutdown failed");
		return;
	}
	evbuffer_drain(bufferevent_get_input(c->bev),
	    evbuffer_get_length(bufferevent_get_input(c->bev)));
	bufferevent_enable(c->bev, EV_READ);
	conn_timer_set(c, FRONT_HTTP_LINGER_MS);
}

/* After the last response: flush it, then linger and close. */
static void
conn_finish(struct conn *c)
{
	c->state = CONN_CLOSING;
	bufferevent_disable(c->bev, EV_READ);
	bufferevent_setwatermark(c->bev, EV_WRITE, 0, 0);
	evtimer_del(c->timer);
	if (evbuffer_get_length(bufferevent_get_output(c->bev)) == 0)
		conn_linger(c);
}

/* Queues a response to req (NULL when there is no parsed request). */
static void
conn_reply(struct conn *c, const struct http_request *req, int status,
    const char *ctype, const void *body, size_t len, const char *extra)
{
	struct evbuffer *out = bufferevent_get_output(c->bev);
	int keep;

	if (req != NULL) {
		c->flags &= ~(CONN_KEEP | CONN_HEAD);
		if (req->keepalive)
			c->flags |= CONN_KEEP;
		if (strcmp(req->method, "HEAD") == 0)
			c->flags |= CONN_HEAD;
		log_debug("%s: %s %s %s -> %d", __func__, c->label, req->method,
		    req->target, status);
	} else
		log_debug("%s: %s -> %d", __func__, c->label, status);
	keep = (c->flags & CONN_KEEP) && !(c->flags & CONN_CLOSE);
	if (!keep)
		c->flags |= CONN_CLOSE;
	http_response_head(out, status, ctype, len, keep, extra);
	if (len > 0 && !(c->flags & CONN_HEAD))
		evbuffer_add(out, body, len);
}

/* Whether errors for path are JSON: the API's. */
static int
conn_json_path(const char *path)
{
	return path != NULL && strncmp(path, "/api/", 5) == 0;
}

/*
 * The body of an error answer: {"error": "message"} for the API, else
 * "status reason: message" as text. Returns its length; *ctype is set.
 */
static int
conn_error_body(char **body, const char **ctype, const char *path, int status,
    const char *message)
{
	char *esc, *e;
	const char *m;
	int len;

	if (!conn_json_path(path)) {
		*ctype = FRONT_HTTP_TEXT;
		return xasprintf(body, "%d %s: %s\n", status,
		    http_status_text(status), message);
	}
	/* Our messages are ASCII; escape what JSON needs all the same. */
	esc = e = xmalloc(6 * strlen(message) + 1);
	for (m = message; *m != '\0'; m++) {
		if (*m == '"' || *m == '\\') {
			*e++ = '\\';
			*e++ = *m;
		} else if ((unsigned char)*m < 0x20) {
			snprintf(e, 7, "\\u%04x", (unsigned char)*m);
			e += 6;
		} else
			*e++ = *m;
	}
	*e = '\0';
	*ctype = FRONT_HTTP_JSON;
	len = xasprintf(body, "{\"error\": \"%s\"}", esc);
	free(esc);
	return len;
}

/* An error answer to req (JSON under /api/); the connection goes on. */
static void
conn_error(struct conn *c, const struct http_request *req, int status,
    const char *message, const char *extra)
{
	const char *ctype;
	char *body;
	int len;

	len = conn_error_body(&body, &ctype, req->path, status, message);
	conn_reply(c, req, status, ctype, body, (size_t)len, extra);
	free(body);
}

/* An error answer after which the connection is closed. */
static void
conn_fail(struct conn *c, int status, const char *message, const char *extra)
{
	const char *ctype;
	char *body;
	int len;

	len = conn_error_body(
	    &body, &ctype, http_parser_path(c->parser), status, message);
	c->flags |= CONN_CLOSE;
	c->flags &= ~CONN_KEEP;
	conn_reply(c, NULL, status, ctype, body, (size_t)len, extra);
	free(body);
	conn_finish(c);
}

/* Whether the list of methods allow ("GET, HEAD") holds method. */

static void
conn_dispatch(struct conn *c, const struct http_request *req)
{
	c->flags &= ~(CONN_KEEP | CONN_HEAD);
	if (req->keepalive)
		c->flags |= CONN_KEEP;
	if (strcmp(req->method, "HEAD") == 0)
		c->flags |= CONN_HEAD;
	conn_forwarded(c, req);
	if (fh.conf.route != NULL)
		fh.conf.route(c, req);
	else
		conn_error(c, req, 404, "not found", NULL);
}

/*
 * After a request was dispatched: 0 when c can read the next one, -1
 * when it waits (parked, or held with its request), went or is done.
 */
static int
conn_dispatched(struct conn *c)
{
	if (c->flags & CONN_HELD)
		return -1; /* the request is run again later */
	http_parser_reset(c->parser);
	if (c->flags & CONN_DEAD)
		return -1; /* handed over */
	if (c->state == CONN_WAITING)
		return -1;
	if (!(c->flags & CONN_KEEP) || (c->flags & CONN_CLOSE)) {
		conn_finish(c);
		return -1;
	}
	c->state = CONN_IDLE;
	conn_timer_set(c, fh.conf.idle_timeout_ms);
	return 0;
}

/* Parses and answers what the input holds, as far as output allows. */
static void
conn_process(struct conn *c)
{
	struct evbuffer *in = bufferevent_get_input(c->bev);
	struct evbuffer *out = bufferevent_get_output(c->bev);
	const struct http_request *req;
	struct evbuffer_iovec iov;
	size_t used;
	int r;

	while (c->state == CONN_IDLE || c->state == CONN_READING) {
		if (evbuffer_get_length(out) > FRONT_HTTP_OUT_HIGH)
			return;
		if (evbuffer_peek(in, -1, NULL, &iov, 1) < 1 ||
		    iov.iov_len == 0)
			return;
		if (c->state == CONN_IDLE) {
			c->state = CONN_READING;
			conn_timer_set(c, fh.conf.header_timeout_ms);
		}
		r = http_parse(c->parser, iov.iov_base, iov.iov_len, &used);
		evbuffer_drain(in, used);
		if (r == HTTP_ERROR) {
			conn_fail(c, http_parser_status(c->parser),
			    http_parser_error(c->parser), NULL);
			return;
		}
		if (r == HTTP_MORE)
			continue;
		if (r == HTTP_CONTINUE) {
			/* A body too large was refused with 413 already. */
			evbuffer_add_printf(out, "HTTP/1.1 100 %s\r\n\r\n",
			    http_status_text(100));
			continue;
		}
		req = http_parser_request(c->parser);
		conn_dispatch(c, req);
		if (conn_dispatched(c) == -1)
			return;
	}
}

uint64_t
front_http_hold(struct conn *c)
{
	c->flags |= CONN_HELD;
	return front_http_park(c);
}

void
front_http_redispatch(uint64_t id)
{
	struct conn *c;

	if ((c = front_http_parked(id)) == NULL || !(c->flags & CONN_HELD))
		return;
	c->flags &= ~CONN_HELD;
	c->state = CONN_READING;
	c->waiting = 0;
	conn_dispatch(c, http_parser_request(c->parser));
	if (conn_dispatched(c) == 0)
		conn_process(c);
}

uint64_t
front_http_park(struct conn *c)
{
	c->state = CONN_WAITING;
	c->waiting = ++front_http_next_req;
	conn_timer_set(c, FRONT_HTTP_WAIT_TIMEOUT_MS);
	return c->waiting;
}

struct conn *
front_http_parked(uint64_t req)
{
	struct conn *c;

	TAILQ_FOREACH (c, &fh.conns, entry)
		if (c->state == CONN_WAITING && c->waiting == req)
			return c;
	return NULL;
}

/* A handed connection comes back: its fd was refused. */
static void
conn_reclaim(struct conn *c)
{
	if (!(c->flags & CONN_HANDED))
		return;
	c->flags &= ~CONN_HANDED;
	if (c->kept != -1)
		close(c->kept);
	c->kept = -1;
	bufferevent_enable(c->bev, EV_READ);
}

void
front_http_respond(struct conn *c, int status, const char *ctype,
    const void *body, size_t len, const char *extra)
{
	int parked = c->state == CONN_WAITING;

	conn_reclaim(c);
	conn_reply(c, NULL, status, ctype, body, len, extra);
	if (!parked)
		return;
	if (c->flags & CONN_HELD) {
		c->flags &= ~CONN_HELD;
		http_parser_reset(c->parser);
	}
	c->waiting = 0;
	if (c->flags & CONN_CLOSE) {
		conn_finish(c);
		return;
	}
	c->state = CONN_IDLE;
	conn_timer_set(c, fh.conf.idle_timeout_ms);
	conn_process(c);
}

/* Appends exactly len bytes of fd to out. */
static int
conn_read_file(struct evbuffer *out, int fd, off_t len)
{
	char buf[FRONT_HTTP_READ_CHUNK];
	ssize_t n;

	while (len > 0) {
		n = read(fd, buf,
		    len < (off_t)sizeof(buf) ? (size_t)len : sizeof(buf));
		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		evbuffer_add(out, buf, (size_t)n);
		len -= n;
	}
	return 0;
}

void
front_http_respond_file(struct conn *c, const struct http_request *req,
    int status, const char *ctype, int fd, off_t len, const char *extra)
{
	struct evbuffer *out = bufferevent_get_output(c->bev);

	http_response_head(
	    out, status, ctype, (size_t)len, req->keepalive, extra);
	if (len > 0 && strcmp(req->method, "HEAD") != 0 &&
	    conn_read_file(out, fd, len) == -1) {
		log_warn("%s: reading %s", __func__, req->path);
		c->flags |= CONN_CLOSE;
	}
}

void
front_http_error(struct conn *c, const struct http_request *req, int status,
    const char *message, const char *extra)
{
	conn_error(c, req, status, message, extra);
}

/*
 * A cross-site page must not act with our cookie: the origin is our own
 * scheme (https under TLS, http without; behind a trusted proxy, the one
 * it forwarded) and Host.
 */
int
front_http_origin_ok(struct conn *c, const struct http_request *req)
{
	const char *origin = http_header_get(req, "Origin");
	const char *host = http_header_get(req, "Host");
	const char *scheme;
	size_t n;

	if (origin == NULL)
		return 1; /* not a browser */
	if (host == NULL)
		return 0;
	scheme = front_http_https(c) ? "https://" : "http://";
	n = strlen(scheme);
	if (strncmp(origin, scheme, n) != 0)
		return 0;
	return strcasecmp(origin + n, host) == 0;
}

int
front_http_same_origin(
    struct conn *c, const struct http_request *req, const char *extra)
{
	if (front_http_origin_ok(c, req))
		return 0;
	front_json_error(c, 403, "cross-origin request refused", extra);
	return -1;
}

/* Decodes len bytes of a query value (%XX, '+') into out; its length. */
static size_t
conn_query_decode(const char *p, size_t len, char *out)
{
	char hex[3] = {0}, *o = out;

	for (; len > 0; p++, len--) {
		if (*p == '+')
			*o++ = ' ';
		else if (*p == '%' && len >= 3 &&
		    isxdigit((unsigned char)p[1]) &&
		    isxdigit((unsigned char)p[2])) {
			memcpy(hex, p + 1, 2);
			*o++ = (char)strtol(hex, NULL, 16);
			p += 2;
			len -= 2;
		} else
			*o++ = *p;
	}
	*o = '\0';
	return (size_t)(o - out);
}

int
front_http_query(
    const struct http_request *req, const char *name, size_t max, char **value)
{
	size_t n = strlen(name), len, got;
	const char *p = req->query;

	*value = NULL;
	while (p != NULL && *p != '\0') {
		len = strcspn(p, "&");
		if (len > n && strncmp(p, name, n) == 0 && p[n] == '=') {
			*value = xmalloc(len - n);
			got = conn_query_decode(p + n + 1, len - n - 1, *value);
			if (got > max || strlen(*value) != got) {
				free(*value);
				*value = NULL;
				return -1;
			}
			return 1;
		}
		p += len;
		if (*p == '&')
			p++;
	}
	return 0;
}

/*
 * A websocket under TLS: front stays in the middle, relaying between the
 * TLS connection and a socketpair whose other end went to the worker.
 * Each direction stops reading while the other side holds more than
 * RELAY_HIGH unsent, and starts again under RELAY_LOW. When one side
 * ends, what the other still has to send is sent, then both close.
 */
#define RELAY_HIGH (256 * 1024)
#define RELAY_LOW  (64 * 1024)

struct relay {
	struct bufferevent *tls, *plain;
	int closing;
};

static void
relay_free(struct relay *r)
{
	bufferevent_free(r->tls);
	bufferevent_free(r->plain);
	free(r);
}

static struct bufferevent *
relay_other(struct relay *r, struct bufferevent *bev)
{
	return bev == r->tls ? r->plain : r->tls;
}

static void
relay_read_cb(struct bufferevent *from, void *arg)
{
	struct relay *r = arg;
	struct bufferevent *to = relay_other(r, from);

	bufferevent_write_buffer(to, bufferevent_get_input(from));
	if (evbuffer_get_length(bufferevent_get_output(to)) >= RELAY_HIGH)
		bufferevent_disable(from, EV_READ);
}

/* to's output fell under the low mark (or emptied, when closing). */
static void
relay_write_cb(struct bufferevent *to, void *arg)
{
	struct relay *r = arg;

	if (r->closing) {
		if (evbuffer_get_length(bufferevent_get_output(to)) == 0)
			relay_free(r);
		return;
	}
	bufferevent_enable(relay_other(r, to), EV_READ);
}

static void
relay_event_cb(struct bufferevent *bev, short what, void *arg)
{
	struct relay *r = arg;
	struct bufferevent *to = relay_other(r, bev);

	if (!(what & (BEV_EVENT_EOF | BEV_EVENT_ERROR | BEV_EVENT_TIMEOUT)))
		return;
	if (r->closing ||
	    evbuffer_get_length(bufferevent_get_output(to)) == 0) {
		relay_free(r);
		return;
	}
	/* Send what is left to the other side, then close. */
	r->closing = 1;
	bufferevent_disable(bev, EV_READ);
	bufferevent_setcb(bev, NULL, NULL, relay_event_cb, r);
	bufferevent_setwatermark(to, EV_WRITE, 0, 0);
}

/* The TLS connection of c goes on with a relay through its kept end. */
static void
conn_relay(struct conn *c)
{
	struct relay *r;

	r = xcalloc(1, sizeof(*r));
	r->plain =
	    bufferevent_socket_new(fh.base, c->kept, BEV_OPT_CLOSE_ON_FREE);
	if (r->plain == NULL)
		fatalx("%s: bufferevent_socket_new failed", __func__);
	c->kept = -1;
	/* conn_close quiets the bufferevent; the relay takes it over. */
	conn_close(c, "handed over through a TLS relay");
	r->tls = c->bev;
	c->bev = NULL;
	bufferevent_set_timeouts(r->tls, NULL, NULL);
	bufferevent_setwatermark(r->tls, EV_READ, 0, 0);
	bufferevent_setwatermark(r->tls, EV_WRITE, RELAY_LOW, 0);
	bufferevent_setwatermark(r->plain, EV_WRITE, RELAY_LOW, 0);
	bufferevent_setcb(
	    r->tls, relay_read_cb, relay_write_cb, relay_event_cb, r);
	bufferevent_setcb(
	    r->plain, relay_read_cb, relay_write_cb, relay_event_cb, r);
	bufferevent_enable(r->tls, EV_READ | EV_WRITE);
	bufferevent_enable(r->plain, EV_READ | EV_WRITE);
}

/* Whether the client sent bytes after its request, ahead of the 101. */
static int
conn_early_bytes(struct conn *c)
{
	char b;

	if (evbuffer_get_length(bufferevent_get_input(c->bev)) > 0)
		return 1;
	if (fh.conf.tls != NULL)
		return 0; /* what TLS holds unread is the relay's to pass */
	return recv(bufferevent_getfd(c->bev), &b, 1,
	           MSG_PEEK | MSG_DONTWAIT) != -1 ||
	    errno != EAGAIN;
}

/* The fd handed out under TLS: one end of a socketpair, c keeps the other. */
static int
conn_pair(struct conn *c)
{
	int sv[2];

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == -1) {
		log_warn("%s: socketpair", __func__);
		return -1;
	}
	if (evutil_make_socket_nonblocking(sv[0]) == -1) {
		close(sv[0]);
		close(sv[1]);
		return -1;
	}
	c->kept = sv[0];
	return sv[1];
}

int
front_http_handoff(struct conn *c)
{
	int fd;

	if (conn_early_bytes(c))
		return -1;
	if (fh.conf.tls != NULL)
		fd = conn_pair(c);
	else if ((fd = fcntl(bufferevent_getfd(c->bev), F_DUPFD_CLOEXEC, 0)) ==
	    -1)
		log_warn("%s: dup", __func__);
	if (fd == -1)
		return -1;
	c->flags |= CONN_HANDED;
	bufferevent_disable(c->bev, EV_READ);
	return fd;
}

void
front_http_handed(struct conn *c)
{
	if (c->kept != -1)
		conn_relay(c);
	else
		conn_close(c, "handed over");
}

int
front_http_detach(struct conn *c)
{
	int fd;

	if ((fd = front_http_handoff(c)) != -1)
		front_http_handed(c);
	return fd;
}

void
front_http_close(struct conn *c, const char *reason)
{
	conn_close(c, reason);
}

const char *
front_http_peer(const struct conn *c)
{
	return c->label;
}

const char *
front_http_client(const struct conn *c)
{
	return c->client;
}

int
front_http_https(const struct conn *c)
{
	return c->https;
}

/*
 * The client and scheme of req: the connection's own, or from a trusted
 * proxy what its headers say (a malformed header is logged and ignored).
 */
static void
conn_forwarded(struct conn *c, const struct http_request *req)
{
	int flags;

	c->https = fh.conf.tls != NULL;
	flags = proxy_client(fh.conf.trust, req, c->addr, c->client,
	    sizeof(c->client), &c->https);
	if (flags & PROXY_FOR)
		snprintf(c->label, sizeof(c->label), "%s via %s", c->client,
		    c->peer);
	else
		snprintf(c->label, sizeof(c->label), "%s", c->peer);
	if (flags & PROXY_BAD)
		log_warnx("%s: malformed X-Forwarded-For or X-Forwarded-Proto "
		          "from a trusted proxy: ignored (%s %s)",
		    c->peer, req->method, req->target);
}

static void
conn_read_cb(struct bufferevent *bev, void *arg)
{
	struct conn *c = arg;
	struct evbuffer *in = bufferevent_get_input(bev);

	if (c->state == CONN_LINGER)
		evbuffer_drain(in, evbuffer_get_length(in));
	else
		conn_process(c);
}

static void
conn_write_cb(struct bufferevent *bev, void *arg)
{
	struct conn *c = arg;

	if (c->state == CONN_CLOSING)
		conn_linger(c);
	else
		conn_process(c);
}

static void
conn_event_cb(struct bufferevent *bev, short what, void *arg)
{
	struct conn *c = arg;

	if (what == BEV_EVENT_CONNECTED)
		return; /* TLS: the handshake is done */
	if ((what & BEV_EVENT_EOF) && c->state != CONN_LINGER &&
	    evbuffer_get_length(bufferevent_get_output(bev)) > 0) {
		/* Half-closed: still send what was asked for. */
		conn_finish(c);
		return;
	}
	if (what & BEV_EVENT_EOF)
		conn_close(c, "closed by peer");
	else if (what & BEV_EVENT_TIMEOUT)
		conn_close(c, "write stalled");
	else
		conn_close(c, "connection error");
}

static void
conn_timer_cb(evutil_socket_t fd, short what, void *arg)
{
	struct conn *c = arg;

	switch (c->state) {
	case CONN_IDLE:
		if (evbuffer_get_length(bufferevent_get_output(c->bev)) > 0) {
			/* Still sending; the write timeout watches that. */
			conn_timer_set(c, fh.conf.idle_timeout_ms);
			return;
		}
		conn_close(c, "idle");
		break;
	case CONN_READING:
		conn_fail(c, 408, "request not received in time", NULL);
		break;
	case CONN_CLOSING:
	case CONN_LINGER:
		conn_close(c, "closed");
		break;
	case CONN_WAITING:
		c->waiting = 0;
		if (c->flags & CONN_HANDED) {
			/* The worker may have the socket: not a word. */
			conn_close(c, "master did not answer the attach");
			break;
		}
		c->state = CONN_READING;
		conn_fail(c, 504, "the server did not answer in time", NULL);
		break;
	}
}

static void
conn_new(evutil_socket_t fd, struct sockaddr *sa, int salen, int refused)
{
	struct timeval tv;
	char host[INET6_ADDRSTRLEN], serv[8];
	struct conn *c;

	c = xcalloc(1, sizeof(*c));
	c->kept = -1;
	if (getnameinfo(sa, (socklen_t)salen, host, sizeof(host), serv,
	        sizeof(serv), NI_NUMERICHOST | NI_NUMERICSERV) == 0) {
		snprintf(c->peer, sizeof(c->peer), "%s:%s", host, serv);
		snprintf(c->addr, sizeof(c->addr), "%s", host);
	} else {
		snprintf(c->peer, sizeof(c->peer), "fd %d", (int)fd);
		snprintf(c->addr, sizeof(c->addr), "fd %d", (int)fd);
	}
	snprintf(c->label, sizeof(c->label), "%s", c->peer);
	snprintf(c->client, sizeof(c->client), "%s", c->addr);
	c->https = fh.conf.tls != NULL;
	if (fh.conf.tls != NULL) {
		SSL *ssl = SSL_new(fh.conf.tls);

		if (ssl == NULL)
			fatalx("%s: SSL_new failed", __func__);
		c->bev = bufferevent_openssl_socket_new(fh.base, fd, ssl,
		    BUFFEREVENT_SSL_ACCEPTING, BEV_OPT_CLOSE_ON_FREE);
		if (c->bev != NULL) /* browsers close without close_notify */
			bufferevent_openssl_set_allow_dirty_shutdown(c->bev, 1);
	} else
		c->bev =
		    bufferevent_socket_new(fh.base, fd, BEV_OPT_CLOSE_ON_FREE);
	if (c->bev == NULL)
		fatalx("%s: bufferevent_socket_new failed", __func__);
	c->parser = http_parser_new(&fh.limits);
	c->timer = evtimer_new(fh.base, conn_timer_cb, c);
	if (c->timer == NULL)
		fatalx("%s: evtimer_new failed", __func__);
	TAILQ_INSERT_TAIL(&fh.conns, c, entry);
	if (refused) {
		c->flags |= CONN_REFUSED;
		fh.nrefusing++;
	} else
		fh.nconns++;

	bufferevent_setcb(
	    c->bev, conn_read_cb, conn_write_cb, conn_event_cb, c);
	bufferevent_setwatermark(c->bev, EV_READ, 0, FRONT_HTTP_IN_HIGH);
	bufferevent_setwatermark(c->bev, EV_WRITE, FRONT_HTTP_OUT_LOW, 0);
	/* The write side must make progress within idle_timeout_ms. */
	tv.tv_sec = fh.conf.idle_timeout_ms / 1000;
	tv.tv_usec = (fh.conf.idle_timeout_ms % 1000) * 1000;
	bufferevent_set_timeouts(c->bev, NULL, &tv);
	bufferevent_enable(c->bev, EV_READ | EV_WRITE);

	c->state = CONN_READING;
	conn_timer_set(c, fh.conf.header_timeout_ms);
	if (refused) {
		log_warnx("%s: %s: refused, %d connections already", __func__,
		    c->label, fh.nconns);
		conn_fail(c, 503, "too many connections, try again later",
		    "Retry-After: 1\r\n");
	}
}

static void
accept_cb(struct evconnlistener *l, evutil_socket_t fd, struct sockaddr *sa,
    int salen, void *arg)
{
	if (fh.nconns < fh.conf.max_conns)
		conn_new(fd, sa, salen, 0);
	else if (fh.nrefusing < FRONT_HTTP_MAX_REFUSING)
		conn_new(fd, sa, salen, 1);
	else
		close(fd);
}

static void
accept_resume_cb(evutil_socket_t fd, short what, void *arg)
{
	evconnlistener_enable(fh.listener);
}

/* Out of fds or memory: pause accepting rather than spin on the error. */
static void
accept_error_cb(struct evconnlistener *l, void *arg)
{
	struct timeval tv = {FRONT_HTTP_ACCEPT_PAUSE_MS / 1000,
	    (FRONT_HTTP_ACCEPT_PAUSE_MS % 1000) * 1000};

	log_warn("%s: accept", __func__);
	evconnlistener_disable(fh.listener);
	evtimer_add(fh.accept_pause, &tv);
}

int
front_http_start(
    struct event_base *base, int listen_fd, const struct front_http_conf *conf)
{
	if (fh.listener != NULL)
		fatalx("%s: already started", __func__);
	fh.base = base;
	fh.conf = *conf;
	/* A zero timeout would fire at once; unset values get defaults. */
	if (fh.conf.header_timeout_ms <= 0)
		fh.conf.header_timeout_ms = FRONT_HTTP_HEADER_TIMEOUT_MS;
	if (fh.conf.idle_timeout_ms <= 0)
		fh.conf.idle_timeout_ms = FRONT_HTTP_IDLE_TIMEOUT_MS;
	if (fh.conf.max_conns < 1)
		fh.conf.max_conns = 1;
	fh.limits.max_line = FRONT_HTTP_MAX_LINE;
	fh.limits.max_headers = FRONT_HTTP_MAX_HEADERS;
	fh.limits.max_header_bytes = FRONT_HTTP_MAX_HEADER_BYTES;
	fh.limits.max_body = conf->max_body;
	fh.nconns = fh.nrefusing = 0;
	TAILQ_INIT(&fh.conns);
	if ((fh.accept_pause = evtimer_new(base, accept_resume_cb, NULL)) ==
	    NULL)
		fatalx("%s: event_new failed", __func__);
	fh.listener = evconnlistener_new(base, accept_cb, NULL,
	    LEV_OPT_CLOSE_ON_FREE | LEV_OPT_CLOSE_ON_EXEC, -1, listen_fd);
	if (fh.listener == NULL)
		fatalx("%s: evconnlistener_new failed", __func__);
	evconnlistener_set_error_cb(fh.listener, accept_error_cb);
	log_debug("%s: serving on fd %d", __func__, listen_fd);
	return 0;
}

void
front_http_stop(void)
{
	struct conn *c;

	if (fh.listener == NULL)
		return;
	evconnlistener_free(fh.listener);
	fh.listener = NULL;
	while ((c = TAILQ_FIRST(&fh.conns)) != NULL)
		conn_close(c, "server stopping");
	event_free(fh.accept_pause);
	fh.accept_pause = NULL;
}
