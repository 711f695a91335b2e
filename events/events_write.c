/* The streaming events.h5 writer (events.h) used by import and gen: chunked extendible datasets
 * fed through fixed buffers, so memory stays the same for ten events or ten billion.
 * Not for reading or checking files (events_read.c, events_check.c). */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "core/arena.h"
#include "events/events.h"
#include "events/fingerprint.h"
#include "events/h5util.h"
#include "events/import.h"

/* Buffers hold a whole number of chunks, so every write but the last covers whole chunks.
 * Chunks stay small (a file of 50 events should not take megabytes), buffers large (few,
 * long writes). */
enum {
  EVENT_CHUNK = 1 << 16,   /* rows per chunk of /events/...: 256 KiB of items */
  EVENT_BUFFER = 1 << 20,  /* 4 MiB of items, 8 MiB of times, 1 MiB of types */
  OFFSET_CHUNK = 1 << 14,  /* rows per chunk of /users/offset and /users/raw_id */
  OFFSET_BUFFER = 1 << 16, /* 512 KiB of offsets */
  ID_BYTES = 1 << 22,      /* user raw ids: at most 4 MiB buffered */
  ITEM_ID_BLOCK = 1 << 16  /* item raw ids are written in blocks of this many rows */
};

struct sr_events_writer {
  char path[4096];
  char tmp[4096];
  hid_t file, d_item, d_time, d_type, d_offset, d_user_id, user_id_type;
  int n_types;
  int user_id_width;
  int64_t user_buffer; /* rows of user raw ids buffered: a multiple of user_chunk */
  int64_t user_chunk;  /* rows per /users/raw_id chunk */
  /* Tails not yet written. */
  int32_t *item_buf;  /* [EVENT_BUFFER] */
  int64_t *time_buf;  /* [EVENT_BUFFER] */
  uint8_t *type_buf;  /* [EVENT_BUFFER], NULL without types */
  int64_t n_event_buf;
  int64_t *offset_buf; /* [OFFSET_BUFFER] */
  int64_t n_offset_buf;
  char *user_id_buf; /* [user_buffer, user_id_width] */
  int64_t n_user_id_buf;
  int64_t events_written, offsets_written, user_ids_written;
  int64_t n_users, n_events; /* appended so far (written or buffered) */
  int64_t next_offset;
  /* The smallest and largest item seen and where, checked against n_items at commit. */
  int32_t item_min, item_max;
  int64_t item_min_at, item_max_at;
  int64_t n_items;       /* -1 until set_items */
  int64_t content_items; /* -1 until set_content */
  int content_dim;
  sr_events_fp fp;
  char source[4096];
  int has_source;
  int failed;
};

static sr_status writer_fail(sr_events_writer *w, sr_status st) {
  if (st != SR_OK) w->failed = 1;
  return st;
}

static sr_status flush_events(sr_events_writer *w) {
  int64_t n = w->n_event_buf;
  if (n == 0) return SR_OK;
  TRY(sr_h5_write_rows(w->d_item, w->tmp, "/events/item", H5T_NATIVE_INT32, w->events_written, n,
                       w->item_buf));
  TRY(sr_h5_write_rows(w->d_time, w->tmp, "/events/time", H5T_NATIVE_INT64, w->events_written, n,
                       w->time_buf));
  if (w->n_types > 0)
    TRY(sr_h5_write_rows(w->d_type, w->tmp, "/events/type", H5T_NATIVE_UINT8, w->events_written,
                         n, w->type_buf));
  w->events_written += n;
  w->n_event_buf = 0;
  return SR_OK;
}

static sr_status flush_offsets(sr_events_writer *w) {
  if (w->n_offset_buf == 0) return SR_OK;
  TRY(sr_h5_write_rows(w->d_offset, w->tmp, "/users/offset", H5T_NATIVE_INT64, w->offsets_written,
                       w->n_offset_buf, w->offset_buf));
  w->offsets_written += w->n_offset_buf;
  w->n_offset_buf = 0;
  return SR_OK;
}

static sr_status flush_user_ids(sr_events_writer *w) {
  if (w->n_user_id_buf == 0) return SR_OK;
  TRY(sr_h5_write_rows(w->d_user_id, w->tmp, "/users/raw_id", w->user_id_type,
                       w->user_ids_written, w->n_user_id_buf, w->user_id_buf));
  w->user_ids_written += w->n_user_id_buf;
  w->n_user_id_buf = 0;
  return SR_OK;
}

static sr_status push_offset(sr_events_writer *w, int64_t offset) {
  w->offset_buf[w->n_offset_buf++] = offset;
  sr_events_fp_add_offsets(&w->fp, &offset, 1);
  if (w->n_offset_buf == OFFSET_BUFFER) TRY(flush_offsets(w));
  return SR_OK;
}

sr_status sr_events_writer_open(sr_events_writer **out, const char *path,
                                const sr_events_writer_opts *opts) {
  *out = NULL;
  sr_h5_silence();
  if (opts->n_event_types < 0 || opts->n_event_types > SR_EVENTS_MAX_TYPES)
    return sr_error(SR_EINVAL, "%s: %d event types, at most %d are allowed", path,
                    opts->n_event_types, SR_EVENTS_MAX_TYPES);
  for (int t = 0; t < opts->n_event_types; t++)
    if (!opts->event_types[t] || strlen(opts->event_types[t]) > 31 || !opts->event_types[t][0])
      return sr_error(SR_EINVAL, "%s: event type %d: a name of 1 to 31 bytes is needed", path, t);
  if (opts->user_id_width < 1)
    return sr_error(SR_EINTERNAL, "%s: user_id_width is %d, must be at least 1", path,
                    opts->user_id_width);
  if (strlen(path) + 5 > sizeof((sr_events_writer *)0)->path)
    return sr_error(SR_EINVAL, "%s: path too long", path);

  sr_status st = SR_OK;
  sr_events_writer *w = NULL;
  TRY(sr_alloc(&w, 1, sizeof *w, "events writer"));
  w->file = w->d_item = w->d_time = w->d_type = H5I_INVALID_HID;
  w->d_offset = w->d_user_id = w->user_id_type = H5I_INVALID_HID;
  snprintf(w->path, sizeof w->path, "%s", path);
  TRY_GOTO(sr_h5_tmp_path(path, w->tmp, sizeof w->tmp));
  w->n_types = opts->n_event_types;
  w->user_id_width = opts->user_id_width;
  w->user_buffer = ID_BYTES / opts->user_id_width;
  if (w->user_buffer > OFFSET_BUFFER) w->user_buffer = OFFSET_BUFFER;
  if (w->user_buffer < 1) w->user_buffer = 1;
  w->user_chunk = w->user_buffer < OFFSET_CHUNK ? w->user_buffer : OFFSET_CHUNK;
  w->user_buffer -= w->user_buffer % w->user_chunk;
  w->n_items = -1;
  w->content_items = -1;
  w->item_min = INT32_MAX;
  w->item_max = INT32_MIN;
  sr_events_fp_init(&w->fp);
  if (opts->source) {
    snprintf(w->source, sizeof w->source, "%s", opts->source);
    w->has_source = 1;
  }
  TRY_GOTO(sr_alloc(&w->item_buf, EVENT_BUFFER, sizeof *w->item_buf, "events writer items"));
  TRY_GOTO(sr_alloc(&w->time_buf, EVENT_BUFFER, sizeof *w->time_buf, "events writer times"));
  if (w->n_types > 0)
    TRY_GOTO(sr_alloc(&w->type_buf, EVENT_BUFFER, sizeof *w->type_buf, "events writer types"));
  TRY_GOTO(sr_alloc(&w->offset_buf, OFFSET_BUFFER, sizeof *w->offset_buf,
                    "events writer offsets"));
  TRY_GOTO(sr_alloc(&w->user_id_buf, (size_t)w->user_buffer, (size_t)w->user_id_width,
                    "events writer user ids"));

  TRY_GOTO(sr_h5_create(w->tmp, &w->file));
  TRY_GOTO(sr_h5_dataset_create(w->file, w->tmp, "/events/item", H5T_STD_I32LE, 0, 0, 1,
                                EVENT_CHUNK, &w->d_item));
  TRY_GOTO(sr_h5_dataset_create(w->file, w->tmp, "/events/time", H5T_STD_I64LE, 0, 0, 1,
                                EVENT_CHUNK, &w->d_time));
  if (w->n_types > 0) {
    TRY_GOTO(sr_h5_dataset_create(w->file, w->tmp, "/events/type", H5T_STD_U8LE, 0, 0, 1,
                                  EVENT_CHUNK, &w->d_type));
    TRY_GOTO(sr_h5_attr_write_strs(w->d_type, w->tmp, "/events/type", "event_types", w->n_types,
                                   opts->event_types));
  }
  TRY_GOTO(sr_h5_dataset_create(w->file, w->tmp, "/users/offset", H5T_STD_I64LE, 0, 0, 1,
                                OFFSET_CHUNK, &w->d_offset));
  TRY_GOTO(sr_h5_string_type((size_t)w->user_id_width, 0, &w->user_id_type));
  TRY_GOTO(sr_h5_dataset_create(w->file, w->tmp, "/users/raw_id", w->user_id_type, 0, 0, 1,
                                w->user_chunk, &w->d_user_id));
  TRY_GOTO(push_offset(w, 0));
  *out = w;
  return SR_OK;
cleanup:
  sr_events_writer_abort(w);
  return st;
}

/* Everything about a batch that can be wrong, checked before any of it is buffered. */
static sr_status check_batch(const sr_events_writer *w, int64_t n_users, const int64_t *lengths,
                             const char *const *raw_ids, const int64_t *times,
                             const uint8_t *types, int64_t *n_events) {
  if (n_users < 0)
    return sr_error(SR_EINTERNAL, "%s: appending %lld users", w->path, (long long)n_users);
  if ((w->n_types > 0) != (types != NULL))
    return sr_error(SR_EINTERNAL, "%s: the file %s event types but the batch %s them", w->path,
                    w->n_types > 0 ? "has" : "has no", types ? "has" : "lacks");
  int64_t e = 0;
  for (int64_t j = 0; j < n_users; j++) {
    int64_t user = w->n_users + j;
    const char *id = raw_ids[j] ? raw_ids[j] : "";
    if (lengths[j] < 0)
      return sr_error(SR_EINVAL, "%s: /users/offset: user %lld (raw id '%s') has %lld events",
                      w->path, (long long)user, id, (long long)lengths[j]);
    if (!raw_ids[j])
      return sr_error(SR_EINVAL, "%s: /users/raw_id[%lld]: no raw id given", w->path,
                      (long long)user);
    size_t len = strlen(id);
    if (len > (size_t)w->user_id_width)
      return sr_error(SR_EINVAL, "%s: /users/raw_id[%lld]: '%.64s' is %zu bytes, longer than the "
                      "declared width %d", w->path, (long long)user, id, len, w->user_id_width);
    for (int64_t k = 1; k < lengths[j]; k++)
      if (times[e + k] < times[e + k - 1])
        return sr_error(SR_EINVAL, "%s: /events/time[%lld]: user %lld (raw id '%s'): time %lld "
                        "comes before the previous event's %lld (histories must be sorted by time)",
                        w->path, (long long)(w->n_events + e + k), (long long)user, id,
                        (long long)times[e + k], (long long)times[e + k - 1]);
    e += lengths[j];
  }
  if (types)
    for (int64_t k = 0; k < e; k++)
      if (types[k] >= w->n_types)
        return sr_error(SR_EINVAL, "%s: /events/type[%lld] = %d, but there are only %d event types",
                        w->path, (long long)(w->n_events + k), types[k], w->n_types);
  *n_events = e;
  return SR_OK;
}

static sr_status append_users(sr_events_writer *w, int64_t n_users, const int64_t *lengths,
                              const char *const *raw_ids, const int32_t *items,
                              const int64_t *times, const uint8_t *types) {
  if (w->failed)
    return sr_error(SR_EINTERNAL, "%s: the writer is used after an earlier error", w->path);
  int64_t n_events = 0;
  TRY(check_batch(w, n_users, lengths, raw_ids, times, types, &n_events));

  for (int64_t e = 0; e < n_events;) {
    int64_t n = EVENT_BUFFER - w->n_event_buf;
    if (n > n_events - e) n = n_events - e;
    int32_t *dst = w->item_buf + w->n_event_buf;
    for (int64_t k = 0; k < n; k++) {
      int32_t item = items[e + k];
      dst[k] = item;
      if (item < w->item_min) {
        w->item_min = item;
        w->item_min_at = w->n_events + e + k;
      }
      if (item > w->item_max) {
        w->item_max = item;
        w->item_max_at = w->n_events + e + k;
      }
    }
    memcpy(w->time_buf + w->n_event_buf, times + e, (size_t)n * sizeof *times);
    if (types) memcpy(w->type_buf + w->n_event_buf, types + e, (size_t)n);
    w->n_event_buf += n;
    e += n;
    if (w->n_event_buf == EVENT_BUFFER) TRY(flush_events(w));
  }
  sr_events_fp_add_items(&w->fp, items, n_events);
  sr_events_fp_add_times(&w->fp, times, n_events);
  w->n_events += n_events;

  for (int64_t j = 0; j < n_users; j++) {
    w->next_offset += lengths[j];
    TRY(push_offset(w, w->next_offset));
    char *slot = w->user_id_buf + w->n_user_id_buf * w->user_id_width;
    memset(slot, 0, (size_t)w->user_id_width);
    memcpy(slot, raw_ids[j], strlen(raw_ids[j]));
    if (++w->n_user_id_buf == w->user_buffer) TRY(flush_user_ids(w));
  }
  w->n_users += n_users;
  return SR_OK;
}

sr_status sr_events_writer_append_users(sr_events_writer *w, int64_t n_users,
                                        const int64_t *lengths, const char *const *raw_ids,
                                        const int32_t *items, const int64_t *times,
                                        const uint8_t *types) {
  return writer_fail(w, append_users(w, n_users, lengths, raw_ids, items, times, types));
}

/* strs[1..n_items] as fixed-length UTF-8 strings [n_items + 1] at h5path, row 0 "". */
static sr_status write_strings(sr_events_writer *w, const char *h5path, int64_t n_items,
                               const char *const *strs) {
  size_t width = 1;
  for (int64_t i = 1; i <= n_items; i++) {
    size_t len = strlen(strs[i]);
    if (len > width) width = len;
  }
  sr_status st = SR_OK;
  hid_t type = H5I_INVALID_HID, dset = H5I_INVALID_HID;
  char *block = NULL;
  TRY_GOTO(sr_h5_string_type(width, 0, &type));
  TRY_GOTO(sr_h5_dataset_create(w->file, w->tmp, h5path, type, n_items + 1, 0, 0, 0, &dset));
  TRY_GOTO(sr_alloc(&block, ITEM_ID_BLOCK, width, "item strings"));
  for (int64_t begin = 0; begin <= n_items; begin += ITEM_ID_BLOCK) {
    int64_t n = n_items + 1 - begin < ITEM_ID_BLOCK ? n_items + 1 - begin : ITEM_ID_BLOCK;
    memset(block, 0, (size_t)n * width);
    for (int64_t k = 0; k < n; k++)
      if (begin + k > 0) memcpy(block + k * width, strs[begin + k], strlen(strs[begin + k]));
    TRY_GOTO(sr_h5_write_rows(dset, w->tmp, h5path, type, begin, n, block));
  }
cleanup:
  sr_free(block);
  sr_h5_close(&dset);
  sr_h5_close(&type);
  return st;
}

static sr_status set_items(sr_events_writer *w, int64_t n_items, const char *const *raw_ids) {
  if (w->failed)
    return sr_error(SR_EINTERNAL, "%s: the writer is used after an earlier error", w->path);
  if (w->n_items >= 0) return sr_error(SR_EINTERNAL, "%s: the items are set twice", w->path);
  if (n_items < 0 || n_items >= INT32_MAX)
    return sr_error(SR_EINVAL, "%s: /items/raw_id: %lld items; the format holds 0 to %d", w->path,
                    (long long)n_items, INT32_MAX - 1);
  for (int64_t i = 1; i <= n_items; i++)
    if (!raw_ids[i])
      return sr_error(SR_EINVAL, "%s: /items/raw_id[%lld]: no raw id given", w->path,
                      (long long)i);
  TRY(write_strings(w, "/items/raw_id", n_items, raw_ids));
  w->n_items = n_items;
  return SR_OK;
}

sr_status sr_events_writer_set_items(sr_events_writer *w, int64_t n_items,
                                     const char *const *raw_ids) {
  return writer_fail(w, set_items(w, n_items, raw_ids));
}

static sr_status set_content(sr_events_writer *w, int64_t n_items, int dim,
                             const float *content) {
  if (w->failed)
    return sr_error(SR_EINTERNAL, "%s: the writer is used after an earlier error", w->path);
  if (w->content_items >= 0) return sr_error(SR_EINTERNAL, "%s: content is set twice", w->path);
  if (dim < 1 || n_items < 0)
    return sr_error(SR_EINVAL, "%s: /items/content: shape [%lld, %d] is not allowed", w->path,
                    (long long)n_items + 1, dim);
  if (w->n_items >= 0 && n_items != w->n_items)
    return sr_error(SR_EINVAL, "%s: /items/content has rows for %lld items, /items/raw_id for %lld",
                    w->path, (long long)n_items, (long long)w->n_items);
  for (int64_t k = 0; k < (n_items + 1) * dim; k++)
    if (!isfinite(content[k]))
      return sr_error(SR_EINVAL, "%s: /items/content[%lld, %d] is not a finite number", w->path,
                      (long long)(k / dim), (int)(k % dim));
  hid_t dset = H5I_INVALID_HID;
  sr_status st = SR_OK;
  TRY_GOTO(sr_h5_dataset_create(w->file, w->tmp, "/items/content", H5T_IEEE_F32LE, n_items + 1,
                                dim, 0, 0, &dset));
  TRY_GOTO(sr_h5_write_rows(dset, w->tmp, "/items/content", H5T_NATIVE_FLOAT, 0, n_items + 1,
                            content));
  w->content_items = n_items;
  w->content_dim = dim;
cleanup:
  sr_h5_close(&dset);
  return st;
}

sr_status sr_events_writer_set_content(sr_events_writer *w, int64_t n_items, int dim,
                                       const float *content) {
  return writer_fail(w, set_content(w, n_items, dim, content));
}

static sr_status set_titles(sr_events_writer *w, int64_t n_items, const char *const *titles) {
  if (w->failed)
    return sr_error(SR_EINTERNAL, "%s: the writer is used after an earlier error", w->path);
  if (w->n_items < 0 || n_items != w->n_items)
    return sr_error(SR_EINTERNAL, "%s: /items/title: set the %lld items first", w->path,
                    (long long)n_items);
  for (int64_t i = 1; i <= n_items; i++)
    if (!titles[i] || !sr_import_utf8_valid(titles[i], strlen(titles[i])))
      return sr_error(SR_EINVAL, "%s: /items/title[%lld]: missing or not UTF-8", w->path,
                      (long long)i);
  return write_strings(w, "/items/title", n_items, titles);
}

sr_status sr_events_writer_set_titles(sr_events_writer *w, int64_t n_items,
                                      const char *const *titles) {
  return writer_fail(w, set_titles(w, n_items, titles));
}

static sr_status describe_content(sr_events_writer *w, const char *source, int n_names,
                                  const char *const *names) {
  if (w->content_items < 0)
    return sr_error(SR_EINTERNAL, "%s: describe /items/content after setting it", w->path);
  sr_status st = SR_OK;
  hid_t dset = H5I_INVALID_HID;
  TRY_GOTO(sr_h5_dataset_open(w->file, w->tmp, "/items/content", &dset));
  if (source)
    TRY_GOTO(sr_h5_attr_write_str(dset, w->tmp, "/items/content", "content_source", source));
  if (n_names > 0)
    TRY_GOTO(sr_h5_attr_write_strs(dset, w->tmp, "/items/content", "content_names", n_names,
                                   names));
cleanup:
  sr_h5_close(&dset);
  return st;
}

sr_status sr_events_writer_describe_content(sr_events_writer *w, const char *source, int n_names,
                                            const char *const *names) {
  return writer_fail(w, describe_content(w, source, n_names, names));
}

void sr_events_writer_fingerprint(const sr_events_writer *w, char out[32]) {
  sr_events_fp_hex(&w->fp, out);
}

static void writer_free(sr_events_writer *w) {
  sr_free(w->item_buf);
  sr_free(w->time_buf);
  sr_free(w->type_buf);
  sr_free(w->offset_buf);
  sr_free(w->user_id_buf);
  sr_free(w);
}

static void writer_close_quietly(sr_events_writer *w) {
  sr_h5_close(&w->d_item);
  sr_h5_close(&w->d_time);
  sr_h5_close(&w->d_type);
  sr_h5_close(&w->d_offset);
  sr_h5_close(&w->d_user_id);
  sr_h5_close(&w->user_id_type);
  sr_h5_close(&w->file);
}

static sr_status writer_finish(sr_events_writer *w) {
  if (w->failed)
    return sr_error(SR_EINTERNAL, "%s: not committed: an earlier call failed", w->path);
  TRY(flush_events(w));
  TRY(flush_offsets(w));
  TRY(flush_user_ids(w));
  if (w->n_items < 0)
    return sr_error(SR_EINTERNAL, "%s: sr_events_writer_set_items was not called", w->path);
  if (w->content_items >= 0 && w->content_items != w->n_items)
    return sr_error(SR_EINVAL, "%s: /items/content has rows for %lld items, /items/raw_id for "
                    "%lld", w->path, (long long)w->content_items, (long long)w->n_items);
  if (w->n_events > 0 && w->item_min < 1)
    return sr_error(SR_EINVAL, "%s: /events/item[%lld] = %d is outside 1..%lld (items are dense "
                    "from 1; 0 is padding)", w->path, (long long)w->item_min_at, w->item_min,
                    (long long)w->n_items);
  if (w->n_events > 0 && w->item_max > w->n_items)
    return sr_error(SR_EINVAL, "%s: /events/item[%lld] = %d is outside 1..%lld (n_items)",
                    w->path, (long long)w->item_max_at, w->item_max, (long long)w->n_items);
  if (w->offsets_written != w->n_users + 1 || w->next_offset != w->n_events ||
      w->events_written != w->n_events || w->user_ids_written != w->n_users)
    return sr_error(SR_EINTERNAL, "%s: /users/offset: %lld offsets for %lld users, last %lld for "
                    "%lld events", w->path, (long long)w->offsets_written, (long long)w->n_users,
                    (long long)w->next_offset, (long long)w->n_events);
  char fp[32];
  sr_events_fp_hex(&w->fp, fp);
  TRY(sr_h5_attr_write_str(w->file, w->tmp, "/", "format", SR_EVENTS_FORMAT));
  TRY(sr_h5_attr_write_i64(w->file, w->tmp, "/", "version", SR_EVENTS_VERSION));
  TRY(sr_h5_attr_write_i64(w->file, w->tmp, "/", "n_users", w->n_users));
  TRY(sr_h5_attr_write_i64(w->file, w->tmp, "/", "n_items", w->n_items));
  TRY(sr_h5_attr_write_i64(w->file, w->tmp, "/", "n_events", w->n_events));
  TRY(sr_h5_attr_write_str(w->file, w->tmp, "/", "fingerprint", fp));
  if (w->has_source) TRY(sr_h5_attr_write_str(w->file, w->tmp, "/", "source", w->source));

  hid_t *objects[] = {&w->d_item, &w->d_time, &w->d_type, &w->d_offset, &w->d_user_id};
  for (size_t i = 0; i < sizeof objects / sizeof objects[0]; i++)
    if (*objects[i] >= 0) {
      TRY(SR_H5_CHECK(H5Dclose(*objects[i]), w->tmp, "/"));
      *objects[i] = H5I_INVALID_HID;
    }
  sr_h5_close(&w->user_id_type);
  TRY(sr_h5_file_close(&w->file, w->tmp));
  return sr_h5_tmp_commit(w->tmp, w->path);
}

sr_status sr_events_writer_commit(sr_events_writer *w) {
  if (!w) return sr_error(SR_EINTERNAL, "sr_events_writer_commit on no writer");
  sr_status st = writer_finish(w);
  if (st != SR_OK) {
    writer_close_quietly(w);
    sr_h5_tmp_discard(w->tmp);
  }
  writer_free(w);
  return st;
}

void sr_events_writer_abort(sr_events_writer *w) {
  if (!w) return;
  writer_close_quietly(w);
  sr_h5_tmp_discard(w->tmp);
  writer_free(w);
}
