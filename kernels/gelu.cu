/* GELU, exact form x * Phi(x) with Phi = 0.5 * erfc(-x / sqrt 2): the CUDA twin of gelu.c
 * (one grid-stride kernel each way; CUDA's erfcf, so the two agree to rounding). */
#include "kernels/cuda.h"

#define SR_INV_SQRT_2PI 0.39894228040143268f
#define SR_INV_SQRT_2 0.70710678118654752f

__device__ __forceinline__ float gelu_cdf(float x) { return 0.5f * erfcf(-x * SR_INV_SQRT_2); }

__global__ void gelu_forward_kernel(float *out, const float *x, int64_t n) {
  for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < n;
       i += (int64_t)gridDim.x * blockDim.x)
    out[i] = x[i] * gelu_cdf(x[i]);
}

/* d/dx x*Phi(x) = Phi(x) + x*phi(x). */
__global__ void gelu_backward_kernel(float *dx, const float *x, const float *dout, int64_t n) {
  for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < n;
       i += (int64_t)gridDim.x * blockDim.x) {
    const float xi = x[i];
    const float pdf = SR_INV_SQRT_2PI * expf(-0.5f * xi * xi);
    dx[i] += dout[i] * (gelu_cdf(xi) + xi * pdf);
  }
}

sr_status kernel_gelu_forward_cuda(const sr_kernels *k, float *out, const float *x, int64_t n) {
  if (n < 0) return sr_error(SR_EINVAL, "gelu_forward: n=%lld", (long long)n);
  if (n == 0) return SR_OK;
  gelu_forward_kernel<<<cuda_blocks(n, 256), 256, 0, cuda_stream(k)>>>(out, x, n);
  LAUNCH_TRY();
  return kernel_cuda_bf16_round(k, out, n);
}

sr_status kernel_gelu_backward_cuda(const sr_kernels *k, float *dx, const float *x,
                                    const float *dout, int64_t n) {
  if (n < 0) return sr_error(SR_EINVAL, "gelu_backward: n=%lld", (long long)n);
  if (n == 0) return SR_OK;
  gelu_backward_kernel<<<cuda_blocks(n, 256), 256, 0, cuda_stream(k)>>>(dx, x, dout, n);
  LAUNCH_TRY();
  return kernel_cuda_bf16_round(k, dx, n);
}
