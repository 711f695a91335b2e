#!/bin/bash
# tools/cudaemu/run.sh [SRC]: builds SRC with its CUDA sources on the host emulator
# (-DSEQREC_CUDAEMU=ON, sanitizers on) and runs every ctest labelled cuda there on one emulated
# GPU, then the multi-rank ones again on three (NCCL); exit status 1 on any failure, and on any
# skip that means the emulated GPU was not seen (see README.md).
# SRC: a seqrec tree (default: the one holding this script); it is only read.
# Env: WORK (build folder, default /tmp/seqrec-cudaemu), JOBS (default 2), EMU_SCHED / EMU_SEED
# (passed on to the emulator).
set -uo pipefail
EMU=$(cd "$(dirname "$0")" && pwd)
SRC=$(cd "${1:-$EMU/../..}" && pwd) || exit 2
WORK=${WORK:-/tmp/seqrec-cudaemu}
JOBS=${JOBS:-2}
# GPU cases that skip by design on one emulated GPU: one needs a machine without a GPU, one a GPU
# per rank (NCCL: the second run below, with EMU_GPUS=3).
ALLOWED_SKIPS='test_missing_gpu_fails_together|test_gpu_nccl|test_gpu_nccl_refuses_a_shared_gpu'
T0=$(date +%s)
mkdir -p "$WORK/log" || exit 2
die() { echo "FAIL $1 (log: $2)"; tail -n 30 "$2"; exit 2; }

# A build of another tree would be refused by cmake: start afresh.
grep -qx "CMAKE_HOME_DIRECTORY:INTERNAL=$SRC" "$WORK/build/CMakeCache.txt" 2>/dev/null ||
  rm -rf "$WORK/build"
# C at -O0 (the -O1 warnings are gcc's false alarms), the emulated kernels at -O1 for speed.
{ cmake -S "$SRC" -B "$WORK/build" -DCMAKE_BUILD_TYPE=Debug -DCMAKE_CXX_FLAGS_DEBUG="-O1 -g" \
    -DSEQREC_CUDAEMU=ON -DSEQREC_SANITIZE=ON -DSEQREC_WERROR=ON &&
  cmake --build "$WORK/build" -j "$JOBS"; } > "$WORK/log/build.log" 2>&1 ||
  die "build" "$WORK/log/build.log"
echo "built in $(( $(date +%s) - T0 ))s (SRC=$SRC, WORK=$WORK)"

unset EMU_NO_GPU
ctest --test-dir "$WORK/build" -L cuda -j "$JOBS" --output-on-failure > "$WORK/log/ctest.log" 2>&1
rc=$?
grep -E '^ *[0-9]+/[0-9]+ Test +#' "$WORK/log/ctest.log"
last=$WORK/build/Testing/Temporary/LastTest.log
skips=$(grep -hE '^\[  SKIPPED \] [a-z_0-9]+$' "$last" | awk '{print $NF}' | sort -u |
        grep -vxE "$ALLOWED_SKIPS")
fails=0
[ $rc = 0 ] || { fails=1; grep -A 30 -E '\*\*\*(Failed|Timeout|Exception)' "$WORK/log/ctest.log" | head -60; }
if grep -qE '\*\*\*Skipped|Not Run' "$WORK/log/ctest.log"; then
  fails=1; echo "a whole test skipped: the emulated GPU was not seen"
fi
if [ -n "$skips" ]; then
  fails=1; echo "GPU cases skipped (the emulated GPU was not seen):"; echo "$skips" | sed 's/^/    /'
fi

# A GPU per rank (EMU_GPUS=3): the reducer's and seqrec train's NCCL path (tools/cudaemu/nccl.cpp).
EMU_GPUS=3 ctest --test-dir "$WORK/build" -R '^(test_grad_reduce_np[23]|train_cuda)$' -j "$JOBS" \
  --output-on-failure > "$WORK/log/ctest-gpus.log" 2>&1
rc=$?
echo "with EMU_GPUS=3:"
grep -E '^ *[0-9]+/[0-9]+ Test +#' "$WORK/log/ctest-gpus.log"
[ $rc = 0 ] || { fails=1; grep -A 30 -E '\*\*\*(Failed|Timeout|Exception)' "$WORK/log/ctest-gpus.log" | head -60; }
if grep -qE '^\[  SKIPPED \] test_gpu_nccl$' "$last" ||
   ! grep -q 'gradients summed by NCCL' "$last"; then
  fails=1; echo "with a GPU per rank, NCCL was not used (test_gpu_nccl skipped or train_cuda not on NCCL)"
fi
echo "total $(( $(date +%s) - T0 ))s; logs in $WORK/log, $last"
[ $fails = 0 ] && { echo "ALL PASS"; exit 0; }
echo "FAILED"; exit 1
