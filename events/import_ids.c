/* Raw-id interning for import (users and items: any string -> a key in order of first
 * appearance) and the order in which surviving ids get their dense numbers.
 * Not for parsing rows (import_parse.c) nor filtering (import_table.c). */
#include <stdlib.h>
#include <string.h>

#include "core/arena.h"
#include "events/import.h"

int sr_import_parse_int64(const char *s, size_t len, int64_t *out) {
  size_t i = 0;
  int negative = 0;
  if (len > 0 && s[0] == '-') {
    negative = 1;
    i = 1;
  }
  if (i == len) return 0;
  /* Accumulate as a negative number so INT64_MIN parses too. */
  int64_t v = 0;
  int overflow = 0;
  for (; i < len; i++) {
    unsigned d = (unsigned)(unsigned char)s[i] - '0';
    if (d > 9) return 0;
    if (v < (INT64_MIN + (int64_t)d) / 10) overflow = 1;
    if (!overflow) v = v * 10 - (int64_t)d;
  }
  if (overflow) return -1;
  if (!negative) {
    if (v == INT64_MIN) return -1;
    v = -v;
  }
  *out = v;
  return 1;
}

int sr_import_utf8_valid(const char *str, size_t len) {
  const unsigned char *s = (const unsigned char *)str;
  size_t i = 0;
  while (i < len) {
    unsigned c = s[i];
    if (c < 0x80) {
      i++;
      continue;
    }
    size_t n;
    unsigned lo = 0x80, hi = 0xBF; /* allowed range of the second byte */
    if (c >= 0xC2 && c <= 0xDF) {
      n = 1;
    } else if (c >= 0xE0 && c <= 0xEF) {
      n = 2;
      if (c == 0xE0) lo = 0xA0; /* overlong */
      if (c == 0xED) hi = 0x9F; /* surrogates */
    } else if (c >= 0xF0 && c <= 0xF4) {
      n = 3;
      if (c == 0xF0) lo = 0x90; /* overlong */
      if (c == 0xF4) hi = 0x8F; /* beyond U+10FFFF */
    } else {
      return 0;
    }
    if (len - i <= n) return 0;
    if (s[i + 1] < lo || s[i + 1] > hi) return 0;
    for (size_t k = 2; k <= n; k++)
      if ((s[i + k] & 0xC0) != 0x80) return 0;
    i += n + 1;
  }
  return 1;
}

void sr_import_ids_init(sr_import_ids *ids) { memset(ids, 0, sizeof *ids); }

void sr_import_ids_free(sr_import_ids *ids) {
  sr_free(ids->pool);
  sr_free(ids->start);
  sr_free(ids->number);
  sr_free(ids->is_number);
  sr_free(ids->hash);
  sr_free(ids->slots);
  sr_import_ids_init(ids);
}

static uint32_t ids_hash(const char *s, size_t len) {
  uint64_t h = 0x9E3779B97F4A7C15ull ^ (uint64_t)len;
  while (len >= 8) {
    uint64_t w;
    memcpy(&w, s, 8);
    h = (h ^ w) * 0xFF51AFD7ED558CCDull;
    h ^= h >> 32;
    s += 8;
    len -= 8;
  }
  uint64_t w = 0;
  memcpy(&w, s, len);
  h = (h ^ w) * 0xC4CEB9FE1A85EC53ull;
  h ^= h >> 29;
  h *= 0x94D049BB133111EBull;
  h ^= h >> 32;
  return (uint32_t)h;
}

static size_t ids_length(const sr_import_ids *ids, int32_t key) {
  size_t end = key + 1 < ids->n ? (size_t)ids->start[key + 1] : ids->pool_used;
  return end - (size_t)ids->start[key] - 1;
}

static uint64_t ids_head(const char *s, size_t len) {
  uint64_t head = 0;
  memcpy(&head, s, len < 8 ? len : 8);
  return head;
}

static uint32_t ids_tag(uint32_t hash, size_t len) {
  return (hash & ~(uint32_t)15) | (uint32_t)(len < 15 ? len : 15);
}

/* Rebuilds the slot table at twice the size from the keys' stored hashes. */
static sr_status ids_grow_slots(sr_import_ids *ids) {
  size_t n_slots = ids->n_slots ? 2 * ids->n_slots : 1024;
  sr_import_slot *slots;
  TRY(sr_alloc(&slots, n_slots, sizeof *slots, "raw-id hash table"));
  for (int32_t k = 0; k < ids->n; k++) {
    const char *id = ids->pool + ids->start[k];
    size_t len = ids_length(ids, k);
    size_t s = ids->hash[k] & (n_slots - 1);
    while (slots[s].key) s = (s + 1) & (n_slots - 1);
    slots[s] = (sr_import_slot){ids_head(id, len), ids_tag(ids->hash[k], len), k + 1};
  }
  sr_free(ids->slots);
  ids->slots = slots;
  ids->n_slots = n_slots;
  return SR_OK;
}

static sr_status ids_add(sr_import_ids *ids, const char *s, size_t len, uint32_t h, int32_t *key) {
  if (ids->n == INT32_MAX)
    return sr_error(SR_EINVAL, "more than %d distinct ids in one column", INT32_MAX);
  if (ids->n == ids->cap) {
    int32_t cap = ids->cap ? (ids->cap > INT32_MAX / 2 ? INT32_MAX : 2 * ids->cap) : 1024;
    TRY(sr_realloc(&ids->start, (size_t)cap, sizeof *ids->start, "raw ids"));
    TRY(sr_realloc(&ids->number, (size_t)cap, sizeof *ids->number, "raw ids"));
    TRY(sr_realloc(&ids->is_number, (size_t)cap, sizeof *ids->is_number, "raw ids"));
    TRY(sr_realloc(&ids->hash, (size_t)cap, sizeof *ids->hash, "raw ids"));
    ids->cap = cap;
  }
  if (ids->pool_used + len + 1 > ids->pool_cap) {
    size_t cap = ids->pool_cap ? 2 * ids->pool_cap : 65536;
    while (cap < ids->pool_used + len + 1) cap *= 2;
    TRY(sr_realloc(&ids->pool, cap, 1, "raw-id strings"));
    ids->pool_cap = cap;
  }
  int32_t k = ids->n;
  ids->start[k] = (int64_t)ids->pool_used;
  memcpy(ids->pool + ids->pool_used, s, len);
  ids->pool[ids->pool_used + len] = '\0';
  ids->pool_used += len + 1;
  ids->hash[k] = h;
  int64_t v = 0;
  ids->is_number[k] = sr_import_parse_int64(s, len, &v) == 1;
  ids->number[k] = v;
  ids->n++;
  *key = k;
  return SR_OK;
}

/* The slot holding s[0..len), or the empty slot where it would go; *key = its key or -1. */
static size_t ids_lookup(const sr_import_ids *ids, const char *s, size_t len, uint32_t h,
                         int32_t *key) {
  uint64_t head = ids_head(s, len);
  uint32_t tag = ids_tag(h, len);
  size_t mask = ids->n_slots - 1;
  size_t slot = h & mask;
  *key = -1;
  for (;;) {
    const sr_import_slot *e = &ids->slots[slot];
    if (e->key == 0) return slot;
    /* Up to 8 bytes, head and length (in the tag) are the whole id. */
    if (e->tag == tag && e->head == head) {
      int32_t k = e->key - 1;
      if (len <= 8 || (ids_length(ids, k) == len &&
                       memcmp(ids->pool + ids->start[k] + 8, s + 8, len - 8) == 0)) {
        *key = k;
        return slot;
      }
    }
    slot = (slot + 1) & mask;
  }
}

sr_status sr_import_ids_intern(sr_import_ids *ids, const char *s, size_t len, int32_t *key) {
  /* Keep the table at most half full so probe runs stay short. */
  if ((size_t)ids->n + 1 > ids->n_slots / 2) TRY(ids_grow_slots(ids));
  uint32_t h = ids_hash(s, len);
  size_t slot = ids_lookup(ids, s, len, h, key);
  if (*key >= 0) return SR_OK;
  TRY(ids_add(ids, s, len, h, key));
  ids->slots[slot] = (sr_import_slot){ids_head(s, len), ids_tag(h, len), *key + 1};
  return SR_OK;
}

int32_t sr_import_ids_find(const sr_import_ids *ids, const char *s, size_t len) {
  if (ids->n_slots == 0) return -1;
  int32_t key;
  ids_lookup(ids, s, len, ids_hash(s, len), &key);
  return key;
}

typedef struct {
  int64_t number;
  const char *text;
  int32_t key;
} ids_sort_entry;

static int ids_cmp_bytes(const void *pa, const void *pb) {
  const ids_sort_entry *a = pa, *b = pb;
  return strcmp(a->text, b->text); /* compares as unsigned char: byte-wise */
}

static int ids_cmp_numeric(const void *pa, const void *pb) {
  const ids_sort_entry *a = pa, *b = pb;
  if (a->number != b->number) return a->number < b->number ? -1 : 1;
  return strcmp(a->text, b->text);
}

sr_status sr_import_ids_sort(const sr_import_ids *ids, const int64_t *count, int32_t **sorted,
                             int32_t *n_sorted) {
  *sorted = NULL;
  *n_sorted = 0;
  int32_t n = 0;
  int all_numbers = 1;
  for (int32_t k = 0; k < ids->n; k++)
    if (count[k] > 0) {
      n++;
      if (!ids->is_number[k]) all_numbers = 0;
    }
  if (n == 0) return SR_OK;
  ids_sort_entry *e;
  TRY(sr_alloc(&e, (size_t)n, sizeof *e, "raw-id order"));
  int32_t j = 0;
  for (int32_t k = 0; k < ids->n; k++)
    if (count[k] > 0) e[j++] = (ids_sort_entry){ids->number[k], sr_import_ids_get(ids, k), k};
  qsort(e, (size_t)n, sizeof *e, all_numbers ? ids_cmp_numeric : ids_cmp_bytes);
  sr_status st = sr_alloc(sorted, (size_t)n, sizeof **sorted, "raw-id order");
  if (st == SR_OK) {
    for (int32_t i = 0; i < n; i++) (*sorted)[i] = e[i].key;
    *n_sorted = n;
  }
  sr_free(e);
  return st;
}
