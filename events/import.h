/* seqrec import, inside: source logs (CSV/TSV and the MovieLens, SASRec and Taobao presets) read
 * into an in-memory log, raw ids interned, then dedupe, k-core filtering, dense ids and the
 * (user, time) order. Not for the HDF5 side (events.h) nor the command line (import_main.c). */
#ifndef SR_EVENTS_IMPORT_H
#define SR_EVENTS_IMPORT_H

#include <stddef.h>
#include <stdint.h>

#include "core/status.h"
#include "core/timer.h"
#include "events/events.h"

/* Longest line accepted; longer ones are bad rows (a binary file or a missing newline). */
#define SR_IMPORT_MAX_LINE ((size_t)1 << 20)
/* Longest raw id: ids are stored as fixed-width strings, so one huge id would bloat the file. */
#define SR_IMPORT_MAX_ID 1024
/* Longest event type name (the reader keeps them in char[32]). */
#define SR_IMPORT_MAX_TYPE_NAME 31

typedef enum {
  SR_IMPORT_CSV,       /* comma separated, "quoted" fields allowed */
  SR_IMPORT_TSV,       /* tab separated, no quoting */
  SR_IMPORT_MOVIELENS, /* UserID::MovieID::Rating::Timestamp or user<TAB>item<TAB>rating<TAB>time */
  SR_IMPORT_SASREC,    /* user item, whitespace separated, time = line order */
  SR_IMPORT_TAOBAO,    /* user,item,category,type,time with type pv|cart|fav|buy */
} sr_import_format;

/* Why a row was rejected; counted per kind under --skip-bad. */
typedef enum {
  SR_IMPORT_BAD_FIELDS,    /* wrong number of fields */
  SR_IMPORT_BAD_QUOTE,     /* csv: unterminated quote, or text after a closing quote */
  SR_IMPORT_BAD_EMPTY_ID,  /* empty user or item id */
  SR_IMPORT_BAD_ID,        /* id not valid UTF-8, or longer than SR_IMPORT_MAX_ID */
  SR_IMPORT_BAD_TIME,      /* time not an integer, or outside int64 */
  SR_IMPORT_BAD_TYPE,      /* unknown taobao type; empty, too long or one type too many */
  SR_IMPORT_BAD_LONG_LINE, /* longer than the line limit */
  SR_IMPORT_BAD_NUL,       /* a NUL byte in the line */
  SR_IMPORT_BAD_KINDS
} sr_import_bad;

/* A short name of the kind of bad row, for the summary ("bad time"). */
const char *sr_import_bad_name(sr_import_bad kind);
/* "csv" -> SR_IMPORT_CSV ...; -1 when unknown. */
int sr_import_format_parse(const char *name);
const char *sr_import_format_name(sr_import_format format);

typedef struct {
  sr_import_format format;
  /* csv/tsv only: a 1-based column number, or a header name with `header`; NULL when absent
   * (user and item are required; no time: line order; no type: no /events/type). */
  const char *user_col, *item_col, *time_col, *type_col;
  int header;            /* the first line of every input file names the columns */
  int skip_bad;          /* count and skip bad rows instead of failing on the first one */
  size_t block_bytes;    /* read size; 0: 8 MiB (tests use tiny blocks to cross boundaries) */
  size_t max_line_bytes; /* 0: SR_IMPORT_MAX_LINE */
} sr_import_opts;

/* Decimal integer: optional '-', digits only. 1: *out set; 0: not an integer; -1: outside int64. */
int sr_import_parse_int64(const char *s, size_t len, int64_t *out);
/* 1 when s[0..len) is well-formed UTF-8 (no overlongs, surrogates or code points > U+10FFFF). */
int sr_import_utf8_valid(const char *s, size_t len);

/* ---- raw ids ------------------------------------------------------------------------------ */

/* One slot of the id hash table. Ids of up to 8 bytes are compared in the slot alone (one cache
 * miss per lookup); longer ones also against the pool. */
typedef struct {
  uint64_t head; /* the id's first 8 bytes, zero-padded */
  uint32_t tag;  /* hash with its low 4 bits replaced by min(length, 15) */
  int32_t key;   /* key + 1; 0 is an empty slot */
} sr_import_slot;

/* Distinct raw ids of one column, each given a key 0..n-1 in order of first appearance.
 * Open addressing with linear probing over a power-of-two slot table. */
typedef struct {
  char *pool; /* ids back to back, each NUL-terminated */
  size_t pool_used, pool_cap;
  int64_t *start;     /* [n] offset of id k in pool */
  int64_t *number;    /* [n] value of id k when it is an integer */
  uint8_t *is_number; /* [n] */
  uint32_t *hash;     /* [n] for rebuilding the slot table */
  int32_t n, cap;
  sr_import_slot *slots; /* [n_slots] */
  size_t n_slots;
} sr_import_ids;

void sr_import_ids_init(sr_import_ids *ids);
void sr_import_ids_free(sr_import_ids *ids);
/* *key = the key of s[0..len) (new ids get the next key). s holds no NUL. */
sr_status sr_import_ids_intern(sr_import_ids *ids, const char *s, size_t len, int32_t *key);
/* The key of s[0..len), or -1 when it was never interned. */
int32_t sr_import_ids_find(const sr_import_ids *ids, const char *s, size_t len);
static inline const char *sr_import_ids_get(const sr_import_ids *ids, int32_t key) {
  return ids->pool + ids->start[key];
}
/* The keys with count[key] > 0 in the order of their dense ids: numeric order when every one of
 * them is an integer (ties, as "07" and "7", byte-wise), else byte-wise lexicographic.
 * *sorted is allocated ([*n_sorted] keys; free with sr_free). */
sr_status sr_import_ids_sort(const sr_import_ids *ids, const int64_t *count, int32_t **sorted,
                             int32_t *n_sorted);

/* ---- reading ------------------------------------------------------------------------------ */

/* Events as read, in input order, with interned user and item keys. */
typedef struct {
  int64_t n, cap;
  int32_t *user; /* [n] key in users */
  int32_t *item; /* [n] key in items */
  int64_t *time; /* [n] */
  uint8_t *type; /* [n]; NULL when the input has no event types */
  sr_import_ids users, items;
  int n_types;
  char types[SR_EVENTS_MAX_TYPES][SR_IMPORT_MAX_TYPE_NAME + 1];
  int64_t n_rows; /* data rows seen in all files, bad ones included (headers, blanks not) */
  int64_t n_bad[SR_IMPORT_BAD_KINDS];
} sr_import_log;

sr_status sr_import_log_init(sr_import_log *log, const sr_import_opts *opts);
void sr_import_log_free(sr_import_log *log);
/* Appends the rows of one file ("-": standard input). Line order (the time without a time column)
 * keeps counting from the files read before. progress may be NULL. Messages name the file and
 * 1-based line. */
sr_status sr_import_read_file(sr_import_log *log, const sr_import_opts *opts, const char *path,
                              sr_progress *progress);
/* The same on text in memory, `name` standing for the file in messages (tests). */
sr_status sr_import_read_text(sr_import_log *log, const sr_import_opts *opts, const char *name,
                              const char *text, size_t len);

/* ---- filtering and ordering --------------------------------------------------------------- */

typedef struct {
  int dedupe;              /* drop repeated (user, item, time, type), keeping the first */
  int64_t min_user_events; /* k-core: applied with min_item_events until nothing changes */
  int64_t min_item_events;
  /* --catalogue: [item keys] 1 for items kept in the vocabulary even with no event left (the
   * items file's); NULL: an item exists only through its events */
  const uint8_t *keep_items;
} sr_import_filter;

/* The log as events.h5 wants it: dense ids, events sorted by (user, time, input order). */
typedef struct {
  int64_t n_users, n_items, n_events;
  int64_t *lengths;      /* [n_users] events per user */
  const char **user_raw; /* [n_users] pointers into the log's pool */
  const char **item_raw; /* [n_items + 1]; [0] is "" (padding) */
  int32_t *item;         /* [n_events] dense 1..n_items */
  int64_t *time;         /* [n_events] */
  uint8_t *type;         /* [n_events]; NULL when the log has no types */
  int user_id_width;     /* longest user raw id, at least 1 */
  int64_t type_count[SR_EVENTS_MAX_TYPES];
  /* what filtering dropped */
  int64_t n_duplicates;
  int64_t kcore_users, kcore_items, kcore_events, kcore_rounds;
  int64_t catalogue_items; /* items without events kept by filter.keep_items */
} sr_import_table;

/* Fails (SR_EINVAL) when the log is empty or filtering leaves no event. The table points into
 * the log's id pools: free it before the log. */
sr_status sr_import_table_build(const sr_import_log *log, const sr_import_filter *filter,
                                sr_import_table *table);
void sr_import_table_free(sr_import_table *table);

#endif
