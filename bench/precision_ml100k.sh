#!/usr/bin/env bash
# bf16 against fp32 on the CPU (train.precision; kernels/README.md "Precision"): MovieLens 100K,
# leave-one-out, configs/ml1m.yaml's model (d 64, 2 layers, full-softmax ce) with max_len 50 and
# a fixed number of epochs, trained once per seed and precision, paired by seed. On the CPU bf16
# is an emulation, so its time says nothing about a GPU; the test NDCG@10 is what it measures.
# Usage: SEQREC=build/cli/seqrec bash bench/precision_ml100k.sh [OUT_DIR]
#   SEEDS="1 2 3"  EPOCHS=20  THREADS=2
set -euo pipefail
: "${SEQREC:?set SEQREC to the seqrec binary}"
repo=$(cd "$(dirname "$0")/.." && pwd)
DATA=${SEQREC_SHARED_DATA:-$repo/../shared/data}/ml-100k/u.data
[ -f "$DATA" ] || { echo "skip: $DATA not found"; exit 77; }
SEQREC=$(realpath "$SEQREC")
OUT=${1:-runs/precision-ml100k}
SEEDS=${SEEDS:-1 2 3}
EPOCHS=${EPOCHS:-20}
THREADS=${THREADS:-2}
mkdir -p "$OUT" && cd "$OUT"
[ -f events.h5 ] || "$SEQREC" import --format movielens "$DATA" -o events.h5 >/dev/null
export OMP_WAIT_POLICY=passive

echo "date $(date -u '+%Y-%m-%d %H:%M UTC'), $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), $THREADS threads, load $(cut -d' ' -f1 /proc/loadavg)"
printf '%-5s %-5s %10s %10s %9s\n' seed prec "NDCG@10" "HR@10" seconds
for seed in $SEEDS; do
  for prec in fp32 bf16; do
    name=$prec-$seed
    start=$(date +%s.%N)
    "$SEQREC" train -c "$repo/configs/ml1m.yaml" --set data.events=events.h5 \
      --set data.max_len=50 --set train.epochs="$EPOCHS" --set train.patience=0 \
      --set train.eval_every="$EPOCHS" --set train.seed="$seed" --set train.precision=$prec \
      --set runtime.device=cpu --set runtime.threads="$THREADS" \
      --set train.checkpoint="$name/ckpt.h5" >"$name.txt" 2>&1 || { tail -5 "$name.txt"; exit 1; }
    seconds=$(echo "$(date +%s.%N) - $start" | bc)
    # the model's test line (not the popularity baseline's)
    awk -v s="$seed" -v p=$prec -v t="$seconds" '$1 == "test" {
      printf "%-5s %-5s %10s %10s %9.1f\n", s, p, $5, $3, t }' "$name.txt"
  done
done | tee table.txt
awk 'NR > 0 { v[$2] += $3; n[$2]++; if ($2 == "fp32") f[$1] = $3; else d[$1] = $3 }
     END { for (s in f) { x = d[s] - f[s]; sx += x; sxx += x * x; m++ }
           mean = sx / m; se = m > 1 ? sqrt((sxx - m * mean * mean) / (m - 1) / m) : 0
           printf "mean NDCG@10: fp32 %.4f, bf16 %.4f; bf16 - fp32 %+.4f (s.e. %.4f, %d seeds)\n",
                  v["fp32"] / n["fp32"], v["bf16"] / n["bf16"], mean, se, m }' table.txt
