# shellcheck shell=bash disable=SC2034
# SPDX-License-Identifier: ISC
# Shared helpers for alia's shell scripts. Source it; do not run it.
#   . "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
# Callers set ALIA_LOG_TAG (defaults to the script's name) before sourcing.

ALIA_REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
ALIA_LOG_TAG=${ALIA_LOG_TAG:-$(basename "$0")}

say() { printf '%s: %s\n' "$ALIA_LOG_TAG" "$*"; }
warn() { printf '%s: warning: %s\n' "$ALIA_LOG_TAG" "$*" >&2; }
die() {
  printf '%s: error: %s\n' "$ALIA_LOG_TAG" "$*" >&2
  exit 1
}

# The Docker Engine socket alia's scripts manage, or empty when DOCKER_HOST
# points somewhere that is not a local unix socket.
docker_socket() {
  local host=${DOCKER_HOST:-unix:///var/run/docker.sock}
  case $host in
    unix://*) printf '%s\n' "${host#unix://}" ;;
    *) printf '\n' ;;
  esac
}

# True when the Docker daemon answers GET /_ping.
docker_ping() {
  local sock
  sock=$(docker_socket)
  if [ -n "$sock" ]; then
    [ -S "$sock" ] &&
      curl -sf --max-time 3 --unix-socket "$sock" http://d/_ping >/dev/null 2>&1
  else
    docker version --format '{{.Server.Version}}' >/dev/null 2>&1
  fi
}
