/* Layer norm over the last axis, forward and backward: the CPU reference (a CUDA twin,
 * layernorm.cu, implements the same declaration). Not a batch or group norm. */
#include <math.h>

#include "kernels/cpu.h"

#ifdef _OPENMP
#include <omp.h>
#endif

/* Below this many elements a call runs on one thread. */
#define LN_PARALLEL_MIN (1 << 15)

sr_status kernel_layernorm_forward_cpu(const sr_kernels *k, float *out, float *mean, float *rstd,
                                       const float *x, const float *w, const float *b, int N,
                                       int C, float eps) {
  if (N < 0 || C <= 0 || !(eps > 0.0f))
    return sr_error(SR_EINVAL, "layernorm_forward: bad shape N=%d C=%d or eps=%g", N, C,
                    (double)eps);
  SR_OMP_FOR
  for (int64_t i = 0; i < N; i++) {
    const float *xi = x + i * C;
    /* Two passes (mean, then centred variance): no cancellation when |mean| >> std. */
    float m = 0.0f;
    for (int c = 0; c < C; c++) m += xi[c];
    m /= (float)C;
    float var = 0.0f;
    for (int c = 0; c < C; c++) {
      float d = xi[c] - m;
      var += d * d;
    }
    var /= (float)C;
    float s = 1.0f / sqrtf(var + eps);
    float *oi = out + i * C;
    for (int c = 0; c < C; c++) oi[c] = (xi[c] - m) * s * w[c] + b[c];
    mean[i] = m;
    rstd[i] = s;
  }
  kernel_bf16_round(k, out, (int64_t)N * C);
  return SR_OK;
}

sr_status kernel_layernorm_backward_cpu(const sr_kernels *k, float *dx, float *dw, float *db,
                                        const float *dout, const float *x, const float *w,
                                        const float *mean, const float *rstd, int N, int C) {
  if (N < 0 || C <= 0)
    return sr_error(SR_EINVAL, "layernorm_backward: bad shape N=%d C=%d", N, C);
  /* One parallel region: each part takes rows of dx and columns of dw and db. */
  int parts = 1;
#ifdef _OPENMP
  parts = omp_get_max_threads();
  if ((int64_t)N * C < LN_PARALLEL_MIN || omp_in_parallel()) parts = 1;
#endif
#ifdef _OPENMP
#pragma omp parallel for schedule(static) num_threads(parts) if (parts > 1)
#endif
  for (int p = 0; p < parts; p++) {
    /* dx_c = rstd * (g_c - mean(g) - xhat_c * mean(g . xhat)), with g = dout * w. */
    if (dx) {
      for (int64_t i = kernel_part(N, p, parts); i < kernel_part(N, p + 1, parts); i++) {
        const float *xi = x + i * C, *di = dout + i * C;
        float m = mean[i], s = rstd[i];
        float g_mean = 0.0f, gx_mean = 0.0f;
        for (int c = 0; c < C; c++) {
          float g = di[c] * w[c];
          g_mean += g;
          gx_mean += g * (xi[c] - m) * s;
        }
        g_mean /= (float)C;
        gx_mean /= (float)C;
        float *dxi = dx + i * C;
        for (int c = 0; c < C; c++) {
          float xhat = (xi[c] - m) * s;
          dxi[c] += s * (di[c] * w[c] - g_mean - xhat * gx_mean);
        }
      }
    }
    /* Parameter gradients sum over rows in order (each column alone: the same bits on any
     * thread count). */
    const int c0 = kernel_part(C, p, parts), c1 = kernel_part(C, p + 1, parts);
    if (dw || db) {
      for (int64_t i = 0; i < N; i++) {
        const float *xi = x + i * C, *di = dout + i * C;
        float m = mean[i], s = rstd[i];
        for (int c = c0; c < c1; c++) {
          if (dw) dw[c] += di[c] * (xi[c] - m) * s;
          if (db) db[c] += di[c];
        }
      }
    }
  }
  kernel_bf16_round(k, dx, (int64_t)N * C);
  return SR_OK;
}
