/* SPDX-License-Identifier: ISC */
/*
 * Lessons parsed line by line: the front matter, then headings and fenced
 * blocks, the only markdown the server needs to know. The rest is the
 * browser's to render (marked, then DOMPurify).
 */
#include <sys/stat.h>

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/lesson.h"
#include "common/xmalloc.h"

/* A growing string. */
struct text {
	char *s;
	size_t len, cap;
};

static void
text_add(struct text *t, const char *p, size_t n)
{
	size_t cap;

	if (t->len + n + 1 > t->cap) {
		cap = t->cap == 0 ? 256 : t->cap;
		while (cap < t->len + n + 1)
			cap *= 2;
		t->s = xreallocarray(t->s, cap, 1);
		t->cap = cap;
	}
	memcpy(t->s + t->len, p, n);
	t->len += n;
	t->s[t->len] = '\0';
}

/* The string, "" when nothing was added; the caller frees it. */
static char *
text_take(struct text *t)
{
	char *s = t->s != NULL ? t->s : xstrdup("");

	memset(t, 0, sizeof(*t));
	return s;
}

static int lesson_err(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int
lesson_err(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	return -1;
}

int
lesson_name_ok(const char *name)
{
	size_t i, n = strlen(name);

	if (n == 0 || n >= LESSON_NAME_LEN ||
	    (!islower((unsigned char)name[0]) &&
	        !isdigit((unsigned char)name[0])))
		return 0;
	for (i = 1; i < n; i++)
		if (!islower((unsigned char)name[i]) &&
		    !isdigit((unsigned char)name[i]) && name[i] != '-' &&
		    name[i] != '_')
			return 0;
	return 1;
}

/* Copies n bytes of p, blanks trimmed at both ends, into dst. */
static void
copy_trimmed(char *dst, size_t size, const char *p, size_t n)
{
	while (n > 0 && isspace((unsigned char)*p)) {
		p++;
		n--;
	}
	while (n > 0 && isspace((unsigned char)p[n - 1]))
		n--;
	if (n >= 2 && (p[0] == '"' || p[0] == '\'') && p[n - 1] == p[0]) {
		p++;
		n -= 2;
	}
	if (n >= size)
		n = size - 1;
	memcpy(dst, p, n);
	dst[n] = '\0';
}

/* Whether the line (without its newline) is s, blanks after allowed. */
static int
line_is(const char *p, size_t n, const char *s)
{
	size_t k = strlen(s);

	if (n < k || memcmp(p, s, k) != 0)
		return 0;
	for (; k < n; k++)
		if (p[k] != ' ' && p[k] != '\t' && p[k] != '\r' && p[k] != '\n')
			return 0;
	return 1;
}

/*
 * A fence's opening or closing line: up to three spaces, then three or
 * more ` or ~; *ch and *len say which and how many, *info where the info
 * string starts. 0 when the line is no fence.
 */
static int
line_fence(const char *p, size_t n, char *ch, size_t *len, size_t *info)
{
	size_t i = 0, k;

	while (i < n && i < 3 && p[i] == ' ')
		i++;
	if (i >= n || (p[i] != '`' && p[i] != '~'))
		return 0;
	for (k = i; k < n && p[k] == p[i]; k++)
		;
	if (k - i < 3)
		return 0;
	*ch = p[i];
	*len = k - i;
	*info = k;
	return 1;
}

/* Whether the info string (p, n) starts with the word w. */
static int
info_first_word(const char *p, size_t n, const char *w)
{
	size_t k = strlen(w);

	while (n > 0 && (*p == ' ' || *p == '\t')) {
		p++;
		n--;
	}
	return n >= k && memcmp(p, w, k) == 0 &&
	    (n == k || isspace((unsigned char)p[k]) || p[k] == '{');
}

/* The front matter's key: value lines, from p up to the closing ---. */
static void
front_matter_line(struct lesson *l, const char *p, size_t n)
{
	static const struct {
		const char *key;
		size_t off, size;
	} keys[] = {
	    {"title", offsetof(struct lesson, title), LESSON_TITLE_LEN},
	    {"environment", offsetof(struct lesson, environment),
	        LESSON_ENV_LEN},
	    {"description", offsetof(struct lesson, description),
	        LESSON_DESC_LEN},
	};
	const char *colon;
	size_t i, k;

	if ((colon = memchr(p, ':', n)) == NULL)
		return;
	k = (size_t)(colon - p);
	for (i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
		if (strlen(keys[i].key) == k && memcmp(p, keys[i].key, k) == 0)
			copy_trimmed((char *)l + keys[i].off, keys[i].size,
			    colon + 1, n - k - 1);
}

int
lesson_parse(struct lesson *l, const char *name, const char *text, size_t len,
    char *err, size_t errlen)
{
	struct text md = {0}, check = {0};
	const char *p = text, *end = text + len, *nl;
	size_t n, flen = 0, olen = 0, info;
	char fch = 0, ch;
	int in_fence = 0, in_check = 0, step = -1, front = 0, lineno = 0;
	int has_check = 0;

	memset(l, 0, sizeof(*l));
	if (len > LESSON_FILE_MAX)
		return lesson_err(
		    err, errlen, "longer than %d bytes", LESSON_FILE_MAX);
	if (memchr(text, '\0', len) != NULL)
		return lesson_err(err, errlen, "a NUL byte in the text");
	snprintf(l->name, sizeof(l->name), "%s", name);
	for (; p < end; p = nl) {
		nl = memchr(p, '\n', (size_t)(end - p));
		nl = nl != NULL ? nl + 1 : end;
		n = (size_t)(nl - p);
		lineno++;
		if (lineno == 1 && line_is(p, n - (p[n - 1] == '\n'), "---")) {
			front = 1;
			continue;
		}
		if (front) {
			if (line_is(p, n - (p[n - 1] == '\n'), "---"))
				front = 0;
			else
				front_matter_line(l, p, n - (p[n - 1] == '\n'));
			continue;
		}
		if (in_fence) {
			if (line_fence(p, n, &ch, &flen, &info) && ch == fch &&
			    flen >= olen && line_is(p + info, n - info, "")) {
				in_fence = 0;
				if (in_check) {
					in_check = 0;
					l->step[step].check = text_take(&check);
					continue;
				}
			} else if (in_check) {
				if (check.len + n > LESSON_CHECK_MAX) {
					free(check.s);
					free(md.s);
					lesson_free(l);
					return lesson_err(err, errlen,
					    "line %d: a check longer than %d "
					    "bytes",
					    lineno, LESSON_CHECK_MAX);
				}
				text_add(&check, p, n);
				continue;
			}
			text_add(&md, p, n);
			continue;
		}
		if (line_fence(p, n, &fch, &olen, &info)) {
			in_fence = 1;
			if (info_first_word(p + info, n - info, "check")) {
				if (step < 0 || has_check) {
					free(md.s);
					lesson_free(l);
					return lesson_err(err, errlen,
					    "line %d: %s", lineno,
					    step < 0 ? "a check before the "
					               "first step"
					             : "a second check in one "
					               "step");
				}
				in_check = has_check = 1;
				continue;
			}
			text_add(&md, p, n);
			continue;
		}
		if (n >= 3 && memcmp(p, "## ", 3) == 0) {
			if (step + 1 == LESSON_STEPS_MAX) {
				free(md.s);
				lesson_free(l);
				return lesson_err(err, errlen,
				    "more than %d steps", LESSON_STEPS_MAX);
			}
			if (step < 0)
				l->intro = text_take(&md);
			else
				l->step[step].markdown = text_take(&md);
			step++;
			l->nsteps = step + 1;
			has_check = 0;
			copy_trimmed(l->step[step].title,
			    sizeof(l->step[step].title), p + 3, n - 3);
			continue;
		}
		text_add(&md, p, n);
	}
	if (front || in_check) {
		free(md.s);
		free(check.s);
		lesson_free(l);
		return lesson_err(err, errlen, "%s is not closed",
		    front ? "the front matter" : "a check block");
	}
	if (step < 0)
		l->intro = text_take(&md);
	else
		l->step[step].markdown = text_take(&md);
	if (l->title[0] == '\0')
		snprintf(l->title, sizeof(l->title), "%s", name);
	return 0;
}

int
lesson_load(
    struct lesson *l, int dirfd, const char *name, char *err, size_t errlen)
{
	char path[LESSON_NAME_LEN + 4], *buf;
	struct stat st;
	ssize_t r;
	size_t have = 0;
	int fd, rc, saved;

	memset(l, 0, sizeof(*l));
	if (!lesson_name_ok(name)) {
		errno = ENOENT;
		return lesson_err(err, errlen, "not a lesson name");
	}
	snprintf(path, sizeof(path), "%s.md", name);
	if ((fd = openat(dirfd, path,
	         O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK)) == -1) {
		saved = errno == ELOOP ? ENOENT : errno;
		lesson_err(err, errlen, "%s: %s", path, strerror(errno));
		errno = saved;
		return -1;
	}
	if (fstat(fd, &st) == -1 || !S_ISREG(st.st_mode)) {
		close(fd);
		errno = ENOENT;
		return lesson_err(err, errlen, "%s: not a file", path);
	}
	if (st.st_size > LESSON_FILE_MAX) {
		close(fd);
		errno = EFBIG;
		return lesson_err(err, errlen, "%s: longer than %d bytes", path,
		    LESSON_FILE_MAX);
	}
	buf = xmalloc(LESSON_FILE_MAX + 1);
	while ((r = read(fd, buf + have, LESSON_FILE_MAX + 1 - have)) > 0)
		have += (size_t)r;
	saved = errno;
	close(fd);
	if (r == -1) {
		free(buf);
		errno = saved;
		return lesson_err(err, errlen, "%s: %s", path, strerror(saved));
	}
	rc = lesson_parse(l, name, buf, have, err, errlen);
	free(buf);
	if (rc == -1)
		errno = EINVAL;
	return rc;
}

void
lesson_free(struct lesson *l)
{
	int i;

	free(l->intro);
	l->intro = NULL;
	for (i = 0; i < LESSON_STEPS_MAX; i++) {
		free(l->step[i].markdown);
		free(l->step[i].check);
		l->step[i].markdown = l->step[i].check = NULL;
	}
	l->nsteps = 0;
}
