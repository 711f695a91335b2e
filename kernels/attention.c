/* Causal multi-head self-attention with a padding mask, forward and backward, on the CPU. One
 * (sequence, head) pair is one task. A left-padded sequence (all the trainer makes) runs on
 * sgemm over blocks of ATT_RB queries; a sequence with a hole in it runs on plain loops, the
 * reference. Not the projections around it (linear.c) nor a fused flash kernel. */
#include <math.h>
#include <string.h>

#include "kernels/cpu.h"
#include "kernels/vecmath.h"

#ifdef _OPENMP
#include <omp.h>
#endif

/* Queries per row block. Block i0..i1 needs keys t0..i1: blocks keep the causal half of the
 * work (plus ATT_RB/2 keys per query), and a block's scores [ATT_RB, T] stay in L1/L2. */
#define ATT_RB 32
/* Keys per tile of dropped probabilities in forward (a [ATT_RB, ATT_KT] buffer on the stack). */
#define ATT_KT 256
/* (sequence, head) pairs whose backward scratch exists at once: the thread count that helps. */
#define ATT_SLOTS 64
/* Below this many multiply-adds a call runs on one thread. */
#define ATT_PARALLEL_MIN (1 << 18)

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

/* 1 when padding follows a token somewhere: such a sequence takes the reference loops, which
 * never read a padded slot. */
static int has_hole(const int32_t *ids_b, int t0, int T) {
  for (int t = t0; t < T; t++)
    if (ids_b[t] == 0) return 1;
  return 0;
}

/* Threads for `tasks` independent (sequence, head) pairs costing `work` multiply-adds. */
static int att_threads(int64_t tasks, int64_t work) {
  int n = 1;
#ifdef _OPENMP
  n = omp_get_max_threads();
#endif
  if (work < ATT_PARALLEL_MIN) n = 1;
  if (n > tasks) n = tasks > 0 ? (int)tasks : 1;
  return n;
}

/* One (sequence, head): its rows of queries, keys and values, and its [T, T] probabilities. */
typedef struct {
  int64_t bh;                     /* b * H + h: numbers the dropout elements */
  int T, D, ld, t0;
  const int32_t *ids;             /* [T] */
  const float *q, *k, *v;         /* row t at t * ld */
  float *att;                     /* [T, T] */
} att_task;

static att_task att_task_of(int64_t bh, int H, int T, int C, int ld, const int32_t *ids,
                            const float *query, const float *key, const float *value,
                            const float *att) {
  const int64_t b = bh / H, h = bh % H;
  const int D = C / H;
  const int64_t row = b * T * (int64_t)ld + h * D;
  return (att_task){.bh = bh, .T = T, .D = D, .ld = ld, .ids = ids + b * T,
                    .t0 = first_token(ids + b * T, T), .q = query + row, .k = key + row,
                    /* backward only reads att: one task type serves both directions */
                    .v = value + row, .att = (float *)att + bh * T * (int64_t)T};
}

static uint64_t att_index(const att_task *a, int t, int s) {
  return (uint64_t)((a->bh * a->T + t) * a->T + s);
}

/* ---- reference loops (any mask) ------------------------------------------------------------ */

static void attention_forward_loops(const att_task *a, float *out, int C, float scale,
                                    const sr_dropout *drop) {
  const int T = a->T, D = a->D, t0 = a->t0;
  kernel_dropout_cursor cursor;
  if (kernel_dropout_active(drop)) kernel_dropout_cursor_init(&cursor, drop);
  for (int t = 0; t < T; t++) {
    float *p = a->att + (int64_t)t * T;
    float *o = out + (int64_t)t * C;
    memset(p, 0, (size_t)T * sizeof *p);
    memset(o, 0, (size_t)D * sizeof *o);
    if (a->ids[t] == 0) continue;
    const float *q = a->q + (int64_t)t * a->ld;
    float max = -INFINITY;
    for (int s = t0; s <= t; s++) {
      if (a->ids[s] == 0) continue;
      const float *kv = a->k + (int64_t)s * a->ld;
      float dot = 0.0f;
      for (int d = 0; d < D; d++) dot += q[d] * kv[d];
      p[s] = dot * scale;
      if (p[s] > max) max = p[s];
    }
    /* Key t is this query itself and is real, so the sum is at least 1. */
    float sum = 0.0f;
    for (int s = t0; s <= t; s++) {
      if (a->ids[s] == 0) continue;
      p[s] = expf(p[s] - max);
      sum += p[s];
    }
    const float inv = 1.0f / sum;
    for (int s = t0; s <= t; s++) p[s] *= inv;
    for (int s = t0; s <= t; s++) {
      if (a->ids[s] == 0) continue;
      float w = p[s];
      if (kernel_dropout_active(drop)) w *= kernel_dropout_factor(&cursor, att_index(a, t, s));
      if (w == 0.0f) continue;
      const float *v = a->v + (int64_t)s * a->ld;
      for (int d = 0; d < D; d++) o[d] += w * v[d];
    }
  }
}

static void attention_backward_loops(const att_task *a, float *dq_all, float *dk_all,
                                     float *dv_all, const float *dout, int C, float scale,
                                     const sr_dropout *drop, float *dp /* [T] */) {
  const int T = a->T, D = a->D, t0 = a->t0, ld = a->ld;
  const int dropping = kernel_dropout_active(drop);
  kernel_dropout_cursor cursor;
  if (dropping) kernel_dropout_cursor_init(&cursor, drop);
  for (int t = t0; t < T; t++) {
    if (a->ids[t] == 0) continue;
    const float *p = a->att + (int64_t)t * T;
    const float *g = dout + (int64_t)t * C;
    const float *q = a->q + (int64_t)t * ld;
    /* Through out = sum_s drop(p_s) v_s: to the values, and to the probabilities. */
    float dot_ap = 0.0f; /* sum_s p_s * dp_s, the softmax's shared term */
    for (int s = t0; s <= t; s++) {
      if (a->ids[s] == 0) continue;
      float f = dropping ? kernel_dropout_factor(&cursor, att_index(a, t, s)) : 1.0f;
      const float *v = a->v + (int64_t)s * ld;
      float gv = 0.0f;
      for (int d = 0; d < D; d++) gv += g[d] * v[d];
      if (dv_all && p[s] * f != 0.0f) {
        float *dv = dv_all + (int64_t)s * ld;
        float w = p[s] * f;
        for (int d = 0; d < D; d++) dv[d] += w * g[d];
      }
      dp[s] = gv * f;
      dot_ap += p[s] * dp[s];
    }
    /* Through the softmax to the scores, then to queries and keys. */
    float *dq = dq_all ? dq_all + (int64_t)t * ld : NULL;
    for (int s = t0; s <= t; s++) {
      if (a->ids[s] == 0) continue;
      float dscore = p[s] * (dp[s] - dot_ap) * scale;
      const float *kv = a->k + (int64_t)s * ld;
      if (dq)
        for (int d = 0; d < D; d++) dq[d] += dscore * kv[d];
      if (dk_all) {
        float *dk = dk_all + (int64_t)s * ld;
        for (int d = 0; d < D; d++) dk[d] += dscore * q[d];
      }
    }
  }
}

/* ---- sgemm path (tokens t0..T-1, no hole) ---------------------------------------------------
 * Row block i0..i1 (m rows) sees keys t0..i1: keys t0..i0 come before every query of the
 * block (sgemm), keys i0..i1 form the causal triangle. The sgemms compute scores (and, in
 * backward, d probabilities) against the triangle's future keys too, but those are overwritten,
 * never multiplied; outputs and query gradients sum the triangle with loops over s <= t. So
 * nothing of slot t depends on a later slot, not even on a NaN there. */

/* Softmax of one query's scores p[t0..t] in place; zeros elsewhere in its row of T. */
SR_VECTOR_CLONES static void softmax_causal_row(float *p, int t0, int t, int T) {
  float max = -INFINITY;
  for (int s = t0; s <= t; s++) max = p[s] > max ? p[s] : max;
  for (int s = t0; s <= t; s++) p[s] = kernel_expf(p[s] - max);
  float sum = 0.0f;
  for (int s = t0; s <= t; s++) sum += p[s];
  const float inv = 1.0f / sum;
  for (int s = t0; s <= t; s++) p[s] *= inv;
  memset(p, 0, (size_t)t0 * sizeof *p);
  memset(p + t + 1, 0, (size_t)(T - t - 1) * sizeof *p);
}

static void attention_forward_gemm(const att_task *a, float *out, int C, float scale,
                                   const sr_dropout *drop) {
  const int T = a->T, D = a->D, t0 = a->t0, ld = a->ld;
  const int dropping = kernel_dropout_active(drop);
  float tile[ATT_RB * ATT_KT]; /* dropped probabilities, [m, keys of the tile] */
  float tri[ATT_RB];           /* mask factors of one query's keys in the triangle */
  memset(a->att, 0, (size_t)t0 * T * sizeof *a->att);
  for (int t = 0; t < t0; t++) memset(out + (int64_t)t * C, 0, (size_t)D * sizeof *out);
  for (int i0 = t0; i0 < T; i0 += ATT_RB) {
    const int i1 = i0 + ATT_RB < T ? i0 + ATT_RB : T, m = i1 - i0;
    float *S = a->att + (int64_t)i0 * T; /* [m, T] */
    float *o = out + (int64_t)i0 * C;    /* [m, D], stride C */
    kernel_sgemm_rows(0, 1, 0, m, i1 - t0, D, scale, a->q + (int64_t)i0 * ld, ld,
                      a->k + (int64_t)t0 * ld, ld, 0.0f, S + t0, T);
    for (int t = i0; t < i1; t++) softmax_causal_row(S + (int64_t)(t - i0) * T, t0, t, T);
    /* Keys before the block. */
    if (i0 == t0) {
      for (int r = 0; r < m; r++) memset(o + (int64_t)r * C, 0, (size_t)D * sizeof *o);
    } else if (!dropping) {
      kernel_sgemm_rows(0, 0, 0, m, D, i0 - t0, 1.0f, S + t0, T, a->v + (int64_t)t0 * ld, ld,
                        0.0f, o, C);
    } else {
      for (int s0 = t0; s0 < i0; s0 += ATT_KT) {
        const int s1 = s0 + ATT_KT < i0 ? s0 + ATT_KT : i0, n = s1 - s0;
        for (int r = 0; r < m; r++) {
          float *row = tile + r * n;
          const float *p = S + (int64_t)r * T + s0;
          kernel_dropout_factors(drop, att_index(a, i0 + r, s0), n, row);
          for (int j = 0; j < n; j++) row[j] *= p[j];
        }
        kernel_sgemm_rows(0, 0, 0, m, D, n, 1.0f, tile, n, a->v + (int64_t)s0 * ld, ld,
                          s0 == t0 ? 0.0f : 1.0f, o, C);
      }
    }
    /* The triangle. */
    for (int t = i0; t < i1; t++) {
      const float *p = S + (int64_t)(t - i0) * T;
      float *ot = o + (int64_t)(t - i0) * C;
      if (dropping) kernel_dropout_factors(drop, att_index(a, t, i0), t - i0 + 1, tri);
      for (int s = i0; s <= t; s++) {
        float w = p[s];
        if (dropping) w *= tri[s - i0];
        if (w == 0.0f) continue;
        const float *v = a->v + (int64_t)s * ld;
        for (int d = 0; d < D; d++) ot[d] += w * v[d];
      }
    }
  }
}

/* Backward scratch of one task: dropped probabilities and score gradients, [ATT_RB, T] each. */
static size_t att_slot_floats(int T) { return (size_t)2 * ATT_RB * (size_t)(T > 0 ? T : 1); }

static void attention_backward_gemm(const att_task *a, float *dq_all, float *dk_all,
                                    float *dv_all, const float *dout, int C, float scale,
                                    const sr_dropout *drop, float *slot) {
  const int T = a->T, D = a->D, t0 = a->t0, ld = a->ld;
  const int dropping = kernel_dropout_active(drop);
  const float keep = dropping ? 1.0f / (1.0f - drop->p) : 1.0f;
  float *pd = slot;                         /* [m, T]: dropped probabilities */
  float *ds = slot + (size_t)ATT_RB * T;    /* [m, T]: d loss / d dropped p, then / d score */
  for (int i0 = t0; i0 < T; i0 += ATT_RB) {
    const int i1 = i0 + ATT_RB < T ? i0 + ATT_RB : T, m = i1 - i0, nk = i1 - t0;
    const float *P = a->att + (int64_t)i0 * T; /* [m, T] */
    const float *G = dout + (int64_t)i0 * C;   /* [m, D], stride C */
    /* Through out = drop(P) V: to the probabilities (dPd = G V^T) and to the values. */
    kernel_sgemm_rows(0, 1, 0, m, nk, D, 1.0f, G, C, a->v + (int64_t)t0 * ld, ld, 0.0f, ds + t0, T);
    const float *Pd = P;
    if (dropping) {
      for (int r = 0; r < m; r++) {
        float *row = pd + (int64_t)r * T;
        const float *p = P + (int64_t)r * T;
        kernel_dropout_factors(drop, att_index(a, i0 + r, t0), i0 + r - t0 + 1, row + t0);
        for (int s = t0; s <= i0 + r; s++) row[s] *= p[s];
        for (int s = i0 + r + 1; s < i1; s++) row[s] = 0.0f;
      }
      Pd = pd;
    }
    if (dv_all)
      kernel_sgemm_rows(1, 0, 0, nk, D, m, 1.0f, Pd + t0, T, G, C, 1.0f,
                        dv_all + (int64_t)t0 * ld, ld);
    if (!dq_all && !dk_all) continue;
    /* Through the softmax: dS = P (dP - sum_s P dP) / sqrt(D), dP = dPd * mask factor. A
     * dropped or underflowed probability contributes 0 either way, so the factor can be read
     * back from Pd. */
    for (int r = 0; r < m; r++) {
      const int t = i0 + r;
      const float *p = P + (int64_t)r * T, *pdr = Pd + (int64_t)r * T;
      float *g = ds + (int64_t)r * T;
      if (dropping)
        for (int s = t0; s <= t; s++) g[s] *= pdr[s] != 0.0f ? keep : 0.0f;
      float dot_ap = 0.0f;
      for (int s = t0; s <= t; s++) dot_ap += p[s] * g[s];
      for (int s = t0; s <= t; s++) g[s] = p[s] * (g[s] - dot_ap) * scale;
      for (int s = t + 1; s < i1; s++) g[s] = 0.0f;
    }
    if (dk_all)
      kernel_sgemm_rows(1, 0, 0, nk, D, m, 1.0f, ds + t0, T, a->q + (int64_t)i0 * ld, ld, 1.0f,
                        dk_all + (int64_t)t0 * ld, ld);
    if (dq_all) {
      float *dq = dq_all + (int64_t)i0 * ld;
      if (i0 > t0)
        kernel_sgemm_rows(0, 0, 0, m, D, i0 - t0, 1.0f, ds + t0, T, a->k + (int64_t)t0 * ld,
                          ld, 1.0f, dq, ld);
      for (int r = 0; r < m; r++) {
        const float *g = ds + (int64_t)r * T;
        float *dqt = dq + (int64_t)r * ld;
        for (int s = i0; s <= i0 + r; s++) {
          const float *kv = a->k + (int64_t)s * ld;
          for (int d = 0; d < D; d++) dqt[d] += g[s] * kv[d];
        }
      }
    }
  }
}

/* ---- the ops --------------------------------------------------------------------------------- */

sr_status kernel_attention_forward_cpu(const sr_kernels *k, float *out, float *att,
                                       const float *query, const float *key, const float *value,
                                       const int32_t *ids, int B, int T, int C, int H, int ld,
                                       const sr_dropout *drop) {
  TRY(attention_check("attention_forward", B, T, C, H, ld, drop));
  const int D = C / H;
  const float scale = 1.0f / sqrtf((float)D);
  const int64_t BH = (int64_t)B * H;
  const int threads = att_threads(BH, BH * T * (int64_t)T * C);
  /* Sequences differ in length: dynamic scheduling; each task's numbers do not depend on
   * which thread runs it. */
#ifdef _OPENMP
#pragma omp parallel for schedule(dynamic) num_threads(threads)
#endif
  for (int64_t bh = 0; bh < BH; bh++) {
    const att_task a = att_task_of(bh, H, T, C, ld, ids, query, key, value, att);
    const int64_t h = bh % H;
    float *o = out + (bh / H) * T * (int64_t)C + h * D;
    if (has_hole(a.ids, a.t0, T))
      attention_forward_loops(&a, o, C, scale, drop);
    else
      attention_forward_gemm(&a, o, C, scale, drop);
  }
  (void)threads;
  kernel_bf16_round(k, out, (int64_t)B * T * C);
  kernel_bf16_round(k, att, BH * T * (int64_t)T);
  return SR_OK;
}

size_t kernel_attention_scratch_bytes_cpu(int B, int T, int H) {
  int64_t slots = (int64_t)B * H;
  if (slots > ATT_SLOTS) slots = ATT_SLOTS;
  if (slots < 1) slots = 1;
  return kernel_scratch_round((size_t)slots * att_slot_floats(T) * sizeof(float));
}

sr_status kernel_attention_backward_cpu(const sr_kernels *k, float *dquery, float *dkey,
                                        float *dvalue, const float *dout, const float *query,
                                        const float *key, const float *value, const float *att,
                                        const int32_t *ids, int B, int T, int C, int H, int ld,
                                        const sr_dropout *drop, void *scratch,
                                        size_t scratch_bytes) {
  TRY(attention_check("attention_backward", B, T, C, H, ld, drop));
  if ((int64_t)B * H * T == 0) return SR_OK;
  const size_t slot_bytes = att_slot_floats(T) * sizeof(float);
  if (scratch_bytes < slot_bytes || !scratch)
    return sr_error(SR_EINVAL, "attention_backward: scratch of %zu bytes, needs at least %zu "
                    "(size it with k->scratch_bytes)", scratch_bytes, slot_bytes);
  const int D = C / H;
  const float scale = 1.0f / sqrtf((float)D);
  const int64_t BH = (int64_t)B * H;
  /* One scratch slot per thread: the threads are capped by the slots the caller gave. */
  const int64_t slots = (int64_t)(scratch_bytes / slot_bytes);
  const int threads = att_threads(slots < BH ? slots : BH, BH * T * (int64_t)T * C);
#ifdef _OPENMP
#pragma omp parallel num_threads(threads)
#endif
  {
    int tid = 0;
#ifdef _OPENMP
    tid = omp_get_thread_num();
#endif
    float *slot = (float *)scratch + (size_t)tid * att_slot_floats(T);
#ifdef _OPENMP
#pragma omp for schedule(dynamic)
#endif
    for (int64_t bh = 0; bh < BH; bh++) {
      const att_task a = att_task_of(bh, H, T, C, ld, ids, query, key, value, att);
      const int64_t row = (bh / H) * T * (int64_t)ld + (bh % H) * D;
      float *dq = dquery ? dquery + row : NULL, *dk = dkey ? dkey + row : NULL;
      float *dv = dvalue ? dvalue + row : NULL;
      const float *g = dout + (bh / H) * T * (int64_t)C + (bh % H) * D;
      if (has_hole(a.ids, a.t0, T))
        attention_backward_loops(&a, dq, dk, dv, g, C, scale, drop, slot);
      else
        attention_backward_gemm(&a, dq, dk, dv, g, C, scale, drop, slot);
    }
  }
  (void)threads;
  kernel_bf16_round_rows(k, dquery, (int64_t)B * T, C, ld);
  kernel_bf16_round_rows(k, dkey, (int64_t)B * T, C, ld);
  kernel_bf16_round_rows(k, dvalue, (int64_t)B * T, C, ld);
  return SR_OK;
}
