/* comm/grad_reduce under 1, 2 and 3 ranks: the host path sums exactly and gives the very bits of
 * sr_comm_allreduce_sum_f32; the mode decision over made-up layouts of nodes and GPUs; on a GPU,
 * NCCL and host staging sum exactly (skipped where no GPU is visible, never passed). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "comm/comm.h"
#include "comm/device.h"
#include "comm/grad_reduce.h"
#include "comm/grad_reduce_device.h"
#include "core/rng.h"

#if SEQREC_HAVE_CUDA
#include <cuda_runtime_api.h>
#endif

static sr_comm comm;

enum { N = 100003 }; /* odd, so no path gets a multiple of a vector width for free */

/* Small integers: every sum over ranks is exact in float, whatever the order. */
static void exact_fill(float *x, size_t n) {
  for (size_t i = 0; i < n; i++) x[i] = (float)((comm.rank + 1) * (int)(i % 1000));
}

static int exact_wrong(const float *x, size_t n) {
  const int ranks_sum = comm.size * (comm.size + 1) / 2;
  int wrong = 0;
  for (size_t i = 0; i < n; i++) wrong += x[i] != (float)(ranks_sum * (int)(i % 1000));
  return wrong;
}

/* Values whose float sum depends on the order of the additions. */
static void random_fill(float *x, size_t n) {
  sr_rng rng;
  sr_rng_init(&rng, 42, (uint64_t)comm.rank);
  for (size_t i = 0; i < n; i++) x[i] = (float)(sr_rng_uniform_f64(&rng) * 2.0 - 1.0) / 3.0f;
}

static void test_host_sums_exactly(void **state) {
  (void)state;
  float *x = malloc(N * sizeof *x);
  exact_fill(x, N);
  sr_grad_reduce r;
  assert_int_equal(sr_grad_reduce_init(&r, &comm, -1), SR_OK);
  assert_int_equal(r.mode, comm.size == 1 ? SR_GRAD_REDUCE_NONE : SR_GRAD_REDUCE_MPI);
  assert_int_equal(sr_grad_reduce_sum_f32(&r, x, N), SR_OK);
  assert_int_equal(exact_wrong(x, N), 0);
  sr_grad_reduce_close(&r);
  free(x);
}

/* On the CPU the reducer is today's all-reduce, bit for bit (the trainer's results must not
 * move). */
static void test_host_is_comm_allreduce(void **state) {
  (void)state;
  float *a = malloc(N * sizeof *a), *b = malloc(N * sizeof *b);
  random_fill(a, N);
  memcpy(b, a, N * sizeof *a);
  sr_grad_reduce r;
  assert_int_equal(sr_grad_reduce_init(&r, &comm, -1), SR_OK);
  assert_int_equal(sr_grad_reduce_sum_f32(&r, a, N), SR_OK);
  assert_int_equal(sr_comm_allreduce_sum_f32(&comm, b, N), SR_OK);
  assert_memory_equal(a, b, N * sizeof *a);
  sr_grad_reduce_close(&r);
  free(a);
  free(b);
}

static void test_unset_and_bad_modes(void **state) {
  (void)state;
  sr_grad_reduce r;
  memset(&r, 0, sizeof r);
  float x = 1.0f;
  sr_error_clear();
  assert_int_equal(sr_grad_reduce_sum_f32(&r, &x, 1), SR_EINTERNAL);
  sr_error_clear();
  assert_int_equal(sr_grad_reduce_init_mode(&r, &comm, 0, SR_GRAD_REDUCE_MPI), SR_EINVAL);
  sr_error_clear();
  assert_int_equal(sr_grad_reduce_init_mode(&r, &comm, -1, SR_GRAD_REDUCE_NCCL), SR_EINVAL);
  sr_error_clear();
  assert_int_equal(sr_grad_reduce_init_mode(&r, &comm, -1, SR_GRAD_REDUCE_STAGED), SR_EINVAL);
  sr_error_clear();
  assert_int_equal(sr_grad_reduce_init_mode(&r, &comm, -1, SR_GRAD_REDUCE_NONE),
                   comm.size == 1 ? SR_OK : SR_EINVAL);
  sr_error_clear();
  sr_grad_reduce_close(&r);
  sr_grad_reduce_close(&r); /* twice is safe */
}

/* Asking for a GPU where none is visible fails on every rank, naming the call (CUDA build) or
 * what the build lacks, and leaves the reducer closed. Runs where the GPU tests skip. */
static void test_missing_gpu_fails_together(void **state) {
  (void)state;
  if (sr_device_count() > 0 || comm.size == 1) skip(); /* one rank never touches the GPU */
  sr_grad_reduce r;
  sr_error_clear();
  const sr_status st = sr_grad_reduce_init(&r, &comm, 0);
  assert_int_equal(st, sr_device_cuda_built() ? SR_EINTERNAL : SR_ENOTBUILT);
  const char *msg = sr_error_message();
  assert_non_null(strstr(msg, sr_device_cuda_built() ? "cudaDeviceGetAttribute" : "without CUDA"));
  if (sr_device_cuda_built()) assert_non_null(strstr(msg, "on rank"));
  assert_null(r.dev);
  sr_error_clear();
}

/* ---- the decision, over layouts no test machine has --------------------------------------- */

#define GPU_A 0x3b00 /* PCI 0000:3b:00 */
#define GPU_B 0x5e00 /* PCI 0000:5e:00 */

typedef struct {
  const char *what;
  int size;
  sr_grad_reduce_place place[4];
  sr_grad_reduce_mode mode[4];
  int shared_gpus, shared_first, shared_ranks, cpu_ranks;
} layout_case;

static const layout_case layouts[] = {
    {"one rank on a GPU", 1, {{0, 0, GPU_A}}, {SR_GRAD_REDUCE_NONE}, 0, -1, 0, 0},
    {"one rank on the CPU", 1, {{0, -1, -1}}, {SR_GRAD_REDUCE_NONE}, 0, -1, 0, 1},
    {"2 ranks, 2 GPUs, one node", 2, {{0, 0, GPU_A}, {0, 1, GPU_B}},
     {SR_GRAD_REDUCE_NCCL, SR_GRAD_REDUCE_NCCL}, 0, -1, 0, 0},
    {"2 ranks, 1 GPU", 2, {{0, 0, GPU_A}, {0, 0, GPU_A}},
     {SR_GRAD_REDUCE_STAGED, SR_GRAD_REDUCE_STAGED}, 1, 0, 2, 0},
    {"4 ranks, 2 nodes of 2 GPUs (same PCI ids on both)", 4,
     {{0, 0, GPU_A}, {0, 1, GPU_B}, {2, 0, GPU_A}, {2, 1, GPU_B}},
     {SR_GRAD_REDUCE_NCCL, SR_GRAD_REDUCE_NCCL, SR_GRAD_REDUCE_NCCL, SR_GRAD_REDUCE_NCCL}, 0, -1,
     0, 0},
    {"3 ranks, 2 GPUs", 3, {{0, 0, GPU_A}, {0, 1, GPU_B}, {0, 0, GPU_A}},
     {SR_GRAD_REDUCE_STAGED, SR_GRAD_REDUCE_STAGED, SR_GRAD_REDUCE_STAGED}, 1, 0, 2, 0},
    {"2 ranks on the CPU", 2, {{0, -1, -1}, {0, -1, -1}},
     {SR_GRAD_REDUCE_MPI, SR_GRAD_REDUCE_MPI}, 0, -1, 0, 2},
    /* CUDA_VISIBLE_DEVICES per rank: both see "GPU 0", but they are two GPUs. */
    {"2 ranks, each sees its own GPU as 0", 2, {{0, 0, GPU_A}, {0, 0, GPU_B}},
     {SR_GRAD_REDUCE_NCCL, SR_GRAD_REDUCE_NCCL}, 0, -1, 0, 0},
    /* ...and one GPU under two indices is still one GPU. */
    {"2 ranks, one GPU under two indices", 2, {{0, 0, GPU_A}, {0, 1, GPU_A}},
     {SR_GRAD_REDUCE_STAGED, SR_GRAD_REDUCE_STAGED}, 1, 0, 2, 0},
    {"a GPU rank and a CPU rank", 2, {{0, 0, GPU_A}, {1, -1, -1}},
     {SR_GRAD_REDUCE_STAGED, SR_GRAD_REDUCE_MPI}, 0, -1, 0, 1},
    {"4 ranks, 2 GPUs shared twice", 4,
     {{0, 0, GPU_A}, {0, 1, GPU_B}, {0, 0, GPU_A}, {0, 1, GPU_B}},
     {SR_GRAD_REDUCE_STAGED, SR_GRAD_REDUCE_STAGED, SR_GRAD_REDUCE_STAGED, SR_GRAD_REDUCE_STAGED},
     2, 0, 2, 0},
};

static void test_decide_layouts(void **state) {
  (void)state;
  for (size_t c = 0; c < sizeof layouts / sizeof layouts[0]; c++) {
    const layout_case *lc = &layouts[c];
    for (int r = 0; r < lc->size; r++) {
      sr_grad_reduce_layout l;
      const sr_grad_reduce_mode got = sr_grad_reduce_decide(lc->place, lc->size, r, &l);
      if (got != lc->mode[r])
        fail_msg("%s, rank %d: %s, expected %s", lc->what, r, sr_grad_reduce_mode_name(got),
                 sr_grad_reduce_mode_name(lc->mode[r]));
      assert_int_equal(l.shared_gpus, lc->shared_gpus);
      assert_int_equal(l.shared_first, lc->shared_first);
      assert_int_equal(l.shared_ranks, lc->shared_ranks);
      assert_int_equal(l.cpu_ranks, lc->cpu_ranks);
    }
  }
}

/* ---- on a real GPU ------------------------------------------------------------------------- */

#if SEQREC_HAVE_CUDA
static int this_gpu(void) { return comm.local_rank % sr_device_count(); }

/* Exact sums through the reducer on GPU memory; zero wrong elements. */
static void gpu_sum_check(sr_grad_reduce *r) {
  float *host = malloc(N * sizeof *host), *dev = NULL;
  exact_fill(host, N);
  assert_int_equal(cudaSetDevice(this_gpu()), cudaSuccess);
  assert_int_equal(cudaMalloc((void **)&dev, N * sizeof *dev), cudaSuccess);
  assert_int_equal(cudaMemcpy(dev, host, N * sizeof *dev, cudaMemcpyHostToDevice), cudaSuccess);
  assert_int_equal(sr_grad_reduce_sum_f32(r, dev, N), SR_OK);
  assert_int_equal(cudaMemcpy(host, dev, N * sizeof *dev, cudaMemcpyDeviceToHost), cudaSuccess);
  assert_int_equal(exact_wrong(host, N), 0);
  cudaFree(dev);
  free(host);
}
#endif

/* What init chooses here: ctest runs every rank on this one node. */
static void test_gpu_chosen_mode(void **state) {
  (void)state;
  if (sr_device_count() == 0) skip();
#if SEQREC_HAVE_CUDA
  const int shared = comm.local_size > sr_device_count();
  const sr_grad_reduce_mode want = comm.size == 1 ? SR_GRAD_REDUCE_NONE
                                   : shared       ? SR_GRAD_REDUCE_STAGED
                                                  : SR_GRAD_REDUCE_NCCL;
  sr_grad_reduce r;
  sr_error_clear();
  const sr_status st = sr_grad_reduce_init(&r, &comm, this_gpu());
  if (want == SR_GRAD_REDUCE_NCCL && !sr_grad_reduce_nccl_built()) {
    assert_int_equal(st, SR_ENOTBUILT);
    sr_error_clear();
    return;
  }
  assert_int_equal(st, SR_OK);
  assert_int_equal(r.mode, want);
  gpu_sum_check(&r);
  sr_grad_reduce_close(&r);
#endif
}

/* NCCL even on one rank, so that a one-GPU machine runs the NCCL calls too. Two ranks on one
 * GPU cannot (NCCL refuses), so that layout skips. */
static void test_gpu_nccl(void **state) {
  (void)state;
  if (sr_device_count() == 0 || comm.local_size > sr_device_count()) skip();
#if SEQREC_HAVE_CUDA
  sr_grad_reduce r;
  sr_error_clear();
  const sr_status st = sr_grad_reduce_init_mode(&r, &comm, this_gpu(), SR_GRAD_REDUCE_NCCL);
  if (!sr_grad_reduce_nccl_built()) {
    assert_int_equal(st, SR_ENOTBUILT);
    sr_error_clear();
    return;
  }
  assert_int_equal(st, SR_OK);
  gpu_sum_check(&r);
  sr_grad_reduce_close(&r);
#endif
}

/* Ranks sharing a GPU: NCCL refuses them ("Duplicate GPU detected"), and every rank gets the
 * error, none waits for ever (the timeout bounds a set-up that would). */
static void test_gpu_nccl_refuses_a_shared_gpu(void **state) {
  (void)state;
  if (sr_device_count() == 0 || comm.local_size <= sr_device_count() ||
      !sr_grad_reduce_nccl_built())
    skip();
#if SEQREC_HAVE_CUDA
  setenv("SEQREC_NCCL_TIMEOUT", "30", 1);
  sr_grad_reduce r;
  sr_error_clear();
  const sr_status st = sr_grad_reduce_init_mode(&r, &comm, this_gpu(), SR_GRAD_REDUCE_NCCL);
  unsetenv("SEQREC_NCCL_TIMEOUT");
  if (st == SR_OK) sr_grad_reduce_close(&r);
  assert_int_not_equal(st, SR_OK);
  sr_error_clear();
#endif
}

/* Staging is the host all-reduce with two copies around it: exact sums, and the bits of
 * sr_comm_allreduce_sum_f32 on values whose sum depends on the order. */
static void test_gpu_staged(void **state) {
  (void)state;
  if (sr_device_count() == 0) skip();
#if SEQREC_HAVE_CUDA
  sr_grad_reduce r;
  assert_int_equal(sr_grad_reduce_init_mode(&r, &comm, this_gpu(), SR_GRAD_REDUCE_STAGED), SR_OK);
  gpu_sum_check(&r);
  float *a = malloc(N * sizeof *a), *b = malloc(N * sizeof *b), *dev = NULL;
  random_fill(a, N);
  memcpy(b, a, N * sizeof *a);
  assert_int_equal(cudaMalloc((void **)&dev, N * sizeof *dev), cudaSuccess);
  assert_int_equal(cudaMemcpy(dev, a, N * sizeof *dev, cudaMemcpyHostToDevice), cudaSuccess);
  assert_int_equal(sr_grad_reduce_sum_f32(&r, dev, N), SR_OK);
  assert_int_equal(cudaMemcpy(a, dev, N * sizeof *dev, cudaMemcpyDeviceToHost), cudaSuccess);
  assert_int_equal(sr_comm_allreduce_sum_f32(&comm, b, N), SR_OK);
  assert_memory_equal(a, b, N * sizeof *a);
  cudaFree(dev);
  free(a);
  free(b);
  sr_grad_reduce_close(&r);
#endif
}

int main(int argc, char **argv) {
  if (sr_comm_init(&comm, &argc, &argv) != SR_OK) return 2;
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_host_sums_exactly),
      cmocka_unit_test(test_host_is_comm_allreduce),
      cmocka_unit_test(test_unset_and_bad_modes),
      cmocka_unit_test(test_missing_gpu_fails_together),
      cmocka_unit_test(test_decide_layouts),
      cmocka_unit_test(test_gpu_chosen_mode),
      cmocka_unit_test(test_gpu_nccl),
      cmocka_unit_test(test_gpu_nccl_refuses_a_shared_gpu),
      cmocka_unit_test(test_gpu_staged),
  };
  int failed = cmocka_run_group_tests(tests, NULL, NULL);
  int64_t any = failed;
  sr_comm_allreduce_sum_i64(&comm, &any, 1);
  sr_comm_finalize(&comm);
  return any != 0;
}
