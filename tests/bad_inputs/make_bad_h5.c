/* make_bad_h5 DIR: writes the HDF5 cases of tests/bad_inputs/MANIFEST into DIR, each a good
 * events.h5 (written by the real writer) with exactly one thing broken by plain HDF5 calls: a
 * file cut short, a wrong type or shape, offsets that decrease, items out of range, and so on.
 * Not a test by itself: bad_inputs.sh runs seqrec on the files and checks the messages. */
#include <errno.h>
#include <hdf5.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "events/events.h"

enum { N_USERS = 6, N_ITEMS = 8, N_EVENTS = 17, DIM = 3 };

static const char *dir;

static void die(const char *what, const char *name) {
  fprintf(stderr, "make_bad_h5: %s: %s%s%s\n", name, what, errno ? ": " : "",
          errno ? strerror(errno) : "");
  exit(2);
}

static void path_of(const char *name, char *buf, size_t size) {
  snprintf(buf, size, "%s/%s", dir, name);
}

/* The good file: 6 users (user 2 with no events), 8 items, 17 events, two event types, content.
 * `empty`: the same users and items with no events at all; `source`: the source attribute. */
static void good_write(const char *name, int empty, const char *source) {
  static const int64_t lengths[N_USERS] = {3, 4, 0, 5, 2, 3};
  static const int64_t no_lengths[N_USERS] = {0};
  static const int32_t items[N_EVENTS] = {1, 2, 3, 2, 3, 4, 5, 6, 7, 8, 1, 2, 4, 5, 3, 6, 8};
  static const uint8_t types[N_EVENTS] = {0, 0, 1, 0, 1, 0, 0, 0, 1, 1, 0, 0, 0, 1, 0, 0, 1};
  int64_t times[N_EVENTS];
  for (int e = 0; e < N_EVENTS; e++) times[e] = 1700000000 + 60 * e;
  const char *users[N_USERS] = {"u0", "u1", "u2", "u3", "u4", "u5"};
  const char *item_ids[N_ITEMS + 1] = {"", "i1", "i2", "i3", "i4", "i5", "i6", "i7", "i8"};
  float content[(N_ITEMS + 1) * DIM];
  for (int i = 0; i < (N_ITEMS + 1) * DIM; i++) content[i] = (float)i / 10.0f;
  sr_events_writer_opts o;
  memset(&o, 0, sizeof o);
  o.n_event_types = 2;
  o.event_types[0] = "view";
  o.event_types[1] = "cart";
  o.user_id_width = 2;
  o.source = source;
  char path[4096];
  path_of(name, path, sizeof path);
  sr_events_writer *w = NULL;
  if (sr_events_writer_open(&w, path, &o) != SR_OK ||
      sr_events_writer_append_users(w, N_USERS, empty ? no_lengths : lengths, users, items,
                                    times, types) != SR_OK ||
      sr_events_writer_set_items(w, N_ITEMS, item_ids) != SR_OK ||
      sr_events_writer_set_content(w, N_ITEMS, DIM, content) != SR_OK ||
      sr_events_writer_commit(w) != SR_OK) {
    fprintf(stderr, "make_bad_h5: %s: %s\n", name, sr_error_message());
    exit(2);
  }
}

static hid_t open_rw(const char *name) {
  char path[4096];
  path_of(name, path, sizeof path);
  hid_t f = H5Fopen(path, H5F_ACC_RDWR, H5P_DEFAULT);
  if (f < 0) die("cannot open for writing", name);
  return f;
}

static void check(herr_t rc, const char *what, const char *name) {
  if (rc < 0) die(what, name);
}

/* One value of a 1-D dataset (or one float of a 2-D one), written in place. */
static void value_set(hid_t f, const char *name, const char *h5path, hid_t mem, hsize_t row,
                      hsize_t col, const void *value) {
  hid_t d = H5Dopen2(f, h5path, H5P_DEFAULT);
  if (d < 0) die(h5path, name);
  hid_t space = H5Dget_space(d);
  int rank = H5Sget_simple_extent_ndims(space);
  hsize_t start[2] = {row, col}, count[2] = {1, 1};
  check(H5Sselect_hyperslab(space, H5S_SELECT_SET, start, NULL, count, NULL), "select", name);
  hid_t m = H5Screate_simple(rank, count, NULL);
  check(H5Dwrite(d, mem, m, space, H5P_DEFAULT, value), "write", name);
  H5Sclose(m);
  H5Sclose(space);
  H5Dclose(d);
}

static void i64_set(hid_t f, const char *name, const char *h5path, hsize_t row, int64_t v) {
  value_set(f, name, h5path, H5T_NATIVE_INT64, row, 0, &v);
}

static void i32_set(hid_t f, const char *name, const char *h5path, hsize_t row, int32_t v) {
  value_set(f, name, h5path, H5T_NATIVE_INT32, row, 0, &v);
}

/* Replaces a dataset by one of another type or shape (values: `rows` * `cols` of mem type, or
 * NULL for the fill value). rank 0 is a scalar. */
static void dataset_replace(hid_t f, const char *name, const char *h5path, hid_t type, int rank,
                            hsize_t rows, hsize_t cols, hid_t mem, const void *values) {
  if (H5Lexists(f, h5path, H5P_DEFAULT) > 0)
    check(H5Ldelete(f, h5path, H5P_DEFAULT), "delete", name);
  hsize_t dims[2] = {rows, cols};
  hid_t space = rank == 0 ? H5Screate(H5S_SCALAR) : H5Screate_simple(rank, dims, NULL);
  hid_t d = H5Dcreate2(f, h5path, type, space, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
  if (d < 0) die(h5path, name);
  if (values) check(H5Dwrite(d, mem, H5S_ALL, H5S_ALL, H5P_DEFAULT, values), "write", name);
  H5Dclose(d);
  H5Sclose(space);
}

static void attr_replace_str(hid_t obj, const char *name, const char *attr, const char *value) {
  if (H5Aexists(obj, attr) > 0) check(H5Adelete(obj, attr), "delete attribute", name);
  hid_t type = H5Tcopy(H5T_C_S1);
  H5Tset_size(type, strlen(value) + 1);
  hid_t space = H5Screate(H5S_SCALAR);
  hid_t a = H5Acreate2(obj, attr, type, space, H5P_DEFAULT, H5P_DEFAULT);
  if (a < 0) die(attr, name);
  check(H5Awrite(a, type, value), "write attribute", name);
  H5Aclose(a);
  H5Sclose(space);
  H5Tclose(type);
}

static void attr_replace_i64(hid_t obj, const char *name, const char *attr, int64_t value) {
  if (H5Aexists(obj, attr) > 0) check(H5Adelete(obj, attr), "delete attribute", name);
  hid_t space = H5Screate(H5S_SCALAR);
  hid_t a = H5Acreate2(obj, attr, H5T_STD_I64LE, space, H5P_DEFAULT, H5P_DEFAULT);
  if (a < 0) die(attr, name);
  check(H5Awrite(a, H5T_NATIVE_INT64, &value), "write attribute", name);
  H5Aclose(a);
  H5Sclose(space);
}

/* Bytes of a file: cut to `keep` (or replaced by `text` when it is not NULL). */
static void file_bytes(const char *name, long keep, const char *text, size_t text_len) {
  char good[4096], path[4096];
  path_of("good.h5", good, sizeof good);
  path_of(name, path, sizeof path);
  FILE *in = fopen(good, "rb"), *out = fopen(path, "wb");
  if (!in || !out) die("cannot copy good.h5", name);
  if (text) {
    if (text_len && fwrite(text, 1, text_len, out) != text_len) die("write", name);
  } else {
    for (long i = 0; i < keep; i++) {
      int c = fgetc(in);
      if (c == EOF) break;
      fputc(c, out);
    }
  }
  fclose(in);
  if (fclose(out) != 0) die("write", name);
}

static void copy_good(const char *name) {
  char good[4096];
  path_of("good.h5", good, sizeof good);
  FILE *in = fopen(good, "rb");
  if (!in) die("cannot open good.h5", name);
  fseek(in, 0, SEEK_END);
  long size = ftell(in);
  fclose(in);
  file_bytes(name, size, NULL, 0);
}

typedef void (*break_fn)(hid_t f, const char *name);

static void no_format(hid_t f, const char *n) { check(H5Adelete(f, "format"), "delete", n); }
static void wrong_format(hid_t f, const char *n) { attr_replace_str(f, n, "format", "netcdf4"); }
static void format_int(hid_t f, const char *n) { attr_replace_i64(f, n, "format", 7); }
static void newer_version(hid_t f, const char *n) { attr_replace_i64(f, n, "version", 2); }
static void no_version(hid_t f, const char *n) { check(H5Adelete(f, "version"), "delete", n); }

static void item_float64(hid_t f, const char *n) {
  double v[N_EVENTS];
  for (int e = 0; e < N_EVENTS; e++) v[e] = 1.0;
  dataset_replace(f, n, "/events/item", H5T_IEEE_F64LE, 1, N_EVENTS, 0, H5T_NATIVE_DOUBLE, v);
}
static void offset_int32(hid_t f, const char *n) {
  int32_t v[N_USERS + 1] = {0, 3, 7, 7, 12, 14, 17};
  dataset_replace(f, n, "/users/offset", H5T_STD_I32LE, 1, N_USERS + 1, 0, H5T_NATIVE_INT32, v);
}
static void offset_2d(hid_t f, const char *n) {
  dataset_replace(f, n, "/users/offset", H5T_STD_I64LE, 2, N_USERS + 1, 2, H5T_NATIVE_INT64, NULL);
}
static void offset_empty(hid_t f, const char *n) {
  dataset_replace(f, n, "/users/offset", H5T_STD_I64LE, 1, 0, 0, H5T_NATIVE_INT64, NULL);
}
static void item_scalar(hid_t f, const char *n) {
  int32_t v = 1;
  dataset_replace(f, n, "/events/item", H5T_STD_I32LE, 0, 1, 0, H5T_NATIVE_INT32, &v);
}
static void item_group(hid_t f, const char *n) {
  check(H5Ldelete(f, "/events/item", H5P_DEFAULT), "delete", n);
  hid_t g = H5Gcreate2(f, "/events/item", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
  if (g < 0) die("group", n);
  H5Gclose(g);
}
static void time_short(hid_t f, const char *n) {
  int64_t v[N_EVENTS - 1];
  for (int e = 0; e < N_EVENTS - 1; e++) v[e] = 1700000000 + 60 * e;
  dataset_replace(f, n, "/events/time", H5T_STD_I64LE, 1, N_EVENTS - 1, 0, H5T_NATIVE_INT64, v);
}
static void offset_decreasing(hid_t f, const char *n) { i64_set(f, n, "/users/offset", 4, 5); }
static void offset_first(hid_t f, const char *n) { i64_set(f, n, "/users/offset", 0, 1); }
static void offset_last(hid_t f, const char *n) { i64_set(f, n, "/users/offset", 6, 20); }
static void offset_negative(hid_t f, const char *n) {
  i64_set(f, n, "/users/offset", 1, -3);
}
static void offset_huge(hid_t f, const char *n) {
  i64_set(f, n, "/users/offset", 5, INT64_MAX);
}
static void item_zero(hid_t f, const char *n) { i32_set(f, n, "/events/item", 5, 0); }
static void item_too_big(hid_t f, const char *n) { i32_set(f, n, "/events/item", 16, 9); }
static void item_negative(hid_t f, const char *n) {
  i32_set(f, n, "/events/item", 0, INT32_MIN);
}
static void time_unsorted(hid_t f, const char *n) {
  i64_set(f, n, "/events/time", 8, 1600000000);
}
static void type_unknown(hid_t f, const char *n) {
  uint8_t v = 7;
  value_set(f, n, "/events/type", H5T_NATIVE_UINT8, 3, 0, &v);
}
static void types_no_names(hid_t f, const char *n) {
  hid_t d = H5Dopen2(f, "/events/type", H5P_DEFAULT);
  check(H5Adelete(d, "event_types"), "delete", n);
  H5Dclose(d);
}
static void types_too_many(hid_t f, const char *n) {
  hid_t d = H5Dopen2(f, "/events/type", H5P_DEFAULT);
  check(H5Adelete(d, "event_types"), "delete", n);
  char names[40][8];
  for (int t = 0; t < 40; t++) snprintf(names[t], sizeof names[t], "t%d", t);
  hid_t type = H5Tcopy(H5T_C_S1);
  H5Tset_size(type, 8);
  hsize_t dims[1] = {40};
  hid_t space = H5Screate_simple(1, dims, NULL);
  hid_t a = H5Acreate2(d, "event_types", type, space, H5P_DEFAULT, H5P_DEFAULT);
  check(H5Awrite(a, type, names), "write", n);
  H5Aclose(a);
  H5Sclose(space);
  H5Tclose(type);
  H5Dclose(d);
}
static void items_missing(hid_t f, const char *n) {
  check(H5Ldelete(f, "/items/raw_id", H5P_DEFAULT), "delete", n);
}
static void items_vlen(hid_t f, const char *n) {
  const char *v[N_ITEMS + 1] = {"", "a", "b", "c", "d", "e", "f", "g", "h"};
  hid_t type = H5Tcopy(H5T_C_S1);
  H5Tset_size(type, H5T_VARIABLE);
  dataset_replace(f, n, "/items/raw_id", type, 1, N_ITEMS + 1, 0, type, v);
  H5Tclose(type);
}
static void users_rows(hid_t f, const char *n) {
  char v[N_USERS - 1][2] = {"a", "b", "c", "d", "e"};
  hid_t type = H5Tcopy(H5T_C_S1);
  H5Tset_size(type, 2);
  dataset_replace(f, n, "/users/raw_id", type, 1, N_USERS - 1, 0, type, v);
  H5Tclose(type);
}
static void content_nan(hid_t f, const char *n) {
  float v = 0.0f / 0.0f;
  value_set(f, n, "/items/content", H5T_NATIVE_FLOAT, 4, 1, &v);
}
static void content_shape(hid_t f, const char *n) {
  dataset_replace(f, n, "/items/content", H5T_IEEE_F32LE, 2, N_ITEMS, DIM, H5T_NATIVE_FLOAT, NULL);
}
static void fingerprint_changed(hid_t f, const char *n) {
  i32_set(f, n, "/events/item", 2, 4); /* still in range: only the fingerprint tells */
}
static void count_wrong(hid_t f, const char *n) { attr_replace_i64(f, n, "n_users", 99); }

typedef struct {
  const char *name;
  break_fn fn;
} h5_case;

static const h5_case cases[] = {
    {"no_format.h5", no_format},
    {"wrong_format.h5", wrong_format},
    {"format_int.h5", format_int},
    {"newer_version.h5", newer_version},
    {"no_version.h5", no_version},
    {"item_float64.h5", item_float64},
    {"offset_int32.h5", offset_int32},
    {"offset_2d.h5", offset_2d},
    {"offset_empty.h5", offset_empty},
    {"item_scalar.h5", item_scalar},
    {"item_group.h5", item_group},
    {"time_short.h5", time_short},
    {"offset_decreasing.h5", offset_decreasing},
    {"offset_first.h5", offset_first},
    {"offset_last.h5", offset_last},
    {"offset_negative.h5", offset_negative},
    {"offset_huge.h5", offset_huge},
    {"item_zero.h5", item_zero},
    {"item_too_big.h5", item_too_big},
    {"item_negative.h5", item_negative},
    {"time_unsorted.h5", time_unsorted},
    {"type_unknown.h5", type_unknown},
    {"types_no_names.h5", types_no_names},
    {"types_too_many.h5", types_too_many},
    {"items_missing.h5", items_missing},
    {"items_vlen.h5", items_vlen},
    {"users_rows.h5", users_rows},
    {"content_nan.h5", content_nan},
    {"content_shape.h5", content_shape},
    {"fingerprint_changed.h5", fingerprint_changed},
    {"count_wrong.h5", count_wrong},
};

int main(int argc, char **argv) {
  if (argc != 2) {
    fprintf(stderr, "usage: make_bad_h5 DIR\n");
    return 2;
  }
  dir = argv[1];
  H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
  const char *source = "tests/bad_inputs/make_bad_h5.c";
  good_write("good.h5", 0, source);
  good_write("no_events.h5", 1, source);
  /* As an import of many files writes it (info once refused these). */
  static char long_source[3000];
  memset(long_source, 'x', sizeof long_source - 1);
  good_write("long_source.h5", 0, long_source);
  /* Whole-file damage: cut short, nothing, text, the signature followed by zeros. */
  char good[4096];
  path_of("good.h5", good, sizeof good);
  FILE *g = fopen(good, "rb");
  if (!g) die("cannot open", "good.h5");
  fseek(g, 0, SEEK_END);
  long size = ftell(g);
  fclose(g);
  file_bytes("truncated.h5", size / 2, NULL, 0);
  file_bytes("empty.h5", 0, "", 0);
  static const char csv[] = "user,item,time\n1,2,3\n";
  file_bytes("text.h5", 0, csv, sizeof csv - 1);
  static char zeros[2048];
  memcpy(zeros, "\211HDF\r\n\032\n", 8);
  file_bytes("signature_only.h5", 0, zeros, sizeof zeros);
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    copy_good(cases[i].name);
    hid_t f = open_rw(cases[i].name);
    cases[i].fn(f, cases[i].name);
    check(H5Fclose(f), "close", cases[i].name);
  }
  printf("make_bad_h5: %zu files in %s\n", sizeof cases / sizeof cases[0] + 7, dir);
  return 0;
}
