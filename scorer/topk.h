/* Exact top-k over user x item dot products on the CPU: the selection at the heart of
 * `seqrec score` and of full-ranking validation. It takes user vectors and the item table as
 * given; computing the user vectors (the model) and writing recs.h5 live elsewhere. */
#ifndef SR_SCORER_TOPK_H
#define SR_SCORER_TOPK_H

#include <stdint.h>

#include "core/status.h"

/* What to rank. Items are 1..n_items; row 0 of `items` is padding and is never recommended. */
typedef struct {
  const float *users;         /* [n_users, d], row-major */
  int64_t n_users;            /* may be 0 */
  const float *items;         /* [n_items + 1, d], row-major; row 0 is padding */
  int64_t n_items;            /* may be 0; at most INT32_MAX - 1 (ids are int32) */
  int64_t d;                  /* > 0 */
  /* Items each user has already seen, excluded from that user's list (score.exclude_seen).
   * User u's are seen_item[seen_offset[u] .. seen_offset[u+1]): unsorted, repeats allowed,
   * 0 (padding) allowed and ignored. seen_offset[0] need not be 0 (a rank's shard of a global
   * CSR). NULL seen_offset: nothing is excluded (score.exclude_seen: false). */
  const int64_t *seen_offset; /* [n_users + 1] or NULL */
  const int32_t *seen_item;   /* [seen_offset[n_users]] */
  /* Items nobody may be recommended (e.g. items new since training): nonzero = banned. */
  const uint8_t *banned;      /* [n_items + 1] or NULL */
} scorer_topk_input;

/* How to run it. Zero-initialise for the defaults; none of these changes the result. */
typedef struct {
  int64_t user_block; /* users per sgemm; 0: SCORER_TOPK_USER_BLOCK (smaller when few users) */
  int64_t item_block; /* items per sgemm; 0: SCORER_TOPK_ITEM_BLOCK */
  int threads;        /* OpenMP threads over user blocks; 0: omp_get_max_threads() */
  int gemm_only;      /* benchmarks only: run the same sgemms into the scratch, select nothing
                       * and leave the outputs untouched (bench/bench_topk.c's baseline) */
} scorer_topk_opts;

/* 256 users x 256 items of float scores is 256 KiB: the scratch a thread scans right after
 * sgemm wrote it stays in a 512 KiB L2, and 256 users share each packing of an item block.
 * On the 2-core EPYC dev box 128x512 .. 512x256 were within noise, 64 users per block ~20%
 * slower (bench/bench_topk.c --user-block/--item-block). */
#define SCORER_TOPK_USER_BLOCK 256
#define SCORER_TOPK_ITEM_BLOCK 256

/* The score of an item for a user, as the top-k reports it: the dot product accumulated in
 * double in a fixed order and rounded to float (within one rounding of the exact value). It does
 * not depend on the BLAS, the blocking, the threads or the machine; it is the definition the
 * tests and any other scorer (e.g. a GPU one) compare against. */
float scorer_topk_score(const float *user, const float *item, int64_t d);

/* The checks scorer_topk_run makes before it writes anything (listed below it), for any other
 * scorer of the same contract (e.g. the GPU one): scorer_topk_check_users (everything but the
 * item table's values) and then, when there are users, scorer_topk_check_items. A scorer that
 * keeps one item table across calls checks the table once and each call's users. */
sr_status scorer_topk_check(const scorer_topk_input *in, int k, const scorer_topk_opts *opts,
                            const int32_t *out_item, const float *out_score);
sr_status scorer_topk_check_users(const scorer_topk_input *in, int k, const scorer_topk_opts *opts,
                                  const int32_t *out_item, const float *out_score);
sr_status scorer_topk_check_items(const float *items, int64_t n_items, int64_t d);
/* How far an fp32 sgemm score of `user` may be from scorer_topk_score, for items whose norms
 * are at most item_norm_max: 2 (d+2) 2^-24 ||user|| item_norm_max, plus a term for underflow. */
float scorer_topk_margin(const float *user, int64_t d, double item_norm_max);
/* The same bound for a product of the user and item rows rounded to bf16 (round to nearest),
 * accumulated in fp32 in any order, as tensor cores do (topk_cuda.cu):
 * (2^-7 + 2^-15 + 4 (d+2) 2^-24) ||user|| item_norm_max, plus a term for flushed subnormals. */
float scorer_topk_margin_bf16(const float *user, int64_t d, double item_norm_max);

/* For every user u, the k items with the highest scorer_topk_score(users[u], items[i]) over
 * i in 1..n_items, not seen by u and not banned:
 *   out_item[u*k + j], out_score[u*k + j] for j = 0..k-1, best first: scores descending,
 *   equal scores in increasing item id.
 * When u has fewer than k eligible items, the rest of the row is item 0 with score -INFINITY
 * (a real score is always finite, so -INFINITY means "no item here").
 *
 * Exact and deterministic: the result does not depend on `opts` (block sizes, threads), on the
 * BLAS or its threads. sgemm alone would not give that: OpenBLAS rounds the same dot product
 * differently in different tile positions, so a near-tie could flip with the block size. So
 * sgemm scores only filter. Each user keeps the items whose sgemm score is above a running
 * threshold in a buffer of about 2k; when it fills, items more than two rounding margins
 * (margin = 2 (d+2) 2^-24 ||u|| max||e||, a proven bound on |sgemm - exact|) below the k-th best
 * are dropped, as no ordering of the roundings can bring them back. At the end the survivors,
 * about k per user, are rescored with scorer_topk_score and sorted.
 *
 * Work: one cblas_sgemm per (user block x item block) into a per-thread scratch; the scratch is
 * never users x items. Memory: one allocation of about threads * (user_block * (item_block +
 * (2k + 32) * 2) * 4 bytes + the seen items of one user block). While it runs, OpenBLAS is set to
 * one thread (the parallelism is over user blocks) and restored afterwards: do not call BLAS
 * from other threads meanwhile.
 *
 * SR_EINVAL (nothing written) for k < 1, d < 1, negative sizes, NULL arrays that sizes need, user
 * or item vectors with NaN, infinities or values beyond 2^50 (~1e15; a broken model), decreasing
 * seen_offset, seen items outside 0..n_items; SR_ENOMEM when the scratch cannot be allocated. */
sr_status scorer_topk_run(const scorer_topk_input *in, int k, const scorer_topk_opts *opts,
                          int32_t *out_item,  /* [n_users, k] */
                          float *out_score);  /* [n_users, k] */

#endif
