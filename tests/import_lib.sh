# Helpers sourced by the import_*.sh tests: run seqrec import, read an events.h5 back with h5dump.
# Not a test itself.

fails=0
DATA_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")/data/import" && pwd)

fail() {
  echo "FAIL: $*"
  fails=$((fails + 1))
}

# The values of a dataset, one per line (strings without quotes or NUL padding).
h5_values() {
  local out="$TEST_TMP/h5_values.txt"
  rm -f "$out"
  h5dump -d "$2" -y -w 0 -o "$out" "$1" > /dev/null || return 1
  tr ',' '\n' < "$out" | sed 's/\\000//g; s/^ *//; s/ *$//; s/^"//; s/"$//; /^$/d'
}

# One scalar attribute, e.g. h5_attr f.h5 /n_users; array attributes come as "a b c".
h5_attr() {
  h5dump -a "$2" "$1" | sed -n '/DATA {/,/}/p' | grep -o '([0-9]*): .*' | sed 's/^([0-9]*): //' |
    tr ',' '\n' | sed 's/^ *//; s/"//g; /^$/d' | tr '\n' ' ' | sed 's/ $//'
}

# expect_eq WHAT GOT WANT
expect_eq() {
  if [ "$2" != "$3" ]; then fail "$1: got '$2', want '$3'"; else echo "ok: $1 = $3"; fi
}

# `seqrec info FILE` must pass once info is built (before, it says "not built").
check_info() {
  local out
  out=$("$SEQREC" info "$1" 2>&1)
  local rc=$?
  if echo "$out" | grep "not built" >/dev/null; then return 0; fi
  [ $rc -eq 0 ] || fail "seqrec info $1 exits $rc: $out"
}

finish() {
  if [ "$fails" -gt 0 ]; then
    echo "$fails check(s) failed"
    exit 1
  fi
  echo "all checks passed"
  exit 0
}

setup_tmp() {
  if [ -z "${SEQREC:-}" ] || [ -z "${TEST_TMP:-}" ]; then
    echo "SEQREC and TEST_TMP must be set (ctest sets them)"
    exit 1
  fi
  command -v h5dump > /dev/null || { echo "h5dump not found: skipping"; exit 77; }
  rm -rf "$TEST_TMP"
  mkdir -p "$TEST_TMP"
  cd "$TEST_TMP" || exit 1
}
