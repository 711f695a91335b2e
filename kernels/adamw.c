/* The optimizer's two passes over the flat gradient buffer: its global L2 norm (for clipping
 * and for catching non-finite steps) and the AdamW update. The CPU reference. */
#include <math.h>

#include "kernels/cpu.h"

/* The norm's partial sums use a fixed split of the buffer, not one per thread, so the result
 * is the same bits on any thread count. */
#define NORM_CHUNKS 64

sr_status kernel_global_norm_cpu(const sr_kernels *k, double *norm, const float *g, int64_t n) {
  if (n < 0) return sr_error(SR_EINVAL, "global_norm: n=%lld", (long long)n);
  double partial[NORM_CHUNKS];
  const int64_t chunk = (n + NORM_CHUNKS - 1) / NORM_CHUNKS;
  SR_OMP_FOR
  for (int c = 0; c < NORM_CHUNKS; c++) {
    int64_t lo = c * chunk, hi = lo + chunk < n ? lo + chunk : n;
    double s = 0.0;
    for (int64_t i = lo; i < hi; i++) s += (double)g[i] * (double)g[i];
    partial[c] = s;
  }
  double sum = 0.0;
  for (int c = 0; c < NORM_CHUNKS; c++) sum += partial[c];
  *norm = sqrt(sum);
  return SR_OK;
}

sr_status kernel_adamw_update_cpu(const sr_kernels *k, float *param, float *m, float *v,
                                  const float *grad, int64_t n, const sr_adamw *opt) {
  if (n < 0 || opt->step < 1 || !(opt->beta1 >= 0.0f && opt->beta1 < 1.0f) ||
      !(opt->beta2 >= 0.0f && opt->beta2 < 1.0f) || !(opt->eps > 0.0f))
    return sr_error(SR_EINVAL, "adamw_update: bad settings n=%lld step=%lld beta1=%g beta2=%g "
                    "eps=%g (need step >= 1, betas in [0, 1), eps > 0)", (long long)n,
                    (long long)opt->step, (double)opt->beta1, (double)opt->beta2,
                    (double)opt->eps);
  const float b1 = opt->beta1, b2 = opt->beta2, lr = opt->lr, wd = opt->weight_decay;
  const float scale = opt->grad_scale, eps = opt->eps;
  /* Bias corrections 1 - beta^t, computed once in double. */
  const float c1 = (float)(1.0 / (1.0 - pow((double)b1, (double)opt->step)));
  const float c2 = (float)(1.0 / (1.0 - pow((double)b2, (double)opt->step)));
  SR_OMP_FOR
  for (int64_t i = 0; i < n; i++) {
    const float g = grad[i] * scale;
    const float mi = b1 * m[i] + (1.0f - b1) * g;
    const float vi = b2 * v[i] + (1.0f - b2) * g * g;
    m[i] = mi;
    v[i] = vi;
    /* Decoupled decay: shrinks the weight itself, never passes through the moments. */
    param[i] -= lr * ((mi * c1) / (sqrtf(vi * c2) + eps) + wd * param[i]);
  }
  return SR_OK;
}
