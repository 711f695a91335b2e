/* Test helpers shared by the kernel suites; see gradcheck.h. */
#include "gradcheck.h"

#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core/status.h"

#define GC_SENTINEL 0xA5

int gc_rand_int(sr_rng *r, int lo, int hi) {
  return lo + (int)sr_rng_below(r, (uint32_t)(hi - lo + 1));
}

void gc_fill_uniform(sr_rng *r, float *x, int64_t n, float lo, float hi) {
  for (int64_t i = 0; i < n; i++) x[i] = lo + (hi - lo) * sr_rng_uniform(r);
}

void gc_to_double(double *out, const float *x, int64_t n) {
  for (int64_t i = 0; i < n; i++) out[i] = x[i];
}

static size_t buf_bytes(const gc_buf *b) { return ((size_t)b->n + 2 * GC_GUARD) * b->elem; }

void gc_buf_new(gc_buf *b, const sr_kernels *k, int64_t n, size_t elem, const void *init) {
  b->k = k;
  b->n = n;
  b->elem = elem;
  size_t bytes = buf_bytes(b);
  unsigned char *host = malloc(bytes);
  assert_non_null(host);
  memset(host, GC_SENTINEL, bytes);
  if (init)
    memcpy(host + GC_GUARD * elem, init, (size_t)n * elem);
  else
    memset(host + GC_GUARD * elem, 0, (size_t)n * elem);
  assert_int_equal(k->alloc(k, &b->base, bytes, "test tensor"), SR_OK);
  assert_int_equal(k->upload(k, b->base, host, bytes), SR_OK);
  b->ptr = b->base + GC_GUARD * elem;
  free(host);
}

void gc_buf_get(const gc_buf *b, void *out) {
  size_t bytes = buf_bytes(b);
  unsigned char *host = malloc(bytes);
  assert_non_null(host);
  assert_int_equal(b->k->download(b->k, host, b->base, bytes), SR_OK);
  size_t guard = GC_GUARD * b->elem, tail = guard + (size_t)b->n * b->elem;
  for (size_t i = 0; i < guard; i++) {
    if (host[i] != GC_SENTINEL || host[tail + i] != GC_SENTINEL) {
      print_error("guard byte %zu %s a tensor of %lld elements was overwritten\n",
                  host[i] != GC_SENTINEL ? guard - i : i + 1,
                  host[i] != GC_SENTINEL ? "before" : "after", (long long)b->n);
      free(host);
      fail();
    }
  }
  memcpy(out, host + guard, (size_t)b->n * b->elem);
  free(host);
}

void gc_buf_set(gc_buf *b, const void *host) {
  assert_int_equal(b->k->upload(b->k, b->ptr, host, (size_t)b->n * b->elem), SR_OK);
}

void gc_buf_free(gc_buf *b) {
  if (b->base) b->k->free(b->k, b->base);
  b->base = NULL;
  b->ptr = NULL;
}

void gc_numeric_grad(gc_loss_fn f, void *ctx, double *x, int64_t n, double h, double *grad) {
  for (int64_t i = 0; i < n; i++) {
    double keep = x[i];
    x[i] = keep + h;
    double up = f(ctx);
    x[i] = keep - h;
    double down = f(ctx);
    x[i] = keep;
    grad[i] = (up - down) / (2.0 * h);
  }
}

void gc_assert_close(const char *what, const double *got, const double *want, int64_t n,
                     double atol, double rtol) {
  int64_t worst = -1, bad = 0;
  double worst_excess = 0.0;
  for (int64_t i = 0; i < n; i++) {
    double err = fabs(got[i] - want[i]), allowed = atol + rtol * fabs(want[i]);
    if (!(err <= allowed)) { /* also catches NaN */
      bad++;
      double excess = isnan(err) ? INFINITY : err / allowed;
      if (worst < 0 || excess > worst_excess) {
        worst = i;
        worst_excess = excess;
      }
    }
  }
  if (bad) {
    print_error("%s: %lld of %lld elements outside atol=%g rtol=%g; worst [%lld]: got %.9g, "
                "want %.9g\n", what, (long long)bad, (long long)n, atol, rtol, (long long)worst,
                got[worst], want[worst]);
    fail();
  }
}

void gc_assert_close_f(const char *what, const float *got, const double *want, int64_t n,
                       double atol, double rtol) {
  double *g = malloc((size_t)(n > 0 ? n : 1) * sizeof *g);
  assert_non_null(g);
  gc_to_double(g, got, n);
  int64_t worst = -1;
  for (int64_t i = 0; i < n; i++)
    if (!(fabs(g[i] - want[i]) <= atol + rtol * fabs(want[i]))) {
      worst = i;
      break;
    }
  if (worst >= 0) {
    gc_assert_close(what, g, want, n, atol, rtol); /* reports, then fails */
  }
  free(g);
}

void gc_assert_same_bits(const char *what, const float *a, const float *b, int64_t n) {
  for (int64_t i = 0; i < n; i++)
    if (memcmp(&a[i], &b[i], sizeof a[i]) != 0) {
      print_error("%s: element %lld differs: %.9g vs %.9g\n", what, (long long)i, a[i], b[i]);
      fail();
    }
}

double gc_dot(const double *a, const double *b, int64_t n) {
  double s = 0.0;
  for (int64_t i = 0; i < n; i++) s += a[i] * b[i];
  return s;
}

static sr_kernels gc_cpu, gc_cuda;

int gc_setup_cpu(void **state) {
  if (kernels_cpu_init(&gc_cpu, 0) != SR_OK) return -1;
  *state = &gc_cpu;
  return 0;
}

int gc_setup_cuda(void **state) {
  *state = NULL;
  if (kernels_cuda_init(&gc_cuda, 0) == SR_OK)
    *state = &gc_cuda;
  else
    sr_error_clear(); /* no CUDA here: the tests of this group skip */
  return 0;
}

int gc_teardown(void **state) {
  if (*state) kernels_close(*state);
  return 0;
}

const sr_kernels *gc_backend(void **state) {
  const sr_kernels *k = *state;
  if (!k) skip();
  return k;
}
