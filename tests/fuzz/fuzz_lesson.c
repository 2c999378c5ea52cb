/* SPDX-License-Identifier: ISC */
/*
 * libFuzzer harness for the lesson reader (common/lesson.c): front and
 * master parse every lesson file of lessons_dir, text an instructor or a
 * course author wrote, trusted less than code. Whatever the bytes, the
 * parse must end in a lesson or a one-line reason, and a lesson must keep
 * its bounds: at most LESSON_STEPS_MAX steps, each check at most
 * LESSON_CHECK_MAX bytes, every string terminated, and no more markdown
 * than the input had (a check block is taken out, nothing is added).
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/lesson.h"

int LLVMFuzzerTestOneInput(const uint8_t *, size_t);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
	struct lesson l;
	char err[256];
	size_t total = 0;
	int i;

	err[0] = '\0';
	if (lesson_parse(
	        &l, "fuzz", (const char *)data, len, err, sizeof(err)) == -1) {
		if (err[0] == '\0' || memchr(err, '\n', strlen(err)) != NULL)
			abort();
		return 0;
	}
	if (l.nsteps < 0 || l.nsteps > LESSON_STEPS_MAX || l.intro == NULL)
		abort();
	if (strlen(l.title) >= sizeof(l.title) ||
	    strlen(l.environment) >= sizeof(l.environment) ||
	    strlen(l.description) >= sizeof(l.description))
		abort();
	total += strlen(l.intro);
	for (i = 0; i < l.nsteps; i++) {
		if (l.step[i].markdown == NULL)
			abort();
		total += strlen(l.step[i].markdown);
		if (l.step[i].check != NULL) {
			if (strlen(l.step[i].check) > LESSON_CHECK_MAX)
				abort();
			total += strlen(l.step[i].check);
		}
	}
	if (total > len)
		abort();
	lesson_free(&l);
	return 0;
}
