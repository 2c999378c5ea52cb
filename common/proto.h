/* SPDX-License-Identifier: ISC */
/*
 * The wire format between alia's processes, alone. Every message is one
 * SOCK_SEQPACKET packet: a fixed header, then the payload of its type.
 * Types come in numbered blocks; each has one fixed-size payload struct,
 * except the few marked variable, whose payload is a fixed struct followed
 * by at most MSG_MAX_DATA bytes. The header carries the protocol version,
 * checked on every message, and whether an fd travels with the packet.
 */
#ifndef ALIA_PROTO_H
#define ALIA_PROTO_H

#include <stdint.h>

#define PROTO_VERSION 1
#define MSG_MAX_DATA  (64 * 1024)

enum msg_type {
	/* control: 100 */
	MSG_READY = 100,    /* child -> master: set up and serving */
	MSG_SHUTDOWN = 101, /* master -> child: stop gracefully */
	MSG_PING = 102,     /* either way; answered with MSG_PONG */
	MSG_PONG = 103,

	/* config: 200 */
	MSG_CONFIG = 200,    /* master -> child: the whole configuration */
	MSG_LISTEN_FD = 201, /* master -> front: the listening socket (fd) */

	/* session: 300 (later) */
	/* output: 400 (later) */

	/* flow: 500 */
	MSG_FLOW_PAUSE = 500,
	MSG_FLOW_RESUME = 501,
};

struct msg_hdr {
	uint16_t version;
	uint16_t flags;
#define MSG_F_FD 0x0001 /* an fd travels with this packet */
	uint32_t type;
	uint32_t len; /* payload bytes after the header */
	uint32_t pad;
	uint64_t id; /* the session (or other object) concerned; 0 if none */
};

struct msg_ready {
	int32_t pid;
	char role[16];
};

struct msg_shutdown {
	int32_t grace_ms;
};

struct msg_ping {
	uint64_t nonce;
};

struct msg_listen_fd {
	char addr[128]; /* what it is bound to, for logs */
};

struct msg_flow {
	uint64_t seq; /* the last seq the sender has taken, for the log */
};

/* MSG_CONFIG's payload is struct config from common/config.h. */

#define MSG_MAX_PAYLOAD (MSG_MAX_DATA + 1024)
#define MSG_MAX_PACKET  (sizeof(struct msg_hdr) + MSG_MAX_PAYLOAD)

#endif
