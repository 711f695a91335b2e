/* The recs.h5 checker behind `seqrec info`; see recs.h. Streams /recs in blocks of rows, so
 * memory does not grow with the file (the item marks and /users/offset aside). */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "core/arena.h"
#include "events/h5util.h"
#include "scorer/recs.h"

enum { CHECK_BLOCK_ROWS = 4096 };

/* What the row checks need, open for the whole walk. */
typedef struct {
  const char *path;
  hid_t d_user, d_item, d_score;
  int64_t n_rows, k, n_users, n_items;
  uint8_t *item_new; /* [n_items + 1] /items/new, or NULL in files from before it */
  int new_rule;      /* 0: none; 1: no new item (new_items exclude); 2: only new items */
  /* seen items, when they are checked */
  const char *events_path;
  hid_t events, d_events_item;
  int64_t *offset;  /* [n_users + 1] of events.h5 */
  int64_t n_events;
  /* Rows come in increasing user order, so histories are read through a window of
   * /events/item that moves forward: a few large reads rather than one per user. */
  int32_t *window;  /* [window_cap] events [window_begin, window_begin + window_n) */
  int64_t window_cap, window_begin, window_n;
  uint8_t *mark;    /* [n_items + 1]: bit 0 seen by the row's user, bit 1 in the row */
} recs_walk;

static sr_status attrs_read(hid_t f, const char *path, scorer_recs_summary *s) {
  char format[64] = "";
  int64_t version = 0, exclude = 0;
  if (!sr_h5_attr_exists(f, "format"))
    return sr_error(SR_EFORMAT, "%s: /: no 'format' attribute, so not a seqrec file", path);
  TRY(sr_h5_attr_read_str(f, path, "/", "format", format, sizeof format));
  if (strcmp(format, SR_RECS_FORMAT) != 0)
    return sr_error(SR_EFORMAT, "%s: /: attribute 'format' is '%s', expected '%s'", path, format,
                    SR_RECS_FORMAT);
  TRY(sr_h5_attr_read_i64(f, path, "/", "version", &version));
  if (version != SR_RECS_VERSION)
    return sr_error(SR_EFORMAT, "%s: /: version %lld; this seqrec reads version %d recs files",
                    path, (long long)version, SR_RECS_VERSION);
  TRY(sr_h5_attr_read_i64(f, path, "/", "k", &s->k));
  TRY(sr_h5_attr_read_i64(f, path, "/", "exclude_seen", &exclude));
  s->exclude_seen = exclude != 0;
  TRY(sr_h5_attr_read_str(f, path, "/", "checkpoint", s->checkpoint, sizeof s->checkpoint));
  TRY(sr_h5_attr_read_str(f, path, "/", "checkpoint_sha256", s->checkpoint_sha256,
                          sizeof s->checkpoint_sha256));
  TRY(sr_h5_attr_read_str(f, path, "/", "events", s->events, sizeof s->events));
  TRY(sr_h5_attr_read_str(f, path, "/", "events_fingerprint", s->events_fingerprint,
                          sizeof s->events_fingerprint));
  TRY(sr_h5_attr_read_str(f, path, "/", "created", s->created, sizeof s->created));
  TRY(sr_h5_attr_read_str(f, path, "/", "users", s->users, sizeof s->users));
  if (s->k < 1) return sr_error(SR_EFORMAT, "%s: /: attribute k is %lld", path, (long long)s->k);
  return SR_OK;
}

/* Opens the dataset and checks its type and shape (rows, and columns when cols > 0). */
static sr_status dataset_expect(hid_t f, const char *path, const char *h5path, hid_t type,
                                int rank, int64_t rows, int64_t cols, hid_t *d, int64_t *dims) {
  TRY(sr_h5_dataset_open(f, path, h5path, d));
  TRY(sr_h5_dataset_expect(*d, path, h5path, type, rank, dims));
  if (rows >= 0 && dims[0] != rows)
    return sr_error(SR_EFORMAT, "%s: %s has %lld rows, /recs/user %lld", path, h5path,
                    (long long)dims[0], (long long)rows);
  if (rank == 2 && dims[1] != cols)
    return sr_error(SR_EFORMAT, "%s: %s has %lld columns, the attribute k says %lld", path,
                    h5path, (long long)dims[1], (long long)cols);
  return SR_OK;
}

/* Opens the events file for the seen-item check when it is there and is the same data;
 * otherwise says why not in s->seen_note and leaves w->events invalid. */
static sr_status seen_open(recs_walk *w, scorer_recs_summary *s) {
  char fingerprint[64] = "";
  hid_t f = H5I_INVALID_HID, d = H5I_INVALID_HID;
  int64_t dims[1] = {0};
  if (!s->exclude_seen) return SR_OK;
  if (sr_h5_open_read(s->events, &f) != SR_OK) {
    snprintf(s->seen_note, sizeof s->seen_note, "seen items not checked: %s", sr_error_message());
    sr_error_clear();
    return SR_OK;
  }
  if (!sr_h5_attr_exists(f, "fingerprint") ||
      sr_h5_attr_read_str(f, s->events, "/", "fingerprint", fingerprint, sizeof fingerprint) !=
          SR_OK ||
      strcmp(fingerprint, s->events_fingerprint) != 0) {
    sr_error_clear();
    snprintf(s->seen_note, sizeof s->seen_note,
             "seen items not checked: %s is no longer the data that was scored (fingerprint %s, "
             "scored %s)", s->events, fingerprint[0] ? fingerprint : "none",
             s->events_fingerprint);
    sr_h5_close(&f);
    return SR_OK;
  }
  sr_status st = SR_OK;
  w->events_path = s->events;
  TRY_GOTO(sr_h5_dataset_open(f, s->events, "/users/offset", &d));
  TRY_GOTO(sr_h5_dataset_expect(d, s->events, "/users/offset", H5T_NATIVE_INT64, 1, dims));
  if (dims[0] != w->n_users + 1)
    FAIL_GOTO(SR_EFORMAT, "%s: /users/offset has %lld entries, but %s names %lld users", s->events,
              (long long)dims[0], w->path, (long long)w->n_users);
  TRY_GOTO(sr_alloc(&w->offset, (size_t)dims[0], sizeof *w->offset, "user offsets"));
  TRY_GOTO(sr_h5_read_rows(d, s->events, "/users/offset", H5T_NATIVE_INT64, 0, dims[0],
                           w->offset));
  w->n_events = w->offset[w->n_users];
  TRY_GOTO(sr_h5_dataset_open(f, s->events, "/events/item", &w->d_events_item));
  w->events = f;
  f = H5I_INVALID_HID;
cleanup:
  sr_h5_close(&d);
  sr_h5_close(&f);
  return st;
}

enum { CHECK_WINDOW_EVENTS = 1 << 20 };

/* Marks (on) or unmarks bit 0 for the items of user u's history in the events file. */
static sr_status seen_mark(recs_walk *w, int64_t u, int on) {
  const int64_t b = w->offset[u], n = w->offset[u + 1] - b;
  if (on && (b < w->window_begin || b + n > w->window_begin + w->window_n)) {
    int64_t want = n > CHECK_WINDOW_EVENTS ? n : CHECK_WINDOW_EVENTS;
    if (want > w->n_events - b) want = w->n_events - b;
    if (want > w->window_cap) {
      TRY(sr_realloc(&w->window, (size_t)want, sizeof *w->window, "events window"));
      w->window_cap = want;
    }
    w->window_begin = b;
    w->window_n = 0;
    TRY(sr_h5_read_rows(w->d_events_item, w->events_path, "/events/item", H5T_NATIVE_INT32, b,
                        want, w->window));
    w->window_n = want;
  }
  const int32_t *history = w->window + (b - w->window_begin);
  for (int64_t p = 0; p < n; p++) {
    const int32_t it = history[p];
    if (it < 0 || it > w->n_items)
      return sr_error(SR_EFORMAT, "%s: /events/item[%lld] = %d is outside 1..%lld",
                      w->events_path, (long long)(b + p), (int)it, (long long)w->n_items);
    if (on) w->mark[it] |= 1;
    else w->mark[it] &= (uint8_t)~1u;
  }
  return SR_OK;
}

/* The checks of one row (see recs.h); r is the row, u its user. */
static sr_status row_check(recs_walk *w, scorer_recs_summary *s, int64_t r, int64_t u,
                           const int32_t *item, const float *score) {
  const char *p = w->path;
  sr_status st = SR_OK;
  int64_t real = 0;
  if (w->events >= 0) TRY(seen_mark(w, u, 1));
  for (int64_t j = 0; j < w->k; j++) {
    const int32_t it = item[j];
    const float sc = score[j];
    if (it == 0) {
      if (!(isinf(sc) && sc < 0))
        FAIL_GOTO(SR_EFORMAT, "%s: /recs/score[%lld, %lld] is %g at a padding slot (item 0); "
                  "padding has score -inf", p, (long long)r, (long long)j, (double)sc);
      continue;
    }
    if (real < j)
      FAIL_GOTO(SR_EFORMAT, "%s: /recs/item[%lld, %lld] = %d follows padding: padding (item 0) "
                "belongs only at the end of a row", p, (long long)r, (long long)j, (int)it);
    if (it < 0 || it > w->n_items)
      FAIL_GOTO(SR_EFORMAT, "%s: /recs/item[%lld, %lld] = %d is outside the items 1..%lld of "
                "/items/raw_id", p, (long long)r, (long long)j, (int)it, (long long)w->n_items);
    if (w->item_new) {
      const int is_new = w->item_new[it] != 0;
      s->new_recommended += is_new;
      if ((w->new_rule == 1 && is_new) || (w->new_rule == 2 && !is_new))
        FAIL_GOTO(SR_EFORMAT, "%s: /recs/item[%lld, %lld] = %d is %s since training (/items/new), "
                  "though new_items is %s", p, (long long)r, (long long)j, (int)it,
                  is_new ? "new" : "not new", s->new_items);
    }
    if (!isfinite(sc))
      FAIL_GOTO(SR_EFORMAT, "%s: /recs/score[%lld, %lld] is %g for item %d; real items have "
                "finite scores", p, (long long)r, (long long)j, (double)sc, (int)it);
    if (j > 0 && !(score[j - 1] > sc || (score[j - 1] == sc && item[j - 1] < it)))
      FAIL_GOTO(SR_EFORMAT, "%s: /recs row %lld: item %d (score %.9g) follows item %d (score "
                "%.9g): scores must descend, equal scores in increasing item id", p,
                (long long)r, (int)it, (double)sc, (int)item[j - 1], (double)score[j - 1]);
    if (w->mark[it] & 2)
      FAIL_GOTO(SR_EFORMAT, "%s: /recs row %lld recommends item %d twice", p, (long long)r,
                (int)it);
    if (w->mark[it] & 1)
      FAIL_GOTO(SR_EFORMAT, "%s: /recs row %lld recommends item %d, which user %lld already has "
                "in %s, though exclude_seen is set", p, (long long)r, (int)it, (long long)u,
                w->events_path);
    w->mark[it] |= 2;
    real++;
  }
  if (real < w->k) {
    s->padded_rows++;
    s->padded_slots += w->k - real;
  }
cleanup:
  for (int64_t j = 0; j < w->k; j++)
    if (item[j] > 0 && item[j] <= w->n_items) w->mark[item[j]] &= (uint8_t)~2u;
  if (w->events >= 0) {
    sr_status clear = seen_mark(w, u, 0);
    if (st == SR_OK) st = clear;
  }
  return st;
}

sr_status scorer_recs_check(const char *path, scorer_recs_summary *summary) {
  scorer_recs_summary local;
  scorer_recs_summary *s = summary ? summary : &local;
  memset(s, 0, sizeof *s);
  recs_walk w = {.path = path, .d_user = H5I_INVALID_HID, .d_item = H5I_INVALID_HID,
                 .d_score = H5I_INVALID_HID, .events = H5I_INVALID_HID,
                 .d_events_item = H5I_INVALID_HID};
  sr_status st = SR_OK;
  hid_t f = H5I_INVALID_HID, d_uid = H5I_INVALID_HID, d_iid = H5I_INVALID_HID;
  int32_t *users = NULL, *items = NULL;
  float *scores = NULL;
  int64_t dims[2] = {0, 0};
  TRY_GOTO(sr_h5_open_read(path, &f));
  TRY_GOTO(attrs_read(f, path, s));
  if (sr_h5_attr_exists(f, "new_items"))
    TRY_GOTO(sr_h5_attr_read_str(f, path, "/", "new_items", s->new_items, sizeof s->new_items));
  w.new_rule = strcmp(s->new_items, "exclude") == 0 ? 1 : strcmp(s->new_items, "only") == 0 ? 2 : 0;
  w.k = s->k;
  TRY_GOTO(dataset_expect(f, path, "/recs/user", H5T_NATIVE_INT32, 1, -1, 0, &w.d_user, dims));
  w.n_rows = s->n_rows = dims[0];
  TRY_GOTO(dataset_expect(f, path, "/recs/item", H5T_NATIVE_INT32, 2, w.n_rows, w.k, &w.d_item,
                          dims));
  TRY_GOTO(dataset_expect(f, path, "/recs/score", H5T_NATIVE_FLOAT, 2, w.n_rows, w.k,
                          &w.d_score, dims));
  TRY_GOTO(dataset_expect(f, path, "/users/raw_id", H5T_C_S1, 1, -1, 0, &d_uid, dims));
  w.n_users = s->n_users = dims[0];
  TRY_GOTO(dataset_expect(f, path, "/items/raw_id", H5T_C_S1, 1, -1, 0, &d_iid, dims));
  if (dims[0] < 1)
    FAIL_GOTO(SR_EFORMAT, "%s: /items/raw_id is empty; row 0 (padding) is always there", path);
  w.n_items = s->n_items = dims[0] - 1;
  if (w.n_rows > w.n_users)
    FAIL_GOTO(SR_EFORMAT, "%s: %lld rows for the %lld users of /users/raw_id", path,
              (long long)w.n_rows, (long long)w.n_users);

  TRY_GOTO(sr_alloc(&w.mark, (size_t)w.n_items + 1, 1, "item marks"));
  if (sr_h5_exists(f, "/items/new")) {
    hid_t d_new = H5I_INVALID_HID;
    TRY_GOTO(dataset_expect(f, path, "/items/new", H5T_NATIVE_UINT8, 1, w.n_items + 1, 0, &d_new,
                            dims));
    TRY_GOTO(sr_alloc(&w.item_new, (size_t)w.n_items + 1, 1, "new-item marks"));
    st = sr_h5_read_rows(d_new, path, "/items/new", H5T_NATIVE_UINT8, 0, w.n_items + 1,
                         w.item_new);
    sr_h5_close(&d_new);
    TRY_GOTO(st);
  }
  TRY_GOTO(seen_open(&w, s));
  const int64_t block = CHECK_BLOCK_ROWS;
  TRY_GOTO(sr_alloc(&users, (size_t)block, sizeof *users, "recs users"));
  TRY_GOTO(sr_alloc(&items, (size_t)block * (size_t)w.k, sizeof *items, "recs items"));
  TRY_GOTO(sr_alloc(&scores, (size_t)block * (size_t)w.k, sizeof *scores, "recs scores"));
  int64_t previous = -1;
  for (int64_t r0 = 0; r0 < w.n_rows; r0 += block) {
    const int64_t n = w.n_rows - r0 < block ? w.n_rows - r0 : block;
    TRY_GOTO(sr_h5_read_rows(w.d_user, path, "/recs/user", H5T_NATIVE_INT32, r0, n, users));
    TRY_GOTO(sr_h5_read_rows(w.d_item, path, "/recs/item", H5T_NATIVE_INT32, r0, n, items));
    TRY_GOTO(sr_h5_read_rows(w.d_score, path, "/recs/score", H5T_NATIVE_FLOAT, r0, n, scores));
    for (int64_t i = 0; i < n; i++) {
      const int64_t u = users[i];
      if (u <= previous || u >= w.n_users)
        FAIL_GOTO(SR_EFORMAT, "%s: /recs/user[%lld] = %lld; users must increase and lie in "
                  "0..%lld (/users/raw_id)", path, (long long)(r0 + i), (long long)u,
                  (long long)w.n_users - 1);
      previous = u;
      TRY_GOTO(row_check(&w, s, r0 + i, u, items + i * w.k, scores + i * w.k));
    }
  }
  s->seen_checked = w.events >= 0;
cleanup:
  sr_free(users);
  sr_free(items);
  sr_free(scores);
  sr_free(w.mark);
  sr_free(w.item_new);
  sr_free(w.offset);
  sr_free(w.window);
  sr_h5_close(&w.d_events_item);
  sr_h5_close(&w.events);
  sr_h5_close(&w.d_user);
  sr_h5_close(&w.d_item);
  sr_h5_close(&w.d_score);
  sr_h5_close(&d_uid);
  sr_h5_close(&d_iid);
  sr_h5_close(&f);
  return st;
}
