/* SPDX-License-Identifier: ISC */
/*
 * front's JSON API, websocket upgrades and /metrics. Everything about a
 * session is master's to say, so most requests are parked (front_http.c)
 * and answered when master's reply arrives; a pending entry remembers
 * what the reply is for. A websocket upgrade is checked here — request
 * shape, the caller's right to the session, no bytes sent ahead of the
 * handshake — and then the socket itself goes to master, which hands it
 * to the session's worker; the worker writes the 101.
 *
 * Identity. With auth = none, a browser gets a random 128-bit value in
 * an HttpOnly cookie; its owner name is a hash of that value, so neither
 * the database nor the logs ever hold the secret itself. With auth =
 * password, front_auth.c says who signed in, and with which role.
 *
 * Authorization. A learner (or a cookie identity) sees and runs only
 * their own sessions. An instructor also sees, lists and watches the
 * sessions of their groups' members; an admin those of everyone, and may
 * end them. Taking control of someone else's terminal is not granted
 * here. master checks ownership itself unless front sets REQ_ANY_OWNER,
 * which it does only for a caller whose role reaches further; the answer
 * is then checked against the caller before anything of it is sent.
 */
#include <sys/queue.h>
#include <sys/random.h>
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <libpq-fe.h>
#include <openssl/evp.h>
#include <yajl/yajl_gen.h>
#include <yajl/yajl_tree.h>

#include "common/config.h"
#include "common/http.h"
#include "common/json.h"
#include "common/log.h"
#include "common/msg.h"
#include "common/token.h"
#include "common/xmalloc.h"
#include "front/front.h"

#define COOKIE_NAME "alia_id"
#define COOKIE_HEX  32
#define JSON_TYPE   "application/json"
#define PENDING_TTL 60

enum api_kind {
	API_CREATE,
	API_LIST,
	API_GET,
	API_DELETE,
	API_WS,
	API_METRICS,
	API_WALL,
};

struct pending {
	TAILQ_ENTRY(pending) entry;
	uint64_t req;
	enum api_kind kind;
	time_t since;
	char *setcookie; /* extra headers for the answer, or NULL */
	yajl_gen list;   /* API_LIST: the array being built */
	struct msg_attach attach;
	struct ident who;      /* the caller */
	struct msg_wall *wall; /* API_WALL: the sessions asked for */
	int shared;            /* API_WS: through a share link, checked */
	uint32_t shown; /* API_WALL: those live and visible, a bit each */
};
TAILQ_HEAD(pending_list, pending);

static struct {
	struct msgchan *master;
	const struct config *conf;
	struct pending_list pending;
} fa;

void
front_api_init(struct msgchan *master, const struct config *conf)
{
	fa.master = master;
	fa.conf = conf;
	TAILQ_INIT(&fa.pending);
}

static void
pending_free(struct pending *p)
{
	TAILQ_REMOVE(&fa.pending, p, entry);
	if (p->list != NULL)
		yajl_gen_free(p->list);
	free(p->setcookie);
	free(p->who.sees);
	free(p->wall);
	free(p);
}

static struct pending *
pending_find(uint64_t req)
{
	struct pending *p;

	TAILQ_FOREACH (p, &fa.pending, entry)
		if (p->req == req)
			return p;
	return NULL;
}

/* Forgets answers that never came (master restarted, say). */
static void
pending_expire(void)
{
	struct pending *p, *next;
	time_t now = time(NULL);

	for (p = TAILQ_FIRST(&fa.pending); p != NULL; p = next) {
		next = TAILQ_NEXT(p, entry);
		if (now - p->since > PENDING_TTL)
			pending_free(p);
	}
}

static void
gen_str(yajl_gen g, const char *s)
{
	yajl_gen_string(g, (const unsigned char *)s, strlen(s));
}

static void
gen_key_str(yajl_gen g, const char *k, const char *v)
{
	gen_str(g, k);
	if (v == NULL)
		yajl_gen_null(g);
	else
		gen_str(g, v);
}

static void
gen_key_int(yajl_gen g, const char *k, long long v)
{
	gen_str(g, k);
	yajl_gen_integer(g, v);
}

/* Sends the generator's document as the answer. */
void
front_api_json(struct conn *c, int status, yajl_gen g, const char *extra)
{
	const unsigned char *buf;
	size_t len;
	char *hdr;

	yajl_gen_get_buf(g, &buf, &len);
	xasprintf(
	    &hdr, "Cache-Control: no-store\r\n%s", extra != NULL ? extra : "");
	front_http_respond(c, status, JSON_TYPE, buf, len, hdr);
	free(hdr);
}

void
front_api_error(
    struct conn *c, int status, const char *message, const char *extra)
{
	yajl_gen g = yajl_gen_alloc(NULL);

	yajl_gen_map_open(g);
	gen_key_str(g, "error", message);
	yajl_gen_map_close(g);
	front_api_json(c, status, g, extra);
	yajl_gen_free(g);
}

static void
fmt_time(char *buf, size_t len, int64_t us)
{
	struct tm tm;
	time_t t = (time_t)(us / 1000000);

	gmtime_r(&t, &tm);
	if (snprintf(buf, len, "%04d-%02d-%02dT%02d:%02d:%02d.%06lldZ",
	        tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
	        tm.tm_min, tm.tm_sec, (long long)(us % 1000000)) >= (int)len)
		buf[0] = '\0';
}

static void
gen_session(yajl_gen g, const struct msg_session_info *i)
{
	char t[40], ws[80];

	yajl_gen_map_open(g);
	gen_key_str(g, "id", i->session);
	gen_key_str(g, "owner", i->owner);
	gen_key_str(g, "state", i->state);
	gen_key_str(g, "image", i->image);
	fmt_time(t, sizeof(t), i->created_us);
	gen_key_str(g, "created_at", t);
	fmt_time(t, sizeof(t), i->started_us);
	gen_key_str(g, "started_at", i->started_us != 0 ? t : NULL);
	fmt_time(t, sizeof(t), i->ended_us);
	gen_key_str(g, "ended_at", i->ended_us != 0 ? t : NULL);
	gen_str(g, "exit_code");
	if (i->exit_code >= 0 && strcmp(i->state, "ended") == 0)
		yajl_gen_integer(g, i->exit_code);
	else
		yajl_gen_null(g);
	gen_key_str(g, "end_reason", i->end_reason[0] ? i->end_reason : NULL);
	gen_key_int(g, "cols", i->cols);
	gen_key_int(g, "rows", i->rows);
	gen_key_int(g, "viewers", i->viewers);
	snprintf(ws, sizeof(ws), "/ws/sessions/%s", i->session);
	gen_key_str(g, "ws", ws);
	yajl_gen_map_close(g);
}

/* Whether the cookie value is ours in form: COOKIE_HEX lowercase hex. */
static int
cookie_valid(const char *v, size_t n)
{
	size_t i;

	if (n != COOKIE_HEX)
		return 0;
	for (i = 0; i < n; i++)
		if (!isxdigit((unsigned char)v[i]) ||
		    isupper((unsigned char)v[i]))
			return 0;
	return 1;
}

/* Finds our cookie's value in a Cookie header; its length in *n. */
static const char *
cookie_find(const char *hdr, size_t *n)
{
	const char *p = hdr;
	size_t klen = strlen(COOKIE_NAME);

	while (p != NULL && *p != '\0') {
		p += strspn(p, " \t;");
		if (strncmp(p, COOKIE_NAME, klen) == 0 && p[klen] == '=') {
			p += klen + 1;
			*n = strcspn(p, "; \t");
			return p;
		}
		p = strchr(p, ';');
	}
	return NULL;
}

/*
 * The caller's owner name. Without a valid cookie, a new identity is made
 * when create is set (its Set-Cookie header in *setcookie), else NULL.
 */
static int
api_identity(
    const struct http_request *req, int create, char *owner, char **setcookie)
{
	unsigned char raw[COOKIE_HEX / 2], md[EVP_MAX_MD_SIZE];
	char value[COOKIE_HEX + 1];
	const char *hdr, *v = NULL;
	unsigned int mdlen, i;
	size_t n = 0;

	*setcookie = NULL;
	if ((hdr = http_header_get(req, "Cookie")) != NULL)
		v = cookie_find(hdr, &n);
	if (v != NULL && cookie_valid(v, n))
		memcpy(value, v, COOKIE_HEX);
	else if (!create)
		return -1;
	else {
		if (getrandom(raw, sizeof(raw), 0) != sizeof(raw))
			fatal("%s: getrandom", __func__);
		for (i = 0; i < sizeof(raw); i++)
			snprintf(value + 2 * i, 3, "%02x", raw[i]);
		xasprintf(setcookie,
		    "Set-Cookie: " COOKIE_NAME "=%.*s; Path=/; HttpOnly; "
		    "SameSite=Strict; Max-Age=31536000\r\n",
		    COOKIE_HEX, value);
	}
	value[COOKIE_HEX] = '\0';
	if (!EVP_Digest(value, COOKIE_HEX, md, &mdlen, EVP_sha256(), NULL))
		fatalx("%s: sha256", __func__);
	memcpy(owner, "anon-", 5);
	for (i = 0; i < 12; i++)
		snprintf(owner + 5 + 2 * i, 3, "%02x", md[i]);
	return 0;
}
/*
 * Who the caller is: 1 with *id set (NULL: auth = none and no cookie,
 * made only when create is set, its header in *setcookie); 0 when c was
 * answered or held for a token lookup (it comes back then).
 */
static int
api_who(struct conn *c, const struct http_request *req, int create,
    const struct ident **id, char **setcookie)
{
	static struct ident anon;

	*setcookie = NULL;
	*id = NULL;
	if (fa.conf->auth == CONFIG_AUTH_PASSWORD)
		return front_auth_ident(c, req, id) == 1;
	if (api_identity(req, create, anon.name, setcookie) == 0) {
		anon.role = ROLE_ANON;
		*id = &anon;
	}
	return 1;
}

static char *query_param(const char *query, const char *name);

static struct pending *
api_park(struct conn *c, enum api_kind kind, char *setcookie,
    const struct ident *who)
{
	struct pending *p;

	pending_expire();
	p = xcalloc(1, sizeof(*p));
	p->req = front_http_park(c);
	p->kind = kind;
	p->since = time(NULL);
	p->setcookie = setcookie;
	if (who != NULL)
		front_auth_copy(&p->who, who);
	TAILQ_INSERT_TAIL(&fa.pending, p, entry);
	return p;
}

/*
 * Asks master with sender (msg_send_session_get, ...); flags
 * REQ_ANY_OWNER: front checks the answer instead.
 */
static void
api_ask(int (*sender)(struct msgchan *, const struct uuid *,
            const struct msg_session_req *),
    struct pending *p, uint32_t flags, const char *session, int cols, int rows)
{
	struct msg_session_req r;

	memset(&r, 0, sizeof(r));
	r.req = p->req;
	r.flags = flags;
	r.role = p->who.role == ROLE_LEARNER ? CONFIG_ROLE_LEARNER
	    : p->who.role == ROLE_INSTRUCTOR ? CONFIG_ROLE_INSTRUCTOR
	    : p->who.role == ROLE_ADMIN      ? CONFIG_ROLE_ADMIN
	                                     : -1;
	snprintf(r.owner, sizeof(r.owner), "%s", p->who.name);
	if (session != NULL)
		snprintf(r.session, sizeof(r.session), "%s", session);
	r.cols = (uint16_t)cols;
	r.rows = (uint16_t)rows;
	sender(fa.master, NULL, &r);
}

/* Reads {"cols": C, "rows": R} (both optional) from a create body. */
static int
api_create_size(const struct http_request *req, int *cols, int *rows, char *err,
    size_t errlen)
{
	const char *cp[] = {"cols", NULL}, *rp[] = {"rows", NULL};
	yajl_val tree, v;
	const char **paths[] = {cp, rp};
	int *out[] = {cols, rows};
	char why[96];
	size_t i;

	*cols = *rows = 0;
	if (req->bodylen == 0)
		return 0;
	if ((tree = json_parse(req->body, why, sizeof(why))) == NULL) {
		snprintf(
		    err, errlen, "the body is not accepted as JSON: %s", why);
		return -1;
	}
	if (!YAJL_IS_OBJECT(tree)) {
		yajl_tree_free(tree);
		snprintf(err, errlen, "the body must be a JSON object");
		return -1;
	}
	for (i = 0; i < 2; i++) {
		if ((v = yajl_tree_get(tree, paths[i], yajl_t_any)) == NULL)
			continue;
		if (!YAJL_IS_INTEGER(v) || YAJL_GET_INTEGER(v) < 1 ||
		    YAJL_GET_INTEGER(v) > 1000) {
			yajl_tree_free(tree);
			snprintf(err, errlen,
			    "%s must be a whole number from 1 to 1000",
			    paths[i][0]);
			return -1;
		}
		*out[i] = (int)YAJL_GET_INTEGER(v);
	}
	yajl_tree_free(tree);
	return 0;
}

/* Whether header hdr holds token tok in its comma-separated list. */
static int
header_has_token(
    const struct http_request *req, const char *hdr, const char *tok)
{
	const char *v = http_header_get(req, hdr), *p;
	size_t n = strlen(tok), len;

	if (v == NULL)
		return 0;
	for (p = v; *p != '\0';) {
		p += strspn(p, " \t,");
		len = strcspn(p, " \t,");
		if (len == n && strncasecmp(p, tok, n) == 0)
			return 1;
		p += len;
	}
	return 0;
}

/* Whether a Sec-WebSocket-Key is base64 of 16 bytes. */
static int
ws_key_valid(const char *k)
{
	size_t i;

	if (k == NULL || strlen(k) != 24 || strcmp(k + 22, "==") != 0)
		return 0;
	for (i = 0; i < 22; i++)
		if (!isalnum((unsigned char)k[i]) && k[i] != '+' && k[i] != '/')
			return 0;
	return 1;
}

/*
 * A cross-site page must not open a terminal with our cookie: the origin
 * is our own scheme (https under TLS, http without; behind a trusted
 * proxy, the one it forwarded) and Host.
 */
int
front_api_origin_ok(struct conn *c, const struct http_request *req)
{
	const char *origin = http_header_get(req, "Origin");
	const char *host = http_header_get(req, "Host");
	const char *scheme;
	size_t n;

	if (origin == NULL)
		return 1; /* not a browser */
	if (host == NULL)
		return 0;
	scheme = front_http_https(c) ? "https://" : "http://";
	n = strlen(scheme);
	if (strncmp(origin, scheme, n) != 0)
		return 0;
	return strcasecmp(origin + n, host) == 0;
}

/*
 * The checks every websocket upgrade passes: its shape and version, its
 * key (returned), no body, and our own origin. NULL: c was answered.
 */
static const char *
api_upgrade_ok(struct conn *c, const struct http_request *req)
{
	const char *key = http_header_get(req, "Sec-WebSocket-Key");
	const char *ver = http_header_get(req, "Sec-WebSocket-Version");

	if (req->minor != 1 || !header_has_token(req, "Upgrade", "websocket") ||
	    !header_has_token(req, "Connection", "upgrade")) {
		front_api_error(c, 400,
		    "a websocket upgrade request is expected here", NULL);
		return NULL;
	}
	if (ver == NULL || strcmp(ver, "13") != 0) {
		front_api_error(c, 426, "websocket version 13 is required",
		    "Sec-WebSocket-Version: 13\r\n");
		return NULL;
	}
	if (!ws_key_valid(key)) {
		front_api_error(
		    c, 400, "Sec-WebSocket-Key is missing or malformed", NULL);
		return NULL;
	}
	if (req->bodylen > 0) {
		front_api_error(c, 400, "an upgrade request has no body", NULL);
		return NULL;
	}
	if (!front_api_origin_ok(c, req)) {
		log_warnx("%s: cross-origin websocket refused (Origin %s)",
		    front_http_peer(c), http_header_get(req, "Origin"));
		front_api_error(c, 403, "cross-origin websocket refused", NULL);
		return NULL;
	}
	return key;
}

static void
api_ws(struct conn *c, const struct http_request *req, const char *id,
    const struct ident *who)
{
	struct pending *p;
	const char *key;
	int mode = ATTACH_CONTROL;

	char *m = NULL, *share = NULL;

	if ((key = api_upgrade_ok(c, req)) == NULL)
		return;
	if (req->query != NULL) {
		m = query_param(req->query, "mode");
		share = query_param(req->query, "share");
	}
	if (m != NULL && strcmp(m, "watch") == 0)
		mode = ATTACH_WATCH;
	else if (m != NULL && strcmp(m, "control") != 0) {
		free(m);
		free(share);
		front_api_error(c, 400, "mode must be control or watch", NULL);
		return;
	}
	free(m);
	if (!token_uuid_valid(id)) {
		free(share);
		front_api_error(c, 404, "no such session", NULL);
		return;
	}
	if (share != NULL) {
		/* a share link: watching only, whoever holds it */
		if (mode != ATTACH_WATCH)
			front_api_error(c, 403,
			    "a share link is for watching: mode=watch", NULL);
		else
			front_share_ws(c, key, id, share);
		free(share);
		return;
	}
	if (who == NULL) {
		front_api_error(
		    c, 403, "no identity: create a session first", NULL);
		return;
	}
	p = api_park(c, API_WS, NULL, who);
	snprintf(p->attach.session, sizeof(p->attach.session), "%s", id);
	snprintf(p->attach.key, sizeof(p->attach.key), "%s", key);
	snprintf(p->attach.owner, sizeof(p->attach.owner), "%s", who->name);
	p->attach.mode = mode;
	/* Watching reaches as far as the caller's role; control does not. */
	if (mode == ATTACH_WATCH && who->role >= ROLE_INSTRUCTOR)
		p->attach.flags = REQ_ANY_OWNER | ATTACH_MAY_ASK;
	api_ask(msg_send_session_get, p, p->attach.flags, id, 0, 0);
}

void
front_api_kick(const char *session, const char *viewer)
{
	struct msg_session_req r;

	memset(&r, 0, sizeof(r));
	snprintf(r.session, sizeof(r.session), "%s", session);
	snprintf(r.owner, sizeof(r.owner), "%s", viewer);
	msg_send_session_kick(fa.master, NULL, &r);
}

void
front_api_ws_shared(struct conn *c, const char *key, const char *id,
    const char *viewer, uint32_t until_s)
{
	struct ident anon;
	struct pending *p;

	memset(&anon, 0, sizeof(anon));
	snprintf(anon.name, sizeof(anon.name), "%s", viewer);
	anon.role = ROLE_ANON;
	p = api_park(c, API_WS, NULL, &anon);
	p->shared = 1;
	snprintf(p->attach.session, sizeof(p->attach.session), "%s", id);
	snprintf(p->attach.key, sizeof(p->attach.key), "%s", key);
	snprintf(p->attach.owner, sizeof(p->attach.owner), "%s", viewer);
	p->attach.mode = ATTACH_WATCH;
	p->attach.flags = REQ_ANY_OWNER;
	p->attach.until_s = until_s;
	api_ask(msg_send_session_get, p, REQ_ANY_OWNER, id, 0, 0);
}

/*
 * Recordings come from the database (front_db.c), not from master: a
 * request waits, parked, for its query's rows, gathered in a struct
 * api_db until the query is done.
 */
struct api_db {
	uint64_t req;
	char id[SESSION_ID_LEN];
	char owner[OWNER_LEN];
	int search; /* recordings: rows carry a snippet */
	int rows;
	int forbidden;         /* recording: the session is someone else's */
	struct evbuffer *body; /* recording: the asciicast lines */
	yajl_gen list;         /* recordings: the array being built */
};

static void
api_db_free(struct api_db *q)
{
	if (q->body != NULL)
		evbuffer_free(q->body);
	if (q->list != NULL)
		yajl_gen_free(q->list);
	free(q);
}

/* The parked connection of q, or NULL when it went away. */
static struct conn *
api_db_conn(struct api_db *q)
{
	return front_http_parked(q->req);
}

static void
api_db_unavailable(struct api_db *q, const char *err)
{
	struct conn *c;

	if ((c = api_db_conn(q)) != NULL)
		front_api_error(c, 503, err, "Retry-After: 5\r\n");
	api_db_free(q);
}

static void
api_cast_rows(enum front_db_event ev, const struct pg_result *res,
    const char *err, void *arg)
{
	struct api_db *q = arg;
	struct conn *c;
	char *hdr;
	size_t len;

	switch (ev) {
	case FRONT_DB_ROW:
		evbuffer_add(q->body, PQgetvalue(res, 0, 0),
		    (size_t)PQgetlength(res, 0, 0));
		evbuffer_add(q->body, "\n", 1);
		return;
	case FRONT_DB_ERROR:
		api_db_unavailable(q, err);
		return;
	case FRONT_DB_DONE:
		break;
	}
	if ((c = api_db_conn(q)) != NULL) {
		len = evbuffer_get_length(q->body);
		xasprintf(&hdr,
		    "Content-Disposition: inline; filename=\"alia-%s.cast\"\r\n"
		    "Cache-Control: no-store\r\n",
		    q->id);
		front_http_respond(c, 200, "application/x-asciicast",
		    len > 0 ? evbuffer_pullup(q->body, -1) : (void *)"", len,
		    hdr);
		free(hdr);
	}
	api_db_free(q);
}

/* The session's owner decides; then its lines are read. */
static void
api_cast_owner(enum front_db_event ev, const struct pg_result *res,
    const char *err, void *arg)
{
	struct api_db *q = arg;
	const char *params[1] = {q->id};
	struct conn *c;

	switch (ev) {
	case FRONT_DB_ROW:
		q->rows++;
		q->forbidden = strcmp(PQgetvalue(res, 0, 1), "t") != 0;
		return;
	case FRONT_DB_ERROR:
		api_db_unavailable(q, err);
		return;
	case FRONT_DB_DONE:
		break;
	}
	if ((c = api_db_conn(q)) == NULL) {
		api_db_free(q);
		return;
	}
	if (q->rows == 0 || q->forbidden) {
		if (q->rows == 0)
			front_api_error(c, 404, "no such session", NULL);
		else
			front_api_error(
			    c, 403, "this session is not yours", NULL);
		api_db_free(q);
		return;
	}
	q->body = evbuffer_new();
	front_db_query("SELECT line FROM alia.asciicast($1) AS a(line)", 1,
	    params, api_cast_rows, q);
}

static void
api_recording(struct conn *c, const struct http_request *req, const char *id,
    const struct ident *who)
{
	const char *params[2];
	struct api_db *q;

	if (strcmp(req->method, "GET") != 0) {
		front_api_error(c, 405, "use GET here", "Allow: GET\r\n");
		return;
	}
	if (!token_uuid_valid(id)) {
		front_api_error(c, 404, "no such session", NULL);
		return;
	}
	if (who == NULL) {
		front_api_error(c, 403, "this session is not yours", NULL);
		return;
	}
	q = xcalloc(1, sizeof(*q));
	snprintf(q->id, sizeof(q->id), "%.36s", id);
	snprintf(q->owner, sizeof(q->owner), "%s", who->name);
	pending_expire();
	q->req = front_http_park(c);
	params[0] = q->id;
	params[1] = q->owner;
	front_db_query("SELECT owner, alia.may_see($2, owner) FROM "
	               "alia.sessions WHERE id = $1",
	    2, params, api_cast_owner, q);
}

static void
gen_key_col(
    yajl_gen g, const char *k, const struct pg_result *res, int col, int number)
{
	const char *v = PQgetvalue(res, 0, col);

	gen_str(g, k);
	if (PQgetisnull(res, 0, col))
		yajl_gen_null(g);
	else if (number)
		yajl_gen_number(g, v, strlen(v));
	else
		gen_str(g, v);
}

static void
api_recordings_rows(enum front_db_event ev, const struct pg_result *res,
    const char *err, void *arg)
{
	static const char *keys[] = {"id", "state", "created_at", "ended_at",
	    "exit_code", "end_reason", "bytes", "snippet"};
	struct api_db *q = arg;
	struct conn *c;
	int i;

	switch (ev) {
	case FRONT_DB_ROW:
		yajl_gen_map_open(q->list);
		for (i = 0; i < (q->search ? 8 : 7); i++)
			gen_key_col(q->list, keys[i], res, i, i == 4 || i == 6);
		yajl_gen_map_close(q->list);
		return;
	case FRONT_DB_ERROR:
		api_db_unavailable(q, err);
		return;
	case FRONT_DB_DONE:
		break;
	}
	yajl_gen_array_close(q->list);
	if ((c = api_db_conn(q)) != NULL)
		front_api_json(c, 200, q->list, NULL);
	api_db_free(q);
}

/* Decodes the value of parameter name in a query string; NULL if absent. */
static char *
query_param(const char *query, const char *name)
{
	size_t n = strlen(name), len;
	const char *p = query;
	char *out, *o, hex[3] = {0};

	while (p != NULL && *p != '\0') {
		len = strcspn(p, "&");
		if (len > n && strncmp(p, name, n) == 0 && p[n] == '=') {
			out = o = xmalloc(len - n);
			for (p += n + 1, len -= n + 1; len > 0; p++, len--) {
				if (*p == '+')
					*o++ = ' ';
				else if (*p == '%' && len >= 3 &&
				    isxdigit((unsigned char)p[1]) &&
				    isxdigit((unsigned char)p[2])) {
					memcpy(hex, p + 1, 2);
					*o++ = (char)strtol(hex, NULL, 16);
					p += 2;
					len -= 2;
				} else
					*o++ = *p;
			}
			*o = '\0';
			return out;
		}
		p += len;
		if (*p == '&')
			p++;
	}
	return NULL;
}

#define API_RECORDING_COLS                                                 \
	"s.id, s.state, "                                                  \
	"to_char(s.created_at AT TIME ZONE 'UTC', "                        \
	"'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"'), "                           \
	"to_char(s.ended_at AT TIME ZONE 'UTC', "                          \
	"'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"'), "                           \
	"CASE WHEN s.state = 'ended' THEN s.exit_code END, s.end_reason, " \
	"alia.session_bytes(s.id)"

static void
api_recordings(
    struct conn *c, const struct http_request *req, const struct ident *who)
{
	const char *params[3];
	struct api_db *q;
	char *text = NULL;
	yajl_gen g;

	if (strcmp(req->method, "GET") != 0) {
		front_api_error(c, 405, "use GET here", "Allow: GET\r\n");
		return;
	}
	if (who == NULL) {
		/* No identity, no sessions. */
		g = yajl_gen_alloc(NULL);
		yajl_gen_array_open(g);
		yajl_gen_array_close(g);
		front_api_json(c, 200, g, NULL);
		yajl_gen_free(g);
		return;
	}
	if (req->query != NULL)
		text = query_param(req->query, "q");
	if (text != NULL &&
	    (text[0] == '\0' || strlen(text) > 200 ||
	        memchr(text, '\0', strlen(text) + 1) != text + strlen(text))) {
		free(text);
		text = NULL;
	}
	q = xcalloc(1, sizeof(*q));
	q->search = text != NULL;
	q->list = yajl_gen_alloc(NULL);
	yajl_gen_array_open(q->list);
	pending_expire();
	q->req = front_http_park(c);
	params[0] = who->name;
	params[1] = text;
	/* the search itself narrowed to the caller's own, when that is all */
	params[2] = who->role >= ROLE_INSTRUCTOR ? NULL : who->name;
	if (text == NULL)
		front_db_query(
		    "SELECT " API_RECORDING_COLS
		    " FROM alia.sessions s WHERE alia.may_see($1, "
		    "s.owner) ORDER BY s.created_at DESC, s.id LIMIT 1000",
		    1, params, api_recordings_rows, q);
	else
		front_db_query(
		    "SELECT " API_RECORDING_COLS ", h.snippet "
		    "FROM alia.sessions s JOIN ("
		    "SELECT DISTINCT ON (f.session_id) f.session_id, "
		    "f.snippet FROM alia.search($2, $3) f "
		    "ORDER BY f.session_id, f.seq) h "
		    "ON h.session_id = s.id WHERE alia.may_see($1, s.owner) "
		    "ORDER BY s.created_at DESC, s.id LIMIT 1000",
		    3, params, api_recordings_rows, q);
	free(text);
}

/*
 * GET /ws/wall?ids=ID,ID,...: an instructor's (or admin's) wall. master's
 * list says which of the sessions are live and whose; those the caller
 * may see become the wall's tiles, in the order asked (api_wall_answer).
 */
static void
api_wall(
    struct conn *c, const struct http_request *req, const struct ident *who)
{
	struct msg_wall *mw;
	struct pending *p;
	char *ids, *tok, *save = NULL;
	const char *key;
	uint32_t i;

	if ((key = api_upgrade_ok(c, req)) == NULL)
		return;
	if (who == NULL || who->role < ROLE_INSTRUCTOR) {
		front_api_error(
		    c, 403, "the wall is for instructors and admins", NULL);
		return;
	}
	ids = req->query != NULL ? query_param(req->query, "ids") : NULL;
	mw = xcalloc(1, sizeof(*mw));
	for (tok = ids != NULL ? strtok_r(ids, ",", &save) : NULL;
	     tok != NULL && mw->count < WALL_MAX;
	     tok = strtok_r(NULL, ",", &save)) {
		if (!token_uuid_valid(tok))
			continue;
		for (i = 0; i < mw->count; i++)
			if (strcmp(mw->sessions[i], tok) == 0)
				break;
		if (i == mw->count)
			snprintf(mw->sessions[mw->count++], SESSION_ID_LEN,
			    "%s", tok);
	}
	free(ids);
	if (mw->count == 0) {
		free(mw);
		front_api_error(c, 400,
		    "ids=ID,ID,... names the sessions of the wall", NULL);
		return;
	}
	snprintf(mw->key, sizeof(mw->key), "%s", key);
	snprintf(mw->user, sizeof(mw->user), "%s", who->name);
	p = api_park(c, API_WALL, NULL, who);
	p->wall = mw;
	api_ask(msg_send_session_list, p, REQ_ANY_OWNER, NULL, 0, 0);
}

/* One session of master's list for a wall: a tile if live and visible. */
static void
api_wall_info(struct pending *p, const struct msg_session_info *i)
{
	uint32_t k;

	if (i->status != 200 || strcmp(i->state, "ended") == 0 ||
	    !front_auth_may_see(&p->who, i->owner))
		return;
	for (k = 0; k < p->wall->count; k++)
		if (strcmp(p->wall->sessions[k], i->session) == 0)
			p->shown |= UINT32_C(1) << k;
}

/* The list is complete: the socket and the tiles go to master. */
static void
api_wall_answer(struct conn *c, struct pending *p)
{
	struct msg_wall *mw = p->wall;
	uint32_t k, n = 0;
	int fd;

	for (k = 0; k < mw->count; k++)
		if (p->shown & (UINT32_C(1) << k)) {
			if (n != k)
				memcpy(mw->sessions[n], mw->sessions[k],
				    SESSION_ID_LEN);
			n++;
		}
	mw->count = n;
	if (n == 0) {
		front_api_error(c, 403,
		    "none of these sessions is live and yours to watch", NULL);
		return;
	}
	if ((fd = front_http_detach(c)) == -1) {
		front_api_error(c, 400,
		    "data was sent before the websocket handshake completed",
		    NULL);
		return;
	}
	msg_send_session_wall(fa.master, NULL, fd, mw);
}

/* GET /api/me: who the caller is. */
static void
api_me(struct conn *c, const struct ident *who, char *setcookie)
{
	yajl_gen g;

	g = yajl_gen_alloc(NULL);
	yajl_gen_map_open(g);
	/* auth = none: no cookie yet is nobody yet, not an error */
	gen_key_str(g, "user", who != NULL ? who->name : NULL);
	gen_key_str(g, "role", front_auth_role_name(who ? who->role : 0));
	gen_key_str(g, "auth",
	    fa.conf->auth == CONFIG_AUTH_PASSWORD ? "password" : "none");
	yajl_gen_map_close(g);
	front_api_json(c, 200, g, setcookie);
	yajl_gen_free(g);
}

/* /api/sessions/ID: GET for whoever may see it, DELETE for its owner or
 * an admin. */
static void
api_session(struct conn *c, const struct http_request *req, const char *id,
    const struct ident *who)
{
	struct pending *p;

	if (!token_uuid_valid(id)) {
		front_api_error(c, 404, "no such session", NULL);
		return;
	}
	if (who == NULL) {
		front_api_error(c, 403, "this session is not yours", NULL);
		return;
	}
	if (strcmp(req->method, "GET") == 0) {
		p = api_park(c, API_GET, NULL, who);
		api_ask(msg_send_session_get, p,
		    who->role >= ROLE_INSTRUCTOR ? REQ_ANY_OWNER : 0, id, 0, 0);
		return;
	}
	if (strcmp(req->method, "DELETE") == 0) {
		if (!front_api_origin_ok(c, req)) {
			front_api_error(
			    c, 403, "cross-origin request refused", NULL);
			return;
		}
		p = api_park(c, API_DELETE, NULL, who);
		api_ask(msg_send_session_delete, p,
		    who->role == ROLE_ADMIN ? REQ_ANY_OWNER : 0, id, 0, 0);
		return;
	}
	front_api_error(
	    c, 405, "use GET or DELETE here", "Allow: GET, DELETE\r\n");
}

/* /api/sessions: POST creates one of the caller's, GET lists. */
static void
api_sessions(struct conn *c, const struct http_request *req,
    const struct ident *who, char *setcookie)
{
	struct pending *p;
	char err[256];
	int cols, rows;

	if (strcmp(req->method, "POST") == 0) {
		if (!front_api_origin_ok(c, req)) {
			front_api_error(
			    c, 403, "cross-origin request refused", setcookie);
			free(setcookie);
			return;
		}
		if (api_create_size(req, &cols, &rows, err, sizeof(err)) ==
		    -1) {
			front_api_error(c, 400, err, setcookie);
			free(setcookie);
			return;
		}
		p = api_park(c, API_CREATE, setcookie, who);
		api_ask(msg_send_session_create, p, 0, NULL, cols, rows);
		return;
	}
	if (strcmp(req->method, "GET") == 0) {
		p = api_park(c, API_LIST, setcookie, who);
		p->list = yajl_gen_alloc(NULL);
		yajl_gen_array_open(p->list);
		api_ask(msg_send_session_list, p,
		    who->role >= ROLE_INSTRUCTOR ? REQ_ANY_OWNER : 0, NULL, 0,
		    0);
		return;
	}
	front_api_error(c, 405, "use GET or POST here", "Allow: GET, POST\r\n");
	free(setcookie);
}

const char *
front_api_allow(const char *path)
{
	const char *id, *slash;

	if (strcmp(path, "/api/login") == 0 || strcmp(path, "/api/logout") == 0)
		return "POST";
	if (strcmp(path, "/api/sessions") == 0)
		return "GET, POST";
	if (strcmp(path, "/metrics") == 0)
		return "GET, HEAD";
	if (strncmp(path, "/api/sessions/", 14) == 0) {
		id = path + 14;
		if ((slash = strchr(id, '/')) == NULL)
			return "GET, DELETE";
		if (strcmp(slash, "/shares") == 0)
			return "GET, POST";
		if (strncmp(slash, "/shares/", 8) == 0)
			return "DELETE";
		return "GET"; /* /recording, or 404 */
	}
	if (strcmp(path, "/api/me") == 0 ||
	    strcmp(path, "/api/recordings") == 0 ||
	    strncmp(path, "/api/shares/", 12) == 0 ||
	    strncmp(path, "/ws/", 4) == 0)
		return "GET";
	return NULL;
}

void
front_api_request(struct conn *c, const struct http_request *req)
{
	const struct ident *who;
	struct msg_metrics mt;
	struct pending *p;
	char *setcookie = NULL;
	const char *path = req->path, *slash;
	char rid[SESSION_ID_LEN + 1];

	if (strcmp(path, "/api/login") == 0) {
		front_auth_login(c, req);
		return;
	}
	if (strcmp(path, "/api/logout") == 0) {
		front_auth_logout(c, req);
		return;
	}
	/* Share links need no sign-in: the token is the right. */
	if (strncmp(path, "/api/shares/", 12) == 0) {
		front_share_get(c, req, path + 12);
		return;
	}
	if (strncmp(path, "/ws/sessions/", 13) == 0 && req->query != NULL &&
	    strstr(req->query, "share=") != NULL) {
		api_ws(c, req, path + 13, NULL);
		return;
	}
	if (api_who(c, req, strcmp(path, "/api/sessions") == 0, &who,
	        &setcookie) == 0)
		return;
	if (strcmp(path, "/metrics") == 0) {
		if (fa.conf->auth == CONFIG_AUTH_PASSWORD &&
		    who->role != ROLE_ADMIN) {
			front_api_error(
			    c, 403, "the metrics are for admins", NULL);
			return;
		}
		p = api_park(c, API_METRICS, NULL, NULL);
		memset(&mt, 0, sizeof(mt));
		mt.req = p->req;
		msg_send_metrics_get(fa.master, NULL, &mt);
		return;
	}
	if (strcmp(path, "/api/me") == 0)
		api_me(c, who, setcookie);
	else if (strncmp(path, "/ws/sessions/", 13) == 0)
		api_ws(c, req, path + 13, who);
	else if (strcmp(path, "/ws/wall") == 0)
		api_wall(c, req, who);
	else if (strcmp(path, "/api/sessions") == 0) {
		api_sessions(c, req, who, setcookie);
		return; /* setcookie taken */
	} else if (strcmp(path, "/api/recordings") == 0)
		api_recordings(c, req, who);
	else if (strncmp(path, "/api/sessions/", 14) == 0 &&
	    (slash = strchr(path + 14, '/')) != NULL &&
	    strncmp(slash, "/shares", 7) == 0 &&
	    (slash[7] == '\0' || slash[7] == '/')) {
		snprintf(rid, sizeof(rid), "%.*s", (int)(slash - path - 14),
		    path + 14);
		if (!token_uuid_valid(rid))
			front_api_error(c, 404, "no such session", NULL);
		else
			front_share_route(c, req, who, rid,
			    slash[7] == '/' ? slash + 8 : NULL);
	} else if (strncmp(path, "/api/sessions/", 14) == 0 &&
	    (slash = strchr(path + 14, '/')) != NULL &&
	    strcmp(slash, "/recording") == 0) {
		snprintf(rid, sizeof(rid), "%.*s", (int)(slash - path - 14),
		    path + 14);
		api_recording(c, req, rid, who);
	} else if (strncmp(path, "/api/sessions/", 14) == 0)
		api_session(c, req, path + 14, who);
	else
		front_api_error(c, 404, "no such API route", NULL);
	free(setcookie);
}

static void
api_metrics(struct conn *c, const struct msg_metrics *m)
{
	static const long buckets[] = METRICS_DOCKER_BUCKETS_MS;
	struct {
		const char *name, *type, *help;
		uint64_t v;
	} rows[] = {
	    {"alia_sessions_active", "gauge", "Sessions starting or running.",
	        m->sessions_active},
	    {"alia_sessions_created_total", "counter",
	        "Sessions created since start.", m->sessions_created},
	    {"alia_sessions_ended_total", "counter",
	        "Sessions ended since start.", m->sessions_ended},
	    {"alia_output_bytes_total", "counter",
	        "Terminal bytes from containers to browsers.", m->bytes_out},
	    {"alia_input_bytes_total", "counter",
	        "Bytes from browsers to containers.", m->bytes_in},
	    {"alia_resyncs_total", "counter",
	        "Slow browsers re-synced from the scrollback.", m->resyncs},
	    {"alia_worker_restarts_total", "counter",
	        "Session workers that died and were replaced.",
	        m->worker_restarts},
	    {"alia_child_restarts_total", "counter",
	        "Service processes restarted by master.", m->child_restarts},
	    {"alia_docker_errors_total", "counter", "Docker calls that failed.",
	        m->docker_errors},
	};
	struct evbuffer *b;
	size_t i, len;
	char *text;

	b = evbuffer_new();
	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++)
		evbuffer_add_printf(b, "# HELP %s %s\n# TYPE %s %s\n%s %llu\n",
		    rows[i].name, rows[i].help, rows[i].name, rows[i].type,
		    rows[i].name, (unsigned long long)rows[i].v);
	evbuffer_add_printf(b,
	    "# HELP alia_docker_call_seconds Docker Engine API call latency.\n"
	    "# TYPE alia_docker_call_seconds histogram\n");
	for (i = 0; i < sizeof(buckets) / sizeof(buckets[0]); i++)
		evbuffer_add_printf(b,
		    "alia_docker_call_seconds_bucket{le=\"%g\"} %llu\n",
		    buckets[i] / 1000.0,
		    (unsigned long long)m->docker_latency_le[i]);
	evbuffer_add_printf(b,
	    "alia_docker_call_seconds_bucket{le=\"+Inf\"} %llu\n"
	    "alia_docker_call_seconds_sum %.6f\n"
	    "alia_docker_call_seconds_count %llu\n",
	    (unsigned long long)m->docker_calls, m->docker_latency_us_sum / 1e6,
	    (unsigned long long)m->docker_calls);
	if (m->disk_measured)
		evbuffer_add_printf(b,
		    "# HELP alia_record_disk_free_bytes Free disk under the "
		    "database.\n"
		    "# TYPE alia_record_disk_free_bytes gauge\n"
		    "alia_record_disk_free_bytes %llu\n",
		    (unsigned long long)m->disk_free);
	evbuffer_add_printf(b,
	    "# HELP alia_record_disk_paused Output recording paused: free "
	    "disk under record_disk_floor.\n"
	    "# TYPE alia_record_disk_paused gauge\n"
	    "alia_record_disk_paused %llu\n"
	    "# HELP alia_record_disk_pauses_total Times output recording "
	    "paused for the disk floor.\n"
	    "# TYPE alia_record_disk_pauses_total counter\n"
	    "alia_record_disk_pauses_total %llu\n",
	    (unsigned long long)m->disk_paused,
	    (unsigned long long)m->disk_pauses);
	len = evbuffer_get_length(b);
	text = xmalloc(len + 1);
	evbuffer_remove(b, text, len);
	evbuffer_free(b);
	front_http_respond(c, 200, "text/plain; version=0.0.4; charset=utf-8",
	    text, len, "Cache-Control: no-store\r\n");
	free(text);
}

/* The session's socket goes to master, and from there to the worker. */
static void
api_ws_answer(
    struct conn *c, struct pending *p, const struct msg_session_info *i)
{
	int fd;

	if (i->status != 200) {
		front_api_error(c, i->status, i->message, NULL);
		return;
	}
	if (strcmp(i->state, "ended") == 0) {
		front_api_error(c, 410, "this session has ended", NULL);
		return;
	}
	if ((fd = front_http_detach(c)) == -1) {
		log_warnx("%s: data before the websocket handshake; refused",
		    front_http_peer(c));
		front_api_error(c, 400,
		    "data was sent before the websocket handshake completed",
		    NULL);
		return;
	}
	msg_send_session_attach(fa.master, NULL, fd, &p->attach);
}

void
front_api_master_msg(struct msg *m)
{
	struct msg_session_info i;
	struct msg_metrics mt;
	struct pending *p;
	struct conn *c;
	yajl_gen g;

	if (m->hdr.type == MSG_METRICS) {
		if (msg_get_metrics(m, &mt) == -1 ||
		    (p = pending_find(mt.req)) == NULL)
			return;
		if ((c = front_http_parked(p->req)) != NULL)
			api_metrics(c, &mt);
		pending_free(p);
		return;
	}
	if (msg_get_session_info(m, &i) == -1) {
		log_warnx("a bad or unexpected message %s from master",
		    msg_name(m->hdr.type));
		return;
	}
	if ((p = pending_find(i.req)) == NULL)
		return;
	if (p->kind == API_WALL) {
		api_wall_info(p, &i);
		if (i.more)
			return;
		if ((c = front_http_parked(p->req)) != NULL)
			api_wall_answer(c, p);
		pending_free(p);
		return;
	}
	if (p->kind == API_LIST) {
		if (i.status == 200 && i.session[0] != '\0' &&
		    front_auth_may_see(&p->who, i.owner))
			gen_session(p->list, &i);
		if (i.more)
			return;
		yajl_gen_array_close(p->list);
		if ((c = front_http_parked(p->req)) != NULL)
			front_api_json(c, 200, p->list, p->setcookie);
		pending_free(p);
		return;
	}
	if ((c = front_http_parked(p->req)) == NULL) {
		pending_free(p);
		return;
	}
	if (i.status < 300 && (p->kind == API_GET || p->kind == API_WS) &&
	    !p->shared && !front_auth_may_see(&p->who, i.owner)) {
		/* master answered for any owner: the caller may not see it */
		i.status = 403;
		snprintf(i.message, sizeof(i.message), "%s",
		    "this session is not yours");
	}
	if (p->kind == API_WS)
		api_ws_answer(c, p, &i);
	else if (i.status >= 400)
		front_api_error(c, i.status, i.message, p->setcookie);
	else if (i.status == 204)
		front_http_respond(c, 204, JSON_TYPE, "", 0, NULL);
	else {
		g = yajl_gen_alloc(NULL);
		gen_session(g, &i);
		front_api_json(c, i.status, g, p->setcookie);
		yajl_gen_free(g);
	}
	pending_free(p);
}
