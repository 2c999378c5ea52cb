/* SPDX-License-Identifier: ISC */
/*
 * The instructor's wall: GET /ws/wall?ids=ID,ID,... opens one websocket
 * that shows many terminals at once (worker/wall.c serves it). The route
 * table lets only instructors and admins this far, with the upgrade
 * checked. master's list of sessions says which of the ids are live and
 * whose; those the caller may see become the wall's tiles, in the order
 * asked, and the socket goes to master with them. None: 403.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/token.h"
#include "common/xmalloc.h"
#include "front/front.h"

/* The longest ?ids= worth reading: WALL_MAX ids and their commas. */
#define WALL_IDS_MAX (WALL_MAX * SESSION_ID_LEN)

/* A wall being put together: the sessions asked, those shown, a bit each. */
struct wall_ask {
	struct msg_wall mw;
	uint32_t shown;
};

/* One session of master's list for a wall: a tile if live and visible. */
static void
wall_info(struct front_ask *p, const struct msg_session_info *i)
{
	struct wall_ask *w = p->arg;
	uint32_t k;

	if (i->status != 200 || strcmp(i->state, "ended") == 0 ||
	    !front_auth_may_see(&p->who, i->owner))
		return;
	for (k = 0; k < w->mw.count; k++)
		if (strcmp(w->mw.sessions[k], i->session) == 0)
			w->shown |= UINT32_C(1) << k;
}

/* The list is complete: the socket and the tiles go to master. */
static void
wall_answer(struct front_ask *p, struct conn *c, struct msg_session_info *i)
{
	struct wall_ask *w = p->arg;
	struct msg_wall *mw = &w->mw;
	uint32_t k, n = 0;
	int fd;

	wall_info(p, i);
	if (i->more || c == NULL)
		return;
	for (k = 0; k < mw->count; k++)
		if (w->shown & (UINT32_C(1) << k)) {
			if (n != k)
				memcpy(mw->sessions[n], mw->sessions[k],
				    SESSION_ID_LEN);
			n++;
		}
	mw->count = n;
	if (n == 0) {
		front_json_error(c, 403,
		    "none of these sessions is live and yours to watch", NULL);
		return;
	}
	if ((fd = front_http_detach(c)) == -1) {
		front_json_error(c, 400,
		    "data was sent before the websocket handshake completed",
		    NULL);
		return;
	}
	front_master_wall(fd, mw);
}

/* The ids of ?ids=, each once and in order: their count, -1 if too long. */
static int
wall_ids(const struct http_request *req, struct msg_wall *mw)
{
	char *ids = NULL, *tok, *save = NULL;
	uint32_t i;

	if (front_http_query(req, "ids", WALL_IDS_MAX, &ids) == -1)
		return -1;
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
	return (int)mw->count;
}

void
front_wall_open(struct conn *c, const struct http_request *req,
    const struct route_call *call)
{
	struct front_ask *p;
	struct wall_ask *w;
	char err[96];
	int n;

	w = xcalloc(1, sizeof(*w));
	if ((n = wall_ids(req, &w->mw)) <= 0) {
		free(w);
		snprintf(err, sizeof(err),
		    "ids=ID,ID,... is too long: a wall shows at most %d "
		    "sessions",
		    WALL_MAX);
		front_json_error(c, 400,
		    n == -1 ? err
		            : "ids=ID,ID,... names the sessions of the wall",
		    NULL);
		return;
	}
	/* the key was checked by front_ws_upgrade, the name is OWNER_LEN */
	snprintf(w->mw.key, sizeof(w->mw.key), "%s", call->key);
	snprintf(w->mw.user, sizeof(w->mw.user), "%s", call->who->name);
	p = front_master_park(c, call->who, NULL);
	p->arg = w;
	p->arg_free = free;
	p->info = wall_answer;
	front_master_ask(MSG_SESSION_LIST, p, REQ_ANY_OWNER, NULL, 0, 0);
}
