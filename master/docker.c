/* SPDX-License-Identifier: ISC */
/*
 * The asynchronous Docker Engine API client: the daemon's address, its
 * connections, the calls waiting on them, and the translation of each call
 * to a request and of each response to a result handed to a callback.
 *
 * A call moves through a few places, always on exactly one of them. It is
 * born WAITING while the API version is unknown: the first call starts a
 * GET /_ping, and when its Api-Version arrives every waiting call is
 * dispatched with the path prefix /v1.xx (min of ours and theirs). Control
 * calls then queue on CONTROL and go one at a time on each of a few
 * keep-alive connections; attach, wait and events each get a connection of their own

 * and are RUNNING at once. A call whose callback must not run from inside
 * the function that made it (a bad configuration, a connect that failed on
 * the spot) is put on FAILING and completed once the current callback has
 * returned (common/defer.c). When a response is complete, or its
 * connection fails, the call is taken off its connection, its callback
 * runs, and the call goes to DEAD; closed connections go to the
 * graveyard. Both are freed once the callback has returned (the same
 * deferral), so nothing is freed under a callback that is still running,
 * even when that callback cancels calls or frees the client: docker_free()
 * from inside a callback only marks the client, and the outermost entry
 * into this file frees it on the way out, with what it had deferred. A
 * control call whose request met a closed keep-alive connection before
 * any byte of the answer (the daemon drops idle connections) is sent
 * again once on a new connection.
 */
#include <sys/types.h>
#include <sys/queue.h>
#include <sys/socket.h>
#include <sys/un.h>

#include <errno.h>
#include <stdarg.h>
#include <fcntl.h>
#include <limits.h>
#include <netdb.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <yajl/yajl_gen.h>
#include <yajl/yajl_tree.h>

#include "common/config.h"
#include "common/defer.h"
#include "common/json.h"
#include "common/log.h"
#include "common/str.h"
#include "common/xmalloc.h"
#include "master/master.h"

#define DOCKER_API_MAJOR     1
#define DOCKER_API_MINOR     41
#define DOCKER_DEFAULT_HOST  "unix:///var/run/docker.sock"
#define DOCKER_BODY_MAX      (64 * 1024 * 1024)
#define DOCKER_EVENT_MAX     (1024 * 1024)
#define DOCKER_CONNECT_SECS  10
#define DOCKER_CONTROL_SECS  120
#define DOCKER_CONTROL_CONNS 4
#define DOCKER_LABEL_SESSION "io.alia.session"
#define DOCKER_LABEL_OWNER   "io.alia.owner"
#define DOCKER_LABEL_INST    "io.alia.instance"
#define DOCKER_LABEL_POOL    "io.alia.pool"
#define DOCKER_LABEL_ENGINE  "io.alia.engine"
#define DOCKER_RELAY_MAX     (256 * 1024) /* bytes held each way */

enum docker_op {
	OP_NEGOTIATE,
	OP_PING,
	OP_CREATE,
	OP_ATTACH,
	OP_START,
	OP_RESIZE,
	OP_WAIT,
	OP_KILL,
	OP_REMOVE,
	OP_LIST,
	OP_INSPECT,
	OP_EVENTS,
	OP_LOGS,
	OP_UPDATE,
	OP_IMAGE,
	OP_EXPORT,
	OP_LOAD,
	OP_EXEC,
	OP_EXEC_START,
	OP_EXEC_INSPECT,
};

enum docker_place {
	PLACE_NONE,
	PLACE_WAITING,
	PLACE_CONTROL,
	PLACE_RUNNING,
	PLACE_FAILING,
	PLACE_DEAD,
};

enum docker_neg {
	NEG_NONE,
	NEG_RUNNING,
	NEG_DONE,
};

struct docker_conn;

struct docker_call {
	TAILQ_ENTRY(docker_call) entry;
	struct docker *d;
	enum docker_op op;
	enum docker_place place;
	const char *method;
	char *path; /* without the version prefix */
	char *body;
	size_t bodylen;
	const char *ctype; /* the body's type; NULL: JSON */
	int body_fd;       /* load: the body from this file; -1: none */
	int sink_fd;       /* export: the body goes to this file; -1 */
	int64_t sunk;      /* bytes written to sink_fd */
	int dedicated;
	int retried;
	struct docker_conn *conn;
	docker_cb cb;
	docker_event_cb evcb;
	void *arg;
	int fail_status;
	char *fail_message;
	struct defer defer; /* FAILING or DEAD */
};
TAILQ_HEAD(docker_calls, docker_call);

struct docker_conn {
	LIST_ENTRY(docker_conn) entry;
	struct docker *d;
	struct bufferevent *bev;
	struct docker_http *http;
	struct docker_call *call;
	int dedicated;
	int served; /* responses completed on it */
	int dead;
	struct defer defer;
};
LIST_HEAD(docker_conns, docker_conn);

/*
 * An attach stream over TLS, relayed between the engine's connection and
 * one end of a socketpair whose other end the caller was given (workers
 * hold no TLS, and this kernel has no kTLS to hand the session over).
 * At most DOCKER_RELAY_MAX bytes wait each way; past that the side that
 * sends is not read until the other has taken half.
 */
struct docker_relay {
	LIST_ENTRY(docker_relay) entry;
	struct docker *d;
	struct bufferevent *tls;   /* the engine's stream */
	struct bufferevent *local; /* our end of the socketpair */
	int closing;               /* the engine's side ended: flush, free */
};
LIST_HEAD(docker_relays, docker_relay);

struct docker {
	struct event_base *base;
	char *host;
	struct sockaddr_storage addr;
	socklen_t addrlen;
	char *hostheader;
	char *tlsname;
	SSL_CTX *ssl_ctx;
	char *config_error;

	enum docker_neg neg;
	char version[16];
	char prefix[16];

	struct docker_calls waiting;
	struct docker_calls control;
	struct docker_calls running;
	struct docker_calls failing;
	struct docker_calls dead;
	struct docker_conns conns;
	struct docker_conns graveyard;
	struct docker_conn *ctl[DOCKER_CONTROL_CONNS];
	struct docker_relays relays;

	int busy;
	int dying;
};

static void docker_dispatch(struct docker_call *);
static void call_reap(void *);
static void docker_control_next(struct docker *);
static void conn_close(struct docker_conn *);

/* Marks an entry into this file from the event loop. */
static void
docker_enter(struct docker *d)
{
	d->busy++;
}

static void docker_destroy(struct docker *);

/* Leaves; the outermost leave frees a client freed meanwhile. */
static void
docker_leave(struct docker *d)
{
	if (--d->busy == 0 && d->dying)
		docker_destroy(d);
}

static struct docker_calls *
call_list(struct docker *d, enum docker_place place)
{
	switch (place) {
	case PLACE_WAITING:
		return &d->waiting;
	case PLACE_CONTROL:
		return &d->control;
	case PLACE_RUNNING:
		return &d->running;
	case PLACE_FAILING:
		return &d->failing;
	case PLACE_DEAD:
		return &d->dead;
	case PLACE_NONE:
		break;
	}
	return NULL;
}

/* Moves a call to another place: the one function that does. */
static void
call_move(struct docker_call *call, enum docker_place place, int head)
{
	struct docker *d = call->d;
	struct docker_calls *from, *to;

	if ((from = call_list(d, call->place)) != NULL)
		TAILQ_REMOVE(from, call, entry);
	call->place = place;
	if ((to = call_list(d, place)) == NULL)
		return;
	if (head)
		TAILQ_INSERT_HEAD(to, call, entry);
	else
		TAILQ_INSERT_TAIL(to, call, entry);
	if (place == PLACE_DEAD || place == PLACE_FAILING)
		defer_queue(d->base, &call->defer, call_reap, call);
}

static void
call_free(struct docker_call *call)
{
	free(call->path);
	free(call->body);
	free(call->fail_message);
	if (call->body_fd != -1)
		close(call->body_fd);
	free(call);
}

static void
result_init(struct docker_result *res)
{
	memset(res, 0, sizeof(*res));
	res->exit_code = -1;
	res->fd = -1;
}

/* Runs the callback of a finished call and buries it. */
static void
call_finish(struct docker_call *call, struct docker_result *res)
{
	struct docker *d = call->d;
	docker_cb cb = call->cb;

	if (call->conn != NULL && call->conn->call == call)
		call->conn->call = NULL;
	call->conn = NULL;
	call->cb = NULL;
	call->evcb = NULL;
	call_move(call, PLACE_DEAD, 0);
	if (res->status >= 500)
		log_warnx("docker: %s %s: %d %s", call->method, call->path,
		    res->status, res->message != NULL ? res->message : "");
	else if (res->message != NULL)
		log_debug("docker: %s %s: %d %s", call->method, call->path,
		    res->status, res->message);
	if (cb != NULL && !d->dying)
		cb(res, call->arg);
}

/* Finishes a call with an error. */
static void call_fail(struct docker_call *call, int status, const char *fmt,
    ...) __attribute__((format(printf, 3, 4)));

static void
call_fail(struct docker_call *call, int status, const char *fmt, ...)
{
	struct docker_result res;
	va_list ap;
	char *msg;

	va_start(ap, fmt);
	if (vasprintf(&msg, fmt, ap) == -1)
		fatal("%s: vasprintf", __func__);
	va_end(ap);
	result_init(&res);
	res.status = status;
	res.message = msg;
	call_finish(call, &res);
	free(msg);
}

/* Fails a call once the caller's callback has returned. */
static void
call_fail_later(struct docker_call *call, const char *msg)
{
	free(call->fail_message);
	call->fail_message = xstrdup(msg);
	call_move(call, PLACE_FAILING, 0);
}

static void
conn_free(struct docker_conn *conn)
{
	if (conn->bev != NULL)
		bufferevent_free(conn->bev);
	docker_http_free(conn->http);
	free(conn);
}

/* A deferred call: a FAILING one completes (then waits as DEAD), a DEAD
 * one is freed. */
static void
call_reap(void *arg)
{
	struct docker_call *call = arg;
	struct docker *d = call->d;

	if (call->place == PLACE_FAILING) {
		docker_enter(d);
		call_fail(call, call->fail_status, "%s", call->fail_message);
		docker_leave(d);
		return;
	}
	TAILQ_REMOVE(&d->dead, call, entry);
	call_free(call);
}

/* A closed connection, from the graveyard. */
static void
conn_reap(void *arg)
{
	struct docker_conn *conn = arg;

	LIST_REMOVE(conn, entry);
	conn_free(conn);
}

/* Writes s %-escaped for a query string or a path segment. */
static char *
docker_escape(const char *s)
{
	static const char hex[] = "0123456789ABCDEF";
	char *out, *o;

	out = o = xreallocarray(NULL, strlen(s) + 1, 3);
	for (; *s != '\0'; s++) {
		unsigned char c = (unsigned char)*s;

		if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		    (c >= '0' && c <= '9') || strchr("-_.~", c) != NULL) {
			*o++ = (char)c;
			continue;
		}
		*o++ = '%';
		*o++ = hex[c >> 4];
		*o++ = hex[c & 15];
	}
	*o = '\0';
	return out;
}

static int
docker_parse_host(struct docker *d, const char *host)
{
	struct sockaddr_un *sun;
	struct addrinfo hints, *ai;
	char *h, *port, *name;
	int error;

	if (strncmp(host, "unix://", 7) == 0 || host[0] == '/') {
		const char *path = host[0] == '/' ? host : host + 7;

		sun = (struct sockaddr_un *)&d->addr;
		sun->sun_family = AF_UNIX;
		if (*path == '\0' || strlen(path) >= sizeof(sun->sun_path)) {
			xasprintf(&d->config_error,
			    "docker host %s: bad socket path", host);
			return -1;
		}
		snprintf(sun->sun_path, sizeof(sun->sun_path), "%s", path);
		d->addrlen = sizeof(*sun);
		d->hostheader = xstrdup("docker");
		return 0;
	}
	if (strncmp(host, "tcp://", 6) != 0) {
		xasprintf(&d->config_error,
		    "docker host %s: want unix:///path or tcp://host:port",
		    host);
		return -1;
	}
	h = xstrdup(host + 6);
	h[strcspn(h, "/")] = '\0';
	if (h[0] == '[') {
		name = h + 1;
		if ((port = strchr(name, ']')) == NULL)
			goto bad;
		*port++ = '\0';
		if (*port == ':')
			port++;
		else if (*port != '\0')
			goto bad;
	} else {
		name = h;
		if ((port = strrchr(h, ':')) != NULL)
			*port++ = '\0';
	}
	if (port == NULL || *port == '\0')
		port = d->ssl_ctx != NULL ? "2376" : "2375";
	if (*name == '\0')
		goto bad;
	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	if ((error = getaddrinfo(name, port, &hints, &ai)) != 0) {
		xasprintf(&d->config_error, "docker host %s: %s", host,
		    gai_strerror(error));
		free(h);
		return -1;
	}
	memcpy(&d->addr, ai->ai_addr, ai->ai_addrlen);
	d->addrlen = ai->ai_addrlen;
	freeaddrinfo(ai);
	xasprintf(&d->hostheader, "%s:%s", name, port);
	d->tlsname = xstrdup(name);
	free(h);
	return 0;
bad:
	xasprintf(&d->config_error, "docker host %s: bad host or port", host);
	free(h);
	return -1;
}

/*
 * Sets up TLS from certdir, else $DOCKER_CERT_PATH: verify the daemon,
 * present ours.
 */
static int
docker_tls_setup(struct docker *d, const char *certdir)
{
	const char *dir = certdir, *home;
	char *ca = NULL, *cert = NULL, *key = NULL, *path = NULL;
	unsigned long e;
	char err[256];
	int rv = -1;

	if (dir == NULL && (dir = getenv("DOCKER_CERT_PATH")) != NULL &&
	    *dir == '\0')
		dir = NULL;
	if (dir == NULL) {
		if ((home = getenv("HOME")) == NULL)
			home = "/";
		xasprintf(&path, "%s/.docker", home);
		dir = path;
	}
	xasprintf(&ca, "%s/ca.pem", dir);
	xasprintf(&cert, "%s/cert.pem", dir);
	xasprintf(&key, "%s/key.pem", dir);
	if (access(ca, R_OK) == -1 || access(cert, R_OK) == -1 ||
	    access(key, R_OK) == -1) {
		const char *missing = access(ca, R_OK) == -1 ? ca
		    : access(cert, R_OK) == -1               ? cert
		                                             : key;

		xasprintf(&d->config_error,
		    "docker TLS: cannot read %s: %s (set DOCKER_CERT_PATH to "
		    "a directory with ca.pem, cert.pem and key.pem)",
		    missing, strerror(errno));
		goto out;
	}
	if ((d->ssl_ctx = SSL_CTX_new(TLS_client_method())) == NULL)
		fatalx("%s: SSL_CTX_new", __func__);
	SSL_CTX_set_min_proto_version(d->ssl_ctx, TLS1_2_VERSION);
	SSL_CTX_set_verify(d->ssl_ctx, SSL_VERIFY_PEER, NULL);
	if (SSL_CTX_load_verify_locations(d->ssl_ctx, ca, NULL) != 1 ||
	    SSL_CTX_use_certificate_chain_file(d->ssl_ctx, cert) != 1 ||
	    SSL_CTX_use_PrivateKey_file(d->ssl_ctx, key, SSL_FILETYPE_PEM) !=
	        1 ||
	    SSL_CTX_check_private_key(d->ssl_ctx) != 1) {
		e = ERR_get_error();
		ERR_error_string_n(e, err, sizeof(err));
		ERR_clear_error();
		xasprintf(
		    &d->config_error, "docker TLS: loading %s: %s", dir, err);
		SSL_CTX_free(d->ssl_ctx);
		d->ssl_ctx = NULL;
		goto out;
	}
	rv = 0;
out:
	free(ca);
	free(cert);
	free(key);
	free(path);
	return rv;
}

/*
 * A client of host; TLS from certdir, or (env) as the environment says,
 * or none.
 */
static struct docker *
docker_new_tls(
    struct event_base *base, const char *host, const char *certdir, int env)
{
	struct docker *d;
	const char *tls;

	d = xcalloc(1, sizeof(*d));
	d->base = base;
	TAILQ_INIT(&d->waiting);
	TAILQ_INIT(&d->control);
	TAILQ_INIT(&d->running);
	TAILQ_INIT(&d->failing);
	TAILQ_INIT(&d->dead);
	LIST_INIT(&d->conns);
	LIST_INIT(&d->graveyard);
	LIST_INIT(&d->relays);
	if (host == NULL && (host = getenv("DOCKER_HOST")) != NULL &&
	    *host == '\0')
		host = NULL;
	if (host == NULL)
		host = DOCKER_DEFAULT_HOST;
	d->host = xstrdup(host);
	tls = env ? getenv("DOCKER_TLS_VERIFY") : NULL;
	if (strncmp(host, "tcp://", 6) == 0 &&
	    (certdir != NULL || (tls != NULL && *tls != '\0')) &&
	    docker_tls_setup(d, certdir) == -1)
		return d;
	docker_parse_host(d, host);
	return d;
}

struct docker *
docker_new(struct event_base *base, const char *host)
{
	return docker_new_tls(base, host, NULL, 1);
}

struct docker *
docker_new_engine(struct event_base *base, const struct config *c,
    const struct config_engine *e)
{
	char dir[CONFIG_PATH + CONFIG_ENGINE_NAME + 2];

	if (c->docker_tls_dir[0] != '\0') {
		snprintf(dir, sizeof(dir), "%s/%s", c->docker_tls_dir, e->name);
		if (access(dir, F_OK) == 0)
			return docker_new_tls(base, e->url, dir, 0);
	}
	/* DOCKER_TLS_VERIFY and DOCKER_CERT_PATH: of a lone engine only. */
	return docker_new_tls(base, e->url, NULL, c->nengines == 1);
}

int
docker_tls(const struct docker *d)
{
	return d->ssl_ctx != NULL;
}

static void
relay_free(struct docker_relay *r)
{
	LIST_REMOVE(r, entry);
	bufferevent_free(r->tls);
	bufferevent_free(r->local);
	free(r);
}

/* Moves what from has read to to's output, pausing from past the bound. */
static void
relay_move(struct bufferevent *from, struct bufferevent *to)
{
	struct evbuffer *out = bufferevent_get_output(to);

	evbuffer_add_buffer(out, bufferevent_get_input(from));
	if (evbuffer_get_length(out) > DOCKER_RELAY_MAX) {
		bufferevent_disable(from, EV_READ);
		bufferevent_setwatermark(to, EV_WRITE, DOCKER_RELAY_MAX / 2, 0);
	}
}

static void
relay_readcb(struct bufferevent *bev, void *arg)
{
	struct docker_relay *r = arg;

	if (bev == r->tls)
		relay_move(r->tls, r->local);
	else if (!r->closing)
		relay_move(r->local, r->tls);
}

/* to's output fell under the low mark (or emptied): its sender goes on. */
static void
relay_writecb(struct bufferevent *bev, void *arg)
{
	struct docker_relay *r = arg;
	struct bufferevent *from = bev == r->tls ? r->local : r->tls;

	if (r->closing && bev == r->local &&
	    evbuffer_get_length(bufferevent_get_output(bev)) == 0) {
		relay_free(r);
		return;
	}
	if (!r->closing) {
		bufferevent_setwatermark(bev, EV_WRITE, 0, 0);
		bufferevent_enable(from, EV_READ);
	}
}

/*
 * One side ended. The engine's: what it sent still goes to the local
 * side, then both close. The local side's (every copy of the session's
 * fd closed): the engine's connection closes at once.
 */
static void
relay_eventcb(struct bufferevent *bev, short what, void *arg)
{
	struct docker_relay *r = arg;

	if (!(what & (BEV_EVENT_EOF | BEV_EVENT_ERROR | BEV_EVENT_TIMEOUT)))
		return;
	if (bev == r->local || r->closing) {
		relay_free(r);
		return;
	}
	r->closing = 1;
	bufferevent_disable(r->tls, EV_READ | EV_WRITE);
	bufferevent_disable(r->local, EV_READ);
	bufferevent_setwatermark(r->local, EV_WRITE, 0, 0);
	if (evbuffer_get_length(bufferevent_get_output(r->local)) == 0)
		relay_free(r);
}

/*
 * The engine's TLS connection conn becomes a relay; the caller's end of
 * it in *fd (non-blocking, close-on-exec), or -1 with errno.
 */
static int
relay_new(struct docker *d, struct docker_conn *conn, int *fd)
{
	struct docker_relay *r;
	int sv[2];

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0,
	        sv) == -1)
		return -1;
	r = xcalloc(1, sizeof(*r));
	r->d = d;
	r->tls = conn->bev;
	conn->bev = NULL;
	if ((r->local = bufferevent_socket_new(
	         d->base, sv[0], BEV_OPT_CLOSE_ON_FREE)) == NULL)
		fatalx("%s: bufferevent_socket_new", __func__);
	LIST_INSERT_HEAD(&d->relays, r, entry);
	bufferevent_set_timeouts(r->tls, NULL, NULL);
	bufferevent_setcb(
	    r->tls, relay_readcb, relay_writecb, relay_eventcb, r);
	bufferevent_setcb(
	    r->local, relay_readcb, relay_writecb, relay_eventcb, r);
	bufferevent_enable(r->tls, EV_READ | EV_WRITE);
	bufferevent_enable(r->local, EV_READ | EV_WRITE);
	/* What came with the 101 is the stream's first output. */
	if (evbuffer_get_length(bufferevent_get_input(r->tls)) > 0)
		relay_move(r->tls, r->local);
	*fd = sv[1];
	return 0;
}

static void
docker_destroy(struct docker *d)
{
	struct docker_call *call;
	struct docker_conn *conn;
	struct docker_calls *lists[] = {
	    &d->waiting, &d->control, &d->running, &d->failing, &d->dead};
	size_t i;

	for (i = 0; i < sizeof(lists) / sizeof(lists[0]); i++) {
		while ((call = TAILQ_FIRST(lists[i])) != NULL) {
			TAILQ_REMOVE(lists[i], call, entry);
			defer_cancel(&call->defer);
			call_free(call);
		}
	}
	while ((conn = LIST_FIRST(&d->conns)) != NULL) {
		LIST_REMOVE(conn, entry);
		conn_free(conn);
	}
	while ((conn = LIST_FIRST(&d->graveyard)) != NULL) {
		LIST_REMOVE(conn, entry);
		defer_cancel(&conn->defer);
		conn_free(conn);
	}
	while (!LIST_EMPTY(&d->relays))
		relay_free(LIST_FIRST(&d->relays));
	if (d->ssl_ctx != NULL)
		SSL_CTX_free(d->ssl_ctx);
	free(d->host);
	free(d->hostheader);
	free(d->tlsname);
	free(d->config_error);
	free(d);
}

void
docker_free(struct docker *d)
{
	if (d == NULL)
		return;
	if (d->busy > 0) {
		d->dying = 1;
		return;
	}
	docker_destroy(d);
}

const char *
docker_api_version(struct docker *d)
{
	return d->neg == NEG_DONE ? d->version : NULL;
}

void
docker_cancel(struct docker_call *call)
{
	struct docker_conn *conn = call->conn;

	if (call->place == PLACE_DEAD)
		return;
	call->cb = NULL;
	call->evcb = NULL;
	if (conn != NULL) {
		conn->call = NULL;
		call->conn = NULL;
		/* A half-read response leaves the connection unusable. */
		conn_close(conn);
		if (!conn->dedicated)
			docker_control_next(call->d);
	}
	call_move(call, PLACE_DEAD, 0);
}

/* Closes a connection; its memory goes to the graveyard. */
static void
conn_close(struct docker_conn *conn)
{
	struct docker *d = conn->d;
	int i;

	if (conn->dead)

		return;
	conn->dead = 1;
	if (conn->bev != NULL)
		bufferevent_disable(conn->bev, EV_READ | EV_WRITE);
	for (i = 0; i < DOCKER_CONTROL_CONNS; i++)
		if (d->ctl[i] == conn)
			d->ctl[i] = NULL;
	LIST_REMOVE(conn, entry);
	LIST_INSERT_HEAD(&d->graveyard, conn, entry);
	defer_queue(d->base, &conn->defer, conn_reap, conn);
}

static void conn_readcb(struct bufferevent *, void *);
static void conn_eventcb(struct bufferevent *, short, void *);

/* Opens a connection; NULL with err set when it failed on the spot. */
static struct docker_conn *
conn_open(struct docker *d, int dedicated, char *err, size_t errlen)
{
	struct docker_conn *conn;
	struct bufferevent *bev;
	struct timeval tv = {DOCKER_CONNECT_SECS, 0};
	SSL *ssl;

	if (d->ssl_ctx != NULL) {
		if ((ssl = SSL_new(d->ssl_ctx)) == NULL)
			fatalx("%s: SSL_new", __func__);
		SSL_set_tlsext_host_name(ssl, d->tlsname);
		if (X509_VERIFY_PARAM_set1_ip_asc(
		        SSL_get0_param(ssl), d->tlsname) != 1)
			SSL_set1_host(ssl, d->tlsname);
		bev = bufferevent_openssl_socket_new(d->base, -1, ssl,
		    BUFFEREVENT_SSL_CONNECTING, BEV_OPT_CLOSE_ON_FREE);
	} else
		bev =
		    bufferevent_socket_new(d->base, -1, BEV_OPT_CLOSE_ON_FREE);
	if (bev == NULL)
		fatalx("%s: bufferevent_socket_new", __func__);
	errno = 0;
	if (bufferevent_socket_connect(
	        bev, (struct sockaddr *)&d->addr, (int)d->addrlen) == -1) {
		snprintf(err, errlen,
		    "cannot connect to the Docker daemon at "
		    "%s: %s",
		    d->host, strerror(errno != 0 ? errno : EIO));
		bufferevent_free(bev);
		return NULL;
	}
	conn = xcalloc(1, sizeof(*conn));
	conn->d = d;
	conn->bev = bev;
	conn->http = docker_http_new();
	conn->dedicated = dedicated;
	LIST_INSERT_HEAD(&d->conns, conn, entry);
	bufferevent_setcb(bev, conn_readcb, NULL, conn_eventcb, conn);
	bufferevent_set_timeouts(bev, NULL, &tv);
	bufferevent_enable(bev, EV_READ | EV_WRITE);
	return conn;
}

/* Writes the call's request on its connection. */
static void
conn_send(struct docker_conn *conn, struct docker_call *call)
{
	struct docker *d = conn->d;
	struct evbuffer *out = bufferevent_get_output(conn->bev);
	struct timeval tv = {DOCKER_CONTROL_SECS, 0};
	struct timeval ctv = {DOCKER_CONNECT_SECS, 0};
	const char *prefix = (call->op == OP_NEGOTIATE ? "" : d->prefix);

	conn->call = call;
	call->conn = conn;
	docker_http_reset(conn->http);
	evbuffer_add_printf(out,
	    "%s %s%s HTTP/1.1\r\nHost: %s\r\nUser-Agent: alia\r\n",
	    call->method, prefix, call->path, d->hostheader);
	if (call->body != NULL || call->body_fd != -1)
		evbuffer_add_printf(out, "Content-Type: %s\r\n",
		    call->ctype != NULL ? call->ctype : "application/json");
	if (strcmp(call->method, "GET") != 0)
		evbuffer_add_printf(
		    out, "Content-Length: %zu\r\n", call->bodylen);
	if (call->op == OP_ATTACH || call->op == OP_EXEC_START)
		evbuffer_add_printf(
		    out, "Connection: Upgrade\r\nUpgrade: tcp\r\n");
	evbuffer_add(out, "\r\n", 2);
	if (call->body != NULL)
		evbuffer_add(out, call->body, call->bodylen);
	if (call->body_fd != -1) {
		struct evbuffer_file_segment *seg;

		/* Mapped, not sent with sendfile: TLS reads it as memory. */
		if ((seg = evbuffer_file_segment_new(call->body_fd, 0,
		         (ev_off_t)call->bodylen,
		         EVBUF_FS_DISABLE_SENDFILE | EVBUF_FS_CLOSE_ON_FREE)) ==
		        NULL ||
		    evbuffer_add_file_segment(
		        out, seg, 0, (ev_off_t)call->bodylen) == -1)
			log_warnx("docker: %s %s: the body cannot be read",
			    call->method, call->path);
		else
			call->body_fd = -1; /* the segment's now */
		if (seg != NULL)
			evbuffer_file_segment_free(seg);
	}
	/* wait and events last as long as containers run. */
	bufferevent_set_timeouts(conn->bev,
	    call->op == OP_WAIT || call->op == OP_EVENTS ? NULL : &tv, &ctv);
}

/*
 * Sends waiting control calls while a control connection is free: an idle
 * open one first, else a new one, up to DOCKER_CONTROL_CONNS, so that one
 * slow call (a start takes hundreds of ms) does not hold up the others.
 */
static void
docker_control_next(struct docker *d)
{
	struct docker_call *call;
	char err[512];
	int i, slot;

	while (!d->dying && (call = TAILQ_FIRST(&d->control)) != NULL) {
		slot = -1;
		for (i = 0; i < DOCKER_CONTROL_CONNS && slot == -1; i++)
			if (d->ctl[i] != NULL && d->ctl[i]->call == NULL)
				slot = i;
		for (i = 0; i < DOCKER_CONTROL_CONNS && slot == -1; i++)
			if (d->ctl[i] == NULL)
				slot = i;
		if (slot == -1)
			return; /* all busy */
		if (d->ctl[slot] == NULL &&
		    (d->ctl[slot] = conn_open(d, 0, err, sizeof(err))) ==
		        NULL) {
			/* Nothing else can go either: fail them all. */
			while ((call = TAILQ_FIRST(&d->control)) != NULL)
				call_fail_later(call, err);
			return;
		}
		call_move(call, PLACE_RUNNING, 0);
		conn_send(d->ctl[slot], call);
	}
}

static void
docker_negotiated(struct docker *d, struct docker_result *res)
{
	struct docker_call *call;
	int major, minor;

	if (res->message != NULL) {
		d->neg = NEG_NONE;
		while ((call = TAILQ_FIRST(&d->waiting)) != NULL)
			call_fail(call, res->status,
			    "negotiating the API version: %s", res->message);
		return;
	}
	if (res->api_version == NULL ||
	    sscanf(res->api_version, "%d.%d", &major, &minor) != 2 ||
	    major != DOCKER_API_MAJOR) {
		major = DOCKER_API_MAJOR;
		minor = DOCKER_API_MINOR;
		log_warnx("docker: daemon sent no usable Api-Version; "
		          "using %d.%d",
		    major, minor);
	}
	if (minor > DOCKER_API_MINOR)
		minor = DOCKER_API_MINOR;
	snprintf(d->version, sizeof(d->version), "%d.%d", major, minor);
	snprintf(d->prefix, sizeof(d->prefix), "/v%d.%d", major, minor);
	d->neg = NEG_DONE;
	log_debug("docker: API version %s", d->version);
	while ((call = TAILQ_FIRST(&d->waiting)) != NULL)
		docker_dispatch(call);
}

static void
docker_negotiate_cb(struct docker_result *res, void *arg)
{
	docker_negotiated(arg, res);
}

/* Sends a call once the version is known. */
static void
docker_dispatch(struct docker_call *call)
{
	struct docker *d = call->d;
	struct docker_conn *conn;
	char err[512];

	if (call->dedicated) {
		if ((conn = conn_open(d, 1, err, sizeof(err))) == NULL) {
			call_fail_later(call, err);
			return;
		}
		call_move(call, PLACE_RUNNING, 0);
		conn_send(conn, call);
		return;
	}
	call_move(call, PLACE_CONTROL, 0);
	docker_control_next(d);
}

static struct docker_call *call_new(struct docker *d, enum docker_op op,
    const char *method, docker_cb cb, void *arg, const char *fmt, ...)
    __attribute__((format(printf, 6, 7)));

static struct docker_call *
call_new(struct docker *d, enum docker_op op, const char *method, docker_cb cb,
    void *arg, const char *fmt, ...)
{
	struct docker_call *call;
	va_list ap;

	call = xcalloc(1, sizeof(*call));
	call->d = d;
	call->op = op;
	call->method = method;
	call->cb = cb;
	call->arg = arg;
	call->body_fd = call->sink_fd = -1;
	call->dedicated =
	    (op == OP_ATTACH || op == OP_EXEC_START || op == OP_WAIT ||
	        op == OP_EVENTS || op == OP_EXPORT || op == OP_LOAD);
	va_start(ap, fmt);
	if (vasprintf(&call->path, fmt, ap) == -1)
		fatal("%s: vasprintf", __func__);
	va_end(ap);
	return call;
}

/* Queues a new call: it goes once the API version is known. */
static struct docker_call *
call_submit(struct docker_call *call)
{
	struct docker *d = call->d;
	struct docker_call *neg;

	if (d->config_error != NULL) {
		call_fail_later(call, d->config_error);
		return call;
	}
	if (d->neg == NEG_DONE) {
		docker_dispatch(call);
		return call;
	}
	call_move(call, PLACE_WAITING, 0);
	if (d->neg == NEG_RUNNING)
		return call;
	d->neg = NEG_RUNNING;
	neg =
	    call_new(d, OP_NEGOTIATE, "GET", docker_negotiate_cb, d, "/_ping");
	call_move(neg, PLACE_CONTROL, 1);
	docker_control_next(d);
	return call;
}

/* The daemon's message: {"message": ...} or the plain-text body. */
static char *
docker_error_message(struct docker_http *http)
{
	struct evbuffer *body = docker_http_body(http);
	size_t len = evbuffer_get_length(body);
	const char *path[] = {"message", NULL};
	yajl_val tree, v;
	char *text, *msg;

	if (len == 0) {
		xasprintf(&msg, "HTTP status %d", docker_http_status(http));
		return msg;
	}
	if (len > 4096)
		len = 4096;
	text = xmalloc(len + 1);
	evbuffer_copyout(body, text, len);
	text[len] = '\0';
	if ((tree = json_parse(text, NULL, 0)) != NULL) {
		v = yajl_tree_get(tree, path, yajl_t_string);
		if (v != NULL) {
			msg = xstrdup(YAJL_GET_STRING(v));
			yajl_tree_free(tree);
			free(text);
			return msg;
		}
		yajl_tree_free(tree);
	}
	while (len > 0 &&
	    (text[len - 1] == '\n' || text[len - 1] == '\r' ||
	        text[len - 1] == ' '))
		text[--len] = '\0';
	return text;
}

static yajl_val
docker_body_tree(struct docker_http *http, char *err, size_t errlen)
{
	struct evbuffer *body = docker_http_body(http);
	size_t len = evbuffer_get_length(body);
	yajl_val tree;
	char *text;

	text = xmalloc(len + 1);
	evbuffer_copyout(body, text, len);
	text[len] = '\0';
	tree = json_parse(text, err, errlen);
	free(text);
	return tree;
}

static const char *
tree_string(yajl_val tree, const char **path)
{
	yajl_val v;

	if ((v = yajl_tree_get(tree, path, yajl_t_string)) == NULL)
		return NULL;
	return YAJL_GET_STRING(v);
}

static int
tree_int(yajl_val tree, const char **path, int def)
{
	yajl_val v;

	if ((v = yajl_tree_get(tree, path, yajl_t_number)) == NULL ||
	    !YAJL_IS_INTEGER(v))
		return def;
	return (int)YAJL_GET_INTEGER(v);
}

static int
call_ok(struct docker_call *call, int status)
{
	switch (call->op) {
	case OP_CREATE:
	case OP_EXEC:
		return status == 201;
	case OP_START:
		return status == 204 || status == 304;
	case OP_KILL:
		return status == 204;
	case OP_REMOVE:
		return status == 204 || status == 404;
	case OP_ATTACH:
	case OP_EXEC_START:
		return status == 101;
	default:
		return status == 200;
	}
}

/* Builds the result of a complete response and finishes the call. */
static void
call_complete(struct docker_call *call, struct docker_http *http)
{
	static const char *p_id[] = {"Id", NULL};
	static const char *p_status[] = {"StatusCode", NULL};
	static const char *p_werr[] = {"Error", "Message", NULL};
	static const char *p_state[] = {"State", "Status", NULL};
	static const char *p_exit[] = {"State", "ExitCode", NULL};
	static const char *p_labels[] = {"Config", "Labels", NULL};
	struct docker_result res;
	struct docker_container *list = NULL;
	yajl_val tree = NULL, labels, v;
	char err[256], *msg = NULL;
	const char *s;
	size_t i, n;
	int status = docker_http_status(http);

	result_init(&res);
	res.status = status;
	if (!call_ok(call, status)) {
		msg = docker_error_message(http);
		res.message = msg;
		call_finish(call, &res);
		free(msg);
		return;
	}
	switch (call->op) {
	case OP_NEGOTIATE:
	case OP_PING:
		res.api_version = docker_http_header(http, "Api-Version");
		break;
	case OP_LOGS:
		res.body = docker_http_body(http);
		break;
	case OP_EXPORT:
		res.exit_code =
		    call->sunk > INT_MAX ? INT_MAX : (int)call->sunk;
		break;
	case OP_LOAD:
		/* 200 even when it failed: the stream says so. */
		if (evbuffer_search(docker_http_body(http), "\"error", 6, NULL)
		        .pos != -1) {
			msg = docker_error_message(http);
			res.message = msg;
		}
		break;
	case OP_CREATE:
	case OP_EXEC:
	case OP_IMAGE:
	case OP_WAIT:
	case OP_LIST:
	case OP_INSPECT:
	case OP_EXEC_INSPECT:
		if ((tree = docker_body_tree(http, err, sizeof(err))) == NULL) {
			res.message = "the daemon sent a body that is not JSON";
			break;
		}
		if (call->op == OP_EXEC_INSPECT) {
			static const char *p_eexit[] = {"ExitCode", NULL};
			static const char *p_run[] = {"Running", NULL};
			yajl_val run = yajl_tree_get(tree, p_run, yajl_t_any);

			res.exit_code = tree_int(tree, p_eexit, -1);
			res.state = run != NULL && YAJL_IS_TRUE(run) ? "running"
			                                             : "exited";
		} else if (call->op == OP_CREATE || call->op == OP_IMAGE ||
		    call->op == OP_EXEC) {
			if ((res.id = tree_string(tree, p_id)) == NULL)
				res.message = "no Id in the response";
		} else if (call->op == OP_WAIT) {
			res.exit_code = tree_int(tree, p_status, -1);
			if ((s = tree_string(tree, p_werr)) != NULL)
				res.message = s;
			else if (res.exit_code == -1)
				res.message = "no StatusCode in the wait "
				              "response";
		} else if (call->op == OP_INSPECT) {
			res.tree = tree;
			res.state = tree_string(tree, p_state);
			res.exit_code = tree_int(tree, p_exit, -1);
			labels = yajl_tree_get(tree, p_labels, yajl_t_object);
			for (i = 0;
			     labels != NULL && i < YAJL_GET_OBJECT(labels)->len;
			     i++) {
				v = YAJL_GET_OBJECT(labels)->values[i];
				s = YAJL_GET_OBJECT(labels)->keys[i];
				if (!YAJL_IS_STRING(v))
					continue;
				if (strcmp(s, DOCKER_LABEL_SESSION) == 0)
					res.session = YAJL_GET_STRING(v);
				else if (strcmp(s, DOCKER_LABEL_OWNER) == 0)
					res.owner = YAJL_GET_STRING(v);
			}
		} else {
			static const char *p_cid[] = {"Id", NULL};
			static const char *p_names[] = {"Names", NULL};
			static const char *p_cstate[] = {"State", NULL};
			static const char *p_sess[] = {
			    "Labels", DOCKER_LABEL_SESSION, NULL};
			static const char *p_pool[] = {
			    "Labels", DOCKER_LABEL_POOL, NULL};

			if (!YAJL_IS_ARRAY(tree)) {
				res.message = "the list response is not an "
				              "array";
				break;
			}
			n = YAJL_GET_ARRAY(tree)->len;
			list = xcalloc(n + 1, sizeof(*list));
			for (i = 0; i < n; i++) {
				yajl_val c = YAJL_GET_ARRAY(tree)->values[i];

				list[i].id = tree_string(c, p_cid);
				list[i].state = tree_string(c, p_cstate);
				list[i].session = tree_string(c, p_sess);
				list[i].pool = tree_string(c, p_pool) != NULL;
				v = yajl_tree_get(c, p_names, yajl_t_array);
				if (v != NULL && YAJL_GET_ARRAY(v)->len > 0 &&
				    YAJL_IS_STRING(
				        YAJL_GET_ARRAY(v)->values[0])) {
					s = YAJL_GET_STRING(
					    YAJL_GET_ARRAY(v)->values[0]);
					list[i].name = s + (*s == '/');
				}
			}
			res.containers = list;
			res.ncontainers = n;
		}
		break;
	default:
		break;
	}
	if (res.message != NULL && res.status == 200)
		log_warnx(
		    "docker: %s %s: %s", call->method, call->path, res.message);
	call_finish(call, &res);
	free(list);
	if (tree != NULL)
		yajl_tree_free(tree);
}

/* Hands the upgraded socket of an attach call to its callback. */
static void
call_upgraded(struct docker_call *call, struct docker_conn *conn)
{
	struct docker_result res;
	int fd;

	result_init(&res);
	res.status = docker_http_status(conn->http);
	/* Over TLS the relay takes the connection and what came with it. */
	if (call->d->ssl_ctx != NULL ? relay_new(call->d, conn, &fd) == -1
	                             : (fd = fcntl(bufferevent_getfd(conn->bev),
	                                    F_DUPFD_CLOEXEC, 0)) == -1) {
		call_fail(call, 0, "attach: %s: %s",
		    call->d->ssl_ctx != NULL ? "socketpair" : "dup",
		    strerror(errno));
		conn_close(conn);
		return;
	}
	if ((res.pending = evbuffer_new()) == NULL)
		fatalx("%s: evbuffer_new", __func__);
	if (conn->bev != NULL)
		evbuffer_add_buffer(
		    res.pending, bufferevent_get_input(conn->bev));
	res.fd = fd;
	conn_close(conn);
	call_finish(call, &res);
	if (res.fd != -1)
		close(res.fd);
	if (res.pending != NULL)
		evbuffer_free(res.pending);
}

/* Delivers each complete line of an event stream. */
static void
call_events(struct docker_call *call, struct docker_http *http)
{
	static const char *p_action[] = {"Action", NULL};
	static const char *p_status[] = {"status", NULL};
	static const char *p_id[] = {"Actor", "ID", NULL};
	static const char *p_exit[] = {"Actor", "Attributes", "exitCode", NULL};
	static const char *p_sess[] = {
	    "Actor", "Attributes", DOCKER_LABEL_SESSION, NULL};
	struct evbuffer *body = docker_http_body(http);
	struct docker_event ev;
	yajl_val tree;
	long long n;
	size_t len;
	char *line;
	const char *s;

	while (call->evcb != NULL &&
	    (line = evbuffer_readln(body, &len, EVBUFFER_EOL_LF)) != NULL) {
		if (len == 0 || (tree = json_parse(line, NULL, 0)) == NULL) {
			if (len != 0)
				log_warnx(
				    "docker: events: not JSON: %.80s", line);
			free(line);
			continue;
		}
		memset(&ev, 0, sizeof(ev));
		if ((ev.action = tree_string(tree, p_action)) == NULL)
			ev.action = tree_string(tree, p_status);
		ev.id = tree_string(tree, p_id);
		ev.session = tree_string(tree, p_sess);
		ev.exit_code = -1;
		if ((s = tree_string(tree, p_exit)) != NULL &&
		    str_num(s, INT_MIN, INT_MAX, &n) == 0)
			ev.exit_code = (int)n;
		if (ev.action != NULL)
			call->evcb(&ev, call->arg);
		yajl_tree_free(tree);
		free(line);
	}
}

static void
conn_read(struct docker_conn *conn)
{
	struct evbuffer *in = bufferevent_get_input(conn->bev);
	struct docker_call *call = conn->call;
	struct evbuffer_iovec v;
	enum docker_http_state state;
	ssize_t n;

	if (call == NULL) {
		log_warnx("docker: unexpected bytes from the daemon on an "
		          "idle connection; closing it");
		conn_close(conn);
		return;
	}
	state = docker_http_state(conn->http);
	while (evbuffer_get_length(in) > 0) {
		if (evbuffer_peek(in, -1, NULL, &v, 1) < 1)
			break;
		n = docker_http_parse(conn->http, v.iov_base, v.iov_len);
		if (n == -1) {
			call_fail(call, docker_http_status(conn->http),
			    "malformed response from the daemon: %s",
			    docker_http_error(conn->http));
			conn_close(conn);
			return;
		}
		evbuffer_drain(in, (size_t)n);
		state = docker_http_state(conn->http);
		if (state == DOCKER_HTTP_DONE || state == DOCKER_HTTP_UPGRADE)
			break;
	}
	if (state == DOCKER_HTTP_UPGRADE) {
		if (call->op == OP_ATTACH || call->op == OP_EXEC_START) {
			call_upgraded(call, conn);
			return;
		}
		call_fail(call, 101, "unexpected protocol upgrade");
		conn_close(conn);
		return;
	}
	if (call->op == OP_EVENTS && docker_http_status(conn->http) == 200 &&
	    state != DOCKER_HTTP_HEAD) {
		call_events(call, conn->http);
		if (conn->call != call)
			return; /* cancelled meanwhile */
		if (evbuffer_get_length(docker_http_body(conn->http)) >
		    DOCKER_EVENT_MAX) {
			call_fail(call, 200, "event line too long");
			conn_close(conn);
			return;
		}
	} else if (call->op == OP_EXPORT &&
	    docker_http_status(conn->http) == 200 &&
	    state != DOCKER_HTTP_HEAD) {
		struct evbuffer *b = docker_http_body(conn->http);
		int w;

		while (evbuffer_get_length(b) > 0)
			if ((w = evbuffer_write(b, call->sink_fd)) <= 0) {
				call_fail(call, 200, "export: writing: %s",
				    strerror(errno));
				conn_close(conn);
				return;
			} else
				call->sunk += w;
	} else if (evbuffer_get_length(docker_http_body(conn->http)) >
	    DOCKER_BODY_MAX) {
		call_fail(call, docker_http_status(conn->http),
		    "response body too large");
		conn_close(conn);
		return;
	}
	if (state != DOCKER_HTTP_DONE)
		return;
	if (call->op == OP_EVENTS) {
		conn_close(conn);
		if (docker_http_status(conn->http) == 200)
			call_fail(
			    call, 200, "the daemon ended the event stream");
		else
			call_complete(call, conn->http);
		return;
	}
	if (conn->dedicated || !docker_http_keepalive(conn->http) ||
	    evbuffer_get_length(in) > 0)
		conn_close(conn);
	else {
		conn->served++;
		conn->call = NULL;
		bufferevent_set_timeouts(conn->bev, NULL, NULL);
	}
	call_complete(call, conn->http);
	docker_control_next(conn->d);
}

static void
conn_readcb(struct bufferevent *bev, void *arg)
{
	struct docker_conn *conn = arg;
	struct docker *d = conn->d;

	docker_enter(d);
	if (!conn->dead)
		conn_read(conn);
	docker_leave(d);
}

static void
conn_eventcb(struct bufferevent *bev, short what, void *arg)
{
	struct docker_conn *conn = arg;
	struct docker *d = conn->d;
	struct docker_call *call = conn->call;
	unsigned long e;
	int error = EVUTIL_SOCKET_ERROR();
	char why[256];

	if (what & BEV_EVENT_CONNECTED)
		return;
	docker_enter(d);
	if (conn->dead)
		goto out;
	if (what & BEV_EVENT_TIMEOUT)
		snprintf(why, sizeof(why),
		    "the Docker daemon at %s did not "
		    "answer in time",
		    d->host);
	else if (what & BEV_EVENT_EOF)
		snprintf(why, sizeof(why),
		    "the Docker daemon at %s closed "
		    "the connection",
		    d->host);
	else if ((e = bufferevent_get_openssl_error(bev)) != 0) {
		char tls[200];

		ERR_error_string_n(e, tls, sizeof(tls));
		snprintf(why, sizeof(why),
		    "TLS with the Docker daemon at "
		    "%s: %s",
		    d->host, tls);
	} else
		snprintf(why, sizeof(why),
		    "cannot talk to the Docker daemon "
		    "at %s: %s",
		    d->host,
		    error != 0 ? strerror(error) : "connection failed");
	if (call == NULL) {
		/* An idle keep-alive connection went away: fine. */
		conn_close(conn);
		goto out;
	}
	if ((what & BEV_EVENT_EOF) && docker_http_eof(conn->http) == 0 &&
	    docker_http_state(conn->http) == DOCKER_HTTP_DONE) {
		conn_close(conn);
		if (call->op == OP_EVENTS)
			call_fail(call, docker_http_status(conn->http),
			    "the daemon ended the event stream");
		else
			call_complete(call, conn->http);
		docker_control_next(d);
		goto out;
	}
	conn->call = NULL;
	call->conn = NULL;
	conn_close(conn);
	if (!conn->dedicated && conn->served > 0 && !call->retried &&
	    !(what & BEV_EVENT_TIMEOUT) &&
	    docker_http_consumed(conn->http) == 0) {
		log_debug("docker: keep-alive connection closed; resending "
		          "%s %s",
		    call->method, call->path);
		call->retried = 1;
		call_move(call, PLACE_CONTROL, 1);
	} else if (docker_http_consumed(conn->http) > 0 &&
	    docker_http_status(conn->http) != 0)
		call_fail(call, docker_http_status(conn->http),
		    "%s in the middle of a response", why);
	else
		call_fail(call, 0, "%s", why);
	docker_control_next(d);
out:
	docker_leave(d);
}

/* Adds a string to a yajl generator. */
static void
gen_str(yajl_gen g, const char *s)
{
	yajl_gen_string(g, (const unsigned char *)s, strlen(s));
}

static void
gen_kv(yajl_gen g, const char *k, const char *v)
{
	gen_str(g, k);
	gen_str(g, v);
}

static void
gen_kint(yajl_gen g, const char *k, long long v)
{
	gen_str(g, k);
	yajl_gen_integer(g, v);
}

static void
gen_kbool(yajl_gen g, const char *k, int v)
{
	gen_str(g, k);
	yajl_gen_bool(g, v);
}

static void
gen_strv(yajl_gen g, const char *k, const char *const *v)
{
	gen_str(g, k);
	yajl_gen_array_open(g);
	for (; v != NULL && *v != NULL; v++)
		gen_str(g, *v);
	yajl_gen_array_close(g);
}

/* Takes the generated text out of g and frees it. */
static char *
gen_finish(yajl_gen g, size_t *lenp)
{
	const unsigned char *buf;
	size_t len;
	char *s;

	if (yajl_gen_get_buf(g, &buf, &len) != yajl_gen_status_ok)
		fatalx("%s: yajl_gen_get_buf", __func__);
	s = xmalloc(len + 1);
	memcpy(s, buf, len);
	s[len] = '\0';
	yajl_gen_free(g);
	if (lenp != NULL)
		*lenp = len;
	return s;
}

static yajl_gen
gen_new(void)
{
	yajl_gen g;

	if ((g = yajl_gen_alloc(NULL)) == NULL)
		fatalx("%s: yajl_gen_alloc", __func__);
	return g;
}

static char *
docker_create_body(const struct docker_create_opts *o, size_t *lenp)
{
	const char *workdir = o->workdir != NULL ? o->workdir : "/";
	int64_t nofile = o->nofile > 0 ? o->nofile : 1024;
	char *tmp, *home;
	yajl_gen g = gen_new();

	xasprintf(&tmp, "rw,exec,nosuid,nodev,size=%s,mode=1777",
	    o->tmp_size != NULL ? o->tmp_size : "64m");
	xasprintf(&home, "rw,exec,nosuid,nodev,size=%s,uid=%d",
	    o->home_size != NULL ? o->home_size : "64m",
	    o->home_uid > 0 ? o->home_uid : 1000);
	yajl_gen_map_open(g);
	gen_kv(g, "Image", o->image);
	gen_strv(g, "Cmd", o->cmd);
	gen_kbool(g, "Tty", o->tty);
	gen_kbool(g, "OpenStdin", 1);
	gen_kbool(g, "StdinOnce", 0);
	gen_kbool(g, "AttachStdin", 1);
	gen_kbool(g, "AttachStdout", 1);
	gen_kbool(g, "AttachStderr", 1);
	gen_strv(g, "Env", o->env);
	if (o->user != NULL)
		gen_kv(g, "User", o->user);
	gen_kv(g, "WorkingDir", workdir);
	if (o->hostname != NULL)
		gen_kv(g, "Hostname", o->hostname);
	gen_str(g, "Labels");
	yajl_gen_map_open(g);
	if (o->session != NULL)
		gen_kv(g, DOCKER_LABEL_SESSION, o->session);
	if (o->owner != NULL)
		gen_kv(g, DOCKER_LABEL_OWNER, o->owner);
	if (o->instance != NULL)
		gen_kv(g, DOCKER_LABEL_INST, o->instance);
	if (o->engine != NULL)
		gen_kv(g, DOCKER_LABEL_ENGINE, o->engine);
	if (o->pool)
		gen_kv(g, DOCKER_LABEL_POOL, "1");
	yajl_gen_map_close(g);

	gen_str(g, "HostConfig");
	yajl_gen_map_open(g);
	if (o->memory > 0) {
		gen_kint(g, "Memory", o->memory);
		gen_kint(g, "MemorySwap", o->memory);
	}
	if (o->nano_cpus > 0)
		gen_kint(g, "NanoCpus", o->nano_cpus);
	if (o->pids_limit > 0)
		gen_kint(g, "PidsLimit", o->pids_limit);
	gen_kv(g, "NetworkMode", o->network != NULL ? o->network : "none");
	gen_kbool(g, "ReadonlyRootfs", 1);
	gen_str(g, "Tmpfs");
	yajl_gen_map_open(g);
	gen_kv(g, "/tmp", tmp);
	if (strcmp(workdir, "/") != 0 && strcmp(workdir, "/tmp") != 0)
		gen_kv(g, workdir, home);
	yajl_gen_map_close(g);
	gen_str(g, "CapDrop");
	yajl_gen_array_open(g);
	gen_str(g, "ALL");
	yajl_gen_array_close(g);
	gen_str(g, "SecurityOpt");
	yajl_gen_array_open(g);
	gen_str(g, "no-new-privileges");
	yajl_gen_array_close(g);
	gen_kbool(g, "AutoRemove", 0);
	gen_kbool(g, "Init", 1);
	gen_str(g, "Ulimits");
	yajl_gen_array_open(g);
	yajl_gen_map_open(g);
	gen_kv(g, "Name", "nofile");
	gen_kint(g, "Soft", nofile);
	gen_kint(g, "Hard", nofile);
	yajl_gen_map_close(g);
	yajl_gen_array_close(g);
	gen_str(g, "LogConfig");
	yajl_gen_map_open(g);
	gen_kv(g, "Type", "json-file");
	gen_str(g, "Config");
	yajl_gen_map_open(g);
	gen_kv(g, "max-size", "1m");
	gen_kv(g, "max-file", "1");
	yajl_gen_map_close(g);
	yajl_gen_map_close(g);
	yajl_gen_map_close(g);

	yajl_gen_map_close(g);
	free(tmp);
	free(home);
	return gen_finish(g, lenp);
}

/* A %-escaped filters= value with a label (KEY=VALUE) and more. */
static char *
docker_filters(const char *label, int events)
{
	static const char *const evs[] = {
	    "start", "die", "oom", "kill", "destroy", NULL};
	yajl_gen g = gen_new();
	char *json, *esc;

	yajl_gen_map_open(g);
	if (label != NULL) {
		gen_str(g, "label");
		yajl_gen_array_open(g);
		gen_str(g, label);
		yajl_gen_array_close(g);
	}
	if (events) {
		gen_str(g, "type");
		yajl_gen_array_open(g);
		gen_str(g, "container");
		yajl_gen_array_close(g);
		gen_strv(g, "event", evs);
	}
	yajl_gen_map_close(g);
	json = gen_finish(g, NULL);
	esc = docker_escape(json);
	free(json);
	return esc;
}

/* Fails a call on bad arguments, once the caller's callback returned. */
static struct docker_call *
call_reject(struct docker_call *call, const char *why)
{
	call_fail_later(call, why);
	return call;
}

struct docker_call *
docker_ping(struct docker *d, docker_cb cb, void *arg)
{
	return call_submit(call_new(d, OP_PING, "GET", cb, arg, "/_ping"));
}

struct docker_call *
docker_create(struct docker *d, const struct docker_create_opts *o,
    docker_cb cb, void *arg)
{
	struct docker_call *call;
	char *name = NULL;

	if (o->name != NULL)
		name = docker_escape(o->name);
	call = call_new(d, OP_CREATE, "POST", cb, arg, "/containers/create%s%s",
	    name != NULL ? "?name=" : "", name != NULL ? name : "");
	free(name);
	if (o->image == NULL || o->cmd == NULL || o->cmd[0] == NULL)
		return call_reject(call,
		    "create: an image and a command are "
		    "required");
	call->body = docker_create_body(o, &call->bodylen);
	return call_submit(call);
}

/* A call on KIND/ID... (/containers/, /exec/), the id escaped; not sent. */
static struct docker_call *
call_id_new(struct docker *d, enum docker_op op, const char *method,
    const char *kind, const char *id, const char *rest, docker_cb cb, void *arg)
{
	struct docker_call *call;
	char *esc;

	esc = docker_escape(id != NULL ? id : "");
	call = call_new(d, op, method, cb, arg, "%s%s%s", kind, esc, rest);
	free(esc);
	return call;
}

static struct docker_call *
call_container_new(struct docker *d, enum docker_op op, const char *method,
    const char *id, const char *rest, docker_cb cb, void *arg)
{
	return call_id_new(d, op, method, "/containers/", id, rest, cb, arg);
}

/* Submits a call on container id, or fails it when there is no id. */
static struct docker_call *
call_container_submit(struct docker_call *call, const char *id)
{
	if (id == NULL || *id == '\0')
		return call_reject(call, "no container id given");
	return call_submit(call);
}

static struct docker_call *
call_container(struct docker *d, enum docker_op op, const char *method,
    const char *id, const char *rest, docker_cb cb, void *arg)
{
	return call_container_submit(
	    call_container_new(d, op, method, id, rest, cb, arg), id);
}

struct docker_call *
docker_attach(struct docker *d, const char *id, docker_cb cb, void *arg)
{
	return call_container(d, OP_ATTACH, "POST", id,
	    "/attach?stream=1&stdin=1&stdout=1&stderr=1"
	    "&detachKeys=ctrl-%5E,ctrl-%5E",
	    cb, arg);
}

struct docker_call *
docker_exec(struct docker *d, const char *id, const struct docker_exec_opts *o,
    docker_cb cb, void *arg)
{
	struct docker_call *call;
	yajl_gen g = gen_new();

	yajl_gen_map_open(g);
	gen_kbool(g, "AttachStdin", 0);
	gen_kbool(g, "AttachStdout", 1);
	gen_kbool(g, "AttachStderr", 1);
	gen_kbool(g, "Tty", 0);
	gen_kbool(g, "Privileged", 0);
	gen_kv(g, "User", o->user);
	gen_kv(g, "WorkingDir", o->workdir);
	gen_strv(g, "Env", o->env);
	gen_strv(g, "Cmd", o->cmd);
	yajl_gen_map_close(g);
	call = call_container_new(d, OP_EXEC, "POST", id, "/exec", cb, arg);
	call->body = gen_finish(g, &call->bodylen);
	return call_container_submit(call, id);
}

struct docker_call *
docker_exec_start(struct docker *d, const char *id, docker_cb cb, void *arg)
{
	struct docker_call *call;
	yajl_gen g = gen_new();

	yajl_gen_map_open(g);
	gen_kbool(g, "Detach", 0);
	gen_kbool(g, "Tty", 0);
	yajl_gen_map_close(g);
	call = call_id_new(
	    d, OP_EXEC_START, "POST", "/exec/", id, "/start", cb, arg);
	call->body = gen_finish(g, &call->bodylen);
	return call_container_submit(call, id);
}

struct docker_call *
docker_exec_inspect(struct docker *d, const char *id, docker_cb cb, void *arg)
{
	return call_container_submit(call_id_new(d, OP_EXEC_INSPECT, "GET",
	                                 "/exec/", id, "/json", cb, arg),
	    id);
}

struct docker_call *
docker_start(struct docker *d, const char *id, docker_cb cb, void *arg)
{
	return call_container(d, OP_START, "POST", id, "/start", cb, arg);
}

struct docker_call *
docker_resize(struct docker *d, const char *id, u_int rows, u_int cols,
    docker_cb cb, void *arg)
{
	struct docker_call *call;
	char *rest;

	xasprintf(&rest, "/resize?h=%u&w=%u", rows, cols);
	call = call_container(d, OP_RESIZE, "POST", id, rest, cb, arg);
	free(rest);
	return call;
}

/* POSTs to /containers/ID + query, value escaped onto its end. */
static struct docker_call *
call_container_query(struct docker *d, enum docker_op op, const char *id,
    const char *query, const char *value, docker_cb cb, void *arg)
{
	struct docker_call *call;
	char *rest, *esc;

	esc = docker_escape(value);
	xasprintf(&rest, "%s%s", query, esc);
	call = call_container(d, op, "POST", id, rest, cb, arg);
	free(rest);
	free(esc);
	return call;
}

struct docker_call *
docker_wait(struct docker *d, const char *id, const char *condition,
    docker_cb cb, void *arg)
{
	return call_container_query(d, OP_WAIT, id,
	    "/wait?condition=", condition != NULL ? condition : "not-running",
	    cb, arg);
}

struct docker_call *
docker_logs(struct docker *d, const char *id, int64_t since_us,
    int64_t until_us, docker_cb cb, void *arg)
{
	struct docker_call *call;
	char *rest;

	xasprintf(&rest,
	    "/logs?stdout=1&stderr=1&timestamps=1&since=%lld.%06lld"
	    "&until=%lld.%06lld",
	    (long long)(since_us / 1000000), (long long)(since_us % 1000000),
	    (long long)(until_us / 1000000), (long long)(until_us % 1000000));
	call = call_container(d, OP_LOGS, "GET", id, rest, cb, arg);
	free(rest);
	return call;
}

struct docker_call *
docker_kill(struct docker *d, const char *id, const char *signal, docker_cb cb,
    void *arg)
{
	return call_container_query(d, OP_KILL, id,
	    "/kill?signal=", signal != NULL ? signal : "SIGKILL", cb, arg);
}

struct docker_call *
docker_remove(struct docker *d, const char *id, docker_cb cb, void *arg)
{
	return call_container(d, OP_REMOVE, "DELETE", id, "?force=1", cb, arg);
}

struct docker_call *
docker_inspect(struct docker *d, const char *id, docker_cb cb, void *arg)
{
	return call_container(d, OP_INSPECT, "GET", id, "/json", cb, arg);
}

struct docker_call *
docker_update(struct docker *d, const char *id, int64_t memory,
    int64_t nano_cpus, int64_t pids, docker_cb cb, void *arg)
{
	struct docker_call *call;
	yajl_gen g = gen_new();

	yajl_gen_map_open(g);
	if (memory > 0) {
		gen_kint(g, "Memory", memory);
		gen_kint(g, "MemorySwap", memory);
	}
	if (nano_cpus > 0)
		gen_kint(g, "NanoCpus", nano_cpus);
	if (pids > 0)
		gen_kint(g, "PidsLimit", pids);
	yajl_gen_map_close(g);
	call = call_container_new(d, OP_UPDATE, "POST", id, "/update", cb, arg);
	call->body = gen_finish(g, &call->bodylen);
	return call_container_submit(call, id);
}

struct docker_call *
docker_image(struct docker *d, const char *name, docker_cb cb, void *arg)
{
	struct docker_call *call;
	char *esc;

	esc = docker_escape(name);
	call = call_new(d, OP_IMAGE, "GET", cb, arg, "/images/%s/json", esc);
	free(esc);
	return call_submit(call);
}

struct docker_call *
docker_image_export(
    struct docker *d, const char *name, int fd, docker_cb cb, void *arg)
{
	struct docker_call *call;
	char *esc;

	esc = docker_escape(name);
	call = call_new(d, OP_EXPORT, "GET", cb, arg, "/images/%s/get", esc);
	free(esc);
	call->sink_fd = fd;
	return call_submit(call);
}

struct docker_call *
docker_image_load(struct docker *d, int fd, size_t len, docker_cb cb, void *arg)
{
	struct docker_call *call;

	call = call_new(d, OP_LOAD, "POST", cb, arg, "/images/load?quiet=1");
	call->ctype = "application/x-tar";
	call->body_fd = fd;
	call->bodylen = len;
	return call_submit(call);
}

struct docker_call *
docker_list(struct docker *d, const char *label, docker_cb cb, void *arg)
{
	struct docker_call *call;
	char *filters;

	filters = docker_filters(label, 0);
	call = call_new(d, OP_LIST, "GET", cb, arg,
	    "/containers/json?all=1&filters=%s", filters);
	free(filters);
	return call_submit(call);
}

struct docker_call *
docker_events(struct docker *d, const char *label, docker_event_cb evcb,
    docker_cb done, void *arg)
{
	struct docker_call *call;
	char *filters;

	filters = docker_filters(label, 1);
	call = call_new(
	    d, OP_EVENTS, "GET", done, arg, "/events?filters=%s", filters);
	call->evcb = evcb;
	free(filters);
	return call_submit(call);
}

struct docker_kill_wait {
	struct event_base *base;
	int status;
	char *msg;
	size_t len;
};

static void
docker_kill_now_cb(struct docker_result *r, void *arg)
{
	struct docker_kill_wait *k = arg;

	k->status = r->status;
	snprintf(k->msg, k->len, "%s", r->message != NULL ? r->message : "");
	event_base_loopbreak(k->base);
}

int
docker_kill_now(const struct config *c, const char *id, char *msg, size_t len)
{
	struct docker_kill_wait k = {.msg = msg, .len = len};
	struct docker *d;
	char name[64];
	int64_t i;

	msg[0] = '\0';
	if ((k.base = event_base_new()) == NULL)
		fatalx("event_base_new");
	snprintf(name, sizeof(name), "alia-%s", id);
	/* Whichever engine holds it: the others know no such container. */
	for (i = 0; i < c->nengines; i++) {
		d = docker_new_engine(k.base, c, &c->engine[i]);
		docker_kill(d, name, "SIGKILL", docker_kill_now_cb, &k);
		event_base_dispatch(k.base);
		docker_free(d);
		if (k.status != 404)
			break;
	}
	event_base_free(k.base);
	return k.status;
}
