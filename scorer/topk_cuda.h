/* The exact top-k of topk.h on a CUDA GPU: same contract, same result to the bit. */
#ifndef SR_SCORER_TOPK_CUDA_H
#define SR_SCORER_TOPK_CUDA_H

#include <stdint.h>

#include "core/status.h"
#include "scorer/topk.h"

/* scorer_topk_run on the current CUDA device: the same inputs (host arrays), the same checks
 * and status codes, and out_item / out_score equal to scorer_topk_run's bit for bit (the
 * result is defined by scorer_topk_score, not by the sgemm). opts->user_block / item_block
 * set the GPU's blocks (0: its own defaults, much larger than the CPU's); opts->threads is
 * ignored; opts->gemm_only runs only the sgemms. Additionally SR_EINVAL when no GPU is
 * visible, SR_ENOMEM when device memory runs out, SR_EINTERNAL for a CUDA / cuBLAS failure.
 * Uploads the item table once per call; blocks the calling thread until done. */
sr_status scorer_topk_run_cuda(const scorer_topk_input *in, int k, const scorer_topk_opts *opts,
                               int32_t *out_item,  /* [n_users, k] */
                               float *out_score);  /* [n_users, k] */

#endif
