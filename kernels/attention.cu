/* Causal multi-head self-attention with a padding mask, the CUDA twin of attention.c. One
 * thread block per (sequence, head), grid B*H, so one launch covers every head. This model's
 * windows are short (T <= 200, D = 32 or 64): the block copies the head's key and value rows
 * into shared memory once and its warps take one query each (a warp per row: lanes over keys
 * for scores, over columns for sums), so every score row also lives in shared memory. When the
 * rows do not fit (a long window), the same kernel reads them from global memory instead.
 *
 * Backward is deterministic without atomics: pass 1 (warp per query) gives dquery and each
 * query's softmax term sum_s p dp; pass 2 (warp per key, after the block restages query and
 * dout rows) gives dkey and dvalue, recomputing dp = dout.v and the dropout mask. Every
 * gradient row is written by exactly one warp and summed in a fixed order. */
#include <math.h>

#include "kernels/cuda.h"

/* Warps per block, at most: they share the staged rows, and a warp's loops are chains of
 * dependent shared-memory loads, so an SM needs many warps to hide their latency. B*H blocks are
 * few (128 on ML-1M: one per SM), hence up to 32 warps each; at T = 200, D = 64 a forward block
 * takes ~139 KiB and a backward one ~164 KiB of shared memory. */
#define ATT_WARPS 32
#define ATT_THREADS (32 * ATT_WARPS)

/* The CPU's shape check (static there), then kernel_dropout_check from cpu.h. */
static sr_status attention_check(const char *op, int B, int T, int C, int H, int ld,
                                 const sr_dropout *drop) {
  if (B < 0 || T < 0 || C <= 0 || H <= 0 || C % H != 0 || ld < C)
    return sr_error(SR_EINVAL, "%s: bad shape B=%d T=%d C=%d H=%d ld=%d (need C %% H == 0, ld >= C)",
                    op, B, T, C, H, ld);
  return kernel_dropout_check(op, drop, (int64_t)B * H * T * T);
}

__device__ __forceinline__ float att_warp_sum(float v) {
  for (int o = 16; o > 0; o /= 2) v += __shfl_xor_sync(0xffffffffu, v, o);
  return v;
}
__device__ __forceinline__ float att_warp_max(float v) {
  for (int o = 16; o > 0; o /= 2) v = fmaxf(v, __shfl_xor_sync(0xffffffffu, v, o));
  return v;
}

/* Loads ids[0..T) of the sequence into shared memory and returns its first real slot (T when
 * all is padding): the loops start there, as on the CPU. Ends with a block barrier. */
__device__ int att_load_ids(int *sid, const int32_t *idb, int T) {
  __shared__ int first;
  if (threadIdx.x == 0) first = T;
  __syncthreads();
  for (int i = threadIdx.x; i < T; i += blockDim.x) {
    sid[i] = idb[i];
    if (idb[i] != 0) atomicMin(&first, i);
  }
  __syncthreads();
  return first;
}

/* Rows t0..T-1 (D columns) of a [T, ld] head slice into shared [T, D+1]: the padded stride puts
 * the rows that the 32 lanes read at once (lane = key) in 32 different banks. */
__device__ void att_stage(float *dst, const float *src, int ld, int t0, int T, int D) {
  const int n = (T - t0) * D;
  for (int i = threadIdx.x; i < n; i += blockDim.x) {
    const int s = t0 + i / D, d = i % D;
    dst[s * (D + 1) + d] = src[(int64_t)s * ld + d];
  }
}

__device__ __forceinline__ uint64_t att_index(int64_t bh, int T, int t, int s) {
  return (uint64_t)((bh * T + t) * T + s);
}

/* Shared memory: ids [T] (int), then when staged K, V [T, D+1] each, then per warp q [D] and
 * the score row [T]. */
__global__ void __launch_bounds__(ATT_THREADS)
attention_forward_kernel(float *out, float *att, const float *query, const float *key,
                         const float *value, const int32_t *ids, int T, int C, int H, int ld,
                         float scale, sr_dropout drop, int dropping, float keep, int staged) {
  extern __shared__ float smem[];
  const int64_t bh = blockIdx.x;
  const int64_t b = bh / H, h = bh % H;
  const int D = C / H, warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  const int nwarps = blockDim.x / 32;
  const int64_t row0 = b * T * (int64_t)ld + h * D;
  const float *qg = query + row0, *kg = key + row0, *vg = value + row0;
  float *ob = out + b * T * (int64_t)C + h * D;
  float *ab = att + bh * T * (int64_t)T;

  int *sid = (int *)smem;
  float *p = smem + T;
  const int t0 = att_load_ids(sid, ids + b * T, T);
  const float *K = kg, *V = vg;
  int kst = ld;
  if (staged) {
    float *sK = p, *sV = p + (size_t)T * (D + 1);
    p += (size_t)2 * T * (D + 1);
    att_stage(sK, kg, ld, t0, T, D);
    att_stage(sV, vg, ld, t0, T, D);
    K = sK;
    V = sV;
    kst = D + 1;
  }
  __syncthreads();
  float *wq = p + (size_t)warp * (D + T), *wp = wq + D;

  for (int t = warp; t < T; t += nwarps) {
    float *arow = ab + (int64_t)t * T;
    float *orow = ob + (int64_t)t * C;
    if (t < t0 || sid[t] == 0) { /* padded query: zero probabilities, zero output */
      for (int s = lane; s < T; s += 32) arow[s] = 0.0f;
      for (int d = lane; d < D; d += 32) orow[d] = 0.0f;
      continue;
    }
    for (int d = lane; d < D; d += 32) wq[d] = qg[(int64_t)t * ld + d];
    __syncwarp();
    /* Scores of the visible keys (s <= t, real): lane = key. */
    float mx = -INFINITY;
    for (int s = t0 + lane; s <= t; s += 32) {
      if (sid[s] == 0) continue;
      const float *kr = K + (int64_t)s * kst;
      float dot = 0.0f;
      for (int d = 0; d < D; d++) dot += wq[d] * kr[d];
      const float sc = dot * scale;
      wp[s] = sc;
      mx = fmaxf(mx, sc);
    }
    mx = att_warp_max(mx);
    /* Key t is the query itself and real, so the sum is at least 1. */
    float sum = 0.0f;
    for (int s = t0 + lane; s <= t; s += 32) {
      if (sid[s] == 0) continue;
      const float e = expf(wp[s] - mx);
      wp[s] = e;
      sum += e;
    }
    sum = att_warp_sum(sum);
    const float inv = 1.0f / sum;
    __syncwarp(); /* the loop below reads wp[s] with another lane-to-key mapping */
    /* att keeps p before dropout (0 off the visible keys); wp keeps p times its mask factor. */
    for (int s = lane; s < T; s += 32) {
      const int vis = s >= t0 && s <= t && sid[s] != 0;
      const float pr = vis ? wp[s] * inv : 0.0f;
      arow[s] = pr;
      if (s >= t0 && s <= t)
        wp[s] = dropping && pr != 0.0f ? pr * cuda_dropout_factor(drop, keep, att_index(bh, T, t, s))
                                       : pr;
    }
    __syncwarp();
    /* out_t = sum_s w_s v_s, lane = column; a zero weight (masked, dropped) reads nothing. */
    for (int d = lane; d < D; d += 32) {
      float acc = 0.0f;
      for (int s = t0; s <= t; s++) {
        const float w = wp[s];
        if (w != 0.0f) acc += w * V[(int64_t)s * kst + d];
      }
      orow[d] = acc;
    }
    __syncwarp(); /* wq, wp are rewritten by this warp's next query */
  }
}

/* Shared memory: ids [T] (int), sum_s p dp per query [T], when staged two [T, D+1] tiles (K, V
 * in pass 1; Q, dout in pass 2), then per warp 3*D + T + 64 floats. */
__global__ void __launch_bounds__(ATT_THREADS)
attention_backward_kernel(float *dquery, float *dkey, float *dvalue, const float *dout,
                          const float *query, const float *key, const float *value,
                          const float *att, const int32_t *ids, int T, int C, int H, int ld,
                          float scale, sr_dropout drop, int dropping, float keep, int staged) {
  extern __shared__ float smem[];
  const int64_t bh = blockIdx.x;
  const int64_t b = bh / H, h = bh % H;
  const int D = C / H, warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  const int nwarps = blockDim.x / 32;
  const int64_t row0 = b * T * (int64_t)ld + h * D;
  const float *qg = query + row0, *kg = key + row0, *vg = value + row0;
  const float *gg = dout + b * T * (int64_t)C + h * D;
  const float *ab = att + bh * T * (int64_t)T;
  float *dq = dquery ? dquery + row0 : NULL;
  float *dk = dkey ? dkey + row0 : NULL;
  float *dv = dvalue ? dvalue + row0 : NULL;

  int *sid = (int *)smem;
  float *sdot = smem + T;
  float *p = smem + 2 * (size_t)T;
  float *S1 = p, *S2 = p + (size_t)T * (D + 1);
  if (staged) p += (size_t)2 * T * (D + 1);
  float *wbase = p + (size_t)warp * (3 * D + T + 64);
  for (int i = threadIdx.x; i < T; i += blockDim.x) sdot[i] = 0.0f;
  const int t0 = att_load_ids(sid, ids + b * T, T);

  /* ---- pass 1, warp per query t: dp_s = (g_t . v_s) f_s, dot = sum_s p_s dp_s,
   * dscore_s = p_s (dp_s - dot) / sqrt(D), dquery_t += sum_s dscore_s k_s. */
  if (dq || dk) {
    const float *K = kg, *V = vg;
    int st = ld;
    if (staged) {
      att_stage(S1, kg, ld, t0, T, D);
      att_stage(S2, vg, ld, t0, T, D);
      K = S1;
      V = S2;
      st = D + 1;
    }
    __syncthreads();
    float *wg = wbase, *wds = wbase + D;
    for (int t = t0 + warp; t < T; t += nwarps) {
      if (sid[t] == 0) continue;
      const float *prow = ab + (int64_t)t * T;
      for (int d = lane; d < D; d += 32) wg[d] = gg[(int64_t)t * C + d];
      __syncwarp();
      float local = 0.0f;
      for (int s = t0 + lane; s <= t; s += 32) {
        if (sid[s] == 0) continue;
        const float f = dropping ? cuda_dropout_factor(drop, keep, att_index(bh, T, t, s)) : 1.0f;
        const float *vr = V + (int64_t)s * st;
        float gv = 0.0f;
        for (int d = 0; d < D; d++) gv += wg[d] * vr[d];
        const float dps = gv * f;
        wds[s] = dps;
        local += prow[s] * dps;
      }
      const float dot = att_warp_sum(local);
      for (int s = t0 + lane; s <= t; s += 32)
        wds[s] = sid[s] != 0 ? prow[s] * (wds[s] - dot) * scale : 0.0f;
      if (lane == 0) sdot[t] = dot;
      __syncwarp();
      if (dq)
        for (int d = lane; d < D; d += 32) {
          float acc = 0.0f;
          for (int s = t0; s <= t; s++) /* masked keys are never read, as on the CPU */
            if (sid[s] != 0) acc += wds[s] * K[(int64_t)s * st + d];
          dq[(int64_t)t * ld + d] += acc;
        }
      __syncwarp();
    }
  }
  if (!dk && !dv) return;
  __syncthreads(); /* sdot complete; the tiles are free to restage */

  /* ---- pass 2, warp per key s, queries t = s..T-1 in chunks of 32 (lane = query):
   * dkey_s += sum_t dscore_ts q_t, dvalue_s += sum_t p_ts f_ts g_t. */
  const float *Q = qg, *G = gg;
  int qst = ld, gst = C;
  if (staged) {
    att_stage(S1, qg, ld, t0, T, D);
    att_stage(S2, gg, C, t0, T, D);
    Q = S1;
    G = S2;
    qst = gst = D + 1;
  }
  __syncthreads();
  float *wv = wbase, *ak = wbase + D, *av = wbase + 2 * D;
  float *cds = wbase + 3 * D, *cpd = cds + 32;
  for (int s = t0 + warp; s < T; s += nwarps) {
    if (sid[s] == 0) continue;
    for (int d = lane; d < D; d += 32) {
      wv[d] = vg[(int64_t)s * ld + d];
      ak[d] = 0.0f;
      av[d] = 0.0f;
    }
    __syncwarp();
    for (int c0 = s; c0 < T; c0 += 32) {
      const int t = c0 + lane;
      float dsc = 0.0f, pd = 0.0f;
      if (t < T && sid[t] != 0) {
        const float pr = ab[(int64_t)t * T + s];
        const float f = dropping ? cuda_dropout_factor(drop, keep, att_index(bh, T, t, s)) : 1.0f;
        const float *gr = G + (int64_t)t * gst;
        float gv = 0.0f;
        for (int d = 0; d < D; d++) gv += gr[d] * wv[d];
        dsc = pr * (gv * f - sdot[t]) * scale;
        pd = pr * f;
      }
      cds[lane] = dsc;
      cpd[lane] = pd;
      __syncwarp();
      const int n = T - c0 < 32 ? T - c0 : 32;
      for (int d = lane; d < D; d += 32) {
        float accK = ak[d], accV = av[d];
        for (int j = 0; j < n; j++) {
          if (sid[c0 + j] == 0) continue; /* a padded query's rows are never read */
          accK += cds[j] * Q[(int64_t)(c0 + j) * qst + d];
          if (cpd[j] != 0.0f) accV += cpd[j] * G[(int64_t)(c0 + j) * gst + d];
        }
        ak[d] = accK;
        av[d] = accV;
      }
      __syncwarp();
    }
    for (int d = lane; d < D; d += 32) {
      if (dk) dk[(int64_t)s * ld + d] += ak[d];
      if (dv) dv[(int64_t)s * ld + d] += av[d];
    }
    __syncwarp();
  }
}

/* Shared bytes for `warps` warps, staged or not. */
static size_t att_forward_smem(int T, int D, int warps, int staged) {
  size_t f = (size_t)T + (staged ? (size_t)2 * T * (D + 1) : 0) + (size_t)warps * (D + T);
  return f * sizeof(float);
}
static size_t att_backward_smem(int T, int D, int warps, int staged) {
  size_t f = (size_t)2 * T + (staged ? (size_t)2 * T * (D + 1) : 0) +
             (size_t)warps * (3 * (size_t)D + T + 64);
  return f * sizeof(float);
}

/* Picks the launch: as many warps as there are queries, up to ATT_WARPS; staged rows with the
 * most of those warps that fit the device's opt-in shared memory, else rows from global memory
 * with as many warps as fit; 0 warps: too long a window. */
static sr_status att_plan(const sr_kernels *k, const char *op, int T, int D,
                          size_t (*bytes)(int, int, int, int), int *staged, int *warps,
                          size_t *smem) {
  int max_smem = 0;
  CUDA_TRY(cudaDeviceGetAttribute(&max_smem, cudaDevAttrMaxSharedMemoryPerBlockOptin,
                                  cuda_ctx(k)->device));
  max_smem -= 64; /* room for the kernels' static __shared__ (att_load_ids's `first`) */
  const int most = T < 1 ? 1 : T < ATT_WARPS ? T : ATT_WARPS;
  for (*staged = 1; *staged >= 0; (*staged)--) {
    *warps = most;
    while (*warps > 0 && bytes(T, D, *warps, *staged) > (size_t)max_smem) (*warps)--;
    if (*warps > 0) {
      *smem = bytes(T, D, *warps, *staged);
      return SR_OK;
    }
  }
  return sr_error(SR_EINVAL, "%s: T=%d D=%d needs more shared memory than the device has (%d "
                  "bytes)", op, T, D, max_smem);
}

sr_status kernel_attention_forward_cuda(const sr_kernels *k, float *out, float *att,
                                        const float *query, const float *key,
                                        const float *value, const int32_t *ids, int B, int T,
                                        int C, int H, int ld, const sr_dropout *drop) {
  TRY(attention_check("attention_forward", B, T, C, H, ld, drop));
  const int64_t BH = (int64_t)B * H;
  if (BH * T == 0) return SR_OK;
  if (BH > 0x7fffffff)
    return sr_error(SR_EINVAL, "attention_forward: B*H=%lld over the grid limit", (long long)BH);
  const int D = C / H;
  const float scale = 1.0f / sqrtf((float)D);
  const int dropping = kernel_dropout_active(drop);
  const sr_dropout d = dropping ? *drop : sr_dropout{0.0f, 0, 0, 0};
  const float keep = dropping ? 1.0f / (1.0f - drop->p) : 1.0f;
  int staged = 0, warps = 0;
  size_t smem = 0;
  TRY(att_plan(k, "attention_forward", T, D, att_forward_smem, &staged, &warps, &smem));
  CUDA_TRY(cudaFuncSetAttribute(attention_forward_kernel,
                                cudaFuncAttributeMaxDynamicSharedMemorySize, (int)smem));
  attention_forward_kernel<<<(unsigned)BH, 32 * warps, smem, cuda_stream(k)>>>(
      out, att, query, key, value, ids, T, C, H, ld, scale, d, dropping, keep, staged);
  LAUNCH_TRY();
  TRY(kernel_cuda_bf16_round(k, out, (int64_t)B * T * C));
  return kernel_cuda_bf16_round(k, att, BH * T * (int64_t)T);
}

sr_status kernel_attention_backward_cuda(const sr_kernels *k, float *dquery, float *dkey,
                                         float *dvalue, const float *dout, const float *query,
                                         const float *key, const float *value, const float *att,
                                         const int32_t *ids, int B, int T, int C, int H, int ld,
                                         const sr_dropout *drop, void *scratch,
                                         size_t scratch_bytes) {
  TRY(attention_check("attention_backward", B, T, C, H, ld, drop));
  const int64_t BH = (int64_t)B * H;
  if (BH * T == 0) return SR_OK;
  /* The scratch is not used (every block keeps its rows in shared memory), but the same buffer
   * rule as the CPU holds, so a caller that passes too little fails on both backends. */
  const size_t slot_bytes = (size_t)2 * 32 * (size_t)T * sizeof(float);
  if (scratch_bytes < slot_bytes || !scratch)
    return sr_error(SR_EINVAL, "attention_backward: scratch of %zu bytes, needs at least %zu "
                    "(size it with k->scratch_bytes)", scratch_bytes, slot_bytes);
  if (!dquery && !dkey && !dvalue) return SR_OK;
  if (BH > 0x7fffffff)
    return sr_error(SR_EINVAL, "attention_backward: B*H=%lld over the grid limit", (long long)BH);
  const int D = C / H;
  const float scale = 1.0f / sqrtf((float)D);
  const int dropping = kernel_dropout_active(drop);
  const sr_dropout d = dropping ? *drop : sr_dropout{0.0f, 0, 0, 0};
  const float keep = dropping ? 1.0f / (1.0f - drop->p) : 1.0f;
  int staged = 0, warps = 0;
  size_t smem = 0;
  TRY(att_plan(k, "attention_backward", T, D, att_backward_smem, &staged, &warps, &smem));
  CUDA_TRY(cudaFuncSetAttribute(attention_backward_kernel,
                                cudaFuncAttributeMaxDynamicSharedMemorySize, (int)smem));
  attention_backward_kernel<<<(unsigned)BH, 32 * warps, smem, cuda_stream(k)>>>(
      dquery, dkey, dvalue, dout, query, key, value, att, ids, T, C, H, ld, scale, d, dropping,
      keep, staged);
  LAUNCH_TRY();
  TRY(kernel_cuda_bf16_round_rows(k, dquery, (int64_t)B * T, C, ld));
  TRY(kernel_cuda_bf16_round_rows(k, dkey, (int64_t)B * T, C, ld));
  return kernel_cuda_bf16_round_rows(k, dvalue, (int64_t)B * T, C, ld);
}
