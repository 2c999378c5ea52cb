/* SPDX-License-Identifier: ISC */
/*
 * alia's PostgreSQL from every process: where the database is
 * (pg_conninfo), and the one asynchronous libpq client that master, front
 * and the recorder use (pgc_*).
 *
 * The client: one libpq connection, driven by socket events of the
 * process's loop, and a queue of statements run one at a time in the
 * order queued; a statement leaves the queue when its last result has
 * come, and hears how it went (pgc_cb: each result, then PGC_DONE or
 * PGC_ERROR; pgc_result_cb: its result or NULL; pgc_exec: nothing, a
 * refusal is logged). An error result that says the connection is going
 * away (no SQLSTATE, or classes 08 and 57P: the server shutting down or
 * restarting) counts as a lost connection, any other as a refusal.
 *
 * A lost connection is made again after the backoff (100 ms doubling to
 * 5 s, back to 100 ms once connected). What becomes of the statement in
 * flight: when its whole result had come (not PGC_SINGLEROW), only the
 * end was lost and it is done; when it is PGC_RETRY and delivered
 * nothing, it goes out again on the next connection; otherwise it fails.
 * The statements queued behind it wait for the next connection. The
 * queue is bounded (PGC_MAX): past the bound the oldest statement waiting
 * behind the head fails, with a log line.
 *
 * A PGC_FAILFAST client is for a person waiting on an answer (front):
 * while the database cannot be reached nothing waits: every queued
 * statement fails when a connection attempt fails or a connection is
 * lost, and new ones fail at once until the next attempt. A PGC_RETRY
 * statement in flight that delivered nothing is sent once more, on a
 * connection made at once (a server restart costs nothing), and a
 * statement not done within PGC_TIMEOUT fails, taking the connection
 * with it when it is in flight.
 *
 * LISTEN (pgc_listen) goes first on every new connection, and each
 * channel's callback hears of the connection (payload NULL), since a
 * notification sent while the connection was down is lost; while idle
 * the socket is read for notifications.
 *
 * COPY ... FROM STDIN (pgc_copy) goes out like any statement, with its
 * data: when the server asks for the data (a PGRES_COPY_IN result, not
 * delivered), the data is handed to libpq piece by piece, then its end,
 * written as the socket takes it; then the COPY's result comes as any
 * other. A COPY is never sent again: its data is gone once handed over.
 *
 * A user that runs its own transactions (the recorder) is the client's
 * only user and queues one statement at a time: BEGIN, then each next
 * one from the callback of the last with PGC_INTXN, which fails rather
 * than go out on a connection other than the one it was queued on; on a
 * failure it calls pgc_reset to roll the transaction back.
 *
 * Connection states: DOWN (waiting for the backoff timer), CONNECTING
 * (PQconnectPoll driven by socket events), IDLE, BUSY (the statement at
 * the head sent, its results being read). A callback may queue
 * statements and call pgc_reset, never pgc_free.
 */
#include <sys/queue.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event2/buffer.h>
#include <event2/event.h>
#include <libpq-fe.h>

#include "common/backoff.h"
#include "common/config.h"
#include "common/log.h"
#include "common/pgc.h"
#include "common/xmalloc.h"

int
pg_embedded(const struct config *c)
{
	return c->database[0] == '\0';
}

void
pg_paths(const struct config *c, char *pgdata, size_t pglen, char *sockdir,
    size_t socklen)
{
	if (pgdata != NULL)
		snprintf(pgdata, pglen, "%s/pg", c->data_dir);
	if (sockdir != NULL)
		snprintf(sockdir, socklen, "%s/run", c->data_dir);
}

void
pg_conninfo(const struct config *c, const char *dbname, char *buf, size_t len)
{
	char sockdir[PATH_MAX];

	if (!pg_embedded(c)) {
		snprintf(buf, len, "%s", c->database);
		return;
	}
	pg_paths(c, NULL, 0, sockdir, sizeof(sockdir));
	snprintf(buf, len, "host=%s dbname=%s user=alia", sockdir,
	    dbname != NULL ? dbname : "alia");
}

#define PGC_MAX            10000 /* statements queued */
#define PGC_BACKOFF_MIN_MS 100
#define PGC_BACKOFF_MAX_MS 5000
#define PGC_CHANNELS       4
#define PGC_TIMEOUT        10 /* seconds, for a PGC_FAILFAST client */

enum pgc_state {
	PGC_DOWN,
	PGC_CONNECTING,
	PGC_IDLE,
	PGC_BUSY,
};

struct pgc_item {
	TAILQ_ENTRY(pgc_item) entry;
	char *sql;
	int n;
	char **values;
	int *lengths;
	int *formats;
	char *data;            /* what values point into */
	struct evbuffer *copy; /* COPY FROM STDIN: the data not yet handed */
	int copy_ended;        /* the data's end handed to libpq */
	int flags;
	pgc_cb cb;
	pgc_result_cb result_cb;
	void *arg;
	PGresult *res;    /* result_cb's, kept until the end */
	PGresult *errres; /* the server refused it */
	char *err;        /* why */
	unsigned gen;     /* the connection it was queued on (PGC_INTXN) */
	int results;      /* delivered */
	int retries;      /* sent again after a lost connection */
	time_t since;
};
TAILQ_HEAD(pgc_items, pgc_item);

struct pgc {
	struct event_base *base;
	char *conninfo;
	char *options; /* the conninfo's own, then -c role= */
	int flags;
	PGconn *conn;
	enum pgc_state state;
	unsigned gen; /* connections made */
	int flushing; /* the statement sent is not all written */
	struct event *ev_sock;
	struct event *ev_retry;
	struct event *ev_tick;
	struct backoff backoff;
	size_t n;
	struct pgc_items items;
	struct {
		char *channel;
		pgc_notify_cb notify;
		void *arg;
	} listen[PGC_CHANNELS];
	int nlisten;
};

static void pgc_connect(struct pgc *);
static void pgc_send(struct pgc *);
static void pgc_sock_cb(evutil_socket_t, short, void *);

/* A parameter's bytes: binary ones have a length, text ones a NUL. */
static size_t
pgc_param_len(
    const char *const *values, const int *lengths, const int *formats, int i)
{
	if (formats != NULL && formats[i] != 0)
		return (size_t)lengths[i];
	return strlen(values[i]) + 1;
}

/* Copies the parameters into it, in one block. */
static void
pgc_item_params(struct pgc_item *it, int n, const char *const *values,
    const int *lengths, const int *formats)
{
	size_t total = 1, len;
	char *p;
	int i;

	it->n = n;
	if (n == 0)
		return;
	it->values = xcalloc((size_t)n, sizeof(*it->values));
	it->lengths = xcalloc((size_t)n, sizeof(*it->lengths));
	it->formats = xcalloc((size_t)n, sizeof(*it->formats));
	for (i = 0; i < n; i++)
		if (values[i] != NULL)
			total += pgc_param_len(values, lengths, formats, i);
	p = it->data = xmalloc(total);
	for (i = 0; i < n; i++) {
		it->formats[i] = formats != NULL ? formats[i] : 0;
		if (values[i] == NULL)
			continue;
		len = pgc_param_len(values, lengths, formats, i);
		memcpy(p, values[i], len);
		it->values[i] = p;
		it->lengths[i] = it->formats[i] != 0 ? lengths[i] : 0;
		p += len;
	}
}

static void
pgc_item_free(struct pgc_item *it)
{
	PQclear(it->res); /* PQclear(NULL) does nothing */
	PQclear(it->errres);
	free(it->values);
	free(it->lengths);
	free(it->formats);
	free(it->data);
	if (it->copy != NULL)
		evbuffer_free(it->copy);
	free(it->err);
	free(it->sql);
	free(it);
}

/* Takes it off the queue and tells how it ended: err NULL, it is done. */
static void
pgc_finish(struct pgc *q, struct pgc_item *it, const char *err)
{
	TAILQ_REMOVE(&q->items, it, entry);
	q->n--;
	if (err == NULL && it->retries > 0 && !(q->flags & PGC_FAILFAST))
		log_info("database statement applied after %d retr%s",
		    it->retries, it->retries == 1 ? "y" : "ies");
	if (it->cb == NULL && it->err != NULL)
		log_warnx("database refused a statement%s: %s",
		    it->result_cb == NULL ? " (dropped)" : "", it->err);
	if (it->cb != NULL)
		it->cb(err == NULL ? PGC_DONE : PGC_ERROR,
		    err == it->err ? it->errres : NULL, err, it->arg);
	else if (it->result_cb != NULL)
		it->result_cb(err == NULL ? it->res : NULL, it->arg);
	pgc_item_free(it);
}

static void
pgc_fail_all(struct pgc *q, const char *why)
{
	struct pgc_item *it;

	while ((it = TAILQ_FIRST(&q->items)) != NULL)
		pgc_finish(q, it, why);
}

static void
pgc_unwatch(struct pgc *q)
{
	if (q->ev_sock != NULL)
		event_free(q->ev_sock);
	q->ev_sock = NULL;
}

/* Waits for the socket to be ready for what. */
static void
pgc_wait(struct pgc *q, short what)
{
	if (q->ev_sock == NULL || event_get_events(q->ev_sock) != what) {
		pgc_unwatch(q);
		q->ev_sock =
		    event_new(q->base, PQsocket(q->conn), what, pgc_sock_cb, q);
	}
	event_add(q->ev_sock, NULL);
}

static void
pgc_close(struct pgc *q)
{
	pgc_unwatch(q);
	if (q->conn != NULL)
		PQfinish(q->conn);
	q->conn = NULL;
	q->state = PGC_DOWN;
	q->flushing = 0;
}

/*
 * The connection in flight was lost: what becomes of the statement at
 * the head (see the top). Returns 1 when it goes out again on a
 * connection being made at once.
 */
static int
pgc_lost_head(struct pgc *q, struct pgc_item *it, const char *why)
{
	if (it->err != NULL) {
		pgc_finish(q, it, it->err);
		return 0;
	}
	if (it->results > 0 && !(it->flags & PGC_SINGLEROW)) {
		pgc_finish(q, it, NULL);
		return 0;
	}
	if (!(it->flags & PGC_RETRY) || it->results > 0 ||
	    ((q->flags & PGC_FAILFAST) && it->retries > 0)) {
		pgc_finish(q, it, why);
		return 0;
	}
	it->retries++;
	if (!(q->flags & PGC_FAILFAST))
		return 0;
	log_info("database connection lost (%s); reconnecting", why);
	pgc_connect(q);
	return 1;
}

/* Drops the connection and schedules the next attempt. */
static void
pgc_down(struct pgc *q, const char *reason)
{
	enum pgc_state was = q->state;
	struct pgc_item *head = TAILQ_FIRST(&q->items);
	char why[256];

	/* reason may be libpq's, which goes with the connection */
	snprintf(why, sizeof(why), "%s", reason);
	why[strcspn(why, "\n")] = '\0';
	pgc_close(q);
	if (was == PGC_BUSY && head != NULL && pgc_lost_head(q, head, why))
		return;
	if (q->flags & PGC_FAILFAST) {
		log_warnx("database unavailable (%s); retrying in %d ms", why,
		    backoff_due(&q->backoff));
		pgc_fail_all(q, why);
	} else if (was != PGC_DOWN)
		log_warnx("database connection lost (%s); %zu statement%s "
		          "waiting; retrying in %d ms",
		    why, q->n, q->n == 1 ? "" : "s", backoff_due(&q->backoff));
	if (q->state == PGC_DOWN)
		backoff_arm(&q->backoff, q->ev_retry);
}

static void
pgc_retry_cb(evutil_socket_t fd, short what, void *arg)
{
	struct pgc *q = arg;

	if (q->state == PGC_DOWN)
		pgc_connect(q);
}

/* Runs the callbacks of the notifications that have come. */
static void
pgc_notifies(struct pgc *q)
{
	PGnotify *n;
	int i;

	while (q->conn != NULL && (n = PQnotifies(q->conn)) != NULL) {
		for (i = 0; i < q->nlisten; i++)
			if (strcmp(n->relname, q->listen[i].channel) == 0)
				q->listen[i].notify(n->extra, q->listen[i].arg);
		PQfreemem(n);
	}
}

/* Queues the LISTEN of channel i first; tells that notices may be lost. */
static void
pgc_listen_one(struct pgc *q, int i)
{
	const char *channel = q->listen[i].channel;
	struct pgc_item *it;
	char *id;

	it = xcalloc(1, sizeof(*it));
	id = PQescapeIdentifier(q->conn, channel, strlen(channel));
	if (id == NULL)
		fatalx("%s: PQescapeIdentifier", __func__);
	xasprintf(&it->sql, "LISTEN %s", id);
	PQfreemem(id);
	it->flags = PGC_RETRY;
	it->since = time(NULL);
	TAILQ_INSERT_HEAD(&q->items, it, entry);
	q->n++;
	q->listen[i].notify(NULL, q->listen[i].arg);
}

/* Nothing to send: wait for notifications, if listening. */
static void
pgc_idle(struct pgc *q)
{
	if (q->nlisten > 0)
		pgc_wait(q, EV_READ);
	else
		pgc_unwatch(q);
}

/* Connected: LISTEN first, then what waits. */
static void
pgc_up(struct pgc *q)
{
	int i;

	if (PQsetnonblocking(q->conn, 1) == -1) {
		pgc_down(q, "cannot make the connection non-blocking");
		return;
	}
	if (backoff_failing(&q->backoff))
		log_info("database connection back");
	backoff_reset(&q->backoff);
	q->gen++;
	q->state = PGC_IDLE;
	pgc_unwatch(q);
	for (i = 0; i < q->nlisten; i++)
		pgc_listen_one(q, i);
	pgc_send(q);
}

static void
pgc_poll_connect(struct pgc *q)
{
	/* libpq may have moved to another socket (the next address). */
	pgc_unwatch(q);
	switch (PQconnectPoll(q->conn)) {
	case PGRES_POLLING_READING:
		pgc_wait(q, EV_READ);
		return;
	case PGRES_POLLING_WRITING:
		pgc_wait(q, EV_WRITE);
		return;
	case PGRES_POLLING_OK:
		pgc_up(q);
		return;
	default:
		pgc_down(q, PQerrorMessage(q->conn));
		return;
	}
}

static void
pgc_connect(struct pgc *q)
{
	/* Later keywords override the expanded conninfo's; empty: none. */
	const char *keys[] = {"dbname", "options", NULL};
	const char *vals[] = {q->conninfo, q->options, NULL};

	q->conn = PQconnectStartParams(keys, vals, 1);
	if (q->conn == NULL || PQstatus(q->conn) == CONNECTION_BAD ||
	    PQsocket(q->conn) < 0) {
		pgc_down(q,
		    q->conn != NULL ? PQerrorMessage(q->conn)
		                    : "out of memory");
		return;
	}
	q->state = PGC_CONNECTING;
	pgc_poll_connect(q);
}

/* Writes what libpq holds of the statement sent; -1: the connection went. */
static int
pgc_flush(struct pgc *q)
{
	switch (PQflush(q->conn)) {
	case 0:
		q->flushing = 0;
		return 0;
	case 1:
		q->flushing = 1;
		return 0;
	default:
		pgc_down(q, PQerrorMessage(q->conn));
		return -1;
	}
}

/* While busy: wait for the answer, and to write the rest of the statement. */
static void
pgc_wait_busy(struct pgc *q)
{
	pgc_wait(q, q->flushing ? EV_READ | EV_WRITE : EV_READ);
}

/* Sends the statement at the head of the queue, if idle. */
static void
pgc_send(struct pgc *q)
{
	struct pgc_item *it;

	while (q->state == PGC_IDLE && (it = TAILQ_FIRST(&q->items)) != NULL &&
	    (it->flags & PGC_INTXN) && it->gen != q->gen)
		pgc_finish(q, it, "the connection was lost in a transaction");
	if (q->state != PGC_IDLE)
		return;
	if ((it = TAILQ_FIRST(&q->items)) == NULL) {
		pgc_idle(q);
		return;
	}
	if (!PQsendQueryParams(q->conn, it->sql, it->n, NULL,
	        (const char *const *)it->values, it->lengths, it->formats,
	        (it->flags & PGC_BINARY) != 0) ||
	    ((it->flags & PGC_SINGLEROW) && !PQsetSingleRowMode(q->conn))) {
		pgc_down(q, PQerrorMessage(q->conn));
		return;
	}
	q->state = PGC_BUSY;
	if (pgc_flush(q) == 0)
		pgc_wait_busy(q);
}

/* Whether an error result means the connection is going away. */
static int
pgc_lost(const struct pgc *q, const PGresult *res)
{
	const char *state = PQresultErrorField(res, PG_DIAG_SQLSTATE);

	if (PQstatus(q->conn) == CONNECTION_BAD || state == NULL)
		return 1; /* made by libpq itself, not the server */
	return strncmp(state, "08", 2) == 0 || strncmp(state, "57P", 3) == 0;
}

/* One result of the head: a refusal is kept, the rest delivered. */
static void
pgc_result(struct pgc_item *it, PGresult *res)
{
	ExecStatusType st = PQresultStatus(res);

	if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK &&
	    st != PGRES_SINGLE_TUPLE) {
		if (it->err == NULL) {
			it->err = xstrdup(PQresultErrorMessage(res));
			it->err[strcspn(it->err, "\n")] = '\0';
			it->errres = res;
		} else
			PQclear(res);
		return;
	}
	if (it->err != NULL ||
	    ((it->flags & PGC_SINGLEROW) && st != PGRES_SINGLE_TUPLE)) {
		PQclear(res);
		return;
	}
	it->results++;
	if (it->cb != NULL)
		it->cb(PGC_RESULT, res, NULL, it->arg);
	if (it->result_cb != NULL && it->res == NULL)
		it->res = res;
	else
		PQclear(res);
}

/*
 * The server asks for the COPY's data: hands libpq the rest of it, then
 * its end (a COPY queued without data fails). Returns 1 when all of it
 * went, 0 when libpq can take no more until the socket is written, -1
 * when the connection went.
 */
static int
pgc_copy_put(struct pgc *q, struct pgc_item *it)
{
	struct evbuffer_iovec v;
	int rc = 1;

	while (rc == 1 && it->copy != NULL &&
	    evbuffer_peek(it->copy, -1, NULL, &v, 1) > 0 &&
	    (rc = PQputCopyData(q->conn, v.iov_base, (int)v.iov_len)) == 1)
		evbuffer_drain(it->copy, v.iov_len);
	if (rc == 1 && !it->copy_ended)
		rc = PQputCopyEnd(
		    q->conn, it->copy == NULL ? "no data for the COPY" : NULL);
	if (rc == -1) {
		pgc_down(q, PQerrorMessage(q->conn));
		return -1;
	}
	if (rc == 0) {
		q->flushing = 1;
		return 0;
	}
	it->copy_ended = 1;
	return pgc_flush(q) == -1 ? -1 : 1;
}

/* Reads results; on the head's last one, finishes it and sends the next. */
static void
pgc_read(struct pgc *q)
{
	PGresult *res;
	char why[256];

	if (!PQconsumeInput(q->conn)) {
		pgc_down(q, PQerrorMessage(q->conn));
		return;
	}
	pgc_notifies(q);
	while (q->state == PGC_BUSY && !PQisBusy(q->conn)) {
		if ((res = PQgetResult(q->conn)) == NULL) {
			q->state = PGC_IDLE;
			pgc_finish(q, TAILQ_FIRST(&q->items),
			    TAILQ_FIRST(&q->items)->err);
			pgc_send(q);
			return;
		}
		if (PQresultStatus(res) == PGRES_COPY_IN) {
			PQclear(res);
			if (pgc_copy_put(q, TAILQ_FIRST(&q->items)) != 1)
				break;
			continue;
		}
		if (PQresultStatus(res) == PGRES_FATAL_ERROR &&
		    pgc_lost(q, res)) {
			snprintf(
			    why, sizeof(why), "%s", PQresultErrorMessage(res));
			PQclear(res);
			pgc_down(q, why);
			return;
		}
		pgc_result(TAILQ_FIRST(&q->items), res);
	}
	if (q->state == PGC_BUSY)
		pgc_wait_busy(q);
}

static void
pgc_sock_cb(evutil_socket_t fd, short what, void *arg)
{
	struct pgc *q = arg;

	switch (q->state) {
	case PGC_CONNECTING:
		pgc_poll_connect(q);
		return;
	case PGC_BUSY:
		if (q->flushing && pgc_flush(q) == -1)
			return;
		pgc_read(q);
		return;
	case PGC_IDLE:
		/* Notifications, or the server hung up. */
		if (!PQconsumeInput(q->conn)) {
			pgc_down(q, PQerrorMessage(q->conn));
			return;
		}
		pgc_notifies(q);
		if (q->state == PGC_IDLE)
			pgc_idle(q);
		return;
	case PGC_DOWN:
		return;
	}
}

/* The first statement queued PGC_TIMEOUT ago or more, or NULL. */
static struct pgc_item *
pgc_expired(struct pgc *q, time_t now)
{
	struct pgc_item *it;

	TAILQ_FOREACH (it, &q->items, entry)
		if (now - it->since >= PGC_TIMEOUT)
			return it;
	return NULL;
}

/* Fails what waited too long; the head in flight takes the connection. */
static void
pgc_tick_cb(evutil_socket_t fd, short what, void *arg)
{
	struct pgc *q = arg;
	struct pgc_item *it;
	time_t now = time(NULL);

	it = TAILQ_FIRST(&q->items);
	if (it != NULL && now - it->since >= PGC_TIMEOUT &&
	    (q->state == PGC_CONNECTING || q->state == PGC_BUSY)) {
		log_warnx("database did not answer within %d s; dropping "
		          "the connection",
		    PGC_TIMEOUT);
		pgc_finish(q, it, "the database did not answer in time");
		pgc_close(q);
		pgc_connect(q);
		return;
	}
	while ((it = pgc_expired(q, now)) != NULL)
		pgc_finish(q, it, "the database did not answer in time");
}

/* The options to connect with: the conninfo's own, then -c role=. */
static char *
pgc_options(const char *conninfo, const char *role)
{
	PQconninfoOption *opts, *o;
	const char *own = "";
	char *s;

	if ((opts = PQconninfoParse(conninfo, NULL)) != NULL)
		for (o = opts; o->keyword != NULL; o++)
			if (strcmp(o->keyword, "options") == 0 &&
			    o->val != NULL)
				own = o->val;
	if (role != NULL && role[0] != '\0')
		xasprintf(
		    &s, "%s%s-c role=%s", own, own[0] != '\0' ? " " : "", role);
	else
		s = xstrdup(own);
	PQconninfoFree(opts);
	return s;
}

struct pgc *
pgc_new(
    struct event_base *base, const char *conninfo, const char *role, int flags)
{
	struct timeval tv = {1, 0};
	struct pgc *q;

	q = xcalloc(1, sizeof(*q));
	q->base = base;
	q->conninfo = xstrdup(conninfo);
	q->options = pgc_options(conninfo, role);
	q->flags = flags;
	q->state = PGC_DOWN;
	backoff_init(&q->backoff, PGC_BACKOFF_MIN_MS, PGC_BACKOFF_MAX_MS);
	TAILQ_INIT(&q->items);
	q->ev_retry = evtimer_new(base, pgc_retry_cb, q);
	if (flags & PGC_FAILFAST) {
		q->ev_tick = event_new(base, -1, EV_PERSIST, pgc_tick_cb, q);
		event_add(q->ev_tick, &tv);
	}
	pgc_connect(q);
	return q;
}

void
pgc_free(struct pgc *q)
{
	int i;

	if (q == NULL)
		return;
	pgc_close(q);
	pgc_fail_all(q, "the database client is closing");
	event_free(q->ev_retry);
	if (q->ev_tick != NULL)
		event_free(q->ev_tick);
	for (i = 0; i < q->nlisten; i++)
		free(q->listen[i].channel);
	free(q->conninfo);
	free(q->options);
	free(q);
}

/* Queues it, dropping the oldest waiting statement past the bound. */
static void
pgc_add(struct pgc *q, struct pgc_item *it)
{
	struct pgc_item *old;

	if (q->n >= PGC_MAX &&
	    (old = TAILQ_NEXT(TAILQ_FIRST(&q->items), entry)) != NULL) {
		/* The head may be in flight: drop the one after it. */
		log_warnx(
		    "database queue full (%d): dropping a statement", PGC_MAX);
		pgc_finish(q, old, "the database queue is full");
	}
	it->gen = q->gen;
	it->since = time(NULL);
	TAILQ_INSERT_TAIL(&q->items, it, entry);
	q->n++;
	pgc_send(q);
}

static struct pgc_item *
pgc_item(const char *sql, int n, const char *const *values, const int *lengths,
    const int *formats, int flags)
{
	struct pgc_item *it;

	it = xcalloc(1, sizeof(*it));
	it->sql = xstrdup(sql);
	it->flags = flags;
	pgc_item_params(it, n, values, lengths, formats);
	return it;
}

/*
 * Queues it for cb, result_cb or neither (their arg); a fail-fast client
 * that is down tells its caller at once instead.
 */
static void
pgc_submit(struct pgc *q, struct pgc_item *it, pgc_cb cb,
    pgc_result_cb result_cb, void *arg)
{
	it->cb = cb;
	it->result_cb = result_cb;
	it->arg = arg;
	if (!(q->flags & PGC_FAILFAST) || q->state != PGC_DOWN) {
		pgc_add(q, it);
		return;
	}
	if (cb != NULL)
		cb(PGC_ERROR, NULL, "the database is not available", arg);
	else if (result_cb != NULL)
		result_cb(NULL, arg);
	else
		log_warnx("database unavailable: a statement dropped");
	pgc_item_free(it);
}

void
pgc_query(struct pgc *q, const char *sql, int n, const char *const *values,
    const int *lengths, const int *formats, int flags, pgc_cb cb, void *arg)
{
	pgc_submit(q, pgc_item(sql, n, values, lengths, formats, flags), cb,
	    NULL, arg);
}

void
pgc_fetch(struct pgc *q, const char *sql, int n, const char *const *params,
    int flags, pgc_result_cb cb, void *arg)
{
	pgc_submit(
	    q, pgc_item(sql, n, params, NULL, NULL, flags), NULL, cb, arg);
}

void
pgc_exec(
    struct pgc *q, const char *sql, int n, const char *const *params, int flags)
{
	pgc_submit(
	    q, pgc_item(sql, n, params, NULL, NULL, flags), NULL, NULL, NULL);
}

void
pgc_copy(struct pgc *q, const char *sql, struct evbuffer *data, int flags,
    pgc_cb cb, void *arg)
{
	struct pgc_item *it;

	it = pgc_item(sql, 0, NULL, NULL, NULL, flags & ~PGC_RETRY);
	it->copy = data;
	pgc_submit(q, it, cb, NULL, arg);
}

void
pgc_listen(struct pgc *q, const char *channel, pgc_notify_cb cb, void *arg)
{
	int i;

	if (q->nlisten == PGC_CHANNELS)
		fatalx("%s: more than %d channels", __func__, PGC_CHANNELS);
	i = q->nlisten++;
	q->listen[i].channel = xstrdup(channel);
	q->listen[i].notify = cb;
	q->listen[i].arg = arg;
	if (q->state == PGC_IDLE) {
		pgc_listen_one(q, i);
		pgc_send(q);
	}
}

void
pgc_reset(struct pgc *q, const char *why)
{
	if (q->state != PGC_DOWN)
		pgc_down(q, why);
}

size_t
pgc_pending(const struct pgc *q)
{
	return q->n;
}
