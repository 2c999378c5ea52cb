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
/*
 * Encodes one packet into buf; returns its length, or 0 if it won't fit.
 * session NULL: none.
 */
size_t msg_encode(void *buf, size_t buflen, uint32_t type,
    const struct uuid *session, uint16_t flags, const void *payload,
    size_t len);
/* The exact payload size of a type, -1 if unknown, -2 if variable. */
long msg_payload_size(uint32_t type);
/* The kind's name (SESSION_INFO), for logs; "unknown" if none. */
const char *msg_name(uint32_t type);
/* Takes the fd out of a received message; the caller owns it. */
int msg_take_fd(struct msg *);

/* Sends one message on a blocking socket; fd (if >= 0) is not closed. */
int msg_send_blocking(int sock, uint32_t type, const struct uuid *session,
    int fd, const void *payload, size_t len);
/* Receives one message, waiting up to timeout_ms; buf holds the packet. */
int msg_recv_blocking(int sock, void *buf, size_t buflen, struct msg *,
    int timeout_ms, char *err, size_t errlen);

/* Wraps a connected socket; takes ownership of fd. */
struct msgchan *msgchan_new(struct event_base *, int fd, msgchan_cb, void *);
/* Closes the channel; safe inside its own callback (the free is deferred). */
void msgchan_free(struct msgchan *);
size_t msgchan_queued(const struct msgchan *);
int msgchan_over_high(const struct msgchan *);
void msgchan_set_marks(struct msgchan *, size_t low, size_t high);
/* Stops or restarts reading (receive-side flow control). */
void msgchan_pause(struct msgchan *);
void msgchan_resume(struct msgchan *);

/*
 * For every kind in common/msgdef.h, three typed functions. session is
 * the session the message concerns, NULL for none.
 *
 * msg_send_NAME(chan, session, [fd,] payload, [data]) queues one; it
 * takes ownership of fd (closed once sent, or at once when refused). A
 * VAR or STR kind sends payload->len bytes of data after the struct;
 * more than MSG_MAX_DATA is refused. An fd may travel with data.
 *
 * msg_send_NAME_blocking(sock, ...) sends one on a blocking socket; fd
 * is not closed.
 *
 * msg_get_NAME(msg, out, [fd,] [data]) copies the payload into out after
 * checking the type, the exact size (a VAR kind: the struct, then
 * exactly its len bytes, at most MSG_MAX_DATA; a STR kind's data must
 * also be none or a string and its NUL, no other NUL), the fd rule and
 * that every string field holds its NUL; -1 if any fails, the message
 * refused as a whole (a peer that sends an unterminated string has a bug, and
 * cutting its text short would hide it). It hands over the fd (the
 * caller owns it; -1 when an OPTIONAL one is absent), and points *data
 * into the message.
 */
#define MSG_FD_PARAM_NEVER
#define MSG_FD_PARAM_ALWAYS   , int fd
#define MSG_FD_PARAM_OPTIONAL , int fd
#define MSG_GET_FD_NEVER
#define MSG_GET_FD_ALWAYS    , int *fd
#define MSG_GET_FD_OPTIONAL  , int *fd
#define MSG_GET_MSG_NEVER    const struct msg
#define MSG_GET_MSG_ALWAYS   struct msg
#define MSG_GET_MSG_OPTIONAL struct msg
#define MSG_DATA_PARAM_FIXED
#define MSG_DATA_PARAM_VAR , const void *data
#define MSG_DATA_PARAM_STR , const char *data
#define MSG_GET_DATA_FIXED
#define MSG_GET_DATA_VAR , const void **data
#define MSG_GET_DATA_STR , const char **data

#define MSGDEF(K, name, num, T, from, to, fd, data, strings) \
	int msg_send_##name(struct msgchan *,                \
	    const struct uuid *session MSG_FD_PARAM_##fd,    \
	    const struct T *p MSG_DATA_PARAM_##data);        \
	int msg_send_##name##_blocking(int sock,             \
	    const struct uuid *session MSG_FD_PARAM_##fd,    \
	    const struct T *p MSG_DATA_PARAM_##data);        \
	int msg_get_##name(MSG_GET_MSG_##fd *,               \
	    struct T *out MSG_GET_FD_##fd MSG_GET_DATA_##data);
#include "common/msgdef.h"
#undef MSGDEF

#endif
