/* Binary cross-entropy with one sampled negative per position, as in the SASRec paper:
 * -log sigmoid(s_pos) - log(1 - sigmoid(s_neg)), fused with its gradient. The CPU reference.
 * Its cost is O(N*C), so it runs on one thread in row order: reproducible, no scratch. */
#include <math.h>

#include "kernels/cpu.h"

/* log(1 + e^x) without overflow; -log sigmoid(x) = softplus(-x). */
static double softplus(double x) { return (x > 0.0 ? x : 0.0) + log1p(exp(-fabs(x))); }
static double sigmoid(double x) {
  return x >= 0.0 ? 1.0 / (1.0 + exp(-x)) : exp(x) / (1.0 + exp(x));
}

sr_status kernel_loss_bce_cpu(const sr_kernels *k, double *loss, int64_t *n_targets,
                              float *dhidden, float *dwte, const float *hidden,
                              const int32_t *targets, const int32_t *negatives,
                              const float *wte, int N, int C, int V, double denom) {
  if (N < 0 || C <= 0 || V < 2)
    return sr_error(SR_EINVAL, "loss_bce: bad shape N=%d C=%d V=%d", N, C, V);
  int64_t count = 0;
  TRY(kernel_loss_count_targets("loss_bce", targets, N, V, &count));
  for (int64_t r = 0; r < N; r++)
    if (negatives[r] < 0 || negatives[r] >= V)
      return sr_error(SR_EINVAL, "loss_bce: negative %d at row %lld is outside 0..%d",
                      negatives[r], (long long)r, V - 1);
  *loss = 0.0;
  if (n_targets) *n_targets = count;
  if (count == 0) return SR_OK;

  const double norm = denom > 0.0 ? denom : (double)count;
  double total = 0.0;
  for (int64_t r = 0; r < N; r++) {
    const int32_t y = targets[r], n = negatives[r];
    if (y == 0) continue;
    const float *hr = hidden + r * C;
    const float *wy = wte + (int64_t)y * C, *wn = wte + (int64_t)n * C;
    float s_pos = 0.0f, s_neg = 0.0f;
    for (int c = 0; c < C; c++) s_pos += hr[c] * wy[c];
    if (n != 0)
      for (int c = 0; c < C; c++) s_neg += hr[c] * wn[c];
    total += softplus(-(double)s_pos) + (n != 0 ? softplus((double)s_neg) : 0.0);

    /* d/ds softplus(-s) = -sigmoid(-s); d/ds softplus(s) = sigmoid(s). */
    const float g_pos = (float)(-sigmoid(-(double)s_pos) / norm);
    const float g_neg = n != 0 ? (float)(sigmoid((double)s_neg) / norm) : 0.0f;
    if (dhidden) {
      float *dh = dhidden + r * C;
      for (int c = 0; c < C; c++) dh[c] += g_pos * wy[c];
      if (n != 0)
        for (int c = 0; c < C; c++) dh[c] += g_neg * wn[c];
    }
    if (dwte) {
      float *gy = dwte + (int64_t)y * C, *gn = dwte + (int64_t)n * C;
      for (int c = 0; c < C; c++) gy[c] += g_pos * hr[c];
      if (n != 0)
        for (int c = 0; c < C; c++) gn[c] += g_neg * hr[c];
    }
  }
  *loss = total / norm;
  kernel_bf16_round(k, dhidden, (int64_t)N * C);
  return SR_OK;
}
