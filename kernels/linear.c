/* Linear layer out = x . w^T + b through sgemm, and its backward: the CPU reference.
 * Weights are [out, in] (as PyTorch and llm.c) so one row of w is one output unit. */
#include "kernels/cpu.h"

sr_status kernel_linear_forward_cpu(const sr_kernels *k, float *out, const float *x,
                                    const float *w, const float *b, int N, int IC, int OC) {
  if (N < 0 || IC <= 0 || OC <= 0)
    return sr_error(SR_EINVAL, "linear_forward: bad shape N=%d IC=%d OC=%d", N, IC, OC);
  if (N == 0) return SR_OK;
  /* Start from the bias (or zero) and let sgemm add x . w^T on top: one pass over out. */
  float beta = 0.0f;
  if (b) {
    SR_OMP_FOR
    for (int64_t i = 0; i < N; i++)
      for (int o = 0; o < OC; o++) out[i * OC + o] = b[o];
    beta = 1.0f;
  }
  kernel_sgemm(0, 1, N, OC, IC, 1.0f, x, IC, w, IC, beta, out, OC);
  return SR_OK;
}

sr_status kernel_linear_backward_cpu(const sr_kernels *k, float *dx, float *dw, float *db,
                                     const float *dout, const float *x, const float *w, int N,
                                     int IC, int OC) {
  if (N < 0 || IC <= 0 || OC <= 0)
    return sr_error(SR_EINVAL, "linear_backward: bad shape N=%d IC=%d OC=%d", N, IC, OC);
  if (N == 0) return SR_OK;
  /* dx += dout . w   ([N, OC] x [OC, IC]) */
  if (dx)
    kernel_sgemm(0, 0, N, IC, OC, 1.0f, dout, OC, w, IC, 1.0f, dx, IC);
  /* dw += dout^T . x ([OC, N] x [N, IC]) */
  if (dw)
    kernel_sgemm(1, 0, OC, IC, N, 1.0f, dout, OC, x, IC, 1.0f, dw, IC);
  /* db += column sums of dout, rows in order. */
  if (db)
    for (int64_t i = 0; i < N; i++)
      for (int o = 0; o < OC; o++) db[o] += dout[i * OC + o];
  return SR_OK;
}
