#!/usr/bin/env bash
# seqrec import end to end on small hand-made logs, checking every dataset of the events.h5:
# csv with a header, quotes, types and --dedupe; MovieLens '::'; two sasrec files as one log;
# the k-core filter; and under mpirun, where only rank 0 imports.
set -u
. "$(dirname "$0")/import_lib.sh"
setup_tmp
D=$DATA_DIR

values() { h5_values "$1" "$2" | tr '\n' ' ' | sed 's/ $//'; }

# csv: header names, a quoted item with a comma and quotes, padded fields, types, --dedupe.
"$SEQREC" import --format csv --header --user user --item item --time ts --type action --dedupe \
  "$D/small.csv" -o small.h5 > out.txt 2>&1 || fail "small.csv: $(cat out.txt)"
expect_eq "small.csv users" "$(values small.h5 /users/raw_id)" "alice bob"
expect_eq "small.csv offsets" "$(values small.h5 /users/offset)" "0 3 5"
expect_eq "small.csv items" "$(values small.h5 /events/item)" "2 1 2 2 2"
expect_eq "small.csv times (sorted within a user, ties in input order)" \
  "$(values small.h5 /events/time)" "90 100 120 50 50"
expect_eq "small.csv types" "$(values small.h5 /events/type)" "1 0 2 0 2"
expect_eq "small.csv event_types" "$(h5_attr small.h5 /events/type/event_types)" "view cart buy"
h5dump -d /items/raw_id -y -w 0 -o raw.txt small.h5 > /dev/null
grep -qF '"Book, "The" One", "pen' raw.txt || fail "small.csv item raw ids: $(cat raw.txt)"
expect_eq "small.csv n_items" "$(h5_attr small.h5 /n_items)" "2"
grep -qF "dropped   1 duplicate events (--dedupe)" out.txt || fail "dedupe summary: $(cat out.txt)"
grep -qF "types     view 2 (40.0%), cart 1 (20.0%), buy 2 (40.0%)" out.txt ||
  fail "type summary: $(cat out.txt)"
check_info small.h5

# MovieLens ratings.dat: '::' separated, sorted by timestamp within a user.
"$SEQREC" import --format movielens "$D/ratings.dat" -o ml.h5 > out.txt 2>&1 || fail "ratings.dat: $(cat out.txt)"
expect_eq "ratings.dat items" "$(values ml.h5 /events/item)" "2 1 1"
expect_eq "ratings.dat item raw ids" "$(values ml.h5 /items/raw_id)" "10 20"
expect_eq "ratings.dat times" "$(values ml.h5 /events/time)" "978300700 978300760 978300800"
expect_eq "ratings.dat offsets" "$(values ml.h5 /users/offset)" "0 2 3"
check_info ml.h5

# Standard input as "-"; its rows are named <stdin> in messages.
"$SEQREC" import --format movielens - -o stdin.h5 < "$D/ratings.dat" > out.txt 2>&1 ||
  fail "ratings.dat on stdin: $(cat out.txt)"
expect_eq "stdin items" "$(values stdin.h5 /events/item)" "2 1 1"
"$SEQREC" import --format movielens - -o bad.h5 < "$D/bad_fields.data" > out.txt 2>&1
grep -qF "<stdin>:3: expected 4 tab-separated fields, found 3" out.txt ||
  fail "bad rows on stdin: $(cat out.txt)"

# Two inputs are one log: line order keeps counting in the second file.
"$SEQREC" import --format sasrec "$D/part1.txt" "$D/part2.txt" -o parts.h5 > out.txt 2>&1 ||
  fail "part1+part2: $(cat out.txt)"
expect_eq "two files: items" "$(values parts.h5 /events/item)" "1 2 4 1 3"
expect_eq "two files: times" "$(values parts.h5 /events/time)" "0 1 4 2 3"
expect_eq "two files: offsets" "$(values parts.h5 /users/offset)" "0 3 5"
grep -qF "read      5 rows from 2 files" out.txt || fail "two files summary: $(cat out.txt)"

# k-core until stable: three rounds (see test_import.c for the case).
"$SEQREC" import --format sasrec --min-user-events 2 --min-item-events 2 "$D/kcore.txt" \
  -o kcore.h5 > out.txt 2>&1 || fail "kcore.txt: $(cat out.txt)"
expect_eq "k-core users" "$(values kcore.h5 /users/raw_id)" "u1 u2"
expect_eq "k-core items" "$(values kcore.h5 /items/raw_id)" "a b"
expect_eq "k-core events" "$(values kcore.h5 /events/item)" "1 2 1 2"
grep -qF "dropped   2 users, 1 items, 3 events by the k-core filter (--min-user-events 2, --min-item-events 2; 3 rounds)" \
  out.txt || fail "k-core summary: $(cat out.txt)"

# Under mpirun only rank 0 imports and prints; the others wait and exit 0 as well.
if [ -n "${MPIEXEC:-}" ]; then
  "$MPIEXEC" -np 2 --oversubscribe "$SEQREC" import --format movielens "$D/ratings.dat" \
    -o ml2.h5 > out.txt 2>&1 || fail "mpirun -np 2: $(cat out.txt)"
  expect_eq "mpirun -np 2: items" "$(values ml2.h5 /events/item)" "2 1 1"
  expect_eq "mpirun -np 2: summaries printed" "$(grep -c '^users ' out.txt)" "1"
  "$MPIEXEC" -np 2 --oversubscribe "$SEQREC" import --format movielens "$D/bad_fields.data" \
    -o bad.h5 > out.txt 2>&1
  rc=$?
  [ $rc -eq 1 ] || fail "mpirun -np 2 on a bad file: exit $rc, want 1"
  grep -qF "bad_fields.data:3: expected 4 tab-separated fields" out.txt ||
    fail "mpirun -np 2 on a bad file: $(cat out.txt)"
  [ ! -e bad.h5 ] || fail "mpirun -np 2 on a bad file left bad.h5"
else
  echo "MPIEXEC not set: mpirun case skipped"
fi
finish
