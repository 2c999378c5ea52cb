/* SPDX-License-Identifier: ISC */
/*
 * The recorder's connection to PostgreSQL: it takes session events, writes
 * them to alia.events in transactions and reports each transaction's
 * events once its COMMIT has succeeded, on an asynchronous connection
 * of common/pgc.c (see the last paragraph).
 *
 * Events wait in a list until a batch is ready: RECORDER_DB_BATCH bytes
 * of data, or the first waiting event is RECORDER_DB_BATCH_US old. A
 * ready batch (up to RECORDER_DB_COPY_MAX bytes) goes out as one COPY
 * ... FROM STDIN in binary format (recorder_copy.c) in the open
 * transaction. After a COPY, the next ready batch joins the same
 * transaction while it is younger than RECORDER_DB_TXN_US and smaller
 * than RECORDER_DB_TXN_BYTES; otherwise it commits, and also when no
 * batch has become ready RECORDER_DB_LINGER_US after the last COPY ended.
 * The linger is what makes a burst's events share commits: each commit
 * costs the database an fdatasync of its WAL, and committing as soon as
 * nothing was ready made a burst of 64 KiB events commit one by one
 * (2336 commits for 200 MB, a fifth of the database's CPU time in
 * fdatasync). Events are in their worker's journal until acked, so the
 * wait risks nothing; it delays only the acks.
 *
 * Exactly once without ON CONFLICT. A session's stored seqs run from 0
 * without a gap but those the worker itself lost, so what is stored is
 * told by one number: the session's next seq (its max(seq) + 1, 0 when
 * it has no row). Per session seen in a batch the next seq is kept in a
 * tree; a session not in it is asked for with one query for all of the
 * batch's (STMT_NEXT, in the transaction, so it counts the rows this
 * transaction wrote). Then each event of the batch is written when its
 * seq is the next one, or past it and counted by recorder.c (which knows
 * the worker lost what is between); otherwise it is a copy of a stored
 * event (the worker sends again what was committed but not acked), or an
 * uncounted one ahead of its turn (the worker sends it again in turn),
 * and is left out. Either way it goes with the transaction's events and
 * is reported when it commits. Any failure empties the tree (a COMMIT
 * whose answer was lost may have landed): every session is asked again.
 *
 * Side queries (recorder_db_query: the quota's usage and check, the
 * retention job, the search text of recorder_search.c) wait in their own list and run one at a time between
 * transactions, in autocommit; when a batch of events is ready as well,
 * the two take turns, so neither starves the other. A side query's
 * callback gets its result, or NULL when it failed or the connection was
 * lost (it is not sent again: the caller tries again later).
 *
 * The connection is common/pgc.c's, which this file is the only user of:
 * it queues one statement at a time, the next from the callback of the
 * last (in a transaction with PGC_INTXN), and connecting, the backoff
 * (100 ms doubling to 5 s) and waiting for a connection are pgc's. States:
 * IDLE (no transaction), OPEN (a transaction open, nothing queued), BUSY
 * (one statement queued or in flight; busy says which). Any failure of
 * the transaction's statements (connection lost, statement refused, which
 * then drops the connection) puts the events of the open transaction back
 * at the head of the waiting list, to be written again on the next
 * connection. Nothing is ever dropped.
 */
#include <sys/queue.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifndef __unused
#define __unused __attribute__((__unused__))
#endif
#include <bsd/sys/tree.h>
#include <event2/buffer.h>
#include <event2/event.h>
#include <libpq-fe.h>

#include "common/clock.h"
#include "common/log.h"
#include "common/pgc.h"
#include "common/str.h"
#include "common/uuid.h"
#include "common/xmalloc.h"
#include "recorder/recorder.h"

#define RECORDER_DB_BATCH     (1024 * 1024)     /* data that makes a batch */
#define RECORDER_DB_BATCH_US  50000             /* or its first event's age */
#define RECORDER_DB_COPY_MAX  (1024 * 1024)     /* data of one COPY */
#define RECORDER_DB_TXN_US    1000000           /* commit at least this often */
#define RECORDER_DB_TXN_BYTES (4 * 1024 * 1024) /* or at this much data */
#define RECORDER_DB_LINGER_US RECORDER_DB_BATCH_US /* for the next batch */
#define RECORDER_DB_STATS_US  5000000

enum recorder_db_state {
	DB_IDLE,
	DB_OPEN,
	DB_BUSY,
};

enum recorder_db_stmt {
	STMT_BEGIN,
	STMT_NEXT,
	STMT_COPY,
	STMT_COMMIT,
	STMT_SIDE,
};

struct recorder_side {
	TAILQ_ENTRY(recorder_side) entry;
	char *sql;
	int n;
	char **params;
	recorder_db_query_cb cb;
	void *arg;
};
TAILQ_HEAD(recorder_sides, recorder_side);

/* What alia.events holds of a session. */
struct recorder_next {
	RB_ENTRY(recorder_next) entry;
	struct uuid id;
	int known;      /* next is the database's answer */
	unsigned asked; /* the STMT_NEXT that asks for it */
	uint64_t next;  /* the seq after the last stored (0: none stored) */
};
UUID_TREE(recorder_nexts, recorder_next, entry, id)

struct recorder_db {
	struct pgc *pgc;
	int closing; /* pgc_free's callbacks change nothing */
	enum recorder_db_state state;
	enum recorder_db_stmt busy;
	struct event *ev_batch;
	recorder_db_cb cb;
	void *arg;

	struct recorder_evs wait; /* not sent yet, in arrival order */
	size_t wait_bytes;
	int64_t wait_first;      /* monotonic us of the oldest waiting event */
	struct recorder_evs txn; /* sent in the open transaction */
	size_t txn_bytes;
	int64_t txn_start;
	int64_t copied; /* monotonic us when the last COPY ended */
	int flushing;   /* write everything now */

	char cmd[32]; /* the command status of the statement in flight */
	struct recorder_nexts nexts; /* sessions' next seqs, as stored */
	unsigned asking;             /* STMT_NEXTs sent */

	int64_t stats_start;
	uint64_t stats_rows, stats_bytes, stats_commits;

	struct recorder_sides sides; /* side queries waiting */
	struct recorder_side *side;  /* the one in flight */
	int side_last;               /* the last statement was a side one */
};

static void recorder_db_step(struct recorder_db *);

static void
recorder_side_free(struct recorder_side *q)
{
	int i;

	for (i = 0; i < q->n; i++)
		free(q->params[i]);
	free(q->params);
	free(q->sql);
	free(q);
}

/* Forgets every session's next seq: each is asked for again. */
static void
recorder_db_unknown(struct recorder_db *db)
{
	struct recorder_next *n;

	while ((n = RB_ROOT(&db->nexts)) != NULL) {
		RB_REMOVE(recorder_nexts, &db->nexts, n);
		free(n);
	}
}

/* Puts the open transaction's events back at the head of the waiting. */
static void
recorder_db_requeue(struct recorder_db *db)
{
	recorder_db_unknown(db);
	if (TAILQ_EMPTY(&db->txn))
		return;
	TAILQ_CONCAT(&db->txn, &db->wait, entry);
	TAILQ_CONCAT(&db->wait, &db->txn, entry);
	db->wait_bytes += db->txn_bytes;
	db->txn_bytes = 0;
	db->wait_first = clock_mono_us() - RECORDER_DB_BATCH_US;
}

static void
recorder_db_batch_cb(evutil_socket_t fd, short what, void *arg)
{
	recorder_db_step(arg);
}

static void recorder_db_event(
    enum pgc_event, const struct pg_result *, const char *, void *);

/* Queues one statement; how it went comes to recorder_db_event. */
static void
recorder_db_send(struct recorder_db *db, enum recorder_db_stmt stmt,
    const char *sql, int n, const char *const *values, const int *lengths,
    const int *formats)
{
	db->state = DB_BUSY;
	db->cmd[0] = '\0';
	db->busy = stmt;
	pgc_query(db->pgc, sql, n, values, lengths, formats,
	    stmt != STMT_BEGIN ? PGC_INTXN : 0, recorder_db_event, db);
}

static void recorder_db_side_cb(const struct pg_result *, void *);

/* Queues the first waiting side query. */
static void
recorder_db_side(struct recorder_db *db)
{
	db->side = TAILQ_FIRST(&db->sides);
	TAILQ_REMOVE(&db->sides, db->side, entry);
	db->side_last = 1;
	db->state = DB_BUSY;
	db->busy = STMT_SIDE;
	pgc_fetch(db->pgc, db->side->sql, db->side->n,
	    (const char *const *)db->side->params, 0, recorder_db_side_cb, db);
}

/* The first waiting event not in the next batch (NULL: all are). */
static struct recorder_ev *
recorder_db_batch_end(struct recorder_db *db)
{
	struct recorder_ev *ev;
	size_t bytes = 0;

	TAILQ_FOREACH (ev, &db->wait, entry) {
		if (bytes > 0 && bytes + ev->len > RECORDER_DB_COPY_MAX)
			break;
		bytes += ev->len;
	}
	return ev;
}

/*
 * Asks for the next seq of each session of the next batch not known yet;
 * returns 0 when every one is known.
 */
static int
recorder_db_ask(struct recorder_db *db)
{
	struct recorder_ev *ev, *end = recorder_db_batch_end(db);
	struct recorder_next *n;
	struct evbuffer *ids;
	const char *params[1];
	size_t asked = 0;

	db->asking++;
	ids = evbuffer_new();
	for (ev = TAILQ_FIRST(&db->wait); ev != end;
	     ev = TAILQ_NEXT(ev, entry)) {
		if ((n = recorder_nexts_find(&db->nexts, &ev->id)) == NULL) {
			n = xcalloc(1, sizeof(*n));
			n->id = ev->id;
			RB_INSERT(recorder_nexts, &db->nexts, n);
		}
		if (n->known || n->asked == db->asking)
			continue;
		n->asked = db->asking;
		evbuffer_add_printf(
		    ids, "%s%s", asked++ > 0 ? "," : "{", ev->session);
	}
	if (asked > 0) {
		evbuffer_add(ids, "}", 2);
		params[0] = (const char *)evbuffer_pullup(ids, -1);
		recorder_db_send(db, STMT_NEXT,
		    "SELECT s, (SELECT max(seq) FROM alia.events "
		    "WHERE session_id = s) FROM unnest($1::uuid[]) s",
		    1, params, NULL, NULL);
	}
	evbuffer_free(ids);
	return asked > 0;
}

/* STMT_NEXT's rows: the sessions' next seqs. */
static void
recorder_db_known(struct recorder_db *db, const struct pg_result *res)
{
	struct recorder_next *n;
	struct uuid id;
	long long max;
	int i;

	for (i = 0; i < PQntuples(res); i++) {
		if (uuid_parse(PQgetvalue(res, i, 0), &id) == -1 ||
		    (n = recorder_nexts_find(&db->nexts, &id)) == NULL)
			continue;
		max = -1;
		if (!PQgetisnull(res, i, 1) &&
		    str_num(PQgetvalue(res, i, 1), 0, INT64_MAX, &max) == -1)
			continue;
		n->next = (uint64_t)(max + 1);
		n->known = 1;
	}
}

/*
 * Whether ev goes into the COPY: its seq is the session's next, or past
 * it and counted (see the top); the next seq moves past it.
 */
static int
recorder_db_take(struct recorder_db *db, const struct recorder_ev *ev)
{
	struct recorder_next *n = recorder_nexts_find(&db->nexts, &ev->id);

	if (n == NULL || !n->known)
		fatalx("%s: seq %llu of %s: no next seq known", __func__,
		    (unsigned long long)ev->seq, ev->session);
	if (ev->seq < n->next || (ev->seq > n->next && ev->owner == NULL))
		return 0;
	n->next = ev->seq + 1;
	return 1;
}

/* Sends the next batch as one COPY; events already stored are left out. */
static void
recorder_db_copy(struct recorder_db *db)
{
	struct recorder_ev *ev, *end = recorder_db_batch_end(db);
	struct evbuffer *data;

	data = evbuffer_new();
	recorder_copy_start(data);
	while ((ev = TAILQ_FIRST(&db->wait)) != end) {
		TAILQ_REMOVE(&db->wait, ev, entry);
		TAILQ_INSERT_TAIL(&db->txn, ev, entry);
		db->wait_bytes -= ev->len;
		db->txn_bytes += ev->len;
		if (recorder_db_take(db, ev))
			recorder_copy_row(data, ev);
	}
	recorder_copy_end(data);
	db->wait_first = clock_mono_us();
	db->state = DB_BUSY;
	db->cmd[0] = '\0';
	db->busy = STMT_COPY;
	pgc_copy(db->pgc,
	    "COPY alia.events (session_id, seq, t_us, kind, data) "
	    "FROM STDIN (FORMAT binary)",
	    data, PGC_INTXN, recorder_db_event, db);
}

/* Whether the waiting events make a batch now. */
static int
recorder_db_ready(struct recorder_db *db, int64_t now)
{
	if (TAILQ_EMPTY(&db->wait))
		return 0;
	return db->flushing || db->wait_bytes >= RECORDER_DB_BATCH ||
	    now - db->wait_first >= RECORDER_DB_BATCH_US;
}

static void
recorder_db_commit(struct recorder_db *db)
{
	event_del(db->ev_batch);
	recorder_db_send(db, STMT_COMMIT, "COMMIT", 0, NULL, NULL, NULL);
}

/*
 * Steps again when the waiting batch is due by its age, or at until (a
 * linger's end) if that comes first; until -1: by the batch alone.
 */
static void
recorder_db_wake(struct recorder_db *db, int64_t now, int64_t until)
{
	struct timeval tv;
	int64_t at = until;

	if (!TAILQ_EMPTY(&db->wait) &&
	    (at == -1 || db->wait_first + RECORDER_DB_BATCH_US < at))
		at = db->wait_first + RECORDER_DB_BATCH_US;
	tv.tv_sec = 0;
	tv.tv_usec = at > now ? at - now : 0;
	evtimer_add(db->ev_batch, &tv);
}

/* Starts the next statement, if any is due. */
static void
recorder_db_step(struct recorder_db *db)
{
	int64_t now = clock_mono_us();

	switch (db->state) {
	case DB_OPEN:
		if (db->txn_bytes >= RECORDER_DB_TXN_BYTES ||
		    now - db->txn_start >= RECORDER_DB_TXN_US) {
			recorder_db_commit(db);
			return;
		}
		if (recorder_db_ready(db, now)) {
			if (!recorder_db_ask(db))
				recorder_db_copy(db);
			return;
		}
		if (!db->flushing && now - db->copied < RECORDER_DB_LINGER_US) {
			recorder_db_wake(
			    db, now, db->copied + RECORDER_DB_LINGER_US);
			return;
		}
		recorder_db_commit(db);
		return;
	case DB_IDLE:
		if (!TAILQ_EMPTY(&db->sides) &&
		    !(db->side_last && recorder_db_ready(db, now))) {
			recorder_db_side(db);
			return;
		}
		db->side_last = 0;
		if (recorder_db_ready(db, now)) {
			db->txn_start = now;
			recorder_db_send(
			    db, STMT_BEGIN, "BEGIN", 0, NULL, NULL, NULL);
			return;
		}
		if (!TAILQ_EMPTY(&db->wait)) {
			recorder_db_wake(db, now, -1);
			return;
		}
		db->flushing = 0;
		return;

	default:
		return;
	}
}

static void
recorder_db_stats(struct recorder_db *db, size_t rows, size_t bytes)
{
	int64_t now = clock_mono_us(), dt;

	db->stats_rows += rows;
	db->stats_bytes += bytes;
	db->stats_commits++;
	if (db->stats_start == 0)
		db->stats_start = now;
	dt = now - db->stats_start;
	if (dt < RECORDER_DB_STATS_US)
		return;
	log_debug("database: %.0f rows/s, %.2f MB/s over %.1f s",
	    (double)db->stats_rows * 1e6 / (double)dt,
	    (double)db->stats_bytes / (double)dt, (double)dt / 1e6);
	db->stats_start = now;
	db->stats_rows = db->stats_bytes = 0;
}

/* A side query's answer (NULL: it failed): its callback, then the next. */
static void
recorder_db_side_cb(const struct pg_result *res, void *arg)
{
	struct recorder_db *db = arg;
	struct recorder_side *q = db->side;

	db->side = NULL;
	if (!db->closing) {
		db->state = DB_IDLE;
		q->cb(res, q->arg);
	}
	recorder_side_free(q);
	if (!db->closing)
		recorder_db_step(db);
}

/* The transaction's COMMIT is done: its events go to the callback. */
static void
recorder_db_committed(struct recorder_db *db)
{
	struct recorder_evs done;
	struct recorder_ev *ev;
	size_t rows = 0;

	db->state = DB_IDLE;
	TAILQ_INIT(&done);
	TAILQ_CONCAT(&done, &db->txn, entry);
	TAILQ_FOREACH (ev, &done, entry)
		rows++;
	recorder_db_stats(db, rows, db->txn_bytes);
	db->txn_bytes = 0;
	db->cb(&done, db->arg);
}

/*
 * A statement of the transaction failed (res: the server refused it, and
 * the connection is dropped to roll the transaction back): its events are
 * written again on the next connection.
 */
static void
recorder_db_failed(
    struct recorder_db *db, const struct pg_result *res, const char *why)
{
	const char *state;

	recorder_db_requeue(db);
	db->state = DB_IDLE;
	if (res == NULL) {
		log_warnx("database: %s; %zu bytes of events held", why,
		    db->wait_bytes);
		return;
	}
	state = PQresultErrorField(res, PG_DIAG_SQLSTATE);
	log_warnx("database refused a statement (%s): %s",
	    state != NULL ? state : "?", why);
	pgc_reset(db->pgc, "statement failed");
}

/* How the statement in flight went: what comes next. */
static void
recorder_db_event(
    enum pgc_event ev, const struct pg_result *res, const char *err, void *arg)
{
	struct recorder_db *db = arg;

	if (db->closing)
		return;
	if (ev == PGC_RESULT) {
		snprintf(db->cmd, sizeof(db->cmd), "%s",
		    PQcmdStatus((PGresult *)res));
		if (db->busy == STMT_NEXT)
			recorder_db_known(db, res);
		return;
	}
	if (ev == PGC_ERROR)
		recorder_db_failed(db, res, err);
	else if (db->busy != STMT_COMMIT) {
		if (db->busy == STMT_COPY)
			db->copied = clock_mono_us();
		db->state = DB_OPEN;
	} else if (strcmp(db->cmd, "COMMIT") != 0) {
		pgc_reset(db->pgc, "the transaction rolled back");
		recorder_db_failed(db, NULL, "the transaction rolled back");
	} else
		recorder_db_committed(db);
	recorder_db_step(db);
}

struct recorder_db *
recorder_db_new(
    struct event_base *base, const char *conninfo, recorder_db_cb cb, void *arg)
{
	struct recorder_db *db;

	db = xcalloc(1, sizeof(*db));
	db->cb = cb;
	db->arg = arg;
	db->state = DB_IDLE;
	TAILQ_INIT(&db->wait);
	TAILQ_INIT(&db->txn);
	TAILQ_INIT(&db->sides);
	RB_INIT(&db->nexts);
	db->ev_batch = evtimer_new(base, recorder_db_batch_cb, db);
	db->pgc = pgc_new(base, conninfo, NULL, 0);
	return db;
}

void
recorder_db_free(struct recorder_db *db)
{
	struct recorder_side *q;
	struct recorder_ev *ev;

	if (db == NULL)
		return;
	db->closing = 1;
	pgc_free(db->pgc);
	TAILQ_CONCAT(&db->wait, &db->txn, entry);
	while ((ev = TAILQ_FIRST(&db->wait)) != NULL) {
		TAILQ_REMOVE(&db->wait, ev, entry);
		free(ev);
	}
	while ((q = TAILQ_FIRST(&db->sides)) != NULL) {
		TAILQ_REMOVE(&db->sides, q, entry);
		recorder_side_free(q);
	}
	recorder_db_unknown(db);
	event_free(db->ev_batch);
	free(db);
}

void
recorder_db_forget(struct recorder_db *db, const struct uuid *id)
{
	struct recorder_next *n;

	if ((n = recorder_nexts_find(&db->nexts, id)) != NULL) {
		RB_REMOVE(recorder_nexts, &db->nexts, n);
		free(n);
	}
}

void
recorder_db_add(struct recorder_db *db, struct recorder_ev *ev)
{
	if (TAILQ_EMPTY(&db->wait))
		db->wait_first = clock_mono_us();
	TAILQ_INSERT_TAIL(&db->wait, ev, entry);
	db->wait_bytes += ev->len;
	if ((db->state == DB_IDLE || db->state == DB_OPEN) &&
	    (db->wait_bytes >= RECORDER_DB_BATCH ||
	        !evtimer_pending(db->ev_batch, NULL)))
		recorder_db_step(db);
}

void
recorder_db_flush(struct recorder_db *db)
{
	db->flushing = 1;
	if (db->state == DB_IDLE || db->state == DB_OPEN)
		recorder_db_step(db);
}

size_t
recorder_db_held(const struct recorder_db *db)
{
	return db->wait_bytes + db->txn_bytes;
}

size_t
recorder_db_events(const struct recorder_db *db)
{
	struct recorder_ev *ev;
	size_t n = 0;

	TAILQ_FOREACH (ev, &db->wait, entry)
		n++;
	TAILQ_FOREACH (ev, &db->txn, entry)
		n++;
	return n;
}

void
recorder_db_query(struct recorder_db *db, const char *sql, int n,
    const char *const *params, recorder_db_query_cb cb, void *arg)
{
	struct recorder_side *q;
	int i;

	q = xcalloc(1, sizeof(*q));
	q->sql = xstrdup(sql);
	q->n = n;
	q->params = xcalloc((size_t)n + 1, sizeof(*q->params));
	for (i = 0; i < n; i++)
		q->params[i] = xstrdup(params[i]);
	q->cb = cb;
	q->arg = arg;
	TAILQ_INSERT_TAIL(&db->sides, q, entry);
	if (db->state == DB_IDLE)
		recorder_db_step(db);
}
