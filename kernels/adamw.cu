/* The optimizer's two passes over the flat gradient buffer, the CUDA twin of adamw.c: the global
 * L2 norm and the AdamW update (one kernel over the whole buffer). */
#include <math.h>

#include "kernels/cuda.h"

#define NORM_THREADS 256

/* Fixed-order reduction in double: block b sums elements b*T+t, b*T+t + stride, ... per
 * thread (T threads, a fixed grid of SR_CUDA_NORM_BLOCKS), then a fixed tree in shared memory.
 * The same bits on every run; not the CPU's bits (a different, equally fixed, order). */
__global__ void norm_partial_kernel(double *partials, const float *g, int64_t n) {
  __shared__ double s[NORM_THREADS];
  double acc = 0.0;
  for (int64_t i = blockIdx.x * (int64_t)NORM_THREADS + threadIdx.x; i < n;
       i += (int64_t)SR_CUDA_NORM_BLOCKS * NORM_THREADS)
    acc += (double)g[i] * (double)g[i];
  s[threadIdx.x] = acc;
  __syncthreads();
  for (int half = NORM_THREADS / 2; half > 0; half /= 2) {
    if (threadIdx.x < half) s[threadIdx.x] += s[threadIdx.x + half];
    __syncthreads();
  }
  if (threadIdx.x == 0) partials[blockIdx.x] = s[0];
}

/* The partials in block order, one thread: 256 adds. */
__global__ void norm_final_kernel(double *partials) {
  double sum = 0.0;
  for (int b = 0; b < SR_CUDA_NORM_BLOCKS; b++) sum += partials[b];
  partials[0] = sum;
}

sr_status kernel_global_norm_cuda(const sr_kernels *k, double *norm, const float *g, int64_t n) {
  if (n < 0) return sr_error(SR_EINVAL, "global_norm: n=%lld", (long long)n);
  sr_cuda_ctx *ctx = cuda_ctx(k);
  norm_partial_kernel<<<SR_CUDA_NORM_BLOCKS, NORM_THREADS, 0, ctx->stream>>>(ctx->partials, g,
                                                                            n);
  LAUNCH_TRY();
  norm_final_kernel<<<1, 1, 0, ctx->stream>>>(ctx->partials);
  LAUNCH_TRY();
  double sum = 0.0;
  CUDA_TRY(cudaMemcpyAsync(&sum, ctx->partials, sizeof sum, cudaMemcpyDeviceToHost, ctx->stream));
  CUDA_TRY(cudaStreamSynchronize(ctx->stream));
  *norm = sqrt(sum);
  return SR_OK;
}

__global__ void adamw_kernel(float *param, float *m, float *v, const float *grad, int64_t n,
                             float b1, float b2, float lr, float wd, float scale, float eps,
                             float c1, float c2) {
  for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < n;
       i += (int64_t)gridDim.x * blockDim.x) {
    const float g = grad[i] * scale;
    const float mi = b1 * m[i] + (1.0f - b1) * g;
    const float vi = b2 * v[i] + (1.0f - b2) * g * g;
    m[i] = mi;
    v[i] = vi;
    /* Decoupled decay: shrinks the weight itself, never passes through the moments. */
    param[i] -= lr * ((mi * c1) / (sqrtf(vi * c2) + eps) + wd * param[i]);
  }
}

sr_status kernel_adamw_update_cuda(const sr_kernels *k, float *param, float *m, float *v,
                                   const float *grad, int64_t n, const sr_adamw *opt) {
  if (n < 0 || opt->step < 1 || !(opt->beta1 >= 0.0f && opt->beta1 < 1.0f) ||
      !(opt->beta2 >= 0.0f && opt->beta2 < 1.0f) || !(opt->eps > 0.0f))
    return sr_error(SR_EINVAL, "adamw_update: bad settings n=%lld step=%lld beta1=%g beta2=%g "
                    "eps=%g (need step >= 1, betas in [0, 1), eps > 0)", (long long)n,
                    (long long)opt->step, (double)opt->beta1, (double)opt->beta2,
                    (double)opt->eps);
  if (n == 0) return SR_OK;
  /* Bias corrections 1 - beta^t, computed once in double on the host, as the CPU does. */
  const float c1 = (float)(1.0 / (1.0 - pow((double)opt->beta1, (double)opt->step)));
  const float c2 = (float)(1.0 / (1.0 - pow((double)opt->beta2, (double)opt->step)));
  adamw_kernel<<<cuda_blocks(n, 256), 256, 0, cuda_stream(k)>>>(
      param, m, v, grad, n, opt->beta1, opt->beta2, opt->lr, opt->weight_decay, opt->grad_scale,
      opt->eps, c1, c2);
  LAUNCH_TRY();
  return SR_OK;
}
