#!/usr/bin/python3
# SPDX-License-Identifier: ISC
# Synthetic sessions and events for test_sql.sh and test_cli.sh. With
# "sql" prints the INSERTs; with "expect NAME" prints an expected value.
import sys

A = "aaaaaaaa-0000-4000-8000-00000000000a"  # running, mixed events
B = "bbbbbbbb-0000-4000-8000-00000000000b"  # ended, valid UTF-8 only
C = "cccccccc-0000-4000-8000-00000000000c"  # created, no events

A_EVENTS = [
    (0, 0, "o", b"hello \x1b[1;32mworld\x1b[0m\r\n"),
    (1, 500000, "i", b"ls\r"),
    (2, 1000000, "r", b"100x30"),
    (3, 1500000, "o", b"caf\xc3\xa9 \xff\xfe ok\r\n"),
    (4, 2000000, "o", b"\x1b]0;title\x07progress 1\rprogress 2\r\n"),
    (5, 2500000, "m", b"join control anon-1"),
    (6, 3000000, "o", b"uniqXYZ"),
    (7, 3000001, "o", b"split42end\r\n"),
    (8, 4123456, "o", b"tab\there \xe2\x82\xac\x07\n"),
]
A_TRANSCRIPT = ("hello world\ncaf\u00e9 \ufffd\ufffd ok\nprogress 1\n"
                "progress 2\nuniqXYZsplit42end\ntab\there \u20ac\n")
B_EVENTS = [
    (0, 0, "o", b"\x1b[?2004h$ echo \"quote\" \\ back\r\n"),
    (1, 10, "o", "\u65e5\u672c\u8a9e \U0001F600 \x01\x1b[K\r\n".encode()),
    (2, 20, "i", b"\x03"),
    (3, 1000000, "o", b"done\r\n"),
]


def sql():
    out = ["BEGIN;"]
    out.append("INSERT INTO alia.sessions (id, owner, image, state, "
               "created_at, started_at, ended_at, exit_code, end_reason, "
               "cols, rows, start_cols, start_rows) VALUES "
               f"('{A}', 'alice', 'img', 'running', "
               "'2024-05-01 10:00:00+00', '2024-05-01 10:00:01+00', NULL, "
               "NULL, NULL, 100, 30, 80, 24), "
               f"('{B}', 'bob', 'img', 'ended', '2024-05-01 09:00:00+00', "
               "'2024-05-01 09:00:00+00', '2024-05-01 09:01:00+00', 3, "
               "'exited', 80, 24, 80, 24), "
               f"('{C}', 'carol', 'img', 'created', "
               "'2024-05-01 11:00:00+00', NULL, NULL, NULL, NULL, 80, 24, "
               "NULL, NULL);")
    for sid, evs in ((A, A_EVENTS), (B, B_EVENTS)):
        for seq, t, k, d in evs:
            out.append("INSERT INTO alia.events VALUES "
                       f"('{sid}', {seq}, {t}, '{k}', "
                       f"'\\x{d.hex()}'::bytea);")
    # Twenty ended sessions of one owner; one has a unique string cut in
    # two across rows, another one whole.
    for n in range(20):
        sid = f"dddddddd-0000-4000-8000-{n:012d}"
        out.append("INSERT INTO alia.sessions (id, owner, image, state, "
                   f"created_at) VALUES ('{sid}', 'bulk', 'img', 'ended', "
                   f"'2024-04-01'::timestamptz + interval '{n} minutes');")
        rows = [b"$ ls\r\nfile1 file2\r\n", b"\x1b[01;34mdir\x1b[0m\r\n"]
        if n == 13:
            rows += [b"xx zebraQUO", b"KKA42 yy\r\n"]
        if n == 7:
            rows += [b"a marmot-unique-17 b\r\n"]
        for seq, d in enumerate(rows):
            out.append("INSERT INTO alia.events VALUES "
                       f"('{sid}', {seq}, {seq * 1000}, 'o', "
                       f"'\\x{d.hex()}'::bytea);")
    out.append("COMMIT;")
    print("\n".join(out))


if sys.argv[1] == "sql":
    sql()
elif sys.argv[2] == "A_TRANSCRIPT":
    sys.stdout.write(A_TRANSCRIPT)
elif sys.argv[2] == "B_OUTPUT":
    sys.stdout.buffer.write(b"".join(d for _, _, k, d in B_EVENTS
                                     if k == "o"))
elif sys.argv[2] == "A_BYTES":
    print(sum(len(d) for _, _, k, d in A_EVENTS if k == "o"))
elif sys.argv[2] == "ids":
    print(A, B, C)
