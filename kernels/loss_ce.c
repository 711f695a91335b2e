/* Cross-entropy over all items with the output layer tied to the item table, fused with its
 * gradient and processed in blocks of rows, so memory stays [block_rows, V] for any batch.
 * The CPU reference; padding targets (0) are skipped before any arithmetic. */
#include <math.h>

#include "kernels/cpu.h"

sr_status kernel_loss_count_targets(const char *op, const int32_t *targets, int N, int V,
                                    int64_t *count) {
  int64_t n = 0;
  for (int64_t r = 0; r < N; r++) {
    if (targets[r] < 0 || targets[r] >= V)
      return sr_error(SR_EINVAL, "%s: target %d at row %lld is outside 0..%d", op, targets[r],
                      (long long)r, V - 1);
    n += targets[r] != 0;
  }
  *count = n;
  return SR_OK;
}

/* Scratch, in order: row index [R] (int32), row loss [R] (double), hidden block [R, C],
 * logits block [R, V-1], hidden-gradient block [R, C]. */
size_t kernel_loss_ce_scratch_bytes_cpu(int C, int V, int block_rows) {
  size_t R = block_rows > 0 ? (size_t)block_rows : 0, items = V > 1 ? (size_t)(V - 1) : 0;
  return kernel_scratch_round(R * sizeof(int32_t)) + kernel_scratch_round(R * sizeof(double)) +
         2 * kernel_scratch_round(R * (size_t)C * sizeof(float)) +
         kernel_scratch_round(R * items * sizeof(float));
}

sr_status kernel_loss_ce_cpu(const sr_kernels *k, double *loss, int64_t *n_targets,
                             float *dhidden, float *dwte, const float *hidden,
                             const int32_t *targets, const float *wte, int N, int C, int V,
                             double denom, int block_rows, void *scratch,
                             size_t scratch_bytes) {
  if (N < 0 || C <= 0 || V < 2 || block_rows <= 0)
    return sr_error(SR_EINVAL, "loss_ce: bad shape N=%d C=%d V=%d block_rows=%d (need V >= 2)",
                    N, C, V, block_rows);
  size_t need = kernel_loss_ce_scratch_bytes_cpu(C, V, block_rows);
  if (scratch_bytes < need || !scratch)
    return sr_error(SR_EINVAL, "loss_ce: scratch of %zu bytes, needs %zu for block_rows=%d, "
                    "V=%d (size it with k->scratch_bytes)", scratch_bytes, need, block_rows, V);
  int64_t count = 0;
  TRY(kernel_loss_count_targets("loss_ce", targets, N, V, &count));
  *loss = 0.0;
  if (n_targets) *n_targets = count;
  if (count == 0) return SR_OK;

  const double norm = denom > 0.0 ? denom : (double)count;
  const float g_scale = (float)(1.0 / norm);
  const int want_grad = dhidden != NULL || dwte != NULL;
  /* Item 0 is padding: it is never a candidate, so the logits cover rows 1..V-1 of wte and
   * row 0 of dwte is never written. */
  const int items = V - 1;
  const float *w = wte + C;         /* [items, C] */
  float *dw = dwte ? dwte + C : NULL; /* [items, C] */

  const size_t R = (size_t)block_rows;
  unsigned char *p = scratch;
  int32_t *rows = (int32_t *)p;
  p += kernel_scratch_round(R * sizeof(int32_t));
  double *row_loss = (double *)p;
  p += kernel_scratch_round(R * sizeof(double));
  float *h = (float *)p; /* [R, C] */
  p += kernel_scratch_round(R * (size_t)C * sizeof(float));
  float *logits = (float *)p; /* [R, items], becomes d loss / d logits */
  p += kernel_scratch_round(R * (size_t)items * sizeof(float));
  float *dh = (float *)p; /* [R, C] */

  double total = 0.0;
  int64_t next = 0;
  for (;;) {
    /* Gather the next block of rows that have a target: padding costs no product. */
    int nb = 0;
    for (; next < N && nb < block_rows; next++)
      if (targets[next] != 0) rows[nb++] = (int32_t)next;
    if (nb == 0) break;
    for (int i = 0; i < nb; i++)
      for (int c = 0; c < C; c++) h[(size_t)i * C + c] = hidden[(int64_t)rows[i] * C + c];

    kernel_sgemm(0, 1, nb, items, C, 1.0f, h, C, w, C, 0.0f, logits, items);

    SR_OMP_FOR
    for (int i = 0; i < nb; i++) {
      float *z = logits + (size_t)i * items;
      const int y = targets[rows[i]] - 1;
      const float z_target = z[y];
      float max = z[0];
      for (int j = 1; j < items; j++)
        if (z[j] > max) max = z[j];
      /* The sum runs in double: over a million items float would lose digits. */
      double sum = 0.0;
      for (int j = 0; j < items; j++) {
        z[j] = expf(z[j] - max);
        sum += z[j];
      }
      row_loss[i] = (double)max + log(sum) - (double)z_target;
      if (want_grad) {
        /* d/dz (lse - z_y) = softmax - onehot, divided by the loss's denominator. */
        const float inv = (float)(1.0 / sum) * g_scale;
        for (int j = 0; j < items; j++) z[j] *= inv;
        z[y] -= g_scale;
      }
    }
    for (int i = 0; i < nb; i++) total += row_loss[i];

    if (dhidden) {
      kernel_sgemm(0, 0, nb, C, items, 1.0f, logits, items, w, C, 0.0f, dh, C);
      for (int i = 0; i < nb; i++)
        for (int c = 0; c < C; c++) dhidden[(int64_t)rows[i] * C + c] += dh[(size_t)i * C + c];
    }
    if (dw)
      kernel_sgemm(1, 0, items, C, nb, 1.0f, logits, items, h, C, 1.0f, dw, C);
  }
  *loss = total / norm;
  return SR_OK;
}
