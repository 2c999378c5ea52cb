/* SPDX-License-Identifier: ISC */
/*
 * Integration test of front/front_http.c and the pages' routes
 * (front_route.c, front_static.c): runs the server in a forked child on
 * a real loopback socket with a temporary web directory, and talks to it
 * over TCP as browsers and misbehaving clients would.
 */
#include <sys/types.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>

#include "common/log.h"
#include "front/front.h"

#define INDEX_HTML "<!doctype html><title>alia</title>\n"

struct server {
	pid_t pid;
	int port;
};

struct client {
	int fd;
	char buf[65536];
	size_t len;
};

struct response {
	int status;
	char head[8192];
	char *body;
	size_t bodylen;
};

static int failures;
static char webdir[64];

#define CHECK(cond, ...)                                              \
	do {                                                          \
		if (!(cond)) {                                        \
			failures++;                                   \
			fprintf(stderr, "FAIL %s:%d: %s: ", __func__, \
			    __LINE__, #cond);                         \
			fprintf(stderr, __VA_ARGS__);                 \
			fputc('\n', stderr);                          \
		}                                                     \
	} while (0)

static long
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void
server_stop_cb(evutil_socket_t sig, short what, void *arg)
{
	front_http_stop();
	event_base_loopbreak(arg);
}

static struct server
server_start(const struct front_http_conf *conf)
{
	struct sockaddr_in sin;
	socklen_t slen = sizeof(sin);
	struct event_base *base;
	struct event *ev;
	struct server s;
	int fd;

	fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd == -1)
		fatal("socket");
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (bind(fd, (struct sockaddr *)&sin, sizeof(sin)) == -1 ||
	    listen(fd, 64) == -1 ||
	    getsockname(fd, (struct sockaddr *)&sin, &slen) == -1)
		fatal("bind/listen");
	s.port = ntohs(sin.sin_port);
	if ((s.pid = fork()) == -1)
		fatal("fork");
	if (s.pid == 0) {
		log_init("front", getenv("TEST_VERBOSE") != NULL);
		if ((base = event_base_new()) == NULL)
			fatalx("event_base_new");
		ev = evsignal_new(base, SIGTERM, server_stop_cb, base);
		event_add(ev, NULL);
		if (front_static_init(webdir) == -1 ||
		    front_http_start(base, fd, conf) == -1)
			_exit(2);
		event_base_dispatch(base);
		/* The connections' deferred frees. */
		(void)event_base_loop(base, EVLOOP_NONBLOCK);
		event_free(ev);
		event_base_free(base);
		front_static_free();
		exit(0);
	}
	close(fd);
	return s;
}

/* Stops the server; it must exit cleanly (sanitizers make it fail). */
static void
server_stop(struct server *s)
{
	int status;

	kill(s->pid, SIGTERM);
	if (waitpid(s->pid, &status, 0) == -1)
		fatal("waitpid");
	CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0,
	    "server exit status %d", status);
}

static struct client *
client_connect(int port)
{
	struct sockaddr_in sin;
	struct client *c;
	struct timeval tv = {5, 0};

	c = calloc(1, sizeof(*c));
	if (c == NULL)
		fatal("calloc");
	if ((c->fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1)
		fatal("socket");
	setsockopt(c->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	sin.sin_port = htons(port);
	if (connect(c->fd, (struct sockaddr *)&sin, sizeof(sin)) == -1)
		fatal("connect");
	return c;
}

static void
client_close(struct client *c)
{
	close(c->fd);
	free(c);
}

static void
client_send(struct client *c, const char *s, size_t len)
{
	ssize_t n;

	while (len > 0) {
		n = send(c->fd, s, len, MSG_NOSIGNAL);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1) {
			fprintf(stderr, "send: %s\n", strerror(errno));
			return;
		}
		s += n;
		len -= (size_t)n;
	}
}

static void
client_sends(struct client *c, const char *s)
{
	client_send(c, s, strlen(s));
}

/* Reads more into the buffer; 0 at EOF or error, else 1. */
static int
client_fill(struct client *c)
{
	ssize_t n;

	if (c->len == sizeof(c->buf))
		return 0;
	do
		n = recv(c->fd, c->buf + c->len, sizeof(c->buf) - c->len, 0);
	while (n == -1 && errno == EINTR);
	if (n <= 0)
		return 0;
	c->len += (size_t)n;
	return 1;
}

/* A header's value from a response head, or NULL. */
static const char *
header(const struct response *r, const char *name, char *out, size_t size)
{
	const char *line = strstr(r->head, "\r\n");
	size_t n = strlen(name), vlen;

	while (line != NULL && line[2] != '\0') {
		line += 2;
		if (strncasecmp(line, name, n) == 0 && line[n] == ':') {
			line += n + 1;
			line += strspn(line, " ");
			vlen = strcspn(line, "\r");
			snprintf(out, size, "%.*s", (int)vlen, line);
			return out;
		}
		line = strstr(line, "\r\n");
	}
	return NULL;
}

/* Reads one response; status 0 if none came. head: no body expected. */
static struct response *
client_response(struct client *c, int head)
{
	struct response *r;
	char *end, v[64];
	size_t hlen, blen = 0;

	r = calloc(1, sizeof(*r));
	if (r == NULL)
		fatal("calloc");
	while ((end = memmem(c->buf, c->len, "\r\n\r\n", 4)) == NULL) {
		if (!client_fill(c))
			return r;
	}
	hlen = (size_t)(end - c->buf) + 4;
	snprintf(r->head, sizeof(r->head), "%.*s", (int)hlen - 2, c->buf);
	if (sscanf(r->head, "HTTP/1.1 %d ", &r->status) != 1)
		r->status = -1;
	if (!head && header(r, "Content-Length", v, sizeof(v)) != NULL)
		blen = strtoul(v, NULL, 10);
	while (c->len < hlen + blen) {
		if (!client_fill(c)) {
			r->status = -2;
			return r;
		}
	}
	r->body = malloc(blen + 1);
	memcpy(r->body, c->buf + hlen, blen);
	r->body[blen] = '\0';
	r->bodylen = blen;
	memmove(c->buf, c->buf + hlen + blen, c->len - hlen - blen);
	c->len -= hlen + blen;
	return r;
}

static void
response_free(struct response *r)
{
	free(r->body);
	free(r);
}

/* Reads one response on c; its status must be status. */
static void
expect_status(struct client *c, int status, const char *what)
{
	struct response *r = client_response(c, 0);

	CHECK(r->status == status, "%s: %d", what, r->status);
	response_free(r);
}

/* Whether the server closes the connection (EOF) within ms. */
static int
client_closed(struct client *c, int ms)
{
	struct pollfd pfd = {c->fd, POLLIN, 0};
	char buf[4096];
	long deadline = now_ms() + ms;
	ssize_t n;

	while (now_ms() < deadline) {
		if (poll(&pfd, 1, (int)(deadline - now_ms())) <= 0)
			return 0;
		n = recv(c->fd, buf, sizeof(buf), 0);
		if (n == 0 || (n == -1 && errno == ECONNRESET))
			return 1;
		if (n == -1 && errno != EINTR && errno != EAGAIN)
			return 1;
	}
	return 0;
}

/* One request on a fresh connection; returns the response. */
static struct response *
roundtrip(int port, const char *req, int head)
{
	struct client *c = client_connect(port);
	struct response *r;

	client_sends(c, req);
	r = client_response(c, head);
	client_close(c);
	return r;
}

static void
test_healthz(int port)
{
	struct response *r;
	char v[256];

	r = roundtrip(port, "GET /healthz HTTP/1.1\r\nHost: t\r\n\r\n", 0);
	CHECK(r->status == 200, "status %d", r->status);
	CHECK(r->body != NULL && strcmp(r->body, "ok\n") == 0, "body");
	CHECK(header(r, "Content-Type", v, sizeof(v)) != NULL &&
	        strncmp(v, "text/plain", 10) == 0,
	    "content type");
	CHECK(header(r, "Cache-Control", v, sizeof(v)) != NULL &&
	        strcmp(v, "no-store") == 0,
	    "cache control");
	CHECK(header(r, "X-Content-Type-Options", v, sizeof(v)) != NULL &&
	        strcmp(v, "nosniff") == 0,
	    "nosniff");
	response_free(r);

	r = roundtrip(port, "HEAD /healthz HTTP/1.1\r\nHost: t\r\n\r\n", 1);
	CHECK(r->status == 200, "HEAD status %d", r->status);
	CHECK(header(r, "Content-Length", v, sizeof(v)) != NULL &&
	        strcmp(v, "3") == 0,
	    "HEAD length");
	response_free(r);
}

static void
test_static(int port)
{
	struct response *r;
	struct client *c;
	char v[256];

	r = roundtrip(port, "GET / HTTP/1.1\r\nHost: t\r\n\r\n", 0);
	CHECK(r->status == 200, "status %d", r->status);
	CHECK(r->body != NULL && strcmp(r->body, INDEX_HTML) == 0, "index");
	CHECK(header(r, "Content-Type", v, sizeof(v)) != NULL &&
	        strncmp(v, "text/html", 9) == 0,
	    "content type");
	CHECK(header(r, "Content-Security-Policy", v, sizeof(v)) != NULL &&
	        strstr(v, "default-src 'self'") != NULL,
	    "CSP");
	CHECK(header(r, "X-Content-Type-Options", v, sizeof(v)) != NULL,
	    "nosniff");
	response_free(r);

	r = roundtrip(port, "GET /app.js HTTP/1.1\r\nHost: t\r\n\r\n", 0);
	CHECK(r->status == 200, "app.js status %d", r->status);
	CHECK(header(r, "Content-Type", v, sizeof(v)) != NULL &&
	        strncmp(v, "text/javascript", 15) == 0,
	    "js type");
	CHECK(
	    r->body != NULL && strcmp(r->body, "let x = 1;\n") == 0, "js body");
	response_free(r);

	r = roundtrip(port, "GET /sub HTTP/1.1\r\nHost: t\r\n\r\n", 0);
	CHECK(r->status == 200 && strcmp(r->body, "sub\n") == 0,
	    "directory index %d", r->status);
	response_free(r);

	r = roundtrip(port, "GET /empty/ HTTP/1.1\r\nHost: t\r\n\r\n", 0);
	CHECK(r->status == 404, "directory without index %d", r->status);
	response_free(r);

	/* HEAD: the GET's length, no body (the next response follows). */
	c = client_connect(port);
	client_sends(c,
	    "HEAD / HTTP/1.1\r\nHost: t\r\n\r\n"
	    "GET /healthz HTTP/1.1\r\nHost: t\r\n\r\n");
	r = client_response(c, 1);
	CHECK(r->status == 200, "HEAD status %d", r->status);
	CHECK(header(r, "Content-Length", v, sizeof(v)) != NULL &&
	        (size_t)atoi(v) == strlen(INDEX_HTML),
	    "HEAD length");
	response_free(r);
	r = client_response(c, 0);
	CHECK(r->status == 200 && strcmp(r->body, "ok\n") == 0, "after HEAD %d",
	    r->status);
	response_free(r);
	client_close(c);

	r = roundtrip(port, "GET /missing.html HTTP/1.1\r\nHost: t\r\n\r\n", 0);
	CHECK(r->status == 404, "missing %d", r->status);
	response_free(r);
}

static void
test_methods(int port)
{
	struct response *r;
	char v[256];

	r = roundtrip(port, "POST /healthz HTTP/1.1\r\nHost: t\r\n\r\n", 0);
	CHECK(r->status == 405, "POST /healthz %d", r->status);
	CHECK(header(r, "Allow", v, sizeof(v)) != NULL &&
	        strcmp(v, "GET, HEAD") == 0,
	    "Allow");
	response_free(r);

	r = roundtrip(
	    port, "DELETE /index.html HTTP/1.1\r\nHost: t\r\n\r\n", 0);
	CHECK(r->status == 405, "DELETE /index.html %d", r->status);
	CHECK(header(r, "Allow", v, sizeof(v)) != NULL, "Allow");
	response_free(r);

	r = roundtrip(port, "POST /nothing HTTP/1.1\r\nHost: t\r\n\r\n", 0);
	CHECK(r->status == 404, "POST /nothing %d", r->status);
	response_free(r);
}

/*
 * Sends req (len bytes, 0 for a string), expects status and then the
 * connection closed.
 */
static void
expect_fatal(
    int port, const char *what, const char *req, size_t len, int status)
{
	struct client *c = client_connect(port);
	struct response *r;
	char v[64];

	client_send(c, req, len != 0 ? len : strlen(req));
	r = client_response(c, 0);
	CHECK(r->status == status, "%s: status %d, want %d", what, r->status,
	    status);
	CHECK(header(r, "Connection", v, sizeof(v)) != NULL &&
	        strcmp(v, "close") == 0,
	    "%s: Connection header", what);
	CHECK(r->bodylen > 0, "%s: a message in the body", what);
	CHECK(client_closed(c, 3000), "%s: connection left open", what);
	response_free(r);
	client_close(c);
}

static void
test_errors(int port)
{
	struct client *c;
	char req[8192];
	size_t n;
	int i;

	expect_fatal(port, "garbage", "\x16\x03\x01garbage\r\n\r\n", 0, 400);
	expect_fatal(
	    port, "bad version", "GET / HTTP/3.0\r\nHost: t\r\n\r\n", 0, 505);
	expect_fatal(port, "big body",
	    "POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 1000000\r\n\r\n", 0,
	    413);
	expect_fatal(port, "gzip, chunked",
	    "POST / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: gzip, chunked\r\n"
	    "\r\n",
	    0, 501);
	expect_fatal(port, "chunked over max_body",
	    "POST / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n"
	    "fffff\r\n",
	    0, 413);
	n = (size_t)snprintf(req, sizeof(req), "GET / HTTP/1.1\r\nHost: t\r\n");
	for (i = 0; i < 100; i++)
		n += (size_t)snprintf(
		    req + n, sizeof(req) - n, "X-%d: y\r\n", i);
	n += (size_t)snprintf(req + n, sizeof(req) - n, "\r\n");
	expect_fatal(port, "many headers", req, n, 431);
	/* Garbage after a good request: that is answered, then 400. */
	c = client_connect(port);
	client_sends(c, "GET /healthz HTTP/1.1\r\nHost: t\r\n\r\n\x01\x02\r\n");
	expect_status(c, 200, "before garbage");
	expect_status(c, 400, "garbage after request");
	CHECK(client_closed(c, 3000), "left open after garbage");
	client_close(c);
}

static void
test_traversal(int port)
{
	static const struct {
		const char *target;
		int status;
	} cases[] = {
	    {"/../etc/passwd", 400},
	    {"/%2e%2e/etc/passwd", 400},
	    {"/sub/%2E%2E/%2e%2e/etc/passwd", 400},
	    {"/..%2fetc/passwd", 400},
	    {"/passwd-link", 404},
	    {"/linkdir/passwd", 404},
	    {"/.hidden", 404},
	    {"/%00", 400},
	};
	struct response *r;
	char req[256];
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		snprintf(req, sizeof(req), "GET %s HTTP/1.1\r\nHost: t\r\n\r\n",
		    cases[i].target);
		r = roundtrip(port, req, 0);
		CHECK(r->status == cases[i].status, "%s: %d", cases[i].target,
		    r->status);
		CHECK(r->body == NULL || strstr(r->body, "root:") == NULL,
		    "%s leaked a file", cases[i].target);
		response_free(r);
	}
}

static void
test_keepalive(int port)
{
	struct response *r;
	struct client *c;
	int i;

	c = client_connect(port);
	for (i = 0; i < 3; i++) {
		client_sends(c,
		    i == 1 ? "GET / HTTP/1.1\r\nHost: t\r\n\r\n"
		           : "GET /healthz HTTP/1.1\r\nHost: t\r\n\r\n");
		r = client_response(c, 0);
		CHECK(r->status == 200, "request %d: %d", i, r->status);
		response_free(r);
	}
	/* A pipelined pair in one write, answered in order. */
	client_sends(c,
	    "GET /healthz HTTP/1.1\r\nHost: t\r\n\r\n"
	    "GET /app.js HTTP/1.1\r\nHost: t\r\n\r\n");
	r = client_response(c, 0);
	CHECK(r->status == 200 && strcmp(r->body, "ok\n") == 0,
	    "pipelined 1: %d", r->status);
	response_free(r);
	r = client_response(c, 0);
	CHECK(r->status == 200 && strcmp(r->body, "let x = 1;\n") == 0,
	    "pipelined 2: %d", r->status);
	response_free(r);
	/* Connection: close is honoured. */
	client_sends(
	    c, "GET /healthz HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n");
	expect_status(c, 200, "close");
	CHECK(client_closed(c, 3000), "not closed after Connection: close");
	client_close(c);

	/* HTTP/1.0 closes by default. */
	c = client_connect(port);
	client_sends(c, "GET /healthz HTTP/1.0\r\n\r\n");
	expect_status(c, 200, "1.0");
	CHECK(client_closed(c, 3000), "1.0 not closed");
	client_close(c);

	/* Half-close after a request: the answer still comes. */
	c = client_connect(port);
	client_sends(c, "GET /healthz HTTP/1.1\r\nHost: t\r\n\r\n");
	shutdown(c->fd, SHUT_WR);
	expect_status(c, 200, "half-closed");
	client_close(c);
}

/* header_timeout 500 ms, idle 1000 ms. */
static void
test_timeouts(int port)
{
	static const char slow[] = "GET / HTTP/1.1\r\nHost: t\r\nX: ";
	struct pollfd pfd;
	struct response *r;
	struct client *c, *idle;
	long start, t;
	size_t i;
	int got = 0, closed = 0;

	c = client_connect(port);
	start = now_ms();
	client_send(c, slow, 1);

	/* Someone else is served promptly meanwhile. */
	t = now_ms();
	r = roundtrip(port, "GET /healthz HTTP/1.1\r\nHost: t\r\n\r\n", 0);
	CHECK(r->status == 200, "other client: %d", r->status);
	CHECK(now_ms() - t < 250, "other client waited %ld ms", now_ms() - t);
	response_free(r);

	/* One byte every 100 ms until the server gives up. */
	pfd.fd = c->fd;
	pfd.events = POLLIN;
	for (i = 1; now_ms() - start < 3000; i++) {
		if (poll(&pfd, 1, 100) == 1) {
			r = client_response(c, 0);
			CHECK(r->status == 408, "slowloris got %d", r->status);
			response_free(r);
			got = 1;
			break;
		}
		client_send(c, i < sizeof(slow) - 1 ? slow + i : "a", 1);
	}
	t = now_ms() - start;
	CHECK(got, "slowloris never answered");
	CHECK(t >= 400 && t < 1500, "408 after %ld ms, want ~500", t);
	closed = client_closed(c, 3000);
	CHECK(closed, "slowloris left open");
	client_close(c);

	/* An idle keep-alive connection is closed after idle_timeout. */
	idle = client_connect(port);
	client_sends(idle, "GET /healthz HTTP/1.1\r\nHost: t\r\n\r\n");
	expect_status(idle, 200, "idle");
	start = now_ms();
	CHECK(client_closed(idle, 3000), "idle connection left open");
	t = now_ms() - start;
	CHECK(t >= 800 && t < 2000, "idle closed after %ld ms", t);
	client_close(idle);

	/* A connection that sends nothing gets 408 too. */
	c = client_connect(port);
	expect_status(c, 408, "silent");
	client_close(c);
}

/* Runs with max_conns 2. */
static void
test_max_conns(int port)
{
	struct client *a, *b, *c;
	struct response *r;
	char v[64];

	a = client_connect(port);
	b = client_connect(port);
	client_sends(a, "GET /healthz HTTP/1.1\r\nHost: t\r\n\r\n");
	client_sends(b, "GET /healthz HTTP/1.1\r\nHost: t\r\n\r\n");
	expect_status(a, 200, "a");
	expect_status(b, 200, "b");

	c = client_connect(port);
	client_sends(c, "GET /healthz HTTP/1.1\r\nHost: t\r\n\r\n");
	r = client_response(c, 0);
	CHECK(r->status == 503, "third: %d", r->status);
	CHECK(header(r, "Retry-After", v, sizeof(v)) != NULL, "Retry-After");
	CHECK(client_closed(c, 3000), "refused connection left open");
	response_free(r);
	client_close(c);

	/* A freed slot is usable again. */
	client_close(a);
	usleep(200 * 1000);
	r = roundtrip(port, "GET /healthz HTTP/1.1\r\nHost: t\r\n\r\n", 0);
	CHECK(r->status == 200, "after a slot freed: %d", r->status);
	response_free(r);
	client_close(b);
}

static void
write_file(const char *name, const char *content)
{
	char path[256];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", webdir, name);
	if ((f = fopen(path, "w")) == NULL)
		fatal("%s", path);
	fputs(content, f);
	fclose(f);
}

static void
make_webdir(void)
{
	char path[256];

	snprintf(webdir, sizeof(webdir), "/tmp/alia-front-http-XXXXXX");
	if (mkdtemp(webdir) == NULL)
		fatal("mkdtemp");
	write_file("index.html", INDEX_HTML);
	write_file("app.js", "let x = 1;\n");
	write_file(".hidden", "secret\n");
	snprintf(path, sizeof(path), "%s/sub", webdir);
	mkdir(path, 0755);
	write_file("sub/index.html", "sub\n");
	snprintf(path, sizeof(path), "%s/empty", webdir);
	mkdir(path, 0755);
	snprintf(path, sizeof(path), "%s/passwd-link", webdir);
	if (symlink("/etc/passwd", path) == -1)
		fatal("symlink");
	snprintf(path, sizeof(path), "%s/linkdir", webdir);
	if (symlink("/etc", path) == -1)
		fatal("symlink");
}

static void
remove_webdir(void)
{
	static const char *names[] = {"index.html", "app.js", ".hidden",
	    "sub/index.html", "sub", "empty", "passwd-link", "linkdir"};
	char path[256];
	size_t i;

	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		snprintf(path, sizeof(path), "%s/%s", webdir, names[i]);
		remove(path);
	}
	rmdir(webdir);
}

int
main(void)
{
	struct front_http_conf conf = {
	    .max_body = 1024,
	    .header_timeout_ms = 500,
	    .idle_timeout_ms = 1000,
	    .max_conns = 64,
	    .route = front_route_request,
	};
	struct server s;

	log_init("test", 0);
	signal(SIGPIPE, SIG_IGN);
	make_webdir();

	s = server_start(&conf);
	test_healthz(s.port);
	test_static(s.port);
	test_methods(s.port);
	test_errors(s.port);
	test_traversal(s.port);
	test_keepalive(s.port);
	test_timeouts(s.port);
	server_stop(&s);

	conf.max_conns = 2;
	s = server_start(&conf);
	test_max_conns(s.port);
	server_stop(&s);

	remove_webdir();
	if (failures > 0) {
		fprintf(stderr, "%d checks failed\n", failures);
		return 1;
	}
	printf("all checks passed\n");
	return 0;
}
