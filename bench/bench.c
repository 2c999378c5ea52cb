/* SPDX-License-Identifier: ISC */
/*
 * alia-bench: how much a terminal through alia costs against the raw
 * Docker attach stream it is built on. In one run it opens sessions both
 * ways — alia's (POST /api/sessions, then the websocket) and its own
 * (create with the same hardened body, attach with Upgrade: tcp, start, on
 * /var/run/docker.sock) — and measures on each the time from creation to
 * the first prompt byte, keystroke echo latency, and output throughput.
 * Each measurement is repeated and the medians are printed as a table with
 * the ratio alia / raw. Run it through with-server.sh (it reads ALIA_PORT);
 * script/bench does all of that.
 */
#include <sys/types.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bench/common.h"
#include "tests/lib/wsclient.h"

#define PROMPT   "learner@alia:~$ "
#define KEYS     200
#define MAX_REPS 15

enum kind {
	ALIA,
	RAW,
};

/* One terminal, either way; output bytes are read through sess_read(). */
struct sess {
	enum kind kind;
	struct wsc w;        /* alia: the websocket; raw: the attach stream */
	char id[80];         /* alia session id or Docker container id */
	unsigned char *pend; /* alia: output of a message not yet returned */
	size_t pendlen, pendoff;
	int resyncs;
};

struct result {
	double startup_ms, tput_mbs, p50_us, p99_us;
};

static int port;
static const char *docker_sock = "/var/run/docker.sock";
static const char *image = "alia-sandbox:latest";
static const char *node = "bench";
static size_t tput_bytes = 100000000;

static int
docker_connect(void)
{
	struct sockaddr_un sun;
	int fd;

	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1)
		return -1;
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", docker_sock);
	if (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) == -1 ||
	    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK) == -1) {
		close(fd);
		return -1;
	}
	return fd;
}

/*
 * Sends one request to the Docker daemon on w (a fresh connection when
 * w->fd is -1) and reads the answer into r; the status, or -1.
 */
static int
docker_call(struct wsc *w, const char *method, const char *path,
    const char *body, const char *extra, struct wsc_response *r)
{
	char *req;
	size_t len, blen = body != NULL ? strlen(body) : 0;
	int fd;

	memset(r, 0, sizeof(*r));
	if (w->fd == -1) {
		if ((fd = docker_connect()) == -1) {
			perror(docker_sock);
			return -1;
		}
		wsc_init(w, fd);
	}
	len = 512 + strlen(path) + blen;
	if ((req = malloc(len)) == NULL)
		abort();
	snprintf(req, len,
	    "%s /v1.41%s HTTP/1.1\r\nHost: docker\r\n%s%s"
	    "Content-Length: %zu\r\n\r\n%s",
	    method, path,
	    body != NULL ? "Content-Type: application/json\r\n" : "",
	    extra != NULL ? extra : "", blen, body != NULL ? body : "");
	if (wsc_send_raw(w, req, strlen(req)) == -1 ||
	    wsc_read_response(w, r, 30000) == -1) {
		free(req);
		return -1;
	}
	free(req);
	return r->status;
}

/* Creates, attaches to and starts a hardened container like alia's. */
static int
raw_open(struct sess *s)
{
	struct wsc ctl;
	struct wsc_response r;
	char path[256], body[2048], name[64];
	unsigned int rnd;
	int status;

	memset(s, 0, sizeof(*s));
	s->kind = RAW;
	wsc_init(&s->w, -1);
	wsc_init(&ctl, -1);
	if (getrandom(&rnd, sizeof(rnd), 0) != sizeof(rnd))
		abort();
	snprintf(name, sizeof(name), "alia-bench-%08x", rnd);
	snprintf(body, sizeof(body),
	    "{\"Image\":\"%s\",\"Cmd\":[\"/bin/sh\"],\"Tty\":true,"
	    "\"OpenStdin\":true,\"StdinOnce\":false,\"AttachStdin\":true,"
	    "\"AttachStdout\":true,\"AttachStderr\":true,"
	    "\"Env\":[\"TERM=xterm-256color\",\"HOME=/home/learner\"],"
	    "\"WorkingDir\":\"/home/learner\",\"User\":\"1000:1000\","
	    "\"Hostname\":\"alia\","
	    "\"Labels\":{\"io.alia.session\":\"%s\",\"io.alia.owner\":\"%s\"},"
	    "\"HostConfig\":{\"Memory\":268435456,\"MemorySwap\":268435456,"
	    "\"NanoCpus\":500000000,\"PidsLimit\":128,\"NetworkMode\":\"none\","
	    "\"ReadonlyRootfs\":true,"
	    "\"Tmpfs\":{\"/tmp\":\"rw,exec,nosuid,nodev,size=64m,mode=1777\","
	    "\"/home/learner\":\"rw,exec,nosuid,nodev,size=64m,uid=1000\"},"
	    "\"CapDrop\":[\"ALL\"],\"SecurityOpt\":[\"no-new-privileges\"],"
	    "\"AutoRemove\":false,\"Init\":true,"
	    "\"Ulimits\":[{\"Name\":\"nofile\",\"Soft\":1024,\"Hard\":1024}],"
	    "\"LogConfig\":{\"Type\":\"json-file\",\"Config\":"
	    "{\"max-size\":\"1m\",\"max-file\":\"1\"}}}}",
	    image, name, node);
	snprintf(path, sizeof(path), "/containers/create?name=%s", name);
	status = docker_call(&ctl, "POST", path, body, NULL, &r);
	if (status != 201 ||
	    wsc_json_get(r.body, "Id", s->id, sizeof(s->id)) == -1) {
		fprintf(stderr, "bench: create: %d %s\n", status,
		    r.body ? r.body : "");
		goto fail;
	}
	wsc_response_free(&r);
	snprintf(path, sizeof(path),
	    "/containers/%s/attach?stream=1&stdin=1&stdout=1&stderr=1"
	    "&detachKeys=ctrl-%%5E,ctrl-%%5E",
	    s->id);
	status = docker_call(&s->w, "POST", path, NULL,
	    "Connection: Upgrade\r\nUpgrade: tcp\r\n", &r);
	if (status != 101) {
		fprintf(stderr, "bench: attach: %d\n", status);
		goto fail;
	}
	wsc_response_free(&r);
	snprintf(path, sizeof(path), "/containers/%s/start", s->id);
	status = docker_call(&ctl, "POST", path, NULL, NULL, &r);
	if (status != 204) {
		fprintf(stderr, "bench: start: %d\n", status);
		goto fail;
	}
	wsc_response_free(&r);
	wsc_free(&ctl);
	return 0;
fail:
	wsc_response_free(&r);
	wsc_free(&ctl);
	return -1;
}

static void
raw_remove(const char *id)
{
	struct wsc ctl;
	struct wsc_response r;
	char path[160];

	if (id[0] == '\0')
		return;
	wsc_init(&ctl, -1);
	snprintf(path, sizeof(path), "/containers/%s?force=1", id);
	docker_call(&ctl, "DELETE", path, NULL, NULL, &r);
	wsc_response_free(&r);
	wsc_free(&ctl);
}

static int
alia_open(struct sess *s, struct wsc_agent *a)
{
	struct wsc_msg m;
	char ws[160];

	memset(s, 0, sizeof(*s));
	s->kind = ALIA;
	wsc_init(&s->w, -1);
	if (common_session_create(a, s->id, sizeof(s->id), ws, sizeof(ws)) !=
	    201)
		return -1;
	if (wsc_open(&s->w, a, ws) == -1) {
		fprintf(stderr, "bench: websocket: %d\n", s->w.resp.status);
		return -1;
	}
	if (wsc_recv(&s->w, &m, 10000) != 1 || m.op != WSC_OP_TEXT) {
		fprintf(stderr, "bench: no hello\n");
		return -1;
	}
	return 0;
}

static void
sess_close(struct sess *s, struct wsc_agent *a)
{
	if (s->kind == ALIA && s->id[0] != '\0')
		(void)common_session_delete(a, s->id);
	wsc_free(&s->w);
	if (s->kind == RAW)
		raw_remove(s->id);
	free(s->pend);
	s->pend = NULL;
}

static int
sess_write(struct sess *s, const char *p, size_t n)
{
	if (s->kind == ALIA)
		return wsc_send_binary(&s->w, p, n);
	return wsc_send_raw(&s->w, p, n);
}

/* Up to cap output bytes, waiting up to timeout_ms; 0 on timeout, -1. */
static ssize_t
sess_read(struct sess *s, unsigned char *buf, size_t cap, int timeout_ms)
{
	struct wsc_msg m;
	char type[32];
	size_t n;
	int rv;

	if (s->kind == RAW) {
		struct pollfd pfd = {s->w.fd, POLLIN, 0};
		ssize_t r;

		for (;;) {
			if ((r = read(s->w.fd, buf, cap)) > 0)
				return r;
			if (r == 0)
				return -1;
			if (errno == EINTR)
				continue;
			if (errno != EAGAIN)
				return -1;
			if ((rv = poll(&pfd, 1, timeout_ms)) <= 0)
				return rv;
			timeout_ms = 0;
		}
	}
	while (s->pendoff == s->pendlen) {
		if ((rv = wsc_recv(&s->w, &m, timeout_ms)) <= 0)
			return rv;
		if (m.op == WSC_OP_CLOSE)
			return -1;
		if (m.op == WSC_OP_TEXT) {
			if (wsc_json_get((char *)m.data, "type", type,
			        sizeof(type)) == 0 &&
			    strcmp(type, "resync") == 0)
				s->resyncs++;
			continue;
		}
		if (m.op != WSC_OP_BINARY)
			continue;
		free(s->pend);
		if ((s->pend = malloc(m.len + 1)) == NULL)
			abort();
		memcpy(s->pend, m.data, m.len);
		s->pendlen = m.len;
		s->pendoff = 0;
	}
	n = s->pendlen - s->pendoff;
	if (n > cap)
		n = cap;
	memcpy(buf, s->pend + s->pendoff, n);
	s->pendoff += n;
	return (ssize_t)n;
}

/*
 * Reads until needle has arrived, keeping a tail to match across reads;
 * counts the bytes read. 0, or -1 on timeout or end.
 */
static int
sess_wait(struct sess *s, const char *needle, int timeout_ms, size_t *count)
{
	static unsigned char buf[1 << 20];
	char tail[256];
	size_t tl = 0, nl = strlen(needle), keep;
	long deadline = wsc_now_us() / 1000 + timeout_ms;
	ssize_t n;
	char *scan;

	if (count != NULL)
		*count = 0;
	for (;;) {
		long left = deadline - wsc_now_us() / 1000;

		if (left <= 0)
			return -1;
		if ((n = sess_read(s, buf, sizeof(buf), (int)left)) <= 0) {
			if (n == -1)
				return -1;
			continue;
		}
		if (count != NULL)
			*count += (size_t)n;
		/* Search the old tail joined with the head of the new bytes. */
		if ((scan = malloc(tl + (size_t)n)) == NULL)
			abort();
		memcpy(scan, tail, tl);
		memcpy(scan + tl, buf, (size_t)n);
		if (memmem(scan, tl + (size_t)n, needle, nl) != NULL) {
			free(scan);
			return 0;
		}
		keep = tl + (size_t)n < nl ? tl + (size_t)n : nl;
		memcpy(tail, scan + tl + (size_t)n - keep, keep);
		tl = keep;
		free(scan);
	}
}

static int
sess_open(struct sess *s, enum kind k, struct wsc_agent *a)
{
	return k == ALIA ? alia_open(s, a) : raw_open(s);
}

/* One repetition of every measurement on a fresh session of kind k. */
static int
bench_one(enum kind k, struct result *res)
{
	static double lat[KEYS];
	struct wsc_agent a;
	struct sess s;
	unsigned char buf[4096];
	char cmd[256], c;
	long t0, t1;
	size_t bytes;
	ssize_t n;
	int i, typed = 0, rv = -1;

	wsc_agent_init(&a, port);
	t0 = wsc_now_us();
	if (sess_open(&s, k, &a) == -1)
		goto out;
	if (sess_wait(&s, "$ ", 30000, NULL) == -1) {
		fprintf(stderr, "bench: no prompt\n");
		goto out;
	}
	res->startup_ms = (wsc_now_us() - t0) / 1000.0;

	/* Keystrokes: one character, then wait for its echo. */
	for (i = 0; i < KEYS; i++) {
		c = (char)('a' + i % 26);
		t0 = wsc_now_us();
		if (sess_write(&s, &c, 1) == -1)
			goto out;
		for (;;) {
			if ((n = sess_read(&s, buf, sizeof(buf), 5000)) <= 0) {
				fprintf(stderr, "bench: no echo of '%c'\n", c);
				goto out;
			}
			if (memchr(buf, c, (size_t)n) != NULL)
				break;
		}
		lat[i] = (double)(wsc_now_us() - t0);
		if (++typed == 40) {
			/* Abandon the line (^U) before it wraps. */
			sess_write(&s, "\x15", 1);
			while (sess_read(&s, buf, sizeof(buf), 100) > 0)
				;
			typed = 0;
		}
	}
	sess_write(&s, "\x15", 1);
	while (sess_read(&s, buf, sizeof(buf), 200) > 0)
		;
	res->p50_us = common_percentile(lat, KEYS, 0.50);
	res->p99_us = common_percentile(lat, KEYS, 0.99);

	/* Throughput: from the end of the command's echo to its marker. */
	/* Short enough not to wrap after the prompt at 80 columns. */
	snprintf(cmd, sizeof(cmd),
	    "head -c %zu /dev/zero|tr '\\0' x;echo;echo tp$((1+1))e\r",
	    tput_bytes);
	if (sess_write(&s, cmd, strlen(cmd)) == -1 ||
	    sess_wait(&s, "1))e\r\n", 10000, NULL) == -1) {
		fprintf(stderr, "bench: no echo of the command\n");
		goto out;
	}
	t0 = wsc_now_us();
	if (sess_wait(&s, "tp2e", 300000, &bytes) == -1) {
		fprintf(stderr, "bench: throughput run did not end\n");
		goto out;
	}
	t1 = wsc_now_us();
	res->tput_mbs = bytes / ((t1 - t0) / 1e6) / 1e6;
	if (bytes < tput_bytes)
		fprintf(stderr,
		    "bench: %s received %zu of %zu bytes "
		    "(%d resyncs)\n",
		    k == ALIA ? "alia" : "raw", bytes, tput_bytes, s.resyncs);
	rv = 0;
out:
	sess_close(&s, &a);
	return rv;
}

static void
row(const char *metric, const char *unit, double alia, double raw,
    const char *ratio_name, double ratio)
{
	char a[32], r[32], q[32];

	snprintf(a, sizeof(a), "%.2f %s", alia, unit);
	snprintf(r, sizeof(r), "%.2f %s", raw, unit);
	snprintf(q, sizeof(q), "%.2fx", ratio);
	printf("| %-28s | %14s | %14s | %7s %-10s |\n", metric, a, r, q,
	    ratio_name);
}

int
main(int argc, char **argv)
{
	struct result res[2][MAX_REPS];
	double v[2][4][MAX_REPS], m[2][4];
	const char *p;
	int reps = 3, rep, k, j, ch, raw_only = 0;

	signal(SIGPIPE, SIG_IGN);
	while ((ch = getopt(argc, argv, "n:b:R")) != -1) {
		switch (ch) {
		case 'n':
			reps = atoi(optarg);
			break;
		case 'b':
			tput_bytes = strtoul(optarg, NULL, 10);
			break;
		case 'R':
			raw_only = 1;
			break;
		default:
			fprintf(stderr,
			    "usage: alia-bench [-R] [-n reps] "
			    "[-b throughput-bytes]\n");
			return 2;
		}
	}
	if (reps < 1 || reps > MAX_REPS || tput_bytes == 0) {
		fprintf(stderr, "alia-bench: -n 1..%d, -b > 0\n", MAX_REPS);
		return 2;
	}
	if (!raw_only &&
	    ((p = getenv("ALIA_PORT")) == NULL || (port = atoi(p)) <= 0)) {
		fprintf(stderr,
		    "alia-bench: set ALIA_PORT (run it through "
		    "tests/integration/with-server.sh or "
		    "script/bench)\n");
		return 2;
	}
	if ((p = getenv("DOCKER_HOST")) != NULL &&
	    strncmp(p, "unix://", 7) == 0)
		docker_sock = p + 7;
	if ((p = getenv("ALIA_IMAGE")) != NULL && *p != '\0')
		image = p;
	if ((p = getenv("ALIA_NODE")) != NULL && *p != '\0')
		node = p;

	for (rep = 0; rep < reps; rep++) {
		for (k = 0; k < 2; k++) {
			/* Alternate the order so neither always goes first. */
			enum kind kind = (rep + k) % 2 ? RAW : ALIA;

			if (raw_only && kind == ALIA) {
				res[ALIA][rep] = (struct result){0, 0, 0, 0};
				continue;
			}

			if (bench_one(kind, &res[kind][rep]) == -1) {
				fprintf(stderr,
				    "alia-bench: %s run %d "
				    "failed\n",
				    kind == ALIA ? "alia" : "raw docker",
				    rep + 1);
				return 1;
			}
			fprintf(stderr,
			    "run %d %-10s: first prompt %.1f ms, echo p50 "
			    "%.0f us p99 %.0f us, %.1f MB/s\n",
			    rep + 1, kind == ALIA ? "alia" : "raw docker",
			    res[kind][rep].startup_ms, res[kind][rep].p50_us,
			    res[kind][rep].p99_us, res[kind][rep].tput_mbs);
		}
	}
	for (k = 0; k < 2; k++) {
		for (rep = 0; rep < reps; rep++) {
			v[k][0][rep] = res[k][rep].tput_mbs;
			v[k][1][rep] = res[k][rep].p50_us / 1000;
			v[k][2][rep] = res[k][rep].p99_us / 1000;
			v[k][3][rep] = res[k][rep].startup_ms;
		}
		for (j = 0; j < 4; j++)
			m[k][j] = common_median(v[k][j], reps);
	}
	printf("\nalia vs raw Docker attach: medians of %d runs; %d "
	       "keystrokes per run, %zu bytes of output\n\n",
	    reps, KEYS, tput_bytes);
	printf("| %-28s | %14s | %14s | %-18s |\n", "metric", "alia",
	    "raw docker", "ratio");
	printf("|------------------------------|----------------|------------"
	       "----|--------------------|\n");
	row("output throughput", "MB/s", m[ALIA][0], m[RAW][0], "alia/raw",
	    m[RAW][0] > 0 ? m[ALIA][0] / m[RAW][0] : 0);
	row("keystroke echo p50", "ms", m[ALIA][1], m[RAW][1], "alia/raw",
	    m[RAW][1] > 0 ? m[ALIA][1] / m[RAW][1] : 0);
	row("keystroke echo p99", "ms", m[ALIA][2], m[RAW][2], "alia/raw",
	    m[RAW][2] > 0 ? m[ALIA][2] / m[RAW][2] : 0);
	row("creation to first prompt", "ms", m[ALIA][3], m[RAW][3], "alia/raw",
	    m[RAW][3] > 0 ? m[ALIA][3] / m[RAW][3] : 0);
	printf("\nthroughput: higher is better (ratio < 1: alia is slower); "
	       "times: lower is better (ratio > 1: alia is slower)\n");
	return 0;
}
