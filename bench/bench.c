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
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bench/common.h"
#include "tests/lib/wsclient.h"

#define PROMPT   "learner@alia:~$ "
#define KEYS     1000 /* p99: the 10th slowest, not the 2nd */
#define LINE     40   /* keys to a line, then ^U and IDLE_MS of silence */
#define IDLE_MS  100  /* a pause as between a person's keystrokes */
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

/*
 * Echo: p50 and p99 over every key (issue 11's measure) and over the two
 * kinds of key apart. Most keys go back to back, each sent as the last
 * one's echo arrives; one in LINE (the first of each line) comes after
 * IDLE_MS of silence, as a person's keys come. On a machine whose idle
 * CPUs sleep, waking every process on the path costs far more after a
 * pause, and the 1 % of slowest keys are those: p99 over every key is
 * the latency of a key after a pause, and alia's path has one process
 * more than the raw stream (its worker).
 */
struct result {
	double startup_ms, tput_mbs, p50_us, p99_us;
	double busy_p50_us, busy_p99_us, idle_p50_us, idle_p90_us;
};

static int port;
static size_t tput_bytes = 100000000;
static long settle_ms = 2000; /* after the prompt, before the keystrokes */

static int
raw_open(struct sess *s)
{
	memset(s, 0, sizeof(*s));
	s->kind = RAW;
	return common_raw_open(&s->w, s->id, sizeof(s->id));
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
		common_raw_remove(s->id);
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
	static double lat[KEYS], busy[KEYS], idle[KEYS];
	struct wsc_agent a;
	struct sess s;
	unsigned char buf[4096];
	char cmd[256], c;
	long t0, t1;
	size_t bytes;
	ssize_t n;
	int i, nbusy = 0, nidle = 0, typed = 0, rv = -1;

	wsc_agent_init(&a, port);
	t0 = wsc_now_us();
	if (sess_open(&s, k, &a) == -1)
		goto out;
	if (sess_wait(&s, "$ ", 30000, NULL) == -1) {
		fprintf(stderr, "bench: no prompt\n");
		goto out;
	}
	res->startup_ms = (wsc_now_us() - t0) / 1000.0;
	/*
	 * The session settles first, as one a learner types in does: with
	 * the pool, taking a container starts its replacement (docker create
	 * and start, a worker forked), whose few hundred ms of CPU would be
	 * counted in the first keystrokes' echo otherwise.
	 */
	t1 = wsc_now_us() + settle_ms * 1000L;
	while (wsc_now_us() < t1)
		(void)sess_read(&s, buf, sizeof(buf), 50);

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
		/* The first key comes after the settling, others after ^U. */
		if (typed == 0)
			idle[nidle++] = lat[i];
		else
			busy[nbusy++] = lat[i];
		if (++typed == LINE) {
			/* Abandon the line (^U) before it wraps. */
			sess_write(&s, "\x15", 1);
			while (sess_read(&s, buf, sizeof(buf), IDLE_MS) > 0)
				;
			typed = 0;
		}
	}
	sess_write(&s, "\x15", 1);
	while (sess_read(&s, buf, sizeof(buf), 200) > 0)
		;
	res->p50_us = common_percentile(lat, KEYS, 0.50);
	res->p99_us = common_percentile(lat, KEYS, 0.99);
	res->busy_p50_us = common_percentile(busy, nbusy, 0.50);
	res->busy_p99_us = common_percentile(busy, nbusy, 0.99);
	res->idle_p50_us = common_percentile(idle, nidle, 0.50);
	res->idle_p90_us = common_percentile(idle, nidle, 0.90);

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
	double v[2][8][MAX_REPS], m[2][8];
	const char *p;
	int reps = 3, rep, k, j, ch, raw_only = 0;

	signal(SIGPIPE, SIG_IGN);
	while ((ch = getopt(argc, argv, "n:b:s:R")) != -1) {
		switch (ch) {
		case 'n':
			reps = atoi(optarg);
			break;
		case 'b':
			tput_bytes = strtoul(optarg, NULL, 10);
			break;
		case 's':
			settle_ms = atol(optarg);
			break;
		case 'R':
			raw_only = 1;
			break;
		default:
			fprintf(stderr,
			    "usage: alia-bench [-R] [-n reps] "
			    "[-b throughput-bytes] [-s settle-ms]\n");
			return 2;
		}
	}
	if (reps < 1 || reps > MAX_REPS || tput_bytes == 0 || settle_ms < 0) {
		fprintf(stderr, "alia-bench: -n 1..%d, -b > 0, -s >= 0\n",
		    MAX_REPS);
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
	common_docker_env();

	for (rep = 0; rep < reps; rep++) {
		for (k = 0; k < 2; k++) {
			/* Alternate the order so neither always goes first. */
			enum kind kind = (rep + k) % 2 ? RAW : ALIA;

			if (raw_only && kind == ALIA) {
				memset(
				    &res[ALIA][rep], 0, sizeof(res[ALIA][rep]));
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
			v[k][4][rep] = res[k][rep].busy_p50_us / 1000;
			v[k][5][rep] = res[k][rep].busy_p99_us / 1000;
			v[k][6][rep] = res[k][rep].idle_p50_us / 1000;
			v[k][7][rep] = res[k][rep].idle_p90_us / 1000;
		}
		for (j = 0; j < 8; j++)
			m[k][j] = common_median(v[k][j], reps);
	}
	printf("\nalia vs raw Docker attach: medians of %d runs; %d "
	       "keystrokes per run (one in %d after a %d ms pause), %zu "
	       "bytes of output\n\n",
	    reps, KEYS, LINE, IDLE_MS, tput_bytes);
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
	row("echo p50, keys back to back", "ms", m[ALIA][4], m[RAW][4],
	    "alia/raw", m[RAW][4] > 0 ? m[ALIA][4] / m[RAW][4] : 0);
	row("echo p99, keys back to back", "ms", m[ALIA][5], m[RAW][5],
	    "alia/raw", m[RAW][5] > 0 ? m[ALIA][5] / m[RAW][5] : 0);
	row("echo p50, key after a pause", "ms", m[ALIA][6], m[RAW][6],
	    "alia/raw", m[RAW][6] > 0 ? m[ALIA][6] / m[RAW][6] : 0);
	row("echo p90, key after a pause", "ms", m[ALIA][7], m[RAW][7],
	    "alia/raw", m[RAW][7] > 0 ? m[ALIA][7] / m[RAW][7] : 0);
	row("creation to first prompt", "ms", m[ALIA][3], m[RAW][3], "alia/raw",
	    m[RAW][3] > 0 ? m[ALIA][3] / m[RAW][3] : 0);
	printf("\nthroughput: higher is better (ratio < 1: alia is slower); "
	       "times: lower is better (ratio > 1: alia is slower)\n");
	return 0;
}
