/* seqrec import --items: MovieLens movies.dat (titles and multi-hot genre vectors) or csv float
 * vectors, read whole into memory (item files are small next to logs), then matched to the
 * log's dense items by raw id. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/arena.h"
#include "events/import_items.h"

/* A genre vocabulary larger than this is not genres (a wrong file). */
enum { MAX_GENRES = 4096 };

int sr_items_format_parse(const char *name) {
  if (strcmp(name, "movielens") == 0) return SR_ITEMS_MOVIELENS;
  if (strcmp(name, "csv") == 0) return SR_ITEMS_CSV;
  return -1;
}

void sr_items_init(sr_items *items) {
  memset(items, 0, sizeof *items);
  sr_import_ids_init(&items->ids);
}

void sr_items_free(sr_items *items) {
  for (int64_t k = 0; k < items->ids.n; k++) {
    if (items->title) sr_free(items->title[k]);
    if (items->genres) sr_free(items->genres[k]);
  }
  for (int k = 0; k < items->n_names; k++) sr_free(items->names[k]);
  sr_free(items->title);
  sr_free(items->genres);
  sr_free(items->line);
  sr_free(items->vec);
  sr_free(items->names);
  sr_import_ids_free(&items->ids);
  memset(items, 0, sizeof *items);
}

static sr_status copy_str(char **out, const char *s, size_t len) {
  TRY(sr_alloc(out, len + 1, 1, "items file text"));
  memcpy(*out, s, len);
  return SR_OK;
}

/* movies.dat is ISO-8859-1: every byte is its code point, so bytes >= 0x80 take two in UTF-8. */
static sr_status latin1_to_utf8(char **out, const char *s, size_t len) {
  TRY(sr_alloc(out, 2 * len + 1, 1, "item title"));
  char *o = *out;
  for (size_t i = 0; i < len; i++) {
    unsigned char c = (unsigned char)s[i];
    if (c < 0x80) {
      *o++ = (char)c;
    } else {
      *o++ = (char)(0xC0 | (c >> 6));
      *o++ = (char)(0x80 | (c & 0x3F));
    }
  }
  return SR_OK;
}

/* Adds raw id s[0..len) as the next item; a repeated id is an error naming both lines. */
static sr_status add_item(sr_items *items, const char *name, int64_t line, const char *s,
                          size_t len) {
  while (len > 0 && (s[0] == ' ' || s[0] == '\t')) s++, len--;
  while (len > 0 && (s[len - 1] == ' ' || s[len - 1] == '\t')) len--;
  if (len == 0) return sr_error(SR_EINVAL, "%s:%lld: empty item id", name, (long long)line);
  if (len > SR_IMPORT_MAX_ID || memchr(s, '\0', len) || !sr_import_utf8_valid(s, len))
    return sr_error(SR_EINVAL, "%s:%lld: item id is not UTF-8 text of at most %d bytes", name,
                    (long long)line, SR_IMPORT_MAX_ID);
  int32_t before = items->ids.n, key;
  TRY(sr_import_ids_intern(&items->ids, s, len, &key));
  if (key < before)
    return sr_error(SR_EINVAL, "%s:%lld: item %.*s is listed twice (first on line %lld)", name,
                    (long long)line, (int)len, s, (long long)items->line[key]);
  if (items->ids.n > items->cap) {
    int64_t cap = items->cap ? 2 * items->cap : 1024;
    TRY(sr_realloc(&items->line, (size_t)cap, sizeof *items->line, "items"));
    TRY(sr_realloc(&items->title, (size_t)cap, sizeof *items->title, "items"));
    TRY(sr_realloc(&items->genres, (size_t)cap, sizeof *items->genres, "items"));
    items->cap = cap;
  }
  items->line[key] = line;
  items->title[key] = NULL;
  items->genres[key] = NULL;
  return SR_OK;
}

static const char *find_sep(const char *s, const char *end) {
  for (const char *p = s; p + 1 < end; p++)
    if (p[0] == ':' && p[1] == ':') return p;
  return NULL;
}

/* MovieID::Title::Genres. Titles may hold "::"-free colons; the genres follow the last "::". */
static sr_status movielens_line(sr_items *items, const char *name, int64_t line, const char *s,
                                const char *end) {
  const char *first = find_sep(s, end), *last = NULL;
  for (const char *p = first; p; p = find_sep(p + 2, end)) last = p;
  if (!first || last == first)
    return sr_error(SR_EINVAL, "%s:%lld: expected MovieID::Title::Genres", name, (long long)line);
  TRY(add_item(items, name, line, s, (size_t)(first - s)));
  int32_t k = items->ids.n - 1;
  TRY(latin1_to_utf8(&items->title[k], first + 2, (size_t)(last - first - 2)));
  TRY(copy_str(&items->genres[k], last + 2, (size_t)(end - last - 2)));
  /* Collect the vocabulary; sorted once the file is read. */
  const char *g = items->genres[k];
  while (*g) {
    size_t len = strcspn(g, "|");
    int known = len == 0 || (len == 18 && strncmp(g, "(no genres listed)", 18) == 0);
    for (int j = 0; j < items->n_names && !known; j++)
      known = strlen(items->names[j]) == len && memcmp(items->names[j], g, len) == 0;
    if (!known) {
      if (items->n_names >= MAX_GENRES)
        return sr_error(SR_EINVAL, "%s:%lld: more than %d distinct genres", name, (long long)line,
                        MAX_GENRES);
      if (!sr_import_utf8_valid(g, len))
        return sr_error(SR_EINVAL, "%s:%lld: genre is not ASCII/UTF-8 text", name,
                        (long long)line);
      TRY(sr_realloc(&items->names, (size_t)items->n_names + 1, sizeof *items->names, "genres"));
      TRY(copy_str(&items->names[items->n_names], g, len));
      items->n_names++;
    }
    g += len;
    if (*g == '|') g++;
  }
  return SR_OK;
}

/* id,v1,...,vD: every line the same D, every value a finite float. */
static sr_status csv_line(sr_items *items, const char *name, int64_t line, const char *s,
                          const char *end) {
  const char *comma = memchr(s, ',', (size_t)(end - s));
  if (!comma)
    return sr_error(SR_EINVAL, "%s:%lld: expected id,v1,...,vD", name, (long long)line);
  TRY(add_item(items, name, line, s, (size_t)(comma - s)));
  int dim = 1;
  for (const char *p = comma + 1; p < end; p++) dim += *p == ',';
  if (items->dim == 0) items->dim = dim;
  if (dim != items->dim)
    return sr_error(SR_EINVAL, "%s:%lld: %d values, but the first line has %d", name,
                    (long long)line, dim, items->dim);
  int64_t k = items->ids.n - 1;
  TRY(sr_realloc(&items->vec, (size_t)items->cap, (size_t)dim * sizeof *items->vec, "vectors"));
  const char *p = comma + 1;
  for (int j = 0; j < dim; j++) {
    const char *f = p, *fe = memchr(p, ',', (size_t)(end - p));
    if (!fe) fe = end;
    char buf[64];
    size_t len = (size_t)(fe - f);
    char *stop = buf;
    float v = 0.0f;
    if (len < sizeof buf) {
      memcpy(buf, f, len);
      buf[len] = '\0';
      v = strtof(buf, &stop);
      while (*stop == ' ' || *stop == '\t') stop++;
    }
    if (len == 0 || len >= sizeof buf || *stop != '\0' || stop == buf || !isfinite(v))
      return sr_error(SR_EINVAL, "%s:%lld: column %d: '%.*s' is not a finite number", name,
                      (long long)line, j + 2, (int)(len < 40 ? len : 40), f);
    items->vec[k * dim + j] = v;
    p = fe + 1;
  }
  return SR_OK;
}

static int cmp_name(const void *a, const void *b) {
  return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Multi-hot rows over the sorted vocabulary, so the columns do not depend on the file order. */
static sr_status genre_vectors(sr_items *items, const char *name) {
  qsort(items->names, (size_t)items->n_names, sizeof *items->names, cmp_name);
  items->dim = items->n_names;
  if (items->dim == 0) return sr_error(SR_EINVAL, "%s: no item has a genre", name);
  TRY(sr_alloc(&items->vec, (size_t)items->ids.n, (size_t)items->dim * sizeof *items->vec,
               "genre vectors"));
  for (int64_t k = 0; k < items->ids.n; k++) {
    const char *g = items->genres[k];
    while (*g) {
      size_t len = strcspn(g, "|");
      char key[256];
      if (len > 0 && len < sizeof key) {
        memcpy(key, g, len);
        key[len] = '\0';
        const char *kp = key;
        char **hit = bsearch(&kp, items->names, (size_t)items->n_names, sizeof *items->names,
                             cmp_name);
        if (hit) items->vec[k * items->dim + (hit - items->names)] = 1.0f;
      }
      g += len;
      if (*g == '|') g++;
    }
  }
  snprintf(items->source, sizeof items->source, "genres of %s", name);
  return SR_OK;
}

sr_status sr_items_read_text(sr_items *items, sr_items_format format, const char *name,
                             const char *text, size_t len) {
  const char *p = text, *end = text + len;
  int64_t line = 0;
  while (p < end) {
    const char *nl = memchr(p, '\n', (size_t)(end - p));
    const char *le = nl ? nl : end;
    line++;
    const char *e = le;
    if (e > p && e[-1] == '\r') e--;
    if (e > p) {
      if (memchr(p, '\0', (size_t)(e - p)))
        return sr_error(SR_EINVAL, "%s:%lld: a NUL byte in the line", name, (long long)line);
      if (format == SR_ITEMS_MOVIELENS)
        TRY(movielens_line(items, name, line, p, e));
      else
        TRY(csv_line(items, name, line, p, e));
    }
    p = nl ? nl + 1 : end;
  }
  if (items->ids.n == 0) return sr_error(SR_EINVAL, "%s: no items", name);
  if (format == SR_ITEMS_MOVIELENS) return genre_vectors(items, name);
  snprintf(items->source, sizeof items->source, "vectors of %s", name);
  sr_free(items->title); /* csv has no titles */
  items->title = NULL;
  return SR_OK;
}

sr_status sr_items_read_file(sr_items *items, sr_items_format format, const char *path) {
  sr_status st = SR_OK;
  char *text = NULL;
  FILE *f = fopen(path, "rb");
  if (!f) return sr_error(SR_EIO, "cannot open items file %s", path);
  size_t cap = 1 << 16, len = 0, got;
  TRY_GOTO(sr_alloc(&text, cap, 1, "items file"));
  while ((got = fread(text + len, 1, cap - len, f)) > 0) {
    len += got;
    if (len == cap) TRY_GOTO(sr_realloc(&text, cap *= 2, 1, "items file"));
  }
  if (ferror(f)) FAIL_GOTO(SR_EIO, "%s: read error", path);
  st = sr_items_read_text(items, format, path, text, len);
cleanup:
  fclose(f);
  sr_free(text);
  return st;
}

sr_status sr_items_match(const sr_items *items, int64_t n_items, const char *const *item_raw,
                         float **content, const char ***titles, int64_t *matched) {
  *content = NULL;
  *titles = NULL;
  *matched = 0;
  int dim = items->dim;
  sr_status st = SR_OK;
  TRY_GOTO(sr_alloc(content, (size_t)n_items + 1, (size_t)dim * sizeof **content, "content"));
  if (items->title) TRY_GOTO(sr_alloc(titles, (size_t)n_items + 1, sizeof **titles, "titles"));
  if (*titles) (*titles)[0] = "";
  for (int64_t i = 1; i <= n_items; i++) {
    int32_t key = sr_import_ids_find(&items->ids, item_raw[i], strlen(item_raw[i]));
    if (*titles) (*titles)[i] = key >= 0 ? items->title[key] : "";
    if (key < 0) continue;
    (*matched)++;
    memcpy(*content + i * dim, items->vec + (int64_t)key * dim, (size_t)dim * sizeof **content);
  }
  return SR_OK;
cleanup:
  sr_free(*content);
  sr_free((void *)*titles);
  *content = NULL;
  *titles = NULL;
  return st;
}
