/* Writes that fail (a full disk, seen here as a file size limit: RLIMIT_FSIZE with SIGXFSZ
 * ignored, so write(2) fails with EFBIG): files from sr_h5_create report "cannot write to the
 * file", close without crashing HDF5 (which 1.10 does at shutdown after a failed close), and are
 * never published by sr_h5_tmp_commit, even when a quiet close swallowed the failure.
 * The end-to-end version with a real full tmpfs is full_disk.sh. */
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "core/arena.h"
#include "core/log.h"
#include "events/events.h"
#include "events/h5util.h"

enum { LIMIT = 256 << 10 }; /* bytes a file may grow to while a test limits it */

static struct rlimit saved_limit;

static void limit_file_size(void) {
  assert_int_equal(getrlimit(RLIMIT_FSIZE, &saved_limit), 0);
  struct rlimit lim = saved_limit;
  if (lim.rlim_max != RLIM_INFINITY && lim.rlim_max < LIMIT) skip();
  lim.rlim_cur = LIMIT;
  assert_int_equal(setrlimit(RLIMIT_FSIZE, &lim), 0);
}

static void unlimit_file_size(void) { assert_int_equal(setrlimit(RLIMIT_FSIZE, &saved_limit), 0); }

static void tmp_path(char *buf, size_t size, const char *name) {
  mkdir(SEQREC_TEST_TMP, 0777);
  snprintf(buf, size, "%s/test_h5_write_fail_%s", SEQREC_TEST_TMP, name);
}

static int file_exists(const char *path) {
  struct stat sb;
  return stat(path, &sb) == 0;
}

static void assert_message_has(const char *needle) {
  const char *msg = sr_error_message();
  if (!strstr(msg, needle)) fail_msg("message '%s' lacks '%s'", msg, needle);
}

/* A chunked int32 dataset of n values 0, 1, 2, ...: written through HDF5's chunk cache. */
static sr_status values_write(hid_t f, const char *file, const char *name, int64_t n,
                              hid_t *dset) {
  int32_t *v = NULL;
  TRY(sr_alloc(&v, (size_t)n, sizeof *v, "values"));
  for (int64_t i = 0; i < n; i++) v[i] = (int32_t)i;
  sr_status st = sr_h5_dataset_create(f, file, name, H5T_STD_I32LE, 0, 0, 1, 1 << 14, dset);
  if (st == SR_OK) st = sr_h5_write_rows(*dset, file, name, H5T_NATIVE_INT32, 0, n, v);
  sr_free(v);
  return st;
}

/* A write past the limit fails with a plain message; the file then closes quietly. */
static void test_failed_write_reports_and_closes(void **state) {
  (void)state;
  char path[4096];
  tmp_path(path, sizeof path, "direct.h5");
  hid_t f = H5I_INVALID_HID, d = H5I_INVALID_HID;
  assert_int_equal(sr_h5_create(path, &f), SR_OK);
  limit_file_size();
  sr_status st = values_write(f, path, "/big", 1 << 20, &d); /* 4 MiB */
  unlimit_file_size();
  assert_int_equal(st, SR_EIO);
  assert_message_has("cannot write to the file: File too large");
  assert_message_has(path);
  sr_error_clear();
  sr_h5_close(&d);
  sr_h5_close(&f);
  assert_int_equal(unlink(path), 0);
}

/* The failure happens inside a quiet close (the chunk cache flushed by H5Dclose): nothing
 * reports it there, so the checked close and the commit must. */
static void test_swallowed_failure_is_not_published(void **state) {
  (void)state;
  char path[4096], tmp[4096];
  tmp_path(path, sizeof path, "kept.h5");
  assert_int_equal(sr_h5_tmp_path(path, tmp, sizeof tmp), SR_OK);
  FILE *old = fopen(path, "w");
  assert_non_null(old);
  fputs("the previous output", old);
  fclose(old);

  /* The checked close says so. */
  hid_t f = H5I_INVALID_HID, d = H5I_INVALID_HID;
  assert_int_equal(sr_h5_create(tmp, &f), SR_OK);
  assert_int_equal(values_write(f, tmp, "/cached", 100000, &d), SR_OK); /* in the cache */
  limit_file_size();
  sr_h5_close(&d); /* flushes the chunks: the write fails, quietly */
  sr_status st = sr_h5_file_close(&f, tmp);
  unlimit_file_size();
  assert_int_equal(st, SR_EIO);
  assert_message_has("cannot write to the file: File too large");
  sr_error_clear();
  sr_h5_tmp_discard(tmp);

  /* A plain H5Fclose succeeds (the driver dropped the rest), but the commit refuses. */
  f = d = H5I_INVALID_HID;
  assert_int_equal(sr_h5_create(tmp, &f), SR_OK);
  assert_int_equal(values_write(f, tmp, "/cached", 100000, &d), SR_OK);
  limit_file_size();
  sr_h5_close(&d);
  assert_true(H5Fclose(f) >= 0);
  unlimit_file_size();
  assert_int_equal(sr_h5_tmp_commit(tmp, path), SR_EIO);
  assert_message_has("cannot write to the file: File too large");
  assert_message_has("is left as it was");
  sr_error_clear();
  assert_false(file_exists(tmp));
  char text[64] = "";
  old = fopen(path, "r");
  assert_non_null(old);
  assert_non_null(fgets(text, sizeof text, old));
  fclose(old);
  assert_string_equal(text, "the previous output");
  unlink(path);
}

/* The events writer over the limit: commit fails, PATH.tmp is gone, PATH is untouched. */
static void test_events_writer_over_the_limit(void **state) {
  (void)state;
  enum { USERS = 2000, PER = 100, EVENTS = USERS * PER, ITEMS = 50 };
  char path[4096], tmp[4096];
  tmp_path(path, sizeof path, "events.h5");
  assert_int_equal(sr_h5_tmp_path(path, tmp, sizeof tmp), SR_OK);
  unlink(path);
  int64_t *lengths = calloc(USERS, sizeof *lengths), *times = calloc(EVENTS, sizeof *times);
  int32_t *items = calloc(EVENTS, sizeof *items);
  const char **users = calloc(USERS, sizeof *users);
  const char *item_ids[ITEMS + 1];
  char names[USERS][8], item_names[ITEMS + 1][8];
  assert_true(lengths && times && items && users);
  for (int u = 0; u < USERS; u++) {
    lengths[u] = PER;
    snprintf(names[u], sizeof names[u], "u%d", u);
    users[u] = names[u];
  }
  for (int e = 0; e < EVENTS; e++) items[e] = 1 + e % ITEMS, times[e] = e;
  for (int i = 0; i <= ITEMS; i++) {
    snprintf(item_names[i], sizeof item_names[i], "i%d", i);
    item_ids[i] = i ? item_names[i] : "";
  }
  sr_events_writer_opts o;
  memset(&o, 0, sizeof o);
  o.user_id_width = 6;
  sr_events_writer *w = NULL;
  limit_file_size();
  sr_status st = sr_events_writer_open(&w, path, &o);
  if (st == SR_OK) st = sr_events_writer_append_users(w, USERS, lengths, users, items, times, NULL);
  if (st == SR_OK) st = sr_events_writer_set_items(w, ITEMS, item_ids);
  if (st == SR_OK) {
    st = sr_events_writer_commit(w);
    w = NULL;
  }
  sr_events_writer_abort(w);
  unlimit_file_size();
  assert_int_equal(st, SR_EIO);
  assert_message_has("cannot write to the file: File too large");
  sr_error_clear();
  assert_false(file_exists(tmp));
  assert_false(file_exists(path));
  free(lengths), free(times), free(items), free(users);
}

int main(void) {
  sr_log_set_quiet(1);
  /* Past the limit, write(2) fails with EFBIG instead of the process being killed. */
  signal(SIGXFSZ, SIG_IGN);
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_failed_write_reports_and_closes),
      cmocka_unit_test(test_swallowed_failure_is_not_published),
      cmocka_unit_test(test_events_writer_over_the_limit),
  };
  int failed = cmocka_run_group_tests(tests, NULL, NULL);
  /* HDF5 1.10 crashes here, at shutdown, if any of the files above failed to close. */
  H5close();
  return failed;
}
