/* SPDX-License-Identifier: ISC */
/*
 * The supervisor: supervision, sessions and their containers, the Docker
 * client and the embedded PostgreSQL. Each file has its own section.
 */
#ifndef ALIA_MASTER_H
#define ALIA_MASTER_H

#include <sys/types.h>
#include <stddef.h>
#include <stdint.h>

#include "common/proto.h"
#include "common/pgc.h"

struct event_base;
struct config;

/* master.c */
/* Runs the supervisor until SIGTERM or SIGINT; returns the exit status. */
int master_main(struct config *, const char *file, int foreground, int verbose);
struct msgchan;
/* The channel to the running front, or NULL. */
struct msgchan *master_front(void);
/* The channel to the running broker, or NULL. */
struct msgchan *master_broker(void);
/*
 * Connects peer (a session's worker, a wall or the recorder) to the
 * broker with a new socketpair; nothing when either is not running.
 */
int master_broker_pair(
    int kind, const struct uuid *session, struct msgchan *peer);

/* pg.c */
struct pg_migration {
	int version;
	const char *name;
	const char *sql;
};
extern const struct pg_migration pg_migrations[]; /* generated from sql/ */
extern const int pg_nmigrations;

/* Creates the embedded cluster unless it exists. */
int pg_initdb(const struct config *);
/* Starts postgres on the embedded cluster; returns its pid. */
pid_t pg_spawn(const struct config *);
/* Waits until the server accepts connections; pid > 0 is watched. */
int pg_wait_ready(const struct config *, pid_t, int timeout_ms);
/* Whether alia's database server answers now. */
int pg_running(const struct config *);
int pg_create_database(const struct config *);
/* initdb if needed, spawn, wait, create the database: the pid, or -1. */
pid_t pg_start(const struct config *);
/*
 * For one-shot commands: starts the embedded cluster when nothing runs it
 * (its pid, to stop afterwards), 0 when it already runs or is external,
 * -1 when alia runs but its database does not answer.
 */
pid_t pg_start_oneshot(const struct config *);
/* The directory of postgres and initdb: pg_bin, or the newest installed. */
int pg_bindir(const struct config *, char *buf, size_t len);
/* Whether an alia server holds data_dir (its pid file is locked). */
int pg_server_holds(const struct config *);
/* Fast shutdown of a server this process started, KILL after 10 s. */

void pg_stop(pid_t);
/*
 * Waits for the external database to accept a connection, trying again
 * 1 s doubling to 30 s with a log line each time (systemd starts services
 * in parallel); -1 at once when it answers but refuses (a wrong password,
 * say) or the conninfo is wrong.
 */
int pg_wait_external(const struct config *);
/*
 * Applies pending migrations, then makes sure front can switch to
 * front_role and gives that role its rights; returns how many
 * migrations were applied, or -1.
 */
int pg_migrate(const struct config *);
/* Runs psql on alia's database with the given arguments. */
int pg_psql(const struct config *, int argc, char **argv);

/* container.c */
struct engine;
struct msg;
struct msgchan;
struct msg_metrics;
#define INSTANCE_LEN 33 /* an instance id in hex, with the NUL */

void container_init(struct event_base *, const struct config *,
    const char *instance, struct pgc *, int verbose);
/* Answers front's session requests and takes browsers' websockets. */
void container_front_msg(struct msgchan *front, struct msg *);
/*
 * A child exited: 1 if it was a session's worker or one the pool forked
 * (handled), else 0.
 */
int container_child_exited(pid_t, int status);
void container_metrics(struct msg_metrics *);
/*
 * user was signed out everywhere: each of their browsers, on any session,
 * is sent off; if disabled, their sessions end ("user disabled").
 */
void container_signout(const char *user, int disabled);
/* Ends session id on purpose, as a DELETE does; -1 if id is malformed. */
int container_kill(const char *id, const char *reason);
/* The broker (re)started: connects every session's worker to it. */
void container_broker_started(void);
/*
 * Ends every session, or with live_restore (or restarting: SIGUSR2) lets
 * the running ones live on, their workers gone; container_busy() says
 * when that is done.
 */
void container_shutdown(int restarting);
int container_busy(void);
void container_free(void);
struct docker_create_opts;
/*
 * Fills o for a hardened sandbox named name of environment env (an index
 * of conf->env), with the global limits.
 */
void container_sandbox(struct docker_create_opts *o, const char *name, int env);
/* How many sessions are live (their containers exist or are coming). */
int container_live(void);
/*
 * An engine became ready (or the wait timer fired): sessions waiting for
 * one are placed, or refused once none is starting or they waited long.
 */
void container_engines_changed(void);
/* Live sessions placed on e. */
int container_engine_sessions(const struct engine *);
/* e is down: its sessions end ("engine lost"), its rows too. */
void container_engine_lost(struct engine *);
/*
 * e answers and has the image: this instance's containers there and the
 * rows of sessions placed there are put side by side, as at a start;
 * engine_reconciled() follows.
 */
void container_engine_reconcile(struct engine *);
struct uuid;
/*
 * A new session id: 128 random bits (no version bits fixed, so all are
 * unguessable), neither a session's nor reserved by the pool.
 */
void container_session_id(struct uuid *);
/*
 * Forks a worker, waiting for its configuration on the returned fd (the
 * master's end of its channel), or -1.
 */
int container_worker_spawn(pid_t *);

/* pool.c */
struct evbuffer;
struct pool_limits {
	int64_t memory;
	int64_t nano_cpus;
	int64_t pids;
};

/* A pool container taken by a session: all of it is the session's now. */
struct pool_taken {
	struct uuid session; /* the id it was made for */
	struct engine *engine;
	char container[80];
	struct pool_limits limits; /* those it was created with */
	int fd;                    /* the attach stream, started */
	struct evbuffer *out;      /* what the shell printed so far */
	pid_t worker;              /* forked ahead and configured */
	int worker_fd;             /* its channel; -1: none */
};

struct docker;
void pool_init(struct event_base *, const struct config *);
/* Pool containers (being made or ready) on e. */
int pool_engine_held(const struct engine *);
/*
 * e is gone (down: its containers are only forgotten) or drained
 * (remove: they are removed too).
 */
void pool_engine_gone(struct engine *, int remove);
/* The start's reconcile is done: the pool may fill. */
void pool_start(void);
/* There may be room for more pool containers (a take, a session's end). */
void pool_kick(void);
/*
 * A ready container for a new session; -1 when none is ready. The caller
 * kicks the refill when the session no longer waits on Docker.
 */
int pool_take(int env, struct pool_taken *);
/* A child exited: 1 if it was a worker the pool forked, else 0. */
int pool_reaped(pid_t);
/* Whether a pool container was made for session id u. */
int pool_reserved(const struct uuid *u);
/*
 * SIGHUP: the containers and workers made under the old configuration go
 * (their workers hold it); the pool fills again under the new one.
 */
void pool_reload(void);
/* The pool's gauges and counters into m. */
void pool_metrics(struct msg_metrics *);
/* Removes every pool container; pool_busy() says when that is done. */
void pool_shutdown(void);
int pool_busy(void);
void pool_free(void);

/* engine.c */
struct engine;
/* Makes the engines of conf->engine and starts pinging them. */
void engine_init(struct event_base *, const struct config *, struct pgc *);
/* SIGHUP: the engines stay (docker is fixed); capacities change. */
void engine_reload(const struct config *);
/*
 * Where a new session or pool container of environment env (an index of
 * conf->env) goes; NULL: nowhere now.
 */
struct engine *engine_pick(int env);
/* Whether an engine has not answered yet, or is being prepared. */
int engine_starting(void);
/* Why engine_pick() found none: each engine's state, for a refusal. */
void engine_why_none(int env, char *, size_t);
struct engine *engine_find(const char *name);
/* The engine of rows without one: "local", else the first. */
struct engine *engine_default(void);
/* The i-th engine (0 ...), or NULL past the last. */
struct engine *engine_at(int);
int engine_index(const struct engine *);
const char *engine_name(const struct engine *);
struct docker *engine_docker(const struct engine *);
/* Up, ready and not drained: what it holds may be given to sessions. */
int engine_usable(const struct engine *);
/* A container was created there in us microseconds. */
void engine_created(struct engine *, int64_t us);
/* container_engine_reconcile() is done: e is ready, if still up. */
void engine_reconciled(struct engine *);
void engine_metrics(struct msg_metrics *);
/* Stops the pings; the clients stay for the shutdown's calls. */
void engine_shutdown(void);
void engine_free(void);

/* check.c */
#define CHECK_USER "1000:1000" /* the sandbox's user: never root */
struct check_result {
	int passed;    /* exit status 0, in time */
	int exit_code; /* -1: none (timed out here, or it did not run) */
	int timed_out;
	char error[160]; /* why it did not run; "" when it did */
	char output[CHECK_OUTPUT_MAX];
	size_t outlen;
	uint64_t total; /* output bytes, kept or not */
};
typedef void (*check_done_cb)(const struct check_result *, void *);
struct docker;
void check_init(struct event_base *);
/*
 * Runs snippet with sh -c in container (on d) as CHECK_USER, killed
 * after timeout_s seconds inside and given up on 2 s later; done gets
 * the result once, on every path.
 */
void check_run(struct docker *d, const char *container, const char *snippet,
    int timeout_s, check_done_cb done, void *arg);
/* How many checks run. */
int check_running(void);
/* Drops every running check; their done is not called. */
void check_shutdown(void);

/* wall.c */
void wall_init(struct event_base *, const struct config *, int verbose);
/* A wall's websocket from front (fd taken): a wall process for it. */
void wall_spawn(struct msg *);
/* A child exited: 1 if it was a wall's process (forgotten), else 0. */
int wall_reaped(pid_t);
/* user was signed out everywhere: their walls are sent off. */
void wall_signout(const char *user);
/* The broker (re)started: connects every wall to it as a view. */
void wall_broker_started(void);
/* Asks every wall to go; new walls are refused from now on. */
void wall_shutdown(void);
void wall_free(void);

/* disk.c */
/* Starts measuring the free disk under the database (record_disk_floor). */
void disk_init(struct event_base *, const struct config *);
void disk_free(void);
/* The broker (re)started: tells it whether output recording is paused. */
void disk_broker_started(void);
/* Fills the disk floor's part of the metrics. */
void disk_metrics(struct msg_metrics *);

/* docker.c */
struct evbuffer;
struct yajl_val_s;
struct docker;
struct docker_call;

/* Parameters of a hardened sandbox container; zero values take defaults. */
struct docker_create_opts {
	const char *name;       /* container name, e.g. alia-ID */
	const char *image;      /* e.g. alia-sandbox:latest */
	const char *const *cmd; /* argv, NULL-terminated; required */
	const char *const *env; /* KEY=VALUE, NULL-terminated */
	const char *user;       /* e.g. 1000:1000 */
	const char *workdir;    /* gets a tmpfs of home_size */
	const char *hostname;
	const char *session;   /* label io.alia.session */
	const char *owner;     /* label io.alia.owner: the node */
	const char *instance;  /* label io.alia.instance: the data_dir's */
	const char *engine;    /* label io.alia.engine: its engine's name */
	int pool;              /* label io.alia.pool: a warm pool's */
	int tty;               /* raw stream; else 8-byte frames */
	int64_t memory;        /* bytes, also MemorySwap; 0: none */
	int64_t nano_cpus;     /* 0: no limit */
	int64_t pids_limit;    /* 0: no limit */
	const char *network;   /* NetworkMode; NULL: none */
	const char *tmp_size;  /* tmpfs /tmp, e.g. 64m; NULL: 64m */
	const char *home_size; /* tmpfs on workdir; NULL: 64m */
	int home_uid;          /* owner of that tmpfs; 0: 1000 */
	int64_t nofile;        /* nofile ulimit; 0: 1024 */
};

/* A command run in a container (docker_exec): never as root. */
struct docker_exec_opts {
	const char *const *cmd; /* argv, NULL-terminated */
	const char *const *env; /* KEY=VALUE, NULL-terminated */
	const char *user;       /* e.g. 1000:1000 */
	const char *workdir;
};

struct docker_container {
	const char *id;
	const char *name;    /* without the leading slash */
	const char *state;   /* created, running, exited, ... */
	const char *session; /* label io.alia.session, or NULL */
	int pool;            /* labelled io.alia.pool */
};

/*
 * What a call's callback gets. message is NULL on success and says what
 * failed otherwise: the daemon's message, or the transport error when
 * status is 0. Strings and arrays are valid during the callback only.
 */
struct docker_result {
	int status;              /* HTTP status; 0: transport failed */
	const char *message;     /* NULL on success */
	const char *api_version; /* ping */
	const char *id;          /* create */
	int exit_code;           /* wait, inspect; -1 when unknown */
	const char *state;       /* inspect: State.Status */
	const char *session;     /* inspect: label io.alia.session */
	const char *owner;       /* inspect: label io.alia.owner */
	struct yajl_val_s *tree; /* inspect: the whole parsed body */
	const struct docker_container *containers; /* list */
	size_t ncontainers;
	/*
	 * attach: the upgraded socket (non-blocking, close-on-exec) and the
	 * bytes already read after the 101 head. The callback takes them by
	 * setting fd to -1 / pending to NULL; otherwise they are closed and
	 * freed when it returns.
	 */
	int fd;
	struct evbuffer *pending;
	struct evbuffer *body; /* logs: the raw body, the callback's to read */
};

struct docker_event {
	const char *action;  /* start, die, oom, kill, destroy, ... */
	const char *id;      /* container id */
	const char *session; /* label io.alia.session, or NULL */
	int exit_code;       /* die: the exit code; -1 otherwise */
};

typedef void (*docker_cb)(struct docker_result *, void *);
typedef void (*docker_event_cb)(const struct docker_event *, void *);

/*
 * A client of the daemon at host (unix:///path or tcp://host:port; NULL:
 * $DOCKER_HOST, else the default socket). TLS when $DOCKER_TLS_VERIFY is
 * set, with ca.pem, cert.pem, key.pem from $DOCKER_CERT_PATH. A bad host
 * or TLS setup fails every call with a message, never here.
 */
struct docker *docker_new(struct event_base *, const char *);
struct config_engine;
/*
 * A client of engine e: TLS from docker_tls_dir/NAME when that exists;
 * for a lone engine, else as docker_new() (the environment).
 */
struct docker *docker_new_engine(
    struct event_base *, const struct config *, const struct config_engine *);
/* Whether the client speaks TLS (attach streams are then relayed). */
int docker_tls(const struct docker *);
/* Drops every pending call without running its callback. */
void docker_free(struct docker *);
/* The API version in use ("1.41"), or NULL before negotiation. */
const char *docker_api_version(struct docker *);
/*
 * Every call returns a handle valid until its callback has run; cancel
 * drops the call and its callback is never run.
 */
void docker_cancel(struct docker_call *);
struct docker_call *docker_ping(struct docker *, docker_cb, void *);
struct docker_call *docker_create(
    struct docker *, const struct docker_create_opts *, docker_cb, void *);
struct docker_call *docker_attach(
    struct docker *, const char *, docker_cb, void *);
struct docker_call *docker_start(
    struct docker *, const char *, docker_cb, void *);
struct docker_call *docker_resize(
    struct docker *, const char *, u_int, u_int, docker_cb, void *);
/* condition: not-running (NULL), next-exit or removed. */
/*
 * A tty container's log between two unix times, each line as Docker
 * keeps it: "TIMESTAMP " and the line with its newline.
 */
struct docker_call *docker_logs(struct docker *, const char *, int64_t since_us,
    int64_t until_us, docker_cb, void *);
struct docker_call *docker_wait(
    struct docker *, const char *, const char *, docker_cb, void *);
/*
 * Blocking: SIGKILLs the container of session id on its own event base
 * (for a one-shot command); the HTTP status, Docker's message in msg.
 */
int docker_kill_now(const struct config *, const char *id, char *msg, size_t);
struct docker_call *docker_kill(
    struct docker *, const char *, const char *, docker_cb, void *);
/* Force-removes; a container already gone (404) counts as success. */
struct docker_call *docker_remove(
    struct docker *, const char *, docker_cb, void *);
/* Containers labelled label (KEY=VALUE), running or not. */
struct docker_call *docker_list(
    struct docker *, const char *, docker_cb, void *);
struct docker_call *docker_inspect(
    struct docker *, const char *, docker_cb, void *);
/* Sets a running container's limits (memory, nano_cpus, pids; 0: kept). */
struct docker_call *docker_update(struct docker *, const char *, int64_t,
    int64_t, int64_t, docker_cb, void *);
/* Makes an exec of o in container id: its id in the result's id. */
struct docker_call *docker_exec(struct docker *, const char *id,
    const struct docker_exec_opts *o, docker_cb, void *);
/*
 * Starts exec id, attached: the result's fd is its output stream (8-byte
 * frames, stdout and stderr), as an attach's is.
 */
struct docker_call *docker_exec_start(
    struct docker *, const char *id, docker_cb, void *);
/* Exec id's state ("running" or "exited") and exit code. */
struct docker_call *docker_exec_inspect(
    struct docker *, const char *id, docker_cb, void *);
/* An image by name or id: its id in the result's id. */
struct docker_call *docker_image(
    struct docker *, const char *, docker_cb, void *);
/*
 * An image as a tar stream (docker save), written to fd as it comes; the
 * result's exit_code holds the bytes written (capped at INT_MAX).
 */
struct docker_call *docker_image_export(
    struct docker *, const char *, int fd, docker_cb, void *);
/* Loads the len bytes of fd (an image's tar stream; fd taken). */
struct docker_call *docker_image_load(
    struct docker *, int fd, size_t len, docker_cb, void *);
/*
 * Container start, die, oom, kill and destroy events for containers
 * labelled label (KEY=VALUE; all containers when NULL); done runs once
 * when the stream ends or fails.
 */
struct docker_call *docker_events(
    struct docker *, const char *, docker_event_cb, docker_cb, void *);

/* docker_http.c */
struct docker_http;
enum docker_http_state {
	DOCKER_HTTP_HEAD,    /* status line and headers */
	DOCKER_HTTP_BODY,    /* the body, drained or not by the caller */
	DOCKER_HTTP_DONE,    /* one whole response */
	DOCKER_HTTP_UPGRADE, /* 101: what follows is the raw stream */
	DOCKER_HTTP_ERROR,
};
struct docker_http *docker_http_new(void);
void docker_http_free(struct docker_http *);
/* Forgets the last response; ready for the next on the connection. */
void docker_http_reset(struct docker_http *);
/* Returns how many bytes were consumed (none past a response), or -1. */
ssize_t docker_http_parse(struct docker_http *, const void *, size_t);
/* The peer closed: 0 when that ends the response, -1 when it truncates. */
int docker_http_eof(struct docker_http *);
enum docker_http_state docker_http_state(const struct docker_http *);
int docker_http_status(const struct docker_http *);
const char *docker_http_header(const struct docker_http *, const char *);
struct evbuffer *docker_http_body(struct docker_http *);
/* The connection can carry another request after this response. */
int docker_http_keepalive(const struct docker_http *);
size_t docker_http_consumed(const struct docker_http *);
const char *docker_http_error(const struct docker_http *);

/*
 * alia's database for a one-shot command, over blocking libpq: starts
 * the embedded cluster when nothing runs it (*server: its pid, else 0)
 * and migrates it. NULL, message printed and nothing left running, on
 * failure.
 */
struct pg_conn;
struct pg_conn *pg_open_oneshot(const struct config *, pid_t *server);
/* Closes the connection and stops the cluster pg_open_oneshot() started. */
void pg_close_oneshot(struct pg_conn *, pid_t server);

#endif
