/* SPDX-License-Identifier: ISC */
/*
 * The scrollback ring: fills below and at its size, wrap-around at every
 * offset, appends larger than the ring, and reads of the whole contents
 * in order, checked against a plain model of "the last size bytes".
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "tests/unit/unit.h"

#include "worker/worker.h"

/* Checks the ring against the last bytes of everything appended. */
static void
check_contents(const struct scrollback *sb, const unsigned char *all,
    size_t total, size_t size)
{
	const unsigned char *p1, *p2;
	size_t want = total < size ? total : size, l1, l2;
	unsigned char *out;

	assert_int_equal(scrollback_len(sb), want);
	out = malloc(size + 1);
	assert_non_null(out);
	assert_int_equal(scrollback_copy(sb, out, size + 1), want);
	assert_memory_equal(out, all + total - want, want);
	scrollback_spans(sb, &p1, &l1, &p2, &l2);
	assert_int_equal(l1 + l2, want);
	if (l1 > 0)
		assert_memory_equal(p1, all + total - want, l1);
	if (l2 > 0)
		assert_memory_equal(p2, all + total - want + l1, l2);
	/* A short read gets the oldest bytes. */
	if (want > 3) {
		assert_int_equal(scrollback_copy(sb, out, 3), 3);
		assert_memory_equal(out, all + total - want, 3);
	}
	free(out);
}

static void
test_empty(void **state)
{
	struct scrollback *sb = scrollback_new(16);
	unsigned char out[16];

	assert_int_equal(scrollback_len(sb), 0);
	assert_int_equal(scrollback_copy(sb, out, sizeof(out)), 0);
	scrollback_append(sb, "", 0);
	assert_int_equal(scrollback_len(sb), 0);
	scrollback_free(sb);
}

static void
test_exact_sizes(void **state)
{
	static const size_t lens[] = {1, 15, 16, 17, 31, 32, 33, 100};
	unsigned char all[128];
	size_t i, j;

	for (j = 0; j < sizeof(all); j++)
		all[j] = (unsigned char)(j * 7 + 1);
	for (i = 0; i < sizeof(lens) / sizeof(lens[0]); i++) {
		struct scrollback *sb = scrollback_new(16);

		scrollback_append(sb, all, lens[i]);
		check_contents(sb, all, lens[i], 16);
		scrollback_free(sb);
	}
}

static void
test_wrap_every_offset(void **state)
{
	static const size_t steps[] = {1, 2, 3, 5, 7, 15, 16, 17, 40};
	unsigned char all[4096];
	size_t i, j, total;

	for (j = 0; j < sizeof(all); j++)
		all[j] = (unsigned char)(j ^ (j >> 8));
	for (i = 0; i < sizeof(steps) / sizeof(steps[0]); i++) {
		struct scrollback *sb = scrollback_new(16);

		for (total = 0; total + steps[i] <= 400; total += steps[i]) {
			scrollback_append(sb, all + total, steps[i]);
			check_contents(sb, all, total + steps[i], 16);
		}
		scrollback_free(sb);
	}
}

static void
test_full_size_ring(void **state)
{
	size_t total = 3 * SCROLLBACK_SIZE + 12345, n, off = 0;
	struct scrollback *sb = scrollback_new(SCROLLBACK_SIZE);
	unsigned char *all;

	assert_true(SCROLLBACK_SIZE >= 256 * 1024);
	all = malloc(total);
	assert_non_null(all);
	for (n = 0; n < total; n++)
		all[n] = (unsigned char)(n * 131 + (n >> 11));
	while (off < total) {
		n = (off * 7919) % 70000 + 1;
		if (n > total - off)
			n = total - off;
		scrollback_append(sb, all + off, n);
		off += n;
		check_contents(sb, all, off, SCROLLBACK_SIZE);
	}
	free(all);
	scrollback_free(sb);
}

/*
 * Prepending older output: the ring then holds the last size bytes of
 * the older output followed by what it held, whatever it held and
 * wherever its head stood.
 */
static void
test_prepend(void **state)
{
	static const size_t sizes[] = {0, 1, 5, 15, 16, 17, 40};
	unsigned char older[64], model[128];
	size_t i, j, k, held;
	struct scrollback *sb;

	for (i = 0; i < sizeof(older); i++)
		older[i] = (unsigned char)('A' + i % 26);
	for (i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++)
		for (j = 0; j < sizeof(sizes) / sizeof(sizes[0]); j++)
			for (k = 0; k < 16; k++) {
				/* the head at k, sizes[j] bytes held */
				sb = scrollback_new(16);
				scrollback_append(sb, "0123456789abcdef", k);
				scrollback_append(sb,
				    "zyxwvutsrqponmlkjihgfedcbaZYXWVUTS",
				    sizes[j] < 34 ? sizes[j] : 34);
				memcpy(model, older, sizes[i]);
				held =
				    scrollback_copy(sb, model + sizes[i], 16);
				scrollback_prepend(sb, older, sizes[i]);
				check_contents(sb, model, sizes[i] + held, 16);
				scrollback_free(sb);
			}
}

UNIT_MAIN(cmocka_unit_test(test_empty), cmocka_unit_test(test_exact_sizes),
    cmocka_unit_test(test_wrap_every_offset),
    cmocka_unit_test(test_full_size_ring), cmocka_unit_test(test_prepend))
