#!/usr/bin/env bash
# Exact resume: a run stopped by train.max_steps (checkpointed, exit 0) and run again ends with
# the same bits as one that never stopped: every later loss and validation line of
# metrics.jsonl, and every tensor and attribute of ckpt.h5 (/params, /optim, /best/params, step,
# best_metric, ...; h5diff compares exactly). Dropout is on (masks are a function of seed, step
# and rank) and the run ends by early stopping, so the stop points carry live state:
#   - mid-epoch, just after a validation that did not improve: the step within the epoch, the
#     patience count and the best weights so far (/best/params) must all survive;
#   - at an epoch's end, right after its validation.
# Also: re-running with the same train.max_steps does nothing, and re-running a finished run
# leaves its checkpoint alone.
source "$(dirname "$0")/train_lib.sh"
command -v h5diff >/dev/null || fail "h5diff not found (hdf5-tools): needed to compare checkpoints"
NP=1
if have_mpi; then NP=2; fi

"$SEQREC" gen --users 200 --items 100 --events 3000 --seed 5 -o events.h5 >/dev/null
# A high learning rate on a small log overfits within a few epochs: early stopping fires.
common=("${TINY[@]}" --set data.events=../events.h5 --set model.dropout=0.3 --set train.lr=0.02
        --set train.epochs=30 --set train.eval_every=1 --set train.patience=2
        --set train.batch_size=16 --set train.checkpoint=ckpt.h5)

# run DIR NP ARGS...: seqrec train inside DIR (relative paths, so the config text saved in the
# checkpoint is the same for every run with the same settings).
run() { local dir=$1 np=$2; shift 2; mkdir -p "$dir"; (cd "$dir" && train "$np" log.txt "$@"); }

# lines DIR: metrics.jsonl without the popularity baseline that every start logs.
lines() { grep -v '"kind":"pop-valid"' "$1/metrics.jsonl"; }
# same_as_uninterrupted REF DIR N: metrics.jsonl (the lines after step N are what the resumed
# run wrote; a resume drops lines after its checkpoint) and the final checkpoints are identical.
same_as_uninterrupted() {
  local ref=$1 dir=$2 n=$3
  cmp -s <(lines "$ref") <(lines "$dir") || {
    diff <(lines "$ref") <(lines "$dir") | head -6 >&2 || true
    fail "$dir: metrics.jsonl differs from the uninterrupted run's"
  }
  [ "$(after "$n" <"$dir/metrics.jsonl" | kind train | wc -l)" -gt 0 ] || fail "$dir: no steps after $n"
  h5diff "$ref/ckpt.h5" "$dir/ckpt.h5" >h5diff.txt 2>&1 || {
    head -20 h5diff.txt >&2 || true
    fail "$dir/ckpt.h5 differs from the uninterrupted run's"
  }
}

# 1. The reference run, uninterrupted.
run ref "$NP" "${common[@]}"
grep -q "early stop" ref/log.txt || fail "the reference run did not stop early: pick settings that overfit"
spe=$(sed -n 's/.* \([0-9]*\) steps per epoch.*/\1/p' ref/log.txt)
last_epoch=$(kind valid <ref/metrics.jsonl | field epoch | tail -1)
[ "$spe" -ge 4 ] && [ "$last_epoch" -ge 4 ] || fail "steps per epoch '$spe', last epoch '$last_epoch'"
echo "reference: $NP ranks, $spe steps per epoch, early stop after epoch $last_epoch"

# 2. Stopped mid-epoch in the last epoch: the validation before it did not improve (patience 2
#    stops after two such), so the patience count and the older best weights are live.
n=$(( (last_epoch - 1) * spe + spe / 2 ))
run mid "$NP" "${common[@]}" --set train.max_steps=$n
grep -q "stopped at step $n" mid/log.txt || fail "no stop at step $n: $(tail -3 mid/log.txt)"
[ "$(kind train <mid/metrics.jsonl | wc -l)" -eq "$n" ] || fail "mid: not $n steps before the stop"
! kind test <mid/metrics.jsonl >/dev/null || fail "a stopped run reported test metrics"
h5dump -a /step mid/ckpt.h5 | grep "(0): $n\$" >/dev/null || fail "mid/ckpt.h5: step is not $n"
h5dump -a /evals_since_best mid/ckpt.h5 | grep "(0): 1\$" >/dev/null \
  || fail "mid/ckpt.h5: evals_since_best is not 1 after a validation that did not improve"
# the same limit again: nothing to do, nothing written
cp mid/ckpt.h5 mid-before.h5
run mid "$NP" "${common[@]}" --set train.max_steps=$n
grep -q "nothing to do" mid/log.txt || fail "re-run at max_steps: $(tail -3 mid/log.txt)"
cmp -s mid/ckpt.h5 mid-before.h5 || fail "re-run at max_steps changed the checkpoint"
run mid "$NP" "${common[@]}"
grep -q "resuming ckpt.h5 at step $n" mid/log.txt || fail "mid: no resume: $(head -3 mid/log.txt)"
same_as_uninterrupted ref mid "$n"
echo "resumed at step $n (mid-epoch): identical"

# A run killed after the checkpoint of step n had logged more: the resume drops those lines.
mkdir -p crash && cp mid-before.h5 crash/ckpt.h5
{ cat ref/metrics.jsonl; echo '{"kind":"train","step":9999,"epoch":99,"loss":0}'; } >crash/metrics.jsonl
run crash "$NP" "${common[@]}"
same_as_uninterrupted ref crash "$n"
echo "resumed at step $n after a crash that logged later steps: identical"

# 3. Stopped at the end of epoch 2, after its validation and checkpoint.
n=$(( 2 * spe ))
run edge "$NP" "${common[@]}" --set train.max_steps=$n
grep -q "stopped at step $n" edge/log.txt || fail "no stop at step $n: $(tail -3 edge/log.txt)"
run edge "$NP" "${common[@]}"
same_as_uninterrupted ref edge "$n"
echo "resumed at step $n (epoch end): identical"

# 4. A finished run, run again: it says so and keeps its checkpoint.
cp ref/ckpt.h5 ref-before.h5
cp ref/metrics.jsonl ref-metrics-before.jsonl
run ref "$NP" "${common[@]}"
grep -q "training had finished" ref/log.txt || fail "re-run of a finished run: $(head -3 ref/log.txt)"
h5diff ref/ckpt.h5 ref-before.h5 >/dev/null || fail "re-running a finished run changed its checkpoint"
cmp -s ref/metrics.jsonl ref-metrics-before.jsonl || fail "re-running a finished run changed metrics.jsonl"
grep -q "^test " ref/log.txt || fail "a finished run, run again, does not report its test metrics"

# 5. One rank, bce (negatives are drawn from the step), stopped mid-epoch twice.
short=("${common[@]}" --set train.loss=bce --set train.epochs=3 --set train.patience=0)
run ref1 1 "${short[@]}"
run bce 1 "${short[@]}" --set train.max_steps=3
run bce 1 "${short[@]}" --set train.max_steps=$(( spe * 2 + 3 ))
run bce 1 "${short[@]}"
same_as_uninterrupted ref1 bce 3
echo "bce on one rank, stopped twice: identical"
echo "train_resume: ok"
