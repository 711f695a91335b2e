/* The users to score; see select.h. A users file is resolved against raw ids shard by shard:
 * each rank looks every line up among its own users only, and the ranks then agree on which
 * lines nobody knew. No rank ever holds all raw ids. */
#include "scorer/select.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/arena.h"
#include "core/log.h"
#include "events/events.h"

sr_status scorer_user_range_parse(const char *text, int64_t n_users, int64_t *begin,
                                  int64_t *end) {
  char *rest = NULL;
  errno = 0;
  long long b = strtoll(text, &rest, 10);
  int ok = errno == 0 && rest != text && *rest == ':' && text[0] >= '0' && text[0] <= '9';
  long long e = 0;
  if (ok) {
    const char *second = rest + 1;
    e = strtoll(second, &rest, 10);
    ok = errno == 0 && rest != second && *rest == '\0' && second[0] >= '0' && second[0] <= '9';
  }
  if (!ok)
    return sr_error(SR_EINVAL, "score.user_range: '%s' is not BEGIN:END (two dense user ids, "
                    "e.g. \"0:1000\" scores users 0..999)", text);
  if (b > e || e > n_users)
    return sr_error(SR_EINVAL, "score.user_range: %lld:%lld is outside the %lld users of the "
                    "events file (need 0 <= BEGIN <= END <= %lld)", b, e, (long long)n_users,
                    (long long)n_users);
  *begin = b;
  *end = e;
  return SR_OK;
}

/* comm NULL: this process alone, without MPI (tests, tools). */
static int comm_rank(const sr_comm *c) { return c ? c->rank : 0; }
static int comm_size(const sr_comm *c) { return c ? c->size : 1; }

/* Raw id -> local user, open addressing over the shard's packed ids. */
typedef struct {
  const char *ids;  /* [n, width + 1] NUL-terminated */
  int width;
  int64_t *slot;    /* [mask + 1] local user + 1, 0 = empty */
  uint64_t mask;
} id_table;

static uint64_t id_hash(const char *s, size_t n) {
  uint64_t h = 0xcbf29ce484222325ull; /* FNV-1a */
  for (size_t i = 0; i < n; i++) h = (h ^ (unsigned char)s[i]) * 0x100000001b3ull;
  return h;
}

static sr_status id_table_build(id_table *t, const char *ids, int width, int64_t n) {
  uint64_t size = 16;
  while (size < 2 * (uint64_t)n) size *= 2;
  t->ids = ids;
  t->width = width;
  t->mask = size - 1;
  TRY(sr_alloc(&t->slot, (size_t)size, sizeof *t->slot, "raw id table"));
  for (int64_t u = 0; u < n; u++) {
    const char *s = ids + u * (width + 1);
    uint64_t h = id_hash(s, strlen(s)) & t->mask;
    while (t->slot[h]) h = (h + 1) & t->mask;
    t->slot[h] = u + 1;
  }
  return SR_OK;
}

/* The local user with raw id s[0..n), or -1. The first of equal ids wins (ids are unique in a
 * checked events file). */
static int64_t id_table_find(const id_table *t, const char *s, size_t n) {
  if (n > (size_t)t->width) return -1;
  for (uint64_t h = id_hash(s, n) & t->mask; t->slot[h]; h = (h + 1) & t->mask) {
    const char *id = t->ids + (t->slot[h] - 1) * (t->width + 1);
    if (strlen(id) == n && memcmp(id, s, n) == 0) return t->slot[h] - 1;
  }
  return -1;
}

/* Reads the file's lines, marking the local users they name in mark[] and the lines this rank
 * knows in *known ([*n_lines], 1 = known here, 0 = not here, -1 = empty line). */
static sr_status users_file_read(const char *path, const id_table *t, uint8_t *mark,
                                 int64_t **known, int64_t *n_lines) {
  sr_status st = SR_OK;
  FILE *f = fopen(path, "r");
  char *line = NULL; /* getline's buffer: malloc'd by libc */
  size_t cap = 0;
  int64_t have = 0;
  *known = NULL;
  *n_lines = 0;
  if (!f) return sr_error(SR_EIO, "%s: cannot open (score.users): %s", path, strerror(errno));
  ssize_t len;
  while ((len = getline(&line, &cap, f)) >= 0) {
    if (len > 0 && line[len - 1] == '\n') line[--len] = '\0';
    if (len > 0 && line[len - 1] == '\r') line[--len] = '\0';
    if (*n_lines == have) {
      have = have ? 2 * have : 1024;
      TRY_GOTO(sr_realloc(known, (size_t)have, sizeof **known, "users file lines"));
    }
    int64_t u = len == 0 ? -1 : id_table_find(t, line, (size_t)len);
    if (u >= 0) mark[u] = 1;
    (*known)[(*n_lines)++] = len == 0 ? -1 : u >= 0;
  }
  if (ferror(f)) FAIL_GOTO(SR_EIO, "%s: read error (score.users): %s", path, strerror(errno));
cleanup:
  free(line);
  fclose(f);
  return st;
}

/* The text of line `want` (0-based) of path, for the message about it. */
static void users_file_line(const char *path, int64_t want, char *out, size_t size) {
  out[0] = '\0';
  FILE *f = fopen(path, "r");
  if (!f) return;
  char *line = NULL;
  size_t cap = 0;
  ssize_t len;
  for (int64_t i = 0; (len = getline(&line, &cap, f)) >= 0; i++)
    if (i == want) {
      while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r')) line[--len] = '\0';
      snprintf(out, size, "%s", line);
      break;
    }
  free(line);
  fclose(f);
}

/* Marks the shard's users named in score.users; SR_EINVAL for the first line no rank knows. */
static sr_status users_file_select(const sr_config *cfg, const sr_events_shard *shard,
                                   const sr_comm *comm, uint8_t *mark) {
  const char *path = cfg->score.users;
  const int64_t n_local = shard->user_end - shard->user_begin;
  sr_status st = SR_OK;
  char *ids = NULL;
  int width = 0;
  id_table t = {0};
  int64_t *known = NULL, n_lines = 0;
  if (n_local > 0)
    TRY_GOTO(sr_events_read_raw_ids(cfg->data.events, "/users/raw_id", shard->user_begin,
                                     shard->user_end, &ids, &width));
  TRY_GOTO(id_table_build(&t, ids ? ids : "", width, n_local));
  TRY_GOTO(users_file_read(path, &t, mark, &known, &n_lines));
cleanup:
  /* Every rank reads the same file, so all have the same line count unless one failed. */
  if (comm) st = sr_comm_agree(comm, st);
  if (comm && st == SR_OK && n_lines > 0)
    st = sr_comm_allreduce_sum_i64(comm, known, (size_t)n_lines);
  if (st == SR_OK) {
    for (int64_t i = 0; i < n_lines; i++) {
      if (known[i] != 0) continue; /* known somewhere, or empty (-world) */
      char text[256];
      users_file_line(path, i, text, sizeof text);
      /* Every rank knows; one says it. */
      if (comm_rank(comm) == 0)
        st = sr_error(SR_EINVAL, "%s:%lld: user '%s' is not in %s (score.users: one raw user id "
                      "per line, as in /users/raw_id)", path, (long long)i + 1, text,
                      cfg->data.events);
      else
        st = sr_error(SR_EINVAL, "another rank failed (see its message above)");
      break;
    }
  }
  sr_free(known);
  sr_free(t.slot);
  sr_free(ids);
  return st;
}

sr_status scorer_selection_build(scorer_selection *sel, const sr_config *cfg,
                                 const sr_events_shard *shard, const sr_comm *comm) {
  memset(sel, 0, sizeof *sel);
  const int64_t ub = shard->user_begin, ue = shard->user_end, n_local = ue - ub;
  sr_status st = SR_OK;
  uint8_t *mark = NULL;
  int64_t *counts = NULL;
  if (cfg->score.users[0] && cfg->score.user_range[0])
    return sr_error(SR_EINVAL, "score.users and score.user_range are both set: choose one (a "
                    "users file, or a range of dense ids)");
  TRY_GOTO(sr_alloc(&mark, (size_t)n_local + 1, 1, "selected users"));
  if (cfg->score.users[0]) {
    TRY_GOTO(users_file_select(cfg, shard, comm, mark));
    snprintf(sel->what, sizeof sel->what, "file %s", cfg->score.users);
  } else if (cfg->score.user_range[0]) {
    int64_t b = 0, e = 0;
    TRY_GOTO(scorer_user_range_parse(cfg->score.user_range, shard->n_users, &b, &e));
    for (int64_t u = b > ub ? b : ub; u < (e < ue ? e : ue); u++) mark[u - ub] = 1;
    snprintf(sel->what, sizeof sel->what, "range %lld:%lld", (long long)b, (long long)e);
  } else {
    memset(mark, 1, (size_t)n_local);
    snprintf(sel->what, sizeof sel->what, "all");
  }
  for (int64_t u = 0; u < n_local; u++) sel->n += mark[u];
  TRY_GOTO(sr_alloc(&sel->user, (size_t)sel->n + 1, sizeof *sel->user, "selected users"));
  for (int64_t u = 0, j = 0; u < n_local; u++)
    if (mark[u]) sel->user[j++] = u;
  TRY_GOTO(sr_alloc(&counts, (size_t)comm_size(comm), sizeof *counts, "selection counts"));
  if (comm)
    TRY_GOTO(sr_comm_allgather_i64(comm, sel->n, counts));
  else
    counts[0] = sel->n;
  for (int r = 0; r < comm_size(comm); r++) {
    if (r < comm_rank(comm)) sel->first += counts[r];
    sel->total += counts[r];
  }
cleanup:
  sr_free(mark);
  sr_free(counts);
  if (st != SR_OK) scorer_selection_free(sel);
  return st;
}

void scorer_selection_free(scorer_selection *sel) {
  sr_free(sel->user);
  sel->user = NULL;
  sel->n = 0;
}
