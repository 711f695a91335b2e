/* Exact block-wise top-k over user x item scores (see topk.h): sgemm one user block x item
 * block at a time into a per-thread scratch, keep each user's candidates above a running
 * threshold in a small buffer, and rescore only the final few exactly with scorer_topk_score.
 * Not the model's forward pass and not the writing of recs.h5. */
#include "scorer/topk.h"

#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <cblas.h>
#if defined(__SSE2__)
#include <emmintrin.h>
#endif
#ifdef _OPENMP
#include <omp.h>
#endif

#include "core/arena.h"

/* One thread's working memory, carved from the single allocation. */
typedef struct {
  float *score;        /* [user_block, item_block] this block's sgemm output */
  float *cand_score;   /* [user_block, cap] each user's candidates: sgemm (or exact) scores */
  int32_t *cand_item;  /* [user_block, cap] and their items */
  int32_t *cand_n;     /* [user_block] candidates held */
  float *filter;       /* [user_block] an item enters only with an sgemm score above this */
  float *margin;       /* [user_block] bound on |sgemm score - scorer_topk_score| per user */
  float *select_tmp;   /* [cap] workspace of the k-th largest selection */
  uint8_t *bucket;     /* [cap] workspace of the histogram bound */
  int64_t *seen_begin; /* [user_block + 1] each user's slice of `seen` */
  int64_t *seen_pos;   /* [user_block] cursor: first entry not yet passed */
  int32_t *seen;       /* [max seen items of a user block] sorted within each user's slice */
} topk_scratch;

/* Everything the threads share, fixed before the parallel region. */
typedef struct {
  const scorer_topk_input *in;
  int k;                /* length of an output row */
  int32_t k_sel;        /* items a row can really hold: min(k, n_items) */
  int32_t cap;          /* candidate buffer per user, > k_sel unless it holds every item */
  int gemm_only;
  int64_t user_block;
  int64_t item_block;
  double item_norm_max; /* max over items of ||items[i]||_2 */
  int32_t *out_item;    /* [n_users, k] */
  float *out_score;     /* [n_users, k] */
} topk_plan;

static size_t topk_round_up(size_t bytes) { return (bytes + 63) & ~(size_t)63; }

/* Inputs are capped at 2^50 in magnitude (NaN and inf included): then no float product in the
 * sgemm overflows (2^100) nor does a sum of up to 2^27 of them, so every sgemm score is finite
 * and the margin below holds. Real embeddings are O(1); larger means a broken model. The test is
 * an OR over the row on the bits, which vectorises where isfinite() in a branch does not. */
#define TOPK_ABS_MAX_BITS 0x58800000u /* 2^50 as float bits */

static int64_t topk_first_bad_row(const float *x, int64_t rows, int64_t d) {
  for (int64_t r = 0; r < rows; r++) {
    const float *row = x + r * d;
    uint32_t bad = 0;
    for (int64_t j = 0; j < d; j++) {
      uint32_t bits;
      memcpy(&bits, &row[j], sizeof bits);
      bad |= (uint32_t)((bits & 0x7fffffffu) >= TOPK_ABS_MAX_BITS);
    }
    if (bad) return r;
  }
  return -1;
}

static double topk_norm(const float *x, int64_t d) {
  double s = 0;
  for (int64_t j = 0; j < d; j++) s += (double)x[j] * x[j];
  return sqrt(s);
}

float scorer_topk_margin(const float *user, int64_t d, double item_norm_max) {
  return (float)(2.0 * (double)(d + 2) * 0x1p-24 * topk_norm(user, d) * item_norm_max +
                 (double)d * 0x1p-120);
}

/* Rounding to bf16 (8-bit significand, round to nearest) moves each factor by at most 2^-8 of
 * itself, so each product by (2 2^-8 + 2^-16) |u_j e_j|, and the sum of these is at most
 * (2^-7 + 2^-16) ||u|| ||e|| (Cauchy-Schwarz). The products of bf16 values are exact in fp32;
 * d - 1 fp32 additions in any order, each off by at most 2^-23 of its result (1 ulp, so that
 * truncating adders are covered), add at most (d - 1) 2^-23 (1 + 2^-6) ||u|| ||e||; the exact
 * score itself is within 2^-24 of the true dot product. Every term is doubled here. The last
 * term covers inputs or products that a tensor core flushes to zero (each off by at most
 * 2^-126 times a factor <= 1e15 after scorer_topk_check_items). */
float scorer_topk_margin_bf16(const float *user, int64_t d, double item_norm_max) {
  return (float)((0x1p-7 + 0x1p-15 + 4.0 * (double)(d + 2) * 0x1p-24) * topk_norm(user, d) *
                     item_norm_max +
                 (double)d * 0x1p-70);
}

sr_status scorer_topk_check_items(const float *items, int64_t n_items, int64_t d) {
  const int64_t row = topk_first_bad_row(items, n_items + 1, d);
  if (row >= 0)
    return sr_error(SR_EINVAL, "top-k: item %lld's embedding has a NaN, an infinity or a value "
                    "beyond 1e15; the checkpoint is broken", (long long)row);
  return SR_OK;
}

sr_status scorer_topk_check(const scorer_topk_input *in, int k, const scorer_topk_opts *o,
                            const int32_t *out_item, const float *out_score) {
  TRY(scorer_topk_check_users(in, k, o, out_item, out_score));
  if (in->n_users == 0) return SR_OK;
  return scorer_topk_check_items(in->items, in->n_items, in->d);
}

sr_status scorer_topk_check_users(const scorer_topk_input *in, int k, const scorer_topk_opts *o,
                                  const int32_t *out_item, const float *out_score) {
  if (!in) return sr_error(SR_EINVAL, "top-k: no input given");
  if (k < 1) return sr_error(SR_EINVAL, "top-k: k = %d; k must be at least 1 (score.k)", k);
  if (in->d < 1 || in->d > INT_MAX)
    return sr_error(SR_EINVAL, "top-k: vector size d = %lld; it must be in 1..%d",
                    (long long)in->d, INT_MAX);
  if (in->n_users < 0 || in->n_items < 0)
    return sr_error(SR_EINVAL, "top-k: negative size (%lld users, %lld items)",
                    (long long)in->n_users, (long long)in->n_items);
  if (in->n_items > INT32_MAX - 1)
    return sr_error(SR_EINVAL, "top-k: %lld items; item ids are int32, so at most %d",
                    (long long)in->n_items, INT32_MAX - 1);
  if (in->n_users == 0) return SR_OK;
  if (!in->users || !in->items)
    return sr_error(SR_EINVAL, "top-k: %s vectors missing (NULL) for %lld users",
                    in->users ? "item" : "user", (long long)in->n_users);
  if (in->seen_offset && !in->seen_item && in->seen_offset[in->n_users] > in->seen_offset[0])
    return sr_error(SR_EINVAL, "top-k: seen offsets given but the seen item array is NULL");

  const int64_t row = topk_first_bad_row(in->users, in->n_users, in->d);
  if (row >= 0)
    return sr_error(SR_EINVAL, "top-k: user %lld's vector has a NaN, an infinity or a value "
                    "beyond 1e15; the model or checkpoint that produced it is broken",
                    (long long)row);

  if (in->seen_offset) {
    for (int64_t u = 0; u < in->n_users; u++) {
      int64_t b = in->seen_offset[u], e = in->seen_offset[u + 1];
      if (b < 0 || e < b)
        return sr_error(SR_EINVAL, "top-k: seen offsets of user %lld are [%lld, %lld): they "
                        "must be non-negative and non-decreasing", (long long)u, (long long)b,
                        (long long)e);
      for (int64_t p = b; p < e; p++) {
        int32_t it = in->seen_item[p];
        if (it < 0 || it > in->n_items)
          return sr_error(SR_EINVAL, "top-k: user %lld has seen item %d, outside 0..%lld: the "
                          "events and the item table disagree", (long long)u, (int)it,
                          (long long)in->n_items);
      }
    }
  }
  if (!out_item || !out_score)
    return sr_error(SR_EINVAL, "top-k: output arrays missing (NULL) for %lld users",
                    (long long)in->n_users);
  if (o->user_block < 0 || o->item_block < 0 || o->threads < 0)
    return sr_error(SR_EINVAL, "top-k: negative block size or thread count (%lld, %lld, %d)",
                    (long long)o->user_block, (long long)o->item_block, o->threads);
  return SR_OK;
}

static int topk_cmp_i32(const void *a, const void *b) {
  int32_t x = *(const int32_t *)a, y = *(const int32_t *)b;
  return (x > y) - (x < y);
}

/* Heap order: the root is the worst entry. Worse = lower score, or equal score and larger id,
 * so that the final order (score descending, id ascending) is a strict total order. */
static inline int topk_worse(float sa, int32_t ia, float sb, int32_t ib) {
  return sa < sb || (sa == sb && ia > ib);
}

static void topk_sift_down(float *hs, int32_t *hi, int32_t n, int32_t pos) {
  float s = hs[pos];
  int32_t id = hi[pos];
  for (;;) {
    int32_t c = 2 * pos + 1;
    if (c >= n) break;
    if (c + 1 < n && topk_worse(hs[c + 1], hi[c + 1], hs[c], hi[c])) c++;
    if (!topk_worse(hs[c], hi[c], s, id)) break;
    hs[pos] = hs[c];
    hi[pos] = hi[c];
    pos = c;
  }
  hs[pos] = s;
  hi[pos] = id;
}

static void topk_sift_up(float *hs, int32_t *hi, int32_t pos) {
  float s = hs[pos];
  int32_t id = hi[pos];
  while (pos > 0) {
    int32_t p = (pos - 1) / 2;
    if (!topk_worse(s, id, hs[p], hi[p])) break;
    hs[pos] = hs[p];
    hi[pos] = hi[p];
    pos = p;
  }
  hs[pos] = s;
  hi[pos] = id;
}

float scorer_topk_score(const float *user, const float *item, int64_t d) {
  /* Products of floats are exact in double; eight partial sums in a fixed order keep the loop
   * short without letting the compiler choose the order (no reassociation without -ffast-math,
   * and a vectorised version keeps each lane's partial sum as written). */
  double acc[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  int64_t j = 0;
  for (; j + 8 <= d; j += 8)
    for (int t = 0; t < 8; t++) acc[t] += (double)user[j + t] * (double)item[j + t];
  for (int t = 0; j < d; j++, t++) acc[t] += (double)user[j] * (double)item[j];
  return (float)(((acc[0] + acc[1]) + (acc[2] + acc[3])) + ((acc[4] + acc[5]) + (acc[6] + acc[7])));
}

/* One user's state while its row of the scratch is scanned.
 *
 * Why the buffer is exact: every sgemm score s is within `margin` (m) of the exact score c.
 * Let T be the k-th largest s among the candidates held. An item y with s_y <= T - 2m has
 * c_y <= s_y + m <= T - m <= c_z for the k held items z with s_z >= T, and a larger id than
 * all of them (items come in increasing id order), so k eligible items beat it: it can never
 * be in the top-k. Dropping such items (and never admitting them later) is therefore safe, and
 * an exact score may stand in for an sgemm one (|c - c| <= m). */
typedef struct {
  float *cs;             /* [cap] candidate scores */
  int32_t *ci;           /* [cap] candidate items */
  int32_t *cn;           /* candidates held */
  float *filter;         /* admit only sgemm scores above this */
  float margin;
  int32_t k;             /* min(k, n_items) */
  int32_t cap;
  float *tmp;            /* [cap] */
  uint8_t *bucket;       /* [cap] */
  const float *user;     /* [d] */
  const float *items;    /* [n_items + 1, d] */
  int64_t d;
  const uint8_t *banned; /* [n_items + 1] or NULL */
  const int32_t *seen;   /* the user's sorted seen items */
  int64_t *seen_pos;
  int64_t seen_end;
} topk_user;

/* The k-th largest of a[0..n-1] (k <= n), reordering a: quickselect, median-of-three pivot. */
static float topk_kth_largest(float *a, int32_t n, int32_t k) {
  int32_t lo = 0, hi = n - 1;
  const int32_t want = k - 1;
  while (lo < hi) {
    float x = a[lo], y = a[lo + (hi - lo) / 2], z = a[hi];
    float p = x < y ? (y < z ? y : (x < z ? z : x)) : (x < z ? x : (y < z ? z : y));
    int32_t i = lo, j = hi;
    while (i <= j) {
      while (a[i] > p) i++;
      while (a[j] < p) j--;
      if (i <= j) {
        float t = a[i];
        a[i++] = a[j];
        a[j--] = t;
      }
    }
    if (want <= j) {
      hi = j;
    } else if (want >= i) {
      lo = i;
    } else {
      return a[want];
    }
  }
  return a[lo];
}

#define TOPK_BUCKETS 64

/* A bound t with at least k of s[0..n-1] >= t, and usually only a few more: the range of s cut
 * into equal buckets, t = the smallest score in the top buckets that together hold k. Three
 * branch-free passes, several times cheaper than a quickselect; *n_above says how many reach
 * t, so that the caller can catch a poor bound (one outlier stretching the range). `bucket`
 * is [n] workspace. */
static float topk_kth_bound(const float *s, int32_t n, int32_t k, uint8_t *bucket,
                            int32_t *n_above) {
  float lo = s[0], hi = s[0];
  for (int32_t j = 1; j < n; j++) {
    lo = s[j] < lo ? s[j] : lo;
    hi = s[j] > hi ? s[j] : hi;
  }
  *n_above = n;
  if (!(hi > lo)) return lo;
  const float scale = (float)(TOPK_BUCKETS - 1) / (hi - lo); /* inf for a subnormal range */
  int32_t count[TOPK_BUCKETS] = {0};
  for (int32_t j = 0; j < n; j++) {
    /* x >= 0, or NaN (0 * inf): the compare sends NaN and inf to the top bucket before the
     * conversion, where they would be undefined. */
    float x = (s[j] - lo) * scale;
    int32_t b = x < (float)(TOPK_BUCKETS - 1) ? (int32_t)x : TOPK_BUCKETS - 1;
    bucket[j] = (uint8_t)b;
    count[b]++;
  }
  int32_t first = TOPK_BUCKETS - 1, above = count[first];
  while (above < k) above += count[--first];
  *n_above = above;
  float t = hi;
  for (int32_t j = 0; j < n; j++) {
    float v = bucket[j] >= first ? s[j] : hi;
    t = v < t ? v : t;
  }
  return t;
}

/* Keeps the candidates with score >= lim, in order; returns how many. About half are kept, so
 * a branch would be mispredicted half the time: every entry is copied, the count decides. */
static int32_t topk_keep_above(float *cs, int32_t *ci, int32_t n, float lim) {
  int32_t m = 0;
  for (int32_t j = 0; j < n; j++) {
    float sc = cs[j];
    cs[m] = sc;
    ci[m] = ci[j];
    m += sc >= lim;
  }
  return m;
}

/* Drops the candidates that can no longer make the top-k: those more than 2 margins below a
 * bound t that k candidates reach. The histogram bound first; the exact k-th largest when that
 * frees too little. Returns the count kept. */
static int32_t topk_drop_hopeless(topk_user *u) {
  const int32_t n = *u->cn, enough = u->cap - u->cap / 2;
  int32_t above;
  float lim = topk_kth_bound(u->cs, n, u->k, u->bucket, &above) - 2.0f * u->margin;
  if (above > enough) {
    memcpy(u->tmp, u->cs, (size_t)n * sizeof *u->tmp);
    lim = topk_kth_largest(u->tmp, n, u->k) - 2.0f * u->margin;
  }
  *u->cn = topk_keep_above(u->cs, u->ci, n, lim);
  if (lim > *u->filter) *u->filter = lim;
  return *u->cn;
}

/* The rows of a user's candidates are anywhere in the table and mostly out of cache: asking
 * for all of them one user ahead lets the misses overlap instead of queueing one per dot. */
static void topk_prefetch_rows(const topk_user *u) {
  for (int32_t j = 0; j < *u->cn; j++) {
    const char *row = (const char *)(u->items + (int64_t)u->ci[j] * u->d);
    for (int64_t off = 0; off < u->d * (int64_t)sizeof(float); off += 64)
      __builtin_prefetch(row + off);
  }
}

/* Replaces each candidate's score by the exact one and keeps exactly the best k (or all when
 * fewer), as a heap with the worst at the root. */
static void topk_keep_exact(topk_user *u) {
  int32_t n = *u->cn, h = 0;
  for (int32_t j = 0; j < n; j++) {
    float c = scorer_topk_score(u->user, u->items + (int64_t)u->ci[j] * u->d, u->d);
    int32_t id = u->ci[j];
    if (h < u->k) {
      u->cs[h] = c;
      u->ci[h] = id;
      topk_sift_up(u->cs, u->ci, h++);
    } else if (topk_worse(u->cs[0], u->ci[0], c, id)) {
      u->cs[0] = c;
      u->ci[0] = id;
      topk_sift_down(u->cs, u->ci, h, 0);
    }
  }
  *u->cn = h;
}

/* Called when the buffer is full. Normally the sgemm filter frees most of it; when more than
 * three quarters of it ties within the margin (duplicate item rows), exact scores decide. */
static void topk_compact(topk_user *u) {
  if (topk_drop_hopeless(u) <= u->cap - u->cap / 4) return;
  topk_keep_exact(u);
  /* The root is now the exact k-th best c_k: a later item (larger id) needs c > c_k, so an
   * sgemm score above c_k - m. */
  float lim = u->cs[0] - u->margin;
  if (lim > *u->filter) *u->filter = lim;
}

/* Admits item `id`, whose sgemm score passed the filter, unless seen or banned. */
static void topk_admit(topk_user *u, int32_t id, float score) {
  if (u->banned && u->banned[id]) return;
  while (*u->seen_pos < u->seen_end && u->seen[*u->seen_pos] < id) (*u->seen_pos)++;
  if (*u->seen_pos < u->seen_end && u->seen[*u->seen_pos] == id) return;
  int32_t n = (*u->cn)++;
  u->cs[n] = score;
  u->ci[n] = id;
  if (*u->cn == u->cap) topk_compact(u);
}

#define TOPK_CHUNK 16

/* Bit t set when s[t] > thr, for t < TOPK_CHUNK: one compare per 4 scores and no branch per
 * score, since once the filter has caught up almost every chunk gives 0. SSE2 is part of
 * x86-64; elsewhere the plain loop (which compilers turn into compares and a bit gather). */
static inline uint32_t topk_chunk_above(const float *s, float thr) {
  uint32_t mask = 0;
#if defined(__SSE2__)
  const __m128 t = _mm_set1_ps(thr);
  for (int q = 0; q < TOPK_CHUNK; q += 4)
    mask |= (uint32_t)_mm_movemask_ps(_mm_cmpgt_ps(_mm_loadu_ps(s + q), t)) << q;
#else
  for (int q = 0; q < TOPK_CHUNK; q++) mask |= (uint32_t)(s[q] > thr) << q;
#endif
  return mask;
}

/* Scans one user's sgemm scores for items first_id .. first_id + n - 1. */
static void topk_scan_row(topk_user *u, const float *s, int64_t n, int32_t first_id) {
  int64_t j = 0;
  for (; j + TOPK_CHUNK <= n; j += TOPK_CHUNK) {
    uint32_t mask = topk_chunk_above(s + j, *u->filter);
    while (mask) {
      int t = __builtin_ctz(mask);
      mask &= mask - 1;
      /* A compaction inside this chunk may have raised the filter. */
      if (s[j + t] > *u->filter) topk_admit(u, first_id + (int32_t)(j + t), s[j + t]);
    }
  }
  for (; j < n; j++)
    if (s[j] > *u->filter) topk_admit(u, first_id + (int32_t)j, s[j]);
}

/* The user's final row: the exact best k of the candidates, best first, then item 0 / -inf
 * padding up to k. */
static void topk_finish_user(topk_user *u, int k, int32_t *out_item, float *out_score) {
  topk_keep_exact(u);
  int32_t n = *u->cn;
  float *hs = u->cs;
  int32_t *hi = u->ci;
  for (int32_t m = n - 1; m > 0; m--) { /* heap sort: the worst goes to the end */
    float sc = hs[0];
    int32_t id = hi[0];
    hs[0] = hs[m];
    hi[0] = hi[m];
    hs[m] = sc;
    hi[m] = id;
    topk_sift_down(hs, hi, m, 0);
  }
  memcpy(out_score, hs, (size_t)n * sizeof *out_score);
  memcpy(out_item, hi, (size_t)n * sizeof *out_item);
  for (int32_t j = n; j < k; j++) {
    out_score[j] = -INFINITY;
    out_item[j] = 0;
  }
}

/* Copies the seen items of users u0 .. u0+mb-1 into the scratch, each user's slice sorted. */
static void topk_load_seen(const scorer_topk_input *in, int64_t u0, int64_t mb,
                           topk_scratch *sc) {
  int64_t base = in->seen_offset ? in->seen_offset[u0] : 0;
  for (int64_t r = 0; r <= mb; r++)
    sc->seen_begin[r] = in->seen_offset ? in->seen_offset[u0 + r] - base : 0;
  for (int64_t r = 0; r < mb; r++) {
    int64_t b = sc->seen_begin[r], e = sc->seen_begin[r + 1];
    sc->seen_pos[r] = b;
    if (e == b) continue;
    memcpy(sc->seen + b, in->seen_item + base + b, (size_t)(e - b) * sizeof *sc->seen);
    qsort(sc->seen + b, (size_t)(e - b), sizeof *sc->seen, topk_cmp_i32);
  }
}

static topk_user topk_user_at(const topk_plan *pl, topk_scratch *sc, int64_t u0, int64_t r) {
  const scorer_topk_input *in = pl->in;
  return (topk_user){
      .cs = sc->cand_score + r * pl->cap,
      .ci = sc->cand_item + r * pl->cap,
      .cn = &sc->cand_n[r],
      .filter = &sc->filter[r],
      .margin = sc->margin[r],
      .k = pl->k_sel,
      .cap = pl->cap,
      .tmp = sc->select_tmp,
      .bucket = sc->bucket,
      .user = in->users + (u0 + r) * in->d,
      .items = in->items,
      .d = in->d,
      .banned = in->banned,
      .seen = sc->seen,
      .seen_pos = &sc->seen_pos[r],
      .seen_end = sc->seen_begin[r + 1],
  };
}

static void topk_run_block(const topk_plan *pl, int64_t u0, topk_scratch *sc) {
  const scorer_topk_input *in = pl->in;
  const int64_t d = in->d;
  const int64_t mb = pl->user_block < in->n_users - u0 ? pl->user_block : in->n_users - u0;

  if (!pl->gemm_only) {
    topk_load_seen(in, u0, mb, sc);
    /* Any summation order of d float products is within gamma_d * sum|u_j e_j| of the exact
     * dot product, and scorer_topk_score within 2^-24 |exact| + d 2^-53 sum|u_j e_j|; and
     * sum|u_j e_j| <= ||u|| ||e||. Twice (d + 2) 2^-24 ||u|| max||e|| covers both, the
     * rounding of the threshold arithmetic, and an absolute term for subnormal products. */
    for (int64_t r = 0; r < mb; r++) {
      sc->cand_n[r] = 0;
      sc->filter[r] = -INFINITY;
      sc->margin[r] = scorer_topk_margin(in->users + (u0 + r) * d, d, pl->item_norm_max);
    }
  }
  for (int64_t i0 = 1; i0 <= in->n_items; i0 += pl->item_block) {
    int64_t nb = in->n_items + 1 - i0 < pl->item_block ? in->n_items + 1 - i0 : pl->item_block;
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)mb, (int)nb, (int)d, 1.0f,
                in->users + u0 * d, (int)d, in->items + i0 * d, (int)d, 0.0f, sc->score,
                (int)nb);
    if (pl->gemm_only) continue;
    for (int64_t r = 0; r < mb; r++) {
      topk_user u = topk_user_at(pl, sc, u0, r);
      topk_scan_row(&u, sc->score + r * nb, nb, (int32_t)i0);
    }
  }
  if (pl->gemm_only) return;
  for (int64_t r = 0; r < mb; r++) {
    topk_user u = topk_user_at(pl, sc, u0, r);
    if (*u.cn > u.k) topk_drop_hopeless(&u);
    if (r == 0) topk_prefetch_rows(&u);
  }
  for (int64_t r = 0; r < mb; r++) {
    if (r + 1 < mb) {
      topk_user next = topk_user_at(pl, sc, u0, r + 1);
      topk_prefetch_rows(&next);
    }
    topk_user u = topk_user_at(pl, sc, u0, r);
    topk_finish_user(&u, pl->k, pl->out_item + (u0 + r) * pl->k,
                     pl->out_score + (u0 + r) * pl->k);
  }
}

/* OpenBLAS would otherwise start its own threads inside each thread's small sgemm. */
static int topk_blas_threads_set_one(void) {
#ifdef SR_HAVE_OPENBLAS_THREADS
  int was = openblas_get_num_threads();
  openblas_set_num_threads(1);
  return was;
#else
  return 0;
#endif
}

static void topk_blas_threads_restore(int was) {
#ifdef SR_HAVE_OPENBLAS_THREADS
  if (was > 0) openblas_set_num_threads(was);
#else
  (void)was;
#endif
}

sr_status scorer_topk_run(const scorer_topk_input *in, int k, const scorer_topk_opts *opts,
                          int32_t *out_item, float *out_score) {
  unsigned char *buf = NULL;
  scorer_topk_opts o = {0};
  if (opts) o = *opts;

  TRY(scorer_topk_check(in, k, &o, out_item, out_score));
  if (in->n_users == 0) return SR_OK;

  int threads = o.threads;
#ifdef _OPENMP
  if (threads == 0) threads = omp_get_max_threads();
#else
  threads = 1;
#endif
  int64_t ub = o.user_block ? o.user_block : SCORER_TOPK_USER_BLOCK;
  int64_t per_thread = (in->n_users + threads - 1) / threads;
  if (ub > per_thread) ub = per_thread; /* few users: still one block per thread */
  if (ub > INT_MAX) ub = INT_MAX;
  int64_t ib = o.item_block ? o.item_block : SCORER_TOPK_ITEM_BLOCK;
  if (ib > in->n_items) ib = in->n_items > 0 ? in->n_items : 1;
  if (ib > INT_MAX) ib = INT_MAX;
  int64_t n_blocks = (in->n_users + ub - 1) / ub;
  if (threads > n_blocks) threads = (int)n_blocks;

  int64_t max_seen = 0;
  for (int64_t u0 = 0; in->seen_offset && u0 < in->n_users; u0 += ub) {
    int64_t u1 = u0 + ub < in->n_users ? u0 + ub : in->n_users;
    int64_t n = in->seen_offset[u1] - in->seen_offset[u0];
    if (n > max_seen) max_seen = n;
  }

  if (ub > INT64_MAX / 8 / ib)
    return sr_error(SR_EINVAL, "top-k: blocks of %lld users x %lld items are too large",
                    (long long)ub, (long long)ib);
  /* Twice k: each compaction then frees about k slots and the filter catches up with the
   * k-th best after the number of items seen doubles (bench/bench_topk.c measures). A buffer
   * of n_items + 1 never fills, so it never needs compacting. */
  int32_t k_sel = (int64_t)k < in->n_items ? k : (int32_t)in->n_items;
  int64_t cap64 = 2 * (int64_t)k_sel + 32;
  int32_t cap = (int32_t)(cap64 < in->n_items + 1 ? cap64 : in->n_items + 1);
  size_t sz_score = topk_round_up((size_t)ub * (size_t)ib * sizeof(float));
  size_t sz_cand_score = topk_round_up((size_t)ub * (size_t)cap * sizeof(float));
  size_t sz_cand_item = topk_round_up((size_t)ub * (size_t)cap * sizeof(int32_t));
  size_t sz_small = topk_round_up((size_t)ub * sizeof(float)); /* cand_n, filter, margin */
  size_t sz_tmp = topk_round_up((size_t)cap * sizeof(float));
  size_t sz_bucket = topk_round_up((size_t)cap);
  size_t sz_begin = topk_round_up((size_t)(ub + 1) * sizeof(int64_t));
  size_t sz_pos = topk_round_up((size_t)ub * sizeof(int64_t));
  size_t sz_seen = topk_round_up((size_t)max_seen * sizeof(int32_t));
  size_t sz_thread = sz_score + sz_cand_score + sz_cand_item + 3 * sz_small + sz_tmp +
                     sz_bucket + sz_begin + sz_pos + sz_seen;
  TRY(sr_alloc(&buf, (size_t)threads, sz_thread, "top-k scratch"));

  double item_norm_max = 0;
  for (int64_t i = 1; i <= in->n_items; i++) {
    double nrm = topk_norm(in->items + i * in->d, in->d);
    if (nrm > item_norm_max) item_norm_max = nrm;
  }

  topk_plan pl = {.in = in, .k = k, .k_sel = k_sel, .cap = cap, .gemm_only = o.gemm_only,
                  .user_block = ub, .item_block = ib, .item_norm_max = item_norm_max,
                  .out_item = out_item, .out_score = out_score};
  int blas_was = topk_blas_threads_set_one();

#ifdef _OPENMP
#pragma omp parallel num_threads(threads)
#endif
  {
    int t = 0;
#ifdef _OPENMP
    t = omp_get_thread_num();
#endif
    unsigned char *p = buf + (size_t)t * sz_thread;
    topk_scratch sc;
    sc.score = (float *)(void *)p;
    p += sz_score;
    sc.cand_score = (float *)(void *)p;
    p += sz_cand_score;
    sc.cand_item = (int32_t *)(void *)p;
    p += sz_cand_item;
    sc.cand_n = (int32_t *)(void *)p;
    p += sz_small;
    sc.filter = (float *)(void *)p;
    p += sz_small;
    sc.margin = (float *)(void *)p;
    p += sz_small;
    sc.select_tmp = (float *)(void *)p;
    p += sz_tmp;
    sc.bucket = p;
    p += sz_bucket;
    sc.seen_begin = (int64_t *)(void *)p;
    p += sz_begin;
    sc.seen_pos = (int64_t *)(void *)p;
    p += sz_pos;
    sc.seen = (int32_t *)(void *)p;
    /* Dynamic: blocks cost about the same, but the other helpers on a shared machine do not. */
#ifdef _OPENMP
#pragma omp for schedule(dynamic, 1)
#endif
    for (int64_t b = 0; b < n_blocks; b++) topk_run_block(&pl, b * ub, &sc);
  }

  topk_blas_threads_restore(blas_was);
  sr_free(buf);
  return SR_OK;
}
