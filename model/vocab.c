/* Item vocabularies read, written and matched by raw id; see vocab.h. Matching sorts the old
 * ids once and looks each new id up: O((n_old + n_new) log n_old), no hash table to size. */
#include "model/vocab.h"

#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "core/arena.h"
#include "events/events.h"
#include "events/h5util.h"

sr_status sr_vocab_read(const char *path, sr_vocab *v) {
  memset(v, 0, sizeof *v);
  sr_status st = SR_OK;
  hid_t f = H5I_INVALID_HID, dset = H5I_INVALID_HID;
  int64_t dims[1];
  TRY_GOTO(sr_h5_open_read(path, &f));
  TRY_GOTO(sr_h5_dataset_open(f, path, "/items/raw_id", &dset));
  TRY_GOTO(sr_h5_dataset_expect(dset, path, "/items/raw_id", H5T_C_S1, 1, dims));
  if (dims[0] < 1)
    FAIL_GOTO(SR_EFORMAT, "%s: /items/raw_id: empty; it needs the padding row 0", path);
  sr_h5_close(&dset);
  sr_h5_close(&f);
  TRY_GOTO(sr_events_read_raw_ids(path, "/items/raw_id", 0, dims[0], &v->ids, &v->width));
  v->n_items = dims[0] - 1;
  return SR_OK;
cleanup:
  sr_h5_close(&dset);
  sr_h5_close(&f);
  return st;
}

void sr_vocab_free(sr_vocab *v) {
  sr_free(v->ids);
  memset(v, 0, sizeof *v);
}

sr_status sr_vocab_write(hid_t f, const char *file, const sr_vocab *v) {
  sr_status st = SR_OK;
  hid_t type = H5I_INVALID_HID, dset = H5I_INVALID_HID;
  char *packed = NULL; /* [n_items + 1][w]: HDF5's fixed-length strings carry no NUL */
  const size_t w = v->width > 0 ? (size_t)v->width : 1;
  TRY_GOTO(sr_alloc(&packed, (size_t)v->n_items + 1, w, "item ids"));
  for (int64_t i = 1; i <= v->n_items; i++)
    memcpy(packed + (size_t)i * w, sr_vocab_id(v, i), strnlen(sr_vocab_id(v, i), w));
  TRY_GOTO(sr_h5_string_type(w, 0, &type));
  TRY_GOTO(sr_h5_dataset_create(f, file, "/items/raw_id", type, v->n_items + 1, 0, 0, 0, &dset));
  TRY_GOTO(sr_h5_write_rows(dset, file, "/items/raw_id", type, 0, v->n_items + 1, packed));
cleanup:
  sr_h5_close(&dset);
  sr_h5_close(&type);
  sr_free(packed);
  return st;
}

static int id_compare(const void *a, const void *b) {
  return strcmp(*(const char *const *)a, *(const char *const *)b);
}

sr_status sr_vocab_match(const sr_vocab *old, const char *old_name, const sr_vocab *cur,
                         int32_t *old_row, sr_vocab_match_counts *counts) {
  memset(counts, 0, sizeof *counts);
  const char **sorted = NULL; /* [old->n_items] pointers into old->ids, by id */
  sr_status st = SR_OK;
  TRY_GOTO(sr_alloc(&sorted, (size_t)old->n_items + 1, sizeof *sorted, "sorted item ids"));
  for (int64_t i = 0; i < old->n_items; i++) sorted[i] = sr_vocab_id(old, i + 1);
  qsort(sorted, (size_t)old->n_items, sizeof *sorted, id_compare);
  for (int64_t i = 1; i < old->n_items; i++)
    if (strcmp(sorted[i - 1], sorted[i]) == 0)
      FAIL_GOTO(SR_EFORMAT, "%s: /items/raw_id: item id '%s' appears twice", old_name, sorted[i]);
  old_row[0] = 0;
  for (int64_t i = 1; i <= cur->n_items; i++) {
    const char *id = sr_vocab_id(cur, i);
    const char **hit = bsearch(&id, sorted, (size_t)old->n_items, sizeof *sorted, id_compare);
    old_row[i] = hit ? (int32_t)((*hit - old->ids) / ((ptrdiff_t)old->width + 1)) : 0;
    if (!hit) {
      counts->added++;
      continue;
    }
    counts->kept++;
    if (old_row[i] != i) counts->moved++;
  }
  counts->dropped = old->n_items - counts->kept;
cleanup:
  sr_free(sorted);
  return st;
}

sr_status sr_vocab_check_same(const char *ckpt, const char *events) {
  hid_t f = H5I_INVALID_HID;
  TRY(sr_h5_open_read(ckpt, &f));
  const int has_vocab = sr_h5_exists(f, "/items/raw_id");
  sr_h5_close(&f);
  if (!has_vocab) return SR_OK;
  sr_status st = SR_OK;
  sr_vocab a = {0}, b = {0};
  TRY_GOTO(sr_vocab_read(ckpt, &a));
  TRY_GOTO(sr_vocab_read(events, &b));
  if (a.n_items != b.n_items)
    FAIL_GOTO(SR_EINVAL, "%s has %lld items, %s %lld: the checkpoint was trained on other items; "
              "fine-tune it on this data first (model.init_from)", ckpt, (long long)a.n_items,
              events, (long long)b.n_items);
  for (int64_t i = 1; i <= a.n_items; i++)
    if (strcmp(sr_vocab_id(&a, i), sr_vocab_id(&b, i)) != 0)
      FAIL_GOTO(SR_EINVAL, "%s: item %lld is '%s', in %s it is '%s': the checkpoint was trained "
                "on another item vocabulary; fine-tune it on this data first (model.init_from)",
                ckpt, (long long)i, sr_vocab_id(&a, i), events, sr_vocab_id(&b, i));
cleanup:
  sr_vocab_free(&a);
  sr_vocab_free(&b);
  return st;
}
