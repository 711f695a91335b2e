#!/usr/bin/env bash
# bench/bench_train keeps working: two timed steps of a tiny model on a generated log, on one
# rank and on two under mpirun, each printing its RESULT line (targets/s, tokens/s, the share of
# the sgemm rate measured in the same run, the all-reduce time) and the all-reduce it used. Not
# a speed test: no figure is compared with anything.
source "$(dirname "$0")/train_lib.sh"
: "${BENCH_TRAIN:?}"

"$SEQREC" gen --users 300 --items 150 --events 6000 --seed 3 -o events.h5 >/dev/null
# the sgemm shapes are fixed (ML-1M's), so one repeat of each keeps this to a few seconds
args=("${TINY[@]}" --set data.events=events.h5 --set train.loss=ce --set train.batch_size=16
      --steps 2 --warmup 1 --sgemm-repeat 1)

# check LOG RANKS MODE: the summary of a run on RANKS ranks whose all-reduce was MODE
check() {
  local log=$1 ranks=$2 mode=$3 result
  result=$(grep '^RESULT ' "$log") || fail "$log: no RESULT line: $(tail -3 "$log")"
  echo "$result"
  # RESULT N targets/s  S s/step  G GFLOP/s  (...)  N tokens/s  X% of sgemm  S s all-reduce/step
  echo "$result" | grep -Eq '^RESULT +[0-9]+ targets/s +[0-9.]+ s/step +[0-9.]+ GFLOP/s .*\) +[0-9]+ tokens/s +[0-9.]+% of sgemm +[0-9.]+ s all-reduce/step +'"$ranks"' ranks +cpu$' \
    || fail "$log: the RESULT line lacks a field"
  grep -Eq '^per step .* all-reduce [0-9.]+, optimizer' "$log" || fail "$log: no step split"
  grep -q "^all-reduce $mode, $ranks rank" "$log" || fail "$log: not the $mode all-reduce: $(grep '^all-reduce' "$log")"
  [ "$(grep -Ec '^ +[0-9]+ +[0-9]+ ' "$log")" -eq 3 ] || fail "$log: not 3 step lines"
}

"$BENCH_TRAIN" "${args[@]}" >np1.log 2>&1 || fail "bench_train exited $?: $(tail -5 np1.log)"
check np1.log 1 'none (one rank)'

have_mpi || { echo "no mpirun: the 2-rank run skipped"; exit 77; }
"$MPIEXEC" --oversubscribe --allow-run-as-root -np 2 "$BENCH_TRAIN" "${args[@]}" >np2.log 2>&1 \
  || fail "bench_train on 2 ranks exited $?: $(tail -5 np2.log)"
check np2.log 2 'MPI on host memory'
grep -q "all 2 ranks at once" np2.log || fail "np2.log: no job-wide sgemm rate"
