/* SPDX-License-Identifier: ISC */
/*
 * Encoding, decoding and transport of inter-process messages. A packet is
 * a struct msg_hdr and its payload, sent with one sendmsg(2) on a
 * SOCK_SEQPACKET socket so that boundaries and any passed fd stay with
 * their message. Decoding refuses a wrong version, an unknown type, a
 * payload whose size is not exactly its type's, an fd where none belongs
 * and a missing one where it must travel.
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
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>

#include "common/config.h"
#include "common/log.h"
#include "common/msg.h"
#include "common/xmalloc.h"

#define MSG_VARIABLE -2

struct msg_kind {
	uint32_t type;
	long size; /* exact payload size, or MSG_VARIABLE */
	int fd;    /* 1: an fd must travel, 0: none may */
};

static const struct msg_kind msg_kinds[] = {
    {MSG_READY, sizeof(struct msg_ready), 0},
    {MSG_SHUTDOWN, sizeof(struct msg_shutdown), 0},
    {MSG_PING, sizeof(struct msg_ping), 0},
    {MSG_PONG, sizeof(struct msg_ping), 0},
    {MSG_CONFIG, sizeof(struct config), 0},
    {MSG_LISTEN_FD, sizeof(struct msg_listen_fd), 1},
    {MSG_SESSION_CREATE, sizeof(struct msg_session_req), 0},
    {MSG_SESSION_GET, sizeof(struct msg_session_req), 0},
    {MSG_SESSION_LIST, sizeof(struct msg_session_req), 0},
    {MSG_SESSION_DELETE, sizeof(struct msg_session_req), 0},
    {MSG_SESSION_INFO, sizeof(struct msg_session_info), 0},
    {MSG_SESSION_ATTACH, sizeof(struct msg_attach), 1},
    {MSG_METRICS_GET, sizeof(struct msg_metrics), 0},
    {MSG_METRICS, sizeof(struct msg_metrics), 0},
    {MSG_WORKER_START, sizeof(struct msg_worker_start), 1},
    {MSG_WORKER_BROWSER, sizeof(struct msg_attach), 1},
    {MSG_WORKER_RESIZE, sizeof(struct msg_resize), 0},
    {MSG_WORKER_EXITED, sizeof(struct msg_exit), 0},
    {MSG_WORKER_END, sizeof(struct msg_end), 0},
    {MSG_WORKER_STATS, sizeof(struct msg_worker_stats), 0},
    {MSG_WORKER_BROKER, sizeof(struct msg_peer), 1},
    {MSG_WORKER_FD, sizeof(struct msg_worker_fd), 1},
    {MSG_WORKER_AUDIT, sizeof(struct msg_audit), 0},
    {MSG_WALL_START, sizeof(struct msg_wall), 1},
    {MSG_SESSION_WALL, sizeof(struct msg_wall), 1},
    {MSG_SESSION_KICK, sizeof(struct msg_session_req), 0},
    {MSG_SIGNOUT, sizeof(struct msg_signout), 0},
    {MSG_WORKER_KICK, sizeof(struct msg_kick), 0},
    {MSG_WORKER_SCREEN, MSG_VARIABLE, 0},
    {MSG_WORKER_GAP, MSG_VARIABLE, 0},
    {MSG_WORKER_DETACH, sizeof(struct msg_detach), 0},
    {MSG_VIEW_SUBSCRIBE, sizeof(struct msg_view_sub), 0},
    {MSG_EVENT, MSG_VARIABLE, 0},
    {MSG_ACK, sizeof(struct msg_ack), 0},
    {MSG_RECORD_PAUSE, sizeof(struct msg_record_pause), 0},
    {MSG_BROKER_PEER, sizeof(struct msg_peer), 1},
    {MSG_RECORDER_PEER, sizeof(struct msg_peer), 1},
    {MSG_RESEND, sizeof(struct msg_flow), 0},
    {MSG_FLOW_PAUSE, sizeof(struct msg_flow), 0},
    {MSG_FLOW_RESUME, sizeof(struct msg_flow), 0},
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
	size_t i;

	for (i = 0; i < sizeof(msg_kinds) / sizeof(msg_kinds[0]); i++)
		if (msg_kinds[i].type == type)
			return &msg_kinds[i];
	return NULL;
}

long
msg_payload_size(uint32_t type)
{
	const struct msg_kind *k;

	if ((k = msg_kind(type)) == NULL)
		return -1;
	return k->size;
}

int
msg_socketpair(int fds[2])
{
	return socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, fds);
}

int
msg_decode(const void *buf, size_t len, struct msg *m, char *err, size_t errlen)
{
	const struct msg_kind *k;

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
		    "type %u: header says %u payload bytes, packet has %zu",
		    m->hdr.type, m->hdr.len, len - sizeof(struct msg_hdr));
	if (m->hdr.len > MSG_MAX_PAYLOAD)
		return msg_err(err, errlen, "type %u: payload of %u bytes",
		    m->hdr.type, m->hdr.len);
	if (k->size == MSG_VARIABLE && m->hdr.type == MSG_EVENT &&
	    (m->hdr.len < sizeof(struct msg_event) ||
	        m->hdr.len - sizeof(struct msg_event) > MSG_MAX_DATA))
		return msg_err(
		    err, errlen, "event: payload of %u bytes", m->hdr.len);
	if (k->size == MSG_VARIABLE && m->hdr.type == MSG_WORKER_SCREEN &&
	    (m->hdr.len < sizeof(struct msg_screen) ||
	        m->hdr.len - sizeof(struct msg_screen) > MSG_MAX_DATA))
		return msg_err(
		    err, errlen, "screen: payload of %u bytes", m->hdr.len);
	if (k->size == MSG_VARIABLE && m->hdr.type == MSG_WORKER_GAP &&
	    (m->hdr.len < sizeof(struct msg_gap) ||
	        m->hdr.len - sizeof(struct msg_gap) > MSG_MAX_DATA))
		return msg_err(
		    err, errlen, "gap: payload of %u bytes", m->hdr.len);
	if (k->size != MSG_VARIABLE && (long)m->hdr.len != k->size)
		return msg_err(err, errlen,
		    "type %u: payload of %u bytes, expected %ld", m->hdr.type,
		    m->hdr.len, k->size);
	if ((m->hdr.flags & ~MSG_F_FD) != 0)
		return msg_err(err, errlen, "type %u: unknown flags %#x",
		    m->hdr.type, m->hdr.flags);
	if (((m->hdr.flags & MSG_F_FD) != 0) != k->fd)
		return msg_err(err, errlen, "type %u: fd flag %s", m->hdr.type,
		    k->fd ? "missing" : "set where no fd belongs");
	m->payload = (const unsigned char *)buf + sizeof(struct msg_hdr);
	m->len = m->hdr.len;
	return 0;
}

size_t
msg_encode(void *buf, size_t buflen, uint32_t type, uint64_t id, uint16_t flags,
    const void *payload, size_t len)
{
	struct msg_hdr hdr;

	if (len > MSG_MAX_PAYLOAD || buflen < sizeof(hdr) + len)
		return 0;
	memset(&hdr, 0, sizeof(hdr));
	hdr.version = PROTO_VERSION;
	hdr.flags = flags;
	hdr.type = type;
	hdr.len = (uint32_t)len;
	hdr.id = id;
	memcpy(buf, &hdr, sizeof(hdr));
	if (len > 0)
		memcpy((unsigned char *)buf + sizeof(hdr), payload, len);
	return sizeof(hdr) + len;
}

int
msg_get(const struct msg *m, uint32_t type, void *out, size_t size)
{
	if (m->hdr.type != type || m->len != size)
		return -1;
	memcpy(out, m->payload, size);
	return 0;
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

int
msg_send_blocking(int sock, uint32_t type, uint64_t id, int fd,
    const void *payload, size_t len)
{
	unsigned char *buf;
	size_t n;
	ssize_t r;

	buf = xmalloc(sizeof(struct msg_hdr) + len);
	n = msg_encode(buf, sizeof(struct msg_hdr) + len, type, id,
	    fd >= 0 ? MSG_F_FD : 0, payload, len);
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
	if ((m->hdr.flags & MSG_F_FD) && fd == -1)
		return msg_err(err, errlen, "type %u: fd missing", m->hdr.type);
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

int
msgchan_send(struct msgchan *ch, uint32_t type, uint64_t id, int fd,
    const void *payload, size_t len)
{
	struct msgq *q;

	if (ch->dead || len > MSG_MAX_PAYLOAD) {
		if (fd != -1)
			close(fd);
		return -1;
	}
	q = xmalloc(sizeof(*q) + sizeof(struct msg_hdr) + len);
	q->fd = fd;
	q->len = msg_encode(q->data, sizeof(struct msg_hdr) + len, type, id,
	    fd >= 0 ? MSG_F_FD : 0, payload, len);
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
		    (!(m.hdr.flags & MSG_F_FD) || rfd != -1)) {
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
		    n > 0 ? (err[0] ? err : "fd missing") : err);
		event_del(ch->ev_read);
		msgchan_report(ch, MSGCHAN_ERROR, NULL);
		return;
	}
}

int
msg_send_ready(struct msgchan *ch, const char *role)
{
	struct msg_ready r;

	memset(&r, 0, sizeof(r));
	r.pid = (int32_t)getpid();
	snprintf(r.role, sizeof(r.role), "%s", role);
	return msgchan_send(ch, MSG_READY, 0, -1, &r, sizeof(r));
}

int
msg_recv_ready(const struct msg *m, struct msg_ready *r)
{
	if (msg_get(m, MSG_READY, r, sizeof(*r)) == -1)
		return -1;
	r->role[sizeof(r->role) - 1] = '\0';
	return 0;
}

int
msg_send_shutdown(struct msgchan *ch, int grace_ms)
{
	struct msg_shutdown s;

	memset(&s, 0, sizeof(s));
	s.grace_ms = grace_ms;
	return msgchan_send(ch, MSG_SHUTDOWN, 0, -1, &s, sizeof(s));
}

int
msg_recv_shutdown(const struct msg *m, struct msg_shutdown *s)
{
	return msg_get(m, MSG_SHUTDOWN, s, sizeof(*s));
}

int
msg_send_event(struct msgchan *ch, uint64_t id, const struct msg_event *e,
    const void *data)
{
	unsigned char *buf;
	int r;

	if (e->len > MSG_MAX_DATA)
		return -1;
	buf = xmalloc(sizeof(*e) + e->len + 1);
	memcpy(buf, e, sizeof(*e));
	if (e->len > 0)
		memcpy(buf + sizeof(*e), data, e->len);
	r = msgchan_send(ch, MSG_EVENT, id, -1, buf, sizeof(*e) + e->len);
	free(buf);
	return r;
}

int
msg_recv_event(const struct msg *m, struct msg_event *e, const void **data)
{
	if (m->hdr.type != MSG_EVENT || m->len < sizeof(*e))
		return -1;
	memcpy(e, m->payload, sizeof(*e));
	if (e->len != m->len - sizeof(*e))
		return -1;
	e->session[sizeof(e->session) - 1] = '\0';
	*data = (const unsigned char *)m->payload + sizeof(*e);
	return 0;
}
