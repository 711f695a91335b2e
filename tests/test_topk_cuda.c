/* scorer/topk_cuda: scorer_topk_run_cuda against scorer_topk_run, bit for bit, on seeded
 * random problems (seen lists, banned items, k above the eligible items, exact and near ties
 * from duplicated item rows, item counts off the block size) and on bad input. Every test
 * skips where no GPU is visible. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "comm/device.h"
#include "core/arena.h"
#include "core/rng.h"
#include "core/status.h"
#include "scorer/topk.h"
#include "scorer/topk_cuda.h"

/* What a case draws: sizes, how many distinct item rows (0: all distinct; else the table is
 * `distinct` rows repeated, each copy nudged in a random component with probability 1/2, so
 * that exact ties and near ties both occur: by one ulp (below the fp32 rounding), or with
 * `nudge` set by up to that fraction of the component (around the bf16 rounding of the filter's
 * GEMM, which has 8 significant bits)). */
typedef struct {
  int64_t n_users, n_items, d;
  int max_seen;     /* seen list lengths 0..max_seen; -1: no seen lists at all */
  int banned_in_10; /* items banned with probability banned_in_10 / 10 */
  int64_t distinct;
  float nudge;
  uint64_t seed;
} spec;

typedef struct {
  scorer_topk_input in;
  float *users, *items;
  int64_t *offset;
  int32_t *seen;
  uint8_t *banned;
} case_data;

static void case_build(case_data *c, const spec *s) {
  sr_rng r;
  sr_rng_init(&r, s->seed, 7);
  memset(c, 0, sizeof *c);
  const int64_t d = s->d, rows = s->n_items + 1;
  assert_int_equal(sr_alloc(&c->users, (size_t)(s->n_users * d + 1), sizeof(float), "u"), SR_OK);
  assert_int_equal(sr_alloc(&c->items, (size_t)(rows * d), sizeof(float), "e"), SR_OK);
  assert_int_equal(sr_alloc(&c->offset, (size_t)s->n_users + 1, sizeof(int64_t), "o"), SR_OK);
  assert_int_equal(sr_alloc(&c->banned, (size_t)rows, 1, "b"), SR_OK);
  for (int64_t j = 0; j < s->n_users * d; j++) c->users[j] = sr_rng_normal(&r);
  for (int64_t i = 0; i < rows; i++) {
    float *row = c->items + i * d;
    if (s->distinct == 0 || i <= s->distinct) {
      for (int64_t j = 0; j < d; j++) row[j] = sr_rng_normal(&r);
    } else {
      memcpy(row, c->items + (1 + (i - 1) % s->distinct) * d, (size_t)d * sizeof(float));
      if (sr_rng_below(&r, 2)) {
        int64_t j = sr_rng_below(&r, (uint32_t)d);
        const int up = (int)sr_rng_below(&r, 2);
        if (s->nudge > 0.0f)
          row[j] *= 1.0f + (up ? 1.0f : -1.0f) * s->nudge * sr_rng_uniform(&r);
        else
          row[j] = nextafterf(row[j], up ? INFINITY : -INFINITY);
      }
    }
    c->banned[i] = i > 0 && (int)sr_rng_below(&r, 10) < s->banned_in_10;
  }
  int64_t total = 5; /* offsets start above 0: a shard of a global CSR */
  for (int64_t u = 0; u <= s->n_users; u++) {
    c->offset[u] = total;
    if (u < s->n_users && s->max_seen > 0) total += sr_rng_below(&r, (uint32_t)s->max_seen + 1);
  }
  assert_int_equal(sr_alloc(&c->seen, (size_t)total + 1, sizeof(int32_t), "s"), SR_OK);
  for (int64_t j = 0; j <= total; j++) /* one past the slices too */
    c->seen[j] = j < 5 ? -1 : (int32_t)sr_rng_below(&r, (uint32_t)s->n_items + 1);
  c->in = (scorer_topk_input){.users = c->users, .n_users = s->n_users, .items = c->items,
                              .n_items = s->n_items, .d = d,
                              .seen_offset = s->max_seen >= 0 ? c->offset : NULL,
                              .seen_item = c->seen,
                              .banned = s->banned_in_10 > 0 ? c->banned : NULL};
}

static void case_free(case_data *c) {
  sr_free(c->users);
  sr_free(c->items);
  sr_free(c->offset);
  sr_free(c->seen);
  sr_free(c->banned);
}

/* Both scorers on one input with k and the GPU's blocks, the GPU's through context t (NULL: the
 * one-call entry point); the rows must be identical. */
static void expect_same_on(const scorer_topk_input *in, int k, int64_t user_block,
                           int64_t item_block, scorer_topk_cuda *t) {
  const size_t n = (size_t)in->n_users * (size_t)k + 1;
  int32_t *cpu_item, *gpu_item;
  float *cpu_score, *gpu_score;
  assert_int_equal(sr_alloc(&cpu_item, n, sizeof(int32_t), "ci"), SR_OK);
  assert_int_equal(sr_alloc(&gpu_item, n, sizeof(int32_t), "gi"), SR_OK);
  assert_int_equal(sr_alloc(&cpu_score, n, sizeof(float), "cs"), SR_OK);
  assert_int_equal(sr_alloc(&gpu_score, n, sizeof(float), "gs"), SR_OK);
  memset(gpu_item, 0x5a, n * sizeof(int32_t));
  memset(gpu_score, 0x5a, n * sizeof(float));
  assert_int_equal(scorer_topk_run(in, k, NULL, cpu_item, cpu_score), SR_OK);
  scorer_topk_opts o = {.user_block = user_block, .item_block = item_block};
  sr_status st = t ? scorer_topk_cuda_run(t, in, k, &o, gpu_item, gpu_score)
                   : scorer_topk_run_cuda(in, k, &o, gpu_item, gpu_score);
  if (st != SR_OK) print_error("%s\n", sr_error_message());
  assert_int_equal(st, SR_OK);
  for (size_t j = 0; j + 1 < n; j++) {
    if (cpu_item[j] != gpu_item[j] || memcmp(&cpu_score[j], &gpu_score[j], sizeof(float)) != 0)
      print_error("user %zu place %zu: cpu item %d score %a, gpu item %d score %a\n",
                  j / (size_t)k, j % (size_t)k, cpu_item[j], (double)cpu_score[j], gpu_item[j],
                  (double)gpu_score[j]);
    assert_int_equal(cpu_item[j], gpu_item[j]);
    assert_memory_equal(&cpu_score[j], &gpu_score[j], sizeof(float));
  }
  assert_int_equal(gpu_item[n - 1], 0x5a5a5a5a); /* nothing written past the rows */
  sr_free(cpu_item);
  sr_free(gpu_item);
  sr_free(cpu_score);
  sr_free(gpu_score);
}

static void expect_same(const case_data *c, int k, int64_t user_block, int64_t item_block) {
  expect_same_on(&c->in, k, user_block, item_block, NULL);
}

static void run_case(const spec *s, const int *ks, int n_k, int64_t user_block,
                     int64_t item_block) {
  case_data c;
  case_build(&c, s);
  for (int i = 0; i < n_k; i++) expect_same(&c, ks[i], user_block, item_block);
  case_free(&c);
}

static void test_random_with_seen_and_banned(void **state) {
  (void)state;
  if (sr_device_count() == 0) skip();
  const int ks[] = {1, 10, 100};
  const spec s = {.n_users = 300, .n_items = 5003, .d = 64, .max_seen = 40, .banned_in_10 = 1,
                  .seed = 1};
  run_case(&s, ks, 3, 0, 0);           /* the GPU's own blocks */
  run_case(&s, ks, 3, 37, 1000);       /* items off the block size, users too */
  const spec odd_d = {.n_users = 77, .n_items = 2100, .d = 13, .max_seen = 10, .seed = 2};
  run_case(&odd_d, ks, 3, 16, 333);
}

static void test_k_above_eligible_items(void **state) {
  (void)state;
  if (sr_device_count() == 0) skip();
  const int ks[] = {40, 60, 200};
  const spec s = {.n_users = 50, .n_items = 60, .d = 8, .max_seen = 30, .banned_in_10 = 3,
                  .seed = 3};
  run_case(&s, ks, 3, 7, 16);
  run_case(&s, ks, 3, 0, 0);
}

static void test_ties_from_duplicated_rows(void **state) {
  (void)state;
  if (sr_device_count() == 0) skip();
  const int ks[] = {5, 100, 300};
  /* 7 distinct rows for 3000 items: every buffer fills with ties within the margin, so the
   * exact fallback of the compaction runs. */
  const spec few = {.n_users = 40, .n_items = 3000, .d = 32, .max_seen = 20, .banned_in_10 = 1,
                    .distinct = 7, .seed = 4};
  run_case(&few, ks, 3, 0, 0);
  run_case(&few, ks, 3, 9, 257);
  const spec some = {.n_users = 64, .n_items = 4097, .d = 64, .max_seen = -1, .distinct = 500,
                     .seed = 5};
  run_case(&some, ks, 3, 0, 1024);
  const spec bf16 = {.n_users = 64, .n_items = 4000, .d = 64, .max_seen = 10, .distinct = 200,
                     .nudge = 0x1p-7f, .seed = 6};
  run_case(&bf16, ks, 3, 0, 0);
  run_case(&bf16, ks, 3, 13, 999);
}

static void test_bad_input_and_edges(void **state) {
  (void)state;
  if (sr_device_count() == 0) skip();
  case_data c;
  const spec s = {.n_users = 4, .n_items = 10, .d = 3, .max_seen = 2, .seed = 6};
  case_build(&c, &s);
  int32_t item[40];
  float score[40];
  assert_int_equal(scorer_topk_run_cuda(&c.in, 0, NULL, item, score), SR_EINVAL);
  sr_error_clear();
  assert_int_equal(scorer_topk_run_cuda(&c.in, 5, NULL, NULL, score), SR_EINVAL);
  sr_error_clear();
  c.users[4] = NAN;
  assert_int_equal(scorer_topk_run_cuda(&c.in, 5, NULL, item, score), SR_EINVAL);
  sr_error_clear();
  c.users[4] = 0.5f;
  const int64_t one_seen[5] = {5, 5, 6, 6, 6}; /* user 1 has seen c.seen[5] only */
  const int32_t was = c.seen[5];
  c.in.seen_offset = one_seen;
  c.seen[5] = 11;
  assert_int_equal(scorer_topk_run_cuda(&c.in, 5, NULL, item, score), SR_EINVAL);
  sr_error_clear();
  c.seen[5] = was;
  c.in.seen_offset = c.offset;
  c.in.n_users = 0;
  assert_int_equal(scorer_topk_run_cuda(&c.in, 5, NULL, item, score), SR_OK);
  c.in.n_users = 4;
  scorer_topk_opts gemm_only = {.gemm_only = 1}; /* benchmarks' baseline: writes nothing */
  memset(item, 0x5a, sizeof item);
  assert_int_equal(scorer_topk_run_cuda(&c.in, 10, &gemm_only, item, score), SR_OK);
  for (int j = 0; j < 40; j++) assert_int_equal(item[j], 0x5a5a5a5a);
  c.in.n_items = 0; /* nothing to rank: padding only, as on the CPU */
  c.in.seen_offset = NULL;
  expect_same(&c, 3, 0, 0);
  case_free(&c);
}

/* What `seqrec score` does: one context, rounds of users of different sizes and k, each the
 * CPU's result; buffers grow between rounds. Another item table is refused. */
static void test_context_across_rounds(void **state) {
  (void)state;
  if (sr_device_count() == 0) skip();
  case_data c;
  const spec s = {.n_users = 700, .n_items = 3001, .d = 32, .max_seen = 25, .banned_in_10 = 1,
                  .seed = 8};
  case_build(&c, &s);
  scorer_topk_cuda *t = NULL;
  assert_int_equal(scorer_topk_cuda_open(&t, 0, c.items, c.in.n_items, c.in.d, c.in.banned),
                   SR_OK);
  const int64_t first[] = {0, 64, 100, 613}, count[] = {64, 36, 513, 87};
  const int ks[] = {10, 1, 150, 10};
  for (int r = 0; r < 4; r++) {
    scorer_topk_input in = c.in;
    in.users = c.users + first[r] * c.in.d;
    in.n_users = count[r];
    in.seen_offset = c.offset + first[r];
    expect_same_on(&in, ks[r], r == 2 ? 128 : 0, r == 3 ? 700 : 0, t);
  }
  scorer_topk_input other = c.in;
  other.banned = NULL;
  int32_t item[10];
  float score[10];
  other.n_users = 1;
  assert_int_equal(scorer_topk_cuda_run(t, &other, 10, NULL, item, score), SR_EINVAL);
  sr_error_clear();
  scorer_topk_cuda_close(t);
  c.items[5 * c.in.d + 1] = NAN; /* the table is checked once, at open */
  t = NULL;
  assert_int_equal(scorer_topk_cuda_open(&t, 0, c.items, c.in.n_items, c.in.d, c.in.banned),
                   SR_EINVAL);
  assert_null(t);
  sr_error_clear();
  case_free(&c);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_random_with_seen_and_banned),
      cmocka_unit_test(test_k_above_eligible_items),
      cmocka_unit_test(test_ties_from_duplicated_rows),
      cmocka_unit_test(test_bad_input_and_edges),
      cmocka_unit_test(test_context_across_rounds),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
