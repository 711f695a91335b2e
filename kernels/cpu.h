/* Inside the CPU backend: the implementations that backend_cpu.c puts in the table, their
 * scratch sizes, and the helpers they share (OpenMP loops, dropout masks, argument checks).
 * Not for code outside kernels/: callers use the table in kernels.h. */
#ifndef SR_KERNELS_CPU_H
#define SR_KERNELS_CPU_H

#include <stdint.h>

#include "core/rng.h"
#include "kernels/kernels.h"

sr_embed_forward_fn kernel_embed_forward_cpu;
sr_embed_backward_fn kernel_embed_backward_cpu;
sr_layernorm_forward_fn kernel_layernorm_forward_cpu;
sr_layernorm_backward_fn kernel_layernorm_backward_cpu;
sr_linear_forward_fn kernel_linear_forward_cpu;
sr_linear_backward_fn kernel_linear_backward_cpu;
sr_attention_forward_fn kernel_attention_forward_cpu;
sr_attention_backward_fn kernel_attention_backward_cpu;
sr_gelu_forward_fn kernel_gelu_forward_cpu;
sr_gelu_backward_fn kernel_gelu_backward_cpu;
sr_dropout_forward_fn kernel_dropout_forward_cpu;
sr_dropout_backward_fn kernel_dropout_backward_cpu;
sr_residual_forward_fn kernel_residual_forward_cpu;
sr_residual_backward_fn kernel_residual_backward_cpu;
sr_loss_ce_fn kernel_loss_ce_cpu;
sr_loss_sampled_ce_fn kernel_loss_sampled_ce_cpu;
sr_loss_bce_fn kernel_loss_bce_cpu;
sr_global_norm_fn kernel_global_norm_cpu;
sr_adamw_update_fn kernel_adamw_update_cpu;
sr_round_bf16_fn kernel_round_bf16_cpu;

/* Scratch each op needs on the CPU (bytes); backend_cpu.c reports the largest. */
size_t kernel_attention_scratch_bytes_cpu(int B, int T, int H);
size_t kernel_loss_ce_scratch_bytes_cpu(int C, int V, int block_rows);
size_t kernel_loss_sampled_ce_scratch_bytes_cpu(int K, int block_rows);

/* Row-major C[M, N] = alpha * op(A) . op(B) + beta * C (op: transposed when trans_* is 1), the
 * rows of C split over the backend's OpenMP threads; see gemm.c. Every product goes here. */
void kernel_sgemm(int trans_a, int trans_b, int M, int N, int K, float alpha, const float *A,
                  int lda, const float *B, int ldb, float beta, float *C, int ldc);
/* The same product for rows m0..m1 of C only, on the calling thread: for ops that split rows
 * over threads themselves, inside one parallel region with their other work. */
void kernel_sgemm_rows(int trans_a, int trans_b, int m0, int m1, int N, int K, float alpha,
                       const float *A, int lda, const float *B, int ldb, float beta, float *C,
                       int ldc);
/* How many threads kernel_sgemm would split M rows over (1 inside a parallel region). */
int kernel_gemm_parts(int M);
/* Start of part p of n over [0, M): parts differ by at most one row. */
static inline int kernel_part(int M, int p, int n) { return (int)((int64_t)M * p / n); }

/* A parallel loop whose iterations write disjoint outputs: the result does not depend on the
 * thread count. Without OpenMP it is an ordinary loop. */
#ifdef _OPENMP
#define SR_OMP_FOR _Pragma("omp parallel for schedule(static)")
#else
#define SR_OMP_FOR
#endif

/* The element-wise hot loops (exp, erfc, Philox) get an AVX2 clone beside the baseline x86-64
 * one, and the loader picks one for the CPU (target_clones, an ifunc). Both give the same bits:
 * -std=c11 keeps multiply-add contraction off, and no loop reassociates a sum. Only on leaf
 * functions without OpenMP pragmas. */
#if defined(__x86_64__) && defined(__GNUC__) && defined(__ELF__) && !defined(SR_NO_TARGET_CLONES)
#define SR_VECTOR_CLONES __attribute__((target_clones("avx2", "default")))
#else
#define SR_VECTOR_CLONES
#endif

/* bf16 precision (precision.c): out[i] = x[i] rounded to bf16 (nearest, ties to even) on the
 * calling thread; and, only when k->bf16, the same in place over a rows x cols block of row
 * stride ld on the backend's threads: what each op applies to the tensors it writes. */
void kernel_bf16_round_span(float *out, const float *x, int64_t n);
void kernel_bf16_round_rows(const sr_kernels *k, float *x, int64_t rows, int64_t cols,
                            int64_t ld);
static inline void kernel_bf16_round(const sr_kernels *k, float *x, int64_t n) {
  kernel_bf16_round_rows(k, x, 1, n, n);
}

/* Scratch regions start on 64-byte boundaries (vector loads). */
#define SR_SCRATCH_ALIGN ((size_t)64)
static inline size_t kernel_scratch_round(size_t bytes) {
  return (bytes + SR_SCRATCH_ALIGN - 1) / SR_SCRATCH_ALIGN * SR_SCRATCH_ALIGN;
}

/* The dropout mask as kernels.h defines it: element i of (seed, stream, step) is draw number
 * step * 2^34 + i of the Philox stream, i.e. sr_rng_uniform_at(seed, stream, (step << 34) | i),
 * kept when >= p. One Philox block gives four consecutive elements, so the cursor caches it. */
#define SR_DROPOUT_MAX_ELEMENTS (UINT64_C(1) << 34)

typedef struct {
  const sr_dropout *d;
  float scale;       /* 1/(1-p) */
  uint64_t block;    /* which block `words` holds; UINT64_MAX: none yet */
  uint32_t words[4];
} kernel_dropout_cursor;

static inline void kernel_dropout_cursor_init(kernel_dropout_cursor *c, const sr_dropout *d) {
  c->d = d;
  c->scale = 1.0f / (1.0f - d->p);
  c->block = UINT64_MAX;
}

/* The factor element i is multiplied by: 0 (dropped) or 1/(1-p). */
static inline float kernel_dropout_factor(kernel_dropout_cursor *c, uint64_t i) {
  uint64_t block = (c->d->step << 32) | (i >> 2);
  if (block != c->block) {
    sr_rng_block(c->d->seed, c->d->stream, block, c->words);
    c->block = block;
  }
  float u = (float)(c->words[i & 3] >> 8) * 0x1.0p-24f;
  return u >= c->d->p ? c->scale : 0.0f;
}

static inline int kernel_dropout_active(const sr_dropout *d) { return d != NULL && d->p > 0.0f; }

/* f[j] = the factor of element i0 + j, j < n: the same values as kernel_dropout_factor, many
 * Philox blocks at a time (vectorised); for runs of consecutive elements. */
void kernel_dropout_factors(const sr_dropout *d, uint64_t i0, int64_t n, float *f);

/* Checks that every target is in 0..V-1 and counts the real (non-zero) ones; the losses'
 * shared prologue. `op` names the caller in the message. */
sr_status kernel_loss_count_targets(const char *op, const int32_t *targets, int N, int V,
                                    int64_t *count);

/* SR_EINVAL unless d is NULL or a valid mask for n elements; `op` names the caller. */
sr_status kernel_dropout_check(const char *op, const sr_dropout *d, int64_t n);

#endif
