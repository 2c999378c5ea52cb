/* SPDX-License-Identifier: ISC */
/*
 * What every unit test shares: cmocka, with the headers it needs first,
 * and the one main that runs a file's tests as a group.
 */
#ifndef ALIA_TESTS_UNIT_H
#define ALIA_TESTS_UNIT_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

/* main(): runs the cmocka_unit_test(...) entries given, as one group. */
#define UNIT_MAIN(...)                                            \
	int main(void)                                            \
	{                                                         \
		const struct CMUnitTest tests[] = {__VA_ARGS__};  \
		return cmocka_run_group_tests(tests, NULL, NULL); \
	}

#endif
