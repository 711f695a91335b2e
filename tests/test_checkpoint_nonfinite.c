/* model/checkpoint: a checkpoint is never written with a NaN or an infinity in its parameters,
 * Adam moments or best weights. The write is refused with a message naming the HDF5 path and
 * element, the checkpoint already there keeps its bytes, and no PATH.tmp is left behind. */
#include <math.h>
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

#include "core/rng.h"
#include "core/status.h"
#include "events/h5util.h"
#include "kernels/kernels.h"
#include "model/checkpoint.h"
#include "model/sasrec.h"

static sr_kernels k;
static const sr_model_dims dims = {.n_items = 11, .max_len = 5, .d_model = 8, .n_layers = 1,
                                   .n_heads = 2, .d_ff = 8};

typedef struct {
  sr_model m;
  float *host[3]; /* [n_params] params, adam_m, adam_v */
  float *best;    /* [n_params] */
  char path[4096], tmp[4200];
} example;

static void example_make(example *e, const char *name) {
  mkdir(SEQREC_TEST_TMP, 0777);
  snprintf(e->path, sizeof e->path, "%s/nonfinite_%s.h5", SEQREC_TEST_TMP, name);
  snprintf(e->tmp, sizeof e->tmp, "%s.tmp", e->path);
  remove(e->path);
  assert_int_equal(sr_model_create(&e->m, &k, &dims, 0.0f, 2, 0), SR_OK);
  const size_t n = (size_t)e->m.n_params;
  for (int b = 0; b < 4; b++) {
    float *x = calloc(n, sizeof *x);
    assert_non_null(x);
    sr_rng r;
    sr_rng_init(&r, 9, (uint64_t)b);
    for (size_t i = 0; i < n; i++) x[i] = b == 2 ? 1e-4f : sr_rng_normal(&r);
    if (b < 3) e->host[b] = x; else e->best = x;
  }
}

static void example_upload(example *e) {
  const size_t bytes = (size_t)e->m.n_params * sizeof(float);
  assert_int_equal(k.upload(&k, e->m.params, e->host[0], bytes), SR_OK);
  assert_int_equal(k.upload(&k, e->m.adam_m, e->host[1], bytes), SR_OK);
  assert_int_equal(k.upload(&k, e->m.adam_v, e->host[2], bytes), SR_OK);
}

static void example_free(example *e) {
  sr_model_destroy(&e->m, &k);
  for (int b = 0; b < 3; b++) free(e->host[b]);
  free(e->best);
}

static sr_status example_write(example *e) {
  sr_train_state s = {.step = 7, .epoch = 1, .seed = 3, .world_size = 1, .best_metric = -1.0};
  snprintf(s.events_fingerprint, sizeof s.events_fingerprint, "0123456789abcdef");
  example_upload(e);
  return sr_checkpoint_write(e->path, &e->m, &k, &s, "train: {}\n", e->best);
}

static char *file_read(const char *path, long *size) {
  FILE *f = fopen(path, "rb");
  assert_non_null(f);
  fseek(f, 0, SEEK_END);
  *size = ftell(f);
  rewind(f);
  char *data = malloc((size_t)*size);
  assert_non_null(data);
  assert_int_equal(fread(data, 1, (size_t)*size, f), (size_t)*size);
  fclose(f);
  return data;
}

/* Puts value at element i of the named tensor in buffer b (0..2: host copies of params, m, v;
 * 3: best), writes over a good checkpoint, and expects the refusal to name want. */
static void refused(int b, const char *tensor, size_t i, float value, const char *want) {
  example e;
  example_make(&e, tensor);
  assert_int_equal(example_write(&e), SR_OK);
  long good_size;
  char *good = file_read(e.path, &good_size);

  const sr_tensor_desc *t = NULL;
  for (int j = 0; j < e.m.layout.n_tensors; j++)
    if (strcmp(e.m.layout.tensors[j].name, tensor) == 0) t = &e.m.layout.tensors[j];
  assert_non_null(t);
  assert_true(i < t->count);
  float *buf = b < 3 ? e.host[b] : e.best;
  buf[t->offset + i] = value;
  sr_error_clear();
  assert_int_equal(example_write(&e), SR_EINTERNAL);
  const char *msg = sr_error_message();
  if (!strstr(msg, want) || !strstr(msg, e.path) || !strstr(msg, "previous checkpoint"))
    fail_msg("message '%s' lacks '%s' or the file name", msg, want);
  sr_error_clear();

  long after_size;
  char *after = file_read(e.path, &after_size);
  assert_int_equal(after_size, good_size);
  assert_memory_equal(after, good, (size_t)good_size);
  assert_int_equal(access(e.tmp, F_OK), -1);
  free(good);
  free(after);
  example_free(&e);
}

static void test_nan_in_params(void **state) {
  (void)state;
  refused(0, "wte", 17, NAN, "/params/wte[17] is NaN");
}

static void test_inf_in_first_moment(void **state) {
  (void)state;
  refused(1, "qkv_w", 0, INFINITY, "/optim/m/qkv_w[0] is infinite");
}

static void test_inf_in_second_moment(void **state) {
  (void)state;
  refused(2, "lnf_b", 7, -INFINITY, "/optim/v/lnf_b[7] is infinite");
}

static void test_nan_in_best_weights(void **state) {
  (void)state;
  refused(3, "wpe", 3, NAN, "/best/params/wpe[3] is NaN");
}

/* Large but finite values are a checkpoint like any other. */
static void test_huge_finite_values_are_written(void **state) {
  (void)state;
  example e;
  example_make(&e, "huge");
  e.host[0][0] = 3.0e38f;
  e.host[2][1] = -3.0e38f;
  assert_int_equal(example_write(&e), SR_OK);
  assert_int_equal(access(e.path, F_OK), 0);
  example_free(&e);
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
      cmocka_unit_test(test_nan_in_params),
      cmocka_unit_test(test_inf_in_first_moment),
      cmocka_unit_test(test_inf_in_second_moment),
      cmocka_unit_test(test_nan_in_best_weights),
      cmocka_unit_test(test_huge_finite_values_are_written),
  };
  return cmocka_run_group_tests_name("checkpoint_nonfinite", tests, setup, teardown);
}
