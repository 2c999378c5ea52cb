/* SPDX-License-Identifier: ISC */
/*
 * worker: the role that runs one terminal session. It receives the
 * configuration, drops privileges, then gets the container's attach
 * stream and, one by one, the browsers' websockets from master. It reads
 * the container's output promptly and fans it out to every browser and to
 * the scrollback ring, writes control browsers' input to the container,
 * watches the idle, lifetime and reconnect timeouts, and reports sizes,
 * ends and statistics to master.
 *
 * The session moves through four states: CONFIG (waiting for MSG_CONFIG),
 * START (waiting for the attach stream), RUNNING, and EXITING once master
 * says the container has exited: every browser gets the exit message and
 * a close, and the worker leaves when all are gone or WORKER_EXIT_SEC has
 * passed. Input to the container is buffered up to WORKER_IN_HIGH bytes;
 * past it every browser's reading stops until the buffer drains below
 * WORKER_IN_LOW. Output is never held back: each browser's websocket
 * bounds its own queue (ws.c).
 *
 * Recording: output, control input, resizes and markers (a browser joins
 * or leaves, a browser is re-synced) go into the session's event log
 * (record.c), whose events travel to the broker on the channel master
 * hands over with MSG_WORKER_BROKER; each new channel gets every unacked
 * event again, and so does MSG_RESEND from its seq. While the log holds
 * too much unacked, the container's stream is not read (record_blocked):
 * the durable path wins over latency. At the end the open events are
 * emitted and the worker waits, WORKER_ACK_SEC at most, for their acks.
 *
 * Control with consent. The session's owner types through control-mode
 * browsers. A watcher whose role allows it (front sets ATTACH_MAY_ASK)
 * may send {"type":"control","action":"request"}: with control_consent
 * = required, every control browser gets {"type":"control_request",
 * "from":NAME} and one of them answers grant or deny; with notify the
 * request is granted at once and the owner is told. While a watcher holds
 * control (w.holder) its input goes to the shell and the owner's is
 * refused with an error message; the holder or the owner sends "return"
 * (or the holder leaves) and control is the owner's again. Everyone gets
 * {"type":"control","holder":NAME|null}. Each request, grant, denial and
 * return is a marker in the recording and a row in alia.audit (through
 * master, MSG_WORKER_AUDIT).
 *
 * Surviving a crash. Master keeps, for the session's whole life, the
 * attach stream, a pipe and the session's journal (journal.c), and hands
 * them to each worker. Output moves from the stream into the pipe and
 * from the pipe into the journal by splice(2), in the kernel, before the
 * worker reads it back: at every instant each byte is in the stream, the
 * pipe or the journal, all of which outlive the worker. A replacement
 * worker takes up the journal (record_new) and drains the pipe before it
 * reads the stream again, so the recording goes on without a gap.
 */
#include <sys/ioctl.h>
#include <sys/queue.h>
#include <sys/time.h>
#include <errno.h>
#include <fcntl.h>
#include <malloc.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <bsd/string.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/event.h>

#include "common/config.h"
#include "common/clock.h"
#include "common/log.h"
#include "common/msg.h"
#include "common/peer.h"
#include "common/proc.h"
#include "common/role.h"
#include "common/proto.h"
#include "common/xmalloc.h"
#include "worker/worker.h"
#include "worker/ws.h"

#define WORKER_READ      (64 * 1024)   /* one read of container output */
#define WORKER_READS     16            /* reads before other events' turn */
#define WORKER_EXPIRE_US 20000         /* past a share link's end */
#define WORKER_BULK      (16 * 1024)   /* a read this big: bulk output */
#define WORKER_GATHER_US 1000          /* bulk output gathers this long */
#define WORKER_IN_HIGH   (1024 * 1024) /* input buffered: stop browsers */
#define WORKER_IN_LOW    (256 * 1024)  /* input buffered: resume them */
#define WORKER_TICK_MS   250           /* timeouts are checked this often */
#define WORKER_STATS_MS  1000          /* stats are sent this often */
#define WORKER_WARN_SEC  60            /* notice before a timeout */
#define WORKER_EXIT_SEC  3             /* to flush browsers on exit */
#define WORKER_ACK_SEC   3             /* to get the last acks on exit */
#define WORKER_REFUSING  64 /* browsers being refused at once; past: cut */
#define WORKER_NOTICE \
	"\r\n\x1b[33m[alia] this session ends in %lld s: %s\x1b[0m\r\n"

/* A browser: its websocket, and its user and mode as the recording names. */
struct worker_browser {
	TAILQ_ENTRY(worker_browser) entry; /* w.browsers or w.refused */
	char owner[OWNER_LEN];
	int mode;
	int refused; /* on w.refused, never let in */
	struct ws *ws;
	struct event *expire; /* a share link's end; NULL: none */
};
TAILQ_HEAD(worker_browsers, worker_browser);

enum worker_state {
	WORKER_CONFIG,
	WORKER_START,
	WORKER_RUNNING,
	WORKER_EXITING,
};

static struct {
	struct role role;
	struct config conf;
	enum worker_state state;
	int done;

	struct uuid id; /* the session, as master names it */
	struct msg_worker_start start;
	char session[SESSION_ID_LEN];
	uint16_t cols, rows;

	int cfd;            /* the container's attach stream */
	int pipe_r, pipe_w; /* output passes through; -1: read cfd directly */
	ssize_t piped;      /* bytes in the pipe; -1: not known (FIONREAD) */
	int cdrained;       /* the last read was short: the stream is empty */
	int jfd;            /* the journal, until the start */
	struct event *ev_cread;
	struct event *ev_cwrite;
	struct event *ev_gather; /* bulk output: the read event is back */
	struct evbuffer *in;     /* input waiting for the container */
	struct evbuffer *screen; /* recorded output coming: MSG_WORKER_SCREEN */
	int in_paused; /* browsers stopped: input over the high mark */

	struct scrollback *sb;
	struct worker_browsers browsers;
	unsigned int nbrowsers;
	struct worker_browsers
	    refused; /* being told why they may not come in */
	unsigned int nrefused;
	int viewers_dirty;  /* the list changed: tell everyone at the tick */
	uint64_t gap_bytes; /* taken from Docker's log (live restore) */
	int gently;         /* stopping: browsers get 1001 and their time */
	int trim;           /* browsers left: give memory back at the tick */

	struct event *ev_tick;
	struct event *ev_exit;
	int64_t last_activity; /* monotonic us: input or output */
	int64_t last_wall;     /* unix us of the same */
	int64_t alone_since;   /* monotonic us: no browser since */
	int64_t started_mono;  /* monotonic us when START arrived */
	int warned_idle, warned_lifetime;
	int ended; /* MSG_WORKER_END sent */
	int ticks;

	struct msg_worker_stats stats, sent;
	uint64_t resyncs_closed; /* of browsers already gone */

	/* a watcher holding control, or NULL: the owner */
	struct worker_browser *holder;
	struct worker_browser *asker; /* a watcher waiting for an answer */

	struct record *rec;   /* the session's event log */
	struct event *ev_rec; /* its next deadline */
	struct peer broker;   /* events out, acks in */
	int had_broker;
	int cblocked;          /* the stream is not read: too much unacked */
	struct event *ev_acks; /* exiting: the wait for acks is over */
	int acks_waiting;
} w;

static void worker_shutdown(const char *);
static void worker_stop(const char *);
static void worker_detach(const char *, int);
static void worker_record_arm(void);
static void worker_acks_cb(int, short, void *);

static void
worker_activity(void)
{
	w.last_activity = clock_mono_us();
	w.last_wall = clock_wall_us();
	w.warned_idle = 0;
}

/*
 * Output for every browser and the ring; activity: it came from the tty
 * (and is in the log already).
 */
static void
worker_output(const void *data, size_t len, int activity)
{
	struct worker_browser *b;
	uint64_t resyncs;

	scrollback_append(w.sb, data, len);
	TAILQ_FOREACH (b, &w.browsers, entry) {
		resyncs = ws_resyncs(b->ws);
		ws_output(b->ws, data, len);
		if (ws_resyncs(b->ws) != resyncs && w.rec != NULL)
			record_marker(w.rec, clock_wall_us(), "resync");
	}
	if (activity && w.rec != NULL)
		worker_record_arm();
	if (activity) {
		w.stats.bytes_out += len;
		worker_activity();
	}
}

static void
worker_record_cb(int fd, short what, void *arg)
{
	if (w.rec == NULL)
		return;
	record_tick(w.rec, clock_wall_us());
	worker_record_arm();
}

/* Arms the log's timer at its next deadline. */
static void
worker_record_arm(void)
{
	struct timeval tv;
	int64_t d, left;

	if (w.rec == NULL)
		return;
	if ((d = record_deadline(w.rec)) == -1) {
		event_del(w.ev_rec);
		return;
	}
	left = d - clock_wall_us();
	if (left < 1000)
		left = 1000;
	tv.tv_sec = left / 1000000;
	tv.tv_usec = left % 1000000;
	evtimer_add(w.ev_rec, &tv);
}

/* record.c hands an event to the broker. */
static int
worker_record_send(const struct msg_event *e, const void *data, void *arg)
{
	if (w.broker.chan == NULL)
		return -1;
	return msg_send_event(w.broker.chan, &w.id, e, data);
}

/* After acks: reads the container again once under the low mark. */
static void
worker_record_unblock(void)
{
	if (w.rec == NULL)
		return;
	if (w.cblocked && !record_blocked(w.rec) && w.cfd != -1) {
		log_info("the recorder caught up: reading the container");
		w.cblocked = 0;
		event_add(w.ev_cread, NULL);
	}
	if (w.acks_waiting && record_unacked(w.rec) == 0) {
		log_info("every event is acked");
		w.acks_waiting = 0;
	}
}

/* A row in alia.audit, through master. */
static void
worker_audit(const char *actor, const char *action, const char *detail)
{
	struct msg_audit a;

	memset(&a, 0, sizeof(a));
	snprintf(a.actor, sizeof(a.actor), "%s", actor);
	snprintf(a.action, sizeof(a.action), "%s", action);
	snprintf(a.detail, sizeof(a.detail), "%s", detail);
	if (msg_send_worker_audit(w.role.chan, &w.id, &a) == -1)
		log_warnx("cannot send MSG_WORKER_AUDIT");
}

static void
worker_marker(const char *what, const struct worker_browser *b)
{
	const char *mode = ws_mode_name(b->mode);
	char buf[128];

	snprintf(buf, sizeof(buf), "%s %s", what, mode);
	worker_audit(b->owner, buf, "");
	if (w.rec == NULL)
		return;
	snprintf(buf, sizeof(buf), "%s %s %s", what, mode, b->owner);
	record_marker(w.rec, clock_wall_us(), buf);
}

/* master's marker for the recording (a lesson's check). */
static void
worker_mark(struct msg *msg)
{
	struct msg_mark mk;

	if (msg_get_worker_mark(msg, &mk) == -1)
		fatalx("bad MSG_WORKER_MARK");
	if (w.rec != NULL)
		record_marker(w.rec, clock_wall_us(), mk.text);
}

/* Output recording paused or resumed (the quota, the disk floor). */
static void
worker_record_pause(const struct msg_record_pause *rp)
{
	uint32_t before = record_paused(w.rec);

	record_pause(
	    w.rec, clock_wall_us(), rp->reason, rp->paused != 0, rp->why);
	if (record_paused(w.rec) != before)
		log_info("output recording %s: %s",
		    record_paused(w.rec) ? "paused" : "resumed", rp->why);
	worker_record_arm();
}

/* A message from the broker about this session's recording. */
static void
worker_broker_msg(struct msg *msg)
{
	struct msg_record_pause rp;
	struct msg_ack a;
	struct msg_flow f;

	if (w.rec == NULL)
		log_warnx(
		    "broker message %u while not recording", msg->hdr.type);
	else if (!uuid_equal(&msg->hdr.session, &w.id))
		log_warnx("%s from the broker about another session",
		    msg_name(msg->hdr.type));
	else if (msg_get_ack(msg, &a) == 0) {
		record_ack(w.rec, a.seq);
		worker_record_unblock();
	} else if (msg_get_resend(msg, &f) == 0)
		record_resend(w.rec, f.seq);
	else if (msg_get_record_pause(msg, &rp) == 0)
		worker_record_pause(&rp);
	else
		log_warnx("a bad or unexpected message %s from the "
		          "broker",
		    msg_name(msg->hdr.type));
}

/* A new channel to the broker (fd taken): everything unacked again. */
static void
worker_broker(struct msg *msg)
{
	struct msg_peer p;
	int fd;

	if (msg_get_worker_broker(msg, &p, &fd) == -1) {
		log_warnx("a bad broker channel refused");
		return;
	}
	if (p.kind != PEER_WORKER || w.rec == NULL ||
	    !uuid_equal(&msg->hdr.session, &w.id)) {
		log_warnx("broker channel refused: before the start, or not "
		          "this session's");
		close(fd);
		return;
	}
	peer_take(&w.broker, w.role.base, fd);
	w.had_broker = 1;
	log_debug("connected to the broker; %zu events unacked",
	    record_unacked_events(w.rec));
	record_resend(w.rec, 0);
}

/*
 * The list of browsers changed. Everyone hears of it at the next tick,
 * once however many joined and left since: churn costs each browser one
 * message per tick at most, and a newer list replaces one not yet sent.
 */
static void
worker_viewers(void)
{
	w.viewers_dirty = 1;
}

static void
worker_viewers_send(void)
{
	struct worker_browser *b;
	struct ws_viewer *v;
	size_t n = 0;

	w.viewers_dirty = 0;
	v = xcalloc(w.nbrowsers + 1, sizeof(*v));
	TAILQ_FOREACH (b, &w.browsers, entry) {
		v[n].who = b->owner;
		v[n++].mode = b == w.holder ? "holder" : ws_mode_name(b->mode);
	}
	TAILQ_FOREACH (b, &w.browsers, entry)
		ws_viewers(b->ws, v, n);
	free(v);
}

/* A control event: a marker in the recording, a row in alia.audit. */
static void
worker_control_log(const char *actor, const char *action, const char *whom)
{
	char buf[128];

	snprintf(buf, sizeof(buf), "control %s %s", action, whom);
	if (w.rec != NULL)
		record_marker(w.rec, clock_wall_us(), buf);
	snprintf(buf, sizeof(buf), "control %s", action);
	worker_audit(actor, buf, whom);
	log_info("%s: control %s %s", actor, action, whom);
}

/* Tells every browser who holds control now. */
static void
worker_control_tell(void)
{
	struct worker_browser *b;

	TAILQ_FOREACH (b, &w.browsers, entry)
		ws_event(b->ws, "control", "holder",
		    w.holder != NULL ? w.holder->owner : NULL);
	worker_viewers();
}

static void
worker_control_grant(struct worker_browser *to)
{
	w.asker = NULL;
	w.holder = to;
	ws_set_holder(to->ws, 1);
	worker_control_tell();
}

/* Control goes back to the owner; by: who gave or took it back. */
static void
worker_control_return(const char *by)
{
	struct worker_browser *h = w.holder;

	if (h == NULL)
		return;
	worker_control_log(by, "return", h->owner);
	ws_set_holder(h->ws, 0);
	w.holder = NULL;
	worker_control_tell();
}

/* A "control" message from browser b. */
static void
worker_control(struct worker_browser *b, enum ws_action action)
{
	struct worker_browser *o;
	int owners = 0;

	switch (action) {
	case WS_ACTION_REQUEST:
		if (!ws_may_ask(b->ws)) {
			ws_error(b->ws,
			    "control: you may not ask for control of "
			    "this session");
			return;
		}
		if (w.holder != NULL || w.asker != NULL) {
			ws_error(b->ws,
			    w.holder == b
			        ? "control: you hold it already"
			        : "control: someone holds or asked for it");
			return;
		}
		worker_control_log(b->owner, "request", b->owner);
		if (strcmp(w.conf.control_consent, "notify") == 0) {
			worker_control_log(b->owner, "grant", b->owner);
			worker_control_grant(b);
			return;
		}
		TAILQ_FOREACH (o, &w.browsers, entry)
			if (o->mode == ATTACH_CONTROL) {
				ws_event(
				    o->ws, "control_request", "from", b->owner);
				owners++;
			}
		if (owners == 0) {
			worker_control_log(b->owner, "deny", b->owner);
			ws_error(b->ws,
			    "control: nobody is at the terminal to "
			    "consent");
			return;
		}
		w.asker = b;
		return;
	case WS_ACTION_GRANT:
	case WS_ACTION_DENY:
		if (b->mode != ATTACH_CONTROL) {
			ws_error(b->ws,
			    "control: only the session's owner "
			    "answers a request");
			return;
		}
		if (w.asker == NULL) {
			ws_error(
			    b->ws, "control: there is no request to answer");
			return;
		}
		o = w.asker;
		if (action == WS_ACTION_DENY) {
			worker_control_log(b->owner, "deny", o->owner);
			w.asker = NULL;
			ws_event(o->ws, "control_denied", "by", b->owner);
			return;
		}
		worker_control_log(b->owner, "grant", o->owner);
		worker_control_grant(o);
		return;
	case WS_ACTION_RETURN:
		if (w.holder == NULL ||
		    (b != w.holder && b->mode != ATTACH_CONTROL)) {
			ws_error(b->ws, "control: you do not hold it");
			return;
		}
		worker_control_return(b->owner);
		return;
	}
}

/*
 * Reads some output, through the pipe when there is one (first what is
 * left in it), into buf and the log; returns as read(2).
 */
static ssize_t
worker_container_take(unsigned char *buf, size_t len)
{
	int64_t now = clock_wall_us();
	ssize_t n;
	int avail;

	w.cdrained = 0;
	if (w.pipe_r != -1 && w.piped == -1) {
		if (ioctl(w.pipe_r, FIONREAD, &avail) == -1)
			fatal("FIONREAD on the output pipe");
		w.piped = avail;
	}
	if (w.rec == NULL) {
		/* What master put in the pipe first (a pool's prompt). */
		if (w.piped > 0 &&
		    (n = read(w.pipe_r, buf,
		         (size_t)w.piped < len ? (size_t)w.piped : len)) > 0) {
			w.piped -= n;
			return n;
		}
		if ((n = read(w.cfd, buf, len)) > 0)
			w.cdrained = (size_t)n < len;
		return n;
	}
	if (w.pipe_r == -1) {
		if ((n = read(w.cfd, buf, len)) > 0) {
			record_output(w.rec, now, buf, (size_t)n);
			w.cdrained = (size_t)n < len;
		}
		return n;
	}
	/*
	 * Nothing leaves the stream but into the pipe, which outlives this
	 * worker; only the pipe's bytes go to the journal. What the pipe
	 * holds is counted, not asked for each time.
	 */
	if (w.piped == 0) {
		n = splice(w.cfd, NULL, w.pipe_w, NULL, len,
		    SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
		if (n <= 0)
			return n;
		w.piped = n;
		w.cdrained = (size_t)n < len;
	}
	n = record_output_pipe(w.rec, now, w.pipe_r, buf,
	    (size_t)w.piped < len ? (size_t)w.piped : len);
	if (n > 0 && n <= w.piped)
		w.piped -= n;
	else
		w.piped = -1;
	if (w.piped != 0)
		w.cdrained = 0;
	return n;
}

/*
 * Output already in the pipe (a pool container's prompt, read by master)
 * is read now: the stream itself may stay silent until the user types.
 */
static void
worker_pipe_kick(void)
{
	int avail;

	if (w.pipe_r != -1 && ioctl(w.pipe_r, FIONREAD, &avail) == 0 &&
	    avail > 0)
		event_active(w.ev_cread, EV_READ, 0);
}

/*
 * The stream prints in bulk: rather than wake for each few KB the daemon
 * writes (a wakeup, a splice, a journal write and a websocket frame
 * each), the read event rests while more gathers in the socket, which
 * holds far more than that moment's worth. Half the worker's CPU at
 * 40 MB/s; a keystroke's echo is a small read and never waits.
 */
static void
worker_container_gather(void)
{
	struct timeval tv = {0, WORKER_GATHER_US};

	event_del(w.ev_cread);
	evtimer_add(w.ev_gather, &tv);
}

static void
worker_gather_cb(int fd, short what, void *arg)
{
	if (w.cfd != -1 && !w.cblocked && !w.start.gap)
		event_add(w.ev_cread, NULL);
}

/* Reads what the container printed; returns -1 at its end. */
static int
worker_container_read(void)
{
	static unsigned char buf[WORKER_READ];
	ssize_t n;
	int reads;

	for (reads = 0; reads < WORKER_READS; reads++) {
		if (w.rec != NULL && record_blocked(w.rec)) {
			if (!w.cblocked)
				log_info("%zu bytes not acked by the recorder: "
				         "not reading the container",
				    record_unacked(w.rec));
			w.cblocked = 1;
			event_del(w.ev_cread);
			return 0;
		}
		n = worker_container_take(buf, sizeof(buf));
		if (n > 0) {
			worker_output(buf, (size_t)n, 1);
			if (!w.cdrained)
				continue;
			if (n >= WORKER_BULK)
				worker_container_gather();
			return 0; /* the read event says when more came */
		}
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return 0;
		if (n == -1)
			log_warn("reading the container's stream");
		else
			log_info("the container's stream ended");
		return -1;
	}
	return 0; /* more is left: after other events have had their turn */
}

static void
worker_container_close(void)
{
	if (w.cfd == -1)
		return;
	event_free(w.ev_cread);
	event_free(w.ev_cwrite);
	event_free(w.ev_gather);
	w.ev_cread = w.ev_cwrite = w.ev_gather = NULL;
	close(w.cfd);
	w.cfd = -1;
	evbuffer_drain(w.in, evbuffer_get_length(w.in));
}

static void
worker_cread_cb(int fd, short what, void *arg)
{
	if (worker_container_read() == -1)
		worker_container_close();
}

/* Stops or restarts every browser's input as the input buffer fills. */
static void
worker_input_marks(void)
{
	size_t len = evbuffer_get_length(w.in);
	struct worker_browser *b;

	if (!w.in_paused && len > WORKER_IN_HIGH) {
		w.in_paused = 1;
		log_debug(
		    "input buffer full (%zu bytes): pausing browsers", len);
		TAILQ_FOREACH (b, &w.browsers, entry)
			ws_pause(b->ws);
	} else if (w.in_paused && len < WORKER_IN_LOW) {
		w.in_paused = 0;
		TAILQ_FOREACH (b, &w.browsers, entry)
			ws_resume(b->ws);
	}
}

static void
worker_cwrite(void)
{
	int n;

	if (w.cfd == -1)
		return;
	while (evbuffer_get_length(w.in) > 0) {
		n = evbuffer_write(w.in, w.cfd);
		if (n > 0)
			continue;
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1 && (errno == EAGAIN || errno == EWOULDBLOCK))
			break;
		log_warn("writing to the container's stream");
		worker_container_close();
		return;
	}
	if (evbuffer_get_length(w.in) > 0)
		event_add(w.ev_cwrite, NULL);
	else
		event_del(w.ev_cwrite);
	worker_input_marks();
}

static void
worker_cwrite_cb(int fd, short what, void *arg)
{
	worker_cwrite();
}

static void
worker_end(const char *reason)
{
	struct msg_end e;

	if (w.ended)
		return;
	w.ended = 1;
	log_info("asking master to end the session: %s", reason);
	memset(&e, 0, sizeof(e));
	strlcpy(e.reason, reason, sizeof(e.reason));
	if (msg_send_worker_end(w.role.chan, &w.id, &e) == -1)
		log_warnx("cannot send MSG_WORKER_END");
}

static void
worker_notice(long long secs, const char *why)
{
	char buf[256];
	int n;

	if (secs < 0)
		secs = 0;
	n = snprintf(buf, sizeof(buf), WORKER_NOTICE, secs, why);
	if (n > 0 && (size_t)n < sizeof(buf))
		worker_output(buf, (size_t)n, 0);
}

/* Whether a timeout (seconds, 0: none) is near or past after elapsed us. */
static void
worker_timeout(int64_t timeout, int64_t elapsed, int *warned, const char *why,
    const char *reason)
{
	int64_t limit, warn;

	if (timeout <= 0)
		return;
	limit = timeout * 1000000;
	warn = limit - (int64_t)WORKER_WARN_SEC * 1000000;
	if (warn < 0)
		warn = 0;
	if (elapsed >= warn && !*warned) {
		*warned = 1;
		worker_notice((limit - elapsed + 999999) / 1000000, why);
	}
	if (elapsed >= limit)
		worker_end(reason);
}

static void
worker_stats(void)
{
	struct worker_browser *b;

	w.stats.browsers = w.nbrowsers;
	w.stats.resyncs = (uint32_t)w.resyncs_closed;
	TAILQ_FOREACH (b, &w.browsers, entry)
		w.stats.resyncs += (uint32_t)ws_resyncs(b->ws);
	w.stats.last_activity_us = w.last_wall;
	if (memcmp(&w.stats, &w.sent, sizeof(w.stats)) == 0)
		return;
	if (msg_send_worker_stats(w.role.chan, &w.id, &w.stats) == -1)
		log_warnx("cannot send MSG_WORKER_STATS");
	w.sent = w.stats;
}

static void
worker_tick_cb(int fd, short what, void *arg)
{
	int64_t now = clock_mono_us(), started;

	if (w.state == WORKER_RUNNING && !w.ended) {
		worker_timeout(w.start.idle_timeout, now - w.last_activity,
		    &w.warned_idle, "idle (no input or output)", "idle");
		started =
		    w.start.started_us > 0 ? w.start.started_us : w.last_wall;
		if (w.start.started_us > 0)
			worker_timeout(w.start.max_lifetime,
			    clock_wall_us() - started, &w.warned_lifetime,
			    "its maximum lifetime is reached", "lifetime");
		else
			worker_timeout(w.start.max_lifetime,
			    now - w.started_mono, &w.warned_lifetime,
			    "its maximum lifetime is reached", "lifetime");
		if (w.start.reconnect_grace > 0 && w.nbrowsers == 0 &&
		    now - w.alone_since >= w.start.reconnect_grace * 1000000)
			worker_end("abandoned");
	}
	if (w.viewers_dirty)
		worker_viewers_send();
	if (++w.ticks * WORKER_TICK_MS >= WORKER_STATS_MS) {
		w.ticks = 0;
		worker_stats();
		if (w.trim) {
			/* What departed browsers' queues took goes back. */
			w.trim = 0;
			malloc_trim(0);
		}
	}
}

static void
worker_browser_free(struct worker_browser *b)
{
	if (b->expire != NULL)
		event_free(b->expire);
	free(b);
}

/* The share link a viewer came through has expired: they go. */
static void
worker_browser_expired(int fd, short what, void *arg)
{
	struct worker_browser *b = arg;

	ws_send_off(b->ws, "the share link has expired");
}

static void
worker_ws_cb(
    struct ws *ws, enum ws_event ev, const void *data, size_t len, void *arg)
{
	struct worker_browser *b = arg;
	const struct msg_resize *r;

	switch (ev) {
	case WS_INPUT:
		if (w.cfd == -1 || w.state != WORKER_RUNNING)
			return;
		if (w.holder != NULL && b != w.holder) {
			/* the owner's keys, while a watcher holds control */
			ws_error(ws,
			    "control is with someone else: your keys "
			    "were not sent (send \"return\" to take "
			    "it back)");
			return;
		}
		if (w.rec != NULL)
			record_input(w.rec, clock_wall_us(), data, len);
		worker_record_arm();
		evbuffer_add(w.in, data, len);
		w.stats.bytes_in += len;
		worker_activity();
		worker_cwrite();
		return;
	case WS_RESIZE:
		r = data;
		log_debug("resize to %ux%u", r->cols, r->rows);
		w.cols = r->cols;
		w.rows = r->rows;
		if (w.rec != NULL)
			record_resize(w.rec, clock_wall_us(), r->cols, r->rows);
		worker_activity();
		if (msg_send_worker_resize(w.role.chan, &w.id, r) == -1)
			log_warnx("cannot send MSG_WORKER_RESIZE");
		return;
	case WS_ACTION:
		worker_control(b, *(const enum ws_action *)data);
		return;
	case WS_CLOSED:
		w.trim = 1;
		if (b->refused) {
			TAILQ_REMOVE(&w.refused, b, entry);
			w.nrefused--;
			worker_browser_free(b);
			return;
		}
		if (b == w.asker)
			w.asker = NULL;
		if (b == w.holder)
			worker_control_return(b->owner); /* left with it */
		worker_marker("leave", b);
		TAILQ_REMOVE(&w.browsers, b, entry);
		worker_browser_free(b);
		w.nbrowsers--;
		w.resyncs_closed += ws_resyncs(ws);
		if (w.nbrowsers == 0)
			w.alone_since = clock_mono_us();
		if (w.state == WORKER_EXITING && w.nbrowsers == 0)
			worker_shutdown("the session has ended");
		else
			worker_viewers();
		return;
	}
}

static void
worker_start(struct msg *msg)
{
	int fd, flags;

	if (w.state != WORKER_START) {
		log_warnx("unexpected MSG_WORKER_START");
		return;
	}
	if (msg_get_worker_start(msg, &w.start, &fd) == -1 ||
	    uuid_is_zero(&msg->hdr.session))
		fatalx("bad MSG_WORKER_START");
	w.id = msg->hdr.session;
	log_setsession(&w.id);
	uuid_format(&w.id, w.session);
	w.cols = w.start.cols ? w.start.cols : 80;
	w.rows = w.start.rows ? w.start.rows : 24;
	if ((flags = fcntl(fd, F_GETFL)) == -1 ||
	    fcntl(fd, F_SETFL, flags | O_NONBLOCK) == -1)
		fatal("attach stream: fcntl");
	w.cfd = fd;
	if ((w.pipe_r == -1) != (w.pipe_w == -1))
		fatalx("only one end of the output pipe");
	if (w.conf.record)
		w.rec = record_new(w.start.started_us > 0 ? w.start.started_us
		                                          : clock_wall_us(),
		    w.conf.record_input != 0, (uint64_t)w.conf.record_max,
		    w.jfd != -1 ? journal_open(w.jfd) : NULL,
		    worker_record_send, NULL);
	else if (w.jfd != -1)
		close(w.jfd);
	w.jfd = -1;
	if (w.rec != NULL)
		record_first_seq(w.rec, w.start.first_seq);
	if (w.start.restarted == WORKER_ADOPTED && w.rec != NULL)
		record_marker(w.rec, clock_wall_us(),
		    "alia restarted: the session was taken up again");
	else if (w.start.restarted && w.rec != NULL)
		record_marker(w.rec, clock_wall_us(),
		    record_journaled(w.rec)
		        ? "worker restarted"
		        : "worker restarted: output the previous worker had "
		          "not recorded may be missing here");
	w.ev_rec = evtimer_new(w.role.base, worker_record_cb, NULL);
	w.ev_cread = event_new(
	    w.role.base, fd, EV_READ | EV_PERSIST, worker_cread_cb, NULL);
	w.ev_cwrite = event_new(
	    w.role.base, fd, EV_WRITE | EV_PERSIST, worker_cwrite_cb, NULL);
	w.ev_gather = evtimer_new(w.role.base, worker_gather_cb, NULL);
	if (w.ev_cread == NULL || w.ev_cwrite == NULL || w.ev_gather == NULL)
		fatalx("event_new");
	/* Output from Docker's log comes first: the stream waits for it. */
	if (!w.start.gap) {
		event_add(w.ev_cread, NULL);
		worker_pipe_kick();
	}
	w.started_mono = clock_mono_us();
	w.alone_since = w.started_mono;
	worker_activity();
	w.state = WORKER_RUNNING;
	log_info("session %s %s, %ux%u", w.session,
	    w.start.restarted == WORKER_ADOPTED ? "taken up after a restart"
	        : w.start.restarted             ? "re-attached after a worker "
	                                          "restart"
	                                        : "started",
	    w.cols, w.rows);
}

/* Sends off every browser attached as a viewer (a revoked link). */
static void
worker_kick(struct msg *msg)
{
	struct worker_browser *b;
	struct msg_kick k;
	int n = 0;

	if (msg_get_worker_kick(msg, &k) == -1)
		fatalx("bad MSG_WORKER_KICK");
	TAILQ_FOREACH (b, &w.browsers, entry)
		if (strcmp(b->owner, k.viewer) == 0) {
			ws_send_off(b->ws, k.why);
			n++;
		}
	log_info("%s: %d browser(s) sent off: %s", k.viewer, n, k.why);
}

/* One of the fds that outlive workers (taken), before the start. */
static void
worker_fd(struct msg *msg)
{
	struct msg_worker_fd f;
	int fd, *slot;

	if (msg_get_worker_fd(msg, &f, &fd) == -1)
		fatalx("bad MSG_WORKER_FD");
	switch (f.which) {
	case WORKER_FD_JOURNAL:
		slot = &w.jfd;
		break;
	case WORKER_FD_PIPE_R:
		slot = &w.pipe_r;
		break;
	case WORKER_FD_PIPE_W:
		slot = &w.pipe_w;
		break;
	default:
		fatalx("MSG_WORKER_FD: unknown fd %d", f.which);
	}
	if (w.state == WORKER_RUNNING || w.state == WORKER_EXITING ||
	    *slot != -1)
		fatalx("MSG_WORKER_FD %d after the start, or twice", f.which);
	*slot = fd;
}

/*
 * Why the browser a may not come in, or NULL: past max_viewers browsers
 * (a control browser may go max_viewers_per_user beyond it, so that
 * watchers cannot keep the owner out), or past max_viewers_per_user of
 * one identity (a share link's viewers count only in the first).
 */
static const char *
worker_browser_refusal(const struct msg_attach *a, char *buf, size_t len)
{
	const struct worker_browser *b;
	int64_t mine = 0, cap;

	cap = w.conf.max_viewers;
	if (a->mode == ATTACH_CONTROL)
		cap += w.conf.max_viewers_per_user;
	if ((int64_t)w.nbrowsers >= cap) {
		snprintf(buf, len,
		    "this session has %u browsers, the most it takes "
		    "(max_viewers = %lld)",
		    w.nbrowsers, (long long)w.conf.max_viewers);
		return buf;
	}
	if (a->until_s > 0)
		return NULL;
	TAILQ_FOREACH (b, &w.browsers, entry)
		if (strcmp(b->owner, a->owner) == 0)
			mine++;
	if (mine >= w.conf.max_viewers_per_user) {
		snprintf(buf, len,
		    "you have %lld browsers on this session, the most one "
		    "person may (max_viewers_per_user = %lld)",
		    (long long)mine, (long long)w.conf.max_viewers_per_user);
		return buf;
	}
	return NULL;
}

static void
worker_browser(struct msg *msg)
{
	struct msg_attach a;
	struct worker_browser *b;
	struct timeval tv = {0, 0};
	struct ws *ws;
	char why_buf[160];
	const char *why;
	int fd;

	if (msg_get_worker_browser(msg, &a, &fd) == -1)
		fatalx("bad MSG_WORKER_BROWSER");
	if (w.state != WORKER_RUNNING) {
		log_warnx("browser refused: the session is not running");
		close(fd);
		return;
	}
	if (!uuid_equal(&msg->hdr.session, &w.id) ||
	    (a.mode != ATTACH_CONTROL && a.mode != ATTACH_WATCH)) {
		log_warnx("browser refused: wrong session or mode");
		close(fd);
		return;
	}
	why = worker_browser_refusal(&a, why_buf, sizeof(why_buf));
	if (why != NULL && w.nrefused >= WORKER_REFUSING) {
		log_warnx("browser of %s cut off: %s", a.owner, why);
		close(fd);
		return;
	}
	b = xcalloc(1, sizeof(*b));
	strlcpy(b->owner, a.owner, sizeof(b->owner));
	b->mode = a.mode;
	if (why != NULL) {
		b->refused = 1;
		if ((ws = ws_refuse(
		         w.role.base, fd, &a, why, worker_ws_cb, b)) == NULL) {
			free(b);
			return;
		}
		b->ws = ws;
		TAILQ_INSERT_TAIL(&w.refused, b, entry);
		w.nrefused++;
		return;
	}
	ws = ws_new(w.role.base, fd, &a, w.session, w.cols, w.rows, w.sb,
	    worker_ws_cb, b);
	if (ws == NULL) {
		free(b);
		return;
	}
	b->ws = ws;
	if (a.until_s > 0) {
		/*
		 * Just past the end: libevent's clock is the coarse monotonic
		 * one, and a timer may fire a tick before PostgreSQL's now()
		 * reaches expires_at, when the viewer sent off could still
		 * come back in.
		 */
		tv.tv_sec = a.until_s;
		tv.tv_usec = WORKER_EXPIRE_US;
		b->expire = evtimer_new(w.role.base, worker_browser_expired, b);
		if (b->expire == NULL || evtimer_add(b->expire, &tv) == -1)
			fatalx("%s: evtimer", __func__);
	}
	worker_marker("join", b);
	TAILQ_INSERT_TAIL(&w.browsers, b, entry);
	w.nbrowsers++;
	if (w.in_paused)
		ws_pause(ws);
	worker_viewers();
}

static void
worker_exit_cb(int fd, short what, void *arg)
{
	worker_shutdown("timed out flushing browsers");
}

static void
worker_exited(struct msg *msg)
{
	struct timeval tv = {WORKER_EXIT_SEC, 0};
	struct worker_browser *b;
	struct msg_exit e;

	if (msg_get_worker_exited(msg, &e) == -1)
		fatalx("bad MSG_WORKER_EXITED");
	log_info("the container exited with %d%s%s", e.code,
	    e.reason[0] != '\0' ? ": " : "", e.reason);
	/* What it printed last is still in the stream. */
	if (w.cfd != -1) {
		(void)worker_container_read();
		worker_container_close();
	}
	w.state = WORKER_EXITING;
	if (TAILQ_EMPTY(&w.browsers)) {
		worker_shutdown("the session has ended");
		return;
	}
	TAILQ_FOREACH (b, &w.browsers, entry)
		ws_exit(b->ws, e.code, e.reason);
	w.ev_exit = evtimer_new(w.role.base, worker_exit_cb, NULL);
	evtimer_add(w.ev_exit, &tv);
}

/*
 * A piece of the session's recorded output, for a replacement worker's
 * scrollback: once the last piece is in, it goes in front of the ring,
 * older than what the journal and the stream put there meanwhile.
 */
static void
worker_screen(struct msg *msg)
{
	struct msg_screen h;
	const void *data;
	size_t len;

	if (msg_get_worker_screen(msg, &h, &data) == -1)
		fatalx("bad MSG_WORKER_SCREEN");
	evbuffer_add(w.screen, data, h.len);
	if (h.more)
		return;
	len = evbuffer_get_length(w.screen);
	scrollback_prepend(w.sb, evbuffer_pullup(w.screen, -1), len);
	evbuffer_drain(w.screen, len);
	log_info(
	    "%zu bytes of recorded output put back in the scrollback", len);
}

/*
 * A piece of what the container printed while no alia was attached, from
 * Docker's log: recorded and shown as output; after the last piece the
 * stream is read again.
 */
static void
worker_gap(struct msg *msg)
{
	struct msg_gap h;
	const void *data;

	if (msg_get_worker_gap(msg, &h, &data) == -1)
		fatalx("bad MSG_WORKER_GAP");
	if (h.marker[0] != '\0' && w.rec != NULL)
		record_marker(w.rec, clock_wall_us(), h.marker);
	if (h.len > 0) {
		if (w.rec != NULL)
			record_output(w.rec, clock_wall_us(), data, h.len);
		worker_output(data, h.len, 1);
		w.gap_bytes += h.len;
	}
	if (h.more || w.state != WORKER_RUNNING || !w.start.gap)
		return;
	w.start.gap = 0;
	log_info("%llu bytes printed while alia was away, from Docker's log",
	    (unsigned long long)w.gap_bytes);
	if (w.cfd != -1)
		event_add(w.ev_cread, NULL);
}

/* A message from master for this role; 0: not one it takes. */
static int
worker_master_msg(struct msg *msg)
{
	struct msg_detach d;
	int configured;

	switch (msg->hdr.type) {
	case MSG_CONFIG:
		configured = w.state != WORKER_CONFIG;
		role_config(msg, &w.conf, &configured, 1);
		w.state = WORKER_START;
		return 1;
	case MSG_WORKER_START:
		worker_start(msg);
		return 1;
	case MSG_WORKER_BROWSER:
		worker_browser(msg);
		return 1;
	case MSG_WORKER_EXITED:
		worker_exited(msg);
		return 1;
	case MSG_WORKER_BROKER:
		worker_broker(msg);
		return 1;
	case MSG_WORKER_FD:
		worker_fd(msg);
		return 1;
	case MSG_WORKER_KICK:
		worker_kick(msg);
		return 1;
	case MSG_WORKER_SCREEN:
		worker_screen(msg);
		return 1;
	case MSG_WORKER_GAP:
		worker_gap(msg);
		return 1;
	case MSG_WORKER_MARK:
		worker_mark(msg);
		return 1;
	case MSG_WORKER_DETACH:
		if (msg_get_worker_detach(msg, &d) == -1 ||
		    (d.code != WS_GOING_AWAY && d.code != WS_RESTARTING))
			fatalx("bad MSG_WORKER_DETACH");
		worker_detach(d.code == WS_RESTARTING
		        ? "alia is restarting; the session goes on"
		        : "alia stops; the session goes on",
		    d.code);
		return 1;
	default:
		return 0;
	}
}

/*
 * Master stops alia, not the session (it lives on, to be taken up again,
 * or is ended separately): browsers are told 1001 and come back later.
 */
static void
worker_stop(const char *why)
{
	worker_detach(why, WS_GOING_AWAY);
}

/* Browsers get code and their time to hear it; then as worker_shutdown. */
static void
worker_detach(const char *why, int code)
{
	struct worker_browser *b;

	if (w.done)
		return;
	TAILQ_FOREACH (b, &w.browsers, entry)
		ws_going_away(b->ws, code);
	w.gently = 1;
	worker_shutdown(why);
}

/* Closes everything; the loop ends once the browsers' frees have run. */
static void
worker_shutdown(const char *why)
{
	struct worker_browser *b;

	if (w.done)
		return;
	log_info("shutting down: %s", why);
	w.done = 1;
	TAILQ_FOREACH (b, &w.browsers, entry)
		if (!w.gently)
			ws_close(b->ws, "the worker is shutting down");
	TAILQ_FOREACH (b, &w.refused, entry)
		ws_close(b->ws, "the worker is shutting down");
	worker_container_close();
	if (w.ev_exit != NULL)
		event_del(w.ev_exit);
	event_del(w.ev_tick);
	if (w.rec != NULL) {
		event_del(w.ev_rec);
		record_flush(w.rec, clock_wall_us());
		if (w.had_broker && record_unacked(w.rec) > 0) {
			struct timeval tv = {WORKER_ACK_SEC, 0};

			log_info("waiting for the acks of %zu events",
			    record_unacked_events(w.rec));
			w.acks_waiting = 1;
			w.ev_acks =
			    evtimer_new(w.role.base, worker_acks_cb, NULL);
			evtimer_add(w.ev_acks, &tv);
		}
	}
}

static void
worker_acks_cb(int fd, short what, void *arg)
{
	log_warnx("%zu events still unacked after %d s; exiting",
	    record_unacked_events(w.rec), WORKER_ACK_SEC);
	w.acks_waiting = 0;
}

int
worker_main(int verbose)
{
	struct timeval tick = {0, WORKER_TICK_MS * 1000};

	w.cfd = w.pipe_r = w.pipe_w = w.jfd = -1;
	w.piped = -1;
	w.state = WORKER_CONFIG;
	TAILQ_INIT(&w.browsers);
	TAILQ_INIT(&w.refused);
	w.sb = scrollback_new(SCROLLBACK_SIZE);
	if ((w.in = evbuffer_new()) == NULL ||
	    (w.screen = evbuffer_new()) == NULL)
		fatalx("evbuffer_new");
	role_start(&w.role, "worker", verbose, worker_master_msg, worker_stop);
	w.broker.name = "the broker";
	w.broker.msg = worker_broker_msg;
	w.ev_tick =
	    event_new(w.role.base, -1, EV_PERSIST, worker_tick_cb, NULL);
	evtimer_add(w.ev_tick, &tick);

	while (!w.done || !TAILQ_EMPTY(&w.browsers) ||
	    !TAILQ_EMPTY(&w.refused) || w.acks_waiting)
		if (event_base_loop(w.role.base, EVLOOP_ONCE) == -1)
			fatalx("event_base_loop");

	if (w.ev_exit != NULL)
		event_free(w.ev_exit);
	event_free(w.ev_tick);
	if (w.ev_acks != NULL)
		event_free(w.ev_acks);
	if (w.ev_rec != NULL)
		event_free(w.ev_rec);
	record_free(w.rec);
	if (w.pipe_r != -1) {
		close(w.pipe_r);
		close(w.pipe_w);
	}
	peer_close(&w.broker);
	evbuffer_free(w.in);
	evbuffer_free(w.screen);
	scrollback_free(w.sb);
	role_free(&w.role);
	return 0;
}
