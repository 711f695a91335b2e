#!/usr/bin/env bash
# Runs a command as if this machine lacked the packages that .debs/ ships (and ssh): a test here
# of bench/gpu/unpack.sh and of a build against its prefix, which must then find everything in
# the prefix. In a private mount namespace, /dev/null is bound over every file those packages
# installed, so a stray use of the system's copy fails (an empty header, a library that is "too
# short") instead of passing unnoticed. Needs root (unshare -m).
# Usage: bench/gpu/bare.sh [-d DEBS_DIR] COMMAND [ARGS...]
set -euo pipefail
debs=$(cd "$(dirname "$0")/../.." && pwd)/.debs
if [ "${1:-}" = -d ]; then debs=$2; shift 2; fi
[ $# -ge 1 ] || { echo "usage: $0 [-d DEBS_DIR] COMMAND [ARGS...]" >&2; exit 2; }
list=$(mktemp)
# symlinks need no mount: binding over their target hides them too
{ cat "$debs/PACKAGES"; echo openssh-client; } | xargs dpkg -L 2>/dev/null \
  | while IFS= read -r f; do [ -f "$f" ] && [ ! -L "$f" ] && printf '%s\n' "$f"; done >"$list" || true
echo "bare: hiding $(wc -l <"$list") files of the system's packages" >&2
exec unshare -m --propagation private bash -c '
  while IFS= read -r f; do mount --bind /dev/null "$f"; done <"$1"
  rm -f "$1"
  shift
  exec "$@"' bare "$list" "$@"
