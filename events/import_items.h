/* seqrec import --items: an items file (MovieLens movies.dat, or csv float vectors) read into
 * titles and content vectors, then matched to the log's items by raw id. Not for the log itself
 * (import.h) nor HDF5 (events.h). */
#ifndef SR_EVENTS_IMPORT_ITEMS_H
#define SR_EVENTS_IMPORT_ITEMS_H

#include <stddef.h>
#include <stdint.h>

#include "core/status.h"
#include "events/import.h"

typedef enum {
  SR_ITEMS_MOVIELENS, /* MovieID::Title::Genre|Genre..., ISO-8859-1 */
  SR_ITEMS_CSV,       /* id,v1,...,vD float vectors, no header */
} sr_items_format;

/* "movielens" / "csv" -> the format; -1 when unknown. */
int sr_items_format_parse(const char *name);

/* The items of the file, in file order (key k = the k-th item line). */
typedef struct {
  sr_import_ids ids;   /* raw ids; a repeated one is an error */
  char **title;        /* [ids.n] UTF-8, NULL for csv */
  char **genres;       /* [ids.n] movielens: the raw genre field, until the vectors are built */
  int64_t *line;       /* [ids.n] 1-based line of the item, for the duplicate message */
  float *vec;          /* [ids.n * dim] */
  int dim;
  int n_names;         /* movielens: genre vocabulary, sorted by name (the content columns) */
  char **names;        /* [n_names] */
  char source[256];    /* the content_source attribute */
  int64_t cap;
} sr_items;

void sr_items_init(sr_items *items);
void sr_items_free(sr_items *items);
/* Parses text[0..len); `name` stands for the file in messages (FILE:LINE[, column]). */
sr_status sr_items_read_text(sr_items *items, sr_items_format format, const char *name,
                             const char *text, size_t len);
sr_status sr_items_read_file(sr_items *items, sr_items_format format, const char *path);

/* Rows for events.h5 from table's item order: *content [n_items + 1, dim] (zero rows for items
 * the file lacks, row 0 padding), *titles [n_items + 1] (NULL for csv; "" where missing; the
 * strings belong to items). *matched = log items found in the file. */
sr_status sr_items_match(const sr_items *items, int64_t n_items, const char *const *item_raw,
                         float **content, const char ***titles, int64_t *matched);

#endif
