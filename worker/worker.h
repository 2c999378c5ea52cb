/* SPDX-License-Identifier: ISC */
/*
 * The worker side: one process per terminal session, owning the
 * container's attach stream and every websocket attached to the session,
 * and the instructor wall's process, which shares its websocket code.
 * One header for the side, each file with its own section; the websocket
 * (ws.c, ws_control.c) has its own, ws.h.
 */
#ifndef ALIA_WORKER_H
#define ALIA_WORKER_H

#include <sys/types.h>
#include <stddef.h>
#include <stdint.h>

#include "common/proto.h"

/* worker.c */
/* The worker role: runs one session until it ends. */
int worker_main(int verbose);

/* wall.c */
/* The wall role: one instructor wall's websocket, many sessions. */
int wall_main(int verbose);

/* scrollback.c */
#define SCROLLBACK_SIZE (256 * 1024) /* the most recent output kept */

struct scrollback;

/* A ring of the last size bytes of output. */
struct scrollback *scrollback_new(size_t size);
void scrollback_free(struct scrollback *);
void scrollback_append(struct scrollback *, const void *, size_t);
/* Puts older output in front of what the ring holds (its tail wins). */
void scrollback_prepend(struct scrollback *, const void *, size_t);
/* Bytes held: at most the ring's size. */
size_t scrollback_len(const struct scrollback *);
/* The contents, oldest first, as two spans (the second may be empty). */
void scrollback_spans(const struct scrollback *, const unsigned char **,
    size_t *, const unsigned char **, size_t *);
/* Copies up to len bytes of the contents, oldest first; returns the count. */
size_t scrollback_copy(const struct scrollback *, void *, size_t len);

/* journal.c */
struct journal;

/* One record of the journal; data points into the journal or the caller. */
struct journal_rec {
	off_t off;
	char type; /* 'O' output, 'I' input, 'E' event, 'A' ack */
	char kind; /* 'E': the event's kind */
	size_t len;
	int64_t t;    /* 'O', 'I': unix us; 'E': the event's t_us */
	uint64_t seq; /* 'E', 'A' */
	uint64_t pos; /* stream position: see journal.c */
	const unsigned char *data;
};

/* Opens the session's journal (fd taken) and reads its live records. */
struct journal *journal_open(int fd);
/* The records read at open, in order, until journal_recovered. */
const struct journal_rec *journal_records(const struct journal *, size_t *);
/* The next seq as of the last release: at least this. */
uint64_t journal_seq(const struct journal *);
/* How far output and input were done with as of the last release. */
void journal_done(
    const struct journal *, uint64_t *out_done, uint64_t *in_done);
/* The pause bits (RECORD_PAUSE_*) the head holds. */
uint32_t journal_pause(const struct journal *);
/* Writes the pause bits into the head. */
int journal_set_pause(struct journal *, uint32_t pause);
/* Frees what journal_open read back. */
void journal_recovered(struct journal *);
void journal_free(struct journal *);
/* Whether records are being kept (no write has failed). */
int journal_ok(const struct journal *);
/* Appends a record; returns its offset, or -1 (the journal is given up). */
off_t journal_append(struct journal *, const struct journal_rec *);
/*
 * Moves rec->len bytes from pipe_r into an 'O' record and copies them to
 * buf; sets rec->off and returns how many moved (the rest stay in the
 * pipe), or -1 when the journal was given up before.
 */
ssize_t journal_splice(
    struct journal *, struct journal_rec *, int pipe_r, unsigned char *buf);
/* Where the next record goes. */
off_t journal_end(const struct journal *);
/*
 * Records before live are no longer needed; seq is the next seq, and the
 * streams are done with up to out_done and in_done.
 */
void journal_release(struct journal *, off_t live, uint64_t seq,
    uint64_t out_done, uint64_t in_done);

/* record.c */
#define RECORD_EVENT_MAX (64 * 1024)        /* data of one event */
#define RECORD_OPEN_US   500000             /* an open event's longest wait */
#define RECORD_ECHO_US   250000             /* input not echoed by then: '*' */
#define RECORD_HIGH      (16 * 1024 * 1024) /* unacked: stop reading */
#define RECORD_LOW       (8 * 1024 * 1024)  /* unacked: read again */

struct record;
struct msg_event;

/* Hands one event to the broker; -1 when there is no channel to it. */
typedef int (*record_send_cb)(const struct msg_event *, const void *, void *);

/*
 * The event log of a session; times are unix microseconds, t_us counts
 * from started_us. mask: record unechoed printable input as '*'.
 * max_out: output bytes recorded at most (0: all). With a journal
 * (taken), what a dead worker left in it is taken up first.
 */
struct record *record_new(int64_t started_us, int mask, uint64_t max_out,
    struct journal *, record_send_cb, void *);
void record_free(struct record *);
/* Whether a journal keeps the log across a worker crash. */
int record_journaled(const struct record *);
void record_output(struct record *, int64_t now, const void *, size_t);
/*
 * Takes up to len bytes of output waiting in pipe_r, through the journal
 * when there is one, into buf and the log; returns how many, 0 or -1 as
 * read(2) does.
 */
ssize_t record_output_pipe(
    struct record *, int64_t now, int pipe_r, unsigned char *buf, size_t len);
void record_input(struct record *, int64_t now, const void *, size_t);
void record_resize(struct record *, int64_t now, uint16_t cols, uint16_t rows);
void record_marker(struct record *, int64_t now, const char *);
/* The seq of the next event is at least seq (a fresh journal). */
void record_first_seq(struct record *, uint64_t seq);
/* Emits open events whose time has come. */
void record_tick(struct record *, int64_t now);
/* When record_tick next has work (unix us), or -1 if nothing is open. */
int64_t record_deadline(const struct record *);
/* Emits every open event now (the session ends). */
void record_flush(struct record *, int64_t now);
/* Drops the events up to and including seq: they are committed. */
void record_ack(struct record *, uint64_t seq);
/* Sends again every unacked event from seq on, in order. */
void record_resend(struct record *, uint64_t seq);
/* Bytes emitted and not acked, plus the bytes of open events. */
size_t record_unacked(const struct record *);
/* Events emitted and not acked. */
size_t record_unacked_events(const struct record *);
/* The seq the next event will get. */
uint64_t record_next_seq(const struct record *);
/* Whether reading the container must stop: past RECORD_HIGH, until LOW. */
int record_blocked(struct record *);
/*
 * Sets (paused) or clears one reason (RECORD_PAUSE_*) for not recording
 * output; each change of the reasons is a marker, why in its text. A no-op
 * when nothing changes.
 */
void record_pause(
    struct record *, int64_t now, uint32_t reason, int paused, const char *why);
/* The reasons output is not recorded now; 0: it is. */
uint32_t record_paused(const struct record *);

#endif
