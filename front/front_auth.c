/* SPDX-License-Identifier: ISC */
/*
 * Who a request comes from, sign-in, sign-out, who may see whose
 * sessions, and the audit trail of what front did for whom.
 *
 * Without accounts (auth = none), a browser gets a random 128-bit value
 * in an HttpOnly cookie (alia_id) when it first creates or lists
 * sessions; its owner name is a hash of that value ("anon-" and hex), so
 * neither the database nor the logs ever hold the secret itself.
 *
 * With accounts (auth = password):
 * A caller proves who they are with a token: the alia_token cookie that
 * POST /api/login sets, or an API token in "Authorization: Bearer".
 * Tokens are 256 random bits; the database holds only their SHA-256
 * (common/token.c). Looking one up takes a query, so a request whose
 * token is not in the cache is held (front_http_hold) and dispatched
 * again when the answer is in; answers, good or bad, are cached for
 * AUTH_CACHE_SEC, so a revoked token or a changed group is seen within
 * that time. An identity carries the user's role and, for an instructor,
 * the members of their groups: the sessions they may watch.
 *
 * Sign-in checks the password against its crypto_pwhash string on one of
 * front_pwhash's threads (a tenth of a second or more each; at most
 * AUTH_VERIFY_MAX at once, past that "busy, retry"). A name that does not
 * exist is checked against a dummy hash, so the time taken does not tell
 * whether it does. Passwords go nowhere: not to the database, not to the
 * log.
 *
 * The sign-in limiter counts an attempt when it starts, as a failure,
 * and takes it back only when it succeeds (or was never checked), so
 * attempts sent in parallel are counted before any of them is checked.
 * Three counters, each in a slot of fa_.fails keyed by what it counts:
 *   "p:NAME|ADDR"  AUTH_FAILS per AUTH_FAIL_SEC: a guesser at one address
 *   "a:ADDR"       AUTH_FAILS_ADDR per AUTH_FAIL_SEC: one address, any name
 *   "u:NAME"       from any address: past AUTH_FAILS failures, each further
 *                  attempt waits auth_delay() after the one before (1 s,
 *                  2 s, 4 s ... AUTH_DELAY_MAX_MS), so that guessing from
 *                  many addresses is slowed down without locking the real
 *                  user out for long; forgotten AUTH_FAIL_SEC after the
 *                  last attempt.
 * A refused attempt is answered 429 with the Retry-After it must wait.
 * A sign-in that succeeds clears its name's and its pair's counters.
 *
 * `alia user passwd|disable` deletes the user's tokens and notifies
 * master, which sends MSG_SIGNOUT: the user's cached answers are
 * forgotten at once (front_auth_signout). Were the notice missed, the
 * cache still forgets them within AUTH_CACHE_SEC.
 */
#include <sys/queue.h>
#include <sys/random.h>
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <libpq-fe.h>
#include <openssl/evp.h>
#include <sodium.h>
#include <yajl/yajl_gen.h>
#include <yajl/yajl_tree.h>

#include "common/audit.h"
#include "common/clock.h"
#include "common/config.h"
#include "common/http.h"
#include "common/json.h"
#include "common/log.h"
#include "common/msg.h"
#include "common/proxy.h"
#include "common/token.h"
#include "common/xmalloc.h"
#include "front/front.h"

#define AUTH_COOKIE       "alia_token"
#define AUTH_BEARER       "Bearer " /* Authorization: Bearer TOKEN */
#define AUTH_ANON_COOKIE  "alia_id"
#define AUTH_ANON_HEX     32       /* the cookie's value: 128 bits in hex */
#define AUTH_ANON_HASH    12       /* bytes of its hash in the owner name */
#define AUTH_ANON_AGE     31536000 /* the cookie lasts a year */
#define AUTH_CACHE_SEC    30
#define AUTH_CACHE_MAX    4096
#define AUTH_LOGIN_SEC    (12 * 3600) /* a sign-in lasts */
#define AUTH_FAILS        5
#define AUTH_FAILS_ADDR   50 /* per client address: a class shares one */
#define AUTH_FAIL_SEC     300
#define AUTH_FAIL_SLOTS   4096
#define AUTH_DELAY_MAX_MS 30000 /* the longest wait per name */
#define AUTH_PASSWORD_MAX 1024
#define AUTH_VERIFY_MAX   64 /* sign-ins being checked at once */
#define AUTH_VERIFY_CPUS  4  /* threads checking them, at most */
#define AUTH_ROLE_LEN     16 /* "instructor" and room */
#define AUTH_NUMBER_LEN   16 /* an int in text */
#define AUTH_HEADER_LEN   48 /* "Retry-After: N" */
#define AUTH_ERR_LEN      128

struct auth_entry {
	TAILQ_ENTRY(auth_entry) entry;
	unsigned char hash[TOKEN_BYTES];
	time_t until;
	int valid; /* 0: no such token (cached too) */
	struct ident id;
};
TAILQ_HEAD(auth_entries, auth_entry);

/* A token being looked up, and the requests held for it. */
struct auth_lookup {
	unsigned char hash[TOKEN_BYTES];
	uint64_t held;    /* the request waiting for it */
	uint64_t signout; /* fa_.signouts when it was asked */
};

struct auth_fail {
	char key[2 * OWNER_LEN + 8]; /* "p:NAME|ADDR", "a:ADDR", "u:NAME" */
	int64_t first, last;         /* monotonic ms: first and last attempt */
	int n;                       /* attempts not (yet) succeeded */
};

struct auth_login {
	uint64_t req;
	char user[OWNER_LEN];
	char peer[PROXY_ADDR_LEN]; /* the client's address */
	char *password;
	char *stored; /* the user's crypto_pwhash string; NULL: none */
	char token[TOKEN_HEX + 1];
	char role[AUTH_ROLE_LEN];
	int counted; /* counted by the limiter, not yet checked */
};

static struct {
	const struct config *conf;
	struct auth_entries cache;
	size_t ncache;
	struct auth_fail fails[AUTH_FAIL_SLOTS];
	char dummy[crypto_pwhash_STRBYTES];
	uint64_t signouts; /* MSG_SIGNOUTs so far */
} fa_;

void
front_auth_init(struct event_base *base, const struct config *conf)
{
	unsigned char pw[16];
	long cpus;

	fa_.conf = conf;
	TAILQ_INIT(&fa_.cache);
	if (sodium_init() < 0)
		fatalx("sodium_init");
	if (conf->auth != CONFIG_AUTH_PASSWORD)
		return;
	randombytes_buf(pw, sizeof(pw));
	if (crypto_pwhash_str(fa_.dummy, (const char *)pw, sizeof(pw),
	        crypto_pwhash_OPSLIMIT_INTERACTIVE,
	        crypto_pwhash_MEMLIMIT_INTERACTIVE) != 0)
		fatalx("crypto_pwhash_str: out of memory");
	cpus = sysconf(_SC_NPROCESSORS_ONLN);
	front_pwhash_init(base,
	    cpus < 1                      ? 1
	        : cpus > AUTH_VERIFY_CPUS ? AUTH_VERIFY_CPUS
	                                  : (int)cpus,
	    AUTH_VERIFY_MAX);
}

static void
auth_entry_free(struct auth_entry *e)
{
	TAILQ_REMOVE(&fa_.cache, e, entry);
	fa_.ncache--;
	free(e->id.sees);
	free(e);
}

void
front_auth_free(void)
{
	struct auth_entry *e;

	front_pwhash_free();
	while ((e = TAILQ_FIRST(&fa_.cache)) != NULL)
		auth_entry_free(e);
}

static struct auth_entry *
auth_cached(const unsigned char *hash)
{
	struct auth_entry *e, *next;
	time_t now = time(NULL);

	for (e = TAILQ_FIRST(&fa_.cache); e != NULL; e = next) {
		next = TAILQ_NEXT(e, entry);
		if (e->until < now) {
			auth_entry_free(e);
			continue;
		}
		if (memcmp(e->hash, hash, TOKEN_BYTES) == 0)
			return e;
	}
	return NULL;
}

void
front_auth_signout(struct msg *m)
{
	struct msg_signout so;
	struct auth_entry *e, *next;
	int n = 0;

	if (msg_get_signout(m, &so) == -1) {
		log_warnx("%s: a bad MSG_SIGNOUT", __func__);
		return;
	}
	fa_.signouts++;
	for (e = TAILQ_FIRST(&fa_.cache); e != NULL; e = next) {
		next = TAILQ_NEXT(e, entry);
		/* Unknown tokens are kept: the notice made none valid. */
		if (e->valid &&
		    (so.user[0] == '\0' || strcmp(e->id.name, so.user) == 0)) {
			auth_entry_free(e);
			n++;
		}
	}
	if (so.user[0] != '\0')
		log_info("%s signed out everywhere: %d cached token(s) "
		         "forgotten",
		    so.user, n);
}

static void
auth_forget(const unsigned char *hash)
{
	struct auth_entry *e;

	if ((e = auth_cached(hash)) != NULL)
		auth_entry_free(e);
}

int
front_auth_role(const char *s)
{
	if (strcmp(s, "admin") == 0)
		return ROLE_ADMIN;
	if (strcmp(s, "instructor") == 0)
		return ROLE_INSTRUCTOR;
	return ROLE_LEARNER;
}

const char *
front_auth_role_name(int role)
{
	switch (role) {
	case ROLE_ADMIN:
		return "admin";
	case ROLE_INSTRUCTOR:
		return "instructor";
	case ROLE_LEARNER:
		return "learner";
	}
	return "anonymous";
}

int
front_auth_may_see(const struct ident *id, const char *owner)
{
	char key[OWNER_LEN + 3];

	if (strcmp(id->name, owner) == 0 || id->role == ROLE_ADMIN)
		return 1;
	if (id->role != ROLE_INSTRUCTOR || id->sees == NULL)
		return 0;
	snprintf(key, sizeof(key), " %s ", owner);
	return strstr(id->sees, key) != NULL;
}

void
front_auth_copy(struct ident *to, const struct ident *from)
{
	*to = *from;
	to->sees = from->sees != NULL ? xstrdup(from->sees) : NULL;
}

static int auth_ident(
    struct conn *, const struct http_request *, const struct ident **);

int
front_auth_accounts(void)
{
	return fa_.conf->auth == CONFIG_AUTH_PASSWORD;
}

/* Whether the cookie value is ours in form: lowercase hex digits. */
static int
auth_anon_valid(const char *v, size_t n)
{
	size_t i;

	if (n != AUTH_ANON_HEX)
		return 0;
	for (i = 0; i < n; i++)
		if (!isxdigit((unsigned char)v[i]) ||
		    isupper((unsigned char)v[i]))
			return 0;
	return 1;
}

/* The value of cookie name in req's Cookie header; its length in *n. */
static const char *
auth_cookie(const struct http_request *req, const char *name, size_t *n)
{
	const char *p = http_header_get(req, "Cookie");
	size_t klen = strlen(name);

	while (p != NULL && *p != '\0') {
		p += strspn(p, " \t;");
		if (strncmp(p, name, klen) == 0 && p[klen] == '=') {
			p += klen + 1;
			*n = strcspn(p, "; \t");
			return p;
		}
		p = strchr(p, ';');
	}
	return NULL;
}

/*
 * The cookie identity's owner name (auth = none). Without a valid
 * cookie, a new identity is made when create is set (its Set-Cookie
 * header in *setcookie), else -1.
 */
static int
auth_anon(
    const struct http_request *req, int create, char *owner, char **setcookie)
{
	unsigned char raw[AUTH_ANON_HEX / 2], md[EVP_MAX_MD_SIZE];
	char value[AUTH_ANON_HEX + 1];
	const char *v;
	unsigned int mdlen, i;
	size_t n = 0;

	*setcookie = NULL;
	v = auth_cookie(req, AUTH_ANON_COOKIE, &n);
	if (v != NULL && auth_anon_valid(v, n))
		memcpy(value, v, AUTH_ANON_HEX);
	else if (!create)
		return -1;
	else {
		if (getrandom(raw, sizeof(raw), 0) != sizeof(raw))
			fatal("%s: getrandom", __func__);
		for (i = 0; i < sizeof(raw); i++)
			snprintf(value + 2 * i, 3, "%02x", raw[i]);
		xasprintf(setcookie,
		    "Set-Cookie: " AUTH_ANON_COOKIE "=%.*s; Path=/; HttpOnly; "
		    "SameSite=Strict; Max-Age=%d\r\n",
		    AUTH_ANON_HEX, value, AUTH_ANON_AGE);
	}
	value[AUTH_ANON_HEX] = '\0';
	if (!EVP_Digest(value, AUTH_ANON_HEX, md, &mdlen, EVP_sha256(), NULL))
		fatalx("%s: sha256", __func__);
	memcpy(owner, "anon-", 5);
	for (i = 0; i < AUTH_ANON_HASH; i++)
		snprintf(owner + 5 + 2 * i, 3, "%02x", md[i]);
	return 0;
}

int
front_auth_who(struct conn *c, const struct http_request *req, int create,
    const struct ident **id, char **setcookie)
{
	static struct ident anon;

	*setcookie = NULL;
	*id = NULL;
	if (front_auth_accounts())
		return auth_ident(c, req, id) == 1;
	if (auth_anon(req, create, anon.name, setcookie) == 0) {
		anon.role = ROLE_ANON;
		*id = &anon;
	}
	return 1;
}

void
front_auth_me(struct conn *c, const struct http_request *req,
    const struct route_call *call)
{
	const struct ident *who = call->who;
	yajl_gen g;

	g = front_json_object();
	/* auth = none: no cookie yet is nobody yet, not an error */
	front_json_key_str(g, "user", who != NULL ? who->name : NULL);
	front_json_key_str(
	    g, "role", front_auth_role_name(who ? who->role : ROLE_ANON));
	front_json_key_str(
	    g, "auth", front_auth_accounts() ? "password" : "none");
	front_json_object_send(c, 200, g, call->setcookie);
}

/* The token a request carries (cookie or bearer), hashed; -1: none. */
static int
auth_token(const struct http_request *req, unsigned char *hash)
{
	const char *v, *p;
	size_t n;

	if ((v = http_header_get(req, "Authorization")) != NULL) {
		if (strncasecmp(v, AUTH_BEARER, strlen(AUTH_BEARER)) != 0)
			return -1;
		for (p = v + strlen(AUTH_BEARER); *p == ' '; p++)
			;
		return token_hash(p, strcspn(p, " \t"), hash);
	}
	if ((v = auth_cookie(req, AUTH_COOKIE, &n)) == NULL)
		return -1;
	return token_hash(v, n, hash);
}

static void
auth_lookup_cb(enum front_db_event ev, const struct pg_result *res,
    const char *err, void *arg)
{
	struct auth_lookup *l = arg;
	struct auth_entry *e;

	switch (ev) {
	case FRONT_DB_ROW:
		if ((e = auth_cached(l->hash)) == NULL) {
			e = xcalloc(1, sizeof(*e));
			memcpy(e->hash, l->hash, TOKEN_BYTES);
			TAILQ_INSERT_TAIL(&fa_.cache, e, entry);
			fa_.ncache++;
		}
		e->valid = 1;
		e->until = time(NULL) + AUTH_CACHE_SEC;
		/* Asked before a sign-out: good for no one, asked again. */
		if (l->signout != fa_.signouts)
			e->until = 0;
		snprintf(e->id.name, sizeof(e->id.name), "%s",
		    PQgetvalue(res, 0, 0));
		e->id.role = front_auth_role(PQgetvalue(res, 0, 1));
		free(e->id.sees);
		xasprintf(&e->id.sees, " %s ", PQgetvalue(res, 0, 2));
		return;
	case FRONT_DB_ERROR:
		(void)front_db_parked(l->held, ev, err);
		free(l);
		return;
	case FRONT_DB_DONE:
		break;
	}
	if (auth_cached(l->hash) == NULL) {
		/* No such token: remembered, so the re-run answers 401. */
		e = xcalloc(1, sizeof(*e));
		memcpy(e->hash, l->hash, TOKEN_BYTES);
		e->until = time(NULL) + AUTH_CACHE_SEC;
		TAILQ_INSERT_TAIL(&fa_.cache, e, entry);
		fa_.ncache++;
	}
	while (fa_.ncache > AUTH_CACHE_MAX)
		auth_entry_free(TAILQ_FIRST(&fa_.cache));
	front_http_redispatch(l->held);
	free(l);
}

/*
 * The caller of req (auth = password): 1 with *id set; 0 when the
 * request is held while its token is looked up, to be dispatched again;
 * -1 when c was answered (401, 503).
 */
static int
auth_ident(
    struct conn *c, const struct http_request *req, const struct ident **id)
{
	unsigned char hash[TOKEN_BYTES];
	char bytea[2 * TOKEN_BYTES + 3];
	const char *params[1] = {bytea};
	struct auth_lookup *l;
	struct auth_entry *e;

	if (auth_token(req, hash) == -1) {
		front_json_error(c, 401, "sign in first",
		    "WWW-Authenticate: Bearer realm=\"alia\"\r\n");
		return -1;
	}
	if ((e = auth_cached(hash)) != NULL) {
		if (!e->valid) {
			front_json_error(c, 401,
			    "your sign-in is not valid (expired or signed "
			    "out): sign in again",
			    "WWW-Authenticate: Bearer realm=\"alia\"\r\n");
			return -1;
		}
		*id = &e->id;
		return 1;
	}
	l = xcalloc(1, sizeof(*l));
	memcpy(l->hash, hash, TOKEN_BYTES);
	l->held = front_http_hold(c);
	l->signout = fa_.signouts;
	token_bytea(hash, bytea);
	front_db_query(
	    "SELECT u.name, u.role, coalesce((SELECT string_agg(DISTINCT "
	    "b.user_name, ' ') FROM alia.group_members a JOIN "
	    "alia.group_members b ON b.group_name = a.group_name WHERE "
	    "a.user_name = u.name), '') FROM alia.tokens t JOIN alia.users u "
	    "ON u.name = t.user_name WHERE t.hash = $1::bytea AND "
	    "t.expires_at > now() AND NOT u.disabled",
	    1, params, auth_lookup_cb, l);
	return 0;
}

static int64_t
auth_now_ms(void)
{
	return clock_mono_us() / 1000;
}

/* Whether slot f's count has run out: "u:" a while after the last try. */
static int
auth_fail_expired(const struct auth_fail *f, int64_t now)
{
	int64_t since = f->key[0] == 'u' ? f->last : f->first;

	return f->n > 0 && now - since >= AUTH_FAIL_SEC * 1000LL;
}

/* The failure slot of key; NULL when none is kept. create: make one. */
static struct auth_fail *
auth_fail_slot(const char *key, int create)
{
	struct auth_fail *f, *oldest = &fa_.fails[0];
	int64_t now = auth_now_ms();
	size_t i;

	for (i = 0; i < AUTH_FAIL_SLOTS; i++) {
		f = &fa_.fails[i];
		if (auth_fail_expired(f, now))
			f->n = 0;
		if (f->n > 0 && strcmp(f->key, key) == 0)
			return f;
		if (oldest->n > 0 && (f->n == 0 || f->last < oldest->last))
			oldest = f;
	}
	if (!create)
		return NULL;
	memset(oldest, 0, sizeof(*oldest));
	snprintf(oldest->key, sizeof(oldest->key), "%s", key);
	oldest->first = oldest->last = now;
	return oldest;
}

/* How long the attempt after n failures of a name waits, in ms. */
static int64_t
auth_delay(int n)
{
	int shift = n - AUTH_FAILS;

	if (shift < 0)
		return 0;
	if (shift > 5)
		return AUTH_DELAY_MAX_MS;
	return 1000LL << shift < AUTH_DELAY_MAX_MS ? 1000LL << shift
	                                           : AUTH_DELAY_MAX_MS;
}

/* Seconds from now until ms (monotonic), at least 1. */
static int
auth_secs_until(int64_t ms)
{
	int64_t left = ms - auth_now_ms();

	return left <= 1000 ? 1 : (int)((left + 999) / 1000);
}

/*
 * An attempt of l starts: 0, and it is counted as a failure; or the
 * seconds it must wait (and why in *why), and it is not counted.
 */
static int
auth_attempt(struct auth_login *l, const char **why)
{
	char pk[sizeof(fa_.fails[0].key)], ak[sizeof(pk)], uk[sizeof(pk)];
	struct auth_fail *f;
	int64_t now = auth_now_ms();

	snprintf(pk, sizeof(pk), "p:%s|%s", l->user, l->peer);
	snprintf(ak, sizeof(ak), "a:%s", l->peer);
	snprintf(uk, sizeof(uk), "u:%s", l->user);
	if ((f = auth_fail_slot(pk, 0)) != NULL && f->n >= AUTH_FAILS) {
		*why = "too many failed sign-ins: wait and try again";
		return auth_secs_until(f->first + AUTH_FAIL_SEC * 1000LL);
	}
	if ((f = auth_fail_slot(ak, 0)) != NULL && f->n >= AUTH_FAILS_ADDR) {
		*why = "too many failed sign-ins from your address: wait and "
		       "try again";
		return auth_secs_until(f->first + AUTH_FAIL_SEC * 1000LL);
	}
	if ((f = auth_fail_slot(uk, 0)) != NULL && f->n >= AUTH_FAILS &&
	    now < f->last + auth_delay(f->n)) {
		*why = "too many failed sign-ins for this name: wait and try "
		       "again";
		return auth_secs_until(f->last + auth_delay(f->n));
	}
	f = auth_fail_slot(pk, 1);
	f->n++;
	f->last = now;
	f = auth_fail_slot(ak, 1);
	f->n++;
	f->last = now;
	f = auth_fail_slot(uk, 1);
	f->n++;
	f->last = now;
	l->counted = 1;
	return 0;
}

/*
 * The counted attempt of l ends: ok, it succeeded (its name and pair are
 * cleared, its address takes it back); else it was never checked (a busy
 * or failed database, a client gone) and is taken back everywhere. A
 * checked wrong password stays counted: nothing is called.
 */
static void
auth_attempt_undo(struct auth_login *l, int ok)
{
	char key[sizeof(fa_.fails[0].key)];
	struct auth_fail *f;

	if (!l->counted)
		return;
	l->counted = 0;
	snprintf(key, sizeof(key), "p:%s|%s", l->user, l->peer);
	if ((f = auth_fail_slot(key, 0)) != NULL)
		f->n = ok ? 0 : f->n - 1;
	snprintf(key, sizeof(key), "u:%s", l->user);
	if ((f = auth_fail_slot(key, 0)) != NULL)
		f->n = ok ? 0 : f->n - 1;
	snprintf(key, sizeof(key), "a:%s", l->peer);
	if ((f = auth_fail_slot(key, 0)) != NULL)
		f->n--;
}

static void
auth_login_free(struct auth_login *l)
{
	if (l->password != NULL) {
		sodium_memzero(l->password, strlen(l->password));
		free(l->password);
	}
	free(l->stored);
	free(l);
}

/* The row goes through common/audit.c, as master's do. */
void
front_auth_audit(const char *actor, const char *action, const char *session,
    const char *detail)
{
	audit_write(front_db_pgc(), actor, action, session, detail);
}

static void
auth_login_done(enum front_db_event ev, const struct pg_result *res,
    const char *err, void *arg)
{
	struct auth_login *l = arg;
	yajl_gen g;
	char *cookie;
	struct conn *c;

	if (ev == FRONT_DB_ROW)
		return;
	if ((c = front_http_parked(l->req)) == NULL) {
		auth_login_free(l);
		return;
	}
	if (ev == FRONT_DB_ERROR) {
		front_json_error(c, 503, err, "Retry-After: 5\r\n");
		auth_login_free(l);
		return;
	}
	front_auth_audit(l->user, "login", NULL, l->peer);
	xasprintf(&cookie,
	    "Set-Cookie: " AUTH_COOKIE "=%s; Path=/; HttpOnly; "
	    "SameSite=Strict; Max-Age=%d%s\r\n",
	    l->token, AUTH_LOGIN_SEC, front_http_https(c) ? "; Secure" : "");
	g = front_json_object();
	front_json_key_str(g, "user", l->user);
	front_json_key_str(g, "role", l->role);
	front_json_object_send(c, 200, g, cookie);
	sodium_memzero(l->token, sizeof(l->token));
	free(cookie);
	auth_login_free(l);
}

/* The password check is done: a new sign-in token, or a refusal. */
static void
auth_login_verified(int result, void *arg)
{
	struct auth_login *l = arg;
	unsigned char hash[TOKEN_BYTES];
	char bytea[2 * TOKEN_BYTES + 3], secs[AUTH_NUMBER_LEN];
	const char *params[3] = {bytea, l->user, secs};
	struct conn *c;

	if (result == -1) {
		auth_login_free(l);
		return;
	}
	if (result != 1 || l->stored == NULL) {
		/* no such user: the same cost, the same answer */
		if (result == 1)
			log_warnx("%s: the dummy password matched", __func__);
		l->counted = 0; /* a failure, as counted */
		log_info("sign-in of %s from %s refused", l->user, l->peer);
		front_auth_audit(l->user, "login refused", NULL, l->peer);
		if ((c = front_http_parked(l->req)) != NULL)
			front_json_error(
			    c, 401, "wrong user name or password", NULL);
		auth_login_free(l);
		return;
	}
	auth_attempt_undo(l, 1);
	if (front_http_parked(l->req) == NULL) {
		auth_login_free(l);
		return;
	}
	if (token_new(l->token) == -1)
		fatalx("%s: no random bytes", __func__);
	(void)token_hash(l->token, TOKEN_HEX, hash);
	token_bytea(hash, bytea);
	snprintf(secs, sizeof(secs), "%d", AUTH_LOGIN_SEC);
	log_info("%s signed in from %s", l->user, l->peer);
	front_db_query("INSERT INTO alia.tokens (hash, user_name, kind, "
	               "expires_at) VALUES ($1::bytea, $2, 'login', now() + "
	               "make_interval(secs => $3::int))",
	    3, params, auth_login_done, l);
}

/* The user's row, if any: their password is checked off the loop. */
static void
auth_login_user(enum front_db_event ev, const struct pg_result *res,
    const char *err, void *arg)
{
	struct auth_login *l = arg;
	struct conn *c;

	switch (ev) {
	case FRONT_DB_ROW:
		snprintf(l->role, sizeof(l->role), "%s", PQgetvalue(res, 0, 1));
		if (!PQgetisnull(res, 0, 0))
			l->stored = xstrdup(PQgetvalue(res, 0, 0));
		return;
	case FRONT_DB_ERROR:
		auth_attempt_undo(l, 0);
		(void)front_db_parked(l->req, ev, err);
		auth_login_free(l);
		return;
	case FRONT_DB_DONE:
		break;
	}
	if ((c = front_http_parked(l->req)) == NULL) {
		auth_attempt_undo(l, 0);
		auth_login_free(l);
		return;
	}
	if (front_pwhash_verify(l->stored != NULL ? l->stored : fa_.dummy,
	        l->password, auth_login_verified, l) == -1) {
		log_warnx("sign-in of %s from %s: %d sign-ins are being "
		          "checked already",
		    l->user, l->peer, front_pwhash_pending());
		auth_attempt_undo(l, 0);
		front_json_error(c, 503,
		    "too many sign-ins at once: try again in a moment",
		    "Retry-After: 2\r\n");
		auth_login_free(l);
		return;
	}
	/* The job holds its own copy. */
	sodium_memzero(l->password, strlen(l->password));
}

void
front_auth_login(struct conn *c, const struct http_request *req,
    const struct route_call *call)
{
	const char *up[] = {"username", NULL}, *pp[] = {"password", NULL};
	const char *params[1], *why;
	struct auth_login *l;
	char err[AUTH_ERR_LEN], retry[AUTH_HEADER_LEN];
	yajl_val tree, u, p;
	char *user, *pw;
	int wait;

	if (fa_.conf->auth != CONFIG_AUTH_PASSWORD) {
		front_json_error(c, 404,
		    "this server has no accounts (auth = none): no sign-in "
		    "needed",
		    NULL);
		return;
	}
	if (front_http_same_origin(c, req, NULL) == -1)
		return;
	tree =
	    req->bodylen > 0 ? json_parse(req->body, err, sizeof(err)) : NULL;
	u = tree != NULL ? yajl_tree_get(tree, up, yajl_t_string) : NULL;
	p = tree != NULL ? yajl_tree_get(tree, pp, yajl_t_string) : NULL;
	user = u != NULL ? u->u.string : NULL;
	pw = p != NULL ? p->u.string : NULL;
	if (user == NULL || pw == NULL || user[0] == '\0' ||
	    strlen(user) >= OWNER_LEN || strlen(pw) > AUTH_PASSWORD_MAX) {
		if (tree != NULL)
			yajl_tree_free(tree);
		front_json_error(c, 400,
		    "the body must be {\"username\": U, \"password\": P}",
		    NULL);
		return;
	}
	l = xcalloc(1, sizeof(*l));
	snprintf(l->user, sizeof(l->user), "%s", user);
	l->password = xstrdup(pw);
	sodium_memzero(pw, strlen(pw)); /* the tree's copy */
	yajl_tree_free(tree);
	/* the browser's address, also behind a trusted proxy */
	snprintf(l->peer, sizeof(l->peer), "%s", front_http_client(c));
	if ((wait = auth_attempt(l, &why)) > 0) {
		log_info("sign-in of %s from %s: too many failures (%d s)",
		    l->user, l->peer, wait);
		snprintf(retry, sizeof(retry), "Retry-After: %d\r\n", wait);
		front_json_error(c, 429, why, retry);
		auth_login_free(l);
		return;
	}
	l->req = front_http_park(c);
	params[0] = l->user;
	front_db_query("SELECT pwhash, role FROM alia.users WHERE name = $1 "
	               "AND NOT disabled",
	    1, params, auth_login_user, l);
}

static void
auth_logout_cb(enum front_db_event ev, const struct pg_result *res,
    const char *err, void *arg)
{
	uint64_t *req = arg;
	struct conn *c;

	if (ev == FRONT_DB_ROW)
		return;
	if ((c = front_db_parked(*req, ev, err)) != NULL)
		front_http_respond(c, 204, "application/json", "", 0,
		    "Set-Cookie: " AUTH_COOKIE "=; Path=/; HttpOnly; "
		    "SameSite=Strict; Max-Age=0\r\n");
	free(req);
}

void
front_auth_logout(struct conn *c, const struct http_request *req,
    const struct route_call *call)
{
	unsigned char hash[TOKEN_BYTES];
	char bytea[2 * TOKEN_BYTES + 3];
	const char *params[1] = {bytea};
	uint64_t *id;

	if (front_http_same_origin(c, req, NULL) == -1)
		return;
	if (fa_.conf->auth != CONFIG_AUTH_PASSWORD ||
	    auth_token(req, hash) == -1) {
		front_http_respond(c, 204, "application/json", "", 0, NULL);
		return;
	}
	auth_forget(hash);
	token_bytea(hash, bytea);
	id = xmalloc(sizeof(*id));
	*id = front_http_park(c);
	front_db_query("DELETE FROM alia.tokens WHERE hash = $1::bytea "
	               "AND kind = 'login'",
	    1, params, auth_logout_cb, id);
}

int
front_auth_session(struct conn *c, const struct route_call *call)
{
	if (!token_uuid_valid(call->arg[0])) {
		front_json_error(c, 404, "no such session", NULL);
		return -1;
	}
	if (call->who == NULL) {
		front_json_error(c, 403, "this session is not yours", NULL);
		return -1;
	}
	return 0;
}

int
front_auth_change(struct conn *c, const struct http_request *req,
    const struct route_call *call)
{
	if (front_auth_session(c, call) == -1)
		return -1;
	return front_http_same_origin(c, req, NULL);
}
