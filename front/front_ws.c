/* SPDX-License-Identifier: ISC */
/*
 * Websocket upgrades to a session's terminal. An upgrade is checked
 * here — request shape and version, its key, no body, our own origin,
 * the mode asked for, the caller's right to the session, no bytes sent
 * ahead of the handshake — and then the socket itself goes to master,
 * which hands it to the session's worker; the worker writes the 101.
 *
 * Authorization. A learner (or a cookie identity) runs and watches only
 * their own sessions. An instructor also watches the sessions of their
 * groups' members, an admin those of everyone; taking control of
 * someone else's terminal is not granted here. master checks ownership
 * itself unless front sets REQ_ANY_OWNER, which it does only for a
 * watcher whose role reaches further; the answer is then checked
 * against the caller before the socket goes. A share link's viewer
 * (front_share.c) was checked against the link instead.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/http.h"
#include "common/log.h"
#include "common/token.h"
#include "common/xmalloc.h"
#include "front/front.h"

#define WS_VERSION  "13"
#define WS_KEY_LEN  24 /* base64 of 16 bytes: 22 characters and "==" */
#define WS_MODE_MAX 16 /* bytes of a ?mode= worth reading */

/* A websocket parked until master says whether the session is there. */
struct ws_attach {
	struct msg_attach attach;
	int shared; /* through a share link, checked against it */
};

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

/* The session's socket goes to master, and from there to the worker. */
static void
ws_answer(struct front_ask *p, struct conn *c, struct msg_session_info *i)
{
	struct ws_attach *wa = p->arg;
	int fd;

	if (c == NULL)
		return;
	if (i->status < 300 && !wa->shared &&
	    !front_auth_may_see(&p->who, i->owner)) {
		/* master answered for any owner: the caller may not see it */
		front_json_error(c, 403, "this session is not yours", NULL);
		return;
	}
	if (i->status != 200) {
		front_json_error(c, i->status, i->message, NULL);
		return;
	}
	if (strcmp(i->state, "ended") == 0) {
		front_json_error(c, 410, "this session has ended", NULL);
		return;
	}
	if ((fd = front_http_detach(c)) == -1) {
		log_warnx("%s: data before the websocket handshake; refused",
		    front_http_peer(c));
		front_json_error(c, 400,
		    "data was sent before the websocket handshake completed",
		    NULL);
		return;
	}
	front_master_attach(fd, &wa->attach);
}

/* Parks c for master's word on session id; the attach to send then. */
static struct front_ask *
ws_park(struct conn *c, const struct ident *who, const char *key,
    const char *id, int mode)
{
	struct front_ask *p;
	struct ws_attach *wa;

	p = front_master_park(c, who, NULL);
	wa = xcalloc(1, sizeof(*wa));
	p->arg = wa;
	p->arg_free = free;
	p->info = ws_answer;
	/* id is a checked uuid, key a checked key, who->name OWNER_LEN */
	snprintf(wa->attach.session, sizeof(wa->attach.session), "%s", id);
	snprintf(wa->attach.key, sizeof(wa->attach.key), "%s", key);
	snprintf(wa->attach.owner, sizeof(wa->attach.owner), "%s", who->name);
	wa->attach.mode = mode;
	return p;
}

void
front_ws_session(struct conn *c, const struct http_request *req,
    const struct route_call *call)
{
	const char *id = call->arg[0];
	struct front_ask *p;
	struct ws_attach *wa;
	int mode;

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
	p = ws_park(c, call->who, call->key, id, mode);
	wa = p->arg;
	/* Watching reaches as far as the caller's role; control does not. */
	if (mode == ATTACH_WATCH && call->who->role >= ROLE_INSTRUCTOR)
		wa->attach.flags = REQ_ANY_OWNER | ATTACH_MAY_ASK;
	front_master_ask(MSG_SESSION_GET, p, wa->attach.flags, id, 0, 0);
}

void
front_ws_shared(struct conn *c, const char *key, const char *id,
    const char *viewer, uint32_t until_s)
{
	struct front_ask *p;
	struct ident anon;
	struct ws_attach *wa;

	memset(&anon, 0, sizeof(anon));
	snprintf(anon.name, sizeof(anon.name), "%s", viewer);
	anon.role = ROLE_ANON;
	p = ws_park(c, &anon, key, id, ATTACH_WATCH);
	wa = p->arg;
	wa->shared = 1;
	wa->attach.flags = REQ_ANY_OWNER;
	wa->attach.until_s = until_s;
	front_master_ask(MSG_SESSION_GET, p, REQ_ANY_OWNER, id, 0, 0);
}
