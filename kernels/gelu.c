/* GELU in its exact form, x * Phi(x), forward and backward: the CPU reference. Not the tanh
 * approximation (GPT-2's); the CUDA twin uses erfc too so the two agree to rounding. Phi comes
 * from vecmath.h (within a few ulps of libm's erfcf, and vectorised). */
#include <math.h>

#include "kernels/cpu.h"
#include "kernels/vecmath.h"

#define SR_INV_SQRT_2PI 0.39894228040143268f

/* Elements per task: the loops below hand chunks to the vectorised leaf functions. */
#define GELU_CHUNK 4096

SR_VECTOR_CLONES static void gelu_forward_run(float *out, const float *x, int64_t n) {
  for (int64_t i = 0; i < n; i++) out[i] = x[i] * kernel_normal_cdf(x[i]);
}

/* d/dx x*Phi(x) = Phi(x) + x*phi(x). */
SR_VECTOR_CLONES static void gelu_backward_run(float *dx, const float *x, const float *dout,
                                               int64_t n) {
  for (int64_t i = 0; i < n; i++) {
    const float xi = x[i];
    const float pdf = SR_INV_SQRT_2PI * kernel_expf(-0.5f * xi * xi);
    dx[i] += dout[i] * (kernel_normal_cdf(xi) + xi * pdf);
  }
}

sr_status kernel_gelu_forward_cpu(const sr_kernels *k, float *out, const float *x, int64_t n) {
  if (n < 0) return sr_error(SR_EINVAL, "gelu_forward: n=%lld", (long long)n);
  const int64_t chunks = (n + GELU_CHUNK - 1) / GELU_CHUNK;
  SR_OMP_FOR
  for (int64_t c = 0; c < chunks; c++) {
    const int64_t lo = c * GELU_CHUNK, m = n - lo < GELU_CHUNK ? n - lo : GELU_CHUNK;
    gelu_forward_run(out + lo, x + lo, m);
  }
  kernel_bf16_round(k, out, n);
  return SR_OK;
}

sr_status kernel_gelu_backward_cpu(const sr_kernels *k, float *dx, const float *x,
                                   const float *dout, int64_t n) {
  if (n < 0) return sr_error(SR_EINVAL, "gelu_backward: n=%lld", (long long)n);
  const int64_t chunks = (n + GELU_CHUNK - 1) / GELU_CHUNK;
  SR_OMP_FOR
  for (int64_t c = 0; c < chunks; c++) {
    const int64_t lo = c * GELU_CHUNK, m = n - lo < GELU_CHUNK ? n - lo : GELU_CHUNK;
    gelu_backward_run(dx + lo, x + lo, dout + lo, m);
  }
  kernel_bf16_round(k, dx, n);
  return SR_OK;
}
