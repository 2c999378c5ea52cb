/* SPDX-License-Identifier: ISC */
/*
 * The event log of one session: what the container printed ('o'), what
 * control browsers typed ('i'), resizes ('r') and markers ('m'), numbered
 * from seq 0 without gaps and kept until the recorder acknowledges them.
 *
 * Coalescing. Output is appended to one open 'o' event, input to one open
 * 'i' event. An open event is emitted when it holds RECORD_EVENT_MAX bytes
 * or when its first byte is RECORD_OPEN_US old (record_tick, driven by the
 * worker's timer at record_deadline). An output event is cut on a UTF-8
 * boundary: the bytes of a character not yet complete are carried into
 * the next event, unless they are all the event holds when its time is up
 * (a stream that stopped mid-character). A resize or a marker first emits
 * the open events, so the log keeps the order in which things happened;
 * between an open 'o' and an open 'i' the one whose first byte is older
 * is emitted first.
 *
 * Masking. Each input character is recorded as typed or as one '*' (a
 * UTF-8 character is decided whole, its bytes together). Control bytes
 * (below 0x20, DEL) and every byte of an escape sequence (ESC, then '['
 * and parameters up to the final byte 0x40-0x7e, 'O' and one byte, or one
 * byte) are recorded as typed; escape scanning starts afresh with each
 * browser message, which carries a key's whole sequence. Every other
 * character is printable and waits for its echo: when output that
 * arrives after it holds the waiting characters in order, with nothing
 * but control bytes and escape sequences (colours) in between, they are
 * echoed and recorded as typed. Text on a line of output before its
 * first echoed key (a prompt printed before the echo of keys typed
 * ahead) is passed over; after it, other text ends the match until the
 * next line. A '?' echoes a non-ASCII character (a shell in a locale
 * that cannot show it prints one per byte or per character).
 *
 * What the terminal did not echo: a character not echoed within
 * RECORD_ECHO_US is recorded as '*' (a password typed at a prompt that
 * turned echo off); for keys typed before the session printed anything
 * (no prompt yet; the shell is starting) the time runs from its first
 * output. Each Enter owes a newline to the output, echoed or printed by
 * the program that read the line: when that newline comes, the keys of
 * the line still waiting were not echoed and are masked, and the keys
 * after it (a line pasted or typed ahead) are matched from there, so a
 * prompt printed after Enter cannot pass for the echo of a password's
 * last characters either. An input event emitted on time carries its
 * still-waiting keys into the next one; an input event emitted early
 * (full, or before a resize, marker or the end) records them as '*'. At
 * the end of a typed line (Enter), if most of its printable keys went
 * unechoed, its keys still waiting are masked at once. With masking off
 * every byte is recorded as typed.
 *
 * Retention. Emitted events stay in a list, in seq order, until an ack
 * covers them; record_resend sends again the ones from a seq on, as after
 * a new broker channel. record_blocked asks the worker to stop reading the
 * container while more than RECORD_HIGH bytes are unacked (emitted or
 * open), until they fall under RECORD_LOW: output then waits in the
 * kernel, never lost.
 *
 * Limit. With max_out set, output is recorded up to that many bytes of
 * the stream and no further: the byte at position max_out is dropped
 * with a marker saying so, and every later one silently, though each is
 * still matched as echo and still goes to the browsers. The decision
 * depends only on the stream position, out_done + outlen for the next
 * byte taken, so a replacement worker decides as the dead one did; the
 * marker's journal record carries the position it dropped up to, so the
 * marker is never made twice, and dropped bytes count as done, so their
 * raw records are released as emitted ones are.
 *
 * Pause. Output recording can also be paused for a while, for reasons
 * that come from outside (the owner's record_quota is used up, the disk
 * under the database is under record_disk_floor: record_pause). A change
 * of the reasons emits the open events and then a marker; while any
 * reason holds, output is dropped from the log as past the limit (it
 * still counts as done and still goes to the browsers). The reasons are
 * kept in the journal's head before the marker is emitted, so a
 * replacement worker goes on paused and makes no marker of its own when
 * it is told the same again.
 *
 * Journal. With one (journal.c), every call that changes the log writes
 * its record first: raw output and input as they come, each event as it
 * is emitted, each ack. A new record with the journal of a dead worker
 * takes its place: the events it had emitted and not seen acked are held
 * again with their seqs, numbering goes on after the last one, and the
 * output and input it had not yet emitted are fed through again, in the
 * order and with the times they came, so that coalescing and masking
 * decide them as they would have. Records stop being needed (and are
 * released to journal_release) once their events are acked, or for raw
 * bytes, once emitted.
 */
#include <sys/queue.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/log.h"
#include "common/proto.h"
#include "common/str.h"
#include "common/xmalloc.h"
#include "worker/worker.h"

struct record_ev {
	TAILQ_ENTRY(record_ev) entry;
	off_t joff; /* its journal record, or -1 */
	struct msg_event e;
	unsigned char data[];
};
TAILQ_HEAD(record_evs, record_ev);

/* A raw 'O' or 'I' journal record whose bytes are not all emitted. */
struct record_raw {
	TAILQ_ENTRY(record_raw) entry;
	off_t off;
	uint64_t end; /* the stream position after its bytes */
};
TAILQ_HEAD(record_raws, record_raw);

/* One input byte of the open 'i' event. */
struct record_key {
	int64_t t; /* when it was typed */
	unsigned char c;
	unsigned char state;
#define KEY_KEEP 0        /* recorded as typed */
#define KEY_WAIT 1        /* printable, its echo not seen yet */
#define KEY_MASK 2        /* recorded as '*' */
	unsigned char nl; /* an Enter whose newline has not come out yet */
};

enum record_esc {
	ESC_NONE,
	ESC_START, /* after ESC */
	ESC_CSI,   /* after ESC [ */
	ESC_SS3,   /* after ESC O */
};

struct record {
	int64_t started;
	int mask;
	uint64_t max_out; /* output bytes recorded at most; 0: all */
	uint32_t pause;   /* output not recorded: RECORD_PAUSE_* reasons */
	record_send_cb send;
	void *arg;
	uint64_t seq;

	unsigned char *out; /* the open 'o' event */
	size_t outlen;
	int64_t out_first;

	struct record_key *in; /* the open 'i' event */
	size_t inlen;
	int64_t in_first;
	size_t echo;      /* no waiting key before this index */
	size_t nl_owed;   /* keys with nl set */
	int64_t out_seen; /* when the first output came; 0: none yet */
	int out_inline;   /* a key was echoed on this line of output */
	int out_rest;     /* bytes of the last echoed character to come */
	int out_wide;     /* the last echoed key was not ASCII */
	enum record_esc esc;
	/* printable keys of the current line, decided echoed or masked */
	unsigned line_echoed, line_masked;
	int echo_bol; /* the key at echo begins a typed line */

	struct record_evs evs; /* emitted, not acked, in seq order */
	size_t unacked;        /* their data bytes */
	size_t nunacked;
	int blocked;

	struct journal *j;          /* NULL: none */
	uint64_t out_pos, in_pos;   /* stream bytes taken */
	uint64_t out_done, in_done; /* stream bytes emitted */
	struct record_raws outraws, inraws;
};

static void
record_raw_push(struct record_raws *l, off_t off, uint64_t end)
{
	struct record_raw *x;

	x = xmalloc(sizeof(*x));
	x->off = off;
	x->end = end;
	TAILQ_INSERT_TAIL(l, x, entry);
}

/*
 * Drops the raw records whose bytes are all emitted (before done; all of
 * them at UINT64_MAX).
 */
static void
record_raw_pop(struct record_raws *l, uint64_t done)
{
	struct record_raw *x;

	while ((x = TAILQ_FIRST(l)) != NULL && x->end <= done) {
		TAILQ_REMOVE(l, x, entry);
		free(x);
	}
}

/* Writes a raw 'O' or 'I' record of bytes taken at now. */
static void
record_journal_raw(
    struct record *r, char type, int64_t now, const void *data, size_t len)
{
	struct journal_rec rec;
	uint64_t *pos = type == 'O' ? &r->out_pos : &r->in_pos;
	off_t off;

	if (journal_ok(r->j)) {
		memset(&rec, 0, sizeof(rec));
		rec.type = type;
		rec.len = len;
		rec.t = now;
		rec.pos = *pos;
		rec.data = data;
		if ((off = journal_append(r->j, &rec)) != -1)
			record_raw_push(type == 'O' ? &r->outraws : &r->inraws,
			    off, *pos + len);
	}
	*pos += len;
}

/* Tells the journal where the records still needed begin. */
static void
record_release(struct record *r)
{
	struct record_ev *ev;
	struct record_raw *x;
	off_t live;

	if (!journal_ok(r->j))
		return;
	live = journal_end(r->j);
	if ((ev = TAILQ_FIRST(&r->evs)) != NULL && ev->joff != -1 &&
	    ev->joff < live)
		live = ev->joff;
	if ((x = TAILQ_FIRST(&r->outraws)) != NULL && x->off < live)
		live = x->off;
	if ((x = TAILQ_FIRST(&r->inraws)) != NULL && x->off < live)
		live = x->off;
	journal_release(r->j, live, r->seq, r->out_done, r->in_done);
}

static struct record_ev *
record_ev_new(struct record *r, char kind, uint64_t seq, int64_t t_us,
    const void *data, size_t len)
{
	struct record_ev *ev;

	ev = xmalloc(sizeof(*ev) + len);
	memset(&ev->e, 0, sizeof(ev->e));
	ev->joff = -1;
	ev->e.seq = seq;
	ev->e.t_us = t_us;
	ev->e.kind = kind;
	ev->e.len = (uint32_t)len;
	if (len > 0)
		memcpy(ev->data, data, len);
	TAILQ_INSERT_TAIL(&r->evs, ev, entry);
	r->unacked += len;
	r->nunacked++;
	return ev;
}

/*
 * Emits an event; for 'o' and 'i' its journal record says how far the
 * stream is emitted, for others mpos (0, or where output was dropped to).
 * For 'i', mpos is how many input bytes the event stands for (a masked
 * character is one '*' for all its bytes).
 */
static void
record_emit_at(struct record *r, char kind, int64_t t, const void *data,
    size_t len, uint64_t mpos)
{
	struct journal_rec rec;
	struct record_ev *ev;

	ev = record_ev_new(
	    r, kind, r->seq++, t > r->started ? t - r->started : 0, data, len);
	if (kind == 'o')
		r->out_done += len;
	else if (kind == 'i')
		r->in_done += mpos;
	if (journal_ok(r->j)) {
		memset(&rec, 0, sizeof(rec));
		rec.type = 'E';
		rec.kind = kind;
		rec.len = len;
		rec.t = ev->e.t_us;
		rec.seq = ev->e.seq;
		rec.pos = kind == 'o' ? r->out_done
		    : kind == 'i'     ? r->in_done
		                      : mpos;
		rec.data = data;
		ev->joff = journal_append(r->j, &rec);
	}
	record_raw_pop(&r->outraws, r->out_done);
	record_raw_pop(&r->inraws, r->in_done);
	(void)r->send(&ev->e, ev->data, r->arg);
}

static void
record_emit(
    struct record *r, char kind, int64_t t, const void *data, size_t len)
{
	record_emit_at(r, kind, t, data, len, 0);
}

/* The length of buf's prefix that ends on a UTF-8 character boundary. */
static size_t
record_utf8_cut(const unsigned char *buf, size_t len)
{
	size_t i, need;
	unsigned char b;

	for (i = 1; i <= 4 && i <= len; i++) {
		b = buf[len - i];
		if ((b & 0xc0) == 0x80)
			continue;
		if ((b & 0xe0) == 0xc0)
			need = 2;
		else if ((b & 0xf0) == 0xe0)
			need = 3;
		else if ((b & 0xf8) == 0xf0)
			need = 4;
		else
			need = 1;
		return need > i ? len - i : len;
	}
	return len;
}

/* Emits the open output; tail: keep an incomplete last character. */
static void
record_emit_output(struct record *r, int64_t now, int tail)
{
	size_t cut;

	if (r->outlen == 0)
		return;
	cut = tail ? record_utf8_cut(r->out, r->outlen) : r->outlen;
	if (cut == 0)
		cut = r->outlen;
	record_emit(r, 'o', r->out_first, r->out, cut);
	memmove(r->out, r->out + cut, r->outlen - cut);
	r->outlen -= cut;
	r->out_first = now;
}

#define RECORD_UTF8_CONT(c) (((c)&0xc0) == 0x80)

/* Moves the echo index past the keys decided. */
static void
record_echo_advance(struct record *r)
{
	while (r->echo < r->inlen && r->in[r->echo].state != KEY_WAIT) {
		r->echo_bol =
		    r->in[r->echo].c == '\r' || r->in[r->echo].c == '\n';
		r->echo++;
	}
}

/*
 * Decides waiting key i (and the rest of its character, if it starts a
 * UTF-8 sequence) as state: a character is echoed or masked whole.
 */
static void
record_decide(struct record *r, size_t i, unsigned char state)
{
	if (r->in[i].state != KEY_WAIT)
		return;
	r->in[i].state = state;
	if (state == KEY_KEEP)
		r->line_echoed++;
	else
		r->line_masked++;
	if (r->in[i].c >= 0xc0)
		for (i++; i < r->inlen && RECORD_UTF8_CONT(r->in[i].c) &&
		     r->in[i].state == KEY_WAIT;
		     i++)
			r->in[i].state = state;
}

/*
 * Masks the keys that waited for their echo too long. Keys typed before
 * the session printed anything wait until RECORD_ECHO_US after its first
 * output: no prompt has turned echo off yet, and the shell that echoes
 * them may still be starting.
 */
static void
record_expire(struct record *r, int64_t now)
{
	int64_t since;
	size_t i;

	if (r->out_seen == 0)
		return;
	for (i = r->echo; i < r->inlen; i++) {
		if (r->in[i].state != KEY_WAIT)
			continue;
		since = r->in[i].t > r->out_seen ? r->in[i].t : r->out_seen;
		if (now - since < RECORD_ECHO_US)
			break;
		record_decide(r, i, KEY_MASK);
	}
	record_echo_advance(r);
}

/*
 * A newline came out: the first Enter still owed its newline has been
 * answered, so the keys of its line not echoed by now never will be.
 */
static void
record_newline(struct record *r)
{
	size_t i, j;

	for (j = 0; j < r->inlen && !r->in[j].nl; j++)
		;
	if (j == r->inlen)
		return;
	for (i = r->echo; i < j; i++)
		record_decide(r, i, KEY_MASK);
	r->in[j].nl = 0;
	r->nl_owed--;
	record_echo_advance(r);
}

/*
 * At the end of a typed line: when most of its printable keys went
 * unechoed (a prompt that turned echo off), the ones still waiting are
 * masked too, so that later output that happens to hold a character
 * cannot give it away. Keys not yet decided either way (a line sent in
 * one message) keep waiting for their echo.
 */
static void
record_end_line(struct record *r)
{
	size_t i;

	if (r->line_masked > r->line_echoed)
		for (i = r->echo; i < r->inlen; i++)
			record_decide(r, i, KEY_MASK);
	record_echo_advance(r);
	r->line_echoed = r->line_masked = 0;
}

/* Emits the decided keys of the open input; force: decide them all. */
static void
record_emit_input(struct record *r, int64_t now, int force)
{
	unsigned char *buf;
	size_t i, n, len;

	if (r->inlen == 0)
		return;
	record_expire(r, now);
	for (n = 0; n < r->inlen; n++) {
		if (r->in[n].state == KEY_WAIT && !force)
			break;
	}
	if (n == 0)
		return;
	/* One '*' per masked character, not per byte. */
	buf = xmalloc(n);
	for (i = len = 0; i < n; i++) {
		if (r->in[i].nl)
			r->nl_owed--;
		if (r->in[i].state == KEY_KEEP)
			buf[len++] = r->in[i].c;
		else if (!RECORD_UTF8_CONT(r->in[i].c) || i == 0 ||
		    r->in[i - 1].state == KEY_KEEP || r->in[i - 1].c < 0x80)
			buf[len++] = '*';
	}
	record_emit_at(r, 'i', r->in_first, buf, len, n);
	free(buf);
	memmove(r->in, r->in + n, (r->inlen - n) * sizeof(*r->in));
	r->inlen -= n;
	r->echo = r->echo > n ? r->echo - n : 0;
	if (r->inlen > 0)
		r->in_first = r->in[0].t;
}

/* Emits every open event, the older first. */
static void
record_emit_open(struct record *r, int64_t now)
{
	if (r->inlen > 0 && (r->outlen == 0 || r->in_first < r->out_first)) {
		record_emit_input(r, now, 1);
		record_emit_output(r, now, 0);
	} else {
		record_emit_output(r, now, 0);
		record_emit_input(r, now, 1);
	}
}

static void record_take_output(struct record *, int64_t, const void *, size_t);
static void record_take_input(struct record *, int64_t, const void *, size_t);

/* Drops the held events up to and including seq. */
static void
record_drop(struct record *r, uint64_t seq)
{
	struct record_ev *ev;

	while ((ev = TAILQ_FIRST(&r->evs)) != NULL && ev->e.seq <= seq) {
		TAILQ_REMOVE(&r->evs, ev, entry);
		r->unacked -= ev->e.len;
		r->nunacked--;
		free(ev);
	}
}

/* Takes up what a dead worker left in the journal: see the essay. */
static void
record_recover(struct record *r)
{
	const struct journal_rec *recs, *x;
	struct record_ev *ev;
	uint64_t out_from, in_from, skip;
	int out_known = 0, in_known = 0;
	size_t n, i, held;

	recs = journal_records(r->j, &n);
	r->seq = journal_seq(r->j);
	r->pause = journal_pause(r->j);
	/* Where the streams stood when no record says otherwise. */
	journal_done(r->j, &r->out_done, &r->in_done);
	r->out_pos = r->out_done;
	r->in_pos = r->in_done;
	if (n == 0)
		goto done;
	/* The state: the events held, how far each stream was emitted. */
	for (i = 0; i < n; i++) {
		x = &recs[i];
		switch (x->type) {
		case 'O':
		case 'I':
			if (x->type == 'O' && !out_known) {
				r->out_done = x->pos;
				out_known = 1;
			} else if (x->type == 'I' && !in_known) {
				r->in_done = x->pos;
				in_known = 1;
			}
			record_raw_push(
			    x->type == 'O' ? &r->outraws : &r->inraws, x->off,
			    x->pos + x->len);
			if (x->type == 'O')
				r->out_pos = x->pos + x->len;
			else
				r->in_pos = x->pos + x->len;
			break;
		case 'E':
			if (!TAILQ_EMPTY(&r->evs) &&
			    TAILQ_LAST(&r->evs, record_evs)->e.seq >= x->seq) {
				log_warnx("journal: seq %llu out of order; "
				          "dropped",
				    (unsigned long long)x->seq);
				break;
			}
			ev = record_ev_new(
			    r, x->kind, x->seq, x->t, x->data, x->len);
			ev->joff = x->off;
			if (x->seq >= r->seq)
				r->seq = x->seq + 1;
			if (x->kind == 'o') {
				r->out_done = x->pos;
				out_known = 1;
			} else if (x->kind == 'm' && x->pos > r->out_done) {
				/* the limit's marker: output dropped to pos */
				r->out_done = x->pos;
				out_known = 1;
			} else if (x->kind == 'i') {
				r->in_done = x->pos;
				in_known = 1;
			}
			break;
		case 'A':
			record_drop(r, x->seq);
			if (x->seq >= r->seq)
				r->seq = x->seq + 1;
			break;
		}
	}
	if (r->out_pos < r->out_done)
		r->out_pos = r->out_done;
	if (r->in_pos < r->in_done)
		r->in_pos = r->in_done;
	record_raw_pop(&r->outraws, r->out_done);
	record_raw_pop(&r->inraws, r->in_done);
	held = r->nunacked;

	/* What came and was not emitted: again, in order, at its time. */
	out_from = r->out_done;
	in_from = r->in_done;
	for (i = 0; i < n; i++) {
		x = &recs[i];
		if (x->type == 'O' && x->pos + x->len > out_from) {
			skip = x->pos < out_from ? out_from - x->pos : 0;
			record_take_output(
			    r, x->t, x->data + skip, x->len - (size_t)skip);
		} else if (x->type == 'I' && x->pos + x->len > in_from) {
			skip = x->pos < in_from ? in_from - x->pos : 0;
			record_take_input(
			    r, x->t, x->data + skip, x->len - (size_t)skip);
		}
	}
	log_info("journal: %zu events held again, %llu output and %llu "
	         "input bytes taken up again; next seq %llu",
	    held, (unsigned long long)(r->out_pos - out_from),
	    (unsigned long long)(r->in_pos - in_from),
	    (unsigned long long)r->seq);
done:
	journal_recovered(r->j);
}

struct record *
record_new(int64_t started_us, int mask, uint64_t max_out, struct journal *j,
    record_send_cb send, void *arg)
{
	struct record *r;

	r = xcalloc(1, sizeof(*r));
	r->started = started_us;
	r->mask = mask;
	r->echo_bol = 1; /* the first key typed begins a line */
	r->max_out = max_out;
	r->send = send;
	r->arg = arg;
	r->out = xmalloc(RECORD_EVENT_MAX);
	r->in = xreallocarray(NULL, RECORD_EVENT_MAX, sizeof(*r->in));
	TAILQ_INIT(&r->evs);
	TAILQ_INIT(&r->outraws);
	TAILQ_INIT(&r->inraws);
	if ((r->j = j) != NULL)
		record_recover(r);
	return r;
}

void
record_first_seq(struct record *r, uint64_t seq)
{
	if (r->seq < seq) {
		log_info("the recording goes on at seq %llu",
		    (unsigned long long)seq);
		r->seq = seq;
	}
}

void
record_free(struct record *r)
{
	if (r == NULL)
		return;
	record_drop(r, UINT64_MAX);
	record_raw_pop(&r->outraws, UINT64_MAX);
	record_raw_pop(&r->inraws, UINT64_MAX);
	journal_free(r->j);
	free(r->out);
	free(r->in);
	free(r);
}

int
record_journaled(const struct record *r)
{
	return journal_ok(r->j);
}

/*
 * Returns the index of the last byte of the escape sequence starting at
 * p[i] (ESC): a CSI up to its final byte, an OSC up to BEL or ST, or ESC
 * and one byte. A sequence cut off by the end of p ends there.
 */
static size_t
record_skip_escape(const unsigned char *p, size_t len, size_t i)
{
	if (i + 1 >= len)
		return i;
	if (p[i + 1] == '[') {
		for (i += 2; i < len && (p[i] < 0x40 || p[i] > 0x7e); i++)
			;
		return i < len ? i : len - 1;
	}
	if (p[i + 1] == ']') {
		for (i += 2; i < len; i++)
			if (p[i] == 0x07 ||
			    (p[i] == 0x1b && i + 1 < len && p[i + 1] == '\\'))
				return p[i] == 0x07 ? i : i + 1;
		return len - 1;
	}
	return i + 1;
}

void
record_output(struct record *r, int64_t now, const void *data, size_t len)
{
	record_journal_raw(r, 'O', now, data, len);
	record_take_output(r, now, data, len);
}

ssize_t
record_output_pipe(
    struct record *r, int64_t now, int pipe_r, unsigned char *buf, size_t len)
{
	struct journal_rec rec;
	ssize_t n = -1;

	if (journal_ok(r->j)) {
		memset(&rec, 0, sizeof(rec));
		rec.type = 'O';
		rec.len = len;
		rec.t = now;
		rec.pos = r->out_pos;
		if ((n = journal_splice(r->j, &rec, pipe_r, buf)) > 0) {
			record_raw_push(
			    &r->outraws, rec.off, r->out_pos + rec.len);
			r->out_pos += rec.len;
		}
	}
	if (n <= 0) {
		do
			n = read(pipe_r, buf, len);
		while (n == -1 && errno == EINTR);
		if (n <= 0)
			return n;
		r->out_pos += (size_t)n;
	}
	record_take_output(r, now, buf, (size_t)n);
	return n;
}

/*
 * Output past the limit: n bytes at stream position at are done with,
 * unrecorded; the first byte dropped brings the marker.
 */
static void
record_drop_output(struct record *r, int64_t now, uint64_t at, size_t n)
{
	char text[128];

	if (at <= r->max_out) {
		record_emit_open(r, now);
		r->out_done += n;
		snprintf(text, sizeof(text),
		    "recording stopped: output reached record_max (%llu "
		    "bytes); input is still recorded",
		    (unsigned long long)r->max_out);
		record_emit_at(r, 'm', now, text, strlen(text), r->out_done);
	} else {
		r->out_done += n;
		record_raw_pop(&r->outraws, r->out_done);
	}
	record_release(r);
}

/* Output while recording is paused: done with, unrecorded. */
static void
record_skip_output(struct record *r, size_t n)
{
	r->out_done += n;
	record_raw_pop(&r->outraws, r->out_done);
	record_release(r);
}

/*
 * Matches output against the waiting keys (see the essay): in order,
 * skipping control bytes and escape sequences; text before the first
 * echoed key of an output line (a prompt) is passed over, other text
 * after it ends the match until the next line. A '?' answers a non-ASCII
 * character (a shell that cannot show it prints one '?' per character or
 * per byte: '?'s after such a match are passed over), and the rest of a
 * character's exact echo is taken with its first byte.
 */
static void
record_echo(struct record *r, const unsigned char *p, size_t len)
{
	size_t i;
	int stop = 0;
	unsigned char c, k;

	for (i = 0; i < len && (r->echo < r->inlen || r->nl_owed > 0); i++) {
		c = p[i];
		if (c == 0x1b) {
			i = record_skip_escape(p, len, i);
			continue;
		}
		if (c == '\n') {
			record_newline(r);
			r->out_inline = 0;
			stop = 0;
			r->out_rest = 0;
			continue;
		}
		if (r->out_rest > 0 && RECORD_UTF8_CONT(c)) {
			r->out_rest--;
			continue;
		}
		r->out_rest = 0;
		if (stop || r->echo >= r->inlen)
			continue;
		k = r->in[r->echo].c;
		if (c == k || (k >= 0x80 && c == '?')) {
			record_decide(r, r->echo, KEY_KEEP);
			/* the rest of the character's exact echo */
			if (c == k)
				r->out_rest = k >= 0xf0 ? 3
				    : k >= 0xe0         ? 2
				    : k >= 0xc0         ? 1
				                        : 0;
			r->out_wide = k >= 0x80;
			r->out_inline = 1;
			record_echo_advance(r);
			continue;
		}
		if (c < 0x20 || c == 0x7f || (c == '?' && r->out_wide))
			continue;
		/*
		 * Other text: not an echo. Before the first key of a typed
		 * line it may be a prompt; before a key in the middle of one
		 * it is not (the keys before went unechoed or echoed already):
		 * what a shell prints after a password ("got-16") must not pass
		 * for the echo of its last keys still waiting.
		 */
		if (r->out_inline || !r->echo_bol)
			stop = 1;
	}
}

static void
record_take_output(struct record *r, int64_t now, const void *data, size_t len)
{
	const unsigned char *p = data;
	uint64_t at = r->out_done + r->outlen; /* the stream position of p */
	size_t drop = 0;

	/* Echo first: the output came after the waiting keys. */
	record_expire(r, now);
	if (r->out_seen == 0 && len > 0)
		r->out_seen = now;
	record_echo(r, p, len);
	if (r->pause != 0) {
		record_skip_output(r, len);
		return;
	}
	if (r->max_out > 0 && at + len > r->max_out) {
		drop = at >= r->max_out ? len : (size_t)(at + len - r->max_out);
		len -= drop;
	}
	while (len > 0) {
		if (r->outlen == 0)
			r->out_first = now;
		str_fill(r->out, &r->outlen, RECORD_EVENT_MAX, &p, &len);
		if (r->outlen == RECORD_EVENT_MAX)
			record_emit_output(r, now, 1);
	}
	if (drop > 0)
		record_drop_output(r, now,
		    at + (uint64_t)(p - (const unsigned char *)data), drop);
}

/* Whether c, seen in scanner state *esc, is part of a control input. */
static int
record_key_control(enum record_esc *esc, unsigned char c)
{
	if (c == 0x1b) {
		*esc = ESC_START;
		return 1;
	}
	switch (*esc) {
	case ESC_NONE:
		return c < 0x20 || c == 0x7f;
	case ESC_START:
		*esc = c == '[' ? ESC_CSI : c == 'O' ? ESC_SS3 : ESC_NONE;
		return 1;
	case ESC_CSI:
		if (c >= 0x40 && c <= 0x7e)
			*esc = ESC_NONE;
		return 1;
	case ESC_SS3:
		*esc = ESC_NONE;
		return 1;
	}
	return 1;
}

void
record_input(struct record *r, int64_t now, const void *data, size_t len)
{
	record_journal_raw(r, 'I', now, data, len);
	record_take_input(r, now, data, len);
}

static void
record_take_input(struct record *r, int64_t now, const void *data, size_t len)
{
	const unsigned char *p = data;
	struct record_key *k;
	size_t i;

	r->esc = ESC_NONE;
	record_expire(r, now);
	for (i = 0; i < len; i++) {
		if (r->mask && (p[i] == '\r' || p[i] == '\n'))
			record_end_line(r);

		if (r->inlen == 0)
			r->in_first = now;
		k = &r->in[r->inlen++];
		k->t = now;
		k->c = p[i];
		k->state = record_key_control(&r->esc, p[i]) || !r->mask
		    ? KEY_KEEP
		    : KEY_WAIT;
		/* an Enter: its newline comes out, echoed or not */
		k->nl = r->mask &&
		    (p[i] == '\r' ||
		        (p[i] == '\n' && (i == 0 || p[i - 1] != '\r')));
		if (k->nl)
			r->nl_owed++;
		if (r->inlen == RECORD_EVENT_MAX)
			record_emit_input(r, now, 1);
	}
	record_echo_advance(r);
}

void
record_resize(struct record *r, int64_t now, uint16_t cols, uint16_t rows)
{
	char buf[32];
	int n;

	record_emit_open(r, now);
	n = snprintf(buf, sizeof(buf), "%ux%u", cols, rows);
	record_emit(r, 'r', now, buf, (size_t)n);
}

void
record_marker(struct record *r, int64_t now, const char *text)
{
	size_t len = strlen(text);

	record_emit_open(r, now);
	if (len > RECORD_EVENT_MAX)
		len = RECORD_EVENT_MAX;
	record_emit(r, 'm', now, text, len);
}

void
record_tick(struct record *r, int64_t now)
{
	int out, in;

	out = r->outlen > 0 && now - r->out_first >= RECORD_OPEN_US;
	in = r->inlen > 0 && now - r->in_first >= RECORD_OPEN_US;
	if (in && (!out || r->in_first < r->out_first)) {
		record_emit_input(r, now, 0);
		in = 0;
	}
	if (out)
		record_emit_output(r, now, 1);
	if (in)
		record_emit_input(r, now, 0);
}

int64_t
record_deadline(const struct record *r)
{
	int64_t d = -1;

	if (r->outlen > 0)
		d = r->out_first + RECORD_OPEN_US;
	if (r->inlen > 0 && (d == -1 || r->in_first + RECORD_OPEN_US < d))
		d = r->in_first + RECORD_OPEN_US;
	return d;
}

void
record_flush(struct record *r, int64_t now)
{
	record_emit_open(r, now);
}

void
record_ack(struct record *r, uint64_t seq)
{
	struct journal_rec rec;

	record_drop(r, seq);
	if (journal_ok(r->j)) {
		memset(&rec, 0, sizeof(rec));
		rec.type = 'A';
		rec.seq = seq;
		(void)journal_append(r->j, &rec);
		record_release(r);
	}
}

void
record_resend(struct record *r, uint64_t seq)
{
	struct record_ev *ev;
	size_t n = 0;

	TAILQ_FOREACH (ev, &r->evs, entry) {
		if (ev->e.seq < seq)
			continue;
		if (r->send(&ev->e, ev->data, r->arg) == -1)
			break;
		n++;
	}
	if (n > 0)
		log_debug("%s: %zu events sent again from seq %llu", __func__,
		    n, (unsigned long long)seq);
}

size_t
record_unacked(const struct record *r)
{
	return r->unacked + r->outlen + r->inlen;
}

size_t
record_unacked_events(const struct record *r)
{
	return r->nunacked;
}

uint64_t
record_next_seq(const struct record *r)
{
	return r->seq;
}

int
record_blocked(struct record *r)
{
	size_t n = record_unacked(r);

	if (!r->blocked && n > RECORD_HIGH)
		r->blocked = 1;
	else if (r->blocked && n < RECORD_LOW)
		r->blocked = 0;
	return r->blocked;
}

void
record_pause(
    struct record *r, int64_t now, uint32_t reason, int paused, const char *why)
{
	uint32_t pause = paused ? r->pause | reason : r->pause & ~reason;
	char text[320];

	if (pause == r->pause)
		return;
	record_emit_open(r, now);
	if (journal_ok(r->j))
		(void)journal_set_pause(r->j, pause);
	if (paused)
		snprintf(text, sizeof(text),
		    "recording paused: %s; input is still recorded", why);
	else if (pause == 0)
		snprintf(text, sizeof(text), "recording resumed: %s", why);
	else
		snprintf(text, sizeof(text),
		    "recording still paused: %s, but another reason holds",
		    why);
	r->pause = pause;
	record_emit(r, 'm', now, text, strlen(text));
	record_release(r);
}

uint32_t
record_paused(const struct record *r)
{
	return r->pause;
}
