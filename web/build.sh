#!/usr/bin/env bash
# SPDX-License-Identifier: ISC
# Assembles the directory alia serves: web/static/* plus the xterm.js,
# asciinema-player, marked and DOMPurify files from web/node_modules, scripts and style sheets
# renamed by content hash (the pages rewritten to match) and a gzip copy
# beside each text file. Run by the build (meson custom_target 'web'):
#   web/build.sh OUTDIR [STAMP [DEPFILE]]
# Without node_modules (a C-only build) it warns and copies static files only;
# script/bootstrap runs `npm ci` first so a full build has everything.
set -euo pipefail

[ $# -ge 1 ] || { echo "usage: $0 OUTDIR [STAMP [DEPFILE]]" >&2; exit 2; }
out=$1 stamp=${2:-} depfile=${3:-}
web=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

# Files taken from npm packages, as source-path:name-in-OUTDIR.
vendor=(
  "@xterm/xterm/lib/xterm.js:xterm.js"
  "@xterm/xterm/css/xterm.css:xterm.css"
  "@xterm/addon-fit/lib/addon-fit.js:addon-fit.js"
  # The self-contained build: one classic script (global AsciinemaPlayer,
  # its terminal emulator inlined as WebAssembly), no loader, no worker.
  "asciinema-player/dist/bundle/asciinema-player.min.js:asciinema-player.min.js"
  "asciinema-player/dist/bundle/asciinema-player.css:asciinema-player.css"
  # Lessons: markdown to HTML (UMD, global marked), then that HTML cleaned
  # (global DOMPurify) before the page inserts it.
  "marked/lib/marked.umd.js:marked.js"
  "dompurify/dist/purify.min.js:purify.js"
)

# Build into a fresh sibling directory, then move it into place file by file,
# so files removed from web/static do not linger and a reader never sees a
# half-copied file.
tmp="$out.tmp.$$"
rm -rf "$tmp"
mkdir -p "$tmp"
trap 'rm -rf "$tmp"' EXIT

deps=("$web/build.sh" "$web/static" "$web" "$web/package-lock.json")
while IFS= read -r -d '' f; do
  rel=${f#"$web/static/"}
  mkdir -p "$tmp/$(dirname "$rel")"
  cp "$f" "$tmp/$rel"
  deps+=("$f")
done < <(find "$web/static" -type f -print0 | sort -z)
while IFS= read -r -d '' d; do deps+=("$d"); done \
  < <(find "$web/static" -mindepth 1 -type d -print0)

missing=()
for v in "${vendor[@]}"; do
  src="$web/node_modules/${v%%:*}"
  if [ -f "$src" ]; then
    cp "$src" "$tmp/${v##*:}"
    deps+=("$src")
  else
    missing+=("${v%%:*}")
  fi
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "web/build.sh: warning: web/node_modules lacks ${missing[*]};" \
    "copied web/static only (run script/bootstrap or 'npm ci' in web/)" >&2
  [ -d "$web/node_modules" ] && deps+=("$web/node_modules")
fi

# Content-hashed names for the scripts and style sheets (name.HASH.ext,
# the first 12 hex digits of their SHA-256), so that alia can let browsers
# keep them for a year: a changed file is a new name. The pages refer to
# them by those names.
rename=()
while IFS= read -r -d '' f; do
  base=${f##*/}
  h=$(sha256sum "$f" | cut -c1-12)
  new="${base%.*}.$h.${base##*.}"
  mv "$f" "$tmp/$new"
  rename+=(-e "s#\([\"/]\)${base//./\\.}\"#\1$new\"#g")
done < <(find "$tmp" -maxdepth 1 -type f \( -name '*.js' -o -name '*.css' \) \
  -print0 | sort -z)
if [ ${#rename[@]} -gt 0 ]; then
  while IFS= read -r -d '' f; do
    sed -i "${rename[@]}" "$f"
  done < <(find "$tmp" -type f -name '*.html' -print0)
fi

# A gzip -9 copy beside each text file (FILE.gz, no name or time inside,
# so the same input gives the same bytes), kept when it is smaller; alia
# sends it to browsers that accept gzip.
while IFS= read -r -d '' f; do
  gzip -9 -n -k -f "$f"
  if [ "$(stat -c %s "$f.gz")" -ge "$(stat -c %s "$f")" ]; then
    rm -f "$f.gz"
  fi
done < <(find "$tmp" -type f \( -name '*.html' -o -name '*.js' -o \
  -name '*.css' -o -name '*.svg' -o -name '*.json' -o -name '*.map' -o \
  -name '*.txt' \) -print0)

if [ -d "$out" ] && ! [ -L "$out" ]; then
  # Update in place, one rename per file: a running alia holds the directory
  # open (not its path), so swapping in a new directory would leave it
  # serving a deleted one.
  while IFS= read -r -d '' d; do mkdir -p "$out/${d#"$tmp"/}"; done \
    < <(find "$tmp" -mindepth 1 -type d -print0)
  declare -A keep=()
  while IFS= read -r -d '' f; do
    rel=${f#"$tmp"/}
    keep[$rel]=1
    mv -f "$f" "$out/$rel"
  done < <(find "$tmp" -type f -print0)
  while IFS= read -r -d '' f; do
    [ -n "${keep[${f#"$out"/}]:-}" ] || rm -f "$f"
  done < <(find "$out" -type f -print0)
  find "$out" -mindepth 1 -type d -empty -delete
  rm -rf "$tmp"
else
  rm -rf "$out"
  mv "$tmp" "$out"
fi
trap - EXIT

if [ -n "$stamp" ]; then
  : >"$stamp"
fi
if [ -n "$depfile" ]; then
  # Make-style dependency list for ninja; escape spaces.
  {
    printf '%s:' "${stamp// /\\ }"
    for d in "${deps[@]}"; do printf ' \\\n  %s' "${d// /\\ }"; done
    printf '\n'
  } >"$depfile"
fi
