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
 * Flow control: while recorder_db holds more than RECORDER_HIGH bytes,
 * the broker's channel is not read; reading resumes under RECORDER_LOW.
 * On MSG_SHUTDOWN, or when master's channel closes, it stops reading,
 * writes out what it holds and sends the acks, for RECORDER_EXIT_SEC at
 * most, then exits.
 */
#include <sys/queue.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>

#include "common/clock.h"
#include "common/config.h"
#include "common/log.h"
#include "common/msg.h"
#include "common/proc.h"
#include "common/role.h"
#include "common/xmalloc.h"
#include "master/master.h"

#define RECORDER_HIGH     (32 * 1024 * 1024) /* held: stop reading */
#define RECORDER_LOW      (16 * 1024 * 1024) /* held: read again */
#define RECORDER_EXIT_SEC 4

struct recorder_sess {
	TAILQ_ENTRY(recorder_sess) entry;
	char session[SESSION_ID_LEN];
	uint64_t id; /* the session's number, for the broker */
	int state;
#define SESS_COUNTING 0     /* held and committed are known */
#define SESS_SYNCING  1     /* waiting for the worker's resend */
	uint64_t first;     /* syncing: the first seq seen */
	uint64_t committed; /* every seq below is committed */
	uint64_t held;      /* every seq below is committed or held */
	uint64_t gap_asked; /* a resend asked from this seq - 1; 0: none */
	int ack_due;        /* committed moved: an ack is to go out */
};
TAILQ_HEAD(recorder_sessions, recorder_sess);

static struct {
	struct role role;
	struct event_base *base;
	struct msgchan *chan;
	struct msgchan *broker;
	struct config conf;
	int have_conf;
	struct recorder_db *db;
	struct recorder_sessions sessions;
	int paused; /* the broker's channel is not read */
	int stopping;
	struct event *ev_exit;
	struct event *ev_check;
} r;

static struct recorder_sess *
recorder_sess_get(const char *session, uint64_t id, uint64_t seq)
{
	struct recorder_sess *s;

	TAILQ_FOREACH (s, &r.sessions, entry) {
		if (strcmp(s->session, session) == 0) {
			if (s != TAILQ_FIRST(&r.sessions)) {
				TAILQ_REMOVE(&r.sessions, s, entry);
				TAILQ_INSERT_HEAD(&r.sessions, s, entry);
			}
			s->id = id;
			return s;
		}
	}
	s = xcalloc(1, sizeof(*s));
	memcpy(s->session, session, sizeof(s->session));
	s->id = id;
	s->first = s->committed = s->held = seq;
	s->state = seq == 0 ? SESS_COUNTING : SESS_SYNCING;
	TAILQ_INSERT_HEAD(&r.sessions, s, entry);
	return s;
}

static void
recorder_resend(struct recorder_sess *s, uint64_t seq)
{
	struct msg_flow f;

	if (r.broker == NULL)
		return;
	memset(&f, 0, sizeof(f));
	f.seq = seq;
	msgchan_send(r.broker, MSG_RESEND, s->id, -1, &f, sizeof(f));
}

static void
recorder_ack(struct recorder_sess *s)
{
	struct msg_ack a;

	if (r.broker == NULL || s->committed == 0)
		return;
	memset(&a, 0, sizeof(a));
	a.seq = s->committed - 1;
	memcpy(a.session, s->session, sizeof(a.session));
	msgchan_send(r.broker, MSG_ACK, s->id, -1, &a, sizeof(a));
}

/* Stops or restarts reading the broker as recorder_db fills. */
static void
recorder_flow(void)
{
	size_t held = recorder_db_held(r.db);

	if (r.broker == NULL)
		return;
	if (!r.paused && (held > RECORDER_HIGH || r.stopping)) {
		r.paused = 1;
		msgchan_pause(r.broker);
		if (!r.stopping)
			log_info("%zu bytes of events held: not reading the "
			         "broker until the database catches up",
			    held);
	} else if (r.paused && held < RECORDER_LOW && !r.stopping) {
		r.paused = 0;
		msgchan_resume(r.broker);
	}
}

static void
recorder_take(struct recorder_sess *s, const struct msg_event *e,
    const void *data, int counted)
{
	struct recorder_ev *ev;

	ev = xmalloc(sizeof(*ev) + e->len);
	ev->owner = counted ? s : NULL;
	ev->seq = e->seq;
	ev->t_us = e->t_us;
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

	if (msg_recv_event(msg, &e, &data) == -1 ||
	    (e.kind != 'o' && e.kind != 'i' && e.kind != 'r' &&
	        e.kind != 'm') ||
	    e.t_us < 0 || e.seq > INT64_MAX) {
		log_warnx("a bad event from the broker, ignored");
		return;
	}
	s = recorder_sess_get(e.session, msg->hdr.id, e.seq);
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
	struct recorder_sess *s;
	struct recorder_ev *ev;

	while ((ev = TAILQ_FIRST(done)) != NULL) {
		TAILQ_REMOVE(done, ev, entry);
		if ((s = ev->owner) != NULL && ev->seq >= s->committed) {
			s->committed = ev->seq + 1;
			s->ack_due = 1;
		}
		free(ev);
	}
	TAILQ_FOREACH (s, &r.sessions, entry) {
		if (s->ack_due)
			recorder_ack(s);
		s->ack_due = 0;
	}
	recorder_flow();
}

static void
recorder_broker_cb(
    struct msgchan *ch, enum msgchan_event ev, struct msg *msg, void *arg)
{
	switch (ev) {
	case MSGCHAN_MSG:
		if (msg->hdr.type == MSG_EVENT)
			recorder_event(msg);
		else
			log_warnx("unexpected message type %u from the broker",
			    msg->hdr.type);
		return;
	case MSGCHAN_LOWAT:
		return;
	case MSGCHAN_CLOSED:
	case MSGCHAN_ERROR:
		log_info("the broker's channel closed");
		msgchan_free(r.broker);
		r.broker = NULL;
		r.paused = 0;
		return;
	}
}

static void
recorder_peer(struct msg *msg)
{
	struct recorder_sess *s;
	struct msg_peer p;
	int fd;

	fd = msg_take_fd(msg);
	if (msg_get(msg, MSG_RECORDER_PEER, &p, sizeof(p)) == -1 ||
	    p.kind != PEER_RECORDER) {
		log_warnx("bad MSG_RECORDER_PEER refused");
		close(fd);
		return;
	}
	if (r.broker != NULL)
		msgchan_free(r.broker);
	r.broker = msgchan_new(r.base, fd, recorder_broker_cb, NULL);
	r.paused = 0;
	log_info("connected to the broker");
	/*
	 * What the old broker had in flight is lost: a session that was
	 * counting starts over from its worker's resend.
	 */
	TAILQ_FOREACH (s, &r.sessions, entry)
		s->gap_asked = 0;
	recorder_flow();
}

static void
recorder_exit(const char *why)
{
	log_info("exiting: %s", why);
	event_base_loopexit(r.base, NULL);
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
	if (recorder_db_held(r.db) == 0 &&
	    (r.broker == NULL || msgchan_queued(r.broker) == 0))
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
	r.ev_exit = evtimer_new(r.base, recorder_exit_cb, NULL);
	evtimer_add(r.ev_exit, &tv);
	r.ev_check = event_new(r.base, -1, EV_PERSIST, recorder_check_cb, NULL);
	evtimer_add(r.ev_check, &tick);
}

static void
recorder_config(struct msg *msg)
{
	char conninfo[2048];

	role_config(msg, &r.conf, &r.have_conf, 1);
	pg_conninfo(&r.conf, NULL, conninfo, sizeof(conninfo));
	r.db = recorder_db_new(r.base, conninfo, recorder_committed, NULL);
	msg_send_ready(r.chan, "recorder");
}

/* SIGTERM, or master's channel closed: stop, writing out what is held. */
static void
recorder_end(const char *why)
{
	if (r.db == NULL)
		recorder_exit(why);
	else
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

	TAILQ_INIT(&r.sessions);
	role_start(
	    &r.role, "recorder", verbose, recorder_master_msg, recorder_end);
	r.base = r.role.base;
	r.chan = r.role.chan;
	role_run(&r.role);

	if (r.db != NULL && recorder_db_held(r.db) > 0)
		log_warnx("%zu bytes of events not committed; their workers "
		          "send them again",
		    recorder_db_held(r.db));
	recorder_db_free(r.db);
	while ((s = TAILQ_FIRST(&r.sessions)) != NULL) {
		TAILQ_REMOVE(&r.sessions, s, entry);
		free(s);
	}
	if (r.ev_exit != NULL)
		event_free(r.ev_exit);
	if (r.ev_check != NULL)
		event_free(r.ev_check);
	msgchan_free(r.broker);
	role_free(&r.role);
	return 0;
}
