/* The CUDA backend's ops (one kernels/<op>.cu beside each <op>.c) and its shared state.
 * Private to kernels/: callers see only kernels.h. Included from CUDA C++ files. */
#ifndef SR_KERNELS_CUDA_H
#define SR_KERNELS_CUDA_H

#include <cublas_v2.h>
#include <cuda_runtime.h>

extern "C" {
#include "kernels/cpu.h" /* host-side checks shared with the CPU twin (kernel_dropout_check) */
}

/* What kernels_cuda_init keeps in k->ctx. */
typedef struct {
  int device;
  cudaStream_t stream;
  cublasHandle_t blas; /* bound to stream, CUBLAS_DEFAULT_MATH (no TF32) */
  double *partials;    /* [SR_CUDA_NORM_BLOCKS] partial sums of global_norm */
  float *colsum;       /* [SR_CUDA_COLSUM_FLOATS] per-chunk column sums (colsum.cu) */
} sr_cuda_ctx;

#define SR_CUDA_NORM_BLOCKS 256
#define SR_CUDA_COLSUM_FLOATS (1 << 20)

/* Every CUDA and cuBLAS call goes through these: the message names the expression, file, line. */
#define CUDA_TRY(expr)                                                                       \
  do {                                                                                       \
    cudaError_t e_ = (expr);                                                                 \
    if (e_ != cudaSuccess)                                                                   \
      return sr_error(SR_EINTERNAL, "%s:%d: %s: %s", __FILE__, __LINE__, #expr,             \
                      cudaGetErrorString(e_));                                               \
  } while (0)
#define CUBLAS_TRY(expr)                                                                     \
  do {                                                                                       \
    cublasStatus_t e_ = (expr);                                                              \
    if (e_ != CUBLAS_STATUS_SUCCESS)                                                         \
      return sr_error(SR_EINTERNAL, "%s:%d: %s: %s", __FILE__, __LINE__, #expr,             \
                      cublasGetStatusString(e_));                                            \
  } while (0)
/* After every <<<...>>> launch. */
#define LAUNCH_TRY() CUDA_TRY(cudaGetLastError())

static inline sr_cuda_ctx *cuda_ctx(const sr_kernels *k) { return (sr_cuda_ctx *)k->ctx; }
static inline cudaStream_t cuda_stream(const sr_kernels *k) { return cuda_ctx(k)->stream; }

/* Blocks for a grid-stride loop over n elements: enough to fill an H100, never over the
 * grid limit whatever n is. */
static inline unsigned cuda_blocks(int64_t n, int threads) {
  int64_t b = (n + threads - 1) / threads;
  return (unsigned)(b < 1 ? 1 : b > 8192 ? 8192 : b);
}

/* Philox4x32-10 exactly as core/rng.c (same constants), so a dropout mask drawn here has the
 * same bits as the CPU's: counter (block, block>>32, stream, stream>>32), key = seed,
 * block = step<<32 | i>>2, word i&3, u = (w>>8) * 2^-24. */
#define SR_PHILOX_M0 0xD2511F53u
#define SR_PHILOX_M1 0xCD9E8D57u
#define SR_PHILOX_W0 0x9E3779B9u
#define SR_PHILOX_W1 0xBB67AE85u

__device__ __forceinline__ uint32_t cuda_philox_word(uint64_t seed, uint64_t stream,
                                                     uint64_t block, int word) {
  uint32_t c0 = (uint32_t)block, c1 = (uint32_t)(block >> 32);
  uint32_t c2 = (uint32_t)stream, c3 = (uint32_t)(stream >> 32);
  uint32_t k0 = (uint32_t)seed, k1 = (uint32_t)(seed >> 32);
  for (int round = 0; round < 10; round++) {
    if (round > 0) {
      k0 += SR_PHILOX_W0;
      k1 += SR_PHILOX_W1;
    }
    const uint64_t p0 = (uint64_t)SR_PHILOX_M0 * c0, p1 = (uint64_t)SR_PHILOX_M1 * c2;
    const uint32_t n0 = (uint32_t)(p1 >> 32) ^ c1 ^ k0;
    const uint32_t n2 = (uint32_t)(p0 >> 32) ^ c3 ^ k1;
    c0 = n0;
    c1 = (uint32_t)p1;
    c2 = n2;
    c3 = (uint32_t)p0;
  }
  return word == 0 ? c0 : word == 1 ? c1 : word == 2 ? c2 : c3;
}

/* The factor of element i of the mask: scale when kept, 0 when dropped. */
__device__ __forceinline__ float cuda_dropout_factor(const sr_dropout d, float scale,
                                                     uint64_t i) {
  const uint32_t w = cuda_philox_word(d.seed, d.stream, (d.step << 32) | (i >> 2), (int)(i & 3));
  const float u = (float)(w >> 8) * 0x1.0p-24f;
  return u >= d.p ? scale : 0.0f;
}

/* SR_EINVAL naming the first (lowest index) of ids[0..n) outside 0..V-1, like the CPU checks;
 * one small copy back to the host. backend_cuda.cu. */
sr_status kernel_cuda_ids_check(const sr_kernels *k, const char *op, const int32_t *ids,
                                int64_t n, int T, int V);

extern "C" {
sr_embed_forward_fn kernel_embed_forward_cuda;
sr_embed_backward_fn kernel_embed_backward_cuda;
sr_layernorm_forward_fn kernel_layernorm_forward_cuda;
sr_layernorm_backward_fn kernel_layernorm_backward_cuda;
sr_linear_forward_fn kernel_linear_forward_cuda;
sr_linear_backward_fn kernel_linear_backward_cuda;
sr_attention_forward_fn kernel_attention_forward_cuda;
sr_attention_backward_fn kernel_attention_backward_cuda;
sr_gelu_forward_fn kernel_gelu_forward_cuda;
sr_gelu_backward_fn kernel_gelu_backward_cuda;
sr_dropout_forward_fn kernel_dropout_forward_cuda;
sr_dropout_backward_fn kernel_dropout_backward_cuda;
sr_residual_forward_fn kernel_residual_forward_cuda;
sr_residual_backward_fn kernel_residual_backward_cuda;
sr_loss_ce_fn kernel_loss_ce_cuda;
sr_loss_sampled_ce_fn kernel_loss_sampled_ce_cuda;
sr_loss_bce_fn kernel_loss_bce_cuda;
sr_global_norm_fn kernel_global_norm_cuda;
sr_adamw_update_fn kernel_adamw_update_cuda;
sr_round_bf16_fn kernel_round_bf16_cuda;
}

/* bf16 precision (precision.cu, the twin of cpu.h's kernel_bf16_round_rows): only when
 * k->bf16, x rounded to bf16 in place over a rows x cols block of row stride ld. */
sr_status kernel_cuda_bf16_round_rows(const sr_kernels *k, float *x, int64_t rows, int64_t cols,
                                      int64_t ld);
static inline sr_status kernel_cuda_bf16_round(const sr_kernels *k, float *x, int64_t n) {
  return kernel_cuda_bf16_round_rows(k, x, 1, n, n);
}
/* C = op(A) op(B) + beta C in cuBLAS's column-major terms (alpha 1) on the backend's handle:
 * cublasSgemm in fp32; with k->bf16 the same product on tensor cores (bf16 operands, fp32
 * accumulation: CUBLAS_COMPUTE_32F_FAST_16BF). */
sr_status kernel_cuda_gemm(const sr_kernels *k, cublasOperation_t ta, cublasOperation_t tb, int m,
                           int n, int kk, const float *A, int lda, const float *B, int ldb,
                           float beta, float *C, int ldc);


/* Column sums over rows (linear's db, layer norm's dw and db), deterministic without atomics
 * and parallel over rows: the rows are cut into fixed chunks; CUDA block (x, g) sums 32
 * columns of chunk g, 8 row lanes each adding every 8th row in order, then the lanes in order,
 * into ctx->colsum; a second kernel adds the chunks' sums in chunk order onto the outputs. The
 * order depends on N and C only, so every run gives the same bits (not the CPU's, which adds
 * the rows in order: the two differ by fp32 rounding). colsum.cu. */
#define SR_CUDA_COLSUM_THREADS 256 /* 32 columns x 8 row lanes */
typedef struct {
  float *sums;        /* [chunks, terms, C] in ctx->colsum */
  int64_t chunk_rows; /* rows per chunk (the last may be shorter) */
  int chunks, terms, C;
} sr_cuda_colsum;

/* The chunking of N rows x C columns for `terms` sums (1 or 2): SR_EINVAL when C is too wide. */
sr_status kernel_cuda_colsum_plan(const sr_kernels *k, sr_cuda_colsum *plan, int64_t N, int C,
                                  int terms);
/* The grid of the chunk kernel. */
static inline dim3 kernel_cuda_colsum_grid(const sr_cuda_colsum *p) {
  return dim3((unsigned)((p->C + 31) / 32), (unsigned)p->chunks);
}
/* out_t[c] += the chunks' sums of term t, in chunk order (a NULL out_t is skipped). */
sr_status kernel_cuda_colsum_finish(const sr_kernels *k, const sr_cuda_colsum *plan,
                                    float *out0, float *out1);

/* The chunk kernel's body: term(i, c, t) writes the TERMS values that row i adds to column c. */
template <int TERMS, class Term>
__device__ __forceinline__ void cuda_colsum_chunk(const sr_cuda_colsum p, int64_t N,
                                                  const Term &term) {
  __shared__ float lanes[TERMS][8][32];
  const int col = threadIdx.x % 32, lane = threadIdx.x / 32;
  const int c = (int)blockIdx.x * 32 + col;
  const int64_t r0 = (int64_t)blockIdx.y * p.chunk_rows;
  const int64_t r1 = r0 + p.chunk_rows < N ? r0 + p.chunk_rows : N;
  float acc[TERMS], t[TERMS];
  for (int j = 0; j < TERMS; j++) acc[j] = 0.0f;
  if (c < p.C)
    for (int64_t i = r0 + lane; i < r1; i += 8) {
      term(i, c, t);
      for (int j = 0; j < TERMS; j++) acc[j] += t[j];
    }
  for (int j = 0; j < TERMS; j++) lanes[j][lane][col] = acc[j];
  __syncthreads();
  if (lane == 0 && c < p.C)
    for (int j = 0; j < TERMS; j++) {
      float s = lanes[j][0][col];
      for (int l = 1; l < 8; l++) s += lanes[j][l][col];
      p.sums[((int64_t)blockIdx.y * TERMS + j) * p.C + c] = s;
    }
}

/* The losses' row finder, one block of SR_CUDA_SELECT_THREADS threads (a multiple of 32):
 * rows[0..nb) = the next nb rows with a target from *next on (the host counted at least nb),
 * then *next = one past the last. Each round looks at SR_CUDA_SELECT_THREADS rows at once
 * (lanes ballot, warps add their counts in warp order), so a block of the loss costs N / 1024
 * dependent loads, not N / 32 of one warp. */
#define SR_CUDA_SELECT_THREADS 1024
static __device__ __forceinline__ void cuda_rows_select(unsigned long long *next, int32_t *rows,
                                                        const int32_t *targets, int64_t N,
                                                        int nb) {
  __shared__ int warp_count[SR_CUDA_SELECT_THREADS / 32];
  const int lane = threadIdx.x % 32, warp = threadIdx.x / 32, warps = blockDim.x / 32;
  int64_t base = (int64_t)*next; /* read by all before the barrier below; written after it */
  int found = 0;
  while (found < nb && base < N) {
    const int64_t r = base + threadIdx.x;
    const int real = r < N && targets[r] != 0;
    const unsigned mask = __ballot_sync(0xffffffffu, real);
    if (lane == 0) warp_count[warp] = __popc(mask);
    __syncthreads();
    int before = 0, round = 0;
    for (int w = 0; w < warps; w++) {
      before += w < warp ? warp_count[w] : 0;
      round += warp_count[w];
    }
    const int pos = found + before + __popc(mask & ((1u << lane) - 1u));
    if (real && pos < nb) {
      rows[pos] = (int32_t)r;
      if (pos == nb - 1) *next = (unsigned long long)(r + 1);
    }
    found += round;
    base += blockDim.x;
    __syncthreads(); /* warp_count is rewritten by the next round */
  }
}

/* x[0..n) summed by one block of SR_CUDA_SUM_THREADS threads in a fixed order (thread j adds
 * x[j], x[j + threads], ... in order, then a fixed tree): the same bits on every run, though
 * not the CPU's row-order sum (the two differ by double rounding). Thread 0 gets the sum. */
#define SR_CUDA_SUM_THREADS 256
static __device__ __forceinline__ double cuda_block_sum_f64(const double *x, int n) {
  __shared__ double part[SR_CUDA_SUM_THREADS];
  double t = 0.0;
  for (int i = threadIdx.x; i < n; i += SR_CUDA_SUM_THREADS) t += x[i];
  part[threadIdx.x] = t;
  __syncthreads();
  for (int s = SR_CUDA_SUM_THREADS / 2; s > 0; s >>= 1) {
    if ((int)threadIdx.x < s) part[threadIdx.x] += part[threadIdx.x + s];
    __syncthreads();
  }
  return part[0];
}

#endif
