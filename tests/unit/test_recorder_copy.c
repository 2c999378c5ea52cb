/* SPDX-License-Identifier: ISC */
/*
 * recorder/recorder_copy.c: alia.events' rows in PostgreSQL's binary COPY
 * format, checked byte by byte: the header and trailer, each field type
 * (uuid, bigint, "char", bytea) with its int32 length, and a whole row.
 */
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>

#include "tests/unit/unit.h"

#include "recorder/recorder.h"

/* Checks that b holds exactly want (len bytes), then empties it. */
static void
expect(struct evbuffer *b, const void *want, size_t len)
{
	assert_int_equal(evbuffer_get_length(b), len);
	assert_memory_equal(evbuffer_pullup(b, -1), want, len);
	evbuffer_drain(b, len);
}

static void
test_start_end(void **state)
{
	static const unsigned char head[] = {'P', 'G', 'C', 'O', 'P', 'Y', '\n',
	    0xff, '\r', '\n', 0, 0, 0, 0, 0, 0, 0, 0, 0};
	static const unsigned char tail[] = {0xff, 0xff};
	struct evbuffer *b = evbuffer_new();

	recorder_copy_start(b);
	expect(b, head, sizeof(head));
	recorder_copy_end(b);
	expect(b, tail, sizeof(tail));
	evbuffer_free(b);
}

static void
test_int8(void **state)
{
	static const unsigned char one[] = {0, 0, 0, 8, 0, 0, 0, 0, 0, 0, 0, 1};
	static const unsigned char big[] = {
	    0, 0, 0, 8, 0x01, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef};
	static const unsigned char max[] = {
	    0, 0, 0, 8, 0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
	static const unsigned char zero[] = {
	    0, 0, 0, 8, 0, 0, 0, 0, 0, 0, 0, 0};
	struct evbuffer *b = evbuffer_new();

	recorder_copy_int8(b, 1);
	expect(b, one, sizeof(one));
	recorder_copy_int8(b, 0x0123456789abcdefLL);
	expect(b, big, sizeof(big));
	recorder_copy_int8(b, INT64_MAX);
	expect(b, max, sizeof(max));
	recorder_copy_int8(b, 0);
	expect(b, zero, sizeof(zero));
	evbuffer_free(b);
}

static void
test_uuid(void **state)
{
	static const unsigned char want[] = {0, 0, 0, 16, 0x12, 0x34, 0x56,
	    0x78, 0x9a, 0xbc, 0xde, 0xf0, 0x01, 0x23, 0x45, 0x67, 0x89, 0xab,
	    0xcd, 0xef};
	struct evbuffer *b = evbuffer_new();
	struct uuid id;

	assert_int_equal(
	    uuid_parse("12345678-9abc-def0-0123-456789abcdef", &id), 0);
	recorder_copy_uuid(b, &id);
	expect(b, want, sizeof(want));
	evbuffer_free(b);
}

static void
test_char_bytea(void **state)
{
	static const unsigned char kind[] = {0, 0, 0, 1, 'o'};
	static const unsigned char data[] = {
	    0, 0, 0, 5, 'a', 0, 0xff, '\r', '\n'};
	static const unsigned char empty[] = {0, 0, 0, 0};
	struct evbuffer *b = evbuffer_new();

	recorder_copy_char(b, 'o');
	expect(b, kind, sizeof(kind));
	recorder_copy_bytea(b, "a\0\xff\r\n", 5);
	expect(b, data, sizeof(data));
	recorder_copy_bytea(b, "", 0);
	expect(b, empty, sizeof(empty));
	evbuffer_free(b);
}

static void
test_row(void **state)
{
	static const unsigned char want[] = {0, 5,
	    /* session_id */
	    0, 0, 0, 16, 0xa0, 0xa1, 0xa2, 0xa3, 0xb0, 0xb1, 0xc0, 0xc1, 0xd0,
	    0xd1, 0xe0, 0xe1, 0xe2, 0xe3, 0xe4, 0xe5,
	    /* seq 258 */
	    0, 0, 0, 8, 0, 0, 0, 0, 0, 0, 1, 2,
	    /* t_us 1000000 */
	    0, 0, 0, 8, 0, 0, 0, 0, 0, 0x0f, 0x42, 0x40,
	    /* kind */
	    0, 0, 0, 1, 'r',
	    /* data */
	    0, 0, 0, 6, '8', '0', 'x', '2', '4', '!'};
	struct recorder_ev *ev;
	struct evbuffer *b = evbuffer_new();

	ev = calloc(1, sizeof(*ev) + 6);
	assert_int_equal(
	    uuid_parse("a0a1a2a3-b0b1-c0c1-d0d1-e0e1e2e3e4e5", &ev->id), 0);
	ev->seq = 258;
	ev->t_us = 1000000;
	ev->kind = 'r';
	ev->len = 6;
	memcpy(ev->data, "80x24!", 6);
	recorder_copy_row(b, ev);
	expect(b, want, sizeof(want));
	free(ev);
	evbuffer_free(b);
}

UNIT_MAIN(cmocka_unit_test(test_start_end), cmocka_unit_test(test_int8),
    cmocka_unit_test(test_uuid), cmocka_unit_test(test_char_bytea),
    cmocka_unit_test(test_row))
