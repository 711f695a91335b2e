/* The SASRec model (DESIGN.md "Model and training"): parameters, gradients and Adam moments each
 * in one flat buffer carved by one layout, activations for one batch, forward and backward
 * through the kernel table. Pre-LN blocks of causal multi-head attention and a GELU
 * feed-forward layer, learned positions, a final layer norm, output tied to the item table.
 * Not for the training loop, sampling negatives or file formats (trainer/, checkpoint.h). */
#ifndef SR_SASREC_H
#define SR_SASREC_H

#include <stdint.h>

#include "core/arena.h"
#include "core/status.h"
#include "kernels/kernels.h"

typedef struct {
  int n_items;  /* items are 1..n_items; the item table has n_items + 1 rows (row 0: padding) */
  int max_len;  /* P: positions */
  int d_model;  /* C */
  int n_layers; /* L */
  int n_heads;  /* H */
  int d_ff;     /* F */
  int content_dim; /* D of /items/content when the model adds its projection (model.item_content);
                    * 0: no content */
} sr_model_dims;

/* Pointers into one flat buffer (parameters, or gradients: the same layout). Tensors that get
 * weight decay come first, so one contiguous range [0, n_decay) is decayed. */
typedef struct {
  float *wte;    /* [V, C] item embedding, also the output layer */
  float *wpe;    /* [P, C] positions, counted from the end of the window */
  float *content_w; /* [C, D] projection of item content into the item table; only with D > 0 */
  float *qkv_w;  /* [L, 3C, C] */
  float *proj_w; /* [L, C, C] */
  float *fc_w;   /* [L, F, C] */
  float *fc2_w;  /* [L, C, F] */
  float *ln1_w;  /* [L, C] */
  float *ln1_b;  /* [L, C] */
  float *qkv_b;  /* [L, 3C] */
  float *proj_b; /* [L, C] */
  float *ln2_w;  /* [L, C] */
  float *ln2_b;  /* [L, C] */
  float *fc_b;   /* [L, F] */
  float *fc2_b;  /* [L, C] */
  float *lnf_w;  /* [C] */
  float *lnf_b;  /* [C] */
} sr_model_tensors;

/* What forward keeps for backward, sized for at most B x P tokens. */
typedef struct {
  int B_cap;
  int32_t *ids;         /* [B, T] backend copy of the batch's token ids */
  float *res;           /* [L+1, B*T, C] residual stream: res[l] enters layer l */
  float *mid;           /* [L, B*T, C] residual stream after attention */
  float *ln1;           /* [L, B*T, C] */
  float *ln1_mean;      /* [L, B*T] */
  float *ln1_rstd;      /* [L, B*T] */
  float *qkv;           /* [L, B*T, 3C] */
  float *att;           /* [L, B, H, T, T] attention probabilities */
  float *att_out;       /* [L, B*T, C] */
  float *ln2;           /* [L, B*T, C] */
  float *ln2_mean;      /* [L, B*T] */
  float *ln2_rstd;      /* [L, B*T] */
  float *fc;            /* [L, B*T, F] before GELU */
  float *fc_gelu;       /* [L, B*T, F] */
  float *hidden;        /* [B*T, C] final layer norm: the user state at every position */
  float *lnf_mean;      /* [B*T] */
  float *lnf_rstd;      /* [B*T] */
  float *branch;        /* [B*T, C] an attention or feed-forward branch before its residual add */
  /* backward */
  float *d_hidden;      /* [B*T, C] gradient from the loss */
  float *d_res;         /* [B*T, C] gradient of the residual stream */
  float *d_c;           /* [B*T, C] */
  float *d_c2;          /* [B*T, C] */
  float *d_qkv;         /* [B*T, 3C] */
  float *d_f;           /* [B*T, F] */
  float *d_f2;          /* [B*T, F] */
  /* With content (D > 0): the item table the model uses, items = wte + content . content_w^T,
   * and its gradient, folded back into wte and content_w at the end of backward. */
  float *items;         /* [V, C] */
  float *d_items;       /* [V, C] */
  int items_ready;      /* items computed from the current weights (see sr_model_items_refresh) */
  void *scratch;        /* k->scratch_bytes for these dimensions */
  size_t scratch_bytes;
} sr_model_activations;

typedef struct {
  sr_model_dims dims;
  float dropout;
  sr_layout layout;       /* names and shapes of the tensors in every flat buffer */
  int64_t n_params;       /* elements of each flat buffer (layout.total) */
  int64_t n_decay;        /* elements [0, n_decay) get weight decay */
  float *params;          /* [n_params] backend memory */
  float *grads;           /* [n_params] */
  float *adam_m;          /* [n_params] */
  float *adam_v;          /* [n_params] */
  float *content;         /* [V, D] backend copy of the items' content vectors (D > 0), row 0 zero */
  /* [n_params] with bf16 kernels (k->bf16 at create): params rounded to bf16, the weights the
   * ops read; params stay the fp32 master weights the optimizer and checkpoints see. NULL in
   * fp32. Recomputed with the item table (sr_model_items_refresh). */
  float *params_bf16;
  sr_model_tensors p;     /* views of the weights the ops read: params_bf16, else params */
  sr_model_tensors g;     /* views of grads */
  sr_model_activations act;
  int loss_block_rows;    /* rows per block in the losses */
  int negatives;          /* K for sampled losses (scratch sizing) */
} sr_model;

/* Dropout of a training step: the seed, the step and this rank pick every mask. */
typedef struct {
  uint64_t seed;
  uint64_t step;
  int rank;
} sr_model_train_step;

/* Allocates the flat buffers and activations for batches of up to batch_cap sequences. */
sr_status sr_model_create(sr_model *m, const sr_kernels *k, const sr_model_dims *dims,
                          float dropout, int batch_cap, int negatives);
void sr_model_destroy(sr_model *m, const sr_kernels *k);
/* Sets the content vectors (host [V, D], D = dims.content_dim; row 0 is taken as zero) of a
 * model with content. The item table is recomputed at the next forward. */
sr_status sr_model_set_content(sr_model *m, const sr_kernels *k, const float *content);

/* The item table the model scores with (embedding input and tied output layer): wte itself, or
 * with content wte + content . content_w^T (valid after sr_model_items_refresh or a forward).
 * Losses read sr_model_items and add their item gradient into sr_model_items_grad. */
const float *sr_model_items(const sr_model *m);
float *sr_model_items_grad(sr_model *m);
/* Recomputes what is derived from the weights: their bf16 copy (params_bf16), then the item
 * table (nothing to do in fp32 without content). A training forward does it every time; an
 * evaluation forward only when the weights were loaded or set since: call it after changing
 * m->params by other means (an optimizer step, a checkpoint read). */
sr_status sr_model_items_refresh(sr_model *m, const sr_kernels *k);

/* Random initial weights from (seed): normal(0, 0.02) matrices (residual projections scaled by
 * 1/sqrt(2L)), unit layer-norm gains, zero biases; the padding row of wte is 0. */
sr_status sr_model_init_weights(sr_model *m, const sr_kernels *k, uint64_t seed);

/* Forward over B sequences of T tokens (ids: host [B, T], left-padded, T <= P). train == NULL
 * is evaluation (no dropout; the item table is refreshed only when not ready). The user states are in m->act.hidden afterwards. */
sr_status sr_model_forward(sr_model *m, const sr_kernels *k, const int32_t *ids, int B, int T,
                           const sr_model_train_step *train);
/* Backward from m->act.d_hidden (set by a loss) into m->grads (added to; zero them with
 * sr_model_zero_grads first). Same arguments as the forward that preceded it. */
sr_status sr_model_backward(sr_model *m, const sr_kernels *k, int B, int T,
                            const sr_model_train_step *train);
sr_status sr_model_zero_grads(sr_model *m, const sr_kernels *k);

/* The user state of each sequence: the final hidden row at its last position (the newest
 * item), downloaded to out[B, C] on the host. Call after a forward. */
sr_status sr_model_last_hidden(const sr_model *m, const sr_kernels *k, int B, int T, float *out);

#endif
