/* Helpers for the kernel tests: seeded random shapes and tensors, tensors on any backend with
 * guard values on both sides, central finite differences in double, tolerance checks.
 * Test code only; failures go through cmocka's assertions. */
#ifndef SR_GRADCHECK_H
#define SR_GRADCHECK_H

#include <stddef.h>
#include <stdint.h>

#include "core/rng.h"
#include "kernels/kernels.h"

/* ---- random inputs ---- */
int gc_rand_int(sr_rng *r, int lo, int hi); /* uniform in [lo, hi] */
void gc_fill_uniform(sr_rng *r, float *x, int64_t n, float lo, float hi);
void gc_to_double(double *out, const float *x, int64_t n);

/* ---- a tensor on a backend, with GC_GUARD elements of a sentinel pattern on each side ---- */
#define GC_GUARD 16

typedef struct {
  const sr_kernels *k;
  unsigned char *base; /* backend memory, guards included */
  void *ptr;           /* the tensor itself */
  size_t elem;         /* bytes per element */
  int64_t n;
} gc_buf;

/* A tensor of n elements initialised from `init` (host; NULL: zeros). */
void gc_buf_new(gc_buf *b, const sr_kernels *k, int64_t n, size_t elem, const void *init);
/* Copies the tensor to `host` (n elements) and fails the test if a guard value changed. */
void gc_buf_get(const gc_buf *b, void *host);
/* Overwrites the tensor from host (guards kept). */
void gc_buf_set(gc_buf *b, const void *host);
void gc_buf_free(gc_buf *b);

/* ---- finite differences ---- */
/* A double-precision loss of whatever inputs `ctx` holds. */
typedef double (*gc_loss_fn)(void *ctx);
/* grad[i] = (f(x + h e_i) - f(x - h e_i)) / 2h for i < n, x restored afterwards. */
void gc_numeric_grad(gc_loss_fn f, void *ctx, double *x, int64_t n, double h, double *grad);

/* Fails the test unless |got_i - want_i| <= atol + rtol * |want_i| for every i (NaN fails);
 * prints the worst element first. */
void gc_assert_close(const char *what, const double *got, const double *want, int64_t n,
                     double atol, double rtol);
/* The same for a float result (converted to double). */
void gc_assert_close_f(const char *what, const float *got, const double *want, int64_t n,
                       double atol, double rtol);
/* Fails unless the two float arrays are the same bits. */
void gc_assert_same_bits(const char *what, const float *a, const float *b, int64_t n);

/* sum_i a_i * b_i in double: the "loss = sum(out * weights)" that turns an output into a
 * scalar whose gradient with respect to out is `weights`. */
double gc_dot(const double *a, const double *b, int64_t n);

/* ---- backends ---- */
/* cmocka group setups: *state becomes the backend's table, or NULL when this build or machine
 * lacks it (each test then skips). */
int gc_setup_cpu(void **state);
int gc_setup_cuda(void **state);
int gc_teardown(void **state);
/* The backend of a test, or a cmocka skip when there is none. */
const sr_kernels *gc_backend(void **state);

#endif
