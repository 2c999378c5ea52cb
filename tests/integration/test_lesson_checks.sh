#!/usr/bin/env bash
# SPDX-License-Identifier: ISC
# Every lesson's checks test what their step asks for. For each
# lessons/*.md (or the files given), in a sandbox container of the lesson's
# environment hardened as alia runs it, one shell takes each step's runnable
# blocks in order as its input, as the terminal would; before them the
# step's check must fail, after them pass. Checks run as alia runs them:
# docker exec as 1000:1000, HOME=/home/learner, in /home/learner, under
# `timeout -s KILL 10 sh -c CHECK`. Also: the front matter has a title, an
# environment and a description, every step has one check and something to
# run. Skips (77) without a Docker daemon; a missing image fails.
#   test_lesson_checks.sh [LESSON.md...]
# Environment: ALIA_DEBIAN_IMAGE, ALIA_IMAGE (the busybox image).
set -u
src=${ALIA_SRCDIR:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
# shellcheck source=tests/integration/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
tmp=$(mktemp -d)
ct=
cleanup() {
	[ -z "$ct" ] || docker rm -f "$ct" >/dev/null 2>&1
	rm -rf "$tmp"
}
trap cleanup EXIT

if [ $# -gt 0 ]; then
	lessons=("$@")
else
	lessons=("$src"/lessons/*.md)
fi
[ -f "${lessons[0]}" ] || { echo "no lessons in $src/lessons" >&2; exit 1; }
docker version --format '{{.Server.Version}}' >/dev/null 2>&1 ||
	{ echo "SKIP: no Docker daemon answers"; exit 77; }

# parse LESSON DIR: DIR/env (the environment), and per step N: N.title,
# N.run (its runnable blocks, each with a final newline), N.check, and
# DIR/errors (one problem a line), as docs/teaching.md reads a lesson.
parse() {
	/usr/bin/python3 - "$1" "$2" <<'PY'
import os, re, sys
path, out = sys.argv[1], sys.argv[2]
lines = open(path, encoding="utf-8").read().split("\n")
meta, errors, steps, i = {}, [], [], 0
if lines and lines[0] == "---":
    for i in range(1, len(lines)):
        if lines[i] == "---":
            break
        k, _, v = lines[i].partition(":")
        meta[k.strip()] = v.strip()
    else:
        errors.append("front matter never ends")
    i += 1
for k in ("title", "environment", "description"):
    if not meta.get(k):
        errors.append("front matter has no " + k)
fence = None
for line in lines[i:]:
    if fence:
        if re.match(r" {0,3}" + re.escape(fence[0]) + r"{%d,}\s*$" % len(fence), line):
            fence = None
            continue
        if block is not None:
            block.append(line)
        continue
    m = re.match(r" {0,3}(`{3,}|~{3,})(.*)$", line)
    if m:
        fence, words = m.group(1), m.group(2).split()
        block = None
        if steps and words and words[0] == "check":
            if steps[-1]["check"] is not None:
                errors.append("step %d has two checks" % len(steps))
            steps[-1]["check"] = block = []
        elif steps and "run" in words:
            block = []
            steps[-1]["run"].append(block)
        continue
    if line.startswith("## "):
        steps.append({"title": line[3:], "run": [], "check": None})
if not 1 <= len(steps) <= 64:
    errors.append("%d steps" % len(steps))
with open(os.path.join(out, "env"), "w") as f:
    f.write(meta.get("environment", "") + "\n")
for n, s in enumerate(steps, 1):
    open(os.path.join(out, "%d.title" % n), "w").write(s["title"] + "\n")
    open(os.path.join(out, "%d.run" % n), "w").write(
        "".join("\n".join(b) + "\n" for b in s["run"]))
    if s["check"] is None:
        errors.append("step %d has no check" % n)
    else:
        text = "\n".join(s["check"])
        if len(text.encode()) > 4096:
            errors.append("step %d: its check is over 4 KiB" % n)
        open(os.path.join(out, "%d.check" % n), "w").write(text)
    if not s["run"]:
        errors.append("step %d has nothing to run" % n)
with open(os.path.join(out, "errors"), "w") as f:
    f.writelines(e + "\n" for e in errors)
PY
}

# run_check N: the exit status of step N's check, as alia runs it; its
# output in $tmp/out.
run_check() {
	docker exec -u 1000:1000 -e HOME=/home/learner -w /home/learner "$ct" \
		timeout -s KILL 10 sh -c "$(cat "$dir/$1.check")" >"$tmp/out" 2>&1
}

# send N: step N's runnable blocks as the shell's input, then a marker;
# waits (30 s at most) until the shell has printed the marker.
send() {
	local line
	{
		cat "$dir/$1.run"
		printf 'echo "@@alia-step-%s-done@@"\n' "$1"
	} >&"${SHELL_IO[1]}"
	while IFS= read -r -t 30 line <&"${SHELL_IO[0]}"; do
		[ "$line" = "@@alia-step-$1-done@@" ] && return 0
	done
	return 1
}

for lesson in "${lessons[@]}"; do
	name=$(basename "$lesson" .md)
	dir=$tmp/$name
	mkdir -p "$dir"
	parse "$lesson" "$dir" || { not_ok "$name: the lesson does not parse"; continue; }
	if [ -s "$dir/errors" ]; then
		not_ok "$name: $(paste -sd';' "$dir/errors")"
		continue
	fi
	ok "$name: front matter and steps"
	env=$(cat "$dir/env")
	case $env in
		debian) image=${ALIA_DEBIAN_IMAGE:-alia-sandbox:debian} shell=bash ;;
		busybox) image=${ALIA_IMAGE:-alia-sandbox:latest} shell=sh ;;
		*) not_ok "$name: unknown environment '$env'"; continue ;;
	esac
	if ! docker image inspect "$image" >/dev/null 2>&1; then
		not_ok "$name: no image $image (run script/make-sandbox-image)"
		continue
	fi

	ct=alia-lesson-test-$$-$name
	coproc SHELL_IO {
		exec docker run -i --rm --name "$ct" --init --hostname alia \
			--user 1000:1000 --read-only --cap-drop ALL \
			--security-opt no-new-privileges --network none \
			--pids-limit 256 --memory 512m \
			--tmpfs /tmp --tmpfs /home/learner:uid=1000,gid=1000 \
			-e HOME=/home/learner -e TERM=xterm-256color -e LANG=C.UTF-8 \
			-w /home/learner "$image" "$shell" 2>>"$tmp/$name.stderr"
	}
	for ((i = 0; i < 50; i++)); do
		docker exec "$ct" true >/dev/null 2>&1 && break
		sleep 0.2
	done
	n=1
	while [ -f "$dir/$n.title" ]; do
		title="$name step $n ($(cat "$dir/$n.title"))"
		if run_check "$n"; then
			not_ok "$title: the check passes before the step"
		else
			ok "$title: the check fails before the step"
		fi
		if ! send "$n"; then
			not_ok "$title: the shell did not finish the step within 30 s"
			sed 's/^/# /' "$tmp/$name.stderr"
			break
		fi
		if run_check "$n"; then
			ok "$title: the check passes after the step"
		else
			not_ok "$title: the check fails after the step"
			sed 's/^/# /' "$tmp/out" "$tmp/$name.stderr"
		fi
		n=$((n + 1))
	done
	# End of input: the shell exits, and the container with it.
	fd=${SHELL_IO[1]}
	exec {fd}>&-
	wait "$SHELL_IO_PID" 2>/dev/null
	docker rm -f "$ct" >/dev/null 2>&1
	ct=
done

echo "# $failures failed"
[ "$failures" -eq 0 ]
