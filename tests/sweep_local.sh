#!/usr/bin/env bash
# The workstation side of jobs/README-sections.md, without Slurm: jobs/run-local (ranks from the
# visible GPUs, or -n), `seqrec report` on one run, and the demo sweep through `seqrec sweep
# run` and `seqrec sweep report`, with the ways they refuse bad input.
set -Eeuo pipefail
# set -e alone exits without a word: name the command that failed.
trap 'echo "FAIL: ${BASH_SOURCE[0]##*/}:$LINENO: $BASH_COMMAND (exit $?)" >&2' ERR
: "${SEQREC:?set by ctest}" "${TEST_TMP:?set by ctest}" "${SEQREC_SOURCE_DIR:?set by ctest}"
command -v gnuplot >/dev/null || { echo "FAIL: gnuplot is not installed (tools/install-deps.sh)"; exit 1; }

rm -rf "$TEST_TMP"
mkdir -p "$TEST_TMP/work"
cd "$TEST_TMP/work"
ln -s "$SEQREC_SOURCE_DIR/configs" configs
ln -s "$SEQREC_SOURCE_DIR/jobs" jobs
export SEQREC
started=$SECONDS

fail() {
  echo "FAIL: $*" >&2
  exit 1
}
is_png() { [ "$(head -c 8 "$1" | od -An -tx1 | tr -d ' \n')" = 89504e470d0a1a0a ]; }
# expect_fail CODE FRAGMENT CMD...: the command exits with CODE and says FRAGMENT.
expect_fail() {
  local code=$1 fragment=$2 rc=0
  shift 2
  "$@" >out.txt 2>&1 || rc=$?
  [ "$rc" = "$code" ] || { cat out.txt; fail "'$*' exited $rc, wanted $code"; }
  grep -qF -- "$fragment" out.txt || { cat out.txt; fail "'$*' did not say: $fragment"; }
}

mkdir -p runs/demo
"$SEQREC" gen --users 400 --items 200 --events 8000 --seed 1 --quiet -o runs/demo/events.h5 >/dev/null

# ---- jobs/run-local: ranks from the GPUs that are visible, or -n --------------------------------
CUDA_VISIBLE_DEVICES="" jobs/run-local info runs/demo/events.h5 >out.txt
grep -q "run-local: 1 rank(s), 0 GPU(s) visible" out.txt || { cat out.txt; fail "run-local without GPUs"; }
CUDA_VISIBLE_DEVICES=0,1 jobs/run-local info runs/demo/events.h5 >out.txt
grep -q "run-local: 2 rank(s), 2 GPU(s) visible" out.txt || { cat out.txt; fail "run-local with 2 GPUs"; }
expect_fail 1 "positive rank count" jobs/run-local -n 0 train -c configs/demo.yaml
expect_fail 1 "usage: jobs/run-local" jobs/run-local

# The README's workstation commands (CPU ranks here).
jobs/run-local -n 2 train -c configs/demo.yaml | tee train.txt
grep -q "^ranks 2" train.txt || fail "run-local -n 2 did not start 2 ranks"
grep -q "^train: ok" train.txt || fail "training under run-local did not finish"
[ -f runs/demo/ckpt.h5 ] || fail "no checkpoint runs/demo/ckpt.h5"
jobs/run-local -n 2 score -c configs/demo.yaml
[ -f runs/demo/recs.h5 ] || fail "no runs/demo/recs.h5 after run-local score"

# ---- seqrec report: one run -----------------------------------------------------------------------
"$SEQREC" report runs/demo | tee report.txt
is_png runs/demo/report.png || fail "runs/demo/report.png is not a PNG"
grep -q "^run runs/demo: 5 epoch(s)" report.txt || fail "report does not see the 5 epochs of configs/demo.yaml"
grep -q "^best validation NDCG@10" report.txt || fail "report has no best validation line"
"$SEQREC" report runs/demo/metrics.jsonl -o other.png >/dev/null
is_png other.png || fail "report -o other.png"
expect_fail 1 "no such run folder" "$SEQREC" report runs/nothing
mkdir -p runs/empty
expect_fail 1 "no metrics.jsonl here" "$SEQREC" report runs/empty

# ---- sweeps without Slurm -------------------------------------------------------------------------
"$SEQREC" sweep run configs/sweep-demo.yaml | tee run.txt
[ "$(grep -c ' ok (' run.txt)" = 4 ] || fail "sweep run did not train 4 points"
for p in 0 1 2 3; do
  [ -f runs/sweep-demo/p00$p/done ] || fail "runs/sweep-demo/p00$p has no done marker"
  grep -q "^train: ok" runs/sweep-demo/p00$p/train.log || fail "p00$p/train.log has no 'train: ok'"
done
grep -q '^#SBATCH --array=0-3%2$' runs/sweep-demo/sweep.sbatch || fail "sweep.sbatch array line"
"$SEQREC" sweep run configs/sweep-demo.yaml >run2.txt
[ "$(grep -c '^p00[0-3] .* finished before$' run2.txt)" = 4 ] || { cat run2.txt; fail "a second sweep run retrained points"; }

"$SEQREC" sweep report configs/sweep-demo.yaml | tee sweep.txt
csv=runs/sweep-demo/report.csv
[ "$(wc -l <"$csv")" = 5 ] || fail "$csv: wanted a header and 4 rows"
col=$(head -n 1 "$csv" | tr ',' '\n' | grep -nxF valid.ndcg10 | cut -d: -f1)
tail -n 4 "$csv" | cut -d, -f"$col" | sort -g -r -c || fail "$csv: not sorted by valid.ndcg10"
is_png runs/sweep-demo/report.png || fail "runs/sweep-demo/report.png is not a PNG"
"$SEQREC" sweep report configs/sweep-demo.yaml --metric test.hr10 >/dev/null
col=$(head -n 1 "$csv" | tr ',' '\n' | grep -nxF test.hr10 | cut -d: -f1)
[ -n "$col" ] || fail "$csv: no test.hr10 column after --metric test.hr10"
tail -n 4 "$csv" | cut -d, -f"$col" | sort -g -r -c || fail "$csv: not sorted by test.hr10"

# A sweep whose points cannot train: each fails, the run says so and exits 1.
cat >broken.yaml <<'EOF'
base: configs/demo.yaml
run_dir: runs/broken
set:
  data.events: runs/none/events.h5
grid:
  train.lr: [1.0e-3, 2.0e-3]
EOF
expect_fail 1 "2 of 2 points failed" "$SEQREC" sweep run broken.yaml
grep -q "runs/none/events.h5" runs/broken/p000/train.log || fail "the failing point's log lacks the cause"
cat >unplanned.yaml <<'EOF'
base: configs/demo.yaml
run_dir: runs/unplanned
EOF
expect_fail 1 "has not been planned here yet" "$SEQREC" sweep report unplanned.yaml
expect_fail 1 "unknown action 'go'" "$SEQREC" sweep go unplanned.yaml
expect_fail 1 "--metric belongs to" "$SEQREC" sweep plan unplanned.yaml --metric test.mrr
echo "sweep_local: ok ($((SECONDS - started)) s)"
