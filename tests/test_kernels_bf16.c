/* kernels/: train.precision bf16 (kernels.h "Precision") on every backend. The contract makes
 * bf16 a rounding of what fp32 writes, so each op runs twice on the same bf16-exact inputs, once
 * with k->bf16 and once without, and:
 *   - every activation or activation gradient it writes is the fp32 result rounded to bf16
 *     (exactly on the CPU; on a GPU within one bf16 step, as its products may accumulate in
 *     another order),
 *   - parameter gradients, layer-norm statistics and losses are the fp32 ones (same bits on
 *     the CPU),
 *   - the ce loss, which also rounds its logit gradients, stays within 1% (norm-wise) of fp32.
 * The rounding itself is checked against an independent reference (frexp / rint / ldexp).
 * The CUDA group is skipped (reported, not passed) where no GPU or no CUDA backend is there. */
#include <float.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "core/arena.h"
#include "core/log.h"
#include "core/rng.h"
#include "tests/gradcheck.h"

/* bf16 keeps 8 significant bits: x rounded to them, ties to even (rint's default mode); below
 * FLT_MIN (subnormal) its step is fixed, 2^-133. */
static float ref_bf16(float x) {
  if (!isfinite(x)) return x;
  if (fabsf(x) < FLT_MIN) return (float)ldexp(rint(ldexp((double)x, 133)), -133);
  int e = 0;
  const double m = frexp((double)x, &e); /* |m| in [0.5, 1) */
  const double r = ldexp(rint(ldexp(m, 8)), e - 8);
  return r > FLT_MAX ? INFINITY : r < -FLT_MAX ? -INFINITY : (float)r;
}

static int is_bf16(float x) {
  uint32_t u;
  memcpy(&u, &x, sizeof u);
  return (u & 0xffffu) == 0 || isnan(x);
}

/* The backend twice: fp32 and bf16 (the same context). */
typedef struct {
  sr_kernels fp, bf;
  int exact; /* 1: the bf16 result must be the rounded fp32 one to the bit */
} tables;

static void tables_of(void **state, tables *t) {
  t->fp = *gc_backend(state);
  t->fp.bf16 = 0;
  t->bf = t->fp;
  sr_log_set_quiet(1); /* the CPU's "emulated" notice */
  sr_status st = kernels_set_bf16(&t->bf, 1);
  sr_log_set_quiet(0);
  if (st != SR_OK) print_error("%s\n", sr_error_message());
  assert_int_equal(st, SR_OK);
  t->exact = !t->fp.on_device;
}

/* n random values in [lo, hi], already bf16 (what a bf16 run feeds every op). */
static float *bf16_inputs(sr_rng *r, int64_t n, float lo, float hi) {
  float *x = NULL;
  assert_int_equal(sr_alloc(&x, (size_t)n + 1, sizeof *x, "inputs"), SR_OK);
  gc_fill_uniform(r, x, n, lo, hi);
  for (int64_t i = 0; i < n; i++) x[i] = ref_bf16(x[i]);
  return x;
}

/* bf16 output against the fp32 one: bf16 values, equal to the rounding of fp32 (exactly, or
 * within one bf16 step of it where products may be summed in another order). */
static void expect_rounded(const char *what, const float *bf, const float *fp, int64_t n,
                           int exact) {
  for (int64_t i = 0; i < n; i++) {
    const float want = ref_bf16(fp[i]);
    const float step = fabsf(want) * 0x1p-7f + 1e-30f;
    const int ok = is_bf16(bf[i]) && (exact ? memcmp(&bf[i], &want, sizeof want) == 0
                                            : fabsf(bf[i] - want) <= step);
    if (!ok)
      print_error("%s[%lld]: bf16 run %a, fp32 run %a rounds to %a\n", what, (long long)i,
                  (double)bf[i], (double)fp[i], (double)want);
    assert_true(ok);
  }
}

/* Parameter gradients and statistics stay fp32: the same as the fp32 run (on a GPU to fp32
 * rounding of a bf16-sized input difference: there the products' operands are the same bf16
 * values, so only the summation order may differ). */
static void expect_fp32(const char *what, const float *bf, const float *fp, int64_t n,
                        int exact) {
  if (exact) {
    gc_assert_same_bits(what, bf, fp, n);
    return;
  }
  double *want = NULL;
  assert_int_equal(sr_alloc(&want, (size_t)n + 1, sizeof *want, "want"), SR_OK);
  gc_to_double(want, fp, n);
  gc_assert_close_f(what, bf, want, n, 1e-6, 1e-4);
  sr_free(want);
}

/* Results that depend on rounded intermediates: within rel of fp32 in the 2-norm (single
 * elements may cancel). */
static void expect_near(const char *what, const float *bf, const float *fp, int64_t n,
                        double rel) {
  double diff = 0, norm = 0;
  for (int64_t i = 0; i < n; i++)
    diff += ((double)bf[i] - fp[i]) * ((double)bf[i] - fp[i]), norm += (double)fp[i] * fp[i];
  if (!(sqrt(diff) <= rel * sqrt(norm)))
    print_error("%s: |bf16 - fp32| = %g, |fp32| = %g\n", what, sqrt(diff), sqrt(norm));
  assert_true(sqrt(diff) <= rel * sqrt(norm));
}

/* A tensor on the backend from host values (NULL: zeros), and back. */
static void put(gc_buf *b, const sr_kernels *k, int64_t n, const float *host) {
  gc_buf_new(b, k, n, sizeof(float), host);
}
static float *take(gc_buf *b) {
  float *host = NULL;
  assert_int_equal(sr_alloc(&host, (size_t)b->n + 1, sizeof *host, "result"), SR_OK);
  gc_buf_get(b, host);
  gc_buf_free(b);
  return host;
}

static void test_round_bf16(void **state) {
  tables t;
  tables_of(state, &t);
  sr_rng r;
  sr_rng_init(&r, 11, 0);
  enum { n = 4096 };
  float x[n];
  for (int i = 0; i < n; i++) {
    uint32_t u = sr_rng_u32(&r);
    if (i % 4 == 0) u = (u & 0xffff0000u) | 0x8000u; /* exact ties: even wins */
    memcpy(&x[i], &u, sizeof u);
    if (!isfinite(x[i])) x[i] = (float)i;
  }
  const float special[] = {0.0f, -0.0f, 1.0f, -1.0f, FLT_MAX, -FLT_MAX, FLT_MIN, INFINITY,
                           -INFINITY, 0x1.fffffep-1f, 0x1.01p0f, 0x1.03p0f, 0x1.018p0f, 3.0e38f};
  memcpy(x, special, sizeof special);
  gc_buf in, out;
  put(&in, &t.fp, n, x);
  put(&out, &t.fp, n, NULL);
  assert_int_equal(t.fp.round_bf16(&t.fp, out.ptr, in.ptr, n), SR_OK); /* an op of its own */
  gc_buf_free(&in);
  float *got = take(&out);
  for (int i = 0; i < n; i++) {
    const float want = ref_bf16(x[i]);
    if (memcmp(&got[i], &want, sizeof want) != 0)
      print_error("x %a: got %a, want %a\n", (double)x[i], (double)got[i], (double)want);
    assert_memory_equal(&got[i], &want, sizeof want);
  }
  sr_free(got);
  /* NaN stays NaN (a payload in the low bits must not carry into an infinity). */
  const uint32_t nans[] = {0x7f800001u, 0xffc00000u, 0x7fffffffu, 0x7f80ffffu};
  float nan_in[4], nan_out[4];
  memcpy(nan_in, nans, sizeof nans);
  put(&in, &t.fp, 4, nan_in);
  assert_int_equal(t.fp.round_bf16(&t.fp, in.ptr, in.ptr, 4), SR_OK); /* in place */
  gc_buf_get(&in, nan_out);
  gc_buf_free(&in);
  for (int i = 0; i < 4; i++) assert_true(isnan(nan_out[i]) && is_bf16(nan_out[i]));
}

static void test_embed_bf16(void **state) {
  tables t;
  tables_of(state, &t);
  sr_rng r;
  sr_rng_init(&r, 12, 0);
  const int B = 3, T = 7, C = 24, V = 40, P = 9;
  float *wte = bf16_inputs(&r, (int64_t)V * C, -1, 1), *wpe = bf16_inputs(&r, (int64_t)P * C, -1, 1);
  float *dout = bf16_inputs(&r, (int64_t)B * T * C, -1, 1);
  int32_t ids[3 * 7];
  for (int i = 0; i < B * T; i++) ids[i] = i % T < 2 ? 0 : gc_rand_int(&r, 1, V - 1);
  float *res[2][3];
  for (int p = 0; p < 2; p++) {
    const sr_kernels *k = p ? &t.bf : &t.fp;
    gc_buf w, e, o, id, dw, de;
    put(&w, k, (int64_t)V * C, wte);
    put(&e, k, (int64_t)P * C, wpe);
    put(&o, k, (int64_t)B * T * C, NULL);
    gc_buf_new(&id, k, B * T, sizeof(int32_t), ids);
    put(&dw, k, (int64_t)V * C, NULL);
    put(&de, k, (int64_t)P * C, NULL);
    assert_int_equal(k->embed_forward(k, o.ptr, id.ptr, w.ptr, e.ptr, B, T, C, V, P, 8.0f), SR_OK);
    gc_buf_set(&o, dout);
    assert_int_equal(k->embed_backward(k, dw.ptr, de.ptr, o.ptr, id.ptr, B, T, C, V, P, 8.0f),
                     SR_OK);
    gc_buf_free(&o);
    put(&o, k, (int64_t)B * T * C, NULL);
    assert_int_equal(k->embed_forward(k, o.ptr, id.ptr, w.ptr, e.ptr, B, T, C, V, P, 8.0f), SR_OK);
    res[p][0] = take(&o), res[p][1] = take(&dw), res[p][2] = take(&de);
    gc_buf_free(&w), gc_buf_free(&e), gc_buf_free(&id);
  }
  expect_rounded("embed out", res[1][0], res[0][0], (int64_t)B * T * C, t.exact);
  expect_fp32("embed dwte", res[1][1], res[0][1], (int64_t)V * C, t.exact);
  expect_fp32("embed dwpe", res[1][2], res[0][2], (int64_t)P * C, t.exact);
  for (int p = 0; p < 2; p++)
    for (int j = 0; j < 3; j++) sr_free(res[p][j]);
  sr_free(wte), sr_free(wpe), sr_free(dout);
}

static void test_layernorm_bf16(void **state) {
  tables t;
  tables_of(state, &t);
  sr_rng r;
  sr_rng_init(&r, 13, 0);
  const int N = 37, C = 48;
  float *x = bf16_inputs(&r, (int64_t)N * C, -3, 3), *w = bf16_inputs(&r, C, 0.5f, 1.5f);
  float *b = bf16_inputs(&r, C, -0.5f, 0.5f), *dout = bf16_inputs(&r, (int64_t)N * C, -1, 1);
  float *res[2][6];
  for (int p = 0; p < 2; p++) {
    const sr_kernels *k = p ? &t.bf : &t.fp;
    gc_buf bx, bw, bb, bd, out, mean, rstd, dx, dw, db;
    put(&bx, k, (int64_t)N * C, x), put(&bw, k, C, w), put(&bb, k, C, b);
    put(&bd, k, (int64_t)N * C, dout), put(&out, k, (int64_t)N * C, NULL);
    put(&mean, k, N, NULL), put(&rstd, k, N, NULL), put(&dx, k, (int64_t)N * C, NULL);
    put(&dw, k, C, NULL), put(&db, k, C, NULL);
    assert_int_equal(k->layernorm_forward(k, out.ptr, mean.ptr, rstd.ptr, bx.ptr, bw.ptr, bb.ptr,
                                          N, C, 1e-5f), SR_OK);
    assert_int_equal(k->layernorm_backward(k, dx.ptr, dw.ptr, db.ptr, bd.ptr, bx.ptr, bw.ptr,
                                           mean.ptr, rstd.ptr, N, C), SR_OK);
    res[p][0] = take(&out), res[p][1] = take(&mean), res[p][2] = take(&rstd);
    res[p][3] = take(&dx), res[p][4] = take(&dw), res[p][5] = take(&db);
    gc_buf_free(&bx), gc_buf_free(&bw), gc_buf_free(&bb), gc_buf_free(&bd);
  }
  expect_rounded("layernorm out", res[1][0], res[0][0], (int64_t)N * C, t.exact);
  expect_fp32("layernorm mean", res[1][1], res[0][1], N, t.exact);
  expect_fp32("layernorm rstd", res[1][2], res[0][2], N, t.exact);
  expect_rounded("layernorm dx", res[1][3], res[0][3], (int64_t)N * C, t.exact);
  expect_fp32("layernorm dw", res[1][4], res[0][4], C, t.exact);
  expect_fp32("layernorm db", res[1][5], res[0][5], C, t.exact);
  for (int p = 0; p < 2; p++)
    for (int j = 0; j < 6; j++) sr_free(res[p][j]);
  sr_free(x), sr_free(w), sr_free(b), sr_free(dout);
}

static void test_linear_bf16(void **state) {
  tables t;
  tables_of(state, &t);
  sr_rng r;
  sr_rng_init(&r, 14, 0);
  const int N = 53, IC = 48, OC = 80;
  float *x = bf16_inputs(&r, (int64_t)N * IC, -2, 2), *w = bf16_inputs(&r, (int64_t)OC * IC, -1, 1);
  float *b = bf16_inputs(&r, OC, -0.5f, 0.5f), *dout = bf16_inputs(&r, (int64_t)N * OC, -1, 1);
  float *res[2][4];
  for (int p = 0; p < 2; p++) {
    const sr_kernels *k = p ? &t.bf : &t.fp;
    gc_buf bx, bw, bb, bd, out, dx, dw, db;
    put(&bx, k, (int64_t)N * IC, x), put(&bw, k, (int64_t)OC * IC, w), put(&bb, k, OC, b);
    put(&bd, k, (int64_t)N * OC, dout), put(&out, k, (int64_t)N * OC, NULL);
    put(&dx, k, (int64_t)N * IC, NULL), put(&dw, k, (int64_t)OC * IC, NULL), put(&db, k, OC, NULL);
    assert_int_equal(k->linear_forward(k, out.ptr, bx.ptr, bw.ptr, bb.ptr, N, IC, OC), SR_OK);
    assert_int_equal(k->linear_backward(k, dx.ptr, dw.ptr, db.ptr, bd.ptr, bx.ptr, bw.ptr, N, IC,
                                        OC), SR_OK);
    res[p][0] = take(&out), res[p][1] = take(&dx), res[p][2] = take(&dw), res[p][3] = take(&db);
    gc_buf_free(&bx), gc_buf_free(&bw), gc_buf_free(&bb), gc_buf_free(&bd);
  }
  expect_rounded("linear out", res[1][0], res[0][0], (int64_t)N * OC, t.exact);
  expect_rounded("linear dx", res[1][1], res[0][1], (int64_t)N * IC, t.exact);
  expect_fp32("linear dw", res[1][2], res[0][2], (int64_t)OC * IC, t.exact);
  expect_fp32("linear db", res[1][3], res[0][3], OC, t.exact);
  for (int p = 0; p < 2; p++)
    for (int j = 0; j < 4; j++) sr_free(res[p][j]);
  sr_free(x), sr_free(w), sr_free(b), sr_free(dout);
}

/* Attention on a fused qkv (ld = 3C) with left padding and dropout on the probabilities. */
static void test_attention_bf16(void **state) {
  tables t;
  tables_of(state, &t);
  sr_rng r;
  sr_rng_init(&r, 15, 0);
  const int B = 3, T = 40, C = 32, H = 2, ld = 3 * C;
  const int64_t nq = (int64_t)B * T * ld, no = (int64_t)B * T * C, na = (int64_t)B * H * T * T;
  float *qkv = bf16_inputs(&r, nq, -1, 1), *dout = bf16_inputs(&r, no, -1, 1);
  int32_t ids[3 * 40];
  for (int b = 0; b < B; b++)
    for (int i = 0; i < T; i++) ids[b * T + i] = i < 5 * b ? 0 : 1 + (b * T + i) % 7;
  const sr_dropout drop = {.p = 0.1f, .seed = 3, .stream = 4, .step = 5};
  const sr_kernel_dims dims = {.B = B, .T = T, .C = C, .H = H, .V = 2, .block_rows = 64};
  float *res[2][3];
  for (int p = 0; p < 2; p++) {
    const sr_kernels *k = p ? &t.bf : &t.fp;
    const size_t scratch_bytes = k->scratch_bytes(k, &dims);
    gc_buf bq, bd, out, att, dqkv, id, scratch;
    put(&bq, k, nq, qkv), put(&bd, k, no, dout), put(&out, k, no, NULL), put(&att, k, na, NULL);
    put(&dqkv, k, nq, NULL);
    gc_buf_new(&id, k, B * T, sizeof(int32_t), ids);
    gc_buf_new(&scratch, k, (int64_t)scratch_bytes, 1, NULL);
    const float *q = bq.ptr;
    float *dq = dqkv.ptr;
    assert_int_equal(k->attention_forward(k, out.ptr, att.ptr, q, q + C, q + 2 * C, id.ptr, B, T,
                                          C, H, ld, &drop), SR_OK);
    assert_int_equal(k->attention_backward(k, dq, dq + C, dq + 2 * C, bd.ptr, q, q + C, q + 2 * C,
                                           att.ptr, id.ptr, B, T, C, H, ld, &drop, scratch.ptr,
                                           scratch_bytes), SR_OK);
    res[p][0] = take(&out), res[p][1] = take(&att), res[p][2] = take(&dqkv);
    gc_buf_free(&bq), gc_buf_free(&bd), gc_buf_free(&id), gc_buf_free(&scratch);
  }
  expect_rounded("attention out", res[1][0], res[0][0], no, t.exact);
  expect_rounded("attention att", res[1][1], res[0][1], na, t.exact);
  /* The bf16 backward read the rounded probabilities: near, not the rounding of fp32's. */
  expect_near("attention dqkv", res[1][2], res[0][2], nq, 1e-2);
  for (int64_t i = 0; i < nq; i++) assert_true(is_bf16(res[1][2][i]));
  for (int p = 0; p < 2; p++)
    for (int j = 0; j < 3; j++) sr_free(res[p][j]);
  sr_free(qkv), sr_free(dout);
}

/* GELU, dropout and the residual add, forward and backward, into gradients that already hold
 * bf16 values (they accumulate). */
static void test_elementwise_bf16(void **state) {
  tables t;
  tables_of(state, &t);
  sr_rng r;
  sr_rng_init(&r, 16, 0);
  const int64_t n = 5000;
  float *x = bf16_inputs(&r, n, -4, 4), *y = bf16_inputs(&r, n, -1, 1);
  float *dout = bf16_inputs(&r, n, -1, 1), *acc = bf16_inputs(&r, n, -1, 1);
  const sr_dropout drop = {.p = 0.2f, .seed = 7, .stream = 1, .step = 2};
  enum { GF, GB, DF, DB, RF, RBX, RBY, OUTS };
  float *res[2][OUTS];
  for (int p = 0; p < 2; p++) {
    const sr_kernels *k = p ? &t.bf : &t.fp;
    gc_buf bx, by, bd, o[OUTS];
    put(&bx, k, n, x), put(&by, k, n, y), put(&bd, k, n, dout);
    for (int j = 0; j < OUTS; j++) put(&o[j], k, n, j == GF || j == DF || j == RF ? NULL : acc);
    assert_int_equal(k->gelu_forward(k, o[GF].ptr, bx.ptr, n), SR_OK);
    assert_int_equal(k->gelu_backward(k, o[GB].ptr, bx.ptr, bd.ptr, n), SR_OK);
    assert_int_equal(k->dropout_forward(k, o[DF].ptr, bx.ptr, n, &drop), SR_OK);
    assert_int_equal(k->dropout_backward(k, o[DB].ptr, bd.ptr, n, &drop), SR_OK);
    assert_int_equal(k->residual_forward(k, o[RF].ptr, bx.ptr, by.ptr, n, &drop), SR_OK);
    assert_int_equal(k->residual_backward(k, o[RBX].ptr, o[RBY].ptr, bd.ptr, n, &drop), SR_OK);
    for (int j = 0; j < OUTS; j++) res[p][j] = take(&o[j]);
    gc_buf_free(&bx), gc_buf_free(&by), gc_buf_free(&bd);
  }
  const char *names[OUTS] = {"gelu out", "gelu dx", "dropout out", "dropout dx", "residual out",
                             "residual dx", "residual dy"};
  for (int j = 0; j < OUTS; j++) {
    expect_rounded(names[j], res[1][j], res[0][j], n, t.exact);
    sr_free(res[0][j]), sr_free(res[1][j]);
  }
  sr_free(x), sr_free(y), sr_free(dout), sr_free(acc);
}

/* The three losses on the same hidden rows and item table: the same loss; d hidden rounded;
 * d item table fp32. The ce loss rounds its logit gradients too: near fp32, not its rounding. */
static void test_losses_bf16(void **state) {
  tables t;
  tables_of(state, &t);
  sr_rng r;
  sr_rng_init(&r, 17, 0);
  const int N = 90, C = 32, V = 300, K = 6, block_rows = 64;
  float *h = bf16_inputs(&r, (int64_t)N * C, -1, 1), *wte = bf16_inputs(&r, (int64_t)V * C, -1, 1);
  for (int c = 0; c < C; c++) wte[c] = 0.0f;
  int32_t targets[90], negs[90 * 6], neg1[90];
  for (int i = 0; i < N; i++) {
    targets[i] = i % 9 == 0 ? 0 : gc_rand_int(&r, 1, V - 1);
    neg1[i] = gc_rand_int(&r, 1, V - 1);
    for (int j = 0; j < K; j++) negs[i * K + j] = gc_rand_int(&r, 0, V - 1);
  }
  const sr_kernel_dims dims = {.B = 1, .T = N, .C = C, .H = 1, .V = V, .negatives = K,
                               .block_rows = block_rows};
  enum { CE, SAMPLED, BCE, LOSSES };
  double loss[2][LOSSES];
  float *dh[2][LOSSES], *dw[2][LOSSES];
  for (int p = 0; p < 2; p++) {
    const sr_kernels *k = p ? &t.bf : &t.fp;
    const size_t scratch_bytes = k->scratch_bytes(k, &dims);
    gc_buf bh, bw, bt, bn, b1, scratch, gh[LOSSES], gw[LOSSES];
    put(&bh, k, (int64_t)N * C, h), put(&bw, k, (int64_t)V * C, wte);
    gc_buf_new(&bt, k, N, sizeof(int32_t), targets);
    gc_buf_new(&bn, k, (int64_t)N * K, sizeof(int32_t), negs);
    gc_buf_new(&b1, k, N, sizeof(int32_t), neg1);
    gc_buf_new(&scratch, k, (int64_t)scratch_bytes, 1, NULL);
    for (int j = 0; j < LOSSES; j++) put(&gh[j], k, (int64_t)N * C, NULL), put(&gw[j], k, (int64_t)V * C, NULL);
    assert_int_equal(k->loss_ce(k, &loss[p][CE], NULL, gh[CE].ptr, gw[CE].ptr, bh.ptr, bt.ptr,
                                bw.ptr, N, C, V, 0.0, block_rows, scratch.ptr, scratch_bytes),
                     SR_OK);
    assert_int_equal(k->loss_sampled_ce(k, &loss[p][SAMPLED], NULL, gh[SAMPLED].ptr,
                                        gw[SAMPLED].ptr, bh.ptr, bt.ptr, bn.ptr, NULL, bw.ptr, N,
                                        C, V, K, 0.0, block_rows, scratch.ptr, scratch_bytes),
                     SR_OK);
    assert_int_equal(k->loss_bce(k, &loss[p][BCE], NULL, gh[BCE].ptr, gw[BCE].ptr, bh.ptr, bt.ptr,
                                 b1.ptr, bw.ptr, N, C, V, 0.0), SR_OK);
    for (int j = 0; j < LOSSES; j++) dh[p][j] = take(&gh[j]), dw[p][j] = take(&gw[j]);
    gc_buf_free(&bh), gc_buf_free(&bw), gc_buf_free(&bt), gc_buf_free(&bn), gc_buf_free(&b1);
    gc_buf_free(&scratch);
  }
  const char *names[LOSSES] = {"ce", "sampled_ce", "bce"};
  for (int j = 0; j < LOSSES; j++) {
    if (loss[1][j] != loss[0][j])
      print_error("%s loss: bf16 run %.17g, fp32 run %.17g\n", names[j], loss[1][j], loss[0][j]);
    if (t.exact)
      assert_memory_equal(&loss[1][j], &loss[0][j], sizeof(double));
    else
      assert_true(fabs(loss[1][j] - loss[0][j]) <= 1e-5 * fabs(loss[0][j]));
    for (int64_t i = 0; i < (int64_t)N * C; i++) assert_true(is_bf16(dh[1][j][i]));
  }
  expect_rounded("sampled_ce dhidden", dh[1][SAMPLED], dh[0][SAMPLED], (int64_t)N * C, t.exact);
  expect_fp32("sampled_ce dwte", dw[1][SAMPLED], dw[0][SAMPLED], (int64_t)V * C, t.exact);
  expect_rounded("bce dhidden", dh[1][BCE], dh[0][BCE], (int64_t)N * C, t.exact);
  expect_fp32("bce dwte", dw[1][BCE], dw[0][BCE], (int64_t)V * C, t.exact);
  /* ce: the gradients of bf16 logit gradients, each within 2^-8 relative: 1% norm-wise. */
  expect_near("ce dhidden", dh[1][CE], dh[0][CE], (int64_t)N * C, 1e-2);
  expect_near("ce dwte", dw[1][CE], dw[0][CE], (int64_t)V * C, 1e-2);
  /* ... and they are not fp32's: the logit gradients were rounded before the products. */
  assert_true(memcmp(dw[1][CE], dw[0][CE], (size_t)V * C * sizeof(float)) != 0);
  for (int64_t i = 0; i < C; i++) assert_true(dw[1][CE][i] == 0.0f); /* row 0: padding */
  for (int p = 0; p < 2; p++)
    for (int j = 0; j < LOSSES; j++) sr_free(dh[p][j]), sr_free(dw[p][j]);
  sr_free(h), sr_free(wte);
}

#define BF16_TESTS                                                                   \
  cmocka_unit_test(test_round_bf16), cmocka_unit_test(test_embed_bf16),              \
      cmocka_unit_test(test_layernorm_bf16), cmocka_unit_test(test_linear_bf16),     \
      cmocka_unit_test(test_attention_bf16), cmocka_unit_test(test_elementwise_bf16), \
      cmocka_unit_test(test_losses_bf16)

int main(void) {
  const struct CMUnitTest cpu[] = {BF16_TESTS};
  const struct CMUnitTest cuda[] = {BF16_TESTS};
  int failed = cmocka_run_group_tests_name("bf16 on cpu", cpu, gc_setup_cpu, gc_teardown);
  failed += cmocka_run_group_tests_name("bf16 on cuda", cuda, gc_setup_cuda, gc_teardown);
  return failed;
}
