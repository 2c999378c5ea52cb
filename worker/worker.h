/* SPDX-License-Identifier: ISC */
/*
 * The worker side: one process per terminal session, owning the
 * container's attach stream and every websocket attached to the session.
 * One header for the side; each file family has its own section.
 */
#ifndef ALIA_WORKER_H
#define ALIA_WORKER_H

#include <stddef.h>
#include <stdint.h>

/* worker.c */
/* The worker role: runs one session until it ends. */
int worker_main(int verbose);

#endif
