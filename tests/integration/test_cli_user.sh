#!/usr/bin/env bash
# SPDX-License-Identifier: ISC
# `alia user add|passwd|disable|enable|list|token` and `alia group
# add|member` on a fresh embedded cluster with no server running: every
# command starts and stops PostgreSQL itself. A password comes from
# standard input, or from a terminal (a pty here), asked twice without
# echo, and has at least 8 characters unless --force; what is stored is
# checked with libsodium's own crypto_pwhash_str_verify. Refusals are one
# line and exit 1, usage errors exit 2, and a refused command changes
# nothing.
set -u
ALIA=${ALIA_BIN:?ALIA_BIN must name the alia binary}
py=/usr/bin/python3
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

ALIA_DATA_DIR=$(mktemp -d /tmp/alia-user.XXXXXX) || exit 1
export ALIA_DATA_DIR
chmod 755 "$ALIA_DATA_DIR"
tmp="$ALIA_DATA_DIR/t"
mkdir "$tmp"
trap 'rm -rf "$ALIA_DATA_DIR"' EXIT

q() { "$ALIA" psql -X -q -v ON_ERROR_STOP=1 -At "$@" 2>/dev/null; }
# run ARGS...: stdout in $tmp/out, stderr in $tmp/err
run() { "$@" >"$tmp/out" 2>"$tmp/err"; }
# said TEXT: the command's stderr has the line "alia: TEXT"
said() {
	grep -qxF "alia: $1" "$tmp/err" && ok "  says '$1'" ||
		not_ok "no line 'alia: $1' on stderr: $(grep '^alia' "$tmp/err")"
}
# quiet WHAT SECRET: SECRET is nowhere in the command's stdout or stderr
quiet() {
	grep -qF -- "$2" "$tmp/out" "$tmp/err" &&
		not_ok "$1: the secret is in the command's output" ||
		ok "$1: the secret is not in the command's output"
}
pwhash() { q -c "SELECT pwhash FROM alia.users WHERE name = '$1'"; }
# verify HASH PASSWORD: whether libsodium takes PASSWORD for HASH
verify() {
	$py - "$1" "$2" <<'PY'
import ctypes, ctypes.util, sys
na = ctypes.CDLL(ctypes.util.find_library("sodium"))
assert na.sodium_init() >= 0
h, p = sys.argv[1].encode(), sys.argv[2].encode()
sys.exit(na.crypto_pwhash_str_verify(h, p, ctypes.c_ulonglong(len(p))) != 0)
PY
}
# tty NAME FIRST SECOND: `alia user add NAME --role learner` on a pty,
# answering FIRST and SECOND to its prompts; what it wrote in $tmp/out
tty() {
	$py - "$ALIA" "$@" >"$tmp/out" 2>"$tmp/err" <<'PY'
import os, pty, select, sys, time
alia, name, first, second = sys.argv[1:]
pid, fd = pty.fork()
if pid == 0:
    os.execv(alia, [alia, "user", "add", name, "--role", "learner"])
out = b""
def more(deadline):
    global out
    r, _, _ = select.select([fd], [], [], max(0, deadline - time.time()))
    try:
        data = os.read(fd, 4096) if r else b""
    except OSError:  # EIO: every process on the pty is gone
        data = b""
    out += data
    return data
def until(text):
    deadline = time.time() + 60
    while text not in out:
        if not more(deadline):
            sys.stdout.buffer.write(out)
            sys.exit("no %r from alia" % text)
until(b"Password for %s: " % name.encode())
os.write(fd, first.encode() + b"\n")
until(b"Again: ")
os.write(fd, second.encode() + b"\n")
while more(time.time() + 60):
    pass
sys.stdout.buffer.write(out)
sys.exit(os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]))
PY
}

"$ALIA" migrate >"$tmp/migrate.log" 2>&1 || {
	cat "$tmp/migrate.log"
	not_ok "alia migrate"
	exit 1
}

# user add: the first line of stdin, stored as Argon2id only
pw="Tr0ub4dor &3 $RANDOM$RANDOM"
printf '%s\nsecond line\n' "$pw" | run "$ALIA" user add ann --role instructor
check "user add exits 0" 0 $?
quiet "user add" "$pw"
# The embedded server it started for the command logs to a file of its own.
if grep -q 'postgres\[' "$tmp/err"; then
	not_ok "the server's log is on the command's stderr: $(head -c 300 "$tmp/err")"
else
	ok "the server's log is not on the command's stderr"
fi
h1=$(pwhash ann)
# shellcheck disable=SC2016 # a literal $, not an expansion
case $h1 in
'$argon2id$'*) ok "the stored hash is Argon2id" ;;
*) not_ok "stored pwhash: '$h1'" ;;
esac
verify "$h1" "$pw" && ok "the hash is of the first line" || not_ok "the hash does not verify the password"
verify "$h1" "$pw
second line" && not_ok "the hash is of more than the first line" || ok "and of nothing more"
q -c "SELECT * FROM alia.users" >"$tmp/users"
grep -qF -- "$pw" "$tmp/users" && not_ok "the password is in alia.users" || ok "the password is not in alia.users"
check "the role is stored" instructor "$(q -c "SELECT role FROM alia.users WHERE name = 'ann'")"

printf 'other-password\n' | run "$ALIA" user add ann --role admin
check "adding an existing user exits 1" 1 $?
said "user ann exists"
check "and changes nothing" "instructor $h1" "$(q -F' ' -c "SELECT role, pwhash FROM alia.users WHERE name = 'ann'")"

run "$ALIA" group add g1
check "group add exits 0" 0 $?
printf 'pw-long-enough\n' | run "$ALIA" user add bob --role learner --group g1 --group nope
check "user add with an unknown group exits 1" 1 $?
said "no such group: nope"
check "and creates no user" 0 "$(q -c "SELECT count(*) FROM alia.users WHERE name = 'bob'")"
check "and no membership" 0 "$(q -c "SELECT count(*) FROM alia.group_members WHERE user_name = 'bob'")"
printf 'pw-long-enough\n' | run "$ALIA" user add bob --role learner --group g1 --group g1
check "user add with a group twice exits 0" 0 $?
check "bob is in g1" "g1" "$(q -c "SELECT string_agg(group_name, ',') FROM alia.group_members WHERE user_name = 'bob'")"

printf 'pw-long-enough\n' | run "$ALIA" user add carl --role root
check "an unknown role is a usage error" 2 $?
said "a role is learner, instructor or admin"
printf 'pw-long-enough\n' | run "$ALIA" user add carl
check "user add without --role is a usage error" 2 $?
printf 'pw-long-enough\n' | run "$ALIA" user add Carl --role admin
check "a name against the rule exits 1" 1 $?
said "a name is 1-63 characters: a-z first, then a-z 0-9 . _ -"
run "$ALIA" group add 9g
check "a group name against the rule exits 1" 1 $?
said "a name is 1-63 characters: a-z first, then a-z 0-9 . _ -"
printf '\n' | run "$ALIA" user add carl --role admin
check "an empty password exits 1" 1 $?
said "empty password"
run "$ALIA" user add carl --role admin </dev/null
check "no password at all exits 1" 1 $?
said "empty password"
check "no user came of the refused adds" "ann bob" "$(q -c "SELECT string_agg(name, ' ' ORDER BY name) FROM alia.users")"

# user passwd: a new hash; every token of ann's goes (sign-ins and API)
q -c "INSERT INTO alia.tokens (hash, user_name, kind, expires_at) VALUES
	(sha256('l1'), 'ann', 'login', now() + '1 day'),
	(sha256('l2'), 'ann', 'login', now() + '1 day'),
	(sha256('a1'), 'ann', 'api', now() + '1 day'),
	(sha256('l3'), 'bob', 'login', now() + '1 day')"
check "four tokens by hand" 4 "$(q -c "SELECT count(*) FROM alia.tokens")"
pw2="n3w pass $RANDOM$RANDOM"
printf '%s\n' "$pw2" | run "$ALIA" user passwd ann
check "user passwd exits 0" 0 $?
quiet "user passwd" "$pw2"
h2=$(pwhash ann)
[ "$h2" != "$h1" ] && ok "the hash changed" || not_ok "the hash is the old one"
verify "$h2" "$pw2" && ok "the new password verifies" || not_ok "the new hash does not verify the new password"
verify "$h2" "$pw" && not_ok "the old password still verifies" || ok "the old one does not"
check "ann's login and API tokens are gone, bob's login stays" \
	"bob login" \
	"$(q -c "SELECT string_agg(user_name || ' ' || kind, '|' ORDER BY user_name, kind) FROM alia.tokens")"
printf 'pw-long-enough\n' | run "$ALIA" user passwd nobody
check "passwd of an unknown user exits 1" 1 $?
said "no such user: nobody"
printf '\n' | run "$ALIA" user passwd ann
check "passwd with an empty password exits 1" 1 $?
check "and keeps the hash" "$h2" "$(pwhash ann)"

# user token: 64 hex characters, once; only sha256 of them is stored
run "$ALIA" user token ann --label ci --days 7
check "user token exits 0" 0 $?
tok=$(cat "$tmp/out")
[[ $tok =~ ^[0-9a-f]{64}$ ]] && ok "the token is 64 hex characters" || not_ok "token output: '$tok'"
check "it is one line" 1 "$(wc -l <"$tmp/out")"
grep -qF -- "$tok" "$tmp/err" && not_ok "the token is on stderr" || ok "the token is not on stderr"
check "the stored hash is sha256 of the token" \
	"$(printf %s "$tok" | sha256sum | cut -d' ' -f1)" \
	"$(q -c "SELECT encode(hash, 'hex') FROM alia.tokens WHERE label = 'ci'")"
check "kind api, for ann, 7 days" "api|ann|7 days" \
	"$(q -c "SELECT kind, user_name, expires_at - created_at FROM alia.tokens WHERE label = 'ci'")"
check "the token itself is not stored" 0 \
	"$(q -c "SELECT count(*) FROM alia.tokens WHERE position('$tok' in encode(hash, 'hex') || coalesce(label, '')) > 0")"
run "$ALIA" user token bob
check "user token without options exits 0" 0 $?
tok2=$(cat "$tmp/out")
[ "$tok2" != "$tok" ] && ok "a second token differs" || not_ok "the same token twice"
check "defaults: no label, 90 days" "t|90 days" \
	"$(q -c "SELECT label IS NULL, expires_at - created_at FROM alia.tokens WHERE hash = sha256('$tok2'::bytea)")"
run "$ALIA" user token nobody
check "a token for an unknown user exits 1" 1 $?
said "no such user: nobody"
check "and prints nothing" "" "$(cat "$tmp/out")"
for d in 0 x 3651 -1; do
	run "$ALIA" user token ann --days "$d"
	check "--days $d is a usage error" 2 $?
done
check "no token came of the refused ones" 2 "$(q -c "SELECT count(*) FROM alia.tokens WHERE kind = 'api'")"

# groups
run "$ALIA" group add g2
check "group add g2 exits 0" 0 $?
run "$ALIA" group add g2
check "adding an existing group exits 1" 1 $?
said "group g2 exists"
run "$ALIA" group member g2 ann
check "group member exits 0" 0 $?
run "$ALIA" group member g2 ann
check "a member already is no error" 0 $?
run "$ALIA" group member g1 ann
check "group member g1 ann exits 0" 0 $?
run "$ALIA" group member g2 nobody
check "an unknown user exits 1" 1 $?
said "no such user: nobody"
run "$ALIA" group member nope ann
check "an unknown group exits 1" 1 $?
said "no such group: nope"
check "the memberships" "g1 ann|g1 bob|g2 ann" \
	"$(q -c "SELECT string_agg(group_name || ' ' || user_name, '|' ORDER BY group_name, user_name) FROM alia.group_members")"

# a terminal: asked twice, without echo
pw3="tty pass $RANDOM"
tty abe "$pw3" "$pw3"
check "user add on a terminal exits 0" 0 $?
grep -qF -- "$pw3" "$tmp/out" && not_ok "the password was echoed: $(cat -v "$tmp/out" | grep -v postgres)" ||
	ok "the password is not echoed"
verify "$(pwhash abe)" "$pw3" && ok "the terminal's password is stored" || not_ok "abe's hash does not verify"
tty abx "$pw3" "other"
check "different answers exit 1" 1 $?
grep -q "^alia: the passwords differ" "$tmp/out" && ok "  says the passwords differ" ||
	not_ok "no message: $(grep -a alia "$tmp/out")"
check "and add no user" 0 "$(q -c "SELECT count(*) FROM alia.users WHERE name = 'abx'")"

# user list: name, role, groups; by name
run "$ALIA" user list
check "user list exits 0" 0 $?
printf 'abe\tlearner\t\nann\tinstructor\tg1,g2\nbob\tlearner\tg1\n' >"$tmp/list.want"
cmp -s "$tmp/list.want" "$tmp/out" && ok "user list: name, role, groups, by name" ||
	not_ok "user list: $(cat -A "$tmp/out")"

# a password has at least 8 characters, unless --force
printf 'short7!\n' | run "$ALIA" user add cleo --role learner
check "a 7-character password exits 1" 1 $?
said "a password is at least 8 characters (--force takes a shorter one)"
check "and adds no user" 0 "$(q -c "SELECT count(*) FROM alia.users WHERE name = 'cleo'")"
printf 'eight ok\n' | run "$ALIA" user add cleo --role learner
check "8 characters are enough" 0 $?
printf 'x\n' | run "$ALIA" user passwd cleo
check "passwd with a 1-character password exits 1" 1 $?
said "a password is at least 8 characters (--force takes a shorter one)"
verify "$(pwhash cleo)" "eight ok" && ok "and keeps the password" || not_ok "cleo's password changed"
printf 'x\n' | run "$ALIA" user passwd cleo --force
check "passwd --force takes it" 0 $?
verify "$(pwhash cleo)" "x" && ok "  and stores it" || not_ok "cleo's hash is not of 'x'"
printf 'pw\n' | run "$ALIA" user add dora --role learner --force
check "user add --force takes a short one" 0 $?

# user disable, enable: every token goes; the flag is kept
run "$ALIA" user token cleo
q -c "INSERT INTO alia.tokens (hash, user_name, kind, expires_at) VALUES
	(sha256('c1'), 'cleo', 'login', now() + '1 day')"
run "$ALIA" user disable cleo
check "user disable exits 0" 0 $?
check "cleo is disabled" t "$(q -c "SELECT disabled FROM alia.users WHERE name = 'cleo'")"
check "and has no token left" 0 "$(q -c "SELECT count(*) FROM alia.tokens WHERE user_name = 'cleo'")"
run "$ALIA" user enable cleo
check "user enable exits 0" 0 $?
check "cleo is enabled" f "$(q -c "SELECT disabled FROM alia.users WHERE name = 'cleo'")"
run "$ALIA" user disable nobody
check "disable of an unknown user exits 1" 1 $?
said "no such user: nobody"
run "$ALIA" user enable nobody
check "enable of an unknown user exits 1" 1 $?

# usage errors
for args in "user" "user frob" "user list x" "user add" "user add a b --role admin" \
	"user passwd" "user token ann --label" "user token ann --role admin" \
	"user disable" "user enable a b" "user disable ann --force" "user token ann --force" \
	"group" "group add" "group member g1" "group add g3 --group g1"; do
	# shellcheck disable=SC2086
	run "$ALIA" $args </dev/null
	check "'alia $args' is a usage error" 2 $?
done
check "no group came of them" "g1 g2" "$(q -c "SELECT string_agg(name, ' ' ORDER BY name) FROM alia.groups")"

[ "$failures" -eq 0 ]
