/* SPDX-License-Identifier: ISC */
/*
 * front: the HTTP and websocket face of alia. It serves the pages and the
 * API, checks who calls, and hands websockets to master. Each file has its
 * own section. They stand in layers: at the bottom the HTTP server
 * (front_http.c) and the database (front_db.c); over them the JSON
 * answers, identity (front_auth.c) and the asks to master
 * (front_master.c); then the handlers, a file per concern; at the top
 * the route table (front_route.c) that calls them. A file calls only
 * what stands under it (front_share.c uses front_ws.c's websocket
 * checks and attach), never back up.
 */
#ifndef ALIA_FRONT_H
#define ALIA_FRONT_H

#include <sys/types.h>
#include <sys/queue.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include <bsd/sys/tree.h>

#include "common/proto.h"

struct event_base;
struct config;
struct msg;
struct msgchan;

/* front.c */
/* The front role: serves HTTP on the socket master hands over. */
int front_main(int verbose);

/* front_http.c */
struct conn;
struct http_request;
struct proxy_trust;
struct front_http_conf {
	size_t max_body;
	int header_timeout_ms; /* whole request head must arrive within */
	int idle_timeout_ms;   /* keep-alive idle */
	int max_conns;
	/* Answers every request (front_route_request); NULL: each is 404. */
	void (*route)(struct conn *, const struct http_request *);
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
/* Closes the listener and every connection; the loop frees them next. */
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
/* Answers req with len bytes of fd as its body (none for HEAD). */
void front_http_respond_file(struct conn *, const struct http_request *,
    int status, const char *ctype, int fd, off_t len, const char *extra);
/* An error answer to req: {"error": message} under /api/, else text. */
void front_http_error(struct conn *, const struct http_request *, int status,
    const char *message, const char *extra);
/*
 * Hands the connection over as an fd, or -1 if bytes are pending: a dup
 * of its socket, or under TLS one end of a socketpair whose other end c
 * keeps. c is neither read nor written from now on; front_http_handed()
 * lets it go, an answer (front_http_respond) takes it back.
 */
int front_http_handoff(struct conn *);
/* The handed fd went on: c closes without a word, or under TLS relays. */
void front_http_handed(struct conn *);
/* front_http_handoff() and front_http_handed() at once. */
int front_http_detach(struct conn *);
/* Closes c at once, without a word. */
void front_http_close(struct conn *, const char *reason);
/* The client for log lines: "ADDR:PORT", or "CLIENT via ADDR:PORT". */
const char *front_http_peer(const struct conn *);
/* The current request's client address (forwarded by a trusted proxy). */
const char *front_http_client(const struct conn *);
/* Whether the current request came over https (here or at the proxy). */
int front_http_https(const struct conn *);
/* Whether a browser's request comes from our own pages (or no browser). */
int front_http_origin_ok(struct conn *, const struct http_request *);
/* The same, or -1 when c was answered 403 (with the extra headers). */
int front_http_same_origin(
    struct conn *, const struct http_request *, const char *extra);
/*
 * Parameter name of req's query, decoded: 1 with *value set (free it),
 * 0 when absent, -1 when it is longer than max bytes or holds a NUL.
 */
int front_http_query(
    const struct http_request *, const char *name, size_t max, char **value);

/* front_static.c */
/* Opens the directory of the pages; -1 when it cannot be. */
int front_static_init(const char *web_dir);
void front_static_free(void);
struct route_call;
/* GET /healthz. */
void front_static_healthz(
    struct conn *, const struct http_request *, const struct route_call *);
/* /play/ID, /sessions and /wall: play.html, sessions.html, wall.html. */
void front_static_page(
    struct conn *, const struct http_request *, const struct route_call *);
/* A file of the web directory, any method (405 unless GET or HEAD). */
void front_static_file(
    struct conn *, const struct http_request *, const struct route_call *);

/* front_lessons.c */
/* Opens lessons_dir (after privileges dropped); none: no lessons. */
void front_lessons_init(const struct config *);
void front_lessons_free(void);
/* GET /api/environments. */
void front_environments_list(
    struct conn *, const struct http_request *, const struct route_call *);
/* GET /api/lessons and GET /api/lessons/NAME. */
void front_lessons_list(
    struct conn *, const struct http_request *, const struct route_call *);
void front_lessons_get(
    struct conn *, const struct http_request *, const struct route_call *);
/* POST /api/sessions/ID/check {"step": N}. */
void front_lessons_check(
    struct conn *, const struct http_request *, const struct route_call *);

/* front_json.c */
struct yajl_gen_t;
void front_json_str(struct yajl_gen_t *, const char *);
/* "k": v, or "k": null when v is NULL. */
void front_json_key_str(struct yajl_gen_t *, const char *k, const char *v);
void front_json_key_int(struct yajl_gen_t *, const char *k, long long v);
/* "k": v, a number given as its decimal text (a database's). */
void front_json_key_num(struct yajl_gen_t *, const char *k, const char *v);
/* Answers with the JSON g; extra: more headers. */
void front_json_send(
    struct conn *, int status, struct yajl_gen_t *, const char *extra);
/* An object to fill with front_json_key_*, then end with the next. */
struct yajl_gen_t *front_json_object(void);
/* Closes object g, answers with it (as front_json_send) and frees it. */
void front_json_object_send(
    struct conn *, int status, struct yajl_gen_t *g, const char *extra);
/* Answers {"error": message}. */
void front_json_error(
    struct conn *, int status, const char *message, const char *extra);

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
/* Whether this server has accounts (auth = password). */
int front_auth_accounts(void);
/*
 * Who the caller of req is: 1 with *id set (NULL: auth = none and no
 * cookie; one is made when create is set, its Set-Cookie header in
 * *setcookie, to free); 0 when c was answered (401, 503) or held while
 * its token is looked up, to be dispatched again.
 */
/*
 * A route on /api/sessions/ID...: the id is a uuid and the call has a
 * caller; 0, or -1 when c was answered (404, 403).
 */
int front_auth_session(struct conn *, const struct route_call *);
/* front_auth_session() for a change, asked by one of our own pages. */
int front_auth_change(
    struct conn *, const struct http_request *, const struct route_call *);
int front_auth_who(struct conn *, const struct http_request *, int create,
    const struct ident **id, char **setcookie);
/* Whether id may see the sessions of owner. */
int front_auth_may_see(const struct ident *, const char *owner);
/* A copy of an identity that outlives the cache (free its sees). */
void front_auth_copy(struct ident *to, const struct ident *from);
int front_auth_role(const char *);
const char *front_auth_role_name(int);
/* POST /api/login, POST /api/logout, GET /api/me. */
void front_auth_login(
    struct conn *, const struct http_request *, const struct route_call *);
void front_auth_logout(
    struct conn *, const struct http_request *, const struct route_call *);
void front_auth_me(
    struct conn *, const struct http_request *, const struct route_call *);
/* MSG_SIGNOUT: forgets the cached tokens of a user (or of everyone). */
void front_auth_signout(struct msg *);
/* A row in alia.audit (session and detail may be NULL). */
void front_auth_audit(const char *actor, const char *action,
    const char *session, const char *detail);

/* front_master.c */
struct msg_session_info;
struct msg_metrics;
/*
 * A request parked until master answers it. info runs for each answer
 * (a list has several; the last has more unset), metrics for MSG_METRICS;
 * c is the parked connection, or NULL when it went away. After the last
 * answer the ask is freed, with arg_free(arg).
 */
struct front_ask {
	RB_ENTRY(front_ask) by_req;
	TAILQ_ENTRY(front_ask) by_age;
	uint64_t req;
	time_t since;
	struct ident who; /* the caller (a copy) */
	char *setcookie;  /* extra headers for the answer, or NULL */
	void (*info)(
	    struct front_ask *, struct conn *, struct msg_session_info *);
	void (*metrics)(struct conn *, const struct msg_metrics *);
	void (*check)(struct front_ask *, struct conn *,
	    const struct msg_check *, const char *output);
	void *arg;
	void (*arg_free)(void *);
};
void front_master_init(struct msgchan *master);
/* Parks c for master's answer; who and setcookie (copied) may be NULL. */
struct front_ask *front_master_park(
    struct conn *, const struct ident *who, const char *setcookie);
/* Asks master; flags REQ_ANY_OWNER: front checks the answer instead. */
void front_master_ask(uint32_t type, struct front_ask *, uint32_t flags,
    const char *session, int cols, int rows);
/* A request of p's caller about session (NULL: none), to fill further. */
void front_master_req(struct msg_session_req *, const struct front_ask *p,
    uint32_t flags, const char *session);
/* Sends a request filled by front_master_req (MSG_SESSION_*). */
void front_master_send(uint32_t type, const struct msg_session_req *);
/* Asks master for its counters (MSG_METRICS_GET). */
void front_master_metrics(struct front_ask *);
/*
 * Hands a checked websocket (fd, taken) to master for the session, for
 * p's caller (sees: an instructor's members, or NULL); master answers p
 * (status 200: the worker has it). -1: not sent (sees too long).
 */
int front_master_attach(
    struct front_ask *p, int fd, struct msg_attach *, const char *sees);
/* Hands a checked wall websocket (fd, taken) to master. */
void front_master_wall(int fd, const struct msg_wall *);
/* Every browser of session attached as viewer leaves (master, worker). */
void front_master_kick(const char *session, const char *viewer);
/* An answer from master to a parked request. */
void front_master_msg(struct msg *);

/* front_ws.c */
/*
 * The checks every websocket upgrade passes: its shape and version, its
 * key (returned), no body, and our own origin. NULL: c was answered.
 */
const char *front_ws_upgrade(struct conn *, const struct http_request *);
/* The ?mode= of a terminal websocket: 0 with *mode; -1: c was answered. */
int front_ws_mode(struct conn *, const struct http_request *, int *mode);
/* GET /ws/sessions/ID: the caller's own terminal, or one they may watch. */
void front_ws_session(
    struct conn *, const struct http_request *, const struct route_call *);
/*
 * A checked share link's websocket: watch id as viewer (c is parked) for
 * the until_s seconds the link has left.
 */
void front_ws_shared(struct conn *, const char *key, const char *id,
    const char *viewer, uint32_t until_s);

/* front_sessions.c */
/* GET and POST /api/sessions, GET and DELETE /api/sessions/ID. */
void front_sessions_list(
    struct conn *, const struct http_request *, const struct route_call *);
void front_sessions_create(
    struct conn *, const struct http_request *, const struct route_call *);
void front_sessions_get(
    struct conn *, const struct http_request *, const struct route_call *);
void front_sessions_delete(
    struct conn *, const struct http_request *, const struct route_call *);

/* front_share.c */
/* /api/sessions/ID/shares[/NAME]: list, make, revoke share links. */
void front_share_list(
    struct conn *, const struct http_request *, const struct route_call *);
void front_share_make(
    struct conn *, const struct http_request *, const struct route_call *);
void front_share_revoke(
    struct conn *, const struct http_request *, const struct route_call *);
/* GET /api/shares/TOKEN: the session a link shows, for anyone. */
void front_share_get(
    struct conn *, const struct http_request *, const struct route_call *);
/* GET /ws/sessions/ID?mode=watch&share=TOKEN: watching through a link. */
void front_share_ws(
    struct conn *, const struct http_request *, const struct route_call *);

/* front_wall.c */
/* GET /ws/wall?ids=ID,ID,...: an instructor's wall of terminals. */
void front_wall_open(
    struct conn *, const struct http_request *, const struct route_call *);

/* front_recordings.c */
/* GET /api/sessions/ID/recording: the asciicast. */
void front_recordings_cast(
    struct conn *, const struct http_request *, const struct route_call *);
/* GET /api/recordings[?q=TEXT]: the caller's visible recordings. */
void front_recordings_list(
    struct conn *, const struct http_request *, const struct route_call *);

/* front_metrics.c */
/* GET /metrics: master's counters as Prometheus text. */
void front_metrics_get(
    struct conn *, const struct http_request *, const struct route_call *);

/* front_route.c */
#define ROUTE_ARGS    2   /* '*' segments a pattern may have */
#define ROUTE_ARG_MAX 128 /* bytes a '*' segment may have */
/* What the router found out about a request for its handler. */
struct route_call {
	/* the caller; NULL: anyone's route, or auth = none and no cookie */
	const struct ident *who;
	const char *setcookie; /* a new cookie identity's header, or NULL */
	const char *key;       /* websocket routes: the Sec-WebSocket-Key */
	char arg[ROUTE_ARGS][ROUTE_ARG_MAX]; /* the '*' segments, in order */
};
/*
 * Routes a request through the one route table: 501, 404, 405 with the
 * Allow list of the path's routes, the caller's identity and role, then
 * the route's handler.
 */
void front_route_request(struct conn *, const struct http_request *);

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
/* front's read-only connection to alia's database (common/pgc.c). */
void front_db_init(struct event_base *, const struct config *);
void front_db_free(void);
struct pgc;
/* The connection itself, for common/audit.c. */
struct pgc *front_db_pgc(void);
/* Queues a read-only query with text parameters (copied). */
void front_db_query(const char *sql, int nparams, const char *const *params,
    front_db_cb, void *arg);
/*
 * The connection parked as req (front_http_park) when its query ends with
 * ev: NULL when it went away, or when the query failed (answered 503).
 */
struct conn *front_db_parked(
    uint64_t req, enum front_db_event ev, const char *err);

#endif
