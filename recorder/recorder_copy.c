/* SPDX-License-Identifier: ISC */
/*
 * alia.events' rows in PostgreSQL's binary COPY format, as recorder_db.c
 * sends them with `COPY alia.events (session_id, seq, t_us, kind, data)
 * FROM STDIN (FORMAT binary)`.
 *
 * The stream: a header (the signature "PGCOPY\n\377\r\n\0", then two
 * int32 zeros: the flags, no OIDs, and the length of the header
 * extension, none), then each row as an int16 count of its fields and
 * each field as an int32 length and that many bytes, then a trailer, the
 * int16 -1. Every number is big-endian. A field's bytes are its type's
 * binary form: uuid its 16 bytes, bigint (seq, t_us) 8 bytes, "char"
 * (kind) its one byte, bytea (data) the bytes as they are.
 */
#include <stdint.h>
#include <string.h>

#include <event2/buffer.h>

#include "common/uuid.h"
#include "recorder/recorder.h"

#define RECORDER_COPY_FIELDS 5

static const unsigned char recorder_copy_sig[11] = {
    'P', 'G', 'C', 'O', 'P', 'Y', '\n', 0377, '\r', '\n', '\0'};

static void
recorder_copy_u16(struct evbuffer *b, uint16_t v)
{
	unsigned char p[2] = {v >> 8, v & 0xff};

	evbuffer_add(b, p, sizeof(p));
}

static void
recorder_copy_u32(struct evbuffer *b, uint32_t v)
{
	unsigned char p[4] = {
	    v >> 24, (v >> 16) & 0xff, (v >> 8) & 0xff, v & 0xff};

	evbuffer_add(b, p, sizeof(p));
}

void
recorder_copy_start(struct evbuffer *b)
{
	evbuffer_add(b, recorder_copy_sig, sizeof(recorder_copy_sig));
	recorder_copy_u32(b, 0);
	recorder_copy_u32(b, 0);
}

void
recorder_copy_end(struct evbuffer *b)
{
	recorder_copy_u16(b, 0xffff);
}

void
recorder_copy_int8(struct evbuffer *b, int64_t v)
{
	uint64_t u = (uint64_t)v;

	recorder_copy_u32(b, 8);
	recorder_copy_u32(b, (uint32_t)(u >> 32));
	recorder_copy_u32(b, (uint32_t)u);
}

void
recorder_copy_uuid(struct evbuffer *b, const struct uuid *id)
{
	recorder_copy_u32(b, sizeof(id->b));
	evbuffer_add(b, id->b, sizeof(id->b));
}

void
recorder_copy_char(struct evbuffer *b, char c)
{
	recorder_copy_u32(b, 1);
	evbuffer_add(b, &c, 1);
}

void
recorder_copy_bytea(struct evbuffer *b, const void *data, uint32_t len)
{
	recorder_copy_u32(b, len);
	evbuffer_add(b, data, len);
}

void
recorder_copy_row(struct evbuffer *b, const struct recorder_ev *ev)
{
	recorder_copy_u16(b, RECORDER_COPY_FIELDS);
	recorder_copy_uuid(b, &ev->id);
	recorder_copy_int8(b, (int64_t)ev->seq);
	recorder_copy_int8(b, ev->t_us);
	recorder_copy_char(b, ev->kind);
	recorder_copy_bytea(b, ev->data, ev->len);
}
