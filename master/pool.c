/* SPDX-License-Identifier: ISC */
/*
 * The warm pool: containers made ahead of demand, so that a new session
 * need not wait for runc (hundreds of ms) before its first prompt. This
 * file owns them until a session takes one; they belong to no one.
 *
 * A pool container moves CREATING -> ATTACHING -> STARTING -> READY:
 *   CREATING   created with the sessions' hardening and the global limits,
 *              for a session id drawn now (container_session_id): named
 *              alia-ID and labelled with it, as a session's, and also
 *              io.alia.pool; the session that takes it gets that id;
 *   ATTACHING  attached before start, as a session's, so no output is
 *              lost;
 *   STARTING   started; its stream is read until the shell prints;
 *   READY      the first output is held here (out), and anything more the
 *              shell prints is added to it.
 * Each also has a worker forked for it at once (container_worker_spawn)
 * and configured at once, so it runs as the unprivileged user from the
 * start, waiting for its session's fds: a fork and an exec under load take
 * longer than everything else a session needs from the pool.
 * pool_take() hands a READY one, with its stream, output and worker, to
 * a new session and forgets it; pool_drop() removes one (an error on the
 * way, an image that changed, a stop) and kills its worker. Either way it
 * leaves the pool once and is never used twice.
 *
 * Each environment has a pool of its own: `pool` containers of its image.
 * Filling (pool_fill) first asks Docker for each environment's image id:
 * containers of another id are dropped. Then containers are made until
 * each environment an engine has the image of has `pool` of them,
 * sessions and pool together no more than max_sessions. A Docker
 * error backs off (1 s doubling to 60 s) and never holds up a session,
 * which then makes its own container. The image is looked at again every
 * POOL_CHECK_MS (10 s); a SIGHUP drops the whole pool (pool_reload), whose
 * workers were configured under the old configuration, and fills it
 * again. Docker calls carry the container's 64-bit id, found
 * again in the list when Docker answers: one dropped meanwhile is gone
 * and only what Docker made for it is removed.
 */
#include <sys/queue.h>
#include <sys/types.h>
#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/event.h>

#include "common/backoff.h"
#include "common/config.h"
#include "common/log.h"
#include "common/msg.h"
#include "common/proto.h"
#include "common/str.h"
#include "common/uuid.h"
#include "common/xmalloc.h"
#include "master/master.h"

#define POOL_CHECK_MS    10000
#define POOL_BACKOFF_MIN 1000
#define POOL_BACKOFF_MAX 60000
#define POOL_FIRST_MS    10000 /* the shell's first output, at most */
#define POOL_OUT_MAX     16384 /* held output; more drops the container */

enum pool_state {
	POOL_CREATING,
	POOL_ATTACHING,
	POOL_STARTING,
	POOL_READY,
};

struct pool_ctr {
	TAILQ_ENTRY(pool_ctr) entry;
	uint64_t id; /* the docker calls' reference */
	struct engine *engine;
	int env; /* its environment: an index of conf->env */
	enum pool_state state;
	struct uuid session;
	char sid[SESSION_ID_LEN];
	char name[64];
	char container[80];
	char image_id[80]; /* the image's id when it was made */
	struct pool_limits limits;
	int fd; /* the attach stream, or -1 */
	struct evbuffer *out;
	struct event *ev;      /* reads fd */
	struct event *ev_wait; /* the first output is late */
	pid_t worker;          /* forked ahead; 0: none (failed, died) */
	int worker_fd;         /* its channel, or -1 */
};
TAILQ_HEAD(pool_list, pool_ctr);

static struct {
	struct event_base *base;
	const struct config *conf;
	struct pool_list list;
	size_t n;
	uint64_t next_id;
	char image_id[CONFIG_ENVS][80]; /* each environment's; "": unknown */
	int started; /* filling may begin (the reconcile is done) */
	int stopping;
	int checking;           /* an image's id is asked for */
	int check_env;          /* whose */
	int calls;              /* docker calls in flight */
	uint64_t taken, missed; /* sessions given one, or none (pool > 0) */
	pid_t *dying; /* workers of forgotten containers, killed, not reaped */
	size_t ndying;
	/* forgotten while being created: where to remove what comes */
	struct pool_orphan {
		uint64_t id;
		struct engine *engine;
	} * orphans;
	size_t norphans;
	struct backoff bo;
	struct event *ev_fill;
} pl;

static void pool_fill(void);

static struct pool_ctr *
pool_find(uint64_t id)
{
	struct pool_ctr *p;

	TAILQ_FOREACH (p, &pl.list, entry)
		if (p->id == id)
			return p;
	return NULL;
}

/* The container a call's answer is for, or NULL: dropped meanwhile. */
static struct pool_ctr *
pool_answer(void *arg)
{
	pl.calls--;
	return pool_find((uint64_t)(uintptr_t)arg);
}

static void *
pool_arg(const struct pool_ctr *p)
{
	pl.calls++;
	return (void *)(uintptr_t)p->id;
}

static void
pool_logged(struct docker_result *r, void *arg)
{
	pl.calls--;
	if (r->status == 0 || r->status >= 400)
		log_warnx("pool: removing a container: %s (status %d)",
		    r->message != NULL ? r->message : "error", r->status);
}

static void
pool_remove_id(struct engine *e, const char *container)
{
	pl.calls++;
	docker_remove(engine_docker(e), container, pool_logged, NULL);
}

/* Kills the worker forked for p, unless it was taken; reaped later. */
static void
pool_kill_worker(struct pool_ctr *p)
{
	if (p->worker_fd != -1)
		close(p->worker_fd);
	p->worker_fd = -1;
	if (p->worker == 0)
		return;
	kill(p->worker, SIGKILL);
	pl.dying = xreallocarray(pl.dying, pl.ndying + 1, sizeof(*pl.dying));
	pl.dying[pl.ndying++] = p->worker;
	p->worker = 0;
}

/* Forgets p: its stream closed, its output freed, its worker killed. */
static void
pool_forget(struct pool_ctr *p)
{
	pool_kill_worker(p);
	if (p->state == POOL_CREATING) {
		pl.orphans = xreallocarray(
		    pl.orphans, pl.norphans + 1, sizeof(*pl.orphans));
		pl.orphans[pl.norphans].id = p->id;
		pl.orphans[pl.norphans++].engine = p->engine;
	}
	TAILQ_REMOVE(&pl.list, p, entry);
	pl.n--;
	if (p->ev != NULL)
		event_free(p->ev);
	event_free(p->ev_wait);
	if (p->fd != -1)
		close(p->fd);
	evbuffer_free(p->out);
	free(p);
}

/* Removes p from the pool and from Docker. */
static void
pool_drop(struct pool_ctr *p, const char *why)
{
	if (why != NULL)
		log_info("pool: dropping %s (%s)", p->name, why);
	if (p->container[0] != '\0')
		pool_remove_id(p->engine, p->container);
	pool_forget(p);
}

/* A step failed: p goes, and the next fill waits longer. */
static void
pool_fail(struct pool_ctr *p, const char *what, struct docker_result *r)
{
	int ms;

	ms = backoff_arm(&pl.bo, pl.ev_fill);
	log_warnx("pool: %s of %s failed: %s (status %d); filling again in "
	          "%d ms",
	    what, p->name,
	    r != NULL && r->message != NULL ? r->message : "error",
	    r != NULL ? r->status : 0, ms);
	pool_drop(p, NULL);
}

static void
pool_late_cb(evutil_socket_t fd, short what, void *arg)
{
	pool_fail(arg, "the shell's first output", NULL);
}

static void
pool_read_cb(evutil_socket_t fd, short what, void *arg)
{
	struct pool_ctr *p = arg;
	int n;

	n = evbuffer_read(p->out, fd, 4096);
	if (n == -1 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n <= 0 || evbuffer_get_length(p->out) > POOL_OUT_MAX) {
		pool_fail(p, n <= 0 ? "the stream" : "the first output", NULL);
		return;
	}
	if (p->state == POOL_READY)
		return;
	p->state = POOL_READY;
	backoff_reset(&pl.bo);
	evtimer_del(p->ev_wait);
	log_debug("pool: %s ready", p->name);
}

static void
pool_started(struct docker_result *r, void *arg)
{
	struct timeval tv = {POOL_FIRST_MS / 1000, 0};
	struct pool_ctr *p;

	if ((p = pool_answer(arg)) == NULL)
		return;
	if (r->status != 204 && r->status != 304) {
		pool_fail(p, "start", r);
		return;
	}
	p->state = POOL_STARTING;
	event_add(p->ev, NULL);
	evtimer_add(p->ev_wait, &tv);
}

static void
pool_attached(struct docker_result *r, void *arg)
{
	struct pool_ctr *p;

	if ((p = pool_answer(arg)) == NULL)
		return; /* the fd is closed by the client */
	if (r->status != 101 || r->fd == -1) {
		pool_fail(p, "attach", r);
		return;
	}
	p->fd = r->fd;
	r->fd = -1;
	if (r->pending != NULL)
		evbuffer_add_buffer(p->out, r->pending);
	p->ev =
	    event_new(pl.base, p->fd, EV_READ | EV_PERSIST, pool_read_cb, p);
	if (p->ev == NULL)
		fatalx("%s: event_new", __func__);
	docker_start(
	    engine_docker(p->engine), p->container, pool_started, pool_arg(p));
}

static void
pool_created(struct docker_result *r, void *arg)
{
	struct pool_ctr *p;
	size_t i;

	if ((p = pool_answer(arg)) == NULL) {
		for (i = 0; i < pl.norphans; i++)
			if (pl.orphans[i].id == (uint64_t)(uintptr_t)arg)
				break;
		if (i == pl.norphans)
			return;
		if (r->status == 201 && r->id != NULL)
			pool_remove_id(pl.orphans[i].engine, r->id);
		pl.orphans[i] = pl.orphans[--pl.norphans];
		return;
	}
	if (r->status != 201 || r->id == NULL) {
		pool_fail(p, "create", r);
		return;
	}
	if (str_copy(p->container, sizeof(p->container), r->id) == -1)
		snprintf(p->container, sizeof(p->container), "%s", p->name);
	if (pl.stopping || strcmp(p->image_id, pl.image_id[p->env]) != 0) {
		pool_drop(p, "no longer wanted");
		return;
	}
	p->state = POOL_ATTACHING;
	docker_attach(
	    engine_docker(p->engine), p->container, pool_attached, pool_arg(p));
}

/*
 * Forks p's worker ahead and configures it at once, so that it drops root
 * now rather than when a session takes it; none (0) if either fails.
 */
static void
pool_spawn_worker(struct pool_ctr *p)
{
	if ((p->worker_fd = container_worker_spawn(&p->worker)) == -1) {
		p->worker = 0;
		return;
	}
	if (msg_send_config_blocking(p->worker_fd, &p->session, pl.conf) ==
	    -1) {
		log_warn("pool: configuring the worker forked for %s", p->sid);
		pool_kill_worker(p);
	}
}

/* Makes one pool container of env; -1 when no engine takes one. */
static int
pool_make(int env)
{
	struct docker_create_opts o;
	struct pool_ctr *p;
	struct engine *e;

	if ((e = engine_pick(env)) == NULL)
		return -1;
	p = xcalloc(1, sizeof(*p));
	p->engine = e;
	p->env = env;
	p->id = ++pl.next_id;
	p->fd = -1;
	p->worker_fd = -1;
	p->out = evbuffer_new();
	p->ev_wait = evtimer_new(pl.base, pool_late_cb, p);
	if (p->out == NULL || p->ev_wait == NULL)
		fatalx("%s: evbuffer_new", __func__);
	container_session_id(&p->session);
	uuid_format(&p->session, p->sid);
	pool_spawn_worker(p);
	snprintf(p->name, sizeof(p->name), "alia-%s", p->sid);
	memcpy(p->image_id, pl.image_id[env], sizeof(p->image_id));
	TAILQ_INSERT_TAIL(&pl.list, p, entry);
	pl.n++;
	container_sandbox(&o, p->name, env);
	o.session = p->sid;
	o.pool = 1;
	o.engine = engine_name(e);
	p->limits.memory = o.memory;
	p->limits.nano_cpus = o.nano_cpus;
	p->limits.pids = o.pids_limit;
	docker_create(engine_docker(e), &o, pool_created, pool_arg(p));
	return 0;
}

/*
 * Drops every container of env not of the image's id (all of them: NULL;
 * of every environment: env -1).
 */
static void
pool_drop_other(int env, const char *image_id, const char *why)
{
	struct pool_ctr *p, *next;

	for (p = TAILQ_FIRST(&pl.list); p != NULL; p = next) {
		next = TAILQ_NEXT(p, entry);
		if ((env == -1 || p->env == env) &&
		    (image_id == NULL || strcmp(p->image_id, image_id) != 0))
			pool_drop(p, why);
	}
}

/* Pool containers of env, being made or ready. */
static int64_t
pool_count(int env)
{
	struct pool_ctr *p;
	int64_t n = 0;

	TAILQ_FOREACH (p, &pl.list, entry)
		if (p->env == env)
			n++;
	return n;
}

/*
 * Makes containers up to `pool` for each environment, within
 * max_sessions; the default environment's first.
 */
static void
pool_top_up(void)
{
	int64_t room, have;
	int env;

	room = pl.conf->max_sessions - container_live() - (int64_t)pl.n;
	for (env = 0; env < pl.conf->nenvs; env++) {
		if (pl.image_id[env][0] == '\0')
			continue;
		have = pool_count(env);
		while (have < pl.conf->pool && room > 0) {
			if (pool_make(env) == -1)
				break;
			have++;
			room--;
		}
	}
}

/* The image is looked at again later, unless a backoff's wait is set. */
static void
pool_check_later(void)
{
	struct timeval tv = {POOL_CHECK_MS / 1000, 0};

	if (!evtimer_pending(pl.ev_fill, NULL))
		evtimer_add(pl.ev_fill, &tv);
}

static void pool_check_next(void);

static void
pool_imaged(struct docker_result *r, void *arg)
{
	const char *image = pl.conf->env[pl.check_env].image;
	char *id = pl.image_id[pl.check_env];
	int ms;

	pl.calls--;
	pl.checking = 0;
	if (pl.stopping)
		return;
	if (r->status != 200 || r->id == NULL) {
		ms = backoff_arm(&pl.bo, pl.ev_fill);
		log_warnx("pool: the image %s: %s (status %d); trying again "
		          "in %d ms",
		    image, r->message != NULL ? r->message : "error", r->status,
		    ms);
		return;
	}
	if (strcmp(id, r->id) != 0) {
		if (id[0] != '\0')
			log_info(
			    "pool: the image %s is now %.19s", image, r->id);
		if (str_copy(id, sizeof(pl.image_id[0]), r->id) == -1)
			id[0] = '\0';
		pool_drop_other(pl.check_env, id, "the image changed");
	}
	pl.check_env++;
	pool_check_next();
}

/*
 * Asks for the image id of the next environment an engine has, from
 * check_env on; after the last, fills the pool.
 */
static void
pool_check_next(void)
{
	struct engine *e;

	for (; pl.check_env < pl.conf->nenvs; pl.check_env++) {
		/* Engines hold the same image id: one loaded from another's. */
		if ((e = engine_pick(pl.check_env)) == NULL)
			continue;
		pl.checking = 1;
		pl.calls++;
		docker_image(engine_docker(e), pl.conf->env[pl.check_env].image,
		    pool_imaged, NULL);
		return;
	}
	pool_check_later();
	pool_top_up();
}

/* Looks at the images, then fills the pool. */
static void
pool_fill(void)
{
	if (!pl.started || pl.stopping || pl.checking)
		return;
	if (pl.conf->pool == 0) {
		pool_drop_other(-1, NULL, "pool = 0");
		pool_check_later();
		return;
	}
	pl.check_env = 0;
	pool_check_next();
}

static void
pool_fill_cb(evutil_socket_t fd, short what, void *arg)
{
	pool_fill();
}

void
pool_init(struct event_base *base, const struct config *conf)
{
	memset(&pl, 0, sizeof(pl));
	pl.base = base;
	pl.conf = conf;
	TAILQ_INIT(&pl.list);
	backoff_init(&pl.bo, POOL_BACKOFF_MIN, POOL_BACKOFF_MAX);
	if ((pl.ev_fill = evtimer_new(base, pool_fill_cb, NULL)) == NULL)
		fatalx("%s: evtimer_new", __func__);
}

void
pool_start(void)
{
	pl.started = 1;
	pool_fill();
}

void
pool_kick(void)
{
	/* Not while backing off: the timer is set for later. */
	if (!backoff_failing(&pl.bo))
		pool_fill();
}

int
pool_take(int env, struct pool_taken *t)
{
	struct pool_ctr *p;

	/* Not one on an engine drained or lost meanwhile. */
	TAILQ_FOREACH (p, &pl.list, entry)
		if (p->env == env && p->state == POOL_READY &&
		    engine_usable(p->engine))
			break;
	if (p == NULL) {
		if (pl.conf->pool > 0)
			pl.missed++;
		return -1;
	}
	pl.taken++;
	t->session = p->session;
	t->engine = p->engine;
	memcpy(t->container, p->container, sizeof(t->container));
	t->limits = p->limits;
	t->fd = p->fd;
	t->out = p->out;
	t->worker = p->worker;
	t->worker_fd = p->worker_fd;
	p->fd = -1;
	p->worker = 0;
	p->worker_fd = -1;
	p->out = evbuffer_new();
	if (p->out == NULL)
		fatalx("%s: evbuffer_new", __func__);
	log_debug("pool: %s taken", p->name);
	pool_forget(p);
	return 0;
}

int
pool_reaped(pid_t pid)
{
	struct pool_ctr *p;
	size_t i;

	for (i = 0; i < pl.ndying; i++)
		if (pl.dying[i] == pid) {
			pl.dying[i] = pl.dying[--pl.ndying];
			return 1;
		}
	TAILQ_FOREACH (p, &pl.list, entry)
		if (p->worker == pid) {
			log_warnx("pool: the worker forked for %s exited; its "
			          "session will fork its own",
			    p->name);
			p->worker = 0;
			close(p->worker_fd);
			p->worker_fd = -1;
			return 1;
		}
	return 0;
}

int
pool_reserved(const struct uuid *u)
{
	struct pool_ctr *p;

	TAILQ_FOREACH (p, &pl.list, entry)
		if (uuid_cmp(&p->session, u) == 0)
			return 1;
	return 0;
}

void
pool_reload(void)
{
	if (pl.stopping)
		return;
	pool_drop_other(-1, NULL, "the configuration was reloaded");
	pool_kick();
}

int
pool_engine_held(const struct engine *e)
{
	struct pool_ctr *p;
	int n = 0;

	TAILQ_FOREACH (p, &pl.list, entry)
		if (p->engine == e)
			n++;
	return n;
}

void
pool_engine_gone(struct engine *e, int remove)
{
	struct pool_ctr *p, *next;

	for (p = TAILQ_FIRST(&pl.list); p != NULL; p = next) {
		next = TAILQ_NEXT(p, entry);
		if (p->engine != e)
			continue;
		if (remove)
			pool_drop(p, "its engine was drained");
		else
			pool_forget(p);
	}
	pool_kick();
}

void
pool_metrics(struct msg_metrics *m)
{
	struct pool_ctr *p;

	m->pool_containers = pl.n;
	m->pool_ready = 0;
	TAILQ_FOREACH (p, &pl.list, entry)
		if (p->state == POOL_READY)
			m->pool_ready++;
	m->pool_taken = pl.taken;
	m->pool_missed = pl.missed;
}

void
pool_shutdown(void)
{
	pl.stopping = 1;
	evtimer_del(pl.ev_fill);
	pool_drop_other(-1, NULL, NULL);
}

int
pool_busy(void)
{
	return pl.calls > 0 || pl.ndying > 0;
}

void
pool_free(void)
{
	struct pool_ctr *p;

	while ((p = TAILQ_FIRST(&pl.list)) != NULL)
		pool_forget(p);
	if (pl.ev_fill != NULL)
		event_free(pl.ev_fill);
	pl.ev_fill = NULL;
	free(pl.dying);
	pl.dying = NULL;
	free(pl.orphans);
	pl.orphans = NULL;
	pl.norphans = 0;
	pl.ndying = 0;
}
