# Shared by the tests/score_*.sh scripts (sourced, not run): a small generated log, a tiny model
# trained on it, and helpers. One thread per rank: scores are the same bits for a given thread
# count, and the machine is shared. max_len 13, odd on purpose: OpenBLAS then rounds a row
# differently by its place in a batch, so the rank comparisons of score_e2e.sh fail if user
# batches ever depend on the number of ranks (checked by breaking scorer/state.c's batching).
set -Eeuo pipefail
# set -e alone exits without a word: name the command that failed.
trap 'echo "FAIL: ${BASH_SOURCE[0]##*/}:$LINENO: $BASH_COMMAND (exit $?)" >&2' ERR
: "${SEQREC:?}" "${TEST_TMP:?}"
rm -rf "$TEST_TMP" && mkdir -p "$TEST_TMP" && cd "$TEST_TMP"
export OMP_WAIT_POLICY=passive

fail() { echo "FAIL: $*" >&2; exit 1; }
have_mpi() { [ -n "${MPIEXEC:-}" ] && command -v "$MPIEXEC" >/dev/null; }
mpi() { local np=$1; shift; "$MPIEXEC" --oversubscribe --allow-run-as-root -np "$np" "$@"; }

# expect_error CODE NEEDLE CMD...: CMD exits CODE and its stderr names NEEDLE.
expect_error() {
  local code=$1 needle=$2; shift 2
  local rc=0
  "$@" >out.txt 2>err.txt || rc=$?
  [ "$rc" -eq "$code" ] || fail "'$*' exited $rc, expected $code: $(cat err.txt)"
  grep -qF -- "$needle" err.txt || fail "'$*': stderr lacks '$needle': $(cat err.txt)"
  if grep -q "HDF5-DIAG" err.txt out.txt; then fail "'$*': HDF5 noise on the terminal"; fi
}

# The config of every score test: the keys that matter are named.
cat >score.yaml <<'YAML'
data: {events: events.h5, max_len: 13}
model: {d_model: 16, n_layers: 2, n_heads: 2, d_ff: 32, dropout: 0.1}
train: {batch_size: 32, epochs: 2, lr: 0.003, warmup_steps: 5, eval_every: 1, patience: 0,
        checkpoint: run/ckpt.h5}
runtime: {device: cpu, threads: 1}
score: {checkpoint: run/ckpt.h5, k: 20, output: run/recs.h5}
YAML

# make_run USERS ITEMS EVENTS: events.h5 and a trained run/ckpt.h5 (train log in train.txt).
make_run() {
  "$SEQREC" gen --users "$1" --items "$2" --events "$3" --seed 5 --quiet -o events.h5 >/dev/null
  "$SEQREC" train -c score.yaml >train.txt 2>&1 || fail "train: $(tail -5 train.txt)"
}

# same_data A B: the datasets of two recs files are equal (attributes such as created differ).
same_data() {
  local d
  for d in /recs/user /recs/item /recs/score /users/raw_id /items/raw_id; do
    h5diff -q "$1" "$2" "$d" "$d" || fail "$1 and $2 differ in $d"
  done
}
