#!/usr/bin/env bash
# SIGTERM, SIGUSR1 and SIGINT make `seqrec train` write its checkpoint after the step in progress
# and exit with status 3 (what jobs/train.sbatch requeues on), within a bounded time; the next
# start resumes and ends with the bits of an uninterrupted run. Also: a signal that arrives
# while a checkpoint is being written (SEQREC_TEST_CHECKPOINT_PAUSE_MS stretches the write), and
# under mpirun -np 2. Open MPI's mpirun forwards USR1 (and USR2, TSTP, CONT, ALRM, ABRT) to the
# ranks: USR1 is the signal for an mpirun job. TERM, INT and HUP it does not forward: it kills
# the job instead (TERM to the ranks about a second later, KILL about a second after that) and
# exits 1, so a rank has about a second to checkpoint; that case is checked to leave a whole
# checkpoint that resumes exactly, whichever one it is. Every time from signal to exit is printed.
source "$(dirname "$0")/train_lib.sh"
command -v h5diff >/dev/null || fail "h5diff not found (hdf5-tools)"
BOUND=10   # seconds from signal to exit that the test accepts (a step and a checkpoint here)

"$SEQREC" gen --users 400 --items 150 --events 8000 --seed 5 --quiet -o events.h5 >/dev/null
common=("${TINY[@]}" --set data.events=../events.h5 --set model.dropout=0.2 --set train.epochs=25
        --set train.eval_every=5 --set train.patience=0 --set train.batch_size=16
        --set train.checkpoint=ckpt.h5)
now_ms() { date +%s%3N; }
secs() { echo "$(($1 / 1000)).$(printf '%03d' $(($1 % 1000)))"; }
attr() { h5dump -a "/$2" "$1" 2>/dev/null | sed -n 's/^ *(0): *//p'; }
lines() { grep -v '"kind":"pop-valid"' "$1/metrics.jsonl"; }
mpirun_np() { local np=$1; shift; "$MPIEXEC" --oversubscribe --allow-run-as-root -np "$np" "$@"; }

# launch DIR NP: seqrec train in DIR in the background ($pid: the process to signal).
launch() {
  mkdir -p "$1"
  if [ "$2" -eq 1 ]; then
    (cd "$1" && exec "$SEQREC" train "${common[@]}" >log.txt 2>&1) &
  else
    (cd "$1" && exec "$MPIEXEC" --oversubscribe --allow-run-as-root -np "$2" "$SEQREC" train \
       "${common[@]}" >log.txt 2>&1) &
  fi
  pid=$!
}
# wait_for DIR WHAT: until DIR/metrics.jsonl has train step WHAT, or DIR/ckpt.h5.tmp exists
# (WHAT = write).
wait_for() {
  local until=$(( $(now_ms) + 120000 ))
  while [ "$(now_ms)" -lt "$until" ]; do
    if [ "$2" = write ]; then [ -e "$1/ckpt.h5.tmp" ] && return; else
      grep -q "\"step\":$2," "$1/metrics.jsonl" 2>/dev/null && return; fi
    kill -0 "$pid" 2>/dev/null || fail "$1: training ended before the signal: $(tail -3 "$1/log.txt")"
    sleep 0.01
  done
  fail "$1: step $2 did not come within 120 s"
}
# signal_run DIR NP SIG WHEN: signals the run at WHEN, waits; sets rc, took (ms) and step (the
# checkpoint's).
signal_run() {
  launch "$1" "$2"
  wait_for "$1" "$4"
  local t0
  t0=$(now_ms)
  kill -s "$3" "$pid"
  rc=0
  wait "$pid" || rc=$?
  took=$(( $(now_ms) - t0 ))
  step=$(attr "$1/ckpt.h5" step)
}
# resumes_exactly DIR NP REF: the next start resumes at the checkpoint's step and ends as REF.
resumes_exactly() {
  local rc=0
  if [ "$2" -eq 1 ]; then
    (cd "$1" && "$SEQREC" train "${common[@]}" >resume.txt 2>&1) || rc=$?
  else
    (cd "$1" && mpirun_np "$2" "$SEQREC" train "${common[@]}" >resume.txt 2>&1) || rc=$?
  fi
  [ "$rc" -eq 0 ] || fail "$1: resuming exited $rc: $(tail -3 "$1/resume.txt")"
  grep -q "resuming ckpt.h5 at step $step" "$1/resume.txt" || fail "$1: no resume at step $step"
  h5diff "$3/ckpt.h5" "$1/ckpt.h5" >h5diff.txt 2>&1 \
    || { head -10 h5diff.txt >&2; fail "$1: final checkpoint differs from $3's"; }
  cmp -s <(lines "$3") <(lines "$1") || fail "$1: metrics.jsonl differs from $3's"
}
# stops_cleanly DIR WHAT: status 3, the message, a checkpoint of the last step run, in time.
stops_cleanly() {
  [ "$rc" -eq 3 ] || fail "$1 ($2): exit $rc, expected 3: $(tail -5 "$1/log.txt")"
  grep -q "stopped by a signal after step $step; ckpt.h5 is written" "$1/log.txt" \
    || fail "$1 ($2): no stop message for step $step: $(tail -3 "$1/log.txt")"
  [ "$(kind train <"$1/metrics.jsonl" | field step | tail -1)" = "$step" ] \
    || fail "$1 ($2): the checkpoint (step $step) is not the last step run"
  [ "$took" -lt $((BOUND * 1000)) ] || fail "$1 ($2): $(secs "$took") s from signal to exit"
}

mkdir -p ref && (cd ref && train 1 log.txt "${common[@]}")
spe=$(sed -n 's/.* \([0-9]*\) steps per epoch.*/\1/p' ref/log.txt)

# One rank: each signal at a different point, mid-epoch.
when=100
for sig in TERM USR1 INT; do
  signal_run "$sig" 1 "$sig" "$when"
  stops_cleanly "$sig" "SIG$sig"
  [ $((step % spe)) -ne 0 ] || echo "note: SIG$sig stop landed on an epoch's end"
  resumes_exactly "$sig" 1 ref
  echo "1 rank, SIG$sig after step $when: exit 3 in $(secs "$took") s, checkpoint at step $step, resumed: identical"
  when=$((when + 250))
done

# A signal during a checkpoint write: the write completes, the run stops after the next step.
export SEQREC_TEST_CHECKPOINT_PAUSE_MS=15
signal_run during 1 TERM write
unset SEQREC_TEST_CHECKPOINT_PAUSE_MS
stops_cleanly during "SIGTERM mid-write"
[ $((step % spe)) -eq 1 ] || fail "during: stopped at step $step, not one step after a checkpoint"
resumes_exactly during 1 ref
echo "1 rank, SIGTERM during a checkpoint write (~1 s long): exit 3 in $(secs "$took") s," \
     "checkpoint at step $step, resumed: identical"

if ! have_mpi; then echo "signal_stop: ok (no MPIEXEC: the mpirun cases skipped)"; exit 0; fi
mkdir -p ref2 && (cd ref2 && train 2 log.txt "${common[@]}")

# mpirun forwards USR1: every rank stops after the same step, mpirun exits 3.
signal_run usr1-np2 2 USR1 150
stops_cleanly usr1-np2 "SIGUSR1 to mpirun"
resumes_exactly usr1-np2 2 ref2
echo "mpirun -np 2, SIGUSR1 to mpirun: exit 3 in $(secs "$took") s, checkpoint at step $step, resumed: identical"

# TERM to mpirun: the job is killed; what is on disk is a whole checkpoint that resumes exactly.
signal_run term-np2 2 TERM 150
[ "$rc" -ne 0 ] || fail "term-np2: exit 0 after SIGTERM"
h5dump term-np2/ckpt.h5 >/dev/null 2>&1 || fail "term-np2: the checkpoint does not read back"
how="ranks stopped in time"
grep -q "stopped by a signal after step $step" term-np2/log.txt || how="ranks killed first"
resumes_exactly term-np2 2 ref2
echo "mpirun -np 2, SIGTERM to mpirun: mpirun exits $rc in $(secs "$took") s ($how)," \
     "checkpoint at step $step, resumed: identical"
echo "signal_stop: ok"
