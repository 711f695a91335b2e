/* From the log as read to the table events.h5 wants: events grouped by user (counting sort) and
 * stably sorted by time, duplicates dropped, the k-core filter applied until stable, and dense
 * ids given to what survives. Not for reading input (import_parse.c) nor HDF5 (events.h). */
#include <stdlib.h>
#include <string.h>

#include "core/arena.h"
#include "events/import.h"

/* Stable sort of idx[0..n) by time[idx[i]]; tmp has room for n. Input order breaks ties. */
static void sort_by_time(int64_t *idx, int64_t n, const int64_t *time, int64_t *tmp) {
  if (n < 24) {
    for (int64_t i = 1; i < n; i++) {
      int64_t v = idx[i], j = i;
      while (j > 0 && time[idx[j - 1]] > time[v]) {
        idx[j] = idx[j - 1];
        j--;
      }
      idx[j] = v;
    }
    return;
  }
  int64_t h = n / 2;
  sort_by_time(idx, h, time, tmp);
  sort_by_time(idx + h, n - h, time, tmp);
  if (time[idx[h - 1]] <= time[idx[h]]) return;
  memcpy(tmp, idx, (size_t)h * sizeof *idx);
  int64_t a = 0, b = h, o = 0;
  while (a < h && b < n) idx[o++] = time[idx[b]] < time[tmp[a]] ? idx[b++] : tmp[a++];
  while (a < h) idx[o++] = tmp[a++];
}

typedef struct {
  int32_t item;
  uint8_t type;
  int64_t pos; /* index in the user's slice: smaller came first in the input */
} dedupe_key;

static int dedupe_cmp(const void *pa, const void *pb) {
  const dedupe_key *a = pa, *b = pb;
  if (a->item != b->item) return a->item < b->item ? -1 : 1;
  if (a->type != b->type) return a->type < b->type ? -1 : 1;
  return a->pos < b->pos ? -1 : a->pos > b->pos;
}

/* Marks repeats of (item, type) within idx[0..n), events of one user at one time, keeping the
 * first in input order (idx is in input order). keys has room for n. Returns how many. */
static int64_t dedupe_group(const sr_import_log *log, const int64_t *idx, int64_t n, uint8_t *alive,
                            dedupe_key *keys) {
  int64_t dropped = 0;
  if (n <= 16) {
    for (int64_t i = 1; i < n; i++)
      for (int64_t j = 0; j < i; j++) {
        int64_t a = idx[j], b = idx[i];
        if (alive[a] && log->item[a] == log->item[b] &&
            (!log->type || log->type[a] == log->type[b])) {
          alive[b] = 0;
          dropped++;
          break;
        }
      }
    return dropped;
  }
  for (int64_t i = 0; i < n; i++)
    keys[i] = (dedupe_key){log->item[idx[i]], log->type ? log->type[idx[i]] : 0, i};
  qsort(keys, (size_t)n, sizeof *keys, dedupe_cmp);
  for (int64_t i = 1; i < n; i++)
    if (keys[i].item == keys[i - 1].item && keys[i].type == keys[i - 1].type) {
      alive[idx[keys[i].pos]] = 0;
      dropped++;
    }
  return dropped;
}

void sr_import_table_free(sr_import_table *t) {
  sr_free(t->lengths);
  sr_free(t->user_raw);
  sr_free(t->item_raw);
  sr_free(t->item);
  sr_free(t->time);
  sr_free(t->type);
  memset(t, 0, sizeof *t);
}

sr_status sr_import_table_build(const sr_import_log *log, const sr_import_filter *filter,
                                sr_import_table *t) {
  sr_status st = SR_OK;
  memset(t, 0, sizeof *t);
  const int64_t n = log->n;
  const int32_t n_ukeys = log->users.n, n_ikeys = log->items.n;
  int64_t *start = NULL;                /* [n_ukeys + 1] slice of each user key in order */
  int64_t *order = NULL;                /* [n] event indices grouped by user key, by time within */
  int64_t *tmp = NULL;                  /* [longest slice] */
  uint8_t *alive = NULL;                /* [n] */
  int64_t *ucount = NULL;               /* [n_ukeys] alive events per user key */
  int64_t *icount = NULL;               /* [n_ikeys] */
  int32_t *users = NULL, *items = NULL; /* keys in dense-id order */
  int32_t *item_dense = NULL;           /* [n_ikeys] */
  uint8_t *udrop = NULL, *idrop = NULL; /* [n_ukeys], [n_ikeys] dropped this k-core round */
  dedupe_key *keys = NULL;
  if (n == 0) FAIL_GOTO(SR_EINVAL, "no events in the input");

  /* Counting sort by user key keeps input order within a user: the base of a stable sort. */
  TRY_GOTO(sr_alloc(&start, (size_t)n_ukeys + 1, sizeof *start, "user slices"));
  TRY_GOTO(sr_alloc(&order, (size_t)n, sizeof *order, "event order"));
  for (int64_t e = 0; e < n; e++) start[log->user[e] + 1]++;
  int64_t longest = 0;
  for (int32_t u = 0; u < n_ukeys; u++) {
    if (start[u + 1] > longest) longest = start[u + 1];
    start[u + 1] += start[u];
  }
  for (int64_t e = 0; e < n; e++) order[start[log->user[e]]++] = e;
  for (int32_t u = n_ukeys; u > 0; u--) start[u] = start[u - 1];
  start[0] = 0;
  TRY_GOTO(sr_alloc(&tmp, (size_t)longest, sizeof *tmp, "sort buffer"));
  for (int32_t u = 0; u < n_ukeys; u++)
    sort_by_time(order + start[u], start[u + 1] - start[u], log->time, tmp);

  TRY_GOTO(sr_alloc(&alive, (size_t)n, 1, "event filter"));
  memset(alive, 1, (size_t)n);
  if (filter->dedupe) {
    TRY_GOTO(sr_alloc(&keys, (size_t)longest, sizeof *keys, "dedupe buffer"));
    for (int32_t u = 0; u < n_ukeys; u++) {
      int64_t a = start[u], end = start[u + 1];
      while (a < end) {
        int64_t b = a + 1;
        while (b < end && log->time[order[b]] == log->time[order[a]]) b++;
        /* Within one time the slice is in input order (the sort is stable). */
        if (b - a > 1) t->n_duplicates += dedupe_group(log, order + a, b - a, alive, keys);
        a = b;
      }
    }
  }

  /* k-core: dropping a user's events can push an item under its minimum (and back), so repeat
   * until nothing changes. */
  TRY_GOTO(sr_alloc(&ucount, (size_t)n_ukeys, sizeof *ucount, "events per user"));
  TRY_GOTO(sr_alloc(&icount, (size_t)n_ikeys, sizeof *icount, "events per item"));
  int64_t n_alive = 0;
  for (int64_t e = 0; e < n; e++)
    if (alive[e]) {
      ucount[log->user[e]]++;
      icount[log->item[e]]++;
      n_alive++;
    }
  int64_t users_before = 0, items_before = 0, alive_before = n_alive;
  for (int32_t u = 0; u < n_ukeys; u++) users_before += ucount[u] > 0;
  for (int32_t i = 0; i < n_ikeys; i++) items_before += icount[i] > 0;
  const int64_t min_u = filter->min_user_events, min_i = filter->min_item_events;
  TRY_GOTO(sr_alloc(&udrop, (size_t)n_ukeys, 1, "k-core filter"));
  TRY_GOTO(sr_alloc(&idrop, (size_t)n_ikeys, 1, "k-core filter"));
  for (;;) {
    /* One round drops every user and item under its minimum at the start of the round. */
    int64_t doomed = 0;
    for (int32_t u = 0; u < n_ukeys; u++) {
      udrop[u] = ucount[u] > 0 && ucount[u] < min_u;
      doomed += udrop[u];
    }
    for (int32_t i = 0; i < n_ikeys; i++) {
      idrop[i] = icount[i] > 0 && icount[i] < min_i;
      doomed += idrop[i];
    }
    if (doomed == 0) break;
    t->kcore_rounds++;
    for (int64_t e = 0; e < n; e++) {
      if (!alive[e] || !(udrop[log->user[e]] || idrop[log->item[e]])) continue;
      alive[e] = 0;
      n_alive--;
      ucount[log->user[e]]--;
      icount[log->item[e]]--;
    }
  }
  if (n_alive == 0)
    FAIL_GOTO(SR_EINVAL,
              "no events left after filtering: %lld events read, %lld duplicates, then "
              "--min-user-events %lld / --min-item-events %lld dropped the rest",
              (long long)n, (long long)t->n_duplicates, (long long)min_u, (long long)min_i);

  /* Catalogue items without events stay: the sort keeps keys with a count, and the counts of
   * items are not used after it. */
  for (int32_t i = 0; filter->keep_items && i < n_ikeys; i++)
    if (filter->keep_items[i] && icount[i] == 0) {
      icount[i] = 1;
      t->catalogue_items++;
    }
  int32_t n_users, n_items;
  TRY_GOTO(sr_import_ids_sort(&log->users, ucount, &users, &n_users));
  TRY_GOTO(sr_import_ids_sort(&log->items, icount, &items, &n_items));
  t->kcore_users = users_before - n_users;
  t->kcore_items = items_before - (n_items - t->catalogue_items);
  t->kcore_events = alive_before - n_alive;
  if (n_items >= INT32_MAX) FAIL_GOTO(SR_EINVAL, "%d distinct items: item ids are int32", n_items);

  t->n_users = n_users;
  t->n_items = n_items;
  t->n_events = n_alive;
  TRY_GOTO(sr_alloc(&item_dense, (size_t)n_ikeys, sizeof *item_dense, "item ids"));
  TRY_GOTO(sr_alloc(&t->item_raw, (size_t)n_items + 1, sizeof *t->item_raw, "item raw ids"));
  t->item_raw[0] = "";
  for (int32_t i = 0; i < n_items; i++) {
    item_dense[items[i]] = i + 1;
    t->item_raw[i + 1] = sr_import_ids_get(&log->items, items[i]);
  }
  TRY_GOTO(sr_alloc(&t->lengths, (size_t)n_users, sizeof *t->lengths, "user lengths"));
  TRY_GOTO(sr_alloc(&t->user_raw, (size_t)n_users, sizeof *t->user_raw, "user raw ids"));
  TRY_GOTO(sr_alloc(&t->item, (size_t)n_alive, sizeof *t->item, "events"));
  TRY_GOTO(sr_alloc(&t->time, (size_t)n_alive, sizeof *t->time, "events"));
  if (log->type) TRY_GOTO(sr_alloc(&t->type, (size_t)n_alive, sizeof *t->type, "events"));
  int64_t o = 0;
  t->user_id_width = 1;
  for (int32_t d = 0; d < n_users; d++) {
    int32_t u = users[d];
    t->user_raw[d] = sr_import_ids_get(&log->users, u);
    size_t w = strlen(t->user_raw[d]);
    if ((int)w > t->user_id_width) t->user_id_width = (int)w;
    t->lengths[d] = ucount[u];
    for (int64_t s = start[u]; s < start[u + 1]; s++) {
      int64_t e = order[s];
      if (!alive[e]) continue;
      t->item[o] = item_dense[log->item[e]];
      t->time[o] = log->time[e];
      if (log->type) {
        t->type[o] = log->type[e];
        t->type_count[log->type[e]]++;
      }
      o++;
    }
  }
  if (o != n_alive)
    FAIL_GOTO(SR_EINTERNAL, "import: %lld events out of %lld kept", (long long)o,
              (long long)n_alive);

cleanup:
  sr_free(start);
  sr_free(order);
  sr_free(tmp);
  sr_free(alive);
  sr_free(ucount);
  sr_free(icount);
  sr_free(users);
  sr_free(items);
  sr_free(item_dense);
  sr_free(keys);
  sr_free(udrop);
  sr_free(idrop);
  if (st != SR_OK) sr_import_table_free(t);
  return st;
}
