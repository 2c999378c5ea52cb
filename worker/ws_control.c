/* SPDX-License-Identifier: ISC */
/*
 * The parser of the JSON text frames a browser sends on the terminal
 * websocket: {"type":"resize","cols":C,"rows":R}, {"type":"ping"} and
 * {"type":"control","action":"request|grant|deny|return"}. It is pure:
 * bytes in, a struct ws_control or a reason out, no I/O.
 *
 * It runs yajl's event parser rather than building a tree, so that memory
 * and time stay bounded whatever the browser sends: a message nesting
 * deeper than JSON_MAX_DEPTH is refused before it is parsed, only the
 * top-level keys it knows are remembered (a duplicate of one is refused),
 * and other values are skipped as they stream by. Numbers arrive as text
 * and are checked here: only plain integers are accepted for cols and
 * rows.
 */
#include <ctype.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <yajl/yajl_parse.h>

#include "common/json.h"
#include "common/str.h"
#include "worker/ws.h"

#define WS_CONTROL_TYPE_LEN 16

enum ws_control_key {
	KEY_OTHER,
	KEY_TYPE,
	KEY_COLS,
	KEY_ROWS,
	KEY_ACTION,
};

/* What a top-level field held. */
enum ws_control_val {
	VAL_MISSING,
	VAL_INT,    /* an integer that fits a long long */
	VAL_BIGINT, /* an integer too large to hold */
	VAL_NOTINT, /* a number with a fraction or an exponent */
	VAL_STRING,
	VAL_OTHER, /* null, a boolean, an array or an object */
};

struct ws_control_field {
	enum ws_control_val val;
	long long n;
	char s[WS_CONTROL_TYPE_LEN + 1];
	int toolong; /* the string did not fit in s */
};

struct ws_control_state {
	int depth;
	enum ws_control_key key; /* the top-level key whose value comes next */
	struct ws_control_field type, cols, rows, action;
	char err[128];
};

static int
cs_fail(struct ws_control_state *cs, const char *fmt, const char *arg)
{
	if (cs->err[0] == '\0')
		snprintf(cs->err, sizeof(cs->err), fmt, arg);
	return 0;
}

static struct ws_control_field *
cs_field(struct ws_control_state *cs)
{
	switch (cs->key) {
	case KEY_TYPE:
		return &cs->type;
	case KEY_COLS:
		return &cs->cols;
	case KEY_ROWS:
		return &cs->rows;
	case KEY_ACTION:
		return &cs->action;
	case KEY_OTHER:
		break;
	}
	return NULL;
}

/* A scalar value arrived; at depth 1 it belongs to the current key. */
static int
cs_scalar(struct ws_control_state *cs, enum ws_control_val val,
    const char *text, size_t len)
{
	struct ws_control_field *f;
	char num[32];

	if (cs->depth == 0)
		return cs_fail(cs, "message must be a JSON object%s", "");
	if (cs->depth > 1 || (f = cs_field(cs)) == NULL)
		return 1;
	f->val = val;
	if (val == VAL_STRING) {
		f->toolong = len > WS_CONTROL_TYPE_LEN;
		if (!f->toolong) {
			memcpy(f->s, text, len);
			f->s[len] = '\0';
		}
	} else if (val == VAL_INT) {
		/* yajl has checked the syntax; only the size is left. */
		if (len >= sizeof(num)) {
			f->val = VAL_BIGINT;
			return 1;
		}
		memcpy(num, text, len);
		num[len] = '\0';
		if (str_num(num, LLONG_MIN, LLONG_MAX, &f->n) == -1)
			f->val = VAL_BIGINT;
	}
	return 1;
}

static int
cs_null(void *arg)
{
	return cs_scalar(arg, VAL_OTHER, NULL, 0);
}

static int
cs_boolean(void *arg, int b)
{
	return cs_scalar(arg, VAL_OTHER, NULL, 0);
}

static int
cs_number(void *arg, const char *s, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++)
		if (s[i] == '.' || s[i] == 'e' || s[i] == 'E')
			return cs_scalar(arg, VAL_NOTINT, s, len);
	return cs_scalar(arg, VAL_INT, s, len);
}

static int
cs_string(void *arg, const unsigned char *s, size_t len)
{
	return cs_scalar(arg, VAL_STRING, (const char *)s, len);
}

/* An array or object opens: a value in itself at depth 1. */
static int
cs_open(struct ws_control_state *cs, int map)
{
	struct ws_control_field *f;

	if (cs->depth == 0 && !map)
		return cs_fail(cs, "message must be a JSON object%s", "");
	if (cs->depth == 1 && (f = cs_field(cs)) != NULL)
		f->val = VAL_OTHER;
	cs->depth++;
	return 1;
}

static int
cs_start_map(void *arg)
{
	return cs_open(arg, 1);
}

static int
cs_start_array(void *arg)
{
	return cs_open(arg, 0);
}

static int
cs_end(void *arg)
{
	struct ws_control_state *cs = arg;

	cs->depth--;
	return 1;
}

static int
cs_map_key(void *arg, const unsigned char *key, size_t len)
{
	struct ws_control_state *cs = arg;
	struct ws_control_field *f;

	if (cs->depth != 1)
		return 1;
	cs->key = KEY_OTHER;
	if (len == 4 && memcmp(key, "type", 4) == 0)
		cs->key = KEY_TYPE;
	else if (len == 4 && memcmp(key, "cols", 4) == 0)
		cs->key = KEY_COLS;
	else if (len == 4 && memcmp(key, "rows", 4) == 0)
		cs->key = KEY_ROWS;
	else if (len == 6 && memcmp(key, "action", 6) == 0)
		cs->key = KEY_ACTION;
	if ((f = cs_field(cs)) != NULL && f->val != VAL_MISSING) {
		char k[7];

		memcpy(k, key, len);
		k[len] = '\0';
		return cs_fail(cs, "duplicate key \"%s\"", k);
	}
	return 1;
}

static const yajl_callbacks cs_callbacks = {
    .yajl_null = cs_null,
    .yajl_boolean = cs_boolean,
    .yajl_number = cs_number,
    .yajl_string = cs_string,
    .yajl_start_map = cs_start_map,
    .yajl_map_key = cs_map_key,
    .yajl_end_map = cs_end,
    .yajl_start_array = cs_start_array,
    .yajl_end_array = cs_end,
};

/* Checks cols or rows of a resize; on success stores the value in out. */
static int
cs_dimension(const struct ws_control_field *f, const char *name, uint16_t *out,
    char *err, size_t errlen)
{
	switch (f->val) {
	case VAL_MISSING:
		snprintf(err, errlen, "resize: %s is missing", name);
		return -1;
	case VAL_INT:
		if (f->n < 1 || f->n > TERM_SIZE_MAX)
			break;
		*out = (uint16_t)f->n;
		return 0;
	case VAL_BIGINT:
		break;
	case VAL_NOTINT:
	case VAL_STRING:
	case VAL_OTHER:
		snprintf(err, errlen, "resize: %s must be an integer", name);
		return -1;
	}
	snprintf(err, errlen, "resize: cols and rows must be between 1 and %d",
	    TERM_SIZE_MAX);
	return -1;
}

/* Whether a type name is short printable ASCII, safe to echo back. */
static int
cs_printable(const char *s)
{
	for (; *s != '\0'; s++)
		if (!isprint((unsigned char)*s) || *s == '"' || *s == '\\')
			return 0;
	return 1;
}

int
ws_control_parse(const void *data, size_t len, struct ws_control *out,
    char *err, size_t errlen)
{
	struct ws_control_state cs;
	yajl_handle h;
	yajl_status st;
	unsigned char *msg;

	memset(&cs, 0, sizeof(cs));
	memset(out, 0, sizeof(*out));
	if (!json_depth_ok(data, len, JSON_MAX_DEPTH)) {
		snprintf(err, errlen,
		    "message nested too deeply (more than %d levels)",
		    JSON_MAX_DEPTH);
		return -1;
	}
	if ((h = yajl_alloc(&cs_callbacks, NULL, &cs)) == NULL) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	st = yajl_parse(h, data, len);
	if (st == yajl_status_ok)
		st = yajl_complete_parse(h);
	if (st != yajl_status_ok) {
		if (cs.err[0] != '\0')
			snprintf(err, errlen, "%s", cs.err);
		else {
			msg = yajl_get_error(h, 0, data, len);
			snprintf(err, errlen, "invalid JSON: %s",
			    msg != NULL ? (char *)msg : "parse error");
			/* yajl ends its message with a newline. */
			err[strcspn(err, "\r\n")] = '\0';
			if (msg != NULL)
				yajl_free_error(h, msg);
		}
		yajl_free(h);
		return -1;
	}
	yajl_free(h);

	if (cs.type.val == VAL_MISSING) {
		snprintf(err, errlen, "message has no \"type\"");
		return -1;
	}
	if (cs.type.val != VAL_STRING) {
		snprintf(err, errlen, "\"type\" must be a string");
		return -1;
	}
	if (!cs.type.toolong && strcmp(cs.type.s, "ping") == 0) {
		out->type = WS_CONTROL_PING;
		return 0;
	}
	if (!cs.type.toolong && strcmp(cs.type.s, "resize") == 0) {
		out->type = WS_CONTROL_RESIZE;
		if (cs_dimension(&cs.cols, "cols", &out->cols, err, errlen) ==
		        -1 ||
		    cs_dimension(&cs.rows, "rows", &out->rows, err, errlen) ==
		        -1)
			return -1;
		return 0;
	}
	if (!cs.type.toolong && strcmp(cs.type.s, "control") == 0) {
		static const char *const actions[] = {
		    [WS_ACTION_REQUEST] = "request",
		    [WS_ACTION_GRANT] = "grant",
		    [WS_ACTION_DENY] = "deny",
		    [WS_ACTION_RETURN] = "return",
		};
		size_t i;

		out->type = WS_CONTROL_CONTROL;
		for (i = 0; i < sizeof(actions) / sizeof(actions[0]); i++)
			if (cs.action.val == VAL_STRING && !cs.action.toolong &&
			    strcmp(cs.action.s, actions[i]) == 0) {
				out->action = (enum ws_action)i;
				return 0;
			}
		snprintf(err, errlen,
		    "control: action must be request, grant, deny or return");
		return -1;
	}
	if (!cs.type.toolong && cs_printable(cs.type.s))
		snprintf(err, errlen,
		    "unknown message type \"%s\" (expected resize, ping or "
		    "control)",
		    cs.type.s);
	else
		snprintf(err, errlen,
		    "unknown message type (expected resize, ping or control)");
	return -1;
}
