/* SPDX-License-Identifier: ISC */
/*
 * The master side: the supervisor and the service roles it runs (front,
 * and later broker and recorder). One header for the whole side; each
 * file family has its own section.
 */
#ifndef ALIA_MASTER_H
#define ALIA_MASTER_H

#include <sys/types.h>
#include <stddef.h>
#include <stdint.h>

struct event_base;

/* master.c */

/* pg.c */

/* front.c */

/* front_http.c */

/* docker.c */

#endif
