#!/usr/bin/env bash
# seqrec train on a GPU (runtime.device: cuda), tiny model, 12 steps per run:
#   - against the CPU: the same windows, targets and dropout masks (functions of seed, step and
#     rank on both backends), so the loss curves differ by rounding only: fp32 within 1e-4
#     relative per step, bf16 within 1e-2 of the CPU's bf16 run (a wrong gradient is off by
#     percents within a few steps);
#   - two ranks follow one rank with the doubled batch within 1e-4 (dropout 0: masks depend on
#     the rank), as train_parallel.sh on the CPU: sharing one GPU (sums through host memory),
#     or, where two GPUs are visible, one each (NCCL; tools/cudaemu/run.sh with EMU_GPUS=2);
#   - a run stopped at step 6 and started again ends with the bits of one that never stopped
#     (losses and checkpoint: the GPU kernels are deterministic).
# 12 steps keep it within reach of the host emulator (tools/cudaemu: ~2 s a step there).
# Skipped where no GPU is visible.
source "$(dirname "$0")/train_lib.sh"
command -v h5diff >/dev/null || fail "h5diff not found (hdf5-tools): needed to compare checkpoints"

"$SEQREC" gen --users 300 --items 150 --events 6000 --seed 3 -o events.h5 >/dev/null
STEPS=12
common=("${TINY[@]}" --set data.events=../events.h5 --set model.dropout=0.2 --set train.epochs=100
        --set train.max_steps=$STEPS --set train.eval_every=1000 --set train.batch_size=32
        --set train.checkpoint=ckpt.h5)
# run DIR NP ARGS...: seqrec train inside DIR (relative paths: equal settings, equal checkpoints).
run() { local dir=$1 np=$2; shift 2; mkdir -p "$dir"; (cd "$dir" && train "$np" log.txt "$@"); }

mkdir -p cuda
rc=0
(cd cuda && "$SEQREC" train "${common[@]}" --set runtime.device=cuda >log.txt 2>&1) || rc=$?
if [ "$rc" -ne 0 ] && grep -q "no GPU is visible" cuda/log.txt; then
  echo "no GPU visible: skipped"
  exit 77
fi
[ "$rc" -eq 0 ] || fail "seqrec train on cuda exited $rc: $(tail -5 cuda/log.txt)"
run cpu 1 "${common[@]}"
same_losses cpu cuda "fp32, cpu vs cuda" 1e-4

run cpu-bf16 1 "${common[@]}" --set train.precision=bf16
run cuda-bf16 1 "${common[@]}" --set train.precision=bf16 --set runtime.device=cuda
same_losses cpu-bf16 cuda-bf16 "bf16, cpu vs cuda" 1e-2

if have_mpi; then
  run np2 2 "${common[@]}" --set runtime.device=cuda --set model.dropout=0 --set train.batch_size=16
  grep -q "ranks 2" np2/log.txt || fail "the mpirun run did not have 2 ranks"
  # one GPU: through pinned host memory; two or more (a GPU per rank): NCCL, where built
  gpus=$(sed -n 's/.*GPUs visible \([0-9]*\).*/\1/p' np2/log.txt | head -1)
  how=$(sed -n 's/.*gradients summed by //p' np2/log.txt | head -1)
  echo "2 ranks, $gpus GPUs: gradients summed by $how"
  if [ "${gpus:-0}" -ge 2 ]; then [ "$how" = NCCL ] || fail "2 ranks on $gpus GPUs: not NCCL ($how)"
  else [ "$how" = "MPI through pinned host memory" ] || fail "2 ranks on one GPU: $how"; fi
  run np1 1 "${common[@]}" --set runtime.device=cuda --set model.dropout=0
  same_losses np1 np2 "cuda, 1 rank x 32 vs 2 ranks x 16 ($how)" 1e-4
fi

run resumed 1 "${common[@]}" --set runtime.device=cuda --set train.max_steps=6
run resumed 1 "${common[@]}" --set runtime.device=cuda
cmp -s <(kind train <cuda/metrics.jsonl) <(kind train <resumed/metrics.jsonl) \
  || fail "cuda: the resumed run's losses differ from the uninterrupted run's"
h5diff cuda/ckpt.h5 resumed/ckpt.h5 >h5diff.txt 2>&1 \
  || fail "cuda: the resumed checkpoint differs: $(head -5 h5diff.txt)"
echo "train_cuda: ok"
