/* SPDX-License-Identifier: ISC */
/*
 * The helpers alia-bench and alia-load share: medians and percentiles of
 * latency samples, creating and deleting a session over the JSON API, and
 * the raw side they measure alia against: a container created, attached
 * to and started on the Docker socket directly, hardened like alia's.
 */
#include <sys/types.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bench/common.h"
#include "tests/lib/wsclient.h"

static const char *docker_sock = "/var/run/docker.sock";
static const char *image = "alia-sandbox:latest";
static const char *node = "bench";

static int
common_cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

double
common_median(double *v, int n)
{
	qsort(v, (size_t)n, sizeof(*v), common_cmp_double);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

double
common_percentile(double *v, int n, double p)
{
	int i;

	qsort(v, (size_t)n, sizeof(*v), common_cmp_double);
	i = (int)(p * (n - 1) + 0.5);
	return v[i];
}

int
common_session_create(
    struct wsc_agent *a, char *id, size_t idlen, char *ws, size_t wslen)
{
	struct wsc_response r;
	int status;

	if (wsc_request(a, "POST", "/api/sessions", "{\"cols\":80,\"rows\":24}",
	        &r) == -1) {
		fprintf(stderr, "%s: POST /api/sessions: no answer\n",
		    program_invocation_short_name);
		wsc_response_free(&r);
		return -1;
	}
	status = r.status;
	if (status != 201 || wsc_json_get(r.body, "id", id, idlen) == -1 ||
	    wsc_json_get(r.body, "ws", ws, wslen) == -1) {
		fprintf(stderr, "%s: POST /api/sessions: %d %s\n",
		    program_invocation_short_name, r.status,
		    r.body != NULL ? r.body : "");
		if (status == 201)
			status = 0;
	}
	wsc_response_free(&r);
	return status;
}

int
common_session_delete(struct wsc_agent *a, const char *id)
{
	struct wsc_response r;
	char path[160];
	int status;

	snprintf(path, sizeof(path), "/api/sessions/%s", id);
	status = wsc_request(a, "DELETE", path, NULL, &r) == -1 ? -1 : r.status;
	wsc_response_free(&r);
	return status;
}

void
common_docker_env(void)
{
	const char *p;

	if ((p = getenv("DOCKER_HOST")) != NULL &&
	    strncmp(p, "unix://", 7) == 0)
		docker_sock = p + 7;
	if ((p = getenv("ALIA_IMAGE")) != NULL && *p != '\0')
		image = p;
	if ((p = getenv("ALIA_NODE")) != NULL && *p != '\0')
		node = p;
}

static int
common_docker_connect(void)
{
	struct sockaddr_un sun;
	int fd;

	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1)
		return -1;
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", docker_sock);
	if (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) == -1 ||
	    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK) == -1) {
		close(fd);
		return -1;
	}
	return fd;
}

/*
 * Sends one request to the Docker daemon on w (a fresh connection when
 * w->fd is -1) and reads the answer into r; the status, or -1.
 */
static int
common_docker_call(struct wsc *w, const char *method, const char *path,
    const char *body, const char *extra, struct wsc_response *r)
{
	char *req;
	size_t len, blen = body != NULL ? strlen(body) : 0;
	int fd;

	memset(r, 0, sizeof(*r));
	if (w->fd == -1) {
		if ((fd = common_docker_connect()) == -1) {
			perror(docker_sock);
			return -1;
		}
		wsc_init(w, fd);
	}
	len = 512 + strlen(path) + blen;
	if ((req = malloc(len)) == NULL)
		abort();
	snprintf(req, len,
	    "%s /v1.41%s HTTP/1.1\r\nHost: docker\r\n%s%s"
	    "Content-Length: %zu\r\n\r\n%s",
	    method, path,
	    body != NULL ? "Content-Type: application/json\r\n" : "",
	    extra != NULL ? extra : "", blen, body != NULL ? body : "");
	if (wsc_send_raw(w, req, strlen(req)) == -1 ||
	    wsc_read_response(w, r, 30000) == -1) {
		free(req);
		return -1;
	}
	free(req);
	return r->status;
}

int
common_raw_open(struct wsc *w, char *id, size_t idlen)
{
	struct wsc ctl;
	struct wsc_response r;
	char path[256], body[2048], name[64];
	unsigned int rnd;
	int status;

	id[0] = '\0';
	wsc_init(w, -1);
	wsc_init(&ctl, -1);
	if (getrandom(&rnd, sizeof(rnd), 0) != sizeof(rnd))
		abort();
	snprintf(name, sizeof(name), "alia-bench-%08x", rnd);
	snprintf(body, sizeof(body),
	    "{\"Image\":\"%s\",\"Cmd\":[\"/bin/sh\"],\"Tty\":true,"
	    "\"OpenStdin\":true,\"StdinOnce\":false,\"AttachStdin\":true,"
	    "\"AttachStdout\":true,\"AttachStderr\":true,"
	    "\"Env\":[\"TERM=xterm-256color\",\"HOME=/home/learner\"],"
	    "\"WorkingDir\":\"/home/learner\",\"User\":\"1000:1000\","
	    "\"Hostname\":\"alia\","
	    "\"Labels\":{\"io.alia.session\":\"%s\",\"io.alia.owner\":\"%s\"},"
	    "\"HostConfig\":{\"Memory\":268435456,\"MemorySwap\":268435456,"
	    "\"NanoCpus\":500000000,\"PidsLimit\":128,\"NetworkMode\":\"none\","
	    "\"ReadonlyRootfs\":true,"
	    "\"Tmpfs\":{\"/tmp\":\"rw,exec,nosuid,nodev,size=64m,mode=1777\","
	    "\"/home/learner\":\"rw,exec,nosuid,nodev,size=64m,uid=1000\"},"
	    "\"CapDrop\":[\"ALL\"],\"SecurityOpt\":[\"no-new-privileges\"],"
	    "\"AutoRemove\":false,\"Init\":true,"
	    "\"Ulimits\":[{\"Name\":\"nofile\",\"Soft\":1024,\"Hard\":1024}],"
	    "\"LogConfig\":{\"Type\":\"json-file\",\"Config\":"
	    "{\"max-size\":\"1m\",\"max-file\":\"1\"}}}}",
	    image, name, node);
	snprintf(path, sizeof(path), "/containers/create?name=%s", name);
	status = common_docker_call(&ctl, "POST", path, body, NULL, &r);
	if (status != 201 || wsc_json_get(r.body, "Id", id, idlen) == -1) {
		fprintf(stderr, "%s: create: %d %s\n",
		    program_invocation_short_name, status,
		    r.body ? r.body : "");
		goto fail;
	}
	wsc_response_free(&r);
	snprintf(path, sizeof(path),
	    "/containers/%s/attach?stream=1&stdin=1&stdout=1&stderr=1"
	    "&detachKeys=ctrl-%%5E,ctrl-%%5E",
	    id);
	status = common_docker_call(w, "POST", path, NULL,
	    "Connection: Upgrade\r\nUpgrade: tcp\r\n", &r);
	if (status != 101) {
		fprintf(stderr, "%s: attach: %d\n",
		    program_invocation_short_name, status);
		goto fail;
	}
	wsc_response_free(&r);
	snprintf(path, sizeof(path), "/containers/%s/start", id);
	status = common_docker_call(&ctl, "POST", path, NULL, NULL, &r);
	if (status != 204) {
		fprintf(stderr, "%s: start: %d\n",
		    program_invocation_short_name, status);
		goto fail;
	}
	wsc_response_free(&r);
	wsc_free(&ctl);
	return 0;
fail:
	wsc_response_free(&r);
	wsc_free(&ctl);
	return -1;
}

void
common_raw_remove(const char *id)
{
	struct wsc ctl;
	struct wsc_response r;
	char path[160];

	if (id[0] == '\0')
		return;
	wsc_init(&ctl, -1);
	snprintf(path, sizeof(path), "/containers/%s?force=1", id);
	common_docker_call(&ctl, "DELETE", path, NULL, NULL, &r);
	wsc_response_free(&r);
	wsc_free(&ctl);
}
