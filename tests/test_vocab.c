/* model/vocab and model/checkpoint_remap: items matched by raw id when a checkpoint meets a newer
 * vocabulary (items added, removed, reordered); each kept item brings its own row of wte and of
 * its Adam moments, new items keep the rows they had, every other tensor comes over whole. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <cmocka.h>

#include "core/arena.h"
#include "core/rng.h"
#include "events/h5util.h"
#include "kernels/kernels.h"
#include "model/checkpoint.h"
#include "model/checkpoint_remap.h"
#include "model/sasrec.h"
#include "model/vocab.h"

static sr_kernels k;

/* A vocabulary from a NULL-terminated list of ids (items 1..n). */
static sr_vocab vocab_of(const char *const *ids) {
  sr_vocab v = {0};
  while (ids[v.n_items]) v.n_items++;
  v.width = 8;
  assert_int_equal(sr_alloc(&v.ids, (size_t)v.n_items + 1, 9, "ids"), SR_OK);
  for (int64_t i = 0; i < v.n_items; i++) snprintf(v.ids + (i + 1) * 9, 9, "%s", ids[i]);
  return v;
}

static const char *const old_ids[] = {"a", "b", "c", "d", "e", NULL};
/* c and e gone; b, d, a kept in another order; x, y new. */
static const char *const new_ids[] = {"x", "d", "b", "y", "a", NULL};

static void test_match_added_removed_reordered(void **state) {
  (void)state;
  sr_vocab old = vocab_of(old_ids), cur = vocab_of(new_ids);
  int32_t row[6];
  sr_vocab_match_counts c;
  assert_int_equal(sr_vocab_match(&old, "old", &cur, row, &c), SR_OK);
  const int32_t want[6] = {0, 0, 4, 2, 0, 1};
  for (int i = 0; i < 6; i++) assert_int_equal(row[i], want[i]);
  assert_int_equal(c.kept, 3);
  assert_int_equal(c.moved, 3); /* d 4->2, b 2->3, a 1->5 */
  assert_int_equal(c.added, 2);
  assert_int_equal(c.dropped, 2);
  /* The same vocabulary: every item stays where it is. */
  assert_int_equal(sr_vocab_match(&old, "old", &old, row, &c), SR_OK);
  for (int i = 1; i <= 5; i++) assert_int_equal(row[i], i);
  assert_int_equal(c.kept, 5);
  assert_int_equal(c.moved + c.added + c.dropped, 0);
  sr_vocab_free(&old);
  sr_vocab_free(&cur);
}

static void test_match_refuses_duplicate_ids(void **state) {
  (void)state;
  static const char *const dup[] = {"a", "b", "a", NULL};
  sr_vocab old = vocab_of(dup), cur = vocab_of(new_ids);
  int32_t row[6];
  sr_vocab_match_counts c;
  assert_int_equal(sr_vocab_match(&old, "old.h5", &cur, row, &c), SR_EFORMAT);
  assert_non_null(strstr(sr_error_message(), "'a' appears twice"));
  sr_error_clear();
  sr_vocab_free(&old);
  sr_vocab_free(&cur);
}

static void fill(float *x, int64_t n, uint64_t stream) {
  sr_rng r;
  sr_rng_init(&r, 9, stream);
  for (int64_t i = 0; i < n; i++) x[i] = sr_rng_normal(&r);
}

static sr_model_dims dims_for(int n_items) {
  return (sr_model_dims){.n_items = n_items, .max_len = 6, .d_model = 8, .n_layers = 1,
                         .n_heads = 2, .d_ff = 12};
}

/* Writes a checkpoint of `old_ids` with random params and moments (buffer b from stream b+1),
 * then loads it into a model of `new_ids` whose buffers hold other random values (streams 11..)
 * and checks every element: known items' rows and all other tensors from the file, new items'
 * rows as they were; moments only when asked for. */
static void check_remap(int with_optimizer) {
  char path[512];
  mkdir(SEQREC_TEST_TMP, 0777);
  snprintf(path, sizeof path, "%s/vocab_remap.h5", SEQREC_TEST_TMP);
  sr_vocab old = vocab_of(old_ids), cur = vocab_of(new_ids);
  const sr_model_dims d_old = dims_for(5), d_new = dims_for(5);
  sr_model a, b;
  assert_int_equal(sr_model_create(&a, &k, &d_old, 0.0f, 2, 0), SR_OK);
  assert_int_equal(sr_model_create(&b, &k, &d_new, 0.0f, 2, 0), SR_OK);
  const size_t n = (size_t)a.n_params;
  float *src[3], *before[3], *after[3];
  float *buf_a[3] = {a.params, a.adam_m, a.adam_v}, *buf_b[3] = {b.params, b.adam_m, b.adam_v};
  for (int i = 0; i < 3; i++) {
    src[i] = malloc(n * sizeof(float));
    before[i] = malloc(n * sizeof(float));
    after[i] = malloc(n * sizeof(float));
    fill(src[i], (int64_t)n, (uint64_t)i + 1);
    fill(before[i], (int64_t)n, (uint64_t)i + 11);
    assert_int_equal(k.upload(&k, buf_a[i], src[i], n * sizeof(float)), SR_OK);
    assert_int_equal(k.upload(&k, buf_b[i], before[i], n * sizeof(float)), SR_OK);
  }
  sr_train_state s = {.step = 7, .seed = 1, .world_size = 1, .best_metric = -1};
  assert_int_equal(sr_checkpoint_write_vocab(path, &a, &k, &s, "", NULL, &old), SR_OK);

  sr_vocab_match_counts c;
  assert_int_equal(sr_checkpoint_read_remapped(path, &b, &k, &cur, with_optimizer, &c, NULL), SR_OK);
  assert_int_equal(c.kept, 3);
  assert_int_equal(c.added, 2);
  assert_int_equal(c.dropped, 2);
  const int32_t old_row[6] = {0, 0, 4, 2, 0, 1};
  const int64_t C = d_new.d_model, wte = (int64_t)sr_layout_find(&b.layout, "wte")->offset;
  const int64_t wte_end = wte + (int64_t)(d_new.n_items + 1) * C;
  for (int i = 0; i < 3; i++) {
    assert_int_equal(k.download(&k, after[i], buf_b[i], n * sizeof(float)), SR_OK);
    const int loaded = i == 0 || with_optimizer;
    for (int t = 0; t < b.layout.n_tensors; t++)
    for (int64_t j = (int64_t)b.layout.tensors[t].offset;
         j < (int64_t)(b.layout.tensors[t].offset + b.layout.tensors[t].count); j++) {
      float want;
      if (!loaded) {
        want = before[i][j];
      } else if (j >= wte && j < wte_end) {
        const int64_t item = (j - wte) / C, col = (j - wte) % C;
        want = old_row[item] ? src[i][wte + old_row[item] * C + col] : before[i][j];
      } else {
        want = src[i][j]; /* the same layout: as many items on both sides */
      }
      if (after[i][j] != want) fail_msg("buffer %d element %lld: %g, want %g", i, (long long)j,
                                        (double)after[i][j], (double)want);
    }
  }
  for (int i = 0; i < 3; i++) {
    free(src[i]);
    free(before[i]);
    free(after[i]);
  }
  sr_model_destroy(&a, &k);
  sr_model_destroy(&b, &k);
  sr_vocab_free(&old);
  sr_vocab_free(&cur);
}

static void test_remap_weights(void **state) {
  (void)state;
  check_remap(0);
}

static void test_remap_weights_and_moments(void **state) {
  (void)state;
  check_remap(1);
}

/* A grown vocabulary: 3 old items, 6 new ones; every tensor after wte sits at another offset. */
static void test_remap_grown(void **state) {
  (void)state;
  static const char *const small[] = {"p", "q", "r", NULL};
  static const char *const grown[] = {"r", "s", "t", "p", "u", "q", NULL};
  char path[512];
  mkdir(SEQREC_TEST_TMP, 0777);
  snprintf(path, sizeof path, "%s/vocab_grown.h5", SEQREC_TEST_TMP);
  sr_vocab old = vocab_of(small), cur = vocab_of(grown);
  const sr_model_dims d_old = dims_for(3), d_new = dims_for(6);
  sr_model a, b;
  assert_int_equal(sr_model_create(&a, &k, &d_old, 0.0f, 2, 0), SR_OK);
  assert_int_equal(sr_model_create(&b, &k, &d_new, 0.0f, 2, 0), SR_OK);
  float *pa = malloc((size_t)a.n_params * sizeof(float));
  float *pb = malloc((size_t)b.n_params * sizeof(float));
  fill(pa, a.n_params, 1);
  fill(pb, b.n_params, 2);
  assert_int_equal(k.upload(&k, a.params, pa, (size_t)a.n_params * sizeof(float)), SR_OK);
  assert_int_equal(k.upload(&k, b.params, pb, (size_t)b.n_params * sizeof(float)), SR_OK);
  sr_train_state s = {.step = 7, .seed = 1, .world_size = 1, .best_metric = -1};
  assert_int_equal(sr_checkpoint_write_vocab(path, &a, &k, &s, "", NULL, &old), SR_OK);
  /* The vocabulary comes back from the checkpoint as written. */
  sr_vocab back;
  assert_int_equal(sr_vocab_read(path, &back), SR_OK);
  assert_int_equal(back.n_items, 3);
  assert_string_equal(sr_vocab_id(&back, 2), "q");
  sr_vocab_free(&back);

  sr_vocab_match_counts c;
  assert_int_equal(sr_checkpoint_read_remapped(path, &b, &k, &cur, 0, &c, NULL), SR_OK);
  assert_int_equal(c.kept, 3);
  assert_int_equal(c.added, 3);
  assert_int_equal(c.dropped, 0);
  float *out = malloc((size_t)b.n_params * sizeof(float));
  assert_int_equal(k.download(&k, out, b.params, (size_t)b.n_params * sizeof(float)), SR_OK);
  const int C = d_new.d_model;
  const int32_t old_row[7] = {0, 3, 0, 0, 1, 0, 2};
  for (int item = 1; item <= 6; item++)
    for (int col = 0; col < C; col++) {
      const float want = old_row[item] ? pa[old_row[item] * C + col] : pb[item * C + col];
      assert_true(out[item * C + col] == want);
    }
  for (int i = 0; i < b.layout.n_tensors; i++) {
    const sr_tensor_desc *tb = &b.layout.tensors[i];
    if (strcmp(tb->name, "wte") == 0) continue;
    const sr_tensor_desc *ta = sr_layout_find(&a.layout, tb->name);
    assert_memory_equal(out + tb->offset, pa + ta->offset, tb->count * sizeof(float));
  }
  free(out);

  /* A checkpoint without a vocabulary loads only into as many items. */
  assert_int_equal(sr_checkpoint_write(path, &a, &k, &s, "", NULL), SR_OK);
  assert_int_equal(sr_checkpoint_read_remapped(path, &b, &k, &cur, 0, &c, NULL), SR_EINVAL);
  assert_non_null(strstr(sr_error_message(), "no /items/raw_id"));
  sr_error_clear();
  /* Another model shape is named by its key. */
  const sr_model_dims wider = {.n_items = 6, .max_len = 6, .d_model = 16, .n_layers = 1,
                               .n_heads = 2, .d_ff = 12};
  sr_model w;
  assert_int_equal(sr_model_create(&w, &k, &wider, 0.0f, 2, 0), SR_OK);
  assert_int_equal(sr_checkpoint_write_vocab(path, &a, &k, &s, "", NULL, &old), SR_OK);
  assert_int_equal(sr_checkpoint_read_remapped(path, &w, &k, &cur, 0, &c, NULL), SR_EINVAL);
  assert_non_null(strstr(sr_error_message(), "model.d_model 8, the configuration 16"));
  sr_error_clear();
  sr_model_destroy(&w, &k);
  free(pa);
  free(pb);
  sr_model_destroy(&a, &k);
  sr_model_destroy(&b, &k);
  sr_vocab_free(&old);
  sr_vocab_free(&cur);
}

static int setup(void **state) {
  (void)state;
  sr_h5_silence();
  return kernels_cpu_init(&k, 1) == SR_OK ? 0 : -1;
}

static int teardown(void **state) {
  (void)state;
  kernels_close(&k);
  return 0;
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_match_added_removed_reordered),
      cmocka_unit_test(test_match_refuses_duplicate_ids),
      cmocka_unit_test(test_remap_weights),
      cmocka_unit_test(test_remap_weights_and_moments),
      cmocka_unit_test(test_remap_grown),
  };
  return cmocka_run_group_tests_name("vocab", tests, setup, teardown);
}
