#!/usr/bin/env bash
# A scorer killed (SIGKILL) while recs.h5.tmp is half written leaves no recs.h5, or the previous
# recs.h5 untouched. SEQREC_TEST_SCORE_PAUSE=S makes seqrec score sleep S seconds right after it
# has written its first rows (scorer/score_main.c), so the kill lands mid-file every time.
source "$(dirname "$0")/score_lib.sh"
make_run 1500 200 15000

# kill_midway OUTPUT: starts a scorer, waits for the pause, kills it with SIGKILL.
kill_midway() {
  SEQREC_TEST_SCORE_PAUSE=60 "$SEQREC" score -c score.yaml --set score.output="$1" \
    --set score.k=50 >kill.txt 2>&1 &
  local pid=$! i
  for i in $(seq 1 300); do
    grep -q "partly written" kill.txt 2>/dev/null && break
    kill -0 "$pid" 2>/dev/null || fail "the scorer ended before its pause: $(cat kill.txt)"
    sleep 0.1
  done
  grep -q "partly written" kill.txt || fail "the scorer never paused: $(cat kill.txt)"
  [ -s "$1.tmp" ] || fail "no $1.tmp while writing"
  kill -KILL "$pid"
  wait "$pid" 2>/dev/null || true
}

# No file before: none after.
kill_midway run/first.h5
[ ! -e run/first.h5 ] || fail "a killed scorer left run/first.h5"

# A file before: the same bytes after.
"$SEQREC" score -c score.yaml --set score.output=run/kept.h5 --set score.k=50 >ok.txt 2>&1 \
  || fail "score: $(cat ok.txt)"
before=$(cksum <run/kept.h5)
kill_midway run/kept.h5
[ "$(cksum <run/kept.h5)" = "$before" ] || fail "a killed scorer changed the existing recs.h5"
"$SEQREC" info run/kept.h5 >info.txt 2>&1 || fail "the kept file no longer checks: $(cat info.txt)"

# The next run overwrites the stale tmp file and succeeds.
"$SEQREC" score -c score.yaml --set score.output=run/kept.h5 --set score.k=50 >ok2.txt 2>&1 \
  || fail "score after a kill: $(cat ok2.txt)"
[ ! -e run/kept.h5.tmp ] || fail "tmp file left after a good run"
echo "score_kill: ok"
