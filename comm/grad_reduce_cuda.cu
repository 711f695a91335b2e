// The GPU half of the gradient reducer (see grad_reduce_device.h): its own stream, pinned
// staging, NCCL where the build has it. Not for MPI or for the mode decision (grad_reduce.c).
#include <cuda_runtime.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#ifndef SEQREC_HAVE_NCCL
#define SEQREC_HAVE_NCCL 0 // CMake defines it to 1 where it found nccl.h and libnccl
#endif
#if SEQREC_HAVE_NCCL
#include <nccl.h>
#if NCCL_VERSION_CODE < NCCL_VERSION(2, 14, 0)
#error "seqrec needs NCCL 2.14 or later (non-blocking communicators)"
#endif
#endif

extern "C" {
#include "comm/grad_reduce_device.h"
#include "core/log.h"
#include "core/timer.h"
}

struct sr_grad_reduce_device {
  int gpu;
  cudaStream_t stream; // the reducer's own: the kernels' stream is the backend's business
  float *pinned;       // [pinned_n] staging buffer (page-locked, so the copies run at full speed)
  size_t pinned_n;
#if SEQREC_HAVE_NCCL
  ncclComm_t nccl;     // NULL until nccl_open
#endif
};

// Like MPI_CHECK (comm.h): the call, where, and on which rank, as a status; never exits.
static sr_status cuda_check(cudaError_t rc, const char *expr, const char *file, int line) {
  if (rc == cudaSuccess) return SR_OK;
  return sr_error(SR_EINTERNAL, "CUDA call failed on rank %d: %s at %s:%d: %s", sr_log_rank(),
                  expr, file, line, cudaGetErrorString(rc));
}
#define CUDA_CHECK(call) cuda_check((call), #call, __FILE__, __LINE__)

#if SEQREC_HAVE_NCCL
static_assert(sizeof(ncclUniqueId) == SR_NCCL_ID_BYTES, "SR_NCCL_ID_BYTES is not NCCL's size");

static sr_status nccl_check(ncclResult_t rc, const char *expr, const char *file, int line) {
  if (rc == ncclSuccess) return SR_OK;
  return sr_error(SR_EINTERNAL, "NCCL call failed on rank %d: %s at %s:%d: %s (%s)",
                  sr_log_rank(), expr, file, line, ncclGetErrorString(rc),
                  ncclGetLastError(NULL));
}
#define NCCL_CHECK(call) nccl_check((call), #call, __FILE__, __LINE__)

/* The communicator is non-blocking: a rank whose peer failed or died before or inside a
 * collective call (set-up included) gives up after this long instead of waiting for ever. */
#define NCCL_TIMEOUT_DEFAULT_S 300.0

static double nccl_timeout_s(void) {
  const char *env = getenv("SEQREC_NCCL_TIMEOUT");
  const double v = env ? atof(env) : 0.0;
  return v > 0.0 ? v : NCCL_TIMEOUT_DEFAULT_S;
}

/* Waits while an operation on d->nccl is in progress (rc is what the call returned); on a
 * timeout or an error the communicator is aborted (its peers then fail too, not hang). */
static sr_status nccl_wait(sr_grad_reduce_device *d, ncclResult_t rc, const char *what) {
  const double start = sr_time_now(), limit = nccl_timeout_s();
  const struct timespec pause = {0, 200 * 1000}; /* 0.2 ms: a step's all-reduce is ~1 ms */
  while (rc == ncclInProgress) {
    if (sr_time_now() - start > limit) {
      (void)ncclCommAbort(d->nccl);
      d->nccl = NULL;
      return sr_error(SR_EINTERNAL, "NCCL %s on rank %d did not finish within %.0f s (a peer "
                      "failed or stopped?); SEQREC_NCCL_TIMEOUT sets the limit", what,
                      sr_log_rank(), limit);
    }
    nanosleep(&pause, NULL);
    if (ncclCommGetAsyncError(d->nccl, &rc) != ncclSuccess) break;
  }
  if (rc == ncclSuccess) return SR_OK;
  const sr_status st = sr_error(SR_EINTERNAL, "NCCL %s failed on rank %d: %s (%s)", what,
                                sr_log_rank(), ncclGetErrorString(rc), ncclGetLastError(NULL));
  (void)ncclCommAbort(d->nccl);
  d->nccl = NULL;
  return st;
}
#else
static sr_status no_nccl(void) {
  return sr_error(SR_ENOTBUILT, "the gradient all-reduce needs NCCL, but seqrec was built "
                  "without NCCL");
}
#endif

extern "C" int sr_grad_reduce_nccl_built(void) { return SEQREC_HAVE_NCCL; }

extern "C" sr_status sr_grad_reduce_device_id(int gpu, int64_t *id) {
  int domain = 0, bus = 0, device = 0;
  TRY(CUDA_CHECK(cudaDeviceGetAttribute(&domain, cudaDevAttrPciDomainId, gpu)));
  TRY(CUDA_CHECK(cudaDeviceGetAttribute(&bus, cudaDevAttrPciBusId, gpu)));
  TRY(CUDA_CHECK(cudaDeviceGetAttribute(&device, cudaDevAttrPciDeviceId, gpu)));
  *id = (int64_t)domain << 16 | (int64_t)bus << 8 | (int64_t)device;
  return SR_OK;
}

extern "C" sr_status sr_grad_reduce_device_open(int gpu, sr_grad_reduce_device **out) {
  sr_grad_reduce_device *d = (sr_grad_reduce_device *)calloc(1, sizeof *d);
  if (!d) return sr_error(SR_ENOMEM, "gradient reducer: out of memory");
  d->gpu = gpu;
  sr_status st = CUDA_CHECK(cudaSetDevice(gpu));
  if (st == SR_OK) st = CUDA_CHECK(cudaStreamCreateWithFlags(&d->stream, cudaStreamNonBlocking));
  if (st != SR_OK) {
    sr_grad_reduce_device_close(d);
    return st;
  }
  *out = d;
  return SR_OK;
}

extern "C" sr_status sr_grad_reduce_nccl_id(unsigned char id[SR_NCCL_ID_BYTES]) {
#if SEQREC_HAVE_NCCL
  ncclUniqueId uid;
  TRY(NCCL_CHECK(ncclGetUniqueId(&uid)));
  memcpy(id, &uid, sizeof uid);
  return SR_OK;
#else
  (void)id;
  return no_nccl();
#endif
}

extern "C" sr_status sr_grad_reduce_nccl_open(sr_grad_reduce_device *d, const unsigned char *id,
                                              int rank, int size) {
#if SEQREC_HAVE_NCCL
  ncclUniqueId uid;
  memcpy(&uid, id, sizeof uid);
  TRY(CUDA_CHECK(cudaSetDevice(d->gpu))); // NCCL binds the communicator to the current GPU
  ncclConfig_t config = NCCL_CONFIG_INITIALIZER;
  config.blocking = 0;
  const ncclResult_t rc = ncclCommInitRankConfig(&d->nccl, size, uid, rank, &config);
  if (rc != ncclSuccess && rc != ncclInProgress) {
    const sr_status st = NCCL_CHECK(rc);
    if (d->nccl) (void)ncclCommAbort(d->nccl);
    d->nccl = NULL;
    return st;
  }
  return nccl_wait(d, rc, "set-up (ncclCommInitRankConfig)");
#else
  (void)d, (void)id, (void)rank, (void)size;
  return no_nccl();
#endif
}

extern "C" sr_status sr_grad_reduce_nccl_sum(sr_grad_reduce_device *d, float *buf, size_t n) {
#if SEQREC_HAVE_NCCL
  if (!d->nccl) return sr_error(SR_EINTERNAL, "NCCL all-reduce after a failed one");
  TRY(nccl_wait(d, ncclAllReduce(buf, buf, n, ncclFloat, ncclSum, d->nccl, d->stream),
                "all-reduce"));
  return CUDA_CHECK(cudaStreamSynchronize(d->stream));
#else
  (void)d, (void)buf, (void)n;
  return no_nccl();
#endif
}

extern "C" sr_status sr_grad_reduce_stage_down(sr_grad_reduce_device *d, const float *buf,
                                               size_t n, float **host) {
  if (n > d->pinned_n) {
    if (d->pinned) (void)cudaFreeHost(d->pinned);
    d->pinned = NULL;
    d->pinned_n = 0;
    TRY(CUDA_CHECK(cudaMallocHost((void **)&d->pinned, n * sizeof *buf)));
    d->pinned_n = n;
  }
  TRY(CUDA_CHECK(cudaMemcpyAsync(d->pinned, buf, n * sizeof *buf, cudaMemcpyDeviceToHost,
                                 d->stream)));
  TRY(CUDA_CHECK(cudaStreamSynchronize(d->stream)));
  *host = d->pinned;
  return SR_OK;
}

extern "C" sr_status sr_grad_reduce_stage_up(sr_grad_reduce_device *d, float *buf, size_t n) {
  TRY(CUDA_CHECK(cudaMemcpyAsync(buf, d->pinned, n * sizeof *buf, cudaMemcpyHostToDevice,
                                 d->stream)));
  return CUDA_CHECK(cudaStreamSynchronize(d->stream));
}

extern "C" void sr_grad_reduce_device_close(sr_grad_reduce_device *d) {
  if (!d) return;
#if SEQREC_HAVE_NCCL
  /* finalize (collective, non-blocking here), then free; abort when a peer is gone */
  if (d->nccl && nccl_wait(d, ncclCommFinalize(d->nccl), "finalize") != SR_OK) sr_error_clear();
  if (d->nccl) (void)ncclCommDestroy(d->nccl);
#endif
  if (d->stream) (void)cudaStreamDestroy(d->stream);
  if (d->pinned) (void)cudaFreeHost(d->pinned);
  free(d);
}
