/* SPDX-License-Identifier: ISC */
/*
 * broker: the hub between session workers and subscribers of their
 * events. master hands it one end of a fresh socketpair per peer: a
 * worker (keyed by its session; a new one replaces the old) or the
 * recorder (one at a time). Workers' MSG_EVENTs go to every subscriber of
 * their session, which today is the recorder alone; with no recorder an
 * event is dropped, since the worker keeps it until acked and sends it
 * again. The recorder's MSG_ACKs go back to the session's worker, and its
 * MSG_RESENDs (a gap it saw) too. When a recorder arrives, every worker is
 * asked to resend from its oldest unacked event.
 *
 * Flow control: while the recorder's send queue is over its high mark,
 * no worker channel is read; reading resumes at its low mark. A peer's
 * close path is broker_peer_close; its free is deferred to the loop.
 */
#include <sys/queue.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>

#include "common/config.h"
#include "common/log.h"
#include "common/msg.h"
#include "common/proc.h"
#include "common/xmalloc.h"
#include "master/master.h"

#define BROKER_REC_LOW  (1024 * 1024)     /* recorder queue: read again */
#define BROKER_REC_HIGH (4 * 1024 * 1024) /* recorder queue: stop reading */

struct broker_peer {
	TAILQ_ENTRY(broker_peer) entry; /* workers, or subscribers */
	int kind;                       /* PEER_WORKER or PEER_RECORDER */
	uint64_t id;                    /* a worker's session number */
	char session[SESSION_ID_LEN];   /* a worker's session */
	struct msgchan *chan;
	int dead;
};
TAILQ_HEAD(broker_peers, broker_peer);

static struct {
	struct event_base *base;
	struct msgchan *chan;
	struct config conf;
	int have_conf;
	struct broker_peers workers;
	/* Subscribers to every session: the recorder; later, live views. */
	struct broker_peers subs;
	struct broker_peer *recorder;
	int paused; /* worker channels are not read */
	uint64_t events, bytes, dropped;
} b;

static void
broker_peer_free_cb(evutil_socket_t fd, short what, void *arg)
{
	free(arg);
}

/* The one close path of a peer; the free waits for the loop. */
static void
broker_peer_close(struct broker_peer *p, const char *why)
{
	struct timeval now = {0, 0};

	if (p->dead)
		return;
	p->dead = 1;
	if (p->kind == PEER_WORKER) {
		log_debug("worker of %s gone: %s", p->session, why);
		TAILQ_REMOVE(&b.workers, p, entry);
	} else {
		log_info("recorder gone: %s", why);
		TAILQ_REMOVE(&b.subs, p, entry);
		if (b.recorder == p)
			b.recorder = NULL;
	}
	msgchan_free(p->chan);
	p->chan = NULL;
	if (event_base_once(
	        b.base, -1, EV_TIMEOUT, broker_peer_free_cb, p, &now) == -1)
		fatalx("event_base_once");
}

static struct broker_peer *
broker_worker_find(const char *session, uint64_t id)
{
	struct broker_peer *p;

	TAILQ_FOREACH (p, &b.workers, entry) {
		if (session != NULL && strcmp(p->session, session) == 0)
			return p;
		if (session == NULL && p->id == id)
			return p;
	}
	return NULL;
}

/* Stops or restarts reading every worker as the recorder's queue fills. */
static void
broker_flow(int pause)
{
	struct broker_peer *p;

	if (pause == b.paused)
		return;
	b.paused = pause;
	log_debug("%s reading workers", pause ? "pausing" : "resuming");
	TAILQ_FOREACH (p, &b.workers, entry) {
		if (pause)
			msgchan_pause(p->chan);
		else
			msgchan_resume(p->chan);
	}
}

static void
broker_worker_event(struct broker_peer *p, struct msg *msg)
{
	struct broker_peer *s;
	struct msg_event e;
	const void *data;

	if (msg_recv_event(msg, &e, &data) == -1 ||
	    strcmp(e.session, p->session) != 0) {
		broker_peer_close(p, "bad or foreign event");
		return;
	}
	b.events++;
	b.bytes += e.len;
	if (TAILQ_EMPTY(&b.subs)) {
		b.dropped++;
		return;
	}
	TAILQ_FOREACH (s, &b.subs, entry) {
		if (msgchan_send(s->chan, MSG_EVENT, p->id, -1, msg->payload,
		        msg->len) == -1)
			continue;
		if (s == b.recorder && msgchan_over_high(s->chan))
			broker_flow(1);
	}
}

static void
broker_worker_cb(
    struct msgchan *ch, enum msgchan_event ev, struct msg *msg, void *arg)
{
	struct broker_peer *p = arg;

	if (p->dead)
		return;
	switch (ev) {
	case MSGCHAN_MSG:
		if (msg->hdr.type == MSG_EVENT)
			broker_worker_event(p, msg);
		else
			log_warnx("worker of %s: unexpected message type %u",
			    p->session, msg->hdr.type);
		return;
	case MSGCHAN_LOWAT:
		return;
	case MSGCHAN_CLOSED:
	case MSGCHAN_ERROR:
		broker_peer_close(p, "channel closed");
		return;
	}
}

/* The recorder's ack or resend request, passed to the session's worker. */
static void
broker_recorder_msg(struct broker_peer *p, struct msg *msg)
{
	struct broker_peer *w;
	struct msg_ack a;
	struct msg_flow f;

	switch (msg->hdr.type) {
	case MSG_ACK:
		if (msg_get(msg, MSG_ACK, &a, sizeof(a)) == -1) {
			broker_peer_close(p, "bad MSG_ACK");
			return;
		}
		a.session[sizeof(a.session) - 1] = '\0';
		if ((w = broker_worker_find(a.session, 0)) != NULL)
			msgchan_send(
			    w->chan, MSG_ACK, w->id, -1, &a, sizeof(a));
		return;
	case MSG_RESEND:
		if (msg_get(msg, MSG_RESEND, &f, sizeof(f)) == -1) {
			broker_peer_close(p, "bad MSG_RESEND");
			return;
		}
		if ((w = broker_worker_find(NULL, msg->hdr.id)) != NULL)
			msgchan_send(
			    w->chan, MSG_RESEND, w->id, -1, &f, sizeof(f));
		return;
	default:
		log_warnx(
		    "recorder: unexpected message type %u", msg->hdr.type);
		return;
	}
}

static void
broker_recorder_cb(
    struct msgchan *ch, enum msgchan_event ev, struct msg *msg, void *arg)
{
	struct broker_peer *p = arg;

	if (p->dead)
		return;
	switch (ev) {
	case MSGCHAN_MSG:
		broker_recorder_msg(p, msg);
		return;
	case MSGCHAN_LOWAT:
		if (p == b.recorder)
			broker_flow(0);
		return;
	case MSGCHAN_CLOSED:
	case MSGCHAN_ERROR:
		broker_peer_close(p, "channel closed");
		if (b.recorder == NULL)
			broker_flow(0);
		return;
	}
}

/* A new peer from master: fd is taken. */
static void
broker_peer_new(struct msg *msg)
{
	struct broker_peer *p, *old;
	struct msg_peer mp;
	struct msg_flow f;
	int fd;

	fd = msg_take_fd(msg);
	if (msg_get(msg, MSG_BROKER_PEER, &mp, sizeof(mp)) == -1 ||
	    (mp.kind != PEER_WORKER && mp.kind != PEER_RECORDER)) {
		log_warnx("bad MSG_BROKER_PEER refused");
		close(fd);
		return;
	}
	p = xcalloc(1, sizeof(*p));
	p->kind = mp.kind;
	if (mp.kind == PEER_WORKER) {
		p->id = msg->hdr.id;
		memcpy(p->session, mp.session, sizeof(p->session));
		p->session[sizeof(p->session) - 1] = '\0';
		if ((old = broker_worker_find(p->session, 0)) != NULL)
			broker_peer_close(old, "replaced");
		p->chan = msgchan_new(b.base, fd, broker_worker_cb, p);
		TAILQ_INSERT_TAIL(&b.workers, p, entry);
		if (b.paused)
			msgchan_pause(p->chan);
		log_debug("worker of %s connected", p->session);
		return;
	}
	if (b.recorder != NULL)
		broker_peer_close(b.recorder, "replaced");
	p->chan = msgchan_new(b.base, fd, broker_recorder_cb, p);
	msgchan_set_marks(p->chan, BROKER_REC_LOW, BROKER_REC_HIGH);
	TAILQ_INSERT_TAIL(&b.subs, p, entry);
	b.recorder = p;
	broker_flow(0);
	log_info("recorder connected; asking every worker to resend");
	memset(&f, 0, sizeof(f));
	TAILQ_FOREACH (old, &b.workers, entry)
		msgchan_send(old->chan, MSG_RESEND, old->id, -1, &f, sizeof(f));
}

static void
broker_shutdown(const char *why)
{
	struct broker_peer *p;

	log_debug("shutting down: %s (%llu events, %llu bytes, %llu dropped)",
	    why, (unsigned long long)b.events, (unsigned long long)b.bytes,
	    (unsigned long long)b.dropped);
	while ((p = TAILQ_FIRST(&b.workers)) != NULL)
		broker_peer_close(p, "shutting down");
	while ((p = TAILQ_FIRST(&b.subs)) != NULL)
		broker_peer_close(p, "shutting down");
	event_base_loopexit(b.base, NULL);
}

static void
broker_chan_cb(
    struct msgchan *ch, enum msgchan_event ev, struct msg *msg, void *arg)
{
	switch (ev) {
	case MSGCHAN_MSG:
		switch (msg->hdr.type) {
		case MSG_CONFIG:
			if (b.have_conf ||
			    msg_get(msg, MSG_CONFIG, &b.conf, sizeof(b.conf)) ==
			        -1)
				fatalx("bad configuration message");
			b.conf.user[sizeof(b.conf.user) - 1] = '\0';
			if (proc_drop_privileges(b.conf.user) == -1)
				fatalx("cannot drop privileges to %s",
				    b.conf.user);
			b.have_conf = 1;
			msg_send_ready(b.chan, "broker");
			return;
		case MSG_BROKER_PEER:
			broker_peer_new(msg);
			return;
		case MSG_SHUTDOWN:
			broker_shutdown("master asked");
			return;
		case MSG_PING:
			msgchan_send(b.chan, MSG_PONG, msg->hdr.id, -1,
			    msg->payload, msg->len);
			return;
		default:
			log_warnx("unexpected message type %u from master",
			    msg->hdr.type);
			return;
		}
	case MSGCHAN_LOWAT:
		return;
	case MSGCHAN_CLOSED:
	case MSGCHAN_ERROR:
		broker_shutdown("master's channel closed");
		return;
	}
}

static void
broker_signal_cb(evutil_socket_t sig, short what, void *arg)
{
	broker_shutdown("SIGTERM");
}

int
broker_main(int verbose)
{
	struct event *ev_term;

	proc_title("broker");
	log_init("broker", verbose);
	signal(SIGPIPE, SIG_IGN);
	if ((b.base = event_base_new()) == NULL)
		fatalx("event_base_new");
	TAILQ_INIT(&b.workers);
	TAILQ_INIT(&b.subs);
	b.chan = msgchan_new(b.base, PROC_CHAN_FD, broker_chan_cb, NULL);
	ev_term = evsignal_new(b.base, SIGTERM, broker_signal_cb, NULL);
	evsignal_add(ev_term, NULL);
	event_base_dispatch(b.base);
	/* Runs the deferred frees of the peers closed last. */
	event_base_loop(b.base, EVLOOP_NONBLOCK);
	event_free(ev_term);
	msgchan_free(b.chan);
	event_base_free(b.base);
	return 0;
}
