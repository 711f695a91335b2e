/* trainer/dataset: leave-one-out split, windows that cover every training target once, and
 * batches drawn from one global order so that N ranks see what one rank with N*b would. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "comm/comm.h"
#include "core/rng.h"
#include "trainer/dataset.h"

enum { N_USERS = 37, MAX_LEN = 5 };
static sr_comm comm;
static int64_t global_offset[N_USERS + 1];
static int32_t *global_item;
static sr_events_shard shard;
static sr_dataset ds;

/* History lengths 1..20 (varied) and item = 1000*user + position: every event is identifiable. */
static void make_log(void) {
  global_offset[0] = 0;
  for (int u = 0; u < N_USERS; u++) global_offset[u + 1] = global_offset[u] + 1 + (u * 7) % 20;
  global_item = malloc((size_t)global_offset[N_USERS] * sizeof *global_item);
  for (int u = 0; u < N_USERS; u++)
    for (int64_t e = global_offset[u]; e < global_offset[u + 1]; e++)
      global_item[e] = (int32_t)(1000 * u + (e - global_offset[u]) + 1);
  /* Contiguous user ranges, as the events reader hands them out. */
  int64_t ub = (int64_t)N_USERS * comm.rank / comm.size, ue = (int64_t)N_USERS * (comm.rank + 1) / comm.size;
  memset(&shard, 0, sizeof shard);
  shard.n_users = N_USERS;
  shard.user_begin = ub;
  shard.user_end = ue;
  shard.event_begin = global_offset[ub];
  shard.event_end = global_offset[ue];
  shard.offset = malloc((size_t)(ue - ub + 1) * sizeof *shard.offset);
  for (int64_t u = ub; u <= ue; u++) shard.offset[u - ub] = global_offset[u] - global_offset[ub];
  shard.item = global_item + global_offset[ub];
}

static void test_split_holds_out_last_two(void **state) {
  (void)state;
  for (int64_t u = 0; u < ds.n_users; u++) {
    int64_t g = shard.user_begin + u, n = global_offset[g + 1] - global_offset[g];
    if (n >= 3) {
      assert_int_equal(ds.train_len[u], n - 2);
      assert_int_equal(ds.valid_item[u], 1000 * g + n - 1);
      assert_int_equal(ds.test_item[u], 1000 * g + n);
    } else {
      assert_int_equal(ds.train_len[u], n);
      assert_int_equal(ds.valid_item[u], 0);
      assert_int_equal(ds.test_item[u], 0);
    }
  }
}

/* Every training target (position >= 1 of the training part) appears in exactly one window,
 * predicted from the item right before it; no held-out item is ever a target or an input. */
static void test_windows_cover_targets_once(void **state) {
  (void)state;
  int32_t in[MAX_LEN], tg[MAX_LEN];
  int *seen = calloc(20 * N_USERS + 1000 * N_USERS, sizeof *seen);
  int64_t targets = 0;
  for (int64_t w = 0; w < ds.n_windows; w++) {
    targets += sr_dataset_fill(&ds, &w, 1, in, tg);
    int64_t u = ds.window_user[w], g = shard.user_begin + u;
    for (int t = 0; t < MAX_LEN; t++) {
      if (tg[t] == 0) {
        assert_int_equal(in[t], 0); /* left padding */
        continue;
      }
      assert_int_equal(tg[t], in[t] + 1);
      int pos = tg[t] - 1000 * (int)g; /* 1-based position in the history */
      assert_true(pos >= 2 && pos <= ds.train_len[u]);
      seen[tg[t]]++;
    }
  }
  int64_t expected = 0;
  for (int64_t u = 0; u < ds.n_users; u++) {
    int64_t g = shard.user_begin + u;
    for (int64_t p = 2; p <= ds.train_len[u]; p++) {
      assert_int_equal(seen[1000 * g + p], 1);
      expected++;
    }
  }
  assert_int_equal(targets, expected);
  assert_int_equal(ds.n_targets, expected);
  free(seen);
}

/* The union over ranks of a step's windows is the same global set whatever the world size:
 * positions [s*B, (s+1)*B) of one permutation of all windows; an epoch visits each once. */
static void test_batches_follow_one_global_order(void **state) {
  (void)state;
  const int64_t B = 4, total = sr_dataset_global_windows(&ds);
  const int64_t steps = sr_dataset_steps_per_epoch(&ds, B);
  assert_int_equal(steps, (total + B - 1) / B);
  int64_t *mine = malloc((size_t)B * sizeof *mine);
  int64_t *count = calloc((size_t)total, sizeof *count);
  for (int64_t s = 0; s < steps; s++) {
    int64_t n = sr_dataset_batch(&ds, 7, 3, s, B, mine);
    assert_true(n <= B);
    for (int64_t i = 0; i < n; i++) count[ds.rank_windows[comm.rank] + mine[i]]++;
  }
  assert_int_equal(sr_comm_allreduce_sum_i64(&comm, count, (size_t)total), SR_OK);
  for (int64_t g = 0; g < total; g++) assert_int_equal(count[g], 1);
  /* Step 2 holds exactly the windows at positions 2B..3B-1 of the epoch's permutation. */
  memset(count, 0, (size_t)total * sizeof *count);
  int64_t n = sr_dataset_batch(&ds, 7, 3, 2, B, mine);
  for (int64_t i = 0; i < n; i++) count[ds.rank_windows[comm.rank] + mine[i]] = 1;
  assert_int_equal(sr_comm_allreduce_sum_i64(&comm, count, (size_t)total), SR_OK);
  int64_t in_step = 0;
  for (int64_t g = 0; g < total; g++) in_step += count[g];
  assert_int_equal(in_step, B);
  free(mine);
  free(count);
}

static void test_eval_input_is_history_before_target(void **state) {
  (void)state;
  int32_t in[MAX_LEN];
  for (int64_t u = 0; u < ds.n_users; u++) {
    int64_t g = shard.user_begin + u, n = global_offset[g + 1] - global_offset[g];
    int32_t target = sr_dataset_eval_input(&ds, u, SR_HOLDOUT_TEST, in);
    if (n < 3) {
      assert_int_equal(target, 0);
      continue;
    }
    assert_int_equal(target, 1000 * g + n);
    assert_int_equal(in[MAX_LEN - 1], 1000 * g + n - 1); /* the validation item comes last */
    target = sr_dataset_eval_input(&ds, u, SR_HOLDOUT_VALID, in);
    assert_int_equal(target, 1000 * g + n - 1);
    assert_int_equal(in[MAX_LEN - 1], 1000 * g + n - 2);
    if (n - 2 < MAX_LEN) assert_int_equal(in[MAX_LEN - 1 - (n - 2)], 0);
  }
}

int main(int argc, char **argv) {
  if (sr_comm_init(&comm, &argc, &argv) != SR_OK) return 2;
  make_log();
  if (sr_dataset_build(&ds, &shard, MAX_LEN, &comm) != SR_OK) return 2;
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_split_holds_out_last_two),
      cmocka_unit_test(test_windows_cover_targets_once),
      cmocka_unit_test(test_batches_follow_one_global_order),
      cmocka_unit_test(test_eval_input_is_history_before_target),
  };
  int failed = cmocka_run_group_tests(tests, NULL, NULL);
  int64_t any = failed;
  sr_comm_allreduce_sum_i64(&comm, &any, 1);
  sr_dataset_free(&ds);
  free(shard.offset);
  free(global_item);
  sr_comm_finalize(&comm);
  return any != 0;
}
