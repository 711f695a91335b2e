#!/usr/bin/env bash
# A failing rank stops the whole job within seconds, with a message that names the rank and the
# cause, never a hang (every run has a time limit, after which the test kills it and fails):
#   (a) a rank that returns an error on its own (SEQREC_TEST_FAIL_RANK/SEQREC_TEST_FAIL_STEP,
#       trainer/train.c) while the others wait in the next all-reduce: it aborts the job;
#   (b) a rank killed with SIGKILL mid-run: mpirun tears the job down;
# and the checkpoint left behind resumes to the end.
source "$(dirname "$0")/train_lib.sh"
have_mpi || { echo "no MPIEXEC: skipped"; exit 77; }
LIMIT=60    # seconds before a run counts as hung
BOUND=20    # seconds from the failure to the job's end that the test accepts

"$SEQREC" gen --users 400 --items 150 --events 8000 --seed 5 --quiet -o events.h5 >/dev/null
common=("${TINY[@]}" --set data.events=events.h5 --set train.epochs=30 --set train.eval_every=5
        --set train.patience=0 --set train.batch_size=16 --set train.checkpoint=ckpt.h5)
now_ms() { date +%s%3N; }
secs() { echo "$(($1 / 1000)).$(printf '%03d' $(($1 % 1000)))"; }

# launch NP LOG [ARGS...]: seqrec train on NP ranks in the background; $pid is mpirun, $ranks
# its children.
launch() {
  local np=$1 log=$2
  shift 2
  "$MPIEXEC" --oversubscribe --allow-run-as-root -np "$np" "$SEQREC" train "${common[@]}" "$@" \
    >"$log" 2>&1 &
  pid=$!
  ranks=
  for _ in $(seq 1 500); do
    ranks=$(pgrep -P "$pid" | tr '\n' ' ' || true)
    [ "$(echo $ranks | wc -w)" -lt "$np" ] || return 0
    kill -0 "$pid" 2>/dev/null || return 0
    sleep 0.01
  done
}
# finish_within WHAT: waits for mpirun up to LIMIT s; a job still running then is hung: it and
# its ranks are killed and the test fails. Sets rc.
finish_within() {
  local i
  for i in $(seq 1 $((LIMIT * 10))); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  if kill -0 "$pid" 2>/dev/null; then
    kill -KILL "$pid" $ranks 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
    fail "$1: the job hung (killed after ${LIMIT} s)"
  fi
  rc=0
  wait "$pid" || rc=$?
  # Ranks may take a moment more to go (zombies waiting for init do not count).
  for i in $ranks; do
    for _ in $(seq 1 30); do alive "$i" || break; sleep 0.1; done
    if alive "$i"; then kill -KILL "$i"; fail "$1: rank process $i outlived mpirun by 3 s"; fi
  done
}
alive() { [ -e "/proc/$1/stat" ] && ! grep -q '^[0-9]* ([^)]*) Z' "/proc/$1/stat" 2>/dev/null; }

# (a) rank R of NP returns an error at step 7.
fail_alone() {
  local np=$1 r=$2 t0
  rm -f ckpt.h5 metrics.jsonl
  t0=$(now_ms)
  SEQREC_TEST_FAIL_RANK=$r SEQREC_TEST_FAIL_STEP=7 launch "$np" fail.txt
  finish_within "rank $r of $np failing"
  local took=$(( $(now_ms) - t0 ))
  [ "$rc" -eq 2 ] || fail "rank $r of $np failing: exit $rc, expected 2: $(tail -5 fail.txt)"
  grep -q "rank $r of $np: aborting the job: step 7: failing on purpose" fail.txt \
    || fail "rank $r of $np failing: no message naming the rank and the cause: $(tail -8 fail.txt)"
  [ "$took" -lt $((BOUND * 1000)) ] || fail "rank $r of $np failing: the job took $(secs "$took") s to stop"
  echo "(a) rank $r of $np errs at step 7: the job stops in $(secs "$took") s (start-up" \
       "included), exit 2, message names rank $r"
}
fail_alone 2 1
fail_alone 2 0
fail_alone 3 2
# On one rank the same error is an ordinary exit 2.
rc=0
SEQREC_TEST_FAIL_RANK=0 SEQREC_TEST_FAIL_STEP=3 timeout -k 5 "$LIMIT" "$SEQREC" train \
  "${common[@]}" >one.txt 2>&1 || rc=$?
[ "$rc" -eq 2 ] && grep -q "step 3: failing on purpose" one.txt || fail "one rank failing: exit $rc: $(tail -3 one.txt)"

# (b) rank 1 of 2 killed with SIGKILL after step 60 (past the first checkpoints).
rm -f ckpt.h5 metrics.jsonl
launch 2 kill.txt
for _ in $(seq 1 12000); do
  grep -q '"step":60,' metrics.jsonl 2>/dev/null && break
  kill -0 "$pid" 2>/dev/null || fail "training ended early: $(tail -5 kill.txt)"
  sleep 0.01
done
ranks=$(pgrep -P "$pid" | tr '\n' ' ' || true)
victim=
for p in $ranks; do
  tr '\0' '\n' <"/proc/$p/environ" 2>/dev/null | grep -x OMPI_COMM_WORLD_RANK=1 >/dev/null && victim=$p
done
[ -n "$victim" ] || fail "rank 1 not found among the children of mpirun ($ranks)"
t0=$(now_ms)
kill -KILL "$victim"
finish_within "rank 1 killed"
took=$(( $(now_ms) - t0 ))
[ "$rc" -ne 0 ] || fail "rank 1 killed: the job exited 0"
grep -q "rank 1 .*exited on signal 9" kill.txt \
  || fail "rank 1 killed: no message naming rank 1 and the signal: $(tail -8 kill.txt)"
[ "$took" -lt $((BOUND * 1000)) ] || fail "rank 1 killed: the job took $(secs "$took") s to stop"
echo "(b) rank 1 of 2 killed (SIGKILL) mid-run: mpirun stops the job in $(secs "$took") s, exit $rc:" \
     "$(grep -o "process rank 1 .*exited on signal 9[^.]*" kill.txt | head -1)"

# The checkpoint left behind is whole and the run resumes from it (for one more epoch).
[ -e ckpt.h5 ] || fail "no checkpoint after 60 steps"
step=$(h5dump -a /step ckpt.h5 | sed -n 's/^ *(0): *//p')
launch 2 resume.txt --set train.max_steps=$((step + 18))
finish_within "resume after the kill"
[ "$rc" -eq 0 ] || fail "resume after the kill: exit $rc: $(tail -5 resume.txt)"
grep -q "resuming ckpt.h5 at step $step" resume.txt || fail "no resume at step $step"
grep -q "stopped at step $((step + 18))" resume.txt || fail "the resumed run did not train on"
echo "resumed from step $step and trained on"
echo "rank_fail: ok"
