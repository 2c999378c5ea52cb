/* SPDX-License-Identifier: ISC */
/*
 * The master side: the supervisor and the service roles it runs (front,
 * and later broker and recorder). One header for the whole side; each
 * file family has its own section.
 */
#ifndef ALIA_MASTER_H
#define ALIA_MASTER_H

#include <sys/types.h>
#include <stddef.h>
#include <stdint.h>

#include "common/proto.h"

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
 * Connects peer (a session's worker, or the recorder) to the broker with
 * a new socketpair; nothing when either is not running.
 */
int master_broker_pair(
    int kind, const char *session, uint64_t sid, struct msgchan *peer);

/* pg.c */
struct pg_migration {
	int version;
	const char *name;
	const char *sql;
};
extern const struct pg_migration pg_migrations[]; /* generated from sql/ */
extern const int pg_nmigrations;

int pg_embedded(const struct config *);
void pg_paths(
    const struct config *, char *pgdata, size_t, char *sockdir, size_t);
/* The libpq conninfo of alia's database (dbname NULL: alia's own). */
void pg_conninfo(const struct config *, const char *dbname, char *, size_t);
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

/* pg_query.c */
struct pgq;
/* Queues idempotent statements for alia's database, run in order. */
struct pgq *pgq_new(struct event_base *, const char *conninfo);
void pgq_free(struct pgq *);
/* Queues sql with text parameters (copied); retried across reconnects. */
void pgq_exec(
    struct pgq *, const char *sql, int nparams, const char *const *params);
struct pg_result;
/* The result of a query, in binary format; NULL: refused or dropped. */
typedef void (*pgq_result_cb)(const struct pg_result *, void *arg);
/* Queues a query (sent again after a reconnect): cb hears it once. */
void pgq_query(struct pgq *, const char *sql, int nparams,
    const char *const *params, pgq_result_cb, void *);
size_t pgq_pending(const struct pgq *);
/* A notification's payload; NULL: (re)connected, earlier ones may be lost. */
typedef void (*pgq_notify_cb)(const char *payload, void *arg);
/* LISTENs on channel (up to 4 of them) on every connection; cb gets each
 * notification on it. */
void pgq_listen(struct pgq *, const char *channel, pgq_notify_cb, void *);

/* container.c */
struct msg;
struct msgchan;
struct msg_metrics;
#define INSTANCE_LEN 33 /* an instance id in hex, with the NUL */

void container_init(struct event_base *, const struct config *,
    const char *instance, struct pgq *, int verbose);
/* Answers front's session requests and takes browsers' websockets. */
void container_front_msg(struct msgchan *front, struct msg *);
/* A child exited: 1 if it was a session's worker (handled), else 0. */
int container_child_exited(pid_t, int status);
void container_metrics(struct msg_metrics *);
/*
 * user was signed out everywhere: each of their browsers, on any session
 * or wall, is sent off; if disabled, their sessions end ("user disabled").
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

/* disk.c */
/* Starts measuring the free disk under the database (record_disk_floor). */
void disk_init(struct event_base *, const struct config *);
void disk_free(void);
/* The broker (re)started: tells it whether output recording is paused. */
void disk_broker_started(void);
/* Fills the disk floor's part of the metrics. */
void disk_metrics(struct msg_metrics *);

/* front.c */
/* The front role: serves HTTP on the socket master hands over. */
int front_main(int verbose);

/* front_http.c */
struct conn;
struct http_request;
struct proxy_trust;
struct front_http_conf {
	const char *web_dir; /* directory served at / */
	size_t max_body;
	int header_timeout_ms; /* whole request head must arrive within */
	int idle_timeout_ms;   /* keep-alive idle */
	int max_conns;
	/* Answers /api/, /ws/ and /metrics; NULL: they are 404. */
	void (*api)(struct conn *, const struct http_request *);
	/* The methods the API allows at a path ("GET, POST"); NULL: any. */
	const char *(*api_allow)(const char *path);
	struct ssl_ctx_st *tls; /* set: every connection speaks TLS */
	/* whose forwarded headers are believed; NULL: nobody's */
	const struct proxy_trust *trust;
};
/*
 * Serves HTTP on listen_fd (already bound and listening, non-blocking);
 * takes ownership of the fd.
 */
int front_http_start(
    struct event_base *, int listen_fd, const struct front_http_conf *);
/* Closes the listener and every connection. */
void front_http_stop(void);
/* The connection waits for master: returns the id its answer carries. */
uint64_t front_http_park(struct conn *);
/* Parks c keeping its request; front_http_redispatch() runs it again. */
uint64_t front_http_hold(struct conn *);
/* Runs a held request again; nothing if its connection has gone. */
void front_http_redispatch(uint64_t req);
/* The connection waiting for answer req, or NULL if it went away. */
struct conn *front_http_parked(uint64_t req);
/* Answers the current request (a parked one resumes afterwards). */
void front_http_respond(struct conn *, int status, const char *ctype,
    const void *body, size_t len, const char *extra);
/*
 * Hands the connection over as an fd, or -1 if bytes are pending: a dup
 * of its socket, or under TLS one end of a socketpair whose other end
 * front relays to the TLS connection.
 */
int front_http_detach(struct conn *);
/* The client for log lines: "ADDR:PORT", or "CLIENT via ADDR:PORT". */
const char *front_http_peer(const struct conn *);
/* The current request's client address (forwarded by a trusted proxy). */
const char *front_http_client(const struct conn *);
/* Whether the current request came over https (here or at the proxy). */
int front_http_https(const struct conn *);

/* front_pwhash.c */
/* nthreads threads check passwords; at most max_jobs at once. */
void front_pwhash_init(struct event_base *, int nthreads, int max_jobs);
/*
 * Checks password against stored (a crypto_pwhash string) off the loop;
 * cb(1 match, 0 no match, -1 dropped at shutdown, arg) runs in the loop.
 * Returns -1, without calling cb, when max_jobs are pending already.
 */
int front_pwhash_verify(const char *stored, const char *password,
    void (*cb)(int result, void *arg), void *arg);
int front_pwhash_pending(void);
/* Stops the threads; pending jobs get cb(-1). */
void front_pwhash_free(void);

/* front_auth.c */
/* Who a request comes from. */
struct ident {
	char name[OWNER_LEN]; /* the user, or an anonymous cookie identity */
	int role;
#define ROLE_ANON       0 /* auth = none: a cookie identity */
#define ROLE_LEARNER    1
#define ROLE_INSTRUCTOR 2
#define ROLE_ADMIN      3
	char *sees; /* instructor: " member member ... " of their groups */
};

void front_auth_init(struct event_base *, const struct config *);
void front_auth_free(void);
/*
 * The caller of req (auth = password): 1 with *id set; 0 when the request
 * is held while its token is looked up, to be dispatched again; -1 when
 * c was answered (401, 503).
 */
int front_auth_ident(
    struct conn *, const struct http_request *, const struct ident **);
/* Whether id may see the sessions of owner. */
int front_auth_may_see(const struct ident *, const char *owner);
/* A copy of an identity that outlives the cache (free its sees). */
void front_auth_copy(struct ident *to, const struct ident *from);
int front_auth_role(const char *);
const char *front_auth_role_name(int);
/* POST /api/login, POST /api/logout. */
void front_auth_login(struct conn *, const struct http_request *);
void front_auth_logout(struct conn *, const struct http_request *);
/* MSG_SIGNOUT: forgets the cached tokens of a user (or of everyone). */
void front_auth_signout(struct msg *);
/* A row in alia.audit (session and detail may be NULL). */
void front_auth_audit(const char *actor, const char *action,
    const char *session, const char *detail);

/* front_share.c */
/* /api/sessions/ID/shares[/NAME]: make, list, revoke share links. */
void front_share_route(struct conn *, const struct http_request *,
    const struct ident *, const char *session, const char *name);
/* GET /api/shares/TOKEN: the session a link shows, for anyone. */
void front_share_get(
    struct conn *, const struct http_request *, const char *token);
/* A websocket to watch session through a share link's token. */
void front_share_ws(
    struct conn *, const char *key, const char *session, const char *token);

/* front_api.c */
/* Every browser of session attached as viewer leaves (master, worker). */
void front_api_kick(const char *session, const char *viewer);
/*
 * A checked share link's websocket: watch id as viewer (c is parked) for
 * the until_s seconds the link has left.
 */
void front_api_ws_shared(struct conn *, const char *key, const char *id,
    const char *viewer, uint32_t until_s);
/* Whether a browser's request comes from our own pages (or no browser). */
int front_api_origin_ok(struct conn *, const struct http_request *);
/* Answers with the JSON g, or {"error": message}; extra: more headers. */
struct yajl_gen_t;
void front_api_json(
    struct conn *, int status, struct yajl_gen_t *, const char *extra);
void front_api_error(
    struct conn *, int status, const char *message, const char *extra);
void front_api_init(struct msgchan *master, const struct config *);
/* Answers /api/, /ws/ and /metrics requests, asking master as needed. */
void front_api_request(struct conn *, const struct http_request *);
/* The methods allowed at an API path, for 405's Allow; NULL if unknown. */
const char *front_api_allow(const char *path);
/* An answer from master to a parked request. */
void front_api_master_msg(struct msg *);

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

struct docker_container {
	const char *id;
	const char *name;    /* without the leading slash */
	const char *state;   /* created, running, exited, ... */
	const char *session; /* label io.alia.session, or NULL */
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

/* cli.c */
struct pg_conn;
/*
 * alia's database for a one-shot command, over blocking libpq: starts
 * the embedded cluster when nothing runs it (*server: its pid, else 0)
 * and migrates it. NULL, message printed and nothing left running, on
 * failure.
 */
struct pg_conn *cli_open(const struct config *, pid_t *server);
/* Closes the connection and stops the cluster cli_open() started. */
void cli_close(struct pg_conn *, pid_t server);

/* cli_session.c */
/* `alia session list|export|kill`: argv[0] is the subcommand; an exit status. */
int cli_session(const struct config *, int argc, char **argv);

/* cli_user.c */
/*
 * `alia user add|passwd|disable|enable|list|token` and `alia group
 * add|member`: argv[0] is the subcommand; an exit status.
 */
int cli_user(const struct config *, int argc, char **argv);
int cli_user_group(const struct config *, int argc, char **argv);

/* front_db.c */
struct pg_result;
enum front_db_event {
	FRONT_DB_ROW,   /* one row, in a result of one tuple */
	FRONT_DB_DONE,  /* every row has come */
	FRONT_DB_ERROR, /* the query failed or the database is unavailable */
};
/*
 * Runs once per row, then once with DONE or ERROR (res NULL, err set on
 * ERROR: a message a client may see); the query is finished after that.
 */
typedef void (*front_db_cb)(
    enum front_db_event, const struct pg_result *, const char *err, void *);
/* front's read-only connection to alia's database, made as needed. */
void front_db_init(struct event_base *, const struct config *);
void front_db_free(void);
/* Queues a read-only query with text parameters (copied). */
void front_db_query(const char *sql, int nparams, const char *const *params,
    front_db_cb, void *arg);

/* broker.c */
/* The broker role: the hub between workers and the recorder. */
int broker_main(int verbose);

/* recorder.c */
/* The recorder role: writes session events to PostgreSQL and acks them. */
int recorder_main(int verbose);

/* recorder_db.c */
#include <sys/queue.h>
/* One event on its way to alia.events. */
struct recorder_ev {
	TAILQ_ENTRY(recorder_ev) entry;
	void *owner; /* the recorder's session, NULL: not counted for acks */
	uint64_t seq;
	int64_t t_us;
	char session[37];
	char kind;
	uint32_t len;
	unsigned char data[];
};
TAILQ_HEAD(recorder_evs, recorder_ev);
struct recorder_db;
/* Committed events, in the order added; the callee takes and frees them. */
typedef void (*recorder_db_cb)(struct recorder_evs *, void *);
/* Connects to conninfo now and again after every failure, with backoff. */
struct recorder_db *recorder_db_new(
    struct event_base *, const char *conninfo, recorder_db_cb, void *);
/* Drops the connection and every event held. */
void recorder_db_free(struct recorder_db *);
/* Takes ev (malloc'd) for the next batch. */
void recorder_db_add(struct recorder_db *, struct recorder_ev *);
/* Writes and commits everything held without waiting for batch timers. */
void recorder_db_flush(struct recorder_db *);
/* Data bytes held: waiting, or written and not yet committed. */
size_t recorder_db_held(const struct recorder_db *);
size_t recorder_db_events(const struct recorder_db *);
struct pg_result;
/* A side query's answer: its rows, or NULL when it failed. */
typedef void (*recorder_db_query_cb)(struct pg_result *, void *);
/* Runs sql (text parameters, copied) between transactions; see the file. */
void recorder_db_query(struct recorder_db *, const char *sql, int n,
    const char *const *params, recorder_db_query_cb, void *);

#endif
