/* The CPU backend's one matrix product: sgemm with the rows of C split over OpenMP threads and
 * OpenBLAS itself on one thread, so the backend has ONE pool of threads. Two pools (OpenMP for
 * the loops, OpenBLAS for the products) spin against each other between calls. */
#include <cblas.h>

#include "kernels/cpu.h"

#ifdef _OPENMP
#include <omp.h>
#endif

/* Below this many rows per thread a split costs more than it gains. */
#define GEMM_MIN_ROWS 16

int kernel_gemm_parts(int M) {
  int parts = 1;
#ifdef _OPENMP
  parts = omp_get_max_threads();
  if (parts > M / GEMM_MIN_ROWS) parts = M / GEMM_MIN_ROWS;
  if (omp_in_parallel()) parts = 1;
#endif
  return parts < 1 ? 1 : parts;
}

void kernel_sgemm_rows(int trans_a, int trans_b, int m0, int m1, int N, int K, float alpha,
                       const float *A, int lda, const float *B, int ldb, float beta, float *C,
                       int ldc) {
  if (m1 <= m0 || N <= 0) return;
  /* Rows m0..m1 of C come from rows m0..m1 of op(A): a row offset of A, or a column offset
   * when A is stored transposed ([K, M]). Each element still sums over all of K in one call. */
  const float *a = trans_a ? A + m0 : A + (int64_t)m0 * lda;
  cblas_sgemm(CblasRowMajor, trans_a ? CblasTrans : CblasNoTrans,
              trans_b ? CblasTrans : CblasNoTrans, m1 - m0, N, K, alpha, a, lda, B, ldb, beta,
              C + (int64_t)m0 * ldc, ldc);
}

void kernel_sgemm(int trans_a, int trans_b, int M, int N, int K, float alpha, const float *A,
                  int lda, const float *B, int ldb, float beta, float *C, int ldc) {
  if (M <= 0 || N <= 0) return;
  const int parts = kernel_gemm_parts(M);
  if (parts == 1) {
    kernel_sgemm_rows(trans_a, trans_b, 0, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
    return;
  }
#ifdef _OPENMP
#pragma omp parallel for schedule(static) num_threads(parts)
#endif
  for (int p = 0; p < parts; p++)
    kernel_sgemm_rows(trans_a, trans_b, kernel_part(M, p, parts), kernel_part(M, p + 1, parts),
                      N, K, alpha, A, lda, B, ldb, beta, C, ldc);
}
