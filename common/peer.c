/* SPDX-License-Identifier: ISC */
/* A channel that master replaces now and then; see peer.h. */
#include <stddef.h>

#include "common/log.h"
#include "common/msg.h"
#include "common/peer.h"

static void
peer_cb(struct msgchan *ch, enum msgchan_event ev, struct msg *msg, void *arg)
{
	struct peer *p = arg;

	switch (ev) {
	case MSGCHAN_MSG:
		p->msg(msg);
		return;
	case MSGCHAN_LOWAT:
		return;
	case MSGCHAN_CLOSED:
	case MSGCHAN_ERROR:
		log_info("%s's channel closed", p->name);
		peer_close(p);
		if (p->closed != NULL)
			p->closed();
		return;
	}
}

void
peer_take(struct peer *p, struct event_base *base, int fd)
{
	peer_close(p);
	p->chan = msgchan_new(base, fd, peer_cb, p);
}

void
peer_close(struct peer *p)
{
	if (p->chan != NULL)
		msgchan_free(p->chan);
	p->chan = NULL;
}
