#!/usr/bin/env bash
# seqrec train's user errors: each exits 1 with one message that names the key or the file at
# fault (and nothing from HDF5 on the terminal), and a refused resume leaves the checkpoint as
# it was.
source "$(dirname "$0")/train_lib.sh"

# expect_error CODE NEEDLE... -- CMD...: CMD exits CODE and its stderr holds every NEEDLE.
expect_error() {
  local code=$1; shift
  local needles=()
  while [ "$1" != "--" ]; do needles+=("$1"); shift; done
  shift
  local rc=0
  "$@" >out.txt 2>err.txt || rc=$?
  [ "$rc" -eq "$code" ] || fail "'$*' exited $rc, expected $code: $(tail -3 err.txt)"
  for n in "${needles[@]}"; do
    grep -qF -- "$n" err.txt || fail "'$*': stderr lacks '$n': $(cat err.txt)"
  done
  if grep -q "HDF5-DIAG" err.txt out.txt; then fail "'$*': HDF5 noise on the terminal"; fi
  echo "ok: $(grep error err.txt | head -1)"
}

"$SEQREC" gen --users 100 --items 50 --events 1500 --seed 1 -o a.h5 >/dev/null
"$SEQREC" gen --users 100 --items 50 --events 1500 --seed 2 -o b.h5 >/dev/null
T=("${TINY[@]}" --set train.epochs=1 --set train.eval_every=1)

printf 'train:\n  epochs: 1\n' >no-events.yaml
expect_error 1 "no-events.yaml" "data.events is not set" -- "$SEQREC" train -c no-events.yaml
expect_error 1 "missing.h5" "data.events" -- \
  "$SEQREC" train "${T[@]}" --set data.events=missing.h5 --set train.checkpoint=c/ckpt.h5
printf 'user,item,time\n1,2,3\n' >log.csv
expect_error 1 "log.csv" "not an HDF5 file" "data.events" -- \
  "$SEQREC" train "${T[@]}" --set data.events=log.csv --set train.checkpoint=c/ckpt.h5

# A checkpoint to resume from, two steps in.
"$SEQREC" train "${T[@]}" --set data.events=a.h5 --set train.checkpoint=c/ckpt.h5 \
  --set train.max_steps=2 >first.txt 2>&1 || fail "first run: $(tail -3 first.txt)"
cp c/ckpt.h5 before.h5
expect_error 1 "c/ckpt.h5" "other data" "b.h5" "train.checkpoint" -- \
  "$SEQREC" train "${T[@]}" --set data.events=b.h5 --set train.checkpoint=c/ckpt.h5
expect_error 1 "c/ckpt.h5" "model.d_model 16" "train.checkpoint" -- \
  "$SEQREC" train "${T[@]}" --set data.events=a.h5 --set train.checkpoint=c/ckpt.h5 \
  --set model.d_model=32
expect_error 1 "c/ckpt.h5" "train.seed 3" -- \
  "$SEQREC" train "${T[@]}" --set data.events=a.h5 --set train.checkpoint=c/ckpt.h5 \
  --set train.seed=3
cmp -s c/ckpt.h5 before.h5 || fail "a refused resume changed the checkpoint"
# train.checkpoint naming a file that is not a checkpoint: refused, and not overwritten
cp a.h5 not-a-ckpt.h5
expect_error 1 "not-a-ckpt.h5" "/: format is 'seqrec-events'" "train.checkpoint" -- \
  "$SEQREC" train "${T[@]}" --set data.events=a.h5 --set train.checkpoint=not-a-ckpt.h5
cmp -s a.h5 not-a-ckpt.h5 || fail "train overwrote a file that was not a checkpoint"
expect_error 1 "nothere.h5" "model.init_from" -- \
  "$SEQREC" train "${T[@]}" --set data.events=a.h5 --set train.checkpoint=d/ckpt.h5 \
  --set model.init_from=nothere.h5
expect_error 1 "train.batch_size" -- \
  "$SEQREC" train "${T[@]}" --set data.events=a.h5 --set train.batch_size=0
echo "train_errors: ok"
