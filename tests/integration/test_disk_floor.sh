#!/usr/bin/env bash
# SPDX-License-Identifier: ISC
# The disk floor on a small file system: mounts a 300 MB tmpfs, runs a
# server whose data_dir, and so its PostgreSQL, lives on it with
# record_disk_floor = 100m (with-server.sh with ALIA_TEST_TMP), and runs
# test_disk_floor.py against it. Skips (exit 77) only when no tmpfs can
# be mounted (not root, or no CAP_SYS_ADMIN).
set -u
here=$(cd "$(dirname "$0")" && pwd)
mnt=$(mktemp -d /tmp/alia-disk.XXXXXX) || exit 1
if ! err=$(mount -t tmpfs -o size=300m,mode=755 alia-disk "$mnt" 2>&1); then
	echo "1..0 # SKIP the disk floor test needs to mount a tmpfs: $err"
	rmdir "$mnt"
	exit 77
fi
# shellcheck disable=SC2317 # run by the trap
cleanup() {
	umount "$mnt" 2>/dev/null || umount -l "$mnt"
	rmdir "$mnt"
}
trap cleanup EXIT
ALIA_TEST_TMP=$mnt ALIA_RECORD_DISK_FLOOR=100m \
	"$here/with-server.sh" /usr/bin/python3 "$here/test_disk_floor.py"
