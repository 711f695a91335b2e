#!/usr/bin/env bash
# Peak memory and wall time of `seqrec gen` at 100M events, then of `seqrec info` (the streaming
# check) on the result. Generator and writer stream, so the peak must stay far below 2 GiB
# whatever the event count; exits 1 when it does not.
# Usage: bench/gen-memory.sh [SEQREC] [OUT_DIR]   (defaults: build/cli/seqrec, $TMPDIR or /tmp)
# USERS, ITEMS, EVENTS override the size; KEEP=1 keeps the file (about 1.3 GB).
set -euo pipefail
cd "$(dirname "$0")/.."
seqrec=${1:-${SEQREC:-build/cli/seqrec}}
dir=${2:-${TMPDIR:-/tmp}}
users=${USERS:-1000000}
items=${ITEMS:-100000}
events=${EVENTS:-100000000}
limit_mib=2048
out="$dir/gen-memory-$events.h5"
[ -x "$seqrec" ] || { echo "no seqrec binary at $seqrec (build first, or pass its path)" >&2; exit 1; }
[ -x /usr/bin/time ] || { echo "needs /usr/bin/time (Debian: apt-get install time)" >&2; exit 1; }

# 13 bytes per event (item, time, type) plus a margin.
need=$(( events * 14 + (1 << 28) ))
avail=$(df --output=avail -B1 "$dir" | tail -1)
if [ "$avail" -lt "$need" ]; then
  echo "not enough room in $dir: $(( avail >> 20 )) MiB free, about $(( need >> 20 )) MiB needed" >&2
  exit 1
fi

log=$(mktemp)
trap 'rm -f "$log"; [ "${KEEP:-0}" = 1 ] || rm -f "$out" "$out.tmp"' EXIT

measure() { # label, command...: runs it under /usr/bin/time -v, prints wall and peak RSS
  local label=$1; shift
  /usr/bin/time -v "$@" >"$log.out" 2>"$log" || { cat "$log.out" "$log" >&2; exit 1; }
  local wall rss_kb
  wall=$(awk -F': ' '/Elapsed \(wall clock\)/ {print $2}' "$log")
  rss_kb=$(awk -F': ' '/Maximum resident set size/ {print $2}' "$log")
  printf '%-5s wall %s  peak RSS %d MiB\n' "$label" "$wall" $(( rss_kb / 1024 ))
  last_rss_mib=$(( rss_kb / 1024 ))
  rm -f "$log.out"
}

cmd=("$seqrec" gen --users "$users" --items "$items" --events "$events" --seed 1 --types --quiet -o "$out")
echo "date  $(date -u +%Y-%m-%dT%H:%M:%SZ)  host $(hostname)  $(nproc) cores"
echo "cmd   ${cmd[*]}"
measure gen "${cmd[@]}"
gen_rss=$last_rss_mib
size=$(stat -c %s "$out")
echo "file  $out  $(( size >> 20 )) MiB ($size bytes)"
measure info "$seqrec" info "$out"
info_rss=$last_rss_mib

if [ "$gen_rss" -ge "$limit_mib" ] || [ "$info_rss" -ge "$limit_mib" ]; then
  echo "FAIL: peak RSS gen $gen_rss MiB, info $info_rss MiB; the limit is $limit_mib MiB"
  exit 1
fi
echo "ok: peak RSS gen $gen_rss MiB, info $info_rss MiB, under $limit_mib MiB"
