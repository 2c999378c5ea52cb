/* SPDX-License-Identifier: ISC */
/*
 * recorder/recorder_search.c against a database that the test answers by
 * hand (recorder_db_query is this file's): what the recorder writes to
 * alia.search_add when the database is slow and search text waits past
 * its bound. Every session's output is then either text or a marker that
 * says it was not indexed; nothing is left out silently.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

#include "common/xmalloc.h"
#include "recorder/recorder.h"
#include "tests/unit/unit.h"

#define SESSIONS  200
#define EVENT_LEN 60000

/* The one alia.search_add in flight: its arrays, and whom to answer. */
static struct {
	int pending;
	char *params[7];
	recorder_db_query_cb cb;
	void *arg;
} db;

void
recorder_db_query(struct recorder_db *d, const char *sql, int n,
    const char *const *params, recorder_db_query_cb cb, void *arg)
{
	int i;

	assert_int_equal(db.pending, 0);
	assert_int_equal(n, 7);
	assert_non_null(strstr(sql, "alia.search_add"));
	for (i = 0; i < 7; i++)
		db.params[i] = xstrdup(params[i]);
	db.cb = cb;
	db.arg = arg;
	db.pending = 1;
}

/* Seen per session: text rows, markers, and the bytes the markers skip. */
static struct {
	int text, markers;
	unsigned long long skipped;
} seen[SESSIONS];

/* The i-th element of a "{a,b,...}" array of numbers or uuids. */
static void
array_at(const char *arr, int i, char *out, size_t len)
{
	const char *p = arr + 1, *end;

	while (i-- > 0)
		p = strchr(p, ',') + 1;
	end = p + strcspn(p, ",}");
	snprintf(out, len, "%.*s", (int)(end - p), p);
}

/* Answers the write in flight as done; counts its rows. */
static void
db_answer(void)
{
	static const int done = 1;
	recorder_db_query_cb cb = db.cb;
	char id[64], skipped[32];
	int rows, i, s;

	rows = 1;
	for (i = 0; db.params[1][i] != '\0'; i++)
		rows += db.params[1][i] == ',';
	for (i = 0; i < rows; i++) {
		array_at(db.params[0], i, id, sizeof(id));
		s = atoi(id + 24);
		assert_true(s >= 0 && s < SESSIONS);
		array_at(db.params[5], i, skipped, sizeof(skipped));
		if (strcmp(skipped, "NULL") == 0)
			seen[s].text++;
		else {
			seen[s].markers++;
			seen[s].skipped += strtoull(skipped, NULL, 10);
		}
	}
	for (i = 0; i < 7; i++)
		free(db.params[i]);
	db.pending = 0;
	cb((const struct pg_result *)&done, db.arg);
}

/*
 * 200 sessions print 60 KB each at once, more than the 8 MiB of text that
 * may wait: the first ones are indexed, and every other one is a marker
 * of its 60 KB, none dropped.
 */
static void
test_full_queue_marks(void **state)
{
	struct recorder_search *st[SESSIONS];
	struct event_base *base;
	char id[64], *data;
	int i, text = 0, marked = 0, writes = 0;

	(void)state;
	memset(seen, 0, sizeof(seen));
	base = event_base_new();
	assert_non_null(base);
	recorder_search_init(base, NULL);
	data = xmalloc(EVENT_LEN);
	memset(data, 'a', EVENT_LEN);
	for (i = 0; i < SESSIONS; i++) {
		snprintf(id, sizeof(id), "00000000-0000-0000-0000-%012d", i);
		st[i] = recorder_search_new(id);
		recorder_search_add(st[i], 1, 1000000 + i, data, EVENT_LEN);
	}
	recorder_search_flush();
	while (db.pending) {
		db_answer();
		writes++;
	}
	assert_true(recorder_search_idle());
	for (i = 0; i < SESSIONS; i++) {
		assert_int_equal(seen[i].text + seen[i].markers, 1);
		if (seen[i].markers == 1) {
			assert_int_equal(seen[i].skipped, EVENT_LEN);
			marked++;
		} else
			text++;
	}
	/* 8 MiB of text is about 140 events of 60 KB; the rest is marked. */
	assert_in_range(text, 130, 150);
	assert_int_equal(text + marked, SESSIONS);
	assert_true(writes > 1);
	for (i = 0; i < SESSIONS; i++)
		recorder_search_free(st[i]);
	/* Ending a session with nothing kept writes nothing more. */
	assert_false(db.pending);
	recorder_search_end();
	free(data);
	event_base_free(base);
}

UNIT_MAIN(cmocka_unit_test(test_full_queue_marks))
