# Genre-only baselines for bench/cold_items.sh: how much of the content model's Recall@10 on
# never-trained items a plain genre rule already gets. Both rank the same candidates as the model
# (each item scores the mean, over its genres, of a genre weight; ties by raw id):
#   popular genres   weight = the genre's share of all training events (one list for everyone)
#   user's genres    weight = the genre's share of the user's own training events
# Inputs, in this order: movies.dat (id::title::a|b|c), candidates.txt (raw ids), train.txt and
# targets.txt ("user item" lines). Prints Recall@10 of each beside random choice.
BEGIN { K = 10 }
FILENAME ~ /movies\.dat$/ {
  split($0, f, "::"); ng[f[1]] = split(f[3], gs, "|")
  for (j = 1; j <= ng[f[1]]; j++) genre[f[1], j] = gs[j]
  next
}
FILENAME ~ /candidates\.txt$/ { cand[++n_cand] = $1; next }
FILENAME ~ /train\.txt$/ {
  for (j = 1; j <= ng[$2]; j++) { g = genre[$2, j]; all[g]++; mine[$1, g]++ }
  events++; user_events[$1]++
  next
}
{ held[$1] = held[$1] " " $2; n_held[$1]++ }
END {
  for (c = 1; c <= n_cand; c++) global_score[c] = mean_weight(cand[c], "", events)
  top(global_score, global_top)
  for (u in n_held) {
    users++
    split(substr(held[u], 2), h, " "); delete wanted
    for (j in h) wanted[h[j]] = 1
    hits = 0
    for (j = 1; j <= K; j++) hits += (global_top[j] in wanted)
    sum_global += hits / n_held[u]
    for (c = 1; c <= n_cand; c++) user_score[c] = mean_weight(cand[c], u, user_events[u])
    top(user_score, user_top)
    hits = 0
    for (j = 1; j <= K; j++) hits += (user_top[j] in wanted)
    sum_user += hits / n_held[u]
  }
  printf "genre baselines over %d users, %d candidates: popular genres Recall@10 %.4f, " \
         "user's genres Recall@10 %.4f, random %.4f\n", users, n_cand, sum_global / users,
         sum_user / users, K / n_cand
}
# Mean over the item's genres of the genre's share of the events (of user u, or of all when u
# is ""); 0 for an item without genres.
function mean_weight(item, u, total,    j, s, g) {
  if (ng[item] == 0 || total == 0) return 0
  s = 0
  for (j = 1; j <= ng[item]; j++) {
    g = genre[item, j]
    s += (u == "" ? all[g] : mine[u, g]) / total
  }
  return s / ng[item]
}
# out[1..K] = raw ids of the K best candidates by score (ties: smaller raw id first).
function top(score, out,    c, j, k, best, id) {
  for (j = 1; j <= K; j++) { best[j] = -1; out[j] = "" }
  for (c = 1; c <= n_cand; c++) {
    id = cand[c]
    if (score[c] < best[K] || (score[c] == best[K] && id + 0 > out[K] + 0)) continue
    for (j = K; j > 1 && (score[c] > best[j - 1] ||
                          (score[c] == best[j - 1] && id + 0 < out[j - 1] + 0)); j--) {
      best[j] = best[j - 1]; out[j] = out[j - 1]
    }
    best[j] = score[c]; out[j] = id
  }
}
