/* The GPU half of the gradient reducer in a build without CUDA: no GPU can be asked for
 * (sr_device_count is 0), so each entry only says what is missing. */
#include "comm/grad_reduce_device.h"

static sr_status no_cuda(void) {
  return sr_error(SR_ENOTBUILT, "a GPU gradient all-reduce needs CUDA and NCCL, but seqrec was "
                  "built without CUDA");
}

int sr_grad_reduce_nccl_built(void) { return 0; }

sr_status sr_grad_reduce_device_id(int gpu, int64_t *id) {
  (void)gpu;
  *id = -1;
  return no_cuda();
}

sr_status sr_grad_reduce_device_open(int gpu, sr_grad_reduce_device **out) {
  (void)gpu;
  *out = NULL;
  return no_cuda();
}

sr_status sr_grad_reduce_nccl_id(unsigned char id[SR_NCCL_ID_BYTES]) {
  (void)id;
  return no_cuda();
}

sr_status sr_grad_reduce_nccl_open(sr_grad_reduce_device *d, const unsigned char *id, int rank,
                                   int size) {
  (void)d, (void)id, (void)rank, (void)size;
  return no_cuda();
}

sr_status sr_grad_reduce_nccl_sum(sr_grad_reduce_device *d, float *buf, size_t n) {
  (void)d, (void)buf, (void)n;
  return no_cuda();
}

sr_status sr_grad_reduce_stage_down(sr_grad_reduce_device *d, const float *buf, size_t n,
                                    float **host) {
  (void)d, (void)buf, (void)n;
  *host = NULL;
  return no_cuda();
}

sr_status sr_grad_reduce_stage_up(sr_grad_reduce_device *d, float *buf, size_t n) {
  (void)d, (void)buf, (void)n;
  return no_cuda();
}

void sr_grad_reduce_device_close(sr_grad_reduce_device *d) { (void)d; }
