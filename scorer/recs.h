/* recs.h5 (DESIGN.md "Files"; scorer/README.md for readers): the collective writer used by
 * `seqrec score` and the checker used by `seqrec info`. Not for computing recommendations. */
#ifndef SR_SCORER_RECS_H
#define SR_SCORER_RECS_H

#include <hdf5.h>
#include <stdint.h>

#include "comm/comm.h"
#include "core/config.h"
#include "core/status.h"
#include "events/events.h"

#define SR_RECS_FORMAT "seqrec-recs"
#define SR_RECS_VERSION 1

/* ---- writing: every rank takes part in every call ---------------------------------------- */

/* What the file says about itself (the attributes of /), identical on every rank. */
typedef struct {
  const char *events;             /* data.events: raw ids are copied from it */
  const char *events_fingerprint;
  const char *checkpoint;         /* score.checkpoint as given */
  const char *checkpoint_sha256;  /* 64 hex digits */
  const char *created;            /* ISO 8601 UTC */
  const char *users;              /* the selection: "all", "range B:E", "file PATH" */
  const char *config;             /* the effective configuration (YAML) */
  int64_t n_rows;                 /* users scored, over all ranks */
  int k;
  int exclude_seen;
  int64_t model_items;            /* items of /items/raw_id the checkpoint knows (by raw id) */
  const uint8_t *item_new;        /* [n_items + 1] 1: an item the checkpoint was not trained on
                                   * (written as /items/new); row 0 is 0 */
  const char *new_items;          /* score.new_items as run: exclude, include or only */
} scorer_recs_meta;

typedef struct {
  const sr_comm *comm;
  char path[SR_PATH_MAX];
  char tmp[SR_PATH_MAX + 8];
  int k;
  hid_t file, dxpl;               /* PATH.tmp (MPI-IO driver); collective transfers */
  hid_t d_user, d_item, d_score;
} scorer_recs_writer;

/* Creates PATH.tmp with parallel HDF5, its datasets and attributes, and copies /users/raw_id
 * (each rank its shard's users) and /items/raw_id (each rank a share) from meta->events.
 * Nothing appears under PATH before scorer_recs_finish. */
sr_status scorer_recs_create(scorer_recs_writer *w, const char *path,
                             const scorer_recs_meta *meta, const sr_events_shard *shard,
                             const sr_comm *comm);
/* Rows [row, row + n) of /recs: user [n], item and score [n, k]. One collective write per
 * dataset; a rank with nothing to write this time passes n = 0. */
sr_status scorer_recs_write_rows(scorer_recs_writer *w, int64_t row, int64_t n,
                                 const int32_t *user, const int32_t *item, const float *score);
/* Flushes PATH.tmp to the file without closing it (tests and pauses). */
sr_status scorer_recs_flush(scorer_recs_writer *w);
/* Closes PATH.tmp; when `local` is SR_OK on every rank and the close succeeded, rank 0 renames
 * it to PATH, else removes it (an existing PATH is left untouched). Returns the agreed status;
 * safe after a failed or partial create. */
sr_status scorer_recs_finish(scorer_recs_writer *w, sr_status local);

/* ---- checking ------------------------------------------------------------------------------ */

typedef struct {
  int64_t n_rows, k;
  int64_t n_users, n_items;        /* of /users/raw_id and /items/raw_id (items 1..n_items) */
  int64_t padded_rows;             /* rows with fewer than k items */
  int64_t padded_slots;            /* item-0 slots over all rows */
  int exclude_seen;
  char new_items[16];              /* attribute new_items ("" in files from before it) */
  int64_t new_recommended;         /* slots holding an item new since training (/items/new) */
  int seen_checked;                /* the events file was there and matched: no seen item found */
  char seen_note[SR_PATH_MAX + 512]; /* why seen items were not checked, when they were not */
  char checkpoint[SR_PATH_MAX];
  char checkpoint_sha256[72];
  char events[SR_PATH_MAX];
  char events_fingerprint[32];
  char created[64];
  char users[SR_PATH_MAX + 64];
} scorer_recs_summary;

/* Checks that PATH is a complete recs.h5 of this version: attributes, dataset types and
 * shapes, users increasing and within /users/raw_id, each row's items in 1..n_items and
 * distinct, scores finite and descending (equal scores in increasing item id), padding (item
 * 0, score -inf) only at row ends, and, when exclude_seen and the `events` file is there with
 * the same fingerprint, no item the user has in it. Reads in blocks of rows. The message names
 * the file, the dataset and the row. */
sr_status scorer_recs_check(const char *path, scorer_recs_summary *summary);

#endif
