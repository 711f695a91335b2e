/* Item embedding gather (scaled) plus the learned position of each slot, and the scatter of
 * their gradients. CPU reference; knows nothing of which rows the model trains. */
#include <string.h>

#include "kernels/cpu.h"

static sr_status embed_check(const char *op, const int32_t *ids, int B, int T, int C, int V,
                             int P) {
  if (B < 0 || T < 0 || C <= 0 || V <= 0 || P < T)
    return sr_error(SR_EINVAL, "%s: bad shape B=%d T=%d C=%d V=%d P=%d (need T <= P)", op, B, T,
                    C, V, P);
  for (int64_t i = 0; i < (int64_t)B * T; i++)
    if (ids[i] < 0 || ids[i] >= V)
      return sr_error(SR_EINVAL, "%s: id %d at sequence %lld, slot %lld is outside 0..%d", op,
                      ids[i], (long long)(i / T), (long long)(i % T), V - 1);
  return SR_OK;
}

sr_status kernel_embed_forward_cpu(const sr_kernels *k, float *out, const int32_t *ids,
                                   const float *wte, const float *wpe, int B, int T, int C,
                                   int V, int P, float scale) {
  TRY(embed_check("embed_forward", ids, B, T, C, V, P));
  SR_OMP_FOR
  for (int64_t i = 0; i < (int64_t)B * T; i++) {
    float *o = out + i * C;
    int32_t id = ids[i];
    if (id == 0) {
      memset(o, 0, (size_t)C * sizeof *o);
      continue;
    }
    const float *e = wte + (int64_t)id * C;
    const float *p = wpe + (int64_t)(P - T + i % T) * C;
    for (int c = 0; c < C; c++) o[c] = scale * e[c] + p[c];
  }
  kernel_bf16_round(k, out, (int64_t)B * T * C);
  return SR_OK;
}

sr_status kernel_embed_backward_cpu(const sr_kernels *k, float *dwte, float *dwpe,
                                    const float *dout, const int32_t *ids, int B, int T, int C,
                                    int V, int P, float scale) {
  TRY(embed_check("embed_backward", ids, B, T, C, V, P));
  /* Many tokens share an item row, so the scatter runs in token order on one thread: cheap
   * (N*C adds) next to the rest of the step, and bit-reproducible. */
  for (int64_t i = 0; i < (int64_t)B * T; i++) {
    int32_t id = ids[i];
    if (id == 0) continue;
    const float *d = dout + i * C;
    if (dwte) {
      float *g = dwte + (int64_t)id * C;
      for (int c = 0; c < C; c++) g[c] += scale * d[c];
    }
    if (dwpe) {
      float *g = dwpe + (int64_t)(P - T + i % T) * C;
      for (int c = 0; c < C; c++) g[c] += d[c];
    }
  }
  return SR_OK;
}
