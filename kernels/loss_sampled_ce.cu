/* Sampled softmax cross-entropy with the logQ correction, fused with its gradient: the CUDA
 * twin of loss_sampled_ce.c. The rows with a target are taken in blocks of at most block_rows,
 * in row order; the scratch has the CPU's layout (kernel_loss_sampled_ce_scratch_bytes_cpu):
 * rows [R] (int32), row loss [R] (double), dz [R, K+1]. Per block:
 *   1. sce_select_kernel (one CUDA block, cuda_rows_select) finds the block's rows, resuming
 *      at a cursor kept in ctx->partials;
 *   2. sce_rows_kernel (one CUDA block per row): each warp scores candidates (lanes over
 *      columns, a fixed butterfly, lane 0's value), corrected by logq; a left-out negative
 *      (0 or the target) is -inf; thread 0 takes the max and the double sum of exp in candidate
 *      order (the CPU's arithmetic), then dz = exp(z - lse) / denom, dz[0] -= 1/denom, and
 *      dhidden[r, c] += dz[j] * wte[cand_j, c] over j in order (threads over columns);
 *   3. sce_sum_kernel (one CUDA block) adds the row losses in a fixed order into a double total;
 *   4. sce_dwte_kernel: the scatter into dwte by ownership, no float atomics. Warp b (one per
 *      CUDA block, SCE_OWNERS of them) owns the items i with i % SCE_OWNERS == b and walks the
 *      block's rows in order and each row's candidates in order (positive, then negatives
 *      1..K), adding dz * hidden[r] into the rows it owns: every element of dwte gets its terms
 *      in the CPU's order, from one warp. A dz of 0 (left out) adds nothing, as on the CPU. */
#include <math.h>

#include "kernels/cuda.h"

#define SCE_THREADS 128
#define SCE_OWNERS 512

typedef struct {
  unsigned long long bad_target;   /* lowest bad row; ~0: none */
  unsigned long long count;
  unsigned long long bad_negative; /* lowest bad index into negatives [N, K]; ~0: none */
  unsigned long long next;         /* where the next block's search for rows starts */
  double total;                    /* row losses so far, in row order */
} sce_state; /* in ctx->partials */

__global__ void sce_check_kernel(sce_state *st, const int32_t *targets,
                                 const int32_t *negatives, int64_t N, int64_t NK, int V) {
  unsigned long long n = 0;
  for (int64_t r = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; r < N;
       r += (int64_t)gridDim.x * blockDim.x) {
    const int32_t y = targets[r];
    if (y < 0 || y >= V) atomicMin(&st->bad_target, (unsigned long long)r);
    n += y != 0;
  }
  if (n) atomicAdd(&st->count, n);
  for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < NK;
       i += (int64_t)gridDim.x * blockDim.x) {
    const int32_t g = negatives[i];
    if (g < 0 || g >= V) atomicMin(&st->bad_negative, (unsigned long long)i);
  }
}

/* rows[0..nb) = the next nb rows with a target from st->next on. */
__global__ void sce_select_kernel(sce_state *st, int32_t *rows, const int32_t *targets,
                                  int64_t N, int nb) {
  cuda_rows_select(&st->next, rows, targets, N, nb);
}

__device__ __forceinline__ float sce_warp_dot(const float *a, const float *b, int C) {
  const int lane = threadIdx.x & 31;
  float s = 0.0f;
  for (int c = lane; c < C; c += 32) s += a[c] * b[c];
  for (int o = 16; o > 0; o >>= 1) s += __shfl_xor_sync(0xffffffffu, s, o);
  return __shfl_sync(0xffffffffu, s, 0);
}

/* Row i of the block (row r = rows[i]): its loss into row_loss[i]; with want_grad, dz[i, :]
 * = d loss / d score of each candidate (0 when left out) and dhidden[r] += dz . W. */
__global__ void __launch_bounds__(SCE_THREADS)
    sce_rows_kernel(float *dz, double *row_loss, float *dhidden, const int32_t *rows,
                    const float *hidden, const int32_t *targets, const int32_t *negatives,
                    const float *logq, const float *wte, int C, int K, double norm,
                    int want_grad) {
  __shared__ double sh_lse;
  const int i = blockIdx.x, cand = K + 1;
  const int warp = threadIdx.x >> 5, lane = threadIdx.x & 31, nwarps = SCE_THREADS / 32;
  const int64_t r = rows[i];
  const int32_t y = targets[r];
  const int32_t *neg = negatives + r * K;
  const float *hr = hidden + r * C;
  float *z = dz + (size_t)i * cand;
  for (int j = warp; j < cand; j += nwarps) {
    const int32_t item = j == 0 ? y : neg[j - 1];
    float v;
    if (j > 0 && (item == 0 || item == y)) {
      v = -INFINITY;
    } else {
      v = sce_warp_dot(hr, wte + (int64_t)item * C, C) - (logq ? logq[item] : 0.0f);
    }
    if (lane == 0) z[j] = v;
  }
  __syncthreads();
  if (threadIdx.x == 0) {
    float max = z[0];
    for (int j = 1; j < cand; j++)
      if (z[j] > max) max = z[j];
    double sum = 0.0;
    for (int j = 0; j < cand; j++) sum += exp((double)(z[j] - max));
    const double lse = (double)max + log(sum);
    row_loss[i] = lse - (double)z[0];
    sh_lse = lse;
  }
  __syncthreads();
  if (!want_grad) return;
  const double lse = sh_lse;
  for (int j = threadIdx.x; j < cand; j += SCE_THREADS) {
    float g = (float)(exp((double)z[j] - lse) / norm);
    if (j == 0) g -= (float)(1.0 / norm);
    z[j] = g;
  }
  __syncthreads();
  if (!dhidden) return;
  float *dh = dhidden + r * C;
  for (int c = threadIdx.x; c < C; c += SCE_THREADS) {
    float v = dh[c];
    for (int j = 0; j < cand; j++) {
      const float g = z[j];
      if (g == 0.0f) continue;
      const int32_t item = j == 0 ? y : neg[j - 1];
      v += g * wte[(int64_t)item * C + c];
    }
    dh[c] = v;
  }
}

__global__ void sce_sum_kernel(sce_state *st, const double *row_loss, int nb) {
  const double t = cuda_block_sum_f64(row_loss, nb);
  if (threadIdx.x == 0) st->total += t;
}

/* One warp per CUDA block; block b owns the items i with i % SCE_OWNERS == b. The block's
 * candidates e = i * (K+1) + j (row i, candidate j: the CPU's order) are walked SCE_SPAN at a
 * time: lane l loads candidates l, l + 32, ... of the span (row, item, dz), so those loads are
 * in flight together. */
#define SCE_SPAN 256
__global__ void sce_dwte_kernel(float *dwte, const float *dz, const int32_t *rows, int nb,
                                const float *hidden, const int32_t *targets,
                                const int32_t *negatives, int C, int K) {
  const int lane = threadIdx.x, cand = K + 1;
  const int32_t owner = (int32_t)blockIdx.x;
  const int64_t n = (int64_t)nb * cand;
  for (int64_t base = 0; base < n; base += SCE_SPAN) {
    int32_t row[SCE_SPAN / 32], item[SCE_SPAN / 32];
    float g[SCE_SPAN / 32];
#pragma unroll
    for (int k = 0; k < SCE_SPAN / 32; k++) {
      const int64_t e = base + k * 32 + lane;
      row[k] = 0;
      item[k] = 0;
      g[k] = 0.0f;
      if (e < n) {
        const int64_t j = e % cand;
        row[k] = rows[e / cand];
        g[k] = dz[e];
        item[k] = j == 0 ? targets[row[k]] : negatives[(int64_t)row[k] * K + j - 1];
      }
    }
#pragma unroll
    for (int k = 0; k < SCE_SPAN / 32; k++) {
      unsigned mask = __ballot_sync(0xffffffffu, g[k] != 0.0f && item[k] % SCE_OWNERS == owner);
      while (mask) {
        const int l = __ffs(mask) - 1;
        mask &= mask - 1u;
        const int64_t r = __shfl_sync(0xffffffffu, row[k], l);
        const int32_t it = __shfl_sync(0xffffffffu, item[k], l);
        const float gl = __shfl_sync(0xffffffffu, g[k], l);
        const float *hr = hidden + r * C;
        float *gw = dwte + (int64_t)it * C;
        for (int c = lane; c < C; c += 32) gw[c] += gl * hr[c];
        __syncwarp();
      }
    }
  }
}

sr_status kernel_loss_sampled_ce_cuda(const sr_kernels *k, double *loss, int64_t *n_targets,
                                      float *dhidden, float *dwte, const float *hidden,
                                      const int32_t *targets, const int32_t *negatives,
                                      const float *logq, const float *wte, int N, int C, int V,
                                      int K, double denom, int block_rows, void *scratch,
                                      size_t scratch_bytes) {
  if (N < 0 || C <= 0 || V < 2 || K < 0 || block_rows <= 0)
    return sr_error(SR_EINVAL, "loss_sampled_ce: bad shape N=%d C=%d V=%d K=%d block_rows=%d",
                    N, C, V, K, block_rows);
  const size_t need = kernel_loss_sampled_ce_scratch_bytes_cpu(K, block_rows);
  if (scratch_bytes < need || !scratch)
    return sr_error(SR_EINVAL, "loss_sampled_ce: scratch of %zu bytes, needs %zu (size it with "
                    "k->scratch_bytes)", scratch_bytes, need);
  if (N == 0) {
    *loss = 0.0;
    if (n_targets) *n_targets = 0;
    return SR_OK;
  }
  sr_cuda_ctx *ctx = cuda_ctx(k);
  cudaStream_t s = ctx->stream;
  sce_state *st = (sce_state *)ctx->partials;
  CUDA_TRY(cudaMemsetAsync(st, 0, sizeof *st, s));
  CUDA_TRY(cudaMemsetAsync(&st->bad_target, 0xff, sizeof st->bad_target, s));
  CUDA_TRY(cudaMemsetAsync(&st->bad_negative, 0xff, sizeof st->bad_negative, s));
  const int64_t NK = (int64_t)N * K;
  sce_check_kernel<<<cuda_blocks(N > NK ? N : NK, 256), 256, 0, s>>>(st, targets, negatives, N,
                                                                      NK, V);
  LAUNCH_TRY();
  sce_state h_st;
  CUDA_TRY(cudaMemcpyAsync(&h_st, st, sizeof h_st, cudaMemcpyDeviceToHost, s));
  CUDA_TRY(cudaStreamSynchronize(s));
  if (h_st.bad_target != ~0ull) {
    int32_t y = 0;
    CUDA_TRY(cudaMemcpy(&y, targets + h_st.bad_target, sizeof y, cudaMemcpyDeviceToHost));
    return sr_error(SR_EINVAL, "loss_sampled_ce: target %d at row %lld is outside 0..%d", y,
                    (long long)h_st.bad_target, V - 1);
  }
  if (h_st.bad_negative != ~0ull) {
    int32_t g = 0;
    const long long i = (long long)h_st.bad_negative;
    CUDA_TRY(cudaMemcpy(&g, negatives + i, sizeof g, cudaMemcpyDeviceToHost));
    return sr_error(SR_EINVAL, "loss_sampled_ce: negative %d at row %lld, column %lld is "
                    "outside 0..%d", g, i / K, i % K, V - 1);
  }
  const int64_t count = (int64_t)h_st.count;
  *loss = 0.0;
  if (n_targets) *n_targets = count;
  if (count == 0) return SR_OK;

  const double norm = denom > 0.0 ? denom : (double)count;
  const int want_grad = dhidden != NULL || dwte != NULL;
  const size_t R = (size_t)block_rows;
  unsigned char *p = (unsigned char *)scratch;
  int32_t *rows = (int32_t *)p;
  p += kernel_scratch_round(R * sizeof(int32_t));
  double *row_loss = (double *)p;
  p += kernel_scratch_round(R * sizeof(double));
  float *dz = (float *)p; /* [R, K+1] */

  for (int64_t done = 0; done < count; done += block_rows) {
    const int nb = (int)(count - done < block_rows ? count - done : block_rows);
    sce_select_kernel<<<1, SR_CUDA_SELECT_THREADS, 0, s>>>(st, rows, targets, N, nb);
    LAUNCH_TRY();
    sce_rows_kernel<<<nb, SCE_THREADS, 0, s>>>(dz, row_loss, dhidden, rows, hidden, targets,
                                               negatives, logq, wte, C, K, norm, want_grad);
    LAUNCH_TRY();
    sce_sum_kernel<<<1, SR_CUDA_SUM_THREADS, 0, s>>>(st, row_loss, nb);
    LAUNCH_TRY();
    if (dwte) {
      sce_dwte_kernel<<<SCE_OWNERS, 32, 0, s>>>(dwte, dz, rows, nb, hidden, targets, negatives,
                                                C, K);
      LAUNCH_TRY();
    }
  }
  double total = 0.0;
  CUDA_TRY(cudaMemcpyAsync(&total, &st->total, sizeof total, cudaMemcpyDeviceToHost, s));
  CUDA_TRY(cudaStreamSynchronize(s));
  *loss = total / norm;
  return kernel_cuda_bf16_round(k, dhidden, (int64_t)N * C);
}
