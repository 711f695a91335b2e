/* Item embedding gather plus position, and the scatter of their gradients: the CUDA twin of
 * embed.c. The scatter is deterministic without float atomics: dwte by item ownership (one
 * warp adds an item's tokens in token order: the CPU's order and bits), dwpe one thread per
 * (position, column) summing the sequences in order. */
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
    /* Rounded apart, not fused: the CPU's bits. */
    out[e] = id == 0 ? 0.0f
                     : __fadd_rn(__fmul_rn(scale, wte[(int64_t)id * C + c]),
                                 wpe[(int64_t)(P - T + i % T) * C + c]);
  }
}

/* dwte by ownership: warp b (one per CUDA block) owns the items id with id % owners == b and
 * walks the tokens in order, EMBED_SPAN at a time (lane l loads tokens l, l + 32, ...: the
 * loads are in flight together), adding the rows of the tokens it owns with lanes over
 * columns. Every row of dwte gets its tokens in token order from one warp: the CPU's order, and
 * with the multiply and the add rounded apart (no FMA), the CPU's bits. Row 0 (padding) is
 * never written. */
#define EMBED_OWNERS_MAX 1024
#define EMBED_SPAN 256
__global__ void embed_dwte_kernel(float *dwte, const float *dout, const int32_t *ids, int64_t N,
                                  int C, float scale, int owners) {
  const int lane = threadIdx.x;
  const int32_t owner = (int32_t)blockIdx.x;
  for (int64_t base = 0; base < N; base += EMBED_SPAN) {
    int32_t id[EMBED_SPAN / 32];
    for (int s = 0; s < EMBED_SPAN / 32; s++) {
      const int64_t i = base + s * 32 + lane;
      id[s] = i < N ? ids[i] : 0;
    }
    for (int s = 0; s < EMBED_SPAN / 32; s++) {
      unsigned mask = __ballot_sync(0xffffffffu, id[s] != 0 && id[s] % owners == owner);
      while (mask) {
        const int l = __ffs(mask) - 1;
        mask &= mask - 1u;
        const int64_t i = base + s * 32 + l;
        const int32_t item = __shfl_sync(0xffffffffu, id[s], l);
        float *g = dwte + (int64_t)item * C;
        const float *d = dout + i * C;
        for (int c = lane; c < C; c += 32) g[c] = __fadd_rn(g[c], __fmul_rn(scale, d[c]));
        __syncwarp();
      }
    }
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
    const int owners = V < EMBED_OWNERS_MAX ? V : EMBED_OWNERS_MAX;
    embed_dwte_kernel<<<(unsigned)owners, 32, 0, cuda_stream(k)>>>(dwte, dout, ids, N, C, scale,
                                                                   owners);
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
