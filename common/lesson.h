/* SPDX-License-Identifier: ISC */
/*
 * A lesson: a markdown file NAME.md of lessons_dir. Front matter between
 * two lines "---" (title, environment, description); text before the
 * first "## " heading is the introduction; each "## " heading starts a
 * step. A fenced block whose info string's first word is "check" is the
 * step's check, a shell snippet master runs in the learner's container;
 * it is taken out of the markdown the browser gets. Front serves lessons,
 * master reads a step's check; both parse the file the same way here.
 */
#ifndef ALIA_LESSON_H
#define ALIA_LESSON_H

#include <stddef.h>

#define LESSON_NAME_LEN  64 /* [a-z0-9][a-z0-9_-]*, with the NUL */
#define LESSON_FILE_MAX  (256 * 1024)
#define LESSON_STEPS_MAX 64
#define LESSON_CHECK_MAX 4096
#define LESSON_TITLE_LEN 256
#define LESSON_DESC_LEN  1024
#define LESSON_ENV_LEN   32

struct lesson_step {
	char title[LESSON_TITLE_LEN];
	char *markdown; /* the step's text, its check block taken out */
	char *check;    /* NULL: the step has no check */
};

struct lesson {
	char name[LESSON_NAME_LEN];
	char title[LESSON_TITLE_LEN];
	char environment[LESSON_ENV_LEN]; /* empty: the default */
	char description[LESSON_DESC_LEN];
	char *intro;
	struct lesson_step step[LESSON_STEPS_MAX];
	int nsteps;
};

/* Whether name may name a lesson (and so a file of lessons_dir). */
int lesson_name_ok(const char *name);
/*
 * Parses len bytes of text as lesson name into l; -1 with err set when
 * it is not a lesson (a NUL byte, too many steps, two checks in a step,
 * a check too long, an unclosed front matter or check block).
 */
int lesson_parse(struct lesson *l, const char *name, const char *text,
    size_t len, char *err, size_t errlen);
/*
 * Reads and parses name.md below the directory dirfd (no symbolic link
 * followed, at most LESSON_FILE_MAX bytes); -1 with err set, and errno
 * ENOENT when there is no such lesson.
 */
int lesson_load(
    struct lesson *l, int dirfd, const char *name, char *err, size_t errlen);
void lesson_free(struct lesson *l);

#endif
