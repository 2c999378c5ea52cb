/* SPDX-License-Identifier: ISC */
/*
 * master: the supervisor. It owns the configuration, the listening socket,
 * the embedded PostgreSQL server and every child process, and it never
 * parses a byte from a browser.
 *
 * Each child is a struct child on one list. A child is started by its
 * role's start function and, when it dies while master is running, is
 * started again after a backoff that doubles from 100 ms to 10 s and
 * resets once the child has stayed up for 30 s. On SIGTERM or SIGINT
 * master stops in three phases, each child told by MSG_SHUTDOWN and its
 * stop signal, and killed when its phase's grace period runs out:
 *   0  front and the sessions: each session ends, or with live restore
 *      its worker goes and it lives on; the phase waits until no worker
 *      is left and no Docker call or query is in flight (SESSION_GRACE_MS
 *      longer while a container being created must still be removed).
 *      The walls are told to go, not waited for;
 *   1  broker and recorder, which commits the events it holds; then
 *      master's own database connection closes;
 *   2  PostgreSQL (fast shutdown),
 * so that nothing writing to the database outlives it. Master exits once
 * the last phase has no child left.
 *
 * With live_restore (the default) a stop ends no session: containers go
 * on, and the next master takes them up (container.c). SIGUSR2 is an
 * upgrade in place: the same stop, then master executes the binary at
 * its path again (perhaps a new build), with the listening socket and the
 * pid file's lock inherited (ALIA_INHERIT_LISTEN_FD, ALIA_INHERIT_LOCK_FD):
 * connections wait in the socket's backlog meanwhile, none is refused.
 * SIGHUP reads the configuration again: master's copy takes the new
 * values (new sessions get them), front, broker and recorder are
 * restarted with them, running workers keep theirs, and the warm pool
 * is made again (its workers were configured when forked); keys that only a
 * restart can change keep their old values, and a log line names them.
 */
#include <sys/file.h>
#include <sys/queue.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <netinet/in.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netdb.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>

#include "common/backoff.h"
#include "common/clock.h"
#include "common/config.h"
#include "common/log.h"
#include "common/msg.h"
#include "common/proc.h"
#include "common/str.h"
#include "common/xmalloc.h"
#include "master/master.h"

#define BACKOFF_MIN_MS    100
#define BACKOFF_MAX_MS    10000
#define STABLE_MS         30000
#define ROLE_GRACE_MS     3000
#define SESSION_GRACE_MS  5000 /* after ROLE_GRACE_MS, for Docker calls */
#define POSTGRES_GRACE_MS 5000

struct child;

struct role {
	const char *name;
	int phase; /* shutdown phase: see the top of this file */
	int stopsig;
	int (*start)(struct child *);
};

struct child {
	TAILQ_ENTRY(child) entry;
	const struct role *role;
	pid_t pid; /* 0 while not running */
	struct msgchan *chan;
	int ready;
	int64_t started; /* monotonic us */
	struct backoff backoff;
	unsigned restarts;
	struct event *ev_restart;
};
TAILQ_HEAD(child_list, child);

static struct {
	struct config conf;
	struct event_base *base;
	int verbose;
	int listen_fd;
	int stopping;
	int phase;
	struct child_list children;
	struct event *ev_grace;
	int lock_fd;
	int forced;        /* the grace period of the phase ran out */
	int session_grace; /* phase 0 waits longer for Docker calls */

	struct event *ev_progress;
	struct pgc *db;
	uint64_t child_restarts;
	const char *file; /* the configuration file, or NULL */
	int foreground;
	int reexec; /* SIGUSR2: execute the binary again once stopped */
	char instance[INSTANCE_LEN]; /* data_dir/instance: whose containers */
} m;

static int master_start_front(struct child *);
static int master_start_broker(struct child *);
static int master_start_recorder(struct child *);
static int master_start_postgres(struct child *);

#define LAST_PHASE 2 /* PostgreSQL's: see the top of this file */
static const struct role role_front = {"front", 0, SIGTERM, master_start_front};
static const struct role role_broker = {
    "broker", 1, SIGTERM, master_start_broker};
static const struct role role_recorder = {
    "recorder", 1, SIGTERM, master_start_recorder};
static const struct role role_postgres = {
    "postgres", 2, SIGINT, master_start_postgres};

/* The channel to the running child of a role, or NULL. */
static struct msgchan *
master_chan(const struct role *role)
{
	struct child *c;

	TAILQ_FOREACH (c, &m.children, entry)
		if (c->role == role && c->chan != NULL)
			return c->chan;
	return NULL;
}

struct msgchan *
master_front(void)
{
	return master_chan(&role_front);
}

struct msgchan *
master_broker(void)
{
	return master_chan(&role_broker);
}

int
master_broker_pair(int kind, const struct uuid *session, struct msgchan *peer)
{
	struct msgchan *broker = master_chan(&role_broker);
	struct msg_peer p;
	int sv[2];

	if (broker == NULL || peer == NULL)
		return 0;
	if (msg_socketpair(sv) == -1) {
		log_warn("%s: socketpair", __func__);
		return -1;
	}
	memset(&p, 0, sizeof(p));
	p.kind = kind;
	msg_send_broker_peer(broker, session, sv[0], &p);
	if (kind == PEER_RECORDER)
		msg_send_recorder_peer(peer, session, sv[1], &p);
	else if (kind == PEER_VIEW)
		msg_send_wall_broker(peer, session, sv[1], &p);
	else
		msg_send_worker_broker(peer, session, sv[1], &p);
	return 0;
}

static void master_child_restart_cb(int, short, void *);

static struct child *
master_child_add(const struct role *role)
{
	struct child *c;

	c = xcalloc(1, sizeof(*c));
	c->role = role;
	backoff_init(&c->backoff, BACKOFF_MIN_MS, BACKOFF_MAX_MS);
	c->ev_restart = evtimer_new(m.base, master_child_restart_cb, c);
	TAILQ_INSERT_TAIL(&m.children, c, entry);
	return c;
}

static void
master_child_start(struct child *c)
{
	if (c->role->start(c) == -1) {
		log_warnx("starting %s failed", c->role->name);
		c->pid = 0;
		return;
	}
	c->started = clock_mono_us();
	log_debug("%s started as pid %ld", c->role->name, (long)c->pid);
}

static void
master_child_restart_cb(int fd, short what, void *arg)
{
	struct child *c = arg;

	if (m.stopping)
		return;
	c->restarts++;
	m.child_restarts++;
	master_child_start(c);
	if (c->pid == 0) {
		/* Could not even fork or exec: try again later. */
		int ms = backoff_due(&c->backoff);
		struct timeval tv = {ms / 1000, (ms % 1000) * 1000};

		evtimer_add(c->ev_restart, &tv);
	}
}

/* A child has exited: forget it, and unless stopping, schedule a start. */
static void
master_child_exited(struct child *c, int status)
{
	char how[64];

	if (WIFEXITED(status))
		snprintf(how, sizeof(how), "exited with status %d",
		    WEXITSTATUS(status));
	else
		snprintf(how, sizeof(how), "was killed by signal %d",
		    WTERMSIG(status));
	c->pid = 0;
	c->ready = 0;
	msgchan_free(c->chan);
	c->chan = NULL;
	if (m.stopping) {
		log_debug("%s %s", c->role->name, how);
		return;
	}
	if ((clock_mono_us() - c->started) / 1000 >= STABLE_MS)
		backoff_reset(&c->backoff);
	log_warnx("%s %s; restarting it in %d ms (restart %u)", c->role->name,
	    how, backoff_arm(&c->backoff, c->ev_restart), c->restarts + 1);
}

static int
master_phase_done(int phase)
{
	struct child *c;

	TAILQ_FOREACH (c, &m.children, entry)
		if (c->role->phase == phase && c->pid != 0)
			return 0;
	/* Sessions end, and their rows are written, before postgres stops. */
	if (phase == 0 && !m.forced && container_busy())
		return 0;
	return 1;
}

static void master_stop_phase(int);

/* Advances the shutdown once a phase has no child left. */
static void
master_stop_progress(void)
{
	while (m.phase <= LAST_PHASE && master_phase_done(m.phase)) {
		m.phase++;
		m.forced = 0;
		evtimer_del(m.ev_grace);
		if (m.phase == LAST_PHASE) {
			pgc_free(m.db);
			m.db = NULL;
		}
		if (m.phase <= LAST_PHASE)
			master_stop_phase(m.phase);
	}
	if (m.phase > LAST_PHASE)
		event_base_loopbreak(m.base);
}

/* While stopping, looks again at what is still going on. */
static void
master_progress_cb(int fd, short what, void *arg)
{
	struct timeval tv = {0, 100 * 1000};

	master_stop_progress();
	if (m.phase <= LAST_PHASE)
		evtimer_add(m.ev_progress, &tv);
}

static void
master_grace_cb(int fd, short what, void *arg)
{
	struct timeval tv = {
	    SESSION_GRACE_MS / 1000, (SESSION_GRACE_MS % 1000) * 1000};
	struct child *c;

	if (m.phase == 0 && !m.session_grace && container_busy()) {
		/* Containers being created must still be removed. */
		m.session_grace = 1;
		evtimer_add(m.ev_grace, &tv);
	} else {
		m.forced = 1;
		if (m.phase == 0 && container_busy())
			log_warnx("sessions did not end in time; going on");
	}
	TAILQ_FOREACH (c, &m.children, entry)
		if (c->role->phase == m.phase && c->pid != 0) {
			log_warnx(
			    "%s (pid %ld) did not stop in time; killing it",
			    c->role->name, (long)c->pid);
			kill(c->pid, SIGKILL);
		}
	master_stop_progress();
}

static void
master_stop_phase(int phase)
{
	struct timeval tv;
	struct child *c;
	int grace = phase == 0 ? ROLE_GRACE_MS : POSTGRES_GRACE_MS;

	TAILQ_FOREACH (c, &m.children, entry) {
		if (c->role->phase != phase)
			continue;
		evtimer_del(c->ev_restart);
		if (c->pid == 0)
			continue;
		if (c->chan != NULL)
			msg_send_shutdown(c->chan, NULL,
			    &(struct msg_shutdown){.grace_ms = grace});
		kill(c->pid, c->role->stopsig);
	}
	tv.tv_sec = grace / 1000;
	tv.tv_usec = (grace % 1000) * 1000;
	evtimer_add(m.ev_grace, &tv);
}

static void
master_stop(void)
{
	if (m.stopping)
		return;
	m.stopping = 1;
	m.phase = 0;
	log_info(m.reexec ? "stopping to execute %s again" : "stopping",
	    proc_self());
	wall_shutdown();
	container_shutdown(m.reexec);
	master_stop_phase(0);
	master_progress_cb(-1, 0, NULL);
}

/*
 * SIGHUP: the configuration again, from the file and the environment.
 * Keys that need a restart keep their values (a log line names those that
 * changed); front, broker and recorder are restarted to take the rest.
 */
static void
master_reload(void)
{
	static const struct {
		const char *name;
		size_t off, len;
	} fixed[] = {
#define FIXED(f) {#f, offsetof(struct config, f), sizeof(m.conf.f)}
	    FIXED(listen),
	    FIXED(data_dir),
	    FIXED(database),
	    FIXED(docker),
	    FIXED(docker_tls_dir),
	    FIXED(user),
	    FIXED(node),
	    FIXED(pg_bin),
	    FIXED(tls_cert),
	    FIXED(tls_key),
	    FIXED(front_role),
	    FIXED(web_dir),
	    FIXED(lessons_dir),
#undef FIXED
	};
	struct config c;
	struct child *ch;
	char err[1024], kept[512] = "";
	size_t i;

	if (m.stopping)
		return;
	config_defaults(&c);
	if ((m.file != NULL &&
	        config_load(&c, m.file, err, sizeof(err)) == -1) ||
	    config_env(&c, environ, err, sizeof(err)) == -1 ||
	    config_finish(&c, err, sizeof(err)) == -1) {
		log_warnx("SIGHUP: the configuration is not reloaded: %s", err);
		return;
	}
	for (i = 0; i < sizeof(fixed) / sizeof(fixed[0]); i++) {
		if (strcmp((char *)&c + fixed[i].off,
		        (char *)&m.conf + fixed[i].off) != 0 &&
		    strcmp(fixed[i].name, "data_dir") != 0 &&
		    strcmp(fixed[i].name, "web_dir") != 0 &&
		    strcmp(fixed[i].name, "lessons_dir") != 0)
			snprintf(kept + strlen(kept),
			    sizeof(kept) - strlen(kept), "%s%s",
			    kept[0] ? ", " : "", fixed[i].name);
		memcpy((char *)&c + fixed[i].off,
		    (char *)&m.conf + fixed[i].off, fixed[i].len);
	}
	/* So do the environments: the pool and the engines hold images. */
	if (c.nenvs != m.conf.nenvs ||
	    memcmp(c.env, m.conf.env, sizeof(c.env)) != 0)
		snprintf(kept + strlen(kept), sizeof(kept) - strlen(kept),
		    "%senvironments", kept[0] ? ", " : "");
	memcpy(c.env, m.conf.env, sizeof(c.env));
	c.nenvs = m.conf.nenvs;
	/* The engines stay as they are; only their capacities change. */
	for (i = 0; i < (size_t)m.conf.nengines; i++) {
		struct config_engine *e = &m.conf.engine[i];
		int64_t j;

		for (j = 0; j < c.nengines; j++)
			if (strcmp(c.engine[j].name, e->name) == 0)
				e->capacity = c.engine[j].capacity;
	}
	memcpy(c.engine, m.conf.engine, sizeof(c.engine));
	c.nengines = m.conf.nengines;
	if (c.auth != m.conf.auth && c.auth == CONFIG_AUTH_NONE &&
	    !config_listen_loopback(&c)) {
		log_warnx("SIGHUP: auth = none on %s is refused; not reloaded",
		    c.listen);
		return;
	}
	m.conf = c;
	log_info("SIGHUP: configuration reloaded%s%s%s", kept[0] ? " (" : "",
	    kept, kept[0] ? " change only with a restart)" : "");
	engine_reload(&m.conf);
	/* The pool's workers hold the old one: the pool is made again. */
	pool_reload();
	/* They start again with it; running sessions keep their workers'. */
	TAILQ_FOREACH (ch, &m.children, entry)
		if (ch->pid != 0 && ch->chan != NULL &&
		    ch->role->start != NULL && ch->role != &role_postgres)
			msg_send_shutdown(ch->chan, NULL,
			    &(struct msg_shutdown){.grace_ms = ROLE_GRACE_MS});
}

static void
master_signal_cb(int sig, short what, void *arg)
{
	struct child *c;
	pid_t pid;
	int status;

	switch (sig) {
	case SIGTERM:
	case SIGINT:
		master_stop();
		break;
	case SIGUSR2:
		if (!m.stopping)
			m.reexec = 1;
		master_stop();
		break;
	case SIGHUP:
		master_reload();
		break;
	case SIGCHLD:
		while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
			TAILQ_FOREACH (c, &m.children, entry)
				if (c->pid == pid)
					break;
			if (c != NULL)
				master_child_exited(c, status);
			else if (!wall_reaped(pid))
				(void)container_child_exited(pid, status);
		}
		if (m.stopping)
			master_stop_progress();
		break;
	}
}

/* MSG_BLOCK_CONTROL from a child: it says it is ready. */
static void
master_control_msg(struct child *c, struct msg *msg)
{
	struct msg_ready r;

	if (msg_get_ready(msg, &r) == -1) {
		log_warnx("%s sent unexpected message %s", c->role->name,
		    msg_name(msg->hdr.type));
		return;
	}
	c->ready = 1;
	log_debug("%s ready (pid %d)", c->role->name, r.pid);
	if (c->role == &role_front && c->restarts == 0)
		log_info("alia is serving %s://%s/",
		    m.conf.tls_cert[0] != '\0' ? "https" : "http",
		    m.conf.listen);
}

/* MSG_BLOCK_FRONT from front: the metrics here, the rest about sessions. */
static void
master_front_msg(struct child *c, struct msg *msg)
{
	struct msg_metrics mt;

	if (msg->hdr.type == MSG_SESSION_WALL) {
		wall_spawn(msg);
		return;
	}
	if (msg->hdr.type != MSG_METRICS_GET) {
		container_front_msg(c->chan, msg);
		return;
	}
	if (msg_get_metrics_get(msg, &mt) == -1)
		return;
	container_metrics(&mt);
	disk_metrics(&mt);
	pool_metrics(&mt);
	mt.child_restarts = m.child_restarts;
	msg_send_metrics(c->chan, NULL, &mt);
}

static void
master_chan_cb(
    struct msgchan *ch, enum msgchan_event ev, struct msg *msg, void *arg)
{
	struct child *c = arg;

	switch (ev) {
	case MSGCHAN_MSG:
		if (MSG_BLOCK(msg->hdr.type) == MSG_BLOCK_CONTROL)
			master_control_msg(c, msg);
		else if (MSG_BLOCK(msg->hdr.type) == MSG_BLOCK_FRONT &&
		    c->role == &role_front)
			master_front_msg(c, msg);
		else
			log_warnx("%s sent unexpected message %s",
			    c->role->name, msg_name(msg->hdr.type));
		break;
	case MSGCHAN_LOWAT:
		break;
	case MSGCHAN_CLOSED:
	case MSGCHAN_ERROR:
		/* The process is ending or misbehaving: make sure it ends. */
		msgchan_free(c->chan);
		c->chan = NULL;
		if (c->pid != 0)
			kill(c->pid, SIGKILL);
		break;
	}
}

/* Forks ROLE with a fresh channel; on success c->pid and c->chan are set. */
static int
master_spawn_role(struct child *c)
{
	int sv[2];

	if (msg_socketpair(sv) == -1) {
		log_warn("%s: socketpair", __func__);
		return -1;
	}
	if ((c->pid = proc_spawn(NULL, c->role->name, sv[1], m.verbose)) ==
	    -1) {
		c->pid = 0;
		close(sv[0]);
		close(sv[1]);
		return -1;
	}
	close(sv[1]);
	c->chan = msgchan_new(m.base, sv[0], master_chan_cb, c);
	return msg_send_config(c->chan, NULL, &m.conf);
}

static int
master_start_front(struct child *c)
{
	struct msg_listen_fd l;
	int fd;

	if (master_spawn_role(c) == -1)
		return -1;
	if ((fd = fcntl(m.listen_fd, F_DUPFD_CLOEXEC, 0)) == -1) {
		log_warn("%s: dup", __func__);
		return -1;
	}
	memset(&l, 0, sizeof(l));
	if (snprintf(l.addr, sizeof(l.addr), "%s", m.conf.listen) >=
	    (int)sizeof(l.addr))
		l.addr[sizeof(l.addr) - 1] = '\0';
	return msg_send_listen_fd(c->chan, NULL, fd, &l);
}

static int
master_start_broker(struct child *c)
{
	if (master_spawn_role(c) == -1)
		return -1;
	/* Every peer gets a fresh channel to the new broker. */
	if (master_broker_pair(
	        PEER_RECORDER, NULL, master_chan(&role_recorder)) == -1)
		return -1;
	wall_broker_started();
	container_broker_started();
	disk_broker_started();
	return 0;
}

static int
master_start_recorder(struct child *c)
{
	if (master_spawn_role(c) == -1)
		return -1;
	return master_broker_pair(PEER_RECORDER, NULL, c->chan);
}

static int
master_start_postgres(struct child *c)
{
	if ((c->pid = pg_spawn(&m.conf)) == -1) {
		c->pid = 0;
		return -1;
	}
	return 0;
}

/* An fd the master before this exec left in var (close-on-exec again). */
static int
master_inherited(const char *var)
{
	const char *v = getenv(var);
	long long fd;
	int r;

	if (v == NULL)
		return -1;
	r = str_num(v, STDERR_FILENO + 1, INT_MAX, &fd);
	unsetenv(var);
	if (r == -1 || fcntl((int)fd, F_SETFD, FD_CLOEXEC) == -1) {
		log_warnx("%s=%s: not an fd this process has; ignored", var, v);
		return -1;
	}
	return (int)fd;
}

/* Binds the listening socket once; every front gets a copy of it. */
static int
master_listen(void)
{
	char host[CONFIG_STR], port[16];
	struct addrinfo hints, *res, *ai;
	int fd = -1, on = 1, r;

	if ((m.listen_fd = master_inherited("ALIA_INHERIT_LISTEN_FD")) != -1) {
		log_info("listening on %s still (inherited)", m.conf.listen);
		return 0;
	}
	if (config_listen_split(
	        &m.conf, host, sizeof(host), port, sizeof(port)) == -1) {
		log_warnx("listen: '%s' is not HOST:PORT", m.conf.listen);
		return -1;
	}
	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
	if ((r = getaddrinfo(host, port, &hints, &res)) != 0) {
		log_warnx("listen %s: %s", m.conf.listen, gai_strerror(r));
		return -1;
	}
	for (ai = res; ai != NULL; ai = ai->ai_next) {
		fd = socket(ai->ai_family,
		    ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
		if (fd == -1)
			continue;
		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on));
		if (bind(fd, ai->ai_addr, ai->ai_addrlen) == 0 &&
		    listen(fd, 511) == 0)
			break;
		log_warn("listen %s", m.conf.listen);
		if (errno == EADDRINUSE)
			log_warnx("is another alia (or another server) running "
			          "there? stop it or set listen = HOST:PORT");
		close(fd);
		fd = -1;
	}
	freeaddrinfo(res);
	m.listen_fd = fd;
	return fd == -1 ? -1 : 0;
}

/* Takes data_dir/alia.pid, so that two masters never share a data_dir. */
static int
master_lock(void)
{
	char path[PATH_MAX + 16], pid[32];
	int n;

	snprintf(path, sizeof(path), "%s/alia.pid", m.conf.data_dir);
	/* Executed again by SIGUSR2: the lock is ours already. */
	if ((m.lock_fd = master_inherited("ALIA_INHERIT_LOCK_FD")) != -1)
		return 0;
	if ((m.lock_fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644)) ==
	    -1) {
		log_warn("open %s", path);
		return -1;
	}
	if (flock(m.lock_fd, LOCK_EX | LOCK_NB) == -1) {
		n = (int)read(m.lock_fd, pid, sizeof(pid) - 1);
		pid[n > 0 ? n : 0] = '\0';
		pid[strcspn(pid, "\n")] = '\0';
		log_warnx("another alia (pid %s) is running with data_dir %s",
		    pid[0] ? pid : "?", m.conf.data_dir);
		return -1;
	}
	n = snprintf(pid, sizeof(pid), "%ld\n", (long)getpid());
	if (ftruncate(m.lock_fd, 0) == -1 || write(m.lock_fd, pid, n) != n)
		log_warn("writing %s", path);
	return 0;
}

/*
 * The instance id of data_dir (data_dir/instance, made once: 128 random
 * bits in hex). Containers carry it as a label; at start an instance
 * touches only containers with its own id, so two alias on one host,
 * each with its own data_dir, never end each other's sessions whatever
 * their node names.
 */
static int
master_instance(void)
{
	char path[PATH_MAX + 16], tmp[PATH_MAX + 32], buf[64];
	unsigned char r[16];
	ssize_t n;
	int fd, i;

	snprintf(path, sizeof(path), "%s/instance", m.conf.data_dir);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) != -1) {
		n = read(fd, buf, sizeof(buf) - 1);
		close(fd);
		buf[n > 0 ? n : 0] = '\0';
		buf[strcspn(buf, "\n")] = '\0';
		if (strlen(buf) != INSTANCE_LEN - 1 ||
		    strspn(buf, "0123456789abcdef") != INSTANCE_LEN - 1) {
			log_warnx("%s: not an instance id; remove the file "
			          "to make a new one",
			    path);
			return -1;
		}
		memcpy(m.instance, buf, INSTANCE_LEN);
		return 0;
	}
	if (errno != ENOENT) {
		log_warn("open %s", path);
		return -1;
	}
	if (getrandom(r, sizeof(r), 0) != (ssize_t)sizeof(r))
		fatal("getrandom");
	for (i = 0; i < (int)sizeof(r); i++)
		snprintf(m.instance + 2 * i, 3, "%02x", r[i]);
	snprintf(tmp, sizeof(tmp), "%s.new", path);
	if ((fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644)) ==
	        -1 ||
	    dprintf(fd, "%s\n", m.instance) < 0 || fsync(fd) == -1 ||
	    close(fd) == -1 || rename(tmp, path) == -1) {
		log_warn("writing %s", path);
		return -1;
	}
	log_info("this data_dir's instance id is %s", m.instance);
	return 0;
}

/* Goes into the background, logging to data_dir/alia.log. */
static int
master_daemonize(void)
{
	char path[PATH_MAX + 16];
	int fd;

	snprintf(path, sizeof(path), "%s/alia.log", m.conf.data_dir);
	if ((fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC,
	         0640)) == -1) {
		log_warn("open %s", path);
		return -1;
	}
	printf("alia: running in the background; log: %s\n", path);
	fflush(stdout);
	if (daemon(1, 1) == -1) {
		log_warn("daemon");
		return -1;
	}
	dup2(fd, STDOUT_FILENO);
	dup2(fd, STDERR_FILENO);
	close(fd);
	return 0;
}

/*
 * A notice on alia_signout from `alia user passwd|disable` (payload
 * "passwd NAME" or "disable NAME"): front forgets the user's cached
 * tokens, their browsers are sent off, a disabled user's sessions end.
 * payload NULL: the listener (re)connected and may have missed notices;
 * front forgets every cached token, so the database (whose tokens the
 * command deleted in the same transaction) answers again.
 */
static void master_signout_cb(const char *, void *);

/*
 * A notice on alia_session from `alia session kill ID` (payload "kill
 * ID"): the session ends as a DELETE ends it, with end reason "killed".
 * payload NULL: the listener (re)connected; the command that sent a lost
 * notice sees the session go on and kills its container itself.
 */
static void
master_session_cb(const char *payload, void *arg)
{
	if (payload == NULL)
		return;
	if (strncmp(payload, "kill ", 5) != 0 ||
	    container_kill(payload + 5, "killed") == -1)
		log_warnx("%s: a bad notice on alia_session", __func__);
}

static void
master_signout_cb(const char *payload, void *arg)
{
	struct msg_signout so;
	struct msgchan *front;
	const char *sp;

	memset(&so, 0, sizeof(so));
	if (payload != NULL) {
		if ((sp = strchr(payload, ' ')) == NULL || sp[1] == '\0' ||
		    strlen(sp + 1) >= sizeof(so.user)) {
			log_warnx("%s: a bad notice on alia_signout", __func__);
			return;
		}
		snprintf(so.user, sizeof(so.user), "%s", sp + 1);
		so.disabled = strncmp(payload, "disable ", 8) == 0;
	}
	if ((front = master_front()) != NULL)
		msg_send_signout(front, NULL, &so);
	if (payload == NULL)
		return;
	wall_signout(so.user);
	container_signout(so.user, so.disabled);
}

static void
master_cleanup(void)
{
	struct child *c;

	while ((c = TAILQ_FIRST(&m.children)) != NULL) {
		TAILQ_REMOVE(&m.children, c, entry);
		msgchan_free(c->chan);
		event_free(c->ev_restart);
		free(c);
	}
	container_free();
	wall_free();
	pgc_free(m.db);
	disk_free();
	if (m.ev_grace != NULL)
		event_free(m.ev_grace);
	if (m.ev_progress != NULL)
		event_free(m.ev_progress);
	if (m.listen_fd != -1 && !m.reexec)
		close(m.listen_fd);
}

/*
 * SIGUSR2, once everything has stopped: the binary at our path again, in
 * the foreground (this process is already whatever it became), with the
 * listening socket and the lock. Returns only if the exec failed.
 */
static void
master_reexec(void)
{
	const char *argv[8];
	char lfd[16], kfd[16];
	int n = 0;

	snprintf(lfd, sizeof(lfd), "%d", m.listen_fd);
	snprintf(kfd, sizeof(kfd), "%d", m.lock_fd);
	if (fcntl(m.listen_fd, F_SETFD, 0) == -1 ||
	    fcntl(m.lock_fd, F_SETFD, 0) == -1 ||
	    setenv("ALIA_INHERIT_LISTEN_FD", lfd, 1) == -1 ||
	    setenv("ALIA_INHERIT_LOCK_FD", kfd, 1) == -1) {
		log_warn("%s: keeping the socket and the lock", __func__);
		return;
	}
	argv[n++] = proc_self();
	if (m.verbose)
		argv[n++] = "-v";
	argv[n++] = "serve";
	argv[n++] = "-d";
	if (m.file != NULL) {
		argv[n++] = "-c";
		argv[n++] = m.file;
	}
	argv[n] = NULL;
	log_info("executing %s", proc_self());
	execv(proc_self(), (char *const *)argv);
	log_warn("exec %s; sessions live on: start alia again", proc_self());
}

int
master_main(struct config *conf, const char *file, int foreground, int verbose)
{
	static const int sigs[] = {SIGTERM, SIGINT, SIGCHLD, SIGUSR2, SIGHUP};
	struct event *ev_sig[5];
	char fabs[PATH_MAX];
	struct child *pgc;
	char abs[PATH_MAX];
	pid_t pgpid = 0;
	size_t i;
	int applied;

	memset(&m, 0, sizeof(m));
	m.conf = *conf;
	m.verbose = verbose;
	m.foreground = foreground;
	/* The title takes argv's space, and a daemon has / for its cwd. */
	if (file != NULL)
		m.file = xstrdup(realpath(file, fabs) != NULL ? fabs : file);
	m.listen_fd = -1;
	TAILQ_INIT(&m.children);
	proc_title("master");
	log_setproc("master");

	if (mkdir(m.conf.data_dir, 0755) == -1 && errno != EEXIST)
		fatal("mkdir %s", m.conf.data_dir);
	if (realpath(m.conf.data_dir, abs) == NULL)
		fatal("realpath %s", m.conf.data_dir);
	if (snprintf(m.conf.data_dir, sizeof(m.conf.data_dir), "%s", abs) >=
	    (int)sizeof(m.conf.data_dir))
		fatalx("data_dir: %s is too long", abs);
	if (master_lock() == -1 || master_instance() == -1)
		return 1;
	if (master_listen() == -1)
		return 1;
	if (!foreground && master_daemonize() == -1)
		return 1;
	/* Daemonizing changed our pid. */
	if (!foreground) {
		char pid[32];
		int n = snprintf(pid, sizeof(pid), "%ld\n", (long)getpid());

		if (ftruncate(m.lock_fd, 0) == -1 ||
		    pwrite(m.lock_fd, pid, n, 0) != n)
			log_warn("writing the pid file");
	}

	/* Writes to a gone peer are errors, not deaths. */
	signal(SIGPIPE, SIG_IGN);
	if (pg_embedded(&m.conf)) {
		if ((pgpid = pg_start(&m.conf)) == -1)
			return 1;
	} else if (pg_wait_external(&m.conf) == -1)
		return 1;
	if ((applied = pg_migrate(&m.conf)) == -1) {
		pg_stop(pgpid);
		return 1;
	}
	log_info("database ready (%s, %d migration%s applied)",
	    pg_embedded(&m.conf) ? "embedded" : "external", applied,
	    applied == 1 ? "" : "s");

	if ((m.base = event_base_new()) == NULL)
		fatalx("event_base_new");
	m.ev_grace = evtimer_new(m.base, master_grace_cb, NULL);
	m.ev_progress = evtimer_new(m.base, master_progress_cb, NULL);
	{
		char conninfo[PATH_MAX + 64];

		pg_conninfo(&m.conf, NULL, conninfo, sizeof(conninfo));
		m.db = pgc_new(m.base, conninfo, NULL, 0);
		pgc_listen(m.db, "alia_signout", master_signout_cb, NULL);
		pgc_listen(m.db, "alia_session", master_session_cb, NULL);
	}
	container_init(m.base, &m.conf, m.instance, m.db, m.verbose);
	wall_init(m.base, &m.conf, m.verbose);
	disk_init(m.base, &m.conf);
	for (i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++) {
		ev_sig[i] =
		    evsignal_new(m.base, sigs[i], master_signal_cb, NULL);
		evsignal_add(ev_sig[i], NULL);
	}
	if (pgpid > 0) {
		pgc = master_child_add(&role_postgres);
		pgc->pid = pgpid;
		pgc->started = clock_mono_us();
	}
	master_child_start(master_child_add(&role_broker));
	master_child_start(master_child_add(&role_recorder));
	master_child_start(master_child_add(&role_front));
	/* A child that died before the signal events existed. */

	raise(SIGCHLD);

	event_base_dispatch(m.base);

	log_info("stopped");
	for (i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++)
		event_free(ev_sig[i]);
	master_cleanup();
	event_base_free(m.base);
	if (m.reexec)
		master_reexec();
	close(m.lock_fd);
	free((char *)m.file);
	return m.reexec ? 1 : 0;
}
