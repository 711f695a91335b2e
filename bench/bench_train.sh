#!/usr/bin/env bash
# Training throughput of configs/ml1m.yaml next to the backend's sgemm rate, each run measuring
# both: prints the date, the machine, the load, every command and every figure (bench_train does
# the measuring; see bench_train.c for how FLOPs are counted). Not a test: nothing here can fail
# on a slow machine. Run it when the machine is quiet (the load is printed before and after).
# On a GPU machine bench/gpu/session.sh runs bench_train itself (its step "bench").
# Usage: bench/bench_train.sh [BUILD_DIR]        (default: build)
#   STEPS (10) and WARMUP (2): timed and warm-up training steps
#   POLICIES ("default passive"): OMP_WAIT_POLICY for each training run ("default": unset)
#   THREADS ("0"): runtime.threads for each training run (0: all cores)
#   DEVICE (cpu): runtime.device;  NP (1): ranks (mpirun -np NP; the global batch is NP x 128)
#   EVENTS: ML-1M events.h5 (imported from ../shared/data/ml-1m/ml-1m.txt when absent)
#   PROFILE=1 adds the per-op table; E2E=1 also times `seqrec train` for STEPS steps.
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build}
bench="$build/bench/bench_train"
seqrec="$build/cli/seqrec"
steps=${STEPS:-10}
warmup=${WARMUP:-2}
policies=${POLICIES:-default passive}
threads_list=${THREADS:-0}
work=${TMPDIR:-/tmp}/seqrec-bench-train
events=${EVENTS:-$work/ml1m.h5}
raw=${SEQREC_SHARED_DATA:-../shared/data}/ml-1m/ml-1m.txt
for bin in "$bench" "$seqrec"; do
  [ -x "$bin" ] || { echo "no $bin: build first (cmake --build $build)" >&2; exit 1; }
done
mkdir -p "$work"
if [ ! -f "$events" ]; then
  [ -f "$raw" ] || { echo "no $events and no $raw to import it from" >&2; exit 1; }
  "$seqrec" import --format sasrec "$raw" -o "$events" >/dev/null
fi

run() { # prints the command, then runs it
  echo "+ $*"
  "$@"
}

echo "== bench_train.sh"
echo "date      $(date '+%Y-%m-%d %H:%M:%S %Z')"
echo "machine   $(lscpu | sed -n 's/^Model name: *//p' | head -1), $(nproc) CPUs"
echo "commit    $(git rev-parse --short HEAD 2>/dev/null || echo unknown)$(git diff --quiet 2>/dev/null || echo ' (with local changes)')"
echo "uptime    $(uptime)"
echo "build     $build ($(grep -s '^CMAKE_BUILD_TYPE' "$build/CMakeCache.txt" | cut -d= -f2))"

common=(-c configs/ml1m.yaml --set "data.events=$events" --set "runtime.device=${DEVICE:-cpu}")
launch=()
np=${NP:-1}
[ "$np" = 1 ] || launch=(mpirun --allow-run-as-root --oversubscribe -np "$np")
extra=()
[ "${PROFILE:-0}" = 1 ] && extra+=(--profile)
# Each run measures sgemm first (on the CPU: rows split over OpenMP threads, OpenBLAS on one each,
# beside OpenBLAS's own threads) under its own thread settings, so its "% of sgemm" compares
# like with like.
for threads in $threads_list; do
  for policy in $policies; do
    echo
    echo "== training on $np rank(s), runtime.threads=$threads, OMP_WAIT_POLICY=$policy"
    if [ "$policy" = default ]; then
      run env -u OMP_WAIT_POLICY "${launch[@]}" "$bench" "${common[@]}" \
        --set "runtime.threads=$threads" --steps "$steps" --warmup "$warmup" "${extra[@]}"
    else
      run env OMP_WAIT_POLICY="$policy" "${launch[@]}" "$bench" "${common[@]}" \
        --set "runtime.threads=$threads" --steps "$steps" --warmup "$warmup" "${extra[@]}"
    fi
  done
done
if [ "${E2E:-0}" = 1 ]; then
  echo
  echo "== seqrec train, $steps steps end to end (setup and the popularity baseline included)"
  rm -rf "$work/e2e"
  run "$seqrec" train "${common[@]}" --set "train.checkpoint=$work/e2e/ckpt.h5" \
    --set "train.max_steps=$steps" --set train.eval_every=1000 2>&1 | tail -4
fi
echo
echo "uptime    $(uptime)"
