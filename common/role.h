/* SPDX-License-Identifier: ISC */
/*
 * What every child role of alia shares: its title and log, SIGPIPE
 * ignored, one event base, the channel to master on PROC_CHAN_FD and what
 * comes on it whatever the role (MSG_PING, MSG_SHUTDOWN, the channel's
 * end), SIGTERM as a request to stop, and taking the configuration
 * master sends once.
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
	int (*msg)(struct msg *);
	void (*stop)(const char *why);
	int asked;    /* MSG_SHUTDOWN came */
	int orphaned; /* master's channel closed without MSG_SHUTDOWN */
	struct event *ev_trim; /* role_keep_memory's */
	int busy;              /* role_busy since the last trim tick */
	int trimmed;
};

/*
 * Starts role name. Each message from master goes to msg, which returns
 * 0 for a type the role does not take (logged); MSG_PING is answered
 * here. MSG_SHUTDOWN, the end of master's channel and SIGTERM call
 * stop(why).
 */
void role_start(struct role *, const char *name, int verbose,
    int (*msg)(struct msg *), void (*stop)(const char *why));
/* Runs the loop until it exits, then once more for deferred frees. */
void role_run(struct role *);
/* Frees what role_start made. */
void role_free(struct role *);
/*
 * Takes MSG_CONFIG into conf, once (*have set); drops privileges to its
 * user when drop is set. A second or bad one is fatal.
 */
void role_config(struct msg *, struct config *, int *have, int drop);
/* Tells master the role name is set up and serving (MSG_READY). */
int role_ready(struct role *, const char *name);
/*
 * For a role that moves bursts of large buffers (events of up to 64 KiB):
 * freed heap up to keep bytes stays with the process during a burst,
 * instead of going back to the kernel and faulting in again with the
 * next buffer; once no role_busy() was seen for ROLE_TRIM_SEC, it goes
 * back.
 */
#define ROLE_TRIM_SEC 10
void role_keep_memory(struct role *, size_t keep);
static inline void
role_busy(struct role *r)
{
	r->busy = 1;
}

#endif
