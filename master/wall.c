/* SPDX-License-Identifier: ISC */
/*
 * The supervisor's side of the instructor wall: one process per wall
 * (role "wall", worker/wall.c) on one list. Front hands over a wall's
 * websocket with the sessions it checked the user may see
 * (MSG_SESSION_WALL); master refuses it with 429 past max_walls_per_user
 * of that user, or forks a wall process, sends it the configuration and
 * the websocket (MSG_WALL_START) and connects it to the broker as a view,
 * again each time the broker restarts. A wall's user signed out is sent
 * off (MSG_WORKER_KICK); a stop asks every wall to go. A wall is not
 * restarted: its entry is forgotten when its process is reaped.
 */
#include <sys/queue.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <bsd/string.h>

#include "common/config.h"
#include "common/log.h"
#include "common/msg.h"
#include "common/proc.h"
#include "common/xmalloc.h"
#include "master/master.h"

/* An instructor wall's process (worker/wall.c). */
struct wall {
	TAILQ_ENTRY(wall) entry;
	uint64_t id;
	pid_t pid;
	char user[OWNER_LEN]; /* whose wall: kicks, max_walls_per_user */
	struct msgchan *chan;
};
TAILQ_HEAD(wall_list, wall);

static struct {
	const struct config *conf;
	struct event_base *base;
	int verbose;
	int stopping;
	struct wall_list walls;
	uint64_t next_id;
} wls;

void
wall_init(struct event_base *base, const struct config *conf, int verbose)
{
	memset(&wls, 0, sizeof(wls));
	wls.base = base;
	wls.conf = conf;
	wls.verbose = verbose;
	TAILQ_INIT(&wls.walls);
}

static void
wall_chan_cb(
    struct msgchan *ch, enum msgchan_event ev, struct msg *m, void *arg)
{
	struct wall *wa = arg;

	if (ev == MSGCHAN_CLOSED || ev == MSGCHAN_ERROR) {
		/* It is going; forgotten when reaped. */
		msgchan_free(wa->chan);
		wa->chan = NULL;
	} else if (ev == MSGCHAN_MSG)
		log_warnx(
		    "wall sent unexpected message %s", msg_name(m->hdr.type));
}

/*
 * Answers a wall's upgrade request on fd (taken) with 429 and why: the
 * socket is fresh, so the few bytes fit in one write.
 */
static void
wall_refuse(int fd, const char *why)
{
	char body[256], head[256];
	int blen, hlen;

	blen = snprintf(body, sizeof(body), "{\"error\":\"%s\"}\n", why);
	hlen = snprintf(head, sizeof(head),
	    "HTTP/1.1 429 Too Many Requests\r\n"
	    "Content-Type: application/json\r\n"
	    "Content-Length: %d\r\n"
	    "Connection: close\r\n\r\n",
	    blen);
	if (send(fd, head, (size_t)hlen, MSG_NOSIGNAL | MSG_DONTWAIT) != hlen ||
	    send(fd, body, (size_t)blen, MSG_NOSIGNAL | MSG_DONTWAIT) != blen)
		log_warn("%s: send", __func__);
	close(fd);
}

/* How many walls user has open. */
static int
wall_count(const char *user)
{
	struct wall *wa;
	int n = 0;

	TAILQ_FOREACH (wa, &wls.walls, entry)
		if (strcmp(wa->user, user) == 0)
			n++;
	return n;
}

void
wall_spawn(struct msg *m)
{
	struct msg_wall mw;
	struct wall *wa;
	int fd, sv[2], n;

	if (msg_get_session_wall(m, &mw, &fd) == -1) {
		log_warnx("front sent a bad MSG_SESSION_WALL");
		return;
	}
	if (wls.stopping) {
		close(fd);
		return;
	}
	if ((n = wall_count(mw.user)) >= wls.conf->max_walls_per_user) {
		log_warnx("wall of %s refused: %d open (max_walls_per_user)",
		    mw.user, n);
		wall_refuse(fd,
		    "too many walls open: close one first "
		    "(max_walls_per_user)");
		return;
	}
	if (msg_socketpair(sv) == -1) {
		log_warn("%s: socketpair", __func__);
		close(fd);
		return;
	}
	wa = xcalloc(1, sizeof(*wa));
	wa->id = ++wls.next_id;
	strlcpy(wa->user, mw.user, sizeof(wa->user));
	if ((wa->pid = proc_spawn(
	         PROC_WORKER_IMAGE, "wall", sv[1], wls.verbose)) == -1) {
		close(sv[0]);
		close(sv[1]);
		close(fd);
		free(wa);
		return;
	}
	close(sv[1]);
	wa->chan = msgchan_new(wls.base, sv[0], wall_chan_cb, wa);
	msg_send_config(wa->chan, NULL, wls.conf);
	msg_send_wall_start(wa->chan, NULL, fd, &mw);
	(void)master_broker_pair(PEER_VIEW, NULL, wa->chan);
	TAILQ_INSERT_TAIL(&wls.walls, wa, entry);
	log_info("wall %llu of %s: %u sessions", (unsigned long long)wa->id,
	    mw.user, mw.count);
}

int
wall_reaped(pid_t pid)
{
	struct wall *wa;

	TAILQ_FOREACH (wa, &wls.walls, entry)
		if (wa->pid == pid) {
			TAILQ_REMOVE(&wls.walls, wa, entry);
			msgchan_free(wa->chan);
			free(wa);
			return 1;
		}
	return 0;
}

void
wall_signout(const char *user)
{
	struct msg_kick k;
	struct wall *wa;

	memset(&k, 0, sizeof(k));
	snprintf(k.viewer, sizeof(k.viewer), "%s", user);
	snprintf(k.why, sizeof(k.why), "signed out");
	TAILQ_FOREACH (wa, &wls.walls, entry)
		if (wa->chan != NULL && strcmp(wa->user, user) == 0)
			msg_send_wall_kick(wa->chan, NULL, &k);
}

void
wall_broker_started(void)
{
	struct wall *wa;

	TAILQ_FOREACH (wa, &wls.walls, entry)
		if (wa->chan != NULL)
			(void)master_broker_pair(PEER_VIEW, NULL, wa->chan);
}

void
wall_shutdown(void)
{
	struct wall *wa;

	wls.stopping = 1;
	TAILQ_FOREACH (wa, &wls.walls, entry)
		if (wa->chan != NULL)
			(void)msg_send_shutdown(
			    wa->chan, NULL, &(struct msg_shutdown){0});
}

void
wall_free(void)
{
	struct wall *wa;

	while ((wa = TAILQ_FIRST(&wls.walls)) != NULL) {
		TAILQ_REMOVE(&wls.walls, wa, entry);
		msgchan_free(wa->chan);
		free(wa);
	}
}
