#!/usr/bin/env bash
# Fine-tuning across item vocabularies with the seqrec binary: a checkpoint keeps its items' raw
# ids (/items/raw_id); model.init_from on a newer log with items added, dropped and renumbered
# says what it kept; a run started that way stops and resumes bit for bit; eval refuses a
# checkpoint of another vocabulary; the temporal split trains, reports cold users and evaluates.
source "$(dirname "$0")/train_lib.sh"
command -v h5diff >/dev/null || fail "h5diff not found (hdf5-tools): needed to compare checkpoints"

# Old log: items i1..i40. New log: i5..i50 (i1..i4 gone, i41..i50 new), other histories, so
# the dense ids of the kept items change too.
log_csv 1 40 1 >old.csv
log_csv 5 50 2 >new.csv
imp() { "$SEQREC" import --format csv --header --user user --item item --time time "$1" -o "$2" \
  >/dev/null || fail "import $1"; }
imp old.csv old.h5
imp new.csv new.h5
n_old=$(h5dump -a /n_items old.h5 | sed -n 's/.*(0): //p')
n_new=$(h5dump -a /n_items new.h5 | sed -n 's/.*(0): //p')
[ "$n_old" -eq 40 ] && [ "$n_new" -eq 46 ] || fail "logs have $n_old and $n_new items, not 40 and 46"

common=("${TINY[@]}" --set train.epochs=4 --set train.eval_every=1 --set train.patience=0
        --set train.batch_size=16 --set model.dropout=0.1)

# 1. A checkpoint keeps the vocabulary of its events file.
train 1 old.txt "${common[@]}" --set data.events=old.h5 --set train.checkpoint=old/ckpt.h5
h5dump -d /items/raw_id old/ckpt.h5 >ids_ckpt.txt || fail "old/ckpt.h5 has no /items/raw_id"
h5dump -d /items/raw_id old.h5 >ids_events.txt
cmp -s <(grep '^ *([0-9]*)' ids_ckpt.txt | tr -d ' ') <(grep '^ *([0-9]*)' ids_events.txt | tr -d ' ') ||
  { grep -c . ids_ckpt.txt >&2; fail "old/ckpt.h5: /items/raw_id is not the one of old.h5"; }

# 2. Fine-tuning on the newer log: 36 items kept, 10 new, 4 dropped.
ft=("${common[@]}" --set data.events=new.h5 --set model.init_from=../old/ckpt.h5
    --set model.init_optimizer=true --set train.checkpoint=ckpt.h5)
mkdir -p ref mid
(cd ref && train 1 log.txt "${ft[@]/new.h5/../new.h5}")
grep -q "weights and Adam moments from ../old/ckpt.h5: 36 items kept ([0-9]* under a new id), 10 new (random rows), 4 dropped" ref/log.txt ||
  fail "no kept/new/dropped summary: $(grep -i weights ref/log.txt)"
moved=$(sed -n 's/.*(\([0-9]*\) under a new id).*/\1/p' ref/log.txt)
[ "$moved" -gt 0 ] || fail "no kept item changed its id: the test does not test renumbering"
h5dump -a /n_items ref/ckpt.h5 | grep "(0): 46\$" >/dev/null || fail "ref/ckpt.h5 is not a 46-item model"

# 3. A fine-tuning run stopped part way resumes from its own checkpoint (the grown vocabulary),
#    not from model.init_from, and ends with the uninterrupted run's bits.
spe=$(sed -n 's/.* \([0-9]*\) steps per epoch.*/\1/p' ref/log.txt)
n=$(( spe + spe / 2 ))
(cd mid && train 1 log1.txt "${ft[@]/new.h5/../new.h5}" --set train.max_steps=$n)
grep -q "stopped at step $n" mid/log1.txt || fail "no stop at step $n: $(tail -3 mid/log1.txt)"
(cd mid && train 1 log2.txt "${ft[@]/new.h5/../new.h5}")
grep -q "resuming ckpt.h5 at step $n" mid/log2.txt || fail "did not resume: $(head -3 mid/log2.txt)"
! grep -q "weights.*from ../old" mid/log2.txt || fail "a resume loaded model.init_from again"
h5diff ref/ckpt.h5 mid/ckpt.h5 >h5diff.txt 2>&1 || {
  head -20 h5diff.txt >&2 || true
  fail "the resumed fine-tuning run differs from the uninterrupted one"
}

# 4. eval refuses a checkpoint of another vocabulary of the same size: the old log with every
#    item renamed (the counts agree, the rows would be read as other items).
sed '2,$ s/,i/,j/' old.csv >renamed.csv
imp renamed.csv renamed.h5
rc=0
"$SEQREC" eval --set data.events=renamed.h5 --set score.checkpoint=old/ckpt.h5 \
  --set runtime.device=cpu >eval_bad.txt 2>&1 || rc=$?
[ "$rc" -eq 1 ] || fail "eval of a checkpoint on a renamed vocabulary exited $rc"
grep -q "item 1 is 'i[0-9]*', in renamed.h5 it is 'j[0-9]*': the checkpoint was trained on another item vocabulary" eval_bad.txt ||
  fail "eval message: $(cat eval_bad.txt)"

# 5. Temporal split: cut at the median event time; cold users are counted and left out.
cut=$(tail -n +2 new.csv | cut -d, -f3 | sort -n | awk '{ a[NR] = $1 } END { print a[int(NR / 2)] }')
train 1 temporal.txt "${common[@]}" --set data.events=new.h5 --set data.split=temporal \
  --set data.split_time="$cut" --set train.checkpoint=temporal/ckpt.h5
grep -q "temporal split at $cut: training on events before it; [1-9][0-9]* users have a test event after it, [0-9]* cold users" temporal.txt ||
  fail "no temporal split line: $(grep -i temporal temporal.txt)"
grep -q "^test " temporal.txt || fail "no test line after temporal training"
"$SEQREC" eval --set data.events=new.h5 --set score.checkpoint=temporal/ckpt.h5 \
  --set data.split=temporal --set data.split_time="$cut" --set runtime.device=cpu \
  --set train.batch_size=16 >eval_t.txt 2>&1 || fail "temporal eval: $(tail -3 eval_t.txt)"
# eval reads the same split as training: the same test line, bit for bit.
[ "$(grep '^test ' eval_t.txt)" = "$(grep '^test ' temporal.txt)" ] ||
  fail "eval's test line differs from training's: $(grep '^test ' eval_t.txt temporal.txt)"
echo "ok: fine-tune kept 36 items ($moved renumbered), resumed bit for bit, temporal split at $cut"
