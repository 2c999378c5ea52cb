/* SPDX-License-Identifier: ISC */
/*
 * wall: the role behind one instructor wall, a browser's websocket that
 * shows many sessions at once. master forks it per wall, hands it the
 * configuration (it drops privileges at once), the websocket with the
 * sessions front checked the user may see (MSG_WALL_START), and a channel
 * to the broker, where it subscribes to each session as a view.
 *
 * To the browser, after the usual hello, every frame is binary: a byte
 * with the tile's number (the session's place in the list), a byte that
 * says 1 "snapshot: clear the tile first" or 0 "more output", then the
 * bytes. Events a view has seen already (workers resend after a recorder
 * restart) are skipped by seq. The wall takes no input; it ends when the
 * browser goes or master's channel closes.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>

#include "common/config.h"
#include "common/log.h"
#include "common/msg.h"
#include "common/proc.h"
#include "common/role.h"
#include "common/xmalloc.h"
#include "worker/worker.h"
#include "worker/ws.h"

struct wall_tile {
	char session[SESSION_ID_LEN];
	uint64_t seq; /* the last event shown */
	int have;     /* a snapshot arrived: seq means something */
};

static struct {
	struct role role;
	struct event_base *base;
	struct msgchan *chan;
	struct msgchan *broker;
	struct config conf;
	int configured;
	struct ws *ws;
	struct scrollback *sb; /* empty: a wall has no scrollback */
	struct wall_tile tiles[WALL_MAX];
	unsigned int ntiles;
	unsigned char *frame;
} wl;

static void
wall_stop(const char *why)
{
	log_debug("wall ends: %s", why);
	event_base_loopexit(wl.base, NULL);
}

static void
wall_ws_cb(
    struct ws *ws, enum ws_event ev, const void *data, size_t len, void *arg)
{
	if (ev == WS_CLOSED) {
		wl.ws = NULL;
		wall_stop("the browser went");
	}
}

static void
wall_subscribe(void)
{
	struct msg_view_sub vs;
	unsigned int i;

	for (i = 0; i < wl.ntiles; i++) {
		memset(&vs, 0, sizeof(vs));
		memcpy(vs.session, wl.tiles[i].session, sizeof(vs.session));
		wl.tiles[i].have = 0;
		msgchan_send(
		    wl.broker, MSG_VIEW_SUBSCRIBE, 0, -1, &vs, sizeof(vs));
	}
}

/* An output event or a snapshot from the broker, to its tile. */
static void
wall_event(struct msg *msg)
{
	struct wall_tile *t = NULL;
	struct msg_event e;
	const void *data;
	unsigned int i;

	if (msg_recv_event(msg, &e, &data) == -1 || wl.ws == NULL)
		return;
	for (i = 0; i < wl.ntiles; i++)
		if (strncmp(wl.tiles[i].session, e.session,
		        sizeof(e.session)) == 0) {
			t = &wl.tiles[i];
			break;
		}
	if (t == NULL || (e.kind != 's' && e.kind != 'o'))
		return;
	if (e.kind == 'o' && t->have && e.seq <= t->seq)
		return; /* seen */
	t->seq = e.seq;
	t->have = 1;
	wl.frame[0] = (unsigned char)i;
	wl.frame[1] = e.kind == 's';
	memcpy(wl.frame + 2, data, e.len);
	ws_output(wl.ws, wl.frame, e.len + 2);
}

static void
wall_broker_cb(
    struct msgchan *ch, enum msgchan_event ev, struct msg *msg, void *arg)
{
	switch (ev) {
	case MSGCHAN_MSG:
		if (msg->hdr.type == MSG_EVENT)
			wall_event(msg);
		return;
	case MSGCHAN_LOWAT:
		return;
	case MSGCHAN_CLOSED:
	case MSGCHAN_ERROR:
		log_info("the broker's channel closed");
		msgchan_free(wl.broker);
		wl.broker = NULL;
		return;
	}
}

static void
wall_start(struct msg *msg)
{
	struct msg_attach a;
	struct msg_wall mw;
	unsigned int i;
	int fd;

	fd = msg_take_fd(msg);
	if (!wl.configured || wl.ws != NULL ||
	    msg_get(msg, MSG_WALL_START, &mw, sizeof(mw)) == -1 ||
	    mw.count == 0 || mw.count > WALL_MAX) {
		log_warnx("bad MSG_WALL_START");
		close(fd);
		wall_stop("no wall");
		return;
	}
	wl.ntiles = mw.count;
	for (i = 0; i < mw.count; i++)
		snprintf(wl.tiles[i].session, sizeof(wl.tiles[i].session),
		    "%.*s", (int)sizeof(mw.sessions[i]) - 1, mw.sessions[i]);
	memset(&a, 0, sizeof(a));
	memcpy(a.key, mw.key, sizeof(a.key));
	a.key[sizeof(a.key) - 1] = '\0';
	snprintf(a.owner, sizeof(a.owner), "%.*s", (int)sizeof(mw.user) - 1,
	    mw.user);
	a.mode = ATTACH_WATCH;
	if ((wl.ws = ws_new(wl.base, fd, &a, "wall", 80, 24, wl.sb, wall_ws_cb,
	         NULL)) == NULL) {
		wall_stop("the websocket failed");
		return;
	}
	log_info("wall of %s: %u sessions", a.owner, wl.ntiles);
	if (wl.broker != NULL)
		wall_subscribe();
}

/* A message from master for this role; 0: not one it takes. */
static int
wall_master_msg(struct msg *msg)
{
	struct msg_kick k;
	int fd;

	switch (msg->hdr.type) {
	case MSG_CONFIG:
		role_config(msg, &wl.conf, &wl.configured, 1);
		return 1;
	case MSG_WALL_START:
		wall_start(msg);
		return 1;
	case MSG_WORKER_KICK:
		/* Its user was signed out. */
		if (msg_get(msg, MSG_WORKER_KICK, &k, sizeof(k)) == -1)
			fatalx("bad MSG_WORKER_KICK");
		k.why[sizeof(k.why) - 1] = '\0';
		if (wl.ws != NULL)
			ws_send_off(wl.ws, k.why);
		return 1;
	case MSG_WORKER_BROKER:
		fd = msg_take_fd(msg);
		if (fd == -1)
			return 1;
		msgchan_free(wl.broker);
		wl.broker = msgchan_new(wl.base, fd, wall_broker_cb, NULL);
		if (wl.ws != NULL)
			wall_subscribe();
		return 1;
	default:
		return 0;
	}
}

int
wall_main(int verbose)
{
	role_start(&wl.role, "wall", verbose, wall_master_msg, wall_stop);
	wl.base = wl.role.base;
	wl.chan = wl.role.chan;
	wl.sb = scrollback_new(1);
	wl.frame = xmalloc(MSG_MAX_DATA + 2);
	role_run(&wl.role);
	if (wl.ws != NULL) {
		ws_close(wl.ws, "the wall ends");
		/* its deferred free */
		(void)event_base_loop(wl.base, EVLOOP_NONBLOCK);
	}
	msgchan_free(wl.broker);
	scrollback_free(wl.sb);
	free(wl.frame);
	role_free(&wl.role);
	return 0;
}
