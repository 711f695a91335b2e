/* model/sasrec: the whole model's backward (after each loss) against central finite differences
 * along random directions in each named tensor, with and without dropout; no gradient for the
 * padding row or for positions only padding uses; left padding changes no real position.
 * Per-op checks live in test_kernels*.c; this one catches wiring between the ops. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core/rng.h"
#include "core/status.h"
#include "gradcheck.h"
#include "kernels/kernels.h"
#include "model/sasrec.h"

/* Finite differences along a direction u of unit norm, restricted to one tensor:
 *   fd = L(w + h u) - L(w - h u)   against   an = g . (w+ - w-)
 * where w+ and w- are the float32 weights actually used (so rounding of w +- h u is no error
 * source: an uses the exact perturbation). Error budget for fd, relative to an ~ 2h |g.u|:
 *  - float32 noise in L: the forward runs in float; L (about 2.5) carries rounding of roughly
 *    1e-7 relative per op, ~1e-6 absolute after a few dozen ops. Divided by 2h = 0.02 that is
 *    ~5e-5 in the directional derivative.
 *  - truncation: (h^2 / 6) |D^3 L[u,u,u]| ~ 2e-5 |D^3 L| with h = 1e-2; third derivatives along
 *    a unit direction are O(1) at these weights.
 * Directional derivatives here are 1e-3..1 (weights are drawn so that every tensor matters),
 * so the check is |fd - an| <= 2h (FD_ATOL + FD_RTOL |an / 2h|) with FD_ATOL = 2e-4 (four
 * times the noise above) and FD_RTOL = 1e-2. Measured worst cases are ~10x below this; a
 * gradient scaled by 1.05 fails it (checked along with each gradient). */
#define FD_H 1e-2
#define FD_ATOL 2e-4
#define FD_RTOL 1e-2
#define DIRECTIONS 3 /* random directions per tensor */

enum { B = 3, P = 6, N_ITEMS = 12, C = 8, L = 2, H = 2, F = 16, K = 4, D = 3 };
typedef enum { LOSS_CE, LOSS_SAMPLED, LOSS_BCE } loss_kind;
static const char *const loss_names[] = {"ce", "sampled_ce", "bce"};

typedef struct {
  const sr_kernels *k;
  sr_model m;
  loss_kind loss;
  int T;
  int32_t ids[B * P];          /* [B, T] left-padded */
  int32_t targets[B * P];      /* [B, T], 0 where no target */
  int32_t negatives[B * P * K];/* [B, T, K] (sampled) or [B, T] (bce) */
  float logq[N_ITEMS + 1];
  int32_t *targets_dev, *negatives_dev;
  float *logq_dev;
  sr_model_train_step step;
  const sr_model_train_step *train; /* NULL: evaluation mode */
  float *w;                    /* host copy of the parameters [n_params] */
} fixture;

/* Weights on a scale where every tensor moves the loss: not the tiny init of real training,
 * under which layer-norm gains and late biases would barely register. Row 0 of wte is random
 * too, so a leak into the padding row would show. */
static void weights_random(fixture *fx, uint64_t seed) {
  sr_rng r;
  sr_rng_init(&r, seed, 1);
  const sr_layout *lay = &fx->m.layout;
  memset(fx->w, 0, (size_t)fx->m.n_params * sizeof *fx->w);
  for (int i = 0; i < lay->n_tensors; i++) {
    const sr_tensor_desc *t = &lay->tensors[i];
    float *w = fx->w + t->offset;
    const char *n = t->name;
    const int fan_in = t->ndim == 3 ? (int)t->shape[2] : C;
    for (size_t j = 0; j < t->count; j++) {
      float x = sr_rng_normal(&r);
      if (strncmp(n, "ln", 2) == 0 && n[strlen(n) - 1] == 'w') x = 1.0f + 0.3f * x;
      else if (strcmp(n, "wte") == 0 || strcmp(n, "wpe") == 0) x *= 0.5f;
      else if (t->ndim == 3) x *= 1.0f / sqrtf((float)fan_in);
      else x *= 0.2f; /* biases */
      w[j] = x;
    }
  }
}

static void params_set(fixture *fx, const float *w) {
  assert_int_equal(fx->k->upload(fx->k, fx->m.params, w, (size_t)fx->m.n_params * sizeof *w),
                   SR_OK);
  fx->m.act.items_ready = 0; /* the weights changed behind the model's back */
}

/* Row b holds 2b padding positions on the left, so position 0 is real only in row 0 and
 * T = P. With cut > 0 the batch is as long as its longest row, T = P - cut < P, as the trainer
 * cuts it: rows 0..cut-1 of wpe then serve no position. */
static void batch_make(fixture *fx, uint64_t seed, int cut) {
  sr_rng r;
  sr_rng_init(&r, seed, 2);
  fx->T = P - cut;
  const int T = fx->T;
  for (int b = 0; b < B; b++) {
    const int pad = b == 0 ? 0 : 2 * b - cut < 0 ? 0 : 2 * b - cut;
    for (int t = 0; t < T; t++) {
      const int real = t >= pad;
      fx->ids[b * T + t] = real ? 1 + (int32_t)sr_rng_below(&r, N_ITEMS) : 0;
      /* one real position without a target: such rows exist at a window's start */
      fx->targets[b * T + t] = real && !(b == 1 && t == T - 2)
                                   ? 1 + (int32_t)sr_rng_below(&r, N_ITEMS) : 0;
      for (int j = 0; j < K; j++) {
        int32_t neg = 1 + (int32_t)sr_rng_below(&r, N_ITEMS);
        if (j == 1 && t % 3 == 0) neg = fx->targets[b * T + t]; /* accidental hit */
        if (j == 2 && t % 4 == 1) neg = 0;                      /* no negative */
        fx->negatives[(b * T + t) * K + j] = neg;
      }
    }
  }
  if (fx->loss == LOSS_BCE) /* one negative per position: column 2, which has some 0s */
    for (int i = 0; i < B * T; i++) fx->negatives[i] = fx->negatives[i * K + 2];
  for (int i = 0; i <= N_ITEMS; i++) fx->logq[i] = logf((float)(i + 1) / 100.0f);
}

/* With content, the items get random D-dim content vectors (row 0 too: the model must ignore
 * it) and the model its projection content_w. */
static void fixture_new(fixture *fx, const sr_kernels *k, loss_kind loss, float dropout,
                        int cut, uint64_t seed, int content) {
  memset(fx, 0, sizeof *fx);
  fx->k = k;
  fx->loss = loss;
  const sr_model_dims dims = {.n_items = N_ITEMS, .max_len = P, .d_model = C, .n_layers = L,
                              .n_heads = H, .d_ff = F, .content_dim = content ? D : 0};
  assert_int_equal(sr_model_create(&fx->m, k, &dims, dropout, B, loss == LOSS_SAMPLED ? K : 1),
                   SR_OK);
  if (content) {
    float vectors[(N_ITEMS + 1) * D];
    sr_rng r;
    sr_rng_init(&r, seed, 4);
    for (int i = 0; i < (N_ITEMS + 1) * D; i++) vectors[i] = sr_rng_normal(&r);
    assert_int_equal(sr_model_set_content(&fx->m, k, vectors), SR_OK);
  }
  fx->w = malloc((size_t)fx->m.n_params * sizeof *fx->w);
  assert_non_null(fx->w);
  weights_random(fx, seed);
  params_set(fx, fx->w);
  batch_make(fx, seed, cut);
  assert_int_equal(k->alloc(k, &fx->targets_dev, sizeof fx->targets, "t"), SR_OK);
  assert_int_equal(k->alloc(k, &fx->negatives_dev, sizeof fx->negatives, "n"), SR_OK);
  assert_int_equal(k->alloc(k, &fx->logq_dev, sizeof fx->logq, "q"), SR_OK);
  const int n = B * fx->T;
  assert_int_equal(k->upload(k, fx->targets_dev, fx->targets, (size_t)n * 4), SR_OK);
  assert_int_equal(k->upload(k, fx->negatives_dev, fx->negatives, sizeof fx->negatives), SR_OK);
  assert_int_equal(k->upload(k, fx->logq_dev, fx->logq, sizeof fx->logq), SR_OK);
  fx->step = (sr_model_train_step){.seed = seed, .step = 5, .rank = 1};
  fx->train = dropout > 0 ? &fx->step : NULL;
}

static void fixture_free(fixture *fx) {
  fx->k->free(fx->k, fx->targets_dev);
  fx->k->free(fx->k, fx->negatives_dev);
  fx->k->free(fx->k, fx->logq_dev);
  sr_model_destroy(&fx->m, fx->k);
  free(fx->w);
}

/* Forward and loss; with `backward`, the gradient of the loss lands in m.grads. */
static double run(fixture *fx, int backward) {
  const sr_kernels *k = fx->k;
  sr_model *m = &fx->m;
  const int T = fx->T, N = B * T, V = N_ITEMS + 1;
  assert_int_equal(sr_model_forward(m, k, fx->ids, B, T, fx->train), SR_OK);
  float *dh = NULL, *dw = NULL;
  if (backward) {
    assert_int_equal(sr_model_zero_grads(m, k), SR_OK);
    assert_int_equal(k->zero(k, m->act.d_hidden, (size_t)N * C * sizeof(float)), SR_OK);
    dh = m->act.d_hidden;
    dw = sr_model_items_grad(m);
  }
  double loss = NAN;
  int64_t count = -1;
  sr_status st = SR_EINTERNAL;
  switch (fx->loss) {
  case LOSS_CE:
    st = k->loss_ce(k, &loss, &count, dh, dw, m->act.hidden, fx->targets_dev, sr_model_items(m), N, C, V,
                    0.0, m->loss_block_rows, m->act.scratch, m->act.scratch_bytes);
    break;
  case LOSS_SAMPLED:
    st = k->loss_sampled_ce(k, &loss, &count, dh, dw, m->act.hidden, fx->targets_dev,
                            fx->negatives_dev, fx->logq_dev, sr_model_items(m), N, C, V, K, 0.0,
                            m->loss_block_rows, m->act.scratch, m->act.scratch_bytes);
    break;
  case LOSS_BCE:
    st = k->loss_bce(k, &loss, &count, dh, dw, m->act.hidden, fx->targets_dev, fx->negatives_dev,
                     sr_model_items(m), N, C, V, 0.0);
    break;
  }
  assert_int_equal(st, SR_OK);
  assert_true(count > 0);
  if (backward) assert_int_equal(sr_model_backward(m, k, B, T, fx->train), SR_OK);
  assert_int_equal(k->synchronize(k), SR_OK);
  return loss;
}

static float *grads_get(fixture *fx) {
  float *g = malloc((size_t)fx->m.n_params * sizeof *g);
  assert_non_null(g);
  run(fx, 1);
  assert_int_equal(fx->k->download(fx->k, g, fx->m.grads, (size_t)fx->m.n_params * sizeof *g),
                   SR_OK);
  params_set(fx, fx->w);
  return g;
}

/* Checks candidate gradients g[0..n_g) along DIRECTIONS random directions in each tensor (the
 * same finite differences serve them all); worst[c] is the largest |fd - an| / allowed of
 * candidate c (<= 1 passes). Prints a line per tensor for candidate 0. */
static void directional_check(fixture *fx, const float *const *g, int n_g, double *worst) {
  const sr_layout *lay = &fx->m.layout;
  const int64_t n = fx->m.n_params;
  float *wp = malloc((size_t)n * sizeof *wp), *wm = malloc((size_t)n * sizeof *wm);
  assert_non_null(wp);
  assert_non_null(wm);
  sr_rng r;
  sr_rng_init(&r, 99, 3);
  for (int c = 0; c < n_g; c++) worst[c] = 0.0;
  double smallest_an = INFINITY;
  for (int i = 0; i < lay->n_tensors; i++) {
    const sr_tensor_desc *t = &lay->tensors[i];
    double tensor_worst = 0.0, tensor_an = 0.0;
    for (int d = 0; d < DIRECTIONS; d++) {
      double *u = malloc(t->count * sizeof *u), norm = 0.0;
      assert_non_null(u);
      for (size_t j = 0; j < t->count; j++) {
        u[j] = sr_rng_normal(&r);
        norm += u[j] * u[j];
      }
      norm = sqrt(norm);
      memcpy(wp, fx->w, (size_t)n * sizeof *wp);
      memcpy(wm, fx->w, (size_t)n * sizeof *wm);
      for (size_t j = 0; j < t->count; j++) {
        const size_t o = t->offset + j;
        wp[o] = (float)(fx->w[o] + FD_H * u[j] / norm);
        wm[o] = (float)(fx->w[o] - FD_H * u[j] / norm);
      }
      params_set(fx, wp);
      const double lp = run(fx, 0);
      params_set(fx, wm);
      const double lm = run(fx, 0);
      const double fd = lp - lm;
      for (int c = 0; c < n_g; c++) {
        double an = 0.0;
        for (size_t j = 0; j < t->count; j++) {
          const size_t o = t->offset + j;
          an += (double)g[c][o] * ((double)wp[o] - (double)wm[o]);
        }
        const double ratio = fabs(fd - an) / (2.0 * FD_H * FD_ATOL + FD_RTOL * fabs(an));
        if (!(ratio <= worst[c])) worst[c] = ratio; /* NaN sticks */
        if (c == 0) {
          if (!(ratio <= tensor_worst)) tensor_worst = ratio;
          if (fabs(an) > tensor_an) tensor_an = fabs(an);
        }
      }
      free(u);
    }
    printf("    %-7s max |g.u| %.3e  worst |fd - an| / allowed %.3f\n", t->name,
           tensor_an / (2 * FD_H), tensor_worst);
    if (tensor_an < smallest_an) smallest_an = tensor_an;
  }
  params_set(fx, fx->w);
  free(wp);
  free(wm);
  /* Not vacuous: in every tensor some direction moves the loss well beyond the tolerance. */
  assert_true(smallest_an / (2 * FD_H) > 20 * FD_ATOL);
}

static void check_model_gradient(void **state, loss_kind loss, float dropout, int cut,
                                 int content) {
  const sr_kernels *k = gc_backend(state);
  fixture fx;
  fixture_new(&fx, k, loss, dropout, cut, 11 + (uint64_t)loss, content);
  printf("  %s, dropout %.2f, T = %d%s (%s)\n", loss_names[loss], dropout, fx.T,
         content ? ", item content" : "", k->name);
  float *g = grads_get(&fx);
  /* Two wrong gradients ride along to show that the tolerance is tight enough to matter: one
   * 5% too large, one missing layer 0 of fc_w (as if backward skipped a block); both fail. */
  const int64_t np = fx.m.n_params;
  float *too_big = malloc((size_t)np * sizeof *too_big);
  float *no_fc0 = malloc((size_t)np * sizeof *no_fc0);
  assert_non_null(too_big);
  assert_non_null(no_fc0);
  for (int64_t j = 0; j < np; j++) too_big[j] = 1.05f * g[j];
  memcpy(no_fc0, g, (size_t)np * sizeof *no_fc0);
  const sr_tensor_desc *fc_w = sr_layout_find(&fx.m.layout, "fc_w");
  memset(no_fc0 + fc_w->offset, 0, fc_w->count / L * sizeof *no_fc0);
  const float *candidates[3] = {g, too_big, no_fc0};
  double worst[3];
  directional_check(&fx, candidates, 3, worst);
  printf("    worst ratio: backward %.3f; 5%% too large %.1f; without fc_w[0] %.1f\n", worst[0],
         worst[1], worst[2]);
  assert_true(worst[0] <= 1.0);
  assert_true(worst[1] > 1.0);
  assert_true(worst[2] > 1.0);
  free(too_big);
  free(no_fc0);

  /* The padding row of wte and positions that only padding meets get exactly nothing; nor
   * does the alignment padding between tensors of the flat buffer. */
  const sr_layout *lay = &fx.m.layout;
  const size_t wte = sr_layout_find(lay, "wte")->offset, wpe = sr_layout_find(lay, "wpe")->offset;
  for (int c = 0; c < C; c++) assert_true(g[wte + (size_t)c] == 0.0f);
  /* wpe row P - T + t serves column t; column 0 is real only in row 0 (cut == 0) */
  for (int p = 0; p < P - fx.T; p++)
    for (int c = 0; c < C; c++) assert_true(g[wpe + (size_t)(p * C + c)] == 0.0f);
  int64_t covered = 0;
  for (int i = 0; i < lay->n_tensors; i++) covered += (int64_t)lay->tensors[i].count;
  int64_t zeros_outside = 0;
  for (int64_t j = 0, ti = 0; j < fx.m.n_params; j++) {
    while (ti < lay->n_tensors &&
           (size_t)j >= lay->tensors[ti].offset + lay->tensors[ti].count) ti++;
    const int inside = ti < lay->n_tensors && (size_t)j >= lay->tensors[ti].offset;
    if (!inside) zeros_outside += g[j] == 0.0f;
    else assert_true(isfinite(g[j]));
  }
  assert_int_equal(zeros_outside, fx.m.n_params - covered);
  free(g);
  fixture_free(&fx);
}

static void test_gradient_ce(void **state) { check_model_gradient(state, LOSS_CE, 0.0f, 0, 0); }
static void test_gradient_sampled_ce(void **state) {
  check_model_gradient(state, LOSS_SAMPLED, 0.0f, 0, 0);
}
static void test_gradient_bce(void **state) { check_model_gradient(state, LOSS_BCE, 0.0f, 0, 0); }
/* A batch cut shorter than P: positions count from the end, rows 0..P-T-1 of wpe unused. */
static void test_gradient_ce_cut(void **state) { check_model_gradient(state, LOSS_CE, 0.0f, 2, 0); }
/* Dropout masks are a function of (seed, step, rank), not of the weights, so with them fixed
 * the loss is smooth and backward must apply the very masks forward drew. */
static void test_gradient_ce_dropout(void **state) {
  check_model_gradient(state, LOSS_CE, 0.3f, 0, 0);
}
/* Item content: items = wte + content . content_w^T feeds both the embedding and the tied
 * output layer, so wte and content_w get gradient from both ends. */
static void test_gradient_content(void **state) {
  check_model_gradient(state, LOSS_CE, 0.0f, 0, 1);
  check_model_gradient(state, LOSS_SAMPLED, 0.2f, 1, 1);
}

/* Left padding is invisible: each row alone, cut to its own length, gives the same hidden
 * states at its real positions as inside the padded batch (same weights, no dropout). The
 * products run at other sizes, so BLAS may sum in another order: 1e-5 on O(1) values. */
static void test_padding_changes_nothing(void **state) {
  const sr_kernels *k = gc_backend(state);
  fixture fx;
  fixture_new(&fx, k, LOSS_CE, 0.0f, 0, 23, 0);
  const int T = fx.T;
  float *full = malloc((size_t)B * T * C * sizeof *full);
  float *alone = malloc((size_t)T * C * sizeof *alone);
  assert_non_null(full);
  assert_non_null(alone);
  assert_int_equal(sr_model_forward(&fx.m, k, fx.ids, B, T, NULL), SR_OK);
  assert_int_equal(k->download(k, full, fx.m.act.hidden, (size_t)B * T * C * sizeof *full), SR_OK);
  for (int b = 0; b < B; b++) {
    int pad = 0;
    while (pad < T && fx.ids[b * T + pad] == 0) pad++;
    const int len = T - pad;
    assert_int_equal(sr_model_forward(&fx.m, k, fx.ids + b * T + pad, 1, len, NULL), SR_OK);
    assert_int_equal(k->download(k, alone, fx.m.act.hidden, (size_t)len * C * sizeof *alone),
                     SR_OK);
    for (int i = 0; i < len * C; i++)
      assert_float_equal(alone[i], full[((size_t)b * T + pad) * C + (size_t)i], 1e-5);
    /* and the user state is the last row */
    float last[C];
    assert_int_equal(sr_model_last_hidden(&fx.m, k, 1, len, last), SR_OK);
    for (int c = 0; c < C; c++) assert_true(last[c] == alone[(len - 1) * C + c]);
  }
  free(full);
  free(alone);
  fixture_free(&fx);
}

/* Training mode with dropout 0 is evaluation mode, and a forward is a pure function. */
static void test_forward_is_deterministic(void **state) {
  const sr_kernels *k = gc_backend(state);
  fixture fx;
  fixture_new(&fx, k, LOSS_CE, 0.0f, 0, 31, 0);
  const double a = run(&fx, 0);
  fx.train = &fx.step;
  const double b = run(&fx, 0);
  assert_true(a == b);
  float *g1 = grads_get(&fx), *g2 = grads_get(&fx);
  gc_assert_same_bits("gradients of two identical steps", g1, g2, fx.m.n_params);
  free(g1);
  free(g2);
  fixture_free(&fx);
}

/* train.precision bf16: the model reads the bf16 rounding of its fp32 weights (a copy, refreshed
 * when they change), its states are bf16, and loss and gradients stay near fp32's (content
 * model, dropout: every path). The gradients go to the fp32 buffer, unrounded. */
static void test_bf16_weights_states_and_gradients(void **state) {
  sr_kernels bf = *gc_backend(state);
  assert_int_equal(kernels_set_bf16(&bf, 1), SR_OK);
  fixture f32, f16;
  fixture_new(&f32, gc_backend(state), LOSS_CE, 0.1f, 0, 41, 1);
  fixture_new(&f16, &bf, LOSS_CE, 0.1f, 0, 41, 1);
  f32.train = &f32.step, f16.train = &f16.step;
  assert_non_null(f16.m.params_bf16);
  assert_null(f32.m.params_bf16);
  const double loss32 = run(&f32, 1), loss16 = run(&f16, 1);
  assert_true(fabs(loss16 - loss32) <= 2e-2 * fabs(loss32));
  const int64_t n = f16.m.n_params;
  float *w = malloc((size_t)n * sizeof *w), *w16 = malloc((size_t)n * sizeof *w16);
  assert_non_null(w), assert_non_null(w16);
  assert_int_equal(bf.download(&bf, w, f16.m.params, (size_t)n * sizeof *w), SR_OK);
  assert_int_equal(bf.download(&bf, w16, f16.m.params_bf16, (size_t)n * sizeof *w16), SR_OK);
  int64_t master_exact = 0;
  for (int64_t i = 0; i < n; i++) {
    uint32_t u;
    memcpy(&u, &w16[i], sizeof u);
    assert_true((u & 0xffffu) == 0);                                  /* a bf16 value */
    assert_true(fabsf(w16[i] - w[i]) <= fabsf(w[i]) * 0x1p-8f);       /* the nearest one */
    memcpy(&u, &w[i], sizeof u);
    master_exact += (u & 0xffffu) == 0;
  }
  assert_true(master_exact < n / 2); /* the master weights themselves are not rounded */
  const int64_t NC = (int64_t)B * f16.T * C;
  float *h = malloc((size_t)NC * sizeof *h);
  assert_non_null(h);
  assert_int_equal(bf.download(&bf, h, f16.m.act.hidden, (size_t)NC * sizeof *h), SR_OK);
  for (int64_t i = 0; i < NC; i++) {
    uint32_t u;
    memcpy(&u, &h[i], sizeof u);
    assert_true((u & 0xffffu) == 0);
  }
  float *g32 = grads_get(&f32), *g16 = grads_get(&f16);
  double diff = 0, norm = 0;
  int64_t g_exact = 0;
  for (int64_t i = 0; i < n; i++) {
    diff += ((double)g16[i] - g32[i]) * ((double)g16[i] - g32[i]), norm += (double)g32[i] * g32[i];
    uint32_t u;
    memcpy(&u, &g16[i], sizeof u);
    g_exact += (u & 0xffffu) == 0;
  }
  if (!(sqrt(diff) <= 5e-2 * sqrt(norm)))
    print_error("bf16 gradients: |g16 - g32| = %g, |g32| = %g\n", sqrt(diff), sqrt(norm));
  assert_true(sqrt(diff) <= 5e-2 * sqrt(norm));
  assert_true(g_exact < n / 2); /* parameter gradients are fp32 */
  free(w), free(w16), free(h), free(g32), free(g16);
  fixture_free(&f32);
  fixture_free(&f16);
}

int main(void) {
#define MODEL_TESTS                                                                  \
  cmocka_unit_test(test_gradient_ce), cmocka_unit_test(test_gradient_sampled_ce),    \
      cmocka_unit_test(test_gradient_bce), cmocka_unit_test(test_gradient_ce_cut),   \
      cmocka_unit_test(test_gradient_ce_dropout), cmocka_unit_test(test_gradient_content), \
      cmocka_unit_test(test_padding_changes_nothing),                                \
      cmocka_unit_test(test_forward_is_deterministic),                               \
      cmocka_unit_test(test_bf16_weights_states_and_gradients)
  const struct CMUnitTest tests[] = {MODEL_TESTS};
  int failed = cmocka_run_group_tests_name("model on cpu", tests, gc_setup_cpu, gc_teardown);
  failed += cmocka_run_group_tests_name("model on cuda", tests, gc_setup_cuda, gc_teardown);
  return failed;
}
