# shellcheck shell=bash
# SPDX-License-Identifier: ISC
# What the shell tests share, sourced by each: TAP-like result lines and
# the failure count their summary reads.
failures=0
ok() { echo "ok - $*"; }
not_ok() { echo "not ok - $*"; failures=$((failures + 1)); }
# check NAME WANT GOT
check() { [ "$2" = "$3" ] && ok "$1" || not_ok "$1: want '$2', got '$3'"; }
