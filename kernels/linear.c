/* Linear layer out = x . w^T + b through sgemm, and its backward: the CPU reference.
 * Weights are [out, in] (as PyTorch and llm.c) so one row of w is one output unit. Each op is
 * ONE parallel region: every thread takes its share of each output and nothing waits. */
#include "kernels/cpu.h"

sr_status kernel_linear_forward_cpu(const sr_kernels *k, float *out, const float *x,
                                    const float *w, const float *b, int N, int IC, int OC) {
  if (N < 0 || IC <= 0 || OC <= 0)
    return sr_error(SR_EINVAL, "linear_forward: bad shape N=%d IC=%d OC=%d", N, IC, OC);
  if (N == 0) return SR_OK;
  const int parts = kernel_gemm_parts(N);
#ifdef _OPENMP
#pragma omp parallel for schedule(static) num_threads(parts) if (parts > 1)
#endif
  for (int p = 0; p < parts; p++) {
    const int m0 = kernel_part(N, p, parts), m1 = kernel_part(N, p + 1, parts);
    /* Start from the bias (or zero) and let sgemm add x . w^T on top: one pass over out. */
    float beta = 0.0f;
    if (b) {
      for (int64_t i = m0; i < m1; i++)
        for (int o = 0; o < OC; o++) out[i * OC + o] = b[o];
      beta = 1.0f;
    }
    kernel_sgemm_rows(0, 1, m0, m1, OC, IC, 1.0f, x, IC, w, IC, beta, out, OC);
  }
  kernel_bf16_round(k, out, (int64_t)N * OC);
  return SR_OK;
}

sr_status kernel_linear_backward_cpu(const sr_kernels *k, float *dx, float *dw, float *db,
                                     const float *dout, const float *x, const float *w, int N,
                                     int IC, int OC) {
  if (N < 0 || IC <= 0 || OC <= 0)
    return sr_error(SR_EINVAL, "linear_backward: bad shape N=%d IC=%d OC=%d", N, IC, OC);
  if (N == 0) return SR_OK;
  const int parts = kernel_gemm_parts(N);
#ifdef _OPENMP
#pragma omp parallel for schedule(static) num_threads(parts) if (parts > 1)
#endif
  for (int p = 0; p < parts; p++) {
    /* dx += dout . w   ([N, OC] x [OC, IC]): this part's rows of dx. */
    if (dx)
      kernel_sgemm_rows(0, 0, kernel_part(N, p, parts), kernel_part(N, p + 1, parts), IC, OC,
                        1.0f, dout, OC, w, IC, 1.0f, dx, IC);
    /* dw += dout^T . x ([OC, N] x [N, IC]): this part's output units. */
    const int o0 = kernel_part(OC, p, parts), o1 = kernel_part(OC, p + 1, parts);
    if (dw) kernel_sgemm_rows(1, 0, o0, o1, IC, N, 1.0f, dout, OC, x, IC, 1.0f, dw, IC);
    /* db += column sums of dout, rows in order, for the same output units. */
    if (db)
      for (int64_t i = 0; i < N; i++)
        for (int o = o0; o < o1; o++) db[o] += dout[i * OC + o];
  }
  kernel_bf16_round(k, dx, (int64_t)N * IC);
  return SR_OK;
}
