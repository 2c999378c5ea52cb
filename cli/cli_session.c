/* SPDX-License-Identifier: ISC */
/*
 * `alia session list|export|kill`: one-shot commands an operator runs on
 * the server's machine. They read alia's database with blocking libpq (the
 * embedded cluster is started for the command when no server runs it).
 *
 * `kill` is an operator ending a session on purpose, recorded with end
 * reason "killed". With a server on this data_dir it asks that server's
 * master (NOTIFY alia_session, "kill ID"), which ends the session as a
 * DELETE does (SIGHUP, SIGKILL after a grace, the end seen through the
 * wait on the container), and waits for the row to say it ended. With no
 * server, or one that does not end it within CLI_KILL_WAIT_MS, it kills
 * the container through the Docker API; with no server it also marks the
 * row ended, as no master will.
 */
#include <ctype.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <time.h>

#include <libpq-fe.h>

#include "common/config.h"
#include "common/log.h"
#include "common/str.h"
#include "common/token.h"
#include "common/xmalloc.h"
#include "cli/cli.h"

#define CLI_KILL_WAIT_MS 10000
#define CLI_KILL_POLL_MS 100

/* The session's state, or NULL (message printed) when there is none. */
static char *
cli_state(PGconn *conn, const char *id)
{
	const char *params[1] = {id};
	PGresult *res;
	char *state;

	if (!token_uuid_valid(id)) {
		fprintf(stderr, "alia: no such session: %s\n", id);
		return NULL;
	}
	res =
	    PQexecParams(conn, "SELECT state FROM alia.sessions WHERE id = $1",
	        1, NULL, params, NULL, NULL, 0);
	if (PQresultStatus(res) != PGRES_TUPLES_OK) {
		fprintf(stderr, "alia: reading alia.sessions: %s",
		    PQerrorMessage(conn));
		PQclear(res);
		return NULL;
	}
	if (PQntuples(res) == 0) {
		fprintf(stderr, "alia: no such session: %s\n", id);
		PQclear(res);
		return NULL;
	}
	state = strdup(PQgetvalue(res, 0, 0));
	PQclear(res);
	return state;
}

void
cli_table(const PGresult *res, const char *const *head, int nf)
{
	int i, j, n = PQntuples(res), width[16];

	for (j = 0; j < nf && j < 16; j++) {
		width[j] = (int)strlen(head[j]);
		for (i = 0; i < n; i++)
			if (PQgetlength(res, i, j) > width[j])
				width[j] = PQgetlength(res, i, j);
	}
	for (j = 0; j < nf && j < 16; j++)
		printf("%-*s%s", j == nf - 1 ? 0 : width[j], head[j],
		    j == nf - 1 ? "\n" : "  ");
	for (i = 0; i < n; i++)
		for (j = 0; j < nf && j < 16; j++)
			printf("%-*s%s", j == nf - 1 ? 0 : width[j],
			    PQgetvalue(res, i, j), j == nf - 1 ? "\n" : "  ");
}

static int
cli_list(PGconn *conn)
{
	static const char *head[] = {"ID", "OWNER", "STATE", "CREATED",
	    "DURATION", "EXIT", "END REASON", "BYTES"};
	PGresult *res;
	int nf = 8;

	res = PQexec(conn,
	    "SELECT id, owner, state, "
	    "to_char(created_at AT TIME ZONE 'UTC', "
	    "'YYYY-MM-DD HH24:MI:SS\"Z\"'), "
	    "date_trunc('second', coalesce(ended_at, now()) - "
	    "coalesce(started_at, created_at))::text, "
	    "coalesce(exit_code::text, '-'), coalesce(end_reason, '-'), "
	    "alia.session_bytes(id) "
	    "FROM alia.sessions ORDER BY created_at DESC, id");
	if (PQresultStatus(res) != PGRES_TUPLES_OK) {
		fprintf(
		    stderr, "alia: listing sessions: %s", PQerrorMessage(conn));
		PQclear(res);
		return 1;
	}
	cli_table(res, head, nf);
	PQclear(res);
	return 0;
}

/* Streams the asciicast rows, or writes the transcript, to stdout. */
static int
cli_export(PGconn *conn, const char *id, int cast)
{
	const char *params[1] = {id};
	PGresult *res;
	ExecStatusType st;
	char *state;
	int r = 0;

	if ((state = cli_state(conn, id)) == NULL)
		return 1;
	free(state);
	if (!PQsendQueryParams(conn,
	        cast ? "SELECT line FROM alia.asciicast($1) AS a(line)"
	             : "SELECT alia.transcript($1)",
	        1, NULL, params, NULL, NULL, 0) ||
	    !PQsetSingleRowMode(conn)) {
		fprintf(stderr, "alia: export: %s", PQerrorMessage(conn));
		return 1;
	}
	while ((res = PQgetResult(conn)) != NULL) {
		st = PQresultStatus(res);
		if (st == PGRES_SINGLE_TUPLE && !PQgetisnull(res, 0, 0)) {
			fwrite(PQgetvalue(res, 0, 0), 1,
			    (size_t)PQgetlength(res, 0, 0), stdout);
			if (cast)
				putchar('\n');
		} else if (st != PGRES_SINGLE_TUPLE && st != PGRES_TUPLES_OK) {
			fprintf(stderr, "alia: export: %s",
			    PQresultErrorMessage(res));
			r = 1;
		}
		PQclear(res);
	}
	if (fflush(stdout) == EOF || ferror(stdout)) {
		log_warn("export: writing to standard output");
		r = 1;
	}
	return r;
}

/* Runs sql with id as $1; the rows it changed or returned, or -1. */
static int
cli_kill_exec(PGconn *conn, const char *sql, const char *id)
{
	const char *params[1] = {id};
	PGresult *res;
	long long v;
	int n = -1;

	res = PQexecParams(conn, sql, 1, NULL, params, NULL, NULL, 0);
	if (PQresultStatus(res) == PGRES_TUPLES_OK)
		n = PQntuples(res);
	else if (PQresultStatus(res) == PGRES_COMMAND_OK)
		/* "" for a command that counts nothing: 0 rows */
		n = str_num(PQcmdTuples(res), 0, INT_MAX, &v) == 0 ? (int)v : 0;
	else
		fprintf(stderr, "alia: kill: %s", PQerrorMessage(conn));
	PQclear(res);
	return n;
}

/*
 * Asks the server's master to end the session and waits for its row to
 * say it ended: 0 when it did, -1 when it did not in time.
 */
static int
cli_kill_ask(PGconn *conn, const char *id)
{
	struct timespec ts = {0, CLI_KILL_POLL_MS * 1000000L};
	char *state;
	int i, ended;

	if (cli_kill_exec(conn,
	        "SELECT pg_notify('alia_session', 'kill ' || id::text) "
	        "FROM alia.sessions WHERE id = $1 AND state <> 'ended'",
	        id) == -1)
		return -1;
	for (i = 0; i < CLI_KILL_WAIT_MS / CLI_KILL_POLL_MS; i++) {
		nanosleep(&ts, NULL);
		if ((state = cli_state(conn, id)) == NULL)
			return -1;
		ended = strcmp(state, "ended") == 0;
		free(state);
		if (ended)
			return 0;
	}
	return -1;
}

/* Ends a session that runs: see the top of the file. */
static int
cli_kill(const struct config *c, const struct cli_db *db, PGconn *conn,
    const char *id)
{
	char *state, message[256];
	int ended, server, status;

	if ((state = cli_state(conn, id)) == NULL)
		return 1;
	ended = strcmp(state, "ended") == 0;
	free(state);
	if (ended) {
		fprintf(stderr, "alia: session %s has already ended\n", id);
		return 1;
	}
	if ((server = db->server_holds(c))) {
		if (cli_kill_ask(conn, id) == 0) {
			printf("alia: ended session %s (killed)\n", id);
			return 0;
		}
		fprintf(stderr,
		    "alia: the server did not end session %s within %d s; "
		    "killing its container\n",
		    id, CLI_KILL_WAIT_MS / 1000);
	}
	status = db->kill_container(c, id, message, sizeof(message));
	if (status / 100 == 2) {
		/* No master to see it exit: the row says so at once. */
		if (!server &&
		    cli_kill_exec(conn,
		        "UPDATE alia.sessions SET state = 'ended', "
		        "ended_at = now(), end_reason = 'killed' "
		        "WHERE id = $1 AND state <> 'ended'",
		        id) == -1)
			return 1;
		printf("alia: killed the container of session %s\n", id);
		return 0;
	}
	if (status == 404)
		fprintf(stderr,
		    "alia: session %s has no container (it is ending, or "
		    "was never started)\n",
		    id);
	else if (status == 409)
		fprintf(stderr,
		    "alia: the container of session %s is not running\n", id);
	else
		fprintf(stderr,
		    "alia: killing the container of session %s: %s\n", id,
		    message[0] != '\0' ? message : "Docker call failed");
	return 1;
}

/*
 * Ends every session not ended, one by one as cli_kill does: what an
 * operator runs when alia is not coming back (live restore leaves them
 * running otherwise).
 */
static int
cli_kill_all(const struct config *c, const struct cli_db *db, PGconn *conn)
{
	PGresult *res;
	char **ids;
	int i, n, r = 0;

	res = PQexec(conn,
	    "SELECT id::text FROM alia.sessions "
	    "WHERE state <> 'ended' ORDER BY created_at");
	if (PQresultStatus(res) != PGRES_TUPLES_OK) {
		fprintf(stderr, "alia: kill --all: %s", PQerrorMessage(conn));
		PQclear(res);
		return 1;
	}
	n = PQntuples(res);
	ids = xcalloc((size_t)n + 1, sizeof(*ids));
	for (i = 0; i < n; i++)
		ids[i] = xstrdup(PQgetvalue(res, i, 0));
	PQclear(res);
	for (i = 0; i < n; i++) {
		if (cli_kill(c, db, conn, ids[i]) != 0)
			r = 1;
		free(ids[i]);
	}
	free(ids);
	if (n == 0)
		printf("alia: no session runs\n");
	return r;
}

static int
cli_usage(void)
{
	fprintf(stderr,
	    "usage: alia session list\n"
	    "       alia session export ID [--format cast|text]\n"
	    "       alia session kill ID|--all\n");
	return 2;
}

int
cli_session(
    const struct config *c, const struct cli_db *db, int argc, char **argv)
{
	PGconn *conn;
	pid_t server;
	int r, cast = 1;

	if (argc < 1)
		return cli_usage();
	if (strcmp(argv[0], "list") == 0) {
		if (argc != 1)
			return cli_usage();
	} else if (strcmp(argv[0], "export") == 0) {
		if (argc == 4 && strcmp(argv[2], "--format") == 0) {
			if (strcmp(argv[3], "text") == 0)
				cast = 0;
			else if (strcmp(argv[3], "cast") != 0)
				return cli_usage();
		} else if (argc != 2)
			return cli_usage();
	} else if (strcmp(argv[0], "kill") == 0) {
		if (argc != 2)
			return cli_usage();
	} else
		return cli_usage();

	if ((conn = db->open(c, &server)) == NULL)
		return 1;
	if (strcmp(argv[0], "list") == 0)
		r = cli_list(conn);
	else if (strcmp(argv[0], "export") == 0)
		r = cli_export(conn, argv[1], cast);
	else if (strcmp(argv[1], "--all") == 0)
		r = cli_kill_all(c, db, conn);
	else
		r = cli_kill(c, db, conn, argv[1]);
	db->close(conn, server);
	return r;
}
