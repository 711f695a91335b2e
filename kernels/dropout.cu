/* Dropout and the residual add with its branch's dropout fused: the CUDA twin of dropout.c.
 * The mask is the same Philox draw as the CPU's (cuda_dropout_factor in cuda.h), element by
 * element, so both backends drop the same elements. */
#include "kernels/cuda.h"

/* out[i] = (a ? a[i] : 0) + b[i] * factor(i); factor 1 without dropout. The fused form of every
 * op here, as dropout_apply in dropout.c. out may equal a or b. */
__global__ void dropout_apply_kernel(float *out, const float *a, const float *b, int64_t n,
                                     sr_dropout d, int active, float scale) {
  for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < n;
       i += (int64_t)gridDim.x * blockDim.x) {
    const float f = active ? cuda_dropout_factor(d, scale, (uint64_t)i) : 1.0f;
    const float y = active ? b[i] * f : b[i];
    out[i] = a ? a[i] + y : y;
  }
}

static sr_status dropout_apply(const sr_kernels *k, float *out, const float *a, const float *b,
                               int64_t n, const sr_dropout *drop) {
  if (n == 0) return SR_OK;
  const int active = kernel_dropout_active(drop);
  const sr_dropout d = active ? *drop : sr_dropout{0.0f, 0, 0, 0};
  const float scale = active ? 1.0f / (1.0f - d.p) : 1.0f;
  dropout_apply_kernel<<<cuda_blocks(n, 256), 256, 0, cuda_stream(k)>>>(out, a, b, n, d, active,
                                                                        scale);
  LAUNCH_TRY();
  return SR_OK;
}

sr_status kernel_dropout_forward_cuda(const sr_kernels *k, float *out, const float *x, int64_t n,
                                      const sr_dropout *drop) {
  TRY(kernel_dropout_check("dropout_forward", drop, n));
  if (kernel_dropout_active(drop) || out != x) TRY(dropout_apply(k, out, NULL, x, n, drop));
  return kernel_cuda_bf16_round(k, out, n);
}

sr_status kernel_dropout_backward_cuda(const sr_kernels *k, float *dx, const float *dout,
                                       int64_t n, const sr_dropout *drop) {
  TRY(kernel_dropout_check("dropout_backward", drop, n));
  TRY(dropout_apply(k, dx, dx, dout, n, drop));
  return kernel_cuda_bf16_round(k, dx, n);
}

sr_status kernel_residual_forward_cuda(const sr_kernels *k, float *out, const float *x,
                                       const float *y, int64_t n, const sr_dropout *drop) {
  TRY(kernel_dropout_check("residual_forward", drop, n));
  TRY(dropout_apply(k, out, x, y, n, drop));
  return kernel_cuda_bf16_round(k, out, n);
}

sr_status kernel_residual_backward_cuda(const sr_kernels *k, float *dx, float *dy,
                                        const float *dout, int64_t n, const sr_dropout *drop) {
  TRY(kernel_dropout_check("residual_backward", drop, n));
  if (dx) TRY(dropout_apply(k, dx, dx, dout, n, NULL));
  TRY(kernel_cuda_bf16_round(k, dx, n));
  if (dy) TRY(kernel_dropout_backward_cuda(k, dy, dout, n, drop)); /* rounds dy */
  return SR_OK;
}
