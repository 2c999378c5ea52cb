/* SPDX-License-Identifier: ISC */
/*
 * What the benchmarks share: order statistics of a sample and the two API
 * calls that make and end an alia session for a wsclient agent.
 */
#ifndef ALIA_BENCH_COMMON_H
#define ALIA_BENCH_COMMON_H

#include <stddef.h>

struct wsc_agent;

/* Sorts v and returns its median. */
double common_median(double *v, int n);
/* Sorts v and returns the value at fraction p (0..1) of the way. */
double common_percentile(double *v, int n, double p);

/*
 * POST /api/sessions for an 80x24 terminal: its id and websocket path go
 * to id and ws. The HTTP status (201 on success; 0 when a 201 lacked
 * them), or -1 when no answer came; every failure is told on stderr.
 */
int common_session_create(
    struct wsc_agent *, char *id, size_t idlen, char *ws, size_t wslen);
/* DELETE /api/sessions/ID: the HTTP status, or -1. */
int common_session_delete(struct wsc_agent *, const char *id);

#endif
