/* SPDX-License-Identifier: ISC */
/*
 * A channel to another child that master replaces now and then: the
 * broker's, as the worker, the wall and the recorder hold it. master
 * hands over a fresh socket whenever the broker (re)starts; the new
 * channel replaces the old, and the end of one is logged and forgotten
 * until the next comes. Each message goes to one function.
 */
#ifndef ALIA_PEER_H
#define ALIA_PEER_H

struct event_base;
struct msg;
struct msgchan;

struct peer {
	struct msgchan *chan; /* NULL: none now */
	const char *name;     /* whose channel, for the log: "the broker" */
	void (*msg)(struct msg *);
	void (*closed)(void); /* after the channel ended; may be NULL */
};

/* Takes fd (a connected socket) as the channel, closing the old one. */
void peer_take(struct peer *, struct event_base *, int fd);
/* Closes the channel, if any. */
void peer_close(struct peer *);

#endif
