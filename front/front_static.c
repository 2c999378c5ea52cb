/* SPDX-License-Identifier: ISC */
/*
 * The pages: files of the web directory, /healthz, and the app's pages
 * under their own paths (/play/ID, /sessions, /wall).
 *
 * Static files are served the way browsers cache best. The build (web/
 * build.sh) names scripts and style sheets by their content hash
 * (app.0123456789ab.js): those are sent with a year's immutable
 * Cache-Control, everything else (the pages) with no-cache, so that it is
 * revalidated. Every file has an ETag made of its size and modification
 * time and a Last-Modified; If-None-Match (or, without it,
 * If-Modified-Since) that still holds gets 304. Beside a text file the
 * build leaves FILE.gz; it is sent with Content-Encoding: gzip to a client
 * whose Accept-Encoding allows gzip, with its own ETag, and every answer
 * for such a file says Vary: Accept-Encoding. A path is opened one
 * component at a time below the directory, so nothing outside it can be
 * reached.
 */
#include <sys/types.h>
#include <sys/stat.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/http.h"
#include "common/log.h"
#include "common/xmalloc.h"
#include "front/front.h"

#define STATIC_TEXT      "text/plain; charset=utf-8"
#define STATIC_IMMUTABLE "public, max-age=31536000, immutable"
#define STATIC_METHODS   "GET, HEAD"
#define STATIC_HASH_LEN  12 /* hex digits of a hashed name (build.sh) */
#define STATIC_ETAG_LEN  80
#define STATIC_DATE_LEN  40
#define STATIC_HTML_HEADERS                                          \
	"Content-Security-Policy: default-src 'self'; "              \
	"script-src 'self' 'wasm-unsafe-eval'; "                     \
	"connect-src 'self' ws: wss:; img-src 'self' data:; "        \
	"style-src 'self' 'unsafe-inline'; frame-ancestors 'none'; " \
	"base-uri 'none'; form-action 'self'\r\n"

static struct {
	int webfd; /* the web directory */
} fs = {.webfd = -1};

static const struct {
	const char *ext;
	const char *type;
} content_types[] = {
    {"html", "text/html; charset=utf-8"},
    {"js", "text/javascript; charset=utf-8"},
    {"mjs", "text/javascript; charset=utf-8"},
    {"css", "text/css; charset=utf-8"},
    {"json", "application/json"},
    {"map", "application/json"},
    {"svg", "image/svg+xml"},
    {"png", "image/png"},
    {"ico", "image/x-icon"},
    {"woff2", "font/woff2"},
    {"txt", STATIC_TEXT},
};

void
front_static_healthz(struct conn *c, const struct http_request *req,
    const struct route_call *call)
{
	front_http_respond(
	    c, 200, STATIC_TEXT, "ok\n", 3, "Cache-Control: no-store\r\n");
}

static const char *
static_content_type(const char *name)
{
	const char *dot;
	size_t i;

	if ((dot = strrchr(name, '.')) == NULL)
		return "application/octet-stream";
	for (i = 0; i < sizeof(content_types) / sizeof(content_types[0]); i++) {
		if (strcasecmp(dot + 1, content_types[i].ext) == 0)
			return content_types[i].type;
	}
	return "application/octet-stream";
}

/* A file of web_dir opened for an answer, with its gzip copy if any. */
struct static_file {
	int fd;
	struct stat st;
	int gzfd; /* FILE.gz beside it, no older than it; or -1 */
	struct stat gzst;
	const char *ctype;
	int hashed; /* named by content hash: never changes */
};

/* Whether name is NAME.HASH.EXT with HASH STATIC_HASH_LEN hex digits. */
static int
static_hashed(const char *name)
{
	const char *ext, *h;
	size_t i;

	if ((ext = strrchr(name, '.')) == NULL ||
	    (size_t)(ext - name) < STATIC_HASH_LEN + 2)
		return 0;
	h = ext - STATIC_HASH_LEN;
	if (h[-1] != '.')
		return 0;
	for (i = 0; i < STATIC_HASH_LEN; i++) {
		if (!((h[i] >= '0' && h[i] <= '9') ||
		        (h[i] >= 'a' && h[i] <= 'f')))
			return 0;
	}
	return 1;
}

static void
static_close(struct static_file *f)
{
	if (f->fd != -1)
		close(f->fd);
	if (f->gzfd != -1)
		close(f->gzfd);
	f->fd = f->gzfd = -1;
}

/*
 * Opens path below web_dir one component at a time, following no symbolic
 * link and no dot file, so nothing outside web_dir can be reached. A
 * directory stands for its index.html. Fills f with the open regular
 * file, and its .gz if there is one that is not older; 0 or -1.
 */
static int
static_open(const char *path, struct static_file *f)
{
	char *copy, *seg, *next, *gz = NULL;
	const char *last = "index.html";
	int dir = fs.webfd, fd = -1;
	const int flags = O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK;

	f->fd = f->gzfd = -1;
	copy = xstrdup(path);
	for (seg = copy; seg != NULL; seg = next) {
		if ((next = strchr(seg, '/')) != NULL)
			*next++ = '\0';
		if (*seg == '\0')
			continue;
		if (*seg == '.')
			goto fail;
		if ((fd = openat(dir, seg, flags)) == -1 ||
		    fstat(fd, &f->st) == -1)
			goto fail;
		last = seg;
		if (!S_ISDIR(f->st.st_mode)) {
			if (next != NULL && next[strspn(next, "/")] != '\0')
				goto fail;
			break;
		}
		if (dir != fs.webfd)
			close(dir);
		dir = fd;
		fd = -1;
	}
	if (fd == -1) {
		last = "index.html";
		if ((fd = openat(dir, last, flags)) == -1 ||
		    fstat(fd, &f->st) == -1)
			goto fail;
	}
	if (!S_ISREG(f->st.st_mode))
		goto fail;
	xasprintf(&gz, "%s.gz", last);
	if ((f->gzfd = openat(dir, gz, flags)) != -1 &&
	    (fstat(f->gzfd, &f->gzst) == -1 || !S_ISREG(f->gzst.st_mode) ||
	        f->gzst.st_mtim.tv_sec < f->st.st_mtim.tv_sec ||
	        (f->gzst.st_mtim.tv_sec == f->st.st_mtim.tv_sec &&
	            f->gzst.st_mtim.tv_nsec < f->st.st_mtim.tv_nsec))) {
		close(f->gzfd);
		f->gzfd = -1;
	}
	free(gz);
	f->fd = fd;
	f->ctype = static_content_type(last);
	f->hashed = static_hashed(last);
	if (dir != fs.webfd)
		close(dir);
	free(copy);
	return 0;

fail:
	if (fd != -1)
		close(fd);
	if (dir != fs.webfd)
		close(dir);
	free(copy);
	return -1;
}

/* Whether the request's validators say the client's copy is current. */
static int
static_fresh(const struct http_request *req, const char *etag, time_t mtime)
{
	const char *inm = http_header_get(req, "If-None-Match");
	time_t since;

	if (inm != NULL)
		return http_etag_match(inm, etag);
	return http_date_parse(
	           http_header_get(req, "If-Modified-Since"), &since) == 0 &&
	    mtime <= since;
}

/* The answer for an open file f: the file, or 304 when still fresh. */
static void
static_answer(
    struct conn *c, const struct http_request *req, struct static_file *f)
{
	struct stat *st;
	char etag[STATIC_ETAG_LEN], date[STATIC_DATE_LEN], *extra;
	int gzip, fd, status;

	gzip = f->gzfd != -1 &&
	    http_accepts(http_header_get(req, "Accept-Encoding"), "gzip");
	/* The identity file's size and time name both representations. */
	snprintf(etag, sizeof(etag), "\"%jx-%jx.%lx%s\"",
	    (uintmax_t)f->st.st_size, (uintmax_t)f->st.st_mtim.tv_sec,
	    (long)f->st.st_mtim.tv_nsec, gzip ? "-gz" : "");
	http_date(date, sizeof(date), f->st.st_mtim.tv_sec);
	xasprintf(&extra,
	    "Cache-Control: %s\r\nETag: %s\r\nLast-Modified: %s\r\n%s%s%s",
	    f->hashed ? STATIC_IMMUTABLE : "no-cache", etag, date,
	    f->gzfd != -1 ? "Vary: Accept-Encoding\r\n" : "",
	    gzip ? "Content-Encoding: gzip\r\n" : "",
	    strncmp(f->ctype, "text/html", 9) == 0 ? STATIC_HTML_HEADERS : "");
	status = static_fresh(req, etag, f->st.st_mtim.tv_sec) ? 304 : 200;
	fd = gzip ? f->gzfd : f->fd;
	st = gzip ? &f->gzst : &f->st;
	log_debug("%s: %s %s %s -> %d%s", __func__, front_http_peer(c),
	    req->method, req->target, status, gzip ? " gzip" : "");
	front_http_respond_file(c, req, status, f->ctype, fd,
	    status == 304 ? 0 : st->st_size, extra);
	free(extra);
}

/* A file of web_dir, or the index.html of a directory. */
void
front_static_file(struct conn *c, const struct http_request *req,
    const struct route_call *call)
{
	struct static_file f;

	/* A file that is not there is 404 whatever the method. */
	if (static_open(req->path, &f) == -1) {
		front_http_error(c, req, 404, "not found", NULL);
		return;
	}
	if (strcmp(req->method, "GET") != 0 && strcmp(req->method, "HEAD") != 0)
		front_http_error(c, req, 405, "method not allowed",
		    "Allow: " STATIC_METHODS "\r\n");
	else
		static_answer(c, req, &f);
	static_close(&f);
}

void
front_static_page(struct conn *c, const struct http_request *req,
    const struct route_call *call)
{
	static char play[] = "play.html", list[] = "sessions.html",
	            wall[] = "wall.html", learn[] = "lesson.html",
	            progress[] = "progress.html";
	struct http_request page = *req;

	page.path = strncmp(req->path, "/play/", 6) == 0 ? play
	    : strncmp(req->path, "/learn/", 7) == 0      ? learn
	    : strncmp(req->path, "/progress/", 10) == 0  ? progress
	    : strcmp(req->path, "/wall") == 0            ? wall
	                                                 : list;
	front_static_file(c, &page, call);
}

int
front_static_init(const char *web_dir)
{
	fs.webfd = open(web_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fs.webfd == -1) {
		log_warn("%s: web directory %s", __func__, web_dir);
		return -1;
	}
	return 0;
}

void
front_static_free(void)
{
	if (fs.webfd != -1)
		close(fs.webfd);
	fs.webfd = -1;
}
