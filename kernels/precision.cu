/* bf16 precision on the GPU (kernels/README.md "Precision"), the CUDA twin of precision.c: the
 * same rounding (__float2bfloat16_rn: to nearest, ties to even), here as a pass over what an op
 * wrote (fusing it into the ops' stores would change no number), and the matrix products of
 * bf16 runs on tensor cores (their operands are already bf16 values, so converting them to bf16
 * is exact and only the summation order differs from the fp32 product). */
#include <cuda_bf16.h>

#include "kernels/cuda.h"

__global__ void bf16_round_kernel(float *out, const float *x, int64_t rows, int64_t cols,
                                  int64_t ld) {
  const int64_t n = rows * cols;
  for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < n;
       i += (int64_t)gridDim.x * blockDim.x) {
    const int64_t at = (i / cols) * ld + i % cols;
    out[at] = __bfloat162float(__float2bfloat16_rn(x[at]));
  }
}

sr_status kernel_round_bf16_cuda(const sr_kernels *k, float *out, const float *x, int64_t n) {
  if (n < 0) return sr_error(SR_EINVAL, "round_bf16: n=%lld", (long long)n);
  if (n == 0) return SR_OK;
  bf16_round_kernel<<<cuda_blocks(n, 256), 256, 0, cuda_stream(k)>>>(out, x, 1, n, n);
  LAUNCH_TRY();
  return SR_OK;
}

sr_status kernel_cuda_bf16_round_rows(const sr_kernels *k, float *x, int64_t rows, int64_t cols,
                                      int64_t ld) {
  if (!k->bf16 || !x || rows <= 0 || cols <= 0) return SR_OK;
  bf16_round_kernel<<<cuda_blocks(rows * cols, 256), 256, 0, cuda_stream(k)>>>(x, x, rows, cols,
                                                                               ld);
  LAUNCH_TRY();
  return SR_OK;
}

sr_status kernel_cuda_gemm(const sr_kernels *k, cublasOperation_t ta, cublasOperation_t tb, int m,
                           int n, int kk, const float *A, int lda, const float *B, int ldb,
                           float beta, float *C, int ldc) {
  const float one = 1.0f;
  cublasHandle_t h = cuda_ctx(k)->blas;
  if (!k->bf16) {
    CUBLAS_TRY(cublasSgemm(h, ta, tb, m, n, kk, &one, A, lda, B, ldb, &beta, C, ldc));
    return SR_OK;
  }
  CUBLAS_TRY(cublasGemmEx(h, ta, tb, m, n, kk, &one, A, CUDA_R_32F, lda, B, CUDA_R_32F, ldb,
                          &beta, C, CUDA_R_32F, ldc, CUBLAS_COMPUTE_32F_FAST_16BF,
                          CUBLAS_GEMM_DEFAULT));
  return SR_OK;
}
