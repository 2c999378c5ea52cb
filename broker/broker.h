/* SPDX-License-Identifier: ISC */
/*
 * The broker: the hub between the session workers and the recorder.
 */
#ifndef ALIA_BROKER_H
#define ALIA_BROKER_H

#include <sys/types.h>
#include <stddef.h>
#include <stdint.h>

#include "common/proto.h"

struct event_base;
struct config;

/* broker.c */
/* The broker role: the hub between workers and the recorder. */
int broker_main(int verbose);

#endif
