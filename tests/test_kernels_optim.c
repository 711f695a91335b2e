/* kernels/ optimizer pieces on every backend: the global gradient norm (exact, reproducible,
 * non-finite values visible), AdamW against updates computed by hand, and the host-side
 * clipping factor and learning-rate schedule. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core/status.h"
#include "gradcheck.h"
#include "kernels/kernels.h"

static double norm_of(const sr_kernels *k, const float *g, int64_t n) {
  gc_buf d;
  gc_buf_new(&d, k, n, 4, g);
  double norm = -1;
  assert_int_equal(k->global_norm(k, &norm, d.ptr, n), SR_OK);
  gc_buf_free(&d);
  return norm;
}

static void test_global_norm(void **state) {
  const sr_kernels *k = gc_backend(state);
  /* 3-4-5 hidden in a long buffer: exact in any summation order. */
  enum { N = 100003 };
  float *g = calloc(N, sizeof *g);
  g[7] = 3.0f;
  g[N - 1] = -4.0f;
  assert_true(norm_of(k, g, N) == 5.0);
  /* 10000 entries of 0.25: sum of squares 625 exactly (powers of two add exactly). */
  for (int i = 0; i < 10000; i++) g[i] = 0.25f;
  g[N - 1] = 0.0f;
  assert_true(norm_of(k, g, 10000) == 25.0);
  assert_true(norm_of(k, g, 0) == 0.0);
  /* A NaN or an infinity anywhere shows in the norm, so the trainer can skip the step. */
  g[5000] = NAN;
  assert_true(isnan(norm_of(k, g, N)));
  g[5000] = INFINITY;
  assert_true(isinf(norm_of(k, g, N)));
  free(g);
}

static void test_global_norm_thread_count(void **state) {
  (void)gc_backend(state);
  enum { N = 54321 };
  float *g = malloc(N * sizeof *g);
  sr_rng r;
  sr_rng_init(&r, 301, 0);
  gc_fill_uniform(&r, g, N, -1, 1);
  sr_kernels one, two;
  double a, b;
  assert_int_equal(kernels_cpu_init(&one, 1), SR_OK);
  assert_int_equal(one.global_norm(&one, &a, g, N), SR_OK);
  assert_int_equal(kernels_cpu_init(&two, 2), SR_OK);
  assert_int_equal(two.global_norm(&two, &b, g, N), SR_OK);
  assert_memory_equal(&a, &b, sizeof a);
  double want = 0;
  for (int i = 0; i < N; i++) want += (double)g[i] * g[i];
  want = sqrt(want);
  gc_assert_close("norm vs plain sum", &a, &want, 1, 0, 1e-12); /* double sums, N = 5e4 */
  kernels_close(&one);
  kernels_close(&two);
  free(g);
}

static void test_clip_scale(void **state) {
  (void)state;
  assert_true(kernel_clip_scale(5.0, 1.0) == 0.2);
  assert_true(kernel_clip_scale(4.0, 1.0) == 0.25);
  assert_true(kernel_clip_scale(0.5, 1.0) == 1.0); /* below the limit: untouched */
  assert_true(kernel_clip_scale(1.0, 1.0) == 1.0);
  assert_true(kernel_clip_scale(0.0, 1.0) == 1.0);
  assert_true(kernel_clip_scale(1e9, 0.0) == 1.0); /* max_norm 0: clipping off */
  /* Scaled by the factor, the gradient's norm is the limit (to rounding). */
  float g[2] = {3.0f, 4.0f};
  double s = kernel_clip_scale(5.0, 2.0);
  double clipped = sqrt(pow(g[0] * s, 2) + pow(g[1] * s, 2));
  assert_true(fabs(clipped - 2.0) < 1e-15);
}

/* Hand-computed AdamW (PyTorch's formula), in double. */
static double adamw_ref(double p, double *m, double *v, double g, double lr, double b1, double b2,
                        double eps, double wd, int64_t t) {
  *m = b1 * *m + (1 - b1) * g;
  *v = b2 * *v + (1 - b2) * g * g;
  double mhat = *m / (1 - pow(b1, (double)t)), vhat = *v / (1 - pow(b2, (double)t));
  return p - lr * (mhat / (sqrt(vhat) + eps) + wd * p);
}

static void test_adamw(void **state) {
  const sr_kernels *k = gc_backend(state);
  enum { N = 6 };
  const float p0[N] = {1.0f, -2.0f, 0.5f, 0.0f, 3.0f, -0.25f};
  const float g1[N] = {0.1f, -0.2f, 0.0f, 3.0f, 1e-3f, -5.0f};
  const float g2[N] = {-0.3f, 0.05f, 0.7f, 1.0f, 0.0f, 2.0f};
  sr_adamw opt = {.lr = 0.01f, .beta1 = 0.9f, .beta2 = 0.999f, .eps = 1e-8f,
                  .weight_decay = 0.1f, .step = 1, .grad_scale = 0.5f};
  gc_buf d_p, d_m, d_v, d_g;
  gc_buf_new(&d_p, k, N, 4, p0);
  gc_buf_new(&d_m, k, N, 4, NULL);
  gc_buf_new(&d_v, k, N, 4, NULL);
  gc_buf_new(&d_g, k, N, 4, g1);
  double p[N], m[N] = {0}, v[N] = {0};
  for (int i = 0; i < N; i++) p[i] = p0[i];
  /* Two steps, so the bias correction at t = 2 and non-zero moments are both exercised. */
  for (int t = 1; t <= 2; t++) {
    const float *g = t == 1 ? g1 : g2;
    gc_buf_set(&d_g, g);
    opt.step = t;
    assert_int_equal(k->adamw_update(k, d_p.ptr, d_m.ptr, d_v.ptr, d_g.ptr, N, &opt), SR_OK);
    for (int i = 0; i < N; i++)
      p[i] = adamw_ref(p[i], &m[i], &v[i], (double)g[i] * opt.grad_scale, opt.lr, opt.beta1,
                       opt.beta2, opt.eps, opt.weight_decay, t);
  }
  float pf[N], mf[N], vf[N];
  gc_buf_get(&d_p, pf);
  gc_buf_get(&d_m, mf);
  gc_buf_get(&d_v, vf);
  /* A dozen float operations per element on O(1) values: ~1e-7 relative. The update itself is
   * lr-sized (1e-2), so an error in it would show at 1e-4 or more. */
  gc_assert_close_f("adamw param", pf, p, N, 1e-7, 1e-6);
  gc_assert_close_f("adamw m", mf, m, N, 1e-9, 1e-6);
  gc_assert_close_f("adamw v", vf, v, N, 1e-12, 1e-5);

  /* Decoupled weight decay: with a zero gradient the weight shrinks by exactly (1 - lr*wd)
   * and the moments stay zero (an L2 penalty would have gone through them). */
  const float zero[N] = {0};
  gc_buf_set(&d_p, p0);
  gc_buf_set(&d_m, zero);
  gc_buf_set(&d_v, zero);
  gc_buf_set(&d_g, zero);
  opt.step = 1;
  assert_int_equal(k->adamw_update(k, d_p.ptr, d_m.ptr, d_v.ptr, d_g.ptr, N, &opt), SR_OK);
  gc_buf_get(&d_p, pf);
  gc_buf_get(&d_m, mf);
  gc_buf_get(&d_v, vf);
  double want[N];
  for (int i = 0; i < N; i++) want[i] = p0[i] * (1.0 - 0.01 * 0.1);
  gc_assert_close_f("adamw decay alone", pf, want, N, 1e-9, 1e-7);
  for (int i = 0; i < N; i++) assert_true(mf[i] == 0.0f && vf[i] == 0.0f);

  /* Settings that cannot work are refused. */
  opt.step = 0;
  assert_int_equal(k->adamw_update(k, d_p.ptr, d_m.ptr, d_v.ptr, d_g.ptr, N, &opt), SR_EINVAL);
  assert_non_null(strstr(sr_error_message(), "step >= 1"));
  sr_error_clear();
  gc_buf *bufs[] = {&d_p, &d_m, &d_v, &d_g};
  for (size_t i = 0; i < sizeof bufs / sizeof bufs[0]; i++) gc_buf_free(bufs[i]);
}

static void test_lr_schedule(void **state) {
  (void)state;
  sr_lr_schedule s = {SR_LR_COSINE, 1e-3, 1e-5, 10, 110};
  /* Warm-up: linear from base/warmup at step 1 to base at step warmup. */
  assert_true(fabs(kernel_lr_at(&s, 1) - 1e-4) < 1e-18);
  assert_true(fabs(kernel_lr_at(&s, 5) - 5e-4) < 1e-18);
  assert_true(kernel_lr_at(&s, 10) == 1e-3);
  /* Cosine: half way down at the middle of the decay, min_lr at its end and after. */
  assert_true(fabs(kernel_lr_at(&s, 60) - (1e-5 + 0.5 * (1e-3 - 1e-5))) < 1e-15);
  assert_true(fabs(kernel_lr_at(&s, 35) - (1e-5 + (1e-3 - 1e-5) * 0.5 * (1 + cos(0.25 * 3.14159265358979323846)))) < 1e-15);
  assert_true(fabs(kernel_lr_at(&s, 110) - 1e-5) < 1e-18);
  assert_true(kernel_lr_at(&s, 500) == kernel_lr_at(&s, 110));
  /* Linear: a straight line from base to min. */
  s.kind = SR_LR_LINEAR;
  assert_true(fabs(kernel_lr_at(&s, 60) - (1e-3 - 0.5 * (1e-3 - 1e-5))) < 1e-15);
  assert_true(fabs(kernel_lr_at(&s, 85) - (1e-3 - 0.75 * (1e-3 - 1e-5))) < 1e-15);
  assert_true(fabs(kernel_lr_at(&s, 110) - 1e-5) < 1e-18);
  /* Constant: base after the warm-up, whatever total_steps says. */
  s.kind = SR_LR_CONSTANT;
  assert_true(kernel_lr_at(&s, 11) == 1e-3);
  assert_true(kernel_lr_at(&s, 1000000) == 1e-3);
  /* No warm-up: the first step already runs at base. */
  s.warmup_steps = 0;
  assert_true(kernel_lr_at(&s, 1) == 1e-3);
  s.kind = SR_LR_COSINE;
  assert_true(kernel_lr_at(&s, 0) == kernel_lr_at(&s, 1)); /* step 0 reads as the first */
  assert_true(kernel_lr_at(&s, 1) < 1e-3 && kernel_lr_at(&s, 1) > 0.999e-3);

  sr_lr_kind kind;
  assert_int_equal(kernel_lr_kind_parse("linear", &kind), SR_OK);
  assert_int_equal(kind, SR_LR_LINEAR);
  assert_int_equal(kernel_lr_kind_parse("cosine", &kind), SR_OK);
  assert_int_equal(kind, SR_LR_COSINE);
  assert_int_equal(kernel_lr_kind_parse("step", &kind), SR_EINVAL);
  assert_non_null(strstr(sr_error_message(), "constant, cosine or linear"));
  sr_error_clear();
}

int main(void) {
  const struct CMUnitTest cpu[] = {
      cmocka_unit_test(test_global_norm), cmocka_unit_test(test_global_norm_thread_count),
      cmocka_unit_test(test_adamw), cmocka_unit_test(test_clip_scale),
      cmocka_unit_test(test_lr_schedule)};
  const struct CMUnitTest cuda[] = {cmocka_unit_test(test_global_norm),
                                    cmocka_unit_test(test_adamw)};
  int failed = cmocka_run_group_tests_name("optimizer on cpu", cpu, gc_setup_cpu, gc_teardown);
  failed += cmocka_run_group_tests_name("optimizer on cuda", cuda, gc_setup_cuda, gc_teardown);
  return failed;
}
