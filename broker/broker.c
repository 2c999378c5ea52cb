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
 * asked to resend from its oldest unacked event. When a worker's channel
 * closes (or a new worker replaces it), the recorder is told
 * (MSG_WORKER_GONE), after that worker's last event.
 *
 * Views (the instructor wall) subscribe to chosen sessions. The broker
 * keeps each session's last BROKER_RING bytes of output, so a view first
 * gets that (an event of kind 's', a snapshot) and then each output event
 * as it passes. A view never slows anything down: while its queue is over
 * its high mark it misses events, and once it has drained it gets fresh
 * snapshots. Views see repeats when workers resend; the seqs tell them.
 *
 * Pausing output recording (MSG_RECORD_PAUSE): the recorder's for one
 * session (its owner's quota) goes to that session's worker; master's for
 * every session (MSG_BROKER_DISK, the disk floor) goes to every worker,
 * and the broker keeps the last one to tell each worker that connects
 * later.
 *
 * Every message on the output path names its session in the header, and
 * peers are found by it: workers sit in a tree keyed by their session.
 *
 * Flow control: while the recorder's send queue is over its high mark,
 * no worker channel is read; reading resumes at its low mark, or when the
 * recorder goes. Every peer's channel reports to one callback, which
 * hands messages and a drained queue to its kind. A peer's close path is
 * broker_peer_close; its free is deferred to the loop (common/defer.c).
 */
#include <sys/queue.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#ifndef __unused
#define __unused __attribute__((__unused__))
#endif
#include <bsd/sys/tree.h>
#include <event2/event.h>

#include "common/config.h"
#include "common/defer.h"
#include "common/log.h"
#include "common/msg.h"
#include "common/proc.h"
#include "common/role.h"
#include "common/uuid.h"
#include "common/xmalloc.h"
#include "broker/broker.h"

#define BROKER_REC_LOW   (1024 * 1024)     /* recorder queue: read again */
#define BROKER_REC_HIGH  (4 * 1024 * 1024) /* recorder queue: stop reading */
#define BROKER_VIEW_LOW  (256 * 1024)      /* view queue: snapshots again */
#define BROKER_VIEW_HIGH (1024 * 1024)     /* view queue: events missed */
#define BROKER_RING      (32 * 1024)       /* a session's recent output */

struct broker_peer {
	RB_ENTRY(broker_peer) by_id;    /* a worker: in workers */
	TAILQ_ENTRY(broker_peer) entry; /* a subscriber: in subs */
	int kind;                       /* PEER_WORKER, _RECORDER or _VIEW */
	struct uuid id;                 /* a worker's session */
	char session[SESSION_ID_LEN];   /* the same, in text, for logs */
	struct msgchan *chan;
	int dead;
	struct defer defer;
	/* a worker: its session's recent output, a ring */
	unsigned char *ring;
	size_t ring_len, ring_head; /* bytes held; where the next one goes */
	uint64_t ring_seq;          /* the last event in it */
	/* a view: the sessions it watches */
	struct uuid *views;
	size_t nviews;
	int missed; /* events were dropped: snapshots when drained */
};
TAILQ_HEAD(broker_peers, broker_peer);
UUID_TREE(broker_workers, broker_peer, by_id, id)

static struct {
	struct role role; /* its base and master's channel */
	struct config conf;
	int have_conf;
	struct broker_workers workers; /* by session */
	/* Subscribers to every session: the recorder; later, live views. */
	struct broker_peers subs;
	struct broker_peer *recorder;
	int paused; /* worker channels are not read */
	uint64_t events, bytes, dropped;
	struct msg_record_pause disk; /* master's last word on the disk */
	int disk_known;
} b;

/* Stops or restarts reading every worker as the recorder's queue fills. */
static void
broker_flow(int pause)
{
	struct broker_peer *p;

	if (pause == b.paused)
		return;
	b.paused = pause;
	log_debug("%s reading workers", pause ? "pausing" : "resuming");
	RB_FOREACH (p, broker_workers, &b.workers) {
		if (pause)
			msgchan_pause(p->chan);
		else
			msgchan_resume(p->chan);
	}
}

/*
 * Tells the recorder that no more events of p's session come from p (its
 * events went before, on the same channel), so it may free the session's
 * state. With no recorder there is nothing to free.
 */
static void
broker_worker_gone(struct broker_peer *p)
{
	struct msg_worker_gone g;

	if (b.recorder == NULL)
		return;
	memset(&g, 0, sizeof(g));
	msg_send_worker_gone(b.recorder->chan, &p->id, &g);
}

/* The one close path of a peer; the free waits for the loop. */
static void
broker_peer_close(struct broker_peer *p, const char *why)
{
	if (p->dead)
		return;
	p->dead = 1;
	if (p->kind == PEER_WORKER) {
		log_debug("worker of %s gone: %s", p->session, why);
		RB_REMOVE(broker_workers, &b.workers, p);
		broker_worker_gone(p);
	} else {
		if (p->kind == PEER_RECORDER)
			log_info("recorder gone: %s", why);
		TAILQ_REMOVE(&b.subs, p, entry);
		if (b.recorder == p) {
			b.recorder = NULL;
			broker_flow(0); /* its queue is gone */
		}
	}
	msgchan_free(p->chan);
	p->chan = NULL;
	free(p->ring);
	free(p->views);
	defer_queue(b.role.base, &p->defer, free, p);
}

static struct broker_peer *
broker_worker_find(const struct uuid *id)
{
	struct broker_peer key;

	key.id = *id;
	return RB_FIND(broker_workers, &b.workers, &key);
}

/* Keeps an output event's bytes in the session's ring. */
static void
broker_ring_add(
    struct broker_peer *p, uint64_t seq, const void *data, size_t len)
{
	const unsigned char *d = data;
	size_t n;

	if (p->ring == NULL)
		p->ring = xmalloc(BROKER_RING);
	if (len > BROKER_RING) {
		d += len - BROKER_RING;
		len = BROKER_RING;
	}
	while (len > 0) {
		n = BROKER_RING - p->ring_head;
		if (n > len)
			n = len;
		memcpy(p->ring + p->ring_head, d, n);
		p->ring_head = (p->ring_head + n) % BROKER_RING;
		p->ring_len = p->ring_len + n > BROKER_RING ? BROKER_RING
		                                            : p->ring_len + n;
		d += n;
		len -= n;
	}
	p->ring_seq = seq;
}

/* Sends view v a snapshot of the session of worker w. */
static void
broker_view_snapshot(struct broker_peer *v, struct broker_peer *w)
{
	unsigned char *buf;
	struct msg_event e;
	size_t start;

	memset(&e, 0, sizeof(e));
	e.kind = 's';
	e.seq = w->ring_seq;
	e.len = (uint32_t)w->ring_len;
	buf = xmalloc(w->ring_len + 1);
	start = (w->ring_head + BROKER_RING - w->ring_len) % BROKER_RING;
	if (w->ring_len > 0 && start + w->ring_len <= BROKER_RING)
		memcpy(buf, w->ring + start, w->ring_len);
	else if (w->ring_len > 0) {
		memcpy(buf, w->ring + start, BROKER_RING - start);
		memcpy(buf + BROKER_RING - start, w->ring,
		    w->ring_len - (BROKER_RING - start));
	}
	(void)msg_send_event(v->chan, &w->id, &e, buf);
	free(buf);
}

static int
broker_view_has(const struct broker_peer *v, const struct uuid *session)
{
	size_t i;

	for (i = 0; i < v->nviews; i++)
		if (uuid_equal(&v->views[i], session))
			return 1;
	return 0;
}

static void
broker_worker_event(struct broker_peer *p, struct msg *msg)
{
	struct broker_peer *s;
	struct msg_event e;
	const void *data;

	if (msg_get_event(msg, &e, &data) == -1 ||
	    !uuid_equal(&msg->hdr.session, &p->id)) {
		broker_peer_close(p, "bad or foreign event");
		return;
	}
	b.events++;
	b.bytes += e.len;
	if (e.kind == 'o' && e.seq > p->ring_seq)
		broker_ring_add(p, e.seq, data, e.len);
	if (b.recorder == NULL)
		b.dropped++;
	TAILQ_FOREACH (s, &b.subs, entry) {
		if (s->kind == PEER_VIEW) {
			if (e.kind != 'o' || !broker_view_has(s, &p->id))
				continue;
			if (msgchan_over_high(s->chan)) {
				s->missed = 1;
				continue;
			}
		}
		if (msg_send_event(s->chan, &p->id, &e, data) == -1)
			continue;
		if (s == b.recorder && msgchan_over_high(s->chan))
			broker_flow(1);
	}
}

/* A view's subscription to one more session. */
static void
broker_view_msg(struct broker_peer *p, struct msg *msg)
{
	struct msg_view_sub vs;
	struct broker_peer *w;

	if (msg_get_view_subscribe(msg, &vs) == -1 ||
	    uuid_is_zero(&msg->hdr.session) || p->nviews >= WALL_MAX) {
		broker_peer_close(p, "bad MSG_VIEW_SUBSCRIBE");
		return;
	}
	if (broker_view_has(p, &msg->hdr.session))
		return;
	p->views = xreallocarray(p->views, p->nviews + 1, sizeof(*p->views));
	p->views[p->nviews++] = msg->hdr.session;
	if ((w = broker_worker_find(&msg->hdr.session)) != NULL)
		broker_view_snapshot(p, w);
}

/* A view's queue drained: fresh snapshots if it missed events. */
static void
broker_view_drained(struct broker_peer *p)
{
	struct broker_peer *w;
	size_t i;

	if (!p->missed)
		return;
	p->missed = 0;
	for (i = 0; i < p->nviews; i++)
		if ((w = broker_worker_find(&p->views[i])) != NULL)
			broker_view_snapshot(p, w);
}

static void
broker_worker_msg(struct broker_peer *p, struct msg *msg)
{
	if (msg->hdr.type == MSG_EVENT) {
		role_busy(&b.role);
		broker_worker_event(p, msg);
	} else
		log_warnx("worker of %s: unexpected message %s", p->session,
		    msg_name(msg->hdr.type));
}

/* Master's pause for every session (the disk): to every worker, now and
 * later. */
static void
broker_disk(struct msg *msg)
{
	struct msg_record_pause rp;
	struct broker_peer *w;

	if (msg_get_broker_disk(msg, &rp) == -1) {
		log_warnx("bad MSG_BROKER_DISK ignored");
		return;
	}
	b.disk = rp;
	b.disk_known = 1;
	RB_FOREACH (w, broker_workers, &b.workers)
		msg_send_record_pause(w->chan, &w->id, &b.disk);
}

/* The recorder's ack, resend request or pause, to the session's worker. */
static void
broker_recorder_msg(struct broker_peer *p, struct msg *msg)
{
	struct msg_record_pause rp;
	struct broker_peer *w;
	struct msg_ack a;
	struct msg_flow f;
	int r;

	w = broker_worker_find(&msg->hdr.session);
	switch (msg->hdr.type) {
	case MSG_ACK:
		if ((r = msg_get_ack(msg, &a)) == 0 && w != NULL)
			msg_send_ack(w->chan, &w->id, &a);
		break;
	case MSG_RESEND:
		if ((r = msg_get_resend(msg, &f)) == 0 && w != NULL)
			msg_send_resend(w->chan, &w->id, &f);
		break;
	case MSG_RECORD_PAUSE:
		if ((r = msg_get_record_pause(msg, &rp)) == 0 && w != NULL)
			msg_send_record_pause(w->chan, &w->id, &rp);
		break;
	default:
		log_warnx(
		    "recorder: unexpected message %s", msg_name(msg->hdr.type));
		return;
	}
	if (r == -1)
		broker_peer_close(p, "a bad message");
}

/* Every peer's channel: its messages and its drained queue go by kind. */
static void
broker_peer_cb(
    struct msgchan *ch, enum msgchan_event ev, struct msg *msg, void *arg)
{
	struct broker_peer *p = arg;

	if (p->dead)
		return;
	switch (ev) {
	case MSGCHAN_MSG:
		if (p->kind == PEER_WORKER)
			broker_worker_msg(p, msg);
		else if (p->kind == PEER_VIEW)
			broker_view_msg(p, msg);
		else
			broker_recorder_msg(p, msg);
		return;
	case MSGCHAN_LOWAT:
		if (p->kind == PEER_VIEW)
			broker_view_drained(p);
		else if (p == b.recorder)
			broker_flow(0);
		return;
	case MSGCHAN_CLOSED:
	case MSGCHAN_ERROR:
		broker_peer_close(p, "channel closed");
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

	if (msg_get_broker_peer(msg, &mp, &fd) == -1) {
		log_warnx("bad MSG_BROKER_PEER refused");
		return;
	}
	if ((mp.kind != PEER_WORKER && mp.kind != PEER_RECORDER &&
	        mp.kind != PEER_VIEW) ||
	    (mp.kind == PEER_WORKER && uuid_is_zero(&msg->hdr.session))) {
		log_warnx("MSG_BROKER_PEER of kind %d refused", mp.kind);
		close(fd);
		return;
	}
	p = xcalloc(1, sizeof(*p));
	p->kind = mp.kind;
	if (mp.kind == PEER_WORKER) {
		p->id = msg->hdr.session;
		uuid_format(&p->id, p->session);
		if ((old = broker_worker_find(&p->id)) != NULL)
			broker_peer_close(old, "replaced");
		p->chan = msgchan_new(b.role.base, fd, broker_peer_cb, p);
		RB_INSERT(broker_workers, &b.workers, p);
		if (b.paused)
			msgchan_pause(p->chan);
		if (b.disk_known)
			msg_send_record_pause(p->chan, &p->id, &b.disk);
		log_debug("worker of %s connected", p->session);
		return;
	}
	if (mp.kind == PEER_VIEW) {
		p->chan = msgchan_new(b.role.base, fd, broker_peer_cb, p);
		msgchan_set_marks(p->chan, BROKER_VIEW_LOW, BROKER_VIEW_HIGH);
		TAILQ_INSERT_TAIL(&b.subs, p, entry);
		log_debug("a view connected");
		return;
	}
	if (b.recorder != NULL)
		broker_peer_close(b.recorder, "replaced");
	p->chan = msgchan_new(b.role.base, fd, broker_peer_cb, p);
	msgchan_set_marks(p->chan, BROKER_REC_LOW, BROKER_REC_HIGH);
	TAILQ_INSERT_TAIL(&b.subs, p, entry);
	b.recorder = p;
	broker_flow(0);
	log_info("recorder connected; asking every worker to resend");
	memset(&f, 0, sizeof(f));
	RB_FOREACH (old, broker_workers, &b.workers)
		msg_send_resend(old->chan, &old->id, &f);
}

static void
broker_shutdown(const char *why)
{
	struct broker_peer *p;

	log_debug("shutting down: %s (%llu events, %llu bytes, %llu dropped)",
	    why, (unsigned long long)b.events, (unsigned long long)b.bytes,
	    (unsigned long long)b.dropped);
	while ((p = RB_ROOT(&b.workers)) != NULL)
		broker_peer_close(p, "shutting down");
	while ((p = TAILQ_FIRST(&b.subs)) != NULL)
		broker_peer_close(p, "shutting down");
	event_base_loopexit(b.role.base, NULL);
}

/* A message from master for this role; 0: not one it takes. */
static int
broker_master_msg(struct msg *msg)
{
	switch (msg->hdr.type) {
	case MSG_CONFIG:
		role_config(msg, &b.conf, &b.have_conf, 1);
		role_ready(&b.role, "broker");
		return 1;
	case MSG_BROKER_PEER:
		broker_peer_new(msg);
		return 1;
	case MSG_BROKER_DISK:
		broker_disk(msg);
		return 1;
	default:
		return 0;
	}
}

int
broker_main(int verbose)
{
	RB_INIT(&b.workers);
	TAILQ_INIT(&b.subs);
	role_start(
	    &b.role, "broker", verbose, broker_master_msg, broker_shutdown);
	role_keep_memory(&b.role, 2 * BROKER_REC_HIGH);
	role_run(&b.role);
	role_free(&b.role);
	return 0;
}
