/* SPDX-License-Identifier: ISC */
/*
 * front's access to alia's database: one libpq connection, asynchronous
 * inside front's event loop, and a queue of queries run one at a time.
 * Rows come back one by one (single-row mode), so a long recording is
 * never held twice. The connection runs as role front_role, alia_front
 * unless configured (see sql/006_front_role.sql): it reads, and writes
 * only sign-in tokens, share links and the audit trail.
 *
 * A query never waits for ever: when the connection cannot be made, every
 * queued query fails at once and new ones fail until the next attempt
 * (100 ms doubling to 5 s); a query not finished within FRONT_DB_TIMEOUT
 * fails, and the connection running it is dropped. A connection that
 * broke while idle (the server restarted) costs nothing: the query that
 * finds it broken is sent once more on a new connection, provided it had
 * delivered no row.
 *
 * Connection states: DOWN (waiting for the backoff timer), CONNECTING,
 * IDLE, BUSY (a query sent, its rows being read).
 */
#include <sys/queue.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event2/event.h>
#include <libpq-fe.h>

#include "common/config.h"
#include "common/log.h"
#include "common/pgc.h"
#include "common/xmalloc.h"
#include "front/front.h"

#define FRONT_DB_MAX_PARAMS     8
#define FRONT_DB_TIMEOUT        10 /* seconds */
#define FRONT_DB_BACKOFF_MIN_MS 100
#define FRONT_DB_BACKOFF_MAX_MS 5000
#define FRONT_DB_DOWN_MSG \
	"the recordings database is not available; try again later"

enum front_db_state {
	FRONT_DB_S_DOWN,
	FRONT_DB_S_CONNECTING,
	FRONT_DB_S_IDLE,
	FRONT_DB_S_BUSY,
};

struct front_db_item {
	TAILQ_ENTRY(front_db_item) entry;
	char *sql;
	int nparams;
	char *params[FRONT_DB_MAX_PARAMS];
	front_db_cb cb;
	void *arg;
	time_t since;
	int rows;    /* rows delivered so far */
	int retried; /* sent again after a broken connection */
	int failed;  /* an error result came; reported when it is done */
	char err[256];
};
TAILQ_HEAD(front_db_list, front_db_item);

static struct {
	struct event_base *base;
	char conninfo[PATH_MAX + 64];
	char options[CONFIG_PATH + CONFIG_STR + 16]; /* with -c role= */
	PGconn *conn;
	enum front_db_state state;
	struct event *ev_sock;
	struct event *ev_retry;
	struct event *ev_tick;
	int backoff_ms;
	struct front_db_list items;
} fd_;

static void front_db_connect(void);
static void front_db_send(void);
static void front_db_sock_cb(evutil_socket_t, short, void *);

static void
front_db_item_free(struct front_db_item *it)
{
	int i;

	for (i = 0; i < it->nparams; i++)
		free(it->params[i]);
	free(it->sql);
	free(it);
}

/* Removes the item from the queue and runs its last callback. */
static void
front_db_finish(struct front_db_item *it, const char *err)
{
	TAILQ_REMOVE(&fd_.items, it, entry);
	if (err != NULL)
		it->cb(FRONT_DB_ERROR, NULL, err, it->arg);
	else
		it->cb(FRONT_DB_DONE, NULL, NULL, it->arg);
	front_db_item_free(it);
}

static void
front_db_fail_all(const char *err)
{
	struct front_db_item *it;

	while ((it = TAILQ_FIRST(&fd_.items)) != NULL)
		front_db_finish(it, err);
}

static void
front_db_unwatch(void)
{
	if (fd_.ev_sock != NULL)
		event_free(fd_.ev_sock);
	fd_.ev_sock = NULL;
}

static void
front_db_wait(short what)
{
	front_db_unwatch();
	fd_.ev_sock = event_new(
	    fd_.base, PQsocket(fd_.conn), what, front_db_sock_cb, NULL);
	event_add(fd_.ev_sock, NULL);
}

static void
front_db_close(void)
{
	front_db_unwatch();
	if (fd_.conn != NULL)
		PQfinish(fd_.conn);
	fd_.conn = NULL;
}

/*
 * The connection failed. A query in flight that delivered nothing is sent
 * once more on a new connection made at once; otherwise everything queued
 * fails and the next attempt waits for the backoff.
 */
static void
front_db_down(const char *why)
{
	struct front_db_item *it = TAILQ_FIRST(&fd_.items);
	struct timeval tv;
	int was = fd_.state;

	front_db_close();
	fd_.state = FRONT_DB_S_DOWN;
	if (was == FRONT_DB_S_BUSY && it != NULL && it->rows == 0 &&
	    !it->retried) {
		log_info("database connection lost (%s); reconnecting", why);
		it->retried = 1;
		front_db_connect();
		return;
	}
	log_warnx("database unavailable (%s); retrying in %d ms", why,
	    fd_.backoff_ms);
	front_db_fail_all(FRONT_DB_DOWN_MSG);
	tv.tv_sec = fd_.backoff_ms / 1000;
	tv.tv_usec = (fd_.backoff_ms % 1000) * 1000;
	evtimer_add(fd_.ev_retry, &tv);
	fd_.backoff_ms *= 2;
	if (fd_.backoff_ms > FRONT_DB_BACKOFF_MAX_MS)
		fd_.backoff_ms = FRONT_DB_BACKOFF_MAX_MS;
}

static void
front_db_retry_cb(evutil_socket_t fd, short what, void *arg)
{
	front_db_connect();
}

static void
front_db_poll_connect(void)
{
	switch (PQconnectPoll(fd_.conn)) {
	case PGRES_POLLING_READING:
		front_db_wait(EV_READ);
		return;
	case PGRES_POLLING_WRITING:
		front_db_wait(EV_WRITE);
		return;
	case PGRES_POLLING_OK:
		if (PQsetnonblocking(fd_.conn, 1) == -1) {
			front_db_down(
			    "cannot make the connection non-blocking");
			return;
		}
		if (fd_.backoff_ms > FRONT_DB_BACKOFF_MIN_MS)
			log_info("database connection back");
		fd_.backoff_ms = FRONT_DB_BACKOFF_MIN_MS;
		fd_.state = FRONT_DB_S_IDLE;
		front_db_unwatch();
		front_db_send();
		return;
	default:
		front_db_down(PQerrorMessage(fd_.conn));
		return;
	}
}

static void
front_db_connect(void)
{
	/* Later keywords override the expanded conninfo's; empty: none. */
	const char *keys[] = {"dbname", "options", NULL};
	const char *vals[] = {fd_.conninfo, fd_.options, NULL};

	fd_.conn = PQconnectStartParams(keys, vals, 1);
	if (fd_.conn == NULL || PQstatus(fd_.conn) == CONNECTION_BAD ||
	    PQsocket(fd_.conn) < 0) {
		front_db_down(fd_.conn != NULL ? PQerrorMessage(fd_.conn)
		                               : "out of memory");
		return;
	}
	fd_.state = FRONT_DB_S_CONNECTING;
	front_db_poll_connect();
}

/* Sends the query at the head of the queue, if idle. */
static void
front_db_send(void)
{
	struct front_db_item *it;

	if (fd_.state != FRONT_DB_S_IDLE ||
	    (it = TAILQ_FIRST(&fd_.items)) == NULL)
		return;
	if (!PQsendQueryParams(fd_.conn, it->sql, it->nparams, NULL,
	        (const char *const *)it->params, NULL, NULL, 0) ||
	    !PQsetSingleRowMode(fd_.conn)) {
		front_db_down(PQerrorMessage(fd_.conn));
		return;
	}
	fd_.state = FRONT_DB_S_BUSY;
	front_db_wait(PQflush(fd_.conn) == 1 ? EV_WRITE : EV_READ);
}

/* Reads results: rows go to the callback; the end finishes the query. */
static void
front_db_read(void)
{
	struct front_db_item *it;
	PGresult *res;
	ExecStatusType st;

	if (!PQconsumeInput(fd_.conn)) {
		front_db_down(PQerrorMessage(fd_.conn));
		return;
	}
	while (!PQisBusy(fd_.conn)) {
		it = TAILQ_FIRST(&fd_.items);
		if ((res = PQgetResult(fd_.conn)) == NULL) {
			fd_.state = FRONT_DB_S_IDLE;
			front_db_unwatch();
			if (it != NULL)
				front_db_finish(
				    it, it->failed ? it->err : NULL);
			front_db_send();
			return;
		}
		st = PQresultStatus(res);
		if (st == PGRES_FATAL_ERROR &&
		    PQstatus(fd_.conn) == CONNECTION_BAD) {
			PQclear(res);
			front_db_down(PQerrorMessage(fd_.conn));
			return;
		}
		if (it == NULL) {
			/* Its query timed out; the rest is drained. */
		} else if (st == PGRES_SINGLE_TUPLE) {
			if (!it->failed) {
				it->rows++;
				it->cb(FRONT_DB_ROW, res, NULL, it->arg);
			}
		} else if (st != PGRES_TUPLES_OK && st != PGRES_COMMAND_OK &&
		    !it->failed) {
			it->failed = 1;
			log_warnx("database query failed: %s",
			    PQresultErrorMessage(res));
			snprintf(it->err, sizeof(it->err),
			    "the recordings database could not answer");
		}
		PQclear(res);
	}
	front_db_wait(EV_READ);
}

static void
front_db_sock_cb(evutil_socket_t fd, short what, void *arg)
{
	switch (fd_.state) {
	case FRONT_DB_S_CONNECTING:
		front_db_poll_connect();
		break;
	case FRONT_DB_S_BUSY:
		if (what & EV_WRITE) {
			switch (PQflush(fd_.conn)) {
			case 1:
				front_db_wait(EV_WRITE);
				return;
			case -1:
				front_db_down(PQerrorMessage(fd_.conn));
				return;
			}
		}
		front_db_read();
		break;
	case FRONT_DB_S_IDLE:
	case FRONT_DB_S_DOWN:
		break;
	}
}

/* Fails the queries that waited too long; the one in flight drops the
 * connection with it. */
static void
front_db_tick_cb(evutil_socket_t fd, short what, void *arg)
{
	struct front_db_item *it, *next;
	time_t now = time(NULL);
	int head = 1;

	for (it = TAILQ_FIRST(&fd_.items); it != NULL; it = next) {
		next = TAILQ_NEXT(it, entry);
		if (now - it->since >= FRONT_DB_TIMEOUT) {
			if (head && fd_.state != FRONT_DB_S_IDLE &&
			    fd_.state != FRONT_DB_S_DOWN) {
				log_warnx(
				    "database did not answer within %d s; "
				    "dropping the connection",
				    FRONT_DB_TIMEOUT);
				front_db_finish(it, FRONT_DB_DOWN_MSG);
				front_db_close();
				fd_.state = FRONT_DB_S_DOWN;
				front_db_connect();
				return;
			}
			front_db_finish(it, FRONT_DB_DOWN_MSG);
		}
		head = 0;
	}
}

/*
 * The options front connects with: the conninfo's own, then "-c
 * role=front_role" (master checked at start that the role may be set).
 */
static void
front_db_options(const struct config *c)
{
	PQconninfoOption *opts, *o;
	const char *own = "";

	if ((opts = PQconninfoParse(fd_.conninfo, NULL)) != NULL)
		for (o = opts; o->keyword != NULL; o++)
			if (strcmp(o->keyword, "options") == 0 &&
			    o->val != NULL)
				own = o->val;
	if (c->front_role[0] != '\0')
		snprintf(fd_.options, sizeof(fd_.options), "%s%s-c role=%s",
		    own, own[0] != '\0' ? " " : "", c->front_role);
	else
		snprintf(fd_.options, sizeof(fd_.options), "%s", own);
	PQconninfoFree(opts);
}

void
front_db_init(struct event_base *base, const struct config *c)
{
	struct timeval tv = {1, 0};

	memset(&fd_, 0, sizeof(fd_));
	fd_.base = base;
	TAILQ_INIT(&fd_.items);
	pg_conninfo(c, NULL, fd_.conninfo, sizeof(fd_.conninfo));
	front_db_options(c);
	fd_.backoff_ms = FRONT_DB_BACKOFF_MIN_MS;
	fd_.state = FRONT_DB_S_DOWN;
	fd_.ev_retry = evtimer_new(base, front_db_retry_cb, NULL);
	fd_.ev_tick = event_new(base, -1, EV_PERSIST, front_db_tick_cb, NULL);
	event_add(fd_.ev_tick, &tv);
	front_db_connect();
}

void
front_db_free(void)
{
	struct front_db_item *it;

	if (fd_.base == NULL)
		return;
	while ((it = TAILQ_FIRST(&fd_.items)) != NULL) {
		TAILQ_REMOVE(&fd_.items, it, entry);
		front_db_item_free(it);
	}
	front_db_close();
	event_free(fd_.ev_retry);
	event_free(fd_.ev_tick);
	fd_.base = NULL;
}

void
front_db_query(const char *sql, int nparams, const char *const *params,
    front_db_cb cb, void *arg)
{
	struct front_db_item *it;
	int i;

	if (nparams > FRONT_DB_MAX_PARAMS)
		fatalx("%s: %d parameters", __func__, nparams);
	if (fd_.base == NULL || fd_.state == FRONT_DB_S_DOWN) {
		cb(FRONT_DB_ERROR, NULL, FRONT_DB_DOWN_MSG, arg);
		return;
	}
	it = xcalloc(1, sizeof(*it));
	it->sql = xstrdup(sql);
	it->nparams = nparams;
	for (i = 0; i < nparams; i++)
		it->params[i] = params[i] != NULL ? xstrdup(params[i]) : NULL;
	it->cb = cb;
	it->arg = arg;
	it->since = time(NULL);
	TAILQ_INSERT_TAIL(&fd_.items, it, entry);
	front_db_send();
}
