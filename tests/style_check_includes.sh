#!/usr/bin/env bash
# SPDX-License-Identifier: ISC
# The include check itself: it must pass a tree that keeps to the folders
# and fail, naming the line, on a file that includes another process's
# header (and on common/ including a process's header).
set -euo pipefail
src=${1:?source dir}
check=$src/script/check-includes
t=$(mktemp -d)
trap 'rm -rf "$t"' EXIT
fails=0
mk() { mkdir -p "$t/$1"; printf '%s\n' "${@:3}" >"$t/$1/$2"; }
expect() { # expect RC WHAT
  local rc=0 out
  out=$("$check" "$t" 2>&1) || rc=$?
  if [ "$rc" -ne "$1" ]; then
    echo "FAIL: $2: exit $rc, wanted $1: $out"; fails=$((fails + 1))
  elif [ "$1" -ne 0 ] && ! grep -q "$3" <<<"$out"; then
    echo "FAIL: $2: the message does not name $3: $out"; fails=$((fails + 1))
  else
    echo "ok: $2"
  fi
}
mk front front.h '#include "common/log.h"'
mk front a.c '#include <stdio.h>' '#include "common/log.h"' '#include "front/front.h"' '#include "sql/x.h"'
mk master master.h '#include "common/proto.h"'
mk common log.h '#include <stddef.h>'
printf '#include "front/front.h"\n#include "master/master.h"\n' >"$t/alia.c"
expect 0 "a tree that keeps to its folders passes"
mk front b.c '#include "common/log.h"' '  #  include "master/master.h"'
expect 1 "front including master's header fails" 'front/b.c:2 includes master/master.h'
rm "$t/front/b.c"
mk common bad.c '#include "worker/worker.h"'
expect 1 "common including a process's header fails" 'common/bad.c:1'
rm "$t/common/bad.c"
expect 0 "the tree passes again"
# and the real tree
if "$check" "$src"; then echo "ok: alia's own tree passes"; else echo "FAIL: alia's own tree"; fails=$((fails + 1)); fi
[ "$fails" -eq 0 ]
