/* Leave-one-out and temporal splits, training windows and globally shuffled batches; see dataset.h. */
#include "trainer/dataset.h"

#include <string.h>

#include "core/arena.h"
#include "core/rng.h"

/* RNG stream for the epoch order: kept apart from dropout and sampling streams. */
#define SR_STREAM_EPOCH_ORDER 0x6570000000000000ull

/* Windows over the targets first..train_len-1, max_len of them per window. */
static int64_t windows_of(int64_t first, int64_t train_len, int max_len) {
  if (train_len - first < 1) return 0;
  return (train_len - first + max_len - 1) / max_len;
}

sr_status sr_dataset_build(sr_dataset *ds, const sr_events_shard *shard, int max_len,
                           const sr_comm *comm) {
  const sr_dataset_split loo = {0};
  return sr_dataset_build_split(ds, shard, max_len, &loo, comm);
}

/* Events of one user (times sorted) before the cut. */
static int64_t events_before(const int64_t *time, int64_t n, int64_t cut) {
  int64_t lo = 0, hi = n;
  while (lo < hi) {
    const int64_t mid = lo + (hi - lo) / 2;
    if (time[mid] < cut) lo = mid + 1; else hi = mid;
  }
  return lo;
}

sr_status sr_dataset_build_split(sr_dataset *ds, const sr_events_shard *shard, int max_len,
                                 const sr_dataset_split *split, const sr_comm *comm) {
  sr_status st = SR_OK;
  memset(ds, 0, sizeof *ds);
  ds->temporal = split->temporal;
  ds->cut_time = split->cut_time;
  ds->shard = shard;
  ds->max_len = max_len;
  ds->rank = comm->rank;
  ds->world = comm->size;
  ds->n_users = shard->user_end - shard->user_begin;
  const size_t nu = (size_t)ds->n_users;
  TRY_GOTO(sr_alloc(&ds->train_len, nu, sizeof *ds->train_len, "training lengths"));
  TRY_GOTO(sr_alloc(&ds->first_target, nu, sizeof *ds->first_target, "first training targets"));
  TRY_GOTO(sr_alloc(&ds->valid_item, nu, sizeof *ds->valid_item, "validation targets"));
  TRY_GOTO(sr_alloc(&ds->test_item, nu, sizeof *ds->test_item, "test targets"));

  int64_t n_windows = 0;
  int64_t counts[2] = {0, 0}; /* cold users, users with a test target */
  for (int64_t u = 0; u < ds->n_users; u++) {
    const int64_t begin = shard->offset[u], n = shard->offset[u + 1] - begin;
    if (split->temporal) {
      /* Both targets index the history as in leave-one-out: valid = train_len, test = next. */
      const int64_t before = events_before(shard->time + begin, n, split->cut_time);
      if (before == 0) {
        counts[0] += n > 0;
      } else {
        ds->train_len[u] = before - 1;
        if (before >= 2 && (!split->since || shard->time[begin + before - 1] >= split->since_time))
          ds->valid_item[u] = shard->item[begin + before - 1];
        if (before < n) ds->test_item[u] = shard->item[begin + before], counts[1]++;
      }
    } else if (n >= 3) {
      ds->train_len[u] = n - 2;
      if (!split->since || shard->time[begin + n - 2] >= split->since_time)
        ds->valid_item[u] = shard->item[begin + n - 2];
      ds->test_item[u] = shard->item[begin + n - 1];
    } else {
      ds->train_len[u] = n;
    }
    const int64_t first =
        split->since ? events_before(shard->time + begin, n, split->since_time) : 1;
    ds->first_target[u] = first > 1 ? first : 1;
    n_windows += windows_of(ds->first_target[u], ds->train_len[u], max_len);
  }
  ds->n_windows = n_windows;
  TRY_GOTO(sr_alloc(&ds->window_user, (size_t)n_windows, sizeof *ds->window_user, "window users"));
  TRY_GOTO(sr_alloc(&ds->window_end, (size_t)n_windows, sizeof *ds->window_end, "window ends"));
  int64_t w = 0;
  for (int64_t u = 0; u < ds->n_users; u++) {
    /* Windows end at the last training target and step back by max_len: the most recent
     * behaviour always gets a full window. */
    const int64_t first = ds->first_target[u];
    for (int64_t end = ds->train_len[u] - 1; end >= first; end -= max_len) {
      ds->window_user[w] = u;
      ds->window_end[w] = end;
      ds->n_targets += end - first + 1 < max_len ? end - first + 1 : max_len;
      w++;
    }
  }

  TRY_GOTO(sr_alloc(&ds->rank_windows, (size_t)ds->world + 1, sizeof *ds->rank_windows,
                    "window counts"));
  TRY_GOTO(sr_comm_allgather_i64(comm, n_windows, ds->rank_windows + 1));
  ds->rank_windows[0] = 0;
  for (int r = 0; r < ds->world; r++) ds->rank_windows[r + 1] += ds->rank_windows[r];
  TRY_GOTO(sr_comm_allreduce_sum_i64(comm, counts, 2));
  ds->cold_users = counts[0];
  ds->warm_test_users = counts[1];
  return SR_OK;
cleanup:
  sr_dataset_free(ds);
  return st;
}

void sr_dataset_free(sr_dataset *ds) {
  sr_free(ds->train_len);
  sr_free(ds->first_target);
  sr_free(ds->valid_item);
  sr_free(ds->test_item);
  sr_free(ds->window_user);
  sr_free(ds->window_end);
  sr_free(ds->rank_windows);
  memset(ds, 0, sizeof *ds);
}

int64_t sr_dataset_global_windows(const sr_dataset *ds) { return ds->rank_windows[ds->world]; }

int64_t sr_dataset_steps_per_epoch(const sr_dataset *ds, int64_t global_batch) {
  return (sr_dataset_global_windows(ds) + global_batch - 1) / global_batch;
}

int64_t sr_dataset_batch(const sr_dataset *ds, uint64_t seed, int64_t epoch, int64_t step,
                         int64_t global_batch, int64_t *out) {
  const int64_t total = sr_dataset_global_windows(ds);
  const int64_t mine_begin = ds->rank_windows[ds->rank], mine_end = ds->rank_windows[ds->rank + 1];
  int64_t first = step * global_batch, last = first + global_batch;
  if (last > total) last = total;
  int64_t n = 0;
  for (int64_t pos = first; pos < last; pos++) {
    int64_t g = (int64_t)sr_rng_permute(seed, SR_STREAM_EPOCH_ORDER + (uint64_t)epoch,
                                        (uint64_t)total, (uint64_t)pos);
    if (g >= mine_begin && g < mine_end) out[n++] = g - mine_begin;
  }
  return n;
}

int64_t sr_dataset_fill(const sr_dataset *ds, const int64_t *windows, int64_t n, int32_t *inputs,
                        int32_t *targets) {
  const int T = ds->max_len;
  int64_t n_targets = 0;
  memset(inputs, 0, (size_t)n * (size_t)T * sizeof *inputs);
  memset(targets, 0, (size_t)n * (size_t)T * sizeof *targets);
  for (int64_t i = 0; i < n; i++) {
    const int64_t u = ds->window_user[windows[i]], end = ds->window_end[windows[i]];
    const int32_t *history = ds->shard->item + ds->shard->offset[u];
    const int64_t len = end < T ? end : T; /* targets history[end-len+1 .. end] */
    const int64_t first = ds->first_target[u]; /* earlier targets are context only: 0 */
    int32_t *in = inputs + i * T + (T - len), *tg = targets + i * T + (T - len);
    for (int64_t t = 0; t < len; t++) {
      const int64_t target = end - len + t + 1;
      in[t] = history[target - 1];
      tg[t] = target >= first ? history[target] : 0;
      n_targets += target >= first;
    }
  }
  return n_targets;
}

int32_t sr_dataset_eval_input(const sr_dataset *ds, int64_t u, sr_holdout which, int32_t *input) {
  const int T = ds->max_len;
  memset(input, 0, (size_t)T * sizeof *input);
  const int32_t target = which == SR_HOLDOUT_VALID ? ds->valid_item[u] : ds->test_item[u];
  if (target == 0) return 0;
  const int64_t n_context = ds->train_len[u] + (which == SR_HOLDOUT_TEST ? 1 : 0);
  const int32_t *history = ds->shard->item + ds->shard->offset[u];
  const int64_t len = n_context < T ? n_context : T;
  memcpy(input + (T - len), history + n_context - len, (size_t)len * sizeof *input);
  return target;
}
