/* scorer/rank: the filtered rank (sgemm scores decide what is far from the target, exact scores
 * the rest) against the definition, every item scored exactly, on seeded random inputs with
 * exact ties, near-ties inside the rounding margin, seen, banned and padding items, more users
 * and items than one block, and bad input. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core/arena.h"
#include "core/rng.h"
#include "core/status.h"
#include "scorer/rank.h"

typedef struct {
  scorer_topk_input in;
  float *users, *items;
  int64_t *seen_offset;
  int32_t *seen_item, *target;
  uint8_t *banned;
} problem;

/* Items 1..n_items, a quarter of them copies or near-copies of another item (an ulp or a few
 * apart in one coordinate), so exact ties and near-ties with the targets are common. */
static void problem_make(problem *p, int64_t n_users, int64_t n_items, int64_t d, int max_seen,
                         uint64_t seed) {
  memset(p, 0, sizeof *p);
  sr_rng r;
  sr_rng_init(&r, seed, 0);
  assert_int_equal(sr_alloc(&p->users, (size_t)(n_users * d + 1), sizeof(float), "u"), SR_OK);
  assert_int_equal(sr_alloc(&p->items, (size_t)((n_items + 1) * d), sizeof(float), "e"), SR_OK);
  for (int64_t j = 0; j < n_users * d; j++) p->users[j] = sr_rng_normal(&r);
  for (int64_t j = 0; j < (n_items + 1) * d; j++) p->items[j] = sr_rng_normal(&r);
  for (int64_t i = 2; i <= n_items; i++) {
    if (sr_rng_below(&r, 4) != 0) continue;
    const int64_t from = 1 + sr_rng_below(&r, (uint32_t)(i - 1));
    float *e = p->items + i * d;
    memcpy(e, p->items + from * d, (size_t)d * sizeof *e);
    const int steps = (int)sr_rng_below(&r, 4); /* 0: an exact copy */
    const int64_t c = sr_rng_below(&r, (uint32_t)d);
    for (int s = 0; s < steps; s++) e[c] = nextafterf(e[c], sr_rng_below(&r, 2) ? 1e9f : -1e9f);
  }
  assert_int_equal(sr_alloc(&p->seen_offset, (size_t)n_users + 1, sizeof(int64_t), "o"), SR_OK);
  int64_t total = 2; /* offsets start above 0, as a shard's would */
  for (int64_t u = 0; u < n_users; u++) {
    p->seen_offset[u] = total;
    total += sr_rng_below(&r, (uint32_t)max_seen + 1);
  }
  p->seen_offset[n_users] = total;
  assert_int_equal(sr_alloc(&p->seen_item, (size_t)total + 1, sizeof(int32_t), "s"), SR_OK);
  for (int64_t j = 0; j < total; j++)
    p->seen_item[j] = (int32_t)sr_rng_below(&r, (uint32_t)n_items + 1); /* 0 and repeats too */
  assert_int_equal(sr_alloc(&p->banned, (size_t)n_items + 1, 1, "b"), SR_OK);
  for (int64_t i = 1; i <= n_items; i++) p->banned[i] = sr_rng_below(&r, 10) == 0;
  assert_int_equal(sr_alloc(&p->target, (size_t)n_users + 1, sizeof(int32_t), "t"), SR_OK);
  for (int64_t u = 0; u < n_users; u++) {
    const int64_t sb = p->seen_offset[u], se = p->seen_offset[u + 1];
    const int pick = (int)sr_rng_below(&r, 8);
    /* no target; one of the user's seen items (a repeat is ranked too); any item */
    p->target[u] = pick == 0 ? 0
                 : pick == 1 && se > sb ? p->seen_item[sb]
                 : (int32_t)(1 + sr_rng_below(&r, (uint32_t)n_items));
  }
  p->in = (scorer_topk_input){.users = p->users, .n_users = n_users, .items = p->items,
                              .n_items = n_items, .d = d, .seen_offset = p->seen_offset,
                              .seen_item = p->seen_item, .banned = p->banned};
}

static void problem_free(problem *p) {
  sr_free(p->users);
  sr_free(p->items);
  sr_free(p->seen_offset);
  sr_free(p->seen_item);
  sr_free(p->banned);
  sr_free(p->target);
}

/* rank.h's definition, item by item. */
static int64_t rank_reference(const scorer_topk_input *in, int64_t u, int32_t t) {
  if (t == 0) return 0;
  const float *uv = in->users + u * in->d;
  const float ts = scorer_topk_score(uv, in->items + (int64_t)t * in->d, in->d);
  int64_t better = 0;
  for (int64_t i = 1; i <= in->n_items; i++) {
    int seen = 0;
    for (int64_t j = in->seen_offset ? in->seen_offset[u] : 0;
         in->seen_offset && j < in->seen_offset[u + 1]; j++)
      seen |= in->seen_item[j] == i;
    if (i == t || seen || (in->banned && in->banned[i])) continue;
    const float s = scorer_topk_score(uv, in->items + i * in->d, in->d);
    better += s > ts || (s == ts && i < t);
  }
  return better + 1;
}

static void expect_reference(const problem *p) {
  int64_t *rank = NULL;
  assert_int_equal(sr_alloc(&rank, (size_t)p->in.n_users + 1, sizeof *rank, "r"), SR_OK);
  assert_int_equal(scorer_rank_run(&p->in, p->target, rank), SR_OK);
  for (int64_t u = 0; u < p->in.n_users; u++) {
    const int64_t want = rank_reference(&p->in, u, p->target[u]);
    if (rank[u] != want) fail_msg("user %lld target %d: rank %lld, want %lld", (long long)u,
                                  p->target[u], (long long)rank[u], (long long)want);
  }
  sr_free(rank);
}

static void test_matches_definition(void **state) {
  (void)state;
  const struct {
    int64_t users, items, d;
    int seen;
  } cases[] = {{1, 1, 1, 1}, {7, 40, 3, 5}, {130, 500, 16, 30}, {70, 9000, 8, 50}};
  for (size_t c = 0; c < sizeof cases / sizeof *cases; c++) {
    problem p;
    problem_make(&p, cases[c].users, cases[c].items, cases[c].d, cases[c].seen, 11 + c);
    expect_reference(&p);
    p.in.seen_offset = NULL; /* nothing excluded */
    p.in.banned = NULL;
    expect_reference(&p);
    problem_free(&p);
  }
}

/* Every item the same as the target, or a few ulps off: every comparison is decided exactly. */
static void test_all_near_ties(void **state) {
  (void)state;
  problem p;
  problem_make(&p, 20, 300, 12, 10, 5);
  for (int64_t i = 2; i <= 300; i++) {
    float *e = p.items + i * 12;
    memcpy(e, p.items + 12, 12 * sizeof *e);
    for (int s = 0; s < (int)(i % 5); s++) e[i % 12] = nextafterf(e[i % 12], i % 2 ? 1e9f : -1e9f);
  }
  expect_reference(&p);
  problem_free(&p);
}

/* A broken vector ranks as the definition says (NaN compares false), never a crash. */
static void test_non_finite_and_bad_input(void **state) {
  (void)state;
  problem p;
  problem_make(&p, 10, 60, 4, 5, 9);
  p.items[7 * 4 + 2] = NAN;
  p.users[3 * 4 + 1] = INFINITY;
  expect_reference(&p);
  int64_t rank[10];
  p.target[4] = 61;
  assert_int_equal(scorer_rank_run(&p.in, p.target, rank), SR_EINVAL);
  sr_error_clear();
  p.target[4] = 1;
  int64_t u = 0;
  while (u < 10 && p.seen_offset[u + 1] == p.seen_offset[u]) u++;
  assert_true(u < 10);
  p.target[u] = 1;
  p.seen_item[p.seen_offset[u]] = -1;
  assert_int_equal(scorer_rank_run(&p.in, p.target, rank), SR_EINVAL);
  sr_error_clear();
  problem_free(&p);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_matches_definition),
      cmocka_unit_test(test_all_near_ties),
      cmocka_unit_test(test_non_finite_and_bad_input),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
