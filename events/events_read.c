/* The sharded events.h5 reader (events.h): each rank opens the file on its own, reads the user
 * offsets, picks its user range and reads one hyperslab per events dataset.
 * Not for checking whole files (events_check.c) or writing them (events_write.c). */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "core/arena.h"
#include "events/events.h"
#include "events/events_internal.h"
#include "events/h5util.h"

sr_status sr_events_root_check(hid_t file, const char *path) {
  char format[64];
  if (!sr_h5_attr_exists(file, "format"))
    return sr_error(SR_EFORMAT, "%s: /: no 'format' attribute, so not a seqrec file (events "
                    "files are made by `seqrec import` or `seqrec gen`)", path);
  TRY(sr_h5_attr_read_str(file, path, "/", "format", format, sizeof format));
  if (strcmp(format, SR_EVENTS_FORMAT) != 0)
    return sr_error(SR_EFORMAT, "%s: /: attribute 'format' is '%s', expected '%s'", path, format,
                    SR_EVENTS_FORMAT);
  int64_t version = 0;
  TRY(sr_h5_attr_read_i64(file, path, "/", "version", &version));
  if (version != SR_EVENTS_VERSION)
    return sr_error(SR_EFORMAT, "%s: /: attribute 'version' is %lld; this seqrec reads version %d "
                    "(%s)", path, (long long)version, SR_EVENTS_VERSION,
                    version > SR_EVENTS_VERSION ? "written by a newer seqrec?" : "re-import it");
  return SR_OK;
}

/* The user boundary nearest to rank r's share of the events, r * n_events / world, compared
 * exactly in integers (offset * world against r * n_events). */
static int64_t shard_boundary(const int64_t *offset, int64_t n_users, int r, int world) {
  if (r <= 0) return 0;
  if (r >= world) return n_users;
  const int64_t target = (int64_t)r * offset[n_users];
  int64_t lo = 0, hi = n_users; /* first u with offset[u] * world >= target */
  while (lo < hi) {
    int64_t mid = lo + (hi - lo) / 2;
    if (offset[mid] * world < target)
      lo = mid + 1;
    else
      hi = mid;
  }
  if (lo > 0 && target - offset[lo - 1] * world <= offset[lo] * world - target) lo--;
  return lo;
}

void sr_events_shard_range(const int64_t *offset, int64_t n_users, int rank, int world,
                           int64_t *begin, int64_t *end) {
  *begin = shard_boundary(offset, n_users, rank, world);
  *end = shard_boundary(offset, n_users, rank + 1, world);
}

/* /users/offset must start at 0, never decrease and end at n_events. */
static sr_status offsets_check(const char *path, const int64_t *offset, int64_t n_users,
                               int64_t n_events) {
  if (offset[0] != 0)
    return sr_error(SR_EFORMAT, "%s: /users/offset[0] = %lld, must be 0", path,
                    (long long)offset[0]);
  for (int64_t u = 1; u <= n_users; u++)
    if (offset[u] < offset[u - 1])
      return sr_error(SR_EFORMAT, "%s: /users/offset[%lld] = %lld < /users/offset[%lld] = %lld "
                      "(offsets must not decrease)", path, (long long)u, (long long)offset[u],
                      (long long)(u - 1), (long long)offset[u - 1]);
  if (offset[n_users] != n_events)
    return sr_error(SR_EFORMAT, "%s: /users/offset[%lld] = %lld, but /events/item has %lld events",
                    path, (long long)n_users, (long long)offset[n_users], (long long)n_events);
  return SR_OK;
}

sr_status sr_events_shard_read(const char *path, int rank, int world, sr_events_shard *shard) {
  memset(shard, 0, sizeof *shard);
  if (world < 1 || rank < 0 || rank >= world)
    return sr_error(SR_EINTERNAL, "%s: shard %d of %d asked for", path, rank, world);
  sr_status st = SR_OK;
  hid_t file = H5I_INVALID_HID, d_offset = H5I_INVALID_HID, d_item = H5I_INVALID_HID;
  hid_t d_time = H5I_INVALID_HID, d_type = H5I_INVALID_HID, d_items = H5I_INVALID_HID;
  int64_t *offset = NULL; /* [n_users + 1], the whole file's */
  int64_t dims[1];

  TRY_GOTO(sr_h5_open_read(path, &file));
  TRY_GOTO(sr_events_root_check(file, path));
  TRY_GOTO(sr_h5_dataset_open(file, path, "/users/offset", &d_offset));
  TRY_GOTO(sr_h5_dataset_expect(d_offset, path, "/users/offset", H5T_NATIVE_INT64, 1, dims));
  if (dims[0] < 1) FAIL_GOTO(SR_EFORMAT, "%s: /users/offset is empty (needs n_users + 1)", path);
  shard->n_users = dims[0] - 1;
  TRY_GOTO(sr_h5_dataset_open(file, path, "/events/item", &d_item));
  TRY_GOTO(sr_h5_dataset_expect(d_item, path, "/events/item", H5T_NATIVE_INT32, 1, dims));
  shard->n_events = dims[0];
  TRY_GOTO(sr_h5_dataset_open(file, path, "/events/time", &d_time));
  TRY_GOTO(sr_h5_dataset_expect(d_time, path, "/events/time", H5T_NATIVE_INT64, 1, dims));
  if (dims[0] != shard->n_events)
    FAIL_GOTO(SR_EFORMAT, "%s: /events/time has %lld events, /events/item %lld", path,
              (long long)dims[0], (long long)shard->n_events);
  TRY_GOTO(sr_h5_dataset_open(file, path, "/items/raw_id", &d_items));
  TRY_GOTO(sr_h5_dataset_expect(d_items, path, "/items/raw_id", H5T_C_S1, 1, dims));
  if (dims[0] < 1) FAIL_GOTO(SR_EFORMAT, "%s: /items/raw_id is empty (row 0 is padding)", path);
  shard->n_items = dims[0] - 1;
  if (sr_h5_exists(file, "/events/type")) {
    TRY_GOTO(sr_h5_dataset_open(file, path, "/events/type", &d_type));
    TRY_GOTO(sr_h5_dataset_expect(d_type, path, "/events/type", H5T_NATIVE_UINT8, 1, dims));
    if (dims[0] != shard->n_events)
      FAIL_GOTO(SR_EFORMAT, "%s: /events/type has %lld events, /events/item %lld", path,
                (long long)dims[0], (long long)shard->n_events);
    TRY_GOTO(sr_h5_attr_read_strs(d_type, path, "/events/type", "event_types",
                                  SR_EVENTS_MAX_TYPES, sizeof shard->event_types[0],
                                  &shard->event_types[0][0], &shard->n_event_types));
    if (shard->n_event_types < 1)
      FAIL_GOTO(SR_EFORMAT, "%s: /events/type: attribute 'event_types' is empty", path);
  }
  if (sr_h5_attr_exists(file, "fingerprint"))
    TRY_GOTO(sr_h5_attr_read_str(file, path, "/", "fingerprint", shard->fingerprint,
                                 sizeof shard->fingerprint));

  TRY_GOTO(sr_alloc(&offset, (size_t)shard->n_users + 1, sizeof *offset, "user offsets"));
  TRY_GOTO(sr_h5_read_rows(d_offset, path, "/users/offset", H5T_NATIVE_INT64, 0,
                           shard->n_users + 1, offset));
  TRY_GOTO(offsets_check(path, offset, shard->n_users, shard->n_events));

  sr_events_shard_range(offset, shard->n_users, rank, world, &shard->user_begin,
                        &shard->user_end);
  shard->event_begin = offset[shard->user_begin];
  shard->event_end = offset[shard->user_end];
  const int64_t n_local_users = shard->user_end - shard->user_begin;
  const int64_t n_local = shard->event_end - shard->event_begin;
  TRY_GOTO(sr_alloc(&shard->offset, (size_t)n_local_users + 1, sizeof *shard->offset,
                    "shard offsets"));
  for (int64_t u = 0; u <= n_local_users; u++)
    shard->offset[u] = offset[shard->user_begin + u] - shard->event_begin;
  /* At least one element, so that `type` is NULL exactly when the file has no types. */
  size_t n_alloc = n_local > 0 ? (size_t)n_local : 1;
  TRY_GOTO(sr_alloc(&shard->item, n_alloc, sizeof *shard->item, "shard items"));
  TRY_GOTO(sr_alloc(&shard->time, n_alloc, sizeof *shard->time, "shard times"));
  TRY_GOTO(sr_h5_read_rows(d_item, path, "/events/item", H5T_NATIVE_INT32, shard->event_begin,
                           n_local, shard->item));
  TRY_GOTO(sr_h5_read_rows(d_time, path, "/events/time", H5T_NATIVE_INT64, shard->event_begin,
                           n_local, shard->time));
  if (d_type >= 0) {
    TRY_GOTO(sr_alloc(&shard->type, n_alloc, sizeof *shard->type, "shard types"));
    TRY_GOTO(sr_h5_read_rows(d_type, path, "/events/type", H5T_NATIVE_UINT8, shard->event_begin,
                             n_local, shard->type));
  }
  /* Items index embedding rows: a bad one must stop here, not corrupt memory in training. */
  for (int64_t e = 0; e < n_local; e++)
    if (shard->item[e] < 1 || shard->item[e] > shard->n_items)
      FAIL_GOTO(SR_EFORMAT, "%s: /events/item[%lld] = %d is outside 1..%lld (n_items)", path,
                (long long)(shard->event_begin + e), shard->item[e], (long long)shard->n_items);
cleanup:
  sr_free(offset);
  sr_h5_close(&d_items);
  sr_h5_close(&d_type);
  sr_h5_close(&d_time);
  sr_h5_close(&d_item);
  sr_h5_close(&d_offset);
  sr_h5_close(&file);
  if (st != SR_OK) sr_events_shard_free(shard);
  return st;
}

void sr_events_shard_free(sr_events_shard *shard) {
  if (!shard) return;
  sr_free(shard->offset);
  sr_free(shard->item);
  sr_free(shard->time);
  sr_free(shard->type);
  memset(shard, 0, sizeof *shard);
}

sr_status sr_events_read_raw_ids(const char *path, const char *dataset, int64_t begin,
                                 int64_t end, char **ids, int *width) {
  *ids = NULL;
  *width = 0;
  sr_status st = SR_OK;
  hid_t file = H5I_INVALID_HID, dset = H5I_INVALID_HID, type = H5I_INVALID_HID;
  char *packed = NULL;
  int64_t dims[1];
  size_t w = 0;
  TRY_GOTO(sr_h5_open_read(path, &file));
  TRY_GOTO(sr_h5_dataset_open(file, path, dataset, &dset));
  TRY_GOTO(sr_h5_dataset_expect(dset, path, dataset, H5T_C_S1, 1, dims));
  if (begin < 0 || end < begin || end > dims[0])
    FAIL_GOTO(SR_EINTERNAL, "%s: %s: rows [%lld, %lld) asked for, but it has %lld", path, dataset,
              (long long)begin, (long long)end, (long long)dims[0]);
  TRY_GOTO(sr_h5_string_width(dset, path, dataset, &w));
  TRY_GOTO(SR_H5_CHECK(type = H5Dget_type(dset), path, dataset));
  TRY_GOTO(sr_alloc(&packed, (size_t)(end - begin) + 1, w, "raw ids"));
  TRY_GOTO(sr_h5_read_rows(dset, path, dataset, type, begin, end - begin, packed));
  TRY_GOTO(sr_alloc(ids, (size_t)(end - begin) + 1, w + 1, "raw ids"));
  for (int64_t k = 0; k < end - begin; k++) {
    const char *s = packed + (size_t)k * w;
    memcpy(*ids + (size_t)k * (w + 1), s, strnlen(s, w));
  }
  *width = (int)w;
cleanup:
  sr_free(packed);
  sr_h5_close(&type);
  sr_h5_close(&dset);
  sr_h5_close(&file);
  if (st != SR_OK) {
    sr_free(*ids);
    *ids = NULL;
  }
  return st;
}

sr_status sr_events_read_content(const char *path, int64_t n_items, int *dim, float **content) {
  *dim = 0;
  *content = NULL;
  sr_status st = SR_OK;
  hid_t file = H5I_INVALID_HID, dset = H5I_INVALID_HID;
  int64_t dims[2];
  TRY_GOTO(sr_h5_open_read(path, &file));
  if (!sr_h5_exists(file, "/items/content")) goto cleanup;
  TRY_GOTO(sr_h5_dataset_open(file, path, "/items/content", &dset));
  TRY_GOTO(sr_h5_dataset_expect(dset, path, "/items/content", H5T_NATIVE_FLOAT, 2, dims));
  if (dims[0] != n_items + 1 || dims[1] < 1 || dims[1] > 1 << 16)
    FAIL_GOTO(SR_EFORMAT, "%s: /items/content is [%lld, %lld], expected [%lld, D] (n_items + 1 "
              "rows, 1 <= D <= 65536)", path, (long long)dims[0], (long long)dims[1],
              (long long)(n_items + 1));
  TRY_GOTO(sr_alloc(content, (size_t)dims[0], (size_t)dims[1] * sizeof **content, "item content"));
  TRY_GOTO(sr_h5_read_rows(dset, path, "/items/content", H5T_NATIVE_FLOAT, 0, dims[0], *content));
  for (int64_t i = 0; i < dims[0] * dims[1]; i++)
    if (!isfinite((*content)[i]))
      FAIL_GOTO(SR_EFORMAT, "%s: /items/content[%lld, %lld] is not finite", path,
                (long long)(i / dims[1]), (long long)(i % dims[1]));
  memset(*content, 0, (size_t)dims[1] * sizeof **content); /* the padding row */
  *dim = (int)dims[1];
cleanup:
  sr_h5_close(&dset);
  sr_h5_close(&file);
  if (st != SR_OK) {
    sr_free(*content);
    *content = NULL;
    *dim = 0;
  }
  return st;
}

sr_status sr_events_read_titles(const char *path, int64_t n_items, char **titles, int *width) {
  *titles = NULL;
  *width = 0;
  sr_status st = SR_OK;
  hid_t file = H5I_INVALID_HID, dset = H5I_INVALID_HID;
  int64_t dims[1];
  TRY_GOTO(sr_h5_open_read(path, &file));
  if (!sr_h5_exists(file, "/items/title")) goto cleanup; /* optional */
  /* The shape first, so that a mismatch is a format error and not a short read. */
  TRY_GOTO(sr_h5_dataset_open(file, path, "/items/title", &dset));
  TRY_GOTO(sr_h5_dataset_expect(dset, path, "/items/title", H5T_C_S1, 1, dims));
  if (dims[0] != n_items + 1)
    FAIL_GOTO(SR_EFORMAT, "%s: /items/title has %lld rows, expected %lld (n_items + 1)", path,
              (long long)dims[0], (long long)n_items + 1);
  sr_h5_close(&dset);
  sr_h5_close(&file);
  return sr_events_read_raw_ids(path, "/items/title", 0, n_items + 1, titles, width);
cleanup:
  sr_h5_close(&dset);
  sr_h5_close(&file);
  return st;
}
