/* SASRec forward and backward over the kernel table; see sasrec.h. The order of ops here is the
 * definition of the model: the CUDA path runs the same function with another table. */
#include "model/sasrec.h"

#include <math.h>
#include <string.h>

#include "core/rng.h"

#define LN_EPS 1e-5f

/* Dropout sites: with the layer and the rank they make each mask's RNG stream. */
enum { SITE_EMBED = 1, SITE_ATTENTION = 2, SITE_ATTN_RESIDUAL = 3, SITE_FF_RESIDUAL = 4 };

static sr_dropout dropout_of(const sr_model *m, const sr_model_train_step *train, int site,
                             int layer) {
  sr_dropout d = {0};
  if (!train) return d;
  d.p = m->dropout;
  d.seed = train->seed;
  d.stream = ((uint64_t)(uint32_t)train->rank << 32) | ((uint64_t)site << 8) | (uint64_t)layer;
  d.step = train->step;
  return d;
}

static sr_status layout_build(sr_model *m) {
  const sr_model_dims *d = &m->dims;
  const int64_t V = d->n_items + 1, P = d->max_len, C = d->d_model, L = d->n_layers, F = d->d_ff;
  sr_layout *l = &m->layout;
  sr_layout_init(l);
  /* Decayed matrices first: [0, n_decay) is one contiguous range. */
  TRY(sr_layout_add(l, "wte", 2, (int64_t[]){V, C}));
  TRY(sr_layout_add(l, "wpe", 2, (int64_t[]){P, C}));
  if (d->content_dim > 0) TRY(sr_layout_add(l, "content_w", 2, (int64_t[]){C, d->content_dim}));
  TRY(sr_layout_add(l, "qkv_w", 3, (int64_t[]){L, 3 * C, C}));
  TRY(sr_layout_add(l, "proj_w", 3, (int64_t[]){L, C, C}));
  TRY(sr_layout_add(l, "fc_w", 3, (int64_t[]){L, F, C}));
  TRY(sr_layout_add(l, "fc2_w", 3, (int64_t[]){L, C, F}));
  TRY(sr_layout_add(l, "ln1_w", 2, (int64_t[]){L, C}));
  TRY(sr_layout_add(l, "ln1_b", 2, (int64_t[]){L, C}));
  TRY(sr_layout_add(l, "qkv_b", 2, (int64_t[]){L, 3 * C}));
  TRY(sr_layout_add(l, "proj_b", 2, (int64_t[]){L, C}));
  TRY(sr_layout_add(l, "ln2_w", 2, (int64_t[]){L, C}));
  TRY(sr_layout_add(l, "ln2_b", 2, (int64_t[]){L, C}));
  TRY(sr_layout_add(l, "fc_b", 2, (int64_t[]){L, F}));
  TRY(sr_layout_add(l, "fc2_b", 2, (int64_t[]){L, C}));
  TRY(sr_layout_add(l, "lnf_w", 1, (int64_t[]){C}));
  TRY(sr_layout_add(l, "lnf_b", 1, (int64_t[]){C}));
  m->n_params = (int64_t)l->total;
  m->n_decay = (int64_t)sr_layout_find(l, "ln1_w")->offset;
  return SR_OK;
}

static void tensors_view(const sr_layout *l, float *base, sr_model_tensors *t) {
#define VIEW(field) t->field = base + sr_layout_find(l, #field)->offset
  const sr_tensor_desc *content_w = sr_layout_find(l, "content_w");
  t->content_w = content_w ? base + content_w->offset : NULL;
  VIEW(wte); VIEW(wpe); VIEW(qkv_w); VIEW(proj_w); VIEW(fc_w); VIEW(fc2_w);
  VIEW(ln1_w); VIEW(ln1_b); VIEW(qkv_b); VIEW(proj_b); VIEW(ln2_w); VIEW(ln2_b);
  VIEW(fc_b); VIEW(fc2_b); VIEW(lnf_w); VIEW(lnf_b);
#undef VIEW
}

static sr_status alloc_floats(const sr_kernels *k, float **out, int64_t n, const char *what) {
  TRY(k->alloc(k, out, (size_t)n * sizeof(float), what));
  return k->zero(k, *out, (size_t)n * sizeof(float));
}

static sr_status activations_create(sr_model *m, const sr_kernels *k, int B) {
  const sr_model_dims *d = &m->dims;
  const int64_t P = d->max_len, C = d->d_model, L = d->n_layers, H = d->n_heads, F = d->d_ff;
  const int64_t N = (int64_t)B * P;
  sr_model_activations *a = &m->act;
  a->B_cap = B;
  TRY(k->alloc(k, &a->ids, (size_t)N * sizeof(int32_t), "token ids"));
  TRY(alloc_floats(k, &a->res, (L + 1) * N * C, "residual stream"));
  TRY(alloc_floats(k, &a->mid, L * N * C, "residual stream after attention"));
  TRY(alloc_floats(k, &a->ln1, L * N * C, "layer norm 1"));
  TRY(alloc_floats(k, &a->ln1_mean, L * N, "layer norm 1 means"));
  TRY(alloc_floats(k, &a->ln1_rstd, L * N, "layer norm 1 scales"));
  TRY(alloc_floats(k, &a->qkv, L * N * 3 * C, "query/key/value"));
  TRY(alloc_floats(k, &a->att, L * B * H * P * P, "attention probabilities"));
  TRY(alloc_floats(k, &a->att_out, L * N * C, "attention outputs"));
  TRY(alloc_floats(k, &a->ln2, L * N * C, "layer norm 2"));
  TRY(alloc_floats(k, &a->ln2_mean, L * N, "layer norm 2 means"));
  TRY(alloc_floats(k, &a->ln2_rstd, L * N, "layer norm 2 scales"));
  TRY(alloc_floats(k, &a->fc, L * N * F, "feed-forward inputs"));
  TRY(alloc_floats(k, &a->fc_gelu, L * N * F, "feed-forward activations"));
  TRY(alloc_floats(k, &a->hidden, N * C, "final hidden states"));
  TRY(alloc_floats(k, &a->lnf_mean, N, "final layer norm means"));
  TRY(alloc_floats(k, &a->lnf_rstd, N, "final layer norm scales"));
  TRY(alloc_floats(k, &a->branch, N * C, "branch outputs"));
  TRY(alloc_floats(k, &a->d_hidden, N * C, "hidden-state gradient"));
  TRY(alloc_floats(k, &a->d_res, N * C, "residual gradient"));
  TRY(alloc_floats(k, &a->d_c, N * C, "gradient scratch"));
  TRY(alloc_floats(k, &a->d_c2, N * C, "gradient scratch"));
  TRY(alloc_floats(k, &a->d_qkv, N * 3 * C, "query/key/value gradient"));
  TRY(alloc_floats(k, &a->d_f, N * F, "feed-forward gradient"));
  TRY(alloc_floats(k, &a->d_f2, N * F, "feed-forward gradient"));
  if (d->content_dim > 0) {
    const int64_t V = d->n_items + 1;
    TRY(alloc_floats(k, &a->items, V * C, "item table"));
    TRY(alloc_floats(k, &a->d_items, V * C, "item table gradient"));
  }
  const sr_kernel_dims kd = {.B = B, .T = (int)P, .C = (int)C, .H = (int)H,
                             .V = d->n_items + 1, .negatives = m->negatives,
                             .block_rows = m->loss_block_rows};
  a->scratch_bytes = k->scratch_bytes(k, &kd);
  if (a->scratch_bytes) TRY(k->alloc(k, &a->scratch, a->scratch_bytes, "kernel scratch"));
  return SR_OK;
}

static void activations_destroy(sr_model_activations *a, const sr_kernels *k) {
  void *all[] = {a->ids, a->res, a->mid, a->ln1, a->ln1_mean, a->ln1_rstd, a->qkv, a->att,
                 a->att_out, a->ln2, a->ln2_mean, a->ln2_rstd, a->fc, a->fc_gelu, a->hidden,
                 a->lnf_mean, a->lnf_rstd, a->branch, a->d_hidden, a->d_res, a->d_c, a->d_c2,
                 a->d_qkv, a->d_f, a->d_f2, a->items, a->d_items, a->scratch};
  for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
    if (all[i]) k->free(k, all[i]);
  memset(a, 0, sizeof *a);
}

sr_status sr_model_create(sr_model *m, const sr_kernels *k, const sr_model_dims *dims,
                          float dropout, int batch_cap, int negatives) {
  sr_status st = SR_OK;
  memset(m, 0, sizeof *m);
  m->dims = *dims;
  m->dropout = dropout;
  m->loss_block_rows = k->loss_block_rows(k, dims->n_items + 1);
  m->negatives = negatives;
  if (dims->n_items < 1 || dims->max_len < 1 || dims->d_model < 1 || dims->n_layers < 1 ||
      dims->n_heads < 1 || dims->d_model % dims->n_heads != 0 || dims->d_ff < 1 || batch_cap < 1 ||
      dims->content_dim < 0)
    return sr_error(SR_EINVAL,
                    "model dimensions do not fit: %d items, max_len %d, d_model %d, %d layers, "
                    "%d heads, d_ff %d, batch %d (d_model must be a multiple of n_heads)",
                    dims->n_items, dims->max_len, dims->d_model, dims->n_layers, dims->n_heads,
                    dims->d_ff, batch_cap);
  TRY_GOTO(layout_build(m));
  TRY_GOTO(alloc_floats(k, &m->params, m->n_params, "parameters"));
  TRY_GOTO(alloc_floats(k, &m->grads, m->n_params, "gradients"));
  TRY_GOTO(alloc_floats(k, &m->adam_m, m->n_params, "Adam first moments"));
  TRY_GOTO(alloc_floats(k, &m->adam_v, m->n_params, "Adam second moments"));
  if (dims->content_dim > 0)
    TRY_GOTO(alloc_floats(k, &m->content, ((int64_t)dims->n_items + 1) * dims->content_dim,
                          "item content"));
  if (k->bf16) TRY_GOTO(alloc_floats(k, &m->params_bf16, m->n_params, "bf16 weights"));
  tensors_view(&m->layout, k->bf16 ? m->params_bf16 : m->params, &m->p);
  tensors_view(&m->layout, m->grads, &m->g);
  TRY_GOTO(activations_create(m, k, batch_cap));
  return SR_OK;
cleanup:
  sr_model_destroy(m, k);
  return st;
}

void sr_model_destroy(sr_model *m, const sr_kernels *k) {
  activations_destroy(&m->act, k);
  float *bufs[] = {m->params, m->grads, m->adam_m, m->adam_v, m->content, m->params_bf16};
  for (int i = 0; i < 6; i++)
    if (bufs[i]) k->free(k, bufs[i]);
  sr_layout_free(&m->layout);
  memset(m, 0, sizeof *m);
}

sr_status sr_model_set_content(sr_model *m, const sr_kernels *k, const float *content) {
  const int64_t V = (int64_t)m->dims.n_items + 1, D = m->dims.content_dim;
  if (D < 1) return sr_error(SR_EINTERNAL, "content vectors for a model without content");
  const size_t row = (size_t)D * sizeof(float);
  TRY(k->zero(k, m->content, row)); /* the padding row stays zero: its item row must be 0 */
  TRY(k->upload(k, m->content + D, content + D, (size_t)(V - 1) * row));
  m->act.items_ready = 0;
  return SR_OK;
}

const float *sr_model_items(const sr_model *m) {
  return m->dims.content_dim > 0 ? m->act.items : m->p.wte;
}

float *sr_model_items_grad(sr_model *m) {
  return m->dims.content_dim > 0 ? m->act.d_items : m->g.wte;
}

sr_status sr_model_items_refresh(sr_model *m, const sr_kernels *k) {
  sr_model_activations *a = &m->act;
  if (m->params_bf16) TRY(k->round_bf16(k, m->params_bf16, m->params, m->n_params));
  if (m->dims.content_dim > 0) {
    const int V = m->dims.n_items + 1, C = m->dims.d_model, D = m->dims.content_dim;
    TRY(k->linear_forward(k, a->items, m->content, m->p.content_w, NULL, V, D, C));
    TRY(k->residual_forward(k, a->items, m->p.wte, a->items, (int64_t)V * C, NULL));
  }
  a->items_ready = 1;
  return SR_OK;
}

/* Folds the item table's gradient into wte and content_w, then clears it for the next
 * micro-batch (the losses and the embedding add into it). */
static sr_status items_backward(sr_model *m, const sr_kernels *k) {
  if (m->dims.content_dim <= 0) return SR_OK;
  const int V = m->dims.n_items + 1, C = m->dims.d_model, D = m->dims.content_dim;
  sr_model_activations *a = &m->act;
  TRY(k->residual_backward(k, m->g.wte, NULL, a->d_items, (int64_t)V * C, NULL));
  TRY(k->linear_backward(k, NULL, m->g.content_w, NULL, a->d_items, m->content, m->p.content_w,
                         V, D, C));
  return k->zero(k, a->d_items, (size_t)V * (size_t)C * sizeof(float));
}

sr_status sr_model_init_weights(sr_model *m, const sr_kernels *k, uint64_t seed) {
  sr_status st = SR_OK;
  float *host = NULL;
  TRY(sr_alloc(&host, (size_t)m->n_params, sizeof *host, "initial weights"));
  sr_rng rng;
  sr_rng_init(&rng, seed, 0x696e6974ull /* "init" */);
  const float residual_scale = 1.0f / sqrtf(2.0f * (float)m->dims.n_layers);
  for (int i = 0; i < m->layout.n_tensors; i++) {
    const sr_tensor_desc *t = &m->layout.tensors[i];
    float *w = host + t->offset;
    const char *n = t->name;
    if (strcmp(n, "ln1_w") == 0 || strcmp(n, "ln2_w") == 0 || strcmp(n, "lnf_w") == 0) {
      for (size_t j = 0; j < t->count; j++) w[j] = 1.0f;
    } else if (strstr(n, "_w") || strcmp(n, "wte") == 0 || strcmp(n, "wpe") == 0) {
      const float std = (strcmp(n, "proj_w") == 0 || strcmp(n, "fc2_w") == 0)
                            ? 0.02f * residual_scale : 0.02f;
      for (size_t j = 0; j < t->count; j++) w[j] = std * sr_rng_normal(&rng);
    } /* biases stay 0 */
  }
  memset(host + sr_layout_find(&m->layout, "wte")->offset, 0,
         (size_t)m->dims.d_model * sizeof *host); /* padding row */
  TRY_GOTO(k->upload(k, m->params, host, (size_t)m->n_params * sizeof *host));
  m->act.items_ready = 0;
  TRY_GOTO(k->zero(k, m->adam_m, (size_t)m->n_params * sizeof(float)));
  TRY_GOTO(k->zero(k, m->adam_v, (size_t)m->n_params * sizeof(float)));
cleanup:
  sr_free(host);
  return st;
}

sr_status sr_model_zero_grads(sr_model *m, const sr_kernels *k) {
  if (m->act.d_items)
    TRY(k->zero(k, m->act.d_items,
                ((size_t)m->dims.n_items + 1) * (size_t)m->dims.d_model * sizeof(float)));
  return k->zero(k, m->grads, (size_t)m->n_params * sizeof(float));
}

static sr_status check_batch(const sr_model *m, int B, int T) {
  if (B < 1 || B > m->act.B_cap || T < 1 || T > m->dims.max_len)
    return sr_error(SR_EINTERNAL, "batch of %d x %d does not fit the model's %d x %d buffers", B,
                    T, m->act.B_cap, m->dims.max_len);
  return SR_OK;
}

sr_status sr_model_forward(sr_model *m, const sr_kernels *k, const int32_t *ids, int B, int T,
                           const sr_model_train_step *train) {
  TRY(check_batch(m, B, T));
  const sr_model_dims *d = &m->dims;
  const int C = d->d_model, F = d->d_ff, H = d->n_heads, V = d->n_items + 1, P = d->max_len;
  const int N = B * T;
  const int64_t NC = (int64_t)N * C, NF = (int64_t)N * F;
  const sr_model_tensors *p = &m->p;
  sr_model_activations *a = &m->act;

  TRY(k->upload(k, a->ids, ids, (size_t)N * sizeof *ids));
  if (train || !a->items_ready) TRY(sr_model_items_refresh(m, k));
  TRY(k->embed_forward(k, a->res, a->ids, sr_model_items(m), p->wpe, B, T, C, V, P, sqrtf((float)C)));
  sr_dropout drop = dropout_of(m, train, SITE_EMBED, 0);
  TRY(k->dropout_forward(k, a->res, a->res, NC, &drop));

  for (int l = 0; l < d->n_layers; l++) {
    const float *x = a->res + l * NC;
    float *ln1 = a->ln1 + l * NC, *qkv = a->qkv + l * 3 * NC, *mid = a->mid + l * NC;
    float *att_out = a->att_out + l * NC, *ln2 = a->ln2 + l * NC;
    float *fc = a->fc + l * NF, *fc_gelu = a->fc_gelu + l * NF;
    float *att = a->att + (int64_t)l * B * H * T * T;
    TRY(k->layernorm_forward(k, ln1, a->ln1_mean + l * N, a->ln1_rstd + l * N, x,
                             p->ln1_w + l * C, p->ln1_b + l * C, N, C, LN_EPS));
    TRY(k->linear_forward(k, qkv, ln1, p->qkv_w + (int64_t)l * 3 * C * C, p->qkv_b + l * 3 * C,
                          N, C, 3 * C));
    drop = dropout_of(m, train, SITE_ATTENTION, l);
    TRY(k->attention_forward(k, att_out, att, qkv, qkv + C, qkv + 2 * C, a->ids, B, T, C, H,
                             3 * C, &drop));
    TRY(k->linear_forward(k, a->branch, att_out, p->proj_w + (int64_t)l * C * C,
                          p->proj_b + l * C, N, C, C));
    drop = dropout_of(m, train, SITE_ATTN_RESIDUAL, l);
    TRY(k->residual_forward(k, mid, x, a->branch, NC, &drop));
    TRY(k->layernorm_forward(k, ln2, a->ln2_mean + l * N, a->ln2_rstd + l * N, mid,
                             p->ln2_w + l * C, p->ln2_b + l * C, N, C, LN_EPS));
    TRY(k->linear_forward(k, fc, ln2, p->fc_w + (int64_t)l * F * C, p->fc_b + l * F, N, C, F));
    TRY(k->gelu_forward(k, fc_gelu, fc, NF));
    TRY(k->linear_forward(k, a->branch, fc_gelu, p->fc2_w + (int64_t)l * C * F,
                          p->fc2_b + l * C, N, F, C));
    drop = dropout_of(m, train, SITE_FF_RESIDUAL, l);
    TRY(k->residual_forward(k, a->res + (l + 1) * NC, mid, a->branch, NC, &drop));
  }
  return k->layernorm_forward(k, a->hidden, a->lnf_mean, a->lnf_rstd,
                              a->res + d->n_layers * NC, p->lnf_w, p->lnf_b, N, C, LN_EPS);
}

sr_status sr_model_backward(sr_model *m, const sr_kernels *k, int B, int T,
                            const sr_model_train_step *train) {
  TRY(check_batch(m, B, T));
  const sr_model_dims *d = &m->dims;
  const int C = d->d_model, F = d->d_ff, H = d->n_heads, V = d->n_items + 1, P = d->max_len;
  const int N = B * T;
  const int64_t NC = (int64_t)N * C, NF = (int64_t)N * F;
  const size_t bytes_c = (size_t)NC * sizeof(float), bytes_f = (size_t)NF * sizeof(float);
  const sr_model_tensors *p = &m->p, *g = &m->g;
  sr_model_activations *a = &m->act;
  sr_dropout drop;

  /* d_res carries the gradient of the residual stream downwards; the residual adds pass it
   * through unchanged, so only their branches need buffers. */
  TRY(k->zero(k, a->d_res, bytes_c));
  TRY(k->layernorm_backward(k, a->d_res, g->lnf_w, g->lnf_b, a->d_hidden,
                            a->res + d->n_layers * NC, p->lnf_w, a->lnf_mean, a->lnf_rstd, N, C));
  for (int l = d->n_layers - 1; l >= 0; l--) {
    const float *x = a->res + l * NC, *mid = a->mid + l * NC;
    const float *ln1 = a->ln1 + l * NC, *qkv = a->qkv + l * 3 * NC, *att_out = a->att_out + l * NC;
    const float *ln2 = a->ln2 + l * NC, *fc = a->fc + l * NF, *fc_gelu = a->fc_gelu + l * NF;
    const float *att = a->att + (int64_t)l * B * H * T * T;

    /* feed-forward branch: res[l+1] = mid + dropout(fc2(gelu(fc(ln2(mid))))) */
    drop = dropout_of(m, train, SITE_FF_RESIDUAL, l);
    TRY(k->zero(k, a->d_c, bytes_c));
    TRY(k->residual_backward(k, NULL, a->d_c, a->d_res, NC, &drop));
    TRY(k->zero(k, a->d_f2, bytes_f));
    TRY(k->linear_backward(k, a->d_f2, g->fc2_w + (int64_t)l * C * F, g->fc2_b + l * C, a->d_c,
                           fc_gelu, p->fc2_w + (int64_t)l * C * F, N, F, C));
    TRY(k->zero(k, a->d_f, bytes_f));
    TRY(k->gelu_backward(k, a->d_f, fc, a->d_f2, NF));
    TRY(k->zero(k, a->d_c2, bytes_c));
    TRY(k->linear_backward(k, a->d_c2, g->fc_w + (int64_t)l * F * C, g->fc_b + l * F, a->d_f,
                           ln2, p->fc_w + (int64_t)l * F * C, N, C, F));
    TRY(k->layernorm_backward(k, a->d_res, g->ln2_w + l * C, g->ln2_b + l * C, a->d_c2, mid,
                              p->ln2_w + l * C, a->ln2_mean + l * N, a->ln2_rstd + l * N, N, C));

    /* attention branch: mid = x + dropout(proj(attention(qkv(ln1(x))))) */
    drop = dropout_of(m, train, SITE_ATTN_RESIDUAL, l);
    TRY(k->zero(k, a->d_c, bytes_c));
    TRY(k->residual_backward(k, NULL, a->d_c, a->d_res, NC, &drop));
    TRY(k->zero(k, a->d_c2, bytes_c));
    TRY(k->linear_backward(k, a->d_c2, g->proj_w + (int64_t)l * C * C, g->proj_b + l * C, a->d_c,
                           att_out, p->proj_w + (int64_t)l * C * C, N, C, C));
    TRY(k->zero(k, a->d_qkv, 3 * bytes_c));
    drop = dropout_of(m, train, SITE_ATTENTION, l);
    TRY(k->attention_backward(k, a->d_qkv, a->d_qkv + C, a->d_qkv + 2 * C, a->d_c2, qkv, qkv + C,
                              qkv + 2 * C, att, a->ids, B, T, C, H, 3 * C, &drop, a->scratch,
                              a->scratch_bytes));
    TRY(k->zero(k, a->d_c, bytes_c));
    TRY(k->linear_backward(k, a->d_c, g->qkv_w + (int64_t)l * 3 * C * C, g->qkv_b + l * 3 * C,
                           a->d_qkv, ln1, p->qkv_w + (int64_t)l * 3 * C * C, N, C, 3 * C));
    TRY(k->layernorm_backward(k, a->d_res, g->ln1_w + l * C, g->ln1_b + l * C, a->d_c, x,
                              p->ln1_w + l * C, a->ln1_mean + l * N, a->ln1_rstd + l * N, N, C));
  }
  /* embedding: res[0] = dropout(scale * wte[ids] + wpe) */
  drop = dropout_of(m, train, SITE_EMBED, 0);
  TRY(k->zero(k, a->d_c, bytes_c));
  TRY(k->dropout_backward(k, a->d_c, a->d_res, NC, &drop));
  TRY(k->embed_backward(k, sr_model_items_grad(m), g->wpe, a->d_c, a->ids, B, T, C, V, P,
                        sqrtf((float)C)));
  return items_backward(m, k);
}

sr_status sr_model_last_hidden(const sr_model *m, const sr_kernels *k, int B, int T, float *out) {
  const int C = m->dims.d_model;
  for (int b = 0; b < B; b++)
    TRY(k->download(k, out + (int64_t)b * C, m->act.hidden + ((int64_t)b * T + T - 1) * C,
                    (size_t)C * sizeof *out));
  return SR_OK;
}
