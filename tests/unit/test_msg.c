/* SPDX-License-Identifier: ISC */
/*
 * The message layer: a round trip of every kind in common/msgdef.h
 * through its typed sender and getter (a kind added there is covered
 * here at once), getters refusing a wrong kind, size or fd rule and an
 * unterminated string, the blocks' pairs of processes, refusal of
 * truncated, oversized, unknown-type and wrong-version packets, fd
 * passing between two real processes, an fd with a string beside it, the send queue's high/low marks,
 * and the text form of session ids.
 */
#include <sys/socket.h>
#include <sys/wait.h>
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <event2/event.h>

#include "common/config.h"
#include "common/msg.h"

/* The session id every generated round trip carries. */
static const struct uuid test_id = {{0x01, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd,
    0xef, 0xfe, 0xdc, 0xba, 0x98, 0x76, 0x54, 0x32, 0x10}};

/*
 * One kind's message through a real socketpair: p sent with the typed
 * blocking sender (with the read end of a fresh pipe when an fd travels,
 * and "hello" after a VAR kind's struct, with its NUL after a STR kind's,
 * p->len set here), received, and
 * handed to the typed getter, whose answer is returned. On success out
 * holds the payload, and the fd received is checked to be the pipe.
 */
#define T_FD_MAKE_NEVER
#define T_FD_MAKE_ALWAYS   assert_int_equal(pipe(pp), 0);
#define T_FD_MAKE_OPTIONAL T_FD_MAKE_ALWAYS
#define T_FD_SEND_NEVER
#define T_FD_SEND_ALWAYS   , pp[0]
#define T_FD_SEND_OPTIONAL , pp[0]
#define T_FD_GET_NEVER
#define T_FD_GET_ALWAYS   , &fd
#define T_FD_GET_OPTIONAL , &fd
#define T_DATA_SET_FIXED
#define T_DATA_SET_VAR p->len = 5;
#define T_DATA_SET_STR p->len = 6;
#define T_DATA_SEND_FIXED
#define T_DATA_SEND_VAR , "hello"
#define T_DATA_SEND_STR , "hello"
#define T_DATA_GET_FIXED
#define T_DATA_GET_VAR , &data
#define T_DATA_GET_STR , &str
#define T_DATA_CHECK_FIXED
#define T_DATA_CHECK_VAR \
	if (r == 0)      \
		assert_memory_equal(data, "hello", 5);
#define T_DATA_CHECK_STR \
	if (r == 0)      \
		assert_memory_equal(str, "hello", 6);
#define MSGDEF(K, name, num, T, from, to, fd_, dt, strings)                   \
	static int rt_##name(struct T *p, struct T *out)                      \
	{                                                                     \
		unsigned char buf[MSG_MAX_PACKET];                            \
		const void *data = NULL;                                      \
		const char *str = NULL;                                       \
		int sv[2], pp[2] = {-1, -1}, fd = -1, r;                      \
		struct msg m;                                                 \
		char err[128], c;                                             \
                                                                              \
		(void)data;                                                   \
		(void)str;                                                    \
		T_DATA_SET_##dt T_FD_MAKE_##fd_ assert_int_equal(             \
		    msg_socketpair(sv), 0);                                   \
		assert_int_equal(                                             \
		    msg_send_##name##_blocking(                               \
		        sv[0], &test_id T_FD_SEND_##fd_, p T_DATA_SEND_##dt), \
		    0);                                                       \
		assert_int_equal(msg_recv_blocking(sv[1], buf, sizeof(buf),   \
		                     &m, 1000, err, sizeof(err)),             \
		    0);                                                       \
		assert_int_equal(m.hdr.type, MSG_##K);                        \
		assert_true(uuid_equal(&m.hdr.session, &test_id));            \
		r = msg_get_##name(&m, out T_FD_GET_##fd_ T_DATA_GET_##dt);   \
		T_DATA_CHECK_##dt if (pp[0] != -1)                            \
		{                                                             \
			assert_int_equal(r == 0, fd != -1);                   \
			if (fd == -1)                                         \
				fd = msg_take_fd(&m);                         \
			assert_int_equal(write(pp[1], "x", 1), 1);            \
			assert_int_equal(read(fd, &c, 1), 1);                 \
			close(fd);                                            \
			close(pp[0]);                                         \
			close(pp[1]);                                         \
		}                                                             \
		close(sv[0]);                                                 \
		close(sv[1]);                                                 \
		return r;                                                     \
	}
#include "common/msgdef.h"
#undef MSGDEF

/* A payload of bytes that are not zero, every string terminated. */
#define MSG_STR(f) p->f[sizeof(p->f) - 1] = '\0';
#define MSG_STRV(f)                                          \
	for (i = 0; i < sizeof(p->f) / sizeof(p->f[0]); i++) \
		p->f[i][sizeof(p->f[i]) - 1] = '\0';
#define MSGDEF(K, name, num, T, from, to, fd, dt, strings)                \
	static void fill_##name(struct T *p, unsigned seed)               \
	{                                                                 \
		unsigned char *b = (unsigned char *)p;                    \
		size_t i;                                                 \
                                                                          \
		for (i = 0; i < sizeof(*p); i++)                          \
			b[i] = (unsigned char)(1 + (i * 7 + seed) % 250); \
		strings                                                   \
	}
#include "common/msgdef.h"
#undef MSGDEF
#undef MSG_STR
#undef MSG_STRV

/* Every kind goes through and comes back the same, fd and data too. */
static void
test_round_trip(void **state)
{
#define MSGDEF(K, name, num, T, from, to, fd, dt, strings)                   \
	{                                                                    \
		struct T p, out;                                             \
                                                                             \
		fill_##name(&p, MSG_##K);                                    \
		assert_int_equal(rt_##name(&p, &out), 0);                    \
		assert_memory_equal(&p, &out, sizeof(p));                    \
		assert_int_equal(MSG_BLOCK(MSG_##K), (MSG_##K) / 100 * 100); \
		assert_string_equal(msg_name(MSG_##K), #K);                  \
		assert_int_equal(msg_payload_size(MSG_##K),                  \
		    MSG_DATA_##dt ? -2 : (long)sizeof(struct T));            \
	}
#define MSG_DATA_FIXED 0
#define MSG_DATA_VAR   1
#define MSG_DATA_STR   2
#include "common/msgdef.h"
#undef MSGDEF
}

/* A string field that lacks its NUL makes the getter refuse the message. */
static void
test_unterminated(void **state)
{
	size_t i, n = 0;

#define MSG_STR(f)                                  \
	{                                           \
		__typeof__(p) q = p;                \
		memset(q.f, 'x', sizeof(q.f));      \
		assert_int_equal(rt(&q, &out), -1); \
		n++;                                \
	}
#define MSG_STRV(f)                                             \
	for (i = 0; i < sizeof(p.f) / sizeof(p.f[0]); i += 7) { \
		__typeof__(p) q = p;                            \
		memset(q.f[i], 'x', sizeof(q.f[i]));            \
		assert_int_equal(rt(&q, &out), -1);             \
		n++;                                            \
	}
#define MSGDEF(K, name, num, T, from, to, fd, dt, strings)     \
	{                                                      \
		int (*rt)(struct T *, struct T *) = rt_##name; \
		struct T p, out;                               \
                                                               \
		(void)rt;                                      \
		(void)out;                                     \
		fill_##name(&p, MSG_##K);                      \
		strings                                        \
	}
#include "common/msgdef.h"
#undef MSGDEF
#undef MSG_STR
#undef MSG_STRV
	assert_true(n > 50);
	(void)i;
}

/*
 * Each getter refuses another kind, a payload a byte short or long, and
 * the wrong fd rule: the struct msg made by hand, as a peer's bug would.
 */
#define T_FDRULE_NEVER(get) \
	m.fd = 0;           \
	assert_int_equal(get, -1);
#define T_FDRULE_ALWAYS(get) \
	m.fd = -1;           \
	assert_int_equal(get, -1);
#define T_FDRULE_OPTIONAL(get)
#define T_FDV_NEVER    -1
#define T_FDV_ALWAYS   0
#define T_FDV_OPTIONAL -1
static void
test_getters_refuse(void **state)
{
	static unsigned char buf[MSG_MAX_PAYLOAD + 1];
	const void *data;
	const char *str;
	struct msg m;
	int fd;

	(void)data;
	(void)str;
	(void)fd;
#define GET(name, fd_, dt) \
	msg_get_##name(&m, &out T_FD_GET_##fd_ T_DATA_GET_##dt)
#define MSGDEF(K, name, num, T, from, to, fd_, dt, strings)                   \
	{                                                                     \
		struct T p, out;                                              \
                                                                              \
		fill_##name(&p, 3);                                           \
		T_SETLEN_##dt memcpy(buf, &p, sizeof(p));                     \
		memcpy(buf + sizeof(p), "hello", T_DLEN_##dt);                \
		memset(&m, 0, sizeof(m));                                     \
		m.hdr.version = PROTO_VERSION;                                \
		m.hdr.type = MSG_##K;                                         \
		m.payload = buf;                                              \
		m.len = sizeof(p) + T_DLEN_##dt;                              \
		m.fd = T_FDV_##fd_;                                           \
		assert_int_equal(GET(name, fd_, dt), 0);                      \
		T_FDRULE_##fd_(GET(name, fd_, dt)) m.fd = T_FDV_##fd_;        \
		m.len--;                                                      \
		assert_int_equal(GET(name, fd_, dt), -1);                     \
		m.len += 2;                                                   \
		assert_int_equal(GET(name, fd_, dt), -1);                     \
		m.len--;                                                      \
		m.hdr.type = MSG_##K == MSG_READY ? MSG_SHUTDOWN : MSG_READY; \
		assert_int_equal(GET(name, fd_, dt), -1);                     \
	}
#define T_DLEN_FIXED 0
#define T_DLEN_VAR   5
#define T_DLEN_STR   6
#define T_SETLEN_FIXED
#define T_SETLEN_VAR p.len = T_DLEN_VAR;
#define T_SETLEN_STR p.len = T_DLEN_STR;
#include "common/msgdef.h"
#undef MSGDEF
#undef GET
}

/* Each block is the two processes its comment in proto.h says. */
static void
test_blocks(void **state)
{
	static const struct {
		enum msg_block block;
		unsigned who;
	} blocks[] = {
	    {MSG_BLOCK_CONTROL, MSG_P_MASTER | MSG_P_CHILD},
	    {MSG_BLOCK_FRONT, MSG_P_MASTER | MSG_P_FRONT},
	    {MSG_BLOCK_WORKER, MSG_P_MASTER | MSG_P_WORKER},
	    {MSG_BLOCK_WALL, MSG_P_MASTER | MSG_P_WALL},
	    {MSG_BLOCK_SERVICE, MSG_P_MASTER | MSG_P_BROKER | MSG_P_RECORDER},
	    {MSG_BLOCK_OUTPUT,
	        MSG_P_WORKER | MSG_P_WALL | MSG_P_BROKER | MSG_P_RECORDER},
	};
	size_t i, n;

#define MSGDEF(K, name, num, T, from, to, fd, dt, strings)                     \
	for (i = n = 0; i < sizeof(blocks) / sizeof(blocks[0]); i++)           \
		if (blocks[i].block == MSG_BLOCK(MSG_##K)) {                   \
			assert_true((from) != 0 && (to) != 0);                 \
			assert_int_equal(((from) | (to)) & ~blocks[i].who, 0); \
			n++;                                                   \
		}                                                              \
	assert_int_equal(n, 1);
#include "common/msgdef.h"
#undef MSGDEF
}

/*
 * The header, and a packet refused before any getter: truncated,
 * oversized, unknown type, wrong version, wrong fd flag.
 */
static void
test_refused(void **state)
{
	unsigned char buf[MSG_MAX_PACKET + 64];
	struct msg_ready r;
	struct msg_hdr *h = (struct msg_hdr *)buf;
	struct msg m;
	char err[128];
	size_t n;

	memset(&r, 0, sizeof(r));
	n = msg_encode(buf, sizeof(buf), MSG_READY, &test_id, 0, &r, sizeof(r));
	assert_true(n > 0);
	assert_int_equal(msg_decode(buf, n, &m, err, sizeof(err)), 0);
	assert_true(uuid_equal(&m.hdr.session, &test_id));
	n = msg_encode(buf, sizeof(buf), MSG_READY, NULL, 0, &r, sizeof(r));
	assert_int_equal(msg_decode(buf, n, &m, err, sizeof(err)), 0);
	assert_true(uuid_is_zero(&m.hdr.session));

	/* truncated: header, and payload */
	assert_int_equal(
	    msg_decode(buf, sizeof(*h) - 1, &m, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "truncated"));
	assert_int_equal(msg_decode(buf, n - 1, &m, err, sizeof(err)), -1);

	/* trailing bytes are an error too */
	assert_int_equal(msg_decode(buf, n + 1, &m, err, sizeof(err)), -1);

	/* wrong version */
	h->version = PROTO_VERSION + 1;
	assert_int_equal(msg_decode(buf, n, &m, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "version"));
	h->version = PROTO_VERSION;

	/* unknown type */
	h->type = 9999;
	assert_int_equal(msg_decode(buf, n, &m, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "unknown message type"));
	h->type = MSG_READY;

	/* a payload size that is not the type's, consistent with the header */
	n = msg_encode(buf, sizeof(buf), MSG_READY, NULL, 0, buf + 2000, 3);
	assert_int_equal(msg_decode(buf, n, &m, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "expected"));

	/* oversized */
	assert_int_equal(msg_encode(buf, sizeof(buf), MSG_READY, NULL, 0, buf,
	                     MSG_MAX_PAYLOAD + 1),
	    0);
	memset(buf, 0, sizeof(buf));
	h->version = PROTO_VERSION;
	h->type = MSG_READY;
	h->len = MSG_MAX_PAYLOAD + 10;
	assert_int_equal(
	    msg_decode(buf, sizeof(*h) + h->len, &m, err, sizeof(err)), -1);

	/* fd flag where none belongs, and missing where one must travel */
	n = msg_encode(
	    buf, sizeof(buf), MSG_READY, NULL, MSG_F_FD, &r, sizeof(r));
	assert_int_equal(msg_decode(buf, n, &m, err, sizeof(err)), -1);
	n = msg_encode(buf, sizeof(buf), MSG_LISTEN_FD, NULL, 0, buf + 1000,
	    sizeof(struct msg_listen_fd));
	assert_int_equal(msg_decode(buf, n, &m, err, sizeof(err)), -1);
	/* unknown flags */
	n = msg_encode(buf, sizeof(buf), MSG_READY, NULL, 0x80, &r, sizeof(r));
	assert_int_equal(msg_decode(buf, n, &m, err, sizeof(err)), -1);

	/* the getter checks the type and every string */
	memset(&r, 0, sizeof(r));
	n = msg_encode(buf, sizeof(buf), MSG_READY, NULL, 0, &r, sizeof(r));
	assert_int_equal(msg_decode(buf, n, &m, err, sizeof(err)), 0);
	assert_int_equal(msg_get_shutdown(&m, &(struct msg_shutdown){0}), -1);
	assert_int_equal(msg_get_ready(&m, &r), 0);
	memset(r.role, 'x', sizeof(r.role));
	n = msg_encode(buf, sizeof(buf), MSG_READY, NULL, 0, &r, sizeof(r));
	assert_int_equal(msg_decode(buf, n, &m, err, sizeof(err)), 0);
	assert_int_equal(msg_get_ready(&m, &r), -1);
}

/*
 * A child process opens a pipe, sends its read end to the parent with
 * MSG_LISTEN_FD, then writes through the write end; the parent reads the
 * bytes through the fd it received.
 */
static void
test_fd_passing(void **state)
{
	unsigned char buf[MSG_MAX_PACKET];
	struct msg_listen_fd l;
	struct msg m;
	char err[128], got[64];
	int sv[2], p[2], status, fd;
	pid_t pid;
	ssize_t n;

	assert_int_equal(msg_socketpair(sv), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		close(sv[0]);
		if (pipe(p) == -1)
			_exit(1);
		memset(&l, 0, sizeof(l));
		strcpy(l.addr, "a pipe");
		if (msg_send_listen_fd_blocking(sv[1], &test_id, p[0], &l) ==
		    -1)
			_exit(2);
		close(p[0]);
		if (write(p[1], "through the fd", 14) != 14)
			_exit(3);
		close(p[1]);
		_exit(0);
	}
	close(sv[1]);
	assert_int_equal(msg_recv_blocking(sv[0], buf, sizeof(buf), &m, 5000,
	                     err, sizeof(err)),
	    0);
	assert_int_equal(m.hdr.type, MSG_LISTEN_FD);
	assert_true(uuid_equal(&m.hdr.session, &test_id));
	assert_true(m.fd >= 0);
	assert_int_equal(msg_get_listen_fd(&m, &l, &fd), 0);
	assert_string_equal(l.addr, "a pipe");
	assert_int_equal(m.fd, -1);
	assert_true(fcntl(fd, F_GETFD) & FD_CLOEXEC);
	n = read(fd, got, sizeof(got));
	assert_int_equal(n, 14);
	assert_memory_equal(got, "through the fd", 14);
	close(fd);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
	close(sv[0]);
}

/* Sends an attach with the sees list of len bytes and a pipe's read end. */
static int
attach_rt(const char *sees, uint32_t len, int *fd, char *got, size_t gotlen)
{
	unsigned char buf[MSG_MAX_PACKET];
	struct msg_attach a, out;
	const char *data = NULL;
	int sv[2], pp[2], r;
	struct msg m;
	char err[128];

	memset(&a, 0, sizeof(a));
	strcpy(a.session, "01234567-89ab-cdef-fedc-ba9876543210");
	strcpy(a.owner, "irene");
	a.req = 42;
	a.len = len;
	assert_int_equal(pipe(pp), 0);
	assert_int_equal(msg_socketpair(sv), 0);
	assert_int_equal(
	    msg_send_session_attach_blocking(sv[0], NULL, pp[0], &a, sees), 0);
	close(pp[0]);
	assert_int_equal(msg_recv_blocking(sv[1], buf, sizeof(buf), &m, 1000,
	                     err, sizeof(err)),
	    0);
	assert_int_not_equal(m.fd, -1); /* the fd came with its data */
	*fd = -1;
	r = msg_get_session_attach(&m, &out, fd, &data);
	if (r == 0) {
		assert_int_equal(out.req, 42);
		assert_int_equal(out.len, len);
		snprintf(got, gotlen, "%s", len > 0 ? data : "(none)");
		assert_int_equal(write(pp[1], "x", 1), 1);
		assert_int_equal(read(*fd, err, 1), 1); /* the very pipe */
		close(*fd);
	} else
		close(msg_take_fd(&m));
	close(pp[1]);
	close(sv[0]);
	close(sv[1]);
	return r;
}

/*
 * MSG_SESSION_ATTACH carries an fd and a string together: both arrive in
 * one message; a list without its NUL, with a NUL inside or over
 * MSG_MAX_DATA is refused, by the getter or already by the sender.
 */
static void
test_fd_with_string(void **state)
{
	static char big[MSG_MAX_DATA + 2];
	struct msg_attach a;
	char got[64];
	int fd, sv[2], pp[2];
	struct event_base *base;
	struct msgchan *ch;

	assert_int_equal(
	    attach_rt(" alice bob ", 12, &fd, got, sizeof(got)), 0);
	assert_string_equal(got, " alice bob ");
	assert_int_equal(attach_rt(NULL, 0, &fd, got, sizeof(got)), 0);
	assert_string_equal(got, "(none)");
	/* without its NUL, and with a NUL inside */
	assert_int_equal(
	    attach_rt(" alice bob ", 11, &fd, got, sizeof(got)), -1);
	assert_int_equal(attach_rt("ab\0cd", 6, &fd, got, sizeof(got)), -1);
	/* a list the size of MSG_MAX_DATA goes; one byte more does not */
	memset(big, 'x', sizeof(big));
	big[MSG_MAX_DATA - 1] = '\0';
	assert_int_equal(
	    attach_rt(big, MSG_MAX_DATA, &fd, got, sizeof(got)), 0);
	big[MSG_MAX_DATA - 1] = 'x';
	big[MSG_MAX_DATA] = '\0';
	memset(&a, 0, sizeof(a));
	a.len = MSG_MAX_DATA + 1;
	assert_int_equal(pipe(pp), 0);
	assert_int_equal(msg_socketpair(sv), 0);
	assert_int_equal(
	    msg_send_session_attach_blocking(sv[0], NULL, pp[0], &a, big), -1);
	/* the channel's sender refuses it too, and closes the fd it took */
	base = event_base_new();
	ch = msgchan_new(base, sv[0], NULL, NULL);
	assert_int_equal(msg_send_session_attach(ch, NULL, pp[0], &a, big), -1);
	assert_int_equal(fcntl(pp[0], F_GETFD), -1);
	assert_int_equal(errno, EBADF);
	msgchan_free(ch);
	event_base_free(base);
	close(pp[1]);
	close(sv[1]);
}

/* A packet larger than any message is refused, not truncated silently. */
static void
test_oversized_packet(void **state)
{
	unsigned char *big, buf[MSG_MAX_PACKET];
	struct msg m;
	char err[128];
	int sv[2], sz = 4 * MSG_MAX_PACKET;

	big = calloc(1, MSG_MAX_PACKET * 2);
	assert_non_null(big);
	assert_int_equal(msg_socketpair(sv), 0);
	setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &sz, sizeof(sz));
	setsockopt(sv[1], SOL_SOCKET, SO_RCVBUF, &sz, sizeof(sz));
	assert_int_equal(
	    send(sv[0], big, MSG_MAX_PACKET * 2, 0), MSG_MAX_PACKET * 2);
	assert_int_equal(msg_recv_blocking(sv[1], buf, sizeof(buf), &m, 1000,
	                     err, sizeof(err)),
	    -1);
	assert_non_null(strstr(err, "oversized"));
	close(sv[0]);
	close(sv[1]);
	free(big);
}

struct chan_state {
	int msgs, lowat, closed;
	uint8_t last_id;
	struct event_base *base;
};

static void
chan_cb(struct msgchan *ch, enum msgchan_event ev, struct msg *m, void *arg)
{
	struct chan_state *s = arg;

	switch (ev) {
	case MSGCHAN_MSG:
		s->msgs++;
		s->last_id = m->hdr.session.b[15];
		break;
	case MSGCHAN_LOWAT:
		s->lowat++;
		break;
	case MSGCHAN_CLOSED:
	case MSGCHAN_ERROR:
		s->closed++;
		event_base_loopbreak(s->base);
		break;
	}
}

/*
 * Queue past the high mark while the peer does not read: over_high holds;
 * then drain the peer, and LOWAT is reported once; every message arrives
 * in order; a garbage packet makes the receiving channel report an error.
 */
static void
test_channel_marks(void **state)
{
	struct chan_state a = {0}, b = {0};
	struct msgchan *ca, *cb;
	struct msg_ping p = {0};
	unsigned char junk[8] = {1, 2, 3};
	struct uuid id = {{0}};
	int sv[2], i;

	a.base = b.base = event_base_new();
	assert_int_equal(msg_socketpair(sv), 0);
	ca = msgchan_new(a.base, sv[0], chan_cb, &a);
	cb = msgchan_new(b.base, sv[1], chan_cb, &b);
	msgchan_set_marks(ca, 1024, 4096);
	msgchan_pause(cb);
	for (i = 0; i < 200; i++) {
		id.b[15] = (uint8_t)(i + 1);
		assert_int_equal(msg_send_ping(ca, &id, &p), 0);
	}
	assert_true(msgchan_over_high(ca));
	assert_true(msgchan_queued(ca) > 4096);
	msgchan_resume(cb);
	for (i = 0; i < 200 && (b.msgs < 200 || a.lowat == 0); i++)
		event_base_loop(a.base, EVLOOP_ONCE | EVLOOP_NONBLOCK);
	assert_int_equal(b.msgs, 200);
	assert_int_equal(b.last_id, 200);
	assert_int_equal(a.lowat, 1);
	assert_false(msgchan_over_high(ca));
	assert_int_equal(msgchan_queued(ca), 0);

	/* garbage from the peer */
	assert_int_equal(send(sv[0], junk, sizeof(junk), 0), sizeof(junk));
	event_base_dispatch(b.base);
	assert_int_equal(b.closed, 1);
	msgchan_free(cb);
	msgchan_free(ca);
	event_base_free(a.base);
}

/* Events carry their data; the lengths must agree, within MSG_MAX_DATA. */
static void
test_event(void **state)
{
	static unsigned char buf[MSG_MAX_PACKET + 64],
	    data[sizeof(struct msg_event) + MSG_MAX_DATA + 1];
	struct msg_event e, got;
	const void *d;
	struct msg m;
	char err[128];
	size_t n;

	memset(&e, 0, sizeof(e));
	e.seq = 41;
	e.t_us = 1234567;
	e.kind = 'o';
	e.len = 7;
	memcpy(data + 100, &e, sizeof(e));
	memcpy(data + 100 + sizeof(e), "hello\r\n", 7);
	n = msg_encode(buf, sizeof(buf), MSG_EVENT, &test_id, 0, data + 100,
	    sizeof(e) + 7);
	assert_int_equal(msg_decode(buf, n, &m, err, sizeof(err)), 0);
	assert_int_equal(msg_get_event(&m, &got, &d), 0);
	assert_int_equal(got.seq, 41);
	assert_int_equal(got.t_us, 1234567);
	assert_int_equal(got.kind, 'o');
	assert_int_equal(got.len, 7);
	assert_true(uuid_equal(&m.hdr.session, &test_id));
	assert_memory_equal(d, "hello\r\n", 7);

	/* the event's own length must match the packet */
	e.len = 8;
	memcpy(data + 100, &e, sizeof(e));
	n = msg_encode(buf, sizeof(buf), MSG_EVENT, &test_id, 0, data + 100,
	    sizeof(e) + 7);
	assert_int_equal(msg_decode(buf, n, &m, err, sizeof(err)), 0);
	assert_int_equal(msg_get_event(&m, &got, &d), -1);

	/* shorter than the fixed part, and more data than allowed */
	n = msg_encode(buf, sizeof(buf), MSG_EVENT, NULL, 0, data, 4);
	assert_int_equal(msg_decode(buf, n, &m, err, sizeof(err)), -1);
	memset(data, 0, sizeof(data));
	n = msg_encode(buf, sizeof(buf), MSG_EVENT, NULL, 0, data,
	    sizeof(e) + MSG_MAX_DATA + 1);
	assert_int_equal(msg_decode(buf, n, &m, err, sizeof(err)), -1);

	/* exactly MSG_MAX_DATA is taken; one more byte is not even sent */
	e.len = MSG_MAX_DATA;
	memcpy(data, &e, sizeof(e));
	n = msg_encode(buf, sizeof(buf), MSG_EVENT, NULL, 0, data,
	    sizeof(e) + MSG_MAX_DATA);
	assert_int_equal(msg_decode(buf, n, &m, err, sizeof(err)), 0);
	assert_int_equal(msg_get_event(&m, &got, &d), 0);
	e.len = MSG_MAX_DATA + 1;
	assert_int_equal(msg_send_event_blocking(-1, NULL, &e, data), -1);
	assert_int_equal(errno, EMSGSIZE);
}

/* The text form of a session id, both ways, and what is not one. */
static void
test_uuid(void **state)
{
	static const char *const bad[] = {"",
	    "0123456789abcdeffedcba9876543210",
	    "01234567-89ab-cdef-fedc-ba987654321",
	    "01234567-89ab-cdef-fedc-ba98765432100",
	    "01234567-89AB-cdef-fedc-ba9876543210",
	    "01234567-89ab-cdef-fedc_ba9876543210",
	    "0123456-789ab-cdef-fedc-ba9876543210",
	    "01234567-89ab-cdef-fedc-ba987654321g"};
	char text[UUID_TEXT];
	struct uuid u;
	size_t i;

	uuid_format(&test_id, text);
	assert_string_equal(text, "01234567-89ab-cdef-fedc-ba9876543210");
	assert_int_equal(uuid_parse(text, &u), 0);
	assert_true(uuid_equal(&u, &test_id));
	assert_false(uuid_is_zero(&u));
	memset(&u, 0, sizeof(u));
	assert_true(uuid_is_zero(&u));
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(uuid_parse(bad[i], &u), -1);
}

int
main(void)
{

	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_round_trip),
	    cmocka_unit_test(test_unterminated),
	    cmocka_unit_test(test_getters_refuse),
	    cmocka_unit_test(test_blocks),
	    cmocka_unit_test(test_refused),
	    cmocka_unit_test(test_fd_passing),
	    cmocka_unit_test(test_fd_with_string),
	    cmocka_unit_test(test_oversized_packet),
	    cmocka_unit_test(test_channel_marks),
	    cmocka_unit_test(test_event),
	    cmocka_unit_test(test_uuid),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
