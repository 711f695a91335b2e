/* seqrec info FILE.h5: says what a seqrec file holds, after checking it (events files now;
 * checkpoints and recommendation files once their checks exist). Rank 0 does the work.
 * Not a dump tool: h5dump shows raw contents. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/arena.h"
#include "core/log.h"
#include "events/cli.h"
#include "events/events.h"
#include "events/h5util.h"

enum { SHOW_USERS = 5, SHOW_ITEMS = 8 };

static const char info_usage[] = "usage: seqrec info FILE.h5";

/* 1234567 -> "1,234,567" */
static const char *count_text(int64_t v, char *buf, size_t size) {
  char digits[32];
  int n = snprintf(digits, sizeof digits, "%lld", (long long)(v < 0 ? -v : v));
  size_t o = 0;
  if (v < 0 && o + 1 < size) buf[o++] = '-';
  for (int i = 0; i < n && o + 1 < size; i++) {
    buf[o++] = digits[i];
    if ((n - 1 - i) % 3 == 0 && i != n - 1 && o + 1 < size) buf[o++] = ',';
  }
  buf[o] = '\0';
  return buf;
}

static int compare_i64(const void *a, const void *b) {
  int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
  return (x > y) - (x < y);
}

/* Nearest-rank percentile of sorted values. */
static int64_t percentile(const int64_t *sorted, int64_t n, double p) {
  int64_t k = (int64_t)(p * (double)n + 0.999999999);
  if (k < 1) k = 1;
  if (k > n) k = n;
  return sorted[k - 1];
}

static sr_status print_histories(hid_t file, const char *path, const sr_events_summary *s,
                                 int64_t *offset /* [n_users + 1] */) {
  sr_status st = SR_OK;
  hid_t d = H5I_INVALID_HID;
  int64_t *lengths = NULL;
  TRY_GOTO(sr_h5_dataset_open(file, path, "/users/offset", &d));
  TRY_GOTO(sr_h5_read_rows(d, path, "/users/offset", H5T_NATIVE_INT64, 0, s->n_users + 1, offset));
  if (s->n_users == 0) {
    sr_info("  history      (no users)");
    goto cleanup;
  }
  TRY_GOTO(sr_alloc(&lengths, (size_t)s->n_users, sizeof *lengths, "history lengths"));
  for (int64_t u = 0; u < s->n_users; u++) lengths[u] = offset[u + 1] - offset[u];
  qsort(lengths, (size_t)s->n_users, sizeof *lengths, compare_i64);
  sr_info("  history      min %lld  p25 %lld  median %lld  p75 %lld  p95 %lld  max %lld  "
          "mean %.1f", (long long)lengths[0], (long long)percentile(lengths, s->n_users, 0.25),
          (long long)percentile(lengths, s->n_users, 0.50),
          (long long)percentile(lengths, s->n_users, 0.75),
          (long long)percentile(lengths, s->n_users, 0.95), (long long)lengths[s->n_users - 1],
          (double)s->n_events / (double)s->n_users);
cleanup:
  sr_free(lengths);
  sr_h5_close(&d);
  return st;
}

/* The first users: raw id, history length and first items (as raw ids). */
static sr_status print_first_users(hid_t file, const char *path, const sr_events_summary *s,
                                   const int64_t *offset) {
  sr_status st = SR_OK;
  hid_t d_users = H5I_INVALID_HID, d_item = H5I_INVALID_HID, d_ids = H5I_INVALID_HID;
  hid_t t_users = H5I_INVALID_HID, t_ids = H5I_INVALID_HID;
  char *user_ids = NULL, *item_id = NULL;
  size_t user_width = 0, item_width = 0;
  int64_t n_show = s->n_users < SHOW_USERS ? s->n_users : SHOW_USERS;
  if (n_show == 0) return SR_OK;
  TRY_GOTO(sr_h5_dataset_open(file, path, "/users/raw_id", &d_users));
  TRY_GOTO(sr_h5_dataset_open(file, path, "/events/item", &d_item));
  TRY_GOTO(sr_h5_dataset_open(file, path, "/items/raw_id", &d_ids));
  TRY_GOTO(sr_h5_string_width(d_users, path, "/users/raw_id", &user_width));
  TRY_GOTO(sr_h5_string_width(d_ids, path, "/items/raw_id", &item_width));
  TRY_GOTO(SR_H5_CHECK(t_users = H5Dget_type(d_users), path, "/users/raw_id"));
  TRY_GOTO(SR_H5_CHECK(t_ids = H5Dget_type(d_ids), path, "/items/raw_id"));
  TRY_GOTO(sr_alloc(&user_ids, (size_t)n_show, user_width + 1, "user ids"));
  TRY_GOTO(sr_alloc(&item_id, 1, item_width + 1, "item id"));
  TRY_GOTO(sr_h5_read_rows(d_users, path, "/users/raw_id", t_users, 0, n_show, user_ids));
  sr_info("  first users:");
  for (int64_t u = 0; u < n_show; u++) {
    char line[1024], user[64];
    snprintf(user, sizeof user, "%.*s", (int)strnlen(user_ids + u * user_width, user_width),
             user_ids + u * user_width);
    int64_t length = offset[u + 1] - offset[u];
    int used = snprintf(line, sizeof line, "    %-12s %6lld events:", user, (long long)length);
    int32_t items[SHOW_ITEMS];
    int64_t n = length < SHOW_ITEMS ? length : SHOW_ITEMS;
    TRY_GOTO(sr_h5_read_rows(d_item, path, "/events/item", H5T_NATIVE_INT32, offset[u], n, items));
    for (int64_t k = 0; k < n && used < (int)sizeof line; k++) {
      memset(item_id, 0, item_width + 1);
      TRY_GOTO(sr_h5_read_rows(d_ids, path, "/items/raw_id", t_ids, items[k], 1, item_id));
      used += snprintf(line + used, sizeof line - (size_t)used, " %.24s", item_id);
    }
    if (length > n && used < (int)sizeof line)
      snprintf(line + used, sizeof line - (size_t)used, " ...");
    sr_info("%s", line);
  }
cleanup:
  sr_free(user_ids);
  sr_free(item_id);
  sr_h5_close(&t_users);
  sr_h5_close(&t_ids);
  sr_h5_close(&d_users);
  sr_h5_close(&d_item);
  sr_h5_close(&d_ids);
  return st;
}

static sr_status info_events(const char *path) {
  sr_events_summary s;
  TRY(sr_events_check_summary(path, &s));
  char a[32], b[32], c[32];
  sr_info("%s: seqrec-events version %d, checked: ok", path, SR_EVENTS_VERSION);
  if (s.source[0]) sr_info("  source       %s", s.source);
  sr_info("  users        %s", count_text(s.n_users, a, sizeof a));
  sr_info("  items        %s", count_text(s.n_items, b, sizeof b));
  sr_info("  events       %s", count_text(s.n_events, c, sizeof c));

  sr_status st = SR_OK;
  hid_t file = H5I_INVALID_HID;
  int64_t *offset = NULL; /* [n_users + 1] */
  TRY_GOTO(sr_h5_open_read(path, &file));
  TRY_GOTO(sr_alloc(&offset, (size_t)s.n_users + 1, sizeof *offset, "user offsets"));
  TRY_GOTO(print_histories(file, path, &s, offset));
  if (s.n_event_types > 0) {
    char line[2048];
    int used = snprintf(line, sizeof line, "  event types ");
    for (int t = 0; t < s.n_event_types && used < (int)sizeof line; t++)
      used += snprintf(line + used, sizeof line - (size_t)used, " %s %s (%.1f%%)",
                       s.event_types[t], count_text(s.type_counts[t], a, sizeof a),
                       s.n_events > 0 ? 100.0 * (double)s.type_counts[t] / (double)s.n_events
                                      : 0.0);
    sr_info("%s", line);
  } else {
    sr_info("  event types  none (no /events/type)");
  }
  if (s.content_dim > 0)
    sr_info("  content      %d dims per item (/items/content)", s.content_dim);
  else
    sr_info("  content      none (no /items/content)");
  sr_info("  fingerprint  %s%s", s.fingerprint,
          s.has_fingerprint ? "" : " (computed; the file stores none)");
  TRY_GOTO(print_first_users(file, path, &s, offset));
cleanup:
  sr_free(offset);
  sr_h5_close(&file);
  return st;
}

static sr_status info_run(const char *path) {
  hid_t file = H5I_INVALID_HID;
  char format[128] = "";
  TRY(sr_h5_open_read(path, &file));
  sr_status st = SR_OK;
  if (!sr_h5_attr_exists(file, "format"))
    FAIL_GOTO(SR_EFORMAT, "%s: /: no 'format' attribute, so not a seqrec file (seqrec writes "
              "events, checkpoint and recs files, each with a 'format' attribute)", path);
  TRY_GOTO(sr_h5_attr_read_str(file, path, "/", "format", format, sizeof format));
cleanup:
  sr_h5_close(&file);
  if (st != SR_OK) return st;
  if (strcmp(format, "seqrec-events") == 0) return info_events(path);
  if (strcmp(format, "seqrec-checkpoint") == 0 || strcmp(format, "seqrec-recs") == 0)
    return sr_error(SR_ENOTBUILT, "%s: a %s file; checking and describing it is not built yet "
                    "(this seqrec's info reads seqrec-events files)", path, format);
  return sr_error(SR_EFORMAT, "%s: /: attribute 'format' is '%s', which seqrec does not know "
                  "(expected seqrec-events, seqrec-checkpoint or seqrec-recs)", path, format);
}

sr_status events_info_main(const sr_comm *comm, int argc, char **argv) {
  const char *path = NULL;
  for (int i = 1; i < argc; i++) {
    if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
      sr_info("%s", info_usage);
      return SR_OK;
    }
    if (argv[i][0] == '-' && argv[i][1] != '\0')
      return sr_error(SR_EINVAL, "info: unknown option '%s'\n%s", argv[i], info_usage);
    if (path) return sr_error(SR_EINVAL, "info: one file at a time ('%s' and '%s')\n%s", path,
                              argv[i], info_usage);
    path = argv[i];
  }
  if (!path) return sr_error(SR_EINVAL, "info: which file?\n%s", info_usage);
  sr_status st = SR_OK;
  if (comm->rank == 0) st = info_run(path);
  /* With one rank there is nothing to agree on (and no need for MPI at all). */
  if (comm->size > 1) st = sr_comm_agree(comm, st);
  return st;
}
