/* SPDX-License-Identifier: ISC */
/*
 * Encoding, decoding and transport of inter-process messages. A packet is
 * a struct msg_hdr and its payload, sent with one sendmsg(2) on a
 * SOCK_SEQPACKET socket so that boundaries and any passed fd stay with
 * their message. Decoding refuses a wrong version, an unknown type, a
 * payload whose size is not exactly its type's, an fd where none belongs
 * and a missing one where it must travel. An fd may travel with data: the
 * packet carries both, and SOCK_SEQPACKET keeps them together.
 *
 * The kinds come from common/msgdef.h, read here three times: for each
 * kind a function that checks its string fields, a row of the table the
 * decoder and the getters check against, and the typed senders and
 * getters themselves, thin wrappers around msgchan_put, msg_put_blocking
 * and msg_check.
 *
 * A channel queues outgoing packets and writes them when the socket is
 * writable. Queued bytes are compared with a high and a low mark: the
 * owner stops producing while msgchan_over_high() holds and hears
 * MSGCHAN_LOWAT once the queue has drained below the low mark.
 */
#include <sys/queue.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>

#include "common/config.h"
#include "common/log.h"
#include "common/msg.h"
#include "common/xmalloc.h"

#define MSG_FD_NEVER    0
#define MSG_FD_ALWAYS   1
#define MSG_FD_OPTIONAL 2
#define MSG_DATA_FIXED  0
#define MSG_DATA_VAR    1
#define MSG_DATA_STR    2 /* VAR, and the data is a string and its NUL */

struct msg_kind {
	uint32_t type;
	const char *name;
	size_t size;   /* the payload struct's */
	int fd;        /* MSG_FD_* */
	int var;       /* MSG_DATA_*: the struct's len bytes of data follow */
	size_t lenoff; /* var: where the struct's uint32_t len is */
	int (*strings)(const void *); /* -1: a string field lacks its NUL */
};

/* Whether a string field of len bytes holds its NUL. */
static int
msg_terminated(const char *s, size_t len)
{
	return memchr(s, '\0', len) != NULL;
}

#define MSG_STR(f)                               \
	if (!msg_terminated(p->f, sizeof(p->f))) \
		return -1;
#define MSG_STRV(f)                                            \
	for (i = 0; i < sizeof(p->f) / sizeof(p->f[0]); i++)   \
		if (!msg_terminated(p->f[i], sizeof(p->f[i]))) \
			return -1;
#define MSGDEF(K, name, num, T, from, to, fd, data, strings) \
	static int msg_strings_##name(const void *v)         \
	{                                                    \
		const struct T *p = v;                       \
		size_t i = 0;                                \
                                                             \
		(void)p;                                     \
		(void)i;                                     \
		strings return 0;                            \
	}
#include "common/msgdef.h"
#undef MSGDEF
#undef MSG_STR
#undef MSG_STRV

/*
 * Every payload fits in a packet, with MSG_MAX_DATA after a VAR (or STR)
 * kind's struct, which says how much data follows.
 */
#define MSG_ASSERT_FIXED(T) \
	_Static_assert(sizeof(struct T) <= MSG_MAX_PAYLOAD, #T ": too large");
#define MSG_ASSERT_VAR(T)                                                  \
	_Static_assert(sizeof(((struct T *)0)->len) == sizeof(uint32_t),   \
	    #T ": the length of the data that follows");                   \
	_Static_assert(sizeof(struct T) <= MSG_MAX_PAYLOAD - MSG_MAX_DATA, \
	    #T ": too large");
#define MSG_ASSERT_STR(T) MSG_ASSERT_VAR(T)
#define MSGDEF(K, name, num, T, from, to, fd, data, strings) \
	MSG_ASSERT_##data(T)
#include "common/msgdef.h"
#undef MSGDEF

enum msg_index {
#define MSGDEF(K, ...) MSG_I_##K,
#include "common/msgdef.h"
#undef MSGDEF
	MSG_NKINDS
};

#define MSG_LENOFF_FIXED(T) 0
#define MSG_LENOFF_VAR(T)   offsetof(struct T, len)
#define MSG_LENOFF_STR(T)   offsetof(struct T, len)
static const struct msg_kind msg_kinds[MSG_NKINDS] = {
#define MSGDEF(K, name, num, T, from, to, fd, data, strings)       \
	[MSG_I_##K] = {MSG_##K, #K, sizeof(struct T), MSG_FD_##fd, \
	    MSG_DATA_##data, MSG_LENOFF_##data(T), msg_strings_##name},
#include "common/msgdef.h"
#undef MSGDEF
};

struct msgq {
	TAILQ_ENTRY(msgq) entry;
	int fd;
	size_t len;
	unsigned char data[];
};
TAILQ_HEAD(msgq_list, msgq);

struct msgchan {
	int fd;
	struct event *ev_read;
	struct event *ev_write;
	struct msgq_list queue;
	size_t queued;
	size_t low, high;
	int above; /* went over high since the last LOWAT */
	int paused;
	int in_cb;
	int dead;
	msgchan_cb cb;
	void *arg;
	unsigned char *rbuf;
};

static int
msg_err(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (err != NULL && errlen > 0) {
		va_start(ap, fmt);
		vsnprintf(err, errlen, fmt, ap);
		va_end(ap);
	}
	return -1;
}

static const struct msg_kind *
msg_kind(uint32_t type)
{
	switch (type) {
#define MSGDEF(K, ...) \
	case MSG_##K:  \
		return &msg_kinds[MSG_I_##K];
#include "common/msgdef.h"
#undef MSGDEF
	}
	return NULL;
}

long
msg_payload_size(uint32_t type)
{
	const struct msg_kind *k;

	if ((k = msg_kind(type)) == NULL)
		return -1;
	return k->var ? -2 : (long)k->size;
}

const char *
msg_name(uint32_t type)
{
	const struct msg_kind *k;

	return (k = msg_kind(type)) != NULL ? k->name : "unknown";
}

int
msg_socketpair(int fds[2])
{
	return socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, fds);
}

/* Whether a payload of len bytes has the size kind k says. */
static int
msg_size_ok(const struct msg_kind *k, size_t len)
{
	if (k->var)
		return len >= k->size && len - k->size <= MSG_MAX_DATA;
	return len == k->size;
}

int
msg_decode(const void *buf, size_t len, struct msg *m, char *err, size_t errlen)
{
	const struct msg_kind *k;
	int fd;

	memset(m, 0, sizeof(*m));
	m->fd = -1;
	if (len < sizeof(struct msg_hdr))
		return msg_err(err, errlen, "truncated header: %zu bytes", len);
	memcpy(&m->hdr, buf, sizeof(m->hdr));
	if (m->hdr.version != PROTO_VERSION)
		return msg_err(err, errlen, "protocol version %u, expected %u",
		    m->hdr.version, PROTO_VERSION);
	if ((k = msg_kind(m->hdr.type)) == NULL)
		return msg_err(
		    err, errlen, "unknown message type %u", m->hdr.type);
	if (m->hdr.len != len - sizeof(struct msg_hdr))
		return msg_err(err, errlen,
		    "%s: header says %u payload bytes, packet has %zu", k->name,
		    m->hdr.len, len - sizeof(struct msg_hdr));
	if (!msg_size_ok(k, m->hdr.len))
		return msg_err(err, errlen,
		    "%s: payload of %u bytes, expected %s%zu", k->name,
		    m->hdr.len, k->var ? "at least " : "", k->size);
	if ((m->hdr.flags & ~MSG_F_FD) != 0)
		return msg_err(err, errlen, "%s: unknown flags %#x", k->name,
		    m->hdr.flags);
	fd = (m->hdr.flags & MSG_F_FD) != 0;
	if ((k->fd == MSG_FD_NEVER && fd) || (k->fd == MSG_FD_ALWAYS && !fd))
		return msg_err(err, errlen, "%s: fd flag %s", k->name,
		    fd ? "set where no fd belongs" : "missing");
	m->payload = (const unsigned char *)buf + sizeof(struct msg_hdr);
	m->len = m->hdr.len;
	return 0;
}

/* Encodes a packet of the struct p and data after it; 0: won't fit. */
static size_t
msg_encode_parts(void *buf, size_t buflen, uint32_t type,
    const struct uuid *session, uint16_t flags, const void *p, size_t size,
    const void *data, size_t dlen)
{
	unsigned char *out = buf;
	struct msg_hdr hdr;

	if (size > MSG_MAX_PAYLOAD || dlen > MSG_MAX_DATA ||
	    dlen > MSG_MAX_PAYLOAD - size || buflen < sizeof(hdr) + size + dlen)
		return 0;
	memset(&hdr, 0, sizeof(hdr));
	hdr.version = PROTO_VERSION;
	hdr.flags = flags;
	hdr.type = type;
	hdr.len = (uint32_t)(size + dlen);
	if (session != NULL)
		hdr.session = *session;
	memcpy(out, &hdr, sizeof(hdr));
	if (size > 0)
		memcpy(out + sizeof(hdr), p, size);
	if (dlen > 0)
		memcpy(out + sizeof(hdr) + size, data, dlen);
	return sizeof(hdr) + size + dlen;
}

size_t
msg_encode(void *buf, size_t buflen, uint32_t type, const struct uuid *session,
    uint16_t flags, const void *payload, size_t len)
{
	return msg_encode_parts(
	    buf, buflen, type, session, flags, payload, len, NULL, 0);
}

/* Whether len bytes of a STR kind's data are none, or a string and its NUL. */
static int
msg_data_string(const unsigned char *data, size_t len)
{
	return len == 0 ||
	    (data[len - 1] == '\0' && memchr(data, '\0', len - 1) == NULL);
}

/*
 * The getters' one check: type, size, fd rule, the data's declared
 * length (and for a STR kind its string) and every string field;
 * copies the struct into out.
 */
static int
msg_check(const struct msg *m, uint32_t type, void *out, size_t size,
    const void **data)
{
	const struct msg_kind *k = msg_kind(type);
	uint32_t dlen;

	if (k == NULL || m->hdr.type != type || k->size != size ||
	    m->payload == NULL || !msg_size_ok(k, m->len))
		return -1;
	if ((k->fd == MSG_FD_NEVER && m->fd != -1) ||
	    (k->fd == MSG_FD_ALWAYS && m->fd == -1))
		return -1;
	memcpy(out, m->payload, size);
	if (k->var) {
		memcpy(&dlen, (unsigned char *)out + k->lenoff, sizeof(dlen));
		if (dlen != m->len - size)
			return -1;
		*data = (const unsigned char *)m->payload + size;
		if (k->var == MSG_DATA_STR && !msg_data_string(*data, dlen))
			return -1;
	}
	return k->strings(out);
}

int
msg_take_fd(struct msg *m)
{
	int fd = m->fd;

	m->fd = -1;
	return fd;
}

/* Sends one packet, with fd as SCM_RIGHTS when it is >= 0. */
static ssize_t
msg_sendpacket(int sock, const void *buf, size_t len, int fd)
{
	union {
		struct cmsghdr hdr;
		char buf[CMSG_SPACE(sizeof(int))];
	} cm;
	struct msghdr mh;
	struct iovec iov;
	struct cmsghdr *c;

	memset(&mh, 0, sizeof(mh));
	iov.iov_base = (void *)buf;
	iov.iov_len = len;
	mh.msg_iov = &iov;
	mh.msg_iovlen = 1;
	if (fd >= 0) {
		memset(&cm, 0, sizeof(cm));
		mh.msg_control = cm.buf;
		mh.msg_controllen = sizeof(cm.buf);
		c = CMSG_FIRSTHDR(&mh);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(sizeof(int));
		memcpy(CMSG_DATA(c), &fd, sizeof(int));
	}
	return sendmsg(sock, &mh, MSG_NOSIGNAL);
}

/*
 * Receives one packet into buf. Returns its length, 0 at EOF, -1 with errno
 * on a socket error, or -2 when the packet was refused (err says why).
 * A received fd lands in *fd, close-on-exec.
 */
static ssize_t
msg_recvpacket(
    int sock, void *buf, size_t buflen, int *fd, char *err, size_t errlen)
{
	union {
		struct cmsghdr hdr;
		char buf[CMSG_SPACE(sizeof(int) * 4)];
	} cm;
	struct msghdr mh;
	struct iovec iov;
	struct cmsghdr *c;
	ssize_t n;
	int got, i, extra;

	*fd = -1;
	memset(&mh, 0, sizeof(mh));
	iov.iov_base = buf;
	iov.iov_len = buflen;
	mh.msg_iov = &iov;
	mh.msg_iovlen = 1;
	mh.msg_control = cm.buf;
	mh.msg_controllen = sizeof(cm.buf);
	if ((n = recvmsg(sock, &mh, MSG_CMSG_CLOEXEC)) <= 0)
		return n;
	extra = 0;
	for (c = CMSG_FIRSTHDR(&mh); c != NULL; c = CMSG_NXTHDR(&mh, c)) {
		if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
			continue;
		for (i = 0;
		     (size_t)i < (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		     i++) {
			memcpy(
			    &got, CMSG_DATA(c) + i * sizeof(int), sizeof(int));
			if (*fd == -1)
				*fd = got;
			else {
				close(got);
				extra = 1;
			}
		}
	}
	if (extra || (mh.msg_flags & (MSG_TRUNC | MSG_CTRUNC)) != 0) {
		if (*fd != -1)
			close(*fd);
		*fd = -1;
		msg_err(err, errlen, "%s",
		    extra ? "more than one fd"
		        : (mh.msg_flags & MSG_TRUNC)
		        ? "oversized packet"
		        : "truncated control data");
		return -2;
	}
	return n;
}

/* Sends one packet on a blocking socket; fd (if >= 0) is not closed. */
static int
msg_put_blocking(int sock, uint32_t type, const struct uuid *session, int fd,
    const void *p, size_t size, const void *data, size_t dlen)
{
	unsigned char *buf;
	size_t n, len = sizeof(struct msg_hdr) + size + dlen;
	ssize_t r;

	buf = xmalloc(len);
	n = msg_encode_parts(buf, len, type, session, fd >= 0 ? MSG_F_FD : 0, p,
	    size, data, dlen);
	if (n == 0) {
		free(buf);
		errno = EMSGSIZE;
		return -1;
	}
	do
		r = msg_sendpacket(sock, buf, n, fd);
	while (r == -1 && errno == EINTR);
	free(buf);
	return r == (ssize_t)n ? 0 : -1;
}

int
msg_send_blocking(int sock, uint32_t type, const struct uuid *session, int fd,
    const void *payload, size_t len)
{
	return msg_put_blocking(sock, type, session, fd, payload, len, NULL, 0);
}

int
msg_recv_blocking(int sock, void *buf, size_t buflen, struct msg *m,
    int timeout_ms, char *err, size_t errlen)
{
	struct pollfd pfd = {.fd = sock, .events = POLLIN};
	ssize_t n;
	int fd, r;

	do
		r = poll(&pfd, 1, timeout_ms);
	while (r == -1 && errno == EINTR);
	if (r == 0)
		return msg_err(err, errlen, "timed out");
	if (r == -1)
		return msg_err(err, errlen, "poll: %s", strerror(errno));
	n = msg_recvpacket(sock, buf, buflen, &fd, err, errlen);
	if (n == 0)
		return msg_err(err, errlen, "peer closed");
	if (n == -1)
		return msg_err(err, errlen, "recvmsg: %s", strerror(errno));
	if (n == -2)
		return -1;
	if (msg_decode(buf, (size_t)n, m, err, errlen) == -1) {
		if (fd != -1)
			close(fd);
		return -1;
	}
	if (((m->hdr.flags & MSG_F_FD) != 0) != (fd != -1)) {
		if (fd != -1)
			close(fd);
		return msg_err(err, errlen, "%s: fd %s", msg_name(m->hdr.type),
		    fd == -1 ? "missing" : "not flagged");
	}
	m->fd = fd;
	return 0;
}

static void msgchan_write_cb(int, short, void *);
static void msgchan_read_cb(int, short, void *);

struct msgchan *
msgchan_new(struct event_base *base, int fd, msgchan_cb cb, void *arg)
{
	struct msgchan *ch;
	int fl;

	if ((fl = fcntl(fd, F_GETFL)) == -1 ||
	    fcntl(fd, F_SETFL, fl | O_NONBLOCK) == -1)
		fatal("%s: fcntl", __func__);
	ch = xcalloc(1, sizeof(*ch));
	ch->fd = fd;
	ch->cb = cb;
	ch->arg = arg;
	ch->low = 256 * 1024;
	ch->high = 1024 * 1024;
	TAILQ_INIT(&ch->queue);
	ch->rbuf = xmalloc(MSG_MAX_PACKET + 1);
	ch->ev_read =
	    event_new(base, fd, EV_READ | EV_PERSIST, msgchan_read_cb, ch);
	ch->ev_write =
	    event_new(base, fd, EV_WRITE | EV_PERSIST, msgchan_write_cb, ch);
	if (ch->ev_read == NULL || ch->ev_write == NULL)
		fatalx("%s: event_new", __func__);
	event_add(ch->ev_read, NULL);
	return ch;
}

static void
msgchan_destroy(struct msgchan *ch)
{
	struct msgq *q;

	while ((q = TAILQ_FIRST(&ch->queue)) != NULL) {
		TAILQ_REMOVE(&ch->queue, q, entry);
		if (q->fd != -1)
			close(q->fd);
		free(q);
	}
	event_free(ch->ev_read);
	event_free(ch->ev_write);
	close(ch->fd);
	free(ch->rbuf);
	free(ch);
}

void
msgchan_free(struct msgchan *ch)
{
	if (ch == NULL)
		return;
	if (ch->in_cb) {
		ch->dead = 1;
		event_del(ch->ev_read);
		event_del(ch->ev_write);
		return;
	}
	msgchan_destroy(ch);
}

/* Calls the owner; returns -1 when the owner freed the channel. */
static int
msgchan_report(struct msgchan *ch, enum msgchan_event ev, struct msg *m)
{
	ch->in_cb++;
	ch->cb(ch, ev, m, ch->arg);
	ch->in_cb--;
	if (ch->dead && ch->in_cb == 0) {
		msgchan_destroy(ch);
		return -1;
	}
	return ch->dead ? -1 : 0;
}

/*
 * Queues a packet of the struct p and data after it; takes ownership of
 * fd (closed once sent), -1 for none.
 */
static int
msgchan_put(struct msgchan *ch, uint32_t type, const struct uuid *session,
    int fd, const void *p, size_t size, const void *data, size_t dlen)
{
	struct msgq *q;
	size_t len = sizeof(struct msg_hdr) + size + dlen;

	if (ch->dead || size + dlen > MSG_MAX_PAYLOAD || dlen > MSG_MAX_DATA) {
		if (fd != -1)
			close(fd);
		return -1;
	}
	q = xmalloc(sizeof(*q) + len);
	q->fd = fd;
	q->len = msg_encode_parts(q->data, len, type, session,
	    fd >= 0 ? MSG_F_FD : 0, p, size, data, dlen);
	TAILQ_INSERT_TAIL(&ch->queue, q, entry);
	ch->queued += q->len;
	if (ch->queued > ch->high)
		ch->above = 1;
	event_add(ch->ev_write, NULL);
	return 0;
}

size_t
msgchan_queued(const struct msgchan *ch)
{
	return ch->queued;
}

int
msgchan_over_high(const struct msgchan *ch)
{
	return ch->queued > ch->high;
}

void
msgchan_set_marks(struct msgchan *ch, size_t low, size_t high)
{
	ch->low = low;
	ch->high = high;
}

void
msgchan_pause(struct msgchan *ch)
{
	if (!ch->paused && !ch->dead)
		event_del(ch->ev_read);
	ch->paused = 1;
}

void
msgchan_resume(struct msgchan *ch)
{
	if (ch->paused && !ch->dead)
		event_add(ch->ev_read, NULL);
	ch->paused = 0;
}

static void
msgchan_write_cb(int fd, short what, void *arg)
{
	struct msgchan *ch = arg;
	struct msgq *q;
	ssize_t n;

	while ((q = TAILQ_FIRST(&ch->queue)) != NULL) {
		n = msg_sendpacket(fd, q->data, q->len, q->fd);
		if (n == -1) {
			if (errno == EAGAIN || errno == EINTR ||
			    errno == ENOBUFS)
				return;
			if (errno != EPIPE && errno != ECONNRESET)
				log_warn("%s: sendmsg", __func__);
			event_del(ch->ev_write);

			msgchan_report(ch,
			    errno == EPIPE || errno == ECONNRESET
			        ? MSGCHAN_CLOSED
			        : MSGCHAN_ERROR,
			    NULL);
			return;
		}
		TAILQ_REMOVE(&ch->queue, q, entry);
		ch->queued -= q->len;
		if (q->fd != -1)
			close(q->fd);
		free(q);
	}
	event_del(ch->ev_write);
	if (ch->above && ch->queued <= ch->low) {
		ch->above = 0;
		msgchan_report(ch, MSGCHAN_LOWAT, NULL);
	}
}

static void
msgchan_read_cb(int fd, short what, void *arg)
{
	struct msgchan *ch = arg;
	struct msg m;
	char err[256];
	ssize_t n;
	int i, rfd;

	for (i = 0; i < 64 && !ch->paused; i++) {
		err[0] = '\0';
		n = msg_recvpacket(
		    fd, ch->rbuf, MSG_MAX_PACKET + 1, &rfd, err, sizeof(err));
		if (n == -1 && (errno == EAGAIN || errno == EINTR))
			return;
		if (n == 0 || (n == -1 && errno == ECONNRESET)) {
			event_del(ch->ev_read);
			msgchan_report(ch, MSGCHAN_CLOSED, NULL);
			return;
		}
		if (n == -1) {
			log_warn("%s: recvmsg", __func__);
			event_del(ch->ev_read);
			msgchan_report(ch, MSGCHAN_ERROR, NULL);
			return;
		}
		if (n > 0 &&
		    msg_decode(ch->rbuf, (size_t)n, &m, err, sizeof(err)) ==
		        0 &&
		    ((m.hdr.flags & MSG_F_FD) != 0) == (rfd != -1)) {
			m.fd = rfd;
			if (msgchan_report(ch, MSGCHAN_MSG, &m) == -1) {
				if (m.fd != -1)
					close(m.fd);
				return;
			}
			if (m.fd != -1)
				close(m.fd);
			continue;
		}
		if (rfd != -1)
			close(rfd);
		log_warnx("%s: refused message: %s", __func__,
		    n > 0 ? (err[0] ? err : "fd missing or not flagged") : err);
		event_del(ch->ev_read);
		msgchan_report(ch, MSGCHAN_ERROR, NULL);
		return;
	}
}

#define MSG_FD_ARG_NEVER       -1
#define MSG_FD_ARG_ALWAYS      fd
#define MSG_FD_ARG_OPTIONAL    fd
#define MSG_DATA_ARG_FIXED     NULL, 0
#define MSG_DATA_ARG_VAR       data, p->len
#define MSG_DATA_ARG_STR       data, p->len
#define MSG_GET_DATA_ARG_FIXED NULL
#define MSG_GET_DATA_ARG_VAR   data
#define MSG_GET_DATA_ARG_STR   (const void **)data
#define MSG_GET_TAKE_NEVER
#define MSG_GET_TAKE_ALWAYS   *fd = msg_take_fd(m);
#define MSG_GET_TAKE_OPTIONAL *fd = msg_take_fd(m);

#define MSGDEF(K, name, num, T, from, to, fd, data, strings)                 \
	int msg_send_##name(struct msgchan *ch,                              \
	    const struct uuid *session MSG_FD_PARAM_##fd,                    \
	    const struct T *p MSG_DATA_PARAM_##data)                         \
	{                                                                    \
		return msgchan_put(ch, MSG_##K, session, MSG_FD_ARG_##fd, p, \
		    sizeof(*p), MSG_DATA_ARG_##data);                        \
	}                                                                    \
	int msg_send_##name##_blocking(int sock,                             \
	    const struct uuid *session MSG_FD_PARAM_##fd,                    \
	    const struct T *p MSG_DATA_PARAM_##data)                         \
	{                                                                    \
		return msg_put_blocking(sock, MSG_##K, session,              \
		    MSG_FD_ARG_##fd, p, sizeof(*p), MSG_DATA_ARG_##data);    \
	}                                                                    \
	int msg_get_##name(MSG_GET_MSG_##fd *m,                              \
	    struct T *out MSG_GET_FD_##fd MSG_GET_DATA_##data)               \
	{                                                                    \
		if (msg_check(m, MSG_##K, out, sizeof(*out),                 \
		        MSG_GET_DATA_ARG_##data) == -1)                      \
			return -1;                                           \
		MSG_GET_TAKE_##fd return 0;                                  \
	}
#include "common/msgdef.h"
#undef MSGDEF
