/* Reading source logs for import: big blocks split into lines, lines into fields, fields checked
 * and turned into (user key, item key, time, type) events. Bad rows fail with file:line or are
 * counted (--skip-bad). Not for filtering or ordering the events (import_table.c). */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "core/arena.h"
#include "events/import.h"

#define IMPORT_BLOCK_BYTES ((size_t)8 << 20)

static const char *const taobao_types[] = {"pv", "cart", "fav", "buy"};

const char *sr_import_bad_name(sr_import_bad kind) {
  switch (kind) {
    case SR_IMPORT_BAD_FIELDS: return "wrong number of fields";
    case SR_IMPORT_BAD_QUOTE: return "bad quoting";
    case SR_IMPORT_BAD_EMPTY_ID: return "empty id";
    case SR_IMPORT_BAD_ID: return "bad id (UTF-8, length)";
    case SR_IMPORT_BAD_TIME: return "bad time";
    case SR_IMPORT_BAD_TYPE: return "bad event type";
    case SR_IMPORT_BAD_LONG_LINE: return "line too long";
    case SR_IMPORT_BAD_NUL: return "NUL byte";
    case SR_IMPORT_BAD_KINDS: break;
  }
  return "?";
}

static const char *const format_names[] = {"csv", "tsv", "movielens", "sasrec", "taobao"};

int sr_import_format_parse(const char *name) {
  for (int i = 0; i < (int)(sizeof format_names / sizeof format_names[0]); i++)
    if (strcmp(name, format_names[i]) == 0) return i;
  return -1;
}

const char *sr_import_format_name(sr_import_format format) { return format_names[format]; }

/* ---- the log ------------------------------------------------------------------------------- */

static int opts_have_types(const sr_import_opts *opts) {
  return opts->format == SR_IMPORT_TAOBAO ||
         ((opts->format == SR_IMPORT_CSV || opts->format == SR_IMPORT_TSV) && opts->type_col);
}

sr_status sr_import_log_init(sr_import_log *log, const sr_import_opts *opts) {
  memset(log, 0, sizeof *log);
  sr_import_ids_init(&log->users);
  sr_import_ids_init(&log->items);
  if (opts->format == SR_IMPORT_TAOBAO) {
    log->n_types = 4;
    for (int t = 0; t < 4; t++) strcpy(log->types[t], taobao_types[t]);
  }
  return SR_OK;
}

void sr_import_log_free(sr_import_log *log) {
  sr_free(log->user);
  sr_free(log->item);
  sr_free(log->time);
  sr_free(log->type);
  sr_import_ids_free(&log->users);
  sr_import_ids_free(&log->items);
  memset(log, 0, sizeof *log);
}

static sr_status log_reserve(sr_import_log *log, int with_types) {
  if (log->n < log->cap) return SR_OK;
  int64_t cap = log->cap ? 2 * log->cap : 1 << 16;
  TRY(sr_realloc(&log->user, (size_t)cap, sizeof *log->user, "imported events"));
  TRY(sr_realloc(&log->item, (size_t)cap, sizeof *log->item, "imported events"));
  TRY(sr_realloc(&log->time, (size_t)cap, sizeof *log->time, "imported events"));
  if (with_types) TRY(sr_realloc(&log->type, (size_t)cap, sizeof *log->type, "imported events"));
  log->cap = cap;
  return SR_OK;
}

/* ---- one file ------------------------------------------------------------------------------ */

typedef struct {
  const char *p;
  size_t len;
} import_field;

typedef enum { SPLIT_CHAR, SPLIT_WHITESPACE, SPLIT_DOUBLE_COLON } import_split;

typedef struct {
  sr_import_log *log;
  const sr_import_opts *opts;
  const char *name; /* the file, as messages call it */
  size_t max_line;
  int with_types;
  int64_t line; /* 1-based number of the line last started */
  int started;  /* the first non-blank line was seen: columns and separator are known */
  int skipping; /* inside an over-long line: drop bytes up to its newline */
  import_split split;
  char sep;   /* SPLIT_CHAR */
  int quotes; /* csv: "quoted" fields */
  const char *sep_name;
  int n_fields;                               /* fields every data row must have */
  int col_user, col_item, col_time, col_type; /* 0-based; -1 when absent */
  /* The previous row's user and item: logs often repeat the user row after row. */
  int32_t last_key[2];
  size_t last_len[2];
  import_field *fields;
  int fields_cap;
  char *scratch; /* unescaped quoted fields of the current line */
  size_t scratch_cap;
} import_reader;

static void reader_free(import_reader *r) {
  sr_free(r->fields);
  sr_free(r->scratch);
}

/* A bad row: counted and skipped under --skip-bad (returns SR_OK), else the error. */
__attribute__((format(printf, 3, 4))) static sr_status reader_bad(import_reader *r,
                                                                  sr_import_bad kind,
                                                                  const char *fmt, ...) {
  int in_header = r->opts->header && !r->started;
  if (r->opts->skip_bad && !in_header) {
    r->log->n_bad[kind]++;
    return SR_OK;
  }
  char what[512];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(what, sizeof what, fmt, ap);
  va_end(ap);
  if (in_header)
    return sr_error(SR_EINVAL, "%s:%lld: header line: %s", r->name, (long long)r->line, what);
  return sr_error(SR_EINVAL, "%s:%lld: %s (--skip-bad skips such rows)", r->name,
                  (long long)r->line, what);
}

/* A line rejected before it was split (too long, NUL) still counts as a data row. */
static sr_status reader_bad_line(import_reader *r, sr_import_bad kind, const char *what) {
  if (!(r->opts->header && !r->started)) r->log->n_rows++;
  if (kind == SR_IMPORT_BAD_NUL) return reader_bad(r, kind, "%s", what);
  return reader_bad(r, kind, "line longer than %zu bytes%s: not a text log, or missing newlines?",
                    r->max_line, what);
}

static sr_status reader_push_field(import_reader *r, int *n, const char *p, size_t len) {
  if (*n == r->fields_cap) {
    int cap = r->fields_cap ? 2 * r->fields_cap : 16;
    TRY(sr_realloc(&r->fields, (size_t)cap, sizeof *r->fields, "fields of a line"));
    r->fields_cap = cap;
  }
  r->fields[(*n)++] = (import_field){p, len};
  return SR_OK;
}

static int is_blank(char c) { return c == ' ' || c == '\t'; }

static void trim(const char **p, size_t *len, char sep) {
  while (*len > 0 && (**p == ' ' || (**p == '\t' && sep != '\t'))) {
    (*p)++;
    (*len)--;
  }
  while (*len > 0 && ((*p)[*len - 1] == ' ' || ((*p)[*len - 1] == '\t' && sep != '\t'))) (*len)--;
}

/* A quoted csv field starting at line[i] == '"': unescaped into the scratch buffer.
 * *end: index of the separator after it, or len. 0 when the quoting is broken. */
static int reader_quoted(import_reader *r, const char *line, size_t len, size_t i, size_t *used,
                         import_field *f, size_t *end) {
  char *out = r->scratch + *used;
  size_t n = 0;
  i++;
  for (;;) {
    if (i >= len) return 0; /* unterminated (fields spanning lines are not supported) */
    if (line[i] == '"') {
      if (i + 1 < len && line[i + 1] == '"') {
        out[n++] = '"';
        i += 2;
        continue;
      }
      i++;
      break;
    }
    out[n++] = line[i++];
  }
  while (i < len && line[i] != r->sep && is_blank(line[i])) i++;
  if (i < len && line[i] != r->sep) return 0;
  *f = (import_field){out, n};
  *used += n;
  *end = i;
  return 1;
}

/* Splits a line into r->fields; *n_out = the number of fields; *quote_ok = 0 on broken quotes. */
static sr_status reader_split(import_reader *r, const char *line, size_t len, int *n_out,
                              int *quote_ok) {
  int n = 0;
  *quote_ok = 1;
  if (r->split == SPLIT_WHITESPACE) {
    size_t i = 0;
    for (;;) {
      while (i < len && is_blank(line[i])) i++;
      if (i == len) break;
      size_t s = i;
      while (i < len && !is_blank(line[i])) i++;
      TRY(reader_push_field(r, &n, line + s, i - s));
    }
  } else if (r->split == SPLIT_DOUBLE_COLON) {
    size_t s = 0;
    for (size_t i = 0;; i++) {
      if (i + 1 < len && line[i] == ':' && line[i + 1] == ':') {
        const char *p = line + s;
        size_t flen = i - s;
        trim(&p, &flen, ':');
        TRY(reader_push_field(r, &n, p, flen));
        s = i + 2;
        i++;
      } else if (i >= len) {
        const char *p = line + s;
        size_t flen = len - s;
        trim(&p, &flen, ':');
        TRY(reader_push_field(r, &n, p, flen));
        break;
      }
    }
  } else {
    int quoted = r->quotes && memchr(line, '"', len) != NULL;
    size_t used = 0;
    if (quoted && r->scratch_cap < len) {
      TRY(sr_realloc(&r->scratch, len, 1, "quoted fields"));
      r->scratch_cap = len;
    }
    size_t i = 0;
    for (;;) {
      size_t j = i;
      if (quoted) {
        while (j < len && is_blank(line[j]) && line[j] != r->sep) j++;
        if (j < len && line[j] == '"') {
          import_field f;
          size_t end;
          if (!reader_quoted(r, line, len, j, &used, &f, &end)) {
            *quote_ok = 0;
            *n_out = n;
            return SR_OK;
          }
          TRY(reader_push_field(r, &n, f.p, f.len));
          if (end == len) break;
          i = end + 1;
          continue;
        }
      }
      const char *e = memchr(line + i, r->sep, len - i);
      size_t end = e ? (size_t)(e - line) : len;
      const char *p = line + i;
      size_t flen = end - i;
      trim(&p, &flen, r->sep);
      TRY(reader_push_field(r, &n, p, flen));
      if (!e) break;
      i = end + 1;
    }
  }
  *n_out = n;
  return SR_OK;
}

/* One column option against the file's first row: a 1-based number, or a header name. */
static sr_status reader_column(import_reader *r, const char *opt, const char *spec, int n_header,
                               int *col) {
  *col = -1;
  if (!spec) return SR_OK;
  int64_t number;
  if (sr_import_parse_int64(spec, strlen(spec), &number) == 1) {
    if (number < 1) return sr_error(SR_EINVAL, "%s %s: column numbers start at 1", opt, spec);
    if (number > r->n_fields)
      return sr_error(SR_EINVAL, "%s %s: beyond the row: %s:%lld has %d %s fields", opt, spec,
                      r->name, (long long)r->line, r->n_fields, r->sep_name);
    *col = (int)number - 1;
    return SR_OK;
  }
  if (!r->opts->header)
    return sr_error(SR_EINVAL,
                    "%s %s: not a column number (to name columns by the file's first line, "
                    "add --header)",
                    opt, spec);
  for (int i = 0; i < n_header; i++)
    if (r->fields[i].len == strlen(spec) && memcmp(r->fields[i].p, spec, r->fields[i].len) == 0) {
      *col = i;
      return SR_OK;
    }
  char names[256] = "";
  size_t used = 0;
  for (int i = 0; i < n_header && used + 8 < sizeof names; i++) {
    int w = snprintf(names + used, sizeof names - used, "%s%.*s", i ? ", " : "",
                     (int)(r->fields[i].len > 40 ? 40 : r->fields[i].len), r->fields[i].p);
    if (w < 0 || (size_t)w >= sizeof names - used) {
      strcpy(names + sizeof names - 5, "...");
      break;
    }
    used += (size_t)w;
  }
  return sr_error(SR_EINVAL, "%s %s: no column of that name in the header of %s (line %lld: %s)",
                  opt, spec, r->name, (long long)r->line, names);
}

/* The first non-blank line of a file: the separator (movielens), the number of fields and the
 * columns. *started: they are known (0: the line was a bad row, skipped; try the next one).
 * *is_header: the line names columns and holds no event. */
static sr_status reader_start(import_reader *r, const char *line, size_t len, int *started,
                              int *is_header) {
  const sr_import_opts *o = r->opts;
  *started = 0;
  *is_header = o->header;
  r->col_type = -1;
  r->col_time = -1;
  switch (o->format) {
    case SR_IMPORT_CSV:
    case SR_IMPORT_TSV: {
      int n, quote_ok;
      TRY(reader_split(r, line, len, &n, &quote_ok));
      if (!quote_ok) {
        r->log->n_rows += !o->header;
        return reader_bad(r, SR_IMPORT_BAD_QUOTE,
                          "unterminated quote or text after a closing quote");
      }
      r->n_fields = n;
      int n_header = o->header ? n : 0;
      TRY(reader_column(r, "--user", o->user_col, n_header, &r->col_user));
      TRY(reader_column(r, "--item", o->item_col, n_header, &r->col_item));
      TRY(reader_column(r, "--time", o->time_col, n_header, &r->col_time));
      TRY(reader_column(r, "--type", o->type_col, n_header, &r->col_type));
      break;
    }
    case SR_IMPORT_MOVIELENS: {
      int dcolon = 0;
      for (size_t i = 0; i + 1 < len; i++)
        if (line[i] == ':' && line[i + 1] == ':') dcolon = 1;
      if (dcolon) {
        r->split = SPLIT_DOUBLE_COLON;
        r->sep_name = "'::'-separated";
      } else if (memchr(line, '\t', len)) {
        r->split = SPLIT_CHAR;
        r->sep = '\t';
        r->sep_name = "tab-separated";
      } else {
        return sr_error(SR_EINVAL,
                        "%s:%lld: not a MovieLens ratings file: expected "
                        "UserID::MovieID::Rating::Timestamp (ratings.dat) or "
                        "user<TAB>item<TAB>rating<TAB>time (u.data)",
                        r->name, (long long)r->line);
      }
      r->n_fields = 4;
      r->col_user = 0;
      r->col_item = 1;
      r->col_time = 3;
      break;
    }
    case SR_IMPORT_SASREC:
      r->n_fields = 2;
      r->col_user = 0;
      r->col_item = 1;
      break;
    case SR_IMPORT_TAOBAO:
      r->n_fields = 5;
      r->col_user = 0;
      r->col_item = 1;
      r->col_type = 3;
      r->col_time = 4;
      break;
  }
  *started = 1;
  return SR_OK;
}

/* A field as messages quote it: its first 40 bytes, with control bytes and bytes that are not
 * UTF-8 written as \xHH, so that the message itself is clean text for terminals and logs. */
static const char *field_shown(const import_field *f, char *out, size_t size) {
  size_t o = 0, n = f->len > 40 ? 40 : f->len;
  for (size_t i = 0; i < n && o + 8 < size;) {
    unsigned char c = (unsigned char)f->p[i];
    size_t k = c < 0x80 ? 1 : c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : 2;
    if (c >= 0x20 && c < 0x7F) {
      out[o++] = (char)c;
      i++;
    } else if (c >= 0x80 && i + k <= f->len && sr_import_utf8_valid(f->p + i, k)) {
      memcpy(out + o, f->p + i, k);
      o += k, i += k;
    } else {
      o += (size_t)snprintf(out + o, size - o, "\\x%02X", c);
      i++;
    }
  }
  snprintf(out + o, size - o, "%s", f->len > n ? "..." : "");
  return out;
}

static sr_status reader_id(import_reader *r, int column, const import_field *f, sr_import_ids *ids,
                           int32_t *key, int *ok) {
  const char *what = column == 0 ? "user" : "item";
  if (f->len > 0 && f->len == r->last_len[column] &&
      memcmp(sr_import_ids_get(ids, r->last_key[column]), f->p, f->len) == 0) {
    *key = r->last_key[column];
    *ok = 1;
    return SR_OK;
  }
  *ok = 0;
  if (f->len == 0) return reader_bad(r, SR_IMPORT_BAD_EMPTY_ID, "empty %s id", what);
  if (f->len > SR_IMPORT_MAX_ID)
    return reader_bad(r, SR_IMPORT_BAD_ID, "%s id of %zu bytes (at most %d)", what, f->len,
                      SR_IMPORT_MAX_ID);
  char shown[256];
  if (!sr_import_utf8_valid(f->p, f->len))
    return reader_bad(r, SR_IMPORT_BAD_ID, "%s id '%s' is not valid UTF-8", what,
                      field_shown(f, shown, sizeof shown));
  TRY(sr_import_ids_intern(ids, f->p, f->len, key));
  r->last_key[column] = *key;
  r->last_len[column] = f->len;
  *ok = 1;
  return SR_OK;
}

static sr_status reader_type(import_reader *r, const import_field *f, uint8_t *type, int *ok) {
  sr_import_log *log = r->log;
  *ok = 0;
  for (int t = 0; t < log->n_types; t++)
    if (strlen(log->types[t]) == f->len && memcmp(log->types[t], f->p, f->len) == 0) {
      *type = (uint8_t)t;
      *ok = 1;
      return SR_OK;
    }
  char shown[256];
  field_shown(f, shown, sizeof shown);
  if (r->opts->format == SR_IMPORT_TAOBAO)
    return reader_bad(r, SR_IMPORT_BAD_TYPE,
                      "unknown event type '%s' (taobao types are pv, cart, fav, buy)", shown);
  if (f->len == 0) return reader_bad(r, SR_IMPORT_BAD_TYPE, "empty event type");
  if (f->len > SR_IMPORT_MAX_TYPE_NAME || !sr_import_utf8_valid(f->p, f->len))
    return reader_bad(r, SR_IMPORT_BAD_TYPE, "event type '%s' is not UTF-8 of at most %d bytes",
                      shown, SR_IMPORT_MAX_TYPE_NAME);
  if (log->n_types == SR_EVENTS_MAX_TYPES)
    return reader_bad(r, SR_IMPORT_BAD_TYPE,
                      "event type '%s' is one too many: at most %d distinct types", shown,
                      SR_EVENTS_MAX_TYPES);
  memcpy(log->types[log->n_types], f->p, f->len);
  log->types[log->n_types][f->len] = '\0';
  *type = (uint8_t)log->n_types++;
  *ok = 1;
  return SR_OK;
}

/* The start of a file: a UTF-8 byte-order mark (spreadsheet exports) is dropped, not taken as
 * part of the first field; UTF-16 text is refused as a whole rather than as rows of NUL bytes. */
static sr_status reader_byte_order_mark(import_reader *r, const char **line, size_t *len) {
  const unsigned char *u = (const unsigned char *)*line;
  if (*len >= 2 && ((u[0] == 0xFF && u[1] == 0xFE) || (u[0] == 0xFE && u[1] == 0xFF)))
    return sr_error(SR_EINVAL, "%s:1: the file is UTF-16 text (it starts with a UTF-16 byte-order "
                    "mark); seqrec reads UTF-8: convert it first (iconv -f UTF-16 -t UTF-8)",
                    r->name);
  if (*len >= 3 && u[0] == 0xEF && u[1] == 0xBB && u[2] == 0xBF) {
    *line += 3;
    *len -= 3;
  }
  return SR_OK;
}

/* One line without its newline. */
static sr_status reader_line(import_reader *r, const char *line, size_t len) {
  sr_import_log *log = r->log;
  r->line++;
  if (r->line == 1) TRY(reader_byte_order_mark(r, &line, &len));
  if (len > 0 && line[len - 1] == '\r') len--;
  if (len > r->max_line) {
    char size[32];
    snprintf(size, sizeof size, " (%zu)", len);
    return reader_bad_line(r, SR_IMPORT_BAD_LONG_LINE, size);
  }
  if (memchr(line, '\0', len)) return reader_bad_line(r, SR_IMPORT_BAD_NUL, "NUL byte in the line");
  size_t b = 0;
  while (b < len && is_blank(line[b])) b++;
  if (b == len) return SR_OK;
  if (!r->started) {
    int is_header;
    TRY(reader_start(r, line, len, &r->started, &is_header));
    if (!r->started || is_header) return SR_OK;
  }
  int64_t row = log->n_rows++;
  int n, quote_ok;
  TRY(reader_split(r, line, len, &n, &quote_ok));
  if (!quote_ok)
    return reader_bad(r, SR_IMPORT_BAD_QUOTE, "unterminated quote or text after a closing quote");
  if (n != r->n_fields)
    return reader_bad(r, SR_IMPORT_BAD_FIELDS, "expected %d %s fields, found %d", r->n_fields,
                      r->sep_name, n);
  int64_t time = row;
  if (r->col_time >= 0) {
    const import_field *f = &r->fields[r->col_time];
    int got = sr_import_parse_int64(f->p, f->len, &time);
    char shown[256];
    if (got != 1)
      return reader_bad(r, SR_IMPORT_BAD_TIME, "time '%s' is %s",
                        field_shown(f, shown, sizeof shown),
                        got == 0 ? "not an integer" : "out of range (64-bit seconds)");
  }
  int ok;
  int32_t user, item;
  TRY(reader_id(r, 0, &r->fields[r->col_user], &log->users, &user, &ok));
  if (!ok) return SR_OK;
  TRY(reader_id(r, 1, &r->fields[r->col_item], &log->items, &item, &ok));
  if (!ok) return SR_OK;
  /* Last, so that only good rows add csv event types. */
  uint8_t type = 0;
  if (r->col_type >= 0) {
    TRY(reader_type(r, &r->fields[r->col_type], &type, &ok));
    if (!ok) return SR_OK;
  }
  TRY(log_reserve(log, r->with_types));
  log->user[log->n] = user;
  log->item[log->n] = item;
  log->time[log->n] = time;
  if (r->with_types) log->type[log->n] = type;
  log->n++;
  return SR_OK;
}

/* Handles the complete lines in buf[0..len) (and, at eof, the unterminated last one);
 * *consumed: bytes handled. A partial line longer than the limit is reported and dropped. */
static sr_status reader_feed(import_reader *r, const char *buf, size_t len, int eof,
                             size_t *consumed) {
  size_t pos = 0;
  for (;;) {
    const char *nl = memchr(buf + pos, '\n', len - pos);
    if (!nl) break;
    size_t end = (size_t)(nl - buf);
    if (r->skipping)
      r->skipping = 0; /* the rest of a long line already reported */
    else
      TRY(reader_line(r, buf + pos, end - pos));
    pos = end + 1;
  }
  if (r->skipping) {
    pos = len;
  } else if (len - pos > r->max_line + 1) {
    /* +1: room for a '\r' before the newline. */
    r->line++;
    if (r->line == 1) {
      const char *line = buf + pos;
      size_t n = len - pos;
      TRY(reader_byte_order_mark(r, &line, &n));
    }
    TRY(reader_bad_line(r, SR_IMPORT_BAD_LONG_LINE, ""));
    r->skipping = 1;
    pos = len;
  } else if (eof && pos < len) {
    TRY(reader_line(r, buf + pos, len - pos));
    pos = len;
  }
  *consumed = pos;
  return SR_OK;
}

static void reader_init(import_reader *r, sr_import_log *log, const sr_import_opts *opts,
                        const char *name) {
  memset(r, 0, sizeof *r);
  r->log = log;
  r->opts = opts;
  r->name = name;
  r->max_line = opts->max_line_bytes ? opts->max_line_bytes : SR_IMPORT_MAX_LINE;
  r->with_types = opts_have_types(opts);
  switch (opts->format) {
    case SR_IMPORT_CSV:
    case SR_IMPORT_TAOBAO:
      r->split = SPLIT_CHAR;
      r->sep = ',';
      r->quotes = 1;
      r->sep_name = "comma-separated";
      break;
    case SR_IMPORT_TSV:
      r->split = SPLIT_CHAR;
      r->sep = '\t';
      r->sep_name = "tab-separated";
      break;
    case SR_IMPORT_SASREC:
      r->split = SPLIT_WHITESPACE;
      r->sep_name = "whitespace-separated";
      break;
    case SR_IMPORT_MOVIELENS: break; /* told by the first line */
  }
}

sr_status sr_import_read_text(sr_import_log *log, const sr_import_opts *opts, const char *name,
                              const char *text, size_t len) {
  import_reader r;
  reader_init(&r, log, opts, name);
  size_t consumed;
  sr_status st = reader_feed(&r, text, len, 1, &consumed);
  reader_free(&r);
  return st;
}

sr_status sr_import_read_file(sr_import_log *log, const sr_import_opts *opts, const char *path,
                              sr_progress *progress) {
  sr_status st = SR_OK;
  int is_stdin = strcmp(path, "-") == 0;
  const char *name = is_stdin ? "<stdin>" : path;
  import_reader r;
  reader_init(&r, log, opts, name);
  char *buf = NULL;
  FILE *f = is_stdin ? stdin : fopen(path, "rb");
  if (!f) FAIL_GOTO(SR_EIO, "cannot open input %s: %s", path, strerror(errno));
  size_t block = opts->block_bytes ? opts->block_bytes : IMPORT_BLOCK_BYTES;
  /* What stays over between blocks is at most one partial line of max_line + 1 bytes. */
  size_t cap = block + r.max_line + 2;
  TRY_GOTO(sr_alloc(&buf, cap, 1, "input buffer"));
  size_t have = 0;
  for (;;) {
    size_t got = fread(buf + have, 1, block, f);
    if (got < block && ferror(f)) FAIL_GOTO(SR_EIO, "error reading %s: %s", name, strerror(errno));
    have += got;
    int eof = got == 0;
    size_t consumed;
    TRY_GOTO(reader_feed(&r, buf, have, eof, &consumed));
    memmove(buf, buf + consumed, have - consumed);
    have -= consumed;
    if (progress) sr_progress_update(progress, log->n_rows);
    if (eof) break;
  }
cleanup:
  if (f && !is_stdin) fclose(f);
  sr_free(buf);
  reader_free(&r);
  return st;
}
