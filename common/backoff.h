/* SPDX-License-Identifier: ISC */
/*
 * Exponential backoff: the wait before the next attempt at something that
 * failed (a connection, a child process) doubles from a minimum to a
 * maximum, and goes back to the minimum on success.
 */
#ifndef ALIA_BACKOFF_H
#define ALIA_BACKOFF_H

struct event;

struct backoff {
	int min_ms;
	int max_ms;
	int ms; /* the next wait */
};

void backoff_init(struct backoff *, int min_ms, int max_ms);
/* Success: the next wait is the minimum again. */
void backoff_reset(struct backoff *);
/* Whether a wait longer than the minimum is due (attempts have failed). */
int backoff_failing(const struct backoff *);
/* The wait due now, in ms, without counting it. */
int backoff_due(const struct backoff *);
/* The wait due now, in ms; the next one doubles. */
int backoff_next(struct backoff *);
/* Adds timer ev for the wait due now and doubles the next; returns it. */
int backoff_arm(struct backoff *, struct event *ev);

#endif
