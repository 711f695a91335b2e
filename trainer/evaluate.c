/* Held-out metrics through the scorer's ranks; see evaluate.h. */
#include "trainer/evaluate.h"

#include <math.h>
#include <string.h>

#include "core/arena.h"
#include "core/rng.h"
#include "scorer/rank.h"

#define SAMPLED_NEGATIVES 100
#define POPULARITY_CHUNK 256 /* users per rank call of the popularity baseline */
#define SR_STREAM_EVAL_NEGATIVES 0x6576616c00000000ull

typedef struct {
  double sums[5]; /* hr10, ndcg10, mrr, sampled hr10, sampled ndcg10 */
  int64_t users;
} metric_sums;

static void sums_add_rank(metric_sums *s, int64_t rank, int offset) {
  if (offset == 0) s->sums[2] += 1.0 / (double)rank;
  if (rank <= 10) {
    s->sums[offset + 0] += 1.0;
    s->sums[offset + 1] += 1.0 / log2((double)rank + 1.0);
  }
}

/* The history that is excluded from ranking: everything before the held-out item. */
static int64_t context_len(const sr_dataset *ds, int64_t u, sr_holdout which) {
  return ds->train_len[u] + (which == SR_HOLDOUT_TEST ? 1 : 0);
}

/* Rank of the target among itself and 100 items drawn uniformly from those the user has not
 * seen (the SASRec paper's protocol), under the same score and tie rule as the full ranking. */
static int64_t sampled_rank(const float *user, const float *items, int64_t d, int n_items,
                            const int32_t *history, int64_t hist_len, int32_t target,
                            uint64_t seed, int64_t global_user, uint8_t *mark) {
  for (int64_t j = 0; j < hist_len; j++) mark[history[j]] = 1;
  mark[target] = 1;
  sr_rng rng;
  sr_rng_init(&rng, seed, SR_STREAM_EVAL_NEGATIVES + (uint64_t)global_user);
  const float ts = scorer_topk_score(user, items + (int64_t)target * d, d);
  int64_t better = 0;
  int drawn = 0, tries = 0;
  /* Fewer unseen items than 100 negatives: take what there is (tries bounds the loop). */
  while (drawn < SAMPLED_NEGATIVES && tries < 100 * SAMPLED_NEGATIVES) {
    tries++;
    int32_t i = 1 + (int32_t)sr_rng_below(&rng, (uint32_t)n_items);
    if (mark[i]) continue;
    drawn++;
    const float s = scorer_topk_score(user, items + (int64_t)i * d, d);
    better += s > ts || (s == ts && i < target);
  }
  for (int64_t j = 0; j < hist_len; j++) mark[history[j]] = 0;
  mark[target] = 0;
  return better + 1;
}

static sr_status metrics_finish(metric_sums *s, const sr_comm *comm, sr_metrics *out) {
  double buf[6] = {s->sums[0], s->sums[1], s->sums[2], s->sums[3], s->sums[4], (double)s->users};
  TRY(sr_comm_allreduce_sum_f64(comm, buf, 6));
  const double n = buf[5] > 0 ? buf[5] : 1.0;
  out->users = (int64_t)buf[5];
  out->hr10 = buf[0] / n;
  out->ndcg10 = buf[1] / n;
  out->mrr = buf[2] / n;
  out->sampled_hr10 = buf[3] / n;
  out->sampled_ndcg10 = buf[4] / n;
  return SR_OK;
}

/* What ranking a chunk of up to `users` users needs: their held-out items and ranks, and their
 * seen lists (each the prefix of the user's history in the shard) copied into one index. */
typedef struct {
  int32_t *target;      /* [users] */
  int64_t *rank;        /* [users] */
  int64_t *seen_offset; /* [users + 1] */
  int32_t *seen;        /* [the shard's events] */
  uint8_t *mark;        /* [n_items + 1] the sampled ranks' marks, cleared after use */
} rank_buffers;

static void rank_buffers_free(rank_buffers *b) {
  sr_free(b->target);
  sr_free(b->rank);
  sr_free(b->seen_offset);
  sr_free(b->seen);
  sr_free(b->mark);
}

static sr_status rank_buffers_alloc(rank_buffers *b, const sr_dataset *ds, int64_t users,
                                    int n_items) {
  memset(b, 0, sizeof *b);
  const sr_events_shard *sh = ds->shard;
  sr_status st = SR_OK;
  TRY_GOTO(sr_alloc(&b->target, (size_t)users, sizeof *b->target, "held-out items"));
  TRY_GOTO(sr_alloc(&b->rank, (size_t)users, sizeof *b->rank, "held-out ranks"));
  TRY_GOTO(sr_alloc(&b->seen_offset, (size_t)users + 1, sizeof *b->seen_offset, "seen offsets"));
  TRY_GOTO(sr_alloc(&b->seen, (size_t)(sh->offset[ds->n_users] - sh->offset[0]) + 1,
                    sizeof *b->seen, "seen items"));
  TRY_GOTO(sr_alloc(&b->mark, (size_t)n_items + 1, 1, "item marks"));
  return SR_OK;
cleanup:
  rank_buffers_free(b);
  return st;
}

/* Ranks the held-out items of users [u0, u0+n) given their vectors (n x d) and the item table,
 * in one call of the scorer's rank, and adds them to the sums. */
static sr_status rank_chunk(const sr_dataset *ds, int64_t u0, int64_t n, const float *users,
                            const float *items, int64_t d, int n_items, sr_holdout which,
                            uint64_t seed, rank_buffers *b, metric_sums *sums) {
  const sr_events_shard *sh = ds->shard;
  b->seen_offset[0] = 0;
  for (int64_t j = 0; j < n; j++) {
    const int64_t u = u0 + j, len = context_len(ds, u, which);
    b->target[j] = which == SR_HOLDOUT_VALID ? ds->valid_item[u] : ds->test_item[u];
    memcpy(b->seen + b->seen_offset[j], sh->item + sh->offset[u], (size_t)len * sizeof *b->seen);
    b->seen_offset[j + 1] = b->seen_offset[j] + len;
  }
  const scorer_topk_input in = {.users = users, .n_users = n, .items = items,
                                .n_items = n_items, .d = d, .seen_offset = b->seen_offset,
                                .seen_item = b->seen, .banned = NULL};
  TRY(scorer_rank_run(&in, b->target, b->rank));
  for (int64_t j = 0; j < n; j++) {
    if (b->target[j] == 0) continue;
    sums_add_rank(sums, b->rank[j], 0);
    const int64_t r = sampled_rank(users + j * d, items, d, n_items, b->seen + b->seen_offset[j],
                                   b->seen_offset[j + 1] - b->seen_offset[j], b->target[j], seed,
                                   sh->user_begin + u0 + j, b->mark);
    sums_add_rank(sums, r, 3);
    sums->users++;
  }
  return SR_OK;
}

sr_status sr_evaluate_model(sr_model *m, const sr_kernels *k, const sr_dataset *ds,
                            sr_holdout which, uint64_t seed, const sr_comm *comm, sr_metrics *out) {
  sr_status st = SR_OK;
  const int B = m->act.B_cap, T = m->dims.max_len, C = m->dims.d_model, n_items = m->dims.n_items;
  const int64_t V = (int64_t)n_items + 1;
  int32_t *inputs = NULL;
  float *users = NULL, *items = NULL;
  rank_buffers rb = {0};
  metric_sums sums = {0};
  TRY_GOTO(sr_alloc(&inputs, (size_t)B * (size_t)T, sizeof *inputs, "evaluation inputs"));
  TRY_GOTO(sr_alloc(&users, (size_t)B * (size_t)C, sizeof *users, "user vectors"));
  TRY_GOTO(sr_alloc(&items, (size_t)V * (size_t)C, sizeof *items, "item table"));
  TRY_GOTO(rank_buffers_alloc(&rb, ds, B, n_items));
  TRY_GOTO(sr_model_items_refresh(m, k)); /* the weights may have changed since a forward */
  TRY_GOTO(k->download(k, items, sr_model_items(m), (size_t)V * (size_t)C * sizeof *items));
  for (int64_t u0 = 0; u0 < ds->n_users; u0 += B) {
    const int64_t n = ds->n_users - u0 < B ? ds->n_users - u0 : B;
    for (int64_t j = 0; j < n; j++)
      sr_dataset_eval_input(ds, u0 + j, which, inputs + j * T);
    TRY_GOTO(sr_model_forward(m, k, inputs, (int)n, T, NULL));
    TRY_GOTO(sr_model_last_hidden(m, k, (int)n, T, users));
    TRY_GOTO(rank_chunk(ds, u0, n, users, items, C, n_items, which, seed, &rb, &sums));
  }
cleanup:
  st = sr_comm_agree(comm, st);
  if (st == SR_OK) st = metrics_finish(&sums, comm, out);
  sr_free(inputs);
  sr_free(users);
  sr_free(items);
  rank_buffers_free(&rb);
  return st;
}

sr_status sr_evaluate_popularity(const sr_dataset *ds, int n_items, sr_holdout which,
                                 uint64_t seed, const sr_comm *comm, sr_metrics *out) {
  sr_status st = SR_OK;
  const int64_t V = (int64_t)n_items + 1;
  double *count = NULL;
  float *items = NULL, ones[POPULARITY_CHUNK];
  rank_buffers rb = {0};
  metric_sums sums = {0};
  /* Popularity as a one-dimensional model: user vector [1], item vector [count]. Counts below
   * 2^24 are exact in float, so ties are ties and fall to the smaller id. */
  for (int j = 0; j < POPULARITY_CHUNK; j++) ones[j] = 1.0f;
  TRY_GOTO(sr_alloc(&count, (size_t)V, sizeof *count, "item counts"));
  TRY_GOTO(sr_alloc(&items, (size_t)V, sizeof *items, "item popularity"));
  TRY_GOTO(rank_buffers_alloc(&rb, ds, POPULARITY_CHUNK, n_items));
  for (int64_t u = 0; u < ds->n_users; u++) {
    const int32_t *h = ds->shard->item + ds->shard->offset[u];
    for (int64_t j = 0; j < ds->train_len[u]; j++) count[h[j]] += 1.0;
  }
  TRY_GOTO(sr_comm_allreduce_sum_f64(comm, count, (size_t)V));
  for (int64_t i = 1; i < V; i++) items[i] = (float)count[i];
  for (int64_t u0 = 0; u0 < ds->n_users; u0 += POPULARITY_CHUNK) {
    const int64_t n = ds->n_users - u0 < POPULARITY_CHUNK ? ds->n_users - u0 : POPULARITY_CHUNK;
    TRY_GOTO(rank_chunk(ds, u0, n, ones, items, 1, n_items, which, seed, &rb, &sums));
  }
cleanup:
  st = sr_comm_agree(comm, st);
  if (st == SR_OK) st = metrics_finish(&sums, comm, out);
  sr_free(count);
  sr_free(items);
  rank_buffers_free(&rb);
  return st;
}
