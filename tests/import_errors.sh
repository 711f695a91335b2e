#!/usr/bin/env bash
# seqrec import, every error path: exit status 1, a message naming the file and line (bad rows)
# or the option, and no output file left behind. Also --skip-bad counting the same rows.
set -u
. "$(dirname "$0")/import_lib.sh"
setup_tmp
D=$DATA_DIR

# expect_fail "part of the message" ARGS... : seqrec import ARGS... -o out.h5 must fail.
expect_fail() {
  local want=$1
  shift
  rm -f out.h5 out.h5.tmp
  "$SEQREC" import "$@" > stdout.txt 2> stderr.txt
  local rc=$?
  if [ $rc -ne 1 ]; then
    fail "exit $rc, want 1: seqrec import $* ($(cat stderr.txt))"
  elif ! grep -qF -- "$want" stderr.txt; then
    fail "message lacks '$want': seqrec import $*: $(cat stderr.txt)"
  elif ls out.h5* > /dev/null 2>&1; then
    fail "output left behind after: seqrec import $*"
  else
    echo "ok: $want"
  fi
}

# Bad items files (--items): file:line, the column, and what was wrong.
printf '1 10\n1 11\n2 10\n' >items_log.txt
items_case() { printf "$1" >"$2"; shift 2; }
items_case 'i10,1,2\ni11,3\n' ragged.csv
expect_fail "ragged.csv:2: 1 values, but the first line has 2" --format sasrec items_log.txt \
  --items ragged.csv --items-format csv -o out.h5
items_case '10,1,2\n11,x,2\n' badnum.csv
expect_fail "badnum.csv:2: column 2: 'x' is not a finite number" --format sasrec items_log.txt \
  --items badnum.csv --items-format csv -o out.h5
items_case '10,nan,1\n' nan.csv
expect_fail "nan.csv:1: column 2: 'nan' is not a finite number" --format sasrec items_log.txt \
  --items nan.csv --items-format csv -o out.h5
items_case '10::A (1990)::Comedy\n10::B (1991)::Drama\n' twice.dat
expect_fail "twice.dat:2: item 10 is listed twice (first on line 1)" --format sasrec \
  items_log.txt --items twice.dat -o out.h5

# Bad rows, one per kind: file:line and what was wrong.
expect_fail "bad_fields.data:3: expected 4 tab-separated fields, found 3" \
  --format movielens "$D/bad_fields.data" -o out.h5
expect_fail "bad_time.data:2: time '12.5' is not an integer" \
  --format movielens "$D/bad_time.data" -o out.h5
expect_fail "bad_time_range.data:4: time '99999999999999999999' is out of range" \
  --format movielens "$D/bad_time_range.data" -o out.h5
expect_fail "empty_id.csv:3: empty user id" \
  --format csv --user 1 --item 2 "$D/empty_id.csv" -o out.h5
expect_fail "bad_type.csv:2: unknown event type 'click' (taobao types are pv, cart, fav, buy)" \
  --format taobao "$D/bad_type.csv" -o out.h5
expect_fail "bad_utf8.txt:2: item id 'caf" --format sasrec "$D/bad_utf8.txt" -o out.h5
expect_fail "bad_quote.csv:3: unterminated quote" \
  --format csv --user 1 --item 2 --time 3 "$D/bad_quote.csv" -o out.h5
expect_fail "many_types.csv:33: event type 'type32' is one too many: at most 32" \
  --format csv --user 1 --item 2 --type 3 "$D/many_types.csv" -o out.h5
printf '1 1\n2 2\n3 \0003\n' > nul.txt
expect_fail "nul.txt:3: NUL byte in the line" --format sasrec nul.txt -o out.h5
{ printf '1 1\n2 '; head -c 1100000 /dev/zero | tr '\0' '7'; printf '\n3 3\n'; } > long.txt
expect_fail "long.txt:2: line longer than 1048576 bytes" --format sasrec long.txt -o out.h5
expect_fail "(--skip-bad skips such rows)" --format movielens "$D/bad_fields.data" -o out.h5

# Inputs: empty, missing, unreadable; nothing left after skipping or filtering.
expect_fail "no events: $D/empty.txt has no data rows" --format sasrec "$D/empty.txt" -o out.h5
expect_fail "no events: $D/header_only.csv has no data rows" \
  --format csv --header --user user --item item "$D/header_only.csv" -o out.h5
expect_fail "cannot open input $D/nope.txt: No such file or directory" \
  --format sasrec "$D/kcore.txt" "$D/nope.txt" -o out.h5
expect_fail "error reading $D: Is a directory" --format sasrec "$D" -o out.h5
expect_fail "no events: all 3 rows of $D/bad_fields.data were bad" \
  --format sasrec --skip-bad "$D/bad_fields.data" -o out.h5
expect_fail "no events left after filtering" \
  --format sasrec --min-user-events 3 --min-item-events 3 "$D/kcore.txt" -o out.h5

# Options.
expect_fail "missing -o" --format sasrec "$D/kcore.txt"
expect_fail "-o needs a value" --format sasrec "$D/kcore.txt" -o
expect_fail "--format xml: unknown format" --format xml "$D/kcore.txt" -o out.h5
expect_fail "missing --format" "$D/kcore.txt" -o out.h5
expect_fail "--time 9: beyond the row: $D/empty_id.csv:1 has 2 comma-separated fields" \
  --format csv --user 1 --item 2 --time 9 "$D/empty_id.csv" -o out.h5
expect_fail "--user uid: no column of that name in the header of $D/small.csv (line 1: user, item, ts, action)" \
  --format csv --header --user uid --item item "$D/small.csv" -o out.h5
expect_fail "--user user: not a column number" \
  --format csv --user user --item item "$D/small.csv" -o out.h5
expect_fail "--user 0: column numbers start at 1" --format csv --user 0 --item 2 "$D/small.csv" -o out.h5
expect_fail "--format csv needs --item" --format csv --user 1 "$D/small.csv" -o out.h5
expect_fail "--user: only for --format csv or tsv" --format sasrec --user 1 "$D/kcore.txt" -o out.h5
expect_fail "--min-user-events ten: expected a whole number" \
  --format sasrec --min-user-events ten "$D/kcore.txt" -o out.h5
expect_fail "--frobnicate: unknown option" --format sasrec --frobnicate "$D/kcore.txt" -o out.h5
expect_fail "no input files" --format sasrec -o out.h5

# An existing output survives a failed import untouched.
echo "old" > out.h5
"$SEQREC" import --format movielens "$D/bad_fields.data" -o out.h5 2> /dev/null
expect_eq "existing output after a failed import" "$(cat out.h5)" "old"
rm -f out.h5

# --skip-bad: the same kinds of rows are counted by reason and the good ones kept.
"$SEQREC" import --format movielens --skip-bad "$D/mixed.data" -o out.h5 > stdout.txt 2> stderr.txt ||
  fail "--skip-bad import failed: $(cat stderr.txt)"
grep -qF "dropped   3 bad rows (--skip-bad): 1 wrong number of fields, 1 empty id, 1 bad time" stdout.txt ||
  fail "--skip-bad summary: $(cat stdout.txt)"
expect_eq "events kept by --skip-bad" "$(h5_attr out.h5 /n_events)" "3"
"$SEQREC" import --format sasrec --skip-bad nul.txt long.txt -o out2.h5 > stdout.txt 2> stderr.txt ||
  fail "--skip-bad import failed: $(cat stderr.txt)"
grep -qF "2 bad rows (--skip-bad): 1 line too long, 1 NUL byte" stdout.txt ||
  fail "--skip-bad summary: $(cat stdout.txt)"
expect_eq "events kept by --skip-bad (NUL, long line)" "$(h5_attr out2.h5 /n_events)" "4"
finish
