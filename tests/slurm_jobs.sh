#!/usr/bin/env bash
# The Slurm jobs on a real one-node Slurm (tests/slurm_lib.sh starts munge, slurmctld and slurmd
# as root and always stops them): a 2-task training job on a small synthetic log, requeued while
# it runs; a scoring job that waits for it (afterok); the 4-point demo sweep as an array of at
# most 2 at a time. Then the checkpoint, recs.h5, and the sweep report. The commands are those
# of jobs/README-sections.md ("On Slurm", "Sweeps"). Run it alone: ctest -L slurm.
set -Eeuo pipefail
# set -e alone exits without a word: name the command that failed.
trap 'echo "FAIL: ${BASH_SOURCE[0]##*/}:$LINENO: $BASH_COMMAND (exit $?)" >&2' ERR
: "${SEQREC:?set by ctest}" "${TEST_TMP:?set by ctest}" "${SEQREC_SOURCE_DIR:?set by ctest}"
here=$(cd "$(dirname "$0")" && pwd)
source "$here/slurm_lib.sh"

if [ "$(id -u)" != 0 ]; then
  echo "SKIP: this test starts munge and the Slurm daemons, which needs root (CI runs as root)"
  exit 77
fi
for prog in h5dump gnuplot; do
  command -v "$prog" >/dev/null || { echo "FAIL: $prog is not installed (tools/install-deps.sh)"; exit 1; }
done

work=$TEST_TMP/work
mkdir -p "$TEST_TMP"
SLURM_DIR=$TEST_TMP/slurm slurm_stale_stop
rm -rf "${TEST_TMP:?}"/*
mkdir -p "$work"
started=$SECONDS

show_logs() {
  local f
  for f in "$work"/logs/* "$work"/runs/sweep-demo/p*/train.log; do
    [ -f "$f" ] && { echo "---- $f"; tail -n 40 "$f"; }
  done
  command -v squeue >/dev/null && [ -n "${SLURM_CONF:-}" ] && squeue 2>/dev/null || true
}
fail() {
  echo "FAIL: $*" >&2
  show_logs >&2
  exit 1
}
is_png() { [ "$(head -c 8 "$1" | od -An -tx1 | tr -d ' \n')" = 89504e470d0a1a0a ]; }
trap 'slurm_down' EXIT

slurm_up "$TEST_TMP/slurm"

cd "$work"
# The repository's configs and job scripts, as seen from a checkout; the runs go here.
ln -s "$SEQREC_SOURCE_DIR/configs" configs
ln -s "$SEQREC_SOURCE_DIR/jobs" jobs
export SEQREC
users=400
mkdir -p runs/demo logs
"$SEQREC" gen --users $users --items 200 --events 8000 --seed 1 --quiet -o runs/demo/events.h5 >/dev/null

# ---- the README's Slurm commands (CPU ranks: this node has no GPU and 2 cores) ------------------
cpu=(--ntasks-per-node=2 --gpus-per-task=0 --cpus-per-task=1)
train=$(sbatch --parsable "${cpu[@]}" jobs/train.sbatch configs/demo.yaml --set train.epochs=20)
score=$(sbatch --parsable --dependency=afterok:"$train" "${cpu[@]}" jobs/score.sbatch configs/demo.yaml)
"$SEQREC" sweep plan configs/sweep-demo.yaml
sweep=$(sbatch --parsable runs/sweep-demo/sweep.sbatch)
echo "submitted: train $train, score $score (afterok), sweep array $sweep"
[ "$(slurm_field "$sweep" ArrayTaskThrottle)" = 2 ] ||
  fail "the sweep array should run at most 2 points at once: $(scontrol show job -o "$sweep" | head -n 1)"

# ---- preemption: requeue the training job once it has checkpointed -------------------------------
ckpt=runs/demo/ckpt.h5
deadline=$((SECONDS + 180))
until [ "$(slurm_states "$train")" = RUNNING ] && [ -f "$ckpt" ]; do
  ((SECONDS < deadline)) || fail "training job $train did not run and checkpoint within 180 s"
  [ -n "$(squeue -h -j "$train" -o %i)" ] || fail "training job $train ended before it could be requeued"
  sleep 0.2
done
# The last step the run has logged: the requeue stops it at this step or a later one.
logged=$(awk '/"kind":"train"/ { sub(/.*"step":/, ""); sub(/,.*/, ""); if ($0 + 0 > s) s = $0 + 0 } END { print s + 0 }' runs/demo/metrics.jsonl)
scontrol requeue "$train"
echo "requeued $train at $((SECONDS - started)) s, after step $logged or later"
# A requeued job waits (BeginTime) about two minutes before it may start again; the test does not.
slurm_restart_now 60 "$train"

# ---- the time limit: SIGUSR1 to the batch shell (what --signal=B:USR1@120 sends) -----------------
# With the preemption contract seqrec stops at a checkpoint and the job requeues itself; without
# it SIGUSR1 would end the job, so this part needs the contract (seen above, or required).
log=logs/seqrec-train-$train.out
deadline=$((SECONDS + 180))
until [ "$(slurm_states "$train")" = RUNNING ] && grep -q "^resuming $ckpt" "$log" 2>/dev/null; do
  ((SECONDS < deadline)) || fail "training job $train did not start again within 180 s of the requeue"
  [ -n "$(squeue -h -j "$train" -o %i)" ] || fail "training job $train ended before its time-limit signal"
  sleep 0.2
done
usr1=0
if [ "${SEQREC_SIGNAL_CHECKPOINT:-0}" = 1 ] || grep "stopped at a checkpoint (preempted)" >/dev/null "$log"; then
  usr1=1
  logged_usr1=$(awk '/"kind":"train"/ { sub(/.*"step":/, ""); sub(/,.*/, ""); if ($0 + 0 > s) s = $0 + 0 } END { print s + 0 }' runs/demo/metrics.jsonl)
  scancel --batch --signal=USR1 "$train"
  echo "sent SIGUSR1 to the batch shell of $train at $((SECONDS - started)) s, after step $logged_usr1 or later"
  slurm_restart_now 60 "$train"
fi

slurm_wait 600 "$train" "$score" "$sweep"
echo "all jobs left the queue after $((SECONDS - started)) s"

# ---- the training job: requeued, resumed from its checkpoint, finished ----------------------------
[ -f "$log" ] || fail "no log $log (the #SBATCH --output of jobs/train.sbatch)"
[ "$(slurm_states "$train")" = COMPLETED ] || fail "training job $train: $(slurm_states "$train")"
restarts=$(slurm_field "$train" Restarts)
((restarts >= 1)) || fail "training job $train was not restarted (Restarts=$restarts)"
grep -q "train.sbatch: job $train (restart 0)" "$log" || fail "$log lacks the first start"
grep -q "train.sbatch: job $train (restart 1)" "$log" || fail "$log lacks the restart (open-mode=append)"
resume=$(grep -E "^resuming $ckpt at step [0-9]+ \(epoch [0-9]+\)" "$log" | head -n 1 || true)
[ -n "$resume" ] || fail "$log: the requeued job did not resume from $ckpt"
case $resume in *"training had finished"*) fail "the requeue came after training had finished: $resume" ;; esac
step=$(echo "$resume" | sed -E 's/.* at step ([0-9]+) .*/\1/')
epoch=$(echo "$resume" | sed -E 's/.*\(epoch ([0-9]+)\).*/\1/')
((step > 0)) || fail "resumed at step $step: the checkpoint held no progress"
((epoch < 20)) || fail "resumed at epoch $epoch of 20: nothing left to do"
grep -q "^train: ok" "$log" || fail "$log: the resumed training did not finish"
per_epoch=$(sed -n -E 's/.* ([0-9]+) steps per epoch.*/\1/p' "$log" | head -n 1)
[ -n "$per_epoch" ] || fail "$log: no 'N steps per epoch' line"
preempted=0
grep -q "stopped at a checkpoint (preempted)" "$log" && preempted=1
if [ "${SEQREC_SIGNAL_CHECKPOINT:-0}" = 1 ] || ((preempted)); then
  # seqrec train checkpoints on SIGTERM and exits 3: the batch script saw the preemption, and
  # no step the run had logged before the requeue is lost.
  ((preempted)) || fail "$log: seqrec train did not stop at a checkpoint with status 3 on SIGTERM"
  ((step >= logged)) || fail "resumed at step $step, but the run had logged step $logged before the requeue"
  if [ "${SEQREC_SIGNAL_CHECKPOINT:-0}" != 1 ]; then
    echo "note: seqrec train checkpointed on SIGTERM: configure with -DSEQREC_SIGNAL_CHECKPOINT=ON to require it"
  fi
else
  # Killed by the requeue: it resumes from the last epoch checkpoint (train.checkpoint_every=1).
  ((step == epoch * per_epoch)) ||
    fail "resumed at step $step, epoch $epoch: not an epoch checkpoint ($per_epoch steps per epoch)"
  echo "note: seqrec train was killed by the requeue and resumed from its last epoch checkpoint (step $step, epoch $epoch; step $logged was logged before the requeue)"
fi
if ((usr1)); then
  ((restarts >= 2)) || fail "training job $train did not requeue itself after SIGUSR1 (Restarts=$restarts)"
  grep -q "train.sbatch: SIGUSR1 at" "$log" || fail "$log: the batch shell did not get SIGUSR1"
  grep -q "train.sbatch: job $train (restart 2)" "$log" || fail "$log lacks the start after SIGUSR1"
  resume2=$(grep -E "^resuming $ckpt at step [0-9]+ \(epoch [0-9]+\)" "$log" | sed -n 2p)
  step2=$(echo "$resume2" | sed -E 's/.* at step ([0-9]+) .*/\1/')
  [ -n "$step2" ] && ((step2 >= logged_usr1 && step2 > step)) ||
    fail "after SIGUSR1 it resumed at '${step2:-nothing}', but step $logged_usr1 was logged before"
  echo "time limit: SIGUSR1 after step $logged_usr1, the job requeued itself and resumed at step $step2"
fi
for attr in finished epoch; do
  v=$(h5dump -a "/$attr" "$ckpt" | sed -n 's/.*(0): //p')
  want=1
  [ "$attr" = epoch ] && want=20
  [ "$v" = "$want" ] || fail "$ckpt: attribute $attr is '$v', wanted $want"
done
grep -q '"kind":"test"' runs/demo/metrics.jsonl || fail "runs/demo/metrics.jsonl has no test record"
echo "training: requeued after step $logged, resumed at step $step (epoch $epoch), finished 20 epochs"

# ---- the scoring job: ran after the training job, wrote recs.h5 ----------------------------------
slog=logs/seqrec-score-$score.out
[ "$(slurm_states "$score")" = COMPLETED ] || fail "scoring job $score: $(slurm_states "$score") (log $slog)"
recs=runs/demo/recs.h5
[ -f "$recs" ] || fail "no $recs after the scoring job"
h5dump -a /format "$recs" | grep '"seqrec-recs"' >/dev/null || fail "$recs: format attribute is not seqrec-recs"
h5dump -H -d /recs/item "$recs" | grep "SIMPLE { ( $users, 10 )" >/dev/null ||
  fail "$recs: /recs/item is not [$users, 10]: $(h5dump -H -d /recs/item "$recs" | grep DATASPACE)"
train_end=$(date -d "$(slurm_field "$train" EndTime)" +%s) || fail "no end time for job $train"
score_start=$(date -d "$(slurm_field "$score" StartTime)" +%s) || fail "no start time for job $score"
((score_start >= train_end)) || fail "scoring job started before the training job ended (afterok)"
echo "scoring: $recs holds $users users x 10"

# ---- the sweep array and its report ---------------------------------------------------------------
states=$(slurm_states "$sweep" | sort | uniq -c | tr -s ' ')
[ "$(slurm_states "$sweep" | grep -c COMPLETED)" = 4 ] || fail "sweep array $sweep: $states"
for p in 0 1 2 3; do
  d=runs/sweep-demo/p00$p
  [ -f "$d/done" ] && [ -f "$d/train.checkpoint" ] || fail "$d: not finished (no done marker or checkpoint)"
  grep -q "^train: ok" "$d/train.log" || fail "$d/train.log: no 'train: ok'"
done
"$SEQREC" sweep report configs/sweep-demo.yaml | tee sweep-report.txt
csv=runs/sweep-demo/report.csv
[ "$(wc -l <"$csv")" = 5 ] || fail "$csv: wanted a header and 4 rows"
[ "$(cut -d, -f1 "$csv" | tail -n 4 | tr '\n' ' ')" = "1 2 3 4 " ] || fail "$csv: points not all ranked"
col=$(head -n 1 "$csv" | tr ',' '\n' | grep -nxF 'valid.ndcg10' | cut -d: -f1)
tail -n 4 "$csv" | cut -d, -f"$col" | sort -g -r -c || fail "$csv: not sorted by valid.ndcg10"
is_png runs/sweep-demo/report.png || fail "runs/sweep-demo/report.png is not a PNG"
grep -q "4 done" sweep-report.txt || fail "sweep report does not count 4 finished points"

# ---- one run's curves ---------------------------------------------------------------------------
"$SEQREC" report runs/demo
is_png runs/demo/report.png || fail "runs/demo/report.png is not a PNG"

echo "slurm_jobs: ok ($((SECONDS - started)) s)"
