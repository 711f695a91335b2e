/* libFuzzer harness for the events.h5 reader and checker: the input describes a small file (its
 * users, items and events, then which datasets and attributes are missing, of another type or
 * shape, or hold wrong values), the harness writes it with plain HDF5 calls and runs
 * sr_events_check_summary, sr_events_shard_read for every rank of 1 to 4, sr_events_read_raw_ids
 * and `seqrec info`. Whatever the checker passes, the reader must read without a complaint, and
 * every refusal must be the user's (a format error naming the file). Bytes are not flipped in the
 * file itself: that fuzzes libhdf5's own parser, not ours. All-zero input is a valid empty file.
 * Input bytes, in order: ranks; 7 dataset layouts; 6 attribute forms; counts and the data;
 * wrong values (see file_build). */
#include <hdf5.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "comm/comm.h"
#include "core/arena.h"
#include "events/cli.h"
#include "events/events.h"
#include "events/fingerprint.h"
#include "fuzz/fuzz_common.h"

enum { MAX_USERS = 24, MAX_LEN = 12, MAX_EVENTS = MAX_USERS * MAX_LEN, MAX_ITEMS = 40 };

/* Reads the input as a stream; past its end every value is 0 (the "as it should be" choice). */
typedef struct {
  const uint8_t *p;
  size_t n;
} stream;

static uint8_t take(stream *s) {
  if (s->n == 0) return 0;
  s->n--;
  return *s->p++;
}

static uint64_t take64(stream *s) {
  uint64_t v = 0;
  for (int i = 0; i < 8; i++) v = v << 8 | take(s);
  return v;
}

/* How a dataset is stored: as it should be, or one way of getting it wrong. */
typedef enum {
  AS_IS,         /* right type, shape and length */
  MISSING,       /* not there (for /events/type and /items/content: there, when not expected) */
  OTHER_TYPE,    /* a type from other_types */
  OTHER_RANK,    /* 0 or 2 dimensions (/items/content: 1 or 3) */
  OTHER_LENGTH,  /* rows added or removed */
  GROUP,         /* a group of that name */
  CHUNKED,       /* right, but chunked (and sometimes compressed): another read path */
  AS_IS_TOO,
  N_LAYOUTS
} layout;

typedef struct {
  layout how;
  uint8_t arg;
} dataset_spec;

/* What a wrong type can be: widths, signs, byte order, floats, strings. */
static hid_t other_type(uint8_t k) {
  switch (k % 12) {
    case 0: return H5Tcopy(H5T_STD_I8LE);
    case 1: return H5Tcopy(H5T_STD_I16LE);
    case 2: return H5Tcopy(H5T_STD_I32LE);
    case 3: return H5Tcopy(H5T_STD_I64LE);
    case 4: return H5Tcopy(H5T_STD_U8LE);
    case 5: return H5Tcopy(H5T_STD_U32LE);
    case 6: return H5Tcopy(H5T_STD_U64LE);
    case 7: return H5Tcopy(H5T_STD_I32BE);
    case 8: return H5Tcopy(H5T_IEEE_F32LE);
    case 9: return H5Tcopy(H5T_IEEE_F64LE);
    case 10: {
      hid_t t = H5Tcopy(H5T_C_S1);
      H5Tset_size(t, 1 + k / 12 % 8);
      return t;
    }
    default: {
      hid_t t = H5Tcopy(H5T_C_S1);
      H5Tset_size(t, H5T_VARIABLE);
      return t;
    }
  }
}

/* Writes `n` rows of `width` columns (0: 1-D) of mem_type values at h5path, stored as `spec`
 * says with `file_type` when it is as it should be. Errors here are the harness's own (a type
 * HDF5 cannot convert leaves the dataset at its fill value, which is fine). */
static void dataset_write(hid_t file, const char *h5path, const dataset_spec *spec,
                          hid_t file_type, hid_t mem_type, int64_t n, int64_t width,
                          const void *values) {
  if (spec->how == MISSING) return;
  hid_t lcpl = H5Pcreate(H5P_LINK_CREATE);
  H5Pset_create_intermediate_group(lcpl, 1);
  if (spec->how == GROUP) {
    hid_t g = H5Gcreate2(file, h5path, lcpl, H5P_DEFAULT, H5P_DEFAULT);
    H5Gclose(g);
    H5Pclose(lcpl);
    return;
  }
  int rank = width > 0 ? 2 : 1;
  hsize_t dims[3] = {(hsize_t)n, (hsize_t)width, 1};
  if (spec->how == OTHER_RANK) {
    rank = spec->arg & 1 ? (width > 0 ? 1 : 0) : (width > 0 ? 3 : 2);
    if (rank == 2 && width == 0) dims[1] = 1 + spec->arg / 2 % 3;
  }
  if (spec->how == OTHER_LENGTH) {
    int64_t delta = (int8_t)spec->arg;
    dims[0] = n + delta < 0 ? 0 : (hsize_t)(n + delta);
  }
  hid_t type = spec->how == OTHER_TYPE ? other_type(spec->arg) : H5Tcopy(file_type);
  hid_t space = rank == 0 ? H5Screate(H5S_SCALAR) : H5Screate_simple(rank, dims, NULL);
  hid_t dcpl = H5Pcreate(H5P_DATASET_CREATE);
  if (spec->how == CHUNKED && rank > 0) {
    hsize_t chunk[3] = {1 + spec->arg % 7, dims[1] > 0 ? dims[1] : 1, 1};
    H5Pset_chunk(dcpl, rank, chunk);
    if (spec->arg & 0x80) H5Pset_deflate(dcpl, 1);
  }
  hid_t d = H5Dcreate2(file, h5path, type, space, lcpl, dcpl, H5P_DEFAULT);
  /* Write what fits: the common rows of the values and the stored shape. */
  int64_t rows = (int64_t)dims[0] < n ? (int64_t)dims[0] : n;
  if (d >= 0 && values && rows > 0 && rank >= 1 && rank <= 2 &&
      (rank == 2) == (width > 0) && (rank == 1 || dims[1] == (hsize_t)width)) {
    hid_t fs = H5Dget_space(d);
    hsize_t start[2] = {0, 0}, count[2] = {(hsize_t)rows, (hsize_t)width};
    H5Sselect_hyperslab(fs, H5S_SELECT_SET, start, NULL, count, NULL);
    hid_t ms = H5Screate_simple(rank, count, NULL);
    H5Dwrite(d, mem_type, ms, fs, H5P_DEFAULT, values);
    H5Sclose(ms);
    H5Sclose(fs);
  } else if (d >= 0 && values && rank == 0 && n > 0) {
    H5Dwrite(d, mem_type, H5S_ALL, H5S_ALL, H5P_DEFAULT, values);
  }
  if (d >= 0) H5Dclose(d);
  H5Pclose(dcpl);
  H5Sclose(space);
  H5Tclose(type);
  H5Pclose(lcpl);
}

/* Strings as a fixed-width block (1 + arg % 8 bytes when the spec is CHUNKED: any width). */
static void strings_write(hid_t file, const char *h5path, const dataset_spec *spec, int64_t n,
                          const char *prefix, int64_t first) {
  size_t width = 8;
  char *block = calloc((size_t)(n > 0 ? n : 1), width);
  for (int64_t i = 0; i < n; i++)
    snprintf(block + (size_t)i * width, width, "%s%lld", first + i == 0 ? "" : prefix,
             (long long)(first + i));
  if (first == 0 && n > 0) block[0] = '\0'; /* row 0 of /items/raw_id: padding */
  hid_t type = H5Tcopy(H5T_C_S1);
  H5Tset_size(type, width);
  dataset_write(file, h5path, spec, type, type, n, 0, block);
  H5Tclose(type);
  free(block);
}

/* An attribute of a chosen form: 0 absent; else a string, an integer, a float or an array. */
static void attr_write(hid_t obj, const char *name, uint8_t form, const char *text, int64_t value) {
  if (form == 0) return;
  hid_t type, space;
  hsize_t two = 2;
  const void *buf = NULL;
  char *strings = NULL;
  double d = (double)value;
  int64_t pair[2] = {value, value};
  const char *vlen = text;
  switch (form % 6) {
    case 1: /* fixed-length string */
      type = H5Tcopy(H5T_C_S1);
      H5Tset_size(type, strlen(text) + 1);
      space = H5Screate(H5S_SCALAR);
      buf = text;
      break;
    case 2: /* variable-length string */
      type = H5Tcopy(H5T_C_S1);
      H5Tset_size(type, H5T_VARIABLE);
      space = H5Screate(H5S_SCALAR);
      buf = &vlen;
      break;
    case 3:
      type = H5Tcopy(H5T_STD_I64LE);
      space = H5Screate(H5S_SCALAR);
      buf = &value;
      break;
    case 4:
      type = H5Tcopy(H5T_IEEE_F64LE);
      space = H5Screate(H5S_SCALAR);
      buf = &d;
      break;
    case 5: /* two strings */
      type = H5Tcopy(H5T_C_S1);
      H5Tset_size(type, strlen(text) + 1);
      space = H5Screate_simple(1, &two, NULL);
      strings = calloc(2, strlen(text) + 1);
      memcpy(strings, text, strlen(text));
      memcpy(strings + strlen(text) + 1, text, strlen(text));
      buf = strings;
      break;
    default: /* two integers */
      type = H5Tcopy(H5T_STD_I64LE);
      space = H5Screate_simple(1, &two, NULL);
      buf = pair;
      break;
  }
  hid_t a = H5Acreate2(obj, name, type, space, H5P_DEFAULT, H5P_DEFAULT);
  if (a >= 0) {
    hid_t mem = H5Tget_class(type) == H5T_INTEGER ? H5T_NATIVE_INT64
                : H5Tget_class(type) == H5T_FLOAT ? H5T_NATIVE_DOUBLE : type;
    H5Awrite(a, mem, buf);
    H5Aclose(a);
  }
  free(strings);
  H5Sclose(space);
  H5Tclose(type);
}

/* /events/type's event_types: the right names, or too many, too long, vlen, or not strings. */
static void event_types_write(hid_t file, int n_types, uint8_t form, stream *s) {
  hid_t d = H5Oopen(file, "/events/type", H5P_DEFAULT);
  if (d < 0) return;
  if (form % 4 == 1) { /* absent */
  } else if (form % 4 == 2) {
    attr_write(d, "event_types", (uint8_t)(3 + take(s) % 3), "view", 1);
  } else {
    int count = form % 4 == 3 ? take(s) % 40 : n_types;
    size_t width = form % 4 == 3 ? 1 + take(s) % 40 : 8;
    char *names = calloc((size_t)(count > 0 ? count : 1), width);
    for (int t = 0; t < count; t++) snprintf(names + (size_t)t * width, width, "type%d", t);
    hid_t type = H5Tcopy(H5T_C_S1);
    H5Tset_size(type, width);
    hsize_t dims[1] = {(hsize_t)count};
    hid_t space = H5Screate_simple(1, dims, NULL);
    hid_t a = H5Acreate2(d, "event_types", type, space, H5P_DEFAULT, H5P_DEFAULT);
    if (a >= 0) {
      H5Awrite(a, type, names);
      H5Aclose(a);
    }
    H5Sclose(space);
    H5Tclose(type);
    free(names);
  }
  H5Oclose(d);
}

/* The file the input describes; returns 0 when HDF5 could not even create it. */
static int file_build(const char *path, stream *s) {
  static int64_t offset[MAX_USERS + 1], time[MAX_EVENTS];
  static int32_t item[MAX_EVENTS];
  static uint8_t type[MAX_EVENTS];
  static float content[(MAX_ITEMS + 1) * 4];

  /* The shape of the file first, so that short inputs already vary it; then the data. */
  dataset_spec spec[7];
  for (int i = 0; i < 7; i++) {
    uint8_t b = take(s);
    spec[i] = (dataset_spec){(layout)(b % N_LAYOUTS), take(s)};
  }
  const uint8_t a_format = take(s), a_version = take(s), a_counts = take(s), a_fp = take(s);
  const uint8_t a_source = take(s), a_types = take(s);
  const int64_t n_users = take(s) % (MAX_USERS + 1);
  const int64_t n_items = take(s) % (MAX_ITEMS + 1);
  const int n_types = take(s) % 5;
  const int dim = 1 + take(s) % 4;
  offset[0] = 0;
  for (int64_t u = 0; u < n_users; u++) offset[u + 1] = offset[u] + take(s) % (MAX_LEN + 1);
  const int64_t n_events = offset[n_users];
  for (int64_t e = 0; e < n_events; e++) {
    uint8_t b = take(s);
    item[e] = n_items > 0 ? 1 + b % (int32_t)n_items : 1;
    type[e] = n_types > 0 ? take(s) % n_types : 0;
  }
  for (int64_t u = 0; u < n_users; u++) {
    int64_t t = (int64_t)(take(s) % 8) * 1000000000;
    for (int64_t e = offset[u]; e < offset[u + 1]; e++) time[e] = t += take(s) % 4;
  }
  for (int64_t i = 0; i < (n_items + 1) * dim; i++) content[i] = (float)i / 8.0f;

  /* The right fingerprint is of the values as they should be, before any corruption. */
  sr_events_fp fp;
  sr_events_fp_init(&fp);
  sr_events_fp_add_offsets(&fp, offset, n_users + 1);
  sr_events_fp_add_items(&fp, item, n_events);
  sr_events_fp_add_times(&fp, time, n_events);
  char fingerprint[32];
  sr_events_fp_hex(&fp, fingerprint);

  /* Wrong values: up to 7 (array, index, raw 64-bit value). */
  for (int k = take(s) % 8; k > 0; k--) {
    uint8_t which = take(s);
    uint64_t raw = take64(s);
    switch (which % 5) {
      case 0: offset[which / 5 % (n_users + 1)] = (int64_t)raw; break;
      case 1: if (n_events) item[which / 5 % n_events] = (int32_t)raw; break;
      case 2: if (n_events) time[which / 5 % n_events] = (int64_t)raw; break;
      case 3: if (n_events) type[which / 5 % n_events] = (uint8_t)raw; break;
      default: {
        uint32_t bits = (uint32_t)raw;
        memcpy(&content[which / 5 % ((n_items + 1) * dim)], &bits, sizeof bits);
        break;
      }
    }
  }

  hid_t file = H5Fcreate(path, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
  if (file < 0) return 0;
  dataset_write(file, "/users/offset", &spec[0], H5T_STD_I64LE, H5T_NATIVE_INT64, n_users + 1, 0,
                offset);
  dataset_write(file, "/events/item", &spec[1], H5T_STD_I32LE, H5T_NATIVE_INT32, n_events, 0,
                item);
  dataset_write(file, "/events/time", &spec[2], H5T_STD_I64LE, H5T_NATIVE_INT64, n_events, 0,
                time);
  /* Optional datasets: MISSING turns "absent" into "present" when they are not expected. */
  dataset_spec type_spec = spec[3];
  if (n_types == 0) type_spec.how = type_spec.how == MISSING ? AS_IS : MISSING;
  dataset_write(file, "/events/type", &type_spec, H5T_STD_U8LE, H5T_NATIVE_UINT8, n_events, 0,
                type);
  strings_write(file, "/users/raw_id", &spec[4], n_users, "u", 0);
  strings_write(file, "/items/raw_id", &spec[5], n_items + 1, "i", 0);
  dataset_spec content_spec = spec[6];
  if (content_spec.how == MISSING)
    content_spec.how = AS_IS;
  else if (content_spec.how == AS_IS)
    content_spec.how = MISSING;
  dataset_write(file, "/items/content", &content_spec, H5T_IEEE_F32LE, H5T_NATIVE_FLOAT,
                n_items + 1, dim, content);
  if (type_spec.how != MISSING && type_spec.how != GROUP)
    event_types_write(file, n_types, a_types, s);

  /* Root attributes; form 0 of format and version means "right", 1 means "absent". */
  attr_write(file, "format", a_format % 8 == 0 ? 1 : a_format % 8 == 1 ? 0 : a_format % 8,
             a_format & 0x80 ? "seqrec-checkpoint" : SR_EVENTS_FORMAT, 1);
  attr_write(file, "version", a_version % 8 == 0 ? 3 : a_version % 8 == 1 ? 0 : a_version % 8,
             "1", a_version & 0x80 ? 2 : 1);
  const int64_t counts[3] = {n_users, n_items, n_events};
  const char *count_names[3] = {"n_users", "n_items", "n_events"};
  for (int c = 0; c < 3; c++) {
    uint8_t form = (a_counts >> (2 * c)) & 3; /* absent, right, off by one, a string */
    attr_write(file, count_names[c], form == 0 ? 0 : form == 3 ? 1 : 3, "12",
               counts[c] + (form == 2));
  }
  char long_text[700];
  memset(long_text, 'x', sizeof long_text - 1);
  long_text[sizeof long_text - 1] = '\0';
  if (a_fp % 4 == 1) attr_write(file, "fingerprint", 1, fingerprint, 0);
  if (a_fp % 4 == 2) attr_write(file, "fingerprint", 1, "0123456789abcdef", 0);
  if (a_fp % 4 == 3) attr_write(file, "fingerprint", (uint8_t)(1 + a_fp / 4 % 6), long_text, 0);
  if (a_source % 3 == 1) attr_write(file, "source", (uint8_t)(1 + a_source / 3 % 2), "fuzz", 0);
  if (a_source % 3 == 2) attr_write(file, "source", 2, long_text, 0);
  return H5Fclose(file) >= 0;
}

/* A refusal must be a format (or I/O) error whose message names the file. */
static void refusal_check(sr_status st, const char *path, const char *what) {
  FUZZ_CHECK(fuzz_user_error(st), "%s: status %s: %s", what, sr_status_name(st),
             sr_error_message());
  FUZZ_CHECK(strstr(sr_error_message(), path) != NULL, "%s: message without the file: %s", what,
             sr_error_message());
  sr_error_clear();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  fuzz_quiet();
  H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
  stream s = {data, size};
  const int world = 1 + take(&s) % 4;
  char path[512];
  fuzz_path(path, sizeof path, "events.h5");
  if (!file_build(path, &s)) {
    unlink(path);
    return 0;
  }
  H5Eclear2(H5E_DEFAULT);

  sr_events_summary summary;
  sr_status checked = sr_events_check_summary(path, &summary);
  if (checked != SR_OK) refusal_check(checked, path, "check");

  int64_t users_seen = 0, events_seen = 0;
  int all_read = 1; /* every rank so far read its shard: coverage can be checked */
  for (int rank = 0; rank < world; rank++) {
    sr_events_shard shard;
    sr_status st = sr_events_shard_read(path, rank, world, &shard);
    if (st != SR_OK) {
      FUZZ_CHECK(checked != SR_OK, "check passed, the reader refused rank %d of %d: %s", rank,
                 world, sr_error_message());
      refusal_check(st, path, "shard read");
      all_read = 0;
      continue;
    }
    /* What the reader hands to training is within bounds, whatever the checker said. */
    FUZZ_CHECK(!all_read || shard.user_begin == users_seen, "rank %d starts at user %lld, not %lld",
               rank, (long long)shard.user_begin, (long long)users_seen);
    FUZZ_CHECK(shard.user_end >= shard.user_begin &&
                   shard.event_end - shard.event_begin ==
                       shard.offset[shard.user_end - shard.user_begin],
               "rank %d: users [%lld, %lld) after %lld", rank, (long long)shard.user_begin,
               (long long)shard.user_end, (long long)users_seen);
    const int64_t nu = shard.user_end - shard.user_begin;
    const int64_t ne = shard.event_end - shard.event_begin;
    FUZZ_CHECK(shard.offset[0] == 0 && shard.offset[nu] == ne, "rank %d offsets", rank);
    for (int64_t u = 0; u < nu; u++)
      FUZZ_CHECK(shard.offset[u] <= shard.offset[u + 1], "rank %d offset %lld", rank,
                 (long long)u);
    for (int64_t e = 0; e < ne; e++) {
      FUZZ_CHECK(shard.item[e] >= 1 && shard.item[e] <= shard.n_items, "rank %d item %d", rank,
                 shard.item[e]);
      FUZZ_CHECK(!shard.type || shard.type[e] < 255, "type");
    }
    if (checked == SR_OK) {
      FUZZ_CHECK(shard.n_users == summary.n_users && shard.n_items == summary.n_items &&
                     shard.n_events == summary.n_events,
                 "reader and checker disagree on the counts");
      FUZZ_CHECK(!shard.type || summary.n_event_types == shard.n_event_types, "types");
      for (int64_t e = 0; shard.type && e < ne; e++)
        FUZZ_CHECK(shard.type[e] < shard.n_event_types, "type %d of %d", shard.type[e],
                   shard.n_event_types);
    }
    users_seen = shard.user_end;
    events_seen += ne;
    if (rank == world - 1 && all_read) {
      FUZZ_CHECK(users_seen == shard.n_users && events_seen == shard.n_events,
                 "the shards cover %lld of %lld users, %lld of %lld events",
                 (long long)users_seen, (long long)shard.n_users, (long long)events_seen,
                 (long long)shard.n_events);
    }
    sr_events_shard_free(&shard);
  }

  if (checked == SR_OK) {
    char *ids = NULL;
    int width = 0;
    sr_status st = sr_events_read_raw_ids(path, "/users/raw_id", 0, summary.n_users, &ids, &width);
    FUZZ_CHECK(st == SR_OK, "user raw ids of a checked file: %s", sr_error_message());
    sr_free(ids);
    st = sr_events_read_raw_ids(path, "/items/raw_id", 0, summary.n_items + 1, &ids, &width);
    FUZZ_CHECK(st == SR_OK, "item raw ids of a checked file: %s", sr_error_message());
    sr_free(ids);
  }

  /* `seqrec info` itself on a file that checks out (on others it stops at the same check):
   * it reads the first users' histories and item ids, all of which must be there. */
  if (checked == SR_OK) {
    sr_comm comm;
    memset(&comm, 0, sizeof comm);
    comm.rank = 0;
    comm.size = 1;
    char command[] = "info";
    char *argv[] = {command, path, NULL};
    sr_status info = events_info_main(&comm, 2, argv);
    FUZZ_CHECK(info == SR_OK, "info fails on a file that checks out: %s", sr_error_message());
  }
  sr_error_clear();
  unlink(path);
  return 0;
}
