/* Sampled softmax cross-entropy: the positive against K sampled negatives, each score
 * corrected by the log of its sampling probability (logQ) so that the expected gradient
 * approaches the full softmax's. The CPU reference; the caller draws the negatives. */
#include <math.h>

#include "kernels/cpu.h"

/* Scratch, in order: row index [R] (int32), row loss [R] (double), candidate gradients
 * [R, K+1]. */
size_t kernel_loss_sampled_ce_scratch_bytes_cpu(int K, int block_rows) {
  size_t R = block_rows > 0 ? (size_t)block_rows : 0, cand = K >= 0 ? (size_t)K + 1 : 0;
  return kernel_scratch_round(R * sizeof(int32_t)) + kernel_scratch_round(R * sizeof(double)) +
         kernel_scratch_round(R * cand * sizeof(float));
}

static float dot(const float *a, const float *b, int C) {
  float s = 0.0f;
  for (int c = 0; c < C; c++) s += a[c] * b[c];
  return s;
}

sr_status kernel_loss_sampled_ce_cpu(const sr_kernels *k, double *loss, int64_t *n_targets,
                                     float *dhidden, float *dwte, const float *hidden,
                                     const int32_t *targets, const int32_t *negatives,
                                     const float *logq, const float *wte, int N, int C, int V,
                                     int K, double denom, int block_rows, void *scratch,
                                     size_t scratch_bytes) {
  if (N < 0 || C <= 0 || V < 2 || K < 0 || block_rows <= 0)
    return sr_error(SR_EINVAL, "loss_sampled_ce: bad shape N=%d C=%d V=%d K=%d block_rows=%d",
                    N, C, V, K, block_rows);
  size_t need = kernel_loss_sampled_ce_scratch_bytes_cpu(K, block_rows);
  if (scratch_bytes < need || !scratch)
    return sr_error(SR_EINVAL, "loss_sampled_ce: scratch of %zu bytes, needs %zu (size it with "
                    "k->scratch_bytes)", scratch_bytes, need);
  int64_t count = 0;
  TRY(kernel_loss_count_targets("loss_sampled_ce", targets, N, V, &count));
  for (int64_t i = 0; i < (int64_t)N * K; i++)
    if (negatives[i] < 0 || negatives[i] >= V)
      return sr_error(SR_EINVAL, "loss_sampled_ce: negative %d at row %lld, column %lld is "
                      "outside 0..%d", negatives[i], (long long)(i / K), (long long)(i % K),
                      V - 1);
  *loss = 0.0;
  if (n_targets) *n_targets = count;
  if (count == 0) return SR_OK;

  const double norm = denom > 0.0 ? denom : (double)count;
  const int want_grad = dhidden != NULL || dwte != NULL;
  const int cand = K + 1; /* candidate 0 is the positive, 1..K the negatives */
  const size_t R = (size_t)block_rows;
  unsigned char *p = scratch;
  int32_t *rows = (int32_t *)p;
  p += kernel_scratch_round(R * sizeof(int32_t));
  double *row_loss = (double *)p;
  p += kernel_scratch_round(R * sizeof(double));
  float *dz = (float *)p; /* [R, cand]: d loss / d score of each candidate, 0 when left out */

  double total = 0.0;
  int64_t next = 0;
  for (;;) {
    int nb = 0;
    for (; next < N && nb < block_rows; next++)
      if (targets[next] != 0) rows[nb++] = (int32_t)next;
    if (nb == 0) break;

    SR_OMP_FOR
    for (int i = 0; i < nb; i++) {
      const int64_t r = rows[i];
      const int32_t y = targets[r];
      const int32_t *neg = negatives + r * K;
      const float *hr = hidden + r * C;
      float *z = dz + (size_t)i * cand;
      /* Corrected scores; a left-out candidate is marked by -inf and ends with gradient 0. */
      z[0] = dot(hr, wte + (int64_t)y * C, C) - (logq ? logq[y] : 0.0f);
      float max = z[0];
      for (int j = 0; j < K; j++) {
        int32_t n = neg[j];
        if (n == 0 || n == y) {
          z[j + 1] = -INFINITY;
          continue;
        }
        z[j + 1] = dot(hr, wte + (int64_t)n * C, C) - (logq ? logq[n] : 0.0f);
        if (z[j + 1] > max) max = z[j + 1];
      }
      double sum = 0.0;
      for (int j = 0; j < cand; j++) sum += exp((double)(z[j] - max));
      const double lse = (double)max + log(sum);
      row_loss[i] = lse - (double)z[0];
      if (!want_grad) continue;
      for (int j = 0; j < cand; j++) z[j] = (float)(exp((double)z[j] - lse) / norm);
      z[0] -= (float)(1.0 / norm);
      if (dhidden) {
        float *dh = dhidden + r * C;
        for (int j = 0; j < cand; j++) {
          if (z[j] == 0.0f) continue;
          const float *wr = wte + (int64_t)(j == 0 ? y : neg[j - 1]) * C;
          for (int c = 0; c < C; c++) dh[c] += z[j] * wr[c];
        }
      }
    }
    for (int i = 0; i < nb; i++) total += row_loss[i];

    /* Candidates repeat across rows, so the table's gradient is scattered on one thread, in
     * row order: reproducible, and K*C adds per row. */
    if (dwte) {
      for (int i = 0; i < nb; i++) {
        const int64_t r = rows[i];
        const float *hr = hidden + r * C;
        const float *z = dz + (size_t)i * cand;
        for (int j = 0; j < cand; j++) {
          if (z[j] == 0.0f) continue;
          float *g = dwte + (int64_t)(j == 0 ? targets[r] : negatives[r * K + j - 1]) * C;
          for (int c = 0; c < C; c++) g[c] += z[j] * hr[c];
        }
      }
    }
  }
  *loss = total / norm;
  kernel_bf16_round(k, dhidden, (int64_t)N * C);
  return SR_OK;
}
