/* SPDX-License-Identifier: ISC */
/*
 * recorder: the durable path. It reads session events from the broker,
 * has recorder_db.c write them to alia.events, and acknowledges to each
 * session's worker, through the broker, the highest seq below which all
 * of the session's events are committed.
 *
 * Per session it keeps two numbers: committed (every seq below it is in
 * the database) and held (every seq below it is committed or waiting in
 * recorder_db). An event at held is taken and held moves on; one below
 * held is a copy sent again and is skipped (when it is the last committed
 * one, the ack is sent again: the first may have been lost); one above
 * held means events went missing on the way, so the worker is asked,
 * once per gap, to resend from held. After a COMMIT, committed moves past
 * the session's events in it and the ack goes out.
 *
 * A replacement worker goes on with the seqs of the one it replaces (it
 * takes up the session's journal), so a session's seqs have no jumps but
 * the gaps that lost messages make. A session first seen at seq 0 is new
 * and counted from there. A session first seen later (this
 * recorder is new, or the broker is) has an unknown past: the events the
 * worker still holds below it may never have been committed. Its events
 * are written but not counted, and the worker is asked to resend from its
 * oldest unacked event; the first event at or below the first one seen is
 * that oldest one, since until then nothing was acked: everything below
 * it was acked by an earlier recorder, and counting starts there.
 *
 * Sessions are kept in a tree by id. When the broker says a session's
 * worker is gone (MSG_WORKER_GONE, after that worker's last event; or
 * when a new broker arrives, whose word on the old workers is lost), the
 * session's state is freed once no counted event of it is left in
 * recorder_db (each holds a pointer to it) and its usage is written. An
 * event that comes after (a replacement worker) makes a new state, first
 * seen later, and counting starts over as above.
 *
 * Search. Each counted output event, once committed, goes to
 * recorder_search.c (its session's state lives as long as the session's
 * here), which makes the search text and writes it on recorder_db's
 * connection; on the way out it ends every burst and writes what it
 * holds, like the events.
 *
 * Quota (record_quota). Each session counts the output bytes of its
 * committed events; every RECORDER_QUOTA_MS they are added to their
 * owners' usage of the minute (alia.usage_add), then the usage of every
 * live session's owner within the window is read (alia.usage_live), and
 * each live session's worker is told, through the broker, whether its
 * output recording is paused for the quota (MSG_RECORD_PAUSE, every
 * time: a worker that already knows does nothing, and a new one learns).
 * Usage that could not be written is kept and tried again.
 *
 * Retention (record_retention). Every record_retention_every (and once
 * RECORDER_RETAIN_FIRST_MS after the start), alia.purge_ended() runs
 * again and again, a batch at a time, until it deletes nothing; then the
 * usage rows older than the quota's window go.
 *
 * Flow control: while recorder_db holds more than RECORDER_HIGH bytes,
 * the broker's channel is not read; reading resumes under RECORDER_LOW.
 * On MSG_SHUTDOWN, or when master's channel closes, it stops reading,
 * writes out what it holds and sends the acks, for RECORDER_EXIT_SEC at
 * most, then exits.
 */
#include <sys/queue.h>
#include <limits.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#ifndef __unused
#define __unused __attribute__((__unused__))
#endif
#include <bsd/sys/tree.h>
#include <event2/buffer.h>
#include <event2/event.h>
#include <libpq-fe.h>

#include "common/clock.h"
#include "common/config.h"
#include "common/log.h"
#include "common/pgc.h"
#include "common/msg.h"
#include "common/peer.h"
#include "common/proc.h"
#include "common/role.h"
#include "common/str.h"
#include "common/uuid.h"
#include "common/xmalloc.h"
#include "recorder/recorder.h"

#define RECORDER_HIGH            (32 * 1024 * 1024) /* held: stop reading */
#define RECORDER_LOW             (16 * 1024 * 1024) /* held: read again */
#define RECORDER_EXIT_SEC        4
#define RECORDER_KEEP            RECORDER_HIGH /* freed heap kept in a burst */
#define RECORDER_QUOTA_MS        2000 /* usage written and checked this often */
#define RECORDER_RETAIN_FIRST_MS 10000 /* the first retention run */
#define RECORDER_RETAIN_BATCH    10000 /* rows per retention statement */

struct recorder_sess {
	RB_ENTRY(recorder_sess) by_id;
	struct uuid id;
	char session[SESSION_ID_LEN]; /* id in text */
	int state;
#define SESS_COUNTING 0      /* held and committed are known */
#define SESS_SYNCING  1      /* waiting for the worker's resend */
	uint64_t first;      /* syncing: the first seq seen */
	uint64_t committed;  /* every seq below is committed */
	uint64_t held;       /* every seq below is committed or held */
	uint64_t gap_asked;  /* a resend asked from this seq - 1; 0: none */
	int ack_due;         /* committed moved: an ack is to go out */
	uint64_t usage;      /* output bytes committed, not yet in usage */
	uint64_t usage_sent; /* of which alia.usage_add is writing */
	size_t pending; /* counted events in recorder_db: they point here */
	int gone;       /* its worker is gone (MSG_WORKER_GONE) */
	struct recorder_search *search; /* its output as search text */
};
UUID_TREE(recorder_tree, recorder_sess, by_id, id)

static struct {
	struct role role;
	struct peer broker;
	struct config conf;
	int have_conf;
	struct recorder_db *db;
	struct recorder_tree sessions;
	int paused; /* the broker's channel is not read */
	int stopping;
	struct event *ev_exit;
	struct event *ev_check;
	struct event *ev_quota;
	struct event *ev_retain;
	int quota_busy;    /* a usage write and check in flight */
	int retain_busy;   /* a retention run in flight */
	uint64_t retained; /* rows deleted by the current run */
} r;

/* The session's state; a new one when first seen (or seen again). */
static struct recorder_sess *
recorder_sess_get(const struct uuid *id, uint64_t seq)
{
	struct recorder_sess *s;

	if ((s = recorder_tree_find(&r.sessions, id)) != NULL)
		return s;
	s = xcalloc(1, sizeof(*s));
	s->id = *id;
	uuid_format(id, s->session);
	s->first = s->committed = s->held = seq;
	s->state = seq == 0 ? SESS_COUNTING : SESS_SYNCING;
	s->search = recorder_search_new(s->session);
	RB_INSERT(recorder_tree, &r.sessions, s);
	return s;
}

/*
 * Frees s once its worker is gone, no counted event of it is left in
 * recorder_db (so every ack is out) and its usage is written. An event
 * that comes later makes a new state, as for a session first seen.
 */
static void
recorder_sess_reap(struct recorder_sess *s)
{
	if (!s->gone || s->pending > 0 || s->usage_sent > 0 ||
	    (s->usage > 0 && r.conf.record_quota > 0))
		return;
	log_debug("%s: done, its state freed", s->session);
	recorder_db_forget(r.db, &s->id);
	RB_REMOVE(recorder_tree, &r.sessions, s);
	recorder_search_free(s->search);
	free(s);
}

static void
recorder_resend(struct recorder_sess *s, uint64_t seq)
{
	struct msg_flow f;

	if (r.broker.chan == NULL)
		return;
	memset(&f, 0, sizeof(f));
	f.seq = seq;
	msg_send_resend(r.broker.chan, &s->id, &f);
}

static void
recorder_ack(struct recorder_sess *s)
{
	struct msg_ack a;

	if (r.broker.chan == NULL || s->committed == 0)
		return;
	memset(&a, 0, sizeof(a));
	a.seq = s->committed - 1;
	msg_send_ack(r.broker.chan, &s->id, &a);
}

/* Stops or restarts reading the broker as recorder_db fills. */
static void
recorder_flow(void)
{
	size_t held = recorder_db_held(r.db);

	if (r.broker.chan == NULL)
		return;
	if (!r.paused && (held > RECORDER_HIGH || r.stopping)) {
		r.paused = 1;
		msgchan_pause(r.broker.chan);
		if (!r.stopping)
			log_info("%zu bytes of events held: not reading the "
			         "broker until the database catches up",
			    held);
	} else if (r.paused && held < RECORDER_LOW && !r.stopping) {
		r.paused = 0;
		msgchan_resume(r.broker.chan);
	}
}

static void
recorder_take(struct recorder_sess *s, const struct msg_event *e,
    const void *data, int counted)
{
	struct recorder_ev *ev;

	role_busy(&r.role);
	ev = xmalloc(sizeof(*ev) + e->len);
	ev->owner = counted ? s : NULL;
	if (counted)
		s->pending++;
	ev->seq = e->seq;
	ev->t_us = e->t_us;
	ev->id = s->id;
	memcpy(ev->session, s->session, sizeof(ev->session));
	ev->kind = e->kind;
	ev->len = e->len;
	memcpy(ev->data, data, e->len);
	recorder_db_add(r.db, ev);
}

static void
recorder_event(struct msg *msg)
{
	struct recorder_sess *s;
	struct msg_event e;
	const void *data;

	if (msg_get_event(msg, &e, &data) == -1 ||
	    uuid_is_zero(&msg->hdr.session) ||
	    (e.kind != 'o' && e.kind != 'i' && e.kind != 'r' &&
	        e.kind != 'm') ||
	    e.t_us < 0 || e.seq > INT64_MAX) {
		log_warnx("a bad event from the broker, ignored");
		return;
	}
	s = recorder_sess_get(&msg->hdr.session, e.seq);
	s->gone = 0;
	if (s->state == SESS_SYNCING) {
		if (e.seq <= s->first && e.seq != s->held) {
			/* The worker's oldest unacked event: count from it. */
			log_debug("%s: counting from seq %llu", s->session,
			    (unsigned long long)e.seq);
			s->state = SESS_COUNTING;
			s->committed = s->held = e.seq;
			s->gap_asked = 0;
		} else if (e.seq == s->first && e.seq == s->held) {
			/* The first sight: ask for the worker's oldest. */
			s->held = e.seq + 1;
			recorder_resend(s, 0);
			recorder_take(s, &e, data, 0);
			return;
		} else {
			recorder_take(s, &e, data, 0);
			return;
		}
	}
	if (e.seq < s->held) {
		if (e.seq + 1 == s->committed)
			recorder_ack(s);
		return;
	}
	if (e.seq > s->held) {
		if (s->gap_asked != s->held + 1) {
			log_warnx("%s: events %llu to %llu missing; asking "
			          "the worker to resend",
			    s->session, (unsigned long long)s->held,
			    (unsigned long long)e.seq - 1);
			s->gap_asked = s->held + 1;
			recorder_resend(s, s->held);
		}
		return;
	}
	s->held++;
	s->gap_asked = 0;
	recorder_take(s, &e, data, 1);
	recorder_flow();
}

/* recorder_db committed these events (in order): ack their sessions. */
static void
recorder_committed(struct recorder_evs *done, void *arg)
{
	struct recorder_sess *s, *next;
	struct recorder_ev *ev;

	while ((ev = TAILQ_FIRST(done)) != NULL) {
		TAILQ_REMOVE(done, ev, entry);
		if ((s = ev->owner) != NULL)
			s->pending--;
		if (s != NULL && ev->seq >= s->committed) {
			s->committed = ev->seq + 1;
			s->ack_due = 1;
			if (ev->kind == 'o') {
				s->usage += ev->len;
				recorder_search_add(s->search, ev->seq,
				    ev->t_us, ev->data, ev->len);
			}
		}
		free(ev);
	}
	RB_FOREACH_SAFE (s, recorder_tree, &r.sessions, next) {
		if (s->ack_due)
			recorder_ack(s);
		s->ack_due = 0;
		recorder_sess_reap(s);
	}
	if (r.stopping)
		recorder_search_flush();
	recorder_flow();
}

/* The broker: the session's worker is gone, its events all sent. */
static void
recorder_worker_gone(struct msg *msg)
{
	struct recorder_sess *s;
	struct msg_worker_gone g;

	if (msg_get_worker_gone(msg, &g) == -1) {
		log_warnx("a bad MSG_WORKER_GONE from the broker, ignored");
		return;
	}
	if ((s = recorder_tree_find(&r.sessions, &msg->hdr.session)) == NULL)
		return;
	s->gone = 1;
	recorder_sess_reap(s);
}

/* A message from the broker: an event to record. */
static void
recorder_broker_msg(struct msg *msg)
{
	if (msg->hdr.type == MSG_EVENT)
		recorder_event(msg);
	else if (msg->hdr.type == MSG_WORKER_GONE)
		recorder_worker_gone(msg);
	else
		log_warnx("unexpected message %s from the broker",
		    msg_name(msg->hdr.type));
}

/* The broker's channel ended: nothing is paused on it any more. */
static void
recorder_broker_closed(void)
{
	r.paused = 0;
}

static void
recorder_peer(struct msg *msg)
{
	struct recorder_sess *s, *next;
	struct msg_peer p;
	int fd;

	if (msg_get_recorder_peer(msg, &p, &fd) == -1) {
		log_warnx("bad MSG_RECORDER_PEER refused");
		return;
	}
	if (p.kind != PEER_RECORDER) {
		log_warnx("MSG_RECORDER_PEER of kind %d refused", p.kind);
		close(fd);
		return;
	}
	peer_take(&r.broker, r.role.base, fd);
	r.paused = 0;
	log_info("connected to the broker");
	/*
	 * What the old broker had in flight is lost: a session that was
	 * counting starts over from its worker's resend. Its word that a
	 * worker is gone is lost too: every session counts as gone until an
	 * event of it comes (the new broker has every worker resend).
	 */
	RB_FOREACH_SAFE (s, recorder_tree, &r.sessions, next) {
		s->gap_asked = 0;
		s->gone = 1;
		recorder_sess_reap(s);
	}
	recorder_flow();
}

static void
recorder_exit(const char *why)
{
	log_info("exiting: %s", why);
	event_base_loopexit(r.role.base, NULL);
}

static void
recorder_exit_cb(evutil_socket_t fd, short what, void *arg)
{
	recorder_exit("timed out writing what is held");
}

/* While stopping: leaves once nothing is held and the acks are out. */
static void
recorder_check_cb(evutil_socket_t fd, short what, void *arg)
{
	if (recorder_db_held(r.db) == 0 && recorder_search_idle() &&
	    (r.broker.chan == NULL || msgchan_queued(r.broker.chan) == 0))
		recorder_exit("everything held is committed and acked");
}

static void
recorder_stop(const char *why)
{
	struct timeval tv = {RECORDER_EXIT_SEC, 0}, tick = {0, 20000};

	if (r.stopping)
		return;
	r.stopping = 1;
	log_info("stopping (%s): writing %zu bytes held", why,
	    recorder_db_held(r.db));
	recorder_flow();
	recorder_db_flush(r.db);
	recorder_search_flush();
	r.ev_exit = evtimer_new(r.role.base, recorder_exit_cb, NULL);
	evtimer_add(r.ev_exit, &tv);
	r.ev_check =
	    event_new(r.role.base, -1, EV_PERSIST, recorder_check_cb, NULL);
	evtimer_add(r.ev_check, &tick);
}

/* The quota's window in words, for markers. */
static void
recorder_window(char *buf, size_t len)
{
	int64_t w = r.conf.record_quota_window;

	if (w == 3600)
		snprintf(buf, len, "hour");
	else if (w == 86400)
		snprintf(buf, len, "day");
	else if (w == 7 * 86400)
		snprintf(buf, len, "week");
	else if (w % 3600 == 0)
		snprintf(buf, len, "%lld hours", (long long)(w / 3600));
	else
		snprintf(buf, len, "%lld minutes", (long long)(w / 60));
}

/* alia.usage_live's rows: tells each live session's worker. */
static void
recorder_quota_checked(const struct pg_result *res, void *arg)
{
	struct msg_record_pause rp;
	struct uuid id;
	char win[32];
	long long used;
	int i, n;

	r.quota_busy = 0;
	if (res == NULL || r.broker.chan == NULL)
		return;
	recorder_window(win, sizeof(win));
	n = PQntuples(res);
	for (i = 0; i < n; i++) {
		memset(&rp, 0, sizeof(rp));
		if (uuid_parse(PQgetvalue(res, i, 0), &id) == -1 ||
		    str_num(PQgetvalue(res, i, 2), 0, LLONG_MAX, &used) == -1) {
			log_warnx("quota: a row that does not read as one");
			continue;
		}
		rp.reason = RECORD_PAUSE_QUOTA;
		rp.paused = used >= r.conf.record_quota;
		if (rp.paused)
			snprintf(rp.why, sizeof(rp.why),
			    "%.64s used up record_quota (%lld of %lld bytes "
			    "per %s)",
			    PQgetvalue(res, i, 1), used,
			    (long long)r.conf.record_quota, win);
		else
			snprintf(rp.why, sizeof(rp.why),
			    "%.64s is under record_quota again (%lld of %lld "
			    "bytes per %s)",
			    PQgetvalue(res, i, 1), used,
			    (long long)r.conf.record_quota, win);
		msg_send_record_pause(r.broker.chan, &id, &rp);
	}
}

/* alia.usage_add is done: what it wrote is no longer pending. */
static void
recorder_usage_added(const struct pg_result *res, void *arg)
{
	struct recorder_sess *s, *next;

	RB_FOREACH_SAFE (s, recorder_tree, &r.sessions, next) {
		if (res != NULL)
			s->usage -= s->usage_sent;
		s->usage_sent = 0;
		recorder_sess_reap(s);
	}
}

/* Writes the usage of the last few seconds, then checks the quota. */
static void
recorder_quota_cb(evutil_socket_t fd, short what, void *arg)
{
	struct timeval tv = {
	    RECORDER_QUOTA_MS / 1000, (RECORDER_QUOTA_MS % 1000) * 1000};
	struct recorder_sess *s;
	struct evbuffer *ids, *bytes;
	const char *params[2];
	char win[32];
	size_t n = 0;

	evtimer_add(r.ev_quota, &tv);
	if (r.quota_busy || r.stopping)
		return;
	r.quota_busy = 1;
	ids = evbuffer_new();
	bytes = evbuffer_new();
	RB_FOREACH (s, recorder_tree, &r.sessions) {
		if (s->usage == 0)
			continue;
		evbuffer_add_printf(ids, "%s%s", n > 0 ? "," : "{", s->session);
		evbuffer_add_printf(bytes, "%s%llu", n > 0 ? "," : "{",
		    (unsigned long long)s->usage);
		s->usage_sent = s->usage;
		n++;
	}
	if (n > 0) {
		evbuffer_add(ids, "}", 2);
		evbuffer_add(bytes, "}", 2);
		params[0] = (const char *)evbuffer_pullup(ids, -1);
		params[1] = (const char *)evbuffer_pullup(bytes, -1);
		recorder_db_query(r.db,
		    "SELECT alia.usage_add($1::uuid[], $2::int8[])", 2, params,
		    recorder_usage_added, NULL);
	}
	evbuffer_free(ids);
	evbuffer_free(bytes);
	snprintf(win, sizeof(win), "%lld seconds",
	    (long long)r.conf.record_quota_window);
	params[0] = win;
	recorder_db_query(r.db,
	    "SELECT session_id, owner, used FROM alia.usage_live($1::interval)",
	    1, params, recorder_quota_checked, NULL);
}

static void recorder_retain_step(void);

/* One retention batch is done: another, or the end of the run. */
static void
recorder_retained(const struct pg_result *res, void *arg)
{
	long long n;

	if (res == NULL || PQntuples(res) != 1) {
		log_warnx("retention: stopped after %llu rows; tried again "
		          "at the next run",
		    (unsigned long long)r.retained);
		r.retain_busy = 0;
		return;
	}
	if (str_num(PQgetvalue(res, 0, 0), 0, LLONG_MAX, &n) == -1)
		n = 0;
	r.retained += (uint64_t)(n > 0 ? n : 0);
	if (n > 0 && !r.stopping) {
		recorder_retain_step();
		return;
	}
	if (r.retained > 0)
		log_info("retention: %llu rows of sessions ended more than "
		         "%lld s ago deleted",
		    (unsigned long long)r.retained,
		    (long long)r.conf.record_retention);
	r.retain_busy = 0;
}

static void
recorder_retain_step(void)
{
	char keep[32], batch[16];
	const char *params[2];

	snprintf(keep, sizeof(keep), "%lld seconds",
	    (long long)r.conf.record_retention);
	snprintf(batch, sizeof(batch), "%d", RECORDER_RETAIN_BATCH);
	params[0] = keep;
	params[1] = batch;
	recorder_db_query(r.db,
	    "SELECT alia.purge_ended($1::interval, $2::int4)", 2, params,
	    recorder_retained, NULL);
}

static void
recorder_usage_trimmed(const struct pg_result *res, void *arg)
{
}

/* The retention job: old sessions' rows, and usage past the window. */
static void
recorder_retain_cb(evutil_socket_t fd, short what, void *arg)
{
	struct timeval tv = {r.conf.record_retention_every, 0};
	const char *params[1];
	char win[48];

	evtimer_add(r.ev_retain, &tv);
	if (r.stopping)
		return;
	snprintf(win, sizeof(win), "%lld seconds",
	    (long long)r.conf.record_quota_window + 60);
	params[0] = win;
	recorder_db_query(r.db,
	    "DELETE FROM alia.record_usage WHERE minute < now() - "
	    "$1::interval",
	    1, params, recorder_usage_trimmed, NULL);
	if (r.conf.record_retention == 0 || r.retain_busy)
		return;
	r.retain_busy = 1;
	r.retained = 0;
	recorder_retain_step();
}

static void
recorder_config(struct msg *msg)
{
	char conninfo[2048];

	role_config(msg, &r.conf, &r.have_conf, 1);
	pg_conninfo(&r.conf, NULL, conninfo, sizeof(conninfo));
	r.db = recorder_db_new(r.role.base, conninfo, recorder_committed, NULL);
	recorder_search_init(r.role.base, r.db);
	if (r.conf.record_quota > 0) {
		struct timeval tv = {RECORDER_QUOTA_MS / 1000,
		    (RECORDER_QUOTA_MS % 1000) * 1000};

		r.ev_quota = evtimer_new(r.role.base, recorder_quota_cb, NULL);
		evtimer_add(r.ev_quota, &tv);
	}
	{
		int64_t ms = r.conf.record_retention_every * 1000;
		struct timeval tv;

		if (ms > RECORDER_RETAIN_FIRST_MS)
			ms = RECORDER_RETAIN_FIRST_MS;
		tv.tv_sec = ms / 1000;
		tv.tv_usec = (ms % 1000) * 1000;
		r.ev_retain =
		    evtimer_new(r.role.base, recorder_retain_cb, NULL);
		evtimer_add(r.ev_retain, &tv);
	}
	role_ready(&r.role, "recorder");
}

/*
 * SIGTERM or MSG_SHUTDOWN: stop, writing out what is held. master's
 * channel closed without a word (a crash, kill -9): leave at once,
 * writing nothing more. The next master reads where each recording ends
 * and takes what the shell printed after it from Docker's log; events
 * this recorder committed after that read would be recorded twice, or
 * refused under the next recorder's seqs. With the embedded database
 * there is nothing to write to anyway: it stops with master.
 */
static void
recorder_end(const char *why)
{
	if (r.db == NULL)
		recorder_exit(why);
	else if (r.role.orphaned) {
		log_warnx("%s without a word: leaving at once", why);
		recorder_exit(why);
	} else
		recorder_stop(why);
}

/* A message from master for this role; 0: not one it takes. */
static int
recorder_master_msg(struct msg *msg)
{
	switch (msg->hdr.type) {
	case MSG_CONFIG:
		recorder_config(msg);
		return 1;
	case MSG_RECORDER_PEER:
		if (!r.have_conf || r.stopping) {
			log_warnx("broker channel refused: %s",
			    r.stopping ? "stopping" : "no config yet");
			close(msg_take_fd(msg));
			return 1;
		}
		recorder_peer(msg);
		return 1;
	default:
		return 0;
	}
}

int
recorder_main(int verbose)
{
	struct recorder_sess *s;

	RB_INIT(&r.sessions);
	role_start(
	    &r.role, "recorder", verbose, recorder_master_msg, recorder_end);
	role_keep_memory(&r.role, RECORDER_KEEP);
	r.broker.name = "the broker";
	r.broker.msg = recorder_broker_msg;
	r.broker.closed = recorder_broker_closed;
	role_run(&r.role);

	if (r.db != NULL && recorder_db_held(r.db) > 0)
		log_warnx("%zu bytes of events not committed; %s",
		    recorder_db_held(r.db),
		    r.role.orphaned ? "the next alia finds them in Docker's log"
		                    : "their workers send them again");
	recorder_db_free(r.db);
	while ((s = RB_ROOT(&r.sessions)) != NULL) {
		RB_REMOVE(recorder_tree, &r.sessions, s);
		recorder_search_free(s->search);
		free(s);
	}
	recorder_search_end();
	if (r.ev_exit != NULL)
		event_free(r.ev_exit);
	if (r.ev_check != NULL)
		event_free(r.ev_check);
	if (r.ev_quota != NULL)
		event_free(r.ev_quota);
	if (r.ev_retain != NULL)
		event_free(r.ev_retain);
	peer_close(&r.broker);
	role_free(&r.role);
	return 0;
}
