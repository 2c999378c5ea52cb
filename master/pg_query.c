/* SPDX-License-Identifier: ISC */
/*
 * master's asynchronous writes to PostgreSQL: a queue of parameterised
 * statements run one at a time on one libpq connection inside the event
 * loop. A statement leaves the queue only when the server has answered
 * it; when the connection fails, it is made again with a backoff (100 ms
 * doubling to 5 s) and the statement at the head is sent again, so every
 * statement queued here must be idempotent. An error that says the
 * connection is going away (the server shutting down or restarting, SQLSTATE
 * classes 08 and 57P) counts as a lost connection: the statement is sent
 * again, and said to be applied after so many retries once it is. Only a
 * statement the server refuses (any other SQL error) is logged as
 * dropped, once its last result has come. The queue is bounded;
 * past the bound the oldest statement is dropped with a log line.
 *
 * A query (pgq_query) waits in the same queue and hands its result, in
 * binary format, to a callback once, or NULL when the server refused it.
 *
 * The connection can also LISTEN on a few channels (pgq_listen, each with
 * its callback): the LISTENs go first on every new connection, and while
 * idle the socket is read for notifications. A notification sent while the
 * connection was down is lost, so each callback also hears of every
 * (re)connection.
 *
 * Connection states: DOWN (waiting for the backoff timer), CONNECTING
 * (PQconnectPoll driven by socket events), IDLE, BUSY (a statement sent,
 * its results being read).
 */
#include <sys/queue.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>
#include <libpq-fe.h>

#include "common/log.h"
#include "common/xmalloc.h"
#include "master/master.h"

#define PGQ_MAX            10000
#define PGQ_MAX_PARAMS     16
#define PGQ_BACKOFF_MIN_MS 100
#define PGQ_BACKOFF_MAX_MS 5000
#define PGQ_CHANNELS       4

enum pgq_state {
	PGQ_DOWN,
	PGQ_CONNECTING,
	PGQ_IDLE,
	PGQ_BUSY,
};

struct pgq_item {
	TAILQ_ENTRY(pgq_item) entry;
	char *sql;
	int nparams;
	char *params[PGQ_MAX_PARAMS];
	pgq_result_cb cb; /* a query's: hears its result once */
	void *arg;
	int answered;
	int retries; /* sent again after a lost connection */
	char *err;   /* the server refused it: why */
};
TAILQ_HEAD(pgq_list, pgq_item);

struct pgq {
	struct event_base *base;
	char *conninfo;
	PGconn *conn;
	enum pgq_state state;
	struct event *ev_sock;
	struct event *ev_retry;
	int backoff_ms;
	int failed; /* statements refused by the server, for logs */
	size_t n;
	struct pgq_list items;
	struct {
		char *channel; /* LISTENed on */
		pgq_notify_cb notify;
		void *arg;
	} listen[PGQ_CHANNELS];
	int nlisten;
};

static void pgq_connect(struct pgq *);
static void pgq_send(struct pgq *);
static void pgq_wait(struct pgq *, short);

/* Frees it; a query not answered hears NULL. */
static void
pgq_item_free(struct pgq_item *it)
{
	int i;

	if (it->cb != NULL && !it->answered)
		it->cb(NULL, it->arg);
	for (i = 0; i < it->nparams; i++)
		free(it->params[i]);
	free(it->err);
	free(it->sql);
	free(it);
}

/* Stops watching the socket. */
static void
pgq_unwatch(struct pgq *q)
{
	if (q->ev_sock != NULL)
		event_free(q->ev_sock);
	q->ev_sock = NULL;
}

static void pgq_sock_cb(evutil_socket_t, short, void *);

static void
pgq_wait(struct pgq *q, short what)
{
	if (q->ev_sock != NULL)
		event_free(q->ev_sock);
	q->ev_sock =
	    event_new(q->base, PQsocket(q->conn), what, pgq_sock_cb, q);
	event_add(q->ev_sock, NULL);
}

/* Drops the connection and schedules the next attempt. */
static void
pgq_down(struct pgq *q, const char *why)
{
	struct timeval tv;
	struct pgq_item *it;

	/* The head was sent: it goes again, as if never answered. */
	if (q->state == PGQ_BUSY && (it = TAILQ_FIRST(&q->items)) != NULL) {
		it->retries++;
		free(it->err);
		it->err = NULL;
	}
	if (q->state != PGQ_DOWN)
		log_warnx("database connection lost (%s); %zu statement%s "
		          "waiting; retrying in %d ms",
		    why, q->n, q->n == 1 ? "" : "s", q->backoff_ms);
	pgq_unwatch(q);
	if (q->conn != NULL)
		PQfinish(q->conn);
	q->conn = NULL;
	q->state = PGQ_DOWN;
	tv.tv_sec = q->backoff_ms / 1000;
	tv.tv_usec = (q->backoff_ms % 1000) * 1000;
	evtimer_add(q->ev_retry, &tv);
	q->backoff_ms *= 2;
	if (q->backoff_ms > PGQ_BACKOFF_MAX_MS)
		q->backoff_ms = PGQ_BACKOFF_MAX_MS;
}

static void
pgq_retry_cb(evutil_socket_t fd, short what, void *arg)
{
	pgq_connect(arg);
}

/* Runs the callback for each notification that has come. */
static void
pgq_notifies(struct pgq *q)
{
	PGnotify *n;
	int i;

	while ((n = PQnotifies(q->conn)) != NULL) {
		for (i = 0; i < q->nlisten; i++)
			if (strcmp(n->relname, q->listen[i].channel) == 0)
				q->listen[i].notify(n->extra, q->listen[i].arg);
		PQfreemem(n);
	}
}

/* Queues the LISTEN of channel i first; tells that notices may be lost. */
static void
pgq_listen_one(struct pgq *q, int i)
{
	const char *channel = q->listen[i].channel;
	struct pgq_item *it;
	char *id;

	it = xcalloc(1, sizeof(*it));
	id = PQescapeIdentifier(q->conn, channel, strlen(channel));
	if (id == NULL)
		fatalx("%s: PQescapeIdentifier", __func__);
	xasprintf(&it->sql, "LISTEN %s", id);
	PQfreemem(id);
	TAILQ_INSERT_HEAD(&q->items, it, entry);
	q->n++;
	q->listen[i].notify(NULL, q->listen[i].arg);
}

/* A new connection: LISTEN first on every channel. */
static void
pgq_listen_again(struct pgq *q)
{
	int i;

	for (i = 0; i < q->nlisten; i++)
		pgq_listen_one(q, i);
}

/* Idle: wait for notifications, if listening. */
static void
pgq_idle(struct pgq *q)
{
	if (q->nlisten > 0)
		pgq_wait(q, EV_READ);
	else
		pgq_unwatch(q);
}

static void
pgq_poll_connect(struct pgq *q)
{
	switch (PQconnectPoll(q->conn)) {
	case PGRES_POLLING_READING:
		pgq_wait(q, EV_READ);
		return;
	case PGRES_POLLING_WRITING:
		pgq_wait(q, EV_WRITE);
		return;
	case PGRES_POLLING_OK:
		if (PQsetnonblocking(q->conn, 1) == -1) {
			pgq_down(q, "cannot make the connection non-blocking");
			return;
		}
		if (q->backoff_ms > PGQ_BACKOFF_MIN_MS)
			log_info("database connection back");
		q->backoff_ms = PGQ_BACKOFF_MIN_MS;
		q->state = PGQ_IDLE;
		pgq_listen_again(q);
		pgq_send(q);
		return;
	default:
		pgq_down(q, PQerrorMessage(q->conn));
		return;
	}
}

static void
pgq_connect(struct pgq *q)
{
	q->conn = PQconnectStart(q->conninfo);
	if (q->conn == NULL || PQstatus(q->conn) == CONNECTION_BAD ||
	    PQsocket(q->conn) < 0) {
		pgq_down(q,
		    q->conn != NULL ? PQerrorMessage(q->conn)
		                    : "out of memory");
		return;
	}
	q->state = PGQ_CONNECTING;
	pgq_poll_connect(q);
}

/* Sends the statement at the head of the queue, if idle. */
static void
pgq_send(struct pgq *q)
{
	struct pgq_item *it;

	if (q->state != PGQ_IDLE)
		return;
	if ((it = TAILQ_FIRST(&q->items)) == NULL) {
		pgq_idle(q);
		return;
	}
	if (!PQsendQueryParams(q->conn, it->sql, it->nparams, NULL,
	        (const char *const *)it->params, NULL, NULL, it->cb != NULL)) {
		pgq_down(q, PQerrorMessage(q->conn));
		return;
	}
	q->state = PGQ_BUSY;
	/* Flush what did not fit, then wait for the answer. */
	pgq_wait(q, PQflush(q->conn) == 1 ? EV_WRITE : EV_READ);
}

/* Whether an error result means the connection is going away. */
static int
pgq_lost(const PGresult *res)
{
	const char *state = PQresultErrorField(res, PG_DIAG_SQLSTATE);

	if (state == NULL)
		return 1; /* made by libpq itself, not the server */
	return strncmp(state, "08", 2) == 0 || strncmp(state, "57P", 3) == 0;
}

/* The head's last result came: logs what became of it, pops it. */
static void
pgq_done(struct pgq *q)
{
	struct pgq_item *it = TAILQ_FIRST(&q->items);

	if (it->err != NULL) {
		q->failed++;
		log_warnx(
		    "database refused a statement (dropped): %s", it->err);
	} else if (it->retries > 0)
		log_info("database statement applied after %d retr%s",
		    it->retries, it->retries == 1 ? "y" : "ies");
	TAILQ_REMOVE(&q->items, it, entry);
	q->n--;
	pgq_item_free(it);
	q->state = PGQ_IDLE;
	pgq_send(q);
}

/* Reads results; on the statement's last one, pops it and sends the next. */
static void
pgq_read(struct pgq *q)
{
	struct pgq_item *it;
	PGresult *res;
	ExecStatusType st;
	char *msg;
	size_t n;

	if (!PQconsumeInput(q->conn)) {
		pgq_down(q, PQerrorMessage(q->conn));
		return;
	}
	pgq_notifies(q);
	while (!PQisBusy(q->conn)) {
		if ((res = PQgetResult(q->conn)) == NULL) {
			pgq_done(q);
			return;
		}
		st = PQresultStatus(res);
		if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK &&
		    (PQstatus(q->conn) == CONNECTION_BAD || pgq_lost(res))) {
			msg = xstrdup(PQresultErrorMessage(res));
			if ((n = strlen(msg)) > 0 && msg[n - 1] == '\n')
				msg[n - 1] = '\0';
			PQclear(res);
			pgq_down(q, msg);
			free(msg);
			return;
		}
		it = TAILQ_FIRST(&q->items);
		if (it->cb != NULL && !it->answered &&
		    (st == PGRES_TUPLES_OK || st == PGRES_COMMAND_OK)) {
			it->answered = 1;
			it->cb(res, it->arg);
		}
		if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK &&
		    it->err == NULL)
			it->err = xstrdup(PQresultErrorMessage(res));
		PQclear(res);
	}
	pgq_wait(q, EV_READ);
}

static void
pgq_sock_cb(evutil_socket_t fd, short what, void *arg)
{
	struct pgq *q = arg;

	switch (q->state) {
	case PGQ_CONNECTING:
		pgq_poll_connect(q);
		break;
	case PGQ_BUSY:
		if (what & EV_WRITE) {
			switch (PQflush(q->conn)) {
			case 1:
				pgq_wait(q, EV_WRITE);
				return;
			case -1:
				pgq_down(q, PQerrorMessage(q->conn));
				return;
			}
		}
		pgq_read(q);
		break;
	case PGQ_IDLE:
		/* Notifications, or the server hung up. */
		if (!PQconsumeInput(q->conn)) {
			pgq_down(q, PQerrorMessage(q->conn));
			return;
		}
		pgq_notifies(q);
		pgq_wait(q, EV_READ);
		break;
	case PGQ_DOWN:
		break;
	}
}

struct pgq *
pgq_new(struct event_base *base, const char *conninfo)
{
	struct pgq *q;

	q = xcalloc(1, sizeof(*q));
	q->base = base;
	q->conninfo = xstrdup(conninfo);
	q->backoff_ms = PGQ_BACKOFF_MIN_MS;
	q->state = PGQ_DOWN;
	TAILQ_INIT(&q->items);
	q->ev_retry = evtimer_new(base, pgq_retry_cb, q);
	pgq_connect(q);
	return q;
}

void
pgq_free(struct pgq *q)
{
	struct pgq_item *it;
	int i;

	if (q == NULL)
		return;
	while ((it = TAILQ_FIRST(&q->items)) != NULL) {
		TAILQ_REMOVE(&q->items, it, entry);
		pgq_item_free(it);
	}
	pgq_unwatch(q);
	if (q->conn != NULL)
		PQfinish(q->conn);
	event_free(q->ev_retry);
	free(q->conninfo);
	for (i = 0; i < q->nlisten; i++)
		free(q->listen[i].channel);
	free(q);
}

void
pgq_listen(struct pgq *q, const char *channel, pgq_notify_cb cb, void *arg)
{
	int i;

	if (q->nlisten == PGQ_CHANNELS)
		fatalx("%s: more than %d channels", __func__, PGQ_CHANNELS);
	i = q->nlisten++;
	q->listen[i].channel = xstrdup(channel);
	q->listen[i].notify = cb;
	q->listen[i].arg = arg;
	if (q->state == PGQ_IDLE) {
		pgq_listen_one(q, i);
		pgq_send(q);
	}
}

void
pgq_exec(struct pgq *q, const char *sql, int nparams, const char *const *params)
{
	pgq_query(q, sql, nparams, params, NULL, NULL);
}

void
pgq_query(struct pgq *q, const char *sql, int nparams,
    const char *const *params, pgq_result_cb cb, void *arg)
{
	struct pgq_item *it;
	int i;

	if (nparams > PGQ_MAX_PARAMS)
		fatalx("%s: %d parameters", __func__, nparams);
	if (q->n >= PGQ_MAX) {
		/* The head may be in flight: drop the one after it. */
		it = TAILQ_NEXT(TAILQ_FIRST(&q->items), entry);
		if (it != NULL) {
			log_warnx("database queue full (%d): dropping a "
			          "statement",
			    PGQ_MAX);
			TAILQ_REMOVE(&q->items, it, entry);
			q->n--;
			pgq_item_free(it);
		}
	}
	it = xcalloc(1, sizeof(*it));
	it->sql = xstrdup(sql);
	it->cb = cb;
	it->arg = arg;
	it->nparams = nparams;
	for (i = 0; i < nparams; i++)
		it->params[i] = params[i] != NULL ? xstrdup(params[i]) : NULL;
	TAILQ_INSERT_TAIL(&q->items, it, entry);
	q->n++;
	pgq_send(q);
}

size_t
pgq_pending(const struct pgq *q)
{
	return q->n;
}
