/* SPDX-License-Identifier: ISC */
/*
 * One browser's terminal websocket in the worker: the answer to its
 * upgrade, the RFC 6455 conversation (wslay's event API, server side),
 * the JSON control messages it sends, and its own queue of output.
 *
 * Output goes through two queues. The first is ours: a list of chunks
 * (text frames, binary output, the final close) in the order they must
 * reach the browser. The second is wslay's, which we feed from the head of
 * ours only while it holds less than WS_FEED_MARK bytes, so that wslay
 * never holds more than about two chunks; its send callback writes
 * straight into the non-blocking socket and says "would block" when the
 * socket is full. Output for a fast browser thus goes out at once and is
 * never held back; output for a slow one piles up in our queue.
 *
 * One budget per browser. Everything queued for it counts: terminal
 * bytes and text messages in our queue, and what wslay holds, including
 * the PONGs it queues by itself for the browser's PINGs (ws_queued).
 * Terminal output that would take the total past WS_OUT_HIGH means the
 * browser is too slow; so does holding more than WS_OUT_FAIR while all
 * the browsers of the process together hold more than WS_ALL_HIGH (the
 * worker's ceiling: a fast browser never holds that much, so only slow
 * ones pay). A browser too slow has its binary chunks dropped (text ones
 * stay:
 * they are small and in order) and it is marked for re-sync. From then on
 * output for it is ignored. Once both queues are empty, it gets
 * {"type":"resync"}, then a binary frame that clears the screen followed
 * by the scrollback ring, and then live output again. A text message
 * that would take the total past WS_OUT_HIGH + WS_TEXT_MAX sends the
 * browser off (close 1008): text is never dropped silently. Replies to
 * the browser's own messages (pongs, errors) stop its reading instead:
 * past WS_TEXT_HIGH bytes of text, or WS_CTRL_MAX frames in wslay's
 * queue, nothing more is read from it until they are sent, so a browser
 * that sends and never reads is held by TCP, not by our memory. The
 * viewers list is one message at most per browser: a newer list replaces
 * one not yet sent. Memory per browser is therefore bounded, whatever
 * the container prints and whatever the browser sends.
 *
 * States: OPEN while speaking; CLOSING once a close frame is handed to
 * wslay (by us, or by wslay on a protocol violation or the browser's own
 * close); LINGER once the close is sent: the write side is shut and reads
 * are drained and discarded until the browser hangs up or WS_LINGER_SEC
 * passes, so that closing never resets the connection under the last
 * frames; DEAD once ws_close() has closed the fd. The free is deferred to
 * a fresh turn of the event loop, where the owner hears WS_CLOSED.
 */
#include <sys/queue.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>
#include <sha1.h>
#include <wslay/wslay.h>
#include <yajl/yajl_gen.h>

#include "common/defer.h"
#include "common/log.h"
#include "common/proto.h"
#include "common/str.h"
#include "common/xmalloc.h"
#include "worker/worker.h"
#include "worker/ws.h"

#define WS_GUID       "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
#define WS_CHUNK_MAX  (64 * 1024)        /* largest frame we queue */
#define WS_FEED_MARK  (64 * 1024)        /* wslay's queue is fed below this */
#define WS_TEXT_HIGH  (64 * 1024)        /* queued text that stops reading */
#define WS_TEXT_MAX   (512 * 1024)       /* past the output's: sent off */
#define WS_OUT_FAIR   (256 * 1024)       /* ... past WS_ALL_HIGH: re-synced */
#define WS_ALL_HIGH   (24 * 1024 * 1024) /* every browser's queues */
#define WS_CTRL_MAX   32           /* wslay's queued frames that stop it */
#define WS_SNDBUF     (512 * 1024) /* the socket's (the kernel doubles it) */
#define WS_OMSG_COST  64           /* what wslay spends on a queued frame */
#define WS_EXIT_SEC   3            /* to flush before closing anyway */
#define WS_LINGER_SEC 2            /* to wait for the browser's hang-up */
#define WS_CLEAR      "\x1b[H\x1b[2J\x1b[3J"

struct ws_chunk {
	TAILQ_ENTRY(ws_chunk) entry;
	uint8_t opcode; /* WSLAY_TEXT_FRAME, _BINARY_FRAME, _CONNECTION_CLOSE */
	uint8_t viewers; /* the viewers list: a newer one replaces it */
	uint16_t status; /* of a close */
	size_t len, cap;
	unsigned char data[];
};
TAILQ_HEAD(ws_chunks, ws_chunk);

struct ws {
	int fd;
	int mode; /* ATTACH_CONTROL or ATTACH_WATCH */
	uint64_t serial;
	int state;
#define WS_OPEN    0 /* speaking websocket */
#define WS_CLOSING 1 /* a close frame is queued; sending what is left */
#define WS_LINGER  2 /* close sent and write side shut; draining reads */
#define WS_DEAD    3 /* closed; the free is deferred */
	int flags;
#define WS_F_RESYNC  0x01    /* output was dropped: re-send the screen */
#define WS_F_PAUSED  0x02    /* input is not read (backpressure) */
#define WS_F_EOF     0x04    /* the browser closed its side */
#define WS_F_WREADY  0x08    /* the write event is armed */
#define WS_F_BLOCKED 0x10    /* the socket is full */
#define WS_F_HOLDER  0x20    /* a watcher holding control: its input goes in */
#define WS_F_MAY_ASK 0x40    /* a watcher who may ask for control */
#define WS_F_INRECV  0x80    /* inside wslay's receive: no sending now */
#define WS_F_DRAINED 0x100   /* a short read: the socket is empty for now */
	char who[OWNER_LEN]; /* the user, as msg_attach named them */
	int error;           /* errno of a failed read or write */
	struct {
		uint8_t hdr[14]; /* the frame header being read */
		uint8_t have, need;
		uint64_t left; /* payload bytes of the current frame to come */
	} scan;
	const char *violation; /* a header wslay would refuse silently */
	uint8_t held[14];      /* a frame header, sent with its payload */
	size_t nheld;

	struct event_base *base;
	struct wslay_event_context *ctx;
	struct event *ev_read;
	struct event *ev_write;
	struct event *ev_timer; /* linger and closing deadline */
	struct ws_chunks out;   /* not yet handed to wslay, in order */
	size_t out_bytes;       /* binary bytes in out */
	size_t out_text;        /* text bytes in out */
	uint64_t resyncs;
	const struct scrollback *sb;
	ws_cb cb;
	void *arg;
	struct defer defer;
};

static uint64_t ws_serial;
static size_t ws_all; /* bytes in every browser's queue of ours */

static void ws_progress(struct ws *);

const char *
ws_mode_name(int mode)
{
	return mode == ATTACH_CONTROL ? "control" : "watch";
}

static const char *
ws_status_name(uint16_t status)
{
	switch (status) {
	case WSLAY_CODE_NORMAL_CLOSURE:
		return "normal closure";
	case WSLAY_CODE_GOING_AWAY:
		return "going away";
	case WSLAY_CODE_PROTOCOL_ERROR:
		return "protocol error";
	case WSLAY_CODE_INVALID_FRAME_PAYLOAD_DATA:
		return "invalid UTF-8 in a text message";
	case WSLAY_CODE_MESSAGE_TOO_BIG:
		return "message too big";
	case WSLAY_CODE_NO_STATUS_RCVD:
		return "malformed frame";
	}
	return "closed";
}

int
ws_accept_key(const char *key, char *out, size_t outlen)
{
	unsigned char md[SHA1_DIGEST_LENGTH];
	SHA1_CTX ctx;
	char buf[128];

	if (str_fmt(buf, sizeof(buf), "%s%s", key, WS_GUID) == -1)
		return -1;
	SHA1Init(&ctx);
	SHA1Update(&ctx, (const unsigned char *)buf, strlen(buf));
	SHA1Final(md, &ctx);
	return str_base64(out, outlen, md, sizeof(md));
}

/* Appends a chunk to the queue, or grows the binary chunk at its tail. */
static void
ws_queue(struct ws *ws, uint8_t opcode, const void *data, size_t len)
{
	const unsigned char *p = data;
	struct ws_chunk *c;
	size_t n;

	if (opcode == WSLAY_BINARY_FRAME)
		ws->out_bytes += len;
	else
		ws->out_text += len;
	ws_all += len;
	do {
		c = TAILQ_LAST(&ws->out, ws_chunks);
		if (opcode == WSLAY_BINARY_FRAME && c != NULL &&
		    c->opcode == WSLAY_BINARY_FRAME && c->len < c->cap) {
			str_fill(c->data, &c->len, c->cap, &p, &len);
			continue;
		}
		n = len;
		if (opcode == WSLAY_BINARY_FRAME && n > WS_CHUNK_MAX)
			n = WS_CHUNK_MAX;
		c = xmalloc(sizeof(*c) + n);
		c->opcode = opcode;
		c->viewers = 0;
		c->status = 0;
		c->len = c->cap = n;
		memcpy(c->data, p, n);
		TAILQ_INSERT_TAIL(&ws->out, c, entry);
		p += n;
		len -= n;
	} while (len > 0);
}

static void
ws_chunk_done(struct ws *ws, struct ws_chunk *c)
{
	TAILQ_REMOVE(&ws->out, c, entry);
	if (c->opcode == WSLAY_BINARY_FRAME)
		ws->out_bytes -= c->len;
	else
		ws->out_text -= c->len;
	ws_all -= c->len;
	free(c);
}

size_t
ws_queued(const struct ws *ws)
{
	size_t n = ws->out_bytes + ws->out_text;

	if (ws->ctx != NULL)
		n += wslay_event_get_queued_msg_length(ws->ctx) +
		    wslay_event_get_queued_msg_count(ws->ctx) * WS_OMSG_COST;
	return n;
}

int
ws_may_ask(const struct ws *ws)
{
	return (ws->flags & WS_F_MAY_ASK) != 0;
}

uint64_t
ws_resyncs(const struct ws *ws)
{
	return ws->resyncs;
}

/* Whether what the browser's messages made us queue stops its reading. */
static int
ws_replies_full(const struct ws *ws)
{
	return ws->out_text > WS_TEXT_HIGH ||
	    wslay_event_get_queued_msg_count(ws->ctx) > WS_CTRL_MAX;
}

static yajl_gen
ws_gen(const char *type)
{
	yajl_gen g;

	if ((g = yajl_gen_alloc(NULL)) == NULL)
		fatalx("%s: out of memory", __func__);
	yajl_gen_map_open(g);
	yajl_gen_string(g, (const unsigned char *)"type", 4);
	yajl_gen_string(g, (const unsigned char *)type, strlen(type));
	return g;
}

static void
ws_gen_str(yajl_gen g, const char *key, const char *val)
{
	yajl_gen_string(g, (const unsigned char *)key, strlen(key));
	yajl_gen_string(g, (const unsigned char *)val, strlen(val));
}

static void
ws_gen_int(yajl_gen g, const char *key, long long val)
{
	yajl_gen_string(g, (const unsigned char *)key, strlen(key));
	yajl_gen_integer(g, val);
}

static void ws_last(struct ws *, yajl_gen, uint16_t);

/*
 * Closes the object, queues it as a text frame and frees g; a browser
 * that this would take over its budget is sent off instead.
 */
static void
ws_gen_queue(struct ws *ws, yajl_gen g)
{
	const unsigned char *buf;
	struct ws_chunk *c;
	size_t len;

	yajl_gen_map_close(g);
	if (yajl_gen_get_buf(g, &buf, &len) != yajl_gen_status_ok)
		fatalx("%s: cannot generate JSON", __func__);
	if (ws_queued(ws) + len > WS_OUT_HIGH + WS_TEXT_MAX) {
		yajl_gen_free(g);
		if (ws->state != WS_OPEN)
			return; /* a close is on its way already */
		log_warnx("browser %llu: %zu bytes queued and not read: sent "
		          "off",
		    (unsigned long long)ws->serial, ws_queued(ws));
		while ((c = TAILQ_FIRST(&ws->out)) != NULL)
			ws_chunk_done(ws, c);
		g = ws_gen("error");
		ws_gen_str(g, "message",
		    "this browser does not read what it is sent: closed");
		ws_last(ws, g, WSLAY_CODE_POLICY_VIOLATION);
		return;
	}
	ws_queue(ws, WSLAY_TEXT_FRAME, buf, len);
	yajl_gen_free(g);
}

static void
ws_text(struct ws *ws, const char *type)
{
	ws_gen_queue(ws, ws_gen(type));
}

void
ws_error(struct ws *ws, const char *message)
{
	yajl_gen g;

	log_info("browser %llu: refused a message: %s",
	    (unsigned long long)ws->serial, message);
	g = ws_gen("error");
	ws_gen_str(g, "message", message);
	ws_gen_queue(ws, g);
	if (!(ws->flags & WS_F_INRECV))
		ws_progress(ws); /* else: after the read */
}

/* Queues the screen: the scrollback, after a clear when re-syncing. */
static void
ws_screen(struct ws *ws, int clear)
{
	const unsigned char *p1, *p2;
	size_t l1, l2;

	if (clear)
		ws_queue(ws, WSLAY_BINARY_FRAME, WS_CLEAR, strlen(WS_CLEAR));
	scrollback_spans(ws->sb, &p1, &l1, &p2, &l2);
	if (l1 > 0)
		ws_queue(ws, WSLAY_BINARY_FRAME, p1, l1);
	if (l2 > 0)
		ws_queue(ws, WSLAY_BINARY_FRAME, p2, l2);
}

/* Starts or stops reading from the browser, as the state asks. */
static void
ws_read_update(struct ws *ws)
{
	int want;

	if (ws->state == WS_DEAD)
		return;
	if (ws->state == WS_LINGER)
		want = 1;
	else
		want = wslay_event_want_read(ws->ctx) &&
		    !(ws->flags & WS_F_PAUSED) && !ws_replies_full(ws);
	if (want && !event_pending(ws->ev_read, EV_READ, NULL)) {
		event_add(ws->ev_read, NULL);
		/* wslay may hold frames it read before the pause. */
		event_active(ws->ev_read, EV_READ, 0);
	} else if (!want && event_pending(ws->ev_read, EV_READ, NULL))
		event_del(ws->ev_read);
}

/*
 * Follows frame boundaries in what the browser sends, to catch the header
 * violations that wslay answers with a close that has no status code: a
 * 64-bit length with its top bit set, a length in more bytes than it
 * needs, a fragmented control frame, a control frame longer than 125
 * bytes, and a close frame of 1 byte (a status code takes 2). Returns how
 * many of the n bytes come before such a header (all n when there is
 * none).
 */
static size_t
ws_scan(struct ws *ws, const uint8_t *p, size_t n)
{
	size_t i = 0, start = 0, take;
	uint8_t *h = ws->scan.hdr, l7;
	uint64_t len;
	int k;

	while (i < n) {
		if (ws->scan.left > 0) {
			take = n - i < ws->scan.left ? n - i : ws->scan.left;
			i += take;
			ws->scan.left -= take;
			continue;
		}
		if (ws->scan.have == 0) {
			start = i;
			ws->scan.need = 2;
		}
		h[ws->scan.have++] = p[i++];
		if (ws->scan.have == 2) {
			l7 = h[1] & 0x7f;
			ws->scan.need = 2 +
			    (l7 == 126          ? 2
			            : l7 == 127 ? 8
			                        : 0) +
			    ((h[1] & 0x80) ? 4 : 0);
		}
		if (ws->scan.have < 2 || ws->scan.have < ws->scan.need)
			continue;
		l7 = h[1] & 0x7f;
		if (l7 < 126)
			len = l7;
		else if (l7 == 126)
			len = (uint64_t)h[2] << 8 | h[3];
		else
			for (len = 0, k = 2; k < 10; k++)
				len = len << 8 | h[k];
		if (l7 == 127 && (h[2] & 0x80))
			ws->violation =
			    "a 64-bit frame length with its top bit set";
		else if ((l7 == 126 && len < 126) ||
		    (l7 == 127 && len <= 0xffff))
			ws->violation = "a length not in its shortest form";
		else if ((h[0] & 0x0f) == 0x8 && len == 1)
			ws->violation = "a close frame of 1 byte";
		else if ((h[0] & 0x08) && !(h[0] & 0x80))
			ws->violation = "a fragmented control frame";
		else if ((h[0] & 0x08) && len > 125)
			ws->violation = "a control frame longer than 125 bytes";
		if (ws->violation != NULL)
			return start;
		ws->scan.left = len;
		ws->scan.have = 0;
	}
	return n;
}

static ssize_t
ws_recv_cb(
    wslay_event_context_ptr ctx, uint8_t *buf, size_t len, int flags, void *arg)
{
	struct ws *ws = arg;
	ssize_t n;

	if (ws->state == WS_DEAD ||
	    (ws->flags & (WS_F_PAUSED | WS_F_DRAINED)) || ws_replies_full(ws) ||
	    ws->violation != NULL) {
		wslay_event_set_error(ctx, WSLAY_ERR_WOULDBLOCK);
		return -1;
	}
	while ((n = recv(ws->fd, buf, len, 0)) == -1 && errno == EINTR)
		;
	if (n > 0) {
		/*
		 * Less than asked: the socket is empty, and the read event
		 * (level-triggered) comes back for more; not asking again
		 * saves a recv per keystroke.
		 */
		if ((size_t)n < len)
			ws->flags |= WS_F_DRAINED;
		/* wslay never sees a header it would refuse silently. */
		n = (ssize_t)ws_scan(ws, buf, (size_t)n);
		if (n == 0) {
			wslay_event_set_error(ctx, WSLAY_ERR_WOULDBLOCK);
			return -1;
		}
		return n;
	}
	if (n == -1 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
		wslay_event_set_error(ctx, WSLAY_ERR_WOULDBLOCK);
		return -1;
	}
	if (n == -1)
		ws->error = errno;
	ws->flags |= WS_F_EOF;
	wslay_event_set_error(ctx, WSLAY_ERR_CALLBACK_FAILURE);
	return -1;
}

/*
 * Sends the held header, if any, and then data; returns how much of data
 * went (the header sent first is not counted), or -1 with errno.
 */
static ssize_t
ws_sendv(struct ws *ws, const uint8_t *data, size_t len, int flags)
{
	struct iovec iov[2];
	struct msghdr mh;
	ssize_t n;

	memset(&mh, 0, sizeof(mh));
	mh.msg_iov = iov;
	if (ws->nheld > 0) {
		iov[mh.msg_iovlen].iov_base = ws->held;
		iov[mh.msg_iovlen++].iov_len = ws->nheld;
	}
	iov[mh.msg_iovlen].iov_base = (void *)(uintptr_t)data;
	iov[mh.msg_iovlen++].iov_len = len;
	while ((n = sendmsg(ws->fd, &mh, flags)) == -1 && errno == EINTR)
		;
	if (n == -1 || ws->nheld == 0)
		return n;
	if ((size_t)n < ws->nheld) {
		memmove(ws->held, ws->held + n, ws->nheld - (size_t)n);
		ws->nheld -= (size_t)n;
		return 0;
	}
	n -= (ssize_t)ws->nheld;
	ws->nheld = 0;
	return n;
}

static ssize_t
ws_send_cb(wslay_event_context_ptr ctx, const uint8_t *data, size_t len,
    int flags, void *arg)
{
	struct ws *ws = arg;
	ssize_t n;
	int sflags = MSG_NOSIGNAL;

	if (ws->state == WS_DEAD) {
		wslay_event_set_error(ctx, WSLAY_ERR_CALLBACK_FAILURE);
		return -1;
	}
	/*
	 * wslay hands a frame's header, then at once its payload: they go
	 * out in one sendmsg, a syscall less per frame (one per keystroke's
	 * echo). The header is taken as sent and held until then.
	 */
	if ((flags & WSLAY_MSG_MORE) && ws->nheld == 0 &&
	    len <= sizeof(ws->held)) {
		memcpy(ws->held, data, len);
		ws->nheld = len;
		return (ssize_t)len;
	}
	if (flags & WSLAY_MSG_MORE)
		sflags |= MSG_MORE;
	n = ws_sendv(ws, data, len, sflags);
	if (n > 0)
		return n;
	if (n == 0) {
		/* only (some of) the held header went: the socket is full */
		ws->flags |= WS_F_BLOCKED;
		wslay_event_set_error(ctx, WSLAY_ERR_WOULDBLOCK);
		return -1;
	}
	if (errno == EAGAIN || errno == EWOULDBLOCK) {
		ws->flags |= WS_F_BLOCKED;
		wslay_event_set_error(ctx, WSLAY_ERR_WOULDBLOCK);
		return -1;
	}
	ws->error = errno;
	wslay_event_set_error(ctx, WSLAY_ERR_CALLBACK_FAILURE);
	return -1;
}

/* A text frame from the browser: a JSON control message. */
static void
ws_control(struct ws *ws, const uint8_t *msg, size_t len)
{
	struct ws_control c;
	struct msg_resize r;
	char err[160];

	if (ws_control_parse(msg, len, &c, err, sizeof(err)) == -1) {
		ws_error(ws, err);
		return;
	}
	switch (c.type) {
	case WS_CONTROL_PING:
		ws_text(ws, "pong");
		return;
	case WS_CONTROL_CONTROL:
		ws->cb(ws, WS_ACTION, &c.action, sizeof(c.action), ws->arg);
		return;
	case WS_CONTROL_RESIZE:
		if (ws->mode != ATTACH_CONTROL) {
			ws_error(ws,
			    "this is a watch-only connection: resize "
			    "is refused");
			return;
		}
		r.cols = c.cols;
		r.rows = c.rows;
		ws->cb(ws, WS_RESIZE, &r, sizeof(r), ws->arg);
		return;
	}
}

static void
ws_msg_cb(wslay_event_context_ptr ctx,
    const struct wslay_event_on_msg_recv_arg *m, void *arg)
{
	struct ws *ws = arg;

	if (ws->state != WS_OPEN)
		return;
	switch (m->opcode) {
	case WSLAY_BINARY_FRAME:
		if (ws->mode != ATTACH_CONTROL && !(ws->flags & WS_F_HOLDER)) {
			ws_error(ws,
			    "this is a watch-only connection: input "
			    "is refused");
			return;
		}
		if (m->msg_length > 0)
			ws->cb(ws, WS_INPUT, m->msg, m->msg_length, ws->arg);
		return;
	case WSLAY_TEXT_FRAME:
		ws_control(ws, m->msg, m->msg_length);
		return;
	case WSLAY_CONNECTION_CLOSE:
		log_debug("browser %llu: sent close %u",
		    (unsigned long long)ws->serial, m->status_code);
		return;
	}
}

/* Hands chunks from the head of our queue to wslay while it is short. */
static void
ws_feed(struct ws *ws)
{
	struct ws_chunk *c;
	struct wslay_event_msg m;
	int r;

	while ((c = TAILQ_FIRST(&ws->out)) != NULL &&
	    wslay_event_get_queued_msg_length(ws->ctx) < WS_FEED_MARK) {
		if (c->opcode == WSLAY_CONNECTION_CLOSE) {
			/* wslay sends control frames first: wait for the rest. */
			if (wslay_event_want_write(ws->ctx))
				break;
			r = wslay_event_queue_close(
			    ws->ctx, c->status, NULL, 0);
			ws->state = WS_CLOSING;
		} else {
			m.opcode = c->opcode;
			m.msg = c->data;
			m.msg_length = c->len;
			r = wslay_event_queue_msg(ws->ctx, &m);
		}
		ws_chunk_done(ws, c);
		if (r == WSLAY_ERR_NO_MORE_MSG) {
			/* A close is on its way: nothing more will be sent. */
			while ((c = TAILQ_FIRST(&ws->out)) != NULL)
				ws_chunk_done(ws, c);
		} else if (r != 0)
			fatalx("%s: wslay: error %d", __func__, r);
	}
}

static void
ws_write_arm(struct ws *ws, int on)
{
	if (on && !(ws->flags & WS_F_WREADY)) {
		event_add(ws->ev_write, NULL);
		ws->flags |= WS_F_WREADY;
	} else if (!on && (ws->flags & WS_F_WREADY)) {
		event_del(ws->ev_write);
		ws->flags &= ~WS_F_WREADY;
	}
}

static void
ws_linger_start(struct ws *ws)
{
	struct timeval tv = {WS_LINGER_SEC, 0};
	uint16_t status;

	status = wslay_event_get_status_code_sent(ws->ctx);
	if (wslay_event_get_close_received(ws->ctx))
		log_info("browser %llu: closed by the browser (%u)",
		    (unsigned long long)ws->serial,
		    wslay_event_get_status_code_received(ws->ctx));
	else if (status == WSLAY_CODE_NORMAL_CLOSURE)
		log_info("browser %llu: closed (%u)",
		    (unsigned long long)ws->serial, status);
	else
		log_warnx("browser %llu: closed with %u: %s",
		    (unsigned long long)ws->serial, status,
		    ws_status_name(status));
	ws_write_arm(ws, 0);
	(void)shutdown(ws->fd, SHUT_WR);
	ws->state = WS_LINGER;
	evtimer_add(ws->ev_timer, &tv);
	ws_read_update(ws);
}

/*
 * Moves output along: feeds wslay and lets it write until the socket is
 * full or everything is sent, re-syncs a dropped browser once drained, and
 * moves to LINGER once the close has gone out.
 */
static void
ws_progress(struct ws *ws)
{
	int r;

	if (ws->state == WS_DEAD || ws->state == WS_LINGER)
		return;
	for (;;) {
		ws_feed(ws);
		if ((ws->flags & WS_F_RESYNC) && TAILQ_EMPTY(&ws->out) &&
		    !wslay_event_want_write(ws->ctx) && ws->state == WS_OPEN) {
			ws->flags &= ~WS_F_RESYNC;
			log_info("browser %llu: drained, re-syncing the screen",
			    (unsigned long long)ws->serial);
			ws_text(ws, "resync");
			ws_screen(ws, 1);
			continue;
		}
		if (!wslay_event_want_write(ws->ctx))
			break;
		ws->flags &= ~WS_F_BLOCKED;
		if ((r = wslay_event_send(ws->ctx)) != 0) {
			ws_close(ws,
			    ws->error != 0 ? strerror(ws->error)
			                   : "cannot send");
			return;
		}
		if (ws->flags & WS_F_BLOCKED)
			break;
	}
	ws_write_arm(ws, (ws->flags & WS_F_BLOCKED) != 0);
	if (wslay_event_get_close_sent(ws->ctx) &&
	    !wslay_event_want_write(ws->ctx)) {
		ws_linger_start(ws);
		return;
	}
	ws_read_update(ws);
}

static void
ws_linger_read(struct ws *ws)
{
	char buf[4096];
	ssize_t n;

	while ((n = recv(ws->fd, buf, sizeof(buf), 0)) > 0)
		;
	if (n == 0 ||
	    (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR))
		ws_close(ws, "closed");
}

static void
ws_read_cb(int fd, short what, void *arg)
{
	struct ws *ws = arg;
	int r;

	if (ws->state == WS_LINGER) {
		ws_linger_read(ws);
		return;
	}
	if (ws->state == WS_DEAD)
		return;
	ws->flags |= WS_F_INRECV;
	ws->flags &= ~WS_F_DRAINED;
	r = wslay_event_recv(ws->ctx);
	ws->flags &= ~WS_F_INRECV;
	if (ws->state == WS_DEAD)
		return;
	if (ws->violation != NULL && ws->state == WS_OPEN &&
	    !wslay_event_get_close_sent(ws->ctx)) {
		log_warnx("browser %llu: protocol error: %s; closing with 1002",
		    (unsigned long long)ws->serial, ws->violation);
		wslay_event_queue_close(ws->ctx, WSLAY_CODE_PROTOCOL_ERROR,
		    (const uint8_t *)ws->violation, strlen(ws->violation));
		wslay_event_shutdown_read(ws->ctx);
	}

	if (ws->flags & WS_F_EOF) {
		ws_close(ws,
		    ws->error != 0 ? strerror(ws->error)
		                   : "the browser hung up");
		return;
	}
	if (r != 0) {
		/* wslay refused a frame's header and queued a close. */
		log_warnx("browser %llu: protocol error in a frame header",
		    (unsigned long long)ws->serial);
		if (r != WSLAY_ERR_CALLBACK_FAILURE) {
			ws_close(ws, "wslay error");
			return;
		}
	}
	ws_progress(ws);
}

static void
ws_write_cb(int fd, short what, void *arg)
{
	struct ws *ws = arg;

	ws_progress(ws);
}

static void
ws_timer_cb(int fd, short what, void *arg)
{
	struct ws *ws = arg;

	if (ws->state == WS_LINGER)
		ws_close(ws, "closed (the browser did not hang up)");
	else
		ws_close(ws, "timed out sending the last output");
}

static void
ws_free(void *arg)
{
	struct ws *ws = arg;
	struct ws_chunk *c;

	ws->cb(ws, WS_CLOSED, NULL, 0, ws->arg);
	while ((c = TAILQ_FIRST(&ws->out)) != NULL)
		ws_chunk_done(ws, c);
	if (ws->ctx != NULL)
		wslay_event_context_free(ws->ctx);
	event_free(ws->ev_read);
	event_free(ws->ev_write);
	event_free(ws->ev_timer);
	free(ws);
}

void
ws_close(struct ws *ws, const char *reason)
{
	if (ws->state == WS_DEAD)
		return;
	log_info("browser %llu: connection closed: %s",
	    (unsigned long long)ws->serial, reason);
	ws->state = WS_DEAD;
	event_del(ws->ev_read);
	event_del(ws->ev_write);
	event_del(ws->ev_timer);
	close(ws->fd);
	ws->fd = -1;
	defer_queue(ws->base, &ws->defer, ws_free, ws);
}

/* Answers the upgrade on fd (taken) and sets up the conversation. */
static struct ws *
ws_open(struct event_base *base, int fd, const struct msg_attach *a,
    const struct scrollback *sb, ws_cb cb, void *arg)
{
	static const struct wslay_event_callbacks callbacks = {
	    .recv_callback = ws_recv_cb,
	    .send_callback = ws_send_cb,
	    .on_msg_recv_callback = ws_msg_cb,
	};
	struct ws *ws;
	char accept[32], head[256];
	ssize_t n;
	int len, flags, sndbuf = WS_SNDBUF;

	if (ws_accept_key(a->key, accept, sizeof(accept)) == -1) {
		log_warnx("%s: bad Sec-WebSocket-Key", __func__);
		close(fd);
		return NULL;
	}
	if ((flags = fcntl(fd, F_GETFL)) == -1 ||
	    fcntl(fd, F_SETFL, flags | O_NONBLOCK) == -1) {
		log_warn("%s: fcntl", __func__);
		close(fd);
		return NULL;
	}
	/*
	 * A fixed send buffer: the kernel's autotuning would otherwise hold
	 * megabytes for a browser that does not read, out of our budget's
	 * sight. Failing is harmless (a socketpair under TLS may refuse).
	 */
	(void)setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof(sndbuf));
	len = snprintf(head, sizeof(head),
	    "HTTP/1.1 101 Switching Protocols\r\n"
	    "Upgrade: websocket\r\n"
	    "Connection: Upgrade\r\n"
	    "Sec-WebSocket-Accept: %s\r\n"
	    "\r\n",
	    accept);
	/* The socket is fresh and empty: the answer fits in one write. */
	while ((n = send(fd, head, (size_t)len, MSG_NOSIGNAL)) == -1 &&
	    errno == EINTR)
		;
	if (n != len) {
		log_warn("%s: writing the 101 answer", __func__);
		close(fd);
		return NULL;
	}

	ws = xcalloc(1, sizeof(*ws));
	ws->fd = fd;
	ws->base = base;
	ws->mode = a->mode;
	snprintf(ws->who, sizeof(ws->who), "%s", a->owner);
	if (a->mode == ATTACH_WATCH && (a->flags & ATTACH_MAY_ASK))
		ws->flags |= WS_F_MAY_ASK;
	ws->serial = ++ws_serial;
	ws->state = WS_OPEN;
	ws->sb = sb;
	ws->cb = cb;
	ws->arg = arg;
	TAILQ_INIT(&ws->out);
	if (wslay_event_context_server_init(&ws->ctx, &callbacks, ws) != 0)
		fatalx("%s: wslay: out of memory", __func__);
	wslay_event_config_set_max_recv_msg_length(ws->ctx, WS_MAX_MESSAGE);
	ws->ev_read = event_new(base, fd, EV_READ | EV_PERSIST, ws_read_cb, ws);
	ws->ev_write =
	    event_new(base, fd, EV_WRITE | EV_PERSIST, ws_write_cb, ws);
	ws->ev_timer = evtimer_new(base, ws_timer_cb, ws);
	if (ws->ev_read == NULL || ws->ev_write == NULL || ws->ev_timer == NULL)
		fatalx("%s: event_new", __func__);
	return ws;
}

struct ws *
ws_new(struct event_base *base, int fd, const struct msg_attach *a,
    const char *session, uint16_t cols, uint16_t rows,
    const struct scrollback *sb, ws_cb cb, void *arg)
{
	struct ws *ws;
	yajl_gen g;

	if ((ws = ws_open(base, fd, a, sb, cb, arg)) == NULL)
		return NULL;
	log_info("browser %llu: attached in %s mode as %s",
	    (unsigned long long)ws->serial, ws_mode_name(ws->mode), ws->who);
	g = ws_gen("hello");
	ws_gen_str(g, "session", session);
	ws_gen_str(g, "mode", ws_mode_name(ws->mode));
	ws_gen_str(g, "user", ws->who);
	yajl_gen_string(g, (const unsigned char *)"may_ask_control", 15);
	yajl_gen_bool(g, (ws->flags & WS_F_MAY_ASK) != 0);
	ws_gen_int(g, "cols", cols);
	ws_gen_int(g, "rows", rows);
	ws_gen_queue(ws, g);
	ws_screen(ws, 0);
	ws_progress(ws);
	return ws;
}

struct ws *
ws_refuse(struct event_base *base, int fd, const struct msg_attach *a,
    const char *why, ws_cb cb, void *arg)
{
	struct ws *ws;

	if ((ws = ws_open(base, fd, a, NULL, cb, arg)) == NULL)
		return NULL;
	log_info("browser %llu: refused (%s mode as %s): %s",
	    (unsigned long long)ws->serial, ws_mode_name(ws->mode), ws->who,
	    why);
	ws_send_off(ws, why);
	return ws;
}

void
ws_output(struct ws *ws, const void *data, size_t len)
{
	struct ws_chunk *c, *next;

	if (ws->state != WS_OPEN || (ws->flags & WS_F_RESYNC) || len == 0)
		return;
	if (ws_queued(ws) + len > WS_OUT_HIGH ||
	    (ws_all + len > WS_ALL_HIGH && ws_queued(ws) > WS_OUT_FAIR)) {
		log_info("browser %llu: %zu bytes queued: too slow, output "
		         "dropped for a re-sync",
		    (unsigned long long)ws->serial, ws_queued(ws) + len);
		for (c = TAILQ_FIRST(&ws->out); c != NULL; c = next) {
			next = TAILQ_NEXT(c, entry);
			if (c->opcode == WSLAY_BINARY_FRAME)
				ws_chunk_done(ws, c);
		}
		ws->flags |= WS_F_RESYNC;
		ws->resyncs++;
		ws_progress(ws);
		return;
	}
	ws_queue(ws, WSLAY_BINARY_FRAME, data, len);
	ws_progress(ws);
}

void
ws_viewers(struct ws *ws, const struct ws_viewer *v, size_t n)
{
	struct ws_chunk *c;
	yajl_gen g;
	size_t i;

	if (ws->state != WS_OPEN)
		return;
	/* The latest list wins: one not yet handed to wslay goes. */
	TAILQ_FOREACH (c, &ws->out, entry)
		if (c->viewers) {
			ws_chunk_done(ws, c);
			break;
		}
	g = ws_gen("viewers");
	ws_gen_int(g, "count", (long long)n);
	yajl_gen_string(g, (const unsigned char *)"who", 3);
	yajl_gen_array_open(g);
	for (i = 0; i < n; i++) {
		yajl_gen_map_open(g);
		ws_gen_str(g, "user", v[i].who);
		ws_gen_str(g, "mode", v[i].mode);
		yajl_gen_map_close(g);
	}
	yajl_gen_array_close(g);
	ws_gen_queue(ws, g);
	c = TAILQ_LAST(&ws->out, ws_chunks);
	if (c != NULL && c->opcode == WSLAY_TEXT_FRAME)
		c->viewers = 1;
	ws_progress(ws);
}

void
ws_event(struct ws *ws, const char *type, const char *key, const char *value)
{
	yajl_gen g;

	if (ws->state != WS_OPEN)
		return;
	g = ws_gen(type);
	yajl_gen_string(g, (const unsigned char *)key, strlen(key));
	if (value != NULL)
		yajl_gen_string(g, (const unsigned char *)value, strlen(value));
	else
		yajl_gen_null(g);
	ws_gen_queue(ws, g);
	if (!(ws->flags & WS_F_INRECV))
		ws_progress(ws); /* else: after the read */
}

void
ws_set_holder(struct ws *ws, int on)
{
	if (on)
		ws->flags |= WS_F_HOLDER;
	else
		ws->flags &= ~WS_F_HOLDER;
}

/* Queues g (taken; NULL: none), then a close with status after output. */
static void
ws_last(struct ws *ws, yajl_gen g, uint16_t status)
{
	struct timeval tv = {WS_EXIT_SEC, 0};
	struct ws_chunk *c;

	/* A re-sync still owed is moot: the last word says what matters. */
	ws->flags &= ~WS_F_RESYNC;
	if (g != NULL)
		ws_gen_queue(ws, g);
	c = xmalloc(sizeof(*c));
	c->opcode = WSLAY_CONNECTION_CLOSE;
	c->viewers = 0;
	c->status = status;
	c->len = c->cap = 0;
	TAILQ_INSERT_TAIL(&ws->out, c, entry);
	evtimer_add(ws->ev_timer, &tv);
	if (!(ws->flags & WS_F_INRECV))
		ws_progress(ws); /* else: after the read */
}

void
ws_exit(struct ws *ws, int code, const char *reason)
{
	yajl_gen g;

	if (ws->state != WS_OPEN)
		return;
	g = ws_gen("exit");
	ws_gen_int(g, "code", code);
	if (reason != NULL && reason[0] != '\0')
		ws_gen_str(g, "reason", reason);
	ws_last(ws, g, WSLAY_CODE_NORMAL_CLOSURE);
}

void
ws_going_away(struct ws *ws, int code)
{
	if (ws->state != WS_OPEN)
		return;
	ws_last(ws, NULL, (uint16_t)code);
}

void
ws_send_off(struct ws *ws, const char *why)
{
	yajl_gen g;

	if (ws->state != WS_OPEN)
		return;
	log_info(
	    "browser %llu: sent off: %s", (unsigned long long)ws->serial, why);
	g = ws_gen("error");
	ws_gen_str(g, "message", why);
	ws_last(ws, g, WSLAY_CODE_POLICY_VIOLATION);
}

void
ws_pause(struct ws *ws)
{
	ws->flags |= WS_F_PAUSED;
	ws_read_update(ws);
}

void
ws_resume(struct ws *ws)
{
	ws->flags &= ~WS_F_PAUSED;
	ws_read_update(ws);
}
