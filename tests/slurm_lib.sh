# shellcheck shell=bash
# A private one-node Slurm for the jobs tests: munge on its own socket, slurmctld and slurmd
# (Debian's slurm-wlm) configured for this machine, all under one folder, started as root.
# Sourced by tests/slurm_*.sh; not a way to run a real cluster (see jobs/README-sections.md).
#
#   slurm_up DIR              start munged, slurmctld, slurmd; export SLURM_CONF; fail loudly
#                             if they cannot start (never skip silently)
#   slurm_down                cancel what is left, stop the three daemons by their pid files
#   slurm_wait SECONDS ID...  wait until the jobs (every array task) have left the queue
#   slurm_restart_now SECONDS ID  after a requeue: start the job again without Slurm's hold
#   slurm_states ID, slurm_field ID NAME   what `scontrol show job` says

SLURM_DIR=""
SLURM_STARTED=()   # "name:pidfile" of each daemon this shell started

slurm_fail() {
  echo "FAIL (slurm): $*" >&2
  if [ -n "$SLURM_DIR" ]; then
    local f
    for f in "$SLURM_DIR"/munge/munged.log "$SLURM_DIR"/log/slurmctld.log "$SLURM_DIR"/log/slurmd.log; do
      [ -s "$f" ] && { echo "---- last lines of $f" >&2; tail -n 25 "$f" >&2; }
    done
  fi
  exit 1
}

# Waits up to $1 seconds for the command in "${@:2}" to succeed.
slurm_retry() {
  local limit=$1 i
  shift
  for ((i = 0; i < limit * 5; i++)); do
    "$@" >/dev/null 2>&1 && return 0
    sleep 0.2
  done
  return 1
}

# Daemons that an earlier, interrupted run of this test left behind in the same folder: stopped
# by their pid files, and only when the pid still belongs to that program.
slurm_stale_stop() {
  local f pid prog
  for f in "$SLURM_DIR/munge/munged.pid" "$SLURM_DIR/run/slurmctld.pid" "$SLURM_DIR/run/slurmd.pid"; do
    [ -s "$f" ] || continue
    pid=$(cat "$f")
    prog=$(basename "$f" .pid)
    if [ -r "/proc/$pid/comm" ] && [ "$(cat "/proc/$pid/comm")" = "$prog" ]; then
      echo "slurm: stopping $prog ($pid) left by an earlier run" >&2
      kill -TERM "$pid" 2>/dev/null || true
      slurm_retry 10 sh -c "! kill -0 $pid" || kill -KILL "$pid" 2>/dev/null || true
    fi
  done
}

slurm_up() {
  SLURM_DIR=$1
  local prog
  for prog in munged munge unmunge slurmctld slurmd sbatch squeue scontrol sinfo; do
    command -v "$prog" >/dev/null ||
      slurm_fail "'$prog' is not installed: run tools/install-deps.sh (packages slurm-wlm, munge)"
  done
  [ "$(id -u)" = 0 ] || slurm_fail "starting munge and the Slurm daemons needs root"
  local key=/etc/munge/munge.key
  [ -s "$key" ] || slurm_fail "$key is missing: the munge package creates it (or run
    'mungekey --create' as root, then 'chown munge:munge $key; chmod 400 $key')"

  slurm_stale_stop
  rm -rf "$SLURM_DIR"
  mkdir -p "$SLURM_DIR"/{munge,etc,state,spool,log,run}
  # munged refuses a socket folder that others can write to, and runs as its own user.
  chown munge:munge "$SLURM_DIR/munge"
  chmod 755 "$SLURM_DIR/munge"
  local sock=$SLURM_DIR/munge/munge.socket
  runuser -u munge -- munged --socket="$sock" --pid-file="$SLURM_DIR/munge/munged.pid" \
    --seed-file="$SLURM_DIR/munge/munged.seed" --log-file="$SLURM_DIR/munge/munged.log" \
    || slurm_fail "munged did not start"
  SLURM_STARTED+=("munged:$SLURM_DIR/munge/munged.pid")
  slurm_retry 10 sh -c "munge -S '$sock' -n | unmunge -S '$sock'" ||
    slurm_fail "munge does not work: 'munge -S $sock -n | unmunge -S $sock' fails"

  # The node as slurmd itself sees it (CPUs, sockets, memory), so it is not drained as invalid.
  local node
  node=$(slurmd -C | head -n 1) || slurm_fail "slurmd -C failed"
  node=$(echo "$node" | sed -e 's/^NodeName=[^ ]*//')
  local host
  host=$(hostname -s)
  local ctld_port=${SEQREC_SLURM_PORT:-16817}
  cat >"$SLURM_DIR/etc/slurm.conf" <<EOF
# Written by tests/slurm_lib.sh for one test run; removed with $SLURM_DIR.
ClusterName=seqrectest
SlurmctldHost=$host(127.0.0.1)
SlurmctldPort=$ctld_port
SlurmdPort=$((ctld_port + 1))
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
AuthInfo=socket=$sock
CredType=cred/munge
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
MpiDefault=none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
SchedulerType=sched/builtin
ReturnToService=2
JobRequeue=1
MinJobAge=600
KillWait=30
InactiveLimit=0
StateSaveLocation=$SLURM_DIR/state
SlurmdSpoolDir=$SLURM_DIR/spool
SlurmctldPidFile=$SLURM_DIR/run/slurmctld.pid
SlurmdPidFile=$SLURM_DIR/run/slurmd.pid
SlurmctldLogFile=$SLURM_DIR/log/slurmctld.log
SlurmdLogFile=$SLURM_DIR/log/slurmd.log
JobCompType=jobcomp/none
AccountingStorageType=accounting_storage/none
NodeName=$host NodeAddr=127.0.0.1 $node State=UNKNOWN
PartitionName=test Nodes=$host Default=YES MaxTime=INFINITE State=UP
EOF
  export SLURM_CONF=$SLURM_DIR/etc/slurm.conf
  slurmctld -f "$SLURM_CONF" || slurm_fail "slurmctld did not start"
  SLURM_STARTED+=("slurmctld:$SLURM_DIR/run/slurmctld.pid")
  slurm_retry 30 scontrol ping || slurm_fail "slurmctld does not answer 'scontrol ping'"
  slurmd -f "$SLURM_CONF" || slurm_fail "slurmd did not start"
  SLURM_STARTED+=("slurmd:$SLURM_DIR/run/slurmd.pid")
  slurm_retry 60 sh -c "sinfo -h -N -o %t | grep -x idle" >/dev/null ||
    slurm_fail "the node did not become idle: $(sinfo -h -N -o '%N %t %E' 2>&1)"
  echo "slurm: up ($(sinfo -h -N -o '%N %c CPUs %m MB %t'), config $SLURM_CONF)"
}

slurm_down() {
  [ -n "$SLURM_DIR" ] || return 0
  if [ -n "${SLURM_CONF:-}" ] && scontrol ping >/dev/null 2>&1; then
    # Jobs first, so that no slurmstepd or job process outlives the daemons.
    scancel --quiet --user="$(id -un)" >/dev/null 2>&1 || true
    slurm_retry 40 sh -c '[ -z "$(squeue -h -o %i 2>/dev/null)" ]' ||
      echo "slurm_down: jobs still listed after 40 s: $(squeue -h 2>&1)" >&2
  fi
  local i entry name pidfile pid
  for ((i = ${#SLURM_STARTED[@]} - 1; i >= 0; i--)); do
    entry=${SLURM_STARTED[i]}
    name=${entry%%:*}
    pidfile=${entry#*:}
    pid=$(cat "$pidfile" 2>/dev/null || true)
    [ -n "$pid" ] || continue
    kill -TERM "$pid" 2>/dev/null || continue
    slurm_retry 10 sh -c "! kill -0 $pid" || { echo "slurm_down: $name ($pid) killed" >&2; kill -KILL "$pid" 2>/dev/null || true; }
  done
  SLURM_STARTED=()
}

# slurm_states JOBID: the state of the job, or of each task of an array, one per line.
slurm_states() {
  scontrol show job -o "$1" 2>/dev/null | sed -n 's/.* JobState=\([A-Z_]*\) .*/\1/p'
}

# slurm_field JOBID NAME: one field of `scontrol show job` (Restarts, ExitCode, ...).
slurm_field() {
  scontrol show job -o "$1" 2>/dev/null | head -n 1 | tr ' ' '\n' | sed -n "s/^$2=//p"
}

# slurm_wait SECONDS JOBID...: waits until the jobs (and every task of an array) have left the
# queue: finished, failed or cancelled. Fails after SECONDS.
slurm_wait() {
  local limit=$1 start=$SECONDS
  shift
  local ids
  ids=$(IFS=,; echo "$*")
  while [ -n "$(squeue -h -j "$ids" -o %i 2>/dev/null)" ]; do
    ((SECONDS - start < limit)) || { squeue >&2; slurm_fail "jobs $* not done after $limit s"; }
    sleep 1
  done
}

# 1 while a slurmstepd of the job is still on the node (its sockets in the spool folder).
slurm_stepd_left() {
  compgen -G "$SLURM_DIR/spool/*_$1.*" >/dev/null || compgen -G "$SLURM_DIR/spool/stepd.slurm.pmix.$1.*" >/dev/null
}

# slurm_restart_now SECONDS JOBID: a requeued job is held (BeginTime) for about two minutes;
# once it is pending and the old run has left the node, let it start at once. Started while a
# slurmstepd of the old run is still there, the new run's step 0 cannot take its sockets.
slurm_restart_now() {
  local limit=$1 id=$2 start=$SECONDS
  until [ "$(slurm_states "$id")" = PENDING ] && ! scontrol listpids "$id" >/dev/null 2>&1 &&
        ! slurm_stepd_left "$id"; do
    ((SECONDS - start < limit)) ||
      slurm_fail "job $id is not pending, or still on the node, $limit s after its requeue: $(slurm_states "$id")"
    sleep 0.2
  done
  scontrol update JobId="$id" StartTime=now
}
