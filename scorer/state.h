/* User states for scoring: the model's final hidden state after each user's most recent events,
 * computed so that the numbers do not depend on how users are split among ranks.
 * Not for choosing the users (select.h) or ranking items (topk.h).
 *
 * Why "canonical groups": BLAS may round a row of a matrix product differently depending on
 * where the row sits in the call (OpenBLAS does, for rows off its kernel's tile alignment), so a
 * user batched with other neighbours would get other last bits, and a near-tie in its top-k
 * could flip with the number of ranks.
 * So the batches are fixed by the selection alone: selected user number j (recs.h5 row j) always
 * sits in slot j % SCORER_GROUP of batch j / SCORER_GROUP, with that batch's window length T
 * (the longest window among its users, on whichever rank). A rank holding only part of a batch
 * fills the other slots with padding. Same checkpoint, data, selection and thread count: the
 * same bits on any number of ranks. */
#ifndef SR_SCORER_STATE_H
#define SR_SCORER_STATE_H

#include <stdint.h>

#include "comm/comm.h"
#include "core/status.h"
#include "events/events.h"
#include "kernels/kernels.h"
#include "model/sasrec.h"
#include "scorer/select.h"

/* Users per forward batch. Changing it changes last bits of scores (see above). */
#define SCORER_GROUP 64

typedef struct {
  sr_model *m;                  /* created with batch capacity SCORER_GROUP; not owned */
  const sr_kernels *k;
  const sr_events_shard *shard; /* not owned */
  const scorer_selection *sel;  /* not owned */
  const uint8_t *usable;        /* [n_items + 1] items the model has an embedding for (the
                                 * others are left out of histories); NULL: all; not owned */
  int32_t *ids;                 /* [SCORER_GROUP, P] one batch's inputs */
  float *hidden;                /* [SCORER_GROUP, C] its states */
  /* The window a batch at this rank's edge needs for users on other ranks (0: none). */
  int64_t edge_group[2];        /* first and last batch this rank touches (-1: none) */
  int edge_T[2];
} scorer_states;

/* Gives a model with content (m->dims.content_dim > 0) the content vectors of events file
 * `events` (its /items/content, which must have that dimension and m's items); nothing to do
 * for a model without. For scoring and evaluating a checkpoint on a file. */
sr_status scorer_model_content_load(sr_model *m, const sr_kernels *k, const char *events);

/* Prepares states for sel's users (usable: see scorer_states; NULL = every item). Collective over comm (it agrees on the windows of batches
 * shared with neighbouring ranks); comm NULL: this process alone, without MPI. */
sr_status scorer_states_init(scorer_states *s, sr_model *m, const sr_kernels *k,
                             const sr_events_shard *shard, const scorer_selection *sel,
                             const uint8_t *usable, const sr_comm *comm);
void scorer_states_free(scorer_states *s);

/* Window length of local user u: its most recent events whose items are usable (items new
 * since training without content have no embedding and are left out), at most max_len; >= 1. */
int scorer_state_window(const scorer_states *s, int64_t u);

/* The model input of local user u in a window of T: the last known items, left-padded. */
void scorer_state_input(const scorer_states *s, int64_t u, int T, int32_t *input /* [T] */);

/* States of the selected users sel->user[j0 .. j1) into out[(j - j0) * C ...]. j0 and j1 must
 * start and end batches: (sel->first + j0) % SCORER_GROUP == 0 or j0 == 0, and likewise j1 or
 * j1 == sel->n. */
sr_status scorer_states_run(scorer_states *s, int64_t j0, int64_t j1, float *out /* [j1-j0, C] */);

#endif
