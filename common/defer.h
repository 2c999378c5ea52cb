/* SPDX-License-Identifier: ISC */
/*
 * Deferred frees: an object closed inside an event callback is queued
 * here and freed once that callback has returned, on a later turn of the
 * event loop, so that no callback frees memory another one still uses.
 * The object embeds a struct defer. Queued objects are freed in the order
 * they were queued; an object queued again while it waits is not queued
 * twice (the first queuing stands, and it is freed once). Every object
 * waiting at one time is queued on the same event base: the process's.
 */
#ifndef ALIA_DEFER_H
#define ALIA_DEFER_H

#include <sys/queue.h>

struct event_base;

struct defer {
	TAILQ_ENTRY(defer) entry;
	void (*fn)(void *); /* frees arg */
	void *arg;
	unsigned int pass; /* the run it waits for */
	int queued;
};

/*
 * Calls fn(arg) from base's loop once the current callback has returned;
 * nothing if d is already queued.
 */
void defer_queue(
    struct event_base *, struct defer *d, void (*fn)(void *), void *arg);
/* Whether d waits in the queue. */
int defer_queued(const struct defer *);
/* Takes d off the queue, if it is on it: its owner frees it now. */
void defer_cancel(struct defer *);

#endif
