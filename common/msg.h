/* SPDX-License-Identifier: ISC */
/*
 * The message layer between alia's processes: typed messages (see
 * common/proto.h) over a SOCK_SEQPACKET unix socket, fd passing with
 * SCM_RIGHTS, and high/low marks on the send queue for flow control.
 */
#ifndef ALIA_MSG_H
#define ALIA_MSG_H

#include <stddef.h>
#include <stdint.h>

#include "common/proto.h"

struct event_base;
struct msgchan;

struct msg {
	struct msg_hdr hdr;
	const void *payload;
	size_t len;
	int fd; /* received fd, or -1; closed after the callback unless taken */
};

enum msgchan_event {
	MSGCHAN_MSG,    /* a message arrived */
	MSGCHAN_LOWAT,  /* the send queue drained below the low mark */
	MSGCHAN_CLOSED, /* the peer closed */
	MSGCHAN_ERROR,  /* a bad message or a socket error; channel unusable */
};

typedef void (*msgchan_cb)(
    struct msgchan *, enum msgchan_event, struct msg *, void *);

/* Makes a connected SOCK_SEQPACKET pair, both ends close-on-exec. */
int msg_socketpair(int fds[2]);

/* Checks and splits one packet; fills err on refusal. */
int msg_decode(
    const void *buf, size_t len, struct msg *, char *err, size_t errlen);
/* Encodes one packet into buf; returns its length, or 0 if it won't fit. */
size_t msg_encode(void *buf, size_t buflen, uint32_t type, uint64_t id,
    uint16_t flags, const void *payload, size_t len);
/* The exact payload size of a type, -1 if unknown, -2 if variable. */
long msg_payload_size(uint32_t type);
/* Copies the payload into out after checking type and exact size. */
int msg_get(const struct msg *, uint32_t type, void *out, size_t size);
/* Takes the fd out of a received message; the caller owns it. */
int msg_take_fd(struct msg *);

/* Sends one message on a blocking socket; fd (if >= 0) is not closed. */
int msg_send_blocking(int sock, uint32_t type, uint64_t id, int fd,
    const void *payload, size_t len);
/* Receives one message, waiting up to timeout_ms; buf holds the packet. */
int msg_recv_blocking(int sock, void *buf, size_t buflen, struct msg *,
    int timeout_ms, char *err, size_t errlen);

/* Wraps a connected socket; takes ownership of fd. */
struct msgchan *msgchan_new(struct event_base *, int fd, msgchan_cb, void *);
/* Closes the channel; safe inside its own callback (the free is deferred). */
void msgchan_free(struct msgchan *);
/* Queues a message; takes ownership of fd (closed once sent), -1 for none. */
int msgchan_send(struct msgchan *, uint32_t type, uint64_t id, int fd,
    const void *payload, size_t len);
size_t msgchan_queued(const struct msgchan *);
int msgchan_over_high(const struct msgchan *);
void msgchan_set_marks(struct msgchan *, size_t low, size_t high);
/* Stops or restarts reading (receive-side flow control). */
void msgchan_pause(struct msgchan *);
void msgchan_resume(struct msgchan *);

/* An event and its data (e->len bytes); data is copied. */
int msg_send_event(
    struct msgchan *, uint64_t id, const struct msg_event *, const void *data);
/* Checks an event's lengths; *data points into the message. */
int msg_recv_event(const struct msg *, struct msg_event *, const void **);

/* Typed pairs for the control and config blocks. */
int msg_send_ready(struct msgchan *, const char *role);
int msg_recv_ready(const struct msg *, struct msg_ready *);
int msg_send_shutdown(struct msgchan *, int grace_ms);
int msg_recv_shutdown(const struct msg *, struct msg_shutdown *);

#endif
