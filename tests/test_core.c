/* core/: status propagation, the counter-based RNG, arenas and layouts, duration formatting. */
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
#include "core/timer.h"

static sr_status fails_with_row(int row) {
  return sr_error(SR_EINVAL, "input.csv: row %d: bad item", row);
}

static sr_status passes_it_up(void) {
  TRY(fails_with_row(7));
  return SR_OK;
}

static void test_first_error_wins_and_context_appends(void **state) {
  (void)state;
  sr_error_clear();
  assert_int_equal(passes_it_up(), SR_EINVAL);
  /* A later error in the same chain must not hide the root cause. */
  (void)sr_error(SR_EIO, "cleanup failed");
  sr_error_context("while importing %s", "input.csv");
  assert_string_equal(sr_error_message(), "input.csv: row 7: bad item (while importing input.csv)");
  sr_error_clear();
  assert_string_equal(sr_error_message(), "");
}

static void test_exit_codes(void **state) {
  (void)state;
  assert_int_equal(sr_status_exit_code(SR_OK), 0);
  assert_int_equal(sr_status_exit_code(SR_EINVAL), 1);
  assert_int_equal(sr_status_exit_code(SR_EIO), 1);
  assert_int_equal(sr_status_exit_code(SR_EFORMAT), 1);
  assert_int_equal(sr_status_exit_code(SR_EINTERNAL), 2);
  assert_int_equal(sr_status_exit_code(SR_ENOMEM), 2);
}

/* Known-answer vectors of Philox4x32-10 from Random123's kat_vectors. */
static void test_philox_known_answers(void **state) {
  (void)state;
  uint32_t out[4];
  const uint32_t zero_ctr[4] = {0, 0, 0, 0}, zero_key[2] = {0, 0};
  sr_philox4x32_10(zero_ctr, zero_key, out);
  assert_int_equal(out[0], 0x6627e8d5u);
  assert_int_equal(out[1], 0xe169c58du);
  assert_int_equal(out[2], 0xbc57ac4cu);
  assert_int_equal(out[3], 0x9b00dbd8u);
  const uint32_t ones_ctr[4] = {~0u, ~0u, ~0u, ~0u}, ones_key[2] = {~0u, ~0u};
  sr_philox4x32_10(ones_ctr, ones_key, out);
  assert_int_equal(out[0], 0x408f276du);
  assert_int_equal(out[1], 0x41c83b0eu);
  assert_int_equal(out[2], 0xa20bc7c6u);
  assert_int_equal(out[3], 0x6d5451fdu);
  const uint32_t pi_ctr[4] = {0x243f6a88u, 0x85a308d3u, 0x13198a2eu, 0x03707344u};
  const uint32_t pi_key[2] = {0xa4093822u, 0x299f31d0u};
  sr_philox4x32_10(pi_ctr, pi_key, out);
  assert_int_equal(out[0], 0xd16cfe09u);
  assert_int_equal(out[1], 0x94fdccebu);
  assert_int_equal(out[2], 0x5001e420u);
  assert_int_equal(out[3], 0x24126ea1u);
}

/* Any draw can be reproduced from (seed, stream, position) alone. */
static void test_rng_seek_reproduces_draws(void **state) {
  (void)state;
  sr_rng a, b;
  sr_rng_init(&a, 42, 7);
  uint32_t first[101];
  for (int i = 0; i < 101; i++) first[i] = sr_rng_u32(&a);
  for (int start = 0; start < 101; start += 13) {
    sr_rng_init(&b, 42, 7);
    sr_rng_seek(&b, (uint64_t)start);
    for (int i = start; i < 101; i++) assert_int_equal(sr_rng_u32(&b), first[i]);
  }
  /* Another stream of the same seed gives different words. */
  sr_rng_init(&b, 42, 8);
  int same = 0;
  for (int i = 0; i < 101; i++) same += sr_rng_u32(&b) == first[i];
  assert_true(same < 3);
  /* The stateless form agrees with the sequential one. */
  sr_rng_init(&a, 9, 3);
  for (uint64_t i = 0; i < 50; i++) assert_true(sr_rng_uniform_at(9, 3, i) == sr_rng_uniform(&a));
}

static void test_rng_ranges_and_moments(void **state) {
  (void)state;
  sr_rng r;
  sr_rng_init(&r, 1, 0);
  enum { N = 200000 };
  double sum = 0, sum_sq = 0;
  int counts[10] = {0};
  for (int i = 0; i < N; i++) {
    float u = sr_rng_uniform(&r);
    assert_true(u >= 0.0f && u < 1.0f);
    uint32_t k = sr_rng_below(&r, 10);
    assert_true(k < 10);
    counts[k]++;
    float z = sr_rng_normal(&r);
    sum += z;
    sum_sq += (double)z * z;
  }
  /* Tolerances are ~6 standard errors: a correct generator fails with negligible odds. */
  assert_true(sum / N > -0.015 && sum / N < 0.015);
  assert_true(sum_sq / N > 0.97 && sum_sq / N < 1.03);
  for (int k = 0; k < 10; k++) assert_true(counts[k] > N / 10 - 800 && counts[k] < N / 10 + 800);
  for (int i = 0; i < 1000; i++) assert_true(sr_rng_below64(&r, 5000000000ull) < 5000000000ull);
}

/* sr_rng_permute must be a bijection of [0, n) for awkward n, and differ between streams. */
static void test_permutation_is_a_bijection(void **state) {
  (void)state;
  const uint64_t sizes[] = {1, 2, 3, 5, 16, 17, 1000, 4099};
  for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; s++) {
    uint64_t n = sizes[s];
    unsigned char *hit = calloc(n, 1);
    uint64_t fixed_points = 0;
    for (uint64_t i = 0; i < n; i++) {
      uint64_t p = sr_rng_permute(42, 3, n, i);
      assert_true(p < n);
      assert_int_equal(hit[p], 0);
      hit[p] = 1;
      fixed_points += p == i;
    }
    if (n >= 1000) assert_true(fixed_points < 10); /* a random permutation has ~1 */
    free(hit);
  }
  int same = 0;
  for (uint64_t i = 0; i < 1000; i++)
    same += sr_rng_permute(42, 3, 1000, i) == sr_rng_permute(42, 4, 1000, i);
  assert_true(same < 10);
}

static void test_arena_alignment_and_exhaustion(void **state) {
  (void)state;
  sr_arena a;
  assert_int_equal(sr_arena_init(&a, 1024, "test arena"), SR_OK);
  float *x, *y;
  assert_int_equal(sr_arena_alloc(&a, &x, 3, sizeof *x), SR_OK);
  assert_int_equal(sr_arena_alloc(&a, &y, 5, sizeof *y), SR_OK);
  assert_int_equal((uintptr_t)x % 64, 0);
  assert_int_equal((uintptr_t)y % 64, 0);
  assert_true((char *)y >= (char *)(x + 3));
  sr_error_clear();
  void *big;
  assert_int_equal(sr_arena_alloc(&a, &big, 2000, 1), SR_ENOMEM);
  assert_null(big);
  assert_non_null(strstr(sr_error_message(), "arena of 1024 bytes full"));
  sr_error_clear();
  sr_arena_reset(&a);
  assert_int_equal(sr_arena_alloc(&a, &big, 1024, 1), SR_OK);
  sr_arena_free(&a);
}

static void test_layout_carves_aligned_slices(void **state) {
  (void)state;
  sr_layout l;
  sr_layout_init(&l);
  const int64_t emb[2] = {101, 64}, bias[1] = {3}, qkv[3] = {2, 192, 64};
  assert_int_equal(sr_layout_add(&l, "item_emb", 2, emb), SR_OK);
  assert_int_equal(sr_layout_add(&l, "bias", 1, bias), SR_OK);
  assert_int_equal(sr_layout_add(&l, "qkv_w", 3, qkv), SR_OK);
  const sr_tensor_desc *b = sr_layout_find(&l, "bias");
  assert_non_null(b);
  assert_int_equal(b->offset, 101 * 64);
  const sr_tensor_desc *q = sr_layout_find(&l, "qkv_w");
  assert_int_equal(q->offset % 16, 0);
  assert_true(q->offset >= b->offset + 3);
  assert_int_equal(q->count, 2 * 192 * 64);
  assert_int_equal(l.total, q->offset + q->count);
  assert_null(sr_layout_find(&l, "missing"));
  sr_error_clear();
  assert_int_equal(sr_layout_add(&l, "bias", 1, bias), SR_EINTERNAL);
  sr_error_clear();
  sr_layout_free(&l);
}

static void test_duration_format(void **state) {
  (void)state;
  char buf[32];
  sr_format_duration(4.25, buf, sizeof buf);
  assert_string_equal(buf, "4.2s");
  sr_format_duration(185, buf, sizeof buf);
  assert_string_equal(buf, "3m05s");
  sr_format_duration(7620, buf, sizeof buf);
  assert_string_equal(buf, "2h07m");
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_first_error_wins_and_context_appends),
      cmocka_unit_test(test_exit_codes),
      cmocka_unit_test(test_philox_known_answers),
      cmocka_unit_test(test_rng_seek_reproduces_draws),
      cmocka_unit_test(test_rng_ranges_and_moments),
      cmocka_unit_test(test_permutation_is_a_bijection),
      cmocka_unit_test(test_arena_alignment_and_exhaustion),
      cmocka_unit_test(test_layout_carves_aligned_slices),
      cmocka_unit_test(test_duration_format),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
