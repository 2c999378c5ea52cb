/* SPDX-License-Identifier: ISC */
/*
 * The route table: every path front answers, with the methods each
 * takes, who may call it and the handler. A request is matched against
 * the rows in order by its decoded path; the first pattern that matches
 * decides. Its rows (one per method, or per query parameter) then give
 * the handler, or a 405 whose Allow lists their methods; a method that
 * HTTP does not know is 501 before anything else, and a path no pattern
 * matches 404 (the last row, the web directory's files, takes every
 * path).
 *
 * A pattern is a path whose "*" segments match any one non-empty
 * segment (handed to the handler in call->arg, in order; longer than
 * ROUTE_ARG_MAX bytes is 400), and whose "**" at the end matches the
 * rest of the path, whatever it is.
 *
 * Who may call a route: anyone (no identity is asked), or the least role
 * (front_auth.c): ROLE_ANON resolves the caller's identity — 401 without
 * one under auth = password, and under auth = none a cookie identity or
 * none at all, which the handler answers for — and a higher role is 403
 * below it, with the row's message. The identity is resolved once, for
 * rows that need it, after the method is known to be allowed; a
 * websocket route's upgrade is checked before the role, so that a bad
 * handshake is told so whoever sends it.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <bsd/string.h>

#include "common/http.h"
#include "common/xmalloc.h"
#include "front/front.h"

/* The methods of RFC 9110; others are 501, these 405 where not allowed. */
#define ROUTE_METHODS \
	"GET, HEAD, POST, PUT, DELETE, CONNECT, OPTIONS, TRACE, PATCH"
#define ROUTE_ALLOW_LEN sizeof(ROUTE_METHODS)
#define ROUTE_ANYONE    (-1) /* a route for anyone: no identity asked */

struct route {
	const char *methods; /* "GET, HEAD"; NULL: every method */
	const char *pattern;
	const char *query; /* set: the row only when the query has it */
	int who;           /* ROUTE_ANYONE, or the least role: ROLE_* */
	int flags;
#define ROUTE_NEW_IDENT 0x1 /* auth = none: a caller without one gets one */
#define ROUTE_UPGRADE   0x2 /* a websocket upgrade, checked before the role */
#define ROUTE_NO_ACCTS  0x4 /* auth = none: anyone, whatever the role */
	const char *denied; /* 403's message for a caller below who */
	void (*handler)(struct conn *, const struct http_request *,
	    const struct route_call *);
};

static void route_no_api(
    struct conn *, const struct http_request *, const struct route_call *);

static const struct route routes[] = {
    {"GET, HEAD", "/healthz", NULL, ROUTE_ANYONE, 0, NULL,
        front_static_healthz},
    {"POST", "/api/login", NULL, ROUTE_ANYONE, 0, NULL, front_auth_login},
    {"POST", "/api/logout", NULL, ROUTE_ANYONE, 0, NULL, front_auth_logout},
    {"GET", "/api/me", NULL, ROLE_ANON, 0, NULL, front_auth_me},
    {"GET", "/api/sessions", NULL, ROLE_ANON, ROUTE_NEW_IDENT, NULL,
        front_sessions_list},
    {"POST", "/api/sessions", NULL, ROLE_ANON, ROUTE_NEW_IDENT, NULL,
        front_sessions_create},
    {"GET", "/api/sessions/*", NULL, ROLE_ANON, 0, NULL, front_sessions_get},
    {"DELETE", "/api/sessions/*", NULL, ROLE_ANON, 0, NULL,
        front_sessions_delete},
    {"GET", "/api/sessions/*/recording", NULL, ROLE_ANON, 0, NULL,
        front_recordings_cast},
    {"GET", "/api/sessions/*/shares", NULL, ROLE_ANON, 0, NULL,
        front_share_list},
    {"POST", "/api/sessions/*/shares", NULL, ROLE_ANON, 0, NULL,
        front_share_make},
    {"DELETE", "/api/sessions/*/shares/*", NULL, ROLE_ANON, 0, NULL,
        front_share_revoke},
    /* Share links need no sign-in: the token is the right. */
    {"GET", "/api/shares/*", NULL, ROUTE_ANYONE, 0, NULL, front_share_get},
    {"GET", "/api/recordings", NULL, ROLE_ANON, 0, NULL, front_recordings_list},
    {"POST", "/api/sessions/*/check", NULL, ROLE_ANON, 0, NULL,
        front_lessons_check},
    {"GET", "/api/environments", NULL, ROLE_ANON, 0, NULL,
        front_environments_list},
    {"GET", "/api/lessons", NULL, ROLE_ANON, 0, NULL, front_lessons_list},
    {"GET", "/api/lessons/*", NULL, ROLE_ANON, 0, NULL, front_lessons_get},
    {NULL, "/api/**", NULL, ROUTE_ANYONE, 0, NULL, route_no_api},
    {"GET", "/ws/sessions/*", "share", ROUTE_ANYONE, ROUTE_UPGRADE, NULL,
        front_share_ws},
    {"GET", "/ws/sessions/*", NULL, ROLE_ANON, ROUTE_UPGRADE, NULL,
        front_ws_session},
    {"GET", "/ws/wall", NULL, ROLE_INSTRUCTOR, ROUTE_UPGRADE,
        "the wall is for instructors and admins", front_wall_open},
    {"GET", "/ws/**", NULL, ROUTE_ANYONE, 0, NULL, route_no_api},
    {"GET, HEAD", "/metrics", NULL, ROLE_ADMIN, ROUTE_NO_ACCTS,
        "the metrics are for admins", front_metrics_get},
    {"GET, HEAD", "/play/**", NULL, ROUTE_ANYONE, 0, NULL, front_static_page},
    {"GET, HEAD", "/sessions", NULL, ROUTE_ANYONE, 0, NULL, front_static_page},
    {"GET, HEAD", "/wall", NULL, ROUTE_ANYONE, 0, NULL, front_static_page},
    {"GET, HEAD", "/learn/*", NULL, ROUTE_ANYONE, 0, NULL, front_static_page},
    {"GET, HEAD", "/progress/*", NULL, ROUTE_ANYONE, 0, NULL,
        front_static_page},
    /* A file that is not there is 404 for every method: the handler's. */
    {NULL, "/**", NULL, ROUTE_ANYONE, 0, NULL, front_static_file},
};

static void
route_no_api(struct conn *c, const struct http_request *req,
    const struct route_call *call)
{
	front_json_error(c, 404, "no such API route", NULL);
}

/* Whether the list of methods list ("GET, HEAD") holds method. */
static int
route_has(const char *list, const char *method)
{
	size_t n = strlen(method);
	const char *s = list;

	while (*s != '\0') {
		if (strncmp(s, method, n) == 0 && (s[n] == ',' || s[n] == '\0'))
			return 1;
		s += strcspn(s, ",");
		s += strspn(s, ", ");
	}
	return 0;
}

/* Adds the methods of list to allow (ROUTE_ALLOW_LEN), each once. */
static void
route_allow_add(char *allow, const char *list)
{
	const char *s = list;
	char m[ROUTE_ALLOW_LEN];
	size_t n;

	while (*s != '\0') {
		n = strcspn(s, ",");
		snprintf(m, sizeof(m), "%.*s", (int)n, s);
		if (!route_has(allow, m)) {
			if (allow[0] != '\0')
				strlcat(allow, ", ", ROUTE_ALLOW_LEN);
			strlcat(allow, m, ROUTE_ALLOW_LEN);
		}
		s += n;
		s += strspn(s, ", ");
	}
}

/*
 * Whether path matches pattern: 1 with the '*' segments in call->arg,
 * 0 not, -1 when it would but a '*' segment is longer than ROUTE_ARG_MAX.
 */
static int
route_match(const char *pattern, const char *path, struct route_call *call)
{
	const char *p = pattern, *s = path;
	size_t n, k = 0;
	int toolong = 0;

	for (;;) {
		if (strcmp(p, "**") == 0)
			break;
		if (*p == '*') {
			if ((n = strcspn(s, "/")) == 0 || k == ROUTE_ARGS)
				return 0;
			if (n >= ROUTE_ARG_MAX)
				toolong = 1;
			else
				snprintf(call->arg[k], ROUTE_ARG_MAX, "%.*s",
				    (int)n, s);
			k++;
			p++;
			s += n;
			continue;
		}
		if (*p != *s)
			return 0;
		if (*p == '\0')
			break;
		p++;
		s++;
	}
	return toolong ? -1 : 1;
}

/* Whether req's query has parameter name, whatever its value. */
static int
route_query_has(const struct http_request *req, const char *name)
{
	char *v = NULL;
	int r;

	r = front_http_query(req, name, SIZE_MAX, &v);
	free(v);
	return r != 0;
}

/* Whether the caller may use route r. */
static int
route_role_ok(const struct route *r, const struct ident *who)
{
	if (r->who <= ROLE_ANON)
		return 1;
	if ((r->flags & ROUTE_NO_ACCTS) && !front_auth_accounts())
		return 1;
	return who != NULL && who->role >= r->who;
}

/* The upgrade and the role: 0, or -1 when c was answered. */
static int
route_checks(struct conn *c, const struct http_request *req,
    const struct route *r, struct route_call *call)
{
	if ((r->flags & ROUTE_UPGRADE) &&
	    (call->key = front_ws_upgrade(c, req)) == NULL)
		return -1;
	if (!route_role_ok(r, call->who)) {
		front_json_error(c, 403, r->denied, NULL);
		return -1;
	}
	return 0;
}

/* The caller, the upgrade and the role, then the handler of r. */
static void
route_run(struct conn *c, const struct http_request *req, const struct route *r,
    struct route_call *call)
{
	const struct ident *who = NULL;
	char *setcookie = NULL;

	if (r->who != ROUTE_ANYONE &&
	    front_auth_who(
	        c, req, r->flags & ROUTE_NEW_IDENT, &who, &setcookie) == 0)
		return;
	call->who = who;
	call->setcookie = setcookie;
	if (route_checks(c, req, r, call) == 0)
		r->handler(c, req, call);
	free(setcookie);
}

void
front_route_request(struct conn *c, const struct http_request *req)
{
	const struct route *r, *first = NULL;
	struct route_call call;
	char allow[ROUTE_ALLOW_LEN] = "", *extra;
	size_t i;
	int m;

	if (!route_has(ROUTE_METHODS, req->method)) {
		front_http_error(c, req, 501, "unknown method", NULL);
		return;
	}
	memset(&call, 0, sizeof(call));
	for (i = 0; i < sizeof(routes) / sizeof(routes[0]); i++) {
		r = &routes[i];
		if (first != NULL && strcmp(r->pattern, first->pattern) != 0)
			continue;
		if (r->query != NULL && !route_query_has(req, r->query))
			continue;
		if (first == NULL) {
			if ((m = route_match(r->pattern, req->path, &call)) ==
			    0)
				continue;
			if (m == -1) {
				front_http_error(c, req, 400,
				    "a path segment is too long", NULL);
				return;
			}
			first = r;
		}
		if (r->methods == NULL || route_has(r->methods, req->method)) {
			route_run(c, req, r, &call);
			return;
		}
		route_allow_add(allow, r->methods);
	}
	if (first == NULL) {
		front_http_error(c, req, 404, "not found", NULL);
		return;
	}
	xasprintf(&extra, "Allow: %s\r\n", allow);
	front_http_error(c, req, 405, "method not allowed", extra);
	free(extra);
}
