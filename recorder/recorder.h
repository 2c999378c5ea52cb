/* SPDX-License-Identifier: ISC */
/*
 * The recorder: writes session events to PostgreSQL and acks them.
 */
#ifndef ALIA_RECORDER_H
#define ALIA_RECORDER_H

#include <sys/types.h>
#include <stddef.h>
#include <stdint.h>

#include "common/proto.h"
#include "common/uuid.h"

struct event_base;
struct config;

/* recorder.c */
/* The recorder role: writes session events to PostgreSQL and acks them. */
int recorder_main(int verbose);

/* recorder_db.c */
#include <sys/queue.h>
/* One event on its way to alia.events. */
struct recorder_ev {
	TAILQ_ENTRY(recorder_ev) entry;
	void *owner; /* the recorder's session, NULL: not counted for acks */
	uint64_t seq;
	int64_t t_us;
	struct uuid id;   /* the session */
	char session[37]; /* and its text */
	char kind;
	uint32_t len;
	unsigned char data[];
};
TAILQ_HEAD(recorder_evs, recorder_ev);
struct recorder_db;
/* Committed events, in the order added; the callee takes and frees them. */
typedef void (*recorder_db_cb)(struct recorder_evs *, void *);
/* Connects to conninfo (common/pgc.c: again after every failure). */
struct recorder_db *recorder_db_new(
    struct event_base *, const char *conninfo, recorder_db_cb, void *);
/* Drops the connection and every event held. */
void recorder_db_free(struct recorder_db *);
/* Takes ev (malloc'd) for the next batch. */
void recorder_db_add(struct recorder_db *, struct recorder_ev *);
/* Writes and commits everything held without waiting for batch timers. */
void recorder_db_flush(struct recorder_db *);
/* Forgets what it knows of the session's rows (asked again if needed). */
void recorder_db_forget(struct recorder_db *, const struct uuid *);
/* Data bytes held: waiting, or written and not yet committed. */
size_t recorder_db_held(const struct recorder_db *);
size_t recorder_db_events(const struct recorder_db *);
struct pg_result;
/* A side query's answer: its rows, or NULL when it failed. */
typedef void (*recorder_db_query_cb)(const struct pg_result *, void *);
/* Runs sql (text parameters, copied) between transactions; see the file. */
void recorder_db_query(struct recorder_db *, const char *sql, int n,
    const char *const *params, recorder_db_query_cb, void *);

/* recorder_copy.c: alia.events' rows in binary COPY format */
struct evbuffer;
/* The stream's header, then its trailer. */
void recorder_copy_start(struct evbuffer *);
void recorder_copy_end(struct evbuffer *);
/* One row: session_id, seq, t_us, kind, data. */
void recorder_copy_row(struct evbuffer *, const struct recorder_ev *);
/* One field of each type, with its length. */
void recorder_copy_int8(struct evbuffer *, int64_t);
void recorder_copy_uuid(struct evbuffer *, const struct uuid *);
void recorder_copy_char(struct evbuffer *, char);
void recorder_copy_bytea(struct evbuffer *, const void *, uint32_t);

/* recorder_search.c */
struct recorder_search;
/* Starts the writer of search text on db (a tick twice a second). */
void recorder_search_init(struct event_base *, struct recorder_db *);
/* Stops it and drops every row not written. */
void recorder_search_end(void);
/* A session's search state; session is its id in text. */
struct recorder_search *recorder_search_new(const char *session);
/* Ends the session's burst, if any, into rows to write; frees it. */
void recorder_search_free(struct recorder_search *);
/* A committed output event of the session, in seq order. */
void recorder_search_add(struct recorder_search *, uint64_t seq, int64_t t_us,
    const void *data, size_t len);
/* Ends every burst and writes every row now (the recorder stops). */
void recorder_search_flush(void);
/* Whether no row waits to be written or is being written. */
int recorder_search_idle(void);

/* recorder_text.c */
/* Output as search text (sql/002's plain_text(utf8_lenient(data))). */
char *recorder_text_clean(const void *data, size_t len, size_t *lenp);
/* The characters (UTF-8) in s. */
size_t recorder_text_chars(const char *s, size_t len);
/* Where the last chars characters of s begin. */
size_t recorder_text_last(const char *s, size_t len, size_t chars);

#endif
