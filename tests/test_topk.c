/* scorer/topk: the block-wise top-k against a brute force (every score, full sort) on seeded
 * random inputs, plus ties, padding, block-size and thread invariance and bad input.
 * Not a benchmark (bench/bench_topk.c). */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cblas.h>
#include <cmocka.h>

#include "core/arena.h"
#include "core/rng.h"
#include "core/status.h"
#include "scorer/topk.h"

/* One random problem; every array owned here. */
typedef struct {
  scorer_topk_input in;
  float *users;        /* [n_users, d] */
  float *items;        /* [n_items + 1, d] */
  int64_t *seen_offset; /* [n_users + 1] */
  int32_t *seen_item;  /* [seen_offset[n_users]] */
  uint8_t *banned;     /* [n_items + 1] */
} problem;

/* Seen lists are unsorted with repeats and the odd padding 0; seen_offset starts above 0 to
 * check that offsets are used as given. */
static void problem_make(problem *p, int64_t n_users, int64_t n_items, int64_t d,
                         int max_seen, int with_banned, uint64_t seed) {
  memset(p, 0, sizeof *p);
  sr_rng r;
  sr_rng_init(&r, seed, 0);
  assert_int_equal(sr_alloc(&p->users, (size_t)(n_users * d + 1), sizeof(float), "u"), SR_OK);
  assert_int_equal(sr_alloc(&p->items, (size_t)((n_items + 1) * d), sizeof(float), "e"), SR_OK);
  for (int64_t j = 0; j < n_users * d; j++) p->users[j] = sr_rng_normal(&r);
  for (int64_t j = 0; j < (n_items + 1) * d; j++) p->items[j] = sr_rng_normal(&r);
  assert_int_equal(sr_alloc(&p->seen_offset, (size_t)n_users + 1, sizeof(int64_t), "o"), SR_OK);
  const int64_t pad = 3;
  int64_t total = pad;
  for (int64_t u = 0; u < n_users; u++) {
    p->seen_offset[u] = total;
    total += max_seen > 0 ? sr_rng_below(&r, (uint32_t)max_seen + 1) : 0;
  }
  p->seen_offset[n_users] = total;
  assert_int_equal(sr_alloc(&p->seen_item, (size_t)total + 1, sizeof(int32_t), "s"), SR_OK);
  for (int64_t j = pad; j < total; j++)
    p->seen_item[j] = (int32_t)sr_rng_below(&r, (uint32_t)n_items + 1);
  for (int64_t j = 0; j < pad; j++) p->seen_item[j] = -7; /* outside the users' slices */
  assert_int_equal(sr_alloc(&p->banned, (size_t)n_items + 1, 1, "b"), SR_OK);
  for (int64_t i = 1; with_banned && i <= n_items; i++) p->banned[i] = sr_rng_below(&r, 10) == 0;
  p->in = (scorer_topk_input){.users = p->users, .n_users = n_users, .items = p->items,
                              .n_items = n_items, .d = d, .seen_offset = p->seen_offset,
                              .seen_item = p->seen_item,
                              .banned = with_banned ? p->banned : NULL};
}

static void problem_free(problem *p) {
  sr_free(p->users);
  sr_free(p->items);
  sr_free(p->seen_offset);
  sr_free(p->seen_item);
  sr_free(p->banned);
}

typedef struct {
  float score;
  int32_t item;
} scored;

static int scored_cmp(const void *a, const void *b) {
  const scored *x = a, *y = b;
  if (x->score != y->score) return x->score > y->score ? -1 : 1;
  return (x->item > y->item) - (x->item < y->item);
}

/* The brute force: every score by the definition (scorer_topk_score, no BLAS), then a full
 * sort. The top-k must match it bit for bit: its scores are that same function by contract, so
 * no tolerance is needed that could hide a wrongly broken tie. */
static void topk_reference(const scorer_topk_input *in, int k, int32_t *out_item,
                           float *out_score) {
  scored *row;
  uint8_t *excluded;
  int64_t n = in->n_items + 1;
  assert_int_equal(sr_alloc(&row, (size_t)n, sizeof(scored), "row"), SR_OK);
  assert_int_equal(sr_alloc(&excluded, (size_t)n, 1, "excluded"), SR_OK);
  for (int64_t u = 0; u < in->n_users; u++) {
    memset(excluded, 0, (size_t)n);
    excluded[0] = 1;
    for (int64_t i = 1; in->banned && i < n; i++) excluded[i] = in->banned[i] != 0;
    for (int64_t p = in->seen_offset ? in->seen_offset[u] : 0;
         in->seen_offset && p < in->seen_offset[u + 1]; p++)
      excluded[in->seen_item[p]] = 1;
    int64_t m = 0;
    for (int64_t i = 0; i < n; i++)
      if (!excluded[i])
        row[m++] = (scored){scorer_topk_score(in->users + u * in->d, in->items + i * in->d,
                                              in->d), (int32_t)i};
    qsort(row, (size_t)m, sizeof *row, scored_cmp);
    for (int j = 0; j < k; j++) {
      out_item[u * k + j] = j < m ? row[j].item : 0;
      out_score[u * k + j] = j < m ? row[j].score : -INFINITY;
    }
  }
  sr_free(row);
  sr_free(excluded);
}

static double norm2(const float *x, int64_t d) {
  long double s = 0;
  for (int64_t j = 0; j < d; j++) s += (long double)x[j] * x[j];
  return sqrt((double)s);
}

/* x rounded to bf16, to nearest even (the CUDA filter's operands; finite x only). */
static float bf16_round(float x) {
  uint32_t u;
  memcpy(&u, &x, sizeof u);
  u = (u + 0x7fffu + ((u >> 16) & 1u)) & 0xffff0000u;
  memcpy(&x, &u, sizeof x);
  return x;
}

/* The products of the bf16-rounded rows summed in fp32, forward or backward. */
static float bf16_dot(const float *x, const float *y, int64_t d, int backward) {
  float s = 0.0f;
  for (int64_t t = 0; t < d; t++) {
    const int64_t j = backward ? d - 1 - t : t;
    s += bf16_round(x[j]) * bf16_round(y[j]);
  }
  return s;
}

/* The definition is within one float rounding of the exact dot product (long double here), and
 * sgemm, whatever its order, is within the margin the top-k filters with, as is a product of
 * bf16-rounded rows accumulated in fp32 (the CUDA filter) within its own: the facts the
 * exactness rests on. Odd d exercises the tail of the fixed-order sum. */
static void test_score_definition_and_filter_margins(void **state) {
  (void)state;
  const int64_t ds[] = {1, 7, 64, 67};
  for (size_t c = 0; c < sizeof ds / sizeof ds[0]; c++) {
    problem p;
    const int64_t d = ds[c], nu = 40, ni = 700;
    problem_make(&p, nu, ni, d, 0, 0, 20 + c);
    float *all;
    assert_int_equal(sr_alloc(&all, (size_t)(nu * (ni + 1)), sizeof(float), "all"), SR_OK);
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)nu, (int)ni + 1, (int)d, 1.0f,
                p.users, (int)d, p.items, (int)d, 0.0f, all, (int)ni + 1);
    double emax = 0;
    for (int64_t i = 1; i <= ni; i++) emax = fmax(emax, norm2(p.items + i * d, d));
    for (int64_t u = 0; u < nu; u++) {
      double margin = 2.0 * (double)(d + 2) * 0x1p-24 * norm2(p.users + u * d, d) * emax;
      for (int64_t i = 1; i <= ni; i++) {
        const float *x = p.users + u * d, *y = p.items + i * d;
        long double exact = 0, mag = 0;
        for (int64_t j = 0; j < d; j++) {
          exact += (long double)x[j] * y[j];
          mag += fabsl((long double)x[j] * y[j]);
        }
        float s = scorer_topk_score(x, y, d);
        assert_true(fabsl(s - exact) <= 0x1p-24L * fabsl(exact) + (long double)d * 0x1p-52L * mag);
        assert_true(fabs((double)all[u * (ni + 1) + i] - s) <= margin);
        assert_true(fabs((double)all[u * (ni + 1) + i] - s) <= scorer_topk_margin(x, d, emax));
        const double margin16 = scorer_topk_margin_bf16(x, d, emax);
        assert_true(fabs((double)bf16_dot(x, y, d, 0) - s) <= margin16);
        assert_true(fabs((double)bf16_dot(x, y, d, 1) - s) <= margin16);
      }
    }
    sr_free(all);
    problem_free(&p);
  }
}

#define GUARD 8
#define GUARD_ITEM 0x5a5a5a5a
#define GUARD_SCORE 12345.0f

/* Output arrays with guard values after the end, to catch writes outside [n_users, k]. */
typedef struct {
  int32_t *item;
  float *score;
  size_t n;
} outputs;

static void outputs_make(outputs *o, int64_t n_users, int k) {
  o->n = (size_t)n_users * (size_t)k;
  assert_int_equal(sr_alloc(&o->item, o->n + GUARD, sizeof(int32_t), "item"), SR_OK);
  assert_int_equal(sr_alloc(&o->score, o->n + GUARD, sizeof(float), "score"), SR_OK);
  for (size_t j = 0; j < o->n + GUARD; j++) {
    o->item[j] = GUARD_ITEM;
    o->score[j] = GUARD_SCORE;
  }
}

static void outputs_check_guards(const outputs *o) {
  for (size_t j = o->n; j < o->n + GUARD; j++) {
    assert_int_equal(o->item[j], GUARD_ITEM);
    assert_true(o->score[j] == GUARD_SCORE);
  }
}

static void outputs_free(outputs *o) {
  sr_free(o->item);
  sr_free(o->score);
}

static void assert_same_outputs(const outputs *a, const outputs *b) {
  for (size_t j = 0; j < a->n; j++) {
    if (a->item[j] != b->item[j] || memcmp(&a->score[j], &b->score[j], sizeof(float)) != 0)
      fail_msg("entry %zu: item %d score %.9g vs item %d score %.9g", j, a->item[j],
               (double)a->score[j], b->item[j], (double)b->score[j]);
  }
}

/* Runs the top-k and the brute force on one problem and demands identical outputs. */
static void check_against_reference(const problem *p, int k, const scorer_topk_opts *opts) {
  outputs got, want;
  outputs_make(&got, p->in.n_users, k);
  outputs_make(&want, p->in.n_users, k);
  assert_int_equal(scorer_topk_run(&p->in, k, opts, got.item, got.score), SR_OK);
  topk_reference(&p->in, k, want.item, want.score);
  assert_same_outputs(&got, &want);
  outputs_check_guards(&got);
  /* Rows are best first and seen items never appear. */
  for (int64_t u = 0; u < p->in.n_users; u++) {
    for (int j = 0; j < k; j++) {
      int32_t it = got.item[u * k + j];
      if (j > 0) assert_true(got.score[u * k + j] <= got.score[u * k + j - 1]);
      if (it == 0) continue;
      for (int64_t q = p->in.seen_offset[u]; q < p->in.seen_offset[u + 1]; q++)
        assert_int_not_equal(it, p->in.seen_item[q]);
    }
  }
  outputs_free(&got);
  outputs_free(&want);
}

static void test_k1_matches_brute_force(void **state) {
  (void)state;
  problem p;
  problem_make(&p, 37, 301, 16, 20, 1, 1);
  check_against_reference(&p, 1, NULL);
  problem_free(&p);
}

static void test_k10_matches_brute_force(void **state) {
  (void)state;
  problem p;
  problem_make(&p, 53, 777, 24, 40, 1, 2);
  check_against_reference(&p, 10, NULL);
  problem_free(&p);
}

/* Several item blocks of the default size, d as in the default model, k as in score.k. */
static void test_k100_several_item_blocks(void **state) {
  (void)state;
  problem p;
  problem_make(&p, 300, 2100, 64, 150, 1, 3);
  check_against_reference(&p, 100, NULL);
  problem_free(&p);
}

/* Users who have seen nearly everything: k is above their eligible items, rows are padded. */
static void test_k_above_unseen_pads_with_zero_and_minus_inf(void **state) {
  (void)state;
  problem p;
  const int k = 30;
  problem_make(&p, 9, 25, 8, 60, 0, 4);
  check_against_reference(&p, k, NULL);

  outputs got;
  outputs_make(&got, p.in.n_users, k);
  assert_int_equal(scorer_topk_run(&p.in, k, NULL, got.item, got.score), SR_OK);
  int padded_users = 0;
  for (int64_t u = 0; u < p.in.n_users; u++) {
    uint8_t seen[26] = {0};
    for (int64_t q = p.seen_offset[u]; q < p.seen_offset[u + 1]; q++) seen[p.seen_item[q]] = 1;
    int eligible = 0;
    for (int i = 1; i <= 25; i++) eligible += !seen[i];
    assert_true(eligible < k);
    padded_users += eligible < 25;
    for (int j = 0; j < k; j++) {
      if (j < eligible) {
        assert_int_not_equal(got.item[u * k + j], 0);
        assert_true(isfinite(got.score[u * k + j]));
      } else {
        assert_int_equal(got.item[u * k + j], 0);
        assert_true(isinf(got.score[u * k + j]) && got.score[u * k + j] < 0);
      }
    }
  }
  assert_true(padded_users > 0); /* the case is really exercised */
  outputs_free(&got);
  problem_free(&p);
}

/* Duplicate item rows give equal scores; the smaller id must come first. Small integers make
 * every dot product exact, so the ties are exact whatever the summation order. */
static void test_ties_broken_by_item_id(void **state) {
  (void)state;
  enum { NU = 5, NI = 40, D = 4, K = 12 }; /* no `I`: complex.h (via cblas.h) defines it */
  float users[NU * D], items[(NI + 1) * D];
  sr_rng r;
  sr_rng_init(&r, 5, 0);
  for (int j = 0; j < NU * D; j++) users[j] = (float)sr_rng_below(&r, 5) - 2.0f;
  for (int i = 0; i <= NI; i++) /* only 4 distinct rows: items i and i+4 are copies */
    for (int j = 0; j < D; j++) items[i * D + j] = (float)((i % 4) * (j + 1) % 5) - 2.0f;
  scorer_topk_input in = {.users = users, .n_users = NU, .items = items, .n_items = NI, .d = D};
  int32_t got_item[NU * K];
  float got_score[NU * K];
  scorer_topk_opts opts = {.user_block = 2, .item_block = 7, .threads = 2};
  assert_int_equal(scorer_topk_run(&in, K, &opts, got_item, got_score), SR_OK);
  int strict_best = 0;
  for (int u = 0; u < NU; u++) {
    for (int j = 1; j < K; j++) {
      float a = got_score[u * K + j - 1], b = got_score[u * K + j];
      assert_true(a >= b);
      if (a == b) assert_true(got_item[u * K + j - 1] < got_item[u * K + j]);
    }
    /* With 10 copies of each row, when one row is strictly best the top 10 are its copies,
     * ids ascending. */
    if (got_score[u * K + 10] < got_score[u * K]) {
      int best = got_item[u * K] % 4 == 0 ? 4 : got_item[u * K] % 4;
      for (int j = 0; j < 10; j++) assert_int_equal(got_item[u * K + j], best + 4 * j);
      strict_best++;
    }
  }
  assert_true(strict_best > 0);
  int32_t want_item[NU * K];
  float want_score[NU * K];
  topk_reference(&in, K, want_item, want_score);
  assert_memory_equal(got_item, want_item, sizeof got_item);
  assert_memory_equal(got_score, want_score, sizeof got_score);
}

/* Groups of nearly identical items whose scores differ by less than sgemm's rounding: the
 * sgemm order and the exact order disagree somewhere (asserted), and the result must still be
 * the exact one. This is what the margin in the filter is for. */
static void test_near_ties_below_sgemm_rounding(void **state) {
  (void)state;
  enum { NU = 64, GROUPS = 40, PER = 8, NI = GROUPS * PER, D = 48 };
  problem p;
  problem_make(&p, NU, NI, D, 0, 0, 13);
  sr_rng r;
  sr_rng_init(&r, 13, 1);
  for (int g = 0; g < GROUPS; g++)
    for (int m = 1; m < PER; m++)
      for (int j = 0; j < D; j++) {
        float base = p.items[(1 + g * PER) * D + j];
        p.items[(1 + g * PER + m) * D + j] = base * (1.0f + 0x1p-22f * (sr_rng_uniform(&r) - 0.5f));
      }
  float *all;
  assert_int_equal(sr_alloc(&all, (size_t)NU * (NI + 1), sizeof(float), "all"), SR_OK);
  cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, NU, NI + 1, D, 1.0f, p.users, D, p.items,
              D, 0.0f, all, NI + 1);
  int disagree = 0;
  for (int u = 0; u < NU; u++)
    for (int i = 1; i < NI; i++) {
      float a = scorer_topk_score(p.users + u * D, p.items + i * D, D);
      float b = scorer_topk_score(p.users + u * D, p.items + (i + 1) * D, D);
      float sa = all[u * (NI + 1) + i], sb = all[u * (NI + 1) + i + 1];
      disagree += (a < b && sa > sb) || (a > b && sa < sb);
    }
  assert_true(disagree > 0);
  sr_free(all);
  const scorer_topk_opts small = {.user_block = 5, .item_block = 24, .threads = 2};
  check_against_reference(&p, 1, NULL);
  check_against_reference(&p, 3, &small);
  check_against_reference(&p, 8, NULL);
  problem_free(&p);
}

/* Most items are near-copies of one row, tying within the margin: the candidate buffer fills
 * with items the sgemm scores cannot separate, so it must fall back to exact scores to make room
 * (and then filter later items against the exact k-th best). One outlier item (1000 times
 * longer) squeezes the other scores into one histogram bucket, so the threshold falls back to a
 * quickselect. */
static void test_buffer_fallbacks(void **state) {
  (void)state;
  problem p;
  sr_rng r;
  sr_rng_init(&r, 14, 1);
  problem_make(&p, 30, 3000, 16, 20, 1, 14);
  for (int64_t i = 2; i <= 3000; i++)
    if (i % 16 != 0)
      for (int j = 0; j < 16; j++)
        p.items[i * 16 + j] = p.items[16 + j] * (1.0f + 0x1p-22f * (sr_rng_uniform(&r) - 0.5f));
  check_against_reference(&p, 10, NULL);
  check_against_reference(&p, 40, &(scorer_topk_opts){.item_block = 100});
  problem_free(&p);

  problem_make(&p, 30, 3000, 16, 20, 0, 15);
  for (int j = 0; j < 16; j++) p.items[7 * 16 + j] *= 1000.0f;
  check_against_reference(&p, 10, NULL);
  check_against_reference(&p, 100, NULL);
  problem_free(&p);
}

/* Block sizes and thread counts that do not divide the sizes change nothing, bit for bit. */
static void test_blocks_and_threads_do_not_change_result(void **state) {
  (void)state;
  problem p;
  const int k = 17;
  problem_make(&p, 103, 1009, 33, 30, 1, 6);
  outputs base;
  outputs_make(&base, p.in.n_users, k);
  assert_int_equal(scorer_topk_run(&p.in, k, NULL, base.item, base.score), SR_OK);
  const scorer_topk_opts variants[] = {
      {.user_block = 1, .item_block = 1, .threads = 1},
      {.user_block = 7, .item_block = 13, .threads = 2},
      {.user_block = 10, .item_block = 100, .threads = 3},
      {.user_block = 1000, .item_block = 5000, .threads = 1},
      {.user_block = 64, .item_block = 1008, .threads = 2},
      {.user_block = 3, .item_block = 16, .threads = 5},
  };
  for (size_t v = 0; v < sizeof variants / sizeof variants[0]; v++) {
    outputs got;
    outputs_make(&got, p.in.n_users, k);
    assert_int_equal(scorer_topk_run(&p.in, k, &variants[v], got.item, got.score), SR_OK);
    assert_same_outputs(&got, &base);
    outputs_check_guards(&got);
    outputs_free(&got);
  }
  check_against_reference(&p, k, &variants[1]);
  outputs_free(&base);
  problem_free(&p);
}

static void test_no_seen_list_and_banned_items(void **state) {
  (void)state;
  problem p;
  problem_make(&p, 20, 200, 8, 10, 1, 7);
  p.in.seen_offset = NULL; /* exclude_seen: false */
  int32_t item[20 * 50];
  float score[20 * 50];
  assert_int_equal(scorer_topk_run(&p.in, 50, NULL, item, score), SR_OK);
  for (int j = 0; j < 20 * 50; j++) {
    assert_true(item[j] >= 1 && item[j] <= 200);
    assert_int_equal(p.banned[item[j]], 0);
  }
  problem_free(&p);
}

static void test_edge_sizes(void **state) {
  (void)state;
  problem p;
  /* No users: nothing to do, outputs may be NULL. */
  problem_make(&p, 0, 10, 4, 3, 0, 8);
  assert_int_equal(scorer_topk_run(&p.in, 5, NULL, NULL, NULL), SR_OK);
  problem_free(&p);

  /* k above n_items: every item, then padding. */
  problem_make(&p, 4, 5, 3, 0, 0, 9);
  check_against_reference(&p, 8, NULL);
  int32_t item[4 * 8];
  float score[4 * 8];
  assert_int_equal(scorer_topk_run(&p.in, 8, NULL, item, score), SR_OK);
  for (int u = 0; u < 4; u++) {
    int mask = 0;
    for (int j = 0; j < 5; j++) mask |= 1 << item[u * 8 + j];
    assert_int_equal(mask, 0x3e); /* items 1..5, never 0 */
    for (int j = 5; j < 8; j++) {
      assert_int_equal(item[u * 8 + j], 0);
      assert_true(isinf(score[u * 8 + j]) && score[u * 8 + j] < 0);
    }
  }
  problem_free(&p);

  /* No items at all: every row is padding. */
  problem_make(&p, 3, 0, 4, 0, 0, 10);
  int32_t item0[3 * 2];
  float score0[3 * 2];
  assert_int_equal(scorer_topk_run(&p.in, 2, NULL, item0, score0), SR_OK);
  for (int j = 0; j < 6; j++) {
    assert_int_equal(item0[j], 0);
    assert_true(isinf(score0[j]) && score0[j] < 0);
  }
  problem_free(&p);
}

static void test_bad_input_is_rejected(void **state) {
  (void)state;
  problem p;
  int32_t item[6 * 3];
  float score[6 * 3];
  problem_make(&p, 6, 12, 4, 4, 0, 11);

  sr_error_clear();
  assert_int_equal(scorer_topk_run(&p.in, 0, NULL, item, score), SR_EINVAL);
  assert_non_null(strstr(sr_error_message(), "k = 0"));

  sr_error_clear();
  assert_true(p.seen_offset[3] > p.seen_offset[2]); /* user 2 has seen something */
  int32_t keep = p.seen_item[p.seen_offset[2]];
  p.seen_item[p.seen_offset[2]] = 13;
  assert_int_equal(scorer_topk_run(&p.in, 3, NULL, item, score), SR_EINVAL);
  assert_non_null(strstr(sr_error_message(), "user 2 has seen item 13"));
  p.seen_item[p.seen_offset[2]] = keep;

  sr_error_clear();
  p.users[4 * 4 + 1] = NAN;
  assert_int_equal(scorer_topk_run(&p.in, 3, NULL, item, score), SR_EINVAL);
  assert_non_null(strstr(sr_error_message(), "user 4"));
  p.users[4 * 4 + 1] = 0.5f;

  sr_error_clear();
  p.items[7 * 4] = -INFINITY;
  assert_int_equal(scorer_topk_run(&p.in, 3, NULL, item, score), SR_EINVAL);
  assert_non_null(strstr(sr_error_message(), "item 7"));
  p.items[7 * 4] = 0.5f;

  sr_error_clear();
  int64_t o = p.seen_offset[3];
  p.seen_offset[3] = p.seen_offset[2] - 1;
  assert_int_equal(scorer_topk_run(&p.in, 3, NULL, item, score), SR_EINVAL);
  assert_non_null(strstr(sr_error_message(), "non-decreasing"));
  p.seen_offset[3] = o;

  sr_error_clear();
  assert_int_equal(scorer_topk_run(&p.in, 3, NULL, item, score), SR_OK);
  problem_free(&p);
}

/* The benchmark's baseline runs the sgemms only and must leave the outputs alone. */
static void test_gemm_only_writes_nothing(void **state) {
  (void)state;
  problem p;
  problem_make(&p, 10, 50, 4, 3, 0, 12);
  outputs got;
  outputs_make(&got, 10, 5);
  scorer_topk_opts opts = {.gemm_only = 1};
  assert_int_equal(scorer_topk_run(&p.in, 5, &opts, got.item, got.score), SR_OK);
  for (size_t j = 0; j < got.n + GUARD; j++) assert_int_equal(got.item[j], GUARD_ITEM);
  outputs_free(&got);
  problem_free(&p);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_score_definition_and_filter_margins),
      cmocka_unit_test(test_k1_matches_brute_force),
      cmocka_unit_test(test_k10_matches_brute_force),
      cmocka_unit_test(test_k100_several_item_blocks),
      cmocka_unit_test(test_k_above_unseen_pads_with_zero_and_minus_inf),
      cmocka_unit_test(test_ties_broken_by_item_id),
      cmocka_unit_test(test_near_ties_below_sgemm_rounding),
      cmocka_unit_test(test_buffer_fallbacks),
      cmocka_unit_test(test_blocks_and_threads_do_not_change_result),
      cmocka_unit_test(test_no_seen_list_and_banned_items),
      cmocka_unit_test(test_edge_sizes),
      cmocka_unit_test(test_bad_input_is_rejected),
      cmocka_unit_test(test_gemm_only_writes_nothing),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
