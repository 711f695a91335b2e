/* `seqrec info` on a recs.h5: checks it (recs_check.c) and says what it holds, with the first
 * users' top items as raw ids. Rank 0 does the work. Not for events or checkpoint files. */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "core/arena.h"
#include "core/log.h"
#include "core/sha256.h"
#include "events/events.h"
#include "events/h5util.h"
#include "scorer/cli.h"
#include "scorer/recs.h"

enum { SHOW_USERS = 5, SHOW_ITEMS = 5 };

/* The one operand of `info`, or NULL when there is not exactly one. */
static const char *info_operand(int argc, char **argv) {
  const char *path = NULL;
  for (int i = 1; i < argc; i++) {
    if (argv[i][0] == '-' && argv[i][1] != '\0') return NULL;
    if (path) return NULL;
    path = argv[i];
  }
  return path;
}

int scorer_info_handles(int argc, char **argv) {
  const char *path = info_operand(argc, argv);
  if (!path || access(path, R_OK) != 0) return 0;
  sr_h5_silence();
  char format[64] = "";
  htri_t is_hdf5 = H5Fis_hdf5(path);
  H5Eclear2(H5E_DEFAULT);
  if (is_hdf5 <= 0) return 0;
  hid_t f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
  if (f >= 0 && sr_h5_attr_exists(f, "format") &&
      sr_h5_attr_read_str(f, path, "/", "format", format, sizeof format) != SR_OK)
    format[0] = '\0';
  sr_h5_close(&f);
  sr_error_clear();
  return strcmp(format, SR_RECS_FORMAT) == 0;
}

/* The raw id in row `row` of a string dataset, or "?" (the check has passed, so rows exist). */
static void raw_id(hid_t d, const char *path, const char *h5path, int64_t row, char *out,
                   size_t size) {
  hid_t type = H5Dget_type(d);
  size_t width = type >= 0 ? H5Tget_size(type) : 0;
  char *buf = NULL;
  snprintf(out, size, "?");
  if (width > 0 && sr_alloc(&buf, width + 1, 1, "raw id") == SR_OK &&
      sr_h5_read_rows(d, path, h5path, type, row, 1, buf) == SR_OK)
    snprintf(out, size, "%.*s", (int)strnlen(buf, width), buf);
  sr_error_clear();
  sr_free(buf);
  sr_h5_close(&type);
}

static sr_status print_first_users(const char *path, const scorer_recs_summary *s) {
  const int64_t n = s->n_rows < SHOW_USERS ? s->n_rows : SHOW_USERS;
  const int64_t show = s->k < SHOW_ITEMS ? s->k : SHOW_ITEMS;
  if (n == 0) return SR_OK;
  sr_status st = SR_OK;
  hid_t f = H5I_INVALID_HID, d_user = H5I_INVALID_HID, d_item = H5I_INVALID_HID;
  hid_t d_score = H5I_INVALID_HID, d_uid = H5I_INVALID_HID, d_iid = H5I_INVALID_HID;
  int32_t *items = NULL;
  float *scores = NULL;
  /* Titles from the events file the recommendations were made from, when it has them. */
  char *titles = NULL;
  int title_width = 0;
  if (access(s->events, R_OK) == 0 &&
      sr_events_read_titles(s->events, s->n_items, &titles, &title_width) != SR_OK) {
    sr_error_clear(); /* another file by now: show raw ids only */
    titles = NULL;
  }
  TRY_GOTO(sr_h5_open_read(path, &f));
  TRY_GOTO(sr_h5_dataset_open(f, path, "/recs/user", &d_user));
  TRY_GOTO(sr_h5_dataset_open(f, path, "/recs/item", &d_item));
  TRY_GOTO(sr_h5_dataset_open(f, path, "/recs/score", &d_score));
  TRY_GOTO(sr_h5_dataset_open(f, path, "/users/raw_id", &d_uid));
  TRY_GOTO(sr_h5_dataset_open(f, path, "/items/raw_id", &d_iid));
  TRY_GOTO(sr_alloc(&items, (size_t)s->k, sizeof *items, "recs row"));
  TRY_GOTO(sr_alloc(&scores, (size_t)s->k, sizeof *scores, "recs row"));
  sr_info("  first users (raw ids; top items with scores):");
  for (int64_t r = 0; r < n; r++) {
    int32_t u = 0;
    TRY_GOTO(sr_h5_read_rows(d_user, path, "/recs/user", H5T_NATIVE_INT32, r, 1, &u));
    TRY_GOTO(sr_h5_read_rows(d_item, path, "/recs/item", H5T_NATIVE_INT32, r, 1, items));
    TRY_GOTO(sr_h5_read_rows(d_score, path, "/recs/score", H5T_NATIVE_FLOAT, r, 1, scores));
    char line[1024], id[64];
    raw_id(d_uid, path, "/users/raw_id", u, id, sizeof id);
    int used = snprintf(line, sizeof line, "    %-12s", id);
    for (int64_t j = 0; j < show && used < (int)sizeof line; j++) {
      if (items[j] == 0) {
        used += snprintf(line + used, sizeof line - (size_t)used, "  (padding)");
        break;
      }
      raw_id(d_iid, path, "/items/raw_id", items[j], id, sizeof id);
      if (titles)
        used += snprintf(line + used, sizeof line - (size_t)used, "  %.24s \"%.40s\" (%.3g)", id,
                         titles + (size_t)items[j] * ((size_t)title_width + 1), (double)scores[j]);
      else
        used += snprintf(line + used, sizeof line - (size_t)used, "  %.24s (%.3g)", id,
                         (double)scores[j]);
    }
    if (s->k > show && items[show - 1] != 0 && used < (int)sizeof line)
      snprintf(line + used, sizeof line - (size_t)used, "  ...");
    sr_info("%s", line);
  }
cleanup:
  sr_free(items);
  sr_free(scores);
  sr_free(titles);
  sr_h5_close(&d_user);
  sr_h5_close(&d_item);
  sr_h5_close(&d_score);
  sr_h5_close(&d_uid);
  sr_h5_close(&d_iid);
  sr_h5_close(&f);
  return st;
}

static sr_status info_recs(const char *path) {
  scorer_recs_summary s;
  TRY(scorer_recs_check(path, &s));
  sr_info("%s: %s version %d, checked: ok", path, SR_RECS_FORMAT, SR_RECS_VERSION);
  sr_info("  users        %lld scored (%s) of %lld in /users/raw_id", (long long)s.n_rows,
          s.users, (long long)s.n_users);
  sr_info("  k            %lld per user; %lld rows padded with %lld item-0 slots (fewer "
          "eligible items than k)", (long long)s.k, (long long)s.padded_rows,
          (long long)s.padded_slots);
  sr_info("  items        %lld (/items/raw_id)", (long long)s.n_items);
  if (!s.exclude_seen)
    sr_info("  seen items   may be recommended (exclude_seen false)");
  else if (s.seen_checked)
    sr_info("  seen items   excluded; checked against %s: none recommended", s.events);
  else
    sr_info("  seen items   excluded; %s", s.seen_note);
  char now[72] = "";
  const char *verdict = "the file is gone";
  if (access(s.checkpoint, R_OK) == 0) {
    if (sr_sha256_file(s.checkpoint, now) == SR_OK)
      verdict = strcmp(now, s.checkpoint_sha256) == 0 ? "the file still matches"
                                                      : "the file has changed since";
    else
      verdict = "the file cannot be read";
    sr_error_clear();
  }
  sr_info("  checkpoint   %s (sha256 %.16s..., %s)", s.checkpoint, s.checkpoint_sha256, verdict);
  sr_info("  events       %s (fingerprint %s)", s.events, s.events_fingerprint);
  sr_info("  created      %s", s.created);
  return print_first_users(path, &s);
}

sr_status scorer_info_main(const sr_comm *comm, int argc, char **argv) {
  const char *path = info_operand(argc, argv);
  if (!path) return sr_error(SR_EINVAL, "info: usage: seqrec info FILE.h5");
  sr_status st = SR_OK;
  if (comm->rank == 0) st = info_recs(path);
  if (comm->size > 1) st = sr_comm_agree(comm, st);
  return st;
}
