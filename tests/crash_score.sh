#!/usr/bin/env bash
# Crash safety of scoring: `seqrec score` killed (SIGKILL) at random moments, never at a chosen
# one (tests/score_kill.sh kills inside the write), leaves recs.h5 absent when there was none, or
# the previous complete file byte for byte; a run afterwards succeeds and leaves no .tmp.
# The delays come from bash's RANDOM seeded with CRASH_SEED (default 1). Usage:
#   SEQREC=build/cli/seqrec TEST_TMP=/tmp/cs bash tests/crash_score.sh [KILLS]   (default 8)
# Under mpirun (when MPIEXEC is set) two more kills hit one rank of a 2-rank scorer.
: "${TEST_TMP:=${TMPDIR:-/tmp}/seqrec-crash-score}"
source "$(dirname "$0")/score_lib.sh"
KILLS=${1:-8}
RANDOM=${CRASH_SEED:-1}
now_ms() { date +%s%3N; }
sleep_ms() { sleep "$(($1 / 1000)).$(printf '%03d' $(($1 % 1000)))"; }

# 20000 users and k = 100: a scorer run of a second or two (16 MB of recs.h5) on one core.
"$SEQREC" gen --users 20000 --items 2000 --events 200000 --seed 5 --quiet -o events.h5 >/dev/null
"$SEQREC" train -c score.yaml --set train.max_steps=20 >train.txt 2>&1 || fail "train: $(tail -5 train.txt)"
score=(score -c score.yaml --set score.k=100)

t0=$(now_ms)
"$SEQREC" "${score[@]}" --set score.output=run/good.h5 >good.txt 2>&1 || fail "score: $(cat good.txt)"
score_ms=$(( $(now_ms) - t0 ))
good=$(cksum <run/good.h5)
echo "one scorer run: ${score_ms} ms"

# rank_pid LAUNCHER R: the pid of rank R among mpirun's children.
rank_pid() {
  local p
  for p in $(pgrep -P "$1" 2>/dev/null); do
    if tr '\0' '\n' <"/proc/$p/environ" 2>/dev/null | grep -x "OMPI_COMM_WORLD_RANK=$2" >/dev/null; then
      echo "$p"
      return
    fi
  done
}

# kill_at NP OUTPUT DELAY_MS: a scorer on NP ranks writing OUTPUT, killed after DELAY_MS (rank 1
# under mpirun, which then stops the others).
kill_at() {
  local np=$1 out=$2 delay=$3 pid victim
  if [ "$np" -eq 1 ]; then
    "$SEQREC" "${score[@]}" --set score.output="$out" >kill.txt 2>&1 &
    pid=$!
  else
    "$MPIEXEC" --oversubscribe --allow-run-as-root -np "$np" "$SEQREC" "${score[@]}" \
      --set score.output="$out" >kill.txt 2>&1 &
    pid=$!
  fi
  sleep_ms "$delay"
  victim=$pid
  [ "$np" -eq 1 ] || victim=$(rank_pid "$pid" 1)
  state=killed
  [ -n "$victim" ] && kill -KILL "$victim" 2>/dev/null || state="done before the kill"
  wait "$pid" 2>/dev/null || true
}

# check OUTPUT BEFORE: OUTPUT holds the bytes of BEFORE (a cksum; empty: OUTPUT was absent) or,
# where the scorer renamed it into place before the kill, a whole new file.
check() {
  local out=$1 before=$2
  if [ -e "$out" ] && [ "$(cksum <"$out")" != "$before" ]; then
    "$SEQREC" info "$out" >info.txt 2>&1 || fail "a killed scorer left a broken $out: $(cat info.txt)"
    same_data run/good.h5 "$out"
    published=$((published + 1))
    state="$state, after publishing a whole $out"
  elif [ ! -e "$out" ] && [ -n "$before" ]; then
    fail "a killed scorer removed the existing $out"
  fi
}

with_tmp=0 published=0
trials=$KILLS
if have_mpi; then trials=$((KILLS + 2)); fi
for i in $(seq 1 "$trials"); do
  np=1
  [ "$i" -le "$KILLS" ] || np=2
  delay=$(( RANDOM % (score_ms + score_ms / 4) ))
  if [ $((i % 2)) -eq 1 ]; then
    out=run/new.h5 before=
    rm -f run/new.h5
  else
    out=run/kept.h5
    cp run/good.h5 run/kept.h5
    before=$good
  fi
  kill_at "$np" "$out" "$delay"
  tmp=no
  [ -e "$out.tmp" ] && { tmp=yes; with_tmp=$((with_tmp + 1)); }
  check "$out" "$before"
  had="no file before"
  [ -z "$before" ] || had="a file before"
  echo "kill $i: $np rank(s) at ${delay} ms, $had: $state; .tmp left: $tmp; ok"
done

# A run after the kills replaces the stale .tmp and publishes a whole file.
"$SEQREC" "${score[@]}" --set score.output=run/kept.h5 >ok.txt 2>&1 || fail "score after kills: $(cat ok.txt)"
[ ! -e run/kept.h5.tmp ] || fail "run/kept.h5.tmp left after a good run"
same_data run/good.h5 run/kept.h5
"$SEQREC" info run/kept.h5 >info.txt 2>&1 || fail "the file after the kills does not check: $(cat info.txt)"
echo "crash_score: ok ($trials kills: $with_tmp left a half-written .tmp, $published came after the rename)"
