/* Cross-entropy over all items with the output layer tied to the item table, fused with its
 * gradient and processed in chunks of rows, so memory stays [block_rows, V] for any batch.
 * The CPU reference; padding targets (0) are skipped before any arithmetic. Per chunk: three
 * sgemms (logits, d hidden, d item table) around a vectorised softmax. */
#include <math.h>
#include <string.h>

#include "kernels/cpu.h"
#include "kernels/vecmath.h"

#ifdef _OPENMP
#include <omp.h>
#endif

/* Rows that go through logits, softmax and d hidden together, while their logits
 * ([CE_CHUNK, V-1]: 875 KB for 3,416 items) are still in cache; 64 was the best of 16..128 on
 * ML-1M (larger chunks also pack the item table for sgemm less often). */
#define CE_CHUNK 64
/* The fewest rows per chunk worth running the loss without barriers (ce_rows_alone). */
#define CE_MIN_CHUNK 16
/* Below this many multiply-adds (targets x items x C) the loss runs on one thread. */
#define CE_PARALLEL_MIN (1 << 22)
/* Most threads that run the loss without barriers (one partial loss each on the stack). */
#define CE_MAX_ALONE 64
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

/* What every thread of the loss shares: the problem, and scratch carved as
 * kernel_loss_ce_scratch_bytes_cpu lays it out. */
typedef struct {
  const float *hidden;    /* [N, C] */
  const int32_t *targets; /* [N] */
  const float *w;         /* [items, C]: rows 1.. of the item table */
  float *dhidden;         /* [N, C] or NULL */
  float *dw;              /* [items, C] or NULL */
  int N, C, items, R;
  float g_scale;          /* 1/denominator; 0: forward only */
  int bf16;               /* round d logits to bf16 before the products (kernels.h) */
  int32_t *rows;          /* [R] */
  double *row_loss;       /* [R] */
  float *h, *logits, *dh; /* [R, C], [R, items], [R, C] */
} ce_args;

/* nc gathered rows (ids rows[], hidden h): logits z = h . w^T, then each row's loss into
 * row_loss and its d logits in place, then d hidden (added to the rows of dhidden). */
static void ce_chunk(const ce_args *a, const int32_t *rows, const float *h, float *z, float *dh,
                     int nc, double *row_loss) {
  const int C = a->C, items = a->items;
  kernel_sgemm_rows(0, 1, 0, nc, items, C, 1.0f, h, C, a->w, C, 0.0f, z, items);
  for (int i = 0; i < nc; i++)
    row_loss[i] = ce_row(z + (size_t)i * items, items, a->targets[rows[i]] - 1, a->g_scale);
  if (a->bf16 && a->g_scale > 0.0f) kernel_bf16_round_span(z, z, (int64_t)nc * items);
  if (!a->dhidden) return;
  kernel_sgemm_rows(0, 0, 0, nc, C, items, 1.0f, z, items, a->w, C, 0.0f, dh, C);
  for (int i = 0; i < nc; i++) {
    float *out = a->dhidden + (int64_t)rows[i] * C;
    for (int c = 0; c < C; c++) out[c] += dh[(size_t)i * C + c];
  }
}

/* Each thread alone on its share of the rows with a target, `chunk` rows at a time, its part
 * of d item table in its own [items, C] buffer inside the logits scratch; one barrier, then
 * the buffers are summed into dw (thread order, by slices of items). Used when the scratch
 * holds nth * (chunk + C) rows of logits. *partial[tid]: the loss of this thread's rows. */
static void ce_rows_alone(const ce_args *a, int64_t count, int tid, int nth, int chunk,
                          double *partial) {
  const int C = a->C, items = a->items;
  float *z = a->logits + (size_t)tid * (size_t)(chunk + C) * items; /* [chunk, items] */
  float *dwp = nth > 1 ? z + (size_t)chunk * items : a->dw;         /* [items, C] */
  float *h = a->h + (size_t)tid * chunk * C, *dh = a->dh + (size_t)tid * chunk * C;
  int32_t *rows = a->rows + (size_t)tid * chunk;
  if (a->dw && nth > 1) memset(dwp, 0, (size_t)items * C * sizeof *dwp);
  const int64_t first = count * tid / nth, last = count * (tid + 1) / nth;
  double sum = 0.0;
  int64_t seen = 0, r = 0;
  while (seen < last) {
    int nc = 0;
    for (; r < a->N && seen < last && nc < chunk; r++) {
      if (a->targets[r] == 0) continue;
      if (seen++ < first) continue;
      rows[nc] = (int32_t)r;
      memcpy(h + (size_t)nc * C, a->hidden + r * C, (size_t)C * sizeof *h);
      nc++;
    }
    if (nc == 0) break;
    ce_chunk(a, rows, h, z, dh, nc, a->row_loss + (size_t)tid * chunk);
    for (int i = 0; i < nc; i++) sum += a->row_loss[(size_t)tid * chunk + i];
    if (a->dw) kernel_sgemm_rows(1, 0, 0, items, C, nc, 1.0f, z, items, h, C, 1.0f, dwp, C);
  }
  partial[tid] = sum;
  if (!a->dw || nth == 1) return;
#ifdef _OPENMP
#pragma omp barrier
#endif
  const int j0 = kernel_part(items, tid, nth), j1 = kernel_part(items, tid + 1, nth);
  for (int q = 0; q < nth; q++) {
    const float *src = a->logits + (size_t)q * (size_t)(chunk + C) * items + (size_t)chunk * items;
    for (size_t e = (size_t)j0 * C; e < (size_t)j1 * C; e++) a->dw[e] += src[e];
  }
}

/* Every thread walks the same blocks of R rows that have a target and takes a share of each
 * block's rows (ce_chunk), then, after a barrier, a share of the items (d item table over the
 * block's rows, one sgemm). Two barriers per block; thread 0 sums the loss in row order. */
static void ce_blocks(const ce_args *a, int tid, int nth, double *total) {
  const int C = a->C, items = a->items;
  int64_t next = 0;
  for (;;) {
    const int64_t begin = next;
    int nb = 0;
    for (; next < a->N && nb < a->R; next++) nb += a->targets[next] != 0;
    if (nb == 0) break;
    const int r0 = kernel_part(nb, tid, nth), r1 = kernel_part(nb, tid + 1, nth);
    for (int64_t r = begin, i = 0; r < next && i < r1; r++) {
      if (a->targets[r] == 0) continue;
      if (i >= r0) {
        a->rows[i] = (int32_t)r;
        memcpy(a->h + (size_t)i * C, a->hidden + r * C, (size_t)C * sizeof *a->h);
      }
      i++;
    }
    for (int c0 = r0; c0 < r1; c0 += CE_CHUNK) {
      const int nc = r1 - c0 < CE_CHUNK ? r1 - c0 : CE_CHUNK;
      ce_chunk(a, a->rows + c0, a->h + (size_t)c0 * C, a->logits + (size_t)c0 * items,
               a->dh + (size_t)c0 * C, nc, a->row_loss + c0);
    }
#ifdef _OPENMP
#pragma omp barrier
#endif
    if (tid == 0)
      for (int i = 0; i < nb; i++) *total += a->row_loss[i];
    if (a->dw)
      kernel_sgemm_rows(1, 0, kernel_part(items, tid, nth), kernel_part(items, tid + 1, nth), C,
                        nb, 1.0f, a->logits, items, a->h, C, 1.0f, a->dw, C);
#ifdef _OPENMP
#pragma omp barrier
#endif
  }
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
  const size_t R = (size_t)block_rows;
  /* Item 0 is padding: it is never a candidate, so the logits cover rows 1..V-1 of wte and
   * row 0 of dwte is never written. */
  ce_args a = {.hidden = hidden, .targets = targets, .w = wte + C, .dhidden = dhidden,
               .dw = dwte ? dwte + C : NULL, .N = N, .C = C, .items = V - 1, .R = block_rows,
               .g_scale = dhidden || dwte ? (float)(1.0 / norm) : 0.0f, .bf16 = k->bf16};
  unsigned char *p = scratch;
  a.rows = (int32_t *)p;
  p += kernel_scratch_round(R * sizeof(int32_t));
  a.row_loss = (double *)p;
  p += kernel_scratch_round(R * sizeof(double));
  a.h = (float *)p;
  p += kernel_scratch_round(R * (size_t)C * sizeof(float));
  a.logits = (float *)p; /* becomes d loss / d logits */
  p += kernel_scratch_round(R * (size_t)a.items * sizeof(float));
  a.dh = (float *)p;

  /* One parallel region for the whole loss. Without barriers when the scratch allows (each
   * thread's rows alone, its own d item table), else in blocks of R rows (two per block). */
  double total = 0.0, partial[CE_MAX_ALONE];
#ifdef _OPENMP
#pragma omp parallel if (count * a.items * (int64_t)C >= CE_PARALLEL_MIN)
#endif
  {
    int nth = 1, tid = 0;
#ifdef _OPENMP
    nth = omp_get_num_threads();
    tid = omp_get_thread_num();
#endif
    int chunk = block_rows / nth - C;
    if (chunk > CE_CHUNK) chunk = CE_CHUNK;
    if (chunk >= CE_MIN_CHUNK && nth <= CE_MAX_ALONE) {
      ce_rows_alone(&a, count, tid, nth, chunk, partial);
#ifdef _OPENMP
#pragma omp barrier
#endif
      if (tid == 0)
        for (int q = 0; q < nth; q++) total += partial[q];
    } else {
      ce_blocks(&a, tid, nth, &total);
    }
  }
  *loss = total / norm;
  kernel_bf16_round(k, dhidden, (int64_t)N * C);
  return SR_OK;
}
