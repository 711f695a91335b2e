/* The exact top-k of topk.h on a CUDA GPU (topk_cuda.h): the same filter-then-rescore scheme
 * as topk.c, with the score block never leaving the device.
 *
 * Per user block (default 4096 users): upload the users, their margins and sorted seen lists;
 * then per item block (default 16384 items) one cuBLAS GEMM into a device scratch
 * [user_block, item_block] and one selection kernel (a warp per user) that keeps, in a
 * per-user candidate buffer in device memory, the eligible items within two margins of a
 * running k-th best; finally a kernel (a warp per user) rescores the survivors exactly with
 * scorer_topk_score's definition (double, fixed order, rounded to float), sorts them by score
 * descending / id ascending and pads the row; only [user_block, k] comes back to the host.
 *
 * The filter's GEMM takes the user and item rows rounded to bf16 (round to nearest, kept on
 * the device beside the fp32 ones) on tensor cores with fp32 accumulation, and reductions in
 * fp32 (CUBLAS_MATH_DISALLOW_REDUCED_PRECISION_REDUCTION). Its margin is
 * scorer_topk_margin_bf16, (2^-7 + 2^-15 + 4 (d+2) 2^-24) ||u|| max||e||, which holds for any
 * order of the fp32 additions; fp16 or TF32 operands, or fp16 accumulation, would need their
 * own. The wider margin only admits a few more candidates per user; the rescoring is exact.
 *
 * Where the time goes at 1M users x 1M items x d=64, k=100 (the target is >= 200k users/s on
 * an H100/H200, i.e. at most 5 s): at d=64 a block's GEMM is bound by writing its fp32 scores,
 * 4 TB in all, about 1 s at ~4 TB/s, and the selection by reading them back, another ~1 s. An
 * fp32 SGEMM would add its 1.3e14 flop at the ~50-60 TFLOP/s cuBLAS reaches, 2-2.5 s, which
 * left the whole at about 4.5-5 s, at the target; bf16 tensor cores (~700 TFLOP/s) take that
 * term to ~0.2 s. The selection itself is a compare per score once the threshold has caught
 * up (the first item blocks of each user block admit and compact most). Beyond this, the
 * scores must stop round-tripping through HBM (a fused GEMM whose epilogue compares against
 * the per-user threshold), and the host work per user block (margins, sorting the seen lists,
 * the copies) should overlap the device via pinned buffers and two streams, which this
 * version does not do (it synchronises per block). */
#include <cublas_v2.h>
#include <cuda_bf16.h>
#include <cuda_runtime.h>
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

extern "C" {
#include "core/arena.h"
#include "scorer/topk_cuda.h"
}

#define TOPKC_USER_BLOCK 4096
#define TOPKC_ITEM_BLOCK 16384
#define TOPKC_WARPS 8                      /* users (warps) per thread block */
#define TOPKC_STATE_BYTES (1LL << 30)      /* cap on the per-user-block candidate state */
#define TOPKC_FULL 0xffffffffu

/* A CUDA or cuBLAS failure as a status: out of memory is SR_ENOMEM, anything else internal. */
static sr_status topkc_cuda(cudaError_t e, const char *what, int line) {
  if (e == cudaSuccess) return SR_OK;
  (void)cudaGetLastError();
  return sr_error(e == cudaErrorMemoryAllocation ? SR_ENOMEM : SR_EINTERNAL,
                  "top-k (CUDA): %s:%d: %s: %s", __FILE__, line, what, cudaGetErrorString(e));
}
static sr_status topkc_cublas(cublasStatus_t e, const char *what, int line) {
  if (e == CUBLAS_STATUS_SUCCESS) return SR_OK;
  return sr_error(e == CUBLAS_STATUS_ALLOC_FAILED ? SR_ENOMEM : SR_EINTERNAL,
                  "top-k (CUDA): %s:%d: %s: %s", __FILE__, line, what, cublasGetStatusString(e));
}
#define TOPKC_CUDA(x) TRY(topkc_cuda((x), #x, __LINE__))
#define TOPKC_CUBLAS(x) TRY(topkc_cublas((x), #x, __LINE__))
#define TOPKC_LAUNCHED() TOPKC_CUDA(cudaGetLastError())

/* ---- device side ------------------------------------------------------------------------ */

/* One user block's selection state, all device pointers; passed by value to the kernels. */
typedef struct {
  const float *users;        /* [mb, d] */
  const float *items;        /* [n_items + 1, d] */
  const uint8_t *banned;     /* [n_items + 1] or NULL */
  const int64_t *seen_begin; /* [mb + 1] each user's slice of seen */
  const int32_t *seen;       /* sorted within each slice */
  const float *margin;       /* [mb] bound on |sgemm - scorer_topk_score|, as topk.c */
  float *filter;             /* [mb] admit only sgemm scores above this */
  int32_t *cn;               /* [mb] candidates held */
  float *cs;                 /* [mb, cap] candidate scores (sgemm or exact) */
  int32_t *ci;               /* [mb, cap] candidate items */
  float *ts;                 /* [mb, cap] workspace of the exact ranking */
  int32_t *ti;               /* [mb, cap] */
  int64_t mb;
  int d;
  int32_t k;                 /* min(k, n_items) */
  int32_t cap;
} topkc_block;

/* scorer_topk_score exactly: products of floats are exact in double, so the explicit
 * round-to-nearest adds in topk.c's order give its bits (no FMA contraction to worry about). */
__device__ static float topkc_exact(const float *u, const float *e, int d) {
  double acc[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  int j = 0;
  for (; j + 8 <= d; j += 8)
#pragma unroll
    for (int t = 0; t < 8; t++)
      acc[t] = __dadd_rn(acc[t], __dmul_rn((double)u[j + t], (double)e[j + t]));
  for (int t = 0; j < d; j++, t++)
    acc[t] = __dadd_rn(acc[t], __dmul_rn((double)u[j], (double)e[j]));
  const double s = __dadd_rn(__dadd_rn(__dadd_rn(acc[0], acc[1]), __dadd_rn(acc[2], acc[3])),
                             __dadd_rn(__dadd_rn(acc[4], acc[5]), __dadd_rn(acc[6], acc[7])));
  return __double2float_rn(s);
}

/* Order-preserving float <-> uint32 (larger float, larger key). */
__device__ static uint32_t topkc_key(float f) {
  const uint32_t b = __float_as_uint(f);
  return (b & 0x80000000u) ? ~b : (b | 0x80000000u);
}
__device__ static float topkc_unkey(uint32_t k) {
  return __uint_as_float((k & 0x80000000u) ? (k & 0x7fffffffu) : ~k);
}

__device__ static int topkc_warp_sum(int v) {
  for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(TOPKC_FULL, v, o);
  return v;
}

/* Warp: the k-th largest of s[0..n) (k <= n), by deciding its key bit by bit from the top:
 * the largest key with at least k keys at or above it. */
__device__ static float topkc_kth_largest(const float *s, int n, int k) {
  const int lane = threadIdx.x & 31;
  uint32_t prefix = 0;
  for (int bit = 31; bit >= 0; bit--) {
    const uint32_t want = prefix | (1u << bit);
    int c = 0;
    for (int j = lane; j < n; j += 32) c += topkc_key(s[j]) >= want;
    if (topkc_warp_sum(c) >= k) prefix = want;
  }
  return topkc_unkey(prefix);
}

/* Warp: keeps the candidates with score >= lim, in order, in place; returns how many. */
__device__ static int topkc_keep_above(float *cs, int32_t *ci, int n, float lim) {
  const int lane = threadIdx.x & 31;
  int m = 0;
  for (int base = 0; base < n; base += 32) {
    const int j = base + lane;
    float s = 0.0f;
    int32_t id = 0;
    int keep = 0;
    if (j < n) {
      s = cs[j];
      id = ci[j];
      keep = s >= lim;
    }
    const unsigned b = __ballot_sync(TOPKC_FULL, keep);
    __syncwarp(); /* every lane has read before any overwrites */
    if (keep) {
      const int p = m + __popc(b & ((1u << lane) - 1u));
      cs[p] = s;
      ci[p] = id;
    }
    __syncwarp();
    m += __popc(b);
  }
  return m;
}

/* Warp: replaces the n candidates of user r by their exact scores and keeps the best
 * min(n, k), sorted best first (score descending, id ascending), at cs/ci[0..). Each one's
 * place is the number of candidates better than it: ids are distinct, so places are too. */
__device__ static int topkc_keep_exact(const topkc_block *b, int64_t r, float *cs, int32_t *ci,
                                       int n) {
  const int lane = threadIdx.x & 31;
  float *ts = b->ts + r * b->cap;
  int32_t *ti = b->ti + r * b->cap;
  const float *user = b->users + r * b->d;
  for (int j = lane; j < n; j += 32) {
    ti[j] = ci[j];
    ts[j] = topkc_exact(user, b->items + (int64_t)ci[j] * b->d, b->d);
  }
  __syncwarp();
  for (int j = lane; j < n; j += 32) {
    const float s = ts[j];
    const int32_t id = ti[j];
    int place = 0;
    for (int l = 0; l < n; l++) place += ts[l] > s || (ts[l] == s && ti[l] < id);
    if (place < b->k) {
      cs[place] = s;
      ci[place] = id;
    }
  }
  __syncwarp();
  return n < b->k ? n : b->k;
}

/* Warp: topk.c's compaction of a full buffer (see its proof): drop what is more than two
 * margins below the k-th best held; when more than three quarters remain (near-ties), the
 * exact best k decide and a later item needs an sgemm score above c_k - margin. */
__device__ static int topkc_compact(const topkc_block *b, int64_t r, float *cs, int32_t *ci,
                                    int n, float *filter) {
  const float m = b->margin[r];
  float lim = topkc_kth_largest(cs, n, b->k) - 2.0f * m;
  n = topkc_keep_above(cs, ci, n, lim);
  if (lim > *filter) *filter = lim;
  if (n <= b->cap - b->cap / 4) return n;
  n = topkc_keep_exact(b, r, cs, ci, n);
  lim = cs[b->k - 1] - m;
  if (lim > *filter) *filter = lim;
  return n;
}

__device__ static int topkc_seen(const int32_t *seen, int64_t lo, int64_t hi, int32_t id) {
  const int64_t end = hi;
  while (lo < hi) {
    const int64_t mid = lo + (hi - lo) / 2;
    if (seen[mid] < id) lo = mid + 1; else hi = mid;
  }
  return lo < end && seen[lo] == id;
}

__global__ void topkc_init_kernel(topkc_block b) {
  const int64_t r = blockIdx.x * (int64_t)blockDim.x + threadIdx.x;
  if (r >= b.mb) return;
  b.filter[r] = -INFINITY;
  b.cn[r] = 0;
}

/* A warp per user: scans its row of scores for items i0 .. i0+nb-1 (scores at
 * S[r*ld + j], j < nb) 32 items at a time, four such rows of 32 per step so that the common
 * case (nothing above the filter) is one vote per 128 scores. Items are admitted in id order,
 * 32 at a time; a compaction happens before a group that would overflow, so the buffer only
 * ever holds smaller ids than the items still to come (what the filter's proof needs); the
 * buffer (cap >= 128) then holds a group after any compaction (at most 3/4 cap remain). */
__global__ void topkc_select_kernel(topkc_block b, const float *S, int64_t ld, int64_t nb,
                                    int64_t i0) {
  const int64_t r = blockIdx.x * (int64_t)TOPKC_WARPS + threadIdx.x / 32;
  if (r >= b.mb) return; /* the whole warp */
  const int lane = threadIdx.x & 31;
  const float *row = S + r * ld;
  float *cs = b.cs + r * b.cap;
  int32_t *ci = b.ci + r * b.cap;
  const int64_t sb = b.seen_begin[r], se = b.seen_begin[r + 1];
  float filter = b.filter[r];
  int n = b.cn[r];
  for (int64_t base = 0; base < nb; base += 128) {
    float v[4];
    int any = 0;
#pragma unroll
    for (int q = 0; q < 4; q++) {
      const int64_t j = base + 32 * q + lane;
      v[q] = j < nb ? row[j] : -INFINITY;
      any |= v[q] > filter;
    }
    if (!__any_sync(TOPKC_FULL, any)) continue;
    for (int q = 0; q < 4; q++) {
      const int32_t id = (int32_t)(i0 + base + 32 * q + lane); /* used only when < i0 + nb */
      int ok = v[q] > filter && !(b.banned && b.banned[id]) && !topkc_seen(b.seen, sb, se, id);
      unsigned bal = __ballot_sync(TOPKC_FULL, ok);
      if (!bal) continue;
      if (n + __popc(bal) > b.cap) {
        n = topkc_compact(&b, r, cs, ci, n, &filter);
        ok = ok && v[q] > filter;
        bal = __ballot_sync(TOPKC_FULL, ok);
      }
      if (ok) {
        const int p = n + __popc(bal & ((1u << lane) - 1u));
        cs[p] = v[q];
        ci[p] = id;
      }
      n += __popc(bal);
      __syncwarp();
    }
  }
  if (lane == 0) {
    b.filter[r] = filter;
    b.cn[r] = n;
  }
}

/* A warp per user: the final exact best k, best first, then item 0 / -inf up to kout. */
__global__ void topkc_finish_kernel(topkc_block b, int kout, int32_t *out_item,
                                    float *out_score) {
  const int64_t r = blockIdx.x * (int64_t)TOPKC_WARPS + threadIdx.x / 32;
  if (r >= b.mb) return;
  const int lane = threadIdx.x & 31;
  float *cs = b.cs + r * b.cap;
  int32_t *ci = b.ci + r * b.cap;
  int n = b.cn[r];
  if (n > b.k) n = topkc_keep_above(cs, ci, n, topkc_kth_largest(cs, n, b.k) - 2.0f * b.margin[r]);
  n = topkc_keep_exact(&b, r, cs, ci, n);
  for (int j = lane; j < kout; j += 32) {
    out_item[r * kout + j] = j < n ? ci[j] : 0;
    out_score[r * kout + j] = j < n ? cs[j] : -INFINITY;
  }
}

/* The filter's operands: x rounded to bf16, to nearest (scorer_topk_margin_bf16's assumption). */
__global__ void topkc_to_bf16_kernel(__nv_bfloat16 *out, const float *x, int64_t n) {
  for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < n;
       i += (int64_t)gridDim.x * blockDim.x)
    out[i] = __float2bfloat16_rn(x[i]);
}

/* ---- host side -------------------------------------------------------------------------- */

/* The item table on the device (uploaded once by open) and the per-block buffers, grown to
 * what the largest call so far needed and kept for the next call. */
struct scorer_topk_cuda {
  int gpu;
  cudaStream_t stream;
  cublasHandle_t blas;
  const float *items_host; /* what open uploaded: run refuses any other table */
  const uint8_t *banned_host;
  int64_t n_items, d;
  double item_norm_max;
  float *items;
  __nv_bfloat16 *items16; /* the table rounded to bf16: the filter's products */
  uint8_t *banned;
  /* capacities of the block buffers below */
  int64_t ub, ib, cap, k, max_seen;
  float *users, *score, *margin, *filter, *cs, *ts, *out_score;
  __nv_bfloat16 *users16;
  int32_t *cn, *ci, *ti, *seen, *out_item;
  int64_t *seen_begin;
  float *h_margin;        /* host staging */
  int64_t *h_seen_begin;
  int32_t *h_seen;
};

static void topkc_free_blocks(scorer_topk_cuda *t) {
  void *dev[] = {t->users, t->users16, t->score, t->margin, t->filter, t->cs, t->ts,
                 t->out_score, t->cn, t->ci, t->ti, t->out_item, t->seen_begin};
  for (size_t i = 0; i < sizeof dev / sizeof dev[0]; i++)
    if (dev[i]) (void)cudaFree(dev[i]);
  t->users16 = NULL;
  t->users = t->score = t->margin = t->filter = t->cs = t->ts = t->out_score = NULL;
  t->cn = t->ci = t->ti = t->out_item = NULL;
  t->seen_begin = NULL;
  sr_free(t->h_margin);
  sr_free(t->h_seen_begin);
  t->h_margin = NULL;
  t->h_seen_begin = NULL;
  t->ub = t->ib = t->cap = t->k = 0;
}

static double topkc_norm(const float *x, int64_t d) {
  double s = 0;
  for (int64_t j = 0; j < d; j++) s += (double)x[j] * x[j];
  return sqrt(s);
}

static int topkc_cmp_i32(const void *a, const void *b) {
  const int32_t x = *(const int32_t *)a, y = *(const int32_t *)b;
  return (x > y) - (x < y);
}

static sr_status topkc_to_bf16(scorer_topk_cuda *t, __nv_bfloat16 *out, const float *x,
                               int64_t n) {
  if (n == 0) return SR_OK;
  const int64_t blocks = (n + 255) / 256 < 65536 ? (n + 255) / 256 : 65536;
  topkc_to_bf16_kernel<<<(unsigned)blocks, 256, 0, t->stream>>>(out, x, n);
  TOPKC_LAUNCHED();
  return SR_OK;
}

template <typename T>
static sr_status topkc_dev_alloc(T **p, size_t n) {
  return topkc_cuda(cudaMalloc((void **)p, n ? n * sizeof(T) : 1), "cudaMalloc", __LINE__);
}

static int64_t topkc_max(int64_t a, int64_t b) { return a > b ? a : b; }

/* Buffers for blocks of ub users x ib items, candidate buffers of cap and k outputs per user,
 * and max_seen seen items per user block; what is already large enough stays. */
static sr_status topkc_reserve(scorer_topk_cuda *t, int64_t ub, int64_t ib, int64_t cap,
                               int64_t k, int64_t max_seen) {
  if (ub > t->ub || ib > t->ib || cap > t->cap || k > t->k) {
    ub = topkc_max(ub, t->ub), ib = topkc_max(ib, t->ib);
    cap = topkc_max(cap, t->cap), k = topkc_max(k, t->k);
    topkc_free_blocks(t);
    const size_t state = (size_t)ub * (size_t)cap, d = (size_t)t->d;
    TRY(sr_alloc(&t->h_margin, (size_t)ub, sizeof(float), "top-k (CUDA) margins"));
    TRY(sr_alloc(&t->h_seen_begin, (size_t)ub + 1, sizeof(int64_t), "top-k (CUDA) seen offsets"));
    TRY(topkc_dev_alloc(&t->users, (size_t)ub * d));
    TRY(topkc_dev_alloc(&t->users16, (size_t)ub * d));
    TRY(topkc_dev_alloc(&t->score, (size_t)ub * (size_t)ib));
    TRY(topkc_dev_alloc(&t->margin, (size_t)ub));
    TRY(topkc_dev_alloc(&t->filter, (size_t)ub));
    TRY(topkc_dev_alloc(&t->cn, (size_t)ub));
    TRY(topkc_dev_alloc(&t->cs, state));
    TRY(topkc_dev_alloc(&t->ci, state));
    TRY(topkc_dev_alloc(&t->ts, state));
    TRY(topkc_dev_alloc(&t->ti, state));
    TRY(topkc_dev_alloc(&t->seen_begin, (size_t)ub + 1));
    TRY(topkc_dev_alloc(&t->out_item, (size_t)ub * (size_t)k));
    TRY(topkc_dev_alloc(&t->out_score, (size_t)ub * (size_t)k));
    t->ub = ub, t->ib = ib, t->cap = cap, t->k = k; /* only once all of them exist */
  }
  if (max_seen > t->max_seen || !t->h_seen) {
    if (t->seen) (void)cudaFree(t->seen);
    sr_free(t->h_seen);
    t->seen = NULL;
    t->h_seen = NULL;
    t->max_seen = 0;
    TRY(sr_alloc(&t->h_seen, (size_t)max_seen + 1, sizeof(int32_t), "top-k (CUDA) seen items"));
    TRY(topkc_dev_alloc(&t->seen, (size_t)max_seen));
    t->max_seen = max_seen;
  }
  return SR_OK;
}

/* Stages user block u0 .. u0+mb-1 on the host (margins, each seen slice sorted) and uploads it. */
static sr_status topkc_load_block(scorer_topk_cuda *t, const scorer_topk_input *in, int64_t u0,
                                  int64_t mb) {
  const int64_t d = in->d;
  const int64_t base = in->seen_offset ? in->seen_offset[u0] : 0;
  for (int64_t r = 0; r < mb; r++) /* the filter's products are of bf16 rows */
    t->h_margin[r] = scorer_topk_margin_bf16(in->users + (u0 + r) * d, d, t->item_norm_max);
  for (int64_t r = 0; r <= mb; r++)
    t->h_seen_begin[r] = in->seen_offset ? in->seen_offset[u0 + r] - base : 0;
  const int64_t total = t->h_seen_begin[mb];
  if (total > 0) {
    memcpy(t->h_seen, in->seen_item + base, (size_t)total * sizeof *t->h_seen);
    for (int64_t r = 0; r < mb; r++)
      qsort(t->h_seen + t->h_seen_begin[r], (size_t)(t->h_seen_begin[r + 1] - t->h_seen_begin[r]),
            sizeof *t->h_seen, topkc_cmp_i32);
    TOPKC_CUDA(cudaMemcpyAsync(t->seen, t->h_seen, (size_t)total * sizeof *t->seen,
                               cudaMemcpyHostToDevice, t->stream));
  }
  TOPKC_CUDA(cudaMemcpyAsync(t->margin, t->h_margin, (size_t)mb * sizeof *t->margin,
                             cudaMemcpyHostToDevice, t->stream));
  TOPKC_CUDA(cudaMemcpyAsync(t->seen_begin, t->h_seen_begin, (size_t)(mb + 1) * sizeof(int64_t),
                             cudaMemcpyHostToDevice, t->stream));
  return SR_OK;
}

static sr_status topkc_run(scorer_topk_cuda *t, const scorer_topk_input *in, int k,
                           const scorer_topk_opts *o, int32_t *out_item, float *out_score) {
  const int64_t d = in->d;
  const int32_t k_sel = (int64_t)k < in->n_items ? k : (int32_t)in->n_items;
  /* topk.c's 2k + 32, but at least 128 so that a group of 32 fits after any compaction; a
   * buffer of n_items + 1 never fills. */
  int64_t cap64 = 2 * (int64_t)k_sel + 32;
  if (cap64 < 128) cap64 = 128;
  const int32_t cap = (int32_t)(cap64 < in->n_items + 1 ? cap64 : in->n_items + 1);

  int64_t ub = o->user_block ? o->user_block : TOPKC_USER_BLOCK;
  if (ub > in->n_users) ub = in->n_users;
  const int64_t per_user = (int64_t)cap * 16 + (int64_t)k * 8 + 64;
  const int64_t ub_state = TOPKC_STATE_BYTES / per_user > 0 ? TOPKC_STATE_BYTES / per_user : 1;
  if (ub > ub_state) ub = ub_state; /* huge k: fewer users per block */
  if (ub > INT_MAX) ub = INT_MAX;
  int64_t ib = o->item_block ? o->item_block : TOPKC_ITEM_BLOCK;
  if (ib > in->n_items) ib = in->n_items;
  if (ib > INT_MAX) ib = INT_MAX;
  if (ub > INT64_MAX / 8 / ib)
    return sr_error(SR_EINVAL, "top-k (CUDA): blocks of %lld users x %lld items are too large",
                    (long long)ub, (long long)ib);

  int64_t max_seen = 0;
  for (int64_t u0 = 0; in->seen_offset && u0 < in->n_users; u0 += ub) {
    const int64_t u1 = u0 + ub < in->n_users ? u0 + ub : in->n_users;
    if (in->seen_offset[u1] - in->seen_offset[u0] > max_seen)
      max_seen = in->seen_offset[u1] - in->seen_offset[u0];
  }
  TOPKC_CUDA(cudaSetDevice(t->gpu));
  TRY(topkc_reserve(t, ub, ib, cap, k, max_seen));

  const float one = 1.0f, zero = 0.0f;
  for (int64_t u0 = 0; u0 < in->n_users; u0 += ub) {
    const int64_t mb = ub < in->n_users - u0 ? ub : in->n_users - u0;
    const topkc_block b = {t->users, t->items, t->banned, t->seen_begin, t->seen, t->margin,
                           t->filter, t->cn, t->cs, t->ci, t->ts, t->ti, mb, (int)d, k_sel, cap};
    const unsigned warps_grid = (unsigned)((mb + TOPKC_WARPS - 1) / TOPKC_WARPS);
    if (!o->gemm_only) {
      TRY(topkc_load_block(t, in, u0, mb));
      topkc_init_kernel<<<(unsigned)((mb + 255) / 256), 256, 0, t->stream>>>(b);
      TOPKC_LAUNCHED();
    }
    TOPKC_CUDA(cudaMemcpyAsync(t->users, in->users + u0 * d, (size_t)(mb * d) * sizeof(float),
                               cudaMemcpyHostToDevice, t->stream));
    TRY(topkc_to_bf16(t, t->users16, t->users, mb * d));
    for (int64_t i0 = 1; i0 <= in->n_items; i0 += ib) {
      const int64_t nb = in->n_items + 1 - i0 < ib ? in->n_items + 1 - i0 : ib;
      /* Column-major: scores^T [nb, mb] (ld ib) = items_blk^T (d x nb) . users_blk (d x mb), so
       * user r's scores for items i0.. are score[r * ib + j]. */
      TOPKC_CUBLAS(cublasGemmEx(t->blas, CUBLAS_OP_T, CUBLAS_OP_N, (int)nb, (int)mb, (int)d,
                                &one, t->items16 + i0 * d, CUDA_R_16BF, (int)d, t->users16,
                                CUDA_R_16BF, (int)d, &zero, t->score, CUDA_R_32F, (int)ib,
                                CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT));
      if (o->gemm_only) continue;
      topkc_select_kernel<<<warps_grid, 32 * TOPKC_WARPS, 0, t->stream>>>(b, t->score, ib, nb,
                                                                          i0);
      TOPKC_LAUNCHED();
    }
    if (!o->gemm_only) {
      topkc_finish_kernel<<<warps_grid, 32 * TOPKC_WARPS, 0, t->stream>>>(b, k, t->out_item,
                                                                          t->out_score);
      TOPKC_LAUNCHED();
      const size_t rows = (size_t)(mb * k);
      TOPKC_CUDA(cudaMemcpyAsync(out_item + u0 * k, t->out_item, rows * sizeof(int32_t),
                                 cudaMemcpyDeviceToHost, t->stream));
      TOPKC_CUDA(cudaMemcpyAsync(out_score + u0 * k, t->out_score, rows * sizeof(float),
                                 cudaMemcpyDeviceToHost, t->stream));
    }
    TOPKC_CUDA(cudaStreamSynchronize(t->stream)); /* the staging buffers are reused next block */
  }
  return SR_OK;
}

static sr_status topkc_open(scorer_topk_cuda *t, int gpu, const float *items, int64_t n_items,
                            int64_t d, const uint8_t *banned) {
  int gpus = 0;
  if (cudaGetDeviceCount(&gpus) != cudaSuccess || gpus == 0) {
    (void)cudaGetLastError();
    return sr_error(SR_EINVAL, "top-k (CUDA): no CUDA device is visible");
  }
  if (gpu < 0 || gpu >= gpus)
    return sr_error(SR_EINVAL, "top-k (CUDA): GPU %d does not exist (%d visible)", gpu, gpus);
  if (items) TRY(scorer_topk_check_items(items, n_items, d)); /* once here, not every run */
  t->gpu = gpu;
  t->items_host = items, t->banned_host = banned, t->n_items = n_items, t->d = d;
  TOPKC_CUDA(cudaSetDevice(gpu));
  TOPKC_CUDA(cudaStreamCreate(&t->stream));
  TOPKC_CUBLAS(cublasCreate(&t->blas));
  TOPKC_CUBLAS(cublasSetStream(t->blas, t->stream));
  /* bf16 tensor cores with fp32 accumulation, fp32 reductions (the margin's assumptions). */
  TOPKC_CUBLAS(cublasSetMathMode(t->blas, (cublasMath_t)(CUBLAS_DEFAULT_MATH |
                                                         CUBLAS_MATH_DISALLOW_REDUCED_PRECISION_REDUCTION)));
  for (int64_t i = 1; i <= n_items; i++) {
    const double nrm = topkc_norm(items + i * d, d);
    if (nrm > t->item_norm_max) t->item_norm_max = nrm;
  }
  const size_t table = (size_t)(n_items + 1) * (size_t)d;
  TRY(topkc_dev_alloc(&t->items, table));
  TRY(topkc_dev_alloc(&t->items16, table));
  if (items) { /* open allows no table for 0 items: nothing of it is ever read then */
    TOPKC_CUDA(cudaMemcpyAsync(t->items, items, table * sizeof(float), cudaMemcpyHostToDevice,
                               t->stream));
    TRY(topkc_to_bf16(t, t->items16, t->items, (int64_t)table));
  }
  if (banned) {
    TRY(topkc_dev_alloc(&t->banned, (size_t)n_items + 1));
    TOPKC_CUDA(cudaMemcpyAsync(t->banned, banned, (size_t)n_items + 1, cudaMemcpyHostToDevice,
                               t->stream));
  }
  TOPKC_CUDA(cudaStreamSynchronize(t->stream)); /* the caller may change its copy afterwards */
  return SR_OK;
}

extern "C" sr_status scorer_topk_cuda_open(scorer_topk_cuda **out, int gpu, const float *items,
                                           int64_t n_items, int64_t d, const uint8_t *banned) {
  *out = NULL;
  if (n_items < 0 || n_items > INT32_MAX - 1 || d < 1 || (!items && n_items > 0))
    return sr_error(SR_EINVAL, "top-k (CUDA): an item table of %lld items x d %lld%s",
                    (long long)n_items, (long long)d, items ? "" : " without rows");
  scorer_topk_cuda *t = (scorer_topk_cuda *)calloc(1, sizeof *t);
  if (!t) return sr_error(SR_ENOMEM, "top-k (CUDA): out of host memory");
  const sr_status st = topkc_open(t, gpu, items, n_items, d, banned);
  if (st != SR_OK) {
    scorer_topk_cuda_close(t);
    return st;
  }
  *out = t;
  return SR_OK;
}

extern "C" sr_status scorer_topk_cuda_run(scorer_topk_cuda *t, const scorer_topk_input *in,
                                          int k, const scorer_topk_opts *opts,
                                          int32_t *out_item, float *out_score) {
  scorer_topk_opts o;
  memset(&o, 0, sizeof o);
  if (opts) o = *opts;
  TRY(scorer_topk_check_users(in, k, &o, out_item, out_score)); /* items: checked at open */
  if (in->items != t->items_host || in->n_items != t->n_items || in->d != t->d ||
      in->banned != t->banned_host)
    return sr_error(SR_EINVAL, "top-k (CUDA): the input's item table (%lld items x d %lld) is "
                    "not the one this GPU context holds (%lld x %lld, or other banned items)",
                    (long long)in->n_items, (long long)in->d, (long long)t->n_items,
                    (long long)t->d);
  if (in->n_users == 0) return SR_OK;
  if (in->n_items == 0) { /* nothing to rank: every row is padding */
    for (int64_t j = 0; !o.gemm_only && j < in->n_users * (int64_t)k; j++) {
      out_item[j] = 0;
      out_score[j] = -INFINITY;
    }
    return SR_OK;
  }
  return topkc_run(t, in, k, &o, out_item, out_score);
}

extern "C" void scorer_topk_cuda_close(scorer_topk_cuda *t) {
  if (!t) return;
  topkc_free_blocks(t);
  if (t->seen) (void)cudaFree(t->seen);
  sr_free(t->h_seen);
  if (t->items) (void)cudaFree(t->items);
  if (t->items16) (void)cudaFree(t->items16);
  if (t->banned) (void)cudaFree(t->banned);
  if (t->blas) (void)cublasDestroy(t->blas);
  if (t->stream) (void)cudaStreamDestroy(t->stream);
  free(t);
}

extern "C" sr_status scorer_topk_run_cuda(const scorer_topk_input *in, int k,
                                          const scorer_topk_opts *opts, int32_t *out_item,
                                          float *out_score) {
  scorer_topk_opts o;
  memset(&o, 0, sizeof o);
  if (opts) o = *opts;
  TRY(scorer_topk_check(in, k, &o, out_item, out_score)); /* bad input before "no GPU" */
  if (in->n_users == 0) return SR_OK;
  int gpu = 0;
  if (cudaGetDevice(&gpu) != cudaSuccess) {
    (void)cudaGetLastError();
    gpu = 0;
  }
  scorer_topk_cuda *t = NULL;
  TRY(scorer_topk_cuda_open(&t, gpu, in->items, in->n_items, in->d, in->banned));
  const sr_status st = scorer_topk_cuda_run(t, in, k, &o, out_item, out_score);
  scorer_topk_cuda_close(t);
  return st;
}
