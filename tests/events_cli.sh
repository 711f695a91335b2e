#!/usr/bin/env bash
# seqrec gen and seqrec info end to end: a generated file is described and checked (exit 0),
# user mistakes exit 1 with a message naming the file or the option, and gen under mpirun
# writes the same file as one process.
set -Eeuo pipefail
# set -e alone exits without a word: name the command that failed.
trap 'echo "FAIL: ${BASH_SOURCE[0]##*/}:$LINENO: $BASH_COMMAND (exit $?)" >&2' ERR
: "${SEQREC:?}" "${TEST_TMP:?}"
rm -rf "$TEST_TMP" && mkdir -p "$TEST_TMP" && cd "$TEST_TMP"

fail() { echo "FAIL: $*" >&2; exit 1; }
# expect_error CODE NEEDLE CMD...: CMD exits CODE and its stderr contains NEEDLE.
expect_error() {
  local code=$1 needle=$2; shift 2
  local rc=0
  "$@" >out.txt 2>err.txt || rc=$?
  [ "$rc" -eq "$code" ] || fail "'$*' exited $rc, expected $code: $(cat err.txt)"
  grep -qF -- "$needle" err.txt || fail "'$*': stderr lacks '$needle': $(cat err.txt)"
  if grep -q "HDF5-DIAG" err.txt out.txt; then fail "'$*': HDF5 noise on the terminal"; fi
}

"$SEQREC" gen --users 300 --items 120 --events 9000 --seed 4 --types --content-dim 8 \
  -o good.h5 >gen.txt
grep -q "planted signal P = 0.500" gen.txt || fail "gen summary: $(cat gen.txt)"
[ -f good.h5 ] && [ ! -e good.h5.tmp ] || fail "gen left no file or a tmp file"

"$SEQREC" info good.h5 >info.txt || fail "info on a good file exited $?"
grep -q "checked: ok" info.txt || fail "info: $(cat info.txt)"
grep -q "users        300" info.txt || fail "info users: $(cat info.txt)"
grep -q "events       9,000" info.txt || fail "info events: $(cat info.txt)"
grep -q "history      min" info.txt || fail "info history: $(cat info.txt)"
grep -q "view" info.txt || fail "info types: $(cat info.txt)"
grep -q "content      8 dims" info.txt || fail "info content: $(cat info.txt)"
grep -q "u0 " info.txt || fail "info first users: $(cat info.txt)"
fp=$(awk '/fingerprint/ {print $2}' info.txt)
[ ${#fp} -eq 16 ] || fail "fingerprint '$fp'"

expect_error 1 "missing.h5" "$SEQREC" info missing.h5
printf 'user,item,time\n1,2,3\n' >log.csv
expect_error 1 "not an HDF5 file" "$SEQREC" info log.csv
expect_error 1 "which file" "$SEQREC" info
expect_error 1 "--users" "$SEQREC" gen --items 10 --events 100 -o x.h5
expect_error 1 "--items: 'abc'" "$SEQREC" gen --users 10 --items abc --events 100 -o x.h5
expect_error 1 "--events" "$SEQREC" gen --users 10 --items 10 --events 20 -o x.h5
expect_error 1 "--signal" "$SEQREC" gen --users 10 --items 10 --events 100 --signal 2 -o x.h5
expect_error 1 "-o is required" "$SEQREC" gen --users 10 --items 10 --events 100
expect_error 1 "no-such-dir/x.h5" "$SEQREC" gen --users 10 --items 10 --events 100 \
  -o no-such-dir/x.h5
[ ! -e x.h5 ] || fail "a failed gen left x.h5"

# Same arguments under two ranks: rank 0 writes the same file, nothing is written twice.
if [ -n "${MPIEXEC:-}" ]; then
  "$MPIEXEC" --oversubscribe --allow-run-as-root -np 2 "$SEQREC" gen --users 300 --items 120 \
    --events 9000 --seed 4 --types --content-dim 8 -o mpi.h5 >mpi-gen.txt
  [ "$(grep -c 'gen: wrote' mpi-gen.txt)" -eq 1 ] || fail "gen printed on more than rank 0"
  "$MPIEXEC" --oversubscribe --allow-run-as-root -np 2 "$SEQREC" info mpi.h5 >mpi-info.txt
  [ "$(grep -c 'checked: ok' mpi-info.txt)" -eq 1 ] || fail "info under mpirun: $(cat mpi-info.txt)"
  mfp=$(awk '/fingerprint/ {print $2}' mpi-info.txt)
  [ "$mfp" = "$fp" ] || fail "fingerprint under mpirun $mfp, alone $fp"
fi
echo "events_cli: ok"
