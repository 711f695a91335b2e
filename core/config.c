/* The run configuration: one schema table (key, type, field, default, range, help) drives the
 * defaults, YAML loading (libyaml's event API), --set overrides, validation and YAML output.
 * Not for sweep files, which expand into configurations of this schema. */
#include "core/config.h"

#include <errno.h>
#include <float.h>
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <yaml.h>

#include "core/arena.h"
#include "core/log.h"

/* Enum fields are read and written through int pointers. */
_Static_assert(sizeof(sr_split_kind) == sizeof(int), "enum size");
_Static_assert(sizeof(sr_loss_kind) == sizeof(int), "enum size");
_Static_assert(sizeof(sr_precision) == sizeof(int), "enum size");
_Static_assert(sizeof(sr_device_kind) == sizeof(int), "enum size");
_Static_assert(sizeof(sr_schedule_kind) == sizeof(int), "enum size");

/* A config file larger than this is almost surely the wrong file. */
#define CONFIG_FILE_MAX (1u << 20)

typedef enum { KEY_INT, KEY_I64, KEY_U64, KEY_FLOAT, KEY_BOOL, KEY_ENUM, KEY_STRING } key_kind;

typedef struct {
  const char *key;          /* "section.name" */
  key_kind kind;
  size_t offset, size;      /* of the field in sr_config */
  const char *def;          /* the default, as YAML text */
  int64_t imin, imax;       /* KEY_INT, KEY_I64 */
  double fmin, fmax;        /* KEY_FLOAT */
  const char *const *names; /* KEY_ENUM: the name of value v is names[v]; NULL-terminated */
  int nullable;             /* null allowed: stored as "" (KEY_STRING), INT64_MIN (KEY_I64) */
  const char *help;
} config_key;

#define FIELD(f) offsetof(sr_config, f), sizeof(((sr_config *)0)->f)
#define INT(k, f, d, lo, hi, h) {k, KEY_INT, FIELD(f), d, lo, hi, 0, 0, NULL, 0, h}
#define I64_OR_NULL(k, f, d, lo, hi, h) {k, KEY_I64, FIELD(f), d, lo, hi, 0, 0, NULL, 1, h}
#define U64(k, f, d, h) {k, KEY_U64, FIELD(f), d, 0, 0, 0, 0, NULL, 0, h}
#define FLOAT(k, f, d, lo, hi, h) {k, KEY_FLOAT, FIELD(f), d, 0, 0, lo, hi, NULL, 0, h}
#define BOOL(k, f, d, h) {k, KEY_BOOL, FIELD(f), d, 0, 0, 0, 0, NULL, 0, h}
#define ENUM(k, f, d, names, h) {k, KEY_ENUM, FIELD(f), d, 0, 0, 0, 0, names, 0, h}
#define STRING(k, f, d, h) {k, KEY_STRING, FIELD(f), d, 0, 0, 0, 0, NULL, 0, h}
#define STRING_OR_NULL(k, f, d, h) {k, KEY_STRING, FIELD(f), d, 0, 0, 0, 0, NULL, 1, h}

static const char *const split_names[] = {"leave_one_out", "temporal", NULL};
static const char *const loss_names[] = {"ce", "sampled_ce", "bce", NULL};
static const char *const schedule_names[] = {"constant", "linear", "cosine", NULL};
static const char *const precision_names[] = {"fp32", "bf16", NULL};
static const char *const device_names[] = {"auto", "cpu", "cuda", NULL};
static const char *const new_items_names[] = {"auto", "exclude", "include", "only", NULL};

/* The schema, in the order of DESIGN.md; the keys of a section stay together. */
static const config_key schema[] = {
    STRING("data.events", data.events, "\"\"", "events.h5 from seqrec import or gen"),
    INT("data.max_len", data.max_len, "200", 1, 65536, "positions per training window"),
    ENUM("data.split", data.split, "leave_one_out", split_names, "evaluation split"),
    I64_OR_NULL("data.split_time", data.split_time, "null", INT64_MIN + 1, INT64_MAX,
                "temporal split point, seconds since the epoch"),
    I64_OR_NULL("data.train_since", data.train_since, "null", INT64_MIN + 1, INT64_MAX,
                "train and validate on events from this time on only (earlier ones are context)"),
    INT("model.d_model", model.d_model, "64", 1, 65536, "hidden size"),
    INT("model.n_layers", model.n_layers, "2", 1, 256, "transformer blocks"),
    INT("model.n_heads", model.n_heads, "2", 1, 1024, "attention heads; divide d_model"),
    INT("model.d_ff", model.d_ff, "256", 1, 1 << 20, "feed-forward hidden size"),
    FLOAT("model.dropout", model.dropout, "0.2", 0.0, 0.99, "dropout probability"),
    STRING_OR_NULL("model.init_from", model.init_from, "null",
                   "checkpoint to fine-tune from; null = random init"),
    BOOL("model.init_optimizer", model.init_optimizer, "false",
         "init_from: carry the Adam moments over too (per item for the item table)"),
    BOOL("model.item_content", model.item_content, "false",
         "add a learned projection of data.events' /items/content to every item's embedding"),
    ENUM("train.loss", train.loss, "ce", loss_names, "training loss"),
    INT("train.negatives", train.negatives, "0", 0, 1 << 20, "sampled_ce: negatives per position"),
    INT("train.batch_size", train.batch_size, "128", 1, 1 << 20, "sequences per rank per step"),
    INT("train.epochs", train.epochs, "200", 1, 1000000, "passes over the training users"),
    FLOAT("train.lr", train.lr, "1.0e-3", 0.0, 10.0, "peak learning rate (Adam)"),
    FLOAT("train.weight_decay", train.weight_decay, "0.0", 0.0, 10.0, "decoupled weight decay"),
    INT("train.warmup_steps", train.warmup_steps, "100", 0, INT_MAX, "linear warm-up steps"),
    ENUM("train.schedule", train.schedule, "constant", schedule_names,
         "learning rate after warm-up"),
    FLOAT("train.grad_clip", train.grad_clip, "1.0", 0.0, 1.0e6, "global-norm clip; 0 = off"),
    U64("train.seed", train.seed, "42", "seed of every random stream"),
    ENUM("train.precision", train.precision, "fp32", precision_names, "bf16: the ops round activations and read bf16 weights; fp32 master weights"),
    INT("train.eval_every", train.eval_every, "5", 1, INT_MAX, "epochs between validations"),
    INT("train.patience", train.patience, "5", 0, INT_MAX,
        "validations without improvement before stopping; 0 = off"),
    STRING("train.checkpoint", train.checkpoint, "runs/x/ckpt.h5", "checkpoint to write"),
    INT("train.checkpoint_every", train.checkpoint_every, "1", 1, INT_MAX,
        "epochs between checkpoints"),
    INT("train.max_steps", train.max_steps, "0", 0, INT_MAX,
        "stop after this many updates, checkpointed and resumable; 0 = no limit"),
    INT("train.max_nonfinite_steps", train.max_nonfinite_steps, "10", 0, INT_MAX,
        "stop after this many skipped (non-finite) steps in a row; 0 = never"),
    ENUM("runtime.device", runtime.device, "auto", device_names, "auto = cuda when a GPU is visible"),
    INT("runtime.threads", runtime.threads, "0", 0, 4096, "CPU threads per rank; 0 = all cores"),
    STRING("score.checkpoint", score.checkpoint, "runs/x/ckpt.h5", "checkpoint to score with"),
    INT("score.k", score.k, "100", 1, 1 << 20, "recommendations per user"),
    BOOL("score.exclude_seen", score.exclude_seen, "true", "drop items the user has seen"),
    STRING("score.output", score.output, "runs/x/recs.h5", "recommendations file to write"),
    STRING_OR_NULL("score.users", score.users, "null", "file of raw user ids to score; null = all"),
    STRING_OR_NULL("score.user_range", score.user_range, "null", "dense ids BEGIN:END; null = all"),
    ENUM("score.new_items", score.new_items, "auto", new_items_names,
         "items new since training: auto, exclude, include or only (include/only need content)"),
};
enum { n_keys = sizeof schema / sizeof schema[0] };

/* ---- small helpers ------------------------------------------------------------------------ */

/* A growing text buffer for YAML output. */
typedef struct {
  char *data;
  size_t length, capacity;
} text_buf;

static sr_status text_append(text_buf *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static sr_status text_append(text_buf *b, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(NULL, 0, fmt, ap);
  va_end(ap);
  if (n < 0) return sr_error(SR_EINTERNAL, "configuration text: formatting failed");
  if (b->length + (size_t)n + 1 > b->capacity) {
    size_t cap = b->capacity ? b->capacity : 1024;
    while (cap < b->length + (size_t)n + 1) cap *= 2;
    TRY(sr_realloc(&b->data, cap, 1, "configuration text"));
    b->capacity = cap;
  }
  va_start(ap, fmt);
  vsnprintf(b->data + b->length, b->capacity - b->length, fmt, ap);
  va_end(ap);
  b->length += (size_t)n;
  return SR_OK;
}

static size_t section_length(const char *key) { return (size_t)(strchr(key, '.') - key); }

static const char *key_leaf(const char *key) { return strchr(key, '.') + 1; }

static const config_key *key_find(const char *full) {
  for (int i = 0; i < n_keys; i++)
    if (strcmp(schema[i].key, full) == 0) return &schema[i];
  return NULL;
}

/* The index of the first key of the named section, or -1. */
static int section_find(const char *name) {
  size_t n = strlen(name);
  for (int i = 0; i < n_keys; i++)
    if (section_length(schema[i].key) == n && strncmp(schema[i].key, name, n) == 0) return i;
  return -1;
}

static int is_section_start(int i) {
  return i == 0 || section_length(schema[i].key) != section_length(schema[i - 1].key) ||
         strncmp(schema[i].key, schema[i - 1].key, section_length(schema[i].key)) != 0;
}

/* Optimal string alignment distance: typos, including swapped letters ("trian"). */
static int edit_distance(const char *a, const char *b) {
  enum { cap = 64 };
  size_t n = strlen(a), m = strlen(b);
  if (n >= cap || m >= cap) return INT_MAX / 2;
  int d[cap][cap];
  for (size_t i = 0; i <= n; i++) d[i][0] = (int)i;
  for (size_t j = 0; j <= m; j++) d[0][j] = (int)j;
  for (size_t i = 1; i <= n; i++)
    for (size_t j = 1; j <= m; j++) {
      int cost = a[i - 1] != b[j - 1];
      int best = d[i - 1][j] + 1;
      if (d[i][j - 1] + 1 < best) best = d[i][j - 1] + 1;
      if (d[i - 1][j - 1] + cost < best) best = d[i - 1][j - 1] + cost;
      if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] &&
          d[i - 2][j - 2] + 1 < best)
        best = d[i - 2][j - 2] + 1;
      d[i][j] = best;
    }
  return d[n][m];
}

/* One typo per three letters of the name typed ("lrr" -> lr, not "<<" -> lr). */
static int close_enough(int distance, const char *typed) {
  const char *dot = strchr(typed, '.');
  int n = (int)strlen(dot ? dot + 1 : typed);
  int allowed = (n + 1) / 3;
  return distance <= (allowed > 1 ? allowed : 1);
}

/* The schema key nearest to an unknown "section.name": a typo, or the right name in the
 * wrong section or without one (model.lr, lr -> train.lr). NULL when nothing is close. */
static const char *key_suggest(const char *typed) {
  const char *dot = strchr(typed, '.');
  const char *leaf = dot ? dot + 1 : typed;
  const char *best = NULL;
  int best_d = INT_MAX;
  for (int i = 0; i < n_keys; i++) {
    int d = edit_distance(typed, schema[i].key);
    if (strcmp(leaf, key_leaf(schema[i].key)) == 0 && d > 1) d = 1;
    if (d < best_d) best_d = d, best = schema[i].key;
  }
  return best && close_enough(best_d, typed) ? best : NULL;
}

/* "data, model, train, runtime, score" or the leaves of one section. */
static void names_list(const char *section, char *out, size_t size) {
  size_t used = 0;
  out[0] = '\0';
  for (int i = 0; i < n_keys; i++) {
    const char *k = schema[i].key;
    size_t slen = section_length(k);
    const char *name = k;
    int len = (int)slen;
    if (section) {
      if (strlen(section) != slen || strncmp(section, k, slen) != 0) continue;
      name = key_leaf(k);
      len = (int)strlen(name);
    } else if (!is_section_start(i)) {
      continue;
    }
    int n = snprintf(out + used, size - used, "%s%.*s", used ? ", " : "", len, name);
    if (n < 0 || (size_t)n >= size - used) return;
    used += (size_t)n;
  }
}

static void enum_list(const char *const *names, char *out, size_t size) {
  size_t used = 0;
  out[0] = '\0';
  for (int v = 0; names[v]; v++) {
    int n = snprintf(out + used, size - used, "%s%s", v ? ", " : "", names[v]);
    if (n < 0 || (size_t)n >= size - used) return;
    used += (size_t)n;
  }
}

static void copy_zero_filled(char *dst, size_t size, const char *src, size_t length) {
  memset(dst, 0, size);
  memcpy(dst, src, length);
}

/* ---- where a value came from, for messages ------------------------------------------------ */

typedef struct {
  const char *file;       /* a config file, or NULL */
  const char *assignment; /* a --set argument, or NULL; both NULL: a schema default */
  int line, column;       /* 1-based, in file (column only, for --set) */
} where;

/* Records "FILE:LINE:COL: KEY: problem" (or "--set A: KEY: problem"); key may be NULL. */
static sr_status fail(const where *w, const char *key, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static sr_status fail(const where *w, const char *key, const char *fmt, ...) {
  char problem[1200];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(problem, sizeof problem, fmt, ap);
  va_end(ap);
  const char *k = key ? key : "", *sep = key ? ": " : "";
  if (w->file)
    return sr_error(SR_EINVAL, "%s:%d:%d: %s%s%s", w->file, w->line, w->column, k, sep, problem);
  if (w->assignment) return sr_error(SR_EINVAL, "--set %s: %s%s%s", w->assignment, k, sep, problem);
  return sr_error(SR_EINTERNAL, "configuration schema default: %s%s%s", k, sep, problem);
}

/* "did you mean", else the keys of the section named, else the sections. */
static sr_status unknown_key_fail(const where *w, const char *full) {
  const char *guess = key_suggest(full);
  if (guess) return fail(w, full, "unknown key (did you mean '%s'?)", guess);
  char section[64], list[512];
  const char *dot = strchr(full, '.');
  snprintf(section, sizeof section, "%.*s", dot ? (int)(dot - full) : 0, full);
  if (dot && section_find(section) >= 0) {
    names_list(section, list, sizeof list);
    return fail(w, full, "unknown key; the keys of %s are %s", section, list);
  }
  names_list(NULL, list, sizeof list);
  return fail(w, full, "unknown key; keys are section.name, the sections %s", list);
}

/* ---- scalar values ------------------------------------------------------------------------ */

typedef struct {
  const char *text; /* length bytes, may hold NULs (a "\0" escape); a plain one ends in NUL */
  size_t length;
  int plain;        /* unquoted: may be null, a number or a boolean */
} scalar;

static int scalar_is_null(const scalar *s) {
  if (!s->plain) return 0;
  return s->length == 0 || strcmp(s->text, "~") == 0 || strcmp(s->text, "null") == 0 ||
         strcmp(s->text, "Null") == 0 || strcmp(s->text, "NULL") == 0;
}

/* How a wrong value is shown: 'abc', the quoted string 'abc', an empty value, null. */
static void scalar_describe(const scalar *s, char *out, size_t size) {
  if (scalar_is_null(s)) {
    snprintf(out, size, "%s", s->length == 0 ? "an empty value" : "null");
    return;
  }
  size_t n = strnlen(s->text, s->length);
  int cut = n > 60;
  if (cut) {
    n = 60;
    while (n > 0 && ((unsigned char)s->text[n] & 0xC0) == 0x80) n--; /* whole UTF-8 characters */
  }
  snprintf(out, size, "%s'%.*s%s'", s->plain ? "" : "the quoted string ", (int)n, s->text,
           cut ? "..." : "");
}

typedef enum { NUMBER_OK, NUMBER_SYNTAX, NUMBER_OVERFLOW } number_parse;

/* Decimal integers only: [-+]?[0-9]+. */
static number_parse integer_parse(const scalar *s, int *negative, uint64_t *magnitude) {
  const char *t = s->text;
  size_t i = 0, n = s->length;
  *negative = 0;
  *magnitude = 0;
  if (i < n && (t[i] == '+' || t[i] == '-')) *negative = t[i++] == '-';
  if (i == n) return NUMBER_SYNTAX;
  int overflow = 0;
  for (; i < n; i++) {
    if (t[i] < '0' || t[i] > '9') return NUMBER_SYNTAX;
    unsigned digit = (unsigned)(t[i] - '0');
    if (*magnitude > (UINT64_MAX - digit) / 10) overflow = 1;
    else *magnitude = *magnitude * 10 + digit;
  }
  return overflow ? NUMBER_OVERFLOW : NUMBER_OK;
}

/* YAML 1.2 core-schema decimal floats: [-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)? */
static int float_syntax_ok(const char *t, size_t n) {
  size_t i = 0, digits = 0, exponent_digits = 0;
  if (i < n && (t[i] == '+' || t[i] == '-')) i++;
  for (; i < n && t[i] >= '0' && t[i] <= '9'; i++) digits++;
  if (i < n && t[i] == '.')
    for (i++; i < n && t[i] >= '0' && t[i] <= '9'; i++) digits++;
  if (digits == 0) return 0;
  if (i < n && (t[i] == 'e' || t[i] == 'E')) {
    i++;
    if (i < n && (t[i] == '+' || t[i] == '-')) i++;
    for (; i < n && t[i] >= '0' && t[i] <= '9'; i++) exponent_digits++;
    if (exponent_digits == 0) return 0;
  }
  return i == n;
}

static int is_non_finite_word(const char *t) {
  if (*t == '+' || *t == '-') t++;
  if (*t == '.') t++;
  return strcasecmp(t, "inf") == 0 || strcasecmp(t, "infinity") == 0 || strcasecmp(t, "nan") == 0;
}

static const char *kind_expected(const config_key *k) {
  switch (k->kind) {
    case KEY_INT:
    case KEY_I64:
    case KEY_U64: return k->nullable ? "an integer or null" : "an integer";
    case KEY_FLOAT: return "a number";
    case KEY_BOOL: return "true or false";
    case KEY_ENUM: return "one of its names";
    case KEY_STRING: return k->nullable ? "a string (a path) or null" : "a string (a path)";
  }
  return "a value";
}

/* The allowed values of a key, for messages: "1..256", "one of ce, sampled_ce, bce". */
static void key_allowed(const config_key *k, char *out, size_t size) {
  switch (k->kind) {
    case KEY_INT:
    case KEY_I64:
      snprintf(out, size, "%" PRId64 "..%" PRId64 "%s", k->imin, k->imax,
               k->nullable ? " or null" : "");
      return;
    case KEY_U64: snprintf(out, size, "0..%" PRIu64, UINT64_MAX); return;
    case KEY_FLOAT: snprintf(out, size, "%g..%g", k->fmin, k->fmax); return;
    case KEY_BOOL: snprintf(out, size, "true or false"); return;
    case KEY_ENUM: {
      int n = snprintf(out, size, "one of ");
      if (n > 0 && (size_t)n < size) enum_list(k->names, out + n, size - (size_t)n);
      return;
    }
    case KEY_STRING: snprintf(out, size, "a string of at most %zu bytes", k->size - 1); return;
  }
}

static sr_status integer_apply(const config_key *k, const scalar *s, void *field,
                               const where *w) {
  char shown[96], allowed[128];
  scalar_describe(s, shown, sizeof shown);
  key_allowed(k, allowed, sizeof allowed);
  if (!s->plain)
    return fail(w, k->key, "expected an integer, got %s (write it without quotes)", shown);
  int negative;
  uint64_t magnitude;
  number_parse p = integer_parse(s, &negative, &magnitude);
  if (p == NUMBER_SYNTAX) return fail(w, k->key, "expected an integer, got %s", shown);
  if (k->kind == KEY_U64) {
    if (p == NUMBER_OVERFLOW || (negative && magnitude != 0))
      return fail(w, k->key, "%s is out of range (allowed %s)", s->text, allowed);
    *(uint64_t *)field = magnitude;
    return SR_OK;
  }
  if (p == NUMBER_OVERFLOW || magnitude > (uint64_t)INT64_MAX + negative)
    return fail(w, k->key, "%s is out of range (allowed %s)", s->text, allowed);
  int64_t v = negative ? (int64_t)(0 - magnitude) : (int64_t)magnitude;
  if (v < k->imin || v > k->imax)
    return fail(w, k->key, "%s is out of range (allowed %s)", s->text, allowed);
  if (k->kind == KEY_INT) *(int *)field = (int)v;
  else *(int64_t *)field = v;
  return SR_OK;
}

static sr_status float_apply(const config_key *k, const scalar *s, float *field, const where *w) {
  char shown[96], allowed[128];
  scalar_describe(s, shown, sizeof shown);
  key_allowed(k, allowed, sizeof allowed);
  if (!s->plain)
    return fail(w, k->key, "expected a number, got %s (write it without quotes)", shown);
  if (is_non_finite_word(s->text))
    return fail(w, k->key, "expected a finite number, got %s (allowed %s)", shown, allowed);
  if (strlen(s->text) != s->length || !float_syntax_ok(s->text, s->length))
    return fail(w, k->key, "expected a number, got %s", shown);
  double d = strtod(s->text, NULL);
  if (!isfinite(d) || fabs(d) > FLT_MAX)
    return fail(w, k->key, "%s overflows a 32-bit float (allowed %s)", s->text, allowed);
  float f = (float)d;
  if (d != 0.0 && f == 0.0f)
    return fail(w, k->key, "%s underflows to 0 as a 32-bit float (allowed %s)", s->text, allowed);
  if ((double)f < k->fmin || (double)f > k->fmax)
    return fail(w, k->key, "%s is out of range (allowed %s)", s->text, allowed);
  *field = f;
  return SR_OK;
}

/* Parses one scalar into its field. Every path through here names the key. */
static sr_status key_apply(sr_config *cfg, const config_key *k, const scalar *s, const where *w) {
  char *field = (char *)cfg + k->offset;
  char shown[96];
  scalar_describe(s, shown, sizeof shown);
  if (scalar_is_null(s)) {
    if (!k->nullable) return fail(w, k->key, "expected %s, got %s", kind_expected(k), shown);
    if (k->kind == KEY_I64) *(int64_t *)field = INT64_MIN;
    else memset(field, 0, k->size);
    return SR_OK;
  }
  switch (k->kind) {
    case KEY_INT:
    case KEY_I64:
    case KEY_U64: return integer_apply(k, s, field, w);
    case KEY_FLOAT: return float_apply(k, s, (float *)(void *)field, w);
    case KEY_BOOL:
      /* Only YAML 1.2's spelling: yes/no/on/off mean booleans in YAML 1.1 and strings in 1.2. */
      if (s->plain && strcmp(s->text, "true") == 0) *(int *)field = 1;
      else if (s->plain && strcmp(s->text, "false") == 0) *(int *)field = 0;
      else return fail(w, k->key, "expected true or false, got %s", shown);
      return SR_OK;
    case KEY_ENUM: {
      for (int v = 0; k->names[v]; v++)
        if (strlen(k->names[v]) == s->length && strncmp(k->names[v], s->text, s->length) == 0) {
          *(int *)field = v;
          return SR_OK;
        }
      char list[256];
      enum_list(k->names, list, sizeof list);
      return fail(w, k->key, "expected one of %s; got %s", list, shown);
    }
    case KEY_STRING:
      if (memchr(s->text, '\0', s->length))
        return fail(w, k->key, "the string contains a NUL character");
      if (s->length >= k->size)
        return fail(w, k->key, "the string is %zu bytes long; at most %zu allowed", s->length,
                    k->size - 1);
      copy_zero_filled(field, k->size, s->text, s->length);
      return SR_OK;
  }
  return sr_error(SR_EINTERNAL, "%s: unknown key kind %d", k->key, (int)k->kind);
}

/* ---- reading YAML events ------------------------------------------------------------------ */

typedef struct {
  yaml_parser_t parser;
  yaml_event_t event;     /* the current event (zeroed when none) */
  const char *file;       /* a config file, or NULL for a --set value */
  const char *assignment; /* the --set argument */
  const char *text;       /* the whole input, to place reader errors and spot tabs */
  size_t length;
} reader;

static where reader_where(const reader *r, yaml_mark_t mark) {
  where w = {r->file, r->assignment, (int)mark.line + 1, (int)mark.column + 1};
  return w;
}

/* The byte at a libyaml mark (line and column count characters), or -1. */
static int byte_at(const reader *r, size_t line, size_t column) {
  size_t i = 0;
  for (size_t l = 0; l < line && i < r->length; i++)
    if (r->text[i] == '\n') l++;
  for (size_t c = 0; i < r->length && r->text[i] != '\n'; i++) {
    if (((unsigned char)r->text[i] & 0xC0) == 0x80) continue;
    if (c++ == column) return (unsigned char)r->text[i];
  }
  return -1;
}

static sr_status reader_syntax_error(const reader *r) {
  const yaml_parser_t *p = &r->parser;
  if (p->error == YAML_MEMORY_ERROR)
    return sr_error(SR_ENOMEM, "out of memory parsing %s", r->file ? r->file : r->assignment);
  where w = {r->file, r->assignment, 1, 1};
  const char *problem = p->problem ? p->problem : "unknown problem";
  if (p->error == YAML_READER_ERROR) {
    /* libyaml gives a byte offset here, not a mark. */
    for (size_t i = 0; i < p->problem_offset && i < r->length; i++) {
      if (r->text[i] == '\n') w.line++, w.column = 1;
      else if (((unsigned char)r->text[i] & 0xC0) != 0x80) w.column++;
    }
    if (p->problem_value >= 0)
      return fail(&w, NULL, "not valid YAML text: %s (#x%X); the file must be UTF-8 text", problem,
                  (unsigned)p->problem_value);
    return fail(&w, NULL, "not valid YAML text: %s; the file must be UTF-8 text", problem);
  }
  w = reader_where(r, p->problem_mark);
  char at[64] = ""; /* a --set message has no line:column of its own */
  if (!r->file) snprintf(at, sizeof at, " at column %d of the value", w.column);
  const char *hint = byte_at(r, p->problem_mark.line, p->problem_mark.column) == '\t'
                         ? "; YAML indents with spaces, and this is a tab"
                         : "";
  if (p->context)
    return fail(&w, NULL, "YAML syntax error%s: %s (%s at line %d, column %d)%s", at, problem,
                p->context, (int)p->context_mark.line + 1, (int)p->context_mark.column + 1, hint);
  return fail(&w, NULL, "YAML syntax error%s: %s%s", at, problem, hint);
}

static sr_status reader_next(reader *r) {
  yaml_event_delete(&r->event);
  if (!yaml_parser_parse(&r->parser, &r->event)) return reader_syntax_error(r);
  return SR_OK;
}

static const char *event_noun(const yaml_event_t *e) {
  switch (e->type) {
    case YAML_MAPPING_START_EVENT: return "a mapping";
    case YAML_SEQUENCE_START_EVENT: return "a sequence";
    case YAML_SCALAR_EVENT: return "a scalar";
    case YAML_ALIAS_EVENT: return "an alias";
    default: return "something else";
  }
}

/* Anchors, aliases and tags are not part of the format: refuse them where they appear. */
static sr_status node_check(const reader *r, const char *key) {
  const yaml_event_t *e = &r->event;
  where w = reader_where(r, e->start_mark);
  const yaml_char_t *anchor = NULL, *tag = NULL;
  switch (e->type) {
    case YAML_ALIAS_EVENT:
      return fail(&w, key, "YAML aliases (*%s) are not supported; write the value out",
                  (const char *)e->data.alias.anchor);
    case YAML_SCALAR_EVENT:
      anchor = e->data.scalar.anchor, tag = e->data.scalar.tag;
      break;
    case YAML_MAPPING_START_EVENT:
      anchor = e->data.mapping_start.anchor, tag = e->data.mapping_start.tag;
      break;
    case YAML_SEQUENCE_START_EVENT:
      anchor = e->data.sequence_start.anchor, tag = e->data.sequence_start.tag;
      break;
    default: break;
  }
  if (anchor)
    return fail(&w, key, "YAML anchors (&%s) are not supported; write the value out",
                (const char *)anchor);
  if (tag) return fail(&w, key, "YAML tags (%s) are not supported; write the plain value",
                       (const char *)tag);
  return SR_OK;
}

static scalar event_scalar(const yaml_event_t *e) {
  scalar s = {(const char *)e->data.scalar.value, e->data.scalar.length,
              e->data.scalar.style == YAML_PLAIN_SCALAR_STYLE};
  return s;
}

/* The current event as a mapping key, copied into name. */
static sr_status key_name_read(const reader *r, const char *context, char *name, size_t size) {
  TRY(node_check(r, context));
  if (r->event.type != YAML_SCALAR_EVENT) {
    where w = reader_where(r, r->event.start_mark);
    return fail(&w, context, "expected a key name, got %s", event_noun(&r->event));
  }
  snprintf(name, size, "%s", (const char *)r->event.data.scalar.value);
  return SR_OK;
}

/* A null or empty value where a mapping may stand ("train:" with every key commented out). */
static int event_is_null(const yaml_event_t *e) {
  if (e->type != YAML_SCALAR_EVENT) return 0;
  scalar s = event_scalar(e);
  return scalar_is_null(&s);
}

/* The keys of one section; the current event is the section's value. */
static sr_status section_read(reader *r, sr_config *cfg, const char *section, int *key_line) {
  TRY(node_check(r, section));
  if (event_is_null(&r->event)) return SR_OK;
  if (r->event.type != YAML_MAPPING_START_EVENT) {
    where w = reader_where(r, r->event.start_mark);
    char shown[96] = "";
    if (r->event.type == YAML_SCALAR_EVENT) {
      scalar s = event_scalar(&r->event);
      scalar_describe(&s, shown, sizeof shown);
    }
    return fail(&w, section,
                "expected a mapping of keys (key: value lines under '%s:'), got %s%s%s", section,
                event_noun(&r->event), shown[0] ? " " : "", shown);
  }
  for (;;) {
    TRY(reader_next(r));
    if (r->event.type == YAML_MAPPING_END_EVENT) return SR_OK;
    char name[256], full[2 * 256 + 2]; /* "section.name" */
    TRY(key_name_read(r, section, name, sizeof name));
    snprintf(full, sizeof full, "%s.%s", section, name);
    where w = reader_where(r, r->event.start_mark);
    if (strcmp(name, "<<") == 0)
      return fail(&w, section, "YAML merge keys (<<) are not supported; write the keys out");
    const config_key *k = key_find(full);
    if (!k) return unknown_key_fail(&w, full);
    int index = (int)(k - schema);
    if (key_line[index])
      return fail(&w, full, "duplicate key (first set at line %d)", key_line[index]);
    key_line[index] = w.line;
    TRY(reader_next(r));
    TRY(node_check(r, full));
    w = reader_where(r, r->event.start_mark);
    if (r->event.type != YAML_SCALAR_EVENT)
      return fail(&w, full, "expected %s, got %s", kind_expected(k), event_noun(&r->event));
    scalar s = event_scalar(&r->event);
    TRY(key_apply(cfg, k, &s, &w));
  }
}

/* The whole stream: nothing (all defaults), or one document mapping sections to keys. */
static sr_status document_read(reader *r, sr_config *cfg) {
  char sections[512];
  names_list(NULL, sections, sizeof sections);
  TRY(reader_next(r)); /* stream start */
  TRY(reader_next(r));
  if (r->event.type == YAML_STREAM_END_EVENT) return SR_OK;
  TRY(reader_next(r)); /* the root node */
  TRY(node_check(r, NULL));
  if (event_is_null(&r->event)) {
    TRY(reader_next(r));
  } else if (r->event.type != YAML_MAPPING_START_EVENT) {
    where w = reader_where(r, r->event.start_mark);
    return fail(&w, NULL, "expected a mapping of sections (%s), got %s", sections,
                event_noun(&r->event));
  } else {
    int section_line[n_keys] = {0}, key_line[n_keys] = {0};
    for (;;) {
      TRY(reader_next(r));
      if (r->event.type == YAML_MAPPING_END_EVENT) break;
      char name[256];
      TRY(key_name_read(r, NULL, name, sizeof name));
      where w = reader_where(r, r->event.start_mark);
      int index = section_find(name);
      if (index < 0) {
        const char *guess = NULL;
        int best = INT_MAX;
        for (int i = 0; i < n_keys; i++) {
          if (!is_section_start(i)) continue;
          char candidate[64];
          snprintf(candidate, sizeof candidate, "%.*s", (int)section_length(schema[i].key),
                   schema[i].key);
          int d = edit_distance(name, candidate);
          if (d < best) best = d, guess = schema[i].key;
        }
        if (guess && close_enough(best, name))
          return fail(&w, name, "unknown section (did you mean '%.*s'?)",
                      (int)section_length(guess), guess);
        return fail(&w, name, "unknown section; the sections are %s", sections);
      }
      if (section_line[index])
        return fail(&w, name, "duplicate section (first at line %d)", section_line[index]);
      section_line[index] = w.line;
      TRY(reader_next(r));
      TRY(section_read(r, cfg, name, key_line));
    }
    TRY(reader_next(r)); /* document end */
  }
  TRY(reader_next(r));
  if (r->event.type == YAML_DOCUMENT_START_EVENT) {
    where w = reader_where(r, r->event.start_mark);
    return fail(&w, NULL, "a second YAML document; a configuration file holds one");
  }
  return SR_OK;
}

static sr_status file_read_all(const char *path, char **text, size_t *length) {
  sr_status st = SR_OK;
  char *buf = NULL;
  size_t used = 0;
  FILE *f = fopen(path, "rb");
  if (!f) FAIL_GOTO(SR_EIO, "cannot open config file %s: %s", path, strerror(errno));
  TRY_GOTO(sr_alloc(&buf, CONFIG_FILE_MAX + 1, 1, "config file"));
  used = fread(buf, 1, CONFIG_FILE_MAX + 1, f);
  if (ferror(f)) FAIL_GOTO(SR_EIO, "cannot read config file %s: %s", path, strerror(errno));
  if (used > CONFIG_FILE_MAX)
    FAIL_GOTO(SR_EINVAL, "%s: larger than %u bytes; is this a configuration file?", path,
              CONFIG_FILE_MAX);
  buf[used] = '\0';
cleanup:
  if (f) fclose(f);
  if (st != SR_OK) sr_free(buf), buf = NULL, used = 0;
  *text = buf;
  *length = used;
  return st;
}

sr_status sr_config_load(sr_config *cfg, const char *path) {
  sr_status st = SR_OK;
  char *text = NULL;
  size_t length = 0;
  sr_config *work = NULL;
  reader r;
  memset(&r, 0, sizeof r);
  int parser_ready = 0;
  if (strlen(path) >= sizeof cfg->source)
    FAIL_GOTO(SR_EINVAL, "config file name longer than %zu bytes: %.80s...",
              sizeof cfg->source - 1, path);
  TRY_GOTO(file_read_all(path, &text, &length));
  TRY_GOTO(sr_alloc(&work, 1, sizeof *work, "configuration"));
  memcpy(work, cfg, sizeof *work);
  if (!yaml_parser_initialize(&r.parser)) FAIL_GOTO(SR_ENOMEM, "out of memory parsing %s", path);
  parser_ready = 1;
  yaml_parser_set_input_string(&r.parser, (const unsigned char *)text, length);
  r.file = path;
  r.text = text;
  r.length = length;
  TRY_GOTO(document_read(&r, work));
  copy_zero_filled(work->source, sizeof work->source, path, strlen(path));
  memcpy(cfg, work, sizeof *cfg);
cleanup:
  yaml_event_delete(&r.event);
  if (parser_ready) yaml_parser_delete(&r.parser);
  sr_free(work);
  sr_free(text);
  return st;
}

/* ---- --set -------------------------------------------------------------------------------- */

/* The value of a --set is one YAML scalar (quotes and escapes as in a file). */
static sr_status set_value_apply(reader *r, sr_config *cfg, const config_key *k) {
  where w = {NULL, r->assignment, 1, 1};
  TRY(reader_next(r)); /* stream start */
  TRY(reader_next(r));
  if (r->event.type == YAML_STREAM_END_EVENT) { /* "key=" */
    scalar empty = {"", 0, 1};
    return key_apply(cfg, k, &empty, &w);
  }
  TRY(reader_next(r));
  TRY(node_check(r, k->key));
  if (r->event.type != YAML_SCALAR_EVENT)
    return fail(&w, k->key, "expected %s, got %s (quote the value if it holds ': ' or starts "
                "with '[' or '{')", kind_expected(k), event_noun(&r->event));
  scalar s = event_scalar(&r->event);
  TRY(key_apply(cfg, k, &s, &w));
  TRY(reader_next(r)); /* document end */
  TRY(reader_next(r));
  if (r->event.type != YAML_STREAM_END_EVENT)
    return fail(&w, k->key, "the value holds more than one YAML document");
  return SR_OK;
}

sr_status sr_config_set(sr_config *cfg, const char *assignment) {
  sr_status st = SR_OK;
  sr_config *work = NULL;
  reader r;
  memset(&r, 0, sizeof r);
  int parser_ready = 0;
  const char *eq = strchr(assignment, '=');
  if (!eq) FAIL_GOTO(SR_EINVAL, "--set %s: missing '='; write --set section.key=value", assignment);
  const char *key = assignment, *key_end = eq;
  while (key < key_end && (*key == ' ' || *key == '\t')) key++;
  while (key_end > key && (key_end[-1] == ' ' || key_end[-1] == '\t')) key_end--;
  char name[256];
  snprintf(name, sizeof name, "%.*s", (int)(key_end - key), key);
  const config_key *k = key_find(name);
  if (!k) {
    where w = {NULL, assignment, 1, 1};
    st = unknown_key_fail(&w, name);
    goto cleanup;
  }
  TRY_GOTO(sr_alloc(&work, 1, sizeof *work, "configuration"));
  memcpy(work, cfg, sizeof *work);
  if (!yaml_parser_initialize(&r.parser))
    FAIL_GOTO(SR_ENOMEM, "out of memory parsing --set %s", assignment);
  parser_ready = 1;
  const char *value = eq + 1;
  yaml_parser_set_input_string(&r.parser, (const unsigned char *)value, strlen(value));
  r.assignment = assignment;
  r.text = value;
  r.length = strlen(value);
  TRY_GOTO(set_value_apply(&r, work, k));
  memcpy(cfg, work, sizeof *cfg);
cleanup:
  yaml_event_delete(&r.event);
  if (parser_ready) yaml_parser_delete(&r.parser);
  sr_free(work);
  return st;
}

/* ---- defaults, validation ----------------------------------------------------------------- */

void sr_config_defaults(sr_config *cfg) {
  memset(cfg, 0, sizeof *cfg);
  where w = {NULL, NULL, 0, 0};
  for (int i = 0; i < n_keys; i++) {
    /* The defaults are YAML text parsed like a file's; a default that does not parse is a bug
     * in the table, recorded as SR_EINTERNAL (and caught by test_config). */
    const char *d = schema[i].def;
    size_t n = strlen(d);
    scalar s = {d, n, 1};
    if (n >= 2 && d[0] == '"' && d[n - 1] == '"') s = (scalar){d + 1, n - 2, 0};
    (void)key_apply(cfg, &schema[i], &s, &w);
  }
}

/* A field's value against the table's range (a struct filled in code is checked too). */
static sr_status key_validate(const sr_config *cfg, const config_key *k) {
  const char *field = (const char *)cfg + k->offset;
  char allowed[128];
  key_allowed(k, allowed, sizeof allowed);
  switch (k->kind) {
    case KEY_INT: {
      int v = *(const int *)field;
      if (v < k->imin || v > k->imax)
        return sr_error(SR_EINVAL, "%s is %d; allowed %s", k->key, v, allowed);
      return SR_OK;
    }
    case KEY_I64: {
      int64_t v = *(const int64_t *)field;
      if (k->nullable && v == INT64_MIN) return SR_OK;
      if (v < k->imin || v > k->imax)
        return sr_error(SR_EINVAL, "%s is %" PRId64 "; allowed %s", k->key, v, allowed);
      return SR_OK;
    }
    case KEY_U64: return SR_OK;
    case KEY_FLOAT: {
      float v = *(const float *)(const void *)field;
      if (!isfinite(v) || (double)v < k->fmin || (double)v > k->fmax)
        return sr_error(SR_EINVAL, "%s is %g; allowed %s", k->key, (double)v, allowed);
      return SR_OK;
    }
    case KEY_BOOL:
    case KEY_ENUM: {
      int v = *(const int *)field, n = 2;
      if (k->kind == KEY_ENUM)
        for (n = 0; k->names[n];) n++;
      if (v < 0 || v >= n) return sr_error(SR_EINVAL, "%s is %d; allowed %s", k->key, v, allowed);
      return SR_OK;
    }
    case KEY_STRING:
      if (!memchr(field, '\0', k->size))
        return sr_error(SR_EINVAL, "%s is not terminated within %zu bytes", k->key, k->size);
      return SR_OK;
  }
  return SR_OK;
}

sr_status sr_config_validate(const sr_config *cfg) {
  for (int i = 0; i < n_keys; i++) TRY(key_validate(cfg, &schema[i]));
  if (cfg->model.d_model % cfg->model.n_heads != 0)
    return sr_error(SR_EINVAL,
                    "model.d_model (%d) is not divisible by model.n_heads (%d); each head gets "
                    "d_model / n_heads dimensions",
                    cfg->model.d_model, cfg->model.n_heads);
  if (cfg->train.loss == SR_LOSS_SAMPLED_CE && cfg->train.negatives < 1)
    return sr_error(SR_EINVAL,
                    "train.loss is sampled_ce but train.negatives is %d; set train.negatives to "
                    "the sampled items per position (e.g. 100)",
                    cfg->train.negatives);
  if (cfg->data.split == SR_SPLIT_TEMPORAL && cfg->data.split_time == SR_SPLIT_TIME_UNSET)
    return sr_error(SR_EINVAL,
                    "data.split is temporal but data.split_time is not set; give the split point "
                    "in seconds since the epoch");
  if (cfg->data.split != SR_SPLIT_TEMPORAL && cfg->data.split_time != SR_SPLIT_TIME_UNSET)
    sr_warn("data.split_time is ignored: data.split is %s", split_names[cfg->data.split]);
  if (cfg->data.split == SR_SPLIT_TEMPORAL && cfg->data.train_since != SR_SPLIT_TIME_UNSET &&
      cfg->data.train_since >= cfg->data.split_time)
    return sr_error(SR_EINVAL,
                    "data.train_since (%lld) is not before data.split_time (%lld): nothing to "
                    "train on", (long long)cfg->data.train_since, (long long)cfg->data.split_time);
  if (cfg->train.loss != SR_LOSS_SAMPLED_CE && cfg->train.negatives > 0)
    sr_warn("train.negatives (%d) is ignored: train.loss is %s, not sampled_ce",
            cfg->train.negatives, loss_names[cfg->train.loss]);
  return SR_OK;
}

/* ---- command line ------------------------------------------------------------------------- */

sr_status sr_config_from_args(sr_config *cfg, int argc, char **argv) {
  const char *command = argc > 0 ? argv[0] : "seqrec";
  const char *usage = "accepted: -c/--config FILE, --set section.key=value";
  const char *file = NULL;
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i], *value = NULL;
    int is_config = strcmp(a, "-c") == 0 || strcmp(a, "--config") == 0;
    if (is_config || strcmp(a, "--set") == 0) {
      if (i + 1 >= argc)
        return sr_error(SR_EINVAL, "%s: %s needs %s", command, a,
                        is_config ? "a file name" : "section.key=value");
      value = argv[++i];
    } else if (strncmp(a, "--config=", 9) == 0) {
      is_config = 1;
      value = a + 9;
    } else if (strncmp(a, "--set=", 6) == 0) {
      continue;
    } else if (a[0] == '-') {
      return sr_error(SR_EINVAL, "%s: unknown option '%s' (%s)", command, a, usage);
    } else {
      return sr_error(SR_EINVAL, "%s: unexpected argument '%s' (%s)", command, a, usage);
    }
    if (is_config) {
      if (file) return sr_error(SR_EINVAL, "%s: more than one config file (%s and %s)", command,
                                file, value);
      file = value;
    }
  }
  sr_config_defaults(cfg);
  if (file) TRY(sr_config_load(cfg, file));
  int n_sets = 0;
  for (int i = 1; i < argc; i++) {
    const char *assignment = NULL;
    if (strcmp(argv[i], "--set") == 0) assignment = argv[++i];
    else if (strncmp(argv[i], "--set=", 6) == 0) assignment = argv[i] + 6;
    else if (strcmp(argv[i], "-c") == 0 || strcmp(argv[i], "--config") == 0) i++;
    if (assignment) {
      TRY(sr_config_set(cfg, assignment));
      n_sets++;
    }
  }
  sr_status st = sr_config_validate(cfg);
  /* The keys are named already; say which configuration holds them. */
  if (st != SR_OK && (file || n_sets))
    sr_error_context("in %s%s%s", file ? file : "", file && n_sets ? " with " : "",
                     n_sets ? "the --set overrides" : "");
  return st;
}

/* ---- output ------------------------------------------------------------------------------- */

/* Plain only when every YAML reader takes it as this same string; otherwise double-quoted. */
static int string_plain_ok(const char *s) {
  static const char *const reserved[] = {"null", "true", "false", "yes", "no", "on", "off",
                                         "y", "n", NULL};
  if (!((s[0] >= 'a' && s[0] <= 'z') || (s[0] >= 'A' && s[0] <= 'Z') || s[0] == '_' ||
        s[0] == '/'))
    return 0;
  for (const char *p = s; *p; p++)
    if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
          *p == '_' || *p == '.' || *p == '/' || *p == '-'))
      return 0;
  for (int i = 0; reserved[i]; i++)
    if (strcasecmp(s, reserved[i]) == 0) return 0;
  return 1;
}

static sr_status string_format(const char *s, text_buf *b) {
  if (string_plain_ok(s)) return text_append(b, "%s", s);
  TRY(text_append(b, "\""));
  for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
    /* Characters a YAML reader would refuse or fold: control characters, C1 controls and
     * NEL (U+0080..U+009F), the line and paragraph separators, a byte-order mark. */
    if (*p == '"' || *p == '\\') TRY(text_append(b, "\\%c", *p));
    else if (*p == '\n') TRY(text_append(b, "\\n"));
    else if (*p == '\t') TRY(text_append(b, "\\t"));
    else if (*p < 0x20 || *p == 0x7F) TRY(text_append(b, "\\x%02X", *p));
    else if (p[0] == 0xC2 && p[1] >= 0x80 && p[1] <= 0x9F) {
      TRY(text_append(b, "\\x%02X", p[1]));
      p++;
    } else if (p[0] == 0xE2 && p[1] == 0x80 && (p[2] == 0xA8 || p[2] == 0xA9)) {
      TRY(text_append(b, "\\u%04X", 0x2000 + p[2] - 0x80));
      p += 2;
    } else if (p[0] == 0xEF && p[1] == 0xBB && p[2] == 0xBF) {
      TRY(text_append(b, "\\uFEFF"));
      p += 2;
    } else {
      TRY(text_append(b, "%c", *p));
    }
  }
  return text_append(b, "\"");
}

/* The shortest text that reads back as the same float (9 significant digits always do). */
static sr_status float_format(float v, text_buf *b) {
  char text[32];
  for (int digits = 1; digits <= 9; digits++) {
    snprintf(text, sizeof text, "%.*g", digits, (double)v);
    if (strtof(text, NULL) == v) break;
  }
  return text_append(b, "%s%s", text, strpbrk(text, ".eEn") ? "" : ".0");
}

static sr_status value_format(const sr_config *cfg, const config_key *k, text_buf *b) {
  const char *field = (const char *)cfg + k->offset;
  switch (k->kind) {
    case KEY_INT: return text_append(b, "%d", *(const int *)field);
    case KEY_I64: {
      int64_t v = *(const int64_t *)field;
      if (k->nullable && v == INT64_MIN) return text_append(b, "null");
      return text_append(b, "%" PRId64, v);
    }
    case KEY_U64: return text_append(b, "%" PRIu64, *(const uint64_t *)field);
    case KEY_FLOAT: return float_format(*(const float *)(const void *)field, b);
    case KEY_BOOL: return text_append(b, "%s", *(const int *)field ? "true" : "false");
    case KEY_ENUM: {
      int v = *(const int *)field, n = 0;
      while (k->names[n]) n++;
      if (v < 0 || v >= n) return text_append(b, "%d", v); /* invalid: validate says so */
      return text_append(b, "%s", k->names[v]);
    }
    case KEY_STRING:
      if (k->nullable && field[0] == '\0') return text_append(b, "null");
      return string_format(field, b);
  }
  return SR_OK;
}

sr_status sr_config_get(const sr_config *cfg, const char *key, char *out, size_t size) {
  const config_key *k = key_find(key);
  if (!k) {
    const char *guess = key_suggest(key);
    return sr_error(SR_EINVAL, "unknown configuration key '%s'%s%s%s", key,
                    guess ? " (did you mean '" : "", guess ? guess : "", guess ? "'?)" : "");
  }
  text_buf b = {0};
  sr_status st = value_format(cfg, k, &b);
  if (st == SR_OK && b.length >= size)
    st = sr_error(SR_EINTERNAL, "%s: value of %zu bytes does not fit a buffer of %zu", key,
                  b.length, size);
  if (st == SR_OK) memcpy(out, b.data, b.length + 1);
  sr_free(b.data);
  return st;
}

/* Comments start at this column when the value leaves room. */
#define YAML_COMMENT_COLUMN 34

static int text_printable(const char *s) {
  for (; *s; s++)
    if ((unsigned char)*s < 0x20 || *s == 0x7F) return 0;
  return 1;
}

sr_status sr_config_to_yaml(const sr_config *cfg, char **text) {
  sr_status st = SR_OK;
  text_buf b = {0};
  *text = NULL;
  TRY_GOTO(text_append(&b, "# seqrec configuration (every key; see configs/default.yaml)\n"));
  if (cfg->source[0] && text_printable(cfg->source))
    TRY_GOTO(text_append(&b, "# loaded from %s\n", cfg->source));
  for (int i = 0; i < n_keys; i++) {
    const config_key *k = &schema[i];
    if (is_section_start(i))
      TRY_GOTO(text_append(&b, "%s%.*s:\n", i ? "\n" : "", (int)section_length(k->key), k->key));
    size_t line_start = b.length;
    TRY_GOTO(text_append(&b, "  %s: ", key_leaf(k->key)));
    TRY_GOTO(value_format(cfg, k, &b));
    int width = (int)(b.length - line_start);
    int pad = width < YAML_COMMENT_COLUMN ? YAML_COMMENT_COLUMN - width : 1;
    TRY_GOTO(text_append(&b, "%*s# %s", pad, "", k->help));
    for (int v = 0; k->kind == KEY_ENUM && k->names[v]; v++)
      TRY_GOTO(text_append(&b, "%s%s", v ? " | " : ": ", k->names[v]));
    TRY_GOTO(text_append(&b, "\n"));
  }
  *text = b.data;
  b.data = NULL;
cleanup:
  sr_free(b.data);
  return st;
}

void sr_config_print(const sr_config *cfg) {
  int width = 0;
  for (int i = 0; i < n_keys; i++)
    if ((int)strlen(schema[i].key) > width) width = (int)strlen(schema[i].key);
  int named = cfg->source[0] && text_printable(cfg->source);
  sr_info("configuration (%s%s):", named ? "from " : "defaults", named ? cfg->source : "");
  text_buf b = {0};
  for (int i = 0; i < n_keys; i++) {
    b.length = 0;
    if (value_format(cfg, &schema[i], &b) != SR_OK) {
      sr_error_clear(); /* printing is best effort; an allocation failure loses a row */
      continue;
    }
    sr_info("  %-*s  %s", width, schema[i].key, b.data);
  }
  sr_free(b.data);
}
