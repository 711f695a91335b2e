#!/usr/bin/env bash
# Crash safety of training: N trials (default 5) that each kill -9 the trainer at a random moment,
# then check that the checkpoint on disk is complete, resume, and end with the same bits as an
# uninterrupted run. Odd trials kill at a random time of the run; even trials pick one of the
# run's 13 checkpoint writes at random and kill at a random time inside it (the writes are
# stretched by SEQREC_TEST_CHECKPOINT_PAUSE_MS, model/checkpoint.c), so ckpt.h5.tmp is half
# written. The choices come from bash's RANDOM seeded with CRASH_SEED: the same seed, the same
# delays and writes (where a delay lands in the run still depends on the machine's speed).
#   SEQREC=build/cli/seqrec TEST_TMP=/tmp/crash bash tests/crash_trials.sh 20
# Checked after every kill:
#   - ckpt.h5, when there, is complete: h5dump reads every dataset and attribute, it holds the
#     same objects as the reference's, its step is an epoch's end, no value is NaN or infinite;
#   - the next run resumes from exactly that step (the model's own reader accepts the file) or,
#     with no ckpt.h5, starts afresh; it finishes with status 0;
#   - the final ckpt.h5 (/params, /optim, /best, every attribute) and metrics.jsonl are the
#     reference's, bit for bit.
# CRASH_NP=2 runs every trial under mpirun and kills rank 0, the checkpoint writer.
: "${TEST_TMP:=${TMPDIR:-/tmp}/seqrec-crash-trials}"
source "$(dirname "$0")/train_lib.sh"
command -v h5diff >/dev/null && command -v h5dump >/dev/null || fail "h5dump/h5diff not found (hdf5-tools)"
TRIALS=${1:-5}
SEED=${CRASH_SEED:-1}
NP=${CRASH_NP:-1}
[ "$NP" -eq 1 ] || have_mpi || { echo "CRASH_NP=$NP needs MPIEXEC"; exit 77; }
PAUSE_MS=${CRASH_PAUSE_MS:-3}
RANDOM=$SEED

"$SEQREC" gen --users 400 --items 150 --events 8000 --seed 5 --quiet -o events.h5 >/dev/null
# Twelve epochs of 36 steps, a checkpoint after each and one when finished, a validation every
# third (the best weights are live state), dropout on (its masks depend on the step).
common=("${TINY[@]}" --set data.events=../events.h5 --set model.dropout=0.2 --set train.epochs=12
        --set train.eval_every=3 --set train.patience=0 --set train.batch_size=16
        --set train.checkpoint=ckpt.h5)

now_ms() { date +%s%3N; }

# start DIR PAUSE_MS: seqrec train in the background inside DIR; $pid is the launcher, $victim the
# process to kill (the trainer itself, or rank 0 under mpirun).
start() {
  mkdir -p "$1"
  export SEQREC_TEST_CHECKPOINT_PAUSE_MS=$2
  if [ "$NP" -eq 1 ]; then
    (cd "$1" && exec "$SEQREC" train "${common[@]}" >>log.txt 2>&1) &
    pid=$!
    victim=$pid
  else
    (cd "$1" && exec "$MPIEXEC" --oversubscribe --allow-run-as-root -np "$NP" "$SEQREC" train \
       "${common[@]}" >>log.txt 2>&1) &
    pid=$!
    victim=
    local i p
    for i in $(seq 1 200); do
      for p in $(pgrep -P "$pid" 2>/dev/null); do
        if tr '\0' '\n' <"/proc/$p/environ" 2>/dev/null | grep -x OMPI_COMM_WORLD_RANK=0 >/dev/null; then
          victim=$p
        fi
      done
      [ -n "$victim" ] && break
      sleep 0.01
    done
    [ -n "$victim" ] || fail "$1: rank 0 of mpirun $pid not found"
  fi
}

# finish DIR: runs seqrec train in DIR to the end (status 0).
finish() {
  local rc=0
  export SEQREC_TEST_CHECKPOINT_PAUSE_MS=0
  if [ "$NP" -eq 1 ]; then
    (cd "$1" && "$SEQREC" train "${common[@]}" >resume.txt 2>&1) || rc=$?
  else
    (cd "$1" && "$MPIEXEC" --oversubscribe --allow-run-as-root -np "$NP" "$SEQREC" train \
       "${common[@]}" >resume.txt 2>&1) || rc=$?
  fi
  [ "$rc" -eq 0 ] || fail "$1: the run after the kill exited $rc: $(tail -5 "$1/resume.txt")"
}

attr() { h5dump -a "/$2" "$1" 2>/dev/null | sed -n 's/^ *(0): *//p'; }
objects() { h5ls -r "$1" | awk '{print $1}'; }
lines() { grep -v '"kind":"pop-valid"' "$1/metrics.jsonl"; }

# checkpoint_complete FILE: everything in it reads, and it is a whole checkpoint.
checkpoint_complete() {
  h5dump "$1" >dump.txt 2>&1 || fail "$1 does not read back: $(grep -m3 -i error dump.txt)"
  cmp -s <(objects "$1") <(objects ref/ckpt.h5) \
    || fail "$1 is not a whole checkpoint: $(diff <(objects "$1") <(objects ref/ckpt.h5) | head -5)"
  local step
  step=$(attr "$1" step)
  [ -n "$step" ] && [ $((step % spe)) -eq 0 ] && [ "$step" -le "$total" ] \
    || fail "$1: step '$step' is not the end of an epoch ($spe steps each)"
  h5dump -g /params -g /optim -g /best "$1" >values.txt 2>&1
  if grep -Eiqw 'nan|inf' values.txt; then fail "$1 holds a non-finite value"; fi
  echo "$step"
}

# write_begins DIR N: returns once the N-th checkpoint write of the run in DIR has begun (the
# writer says so on stderr when SEQREC_TEST_CHECKPOINT_PAUSE_MS is set).
write_begins() {
  local until=$(( $(now_ms) + 300000 ))
  while [ "$(grep -c "^checkpoint: writing" "$1/log.txt")" -lt "$2" ]; do
    kill -0 "$victim" 2>/dev/null || fail "$1: the run ended before checkpoint write $2 began"
    [ "$(now_ms)" -lt "$until" ] || fail "$1: checkpoint write $2 did not begin within 300 s"
    sleep 0.002
  done
}

sleep_ms() { sleep "$(($1 / 1000)).$(printf '%03d' $(($1 % 1000)))"; }

t0=$(now_ms)
start ref 0
wait "$pid" || fail "the reference run failed: $(tail -5 ref/log.txt)"
ref_ms=$(( $(now_ms) - t0 ))
spe=$(sed -n 's/.* \([0-9]*\) steps per epoch.*/\1/p' ref/log.txt)
total=$(attr ref/ckpt.h5 step)
[ "$total" -eq $((12 * spe)) ] || fail "reference: $total steps, expected $((12 * spe))"
echo "reference: $NP rank(s), $total steps in ${ref_ms} ms; $TRIALS trials, seed $SEED"

mid_write=0 fresh=0
begin=$(now_ms)
for trial in $(seq 1 "$TRIALS"); do
  dir=trial$trial
  if [ $((trial % 2)) -eq 1 ]; then
    delay=$(( RANDOM % ref_ms ))
    start "$dir" 0
    sleep_ms "$delay"
    how="at ${delay} ms"
  else
    # A write is 64 tensors with a pause after each: kill within its first ~50 pauses.
    write=$(( 1 + RANDOM % 13 ))
    delay=$(( RANDOM % (PAUSE_MS * 50) ))
    start "$dir" "$PAUSE_MS"
    write_begins "$dir" "$write"
    sleep_ms "$delay"
    how="${delay} ms into checkpoint write $write of 13"
  fi
  kill -KILL "$victim" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
  what="between writes"
  [ -e "$dir/ckpt.h5.tmp" ] && { mid_write=$((mid_write + 1)); what="mid-write"; }
  if [ -e "$dir/ckpt.h5" ]; then
    step=$(checkpoint_complete "$dir/ckpt.h5")
    what="$what, ckpt.h5 complete at step $step"
  else
    step=
    fresh=$((fresh + 1))
    what="$what, no ckpt.h5 yet"
  fi
  finish "$dir"
  if [ -n "$step" ]; then
    grep -q "resuming ckpt.h5 at step $step" "$dir/resume.txt" \
      || fail "$dir: no resume from step $step: $(grep -m1 -i resum "$dir/resume.txt")"
  else
    ! grep -q "resuming" "$dir/resume.txt" || fail "$dir: resumed without a checkpoint"
  fi
  h5diff ref/ckpt.h5 "$dir/ckpt.h5" >h5diff.txt 2>&1 || {
    head -20 h5diff.txt >&2
    fail "$dir/ckpt.h5 (/params and the rest) differs from the uninterrupted run's"
  }
  cmp -s <(lines ref) <(lines "$dir") || fail "$dir/metrics.jsonl differs from the uninterrupted run's"
  [ ! -e "$dir/ckpt.h5.tmp" ] || fail "$dir: ckpt.h5.tmp left after a finished run"
  echo "trial $trial: killed $how: $what; resumed, identical"
  rm -rf "$dir"
done
took=$(( $(now_ms) - begin ))
echo "crash_trials: ok: $TRIALS/$TRIALS trials identical to the reference ($mid_write killed" \
     "mid-write, $fresh before the first checkpoint), seed $SEED, $NP rank(s), trials took" \
     "$((took / 1000)).$(printf '%03d' $((took % 1000))) s"
