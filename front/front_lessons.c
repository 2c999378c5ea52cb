/* SPDX-License-Identifier: ISC */
/*
 * Environments and lessons. GET /api/environments lists the configured
 * environments; GET /api/lessons lists the lessons of lessons_dir and GET
 * /api/lessons/NAME gives one, split into its steps with each check block
 * taken out (the browser renders the markdown, sanitised: lesson text is
 * trusted less than code). POST /api/sessions/ID/check asks master to run
 * a step's check in the session's container; the caller must own the
 * session, or be an instructor or admin who may watch it: the owner is
 * learned from master first (SESSION_GET), then the check is asked for.
 */
#include <sys/types.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <yajl/yajl_gen.h>
#include <yajl/yajl_tree.h>

#include "common/config.h"
#include "common/http.h"
#include "common/json.h"
#include "common/lesson.h"
#include "common/log.h"
#include "common/msg.h"
#include "common/xmalloc.h"
#include "front/front.h"

#define LESSONS_LISTED 256 /* lessons a list names at most */

static struct {
	const struct config *conf;
	int dirfd; /* lessons_dir, or -1 */
} fl = {NULL, -1};

void
front_lessons_init(const struct config *c)
{
	fl.conf = c;
	if ((fl.dirfd = open(
	         c->lessons_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) == -1)
		log_warn(
		    "lessons_dir %s: no lessons are served", c->lessons_dir);
}

void
front_lessons_free(void)
{
	if (fl.dirfd != -1)
		close(fl.dirfd);
	fl.dirfd = -1;
}

void
front_environments_list(struct conn *c, const struct http_request *req,
    const struct route_call *call)
{
	yajl_gen g = yajl_gen_alloc(NULL);
	int64_t i;

	yajl_gen_array_open(g);
	for (i = 0; i < fl.conf->nenvs; i++) {
		yajl_gen_map_open(g);
		front_json_key_str(g, "name", fl.conf->env[i].name);
		front_json_key_str(g, "image", fl.conf->env[i].image);
		front_json_key_str(
		    g, "description", fl.conf->env[i].description);
		front_json_str(g, "default");
		yajl_gen_bool(g, i == 0);
		yajl_gen_map_close(g);
	}
	yajl_gen_array_close(g);
	front_json_send(c, 200, g, call->setcookie);
	yajl_gen_free(g);
}

/* The environment a lesson runs in: its own, or the default. */
static const char *
lesson_env(const struct lesson *l)
{
	return l->environment[0] != '\0' ? l->environment
	                                 : fl.conf->env[0].name;
}

static void
lesson_gen_head(yajl_gen g, const struct lesson *l)
{
	front_json_key_str(g, "name", l->name);
	front_json_key_str(g, "title", l->title);
	front_json_key_str(g, "environment", lesson_env(l));
	front_json_key_str(g, "description", l->description);
}

static int
name_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

void
front_lessons_list(struct conn *c, const struct http_request *req,
    const struct route_call *call)
{
	struct dirent *de;
	struct lesson l;
	yajl_gen g;
	char *names[LESSONS_LISTED], err[256];
	size_t n = 0, i, len;
	DIR *d = NULL;
	int fd;

	if (fl.dirfd != -1 && (fd = dup(fl.dirfd)) != -1) {
		lseek(fd, 0, SEEK_SET);
		if ((d = fdopendir(fd)) == NULL)
			close(fd);
	}
	while (d != NULL && n < LESSONS_LISTED && (de = readdir(d)) != NULL) {
		len = strlen(de->d_name);
		if (len <= 3 || strcmp(de->d_name + len - 3, ".md") != 0)
			continue;
		de->d_name[len - 3] = '\0';
		if (lesson_name_ok(de->d_name))
			names[n++] = xstrdup(de->d_name);
	}
	if (d != NULL)
		closedir(d);
	qsort(names, n, sizeof(names[0]), name_cmp);
	g = yajl_gen_alloc(NULL);
	yajl_gen_array_open(g);
	for (i = 0; i < n; i++) {
		if (lesson_load(&l, fl.dirfd, names[i], err, sizeof(err)) ==
		    -1) {
			log_warnx("lesson %s: %s; not listed", names[i], err);
			free(names[i]);
			continue;
		}
		yajl_gen_map_open(g);
		lesson_gen_head(g, &l);
		front_json_key_int(g, "steps", l.nsteps);
		yajl_gen_map_close(g);
		lesson_free(&l);
		free(names[i]);
	}
	yajl_gen_array_close(g);
	front_json_send(c, 200, g, call->setcookie);
	yajl_gen_free(g);
}

void
front_lessons_get(struct conn *c, const struct http_request *req,
    const struct route_call *call)
{
	struct lesson l;
	char err[200], msg[300];
	yajl_gen g;
	int i;

	if (fl.dirfd == -1 || !lesson_name_ok(call->arg[0]) ||
	    lesson_load(&l, fl.dirfd, call->arg[0], err, sizeof(err)) == -1) {
		if (fl.dirfd != -1 && lesson_name_ok(call->arg[0]) &&
		    errno != ENOENT) {
			log_warnx("lesson %s: %s", call->arg[0], err);
			snprintf(msg, sizeof(msg),
			    "lesson %.63s cannot be read: %s", call->arg[0],
			    err);
			front_json_error(c, 500, msg, call->setcookie);
			return;
		}
		front_json_error(c, 404, "no such lesson", call->setcookie);
		return;
	}
	g = yajl_gen_alloc(NULL);
	yajl_gen_map_open(g);
	lesson_gen_head(g, &l);
	front_json_key_str(g, "intro", l.intro);
	front_json_str(g, "steps");
	yajl_gen_array_open(g);
	for (i = 0; i < l.nsteps; i++) {
		yajl_gen_map_open(g);
		front_json_key_int(g, "n", i + 1);
		front_json_key_str(g, "title", l.step[i].title);
		front_json_key_str(g, "markdown", l.step[i].markdown);
		front_json_str(g, "check");
		yajl_gen_bool(g, l.step[i].check != NULL);
		yajl_gen_map_close(g);
	}
	yajl_gen_array_close(g);
	yajl_gen_map_close(g);
	front_json_send(c, 200, g, call->setcookie);
	yajl_gen_free(g);
	lesson_free(&l);
}

/* Master's answer to a check: {"passed", "output", ...}, or an error. */
static void
check_answer(struct front_ask *p, struct conn *c, const struct msg_check *k,
    const char *output)
{
	unsigned char *text;
	yajl_gen g;

	if (c == NULL)
		return;
	if (k->status != 200) {
		front_json_error(c, k->status, k->message, p->setcookie);
		return;
	}
	g = front_json_object();
	front_json_str(g, "passed");
	yajl_gen_bool(g, k->passed != 0);
	front_json_str(g, "output");
	/* A check prints what it likes: as UTF-8 a JSON string holds. */
	text = xmalloc(3 * (size_t)k->len + 1);
	yajl_gen_string(
	    g, text, json_utf8((const unsigned char *)output, k->len, text));
	free(text);
	front_json_key_int(g, "exit_code", k->exit_code);
	front_json_str(g, "timed_out");
	yajl_gen_bool(g, k->timed_out != 0);
	front_json_key_int(g, "step", k->step);
	if (k->message[0] != '\0')
		front_json_key_str(g, "error", k->message);
	front_json_object_send(c, 200, g, p->setcookie);
}

/* Asks master to run the check of step for session, on p's behalf. */
static void
check_ask(struct front_ask *p, const char *session, int step, uint32_t flags)
{
	struct msg_session_req r;

	p->check = check_answer;
	front_master_req(&r, p, flags, session);
	r.step = step;
	front_master_send(MSG_SESSION_CHECK, &r);
}

/* An instructor's check: master said whose session it is. */
static void
check_owner_answer(
    struct front_ask *p, struct conn *c, struct msg_session_info *i)
{
	struct front_ask *q;

	if (c == NULL)
		return;
	if (i->status >= 400) {
		front_json_error(c, i->status, i->message, p->setcookie);
		return;
	}
	if (!front_auth_may_see(&p->who, i->owner)) {
		front_json_error(c, 403, "this session is not yours", NULL);
		return;
	}
	q = front_master_park(c, &p->who, p->setcookie);
	check_ask(q, i->session, (int)(intptr_t)p->arg, REQ_ANY_OWNER);
}

/* Reads {"step": N} from a check's body; -1 with err set. */
static int
check_step(const struct http_request *req, int *step, char *err, size_t len)
{
	const char *sp[] = {"step", NULL};
	char why[96];
	yajl_val tree, v;

	if ((tree = json_parse(req->bodylen > 0 ? req->body : "", why,
	         sizeof(why))) == NULL) {
		snprintf(err, len, "the body is not accepted as JSON: %s", why);
		return -1;
	}
	v = yajl_tree_get(tree, sp, yajl_t_any);
	if (!YAJL_IS_OBJECT(tree) || v == NULL || !YAJL_IS_INTEGER(v) ||
	    YAJL_GET_INTEGER(v) < 1 || YAJL_GET_INTEGER(v) > LESSON_STEPS_MAX) {
		yajl_tree_free(tree);
		snprintf(err, len,
		    "the body must be {\"step\": N}, N a step from 1 to %d",
		    LESSON_STEPS_MAX);
		return -1;
	}
	*step = (int)YAJL_GET_INTEGER(v);
	yajl_tree_free(tree);
	return 0;
}

void
front_lessons_check(struct conn *c, const struct http_request *req,
    const struct route_call *call)
{
	struct front_ask *p;
	char err[160];
	int step;

	if (front_auth_change(c, req, call) == -1)
		return;
	if (check_step(req, &step, err, sizeof(err)) == -1) {
		front_json_error(c, 400, err, call->setcookie);
		return;
	}
	p = front_master_park(c, call->who, call->setcookie);
	if (call->who->role < ROLE_INSTRUCTOR) {
		/* master checks that the session is the caller's */
		check_ask(p, call->arg[0], step, 0);
		return;
	}
	p->info = check_owner_answer;
	p->arg = (void *)(intptr_t)step;
	front_master_ask(MSG_SESSION_GET, p, REQ_ANY_OWNER, call->arg[0], 0, 0);
}
