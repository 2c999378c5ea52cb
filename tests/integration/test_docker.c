/* SPDX-License-Identifier: ISC */
/*
 * Integration tests of the Docker client against the real daemon on
 * /var/run/docker.sock: the whole container lifecycle through the client,
 * checked independently with the docker CLI, plus the failures a client
 * meets (missing image, no daemon, no TLS certificates). Every container
 * carries the label io.alia.owner=alia-test-PID, and whatever carries it
 * is force-removed after each test, passed or failed.
 */
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/un.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <event2/buffer.h>
#include <event2/event.h>

#include "common/log.h"
#include "common/xmalloc.h"
#include "master/master.h"

#ifndef SOCKET_PATH
#define SOCKET_PATH "/var/run/docker.sock"
#endif
#define IMAGE "alia-sandbox:latest"

static struct event_base *base;
static struct docker *dk;
static char owner[64];
static char owner_label[96]; /* io.alia.owner=OWNER, to list by */
static int seq;

/* A copy of a docker_result that outlives the callback. */
struct res {
	int done;
	int status;
	char *message;
	char *id;
	char *state;
	char *session;
	char *api_version;
	int exit_code;
	int fd;
	struct evbuffer *pending;
	size_t ncontainers;
	char names[8][128];
};

static char *
dupnull(const char *s)
{
	return s != NULL ? xstrdup(s) : NULL;
}

static void
on_result(struct docker_result *r, void *arg)
{
	struct res *out = arg;
	size_t i;

	out->done = 1;
	out->status = r->status;
	out->message = dupnull(r->message);
	out->id = dupnull(r->id);
	out->state = dupnull(r->state);
	out->session = dupnull(r->session);
	out->api_version = dupnull(r->api_version);
	out->exit_code = r->exit_code;
	out->fd = r->fd;
	r->fd = -1;
	out->pending = r->pending;
	r->pending = NULL;
	out->ncontainers = r->ncontainers;
	for (i = 0; i < r->ncontainers && i < 8; i++)
		snprintf(out->names[i], sizeof(out->names[i]), "%s",
		    r->containers[i].name != NULL ? r->containers[i].name : "");
}

static void
res_clear(struct res *r)
{
	free(r->message);
	free(r->id);
	free(r->state);
	free(r->session);
	free(r->api_version);
	if (r->fd != -1)
		close(r->fd);
	if (r->pending != NULL)
		evbuffer_free(r->pending);
	memset(r, 0, sizeof(*r));
	r->fd = -1;
}

static void
tick(evutil_socket_t fd, short what, void *arg)
{
}

/* Runs the loop until *done or the deadline; fails the test on timeout. */
static void
run_until(int *done, int secs, const char *what)
{
	struct timeval tv = {0, 50000};
	struct event *t;
	time_t deadline = time(NULL) + secs;

	t = event_new(base, -1, EV_PERSIST, tick, NULL);
	event_add(t, &tv);
	while (!*done && time(NULL) < deadline)
		event_base_loop(base, EVLOOP_ONCE);
	event_free(t);
	if (!*done)
		fail_msg("%s: no answer within %d s", what, secs);
}

static void
expect_ok(struct res *r, int status, const char *what)
{
	if (r->status != status || r->message != NULL)
		fail_msg("%s: status %d (want %d), message %s", what, r->status,
		    status, r->message != NULL ? r->message : "-");
}

/* Runs a shell command; returns its output with trailing space cut. */
static char *
cli(const char *fmt, ...)
{
	char *cmd, *out = xcalloc(1, 65536);
	size_t n = 0, r;
	va_list ap;
	FILE *f;

	va_start(ap, fmt);
	if (vasprintf(&cmd, fmt, ap) == -1)
		abort();
	va_end(ap);
	if ((f = popen(cmd, "r")) == NULL)
		fail_msg("popen %s: %s", cmd, strerror(errno));
	while ((r = fread(out + n, 1, 65535 - n, f)) > 0)
		n += r;
	pclose(f);
	while (n > 0 && (out[n - 1] == '\n' || out[n - 1] == ' '))
		out[--n] = '\0';
	free(cmd);
	return out;
}

static void
remove_all(void)
{
	free(cli("docker ps -aq --filter label=io.alia.owner=%s | "
	         "xargs -r docker rm -f >/dev/null 2>&1",
	    owner));
}

static int
setup_group(void **state)
{
	struct stat st;

	if (stat(SOCKET_PATH, &st) == -1 || !S_ISSOCK(st.st_mode)) {
		fprintf(stderr,
		    "FAIL: no Docker daemon socket at %s (%s). These tests "
		    "need a real dockerd: start it as described in "
		    "docker-api.md.\n",
		    SOCKET_PATH, strerror(errno));
		return -1;
	}
	log_init("test_docker", 0);
	snprintf(owner, sizeof(owner), "alia-test-%ld", (long)getpid());
	snprintf(owner_label, sizeof(owner_label), "io.alia.owner=%s", owner);
	unsetenv("DOCKER_TLS_VERIFY");
	if ((base = event_base_new()) == NULL)
		return -1;
	dk = docker_new(base, "unix://" SOCKET_PATH);
	return 0;
}

static int
teardown_group(void **state)
{
	if (base == NULL)
		return 0;
	remove_all();
	docker_free(dk);
	event_base_free(base);
	return 0;
}

static int
teardown(void **state)
{
	remove_all();
	return 0;
}

static void
opts_init(struct docker_create_opts *o, const char *const *cmd, char *name,
    size_t len)
{
	static const char *const env[] = {
	    "TERM=xterm-256color", "HOME=/home/learner", NULL};

	snprintf(name, len, "%s-%d", owner, ++seq);
	memset(o, 0, sizeof(*o));
	o->name = name;
	o->image = IMAGE;
	o->cmd = cmd;
	o->env = env;
	o->user = "1000:1000";
	o->workdir = "/home/learner";
	o->hostname = "alia";
	o->session = name;
	o->owner = owner;
	o->tty = 1;
	o->memory = 268435456;
	o->nano_cpus = 500000000;
	o->pids_limit = 128;
}

/* Creates a container; returns its id (the caller frees it). */
static char *
create(const char *const *cmd, char *name, size_t len)
{
	struct docker_create_opts o;
	struct res r = {.fd = -1};
	char *id;

	opts_init(&o, cmd, name, len);
	docker_create(dk, &o, on_result, &r);
	run_until(&r.done, 30, "create");
	expect_ok(&r, 201, "create");
	assert_non_null(r.id);
	id = r.id;
	r.id = NULL;
	res_clear(&r);
	return id;
}

static void
call_expect(
    struct docker_call *(*fn)(struct docker *, const char *, docker_cb, void *),
    const char *id, int status, const char *what)
{
	struct res r = {.fd = -1};

	fn(dk, id, on_result, &r);
	run_until(&r.done, 30, what);
	expect_ok(&r, status, what);
	res_clear(&r);
}

static int
wait_exit(const char *id)
{
	struct res r = {.fd = -1};
	int code;

	docker_wait(dk, id, NULL, on_result, &r);
	run_until(&r.done, 30, "wait");
	expect_ok(&r, 200, "wait");
	code = r.exit_code;
	res_clear(&r);
	return code;
}

/* Reads the attached stream to its end, pending bytes first. */
static char *
read_all(int fd, struct evbuffer *pending, int secs)
{
	struct pollfd pfd = {fd, POLLIN, 0};
	char *out = xcalloc(1, 4096), buf[512];
	size_t n;
	ssize_t r;
	time_t deadline = time(NULL) + secs;

	n = evbuffer_remove(pending, out, 4095);
	while (time(NULL) < deadline) {
		if (poll(&pfd, 1, 200) <= 0)
			continue;
		if ((r = read(fd, buf, sizeof(buf))) == 0)
			return out;
		if (r == -1) {
			if (errno == EAGAIN || errno == EINTR)
				continue;
			fail_msg("read attached fd: %s", strerror(errno));
		}
		if (n + (size_t)r > 4095)
			fail_msg("too much output: %.100s", out);
		memcpy(out + n, buf, (size_t)r);
		n += (size_t)r;
	}
	fail_msg(
	    "attached stream did not end within %d s; got \"%s\"", secs, out);
	return NULL;
}

static void
test_lifecycle(void **state)
{
	static const char *const cmd[] = {
	    "sh", "-c", "echo hello; exit 7", NULL};
	struct res ping = {.fd = -1}, att = {.fd = -1}, r = {.fd = -1};
	char name[128], *id, *out;
	int flags;

	/* Queued before the version is known: both must wait for it. */
	docker_ping(dk, on_result, &ping);
	id = create(cmd, name, sizeof(name));
	assert_true(ping.done);
	expect_ok(&ping, 200, "ping");
	assert_string_equal(ping.api_version, "1.41");
	assert_string_equal(docker_api_version(dk), "1.41");
	res_clear(&ping);

	docker_attach(dk, id, on_result, &att);
	run_until(&att.done, 30, "attach");
	expect_ok(&att, 101, "attach");
	assert_true(att.fd >= 0);
	assert_non_null(att.pending);
	flags = fcntl(att.fd, F_GETFL);
	assert_true(flags & O_NONBLOCK);

	call_expect(docker_start, id, 204, "start");
	out = read_all(att.fd, att.pending, 30);
	assert_string_equal(out, "hello\r\n");
	free(out);
	res_clear(&att);

	assert_int_equal(wait_exit(id), 7);
	call_expect(docker_remove, id, 204, "remove");
	/* Gone already: 404, which remove treats as done. */
	docker_remove(dk, id, on_result, &r);
	run_until(&r.done, 30, "remove again");
	assert_int_equal(r.status, 404);
	assert_null(r.message);
	res_clear(&r);

	docker_list(dk, owner_label, on_result, &r);
	run_until(&r.done, 30, "list");
	expect_ok(&r, 200, "list");
	assert_int_equal(r.ncontainers, 0);
	res_clear(&r);
	out = cli("docker ps -aq --filter label=io.alia.owner=%s", owner);
	assert_string_equal(out, "");
	free(out);
	out = cli("docker ps -aq --filter name=%s", name);
	assert_string_equal(out, "");
	free(out);
	free(id);
}

static void
test_hardening(void **state)
{
	static const char *const cmd[] = {"/bin/sh", NULL};
	struct res r = {.fd = -1};
	char name[128], *id, *out, *want;

	id = create(cmd, name, sizeof(name));
	out =
	    cli("docker inspect -f '{{json .HostConfig.CapDrop}} "
	        "{{json .HostConfig.SecurityOpt}} {{.HostConfig.NetworkMode}} "
	        "{{.HostConfig.ReadonlyRootfs}} {{.HostConfig.PidsLimit}} "
	        "{{.HostConfig.Memory}} {{.HostConfig.MemorySwap}} "
	        "{{.HostConfig.NanoCpus}} {{.HostConfig.Init}} "
	        "{{.Config.User}} {{.Config.Tty}} "
	        "{{index .Config.Labels \"io.alia.owner\"}}' %s",
	        id);
	xasprintf(&want,
	    "[\"ALL\"] [\"no-new-privileges\"] none true 128 268435456 "
	    "268435456 500000000 true 1000:1000 true %s",
	    owner);
	assert_string_equal(out, want);
	free(want);
	free(out);

	/* The client's own view agrees. */
	docker_inspect(dk, id, on_result, &r);
	run_until(&r.done, 30, "inspect");
	expect_ok(&r, 200, "inspect");
	assert_string_equal(r.state, "created");
	assert_string_equal(r.session, name);
	res_clear(&r);

	docker_list(dk, owner_label, on_result, &r);
	run_until(&r.done, 30, "list");
	expect_ok(&r, 200, "list");
	assert_int_equal(r.ncontainers, 1);
	assert_string_equal(r.names[0], name);
	res_clear(&r);

	/* Resize before start is refused by the daemon: 409, its message. */
	docker_resize(dk, id, 40, 120, on_result, &r);
	run_until(&r.done, 30, "resize before start");
	assert_int_equal(r.status, 409);
	assert_non_null(r.message);
	res_clear(&r);

	call_expect(docker_remove, id, 204, "remove");
	out = cli("docker ps -aq --filter id=%s", id);
	assert_string_equal(out, "");
	free(out);
	free(id);
}

static void
test_missing_image(void **state)
{
	static const char *const cmd[] = {"/bin/sh", NULL};
	struct docker_create_opts o;
	struct res r = {.fd = -1};
	char name[128];

	opts_init(&o, cmd, name, sizeof(name));
	o.image = "alia-no-such-image:nope";
	docker_create(dk, &o, on_result, &r);
	run_until(&r.done, 30, "create with a missing image");
	assert_int_equal(r.status, 404);
	assert_non_null(r.message);
	if (strstr(r.message, "alia-no-such-image") == NULL ||
	    strstr(r.message, "No such image") == NULL)
		fail_msg("unexpected message: %s", r.message);
	res_clear(&r);
}

/* A client for a daemon that is not there fails every call cleanly. */
static void
unreachable(const char *host, const char *expect)
{
	static const char *const cmd[] = {"/bin/sh", NULL};
	struct docker_create_opts o;
	struct docker *bad;
	struct res p = {.fd = -1}, c = {.fd = -1}, a = {.fd = -1};
	char name[128];

	bad = docker_new(base, host);
	opts_init(&o, cmd, name, sizeof(name));
	docker_ping(bad, on_result, &p);
	docker_create(bad, &o, on_result, &c);
	docker_attach(bad, "abc", on_result, &a);
	assert_false(p.done); /* never from inside the call */
	run_until(&p.done, 20, host);
	run_until(&c.done, 20, host);
	run_until(&a.done, 20, host);
	assert_int_equal(p.status, 0);
	assert_int_equal(c.status, 0);
	assert_int_equal(a.status, 0);
	assert_int_equal(a.fd, -1);
	assert_non_null(p.message);
	assert_non_null(c.message);
	if (strstr(p.message, expect) == NULL ||
	    strstr(c.message, expect) == NULL)
		fail_msg("%s: unexpected messages: %s / %s", host, p.message,
		    c.message);
	res_clear(&p);
	res_clear(&c);
	res_clear(&a);
	/* And again: a failed negotiation is retried, not cached. */
	docker_ping(bad, on_result, &p);
	run_until(&p.done, 20, host);
	assert_int_equal(p.status, 0);
	assert_non_null(p.message);
	res_clear(&p);
	docker_free(bad);
}

static void
test_unreachable(void **state)
{
	unreachable("unix:///nonexistent.sock", "No such file or directory");
	unreachable("tcp://127.0.0.1:1", "refused");
	unreachable("ftp://nowhere", "unix:///path or tcp://host:port");
}

static void
test_resize_kill(void **state)
{
	static const char *const cmd[] = {"/bin/sh", NULL};
	struct res att = {.fd = -1}, r = {.fd = -1}, w = {.fd = -1};
	char name[128], *id, *out;

	id = create(cmd, name, sizeof(name));
	docker_attach(dk, id, on_result, &att);
	run_until(&att.done, 30, "attach");
	expect_ok(&att, 101, "attach");
	call_expect(docker_start, id, 204, "start");
	call_expect(docker_start, id, 304, "start again");

	docker_resize(dk, id, 40, 120, on_result, &r);
	run_until(&r.done, 30, "resize");
	expect_ok(&r, 200, "resize");
	res_clear(&r);
	out = cli("docker exec %s stty -F /dev/pts/0 size", id);
	assert_string_equal(out, "40 120");
	free(out);

	/* wait sits on its own connection while the control calls go on. */
	docker_wait(dk, id, NULL, on_result, &w);
	docker_inspect(dk, id, on_result, &r);
	run_until(&r.done, 30, "inspect");
	expect_ok(&r, 200, "inspect");
	assert_string_equal(r.state, "running");
	assert_false(w.done);
	res_clear(&r);

	docker_kill(dk, id, "SIGKILL", on_result, &r);
	run_until(&r.done, 30, "kill");
	expect_ok(&r, 204, "kill");
	res_clear(&r);
	run_until(&w.done, 30, "wait");
	expect_ok(&w, 200, "wait");
	assert_int_equal(w.exit_code, 137);
	res_clear(&w);
	res_clear(&att);

	docker_kill(dk, id, "SIGKILL", on_result, &r);
	run_until(&r.done, 30, "kill an exited container");
	assert_int_equal(r.status, 409);
	assert_non_null(r.message);
	res_clear(&r);
	call_expect(docker_remove, id, 204, "remove");
	free(id);
}

struct seen {
	const char *id;
	int start;
	int die;
	int exit_code;
	char session[128];
	int ended;
};

static void
on_event(const struct docker_event *ev, void *arg)
{
	struct seen *s = arg;

	if (ev->id == NULL || strcmp(ev->id, s->id) != 0)
		return;
	if (strcmp(ev->action, "start") == 0)
		s->start = 1;
	else if (strcmp(ev->action, "die") == 0) {
		s->die = 1;
		s->exit_code = ev->exit_code;
		snprintf(s->session, sizeof(s->session), "%s",
		    ev->session != NULL ? ev->session : "");
	}
}

static void
on_events_end(struct docker_result *r, void *arg)
{
	struct seen *s = arg;

	s->ended = 1;
}

static void
test_events(void **state)
{
	static const char *const cmd[] = {"sh", "-c", "exit 3", NULL};
	struct seen s;
	struct docker_call *evs;
	struct res p = {.fd = -1};
	char name[128], *id;

	memset(&s, 0, sizeof(s));
	evs = docker_events(dk, owner_label, on_event, on_events_end, &s);
	/* Give the subscription a moment to be in place. */
	docker_ping(dk, on_result, &p);
	run_until(&p.done, 30, "ping");
	res_clear(&p);
	usleep(200000);
	id = create(cmd, name, sizeof(name));
	s.id = id;
	call_expect(docker_start, id, 204, "start");
	run_until(&s.die, 30, "die event");
	assert_true(s.start);
	assert_int_equal(s.exit_code, 3);
	assert_string_equal(s.session, name);
	assert_false(s.ended);
	docker_cancel(evs);
	call_expect(docker_remove, id, 204, "remove");
	assert_false(s.ended); /* cancelled: no end callback */
	free(id);
}

static void
test_tls_missing(void **state)
{
	struct docker *tls;
	struct res r = {.fd = -1};
	char dir[128];

	snprintf(
	    dir, sizeof(dir), "/nonexistent-alia-certs-%ld", (long)getpid());
	setenv("DOCKER_TLS_VERIFY", "1", 1);
	setenv("DOCKER_CERT_PATH", dir, 1);
	tls = docker_new(base, "tcp://127.0.0.1:2376");
	unsetenv("DOCKER_TLS_VERIFY");
	unsetenv("DOCKER_CERT_PATH");
	docker_ping(tls, on_result, &r);
	assert_false(r.done);
	run_until(&r.done, 10, "ping over TLS without certificates");
	assert_int_equal(r.status, 0);
	assert_non_null(r.message);
	if (strstr(r.message, "TLS") == NULL ||
	    strstr(r.message, "ca.pem") == NULL ||
	    strstr(r.message, dir) == NULL)
		fail_msg("unclear TLS error: %s", r.message);
	res_clear(&r);
	docker_free(tls);
}

/*
 * A scripted peer on a unix socket for the faults a healthy daemon does not
 * produce on demand. It is not a stand-in for Docker: it answers each
 * request with the next canned bytes, or closes. One string per request;
 * NULL closes the connection without answering, "" ends a connection's
 * script after the previous answer by closing.
 */
struct peer_conn {
	const char *answers[4];
};

static const char ping_ok[] = "HTTP/1.1 200 OK\r\nApi-Version: 1.41\r\n"
                              "Content-Length: 2\r\n\r\nOK";

static void
peer_serve(int fd, const struct peer_conn *script)
{
	char buf[8192];
	size_t n, i;
	ssize_t r;
	char *end, *cl;
	size_t need;

	for (i = 0; i < 4; i++) {
		n = 0;
		for (;;) {
			buf[n] = '\0';
			if ((end = strstr(buf, "\r\n\r\n")) != NULL) {
				need = (size_t)(end + 4 - buf);
				if ((cl = strcasestr(buf, "Content-Length:")) !=
				        NULL &&
				    cl < end)
					need += strtoul(cl + 15, NULL, 10);
				if (n >= need)
					break;
			}
			if (n == sizeof(buf) - 1 ||
			    (r = read(fd, buf + n, sizeof(buf) - 1 - n)) <= 0)
				return;
			n += (size_t)r;
		}
		if (script->answers[i] == NULL || *script->answers[i] == '\0')
			return;
		if (write(fd, script->answers[i], strlen(script->answers[i])) ==
		    -1)
			return;
		if (script->answers[i + 1] != NULL &&
		    *script->answers[i + 1] == '\0')
			return;
	}
}

/* Forks the peer; returns its pid, its socket path in path. */
static pid_t
peer_start(const struct peer_conn *conns, size_t nconns, char *path, size_t len)
{
	struct sockaddr_un sun;
	pid_t pid;
	size_t i;
	int s, c;

	snprintf(path, len, "/tmp/alia-test-peer-%ld.sock", (long)getpid());
	unlink(path);
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	if (strlen(path) >= sizeof(sun.sun_path))
		fail_msg("peer socket path too long: %s", path);
	memcpy(sun.sun_path, path, strlen(path) + 1);
	if ((s = socket(AF_UNIX, SOCK_STREAM, 0)) == -1 ||
	    bind(s, (struct sockaddr *)&sun, sizeof(sun)) == -1 ||
	    listen(s, 8) == -1)
		fail_msg("peer socket %s: %s", path, strerror(errno));
	if ((pid = fork()) == -1)
		fail_msg("fork: %s", strerror(errno));
	if (pid == 0) {
		alarm(30);
		for (i = 0; i < nconns; i++) {
			if ((c = accept(s, NULL, NULL)) == -1)
				_exit(1);
			peer_serve(c, &conns[i]);
			close(c);
		}
		_exit(0);
	}
	close(s);
	return pid;
}

static void
peer_stop(pid_t pid, const char *path)
{
	kill(pid, SIGTERM);
	waitpid(pid, NULL, 0);
	unlink(path);
}

/* Runs one call against a scripted peer; the result goes to r. */
static void
peer_call(const struct peer_conn *conns, size_t nconns, int op, struct res *r)
{
	static const char *const cmd[] = {"/bin/sh", NULL};
	struct docker_create_opts o;
	struct docker *pd;
	char path[128], host[160], name[128];
	pid_t pid;

	pid = peer_start(conns, nconns, path, sizeof(path));
	snprintf(host, sizeof(host), "unix://%s", path);
	pd = docker_new(base, host);
	if (op == 0)
		docker_ping(pd, on_result, r);
	else if (op == 1)
		docker_inspect(pd, "abc", on_result, r);
	else {
		opts_init(&o, cmd, name, sizeof(name));
		docker_create(pd, &o, on_result, r);
	}
	run_until(&r->done, 20, "call to the scripted peer");
	docker_free(pd);
	peer_stop(pid, path);
}

/*
 * Runs call op against a peer of one scripted connection, and expects a
 * failure with status whose message holds part.
 */
static void
peer_fails(const struct peer_conn *conn, int op, int status, const char *part,
    const char *what)
{
	struct res r = {.fd = -1};

	peer_call(conn, 1, op, &r);
	assert_int_equal(r.status, status);
	assert_non_null(r.message);
	if (strstr(r.message, part) == NULL)
		fail_msg("%s: %s", what, r.message);
	res_clear(&r);
}

static void
test_faulty_peer(void **state)
{
	/* Keep-alive connection closed under the next request: resent. */
	static const struct peer_conn reconnect[] = {
	    {{ping_ok, NULL}},
	    {{"HTTP/1.1 200 OK\r\nApi-Version: 1.40\r\n"
	      "Content-Length: 2\r\n\r\nOK"}},
	};
	static const struct peer_conn midway[] = {
	    {{ping_ok,
	        "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n"
	        "{\"Id\": \"abc",
	        ""}},
	};
	static const struct peer_conn garbage[] = {
	    {{"SSH-2.0-OpenSSH_9.2\r\n\r\n"}},
	};
	static const struct peer_conn too_old[] = {
	    {{ping_ok,
	        "HTTP/1.1 400 Bad Request\r\n"
	        "Content-Type: text/plain; charset=utf-8\r\n"
	        "Content-Length: 42\r\n\r\n"
	        "client version 1.10 is too old. Minimum x\n"}},
	};
	static const struct peer_conn silent_close[] = {
	    {{NULL}},
	};
	struct res r = {.fd = -1};

	peer_call(reconnect, 2, 0, &r);
	expect_ok(&r, 200, "ping after the daemon closed keep-alive");
	assert_string_equal(r.api_version, "1.40");
	res_clear(&r);

	peer_fails(
	    midway, 1, 200, "middle of a response", "mid-response close");
	peer_fails(garbage, 0, 0, "malformed response", "garbage");

	peer_call(too_old, 1, 2, &r);
	assert_int_equal(r.status, 400);
	assert_non_null(r.message);
	assert_string_equal(r.message,
	    "client version 1.10 is too old. "
	    "Minimum x");
	res_clear(&r);

	peer_fails(silent_close, 0, 0, "closed the connection", "silent close");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_teardown(test_lifecycle, teardown),
	    cmocka_unit_test_teardown(test_hardening, teardown),
	    cmocka_unit_test_teardown(test_missing_image, teardown),
	    cmocka_unit_test_teardown(test_unreachable, teardown),
	    cmocka_unit_test_teardown(test_resize_kill, teardown),
	    cmocka_unit_test_teardown(test_events, teardown),
	    cmocka_unit_test_teardown(test_tls_missing, teardown),
	    cmocka_unit_test_teardown(test_faulty_peer, teardown),
	};

	return cmocka_run_group_tests(tests, setup_group, teardown_group);
}
