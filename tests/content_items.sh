#!/usr/bin/env bash
# Item content with the seqrec binary: model.item_content trains a projection of /items/content
# (kept in the checkpoint as /params/content_w); a checkpoint scores a newer log whose new items
# have content only: score.new_items auto/include ranks them, only recommends nothing else,
# exclude never; recs.h5 marks them in /items/new and `seqrec info` checks the rule; fine-tuning
# starts new items from their content; a content model on a file without content is an error.
source "$(dirname "$0")/train_lib.sh"
command -v h5dump >/dev/null || fail "h5dump not found (hdf5-tools)"

# Old log: items i1..i40; new log: i5..i50 (i41..i50 new). Vectors: 4 numbers for each of i1..i50.
log_csv 1 40 1 >old.csv
log_csv 5 50 2 >new.csv
awk 'BEGIN { srand(7); for (i = 1; i <= 50; i++)
  printf "i%d,%.4f,%.4f,%.4f,%.4f\n", i, rand(), rand(), rand(), rand() }' >vectors.csv
imp() { "$SEQREC" import --format csv --header --user user --item item --time time "$@" \
  >imp.txt 2>&1 || fail "import $*: $(cat imp.txt)"; }
imp old.csv -o old.h5 --items vectors.csv --items-format csv
imp new.csv -o new.h5 --items vectors.csv --items-format csv
imp old.csv -o plain.h5

common=("${TINY[@]}" --set train.epochs=3 --set train.eval_every=1 --set train.patience=0
        --set train.batch_size=16 --set model.item_content=true)
expect_train_error() {
  "$SEQREC" train "$@" >err.txt 2>&1 && fail "train $* succeeded"
  grep -q "model.item_content" err.txt || fail "error does not name model.item_content: $(cat err.txt)"
}
expect_train_error "${common[@]}" --set data.events=plain.h5 --set train.checkpoint=plain/ckpt.h5

train 1 old.txt "${common[@]}" --set data.events=old.h5 --set train.checkpoint=old/ckpt.h5
grep -q "item content from old.h5: 4 dims per item" old.txt || fail "no content line: $(head old.txt)"
h5dump -H -d /params/content_w old/ckpt.h5 | grep "( 16, 4 )" >/dev/null ||
  fail "old/ckpt.h5 has no /params/content_w [16, 4]"
h5dump -a /content_dim old/ckpt.h5 | grep "(0): 4$" >/dev/null || fail "no content_dim attribute"

score() {
  local out=$1; shift
  "$SEQREC" score "${TINY[@]}" --set data.events=new.h5 --set score.checkpoint=old/ckpt.h5 \
    --set score.k=5 --set score.output="$out" "$@" >"$out.txt" 2>&1 ||
    fail "score $*: $(cat "$out.txt")"
  "$SEQREC" info "$out" >"$out.info" 2>&1 || fail "info $out: $(cat "$out.info")"
}
# The values of a dataset, one per line (h5dump -y prints them between "DATA {" and "}").
values() { h5dump -y -w 0 -d "$2" "$1" | sed -n '/^ *DATA {/,/^ *}/p' | sed '1d;$d' |
  tr ',' '\n' | tr -d ' ' | grep -v '^$'; }
# New items among the recommended ones, and all recommended ones, by /items/new.
new_in_rows() {
  values "$1" /items/new >flags.txt
  values "$1" /recs/item | awk 'NR == FNR { f[NR - 1] = $1; next } $1 != 0 { n++; new += f[$1] }
    END { print new + 0, n + 0 }' flags.txt -
}
score auto.h5
grep -q "10 new since old/ckpt.h5 was trained: scored from their content" auto.h5.txt ||
  fail "no note of the new items: $(cat auto.h5.txt)"
[ "$(values auto.h5 /items/new | grep -c '^1$')" -eq 10 ] || fail "/items/new does not mark 10 items"
score only.h5 --set score.new_items=only
read -r new all < <(new_in_rows only.h5)
[ "$all" -gt 0 ] && [ "$new" -eq "$all" ] || fail "only: $new of $all recommended items are new"
score exclude.h5 --set score.new_items=exclude
read -r new all < <(new_in_rows exclude.h5)
[ "$all" -gt 0 ] && [ "$new" -eq 0 ] || fail "exclude: $new of $all recommended items are new"

# A catalogue: old.csv's users with all 50 items of vectors.csv, i41..i50 without events.
imp old.csv -o catalogue.h5 --items vectors.csv --items-format csv --catalogue
grep -q "catalogue: 10 items of the items file have no event" imp.txt ||
  fail "no catalogue line: $(cat imp.txt)"
h5dump -a /n_items catalogue.h5 | grep "(0): 50$" >/dev/null || fail "catalogue.h5 does not hold 50 items"
score shelf.h5 --set data.events=catalogue.h5 --set score.new_items=only
read -r new all < <(new_in_rows shelf.h5)
[ "$all" -eq 400 ] && [ "$new" -eq 400 ] || fail "shelf: $new of $all slots new, expected 400 of 400"

# Fine-tuning on the new log: the 10 new items start from their content.
train 1 ft.txt "${common[@]}" --set data.events=new.h5 --set model.init_from=old/ckpt.h5 \
  --set train.checkpoint=ft/ckpt.h5
grep -q "36 items kept ([0-9]* under a new id), 10 new (from their content), 4 dropped" ft.txt ||
  fail "no kept/new/dropped line: $(grep -i weights ft.txt)"
echo "content items: ok"
