/* SPDX-License-Identifier: ISC */
/*
 * The start, the loop and the end every child role shares (role.h), so
 * that each role's own file holds only what is its own.
 */
#include <malloc.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>

#include "common/config.h"
#include "common/log.h"
#include "common/proc.h"
#include "common/role.h"

static void
role_term_cb(evutil_socket_t sig, short what, void *arg)
{
	struct role *r = arg;

	r->stop("SIGTERM");
}

static void
role_chan_cb(
    struct msgchan *ch, enum msgchan_event ev, struct msg *msg, void *arg)
{
	struct role *r = arg;
	struct msg_ping p;

	switch (ev) {
	case MSGCHAN_MSG:
		if (msg->hdr.type == MSG_SHUTDOWN) {
			r->asked = 1;
			r->stop("master asked");
		} else if (msg_get_ping(msg, &p) == 0)
			msg_send_pong(r->chan, &msg->hdr.session, &p);
		else if (!r->msg(msg))
			log_warnx("unexpected message %s (%u) from master",
			    msg_name(msg->hdr.type), msg->hdr.type);
		return;
	case MSGCHAN_LOWAT:
		return;
	case MSGCHAN_CLOSED:
	case MSGCHAN_ERROR:
		r->orphaned = !r->asked;
		r->stop("master's channel closed");
		return;
	}
}

void
role_start(struct role *r, const char *name, int verbose,
    int (*msg)(struct msg *), void (*stop)(const char *))
{
	proc_title(name);
	log_init(name, verbose);
	signal(SIGPIPE, SIG_IGN);
	if ((r->base = event_base_new()) == NULL)
		fatalx("event_base_new");
	r->msg = msg;
	r->stop = stop;
	r->chan = msgchan_new(r->base, PROC_CHAN_FD, role_chan_cb, r);
	r->ev_term = evsignal_new(r->base, SIGTERM, role_term_cb, r);
	if (r->ev_term == NULL || evsignal_add(r->ev_term, NULL) == -1)
		fatalx("%s: SIGTERM", __func__);
}

void
role_run(struct role *r)
{
	if (event_base_dispatch(r->base) == -1)
		fatalx("event_base_dispatch");
	/* The frees deferred by the last callbacks. */
	(void)event_base_loop(r->base, EVLOOP_NONBLOCK);
}

static void
role_trim_cb(int fd, short what, void *arg)
{
	struct role *r = arg;

	if (r->busy)
		r->trimmed = 0;
	else if (!r->trimmed) {
		r->trimmed = 1;
		(void)malloc_trim(0);
	}
	r->busy = 0;
}

void
role_keep_memory(struct role *r, size_t keep)
{
	struct timeval tv = {ROLE_TRIM_SEC, 0};

	/* a fixed mmap threshold: glibc's dynamic one would move it */
	if (mallopt(M_MMAP_THRESHOLD, 4 * 1024 * 1024) == 0 ||
	    mallopt(M_TRIM_THRESHOLD, (int)keep) == 0) {
		log_warnx("mallopt refused: freed memory goes back at once");
		return;
	}
	r->ev_trim = event_new(r->base, -1, EV_PERSIST, role_trim_cb, r);
	if (r->ev_trim == NULL || evtimer_add(r->ev_trim, &tv) == -1)
		fatalx("%s: evtimer", __func__);
}

void
role_free(struct role *r)
{
	if (r->ev_trim != NULL)
		event_free(r->ev_trim);
	event_free(r->ev_term);
	msgchan_free(r->chan);
	event_base_free(r->base);
}

void
role_config(struct msg *msg, struct config *conf, int *have, int drop)
{
	if (*have || msg_get_config(msg, conf) == -1)
		fatalx("bad configuration message");
	if (drop && proc_drop_privileges(conf->user) == -1)
		fatalx("cannot drop privileges to %s", conf->user);
	*have = 1;
}

int
role_ready(struct role *r, const char *name)
{
	struct msg_ready rd;

	memset(&rd, 0, sizeof(rd));
	rd.pid = (int32_t)getpid();
	snprintf(rd.role, sizeof(rd.role), "%s", name);
	return msg_send_ready(r->chan, NULL, &rd);
}
