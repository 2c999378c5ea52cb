/* SPDX-License-Identifier: ISC */
/*
 * front: the HTTP and websocket face of alia. It serves the pages and the
 * API, checks who calls, and hands websockets to master. Each file has its
 * own section.
 */
#ifndef ALIA_FRONT_H
#define ALIA_FRONT_H

#include <sys/types.h>
#include <stddef.h>
#include <stdint.h>

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

#endif
