#!/bin/bash
# tools/cudaemu/run.sh [SRC]: builds SRC's CUDA tests against the host emulator and runs them;
# one PASS/FAIL line per binary, exit status 1 on any failure (see README.md).
# SRC: a seqrec tree (default: the one holding this script); it is only read.
# Env: WORK (build folder, default /tmp/seqrec-cudaemu), JOBS (default 2), EMU_TIMEOUT (seconds
# per binary, default 1200), EMU_SCHED / EMU_SEED (passed on to the emulator).
set -uo pipefail
EMU=$(cd "$(dirname "$0")" && pwd)
SRC=$(cd "${1:-$EMU/../..}" && pwd) || exit 2
WORK=${WORK:-/tmp/seqrec-cudaemu}
JOBS=${JOBS:-2}
TESTS="test_kernels test_kernels_loss test_kernels_optim test_kernels_bf16 test_topk_cuda"
SAN="-fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer"
T0=$(date +%s)
mkdir -p "$WORK/log" "$WORK/tmp" && rm -rf "$WORK/emu" && mkdir -p "$WORK/emu" || exit 2
die() { echo "FAIL $1 (log: $2)"; tail -n 30 "$2"; exit 2; }

# 1. The CPU build: the CPU kernels (the tests' reference), topk.c and sr_core, as ctest builds them.
grep -qx "CMAKE_HOME_DIRECTORY:INTERNAL=$SRC" "$WORK/cpu/CMakeCache.txt" 2>/dev/null ||
  rm -rf "$WORK/cpu"   # a build of another tree: cmake would refuse it
{ cmake -S "$SRC" -B "$WORK/cpu" -DCMAKE_BUILD_TYPE=Debug -DSEQREC_CUDA=OFF -DSEQREC_SANITIZE=ON &&
  cmake --build "$WORK/cpu" -j "$JOBS" --target sr_kernels sr_scorer; } > "$WORK/log/cpu.log" 2>&1 ||
  die "CPU build" "$WORK/log/cpu.log"

# 2. Every .cu the tests reach, rewritten to host C++; the draft backend until the real one exists.
CU=("$SRC"/kernels/*.cu "$SRC/scorer/topk_cuda.cu" "$SRC/comm/device_cuda.cu")
[ -e "$SRC/kernels/backend_cuda.cu" ] || CU+=("$SRC/kernels/backend_cuda.cu.draft")
for f in "${CU[@]}"; do
  b=$(basename "${f%.draft}" .cu)
  python3 "$EMU/conv.py" "$f" "$WORK/emu/$b.cu.cpp" || die "conv.py $f" /dev/null
done

# 3. Compile (at most JOBS at once) the converted sources, the emulator and the tests.
cxx="g++ -std=c++20 -O1 -g $SAN -ffp-contract=off -Wall -Wno-sign-compare -Wno-comment -Wno-unknown-pragmas -I$EMU/include -I$SRC"
cc="gcc -std=c11 -O1 -g $SAN -fopenmp -D_POSIX_C_SOURCE=200809L -I$SRC -I$SRC/tests \
    -DSEQREC_TEST_TMP='\"$WORK/tmp\"' -DSEQREC_BINARY='\"/nonexistent\"' -DSEQREC_SHARED_DATA='\"/nonexistent\"'"
{
  for f in "$WORK"/emu/*.cu.cpp "$EMU/emu.cpp"; do
    echo "$cxx -c $f -o $WORK/emu/$(basename "${f%.cpp}").o"
  done
  for t in $TESTS gradcheck; do echo "$cc -c $SRC/tests/$t.c -o $WORK/emu/t_$t.o"; done
} | xargs -d '\n' -P "$JOBS" -I{} bash -c '{}' > "$WORK/log/compile.log" 2>&1 ||
  die "compile" "$WORK/log/compile.log"

# 4. Link: the emulated objects as an archive, so each test takes only what it calls; the CPU
#    kernels less their "built without CUDA" stand-in.
ar rcs "$WORK/emu/libcudaemu.a" "$WORK"/emu/*.cu.o "$WORK/emu/emu.o"
CPU_OBJ=$(ls "$WORK"/cpu/kernels/CMakeFiles/sr_kernels.dir/*.o | grep -v backend_cuda_none)
CPU_OBJ="$CPU_OBJ $WORK/cpu/scorer/CMakeFiles/sr_scorer.dir/topk.c.o"
for t in $TESTS; do
  extra=; case $t in test_kernels*) extra=$WORK/emu/t_gradcheck.o;; esac
  g++ $SAN -fopenmp "$WORK/emu/t_$t.o" $extra $CPU_OBJ "$WORK/emu/libcudaemu.a" \
      "$WORK/cpu/core/libsr_core.a" -lcmocka -lyaml -lopenblas -lm -lpthread -o "$WORK/emu/$t" \
      >> "$WORK/log/link.log" 2>&1 || die "link $t" "$WORK/log/link.log"
done
echo "built in $(( $(date +%s) - T0 ))s (SRC=$SRC, WORK=$WORK)"

# 5. Run. PASS: exit 0, some test OK, none failed or skipped (a skip means no emulated GPU seen).
unset EMU_NO_GPU
export ASAN_OPTIONS=detect_leaks=1 LSAN_OPTIONS=suppressions=$SRC/tests/lsan.supp
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
fails=0
for t in $TESTS; do
  t1=$(date +%s)
  (cd "$WORK/tmp" && timeout "${EMU_TIMEOUT:-1200}" "$WORK/emu/$t") > "$WORK/log/$t.log" 2>&1
  rc=$?
  log=$WORK/log/$t.log
  ok=$(grep -c '^\[       OK \]' "$log"); run=$(grep -c '^\[ RUN      \]' "$log")
  bad=$(grep -E '^\[  (FAILED|SKIPPED) *\] [a-z_]|^\[  ERROR' "$log" | sort -u)
  if [ $rc = 0 ] && [ "$ok" -gt 0 ] && [ "$ok" = "$run" ] && [ -z "$bad" ]; then s=PASS; else s=FAIL; fi
  echo "$s $t ($(( $(date +%s) - t1 ))s, $ok/$run ok, rc=$rc)"
  if [ $s = FAIL ]; then
    fails=$((fails + 1))
    [ -n "$bad" ] && echo "$bad" | sed 's/^/    /'
    last=$(grep -E '^\[ +(RUN|OK|FAILED|SKIPPED) ' "$log" | tail -n 1)
    case $last in "[ RUN"*) echo "    stopped in: ${last:13}";; esac
    grep -v '^\[' "$log" | grep -m 5 -E 'EMU|Sanitizer|runtime error|!=|assert' | sed 's/^/    | /'
    echo "    log: $log"
  fi
done
echo "total $(( $(date +%s) - T0 ))s"
[ $fails = 0 ] && { echo "ALL PASS"; exit 0; }
echo "$fails binary(ies) FAILED"; exit 1
