/* model/checkpoint: ckpt.h5 written and read back bit for bit (parameters, Adam moments, best
 * weights, every state attribute, the config text), and each kind of bad file refused with a
 * message that names the file and the HDF5 path at fault. */
#include <hdf5.h>
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
static const sr_model_dims dims = {.n_items = 17, .max_len = 7, .d_model = 8, .n_layers = 2,
                                   .n_heads = 2, .d_ff = 12};
static const char *config_text = "data:\n  events: x.h5\n# a comment with UTF-8: \xc3\xa9\n";

static void tmp_path(char *buf, size_t size, const char *name) {
  mkdir(SEQREC_TEST_TMP, 0777);
  snprintf(buf, size, "%s/checkpoint_%s", SEQREC_TEST_TMP, name);
}

static void fill_random(float *x, int64_t n, uint64_t stream) {
  sr_rng r;
  sr_rng_init(&r, 5, stream);
  for (int64_t i = 0; i < n; i++) x[i] = sr_rng_normal(&r);
}

static sr_train_state state_example(void) {
  sr_train_state s = {.step = 1234567890123ll, .epoch = 41, .seed = 0x8000000000000005ull,
                      .world_size = 3, .best_metric = 0.123456789012345678, .best_epoch = 37,
                      .evals_since_best = 4, .finished = 1, .skipped_steps = 2};
  snprintf(s.events_fingerprint, sizeof s.events_fingerprint, "0123456789abcdef");
  return s;
}

/* A model with random params, moments and best weights (host copies kept), written to a file. */
typedef struct {
  sr_model m;
  float *host[3]; /* params, adam_m, adam_v */
  float *best;
} example;

static void example_write(example *e, const char *path) {
  assert_int_equal(sr_model_create(&e->m, &k, &dims, 0.1f, 2, 0), SR_OK);
  const size_t bytes = (size_t)e->m.n_params * sizeof(float);
  for (int b = 0; b < 4; b++) {
    float *x = malloc(bytes);
    assert_non_null(x);
    fill_random(x, e->m.n_params, (uint64_t)b + 1);
    if (b < 3) e->host[b] = x; else e->best = x;
  }
  assert_int_equal(k.upload(&k, e->m.params, e->host[0], bytes), SR_OK);
  assert_int_equal(k.upload(&k, e->m.adam_m, e->host[1], bytes), SR_OK);
  assert_int_equal(k.upload(&k, e->m.adam_v, e->host[2], bytes), SR_OK);
  const sr_train_state s = state_example();
  assert_int_equal(sr_checkpoint_write(path, &e->m, &k, &s, config_text, e->best), SR_OK);
}

static void example_free(example *e) {
  sr_model_destroy(&e->m, &k);
  for (int b = 0; b < 3; b++) free(e->host[b]);
  free(e->best);
}

static void example_rewrite(example *e, const char *path) {
  example_free(e);
  example_write(e, path);
}

static void buffer_expect(const float *dev, const float *want, int64_t n) {
  float *got = malloc((size_t)n * sizeof *got);
  assert_non_null(got);
  assert_int_equal(k.download(&k, got, dev, (size_t)n * sizeof *got), SR_OK);
  assert_memory_equal(got, want, (size_t)n * sizeof *got);
  free(got);
}

/* Only the tensors are compared: alignment gaps between them are not stored. */
static void tensors_expect(const sr_model *m, const float *got, const float *want) {
  for (int i = 0; i < m->layout.n_tensors; i++) {
    const sr_tensor_desc *t = &m->layout.tensors[i];
    assert_memory_equal(got + t->offset, want + t->offset, t->count * sizeof(float));
  }
}

static void dev_tensors_expect(const sr_model *m, const float *dev, const float *want) {
  float *got = malloc((size_t)m->n_params * sizeof *got);
  assert_non_null(got);
  assert_int_equal(k.download(&k, got, dev, (size_t)m->n_params * sizeof *got), SR_OK);
  tensors_expect(m, got, want);
  free(got);
}

static void test_round_trip(void **state) {
  (void)state;
  char path[4096], tmp[4200];
  tmp_path(path, sizeof path, "round_trip.h5");
  example e;
  sr_model b;
  example_write(&e, path);
  float **host = e.host, *best = e.best;
  float *best_back = malloc((size_t)e.m.n_params * sizeof *best_back);
  assert_non_null(best_back);
  snprintf(tmp, sizeof tmp, "%s.tmp", path);
  assert_int_equal(access(tmp, F_OK), -1); /* renamed, nothing left aside */

  sr_model_dims d;
  sr_train_state s, want = state_example();
  assert_int_equal(sr_checkpoint_read_header(path, &d, &s), SR_OK);
  assert_memory_equal(&d, &dims, sizeof d);
  assert_int_equal(s.step, want.step);
  assert_int_equal(s.epoch, want.epoch);
  assert_true(s.seed == want.seed);
  assert_int_equal(s.world_size, want.world_size);
  assert_true(s.best_metric == want.best_metric); /* float64 attribute: exact */
  assert_int_equal(s.best_epoch, want.best_epoch);
  assert_int_equal(s.evals_since_best, want.evals_since_best);
  assert_int_equal(s.finished, want.finished);
  assert_int_equal(s.skipped_steps, want.skipped_steps);
  assert_string_equal(s.events_fingerprint, want.events_fingerprint);

  /* Everything back into a fresh model. */
  assert_int_equal(sr_model_create(&b, &k, &dims, 0.1f, 2, 0), SR_OK);
  assert_int_equal(sr_checkpoint_read(path, &b, &k, 1, best_back), SR_OK);
  dev_tensors_expect(&b, b.params, host[0]);
  dev_tensors_expect(&b, b.adam_m, host[1]);
  dev_tensors_expect(&b, b.adam_v, host[2]);
  tensors_expect(&b, best_back, best);

  /* Without the optimizer the moments stay as they were (zero in a fresh model). */
  sr_model c;
  assert_int_equal(sr_model_create(&c, &k, &dims, 0.1f, 2, 0), SR_OK);
  assert_int_equal(sr_checkpoint_read(path, &c, &k, 0, NULL), SR_OK);
  dev_tensors_expect(&c, c.params, host[0]);
  float *zeros = calloc((size_t)c.n_params, sizeof *zeros);
  buffer_expect(c.adam_m, zeros, c.n_params);
  buffer_expect(c.adam_v, zeros, c.n_params);

  /* The config text and the format stamp, as other readers (info, score) see them. */
  hid_t f = H5I_INVALID_HID;
  assert_int_equal(sr_h5_open_read(path, &f), SR_OK);
  char text[256], format[64];
  assert_int_equal(sr_h5_attr_read_str(f, path, "/", "config", text, sizeof text), SR_OK);
  assert_string_equal(text, config_text);
  assert_int_equal(sr_h5_attr_read_str(f, path, "/", "format", format, sizeof format), SR_OK);
  assert_string_equal(format, SR_CHECKPOINT_FORMAT);
  assert_true(sr_h5_exists(f, "/best/params/lnf_b"));
  sr_h5_close(&f);

  /* Written without best weights: reading them falls back to /params. */
  const sr_train_state s2 = state_example();
  assert_int_equal(sr_checkpoint_write(path, &e.m, &k, &s2, NULL, NULL), SR_OK);
  assert_int_equal(sr_checkpoint_read(path, &c, &k, 1, best_back), SR_OK);
  tensors_expect(&c, best_back, host[0]);

  example_free(&e);
  sr_model_destroy(&b, &k);
  sr_model_destroy(&c, &k);
  free(best_back);
  free(zeros);
}

/* Fails unless the pending error has status st and names every needle. */
static void error_expect(sr_status got, sr_status st, const char *needle1, const char *needle2) {
  const char *msg = sr_error_message();
  printf("    %s: %s\n", sr_status_name(got), msg);
  assert_int_equal(got, st);
  assert_non_null(strstr(msg, needle1));
  if (needle2) assert_non_null(strstr(msg, needle2));
  sr_error_clear();
}

static void test_missing_and_foreign_files(void **state) {
  (void)state;
  char path[4096];
  sr_model_dims d;
  sr_train_state s;
  sr_model m;
  assert_int_equal(sr_model_create(&m, &k, &dims, 0.0f, 2, 0), SR_OK);

  tmp_path(path, sizeof path, "does_not_exist.h5");
  unlink(path);
  error_expect(sr_checkpoint_read_header(path, &d, &s), SR_EIO, path, NULL);
  error_expect(sr_checkpoint_read(path, &m, &k, 1, NULL), SR_EIO, path, NULL);

  tmp_path(path, sizeof path, "text.h5");
  FILE *fp = fopen(path, "w");
  assert_non_null(fp);
  fputs("user,item,time\n1,2,3\n", fp);
  fclose(fp);
  error_expect(sr_checkpoint_read_header(path, &d, &s), SR_EFORMAT, path, "not an HDF5 file");

  /* An HDF5 file of another format (an events file's stamp), and one without any. */
  tmp_path(path, sizeof path, "events.h5");
  hid_t f = H5I_INVALID_HID;
  assert_int_equal(sr_h5_create(path, &f), SR_OK);
  assert_int_equal(sr_h5_attr_write_str(f, path, "/", "format", "seqrec-events"), SR_OK);
  assert_true(H5Fclose(f) >= 0);
  error_expect(sr_checkpoint_read_header(path, &d, &s), SR_EFORMAT, path,
               "/: format is 'seqrec-events'");
  error_expect(sr_checkpoint_read(path, &m, &k, 0, NULL), SR_EFORMAT, path, "/: format");

  tmp_path(path, sizeof path, "no_format.h5");
  assert_int_equal(sr_h5_create(path, &f), SR_OK);
  assert_true(H5Fclose(f) >= 0);
  error_expect(sr_checkpoint_read_header(path, &d, &s), SR_EFORMAT, path,
               "/: missing attribute 'format'");

  /* A folder that does not exist: the write fails naming where it wanted to write. */
  const sr_train_state st = state_example();
  snprintf(path, sizeof path, "%s/no-such-dir/ckpt.h5", SEQREC_TEST_TMP);
  error_expect(sr_checkpoint_write(path, &m, &k, &st, "", NULL), SR_EIO, "no-such-dir/ckpt.h5",
               NULL);
  sr_model_destroy(&m, &k);
}

/* Replaces h5path in the file by a float32 dataset of the given shape (or removes it). */
static void tamper(const char *path, const char *h5path, int ndim, const hsize_t *shape,
                   hid_t type) {
  sr_h5_silence();
  hid_t f = H5Fopen(path, H5F_ACC_RDWR, H5P_DEFAULT);
  assert_true(f >= 0);
  assert_true(H5Ldelete(f, h5path, H5P_DEFAULT) >= 0);
  if (ndim > 0) {
    hid_t space = H5Screate_simple(ndim, shape, NULL);
    hid_t dset = H5Dcreate2(f, h5path, type, space, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    assert_true(dset >= 0);
    H5Dclose(dset);
    H5Sclose(space);
  }
  assert_true(H5Fclose(f) >= 0);
}

static void test_bad_tensors(void **state) {
  (void)state;
  char path[4096];
  tmp_path(path, sizeof path, "bad_tensors.h5");
  example e;
  sr_model m;
  example_write(&e, path);
  assert_int_equal(sr_model_create(&m, &k, &dims, 0.0f, 2, 0), SR_OK);

  /* wpe is [P, C] = [7, 8]: one position too many */
  const hsize_t wrong[2] = {8, 8};
  tamper(path, "/params/wpe", 2, wrong, H5T_IEEE_F32LE);
  error_expect(sr_checkpoint_read(path, &m, &k, 1, NULL), SR_EFORMAT, path, "/params/wpe");
  /* a vector where a matrix belongs */
  example_rewrite(&e, path);
  const hsize_t flat[1] = {7 * 8};
  tamper(path, "/params/wpe", 1, flat, H5T_IEEE_F32LE);
  error_expect(sr_checkpoint_read(path, &m, &k, 0, NULL), SR_EFORMAT, path, "/params/wpe");
  /* the right shape in float64 */
  example_rewrite(&e, path);
  const hsize_t fc_b[2] = {2, 12};
  tamper(path, "/optim/m/fc_b", 2, fc_b, H5T_IEEE_F64LE);
  error_expect(sr_checkpoint_read(path, &m, &k, 1, NULL), SR_EFORMAT, path, "/optim/m/fc_b");
  /* ... which is never read without the optimizer */
  assert_int_equal(sr_checkpoint_read(path, &m, &k, 0, NULL), SR_OK);
  /* a missing tensor */
  example_rewrite(&e, path);
  tamper(path, "/optim/v/lnf_w", 0, NULL, 0);
  error_expect(sr_checkpoint_read(path, &m, &k, 1, NULL), SR_EFORMAT, path, "/optim/v/lnf_w");
  tamper(path, "/best/params/qkv_w", 0, NULL, 0); /* /best/params exists but is incomplete */
  float *best_back = malloc((size_t)m.n_params * sizeof *best_back);
  error_expect(sr_checkpoint_read(path, &m, &k, 0, best_back), SR_EFORMAT, path,
               "/best/params/qkv_w");
  free(best_back);

  /* A model of other dimensions: the message gives both. */
  sr_model other;
  sr_model_dims od = dims;
  od.d_model = 16;
  assert_int_equal(sr_model_create(&other, &k, &od, 0.0f, 2, 0), SR_OK);
  error_expect(sr_checkpoint_read(path, &other, &k, 0, NULL), SR_EINVAL, path, "d_model 8");
  sr_model_destroy(&other, &k);

  /* A missing state attribute. */
  hid_t f = H5Fopen(path, H5F_ACC_RDWR, H5P_DEFAULT);
  assert_true(f >= 0);
  assert_true(H5Adelete(f, "step") >= 0);
  assert_true(H5Fclose(f) >= 0);
  sr_model_dims d;
  sr_train_state s;
  error_expect(sr_checkpoint_read_header(path, &d, &s), SR_EFORMAT, path,
               "/: missing attribute 'step'");

  example_free(&e);
  sr_model_destroy(&m, &k);
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
      cmocka_unit_test(test_round_trip),
      cmocka_unit_test(test_missing_and_foreign_files),
      cmocka_unit_test(test_bad_tensors),
  };
  return cmocka_run_group_tests_name("checkpoint", tests, setup, teardown);
}
