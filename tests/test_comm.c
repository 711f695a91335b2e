/* comm/ host collectives under 1, 2 and 3 ranks: sums whose exact value is known, asserting
 * zero wrong elements (as nccl-tests' CheckData), and the failure agreement between ranks. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include <cmocka.h>

#include "comm/comm.h"
#include "core/log.h"

static sr_comm comm;

/* Each rank contributes rank+1 scaled by the index; small integers are exact in float. */
static void test_allreduce_exact_sums(void **state) {
  (void)state;
  enum { N = 100003 };
  float *f = malloc(N * sizeof *f);
  double *d = malloc(N * sizeof *d);
  int64_t *l = malloc(N * sizeof *l);
  for (int i = 0; i < N; i++) {
    f[i] = (float)((comm.rank + 1) * (i % 1000));
    d[i] = (double)(comm.rank + 1) * i;
    l[i] = (int64_t)(comm.rank + 1) << 33;
  }
  assert_int_equal(sr_comm_allreduce_sum_f32(&comm, f, N), SR_OK);
  assert_int_equal(sr_comm_allreduce_sum_f64(&comm, d, N), SR_OK);
  assert_int_equal(sr_comm_allreduce_sum_i64(&comm, l, N), SR_OK);
  const int64_t ranks_sum = (int64_t)comm.size * (comm.size + 1) / 2;
  int wrong = 0;
  for (int i = 0; i < N; i++) {
    wrong += f[i] != (float)(ranks_sum * (i % 1000));
    wrong += d[i] != (double)ranks_sum * i;
    wrong += l[i] != ranks_sum << 33;
  }
  assert_int_equal(wrong, 0);
  free(f);
  free(d);
  free(l);
}

static void test_ranks_are_consistent(void **state) {
  (void)state;
  assert_true(comm.rank >= 0 && comm.rank < comm.size);
  assert_true(comm.local_rank >= 0 && comm.local_rank < comm.local_size);
  assert_int_equal(sr_log_rank(), comm.rank);
  int64_t one = 1;
  assert_int_equal(sr_comm_allreduce_sum_i64(&comm, &one, 1), SR_OK);
  assert_int_equal(one, comm.size);
}

/* When one rank fails, every rank must learn it (so none hangs in the next collective). */
static void test_agree_spreads_failure(void **state) {
  (void)state;
  sr_error_clear();
  sr_status local = comm.rank == comm.size - 1 ? SR_EIO : SR_OK;
  sr_status agreed = sr_comm_agree(&comm, local);
  assert_int_not_equal(agreed, SR_OK);
  sr_error_clear();
  assert_int_equal(sr_comm_agree(&comm, SR_OK), SR_OK);
}

static void test_broadcast(void **state) {
  (void)state;
  char text[16] = "unset";
  if (comm.rank == 0) snprintf(text, sizeof text, "from root");
  assert_int_equal(sr_comm_broadcast(&comm, text, sizeof text, 0), SR_OK);
  assert_string_equal(text, "from root");
}

static void test_allgather(void **state) {
  (void)state;
  int64_t *all = calloc((size_t)comm.size, sizeof *all);
  assert_int_equal(sr_comm_allgather_i64(&comm, 10 * comm.rank + 1, all), SR_OK);
  for (int r = 0; r < comm.size; r++) assert_int_equal(all[r], 10 * r + 1);
  free(all);
}

int main(int argc, char **argv) {
  if (sr_comm_init(&comm, &argc, &argv) != SR_OK) return 2;
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_allreduce_exact_sums),
      cmocka_unit_test(test_ranks_are_consistent),
      cmocka_unit_test(test_agree_spreads_failure),
      cmocka_unit_test(test_broadcast),
      cmocka_unit_test(test_allgather),
  };
  int failed = cmocka_run_group_tests(tests, NULL, NULL);
  int64_t any = failed;
  sr_comm_allreduce_sum_i64(&comm, &any, 1);
  sr_comm_finalize(&comm);
  return any != 0;
}
