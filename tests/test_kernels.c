/* kernels/: every layer op on every backend against a plain double-precision reference written
 * here, forward values and backward gradients (central finite differences of the reference in
 * double), with guard values around every output. Losses and the optimizer have their own files. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core/rng.h"
#include "core/status.h"
#include "gradcheck.h"
#include "kernels/kernels.h"

/* Central differences in double with this step: truncation ~h^2 * f''' and rounding
 * ~1e-16 / h both stay near 1e-10 for the O(1) inputs used here, far below the float errors
 * that the tolerances below are sized for. */
#define FD_STEP 1e-5

static double *dalloc(int64_t n) {
  double *p = calloc((size_t)(n > 0 ? n : 1), sizeof *p);
  assert_non_null(p);
  return p;
}

static float *falloc(int64_t n) {
  float *p = calloc((size_t)(n > 0 ? n : 1), sizeof *p);
  assert_non_null(p);
  return p;
}

/* Left-padded ids: sequence b holds len_b real items at its end, len_b random in 0..T (so
 * empty and full sequences both occur); items drawn from 1..V-1 (repeats are likely). */
static void random_ids(sr_rng *r, int32_t *ids, int B, int T, int V) {
  for (int b = 0; b < B; b++) {
    int len = gc_rand_int(r, 0, T);
    for (int t = 0; t < T; t++) ids[b * T + t] = t >= T - len ? gc_rand_int(r, 1, V - 1) : 0;
  }
}

/* The analytic gradient that a backward op added onto `base`. */
static void added_grad(double *out, const float *after, const float *base, int64_t n) {
  for (int64_t i = 0; i < n; i++) out[i] = (double)after[i] - (double)base[i];
}

/* The dropout mask as kernels.h defines it, computed independently of the kernels' cursor. */
static double ref_dropout_factor(const sr_dropout *d, uint64_t i) {
  if (!d || d->p == 0.0f) return 1.0;
  float u = sr_rng_uniform_at(d->seed, d->stream, (d->step << 34) | i);
  return u >= d->p ? 1.0 / (1.0 - (double)d->p) : 0.0;
}

/* ================================ embedding ================================ */

typedef struct {
  int B, T, C, V, P;
  double scale;
  const int32_t *ids;
  double *wte, *wpe, *weights, *out;
} embed_ctx;

static void ref_embed(const embed_ctx *c) {
  for (int b = 0; b < c->B; b++)
    for (int t = 0; t < c->T; t++) {
      int32_t id = c->ids[b * c->T + t];
      double *o = c->out + ((int64_t)b * c->T + t) * c->C;
      for (int i = 0; i < c->C; i++)
        o[i] = id == 0 ? 0.0
                       : c->scale * c->wte[(int64_t)id * c->C + i] +
                             c->wpe[(int64_t)(c->P - c->T + t) * c->C + i];
    }
}

static double embed_loss(void *p) {
  embed_ctx *c = p;
  ref_embed(c);
  return gc_dot(c->out, c->weights, (int64_t)c->B * c->T * c->C);
}

static void test_embed(void **state) {
  const sr_kernels *k = gc_backend(state);
  sr_rng r;
  sr_rng_init(&r, 101, 0);
  for (int trial = 0; trial < 6; trial++) {
    const int B = gc_rand_int(&r, 1, 3), T = gc_rand_int(&r, 1, 5), P = T + gc_rand_int(&r, 0, 2);
    const int C = gc_rand_int(&r, 1, 6), V = gc_rand_int(&r, 2, 7);
    const int64_t n = (int64_t)B * T * C;
    const float scale = 1.5f;
    int32_t *ids = calloc((size_t)B * T, sizeof *ids);
    float *wte = falloc((int64_t)V * C), *wpe = falloc((int64_t)P * C), *out = falloc(n);
    float *dout = falloc(n), *dwte0 = falloc((int64_t)V * C), *dwpe0 = falloc((int64_t)P * C);
    float *dwte = falloc((int64_t)V * C), *dwpe = falloc((int64_t)P * C);
    random_ids(&r, ids, B, T, V);
    gc_fill_uniform(&r, wte, (int64_t)V * C, -1, 1);
    gc_fill_uniform(&r, wpe, (int64_t)P * C, -1, 1);
    gc_fill_uniform(&r, dout, n, -1, 1);
    gc_fill_uniform(&r, dwte0, (int64_t)V * C, -1, 1); /* backward adds onto these */
    gc_fill_uniform(&r, dwpe0, (int64_t)P * C, -1, 1);

    gc_buf d_ids, d_wte, d_wpe, d_out, d_dout, d_dwte, d_dwpe;
    gc_buf_new(&d_ids, k, (int64_t)B * T, sizeof(int32_t), ids);
    gc_buf_new(&d_wte, k, (int64_t)V * C, sizeof(float), wte);
    gc_buf_new(&d_wpe, k, (int64_t)P * C, sizeof(float), wpe);
    gc_buf_new(&d_out, k, n, sizeof(float), NULL);
    gc_buf_new(&d_dout, k, n, sizeof(float), dout);
    gc_buf_new(&d_dwte, k, (int64_t)V * C, sizeof(float), dwte0);
    gc_buf_new(&d_dwpe, k, (int64_t)P * C, sizeof(float), dwpe0);
    assert_int_equal(k->embed_forward(k, d_out.ptr, d_ids.ptr, d_wte.ptr, d_wpe.ptr, B, T, C, V,
                                      P, scale), SR_OK);
    assert_int_equal(k->embed_backward(k, d_dwte.ptr, d_dwpe.ptr, d_dout.ptr, d_ids.ptr, B, T,
                                       C, V, P, scale), SR_OK);
    gc_buf_get(&d_out, out);
    gc_buf_get(&d_dwte, dwte);
    gc_buf_get(&d_dwpe, dwpe);

    embed_ctx c = {B, T, C, V, P, scale, ids, dalloc((int64_t)V * C), dalloc((int64_t)P * C),
                   dalloc(n), dalloc(n)};
    gc_to_double(c.wte, wte, (int64_t)V * C);
    gc_to_double(c.wpe, wpe, (int64_t)P * C);
    gc_to_double(c.weights, dout, n);
    ref_embed(&c);
    /* One float multiply-add per element of size <= 2.5: error below 3e-7. */
    gc_assert_close_f("embed forward", out, c.out, n, 1e-6, 1e-6);
    for (int64_t i = 0; i < (int64_t)B * T; i++)
      if (ids[i] == 0)
        for (int j = 0; j < C; j++) assert_true(out[i * C + j] == 0.0f);

    double *num = dalloc((int64_t)V * C), *got = dalloc((int64_t)V * C);
    /* Sums of at most B*T float terms of size <= 1.5 onto a base of size <= 1: ~1e-6. */
    gc_numeric_grad(embed_loss, &c, c.wte, (int64_t)V * C, FD_STEP, num);
    added_grad(got, dwte, dwte0, (int64_t)V * C);
    gc_assert_close("embed d wte", got, num, (int64_t)V * C, 1e-5, 1e-5);
    /* The padding row gets nothing at all, not even a zero added. */
    gc_assert_same_bits("embed d wte row 0", dwte, dwte0, C);
    free(num);
    free(got);
    num = dalloc((int64_t)P * C);
    got = dalloc((int64_t)P * C);
    gc_numeric_grad(embed_loss, &c, c.wpe, (int64_t)P * C, FD_STEP, num);
    added_grad(got, dwpe, dwpe0, (int64_t)P * C);
    gc_assert_close("embed d wpe", got, num, (int64_t)P * C, 1e-5, 1e-5);
    free(num);
    free(got);

    /* An id outside the table is refused with its position. */
    ids[0] = V;
    gc_buf_set(&d_ids, ids);
    assert_int_equal(k->embed_forward(k, d_out.ptr, d_ids.ptr, d_wte.ptr, d_wpe.ptr, B, T, C, V,
                                      P, scale), SR_EINVAL);
    assert_non_null(strstr(sr_error_message(), "sequence 0, slot 0"));
    sr_error_clear();

    gc_buf *bufs[] = {&d_ids, &d_wte, &d_wpe, &d_out, &d_dout, &d_dwte, &d_dwpe};
    for (size_t i = 0; i < sizeof bufs / sizeof bufs[0]; i++) gc_buf_free(bufs[i]);
    free(c.wte), free(c.wpe), free(c.weights), free(c.out);
    free(ids), free(wte), free(wpe), free(out), free(dout), free(dwte0), free(dwpe0);
    free(dwte), free(dwpe);
  }
}

/* ================================ layer norm ================================ */

typedef struct {
  int N, C;
  double eps;
  double *x, *w, *b, *weights, *out;
} ln_ctx;

static void ref_layernorm(const ln_ctx *c) {
  for (int i = 0; i < c->N; i++) {
    const double *x = c->x + (int64_t)i * c->C;
    double m = 0, v = 0;
    for (int j = 0; j < c->C; j++) m += x[j];
    m /= c->C;
    for (int j = 0; j < c->C; j++) v += (x[j] - m) * (x[j] - m);
    v /= c->C;
    for (int j = 0; j < c->C; j++)
      c->out[(int64_t)i * c->C + j] = (x[j] - m) / sqrt(v + c->eps) * c->w[j] + c->b[j];
  }
}

static double ln_loss(void *p) {
  ln_ctx *c = p;
  ref_layernorm(c);
  return gc_dot(c->out, c->weights, (int64_t)c->N * c->C);
}

static void test_layernorm(void **state) {
  const sr_kernels *k = gc_backend(state);
  sr_rng r;
  sr_rng_init(&r, 102, 0);
  for (int trial = 0; trial < 6; trial++) {
    const int N = gc_rand_int(&r, 1, 6), C = gc_rand_int(&r, 2, 9);
    const int64_t n = (int64_t)N * C;
    const float eps = 1e-5f;
    float *x = falloc(n), *w = falloc(C), *b = falloc(C), *out = falloc(n), *dout = falloc(n);
    float *mean = falloc(N), *rstd = falloc(N);
    float *dx0 = falloc(n), *dw0 = falloc(C), *db0 = falloc(C);
    float *dx = falloc(n), *dw = falloc(C), *db = falloc(C);
    gc_fill_uniform(&r, x, n, -2, 3); /* an offset mean, to exercise the centring */
    gc_fill_uniform(&r, w, C, 0.5f, 1.5f);
    gc_fill_uniform(&r, b, C, -0.5f, 0.5f);
    gc_fill_uniform(&r, dout, n, -1, 1);
    gc_fill_uniform(&r, dx0, n, -1, 1);
    gc_fill_uniform(&r, dw0, C, -1, 1);
    gc_fill_uniform(&r, db0, C, -1, 1);

    gc_buf d_x, d_w, d_b, d_out, d_mean, d_rstd, d_dout, d_dx, d_dw, d_db;
    gc_buf_new(&d_x, k, n, 4, x);
    gc_buf_new(&d_w, k, C, 4, w);
    gc_buf_new(&d_b, k, C, 4, b);
    gc_buf_new(&d_out, k, n, 4, NULL);
    gc_buf_new(&d_mean, k, N, 4, NULL);
    gc_buf_new(&d_rstd, k, N, 4, NULL);
    gc_buf_new(&d_dout, k, n, 4, dout);
    gc_buf_new(&d_dx, k, n, 4, dx0);
    gc_buf_new(&d_dw, k, C, 4, dw0);
    gc_buf_new(&d_db, k, C, 4, db0);
    assert_int_equal(k->layernorm_forward(k, d_out.ptr, d_mean.ptr, d_rstd.ptr, d_x.ptr, d_w.ptr,
                                          d_b.ptr, N, C, eps), SR_OK);
    assert_int_equal(k->layernorm_backward(k, d_dx.ptr, d_dw.ptr, d_db.ptr, d_dout.ptr, d_x.ptr,
                                           d_w.ptr, d_mean.ptr, d_rstd.ptr, N, C), SR_OK);
    gc_buf_get(&d_out, out);
    gc_buf_get(&d_mean, mean);
    gc_buf_get(&d_rstd, rstd);
    gc_buf_get(&d_dx, dx);
    gc_buf_get(&d_dw, dw);
    gc_buf_get(&d_db, db);

    ln_ctx c = {N, C, eps, dalloc(n), dalloc(C), dalloc(C), dalloc(n), dalloc(n)};
    gc_to_double(c.x, x, n);
    gc_to_double(c.w, w, C);
    gc_to_double(c.b, b, C);
    gc_to_double(c.weights, dout, n);
    ref_layernorm(&c);
    /* Normalised values are O(2) after O(C) float sums: a few ulps, ~1e-6. */
    gc_assert_close_f("layernorm forward", out, c.out, n, 1e-5, 1e-5);

    double *num = dalloc(n), *got = dalloc(n);
    /* The backward subtracts two means of O(1) terms (cancellation), so float error reaches
     * ~1e-6 absolute on O(1) gradients: 1e-4 relative plus 2e-5 absolute. */
    gc_numeric_grad(ln_loss, &c, c.x, n, FD_STEP, num);
    added_grad(got, dx, dx0, n);
    gc_assert_close("layernorm dx", got, num, n, 2e-5, 1e-4);
    gc_numeric_grad(ln_loss, &c, c.w, C, FD_STEP, num);
    added_grad(got, dw, dw0, C);
    gc_assert_close("layernorm dw", got, num, C, 2e-5, 1e-4);
    gc_numeric_grad(ln_loss, &c, c.b, C, FD_STEP, num);
    added_grad(got, db, db0, C);
    gc_assert_close("layernorm db", got, num, C, 2e-5, 1e-4);
    free(num);
    free(got);

    /* A row of zeros (what padding looks like) normalises to the bias, without NaN. */
    memset(x, 0, (size_t)C * sizeof *x);
    gc_buf_set(&d_x, x);
    assert_int_equal(k->layernorm_forward(k, d_out.ptr, d_mean.ptr, d_rstd.ptr, d_x.ptr, d_w.ptr,
                                          d_b.ptr, N, C, eps), SR_OK);
    gc_buf_get(&d_out, out);
    for (int j = 0; j < C; j++) assert_true(out[j] == b[j]);

    gc_buf *bufs[] = {&d_x, &d_w, &d_b, &d_out, &d_mean, &d_rstd, &d_dout, &d_dx, &d_dw, &d_db};
    for (size_t i = 0; i < sizeof bufs / sizeof bufs[0]; i++) gc_buf_free(bufs[i]);
    free(c.x), free(c.w), free(c.b), free(c.weights), free(c.out);
    free(x), free(w), free(b), free(out), free(dout), free(mean), free(rstd);
    free(dx0), free(dw0), free(db0), free(dx), free(dw), free(db);
  }
}

/* ================================ linear ================================ */

typedef struct {
  int N, IC, OC, bias;
  double *x, *w, *b, *weights, *out;
} linear_ctx;

static void ref_linear(const linear_ctx *c) {
  for (int i = 0; i < c->N; i++)
    for (int o = 0; o < c->OC; o++) {
      double s = c->bias ? c->b[o] : 0.0;
      for (int j = 0; j < c->IC; j++) s += c->x[(int64_t)i * c->IC + j] * c->w[(int64_t)o * c->IC + j];
      c->out[(int64_t)i * c->OC + o] = s;
    }
}

static double linear_loss(void *p) {
  linear_ctx *c = p;
  ref_linear(c);
  return gc_dot(c->out, c->weights, (int64_t)c->N * c->OC);
}

static void test_linear(void **state) {
  const sr_kernels *k = gc_backend(state);
  sr_rng r;
  sr_rng_init(&r, 103, 0);
  for (int trial = 0; trial < 8; trial++) {
    const int N = gc_rand_int(&r, 1, 7), IC = gc_rand_int(&r, 1, 9), OC = gc_rand_int(&r, 1, 9);
    const int bias = trial % 2 == 0;
    const int64_t nx = (int64_t)N * IC, nw = (int64_t)OC * IC, no = (int64_t)N * OC;
    float *x = falloc(nx), *w = falloc(nw), *b = falloc(OC), *out = falloc(no), *dout = falloc(no);
    float *dx0 = falloc(nx), *dw0 = falloc(nw), *db0 = falloc(OC);
    float *dx = falloc(nx), *dw = falloc(nw), *db = falloc(OC);
    gc_fill_uniform(&r, x, nx, -1, 1);
    gc_fill_uniform(&r, w, nw, -1, 1);
    gc_fill_uniform(&r, b, OC, -1, 1);
    gc_fill_uniform(&r, dout, no, -1, 1);
    gc_fill_uniform(&r, dx0, nx, -1, 1);
    gc_fill_uniform(&r, dw0, nw, -1, 1);
    gc_fill_uniform(&r, db0, OC, -1, 1);

    gc_buf d_x, d_w, d_b, d_out, d_dout, d_dx, d_dw, d_db;
    gc_buf_new(&d_x, k, nx, 4, x);
    gc_buf_new(&d_w, k, nw, 4, w);
    gc_buf_new(&d_b, k, OC, 4, b);
    gc_buf_new(&d_out, k, no, 4, NULL);
    gc_buf_new(&d_dout, k, no, 4, dout);
    gc_buf_new(&d_dx, k, nx, 4, dx0);
    gc_buf_new(&d_dw, k, nw, 4, dw0);
    gc_buf_new(&d_db, k, OC, 4, db0);
    assert_int_equal(k->linear_forward(k, d_out.ptr, d_x.ptr, d_w.ptr, bias ? d_b.ptr : NULL, N,
                                       IC, OC), SR_OK);
    assert_int_equal(k->linear_backward(k, d_dx.ptr, d_dw.ptr, bias ? d_db.ptr : NULL, d_dout.ptr,
                                        d_x.ptr, d_w.ptr, N, IC, OC), SR_OK);
    gc_buf_get(&d_out, out);
    gc_buf_get(&d_dx, dx);
    gc_buf_get(&d_dw, dw);
    gc_buf_get(&d_db, db);

    linear_ctx c = {N, IC, OC, bias, dalloc(nx), dalloc(nw), dalloc(OC), dalloc(no), dalloc(no)};
    gc_to_double(c.x, x, nx);
    gc_to_double(c.w, w, nw);
    gc_to_double(c.b, b, OC);
    gc_to_double(c.weights, dout, no);
    ref_linear(&c);
    /* Dot products of <= 9 products of size <= 1: float error ~1e-6. */
    gc_assert_close_f("linear forward", out, c.out, no, 1e-5, 1e-5);

    double *num = dalloc(nx > nw ? nx : nw), *got = dalloc(nx > nw ? nx : nw);
    /* The backward is the same kind of short float sums (over N <= 7 or OC <= 9 terms). */
    gc_numeric_grad(linear_loss, &c, c.x, nx, FD_STEP, num);
    added_grad(got, dx, dx0, nx);
    gc_assert_close("linear dx", got, num, nx, 1e-5, 1e-5);
    gc_numeric_grad(linear_loss, &c, c.w, nw, FD_STEP, num);
    added_grad(got, dw, dw0, nw);
    gc_assert_close("linear dw", got, num, nw, 1e-5, 1e-5);
    if (bias) {
      gc_numeric_grad(linear_loss, &c, c.b, OC, FD_STEP, num);
      added_grad(got, db, db0, OC);
      gc_assert_close("linear db", got, num, OC, 1e-5, 1e-5);
    } else {
      gc_assert_same_bits("linear db untouched without bias", db, db0, OC);
    }
    free(num);
    free(got);

    gc_buf *bufs[] = {&d_x, &d_w, &d_b, &d_out, &d_dout, &d_dx, &d_dw, &d_db};
    for (size_t i = 0; i < sizeof bufs / sizeof bufs[0]; i++) gc_buf_free(bufs[i]);
    free(c.x), free(c.w), free(c.b), free(c.weights), free(c.out);
    free(x), free(w), free(b), free(out), free(dout), free(dx0), free(dw0), free(db0);
    free(dx), free(dw), free(db);
  }
}

/* ================================ attention ================================ */

/* q, k and v live in one array: [3, B, T, C] (ld = C, separate tensors) or [B, T, 3C]
 * (ld = 3C, a fused projection); q_off/k_off/v_off say where each starts. */
typedef struct {
  int B, T, C, H, ld;
  int64_t q_off, k_off, v_off, n_qkv;
  const int32_t *ids;
  const sr_dropout *drop;
  double *qkv, *weights, *out, *att;
} att_ctx;

static void ref_attention(const att_ctx *c) {
  const int B = c->B, T = c->T, C = c->C, H = c->H, D = C / H;
  const double scale = 1.0 / sqrt((double)D);
  memset(c->out, 0, (size_t)B * T * C * sizeof *c->out);
  memset(c->att, 0, (size_t)B * H * T * T * sizeof *c->att);
  for (int b = 0; b < B; b++)
    for (int h = 0; h < H; h++)
      for (int t = 0; t < T; t++) {
        if (c->ids[b * T + t] == 0) continue;
        const double *q = c->qkv + c->q_off + ((int64_t)b * T + t) * c->ld + h * D;
        double *a = c->att + (((int64_t)b * H + h) * T + t) * T;
        double max = -INFINITY, sum = 0;
        for (int s = 0; s <= t; s++) {
          if (c->ids[b * T + s] == 0) continue;
          const double *kv = c->qkv + c->k_off + ((int64_t)b * T + s) * c->ld + h * D;
          double dot = 0;
          for (int d = 0; d < D; d++) dot += q[d] * kv[d];
          a[s] = dot * scale;
          if (a[s] > max) max = a[s];
        }
        for (int s = 0; s <= t; s++)
          if (c->ids[b * T + s] != 0) sum += (a[s] = exp(a[s] - max));
        for (int s = 0; s <= t; s++) a[s] /= sum;
        double *o = c->out + ((int64_t)b * T + t) * C + h * D;
        for (int s = 0; s <= t; s++) {
          if (c->ids[b * T + s] == 0) continue;
          double p = a[s] * ref_dropout_factor(c->drop, (uint64_t)((((int64_t)b * H + h) * T + t) * T + s));
          const double *v = c->qkv + c->v_off + ((int64_t)b * T + s) * c->ld + h * D;
          for (int d = 0; d < D; d++) o[d] += p * v[d];
        }
      }
}

static double att_loss(void *p) {
  att_ctx *c = p;
  ref_attention(c);
  return gc_dot(c->out, c->weights, (int64_t)c->B * c->T * c->C);
}

static void att_layout(att_ctx *c, int fused) {
  const int64_t BTC = (int64_t)c->B * c->T * c->C;
  c->ld = fused ? 3 * c->C : c->C;
  c->q_off = 0;
  c->k_off = fused ? c->C : BTC;
  c->v_off = fused ? 2 * c->C : 2 * BTC;
  c->n_qkv = 3 * BTC;
}

static void test_attention_gradcheck(void **state) {
  const sr_kernels *k = gc_backend(state);
  sr_rng r;
  sr_rng_init(&r, 104, 0);
  for (int trial = 0; trial < 10; trial++) {
    att_ctx c = {0};
    c.B = gc_rand_int(&r, 1, 3);
    c.T = gc_rand_int(&r, 1, 6);
    c.H = gc_rand_int(&r, 1, 3);
    c.C = c.H * gc_rand_int(&r, 1, 4);
    /* Two long windows: more queries than a CUDA block has warps, more keys than a warp has
     * lanes, and several of the CPU's 32-query blocks. */
    if (trial >= 8) c.B = 1, c.T = gc_rand_int(&r, 65, 80), c.H = 2, c.C = 4;
    att_layout(&c, trial % 2);
    /* Half the trials with dropout on the probabilities: the mask is fixed by its seed, so the
     * reference applies the same one and finite differences see a smooth function. */
    sr_dropout drop = {0.4f, 77, 5, (uint64_t)trial};
    c.drop = trial >= 4 ? &drop : NULL;
    const int B = c.B, T = c.T, C = c.C, H = c.H;
    const int64_t n_out = (int64_t)B * T * C, n_att = (int64_t)B * H * T * T;
    int32_t *ids = calloc((size_t)B * T, sizeof *ids);
    random_ids(&r, ids, B, T, 9);
    /* One sequence with a hole in the middle: the mask is general, not only a prefix. */
    if (T >= 3 && ids[T - 2] != 0 && ids[T - 3] != 0) ids[T - 2] = 0;
    c.ids = ids;
    float *qkv = falloc(c.n_qkv), *dout = falloc(n_out), *dqkv0 = falloc(c.n_qkv);
    float *out = falloc(n_out), *att = falloc(n_att), *dqkv = falloc(c.n_qkv);
    gc_fill_uniform(&r, qkv, c.n_qkv, -1.5f, 1.5f);
    gc_fill_uniform(&r, dout, n_out, -1, 1);
    gc_fill_uniform(&r, dqkv0, c.n_qkv, -1, 1);

    sr_kernel_dims dims = {.B = B, .T = T, .C = C, .H = H, .V = 2, .block_rows = 1};
    size_t scratch_bytes = k->scratch_bytes(k, &dims);
    gc_buf d_qkv, d_dout, d_dqkv, d_out, d_att, d_ids, d_scratch;
    gc_buf_new(&d_qkv, k, c.n_qkv, 4, qkv);
    gc_buf_new(&d_dout, k, n_out, 4, dout);
    gc_buf_new(&d_dqkv, k, c.n_qkv, 4, dqkv0);
    gc_buf_new(&d_out, k, n_out, 4, NULL);
    gc_buf_new(&d_att, k, n_att, 4, NULL);
    gc_buf_new(&d_ids, k, (int64_t)B * T, 4, ids);
    gc_buf_new(&d_scratch, k, (int64_t)scratch_bytes, 1, NULL);
    float *q = d_qkv.ptr, *dq = d_dqkv.ptr;
    assert_int_equal(k->attention_forward(k, d_out.ptr, d_att.ptr, q + c.q_off, q + c.k_off,
                                          q + c.v_off, d_ids.ptr, B, T, C, H, c.ld, c.drop),
                     SR_OK);
    assert_int_equal(k->attention_backward(k, dq + c.q_off, dq + c.k_off, dq + c.v_off,
                                           d_dout.ptr, q + c.q_off, q + c.k_off, q + c.v_off,
                                           d_att.ptr, d_ids.ptr, B, T, C, H, c.ld, c.drop,
                                           d_scratch.ptr, scratch_bytes), SR_OK);
    gc_buf_get(&d_out, out);
    gc_buf_get(&d_att, att);
    gc_buf_get(&d_dqkv, dqkv);

    c.qkv = dalloc(c.n_qkv);
    c.weights = dalloc(n_out);
    c.out = dalloc(n_out);
    c.att = dalloc(n_att);
    gc_to_double(c.qkv, qkv, c.n_qkv);
    gc_to_double(c.weights, dout, n_out);
    ref_attention(&c);
    /* Softmax of scores <= ~5 and weighted sums of <= 6 values: float error ~1e-6. */
    gc_assert_close_f("attention probabilities", att, c.att, n_att, 2e-6, 1e-5);
    gc_assert_close_f("attention forward", out, c.out, n_out, 1e-5, 1e-5);
    for (int64_t i = 0; i < (int64_t)B * T; i++)
      if (ids[i] == 0)
        for (int j = 0; j < C; j++) assert_true(out[i * C + j] == 0.0f);

    double *num = dalloc(c.n_qkv), *got = dalloc(c.n_qkv);
    /* Through exp and two sums of products with cancellation (p * (dp - sum p dp)): float error
     * ~1e-6 on O(1) gradients; the 1e-4 relative and 1e-5 absolute allowance keeps 10x margin. */
    gc_numeric_grad(att_loss, &c, c.qkv, c.n_qkv, FD_STEP, num);
    added_grad(got, dqkv, dqkv0, c.n_qkv);
    gc_assert_close(c.drop ? "attention d qkv (dropout)" : "attention d qkv", got, num, c.n_qkv,
                    1e-5, 1e-4);
    free(num);
    free(got);

    gc_buf *bufs[] = {&d_qkv, &d_dout, &d_dqkv, &d_out, &d_att, &d_ids, &d_scratch};
    for (size_t i = 0; i < sizeof bufs / sizeof bufs[0]; i++) gc_buf_free(bufs[i]);
    free(c.qkv), free(c.weights), free(c.out), free(c.att);
    free(ids), free(qkv), free(dout), free(dqkv0), free(out), free(att), free(dqkv);
  }
}

/* Causality and masking as behaviour: changing a future token or a padded slot (even to NaN)
 * leaves every output it must not reach bit-for-bit unchanged. */
static void test_attention_masks(void **state) {
  const sr_kernels *k = gc_backend(state);
  enum { B = 2, T = 6, H = 2, C = 8 };
  const int64_t n = (int64_t)B * T * C, n_att = (int64_t)B * H * T * T;
  /* Sequence 0 is full; sequence 1 has two padded slots in front. */
  const int32_t ids[B * T] = {3, 1, 4, 1, 5, 9, 0, 0, 2, 6, 5, 3};
  sr_rng r;
  sr_rng_init(&r, 105, 0);
  float q[B * T * C], kk[B * T * C], v[B * T * C], out0[B * T * C], out1[B * T * C];
  float att0[B * H * T * T], att1[B * H * T * T];
  gc_fill_uniform(&r, q, n, -1, 1);
  gc_fill_uniform(&r, kk, n, -1, 1);
  gc_fill_uniform(&r, v, n, -1, 1);
  gc_buf d_q, d_k, d_v, d_ids, d_out, d_att;
  gc_buf_new(&d_q, k, n, 4, q);
  gc_buf_new(&d_k, k, n, 4, kk);
  gc_buf_new(&d_v, k, n, 4, v);
  gc_buf_new(&d_ids, k, B * T, 4, ids);
  gc_buf_new(&d_out, k, n, 4, NULL);
  gc_buf_new(&d_att, k, n_att, 4, NULL);
#define RUN_ATT(out_, att_)                                                                   \
  do {                                                                                      \
    assert_int_equal(k->attention_forward(k, d_out.ptr, d_att.ptr, d_q.ptr, d_k.ptr, d_v.ptr, \
                                          d_ids.ptr, B, T, C, H, C, NULL), SR_OK);           \
    gc_buf_get(&d_out, out_);                                                               \
    gc_buf_get(&d_att, att_);                                                               \
  } while (0)
  RUN_ATT(out0, att0);

  /* A future token: change everything about slot 3 of sequence 0. */
  const int future = 3;
  for (int j = 0; j < C; j++) {
    q[future * C + j] += 1.0f;
    kk[future * C + j] -= 2.0f;
    v[future * C + j] *= -3.0f;
  }
  gc_buf_set(&d_q, q);
  gc_buf_set(&d_k, kk);
  gc_buf_set(&d_v, v);
  RUN_ATT(out1, att1);
  gc_assert_same_bits("outputs before the changed token", out0, out1, future * C);
  gc_assert_same_bits("the other sequence", out0 + T * C, out1 + T * C, T * C);
  int changed = 0;
  for (int j = future * C; j < T * C; j++) changed |= out0[j] != out1[j];
  assert_true(changed); /* the test can fail: later outputs do see the token */

  /* Padded slots of sequence 1 hold NaN in q, k and v: nothing may notice. */
  memcpy(out0, out1, sizeof out0);
  memcpy(att0, att1, sizeof att0);
  for (int t = 0; t < 2; t++)
    for (int j = 0; j < C; j++) {
      int64_t i = (int64_t)(T + t) * C + j;
      q[i] = kk[i] = v[i] = NAN;
    }
  gc_buf_set(&d_q, q);
  gc_buf_set(&d_k, kk);
  gc_buf_set(&d_v, v);
  RUN_ATT(out1, att1);
  gc_assert_same_bits("outputs with NaN in padded slots", out0, out1, n);
  gc_assert_same_bits("probabilities with NaN in padded slots", att0, att1, n_att);
  for (int t = 0; t < 2; t++)
    for (int j = 0; j < C; j++) assert_true(out1[(T + t) * C + j] == 0.0f);
  /* Every real query's probabilities sum to 1 over real keys at or before it. */
  for (int b = 0; b < B; b++)
    for (int h = 0; h < H; h++)
      for (int t = 0; t < T; t++) {
        const float *a = att1 + (((int64_t)b * H + h) * T + t) * T;
        double sum = 0;
        for (int s = 0; s < T; s++) {
          if (s > t || ids[b * T + s] == 0) assert_true(a[s] == 0.0f);
          sum += a[s];
        }
        assert_true(fabs(sum - (ids[b * T + t] ? 1.0 : 0.0)) < 1e-6);
      }
#undef RUN_ATT
  gc_buf *bufs[] = {&d_q, &d_k, &d_v, &d_ids, &d_out, &d_att};
  for (size_t i = 0; i < sizeof bufs / sizeof bufs[0]; i++) gc_buf_free(bufs[i]);
}

/* ================================ GELU ================================ */

typedef struct {
  int64_t n;
  double *x, *weights, *out;
} ew_ctx;

/* erfc, not 1 + erf: even in double the latter keeps one digit at x = -8. */
static double ref_gelu(double x) { return 0.5 * x * erfc(-x / sqrt(2.0)); }

static double gelu_loss(void *p) {
  ew_ctx *c = p;
  for (int64_t i = 0; i < c->n; i++) c->out[i] = ref_gelu(c->x[i]);
  return gc_dot(c->out, c->weights, c->n);
}

static void test_gelu(void **state) {
  const sr_kernels *k = gc_backend(state);
  sr_rng r;
  sr_rng_init(&r, 106, 0);
  const int64_t n = 61;
  float x[61], out[61], dout[61], dx0[61], dx[61];
  gc_fill_uniform(&r, x, n, -5, 5);
  x[0] = 0.0f;
  x[1] = -8.0f; /* deep in the tail, where 1 + erf(x) would cancel to nothing */
  gc_fill_uniform(&r, dout, n, -1, 1);
  gc_fill_uniform(&r, dx0, n, -1, 1);
  gc_buf d_x, d_out, d_dout, d_dx;
  gc_buf_new(&d_x, k, n, 4, x);
  gc_buf_new(&d_out, k, n, 4, NULL);
  gc_buf_new(&d_dout, k, n, 4, dout);
  gc_buf_new(&d_dx, k, n, 4, dx0);
  assert_int_equal(k->gelu_forward(k, d_out.ptr, d_x.ptr, n), SR_OK);
  assert_int_equal(k->gelu_backward(k, d_dx.ptr, d_x.ptr, d_dout.ptr, n), SR_OK);
  gc_buf_get(&d_out, out);
  gc_buf_get(&d_dx, dx);
  ew_ctx c = {n, dalloc(n), dalloc(n), dalloc(n)};
  gc_to_double(c.x, x, n);
  gc_to_double(c.weights, dout, n);
  gelu_loss(&c);
  /* erfcf and expf are within a few ulps: 1e-6 relative plus 1e-7 absolute near zero (the
   * x = -8 tail, checked relatively below, which the erf form would get wrong by 100%). */
  gc_assert_close_f("gelu forward", out, c.out, n, 1e-7, 1e-6);
  gc_assert_close_f("gelu forward at x = -8", out + 1, c.out + 1, 1, 0, 1e-5);
  double *num = dalloc(n), *got = dalloc(n);
  gc_numeric_grad(gelu_loss, &c, c.x, n, FD_STEP, num);
  added_grad(got, dx, dx0, n);
  gc_assert_close("gelu dx", got, num, n, 1e-6, 1e-5);
  assert_true(out[0] == 0.0f);
  free(num), free(got), free(c.x), free(c.weights), free(c.out);
  gc_buf *bufs[] = {&d_x, &d_out, &d_dout, &d_dx};
  for (size_t i = 0; i < sizeof bufs / sizeof bufs[0]; i++) gc_buf_free(bufs[i]);
}

/* ================================ dropout and residual ================================ */

static void test_dropout(void **state) {
  const sr_kernels *k = gc_backend(state);
  enum { N = 20000 };
  float *x = falloc(N), *a = falloc(N), *b = falloc(N), *dx = falloc(N), *dout = falloc(N);
  sr_rng r;
  sr_rng_init(&r, 107, 0);
  gc_fill_uniform(&r, x, N, -2, 2);
  gc_fill_uniform(&r, dout, N, -1, 1);
  gc_buf d_x, d_out, d_dx, d_dout;
  gc_buf_new(&d_x, k, N, 4, x);
  gc_buf_new(&d_out, k, N, 4, NULL);
  gc_buf_new(&d_dx, k, N, 4, NULL);
  gc_buf_new(&d_dout, k, N, 4, dout);

  const sr_dropout drop = {0.25f, 42, 3, 17};
  const float scale = 1.0f / (1.0f - drop.p);
  assert_int_equal(k->dropout_forward(k, d_out.ptr, d_x.ptr, N, &drop), SR_OK);
  gc_buf_get(&d_out, a);
  int64_t dropped = 0;
  for (int64_t i = 0; i < N; i++) {
    /* Each element is exactly 0 or x/(1-p), and which one is the documented draw. */
    double f = ref_dropout_factor(&drop, (uint64_t)i);
    float want = f == 0.0 ? 0.0f : x[i] * scale;
    if (a[i] != want) fail_msg("dropout element %lld: %g, want %g", (long long)i, a[i], want);
    dropped += f == 0.0;
  }
  /* The dropped fraction is binomial: sd = sqrt(p(1-p)/N) = 0.0031; allow 5 sd. */
  assert_true(fabs((double)dropped / N - drop.p) < 0.016);

  /* The same (seed, stream, step) gives the same mask; another step or stream another one. */
  assert_int_equal(k->dropout_forward(k, d_out.ptr, d_x.ptr, N, &drop), SR_OK);
  gc_buf_get(&d_out, b);
  gc_assert_same_bits("dropout repeated", a, b, N);
  sr_dropout other = drop;
  other.step++;
  assert_int_equal(k->dropout_forward(k, d_out.ptr, d_x.ptr, N, &other), SR_OK);
  gc_buf_get(&d_out, b);
  int64_t differ = 0;
  for (int64_t i = 0; i < N; i++) differ += (a[i] == 0.0f) != (b[i] == 0.0f);
  assert_true(differ > N / 4); /* independent masks disagree on 2p(1-p) = 37.5% */
  other = drop;
  other.stream++;
  assert_int_equal(k->dropout_forward(k, d_out.ptr, d_x.ptr, N, &other), SR_OK);
  gc_buf_get(&d_out, b);
  differ = 0;
  for (int64_t i = 0; i < N; i++) differ += (a[i] == 0.0f) != (b[i] == 0.0f);
  assert_true(differ > N / 4);

  /* In place gives the same values. */
  gc_buf_set(&d_out, x);
  assert_int_equal(k->dropout_forward(k, d_out.ptr, d_out.ptr, N, &drop), SR_OK);
  gc_buf_get(&d_out, b);
  gc_assert_same_bits("dropout in place", a, b, N);

  /* Backward recomputes the same mask: dropout is linear, so d(sum(out * dout))/dx is the
   * mask times dout, exactly (one float product). */
  assert_int_equal(k->dropout_backward(k, d_dx.ptr, d_dout.ptr, N, &drop), SR_OK);
  gc_buf_get(&d_dx, dx);
  for (int64_t i = 0; i < N; i++) {
    float want = ref_dropout_factor(&drop, (uint64_t)i) == 0.0 ? 0.0f : dout[i] * scale;
    if (dx[i] != want) fail_msg("dropout grad %lld: %g, want %g", (long long)i, dx[i], want);
  }

  /* p = 0 and no dropout at all are the identity, bit for bit. */
  const sr_dropout none = {0.0f, 42, 3, 17};
  assert_int_equal(k->dropout_forward(k, d_out.ptr, d_x.ptr, N, &none), SR_OK);
  gc_buf_get(&d_out, b);
  gc_assert_same_bits("dropout p=0", x, b, N);
  assert_int_equal(k->dropout_forward(k, d_out.ptr, d_x.ptr, N, NULL), SR_OK);
  gc_buf_get(&d_out, b);
  gc_assert_same_bits("dropout NULL", x, b, N);

  /* Probabilities outside [0, 1) are refused. */
  const sr_dropout bad = {1.0f, 42, 3, 17};
  assert_int_equal(k->dropout_forward(k, d_out.ptr, d_x.ptr, N, &bad), SR_EINVAL);
  assert_non_null(strstr(sr_error_message(), "outside [0, 1)"));
  sr_error_clear();

  gc_buf *bufs[] = {&d_x, &d_out, &d_dx, &d_dout};
  for (size_t i = 0; i < sizeof bufs / sizeof bufs[0]; i++) gc_buf_free(bufs[i]);
  free(x), free(a), free(b), free(dx), free(dout);
}

/* The mask must not depend on how many threads draw it (CPU backend). */
static void test_dropout_thread_count(void **state) {
  (void)gc_backend(state);
  enum { N = 10007 };
  sr_kernels one, two;
  assert_int_equal(kernels_cpu_init(&one, 1), SR_OK);
  float *x = falloc(N), *a = falloc(N), *b = falloc(N);
  for (int i = 0; i < N; i++) x[i] = (float)i;
  const sr_dropout drop = {0.5f, 9, 1, 2};
  assert_int_equal(one.dropout_forward(&one, a, x, N, &drop), SR_OK);
  assert_int_equal(kernels_cpu_init(&two, 2), SR_OK);
  assert_int_equal(two.dropout_forward(&two, b, x, N, &drop), SR_OK);
  gc_assert_same_bits("dropout on 1 and 2 threads", a, b, N);
  kernels_close(&one);
  kernels_close(&two);
  free(x), free(a), free(b);
}

typedef struct {
  int64_t n;
  const sr_dropout *drop;
  double *x, *y, *weights, *out;
} res_ctx;

static double residual_loss(void *p) {
  res_ctx *c = p;
  for (int64_t i = 0; i < c->n; i++)
    c->out[i] = c->x[i] + c->y[i] * ref_dropout_factor(c->drop, (uint64_t)i);
  return gc_dot(c->out, c->weights, c->n);
}

static void test_residual(void **state) {
  const sr_kernels *k = gc_backend(state);
  sr_rng r;
  sr_rng_init(&r, 108, 0);
  const int64_t n = 97;
  const sr_dropout drop = {0.3f, 5, 8, 13};
  for (int with_drop = 0; with_drop < 2; with_drop++) {
    float x[97], y[97], out[97], dout[97], dx0[97], dy0[97], dx[97], dy[97];
    gc_fill_uniform(&r, x, n, -1, 1);
    gc_fill_uniform(&r, y, n, -1, 1);
    gc_fill_uniform(&r, dout, n, -1, 1);
    gc_fill_uniform(&r, dx0, n, -1, 1);
    gc_fill_uniform(&r, dy0, n, -1, 1);
    const sr_dropout *d = with_drop ? &drop : NULL;
    gc_buf d_x, d_y, d_out, d_dout, d_dx, d_dy;
    gc_buf_new(&d_x, k, n, 4, x);
    gc_buf_new(&d_y, k, n, 4, y);
    gc_buf_new(&d_out, k, n, 4, NULL);
    gc_buf_new(&d_dout, k, n, 4, dout);
    gc_buf_new(&d_dx, k, n, 4, dx0);
    gc_buf_new(&d_dy, k, n, 4, dy0);
    assert_int_equal(k->residual_forward(k, d_out.ptr, d_x.ptr, d_y.ptr, n, d), SR_OK);
    assert_int_equal(k->residual_backward(k, d_dx.ptr, d_dy.ptr, d_dout.ptr, n, d), SR_OK);
    gc_buf_get(&d_out, out);
    gc_buf_get(&d_dx, dx);
    gc_buf_get(&d_dy, dy);
    res_ctx c = {n, d, dalloc(n), dalloc(n), dalloc(n), dalloc(n)};
    gc_to_double(c.x, x, n);
    gc_to_double(c.y, y, n);
    gc_to_double(c.weights, dout, n);
    residual_loss(&c);
    /* One product and one add in float: below 1 ulp of ~3, so 1e-6. */
    gc_assert_close_f("residual forward", out, c.out, n, 1e-6, 1e-6);
    double num[97], got[97];
    gc_numeric_grad(residual_loss, &c, c.x, n, FD_STEP, num);
    added_grad(got, dx, dx0, n);
    gc_assert_close("residual dx", got, num, n, 1e-6, 1e-6);
    gc_numeric_grad(residual_loss, &c, c.y, n, FD_STEP, num);
    added_grad(got, dy, dy0, n);
    gc_assert_close("residual dy", got, num, n, 1e-6, 1e-6);
    free(c.x), free(c.y), free(c.weights), free(c.out);
    gc_buf *bufs[] = {&d_x, &d_y, &d_out, &d_dout, &d_dx, &d_dy};
    for (size_t i = 0; i < sizeof bufs / sizeof bufs[0]; i++) gc_buf_free(bufs[i]);
  }
}

#define BACKEND_TESTS                                \
  cmocka_unit_test(test_embed),                      \
  cmocka_unit_test(test_layernorm),                  \
  cmocka_unit_test(test_linear),                     \
  cmocka_unit_test(test_attention_gradcheck),        \
  cmocka_unit_test(test_attention_masks),            \
  cmocka_unit_test(test_gelu),                       \
  cmocka_unit_test(test_dropout),                    \
  cmocka_unit_test(test_residual)

int main(void) {
  const struct CMUnitTest cpu[] = {BACKEND_TESTS, cmocka_unit_test(test_dropout_thread_count)};
  const struct CMUnitTest cuda[] = {BACKEND_TESTS};
  int failed = cmocka_run_group_tests_name("kernels on cpu", cpu, gc_setup_cpu, gc_teardown);
  failed += cmocka_run_group_tests_name("kernels on cuda", cuda, gc_setup_cuda, gc_teardown);
  return failed;
}
