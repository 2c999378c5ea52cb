/* SPDX-License-Identifier: ISC */
/*
 * Share links: a session's owner makes a link that lets whoever holds it
 * watch the session, read-only, without signing in, until it expires or
 * is revoked. The link carries a token (common/token.c); alia.shares
 * holds its SHA-256, the session and the times. A share is named by the
 * first 8 bytes of its hash in hex, which is also how its viewers appear
 * ("link-NAME") in the session's list of viewers and in its markers.
 *
 *   POST   /api/sessions/ID/shares {"minutes": N}   the owner makes one
 *   GET    /api/sessions/ID/shares                  the owner's, listed
 *   DELETE /api/sessions/ID/shares/NAME             revoked
 *   GET    /api/shares/TOKEN                        which session (anyone)
 *   GET    /ws/sessions/ID?mode=watch&share=TOKEN   watching (anyone)
 *
 * A revoked or expired link admits nobody new. Revoking one also sends
 * off its viewers (master tells the worker: MSG_SESSION_KICK); when one
 * expires, its viewers' workers send them off, having been told how long
 * the link had left when each viewer came (msg_attach.until_s).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <bsd/stdlib.h>
#include <bsd/string.h>
#include <libpq-fe.h>
#include <yajl/yajl_gen.h>
#include <yajl/yajl_tree.h>

#include "common/config.h"
#include "common/http.h"
#include "common/json.h"
#include "common/log.h"
#include "common/token.h"
#include "common/xmalloc.h"
#include "front/front.h"

#define SHARE_MINUTES     60            /* a link's life unless asked */
#define SHARE_MINUTES_MAX (7 * 24 * 60) /* a week */
#define SHARE_BAD         "this share link is not valid (expired or revoked)"
#define SHARE_NAME_BYTES  8 /* of the token's hash, naming the share */
#define SHARE_NAME_LEN    (2 * SHARE_NAME_BYTES) /* in hex */
#define SHARE_ERR_LEN     96

struct share_q;

/*
 * A query's two halves: row takes each row (or is NULL), done answers c
 * once they have all come, and says 1 when q went on to another query.
 */
struct share_step {
	void (*row)(struct share_q *, const struct pg_result *);
	int (*done)(struct share_q *, struct conn *);
};

/* A request waiting for the database. */
struct share_q {
	const struct share_step *step; /* of its current query */
	uint64_t req;
	char session[SESSION_ID_LEN];
	char key[sizeof(((struct msg_attach *)0)->key)];
	char user[OWNER_LEN];
	char name[SHARE_NAME_LEN + 1];
	char token[TOKEN_HEX + 1];
	char bytea[2 * TOKEN_BYTES + 3];
	char minutes[16];
	uint32_t until_s; /* websocket: seconds the link has left */
	int rows;
	int allowed;
	yajl_gen list;
};

/* A request for session (a checked uuid, or NULL) parks c. */
static struct share_q *
share_q_new(struct conn *c, const char *session)
{
	struct share_q *q = xcalloc(1, sizeof(*q));

	if (session != NULL &&
	    strlcpy(q->session, session, sizeof(q->session)) >=
	        sizeof(q->session))
		fatalx("%s: %s is not a checked session id", __func__, session);
	q->req = front_http_park(c);
	return q;
}

static void
share_q_free(struct share_q *q)
{
	if (q->list != NULL)
		yajl_gen_free(q->list);
	explicit_bzero(q->token, sizeof(q->token));
	free(q);
}

/*
 * Every query's callback: q's step takes the rows, then answers its
 * connection if it is still there; q ends here unless the step went on.
 */
static void
share_cb(enum front_db_event ev, const struct pg_result *res, const char *err,
    void *arg)
{
	struct share_q *q = arg;
	struct conn *c;

	if (ev == FRONT_DB_ROW) {
		if (q->step->row != NULL)
			q->step->row(q, res);
		return;
	}
	if ((c = front_db_parked(q->req, ev, err)) != NULL &&
	    q->step->done(q, c))
		return;
	share_q_free(q);
}

/* Runs sql with n params for q; step sees what comes back. */
static void
share_query(struct share_q *q, const struct share_step *step, const char *sql,
    int n, const char *const *params)
{
	q->step = step;
	front_db_query(sql, n, params, share_cb, q);
}

/* A row that is only counted. */
static void
share_count(struct share_q *q, const struct pg_result *res)
{
	q->rows++;
}

/* The share's name: the first bytes of the hash of token, in hex. */
static int
share_name(const char *token, size_t len, char *bytea, char *name)
{
	unsigned char hash[TOKEN_BYTES];
	size_t i;

	if (token_hash(token, len, hash) == -1)
		return -1;
	token_bytea(hash, bytea);
	for (i = 0; i < SHARE_NAME_BYTES; i++)
		snprintf(name + 2 * i, 3, "%02x", hash[i]);
	return 0;
}

static void
share_ws_row(struct share_q *q, const struct pg_result *res)
{
	const char *bad;

	q->allowed = strcmp(PQgetvalue(res, 0, 0), q->session) == 0;
	q->until_s =
	    (uint32_t)strtonum(PQgetvalue(res, 0, 2), 0, UINT32_MAX, &bad);
	if (q->until_s == 0)
		q->until_s = 1; /* less than a second left */
}

static int
share_ws_done(struct share_q *q, struct conn *c)
{
	char viewer[OWNER_LEN];

	if (!q->allowed)
		front_json_error(c, 403, SHARE_BAD, NULL);
	else {
		snprintf(viewer, sizeof(viewer), "link-%s", q->name);
		front_ws_shared(c, q->key, q->session, viewer, q->until_s);
	}
	return 0;
}

static const struct share_step share_ws_step = {share_ws_row, share_ws_done};

/*
 * Looks the link's token up for session (NULL: any), with key (NULL: no
 * websocket); step has its session and the whole seconds it has left, down
 * and up. A token that cannot be a link is answered bad at once.
 */
static void
share_lookup(struct conn *c, const char *token, const char *session,
    const char *key, int bad, const struct share_step *step)
{
	const char *params[1];
	struct share_q *q;
	char bytea[2 * TOKEN_BYTES + 3], name[SHARE_NAME_LEN + 1];

	if (share_name(token, strlen(token), bytea, name) == -1) {
		front_json_error(c, bad, SHARE_BAD, NULL);
		return;
	}
	q = share_q_new(c, session);
	/* the key was checked by front_ws_upgrade: 24 characters */
	if (key != NULL)
		snprintf(q->key, sizeof(q->key), "%s", key);
	memcpy(q->name, name, sizeof(q->name));
	memcpy(q->bytea, bytea, sizeof(q->bytea));
	params[0] = q->bytea;
	share_query(q, step,
	    "SELECT session_id::text, floor(extract(epoch FROM "
	    "expires_at - now()))::bigint, ceil(extract(epoch FROM "
	    "expires_at - now()))::bigint FROM alia.shares WHERE "
	    "hash = $1::bytea AND revoked_at IS NULL AND "
	    "expires_at > now()",
	    1, params);
}

void
front_share_ws(struct conn *c, const struct http_request *req,
    const struct route_call *call)
{
	char *token = NULL;
	int mode;

	if (front_ws_mode(c, req, &mode) == -1)
		return;
	if (!token_uuid_valid(call->arg[0])) {
		front_json_error(c, 404, "no such session", NULL);
		return;
	}
	/* a share link: watching only, whoever holds it */
	if (mode != ATTACH_WATCH) {
		front_json_error(
		    c, 403, "a share link is for watching: mode=watch", NULL);
		return;
	}
	if (front_http_query(req, "share", TOKEN_HEX, &token) != 1) {
		front_json_error(c, 403, SHARE_BAD, NULL);
		return;
	}
	/* its viewer watches, or 403 */
	share_lookup(c, token, call->arg[0], call->key, 403, &share_ws_step);
	free(token);
}

static void
share_get_row(struct share_q *q, const struct pg_result *res)
{
	q->rows++;
	snprintf(q->session, sizeof(q->session), "%s", PQgetvalue(res, 0, 0));
	snprintf(q->minutes, sizeof(q->minutes), "%s", PQgetvalue(res, 0, 1));
}

static int
share_get_done(struct share_q *q, struct conn *c)
{
	yajl_gen g;

	if (q->rows == 0)
		front_json_error(c, 404, SHARE_BAD, NULL);
	else {
		g = front_json_object();
		front_json_key_str(g, "session", q->session);
		front_json_key_num(g, "expires_in_s", q->minutes);
		front_json_object_send(c, 200, g, NULL);
	}
	return 0;
}

static const struct share_step share_get_step = {share_get_row, share_get_done};

void
front_share_get(struct conn *c, const struct http_request *req,
    const struct route_call *call)
{
	share_lookup(c, call->arg[0], NULL, NULL, 404, &share_get_step);
}

static int
share_made_done(struct share_q *q, struct conn *c)
{
	char url[TOKEN_HEX + 16];
	yajl_gen g;

	front_auth_audit(q->user, "share", q->session, q->name);
	snprintf(url, sizeof(url), "/#/share/%s", q->token);
	g = front_json_object();
	front_json_key_str(g, "name", q->name);
	front_json_key_str(g, "token", q->token);
	front_json_key_str(g, "url", url);
	front_json_key_num(g, "minutes", q->minutes);
	front_json_object_send(c, 201, g, NULL);
	return 0;
}

static const struct share_step share_made_step = {NULL, share_made_done};

static void
share_owner_row(struct share_q *q, const struct pg_result *res)
{
	q->rows++;
	q->allowed = strcmp(PQgetvalue(res, 0, 0), q->user) == 0 &&
	    strcmp(PQgetvalue(res, 0, 1), "ended") != 0;
}

/* The session's owner is known: the caller makes the link, or not. */
static int
share_owner_done(struct share_q *q, struct conn *c)
{
	const char *params[4];

	if (!q->allowed) {
		front_json_error(c, q->rows == 0 ? 404 : 403,
		    q->rows == 0 ? "no such session"
		                 : "only the owner of a live session shares it",
		    NULL);
		return 0;
	}
	if (token_new(q->token) == -1)
		fatalx("%s: no random bytes", __func__);
	(void)share_name(q->token, TOKEN_HEX, q->bytea, q->name);
	params[0] = q->bytea;
	params[1] = q->session;
	params[2] = q->user;
	params[3] = q->minutes;
	share_query(q, &share_made_step,
	    "INSERT INTO alia.shares (hash, session_id, created_by, "
	    "expires_at) VALUES ($1::bytea, $2::uuid, $3, now() + "
	    "make_interval(mins => $4::int))",
	    4, params);
	return 1;
}

static const struct share_step share_owner_step = {
    share_owner_row, share_owner_done};

static void
share_list_row(struct share_q *q, const struct pg_result *res)
{
	static const char *keys[] = {
	    "name", "created_at", "expires_at", "revoked_at"};
	int i;

	yajl_gen_map_open(q->list);
	for (i = 0; i < 4; i++)
		front_json_key_str(q->list, keys[i],
		    PQgetisnull(res, 0, i) ? NULL : PQgetvalue(res, 0, i));
	yajl_gen_map_close(q->list);
}

static int
share_list_done(struct share_q *q, struct conn *c)
{
	yajl_gen_array_close(q->list);
	front_json_send(c, 200, q->list, NULL);
	return 0;
}

static const struct share_step share_list_step = {
    share_list_row, share_list_done};

static int
share_revoke_done(struct share_q *q, struct conn *c)
{
	char viewer[OWNER_LEN];

	if (q->rows == 0)
		front_json_error(c, 404, "no such share link", NULL);
	else {
		front_auth_audit(q->user, "share revoked", q->session, q->name);
		snprintf(viewer, sizeof(viewer), "link-%s", q->name);
		front_master_kick(q->session, viewer);
		front_http_respond(c, 204, "application/json", "", 0, NULL);
	}
	return 0;
}

static const struct share_step share_revoke_step = {
    share_count, share_revoke_done};

/* The minutes a new link lasts, from {"minutes": N}; -1 when bad. */
static int
share_minutes(const struct http_request *req)
{
	const char *path[] = {"minutes", NULL};
	yajl_val tree, v;
	char err[64];
	long long n = SHARE_MINUTES;

	if (req->bodylen == 0)
		return (int)n;
	if ((tree = json_parse(req->body, err, sizeof(err))) == NULL)
		return -1;
	if ((v = yajl_tree_get(tree, path, yajl_t_any)) != NULL)
		n = YAJL_IS_INTEGER(v) ? YAJL_GET_INTEGER(v) : -1;
	yajl_tree_free(tree);
	return n >= 1 && n <= SHARE_MINUTES_MAX ? (int)n : -1;
}

void
front_share_make(struct conn *c, const struct http_request *req,
    const struct route_call *call)
{
	const char *params[1];
	struct share_q *q;
	char err[SHARE_ERR_LEN];
	int minutes;

	if (front_auth_change(c, req, call) == -1)
		return;
	if ((minutes = share_minutes(req)) == -1) {
		snprintf(err, sizeof(err),
		    "the body must be {\"minutes\": N}, N from 1 to %d",
		    SHARE_MINUTES_MAX);
		front_json_error(c, 400, err, NULL);
		return;
	}
	q = share_q_new(c, call->arg[0]);
	snprintf(q->user, sizeof(q->user), "%s", call->who->name);
	snprintf(q->minutes, sizeof(q->minutes), "%d", minutes);
	params[0] = q->session;
	share_query(q, &share_owner_step,
	    "SELECT owner, state FROM alia.sessions WHERE id = $1::uuid", 1,
	    params);
}

void
front_share_list(struct conn *c, const struct http_request *req,
    const struct route_call *call)
{
	const char *params[2];
	struct share_q *q;

	if (front_auth_session(c, call) == -1)
		return;
	q = share_q_new(c, call->arg[0]);
	q->list = yajl_gen_alloc(NULL);
	yajl_gen_array_open(q->list);
	params[0] = q->session;
	params[1] = call->who->name;
	share_query(q, &share_list_step,
	    "SELECT encode(substr(hash, 1, 8), 'hex'), created_at, "
	    "expires_at, revoked_at FROM alia.shares WHERE "
	    "session_id = $1::uuid AND created_by = $2 ORDER BY created_at",
	    2, params);
}

void
front_share_revoke(struct conn *c, const struct http_request *req,
    const struct route_call *call)
{
	const char *params[3], *name = call->arg[1];
	struct share_q *q;

	if (front_auth_change(c, req, call) == -1)
		return;
	if (strlen(name) != SHARE_NAME_LEN ||
	    strspn(name, "0123456789abcdef") != SHARE_NAME_LEN) {
		front_json_error(c, 404, "no such share link", NULL);
		return;
	}
	q = share_q_new(c, call->arg[0]);
	snprintf(q->user, sizeof(q->user), "%s", call->who->name);
	memcpy(q->name, name, sizeof(q->name));
	params[0] = q->session;
	params[1] = call->who->name;
	params[2] = q->name;
	share_query(q, &share_revoke_step,
	    "UPDATE alia.shares SET revoked_at = now() "
	    "WHERE session_id = $1::uuid AND created_by = $2 "
	    "AND substr(hash, 1, 8) = decode($3, 'hex') "
	    "AND revoked_at IS NULL RETURNING 1",
	    3, params);
}
