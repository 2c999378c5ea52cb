/* SPDX-License-Identifier: ISC */
/*
 * `alia user add|passwd|list|token` and `alia group add|member`: the
 * accounts of sql/003_accounts.sql, kept by an operator with one-shot
 * commands on alia's database. A password is the first line of standard
 * input, or is asked twice on the terminal without echo; only its
 * crypto_pwhash string (Argon2id) is stored, and the buffers that held it
 * are wiped; it has at least USER_PASSWORD_MIN characters unless --force.
 * An API token is printed once; only its SHA-256 is stored.
 *
 * `alia user passwd` and `alia user disable` sign the user out
 * everywhere: in the same transaction they delete every token of the
 * user (sign-ins and API tokens) and NOTIFY alia_signout ("passwd NAME",
 * "disable NAME"). A running server's master listens: front forgets the
 * user's cached tokens, their websockets are closed (1008, "signed
 * out"), and a disabled user's sessions end ("user disabled"). A server
 * that missed the notice still refuses the tokens once its cache of
 * them runs out (30 s): they are gone from the database.
 *
 * Each command is one transaction: a statement that fails leaves the
 * transaction open, and closing the connection rolls it back. What
 * PostgreSQL refuses (a name taken, a user or group missing, a name the
 * schema's CHECK does not allow) is told by the constraint that refused
 * it, in one line, with exit status 1; a bad command line is status 2.
 */
#include <sys/types.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <bsd/readpassphrase.h>
#include <bsd/stdlib.h>
#include <libpq-fe.h>
#include <sodium.h>

#include "common/log.h"
#include "common/str.h"
#include "common/token.h"
#include "common/xmalloc.h"
#include "cli/cli.h"

#define USER_PASSWORD_MAX 1024 /* bytes */
#define USER_PASSWORD_MIN 8    /* characters, unless --force */
#define USER_DAYS_MAX     3650 /* the longest an API token lives */
#define USER_NAME_RULE \
	"a name is 1-63 characters: a-z first, then a-z 0-9 . _ -"

enum user_opt {
	USER_ROLE,
	USER_GROUP,
	USER_LABEL,
	USER_DAYS,
	USER_FORCE, /* takes no value */
	USER_NOPTS,
};
static const char *const user_opts[USER_NOPTS] = {
    "--role", "--group", "--label", "--days", "--force"};

struct user_args {
	const char *pos[2];          /* NAME, or G NAME */
	const char *opt[USER_NOPTS]; /* the last of each */
	const char **groups;         /* every --group */
	int ngroups;
	char days[16]; /* --days, checked */
	char pwhash[crypto_pwhash_STRBYTES];
};

static int user_add(PGconn *, const struct user_args *);
static int user_passwd(PGconn *, const struct user_args *);
static int user_disable(PGconn *, const struct user_args *);
static int user_enable(PGconn *, const struct user_args *);
static int user_list(PGconn *, const struct user_args *);
static int user_token(PGconn *, const struct user_args *);
static int user_group_add(PGconn *, const struct user_args *);
static int user_group_member(PGconn *, const struct user_args *);

#define USER_BIT(o) (1 << (o))
static const struct user_cmd {
	const char *noun;
	const char *verb;
	int npos;     /* positional arguments */
	int opts;     /* USER_BITs of the options it takes */
	int required; /* ... and of those it must have */
	int password; /* reads a password first */
	int (*run)(PGconn *, const struct user_args *);
} user_cmds[] = {
    {"user", "add", 1,
        USER_BIT(USER_ROLE) | USER_BIT(USER_GROUP) | USER_BIT(USER_FORCE),
        USER_BIT(USER_ROLE), 1, user_add},
    {"user", "passwd", 1, USER_BIT(USER_FORCE), 0, 1, user_passwd},
    {"user", "disable", 1, 0, 0, 0, user_disable},
    {"user", "enable", 1, 0, 0, 0, user_enable},
    {"user", "list", 0, 0, 0, 0, user_list},
    {"user", "token", 1, USER_BIT(USER_LABEL) | USER_BIT(USER_DAYS), 0, 0,
        user_token},
    {"group", "add", 1, 0, 0, 0, user_group_add},
    {"group", "member", 2, 0, 0, 0, user_group_member},
};

/* The constraints whose refusal an operator caused, and what to say. */
static const struct user_refusal {
	const char *constraint;
	const char *message; /* %s: the user's or the group's name */
	int group;           /* the name is the group's */
} user_refusals[] = {
    {"users_pkey", "user %s exists", 0},
    {"groups_pkey", "group %s exists", 1},
    {"users_name_check", USER_NAME_RULE, 0},
    {"groups_name_check", USER_NAME_RULE, 1},
    {"group_members_user_name_fkey", "no such user: %s", 0},
    {"tokens_user_name_fkey", "no such user: %s", 0},
    {"group_members_group_name_fkey", "no such group: %s", 1},
};

static int
user_usage(void)
{
	fprintf(stderr,
	    "usage: alia user add NAME --role learner|instructor|admin "
	    "[--group G]... [--force]\n"
	    "       alia user passwd NAME [--force]\n"
	    "       alia user disable|enable NAME\n"
	    "       alia user list\n"
	    "       alia user token NAME [--label L] [--days N]\n"
	    "       alia group add G\n"
	    "       alia group member G NAME\n"
	    "A password is read from standard input (its first line), or "
	    "asked twice\non the terminal; at least %d characters, unless "
	    "--force.\n",
	    USER_PASSWORD_MIN);
	return 2;
}

/*
 * Splits argv, the words after the subcommand, into the positional
 * arguments and the options cmd takes; checks the role and the days.
 * 0, or the exit status of a usage error (said).
 */
static int
user_args(
    const struct user_cmd *cmd, int argc, char **argv, struct user_args *a)
{
	const char *err;
	long long days = 90;
	int i, o, npos = 0;

	for (i = 0; i < argc; i++) {
		if (argv[i][0] != '-') {
			if (npos == cmd->npos)
				return user_usage();
			a->pos[npos++] = argv[i];
			continue;
		}
		for (o = 0; o < USER_NOPTS; o++)
			if (strcmp(argv[i], user_opts[o]) == 0)
				break;
		if (o == USER_NOPTS || !(cmd->opts & USER_BIT(o)))
			return user_usage();
		if (o == USER_FORCE) {
			a->opt[o] = argv[i];
			continue;
		}
		if (i + 1 == argc)
			return user_usage();
		a->opt[o] = argv[++i];
		if (o == USER_GROUP)
			a->groups[a->ngroups++] = a->opt[o];
	}
	for (o = 0; o < USER_NOPTS; o++)
		if ((cmd->required & USER_BIT(o)) && a->opt[o] == NULL)
			return user_usage();
	if (npos != cmd->npos)
		return user_usage();
	if (a->opt[USER_ROLE] != NULL &&
	    strcmp(a->opt[USER_ROLE], "learner") != 0 &&
	    strcmp(a->opt[USER_ROLE], "instructor") != 0 &&
	    strcmp(a->opt[USER_ROLE], "admin") != 0) {
		fprintf(stderr,
		    "alia: a role is learner, instructor or "
		    "admin\n");
		return 2;
	}
	if (a->opt[USER_DAYS] != NULL) {
		days = strtonum(a->opt[USER_DAYS], 1, USER_DAYS_MAX, &err);
		if (err != NULL) {
			fprintf(stderr,
			    "alia: --days is a number of days, 1 "
			    "to %d\n",
			    USER_DAYS_MAX);
			return 2;
		}
	}
	snprintf(a->days, sizeof(a->days), "%lld", days);
	return 0;
}

/* The characters of UTF-8 s: its bytes but continuation bytes. */
static size_t
user_chars(const char *s)
{
	size_t n = 0;

	for (; *s != '\0'; s++)
		if (((unsigned char)*s & 0xc0) != 0x80)
			n++;
	return n;
}

/*
 * The password for name into pw (len bytes, USER_PASSWORD_MAX + 2): the
 * first line of standard input, or asked twice without echo when standard
 * input is a terminal. -1, said, when there is none.
 */
static int
user_password(const char *name, char *pw, size_t len, int force)
{
	char again[USER_PASSWORD_MAX + 2], prompt[128];
	int tty = isatty(STDIN_FILENO), flags, r = -1;

	/* readpassphrase asks on /dev/tty, or reads stdin as it is. */
	flags = tty ? RPP_REQUIRE_TTY : RPP_STDIN;
	snprintf(prompt, sizeof(prompt), "Password for %s: ", name);
	if (readpassphrase(prompt, pw, len, flags) == NULL)
		fprintf(stderr, "alia: reading the password: %s\n",
		    strerror(errno));
	else if (pw[0] == '\0')
		fprintf(stderr, "alia: empty password\n");
	else if (strlen(pw) > USER_PASSWORD_MAX)
		fprintf(stderr, "alia: a password is at most %d bytes\n",
		    USER_PASSWORD_MAX);
	else if (!force && user_chars(pw) < USER_PASSWORD_MIN)
		fprintf(stderr,
		    "alia: a password is at least %d characters "
		    "(--force takes a shorter one)\n",
		    USER_PASSWORD_MIN);
	else if (!tty)
		r = 0;
	else if (readpassphrase("Again: ", again, sizeof(again), flags) == NULL)
		fprintf(stderr, "alia: reading the password: %s\n",
		    strerror(errno));
	else if (strcmp(pw, again) != 0)
		fprintf(stderr, "alia: the passwords differ\n");
	else
		r = 0;
	sodium_memzero(again, sizeof(again));
	return r;
}

/* Reads the password for name and stores its crypto_pwhash string. */
static int
user_pwhash(const char *name, char *pwhash, int force)
{
	char pw[USER_PASSWORD_MAX + 2];
	int r = -1;

	if (sodium_init() == -1) {
		fprintf(stderr, "alia: libsodium cannot start\n");
		return -1;
	}
	if (user_password(name, pw, sizeof(pw), force) == 0) {
		if (crypto_pwhash_str(pwhash, pw, strlen(pw),
		        crypto_pwhash_OPSLIMIT_INTERACTIVE,
		        crypto_pwhash_MEMLIMIT_INTERACTIVE) == 0)
			r = 0;
		else
			fprintf(stderr,
			    "alia: hashing the password: out of memory\n");
	}
	sodium_memzero(pw, sizeof(pw));
	return r;
}

/* Says why PostgreSQL refused a statement about user and group. */
static void
user_refused(
    PGconn *conn, const PGresult *res, const char *user, const char *group)
{
	const char *constraint, *primary;
	size_t i;

	constraint = PQresultErrorField(res, PG_DIAG_CONSTRAINT_NAME);
	for (i = 0; constraint != NULL &&
	     i < sizeof(user_refusals) / sizeof(user_refusals[0]);
	     i++) {
		if (strcmp(constraint, user_refusals[i].constraint) != 0)
			continue;
		fprintf(stderr, "alia: ");
		fprintf(stderr, user_refusals[i].message,
		    user_refusals[i].group ? group : user);
		fprintf(stderr, "\n");
		return;
	}
	if ((primary = PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY)) !=
	    NULL)
		fprintf(stderr, "alia: %s\n", primary);
	else
		fprintf(stderr, "alia: %s", PQerrorMessage(conn));
}

/*
 * Runs sql with text parameters: the rows it touched, or -1 when it
 * failed (said, for the user and group it was about).
 */
static int
user_exec(PGconn *conn, const char *sql, int nparams, const char *const *params,
    const char *user, const char *group)
{
	PGresult *res;
	long long v;
	int n = -1;

	res = PQexecParams(conn, sql, nparams, NULL, params, NULL, NULL, 0);
	if (PQresultStatus(res) == PGRES_COMMAND_OK ||
	    PQresultStatus(res) == PGRES_TUPLES_OK)
		/* "" for a command that counts nothing: 0 rows */
		n = str_num(PQcmdTuples(res), 0, INT_MAX, &v) == 0 ? (int)v : 0;
	else
		user_refused(conn, res, user, group);
	PQclear(res);
	return n;
}

/* Flushes stdout; 1 when what was written did not all get out. */
static int
user_flush(void)
{
	if (fflush(stdout) == EOF || ferror(stdout)) {
		fprintf(stderr, "alia: writing to standard output: %s\n",
		    strerror(errno));
		return 1;
	}
	return 0;
}

/* Adds user to group; a member already is no error. */
static int
user_member(PGconn *conn, const char *group, const char *user)
{
	const char *params[2] = {group, user};

	return user_exec(conn,
	    "INSERT INTO alia.group_members (group_name, user_name) "
	    "VALUES ($1, $2) ON CONFLICT DO NOTHING",
	    2, params, user, group);
}

static int
user_add(PGconn *conn, const struct user_args *a)
{
	const char *user = a->pos[0], *params[3];
	int i;

	params[0] = user;
	params[1] = a->opt[USER_ROLE];
	params[2] = a->pwhash;
	if (user_exec(conn, "BEGIN", 0, NULL, user, NULL) == -1 ||
	    user_exec(conn,
	        "INSERT INTO alia.users (name, role, pwhash) "
	        "VALUES ($1, $2, $3)",
	        3, params, user, NULL) == -1)
		return 1;
	for (i = 0; i < a->ngroups; i++)
		if (user_member(conn, a->groups[i], user) == -1)
			return 1;
	return user_exec(conn, "COMMIT", 0, NULL, user, NULL) == -1;
}

/*
 * Runs set (an UPDATE of alia.users returning name, $1 the user) and, in
 * the same statement and so the same transaction, deletes every token of
 * the user and notifies alia_signout with "what NAME".
 */
static int
user_signout(PGconn *conn, const char *set, const char *what,
    const char *const *params, int nparams)
{
	char *sql;
	int n;

	xasprintf(&sql,
	    "WITH u AS (%s), "
	    "t AS (DELETE FROM alia.tokens WHERE user_name IN "
	    "(SELECT name FROM u)) "
	    "SELECT pg_notify('alia_signout', '%s ' || name) FROM u",
	    set, what);
	n = user_exec(conn, sql, nparams, params, params[0], NULL);
	free(sql);
	if (n == 0)
		fprintf(stderr, "alia: no such user: %s\n", params[0]);
	return n != 1;
}

/* Sets the password and signs the user out everywhere. */
static int
user_passwd(PGconn *conn, const struct user_args *a)
{
	const char *params[2] = {a->pos[0], a->pwhash};

	return user_signout(conn,
	    "UPDATE alia.users SET pwhash = $2 WHERE name = $1 RETURNING name",
	    "passwd", params, 2);
}

/* No more sign-ins; signed out everywhere, their sessions end. */
static int
user_disable(PGconn *conn, const struct user_args *a)
{
	return user_signout(conn,
	    "UPDATE alia.users SET disabled = true WHERE name = $1 "
	    "RETURNING name",
	    "disable", a->pos, 1);
}

static int
user_enable(PGconn *conn, const struct user_args *a)
{
	int n;

	n = user_exec(conn,
	    "UPDATE alia.users SET disabled = false WHERE name = $1", 1, a->pos,
	    a->pos[0], NULL);
	if (n == 0)
		fprintf(stderr, "alia: no such user: %s\n", a->pos[0]);
	return n != 1;
}

/* Name, role and groups of every user, tab-separated, by name. */
static int
user_list(PGconn *conn, const struct user_args *a)
{
	PGresult *res;
	int i;

	res = PQexec(conn,
	    "SELECT u.name, u.role, coalesce(string_agg(m.group_name, ',' "
	    "ORDER BY m.group_name COLLATE \"C\"), '') "
	    "FROM alia.users u "
	    "LEFT JOIN alia.group_members m ON m.user_name = u.name "
	    "GROUP BY u.name ORDER BY u.name COLLATE \"C\"");
	if (PQresultStatus(res) != PGRES_TUPLES_OK) {
		user_refused(conn, res, NULL, NULL);
		PQclear(res);
		return 1;
	}
	for (i = 0; i < PQntuples(res); i++)
		printf("%s\t%s\t%s\n", PQgetvalue(res, i, 0),
		    PQgetvalue(res, i, 1), PQgetvalue(res, i, 2));
	PQclear(res);
	return user_flush();
}

/* Stores a new API token's hash, then prints the token, once. */
static int
user_token(PGconn *conn, const struct user_args *a)
{
	char token[TOKEN_HEX + 1], bytea[2 * TOKEN_BYTES + 3];
	unsigned char hash[TOKEN_BYTES];
	const char *params[4];
	int r = 1;

	if (token_new(token) == -1) {
		fprintf(stderr, "alia: no random bytes for a token: %s\n",
		    strerror(errno));
		return 1;
	}
	if (token_hash(token, TOKEN_HEX, hash) == -1)
		fatalx("%s: token_new made what token_hash refuses", __func__);
	token_bytea(hash, bytea);
	params[0] = bytea;
	params[1] = a->pos[0];
	params[2] = a->opt[USER_LABEL];
	params[3] = a->days;
	if (user_exec(conn,
	        "INSERT INTO alia.tokens "
	        "(hash, user_name, kind, label, expires_at) "
	        "VALUES ($1, $2, 'api', $3, "
	        "now() + make_interval(days => $4::int))",
	        4, params, a->pos[0], NULL) == 1) {
		printf("%s\n", token);
		r = user_flush();
	}
	sodium_memzero(token, sizeof(token));
	return r;
}

static int
user_group_add(PGconn *conn, const struct user_args *a)
{
	return user_exec(conn, "INSERT INTO alia.groups (name) VALUES ($1)", 1,
	           a->pos, NULL, a->pos[0]) == -1;
}

static int
user_group_member(PGconn *conn, const struct user_args *a)
{
	return user_member(conn, a->pos[0], a->pos[1]) == -1;
}

/* `alia NOUN VERB ...`: argv[0] is the verb. */
static int
user_main(const struct config *c, const struct cli_db *db, const char *noun,
    int argc, char **argv)
{
	const struct user_cmd *cmd = NULL;
	struct user_args a;
	PGconn *conn;
	pid_t server;
	size_t i;
	int r;

	for (i = 0; argc > 0 && i < sizeof(user_cmds) / sizeof(user_cmds[0]);
	     i++)
		if (strcmp(user_cmds[i].noun, noun) == 0 &&
		    strcmp(user_cmds[i].verb, argv[0]) == 0)
			cmd = &user_cmds[i];
	if (cmd == NULL)
		return user_usage();
	memset(&a, 0, sizeof(a));
	a.groups = xcalloc((size_t)argc, sizeof(*a.groups));
	if ((r = user_args(cmd, argc - 1, argv + 1, &a)) == 0) {
		if (cmd->password &&
		    user_pwhash(
		        a.pos[0], a.pwhash, a.opt[USER_FORCE] != NULL) == -1)
			r = 1;
		else if ((conn = db->open(c, &server)) == NULL)
			r = 1;
		else {
			r = cmd->run(conn, &a);
			db->close(conn, server);
		}
	}
	free(a.groups);
	return r;
}

int
cli_user(const struct config *c, const struct cli_db *db, int argc, char **argv)
{
	return user_main(c, db, "user", argc, argv);
}

int
cli_user_group(
    const struct config *c, const struct cli_db *db, int argc, char **argv)
{
	return user_main(c, db, "group", argc, argv);
}
