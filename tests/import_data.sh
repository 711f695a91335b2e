#!/usr/bin/env bash
# seqrec import on the real data sets in $SEQREC_SHARED_DATA (skipped when absent): MovieLens-1M
# both ways (origids + --min-item-events 5 must equal the SASRec file, in under 10 s), ml-100k's
# u.data with timestamps, and the Taobao UserBehavior head with event types.
set -u
. "$(dirname "$0")/import_lib.sh"
S=${SEQREC_SHARED_DATA:-}
if [ -z "$S" ] || [ ! -f "$S/ml-1m/ml-1m.origids.txt" ]; then
  echo "shared data not found (SEQREC_SHARED_DATA=$S): skipping"
  exit 77
fi
setup_tmp

counts() { echo "$(h5_attr "$1" /n_users) $(h5_attr "$1" /n_items) $(h5_attr "$1" /n_events)"; }

# MovieLens-1M, original ids, items with at least 5 ratings: the SASRec benchmark, fast.
start=$(date +%s.%N)
"$SEQREC" import --format sasrec --min-item-events 5 "$S/ml-1m/ml-1m.origids.txt" -o ml1m.h5 \
  > out.txt 2>&1 || fail "ml-1m.origids.txt: $(cat out.txt)"
end=$(date +%s.%N)
cat out.txt
seconds=$(awk -v a="$start" -v b="$end" 'BEGIN { printf "%.2f", b - a }')
echo "ml-1m.origids.txt imported in $seconds s (process start to exit)"
awk -v s="$seconds" 'BEGIN { exit !(s < 10) }' || fail "ml-1m.origids.txt took $seconds s (bound: 10 s)"
expect_eq "ml-1m.origids.txt --min-item-events 5 (users items events)" "$(counts ml1m.h5)" \
  "6040 3416 999611"
check_info ml1m.h5

# The same with movies.dat attached: every item matched, 18 genres as content, titles in UTF-8.
"$SEQREC" import --format sasrec --min-item-events 5 "$S/ml-1m/ml-1m.origids.txt" \
  --items "$S/ml-1m/movies.dat" -o genres.h5 > out.txt 2>&1 || fail "--items movies.dat: $(cat out.txt)"
grep -q "items file: 3,416 of 3,416 items matched, 467 items of the file not in the log (18 genre" \
  out.txt || fail "movies.dat match: $(grep 'items file' out.txt)"
h5dump -H -d /items/content genres.h5 | grep "( 3417, 18 )" >/dev/null || fail "genres.h5: /items/content is not [3417, 18]"
h5dump -d /items/title -s 1 -c 1 genres.h5 | grep '"Toy Story (1995)' >/dev/null || fail "item 1 is not Toy Story"
# Toy Story is Animation|Children's|Comedy: columns 2, 3 and 4 of the 18 sorted genre names.
h5dump -d /items/content -s 1,0 -c 1,18 genres.h5 | grep "0, 0, 1, 1, 1, 0" >/dev/null ||
  fail "Toy Story's genres: $(h5dump -d /items/content -s 1,0 -c 1,18 genres.h5 | grep '(1')"
h5dump -d /items/title -b -o titles.bin genres.h5 >/dev/null && grep -q "Misérables" titles.bin ||
  fail "titles are not converted to UTF-8"
check_info genres.h5

# The SASRec file itself: the same counts, and its item numbers kept (numeric id order).
"$SEQREC" import --format sasrec "$S/ml-1m/ml-1m.txt" -o sasrec.h5 > out.txt 2>&1 ||
  fail "ml-1m.txt: $(cat out.txt)"
expect_eq "ml-1m.txt (users items events)" "$(counts sasrec.h5)" "6040 3416 999611"
bad_ids=$(h5_values sasrec.h5 /items/raw_id | awk '$1 != NR { n++ } END { print n + 0 }')
expect_eq "ml-1m.txt items whose dense id differs from the raw id" "$bad_ids" "0"
h5_values ml1m.h5 /users/offset > a.txt
h5_values sasrec.h5 /users/offset > b.txt
cmp -s a.txt b.txt || fail "ml-1m: /users/offset differs between origids+filter and ml-1m.txt"
# Same histories up to renaming items: the (origids item, sasrec item) pairs are a bijection.
h5_values ml1m.h5 /events/item > a.txt
h5_values sasrec.h5 /events/item > b.txt
pairs=$(paste a.txt b.txt | sort -u | wc -l)
expect_eq "ml-1m: distinct (origids item, sasrec item) pairs" "$pairs" "3416"
check_info sasrec.h5

# ml-100k u.data: tab separated with unix times.
"$SEQREC" import --format movielens "$S/ml-100k/u.data" -o ml100k.h5 > out.txt 2>&1 ||
  fail "u.data: $(cat out.txt)"
cat out.txt
expect_eq "u.data (users items events)" "$(counts ml100k.h5)" "943 1682 100000"
range=$(h5_values ml100k.h5 /events/time | sort -n | sed -n '1p;$p' | tr '\n' ' ')
expect_eq "u.data time range" "$range" "874724710 893286638 "
check_info ml100k.h5

# Taobao UserBehavior head: times and the four event types in their fixed order.
"$SEQREC" import --format taobao "$S/taobao-userbehavior/UserBehavior.head.csv" -o taobao.h5 \
  > out.txt 2>&1 || fail "UserBehavior.head.csv: $(cat out.txt)"
cat out.txt
expect_eq "taobao (users items events)" "$(counts taobao.h5)" "815 55368 84475"
expect_eq "taobao event_types" "$(h5_attr taobao.h5 /events/type/event_types)" "pv cart fav buy"
mix=$(h5_values taobao.h5 /events/type | sort -n | uniq -c | awk '{ printf "%s:%s ", $2, $1 }')
expect_eq "taobao type mix" "$mix" "0:75872 1:4497 2:2356 3:1750 "
check_info taobao.h5
finish
