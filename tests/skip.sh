#!/bin/sh
# SPDX-License-Identifier: ISC
# skip.sh WHY... — stands for a test this build cannot run: says why and
# exits 77, which meson counts as skipped (see meson_options.txt).
echo "skipped: $*" >&2
exit 77
