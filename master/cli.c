/* SPDX-License-Identifier: ISC */
/*
 * What every one-shot command on alia's database shares: a blocking libpq
 * connection to it, with the embedded cluster started (and migrated) for
 * the command when no server runs it, and stopped again afterwards.
 */
#include <limits.h>
#include <stdio.h>
#include <sys/types.h>

#include <libpq-fe.h>

#include "master/master.h"

PGconn *
cli_open(const struct config *c, pid_t *server)
{
	char conninfo[PATH_MAX + 64];
	PGconn *conn;

	if ((*server = pg_start_oneshot(c)) == -1)
		return NULL;
	if (*server > 0 && pg_migrate(c) == -1) {
		pg_stop(*server);
		return NULL;
	}
	pg_conninfo(c, NULL, conninfo, sizeof(conninfo));
	conn = PQconnectdb(conninfo);
	if (PQstatus(conn) != CONNECTION_OK) {
		fprintf(stderr, "alia: connecting to the database: %s",
		    PQerrorMessage(conn));
		PQfinish(conn);
		pg_stop(*server);
		return NULL;
	}
	return conn;
}

void
cli_close(PGconn *conn, pid_t server)
{
	PQfinish(conn);
	pg_stop(server);
}
