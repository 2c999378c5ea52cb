/* SPDX-License-Identifier: ISC */
/*
 * The wire format between alia's processes, alone. Every message is one
 * SOCK_SEQPACKET packet: a fixed header, then the payload of its kind.
 * Each kind is declared once, in common/msgdef.h: its number, its payload
 * struct (below), who sends it to whom, whether an fd travels with it,
 * whether data follows the struct and which fields are strings. The
 * header carries the protocol version, checked on every message, whether
 * an fd travels, and the 128-bit id of the session the message concerns
 * (all zero when it concerns none).
 *
 * Kinds come in numbered blocks, one per pair of processes that talk:
 *   100 control  master <-> every child: ready, shutdown, ping, config
 *   200 front    front <-> master: sessions, websockets, metrics, signouts
 *   300 worker   master <-> a session's worker (300 down, 310 up)
 *   400 wall     master <-> an instructor wall
 *   500 service  master <-> broker, recorder: their peers, the disk
 *   600 output   worker, wall <-> broker <-> recorder: events, acks
 * A process dispatches what it reads by block (MSG_BLOCK) first.
 */
#ifndef ALIA_PROTO_H
#define ALIA_PROTO_H

#include <stdint.h>

#include "common/uuid.h"

#define PROTO_VERSION 10
#define MSG_MAX_DATA  (64 * 1024)

/* Who sends and receives a kind (msgdef.h). */
#define MSG_P_MASTER   0x01
#define MSG_P_FRONT    0x02
#define MSG_P_WORKER   0x04
#define MSG_P_WALL     0x08
#define MSG_P_BROKER   0x10
#define MSG_P_RECORDER 0x20
#define MSG_P_CHILD    0x3e /* any child */

enum msg_type {
#define MSGDEF(K, name, num, ...) MSG_##K = num,
#include "common/msgdef.h"
#undef MSGDEF
};

enum msg_block {
	MSG_BLOCK_CONTROL = 100,
	MSG_BLOCK_FRONT = 200,
	MSG_BLOCK_WORKER = 300,
	MSG_BLOCK_WALL = 400,
	MSG_BLOCK_SERVICE = 500,
	MSG_BLOCK_OUTPUT = 600,
};
#define MSG_BLOCK(type) ((enum msg_block)((type) / 100 * 100))

struct msg_hdr {
	uint16_t version;
	uint16_t flags;
#define MSG_F_FD 0x0001 /* an fd travels with this packet */
	uint32_t type;
	uint32_t len; /* payload bytes after the header */
	uint32_t pad;
	struct uuid session; /* the session concerned; all zero if none */
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
struct config;

#define SESSION_ID_LEN 37 /* a UUID in text form and its NUL */
#define OWNER_LEN      64
#define TERM_SIZE_MAX  1000 /* a terminal's columns or rows: 1 to this */
#define ENV_NAME_LEN   32   /* an environment's name: CONFIG_ENV_NAME */
#define LESSON_LEN     64   /* a lesson's name: LESSON_NAME_LEN */

/*
 * A request from front about sessions; req is echoed in every answer.
 * MSG_SESSION_LIST: session empty, every session of owner.
 */
struct msg_session_req {
	uint64_t req;
	char owner[OWNER_LEN]; /* the caller */
	char session[SESSION_ID_LEN];
	char pad[3];
	uint16_t cols, rows; /* create: the initial size, 0: 80x24 */
	uint32_t flags;
#define REQ_ANY_OWNER 0x1 /* front has authorized it: not only owner's */
#define REQ_NO_PARK   0x2 /* master's own: waited for an engine already */
	int32_t role; /* create: CONFIG_ROLE_*, or -1: no role (auth = none) */
	char env[ENV_NAME_LEN];  /* create: the environment; "": default */
	char lesson[LESSON_LEN]; /* create: the lesson; check: "" */
	int32_t step;            /* check: the lesson's step, from 1 */
	int32_t pad2;
};

/*
 * master's answer: one message per session. status is an HTTP status
 * (201 created, 200, 204 deleted, 403, 404, 429, 503); more is set on
 * every message of a list but the last. A list with no session is one
 * message with status 200 and an empty session.
 */
struct msg_session_info {
	uint64_t req;
	int32_t status;
	int32_t more;
	char message[256]; /* why, when status is an error */
	char session[SESSION_ID_LEN];
	char state[11]; /* starting, running, ended */
	char owner[OWNER_LEN];
	char image[128];
	char end_reason[32];
	int64_t created_us, started_us, ended_us; /* unix time, 0: not yet */
	int32_t exit_code;                        /* -1 while running */
	uint16_t cols, rows;
	uint32_t viewers;
	uint32_t pad2;
	char engine[32]; /* the Docker engine that holds it */
	char env[ENV_NAME_LEN];
	char lesson[LESSON_LEN]; /* "": none */
	char lesson_title[128];
	int32_t steps;           /* the lesson's */
	int32_t step;            /* the learner's: passed in order + 1 */
	int32_t failed_checks;   /* on that step */
	int32_t last_check_step; /* 0: no check yet */
	int32_t last_check_passed;
	int32_t pad3;
	int64_t step_since_us; /* unix time they reached that step */
	int64_t last_check_us; /* unix time */
	/* unix time of the last input or output, 0: none */
	int64_t last_activity_us;
};

/* A marker for the session's recording (a lesson's check, say). */
struct msg_mark {
	char text[256];
};

/*
 * master's answer to a lesson step's check (MSG_SESSION_CHECK), then its
 * output (len bytes, at most CHECK_OUTPUT_MAX): status is an HTTP status,
 * message says why when it is an error.
 */
#define CHECK_OUTPUT_MAX 4096
struct msg_check {
	uint64_t req;
	int32_t status;
	int32_t passed;
	int32_t exit_code; /* -1: none (timed out, or failed to run) */
	int32_t timed_out;
	int32_t step;
	uint32_t len;
	char message[256];
};

/*
 * One recorded event of the header's session, followed by len bytes of
 * data. seq numbers a session's events from 0 without gaps; t_us is
 * microseconds since the session started. kind: 'o' output, 'i' input,
 * 'r' resize (data "COLSxROWS"), 'm' marker (data: what happened).
 */
struct msg_event {
	uint64_t seq;
	int64_t t_us;
	char kind;
	char pad[3];
	uint32_t len;
};

/* Every event of the header's session up to and including seq is in. */
struct msg_ack {
	uint64_t seq;
};

/*
 * Output recording paused or resumed for one reason: by the recorder for
 * one session (MSG_RECORD_PAUSE, its owner's record_quota), by master for
 * every session (MSG_BROKER_DISK, no session in the header: the disk
 * under the database is under record_disk_floor). The broker passes it as
 * MSG_RECORD_PAUSE to the session's worker, or to every worker and, for
 * the disk, to each worker that connects later. The worker marks each
 * change in the recording.
 */
struct msg_record_pause {
	uint32_t reason;
#define RECORD_PAUSE_QUOTA 0x1
#define RECORD_PAUSE_DISK  0x2
	uint32_t paused; /* 1: paused for reason; 0: no longer */
	char why[192];   /* for the marker */
};

#define PEER_WORKER   1 /* hdr.session: the worker's session */
#define PEER_RECORDER 2
#define PEER_VIEW     3 /* a live view of many sessions (the wall) */

/*
 * A view asks for the header's session's output: first the broker's copy
 * of its recent output (an event of kind 's', a snapshot, whose seq is
 * the last one it holds), then every output event as it comes.
 */
struct msg_view_sub {
	uint32_t pad;
};

/*
 * The broker to the recorder (MSG_WORKER_GONE): the channel of the
 * header's session's worker closed, or a new worker replaced it; no more
 * events of the session come from that worker. The recorder frees the
 * session's state once what it holds is committed and acked.
 */
struct msg_worker_gone {
	uint32_t pad;
};

/*
 * The instructor wall: a browser's websocket (fd attached) showing the
 * live output of count sessions, which front has checked the user may
 * see. Tiles are numbered in this order.
 */
#define WALL_MAX 32
struct msg_wall {
	char key[31]; /* Sec-WebSocket-Key */
	char user[OWNER_LEN];
	char pad;
	uint32_t count;
	char sessions[WALL_MAX][SESSION_ID_LEN];
};

/*
 * master hands out one end of a fresh socketpair to the broker
 * (MSG_BROKER_PEER) and the other to a worker (MSG_WORKER_BROKER, its
 * session in the header), a wall (MSG_WALL_BROKER) or the recorder
 * (MSG_RECORDER_PEER), whenever either side (re)starts.
 */
struct msg_peer {
	int32_t kind; /* PEER_*; a worker's session is the header's */
};

#define ATTACH_CONTROL 0

#define ATTACH_WATCH 1

/*
 * A browser's websocket, handed front -> master -> worker with its fd.
 * front has parsed and checked the upgrade request; master makes the one
 * check of who may attach (MSG_SESSION_ATTACH) and answers front's ask
 * req with a MSG_SESSION_INFO: 200 when the socket went on to the
 * worker, or 404, 403, 410 and why, for front to say. The worker
 * (MSG_WORKER_BROWSER, req and len 0) writes the 101 answer, computing
 * Sec-WebSocket-Accept from key, and from then on owns the connection.
 *
 * Who may attach: the owner; a watcher whose role reaches further, when
 * front says so: REQ_ANY_OWNER (an admin, a share link's viewer front
 * checked), or an instructor (role) whose groups' members, " a b c ",
 * follow the struct as its len bytes of data, a string and its NUL.
 * Control is the owner's alone.
 */
struct msg_attach {
	uint64_t req; /* front's parked ask, echoed in the answer */
	char session[SESSION_ID_LEN];
	char key[31];          /* Sec-WebSocket-Key as sent (24 base64 chars) */
	char owner[OWNER_LEN]; /* who attaches, as markers name them */
	int32_t mode;          /* ATTACH_CONTROL or ATTACH_WATCH */
	uint32_t flags;        /* REQ_ANY_OWNER: front authorized a non-owner */
#define ATTACH_MAY_ASK 0x2     /* a watcher who may ask for control */
	uint32_t until_s; /* a share link's viewer: seconds left; 0: no end */
	int32_t role;     /* CONFIG_ROLE_* of who attaches, or -1: none */
	uint32_t len;     /* bytes of the sees list that follow; 0: none */
};

/*
 * The container's attach stream (raw tty bytes both ways, fd attached)
 * and what the worker needs to run the session. Timeouts in seconds, 0:
 * none. restarted: this worker replaces one that died.
 */
struct msg_worker_start {
	uint16_t cols, rows;
	int32_t restarted;
#define WORKER_FIRST   0    /* the session's first worker */
#define WORKER_REPLACE 1    /* after a worker died */
#define WORKER_ADOPTED 2    /* after alia itself restarted (live restore) */
	int64_t started_us; /* when the session started, unix time */
	int64_t idle_timeout, max_lifetime, reconnect_grace;
	uint64_t first_seq; /* the recording's next seq, at least */
	int32_t gap;        /* 1: MSG_WORKER_GAP comes before the stream */
	int32_t pad2;
};

/*
 * One of the session's fds that outlive its workers, sent before
 * MSG_WORKER_START: the journal (a memfd, see worker/journal.c) and the
 * two ends of the pipe the container's output passes through.
 */
struct msg_worker_fd {
	int32_t which;
#define WORKER_FD_JOURNAL 1
#define WORKER_FD_PIPE_R  2
#define WORKER_FD_PIPE_W  3
};

/*
 * Every browser attached as viewer leaves (a revoked share link, a user
 * signed out), with an error message why and close 1008. Also to a wall.
 */
struct msg_kick {
	char viewer[OWNER_LEN];
	char why[64];
};

/*
 * MSG_WORKER_SCREEN: recorded output of the session that a replacement
 * worker puts in front of its scrollback, oldest first, in pieces of at
 * most MSG_MAX_DATA bytes after this header; more: another piece follows.
 */
struct msg_screen {
	uint32_t more;
	uint32_t len; /* bytes that follow */
};

/*
 * MSG_WORKER_GAP: output the container printed while no alia was attached
 * (from Docker's log), recorded and shown before anything read from the
 * stream, in pieces of at most MSG_MAX_DATA bytes after this header. The
 * marker, when not empty, is recorded first (say what may be missing);
 * more: another piece follows. The worker reads the stream only after
 * the last piece.
 */
struct msg_gap {
	uint32_t more;
	uint32_t len; /* bytes that follow */
	char marker[196];
};

/*
 * MSG_WORKER_DETACH: alia stops or re-executes itself, the session lives
 * on: the worker closes its browsers with code (1001 going away, 1012
 * restarting), flushes its recording and exits.
 */
struct msg_detach {
	int32_t code;
};

/*
 * A user was signed out everywhere (`alia user passwd` or `disable`):
 * front forgets what it cached of their tokens. user empty: forget every
 * cached token (master's listener reconnected and may have missed one).
 */
struct msg_signout {
	char user[OWNER_LEN];
	int32_t disabled;
};

/* Something to keep in alia.audit about the session. */
struct msg_audit {
	char actor[OWNER_LEN];
	char action[32];
	char detail[128];
};

struct msg_resize {
	uint16_t cols, rows;
};

/* The container has exited; reason says why it was ended, if it was. */
struct msg_exit {
	int32_t code;
	char reason[32];
};

/* The worker asks master to end the session: idle, lifetime, abandoned. */
struct msg_end {
	char reason[32];
};

/* Sent by a worker about once a second while anything changed. */
struct msg_worker_stats {
	uint64_t bytes_out; /* container -> browsers, total so far */
	uint64_t bytes_in;  /* browsers -> container, total so far */
	uint32_t browsers;
	uint32_t resyncs; /* slow browsers re-synced, total so far */
	int64_t last_activity_us;
};

/* One Docker engine, as master sees it (master/engine.c). */
#define MSG_ENGINES 16 /* CONFIG_ENGINES */
struct msg_engine {
	char name[32];
	uint32_t up;        /* it answers its pings */
	uint32_t ready;     /* it takes sessions: up, image there, reconciled */
	uint32_t drained;   /* alia engine drain */
	uint32_t sessions;  /* live sessions placed there */
	uint32_t pool;      /* warm pool containers there */
	uint32_t capacity;  /* 0: no limit */
	uint64_t ping_us;   /* the last ping's round trip */
	uint64_t create_us; /* recent container create latency (average) */
	uint64_t lost;      /* times it was found down */
};

struct msg_metrics {
	uint64_t req;
	uint64_t sessions_active, sessions_created, sessions_ended;
	uint64_t bytes_out, bytes_in, resyncs;
	uint64_t worker_restarts, child_restarts;
	uint64_t docker_calls, docker_errors;
	uint64_t docker_latency_us_sum; /* over docker_calls */
	uint64_t docker_latency_le[8];  /* cumulative, per bucket below */
	uint64_t disk_measured;         /* record_disk_floor applies */
	uint64_t disk_free;             /* bytes free under the database */
	uint64_t disk_paused;           /* 1: output recording paused */
	uint64_t disk_pauses;           /* times it paused since start */
	uint64_t pool_containers;       /* in the warm pool, being made too */
	uint64_t pool_ready;            /* of those, ready to be taken */
	uint64_t pool_taken;            /* sessions given a pool container */
	uint64_t pool_missed; /* sessions that found none ready (pool > 0) */
	uint64_t checks, checks_passed, checks_timed_out; /* lesson checks */
	uint64_t checks_running;
	uint64_t nengines;
	struct msg_engine engines[MSG_ENGINES];
};
#define METRICS_DOCKER_BUCKETS_MS                  \
	{                                          \
		1, 5, 10, 50, 100, 500, 1000, 5000 \
	}

#define MSG_MAX_PAYLOAD (MSG_MAX_DATA + 1024)
#define MSG_MAX_PACKET  (sizeof(struct msg_hdr) + MSG_MAX_PAYLOAD)

#endif
