/* SPDX-License-Identifier: ISC */
/*
 * The audit trail (alia.audit): who did what to which session, written
 * by one function with one statement, from whichever process saw it.
 */
#ifndef ALIA_AUDIT_H
#define ALIA_AUDIT_H

struct pgc;

/*
 * Queues a row of alia.audit on db; session and detail may be NULL. Text
 * from outside is stored with its control characters escaped
 * (log_escape); a failure is logged.
 */
void audit_write(struct pgc *db, const char *actor, const char *action,
    const char *session, const char *detail);

#endif
