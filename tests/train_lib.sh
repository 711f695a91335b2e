# Shared by the tests/train_*.sh scripts (sourced, not run): a tiny model that trains in
# seconds, mpirun as the test harness allows it, and readers of metrics.jsonl (flat JSON lines
# written by trainer/train.c; plain sed, so the tests need no JSON tool).
set -Eeuo pipefail
# set -e alone exits without a word: name the command that failed.
trap 'echo "FAIL: ${BASH_SOURCE[0]##*/}:$LINENO: $BASH_COMMAND (exit $?)" >&2' ERR
: "${SEQREC:?}" "${TEST_TMP:?}"
rm -rf "$TEST_TMP" && mkdir -p "$TEST_TMP" && cd "$TEST_TMP"
export OMP_WAIT_POLICY=passive

fail() { echo "FAIL: $*" >&2; exit 1; }

# A small SASRec on a short window; every key that matters is named, so configs/default.yaml
# can change without changing these tests. One thread per rank: runs are deterministic for a
# given thread count, and the machine is shared.
TINY=(--set data.max_len=20 --set model.d_model=16 --set model.n_layers=2 --set model.n_heads=2
      --set model.d_ff=32 --set train.warmup_steps=5 --set train.lr=0.003
      --set train.weight_decay=0.01 --set train.grad_clip=1.0 --set train.schedule=cosine
      --set runtime.device=cpu --set runtime.threads=1)

have_mpi() { [ -n "${MPIEXEC:-}" ] && command -v "$MPIEXEC" >/dev/null; }

# train NP LOG ARGS...: seqrec train on NP ranks (1: without mpirun), output to LOG; fails the
# test with the log's tail when training fails.
train() {
  local np=$1 log=$2; shift 2
  local rc=0
  if [ "$np" -eq 1 ]; then
    "$SEQREC" train "$@" >"$log" 2>&1 || rc=$?
  else
    "$MPIEXEC" --oversubscribe --allow-run-as-root -np "$np" "$SEQREC" train "$@" >"$log" 2>&1 \
      || rc=$?
  fi
  [ "$rc" -eq 0 ] || fail "seqrec train on $np ranks exited $rc: $(tail -5 "$log")"
}

# field NAME < metrics.jsonl: the value of NAME on each line that has it.
field() { sed -n "s/.*\"$1\":\"\{0,1\}\([^,\"}]*\).*/\1/p"; }
# kind KIND < metrics.jsonl: the lines of that kind.
kind() { grep "\"kind\":\"$1\""; }
# after STEP < metrics.jsonl: lines whose step is greater than STEP.
after() { awk -v s="$1" '{ if (match($0, /"step":[0-9]+/) && substr($0, RSTART + 7, RLENGTH - 7) + 0 > s) print }'; }

# log_csv FIRST LAST SEED: a user,item,time CSV of 80 users, each 6..25 events on items
# iFIRST..iLAST at increasing times (fine-tuning and content tests build vocabularies from it).
log_csv() {
  awk -v first="$1" -v last="$2" -v seed="$3" 'BEGIN {
    srand(seed); print "user,item,time"
    for (u = 1; u <= 80; u++) {
      n = 6 + int(rand() * 20); t = int(rand() * 1000)
      for (e = 0; e < n; e++) { t += 1 + int(rand() * 50)
        print "u" u ",i" (first + int(rand() * (last - first + 1))) "," t }
    } }'
}

# same_losses A B WHAT TOL: A/metrics.jsonl and B/metrics.jsonl hold STEPS train lines each, with
# the same target count per step and losses within TOL relative (the worst step is printed).
same_losses() {
  local a=$1/metrics.jsonl b=$2/metrics.jsonl
  [ "$(kind train <"$a" | wc -l)" -eq "$STEPS" ] || fail "$3: $a has $(kind train <"$a" | wc -l) steps"
  [ "$(kind train <"$b" | wc -l)" -eq "$STEPS" ] || fail "$3: $b has $(kind train <"$b" | wc -l) steps"
  cmp -s <(kind train <"$a" | field targets) <(kind train <"$b" | field targets) \
    || fail "$3: the steps saw different numbers of targets"
  paste <(kind train <"$a" | field loss) <(kind train <"$b" | field loss) | awk -v what="$3" -v tol="$4" '
    { d = ($1 - $2) / $1; if (d < 0) d = -d; if (d > worst) { worst = d; at = NR } }
    END { printf "%s: worst relative loss difference %.3g (step %d)\n", what, worst, at;
          exit !(worst <= tol) }' || fail "$3: losses differ by more than $4"
}
