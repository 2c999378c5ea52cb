/* SPDX-License-Identifier: ISC */
/*
 * recorder/recorder_text.c: terminal output as search text, the same as
 * sql/002's alia.plain_text(alia.utf8_lenient(data)) (each expected text
 * below is what those functions return for the input).
 */
#include <stdlib.h>
#include <string.h>

#include "tests/unit/unit.h"

#include "recorder/recorder.h"

struct clean_case {
	const char *in;
	size_t len; /* 0: strlen(in) */
	const char *want;
};

static const struct clean_case clean_cases[] = {
    {"plain text", 0, "plain text"},
    {"", 0, ""},
    /* CR LF, a lone CR, runs of CR */
    {"a\r\nb\rc\r\r\nd\r\r", 0, "a\nb\nc\nd\n"},
    {"tab\tand\nnewline", 0, "tab\tand\nnewline"},
    /* CSI: parameters, intermediates, final; SGR colours */
    {"\x1b[01;34mdir\x1b[0m file", 0, "dir file"},
    {"\x1b[?2004hprompt$ ", 0, "prompt$ "},
    {"\x1b[2 qx", 0, "x"},
    /* a CSI cut off at the end, or with no final byte */
    {"end\x1b[12;", 0, "end"},
    {"a\x1b[12;\xc3\xa9", 0, "a\xc3\xa9"},
    /* OSC to BEL, to ST, to the end; DCS; an OSC stopped by ESC */
    {"\x1b]0;title\aafter", 0, "after"},
    {"\x1b]8;;http://x\x1b\\link\x1b]8;;\x1b\\", 0, "link"},
    {"x\x1b]2;cut off", 0, "x"},
    {"\x1bPq#0;2\x1b\\y", 0, "y"},
    {"\x1b]0;t\x1b[1mz", 0, "z"},
    /* other ESC sequences: charset, keypad, a lone ESC */
    {"\x1b(Bab\x1b=c\x1b", 0, "abc"},
    {"\x1b\xc3\xa9", 0, "\xc3\xa9"},
    /* backspace: the character before goes, a multi-byte one whole; one
     * pass, so a second BS finds a BS before it and goes alone */
    {"abc\b\bd", 0, "abd"},
    {"ab\bc\bd", 0, "ad"},
    {"caf\xc3\xa9\bx", 0, "cafx"},
    {"\n\bx", 0, "\nx"},
    {"\b\bx", 0, "x"},
    /* controls but TAB and LF, DEL, C1 */
    {"a\001\a\v\037\177b\302\205c", 0, "abc"},
    /* invalid UTF-8 as U+FFFD, each byte; NUL dropped */
    {"caf\xc3\xa9 \xff\xfe ok", 0, "caf\xc3\xa9 \xef\xbf\xbd\xef\xbf\xbd ok"},
    {"a\0b", 3, "ab"},
    {"\xc3", 0, "\xef\xbf\xbd"},
    {"\xe0\x80\x80", 0, "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd"},
    {"\xed\xa0\x80", 0, "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd"},
    {"\xf4\x90\x80\x80", 0, "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd"},
    {"\xf0\x9f\x98\x80!", 0, "\xf0\x9f\x98\x80!"},
    {"\xe2\x82\xac\xe2\x82", 0, "\xe2\x82\xac\xef\xbf\xbd\xef\xbf\xbd"},
    /* a progress bar: CR, then a redrawn line */
    {"50%\r\x1b[K100%\r\n", 0, "50%\n100%\n"},
};

static void
test_clean(void **state)
{
	const struct clean_case *c;
	size_t i, len, n;
	char *got;

	for (i = 0; i < sizeof(clean_cases) / sizeof(clean_cases[0]); i++) {
		c = &clean_cases[i];
		len = c->len > 0 ? c->len : strlen(c->in);
		got = recorder_text_clean(c->in, len, &n);
		if (n != strlen(c->want) || memcmp(got, c->want, n) != 0)
			fail_msg("case %zu: got \"%s\", want \"%s\"", i, got,
			    c->want);
		assert_int_equal(got[n], '\0');
		free(got);
	}
}

struct chars_case {
	const char *s;
	size_t chars; /* characters in s */
	size_t last;  /* ask for the last this many */
	size_t from;  /* where they begin */
};

static const struct chars_case chars_cases[] = {
    {"", 0, 64, 0},
    {"abc", 3, 2, 1},
    {"abc", 3, 64, 0},
    {"caf\xc3\xa9", 4, 1, 3},
    {"\xf0\x9f\x98\x80\xe2\x82\xac", 2, 1, 4},
    {"\xf0\x9f\x98\x80\xe2\x82\xac", 2, 0, 7},
};

static void
test_chars(void **state)
{
	const struct chars_case *c;
	size_t i;

	for (i = 0; i < sizeof(chars_cases) / sizeof(chars_cases[0]); i++) {
		c = &chars_cases[i];
		assert_int_equal(
		    recorder_text_chars(c->s, strlen(c->s)), c->chars);
		assert_int_equal(
		    recorder_text_last(c->s, strlen(c->s), c->last), c->from);
	}
}

UNIT_MAIN(cmocka_unit_test(test_clean), cmocka_unit_test(test_chars))
