/* The one API through which the model runs every op it needs, forward and backward: a table of
 * functions (sr_kernels) that a backend fills once at start-up. CPU now (plain C + BLAS, the
 * readable reference); CUDA later, beside it. Not for model structure or parameter layout. */
#ifndef SR_KERNELS_H
#define SR_KERNELS_H

#include <stddef.h>
#include <stdint.h>

#include "core/status.h"

/* How to read this file
 * ---------------------
 * Why a table: the model calls `k->layernorm_forward(k, ...)` and never learns which backend
 * answers, so a CUDA backend slots in by filling the same table (ggml-backend style). Each op's
 * signature is written ONCE below as a function type (sr_layernorm_forward_fn), with its
 * shapes; the CPU implementation in kernels/layernorm.c and a CUDA one in kernels/layernorm.cu
 * are both declared with that type, so they cannot drift apart.
 *
 * Sizes: B batch, T window length (sequences are LEFT-padded to T), C model width, H heads
 * (C % H == 0), N rows (usually B*T), V rows of the item table (n_items + 1: row 0 is padding,
 * items are 1..V-1), P rows of the position table (max_len, T <= P), K negatives per position.
 * Every tensor is row-major float32; its shape is written next to its pointer.
 *
 * Memory: tensor pointers are backend memory (host memory on the CPU backend, device memory on
 * CUDA); allocate them with k->alloc. Scalar results (loss, counts, norms) are host pointers.
 * Ops allocate nothing: the few that need scratch take (scratch, scratch_bytes), sized by
 * k->scratch_bytes for the model's dimensions (one buffer serves every op).
 *
 * Ids: int32; 0 is padding. A padded position produces zero output, contributes to no loss and
 * to no gradient: row 0 of the item table never receives a gradient, a padded key is masked in
 * attention, a padded query's attention output is zero and costs nothing.
 *
 * Gradients: every backward op ADDS (+=) into the gradients it writes (parameters and inputs
 * alike), so residual branches and the tied item table need no extra buffers; the caller zeroes
 * gradient buffers once per step (k->zero). A gradient pointer may be NULL when not wanted.
 * Gradient outputs must not alias the tensors they are computed from.
 *
 * Determinism: the same inputs on the same backend with the same thread count give the same
 * bits. Reductions across rows (norms, loss sums, scatter-adds into tables) run in a fixed
 * order; only the BLAS matrix products decide their own summation order.
 *
 * Errors: SR_EINVAL for impossible shapes or ids out of range (the message names the op, the
 * row and the value), SR_EINTERNAL when the backend itself fails. */

typedef struct sr_kernels sr_kernels;

/* Dropout as a pure function: element i is kept when uniform(seed, stream, step, i) >= p, and
 * kept values are scaled by 1/(1-p). Backward recomputes the mask instead of storing it. Each
 * dropout site (and each rank) uses its own stream; the step makes every update draw afresh.
 * A NULL sr_dropout, or p == 0, is the identity (evaluation). */
typedef struct {
  float p;         /* probability of dropping, 0 <= p < 1 */
  uint64_t seed;   /* the run's seed */
  uint64_t stream; /* one per dropout site and rank */
  uint64_t step;   /* optimizer step (times micro-batches, if any); < 2^32 */
} sr_dropout;

/* Dimensions that decide how much scratch the ops need (k->scratch_bytes). */
typedef struct {
  int B, T, C, H, V;
  int negatives;  /* K of loss_sampled_ce; 0 when unused */
  int block_rows; /* rows per block in the loss ops (bounds the [rows, V] logits block) */
} sr_kernel_dims;

/* AdamW hyper-parameters for one update (decoupled weight decay, as Loshchilov & Hutter). */
typedef struct {
  float lr;
  float beta1, beta2, eps;
  float weight_decay; /* p -= lr * weight_decay * p, independent of the gradient */
  int64_t step;       /* 1 for the first update: the bias correction uses it */
  float grad_scale;   /* every gradient is multiplied by it first: the clipping factor (1: none) */
} sr_adamw;

/* ---- embeddings ----------------------------------------------------------------------------
 * out[b,t,:] = scale * wte[ids[b,t],:] + wpe[P-T+t,:] for a real token, 0 for padding.
 * Positions count from the END of the window, so the newest item always meets wpe[P-1] and a
 * batch cut to its longest sequence (T < P) sees the same positions as a full window. */
typedef sr_status sr_embed_forward_fn(const sr_kernels *k,
                                      float *out,          /* [B, T, C] */
                                      const int32_t *ids,  /* [B, T], 0..V-1 */
                                      const float *wte,    /* [V, C] */
                                      const float *wpe,    /* [P, C] */
                                      int B, int T, int C, int V, int P, float scale);
typedef sr_status sr_embed_backward_fn(const sr_kernels *k,
                                       float *dwte,         /* [V, C] +=, row 0 untouched; or NULL */
                                       float *dwpe,         /* [P, C] +=; or NULL */
                                       const float *dout,   /* [B, T, C] */
                                       const int32_t *ids,  /* [B, T] */
                                       int B, int T, int C, int V, int P, float scale);

/* ---- layer norm over the last axis: out = (x - mean) * rstd * w + b ------------------------ */
typedef sr_status sr_layernorm_forward_fn(const sr_kernels *k,
                                          float *out,      /* [N, C] */
                                          float *mean,     /* [N], kept for backward */
                                          float *rstd,     /* [N], 1/sqrt(var + eps) */
                                          const float *x,  /* [N, C] */
                                          const float *w,  /* [C] */
                                          const float *b,  /* [C] */
                                          int N, int C, float eps);
typedef sr_status sr_layernorm_backward_fn(const sr_kernels *k,
                                           float *dx,          /* [N, C] += ; or NULL */
                                           float *dw,          /* [C] += ; or NULL */
                                           float *db,          /* [C] += ; or NULL */
                                           const float *dout,  /* [N, C] */
                                           const float *x,     /* [N, C] */
                                           const float *w,     /* [C] */
                                           const float *mean,  /* [N] */
                                           const float *rstd,  /* [N] */
                                           int N, int C);

/* ---- linear layer (sgemm): out = x . w^T + b ------------------------------------------------ */
typedef sr_status sr_linear_forward_fn(const sr_kernels *k,
                                       float *out,      /* [N, OC] */
                                       const float *x,  /* [N, IC] */
                                       const float *w,  /* [OC, IC] */
                                       const float *b,  /* [OC], or NULL: no bias */
                                       int N, int IC, int OC);
typedef sr_status sr_linear_backward_fn(const sr_kernels *k,
                                        float *dx,          /* [N, IC] += ; or NULL */
                                        float *dw,          /* [OC, IC] += ; or NULL */
                                        float *db,          /* [OC] += ; or NULL */
                                        const float *dout,  /* [N, OC] */
                                        const float *x,     /* [N, IC] */
                                        const float *w,     /* [OC, IC] */
                                        int N, int IC, int OC);

/* ---- causal multi-head self-attention --------------------------------------------------------
 * Head h uses columns [h*D, (h+1)*D) of query, key and value (D = C/H). Query t of sequence b
 * attends key s when s <= t and ids[b,s] != 0; scores are scaled by 1/sqrt(D). query, key and
 * value are rows of `ld` floats (ld = C for separate tensors, 3*C for a fused qkv projection
 * whose key and value start C and 2*C floats in); their gradients use the same ld.
 * att keeps the softmax probabilities (before dropout) for backward; entries of masked keys and
 * rows of padded queries are 0, and a padded query's output row is 0. */
typedef sr_status sr_attention_forward_fn(const sr_kernels *k,
                                          float *out,            /* [B, T, C] */
                                          float *att,            /* [B, H, T, T] */
                                          const float *query,    /* [B, T, ld] */
                                          const float *key,      /* [B, T, ld] */
                                          const float *value,    /* [B, T, ld] */
                                          const int32_t *ids,    /* [B, T], 0 = padding */
                                          int B, int T, int C, int H, int ld,
                                          const sr_dropout *drop /* on att; NULL: none */);
typedef sr_status sr_attention_backward_fn(const sr_kernels *k,
                                           float *dquery,        /* [B, T, ld] += */
                                           float *dkey,          /* [B, T, ld] += */
                                           float *dvalue,        /* [B, T, ld] += */
                                           const float *dout,    /* [B, T, C] */
                                           const float *query,   /* [B, T, ld] */
                                           const float *key,     /* [B, T, ld] */
                                           const float *value,   /* [B, T, ld] */
                                           const float *att,     /* [B, H, T, T] from forward */
                                           const int32_t *ids,   /* [B, T] */
                                           int B, int T, int C, int H, int ld,
                                           const sr_dropout *drop, /* as in forward */
                                           void *scratch, size_t scratch_bytes);

/* ---- element-wise ---------------------------------------------------------------------------
 * GELU, exact form: gelu(x) = x * Phi(x), Phi the standard normal CDF. */
typedef sr_status sr_gelu_forward_fn(const sr_kernels *k, float *out /* [n] */,
                                     const float *x /* [n] */, int64_t n);
typedef sr_status sr_gelu_backward_fn(const sr_kernels *k, float *dx /* [n] += */,
                                      const float *x /* [n] */, const float *dout /* [n] */,
                                      int64_t n);
/* out = dropout(x); out may equal x. Element i of the mask is draw i of (seed, stream, step). */
typedef sr_status sr_dropout_forward_fn(const sr_kernels *k, float *out /* [n] */,
                                        const float *x /* [n] */, int64_t n,
                                        const sr_dropout *drop);
typedef sr_status sr_dropout_backward_fn(const sr_kernels *k, float *dx /* [n] += */,
                                         const float *dout /* [n] */, int64_t n,
                                         const sr_dropout *drop);
/* Residual connection with its branch's dropout fused: out = x + dropout(y); out may equal x. */
typedef sr_status sr_residual_forward_fn(const sr_kernels *k, float *out /* [n] */,
                                         const float *x /* [n] */, const float *y /* [n] */,
                                         int64_t n, const sr_dropout *drop /* on y; or NULL */);
typedef sr_status sr_residual_backward_fn(const sr_kernels *k, float *dx /* [n] +=; or NULL */,
                                          float *dy /* [n] +=; or NULL */,
                                          const float *dout /* [n] */, int64_t n,
                                          const sr_dropout *drop);

/* ---- losses over the tied item table ----------------------------------------------------------
 * The score of item i at row r is hidden[r,:] . wte[i,:]. Rows whose target is 0 are skipped.
 * Each loss writes the mean over real targets to *loss (a sum divided by `denom`; denom <= 0
 * means "this call's count of real targets"; a trainer that splits one batch over ranks or
 * micro-batches passes the global count), the count to *n_targets (may be NULL), and ADDS the
 * gradient of that mean into dhidden and dwte (both NULL: forward only, for validation).
 * Rows are processed in blocks of block_rows; scratch comes from k->scratch_bytes. */

/* Softmax over all items 1..V-1. Never holds more than [block_rows, V] logits. */
typedef sr_status sr_loss_ce_fn(const sr_kernels *k,
                                double *loss,            /* host, 1 */
                                int64_t *n_targets,      /* host, 1; or NULL */
                                float *dhidden,          /* [N, C] += ; or NULL */
                                float *dwte,             /* [V, C] += ; or NULL */
                                const float *hidden,     /* [N, C] */
                                const int32_t *targets,  /* [N], 0 = no target */
                                const float *wte,        /* [V, C] */
                                int N, int C, int V, double denom, int block_rows,
                                void *scratch, size_t scratch_bytes);
/* Sampled softmax over the positive and K sampled negatives with the logQ correction: each
 * candidate's score is s_i - logq[i], logq[i] = log of the probability that the sampler draws
 * item i (NULL: no correction). A negative equal to the row's target (an accidental hit) or to
 * 0 is left out of that row's softmax. */
typedef sr_status sr_loss_sampled_ce_fn(const sr_kernels *k,
                                        double *loss, int64_t *n_targets,
                                        float *dhidden,            /* [N, C] += ; or NULL */
                                        float *dwte,               /* [V, C] += ; or NULL */
                                        const float *hidden,       /* [N, C] */
                                        const int32_t *targets,    /* [N] */
                                        const int32_t *negatives,  /* [N, K], 0 = none */
                                        const float *logq,         /* [V], or NULL */
                                        const float *wte,          /* [V, C] */
                                        int N, int C, int V, int K, double denom, int block_rows,
                                        void *scratch, size_t scratch_bytes);
/* Binary cross-entropy with one negative per position (the SASRec paper):
 * -log sigmoid(s_target) - log(1 - sigmoid(s_negative)); a negative of 0 drops its term. */
typedef sr_status sr_loss_bce_fn(const sr_kernels *k,
                                 double *loss, int64_t *n_targets,
                                 float *dhidden,            /* [N, C] += ; or NULL */
                                 float *dwte,               /* [V, C] += ; or NULL */
                                 const float *hidden,       /* [N, C] */
                                 const int32_t *targets,    /* [N] */
                                 const int32_t *negatives,  /* [N] */
                                 const float *wte,          /* [V, C] */
                                 int N, int C, int V, double denom);

/* ---- optimizer --------------------------------------------------------------------------------
 * sqrt(sum g^2) over the whole flat gradient buffer, summed in double in a fixed order; the
 * trainer clips with kernel_clip_scale and skips a step whose norm is not finite. */
typedef sr_status sr_global_norm_fn(const sr_kernels *k, double *norm /* host, 1 */,
                                    const float *g /* [n] */, int64_t n);
/* One AdamW update over flat buffers (all [n], same layout). Call it once for the whole
 * parameter buffer, or once per contiguous group that has its own weight decay. */
typedef sr_status sr_adamw_update_fn(const sr_kernels *k, float *param, float *m, float *v,
                                     const float *grad, int64_t n, const sr_adamw *opt);

/* ---- precision ------------------------------------------------------------------------------
 * out[i] = x[i] rounded to bf16 (to nearest, ties to even; NaN stays NaN), stored as float; out
 * may be x. What the model uses for its bf16 copy of the weights (model/sasrec.h). */
typedef sr_status sr_round_bf16_fn(const sr_kernels *k, float *out /* [n] */,
                                   const float *x /* [n] */, int64_t n);

/* ---- the table ------------------------------------------------------------------------------ */
struct sr_kernels {
  const char *name; /* "cpu", "cuda" */
  int on_device;    /* 1: tensor pointers are device memory */
  void *ctx;        /* the backend's own state (BLAS handle, stream); NULL on CPU */
  /* Precision (runtime.precision), set by the caller after init. 0: fp32. 1: bf16: every
   * tensor an op writes is rounded to bf16 after the op's fp32 arithmetic, except parameter
   * gradients, layer-norm statistics and host scalars; the ce loss also rounds its logit
   * gradients before the two products that use them. With bf16 weights (the model's copy),
   * every matrix product then has bf16 operands and fp32 accumulation (kernels/README.md). */
  int bf16;

  /* Memory that the ops can use, and moves between it and the host. */
  sr_status (*alloc)(const sr_kernels *k, void *out, size_t bytes, const char *what);
  void (*free)(const sr_kernels *k, void *ptr);
  sr_status (*zero)(const sr_kernels *k, void *ptr, size_t bytes);
  sr_status (*upload)(const sr_kernels *k, void *dst /* backend */, const void *src /* host */,
                      size_t bytes);
  sr_status (*download)(const sr_kernels *k, void *dst /* host */, const void *src /* backend */,
                        size_t bytes);
  sr_status (*synchronize)(const sr_kernels *k);
  /* Bytes of scratch that covers every op at these dimensions. */
  size_t (*scratch_bytes)(const sr_kernels *k, const sr_kernel_dims *dims);
  /* Rows per block of the loss ops over V items (sr_kernel_dims.block_rows): the CPU keeps a
   * block's logits in cache; a GPU needs products large enough to fill it. */
  int (*loss_block_rows)(const sr_kernels *k, int V);
  void (*close)(sr_kernels *k);

  sr_embed_forward_fn *embed_forward;
  sr_embed_backward_fn *embed_backward;
  sr_layernorm_forward_fn *layernorm_forward;
  sr_layernorm_backward_fn *layernorm_backward;
  sr_linear_forward_fn *linear_forward;
  sr_linear_backward_fn *linear_backward;
  sr_attention_forward_fn *attention_forward;
  sr_attention_backward_fn *attention_backward;
  sr_gelu_forward_fn *gelu_forward;
  sr_gelu_backward_fn *gelu_backward;
  sr_dropout_forward_fn *dropout_forward;
  sr_dropout_backward_fn *dropout_backward;
  sr_residual_forward_fn *residual_forward;
  sr_residual_backward_fn *residual_backward;
  sr_loss_ce_fn *loss_ce;
  sr_loss_sampled_ce_fn *loss_sampled_ce;
  sr_loss_bce_fn *loss_bce;
  sr_global_norm_fn *global_norm;
  sr_adamw_update_fn *adamw_update;
  sr_round_bf16_fn *round_bf16;
};

/* The CPU backend, always available. threads > 0 sets the OpenMP thread count (0 keeps
 * OMP_NUM_THREADS or the core count). Matrix products are split over those same threads, so
 * this also puts OpenBLAS on one thread for the whole process (see kernels/README.md). */
sr_status kernels_cpu_init(sr_kernels *k, int threads);
/* The CUDA backend on GPU `device`: SR_ENOTBUILT in a build without CUDA. */
sr_status kernels_cuda_init(sr_kernels *k, int device);
/* The CUDA backend on `gpu` when gpu >= 0, else the CPU backend with `threads`. */
sr_status kernels_init(sr_kernels *k, int gpu, int threads);
/* train.precision: sets k->bf16 (before the model is created: it keeps a bf16 copy of its
 * weights). SR_ENOTBUILT where the backend has no bf16 yet. On the CPU bf16 is an emulation
 * (fp32 arithmetic rounded as above), slower than fp32: the reference for a GPU's numbers. */
sr_status kernels_set_bf16(sr_kernels *k, int bf16);
/* Releases what init took; safe on a zeroed or already closed table. */
void kernels_close(sr_kernels *k);

/* ---- host-side schedule helpers (pure functions, no backend) ------------------------------- */
typedef enum {
  SR_LR_CONSTANT, /* linear warm-up, then base_lr */
  SR_LR_COSINE,   /* linear warm-up, then half a cosine from base_lr to min_lr at total_steps */
  SR_LR_LINEAR,   /* linear warm-up, then a straight line from base_lr to min_lr at total_steps */
} sr_lr_kind;

typedef struct {
  sr_lr_kind kind;
  double base_lr;
  double min_lr;
  int64_t warmup_steps; /* 0: none */
  int64_t total_steps;  /* where the decay ends (ignored by SR_LR_CONSTANT) */
} sr_lr_schedule;

/* Learning rate of update `step` (1 is the first): base_lr * step / warmup_steps while
 * step <= warmup_steps, then the decay; min_lr after total_steps. */
double kernel_lr_at(const sr_lr_schedule *s, int64_t step);
/* "constant", "cosine" or "linear"; SR_EINVAL naming the accepted values otherwise. */
sr_status kernel_lr_kind_parse(const char *name, sr_lr_kind *out);
/* The factor that brings a gradient of global norm `norm` down to max_norm: min(1, max/norm).
 * 1 when max_norm <= 0 (no clipping) or the norm is 0; the caller checks isfinite(norm). */
double kernel_clip_scale(double norm, double max_norm);

#endif
