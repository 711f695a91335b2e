/* The host half of cuda.h's deterministic column sums: the chunking, and the kernel that adds
 * the chunks' sums in chunk order. */
#include "kernels/cuda.h"

/* 256 rows per chunk: at ML-1M's 25,600 rows a step, 100 chunks x (C / 32) blocks of work. At
 * most 1,024 chunks, so that the finishing thread of a column adds at most 1,024 sums. */
#define COLSUM_CHUNK_ROWS 256
#define COLSUM_CHUNKS_MAX 1024

sr_status kernel_cuda_colsum_plan(const sr_kernels *k, sr_cuda_colsum *plan, int64_t N, int C,
                                  int terms) {
  int64_t cap = SR_CUDA_COLSUM_FLOATS / ((int64_t)terms * C);
  if (cap > COLSUM_CHUNKS_MAX) cap = COLSUM_CHUNKS_MAX;
  if (cap < 1)
    return sr_error(SR_EINVAL, "column sums: %d columns x %d sums exceed the %d floats of the "
                    "CUDA backend's workspace", C, terms, SR_CUDA_COLSUM_FLOATS);
  int64_t rows = COLSUM_CHUNK_ROWS;
  if ((N + rows - 1) / rows > cap) rows = (N + cap - 1) / cap;
  plan->sums = cuda_ctx(k)->colsum;
  plan->chunk_rows = rows;
  plan->chunks = (int)((N + rows - 1) / rows);
  plan->terms = terms;
  plan->C = C;
  return SR_OK;
}

__global__ void colsum_finish_kernel(float *out0, float *out1, const sr_cuda_colsum p) {
  const int c = blockIdx.x * blockDim.x + threadIdx.x;
  if (c >= p.C) return;
  float *out[2] = {out0, out1};
  for (int j = 0; j < p.terms; j++) {
    if (!out[j]) continue;
    float s = 0.0f;
    for (int g = 0; g < p.chunks; g++) s += p.sums[((int64_t)g * p.terms + j) * p.C + c];
    out[j][c] += s;
  }
}

sr_status kernel_cuda_colsum_finish(const sr_kernels *k, const sr_cuda_colsum *plan,
                                    float *out0, float *out1) {
  if (plan->chunks == 0) return SR_OK;
  colsum_finish_kernel<<<(unsigned)((plan->C + 127) / 128), 128, 0, cuda_stream(k)>>>(
      out0, out1, *plan);
  LAUNCH_TRY();
  return SR_OK;
}
