/* SPDX-License-Identifier: ISC */
/*
 * Deferred frees: one queue for the process, in order, and one
 * zero-timeout event on the process's base that runs it. A run takes
 * only the entries queued before it began (each entry is stamped with the
 * number of the run it waits for); what those frees queue waits for the
 * next run, so a free never runs inside the callback that queued it, the
 * run included. The event is scheduled when an entry arrives with no run
 * due; a run stops being due as it begins, so what it queues schedules
 * the next.
 * The event is a one-shot (event_base_once), so nothing of this file
 * outlives a base that is freed. A cancel that empties the queue forgets
 * the run due, so the next entry schedules its own even if that base is
 * gone; a run that then finds nothing to do, or entries of a later turn,
 * is harmless: whatever it frees was queued by a callback that returned.
 * Run numbers wrap; they are compared by their difference.
 */
#include <sys/queue.h>
#include <stddef.h>

#include <event2/event.h>

#include "common/defer.h"
#include "common/log.h"

static struct {
	TAILQ_HEAD(, defer) queue;
	int due;           /* a run is scheduled */
	unsigned int pass; /* the number of the next run */
	struct event_base *base;
} df = {.queue = TAILQ_HEAD_INITIALIZER(df.queue)};

static void defer_run(evutil_socket_t, short, void *);

/* Schedules a run on df.base. */
static void
defer_schedule(void)
{
	struct timeval now = {0, 0};

	if (event_base_once(df.base, -1, EV_TIMEOUT, defer_run, NULL, &now) ==
	    -1)
		fatalx("%s: event_base_once", __func__);
	df.due = 1;
}

/* Frees, in order, what was queued before this run began. */
static void
defer_run(evutil_socket_t fd, short what, void *arg)
{
	struct defer *d;
	unsigned int pass = df.pass++;

	df.due = 0;
	while ((d = TAILQ_FIRST(&df.queue)) != NULL &&
	    (int)(d->pass - pass) <= 0) {
		TAILQ_REMOVE(&df.queue, d, entry);
		d->queued = 0;
		d->fn(d->arg);
	}
}

void
defer_queue(
    struct event_base *base, struct defer *d, void (*fn)(void *), void *arg)
{
	if (d->queued)
		return;
	d->fn = fn;
	d->arg = arg;
	d->pass = df.pass;
	d->queued = 1;
	TAILQ_INSERT_TAIL(&df.queue, d, entry);
	if (!df.due || df.base != base) {
		df.base = base;
		defer_schedule();
	}
}

int
defer_queued(const struct defer *d)
{
	return d->queued;
}

void
defer_cancel(struct defer *d)
{
	if (!d->queued)
		return;
	TAILQ_REMOVE(&df.queue, d, entry);
	d->queued = 0;
	if (TAILQ_EMPTY(&df.queue))
		df.due = 0;
}
