/* Cross-entropy over all items with the output layer tied to the item table, fused with its
 * gradient and processed in blocks of rows, so memory stays [block_rows, V] for any batch.
 * The CPU reference; padding targets (0) are skipped before any arithmetic. */
#include <math.h>
#include <string.h>

#include "kernels/cpu.h"
#include "kernels/vecmath.h"

#ifdef _OPENMP
#include <omp.h>
#endif

/* Rows of a thread's share of a block that go through logits, softmax and d hidden together,
 * while their logits ([CE_CHUNK, V-1]: 875 KB for 3,416 items) are still in cache; 64 was the
 * best of 16..128 on ML-1M (larger chunks also pack the item table for sgemm less often). */
#define CE_CHUNK 64
/* Below this many multiply-adds (targets x items x C) the loss runs on one thread. */
#define CE_PARALLEL_MIN (1 << 22)
/* Lanes of the vectorised max and sum, and the elements summed in float before the running
 * sum moves to double (a million items lose no digits). */
#define CE_LANES 16
#define CE_FLUSH 512

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

/* One row of logits z[0..n) with target y: returns the row's loss, lse(z) - z[y], and, when
 * g_scale > 0, leaves (softmax(z) - onehot(y)) * g_scale in z; otherwise exp(z - max z). */
SR_VECTOR_CLONES static double ce_row(float *z, int n, int y, float g_scale) {
  const float z_target = z[y];
  float m[CE_LANES];
  for (int l = 0; l < CE_LANES; l++) m[l] = -INFINITY;
  int j = 0;
  for (; j + CE_LANES <= n; j += CE_LANES)
    for (int l = 0; l < CE_LANES; l++) m[l] = z[j + l] > m[l] ? z[j + l] : m[l];
  float max = -INFINITY;
  for (; j < n; j++) max = z[j] > max ? z[j] : max;
  for (int l = 0; l < CE_LANES; l++) max = m[l] > max ? m[l] : max;
  /* A NaN never wins the max, but exp(NaN - max) keeps it in the sum and so in the loss. */
  for (j = 0; j < n; j++) z[j] = kernel_expf(z[j] - max);
  /* The sum runs in double: over a million items float would lose digits. Float lanes take
   * CE_FLUSH/CE_LANES terms each before they move to it. */
  double sum = 0.0;
  for (int j0 = 0; j0 < n; j0 += CE_FLUSH) {
    const int j1 = j0 + CE_FLUSH < n ? j0 + CE_FLUSH : n;
    float acc[CE_LANES] = {0};
    for (j = j0; j + CE_LANES <= j1; j += CE_LANES)
      for (int l = 0; l < CE_LANES; l++) acc[l] += z[j + l];
    for (; j < j1; j++) acc[0] += z[j];
    for (int l = 0; l < CE_LANES; l++) sum += (double)acc[l];
  }
  if (g_scale > 0.0f) {
    /* d/dz (lse - z_y) = softmax - onehot, divided by the loss's denominator. */
    const float inv = (float)(1.0 / sum) * g_scale;
    for (j = 0; j < n; j++) z[j] *= inv;
    z[y] -= g_scale;
  }
  return (double)max + log(sum) - (double)z_target;
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

  /* One parallel region for the whole loss: every thread walks the same blocks of rows that
   * have a target (padding costs no product) and takes a share of each block's rows (logits,
   * softmax, d hidden), then, after a barrier, a share of the items (d item table, summed over
   * the block's rows). Two barriers per block; the loss is summed by thread 0 in row order. */
  double total = 0.0;
#ifdef _OPENMP
#pragma omp parallel if (count * items * (int64_t)C >= CE_PARALLEL_MIN)
#endif
  {
    int nth = 1, tid = 0;
#ifdef _OPENMP
    nth = omp_get_num_threads();
    tid = omp_get_thread_num();
#endif
    int64_t next = 0;
    for (;;) {
      const int64_t begin = next;
      int nb = 0;
      for (; next < N && nb < block_rows; next++) nb += targets[next] != 0;
      if (nb == 0) break;
      const int r0 = (int)((int64_t)nb * tid / nth), r1 = (int)((int64_t)nb * (tid + 1) / nth);
      for (int64_t r = begin, i = 0; r < next && i < r1; r++) {
        if (targets[r] == 0) continue;
        if (i >= r0) {
          rows[i] = (int32_t)r;
          memcpy(h + (size_t)i * C, hidden + r * C, (size_t)C * sizeof *h);
        }
        i++;
      }
      for (int c0 = r0; c0 < r1; c0 += CE_CHUNK) {
        const int nc = r1 - c0 < CE_CHUNK ? r1 - c0 : CE_CHUNK;
        float *zc = logits + (size_t)c0 * items;
        kernel_sgemm(0, 1, nc, items, C, 1.0f, h + (size_t)c0 * C, C, w, C, 0.0f, zc, items);
        for (int i = c0; i < c0 + nc; i++)
          row_loss[i] = ce_row(logits + (size_t)i * items, items, targets[rows[i]] - 1,
                               want_grad ? g_scale : 0.0f);
        if (dhidden) {
          float *dhc = dh + (size_t)c0 * C;
          kernel_sgemm(0, 0, nc, C, items, 1.0f, zc, items, w, C, 0.0f, dhc, C);
          for (int i = 0; i < nc; i++) {
            float *out = dhidden + (int64_t)rows[c0 + i] * C;
            for (int c = 0; c < C; c++) out[c] += dhc[(size_t)i * C + c];
          }
        }
      }
#ifdef _OPENMP
#pragma omp barrier
#endif
      if (tid == 0)
        for (int i = 0; i < nb; i++) total += row_loss[i];
      if (dw) {
        const int j0 = (int)((int64_t)items * tid / nth), j1 = (int)((int64_t)items * (tid + 1) / nth);
        if (j1 > j0)
          kernel_sgemm(1, 0, j1 - j0, C, nb, 1.0f, logits + j0, items, h, C, 1.0f,
                       dw + (size_t)j0 * C, C);
      }
#ifdef _OPENMP
#pragma omp barrier
#endif
    }
  }
  *loss = total / norm;
  return SR_OK;
}
