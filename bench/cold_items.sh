#!/usr/bin/env bash
# Cold items on MovieLens-1M: items held out of training entirely are recommended from their
# content (genres of movies.dat) alone. A seeded 10% of the items loses every event; a content
# model (model.item_content) trains on the rest; `seqrec score --set score.new_items=only` then
# ranks, for every user, only the items it was not trained on (the held-out ones, the movies of
# movies.dat nobody rated and the few the k-core filter dropped), and the script measures
# Recall@10 of each user's held-out movies against random choice among the same candidates and
# against two genre-only rules (bench/cold_genre_baseline.awk).
#   bash bench/cold_items.sh [WORK_DIR]     (EPOCHS=8 MAX_LEN=50 SEQREC=build/cli/seqrec)
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
data=${DATA:-$here/../shared/data/ml-1m}
seqrec=${SEQREC:-$here/build/cli/seqrec}
work=${1:-/tmp/cold-items}
epochs=${EPOCHS:-8}
max_len=${MAX_LEN:-50}
seed=${SEED:-1}
mkdir -p "$work" && cd "$work"

# Items of the k-core log (raw ids), and a seeded 10% of them held out.
"$seqrec" import --format sasrec --min-item-events 5 "$data/ml-1m.origids.txt" -o full.h5 \
  --items "$data/movies.dat" >import-full.txt
# h5dump prints the NUL padding of fixed-length strings as \000.
strings_of() { h5dump -y -w 0 -d "$2" "$1" | sed -n '/^ *DATA {/,/^ *}/p' | grep -o '"[^"]*"' |
  sed 's/"//g; s/\\000//g'; }
strings_of full.h5 /items/raw_id | grep -v '^$' >items.txt
awk -v seed="$seed" 'BEGIN { srand(seed) } rand() < 0.1' items.txt >cold.txt
awk 'NR == FNR { cold[$1] = 1; next } !($2 in cold)' cold.txt "$data/ml-1m.origids.txt" >train.txt
awk 'NR == FNR { cold[$1] = 1; next } ($2 in cold)' cold.txt "$data/ml-1m.origids.txt" >targets.txt
echo "held out: $(wc -l <cold.txt) of $(wc -l <items.txt) items, $(wc -l <targets.txt) events"

# The training log without them.
"$seqrec" import --format sasrec --min-item-events 5 train.txt -o train.h5 \
  --items "$data/movies.dat" >import-train.txt

set_=(--set data.max_len="$max_len" --set train.epochs="$epochs" --set train.eval_every=2
      --set train.patience=2 --set model.item_content=true --set runtime.threads=2)
start=$(date +%s)
OMP_WAIT_POLICY=passive "$seqrec" train -c "$here/configs/ml1m.yaml" "${set_[@]}" \
  --set data.events=train.h5 --set train.checkpoint=run/ckpt.h5 >train.log 2>&1
echo "trained in $(( $(date +%s) - start )) s: $(grep -E '^test' train.log | head -1)"
# The training users with the whole catalogue of movies.dat to score (--catalogue: the file's
# movies without events join the vocabulary).
"$seqrec" import --format sasrec train.txt -o catalogue.h5 --items "$data/movies.dat" \
  --catalogue >import-catalogue.txt
OMP_WAIT_POLICY=passive "$seqrec" score -c "$here/configs/ml1m.yaml" "${set_[@]}" \
  --set data.events=catalogue.h5 --set score.checkpoint=run/ckpt.h5 --set score.k=10 \
  --set score.new_items=only --set score.output=run/cold-recs.h5 >score.log 2>&1
"$seqrec" info run/cold-recs.h5 >info.txt

# Recall@10 per user with held-out events: |top-10 ∩ held-out movies| / |held-out movies|.
dump() { h5dump -y -w 0 -d "$1" run/cold-recs.h5 | sed -n '/^ *DATA {/,/^ *}/p' | sed '1d;$d' |
  tr ',' '\n' | sed 's/^ *//; s/"//g' | grep -v '^$'; }
strings_of run/cold-recs.h5 /users/raw_id >users.txt
strings_of run/cold-recs.h5 /items/raw_id >recs-items.txt
dump /items/new >new.txt
dump /recs/user >rows.txt
dump /recs/item >slots.txt
candidates=$(grep -c '^1$' new.txt)
awk -v cand="$candidates" '
  FILENAME == "users.txt" { user[FNR - 1] = $1; next }
  FILENAME == "recs-items.txt" { item[FNR - 1] = $1; next }
  FILENAME == "rows.txt" { row[FNR - 1] = $1; next }
  FILENAME == "slots.txt" { r = int((FNR - 1) / 10); rec[user[row[r]] SUBSEP item[$1]] = 1; next }
  { n[$1]++; if (($1 SUBSEP $2) in rec) hit[$1]++ }
  END { for (u in n) { users++; sum += hit[u] / n[u] }
        printf "users with held-out events %d, candidates %d\n", users, cand
        printf "Recall@10 %.4f, random %.4f (10 / candidates), %.1fx random\n",
               sum / users, 10 / cand, (sum / users) / (10 / cand) }' \
  users.txt recs-items.txt rows.txt slots.txt targets.txt | tee recall.txt
# The reference a content model must beat besides random: genre rules on the same candidates.
paste -d' ' recs-items.txt new.txt | awk '$2 == 1 { print $1 }' >candidates.txt
LC_ALL=C awk -f "$here/bench/cold_genre_baseline.awk" "$data/movies.dat" candidates.txt \
  train.txt targets.txt | tee -a recall.txt
