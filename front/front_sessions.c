/* SPDX-License-Identifier: ISC */
/*
 * The session API, a proxy to master: POST /api/sessions creates one of
 * the caller's, GET /api/sessions lists, GET and DELETE /api/sessions/ID
 * show and end one. Each request is parked (front_master.c) until
 * master's answer, which becomes the JSON of a session or a list of them.
 *
 * Authorization. A learner (or a cookie identity) sees and ends only
 * their own sessions. An instructor also sees and lists the sessions of
 * their groups' members, an admin those of everyone, and an admin may
 * end them. master checks ownership itself unless front sets
 * REQ_ANY_OWNER, which it does only for a caller whose role reaches
 * further; the answer is then checked against the caller before
 * anything of it is sent.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <yajl/yajl_gen.h>
#include <yajl/yajl_tree.h>

#include "common/http.h"
#include "common/json.h"
#include "common/log.h"
#include "common/token.h"
#include "common/xmalloc.h"
#include "front/front.h"

#define SESSION_TIME_LEN 40 /* "2024-01-02T03:04:05.123456Z" and room */
#define SESSION_WS_LEN   (sizeof("/ws/sessions/") + SESSION_ID_LEN)
#define SESSION_ERR_LEN  256
#define SESSION_WHY_LEN  96

/* A UTC timestamp of us microseconds, as JSON dates are written here. */
static void
sessions_time(char *buf, size_t len, int64_t us)
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
sessions_gen(yajl_gen g, const struct msg_session_info *i)
{
	char t[SESSION_TIME_LEN], ws[SESSION_WS_LEN];

	yajl_gen_map_open(g);
	front_json_key_str(g, "id", i->session);
	front_json_key_str(g, "owner", i->owner);
	front_json_key_str(g, "state", i->state);
	front_json_key_str(g, "image", i->image);
	sessions_time(t, sizeof(t), i->created_us);
	front_json_key_str(g, "created_at", t);
	sessions_time(t, sizeof(t), i->started_us);
	front_json_key_str(g, "started_at", i->started_us != 0 ? t : NULL);
	sessions_time(t, sizeof(t), i->ended_us);
	front_json_key_str(g, "ended_at", i->ended_us != 0 ? t : NULL);
	front_json_str(g, "exit_code");
	if (i->exit_code >= 0 && strcmp(i->state, "ended") == 0)
		yajl_gen_integer(g, i->exit_code);
	else
		yajl_gen_null(g);
	front_json_key_str(
	    g, "end_reason", i->end_reason[0] ? i->end_reason : NULL);
	front_json_key_str(g, "engine", i->engine[0] ? i->engine : NULL);
	front_json_key_str(g, "environment", i->env[0] ? i->env : NULL);
	front_json_key_str(g, "lesson", i->lesson[0] ? i->lesson : NULL);
	front_json_key_str(
	    g, "lesson_title", i->lesson[0] ? i->lesson_title : NULL);
	front_json_key_int(g, "steps", i->steps);
	front_json_key_int(g, "step", i->step);
	sessions_time(t, sizeof(t), i->step_since_us);
	front_json_key_str(g, "step_since", i->step_since_us != 0 ? t : NULL);
	front_json_key_int(g, "failed_checks", i->failed_checks);
	front_json_str(g, "last_check");
	if (i->last_check_step > 0) {
		yajl_gen_map_open(g);
		front_json_key_int(g, "step", i->last_check_step);
		front_json_str(g, "passed");
		yajl_gen_bool(g, i->last_check_passed != 0);
		sessions_time(t, sizeof(t), i->last_check_us);
		front_json_key_str(g, "at", t);
		yajl_gen_map_close(g);
	} else
		yajl_gen_null(g);
	sessions_time(t, sizeof(t), i->last_activity_us);
	front_json_key_str(
	    g, "last_activity_at", i->last_activity_us != 0 ? t : NULL);
	front_json_key_int(g, "cols", i->cols);
	front_json_key_int(g, "rows", i->rows);
	front_json_key_int(g, "viewers", i->viewers);
	snprintf(ws, sizeof(ws), "/ws/sessions/%s", i->session);
	front_json_key_str(g, "ws", ws);
	yajl_gen_map_close(g);
}

/*
 * Master's answer about one session: it, or why not. check: master may
 * have answered for any owner, so the caller's right is checked here.
 */
static void
sessions_reply(struct front_ask *p, struct conn *c,
    const struct msg_session_info *i, int check)
{
	yajl_gen g;

	if (c == NULL)
		return;
	if (i->status < 300 && check && !front_auth_may_see(&p->who, i->owner))
		front_json_error(c, 403, "this session is not yours", NULL);
	else if (i->status >= 400)
		front_json_error(c, i->status, i->message, p->setcookie);
	else if (i->status == 204)
		front_http_respond(c, 204, "application/json", "", 0, NULL);
	else {
		g = yajl_gen_alloc(NULL);
		sessions_gen(g, i);
		front_json_send(c, i->status, g, p->setcookie);
		yajl_gen_free(g);
	}
}

/* Created or ended: the caller's own, as master checked. */
static void
sessions_answer(struct front_ask *p, struct conn *c, struct msg_session_info *i)
{
	sessions_reply(p, c, i, 0);
}

static void
sessions_get_answer(
    struct front_ask *p, struct conn *c, struct msg_session_info *i)
{
	sessions_reply(p, c, i, 1);
}

static void
sessions_list_free(void *arg)
{
	yajl_gen_free(arg);
}

/* One session of master's list: listed if the caller may see it. */
static void
sessions_list_answer(
    struct front_ask *p, struct conn *c, struct msg_session_info *i)
{
	yajl_gen list = p->arg;

	if (i->status == 200 && i->session[0] != '\0' &&
	    front_auth_may_see(&p->who, i->owner))
		sessions_gen(list, i);
	if (i->more)
		return;
	yajl_gen_array_close(list);
	if (c != NULL)
		front_json_send(c, 200, list, p->setcookie);
}

/*
 * Reads {"cols": C, "rows": R, "environment": E, "lesson": L} (each
 * optional) from a create body into r.
 */
static int
sessions_body(const struct http_request *req, struct msg_session_req *r,
    char *err, size_t errlen)
{
	const char *cp[] = {"cols", NULL}, *rp[] = {"rows", NULL};
	const char *ep[] = {"environment", NULL}, *lp[] = {"lesson", NULL};
	const char **sp[] = {ep, lp};
	char *sout[] = {r->env, r->lesson};
	size_t slen[] = {sizeof(r->env), sizeof(r->lesson)};
	yajl_val tree, v;
	const char **paths[] = {cp, rp};
	int size[2] = {0, 0};
	char why[SESSION_WHY_LEN];
	size_t i;

	r->cols = r->rows = 0;
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
		    YAJL_GET_INTEGER(v) > TERM_SIZE_MAX) {
			yajl_tree_free(tree);
			snprintf(err, errlen,
			    "%s must be a whole number from 1 to %d",
			    paths[i][0], TERM_SIZE_MAX);
			return -1;
		}
		size[i] = (int)YAJL_GET_INTEGER(v);
	}
	r->cols = (uint16_t)size[0];
	r->rows = (uint16_t)size[1];
	for (i = 0; i < 2; i++) {
		const char *str;

		if ((v = yajl_tree_get(tree, sp[i], yajl_t_any)) == NULL ||
		    YAJL_IS_NULL(v))
			continue;
		str = YAJL_IS_STRING(v) ? YAJL_GET_STRING(v) : NULL;
		if (str == NULL || str[0] == '\0' || strlen(str) >= slen[i]) {
			snprintf(err, errlen,
			    "%s must be a name of 1 to %zu characters",
			    sp[i][0], slen[i] - 1);
			yajl_tree_free(tree);
			return -1;
		}
		snprintf(sout[i], slen[i], "%s", str);
	}
	yajl_tree_free(tree);
	return 0;
}

void
front_sessions_create(struct conn *c, const struct http_request *req,
    const struct route_call *call)
{
	struct msg_session_req r, body;
	struct front_ask *p;
	char err[SESSION_ERR_LEN];

	if (front_http_same_origin(c, req, call->setcookie) == -1)
		return;
	memset(&body, 0, sizeof(body));
	if (sessions_body(req, &body, err, sizeof(err)) == -1) {
		front_json_error(c, 400, err, call->setcookie);
		return;
	}
	p = front_master_park(c, call->who, call->setcookie);
	p->info = sessions_answer;
	front_master_req(&r, p, 0, NULL);
	r.cols = body.cols;
	r.rows = body.rows;
	memcpy(r.env, body.env, sizeof(r.env));
	memcpy(r.lesson, body.lesson, sizeof(r.lesson));
	front_master_send(MSG_SESSION_CREATE, &r);
}

void
front_sessions_list(struct conn *c, const struct http_request *req,
    const struct route_call *call)
{
	const struct ident *who = call->who;
	struct front_ask *p;
	yajl_gen list;

	p = front_master_park(c, who, call->setcookie);
	list = yajl_gen_alloc(NULL);
	yajl_gen_array_open(list);
	p->arg = list;
	p->arg_free = sessions_list_free;
	p->info = sessions_list_answer;
	front_master_ask(MSG_SESSION_LIST, p,
	    who != NULL && who->role >= ROLE_INSTRUCTOR ? REQ_ANY_OWNER : 0,
	    NULL, 0, 0);
}

void
front_sessions_get(struct conn *c, const struct http_request *req,
    const struct route_call *call)
{
	struct front_ask *p;

	if (front_auth_session(c, call) == -1)
		return;
	p = front_master_park(c, call->who, NULL);
	p->info = sessions_get_answer;
	front_master_ask(MSG_SESSION_GET, p,
	    call->who->role >= ROLE_INSTRUCTOR ? REQ_ANY_OWNER : 0,
	    call->arg[0], 0, 0);
}

void
front_sessions_delete(struct conn *c, const struct http_request *req,
    const struct route_call *call)
{
	struct front_ask *p;

	if (front_auth_change(c, req, call) == -1)
		return;
	p = front_master_park(c, call->who, NULL);
	p->info = sessions_answer;
	front_master_ask(MSG_SESSION_DELETE, p,
	    call->who->role == ROLE_ADMIN ? REQ_ANY_OWNER : 0, call->arg[0], 0,
	    0);
}
