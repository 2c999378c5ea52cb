/* SPDX-License-Identifier: ISC */
/* Exponential backoff between attempts; see backoff.h. */
#include <event2/event.h>

#include "common/backoff.h"

void
backoff_init(struct backoff *b, int min_ms, int max_ms)
{
	b->min_ms = min_ms;
	b->max_ms = max_ms;
	b->ms = min_ms;
}

void
backoff_reset(struct backoff *b)
{
	b->ms = b->min_ms;
}

int
backoff_failing(const struct backoff *b)
{
	return b->ms > b->min_ms;
}

int
backoff_due(const struct backoff *b)
{
	return b->ms;
}

int
backoff_next(struct backoff *b)
{
	int ms = b->ms;

	b->ms = ms > b->max_ms / 2 ? b->max_ms : ms * 2;
	return ms;
}

int
backoff_arm(struct backoff *b, struct event *ev)
{
	struct timeval tv;
	int ms = backoff_next(b);

	tv.tv_sec = ms / 1000;
	tv.tv_usec = (ms % 1000) * 1000;
	evtimer_add(ev, &tv);
	return ms;
}
