/* SPDX-License-Identifier: ISC */
/*
 * What front asks of master, and master's answers. Everything about a
 * session is master's to say, so a request about one is parked
 * (front_http.c) and a struct front_ask remembers it until master's
 * answer comes: the caller, the headers the answer adds, and the
 * callback of the handler that asked, which gets each answer (a list is
 * several, the last with more unset). An ask whose answer never comes
 * (master restarted, say) is forgotten after ASK_TTL seconds. The
 * websockets front has checked, and the viewers a revoked share link
 * sends off, go to master from here too: this file holds front's end of
 * master's channel.
 */
#include <sys/queue.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <bsd/string.h>

#include "common/config.h"
#include "common/log.h"
#include "common/msg.h"
#include "common/xmalloc.h"
#include "front/front.h"

#define ASK_TTL 60 /* seconds an answer may take before it is forgotten */

TAILQ_HEAD(front_asks, front_ask);

static struct {
	struct msgchan *master;
	struct front_asks pending;
} fa;

void
front_master_init(struct msgchan *master)
{
	fa.master = master;
	TAILQ_INIT(&fa.pending);
}

static void
ask_free(struct front_ask *p)
{
	TAILQ_REMOVE(&fa.pending, p, entry);
	if (p->arg_free != NULL)
		p->arg_free(p->arg);
	free(p->setcookie);
	free(p->who.sees);
	free(p);
}

static struct front_ask *
ask_find(uint64_t req)
{
	struct front_ask *p;

	TAILQ_FOREACH (p, &fa.pending, entry)
		if (p->req == req)
			return p;
	return NULL;
}

/* Forgets answers that never came (master restarted, say). */
static void
ask_expire(void)
{
	struct front_ask *p, *next;
	time_t now = time(NULL);

	for (p = TAILQ_FIRST(&fa.pending); p != NULL; p = next) {
		next = TAILQ_NEXT(p, entry);
		if (now - p->since > ASK_TTL)
			ask_free(p);
	}
}

struct front_ask *
front_master_park(
    struct conn *c, const struct ident *who, const char *setcookie)
{
	struct front_ask *p;

	ask_expire();
	p = xcalloc(1, sizeof(*p));
	p->req = front_http_park(c);
	p->since = time(NULL);
	if (setcookie != NULL)
		p->setcookie = xstrdup(setcookie);
	if (who != NULL)
		front_auth_copy(&p->who, who);
	TAILQ_INSERT_TAIL(&fa.pending, p, entry);
	return p;
}

/* The role master knows for a caller's: CONFIG_ROLE_*, or -1: none. */
static int32_t
ask_role(int role)
{
	switch (role) {
	case ROLE_LEARNER:
		return CONFIG_ROLE_LEARNER;
	case ROLE_INSTRUCTOR:
		return CONFIG_ROLE_INSTRUCTOR;
	case ROLE_ADMIN:
		return CONFIG_ROLE_ADMIN;
	}
	return -1;
}

void
front_master_ask(uint32_t type, struct front_ask *p, uint32_t flags,
    const char *session, int cols, int rows)
{
	struct msg_session_req r;

	memset(&r, 0, sizeof(r));
	r.req = p->req;
	r.flags = flags;
	r.role = ask_role(p->who.role);
	if (strlcpy(r.owner, p->who.name, sizeof(r.owner)) >= sizeof(r.owner))
		fatalx("%s: an identity longer than OWNER_LEN", __func__);
	if (session != NULL &&
	    strlcpy(r.session, session, sizeof(r.session)) >= sizeof(r.session))
		fatalx("%s: a session id longer than a uuid", __func__);
	r.cols = (uint16_t)cols;
	r.rows = (uint16_t)rows;
	msgchan_send(fa.master, type, 0, -1, &r, sizeof(r));
}

void
front_master_metrics(struct front_ask *p)
{
	struct msg_metrics mt;

	memset(&mt, 0, sizeof(mt));
	mt.req = p->req;
	msgchan_send(fa.master, MSG_METRICS_GET, 0, -1, &mt, sizeof(mt));
}

void
front_master_attach(int fd, const struct msg_attach *attach)
{
	msgchan_send(
	    fa.master, MSG_SESSION_ATTACH, 0, fd, attach, sizeof(*attach));
}

void
front_master_wall(int fd, const struct msg_wall *mw)
{
	msgchan_send(fa.master, MSG_SESSION_WALL, 0, fd, mw, sizeof(*mw));
}

void
front_master_kick(const char *session, const char *viewer)
{
	struct msg_session_req r;

	memset(&r, 0, sizeof(r));
	snprintf(r.session, sizeof(r.session), "%s", session);
	snprintf(r.owner, sizeof(r.owner), "%s", viewer);
	msgchan_send(fa.master, MSG_SESSION_KICK, 0, -1, &r, sizeof(r));
}

static void
master_metrics(struct msg *m)
{
	struct msg_metrics mt;
	struct front_ask *p;
	struct conn *c;

	if (msg_get(m, MSG_METRICS, &mt, sizeof(mt)) == -1 ||
	    (p = ask_find(mt.req)) == NULL)
		return;
	if ((c = front_http_parked(p->req)) != NULL && p->metrics != NULL)
		p->metrics(c, &mt);
	ask_free(p);
}

void
front_master_msg(struct msg *m)
{
	struct msg_session_info i;
	struct front_ask *p;

	if (m->hdr.type == MSG_METRICS) {
		master_metrics(m);
		return;
	}
	if (msg_get(m, MSG_SESSION_INFO, &i, sizeof(i)) == -1) {
		log_warnx("unexpected message %u from master", m->hdr.type);
		return;
	}
	i.message[sizeof(i.message) - 1] = '\0';
	i.session[sizeof(i.session) - 1] = '\0';
	i.state[sizeof(i.state) - 1] = '\0';
	i.image[sizeof(i.image) - 1] = '\0';
	i.end_reason[sizeof(i.end_reason) - 1] = '\0';
	if ((p = ask_find(i.req)) == NULL)
		return;
	i.owner[sizeof(i.owner) - 1] = '\0';
	if (p->info != NULL)
		p->info(p, front_http_parked(p->req), &i);
	if (!i.more)
		ask_free(p);
}
