/* Dropout whose mask is a pure function of (seed, stream, step, index), so backward recomputes
 * it, and the residual add with its branch's dropout fused in: the CPU reference. */
#include <math.h>

#include "kernels/cpu.h"

/* Philox4x32-10 as core/rng.c computes it, on many blocks at once so that the compiler
 * vectorises the rounds (one block at a time, the mask costs more than the op it masks). */
#define PHILOX_M0 0xD2511F53u
#define PHILOX_M1 0xCD9E8D57u
#define PHILOX_W0 0x9E3779B9u
#define PHILOX_W1 0xBB67AE85u
#define PHILOX_BATCH 64 /* blocks per batch: 256 mask elements */
/* Elements per chunk of the element-wise ops: their factors sit in a buffer on the stack. */
#define DROPOUT_CHUNK 2048

sr_status kernel_dropout_check(const char *op, const sr_dropout *d, int64_t n) {
  if (n < 0) return sr_error(SR_EINVAL, "%s: n=%lld", op, (long long)n);
  if (!d) return SR_OK;
  if (!(d->p >= 0.0f && d->p < 1.0f))
    return sr_error(SR_EINVAL, "%s: dropout probability %g is outside [0, 1)", op, (double)d->p);
  if (d->p > 0.0f && (uint64_t)n > SR_DROPOUT_MAX_ELEMENTS)
    return sr_error(SR_EINVAL, "%s: %lld elements exceed the dropout index space (2^34)", op,
                    (long long)n);
  if (d->p > 0.0f && d->step > UINT32_MAX)
    return sr_error(SR_EINVAL, "%s: dropout step %llu exceeds 2^32-1", op,
                    (unsigned long long)d->step);
  return SR_OK;
}

SR_VECTOR_CLONES void kernel_dropout_factors(const sr_dropout *d, uint64_t i0, int64_t n,
                                             float *f) {
  const float scale = 1.0f / (1.0f - d->p), p = d->p;
  const uint32_t s0 = (uint32_t)d->stream, s1 = (uint32_t)(d->stream >> 32);
  const uint32_t k0 = (uint32_t)d->seed, k1 = (uint32_t)(d->seed >> 32);
  const uint64_t end = i0 + (uint64_t)n;
  uint32_t c0[PHILOX_BATCH], c1[PHILOX_BATCH], c2[PHILOX_BATCH], c3[PHILOX_BATCH];
  uint32_t words[4 * PHILOX_BATCH];
  for (uint64_t i = i0; i < end;) {
    const uint64_t b0 = i >> 2, b_end = ((end - 1) >> 2) + 1;
    const int nb = b_end - b0 < PHILOX_BATCH ? (int)(b_end - b0) : PHILOX_BATCH;
    for (int j = 0; j < nb; j++) {
      const uint64_t block = (d->step << 32) | (b0 + (uint64_t)j);
      c0[j] = (uint32_t)block;
      c1[j] = (uint32_t)(block >> 32);
      c2[j] = s0;
      c3[j] = s1;
    }
    uint32_t key0 = k0, key1 = k1;
    for (int round = 0; round < 10; round++) {
      if (round > 0) {
        key0 += PHILOX_W0;
        key1 += PHILOX_W1;
      }
      for (int j = 0; j < nb; j++) {
        const uint64_t p0 = (uint64_t)PHILOX_M0 * c0[j], p1 = (uint64_t)PHILOX_M1 * c2[j];
        const uint32_t n0 = (uint32_t)(p1 >> 32) ^ c1[j] ^ key0;
        const uint32_t n2 = (uint32_t)(p0 >> 32) ^ c3[j] ^ key1;
        c0[j] = n0;
        c1[j] = (uint32_t)p1;
        c2[j] = n2;
        c3[j] = (uint32_t)p0;
      }
    }
    for (int j = 0; j < nb; j++) {
      words[4 * j] = c0[j];
      words[4 * j + 1] = c1[j];
      words[4 * j + 2] = c2[j];
      words[4 * j + 3] = c3[j];
    }
    const uint64_t stop = (b0 + (uint64_t)nb) * 4 < end ? (b0 + (uint64_t)nb) * 4 : end;
    const uint32_t *w = words + (i - b0 * 4);
    float *out = f + (i - i0);
    for (int64_t e = 0; e < (int64_t)(stop - i); e++) {
      const float u = (float)(w[e] >> 8) * 0x1.0p-24f;
      out[e] = u >= p ? scale : 0.0f;
    }
    i = stop;
  }
}

/* out[i] = a[i] + b[i] * factor[i] over [0, n) in chunks (a NULL: 0; b NULL: 1), threads over
 * chunks: the fused form of every element-wise dropout op here. */
static void dropout_apply(float *out, const float *a, const float *b, int64_t n,
                          const sr_dropout *drop) {
  const int64_t chunks = (n + DROPOUT_CHUNK - 1) / DROPOUT_CHUNK;
  SR_OMP_FOR
  for (int64_t c = 0; c < chunks; c++) {
    float f[DROPOUT_CHUNK];
    const int64_t lo = c * DROPOUT_CHUNK, m = n - lo < DROPOUT_CHUNK ? n - lo : DROPOUT_CHUNK;
    kernel_dropout_factors(drop, (uint64_t)lo, m, f);
    float *o = out + lo;
    const float *x = a ? a + lo : NULL, *y = b + lo;
    if (x)
      for (int64_t i = 0; i < m; i++) o[i] = x[i] + y[i] * f[i];
    else
      for (int64_t i = 0; i < m; i++) o[i] = y[i] * f[i];
  }
}

sr_status kernel_dropout_forward_cpu(const sr_kernels *k, float *out, const float *x, int64_t n,
                                     const sr_dropout *drop) {
  TRY(kernel_dropout_check("dropout_forward", drop, n));
  if (!kernel_dropout_active(drop)) {
    if (out != x) {
      SR_OMP_FOR
      for (int64_t i = 0; i < n; i++) out[i] = x[i];
    }
  } else {
    dropout_apply(out, NULL, x, n, drop);
  }
  kernel_bf16_round(k, out, n);
  return SR_OK;
}

sr_status kernel_dropout_backward_cpu(const sr_kernels *k, float *dx, const float *dout,
                                      int64_t n, const sr_dropout *drop) {
  TRY(kernel_dropout_check("dropout_backward", drop, n));
  if (!kernel_dropout_active(drop)) {
    SR_OMP_FOR
    for (int64_t i = 0; i < n; i++) dx[i] += dout[i];
  } else {
    dropout_apply(dx, dx, dout, n, drop);
  }
  kernel_bf16_round(k, dx, n);
  return SR_OK;
}

sr_status kernel_residual_forward_cpu(const sr_kernels *k, float *out, const float *x,
                                      const float *y, int64_t n, const sr_dropout *drop) {
  TRY(kernel_dropout_check("residual_forward", drop, n));
  if (!kernel_dropout_active(drop)) {
    SR_OMP_FOR
    for (int64_t i = 0; i < n; i++) out[i] = x[i] + y[i];
  } else {
    dropout_apply(out, x, y, n, drop);
  }
  kernel_bf16_round(k, out, n);
  return SR_OK;
}

sr_status kernel_residual_backward_cpu(const sr_kernels *k, float *dx, float *dy,
                                       const float *dout, int64_t n, const sr_dropout *drop) {
  TRY(kernel_dropout_check("residual_backward", drop, n));
  if (dx) {
    SR_OMP_FOR
    for (int64_t i = 0; i < n; i++) dx[i] += dout[i];
  }
  kernel_bf16_round(k, dx, n);
  if (dy) TRY(kernel_dropout_backward_cpu(k, dy, dout, n, drop)); /* rounds dy */
  return SR_OK;
}
