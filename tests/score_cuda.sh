#!/usr/bin/env bash
# seqrec score on a GPU (runtime.device: cuda) writes the rows the CPU writes: on 1 rank, on 2
# ranks sharing the GPU, with k above the candidates (padding) and with seen items allowed.
# Exactly the same while the user states come from the CPU kernels; once the CUDA kernels
# compute them, scores within 1e-4 of the largest and at most 1% of the items in other places
# (near-ties).
# Skipped where no GPU is visible.
source "$(dirname "$0")/score_lib.sh"
command -v h5diff >/dev/null || { echo "no h5diff: skipped"; exit 77; }
make_run 600 400 20000

rc=0
"$SEQREC" score -c score.yaml --set runtime.device=cuda --set score.output=run/cuda.h5 \
  >cuda.txt 2>&1 || rc=$?
if [ "$rc" -ne 0 ] && grep -q "no GPU is visible" cuda.txt; then
  echo "no GPU visible: skipped"
  exit 77
fi
[ "$rc" -eq 0 ] || fail "score on cuda: $(tail -5 cuda.txt)"
grep -q "score: top-k on GPU 0" cuda.txt || fail "no device line: $(cat cuda.txt)"
exact=0
grep -q "user states on the CPU" cuda.txt && exact=1

# same_rows CPU GPU: the datasets agree as the header says. Scores within 1e-4 of the largest
# one (near-zero scores are differences of larger terms: their relative error is unbounded).
same_rows() {
  if [ "$exact" = 1 ]; then same_data "$1" "$2"; return; fi
  local tol
  tol=$(h5dump -d /recs/score -y -w 0 "$1" | sed -n '/DATA {/,/}/p' | tr -s ', ' '\n' |
        awk '$1 ~ /^-?[0-9]/ { v = $1 < 0 ? -$1 : $1; if (v > m) m = v } END { print 1e-4 * m }')
  h5diff -q -d "$tol" "$1" "$2" /recs/score /recs/score || fail "$1 and $2: scores differ by > $tol"
  local n total
  h5diff -v "$1" "$2" /recs/item /recs/item >items.diff || [ $? -eq 1 ] ||
    fail "h5diff $1 $2: $(tail -3 items.diff)" # 1: differences found
  n=$(awk '/differences found/ {s += $1} END {print s + 0}' items.diff)
  total=$(h5dump -H -d /recs/item "$1" | awk -F'[(), ]+' '/DATASPACE/ && !n {n = $5 * $6} END {print n}')
  [ $((n * 100)) -le "$total" ] || fail "$1 and $2: $n of $total items in other places"
}

"$SEQREC" score -c score.yaml --set score.output=run/cpu.h5 >cpu.txt 2>&1 \
  || fail "score on cpu: $(tail -5 cpu.txt)"
same_rows run/cpu.h5 run/cuda.h5
if have_mpi; then
  mpi 2 "$SEQREC" score -c score.yaml --set runtime.device=cuda --set score.output=run/np2.h5 \
    >np2.txt 2>&1 || fail "score on cuda, 2 ranks: $(tail -5 np2.txt)"
  same_rows run/cpu.h5 run/np2.h5
fi
for set in "score.k=500" "score.exclude_seen=false"; do
  "$SEQREC" score -c score.yaml --set "$set" --set score.output=run/cpu-x.h5 >x.txt 2>&1 \
    || fail "cpu, $set: $(tail -5 x.txt)"
  "$SEQREC" score -c score.yaml --set "$set" --set runtime.device=cuda \
    --set score.output=run/cuda-x.h5 >x.txt 2>&1 || fail "cuda, $set: $(tail -5 x.txt)"
  same_rows run/cpu-x.h5 run/cuda-x.h5
done
"$SEQREC" info run/cuda.h5 >info.txt 2>&1 || fail "info: $(cat info.txt)"
echo "score_cuda: ok"
