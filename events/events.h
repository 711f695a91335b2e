/* The behaviour-log file, events.h5 (DESIGN.md "Files"): the streaming writer used by import
 * and gen, the sharded reader used by training and scoring, and the format check used by info.
 * Not for parsing source logs (import.c) or making synthetic ones (gen.c). */
#ifndef SR_EVENTS_H
#define SR_EVENTS_H

#include <stdint.h>

#include "core/status.h"

#define SR_EVENTS_FORMAT "seqrec-events"
#define SR_EVENTS_VERSION 1
#define SR_EVENTS_MAX_TYPES 32

/* ---- writing ---------------------------------------------------------------------------- */

typedef struct {
  /* Names of the event types (e.g. "pv", "cart", "fav", "buy"); n_event_types == 0 means the
   * file has no /events/type dataset. */
  int n_event_types;
  const char *event_types[SR_EVENTS_MAX_TYPES];
  /* Width in bytes of the fixed-length user raw-id strings (longest id; at least 1). A longer
   * id is an error at append. Event type names are at most 31 bytes. */
  int user_id_width;
  /* Free text kept as the `source` attribute (command line, input files). */
  const char *source;
} sr_events_writer_opts;

typedef struct sr_events_writer sr_events_writer;

/* Creates PATH.tmp; nothing appears under PATH until sr_events_writer_commit. */
sr_status sr_events_writer_open(sr_events_writer **w, const char *path,
                                const sr_events_writer_opts *opts);
/* Appends n_users users whose histories follow one another in items/times/types:
 * user j has lengths[j] events, already sorted by time. raw_ids[j] is the user's source id.
 * Items are dense 1..n_items (checked at commit). types is NULL when the file has no types.
 * Memory stays bounded: data is written through in chunks. Lengths, id widths, type values
 * and time order are checked here (SR_EINVAL naming the user); after any error the writer
 * only accepts commit (which then fails) or abort. */
sr_status sr_events_writer_append_users(sr_events_writer *w, int64_t n_users,
                                        const int64_t *lengths, const char *const *raw_ids,
                                        const int32_t *items, const int64_t *times,
                                        const uint8_t *types);
/* The item vocabulary: raw_ids[1..n_items] (raw_ids[0], the padding row, is written as "").
 * Required once before commit. */
sr_status sr_events_writer_set_items(sr_events_writer *w, int64_t n_items,
                                     const char *const *raw_ids);
/* Optional /items/content: float32 [n_items + 1, dim], row 0 for padding. */
sr_status sr_events_writer_set_content(sr_events_writer *w, int64_t n_items, int dim,
                                       const float *content);
/* Optional /items/title: fixed-length UTF-8 strings [n_items + 1] (row 0 ""), written like
 * /items/raw_id; after set_items. */
sr_status sr_events_writer_set_titles(sr_events_writer *w, int64_t n_items,
                                      const char *const *titles);
/* Attributes of /items/content (after set_content): `content_source` (free text; NULL: none)
 * and `content_names` (the column names, when n_names > 0). */
sr_status sr_events_writer_describe_content(sr_events_writer *w, const char *source, int n_names,
                                            const char *const *names);
/* Writes offsets and attributes, checks item ids against the vocabulary, closes and renames
 * PATH.tmp to PATH. Frees w in every case. */
sr_status sr_events_writer_commit(sr_events_writer *w);
/* Closes and removes PATH.tmp; PATH (if any) is untouched. Frees w. Safe on NULL. */
void sr_events_writer_abort(sr_events_writer *w);
/* The fingerprint of everything appended so far (final once the last user is appended), as
 * stored in the `fingerprint` attribute: 16 hex digits. */
void sr_events_writer_fingerprint(const sr_events_writer *w, char out[32]);

/* ---- reading one rank's shard ------------------------------------------------------------ */

/* The contiguous user range [*begin, *end) of `rank` out of `world`, chosen from the offsets so
 * that ranks get near-equal event counts: shard boundaries sit at the user boundary closest to
 * rank * n_events / world (ties to the lower user), so each shard's count is within one longest
 * history of n_events / world (half a history at each end). Every user is in exactly one shard;
 * shards may be empty when world > n_users. offset has n_users + 1 entries, offset[0] = 0,
 * non-decreasing. A pure function of its arguments: every rank computes every range alike. */
void sr_events_shard_range(const int64_t *offset, int64_t n_users, int rank, int world,
                           int64_t *begin, int64_t *end);

typedef struct {
  /* whole file */
  int64_t n_users, n_items, n_events;
  int n_event_types;
  char event_types[SR_EVENTS_MAX_TYPES][32];
  char fingerprint[32];  /* hex digest of offsets, items and times: ties checkpoints to data */
  /* this shard: users [user_begin, user_end), events [event_begin, event_end) */
  int64_t user_begin, user_end;
  int64_t event_begin, event_end;
  int64_t *offset;  /* [n_local_users + 1], relative to event_begin */
  int32_t *item;    /* [n_local_events] */
  int64_t *time;    /* [n_local_events] */
  uint8_t *type;    /* [n_local_events], NULL when the file has no types */
} sr_events_shard;

/* Reads /users/offset whole, then the shard of `rank` of `world` with one hyperslab per events
 * dataset (a rank never reads the rest of the log). Checks the offsets and the shard's items
 * (1..n_items), not the rest: sr_events_check does that. fingerprint is "" when the file has
 * none. On error *shard is left empty (safe to free). */
sr_status sr_events_shard_read(const char *path, int rank, int world, sr_events_shard *shard);
void sr_events_shard_free(sr_events_shard *shard);

/* Raw ids for mapping results back: ids[i] for i in [begin, end) of /users/raw_id or
 * /items/raw_id, as one allocation of (end-begin) NUL-terminated strings of `*width` bytes+1. */
sr_status sr_events_read_raw_ids(const char *path, const char *dataset, int64_t begin,
                                 int64_t end, char **ids, int *width);

/* /items/title whole: n_items + 1 NUL-terminated strings of *width + 1 bytes in one allocation
 * (row 0 ""). *titles = NULL and *width = 0 when the file has none; SR_EFORMAT when its shape
 * does not match n_items. */
sr_status sr_events_read_titles(const char *path, int64_t n_items, char **titles, int *width);

/* /items/content whole: *content = float32 [n_items + 1, *dim] (row 0, the padding row, is
 * returned as zeros whatever the file holds). *dim = 0 and *content = NULL when the file has no
 * content. SR_EFORMAT when its shape does not match n_items or a value is not finite (the
 * message names the row). */
sr_status sr_events_read_content(const char *path, int64_t n_items, int *dim, float **content);

/* ---- checking --------------------------------------------------------------------------- */

/* Checks that PATH is a complete events.h5 of this version: attributes, dataset types and
 * shapes, offsets monotonic and ending at n_events, items in 1..n_items, times sorted within
 * each user, types within event_types, content finite, and the n_users/n_items/n_events and
 * fingerprint attributes (optional for files written by other tools) agreeing with the data.
 * Streams through the datasets in chunks: memory does not grow with the file. The message
 * names the file and the HDF5 path at fault, with the index ("/users/offset[17]"). */
sr_status sr_events_check(const char *path);

/* What sr_events_check_summary learns while checking (for `seqrec info`). */
typedef struct {
  int64_t n_users, n_items, n_events;
  int n_event_types;
  char event_types[SR_EVENTS_MAX_TYPES][32];
  int64_t type_counts[SR_EVENTS_MAX_TYPES]; /* events of each type */
  int content_dim;                          /* 0 when there is no /items/content */
  char content_source[256];                 /* its content_source attribute, "" when absent */
  int has_titles;                           /* the file has /items/title */
  int64_t items_without_events;             /* items 1..n_items no event refers to */
  int64_t max_history;                      /* longest user history */
  char fingerprint[32];                     /* recomputed from the data */
  int has_fingerprint;                      /* the file stores one (and it matched) */
  char source[512];                         /* the `source` attribute, "" when absent */
} sr_events_summary;

/* sr_events_check, also filling *summary (which may be NULL). */
sr_status sr_events_check_summary(const char *path, sr_events_summary *summary);

#endif
