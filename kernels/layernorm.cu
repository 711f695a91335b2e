/* Layer norm over the last axis, the CUDA twin of layernorm.c: one warp per row (two passes:
 * mean, then the centred variance, as the CPU), and dw/db through cuda.h's column sums
 * (deterministic without atomics, parallel over rows). */
#include "kernels/cuda.h"

__device__ __forceinline__ float warp_sum(float v) {
  for (int o = 16; o > 0; o /= 2) v += __shfl_xor_sync(0xffffffffu, v, o);
  return v;
}

__global__ void layernorm_forward_kernel(float *out, float *mean, float *rstd, const float *x,
                                         const float *w, const float *b, int N, int C,
                                         float eps) {
  const int64_t i = blockIdx.x * (int64_t)(blockDim.x / 32) + threadIdx.x / 32;
  const int lane = threadIdx.x % 32;
  if (i >= N) return;
  const float *xi = x + i * C;
  float m = 0.0f;
  for (int c = lane; c < C; c += 32) m += xi[c];
  m = warp_sum(m) / (float)C;
  float var = 0.0f;
  for (int c = lane; c < C; c += 32) {
    const float d = xi[c] - m;
    var += d * d;
  }
  var = warp_sum(var) / (float)C;
  const float s = 1.0f / sqrtf(var + eps);
  float *oi = out + i * C;
  for (int c = lane; c < C; c += 32) oi[c] = (xi[c] - m) * s * w[c] + b[c];
  if (lane == 0) {
    mean[i] = m;
    rstd[i] = s;
  }
}

/* dx_c += rstd * (g_c - mean(g) - xhat_c * mean(g . xhat)), g = dout * w. */
__global__ void layernorm_dx_kernel(float *dx, const float *dout, const float *x,
                                    const float *w, const float *mean, const float *rstd, int N,
                                    int C) {
  const int64_t i = blockIdx.x * (int64_t)(blockDim.x / 32) + threadIdx.x / 32;
  const int lane = threadIdx.x % 32;
  if (i >= N) return;
  const float *xi = x + i * C, *di = dout + i * C;
  const float m = mean[i], s = rstd[i];
  float g_mean = 0.0f, gx_mean = 0.0f;
  for (int c = lane; c < C; c += 32) {
    const float g = di[c] * w[c];
    g_mean += g;
    gx_mean += g * (xi[c] - m) * s;
  }
  g_mean = warp_sum(g_mean) / (float)C;
  gx_mean = warp_sum(gx_mean) / (float)C;
  float *dxi = dx + i * C;
  for (int c = lane; c < C; c += 32) {
    const float xhat = (xi[c] - m) * s;
    dxi[c] += s * (di[c] * w[c] - g_mean - xhat * gx_mean);
  }
}

/* dw's and db's column sums, chunk by chunk (cuda.h's cuda_colsum_chunk): dout * xhat, dout. */
struct layernorm_dwdb_term {
  const float *dout, *x, *mean, *rstd;
  int C;
  __device__ void operator()(int64_t i, int c, float *t) const {
    const float d = dout[i * C + c];
    t[0] = d * (x[i * C + c] - mean[i]) * rstd[i];
    t[1] = d;
  }
};
__global__ void layernorm_dwdb_kernel(const sr_cuda_colsum p, const float *dout, const float *x,
                                      const float *mean, const float *rstd, int N, int C) {
  cuda_colsum_chunk<2>(p, N, layernorm_dwdb_term{dout, x, mean, rstd, C});
}

sr_status kernel_layernorm_forward_cuda(const sr_kernels *k, float *out, float *mean,
                                        float *rstd, const float *x, const float *w,
                                        const float *b, int N, int C, float eps) {
  if (N < 0 || C <= 0 || !(eps > 0.0f))
    return sr_error(SR_EINVAL, "layernorm_forward: bad shape N=%d C=%d or eps=%g", N, C,
                    (double)eps);
  if (N == 0) return SR_OK;
  layernorm_forward_kernel<<<(N + 7) / 8, 256, 0, cuda_stream(k)>>>(out, mean, rstd, x, w, b, N,
                                                                    C, eps);
  LAUNCH_TRY();
  return kernel_cuda_bf16_round(k, out, (int64_t)N * C);
}

sr_status kernel_layernorm_backward_cuda(const sr_kernels *k, float *dx, float *dw, float *db,
                                         const float *dout, const float *x, const float *w,
                                         const float *mean, const float *rstd, int N, int C) {
  if (N < 0 || C <= 0)
    return sr_error(SR_EINVAL, "layernorm_backward: bad shape N=%d C=%d", N, C);
  if (N == 0) return SR_OK;
  if (dx) {
    layernorm_dx_kernel<<<(N + 7) / 8, 256, 0, cuda_stream(k)>>>(dx, dout, x, w, mean, rstd, N,
                                                                 C);
    LAUNCH_TRY();
    TRY(kernel_cuda_bf16_round(k, dx, (int64_t)N * C));
  }
  if (dw || db) {
    sr_cuda_colsum p;
    TRY(kernel_cuda_colsum_plan(k, &p, N, C, 2));
    layernorm_dwdb_kernel<<<kernel_cuda_colsum_grid(&p), SR_CUDA_COLSUM_THREADS, 0,
                            cuda_stream(k)>>>(p, dout, x, mean, rstd, N, C);
    LAUNCH_TRY();
    TRY(kernel_cuda_colsum_finish(k, &p, dw, db));
  }
  return SR_OK;
}
