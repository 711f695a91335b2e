#!/usr/bin/env bash
# Daily fine-tuning against training from scratch on MovieLens 100K, over several cuts and seeds
# (one cut tests only ~130 returning users: one cut alone cannot tell the two apart).
# For each week W and seed: day 0 trains on weeks 0..W-2; a week later the log holds week W-1
# too, and three models are tested on each user's next event from week W on:
#   scratch    trained from a random start on weeks 0..W-1
#   ft_all     day 0's checkpoint (weights and Adam moments) fine-tuned on weeks 0..W-1
#   ft_week    the same, trained and validated on week W-1's events only (data.train_since;
#              the earlier events are their context)
#   ft_week_p3 ft_week with patience 3 instead of 1 (its validation has only ~80 users)
# Prints one row per run, then per method the mean test NDCG@10 / HR@10 and wall time, and the
# mean paired difference to scratch with its standard error (same test users, same seed).
# Usage: SEQREC=build/cli/seqrec bash bench/finetune_weeks.sh [OUT_DIR]
#        (WEEKS="12 14 16 18 20" SEEDS="1 2 3" THREADS=2 by default)
set -euo pipefail
: "${SEQREC:?set SEQREC to the seqrec binary}"
DATA=${SEQREC_SHARED_DATA:-$(dirname "$0")/../../shared/data}/ml-100k/u.data
[ -f "$DATA" ] || { echo "skip: $DATA not found"; exit 77; }
SEQREC=$(realpath "$SEQREC")
DATA=$(realpath "$DATA")
OUT=${1:-runs/finetune-weeks}
WEEKS=${WEEKS:-12 14 16 18 20}
SEEDS=${SEEDS:-1 2 3}
THREADS=${THREADS:-2}
mkdir -p "$OUT" && cd "$OUT"

T0=$(awk 'NR == 1 || $4 < m { m = $4 } END { print m }' "$DATA")
WEEK=$((7 * 86400))
# The model and schedule of tests/finetune_ml100k.sh (the README's worked example).
model=(--set data.max_len=50 --set model.d_model=64 --set model.n_layers=2 --set model.n_heads=2
       --set model.d_ff=256 --set model.dropout=0.2 --set train.lr=0.002 --set train.batch_size=128
       --set train.warmup_steps=20 --set train.eval_every=2 --set train.patience=2
       --set train.epochs=60 --set runtime.device=cpu --set runtime.threads="$THREADS"
       --set data.split=temporal)
fine=(--set model.init_optimizer=true --set train.warmup_steps=0 --set train.eval_every=1
      --set train.patience=1)
run() { # NAME ARGS...: one training run; prints "seconds ndcg hr"
  local name=$1; shift
  local start; start=$(date +%s.%N)
  "$SEQREC" train "${model[@]}" "$@" --set train.checkpoint="$name/ckpt.h5" >"$name.txt" 2>&1
  local wall; wall=$(echo "$(date +%s.%N) - $start" | bc)
  awk -v w="$wall" '$1 == "test" { print w, $5, $3 }' "$name.txt"
}

"$SEQREC" import --format movielens "$DATA" -o full.h5 >/dev/null
printf 'week seed method seconds ndcg10 hr10\n' >runs.txt
for w in $WEEKS; do
  cut_old=$((T0 + (w - 1) * WEEK))
  cut_new=$((T0 + w * WEEK))
  # Day 0 trains before cut_old on a log that ends at cut_new (its test week); a week later the
  # log is complete.
  awk -v end="$cut_new" '$4 < end' "$DATA" |
    "$SEQREC" import --format movielens - -o "old$w.h5" >/dev/null
  for s in $SEEDS; do
    now=(--set data.events=full.h5 --set data.split_time="$cut_new" --set train.seed="$s")
    run "day0-$w-$s" --set data.events="old$w.h5" --set data.split_time="$cut_old" \
      --set train.seed="$s" >/dev/null
    echo "$w $s scratch $(run "scratch-$w-$s" "${now[@]}")" >>runs.txt
    echo "$w $s ft_all $(run "ft_all-$w-$s" "${now[@]}" "${fine[@]}" \
      --set model.init_from="day0-$w-$s/ckpt.h5")" >>runs.txt
    echo "$w $s ft_week $(run "ft_week-$w-$s" "${now[@]}" "${fine[@]}" \
      --set model.init_from="day0-$w-$s/ckpt.h5" --set data.train_since="$cut_old")" >>runs.txt
    echo "$w $s ft_week_p3 $(run "ft_week_p3-$w-$s" "${now[@]}" "${fine[@]}" \
      --set model.init_from="day0-$w-$s/ckpt.h5" --set data.train_since="$cut_old" \
      --set train.patience=3)" >>runs.txt
    tail -4 runs.txt
  done
done

echo
awk 'NR > 1 { key = $1 " " $2; n[$3]++; t[$3] += $4; nd[$3] += $5; hr[$3] += $6; v[$3, key] = $5 }
     NR > 1 && $3 == "scratch" { keys[key] = 1 }
     END {
       printf "%-10s %4s %9s %9s %9s %22s\n", "method", "runs", "seconds", "NDCG@10", "HR@10",
              "NDCG@10 - scratch (se)"
       n_m = split("scratch ft_all ft_week ft_week_p3", m, " ")
       for (i = 1; i <= n_m; i++) {
         k = m[i]; d = 0; d2 = 0; c = 0
         for (key in keys) { x = v[k, key] - v["scratch", key]; d += x; d2 += x * x; c++ }
         se = c > 1 ? sqrt((d2 - d * d / c) / (c - 1) / c) : 0
         printf "%-10s %4d %9.1f %9.4f %9.4f %+13.4f (%.4f)\n", k, n[k], t[k] / n[k], nd[k] / n[k],
                hr[k] / n[k], d / c, se
       }
     }' runs.txt | tee summary.txt
