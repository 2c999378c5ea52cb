/* SPDX-License-Identifier: ISC */
/*
 * Sessions, as master sees them: each is a container, the worker process
 * that owns its stream, and a row in alia.sessions. This file owns all
 * three and every change of a session's state.
 *
 * A session moves STARTING -> RUNNING -> ENDED, never back:
 *   STARTING  create, then attach (before start, so no output is lost),
 *             then a worker is forked with the attach stream, then start.
 *             Browsers that arrive meanwhile wait in the session's queue.
 *   RUNNING   the container runs; a wait call on its own connection tells
 *             when it exits. A worker that dies is replaced and given a
 *             new attach stream (at most WORKER_RESTARTS in a minute).
 *   ENDED     one close path (session_end): the row is updated, the worker
 *             is told the exit code and left to say goodbye to its
 *             browsers, the container is removed.
 * Ending on purpose (DELETE, a timeout the worker reports, shutdown) sends
 * SIGHUP and, after KILL_GRACE_MS, SIGKILL; the end itself is still seen
 * through the wait call, so there is one way a session ends.
 *
 * Live restore (live_restore = 1). A stop (SIGTERM, or SIGUSR2's re-exec)
 * ends no session: each worker is told to go (its browsers get close
 * 1001), and containers and rows stay as they are. At start, the rows not
 * ended and this instance's containers are put side by side
 * (container_reconcile): a running container whose row is not ended and
 * whose max_lifetime has not passed is taken up again (session_adopt): a
 * new attach, a new journal, a worker that goes on at the recording's
 * next seq, its scrollback refilled from the recording, and first the
 * output printed while no alia was attached, from Docker's log
 * (session_gap); every other container is removed and every other row
 * ended ("server restart"). A crash of master is the same as a stop
 * without the goodbyes.
 *
 * A browser's websocket comes from front with its fd and who attaches
 * (container_attach_browser): here is the one check of who may — the
 * owner; for watching, an admin or a share link front checked
 * (REQ_ANY_OWNER), or an instructor whose members, sent along, hold the
 * owner — and front hears 200 or the refusal (404, 403, 410) to say; an
 * accepted one waits in the session's queue for its worker.
 *
 * The warm pool (pool.c). With pool > 0 a new session takes a container
 * that is running already, its shell's first output read by master
 * (session_take): the output goes into the session's pipe, where the
 * worker reads it first, as the session's first output, and records it;
 * the container's limits become the owner's role's (Docker's update) when
 * they differ. A pool container is made for a session id drawn ahead
 * (named alia-ID and labelled with it, as a session's), which the session
 * that takes it gets, with the worker the pool forked for it ahead (the
 * fork and exec take longer than all the rest). When none is ready, or
 * the update fails, the session makes its own container as above. At
 * start, a pool container of an earlier run that no session took has no
 * row, and is removed.
 *
 * Ended sessions stay in memory (most recent MAX_ENDED) so that browsers
 * and the API can still ask about them. Docker calls carry a small
 * context that is counted for the metrics and freed when they answer; it
 * names its session by id, found again in the tree when Docker answers.
 */
#include <sys/mman.h>
#include <sys/queue.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#ifndef __unused
#define __unused __attribute__((__unused__))
#endif
#include <bsd/string.h>
#include <bsd/sys/tree.h>
#include <event2/buffer.h>
#include <event2/event.h>
#include <libpq-fe.h>

#include "common/audit.h"
#include "common/clock.h"
#include "common/config.h"
#include "common/lesson.h"
#include "common/log.h"
#include "common/msg.h"
#include "common/proc.h"
#include "common/str.h"
#include "common/token.h"
#include "common/uuid.h"
#include "common/xmalloc.h"
#include "master/master.h"

#define KILL_GRACE_MS    2000
#define WORKER_GRACE_MS  5000
#define WORKER_RESTARTS  5
#define WORKER_WINDOW_MS 60000
#define MAX_ENDED        10000
#define SANDBOX_HOME     "/home/learner"
#define SANDBOX_USER     "1000:1000"
#define REFILL_BYTES     (256 * 1024) /* recorded output a new worker gets */
#define REFILL_WAIT_MS   2000    /* browsers wait this long for it at most */
#define GAP_BEFORE_US    5000000 /* the log is read from this long before */
#define GAP_TAIL         1024    /* recorded bytes looked for in the log */
#define GAP_HEAD         65536   /* the stream's first bytes, to end it */
#define GAP_SETTLE_MS    250     /* Docker's log catches up with the tty */
#define CHECKS_MAX       64      /* lesson checks running at once, all told */

enum session_state {
	SESSION_STARTING,
	SESSION_RUNNING,
	SESSION_ENDED,
};

static const char *const session_state_names[] = {
    "starting", "running", "ended"};

struct browser_wait {
	TAILQ_ENTRY(browser_wait) entry;
	int fd;
	struct msg_attach a;
};
TAILQ_HEAD(browser_wait_list, browser_wait);

struct session {
	RB_ENTRY(session) by_id;
	TAILQ_ENTRY(session) entry; /* live or ended list */
	struct uuid uuid;
	uint64_t create_req;     /* front's request, answered once created */
	char id[SESSION_ID_LEN]; /* uuid in text */
	char owner[OWNER_LEN];
	char container[80];
	struct engine *engine; /* the Docker engine its container is on */
	enum session_state state;
	int flags;
#define S_KILLING 0x1  /* SIGHUP sent; SIGKILL follows */
#define S_CREATED 0x2  /* the container exists */
#define S_REFILL  0x4  /* browsers wait for the new worker's scrollback */
#define S_ADOPTED 0x8  /* taken up again after alia restarted */
#define S_GAP     0x10 /* its worker waits for output from Docker's log */
#define S_DETACH  0x20 /* alia stops; the session lives on */
#define S_POOLED  0x40 /* its container came from the pool */
#define S_SPARE   0x80 /* its worker came from the pool, not yet started */
	char end_reason[32];
	int role; /* its owner's CONFIG_ROLE_*, or -1: none */
	uint16_t cols, rows;
	int64_t created_us, started_us, ended_us;
	int exit_code;
	pid_t worker;
	struct msgchan *chan;
	int worker_restarts;
	int64_t restart_window; /* monotonic us */
	uint64_t refill;        /* the worker's scrollback refill asked for */
	uint64_t first_seq;     /* adopted: the recording's next seq */
	int64_t gap_since_us;   /* adopted: Docker's log is read from */
	unsigned char *tail;    /* adopted: the recording's last bytes */
	size_t taillen;
	unsigned char *head; /* adopted: the stream's first bytes */
	size_t headlen;
	int64_t attached_us;  /* adopted: monotonic us of its attach */
	struct event *ev_gap; /* the log is read GAP_SETTLE_MS after it */
	/* what outlives a worker; -1 until attached, and after the end */
	int attach_fd, journal_fd, pipe_r, pipe_w;
	struct browser_wait_list waiting;
	struct event *ev_kill;
	struct event *ev_worker;
	struct event *ev_refill; /* browsers wait no longer */
	struct event *ev_rewait; /* the wait call failed: again, later */
	int64_t create_t0;       /* monotonic us: its create call went */
	struct msg_worker_stats stats;
	int env; /* its environment: an index of conf->env */
	/* its lesson ("": none), and the learner's progress in it */
	char lesson[LESSON_NAME_LEN];
	char lesson_title[128];
	int steps;
	int step;          /* the first not passed yet (steps + 1: all) */
	uint64_t passed;   /* step n passed: bit n - 1 */
	int failed_checks; /* on that step */
	int last_check_step, last_check_passed;
	int64_t step_since_us, last_check_us;
	int checking; /* a check runs */
};
#define SDOCKER(s) engine_docker((s)->engine)
#define REWAIT_MS  1000
UUID_TREE(session_tree, session, by_id, uuid)

TAILQ_HEAD(session_list, session);

/*
 * A docker call in flight, for the metrics and to find its session. The
 * session is parked by id, not by pointer: the ended-sessions cap may free
 * it before Docker answers, and the answer then finds nothing to do.
 */
struct dcall {
	TAILQ_ENTRY(dcall) entry;
	int has_session;
	struct uuid id;
	char text[SESSION_ID_LEN]; /* id in text, for the logs */
	struct engine *engine;     /* where the call went */
	void (*done)(struct session *, struct docker_result *);
	/* or, for a call of no session's: */
	void (*fn)(int, struct docker_result *);
	int arg;
	int64_t t0; /* monotonic us */
	int timed;  /* counts toward the latency metric */
};
TAILQ_HEAD(dcall_list, dcall);

/*
 * An engine's reconcile: both answers (the rows of sessions placed there
 * and not ended, this instance's containers there), then
 * container_reconcile. Found again by the engine's index.
 */
struct reconcile {
	struct engine *engine;
	struct restore_row *rows; /* not ended in the database */
	size_t nrows;
	int rows_in, list_in;
	int blind; /* one of the two did not answer: touch nothing */
	struct restore_ctr *list; /* this instance's containers */
	size_t nlist;
};

static struct {
	const struct config *conf;
	struct event_base *base;
	char instance[INSTANCE_LEN]; /* the label of our containers */
	struct pgc *db;
	int verbose;
	int stopping;
	struct session_tree ids;
	struct session_list live;
	struct session_list ended;
	size_t nended;
	struct dcall_list calls;
	struct msg_metrics m;
	struct reconcile *rc[CONFIG_ENGINES]; /* by the engine's index */
	/* new sessions waiting for an engine still starting (at most
	 * max_sessions, PARK_MS each) */
	TAILQ_HEAD(, parked) parked;
	size_t nparked;
	struct event *ev_parked;
} ct;

/* A session asked for while no engine was ready but one was starting. */
struct parked {
	TAILQ_ENTRY(parked) entry;
	struct msg_session_req r;
	int64_t until; /* monotonic us */
};
#define PARK_MS 10000

/* One of this instance's containers, as container_reconcile sees it. */
struct restore_ctr {
	char id[80];
	char session[SESSION_ID_LEN];
	int running;
	int pool; /* made for the pool, for the session of its label */
};

/* A session row not ended, as container_reconcile sees it. */
struct restore_row {
	char id[SESSION_ID_LEN];
	char owner[OWNER_LEN];
	uint16_t cols, rows;
	int64_t created_us, started_us;
	uint64_t next_seq;
	int64_t last_us; /* unix us of the last recorded event, or 0 */
	int taken;
	char env[ENV_NAME_LEN];
	char lesson[LESSON_NAME_LEN];
	int step, failed_checks; /* from alia.lesson_progress */
	int64_t step_since_us;
};

static void session_end(struct session *, int, const char *);
static void dcall_cb(struct docker_result *, void *);
static struct dcall *dcall(
    struct session *, void (*)(struct session *, struct docker_result *), int);
static struct dcall *dcall_on(
    struct engine *, void (*)(int, struct docker_result *), int);
static void session_logged(struct session *, struct docker_result *);
static void session_created(struct session *, struct docker_result *);
static void reply_info(
    struct msgchan *, const struct session *, uint64_t, int, int);
static void reply_error(struct msgchan *, uint64_t, int, const char *);
static void session_start_worker(struct session *, int);
static void session_worker_msg(
    struct msgchan *, enum msgchan_event, struct msg *, void *);

/* Written as a UUID (the database's type), but all 128 bits random. */
void
container_session_id(struct uuid *u)
{
	do
		if (getrandom(u->b, sizeof(u->b), 0) != sizeof(u->b))
			fatal("%s: getrandom", __func__);
	while (session_tree_find(&ct.ids, u) != NULL || pool_reserved(u));
}

/* The session whose id is text, or NULL (none, or not a session id). */
static struct session *
session_lookup(const char *text)
{
	struct uuid id;

	if (uuid_parse(text, &id) == -1)
		return NULL;
	return session_tree_find(&ct.ids, &id);
}

static void
session_db(const char *sql, int n, const char *const *params)
{
	pgc_exec(ct.db, sql, n, params, PGC_RETRY);
}

static void
session_fmt_us(char *buf, size_t len, int64_t us)
{
	snprintf(buf, len, "%lld.%06lld", (long long)(us / 1000000),
	    (long long)(us % 1000000));
}

static void
dcall_log_error(const char *id, struct docker_result *r)
{
	if (r->status == 0 || r->status >= 400)
		log_warnx("session %s: docker: %s (status %d)", id,
		    r->message != NULL ? r->message : "error", r->status);
}

/*
 * The answer to a call for a session already forgotten (ended, and freed
 * by the ended-sessions cap): errors are still logged, and a container
 * created meanwhile is removed, as for an ended session; else nothing.
 */
static void
dcall_gone(struct dcall *c, struct docker_result *r)
{
	log_debug("session %s: forgotten before docker answered (status %d)",
	    c->text, r->status);
	if (c->done == session_logged)
		dcall_log_error(c->text, r);
	else if (c->done == session_created && r->status == 201 &&
	    r->id != NULL)
		docker_remove(engine_docker(c->engine), r->id, dcall_cb,
		    dcall_on(c->engine, NULL, 0));
}

/* Calls c's continuation with its session, found again by id. */
static void
dcall_done(struct dcall *c, struct docker_result *r)
{
	struct session *s;

	if (c->fn != NULL) {
		c->fn(c->arg, r);
		return;
	}
	if (c->done == NULL)
		return;
	if (!c->has_session) {
		c->done(NULL, r);
		return;
	}
	if ((s = session_tree_find(&ct.ids, &c->id)) == NULL) {
		dcall_gone(c, r);
		return;
	}
	c->done(s, r);
}

/* Runs a docker call's continuation, with its latency counted. */
static void
dcall_cb(struct docker_result *r, void *arg)
{
	static const long buckets[] = METRICS_DOCKER_BUCKETS_MS;
	struct dcall *c = arg;
	long ms;
	size_t i;

	TAILQ_REMOVE(&ct.calls, c, entry);
	if (c->timed) {
		ms = (long)((clock_mono_us() - c->t0) / 1000);
		ct.m.docker_calls++;
		ct.m.docker_latency_us_sum += (uint64_t)ms * 1000;
		for (i = 0; i < sizeof(buckets) / sizeof(buckets[0]); i++)
			if (ms <= buckets[i])
				ct.m.docker_latency_le[i]++;
	}
	if (r->status == 0 || r->status >= 400)
		ct.m.docker_errors++;
	dcall_done(c, r);
	free(c);
}

static struct dcall *
dcall(struct session *s, void (*done)(struct session *, struct docker_result *),
    int timed)
{
	struct dcall *c;

	c = xcalloc(1, sizeof(*c));
	if (s != NULL) {
		c->has_session = 1;
		c->id = s->uuid;
		memcpy(c->text, s->id, sizeof(c->text));
		c->engine = s->engine;
	}
	c->done = done;
	c->timed = timed;
	c->t0 = clock_mono_us();
	TAILQ_INSERT_TAIL(&ct.calls, c, entry);
	return c;
}

/*
 * A call of no session's to engine e: fn(arg, result) when it answers,
 * or (fn NULL) only an error logged.
 */
static struct dcall *
dcall_on(struct engine *e, void (*fn)(int, struct docker_result *), int arg)
{
	struct dcall *c;

	c = dcall(NULL, fn == NULL ? session_logged : NULL, 1);
	c->engine = e;
	c->fn = fn;
	c->arg = arg;
	return c;
}

/* For calls whose answer only matters when it is an error. */
static void
session_logged(struct session *s, struct docker_result *r)
{
	dcall_log_error(s != NULL ? s->id : "-", r);
}

static void
session_remove_container(struct session *s)
{
	if (!(s->flags & S_CREATED))
		return;
	s->flags &= ~S_CREATED;
	docker_remove(
	    SDOCKER(s), s->container, dcall_cb, dcall(s, session_logged, 1));
}

static void
session_kill_cb(evutil_socket_t fd, short what, void *arg)
{
	struct session *s = arg;

	if (s->state == SESSION_RUNNING)
		docker_kill(SDOCKER(s), s->container, "SIGKILL", dcall_cb,
		    dcall(s, NULL, 1));
}

/*
 * Ends the session on purpose: the end is seen through the wait call.
 * Before the container runs, there is nothing to wait for: end at once.
 */
static void
session_kill(struct session *s, const char *reason)
{
	struct timeval tv = {
	    KILL_GRACE_MS / 1000, (KILL_GRACE_MS % 1000) * 1000};

	if (s->state == SESSION_ENDED || (s->flags & S_KILLING))
		return;
	if (reason != s->end_reason)
		snprintf(s->end_reason, sizeof(s->end_reason), "%s", reason);

	s->flags |= S_KILLING;
	log_info("session %s: ending (%s)", s->id, reason);
	if (s->state == SESSION_STARTING) {
		/* The pending docker call sees S_KILLING and stops. */
		return;
	}
	docker_kill(
	    SDOCKER(s), s->container, "SIGHUP", dcall_cb, dcall(s, NULL, 1));
	evtimer_add(s->ev_kill, &tv);
}

static void
session_worker_timeout_cb(evutil_socket_t fd, short what, void *arg)
{
	struct session *s = arg;

	if (s->worker != 0) {
		log_warnx("session %s: worker %ld did not exit; killing it",
		    s->id, (long)s->worker);
		kill(s->worker, SIGKILL);
	}
}

static void
session_drop_waiting(struct session *s)
{
	struct browser_wait *w;

	while ((w = TAILQ_FIRST(&s->waiting)) != NULL) {
		TAILQ_REMOVE(&s->waiting, w, entry);
		close(w->fd);
		free(w);
	}
}

/* Closes what outlives workers; the worker has its own copies. */
static void
session_close_fds(struct session *s)
{
	int *fds[] = {&s->attach_fd, &s->journal_fd, &s->pipe_r, &s->pipe_w};
	size_t i;

	for (i = 0; i < sizeof(fds) / sizeof(fds[0]); i++)
		if (*fds[i] != -1) {
			close(*fds[i]);
			*fds[i] = -1;
		}
}

/*
 * Keeps the attach stream (taken) and makes the journal and the pipe:
 * they live as long as the session, whichever worker serves it (see
 * worker/worker.c). Output that came with the attach answer goes into the
 * pipe first.
 */
static int
session_keep_fds(struct session *s, int attach_fd, struct evbuffer *pending)
{
	int p[2];

	s->attach_fd = attach_fd;
	if ((s->journal_fd = memfd_create("alia-journal", MFD_CLOEXEC)) == -1) {
		log_warn("session %s: memfd_create", s->id);
		return -1;
	}
	if (pipe2(p, O_CLOEXEC | O_NONBLOCK) == -1) {
		log_warn("session %s: pipe2", s->id);
		return -1;
	}
	s->pipe_r = p[0];
	s->pipe_w = p[1];
	/* The stream's first bytes, for where Docker's log ends (gap). */
	if (s->flags & S_ADOPTED) {
		s->attached_us = clock_mono_us();
		free(s->head);
		s->head = xmalloc(GAP_HEAD);
		s->headlen = pending == NULL
		    ? 0
		    : evbuffer_copyout(pending, s->head, GAP_HEAD);
		if ((ssize_t)s->headlen < 0)
			s->headlen = 0;
	}
	if (pending != NULL && evbuffer_get_length(pending) > 0 &&
	    evbuffer_write(pending, s->pipe_w) == -1)
		log_warn("session %s: output before the worker", s->id);
	return 0;
}

/* The one close path: the container has exited or could not run. */
static void
session_end(struct session *s, int code, const char *reason)
{
	struct timeval tv = {
	    WORKER_GRACE_MS / 1000, (WORKER_GRACE_MS % 1000) * 1000};
	struct msg_exit e;
	char ended[32], scode[16];
	const char *p[4];
	struct session *old;

	if (s->state == SESSION_ENDED)
		return;
	if (s->end_reason[0] == '\0')
		snprintf(s->end_reason, sizeof(s->end_reason), "%s", reason);
	s->state = SESSION_ENDED;
	s->exit_code = code;
	s->ended_us = clock_wall_us();
	evtimer_del(s->ev_kill);
	evtimer_del(s->ev_rewait);
	evtimer_del(s->ev_gap);
	TAILQ_REMOVE(&ct.live, s, entry);
	TAILQ_INSERT_TAIL(&ct.ended, s, entry);
	ct.m.sessions_ended++;
	log_info(
	    "session %s: ended (%s), exit code %d", s->id, s->end_reason, code);

	session_fmt_us(ended, sizeof(ended), s->ended_us);
	snprintf(scode, sizeof(scode), "%d", code);
	p[0] = s->id;
	p[1] = ended;
	p[2] = code >= 0 ? scode : NULL;
	p[3] = s->end_reason;
	session_db("UPDATE alia.sessions SET state = 'ended', "
	           "ended_at = to_timestamp($2::float8), exit_code = $3, "
	           "end_reason = $4 WHERE id = $1",
	    4, p);

	session_drop_waiting(s);
	session_close_fds(s);
	if (s->chan != NULL) {
		memset(&e, 0, sizeof(e));
		e.code = code;
		snprintf(e.reason, sizeof(e.reason), "%s", s->end_reason);
		msg_send_worker_exited(s->chan, &s->uuid, &e);
	}
	if (s->worker != 0)
		evtimer_add(s->ev_worker, &tv);
	session_remove_container(s);
	pool_kick();

	/* Forget the oldest ended sessions with nothing left to do. */
	if (++ct.nended > MAX_ENDED && (old = TAILQ_FIRST(&ct.ended)) != NULL &&
	    old->worker == 0) {
		TAILQ_REMOVE(&ct.ended, old, entry);
		RB_REMOVE(session_tree, &ct.ids, old);
		event_free(old->ev_kill);
		event_free(old->ev_refill);
		event_free(old->ev_worker);
		event_free(old->ev_rewait);
		free(old->tail);
		free(old->head);
		event_free(old->ev_gap);
		free(old);
		ct.nended--;
	}
}

/* A container limit for s: its owner's role's, else the global one. */
#define session_limit(s, field)                                  \
	((s)->role >= 0 && ct.conf->limits[(s)->role].field != 0 \
	        ? ct.conf->limits[(s)->role].field               \
	        : ct.conf->field)

/* Ends a session that failed to start, with the daemon's word for why. */
static void
session_fail(struct session *s, const char *what, struct docker_result *r)
{
	char reason[32];

	log_warnx("session %s: %s failed: %s (status %d)", s->id, what,
	    r->message != NULL ? r->message : "error", r->status);
	snprintf(reason, sizeof(reason), "%s failed", what);
	session_end(s, -1, reason);
}

static void
session_exited(struct session *s, struct docker_result *r)
{
	if (s->state == SESSION_ENDED)
		return;
	/* Its head came, its end did not: the connection broke. */
	if (r->status == 200 && r->message != NULL && r->exit_code < 0)
		r->status = 0;
	if (r->status != 200) {
		/* The wait connection failed: look again before giving up. */
		log_warnx("session %s: wait failed: %s (status %d)", s->id,
		    r->message != NULL ? r->message : "error", r->status);
		if (r->status == 404) {
			session_end(s, -1, "container vanished");
			return;
		}
		/* Its engine may be going: its pings will say (engine.c). */
		if (r->status == 0) {
			struct timeval tv = {
			    REWAIT_MS / 1000, (REWAIT_MS % 1000) * 1000};

			evtimer_add(s->ev_rewait, &tv);
			return;
		}
		docker_wait(SDOCKER(s), s->container, NULL, dcall_cb,
		    dcall(s, session_exited, 0));
		return;
	}
	session_end(s, r->exit_code, "exited");
}

static void
session_rewait_cb(evutil_socket_t fd, short what, void *arg)
{
	struct session *s = arg;

	if (s->state == SESSION_RUNNING)
		docker_wait(SDOCKER(s), s->container, NULL, dcall_cb,
		    dcall(s, session_exited, 0));
}

static void
session_resized(struct session *s, struct docker_result *r)
{
	if (r->status != 200 && s->state == SESSION_RUNNING)
		log_warnx("session %s: resize: %s (status %d)", s->id,
		    r->message != NULL ? r->message : "error", r->status);
}

static void
session_resize(struct session *s)
{
	char cols[8], rows[8];
	const char *p[3];

	if (s->state != SESSION_RUNNING)
		return;
	docker_resize(SDOCKER(s), s->container, s->rows, s->cols, dcall_cb,
	    dcall(s, session_resized, 1));
	snprintf(cols, sizeof(cols), "%u", s->cols);
	snprintf(rows, sizeof(rows), "%u", s->rows);
	p[0] = s->id;
	p[1] = cols;
	p[2] = rows;
	session_db("UPDATE alia.sessions SET cols = $2, rows = $3 "
	           "WHERE id = $1",
	    3, p);
}

/* The container runs: the row says so, and its end is waited for. */
static void
session_running(struct session *s)
{
	char started[32];
	const char *p[3];

	s->state = SESSION_RUNNING;
	/* The first worker's start: the zero of the recording's times. */
	if (s->started_us == 0)
		s->started_us = clock_wall_us();
	log_info("session %s: running (container %.12s)", s->id, s->container);
	session_fmt_us(started, sizeof(started), s->started_us);
	p[0] = s->id;
	p[1] = s->container;
	p[2] = started;
	session_db("UPDATE alia.sessions SET state = 'running', "
	           "container_id = $2, started_at = to_timestamp($3::float8) "
	           "WHERE id = $1 AND state <> 'ended'",
	    3, p);
	docker_wait(SDOCKER(s), s->container, NULL, dcall_cb,
	    dcall(s, session_exited, 0));
	session_resize(s);
	if (s->flags & S_KILLING) {
		s->flags &= ~S_KILLING;
		session_kill(s, s->end_reason);
	}
}

static void
session_started(struct session *s, struct docker_result *r)
{
	if (s->state == SESSION_ENDED)
		return; /* its container is being removed */
	if (r->status != 204 && r->status != 304) {
		session_fail(s, "start", r);
		return;
	}
	session_running(s);
}

static void
session_attached(struct session *s, struct docker_result *r)
{
	if (r->status != 101 || r->fd == -1) {
		if (s->state == SESSION_STARTING)
			session_fail(s, "attach", r);
		else if (s->state == SESSION_RUNNING)
			session_kill(s, "attach failed");
		return;
	}
	if (s->state == SESSION_ENDED)
		return; /* the fd is closed by the client */
	if (s->attach_fd != -1) {
		log_warnx("session %s: attached twice", s->id);
		return;
	}
	if (session_keep_fds(s, r->fd, r->pending) == -1) {
		r->fd = -1;
		session_kill(s, "no journal");
		return;
	}
	r->fd = -1;
	session_start_worker(
	    s, (s->flags & S_ADOPTED) ? WORKER_ADOPTED : WORKER_FIRST);
	if (s->flags & S_ADOPTED) {
		/* It runs already: only its end is to be seen. */
		docker_wait(SDOCKER(s), s->container, NULL, dcall_cb,
		    dcall(s, session_exited, 0));
		session_resize(s);
		return;
	}
	if (s->state == SESSION_STARTING) {
		if (s->flags & S_KILLING) {
			session_end(s, -1, s->end_reason);
			return;
		}
		docker_start(SDOCKER(s), s->container, dcall_cb,
		    dcall(s, session_started, 1));
	}
}

/*
 * Answers the create request now that the container exists (r NULL: it
 * came from the pool), or not.
 */
static void
session_answer_create(struct session *s, struct docker_result *r)
{
	struct msgchan *front = master_front();
	char msg[256];

	if (front == NULL || s->create_req == 0)
		return;
	if (r == NULL || (r->status == 201 && r->id != NULL)) {
		reply_info(front, s, s->create_req, 201, 0);
		s->create_req = 0;
		return;
	}
	snprintf(msg, sizeof(msg), "could not create the container: %s",
	    r->message != NULL ? r->message : "Docker did not answer");
	reply_error(front, s->create_req,
	    r->status == 0 || r->status >= 500 ? 503 : 500, msg);
	s->create_req = 0;
}

static void
session_created(struct session *s, struct docker_result *r)
{
	if (r->status == 201)
		engine_created(s->engine, clock_mono_us() - s->create_t0);
	session_answer_create(s, r);
	if (r->status != 201 || r->id == NULL) {
		session_fail(s, "create", r);
		return;
	}
	if (str_copy(s->container, sizeof(s->container), r->id) == -1) {
		/* Docker takes the name wherever it takes the id. */
		log_warnx("session %s: Docker's container id is longer than "
		          "%zu bytes: using its name",
		    s->id, sizeof(s->container) - 1);
		snprintf(s->container, sizeof(s->container), "alia-%s", s->id);
	}
	s->flags |= S_CREATED;
	if (s->state == SESSION_ENDED) {
		/* Ended while being created (shutdown): nothing may remain. */
		session_remove_container(s);
		return;
	}
	if (s->flags & S_KILLING) {
		session_end(s, -1, s->end_reason);
		return;
	}
	docker_attach(
	    SDOCKER(s), s->container, dcall_cb, dcall(s, session_attached, 1));
}

void
container_sandbox(struct docker_create_opts *o, const char *name, int env)
{
	/* A login bash where the image has one (its prompt), else sh. */
	static const char *const cmd[] = {"/bin/sh", "-c",
	    "[ -x /bin/bash ] && exec /bin/bash -l; exec /bin/sh", NULL};
	static const char *const vars[] = {"TERM=xterm-256color",
	    "HOME=" SANDBOX_HOME, "ENV=/etc/profile", "LANG=C.UTF-8", NULL};

	memset(o, 0, sizeof(*o));
	o->name = name;
	o->image = ct.conf->env[env].image;
	o->cmd = cmd;
	o->env = vars;
	o->user = SANDBOX_USER;
	o->workdir = SANDBOX_HOME;
	o->hostname = "alia";
	o->owner = ct.conf->node;
	o->instance = ct.instance;
	o->tty = 1;
	o->memory = ct.conf->memory;
	o->nano_cpus = ct.conf->nano_cpus;
	o->pids_limit = ct.conf->pids;
	o->network = ct.conf->network;
}

static void
session_create_container(struct session *s)
{
	struct docker_create_opts o;
	char name[64];

	snprintf(name, sizeof(name), "alia-%s", s->id);
	container_sandbox(&o, name, s->env);
	o.session = s->id;
	o.memory = session_limit(s, memory);
	o.nano_cpus = session_limit(s, nano_cpus);
	o.pids_limit = session_limit(s, pids);
	o.engine = engine_name(s->engine);
	s->create_t0 = clock_mono_us();
	docker_create(SDOCKER(s), &o, dcall_cb, dcall(s, session_created, 1));
}

/* A pool container's session goes on as a started one's would. */
static void
session_warm(struct session *s)
{
	session_answer_create(s, NULL);
	session_start_worker(s, WORKER_FIRST);
	if (s->state == SESSION_STARTING)
		session_running(s);
	/* The replacement's calls would only have held this one up. */
	pool_kick();
}

/* The pool container is gone: the session makes its own (same name). */
static void
session_unpooled(struct session *s, struct docker_result *r)
{
	dcall_log_error(s->id, r);
	if (s->state != SESSION_STARTING)
		return;
	if (s->flags & S_KILLING) {
		session_answer_create(s, NULL);
		session_end(s, -1, s->end_reason);
		return;
	}
	session_create_container(s);
}

/*
 * The pool container could not be made the session's (what failed, as
 * Docker says): it is removed, and then the session makes its own.
 */
static void
session_unpool(struct session *s, const char *what, struct docker_result *r)
{
	log_warnx("session %s: %s of the pool container failed: %s "
	          "(status %d); making a container of its own",
	    s->id, what, r->message != NULL ? r->message : "error", r->status);
	session_close_fds(s);
	s->flags &= ~(S_CREATED | S_POOLED);
	pool_kick();
	docker_remove(
	    SDOCKER(s), s->container, dcall_cb, dcall(s, session_unpooled, 1));
	s->container[0] = '\0';
}

static void
session_updated(struct session *s, struct docker_result *r)
{
	if (s->state != SESSION_STARTING)
		return;
	if (r->status != 200)
		session_unpool(s, "the limits' update", r);
	else
		session_warm(s);
}

/*
 * s takes pool container t (its stream and first output; made for s's
 * id): the role's limits are set first when they differ from the pool's.
 */
static void
session_take(struct session *s, struct pool_taken *t)
{
	int64_t mem, cpus, pids;

	memcpy(s->container, t->container, sizeof(s->container));
	s->flags |= S_CREATED | S_POOLED;
	if (t->worker_fd != -1) {
		/* Forked and configured ahead: it waits for its fds. */
		s->worker = t->worker;
		s->chan =
		    msgchan_new(ct.base, t->worker_fd, session_worker_msg, s);
		s->flags |= S_SPARE;
	}
	log_info(
	    "session %s: container %.12s from the pool", s->id, s->container);
	if (session_keep_fds(s, t->fd, t->out) == -1) {
		evbuffer_free(t->out);
		session_answer_create(s, NULL);
		session_end(s, -1, "no journal");
		return;
	}
	evbuffer_free(t->out);
	mem = session_limit(s, memory);
	cpus = session_limit(s, nano_cpus);
	pids = session_limit(s, pids);
	if (mem == t->limits.memory && cpus == t->limits.nano_cpus &&
	    pids == t->limits.pids) {
		session_warm(s);
		return;
	}
	docker_update(SDOCKER(s), s->container, mem, cpus, pids, dcall_cb,
	    dcall(s, session_updated, 1));
}

static void
session_forward_browsers(struct session *s)
{
	struct browser_wait *w;

	while (s->chan != NULL && !(s->flags & S_REFILL) &&
	    (w = TAILQ_FIRST(&s->waiting)) != NULL) {
		TAILQ_REMOVE(&s->waiting, w, entry);
		msg_send_worker_browser(s->chan, &s->uuid, w->fd, &w->a);
		free(w);
	}
}

static void
session_worker_msg(
    struct msgchan *ch, enum msgchan_event ev, struct msg *m, void *arg)
{
	struct session *s = arg;
	struct msg_worker_stats st;
	struct msg_resize rz;
	struct msg_audit au;
	struct msg_end e;

	switch (ev) {
	case MSGCHAN_MSG:
		switch (m->hdr.type) {
		case MSG_WORKER_RESIZE:
			if (msg_get_worker_resize(m, &rz) == -1 ||
			    rz.cols == 0 || rz.rows == 0 ||
			    rz.cols > TERM_SIZE_MAX || rz.rows > TERM_SIZE_MAX)
				break;
			s->cols = rz.cols;
			s->rows = rz.rows;
			session_resize(s);
			return;
		case MSG_WORKER_END:
			if (msg_get_worker_end(m, &e) == -1)
				break;
			session_kill(s, e.reason);
			return;
		case MSG_WORKER_AUDIT:
			if (msg_get_worker_audit(m, &au) == -1)
				break;
			audit_write(
			    ct.db, au.actor, au.action, s->id, au.detail);
			return;
		case MSG_WORKER_STATS:
			if (msg_get_worker_stats(m, &st) == -1)
				break;
			if (st.bytes_out >= s->stats.bytes_out)
				ct.m.bytes_out +=
				    st.bytes_out - s->stats.bytes_out;
			if (st.bytes_in >= s->stats.bytes_in)
				ct.m.bytes_in +=
				    st.bytes_in - s->stats.bytes_in;
			if (st.resyncs >= s->stats.resyncs)
				ct.m.resyncs += st.resyncs - s->stats.resyncs;
			s->stats = st;
			return;
		}
		log_warnx("session %s: worker sent a bad or unexpected "
		          "message %s",
		    s->id, msg_name(m->hdr.type));
		return;
	case MSGCHAN_LOWAT:
		return;
	case MSGCHAN_CLOSED:
	case MSGCHAN_ERROR:
		/* The worker is going; its exit is handled when reaped. */
		msgchan_free(s->chan);
		s->chan = NULL;
		return;
	}
}

/* The scrollback is in the worker, or will not come: browsers go on. */
static void
session_refill_over(struct session *s)
{
	s->flags &= ~S_REFILL;
	evtimer_del(s->ev_refill);
	session_forward_browsers(s);
}

static void
session_refill_over_cb(evutil_socket_t fd, short what, void *arg)
{
	struct session *s = arg;

	log_warnx("session %s: the scrollback took over %d ms; browsers "
	          "go on without it",
	    s->id, REFILL_WAIT_MS);
	session_refill_over(s);
}

static void session_gap(struct session *);

/* Keeps the last GAP_TAIL bytes of the recorded output in res. */
static void
session_keep_tail(struct session *s, const struct pg_result *res)
{
	size_t n, want = GAP_TAIL, len;
	int i;

	free(s->tail);
	s->tail = xmalloc(GAP_TAIL);
	s->taillen = 0;
	for (i = PQntuples(res) - 1; i >= 0 && want > 0; i--) {
		len = (size_t)PQgetlength(res, i, 0);
		n = len < want ? len : want;
		memmove(s->tail + n, s->tail, s->taillen);
		memcpy(s->tail, PQgetvalue(res, i, 0) + len - n, n);
		s->taillen += n;
		want -= n;
	}
}

/*
 * Sends the worker what the container printed while no alia was attached
 * (data, len; may be empty), after marker if not empty, and lets it read
 * the stream again.
 */
static void
session_gap_send(struct session *s, const char *marker,
    const unsigned char *data, size_t len)
{
	struct msg_gap h;
	size_t n;

	s->flags &= ~S_GAP;
	free(s->tail);
	s->tail = NULL;
	free(s->head);
	s->head = NULL;
	s->headlen = 0;
	if (s->chan == NULL)
		return;
	memset(&h, 0, sizeof(h));
	if (marker != NULL)
		snprintf(h.marker, sizeof(h.marker), "%s", marker);
	do {
		n = len < MSG_MAX_DATA ? len : MSG_MAX_DATA;
		h.len = (uint32_t)n;
		h.more = len > n;
		msg_send_worker_gap(s->chan, &s->uuid, &h, data);
		data += n;
		len -= n;
		h.marker[0] = '\0';
	} while (len > 0);
}

/*
 * Docker's log of a tty container, lines of "TIMESTAMP " and the line:
 * the lines alone, in out (len bytes of it used).
 */
static size_t
session_gap_lines(const unsigned char *p, size_t len, unsigned char *out)
{
	const unsigned char *end = p + len, *sp, *nl;
	size_t n = 0;

	while (p < end) {
		if ((sp = memchr(p, ' ', (size_t)(end - p))) == NULL)
			break;
		sp++;
		nl = memchr(sp, '\n', (size_t)(end - sp));
		nl = nl != NULL ? nl + 1 : end;
		memcpy(out + n, sp, (size_t)(nl - sp));
		n += (size_t)(nl - sp);
		p = nl;
	}
	return n;
}

/*
 * Where the recording's tail ends in the log, or -1: the last place the
 * longest of its last 1024, 256, 64 or 16 bytes stands.
 */
static ssize_t
session_gap_after(const unsigned char *log, size_t len,
    const unsigned char *tail, size_t taillen)
{
	static const size_t tries[] = {GAP_TAIL, 256, 64, 16};
	const unsigned char *at, *last, *needle;
	size_t i, k;

	for (i = 0; i < sizeof(tries) / sizeof(tries[0]); i++) {
		if ((k = tries[i]) > taillen)
			continue;
		needle = tail + taillen - k;
		last = NULL;
		for (at = log; (at = memmem(at, len - (size_t)(at - log),
		                    needle, k)) != NULL;
		     at++)
			last = at;
		if (last != NULL)
			return (last - log) + (ssize_t)k;
	}
	return -1;
}

/*
 * How much of the log's end (log, len) the stream also holds: the longest
 * end of the log that the stream's first bytes begin with. The stream is
 * not read until the gap is in, so its first bytes are those that came
 * with the attach (kept in head) and those still in the socket (peeked).
 */
static size_t
session_gap_end(struct session *s, const unsigned char *log, size_t len)
{
	unsigned char *first;
	size_t n = s->headlen, k;
	ssize_t got;

	first = xmalloc(GAP_HEAD);
	if (n > 0)
		memcpy(first, s->head, n);
	if (n < GAP_HEAD && s->attach_fd != -1 &&
	    (got = recv(s->attach_fd, first + n, GAP_HEAD - n,
	         MSG_PEEK | MSG_DONTWAIT)) > 0)
		n += (size_t)got;
	for (k = n < len ? n : len; k > 0; k--)
		if (memcmp(log + len - k, first, k) == 0)
			break;
	free(first);
	return k;
}

static void
session_gap_cb(struct session *s, struct docker_result *r)
{
	unsigned char *lines;
	size_t len, n, end;
	ssize_t from;

	if (s->state == SESSION_ENDED || !(s->flags & S_GAP))
		return;
	if (r->status != 200 || r->body == NULL) {
		log_warnx("session %s: Docker's log: %s (status %d)", s->id,
		    r->message != NULL ? r->message : "no body", r->status);
		session_gap_send(s,
		    "alia restarted: what the session printed meanwhile "
		    "could not be read from Docker's log and may be missing",
		    NULL, 0);
		return;
	}
	len = evbuffer_get_length(r->body);
	lines = xmalloc(len + 1);
	/* An empty log: pullup gives NULL, and there are no lines. */
	n = len > 0
	    ? session_gap_lines(evbuffer_pullup(r->body, -1), len, lines)
	    : 0;
	end = session_gap_end(s, lines, n);
	n -= end;
	if (n == 0) {
		session_gap_send(s, NULL, NULL, 0);
	} else if (s->taillen == 0) {
		session_gap_send(s,
		    "alia restarted: what follows was printed meanwhile "
		    "(from Docker's log)",
		    lines, n);
	} else if ((from = session_gap_after(lines, n, s->tail, s->taillen)) >=
	    0) {
		log_info("session %s: %zu bytes printed while alia was "
		         "away, from Docker's log (the recording's end found "
		         "%zd bytes into its %zu; the last %zu also in the "
		         "stream)",
		    s->id, n - (size_t)from, from, n + end, end);
		session_gap_send(s, NULL, lines + from, n - (size_t)from);
	} else {
		log_warnx("session %s: the recording's last output is not "
		          "in Docker's log: some output may be missing",
		    s->id);
		session_gap_send(s,
		    "alia restarted: Docker's log no longer held all that "
		    "was printed meanwhile; some output before this is "
		    "missing",
		    lines, n);
	}
	free(lines);
}

/* Asks Docker's log for what the adopted session printed meanwhile. */
static void
session_gap(struct session *s)
{
	int64_t wait =
	    s->attached_us + GAP_SETTLE_MS * INT64_C(1000) - clock_mono_us();
	struct timeval tv = {0, 0};

	/*
	 * Docker's log is written by a copier behind the tty: a line printed
	 * just before the attach may reach the log after a read made at
	 * once, and be in neither. The read waits until the copier has
	 * surely caught up (the stream is not read meanwhile: the container
	 * waits for at most this long).
	 */
	if (wait > 0) {
		tv.tv_sec = (time_t)(wait / 1000000);
		tv.tv_usec = (suseconds_t)(wait % 1000000);
		evtimer_add(s->ev_gap, &tv);
		return;
	}
	/*
	 * Up to now: what came after the attach is also in the stream, and
	 * session_gap_end cuts it off; the attach's own time would lose what
	 * Docker read while the attach was being made.
	 */
	docker_logs(SDOCKER(s), s->container, s->gap_since_us, clock_wall_us(),
	    dcall_cb, dcall(s, session_gap_cb, 1));
}

static void
session_gap_settled_cb(evutil_socket_t fd, short what, void *arg)
{
	struct session *s = arg;

	if (s->state != SESSION_ENDED && (s->flags & S_GAP))
		session_gap(s);
}

/* Whose refill a query answers: a newer worker of s asks anew. */
struct refill {
	struct uuid id;
	uint64_t gen;
};

/*
 * The recorded output for a replacement worker's scrollback: the last
 * REFILL_BYTES of the newest 4096 output events, sent in pieces. What
 * was not yet committed is in the journal, which the worker replays
 * itself; the worker puts this in front of whatever it has.
 */
static void
session_refill_cb(const struct pg_result *res, void *arg)
{
	struct refill *r = arg;
	struct session *s = session_tree_find(&ct.ids, &r->id);
	struct msg_screen h;
	size_t total = 0, skip, n, len, off, room;
	unsigned char *buf;
	int i, rows;

	if (s == NULL || s->refill != r->gen) {
		free(r);
		return;
	}
	free(r);
	if (s->chan == NULL || s->state == SESSION_ENDED) {
		session_refill_over(s);
		return;
	}
	if (res == NULL) {
		log_warnx("session %s: no scrollback for the new worker: the "
		          "database did not answer",
		    s->id);
		session_refill_over(s);
		if (s->flags & S_GAP)
			session_gap(s);
		return;
	}
	rows = PQntuples(res);
	for (i = 0; i < rows; i++)
		total += (size_t)PQgetlength(res, i, 0);
	skip = total > REFILL_BYTES ? total - REFILL_BYTES : 0;
	buf = xmalloc(MSG_MAX_DATA);
	memset(&h, 0, sizeof(h));
	room = 0;
	for (i = 0; i < rows; i++) {
		len = (size_t)PQgetlength(res, i, 0);
		if (skip >= len) {
			skip -= len;
			continue;
		}
		for (off = skip, skip = 0; off < len; off += n) {
			n = len - off;
			if (n > MSG_MAX_DATA - room)
				n = MSG_MAX_DATA - room;
			memcpy(buf + room, PQgetvalue(res, i, 0) + off, n);
			room += n;
			if (room == MSG_MAX_DATA) {
				h.more = 1;
				h.len = (uint32_t)room;
				msg_send_worker_screen(
				    s->chan, &s->uuid, &h, buf);
				room = 0;
			}
		}
	}
	h.more = 0;
	h.len = (uint32_t)room;
	msg_send_worker_screen(s->chan, &s->uuid, &h, buf);
	free(buf);
	if (s->flags & S_GAP) {
		session_keep_tail(s, res);
		session_gap(s);
	}
	log_info("session %s: %zu bytes of recorded output for the new "
	         "worker's scrollback",
	    s->id, total < REFILL_BYTES ? total : (size_t)REFILL_BYTES);
	session_refill_over(s);
}

/* Asks the recording for the scrollback of s's replacement worker. */
static void
session_refill(struct session *s)
{
	struct refill *r;
	const char *p[1];

	struct timeval tv = {
	    REFILL_WAIT_MS / 1000, (REFILL_WAIT_MS % 1000) * 1000};

	r = xcalloc(1, sizeof(*r));
	r->id = s->uuid;
	r->gen = ++s->refill;
	s->flags |= S_REFILL;
	evtimer_add(s->ev_refill, &tv);
	p[0] = s->id;
	pgc_fetch(ct.db,
	    "SELECT data FROM (SELECT seq, data FROM alia.events "
	    "WHERE session_id = $1 AND kind = 'o' ORDER BY seq DESC "
	    "LIMIT 4096) t ORDER BY seq",
	    1, p, PGC_RETRY | PGC_BINARY, session_refill_cb, r);
}

/* Sends a copy of one of the fds that outlive workers; -1 on failure. */
static int
session_send_fd(struct session *s, int fd, int32_t which)
{
	struct msg_worker_fd f;
	int copy;

	if ((copy = fcntl(fd, F_DUPFD_CLOEXEC, 0)) == -1)
		return -1;
	memset(&f, 0, sizeof(f));
	f.which = which;
	return msg_send_worker_fd(s->chan, &s->uuid, copy, &f);
}

int
container_worker_spawn(pid_t *pid)
{
	int sv[2];

	if (msg_socketpair(sv) == -1) {
		log_warn("%s: socketpair", __func__);
		return -1;
	}
	if ((*pid = proc_spawn(
	         PROC_WORKER_IMAGE, "worker", sv[1], ct.verbose)) == -1) {
		close(sv[0]);
		close(sv[1]);
		return -1;
	}
	close(sv[1]);
	return sv[0];
}

/*
 * Forks the session's worker (unless the pool's is waiting: S_SPARE) and
 * hands it the session's fds.
 */
static void
session_start_worker(struct session *s, int restarted)
{
	struct msg_worker_start w;
	int fd, copy;

	if (s->flags & S_SPARE) {
		/* configured by the pool when it was forked */
		s->flags &= ~S_SPARE;
	} else {
		if ((fd = container_worker_spawn(&s->worker)) == -1) {
			s->worker = 0;
			session_kill(s, "no worker");
			return;
		}
		s->chan = msgchan_new(ct.base, fd, session_worker_msg, s);
		msg_send_config(s->chan, &s->uuid, ct.conf);
	}
	if (session_send_fd(s, s->journal_fd, WORKER_FD_JOURNAL) == -1 ||
	    session_send_fd(s, s->pipe_r, WORKER_FD_PIPE_R) == -1 ||
	    session_send_fd(s, s->pipe_w, WORKER_FD_PIPE_W) == -1 ||
	    (copy = fcntl(s->attach_fd, F_DUPFD_CLOEXEC, 0)) == -1) {
		log_warn("session %s: handing the worker its fds", s->id);
		kill(s->worker, SIGKILL);
		session_kill(s, "no worker");
		return;
	}
	memset(&w, 0, sizeof(w));
	w.cols = s->cols;
	w.rows = s->rows;
	w.restarted = restarted;
	/*
	 * Every worker of the session counts event times from the same zero:
	 * a replacement's events follow the dead one's in time.
	 */
	if (s->started_us == 0)
		s->started_us = clock_wall_us();
	w.started_us = s->started_us;
	w.idle_timeout = ct.conf->idle_timeout;
	w.max_lifetime = ct.conf->max_lifetime;
	w.reconnect_grace = ct.conf->reconnect_grace;
	w.first_seq = s->first_seq;
	/* An adopted session's first worker: Docker's log comes first. */
	if (restarted == WORKER_ADOPTED && ct.conf->record &&
	    !(s->flags & S_GAP)) {
		s->flags |= S_GAP;
		w.gap = 1;
	}
	msg_send_worker_start(s->chan, &s->uuid, copy, &w);
	s->stats.bytes_out = s->stats.bytes_in = 0;
	s->stats.resyncs = 0;
	if (ct.conf->record &&
	    master_broker_pair(PEER_WORKER, &s->uuid, s->chan) == -1)
		log_warnx(
		    "session %s: no broker channel for its worker yet", s->id);
	log_debug("session %s: worker %ld started", s->id, (long)s->worker);
	if (restarted && ct.conf->record)
		session_refill(s);
	session_forward_browsers(s);
}

int
container_child_exited(pid_t pid, int status)
{
	struct session *s = NULL, *t;

	TAILQ_FOREACH (t, &ct.live, entry)
		if (t->worker == pid) {
			s = t;
			break;
		}
	if (s == NULL)
		TAILQ_FOREACH (t, &ct.ended, entry)
			if (t->worker == pid) {
				s = t;
				break;
			}
	if (s == NULL)
		return pool_reaped(pid);
	s->worker = 0;
	msgchan_free(s->chan);
	s->chan = NULL;
	evtimer_del(s->ev_worker);
	if (s->flags & S_SPARE) {
		/* The pool's worker died before it was started: a new one. */
		s->flags &= ~S_SPARE;
		return 1;
	}
	if (s->state == SESSION_ENDED || ct.stopping)
		return 1;
	ct.m.worker_restarts++;
	if (s->worker_restarts == 0 ||
	    (clock_mono_us() - s->restart_window) / 1000 > WORKER_WINDOW_MS) {
		s->worker_restarts = 0;
		s->restart_window = clock_mono_us();
	}
	if (++s->worker_restarts > WORKER_RESTARTS) {
		log_warnx("session %s: worker died %d times within a minute",
		    s->id, WORKER_RESTARTS);
		session_kill(s, "worker keeps crashing");
		return 1;
	}
	log_warnx("session %s: worker %ld %s %d; replacing it", s->id,
	    (long)pid, WIFSIGNALED(status) ? "killed by signal" : "exited",
	    WIFSIGNALED(status) ? WTERMSIG(status) : WEXITSTATUS(status));
	if (s->attach_fd != -1)
		session_start_worker(s, 1);
	else
		session_kill(s, "worker died before the attach");
	return 1;
}

/* Makes s, its id and state set, a live session: its fds and timers. */
static void
session_live(struct session *s)
{
	s->attach_fd = s->journal_fd = s->pipe_r = s->pipe_w = -1;
	TAILQ_INIT(&s->waiting);
	s->ev_kill = evtimer_new(ct.base, session_kill_cb, s);
	s->ev_refill = evtimer_new(ct.base, session_refill_over_cb, s);
	s->ev_worker = evtimer_new(ct.base, session_worker_timeout_cb, s);
	s->ev_rewait = evtimer_new(ct.base, session_rewait_cb, s);
	s->ev_gap = evtimer_new(ct.base, session_gap_settled_cb, s);
	RB_INSERT(session_tree, &ct.ids, s);
	TAILQ_INSERT_TAIL(&ct.live, s, entry);
}

int
container_live(void)
{
	struct session *s;
	int n = 0;

	TAILQ_FOREACH (s, &ct.live, entry)
		n++;
	return n;
}

/* Live sessions of owner, or of everyone when owner is NULL. */
static int
session_count(const char *owner)
{
	struct session *s;
	int n = 0;

	/* A session being ended (DELETE) no longer counts. */
	TAILQ_FOREACH (s, &ct.live, entry)
		if ((owner == NULL || strcmp(s->owner, owner) == 0) &&
		    !(s->flags & S_KILLING))
			n++;
	return n;
}

static void
session_info(const struct session *s, uint64_t req, int status,
    struct msg_session_info *i)
{
	memset(i, 0, sizeof(*i));
	i->req = req;
	i->status = status;
	snprintf(i->session, sizeof(i->session), "%s", s->id);
	snprintf(
	    i->state, sizeof(i->state), "%s", session_state_names[s->state]);
	snprintf(i->owner, sizeof(i->owner), "%s", s->owner);
	strlcpy(i->image, ct.conf->env[s->env].image, sizeof(i->image));
	snprintf(i->env, sizeof(i->env), "%s", ct.conf->env[s->env].name);
	snprintf(i->lesson, sizeof(i->lesson), "%s", s->lesson);
	snprintf(
	    i->lesson_title, sizeof(i->lesson_title), "%s", s->lesson_title);
	i->steps = s->steps;
	i->step = s->step;
	i->failed_checks = s->failed_checks;
	i->last_check_step = s->last_check_step;
	i->last_check_passed = s->last_check_passed;
	i->step_since_us = s->step_since_us;
	i->last_check_us = s->last_check_us;
	i->last_activity_us = s->stats.last_activity_us;
	snprintf(i->end_reason, sizeof(i->end_reason), "%s", s->end_reason);
	snprintf(i->engine, sizeof(i->engine), "%s", engine_name(s->engine));
	i->created_us = s->created_us;
	i->started_us = s->started_us;
	i->ended_us = s->ended_us;
	i->exit_code = s->state == SESSION_ENDED ? s->exit_code : -1;
	i->cols = s->cols;
	i->rows = s->rows;
	i->viewers = s->state == SESSION_ENDED ? 0 : s->stats.browsers;
}

static void
reply_error(
    struct msgchan *front, uint64_t req, int status, const char *message)
{
	struct msg_session_info i;

	memset(&i, 0, sizeof(i));
	i.req = req;
	i.status = status;
	i.exit_code = -1;
	snprintf(i.message, sizeof(i.message), "%s", message);
	msg_send_session_info(front, NULL, &i);
}

static void
reply_info(struct msgchan *front, const struct session *s, uint64_t req,
    int status, int more)
{
	struct msg_session_info i;

	session_info(s, req, status, &i);
	i.more = more;
	msg_send_session_info(front, &s->uuid, &i);
}

/* Whom a role's own session cap applies to, as a refusal names it. */
static const char *const role_scope[CONFIG_NROLES] = {
    [CONFIG_ROLE_LEARNER] = "for a learner",
    [CONFIG_ROLE_INSTRUCTOR] = "for an instructor",
    [CONFIG_ROLE_ADMIN] = "for an admin",
};

static void container_create_session(
    struct msgchan *, struct msg_session_req *);

static void
container_parked_cb(evutil_socket_t fd, short what, void *arg)
{
	container_engines_changed();
}

/* Waits for an engine to be ready (engine_reconciled), PARK_MS at most. */
static void
container_park(const struct msg_session_req *r)
{
	struct timeval tv = {0, 100000};
	struct parked *p;

	p = xcalloc(1, sizeof(*p));
	p->r = *r;
	p->until = clock_mono_us() + PARK_MS * INT64_C(1000);
	TAILQ_INSERT_TAIL(&ct.parked, p, entry);
	ct.nparked++;
	if (!evtimer_pending(ct.ev_parked, NULL))
		evtimer_add(ct.ev_parked, &tv);
}

/* The environment a request names (checked at its create): an index. */
static int
request_env(const struct msg_session_req *r)
{
	const struct config_env *e = config_env_find(ct.conf, r->env);

	return e != NULL ? (int)(e - ct.conf->env) : 0;
}

void
container_engines_changed(void)
{
	struct timeval tv = {0, 100000};
	struct msgchan *front = master_front();
	struct parked *p;
	TAILQ_HEAD(, parked) now;
	int64_t t = clock_mono_us();
	int env;

	/* Each is asked again (and may park again): once, from a copy. */
	TAILQ_INIT(&now);
	TAILQ_CONCAT(&now, &ct.parked, entry);
	ct.nparked = 0;
	while ((p = TAILQ_FIRST(&now)) != NULL) {
		TAILQ_REMOVE(&now, p, entry);
		if (front == NULL) {
			free(p);
			continue;
		}
		env = request_env(&p->r);
		if (engine_pick(env) == NULL && engine_starting() &&
		    t < p->until && !ct.stopping) {
			TAILQ_INSERT_TAIL(&ct.parked, p, entry);
			ct.nparked++;
			continue;
		}
		if (engine_pick(env) == NULL)
			p->r.flags |= REQ_NO_PARK;
		container_create_session(front, &p->r);
		free(p);
	}
	if (ct.nparked > 0 && !evtimer_pending(ct.ev_parked, NULL))
		evtimer_add(ct.ev_parked, &tv);
}

/*
 * Lesson name, read from lessons_dir as it is now into l; -1 when it
 * cannot be (logged, for whom: a session's id or an owner).
 */
static int
lesson_read(const char *whom, const char *name, struct lesson *l)
{
	char err[256];
	int dfd, rc;

	if ((dfd = open(ct.conf->lessons_dir,
	         O_RDONLY | O_DIRECTORY | O_CLOEXEC)) == -1) {
		log_warn("%s: lessons_dir %s", whom, ct.conf->lessons_dir);
		return -1;
	}
	rc = lesson_load(l, dfd, name, err, sizeof(err));
	close(dfd);
	if (rc == -1)
		log_warnx("%s: lesson %s: %s", whom, name, err);
	return rc;
}

/* A session's copy of what its lesson says: title and steps. */
static void
session_lesson(struct session *s, const struct lesson *l)
{
	snprintf(s->lesson_title, sizeof(s->lesson_title), "%.127s", l->title);
	s->steps = l->nsteps;
}

/*
 * The lesson a create names, if any, read from lessons_dir: its title,
 * steps and environment (r->env, when the request named none). -1 with
 * msg set (a 400) when it is no lesson or wants another environment.
 */
static int
request_lesson(
    struct msg_session_req *r, struct lesson *l, char *msg, size_t len)
{

	if (r->lesson[0] == '\0')
		return 0;
	if (lesson_read(r->owner, r->lesson, l) == -1) {
		snprintf(msg, len, "no such lesson: %s", r->lesson);
		return -1;
	}
	if (r->env[0] == '\0')
		snprintf(r->env, sizeof(r->env), "%s", l->environment);
	else if (l->environment[0] != '\0' &&
	    strcmp(l->environment, r->env) != 0) {
		snprintf(msg, len, "lesson %s runs in environment %s, not %s",
		    r->lesson, l->environment, r->env);
		lesson_free(l);
		return -1;
	}
	return 0;
}

static void
container_create_session(struct msgchan *front, struct msg_session_req *r)
{
	char created[32], cols[8], rows[8];
	const char *p[9];
	const struct config_env *env;
	struct lesson lesson;
	struct pool_taken t;
	struct engine *engine = NULL;
	struct session *s;
	char msg[256], why[230];
	int64_t max;
	int role, by_role, pooled;

	if (ct.stopping) {
		reply_error(front, r->req, 503, "the server is stopping");
		return;
	}
	if (session_count(NULL) >= ct.conf->max_sessions) {
		snprintf(msg, sizeof(msg),
		    "the server is full: %lld sessions run, the most it takes "
		    "(max_sessions); try again later",
		    (long long)ct.conf->max_sessions);
		log_warnx("session of %s refused: %s", r->owner, msg);
		reply_error(front, r->req, 503, msg);
		return;
	}
	role = r->role >= 0 && r->role < CONFIG_NROLES ? r->role : -1;
	by_role = role != -1 && ct.conf->limits[role].max_sessions != 0;
	max = by_role ? ct.conf->limits[role].max_sessions
	              : ct.conf->max_sessions_per_user;
	if (session_count(r->owner) >= max) {
		snprintf(msg, sizeof(msg),
		    "too many sessions: at most %lld at once %s",
		    (long long)max, by_role ? role_scope[role] : "per user");
		reply_error(front, r->req, 429, msg);
		return;
	}
	memset(&lesson, 0, sizeof(lesson));
	if (request_lesson(r, &lesson, msg, sizeof(msg)) == -1) {
		reply_error(front, r->req, 400, msg);
		return;
	}
	if ((env = config_env_find(ct.conf, r->env)) == NULL) {
		snprintf(msg, sizeof(msg), "no such environment: %.64s%s%s",
		    r->env, r->lesson[0] ? " (the lesson's)" : "", "");
		lesson_free(&lesson);
		reply_error(front, r->req, 400, msg);
		return;
	}
	/* A pool container was made for the id of the session taking it. */
	pooled = pool_take((int)(env - ct.conf->env), &t) == 0;
	if (!pooled &&
	    (engine = engine_pick((int)(env - ct.conf->env))) == NULL) {
		lesson_free(&lesson);
		if (!(r->flags & REQ_NO_PARK) && engine_starting() &&
		    ct.nparked < (size_t)ct.conf->max_sessions) {
			container_park(r);
			return;
		}
		engine_why_none((int)(env - ct.conf->env), why, sizeof(why));
		snprintf(msg, sizeof(msg),
		    "no Docker engine can take a session of %.31s now: %.170s",
		    env->name, why);
		log_warnx("session of %s refused: %s", r->owner, msg);
		reply_error(front, r->req, 503, msg);
		return;
	}
	s = xcalloc(1, sizeof(*s));
	if (pooled) {
		s->uuid = t.session;
		s->engine = t.engine;
	} else {
		container_session_id(&s->uuid);
		s->engine = engine;
	}
	uuid_format(&s->uuid, s->id);
	snprintf(s->owner, sizeof(s->owner), "%s", r->owner);
	s->cols = r->cols >= 1 && r->cols <= TERM_SIZE_MAX ? r->cols : 80;
	s->rows = r->rows >= 1 && r->rows <= TERM_SIZE_MAX ? r->rows : 24;
	s->created_us = clock_wall_us();
	s->exit_code = -1;
	s->role = role;
	s->state = SESSION_STARTING;
	s->env = (int)(env - ct.conf->env);
	if (r->lesson[0] != '\0') {
		snprintf(s->lesson, sizeof(s->lesson), "%s", lesson.name);
		session_lesson(s, &lesson);
		s->step = 1;
		s->step_since_us = s->created_us;
	}
	lesson_free(&lesson);
	session_live(s);
	ct.m.sessions_created++;
	log_info("session %s: created for %s on engine %s (%s%s%s)", s->id,
	    s->owner, engine_name(s->engine), env->name,
	    s->lesson[0] ? ", lesson " : "", s->lesson);

	session_fmt_us(created, sizeof(created), s->created_us);
	snprintf(cols, sizeof(cols), "%u", s->cols);
	snprintf(rows, sizeof(rows), "%u", s->rows);
	p[0] = s->id;
	p[1] = s->owner;
	p[2] = env->image;
	p[3] = created;
	p[4] = cols;
	p[5] = rows;
	p[6] = engine_name(s->engine);
	p[7] = env->name;
	p[8] = s->lesson[0] ? s->lesson : NULL;
	session_db("INSERT INTO alia.sessions (id, owner, image, state, "
	           "created_at, cols, rows, start_cols, start_rows, engine, "
	           "environment, lesson) "
	           "VALUES ($1, $2, $3, 'created', to_timestamp($4::float8), "
	           "$5, $6, $5, $6, $7, $8, $9) ON CONFLICT (id) DO NOTHING",
	    9, p);
	s->create_req = r->req;
	if (pooled)
		session_take(s, &t);
	else
		session_create_container(s);
}

/* Looks up a session for owner; answers 404/403 and returns NULL if none. */
static struct session *
container_lookup(struct msgchan *front, struct msg_session_req *r)
{
	struct session *s;

	if ((s = session_lookup(r->session)) == NULL) {
		reply_error(front, r->req, 404, "no such session");
		return NULL;
	}
	if (!(r->flags & REQ_ANY_OWNER) && strcmp(s->owner, r->owner) != 0) {
		reply_error(front, r->req, 403, "this session is not yours");
		return NULL;
	}
	return s;
}

static void
container_list(struct msgchan *front, struct msg_session_req *r)
{
	struct session *s, *last = NULL;
	struct session_list *lists[] = {&ct.ended, &ct.live};
	size_t i;

	for (i = 0; i < 2; i++)
		TAILQ_FOREACH (s, lists[i], entry) {
			if (!(r->flags & REQ_ANY_OWNER) &&
			    strcmp(s->owner, r->owner) != 0)
				continue;
			if (last != NULL)
				reply_info(front, last, r->req, 200, 1);
			last = s;
		}
	if (last != NULL)
		reply_info(front, last, r->req, 200, 0);
	else
		reply_error(front, r->req, 200, "");
}

/* Whether the attach a, with the caller's members sees, may join s. */
static int
attach_allowed(
    const struct session *s, const struct msg_attach *a, const char *sees)
{
	char key[OWNER_LEN + 3];

	if (strcmp(s->owner, a->owner) == 0)
		return 1;
	if (a->mode != ATTACH_WATCH)
		return 0; /* control is the owner's alone */
	if (a->flags & REQ_ANY_OWNER)
		return 1; /* an admin, or a share link front checked */
	if (a->role != CONFIG_ROLE_INSTRUCTOR || sees == NULL)
		return 0;
	snprintf(key, sizeof(key), " %s ", s->owner);
	return strstr(sees, key) != NULL;
}

/*
 * A browser's websocket from front: the one check of who may attach,
 * then it waits for the session's worker; front hears 200, or the
 * refusal to say (the fd closed here).
 */
static void
container_attach_browser(struct msgchan *front, struct msg *m)
{
	struct browser_wait *w;
	struct msg_attach a;
	struct session *s;
	const char *sees, *why = NULL;
	int fd, status = 200;

	if (msg_get_session_attach(m, &a, &fd, &sees) == -1) {
		log_warnx("front sent a bad MSG_SESSION_ATTACH");
		return;
	}
	if ((s = session_lookup(a.session)) == NULL) {
		status = 404;
		why = "no such session";
	} else if (!attach_allowed(s, &a, a.len > 0 ? sees : NULL)) {
		status = 403;
		why = "this session is not yours";
	} else if (s->state == SESSION_ENDED) {
		status = 410;
		why = "this session has ended";
	}
	if (why != NULL) {
		log_info("browser of %s for session %s refused: %s", a.owner,
		    a.session, why);
		close(fd);
		reply_error(front, a.req, status, why);
		return;
	}
	w = xcalloc(1, sizeof(*w));
	w->fd = fd;
	w->a = a;
	w->a.req = 0;
	w->a.len = 0;
	TAILQ_INSERT_TAIL(&s->waiting, w, entry);
	reply_info(front, s, a.req, 200, 0);
	session_forward_browsers(s);
}

/* A request about sessions from front, any MSG_SESSION_* but the two. */
static int
container_front_req(struct msg *m, struct msg_session_req *r)
{
	switch (m->hdr.type) {
	case MSG_SESSION_CREATE:
		return msg_get_session_create(m, r);
	case MSG_SESSION_LIST:
		return msg_get_session_list(m, r);
	case MSG_SESSION_GET:
		return msg_get_session_get(m, r);
	case MSG_SESSION_DELETE:
		return msg_get_session_delete(m, r);
	case MSG_SESSION_KICK:
		return msg_get_session_kick(m, r);
	case MSG_SESSION_CHECK:
		return msg_get_session_check(m, r);
	default:
		return -1;
	}
}

/* A check that runs: whose, and whom to answer. */
struct check_ask {
	struct uuid session;
	uint64_t req;
	int step;
	int none; /* the step has no check: done when asked */
	char lesson[LESSON_NAME_LEN];
	char by[OWNER_LEN]; /* who asked */
};

static void
check_reply(uint64_t req, int status, const char *message, int step,
    const struct check_result *res)
{
	struct msgchan *front = master_front();
	struct msg_check c;

	if (front == NULL)
		return;
	memset(&c, 0, sizeof(c));
	c.req = req;
	c.status = status;
	c.step = step;
	c.exit_code = -1;
	snprintf(c.message, sizeof(c.message), "%s", message);
	if (res != NULL) {
		c.passed = res->passed;
		c.exit_code = res->exit_code;
		c.timed_out = res->timed_out;
		c.len = (uint32_t)res->outlen;
	}
	msg_send_check_result(front, NULL, &c, res != NULL ? res->output : "");
}

/*
 * A check ran: a marker in the recording, a row in lesson_progress, the
 * learner's step moved on when it passed the step they were on, and the
 * answer; the session may have ended meanwhile (the row and answer stay).
 */
static void
session_checked(const struct check_result *res, void *arg)
{
	struct check_ask *a = arg;
	struct msg_mark mk;
	struct session *s;
	char step[16], code[16], outcome[64], id[SESSION_ID_LEN];
	const char *p[8];

	s = session_tree_find(&ct.ids, &a->session);
	if (res->error[0] != '\0')
		snprintf(outcome, sizeof(outcome), "failed (did not run)");
	else if (res->timed_out)
		snprintf(outcome, sizeof(outcome), "failed (timed out)");
	else if (res->passed)
		snprintf(outcome, sizeof(outcome), "%s",
		    a->none ? "done (no check)" : "passed");
	else
		snprintf(outcome, sizeof(outcome), "failed (exit %d)",
		    res->exit_code);
	if (!a->none) {
		ct.m.checks++;
		ct.m.checks_passed += res->passed != 0;
		ct.m.checks_timed_out += res->timed_out != 0;
	}
	log_info("session %s: check of %s step %d by %s: %s%s%s",
	    s != NULL ? s->id : "(gone)", a->lesson, a->step, a->by, outcome,
	    res->error[0] ? ": " : "", res->error);
	if (s != NULL) {
		s->checking = 0;
		s->last_check_step = a->step;
		s->last_check_passed = res->passed;
		s->last_check_us = clock_wall_us();
		if (res->passed)
			s->passed |= UINT64_C(1) << (a->step - 1);
		if (res->passed && a->step == s->step) {
			/* On to the first step not passed yet. */
			while (s->step <= s->steps &&
			    (s->passed & (UINT64_C(1) << (s->step - 1))))
				s->step++;
			s->failed_checks = 0;
			s->step_since_us = s->last_check_us;
		} else if (!res->passed && a->step == s->step)
			s->failed_checks++;
		if (s->chan != NULL) {
			memset(&mk, 0, sizeof(mk));
			snprintf(mk.text, sizeof(mk.text),
			    "check %s step %d %s by %s", a->lesson, a->step,
			    outcome, a->by);
			msg_send_worker_mark(s->chan, &s->uuid, &mk);
		}
	}
	snprintf(step, sizeof(step), "%d", a->step);
	snprintf(code, sizeof(code), "%d", res->exit_code);
	uuid_format(&a->session, id);
	p[0] = id;
	p[1] = a->lesson;
	p[2] = step;
	p[3] = res->passed ? "t" : "f";
	p[4] = res->exit_code >= 0 && !a->none ? code : NULL;
	p[5] = res->timed_out ? "t" : "f";
	p[6] = a->by;
	/* The owner is the row's: the session may be gone from memory. */
	session_db("INSERT INTO alia.lesson_progress (session_id, owner, "
	           "lesson, step, passed, exit_code, timed_out, checked_by) "
	           "SELECT s.id, s.owner, $2, $3, $4, $5, $6, $7 "
	           "FROM alia.sessions s WHERE s.id = $1",
	    7, p);
	check_reply(a->req, 200, res->error, a->step, res);
	free(a);
}

/*
 * POST /api/sessions/ID/check: the step's check, from the lesson file as
 * it is now, runs in the session's container (check.c).
 */
static void
container_check(struct msgchan *front, struct msg_session_req *r)
{
	struct check_ask *a;
	struct session *s;
	struct lesson l;
	char msg[256];
	int status = 400;

	if ((s = session_lookup(r->session)) == NULL) {
		check_reply(r->req, 404, "no such session", r->step, NULL);
		return;
	}
	if (!(r->flags & REQ_ANY_OWNER) && strcmp(s->owner, r->owner) != 0) {
		check_reply(
		    r->req, 403, "this session is not yours", r->step, NULL);
		return;
	}
	msg[0] = '\0';
	if (s->lesson[0] == '\0')
		snprintf(msg, sizeof(msg), "this session has no lesson");
	else if (s->state == SESSION_ENDED) {
		status = 409;
		snprintf(msg, sizeof(msg), "this session has ended");
	} else if (s->state != SESSION_RUNNING || s->container[0] == '\0') {
		status = 409;
		snprintf(msg, sizeof(msg), "this session is not running yet");
	} else if (s->checking) {
		status = 429;
		snprintf(msg, sizeof(msg),
		    "a check of this session is running; one at a time");
	} else if (check_running() >= CHECKS_MAX) {
		status = 503;
		snprintf(msg, sizeof(msg),
		    "%d checks run now, the most at once; try again",
		    CHECKS_MAX);
	}
	if (msg[0] != '\0') {
		check_reply(r->req, status, msg, r->step, NULL);
		return;
	}
	if (lesson_read(s->id, s->lesson, &l) == -1) {
		check_reply(r->req, 500, "the lesson cannot be read now",
		    r->step, NULL);
		return;
	}
	if (r->step < 1 || r->step > l.nsteps)
		snprintf(msg, sizeof(msg),
		    "lesson %s has no step %d (steps 1 "
		    "to %d)",
		    s->lesson, r->step, l.nsteps);
	if (msg[0] != '\0') {
		lesson_free(&l);
		check_reply(r->req, 400, msg, r->step, NULL);
		return;
	}
	a = xcalloc(1, sizeof(*a));
	a->session = s->uuid;
	a->req = r->req;
	a->step = r->step;
	snprintf(a->lesson, sizeof(a->lesson), "%s", s->lesson);
	snprintf(a->by, sizeof(a->by), "%s", r->owner);
	s->checking = 1;
	if (l.step[r->step - 1].check == NULL) {
		/* Nothing to run: the learner (or instructor) says it is done. */
		struct check_result done;

		memset(&done, 0, sizeof(done));
		done.passed = 1;
		a->none = 1;
		lesson_free(&l);
		session_checked(&done, a);
		return;
	}
	check_run(SDOCKER(s), s->container, l.step[r->step - 1].check,
	    (int)ct.conf->check_timeout, session_checked, a);
	lesson_free(&l);
}

/* The viewers of a revoked share link go, if any; no answer. */
static void
container_kick(const struct msg_session_req *r)
{
	struct msg_kick k;
	struct session *s;

	if ((s = session_lookup(r->session)) == NULL || s->chan == NULL)
		return;
	memset(&k, 0, sizeof(k));
	snprintf(k.viewer, sizeof(k.viewer), "%s", r->owner);
	snprintf(k.why, sizeof(k.why), "%s", "the share link was revoked");
	msg_send_worker_kick(s->chan, &s->uuid, &k);
}

void
container_front_msg(struct msgchan *front, struct msg *m)
{
	struct msg_session_req r;
	struct session *s;

	if (m->hdr.type == MSG_SESSION_ATTACH) {
		container_attach_browser(front, m);
		return;
	}
	if (container_front_req(m, &r) == -1) {
		log_warnx("front sent a bad or unexpected message %s",
		    msg_name(m->hdr.type));
		return;
	}
	switch (m->hdr.type) {
	case MSG_SESSION_CREATE:
		container_create_session(front, &r);
		break;
	case MSG_SESSION_LIST:
		container_list(front, &r);
		break;
	case MSG_SESSION_GET:
		if ((s = container_lookup(front, &r)) != NULL)
			reply_info(front, s, r.req, 200, 0);
		break;
	case MSG_SESSION_DELETE:
		if ((s = container_lookup(front, &r)) == NULL)
			break;
		session_kill(s, "deleted");
		reply_info(front, s, r.req, 204, 0);
		break;
	case MSG_SESSION_KICK:
		container_kick(&r);
		break;
	case MSG_SESSION_CHECK:
		container_check(front, &r);
		break;
	}
}

int
container_kill(const char *id, const char *reason)
{
	struct session *s;
	struct uuid u;

	if (uuid_parse(id, &u) == -1)
		return -1;
	if ((s = session_tree_find(&ct.ids, &u)) == NULL) {
		log_info("session %s: asked to end (%s), but it is not here",
		    id, reason);
		return 0;
	}
	session_kill(s, reason);
	return 0;
}

void
container_signout(const char *user, int disabled)
{
	struct session *s, *next;
	struct msg_kick k;
	int nkick = 0, nend = 0;

	memset(&k, 0, sizeof(k));
	snprintf(k.viewer, sizeof(k.viewer), "%s", user);
	snprintf(k.why, sizeof(k.why), "signed out");
	/* Their browsers on anyone's session: owner, watcher or holder. */
	TAILQ_FOREACH (s, &ct.live, entry)
		if (s->chan != NULL) {
			msg_send_worker_kick(s->chan, &s->uuid, &k);
			nkick++;
		}
	if (disabled)
		for (s = TAILQ_FIRST(&ct.live); s != NULL; s = next) {
			next = TAILQ_NEXT(s, entry);
			if (strcmp(s->owner, user) == 0) {
				session_kill(s, "user disabled");
				nend++;
			}
		}
	log_info("%s signed out%s: %d worker(s) told, %d session(s) ended",
	    user, disabled ? " and disabled" : "", nkick, nend);
}

void
container_broker_started(void)
{
	struct session *s;

	if (!ct.conf->record)
		return;
	TAILQ_FOREACH (s, &ct.live, entry)
		if (s->chan != NULL)
			(void)master_broker_pair(
			    PEER_WORKER, &s->uuid, s->chan);
	/* Ended sessions' workers may still be sending their last events. */
	TAILQ_FOREACH (s, &ct.ended, entry)
		if (s->chan != NULL)
			(void)master_broker_pair(
			    PEER_WORKER, &s->uuid, s->chan);
}

void
container_metrics(struct msg_metrics *out)

{
	uint64_t req = out->req;
	struct session *s;

	*out = ct.m;
	out->req = req;
	out->sessions_active = 0;
	TAILQ_FOREACH (s, &ct.live, entry)
		out->sessions_active++;
	out->checks_running = (uint64_t)check_running();
	engine_metrics(out);
}

int
container_engine_sessions(const struct engine *e)
{
	struct session *s;
	int n = 0;

	TAILQ_FOREACH (s, &ct.live, entry)
		if (s->engine == e)
			n++;
	return n;
}

void
container_engine_lost(struct engine *e)
{
	struct session *s, *next;
	const char *p[2];

	for (s = TAILQ_FIRST(&ct.live); s != NULL; s = next) {
		next = TAILQ_NEXT(s, entry);
		if (s->engine != e || (s->flags & S_DETACH))
			continue;
		snprintf(s->end_reason, sizeof(s->end_reason), "engine lost");
		if (s->create_req != 0 && master_front() != NULL) {
			reply_error(master_front(), s->create_req, 503,
			    "the Docker engine of the session was lost");
			s->create_req = 0;
		}
		session_end(s, -1, "engine lost");
	}
	/* Rows placed there by an earlier run, not taken up since. */
	p[0] = engine_name(e);
	p[1] = engine_name(engine_default());
	session_db("UPDATE alia.sessions SET state = 'ended', "
	           "ended_at = coalesce(ended_at, now()), "
	           "end_reason = coalesce(end_reason, 'engine lost') "
	           "WHERE state <> 'ended' AND coalesce(engine, $2) = $1",
	    2, p);
}

/*
 * Takes up a session that outlived the last alia: row is its row, cid its
 * running container. It is RUNNING at once; the attach brings a worker.
 */
/* An adopted session's environment and lesson, as its row says. */
static void
session_adopt_lesson(struct session *s, const struct restore_row *row)
{
	const struct config_env *env;
	struct lesson l;

	if ((env = config_env_find(ct.conf, row->env)) != NULL)
		s->env = (int)(env - ct.conf->env);
	else if (row->env[0] != '\0')
		log_warnx("session %s: environment %s is no longer "
		          "configured; shown as %s",
		    s->id, row->env, ct.conf->env[0].name);
	if (row->lesson[0] == '\0')
		return;
	snprintf(s->lesson, sizeof(s->lesson), "%s", row->lesson);
	s->step = row->step > 0 ? row->step : 1;
	s->passed =
	    s->step > 64 ? UINT64_MAX : (UINT64_C(1) << (s->step - 1)) - 1;
	s->failed_checks = row->failed_checks;
	s->step_since_us = row->step_since_us;
	snprintf(s->lesson_title, sizeof(s->lesson_title), "%s", s->lesson);
	if (lesson_read(s->id, s->lesson, &l) == 0) {
		session_lesson(s, &l);
		lesson_free(&l);
	}
}

static void
session_adopt(struct engine *e, const struct restore_row *row, const char *cid)
{
	struct session *s;

	s = xcalloc(1, sizeof(*s));
	if (uuid_parse(row->id, &s->uuid) == -1) {
		log_warnx("session %s: not a session id; left alone", row->id);
		free(s);
		return;
	}
	uuid_format(&s->uuid, s->id);
	snprintf(s->owner, sizeof(s->owner), "%s", row->owner);
	snprintf(s->container, sizeof(s->container), "%s", cid);
	s->engine = e;
	s->state = SESSION_RUNNING;
	s->flags = S_CREATED | S_ADOPTED;
	s->role = -1;
	s->cols = row->cols ? row->cols : 80;
	s->rows = row->rows ? row->rows : 24;
	s->created_us = row->created_us;
	s->started_us = row->started_us;
	s->first_seq = row->next_seq;
	session_adopt_lesson(s, row);
	s->gap_since_us =
	    (row->last_us > 0 ? row->last_us : row->started_us) - GAP_BEFORE_US;
	if (s->gap_since_us < 0)
		s->gap_since_us = 0;
	session_live(s);
	log_info("session %s of %s: taking it up again (container %.12s, "
	         "next seq %llu)",
	    s->id, s->owner, s->container, (unsigned long long)s->first_seq);
	docker_attach(
	    SDOCKER(s), s->container, dcall_cb, dcall(s, session_attached, 1));
}

/*
 * Once both the rows of sessions placed on rc's engine and not ended and
 * this instance's containers there are known (at start, and when the
 * engine answers again): with live_restore, running containers of rows
 * not ended are taken up; other containers are removed and other rows
 * ended.
 */
static void
container_reconcile(struct reconcile *rc)
{
	struct engine *e = rc->engine;
	struct restore_row *row;
	struct restore_ctr *c;
	struct session *s;
	const char *p[1];
	char *ids, *at;
	size_t i, j;
	int64_t now = clock_wall_us();

	ct.rc[engine_index(e)] = NULL;
	if (rc->blind)
		goto done; /* half the picture: anything could be wrong */
	for (i = 0; i < rc->nlist; i++) {
		c = &rc->list[i];
		/* Made by this master since: its own. An ended one's goes. */
		if ((s = session_lookup(c->session)) != NULL &&
		    s->state != SESSION_ENDED)
			continue;
		row = NULL;
		for (j = 0; j < rc->nrows; j++)
			if (strcmp(rc->rows[j].id, c->session) == 0)
				row = &rc->rows[j];
		if (ct.conf->live_restore && row != NULL && c->running &&
		    !ct.stopping &&
		    (ct.conf->max_lifetime == 0 || row->started_us == 0 ||
		        now - row->started_us <
		            ct.conf->max_lifetime * INT64_C(1000000))) {
			row->taken = 1;
			session_adopt(e, row, c->id);
			continue;
		}
		log_info("removing container %.12s of an earlier run on "
		         "engine %s (session %s: %s)",
		    c->id, engine_name(e), c->session[0] ? c->session : "?",
		    row == NULL && c->pool ? "a pool container never taken"
		        : !ct.conf->live_restore ? "live_restore is off"
		        : row == NULL            ? "its row is ended or gone"
		        : !c->running            ? "it no longer runs"
		                                 : "past max_lifetime");
		docker_remove(
		    engine_docker(e), c->id, dcall_cb, dcall_on(e, NULL, 0));
	}
	/*
	 * The rows read and not taken up, as a Postgres array: only those
	 * end. A session made since the query (browsers do not wait for
	 * this) is not an earlier run's.
	 */
	ids = xmalloc(rc->nrows * (SESSION_ID_LEN + 1) + 3);
	at = ids;
	*at++ = '{';
	for (j = 0; j < rc->nrows; j++)
		if (!rc->rows[j].taken &&
		    session_lookup(rc->rows[j].id) == NULL)
			at += sprintf(at, "%s%s", at > ids + 1 ? "," : "",
			    rc->rows[j].id);
	*at++ = '}';
	*at = '\0';
	p[0] = ids;
	session_db("UPDATE alia.sessions SET state = 'ended', "
	           "ended_at = coalesce(ended_at, now()), "
	           "end_reason = coalesce(end_reason, 'server restart') "
	           "WHERE state <> 'ended' AND id = ANY ($1::uuid[])",
	    1, p);
	free(ids);
done:
	free(rc->rows);
	free(rc->list);
	free(rc);
	engine_reconciled(e);
	pool_start();
}

/* Reads row i of the rows not ended; -1 if a field does not fit. */
static int
container_row(const struct pg_result *res, int i, struct restore_row *row)
{
	long long v[6];
	int k;

	if (str_copy(row->id, sizeof(row->id), PQgetvalue(res, i, 0)) == -1 ||
	    str_copy(row->owner, sizeof(row->owner), PQgetvalue(res, i, 1)) ==
	        -1)
		return -1;
	for (k = 0; k < 6; k++)
		if (str_num(PQgetvalue(res, i, k + 2), k < 2 ? 0 : LLONG_MIN,
		        k < 2 ? UINT16_MAX : LLONG_MAX, &v[k]) == -1)
			return -1;
	row->cols = (uint16_t)v[0];
	row->rows = (uint16_t)v[1];
	row->created_us = v[2];
	row->started_us = v[3];
	row->next_seq = (uint64_t)v[4];
	row->last_us = v[5];
	if (str_copy(row->env, sizeof(row->env), PQgetvalue(res, i, 8)) == -1 ||
	    str_copy(row->lesson, sizeof(row->lesson), PQgetvalue(res, i, 9)) ==
	        -1 ||
	    str_num(PQgetvalue(res, i, 10), 0, LESSON_STEPS_MAX + 1, &v[0]) ==
	        -1 ||
	    str_num(PQgetvalue(res, i, 11), 0, INT_MAX, &v[1]) == -1 ||
	    str_num(PQgetvalue(res, i, 12), 0, LLONG_MAX, &v[2]) == -1)
		return -1;
	row->step = (int)v[0];
	row->failed_checks = (int)v[1];
	row->step_since_us = v[2];
	return 0;
}

/* The rows not ended of an engine's sessions; NULL: refused. */
static void
container_rows_cb(const struct pg_result *res, void *arg)
{
	struct reconcile *rc;
	int i, n;

	if ((rc = ct.rc[(intptr_t)arg]) == NULL)
		return; /* stopped meanwhile */
	n = res != NULL ? PQntuples(res) : 0;
	if (res == NULL) {
		log_warnx("engine %s: the sessions not ended could not be "
		          "read: no session is taken up or ended, no "
		          "container removed",
		    engine_name(rc->engine));
		rc->blind = 1;
	}
	rc->rows = xcalloc((size_t)n + 1, sizeof(*rc->rows));
	for (i = 0; i < n; i++) {
		if (container_row(res, i, &rc->rows[rc->nrows]) == -1) {
			log_warnx("session %.*s: its row does not read as one: "
			          "left alone",
			    SESSION_ID_LEN - 1, PQgetvalue(res, i, 0));
			continue;
		}
		rc->nrows++;
	}
	rc->rows_in = 1;
	if (rc->list_in)
		container_reconcile(rc);
}

/* This instance's containers on an engine, for its reconcile. */
static void
container_listed(int index, struct docker_result *r)
{
	const struct docker_container *c;
	struct reconcile *rc;
	struct restore_ctr *l;
	size_t i;

	if ((rc = ct.rc[index]) == NULL)
		return;
	if (r->status != 200) {
		log_warnx("engine %s: listing this instance's containers "
		          "failed: %s (status %d): no session is taken up or "
		          "ended",
		    engine_name(rc->engine),
		    r->message != NULL ? r->message : "error", r->status);
		rc->blind = 1;
	}
	rc->list = xcalloc(r->ncontainers + 1, sizeof(*rc->list));
	for (i = 0; r->status == 200 && i < r->ncontainers; i++) {
		c = &r->containers[i];
		l = &rc->list[rc->nlist];
		if (str_copy(l->id, sizeof(l->id),
		        c->id != NULL ? c->id : "") == -1 ||
		    str_copy(l->session, sizeof(l->session),
		        c->session != NULL ? c->session : "") == -1) {
			log_warnx("container %.12s: an id or session label too "
			          "long: left alone",
			    c->id != NULL ? c->id : "");
			continue;
		}
		l->running =
		    c->state != NULL && strcmp(c->state, "running") == 0;
		l->pool = c->pool;
		rc->nlist++;
	}
	rc->list_in = 1;
	if (rc->rows_in)
		container_reconcile(rc);
}

void
container_engine_reconcile(struct engine *e)
{
	char label[64 + INSTANCE_LEN];
	struct reconcile *rc;
	const char *p[2];
	int i = engine_index(e);

	if (ct.rc[i] != NULL)
		return; /* under way */
	rc = xcalloc(1, sizeof(*rc));
	rc->engine = e;
	ct.rc[i] = rc;
	p[0] = engine_name(e);
	p[1] = engine_name(engine_default());
	pgc_fetch(ct.db,
	    "SELECT s.id::text, s.owner, s.cols::text, s.rows::text, "
	    "(extract(epoch FROM s.created_at) * 1e6)::int8::text, "
	    "coalesce((extract(epoch FROM s.started_at) * 1e6)::int8, "
	    "0)::text, "
	    "coalesce((SELECT max(e.seq) + 1 FROM alia.events e "
	    "WHERE e.session_id = s.id), 0)::text, "
	    "coalesce((extract(epoch FROM s.started_at) * 1e6)::int8 + "
	    "(SELECT max(e.t_us) FROM alia.events e "
	    "WHERE e.session_id = s.id), 0)::text, "
	    "coalesce(s.environment, ''), coalesce(s.lesson, ''), "
	    "coalesce(l.step, 0)::text, coalesce(l.failed_checks, 0)::text, "
	    "coalesce((extract(epoch FROM l.step_since) * 1e6)::int8, "
	    "0)::text "
	    "FROM alia.sessions s LEFT JOIN alia.lesson_status l "
	    "ON l.session_id = s.id WHERE s.state <> 'ended' "
	    "AND coalesce(s.engine, $2) = $1",
	    2, p, PGC_RETRY | PGC_BINARY, container_rows_cb,
	    (void *)(intptr_t)i);
	/* Only this data_dir's: another instance's are not ours to end. */
	snprintf(label, sizeof(label), "io.alia.instance=%s", ct.instance);
	docker_list(engine_docker(e), label, dcall_cb,
	    dcall_on(e, container_listed, i));
}

void
container_init(struct event_base *base, const struct config *conf,
    const char *instance, struct pgc *db, int verbose)
{
	memset(&ct, 0, sizeof(ct));
	strlcpy(ct.instance, instance, sizeof(ct.instance));
	ct.base = base;
	ct.conf = conf;
	ct.db = db;
	ct.verbose = verbose;
	RB_INIT(&ct.ids);
	TAILQ_INIT(&ct.live);
	TAILQ_INIT(&ct.ended);
	TAILQ_INIT(&ct.calls);
	TAILQ_INIT(&ct.parked);
	ct.ev_parked = evtimer_new(base, container_parked_cb, NULL);
	pool_init(base, conf);
	check_init(base);
	/* Each engine, once it answers, is reconciled on its own. */
	engine_init(base, conf, db);
}

void
container_shutdown(int restarting)
{
	struct msg_detach d;
	struct session *s, *next;

	ct.stopping = 1;
	engine_shutdown();
	/* A check still running gets no answer (front forgets the ask). */
	check_shutdown();
	/* Pool containers are no one's session: they go, live restore or not. */
	pool_shutdown();
	/* Workers leave when told the session ended (or are killed later). */
	for (s = TAILQ_FIRST(&ct.live); s != NULL; s = next) {
		next = TAILQ_NEXT(s, entry);
		if ((ct.conf->live_restore || restarting) &&
		    s->state == SESSION_RUNNING && !(s->flags & S_KILLING)) {
			/* It lives on, for the next alia to take up. */
			s->flags |= S_DETACH;
			d.code = restarting ? 1012 : 1001;
			if (s->chan != NULL)
				msg_send_worker_detach(s->chan, &s->uuid, &d);
			continue;
		}
		snprintf(
		    s->end_reason, sizeof(s->end_reason), "server stopped");
		session_end(s, -1, "server stopped");
	}
}

int
container_busy(void)
{
	struct session *s;
	struct dcall *c;

	TAILQ_FOREACH (c, &ct.calls, entry)
		if (c->timed)
			return 1;
	if (pool_busy())
		return 1;
	TAILQ_FOREACH (s, &ct.ended, entry)
		if (s->worker != 0)
			return 1;
	TAILQ_FOREACH (s, &ct.live, entry)
		if ((s->flags & S_DETACH) && s->worker != 0)
			return 1;
	return pgc_pending(ct.db) > 0;
}

void
container_free(void)
{
	struct session *s;
	struct parked *pk;
	struct dcall *c;
	int i;

	pool_free();
	engine_free();
	while ((pk = TAILQ_FIRST(&ct.parked)) != NULL) {
		TAILQ_REMOVE(&ct.parked, pk, entry);
		free(pk);
	}
	if (ct.ev_parked != NULL)
		event_free(ct.ev_parked);
	ct.ev_parked = NULL;
	while ((c = TAILQ_FIRST(&ct.calls)) != NULL) {
		TAILQ_REMOVE(&ct.calls, c, entry);
		free(c);
	}
	while ((s = RB_ROOT(&ct.ids)) != NULL) {
		RB_REMOVE(session_tree, &ct.ids, s);
		session_drop_waiting(s);
		msgchan_free(s->chan);
		event_free(s->ev_kill);
		event_free(s->ev_refill);
		event_free(s->ev_worker);
		event_free(s->ev_rewait);
		free(s->tail);
		free(s->head);
		event_free(s->ev_gap);
		free(s);
	}
	for (i = 0; i < CONFIG_ENGINES; i++)
		if (ct.rc[i] != NULL) {
			free(ct.rc[i]->rows);
			free(ct.rc[i]->list);
			free(ct.rc[i]);
			ct.rc[i] = NULL;
		}
}
