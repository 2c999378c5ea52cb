/* SPDX-License-Identifier: ISC */
/*
 * libFuzzer harness for the gate of every JSON tree alia builds from
 * outside (common/json.c): the bodies of sign-in, session create and
 * share create, and the Docker daemon's answers, all read through
 * json_parse(). yajl's own event parser is the judge: run on the same
 * text with comments allowed (as json_parse's tree parser) it says how
 * deep the text really goes before yajl stops; a text that json_depth_ok()
 * passes must not go deeper than the bound, and json_parse() must either
 * build a tree or give a one-line reason. The same holds for the raw bytes
 * without comments, as the websocket's control messages are read. Inputs
 * far deeper than libFuzzer's lengths are made at start.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <yajl/yajl_parse.h>

#include "common/json.h"

int LLVMFuzzerInitialize(int *, char ***);
int LLVMFuzzerTestOneInput(const uint8_t *, size_t);

struct judge {
	int depth, max;
};

static int
judge_value(void *arg)
{
	return 1;
}

static int
judge_bool(void *arg, int b)
{
	return 1;
}

static int
judge_text(void *arg, const char *s, size_t len)
{
	return 1;
}

static int
judge_string(void *arg, const unsigned char *s, size_t len)
{
	return 1;
}

static int
judge_open(void *arg)
{
	struct judge *j = arg;

	if (++j->depth > j->max)
		j->max = j->depth;
	return 1;
}

static int
judge_close(void *arg)
{
	struct judge *j = arg;

	j->depth--;
	return 1;
}

static const yajl_callbacks judge_callbacks = {
    .yajl_null = judge_value,
    .yajl_boolean = judge_bool,
    .yajl_number = judge_text,
    .yajl_string = judge_string,
    .yajl_start_map = judge_open,
    .yajl_map_key = judge_string,
    .yajl_end_map = judge_close,
    .yajl_start_array = judge_open,
    .yajl_end_array = judge_close,
};

/* The deepest nesting yajl reaches in the text before it stops. */
static int
judge_depth(const uint8_t *p, size_t len, int comments)
{
	struct judge j = {0, 0};
	yajl_handle h;

	if ((h = yajl_alloc(&judge_callbacks, NULL, &j)) == NULL)
		abort();
	yajl_config(h, yajl_allow_comments, comments);
	if (yajl_parse(h, p, len) == yajl_status_ok)
		(void)yajl_complete_parse(h);
	yajl_free(h);
	return j.max;
}

/* json_parse() of text: a tree, or a reason on one line. */
static void
check_parse(const char *text)
{
	char err[256];
	yajl_val tree;

	err[0] = '\0';
	if ((tree = json_parse(text, err, sizeof(err))) != NULL)
		yajl_tree_free(tree);
	else if (err[0] == '\0' || strchr(err, '\n') != NULL)
		abort();
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	static const char *const shapes[][2] = {
	    {"[", "]"},
	    {"{\"a\":", "}"},
	    {"[\"\\\"\",", "]"},
	    {"/* \" */[", "]"},
	    {"// \"\n[", "]"},
	};
	size_t levels = 300000, i, k, l0, l1;
	char *s, *p;

	for (i = 0; i < sizeof(shapes) / sizeof(shapes[0]); i++) {
		l0 = strlen(shapes[i][0]);
		l1 = strlen(shapes[i][1]);
		if ((s = malloc(levels * (l0 + l1) + 1)) == NULL)
			abort();
		for (p = s, k = 0; k < levels; k++, p += l0)
			memcpy(p, shapes[i][0], l0);
		for (k = 0; k < levels; k++, p += l1)
			memcpy(p, shapes[i][1], l1);
		*p = '\0';
		if (json_parse(s, NULL, 0) != NULL)
			abort();
		check_parse(s);
		free(s);
	}
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
	char *text;

	if ((text = malloc(len + 1)) == NULL)
		abort();
	memcpy(text, data, len);
	text[len] = '\0';
	/* What a body or a Docker answer becomes: text up to a NUL. */
	if (json_depth_ok(text, strlen(text), JSON_MAX_DEPTH) &&
	    judge_depth((const uint8_t *)text, strlen(text), 1) >
	        JSON_MAX_DEPTH)
		abort();
	check_parse(text);
	/* What a websocket control message is: every byte, no comments. */
	if (json_depth_ok(data, len, JSON_MAX_DEPTH) &&
	    judge_depth(data, len, 0) > JSON_MAX_DEPTH)
		abort();
	free(text);
	return 0;
}
