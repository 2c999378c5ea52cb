/* SPDX-License-Identifier: ISC */
/*
 * Every message kind between alia's processes, declared once: an X-macro
 * list, read by proto.h (the enum), msg.h (the typed senders and getters)
 * and msg.c (the table the decoder checks against, and the functions).
 * A file that includes it defines MSGDEF first, and MSG_STR and
 * MSG_STRV when it uses the string fields, and undefines them after; so
 * there is no include guard.
 *
 * MSGDEF(KIND, name, number, payload, from, to, fd, data, strings):
 *   KIND     MSG_KIND in the enum
 *   name     msg_send_name(), msg_send_name_blocking(), msg_get_name()
 *   number   in the block of the two processes that talk (proto.h)
 *   payload  struct payload, fixed size
 *   from, to MSG_P_* of the processes that send and receive it
 *   fd       NEVER: no fd travels; ALWAYS: one must; OPTIONAL: one may
 *   data     FIXED: the struct alone; VAR: the struct, then its len
 *            bytes of data (at most MSG_MAX_DATA); STR: as VAR, and the
 *            data is none (len 0) or one string and its NUL; an fd may
 *            travel with data
 *   strings  each char array field as MSG_STR(field), or MSG_STRV(field)
 *            for an array of them; each must hold its NUL, or the getter
 *            refuses the message
 */

/* A table, one entry per kind, laid out by hand. */
/* clang-format off */

/* control, master <-> every child */
MSGDEF(READY, ready, 100, msg_ready, MSG_P_CHILD, MSG_P_MASTER, NEVER, FIXED,
    MSG_STR(role))
MSGDEF(SHUTDOWN, shutdown, 101, msg_shutdown, MSG_P_MASTER, MSG_P_CHILD, NEVER,
    FIXED, )
MSGDEF(PING, ping, 102, msg_ping, MSG_P_MASTER | MSG_P_CHILD,
    MSG_P_MASTER | MSG_P_CHILD, NEVER, FIXED, )
MSGDEF(PONG, pong, 103, msg_ping, MSG_P_MASTER | MSG_P_CHILD,
    MSG_P_MASTER | MSG_P_CHILD, NEVER, FIXED, )
MSGDEF(CONFIG, config, 104, config, MSG_P_MASTER, MSG_P_CHILD, NEVER, FIXED,
    MSG_STR(listen) MSG_STR(docker) MSG_STR(database) MSG_STR(data_dir)
    MSG_STR(web_dir) MSG_STR(pg_bin) MSG_STR(front_role) MSG_STR(user)
    MSG_STR(node) MSG_STR(image) MSG_STR(network) MSG_STR(control_consent)
    MSG_STR(tls_cert) MSG_STR(tls_key) MSG_STR(record_disk_path)
    MSG_STR(trusted_proxies) MSG_STR(environments) MSG_STR(lessons_dir))

/* front <-> master */
MSGDEF(LISTEN_FD, listen_fd, 200, msg_listen_fd, MSG_P_MASTER, MSG_P_FRONT,
    ALWAYS, FIXED, MSG_STR(addr))
MSGDEF(SESSION_CREATE, session_create, 201, msg_session_req, MSG_P_FRONT,
    MSG_P_MASTER, NEVER, FIXED, MSG_STR(owner) MSG_STR(session)
    MSG_STR(env) MSG_STR(lesson))
MSGDEF(SESSION_GET, session_get, 202, msg_session_req, MSG_P_FRONT,
    MSG_P_MASTER, NEVER, FIXED, MSG_STR(owner) MSG_STR(session)
    MSG_STR(env) MSG_STR(lesson))
MSGDEF(SESSION_LIST, session_list, 203, msg_session_req, MSG_P_FRONT,
    MSG_P_MASTER, NEVER, FIXED, MSG_STR(owner) MSG_STR(session)
    MSG_STR(env) MSG_STR(lesson))
MSGDEF(SESSION_DELETE, session_delete, 204, msg_session_req, MSG_P_FRONT,
    MSG_P_MASTER, NEVER, FIXED, MSG_STR(owner) MSG_STR(session)
    MSG_STR(env) MSG_STR(lesson))
MSGDEF(SESSION_KICK, session_kick, 205, msg_session_req, MSG_P_FRONT,
    MSG_P_MASTER, NEVER, FIXED, MSG_STR(owner) MSG_STR(session)
    MSG_STR(env) MSG_STR(lesson))
MSGDEF(SESSION_INFO, session_info, 206, msg_session_info, MSG_P_MASTER,
    MSG_P_FRONT, NEVER, FIXED, MSG_STR(message) MSG_STR(session)
    MSG_STR(state) MSG_STR(owner) MSG_STR(image) MSG_STR(end_reason)
    MSG_STR(engine) MSG_STR(env) MSG_STR(lesson) MSG_STR(lesson_title))
MSGDEF(SESSION_ATTACH, session_attach, 207, msg_attach, MSG_P_FRONT,
    MSG_P_MASTER, ALWAYS, STR, MSG_STR(session) MSG_STR(key) MSG_STR(owner))
MSGDEF(SESSION_WALL, session_wall, 208, msg_wall, MSG_P_FRONT, MSG_P_MASTER,
    ALWAYS, FIXED, MSG_STR(key) MSG_STR(user) MSG_STRV(sessions))
MSGDEF(METRICS_GET, metrics_get, 209, msg_metrics, MSG_P_FRONT, MSG_P_MASTER,
    NEVER, FIXED, )
MSGDEF(METRICS, metrics, 210, msg_metrics, MSG_P_MASTER, MSG_P_FRONT, NEVER,
    FIXED, )
MSGDEF(SIGNOUT, signout, 211, msg_signout, MSG_P_MASTER, MSG_P_FRONT, NEVER,
    FIXED, MSG_STR(user))
MSGDEF(SESSION_CHECK, session_check, 212, msg_session_req, MSG_P_FRONT,
    MSG_P_MASTER, NEVER, FIXED, MSG_STR(owner) MSG_STR(session)
    MSG_STR(env) MSG_STR(lesson))
MSGDEF(CHECK_RESULT, check_result, 213, msg_check, MSG_P_MASTER, MSG_P_FRONT,
    NEVER, VAR, MSG_STR(message))

/* master <-> worker */
MSGDEF(WORKER_FD, worker_fd, 300, msg_worker_fd, MSG_P_MASTER, MSG_P_WORKER,
    ALWAYS, FIXED, )
MSGDEF(WORKER_START, worker_start, 301, msg_worker_start, MSG_P_MASTER,
    MSG_P_WORKER, ALWAYS, FIXED, )
MSGDEF(WORKER_BROKER, worker_broker, 302, msg_peer, MSG_P_MASTER, MSG_P_WORKER,
    ALWAYS, FIXED, )
MSGDEF(WORKER_BROWSER, worker_browser, 303, msg_attach, MSG_P_MASTER,
    MSG_P_WORKER, ALWAYS, FIXED, MSG_STR(session) MSG_STR(key) MSG_STR(owner))
MSGDEF(WORKER_SCREEN, worker_screen, 304, msg_screen, MSG_P_MASTER,
    MSG_P_WORKER, NEVER, VAR, )
MSGDEF(WORKER_GAP, worker_gap, 305, msg_gap, MSG_P_MASTER, MSG_P_WORKER, NEVER,
    VAR, MSG_STR(marker))
MSGDEF(WORKER_KICK, worker_kick, 306, msg_kick, MSG_P_MASTER, MSG_P_WORKER,
    NEVER, FIXED, MSG_STR(viewer) MSG_STR(why))
MSGDEF(WORKER_EXITED, worker_exited, 307, msg_exit, MSG_P_MASTER, MSG_P_WORKER,
    NEVER, FIXED, MSG_STR(reason))
MSGDEF(WORKER_DETACH, worker_detach, 308, msg_detach, MSG_P_MASTER,
    MSG_P_WORKER, NEVER, FIXED, )
MSGDEF(WORKER_MARK, worker_mark, 309, msg_mark, MSG_P_MASTER, MSG_P_WORKER,
    NEVER, FIXED, MSG_STR(text))
MSGDEF(WORKER_RESIZE, worker_resize, 310, msg_resize, MSG_P_WORKER,
    MSG_P_MASTER, NEVER, FIXED, )
MSGDEF(WORKER_END, worker_end, 311, msg_end, MSG_P_WORKER, MSG_P_MASTER, NEVER,
    FIXED, MSG_STR(reason))
MSGDEF(WORKER_STATS, worker_stats, 312, msg_worker_stats, MSG_P_WORKER,
    MSG_P_MASTER, NEVER, FIXED, )
MSGDEF(WORKER_AUDIT, worker_audit, 313, msg_audit, MSG_P_WORKER, MSG_P_MASTER,
    NEVER, FIXED, MSG_STR(actor) MSG_STR(action) MSG_STR(detail))

/* master <-> wall */
MSGDEF(WALL_START, wall_start, 400, msg_wall, MSG_P_MASTER, MSG_P_WALL, ALWAYS,
    FIXED, MSG_STR(key) MSG_STR(user) MSG_STRV(sessions))
MSGDEF(WALL_BROKER, wall_broker, 401, msg_peer, MSG_P_MASTER, MSG_P_WALL,
    ALWAYS, FIXED, )
MSGDEF(WALL_KICK, wall_kick, 402, msg_kick, MSG_P_MASTER, MSG_P_WALL, NEVER,
    FIXED, MSG_STR(viewer) MSG_STR(why))

/* master <-> broker, recorder */
MSGDEF(BROKER_PEER, broker_peer, 500, msg_peer, MSG_P_MASTER, MSG_P_BROKER,
    ALWAYS, FIXED, )
MSGDEF(BROKER_DISK, broker_disk, 501, msg_record_pause, MSG_P_MASTER,
    MSG_P_BROKER, NEVER, FIXED, MSG_STR(why))
MSGDEF(RECORDER_PEER, recorder_peer, 510, msg_peer, MSG_P_MASTER,
    MSG_P_RECORDER, ALWAYS, FIXED, )

/* output: worker, wall <-> broker <-> recorder */
MSGDEF(EVENT, event, 600, msg_event, MSG_P_WORKER | MSG_P_BROKER,
    MSG_P_BROKER | MSG_P_RECORDER | MSG_P_WALL, NEVER, VAR, )
MSGDEF(ACK, ack, 601, msg_ack, MSG_P_RECORDER | MSG_P_BROKER,
    MSG_P_BROKER | MSG_P_WORKER, NEVER, FIXED, )
MSGDEF(RESEND, resend, 602, msg_flow, MSG_P_RECORDER | MSG_P_BROKER,
    MSG_P_BROKER | MSG_P_WORKER, NEVER, FIXED, )
MSGDEF(RECORD_PAUSE, record_pause, 603, msg_record_pause,
    MSG_P_RECORDER | MSG_P_BROKER, MSG_P_BROKER | MSG_P_WORKER, NEVER, FIXED,
    MSG_STR(why))
MSGDEF(VIEW_SUBSCRIBE, view_subscribe, 604, msg_view_sub, MSG_P_WALL,
    MSG_P_BROKER, NEVER, FIXED, )
MSGDEF(WORKER_GONE, worker_gone, 605, msg_worker_gone, MSG_P_BROKER,
    MSG_P_RECORDER, NEVER, FIXED, )

/* clang-format on */
