/* SPDX-License-Identifier: ISC */
/*
 * The one writer of alia.audit: master (a worker's control handoffs) and
 * front (sign-ins, share links) both write through audit_write, on their
 * own connection; front's role may INSERT there and nowhere else among
 * alia's tables but tokens and shares (sql/006_front_role.sql).
 */
#include <stdlib.h>
#include <string.h>

#include "common/audit.h"
#include "common/log.h"
#include "common/pgc.h"
#include "common/xmalloc.h"

#define AUDIT_SQL                                                     \
	"INSERT INTO alia.audit (actor, action, session_id, detail) " \
	"VALUES ($1, $2, $3::uuid, $4)"

static void
audit_cb(
    enum pgc_event ev, const struct pg_result *res, const char *err, void *arg)
{
	if (ev == PGC_ERROR)
		log_warnx("audit: %s", err);
}

/* s escaped, in a new string; NULL stays NULL. */
static char *
audit_escape(const char *s)
{
	size_t len;
	char *e;

	if (s == NULL)
		return NULL;
	len = LOG_ESCAPED(strlen(s));
	e = xmalloc(len);
	log_escape(e, len, s);
	return e;
}

void
audit_write(struct pgc *db, const char *actor, const char *action,
    const char *session, const char *detail)
{
	char *p[4];
	int i;

	p[0] = audit_escape(actor);
	p[1] = audit_escape(action);
	p[2] = (char *)session;
	p[3] = audit_escape(detail);
	pgc_query(db, AUDIT_SQL, 4, (const char *const *)p, NULL, NULL,
	    PGC_RETRY, audit_cb, NULL);
	for (i = 0; i < 4; i++)
		if (i != 2)
			free(p[i]);
}
