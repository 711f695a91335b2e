/* sr_events_check (events.h): proves that a file is a complete, consistent events.h5, streaming
 * through its datasets in fixed chunks so that a file of any size is checked in bounded memory.
 * Not a repair tool, and not the reader: training reads shards with events_read.c. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "core/arena.h"
#include "events/events.h"
#include "events/events_internal.h"
#include "events/fingerprint.h"
#include "events/h5util.h"
#include "events/import.h"

enum { CHECK_CHUNK = 1 << 20 }; /* rows (or floats, for content) read at a time */
enum { SOURCE_MAX = 4095 };     /* the longest `source` attribute the writer keeps */

/* Sequential reads of a 1-D int64 dataset through a window of CHECK_CHUNK rows. */
typedef struct {
  hid_t dset;
  const char *file, *h5path;
  int64_t n, begin, count;
  int64_t *buf; /* [CHECK_CHUNK] */
} i64_stream;

static sr_status stream_get(i64_stream *s, int64_t i, int64_t *value) {
  if (i < s->begin || i >= s->begin + s->count) {
    s->begin = i;
    s->count = s->n - i < CHECK_CHUNK ? s->n - i : CHECK_CHUNK;
    TRY(sr_h5_read_rows(s->dset, s->file, s->h5path, H5T_NATIVE_INT64, s->begin, s->count,
                        s->buf));
  }
  *value = s->buf[i - s->begin];
  return SR_OK;
}

/* An optional root attribute that must agree with what the datasets say. */
static sr_status attr_agrees(hid_t file, const char *path, const char *name, int64_t actual,
                             const char *what) {
  if (!sr_h5_attr_exists(file, name)) return SR_OK;
  int64_t stored = 0;
  TRY(sr_h5_attr_read_i64(file, path, "/", name, &stored));
  if (stored != actual)
    return sr_error(SR_EFORMAT, "%s: /: attribute '%s' is %lld, but %s says %lld", path, name,
                    (long long)stored, what, (long long)actual);
  return SR_OK;
}

/* Pass 1: offsets start at 0, never decrease, end at n_events. */
static sr_status check_offsets(hid_t d_offset, const char *path, int64_t n_users,
                               int64_t n_events, int64_t *buf, sr_events_fp *fp,
                               int64_t *max_history) {
  int64_t prev = 0;
  *max_history = 0;
  for (int64_t begin = 0; begin <= n_users; begin += CHECK_CHUNK) {
    int64_t n = n_users + 1 - begin < CHECK_CHUNK ? n_users + 1 - begin : CHECK_CHUNK;
    TRY(sr_h5_read_rows(d_offset, path, "/users/offset", H5T_NATIVE_INT64, begin, n, buf));
    for (int64_t k = 0; k < n; k++) {
      int64_t u = begin + k;
      if (u == 0 && buf[0] != 0)
        return sr_error(SR_EFORMAT, "%s: /users/offset[0] = %lld, must be 0", path,
                        (long long)buf[0]);
      if (u > 0 && buf[k] < prev)
        return sr_error(SR_EFORMAT, "%s: /users/offset[%lld] = %lld < /users/offset[%lld] = %lld "
                        "(offsets must not decrease)", path, (long long)u, (long long)buf[k],
                        (long long)(u - 1), (long long)prev);
      if (u > 0 && buf[k] - prev > *max_history) *max_history = buf[k] - prev;
      prev = buf[k];
    }
    sr_events_fp_add_offsets(fp, buf, n);
  }
  if (prev != n_events)
    return sr_error(SR_EFORMAT, "%s: /users/offset[%lld] = %lld, but /events/item has %lld events",
                    path, (long long)n_users, (long long)prev, (long long)n_events);
  return SR_OK;
}

typedef struct {
  hid_t d_item, d_time, d_type;
  int64_t n_users, n_items, n_events;
  int n_types;
  int32_t *items; /* [CHECK_CHUNK] */
  int64_t *times; /* [CHECK_CHUNK] */
  uint8_t *types; /* [CHECK_CHUNK] */
  uint8_t *seen;  /* [n_items + 1]: an event refers to the item (items may have none) */
} events_pass;

/* Pass 2: items in range, types known, times sorted within each user. */
static sr_status check_events(events_pass *p, const char *path, i64_stream *offsets,
                              sr_events_fp *fp, int64_t *type_counts) {
  int64_t user = 0, user_start = 0, user_end = 0, prev_time = 0;
  TRY(stream_get(offsets, 1, &user_end));
  for (int64_t begin = 0; begin < p->n_events; begin += CHECK_CHUNK) {
    int64_t n = p->n_events - begin < CHECK_CHUNK ? p->n_events - begin : CHECK_CHUNK;
    TRY(sr_h5_read_rows(p->d_item, path, "/events/item", H5T_NATIVE_INT32, begin, n, p->items));
    TRY(sr_h5_read_rows(p->d_time, path, "/events/time", H5T_NATIVE_INT64, begin, n, p->times));
    if (p->n_types > 0)
      TRY(sr_h5_read_rows(p->d_type, path, "/events/type", H5T_NATIVE_UINT8, begin, n, p->types));
    for (int64_t k = 0; k < n; k++) {
      int64_t e = begin + k;
      if (p->items[k] < 1 || p->items[k] > p->n_items)
        return sr_error(SR_EFORMAT, "%s: /events/item[%lld] = %d is outside 1..%lld (n_items, "
                        "from /items/raw_id)", path, (long long)e, p->items[k],
                        (long long)p->n_items);
      if (p->n_types > 0) {
        if (p->types[k] >= p->n_types)
          return sr_error(SR_EFORMAT, "%s: /events/type[%lld] = %d, but 'event_types' names only "
                          "%d types", path, (long long)e, p->types[k], p->n_types);
        type_counts[p->types[k]]++;
      }
      p->seen[p->items[k]] = 1;
      while (user_end <= e) {
        user++;
        user_start = user_end;
        TRY(stream_get(offsets, user + 1, &user_end));
      }
      if (e > user_start && p->times[k] < prev_time)
        return sr_error(SR_EFORMAT, "%s: /events/time[%lld] = %lld < /events/time[%lld] = %lld "
                        "within user %lld (histories must be sorted by time)", path, (long long)e,
                        (long long)p->times[k], (long long)(e - 1), (long long)prev_time,
                        (long long)user);
      prev_time = p->times[k];
    }
    sr_events_fp_add_items(fp, p->items, n);
    sr_events_fp_add_times(fp, p->times, n);
  }
  return SR_OK;
}

/* /items/title (optional): fixed-length strings [n_items + 1], each valid UTF-8, row 0 "". */
static sr_status check_titles(hid_t file, const char *path, int64_t n_items) {
  sr_status st = SR_OK;
  hid_t dset = H5I_INVALID_HID, type = H5I_INVALID_HID;
  char *rows = NULL;
  int64_t dims[1];
  size_t width = 0;
  TRY_GOTO(sr_h5_dataset_open(file, path, "/items/title", &dset));
  TRY_GOTO(sr_h5_dataset_expect(dset, path, "/items/title", H5T_C_S1, 1, dims));
  if (dims[0] != n_items + 1)
    FAIL_GOTO(SR_EFORMAT, "%s: /items/title has %lld rows, expected %lld (n_items + 1)", path,
              (long long)dims[0], (long long)n_items + 1);
  TRY_GOTO(sr_h5_string_width(dset, path, "/items/title", &width));
  TRY_GOTO(SR_H5_CHECK(type = H5Dget_type(dset), path, "/items/title"));
  const int64_t per = 4096;
  TRY_GOTO(sr_alloc(&rows, (size_t)per, width, "title rows"));
  for (int64_t begin = 0; begin <= n_items; begin += per) {
    int64_t n = n_items + 1 - begin < per ? n_items + 1 - begin : per;
    TRY_GOTO(sr_h5_read_rows(dset, path, "/items/title", type, begin, n, rows));
    for (int64_t k = 0; k < n; k++) {
      const char *t = rows + (size_t)k * width;
      size_t len = strnlen(t, width);
      if (!sr_import_utf8_valid(t, len))
        FAIL_GOTO(SR_EFORMAT, "%s: /items/title[%lld] is not valid UTF-8", path,
                  (long long)(begin + k));
      if (begin + k == 0 && len > 0)
        FAIL_GOTO(SR_EFORMAT, "%s: /items/title[0] is not empty (row 0 is padding)", path);
    }
  }
cleanup:
  sr_free(rows);
  sr_h5_close(&type);
  sr_h5_close(&dset);
  return st;
}

/* /items/content: float32 [n_items + 1, D], every value finite. */
static sr_status check_content(hid_t file, const char *path, int64_t n_items, int *dim) {
  sr_status st = SR_OK;
  hid_t dset = H5I_INVALID_HID;
  float *rows = NULL;
  int64_t dims[2];
  TRY_GOTO(sr_h5_dataset_open(file, path, "/items/content", &dset));
  TRY_GOTO(sr_h5_dataset_expect(dset, path, "/items/content", H5T_NATIVE_FLOAT, 2, dims));
  if (dims[0] != n_items + 1 || dims[1] < 1 || dims[1] > INT32_MAX)
    FAIL_GOTO(SR_EFORMAT, "%s: /items/content has shape [%lld, %lld], expected [%lld, D] (n_items "
              "+ 1 rows, D >= 1)", path, (long long)dims[0], (long long)dims[1],
              (long long)n_items + 1);
  int64_t per = CHECK_CHUNK / dims[1] > 0 ? CHECK_CHUNK / dims[1] : 1;
  if (per > dims[0]) per = dims[0] > 0 ? dims[0] : 1;
  TRY_GOTO(sr_alloc(&rows, (size_t)(per * dims[1]), sizeof *rows, "content rows"));
  for (int64_t begin = 0; begin < dims[0]; begin += per) {
    int64_t n = dims[0] - begin < per ? dims[0] - begin : per;
    TRY_GOTO(sr_h5_read_rows(dset, path, "/items/content", H5T_NATIVE_FLOAT, begin, n, rows));
    for (int64_t k = 0; k < n * dims[1]; k++)
      if (!isfinite(rows[k]))
        FAIL_GOTO(SR_EFORMAT, "%s: /items/content[%lld, %lld] = %g is not a finite number", path,
                  (long long)(begin + k / dims[1]), (long long)(k % dims[1]), (double)rows[k]);
  }
  *dim = (int)dims[1];
cleanup:
  sr_free(rows);
  sr_h5_close(&dset);
  return st;
}

sr_status sr_events_check_summary(const char *path, sr_events_summary *summary) {
  sr_events_summary local;
  sr_events_summary *s = summary ? summary : &local;
  memset(s, 0, sizeof *s);
  sr_status st = SR_OK;
  hid_t file = H5I_INVALID_HID, d_offset = H5I_INVALID_HID, d_users = H5I_INVALID_HID;
  hid_t d_items = H5I_INVALID_HID;
  events_pass p = {H5I_INVALID_HID, H5I_INVALID_HID, H5I_INVALID_HID, 0, 0, 0, 0, NULL, NULL,
                   NULL, NULL};
  i64_stream offsets = {H5I_INVALID_HID, path, "/users/offset", 0, 0, 0, NULL};
  int64_t *offset_buf = NULL;
  char *source = NULL;
  int64_t dims[1];
  sr_events_fp fp;
  sr_events_fp_init(&fp);

  TRY_GOTO(sr_h5_open_read(path, &file));
  TRY_GOTO(sr_events_root_check(file, path));

  /* Types and shapes first: cheap, and they say what the file is before any data is read. */
  TRY_GOTO(sr_h5_dataset_open(file, path, "/users/offset", &d_offset));
  TRY_GOTO(sr_h5_dataset_expect(d_offset, path, "/users/offset", H5T_NATIVE_INT64, 1, dims));
  if (dims[0] < 1) FAIL_GOTO(SR_EFORMAT, "%s: /users/offset is empty (needs n_users + 1)", path);
  p.n_users = dims[0] - 1;
  TRY_GOTO(sr_h5_dataset_open(file, path, "/events/item", &p.d_item));
  TRY_GOTO(sr_h5_dataset_expect(p.d_item, path, "/events/item", H5T_NATIVE_INT32, 1, dims));
  p.n_events = dims[0];
  TRY_GOTO(sr_h5_dataset_open(file, path, "/events/time", &p.d_time));
  TRY_GOTO(sr_h5_dataset_expect(p.d_time, path, "/events/time", H5T_NATIVE_INT64, 1, dims));
  if (dims[0] != p.n_events)
    FAIL_GOTO(SR_EFORMAT, "%s: /events/time has %lld events, /events/item has %lld", path,
              (long long)dims[0], (long long)p.n_events);
  if (sr_h5_exists(file, "/events/type")) {
    TRY_GOTO(sr_h5_dataset_open(file, path, "/events/type", &p.d_type));
    TRY_GOTO(sr_h5_dataset_expect(p.d_type, path, "/events/type", H5T_NATIVE_UINT8, 1, dims));
    if (dims[0] != p.n_events)
      FAIL_GOTO(SR_EFORMAT, "%s: /events/type has %lld events, /events/item has %lld", path,
                (long long)dims[0], (long long)p.n_events);
    TRY_GOTO(sr_h5_attr_read_strs(p.d_type, path, "/events/type", "event_types",
                                  SR_EVENTS_MAX_TYPES, sizeof s->event_types[0],
                                  &s->event_types[0][0], &p.n_types));
    if (p.n_types < 1)
      FAIL_GOTO(SR_EFORMAT, "%s: /events/type: attribute 'event_types' is empty", path);
  }
  TRY_GOTO(sr_h5_dataset_open(file, path, "/users/raw_id", &d_users));
  TRY_GOTO(sr_h5_dataset_expect(d_users, path, "/users/raw_id", H5T_C_S1, 1, dims));
  if (dims[0] != p.n_users)
    FAIL_GOTO(SR_EFORMAT, "%s: /users/raw_id has %lld rows, but /users/offset has %lld users",
              path, (long long)dims[0], (long long)p.n_users);
  TRY_GOTO(sr_h5_dataset_open(file, path, "/items/raw_id", &d_items));
  TRY_GOTO(sr_h5_dataset_expect(d_items, path, "/items/raw_id", H5T_C_S1, 1, dims));
  if (dims[0] < 1)
    FAIL_GOTO(SR_EFORMAT, "%s: /items/raw_id is empty (needs n_items + 1 rows, row 0 padding)",
              path);
  p.n_items = dims[0] - 1;
  TRY_GOTO(attr_agrees(file, path, "n_users", p.n_users, "/users/offset"));
  TRY_GOTO(attr_agrees(file, path, "n_items", p.n_items, "/items/raw_id"));
  TRY_GOTO(attr_agrees(file, path, "n_events", p.n_events, "/events/item"));
  if (sr_h5_attr_exists(file, "source")) {
    /* Free text for people: the writer keeps up to 4095 bytes (an import of many files), the
     * summary shows the start of it. */
    TRY_GOTO(sr_alloc(&source, SOURCE_MAX + 1, 1, "source attribute"));
    TRY_GOTO(sr_h5_attr_read_str(file, path, "/", "source", source, SOURCE_MAX + 1));
    size_t n = strlen(source), keep = sizeof s->source - 1;
    if (n > keep) memcpy(source + keep - 3, "...", 4);
    memcpy(s->source, source, (n > keep ? keep : n) + 1);
  }

  /* Then the data, in chunks. */
  /* Chunks no larger than the data: a small file is checked without megabytes of buffers. */
  const int64_t offset_rows = p.n_users + 1 < CHECK_CHUNK ? p.n_users + 1 : CHECK_CHUNK;
  const int64_t event_rows = p.n_events < 1 ? 1 : p.n_events < CHECK_CHUNK ? p.n_events
                                                                            : CHECK_CHUNK;
  TRY_GOTO(sr_alloc(&offset_buf, (size_t)offset_rows, sizeof *offset_buf, "offsets chunk"));
  TRY_GOTO(check_offsets(d_offset, path, p.n_users, p.n_events, offset_buf, &fp,
                         &s->max_history));
  TRY_GOTO(sr_alloc(&p.items, (size_t)event_rows, sizeof *p.items, "items chunk"));
  TRY_GOTO(sr_alloc(&p.times, (size_t)event_rows, sizeof *p.times, "times chunk"));
  if (p.n_types > 0)
    TRY_GOTO(sr_alloc(&p.types, (size_t)event_rows, sizeof *p.types, "types chunk"));
  offsets.dset = d_offset;
  offsets.n = p.n_users + 1;
  offsets.buf = offset_buf;
  TRY_GOTO(sr_alloc(&p.seen, (size_t)p.n_items + 1, 1, "items seen"));
  if (p.n_events > 0) TRY_GOTO(check_events(&p, path, &offsets, &fp, s->type_counts));
  for (int64_t i = 1; i <= p.n_items; i++) s->items_without_events += !p.seen[i];
  if (sr_h5_exists(file, "/items/content")) {
    TRY_GOTO(check_content(file, path, p.n_items, &s->content_dim));
    hid_t d_content = H5I_INVALID_HID;
    TRY_GOTO(sr_h5_dataset_open(file, path, "/items/content", &d_content));
    if (sr_h5_attr_exists(d_content, "content_source"))
      st = sr_h5_attr_read_str(d_content, path, "/items/content", "content_source",
                               s->content_source, sizeof s->content_source);
    sr_h5_close(&d_content);
    if (st != SR_OK) goto cleanup;
  }
  if (sr_h5_exists(file, "/items/title")) {
    TRY_GOTO(check_titles(file, path, p.n_items));
    s->has_titles = 1;
  }

  sr_events_fp_hex(&fp, s->fingerprint);
  if (sr_h5_attr_exists(file, "fingerprint")) {
    char stored[64];
    TRY_GOTO(sr_h5_attr_read_str(file, path, "/", "fingerprint", stored, sizeof stored));
    if (strcmp(stored, s->fingerprint) != 0)
      FAIL_GOTO(SR_EFORMAT, "%s: /: attribute 'fingerprint' is %s, but the data hash to %s (the "
                "events were changed after the file was written)", path, stored, s->fingerprint);
    s->has_fingerprint = 1;
  }
  s->n_users = p.n_users;
  s->n_items = p.n_items;
  s->n_events = p.n_events;
  s->n_event_types = p.n_types;
cleanup:
  sr_free(source);
  sr_free(offset_buf);
  sr_free(p.items);
  sr_free(p.times);
  sr_free(p.types);
  sr_free(p.seen);
  sr_h5_close(&p.d_item);
  sr_h5_close(&p.d_time);
  sr_h5_close(&p.d_type);
  sr_h5_close(&d_items);
  sr_h5_close(&d_users);
  sr_h5_close(&d_offset);
  sr_h5_close(&file);
  return st;
}

sr_status sr_events_check(const char *path) { return sr_events_check_summary(path, NULL); }
