#!/bin/bash
# bench/gpu_ops_per_step.sh: what one training step on the CUDA backend asks of the GPU, counted
# on the host emulator (tools/cudaemu, EMU_PROFILE), no GPU needed: kernel launches, cuBLAS
# GEMMs (shapes, flops), host waits, copies and allocations per step, by site. Counts, not
# times: at a few microseconds per launch and tens per host wait, they bound how fast the step
# can be on any GPU, and show where that overhead comes from.
#
# Runs bench_train (configs/ml1m.yaml unless CONFIG) for 1 and for 2 steps and prints the
# difference, so set-up work is left out. About 3 minutes on 2 cores (the emulator runs a
# step of the ML-1M model in ~55 s).
#   EVENTS=/path/ml1m.h5 bash bench/gpu_ops_per_step.sh
# Env: EVENTS (default: import ../shared/data/ml-1m/ml-1m.txt into WORK), CONFIG, WORK
# (default /tmp/seqrec-emuprof), JOBS (2), SET (extra --set key=value words).
set -euo pipefail
SRC=$(cd "$(dirname "$0")/.." && pwd)
WORK=${WORK:-/tmp/seqrec-emuprof}
JOBS=${JOBS:-2}
CONFIG=${CONFIG:-$SRC/configs/ml1m.yaml}
mkdir -p "$WORK"
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1

# Release, no sanitizers: this counts, it does not check (tools/cudaemu/run.sh checks).
cmake -S "$SRC" -B "$WORK/build" -DCMAKE_BUILD_TYPE=Release -DSEQREC_CUDAEMU=ON \
  -DSEQREC_WERROR=ON > "$WORK/build.log" 2>&1 &&
  cmake --build "$WORK/build" -j "$JOBS" --target seqrec bench_train >> "$WORK/build.log" 2>&1 ||
  { tail -n 30 "$WORK/build.log"; exit 1; }
if [ -z "${EVENTS:-}" ]; then
  EVENTS=$WORK/ml1m.h5
  [ -f "$EVENTS" ] || "$WORK/build/cli/seqrec" import --format sasrec \
    "$SRC/../shared/data/ml-1m/ml-1m.txt" -o "$EVENTS" > "$WORK/import.log"
fi

for steps in 1 2; do
  EMU_PROFILE=$WORK/profile.$steps.tsv "$WORK/build/bench/bench_train" -c "$CONFIG" \
    --set data.events="$EVENTS" --set runtime.device=cuda ${SET:-} \
    --steps $steps --warmup 0 --no-sgemm > "$WORK/bench.$steps.log" 2>&1 ||
    { tail -n 20 "$WORK/bench.$steps.log"; exit 1; }
done
grep -E '^(train|backend) ' "$WORK/bench.1.log"

# The second run's counts less the first's: one step. Columns: kind, site, count, blocks,
# threads, bytes, flops.
awk -F'\t' -v OFS='\t' '
  FNR == 1 { file++; next }
  { key = $1 OFS $2; for (c = 3; c <= 7; c++) v[file, key, c] = $c; keys[key] = 1 }
  END {
    for (key in keys) {
      n = v[2, key, 3] - v[1, key, 3]
      if (n == 0) continue
      split(key, kk, OFS)
      printf "%s\t%s\t%d\t%d\t%d\t%.0f\t%.0f\n", kk[1], kk[2], n, v[2, key, 4] - v[1, key, 4],
             v[2, key, 5] - v[1, key, 5], v[2, key, 6] - v[1, key, 6], v[2, key, 7] - v[1, key, 7]
      tot[kk[1]] += n; flops += v[2, key, 7] - v[1, key, 7]
    }
    for (k in tot) printf "total\t%s\t%d\t0\t0\t0\t0\n", k, tot[k] > "/dev/stderr"
  }' "$WORK/profile.1.tsv" "$WORK/profile.2.tsv" 2> "$WORK/totals.tsv" |
  sort -t$'\t' -k1,1 -k3,3nr > "$WORK/step.tsv"

echo "per training step ($WORK/step.tsv):"
sort "$WORK/totals.tsv" | awk -F'\t' '{printf "  %-7s %6d\n", $2, $3}'
awk -F'\t' '$1 == "gemm" { f += $7 } END { printf "  gemm flops %.2f G\n", f / 1e9 }' "$WORK/step.tsv"
echo "by site (count, blocks or flops):"
awk -F'\t' '{ x = ""
              if ($1 == "gemm") x = sprintf("%.2f GFLOP", $7 / 1e9)
              else if ($1 == "launch") x = sprintf("%d blocks", $4)
              else if ($6 > 0) x = sprintf("%d bytes", $6)
              printf "  %-7s %-52s %5d  %s\n", $1, $2, $3, x }' "$WORK/step.tsv"
