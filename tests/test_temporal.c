/* trainer/dataset temporal split: no training input or target is at or after the cut (the
 * leakage test), the test target is each user's first event at or after the cut with every
 * earlier event as its context, validation stays before the cut, and cold users are counted;
 * with train_since, only the events from then on are targets. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "comm/comm.h"
#include "trainer/dataset.h"

enum { N_USERS = 41, MAX_LEN = 4, CUT = 150, SINCE = 100 };
static sr_comm comm;
static int64_t global_offset[N_USERS + 1];
static int32_t *global_item;
static int64_t *global_time;
static sr_events_shard shard;
static sr_dataset ds;

/* User u has 1 + (7u mod 20) events at times start_u + 10 e, start_u = 37u mod 200, so some
 * users end before the cut, some start after it (cold), some straddle it; the event at exactly
 * the cut counts as after it. item = 1000 u + e + 1 names the event. */
static void make_log(void) {
  global_offset[0] = 0;
  for (int u = 0; u < N_USERS; u++) global_offset[u + 1] = global_offset[u] + 1 + (u * 7) % 20;
  global_item = malloc((size_t)global_offset[N_USERS] * sizeof *global_item);
  global_time = malloc((size_t)global_offset[N_USERS] * sizeof *global_time);
  for (int u = 0; u < N_USERS; u++)
    for (int64_t e = global_offset[u]; e < global_offset[u + 1]; e++) {
      global_item[e] = (int32_t)(1000 * u + (e - global_offset[u]) + 1);
      global_time[e] = (u * 37) % 200 + 10 * (e - global_offset[u]);
    }
  int64_t ub = (int64_t)N_USERS * comm.rank / comm.size;
  int64_t ue = (int64_t)N_USERS * (comm.rank + 1) / comm.size;
  memset(&shard, 0, sizeof shard);
  shard.n_users = N_USERS;
  shard.user_begin = ub;
  shard.user_end = ue;
  shard.event_begin = global_offset[ub];
  shard.event_end = global_offset[ue];
  shard.offset = malloc((size_t)(ue - ub + 1) * sizeof *shard.offset);
  for (int64_t u = ub; u <= ue; u++) shard.offset[u - ub] = global_offset[u] - global_offset[ub];
  shard.item = global_item + global_offset[ub];
  shard.time = global_time + global_offset[ub];
}

/* The time of the event an item names. */
static int64_t time_of(int32_t item) {
  const int64_t u = item / 1000, e = item % 1000 - 1;
  return global_time[global_offset[u] + e];
}

static void test_no_training_event_at_or_after_cut(void **state) {
  (void)state;
  int64_t *windows = malloc((size_t)(ds.n_windows + 1) * sizeof *windows);
  int32_t *in = malloc((size_t)(ds.n_windows + 1) * MAX_LEN * sizeof *in);
  int32_t *tg = malloc((size_t)(ds.n_windows + 1) * MAX_LEN * sizeof *tg);
  for (int64_t w = 0; w < ds.n_windows; w++) windows[w] = w;
  const int64_t n = sr_dataset_fill(&ds, windows, ds.n_windows, in, tg);
  int64_t seen = 0;
  for (int64_t j = 0; j < ds.n_windows * MAX_LEN; j++) {
    if (in[j] != 0 && time_of(in[j]) >= CUT) fail_msg("input item %d is at or after the cut", in[j]);
    if (tg[j] != 0 && time_of(tg[j]) >= CUT) fail_msg("target item %d is at or after the cut", tg[j]);
    seen += tg[j] != 0;
  }
  assert_int_equal(seen, n);
  /* Every event before the validation target is trained on: the split holds back no more. */
  int64_t want = 0;
  for (int64_t u = 0; u < ds.n_users; u++) want += ds.train_len[u] > 1 ? ds.train_len[u] - 1 : 0;
  assert_int_equal(n, want);
  assert_true(n > 0);
  free(windows);
  free(in);
  free(tg);
}

static void test_targets_straddle_the_cut(void **state) {
  (void)state;
  int32_t in[MAX_LEN];
  int64_t with_test = 0, cold = 0, with_valid = 0;
  for (int64_t u = 0; u < ds.n_users; u++) {
    const int64_t g = shard.user_begin + u, n = global_offset[g + 1] - global_offset[g];
    const int64_t *t = global_time + global_offset[g];
    int64_t before = 0;
    while (before < n && t[before] < CUT) before++;
    if (before == 0) {
      cold++;
      assert_int_equal(ds.test_item[u], 0);
      assert_int_equal(ds.valid_item[u], 0);
      assert_int_equal(ds.train_len[u], 0);
      continue;
    }
    const int32_t target = sr_dataset_eval_input(&ds, u, SR_HOLDOUT_TEST, in);
    if (before < n) {
      with_test++;
      assert_int_equal(target, 1000 * g + before + 1); /* the first event at or after the cut */
      assert_true(time_of(target) >= CUT);
      assert_int_equal(in[MAX_LEN - 1], 1000 * g + before); /* the last event before it */
      for (int p = 0; p < MAX_LEN; p++)
        if (in[p] != 0) assert_true(time_of(in[p]) < CUT);
    } else {
      assert_int_equal(target, 0);
    }
    const int32_t valid = sr_dataset_eval_input(&ds, u, SR_HOLDOUT_VALID, in);
    if (before >= 2) {
      with_valid++;
      assert_int_equal(valid, 1000 * g + before);
      assert_true(time_of(valid) < CUT);
      assert_int_equal(in[MAX_LEN - 1], 1000 * g + before - 1);
    } else {
      assert_int_equal(valid, 0);
    }
  }
  int64_t counts[3] = {with_test, cold, with_valid};
  assert_int_equal(sr_comm_allreduce_sum_i64(&comm, counts, 3), SR_OK);
  assert_int_equal(ds.warm_test_users, counts[0]);
  assert_int_equal(ds.cold_users, counts[1]);
  /* The log was made to have every kind of user. */
  assert_true(counts[0] > 0 && counts[1] > 0 && counts[2] > counts[0]);
}

/* The same log with leave-one-out trains on events after the cut: the leakage test above would
 * catch a split that ignored the cut. */
static void test_leave_one_out_would_leak(void **state) {
  (void)state;
  sr_dataset loo;
  assert_int_equal(sr_dataset_build(&loo, &shard, MAX_LEN, &comm), SR_OK);
  int64_t leaks = 0;
  for (int64_t u = 0; u < loo.n_users; u++) {
    const int32_t *h = shard.item + shard.offset[u];
    for (int64_t j = 0; j < loo.train_len[u]; j++) leaks += time_of(h[j]) >= CUT;
  }
  assert_int_equal(sr_comm_allreduce_sum_i64(&comm, &leaks, 1), SR_OK);
  assert_true(leaks > 0);
  sr_dataset_free(&loo);
}

/* data.train_since: the targets are exactly the training events at or after SINCE, each once,
 * their inputs reach back before it (context), only validation events at or after SINCE are
 * kept, and the test targets do not move. */
static void test_train_since(void **state) {
  (void)state;
  sr_dataset fine;
  const sr_dataset_split split = {.temporal = 1, .cut_time = CUT, .since = 1, .since_time = SINCE};
  assert_int_equal(sr_dataset_build_split(&fine, &shard, MAX_LEN, &split, &comm), SR_OK);
  int64_t *windows = malloc((size_t)(fine.n_windows + 1) * sizeof *windows);
  int32_t *in = malloc((size_t)(fine.n_windows + 1) * MAX_LEN * sizeof *in);
  int32_t *tg = malloc((size_t)(fine.n_windows + 1) * MAX_LEN * sizeof *tg);
  char *trained = calloc((size_t)global_offset[N_USERS], 1);
  for (int64_t w = 0; w < fine.n_windows; w++) windows[w] = w;
  const int64_t n = sr_dataset_fill(&fine, windows, fine.n_windows, in, tg);
  int64_t seen = 0, context = 0;
  for (int64_t j = 0; j < fine.n_windows * MAX_LEN; j++) {
    if (in[j] != 0 && time_of(in[j]) < SINCE) context++;
    if (tg[j] == 0) continue;
    const int64_t u = tg[j] / 1000, e = global_offset[u] + tg[j] % 1000 - 1;
    if (time_of(tg[j]) < SINCE || time_of(tg[j]) >= CUT)
      fail_msg("target item %d is outside [since, cut)", tg[j]);
    if (trained[e]++) fail_msg("target item %d is trained on twice in an epoch", tg[j]);
    seen++;
  }
  assert_int_equal(seen, n);
  assert_int_equal(fine.n_targets, n);
  int64_t want = 0, validated = 0; /* every training target of the full split at or after SINCE */
  for (int64_t u = 0; u < ds.n_users; u++) {
    const int32_t *h = shard.item + shard.offset[u];
    for (int64_t j = 1; j < ds.train_len[u]; j++) want += time_of(h[j]) >= SINCE;
    const int32_t valid = ds.valid_item[u]; /* validated only when it is a new day's event */
    assert_int_equal(fine.valid_item[u], valid != 0 && time_of(valid) >= SINCE ? valid : 0);
    if (valid != 0 && time_of(valid) >= SINCE) validated++;
    assert_int_equal(fine.test_item[u], ds.test_item[u]);
  }
  assert_int_equal(n, want);
  int64_t counts[4] = {n, context, fine.n_windows, validated};
  assert_int_equal(sr_comm_allreduce_sum_i64(&comm, counts, 4), SR_OK);
  assert_true(counts[0] > 0 && counts[1] > 0 && counts[3] > 0);
  assert_true(counts[2] < sr_dataset_global_windows(&ds)); /* fewer steps than training on all */
  free(trained);
  free(windows);
  free(in);
  free(tg);
  sr_dataset_free(&fine);
}

int main(int argc, char **argv) {
  if (sr_comm_init(&comm, &argc, &argv) != SR_OK) return 2;
  make_log();
  const sr_dataset_split split = {.temporal = 1, .cut_time = CUT};
  if (sr_dataset_build_split(&ds, &shard, MAX_LEN, &split, &comm) != SR_OK) return 2;
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_no_training_event_at_or_after_cut),
      cmocka_unit_test(test_targets_straddle_the_cut),
      cmocka_unit_test(test_leave_one_out_would_leak),
      cmocka_unit_test(test_train_since),
  };
  int failed = cmocka_run_group_tests(tests, NULL, NULL);
  int64_t any = failed;
  sr_comm_allreduce_sum_i64(&comm, &any, 1);
  sr_dataset_free(&ds);
  free(shard.offset);
  free(global_item);
  free(global_time);
  sr_comm_finalize(&comm);
  return any != 0;
}
