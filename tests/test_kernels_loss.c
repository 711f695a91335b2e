/* kernels/ losses on every backend: ce over all items (block size must not matter),
 * sampled_ce with the logQ correction, bce with one negative. Values against a plain double
 * formula written here, gradients against its central finite differences in double. */
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

#define FD_STEP 1e-5 /* see test_kernels.c: FD error ~1e-10 here */

typedef enum { LOSS_CE, LOSS_SAMPLED, LOSS_BCE } loss_kind;
static const char *const loss_names[] = {"ce", "sampled_ce", "bce"};

/* One call of a loss on a backend, host arrays in and out. */
typedef struct {
  loss_kind kind;
  int N, C, V, K, block_rows;
  double denom;
  const int32_t *targets;   /* [N] */
  const int32_t *negatives; /* [N, K] (sampled) or [N] (bce) */
  const float *hidden;      /* [N, C] */
  const float *wte;         /* [V, C] */
  const float *logq;        /* [V] or NULL */
  float *dhidden;           /* [N, C]: in the base, out base + gradient; NULL: forward only */
  float *dwte;              /* [V, C]: likewise */
  size_t scratch_bytes;     /* 0: what k->scratch_bytes says */
  /* results */
  double loss;
  int64_t count;
  sr_status st;
} loss_run;

static void run_loss(const sr_kernels *k, loss_run *L) {
  const int64_t nh = (int64_t)L->N * L->C, nw = (int64_t)L->V * L->C;
  const int64_t nneg = L->kind == LOSS_SAMPLED ? (int64_t)L->N * L->K : L->N;
  sr_kernel_dims dims = {.B = 1, .T = 1, .C = L->C, .H = 1, .V = L->V, .negatives = L->K,
                         .block_rows = L->block_rows};
  size_t scratch = L->scratch_bytes ? L->scratch_bytes : k->scratch_bytes(k, &dims);
  gc_buf d_t, d_neg, d_h, d_w, d_q, d_dh, d_dw, d_s;
  gc_buf_new(&d_t, k, L->N, 4, L->targets);
  gc_buf_new(&d_neg, k, L->kind == LOSS_CE ? 0 : nneg, 4, L->negatives);
  gc_buf_new(&d_h, k, nh, 4, L->hidden);
  gc_buf_new(&d_w, k, nw, 4, L->wte);
  gc_buf_new(&d_q, k, L->V, 4, L->logq);
  gc_buf_new(&d_dh, k, nh, 4, L->dhidden);
  gc_buf_new(&d_dw, k, nw, 4, L->dwte);
  gc_buf_new(&d_s, k, (int64_t)scratch, 1, NULL);
  float *dh = L->dhidden ? d_dh.ptr : NULL, *dw = L->dwte ? d_dw.ptr : NULL;
  L->loss = NAN;
  L->count = -1;
  switch (L->kind) {
  case LOSS_CE:
    L->st = k->loss_ce(k, &L->loss, &L->count, dh, dw, d_h.ptr, d_t.ptr, d_w.ptr, L->N, L->C,
                       L->V, L->denom, L->block_rows, d_s.ptr, scratch);
    break;
  case LOSS_SAMPLED:
    L->st = k->loss_sampled_ce(k, &L->loss, &L->count, dh, dw, d_h.ptr, d_t.ptr, d_neg.ptr,
                               L->logq ? d_q.ptr : NULL, d_w.ptr, L->N, L->C, L->V, L->K,
                               L->denom, L->block_rows, d_s.ptr, scratch);
    break;
  case LOSS_BCE:
    L->st = k->loss_bce(k, &L->loss, &L->count, dh, dw, d_h.ptr, d_t.ptr, d_neg.ptr, d_w.ptr,
                        L->N, L->C, L->V, L->denom);
    break;
  }
  if (L->dhidden) gc_buf_get(&d_dh, L->dhidden);
  if (L->dwte) gc_buf_get(&d_dw, L->dwte);
  gc_buf *bufs[] = {&d_t, &d_neg, &d_h, &d_w, &d_q, &d_dh, &d_dw, &d_s};
  for (size_t i = 0; i < sizeof bufs / sizeof bufs[0]; i++) gc_buf_free(bufs[i]);
}

/* ---- the double-precision reference: the definitions in kernels.h, plainly ---- */
typedef struct {
  loss_kind kind;
  int N, C, V, K;
  double denom;
  const int32_t *targets, *negatives;
  double *h, *w, *logq; /* logq NULL: no correction */
} ref_ctx;

static double score(const ref_ctx *c, int64_t r, int32_t item) {
  double s = 0;
  for (int j = 0; j < c->C; j++) s += c->h[r * c->C + j] * c->w[(int64_t)item * c->C + j];
  return s - (c->logq ? c->logq[item] : 0.0);
}

static double softplus(double x) { return log1p(exp(-fabs(x))) + (x > 0 ? x : 0); }

static double ref_loss(void *p) {
  const ref_ctx *c = p;
  double total = 0;
  int64_t count = 0;
  for (int64_t r = 0; r < c->N; r++) {
    const int32_t y = c->targets[r];
    if (y == 0) continue;
    count++;
    if (c->kind == LOSS_BCE) {
      const int32_t n = c->negatives[r];
      total += softplus(-score(c, r, y)) + (n ? softplus(score(c, r, n)) : 0.0);
      continue;
    }
    /* log-sum-exp over the candidates, minus the target's score */
    double z[64] = {0};
    int nz = 0;
    if (c->kind == LOSS_CE) {
      for (int32_t i = 1; i < c->V; i++) z[nz++] = score(c, r, i);
    } else {
      z[nz++] = score(c, r, y);
      for (int j = 0; j < c->K; j++) {
        int32_t n = c->negatives[r * c->K + j];
        if (n != 0 && n != y) z[nz++] = score(c, r, n);
      }
    }
    double max = z[0], sum = 0;
    for (int i = 1; i < nz; i++) max = z[i] > max ? z[i] : max;
    for (int i = 0; i < nz; i++) sum += exp(z[i] - max);
    total += max + log(sum) - score(c, r, y);
  }
  return count ? total / (c->denom > 0 ? c->denom : (double)count) : 0.0;
}

/* A random problem: hidden and wte ~ U(-1, 1), a third of the targets padding, negatives from
 * 0..V-1 (so padding negatives and accidental hits occur), logq of a skewed distribution. */
typedef struct {
  int N, C, V, K;
  int32_t *targets, *negatives;
  float *hidden, *wte, *logq;
} problem;

static void problem_new(problem *p, sr_rng *r, loss_kind kind, int N, int C, int V, int K) {
  p->N = N, p->C = C, p->V = V, p->K = K;
  int64_t nneg = kind == LOSS_SAMPLED ? (int64_t)N * K : N;
  p->targets = calloc((size_t)N, sizeof(int32_t));
  p->negatives = calloc((size_t)(nneg > 0 ? nneg : 1), sizeof(int32_t));
  p->hidden = calloc((size_t)N * C, sizeof(float));
  p->wte = calloc((size_t)V * C, sizeof(float));
  p->logq = calloc((size_t)V, sizeof(float));
  for (int i = 0; i < N; i++) p->targets[i] = sr_rng_below(r, 3) == 0 ? 0 : gc_rand_int(r, 1, V - 1);
  if (N > 0 && p->targets[0] == 0) p->targets[0] = 1; /* at least one real target */
  for (int64_t i = 0; i < nneg; i++) p->negatives[i] = gc_rand_int(r, 0, V - 1);
  gc_fill_uniform(r, p->hidden, (int64_t)N * C, -1, 1);
  gc_fill_uniform(r, p->wte, (int64_t)V * C, -1, 1);
  double sum = 0, q[64];
  for (int i = 1; i < V; i++) sum += q[i] = 0.05 + sr_rng_uniform(r) * sr_rng_uniform(r);
  p->logq[0] = 0.0f; /* never used: item 0 is never a candidate */
  for (int i = 1; i < V; i++) p->logq[i] = (float)log(q[i] / sum);
}

static void problem_free(problem *p) {
  free(p->targets), free(p->negatives), free(p->hidden), free(p->wte), free(p->logq);
}

/* Loss value and both gradients of one random problem against the reference. */
static void check_against_reference(const sr_kernels *k, sr_rng *r, loss_kind kind,
                                    const problem *p, int use_logq, double denom) {
  const int N = p->N, C = p->C, V = p->V;
  const int64_t nh = (int64_t)N * C, nw = (int64_t)V * C;
  float *dh0 = calloc((size_t)nh, sizeof(float)), *dw0 = calloc((size_t)nw, sizeof(float));
  float *dh = calloc((size_t)nh, sizeof(float)), *dw = calloc((size_t)nw, sizeof(float));
  gc_fill_uniform(r, dh0, nh, -1, 1); /* the losses add onto these */
  gc_fill_uniform(r, dw0, nw, -1, 1);
  memcpy(dh, dh0, (size_t)nh * sizeof *dh);
  memcpy(dw, dw0, (size_t)nw * sizeof *dw);
  loss_run L = {.kind = kind, .N = N, .C = C, .V = V, .K = p->K,
                .block_rows = gc_rand_int(r, 1, N + 1), .denom = denom, .targets = p->targets,
                .negatives = p->negatives, .hidden = p->hidden, .wte = p->wte,
                .logq = use_logq ? p->logq : NULL, .dhidden = dh, .dwte = dw};
  run_loss(k, &L);
  assert_int_equal(L.st, SR_OK);

  ref_ctx c = {kind, N, C, V, p->K, denom, p->targets, p->negatives, calloc((size_t)nh, 8),
               calloc((size_t)nw, 8), use_logq ? calloc((size_t)V, 8) : NULL};
  gc_to_double(c.h, p->hidden, nh);
  gc_to_double(c.w, p->wte, nw);
  if (use_logq) gc_to_double(c.logq, p->logq, V);
  int64_t count = 0;
  for (int i = 0; i < N; i++) count += p->targets[i] != 0;
  assert_int_equal(L.count, count);
  /* Scores are float dot products of <= 8 terms (error ~5e-7) and the rest runs in double, so
   * the mean loss agrees to ~1e-6 relative. */
  double want = ref_loss(&c);
  gc_assert_close(loss_names[kind], &L.loss, &want, 1, 1e-6, 2e-6);

  double *num = calloc((size_t)(nh > nw ? nh : nw), 8), *got = calloc((size_t)(nh > nw ? nh : nw), 8);
  /* Gradients are (softmax - onehot) / count times O(1) rows: float products and sums of up
   * to V terms, ~1e-6 absolute. 1e-4 relative plus 1e-6 absolute leaves 10x margin while a
   * wrong term (a missing logQ, a wrong sign, a padded row) is off by 1e-2 or more. */
  gc_numeric_grad(ref_loss, &c, c.h, nh, FD_STEP, num);
  for (int64_t i = 0; i < nh; i++) got[i] = (double)dh[i] - dh0[i];
  gc_assert_close("d hidden", got, num, nh, 1e-6, 1e-4);
  gc_numeric_grad(ref_loss, &c, c.w, nw, FD_STEP, num);
  for (int64_t i = 0; i < nw; i++) got[i] = (double)dw[i] - dw0[i];
  gc_assert_close("d wte", got, num, nw, 1e-6, 1e-4);
  /* Nothing at all reaches the padding row or the rows without a target. */
  gc_assert_same_bits("d wte row 0", dw, dw0, C);
  for (int i = 0; i < N; i++)
    if (p->targets[i] == 0) gc_assert_same_bits("d hidden of a padded row", dh + (int64_t)i * C, dh0 + (int64_t)i * C, C);
  free(num), free(got), free(c.h), free(c.w), free(c.logq);
  free(dh0), free(dw0), free(dh), free(dw);
}

static void test_ce_gradcheck(void **state) {
  const sr_kernels *k = gc_backend(state);
  sr_rng r;
  sr_rng_init(&r, 201, 0);
  for (int trial = 0; trial < 8; trial++) {
    problem p;
    problem_new(&p, &r, LOSS_CE, gc_rand_int(&r, 1, 7), gc_rand_int(&r, 1, 8), gc_rand_int(&r, 2, 30), 0);
    check_against_reference(k, &r, LOSS_CE, &p, 0, trial == 3 ? 11.0 : 0.0);
    problem_free(&p);
  }
}

/* The block size is a memory knob only: the loss and gradients must not move with it. */
static void test_ce_block_size(void **state) {
  const sr_kernels *k = gc_backend(state);
  sr_rng r;
  sr_rng_init(&r, 202, 0);
  enum { N = 13, C = 8, V = 50 };
  problem p;
  problem_new(&p, &r, LOSS_CE, N, C, V, 0);
  float dh_ref[N * C] = {0}, dw_ref[V * C] = {0}, dh[N * C], dw[V * C];
  loss_run base = {.kind = LOSS_CE, .N = N, .C = C, .V = V, .block_rows = N,
                   .targets = p.targets, .hidden = p.hidden, .wte = p.wte, .dhidden = dh_ref,
                   .dwte = dw_ref};
  run_loss(k, &base);
  assert_int_equal(base.st, SR_OK);
  const int blocks[] = {1, 2, 5, 64};
  for (size_t b = 0; b < sizeof blocks / sizeof blocks[0]; b++) {
    memset(dh, 0, sizeof dh);
    memset(dw, 0, sizeof dw);
    loss_run L = base;
    L.block_rows = blocks[b];
    L.dhidden = dh;
    L.dwte = dw;
    run_loss(k, &L);
    assert_int_equal(L.st, SR_OK);
    /* Row losses are summed in double (in row order on the CPU, a fixed tree per block on
     * CUDA: ~1e-16 apart); sgemm's own summation order may change with the block shape (float,
     * ~1e-7 relative). */
    gc_assert_close("ce loss across block sizes", &L.loss, &base.loss, 1, 0, 1e-6);
    double want_h[N * C], want_w[V * C];
    gc_to_double(want_h, dh_ref, N * C);
    gc_to_double(want_w, dw_ref, V * C);
    gc_assert_close_f("ce d hidden across block sizes", dh, want_h, N * C, 1e-8, 1e-5);
    gc_assert_close_f("ce d wte across block sizes", dw, want_w, V * C, 1e-8, 1e-5);
  }

  /* Forward only (validation) gives the same loss and writes nothing. */
  loss_run fwd = base;
  fwd.dhidden = NULL;
  fwd.dwte = NULL;
  run_loss(k, &fwd);
  assert_int_equal(fwd.st, SR_OK);
  gc_assert_close("ce forward only", &fwd.loss, &base.loss, 1, 0, 1e-6);

  /* An outside denominator (a global token count) divides loss and gradient alike. */
  memset(dh, 0, sizeof dh);
  memset(dw, 0, sizeof dw);
  loss_run twice = base;
  twice.denom = 2.0 * (double)base.count;
  twice.dhidden = dh;
  twice.dwte = dw;
  run_loss(k, &twice);
  double half = base.loss / 2;
  gc_assert_close("ce with denom", &twice.loss, &half, 1, 0, 1e-6);
  double want_h[N * C];
  for (int i = 0; i < N * C; i++) want_h[i] = dh_ref[i] / 2.0;
  gc_assert_close_f("ce d hidden with denom", dh, want_h, N * C, 1e-9, 1e-5);

  /* All padding: loss 0, count 0, nothing written. */
  int32_t none[N] = {0};
  memset(dh, 0, sizeof dh);
  loss_run empty = base;
  empty.targets = none;
  empty.dhidden = dh;
  empty.dwte = NULL;
  run_loss(k, &empty);
  assert_int_equal(empty.st, SR_OK);
  assert_true(empty.loss == 0.0);
  assert_int_equal(empty.count, 0);
  for (int i = 0; i < N * C; i++) assert_true(dh[i] == 0.0f);

  /* Too little scratch, and a target outside the table, are refused with what to do. */
  loss_run small = base;
  small.block_rows = 4;
  small.scratch_bytes = 16;
  run_loss(k, &small);
  assert_int_equal(small.st, SR_EINVAL);
  assert_non_null(strstr(sr_error_message(), "k->scratch_bytes"));
  sr_error_clear();
  p.targets[5] = V;
  loss_run bad = base;
  run_loss(k, &bad);
  assert_int_equal(bad.st, SR_EINVAL);
  assert_non_null(strstr(sr_error_message(), "row 5"));
  sr_error_clear();
  problem_free(&p);
}

/* The ce scratch is bounded by the block, not the batch: what a 1M-item table needs. */
static void test_ce_scratch_is_per_block(void **state) {
  const sr_kernels *k = gc_backend(state);
  sr_kernel_dims small = {.B = 1, .T = 1, .C = 64, .H = 1, .V = 1000001, .block_rows = 32};
  sr_kernel_dims big = small;
  big.B = 256;
  big.T = 200;
  size_t a = k->scratch_bytes(k, &small), b = k->scratch_bytes(k, &big);
  assert_true(a >= (size_t)32 * 1000000 * sizeof(float));
  assert_true(a < (size_t)40 * 1000000 * sizeof(float));
  assert_true(b == a); /* 51200 rows cost no more logits memory than one */
}

static void test_sampled_ce_gradcheck(void **state) {
  const sr_kernels *k = gc_backend(state);
  sr_rng r;
  sr_rng_init(&r, 203, 0);
  for (int trial = 0; trial < 8; trial++) {
    problem p;
    problem_new(&p, &r, LOSS_SAMPLED, gc_rand_int(&r, 1, 7), gc_rand_int(&r, 1, 8),
                gc_rand_int(&r, 2, 20), gc_rand_int(&r, 0, 6));
    check_against_reference(k, &r, LOSS_SAMPLED, &p, trial % 4 != 0, trial == 5 ? 9.0 : 0.0);
    problem_free(&p);
  }
}

/* logQ in numbers: a uniform sampler shifts every score by the same constant, which the
 * softmax ignores; a skewed one matches the formula written out by hand. */
static void test_sampled_ce_logq(void **state) {
  const sr_kernels *k = gc_backend(state);
  sr_rng r;
  sr_rng_init(&r, 204, 0);
  enum { N = 9, C = 5, V = 12, K = 4 };
  problem p;
  problem_new(&p, &r, LOSS_SAMPLED, N, C, V, K);
  for (int i = 1; i < V; i++) p.logq[i] = (float)log(1.0 / (V - 1));
  float dh_u[N * C] = {0}, dw_u[V * C] = {0}, dh_n[N * C] = {0}, dw_n[V * C] = {0};
  loss_run uni = {.kind = LOSS_SAMPLED, .N = N, .C = C, .V = V, .K = K, .block_rows = 4,
                  .targets = p.targets, .negatives = p.negatives, .hidden = p.hidden,
                  .wte = p.wte, .logq = p.logq, .dhidden = dh_u, .dwte = dw_u};
  loss_run plain = uni;
  plain.logq = NULL;
  plain.dhidden = dh_n;
  plain.dwte = dw_n;
  run_loss(k, &uni);
  run_loss(k, &plain);
  assert_int_equal(uni.st, SR_OK);
  assert_int_equal(plain.st, SR_OK);
  /* The shift (log 11 = 2.4) is applied to float scores, so they round differently: ~3e-7. */
  gc_assert_close("uniform logQ = no correction", &uni.loss, &plain.loss, 1, 0, 1e-6);
  double want_h[N * C], want_w[V * C];
  gc_to_double(want_h, dh_n, N * C);
  gc_to_double(want_w, dw_n, V * C);
  gc_assert_close_f("uniform logQ d hidden", dh_u, want_h, N * C, 1e-6, 1e-5);
  gc_assert_close_f("uniform logQ d wte", dw_u, want_w, V * C, 1e-6, 1e-5);

  /* One row by hand: C = 1, h = 1, scores 0.5, 1.0, -1.0 for items 1..3, target 1, negatives
   * 2 and 3 drawn with q = 0.2, 0.3, 0.5. */
  const int32_t target[1] = {1}, negs[2] = {2, 3};
  const float hidden[1] = {1.0f}, wte[4] = {0.0f, 0.5f, 1.0f, -1.0f};
  const float logq[4] = {0.0f, logf(0.2f), logf(0.3f), logf(0.5f)};
  float dh[1] = {0}, dw[4] = {0};
  loss_run one = {.kind = LOSS_SAMPLED, .N = 1, .C = 1, .V = 4, .K = 2, .block_rows = 1,
                  .targets = target, .negatives = negs, .hidden = hidden, .wte = wte,
                  .logq = logq, .dhidden = dh, .dwte = dw};
  run_loss(k, &one);
  assert_int_equal(one.st, SR_OK);
  double z0 = 0.5 - log(0.2), z1 = 1.0 - log(0.3), z2 = -1.0 - log(0.5);
  double lse = log(exp(z0) + exp(z1) + exp(z2));
  double want = lse - z0;
  gc_assert_close("sampled_ce by hand", &one.loss, &want, 1, 0, 1e-6);
  /* d loss / d h = sum_j softmax_j w_j - w_target */
  double p0 = exp(z0 - lse), p1 = exp(z1 - lse), p2 = exp(z2 - lse);
  double want_dh = p0 * 0.5 + p1 * 1.0 + p2 * -1.0 - 0.5;
  double want_dw[4] = {0.0, p0 - 1.0, p1, p2};
  gc_assert_close_f("sampled_ce by hand, d h", dh, &want_dh, 1, 1e-7, 1e-5);
  gc_assert_close_f("sampled_ce by hand, d wte", dw, want_dw, 4, 1e-7, 1e-5);

  /* An accidental hit (a negative equal to the target) counts as no negative at all. */
  const int32_t hit[2] = {2, 1}, dropped[2] = {2, 0};
  loss_run a = one, b = one;
  a.negatives = hit;
  b.negatives = dropped;
  a.dhidden = b.dhidden = NULL;
  a.dwte = b.dwte = NULL;
  run_loss(k, &a);
  run_loss(k, &b);
  assert_true(a.loss == b.loss);
  problem_free(&p);
}

static void test_bce_gradcheck(void **state) {
  const sr_kernels *k = gc_backend(state);
  sr_rng r;
  sr_rng_init(&r, 205, 0);
  for (int trial = 0; trial < 8; trial++) {
    problem p;
    problem_new(&p, &r, LOSS_BCE, gc_rand_int(&r, 1, 7), gc_rand_int(&r, 1, 8),
                gc_rand_int(&r, 2, 20), 0);
    check_against_reference(k, &r, LOSS_BCE, &p, 0, trial == 2 ? 5.0 : 0.0);
    problem_free(&p);
  }
  /* Scores of 0 give log 2 per term: two terms, one row. */
  const int32_t target[2] = {1, 0}, neg[2] = {2, 1};
  const float hidden[2] = {0.0f, 7.0f}, wte[3] = {0.0f, 1.0f, -1.0f};
  loss_run L = {.kind = LOSS_BCE, .N = 2, .C = 1, .V = 3, .targets = target, .negatives = neg,
                .hidden = hidden, .wte = wte};
  run_loss(k, &L);
  assert_int_equal(L.st, SR_OK);
  double want = 2.0 * log(2.0);
  gc_assert_close("bce at zero scores", &L.loss, &want, 1, 0, 1e-12);
  assert_int_equal(L.count, 1);
}

/* Thousands of rows: the CUDA row finder takes 1,024 rows a round and its cursor stops inside a
 * round (block_rows 700), the loss sums more rows than one thread block has threads, and the
 * dwte scatters walk several spans. Loss and gradients against the CPU backend; the loss also
 * against the double formula. */
static void test_losses_many_rows(void **state) {
  const sr_kernels *k = gc_backend(state);
  sr_kernels cpu;
  assert_int_equal(kernels_cpu_init(&cpu, 1), SR_OK);
  sr_rng r;
  sr_rng_init(&r, 206, 0);
  enum { N = 2500, C = 4, V = 9, K = 5 };
  for (loss_kind kind = LOSS_CE; kind <= LOSS_BCE; kind++) {
    problem p;
    problem_new(&p, &r, kind, N, C, V, kind == LOSS_SAMPLED ? K : 0);
    static float dh[N * C], dw[V * C], dh_cpu[N * C], dw_cpu[V * C];
    memset(dh, 0, sizeof dh), memset(dw, 0, sizeof dw);
    memset(dh_cpu, 0, sizeof dh_cpu), memset(dw_cpu, 0, sizeof dw_cpu);
    loss_run L = {.kind = kind, .N = N, .C = C, .V = V, .K = kind == LOSS_SAMPLED ? K : 0,
                  .block_rows = 700, .targets = p.targets, .negatives = p.negatives,
                  .hidden = p.hidden, .wte = p.wte, .logq = kind == LOSS_SAMPLED ? p.logq : NULL,
                  .dhidden = dh, .dwte = dw};
    loss_run ref = L;
    ref.dhidden = dh_cpu;
    ref.dwte = dw_cpu;
    run_loss(k, &L);
    run_loss(&cpu, &ref);
    assert_int_equal(L.st, SR_OK);
    assert_int_equal(ref.st, SR_OK);
    assert_int_equal(L.count, ref.count);
    assert_true(L.count > 2 * 700); /* three blocks of the ce losses */
    gc_assert_close("loss, many rows, against the cpu", &L.loss, &ref.loss, 1, 0, 1e-6);

    static double h[N * C], w[V * C], logq[V], want_dh[N * C], want_dw[V * C];
    ref_ctx c = {.kind = kind, .N = N, .C = C, .V = V, .K = L.K, .targets = p.targets,
                 .negatives = p.negatives, .h = h, .w = w, .logq = L.logq ? logq : NULL};
    gc_to_double(h, p.hidden, N * C);
    gc_to_double(w, p.wte, V * C);
    gc_to_double(logq, p.logq, V);
    const double want = ref_loss(&c);
    gc_assert_close("loss, many rows, against the formula", &L.loss, &want, 1, 0, 1e-6);

    gc_to_double(want_dh, dh_cpu, N * C);
    gc_to_double(want_dw, dw_cpu, V * C);
    gc_assert_close_f("d hidden, many rows", dh, want_dh, N * C, 1e-8, 1e-5);
    gc_assert_close_f("d wte, many rows", dw, want_dw, V * C, 1e-8, 1e-5);
    problem_free(&p);
  }
  kernels_close(&cpu);
}

#define BACKEND_TESTS                           \
  cmocka_unit_test(test_ce_gradcheck),          \
  cmocka_unit_test(test_ce_block_size),         \
  cmocka_unit_test(test_ce_scratch_is_per_block), \
  cmocka_unit_test(test_sampled_ce_gradcheck),  \
  cmocka_unit_test(test_sampled_ce_logq),       \
  cmocka_unit_test(test_bce_gradcheck),         \
  cmocka_unit_test(test_losses_many_rows)

int main(void) {
  const struct CMUnitTest tests[] = {BACKEND_TESTS};
  int failed = cmocka_run_group_tests_name("losses on cpu", tests, gc_setup_cpu, gc_teardown);
  failed += cmocka_run_group_tests_name("losses on cuda", tests, gc_setup_cuda, gc_teardown);
  return failed;
}
