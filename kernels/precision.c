/* bf16 precision on the CPU (kernels/README.md "Precision"): the ops compute in fp32 and round
 * what the contract says to bf16 with these, so that the CPU gives the reference numbers of a
 * bf16 run (an emulation for checking, slower than fp32, not a speed-up). */
#include <string.h>

#include "kernels/cpu.h"

/* Round to nearest, ties to even, of the top 16 bits; a NaN stays a (quiet) NaN of the same
 * sign instead of carrying into the exponent. Branch-free, so the loops below vectorise. */
static inline float bf16_round(float f) {
  uint32_t u;
  memcpy(&u, &f, sizeof u);
  const uint32_t rounded = (u + 0x7fffu + ((u >> 16) & 1u)) & 0xffff0000u;
  const uint32_t nan = (u | 0x00400000u) & 0xffff0000u;
  u = (u & 0x7fffffffu) > 0x7f800000u ? nan : rounded;
  memcpy(&f, &u, sizeof f);
  return f;
}

SR_VECTOR_CLONES void kernel_bf16_round_span(float *out, const float *x, int64_t n) {
  for (int64_t i = 0; i < n; i++) out[i] = bf16_round(x[i]);
}

#define BF16_CHUNK 16384

void kernel_bf16_round_rows(const sr_kernels *k, float *x, int64_t rows, int64_t cols,
                            int64_t ld) {
  if (!k->bf16 || !x || rows <= 0 || cols <= 0) return;
  if (ld == cols) { /* contiguous: chunks of one span, whatever the row length */
    const int64_t n = rows * cols, chunks = (n + BF16_CHUNK - 1) / BF16_CHUNK;
    SR_OMP_FOR
    for (int64_t c = 0; c < chunks; c++) {
      const int64_t lo = c * BF16_CHUNK;
      kernel_bf16_round_span(x + lo, x + lo, n - lo < BF16_CHUNK ? n - lo : BF16_CHUNK);
    }
    return;
  }
  SR_OMP_FOR
  for (int64_t r = 0; r < rows; r++) kernel_bf16_round_span(x + r * ld, x + r * ld, cols);
}

sr_status kernel_round_bf16_cpu(const sr_kernels *k, float *out, const float *x, int64_t n) {
  if (n < 0) return sr_error(SR_EINVAL, "round_bf16: n=%lld", (long long)n);
  const int64_t chunks = (n + BF16_CHUNK - 1) / BF16_CHUNK;
  SR_OMP_FOR
  for (int64_t c = 0; c < chunks; c++) {
    const int64_t lo = c * BF16_CHUNK;
    kernel_bf16_round_span(out + lo, x + lo, n - lo < BF16_CHUNK ? n - lo : BF16_CHUNK);
  }
  return SR_OK;
}
