/* SPDX-License-Identifier: ISC */
/*
 * front: the role that faces the network. It receives the configuration
 * and the listening socket from master, drops to the unprivileged user,
 * and serves HTTP (front_http.c). It exits when master says so, when
 * master's channel closes, or on SIGTERM.
 */
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>
#include <openssl/err.h>
#include <openssl/ssl.h>

#include "common/config.h"
#include "common/log.h"
#include "common/msg.h"
#include "common/proc.h"
#include "common/proxy.h"
#include "common/role.h"
#include "front/front.h"

#define FRONT_HEADER_TIMEOUT_MS 10000 /* a request's head must be in */
#define FRONT_IDLE_TIMEOUT_MS   60000 /* a keep-alive connection idles */
#define FRONT_MAX_CONNS         4096  /* browser connections at once */
#define FRONT_ERR_LEN           256

static struct {
	struct role role;
	struct config conf;
	int have_conf;
	int serving;
	SSL_CTX *tls; /* tls_cert set */
	struct proxy_trust trust;
} f;

static void
front_shutdown(const char *why)
{
	log_debug("shutting down: %s", why);
	if (f.serving)
		front_http_stop();
	f.serving = 0;
	event_base_loopbreak(f.role.base);
}

/* An SSL_CTX for tls_cert and tls_key, or NULL (the reason logged). */
static SSL_CTX *
front_tls_ctx(void)
{
	unsigned long e;
	SSL_CTX *ctx;

	if ((ctx = SSL_CTX_new(TLS_server_method())) == NULL)
		goto fail;
	if (SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION) != 1 ||
	    SSL_CTX_use_certificate_chain_file(ctx, f.conf.tls_cert) != 1 ||
	    SSL_CTX_use_PrivateKey_file(
	        ctx, f.conf.tls_key, SSL_FILETYPE_PEM) != 1 ||
	    SSL_CTX_check_private_key(ctx) != 1)
		goto fail;
	SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION);
	log_info("TLS with %s", f.conf.tls_cert);
	return ctx;
fail:
	e = ERR_get_error();
	log_warnx("TLS: tls_cert %s, tls_key %s: %s", f.conf.tls_cert,
	    f.conf.tls_key, e != 0 ? ERR_reason_error_string(e) : "failed");
	SSL_CTX_free(ctx);
	return NULL;
}

static int
front_serve(int fd)
{
	struct front_http_conf hc;
	char err[FRONT_ERR_LEN];

	if (!f.have_conf) {
		log_warnx("listening socket before configuration");
		close(fd);
		return -1;
	}
	memset(&hc, 0, sizeof(hc));
	/* The key is read before privileges go: it may be root's alone. */
	if (f.conf.tls_cert[0] != '\0' &&
	    (hc.tls = f.tls = front_tls_ctx()) == NULL) {
		close(fd);
		return -1;
	}
	if (proc_drop_privileges(f.conf.user) == -1) {
		close(fd);
		return -1;
	}
	if (front_static_init(f.conf.web_dir) == -1) {
		close(fd);
		return -1;
	}
	front_lessons_init(&f.conf);
	hc.max_body = (size_t)f.conf.max_body;
	hc.header_timeout_ms = FRONT_HEADER_TIMEOUT_MS;
	hc.idle_timeout_ms = FRONT_IDLE_TIMEOUT_MS;
	hc.max_conns = FRONT_MAX_CONNS;
	hc.route = front_route_request;
	/* config_set checked the list; master's copy is the same */
	if (proxy_trust_parse(
	        &f.trust, f.conf.trusted_proxies, err, sizeof(err)) == -1)
		fatalx("trusted_proxies: %s", err);
	if (f.trust.n > 0) {
		hc.trust = &f.trust;
		log_info("X-Forwarded-For and -Proto are believed from %s",
		    f.conf.trusted_proxies);
	}
	front_master_init(f.role.chan);
	front_db_init(f.role.base, &f.conf);
	front_auth_init(f.role.base, &f.conf);
	if (front_http_start(f.role.base, fd, &hc) == -1)
		return -1;
	f.serving = 1;
	return role_ready(&f.role, "front");
}

/* A message from master for this role; 0: not one it takes. */
static int
front_msg(struct msg *msg)
{
	struct msg_listen_fd l;
	int fd;

	switch (msg->hdr.type) {
	case MSG_CONFIG:
		/* Privileges go once the listener is in (front_serve). */
		role_config(msg, &f.conf, &f.have_conf, 0);
		return 1;
	case MSG_LISTEN_FD:
		if (f.serving || msg_get_listen_fd(msg, &l, &fd) == -1) {
			log_warnx("second or bad listening socket refused");
			return 1;
		}
		if (front_serve(fd) == -1)
			fatalx("cannot serve");
		return 1;
	case MSG_SESSION_INFO:
	case MSG_METRICS:
	case MSG_CHECK_RESULT:
		front_master_msg(msg);
		return 1;
	case MSG_SIGNOUT:
		front_auth_signout(msg);
		return 1;
	default:
		return 0;
	}
}

int
front_main(int verbose)
{
	role_start(&f.role, "front", verbose, front_msg, front_shutdown);
	role_run(&f.role);
	front_auth_free();
	front_db_free();
	front_static_free();
	front_lessons_free();
	role_free(&f.role);
	SSL_CTX_free(f.tls);
	return 0;
}
