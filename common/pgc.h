/* SPDX-License-Identifier: ISC */
/*
 * alia's PostgreSQL: where the database is (embedded under data_dir, or
 * the external one of `database`) for every process that connects to it,
 * and the one asynchronous client they connect with (see pgc.c).
 */
#ifndef ALIA_PGC_H
#define ALIA_PGC_H

#include <stddef.h>

struct config;
struct event_base;
struct pg_result;

/* Whether alia runs its own cluster (no `database` configured). */
int pg_embedded(const struct config *);
/* The embedded cluster's data and socket directories (either may be NULL). */
void pg_paths(
    const struct config *, char *pgdata, size_t, char *sockdir, size_t);
/* The libpq conninfo of alia's database (dbname NULL: alia's own). */
void pg_conninfo(const struct config *, const char *dbname, char *, size_t);

struct pgc;

/* pgc_new's flags. */
#define PGC_FAILFAST 0x1 /* nothing waits for the database; see pgc.c */

/* A statement's flags. */
#define PGC_RETRY     0x1 /* idempotent: sent again after a lost connection */
#define PGC_SINGLEROW 0x2 /* rows come one by one */
#define PGC_BINARY    0x4 /* results in binary format */
#define PGC_INTXN     0x8 /* fails if the connection changed since queued */

enum pgc_event {
	PGC_RESULT, /* one of its results (PGC_SINGLEROW: one row) */
	PGC_DONE,   /* its last result came, none an error */
	PGC_ERROR,  /* refused (res: the error), or lost, timed out (NULL) */
};
/* Hears a statement's results, then exactly one PGC_DONE or PGC_ERROR. */
typedef void (*pgc_cb)(
    enum pgc_event, const struct pg_result *, const char *err, void *arg);
/* Hears a statement's result once, or NULL when it failed. */
typedef void (*pgc_result_cb)(const struct pg_result *, void *arg);
/* A notification's payload; NULL: a new connection (some may be lost). */
typedef void (*pgc_notify_cb)(const char *payload, void *arg);

/* Connects to conninfo (as role, when not NULL or empty) now and after
 * every failure. */
struct pgc *pgc_new(
    struct event_base *, const char *conninfo, const char *role, int flags);
/* Drops the connection; what is queued fails. */
void pgc_free(struct pgc *);
/* Queues sql; values (n of them, copied) are text unless formats says
 * binary (1), lengths then giving their sizes; both may be NULL. */
void pgc_query(struct pgc *, const char *sql, int n, const char *const *values,
    const int *lengths, const int *formats, int flags, pgc_cb, void *arg);
/* Queues sql with text parameters; cb hears its result or NULL. */
void pgc_fetch(struct pgc *, const char *sql, int n, const char *const *params,
    int flags, pgc_result_cb, void *arg);
/* Queues sql with text parameters; a refusal is logged. */
void pgc_exec(
    struct pgc *, const char *sql, int n, const char *const *params, int flags);
struct evbuffer;
/* Queues a COPY ... FROM STDIN with its data (taken); never sent again. */
void pgc_copy(struct pgc *, const char *sql, struct evbuffer *data, int flags,
    pgc_cb, void *arg);
/* LISTENs on channel on every connection. */
void pgc_listen(struct pgc *, const char *channel, pgc_notify_cb, void *);
/* Drops the connection and connects again after the backoff. */
void pgc_reset(struct pgc *, const char *why);
/* Statements queued or in flight. */
size_t pgc_pending(const struct pgc *);

#endif
