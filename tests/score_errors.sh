#!/usr/bin/env bash
# seqrec score and eval refuse bad input with exit 1 and a message naming the file and the key:
# a missing checkpoint, a checkpoint from other data, a bad users file or range, an output
# folder that cannot be made. A failed run leaves an existing recs.h5 untouched.
source "$(dirname "$0")/score_lib.sh"
make_run 300 120 6000
"$SEQREC" score -c score.yaml >ok.txt 2>&1 || fail "score: $(cat ok.txt)"
before=$(cksum <run/recs.h5)

expect_error 1 "no-such.h5" "$SEQREC" score -c score.yaml --set score.checkpoint=no-such.h5
grep -q "score.checkpoint" err.txt || fail "missing checkpoint: key not named: $(cat err.txt)"
expect_error 1 "no-such.h5" "$SEQREC" eval -c score.yaml --set score.checkpoint=no-such.h5
expect_error 1 "no-events.h5" "$SEQREC" score -c score.yaml --set data.events=no-events.h5
grep -q "data.events" err.txt || fail "missing events: key not named: $(cat err.txt)"
expect_error 1 "not a checkpoint" "$SEQREC" score -c score.yaml --set score.checkpoint=events.h5

# Other data, matched by raw id: fewer items (the others are gone), more (new since training:
# without content they have no embedding and are never recommended; include asks for content).
"$SEQREC" gen --users 300 --items 100 --events 6000 --seed 6 --quiet -o fewer.h5 >/dev/null
"$SEQREC" score -c score.yaml --set data.events=fewer.h5 --set score.output=run/fewer.h5 \
  >fewer.txt 2>&1 || fail "fewer items: $(cat fewer.txt)"
grep -q "20 gone from fewer.h5" fewer.txt || fail "no note of the dropped items: $(cat fewer.txt)"
"$SEQREC" gen --users 300 --items 130 --events 6000 --seed 6 --quiet -o more.h5 >/dev/null
expect_error 1 "score.new_items is include" \
  "$SEQREC" score -c score.yaml --set data.events=more.h5 --set score.new_items=include
grep -q "model.item_content" err.txt || fail "new items: key not named: $(cat err.txt)"
"$SEQREC" score -c score.yaml --set data.events=more.h5 --set score.output=run/more.h5 \
  >more.txt 2>&1 || fail "new items: $(cat more.txt)"
grep -q "10 new since run/ckpt.h5 was trained: no embedding" more.txt \
  || fail "no note about new items: $(cat more.txt)"
"$SEQREC" info run/more.h5 >/dev/null || fail "info on the new-items file"
# No raw id in common: another catalogue.
printf 'a,x1\na,x2\nb,x1\nb,x3\n' >other.csv
"$SEQREC" import --format csv --user 1 --item 2 other.csv -o other.h5 >/dev/null
expect_error 1 "no item of other.h5 is known to checkpoint run/ckpt.h5" \
  "$SEQREC" score -c score.yaml --set data.events=other.h5
# Same item count, other data: a warning, not an error.
"$SEQREC" gen --users 200 --items 120 --events 4000 --seed 9 --quiet -o fresh.h5 >/dev/null
"$SEQREC" score -c score.yaml --set data.events=fresh.h5 --set score.output=run/fresh.h5 \
  >fresh.txt 2>&1 || fail "fresh data: $(cat fresh.txt)"
grep -q "is not the data run/ckpt.h5 was trained on" fresh.txt \
  || fail "no warning: $(cat fresh.txt)"

# Users file and range.
expect_error 1 "missing.txt: cannot open (score.users)" \
  "$SEQREC" score -c score.yaml --set score.users=missing.txt
printf 'u1\nu2\nnobody\nu3\n' >bad_users.txt
expect_error 1 "bad_users.txt:3: user 'nobody' is not in events.h5" \
  "$SEQREC" score -c score.yaml --set score.users=bad_users.txt
if have_mpi; then
  expect_error 1 "bad_users.txt:3: user 'nobody'" \
    mpi 2 "$SEQREC" score -c score.yaml --set score.users=bad_users.txt
fi
expect_error 1 "score.user_range: '5-9' is not BEGIN:END" \
  "$SEQREC" score -c score.yaml --set score.user_range=5-9
expect_error 1 "score.user_range: 10:301 is outside the 300 users" \
  "$SEQREC" score -c score.yaml --set score.user_range=10:301
expect_error 1 "both set" \
  "$SEQREC" score -c score.yaml --set score.user_range=1:2 --set score.users=bad_users.txt
expect_error 1 "score.k" "$SEQREC" score -c score.yaml --set score.k=0

# runtime.device where no GPU is visible: cuda is refused before anything is written, auto
# scores on the CPU, the same rows (tests/score_cuda.sh compares the GPU's where there is one).
rc=0
"$SEQREC" score -c score.yaml --set runtime.device=cuda --set score.output=run/cuda.h5 \
  >cuda.txt 2>cuda_err.txt || rc=$?
if [ "$rc" -ne 0 ]; then
  [ "$rc" -eq 1 ] && grep -qF "runtime.device is cuda but no GPU is visible" cuda_err.txt \
    || fail "device cuda without a GPU: exit $rc: $(cat cuda_err.txt)"
  [ ! -e run/cuda.h5 ] && [ ! -e run/cuda.h5.tmp ] || fail "a refused device left a file"
  "$SEQREC" score -c score.yaml --set runtime.device=auto --set score.output=run/auto.h5 \
    >auto.txt 2>&1 || fail "device auto: $(cat auto.txt)"
  grep -q "no GPU visible, running on the CPU" auto.txt || fail "no notice: $(cat auto.txt)"
  same_data run/recs.h5 run/auto.h5
fi

# An output that cannot be made.
touch plainfile
expect_error 1 "plainfile" "$SEQREC" score -c score.yaml --set score.output=plainfile/x/recs.h5

[ "$(cksum <run/recs.h5)" = "$before" ] || fail "a failed run changed run/recs.h5"
[ ! -e run/recs.h5.tmp ] || fail "a failed run left run/recs.h5.tmp"
echo "score_errors: ok"
