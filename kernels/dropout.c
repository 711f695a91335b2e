/* Dropout whose mask is a pure function of (seed, stream, step, index), so backward recomputes
 * it, and the residual add with its branch's dropout fused in: the CPU reference. */
#include <math.h>

#include "kernels/cpu.h"

sr_status kernel_dropout_check(const char *op, const sr_dropout *d, int64_t n) {
  if (n < 0) return sr_error(SR_EINVAL, "%s: n=%lld", op, (long long)n);
  if (!d) return SR_OK;
  if (!(d->p >= 0.0f && d->p < 1.0f))
    return sr_error(SR_EINVAL, "%s: dropout probability %g is outside [0, 1)", op, (double)d->p);
  if (d->p > 0.0f && (uint64_t)n > SR_DROPOUT_MAX_ELEMENTS)
    return sr_error(SR_EINVAL, "%s: %lld elements exceed the dropout index space (2^34)", op,
                    (long long)n);
  if (d->p > 0.0f && d->step > UINT32_MAX)
    return sr_error(SR_EINVAL, "%s: dropout step %llu exceeds 2^32-1", op,
                    (unsigned long long)d->step);
  return SR_OK;
}

sr_status kernel_dropout_forward_cpu(const sr_kernels *k, float *out, const float *x, int64_t n,
                                     const sr_dropout *drop) {
  TRY(kernel_dropout_check("dropout_forward", drop, n));
  if (!kernel_dropout_active(drop)) {
    if (out != x) {
      SR_OMP_FOR
      for (int64_t i = 0; i < n; i++) out[i] = x[i];
    }
    return SR_OK;
  }
#ifdef _OPENMP
#pragma omp parallel
#endif
  {
    kernel_dropout_cursor cursor;
    kernel_dropout_cursor_init(&cursor, drop);
#ifdef _OPENMP
#pragma omp for schedule(static)
#endif
    for (int64_t i = 0; i < n; i++) out[i] = x[i] * kernel_dropout_factor(&cursor, (uint64_t)i);
  }
  return SR_OK;
}

sr_status kernel_dropout_backward_cpu(const sr_kernels *k, float *dx, const float *dout,
                                      int64_t n, const sr_dropout *drop) {
  TRY(kernel_dropout_check("dropout_backward", drop, n));
  if (!kernel_dropout_active(drop)) {
    SR_OMP_FOR
    for (int64_t i = 0; i < n; i++) dx[i] += dout[i];
    return SR_OK;
  }
#ifdef _OPENMP
#pragma omp parallel
#endif
  {
    kernel_dropout_cursor cursor;
    kernel_dropout_cursor_init(&cursor, drop);
#ifdef _OPENMP
#pragma omp for schedule(static)
#endif
    for (int64_t i = 0; i < n; i++) dx[i] += dout[i] * kernel_dropout_factor(&cursor, (uint64_t)i);
  }
  return SR_OK;
}

sr_status kernel_residual_forward_cpu(const sr_kernels *k, float *out, const float *x,
                                      const float *y, int64_t n, const sr_dropout *drop) {
  TRY(kernel_dropout_check("residual_forward", drop, n));
  if (!kernel_dropout_active(drop)) {
    SR_OMP_FOR
    for (int64_t i = 0; i < n; i++) out[i] = x[i] + y[i];
    return SR_OK;
  }
#ifdef _OPENMP
#pragma omp parallel
#endif
  {
    kernel_dropout_cursor cursor;
    kernel_dropout_cursor_init(&cursor, drop);
#ifdef _OPENMP
#pragma omp for schedule(static)
#endif
    for (int64_t i = 0; i < n; i++)
      out[i] = x[i] + y[i] * kernel_dropout_factor(&cursor, (uint64_t)i);
  }
  return SR_OK;
}

sr_status kernel_residual_backward_cpu(const sr_kernels *k, float *dx, float *dy,
                                       const float *dout, int64_t n, const sr_dropout *drop) {
  TRY(kernel_dropout_check("residual_backward", drop, n));
  if (dx) {
    SR_OMP_FOR
    for (int64_t i = 0; i < n; i++) dx[i] += dout[i];
  }
  if (dy) TRY(kernel_dropout_backward_cpu(k, dy, dout, n, drop));
  return SR_OK;
}
