/* Exact ranks of held-out items; see rank.h. The rank is defined by the canonical
 * scorer_topk_score, but computing that for every item (a double dot product each) was most of
 * a validation's time. So, as in topk.c, sgemm scores filter: an item whose fp32 score is more
 * than two margins (scorer_topk_margin, a proven bound on |sgemm - scorer_topk_score|) above or
 * below the target's exact score is counted, or not, without its exact score; only the items
 * in between are scored exactly. The result is the same as scoring every item exactly. */
#include "scorer/rank.h"

#include <math.h>
#include <string.h>

#include <cblas.h>

#include "core/arena.h"

/* 64 users x 8,192 items of float scores: 2 MiB of scratch; ML-1M's 3,416 items are one block. */
#define RANK_USER_BLOCK 64
#define RANK_ITEM_BLOCK 8192

static sr_status rank_check(const scorer_topk_input *in, const int32_t *target) {
  if (in->n_users < 0 || in->n_items < 0 || in->d < 1 || in->d > INT32_MAX)
    return sr_error(SR_EINVAL, "rank: sizes %lld users, %lld items, d %lld", (long long)in->n_users,
                    (long long)in->n_items, (long long)in->d);
  for (int64_t u = 0; u < in->n_users; u++) {
    const int32_t t = target[u];
    if (t < 0 || t > in->n_items)
      return sr_error(SR_EINVAL, "rank: user %lld: target item %d outside 1..%lld", (long long)u,
                      t, (long long)in->n_items);
    if (t == 0 || !in->seen_offset) continue;
    for (int64_t j = in->seen_offset[u]; j < in->seen_offset[u + 1]; j++) {
      const int32_t i = in->seen_item[j];
      if (i < 0 || i > in->n_items)
        return sr_error(SR_EINVAL, "rank: user %lld: seen item %d outside 0..%lld", (long long)u,
                        i, (long long)in->n_items);
    }
  }
  return SR_OK;
}

static double rank_item_norm_max(const scorer_topk_input *in) {
  double max = 0;
  for (int64_t i = 1; i <= in->n_items; i++) {
    const float *e = in->items + i * in->d;
    double s = 0;
    for (int64_t j = 0; j < in->d; j++) s += (double)e[j] * e[j];
    if (s > max) max = s;
  }
  return sqrt(max);
}

/* Items i0 .. i0+ni-1 that beat user u's target t, given their sgemm scores `fast`. */
static int64_t rank_count_block(const scorer_topk_input *in, int64_t u, int32_t t, float ts,
                                double margin2, const float *fast, int64_t i0, int64_t ni,
                                const uint8_t *seen) {
  const float *uv = in->users + u * in->d;
  /* A non-finite target score or margin (a broken vector) decides nothing: all exactly. */
  const int filter = isfinite(ts) && isfinite(margin2);
  int64_t better = 0;
  for (int64_t ii = 0; ii < ni; ii++) {
    const int64_t i = i0 + ii;
    if (i == t || seen[i] || (in->banned && in->banned[i])) continue;
    const double f = fast[ii];
    if (filter && f > (double)ts + margin2) {
      better++;
    } else if (!filter || f >= (double)ts - margin2 || isnan(f)) { /* too close to call */
      const float s = scorer_topk_score(uv, in->items + i * in->d, in->d);
      better += s > ts || (s == ts && i < t);
    }
  }
  return better;
}

sr_status scorer_rank_run(const scorer_topk_input *in, const int32_t *target, int64_t *rank) {
  TRY(rank_check(in, target));
  for (int64_t u = 0; u < in->n_users; u++) rank[u] = 0;
  if (in->n_users == 0 || in->n_items == 0) {
    for (int64_t u = 0; u < in->n_users; u++) rank[u] = target[u] != 0;
    return SR_OK;
  }
  const int64_t d = in->d;
  const int64_t ub = in->n_users < RANK_USER_BLOCK ? in->n_users : RANK_USER_BLOCK;
  const int64_t ib = in->n_items < RANK_ITEM_BLOCK ? in->n_items : RANK_ITEM_BLOCK;
  sr_status st = SR_OK;
  uint8_t *seen = NULL; /* [n_items + 1] marks of one user, cleared after use */
  float *fast = NULL;   /* [ub, ib] sgemm scores of a user block x item block */
  float *ts = NULL;     /* [ub] each user's exact target score */
  double *margin2 = NULL;
  TRY_GOTO(sr_alloc(&seen, (size_t)in->n_items + 1, 1, "seen-item marks"));
  TRY_GOTO(sr_alloc(&fast, (size_t)(ub * ib), sizeof *fast, "rank scores"));
  TRY_GOTO(sr_alloc(&ts, (size_t)ub, sizeof *ts, "target scores"));
  TRY_GOTO(sr_alloc(&margin2, (size_t)ub, sizeof *margin2, "rank margins"));
  const double norm_max = rank_item_norm_max(in);
  for (int64_t u0 = 0; u0 < in->n_users; u0 += ub) {
    const int64_t nu = in->n_users - u0 < ub ? in->n_users - u0 : ub;
    for (int64_t j = 0; j < nu; j++) {
      const float *uv = in->users + (u0 + j) * d;
      const int32_t t = target[u0 + j];
      ts[j] = t ? scorer_topk_score(uv, in->items + (int64_t)t * d, d) : 0.0f;
      margin2[j] = 2.0 * (double)scorer_topk_margin(uv, d, norm_max);
    }
    for (int64_t i0 = 1; i0 <= in->n_items; i0 += ib) {
      const int64_t ni = in->n_items - i0 + 1 < ib ? in->n_items - i0 + 1 : ib;
      cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)nu, (int)ni, (int)d, 1.0f,
                  in->users + u0 * d, (int)d, in->items + i0 * d, (int)d, 0.0f, fast, (int)ni);
      for (int64_t j = 0; j < nu; j++) {
        const int64_t u = u0 + j;
        const int32_t t = target[u];
        if (t == 0) continue;
        const int64_t sb = in->seen_offset ? in->seen_offset[u] : 0;
        const int64_t se = in->seen_offset ? in->seen_offset[u + 1] : 0;
        for (int64_t p = sb; p < se; p++) seen[in->seen_item[p]] = 1;
        rank[u] += rank_count_block(in, u, t, ts[j], margin2[j], fast + j * ni, i0, ni, seen);
        for (int64_t p = sb; p < se; p++) seen[in->seen_item[p]] = 0;
      }
    }
    for (int64_t j = 0; j < nu; j++) rank[u0 + j] += target[u0 + j] != 0;
  }
cleanup:
  sr_free(seen);
  sr_free(fast);
  sr_free(ts);
  sr_free(margin2);
  return st;
}
