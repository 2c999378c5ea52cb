/* SPDX-License-Identifier: ISC */
/*
 * Integration test of the worker role: runs the real binary, alia-worker
 * ($ALIA_WORKER_BIN -R worker), with its channel on fd 3, plays master on
 * the channel, the container's shell on one end of a stream socketpair
 * and browsers on others, speaking websocket through the small client-side
 * framer below. No Docker: the worker only ever sees fds.
 */
#include <sys/socket.h>
#include <sys/wait.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "common/config.h"
#include "common/msg.h"
#include "common/proc.h"
#include "common/proto.h"
#include "common/uuid.h"

#define SESSION    "0b6a2c1e-8f4d-4c1a-9e6b-3f2d1c0b9a87"
#define KEY        "dGhlIHNhbXBsZSBub25jZQ=="     /* RFC 6455's example */
#define ACCEPT     "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=" /* and its answer */
#define TIMEOUT_MS 10000

#define CHECK(c)                                                               \
	do {                                                                   \
		if (!(c)) {                                                    \
			fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, \
			    __LINE__, #c);                                     \
			exit(1);                                               \
		}                                                              \
	} while (0)

static long long
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* SESSION, as messages carry it (set in main). */
static struct uuid session_id;

/* The worker as master sees it. */
struct worker {
	pid_t pid;
	pid_t acker; /* plays the broker and recorder: acks every event */
	int chan;
	int tty; /* the test's end of the "container" stream */
};

/*
 * The recorder's part, in a child of the test: every event the worker
 * sends on its broker channel is acknowledged at once, so that the
 * worker's durable path never holds the container back here. Exits when
 * the worker closes the channel.
 */
static void
acker_run(int fd)
{
	static unsigned char buf[MSG_MAX_PACKET];
	struct msg_event e;
	struct msg_ack a;
	const void *data;
	char err[256];
	struct msg m;

	for (;;) {
		if (msg_recv_blocking(fd, buf, sizeof(buf), &m, 60000, err,
		        sizeof(err)) == -1)
			_exit(0);
		if (msg_get_event(&m, &e, &data) == -1)
			continue;
		memset(&a, 0, sizeof(a));
		a.seq = e.seq;
		if (msg_send_ack_blocking(fd, &m.hdr.session, &a) == -1)
			_exit(0);
	}
}

/* A browser: the test's end of its socket and a frame reader. */
struct browser {
	int fd;
	unsigned char *buf;
	size_t len, cap;
};

struct frame {
	int opcode;
	unsigned char *data; /* NUL-terminated, owned by the frame */
	size_t len;
};

static void
worker_start(struct worker *w, int64_t idle, int64_t lifetime, int64_t grace)
{
	struct msg_worker_start s;
	struct msg_peer peer;
	struct config conf;
	char err[256], opts[512];
	int ch[2], tty[2], br[2];
	const char *bin, *asan;

	CHECK((bin = getenv("ALIA_WORKER_BIN")) != NULL);
	CHECK(msg_socketpair(ch) == 0);
	CHECK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, tty) == 0);
	CHECK((w->pid = fork()) != -1);
	if (w->pid == 0) {
		/*
		 * Under AddressSanitizer, freed memory sits in a quarantine
		 * of 256 MiB; keep it small so that RSS still measures the
		 * worker's own bounds.
		 */
		if ((asan = getenv("ASAN_OPTIONS")) != NULL) {
			snprintf(opts, sizeof(opts), "%s:quarantine_size_mb=8",
			    asan);
			setenv("ASAN_OPTIONS", opts, 1);
		}
		if (ch[1] == PROC_CHAN_FD)
			fcntl(ch[1], F_SETFD, 0);
		else if (dup2(ch[1], PROC_CHAN_FD) == -1)
			_exit(126);
		execl(bin, bin, "-v", "-R", "worker", (char *)NULL);
		_exit(127);
	}
	close(ch[1]);
	w->chan = ch[0];
	w->tty = tty[0];

	config_defaults(&conf);
	CHECK(config_finish(&conf, err, sizeof(err)) == 0);
	snprintf(conf.user, sizeof(conf.user), "alia");
	CHECK(msg_send_config_blocking(w->chan, NULL, &conf) == 0);
	memset(&s, 0, sizeof(s));
	s.cols = 80;
	s.rows = 24;
	s.started_us = 0;
	s.idle_timeout = idle;
	s.max_lifetime = lifetime;
	s.reconnect_grace = grace;
	CHECK(msg_send_worker_start_blocking(
	          w->chan, &session_id, tty[1], &s) == 0);
	close(tty[1]);

	/* Its broker channel, answered by the acker. */
	CHECK(msg_socketpair(br) == 0);
	CHECK((w->acker = fork()) != -1);
	if (w->acker == 0) {
		close(br[1]);
		acker_run(br[0]);
	}
	close(br[0]);
	memset(&peer, 0, sizeof(peer));
	peer.kind = PEER_WORKER;
	CHECK(msg_send_worker_broker_blocking(
	          w->chan, &session_id, br[1], &peer) == 0);
	close(br[1]);
}

static int audits; /* MSG_WORKER_AUDIT seen by worker_recv */

/*
 * Waits for a message of type from the worker, skipping stats, audits;
 * m points into a buffer the next call reuses.
 */
static int
worker_recv(struct worker *w, uint32_t type, struct msg *m, int timeout_ms)
{
	static unsigned char buf[MSG_MAX_PACKET];
	char err[256];
	long long end = now_ms() + timeout_ms;

	while (now_ms() < end) {
		if (msg_recv_blocking(w->chan, buf, sizeof(buf), m,
		        (int)(end - now_ms()), err, sizeof(err)) == -1) {
			fprintf(stderr, "worker_recv: %s\n", err);
			return -1;
		}
		CHECK(uuid_equal(&m->hdr.session, &session_id));
		if (m->hdr.type == MSG_WORKER_STATS)
			continue;
		if (m->hdr.type == MSG_WORKER_AUDIT) {
			audits++; /* a browser joined or left */
			continue;
		}
		CHECK(m->hdr.type == type);
		return 0;
	}
	return -1;
}

/* Says the container exited and checks that the worker exits 0. */
static void
worker_exit(struct worker *w, int code)
{
	struct msg_exit e;
	long long end = now_ms() + TIMEOUT_MS;
	int status;
	pid_t r;

	memset(&e, 0, sizeof(e));
	e.code = code;
	CHECK(msg_send_worker_exited_blocking(w->chan, &session_id, &e) == 0);
	while ((r = waitpid(w->pid, &status, WNOHANG)) == 0 && now_ms() < end)
		usleep(10000);
	CHECK(r == w->pid);
	CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	close(w->chan);
	close(w->tty);
}

static long
worker_rss_kb(struct worker *w)
{
	char path[64], line[256];
	long kb = -1;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)w->pid);
	if ((f = fopen(path, "r")) == NULL)
		return -1;
	while (fgets(line, sizeof(line), f) != NULL)
		if (sscanf(line, "VmRSS: %ld kB", &kb) == 1)
			break;
	fclose(f);
	return kb;
}

static void
write_all(int fd, const void *data, size_t len)
{
	const unsigned char *p = data;
	struct pollfd pfd = {.fd = fd, .events = POLLOUT};
	ssize_t n;

	while (len > 0) {
		n = write(fd, p, len);
		if (n == -1 && (errno == EAGAIN || errno == EINTR)) {
			CHECK(poll(&pfd, 1, TIMEOUT_MS) == 1);
			continue;
		}
		CHECK(n > 0);
		p += n;
		len -= (size_t)n;
	}
}

/* Reads exactly len bytes within the timeout. */
static void
read_exact(int fd, void *data, size_t len)
{
	unsigned char *p = data;
	struct pollfd pfd = {.fd = fd, .events = POLLIN};
	ssize_t n;

	while (len > 0) {
		CHECK(poll(&pfd, 1, TIMEOUT_MS) == 1);
		n = read(fd, p, len);
		if (n == -1 && (errno == EAGAIN || errno == EINTR))
			continue;
		CHECK(n > 0);
		p += n;
		len -= (size_t)n;
	}
}

/* Hands a new browser socket to the worker and checks the 101. */
static void
browser_attach(struct worker *w, struct browser *b, int mode)
{
	static const char want[] = "HTTP/1.1 101 Switching Protocols\r\n"
	                           "Upgrade: websocket\r\n"
	                           "Connection: Upgrade\r\n"
	                           "Sec-WebSocket-Accept: " ACCEPT "\r\n"
	                           "\r\n";
	struct msg_attach a;
	char head[sizeof(want)];
	int sv[2];

	CHECK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == 0);
	memset(&a, 0, sizeof(a));
	snprintf(a.session, sizeof(a.session), "%s", SESSION);
	snprintf(a.key, sizeof(a.key), "%s", KEY);
	snprintf(a.owner, sizeof(a.owner), "tester");
	a.mode = mode;
	CHECK(msg_send_worker_browser_blocking(
	          w->chan, &session_id, sv[1], &a) == 0);
	close(sv[1]);
	memset(b, 0, sizeof(*b));
	b->fd = sv[0];
	read_exact(b->fd, head, sizeof(want) - 1);
	head[sizeof(want) - 1] = '\0';
	CHECK(strcmp(head, want) == 0);
}

static void
browser_close(struct browser *b)
{
	close(b->fd);
	free(b->buf);
	b->fd = -1;
	b->buf = NULL;
}

/* The client-side framer: one frame, masked unless told otherwise. */
static void
ws_send(struct browser *b, int first, int opcode, const void *data,
    uint64_t len, int masked, size_t send_len)
{
	const unsigned char *p = data;
	unsigned char hdr[14], mask[4] = {0x37, 0xfa, 0x21, 0x3d}, *out;
	size_t h = 0, i;

	hdr[h++] = (unsigned char)((first ? 0x80 : 0) | opcode);
	if (len < 126)
		hdr[h++] = (unsigned char)((masked ? 0x80 : 0) | len);
	else if (len < 65536) {
		hdr[h++] = (unsigned char)((masked ? 0x80 : 0) | 126);
		hdr[h++] = (unsigned char)(len >> 8);
		hdr[h++] = (unsigned char)len;
	} else {
		hdr[h++] = (unsigned char)((masked ? 0x80 : 0) | 127);
		for (i = 0; i < 8; i++)
			hdr[h++] = (unsigned char)(len >> (56 - 8 * i));
	}
	if (masked) {
		memcpy(hdr + h, mask, 4);
		h += 4;
	}
	out = malloc(h + send_len);
	CHECK(out != NULL);
	memcpy(out, hdr, h);
	for (i = 0; i < send_len; i++)
		out[h + i] = p[i] ^ (masked ? mask[i % 4] : 0);
	write_all(b->fd, out, h + send_len);
	free(out);
}

static void
ws_send_text(struct browser *b, const char *s)
{
	ws_send(b, 1, 1, s, strlen(s), 1, strlen(s));
}

static void
ws_send_binary(struct browser *b, const void *data, size_t len)
{
	ws_send(b, 1, 2, data, len, 1, len);
}

/* Reads one whole frame from the worker; -1 on timeout or EOF. */
static int
ws_recv(struct browser *b, struct frame *f, int timeout_ms)
{
	struct pollfd pfd = {.fd = b->fd, .events = POLLIN};
	uint64_t plen;
	size_t h;
	ssize_t n;

	for (;;) {
		if (b->len >= 2) {
			CHECK((b->buf[1] & 0x80) == 0); /* server: unmasked */
			CHECK((b->buf[0] & 0x80) != 0); /* no fragments */
			plen = b->buf[1] & 0x7f;
			h = 2;
			if (plen == 126 && b->len >= 4) {
				plen = (uint64_t)b->buf[2] << 8 | b->buf[3];
				h = 4;
			} else if (plen == 127 && b->len >= 10) {
				plen = 0;
				for (h = 2; h < 10; h++)
					plen = plen << 8 | b->buf[h];
			} else if (plen >= 126)
				plen = UINT64_MAX;
			if (plen != UINT64_MAX && b->len >= h + plen) {
				f->opcode = b->buf[0] & 0x0f;
				f->len = (size_t)plen;
				f->data = malloc(f->len + 1);
				CHECK(f->data != NULL);
				memcpy(f->data, b->buf + h, f->len);
				f->data[f->len] = '\0';
				memmove(b->buf, b->buf + h + plen,
				    b->len - h - plen);
				b->len -= h + plen;
				return 0;
			}
		}
		if (b->cap - b->len < 65536) {
			b->cap = b->cap ? b->cap * 2 : 262144;
			CHECK((b->buf = realloc(b->buf, b->cap)) != NULL);
		}
		if (poll(&pfd, 1, timeout_ms) != 1)
			return -1;
		n = read(b->fd, b->buf + b->len, b->cap - b->len);
		if (n == -1 && (errno == EAGAIN || errno == EINTR))
			continue;
		if (n <= 0)
			return -1;
		b->len += (size_t)n;
	}
}

/* Whether a frame is a viewers count the caller does not look for. */
static int
ws_skip(const struct frame *f, const char *want)
{
	if (f->opcode != 1 || strstr((char *)f->data, "\"viewers\"") == NULL)
		return 0;
	if (want != NULL && strstr(want, "\"viewers\"") != NULL)
		return 0;
	free(f->data);
	return 1;
}

/* The next text frame, skipping binary ones; it must be want. */
static void
ws_expect_text(struct browser *b, const char *want)
{
	struct frame f;

	for (;;) {
		CHECK(ws_recv(b, &f, TIMEOUT_MS) == 0);
		if (ws_skip(&f, want))
			continue;
		if (f.opcode == 2) {
			free(f.data);
			continue;
		}
		if (f.opcode != 1 || strcmp((char *)f.data, want) != 0)
			fprintf(stderr, "got opcode %d '%s', want '%s'\n",
			    f.opcode, f.data, want);
		CHECK(f.opcode == 1);
		CHECK(strcmp((char *)f.data, want) == 0);
		free(f.data);
		return;
	}
}

/* The next text frame must contain fragment. */
static void
ws_expect_text_has(struct browser *b, const char *fragment)
{
	struct frame f;

	do
		CHECK(ws_recv(b, &f, TIMEOUT_MS) == 0);
	while (ws_skip(&f, fragment));
	if (f.opcode != 1 || strstr((char *)f.data, fragment) == NULL)
		fprintf(stderr, "got opcode %d '%s', want '%s'\n", f.opcode,
		    f.data, fragment);
	CHECK(f.opcode == 1);
	CHECK(strstr((char *)f.data, fragment) != NULL);
	free(f.data);
}

/* Sends the text json; the answer must be a text that contains fragment. */
static void
ws_expect_refusal(struct browser *b, const char *json, const char *fragment)
{
	ws_send_text(b, json);
	ws_expect_text_has(b, fragment);
}

/* Sends a ping message; the answer must be a pong. */
static void
ws_ping(struct browser *b)
{
	ws_send_text(b, "{\"type\":\"ping\"}");
	ws_expect_text(b, "{\"type\":\"pong\"}");
}

/* Reads frames until a close; returns its status code. */
static int
ws_expect_close(struct browser *b)
{
	struct frame f;
	int status;

	for (;;) {
		CHECK(ws_recv(b, &f, TIMEOUT_MS) == 0);
		if (f.opcode == 8)
			break;
		free(f.data);
	}
	CHECK(f.len >= 2);
	status = f.data[0] << 8 | f.data[1];
	free(f.data);
	return status;
}

/* Collects len bytes of binary frames; text frames are not expected. */
static void
ws_expect_binary(struct browser *b, const void *want, size_t len)
{
	unsigned char *got = malloc(len + 1);
	struct frame f;
	size_t have = 0;

	CHECK(got != NULL);
	while (have < len) {
		CHECK(ws_recv(b, &f, TIMEOUT_MS) == 0);
		if (ws_skip(&f, NULL))
			continue;
		CHECK(f.opcode == 2);
		CHECK(have + f.len <= len);
		memcpy(got + have, f.data, f.len);
		have += f.len;
		free(f.data);
	}
	CHECK(memcmp(got, want, len) == 0);
	free(got);
}

/* The viewers message once a watcher joined the controller. */
#define VIEWERS_2                                                          \
	"{\"type\":\"viewers\",\"count\":2,\"who\":[{\"user\":\"tester\"," \
	"\"mode\":\"control\"},{\"user\":\"tester\",\"mode\":\"watch\"}]}"

static void
expect_hello(struct browser *b, const char *mode, int cols, int rows)
{
	char want[256];

	snprintf(want, sizeof(want),
	    "{\"type\":\"hello\",\"session\":\"%s\",\"mode\":\"%s\","
	    "\"user\":\"tester\",\"may_ask_control\":false,"
	    "\"cols\":%d,\"rows\":%d}",
	    SESSION, mode, cols, rows);
	ws_expect_text_has(b, want);
}

static void
test_protocol(void)
{
	static const char out1[] = "welcome\r\n$ ";
	struct browser ctl, watch, bad;
	struct msg_resize r;
	struct msg m;
	unsigned char all[256 + sizeof(out1)], in[3];
	char *big;
	size_t i;
	struct worker w;

	worker_start(&w, 0, 0, 0);
	browser_attach(&w, &ctl, ATTACH_CONTROL);
	expect_hello(&ctl, "control", 80, 24);
	ws_expect_text_has(&ctl,
	    "{\"type\":\"viewers\",\"count\":1,\"who\":[{\"user\":"
	    "\"tester\",\"mode\":\"control\"}]}");

	/* Output, byte-exact and in order, every byte value. */
	memcpy(all, out1, sizeof(out1) - 1);
	for (i = 0; i < 256; i++)
		all[sizeof(out1) - 1 + i] = (unsigned char)i;
	write_all(w.tty, all, sizeof(out1) - 1 + 256);
	ws_expect_binary(&ctl, all, sizeof(out1) - 1 + 256);

	/* Input reaches the container. */
	ws_send_binary(&ctl, "ls\n", 3);
	read_exact(w.tty, in, 3);
	CHECK(memcmp(in, "ls\n", 3) == 0);

	/* Resize goes to master; bad messages get errors, then a pong. */
	ws_send_text(&ctl, "{\"type\":\"resize\",\"cols\":132,\"rows\":43}");
	CHECK(worker_recv(&w, MSG_WORKER_RESIZE, &m, TIMEOUT_MS) == 0);
	CHECK(msg_get_worker_resize(&m, &r) == 0);
	CHECK(r.cols == 132 && r.rows == 43);
	CHECK(audits >= 1); /* the control browser's join */
	ws_expect_refusal(&ctl, "{\"type\":\"resize\",\"cols\":0,\"rows\":43}",
	    "{\"type\":\"error\",\"message\":\"resize: "
	    "cols and rows must be between 1 and 1000\"}");
	ws_expect_refusal(&ctl, "{\"type\":", "\"message\":\"invalid JSON");
	ws_expect_refusal(
	    &ctl, "{\"type\":\"launch\"}", "unknown message type");
	ws_ping(&ctl);

	/* A watcher: both see two viewers, it gets the screen so far. */
	browser_attach(&w, &watch, ATTACH_WATCH);
	ws_expect_text(&ctl, VIEWERS_2);
	expect_hello(&watch, "watch", 132, 43);
	ws_expect_binary(&watch, all, sizeof(out1) - 1 + 256);
	ws_expect_text(&watch, VIEWERS_2);
	ws_send_binary(&watch, "rm -rf /\n", 9);
	ws_expect_text(&watch,
	    "{\"type\":\"error\",\"message\":\"this is a "
	    "watch-only connection: input is refused\"}");
	ws_expect_refusal(&watch,
	    "{\"type\":\"resize\",\"cols\":10,\"rows\":10}", "watch-only");
	ws_ping(&watch);

	/* Violations close only the offender, with the right status. */
	browser_attach(&w, &bad, ATTACH_CONTROL);
	ws_send(&bad, 1, 2, "x", 1, 0, 1); /* unmasked */
	CHECK(ws_expect_close(&bad) == 1002);
	browser_close(&bad);
	browser_attach(&w, &bad, ATTACH_CONTROL);
	ws_send(&bad, 1, 3, "x", 1, 1, 1); /* reserved opcode */
	CHECK(ws_expect_close(&bad) == 1002);
	browser_close(&bad);
	browser_attach(&w, &bad, ATTACH_CONTROL);
	big = calloc(1, 65536);
	CHECK(big != NULL);
	ws_send(&bad, 1, 2, big, 16 << 20, 1, 65536); /* says 16 MiB */
	free(big);
	CHECK(ws_expect_close(&bad) == 1009);
	browser_close(&bad);

	/* The others still work. */
	ws_ping(&ctl);
	write_all(w.tty, "ok", 2);
	ws_expect_binary(&watch, "ok", 2);

	/* The end: exit code, close 1000, the worker leaves with 0. */
	CHECK(msg_send_worker_exited_blocking(
	          w.chan, &session_id, &(struct msg_exit){.code = 3}) == 0);
	ws_expect_text(&ctl, "{\"type\":\"exit\",\"code\":3}");
	CHECK(ws_expect_close(&ctl) == 1000);
	ws_expect_text(&watch, "{\"type\":\"exit\",\"code\":3}");
	CHECK(ws_expect_close(&watch) == 1000);
	browser_close(&ctl);
	browser_close(&watch);
	{
		int status;
		long long end = now_ms() + TIMEOUT_MS;
		pid_t p;

		while ((p = waitpid(w.pid, &status, WNOHANG)) == 0 &&
		    now_ms() < end)
			usleep(10000);
		CHECK(p == w.pid);
		CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	}
	close(w.chan);
	close(w.tty);
	fprintf(stderr, "ok protocol\n");
}

static unsigned char
pattern(uint64_t i)
{
	return (unsigned char)(i * 131 + (i >> 13));
}

static void
test_slow_browser(void)
{
	const uint64_t total = 50ull << 20;
	const uint64_t window = 512 << 10;
	unsigned char chunk[32768];
	struct browser slow, fast;
	struct frame f;
	struct pollfd pfd[2];
	uint64_t sent = 0, got = 0, i;
	long rss, max_rss = 0;
	int resync = 0;
	struct worker w;

	worker_start(&w, 0, 0, 0);
	browser_attach(&w, &slow, ATTACH_CONTROL);
	browser_attach(&w, &fast, ATTACH_WATCH);
	expect_hello(&fast, "watch", 80, 24);
	CHECK(fcntl(w.tty, F_SETFL, O_NONBLOCK) == 0);

	/* The fast browser keeps up; the slow one reads nothing. */
	while (got < total) {
		pfd[0].fd = w.tty;
		pfd[0].events =
		    sent < total && sent - got < window ? POLLOUT : 0;
		pfd[1].fd = fast.fd;
		pfd[1].events = POLLIN;
		CHECK(poll(pfd, 2, TIMEOUT_MS) > 0);
		if (pfd[0].revents & POLLOUT) {
			size_t n = sizeof(chunk);
			ssize_t k;

			if (n > total - sent)
				n = (size_t)(total - sent);
			for (i = 0; i < n; i++)
				chunk[i] = pattern(sent + i);
			k = write(w.tty, chunk, n);
			CHECK(k > 0 || errno == EAGAIN);
			if (k > 0)
				sent += (uint64_t)k;
		}
		if (pfd[1].revents & POLLIN) {
			while (got < total && ws_recv(&fast, &f, 0) == 0) {
				if (f.opcode == 2) {
					for (i = 0; i < f.len; i++)
						if (f.data[i] !=
						    pattern(got + i)) {
							fprintf(stderr,
							    "byte %llu differs\n",
							    (unsigned long long)(got +
							        i));
							CHECK(0);
						}
					got += f.len;
				}
				free(f.data);
			}
		}
		if ((sent & ((4 << 20) - 1)) < sizeof(chunk) &&
		    (rss = worker_rss_kb(&w)) > max_rss)
			max_rss = rss;
	}
	rss = worker_rss_kb(&w);
	if (rss > max_rss)
		max_rss = rss;
	fprintf(stderr, "slow browser: 50 MiB through, worker RSS max %ld kB\n",
	    max_rss);
	CHECK(got == total);
	CHECK(max_rss > 0 && max_rss < 64 * 1024);

	/* The slow one reads again: a resync, then a cleared screen. */
	for (;;) {
		CHECK(ws_recv(&slow, &f, TIMEOUT_MS) == 0);
		if (f.opcode == 1 &&
		    strcmp((char *)f.data, "{\"type\":\"resync\"}") == 0)
			resync = 1;
		else if (resync) {
			CHECK(f.opcode == 2);
			CHECK(f.len >= 10);
			CHECK(memcmp(f.data, "\x1b[H\x1b[2J\x1b[3J", 10) == 0);
			free(f.data);
			break;
		}
		free(f.data);
	}
	/* ... and then the rest of the screen and live output. */
	write_all(w.tty, "LIVE", 4);
	{
		size_t seen = 0;
		char tail[4];

		while (seen < 4 || memcmp(tail, "LIVE", 4) != 0) {
			CHECK(ws_recv(&slow, &f, TIMEOUT_MS) == 0);
			CHECK(f.opcode == 2);
			for (i = 0; i < f.len; i++) {
				memmove(tail, tail + 1, 3);
				tail[3] = (char)f.data[i];
				seen++;
			}
			free(f.data);
		}
	}
	worker_exit(&w, 0);
	browser_close(&slow);
	browser_close(&fast);
	fprintf(stderr, "ok slow browser\n");
}

static void
test_idle(void)
{
	struct browser b;
	struct msg_end e;
	struct msg m;
	struct frame f;
	char *text = NULL;
	size_t len = 0;
	struct worker w;

	worker_start(&w, 2, 0, 0);
	browser_attach(&w, &b, ATTACH_CONTROL);
	expect_hello(&b, "control", 80, 24);
	while (text == NULL || strstr(text, "this session ends in") == NULL) {
		CHECK(ws_recv(&b, &f, TIMEOUT_MS) == 0);
		if (f.opcode == 2) {
			text = realloc(text, len + f.len + 1);
			CHECK(text != NULL);
			memcpy(text + len, f.data, f.len);
			len += f.len;
			text[len] = '\0';
		}
		free(f.data);
	}
	CHECK(strstr(text, "[alia] this session ends in") != NULL);
	CHECK(strstr(text, "idle") != NULL);
	free(text);
	CHECK(worker_recv(&w, MSG_WORKER_END, &m, TIMEOUT_MS) == 0);
	CHECK(msg_get_worker_end(&m, &e) == 0);
	CHECK(strcmp(e.reason, "idle") == 0);
	worker_exit(&w, 137);
	browser_close(&b);
	fprintf(stderr, "ok idle\n");
}

static void
test_abandoned(void)
{
	struct browser b;
	struct msg_end e;
	struct msg m;
	struct worker w;
	long long t;

	worker_start(&w, 0, 0, 1);
	browser_attach(&w, &b, ATTACH_CONTROL);
	expect_hello(&b, "control", 80, 24);
	usleep(1500 * 1000);
	browser_close(&b); /* attached past the grace: nothing ended yet */
	t = now_ms();
	CHECK(worker_recv(&w, MSG_WORKER_END, &m, TIMEOUT_MS) == 0);
	CHECK(msg_get_worker_end(&m, &e) == 0);
	CHECK(strcmp(e.reason, "abandoned") == 0);
	CHECK(now_ms() - t >= 700);
	worker_exit(&w, 137);
	fprintf(stderr, "ok abandoned\n");
}

int
main(void)
{
	signal(SIGPIPE, SIG_IGN);
	CHECK(uuid_parse(SESSION, &session_id) == 0);
	test_protocol();
	test_slow_browser();
	test_idle();
	test_abandoned();
	return 0;
}
