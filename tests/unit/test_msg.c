/* SPDX-License-Identifier: ISC */
/*
 * The message layer: encode/decode round trips, refusal of truncated,
 * oversized, unknown-type and wrong-version packets, fd passing between
 * two real processes, and the send queue's high/low marks.
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

static void
test_round_trip(void **state)
{
	static const struct {
		uint32_t type;
		size_t size;
		uint16_t flags;
	} cases[] = {
	    {MSG_READY, sizeof(struct msg_ready), 0},
	    {MSG_SHUTDOWN, sizeof(struct msg_shutdown), 0},
	    {MSG_PING, sizeof(struct msg_ping), 0},
	    {MSG_PONG, sizeof(struct msg_ping), 0},
	    {MSG_CONFIG, sizeof(struct config), 0},
	    {MSG_LISTEN_FD, sizeof(struct msg_listen_fd), MSG_F_FD},
	    {MSG_SESSION_CREATE, sizeof(struct msg_session_req), 0},
	    {MSG_SESSION_GET, sizeof(struct msg_session_req), 0},
	    {MSG_SESSION_LIST, sizeof(struct msg_session_req), 0},
	    {MSG_SESSION_DELETE, sizeof(struct msg_session_req), 0},
	    {MSG_SESSION_INFO, sizeof(struct msg_session_info), 0},
	    {MSG_SESSION_ATTACH, sizeof(struct msg_attach), MSG_F_FD},
	    {MSG_METRICS_GET, sizeof(struct msg_metrics), 0},
	    {MSG_METRICS, sizeof(struct msg_metrics), 0},
	    {MSG_WORKER_START, sizeof(struct msg_worker_start), MSG_F_FD},
	    {MSG_WORKER_BROWSER, sizeof(struct msg_attach), MSG_F_FD},
	    {MSG_WORKER_RESIZE, sizeof(struct msg_resize), 0},
	    {MSG_WORKER_EXITED, sizeof(struct msg_exit), 0},
	    {MSG_WORKER_END, sizeof(struct msg_end), 0},
	    {MSG_WORKER_STATS, sizeof(struct msg_worker_stats), 0},
	    {MSG_FLOW_PAUSE, sizeof(struct msg_flow), 0},
	    {MSG_FLOW_RESUME, sizeof(struct msg_flow), 0},
	};
	unsigned char payload[sizeof(struct config)], buf[MSG_MAX_PACKET];
	struct msg m;
	char err[128];
	size_t i, n, j;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		for (j = 0; j < cases[i].size; j++)
			payload[j] = (unsigned char)(j * 7 + i);
		n = msg_encode(buf, sizeof(buf), cases[i].type,
		    0x0123456789abcdefULL + i, cases[i].flags, payload,
		    cases[i].size);

		assert_int_equal(n, sizeof(struct msg_hdr) + cases[i].size);
		assert_int_equal(msg_decode(buf, n, &m, err, sizeof(err)), 0);
		assert_int_equal(m.hdr.type, cases[i].type);
		assert_int_equal(m.hdr.id, 0x0123456789abcdefULL + i);
		assert_int_equal(m.len, cases[i].size);
		assert_memory_equal(m.payload, payload, cases[i].size);
		assert_int_equal(m.fd, -1);
		assert_int_equal(
		    msg_payload_size(cases[i].type), (long)cases[i].size);
	}
}

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
	n = msg_encode(buf, sizeof(buf), MSG_READY, 1, 0, &r, sizeof(r));
	assert_true(n > 0);

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
	n = msg_encode(buf, sizeof(buf), MSG_READY, 1, 0, buf + 2000, 3);
	assert_int_equal(msg_decode(buf, n, &m, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "expected"));

	/* oversized */
	assert_int_equal(msg_encode(buf, sizeof(buf), MSG_READY, 1, 0, buf,
	                     MSG_MAX_PAYLOAD + 1),
	    0);
	memset(buf, 0, sizeof(buf));
	h->version = PROTO_VERSION;
	h->type = MSG_READY;
	h->len = MSG_MAX_PAYLOAD + 10;
	assert_int_equal(
	    msg_decode(buf, sizeof(*h) + h->len, &m, err, sizeof(err)), -1);

	/* fd flag where none belongs, and missing where one must travel */
	n = msg_encode(buf, sizeof(buf), MSG_READY, 1, MSG_F_FD, &r, sizeof(r));
	assert_int_equal(msg_decode(buf, n, &m, err, sizeof(err)), -1);
	n = msg_encode(buf, sizeof(buf), MSG_LISTEN_FD, 1, 0, buf + 1000,
	    sizeof(struct msg_listen_fd));
	assert_int_equal(msg_decode(buf, n, &m, err, sizeof(err)), -1);
	/* unknown flags */
	n = msg_encode(buf, sizeof(buf), MSG_READY, 1, 0x80, &r, sizeof(r));
	assert_int_equal(msg_decode(buf, n, &m, err, sizeof(err)), -1);

	/* msg_get checks type and size */
	n = msg_encode(buf, sizeof(buf), MSG_READY, 1, 0, &r, sizeof(r));
	assert_int_equal(msg_decode(buf, n, &m, err, sizeof(err)), 0);
	assert_int_equal(msg_get(&m, MSG_SHUTDOWN, &r, sizeof(r)), -1);
	assert_int_equal(msg_get(&m, MSG_READY, &r, sizeof(r) - 1), -1);
	assert_int_equal(msg_get(&m, MSG_READY, &r, sizeof(r)), 0);
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
		if (msg_send_blocking(
		        sv[1], MSG_LISTEN_FD, 42, p[0], &l, sizeof(l)) == -1)
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
	assert_int_equal(m.hdr.id, 42);
	assert_true(m.fd >= 0);
	assert_int_equal(msg_get(&m, MSG_LISTEN_FD, &l, sizeof(l)), 0);
	assert_string_equal(l.addr, "a pipe");
	fd = msg_take_fd(&m);
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
	uint64_t last_id;
	struct event_base *base;
};

static void
chan_cb(struct msgchan *ch, enum msgchan_event ev, struct msg *m, void *arg)
{
	struct chan_state *s = arg;

	switch (ev) {
	case MSGCHAN_MSG:
		s->msgs++;
		s->last_id = m->hdr.id;
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
	int sv[2], i;

	a.base = b.base = event_base_new();
	assert_int_equal(msg_socketpair(sv), 0);
	ca = msgchan_new(a.base, sv[0], chan_cb, &a);
	cb = msgchan_new(b.base, sv[1], chan_cb, &b);
	msgchan_set_marks(ca, 1024, 4096);
	msgchan_pause(cb);
	for (i = 0; i < 200; i++)
		assert_int_equal(msgchan_send(ca, MSG_PING, (uint64_t)i + 1, -1,
		                     &p, sizeof(p)),
		    0);
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
	strcpy(e.session, "0123abcd-0000-0000-0000-000000000000");
	memcpy(data, "hello\r\n", 7);
	e.len = 7;
	memcpy(data + 100, &e, sizeof(e));
	memcpy(data + 100 + sizeof(e), "hello\r\n", 7);
	n = msg_encode(
	    buf, sizeof(buf), MSG_EVENT, 9, 0, data + 100, sizeof(e) + 7);
	assert_int_equal(msg_decode(buf, n, &m, err, sizeof(err)), 0);
	assert_int_equal(msg_recv_event(&m, &got, &d), 0);
	assert_int_equal(got.seq, 41);
	assert_int_equal(got.t_us, 1234567);
	assert_int_equal(got.kind, 'o');
	assert_int_equal(got.len, 7);
	assert_string_equal(got.session, e.session);
	assert_memory_equal(d, "hello\r\n", 7);

	/* the event's own length must match the packet */
	e.len = 8;
	memcpy(data + 100, &e, sizeof(e));
	n = msg_encode(
	    buf, sizeof(buf), MSG_EVENT, 9, 0, data + 100, sizeof(e) + 7);
	assert_int_equal(msg_decode(buf, n, &m, err, sizeof(err)), 0);
	assert_int_equal(msg_recv_event(&m, &got, &d), -1);

	/* shorter than the fixed part, and more data than allowed */
	n = msg_encode(buf, sizeof(buf), MSG_EVENT, 9, 0, data, 4);
	assert_int_equal(msg_decode(buf, n, &m, err, sizeof(err)), -1);
	memset(data, 0, sizeof(data));
	n = msg_encode(buf, sizeof(buf), MSG_EVENT, 9, 0, data,
	    sizeof(e) + MSG_MAX_DATA + 1);
	assert_int_equal(msg_decode(buf, n, &m, err, sizeof(err)), -1);
}

int
main(void)
{

	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_round_trip),
	    cmocka_unit_test(test_refused),
	    cmocka_unit_test(test_fd_passing),
	    cmocka_unit_test(test_oversized_packet),
	    cmocka_unit_test(test_channel_marks),
	    cmocka_unit_test(test_event),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
