/* SPDX-License-Identifier: ISC */
/*
 * alia's database: the embedded PostgreSQL cluster (initdb once under
 * data_dir/pg, postgres on a unix socket in data_dir/run and no TCP port,
 * both as the unprivileged user when alia runs as root) or the server
 * named by `database`; and the migrations of sql/, which the build embeds
 * in the binary. Each migration runs once, in its own transaction, under
 * an advisory lock, and is recorded in public.alia_migrations.
 *
 * Everything here runs before master's event loop starts or in one-shot
 * commands, so it uses libpq's blocking calls.
 */
#include <sys/file.h>
#include <sys/stat.h>

#include <sys/types.h>
#include <sys/wait.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <libpq-fe.h>

#include "common/backoff.h"
#include "common/config.h"
#include "common/log.h"
#include "common/proc.h"
#include "common/str.h"
#include "common/xmalloc.h"
#include "master/master.h"

/*
 * Where postgres and initdb write: -1, alia's own stderr (alia serve);
 * for a one-off command, a file (out_path), so that an admin's
 * `alia user list` prints what they asked for, not the server's log.
 */
static struct {
	int outfd;
	char out_path[PATH_MAX];
} pg_ = {-1, ""};

/* Where to read the server's own words, for a message. */
static const char *
pg_output(void)
{
	return pg_.outfd >= 0 ? pg_.out_path : "above";
}

#define PG_ADVISORY_KEY 0x616c6961 /* "alia" */
#define PG_WAIT_MIN_S   1          /* an external database down at start */
#define PG_WAIT_MAX_S   30

int
pg_bindir(const struct config *c, char *buf, size_t len)
{
	struct dirent *de;
	DIR *d;
	long long v, best = -1;
	char path[PATH_MAX];

	if (c->pg_bin[0] != '\0') {
		snprintf(buf, len, "%s", c->pg_bin);
		return 0;
	}
	if ((d = opendir("/usr/lib/postgresql")) != NULL) {
		while ((de = readdir(d)) != NULL) {
			if (str_num(de->d_name, 0, INT_MAX, &v) == -1 ||
			    v <= best)
				continue;
			snprintf(path, sizeof(path),
			    "/usr/lib/postgresql/%s/bin/postgres", de->d_name);
			if (access(path, X_OK) == 0)
				best = v;
		}
		closedir(d);
	}
	if (best == -1) {
		log_warnx(
		    "no PostgreSQL server found under /usr/lib/postgresql: "
		    "install the postgresql package (script/bootstrap does) "
		    "or set pg_bin");
		return -1;
	}
	snprintf(buf, len, "/usr/lib/postgresql/%lld/bin", best);
	return 0;
}

/* Creates dir (mode) owned by the unprivileged user when root. */
static int
pg_mkdir_owned(const char *dir, mode_t mode, const char *user)
{
	uid_t uid;
	gid_t gid;

	if (mkdir(dir, mode) == -1 && errno != EEXIST) {
		log_warn("mkdir %s", dir);
		return -1;
	}
	if (geteuid() == 0) {
		if (proc_user(user, &uid, &gid) == -1) {
			log_warnx(
			    "no user '%s' to run PostgreSQL as: create it "
			    "(useradd --system %s) or set user",
			    user, user);
			return -1;
		}
		if (chown(dir, uid, gid) == -1) {
			log_warn("chown %s", dir);
			return -1;
		}
	}
	if (chmod(dir, mode) == -1) {
		log_warn("chmod %s", dir);
		return -1;
	}
	return 0;
}

/* Waits for pid; returns its exit status, or -1 if it did not exit. */
static int
pg_waitpid(pid_t pid)
{
	int status;

	while (waitpid(pid, &status, 0) == -1)
		if (errno != EINTR)
			return -1;
	if (WIFEXITED(status))
		return WEXITSTATUS(status);
	return 128 + WTERMSIG(status);
}

/* initdb's arguments after -D PGDATA. */
static const char *const pg_initdb_args[] = {"-U", "alia", "-E", "UTF8",
    "--locale=C", "--auth-local=trust", "--auth-host=reject",
    "--no-instructions", NULL};

/* The server's settings, each after -c. */
static const char *const pg_settings[] = {
    "listen_addresses=", "unix_socket_permissions=0700",
    "synchronous_commit=on", "log_min_messages=warning",
    "log_line_prefix=postgres[%p] ", "max_connections=100", NULL};

/*
 * The server's malloc: a 64 KiB event row costs COPY a 64 KiB tuple, and
 * glibc's default gives the freed heap back to the kernel past 128 KiB,
 * so each next tuple faulted its pages in again (a third of the
 * database's CPU time while recording a burst). The heap keeps up to
 * 32 MiB free; blocks of 4 MiB and more are mapped as before. An
 * operator's own MALLOC_TRIM_THRESHOLD_ wins.
 */
static char pg_malloc_trim[] = "MALLOC_TRIM_THRESHOLD_=33554432";
static char pg_malloc_mmap[] = "MALLOC_MMAP_THRESHOLD_=4194304";
static char *const pg_env[] = {pg_malloc_trim, pg_malloc_mmap, NULL};

/*
 * Ends argv (room for max, i taken) with the strings of list, each after
 * flag unless it is NULL, and a NULL.
 */
static void
pg_argv(char **argv, size_t max, size_t i, const char *flag,
    const char *const *list)
{
	for (; *list != NULL; list++) {
		if (i + (flag != NULL ? 2 : 1) >= max)
			fatalx("%s: more than %zu arguments", __func__, max);
		if (flag != NULL)
			argv[i++] = (char *)flag;
		argv[i++] = (char *)*list;
	}
	argv[i] = NULL;
}

int
pg_initdb(const struct config *c)
{
	char pgdata[PATH_MAX], sockdir[PATH_MAX], bindir[PATH_MAX];
	char initdb[PATH_MAX + 16], version[PATH_MAX + 16];
	const char *user = geteuid() == 0 ? c->user : NULL;
	char *argv[16];
	pid_t pid;
	size_t i = 0;
	int st;

	pg_paths(c, pgdata, sizeof(pgdata), sockdir, sizeof(sockdir));
	if (pg_bindir(c, bindir, sizeof(bindir)) == -1)
		return -1;
	if (mkdir(c->data_dir, 0755) == -1 && errno != EEXIST) {
		log_warn("mkdir %s", c->data_dir);
		return -1;
	}
	if (pg_mkdir_owned(sockdir, 0700, c->user) == -1)
		return -1;
	snprintf(version, sizeof(version), "%s/PG_VERSION", pgdata);
	if (access(version, F_OK) == 0)
		return 0;
	if (pg_mkdir_owned(pgdata, 0700, c->user) == -1)
		return -1;
	log_info("initialising the embedded PostgreSQL cluster in %s", pgdata);
	snprintf(initdb, sizeof(initdb), "%s/initdb", bindir);
	argv[i++] = initdb;
	argv[i++] = (char *)"-D";
	argv[i++] = pgdata;
	pg_argv(argv, sizeof(argv) / sizeof(argv[0]), i, NULL, pg_initdb_args);
	if ((pid = proc_exec(argv, NULL, user, pgdata, pg_.outfd)) == -1)
		return -1;
	if ((st = pg_waitpid(pid)) != 0) {
		log_warnx("initdb failed (status %d); see its output %s; "
		          "remove %s before trying again",
		    st, pg_output(), pgdata);
		return -1;
	}
	return 0;
}

/*
 * An earlier postgres on the same data directory that is still stopping
 * (its master died, and its checkpoint is not done): waits up to
 * timeout_ms for it, rather than starting one that gives up on the lock.
 */
static void
pg_wait_earlier(const struct config *c, int timeout_ms)
{
	char pgdata[PATH_MAX], sockdir[PATH_MAX], path[PATH_MAX + 32];
	char line[256], *st;
	struct timespec ts = {0, 50 * 1000 * 1000};
	long long pid;
	FILE *f;
	int waited, said = 0;

	pg_paths(c, pgdata, sizeof(pgdata), sockdir, sizeof(sockdir));
	snprintf(path, sizeof(path), "%s/postmaster.pid", pgdata);
	if ((f = fopen(path, "re")) == NULL)
		return;
	if (fscanf(f, "%lld", &pid) != 1 || pid <= 1 || pid > INT32_MAX)
		pid = 0;
	fclose(f);
	if (pid == 0)
		return;
	snprintf(path, sizeof(path), "/proc/%lld/stat", pid);
	for (waited = 0; waited < timeout_ms; waited += 50) {
		if ((f = fopen(path, "re")) == NULL)
			break;
		if (fgets(line, sizeof(line), f) == NULL)
			line[0] = '\0';
		fclose(f);
		/* "PID (COMM) STATE ...": a zombie's parent may never reap it */
		st = strchr(line, '(');
		if (st == NULL || strncmp(st, "(postgres", 9) != 0 ||
		    (st = strrchr(st, ')')) == NULL || st[1] != ' ' ||
		    st[2] == 'Z' || st[2] == 'X')
			break; /* gone, a zombie, or its pid another's */
		if (!said++)
			log_info(
			    "an earlier postgres (pid %lld) on %s is still "
			    "stopping; waiting for it",
			    pid, pgdata);
		nanosleep(&ts, NULL);
	}
	if (said)
		log_info("the earlier postgres %s after %d ms",
		    waited < timeout_ms ? "is gone" : "is still there", waited);
}

pid_t
pg_spawn(const struct config *c)
{
	char pgdata[PATH_MAX], sockdir[PATH_MAX], bindir[PATH_MAX];
	char postgres[PATH_MAX + 16];
	const char *user = geteuid() == 0 ? c->user : NULL;
	char *argv[24];
	size_t i = 0;

	pg_paths(c, pgdata, sizeof(pgdata), sockdir, sizeof(sockdir));
	if (pg_bindir(c, bindir, sizeof(bindir)) == -1)
		return -1;
	snprintf(postgres, sizeof(postgres), "%s/postgres", bindir);
	argv[i++] = postgres;
	argv[i++] = (char *)"-D";
	argv[i++] = pgdata;
	argv[i++] = (char *)"-k";
	argv[i++] = sockdir;
	pg_argv(argv, sizeof(argv) / sizeof(argv[0]), i, "-c", pg_settings);
	return proc_exec(argv,
	    getenv("MALLOC_TRIM_THRESHOLD_") == NULL ? pg_env : NULL, user,
	    pgdata, pg_.outfd);
}

int
pg_wait_ready(const struct config *c, pid_t pid, int timeout_ms)
{
	char conninfo[PATH_MAX + 64];
	struct timespec ts = {0, 50 * 1000 * 1000};
	int waited, status;

	pg_conninfo(c, "postgres", conninfo, sizeof(conninfo));
	for (waited = 0; waited < timeout_ms; waited += 50) {
		if (PQping(conninfo) == PQPING_OK)
			return 0;
		if (pid > 0 && waitpid(pid, &status, WNOHANG) == pid) {
			log_warnx("postgres exited while starting (status %d); "
			          "see its log lines %s",
			    WIFEXITED(status) ? WEXITSTATUS(status)
			                      : 128 + WTERMSIG(status),
			    pg_output());
			return -1;
		}
		nanosleep(&ts, NULL);
	}
	log_warnx(
	    "postgres did not accept connections within %d ms", timeout_ms);
	return -1;
}

int
pg_server_holds(const struct config *c)
{
	char path[PATH_MAX + 16];
	int fd, held;

	snprintf(path, sizeof(path), "%s/alia.pid", c->data_dir);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1)
		return 0;
	held = flock(fd, LOCK_SH | LOCK_NB) == -1 && errno == EWOULDBLOCK;
	close(fd);
	return held;
}

pid_t
pg_start_oneshot(const struct config *c)
{
	if (!pg_embedded(c) || pg_running(c))
		return 0;
	pid_t pid;

	if (pg_server_holds(c)) {
		log_warnx("alia is running on %s but its database does not "
		          "answer yet; try again in a moment",
		    c->data_dir);
		return -1;
	}
	if (mkdir(c->data_dir, 0755) == -1 && errno != EEXIST) {
		log_warn("mkdir %s", c->data_dir);
		return -1;
	}
	snprintf(pg_.out_path, sizeof(pg_.out_path), "%s/postgres-oneshot.log",
	    c->data_dir);
	if ((pg_.outfd = open(pg_.out_path,
	         O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600)) == -1) {
		log_warn("open %s", pg_.out_path);
		return -1;
	}
	pid = pg_start(c);
	close(pg_.outfd);
	pg_.outfd = -1;
	return pid;
}

int
pg_running(const struct config *c)
{
	char conninfo[PATH_MAX + 64];

	if (!pg_embedded(c))
		return 1;
	pg_conninfo(c, "postgres", conninfo, sizeof(conninfo));
	return PQping(conninfo) == PQPING_OK;
}

/* A libpq message on one line (its "\n\t" made " "), in a static buffer. */
static const char *
pg_trim(const char *msg)
{
	static char buf[1024];
	size_t n = 0;

	for (; *msg != '\0' && n + 1 < sizeof(buf); msg++) {
		if (*msg == '\t' && n > 0 && buf[n - 1] == ' ')
			continue;
		buf[n++] = *msg == '\n' ? ' ' : *msg;
	}
	while (n > 0 && buf[n - 1] == ' ')
		n--;
	buf[n] = '\0';
	return buf;
}

int
pg_wait_external(const struct config *c)
{
	char conninfo[PATH_MAX + 64], why[1024];
	PGconn *conn;
	struct backoff b;
	int delay, tries = 0;

	pg_conninfo(c, NULL, conninfo, sizeof(conninfo));
	backoff_init(&b, PG_WAIT_MIN_S * 1000, PG_WAIT_MAX_S * 1000);
	for (;;) {
		conn = PQconnectdb(conninfo);
		if (PQstatus(conn) != CONNECTION_OK &&
		    PQping(conninfo) == PQPING_OK) {
			/* It may have come up just now: once more. */
			PQfinish(conn);
			conn = PQconnectdb(conninfo);
			if (PQstatus(conn) != CONNECTION_OK &&
			    PQping(conninfo) == PQPING_OK) {
				/* Up, and refusing us: no wait will help. */
				log_warnx("connecting to the database: %s",
				    pg_trim(PQerrorMessage(conn)));
				PQfinish(conn);
				return -1;
			}
		}
		if (PQstatus(conn) == CONNECTION_OK) {
			PQfinish(conn);
			if (tries > 0)
				log_info("the database answers after %d "
				         "attempts",
				    tries + 1);
			return 0;
		}
		snprintf(why, sizeof(why), "%s", pg_trim(PQerrorMessage(conn)));
		PQfinish(conn);
		if (PQping(conninfo) == PQPING_NO_ATTEMPT) {
			log_warnx("database: %s", why);
			return -1;
		}
		tries++;
		delay = backoff_next(&b) / 1000;
		log_warnx("the database does not answer (%s); trying again in "
		          "%d s",
		    why, delay);
		sleep(delay);
	}
}

/* Runs one statement; logs and returns -1 on failure. */
static int
pg_exec(PGconn *conn, const char *sql, const char *what)
{
	PGresult *res;
	ExecStatusType st;

	res = PQexec(conn, sql);
	st = PQresultStatus(res);
	if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) {
		log_warnx("%s: %s", what, PQerrorMessage(conn));
		PQclear(res);
		return -1;
	}
	PQclear(res);
	return 0;
}

/* A role name as SQL: bare when plain, else quoted; into buf. */
static const char *
pg_ident(PGconn *conn, const char *name, char *buf, size_t len)
{
	const char *p;
	char *q;

	for (p = name; *p != '\0'; p++)
		if (!(*p >= 'a' && *p <= 'z') && *p != '_' &&
		    !(p > name && *p >= '0' && *p <= '9'))
			break;
	if (*p == '\0' && p > name) {
		snprintf(buf, len, "%s", name);
		return buf;
	}
	if ((q = PQescapeIdentifier(conn, name, strlen(name))) == NULL)
		fatalx("%s: PQescapeIdentifier", __func__);
	snprintf(buf, len, "%s", q);
	PQfreemem(q);
	return buf;
}

/*
 * Whether this database role may SET ROLE to front_role: 1, 0, or -1
 * when front_role does not exist. *me gets the role's name and *may_create
 * whether it may create roles.
 */
static int
pg_front_member(PGconn *conn, const struct config *c, char *me, size_t melen,
    int *may_create)
{
	const char *params[1] = {c->front_role};
	PGresult *res;
	int r;

	/* PostgreSQL 16 split SET from membership. */
	res = PQexecParams(conn,
	    "SELECT current_user, "
	    "(SELECT rolsuper OR rolcreaterole FROM pg_roles "
	    "WHERE rolname = current_user), "
	    "(SELECT pg_has_role(current_user, oid, "
	    "CASE WHEN current_setting('server_version_num')::int >= 160000 "
	    "THEN 'SET' ELSE 'MEMBER' END) FROM pg_roles WHERE rolname = $1)",
	    1, NULL, params, NULL, NULL, 0);
	if (PQresultStatus(res) != PGRES_TUPLES_OK || PQntuples(res) != 1) {
		log_warnx("reading the roles of the database: %s",
		    PQerrorMessage(conn));
		PQclear(res);
		return -2;
	}
	snprintf(me, melen, "%s", PQgetvalue(res, 0, 0));
	*may_create = strcmp(PQgetvalue(res, 0, 1), "t") == 0;
	if (PQgetisnull(res, 0, 2))
		r = -1;
	else
		r = strcmp(PQgetvalue(res, 0, 2), "t") == 0;
	PQclear(res);
	return r;
}

/*
 * front connects as this database role and switches to front_role at once
 * (front_db.c). Makes that possible when this role may: creates
 * front_role when it is missing, grants it to this role; then grants it
 * its rights on alia's tables (alia.grant_front, every time: a role an
 * operator made after the migrations gets them too). Otherwise says which
 * statements a superuser has to run.
 */
static int
pg_front_role(PGconn *conn, const struct config *c)
{
	char me[256], mq[300], fq[300], sql[700];
	const char *params[1] = {c->front_role};
	PGresult *res;
	int member, may_create;

	if (c->front_role[0] == '\0')
		return 0;
	if ((member = pg_front_member(conn, c, me, sizeof(me), &may_create)) ==
	    -2)
		return -1;
	pg_ident(conn, me, mq, sizeof(mq));
	pg_ident(conn, c->front_role, fq, sizeof(fq));
	if (member == -1 && !may_create) {
		log_warnx("role %s does not exist and role %s may not create "
		          "it: run `CREATE ROLE %s NOLOGIN; GRANT %s TO %s;` "
		          "as a superuser, or set front_role (empty: front "
		          "runs as %s)",
		    c->front_role, me, fq, fq, mq, me);
		return -1;
	}
	if (member == -1) {
		snprintf(sql, sizeof(sql), "CREATE ROLE %s NOLOGIN", fq);
		if (pg_exec(conn, sql, "creating front's role") == -1)
			return -1;
		log_info("created role %s for front", c->front_role);
		member = pg_front_member(conn, c, me, sizeof(me), &may_create);
		if (member < 0)
			return -1;
	}
	if (!member) {
		snprintf(sql, sizeof(sql), "GRANT %s TO %s", fq, mq);
		res = PQexec(conn, sql);
		if (PQresultStatus(res) != PGRES_COMMAND_OK) {
			log_warnx("role %s may not SET ROLE %s, and may not "
			          "grant it to itself (%s): run `GRANT %s TO "
			          "%s;` as a superuser, or set front_role "
			          "(empty: front runs as %s)",
			    me, c->front_role,
			    pg_trim(PQresultErrorMessage(res)), fq, mq, me);
			PQclear(res);
			return -1;
		}
		PQclear(res);
		log_info("granted role %s to %s", c->front_role, me);
	}
	res = PQexecParams(conn, "SELECT alia.grant_front($1)", 1, NULL, params,
	    NULL, NULL, 0);
	if (PQresultStatus(res) != PGRES_TUPLES_OK) {
		log_warnx("granting role %s its rights on schema alia: %s",
		    c->front_role, PQerrorMessage(conn));
		PQclear(res);
		return -1;
	}
	PQclear(res);
	return 0;
}

/* Takes or releases the lock that serialises migrations. */
static int
pg_advisory(PGconn *conn, const char *what)
{
	char sql[128];

	snprintf(sql, sizeof(sql), "SELECT pg_advisory_%s(%d)", what,
	    PG_ADVISORY_KEY);
	return pg_exec(conn, sql, "the migration lock");
}

int
pg_create_database(const struct config *c)
{
	char conninfo[PATH_MAX + 64];
	PGconn *conn;
	PGresult *res;
	int exists, r = 0;

	if (!pg_embedded(c))
		return 0;
	pg_conninfo(c, "postgres", conninfo, sizeof(conninfo));
	conn = PQconnectdb(conninfo);
	if (PQstatus(conn) != CONNECTION_OK) {
		log_warnx("connecting to the embedded cluster: %s",
		    PQerrorMessage(conn));
		PQfinish(conn);
		return -1;
	}
	res = PQexec(conn, "SELECT 1 FROM pg_database WHERE datname = 'alia'");
	exists = PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) == 1;
	PQclear(res);
	if (!exists)
		r = pg_exec(conn, "CREATE DATABASE alia", "creating database");
	PQfinish(conn);
	return r;
}

int
pg_migrate(const struct config *c)
{
	char conninfo[PATH_MAX + 64], num[16];
	const char *params[2];
	PGconn *conn;
	PGresult *res;
	int i, applied = 0, have, newest;
	long long n;

	pg_conninfo(c, NULL, conninfo, sizeof(conninfo));
	conn = PQconnectdb(conninfo);
	if (PQstatus(conn) != CONNECTION_OK) {
		log_warnx(
		    "connecting to the database: %s", PQerrorMessage(conn));
		PQfinish(conn);
		return -1;
	}
	if (pg_exec(conn, "SET client_min_messages = warning", "migrate") ==
	        -1 ||
	    pg_advisory(conn, "lock") == -1 ||
	    pg_exec(conn,
	        "CREATE TABLE IF NOT EXISTS public.alia_migrations ("
	        "version integer PRIMARY KEY, name text NOT NULL, "
	        "applied_at timestamptz NOT NULL DEFAULT now())",
	        "creating public.alia_migrations") == -1)
		goto fail;
	for (i = 0; i < pg_nmigrations; i++) {
		snprintf(num, sizeof(num), "%d", pg_migrations[i].version);
		params[0] = num;
		res = PQexecParams(conn,
		    "SELECT 1 FROM public.alia_migrations WHERE version = $1",
		    1, NULL, params, NULL, NULL, 0);
		if (PQresultStatus(res) != PGRES_TUPLES_OK) {
			log_warnx("reading alia_migrations: %s",
			    PQerrorMessage(conn));
			PQclear(res);
			goto fail;
		}
		have = PQntuples(res);
		PQclear(res);
		if (have)
			continue;
		if (pg_exec(conn, "BEGIN", "migrate") == -1)
			goto fail;
		if (pg_exec(conn, pg_migrations[i].sql,
		        pg_migrations[i].name) == -1) {
			(void)pg_exec(conn, "ROLLBACK", "migrate");
			log_warnx("migration %s failed and was rolled back",
			    pg_migrations[i].name);
			goto fail;
		}
		params[1] = pg_migrations[i].name;
		res = PQexecParams(conn,
		    "INSERT INTO public.alia_migrations (version, name) "
		    "VALUES ($1, $2)",
		    2, NULL, params, NULL, NULL, 0);
		if (PQresultStatus(res) != PGRES_COMMAND_OK) {
			log_warnx("recording %s: %s", pg_migrations[i].name,
			    PQerrorMessage(conn));
			PQclear(res);
			(void)pg_exec(conn, "ROLLBACK", "migrate");
			goto fail;
		}
		PQclear(res);
		if (pg_exec(conn, "COMMIT", pg_migrations[i].name) == -1)
			goto fail;
		log_info("migrate: applied %s", pg_migrations[i].name);
		applied++;
	}
	res = PQexec(conn,
	    "SELECT coalesce(max(version), 0) FROM "
	    "public.alia_migrations");
	if (PQresultStatus(res) != PGRES_TUPLES_OK ||
	    str_num(PQgetvalue(res, 0, 0), 0, INT_MAX, &n) == -1)
		n = 0;
	newest = (int)n;
	PQclear(res);
	if (pg_nmigrations > 0 &&
	    newest > pg_migrations[pg_nmigrations - 1].version)
		log_warnx("the database has migration %d, newer than this "
		          "alia knows (%d): is an older binary running?",
		    newest, pg_migrations[pg_nmigrations - 1].version);
	if (pg_front_role(conn, c) == -1)
		goto fail;
	(void)pg_advisory(conn, "unlock");
	PQfinish(conn);
	return applied;
fail:
	PQfinish(conn);
	return -1;
}

pid_t
pg_start(const struct config *c)
{
	pid_t pid;

	if (pg_initdb(c) == -1)
		return -1;
	pg_wait_earlier(c, 60000);
	if ((pid = pg_spawn(c)) == -1)
		return -1;
	if (pg_wait_ready(c, pid, 60000) == -1) {
		kill(pid, SIGKILL);
		(void)pg_waitpid(pid);
		return -1;
	}
	if (pg_create_database(c) == -1) {
		pg_stop(pid);
		return -1;
	}
	return pid;
}

void
pg_stop(pid_t pid)
{
	struct timespec ts = {0, 50 * 1000 * 1000};
	int i, status;

	if (pid <= 0)
		return;
	kill(pid, SIGINT); /* fast shutdown */
	for (i = 0; i < 200; i++) {
		if (waitpid(pid, &status, WNOHANG) == pid)
			return;
		nanosleep(&ts, NULL);
	}
	log_warnx("postgres did not stop within 10 s; killing it");
	kill(pid, SIGKILL);
	(void)pg_waitpid(pid);
}

/* psql, while pg_psql waits for it: signals to pass on. */
static volatile pid_t pg_psql_pid;

static void
pg_psql_forward(int sig)
{
	if (pg_psql_pid > 0)
		kill(pg_psql_pid, sig);
}

/* Writes a password file that gives password to every server. */
static int
pg_passfile(const char *password, char *path, size_t len)
{
	const char *p;
	FILE *f;
	int fd;

	snprintf(path, len, "%s/alia-pgpass.XXXXXX",
	    getenv("TMPDIR") != NULL && getenv("TMPDIR")[0] != '\0'
	        ? getenv("TMPDIR")
	        : "/tmp");
	if ((fd = mkstemp(path)) == -1) { /* mode 0600 */
		log_warn("mkstemp %s", path);
		path[0] = '\0';
		return -1;
	}
	if ((f = fdopen(fd, "w")) == NULL) {
		log_warn("fdopen");
		close(fd);
		goto fail;
	}
	fputs("*:*:*:*:", f);
	for (p = password; *p != '\0'; p++) {
		if (*p == ':' || *p == '\\')
			fputc('\\', f);
		fputc(*p, f);
	}
	fputc('\n', f);
	if (fclose(f) == EOF) {
		log_warn("writing %s", path);
		goto fail;
	}
	return 0;
fail:
	unlink(path);
	path[0] = '\0';
	return -1;
}

/*
 * Hands conninfo to psql without putting it on psql's command line, where
 * ps and /proc/PID/cmdline show it to every local user: each part goes
 * into its environment variable (PGHOST, PGUSER, PGSSLMODE, ...), the
 * password into a temporary password file (mode 0600, PGPASSFILE) whose
 * path goes to passfile (empty: none) for the caller to remove once psql
 * is done. The few keywords that have no variable (keepalives, say) go
 * into extra, a conninfo for -d: none of them is a secret.
 */
static int
pg_psql_env(const char *conninfo, char *passfile, size_t passlen, char *extra,
    size_t extralen)
{
	PQconninfoOption *opts, *o;
	char *err = NULL, *q;
	size_t n = 0;
	int r = 0;

	passfile[0] = extra[0] = '\0';
	if ((opts = PQconninfoParse(conninfo, &err)) == NULL) {
		log_warnx("database: %s",
		    err != NULL ? pg_trim(err) : "out of memory");
		PQfreemem(err);
		return -1;
	}
	for (o = opts; o->keyword != NULL && r == 0; o++) {
		if (o->val == NULL)
			continue;
		if (strcmp(o->keyword, "password") == 0) {
			if (o->val[0] != '\0')
				r = pg_passfile(o->val, passfile, passlen);
			if (r == 0 && passfile[0] != '\0' &&
			    setenv("PGPASSFILE", passfile, 1) == -1)
				r = -1;
		} else if (o->envvar != NULL) {
			if (setenv(o->envvar, o->val, 1) == -1)
				r = -1;
		} else if (strcmp(o->keyword, "sslpassword") == 0) {
			log_warnx("alia psql cannot pass sslpassword "
			          "safely; psql will ask for it");
		} else {
			/* 'value', with ' and \ escaped. */
			n += (size_t)snprintf(extra + n,
			    n < extralen ? extralen - n : 0, "%s%s='",
			    n > 0 ? " " : "", o->keyword);
			for (q = o->val; *q != '\0'; q++) {
				if ((*q == '\'' || *q == '\\') &&
				    n + 1 < extralen)
					extra[n++] = '\\';
				if (n + 1 < extralen)
					extra[n++] = *q;
			}
			if (n + 1 < extralen)
				extra[n++] = '\'';
			if (n < extralen)
				extra[n] = '\0';
		}
	}
	PQconninfoFree(opts);
	if (r == -1) {
		log_warn("setting psql's environment");
		if (passfile[0] != '\0')
			unlink(passfile);
		passfile[0] = '\0';
	}
	return r;
}

int
pg_psql(const struct config *c, int argc, char **argv)
{
	char conninfo[PATH_MAX + 64], bindir[PATH_MAX], psql[PATH_MAX + 16];
	char passfile[PATH_MAX], extra[PATH_MAX];
	struct sigaction sa, old[3];
	static const int fwd[] = {SIGTERM, SIGHUP, SIGQUIT};
	char **args;
	pid_t pid, server = 0;
	int i, j = 0, st;

	if ((server = pg_start_oneshot(c)) == -1)
		return 1;
	if (server > 0) {
		if (pg_migrate(c) == -1) {
			pg_stop(server);
			return 1;
		}
	}
	pg_conninfo(c, NULL, conninfo, sizeof(conninfo));
	if (pg_psql_env(conninfo, passfile, sizeof(passfile), extra,
	        sizeof(extra)) == -1) {
		pg_stop(server);
		return 1;
	}
	psql[0] = '\0';
	if (pg_bindir(c, bindir, sizeof(bindir)) == 0)
		snprintf(psql, sizeof(psql), "%s/psql", bindir);
	if (access(psql, X_OK) == -1)
		snprintf(psql, sizeof(psql), "/usr/bin/psql");
	args = xcalloc((size_t)argc + 4, sizeof(*args));
	args[j++] = psql;
	if (extra[0] != '\0') {
		args[j++] = (char *)"-d";
		args[j++] = extra;
	}
	for (i = 0; i < argc; i++)
		args[j++] = argv[i];
	if (server == 0 && passfile[0] == '\0') {
		/* Nothing to clean up afterwards: become psql, terminal and all. */
		execv(psql, args);
		log_warn("exec %s", psql);
		free(args);
		return 1;
	}
	switch ((pid = fork())) {
	case -1:
		log_warn("fork");
		st = 1;
		break;
	case 0:
		execv(psql, args);
		log_warn("exec %s", psql);
		_exit(127);
	default:
		/* psql handles ^C itself; a stop is passed on to it. */
		pg_psql_pid = pid;
		memset(&sa, 0, sizeof(sa));
		sa.sa_handler = pg_psql_forward;
		sigemptyset(&sa.sa_mask);
		for (i = 0; i < 3; i++)
			sigaction(fwd[i], &sa, &old[i]);
		signal(SIGINT, SIG_IGN);
		st = pg_waitpid(pid);
		signal(SIGINT, SIG_DFL);
		for (i = 0; i < 3; i++)
			sigaction(fwd[i], &old[i], NULL);
		pg_psql_pid = 0;
	}
	free(args);
	if (passfile[0] != '\0')
		unlink(passfile);
	pg_stop(server);
	return st;
}

PGconn *
pg_open_oneshot(const struct config *c, pid_t *server)
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
pg_close_oneshot(PGconn *conn, pid_t server)
{
	PQfinish(conn);
	pg_stop(server);
}
