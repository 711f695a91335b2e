/* Item embedding gather plus position, and the scatter of their gradients: the CUDA twin of
 * embed.c. The scatter is deterministic without float atomics: one thread per column c adds
 * the tokens' rows in token order, exactly the CPU's order (the same bits), and dwpe gets one
 * thread per (position, column) summing the sequences in order. */
#include "kernels/cuda.h"

static sr_status embed_check(const sr_kernels *k, const char *op, const int32_t *ids, int B,
                             int T, int C, int V, int P) {
  if (B < 0 || T < 0 || C <= 0 || V <= 0 || P < T)
    return sr_error(SR_EINVAL, "%s: bad shape B=%d T=%d C=%d V=%d P=%d (need T <= P)", op, B, T,
                    C, V, P);
  return kernel_cuda_ids_check(k, op, ids, (int64_t)B * T, T, V);
}

__global__ void embed_forward_kernel(float *out, const int32_t *ids, const float *wte,
                                     const float *wpe, int64_t N, int T, int C, int P,
                                     float scale) {
  for (int64_t e = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; e < N * C;
       e += (int64_t)gridDim.x * blockDim.x) {
    const int64_t i = e / C;
    const int c = (int)(e % C);
    const int32_t id = ids[i];
    out[e] = id == 0 ? 0.0f
                     : scale * wte[(int64_t)id * C + c] + wpe[(int64_t)(P - T + i % T) * C + c];
  }
}

/* Column c of dwte: tokens in order (row 0, padding, never written). */
__global__ void embed_dwte_kernel(float *dwte, const float *dout, const int32_t *ids, int64_t N,
                                  int C, float scale) {
  const int c = blockIdx.x * blockDim.x + threadIdx.x;
  if (c >= C) return;
  for (int64_t i = 0; i < N; i++) {
    const int32_t id = ids[i];
    if (id != 0) dwte[(int64_t)id * C + c] += scale * dout[i * C + c];
  }
}

/* dwpe[P-T+t, c]: sequences in order, real tokens only. */
__global__ void embed_dwpe_kernel(float *dwpe, const float *dout, const int32_t *ids, int B,
                                  int T, int C, int P) {
  const int64_t e = blockIdx.x * (int64_t)blockDim.x + threadIdx.x;
  if (e >= (int64_t)T * C) return;
  const int t = (int)(e / C), c = (int)(e % C);
  float acc = dwpe[(int64_t)(P - T + t) * C + c];
  for (int b = 0; b < B; b++) {
    const int64_t i = (int64_t)b * T + t;
    if (ids[i] != 0) acc += dout[i * C + c];
  }
  dwpe[(int64_t)(P - T + t) * C + c] = acc;
}

sr_status kernel_embed_forward_cuda(const sr_kernels *k, float *out, const int32_t *ids,
                                    const float *wte, const float *wpe, int B, int T, int C,
                                    int V, int P, float scale) {
  TRY(embed_check(k, "embed_forward", ids, B, T, C, V, P));
  const int64_t N = (int64_t)B * T;
  if (N == 0) return SR_OK;
  embed_forward_kernel<<<cuda_blocks(N * C, 256), 256, 0, cuda_stream(k)>>>(out, ids, wte, wpe,
                                                                            N, T, C, P, scale);
  LAUNCH_TRY();
  return kernel_cuda_bf16_round(k, out, N * C);
}

sr_status kernel_embed_backward_cuda(const sr_kernels *k, float *dwte, float *dwpe,
                                     const float *dout, const int32_t *ids, int B, int T, int C,
                                     int V, int P, float scale) {
  TRY(embed_check(k, "embed_backward", ids, B, T, C, V, P));
  const int64_t N = (int64_t)B * T;
  if (N == 0) return SR_OK;
  if (dwte) {
    embed_dwte_kernel<<<(C + 63) / 64, 64, 0, cuda_stream(k)>>>(dwte, dout, ids, N, C, scale);
    LAUNCH_TRY();
  }
  if (dwpe) {
    const int64_t n = (int64_t)T * C;
    embed_dwpe_kernel<<<(unsigned)((n + 255) / 256), 256, 0, cuda_stream(k)>>>(dwpe, dout, ids,
                                                                               B, T, C, P);
    LAUNCH_TRY();
  }
  return SR_OK;
}
