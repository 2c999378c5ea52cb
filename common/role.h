/* SPDX-License-Identifier: ISC */
/*
 * What every child role of alia shares at its start and end: its title
 * and log, SIGPIPE ignored, one event base, the channel to master on
 * PROC_CHAN_FD, SIGTERM as a request to stop, and taking the
 * configuration master sends once.
 */
#ifndef ALIA_ROLE_H
#define ALIA_ROLE_H

#include "common/msg.h"

struct config;
struct event;
struct event_base;

struct role {
	struct event_base *base;
	struct msgchan *chan; /* to master */
	struct event *ev_term;
	void (*stop)(const char *why);
};

/*
 * Starts role name: the channel to master reports to cb (with arg NULL),
 * SIGTERM calls stop("SIGTERM").
 */
void role_start(struct role *, const char *name, int verbose, msgchan_cb cb,
    void (*stop)(const char *why));
/* Runs the loop until it exits, then once more for deferred frees. */
void role_run(struct role *);
/* Frees what role_start made. */
void role_free(struct role *);
/*
 * Takes MSG_CONFIG into conf, once (*have set); drops privileges to its
 * user when drop is set. A second or bad one is fatal.
 */
void role_config(struct msg *, struct config *, int *have, int drop);

#endif
