/* libFuzzer harness for the importer's reading side: the same bytes are parsed in memory and
 * from a file in tiny blocks (the two must agree exactly), then filtered, ordered, written with
 * the events.h5 writer and checked. Not a test of the command line (tests/bad_inputs.sh).
 * Input: 3 option bytes (format, columns, header, --skip-bad; block and line sizes; filters),
 * then the log text. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/arena.h"
#include "events/cli.h"
#include "events/events.h"
#include "events/import.h"
#include "fuzz/fuzz_common.h"

/* Column choices for csv/tsv (user, item, time, type): numbers, header names, and a few that
 * must fail (beyond the row, names without --header, zero). */
static const char *const column_sets[8][4] = {
    {"1", "2", NULL, NULL},       {"1", "2", "3", NULL},         {"1", "2", "3", "4"},
    {"user", "item", "time", "type"}, {"2", "1", NULL, "3"},     {"1", "1", "1", "1"},
    {"user", "item", NULL, NULL}, {"0", "9", NULL, NULL},
};
static const size_t line_limits[4] = {0, 8, 64, 300}; /* 0: the default, 1 MiB */

/* Parse results must agree event for event, id for id (keys are given in first-seen order). */
static void logs_compare(const sr_import_log *a, const sr_import_log *b) {
  FUZZ_CHECK(a->n == b->n && a->n_rows == b->n_rows && a->n_types == b->n_types,
             "in memory: %lld events, %lld rows, %d types; from the file: %lld, %lld, %d",
             (long long)a->n, (long long)a->n_rows, a->n_types, (long long)b->n,
             (long long)b->n_rows, b->n_types);
  for (int k = 0; k < SR_IMPORT_BAD_KINDS; k++)
    FUZZ_CHECK(a->n_bad[k] == b->n_bad[k], "bad rows of kind %d: %lld in memory, %lld from file",
               k, (long long)a->n_bad[k], (long long)b->n_bad[k]);
  for (int t = 0; t < a->n_types; t++)
    FUZZ_CHECK(strcmp(a->types[t], b->types[t]) == 0, "type %d differs", t);
  FUZZ_CHECK(a->users.n == b->users.n && a->items.n == b->items.n, "id counts differ");
  for (int64_t e = 0; e < a->n; e++) {
    FUZZ_CHECK(a->user[e] == b->user[e] && a->item[e] == b->item[e] && a->time[e] == b->time[e],
               "event %lld differs", (long long)e);
    FUZZ_CHECK(!a->type || a->type[e] == b->type[e], "type of event %lld differs", (long long)e);
  }
  for (int32_t k = 0; k < a->users.n; k++)
    FUZZ_CHECK(strcmp(sr_import_ids_get(&a->users, k), sr_import_ids_get(&b->users, k)) == 0,
               "user id %d differs", k);
  for (int32_t k = 0; k < a->items.n; k++)
    FUZZ_CHECK(strcmp(sr_import_ids_get(&a->items, k), sr_import_ids_get(&b->items, k)) == 0,
               "item id %d differs", k);
}

static int compare_strings(const void *x, const void *y) {
  return strcmp(*(const char *const *)x, *(const char *const *)y);
}

/* What events.h5 promises, checked on the table before the writer sees it. */
static void table_check(const sr_import_log *log, const sr_import_filter *f,
                        const sr_import_table *t) {
  FUZZ_CHECK(t->n_users >= 1 && t->n_items >= 1 && t->n_events >= 1, "an empty table");
  FUZZ_CHECK(t->n_events <= log->n, "more events than were read");
  int64_t sum = 0, *item_count = calloc((size_t)t->n_items + 1, sizeof *item_count);
  FUZZ_CHECK(item_count != NULL, "out of memory");
  for (int64_t u = 0; u < t->n_users; u++) {
    FUZZ_CHECK(t->lengths[u] >= 1 && t->lengths[u] >= f->min_user_events,
               "user %lld has %lld events", (long long)u, (long long)t->lengths[u]);
    for (int64_t k = 1; k < t->lengths[u]; k++)
      FUZZ_CHECK(t->time[sum + k - 1] <= t->time[sum + k], "user %lld not sorted by time",
                 (long long)u);
    FUZZ_CHECK(strlen(t->user_raw[u]) >= 1 && (int)strlen(t->user_raw[u]) <= t->user_id_width,
               "user %lld raw id '%s' against width %d", (long long)u, t->user_raw[u],
               t->user_id_width);
    sum += t->lengths[u];
  }
  FUZZ_CHECK(sum == t->n_events, "lengths sum to %lld, not %lld", (long long)sum,
             (long long)t->n_events);
  for (int64_t e = 0; e < t->n_events; e++) {
    FUZZ_CHECK(t->item[e] >= 1 && t->item[e] <= t->n_items, "item %d of %lld", t->item[e],
               (long long)t->n_items);
    item_count[t->item[e]]++;
    FUZZ_CHECK(!t->type || t->type[e] < log->n_types, "type %d", t->type[e]);
  }
  for (int64_t i = 1; i <= t->n_items; i++)
    FUZZ_CHECK(item_count[i] >= 1 && item_count[i] >= f->min_item_events,
               "item %lld has %lld events", (long long)i, (long long)item_count[i]);
  free(item_count);
  /* Dense ids are distinct raw ids. */
  const char **ids = malloc((size_t)t->n_users * sizeof *ids);
  FUZZ_CHECK(ids != NULL, "out of memory");
  memcpy(ids, t->user_raw, (size_t)t->n_users * sizeof *ids);
  qsort(ids, (size_t)t->n_users, sizeof *ids, compare_strings);
  for (int64_t u = 1; u < t->n_users; u++)
    FUZZ_CHECK(strcmp(ids[u - 1], ids[u]) != 0, "user raw id '%s' twice", ids[u]);
  free(ids);
}

/* The table through the writer must give a file that the checker passes, with its counts. */
static void table_write_and_check(const sr_import_log *log, const sr_import_table *t) {
  char path[512];
  fuzz_path(path, sizeof path, "import.h5");
  sr_events_writer_opts wo;
  memset(&wo, 0, sizeof wo);
  wo.n_event_types = log->n_types;
  for (int k = 0; k < log->n_types; k++) wo.event_types[k] = log->types[k];
  wo.user_id_width = t->user_id_width;
  /* As long as an import of many files makes it: info once refused its own files for this. */
  char source[1500];
  memset(source, 's', sizeof source - 1);
  source[sizeof source - 1] = '\0';
  wo.source = source;
  sr_events_writer *w = NULL;
  sr_status st = sr_events_writer_open(&w, path, &wo);
  if (st == SR_OK)
    st = sr_events_writer_append_users(w, t->n_users, t->lengths, t->user_raw, t->item, t->time,
                                       t->type);
  if (st == SR_OK) st = sr_events_writer_set_items(w, t->n_items, t->item_raw);
  if (st == SR_OK) {
    st = sr_events_writer_commit(w);
    w = NULL;
  }
  sr_events_writer_abort(w);
  FUZZ_CHECK(st == SR_OK, "the writer refused what the importer accepted");
  sr_events_summary s;
  st = sr_events_check_summary(path, &s);
  FUZZ_CHECK(st == SR_OK, "the checker refused what the writer wrote");
  FUZZ_CHECK(s.n_users == t->n_users && s.n_items == t->n_items && s.n_events == t->n_events &&
                 s.has_fingerprint,
             "check summary %lld/%lld/%lld", (long long)s.n_users, (long long)s.n_items,
             (long long)s.n_events);
  unlink(path);
}

/* `seqrec import` itself on the same file and options: its verdict and counts must be the
 * library's (expected: the table's counts, or n_users < 0 when the import must fail). */
static void command_check(const sr_import_opts *o, const sr_import_filter *f, const char *input,
                          int64_t n_users, int64_t n_items, int64_t n_events) {
  static const char *const formats[] = {"csv", "tsv", "movielens", "sasrec", "taobao"};
  char output[512], min_user[32], min_item[32];
  fuzz_path(output, sizeof output, "import-cli.h5");
  snprintf(min_user, sizeof min_user, "%lld", (long long)f->min_user_events);
  snprintf(min_item, sizeof min_item, "%lld", (long long)f->min_item_events);
  const char *args[32];
  int n = 0;
  args[n++] = "import";
  args[n++] = "--format";
  args[n++] = formats[o->format];
  const char *col_opts[] = {"--user", "--item", "--time", "--type"};
  const char *col_vals[] = {o->user_col, o->item_col, o->time_col, o->type_col};
  for (int k = 0; k < 4; k++)
    if (col_vals[k]) args[n++] = col_opts[k], args[n++] = col_vals[k];
  if (o->header) args[n++] = "--header";
  if (o->skip_bad) args[n++] = "--skip-bad";
  if (f->dedupe) args[n++] = "--dedupe";
  args[n++] = "--min-user-events", args[n++] = min_user;
  args[n++] = "--min-item-events", args[n++] = min_item;
  args[n++] = input;
  args[n++] = "-o";
  args[n++] = output;
  args[n] = NULL;
  char *argv[32];
  for (int k = 0; k <= n; k++) argv[k] = (char *)args[k]; /* main's argv is not const */
  sr_status st = events_import_main(NULL, n, argv);
  if (n_users < 0) {
    FUZZ_CHECK(st != SR_OK && fuzz_user_error(st), "seqrec import: %s where the library failed",
               sr_status_name(st));
  } else {
    FUZZ_CHECK(st == SR_OK, "seqrec import failed where the library did not");
    sr_events_summary s;
    FUZZ_CHECK(sr_events_check_summary(output, &s) == SR_OK, "seqrec import wrote a bad file");
    FUZZ_CHECK(s.n_users == n_users && s.n_items == n_items && s.n_events == n_events,
               "seqrec import wrote %lld/%lld/%lld, the library %lld/%lld/%lld",
               (long long)s.n_users, (long long)s.n_items, (long long)s.n_events,
               (long long)n_users, (long long)n_items, (long long)n_events);
  }
  sr_error_clear();
  unlink(output);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  fuzz_quiet();
  if (size < 3) return 0;
  const uint8_t o0 = data[0], o1 = data[1], o2 = data[2];
  const char *text = (const char *)data + 3;
  const size_t len = size - 3;

  sr_import_opts opts;
  memset(&opts, 0, sizeof opts);
  opts.format = (sr_import_format)(o0 % 5);
  opts.header = (o0 >> 3) & 1;
  opts.skip_bad = (o0 >> 4) & 1;
  if (opts.format == SR_IMPORT_CSV || opts.format == SR_IMPORT_TSV) {
    const char *const *c = column_sets[(o0 >> 5) & 7];
    opts.user_col = c[0], opts.item_col = c[1], opts.time_col = c[2], opts.type_col = c[3];
  }
  opts.block_bytes = 1 + (size_t)(o1 & 15) * 5;
  opts.max_line_bytes = line_limits[(o1 >> 4) & 3];
  sr_import_filter filter = {(o1 >> 6) & 1, o2 & 3, (o2 >> 2) & 3, NULL};
  const int write_file = (o1 >> 7) & 1;

  char path[512];
  fuzz_path(path, sizeof path, "import.txt");
  fuzz_write_file(path, text, len);

  sr_import_log a, b;
  FUZZ_CHECK(sr_import_log_init(&a, &opts) == SR_OK, "log init");
  sr_status st_a = sr_import_read_text(&a, &opts, path, text, len);
  char message_a[1024];
  snprintf(message_a, sizeof message_a, "%s", sr_error_message());
  sr_error_clear();
  FUZZ_CHECK(sr_import_log_init(&b, &opts) == SR_OK, "log init");
  sr_status st_b = sr_import_read_file(&b, &opts, path, NULL);
  FUZZ_CHECK(st_a == st_b, "in memory: %s (%s); from the file in %zu-byte blocks: %s",
             sr_status_name(st_a), message_a, opts.block_bytes, sr_status_name(st_b));
  if (st_a != SR_OK) {
    /* Bad input is the user's to fix, and the message says which file (or which option). */
    FUZZ_CHECK(fuzz_user_error(st_a), "status %s: %s", sr_status_name(st_a), message_a);
    FUZZ_CHECK(strstr(message_a, path) || strncmp(message_a, "--", 2) == 0,
               "the message names neither the file nor the option: %s", message_a);
  } else {
    logs_compare(&a, &b);
  }
  sr_error_clear();

  /* The command reads with the default line limit: compare only under that one. */
  const int same_as_command = write_file && opts.max_line_bytes == 0;
  int64_t counts[3] = {-1, -1, -1};
  if (st_a == SR_OK && a.n > 0) {
    sr_import_table t;
    sr_status st = sr_import_table_build(&a, &filter, &t);
    if (st == SR_OK) {
      table_check(&a, &filter, &t);
      if (write_file) table_write_and_check(&a, &t);
      counts[0] = t.n_users, counts[1] = t.n_items, counts[2] = t.n_events;
      sr_import_table_free(&t);
    } else {
      FUZZ_CHECK(st == SR_EINVAL, "table: %s: %s", sr_status_name(st), sr_error_message());
    }
    sr_error_clear();
  }
  if (same_as_command) command_check(&opts, &filter, path, counts[0], counts[1], counts[2]);
  sr_import_log_free(&a);
  sr_import_log_free(&b);
  unlink(path);
  return 0;
}
