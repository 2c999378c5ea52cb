/* SPDX-License-Identifier: ISC */
/*
 * front's access to alia's database: a fail-fast client of common/pgc.c
 * (no query waits for a database that cannot be reached, none for more
 * than ten seconds; see there) running as role front_role, alia_front
 * unless configured (see sql/006_front_role.sql): it reads, and writes
 * only sign-in tokens, share links and the audit trail. Rows come back
 * one by one (single-row mode), so a long recording is never held twice;
 * a failure reaches the caller as a message a client may see.
 */
#include <limits.h>
#include <stdlib.h>

#include "common/config.h"
#include "common/log.h"
#include "common/pgc.h"
#include "common/xmalloc.h"
#include "front/front.h"

#define FRONT_DB_DOWN_MSG \
	"the recordings database is not available; try again later"
#define FRONT_DB_FAIL_MSG "the recordings database could not answer"

/* A query's caller. */
struct front_db_q {
	front_db_cb cb;
	void *arg;
};

static struct {
	struct pgc *pgc;
	int closing; /* callers are gone: tell them nothing */
} fdb;

static void
front_db_event(
    enum pgc_event ev, const struct pg_result *res, const char *err, void *arg)
{
	struct front_db_q *q = arg;

	switch (ev) {
	case PGC_RESULT:
		q->cb(FRONT_DB_ROW, res, NULL, q->arg);
		return;
	case PGC_DONE:
		if (!fdb.closing)
			q->cb(FRONT_DB_DONE, NULL, NULL, q->arg);
		break;
	case PGC_ERROR:
		if (res != NULL)
			log_warnx("database query failed: %s", err);
		if (!fdb.closing)
			q->cb(FRONT_DB_ERROR, NULL,
			    res != NULL ? FRONT_DB_FAIL_MSG : FRONT_DB_DOWN_MSG,
			    q->arg);
		break;
	}
	free(q);
}

void
front_db_init(struct event_base *base, const struct config *c)
{
	char conninfo[PATH_MAX + 64];

	pg_conninfo(c, NULL, conninfo, sizeof(conninfo));
	fdb.closing = 0;
	fdb.pgc = pgc_new(base, conninfo, c->front_role, PGC_FAILFAST);
}

void
front_db_free(void)
{
	fdb.closing = 1;
	pgc_free(fdb.pgc);
	fdb.pgc = NULL;
}

struct pgc *
front_db_pgc(void)
{
	return fdb.pgc;
}

void
front_db_query(const char *sql, int nparams, const char *const *params,
    front_db_cb cb, void *arg)
{
	struct front_db_q *q;

	if (fdb.pgc == NULL) {
		cb(FRONT_DB_ERROR, NULL, FRONT_DB_DOWN_MSG, arg);
		return;
	}
	q = xmalloc(sizeof(*q));
	q->cb = cb;
	q->arg = arg;
	pgc_query(fdb.pgc, sql, nparams, params, NULL, NULL,
	    PGC_RETRY | PGC_SINGLEROW, front_db_event, q);
}

struct conn *
front_db_parked(uint64_t req, enum front_db_event ev, const char *err)
{
	struct conn *c = front_http_parked(req);

	if (c != NULL && ev == FRONT_DB_ERROR) {
		front_json_error(c, 503, err, "Retry-After: 5\r\n");
		c = NULL;
	}
	return c;
}
