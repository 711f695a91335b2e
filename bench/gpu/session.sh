#!/usr/bin/env bash
# The one command of a GPU session (bench/gpu/README.md): unpacks .debs/ into a prefix, builds
# seqrec with CUDA against it, wires the CUDA backend, runs the GPU tests, times training on
# ML-1M (.gpudata/) with bench_train and seqrec train on the GPU and the CPU, then runs the rest
# of ctest with what time is left.
# Everything goes to $OUT: log (this output), summary.txt (one line per step), results.tar.gz
# (every step's full log, CMakeCache.txt, the training metrics).
#
# Each step is timed, has its own limit, and may fail without stopping the later ones; all of
# them together stay inside DEADLINE seconds (the device allows 10 minutes a call and 15 of
# device time a task, machine start included: one full call, and perhaps a short second one
# while the machine is still warm).
#   GPU=0            dry run on a machine without a GPU: no nvidia-smi, training on the CPU
#   CUDA=auto|0|1    build the CUDA code (auto: when nvcc is found)
#   DEADLINE=480     seconds for all steps;  JOBS=$(nproc)  build and ctest parallelism
#   BENCH_LIMIT=70 BENCH_NP2_LIMIT=40   seconds for bench_train on 1 rank and on 2
#   GPU_TRAIN_LIMIT=150 GPU_BF16_LIMIT=100 CPU_TRAIN_LIMIT=60   seconds for each seqrec train
#   PREFIX=/tmp/prefix  WORK=/tmp/seqrec-session   where the packages and the build go
# The build runs in a copy of the tree (WORK/src), so wiring the backend never touches the
# checkout, and the copy has no ../shared/data: tests that need it skip, as on the device.
set -euo pipefail
repo=$(cd "$(dirname "$0")/../.." && pwd)
: "${OUT:?set OUT to the folder for the log and results}"
mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)
GPU=${GPU:-1}
CUDA=${CUDA:-auto}
DEADLINE=${DEADLINE:-480}
JOBS=${JOBS:-$(nproc)}
PREFIX=${PREFIX:-/tmp/prefix}
WORK=${WORK:-/tmp/seqrec-session}
start=$SECONDS
results=()

# step NAME LIMIT COMMAND...: runs COMMAND (a function of this script or a program) under
# timeout, its whole output in WORK/logs/NAME.log and its last lines here; records the result.
step() {
  local name=$1 limit=$2 left rc t0
  shift 2
  left=$((DEADLINE - (SECONDS - start)))
  ((limit <= left - 15)) || limit=$((left - 15))   # 15 s kept for the summary and the tarball
  echo
  echo "=== $name (limit ${limit}s, $((SECONDS - start))s into the session)"
  if ((limit < 10)); then
    echo "skipped: out of time"
    results+=("$(printf '%-12s %-8s %5s  %s' "$name" SKIP 0s 'out of time')")
    return 0
  fi
  t0=$SECONDS
  rc=0
  timeout -k 10 "$limit" bash -c "$(declare -f); set -euo pipefail; $(printf '%q ' "$@")" \
    >"$WORK/logs/$name.log" 2>&1 || rc=$?
  # more of a failing step's log: the errors are rarely in its last lines alone
  if ((rc == 0)); then tail -n 25 "$WORK/logs/$name.log"; else tail -n 60 "$WORK/logs/$name.log"; fi
  local status=PASS note
  note=$(grep '^NOTE: ' "$WORK/logs/$name.log" | tail -n 1 | cut -c7-) || true
  if ((rc == 124 || rc == 137)); then status=TIMEOUT; note="killed after ${limit}s"
  elif ((rc == 77)); then status=SKIP; note=$(tail -n 1 "$WORK/logs/$name.log")
  elif ((rc != 0)); then status=FAIL; note="exit $rc"; fi
  echo "--- $name: $status in $((SECONDS - t0))s $note"
  results+=("$(printf '%-12s %-8s %5s  %s' "$name" "$status" "$((SECONDS - t0))s" "$note")")
}

# ---- the steps (each runs in its own bash under step, with this environment) -------------
machine() {
  echo "libraries the image has already:"
  ldconfig -p | awk '$1 ~ /^lib(mpi\.so\.40|hdf5.*\.so\.103|yaml-0\.so\.2|cmocka\.so\.0|openblas\.so\.0|nccl\.so\.2|cublas\.so\.[0-9]+|cudart\.so\.[0-9]+)$/ {print "  " $1 " " $NF}'
  # MPI and CUDA settings the image may bring, which would fight the prefix's Open MPI
  env | grep -E '^(OMPI|OPAL|PMIX|CUDA|NVIDIA|LD_LIBRARY_PATH|PATH)' | cut -c1-200 | sort || true
  uname -a
  grep PRETTY_NAME /etc/os-release || true
  echo "cpus $(nproc); $(grep MemTotal /proc/meminfo)"
  local tool v
  for tool in gcc cmake ninja nvcc dpkg-deb python3; do
    # the first line with a version (nvcc's comes fourth); an error line if it will not start
    v=$("$tool" --version 2>&1 | grep -m 1 -E 'release [0-9]|[0-9]+\.[0-9]+|error|not found') || v=missing
    printf '%-10s %s\n' "$tool" "$(command -v "$tool" || echo -) ${v:0:100}"
  done
}

unpack() {
  rm -rf "$PREFIX"
  bash "$repo/bench/gpu/unpack.sh" "$PREFIX" "$repo/.debs"
  source "$PREFIX/env.sh"
  mpirun --allow-run-as-root -np 2 hostname
  h5dump --version
}

gpu_info() {
  nvidia-smi
  nvidia-smi --query-gpu=name,memory.total,memory.used,driver_version,clocks.sm,clocks.max.sm,temperature.gpu,power.draw --format=csv
}

configure() {
  local cuda_flag=OFF
  [ "$cuda_on" = 1 ] && cuda_flag=ON
  # NCCL: the image's PyTorch ships it as a wheel (nvidia/nccl/{include,lib}); the toolkit may not.
  if [ -z "${NCCL_ROOT:-}" ] && command -v python3 >/dev/null; then
    NCCL_ROOT=$(python3 -c 'import nvidia.nccl as n; print(list(n.__path__)[0])' 2>/dev/null) || true
    if [ -n "$NCCL_ROOT" ]; then export NCCL_ROOT; echo "NCCL_ROOT=$NCCL_ROOT"; ls "$NCCL_ROOT"/*; fi
  fi
  cmake -S "$WORK/src" -B "$WORK/build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DSEQREC_WERROR=ON \
    -DSEQREC_CUDA=$cuda_flag -DCMAKE_CUDA_ARCHITECTURES=90
  # every dependency must come from the prefix (or the CUDA toolkit and the C toolchain)
  echo "--- dependencies found:"
  grep -E '^(MPI_C_COMPILER|MPIEXEC_EXECUTABLE|HDF5_C_COMPILER_EXECUTABLE|HDF5_C_LIBRARY_hdf5|HDF5_DIFF_EXECUTABLE|BLAS_openblas_LIBRARY|CBLAS_INCLUDE_DIR|CMOCKA_LIBRARY|pkgcfg_lib_YAML_yaml|PKG_CONFIG_EXECUTABLE|CMAKE_CUDA_COMPILER|NCCL_LIBRARY):' \
    "$WORK/build/CMakeCache.txt"
  grep -E 'seqrec:' "$WORK/build/CMakeFiles/CMakeOutput.log" 2>/dev/null || true
}

build() {
  local rc=0
  ninja -C "$WORK/build" -j "$JOBS" >"$WORK/logs/ninja.log" 2>&1 || rc=$?
  tail -n 3 "$WORK/logs/ninja.log"
  if ((rc)); then
    echo "--- compiler errors (all of it in logs/ninja.log):"
    grep -E -A4 'error|FAILED' "$WORK/logs/ninja.log" | head -n 80
    # The image's compiler (gcc 13 on Ubuntu 24.04) may warn where Debian's gcc 12 does not, and
    # warnings are errors here: build again without that, so the GPU steps still get a binary.
    echo "--- building again with SEQREC_WERROR=OFF"
    cmake -DSEQREC_WERROR=OFF "$WORK/build" >"$WORK/logs/configure-nowerror.log" 2>&1
    ninja -C "$WORK/build" -j "$JOBS" >"$WORK/logs/ninja-nowerror.log" 2>&1 || exit "$rc"
    grep -E 'warning' "$WORK/logs/ninja-nowerror.log" | sort -u | head -n 40
    echo "NOTE: built only with SEQREC_WERROR=OFF (the warnings are above and in logs/)"
  fi
  ldd "$WORK/build/cli/seqrec" | grep -E 'hdf5|mpi|yaml|blas|cuda|cublas|nccl|not found' || true
}

# the tests that run on the GPU (ctest label cuda): every kernel's "on cuda" group, the reducer,
# the model, the top-k, seqrec score and seqrec train against the CPU
gpu_tests() {
  cd "$WORK/build"
  ctest -L cuda -j 4 --output-on-failure --timeout 150
  # data parallel on the one GPU: 2 and 3 ranks follow 1 rank with the whole batch
  if [ "$GPU" = 1 ]; then TRAIN_DEVICE=cuda ctest -R '^train_parallel$' --output-on-failure --timeout 120; fi
}

# ML-1M's events.h5 at WORK/data/ml1m.h5, imported once for the steps that train on it
ml1m_events() {
  local data=$WORK/data
  [ -f "$data/ml1m.h5" ] && return 0
  mkdir -p "$data"
  xz -dc "$repo/.gpudata/ml-1m.txt.xz" >"$data/ml-1m.txt"
  (cd "$data" && sha256sum -c "$repo/.gpudata/ml-1m.txt.sha256")
  "$WORK/build/cli/seqrec" import --format sasrec "$data/ml-1m.txt" -o "$data/ml1m.h5"
}

# bench_train (bench/bench_train.c) on ML-1M: tokens/s, the step split (forward, loss, backward,
# all-reduce, optimizer) and TFLOP/s beside the sgemm rate (cuBLAS) measured in the same run; then
# 2 ranks on the one GPU, whose gradients go through pinned host memory and MPI. Each run has its
# own limit, so a slow first one still leaves time for the second. GPU=0: on the CPU, 2 steps.
train_bench() {
  local bench=$WORK/build/bench/bench_train device=cuda steps=20 warmup=3 rc=0 note="" n r
  [ "$GPU" = 1 ] || { device=cpu; steps=2; warmup=1; }
  ml1m_events
  cd "$WORK/src"
  local args=(-c configs/ml1m.yaml --set "data.events=$WORK/data/ml1m.h5"
              --set "runtime.device=$device" --steps "$steps" --warmup "$warmup")
  echo "=== bench_train on $device, 1 rank: $warmup warm-up + $steps timed steps of ML-1M"
  timeout -k 5 "${BENCH_LIMIT:-70}" "$bench" "${args[@]}" 2>&1 | tee "$WORK/logs/bench-np1.txt" \
    || rc=$?
  # where a step's time goes, op by op (a synchronize around each, so a separate short run):
  # the first place to look when the epoch is over its second
  local psteps=3
  [ "$GPU" = 1 ] || psteps=1
  echo "=== per-op profile on $device, 1 rank: 1 warm-up + $psteps steps (bench_train --profile)"
  timeout -k 5 "${BENCH_PROFILE_LIMIT:-30}" "$bench" "${args[@]}" --steps "$psteps" --warmup 1 \
    --profile 2>&1 | tee "$WORK/logs/bench-profile.txt" || true
  echo "=== the same on 2 ranks sharing the $device (mpirun -np 2)"
  timeout -k 5 "${BENCH_NP2_LIMIT:-40}" mpirun --allow-run-as-root -np 2 "$bench" "${args[@]}" \
    2>&1 | tee "$WORK/logs/bench-np2.txt" || rc=$?
  # for the summary: each run's tokens/s and share of the sgemm rate, from its RESULT line
  for n in 1 2; do
    r=$(sed -n 's/^RESULT .*) *\([0-9]*\) tokens\/s *\([^ ]*\) of sgemm .*/\1 tokens\/s, \2 of sgemm/p' \
      "$WORK/logs/bench-np$n.txt")
    note+="; np $n: ${r:-no RESULT line}"
  done
  echo "NOTE: $device$note"
  exit "$rc"
}

# timed_train LABEL LIMIT ARGS...: seqrec train ARGS under LIMIT seconds, every output line
# stamped (WORK/logs/train-LABEL.stamped), the log shown without the config echo, then one line
# (TRAIN:, also in WORK/logs/train-notes.txt) with issue 4's figures: the whole run, epochs,
# seconds per epoch with validation, the first epoch (set-up and warm-up), when validation
# NDCG@10 first reached 0.170 (the time to the bar on validation; on ML-1M test has followed
# validation within ~0.001), the best validation and the test NDCG@10 of the best weights.
timed_train() {
  local label=$1 limit=$2 rc=0 t0=${EPOCHREALTIME:-$SECONDS} t1
  shift 2
  timeout -k 5 "$limit" "$WORK/build/cli/seqrec" train "$@" 2>&1 |
    while IFS= read -r line; do printf '%s %s\n' "${EPOCHREALTIME:-$SECONDS}" "$line"; done \
      > "$WORK/logs/train-$label.stamped" || rc=$?
  t1=${EPOCHREALTIME:-$SECONDS}
  cut -d' ' -f2- "$WORK/logs/train-$label.stamped" | grep -Ev '^  [a-z_]+\.[a-z_.]+ ' || true
  awk -v t0="$t0" -v t1="$t1" -v label="$label" -v rc="$rc" '
    # the first NDCG@10 of a line is the full-ranking one (the second: sampled-100)
    function ndcg(i) { for (i = 3; i < NF; i++) if ($i == "NDCG@10") return $(i+1) + 0 }
    $2 == "valid" {
      n++; t[n] = $1 - t0; v = ndcg(); if (v > best) best = v
      if (v >= 0.170 && bar == "") bar = sprintf("epoch %d, %.1f s", n, t[n])
    }
    $2 == "test" { test = ndcg() }
    END {
      printf "TRAIN: %s: exit %s, %.1f s in all, ", label, rc, t1 - t0
      if (n == 0) { print "no epoch finished"; exit }
      printf "%d epochs, %.2f s/epoch with validation (the first done at %.1f s); valid NDCG@10 >= 0.170: %s; best valid NDCG@10 %.4f, test NDCG@10 %s\n",
        n, (n > 1 ? (t[n] - t[1]) / (n - 1) : t[1]), t[1], (bar == "" ? "never" : bar), best,
        (test == "" ? "- (not reached)" : test)
    }' "$WORK/logs/train-$label.stamped" | tee -a "$WORK/logs/train-notes.txt"
  return "$rc"
}

# Issue 4's training lines on the GPU: configs/ml1m.yaml as it stands (early stopping, patience
# 10), fp32 and then bf16, each to the end if it gets there within its limit; then one epoch on
# the CPU with every thread, the speed baseline of the same machine. The quality reference (the
# CPU run's test NDCG@10) is in bench/RESULTS.md.
train() {
  local events=$WORK/data/ml1m.h5 rc=0
  ml1m_events
  cd "$WORK/src"
  local common=(-c configs/ml1m.yaml --set "data.events=$events")
  if [ "$GPU" = 1 ]; then
    echo "=== seqrec train on cuda, fp32: configs/ml1m.yaml to early stopping (${GPU_TRAIN_LIMIT:-150} s at most)"
    timed_train cuda-fp32 "${GPU_TRAIN_LIMIT:-150}" "${common[@]}" --set runtime.device=cuda \
      --set "train.checkpoint=$WORK/train-cuda/ckpt.h5" || rc=$?
    echo "=== the same in bf16 (train.precision; issue 4: within 0.01 NDCG@10 of the CPU's fp32)"
    timed_train cuda-bf16 "${GPU_BF16_LIMIT:-100}" "${common[@]}" --set runtime.device=cuda \
      --set train.precision=bf16 --set "train.checkpoint=$WORK/train-cuda-bf16/ckpt.h5" || true
    # a slow or broken GPU run must not cost the baseline
    echo "=== one epoch on the CPU, $JOBS threads (the speed baseline)"
    timed_train cpu "${CPU_TRAIN_LIMIT:-60}" "${common[@]}" --set runtime.device=cpu \
      --set "runtime.threads=$JOBS" --set train.epochs=1 \
      --set "train.checkpoint=$WORK/train-cpu/ckpt.h5" || true
    echo "NOTE: $(sed 's/^TRAIN: //' "$WORK/logs/train-notes.txt" | paste -sd '|')"
    exit "$rc"
  fi
  echo "=== dry run: the demo (configs/demo.yaml) for 3 epochs on the CPU (the timing and the notes)"
  "$WORK/build/cli/seqrec" gen --users 1000 --items 500 --events 20000 --seed 1 \
    -o "$WORK/data/demo.h5" > /dev/null
  timed_train cpu "${CPU_TRAIN_LIMIT:-60}" -c configs/demo.yaml --set "data.events=$WORK/data/demo.h5" \
    --set train.epochs=3 --set "train.checkpoint=$WORK/train-cpu/ckpt.h5"
  echo "NOTE: $(sed 's/^TRAIN: //' "$WORK/logs/train-notes.txt")"
}

topk() {
  [ "$GPU" = 1 ] || { echo "no GPU (dry run): skipped"; exit 77; }
  local bench=$WORK/build/bench/bench_topk
  # issue 5's GPU line: 1M users x 1M items x d 64, k 100 at >= 200,000 users/s, beside the
  # same sgemms alone (gemm-only) timed in the same run; a small run first, so a slow or broken
  # top-k still leaves a figure
  "$bench" --device cuda --users 100000 --items 100000
  "$bench" --device cuda --users 1000000 --items 1000000
}

# the rest of ctest: not the GPU tests (run above), not the two that need Slurm or gnuplot
rest_tests() {
  cd "$WORK/build"
  ctest -LE cuda -E '^(slurm_jobs|sweep_local)$' -j "$JOBS" \
    --output-on-failure --timeout 120
}

package() {
  cp "$WORK/build/CMakeCache.txt" "$WORK/logs/" 2>/dev/null || true
  local f
  for f in "$WORK"/train-*/*; do   # metrics.jsonl of each run; not the checkpoints
    case $f in *.h5 | *"train-*/*") ;; *) cp "$f" "$WORK/logs/$(basename "$(dirname "$f")")-$(basename "$f")" ;; esac
  done
  cp "$WORK/build/Testing/Temporary/LastTest.log" "$WORK/logs/ctest-LastTest.log" 2>/dev/null || true
  tar -czf "$OUT/results.tar.gz" -C "$WORK" logs
}

# ---- the session ---------------------------------------------------------------------------
session() {
  echo "=== bench/gpu/session.sh: $(date -u '+%Y-%m-%d %H:%M:%S UTC'), GPU=$GPU CUDA=$CUDA JOBS=$JOBS DEADLINE=${DEADLINE}s"
  echo "commit $(git -C "$repo" rev-parse --short HEAD 2>/dev/null || echo unknown)$(git -C "$repo" diff --quiet 2>/dev/null || echo ' (with local changes)')"
  rm -rf "$WORK"
  mkdir -p "$WORK/logs" "$WORK/src"
  # the tree without the packages, the data and any build folders
  tar -C "$repo" --exclude=./.debs --exclude=./.gpudata --exclude='./build*' --exclude=./runs \
    -cf - . | tar -C "$WORK/src" -xf -
  [ -d /usr/local/cuda/bin ] && ! command -v nvcc >/dev/null && export PATH=$PATH:/usr/local/cuda/bin
  cuda_on=0
  if [ "$CUDA" = 1 ] || { [ "$CUDA" = auto ] && command -v nvcc >/dev/null; }; then cuda_on=1; fi
  export repo GPU JOBS PREFIX WORK cuda_on

  step machine 30 machine
  step unpack 90 unpack
  # the later steps run with the prefix's environment (a failed unpack leaves what it could)
  [ -f "$PREFIX/env.sh" ] && source "$PREFIX/env.sh"
  if [ "$GPU" = 1 ]; then step nvidia-smi 30 gpu_info; fi
  # kernels/README.md: the CUDA backend is wired by renaming the draft (in the copy only)
  if [ "$cuda_on" = 1 ] && [ -f "$WORK/src/kernels/backend_cuda.cu.draft" ]; then
    cp "$WORK/src/kernels/backend_cuda.cu.draft" "$WORK/src/kernels/backend_cuda.cu"
    echo
    echo "=== wired the CUDA backend: kernels/backend_cuda.cu.draft -> backend_cuda.cu (in $WORK/src)"
  fi
  step configure 120 configure
  step build 300 build
  step gpu-tests 150 gpu_tests
  step bench 150 train_bench
  step topk 90 topk
  step train 330 train
  step ctest 240 rest_tests
  package || true

  echo
  echo "=== summary ($((SECONDS - start))s; full logs in results.tar.gz)"
  printf '%s\n' "${results[@]}" | tee "$OUT/summary.txt"
}

set -o pipefail
session 2>&1 | tee "$OUT/log"
