/* Linear layer out = x . w^T + b through cuBLAS, and its backward: the CUDA twin of linear.c
 * (db through cuda.h's column sums).
 * cuBLAS is column-major: a row-major [R, S] matrix is its [S, R] transpose there, so
 * out^T = w^T(col) . x^T(col) reads as sgemm(T, N) below. */
#include "kernels/cuda.h"

/* out[i, o] = b[o]: the start that sgemm adds x . w^T onto. */
__global__ void linear_bias_fill_kernel(float *out, const float *b, int64_t N, int OC) {
  for (int64_t e = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; e < N * OC;
       e += (int64_t)gridDim.x * blockDim.x)
    out[e] = b[e % OC];
}

/* db's column sums of dout, chunk by chunk (cuda.h's cuda_colsum_chunk). */
struct linear_db_term {
  const float *dout;
  int OC;
  __device__ void operator()(int64_t i, int o, float *t) const { t[0] = dout[i * OC + o]; }
};
__global__ void linear_db_kernel(const sr_cuda_colsum p, const float *dout, int64_t N, int OC) {
  cuda_colsum_chunk<1>(p, N, linear_db_term{dout, OC});
}

sr_status kernel_linear_forward_cuda(const sr_kernels *k, float *out, const float *x,
                                     const float *w, const float *b, int N, int IC, int OC) {
  if (N < 0 || IC <= 0 || OC <= 0)
    return sr_error(SR_EINVAL, "linear_forward: bad shape N=%d IC=%d OC=%d", N, IC, OC);
  if (N == 0) return SR_OK;
  float beta = 0.0f;
  if (b) {
    linear_bias_fill_kernel<<<cuda_blocks((int64_t)N * OC, 256), 256, 0, cuda_stream(k)>>>(
        out, b, N, OC);
    LAUNCH_TRY();
    beta = 1.0f;
  }
  TRY(kernel_cuda_gemm(k, CUBLAS_OP_T, CUBLAS_OP_N, OC, N, IC, w, IC, x, IC, beta, out, OC));
  return kernel_cuda_bf16_round(k, out, (int64_t)N * OC);
}

sr_status kernel_linear_backward_cuda(const sr_kernels *k, float *dx, float *dw, float *db,
                                      const float *dout, const float *x, const float *w, int N,
                                      int IC, int OC) {
  if (N < 0 || IC <= 0 || OC <= 0)
    return sr_error(SR_EINVAL, "linear_backward: bad shape N=%d IC=%d OC=%d", N, IC, OC);
  if (N == 0) return SR_OK;
  /* dx += dout . w: dx^T [IC, N] = w(col [IC, OC]) . dout^T(col [OC, N]). */
  if (dx) {
    TRY(kernel_cuda_gemm(k, CUBLAS_OP_N, CUBLAS_OP_N, IC, N, OC, w, IC, dout, OC, 1.0f, dx, IC));
    TRY(kernel_cuda_bf16_round(k, dx, (int64_t)N * IC));
  }
  /* dw += dout^T . x: dw^T [IC, OC] = x^T(col [IC, N]) . dout(col^T [N, OC]). */
  if (dw)
    TRY(kernel_cuda_gemm(k, CUBLAS_OP_N, CUBLAS_OP_T, IC, OC, N, x, IC, dout, OC, 1.0f, dw, IC));
  if (db) {
    sr_cuda_colsum p;
    TRY(kernel_cuda_colsum_plan(k, &p, N, OC, 1));
    linear_db_kernel<<<kernel_cuda_colsum_grid(&p), SR_CUDA_COLSUM_THREADS, 0, cuda_stream(k)>>>(
        p, dout, N, OC);
    LAUNCH_TRY();
    TRY(kernel_cuda_colsum_finish(k, &p, db, NULL));
  }
  return SR_OK;
}
