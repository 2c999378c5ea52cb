/* SPDX-License-Identifier: ISC */
/*
 * What front asks of master, and master's answers. Everything about a
 * session is master's to say, so a request about one is parked
 * (front_http.c) and a struct front_ask remembers it until master's
 * answer comes: the caller, the headers the answer adds, and the
 * callback of the handler that asked, which gets each answer (a list is
 * several, the last with more unset). Asks wait in a tree by their req,
 * the id master's answer carries, and in a list by age: an ask whose
 * answer never comes (master restarted, say) is forgotten after ASK_TTL
 * seconds, and its connection, if still parked, closed without a word.
 *
 * A websocket goes to master at once, its socket with its ask
 * (front_master_attach): master checks who may attach and answers the
 * ask, 200 when the socket went on to the worker, or the refusal for
 * front to say. The viewers a revoked share link sends off go to master
 * from here too: this file holds front's end of master's channel.
 */
#include <sys/queue.h>
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

#include "common/config.h"
#include "common/log.h"
#include "common/msg.h"
#include "common/xmalloc.h"
#include "front/front.h"

#define ASK_TTL 60 /* seconds an answer may take before it is forgotten */

TAILQ_HEAD(front_asks, front_ask);
RB_HEAD(front_ask_tree, front_ask);

static struct {
	struct msgchan *master;
	struct front_ask_tree by_req;
	struct front_asks by_age; /* oldest first */
} fa;

static int
ask_cmp(struct front_ask *a, struct front_ask *b)
{
	return a->req < b->req ? -1 : a->req > b->req;
}
RB_GENERATE_STATIC(front_ask_tree, front_ask, by_req, ask_cmp)

void
front_master_init(struct msgchan *master)
{
	fa.master = master;
	RB_INIT(&fa.by_req);
	TAILQ_INIT(&fa.by_age);
}

static void
ask_free(struct front_ask *p)
{
	RB_REMOVE(front_ask_tree, &fa.by_req, p);
	TAILQ_REMOVE(&fa.by_age, p, by_age);
	if (p->arg_free != NULL)
		p->arg_free(p->arg);
	free(p->setcookie);
	free(p->who.sees);
	free(p);
}

static struct front_ask *
ask_find(uint64_t req)
{
	struct front_ask key;

	key.req = req;
	return RB_FIND(front_ask_tree, &fa.by_req, &key);
}

/* Forgets answers that never came (master restarted, say). */
static void
ask_expire(void)
{
	struct front_ask *p;
	struct conn *c;
	time_t now = time(NULL);

	while (
	    (p = TAILQ_FIRST(&fa.by_age)) != NULL && now - p->since > ASK_TTL) {
		if ((c = front_http_parked(p->req)) != NULL)
			front_http_close(c, "master did not answer");
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
	if (RB_INSERT(front_ask_tree, &fa.by_req, p) != NULL)
		fatalx("%s: ask %llu parked twice", __func__,
		    (unsigned long long)p->req);
	TAILQ_INSERT_TAIL(&fa.by_age, p, by_age);
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

/* The requests about sessions front_master_ask makes, and their senders. */
static const struct {
	uint32_t type;
	int (*send)(struct msgchan *, const struct uuid *,
	    const struct msg_session_req *);
} ask_kinds[] = {
    {MSG_SESSION_CREATE, msg_send_session_create},
    {MSG_SESSION_GET, msg_send_session_get},
    {MSG_SESSION_LIST, msg_send_session_list},
    {MSG_SESSION_DELETE, msg_send_session_delete},
    {MSG_SESSION_CHECK, msg_send_session_check},
};

void
front_master_req(struct msg_session_req *r, const struct front_ask *p,
    uint32_t flags, const char *session)
{
	memset(r, 0, sizeof(*r));
	r->req = p->req;
	r->flags = flags;
	r->role = ask_role(p->who.role);
	if (strlcpy(r->owner, p->who.name, sizeof(r->owner)) >=
	    sizeof(r->owner))
		fatalx("%s: an identity longer than OWNER_LEN", __func__);
	if (session != NULL &&
	    strlcpy(r->session, session, sizeof(r->session)) >=
	        sizeof(r->session))
		fatalx("%s: a session id longer than a uuid", __func__);
}

void
front_master_send(uint32_t type, const struct msg_session_req *r)
{
	size_t i;

	for (i = 0; i < sizeof(ask_kinds) / sizeof(ask_kinds[0]); i++)
		if (ask_kinds[i].type == type) {
			ask_kinds[i].send(fa.master, NULL, r);
			return;
		}
	fatalx("%s: %s is not a session request", __func__, msg_name(type));
}

void
front_master_ask(uint32_t type, struct front_ask *p, uint32_t flags,
    const char *session, int cols, int rows)
{
	struct msg_session_req r;

	front_master_req(&r, p, flags, session);
	r.cols = (uint16_t)cols;
	r.rows = (uint16_t)rows;
	front_master_send(type, &r);
}

void
front_master_metrics(struct front_ask *p)
{
	struct msg_metrics mt;

	memset(&mt, 0, sizeof(mt));
	mt.req = p->req;
	msg_send_metrics_get(fa.master, NULL, &mt);
}

int
front_master_attach(
    struct front_ask *p, int fd, struct msg_attach *a, const char *sees)
{
	size_t len = sees != NULL ? strlen(sees) + 1 : 0;

	a->req = p->req;
	a->role = ask_role(p->who.role);
	if (len > MSG_MAX_DATA) {
		log_warnx("%s: %s sees %zu bytes of members, more than a "
		          "message holds",
		    __func__, p->who.name, len);
		close(fd);
		return -1;
	}
	a->len = (uint32_t)len;
	return msg_send_session_attach(fa.master, NULL, fd, a, sees);
}

void
front_master_wall(int fd, const struct msg_wall *mw)
{
	msg_send_session_wall(fa.master, NULL, fd, mw);
}

void
front_master_kick(const char *session, const char *viewer)
{
	struct msg_session_req r;

	memset(&r, 0, sizeof(r));
	snprintf(r.session, sizeof(r.session), "%s", session);
	snprintf(r.owner, sizeof(r.owner), "%s", viewer);
	msg_send_session_kick(fa.master, NULL, &r);
}

static void
master_metrics(struct msg *m)
{
	struct msg_metrics mt;
	struct front_ask *p;
	struct conn *c;

	if (msg_get_metrics(m, &mt) == -1 || (p = ask_find(mt.req)) == NULL)
		return;
	if ((c = front_http_parked(p->req)) != NULL && p->metrics != NULL)
		p->metrics(c, &mt);
	ask_free(p);
}

static void
master_check(struct msg *m)
{
	struct msg_check k;
	struct front_ask *p;
	struct conn *c;
	const void *out;

	if (msg_get_check_result(m, &k, &out) == -1 ||
	    (p = ask_find(k.req)) == NULL)
		return;
	if ((c = front_http_parked(p->req)) != NULL && p->check != NULL)
		p->check(p, c, &k, out);
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
	if (m->hdr.type == MSG_CHECK_RESULT) {
		master_check(m);
		return;
	}
	if (msg_get_session_info(m, &i) == -1) {
		log_warnx("a bad or unexpected message %s from master",
		    msg_name(m->hdr.type));
		return;
	}
	if ((p = ask_find(i.req)) == NULL)
		return;
	if (p->info != NULL)
		p->info(p, front_http_parked(p->req), &i);
	if (!i.more)
		ask_free(p);
}
