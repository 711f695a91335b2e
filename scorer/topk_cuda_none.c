/* topk_cuda.h in a build without CUDA: every entry point says so. */
#include <stddef.h>

#include "scorer/topk_cuda.h"

static sr_status topk_cuda_not_built(void) {
  return sr_error(SR_ENOTBUILT, "top-k on the GPU: this seqrec was built without CUDA; set "
                  "runtime.device: cpu");
}

sr_status scorer_topk_cuda_open(scorer_topk_cuda **out, int gpu, const float *items,
                                int64_t n_items, int64_t d, const uint8_t *banned) {
  (void)gpu, (void)items, (void)n_items, (void)d, (void)banned;
  *out = NULL;
  return topk_cuda_not_built();
}

sr_status scorer_topk_cuda_run(scorer_topk_cuda *t, const scorer_topk_input *in, int k,
                               const scorer_topk_opts *opts, int32_t *out_item,
                               float *out_score) {
  (void)t, (void)in, (void)k, (void)opts, (void)out_item, (void)out_score;
  return topk_cuda_not_built();
}

void scorer_topk_cuda_close(scorer_topk_cuda *t) { (void)t; }

sr_status scorer_topk_run_cuda(const scorer_topk_input *in, int k, const scorer_topk_opts *opts,
                               int32_t *out_item, float *out_score) {
  (void)in, (void)k, (void)opts, (void)out_item, (void)out_score;
  return topk_cuda_not_built();
}
