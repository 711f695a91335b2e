#!/usr/bin/env bash
# seqrec score and eval end to end on a trained tiny model: recs.h5 is written and checked by
# info, h5dump reads it, 1, 2 and 3 ranks write the same data, a rerun replaces the file, and
# eval prints the trainer's own test line for the checkpoint.
source "$(dirname "$0")/score_lib.sh"
command -v h5diff >/dev/null && command -v h5dump >/dev/null \
  || { echo "no h5diff/h5dump: skipped"; exit 77; }
make_run 700 300 14000

"$SEQREC" score -c score.yaml >score.txt 2>&1 || fail "score: $(tail -5 score.txt)"
grep -q "score: ok (700 users" score.txt || fail "score summary: $(tail -3 score.txt)"
grep -q "users/s" score.txt || fail "no progress line: $(cat score.txt)"
[ -f run/recs.h5 ] && [ ! -e run/recs.h5.tmp ] || fail "no recs.h5, or a tmp file left"

"$SEQREC" info run/recs.h5 >info.txt 2>&1 || fail "info: $(cat info.txt)"
grep -q "seqrec-recs version 1, checked: ok" info.txt || fail "info: $(cat info.txt)"
grep -q "700 scored (all) of 700" info.txt || fail "info users: $(cat info.txt)"
grep -q "none recommended" info.txt || fail "info seen check: $(cat info.txt)"
grep -q "the file still matches" info.txt || fail "info checkpoint digest: $(cat info.txt)"
grep -q "^    u0 " info.txt || fail "info first users: $(cat info.txt)"

# Plain HDF5 tools read it: shapes and the raw ids.
h5dump -H run/recs.h5 >dump.txt || fail "h5dump -H failed"
grep -q 'DATASET "item"' dump.txt && grep -q "( 700, 20 )" dump.txt \
  || fail "h5dump: $(cat dump.txt)"
h5dump -d /items/raw_id -s 1 -c 1 run/recs.h5 | grep '(1): "i1' >/dev/null || fail "h5dump /items/raw_id"
h5dump -a /format run/recs.h5 | grep '"seqrec-recs"' >/dev/null || fail "h5dump format attribute"

# 1, 2 and 3 ranks: the same data.
cp run/recs.h5 alone.h5
if have_mpi; then
  for np in 1 2 3; do
    mpi "$np" "$SEQREC" score -c score.yaml --set score.output=run/np$np.h5 >np$np.txt 2>&1 \
      || fail "score on $np ranks: $(tail -5 np$np.txt)"
    same_data alone.h5 run/np$np.h5
    [ "$(grep -c 'score: ok' np$np.txt)" -eq 1 ] \
      || fail "rank 0 alone should print: $(cat np$np.txt)"
  done
  mpi 3 "$SEQREC" info run/np3.h5 >info3.txt 2>&1 || fail "info under mpirun: $(cat info3.txt)"
  # A subset on 3 ranks equals the subset on one.
  printf 'u5\nu699\nu350\nu1\n' >some.txt
  "$SEQREC" score -c score.yaml --set score.users=some.txt --set score.output=run/some1.h5 \
    >some1.txt 2>&1 || fail "score users file: $(cat some1.txt)"
  mpi 3 "$SEQREC" score -c score.yaml --set score.users=some.txt --set score.output=run/some3.h5 \
    >some3.txt 2>&1 || fail "score users file on 3 ranks: $(cat some3.txt)"
  same_data run/some1.h5 run/some3.h5
  h5dump -d /recs/user run/some3.h5 | grep "1, 5, 350, 699" >/dev/null \
    || fail "subset rows: $(h5dump -d /recs/user run/some3.h5)"
  mpi 2 "$SEQREC" score -c score.yaml --set score.user_range=100:400 \
    --set score.output=run/range2.h5 >range2.txt 2>&1 || fail "range on 2 ranks: $(cat range2.txt)"
  "$SEQREC" score -c score.yaml --set score.user_range=100:400 --set score.output=run/range1.h5 \
    >range1.txt 2>&1 || fail "range: $(cat range1.txt)"
  same_data run/range1.h5 run/range2.h5
else
  echo "no mpiexec: multi-rank comparisons skipped"
fi

# A second run replaces the file (same data, a new created stamp).
sleep 1
"$SEQREC" score -c score.yaml >again.txt 2>&1 || fail "rerun: $(cat again.txt)"
same_data alone.h5 run/recs.h5
created() { h5dump -a /created "$1" | grep '"20'; }
[ "$(created alone.h5)" != "$(created run/recs.h5)" ] \
  || fail "the rerun kept the old created stamp"

# eval: the trainer's test line, bit for bit (same checkpoint, batch size, ranks and threads).
"$SEQREC" eval -c score.yaml >eval.txt 2>&1 || fail "eval: $(cat eval.txt)"
want=$(grep "^test " train.txt) || fail "train printed no test line"
got=$(grep "^test " eval.txt) || fail "eval printed no test line: $(cat eval.txt)"
[ "$want" = "$got" ] || fail "eval test line differs from train's: '$got' vs '$want'"
grep -q "^pop-valid " eval.txt && grep -q "^valid " eval.txt && grep -q "^pop-test " eval.txt \
  || fail "eval lines: $(cat eval.txt)"
echo "score_e2e: ok"
