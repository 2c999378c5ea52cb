/* SPDX-License-Identifier: ISC */
/*
 * A small blocking HTTP/1.1 and websocket client for tests and the
 * benchmark: it plays a browser against a server on 127.0.0.1. An agent
 * holds the port and a one-cookie jar; a websocket sends masked frames (or
 * any raw bytes, to misbehave on purpose) and receives whole messages with
 * a timeout, reassembling fragments. Every wait is bounded by poll().
 */
#ifndef ALIA_TESTS_WSCLIENT_H
#define ALIA_TESTS_WSCLIENT_H

#include <stddef.h>
#include <stdint.h>

#define WSC_OP_CONT   0x0
#define WSC_OP_TEXT   0x1
#define WSC_OP_BINARY 0x2
#define WSC_OP_CLOSE  0x8
#define WSC_OP_PING   0x9
#define WSC_OP_PONG   0xa

/* One browser: where the server is and the cookie it was given. */
struct wsc_agent {
	int port;
	int timeout_ms;    /* for each request; 10 s by default */
	char cookie[1024]; /* "name=value" from the last Set-Cookie, or "" */
};

struct wsc_response {
	int status; /* 0: no valid status line arrived */
	char *head; /* status line and headers, NUL-terminated */
	char *body; /* bodylen bytes, NUL-terminated */
	size_t bodylen;
};

/* A buffered connection; the websocket state follows the buffer. */
struct wsc {
	int fd;
	unsigned char *in; /* received, not yet parsed: [inoff, inlen) */
	size_t inoff, inlen, incap;
	unsigned char *msg; /* the message being reassembled */
	size_t msglen, msgcap;
	int msgop;      /* opcode of the fragmented message, 0: none */
	int eof;        /* the peer closed the TCP connection */
	int closed;     /* a close frame arrived */
	int close_code; /* from that close frame, 1005 when it had none */
	char close_reason[128];
	struct wsc_response resp; /* the handshake answer */
};

/* A received message; data stays valid until the next wsc_recv(). */
struct wsc_msg {
	int op; /* WSC_OP_TEXT, WSC_OP_BINARY, WSC_OP_CLOSE or WSC_OP_PONG */
	unsigned char *data; /* NUL-terminated */
	size_t len;
	int code; /* close only */
	const char *reason;
};

void wsc_agent_init(struct wsc_agent *, int port);

/* A TCP connection to 127.0.0.1:port, or -1. */
int wsc_tcp_connect(int port);
long wsc_now_us(void);

/* Sends a request (body: JSON or NULL) and reads the answer; 0 or -1. */
int wsc_request(struct wsc_agent *, const char *method, const char *path,
    const char *json, struct wsc_response *);
void wsc_response_free(struct wsc_response *);
/* Copies the value of header name (case-insensitive) into out; 0 or -1. */
int wsc_header(
    const struct wsc_response *, const char *name, char *out, size_t outlen);
/* The value of a top-level "key": string or number in a JSON object. */
int wsc_json_get(const char *json, const char *key, char *out, size_t outlen);

/* Wraps an open fd (taking ownership) in a connection. */
void wsc_init(struct wsc *, int fd);
/*
 * Reads an HTTP response from the connection into r (overwritten, not
 * freed; wsc_response_free() it after); 0 or -1 (timeout, EOF).
 */
int wsc_read_response(struct wsc *, struct wsc_response *, int timeout_ms);
/* Writes an upgrade request for path with key into buf; its length. */
size_t wsc_upgrade_request(const struct wsc_agent *, const char *path,
    const char *key, char *buf, size_t buflen);
/* A fresh random Sec-WebSocket-Key (24 chars + NUL). */
void wsc_make_key(char key[25]);
/* The Sec-WebSocket-Accept a server must answer to key. */
void wsc_accept_for(const char *key, char out[29]);

/*
 * Connects and upgrades. 0: a checked 101. -1: anything else, with the
 * answer in w->resp (status 0 if none) and the connection still open for
 * inspection; wsc_free() it either way.
 */
int wsc_open(struct wsc *, struct wsc_agent *, const char *path);
/* Closes the TCP connection at once, without a close frame. */
void wsc_drop(struct wsc *);
void wsc_free(struct wsc *);

int wsc_send_raw(struct wsc *, const void *, size_t);
/* One masked frame; fin 0 starts or continues a fragmented message. */
int wsc_send_frame(struct wsc *, int fin, int op, const void *, size_t);
int wsc_send_text(struct wsc *, const char *);
int wsc_send_binary(struct wsc *, const void *, size_t);
int wsc_send_close(struct wsc *, int code, const char *reason);
int wsc_send_ping(struct wsc *, const void *, size_t);

/*
 * Waits up to timeout_ms for one whole message (pings are answered
 * without being returned). 1: m is set; 0: timeout; -1: the connection
 * ended (w->eof) or broke. A close frame is returned once as a message.
 */
int wsc_recv(struct wsc *, struct wsc_msg *, int timeout_ms);

#endif
