/* SPDX-License-Identifier: ISC */
/*
 * What the benchmarks share: order statistics of a sample, the two API
 * calls that make and end an alia session for a wsclient agent, and the
 * raw Docker attach stream alia is measured against.
 */
#ifndef ALIA_BENCH_COMMON_H
#define ALIA_BENCH_COMMON_H

#include <stddef.h>

struct wsc;
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

/*
 * Takes the Docker socket from DOCKER_HOST (unix://), the image from
 * ALIA_IMAGE and the io.alia.owner label of raw containers from ALIA_NODE.
 */
void common_docker_env(void);
/*
 * Creates a container with the body alia uses (same image, user and
 * limits), attaches to it with Upgrade: tcp on w (initialised here; the
 * bytes of the terminal follow on w->fd, non-blocking) and starts it; its
 * id goes to id ("" when none was made). 0, or -1 told on stderr; either
 * way the caller frees w and removes the container.
 */
int common_raw_open(struct wsc *w, char *id, size_t idlen);
/* Removes container id ("": none) by force. */
void common_raw_remove(const char *id);

#endif
