/* The rank of one held-out item per user under the scorer's own definition of a score
 * (scorer_topk_score) and of ties (smaller item id first): what full-ranking HR@K, NDCG@K and
 * MRR are computed from, so validation and `seqrec score` can never disagree on an order.
 * Not for choosing items to recommend (topk.h). */
#ifndef SR_SCORER_RANK_H
#define SR_SCORER_RANK_H

#include <stdint.h>

#include "core/status.h"
#include "scorer/topk.h"

/* rank[u] = 1 + the number of items i in 1..n_items, i != target[u], not seen by u and not
 * banned, that beat target[u]: a higher score, or the same score and a smaller id. The target is
 * ranked even when it is in u's seen list (a repeat purchase). rank[u] = 0 when target[u] == 0.
 * Same input checks and errors as scorer_topk_run. */
sr_status scorer_rank_run(const scorer_topk_input *in, const int32_t *target, int64_t *rank);

#endif
