/* SPDX-License-Identifier: ISC */
/*
 * The worker's event log (worker/record.c): seq numbering across kinds,
 * coalescing of output and input by time and size, cuts on UTF-8
 * boundaries, masking of unechoed input, retention until acked, resends
 * from a seq, and the backpressure marks; and the journal, through which a
 * log killed at any moment is taken up again without a gap. Every event
 * the log sends is captured here and checked.
 */
#include <sys/mman.h>
#include <sys/stat.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "common/proto.h"
#include "worker/worker.h"

#define T0 INT64_C(1700000000000000)
#define MS INT64_C(1000)

struct sent {
	struct msg_event e;
	unsigned char *data;
};

static struct {
	struct sent *ev;
	size_t n, cap;
	int refuse; /* the send callback answers -1: no broker */
} cap;

static int
capture(const struct msg_event *e, const void *data, void *arg)
{
	if (cap.refuse)
		return -1;
	if (cap.n == cap.cap) {
		cap.cap = cap.cap ? cap.cap * 2 : 64;
		cap.ev = realloc(cap.ev, cap.cap * sizeof(*cap.ev));
		assert_non_null(cap.ev);
	}
	cap.ev[cap.n].e = *e;
	cap.ev[cap.n].data = malloc(e->len + 1);
	assert_non_null(cap.ev[cap.n].data);
	memcpy(cap.ev[cap.n].data, data, e->len);
	cap.ev[cap.n].data[e->len] = '\0';
	cap.n++;
	return 0;
}

static void
cap_reset(void)
{
	size_t i;

	for (i = 0; i < cap.n; i++)
		free(cap.ev[i].data);
	cap.n = 0;
	cap.refuse = 0;
}

/* The data of every captured input event, joined. */
static const char *
input_of(void)
{
	static char buf[4096];
	size_t i, n = 0, len;

	buf[0] = '\0';
	for (i = 0; i < cap.n; i++) {
		if (cap.ev[i].e.kind != 'i')
			continue;
		len = strlen((const char *)cap.ev[i].data);
		if (n + len >= sizeof(buf))
			break;
		memcpy(buf + n, cap.ev[i].data, len + 1);
		n += len;
	}
	return buf;
}

static struct record *
new_log(int mask)
{

	cap_reset();
	return record_new(T0, mask, 0, NULL, capture, NULL);
}

static void
check_event(size_t i, uint64_t seq, char kind, const char *data)
{
	assert_true(i < cap.n);
	assert_int_equal(cap.ev[i].e.seq, seq);
	assert_int_equal(cap.ev[i].e.kind, kind);
	assert_int_equal(cap.ev[i].e.len, strlen(data));
	assert_memory_equal(cap.ev[i].data, data, strlen(data));
}

/* Many small outputs within 500 ms make one event, timed by the first. */
static void
test_coalesce_output(void **state)
{
	struct record *r = new_log(1);
	int i;

	for (i = 0; i < 40; i++)
		record_output(r, T0 + 100 * MS + i * 10 * MS, "ab", 2);
	assert_int_equal(cap.n, 0);
	assert_int_equal(record_deadline(r), T0 + 600 * MS);
	record_tick(r, T0 + 599 * MS);
	assert_int_equal(cap.n, 0);
	record_tick(r, T0 + 600 * MS);
	assert_int_equal(cap.n, 1);
	assert_int_equal(cap.ev[0].e.len, 80);
	assert_int_equal(cap.ev[0].e.t_us, 100 * MS);
	assert_int_equal(record_deadline(r), -1);
	record_output(r, T0 + 700 * MS, "c", 1);
	record_flush(r, T0 + 701 * MS);
	check_event(1, 1, 'o', "c");
	assert_int_equal(cap.ev[1].e.t_us, 700 * MS);
	record_free(r);
}

/* Bulk output is cut into 64 KiB events, never inside a character. */
static void
test_cut_64k(void **state)
{
	static const struct {
		size_t pad; /* ASCII bytes before a run of 3-byte characters */
		size_t chunk;
	} cases[] = {
	    {0, 1},
	    {0, 4096},
	    {1, 4096},
	    {2, 1000},
	    {65535, 7},
	    {65534, 65536},
	};
	static const unsigned char euro[] = {0xe2, 0x82, 0xac};
	unsigned char *all, *got;
	size_t c, total, i, off, n, sum;
	struct record *r;

	total = 3 * RECORD_EVENT_MAX + 5;
	all = malloc(total);
	got = malloc(total);
	assert_non_null(all);
	assert_non_null(got);
	for (c = 0; c < sizeof(cases) / sizeof(cases[0]); c++) {
		memset(all, 'x', cases[c].pad);
		for (i = cases[c].pad; i < total; i++)
			all[i] = euro[(i - cases[c].pad) % 3];
		n = total - (total - cases[c].pad) % 3;
		r = new_log(1);
		for (off = 0; off < n; off += cases[c].chunk)
			record_output(r, T0, all + off,
			    n - off < cases[c].chunk ? n - off
			                             : cases[c].chunk);
		record_flush(r, T0 + 1);
		sum = 0;
		for (i = 0; i < cap.n; i++) {
			assert_int_equal(cap.ev[i].e.seq, i);
			assert_true(cap.ev[i].e.len <= RECORD_EVENT_MAX);
			assert_true(cap.ev[i].e.len >= RECORD_EVENT_MAX - 3 ||
			    i == cap.n - 1);
			/* Every event ends on a whole character. */
			if (sum + cap.ev[i].e.len > cases[c].pad)
				assert_int_equal(
				    (sum + cap.ev[i].e.len - cases[c].pad) % 3,
				    0);
			memcpy(got + sum, cap.ev[i].data, cap.ev[i].e.len);
			sum += cap.ev[i].e.len;
		}
		assert_int_equal(sum, n);
		assert_memory_equal(got, all, n);
		assert_true(cap.n >= 3);
		record_free(r);
	}
	free(all);
	free(got);
}

/* A character split across reads stays whole when the timer cuts. */
static void
test_utf8_split_on_timer(void **state)
{
	struct record *r = new_log(1);

	record_output(r, T0, "ab\xe2\x82", 4);
	record_tick(r, T0 + 500 * MS);
	check_event(0, 0, 'o', "ab");
	record_output(r, T0 + 510 * MS, "\xac!", 2);
	record_tick(r, T0 + 1100 * MS);
	check_event(1, 1, 'o', "\xe2\x82\xac!");
	/* A lone incomplete tail goes out when its time is up. */
	record_output(r, T0 + 1200 * MS, "\xf0\x9f", 2);
	record_tick(r, T0 + 1700 * MS);
	check_event(2, 2, 'o', "\xf0\x9f");
	assert_int_equal(cap.n, 3);
	record_free(r);
}

/* Typing at 10 keys/s gives a row per 500 ms, not one per key. */
static void
test_typing_rows(void **state)
{
	struct record *r = new_log(1);
	int64_t t;
	int i;

	for (i = 0; i < 200; i++) {
		t = T0 + i * 100 * MS;
		record_tick(r, t);
		record_input(r, t, "k", 1);
		record_output(r, t + 5 * MS, "k", 1);
		record_tick(r, t + 5 * MS);
	}
	record_flush(r, T0 + 20000 * MS);
	assert_true(cap.n < 100);
	assert_true(cap.n >= 60);
	for (i = 0; i < (int)cap.n; i++) {
		assert_int_equal(cap.ev[i].e.seq, i);
		assert_null(memchr(cap.ev[i].data, '*', cap.ev[i].e.len));
	}
	record_free(r);
}

/* seq counts every kind in order; a resize or marker flushes first. */
static void
test_seq_across_kinds(void **state)
{
	struct record *r = new_log(0);

	record_output(r, T0 + 1 * MS, "out1", 4);
	record_input(r, T0 + 2 * MS, "in1", 3);
	record_resize(r, T0 + 3 * MS, 120, 40);
	record_marker(r, T0 + 4 * MS, "join control anon-1");
	record_input(r, T0 + 5 * MS, "x", 1);
	record_output(r, T0 + 6 * MS, "y", 1);
	record_marker(r, T0 + 7 * MS, "resync");
	check_event(0, 0, 'o', "out1");
	check_event(1, 1, 'i', "in1");
	check_event(2, 2, 'r', "120x40");
	check_event(3, 3, 'm', "join control anon-1");
	check_event(4, 4, 'i', "x");
	check_event(5, 5, 'o', "y");
	check_event(6, 6, 'm', "resync");
	assert_int_equal(cap.ev[2].e.t_us, 3 * MS);
	assert_int_equal(record_next_seq(r), 7);
	assert_int_equal(record_unacked_events(r), 7);
	record_free(r);
}

/* Masking: echoed keys, unechoed keys, control bytes, escapes. */
static void
test_masking(void **state)
{
	static const struct {
		const char *typed;
		const char *echo; /* output after 50 ms, NULL: none */
		int mask;
		const char *want;
	} cases[] = {
	    {"ls -l\r", "ls -l\r\n", 1, "ls -l\r"},
	    {"secret\r", NULL, 1, "******\r"},
	    {"secret\r", "\r\n", 1, "******\r"},
	    {"secret\r", NULL, 0, "secret\r"},
	    {"\x03", NULL, 1, "\x03"},
	    {"\x1b[A\x1bOB\x1b"
	     "b\x7f",
	        NULL, 1,
	        "\x1b[A\x1bOB\x1b"
	        "b\x7f"},
	    {"abc",
	        "\x1b[1ma\x1b[0mb\x1b]0;t\x07"
	        "c",
	        1, "abc"},
	    {"abc", "\x1b[1ma\x1b[0mbxc", 1, "ab*"},
	    {"abc", "ac", 1, "a**"},
	    /* a prompt after Enter is no echo of a password's digits */
	    {"pw1234\r", "\r\n\x1b[1;34m~\x1b[0m$ 1234", 1, "******\r"},
	    {"pw", "", 1, "**"},
	};
	struct record *r;
	size_t c;

	for (c = 0; c < sizeof(cases) / sizeof(cases[0]); c++) {
		r = new_log(cases[c].mask);
		record_input(r, T0, cases[c].typed, strlen(cases[c].typed));
		if (cases[c].echo != NULL)
			record_output(r, T0 + 50 * MS, cases[c].echo,
			    strlen(cases[c].echo));
		record_tick(r, T0 + 500 * MS);
		record_flush(r, T0 + 500 * MS);
		assert_true(cap.n >= 1);
		assert_int_equal(cap.ev[0].e.kind, 'i');
		assert_string_equal(cap.ev[0].data, cases[c].want);
		record_free(r);
	}
}

/*
 * A password typed key by key at a no-echo prompt: the keys typed long
 * enough before Enter are masked by their timeout; at Enter, the last ones
 * (still waiting) are masked too, even if later output holds them.
 */
static void
test_line_masked(void **state)
{
	struct record *r = new_log(1);
	const char *pw = "hunter2-c0ffee";
	size_t i, n = strlen(pw);

	for (i = 0; i < n; i++)
		record_input(r, T0 + (int64_t)i * 50 * MS, pw + i, 1);
	record_input(r, T0 + (int64_t)n * 50 * MS, "\r", 1);
	/* output after Enter that holds the last characters */
	record_output(r, T0 + (int64_t)n * 50 * MS + 10 * MS, "\r\nffee", 6);
	record_tick(r, T0 + 5000 * MS);
	record_flush(r, T0 + 5000 * MS);
	assert_true(cap.n >= 1);
	assert_string_equal(input_of(), "**************\r");
	record_free(r);

	/* a normal line, echoed key by key, stays as typed */
	r = new_log(1);
	pw = "ls -l";
	for (i = 0; i < 5; i++) {

		record_input(r, T0 + (int64_t)i * 50 * MS, pw + i, 1);
		record_output(r, T0 + (int64_t)i * 50 * MS + MS, pw + i, 1);
	}
	record_input(r, T0 + 300 * MS, "\r", 1);
	record_tick(r, T0 + 5000 * MS);
	record_flush(r, T0 + 5000 * MS);
	assert_string_equal(input_of(), "ls -l\r");
	record_free(r);
}

/* An echo later than RECORD_ECHO_US does not count; one in time does. */

static void
test_echo_window(void **state)
{
	static const struct {
		int64_t delay;
		const char *want;
	} cases[] = {
	    {0, "a"},
	    {RECORD_ECHO_US - MS, "a"},
	    {RECORD_ECHO_US, "*"},
	    {RECORD_ECHO_US + 150 * MS, "*"},
	};
	struct record *r;
	size_t c;

	for (c = 0; c < sizeof(cases) / sizeof(cases[0]); c++) {
		r = new_log(1);
		/* a prompt: the window runs from the keys on */
		record_output(r, T0 - 1000 * MS, "$ ", 2);
		record_tick(r, T0 - 400 * MS);
		cap_reset();
		record_input(r, T0, "a", 1);
		record_output(r, T0 + cases[c].delay, "a", 1);
		record_tick(r, T0 + 500 * MS);
		assert_string_equal(cap.ev[0].data, cases[c].want);
		record_free(r);
	}
}

/*
 * What a terminal did with typed keys, as the log sees it: input and
 * output in time order; the recorded input must hold what was echoed as
 * typed and one '*' for each character that was not.
 */
static void
test_masking_sequences(void **state)
{
	static const struct {
		const char *what;
		struct {
			int64_t ms; /* from T0 */
			char kind;  /* 'i' typed, 'o' printed */
			const char *data;
		} steps[8];
		const char *want;
	} cases[] = {
	    {"a line pasted with the password at a no-echo prompt",
	        {{0, 'o', "Password: "}, {1000, 'i', "hunter2\rls -l\r"},
	            {1010, 'o', "\r\n"},
	            {1020, 'o', "\x1b[01;32muser@box\x1b[00m:~$ ls -l\r\n"},
	            {1030, 'o', "total 0\r\n"}},
	        "*******\rls -l\r"},
	    {"a line pasted right after a password typed key by key",
	        {{0, 'o', "Password: "}, {1000, 'i', "h"}, {1100, 'i', "u"},
	            {1200, 'i', "n"}, {1300, 'i', "t\r"},
	            {1305, 'i', "ls -l\r"}, {1320, 'o', "\r\n$ ls -l\r\n"}},
	        "****\rls -l\r"},
	    {"what the shell prints after a key in mid-line is no prompt",
	        {{0, 'o', "x: "}, {1000, 'i', "e"}, {1010, 'o', "e\r\n"},
	            {1020, 'i', "6\r"}, {1030, 'o', "got-6\r\n$ "}},
	        "e*\r"},
	    {"a line typed before the shell printed anything",
	        {{0, 'i', "ls\r"}, {100, 'i', "pwd\r"},
	            {900, 'o', "\x1b]0;user@box: ~\x07user@box:~$ ls\r\n"},
	            {950, 'o', "$ pwd\r\n/home/user\r\n$ "}},
	        "ls\rpwd\r"},
	    {"CJK echoed as one '?' per byte",
	        {{0, 'o', "$ "}, {1000, 'i', "echo \xe4\xbd\xa0\xe5\xa5\xbd\r"},
	            {1010, 'o', "echo ??????\r\n??????\r\n$ "}},
	        "echo \xe4\xbd\xa0\xe5\xa5\xbd\r"},
	    {"CJK echoed as one '?' per character",
	        {{0, 'o', "$ "}, {1000, 'i', "\xe4\xbd\xa0\xe5\xa5\xbd"},
	            {1010, 'o', "??"}},
	        "\xe4\xbd\xa0\xe5\xa5\xbd"},
	    {"CJK echoed as typed, split between reads",
	        {{0, 'o', "$ "}, {1000, 'i', "\xe4\xbd\xa0x"},
	            {1010, 'o', "\xe4\xbd"}, {1020, 'o', "\xa0x"}},
	        "\xe4\xbd\xa0x"},
	    {"one '*' per character of an unechoed password",
	        {{0, 'o', "Password: "},
	            {1000, 'i', "p\xc3\xa4ssw\xc3\xb6rd\r"},
	            {1010, 'o', "\r\n"}},
	        "********\r"},
	    {"an unechoed CJK password, then a prompt holding it",
	        {{0, 'o', "Password: "},
	            {1000, 'i', "\xe5\xaf\x86\xe7\xa0\x81\r"},
	            {1010, 'o', "\r\n\xe5\xaf\x86\xe7\xa0\x81$ "}},
	        "**\r"},
	    {"a password pasted with Enter, the prompt after it holds its end",
	        {{0, 'o', "Password: "}, {1000, 'i', "pw1234\r"},
	            {1050, 'o', "\r\n\x1b[1;34m~\x1b[0m$ 1234"}},
	        "******\r"},
	    {"a password whose prompt prints no newline after it",
	        {{0, 'o', "Password: "}, {1000, 'i', "s3cret\r"},
	            {1100, 'o', "$ "}, {1500, 'o', "s3cret"}},
	        "******\r"},
	};
	struct record *r;
	size_t c, s;
	int64_t t;
	int bad = 0;

	for (c = 0; c < sizeof(cases) / sizeof(cases[0]); c++) {
		r = new_log(1);
		t = T0;
		for (s = 0; s < 8 && cases[c].steps[s].data != NULL; s++) {
			t = T0 + cases[c].steps[s].ms * MS;
			record_tick(r, t);
			if (cases[c].steps[s].kind == 'i')
				record_input(r, t, cases[c].steps[s].data,
				    strlen(cases[c].steps[s].data));
			else
				record_output(r, t, cases[c].steps[s].data,
				    strlen(cases[c].steps[s].data));
		}
		record_tick(r, t + 5000 * MS);
		record_flush(r, t + 5000 * MS);
		if (strcmp(input_of(), cases[c].want) != 0) {
			print_error("%s: recorded \"%s\", want \"%s\"\n",
			    cases[c].what, input_of(), cases[c].want);
			bad++;
		}
		record_free(r);
	}
	assert_int_equal(bad, 0);
}

/* Keys still waiting for their echo at the timer move to the next event. */
static void
test_waiting_keys_carried(void **state)
{
	struct record *r = new_log(1);

	record_input(r, T0, "a", 1);
	record_output(r, T0 + 10 * MS, "a", 1);
	record_input(r, T0 + 450 * MS, "b", 1);
	record_tick(r, T0 + 500 * MS);
	check_event(0, 0, 'i', "a");
	assert_int_equal(cap.n, 1);
	record_output(r, T0 + 520 * MS, "b", 1);
	/* Both are due; the output's first byte is older, so it goes first. */
	record_tick(r, T0 + 950 * MS);
	check_event(1, 1, 'o', "ab");
	check_event(2, 2, 'i', "b");
	assert_int_equal(cap.ev[2].e.t_us, 450 * MS);
	record_free(r);
}

/* Acks drop events; resends send exactly the unacked ones from a seq. */
static void
test_retention(void **state)
{
	struct record *r = new_log(0);
	char buf[16];
	int i;

	cap.refuse = 1; /* no broker yet: events accumulate */
	for (i = 0; i < 10; i++) {
		snprintf(buf, sizeof(buf), "m%d", i);
		record_marker(r, T0 + i, buf);
	}
	assert_int_equal(cap.n, 0);
	assert_int_equal(record_unacked_events(r), 10);
	cap.refuse = 0;
	record_resend(r, 0);
	assert_int_equal(cap.n, 10);
	record_ack(r, 3);
	assert_int_equal(record_unacked_events(r), 6);
	assert_int_equal(record_unacked(r), 12);
	cap_reset();
	record_resend(r, 0);
	assert_int_equal(cap.n, 6);
	for (i = 0; i < 6; i++)
		check_event((size_t)i, (uint64_t)i + 4, 'm',
		    (const char *[]){"m4", "m5", "m6", "m7", "m8", "m9"}[i]);
	cap_reset();
	record_resend(r, 7);
	assert_int_equal(cap.n, 3);
	check_event(0, 7, 'm', "m7");
	/* An old ack changes nothing; an ack past the end drops all. */
	record_ack(r, 2);
	assert_int_equal(record_unacked_events(r), 6);
	record_ack(r, 9);
	assert_int_equal(record_unacked_events(r), 0);
	assert_int_equal(record_unacked(r), 0);
	cap_reset();
	record_resend(r, 0);
	assert_int_equal(cap.n, 0);
	record_marker(r, T0 + 20, "next");
	check_event(0, 10, 'm', "next");
	record_free(r);
}

/* Reading stops past 16 MiB unacked and starts again under 8 MiB. */
static void
test_backpressure(void **state)
{
	static const struct {
		size_t add_kib; /* output added, then all flushed */
		uint64_t ack;   /* acks up to this seq, UINT64_MAX: none */
		int want;
	} steps[] = {
	    {8 * 1024, UINT64_MAX, 0},
	    {8 * 1024, UINT64_MAX, 0}, /* exactly 16 MiB: not over */
	    {1, UINT64_MAX, 1},
	    {0, 63, 1},  /* 12 MiB left: still blocked */
	    {0, 127, 1}, /* 8 MiB + 1 KiB left */
	    {0, 128, 0}, /* 8 MiB - 63 KiB */
	    {4 * 1024, UINT64_MAX, 0},
	    {5 * 1024, UINT64_MAX, 1},
	};
	static unsigned char kib[1024];
	struct record *r = new_log(0);
	size_t s, i;

	cap.refuse = 1;
	memset(kib, 'z', sizeof(kib));
	for (s = 0; s < sizeof(steps) / sizeof(steps[0]); s++) {
		for (i = 0; i < steps[s].add_kib; i++)
			record_output(r, T0, kib, sizeof(kib));
		if (steps[s].ack != UINT64_MAX)
			record_ack(r, steps[s].ack);
		assert_int_equal(record_blocked(r), steps[s].want);
	}
	record_free(r);
}

/* The journal's record layout, as journal.c writes it. */
struct disk_rec {
	uint8_t type, kind;
	uint16_t pad;
	uint32_t len;
	int64_t t;
	uint64_t seq, pos;
};

static uint64_t rnd_state = 88172645463325252ULL;
static uint64_t max_out;     /* record_max of the logs reopen makes */
static size_t limit_markers; /* check_stream: the limit's markers seen */
#define LIMIT_MARKER "recording stopped: output reached record_max ("

static uint64_t
rnd(void)
{
	rnd_state ^= rnd_state << 13;
	rnd_state ^= rnd_state >> 7;
	rnd_state ^= rnd_state << 17;
	return rnd_state;
}

static int
by_seq(const void *a, const void *b)
{
	const struct sent *x = a, *y = b;

	return x->e.seq < y->e.seq ? -1 : x->e.seq > y->e.seq;
}

/*
 * Every captured event, each seq once: checks that seqs run from 0
 * without a gap, that copies of one seq agree, and that the output
 * events joined are exactly want. Returns the number of input bytes.
 */
static size_t
check_stream(const unsigned char *want, size_t wantlen)
{
	size_t i, off = 0, in = 0;
	uint64_t next = 0;

	qsort(cap.ev, cap.n, sizeof(*cap.ev), by_seq);
	for (i = 0; i < cap.n; i++) {
		if (i > 0 && cap.ev[i].e.seq == cap.ev[i - 1].e.seq) {
			assert_int_equal(
			    cap.ev[i].e.kind, cap.ev[i - 1].e.kind);
			assert_int_equal(
			    cap.ev[i].e.t_us, cap.ev[i - 1].e.t_us);
			assert_int_equal(cap.ev[i].e.len, cap.ev[i - 1].e.len);
			assert_memory_equal(cap.ev[i].data, cap.ev[i - 1].data,
			    cap.ev[i].e.len);
			continue;
		}
		assert_int_equal(cap.ev[i].e.seq, next);
		next++;
		if (cap.ev[i].e.kind == 'o') {
			assert_true(off + cap.ev[i].e.len <= wantlen);
			assert_memory_equal(
			    cap.ev[i].data, want + off, cap.ev[i].e.len);
			off += cap.ev[i].e.len;
		} else if (cap.ev[i].e.kind == 'i')
			in += cap.ev[i].e.len;
		else if (cap.ev[i].e.kind == 'm' &&
		    strncmp((const char *)cap.ev[i].data, LIMIT_MARKER,
		        strlen(LIMIT_MARKER)) == 0) {
			/* after all the output it lets through */
			assert_int_equal(off, wantlen);
			limit_markers++;
		}
	}
	assert_int_equal(off, wantlen);
	return in;
}

static struct record *
reopen(int mfd)
{
	int fd = dup(mfd);

	assert_true(fd >= 0);
	return record_new(T0, 1, max_out, journal_open(fd), capture, NULL);
}

/*
 * A log killed at random moments (dropped without a flush, as a killed
 * worker's) and taken up again from its journal, over and over, while
 * output arrives directly and through a pipe, keys are typed, the size
 * changes, acks come and the broker comes and goes: in the end the
 * events hold every output byte once, in order, under seqs without gap,
 * and once all is acked the journal is back to its head alone.
 */
static void
journal_crashes(uint64_t limit)
{
	static unsigned char want[8 << 20], chunk[4096];
	unsigned char buf[4096];
	size_t wantlen = 0, inlen = 0, len, i, inpipe = 0;
	int64_t now = T0;
	int mfd, p[2], crashes = 0, step;
	uint64_t x, top;
	struct record *r;
	struct stat st;
	ssize_t n;

	mfd = memfd_create("test-journal", MFD_CLOEXEC);
	assert_true(mfd >= 0);
	assert_int_equal(pipe(p), 0);
	cap_reset();
	max_out = limit;
	limit_markers = 0;
	r = reopen(mfd);
	for (step = 0; step < 20000; step++) {
		x = rnd();
		now += (int64_t)(x % 40) * MS;
		switch ((x >> 8) % 16) {
		case 0:
		case 1:
		case 2:
		case 3:
		case 4:
			len = 1 + (x >> 16) % sizeof(chunk);
			for (i = 0; i < len; i++)
				chunk[i] = (unsigned char)rnd();
			/* the worker reads directly or through the pipe */
			if (wantlen + len > sizeof(want) || inpipe > 0)
				break;
			memcpy(want + wantlen, chunk, len);
			wantlen += len;
			record_output(r, now, chunk, len);
			break;
		case 5:
		case 6:
		case 7:
			/* into the pipe; some of what waits there taken */
			len = 1 + (x >> 16) % sizeof(chunk);
			for (i = 0; i < len; i++)
				chunk[i] = (unsigned char)rnd();
			if (wantlen + len > sizeof(want) ||
			    inpipe + len > 60000)
				break;
			assert_int_equal(write(p[1], chunk, len), (ssize_t)len);
			memcpy(want + wantlen, chunk, len);
			wantlen += len;
			inpipe += len;
			len = 1 + (x >> 32) % inpipe;
			if (len > sizeof(buf))
				len = sizeof(buf);
			n = record_output_pipe(r, now, p[0], buf, len);
			assert_int_equal(n, (ssize_t)len);
			inpipe -= len;
			break;
		case 8:
		case 9:
			len = 1 + (x >> 16) % 6;
			for (i = 0; i < len; i++)
				chunk[i] =
				    (unsigned char)("abc\r\x1b[A"[rnd() % 7]);
			record_input(r, now, chunk, len);
			inlen += len;
			break;
		case 10:
			record_tick(r, now);
			break;
		case 11:
			record_resize(r, now, (uint16_t)(80 + x % 50), 24);
			break;
		case 12:
		case 13:
			/* an ack of a seq seen, not always the latest */
			if (cap.n > 0) {
				top = cap.ev[(x >> 16) % cap.n].e.seq;
				record_ack(r, top);
			}
			break;
		case 14:
			record_free(r);
			r = reopen(mfd);
			crashes++;
			/* a new broker channel: everything unacked again */
			if (!cap.refuse)
				record_resend(r, 0);
			/* as the worker does first: what waits in the pipe */
			while (inpipe > 0) {
				len =
				    inpipe < sizeof(buf) ? inpipe : sizeof(buf);
				n = record_output_pipe(r, now, p[0], buf, len);
				assert_int_equal(n, (ssize_t)len);
				inpipe -= len;
			}
			break;
		case 15:
			cap.refuse = !cap.refuse;
			if (!cap.refuse)
				record_resend(r, 0);
			break;
		}
	}
	while (inpipe > 0) {
		len = inpipe < sizeof(buf) ? inpipe : sizeof(buf);
		assert_int_equal(
		    record_output_pipe(r, now, p[0], buf, len), (ssize_t)len);
		inpipe -= len;
	}
	cap.refuse = 0;
	record_flush(r, now);
	record_resend(r, 0);
	assert_true(crashes > 500);
	assert_true(wantlen > 1000000);
	if (limit == 0) {
		assert_int_equal(check_stream(want, wantlen), inlen);
		assert_int_equal(limit_markers, 0);
	} else {
		/* output up to the limit, to the byte; one marker; every key */
		assert_true(limit < wantlen);
		assert_int_equal(check_stream(want, limit), inlen);
		assert_int_equal(limit_markers, 1);
	}

	/* All acked: nothing but the head remains. */
	record_ack(r, record_next_seq(r) - 1);
	assert_int_equal(fstat(mfd, &st), 0);
	assert_int_equal(st.st_size, 4096);
	record_free(r);
	r = reopen(mfd);
	assert_int_equal(record_unacked_events(r), 0);
	assert_int_equal(record_unacked(r), 0);
	cap_reset();
	record_marker(r, now, "after");
	check_event(0, record_next_seq(r) - 1, 'm', "after");
	assert_true(record_next_seq(r) > 1000);
	if (limit > 0) {
		/* with no records left, the journal still knows it passed */
		cap_reset();
		record_output(r, now, "more", 4);
		record_flush(r, now);
		assert_int_equal(cap.n, 0);
	}
	record_free(r);
	max_out = 0;
	close(p[0]);
	close(p[1]);
	close(mfd);
}

static void
test_journal_crashes(void **state)
{
	(void)state;
	journal_crashes(0);
}

/*
 * The same with record_max = 700 000 bytes: the events hold exactly the
 * output's first 700 000 bytes and one marker, however the crashes fall,
 * and the dropped output's records are released like the rest.
 */
static void
test_journal_crashes_limited(void **state)
{
	(void)state;
	journal_crashes(700000);
}

/*
 * A worker killed while writing: an output record cut short keeps the
 * bytes that made it (the rest were still in the pipe), a torn header is
 * cut off, and the journal takes records after the repair.
 */
static void
test_journal_torn(void **state)
{
	struct disk_rec d;
	struct record *r;
	struct stat st;
	int mfd;

	mfd = memfd_create("test-journal", MFD_CLOEXEC);
	assert_true(mfd >= 0);
	cap_reset();
	r = reopen(mfd);
	record_output(r, T0, "hello ", 6);
	record_flush(r, T0 + MS);
	check_event(0, 0, 'o', "hello ");
	record_free(r);

	/* an output record of 100 bytes, of which 5 were written */
	assert_int_equal(fstat(mfd, &st), 0);
	memset(&d, 0, sizeof(d));
	d.type = 'O';
	d.len = 100;
	d.t = T0 + 2 * MS;
	d.pos = 6;
	assert_int_equal(
	    pwrite(mfd, &d, sizeof(d), st.st_size), (ssize_t)sizeof(d));
	assert_int_equal(pwrite(mfd, "world", 5, st.st_size + sizeof(d)), 5);
	cap_reset();
	r = reopen(mfd);
	record_resend(r, 0);
	check_event(0, 0, 'o', "hello ");
	record_flush(r, T0 + 3 * MS);
	check_event(1, 1, 'o', "world");
	assert_int_equal(cap.ev[1].e.t_us, 2 * MS);
	record_free(r);

	/* a header torn after 10 bytes */
	assert_int_equal(fstat(mfd, &st), 0);
	memset(&d, 0, sizeof(d));
	d.type = 'E';
	d.kind = 'm';
	d.len = 3;
	assert_int_equal(pwrite(mfd, &d, 10, st.st_size), 10);
	cap_reset();
	r = reopen(mfd);
	record_resend(r, 0);
	assert_int_equal(cap.n, 2);
	check_event(0, 0, 'o', "hello ");
	check_event(1, 1, 'o', "world");
	record_marker(r, T0 + 4 * MS, "end");
	check_event(2, 2, 'm', "end");
	record_free(r);

	/* and once more: the records after the repair read back */
	cap_reset();
	r = reopen(mfd);
	record_resend(r, 0);
	assert_int_equal(cap.n, 3);
	check_event(2, 2, 'm', "end");
	record_free(r);
	close(mfd);
}

/*
 * Pausing: each change of the reasons is one marker; output taken while
 * paused is not recorded; a log taken up from the journal goes on paused
 * and makes no marker when told the same again; resumed, output is
 * recorded again.
 */
static void
test_pause(void **state)
{
	struct record *r;
	int mfd;

	mfd = memfd_create("test-journal", MFD_CLOEXEC);
	assert_true(mfd >= 0);
	cap_reset();
	max_out = 0;
	r = reopen(mfd);
	record_output(r, T0, "one ", 4);
	assert_int_equal(record_paused(r), 0);
	record_pause(r, T0 + MS, RECORD_PAUSE_QUOTA, 1, "quota");
	check_event(0, 0, 'o', "one ");
	check_event(
	    1, 1, 'm', "recording paused: quota; input is still recorded");
	record_output(r, T0 + 2 * MS, "two ", 4);
	record_pause(r, T0 + 3 * MS, RECORD_PAUSE_QUOTA, 1, "quota");
	record_flush(r, T0 + 4 * MS);
	assert_int_equal(cap.n, 2);
	record_free(r); /* a crash */

	r = reopen(mfd);
	assert_int_equal(record_paused(r), RECORD_PAUSE_QUOTA);
	record_output(r, T0 + 5 * MS, "three ", 6);
	record_pause(r, T0 + 6 * MS, RECORD_PAUSE_QUOTA, 1, "quota");
	record_flush(r, T0 + 7 * MS);
	assert_int_equal(cap.n, 2);
	record_pause(r, T0 + 8 * MS, RECORD_PAUSE_DISK, 1, "disk");
	check_event(
	    2, 2, 'm', "recording paused: disk; input is still recorded");
	record_pause(r, T0 + 9 * MS, RECORD_PAUSE_QUOTA, 0, "quota ok");
	check_event(3, 3, 'm',
	    "recording still paused: quota ok, but another reason holds");
	record_output(r, T0 + 10 * MS, "four ", 5);
	record_pause(r, T0 + 11 * MS, RECORD_PAUSE_DISK, 0, "disk ok");
	check_event(4, 4, 'm', "recording resumed: disk ok");
	assert_int_equal(record_paused(r), 0);
	record_output(r, T0 + 12 * MS, "five", 4);
	record_flush(r, T0 + 13 * MS);
	check_event(5, 5, 'o', "five");
	assert_int_equal(cap.n, 6);
	record_free(r);

	r = reopen(mfd);
	assert_int_equal(record_paused(r), 0);
	record_free(r);
	close(mfd);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_coalesce_output),
	    cmocka_unit_test(test_cut_64k),
	    cmocka_unit_test(test_utf8_split_on_timer),
	    cmocka_unit_test(test_typing_rows),
	    cmocka_unit_test(test_seq_across_kinds),
	    cmocka_unit_test(test_masking),
	    cmocka_unit_test(test_echo_window),
	    cmocka_unit_test(test_masking_sequences),
	    cmocka_unit_test(test_line_masked),
	    cmocka_unit_test(test_waiting_keys_carried),
	    cmocka_unit_test(test_retention),
	    cmocka_unit_test(test_backpressure),
	    cmocka_unit_test(test_journal_crashes),
	    cmocka_unit_test(test_journal_crashes_limited),
	    cmocka_unit_test(test_journal_torn),
	    cmocka_unit_test(test_pause),
	};
	int rc;

	rc = cmocka_run_group_tests(tests, NULL, NULL);
	cap_reset();
	free(cap.ev);
	return rc;
}
