/* SPDX-License-Identifier: ISC */
/*
 * alia-load: do many sessions, each watched by several browsers, stay
 * responsive? One anonymous identity (the cookie of its first POST) first
 * measures keystroke echo on a single session (with its WATCHERS watchers)
 * and nothing else running, then creates SESSIONS sessions a few at a
 * time, opens a control websocket and WATCHERS watch websockets on each,
 * and waits for every prompt. All sessions but PROBES of them then run an
 * output generator, so every websocket carries live output, and while that
 * runs the same echo measurement is made on the PROBES sessions at once.
 * Beside the alia probes, as many raw probes are typed at the same time:
 * containers created with alia's body, attached to and started on the
 * Docker socket directly (bench/common.c), so that alia's loaded echo is
 * a ratio to the best any Docker-backed terminal can do under the same
 * load; one raw probe alone, after the idle alia session, is the idle
 * reference. It prints tables: echo p50/p99 idle and loaded with their
 * ratio, alia's loaded echo against the raw probes', whether the watchers
 * got their controller's output, alia's memory and CPU and how busy the
 * machine was, creation time, output delivered per second.
 * Run it through with-server.sh (it reads ALIA_PORT and ALIA_SERVER_PID);
 * script/bench-load does that.
 *
 * The measurement. A probe session does not run the generator: its output
 * is only the echo of what is typed, so the time from a key to its echo is
 * the server's (and the machine's) responsiveness under the load of the
 * others, not a wait behind the session's own output. Keys are typed into
 * the control socket one at a time, the next once the previous one's echo
 * has arrived; a line is abandoned (^U) every LINE_KEYS keys, and typing
 * resumes once the control socket has been quiet for QUIET_MS. The keys
 * are typed between two markers, the outputs of `echo ps$((7*6))b` and
 * `echo pe$((7*6))b`; what each watcher received between them must equal,
 * byte for byte, what the controller received.
 *
 * One thread reads every socket through poll() all along, so no client of
 * the server is ever slow; only the creation and the deletion of sessions
 * run in a few threads, because each POST waits for a container to start.
 */
#include <sys/types.h>
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bench/common.h"
#include "tests/lib/wsclient.h"

#define QUIET_MS   100   /* of silence after ^U before typing again */
#define ECHO_MS    5000  /* a key's echo must come within this */
#define MARK_MS    20000 /* a marker must reach every socket within this */
#define PROMPT_MS  90000 /* every prompt after the websockets opened */
#define WARM_MS    3000  /* of load before measuring */
#define WINDOW_MS  10000 /* the shortest measured window of load */
#define LINE_KEYS  40    /* keys typed before abandoning the line */
#define MAX_FAILED 5     /* failures told in detail */
#define MARK_START "echo ps$((7*6))b\r"
#define MARK_END   "echo pe$((7*6))b\r"
#define SEEN_START "ps42b\r\n"
#define SEEN_END   "pe42b\r\n"
/*
 * The output generator: a line of rate/2 bytes twice a second. The line
 * is made once, so a tick costs one fork (sleep) and one write: the load
 * is then alia's (and Docker's) to carry more than the containers' to make.
 */
#define GENERATOR \
	"s=$(head -c %d /dev/zero|tr \\\\0 x);while :;do echo $s;sleep 0.5;done\r"

/* Where a probe session stands in its measurement. */
enum probe_state {
	P_OFF,   /* not a probe, or not started */
	P_START, /* the start marker is typed; waiting for it everywhere */
	P_QUIET, /* waiting for QUIET_MS of silence on the control socket */
	P_ECHO,  /* a key is typed; waiting for its echo */
	P_END,   /* the end marker is typed; waiting for it everywhere */
	P_DONE,
};

/* One websocket; sk[0] of a session is its control socket. */
struct sock {
	struct wsc ws;
	struct lsess *s;
	char *out; /* output kept while the session keeps it */
	size_t outlen, outcap;
	size_t bytes; /* output bytes since the counters were reset */
	size_t mark;  /* the end of the start marker in out, or 0 */
	int prompt;   /* a prompt has arrived */
	int resyncs;
};

/*
 * One session with its websockets and, for a probe, its measurement; or a
 * raw probe: a container whose one socket is its Docker attach stream.
 */
struct lsess {
	char id[80]; /* alia's session id, or the raw container's id */
	char ws[160];
	int created;
	int raw;
	struct sock *sk; /* control, then the watchers */
	int nsk;
	int keep; /* keep output: until the prompt, and on probes */
	int probe;
	enum probe_state st;
	char key;
	int keys, typed;
	long t0, lastout, since; /* us */
};

/* alia's memory and CPU time, and the machine's, at one moment. */
struct usage {
	long at_us;
	long rss_kib;
	unsigned long alia_ticks;
	unsigned long busy_ticks, all_ticks;
};

/* The outcome of one echo measurement. */
struct phase {
	double p50, p99;         /* ms */
	double raw_p50, raw_p99; /* ms, of the raw probes */
	int echoes, raw_echoes;
	int compared, mismatches; /* watchers checked, and differing */
	struct usage u0, u1;      /* at the start and at the end */
};

/* What the loaded run saw besides echo. */
struct load {
	double create_s, prompt_s, window_s;
	size_t bytes;     /* output to all websockets in the window */
	size_t gen_bytes; /* to the control sockets of generators */
	int resyncs, stalled;
};

static int port;
static pid_t server_pid;
static int nsess = 100, nwatch = 3, nkeys = 200, nprobes = 10, width = 8;
static int nraw;        /* raw probes, after the sessions in sess: nprobes */
static int rate = 3000; /* output bytes a second of a generator session */
static struct wsc_agent agent; /* holds the identity's cookie */
static struct lsess *sess;     /* nsess sessions, then nraw raw probes */
static struct pollfd *pfds;
static struct sock **pfd_sock;
static double *lat; /* echo latencies of the current measurement, us */
static int nlat;
static double *lat_raw; /* those of the raw probes */
static int nlat_raw;
static int errors, mismatches, compared;

static void fail(const char *, ...) __attribute__((format(printf, 1, 2)));
static void line(const char *, const char *, ...)
    __attribute__((format(printf, 2, 3)));

static void
fail(const char *fmt, ...)
{
	va_list ap;

	__atomic_fetch_add(&errors, 1, __ATOMIC_SEQ_CST); /* also in threads */
	fprintf(stderr, "alia-load: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\n");
}

static void *
xrealloc(void *p, size_t n)
{
	if ((p = realloc(p, n)) == NULL) {
		perror("alia-load");
		abort();
	}
	return p;
}

static void *
xcalloc(size_t n, size_t size)
{
	void *p;

	if ((p = calloc(n, size)) == NULL) {
		perror("alia-load");
		abort();
	}
	return p;
}

/*
 * The parent of pid, its name (comm) and the CPU time it has used
 * (ticks, may be NULL); -1 when it is gone.
 */
static pid_t
proc_stat(pid_t pid, char *comm, size_t commlen, unsigned long *ticks)
{
	char path[64], buf[1024], *lp, *rp;
	unsigned long ut, st;
	int ppid;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/stat", pid);
	if ((f = fopen(path, "r")) == NULL)
		return -1;
	if (fgets(buf, sizeof(buf), f) == NULL ||
	    (lp = strchr(buf, '(')) == NULL ||
	    (rp = strrchr(buf, ')')) == NULL ||
	    sscanf(rp + 1,
	        " %*c %d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu", &ppid,
	        &ut, &st) != 3) {
		fclose(f);
		return -1;
	}
	fclose(f);
	snprintf(comm, commlen, "%.*s", (int)(rp - lp - 1), lp + 1);
	if (ticks != NULL)
		*ticks = ut + st;
	return ppid;
}

/*
 * Sums VmRSS and CPU time over alia's processes: named "alia" or
 * "alia-ROLE" and, when ALIA_SERVER_PID names the server, descending from
 * it. Also reads the machine's busy and total CPU time.
 */
static void
usage_read(struct usage *u)
{
	char comm[64], other[64], path[64], buf[256];
	unsigned long ticks, v[8];
	struct dirent *de;
	pid_t pid, p;
	long kib;
	DIR *d;
	FILE *f;
	int i;

	memset(u, 0, sizeof(*u));
	u->at_us = wsc_now_us();
	if ((f = fopen("/proc/stat", "r")) != NULL) {
		if (fscanf(f, "cpu %lu %lu %lu %lu %lu %lu %lu %lu", &v[0],
		        &v[1], &v[2], &v[3], &v[4], &v[5], &v[6], &v[7]) == 8)
			for (i = 0; i < 8; i++) {
				u->all_ticks += v[i];
				if (i != 3 && i != 4) /* idle, iowait */
					u->busy_ticks += v[i];
			}
		fclose(f);
	}
	if ((d = opendir("/proc")) == NULL)
		return;
	while ((de = readdir(d)) != NULL) {
		if (!isdigit((unsigned char)de->d_name[0]) ||
		    (pid = atoi(de->d_name)) == getpid() ||
		    proc_stat(pid, comm, sizeof(comm), &ticks) == -1 ||
		    (strncmp(comm, "alia-", 5) != 0 &&
		        strcmp(comm, "alia") != 0))
			continue;
		for (p = pid; server_pid > 0 && p > 1 && p != server_pid;)
			p = proc_stat(p, other, sizeof(other), NULL);
		if (server_pid > 0 && p != server_pid)
			continue;
		u->alia_ticks += ticks;
		snprintf(path, sizeof(path), "/proc/%d/status", pid);
		if ((f = fopen(path, "r")) == NULL)
			continue;
		while (fgets(buf, sizeof(buf), f) != NULL)
			if (sscanf(buf, "VmRSS: %ld kB", &kib) == 1)
				u->rss_kib += kib;
		fclose(f);
	}
	closedir(d);
}

/* alia's CPU, in cores, and how busy the machine was, between a and b. */
static void
usage_between(
    const struct usage *a, const struct usage *b, double *alia, double *busy)
{
	double s = (b->at_us - a->at_us) / 1e6;
	long hz = sysconf(_SC_CLK_TCK);

	*alia = s > 0 ? (b->alia_ticks - a->alia_ticks) / (double)hz / s : 0;
	*busy = b->all_ticks > a->all_ticks
	    ? (double)(b->busy_ticks - a->busy_ticks) /
	        (b->all_ticks - a->all_ticks)
	    : 0;
}

/* The work of pool_run(): calls of pool_fn up to pool_n, the next first. */
static int pool_n, pool_next;
static void (*pool_fn)(int);

static void *
pool_thread(void *arg)
{
	int i;

	while (
	    (i = __atomic_fetch_add(&pool_next, 1, __ATOMIC_SEQ_CST)) < pool_n)
		pool_fn(i);
	return NULL;
}

/* Runs fn(0) .. fn(n - 1), width calls at a time. */
static void
pool_run(int n, void (*fn)(int))
{
	pthread_t t[64];
	int i, rv, k = width < n ? width : n;

	pool_n = n;
	pool_next = 0;
	pool_fn = fn;
	for (i = 0; i < k; i++)
		if ((rv = pthread_create(&t[i], NULL, pool_thread, NULL)) !=
		    0) {
			fprintf(stderr, "alia-load: pthread_create: %s\n",
			    strerror(rv));
			abort();
		}
	for (i = 0; i < k; i++)
		pthread_join(t[i], NULL);
}

static void
create_one(int i)
{
	struct wsc_agent a = agent;
	struct lsess *s = &sess[i];

	if (common_session_create(
	        &a, s->id, sizeof(s->id), s->ws, sizeof(s->ws)) == 201)
		s->created = 1;
}

/*
 * Creates, attaches to and starts raw probe s, its one socket the attach
 * stream; 0 or -1. Its id is set whenever a container was made.
 */
static int
lsess_raw(struct lsess *s)
{
	s->raw = s->probe = s->keep = 1;
	s->nsk = 1;
	s->sk = xcalloc(1, sizeof(*s->sk));
	s->sk[0].s = s;
	if (common_raw_open(&s->sk[0].ws, s->id, sizeof(s->id)) == -1) {
		fail("a raw container could not be started");
		return -1;
	}
	s->created = 1;
	return 0;
}

static void
create_raw(int i)
{
	(void)lsess_raw(&sess[nsess + i]);
}

/* Deletes session i, or removes raw container i. */
static void
delete_one(int i)
{
	struct wsc_agent a = agent;
	int status;

	if (sess[i].raw) {
		common_raw_remove(sess[i].id);
		sess[i].id[0] = '\0';
		sess[i].created = 0;
		return;
	}
	if (!sess[i].created)
		return;
	if ((status = common_session_delete(&a, sess[i].id)) != 204)
		fail("DELETE /api/sessions/%s: %d", sess[i].id, status);
	sess[i].created = 0;
}

/* Closes the websockets of s. */
static void
lsess_close(struct lsess *s)
{
	int j;

	for (j = 0; j < s->nsk; j++) {
		wsc_free(&s->sk[j].ws);
		free(s->sk[j].out);
	}
	free(s->sk);
	s->sk = NULL;
	s->nsk = 0;
}

/* Opens the control websocket and nw watchers on s; 0 or -1. */
static int
lsess_open(struct lsess *s, int nw)
{
	struct wsc_msg m;
	char path[200], type[32];
	int j, rv;

	s->nsk = 1 + nw;
	s->sk = xcalloc((size_t)s->nsk, sizeof(*s->sk));
	s->keep = 1;
	for (j = 0; j < s->nsk; j++) {
		s->sk[j].s = s;
		wsc_init(&s->sk[j].ws, -1);
	}
	for (j = 0; j < s->nsk; j++) {
		snprintf(path, sizeof(path), "%s%s", s->ws,
		    j == 0 ? "" : "?mode=watch");
		if (wsc_open(&s->sk[j].ws, &agent, path) == -1) {
			if (s->sk[j].ws.resp.status == 0)
				fail("GET %s: no HTTP answer", path);
			else
				fail("GET %s: %d %s", path,
				    s->sk[j].ws.resp.status,
				    s->sk[j].ws.resp.body);
			return -1;
		}
		if ((rv = wsc_recv(&s->sk[j].ws, &m, 10000)) != 1 ||
		    m.op != WSC_OP_TEXT ||
		    wsc_json_get((char *)m.data, "type", type, sizeof(type)) ==
		        -1 ||
		    strcmp(type, "hello") != 0) {
			fail("%s: no hello (%s)", path,
			    rv == 0 ? "timeout" : "another message");
			return -1;
		}
	}
	return 0;
}

/* Types keys into the control socket of s; 0 or -1, told. */
static int
lsess_type(struct lsess *s, const char *keys)
{
	struct wsc *w = &s->sk[0].ws;

	if ((s->raw ? wsc_send_raw(w, keys, strlen(keys))
	            : wsc_send_binary(w, keys, strlen(keys))) == 0)
		return 0;
	fail("session %s: cannot type into the control socket", s->id);
	return -1;
}

/* Keeps output of k; notes the first prompt. */
static void
sock_keep(struct sock *k, const unsigned char *p, size_t n)
{
	size_t need = k->outlen + n + 1;

	if (need > k->outcap)
		k->out = xrealloc(k->out, k->outcap = need * 2);
	memcpy(k->out + k->outlen, p, n);
	k->out[k->outlen += n] = '\0';
	if (!k->prompt && memmem(k->out, k->outlen, "$ ", 2) != NULL)
		k->prompt = 1;
}

/* Output on a probe's control socket: the echo it waits for? */
static void
probe_output(struct lsess *s, const unsigned char *p, size_t n)
{
	long now = wsc_now_us();

	s->lastout = now;
	if (s->st != P_ECHO || memchr(p, s->key, n) == NULL)
		return;
	if (s->raw)
		lat_raw[nlat_raw++] = (double)(now - s->t0);
	else
		lat[nlat++] = (double)(now - s->t0);
	s->keys++;
	if (++s->typed == LINE_KEYS) {
		/* Abandon the line (^U) before it wraps. */
		s->typed = 0;
		(void)lsess_type(s, "\x15");
		s->st = P_QUIET;
		return;
	}
	s->st = P_QUIET;
	s->lastout = 0; /* the next key at once */
}

/* Output bytes on k: counted, kept, and a probe's echo? */
static void
sock_output(struct sock *k, const unsigned char *p, size_t n)
{
	k->bytes += n;
	if (k->s->keep)
		sock_keep(k, p, n);
	if (k == &k->s->sk[0] && k->s->probe)
		probe_output(k->s, p, n);
}

/* Reads what a raw attach stream has; -1 when it ended. */
static int
sock_drain_raw(struct sock *k)
{
	unsigned char buf[16384];
	struct wsc *w = &k->ws;
	ssize_t n;

	/* Bytes read past the answer to the attach request come first. */
	if (w->inoff < w->inlen) {
		sock_output(k, w->in + w->inoff, w->inlen - w->inoff);
		w->inoff = w->inlen;
	}
	while ((n = read(w->fd, buf, sizeof(buf))) > 0)
		sock_output(k, buf, (size_t)n);
	if (n == 0 || (errno != EAGAIN && errno != EINTR)) {
		fail("raw container %.12s: the attach stream ended", k->s->id);
		return -1;
	}
	return 0;
}

/* Reads every message k has; -1 when its connection ended. */
static int
sock_drain(struct sock *k)
{
	struct wsc_msg m;
	char type[32];
	int rv;

	if (k->s->raw)
		return sock_drain_raw(k);
	while ((rv = wsc_recv(&k->ws, &m, 0)) == 1) {
		switch (m.op) {
		case WSC_OP_BINARY:
			sock_output(k, m.data, m.len);
			break;
		case WSC_OP_TEXT:
			if (wsc_json_get((char *)m.data, "type", type,
			        sizeof(type)) == -1)
				break;
			if (strcmp(type, "resync") == 0)
				k->resyncs++;
			else if (strcmp(type, "error") == 0)
				fail("session %s: %s", k->s->id, m.data);
			break;
		case WSC_OP_CLOSE:
			fail("session %s: %s socket closed: %d %s", k->s->id,
			    k == &k->s->sk[0] ? "control" : "watch", m.code,
			    m.reason);
			return -1;
		default:
			break;
		}
	}
	if (rv == -1) {
		fail("session %s: %s connection ended", k->s->id,
		    k == &k->s->sk[0] ? "control" : "watch");
		return -1;
	}
	return 0;
}

/* Waits up to timeout_ms and reads whatever sockets of ss[0..n) have. */
static int
pump(struct lsess *ss, int n, int timeout_ms)
{
	nfds_t nfd = 0, i;
	struct wsc *w;
	int j, k, held = 0;

	for (j = 0; j < n; j++)
		for (k = 0; k < ss[j].nsk; k++) {
			w = &ss[j].sk[k].ws;
			pfds[nfd].fd = w->fd;
			pfds[nfd].events = POLLIN;
			pfds[nfd].revents = 0;
			pfd_sock[nfd++] = &ss[j].sk[k];
			/* Read past a message (the hello), not yet parsed. */
			held |= w->inoff < w->inlen;
		}
	if (poll(pfds, nfd, held ? 0 : timeout_ms) == -1)
		return 0;
	for (i = 0; i < nfd; i++) {
		w = &pfd_sock[i]->ws;
		if ((pfds[i].revents != 0 || w->inoff < w->inlen) &&
		    sock_drain(pfd_sock[i]) == -1)
			return -1;
	}
	return 0;
}

/* Pumps for ms milliseconds. */
static int
pump_for(struct lsess *ss, int n, long ms)
{
	long end = wsc_now_us() + ms * 1000;

	while (wsc_now_us() < end)
		if (pump(ss, n, 50) == -1)
			return -1;
	return 0;
}

/* Tells on stderr what k has received so far. */
static void
sock_tell(struct sock *k)
{
	size_t i, from = k->outlen > 80 ? k->outlen - 80 : 0;

	fprintf(stderr,
	    "alia-load:   session %s, socket %d (0: control): %zu bytes%s",
	    k->s->id, (int)(k - k->s->sk), k->outlen,
	    k->outlen > 0 ? ", ending '" : "\n");
	for (i = from; i < k->outlen; i++)
		fprintf(stderr,
		    isprint((unsigned char)k->out[i]) ? "%c" : "\\x%02x",
		    (unsigned char)k->out[i]);
	if (k->outlen > 0)
		fprintf(stderr, "'\n");
}

/* Pumps until every socket of ss[0..n) has shown a prompt. */
static int
wait_prompts(struct lsess *ss, int n)
{
	long deadline = wsc_now_us() + PROMPT_MS * 1000L;
	int j, k, missing;

	for (;;) {
		missing = 0;
		for (j = 0; j < n; j++)
			for (k = 0; k < ss[j].nsk; k++)
				missing += !ss[j].sk[k].prompt;
		if (missing == 0)
			return 0;
		if (wsc_now_us() >= deadline) {
			fail("%d websockets showed no prompt within %d s",
			    missing, PROMPT_MS / 1000);
			for (j = 0, missing = 0; j < n; j++)
				for (k = 0; k < ss[j].nsk; k++)
					if (!ss[j].sk[k].prompt &&
					    missing++ < MAX_FAILED)
						sock_tell(&ss[j].sk[k]);
			return -1;
		}
		if (pump(ss, n, 50) == -1)
			return -1;
	}
}

/* The end of needle in k's output after from, or 0. */
static size_t
sock_find(struct sock *k, size_t from, const char *needle)
{
	char *hit;

	if (k->out == NULL || from > k->outlen ||
	    (hit = memmem(k->out + from, k->outlen - from, needle,
	         strlen(needle))) == NULL)
		return 0;
	return (size_t)(hit - k->out) + strlen(needle);
}

/* Compares what each watcher got between the markers with the control's. */
static void
probe_compare(struct lsess *s, size_t *end)
{
	size_t clen = end[0] - s->sk[0].mark, wlen;
	int j;

	for (j = 1; j < s->nsk; j++) {
		wlen = end[j] - s->sk[j].mark;
		compared++;
		if (wlen == clen &&
		    memcmp(s->sk[0].out + s->sk[0].mark,
		        s->sk[j].out + s->sk[j].mark, clen) == 0)
			continue;
		if (mismatches++ < MAX_FAILED)
			fprintf(stderr,
			    "alia-load: session %s: watcher %d got %zu bytes "
			    "between the markers, the controller %zu, not "
			    "the same\n",
			    s->id, j, wlen, clen);
	}
}

/* Moves a probe on by time or by what has arrived; -1 on failure. */
static int
probe_step(struct lsess *s, long now)
{
	size_t end[64];
	int j;

	switch (s->st) {
	case P_START:
	case P_END:
		for (j = 0; j < s->nsk; j++) {
			end[j] = sock_find(&s->sk[j], s->sk[j].mark,
			    s->st == P_START ? SEEN_START : SEEN_END);
			if (end[j] == 0)
				break;
		}
		if (j < s->nsk) {
			if (now - s->since > MARK_MS * 1000L) {
				fail("session %s: the %s marker did not reach "
				     "socket %d within %d s",
				    s->id, s->st == P_START ? "start" : "end",
				    j, MARK_MS / 1000);
				return -1;
			}
			return 0;
		}
		if (s->st == P_END) {
			probe_compare(s, end);
			s->st = P_DONE;
			return 0;
		}
		for (j = 0; j < s->nsk; j++)
			s->sk[j].mark = end[j];
		s->lastout = now;
		s->st = P_QUIET;
		return 0;
	case P_QUIET:
		if (now - s->lastout < QUIET_MS * 1000L)
			return 0;
		if (s->keys == nkeys) {
			s->st = P_END;
			s->since = now;
			return lsess_type(s, "\x15" MARK_END);
		}
		s->key = (char)('a' + s->keys % 26);
		s->st = P_ECHO;
		s->t0 = wsc_now_us();
		return lsess_type(s, (char[]){s->key, '\0'});
	case P_ECHO:
		if (now - s->t0 > ECHO_MS * 1000L) {
			fail("session %s: no echo of '%c' within %d s", s->id,
			    s->key, ECHO_MS / 1000);
			return -1;
		}
		return 0;
	default:
		return 0;
	}
}

/*
 * Measures echo on the probes among ss[0..n) at once while pumping every
 * socket, for at least min_ms; the latencies go to lat[0..nlat).
 */
static int
measure(struct lsess *ss, int n, long min_ms, struct phase *ph)
{
	long t0 = wsc_now_us(), now;
	int j, busy;

	usage_read(&ph->u0);
	nlat = nlat_raw = 0;
	for (j = 0; j < n; j++) {
		if (!ss[j].probe)
			continue;
		ss[j].st = P_START;
		ss[j].since = t0;
		ss[j].keys = ss[j].typed = 0;
		if (lsess_type(&ss[j], MARK_START) == -1)
			return -1;
	}
	for (;;) {
		now = wsc_now_us();
		busy = 0;
		for (j = 0; j < n; j++) {
			if (!ss[j].probe)
				continue;
			if (probe_step(&ss[j], now) == -1)
				return -1;
			busy += ss[j].st != P_DONE;
		}
		if (busy == 0 && now - t0 >= min_ms * 1000)
			return 0;
		if (pump(ss, n, busy ? 5 : 50) == -1)
			return -1;
	}
}

static void
usage(void)
{
	fprintf(stderr,
	    "usage: alia-load [-s sessions] [-w watchers] [-k keys] "
	    "[-p probes] [-c in-flight] [-o output-bytes/s]\n");
	exit(2);
}

/* The options that set a number, with their bounds. */
static const struct {
	int ch;
	int *v;
	int lo, hi;
} opts[] = {
    {'s', &nsess, 1, 10000},
    {'w', &nwatch, 0, 62},
    {'k', &nkeys, 1, 100000},
    {'p', &nprobes, 1, 10000},
    {'c', &width, 1, 64},
    {'o', &rate, 2, 10000000},
    {'\0', NULL, 0, 0},
};

static int
number(const char *s, int lo, int hi)
{
	char *end;
	long v = strtol(s, &end, 10);

	if (*s == '\0' || *end != '\0' || v < lo || v > hi)
		usage();
	return (int)v;
}

/* Cleans up and says why the run failed. */
static int
give_up(const char *step)
{
	int i;

	fprintf(stderr, "alia-load: failed %s; deleting the sessions\n", step);
	for (i = 0; i < nsess + nraw; i++)
		lsess_close(&sess[i]);
	pool_run(nsess + nraw, delete_one);
	return 1;
}

/* Sets the percentiles and the watcher counts of a finished measurement. */
static void
phase_end(struct phase *ph)
{
	if (nlat > 0) {
		ph->p50 = common_percentile(lat, nlat, 0.50) / 1000;
		ph->p99 = common_percentile(lat, nlat, 0.99) / 1000;
	}
	if (nlat_raw > 0) {
		ph->raw_p50 = common_percentile(lat_raw, nlat_raw, 0.50) / 1000;
		ph->raw_p99 = common_percentile(lat_raw, nlat_raw, 0.99) / 1000;
	}
	ph->echoes = nlat;
	ph->raw_echoes = nlat_raw;
	ph->compared = compared;
	ph->mismatches = mismatches;
	usage_read(&ph->u1);
	compared = mismatches = 0;
}

/* 1. Echo on one session with its watchers and nothing else; 0 or -1. */
static int
run_idle(struct phase *ph)
{
	struct lsess base;
	int rv = -1, status;

	fprintf(
	    stderr, "alia-load: idle echo on one session, %d keys\n", nkeys);
	memset(&base, 0, sizeof(base));
	if (common_session_create(&agent, base.id, sizeof(base.id), base.ws,
	        sizeof(base.ws)) != 201)
		return -1;
	if (agent.cookie[0] == '\0')
		fail("the first POST /api/sessions set no cookie");
	else {
		base.probe = 1;
		if (lsess_open(&base, nwatch) == 0 &&
		    wait_prompts(&base, 1) == 0 &&
		    measure(&base, 1, 0, ph) == 0) {
			phase_end(ph);
			rv = 0;
		}
	}
	lsess_close(&base);
	if ((status = common_session_delete(&agent, base.id)) != 204)
		fail("DELETE /api/sessions/%s: %d", base.id, status);
	return rv;
}

/* 1b. Echo on one raw probe and nothing else; 0 or -1. */
static int
run_idle_raw(struct phase *ph)
{
	struct lsess base;
	int rv = -1;

	fprintf(stderr, "alia-load: idle echo on one raw container, %d keys\n",
	    nkeys);
	memset(&base, 0, sizeof(base));
	if (lsess_raw(&base) == 0 && wait_prompts(&base, 1) == 0 &&
	    measure(&base, 1, 0, ph) == 0) {
		phase_end(ph);
		rv = 0;
	}
	lsess_close(&base);
	common_raw_remove(base.id);
	return rv;
}

/* 2. The sessions, their websockets, their prompts; 0 or -1. */
static int
run_setup(struct load *ld)
{
	long t0 = wsc_now_us();
	int i, made;

	fprintf(stderr, "alia-load: creating %d sessions, %d at a time\n",
	    nsess, width);
	pool_run(nsess, create_one);
	ld->create_s = (wsc_now_us() - t0) / 1e6;
	for (i = made = 0; i < nsess; i++)
		made += sess[i].created;
	fprintf(stderr, "alia-load: %d of %d sessions in %.1f s\n", made, nsess,
	    ld->create_s);
	if (made < nsess) {
		fail("only %d of %d sessions were created (the server allows "
		     "ALIA_MAX_SESSIONS_PER_USER at once per identity)",
		    made, nsess);
		return -1;
	}
	pool_run(nraw, create_raw);
	for (i = made = 0; i < nraw; i++)
		made += sess[nsess + i].created;
	if (made < nraw)
		return -1;
	fprintf(stderr, "alia-load: %d raw containers attached\n", nraw);
	for (i = 0; i < nprobes; i++)
		sess[(long)i * nsess / nprobes].probe = 1;
	for (i = 0; i < nsess; i++)
		if (lsess_open(&sess[i], nwatch) == -1)
			return -1;
	fprintf(
	    stderr, "alia-load: %d websockets open\n", nsess * (1 + nwatch));
	if (wait_prompts(sess, nsess + nraw) == -1)
		return -1;
	ld->prompt_s = (wsc_now_us() - t0) / 1e6;
	return 0;
}

/* 3 and 4. Output everywhere but on the probes, and echo on those. */
static int
run_loaded(struct phase *ph, struct load *ld)
{
	struct lsess *s;
	char gen[128];
	long t0;
	int i, j;

	snprintf(gen, sizeof(gen), GENERATOR, rate / 2);
	for (i = 0; i < nsess; i++) {
		s = &sess[i];
		if (s->probe)
			continue;
		s->keep = 0;
		for (j = 0; j < s->nsk; j++) {
			free(s->sk[j].out);
			s->sk[j].out = NULL;
			s->sk[j].outlen = s->sk[j].outcap = 0;
		}
		if (lsess_type(s, gen) == -1)
			return -1;
	}
	fprintf(stderr, "alia-load: output running in %d sessions\n",
	    nsess - nprobes);
	if (pump_for(sess, nsess + nraw, WARM_MS) == -1)
		return -1;
	for (i = 0; i < nsess; i++)
		for (j = 0; j < sess[i].nsk; j++)
			sess[i].sk[j].bytes = 0;
	t0 = wsc_now_us();
	if (measure(sess, nsess + nraw, WINDOW_MS, ph) == -1)
		return -1;
	ld->window_s = (wsc_now_us() - t0) / 1e6;
	phase_end(ph);
	for (i = 0; i < nsess; i++)
		for (j = 0; j < sess[i].nsk; j++) {
			s = &sess[i];
			ld->bytes += s->sk[j].bytes;
			if (!s->probe && j == 0)
				ld->gen_bytes += s->sk[j].bytes;
			ld->resyncs += s->sk[j].resyncs;
			ld->stalled += s->sk[j].bytes == 0;
		}
	if (ld->stalled > 0)
		fail(
		    "%d websockets received nothing while loaded", ld->stalled);
	return 0;
}

static void
row(const char *metric, const char *idle, const char *loaded, const char *ratio)
{
	printf("| %-34s | %12s | %12s | %11s |\n", metric, idle, loaded, ratio);
}

/* One row of the second table: a metric and its value. */
static void
line(const char *metric, const char *fmt, ...)
{
	char v[128];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(v, sizeof(v), fmt, ap);
	va_end(ap);
	printf("| %-34s | %-44s |\n", metric, v);
}

/* 5. The two tables. */
static void
print_tables(const struct phase *id, const struct phase *ld_ph,
    const struct load *ld, const struct usage *u0)
{
	char a[32], b[32], c[32];
	double cores[2], busy[2];
	int ngen = nsess - nprobes;

	printf("\nalia under load: %d sessions x %d watchers, echo of %d keys "
	       "on %d probe session%s (idle: one session, same watchers)\n\n",
	    nsess, nwatch, nkeys, nprobes, nprobes == 1 ? "" : "s");
	printf("| %-34s | %12s | %12s | %11s |\n", "metric", "idle", "loaded",
	    "loaded/idle");
	printf("|------------------------------------|--------------|---------"
	       "-----|-------------|\n");
	snprintf(a, sizeof(a), "%.2f ms", id->p50);
	snprintf(b, sizeof(b), "%.2f ms", ld_ph->p50);
	snprintf(c, sizeof(c), "%.2fx", id->p50 > 0 ? ld_ph->p50 / id->p50 : 0);
	row("keystroke echo p50", a, b, c);
	snprintf(a, sizeof(a), "%.2f ms", id->p99);
	snprintf(b, sizeof(b), "%.2f ms", ld_ph->p99);
	snprintf(c, sizeof(c), "%.2fx", id->p99 > 0 ? ld_ph->p99 / id->p99 : 0);
	row("keystroke echo p99", a, b, c);
	snprintf(a, sizeof(a), "%d", id->echoes);
	snprintf(b, sizeof(b), "%d", ld_ph->echoes);
	row("echoes measured", a, b, "");
	snprintf(a, sizeof(a), "%d of %d", id->compared - id->mismatches,
	    id->compared);
	snprintf(b, sizeof(b), "%d of %d", ld_ph->compared - ld_ph->mismatches,
	    ld_ph->compared);
	row("watchers' output = controller's", a, b, "");
	snprintf(a, sizeof(a), "%.1f MiB", id->u1.rss_kib / 1024.0);
	snprintf(b, sizeof(b), "%.1f MiB", ld_ph->u1.rss_kib / 1024.0);
	snprintf(c, sizeof(c), "%.2fx",
	    id->u1.rss_kib > 0 ? (double)ld_ph->u1.rss_kib / id->u1.rss_kib
	                       : 0);
	row("alia RSS (sum of VmRSS)", a, b, c);
	usage_between(&id->u0, &id->u1, &cores[0], &busy[0]);
	usage_between(&ld_ph->u0, &ld_ph->u1, &cores[1], &busy[1]);
	snprintf(a, sizeof(a), "%.0f%%", cores[0] * 100);
	snprintf(b, sizeof(b), "%.0f%%", cores[1] * 100);
	row("alia CPU (% of one core)", a, b, "");
	snprintf(a, sizeof(a), "%.0f%%", busy[0] * 100);
	snprintf(b, sizeof(b), "%.0f%%", busy[1] * 100);
	snprintf(c, sizeof(c), "of %ld", sysconf(_SC_NPROCESSORS_ONLN));
	row("machine CPU busy (all cores)", a, b, c);

	printf("\n| %-34s | %-44s |\n", "under load", "value");
	printf("|------------------------------------|-------------------------"
	       "---------------------|\n");
	line(
	    "sessions", "%d (%d with output, %d probed)", nsess, ngen, nprobes);
	line("watchers per session", "%d", nwatch);
	line("websockets open", "%d", nsess * (1 + nwatch));
	line("creation of all sessions", "%.1f s (%d in flight, %.2f s each)",
	    ld->create_s, width, ld->create_s / nsess);
	line("first POST to the last prompt", "%.1f s", ld->prompt_s);
	line("output delivered to all clients", "%.3f MB/s over %.1f s",
	    ld->bytes / ld->window_s / 1e6, ld->window_s);
	line("output of a session with output", "%.2f KB/s, to each of %d",
	    ngen > 0 ? ld->gen_bytes / ld->window_s / 1e3 / ngen : 0,
	    1 + nwatch);
	line("alia RSS per session", "%.2f MiB (%.1f MiB above the start)",
	    (ld_ph->u1.rss_kib - u0->rss_kib) / 1024.0 / nsess,
	    (ld_ph->u1.rss_kib - u0->rss_kib) / 1024.0);
	line("resyncs (a client fell behind)", "%d", ld->resyncs);
	line("websockets without output", "%d", ld->stalled);
	line("errors", "%d", errors);
	fflush(stdout);
}

/* A row of the table against raw: the two values, their ratio, the goal. */
static void
row_raw(
    const char *metric, double raw, double alia, const char *goal, double most)
{
	char r[32], a[32], q[32], g[48];
	double ratio = raw > 0 ? alia / raw : 0;

	snprintf(r, sizeof(r), "%.2f ms", raw);
	snprintf(a, sizeof(a), "%.2f ms", alia);
	snprintf(q, sizeof(q), "%.2fx", ratio);
	snprintf(g, sizeof(g), "%s%s", goal,
	    most == 0 ? "" : (ratio <= most ? ": met" : ": NOT met"));
	printf("| %-26s | %12s | %12s | %8s | %-17s |\n", metric, r, a, q, g);
}

/* 5b. alia's echo against the raw probes', idle and under load. */
static void
print_raw(const struct phase *idle, const struct phase *idle_raw,
    const struct phase *loaded)
{
	printf("\nalia against the raw Docker attach stream: %d raw probe%s "
	       "typed beside the alia probes under the same load (%d "
	       "echoes); idle: one raw container alone (%d echoes)\n\n",
	    nraw, nraw == 1 ? "" : "s", loaded->raw_echoes,
	    idle_raw->raw_echoes);
	printf("| %-26s | %12s | %12s | %8s | %-17s |\n", "metric",
	    "raw docker", "alia", "alia/raw", "goal");
	printf("|----------------------------|--------------|--------------|--"
	       "--------|-------------------|\n");
	row_raw(
	    "loaded echo p50", loaded->raw_p50, loaded->p50, "<= 1.2x", 1.2);
	row_raw(
	    "loaded echo p99", loaded->raw_p99, loaded->p99, "<= 1.2x", 1.2);
	row_raw(
	    "idle echo p50", idle_raw->raw_p50, idle->p50, "(reference)", 0);
	row_raw(
	    "idle echo p99", idle_raw->raw_p99, idle->p99, "(reference)", 0);
	fflush(stdout);
}

int
main(int argc, char **argv)
{
	struct phase idle, idle_raw, loaded;
	struct load ld;
	const char *p;
	struct usage start;
	long t0;
	int ch, i;

	signal(SIGPIPE, SIG_IGN);
	while ((ch = getopt(argc, argv, "s:w:k:p:c:o:")) != -1) {
		for (i = 0; opts[i].ch != ch; i++)
			if (opts[i].ch == '\0')
				usage();
		*opts[i].v = number(optarg, opts[i].lo, opts[i].hi);
	}
	if (argc != optind)
		usage();
	if (nprobes > nsess) {
		fprintf(stderr, "alia-load: -p %d > -s %d\n", nprobes, nsess);
		return 2;
	}
	if ((p = getenv("ALIA_PORT")) == NULL || (port = atoi(p)) <= 0) {
		fprintf(stderr,
		    "alia-load: set ALIA_PORT (run it through "
		    "tests/integration/with-server.sh or "
		    "script/bench-load)\n");
		return 2;
	}
	if ((p = getenv("ALIA_SERVER_PID")) != NULL)
		server_pid = atoi(p);
	wsc_agent_init(&agent, port);
	agent.timeout_ms = 60000;
	nraw = nprobes;
	i = nsess * (1 + nwatch) + nraw + 64;
	pfds = xcalloc((size_t)i, sizeof(*pfds));
	pfd_sock = xcalloc((size_t)i, sizeof(*pfd_sock));
	lat = xcalloc((size_t)nprobes * (size_t)nkeys, sizeof(*lat));
	lat_raw = xcalloc((size_t)nraw * (size_t)nkeys, sizeof(*lat_raw));
	sess = xcalloc((size_t)(nsess + nraw), sizeof(*sess));
	memset(&ld, 0, sizeof(ld));
	common_docker_env();
	usage_read(&start);

	if (run_idle(&idle) == -1) {
		fprintf(stderr, "alia-load: failed the idle measurement\n");
		return 1;
	}
	fprintf(stderr, "alia-load: idle echo p50 %.2f ms, p99 %.2f ms\n",
	    idle.p50, idle.p99);
	if (run_idle_raw(&idle_raw) == -1) {
		fprintf(stderr, "alia-load: failed the idle raw measurement\n");
		return 1;
	}
	fprintf(stderr, "alia-load: raw idle echo p50 %.2f ms, p99 %.2f ms\n",
	    idle_raw.raw_p50, idle_raw.raw_p99);
	if (run_setup(&ld) == -1)
		return give_up("to set up the sessions");
	if (run_loaded(&loaded, &ld) == -1)
		return give_up("under load");
	print_tables(&idle, &loaded, &ld, &start);
	print_raw(&idle, &idle_raw, &loaded);

	/* 6. Away with it all. */
	t0 = wsc_now_us();
	for (i = 0; i < nsess + nraw; i++)
		lsess_close(&sess[i]);
	pool_run(nsess + nraw, delete_one);
	fprintf(stderr,
	    "alia-load: deleted %d sessions and %d raw containers in %.1f s\n",
	    nsess, nraw, (wsc_now_us() - t0) / 1e6);
	if (idle.mismatches + loaded.mismatches > 0)
		fail("%d watchers did not get their controller's output",
		    idle.mismatches + loaded.mismatches);
	if (errors > 0) {
		fprintf(stderr, "alia-load: %d error%s (above)\n", errors,
		    errors == 1 ? "" : "s");
		return 1;
	}
	return 0;
}
