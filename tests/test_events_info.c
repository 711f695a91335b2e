/* `seqrec info` and sr_events_check on broken files: each file is built here with plain HDF5
 * calls (not our writer), broken in one way, and the error must carry the right status and a
 * message naming the file and the HDF5 path (with the index where there is one). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>
#include <hdf5.h>
#include <math.h>

#include "core/log.h"
#include "events/cli.h"
#include "events/events.h"
#include "events/h5util.h"

typedef enum {
  GOOD,
  NO_FORMAT,
  UNKNOWN_FORMAT,
  CHECKPOINT_FORMAT,
  RECS_FORMAT,
  VERSION_2,
  NO_TIME,
  NO_USERS,
  ITEM_FLOAT,
  ITEM_2D,
  TIME_SHORT,
  OFFSET_DECREASING,
  OFFSET_END,
  OFFSET_START,
  ITEM_ZERO,
  ITEM_TOO_BIG,
  TIME_UNSORTED,
  TYPE_UNKNOWN,
  CONTENT_NAN,
  CONTENT_SHAPE,
  USER_IDS_SHAPE,
  ITEM_IDS_VLEN,
  N_USERS_WRONG,
  FINGERPRINT_WRONG,
} breakage;

static const struct {
  breakage b;
  const char *name;
  sr_status status;
  const char *where; /* must appear in the message */
} cases[] = {
    {NO_FORMAT, "no_format", SR_EFORMAT, ": /: no 'format'"},
    {UNKNOWN_FORMAT, "unknown_format", SR_EFORMAT, ": /: attribute 'format' is 'something-else'"},
    {CHECKPOINT_FORMAT, "checkpoint", SR_ENOTBUILT, "seqrec-checkpoint"},
    {RECS_FORMAT, "recs", SR_ENOTBUILT, "seqrec-recs"},
    {VERSION_2, "version_2", SR_EFORMAT, ": /: attribute 'version' is 2"},
    {NO_TIME, "no_time", SR_EFORMAT, "/events/time: missing dataset"},
    {NO_USERS, "no_users", SR_EFORMAT, "/users/offset: missing dataset"},
    {ITEM_FLOAT, "item_float", SR_EFORMAT, "/events/item: type is float32, expected int32"},
    {ITEM_2D, "item_2d", SR_EFORMAT, "/events/item: 2 dimensions, expected 1"},
    {TIME_SHORT, "time_short", SR_EFORMAT, "/events/time has 7 events"},
    {OFFSET_DECREASING, "offset_decreasing", SR_EFORMAT, "/users/offset[3] = 4 < /users/offset[2]"},
    {OFFSET_END, "offset_end", SR_EFORMAT, "/users/offset[4] = 7"},
    {OFFSET_START, "offset_start", SR_EFORMAT, "/users/offset[0] = 1"},
    {ITEM_ZERO, "item_zero", SR_EFORMAT, "/events/item[6] = 0"},
    {ITEM_TOO_BIG, "item_too_big", SR_EFORMAT, "/events/item[2] = 6"},
    {TIME_UNSORTED, "time_unsorted", SR_EFORMAT, "/events/time[3] = 4"},
    {TYPE_UNKNOWN, "type_unknown", SR_EFORMAT, "/events/type[4] = 2"},
    {CONTENT_NAN, "content_nan", SR_EFORMAT, "/items/content[3, 1]"},
    {CONTENT_SHAPE, "content_shape", SR_EFORMAT, "/items/content has shape [5, 2]"},
    {USER_IDS_SHAPE, "user_ids_shape", SR_EFORMAT, "/users/raw_id has 3 rows"},
    {ITEM_IDS_VLEN, "item_ids_vlen", SR_EFORMAT, "/items/raw_id: type is variable-length string"},
    {N_USERS_WRONG, "n_users_wrong", SR_EFORMAT, ": /: attribute 'n_users' is 5"},
    {FINGERPRINT_WRONG, "fingerprint_wrong", SR_EFORMAT, "attribute 'fingerprint'"},
};

static void put(hid_t file, const char *path, hid_t type, int rank, const hsize_t *dims,
                const void *data) {
  hid_t lcpl = H5Pcreate(H5P_LINK_CREATE);
  H5Pset_create_intermediate_group(lcpl, 1);
  hid_t space = H5Screate_simple(rank, dims, NULL);
  hid_t d = H5Dcreate2(file, path, type, space, lcpl, H5P_DEFAULT, H5P_DEFAULT);
  assert_true(d >= 0);
  assert_true(H5Dwrite(d, type, H5S_ALL, H5S_ALL, H5P_DEFAULT, data) >= 0);
  H5Dclose(d);
  H5Sclose(space);
  H5Pclose(lcpl);
}

static hid_t fixed_string(size_t width) {
  hid_t t = H5Tcopy(H5T_C_S1);
  H5Tset_size(t, width);
  H5Tset_strpad(t, H5T_STR_NULLPAD);
  return t;
}

/* 4 users with 2, 3, 0 and 3 events over 5 items, with types and 2-dim content; then one
 * thing broken. */
static void build(const char *path, breakage b) {
  int64_t offset[5] = {0, 2, 5, 5, 8};
  int32_t item[8] = {1, 2, 3, 4, 5, 1, 2, 3};
  int64_t time[8] = {10, 20, 5, 6, 7, 1, 2, 3};
  uint8_t type[8] = {0, 1, 0, 0, 1, 0, 0, 0};
  float content[6 * 2] = {0, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10};
  const char users[4][1] = {{'a'}, {'b'}, {'c'}, {'d'}};
  const char items[6][2] = {{0, 0}, {'i', '1'}, {'i', '2'}, {'i', '3'}, {'i', '4'}, {'i', '5'}};
  if (b == OFFSET_DECREASING) offset[3] = 4;
  if (b == OFFSET_END) offset[4] = 7;
  if (b == OFFSET_START) offset[0] = 1;
  if (b == ITEM_ZERO) item[6] = 0;
  if (b == ITEM_TOO_BIG) item[2] = 6;
  if (b == TIME_UNSORTED) time[3] = 4;
  if (b == TYPE_UNKNOWN) type[4] = 2;
  if (b == CONTENT_NAN) content[3 * 2 + 1] = NAN;

  hid_t f = H5Fcreate(path, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
  assert_true(f >= 0);
  hsize_t n = 8, u1 = 5, u = 4, i1 = 6, two[2] = {8, 1}, content_dims[2] = {6, 2};
  if (b != NO_USERS) put(f, "/users/offset", H5T_NATIVE_INT64, 1, &u1, offset);
  if (b == ITEM_FLOAT) {
    float fitem[8] = {1, 2, 3, 4, 5, 1, 2, 3};
    put(f, "/events/item", H5T_NATIVE_FLOAT, 1, &n, fitem);
  } else if (b == ITEM_2D) {
    put(f, "/events/item", H5T_NATIVE_INT32, 2, two, item);
  } else {
    put(f, "/events/item", H5T_NATIVE_INT32, 1, &n, item);
  }
  hsize_t n_time = b == TIME_SHORT ? 7 : 8;
  if (b != NO_TIME) put(f, "/events/time", H5T_NATIVE_INT64, 1, &n_time, time);
  put(f, "/events/type", H5T_NATIVE_UINT8, 1, &n, type);
  {
    hid_t d = H5Dopen2(f, "/events/type", H5P_DEFAULT);
    hid_t t = fixed_string(5);
    hsize_t n_names = 2;
    hid_t space = H5Screate_simple(1, &n_names, NULL);
    hid_t a = H5Acreate2(d, "event_types", t, space, H5P_DEFAULT, H5P_DEFAULT);
    H5Awrite(a, t, "view\0buy\0\0");
    H5Aclose(a);
    H5Sclose(space);
    H5Tclose(t);
    H5Dclose(d);
  }
  hid_t t1 = fixed_string(1), t2 = fixed_string(2);
  hsize_t n_user_ids = b == USER_IDS_SHAPE ? 3 : u;
  put(f, "/users/raw_id", t1, 1, &n_user_ids, users);
  if (b == ITEM_IDS_VLEN) {
    hid_t vs = H5Tcopy(H5T_C_S1);
    H5Tset_size(vs, H5T_VARIABLE);
    const char *ids[6] = {"", "i1", "i2", "i3", "i4", "i5"};
    put(f, "/items/raw_id", vs, 1, &i1, ids);
    H5Tclose(vs);
  } else {
    put(f, "/items/raw_id", t2, 1, &i1, items);
  }
  if (b == CONTENT_SHAPE) content_dims[0] = 5;
  put(f, "/items/content", H5T_NATIVE_FLOAT, 2, content_dims, content);
  H5Tclose(t1);
  H5Tclose(t2);

  const char *format = "seqrec-events";
  if (b == UNKNOWN_FORMAT) format = "something-else";
  if (b == CHECKPOINT_FORMAT) format = "seqrec-checkpoint";
  if (b == RECS_FORMAT) format = "seqrec-recs";
  if (b != NO_FORMAT) assert_int_equal(sr_h5_attr_write_str(f, path, "/", "format", format), SR_OK);
  assert_int_equal(sr_h5_attr_write_i64(f, path, "/", "version", b == VERSION_2 ? 2 : 1), SR_OK);
  if (b == N_USERS_WRONG) assert_int_equal(sr_h5_attr_write_i64(f, path, "/", "n_users", 5), SR_OK);
  if (b == FINGERPRINT_WRONG)
    assert_int_equal(sr_h5_attr_write_str(f, path, "/", "fingerprint", "0123456789abcdef"), SR_OK);
  H5Fclose(f);
}

static void case_path(char *buf, size_t size, const char *name) {
  mkdir(SEQREC_TEST_TMP, 0777);
  snprintf(buf, size, "%s/test_events_info_%s.h5", SEQREC_TEST_TMP, name);
}

static sr_status run_info(const char *path) {
  sr_comm alone;
  memset(&alone, 0, sizeof alone);
  alone.rank = 0;
  alone.size = 1;
  char cmd[] = "info";
  char *argv[2] = {cmd, (char *)path};
  return events_info_main(&alone, 2, argv);
}

static void expect_failure(sr_status got, sr_status want, const char *path, const char *where) {
  const char *msg = sr_error_message();
  if (got != want)
    fail_msg("%s: status %s, expected %s (message: %s)", path, sr_status_name(got),
             sr_status_name(want), msg);
  if (!strstr(msg, path)) fail_msg("message does not name the file: %s", msg);
  if (!strstr(msg, where)) fail_msg("message does not contain '%s': %s", where, msg);
  if (strstr(msg, "HDF5-DIAG")) fail_msg("library noise in the message: %s", msg);
  print_message("%s: %s\n", sr_status_name(got), msg);
}

static void test_good_file_passes(void **state) {
  (void)state;
  char path[512];
  case_path(path, sizeof path, "good");
  build(path, GOOD);
  sr_error_clear();
  assert_int_equal(sr_events_check(path), SR_OK);
  assert_int_equal(run_info(path), SR_OK);
  sr_events_summary s;
  assert_int_equal(sr_events_check_summary(path, &s), SR_OK);
  assert_int_equal(s.n_users, 4);
  assert_int_equal(s.n_items, 5);
  assert_int_equal(s.n_events, 8);
  assert_int_equal(s.type_counts[0], 6);
  assert_int_equal(s.type_counts[1], 2);
  assert_string_equal(s.event_types[1], "buy");
  assert_int_equal(s.content_dim, 2);
  assert_false(s.has_fingerprint); /* made by "another tool": no fingerprint stored */
  unlink(path);
}

static void test_broken_files(void **state) {
  (void)state;
  for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
    char path[512];
    case_path(path, sizeof path, cases[k].name);
    build(path, cases[k].b);
    sr_error_clear();
    expect_failure(run_info(path), cases[k].status, path, cases[k].where);
    /* The check alone says the same about the events files. */
    if (cases[k].status == SR_EFORMAT && cases[k].b != NO_FORMAT && cases[k].b != UNKNOWN_FORMAT) {
      sr_error_clear();
      expect_failure(sr_events_check(path), SR_EFORMAT, path, cases[k].where);
    }
    sr_error_clear();
    unlink(path);
  }
}

/* The shard reader refuses the broken offsets and items too. */
static void test_reader_refuses_broken_files(void **state) {
  (void)state;
  const breakage reader_cases[] = {OFFSET_DECREASING, OFFSET_END, ITEM_ZERO, ITEM_TOO_BIG,
                                   NO_TIME, ITEM_FLOAT};
  for (size_t k = 0; k < sizeof reader_cases / sizeof reader_cases[0]; k++) {
    size_t c = 0;
    while (cases[c].b != reader_cases[k]) c++;
    char path[512];
    case_path(path, sizeof path, cases[c].name);
    build(path, cases[c].b);
    sr_events_shard shard;
    sr_error_clear();
    expect_failure(sr_events_shard_read(path, 0, 1, &shard), SR_EFORMAT, path, cases[c].where);
    assert_null(shard.item);
    sr_events_shard_free(&shard);
    sr_error_clear();
    unlink(path);
  }
}

static void test_missing_and_foreign_files(void **state) {
  (void)state;
  char path[512];
  case_path(path, sizeof path, "does_not_exist");
  unlink(path);
  sr_error_clear();
  expect_failure(run_info(path), SR_EIO, path, "No such file");
  sr_error_clear();
  expect_failure(sr_events_check(path), SR_EIO, path, "No such file");

  case_path(path, sizeof path, "text");
  FILE *f = fopen(path, "w");
  assert_non_null(f);
  fputs("user,item,time\n1,2,3\n", f);
  fclose(f);
  sr_error_clear();
  expect_failure(run_info(path), SR_EFORMAT, path, "not an HDF5 file");
  unlink(path);

  /* An HDF5 file cut short (as by a crash mid-copy). */
  case_path(path, sizeof path, "cut");
  build(path, GOOD);
  assert_int_equal(truncate(path, 1000), 0);
  sr_error_clear();
  sr_status st = run_info(path);
  assert_true(st == SR_EFORMAT || st == SR_EIO);
  expect_failure(st, st, path, path);
  unlink(path);

  sr_error_clear();
  char cmd[] = "info";
  char *argv[1] = {cmd};
  sr_comm alone = {.rank = 0, .size = 1};
  assert_int_equal(events_info_main(&alone, 1, argv), SR_EINVAL);
  sr_error_clear();
}

int main(void) {
  sr_log_set_quiet(1);
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_good_file_passes),
      cmocka_unit_test(test_broken_files),
      cmocka_unit_test(test_reader_refuses_broken_files),
      cmocka_unit_test(test_missing_and_foreign_files),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
