/* seqrec import: the command line (DESIGN.md), then read -> filter and order -> write events.h5
 * through the streaming writer, with a progress line and a summary on rank 0. Parsing, ids and
 * filters live in import_parse.c, import_ids.c and import_table.c. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/arena.h"
#include "core/log.h"
#include "core/timer.h"
#include "events/cli.h"
#include "events/events.h"
#include "events/import.h"
#include "events/import_items.h"

static const char import_usage[] =
    "usage: seqrec import --format csv|tsv|movielens|sasrec|taobao\n"
    "                     [--user COL --item COL --time COL --type COL] [--header]\n"
    "                     [--min-user-events N] [--min-item-events N] [--dedupe] [--skip-bad]\n"
    "                     [--items FILE [--items-format movielens|csv] [--catalogue]]\n"
    "                     IN... -o events.h5      (IN '-': standard input)\n"
    "\n"
    "  --format      csv, tsv (columns chosen with --user/--item/--time/--type), or a preset:\n"
    "                movielens  ratings.dat (UserID::MovieID::Rating::Timestamp) or u.data\n"
    "                sasrec     'user item' per line, time = line order\n"
    "                taobao     UserBehavior.csv: user,item,category,type,time (pv|cart|fav|buy)\n"
    "  --user/--item COL  csv/tsv: 1-based column number, or a header name with --header\n"
    "  --time COL    integer time (e.g. unix seconds); without it, time = line order\n"
    "  --type COL    event type (at most 32 distinct strings, numbered by first appearance)\n"
    "  --header      the first line of every input names the columns\n"
    "  --min-user-events N, --min-item-events N\n"
    "                drop users/items with fewer events, repeated until stable (k-core)\n"
    "  --dedupe      drop repeated (user, item, time, type) events, keeping the first\n"
    "  --skip-bad    skip malformed rows (counted by reason) instead of stopping at the first\n"
    "  --items FILE  item titles and content vectors, matched to the log's items by raw id:\n"
    "                movielens  movies.dat (MovieID::Title::Genres, ISO-8859-1): title and\n"
    "                           multi-hot genres (the default --items-format)\n"
    "                csv        id,v1,...,vD float vectors, no header\n"
    "  --catalogue   the items file is the catalogue: its items without events join the\n"
    "                vocabulary too (zero events), so they can be scored from their content\n"
    "  -o PATH       the events.h5 to write (written to PATH.tmp, renamed when complete)\n"
    "Several inputs are read in order as one log. csv fields may be \"quoted\" (\"\" for a quote,\n"
    "no line breaks inside); tsv has no quoting; spaces around fields are dropped.";

typedef struct {
  sr_import_opts opts;
  sr_import_filter filter;
  const char *output;
  const char *items;     /* --items FILE, NULL when absent */
  sr_items_format items_format;
  int catalogue;           /* --catalogue: the items file's items join the vocabulary */
  const char **inputs; /* [n_inputs] */
  int n_inputs;
  int help;
} import_args;

static sr_status args_count(const char *opt, const char *value, int64_t *out) {
  int64_t v;
  if (sr_import_parse_int64(value, strlen(value), &v) != 1 || v < 0)
    return sr_error(SR_EINVAL, "%s %s: expected a whole number >= 0", opt, value);
  *out = v;
  return SR_OK;
}

/* Options in any order, "--opt value" or "--opt=value"; everything else is an input. */
static sr_status args_parse(int argc, char **argv, import_args *a) {
  memset(a, 0, sizeof *a);
  int format = -1;
  TRY(sr_alloc(&a->inputs, (size_t)argc + 1, sizeof *a->inputs, "input list"));
  int only_inputs = 0, items_format_set = 0;
  for (int i = 1; i < argc; i++) {
    const char *arg = argv[i];
    if (only_inputs || arg[0] != '-' || strcmp(arg, "-") == 0) {
      a->inputs[a->n_inputs++] = arg;
      continue;
    }
    if (strcmp(arg, "--") == 0) {
      only_inputs = 1;
      continue;
    }
    if (strcmp(arg, "-h") == 0 || strcmp(arg, "--help") == 0) {
      a->help = 1;
      return SR_OK;
    }
    if (strcmp(arg, "--header") == 0) {
      a->opts.header = 1;
      continue;
    }
    if (strcmp(arg, "--dedupe") == 0) {
      a->filter.dedupe = 1;
      continue;
    }
    if (strcmp(arg, "--skip-bad") == 0) {
      a->opts.skip_bad = 1;
      continue;
    }
    if (strcmp(arg, "--catalogue") == 0) {
      a->catalogue = 1;
      continue;
    }
    /* The options with a value. */
    char name[64];
    const char *value = NULL;
    const char *eq = strchr(arg, '=');
    size_t name_len = eq ? (size_t)(eq - arg) : strlen(arg);
    if (name_len >= sizeof name)
      return sr_error(SR_EINVAL, "%.60s...: unknown option of seqrec import (see --help)", arg);
    memcpy(name, arg, name_len);
    name[name_len] = '\0';
    static const char *const with_value[] = {
        "--format",          "--user", "--item",  "--time", "--type", "--min-user-events",
        "--min-item-events", "-o",     "--output", "--items", "--items-format"};
    int known = 0;
    for (size_t k = 0; k < sizeof with_value / sizeof with_value[0]; k++)
      known |= strcmp(name, with_value[k]) == 0;
    if (!known)
      return sr_error(SR_EINVAL, "%s: unknown option of seqrec import (see --help)", name);
    if (eq) {
      value = eq + 1;
    } else {
      if (i + 1 >= argc) return sr_error(SR_EINVAL, "%s needs a value (see --help)", name);
      value = argv[++i];
    }
    if (strcmp(name, "--format") == 0) {
      format = sr_import_format_parse(value);
      if (format < 0)
        return sr_error(SR_EINVAL,
                        "--format %s: unknown format (csv, tsv, movielens, sasrec or taobao)",
                        value);
    } else if (strcmp(name, "--user") == 0) {
      a->opts.user_col = value;
    } else if (strcmp(name, "--item") == 0) {
      a->opts.item_col = value;
    } else if (strcmp(name, "--time") == 0) {
      a->opts.time_col = value;
    } else if (strcmp(name, "--type") == 0) {
      a->opts.type_col = value;
    } else if (strcmp(name, "--items") == 0) {
      a->items = value;
    } else if (strcmp(name, "--items-format") == 0) {
      int f = sr_items_format_parse(value);
      if (f < 0)
        return sr_error(SR_EINVAL, "--items-format %s: unknown (movielens or csv)", value);
      a->items_format = (sr_items_format)f;
      items_format_set = 1;
    } else if (strcmp(name, "--min-user-events") == 0) {
      TRY(args_count(name, value, &a->filter.min_user_events));
    } else if (strcmp(name, "--min-item-events") == 0) {
      TRY(args_count(name, value, &a->filter.min_item_events));
    } else {
      a->output = value;
    }
  }
  if (format < 0)
    return sr_error(SR_EINVAL, "missing --format (csv, tsv, movielens, sasrec or taobao)");
  a->opts.format = (sr_import_format)format;
  if (items_format_set && !a->items)
    return sr_error(SR_EINVAL, "--items-format: only with --items FILE");
  if (a->catalogue && !a->items)
    return sr_error(SR_EINVAL, "--catalogue: only with --items FILE (the catalogue)");
  if (!a->output) return sr_error(SR_EINVAL, "missing -o: the events.h5 file to write");
  if (a->n_inputs == 0)
    return sr_error(SR_EINVAL, "no input files (seqrec import ... IN... -o %s)", a->output);
  int columns = a->opts.format == SR_IMPORT_CSV || a->opts.format == SR_IMPORT_TSV;
  const char *col_opts[] = {"--user", "--item", "--time", "--type"};
  const char *col_vals[] = {a->opts.user_col, a->opts.item_col, a->opts.time_col, a->opts.type_col};
  for (int k = 0; k < 4; k++) {
    if (col_vals[k] && !columns)
      return sr_error(SR_EINVAL,
                      "%s: only for --format csv or tsv (the %s preset has fixed "
                      "columns)",
                      col_opts[k], sr_import_format_name(a->opts.format));
    if (col_vals[k] && !col_vals[k][0]) return sr_error(SR_EINVAL, "%s: empty column", col_opts[k]);
  }
  if (columns && (!a->opts.user_col || !a->opts.item_col))
    return sr_error(SR_EINVAL, "--format %s needs %s (a column number, or a name with --header)",
                    sr_import_format_name(a->opts.format), a->opts.user_col ? "--item" : "--user");
  int n_stdin = 0;
  for (int k = 0; k < a->n_inputs; k++) {
    if (strcmp(a->inputs[k], a->output) == 0)
      return sr_error(SR_EINVAL, "-o %s: is also an input", a->output);
    n_stdin += strcmp(a->inputs[k], "-") == 0;
  }
  if (n_stdin > 1) return sr_error(SR_EINVAL, "-: standard input can be read only once");
  return SR_OK;
}

/* 1234567 -> "1,234,567". */
static const char *fmt_count(int64_t v, char buf[32]) {
  char digits[24];
  int n = snprintf(digits, sizeof digits, "%lld", (long long)(v < 0 ? -v : v));
  int o = 0;
  if (v < 0) buf[o++] = '-';
  for (int i = 0; i < n; i++) {
    if (i > 0 && (n - i) % 3 == 0) buf[o++] = ',';
    buf[o++] = digits[i];
  }
  buf[o] = '\0';
  return buf;
}

/* The `source` attribute: the command as run. */
static void source_text(int argc, char **argv, char *out, size_t size) {
  size_t used = (size_t)snprintf(out, size, "seqrec");
  for (int i = 0; i < argc && used < size; i++)
    used += (size_t)snprintf(out + used, size - used, " %s", argv[i]);
}

static void summary_print(const import_args *a, const sr_import_log *log, const sr_import_table *t,
                          double t_read, double t_total) {
  char b1[32], b2[32], b3[32];
  sr_info("read      %s rows from %d file%s in %.2fs (%.3g rows/s)", fmt_count(log->n_rows, b1),
          a->n_inputs, a->n_inputs == 1 ? "" : "s", t_read,
          t_read > 0 ? (double)log->n_rows / t_read : 0.0);
  int64_t n_bad = 0;
  for (int k = 0; k < SR_IMPORT_BAD_KINDS; k++) n_bad += log->n_bad[k];
  if (n_bad > 0) {
    char line[512];
    size_t used = 0;
    for (int k = 0; k < SR_IMPORT_BAD_KINDS; k++)
      if (log->n_bad[k] > 0 && used < sizeof line)
        used +=
            (size_t)snprintf(line + used, sizeof line - used, "%s%s %s", used ? ", " : "",
                             fmt_count(log->n_bad[k], b1), sr_import_bad_name((sr_import_bad)k));
    sr_info("dropped   %s bad rows (--skip-bad): %s", fmt_count(n_bad, b2), line);
  }
  if (a->filter.dedupe)
    sr_info("dropped   %s duplicate events (--dedupe)", fmt_count(t->n_duplicates, b1));
  if (a->filter.min_user_events > 1 || a->filter.min_item_events > 1)
    sr_info(
        "dropped   %s users, %s items, %s events by the k-core filter (--min-user-events "
        "%lld, --min-item-events %lld; %lld round%s)",
        fmt_count(t->kcore_users, b1), fmt_count(t->kcore_items, b2),
        fmt_count(t->kcore_events, b3), (long long)a->filter.min_user_events,
        (long long)a->filter.min_item_events, (long long)t->kcore_rounds,
        t->kcore_rounds == 1 ? "" : "s");
  sr_info("users     %s", fmt_count(t->n_users, b1));
  sr_info("items     %s", fmt_count(t->n_items, b1));
  sr_info("events    %s (%.1f per user)", fmt_count(t->n_events, b1),
          (double)t->n_events / (double)t->n_users);
  if (log->n_types > 0) {
    char line[2048];
    size_t used = 0;
    for (int k = 0; k < log->n_types && used < sizeof line; k++)
      used += (size_t)snprintf(line + used, sizeof line - used, "%s%s %s (%.1f%%)", k ? ", " : "",
                               log->types[k], fmt_count(t->type_count[k], b1),
                               100.0 * (double)t->type_count[k] / (double)t->n_events);
    sr_info("types     %s", line);
  }
  sr_info("wrote     %s (import took %.2fs)", a->output, t_total);
}


/* --catalogue: every item of the items file becomes an item of the log (interned as a raw id),
 * so that items nobody has an event of are in the vocabulary too; keep[key] marks them. */
static sr_status catalogue_add(sr_import_log *log, const sr_items *items, uint8_t **keep) {
  int32_t *keys = NULL;
  TRY(sr_alloc(&keys, (size_t)items->ids.n + 1, sizeof *keys, "catalogue"));
  sr_status st = SR_OK;
  for (int32_t k = 0; k < items->ids.n; k++) {
    const char *id = sr_import_ids_get(&items->ids, k);
    TRY_GOTO(sr_import_ids_intern(&log->items, id, strlen(id), &keys[k]));
  }
  TRY_GOTO(sr_alloc(keep, (size_t)log->items.n + 1, 1, "catalogue marks"));
  for (int32_t k = 0; k < items->ids.n; k++) (*keep)[keys[k]] = 1;
cleanup:
  sr_free(keys);
  return st;
}

static sr_status import_run(const import_args *a, int argc, char **argv) {
  sr_status st = SR_OK;
  double t0 = sr_time_now();
  sr_import_log log;
  sr_import_table table;
  memset(&table, 0, sizeof table);
  sr_events_writer *w = NULL;
  sr_items items;
  sr_items_init(&items);
  float *content = NULL;
  const char **titles = NULL;
  uint8_t *keep = NULL;
  int64_t matched = 0;
  TRY(sr_import_log_init(&log, &a->opts));
  /* The items file is read first: it is small, and a bad one fails before the long read. */
  if (a->items) TRY_GOTO(sr_items_read_file(&items, a->items_format, a->items));

  /* Every input is checked before the long read, so a typo in the last one fails at once. */
  for (int k = 0; k < a->n_inputs; k++) {
    if (strcmp(a->inputs[k], "-") == 0) continue;
    FILE *f = fopen(a->inputs[k], "rb");
    if (!f) FAIL_GOTO(SR_EIO, "cannot open input %s: %s", a->inputs[k], strerror(errno));
    fclose(f);
  }
  sr_progress progress;
  sr_progress_start(&progress, "reading", "rows", 0);
  for (int k = 0; k < a->n_inputs; k++)
    TRY_GOTO(sr_import_read_file(&log, &a->opts, a->inputs[k], &progress));
  sr_progress_finish(&progress, log.n_rows);
  double t_read = sr_time_now() - t0;
  if (log.n == 0) {
    if (log.n_rows == 0)
      FAIL_GOTO(SR_EINVAL, "no events: %s%s %s no data rows", a->inputs[0],
                a->n_inputs > 1 ? " and the other inputs" : "", a->n_inputs > 1 ? "have" : "has");
    FAIL_GOTO(SR_EINVAL, "no events: all %lld rows of %s%s were bad and skipped (--skip-bad)",
              (long long)log.n_rows, a->inputs[0], a->n_inputs > 1 ? " and the other inputs" : "");
  }
  if (a->catalogue) TRY_GOTO(catalogue_add(&log, &items, &keep));
  sr_import_filter filter = a->filter;
  filter.keep_items = keep;
  TRY_GOTO(sr_import_table_build(&log, &filter, &table));

  char source[4096];
  source_text(argc, argv, source, sizeof source);
  sr_events_writer_opts wo;
  memset(&wo, 0, sizeof wo);
  wo.n_event_types = log.n_types;
  for (int k = 0; k < log.n_types; k++) wo.event_types[k] = log.types[k];
  wo.user_id_width = table.user_id_width;
  wo.source = source;
  TRY_GOTO(sr_events_writer_open(&w, a->output, &wo));
  TRY_GOTO(sr_events_writer_append_users(w, table.n_users, table.lengths, table.user_raw,
                                         table.item, table.time, table.type));
  TRY_GOTO(sr_events_writer_set_items(w, table.n_items, table.item_raw));
  if (a->items) {
    TRY_GOTO(sr_items_match(&items, table.n_items, table.item_raw, &content, &titles, &matched));
    TRY_GOTO(sr_events_writer_set_content(w, table.n_items, items.dim, content));
    TRY_GOTO(sr_events_writer_describe_content(w, items.source, items.n_names,
                                               (const char *const *)items.names));
    if (titles) TRY_GOTO(sr_events_writer_set_titles(w, table.n_items, titles));
  }
  st = sr_events_writer_commit(w);
  w = NULL; /* commit frees it, whatever happened */
  if (st != SR_OK) goto cleanup;
  if (a->items) {
    char b1[32], b2[32], b3[32];
    sr_info("items file: %s of %s items matched, %s items of the file not in the log (%d %s)",
            fmt_count(matched, b1), fmt_count(table.n_items, b2),
            fmt_count(items.ids.n - matched, b3), items.dim,
            items.n_names > 0 ? "genre columns" : "dimensions");
    if (a->catalogue) {
      char b4[32];
      sr_info("catalogue: %s items of the items file have no event (in the vocabulary, with "
              "zero events)", fmt_count(table.catalogue_items, b4));
    }
  }
  summary_print(a, &log, &table, t_read, sr_time_now() - t0);

cleanup:
  sr_free(content);
  sr_free(keep);
  sr_free((void *)titles);
  sr_items_free(&items);
  sr_events_writer_abort(w);
  sr_import_table_free(&table);
  sr_import_log_free(&log);
  return st;
}

sr_status events_import_main(const sr_comm *comm, int argc, char **argv) {
  /* Only rank 0 imports: the input is one stream; the other ranks wait to learn how it went. */
  if (comm && comm->size > 1 && comm->rank != 0) return sr_comm_agree(comm, SR_OK);
  import_args a;
  sr_status st = args_parse(argc, argv, &a);
  if (st == SR_OK && a.help)
    sr_info("%s", import_usage);
  else if (st == SR_OK)
    st = import_run(&a, argc, argv);
  sr_free(a.inputs);
  if (comm && comm->size > 1) st = sr_comm_agree(comm, st);
  return st;
}
