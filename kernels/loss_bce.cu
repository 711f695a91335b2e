/* Binary cross-entropy with one sampled negative per position (the SASRec paper), fused with
 * its gradient: the CUDA twin of loss_bce.c. No scratch, no float atomics:
 *   - bce_rows_kernel: a fixed grid (BCE_BLOCKS x 8 warps); warp w takes rows w, w + 1024, ...
 *     in order: the two scores (warp_dot: lanes over columns, a fixed butterfly, lane 0's value
 *     broadcast), the row's loss in double as the CPU, and dhidden += g_pos wy (+ g_neg wn);
 *     each warp sums its losses in order, each block its 8 warps in order into ctx->partials;
 *   - bce_sum_kernel (one thread) adds the BCE_BLOCKS partials in order: the same bits on every
 *     run;
 *   - bce_dwte_kernel: the scatter into dwte by ownership. Warp b (one per block, BCE_OWNERS
 *     of them) owns the items i with i % BCE_OWNERS == b and walks ALL rows in row order; for
 *     a row whose target (or negative) it owns it recomputes that score with the same warp_dot
 *     (so the same g as the rows kernel) and adds g * hidden[r] into the item's row (lanes over
 *     columns): every element of dwte receives its terms in the CPU's order (row order, target
 *     before negative), from exactly one warp.
 * The scalars (argument check, partial sums) live in ctx->partials. */
#include <math.h>

#include "kernels/cuda.h"

#define BCE_BLOCKS 128 /* fixed: the loss's summation order does not depend on the GPU */
#define BCE_WARPS 8
#define BCE_OWNERS 512

typedef struct {
  unsigned long long bad_target; /* lowest bad row; ~0: none */
  unsigned long long count;
  unsigned long long bad_negative;
  double total;
  double partial[BCE_BLOCKS];
} bce_state; /* fits ctx->partials (SR_CUDA_NORM_BLOCKS doubles) */

static_assert(sizeof(bce_state) <= SR_CUDA_NORM_BLOCKS * sizeof(double), "bce_state too big");

__global__ void bce_check_kernel(bce_state *st, const int32_t *targets,
                                 const int32_t *negatives, int64_t N, int V) {
  unsigned long long n = 0;
  for (int64_t r = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; r < N;
       r += (int64_t)gridDim.x * blockDim.x) {
    const int32_t y = targets[r], g = negatives[r];
    if (y < 0 || y >= V) atomicMin(&st->bad_target, (unsigned long long)r);
    if (g < 0 || g >= V) atomicMin(&st->bad_negative, (unsigned long long)r);
    n += y != 0;
  }
  if (n) atomicAdd(&st->count, n);
}

/* a . b over C floats by one warp; every lane gets lane 0's value (the same bits everywhere). */
__device__ __forceinline__ float bce_warp_dot(const float *a, const float *b, int C) {
  const int lane = threadIdx.x & 31;
  float s = 0.0f;
  for (int c = lane; c < C; c += 32) s += a[c] * b[c];
  for (int o = 16; o > 0; o >>= 1) s += __shfl_xor_sync(0xffffffffu, s, o);
  return __shfl_sync(0xffffffffu, s, 0);
}

/* log(1 + e^x) without overflow; -log sigmoid(x) = softplus(-x). As loss_bce.c. */
__device__ __forceinline__ double bce_softplus(double x) {
  return (x > 0.0 ? x : 0.0) + log1p(exp(-fabs(x)));
}
__device__ __forceinline__ double bce_sigmoid(double x) {
  return x >= 0.0 ? 1.0 / (1.0 + exp(-x)) : exp(x) / (1.0 + exp(x));
}

__global__ void __launch_bounds__(BCE_WARPS * 32)
    bce_rows_kernel(bce_state *st, float *dhidden, const float *hidden, const int32_t *targets,
                    const int32_t *negatives, const float *wte, int64_t N, int C, double norm) {
  __shared__ double warp_sum[BCE_WARPS];
  const int warp = threadIdx.x >> 5, lane = threadIdx.x & 31;
  const int64_t stride = (int64_t)BCE_BLOCKS * BCE_WARPS;
  double sum = 0.0;
  for (int64_t r = (int64_t)blockIdx.x * BCE_WARPS + warp; r < N; r += stride) {
    const int32_t y = targets[r], n = negatives[r];
    if (y == 0) continue;
    const float *hr = hidden + r * C;
    const float *wy = wte + (int64_t)y * C, *wn = wte + (int64_t)n * C;
    const float s_pos = bce_warp_dot(hr, wy, C);
    const float s_neg = n != 0 ? bce_warp_dot(hr, wn, C) : 0.0f;
    sum += bce_softplus(-(double)s_pos) + (n != 0 ? bce_softplus((double)s_neg) : 0.0);
    if (dhidden) {
      const float g_pos = (float)(-bce_sigmoid(-(double)s_pos) / norm);
      const float g_neg = n != 0 ? (float)(bce_sigmoid((double)s_neg) / norm) : 0.0f;
      float *dh = dhidden + r * C;
      for (int c = lane; c < C; c += 32) {
        float v = dh[c] + g_pos * wy[c];
        if (n != 0) v += g_neg * wn[c];
        dh[c] = v;
      }
    }
  }
  if (lane == 0) warp_sum[warp] = sum;
  __syncthreads();
  if (threadIdx.x == 0) {
    double t = 0.0;
    for (int w = 0; w < BCE_WARPS; w++) t += warp_sum[w];
    st->partial[blockIdx.x] = t;
  }
}

__global__ void bce_sum_kernel(bce_state *st) {
  double t = 0.0;
  for (int b = 0; b < BCE_BLOCKS; b++) t += st->partial[b];
  st->total = t;
}

/* One warp per block; block b owns items i with i % BCE_OWNERS == b (never item 0: a target or
 * negative of 0 sends nothing). The rows are walked in order, BCE_SPAN at a time: lane l loads
 * rows l, l + 32, ... of the span, so those loads are in flight together. */
#define BCE_SPAN 256
__global__ void bce_dwte_kernel(float *dwte, const float *hidden, const int32_t *targets,
                                const int32_t *negatives, const float *wte, int64_t N, int C,
                                double norm) {
  const int lane = threadIdx.x;
  const int32_t owner = (int32_t)blockIdx.x;
  for (int64_t base = 0; base < N; base += BCE_SPAN) {
    int32_t ys[BCE_SPAN / 32], ns[BCE_SPAN / 32];
#pragma unroll
    for (int k = 0; k < BCE_SPAN / 32; k++) {
      const int64_t r = base + k * 32 + lane;
      ys[k] = r < N ? targets[r] : 0;
      ns[k] = r < N ? negatives[r] : 0;
    }
#pragma unroll
    for (int k = 0; k < BCE_SPAN / 32; k++) {
      const int own = ys[k] != 0 && (ys[k] % BCE_OWNERS == owner ||
                                     (ns[k] != 0 && ns[k] % BCE_OWNERS == owner));
      unsigned mask = __ballot_sync(0xffffffffu, own);
      while (mask) {
        const int l = __ffs(mask) - 1;
        mask &= mask - 1u;
        const int64_t row = base + k * 32 + l;
        const int32_t y = __shfl_sync(0xffffffffu, ys[k], l);
        const int32_t n = __shfl_sync(0xffffffffu, ns[k], l);
        const float *hr = hidden + row * C;
        if (y % BCE_OWNERS == owner) {
          const float *wy = wte + (int64_t)y * C;
          const float g_pos = (float)(-bce_sigmoid(-(double)bce_warp_dot(hr, wy, C)) / norm);
          float *gy = dwte + (int64_t)y * C;
          for (int c = lane; c < C; c += 32) gy[c] += g_pos * hr[c];
        }
        if (n != 0 && n % BCE_OWNERS == owner) {
          const float *wn = wte + (int64_t)n * C;
          const float g_neg = (float)(bce_sigmoid((double)bce_warp_dot(hr, wn, C)) / norm);
          float *gn = dwte + (int64_t)n * C;
          /* y == n: the same warp already added the target's term above (the CPU's order). */
          __syncwarp();
          for (int c = lane; c < C; c += 32) gn[c] += g_neg * hr[c];
        }
        __syncwarp();
      }
    }
  }
}

sr_status kernel_loss_bce_cuda(const sr_kernels *k, double *loss, int64_t *n_targets,
                               float *dhidden, float *dwte, const float *hidden,
                               const int32_t *targets, const int32_t *negatives,
                               const float *wte, int N, int C, int V, double denom) {
  if (N < 0 || C <= 0 || V < 2)
    return sr_error(SR_EINVAL, "loss_bce: bad shape N=%d C=%d V=%d", N, C, V);
  if (N == 0) {
    *loss = 0.0;
    if (n_targets) *n_targets = 0;
    return SR_OK;
  }
  sr_cuda_ctx *ctx = cuda_ctx(k);
  cudaStream_t s = ctx->stream;
  bce_state *st = (bce_state *)ctx->partials;
  CUDA_TRY(cudaMemsetAsync(st, 0, sizeof *st, s));
  CUDA_TRY(cudaMemsetAsync(&st->bad_target, 0xff, sizeof st->bad_target, s));
  CUDA_TRY(cudaMemsetAsync(&st->bad_negative, 0xff, sizeof st->bad_negative, s));
  bce_check_kernel<<<cuda_blocks(N, 256), 256, 0, s>>>(st, targets, negatives, N, V);
  LAUNCH_TRY();
  unsigned long long head[3];
  CUDA_TRY(cudaMemcpyAsync(head, st, sizeof head, cudaMemcpyDeviceToHost, s));
  CUDA_TRY(cudaStreamSynchronize(s));
  if (head[0] != ~0ull) {
    int32_t y = 0;
    CUDA_TRY(cudaMemcpy(&y, targets + head[0], sizeof y, cudaMemcpyDeviceToHost));
    return sr_error(SR_EINVAL, "loss_bce: target %d at row %lld is outside 0..%d", y,
                    (long long)head[0], V - 1);
  }
  if (head[2] != ~0ull) {
    int32_t g = 0;
    CUDA_TRY(cudaMemcpy(&g, negatives + head[2], sizeof g, cudaMemcpyDeviceToHost));
    return sr_error(SR_EINVAL, "loss_bce: negative %d at row %lld is outside 0..%d", g,
                    (long long)head[2], V - 1);
  }
  const int64_t count = (int64_t)head[1];
  *loss = 0.0;
  if (n_targets) *n_targets = count;
  if (count == 0) return SR_OK;

  const double norm = denom > 0.0 ? denom : (double)count;
  bce_rows_kernel<<<BCE_BLOCKS, BCE_WARPS * 32, 0, s>>>(st, dhidden, hidden, targets, negatives,
                                                         wte, N, C, norm);
  LAUNCH_TRY();
  bce_sum_kernel<<<1, 1, 0, s>>>(st);
  LAUNCH_TRY();
  if (dwte) {
    bce_dwte_kernel<<<BCE_OWNERS, 32, 0, s>>>(dwte, hidden, targets, negatives, wte, N, C, norm);
    LAUNCH_TRY();
  }
  double total = 0.0;
  CUDA_TRY(cudaMemcpyAsync(&total, &st->total, sizeof total, cudaMemcpyDeviceToHost, s));
  CUDA_TRY(cudaStreamSynchronize(s));
  *loss = total / norm;
  return kernel_cuda_bf16_round(k, dhidden, (int64_t)N * C);
}
