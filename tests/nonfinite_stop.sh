#!/usr/bin/env bash
# Non-finite numbers in training. SEQREC_TEST_NAN_STEPS=a,b,... (trainer/train.c) puts a NaN into
# the last rank's gradient before the all-reduce of those steps (no learning rate makes this
# small model diverge reliably: Adam's steps are bounded by the learning rate, which the config
# caps at 10). Checked:
#   - a few such steps are skipped and counted (the log, the checkpoint's skipped_steps), the
#     run goes on to the end, and metrics.jsonl stays valid JSON (null, not nan);
#   - train.max_nonfinite_steps in a row stop the run with status 1 and a message naming the
#     step, the count and the key; the checkpoint on disk is still the one written before;
#     0 never stops;
#   - on 2 ranks (the NaN on rank 1 only) both ranks stop together, without a hang.
# The refusal to write a checkpoint holding a NaN or an infinity is test_checkpoint_nonfinite.
source "$(dirname "$0")/train_lib.sh"
command -v h5dump >/dev/null || fail "h5dump not found (hdf5-tools)"
"$SEQREC" gen --users 400 --items 150 --events 8000 --seed 5 --quiet -o events.h5 >/dev/null
common=("${TINY[@]}" --set data.events=events.h5 --set train.epochs=4 --set train.eval_every=2
        --set train.patience=0 --set train.batch_size=16 --set train.checkpoint=ckpt.h5)
attr() { h5dump -a "/$2" "$1" 2>/dev/null | sed -n 's/^ *(0): *//p'; }
# run NP LOG ARGS...: seqrec train on NP ranks under a timeout; sets rc.
run() {
  local np=$1 log=$2; shift 2
  rm -f ckpt.h5 metrics.jsonl
  rc=0
  if [ "$np" -eq 1 ]; then
    timeout 120 "$SEQREC" train "$@" >"$log" 2>&1 || rc=$?
  else
    timeout 120 "$MPIEXEC" --oversubscribe --allow-run-as-root -np "$np" "$SEQREC" train "$@" \
      >"$log" 2>&1 || rc=$?
  fi
  [ "$rc" -ne 124 ] || fail "$log: the run hung (timeout)"
}

# 1. Three NaN steps: skipped, counted, the run finishes.
SEQREC_TEST_NAN_STEPS=3,4,5 run 1 three.txt "${common[@]}"
[ "$rc" -eq 0 ] || fail "three NaN steps: exit $rc: $(tail -3 three.txt)"
for s in 3 4 5; do
  grep -q "step $s: non-finite loss or gradient; step skipped ($((s - 2)) so far)" three.txt \
    || fail "no warning for step $s"
done
grep -q "train: ok (.*, 3 skipped)" three.txt || fail "the last line does not count 3 skipped steps: $(tail -1 three.txt)"
[ "$(attr ckpt.h5 skipped_steps)" = 3 ] || fail "ckpt.h5: skipped_steps is not 3"
[ "$(kind train <metrics.jsonl | grep -c '"grad_norm":null')" -eq 3 ] \
  || fail "metrics.jsonl: not 3 steps with grad_norm null"
if grep -Eiq '\b(nan|inf)\b' metrics.jsonl; then fail "metrics.jsonl holds nan or inf (not JSON)"; fi
if command -v python3 >/dev/null; then
  python3 -c 'import json, sys; [json.loads(l) for l in open(sys.argv[1])]' metrics.jsonl \
    || fail "metrics.jsonl is not valid JSON lines"
fi
echo "3 NaN steps: skipped and counted, the run finished"

# 2. A streak longer than train.max_nonfinite_steps: the run stops at the limit, exit 1.
spe=$(sed -n 's/.* \([0-9]*\) steps per epoch.*/\1/p' three.txt)
first=$((spe + 4))   # in epoch 2, after the checkpoint of epoch 1
streak=$(seq -s, "$first" $((first + 14)))
SEQREC_TEST_NAN_STEPS=$streak run 1 streak.txt "${common[@]}" --set train.max_nonfinite_steps=5
last=$((first + 4))
[ "$rc" -eq 1 ] || fail "streak: exit $rc, expected 1: $(tail -3 streak.txt)"
want="error: step $last: the loss or gradient was not finite for 5 steps in a row"
want="$want (steps $first to $last; train.max_nonfinite_steps 5)"
grep -qF "$want" streak.txt \
  || fail "streak: no message naming step $last: $(tail -2 streak.txt)"
[ "$(attr ckpt.h5 step)" = "$spe" ] || fail "streak: ckpt.h5 is not the checkpoint of step $spe"
[ "$(kind train <metrics.jsonl | field step | tail -1)" = "$last" ] || fail "streak: steps after $last ran"
echo "5 in a row (train.max_nonfinite_steps 5): stopped at step $last, exit 1, ckpt.h5 still at step $spe"

# The default (10) stops at the tenth; 0 never stops.
SEQREC_TEST_NAN_STEPS=$streak run 1 default.txt "${common[@]}"
[ "$rc" -eq 1 ] && grep -q "error: step $((first + 9)): .* for 10 steps in a row" default.txt \
  || fail "default limit: exit $rc: $(tail -2 default.txt)"
SEQREC_TEST_NAN_STEPS=$streak run 1 never.txt "${common[@]}" --set train.max_nonfinite_steps=0
[ "$rc" -eq 0 ] && grep -q "train: ok (.*, 15 skipped)" never.txt \
  || fail "train.max_nonfinite_steps 0: exit $rc: $(tail -2 never.txt)"
[ "$(attr ckpt.h5 skipped_steps)" = 15 ] || fail "max_nonfinite_steps 0: skipped_steps is not 15"
echo "default limit 10: stopped at step $((first + 9)); limit 0: 15 skipped, finished"

# A finite step ends a streak: two streaks of 3 under a limit of 4 do not stop the run.
SEQREC_TEST_NAN_STEPS=2,3,4,6,7,8 run 1 broken.txt "${common[@]}" --set train.max_nonfinite_steps=4
[ "$rc" -eq 0 ] || fail "two streaks of 3 under a limit of 4 stopped the run: $(tail -2 broken.txt)"

# 3. Two ranks, the NaN on rank 1 only: both see it in the all-reduce and stop together.
if have_mpi; then
  SEQREC_TEST_NAN_STEPS=$streak run 2 np2.txt "${common[@]}" --set train.max_nonfinite_steps=5
  # Each rank returns the error itself (no abort); mpirun may end the job before the second
  # rank has printed its copy of the message.
  [ "$rc" -ne 0 ] || fail "2 ranks: exit 0 after a streak"
  grep -q "error: step $last: the loss or gradient was not finite for 5 steps" np2.txt \
    || fail "2 ranks: no stop at step $last: $(grep error np2.txt)"
  ! grep -q "aborting the job" np2.txt || fail "2 ranks: a rank aborted instead of stopping with the others"
  [ "$(kind train <metrics.jsonl | field step | tail -1)" = "$last" ] || fail "2 ranks: steps after $last ran"
  echo "2 ranks (NaN on rank 1): stopped together at step $last, mpirun exit $rc"
fi
echo "nonfinite_stop: ok"
