/* The item vocabulary: raw ids of items 1..n_items as the events file names them, kept in every
 * checkpoint (/items/raw_id) so that a model can be carried to a newer log whose dense ids differ.
 * Not for loading weights (checkpoint_remap.h) or for user ids. */
#ifndef SR_VOCAB_H
#define SR_VOCAB_H

#include <hdf5.h>
#include <stdint.h>

#include "core/status.h"

typedef struct {
  int64_t n_items;
  int width;  /* bytes of the longest id (at least 1) */
  char *ids;  /* [n_items + 1][width + 1] NUL-terminated; row 0 (padding) is "" */
} sr_vocab;

/* What matching an old vocabulary against a new one found. */
typedef struct {
  int64_t kept;    /* new items the old vocabulary has */
  int64_t moved;   /* of those, items whose dense id changed */
  int64_t added;   /* new items the old vocabulary lacks */
  int64_t dropped; /* old items the new vocabulary lacks */
} sr_vocab_match_counts;

/* /items/raw_id of an events.h5 or a checkpoint, rows 0..n_items. */
sr_status sr_vocab_read(const char *path, sr_vocab *v);
void sr_vocab_free(sr_vocab *v);
static inline const char *sr_vocab_id(const sr_vocab *v, int64_t item) {
  return v->ids + (size_t)item * ((size_t)v->width + 1);
}
/* Writes v as /items/raw_id of an open file (`file` names it in messages). */
sr_status sr_vocab_write(hid_t f, const char *file, const sr_vocab *v);

/* SR_EINVAL when checkpoint `ckpt` keeps a vocabulary (/items/raw_id) other than that of events
 * file `events` (same count but other ids, or ids in another order): its rows would be read as
 * other items. A checkpoint without one passes (older files; the caller checks the count). */
sr_status sr_vocab_check_same(const char *ckpt, const char *events);

/* old_row[i] (room for cur->n_items + 1) = the item of `old` with the raw id of item i of
 * `cur`, or 0 when `old` has no such item; old_row[0] = 0. SR_EFORMAT when `old` names an id
 * twice (`old_name` in the message). */
sr_status sr_vocab_match(const sr_vocab *old, const char *old_name, const sr_vocab *cur,
                         int32_t *old_row, sr_vocab_match_counts *counts);

#endif
