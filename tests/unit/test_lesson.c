/* SPDX-License-Identifier: ISC */
/*
 * Lessons: the front matter, steps at "## ", the check block taken out of
 * the markdown, fences that hide headings, and every refusal.
 */
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "tests/unit/unit.h"

#include "common/lesson.h"

static const char good[] = "---\n"
                           "title: First steps\n"
                           "environment: debian\n"
                           "description: \"Files and folders\"\n"
                           "other: ignored\n"
                           "---\n"
                           "Welcome.\n"
                           "\n"
                           "## Make a file\n"
                           "Create it.\n"
                           "```sh run\n"
                           "printf 'hello\\n' > ~/hello.txt\n"
                           "```\n"
                           "```check\n"
                           "grep -qx hello ~/hello.txt\n"
                           "```\n"
                           "After.\n"
                           "## Look  \n"
                           "````markdown\n"
                           "## not a step\n"
                           "```check\n"
                           "not a check either\n"
                           "```\n"
                           "````\n"
                           "~~~ check\n"
                           "ls ~\n"
                           "~~~\n";

static void
test_parse(void **state)
{
	struct lesson l;
	char err[256];

	assert_int_equal(
	    lesson_parse(&l, "first", good, strlen(good), err, sizeof(err)), 0);
	assert_string_equal(l.name, "first");
	assert_string_equal(l.title, "First steps");
	assert_string_equal(l.environment, "debian");
	assert_string_equal(l.description, "Files and folders");
	assert_string_equal(l.intro, "Welcome.\n\n");
	assert_int_equal(l.nsteps, 2);
	assert_string_equal(l.step[0].title, "Make a file");
	assert_string_equal(l.step[0].markdown,
	    "Create it.\n```sh run\nprintf 'hello\\n' > ~/hello.txt\n```\n"
	    "After.\n");
	assert_string_equal(l.step[0].check, "grep -qx hello ~/hello.txt\n");
	assert_string_equal(l.step[1].title, "Look");
	assert_non_null(strstr(l.step[1].markdown, "## not a step"));
	assert_non_null(strstr(l.step[1].markdown, "not a check either"));
	assert_string_equal(l.step[1].check, "ls ~\n");
	lesson_free(&l);
}

static void
test_plain(void **state)
{
	static const char text[] = "no front matter\n## one\ntext";
	struct lesson l;
	char err[256];

	assert_int_equal(
	    lesson_parse(&l, "plain", text, strlen(text), err, sizeof(err)), 0);
	assert_string_equal(l.title, "plain"); /* the name, without one */
	assert_string_equal(l.environment, "");
	assert_int_equal(l.nsteps, 1);
	assert_string_equal(l.step[0].markdown, "text");
	assert_null(l.step[0].check);
	lesson_free(&l);
}

static void
test_refused(void **state)
{
	static const struct {
		const char *text;
		const char *why;
	} bad[] = {
	    {"---\ntitle: x\n", "front matter"},
	    {"```check\ntrue\n```\n## a\n", "before the first step"},
	    {"## a\n```check\ntrue\n```\n```check\ntrue\n```\n", "second"},
	    {"## a\n```check\ntrue\n", "not closed"},
	};
	struct lesson l;
	char err[256], *big;
	size_t i, n;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(lesson_parse(&l, "x", bad[i].text,
		                     strlen(bad[i].text), err, sizeof(err)),
		    -1);
		assert_non_null(strstr(err, bad[i].why));
	}
	assert_int_equal(
	    lesson_parse(&l, "x", "a\0b", 3, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "NUL"));
	/* 65 steps */
	big = malloc(65 * 8 + 1);
	for (i = 0, n = 0; i < 65; i++)
		n += (size_t)sprintf(big + n, "## s%03zu\n", i);
	assert_int_equal(lesson_parse(&l, "x", big, n, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "more than 64 steps"));
	free(big);
	/* a check of 4 KiB and a byte */
	big = malloc(LESSON_CHECK_MAX + 64);
	n = (size_t)sprintf(big, "## a\n```check\n");
	memset(big + n, 'x', LESSON_CHECK_MAX);
	n += LESSON_CHECK_MAX;
	n += (size_t)sprintf(big + n, "\n```\n");
	assert_int_equal(lesson_parse(&l, "x", big, n, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "check longer"));
	free(big);
}

static void
test_names(void **state)
{
	char long_name[LESSON_NAME_LEN + 1];

	assert_true(lesson_name_ok("first-steps"));
	assert_true(lesson_name_ok("2nd_lesson"));
	assert_false(lesson_name_ok(""));
	assert_false(lesson_name_ok("../etc/passwd"));
	assert_false(lesson_name_ok(".hidden"));
	assert_false(lesson_name_ok("Upper"));
	assert_false(lesson_name_ok("a.md"));
	memset(long_name, 'a', LESSON_NAME_LEN);
	long_name[LESSON_NAME_LEN] = '\0';
	assert_false(lesson_name_ok(long_name));
	long_name[LESSON_NAME_LEN - 1] = '\0';
	assert_true(lesson_name_ok(long_name));
}

static void
test_load(void **state)
{
	char dir[] = "/tmp/alia-lesson.XXXXXX", path[128], err[256];
	struct lesson l;
	int dfd, fd;

	assert_non_null(mkdtemp(dir));
	dfd = open(dir, O_RDONLY | O_DIRECTORY);
	assert_true(dfd >= 0);
	snprintf(path, sizeof(path), "%s/one.md", dir);
	fd = open(path, O_WRONLY | O_CREAT, 0644);
	assert_int_equal(write(fd, good, strlen(good)), (ssize_t)strlen(good));
	close(fd);
	snprintf(path, sizeof(path), "%s/link.md", dir);
	assert_int_equal(symlink("one.md", path), 0);
	assert_int_equal(lesson_load(&l, dfd, "one", err, sizeof(err)), 0);
	assert_int_equal(l.nsteps, 2);
	lesson_free(&l);
	/* no link followed, no name outside the rule, nothing missing */
	assert_int_equal(lesson_load(&l, dfd, "link", err, sizeof(err)), -1);
	assert_int_equal(lesson_load(&l, dfd, "../one", err, sizeof(err)), -1);
	assert_int_equal(lesson_load(&l, dfd, "none", err, sizeof(err)), -1);
	/* too long */
	snprintf(path, sizeof(path), "%s/big.md", dir);
	fd = open(path, O_WRONLY | O_CREAT, 0644);
	assert_int_equal(ftruncate(fd, LESSON_FILE_MAX + 1), 0);
	close(fd);
	assert_int_equal(lesson_load(&l, dfd, "big", err, sizeof(err)), -1);
	assert_non_null(strstr(err, "longer than"));
	unlinkat(dfd, "one.md", 0);
	unlinkat(dfd, "link.md", 0);
	unlinkat(dfd, "big.md", 0);
	close(dfd);
	rmdir(dir);
}

UNIT_MAIN(cmocka_unit_test(test_parse), cmocka_unit_test(test_plain),
    cmocka_unit_test(test_refused), cmocka_unit_test(test_names),
    cmocka_unit_test(test_load))
