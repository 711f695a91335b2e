#!/usr/bin/env bash
# The worked example of README.md "Daily fine-tuning" (not a ctest: it trains for minutes): MovieLens
# 100K cut into weeks from its first timestamp. Day 0: a model trained on weeks 0..W-2, tested on
# each user's next event in week W-1. A week later: the log has grown (new items among it); the
# day-0 checkpoint is fine-tuned on week W-1 (model.init_from: items matched by raw id) and
# compared with a model trained from scratch on the same weeks; both are tested on each user's
# next event from week W on (the rest of the log: few ml-100k users come back within one week),
# then the fine-tuned model scores every user.
# Usage: SEQREC=build/cli/seqrec bash tests/finetune_ml100k.sh [OUT_DIR]   (W=16 by default)
set -Eeuo pipefail
# set -e alone exits without a word: name the command that failed.
trap 'echo "FAIL: ${BASH_SOURCE[0]##*/}:$LINENO: $BASH_COMMAND (exit $?)" >&2' ERR
: "${SEQREC:?set SEQREC to the seqrec binary}"
DATA=${SEQREC_SHARED_DATA:-$(dirname "$0")/../../shared/data}/ml-100k/u.data
[ -f "$DATA" ] || { echo "skip: $DATA not found"; exit 77; }
SEQREC=$(realpath "$SEQREC")
DATA=$(realpath "$DATA")
OUT=${1:-runs/finetune-ml100k}
W=${W:-16}
THREADS=${THREADS:-2}
mkdir -p "$OUT" && cd "$OUT"

T0=$(awk 'NR == 1 || $4 < m { m = $4 } END { print m }' "$DATA")
WEEK=$((7 * 86400))
cut_old=$((T0 + (W - 1) * WEEK)) # day 0: train before week W-1, test on week W-1
cut_new=$((T0 + W * WEEK))       # a week later: train before week W, test from week W on
awk -v end=$cut_new '$4 < end' "$DATA" | "$SEQREC" import --format movielens - -o old.h5
"$SEQREC" import --format movielens "$DATA" -o new.h5

model=(--set data.max_len=50 --set model.d_model=64 --set model.n_layers=2 --set model.n_heads=2
       --set model.d_ff=256 --set model.dropout=0.2 --set train.lr=0.002 --set train.batch_size=128
       --set train.warmup_steps=20 --set train.eval_every=2 --set train.patience=2
       --set train.epochs=60 --set train.seed=1 --set runtime.device=cpu
       --set runtime.threads="$THREADS" --set data.split=temporal)
run() { # NAME ARGS...: seqrec train, its log in NAME.txt, wall seconds in NAME.seconds
  local name=$1; shift
  local start; start=$(date +%s.%N)
  "$SEQREC" train "${model[@]}" "$@" --set train.checkpoint="$name/ckpt.h5" >"$name.txt" 2>&1
  echo "$(date +%s.%N) - $start" | bc >"$name.seconds"
}
run day0 --set data.events=old.h5 --set data.split_time=$cut_old
run scratch --set data.events=new.h5 --set data.split_time=$cut_new
# Fine-tuning: the day-0 weights and moments, trained and validated on the new week only (the
# weeks before are context), one validation per epoch, patience 3.
run finetune --set data.events=new.h5 --set data.split_time=$cut_new \
  --set model.init_from=day0/ckpt.h5 --set model.init_optimizer=true --set train.warmup_steps=0 \
  --set data.train_since=$cut_old --set train.eval_every=1 --set train.patience=3
for name in day0 scratch finetune; do
  printf '%-9s %6.0f s  %s\n' "$name" "$(cat $name.seconds)" "$(grep '^test ' $name.txt)"
done
grep "weights and Adam moments from" finetune.txt
grep "temporal split at" finetune.txt
# eval repeats the test line from the checkpoint; score writes each user's top 10 for tomorrow.
"$SEQREC" eval "${model[@]}" --set data.events=new.h5 --set data.split_time=$cut_new \
  --set score.checkpoint=finetune/ckpt.h5 | grep -E "^(pop-test|test) "
"$SEQREC" score --set data.events=new.h5 --set score.checkpoint=finetune/ckpt.h5 \
  --set score.k=10 --set score.output=recs.h5 --set runtime.device=cpu --set data.max_len=50 \
  --set runtime.threads="$THREADS" | tail -2
