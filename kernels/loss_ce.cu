/* Cross-entropy over all items with the output layer tied to the item table, fused with its
 * gradient: the CUDA twin of loss_ce.c. The rows with a target are taken in blocks of at most
 * block_rows, in row order; per block:
 *   1. ce_select_kernel (one CUDA block, cuda_rows_select) finds the block's rows (row indices
 *      into scratch), resuming where the previous block stopped (a cursor in ctx->partials);
 *   2. ce_gather_kernel copies their hidden rows into h [nb, C];
 *   3. sgemm: logits z [nb, V-1] = h . wte[1..]^T;
 *   4. ce_softmax_kernel (one block per row): float max, exp(z - max) in place, float sums
 *      reduced in a fixed tree, the row's loss lse - z[y] written to row_loss[i]; with a
 *      gradient, z becomes (softmax - onehot(y)) / denom in place;
 *   5. ce_sum_kernel (one CUDA block, cuda_block_sum_f64) adds row_loss[0..nb) in a fixed
 *      order into a double total: the same bits on every run;
 *   6. sgemm: dh = z . wte[1..], then ce_scatter_kernel adds dh into the rows of dhidden (rows
 *      are distinct, no atomics);
 *   7. sgemm: dwte[1..] += z^T . h (beta = 1).
 * No float atomics anywhere; the only atomics are integer ones in the argument check. Row 0 of
 * wte (padding) is never a candidate and row 0 of dwte is never written. The scratch has the
 * CPU's layout (kernel_loss_ce_scratch_bytes_cpu): rows [R], row loss [R] (double),
 * h [R, C], logits [R, V-1], dh [R, C]; the small device scalars live in ctx->partials. */
#include <math.h>

#include "kernels/cuda.h"

#define CE_THREADS 256

/* ctx->partials as the loss's device scalars. */
typedef struct {
  unsigned long long bad;   /* lowest row with a target outside 0..V-1; ~0: none */
  unsigned long long count; /* rows with a target */
  unsigned long long next;  /* the row where the next block's search starts */
  double total;             /* sum of the row losses so far, in row order */
} ce_state;

/* Lowest bad target and the count of real ones (integer atomics: exact, order-free). */
__global__ void ce_check_kernel(ce_state *st, const int32_t *targets, int64_t N, int V) {
  unsigned long long n = 0;
  for (int64_t r = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; r < N;
       r += (int64_t)gridDim.x * blockDim.x) {
    const int32_t y = targets[r];
    if (y < 0 || y >= V) atomicMin(&st->bad, (unsigned long long)r);
    n += y != 0;
  }
  if (n) atomicAdd(&st->count, n);
}

/* rows[0..nb) = the next nb rows with a target from st->next on (there are at least
 * nb: the host counted them), then st->next = one past the last. */
__global__ void ce_select_kernel(ce_state *st, int32_t *rows, const int32_t *targets, int64_t N,
                                 int nb) {
  cuda_rows_select(&st->next, rows, targets, N, nb);
}

__global__ void ce_gather_kernel(float *h, const float *hidden, const int32_t *rows, int nb,
                                 int C) {
  const int64_t n = (int64_t)nb * C;
  for (int64_t e = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; e < n;
       e += (int64_t)gridDim.x * blockDim.x)
    h[e] = hidden[(int64_t)rows[e / C] * C + e % C];
}

__global__ void ce_scatter_kernel(float *dhidden, const float *dh, const int32_t *rows, int nb,
                                  int C) {
  const int64_t n = (int64_t)nb * C;
  for (int64_t e = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; e < n;
       e += (int64_t)gridDim.x * blockDim.x)
    dhidden[(int64_t)rows[e / C] * C + e % C] += dh[e];
}

/* Fixed-tree block reductions over CE_THREADS threads (the same order on every run). */
__device__ float ce_block_max(float v, float *sh) {
  sh[threadIdx.x] = v;
  __syncthreads();
  for (int s = CE_THREADS / 2; s > 0; s >>= 1) {
    if ((int)threadIdx.x < s) {
      const float o = sh[threadIdx.x + s];
      /* fmaxf drops a NaN, like the CPU's max (a NaN never wins; it stays in the sum). */
      sh[threadIdx.x] = fmaxf(sh[threadIdx.x], o);
    }
    __syncthreads();
  }
  const float m = sh[0];
  __syncthreads();
  return m;
}

__device__ double ce_block_sum(double v, double *sh) {
  sh[threadIdx.x] = v;
  __syncthreads();
  for (int s = CE_THREADS / 2; s > 0; s >>= 1) {
    if ((int)threadIdx.x < s) sh[threadIdx.x] += sh[threadIdx.x + s];
    __syncthreads();
  }
  const double t = sh[0];
  __syncthreads();
  return t;
}

/* Row i of z [nb, items] with target item y = targets[rows[i]] - 1: row_loss[i] = lse - z[y];
 * with g_scale > 0, z becomes (softmax - onehot) * g_scale, else exp(z - max). */
__global__ void __launch_bounds__(CE_THREADS)
    ce_softmax_kernel(float *z, double *row_loss, const int32_t *rows, const int32_t *targets,
                      int items, float g_scale) {
  __shared__ float shf[CE_THREADS];
  __shared__ double shd[CE_THREADS];
  float *zr = z + (int64_t)blockIdx.x * items;
  const int y = targets[rows[blockIdx.x]] - 1;
  const float z_target = zr[y]; /* read by every thread before any write below */
  float m = -INFINITY;
  for (int j = threadIdx.x; j < items; j += CE_THREADS) m = fmaxf(m, zr[j]);
  const float max = ce_block_max(m, shf); /* its barriers order the reads of z_target first */
  float acc = 0.0f;
  for (int j = threadIdx.x; j < items; j += CE_THREADS) {
    const float e = expf(zr[j] - max);
    zr[j] = e;
    acc += e;
  }
  const double sum = ce_block_sum((double)acc, shd);
  if (threadIdx.x == 0) row_loss[blockIdx.x] = (double)max + log(sum) - (double)z_target;
  if (g_scale > 0.0f) {
    const float inv = (float)(1.0 / sum) * g_scale;
    for (int j = threadIdx.x; j < items; j += CE_THREADS) {
      float g = zr[j] * inv;
      if (j == y) g -= g_scale;
      zr[j] = g;
    }
  }
}

/* The block's row losses, in a fixed order, into the running total. */
__global__ void ce_sum_kernel(ce_state *st, const double *row_loss, int nb) {
  const double t = cuda_block_sum_f64(row_loss, nb);
  if (threadIdx.x == 0) st->total += t;
}

sr_status kernel_loss_ce_cuda(const sr_kernels *k, double *loss, int64_t *n_targets,
                              float *dhidden, float *dwte, const float *hidden,
                              const int32_t *targets, const float *wte, int N, int C, int V,
                              double denom, int block_rows, void *scratch,
                              size_t scratch_bytes) {
  if (N < 0 || C <= 0 || V < 2 || block_rows <= 0)
    return sr_error(SR_EINVAL, "loss_ce: bad shape N=%d C=%d V=%d block_rows=%d (need V >= 2)",
                    N, C, V, block_rows);
  const size_t need = kernel_loss_ce_scratch_bytes_cpu(C, V, block_rows);
  if (scratch_bytes < need || !scratch)
    return sr_error(SR_EINVAL, "loss_ce: scratch of %zu bytes, needs %zu for block_rows=%d, "
                    "V=%d (size it with k->scratch_bytes)", scratch_bytes, need, block_rows, V);
  if (N == 0) {
    *loss = 0.0;
    if (n_targets) *n_targets = 0;
    return SR_OK;
  }

  sr_cuda_ctx *ctx = cuda_ctx(k);
  cudaStream_t s = ctx->stream;
  ce_state *st = (ce_state *)ctx->partials;
  /* bad = ~0 (all bits set), the rest 0. */
  CUDA_TRY(cudaMemsetAsync(st, 0, sizeof *st, s));
  CUDA_TRY(cudaMemsetAsync(&st->bad, 0xff, sizeof st->bad, s));
  ce_check_kernel<<<cuda_blocks(N, 256), 256, 0, s>>>(st, targets, N, V);
  LAUNCH_TRY();
  ce_state h_st;
  CUDA_TRY(cudaMemcpyAsync(&h_st, st, sizeof h_st, cudaMemcpyDeviceToHost, s));
  CUDA_TRY(cudaStreamSynchronize(s));
  if (h_st.bad != ~0ull) {
    int32_t y = 0;
    CUDA_TRY(cudaMemcpy(&y, targets + h_st.bad, sizeof y, cudaMemcpyDeviceToHost));
    return sr_error(SR_EINVAL, "loss_ce: target %d at row %lld is outside 0..%d", y,
                    (long long)h_st.bad, V - 1);
  }
  const int64_t count = (int64_t)h_st.count;
  *loss = 0.0;
  if (n_targets) *n_targets = count;
  if (count == 0) return SR_OK;

  const double norm = denom > 0.0 ? denom : (double)count;
  const int want_grad = dhidden != NULL || dwte != NULL;
  const float g_scale = want_grad ? (float)(1.0 / norm) : 0.0f;
  const int items = V - 1;
  const size_t R = (size_t)block_rows;
  unsigned char *p = (unsigned char *)scratch;
  int32_t *rows = (int32_t *)p;
  p += kernel_scratch_round(R * sizeof(int32_t));
  double *row_loss = (double *)p;
  p += kernel_scratch_round(R * sizeof(double));
  float *h = (float *)p;
  p += kernel_scratch_round(R * (size_t)C * sizeof(float));
  float *z = (float *)p; /* logits, then d loss / d logits */
  p += kernel_scratch_round(R * (size_t)items * sizeof(float));
  float *dh = (float *)p;

  const float *w = wte + C; /* rows 1..V-1: item 0 is never a candidate */
  float *dw = dwte ? dwte + C : NULL;
  for (int64_t done = 0; done < count; done += block_rows) {
    const int nb = (int)(count - done < block_rows ? count - done : block_rows);
    ce_select_kernel<<<1, SR_CUDA_SELECT_THREADS, 0, s>>>(st, rows, targets, N, nb);
    LAUNCH_TRY();
    ce_gather_kernel<<<cuda_blocks((int64_t)nb * C, 256), 256, 0, s>>>(h, hidden, rows, nb, C);
    LAUNCH_TRY();
    /* z^T [items, nb] = w(col [C, items])^T . h^T(col [C, nb]). */
    TRY(kernel_cuda_gemm(k, CUBLAS_OP_T, CUBLAS_OP_N, items, nb, C, w, C, h, C, 0.0f, z, items));
    ce_softmax_kernel<<<nb, CE_THREADS, 0, s>>>(z, row_loss, rows, targets, items, g_scale);
    LAUNCH_TRY();
    ce_sum_kernel<<<1, SR_CUDA_SUM_THREADS, 0, s>>>(st, row_loss, nb);
    LAUNCH_TRY();
    if (g_scale > 0.0f) TRY(kernel_cuda_bf16_round(k, z, (int64_t)nb * items)); /* kernels.h */
    if (dhidden) {
      /* dh^T [C, nb] = w(col [C, items]) . z^T(col [items, nb]). */
      TRY(kernel_cuda_gemm(k, CUBLAS_OP_N, CUBLAS_OP_N, C, nb, items, w, C, z, items, 0.0f, dh,
                           C));
      ce_scatter_kernel<<<cuda_blocks((int64_t)nb * C, 256), 256, 0, s>>>(dhidden, dh, rows, nb,
                                                                         C);
      LAUNCH_TRY();
    }
    if (dw) {
      /* dw^T [C, items] += h^T(col [C, nb]) . z(col^T [nb, items]). */
      TRY(kernel_cuda_gemm(k, CUBLAS_OP_N, CUBLAS_OP_T, C, items, nb, h, C, z, items, 1.0f, dw,
                           C));
    }
  }
  double total = 0.0;
  CUDA_TRY(cudaMemcpyAsync(&total, &st->total, sizeof total, cudaMemcpyDeviceToHost, s));
  CUDA_TRY(cudaStreamSynchronize(s));
  *loss = total / norm;
  return kernel_cuda_bf16_round(k, dhidden, (int64_t)N * C);
}
