/* Exact ranks of held-out items; see rank.h. Scores are the canonical scorer_topk_score of every
 * eligible item: exact and simple. (A sgemm pre-filter, as in topk.c, is the next speed-up.) */
#include "scorer/rank.h"

#include <math.h>
#include <string.h>

#include "core/arena.h"

sr_status scorer_rank_run(const scorer_topk_input *in, const int32_t *target, int64_t *rank) {
  if (in->n_users < 0 || in->n_items < 0 || in->d < 1)
    return sr_error(SR_EINVAL, "rank: sizes %lld users, %lld items, d %lld", (long long)in->n_users,
                    (long long)in->n_items, (long long)in->d);
  sr_status st = SR_OK;
  uint8_t *seen = NULL; /* [n_items + 1] marks of one user, cleared after use */
  TRY(sr_alloc(&seen, (size_t)in->n_items + 1, 1, "seen-item marks"));
  for (int64_t u = 0; u < in->n_users; u++) {
    const int32_t t = target[u];
    rank[u] = 0;
    if (t == 0) continue;
    if (t < 0 || t > in->n_items)
      FAIL_GOTO(SR_EINVAL, "rank: user %lld: target item %d outside 1..%lld", (long long)u, t,
                (long long)in->n_items);
    const int64_t sb = in->seen_offset ? in->seen_offset[u] : 0;
    const int64_t se = in->seen_offset ? in->seen_offset[u + 1] : 0;
    for (int64_t j = sb; j < se; j++) {
      const int32_t i = in->seen_item[j];
      if (i < 0 || i > in->n_items)
        FAIL_GOTO(SR_EINVAL, "rank: user %lld: seen item %d outside 0..%lld", (long long)u, i,
                  (long long)in->n_items);
      seen[i] = 1;
    }
    const float *uv = in->users + u * in->d;
    const float ts = scorer_topk_score(uv, in->items + (int64_t)t * in->d, in->d);
    int64_t better = 0;
    for (int64_t i = 1; i <= in->n_items; i++) {
      if (i == t || seen[i] || (in->banned && in->banned[i])) continue;
      const float s = scorer_topk_score(uv, in->items + i * in->d, in->d);
      better += s > ts || (s == ts && i < t);
    }
    rank[u] = better + 1;
    for (int64_t j = sb; j < se; j++) seen[in->seen_item[j]] = 0;
  }
cleanup:
  sr_free(seen);
  return st;
}
