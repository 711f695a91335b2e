/* events/ under several ranks: rank 0 generates a file, every rank reads its own shard, and
 * sums over ranks show that every user is read exactly once, that the shards hold the whole
 * log (item checksum against rank 0's full read), and that shard sizes are balanced. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "comm/comm.h"
#include "core/log.h"
#include "events/events.h"
#include "events/gen.h"

static sr_comm comm;
static char path[512];

enum { USERS = 301, ITEMS = 150, EVENTS = 12000 };

/* Position-weighted sum of items: equal only when the same items sit at the same places. */
static int64_t item_checksum(const int32_t *items, int64_t first, int64_t n) {
  int64_t sum = 0;
  for (int64_t k = 0; k < n; k++) sum += (first + k + 1) % 9973 * (int64_t)items[k];
  return sum;
}

static void test_shards_cover_every_user_once(void **state) {
  (void)state;
  sr_status st = SR_OK;
  if (comm.rank == 0) {
    sr_gen_opts o = {.n_users = USERS, .n_items = ITEMS, .n_events = EVENTS, .seed = 9,
                     .signal = 0.5, .types = 1};
    st = sr_gen_write(path, &o, NULL);
  }
  assert_int_equal(sr_comm_agree(&comm, st), SR_OK);

  sr_events_shard s;
  assert_int_equal(sr_events_shard_read(path, comm.rank, comm.size, &s), SR_OK);
  assert_int_equal(s.n_users, USERS);
  assert_int_equal(s.n_events, EVENTS);

  /* Each user counted by the rank that holds it: after the sum, every count must be 1. */
  int64_t *covered = calloc(USERS, sizeof *covered);
  for (int64_t u = s.user_begin; u < s.user_end; u++) covered[u]++;
  assert_int_equal(sr_comm_allreduce_sum_i64(&comm, covered, USERS), SR_OK);
  int wrong = 0;
  for (int64_t u = 0; u < USERS; u++) wrong += covered[u] != 1;
  assert_int_equal(wrong, 0);
  free(covered);

  /* Event counts per rank, the longest history, and the checksum of the shard's items. */
  int64_t *counts = calloc((size_t)comm.size, sizeof *counts);
  int64_t local_events = s.event_end - s.event_begin;
  counts[comm.rank] = local_events;
  assert_int_equal(sr_comm_allreduce_sum_i64(&comm, counts, (size_t)comm.size), SR_OK);
  int64_t local_longest = 0;
  for (int64_t u = 0; u < s.user_end - s.user_begin; u++)
    if (s.offset[u + 1] - s.offset[u] > local_longest) local_longest = s.offset[u + 1] - s.offset[u];
  int64_t longest = 0;
  assert_int_equal(MPI_Allreduce(&local_longest, &longest, 1, MPI_INT64_T, MPI_MAX, comm.mpi),
                   MPI_SUCCESS);
  int64_t total = 0, lo = INT64_MAX, hi = 0;
  for (int r = 0; r < comm.size; r++) {
    total += counts[r];
    if (counts[r] < lo) lo = counts[r];
    if (counts[r] > hi) hi = counts[r];
  }
  assert_int_equal(total, EVENTS);
  if (hi - lo > longest)
    fail_msg("%d ranks: shard sizes %lld..%lld differ by more than the longest history %lld",
             comm.size, (long long)lo, (long long)hi, (long long)longest);
  free(counts);

  int64_t sum = item_checksum(s.item, s.event_begin, local_events);
  assert_int_equal(sr_comm_allreduce_sum_i64(&comm, &sum, 1), SR_OK);
  int64_t whole_sum = 0;
  char fingerprint[32];
  memcpy(fingerprint, s.fingerprint, sizeof fingerprint);
  if (comm.rank == 0) {
    sr_events_shard whole;
    assert_int_equal(sr_events_shard_read(path, 0, 1, &whole), SR_OK);
    whole_sum = item_checksum(whole.item, 0, EVENTS);
    sr_events_shard_free(&whole);
  }
  assert_int_equal(sr_comm_broadcast(&comm, &whole_sum, sizeof whole_sum, 0), SR_OK);
  assert_int_equal(sum, whole_sum);
  /* Every rank sees the same fingerprint. */
  char root_fp[32];
  memcpy(root_fp, fingerprint, sizeof root_fp);
  assert_int_equal(sr_comm_broadcast(&comm, root_fp, sizeof root_fp, 0), SR_OK);
  assert_string_equal(fingerprint, root_fp);

  sr_events_shard_free(&s);
  assert_int_equal(sr_comm_barrier(&comm), SR_OK);
  if (comm.rank == 0) unlink(path);
}

int main(int argc, char **argv) {
  if (sr_comm_init(&comm, &argc, &argv) != SR_OK) return 2;
  sr_log_set_quiet(1);
  mkdir(SEQREC_TEST_TMP, 0777);
  snprintf(path, sizeof path, "%s/test_events_mpi_np%d.h5", SEQREC_TEST_TMP, comm.size);
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_shards_cover_every_user_once),
  };
  int failed = cmocka_run_group_tests(tests, NULL, NULL);
  sr_comm_finalize(&comm);
  return failed;
}
