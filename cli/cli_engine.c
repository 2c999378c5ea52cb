/* SPDX-License-Identifier: ISC */
/*
 * `alia engine list|drain|undrain`: the Docker engines of `docker` as the
 * server sees them (alia.engines, which its master keeps current), and an
 * operator's drain. A drain is written to alia.engines, where it outlives
 * restarts, and told to a running server at once (NOTIFY alia_engine,
 * "drain NAME" or "undrain NAME", in the same transaction). A drained
 * engine takes no new session and no warm pool container; its live
 * sessions run to their end.
 */
#include <stdio.h>
#include <string.h>
#include <sys/types.h>

#include <libpq-fe.h>

#include "common/config.h"
#include "cli/cli.h"

static int
cli_engine_list(PGconn *conn)
{
	static const char *head[] = {"NAME", "URL", "STATE", "DRAINED",
	    "SESSIONS", "CAPACITY", "PING", "CREATE"};
	PGresult *res;

	res = PQexec(conn,
	    "SELECT name, url, state, CASE WHEN drained THEN 'yes' "
	    "ELSE 'no' END, sessions, "
	    "CASE WHEN capacity = 0 THEN '-' ELSE capacity::text END, "
	    "coalesce(round(ping_ms::numeric, 1) || 'ms', '-'), "
	    "coalesce(round(create_ms::numeric, 1) || 'ms', '-') "
	    "FROM alia.engines ORDER BY name");
	if (PQresultStatus(res) != PGRES_TUPLES_OK) {
		fprintf(
		    stderr, "alia: listing engines: %s", PQerrorMessage(conn));
		PQclear(res);
		return 1;
	}
	if (PQntuples(res) == 0)
		printf("alia: no engine yet: the server writes them when it "
		       "starts\n");
	else
		cli_table(res, head, 8);
	PQclear(res);
	return 0;
}

static int
cli_engine_drain(PGconn *conn, const char *name, int drain)
{
	const char *params[2] = {name, drain ? "t" : "f"};
	PGresult *res;
	int n;

	res = PQexecParams(conn,
	    "WITH e AS (UPDATE alia.engines SET drained = $2 "
	    "WHERE name = $1 RETURNING name) "
	    "SELECT pg_notify('alia_engine', "
	    "CASE WHEN $2 THEN 'drain ' ELSE 'undrain ' END || name) "
	    "FROM e",
	    2, NULL, params, NULL, NULL, 0);
	if (PQresultStatus(res) != PGRES_TUPLES_OK) {
		fprintf(
		    stderr, "alia: engine %s: %s", name, PQerrorMessage(conn));
		PQclear(res);
		return 1;
	}
	n = PQntuples(res);
	PQclear(res);
	if (n == 0) {
		fprintf(stderr,
		    "alia: no such engine: %s (alia engine list names "
		    "them)\n",
		    name);
		return 1;
	}
	printf("alia: engine %s %s\n", name,
	    drain ? "drained: no new sessions; live ones run to their end"
	          : "undrained: it takes sessions again");
	return 0;
}

static int
cli_engine_usage(void)
{
	fprintf(stderr,
	    "usage: alia engine list\n"
	    "       alia engine drain|undrain NAME\n");
	return 2;
}

int
cli_engine(
    const struct config *c, const struct cli_db *db, int argc, char **argv)
{
	PGconn *conn;
	pid_t server;
	int r, drain;

	if (argc == 1 && strcmp(argv[0], "list") == 0)
		drain = -1;
	else if (argc == 2 && strcmp(argv[0], "drain") == 0)
		drain = 1;
	else if (argc == 2 && strcmp(argv[0], "undrain") == 0)
		drain = 0;
	else
		return cli_engine_usage();
	if ((conn = db->open(c, &server)) == NULL)
		return 1;
	r = drain == -1 ? cli_engine_list(conn)
	                : cli_engine_drain(conn, argv[1], drain);
	db->close(conn, server);
	return r;
}
