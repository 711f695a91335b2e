/* GELU in its exact form, x * Phi(x), forward and backward: the CPU reference. Not the tanh
 * approximation (GPT-2's); the CUDA twin must use erf too so the two agree to rounding. */
#include <math.h>

#include "kernels/cpu.h"

#define SR_INV_SQRT2 0.70710678118654752f
#define SR_INV_SQRT_2PI 0.39894228040143268f

/* Phi(x) as erfc: 0.5 * (1 + erf(x/sqrt2)) loses all digits for x << 0 (1 + erf -> 0). */
static inline float phi_cdf(float x) { return 0.5f * erfcf(-x * SR_INV_SQRT2); }

sr_status kernel_gelu_forward_cpu(const sr_kernels *k, float *out, const float *x, int64_t n) {
  if (n < 0) return sr_error(SR_EINVAL, "gelu_forward: n=%lld", (long long)n);
  SR_OMP_FOR
  for (int64_t i = 0; i < n; i++) out[i] = x[i] * phi_cdf(x[i]);
  return SR_OK;
}

sr_status kernel_gelu_backward_cpu(const sr_kernels *k, float *dx, const float *x,
                                   const float *dout, int64_t n) {
  if (n < 0) return sr_error(SR_EINVAL, "gelu_backward: n=%lld", (long long)n);
  /* d/dx x*Phi(x) = Phi(x) + x*phi(x). */
  SR_OMP_FOR
  for (int64_t i = 0; i < n; i++) {
    float cdf = phi_cdf(x[i]);
    float pdf = SR_INV_SQRT_2PI * expf(-0.5f * x[i] * x[i]);
    dx[i] += dout[i] * (cdf + x[i] * pdf);
  }
  return SR_OK;
}
