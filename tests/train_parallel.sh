#!/usr/bin/env bash
# Data parallel (DESIGN.md "Model and training"): 2 ranks with batch b follow 1 rank with batch
# 2b. Same windows per step (one global order), loss and gradient normalised by the global
# target count, gradients summed over ranks: only float summation order differs, so the first
# 50 losses agree to 1e-4 relative (measured ~1e-8; a lost rank's gradient or a per-rank
# normalisation is off by percents within a few steps). Dropout 0: masks depend on the rank.
# The same for bce, whose negatives are drawn per (step, global window), not per rank, and for
# three ranks. TRAIN_DEVICE=cuda runs it on the GPU (bench/gpu/session.sh: ranks sharing one GPU
# sum through host memory; issue 4's "-np 2 on one GPU follows -np 1 with doubled batch").
source "$(dirname "$0")/train_lib.sh"
have_mpi || { echo "no mpirun: skipped"; exit 77; }

"$SEQREC" gen --users 300 --items 150 --events 6000 --seed 3 -o events.h5 >/dev/null
STEPS=50
common=("${TINY[@]}" --set data.events=events.h5 --set model.dropout=0 --set train.epochs=100
        --set train.max_steps=$STEPS --set train.eval_every=1000
        --set runtime.device="${TRAIN_DEVICE:-cpu}")

compare() { same_losses "$1" "$2" "$3" 1e-4; }

for loss in ce bce; do
  train 2 np2-$loss.log "${common[@]}" --set train.loss=$loss --set train.batch_size=16 \
    --set train.checkpoint=np2-$loss/ckpt.h5
  train 1 np1-$loss.log "${common[@]}" --set train.loss=$loss --set train.batch_size=32 \
    --set train.checkpoint=np1-$loss/ckpt.h5
  grep -q "ranks 2" np2-$loss.log || fail "the mpirun run did not have 2 ranks"
  compare np1-$loss np2-$loss "$loss, 1 rank x 32 vs 2 ranks x 16"
done
# Three ranks (an odd count: other all-reduce algorithms, uneven shares of each batch). The
# trainer also checks, before each checkpoint, that every rank holds the same weights.
train 3 np3.log "${common[@]}" --set train.batch_size=16 --set train.checkpoint=np3/ckpt.h5
train 1 np1-48.log "${common[@]}" --set train.batch_size=48 --set train.checkpoint=np1-48/ckpt.h5
compare np1-48 np3 "ce, 1 rank x 48 vs 3 ranks x 16"

# The check has teeth: a different global batch (1 rank x 16) does not pass it.
train 1 np1-half.log "${common[@]}" --set train.batch_size=16 --set train.checkpoint=np1-half/ckpt.h5
if (compare np1-ce np1-half "batch 32 vs batch 16") 2>/dev/null; then
  fail "runs with different global batches compared equal"
fi
echo "train_parallel: ok"
