/* SPDX-License-Identifier: ISC */
/*
 * A lesson step's check: a shell snippet run in the learner's container
 * with Docker exec, as the sandbox's user (never root; Docker runs it in
 * the container's namespaces and cgroup, never on this host), under
 * `timeout -s KILL` inside, and given up on here a little later. Its
 * output (stdout and stderr, demultiplexed from the exec stream's 8-byte
 * frames) is kept up to CHECK_OUTPUT_MAX and the rest read and dropped;
 * its exit status is asked for once the stream ends.
 *
 * exec -> start (upgraded: the stream's fd) -> read to the end -> inspect
 * -> done(). Any failure or the timer calls done() once, with what is
 * known, and frees the check.
 */
#include <sys/queue.h>
#include <sys/types.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/event.h>

#include "common/log.h"
#include "common/proto.h"
#include "common/xmalloc.h"
#include "master/master.h"

#define CHECK_GRACE_MS 2000 /* after the timeout inside, we give up */
#define CHECK_HOME     "/home/learner"

struct check {
	TAILQ_ENTRY(check) entry;
	struct docker *docker;
	char container[80];
	char exec[80];
	struct docker_call *call; /* in flight, or NULL */
	int fd;
	struct event *ev_read;
	struct event *ev_timer;
	unsigned char hdr[8]; /* the frame header being read */
	size_t hdrlen;
	uint32_t left; /* payload bytes left in this frame */
	struct check_result res;
	check_done_cb done;
	void *arg;
};
TAILQ_HEAD(check_list, check);

static struct {
	struct event_base *base;
	struct check_list list;
	int n;
} ck;

void
check_init(struct event_base *base)
{
	ck.base = base;
	TAILQ_INIT(&ck.list);
}

int
check_running(void)
{
	return ck.n;
}

static void
check_free(struct check *c)
{
	if (c->call != NULL)
		docker_cancel(c->call);
	if (c->ev_read != NULL)
		event_free(c->ev_read);
	if (c->ev_timer != NULL)
		event_free(c->ev_timer);
	if (c->fd != -1)
		close(c->fd);
	TAILQ_REMOVE(&ck.list, c, entry);
	ck.n--;
	free(c);
}

/* Calls done with what is known, once, and frees c. */
static void
check_finish(struct check *c, const char *error)
{
	if (error != NULL && c->res.error[0] == '\0')
		snprintf(c->res.error, sizeof(c->res.error), "%s", error);
	c->res.passed = c->res.error[0] == '\0' && !c->res.timed_out &&
	    c->res.exit_code == 0;
	if (c->done != NULL)
		c->done(&c->res, c->arg);
	check_free(c);
}

/* Takes n bytes of the exec stream: frame headers, then payloads. */
static void
check_feed(struct check *c, const unsigned char *p, size_t n)
{
	size_t k;

	while (n > 0) {
		if (c->left == 0) {
			k = sizeof(c->hdr) - c->hdrlen;
			if (k > n)
				k = n;
			memcpy(c->hdr + c->hdrlen, p, k);
			c->hdrlen += k;
			p += k;
			n -= k;
			if (c->hdrlen == sizeof(c->hdr)) {
				c->left = (uint32_t)c->hdr[4] << 24 |
				    (uint32_t)c->hdr[5] << 16 |
				    (uint32_t)c->hdr[6] << 8 | c->hdr[7];
				c->hdrlen = 0;
			}
			continue;
		}
		k = n < c->left ? n : c->left;
		if (c->res.outlen < sizeof(c->res.output)) {
			size_t keep = sizeof(c->res.output) - c->res.outlen;

			if (keep > k)
				keep = k;
			memcpy(c->res.output + c->res.outlen, p, keep);
			c->res.outlen += keep;
		}
		c->res.total += k;
		c->left -= (uint32_t)k;
		p += k;
		n -= k;
	}
}

static void
check_inspected(struct docker_result *r, void *arg)
{
	struct check *c = arg;

	c->call = NULL;
	if (r->status != 200 || r->message != NULL) {
		check_finish(c,
		    r->message != NULL ? r->message
		                       : "the exec's state is "
		                         "unknown");
		return;
	}
	c->res.exit_code = r->exit_code;
	/* timeout -s KILL: the snippet was killed (137), or timeout said. */
	if (r->exit_code == 137 || r->exit_code == 124)
		c->res.timed_out = 1;
	check_finish(c, NULL);
}

static void
check_read_cb(evutil_socket_t fd, short what, void *arg)
{
	struct check *c = arg;
	unsigned char buf[8192];
	ssize_t n;

	for (;;) {
		n = read(fd, buf, sizeof(buf));
		if (n > 0) {
			check_feed(c, buf, (size_t)n);
			continue;
		}
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return;
		break;
	}
	/* The end of the stream: the snippet has exited. */
	event_del(c->ev_read);
	close(c->fd);
	c->fd = -1;
	c->call = docker_exec_inspect(c->docker, c->exec, check_inspected, c);
}

static void
check_started(struct docker_result *r, void *arg)
{
	struct check *c = arg;
	unsigned char buf[4096];
	size_t n;

	c->call = NULL;
	if (r->status != 101 || r->fd == -1) {
		check_finish(c,
		    r->message != NULL ? r->message : "the exec did not start");
		return;
	}
	c->fd = r->fd;
	r->fd = -1;
	while (r->pending != NULL &&
	    (n = evbuffer_remove(r->pending, buf, sizeof(buf))) > 0)
		check_feed(c, buf, n);
	c->ev_read =
	    event_new(ck.base, c->fd, EV_READ | EV_PERSIST, check_read_cb, c);
	if (c->ev_read == NULL || event_add(c->ev_read, NULL) == -1)
		fatalx("%s: event_new", __func__);
	check_read_cb(c->fd, EV_READ, c);
}

static void
check_created(struct docker_result *r, void *arg)
{
	struct check *c = arg;

	c->call = NULL;
	if (r->status != 201 || r->id == NULL) {
		check_finish(c,
		    r->message != NULL ? r->message : "the exec was not made");
		return;
	}
	snprintf(c->exec, sizeof(c->exec), "%s", r->id);
	c->call = docker_exec_start(c->docker, c->exec, check_started, c);
}

static void
check_timer_cb(evutil_socket_t fd, short what, void *arg)
{
	struct check *c = arg;

	c->res.timed_out = 1;
	c->res.exit_code = -1;
	check_finish(c, NULL);
}

void
check_run(struct docker *d, const char *container, const char *snippet,
    int timeout_s, check_done_cb done, void *arg)
{
	static const char *const env[] = {"HOME=" CHECK_HOME,
	    "PATH=/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin", "LANG=C.UTF-8",
	    "TERM=dumb", NULL};
	struct docker_exec_opts o;
	struct timeval tv;
	struct check *c;
	char secs[16];
	const char *cmd[] = {
	    "timeout", "-s", "KILL", secs, "sh", "-c", snippet, NULL};

	c = xcalloc(1, sizeof(*c));
	c->docker = d;
	c->fd = -1;
	c->done = done;
	c->arg = arg;
	c->res.exit_code = -1;
	snprintf(c->container, sizeof(c->container), "%s", container);
	TAILQ_INSERT_TAIL(&ck.list, c, entry);
	ck.n++;
	snprintf(secs, sizeof(secs), "%d", timeout_s);
	tv.tv_sec = timeout_s + CHECK_GRACE_MS / 1000;
	tv.tv_usec = (CHECK_GRACE_MS % 1000) * 1000;
	if ((c->ev_timer = evtimer_new(ck.base, check_timer_cb, c)) == NULL ||
	    evtimer_add(c->ev_timer, &tv) == -1)
		fatalx("%s: evtimer_new", __func__);
	memset(&o, 0, sizeof(o));
	o.cmd = cmd;
	o.env = env;
	o.user = CHECK_USER;
	o.workdir = CHECK_HOME;
	c->call = docker_exec(d, c->container, &o, check_created, c);
}

void
check_shutdown(void)
{
	struct check *c;

	while ((c = TAILQ_FIRST(&ck.list)) != NULL) {
		c->done = NULL;
		check_free(c);
	}
}
