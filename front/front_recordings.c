/* SPDX-License-Identifier: ISC */
/*
 * Recordings, from the database (front_db.c) rather than from master:
 * GET /api/sessions/ID/recording is the session as an asciicast v2
 * document (alia.asciicast), once alia.may_see says the caller may see
 * it; GET /api/recordings[?q=TEXT] lists the caller's visible sessions,
 * newest first, or with q those whose output holds TEXT, each with a
 * snippet (alia.search; a session with output not indexed for search is
 * listed with the marker's snippet when no hit comes first). A request
 * waits, parked, for its query's rows.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>
#include <libpq-fe.h>
#include <yajl/yajl_gen.h>

#include "common/token.h"
#include "common/xmalloc.h"
#include "front/front.h"

#define REC_SEARCH_MAX 200    /* bytes of a search's text */
#define REC_LIST_MAX   "1000" /* rows of a list, at most */
#define REC_KEYS       7      /* columns of a list's row, REC_COLS */

/* A request parked for its query's rows, gathered until it is done. */
struct rec_q {
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
rec_q_free(struct rec_q *q)
{
	if (q->body != NULL)
		evbuffer_free(q->body);
	if (q->list != NULL)
		yajl_gen_free(q->list);
	free(q);
}

static void
rec_cast_rows(enum front_db_event ev, const struct pg_result *res,
    const char *err, void *arg)
{
	struct rec_q *q = arg;
	struct conn *c;
	char *hdr;
	size_t len;

	if (ev == FRONT_DB_ROW) {
		evbuffer_add(q->body, PQgetvalue(res, 0, 0),
		    (size_t)PQgetlength(res, 0, 0));
		evbuffer_add(q->body, "\n", 1);
		return;
	}
	if ((c = front_db_parked(q->req, ev, err)) != NULL) {
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
	rec_q_free(q);
}

/* The session's owner decides; then its lines are read. */
static void
rec_cast_owner(enum front_db_event ev, const struct pg_result *res,
    const char *err, void *arg)
{
	struct rec_q *q = arg;
	const char *params[1] = {q->id};
	struct conn *c;

	if (ev == FRONT_DB_ROW) {
		q->rows++;
		q->forbidden = strcmp(PQgetvalue(res, 0, 1), "t") != 0;
		return;
	}
	if ((c = front_db_parked(q->req, ev, err)) == NULL) {
		rec_q_free(q);
		return;
	}
	if (q->rows == 0 || q->forbidden) {
		if (q->rows == 0)
			front_json_error(c, 404, "no such session", NULL);
		else
			front_json_error(
			    c, 403, "this session is not yours", NULL);
		rec_q_free(q);
		return;
	}
	q->body = evbuffer_new();
	front_db_query("SELECT line FROM alia.asciicast($1) AS a(line)", 1,
	    params, rec_cast_rows, q);
}

void
front_recordings_cast(struct conn *c, const struct http_request *req,
    const struct route_call *call)
{
	const char *id = call->arg[0];
	const char *params[2];
	struct rec_q *q;

	if (front_auth_session(c, call) == -1)
		return;
	q = xcalloc(1, sizeof(*q));
	memcpy(q->id, id, sizeof(q->id)); /* a checked uuid and its NUL */
	snprintf(q->owner, sizeof(q->owner), "%s", call->who->name);
	q->req = front_http_park(c);
	params[0] = q->id;
	params[1] = q->owner;
	front_db_query("SELECT owner, alia.may_see($2, owner) FROM "
	               "alia.sessions WHERE id = $1",
	    2, params, rec_cast_owner, q);
}

static void
rec_key_col(
    yajl_gen g, const char *k, const struct pg_result *res, int col, int number)
{
	const char *v =
	    PQgetisnull(res, 0, col) ? NULL : PQgetvalue(res, 0, col);

	if (number && v != NULL)
		front_json_key_num(g, k, v);
	else
		front_json_key_str(g, k, v);
}

static void
rec_list_rows(enum front_db_event ev, const struct pg_result *res,
    const char *err, void *arg)
{
	static const char *keys[] = {"id", "state", "created_at", "ended_at",
	    "exit_code", "end_reason", "bytes", "snippet"};
	struct rec_q *q = arg;
	struct conn *c;
	int i;

	if (ev == FRONT_DB_ROW) {
		yajl_gen_map_open(q->list);
		for (i = 0; i < (q->search ? REC_KEYS + 1 : REC_KEYS); i++)
			rec_key_col(q->list, keys[i], res, i, i == 4 || i == 6);
		yajl_gen_map_close(q->list);
		return;
	}
	if ((c = front_db_parked(q->req, ev, err)) != NULL) {
		yajl_gen_array_close(q->list);
		front_json_send(c, 200, q->list, NULL);
	}
	rec_q_free(q);
}

#define REC_COLS                                                           \
	"s.id, s.state, "                                                  \
	"to_char(s.created_at AT TIME ZONE 'UTC', "                        \
	"'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"'), "                           \
	"to_char(s.ended_at AT TIME ZONE 'UTC', "                          \
	"'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"'), "                           \
	"CASE WHEN s.state = 'ended' THEN s.exit_code END, s.end_reason, " \
	"alia.session_bytes(s.id)"

/* No identity, no sessions: []. */
static void
rec_list_none(struct conn *c)
{
	yajl_gen g;

	g = yajl_gen_alloc(NULL);
	yajl_gen_array_open(g);
	yajl_gen_array_close(g);
	front_json_send(c, 200, g, NULL);
	yajl_gen_free(g);
}

void
front_recordings_list(struct conn *c, const struct http_request *req,
    const struct route_call *call)
{
	const struct ident *who = call->who;
	const char *params[3];
	struct rec_q *q;
	char *text = NULL, err[80];

	if (who == NULL) {
		rec_list_none(c);
		return;
	}
	if (front_http_query(req, "q", REC_SEARCH_MAX, &text) == -1) {
		snprintf(err, sizeof(err), "q must be text of at most %d bytes",
		    REC_SEARCH_MAX);
		front_json_error(c, 400, err, NULL);
		return;
	}
	if (text != NULL && text[0] == '\0') {
		free(text);
		text = NULL;
	}
	q = xcalloc(1, sizeof(*q));
	q->search = text != NULL;
	q->list = yajl_gen_alloc(NULL);
	yajl_gen_array_open(q->list);
	q->req = front_http_park(c);
	params[0] = who->name;
	params[1] = text;
	/* the search itself narrowed to the caller's own, when that is all */
	params[2] = who->role >= ROLE_INSTRUCTOR ? NULL : who->name;
	if (text == NULL)
		front_db_query("SELECT " REC_COLS
		               " FROM alia.sessions s WHERE alia.may_see($1, "
		               "s.owner) ORDER BY s.created_at DESC, s.id "
		               "LIMIT " REC_LIST_MAX,
		    1, params, rec_list_rows, q);
	else
		front_db_query(
		    "SELECT " REC_COLS ", h.snippet "
		    "FROM alia.sessions s JOIN ("
		    "SELECT DISTINCT ON (f.session_id) f.session_id, "
		    "f.snippet FROM alia.search($2, $3) f "
		    "ORDER BY f.session_id, f.snippet LIKE "
		    "'[not indexed for search:%', f.seq) h "
		    "ON h.session_id = s.id WHERE alia.may_see($1, s.owner) "
		    "ORDER BY s.created_at DESC, s.id LIMIT " REC_LIST_MAX,
		    3, params, rec_list_rows, q);
	free(text);
}
