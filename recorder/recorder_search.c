/* SPDX-License-Identifier: ISC */
/*
 * Search text, made by the recorder from the output events it has just
 * committed and written to alia.search_text (alia.search_add) in batches
 * on the recorder's connection, so that indexing never holds the
 * recording up: the bytes are cleaned here (recorder_text.c), not in
 * PL/pgSQL, and bulk output is indexed in a capped form.
 *
 * Each session has a budget: SEARCH_BURST bytes of output, refilled at
 * SEARCH_RATE bytes a second up to SEARCH_BURST. A session is INDEXING
 * or in a BURST. While INDEXING, an output event that finds the budget
 * above zero is cleaned and queued as a row of text (its length taken
 * from the budget, which may go below zero); the first that does not
 * starts a BURST. In a BURST no event is cleaned: the last events are
 * kept, raw, while without the oldest they still hold SEARCH_BURST bytes
 * (the burst's last SEARCH_BURST bytes, at least), and the older ones are
 * counted as skipped. Every tick (SEARCH_TICK_US) ends each burst that has
 * had no output for SEARCH_QUIET_US, or has lasted SEARCH_BURST_MAX_US;
 * for the others it queues a marker row that says how much of the burst
 * is skipped so far. Ending a burst queues the final marker (when
 * anything was skipped), then the kept events as rows of text, and the
 * session is INDEXING again with an empty budget. So a burst's first and
 * last SEARCH_BURST bytes are searchable, and alia.search returns the
 * marker of its middle. Ending a session's state (its worker is gone) or
 * the recorder's stop ends its burst the same way.
 *
 * As alia.index_pending() does, each row's body starts with the last
 * SEARCH_TAIL characters of the session's text before it (head counts
 * them), so that a string printed across two events is found; after
 * skipped output the tail starts empty again. Like index_pending(), it
 * writes a row for every output event it indexes, even one whose text
 * is empty, so that the watermark alia.search_add moves says how far the
 * session is indexed.
 *
 * Rows wait in one queue, in the order made, and go out at every tick
 * (or as soon as the last batch is done, while more wait), one
 * alia.search_add() at a time with SEARCH_WRITE_MAX bytes at most, as a
 * side query of recorder_db.c. A batch that fails stays at the head of
 * the queue and is tried again at the next tick. Past SEARCH_QUEUE_MAX
 * bytes waiting (the database is slow or away), nothing more is indexed:
 * every session's output goes into a burst as if its budget were spent,
 * and a burst that ends then skips its kept events too, so what waits
 * for the database is markers, which say what is not searchable. They
 * count SEARCH_MARKER_COST bytes each and have SEARCH_MARKER_ROOM above
 * the bound; past that a row is dropped (logged once), which loses at
 * worst the statement of one burst's middle: a later marker of the same
 * burst says all of it again.
 */
#include <sys/queue.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>
#include <event2/event.h>

#include "common/clock.h"
#include "common/log.h"
#include "common/xmalloc.h"
#include "recorder/recorder.h"

#define SEARCH_RATE         (16 * 1024) /* bytes a second, per session */
#define SEARCH_BURST        (64 * 1024) /* the budget's cap; a burst's end */
#define SEARCH_QUIET_US     1000000     /* no output this long: burst over */
#define SEARCH_BURST_MAX_US 60000000    /* a burst is cut this often */
#define SEARCH_TAIL         64          /* characters before each row */
#define SEARCH_TICK_US      500000
#define SEARCH_WRITE_MAX    (1024 * 1024)     /* bytes of one alia.search_add */
#define SEARCH_ROWS_MAX     1000              /* rows of one alia.search_add */
#define SEARCH_QUEUE_MAX    (8 * 1024 * 1024) /* text waiting */
#define SEARCH_MARKER_COST  128               /* a marker's share */
#define SEARCH_MARKER_ROOM  (1024 * 1024)     /* markers past the max */

/* An output event kept raw at the end of a burst. */
struct search_ev {
	TAILQ_ENTRY(search_ev) entry;
	uint64_t seq;
	int64_t t_us;
	size_t len;
	unsigned char data[];
};
TAILQ_HEAD(search_evs, search_ev);

/* A row for alia.search_text: text, or a marker (body NULL). */
struct search_row {
	TAILQ_ENTRY(search_row) entry;
	char session[SESSION_ID_LEN];
	uint64_t seq;
	int64_t t_us;
	size_t head;
	char *body;
	size_t len;
	uint64_t skipped;    /* marker: output bytes not indexed */
	uint64_t skipped_to; /* marker: the last seq not indexed */
	size_t cost;         /* its share of queue_bytes */
};
TAILQ_HEAD(search_rows, search_row);

struct recorder_search {
	LIST_ENTRY(recorder_search) entry;
	char session[SESSION_ID_LEN];
	int state;
#define SEARCH_INDEXING 0
#define SEARCH_IN_BURST 1
	int64_t budget;    /* bytes that may be indexed now */
	int64_t budget_at; /* monotonic us of its last refill */
	char tail[SEARCH_TAIL * 4 + 1];
	size_t tail_len;
	int64_t burst_start;    /* monotonic us */
	int64_t last_event;     /* monotonic us */
	struct search_evs kept; /* the burst's last events */
	size_t kept_bytes;
	uint64_t skipped, skip_first, skip_last, skipped_said;
	int64_t skip_t_us;
};
LIST_HEAD(search_list, recorder_search);

static struct {
	struct recorder_db *db;
	struct event *ev_tick;
	struct search_list all;
	struct search_rows queue;
	size_t queue_bytes;
	int sending;  /* rows at the head of queue being written */
	int dropping; /* rows dropped: logged */
	int failing;  /* the last write failed: logged */
} search;

static void search_write(void);

/* Whether text waits past its bound: new output is then not indexed. */
static int
search_full(void)
{
	return search.queue_bytes > SEARCH_QUEUE_MAX;
}

/*
 * Queues row (taken). A marker counts SEARCH_MARKER_COST bytes; past the
 * bound and the markers' room above it, a row is dropped (logged once).
 */
static void
search_queue(struct search_row *row)
{
	size_t cost = row->body != NULL ? row->len : SEARCH_MARKER_COST;

	if (search.queue_bytes + cost > SEARCH_QUEUE_MAX + SEARCH_MARKER_ROOM) {
		if (!search.dropping)
			log_warnx("search: %zu bytes of rows not written; "
			          "dropping search rows until they are",
			    search.queue_bytes);
		search.dropping = 1;
		free(row->body);
		free(row);
		return;
	}
	search.dropping = 0;
	row->cost = cost;
	search.queue_bytes += cost;
	TAILQ_INSERT_TAIL(&search.queue, row, entry);
}

static struct search_row *
search_row_new(struct recorder_search *st, uint64_t seq, int64_t t_us)
{
	struct search_row *row;

	row = xcalloc(1, sizeof(*row));
	memcpy(row->session, st->session, sizeof(row->session));
	row->seq = seq;
	row->t_us = t_us;
	return row;
}

/* Cleans an event's output and queues it as a row of text. */
static void
search_index(struct recorder_search *st, uint64_t seq, int64_t t_us,
    const void *data, size_t len)
{
	struct search_row *row;
	char *text;
	size_t n, from;

	text = recorder_text_clean(data, len, &n);
	row = search_row_new(st, seq, t_us);
	row->head = recorder_text_chars(st->tail, st->tail_len);
	row->len = st->tail_len + n;
	row->body = xmalloc(row->len + 1);
	memcpy(row->body, st->tail, st->tail_len);
	memcpy(row->body + st->tail_len, text, n + 1);
	free(text);
	from = recorder_text_last(row->body, row->len, SEARCH_TAIL);
	st->tail_len = row->len - from;
	memcpy(st->tail, row->body + from, st->tail_len);
	search_queue(row);
}

/* The burst's oldest kept event goes to skipped. */
static void
search_skip_oldest(struct recorder_search *st)
{
	struct search_ev *ev = TAILQ_FIRST(&st->kept);

	TAILQ_REMOVE(&st->kept, ev, entry);
	st->kept_bytes -= ev->len;
	if (st->skipped == 0) {
		st->skip_first = ev->seq;
		st->skip_t_us = ev->t_us;
	}
	st->skip_last = ev->seq;
	st->skipped += ev->len;
	free(ev);
}

/* Queues the burst's marker, when it has more to say than the last. */
static void
search_marker(struct recorder_search *st)
{
	struct search_row *row;

	if (st->skipped == st->skipped_said)
		return;
	row = search_row_new(st, st->skip_first, st->skip_t_us);
	row->skipped = st->skipped;
	row->skipped_to = st->skip_last;
	search_queue(row);
	st->skipped_said = st->skipped;
}

/*
 * Ends the burst: its marker, then its last events as rows of text; when
 * text waits past its bound, those are skipped too, in the marker.
 */
static void
search_burst_end(struct recorder_search *st, int64_t now)
{
	struct search_ev *ev;

	while (search_full() && !TAILQ_EMPTY(&st->kept))
		search_skip_oldest(st);
	search_marker(st);
	if (st->skipped > 0)
		st->tail_len = 0;
	while ((ev = TAILQ_FIRST(&st->kept)) != NULL) {
		TAILQ_REMOVE(&st->kept, ev, entry);
		search_index(st, ev->seq, ev->t_us, ev->data, ev->len);
		free(ev);
	}
	st->kept_bytes = 0;
	st->skipped = st->skipped_said = 0;
	st->state = SEARCH_INDEXING;
	st->budget = 0;
	st->budget_at = now;
}

/* Keeps an event of the burst; the oldest kept go to skipped. */
static void
search_keep(struct recorder_search *st, uint64_t seq, int64_t t_us,
    const void *data, size_t len)
{
	struct search_ev *ev;

	ev = xmalloc(sizeof(*ev) + len);
	ev->seq = seq;
	ev->t_us = t_us;
	ev->len = len;
	memcpy(ev->data, data, len);
	TAILQ_INSERT_TAIL(&st->kept, ev, entry);
	st->kept_bytes += len;
	while ((ev = TAILQ_FIRST(&st->kept)) != NULL &&
	    st->kept_bytes - ev->len >= SEARCH_BURST)
		search_skip_oldest(st);
}

void
recorder_search_add(struct recorder_search *st, uint64_t seq, int64_t t_us,
    const void *data, size_t len)
{
	int64_t now = clock_mono_us();

	st->budget += (now - st->budget_at) * SEARCH_RATE / 1000000;
	if (st->budget > SEARCH_BURST)
		st->budget = SEARCH_BURST;
	st->budget_at = now;
	st->last_event = now;
	if (st->state == SEARCH_INDEXING && st->budget > 0 && !search_full()) {
		st->budget -= (int64_t)len;
		search_index(st, seq, t_us, data, len);
		return;
	}
	if (st->state == SEARCH_INDEXING) {
		st->state = SEARCH_IN_BURST;
		st->burst_start = now;
	}
	search_keep(st, seq, t_us, data, len);
}

struct recorder_search *
recorder_search_new(const char *session)
{
	struct recorder_search *st;

	st = xcalloc(1, sizeof(*st));
	snprintf(st->session, sizeof(st->session), "%s", session);
	st->budget = SEARCH_BURST;
	st->budget_at = clock_mono_us();
	TAILQ_INIT(&st->kept);
	LIST_INSERT_HEAD(&search.all, st, entry);
	return st;
}

void
recorder_search_free(struct recorder_search *st)
{
	if (st == NULL)
		return;
	search_burst_end(st, clock_mono_us());
	LIST_REMOVE(st, entry);
	free(st);
}

/* Adds s to a PostgreSQL array literal being built in b. */
static void
search_array_text(struct evbuffer *b, const char *s, size_t len)
{
	size_t i, from = 0;

	evbuffer_add(b, "\"", 1);
	for (i = 0; i < len; i++) {
		if (s[i] != '"' && s[i] != '\\')
			continue;
		evbuffer_add(b, s + from, i - from);
		evbuffer_add(b, "\\", 1);
		from = i;
	}
	evbuffer_add(b, s + from, len - from);
	evbuffer_add(b, "\"", 1);
}

/* alia.search_add is done: its rows go, or stay to be tried again. */
static void
search_written(const struct pg_result *res, void *arg)
{
	struct search_row *row;
	int n = search.sending;

	search.sending = 0;
	if (res == NULL) {
		if (!search.failing)
			log_warnx("search: writing %d rows of search text "
			          "failed; trying again",
			    n);
		search.failing = 1;
		return;
	}
	search.failing = 0;
	while (n-- > 0 && (row = TAILQ_FIRST(&search.queue)) != NULL) {
		TAILQ_REMOVE(&search.queue, row, entry);
		search.queue_bytes -= row->cost;
		free(row->body);
		free(row);
	}
	if (!TAILQ_EMPTY(&search.queue))
		search_write();
}

/* Writes the rows at the head of the queue with one alia.search_add. */
static void
search_write(void)
{
	struct evbuffer *b[7];
	const char *params[7];
	struct search_row *row;
	size_t bytes = 0;
	int i, n = 0;

	if (search.sending > 0 || TAILQ_EMPTY(&search.queue))
		return;
	for (i = 0; i < 7; i++)
		b[i] = evbuffer_new();
	TAILQ_FOREACH (row, &search.queue, entry) {
		if (n == SEARCH_ROWS_MAX ||
		    (n > 0 && bytes + row->len > SEARCH_WRITE_MAX))
			break;
		bytes += row->len;
		for (i = 0; i < 7; i++)
			evbuffer_add(b[i], n > 0 ? "," : "{", 1);
		evbuffer_add_printf(b[0], "%s", row->session);
		evbuffer_add_printf(b[1], "%" PRIu64, row->seq);
		evbuffer_add_printf(b[2], "%" PRId64, row->t_us);
		evbuffer_add_printf(b[3], "%zu", row->head);
		if (row->body != NULL) {
			search_array_text(b[4], row->body, row->len);
			evbuffer_add(b[5], "NULL", 4);
			evbuffer_add(b[6], "NULL", 4);
		} else {
			evbuffer_add(b[4], "\"\"", 2);
			evbuffer_add_printf(b[5], "%" PRIu64, row->skipped);
			evbuffer_add_printf(b[6], "%" PRIu64, row->skipped_to);
		}
		n++;
	}
	for (i = 0; i < 7; i++) {
		evbuffer_add(b[i], "}", 2);
		params[i] = (const char *)evbuffer_pullup(b[i], -1);
	}
	search.sending = n;
	recorder_db_query(search.db,
	    "SELECT alia.search_add($1::uuid[], $2::int8[], $3::int8[], "
	    "$4::int4[], $5::text[], $6::int8[], $7::int8[])",
	    7, params, search_written, NULL);
	for (i = 0; i < 7; i++)
		evbuffer_free(b[i]);
}

/* Every tick: bursts ended or marked, then the rows written. */
static void
search_tick_cb(evutil_socket_t fd, short what, void *arg)
{
	struct recorder_search *st;
	int64_t now = clock_mono_us();

	LIST_FOREACH (st, &search.all, entry) {
		if (st->state != SEARCH_IN_BURST)
			continue;
		if (now - st->last_event >= SEARCH_QUIET_US ||
		    now - st->burst_start >= SEARCH_BURST_MAX_US)
			search_burst_end(st, now);
		else
			search_marker(st);
	}
	search_write();
}

void
recorder_search_init(struct event_base *base, struct recorder_db *db)
{
	struct timeval tv = {
	    SEARCH_TICK_US / 1000000, SEARCH_TICK_US % 1000000};

	search.db = db;
	if (search.ev_tick != NULL)
		return;
	LIST_INIT(&search.all);
	TAILQ_INIT(&search.queue);
	search.ev_tick = event_new(base, -1, EV_PERSIST, search_tick_cb, NULL);
	evtimer_add(search.ev_tick, &tv);
}

void
recorder_search_flush(void)
{
	struct recorder_search *st;
	int64_t now = clock_mono_us();

	LIST_FOREACH (st, &search.all, entry)
		if (st->state == SEARCH_IN_BURST)
			search_burst_end(st, now);
	search_write();
}

int
recorder_search_idle(void)
{
	return TAILQ_EMPTY(&search.queue);
}

void
recorder_search_end(void)
{
	struct search_row *row;

	if (search.ev_tick != NULL)
		event_free(search.ev_tick);
	search.ev_tick = NULL;
	while ((row = TAILQ_FIRST(&search.queue)) != NULL) {
		TAILQ_REMOVE(&search.queue, row, entry);
		free(row->body);
		free(row);
	}
	search.queue_bytes = 0;
}
