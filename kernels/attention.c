/* Causal multi-head self-attention with a padding mask, forward and backward: the CPU
 * reference, written as plain loops over one (sequence, head) pair per thread. Not the
 * projections around it (linear.c) nor a fused flash kernel. */
#include <math.h>
#include <string.h>

#include "kernels/cpu.h"

static sr_status attention_check(const char *op, int B, int T, int C, int H, int ld,
                                 const sr_dropout *drop) {
  if (B < 0 || T < 0 || C <= 0 || H <= 0 || C % H != 0 || ld < C)
    return sr_error(SR_EINVAL, "%s: bad shape B=%d T=%d C=%d H=%d ld=%d (need C %% H == 0, ld >= C)",
                    op, B, T, C, H, ld);
  return kernel_dropout_check(op, drop, (int64_t)B * H * T * T);
}

/* The first slot of sequence b that holds a token: everything before it is padding, so the
 * loops start there (left padding makes this most of the saving). T when all is padding. */
static int first_token(const int32_t *ids_b, int T) {
  int t = 0;
  while (t < T && ids_b[t] == 0) t++;
  return t;
}

sr_status kernel_attention_forward_cpu(const sr_kernels *k, float *out, float *att,
                                       const float *query, const float *key, const float *value,
                                       const int32_t *ids, int B, int T, int C, int H, int ld,
                                       const sr_dropout *drop) {
  TRY(attention_check("attention_forward", B, T, C, H, ld, drop));
  const int D = C / H;
  const float scale = 1.0f / sqrtf((float)D);
  const int dropping = kernel_dropout_active(drop);
  SR_OMP_FOR
  for (int64_t bh = 0; bh < (int64_t)B * H; bh++) {
    const int64_t b = bh / H, h = bh % H;
    const int32_t *ids_b = ids + b * T;
    const int t0 = first_token(ids_b, T);
    kernel_dropout_cursor cursor;
    if (dropping) kernel_dropout_cursor_init(&cursor, drop);
    for (int t = 0; t < T; t++) {
      float *a = att + (bh * T + t) * T;          /* [T] */
      float *o = out + (b * T + t) * C + h * D;  /* [D] */
      memset(a, 0, (size_t)T * sizeof *a);
      memset(o, 0, (size_t)D * sizeof *o);
      if (ids_b[t] == 0) continue;
      const float *q = query + (b * T + t) * ld + h * D;
      float max = -INFINITY;
      for (int s = t0; s <= t; s++) {
        if (ids_b[s] == 0) continue;
        const float *kv = key + (b * T + s) * ld + h * D;
        float dot = 0.0f;
        for (int d = 0; d < D; d++) dot += q[d] * kv[d];
        a[s] = dot * scale;
        if (a[s] > max) max = a[s];
      }
      /* Key t is this query itself and is real, so the sum is at least 1. */
      float sum = 0.0f;
      for (int s = t0; s <= t; s++) {
        if (ids_b[s] == 0) continue;
        a[s] = expf(a[s] - max);
        sum += a[s];
      }
      const float inv = 1.0f / sum;
      for (int s = t0; s <= t; s++) a[s] *= inv;
      for (int s = t0; s <= t; s++) {
        if (ids_b[s] == 0) continue;
        float p = a[s];
        if (dropping) p *= kernel_dropout_factor(&cursor, (uint64_t)((bh * T + t) * T + s));
        if (p == 0.0f) continue;
        const float *v = value + (b * T + s) * ld + h * D;
        for (int d = 0; d < D; d++) o[d] += p * v[d];
      }
    }
  }
  return SR_OK;
}

size_t kernel_attention_scratch_bytes_cpu(int B, int T, int H) {
  return kernel_scratch_round((size_t)B * H * T * sizeof(float));
}

sr_status kernel_attention_backward_cpu(const sr_kernels *k, float *dquery, float *dkey,
                                        float *dvalue, const float *dout, const float *query,
                                        const float *key, const float *value, const float *att,
                                        const int32_t *ids, int B, int T, int C, int H, int ld,
                                        const sr_dropout *drop, void *scratch,
                                        size_t scratch_bytes) {
  TRY(attention_check("attention_backward", B, T, C, H, ld, drop));
  size_t need = kernel_attention_scratch_bytes_cpu(B, T, H);
  if (scratch_bytes < need || (need > 0 && !scratch))
    return sr_error(SR_EINVAL, "attention_backward: scratch of %zu bytes, needs %zu (size it "
                    "with k->scratch_bytes)", scratch_bytes, need);
  const int D = C / H;
  const float scale = 1.0f / sqrtf((float)D);
  const int dropping = kernel_dropout_active(drop);
  SR_OMP_FOR
  for (int64_t bh = 0; bh < (int64_t)B * H; bh++) {
    const int64_t b = bh / H, h = bh % H;
    const int32_t *ids_b = ids + b * T;
    const int t0 = first_token(ids_b, T);
    float *dp = (float *)scratch + bh * T; /* [T]: d loss / d probability, one query row */
    kernel_dropout_cursor cursor;
    if (dropping) kernel_dropout_cursor_init(&cursor, drop);
    for (int t = t0; t < T; t++) {
      if (ids_b[t] == 0) continue;
      const float *a = att + (bh * T + t) * T;
      const float *g = dout + (b * T + t) * C + h * D;
      const float *q = query + (b * T + t) * ld + h * D;
      /* Through out = sum_s drop(a_s) v_s: to the values, and to the probabilities. */
      float dot_ap = 0.0f; /* sum_s a_s * dp_s, the softmax's shared term */
      for (int s = t0; s <= t; s++) {
        if (ids_b[s] == 0) continue;
        float f = dropping ? kernel_dropout_factor(&cursor, (uint64_t)((bh * T + t) * T + s))
                           : 1.0f;
        const float *v = value + (b * T + s) * ld + h * D;
        float gv = 0.0f;
        for (int d = 0; d < D; d++) gv += g[d] * v[d];
        if (dvalue && a[s] * f != 0.0f) {
          float *dv = dvalue + (b * T + s) * ld + h * D;
          float p = a[s] * f;
          for (int d = 0; d < D; d++) dv[d] += p * g[d];
        }
        dp[s] = gv * f;
        dot_ap += a[s] * dp[s];
      }
      /* Through the softmax to the scores, then to queries and keys. */
      float *dq = dquery ? dquery + (b * T + t) * ld + h * D : NULL;
      for (int s = t0; s <= t; s++) {
        if (ids_b[s] == 0) continue;
        float dscore = a[s] * (dp[s] - dot_ap) * scale;
        const float *kv = key + (b * T + s) * ld + h * D;
        if (dq)
          for (int d = 0; d < D; d++) dq[d] += dscore * kv[d];
        if (dkey) {
          float *dk = dkey + (b * T + s) * ld + h * D;
          for (int d = 0; d < D; d++) dk[d] += dscore * q[d];
        }
      }
    }
  }
  return SR_OK;
}
