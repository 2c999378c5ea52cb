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
#include "common/peer.h"
#include "common/proc.h"
#include "common/role.h"
#include "common/uuid.h"
#include "common/xmalloc.h"
#include "worker/worker.h"
#include "worker/ws.h"

struct wall_tile {
	struct uuid id; /* its session; zero: not a session id */
	uint64_t seq;   /* the last event shown */
	int have;       /* a snapshot arrived: seq means something */
};

static struct {
	struct role role;
	struct peer broker;
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
	event_base_loopexit(wl.role.base, NULL);
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
		wl.tiles[i].have = 0;
		if (uuid_is_zero(&wl.tiles[i].id))
			continue;
		memset(&vs, 0, sizeof(vs));
		msg_send_view_subscribe(wl.broker.chan, &wl.tiles[i].id, &vs);
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

	if (msg_get_event(msg, &e, &data) == -1 || wl.ws == NULL ||
	    uuid_is_zero(&msg->hdr.session))
		return;
	for (i = 0; i < wl.ntiles; i++)
		if (uuid_equal(&wl.tiles[i].id, &msg->hdr.session)) {
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

/* A message from the broker: output of one of the tiles' sessions. */
static void
wall_broker_msg(struct msg *msg)
{
	if (msg->hdr.type == MSG_EVENT)
		wall_event(msg);
}

static void
wall_start(struct msg *msg)
{
	struct msg_attach a;
	struct msg_wall mw;
	unsigned int i;
	int fd;

	if (msg_get_wall_start(msg, &mw, &fd) == -1) {
		log_warnx("bad MSG_WALL_START");
		wall_stop("no wall");
		return;
	}
	if (!wl.configured || wl.ws != NULL || mw.count == 0 ||
	    mw.count > WALL_MAX) {
		log_warnx("MSG_WALL_START refused");
		close(fd);
		wall_stop("no wall");
		return;
	}
	wl.ntiles = mw.count;
	for (i = 0; i < mw.count; i++)
		if (uuid_parse(mw.sessions[i], &wl.tiles[i].id) == -1)
			memset(&wl.tiles[i].id, 0, sizeof(wl.tiles[i].id));
	memset(&a, 0, sizeof(a));
	snprintf(a.key, sizeof(a.key), "%s", mw.key);
	snprintf(a.owner, sizeof(a.owner), "%s", mw.user);
	a.mode = ATTACH_WATCH;
	if ((wl.ws = ws_new(wl.role.base, fd, &a, "wall", 80, 24, wl.sb,
	         wall_ws_cb, NULL)) == NULL) {
		wall_stop("the websocket failed");
		return;
	}
	log_info("wall of %s: %u sessions", a.owner, wl.ntiles);
	if (wl.broker.chan != NULL)
		wall_subscribe();
}

/* A message from master for this role; 0: not one it takes. */
static int
wall_master_msg(struct msg *msg)
{
	struct msg_peer p;
	struct msg_kick k;
	int fd;

	switch (msg->hdr.type) {
	case MSG_CONFIG:
		role_config(msg, &wl.conf, &wl.configured, 1);
		return 1;
	case MSG_WALL_START:
		wall_start(msg);
		return 1;
	case MSG_WALL_KICK:
		/* Its user was signed out. */
		if (msg_get_wall_kick(msg, &k) == -1)
			fatalx("bad MSG_WALL_KICK");
		if (wl.ws != NULL)
			ws_send_off(wl.ws, k.why);
		return 1;
	case MSG_WALL_BROKER:
		if (msg_get_wall_broker(msg, &p, &fd) == -1) {
			log_warnx("bad MSG_WALL_BROKER");
			return 1;
		}
		peer_take(&wl.broker, wl.role.base, fd);
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
	wl.broker.name = "the broker";
	wl.broker.msg = wall_broker_msg;
	wl.sb = scrollback_new(1);
	wl.frame = xmalloc(MSG_MAX_DATA + 2);
	role_run(&wl.role);
	if (wl.ws != NULL) {
		ws_close(wl.ws, "the wall ends");
		/* its deferred free */
		(void)event_base_loop(wl.role.base, EVLOOP_NONBLOCK);
	}
	peer_close(&wl.broker);
	scrollback_free(wl.sb);
	free(wl.frame);
	role_free(&wl.role);
	return 0;
}
