/* SPDX-License-Identifier: ISC */
/*
 * The command line's one-shot commands on alia's database.
 */
#ifndef ALIA_CLI_H
#define ALIA_CLI_H

#include <sys/types.h>
#include <stddef.h>
#include <stdint.h>

#include "common/proto.h"

struct event_base;
struct config;

struct pg_conn;
/*
 * What the commands need of the embedded cluster; alia.c fills it in from
 * the supervisor's code, so that this folder needs no header of master's.
 */
struct cli_db {
	/* A connection to alia's database, starting the cluster if needed. */
	struct pg_conn *(*open)(const struct config *, pid_t *server);
	/* Closes it and stops the cluster open() started. */
	void (*close)(struct pg_conn *, pid_t server);
	/* Whether an alia server holds the data directory. */
	int (*server_holds)(const struct config *);
	/*
	 * SIGKILLs session id's container through the Docker API: the HTTP
	 * status (0: no answer), and Docker's message in msg.
	 */
	int (*kill_container)(
	    const struct config *, const char *id, char *msg, size_t);
};

/* cli_session.c */
struct pg_result;
/* Prints res's nf columns (16 at most) under head, aligned. */
void cli_table(const struct pg_result *, const char *const *head, int nf);
/* `alia session list|export|kill`: argv[0] is the subcommand; an exit status. */
int cli_session(
    const struct config *, const struct cli_db *, int argc, char **argv);

/* cli_engine.c */
/* `alia engine list|drain|undrain`: argv[0] is the subcommand. */
int cli_engine(
    const struct config *, const struct cli_db *, int argc, char **argv);

/* cli_user.c */
/*
 * `alia user add|passwd|disable|enable|list|token` and `alia group
 * add|member`: argv[0] is the subcommand; an exit status.
 */
int cli_user(
    const struct config *, const struct cli_db *, int argc, char **argv);
int cli_user_group(
    const struct config *, const struct cli_db *, int argc, char **argv);

#endif
