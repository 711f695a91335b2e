#!/usr/bin/env bash
# Full disks and read-only folders: seqrec import and gen must fail with a clear message and
# exit 1 (not crash), leave no PATH.tmp, and leave the previous output byte for byte as it was.
# A full disk is a 2 MiB tmpfs where mount works (root, outside most containers), else a file
# size limit (ulimit -f: writes fail with EFBIG); a read-only folder is a tmpfs remounted
# read-only, or a folder without write permission (not root). Skips (77) only when neither way
# of making writes fail works here. Not for bad input (bad_inputs.sh).
set -u
: "${SEQREC:?}" "${TEST_TMP:?}"
if [ -d "$TEST_TMP" ]; then
  for m in "$TEST_TMP/full" "$TEST_TMP/ro"; do umount "$m" 2> /dev/null; done
fi
rm -rf "$TEST_TMP"
mkdir -p "$TEST_TMP"
cd "$TEST_TMP" || exit 1

fails=0 ran=0
fail() {
  echo "FAIL: $*"
  fails=$((fails + 1))
}
mounted=()
cleanup() {
  for m in "${mounted[@]}"; do umount "$m" 2> /dev/null; done
}
trap cleanup EXIT

# A log whose events.h5 needs about 4 MiB, and a small previous output (about 1 MiB).
awk 'BEGIN { for (i = 0; i < 300000; i++) printf "u%d i%d\n", i % 3000, (i * 7919) % 5000 }' \
  > big.txt
"$SEQREC" gen --users 20 --items 10 --events 100 --seed 1 -o prev.h5 > /dev/null ||
  { echo "FAIL: seqrec gen of the small file"; exit 1; }
# The control: with room, the big import succeeds (so a failure below is the disk's doing).
"$SEQREC" import --format sasrec big.txt -o control.h5 > control.txt 2>&1 ||
  { echo "FAIL: the big import fails even with room: $(cat control.txt)"; exit 1; }
echo "control: the big import writes $(stat -c %s control.h5) bytes where there is room"

# expect_write_failure WHAT DIR REASON CMD...: CMD exits 1 naming REASON; DIR/prev.h5 unchanged;
# nothing else in DIR.
expect_write_failure() {
  local what=$1 dir=$2 reason=$3
  shift 3
  local before rc=0
  before=$(md5sum < "$dir/prev.h5")
  "$@" > out.txt 2> err.txt || rc=$?
  ran=$((ran + 1))
  if [ $rc -ne 1 ]; then
    fail "$what: exit $rc, expected 1: $(head -c 1500 err.txt)"
  elif ! grep -q "^seqrec: error: .*$reason" err.txt; then
    fail "$what: the message lacks '$reason': $(cat err.txt)"
  elif grep -qE 'HDF5-DIAG|Sanitizer|Segmentation|Process received signal' err.txt; then
    fail "$what: crash or library noise: $(cat err.txt)"
  elif [ "$(md5sum < "$dir/prev.h5")" != "$before" ]; then
    fail "$what: the previous output $dir/prev.h5 changed"
  elif [ "$(ls -A "$dir")" != "prev.h5" ]; then
    fail "$what: left behind in $dir: $(ls -A "$dir" | tr '\n' ' ')"
  else
    echo "ok: $what: $(cat err.txt)"
  fi
}

# ---- a full disk ------------------------------------------------------------------------------
mkdir full
try_mount() { [ -z "${SEQREC_TEST_NO_MOUNT:-}" ] && mount "$@"; }
if try_mount -t tmpfs -o size=2m tmpfs full 2> mount.txt; then
  mounted+=("$TEST_TMP/full")
  cp prev.h5 full/prev.h5
  echo "full disk: a 2 MiB tmpfs ($(df -k full | awk 'NR == 2 { print $4 }') KiB free)"
  expect_write_failure "import onto a full disk" full "No space left on device" \
    "$SEQREC" import --format sasrec big.txt -o full/prev.h5
  expect_write_failure "gen onto a full disk" full "No space left on device" \
    "$SEQREC" gen --users 3000 --items 5000 --events 300000 -o full/gen.h5
  # The space of the failed attempts is free again: a small file still fits.
  "$SEQREC" gen --users 20 --items 10 --events 100 --seed 2 -o full/after.h5 > /dev/null 2>&1 ||
    fail "after the failures, the tmpfs has no room for a small file"
  rm -f full/after.h5
else
  echo "full disk: no tmpfs here ($(head -c 200 mount.txt)); a file size limit instead"
  cp prev.h5 full/prev.h5
  # The limit applies to every file the process writes: MPI's shared-memory store would trip
  # over it before seqrec starts (PMIx gds=hash keeps that in memory). SIGXFSZ is ignored, so
  # a write past the limit fails with EFBIG instead of killing the process.
  limited() { (trap '' XFSZ; ulimit -f 2048; PMIX_MCA_gds=hash exec "$@"); }
  expect_write_failure "import past a file size limit" full "File too large" \
    limited "$SEQREC" import --format sasrec big.txt -o full/prev.h5
  expect_write_failure "gen past a file size limit" full "File too large" \
    limited "$SEQREC" gen --users 3000 --items 5000 --events 300000 -o full/gen.h5
fi

# ---- a read-only folder -----------------------------------------------------------------------
mkdir ro
ro_reason=""
if try_mount -t tmpfs -o size=4m tmpfs ro 2> /dev/null; then
  mounted+=("$TEST_TMP/ro")
  cp prev.h5 ro/prev.h5
  mount -o remount,ro ro 2> mount.txt && ro_reason="Read-only file system" ||
    echo "read-only folder: cannot remount read-only ($(head -c 200 mount.txt))"
elif [ "$(id -u)" != 0 ]; then
  cp prev.h5 ro/prev.h5
  chmod a-w ro && ro_reason="Permission denied"
else
  echo "read-only folder: root ignores permissions and mount is not allowed here: not tested"
fi
if [ -n "$ro_reason" ]; then
  echo "read-only folder: $ro_reason"
  expect_write_failure "import into a read-only folder" ro "$ro_reason" \
    "$SEQREC" import --format sasrec big.txt -o ro/prev.h5
  expect_write_failure "gen into a read-only folder" ro "$ro_reason" \
    "$SEQREC" gen --users 20 --items 10 --events 100 -o ro/gen.h5
  # Reading needs no write access.
  "$SEQREC" info ro/prev.h5 > info.txt 2>&1 && grep -q "checked: ok" info.txt ||
    fail "info on a file in a read-only folder: $(cat info.txt)"
  chmod u+w ro 2> /dev/null
fi

if [ $ran -eq 0 ]; then
  echo "neither a full disk nor a read-only folder could be made here: skipping"
  exit 77
fi
echo "full_disk: $ran cases, $fails failed"
[ $fails -eq 0 ]
