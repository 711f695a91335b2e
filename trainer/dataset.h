/* One rank's training data: the leave-one-out or temporal split of its users and their training windows,
 * and which windows make up each step's batch. Batches are drawn from ONE global order of all
 * ranks' windows, so N ranks with batch b see exactly the windows of one rank with batch N*b.
 * Not for reading files (events/) or for the model's inputs beyond token ids. */
#ifndef SR_DATASET_H
#define SR_DATASET_H

#include <stdint.h>

#include "comm/comm.h"
#include "core/status.h"
#include "events/events.h"

typedef struct {
  const sr_events_shard *shard; /* not owned */
  int max_len;                  /* T: positions per window */
  int64_t n_users;              /* users of this shard */
  int64_t *train_len;           /* [n_users] events used for training (history minus held-out) */
  int64_t *first_target;        /* [n_users] first history index trained on as a target (>= 1);
                                 * the events before it are context only (train_since) */
  int32_t *valid_item;          /* [n_users] validation target, 0 for none (< 3 events) */
  int32_t *test_item;           /* [n_users] test target, 0 for none; its context is the
                                 * user's first train_len + 1 events */
  int64_t n_windows;            /* windows of this rank */
  int64_t *window_user;         /* [n_windows] local user index */
  int64_t *window_end;          /* [n_windows] index of the window's last target in the user's history */
  int64_t n_targets;            /* target positions over this rank's windows */
  int64_t *rank_windows;        /* [world + 1] prefix sums: rank r holds global windows [rank_windows[r], rank_windows[r+1]) */
  int rank;
  int world;
  int temporal;                 /* 1: temporal split at cut_time */
  int64_t cut_time;
  int64_t cold_users;           /* all ranks: users with events only at or after the cut */
  int64_t warm_test_users;      /* all ranks: users with a test target (temporal split) */
} sr_dataset;

/* How sr_dataset_build_split holds events out. */
typedef struct {
  int temporal;     /* 0: leave-one-out; 1: temporal */
  int64_t cut_time; /* temporal: events with time >= cut_time are never trained on */
  int since;        /* 1: train only on targets with time >= since_time, and validate only users
                     * whose validation event is at or after it (fine-tuning on the new days of
                     * a log: model selection looks at those days too); earlier events stay as
                     * context; the test targets do not change */
  int64_t since_time;
} sr_dataset_split;

/* Splits every user of the shard (last event = test, the one before = validation, the rest =
 * training; users with fewer than 3 events train on everything) and cuts each training history
 * into windows of at most max_len targets, from the end backwards. Collective over comm. */
sr_status sr_dataset_build(sr_dataset *ds, const sr_events_shard *shard, int max_len,
                           const sr_comm *comm);
/* The same with a choice of split. Temporal: a user's events before the cut are its past, the
 * first event at or after the cut is its test target (context: every event before the cut), and
 * the last event before the cut is its validation target (context: the events before that), so
 * model selection never sees the test period; training windows use the events before the
 * validation target (so no training event is at or after the cut). Users with no event before
 * the cut are cold users: they have no target, are counted in cold_users and are left out of the
 * metrics. Users with one event before the cut have a test target but no validation target. */
sr_status sr_dataset_build_split(sr_dataset *ds, const sr_events_shard *shard, int max_len,
                                 const sr_dataset_split *split, const sr_comm *comm);
void sr_dataset_free(sr_dataset *ds);

/* Global windows over all ranks, and steps per epoch for a global batch of B windows. */
int64_t sr_dataset_global_windows(const sr_dataset *ds);
int64_t sr_dataset_steps_per_epoch(const sr_dataset *ds, int64_t global_batch);

/* The windows of this rank in step `step` of `epoch`: positions [step*B, (step+1)*B) of the
 * epoch's permutation of all global windows (drawn from seed and epoch), kept when this rank
 * owns them. Writes local window indices to out (room for global_batch entries) in the order
 * of the permutation and returns how many. */
int64_t sr_dataset_batch(const sr_dataset *ds, uint64_t seed, int64_t epoch, int64_t step,
                         int64_t global_batch, int64_t *out);

/* Token ids of n windows: inputs[i, t] and targets[i, t] ([n, T], left-padded with 0; target 0
 * means "no target at this position"). Returns the number of target positions. */
int64_t sr_dataset_fill(const sr_dataset *ds, const int64_t *windows, int64_t n, int32_t *inputs,
                        int32_t *targets);

typedef enum { SR_HOLDOUT_VALID, SR_HOLDOUT_TEST } sr_holdout;

/* The model input for evaluating user u (local index): the last T events before the held-out
 * item (for TEST: training plus the validation item), left-padded into input[T]. Returns the
 * target item (0 when the user has none). */
int32_t sr_dataset_eval_input(const sr_dataset *ds, int64_t u, sr_holdout which, int32_t *input);

#endif
