/* SPDX-License-Identifier: ISC */
/*
 * The recorder's connection to PostgreSQL: it takes session events, writes
 * them to alia.events in transactions and reports each transaction's
 * events once its COMMIT has succeeded. The connection is asynchronous,
 * driven by socket events of the recorder's loop.
 *
 * Events wait in a list until a batch is ready: RECORDER_DB_BATCH bytes
 * of data, or the first waiting event is RECORDER_DB_BATCH_US old. A
 * ready batch goes out as one multi-row INSERT ... ON CONFLICT DO NOTHING
 * (data as a binary parameter) in the open transaction. After an INSERT,
 * the next ready batch joins the same transaction while it is younger
 * than RECORDER_DB_TXN_US and smaller than RECORDER_DB_TXN_BYTES;
 * otherwise, and whenever no batch is ready, the transaction commits.
 * After a commit, at most once a second (a timer catches up when a commit
 * came sooner), `SELECT alia.index_pending()`
 * runs on its own; a failure there is logged and changes nothing.
 *
 * Side queries (recorder_db_query: the quota's usage and check, the
 * retention job) wait in their own list and run one at a time between
 * transactions, in autocommit; when a batch of events is ready as well,
 * the two take turns, so neither starves the other. A side query's
 * callback gets its result, or NULL when it failed or the connection was
 * lost (it is not sent again: the caller tries again later).
 *
 * States: DOWN (waiting for the backoff timer: 100 ms doubling to 5 s),
 * CONNECTING (PQconnectPoll), IDLE (no transaction), OPEN (a transaction
 * open, nothing in flight), BUSY (one statement in flight; busy says
 * which). Any failure (connection lost, statement refused) drops the
 * connection: the events of the open transaction go back to the head of
 * the waiting list and are written again after the reconnect. Nothing is
 * ever dropped; the insert is idempotent on (session_id, seq).
 */
#include <sys/queue.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>
#include <libpq-fe.h>

#include "common/clock.h"
#include "common/log.h"
#include "common/xmalloc.h"
#include "recorder/recorder.h"

#define RECORDER_DB_BATCH          (64 * 1024)   /* data that makes a batch */
#define RECORDER_DB_BATCH_US       50000         /* or its first event's age */
#define RECORDER_DB_INSERT_MAX     (1024 * 1024) /* data of one INSERT */
#define RECORDER_DB_ROWS_MAX       1000          /* rows of one INSERT */
#define RECORDER_DB_TXN_US         1000000 /* commit at least this often */
#define RECORDER_DB_TXN_BYTES      (4 * 1024 * 1024) /* or at this much data */
#define RECORDER_DB_INDEX_US       1000000
#define RECORDER_DB_BACKOFF_MIN_MS 100
#define RECORDER_DB_BACKOFF_MAX_MS 5000
#define RECORDER_DB_STATS_US       5000000
#define RECORDER_DB_SIDE_PARAMS    4

enum recorder_db_state {
	DB_DOWN,
	DB_CONNECTING,
	DB_IDLE,
	DB_OPEN,
	DB_BUSY,
};

enum recorder_db_stmt {
	STMT_BEGIN,
	STMT_INSERT,
	STMT_COMMIT,
	STMT_INDEX,
	STMT_SIDE,
};

struct recorder_side {
	TAILQ_ENTRY(recorder_side) entry;
	char *sql;
	int n;
	char *params[RECORDER_DB_SIDE_PARAMS];
	recorder_db_query_cb cb;
	void *arg;
};
TAILQ_HEAD(recorder_sides, recorder_side);

struct recorder_db {
	struct event_base *base;
	char *conninfo;
	PGconn *conn;
	enum recorder_db_state state;
	enum recorder_db_stmt busy;
	struct event *ev_sock;
	struct event *ev_retry;
	struct event *ev_batch;
	int backoff_ms;
	recorder_db_cb cb;
	void *arg;

	struct recorder_evs wait; /* not sent yet, in arrival order */
	size_t wait_bytes;
	int64_t wait_first;      /* monotonic us of the oldest waiting event */
	struct recorder_evs txn; /* sent in the open transaction */
	size_t txn_bytes;
	int64_t txn_start;
	int flushing; /* write everything now */

	int failed; /* the statement in flight failed: why */
	char sqlstate[8];
	char errmsg[256];
	char cmd[32]; /* its command status */

	int64_t last_index;
	int index_due;     /* a commit since the last index_pending() */
	int index_missing; /* it failed last time (logged once) */

	int64_t stats_start;
	uint64_t stats_rows, stats_bytes, stats_commits;

	struct recorder_sides sides; /* side queries waiting */
	struct recorder_side *side;  /* the one in flight */
	PGresult *side_res;          /* its result so far */
	int side_last;               /* the last statement was a side one */
};

static void recorder_db_connect(struct recorder_db *);
static void recorder_db_step(struct recorder_db *);
static void recorder_db_sock_cb(evutil_socket_t, short, void *);

static void
recorder_db_watch(struct recorder_db *db, short what)
{
	if (db->ev_sock != NULL)
		event_free(db->ev_sock);
	db->ev_sock = event_new(
	    db->base, PQsocket(db->conn), what, recorder_db_sock_cb, db);
	event_add(db->ev_sock, NULL);
}

static void
recorder_db_unwatch(struct recorder_db *db)
{
	if (db->ev_sock != NULL)
		event_free(db->ev_sock);
	db->ev_sock = NULL;
}

static void
recorder_side_free(struct recorder_side *q)
{
	int i;

	for (i = 0; i < q->n; i++)
		free(q->params[i]);
	free(q->sql);
	free(q);
}

/* The side query in flight is over: its callback gets res (NULL: failed). */
static void
recorder_db_side_done(struct recorder_db *db, PGresult *res)
{
	struct recorder_side *q = db->side;

	db->side = NULL;
	if (q == NULL)
		return;
	q->cb(res, q->arg);
	recorder_side_free(q);
}

/* Drops the connection, puts the open transaction back, retries later. */
static void
recorder_db_down(struct recorder_db *db, const char *why)
{
	struct timeval tv;

	if (!TAILQ_EMPTY(&db->txn)) {
		TAILQ_CONCAT(&db->txn, &db->wait, entry);
		TAILQ_CONCAT(&db->wait, &db->txn, entry);
		db->wait_bytes += db->txn_bytes;
		db->txn_bytes = 0;
		db->wait_first = clock_mono_us() - RECORDER_DB_BATCH_US;
	}
	if (db->side_res != NULL)
		PQclear(db->side_res);
	db->side_res = NULL;
	recorder_db_side_done(db, NULL);
	if (db->state != DB_DOWN)
		log_warnx("database: %s; %zu bytes of events held, retrying "
		          "in %d ms",
		    why, db->wait_bytes, db->backoff_ms);
	recorder_db_unwatch(db);
	if (db->conn != NULL)
		PQfinish(db->conn);
	db->conn = NULL;
	db->state = DB_DOWN;
	tv.tv_sec = db->backoff_ms / 1000;
	tv.tv_usec = (db->backoff_ms % 1000) * 1000;
	evtimer_add(db->ev_retry, &tv);
	db->backoff_ms *= 2;
	if (db->backoff_ms > RECORDER_DB_BACKOFF_MAX_MS)
		db->backoff_ms = RECORDER_DB_BACKOFF_MAX_MS;
}

static void
recorder_db_retry_cb(evutil_socket_t fd, short what, void *arg)
{
	recorder_db_connect(arg);
}

static void
recorder_db_batch_cb(evutil_socket_t fd, short what, void *arg)
{
	recorder_db_step(arg);
}

static void
recorder_db_poll(struct recorder_db *db)
{
	switch (PQconnectPoll(db->conn)) {
	case PGRES_POLLING_READING:
		recorder_db_watch(db, EV_READ);
		return;
	case PGRES_POLLING_WRITING:
		recorder_db_watch(db, EV_WRITE);
		return;
	case PGRES_POLLING_OK:
		if (PQsetnonblocking(db->conn, 1) == -1) {
			recorder_db_down(db, "cannot make it non-blocking");
			return;
		}
		if (db->backoff_ms > RECORDER_DB_BACKOFF_MIN_MS)
			log_info("database connection back");
		db->backoff_ms = RECORDER_DB_BACKOFF_MIN_MS;
		recorder_db_unwatch(db);
		db->state = DB_IDLE;
		recorder_db_step(db);
		return;
	default:
		recorder_db_down(db, PQerrorMessage(db->conn));
		return;
	}
}

static void
recorder_db_connect(struct recorder_db *db)
{
	db->conn = PQconnectStart(db->conninfo);
	if (db->conn == NULL || PQstatus(db->conn) == CONNECTION_BAD ||
	    PQsocket(db->conn) < 0) {
		recorder_db_down(db,
		    db->conn != NULL ? PQerrorMessage(db->conn)
		                     : "out of memory");
		return;
	}
	db->state = DB_CONNECTING;
	recorder_db_poll(db);
}

/* Sends one statement; the answer comes to recorder_db_read. */
static void
recorder_db_send(struct recorder_db *db, enum recorder_db_stmt stmt,
    const char *sql, int n, const char *const *values, const int *lengths,
    const int *formats)
{
	int ok;

	if (n == 0)
		ok = PQsendQuery(db->conn, sql);
	else
		ok = PQsendQueryParams(
		    db->conn, sql, n, NULL, values, lengths, formats, 0);
	if (!ok) {
		recorder_db_down(db, PQerrorMessage(db->conn));
		return;
	}
	db->state = DB_BUSY;
	db->failed = 0;
	db->cmd[0] = '\0';
	db->busy = stmt;
	switch (PQflush(db->conn)) {
	case 0:
		recorder_db_watch(db, EV_READ);
		return;
	case 1:
		recorder_db_watch(db, EV_READ | EV_WRITE);
		return;
	default:
		recorder_db_down(db, PQerrorMessage(db->conn));
		return;
	}
}

/* Sends the waiting events at the head as one INSERT. */
static void
recorder_db_insert(struct recorder_db *db)
{
	static const char head[] = "INSERT INTO alia.events (session_id, seq, "
	                           "t_us, kind, data) VALUES ";
	static const char tail[] = " ON CONFLICT (session_id, seq) DO NOTHING";
	struct recorder_ev *ev;
	const char **values;
	int *lengths, *formats, n = 0, i;
	char *sql, *nums, *p;
	size_t bytes = 0, cap;

	TAILQ_FOREACH (ev, &db->wait, entry) {
		if (n == RECORDER_DB_ROWS_MAX ||
		    (n > 0 && bytes + ev->len > RECORDER_DB_INSERT_MAX))
			break;
		bytes += ev->len;
		n++;
	}
	cap = sizeof(head) + sizeof(tail) + (size_t)n * 96;
	sql = xmalloc(cap);
	nums = xmalloc((size_t)n * 48);
	values = xreallocarray(NULL, (size_t)n * 5, sizeof(*values));
	lengths = xreallocarray(NULL, (size_t)n * 5, sizeof(*lengths));
	formats = xreallocarray(NULL, (size_t)n * 5, sizeof(*formats));
	p = sql + snprintf(sql, cap, "%s", head);
	for (i = 0; i < n; i++) {
		p += snprintf(p, cap - (size_t)(p - sql),
		    "%s($%d::uuid,$%d::int8,$%d::int8,$%d::\"char\","
		    "$%d::bytea)",
		    i > 0 ? "," : "", 5 * i + 1, 5 * i + 2, 5 * i + 3,
		    5 * i + 4, 5 * i + 5);
	}
	snprintf(p, cap - (size_t)(p - sql), "%s", tail);
	for (i = 0; i < n; i++) {
		ev = TAILQ_FIRST(&db->wait);
		TAILQ_REMOVE(&db->wait, ev, entry);
		TAILQ_INSERT_TAIL(&db->txn, ev, entry);
		db->wait_bytes -= ev->len;
		db->txn_bytes += ev->len;
		p = nums + i * 48;
		snprintf(p, 22, "%" PRIu64, ev->seq);
		snprintf(p + 22, 22, "%" PRId64, ev->t_us);
		p[44] = ev->kind;
		p[45] = '\0';
		values[5 * i] = ev->session;
		values[5 * i + 1] = p;
		values[5 * i + 2] = p + 22;
		values[5 * i + 3] = p + 44;
		values[5 * i + 4] = (const char *)ev->data;
		lengths[5 * i + 4] = (int)ev->len;
		formats[5 * i] = formats[5 * i + 1] = formats[5 * i + 2] =
		    formats[5 * i + 3] = 0;
		formats[5 * i + 4] = 1;
		lengths[5 * i] = lengths[5 * i + 1] = lengths[5 * i + 2] =
		    lengths[5 * i + 3] = 0;
	}
	db->wait_first = clock_mono_us();
	recorder_db_send(db, STMT_INSERT, sql, 5 * n, values, lengths, formats);
	free(sql);
	free(nums);
	free(values);
	free(lengths);
	free(formats);
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

/* Starts the next statement, if any is due. */
static void
recorder_db_step(struct recorder_db *db)
{
	int64_t now = clock_mono_us(), left;
	struct timeval tv;

	switch (db->state) {
	case DB_OPEN:
		if (recorder_db_ready(db, now) &&
		    db->txn_bytes < RECORDER_DB_TXN_BYTES &&
		    now - db->txn_start < RECORDER_DB_TXN_US) {
			recorder_db_insert(db);
			return;
		}
		recorder_db_send(
		    db, STMT_COMMIT, "COMMIT", 0, NULL, NULL, NULL);
		return;
	case DB_IDLE:
		if (!TAILQ_EMPTY(&db->sides) &&
		    !(db->side_last && recorder_db_ready(db, now))) {
			db->side = TAILQ_FIRST(&db->sides);
			TAILQ_REMOVE(&db->sides, db->side, entry);
			db->side_last = 1;
			recorder_db_send(db, STMT_SIDE, db->side->sql,
			    db->side->n, (const char *const *)db->side->params,
			    NULL, NULL);
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
			left = db->wait_first + RECORDER_DB_BATCH_US - now;
			tv.tv_sec = 0;
			tv.tv_usec = left > 0 ? left : 0;
			evtimer_add(db->ev_batch, &tv);
			return;
		}
		db->flushing = 0;
		if (db->index_due &&
		    now - db->last_index >= RECORDER_DB_INDEX_US) {
			db->last_index = now;
			db->index_due = 0;
			recorder_db_send(db, STMT_INDEX,
			    "SELECT alia.index_pending()", 0, NULL, NULL, NULL);
		} else if (db->index_due) {
			/*
			 * Too soon after the last run: come back when it is
			 * due, or a session's last output would wait for
			 * someone else's commit to become searchable.
			 */
			left = db->last_index + RECORDER_DB_INDEX_US - now;
			tv.tv_sec = left / 1000000;
			tv.tv_usec = left % 1000000;
			evtimer_add(db->ev_batch, &tv);
		}
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

/* The statement in flight has its answer: what comes next. */
static void
recorder_db_done(struct recorder_db *db)
{
	struct recorder_evs done;
	struct recorder_ev *ev;
	size_t rows = 0;

	if (db->busy == STMT_SIDE) {
		db->state = DB_IDLE;
		if (db->failed)
			log_warnx("a side query failed (%s): %s", db->sqlstate,
			    db->errmsg);
		recorder_db_side_done(db, db->failed ? NULL : db->side_res);
		if (db->side_res != NULL)
			PQclear(db->side_res);
		db->side_res = NULL;
		recorder_db_step(db);
		return;
	}
	if (db->busy == STMT_INDEX) {
		db->state = DB_IDLE;
		if (db->failed && !db->index_missing)
			log_debug("alia.index_pending() failed (%s), skipped: "
			          "%s",
			    db->sqlstate, db->errmsg);
		db->index_missing = db->failed;
		recorder_db_step(db);
		return;
	}
	if (db->failed) {
		log_warnx("database refused a statement (%s): %s", db->sqlstate,
		    db->errmsg);
		recorder_db_down(db, "statement failed");
		return;
	}
	switch (db->busy) {
	case STMT_BEGIN:
	case STMT_INSERT:
		db->state = DB_OPEN;
		break;
	case STMT_COMMIT:
		if (strcmp(db->cmd, "COMMIT") != 0) {
			recorder_db_down(db, "the transaction rolled back");
			return;
		}
		db->state = DB_IDLE;
		db->index_due = 1;
		TAILQ_INIT(&done);
		TAILQ_CONCAT(&done, &db->txn, entry);
		TAILQ_FOREACH (ev, &done, entry)
			rows++;
		recorder_db_stats(db, rows, db->txn_bytes);
		db->txn_bytes = 0;
		db->cb(&done, db->arg);
		break;
	case STMT_INDEX:
	case STMT_SIDE:
		break;
	}
	recorder_db_step(db);
}

/* Reads the answer of the statement in flight; it may come in pieces. */
static void
recorder_db_read(struct recorder_db *db)
{
	PGresult *res;
	ExecStatusType st;
	const char *f;

	if (!PQconsumeInput(db->conn)) {
		recorder_db_down(db, PQerrorMessage(db->conn));
		return;
	}
	while (!PQisBusy(db->conn)) {
		if ((res = PQgetResult(db->conn)) == NULL) {
			recorder_db_unwatch(db);
			recorder_db_done(db);
			return;
		}
		st = PQresultStatus(res);
		if (PQstatus(db->conn) == CONNECTION_BAD) {
			PQclear(res);
			recorder_db_down(db, PQerrorMessage(db->conn));
			return;
		}
		if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK &&
		    !db->failed) {
			db->failed = 1;
			f = PQresultErrorField(res, PG_DIAG_SQLSTATE);
			snprintf(db->sqlstate, sizeof(db->sqlstate), "%s",
			    f != NULL ? f : "?");
			snprintf(db->errmsg, sizeof(db->errmsg), "%s",
			    PQresultErrorMessage(res));
			db->errmsg[strcspn(db->errmsg, "\n")] = '\0';
		}
		snprintf(db->cmd, sizeof(db->cmd), "%s", PQcmdStatus(res));
		if (db->busy == STMT_SIDE && st == PGRES_TUPLES_OK &&
		    db->side_res == NULL)
			db->side_res = res;
		else
			PQclear(res);
	}
	recorder_db_watch(db, EV_READ);
}

static void
recorder_db_sock_cb(evutil_socket_t fd, short what, void *arg)
{
	struct recorder_db *db = arg;

	switch (db->state) {
	case DB_CONNECTING:
		recorder_db_poll(db);
		return;
	case DB_BUSY:
		if (what & EV_WRITE) {
			switch (PQflush(db->conn)) {
			case 1:
				recorder_db_watch(db, EV_READ | EV_WRITE);
				return;
			case -1:
				recorder_db_down(db, PQerrorMessage(db->conn));
				return;
			}
		}
		recorder_db_read(db);
		return;
	default:
		return;
	}
}

struct recorder_db *
recorder_db_new(
    struct event_base *base, const char *conninfo, recorder_db_cb cb, void *arg)
{
	struct recorder_db *db;

	db = xcalloc(1, sizeof(*db));
	db->base = base;
	db->conninfo = xstrdup(conninfo);
	db->cb = cb;
	db->arg = arg;
	db->backoff_ms = RECORDER_DB_BACKOFF_MIN_MS;
	db->state = DB_DOWN;
	TAILQ_INIT(&db->wait);
	TAILQ_INIT(&db->txn);
	TAILQ_INIT(&db->sides);
	db->ev_retry = evtimer_new(base, recorder_db_retry_cb, db);
	db->ev_batch = evtimer_new(base, recorder_db_batch_cb, db);
	recorder_db_connect(db);
	return db;
}

void
recorder_db_free(struct recorder_db *db)
{
	struct recorder_side *q;
	struct recorder_ev *ev;

	if (db == NULL)
		return;
	TAILQ_CONCAT(&db->wait, &db->txn, entry);
	while ((ev = TAILQ_FIRST(&db->wait)) != NULL) {
		TAILQ_REMOVE(&db->wait, ev, entry);
		free(ev);
	}
	while ((q = TAILQ_FIRST(&db->sides)) != NULL) {
		TAILQ_REMOVE(&db->sides, q, entry);
		recorder_side_free(q);
	}
	if (db->side != NULL)
		recorder_side_free(db->side);
	if (db->side_res != NULL)
		PQclear(db->side_res);
	recorder_db_unwatch(db);
	if (db->conn != NULL)
		PQfinish(db->conn);
	event_free(db->ev_retry);
	event_free(db->ev_batch);
	free(db->conninfo);
	free(db);
}

void
recorder_db_add(struct recorder_db *db, struct recorder_ev *ev)
{
	if (TAILQ_EMPTY(&db->wait))
		db->wait_first = clock_mono_us();
	TAILQ_INSERT_TAIL(&db->wait, ev, entry);
	db->wait_bytes += ev->len;
	if (db->state == DB_IDLE &&
	    (db->wait_bytes >= RECORDER_DB_BATCH ||
	        !evtimer_pending(db->ev_batch, NULL)))
		recorder_db_step(db);
}

void
recorder_db_flush(struct recorder_db *db)
{
	db->flushing = 1;
	if (db->state == DB_IDLE)
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

	if (n > RECORDER_DB_SIDE_PARAMS)
		fatalx("%s: %d parameters", __func__, n);
	q = xcalloc(1, sizeof(*q));
	q->sql = xstrdup(sql);
	q->n = n;
	for (i = 0; i < n; i++)
		q->params[i] = xstrdup(params[i]);
	q->cb = cb;
	q->arg = arg;
	TAILQ_INSERT_TAIL(&db->sides, q, entry);
	if (db->state == DB_IDLE)
		recorder_db_step(db);
}
