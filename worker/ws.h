/* SPDX-License-Identifier: ISC */
/*
 * A browser's terminal websocket, as the worker and the wall use it
 * (ws.c), and the parser of the JSON control messages it sends
 * (ws_control.c). struct ws is opaque: only ws.c knows its fields; its
 * owner keeps its own list of them and asks through the functions here.
 */
#ifndef ALIA_WS_H
#define ALIA_WS_H

#include <stddef.h>
#include <stdint.h>

#include "common/proto.h"

struct event_base;
struct msg_attach;
struct scrollback;

/* ws_control.c */

enum ws_control_type {
	WS_CONTROL_RESIZE,
	WS_CONTROL_PING,
	WS_CONTROL_CONTROL,
};

/* What a "control" message asks: see worker.c on control with consent. */
enum ws_action {
	WS_ACTION_REQUEST, /* a watcher who may take control asks for it */
	WS_ACTION_GRANT,   /* the session's owner agrees */
	WS_ACTION_DENY,    /* ... or does not */
	WS_ACTION_RETURN,  /* the holder gives it back, or the owner takes it */
};

struct ws_control {
	enum ws_control_type type;
	uint16_t cols, rows;   /* resize */
	enum ws_action action; /* control */
};

/* Parses one text frame from a browser; on refusal err says why. */
int ws_control_parse(
    const void *, size_t, struct ws_control *, char *err, size_t errlen);

/* ws.c */
#define WS_MAX_MESSAGE (64 * 1024)   /* largest message a browser may send */
#define WS_OUT_HIGH    (1024 * 1024) /* queued output that drops a browser */
#define WS_GOING_AWAY  1001          /* alia stops; the session lives on */
#define WS_RESTARTING  1012          /* alia re-executes itself (an upgrade) */

enum ws_event {
	WS_INPUT,  /* binary input from a control browser: data, len */
	WS_RESIZE, /* a control browser's new size: data is a msg_resize */
	WS_ACTION, /* a "control" message: data is an enum ws_action */
	WS_CLOSED, /* gone; freed once the callback returns */
};

struct ws;
typedef void (*ws_cb)(struct ws *, enum ws_event, const void *, size_t, void *);

/* One line of the viewers list: a browser's user and how it is there. */
struct ws_viewer {
	const char *who;
	const char *mode; /* "control", "watch" or "holder" */
};

/*
 * Answers a browser's upgrade and starts speaking websocket on fd (taken
 * even on failure): the 101, hello, then the scrollback.
 */
struct ws *ws_new(struct event_base *, int fd, const struct msg_attach *,
    const char *session, uint16_t cols, uint16_t rows,
    const struct scrollback *, ws_cb, void *);
/*
 * Answers the upgrade on fd (taken) with an error message and close 1008:
 * the browser is not let in. WS_CLOSED follows as for any other.
 */
struct ws *ws_refuse(struct event_base *, int fd, const struct msg_attach *,
    const char *why, ws_cb, void *);
/* Everything queued for the browser, ours and wslay's: its budget. */
size_t ws_queued(const struct ws *);
/* Whether a watcher may ask for control (msg_attach's ATTACH_MAY_ASK). */
int ws_may_ask(const struct ws *);
/* How many times the browser was too slow and its screen re-sent. */
uint64_t ws_resyncs(const struct ws *);
/* The mode name of an attach mode: "control" or "watch". */
const char *ws_mode_name(int mode);
/* Queues terminal output; past WS_OUT_HIGH drops it for a re-sync. */
void ws_output(struct ws *, const void *, size_t);
/* Queues {"type":"viewers","count":n,"who":[{"user","mode"}...]}. */
void ws_viewers(struct ws *, const struct ws_viewer *, size_t n);
/* Queues {"type":type, key:value} (value NULL: null). */
void ws_event(
    struct ws *, const char *type, const char *key, const char *value);
/* Queues {"type":"error","message":message}. */
void ws_error(struct ws *, const char *message);
/* Queues {"type":"error","message":why} and a close 1008 after output. */
void ws_send_off(struct ws *, const char *why);
/* Queues a close code after all output: alia stops, the session not. */
void ws_going_away(struct ws *, int code);
/* Lets a watcher's input through (it holds control), or not. */
void ws_set_holder(struct ws *, int);
/* Queues {"type":"exit","code":N} and a close 1000 after all output. */
/* The session ended: its exit code and, when it was ended, why. */
void ws_exit(struct ws *, int code, const char *reason);
/* Stops or restarts reading the browser's input. */
void ws_pause(struct ws *);
void ws_resume(struct ws *);
/* Closes at once; the WS_CLOSED report follows, the free is deferred. */
void ws_close(struct ws *, const char *reason);
/* Sec-WebSocket-Accept for key into out (29 bytes with the NUL). */
int ws_accept_key(const char *key, char *out, size_t outlen);

#endif
