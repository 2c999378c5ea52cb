/* SPDX-License-Identifier: ISC */
/*
 * The Docker engines sessions are placed on (`docker`, NAME=URL, ...):
 * each has a client of its own (docker.c), so calls to one never queue
 * behind another's, and this file owns what master knows of them: whether
 * they answer, whether they hold the image, whether an operator drained
 * them, how long they take to create a container.
 *
 * An engine is pinged every ENGINE_PING_MS; a ping not answered within
 * ENGINE_PING_TIMEOUT_MS fails, and ENGINE_DOWN_AFTER failures in a row
 * make it down (one, for an engine that never answered: it holds
 * nothing): its live sessions end ("engine lost", container.c) and its
 * pool containers are forgotten. An engine that answers (first, or
 * again) is prepared before it takes sessions: each environment's image
 * is looked for and, when missing, copied from a ready engine that has it
 * (export to an unlinked file under data_dir, then load: the image never
 * sits in master's memory); an image no engine has is skipped, and looked
 * for again every ENGINE_RECHECK_PINGS (an operator may build it later).
 * An engine with no image at all is "noimage". Then this instance's
 * containers there are reconciled with the rows of sessions placed there
 * (container_engine_reconcile: taken up or removed, as after a restart).
 * Only then is it ready.
 *
 * Placement (engine_pick): among the ready, undrained engines under their
 * capacity that have the environment's image, the one with the fewest
 * sessions and pool containers relative to its capacity; ties go to the
 * lowest recent create latency.
 *
 * alia.engines holds each engine's state for `alia engine list`, and the
 * drain an operator set: `alia engine drain NAME` writes it and notifies
 * master (alia_engine, "drain NAME" or "undrain NAME"); at start, and
 * when the listener reconnects, master reads it again.
 */
#include <sys/types.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>
#include <libpq-fe.h>

#include "common/clock.h"
#include "common/config.h"
#include "common/log.h"
#include "common/proto.h"
#include "common/xmalloc.h"
#include "master/master.h"

#define ENGINE_PING_MS         2000
#define ENGINE_PING_TIMEOUT_MS 2000
#define ENGINE_DOWN_AFTER      3
#define ENGINE_WRITE_EVERY     5  /* pings between rows written unchanged */
#define ENGINE_RECHECK_PINGS   15 /* pings between looks for lacking images */

enum engine_state {
	ENGINE_UNKNOWN, /* not answered yet */
	ENGINE_UP,
	ENGINE_DOWN,
};

struct engine {
	int index;
	struct config_engine conf;
	struct docker *docker;
	enum engine_state state;
	int ready;            /* takes sessions */
	int preparing;        /* image check, copy or reconcile under way */
	int noimage;          /* answers, lacks every environment's image */
	uint32_t have;        /* environment i's image is there: bit i */
	uint32_t logged_have; /* have, when last logged */
	uint32_t copied;      /* copies tried in this preparation */
	int img;              /* the environment whose image is looked for */
	int rechecks;         /* pings since the lacking images were sought */
	int drained;
	int fails;       /* pings failed in a row */
	char error[160]; /* why the last ping failed */
	struct docker_call *ping;
	int64_t ping_t0;   /* monotonic us */
	int64_t ping_us;   /* the last answered ping's round trip */
	int64_t last_ping; /* unix us of that answer */
	int64_t create_us; /* recent create latency, averaged */
	uint64_t lost;
	int pings;     /* since its row was written */
	char row[128]; /* what was written last */
	int64_t copy_t0;
	int copy_fd; /* the image being copied here, or -1 */
	struct event *ev_ping;
	struct event *ev_timeout;
};

static struct {
	struct event_base *base;
	const struct config *conf;
	struct pgc *db;
	struct engine e[CONFIG_ENGINES];
	int n;
	int stopping;
} en;

static void engine_prepare(struct engine *);

static const char *
engine_state_name(const struct engine *e)
{
	if (e->state == ENGINE_UP)
		return e->noimage ? "noimage" : "up";
	return e->state == ENGINE_DOWN ? "down" : "unknown";
}

/* Writes e's row when it changed, or every few pings for its times. */
static void
engine_write(struct engine *e, int force)
{
	char sessions[16], capacity[24], ping[32], create[32], last[32];
	char row[sizeof(e->row)];
	const char *p[7];

	snprintf(
	    sessions, sizeof(sessions), "%d", container_engine_sessions(e));
	snprintf(
	    capacity, sizeof(capacity), "%lld", (long long)e->conf.capacity);
	snprintf(row, sizeof(row), "%s %s %s", engine_state_name(e), sessions,
	    capacity);
	if (!force && strcmp(row, e->row) == 0 &&
	    ++e->pings < ENGINE_WRITE_EVERY)
		return;
	e->pings = 0;
	snprintf(e->row, sizeof(e->row), "%s", row);
	snprintf(ping, sizeof(ping), "%.3f", e->ping_us / 1000.0);
	snprintf(create, sizeof(create), "%.3f", e->create_us / 1000.0);
	snprintf(last, sizeof(last), "%lld.%06lld",
	    (long long)(e->last_ping / 1000000),
	    (long long)(e->last_ping % 1000000));
	p[0] = e->conf.name;
	p[1] = engine_state_name(e);
	p[2] = sessions;
	p[3] = capacity;
	p[4] = e->last_ping != 0 ? last : NULL;
	p[5] = e->last_ping != 0 ? ping : NULL;
	p[6] = e->create_us != 0 ? create : NULL;
	pgc_exec(en.db,
	    "UPDATE alia.engines SET state = $2, sessions = $3, "
	    "capacity = $4, last_ping_at = to_timestamp($5::float8), "
	    "ping_ms = $6, create_ms = $7, updated_at = now() "
	    "WHERE name = $1",
	    7, p, PGC_RETRY);
}

/* No more sessions there: they end, its pool containers are forgotten. */
static void
engine_down(struct engine *e, const char *why)
{
	int had = e->state == ENGINE_UP;

	e->state = ENGINE_DOWN;
	e->ready = 0;
	e->noimage = 0;
	e->have = 0;
	e->lost++;
	log_warnx("engine %s (%s) is down: %s%s", e->conf.name, e->conf.url,
	    why, had ? "; its sessions end (engine lost)" : "");
	container_engine_lost(e);
	pool_engine_gone(e, 0);
	engine_write(e, 1);
}

static void
engine_ping_failed(struct engine *e, const char *why)
{
	snprintf(e->error, sizeof(e->error), "%s", why);
	/* One that never answered holds nothing: no need to wait. */
	if (++e->fails < ENGINE_DOWN_AFTER && e->state != ENGINE_UNKNOWN) {
		log_debug("engine %s: ping failed (%d): %s", e->conf.name,
		    e->fails, why);
		return;
	}
	if (e->state != ENGINE_DOWN)
		engine_down(e, why);
	else if (e->fails == ENGINE_DOWN_AFTER)
		log_debug("engine %s: still down: %s", e->conf.name, why);
}

static void
engine_pinged(struct docker_result *r, void *arg)
{
	struct engine *e = arg;

	e->ping = NULL;
	evtimer_del(e->ev_timeout);
	if (r->status != 200) {
		engine_ping_failed(
		    e, r->message != NULL ? r->message : "ping failed");
		engine_write(e, 0);
		return;
	}
	e->fails = 0;
	e->ping_us = clock_mono_us() - e->ping_t0;
	e->last_ping = clock_wall_us();
	if (e->state != ENGINE_UP) {
		log_info("engine %s (%s) is up%s (ping %.1f ms)", e->conf.name,
		    e->conf.url, e->state == ENGINE_DOWN ? " again" : "",
		    e->ping_us / 1000.0);
		e->state = ENGINE_UP;
	}
	if (!e->ready && !e->preparing)
		engine_prepare(e);
	else if (e->ready && !e->preparing &&
	    e->have != (1u << en.conf->nenvs) - 1 &&
	    ++e->rechecks >= ENGINE_RECHECK_PINGS) {
		e->rechecks = 0;
		engine_prepare(e);
	}
	engine_write(e, 0);
}

static void
engine_timeout_cb(evutil_socket_t fd, short what, void *arg)
{
	struct engine *e = arg;

	if (e->ping == NULL)
		return;
	docker_cancel(e->ping);
	e->ping = NULL;
	engine_ping_failed(e, "no answer to /_ping in time");
	engine_write(e, 0);
}

static void
engine_ping_cb(evutil_socket_t fd, short what, void *arg)
{
	struct engine *e = arg;
	struct timeval every = {
	    ENGINE_PING_MS / 1000, (ENGINE_PING_MS % 1000) * 1000};
	struct timeval limit = {ENGINE_PING_TIMEOUT_MS / 1000,
	    (ENGINE_PING_TIMEOUT_MS % 1000) * 1000};

	if (en.stopping)
		return;
	evtimer_add(e->ev_ping, &every);
	if (e->ping != NULL)
		return; /* the timeout sees to it */
	e->ping_t0 = clock_mono_us();
	e->ping = docker_ping(e->docker, engine_pinged, e);
	evtimer_add(e->ev_timeout, &limit);
}

/* Ready: it takes sessions and pool containers from now on. */
void
engine_reconciled(struct engine *e)
{
	e->preparing = 0;
	if (e->state != ENGINE_UP || e->noimage)
		return;
	e->ready = 1;
	log_info("engine %s: takes sessions%s", e->conf.name,
	    e->drained ? " (but is drained)" : "");
	engine_write(e, 1);
	pool_kick();
	container_engines_changed();
}

static void engine_imaged(struct docker_result *, void *);

/* The image of environment i. */
static const char *
env_image(int i)
{
	return en.conf->env[i].image;
}

/*
 * Every environment's image was looked for (and copied when another
 * engine had it): e is prepared when it has one at least; a recheck of
 * a ready engine only learns of images added since.
 */
static void
engine_images_done(struct engine *e)
{
	char have[256] = "", lack[256] = "", *to;
	int i;

	for (i = 0; i < en.conf->nenvs; i++) {
		to = (e->have & (1u << i)) ? have : lack;
		snprintf(to + strlen(to), sizeof(have) - strlen(to), "%s%s",
		    to[0] ? ", " : "", en.conf->env[i].name);
	}
	if (e->have != e->logged_have) {
		e->logged_have = e->have;
		if (lack[0] != '\0')
			log_warnx("engine %s: no image for environment%s %s "
			          "(script/make-sandbox-image builds them)%s%s",
			    e->conf.name, strchr(lack, ',') ? "s" : "", lack,
			    have[0] ? "; it has " : "", have);
		else
			log_info("engine %s: has the image of every "
			         "environment (%s)",
			    e->conf.name, have);
	}
	if (e->have == 0) {
		e->preparing = 0;
		if (!e->noimage) {
			e->noimage = 1;
			engine_write(e, 1);
		}
		return;
	}
	e->noimage = 0;
	if (e->ready) {
		e->preparing = 0;
		pool_kick();
		container_engines_changed();
		return;
	}
	container_engine_reconcile(e);
}

/* Looks for the image of the next environment e is not known to have. */
static void
engine_image_next(struct engine *e)
{
	while (e->img < en.conf->nenvs && (e->have & (1u << e->img)))
		e->img++;
	if (e->img == en.conf->nenvs) {
		engine_images_done(e);
		return;
	}
	docker_image(e->docker, env_image(e->img), engine_imaged, e);
}

/* The image being copied is not there: that environment is skipped. */
static void
engine_image_skip(struct engine *e)
{
	e->img++;
	engine_image_next(e);
}

static void
engine_loaded(struct docker_result *r, void *arg)
{
	struct engine *e = arg;

	if (r->status != 200 || r->message != NULL) {
		log_warnx("engine %s: loading image %s failed: %s (status %d)",
		    e->conf.name, env_image(e->img),
		    r->message != NULL ? r->message : "error", r->status);
		engine_image_skip(e);
		return;
	}
	log_info("engine %s: image %s copied in %.1f s", e->conf.name,
	    env_image(e->img), (clock_mono_us() - e->copy_t0) / 1e6);
	docker_image(e->docker, env_image(e->img), engine_imaged, e);
}

static void
engine_exported(struct docker_result *r, void *arg)
{
	struct engine *e = arg;
	int fd = e->copy_fd;
	off_t len;

	e->copy_fd = -1;
	if (r->status != 200 || r->message != NULL) {
		log_warnx("engine %s: exporting image %s failed: %s "
		          "(status %d)",
		    e->conf.name, env_image(e->img),
		    r->message != NULL ? r->message : "error", r->status);
		close(fd);
		engine_image_skip(e);
		return;
	}
	if ((len = lseek(fd, 0, SEEK_END)) <= 0) {
		log_warnx(
		    "engine %s: the exported image is empty", e->conf.name);
		close(fd);
		engine_image_skip(e);
		return;
	}
	log_info("engine %s: loading image %s (%.1f MB)", e->conf.name,
	    env_image(e->img), len / 1e6);
	docker_image_load(e->docker, fd, (size_t)len, engine_loaded, e);
}

/*
 * e lacks the image of environment e->img: it is copied from a ready
 * engine that has it, once per preparation; else that one is skipped.
 */
static void
engine_copy(struct engine *e)
{
	struct engine *from = NULL;
	int i, fd;

	for (i = 0; i < en.n && from == NULL; i++)
		if (&en.e[i] != e && en.e[i].ready &&
		    (en.e[i].have & (1u << e->img)))
			from = &en.e[i];
	if (from == NULL || (e->copied & (1u << e->img))) {
		engine_image_skip(e);
		return;
	}
	e->copied |= 1u << e->img;
	if ((fd = open(en.conf->data_dir, O_TMPFILE | O_RDWR | O_CLOEXEC,
	         0600)) == -1) {
		log_warn("engine %s: a file for the image under %s",
		    e->conf.name, en.conf->data_dir);
		engine_image_skip(e);
		return;
	}
	log_info("engine %s: copying image %s from engine %s", e->conf.name,
	    env_image(e->img), from->conf.name);
	e->copy_t0 = clock_mono_us();
	e->copy_fd = fd;
	docker_image_export(
	    from->docker, env_image(e->img), fd, engine_exported, e);
}

static void
engine_imaged(struct docker_result *r, void *arg)
{
	struct engine *e = arg;

	if (e->state != ENGINE_UP) {
		e->preparing = 0;
		return;
	}
	if (r->status == 404) {
		engine_copy(e);
		return;
	}
	if (r->status != 200) {
		log_warnx("engine %s: looking for image %s: %s (status %d)",
		    e->conf.name, env_image(e->img),
		    r->message != NULL ? r->message : "error", r->status);
		e->preparing = 0;
		return;
	}
	e->have |= 1u << e->img;
	e->img++;
	engine_image_next(e);
}

/*
 * e answers and is not ready: its images, then its leftovers; or, ready,
 * the images it lacked (recheck).
 */
static void
engine_prepare(struct engine *e)
{
	e->preparing = 1;
	e->img = 0;
	e->copied = 0;
	if (!e->ready)
		e->have = 0;
	engine_image_next(e);
}

/* The drain of every engine, from alia.engines. */
static void
engine_drains_cb(const struct pg_result *res, void *arg)
{
	int i, j;

	if (res == NULL)
		return;
	for (i = 0; i < PQntuples(res); i++)
		for (j = 0; j < en.n; j++)
			if (strcmp(PQgetvalue(res, i, 0), en.e[j].conf.name) ==
			    0)
				en.e[j].drained =
				    strcmp(PQgetvalue(res, i, 1), "t") == 0;
}

static void
engine_read_drains(void)
{
	pgc_fetch(en.db, "SELECT name, drained FROM alia.engines", 0, NULL,
	    PGC_RETRY, engine_drains_cb, NULL);
}

/* "drain NAME" or "undrain NAME"; NULL: the listener reconnected. */
static void
engine_notify_cb(const char *payload, void *arg)
{
	struct engine *e;
	int drain;

	if (payload == NULL) {
		engine_read_drains();
		return;
	}
	if (strncmp(payload, "drain ", 6) == 0)
		drain = 1;
	else if (strncmp(payload, "undrain ", 8) == 0)
		drain = 0;
	else {
		log_warnx("%s: a bad notice on alia_engine", __func__);
		return;
	}
	if ((e = engine_find(strchr(payload, ' ') + 1)) == NULL) {
		log_warnx(
		    "alia_engine: no engine %s here", strchr(payload, ' ') + 1);
		return;
	}
	if (e->drained == drain)
		return;
	e->drained = drain;
	log_info("engine %s: %s", e->conf.name,
	    drain ? "drained: no new sessions; live ones run to their end"
	          : "undrained: takes sessions again");
	if (drain)
		pool_engine_gone(e, 1);
	else
		pool_kick();
}

/*
 * Engines no longer in `docker` are forgotten, and the sessions placed
 * there end: no engine of this alia holds them now.
 */
static void
engine_forget_others(void)
{
	char *names, *at;
	const char *p[2];
	int i;

	names = xmalloc((size_t)en.n * (CONFIG_ENGINE_NAME + 1) + 3);
	at = names;
	*at++ = '{';
	for (i = 0; i < en.n; i++)
		at += sprintf(at, "%s%s", i > 0 ? "," : "", en.e[i].conf.name);
	*at++ = '}';
	*at = '\0';
	p[0] = names;
	p[1] = engine_default()->conf.name;
	pgc_exec(en.db,
	    "UPDATE alia.sessions SET state = 'ended', "
	    "ended_at = coalesce(ended_at, now()), "
	    "end_reason = coalesce(end_reason, 'engine removed') "
	    "WHERE state <> 'ended' AND coalesce(engine, $2) <> ALL ($1::text[])",
	    2, p, PGC_RETRY);
	pgc_exec(en.db,
	    "DELETE FROM alia.engines WHERE name <> ALL ($1::text[])", 1, p,
	    PGC_RETRY);
	free(names);
}

void
engine_init(struct event_base *base, const struct config *conf, struct pgc *db)
{
	struct engine *e;
	char capacity[24];
	const char *p[3];
	int i;

	memset(&en, 0, sizeof(en));
	en.base = base;
	en.conf = conf;
	en.db = db;
	en.n = (int)conf->nengines;
	pgc_listen(db, "alia_engine", engine_notify_cb, NULL);
	for (i = 0; i < en.n; i++) {
		e = &en.e[i];
		e->index = i;
		e->copy_fd = -1;
		e->conf = conf->engine[i];
		e->docker = docker_new_engine(base, conf, &e->conf);
		e->ev_ping = evtimer_new(base, engine_ping_cb, e);
		e->ev_timeout = evtimer_new(base, engine_timeout_cb, e);
		snprintf(capacity, sizeof(capacity), "%lld",
		    (long long)e->conf.capacity);
		p[0] = e->conf.name;
		p[1] = e->conf.url;
		p[2] = capacity;
		pgc_exec(db,
		    "INSERT INTO alia.engines (name, url, capacity) "
		    "VALUES ($1, $2, $3) ON CONFLICT (name) DO UPDATE SET "
		    "url = $2, capacity = $3, state = 'unknown', "
		    "sessions = 0, updated_at = now()",
		    3, p, PGC_RETRY);
	}
	engine_forget_others();
	/* Before any reconcile's rows: the drains are known when it ends. */
	engine_read_drains();
	for (i = 0; i < en.n; i++)
		engine_ping_cb(-1, 0, &en.e[i]);
}

void
engine_reload(const struct config *conf)
{
	int i, j;

	en.conf = conf;
	for (i = 0; i < en.n; i++)
		for (j = 0; j < conf->nengines; j++)
			if (strcmp(en.e[i].conf.name, conf->engine[j].name) ==
			        0 &&
			    en.e[i].conf.capacity != conf->engine[j].capacity) {
				en.e[i].conf.capacity =
				    conf->engine[j].capacity;
				engine_write(&en.e[i], 1);
			}
}

/* Sessions and pool containers there, against its capacity. */
static int
engine_held(const struct engine *e)
{
	return container_engine_sessions(e) + pool_engine_held(e);
}

int
engine_usable(const struct engine *e)
{
	return e->ready && e->state == ENGINE_UP && !e->drained;
}

static int
engine_open(const struct engine *e)
{
	return engine_usable(e) &&
	    (e->conf.capacity == 0 || engine_held(e) < e->conf.capacity);
}

struct engine *
engine_pick(int env)
{
	struct engine *best = NULL, *e;
	double load, best_load = 0;
	int i;

	for (i = 0; i < en.n; i++) {
		e = &en.e[i];
		if (!engine_open(e) || !(e->have & (1u << env)))
			continue;
		/* Unlimited engines are measured against max_sessions. */
		load = (double)engine_held(e) /
		    (double)(e->conf.capacity != 0 ? e->conf.capacity
		                                   : en.conf->max_sessions);
		if (best == NULL || load < best_load - 1e-9 ||
		    (load < best_load + 1e-9 &&
		        e->create_us < best->create_us)) {
			best = e;
			best_load = load;
		}
	}
	return best;
}

int
engine_starting(void)
{
	int i;

	for (i = 0; i < en.n; i++)
		if (!en.stopping &&
		    (en.e[i].state == ENGINE_UNKNOWN ||
		        (en.e[i].state == ENGINE_UP && !en.e[i].ready &&
		            en.e[i].preparing)))
			return 1;
	return 0;
}

void
engine_why_none(int env, char *buf, size_t len)
{
	const struct engine *e;
	size_t off = 0;
	int i;

	buf[0] = '\0';
	for (i = 0; i < en.n && off < len; i++) {
		e = &en.e[i];
		off += (size_t)snprintf(buf + off, len - off, "%s%s %s%s%s",
		    i > 0 ? ", " : "", e->conf.name,
		    e->state != ENGINE_UP ? engine_state_name(e)
		        : e->drained      ? "drained"
		        : !e->ready
		        ? (e->noimage ? "lacks every image" : "starting")
		        : !(e->have & (1u << env)) ? "lacks the image"
		                                   : "full",
		    e->state == ENGINE_DOWN ? ": " : "",
		    e->state == ENGINE_DOWN ? e->error : "");
	}
}

struct engine *
engine_find(const char *name)
{
	int i;

	for (i = 0; i < en.n; i++)
		if (strcmp(en.e[i].conf.name, name) == 0)
			return &en.e[i];
	return NULL;
}

struct engine *
engine_default(void)
{
	struct engine *e;

	if ((e = engine_find("local")) != NULL)
		return e;
	return en.n > 0 ? &en.e[0] : NULL;
}

struct engine *
engine_at(int i)
{
	return i >= 0 && i < en.n ? &en.e[i] : NULL;
}

int
engine_index(const struct engine *e)
{
	return e->index;
}

const char *
engine_name(const struct engine *e)
{
	return e->conf.name;
}

struct docker *
engine_docker(const struct engine *e)
{
	return e->docker;
}

void
engine_created(struct engine *e, int64_t us)
{
	e->create_us = e->create_us == 0 ? us : (e->create_us * 4 + us) / 5;
}

void
engine_metrics(struct msg_metrics *m)
{
	struct msg_engine *o;
	struct engine *e;
	int i;

	m->nengines = (uint64_t)en.n;
	for (i = 0; i < en.n && i < MSG_ENGINES; i++) {
		e = &en.e[i];
		o = &m->engines[i];
		memset(o, 0, sizeof(*o));
		snprintf(o->name, sizeof(o->name), "%s", e->conf.name);
		o->up = e->state == ENGINE_UP;
		o->ready = e->ready;
		o->drained = e->drained;
		o->sessions = (uint32_t)container_engine_sessions(e);
		o->pool = (uint32_t)pool_engine_held(e);
		o->capacity = (uint32_t)e->conf.capacity;
		o->ping_us = (uint64_t)e->ping_us;
		o->create_us = (uint64_t)e->create_us;
		o->lost = e->lost;
	}
}

void
engine_shutdown(void)
{
	int i;

	en.stopping = 1;
	for (i = 0; i < en.n; i++) {
		evtimer_del(en.e[i].ev_ping);
		evtimer_del(en.e[i].ev_timeout);
		if (en.e[i].ping != NULL)
			docker_cancel(en.e[i].ping);
		en.e[i].ping = NULL;
	}
}

void
engine_free(void)
{
	int i;

	for (i = 0; i < en.n; i++) {
		docker_free(en.e[i].docker);
		if (en.e[i].copy_fd != -1)
			close(en.e[i].copy_fd);
		event_free(en.e[i].ev_ping);
		event_free(en.e[i].ev_timeout);
	}
	en.n = 0;
}
