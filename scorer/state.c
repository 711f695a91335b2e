/* User states in canonical batches; see state.h. */
#include "scorer/state.h"

#include <string.h>

#include "core/arena.h"

int scorer_state_window(const scorer_states *s, int64_t u) {
  const sr_events_shard *sh = s->shard;
  const int P = s->m->dims.max_len;
  const int64_t b = sh->offset[u], e = sh->offset[u + 1];
  int64_t n = 0;
  if (!s->usable) {
    n = e - b;
  } else {
    for (int64_t p = e - 1; p >= b && n < P; p--) n += s->usable[sh->item[p]] != 0;
  }
  if (n > P) n = P;
  return n < 1 ? 1 : (int)n;
}

void scorer_state_input(const scorer_states *s, int64_t u, int T, int32_t *input) {
  const sr_events_shard *sh = s->shard;
  int t = T;
  for (int64_t p = sh->offset[u + 1] - 1; p >= sh->offset[u] && t > 0; p--)
    if (!s->usable || s->usable[sh->item[p]]) input[--t] = sh->item[p];
  while (t > 0) input[--t] = 0;
}

/* Batch of selected user j (local position). */
static int64_t group_of(const scorer_states *s, int64_t j) {
  return (s->sel->first + j) / SCORER_GROUP;
}

/* The longest window among this rank's users of batch g that lie in [j_lo, j_hi). */
static int group_window_local(const scorer_states *s, int64_t g, int64_t j_lo, int64_t j_hi) {
  int T = 0;
  for (int64_t j = j_lo; j < j_hi; j++) {
    if (group_of(s, j) != g) continue;
    int w = scorer_state_window(s, s->sel->user[j]);
    if (w > T) T = w;
  }
  return T;
}

sr_status scorer_states_init(scorer_states *s, sr_model *m, const sr_kernels *k,
                             const sr_events_shard *shard, const scorer_selection *sel,
                             const uint8_t *usable, const sr_comm *comm) {
  memset(s, 0, sizeof *s);
  s->m = m;
  s->usable = usable;
  s->k = k;
  s->shard = shard;
  s->sel = sel;
  if (m->act.B_cap < SCORER_GROUP)
    return sr_error(SR_EINTERNAL, "scorer: model built for batches of %d, need %d",
                    m->act.B_cap, SCORER_GROUP);
  const int P = m->dims.max_len, C = m->dims.d_model;
  sr_status st = SR_OK;
  int64_t *all = NULL;
  TRY_GOTO(sr_alloc(&s->ids, (size_t)SCORER_GROUP * (size_t)P, sizeof *s->ids, "scorer inputs"));
  TRY_GOTO(sr_alloc(&s->hidden, (size_t)SCORER_GROUP * (size_t)C, sizeof *s->hidden,
                    "user states"));

  /* A batch crosses into another rank only at this rank's first or last batch; every rank
   * tells the others the batch ids and local windows of both, and takes the maximum. */
  int64_t mine[4] = {-1, 0, -1, 0}; /* first batch, its window here, last batch, its window */
  if (sel->n > 0) {
    mine[0] = group_of(s, 0);
    mine[2] = group_of(s, sel->n - 1);
    const int64_t first_end = (mine[0] + 1) * SCORER_GROUP - sel->first;
    mine[1] = group_window_local(s, mine[0], 0, first_end < sel->n ? first_end : sel->n);
    const int64_t last_begin = mine[2] * SCORER_GROUP - sel->first;
    mine[3] = group_window_local(s, mine[2], last_begin > 0 ? last_begin : 0, sel->n);
  }
  const int size = comm ? comm->size : 1, rank = comm ? comm->rank : 0;
  TRY_GOTO(sr_alloc(&all, (size_t)size * 4, sizeof *all, "batch windows"));
  for (int f = 0; f < 4; f++) {
    int64_t *gathered = all + (size_t)f * (size_t)size;
    if (comm)
      TRY_GOTO(sr_comm_allgather_i64(comm, mine[f], gathered));
    else
      gathered[0] = mine[f];
  }
  for (int e = 0; e < 2; e++) {
    s->edge_group[e] = mine[2 * e];
    s->edge_T[e] = 0;
    if (mine[2 * e] < 0) continue;
    for (int r = 0; r < size; r++) {
      if (r == rank) continue;
      for (int f = 0; f < 4; f += 2) {
        const int64_t g = all[(size_t)f * (size_t)size + (size_t)r];
        const int64_t T = all[(size_t)(f + 1) * (size_t)size + (size_t)r];
        if (g == mine[2 * e] && T > s->edge_T[e]) s->edge_T[e] = (int)T;
      }
    }
  }
cleanup:
  sr_free(all);
  if (st != SR_OK) scorer_states_free(s);
  return st;
}

void scorer_states_free(scorer_states *s) {
  sr_free(s->ids);
  sr_free(s->hidden);
  s->ids = NULL;
  s->hidden = NULL;
}

sr_status scorer_states_run(scorer_states *s, int64_t j0, int64_t j1, float *out) {
  const scorer_selection *sel = s->sel;
  const int C = s->m->dims.d_model;
  if (j0 < 0 || j1 > sel->n || j0 > j1 ||
      (j0 > 0 && (sel->first + j0) % SCORER_GROUP != 0) ||
      (j1 < sel->n && (sel->first + j1) % SCORER_GROUP != 0))
    return sr_error(SR_EINTERNAL, "scorer: states of [%lld, %lld) do not start and end batches",
                    (long long)j0, (long long)j1);
  for (int64_t j = j0; j < j1;) {
    const int64_t g = group_of(s, j);
    const int64_t g_end = (g + 1) * SCORER_GROUP - sel->first; /* local end of batch g */
    const int64_t jb = j, je = g_end < j1 ? g_end : j1;
    int T = group_window_local(s, g, jb, je);
    for (int e = 0; e < 2; e++)
      if (g == s->edge_group[e] && s->edge_T[e] > T) T = s->edge_T[e];
    memset(s->ids, 0, (size_t)SCORER_GROUP * (size_t)T * sizeof *s->ids);
    for (int64_t i = jb; i < je; i++) {
      const int64_t slot = sel->first + i - g * SCORER_GROUP;
      scorer_state_input(s, sel->user[i], T, s->ids + slot * T);
    }
    TRY(sr_model_forward(s->m, s->k, s->ids, SCORER_GROUP, T, NULL));
    TRY(sr_model_last_hidden(s->m, s->k, SCORER_GROUP, T, s->hidden));
    for (int64_t i = jb; i < je; i++) {
      const int64_t slot = sel->first + i - g * SCORER_GROUP;
      memcpy(out + (i - j0) * C, s->hidden + slot * C, (size_t)C * sizeof *out);
    }
    j = je;
  }
  return SR_OK;
}

sr_status scorer_model_content_load(sr_model *m, const sr_kernels *k, const char *events) {
  if (m->dims.content_dim <= 0) return SR_OK;
  int dim = 0;
  float *content = NULL;
  sr_status st = sr_events_read_content(events, m->dims.n_items, &dim, &content);
  if (st == SR_OK && dim != m->dims.content_dim)
    st = sr_error(SR_EINVAL, "%s: the checkpoint's model projects item content of %d dims, but "
                  "/items/content %s: score with the events file the model was trained on, or "
                  "a later export with the same item vectors", events, m->dims.content_dim,
                  dim ? "has another dimension" : "is missing");
  if (st == SR_OK) st = sr_model_set_content(m, k, content);
  sr_free(content);
  if (st != SR_OK) sr_error_context("data.events");
  return st;
}
