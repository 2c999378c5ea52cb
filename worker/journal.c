/* SPDX-License-Identifier: ISC */
/*
 * The session's journal: a memfd that master creates with the session and
 * keeps until it ends, handed to each worker, so that what a worker had
 * read from the container, what it had been typed and what it had emitted
 * outlive the worker. A replacement worker reads it back (record.c) and
 * goes on where the dead one stopped, with the same seqs.
 *
 * Layout. The first JOURNAL_HEAD bytes are the head: a magic, the offset
 * of the first record still needed (start), and the next seq and how far
 * each stream was done with (emitted or dropped) at the time start last
 * moved: a journal with no records left still says where they stood. The
 * head also says whether output recording is paused (record_pause), so
 * that a replacement worker goes on paused without a second marker; a
 * head written before that field existed reads as not paused. Records follow, each a 32-byte struct journal_disk
 * and its data:
 *   'O'  bytes read from the container, as read; pos is the position of
 *        their first byte in the output stream
 *   'I'  bytes typed, as typed (raw, before masking), pos in the input
 *        stream
 *   'E'  an emitted event: kind, seq, t_us and its data; for 'o' and 'i'
 *        events pos is the stream position just after their bytes
 *   'A'  an ack: every event up to seq is committed
 * The journal only grows at its end; when start moves on, the whole pages
 * below it are punched out (the head is written first, so a reader never
 * meets a hole), and when nothing at all is needed it is truncated back to
 * the head.
 *
 * Crashes. A record is written with one pwritev, or for output as a header
 * then a splice from the worker's pipe (journal_splice): the bytes are
 * either in the pipe, which master also holds, or in the file, never only
 * in a dead process's memory. A worker killed in the middle leaves a
 * short last record: an 'O' record keeps the bytes that made it (the rest
 * are still in the pipe), anything else is cut off (it was not acted on
 * yet: a record is written before the act it records).
 */
#include <sys/stat.h>
#include <sys/uio.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/log.h"
#include "common/xmalloc.h"
#include "worker/worker.h"

#define JOURNAL_HEAD     4096
#define JOURNAL_PAGE     4096
#define JOURNAL_MAGIC    "aliajnl2"
#define JOURNAL_DATA_MAX (1024 * 1024) /* of one record: more is damage */

struct journal_head {
	char magic[8];
	uint64_t start;
	uint64_t seq;
	uint64_t out_done, in_done;
	uint64_t pause; /* output recording paused: RECORD_PAUSE_* bits */
};

struct journal_disk {
	uint8_t type;
	uint8_t kind;
	uint16_t pad;
	uint32_t len;
	int64_t t;
	uint64_t seq;
	uint64_t pos;
};

struct journal {
	int fd;
	int broken;    /* a write failed: the journal is given up */
	off_t end;     /* where the next record goes */
	off_t start;   /* as in the head */
	off_t punched; /* [JOURNAL_HEAD, punched) is a hole */
	uint64_t seq;  /* as in the head */
	uint64_t out_done, in_done; /* as in the head */
	uint32_t pause;             /* as in the head */
	unsigned char *live;        /* read at open, until journal_recovered */
	struct journal_rec *recs;
	size_t nrecs;
};

static void
journal_broken(struct journal *j, const char *what)
{
	log_warn("journal: %s; this session's recording no longer survives "
	         "a worker crash",
	    what);
	j->broken = 1;
}

static int
journal_write_head(struct journal *j)
{
	struct journal_head h;

	memset(&h, 0, sizeof(h));
	memcpy(h.magic, JOURNAL_MAGIC, sizeof(h.magic));
	h.start = (uint64_t)j->start;
	h.seq = j->seq;
	h.out_done = j->out_done;
	h.in_done = j->in_done;
	h.pause = j->pause;
	if (pwrite(j->fd, &h, sizeof(h), 0) != (ssize_t)sizeof(h)) {
		journal_broken(j, "writing its head");
		return -1;
	}
	return 0;
}

/* Reads [from, to) of the file into buf; -1 on a short read. */
static int
journal_read(int fd, void *buf, size_t len, off_t from)
{
	unsigned char *p = buf;
	ssize_t n;

	while (len > 0) {
		n = pread(fd, p, len, from);
		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		p += n;
		len -= (size_t)n;
		from += n;
	}
	return 0;
}

/*
 * Parses the live records; the last one may be short (a worker killed
 * while writing it): see the essay. Returns where the good records end.
 */
static off_t
journal_parse(struct journal *j, off_t size)
{
	struct journal_disk d;
	struct journal_rec *rec;
	size_t cap = 0, datalen, have;
	off_t off = j->start;

	while (off + (off_t)sizeof(d) <= size) {
		memcpy(&d, j->live + (off - j->start), sizeof(d));
		if ((d.type != 'O' && d.type != 'I' && d.type != 'E' &&
		        d.type != 'A') ||
		    d.len > JOURNAL_DATA_MAX) {
			log_warnx("journal: damaged record at %lld; the rest "
			          "is dropped",
			    (long long)off);
			break;
		}
		datalen = d.type == 'A' ? 0 : d.len;
		have = (size_t)(size - off - (off_t)sizeof(d));
		if (datalen > have) {
			if (d.type != 'O' || have == 0)
				break;
			/* the rest of its bytes are still in the pipe */
			log_info("journal: output record at %lld cut at %zu "
			         "of %zu bytes",
			    (long long)off, have, datalen);
			d.len = (uint32_t)have;
			datalen = have;
			if (pwrite(j->fd, &d, sizeof(d), off) != sizeof(d)) {
				journal_broken(j, "repairing its last record");
				break;
			}
		}
		if (j->nrecs == cap) {
			cap = cap ? cap * 2 : 256;
			j->recs = xreallocarray(j->recs, cap, sizeof(*j->recs));
		}
		rec = &j->recs[j->nrecs++];
		rec->off = off;
		rec->type = (char)d.type;
		rec->kind = (char)d.kind;
		rec->len = datalen;
		rec->t = d.t;
		rec->seq = d.seq;
		rec->pos = d.pos;
		rec->data = j->live + (off - j->start) + sizeof(d);
		off += (off_t)(sizeof(d) + datalen);
	}
	return off;
}

struct journal *
journal_open(int fd)
{
	struct journal_head h;
	struct journal *j;
	struct stat st;
	off_t size;

	j = xcalloc(1, sizeof(*j));
	j->fd = fd;
	if (fstat(fd, &st) == -1)
		fatal("journal: fstat");
	size = st.st_size;
	memset(&h, 0, sizeof(h));
	if (size >= JOURNAL_HEAD && journal_read(fd, &h, sizeof(h), 0) == 0 &&
	    memcmp(h.magic, JOURNAL_MAGIC, sizeof(h.magic)) == 0 &&
	    h.start >= JOURNAL_HEAD) {
		j->seq = h.seq;
		j->out_done = h.out_done;
		j->in_done = h.in_done;
		j->pause = (uint32_t)h.pause;
		j->start = h.start <= (uint64_t)size ? (off_t)h.start : size;
	} else {
		if (size != 0)
			log_warnx("journal: no head; starting it afresh");
		if (ftruncate(fd, JOURNAL_HEAD) == -1)
			fatal("journal: ftruncate");
		size = j->start = JOURNAL_HEAD;
	}
	j->punched = j->start & ~(off_t)(JOURNAL_PAGE - 1);
	if (j->punched < JOURNAL_HEAD)
		j->punched = JOURNAL_HEAD;
	j->live = xmalloc((size_t)(size - j->start) + 1);
	if (journal_read(fd, j->live, (size_t)(size - j->start), j->start) ==
	    -1)
		fatal("journal: reading it back");
	j->end = journal_parse(j, size);
	if (j->end < size && ftruncate(fd, j->end) == -1)
		journal_broken(j, "cutting off its damaged end");
	if (journal_write_head(j) == -1)
		return j;
	if (j->nrecs > 0 || j->start > JOURNAL_HEAD)
		log_info("journal: %zu records, %lld bytes, next seq %llu at "
		         "least",
		    j->nrecs, (long long)(j->end - j->start),
		    (unsigned long long)j->seq);
	return j;
}

const struct journal_rec *
journal_records(const struct journal *j, size_t *n)
{
	*n = j->nrecs;
	return j->recs;
}

uint64_t
journal_seq(const struct journal *j)
{
	return j->seq;
}

void
journal_done(const struct journal *j, uint64_t *out_done, uint64_t *in_done)
{
	*out_done = j->out_done;
	*in_done = j->in_done;
}

uint32_t
journal_pause(const struct journal *j)
{
	return j->pause;
}

int
journal_set_pause(struct journal *j, uint32_t pause)
{
	if (j->broken)
		return -1;
	j->pause = pause;
	return journal_write_head(j);
}

void
journal_recovered(struct journal *j)
{
	free(j->live);
	free(j->recs);
	j->live = NULL;
	j->recs = NULL;
	j->nrecs = 0;
}

void
journal_free(struct journal *j)
{
	if (j == NULL)
		return;
	journal_recovered(j);
	close(j->fd);
	free(j);
}

int
journal_ok(const struct journal *j)
{
	return j != NULL && !j->broken;
}

off_t
journal_end(const struct journal *j)
{
	return j->end;
}

static void
journal_disk_fill(struct journal_disk *d, const struct journal_rec *rec)
{
	memset(d, 0, sizeof(*d));
	d->type = (uint8_t)rec->type;
	d->kind = (uint8_t)rec->kind;
	d->len = (uint32_t)rec->len;
	d->t = rec->t;
	d->seq = rec->seq;
	d->pos = rec->pos;
}

off_t
journal_append(struct journal *j, const struct journal_rec *rec)
{
	struct journal_disk d;
	struct iovec iov[2];
	size_t want;
	ssize_t n;
	off_t off;

	if (j->broken)
		return -1;
	journal_disk_fill(&d, rec);
	iov[0].iov_base = &d;
	iov[0].iov_len = sizeof(d);
	iov[1].iov_base = (void *)rec->data;
	iov[1].iov_len = rec->type == 'A' ? 0 : rec->len;
	want = iov[0].iov_len + iov[1].iov_len;
	do
		n = pwritev(j->fd, iov, 2, j->end);
	while (n == -1 && errno == EINTR);
	if (n != (ssize_t)want) {
		if (ftruncate(j->fd, j->end) == -1)
			log_warn("journal: ftruncate");
		journal_broken(j, "appending a record");
		return -1;
	}
	off = j->end;
	j->end += (off_t)want;
	return off;
}

ssize_t
journal_splice(
    struct journal *j, struct journal_rec *rec, int pipe_r, unsigned char *buf)
{
	struct journal_disk d;
	size_t left, got;
	loff_t to;
	ssize_t n;

	if (j->broken)
		return -1;
	journal_disk_fill(&d, rec);
	if (pwrite(j->fd, &d, sizeof(d), j->end) != sizeof(d)) {
		journal_broken(j, "appending an output record");
		return -1;
	}
	to = j->end + (off_t)sizeof(d);
	for (left = rec->len; left > 0; left -= (size_t)n) {
		n = splice(pipe_r, NULL, j->fd, &to, left,
		    SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
		if (n == -1 && errno == EINTR) {
			n = 0;
			continue;
		}
		if (n <= 0)
			break;
	}
	got = rec->len - left;
	if (left > 0) {
		/* The bytes moved so far are the record; the rest wait. */
		d.len = (uint32_t)got;
		if (pwrite(j->fd, &d, sizeof(d), j->end) != sizeof(d))
			log_warn("journal: pwrite");
		journal_broken(j, "splicing output into it");
	}
	if (journal_read(j->fd, buf, got, j->end + (off_t)sizeof(d)) == -1)
		fatal("journal: reading back output");
	rec->off = j->end;
	rec->len = got;
	j->end = to;
	return (ssize_t)got;
}

void
journal_release(struct journal *j, off_t live, uint64_t seq, uint64_t out_done,
    uint64_t in_done)
{
	off_t page;

	if (j->broken || (live == j->start && seq == j->seq))
		return;
	j->out_done = out_done;
	j->in_done = in_done;
	if (live >= j->end) {
		/* Nothing is needed: back to the head alone. */
		if (ftruncate(j->fd, JOURNAL_HEAD) == -1) {
			journal_broken(j, "truncating it");
			return;
		}
		j->end = j->start = j->punched = JOURNAL_HEAD;
		j->seq = seq;
		(void)journal_write_head(j);
		return;
	}
	j->start = live;
	j->seq = seq;
	if (journal_write_head(j) == -1)
		return;
	page = live & ~(off_t)(JOURNAL_PAGE - 1);
	if (page > j->punched) {
		if (fallocate(j->fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
		        j->punched, page - j->punched) == -1) {
			journal_broken(j, "punching out what is acked");
			return;
		}
		j->punched = page;
	}
}
