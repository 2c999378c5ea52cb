/* SPDX-License-Identifier: ISC */
/*
 * Websocket upgrades to a session's terminal. An upgrade is checked
 * here — request shape and version, its key, no body, our own origin,
 * the mode asked for, a caller, no bytes sent ahead of the handshake —
 * and then its socket goes to master at once, with the ask the
 * connection is parked under (front_master_attach); front neither reads
 * nor writes it meanwhile. master makes the one check of who may attach
 * and answers: 200, the socket went on to the session's worker, which
 * writes the 101 (front lets its copy go, or under TLS starts the
 * relay); or 404, 403, 410 and why, which front says on its copy. One
 * message each way per attach.
 *
 * Authorization. A learner (or a cookie identity) runs and watches only
 * their own sessions. An instructor also watches the sessions of their
 * groups' members: front sends the members it knows ("sees") with the
 * attach. An admin watches everyone's (REQ_ANY_OWNER). Taking control of
 * someone else's terminal is not granted. A share link's viewer
 * (front_share.c) was checked against the link: REQ_ANY_OWNER, for the
 * seconds the link has left.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <bsd/string.h>

#include "common/http.h"
#include "common/log.h"
#include "common/token.h"
#include "front/front.h"

#define WS_VERSION  "13"
#define WS_KEY_LEN  24 /* base64 of 16 bytes: 22 characters and "==" */
#define WS_MODE_MAX 16 /* bytes of a ?mode= worth reading */

/* Whether header hdr holds token tok in its comma-separated list. */
static int
ws_header_has(const struct http_request *req, const char *hdr, const char *tok)
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

	if (k == NULL || strlen(k) != WS_KEY_LEN ||
	    strcmp(k + WS_KEY_LEN - 2, "==") != 0)
		return 0;
	for (i = 0; i < WS_KEY_LEN - 2; i++)
		if (!isalnum((unsigned char)k[i]) && k[i] != '+' && k[i] != '/')
			return 0;
	return 1;
}

const char *
front_ws_upgrade(struct conn *c, const struct http_request *req)
{
	const char *key = http_header_get(req, "Sec-WebSocket-Key");
	const char *ver = http_header_get(req, "Sec-WebSocket-Version");

	if (req->minor != 1 || !ws_header_has(req, "Upgrade", "websocket") ||
	    !ws_header_has(req, "Connection", "upgrade")) {
		front_json_error(c, 400,
		    "a websocket upgrade request is expected here", NULL);
		return NULL;
	}
	if (ver == NULL || strcmp(ver, WS_VERSION) != 0) {
		front_json_error(c, 426, "websocket version 13 is required",
		    "Sec-WebSocket-Version: " WS_VERSION "\r\n");
		return NULL;
	}
	if (!ws_key_valid(key)) {
		front_json_error(
		    c, 400, "Sec-WebSocket-Key is missing or malformed", NULL);
		return NULL;
	}
	if (req->bodylen > 0) {
		front_json_error(
		    c, 400, "an upgrade request has no body", NULL);
		return NULL;
	}
	if (!front_http_origin_ok(c, req)) {
		log_warnx("%s: cross-origin websocket refused (Origin %s)",
		    front_http_peer(c), http_header_get(req, "Origin"));
		front_json_error(
		    c, 403, "cross-origin websocket refused", NULL);
		return NULL;
	}
	return key;
}

int
front_ws_mode(struct conn *c, const struct http_request *req, int *mode)
{
	char *m = NULL;
	int r;

	*mode = ATTACH_CONTROL;
	r = front_http_query(req, "mode", WS_MODE_MAX, &m);
	if (r == 1 && strcmp(m, "watch") == 0)
		*mode = ATTACH_WATCH;
	else if (r == -1 || (r == 1 && strcmp(m, "control") != 0)) {
		free(m);
		front_json_error(c, 400, "mode must be control or watch", NULL);
		return -1;
	}
	free(m);
	return 0;
}

/* master's word on an attach: the worker has the socket, or why not. */
static void
ws_answer(struct front_ask *p, struct conn *c, struct msg_session_info *i)
{
	if (c == NULL)
		return;
	if (i->status == 200)
		front_http_handed(c);
	else
		front_json_error(c, i->status, i->message, NULL);
}

/* The attach a for session id, as who asked it. */
static void
ws_fill(struct msg_attach *a, const struct ident *who, const char *key,
    const char *id, int mode)
{
	memset(a, 0, sizeof(*a));
	/* id is a checked uuid, key a checked key, who->name OWNER_LEN */
	strlcpy(a->session, id, sizeof(a->session));
	strlcpy(a->key, key, sizeof(a->key));
	strlcpy(a->owner, who->name, sizeof(a->owner));
	a->mode = mode;
}

/*
 * c's socket goes to master with the attach a, c parked for its answer;
 * with_sees: the caller's members go along for master's check.
 */
static void
ws_attach(struct conn *c, const struct ident *who, struct msg_attach *a,
    int with_sees)
{
	struct front_ask *p;
	int fd;

	if ((fd = front_http_handoff(c)) == -1) {
		log_warnx("%s: data before the websocket handshake; refused",
		    front_http_peer(c));
		front_json_error(c, 400,
		    "data was sent before the websocket handshake completed",
		    NULL);
		return;
	}
	p = front_master_park(c, who, NULL);
	p->info = ws_answer;
	if (front_master_attach(p, fd, a, with_sees ? p->who.sees : NULL) == -1)
		front_json_error(
		    c, 503, "the session cannot be reached now", NULL);
}

void
front_ws_session(struct conn *c, const struct http_request *req,
    const struct route_call *call)
{
	const char *id = call->arg[0];
	struct msg_attach a;
	int mode, role;

	if (front_ws_mode(c, req, &mode) == -1)
		return;
	if (!token_uuid_valid(id)) {
		front_json_error(c, 404, "no such session", NULL);
		return;
	}
	if (call->who == NULL) {
		front_json_error(
		    c, 403, "no identity: create a session first", NULL);
		return;
	}
	ws_fill(&a, call->who, call->key, id, mode);
	/* Watching reaches as far as the caller's role; control does not. */
	role = mode == ATTACH_WATCH ? call->who->role : ROLE_ANON;
	if (role >= ROLE_INSTRUCTOR)
		a.flags = ATTACH_MAY_ASK;
	if (role == ROLE_ADMIN)
		a.flags |= REQ_ANY_OWNER;
	ws_attach(c, call->who, &a, role == ROLE_INSTRUCTOR);
}

void
front_ws_shared(struct conn *c, const char *key, const char *id,
    const char *viewer, uint32_t until_s)
{
	struct msg_attach a;
	struct ident anon;

	memset(&anon, 0, sizeof(anon));
	snprintf(anon.name, sizeof(anon.name), "%s", viewer);
	anon.role = ROLE_ANON;
	ws_fill(&a, &anon, key, id, ATTACH_WATCH);
	a.flags = REQ_ANY_OWNER;
	a.until_s = until_s;
	ws_attach(c, &anon, &a, 0);
}
