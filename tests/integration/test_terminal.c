/* SPDX-License-Identifier: ISC */
/*
 * The end-to-end acceptance test of a terminal session, run by
 * with-server.sh against the real alia binary, its embedded PostgreSQL and
 * the real Docker daemon: create a session over the JSON API, type into
 * its websocket, and check what comes back, what Docker and the database
 * say, and how the server bears reconnects, a killed worker, twenty
 * sessions at once, a million lines, a reader that stops reading and a
 * list of malformed requests and frames. Every check prints what it
 * measured; any failed check makes the program exit 1.
 */
#include <sys/types.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "tests/lib/wsclient.h"

#define PROMPT      "learner@alia:~$ " /* as seen, colours removed */
#define NCONCURRENT 20
/*
 * alia's memory must stay bounded through a flood; under AddressSanitizer
 * every allocation carries redzones and freed memory sits in quarantine
 * (16 MiB a process here), so the same bound is scaled by 2.
 */
#if defined(__SANITIZE_ADDRESS__)
#define RSS_BOUND_KIB (512 * 1024)
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define RSS_BOUND_KIB (512 * 1024)
#endif
#endif
#ifndef RSS_BOUND_KIB
#define RSS_BOUND_KIB (256 * 1024)
#endif
#define MAX_PIDS 4096

/* One terminal websocket and everything that came out of it. */
struct term {
	struct wsc ws;
	char id[64];
	char *out; /* binary output, NUL-terminated */
	size_t outlen, outcap;
	size_t total; /* output bytes ever received, discarded included */
	int hello;
	int exited, exit_code;
	int errors; /* {"type":"error"} messages */
	char lasterr[256];
	int resyncs, pongs, viewers;
	int closed, close_code;
	size_t close_len; /* payload bytes of the close frame */
	int eof;
};

static int failures;
static int port;
static const char *alia_bin;
static pid_t server_pid;
static char alia_exe[PATH_MAX], worker_exe[PATH_MAX];
static long peak_rss_kib;

static void
ok(const char *fmt, ...)
{
	va_list ap;

	printf("ok - ");
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	fflush(stdout);
}

static void
not_ok(const char *fmt, ...)
{
	va_list ap;

	failures++;
	printf("not ok - ");
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	fflush(stdout);
}

#define CHECK(cond, ...)                     \
	do {                                 \
		if (cond)                    \
			ok(__VA_ARGS__);     \
		else                         \
			not_ok(__VA_ARGS__); \
	} while (0)

static long
now_ms(void)
{
	return wsc_now_us() / 1000;
}

static void
sleep_ms(long ms)
{
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000};

	while (nanosleep(&ts, &ts) == -1 && errno == EINTR)
		;
}

static unsigned int
rnd(void)
{
	unsigned int r;

	if (getrandom(&r, sizeof(r), 0) != sizeof(r))
		abort();
	return r;
}

/* Runs a shell command; its trimmed standard output goes to out. */
static int
run(char *out, size_t outlen, const char *fmt, ...)
{
	char cmd[2048];
	va_list ap;
	FILE *f;
	size_t n;
	int status;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	if ((f = popen(cmd, "r")) == NULL)
		return -1;
	n = fread(out, 1, outlen - 1, f);
	out[n] = '\0';
	while (n > 0 && isspace((unsigned char)out[n - 1]))
		out[--n] = '\0';
	status = pclose(f);
	return status == 0 ? 0 : -1;
}

/*
 * Whether link, an exe link's target, names exe (a binary rebuilt while it
 * runs reads "PATH (deleted)").
 */
static int
exe_is(const char *link, const char *exe)
{
	size_t n = strlen(exe);

	return strncmp(link, exe, n) == 0 &&
	    (link[n] == '\0' || strcmp(link + n, " (deleted)") == 0);
}

/*
 * The pids of alia's own processes (not PostgreSQL) under the server: the
 * images alia and alia-worker.
 */
static int
alia_pids(pid_t *pids, int max, const char *title)
{
	static pid_t all[MAX_PIDS], parent[MAX_PIDS];
	char path[300], buf[512], *p;
	int n = 0, i, j, count = 0, changed;
	int in[MAX_PIDS];
	struct dirent *de;
	DIR *d;
	FILE *f;

	if ((d = opendir("/proc")) == NULL)
		return 0;
	while ((de = readdir(d)) != NULL && n < MAX_PIDS) {
		if (!isdigit((unsigned char)de->d_name[0]))
			continue;
		snprintf(path, sizeof(path), "/proc/%s/stat", de->d_name);
		if ((f = fopen(path, "r")) == NULL)
			continue;
		if (fgets(buf, sizeof(buf), f) != NULL &&
		    (p = strrchr(buf, ')')) != NULL) {
			all[n] = atoi(de->d_name);
			parent[n] = atoi(p + 4);
			n++;
		}
		fclose(f);
	}
	closedir(d);
	for (i = 0; i < n; i++)
		in[i] = all[i] == server_pid;
	do {
		changed = 0;
		for (i = 0; i < n; i++)
			for (j = 0; !in[i] && j < n; j++)
				if (in[j] && parent[i] == all[j])
					in[i] = changed = 1;
	} while (changed);
	for (i = 0; i < n && count < max; i++) {
		if (!in[i])
			continue;
		snprintf(path, sizeof(path), "/proc/%d/exe", all[i]);
		ssize_t l = readlink(path, buf, sizeof(buf) - 1);
		if (l <= 0)
			continue;
		buf[l] = '\0';
		if (!exe_is(buf, alia_exe) && !exe_is(buf, worker_exe))
			continue;
		if (title != NULL) {
			snprintf(
			    path, sizeof(path), "/proc/%d/cmdline", all[i]);
			if ((f = fopen(path, "r")) == NULL)
				continue;
			l = (ssize_t)fread(buf, 1, sizeof(buf) - 1, f);
			fclose(f);
			buf[l < 0 ? 0 : l] = '\0';
			if (strncmp(buf, title, strlen(title)) != 0)
				continue;
		}
		pids[count++] = all[i];
	}
	return count;
}

/* Sums one "Key: N kB" line of a /proc file over alia's processes. */
static long
alia_sum_kib(const char *file, const char *fmt)
{
	pid_t pids[256];
	char path[64], line[256];
	long sum = 0, kib;
	int n, i;
	FILE *f;

	n = alia_pids(pids, 256, NULL);
	for (i = 0; i < n; i++) {
		snprintf(path, sizeof(path), "/proc/%d/%s", pids[i], file);
		if ((f = fopen(path, "r")) == NULL)
			continue;
		while (fgets(line, sizeof(line), f) != NULL)
			if (sscanf(line, fmt, &kib) == 1)
				sum += kib;
		fclose(f);
	}
	return sum;
}

/* Proportional set size: shared library pages counted once in all. */
static long
alia_pss_kib(void)
{
	return alia_sum_kib("smaps_rollup", "Pss: %ld kB");
}

/* The sum of VmRSS of master, front, workers and the other alia roles. */
static long
alia_rss_kib(void)
{
	long sum = alia_sum_kib("status", "VmRSS: %ld kB");

	if (sum > peak_rss_kib)
		peak_rss_kib = sum;
	return sum;
}

/* The last n bytes of s with control characters escaped, for messages. */
static const char *
visible(const char *s, size_t len, size_t n)
{
	static char out[1024];
	size_t i, o = 0;

	if (s == NULL)
		return "";
	if (len > n)
		s += len - n, len = n;
	for (i = 0; i < len && o + 5 < sizeof(out); i++) {
		unsigned char c = (unsigned char)s[i];

		if (c >= 0x20 && c < 0x7f && c != '\\')
			out[o++] = (char)c;
		else
			o += (size_t)snprintf(
			    out + o, sizeof(out) - o, "\\x%02x", c);
	}
	out[o] = '\0';
	return out;
}

static void
term_init(struct term *t)
{
	memset(t, 0, sizeof(*t));
	wsc_init(&t->ws, -1);
}

static void
term_free(struct term *t)
{
	wsc_free(&t->ws);
	free(t->out);
	t->out = NULL;
	t->outlen = t->outcap = 0;
}

static void
term_clear(struct term *t)
{
	t->outlen = 0;
	if (t->out != NULL)
		t->out[0] = '\0';
}

static void
term_append(struct term *t, const unsigned char *p, size_t n)
{
	if (t->outlen + n + 1 > t->outcap) {
		t->outcap = (t->outlen + n + 1) * 2;
		if ((t->out = realloc(t->out, t->outcap)) == NULL)
			abort();
	}
	memcpy(t->out + t->outlen, p, n);
	t->outlen += n;
	t->out[t->outlen] = '\0';
	t->total += n;
}

/* Handles one message: 1 one was handled, 0 none in time, -1 ended. */
static int
term_pump(struct term *t, int timeout_ms)
{
	struct wsc_msg m;
	char type[32], v[256];
	int rv;

	if (t->eof)
		return -1;
	if ((rv = wsc_recv(&t->ws, &m, timeout_ms)) <= 0) {
		if (rv == -1)
			t->eof = 1;
		return rv;
	}
	switch (m.op) {
	case WSC_OP_BINARY:
		term_append(t, m.data, m.len);
		break;
	case WSC_OP_CLOSE:
		t->closed = 1;
		t->close_code = m.code;
		t->close_len = m.len;
		break;
	case WSC_OP_TEXT:
		if (wsc_json_get((char *)m.data, "type", type, sizeof(type)) ==
		    -1) {
			printf("# %s: text without type: %s\n", t->id, m.data);
			break;
		}
		if (strcmp(type, "hello") == 0)
			t->hello++;
		else if (strcmp(type, "exit") == 0) {
			t->exited = 1;
			if (wsc_json_get(
			        (char *)m.data, "code", v, sizeof(v)) == 0)
				t->exit_code = atoi(v);
		} else if (strcmp(type, "error") == 0) {
			t->errors++;
			snprintf(t->lasterr, sizeof(t->lasterr), "%s", m.data);
		} else if (strcmp(type, "resync") == 0)
			t->resyncs++;
		else if (strcmp(type, "pong") == 0)
			t->pongs++;
		else if (strcmp(type, "viewers") == 0) {
			if (wsc_json_get(
			        (char *)m.data, "count", v, sizeof(v)) == 0)
				t->viewers = atoi(v);
		}
		break;
	default:
		break;
	}
	return 1;
}

/* Waits for needle in the output from offset from; the end of it, or -1. */
static long
term_wait(struct term *t, const char *needle, size_t from, int timeout_ms)
{
	long deadline = now_ms() + timeout_ms;
	size_t nlen = strlen(needle);
	char *hit;

	for (;;) {
		if (t->out != NULL && from <= t->outlen &&
		    (hit = memmem(t->out + from, t->outlen - from, needle,
		         nlen)) != NULL)
			return (long)(hit - t->out) + (long)nlen;
		/* Only what comes next, and a needle cut at the end, is new. */
		if (t->out != NULL && t->outlen >= nlen &&
		    t->outlen - nlen > from)
			from = t->outlen - nlen + 1;
		if (now_ms() >= deadline)
			return -1;
		if (term_pump(t, (int)(deadline - now_ms())) == -1)
			return -1;
	}
}

/* Reads until cond(t) holds or timeout; 0 or -1. */
static int
term_until(struct term *t, int (*cond)(struct term *), int timeout_ms)
{
	long deadline = now_ms() + timeout_ms;

	while (!cond(t)) {
		if (now_ms() >= deadline)
			return -1;
		if (term_pump(t, (int)(deadline - now_ms())) == -1)
			return cond(t) ? 0 : -1;
	}
	return 0;
}

/*
 * Finds the prompt in s[from, len) as a terminal shows it: escape
 * sequences (the prompt's colours) do not count. The end offset, or -1.
 */
static long
find_prompt(const char *s, size_t from, size_t len)
{
	const char *p = s + from, *end = s + len, *q;
	size_t k;

	while (p < end &&
	    (p = memmem(p, (size_t)(end - p), "learner@alia", 12)) != NULL) {
		for (q = p, k = 0; q < end && PROMPT[k] != '\0';) {
			if (*q == '\x1b' && q + 1 < end && q[1] == '[') {
				for (q += 2;
				     q < end && !isalpha((unsigned char)*q);
				     q++)
					;
				q++;
			} else if (*q == PROMPT[k]) {
				q++;
				k++;
			} else
				break;
		}
		if (PROMPT[k] == '\0')
			return (long)(q - s);
		p++;
	}
	return -1;
}

/* Waits for a prompt after offset from; the end of it, or -1. */
static long
term_prompt(struct term *t, size_t from, int timeout_ms)
{
	long deadline = now_ms() + timeout_ms, at;

	for (;;) {
		if (t->out != NULL && from <= t->outlen &&
		    (at = find_prompt(t->out, from, t->outlen)) >= 0)
			return at;
		if (now_ms() >= deadline)
			return -1;
		if (term_pump(t, (int)(deadline - now_ms())) == -1)
			return -1;
	}
}

static int
term_send(struct term *t, const char *keys)
{
	return wsc_send_binary(&t->ws, keys, strlen(keys));
}

/* POSTs a session; its id goes to id. */
static int
session_create(
    struct wsc_agent *a, int cols, int rows, char *id, size_t idlen, int quiet)
{
	struct wsc_response r;
	char body[64], ws[128], want[160];

	snprintf(body, sizeof(body), "{\"cols\":%d,\"rows\":%d}", cols, rows);
	if (wsc_request(a, "POST", "/api/sessions", body, &r) == -1 ||
	    r.status != 201 || wsc_json_get(r.body, "id", id, idlen) == -1 ||
	    wsc_json_get(r.body, "ws", ws, sizeof(ws)) == -1) {
		not_ok("POST /api/sessions: status %d body '%s'", r.status,
		    r.body != NULL ? r.body : "");
		wsc_response_free(&r);
		return -1;
	}
	snprintf(want, sizeof(want), "/ws/sessions/%s", id);
	if (strcmp(ws, want) != 0)
		not_ok("POST /api/sessions: ws '%s', want '%s'", ws, want);
	else if (!quiet)
		ok("POST /api/sessions -> 201, id %s, ws %s", id, ws);
	wsc_response_free(&r);
	return 0;
}

static int
session_delete(struct wsc_agent *a, const char *id)
{
	struct wsc_response r;
	char path[128];
	int status;

	snprintf(path, sizeof(path), "/api/sessions/%s", id);
	if (wsc_request(a, "DELETE", path, NULL, &r) == -1)
		status = -1;
	else
		status = r.status;
	wsc_response_free(&r);
	return status;
}

/* GET /api/sessions/ID: the status; state and exit code when 200. */
static int
session_get(struct wsc_agent *a, const char *id, char *state, size_t statelen,
    char *code, size_t codelen)
{
	struct wsc_response r;
	char path[128];
	int status;

	snprintf(path, sizeof(path), "/api/sessions/%s", id);
	if (wsc_request(a, "GET", path, NULL, &r) == -1) {
		wsc_response_free(&r);
		return -1;
	}
	status = r.status;
	if (state != NULL &&
	    wsc_json_get(r.body, "state", state, statelen) == -1)
		snprintf(state, statelen, "?");
	if (code != NULL &&
	    wsc_json_get(r.body, "exit_code", code, codelen) == -1)
		snprintf(code, codelen, "?");
	wsc_response_free(&r);
	return status;
}

/* Opens the session's websocket and waits for hello; 0, or -1 (status). */
static int
term_open(struct term *t, struct wsc_agent *a, const char *id, const char *mode,
    int *status)
{
	char path[160];

	term_free(t);
	term_init(t);
	snprintf(t->id, sizeof(t->id), "%s", id);
	snprintf(path, sizeof(path), "/ws/sessions/%s%s%s", id,
	    mode != NULL ? "?mode=" : "", mode != NULL ? mode : "");
	if (wsc_open(&t->ws, a, path) == -1) {
		if (status != NULL)
			*status = t->ws.resp.status;
		return -1;
	}
	if (status != NULL)
		*status = 101;
	return 0;
}

/* The first message must be the hello; checks its fields. */
static int
term_hello(struct term *t, const char *mode, int cols, int rows, int quiet)
{
	struct wsc_msg m;
	char type[32], sess[64], md[32], c[16], r[16];
	int rv;

	if ((rv = wsc_recv(&t->ws, &m, 5000)) != 1) {
		not_ok("no hello within 5 s (%s)",
		    rv == 0 ? "timeout" : "connection ended");
		return -1;
	}
	if (m.op != WSC_OP_TEXT ||
	    wsc_json_get((char *)m.data, "type", type, sizeof(type)) == -1 ||
	    strcmp(type, "hello") != 0) {
		not_ok("first message is not a hello: op %d '%.100s'", m.op,
		    m.data);
		return -1;
	}
	t->hello = 1;
	if (wsc_json_get((char *)m.data, "session", sess, sizeof(sess)) == -1 ||
	    strcmp(sess, t->id) != 0 ||
	    wsc_json_get((char *)m.data, "mode", md, sizeof(md)) == -1 ||
	    strcmp(md, mode) != 0 ||
	    wsc_json_get((char *)m.data, "cols", c, sizeof(c)) == -1 ||
	    wsc_json_get((char *)m.data, "rows", r, sizeof(r)) == -1 ||
	    (cols > 0 && (atoi(c) != cols || atoi(r) != rows))) {
		not_ok("hello fields wrong: %s (want session %s mode %s "
		       "%dx%d)",
		    m.data, t->id, mode, cols, rows);
		return -1;
	}
	if (!quiet)
		ok("hello first: %s", m.data);
	return 0;
}

/*
 * Opens id in control mode at 80x24 and waits for the shell's prompt; 0,
 * or -1 said as not ok.
 */
static int
open_prompt(struct term *t, struct wsc_agent *a, const char *id)
{
	int status;

	if (term_open(t, a, id, "control", &status) == -1 ||
	    term_hello(t, "control", 80, 24, 1) == -1 ||
	    term_prompt(t, 0, 15000) == -1) {
		not_ok("session %s: no prompt (status %d)", id, status);
		return -1;
	}
	return 0;
}

/* Types cmd and waits for "\r\n" want "\r\n"; the ms it took, or -1. */
static long
term_run(struct term *t, const char *cmd, const char *want, int timeout_ms)
{
	char line[256], keys[1024];
	size_t from = t->outlen;
	long t0 = now_ms();

	snprintf(keys, sizeof(keys), "%s\r", cmd);
	snprintf(line, sizeof(line), "\r\n%s\r\n", want);
	if (term_send(t, keys) == -1)
		return -1;
	if (term_wait(t, line, from, timeout_ms) == -1)
		return -1;
	return now_ms() - t0;
}

/* Checks that t still answers a command, naming the step it follows. */
static void
still_alive(struct term *t, const char *after)
{
	static int n = 1000;
	char cmd[64], want[64];
	long ms;

	n++;
	snprintf(cmd, sizeof(cmd), "echo alive$((%d+1))", n);
	snprintf(want, sizeof(want), "alive%d", n + 1);
	ms = term_run(t, cmd, want, 5000);
	CHECK(ms >= 0, "after %s, another session still echoes (%ld ms)", after,
	    ms);
}

static int
is_closed(struct term *t)
{
	return t->closed || t->eof;
}

static int
is_pong(struct term *t)
{
	return t->pongs > 0;
}

static int
is_exited(struct term *t)
{
	return t->exited;
}

/* Polls the database for a row of the session until want matches. */
static int
db_wait(
    const char *id, const char *want, char *got, size_t gotlen, int timeout_ms)
{
	long deadline = now_ms() + timeout_ms;

	for (;;) {
		run(got, gotlen,
		    "'%s' psql -tAc \"select exit_code, state, end_reason, "
		    "ended_at is not null from alia.sessions where "
		    "id = '%s'\" 2>&1",
		    alia_bin, id);
		if (strncmp(got, want, strlen(want)) == 0)
			return 0;
		if (now_ms() >= deadline)
			return -1;
		sleep_ms(200);
	}
}

/* Counts containers (running or not) of the session. */
static int
docker_count(const char *id)
{
	char out[1024];
	int n = 0;
	char *p;

	if (run(out, sizeof(out),
	        "docker ps -aq --filter label=io.alia.session=%s; "
	        "docker ps -aq --filter name=alia-%s",
	        id, id) == -1)
		return -1;
	for (p = out; *p != '\0'; p++)
		if (*p == '\n')
			n++;
	return out[0] == '\0' ? 0 : n + 1;
}

/* 1: create, hello, echo, resize, ping, exit 3, container and row. */
static void
check_basic(struct wsc_agent *a)
{
	struct wsc_response r;
	struct term t;
	char id[64], got[256], state[32], code[16], v[256];
	long t0, ms;
	int status, tries, n;

	printf("# 1. a session from creation to exit\n");
	term_init(&t);
	t0 = now_ms();
	if (session_create(a, 80, 24, id, sizeof(id), 0) == -1)
		return;
	CHECK(a->cookie[0] != '\0', "the first API response set a cookie (%s)",
	    a->cookie);
	if (term_open(&t, a, id, "control", &status) == -1) {
		not_ok("websocket upgrade: status %d, want 101", status);
		goto out;
	}
	ok("websocket upgrade -> 101 with a valid Sec-WebSocket-Accept");
	if (term_hello(&t, "control", 80, 24, 0) == -1)
		goto out;
	if (term_prompt(&t, 0, 15000) == -1) {
		not_ok("no prompt within 15 s; got '%s'",
		    visible(t.out, t.outlen, 300));
		goto out;
	}
	ok("first prompt %ld ms after POST /api/sessions", now_ms() - t0);

	ms = term_run(&t, "echo $((6*7))", "42", 5000);
	CHECK(ms >= 0, "echo $((6*7)) printed 42 on its own line (%ld ms)", ms);

	wsc_send_text(&t.ws, "{\"type\":\"ping\"}");
	CHECK(term_until(&t, is_pong, 3000) == 0, "ping -> pong");

	wsc_send_text(&t.ws, "{\"type\":\"resize\",\"cols\":100,\"rows\":30}");
	for (tries = 1, ms = -1; tries <= 10 && ms < 0; tries++) {
		if (tries > 1)
			sleep_ms(200);
		ms = term_run(&t, "stty size", "30 100", 2000);
	}
	CHECK(ms >= 0 && t.errors == 0,
	    "resize 100x30, then stty size printed '30 100' (attempt %d, "
	    "%d errors)",
	    tries - 1, t.errors);

	n = session_get(a, id, state, sizeof(state), NULL, 0);
	CHECK(n == 200 && strcmp(state, "running") == 0,
	    "GET /api/sessions/ID -> %d, state %s", n, state);
	if (wsc_request(a, "GET", "/api/sessions", NULL, &r) == 0)
		CHECK(r.status == 200 && r.body[0] == '[' &&
		        strstr(r.body, id) != NULL,
		    "GET /api/sessions -> %d, a JSON array listing the "
		    "session",
		    r.status);
	else
		not_ok("GET /api/sessions failed");
	wsc_response_free(&r);

	t0 = now_ms();
	term_send(&t, "exit 3\r");
	CHECK(term_until(&t, is_exited, 10000) == 0 && t.exit_code == 3,
	    "exit 3 -> {\"type\":\"exit\",\"code\":%d} after %ld ms",
	    t.exit_code, now_ms() - t0);
	term_until(&t, is_closed, 5000);
	CHECK(t.closed && t.close_code == 1000,
	    "then a close frame with code %d (want 1000)", t.close_code);
	term_pump(&t, 3000);
	CHECK(t.eof, "then the server ends the TCP connection");

	for (t0 = now_ms();
	     (n = docker_count(id)) != 0 && now_ms() - t0 < 10000;)
		sleep_ms(200);
	CHECK(n == 0, "the container is gone from docker ps -a after %ld ms",
	    now_ms() - t0);
	t0 = now_ms();
	CHECK(db_wait(id, "3|ended|", got, sizeof(got), 5000) == 0 &&
	        got[strlen(got) - 1] == 't',
	    "alia.sessions: exit_code|state|end_reason|ended = '%s' (%ld ms)",
	    got, now_ms() - t0);
	n = session_get(a, id, state, sizeof(state), code, sizeof(code));
	CHECK(n == 200 && strcmp(state, "ended") == 0 && atoi(code) == 3,
	    "GET /api/sessions/ID -> %d, state %s, exit_code %s", n, state,
	    code);

	if (wsc_request(a, "GET", "/metrics", NULL, &r) == 0) {
		v[0] = '\0';
		wsc_header(&r, "Content-Type", v, sizeof(v));
		CHECK(r.status == 200 && strncmp(v, "text/plain", 10) == 0 &&
		        strstr(r.body, "# TYPE") != NULL,
		    "GET /metrics -> %d, %s, %zu bytes of Prometheus text",
		    r.status, v, r.bodylen);
	} else
		not_ok("GET /metrics failed");
	wsc_response_free(&r);
out:
	term_free(&t);
}

/* The pids of workers now; with a session id in the title, only its. */
static int
workers(pid_t *pids, int max)
{
	return alia_pids(pids, max, "alia: worker");
}

static int
pid_in(pid_t p, const pid_t *set, int n)
{
	int i;

	for (i = 0; i < n; i++)
		if (set[i] == p)
			return 1;
	return 0;
}

/* The inode of the server's end of TCP connection fd (IPv4), or 0. */
static unsigned long
peer_inode(int fd)
{
	struct sockaddr_in me, peer;
	socklen_t len = sizeof(me), plen = sizeof(peer);
	unsigned int lport, rport;
	unsigned long inode, found = 0;
	char line[512];
	FILE *f;

	if (getsockname(fd, (struct sockaddr *)&me, &len) == -1 ||
	    getpeername(fd, (struct sockaddr *)&peer, &plen) == -1 ||
	    (f = fopen("/proc/net/tcp", "r")) == NULL)
		return 0;
	while (found == 0 && fgets(line, sizeof(line), f) != NULL)
		if (sscanf(line,
		        " %*d: %*x:%x %*x:%x %*x %*x:%*x %*x:%*x %*x %*u %*u "
		        "%lu",
		        &lport, &rport, &inode) == 3 &&
		    lport == ntohs(peer.sin_port) &&
		    rport == ntohs(me.sin_port))
			found = inode;
	fclose(f);
	return found;
}

/*
 * The worker among pids that holds the server's end of fd: a session's
 * worker (workers forked ahead for the warm pool hold none).
 */
static pid_t
worker_of(int fd, const pid_t *pids, int n)
{
	char path[320], link[64], want[64];
	unsigned long inode;
	struct dirent *d;
	DIR *dir;
	ssize_t k;
	int i;

	if ((inode = peer_inode(fd)) == 0)
		return 0;
	snprintf(want, sizeof(want), "socket:[%lu]", inode);
	for (i = 0; i < n; i++) {
		snprintf(path, sizeof(path), "/proc/%d/fd", pids[i]);
		if ((dir = opendir(path)) == NULL)
			continue;
		while ((d = readdir(dir)) != NULL) {
			snprintf(path, sizeof(path), "/proc/%d/fd/%s", pids[i],
			    d->d_name);
			k = readlink(path, link, sizeof(link) - 1);
			if (k > 0 && (link[k] = '\0', strcmp(link, want) == 0))
				break;
		}
		closedir(dir);
		if (d != NULL)
			return pids[i];
	}
	return 0;
}

/* 2 and 3: reconnect replays output, a killed worker keeps the shell. */
static void
check_reconnect(struct wsc_agent *a)
{
	struct term t, old;
	pid_t after[64], worker = 0;
	char id[64], val[64], cmd[128], uniq[64];
	long t0, ms, at;
	int na, status, n;

	printf("# 2. reconnect: scrollback replay and the same shell\n");
	term_init(&t);
	term_init(&old);
	if (session_create(a, 80, 24, id, sizeof(id), 1) == -1)
		return;
	if (open_prompt(&t, a, id) == -1)
		goto out;
	snprintf(val, sizeof(val), "marker%08x%08x", rnd(), rnd());
	snprintf(cmd, sizeof(cmd), "export X=%s", val);
	term_send(&t, cmd);
	term_send(&t, "\r");
	snprintf(uniq, sizeof(uniq), "uniq%08x", rnd());
	snprintf(cmd, sizeof(cmd), "echo %s$((40+2))", uniq);
	snprintf(uniq + strlen(uniq), sizeof(uniq) - strlen(uniq), "42");
	if (term_run(&t, cmd, uniq, 5000) == -1) {
		not_ok("the unique line did not print");
		goto out;
	}
	sleep_ms(300);
	wsc_drop(&t.ws);
	t0 = now_ms();
	if (term_open(&t, a, id, "control", &status) == -1 ||
	    term_hello(&t, "control", 0, 0, 1) == -1) {
		not_ok("reconnect after a dropped TCP connection: status %d",
		    status);
		goto out;
	}
	ms = now_ms() - t0;
	at = term_wait(&t, uniq, 0, 5000);
	CHECK(at >= 0,
	    "reconnected (hello after %ld ms); the earlier line came first, "
	    "replayed %ld ms after connecting (%zu bytes of scrollback)",
	    ms, now_ms() - t0, t.outlen);
	if (at >= 0) {
		ms = term_run(&t, "echo $X", val, 5000);
		CHECK(ms >= 0 && (size_t)at < t.outlen,
		    "echo $X printed %s after the replay: the same shell "
		    "(%ld ms)",
		    val, ms);
	}

	printf("# 3. a worker killed with -9\n");
	na = workers(after, 64);
	worker = worker_of(t.ws.fd, after, na);
	if (worker == 0) {
		not_ok("no worker process for session %s (%d workers)", id, na);
		goto out;
	}
	old = t;
	term_init(&t);
	/* Every event is committed by now: the journal holds none of it. */
	sleep_ms(1500);
	kill(worker, SIGKILL);
	t0 = now_ms();
	term_until(&old, is_closed, 2000);
	CHECK(old.eof || old.closed,
	    "kill -9 of worker %d: its websocket ended after %ld ms", worker,
	    now_ms() - t0);
	for (;;) {
		if (term_open(&t, a, id, "control", &status) == 0)
			break;
		if (now_ms() - t0 > 2000)
			break;
		sleep_ms(50);
	}
	ms = now_ms() - t0;
	if (t.ws.resp.status != 101) {
		not_ok("no websocket to the session within 2 s of the kill "
		       "(last status %d)",
		    status);
		goto out;
	}
	if (term_hello(&t, "control", 0, 0, 1) == -1)
		goto out;
	CHECK(ms <= 2000, "a fresh websocket connected %ld ms after the kill",
	    ms);
	/* Recorded long ago: only the recording can give it back. */
	at = term_wait(&t, uniq, 0, 5000);
	CHECK(at >= 0,
	    "the new worker's scrollback holds %s, printed before the kill "
	    "(refilled from the recording): %zu bytes replayed",
	    uniq, t.outlen);
	ms = term_run(&t, "echo $X", val, 5000);
	CHECK(ms >= 0, "echo $X still prints %s: the same shell (%ld ms)", val,
	    ms);
	na = workers(after, 64);
	CHECK(!pid_in(worker, after, na),
	    "the killed worker %d is gone; %d "
	    "worker(s) now",
	    worker, na);

	t0 = now_ms();
	n = session_delete(a, id);
	CHECK(n == 204, "DELETE /api/sessions/ID -> %d", n);
	term_until(&t, is_closed, 5000);
	CHECK(t.closed || t.eof,
	    "the websocket ended %ld ms after DELETE (close code %d)",
	    now_ms() - t0, t.close_code);
	for (; (n = docker_count(id)) != 0 && now_ms() - t0 < 10000;)
		sleep_ms(200);
	CHECK(n == 0, "DELETE removed the container (%ld ms)", now_ms() - t0);
out:
	term_free(&old);
	term_free(&t);
}

/*
 * Reads from every term until done(t) holds for all or timeout; buffered
 * frames are handled before waiting in poll().
 */
static int
pump_all(struct term *ts, int n, int (*done)(struct term *), int timeout_ms)
{
	struct pollfd pfd[NCONCURRENT + 2];
	long deadline = now_ms() + timeout_ms;
	int i, all;

	for (;;) {
		all = 1;
		for (i = 0; i < n; i++) {
			while (!ts[i].eof && term_pump(&ts[i], 0) == 1)
				;
			if (!done(&ts[i]))
				all = 0;
		}
		if (all)
			return 0;
		if (now_ms() >= deadline)
			return -1;
		for (i = 0; i < n; i++) {
			pfd[i].fd = ts[i].eof ? -1 : ts[i].ws.fd;
			pfd[i].events = POLLIN;
		}
		poll(pfd, (nfds_t)n, 50);
	}
}

static int
has_prompt(struct term *t)
{
	return t->out != NULL && find_prompt(t->out, 0, t->outlen) >= 0;
}

static int
has_unique(struct term *t)
{
	char want[64];
	int n = atoi(t->lasterr);

	snprintf(want, sizeof(want), "\r\nunique-%d-%d\r\n", n, n * 3);
	return t->out != NULL && strstr(t->out, want) != NULL;
}

/* 4: twenty sessions of twenty identities at once. */
static void
check_concurrent(void)
{
	static struct wsc_agent agents[NCONCURRENT];
	static struct term ts[NCONCURRENT];
	char cmd[64], *p;
	long t0;
	int i, made = 0, status, foreign = 0, m;

	printf("# 4. %d concurrent sessions\n", NCONCURRENT);
	t0 = now_ms();
	for (i = 0; i < NCONCURRENT; i++) {
		term_init(&ts[i]);
		wsc_agent_init(&agents[i], port);
		if (session_create(&agents[i], 80, 24, ts[i].id,
		        sizeof(ts[i].id), 1) == -1)
			break;
		made++;
	}
	CHECK(made == NCONCURRENT, "created %d sessions in %ld ms", made,
	    now_ms() - t0);
	for (i = 0; i < made; i++) {
		char id[64];

		snprintf(id, sizeof(id), "%s", ts[i].id);
		if (term_open(&ts[i], &agents[i], id, "control", &status) ==
		        -1 ||
		    term_hello(&ts[i], "control", 80, 24, 1) == -1) {
			not_ok("session %d: websocket status %d", i, status);
			goto out;
		}
	}
	if (pump_all(ts, made, has_prompt, 30000) == -1) {
		for (i = 0; i < made; i++)
			if (!has_prompt(&ts[i]))
				printf(
				    "# session %d (%s): no prompt; %zu bytes\n",
				    i, ts[i].id, ts[i].outlen);
		not_ok("not every session showed a prompt within 30 s");
		goto out;
	}
	ok("all %d prompts %ld ms after the first POST", made, now_ms() - t0);
	t0 = now_ms();
	for (i = 0; i < made; i++) {
		/* lasterr carries n for has_unique(); no error came so far. */
		snprintf(ts[i].lasterr, sizeof(ts[i].lasterr), "%d", i);
		term_clear(&ts[i]);
		snprintf(cmd, sizeof(cmd), "echo unique-%d-$((%d*3))\r", i, i);
		term_send(&ts[i], cmd);
	}
	status = pump_all(ts, made, has_unique, 15000);
	for (i = 0; i < made; i++) {
		for (p = ts[i].out;
		     p != NULL && (p = strstr(p, "unique-")) != NULL; p += 7) {
			m = atoi(p + 7);
			if (m != i) {
				foreign++;
				printf("# session %d saw unique-%d\n", i, m);
			}
		}
		if (!has_unique(&ts[i]))
			printf("# session %d: no own output; got '%s'\n", i,
			    visible(ts[i].out, ts[i].outlen, 300));
	}
	CHECK(status == 0 && foreign == 0 && ts[0].errors == 0,
	    "each of %d sessions saw its own unique-N-3N and no other's "
	    "(%ld ms for all; %d foreign)",
	    made, now_ms() - t0, foreign);
	printf("# alia with %d sessions: RSS %ld KiB summed, PSS %ld KiB\n",
	    made, alia_rss_kib(), alia_pss_kib());
out:
	t0 = now_ms();
	for (i = 0; i < made; i++) {
		status = session_delete(&agents[i], ts[i].id);
		if (status != 204)
			not_ok("DELETE session %d -> %d", i, status);
		term_free(&ts[i]);
	}
	printf("# deleted %d sessions in %ld ms\n", made, now_ms() - t0);
}

/* 5: a million lines, each once and in order. */
static void
check_seq(struct wsc_agent *a, char *id, size_t idlen, struct term *t)
{
	const char *cmd = "seq 1 1000000; echo seq-done-$((2*21))\r";
	char *p, *end, *nl, *done;
	long t0, expect = 1, n, ms;
	size_t from;
	int bad = 0;

	printf("# 5. seq 1 1000000\n");
	if (session_create(a, 80, 24, id, idlen, 1) == -1)
		return;
	if (open_prompt(t, a, id) == -1)
		return;
	from = t->outlen;
	t0 = now_ms();
	term_send(t, cmd);
	if (term_wait(t, "\r\nseq-done-42\r\n", from, 120000) == -1) {
		not_ok("seq-done-42 did not arrive within 120 s (%zu bytes)",
		    t->outlen - from);
		return;
	}
	ms = now_ms() - t0;
	/* Skip the echoed command line, then read one number a line. */
	p = strstr(t->out + from, "seq-done-$((2*21))");
	done = strstr(t->out + from, "\r\nseq-done-42\r\n");
	if (p == NULL || (p = strchr(p, '\n')) == NULL || p > done) {
		not_ok("the command's echo is not in the output");
		return;
	}
	for (p++; p < done + 2; p = nl + 1) {
		nl = memchr(p, '\n', (size_t)(done + 2 - p));
		if (nl == NULL)
			break;
		end = nl;
		while (end > p && end[-1] == '\r')
			end--;
		n = 0;
		for (char *q = p; q < end; q++) {
			if (!isdigit((unsigned char)*q)) {
				n = -1;
				break;
			}
			n = n * 10 + (*q - '0');
		}
		if (n != expect) {
			if (bad++ < 5)
				printf("# line %ld: '%.*s'\n", expect,
				    (int)(end - p), p);
			if (n > 0)
				expect = n;
		}
		expect++;
	}
	CHECK(bad == 0 && expect == 1000001,
	    "all 1000000 lines in order (%d out of place, last %ld); %.1f MB "
	    "in %ld ms = %.1f MB/s",
	    bad, expect - 1, (t->outlen - from) / 1e6, ms,
	    (t->outlen - from) / 1e3 / (ms ? ms : 1));
	term_clear(t);
}

static int
has_resync(struct term *t)
{
	return t->resyncs > 0;
}

/* 6: a reader that stops for 10 s slows nobody and costs bounded memory. */
static void
check_slow(struct wsc_agent *a, struct term *fast)
{
	struct term slow;
	char id[64], cmd[256], want[64], x[101];
	long t0, t1, ms, maxms = 0, sum = 0, rss, base_rss, done = 0,
	                 sampled = 0;
	int status, pings = 0, late = 0, lost = 0, n = 0;
	size_t from;

	printf("# 6. a slow reader\n");
	term_init(&slow);
	base_rss = alia_rss_kib();
	peak_rss_kib = base_rss;
	if (session_create(a, 80, 24, id, sizeof(id), 1) == -1)
		return;
	if (open_prompt(&slow, a, id) == -1)
		goto out;
	memset(x, 'x', 100);
	x[99] = '\0';
	snprintf(cmd, sizeof(cmd),
	    "yes %s | head -c 50000000; echo; echo big-done-$((5*5))\r", x);
	term_send(&slow, cmd);
	t0 = now_ms();
	while ((t1 = now_ms()) - t0 < 10000) {
		n++;
		snprintf(cmd, sizeof(cmd), "echo ping-%d-$((%d+1))", n, n);
		snprintf(want, sizeof(want), "ping-%d-%d", n, n + 1);
		ms = term_run(fast, cmd, want, 5000);
		if (ms < 0)
			lost++;
		else {
			pings++;
			sum += ms;
			if (ms > maxms)
				maxms = ms;
			if (ms > 1000)
				late++;
		}
		rss = alia_rss_kib();
		term_clear(fast);
		sleep_ms(100);
	}
	CHECK(lost == 0 && late == 0,
	    "while a reader stalled 10 s on 50 MB, another session answered "
	    "%d echoes: mean %ld ms, max %ld ms, %d over 1 s, %d lost",
	    pings, pings ? sum / pings : 0, maxms, late, lost);
	from = slow.outlen;
	t0 = now_ms();
	/* Resume reading: discard the flood, keep a tail to search. */
	for (;;) {
		if (slow.outlen > (1 << 20)) {
			memmove(slow.out, slow.out + slow.outlen - 4096, 4096);
			slow.outlen = 4096;
			slow.out[slow.outlen] = '\0';
			from = 0;
		}
		if (done == 0 && slow.out != NULL &&
		    strstr(slow.out + from, "big-done-25") != NULL)
			done = now_ms();
		/* After the end, a resync may still be on its way. */
		if (done != 0 && (slow.resyncs > 0 || now_ms() - done > 3000))
			break;
		if (now_ms() - t0 > 120000 || term_pump(&slow, 1000) == -1)
			break;
		if (now_ms() - sampled >= 100) {
			alia_rss_kib();
			sampled = now_ms();
		}
	}
	rss = alia_rss_kib();
	printf("# alia PSS after the flood: %ld KiB\n", alia_pss_kib());
	CHECK(has_resync(&slow),
	    "the slow reader got {\"type\":\"resync\"} (%d) after resuming; "
	    "%zu bytes of the 50 MB reached it",
	    slow.resyncs, slow.total);
	CHECK(done != 0,
	    "the command's end reached the slow reader %ld ms after resuming",
	    done - t0);
	ms = term_run(&slow, "echo live-$((4*4))", "live-16", 10000);
	CHECK(ms >= 0, "the slow reader's shell is live again (%ld ms)", ms);
	CHECK(peak_rss_kib < RSS_BOUND_KIB,
	    "alia's RSS (master, front, workers, ...) peaked at %ld KiB "
	    "(%.1f MiB; %ld KiB before, %ld KiB after); bound %d MiB",
	    peak_rss_kib, peak_rss_kib / 1024.0, base_rss, rss,
	    RSS_BOUND_KIB / 1024);
	status = session_delete(a, id);
	CHECK(status == 204, "DELETE of the slow session -> %d", status);
out:
	term_free(&slow);
}

/* Expects a close with code want (or at least the end of the connection). */
static void
expect_close(struct term *t, int want, const char *what)
{
	long t0 = now_ms();

	term_until(t, is_closed, 5000);
	if (t->closed && !t->eof)
		term_pump(t, 2000);
	CHECK(t->closed && t->close_code == want,
	    "%s -> close %d after %ld ms (want %d; %zu-byte close payload%s; "
	    "TCP %s)",
	    what, t->close_code, now_ms() - t0, want, t->close_len,
	    t->close_len < 2 ? ", no status code" : "",
	    t->eof ? "closed" : "open");
}

/* Opens a websocket to id and reads the hello; 0 or -1. */
static int
open_quiet(
    struct term *t, struct wsc_agent *a, const char *id, const char *mode)
{
	int status;

	if (term_open(t, a, id, mode, &status) == -1) {
		not_ok("websocket to %s: status %d", id, status);
		return -1;
	}
	return term_hello(t, mode, 0, 0, 1);
}

static int
has_error(struct term *t)
{
	return t->errors > 0;
}

/* Sends json; the answer must be an error, the connection kept open. */
static void
expect_refused(struct term *t, const char *json, const char *what)
{
	wsc_send_text(&t->ws, json);
	CHECK(term_until(t, has_error, 3000) == 0 && !t->closed,
	    "%s -> %s, connection open", what, t->lasterr);
	t->errors = 0;
}

/* Sends a frame header of len bytes, then the payload while reading. */
static void
send_huge(struct term *t, size_t len)
{
	unsigned char hdr[14] = {0x82, 0x80 | 127}, *chunk;
	size_t sent = 0, i;

	for (i = 0; i < 8; i++)
		hdr[2 + i] = (unsigned char)((uint64_t)len >> (56 - 8 * i));
	memset(hdr + 10, 0x5a, 4);
	if (wsc_send_raw(&t->ws, hdr, sizeof(hdr)) == -1)
		return;
	if ((chunk = calloc(1, 65536)) == NULL)
		abort();
	while (sent < len && !t->closed && !t->eof) {
		if (wsc_send_raw(&t->ws, chunk, 65536) == -1)
			break;
		sent += 65536;
		while (term_pump(t, 0) == 1)
			;
	}
	free(chunk);
	printf("# sent %zu of %zu payload bytes before the close\n", sent, len);
}

/* 7: malformed input gets a clear answer and harms no one else. */
static void
check_bad(struct wsc_agent *a, struct term *witness)
{
	static const struct {
		const char *what;
		unsigned char bytes[16];
		size_t len;
	} frames[] = {
	    {"an unmasked binary frame", {0x82, 0x03, 'a', 'b', 'c'}, 5},
	    {"reserved opcode 3", {0x83, 0x80, 1, 2, 3, 4}, 6},
	    {"an RSV1 bit without an extension", {0xc2, 0x80, 1, 2, 3, 4}, 6},
	    {"a 64-bit length with the top bit set",
	        {0x82, 0xff, 0x80, 0, 0, 0, 0, 0, 0, 1, 1, 2, 3, 4}, 14},
	    {"a fragmented ping", {0x09, 0x80, 1, 2, 3, 4}, 6},
	    {"a close frame of 1 byte", {0x88, 0x81, 1, 2, 3, 4, 0x7f}, 7},
	    {"a 16-bit length for 3 bytes",
	        {0x82, 0xfe, 0, 3, 1, 2, 3, 4, 'a', 'b', 'c'}, 11},
	    {"a 64-bit length for 1 byte",
	        {0x82, 0xff, 0, 0, 0, 0, 0, 0, 0, 1, 1, 2, 3, 4, 'a'}, 15},
	};
	struct wsc_agent other;
	struct wsc_response r;
	struct term t;
	struct wsc w;
	char id[64], path[128], key[25], req[4096], body[64], what[128];
	unsigned char buf[4096];
	size_t n, i;
	int fd, status;
	long t0;

	printf("# 7. bad input\n");
	term_init(&t);
	if (session_create(a, 80, 24, id, sizeof(id), 1) == -1)
		return;

	/* Garbage instead of HTTP. */
	if ((fd = wsc_tcp_connect(port)) == -1) {
		not_ok("connect");
		return;
	}
	wsc_init(&w, fd);
	wsc_send_raw(&w, "\x01\x02garbage\r\n\r\n", 13);
	t0 = now_ms();
	status = wsc_read_response(&w, &r, 5000) == 0 ? r.status : 0;
	while (!w.eof && now_ms() - t0 < 3000 &&
	    wsc_recv(&w, &(struct wsc_msg){0}, 100) >= 0)
		;
	CHECK(status == 400 && w.eof,
	    "garbage instead of HTTP -> %d and %s (%ld ms)", status,
	    w.eof ? "closed" : "left open", now_ms() - t0);
	wsc_response_free(&r);
	wsc_free(&w);
	still_alive(witness, "garbage");

	for (i = 0; i < sizeof(frames) / sizeof(frames[0]); i++) {
		if (open_quiet(&t, a, id, "control") == -1)
			goto out;
		wsc_send_raw(&t.ws, frames[i].bytes, frames[i].len);
		expect_close(&t, 1002, frames[i].what);
		still_alive(witness, frames[i].what);
	}

	if (open_quiet(&t, a, id, "control") == -1)
		goto out;
	send_huge(&t, 16 * 1024 * 1024);
	expect_close(&t, 1009, "a 16 MiB message");
	still_alive(witness, "a 16 MiB message");

	if (open_quiet(&t, a, id, "control") == -1)
		goto out;
	memset(buf, 'y', sizeof(buf));
	wsc_send_frame(&t.ws, 0, WSC_OP_BINARY, buf, sizeof(buf));
	for (n = 0; n < 17; n++)
		wsc_send_frame(&t.ws, 0, WSC_OP_CONT, buf, sizeof(buf));
	wsc_send_frame(&t.ws, 1, WSC_OP_CONT, buf, 0);
	expect_close(&t, 1009, "a 72 KiB message in 19 fragments");
	still_alive(witness, "a fragmented 72 KiB message");

	if (open_quiet(&t, a, id, "control") == -1)
		goto out;
	term_prompt(&t, 0, 15000);
	expect_refused(
	    &t, "{\"type\": \"resize\", \"cols\": 8", "invalid JSON");
	expect_refused(
	    &t, "{\"type\":\"resize\",\"cols\":0,\"rows\":0}", "resize 0x0");
	expect_refused(&t,
	    "{\"type\":\"resize\",\"cols\":100000,\"rows\":100000}",
	    "resize 100000x100000");
	expect_refused(
	    &t, "{\"type\":\"no-such-type\"}", "an unknown message type");
	/* A text message split in two fragments is one valid message. */
	wsc_send_frame(&t.ws, 0, WSC_OP_TEXT, "{\"type\":", 8);
	wsc_send_frame(&t.ws, 1, WSC_OP_CONT, "\"ping\"}", 7);
	CHECK(term_until(&t, is_pong, 3000) == 0 && t.errors == 0,
	    "a fragmented ping message -> pong");
	t.pongs = 0;
	wsc_send_ping(&t.ws, "x", 1);
	n = (size_t)term_run(&t, "echo ok$((1+1))", "ok2", 5000);
	CHECK((long)n >= 0 && !t.closed,
	    "after the bad messages the same connection still runs commands "
	    "(%ld ms)",
	    (long)n);
	still_alive(witness, "invalid JSON and bad resizes");

	/* Input in watch mode. */
	{
		struct term watch;

		term_init(&watch);
		if (open_quiet(&watch, a, id, "watch") == 0) {
			wsc_send_binary(&watch.ws, "echo no\r", 8);
			CHECK(term_until(&watch, has_error, 3000) == 0 &&
			        !watch.closed,
			    "input in watch mode -> %s, connection open",
			    watch.lasterr);
			n = (size_t)term_run(
			    &t, "echo both$((2+2))", "both4", 5000);
			CHECK(term_wait(&watch, "\r\nboth4\r\n", 0, 5000) >= 0,
			    "the watcher sees the controller's output");
		}
		term_free(&watch);
	}

	/* Unknown session; another identity's session. */
	snprintf(path, sizeof(path),
	    "/api/sessions/%08x-%04x-4%03x-8%03x-%08x%04x", rnd(),
	    rnd() & 0xffff, rnd() & 0xfff, rnd() & 0xfff, rnd(),
	    rnd() & 0xffff);
	status = wsc_request(a, "GET", path, NULL, &r) == 0 ? r.status : 0;
	CHECK(status == 404, "GET %s (unknown) -> %d", path, status);
	wsc_response_free(&r);
	{
		char ghost[128];
		struct term g;

		term_init(&g);
		snprintf(ghost, sizeof(ghost), "%s", path + 14);
		term_open(&g, a, ghost, "control", &status);
		CHECK(status == 404,
		    "websocket to an unknown session -> %d "
		    "(plain HTTP)",
		    status);
		term_free(&g);
		term_init(&g);
		term_open(&g, a, "not-a-uuid", "control", &status);
		CHECK(status == 404 || status == 400,
		    "websocket to session 'not-a-uuid' -> %d", status);
		term_free(&g);
	}
	wsc_agent_init(&other, port);
	wsc_request(&other, "GET", "/api/sessions", NULL, &r);
	CHECK(r.status == 200 && strstr(r.body, id) == NULL &&
	        other.cookie[0] != '\0' && strcmp(other.cookie, a->cookie) != 0,
	    "a second browser gets its own identity and does not see the "
	    "session in GET /api/sessions (%d)",
	    r.status);
	wsc_response_free(&r);
	status = session_get(&other, id, NULL, 0, NULL, 0);
	CHECK(status == 403, "GET /api/sessions/ID of another identity -> %d",
	    status);
	{
		struct term g;

		term_init(&g);
		term_open(&g, &other, id, "control", &status);
		CHECK(status == 403,
		    "websocket to another identity's session -> %d", status);
		term_free(&g);
		term_init(&g);
		term_open(&g, &other, id, "watch", &status);
		CHECK(status == 403,
		    "watch websocket to another identity's session -> %d",
		    status);
		term_free(&g);
	}
	still_alive(witness, "the 403s and 404s");

	/* A frame in the same write as the upgrade request. */
	if ((fd = wsc_tcp_connect(port)) == -1)
		goto out;
	wsc_init(&w, fd);
	wsc_make_key(key);
	snprintf(path, sizeof(path), "/ws/sessions/%s", id);
	n = wsc_upgrade_request(a, path, key, req, sizeof(req));
	{
		const char *keys = "echo early$((3+4))\r";
		size_t kl = strlen(keys), k;

		req[n++] = (char)0x82;
		req[n++] = (char)(0x80 | kl);
		memcpy(req + n, "\x11\x22\x33\x44", 4);
		for (k = 0; k < kl; k++)
			req[n + 4 + k] = keys[k] ^ "\x11\x22\x33\x44"[k & 3];
		n += 4 + kl;
	}
	wsc_send_raw(&w, req, n);
	t0 = now_ms();
	status = wsc_read_response(&w, &r, 5000) == 0 ? r.status : 0;
	if (status == 101) {
		struct wsc_msg m;
		int closed = 0, ran = 0;

		while (now_ms() - t0 < 3000) {
			int rv = wsc_recv(&w, &m, 200);

			if (rv == -1)
				break;
			if (rv == 1 && m.op == WSC_OP_CLOSE)
				closed = m.code;
			if (rv == 1 && m.op == WSC_OP_BINARY &&
			    memmem(m.data, m.len, "early7", 6) != NULL)
				ran = 1;
		}
		CHECK(!ran && (closed || w.eof),
		    "a frame in the upgrade request's write -> 101, then %s "
		    "(close %d)%s",
		    w.eof ? "closed" : "left open", closed,
		    ran ? "; the early input ran" : "");
	} else
		CHECK(status == 400 || (status == 0 && w.eof),
		    "a frame in the upgrade request's write -> %d%s", status,
		    w.eof ? ", closed" : "");
	wsc_response_free(&r);
	wsc_free(&w);
	snprintf(what, sizeof(what), "early data");
	still_alive(witness, what);

	/* An upgrade without a key, or a wrong version. */
	for (i = 0; i < 2; i++) {
		if ((fd = wsc_tcp_connect(port)) == -1)
			goto out;
		wsc_init(&w, fd);
		snprintf(req, sizeof(req),
		    "GET /ws/sessions/%s HTTP/1.1\r\nHost: 127.0.0.1\r\n"
		    "Upgrade: websocket\r\nConnection: Upgrade\r\n"
		    "%s\r\nCookie: %s\r\n\r\n",
		    id,
		    i == 0 ? "Sec-WebSocket-Version: 13"
		           : "Sec-WebSocket-Version: 8\r\n"
		             "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==",
		    a->cookie);
		wsc_send_raw(&w, req, strlen(req));
		status = wsc_read_response(&w, &r, 5000) == 0 ? r.status : 0;
		CHECK(status == 400 || status == 426, "an upgrade %s -> %d",
		    i == 0 ? "without Sec-WebSocket-Key" : "with version 8",
		    status);
		wsc_response_free(&r);
		wsc_free(&w);
	}
	snprintf(body, sizeof(body), "{\"cols\":0,\"rows\":0}");
	status = wsc_request(a, "POST", "/api/sessions", body, &r) == 0
	    ? r.status
	    : 0;
	CHECK(status == 400, "POST /api/sessions with cols 0 -> %d", status);
	if (status == 201 && wsc_json_get(r.body, "id", path, 64) == 0)
		session_delete(a, path);
	wsc_response_free(&r);
	still_alive(witness, "all bad input");
out:
	status = session_delete(a, id);
	if (status != 204)
		not_ok("DELETE of the bad-input session -> %d", status);
	term_free(&t);
}

int
main(void)
{
	struct wsc_agent a, b;
	struct term witness, seq;
	char id[64], wid[64], *p;
	long t0 = now_ms();
	int status;

	setvbuf(stdout, NULL, _IOLBF, 0);
	signal(SIGPIPE, SIG_IGN);
	if ((p = getenv("ALIA_PORT")) == NULL || (port = atoi(p)) <= 0 ||
	    (alia_bin = getenv("ALIA_BIN")) == NULL) {
		fprintf(stderr,
		    "test_terminal: run me through with-server.sh "
		    "(ALIA_PORT and ALIA_BIN)\n");
		return 1;
	}
	if ((p = getenv("ALIA_SERVER_PID")) != NULL)
		server_pid = atoi(p);
	if (realpath(alia_bin, alia_exe) == NULL) {
		perror(alia_bin);
		return 1;
	}
	if ((p = getenv("ALIA_WORKER_BIN")) == NULL ||
	    realpath(p, worker_exe) == NULL) {
		fprintf(stderr,
		    "test_terminal: ALIA_WORKER_BIN: no such "
		    "binary (alia-worker)\n");
		return 1;
	}
	wsc_agent_init(&a, port);
	wsc_agent_init(&b, port);
	term_init(&witness);
	term_init(&seq);

	check_basic(&a);
	check_reconnect(&a);
	check_concurrent();
	check_seq(&a, id, sizeof(id), &seq);

	/* The witness: a session of another identity kept for 6 and 7. */
	if (session_create(&b, 80, 24, wid, sizeof(wid), 1) == 0 &&
	    open_quiet(&witness, &b, wid, "control") == 0 &&
	    term_prompt(&witness, 0, 15000) >= 0) {
		check_slow(&a, &witness);
		check_bad(&a, &witness);
		status = session_delete(&b, wid);
		CHECK(status == 204, "DELETE of the witness session -> %d",
		    status);
	} else
		not_ok("no witness session; checks 6 and 7 skipped");
	if (seq.id[0] != '\0') {
		status = session_delete(&a, seq.id);
		CHECK(status == 204, "DELETE of the seq session -> %d", status);
	}
	term_free(&witness);
	term_free(&seq);
	printf("# %d failure(s); %.1f s in all; alia RSS now %ld KiB\n",
	    failures, (now_ms() - t0) / 1000.0, alia_rss_kib());
	return failures == 0 ? 0 : 1;
}
