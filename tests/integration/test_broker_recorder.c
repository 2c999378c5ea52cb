/* SPDX-License-Identifier: ISC */
/*
 * Integration test of the recording path: the real binary's broker and
 * recorder roles ($ALIA_BIN -R broker, -R recorder, channel on fd 3) and a
 * real PostgreSQL started here (initdb into a temporary directory, as the
 * user alia when run as root). The test plays master (configuration and
 * socketpairs) and the workers: each fake worker sends seq-numbered
 * events whose bytes derive from (session, seq), keeps them until acked,
 * and sends them again on MSG_RESEND or a new broker channel, as
 * worker/record.c does. Phases: two sessions undisturbed; the recorder
 * killed with SIGKILL mid-stream and replaced; PostgreSQL stopped for 3 s
 * mid-stream; the broker killed and replaced; a replacement worker whose
 * seqs jump to a new range; a 50 MB bulk run, timed; 64 MB paced as a
 * busy shell prints it, which must share its commits; a replacement worker
 * after the recorder freed the session's state; master gone (the
 * recorder's channel closed) while PostgreSQL is down, after which the
 * recorder must leave at once and write nothing when it comes back.
 * After each phase every session's rows are read back: seq 0..N-1 once
 * each, every byte as sent, and the last ack covering them all.
 */
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pwd.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <libpq-fe.h>

#include "common/config.h"
#include "common/msg.h"
#include "common/proc.h"
#include "common/proto.h"

#define CHECK(c)                                                               \
	do {                                                                   \
		if (!(c)) {                                                    \
			fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, \
			    __LINE__, #c);                                     \
			cleanup();                                             \
			exit(1);                                               \
		}                                                              \
	} while (0)

#define MAX_WORKERS 4
#define WINDOW      4000 /* events a fake worker sends ahead of acks */

static char tmp[256], pgdata[300], bindir[256], conninfo[512];
static pid_t pg_pid = -1;
static int as_root;

struct role {
	pid_t pid;
	int chan;
};
static struct role broker = {-1, -1}, recorder = {-1, -1};

struct fworker {
	char session[SESSION_ID_LEN];
	struct uuid uuid; /* session, as messages carry it */
	uint64_t id;
	int fd; /* the test's end of the broker channel, -1: none */
	uint64_t first, total; /* seqs first to total - 1 */
	uint64_t sent, acked, resends;
	size_t size; /* 0: sizes vary */
};

static void
cleanup(void)
{
	char cmd[1024];

	if (broker.pid > 0)
		kill(broker.pid, SIGKILL);
	if (recorder.pid > 0)
		kill(recorder.pid, SIGKILL);
	if (pg_pid > 0) {
		snprintf(cmd, sizeof(cmd),
		    "%s'%s/pg_ctl' stop -s -m immediate -D '%s'",
		    as_root ? "runuser -u alia -- " : "", bindir, pgdata);
		if (system(cmd) != 0)
			kill(pg_pid, SIGKILL);
		waitpid(pg_pid, NULL, 0);
		pg_pid = -1;
	}
	if (tmp[0] != '\0' && getenv("KEEP_TMP") == NULL) {
		snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmp);
		if (system(cmd) != 0)
			fprintf(stderr, "cannot remove %s\n", tmp);
	}
}

static double
now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Runs argv (as alia when root) and waits; returns its exit status. */
static int
run(char *const argv[])
{
	char *full[32];
	pid_t pid;
	int status, i = 0, j;

	if (as_root) {
		full[i++] = "runuser";
		full[i++] = "-u";
		full[i++] = "alia";
		full[i++] = "--";
	}
	for (j = 0; argv[j] != NULL && i < 31; j++)
		full[i++] = argv[j];
	full[i] = NULL;
	CHECK((pid = fork()) != -1);
	if (pid == 0) {
		execvp(full[0], full);
		_exit(127);
	}
	CHECK(waitpid(pid, &status, 0) == pid);
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128;
}

static void
pg_find_bindir(void)
{
	struct dirent *de;
	DIR *d;
	int best = -1, v;

	CHECK((d = opendir("/usr/lib/postgresql")) != NULL);
	while ((de = readdir(d)) != NULL)
		if ((v = atoi(de->d_name)) > best)
			best = v;
	closedir(d);
	CHECK(best > 0);
	snprintf(bindir, sizeof(bindir), "/usr/lib/postgresql/%d/bin", best);
}

static void
pg_up(void)
{
	char prog[300], sockopt[300];
	double end = now_s() + 30;

	snprintf(prog, sizeof(prog), "%s/postgres", bindir);
	snprintf(sockopt, sizeof(sockopt), "%s", tmp);
	CHECK((pg_pid = fork()) != -1);
	if (pg_pid == 0) {
		int fd = open("/dev/null", O_WRONLY);

		if (fd != -1) {
			dup2(fd, 1);
			dup2(fd, 2);
		}
		if (as_root)
			execlp("runuser", "runuser", "-u", "alia", "--", prog,
			    "-D", pgdata, "-k", sockopt, "-c",
			    "listen_addresses=", (char *)NULL);
		else
			execl(prog, prog, "-D", pgdata, "-k", sockopt, "-c",
			    "listen_addresses=", (char *)NULL);
		_exit(127);
	}
	while (PQping(conninfo) != PQPING_OK) {
		CHECK(now_s() < end);
		usleep(50000);
	}
}

static void
pg_setup(void)
{
	char prog[300], cmd[600], mig[1200];
	struct passwd *pw;

	as_root = geteuid() == 0;
	snprintf(tmp, sizeof(tmp), "/tmp/alia-rec-XXXXXX");
	CHECK(mkdtemp(tmp) != NULL);
	if (as_root) {
		CHECK((pw = getpwnam("alia")) != NULL);
		CHECK(chown(tmp, pw->pw_uid, pw->pw_gid) == 0);
	}
	snprintf(pgdata, sizeof(pgdata), "%s/pgdata", tmp);
	snprintf(conninfo, sizeof(conninfo),
	    "host=%s dbname=postgres user=alia", tmp);
	pg_find_bindir();
	snprintf(prog, sizeof(prog), "%s/initdb", bindir);
	CHECK(
	    run((char *const[]){prog, "-D", pgdata, "-U", "alia",
	        "--auth=trust", "-E", "UTF8", "--no-sync", "-N", NULL}) == 0 ||
	    run((char *const[]){prog, "-D", pgdata, "-U", "alia",
	        "--auth=trust", "-E", "UTF8", NULL}) == 0);
	pg_up();
	snprintf(mig, sizeof(mig), "ALIA_DATABASE=%s", conninfo);
	putenv(mig);
	snprintf(cmd, sizeof(cmd), "'%s' migrate >&2", getenv("ALIA_BIN"));
	CHECK(system(cmd) == 0);
}

static void
pg_stop_fast(void)
{
	char prog[300];

	snprintf(prog, sizeof(prog), "%s/pg_ctl", bindir);
	CHECK(run((char *const[]){
	          prog, "stop", "-m", "fast", "-D", pgdata, NULL}) == 0);
	waitpid(pg_pid, NULL, 0);
	pg_pid = -1;
}

static void
role_start(struct role *r, const char *name)
{
	struct config conf;
	char err[256];
	int ch[2];
	const char *bin = getenv("ALIA_BIN");

	CHECK(bin != NULL);
	CHECK(msg_socketpair(ch) == 0);
	CHECK((r->pid = fork()) != -1);
	if (r->pid == 0) {
		if (ch[1] == PROC_CHAN_FD)
			fcntl(ch[1], F_SETFD, 0);
		else if (dup2(ch[1], PROC_CHAN_FD) == -1)
			_exit(126);
		execl(bin, bin, getenv("VERBOSE") ? "-v" : "-R",
		    getenv("VERBOSE") ? "-R" : name,
		    getenv("VERBOSE") ? name : (char *)NULL, (char *)NULL);
		_exit(127);
	}
	close(ch[1]);
	r->chan = ch[0];
	config_defaults(&conf);
	CHECK(config_finish(&conf, err, sizeof(err)) == 0);
	snprintf(conf.user, sizeof(conf.user), "alia");
	snprintf(conf.database, sizeof(conf.database), "%s", conninfo);
	CHECK(msg_send_config_blocking(r->chan, NULL, &conf) == 0);
}

static void
role_kill(struct role *r)
{
	kill(r->pid, SIGKILL);
	waitpid(r->pid, NULL, 0);
	close(r->chan);
	r->pid = -1;
	r->chan = -1;
}

/* master's part: a fresh pair between the broker and the recorder. */
static void
pair_recorder(void)
{
	struct msg_peer p;
	int sp[2];

	CHECK(msg_socketpair(sp) == 0);
	memset(&p, 0, sizeof(p));
	p.kind = PEER_RECORDER;
	CHECK(msg_send_broker_peer_blocking(broker.chan, NULL, sp[0], &p) == 0);
	CHECK(msg_send_recorder_peer_blocking(recorder.chan, NULL, sp[1], &p) ==
	    0);
	close(sp[0]);
	close(sp[1]);
}

/* master's part: a fresh pair between the broker and a worker. */
static void
pair_worker(struct fworker *w)
{
	struct msg_peer p;
	int sp[2];

	CHECK(msg_socketpair(sp) == 0);
	memset(&p, 0, sizeof(p));
	p.kind = PEER_WORKER;
	CHECK(msg_send_broker_peer_blocking(broker.chan, &w->uuid, sp[0], &p) ==
	    0);
	close(sp[0]);
	if (w->fd != -1)
		close(w->fd);
	w->fd = sp[1];
	/* A new channel: everything unacked again. */
	w->sent = w->acked;
}

/* The bytes of event seq of a session: what was sent, what must be read. */
static size_t
gen(const struct fworker *w, uint64_t seq, unsigned char *buf, char *kind)
{
	size_t len, i;
	uint64_t x = seq * 2654435761u + w->id;

	len = w->size ? w->size : 1 + (size_t)(x % 7919);
	for (i = 0; i < len; i++)
		buf[i] = (unsigned char)((x >> (i % 29)) + i * 7);
	*kind = seq % 10 == 9 ? 'm' : seq % 10 == 5 ? 'i' : 'o';
	return len;
}

static int
worker_send(struct fworker *w)
{
	static unsigned char buf[MSG_MAX_DATA];
	struct msg_event e;
	size_t len;

	memset(&e, 0, sizeof(e));
	len = gen(w, w->sent, buf, &e.kind);
	e.seq = w->sent;
	e.t_us = (int64_t)w->sent * 1000;
	e.len = (uint32_t)len;
	if (msg_send_event_blocking(w->fd, &w->uuid, &e, buf) == -1)
		return -1;
	w->sent++;
	return 0;
}

static void
worker_recv(struct fworker *w)
{
	static unsigned char buf[MSG_MAX_PACKET];
	struct msg_ack a;
	struct msg_flow f;
	struct msg m;
	char err[256];

	while (msg_recv_blocking(
	           w->fd, buf, sizeof(buf), &m, 0, err, sizeof(err)) == 0) {
		CHECK(uuid_equal(&m.hdr.session, &w->uuid));
		if (m.hdr.type == MSG_ACK) {
			CHECK(msg_get_ack(&m, &a) == 0);
			CHECK(a.seq < w->total);
			if (a.seq + 1 > w->acked)
				w->acked = a.seq + 1;
			/* Acked before sent again on this channel: skip on. */
			if (w->sent < w->acked)
				w->sent = w->acked;
		} else if (m.hdr.type == MSG_RESEND) {
			CHECK(msg_get_resend(&m, &f) == 0);
			w->resends++;
			w->sent = f.seq > w->acked ? f.seq : w->acked;
		} else
			CHECK(!"unexpected message to a worker");
	}
}

/*
 * Runs the workers until every event is acked; disrupt() runs once when
 * half of all events have been sent. Returns the seconds taken.
 */
static double pace_s; /* > 0: a worker sends an event at most this often */

static double
drive(struct fworker *ws, int n, void (*disrupt)(struct fworker *, int))
{
	struct pollfd pfd[MAX_WORKERS];
	uint64_t sent = 0, total = 0;
	double start = now_s(), deadline = start + 120, next = start;
	int i, done, disrupted = disrupt == NULL, paced;

	for (i = 0; i < n; i++)
		total += ws[i].total - ws[i].first;
	for (;;) {
		done = 1;
		paced = pace_s > 0 && now_s() < next;
		for (i = 0; i < n; i++) {
			pfd[i].fd = ws[i].fd;
			pfd[i].events = POLLIN;
			if (ws[i].sent < ws[i].total &&
			    ws[i].sent - ws[i].acked < WINDOW && !paced)
				pfd[i].events |= POLLOUT;
			if (ws[i].acked < ws[i].total)
				done = 0;
		}
		if (done)
			break;
		if (now_s() >= deadline)
			for (i = 0; i < n; i++)
				fprintf(stderr,
				    "%s: sent %llu acked %llu of %llu, "
				    "%llu resends asked\n",
				    ws[i].session,
				    (unsigned long long)ws[i].sent,
				    (unsigned long long)ws[i].acked,
				    (unsigned long long)ws[i].total,
				    (unsigned long long)ws[i].resends);
		CHECK(now_s() < deadline);
		CHECK(poll(pfd, (nfds_t)n, paced ? 1 : 1000) >= 0);
		for (i = 0; i < n; i++) {
			if (pfd[i].revents & (POLLIN | POLLHUP | POLLERR))
				worker_recv(&ws[i]);
			if ((pfd[i].revents & POLLOUT) &&
			    ws[i].sent < ws[i].total &&
			    ws[i].sent - ws[i].acked < WINDOW) {
				if (worker_send(&ws[i]) == 0) {
					sent++;
					next = now_s() + pace_s;
				}
			}
		}
		if (!disrupted && sent >= total / 2) {
			disrupted = 1;
			disrupt(ws, n);
		}
	}
	return now_s() - start;
}

/* Every session's rows: seq first..total-1 once each, byte-exact. */
static void
verify(struct fworker *ws, int n)
{
	static unsigned char buf[MSG_MAX_DATA];
	const char *params[2];
	const int formats[2] = {0, 0};
	char first[32];
	PGconn *c;
	PGresult *res;
	uint64_t seq;
	int i, row;
	size_t len;
	char kind, *v;

	c = PQconnectdb(conninfo);
	CHECK(PQstatus(c) == CONNECTION_OK);
	for (i = 0; i < n; i++) {
		params[0] = ws[i].session;
		snprintf(first, sizeof(first), "%llu",
		    (unsigned long long)ws[i].first);
		params[1] = first;
		res = PQexecParams(c,
		    "SELECT seq, t_us, kind, data FROM alia.events WHERE "
		    "session_id = $1 AND seq >= $2 ORDER BY seq",
		    2, NULL, params, NULL, formats, 1);
		CHECK(PQresultStatus(res) == PGRES_TUPLES_OK);
		if ((uint64_t)PQntuples(res) != ws[i].total - ws[i].first)
			fprintf(stderr, "session %s: %d rows, want %llu\n",
			    ws[i].session, PQntuples(res),
			    (unsigned long long)ws[i].total);
		CHECK((uint64_t)PQntuples(res) == ws[i].total - ws[i].first);
		for (row = 0; row < PQntuples(res); row++) {
			v = PQgetvalue(res, row, 0);
			seq = be64toh(*(uint64_t *)(void *)v);
			CHECK(seq == ws[i].first + (uint64_t)row);
			v = PQgetvalue(res, row, 1);
			CHECK(be64toh(*(uint64_t *)(void *)v) == seq * 1000);
			len = gen(&ws[i], seq, buf, &kind);
			CHECK(*PQgetvalue(res, row, 2) == kind);
			CHECK((size_t)PQgetlength(res, row, 3) == len);
			CHECK(memcmp(PQgetvalue(res, row, 3), buf, len) == 0);
		}
		PQclear(res);
		CHECK(ws[i].acked == ws[i].total);
	}
	PQfinish(c);
}

static void
workers_init(
    struct fworker *ws, int n, uint64_t total, size_t size, uint64_t base)
{
	int i;

	memset(ws, 0, sizeof(*ws) * (size_t)n);
	for (i = 0; i < n; i++) {
		ws[i].id = base + (uint64_t)i;
		snprintf(ws[i].session, sizeof(ws[i].session),
		    "%08llx-0000-4000-8000-%012llx",
		    (unsigned long long)(base >> 8),
		    (unsigned long long)ws[i].id);
		CHECK(uuid_parse(ws[i].session, &ws[i].uuid) == 0);
		ws[i].total = total;
		ws[i].size = size;
		ws[i].fd = -1;
		pair_worker(&ws[i]);
	}
}

static void
workers_close(struct fworker *ws, int n)
{
	int i;

	for (i = 0; i < n; i++) {
		close(ws[i].fd);
		ws[i].fd = -1;
	}
}

/*
 * Drives n workers, through disrupt when not NULL, checks what the
 * database holds and closes their channels; how long the drive took.
 */
static double
workers_run(struct fworker *ws, int n, void (*disrupt)(struct fworker *, int))
{
	double t;

	t = drive(ws, n, disrupt);
	verify(ws, n);
	workers_close(ws, n);
	return t;
}

/*
 * A replacement for w: it goes on with count more events, of varying
 * sizes, after the seqs of the one it replaces, on a new channel.
 */
static void
worker_replace(struct fworker *w, uint64_t count)
{
	w->first = w->sent = w->acked = w->total;
	w->total = w->first + count;
	w->size = 0;
	w->fd = -1;
	pair_worker(w);
}

static void
kill_recorder(struct fworker *ws, int n)
{
	fprintf(stderr, "  kill -9 the recorder\n");
	role_kill(&recorder);
	role_start(&recorder, "recorder");
	pair_recorder();
}

static void
stop_postgres(struct fworker *ws, int n)
{
	double until;
	int i;

	fprintf(stderr, "  pg_ctl stop -m fast, 3 s down\n");
	pg_stop_fast();
	/* The workers keep sending while the database is down. */
	until = now_s() + 3;
	while (now_s() < until) {
		for (i = 0; i < n; i++) {
			worker_recv(&ws[i]);
			if (ws[i].sent < ws[i].total &&
			    ws[i].sent - ws[i].acked < WINDOW) {
				struct pollfd p = {ws[i].fd, POLLOUT, 0};

				if (poll(&p, 1, 0) == 1)
					(void)worker_send(&ws[i]);
			}
		}
		usleep(1000);
	}
	pg_up();
}

static void
kill_broker(struct fworker *ws, int n)
{
	int i;

	fprintf(stderr, "  kill -9 the broker\n");
	role_kill(&broker);
	role_start(&broker, "broker");
	pair_recorder();
	for (i = 0; i < n; i++)
		pair_worker(&ws[i]);
}

/* The number a one-column query with at most one parameter gives. */
static long
count_of(const char *sql, const char *param)
{
	const char *params[1] = {param};
	PGconn *c;
	PGresult *res;
	long n;

	c = PQconnectdb(conninfo);
	CHECK(PQstatus(c) == CONNECTION_OK);
	res = PQexecParams(
	    c, sql, param != NULL ? 1 : 0, NULL, params, NULL, NULL, 0);
	CHECK(PQresultStatus(res) == PGRES_TUPLES_OK);
	n = atol(PQgetvalue(res, 0, 0));
	PQclear(res);
	PQfinish(c);
	return n;
}

/* Rows of session w in alia.events. */
static long
rows_of(const struct fworker *w)
{
	return count_of(
	    "SELECT count(*) FROM alia.events WHERE session_id = $1",
	    w->session);
}

/*
 * The transaction ids given out so far: one per transaction that wrote,
 * each committed with an fdatasync of the WAL (the statistics views lag
 * by up to 10 s; this does not). The query itself takes one.
 */
static long
xids(void)
{
	return count_of("SELECT txid_current()", NULL);
}

/*
 * master dies (its channel closes with no MSG_SHUTDOWN) while the
 * database is down and the recorder holds events: the recorder leaves at
 * once and writes nothing more, not even to the database that comes back
 * at the same address: that may be the next alia's, which has read where
 * each recording ends and takes what the shell printed after it from
 * Docker's log, so events the old recorder committed there would be
 * recorded twice. A new recorder follows.
 */
static void
orphan_recorder(struct fworker *ws)
{
	double t0, took;
	pid_t got;
	int i, status;

	pg_stop_fast();
	workers_init(ws, 1, 100, 200, 0x6000);
	for (i = 0; i < 100; i++)
		CHECK(worker_send(&ws[0]) == 0);
	usleep(500000); /* through the broker to the recorder, held there */
	t0 = now_s();
	close(recorder.chan);
	recorder.chan = -1;
	pg_up();
	while ((got = waitpid(recorder.pid, &status, WNOHANG)) == 0) {
		CHECK(now_s() < t0 + 15);
		usleep(20000);
	}
	took = now_s() - t0;
	CHECK(got == recorder.pid);
	recorder.pid = -1;
	fprintf(stderr,
	    "  the recorder left %.2f s after the channel closed; %ld of "
	    "its 100 events in the database\n",
	    took, rows_of(&ws[0]));
	CHECK(rows_of(&ws[0]) == 0);
	CHECK(took < 3);
	workers_close(ws, 1);
	role_start(&recorder, "recorder");
	pair_recorder();
}

int
main(void)
{
	struct fworker ws[MAX_WORKERS];
	double t;
	uint64_t bytes;
	long xid;

	signal(SIGPIPE, SIG_IGN);
	if (access("/usr/lib/postgresql", F_OK) == -1) {
		fprintf(stderr, "no PostgreSQL installed\n");
		return 1;
	}
	pg_setup();
	role_start(&broker, "broker");
	role_start(&recorder, "recorder");
	pair_recorder();

	fprintf(stderr, "two sessions, undisturbed\n");
	workers_init(ws, 2, 3000, 0, 0x1000);
	workers_run(ws, 2, NULL);

	/*
	 * A replacement worker goes on with the seqs of the one it replaces,
	 * on a new channel: the recorder takes them up where it was.
	 */
	fprintf(stderr, "a replacement worker goes on\n");
	worker_replace(&ws[0], 1000);
	workers_run(ws, 1, NULL);

	fprintf(stderr, "recorder killed mid-stream\n");
	workers_init(ws, 2, 6000, 0, 0x2000);
	workers_run(ws, 2, kill_recorder);
	CHECK(ws[0].resends > 0 && ws[1].resends > 0);

	fprintf(stderr, "PostgreSQL stopped mid-stream\n");
	workers_init(ws, 2, 6000, 0, 0x3000);
	workers_run(ws, 2, stop_postgres);

	fprintf(stderr, "broker killed mid-stream\n");
	workers_init(ws, 2, 6000, 0, 0x4000);
	workers_run(ws, 2, kill_broker);

	fprintf(stderr, "bulk: 50 MB in 4 KiB events\n");
	workers_init(ws, 1, 12800, 4096, 0x5000);
	t = workers_run(ws, 1, NULL);
	bytes = ws[0].total * 4096;
	fprintf(stderr,
	    "bulk: %llu rows, %.1f MB in %.2f s: %.0f rows/s, %.1f MB/s "
	    "(committed and acked)\n",
	    (unsigned long long)ws[0].total, (double)bytes / 1e6, t,
	    (double)ws[0].total / t, (double)bytes / 1e6 / t);

	/*
	 * Output as a busy shell gives it: a 64 KiB event every 2 ms. The
	 * recorder's COPY of one is done before the next comes; the
	 * transaction waits for it rather than committing each (an
	 * fdatasync each): at most one commit per 4 MiB or second, the
	 * quota's writes every 2 s and the search text's, not one per event.
	 */
	fprintf(stderr, "paced: 64 MB in 64 KiB events, one every 2 ms\n");
	workers_init(ws, 1, 1000, MSG_MAX_DATA, 0x5800);
	pace_s = 0.002;
	xid = xids();
	t = workers_run(ws, 1, NULL);
	xid = xids() - xid - 1;
	pace_s = 0;
	fprintf(stderr, "paced: %.2f s, in %ld transactions\n", t, xid);
	CHECK(xid <= 16 + 3 * (long)(t + 1));

	/*
	 * The recorder frees a session's state once its worker is gone and
	 * its usage is written (every 2 s): a replacement worker that comes
	 * after is taken up from scratch, its seqs going on.
	 */
	fprintf(stderr, "a replacement worker after the state was freed\n");
	sleep(3);
	worker_replace(&ws[0], 500);
	workers_run(ws, 1, NULL);

	fprintf(stderr, "master gone while the database is down\n");
	orphan_recorder(ws);

	/* A clean stop: both leave on MSG_SHUTDOWN. */
	CHECK(msg_send_shutdown_blocking(
	          recorder.chan, NULL, &(struct msg_shutdown){1000}) == 0);
	CHECK(msg_send_shutdown_blocking(
	          broker.chan, NULL, &(struct msg_shutdown){1000}) == 0);
	{
		int status;

		CHECK(waitpid(recorder.pid, &status, 0) == recorder.pid);
		CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
		recorder.pid = -1;
		CHECK(waitpid(broker.pid, &status, 0) == broker.pid);
		CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
		broker.pid = -1;
	}
	cleanup();
	fprintf(stderr, "ok\n");
	return 0;
}
