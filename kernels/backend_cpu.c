/* The CPU backend's table: host memory, OpenMP threads, BLAS for matrix products. Chosen at
 * start-up by kernels_cpu_init; the ops themselves live one per file beside this one. */
#include <string.h>

#include "core/arena.h"
#include "core/log.h"
#include "kernels/cpu.h"

#ifdef _OPENMP
#include <omp.h>
#endif
#ifdef SR_HAVE_OPENBLAS_THREADS
#include <cblas.h>
#endif

static sr_status cpu_alloc(const sr_kernels *k, void *out, size_t bytes, const char *what) {
  return sr_alloc(out, bytes, 1, what);
}

static void cpu_free(const sr_kernels *k, void *ptr) { sr_free(ptr); }

static sr_status cpu_zero(const sr_kernels *k, void *ptr, size_t bytes) {
  if (bytes) memset(ptr, 0, bytes);
  return SR_OK;
}

/* Host and backend memory are the same thing here. */
static sr_status cpu_copy(const sr_kernels *k, void *dst, const void *src, size_t bytes) {
  if (bytes && dst != src) memmove(dst, src, bytes);
  return SR_OK;
}

static sr_status cpu_synchronize(const sr_kernels *k) { return SR_OK; }

static size_t max_size(size_t a, size_t b) { return a > b ? a : b; }

static size_t cpu_scratch_bytes(const sr_kernels *k, const sr_kernel_dims *d) {
  size_t bytes = kernel_attention_scratch_bytes_cpu(d->B, d->T, d->H);
  bytes = max_size(bytes, kernel_loss_ce_scratch_bytes_cpu(d->C, d->V, d->block_rows));
  bytes = max_size(bytes, kernel_loss_sampled_ce_scratch_bytes_cpu(d->negatives, d->block_rows));
  return bytes;
}

/* 256 rows of logits stay in cache between the softmax and the two gradient products for
 * catalogues up to a few thousand items; the products are still large enough for the BLAS. */
static int cpu_loss_block_rows(const sr_kernels *k, int V) { return 256; }

static void cpu_close(sr_kernels *k) { memset(k, 0, sizeof *k); }

sr_status kernels_cpu_init(sr_kernels *k, int threads) {
  if (threads < 0)
    return sr_error(SR_EINVAL, "runtime.threads is %d: use 0 (the machine's default) or a count",
                    threads);
#ifdef _OPENMP
  if (threads > 0) omp_set_num_threads(threads);
#ifdef SR_HAVE_OPENBLAS_THREADS
  /* kernel_sgemm splits products over OpenMP threads itself (gemm.c): OpenBLAS stays on the
   * calling thread, so one pool of threads serves the whole backend. */
  openblas_set_num_threads(1);
#endif
#elif defined(SR_HAVE_OPENBLAS_THREADS)
  if (threads > 0) openblas_set_num_threads(threads);
#endif
  *k = (sr_kernels){
      .name = "cpu",
      .on_device = 0,
      .ctx = NULL,
      .alloc = cpu_alloc,
      .free = cpu_free,
      .zero = cpu_zero,
      .upload = cpu_copy,
      .download = cpu_copy,
      .synchronize = cpu_synchronize,
      .scratch_bytes = cpu_scratch_bytes,
      .loss_block_rows = cpu_loss_block_rows,
      .close = cpu_close,
      .embed_forward = kernel_embed_forward_cpu,
      .embed_backward = kernel_embed_backward_cpu,
      .layernorm_forward = kernel_layernorm_forward_cpu,
      .layernorm_backward = kernel_layernorm_backward_cpu,
      .linear_forward = kernel_linear_forward_cpu,
      .linear_backward = kernel_linear_backward_cpu,
      .attention_forward = kernel_attention_forward_cpu,
      .attention_backward = kernel_attention_backward_cpu,
      .gelu_forward = kernel_gelu_forward_cpu,
      .gelu_backward = kernel_gelu_backward_cpu,
      .dropout_forward = kernel_dropout_forward_cpu,
      .dropout_backward = kernel_dropout_backward_cpu,
      .residual_forward = kernel_residual_forward_cpu,
      .residual_backward = kernel_residual_backward_cpu,
      .loss_ce = kernel_loss_ce_cpu,
      .loss_sampled_ce = kernel_loss_sampled_ce_cpu,
      .loss_bce = kernel_loss_bce_cpu,
      .global_norm = kernel_global_norm_cpu,
      .adamw_update = kernel_adamw_update_cpu,
      .round_bf16 = kernel_round_bf16_cpu,
  };
  return SR_OK;
}

sr_status kernels_set_bf16(sr_kernels *k, int bf16) {
  if (bf16 && !k->round_bf16)
    return sr_error(SR_ENOTBUILT, "train.precision: bf16 on the %s backend is not built yet "
                    "(use fp32)", k->name);
  if (bf16 && !k->on_device)
    sr_info("train.precision bf16 on the CPU: emulated (fp32 arithmetic rounded to bf16), "
            "slower than fp32");
  k->bf16 = bf16 != 0;
  return SR_OK;
}

void kernels_close(sr_kernels *k) {
  if (k && k->close) k->close(k);
}

sr_status kernels_init(sr_kernels *k, int gpu, int threads) {
  return gpu >= 0 ? kernels_cuda_init(k, gpu) : kernels_cpu_init(k, threads);
}
