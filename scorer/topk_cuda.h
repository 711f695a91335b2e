/* The exact top-k of topk.h on a CUDA GPU: same contract, same result to the bit. */
#ifndef SR_SCORER_TOPK_CUDA_H
#define SR_SCORER_TOPK_CUDA_H

#include <stdint.h>

#include "core/status.h"
#include "scorer/topk.h"

/* A GPU's copy of one item table (and its banned items) with the buffers of the last calls,
 * so that a job scoring its users in rounds uploads the table once. */
typedef struct scorer_topk_cuda scorer_topk_cuda;

/* Uploads items [n_items + 1, d] and banned [n_items + 1] (or NULL) to CUDA device `gpu`.
 * The caller keeps both host arrays, unchanged, until close: runs are checked against them.
 * The table's values are checked here, once (scorer_topk_check_items), not on every run.
 * SR_EINVAL when no GPU is visible or `gpu` is not one or the table has a NaN, an infinity or a
 * value beyond 2^50, SR_ENOMEM when device memory runs out,
 * SR_EINTERNAL for a CUDA / cuBLAS failure, SR_ENOTBUILT in a build without CUDA. */
sr_status scorer_topk_cuda_open(scorer_topk_cuda **out, int gpu, const float *items,
                                int64_t n_items, int64_t d, const uint8_t *banned);

/* scorer_topk_run on the context's GPU: the same inputs (host arrays; in->items, n_items, d
 * and banned must be the ones opened, else SR_EINVAL), the same checks (the item table's at
 * open) and status codes, and out_item / out_score equal to scorer_topk_run's bit for bit
 * (the result is defined by scorer_topk_score, not by the filter's bf16 GEMM).
 * opts->user_block / item_block set the GPU's blocks (0: its own defaults, much larger than
 * the CPU's); opts->threads is ignored; opts->gemm_only runs only the GEMMs (and the bf16
 * rounding of the users). Blocks the calling thread until done. */
sr_status scorer_topk_cuda_run(scorer_topk_cuda *t, const scorer_topk_input *in, int k,
                               const scorer_topk_opts *opts,
                               int32_t *out_item,  /* [n_users, k] */
                               float *out_score);  /* [n_users, k] */

void scorer_topk_cuda_close(scorer_topk_cuda *t); /* NULL allowed */

/* One call: open on the current device, run, close (tests and one-off callers). */
sr_status scorer_topk_run_cuda(const scorer_topk_input *in, int k, const scorer_topk_opts *opts,
                               int32_t *out_item, float *out_score);

#endif
