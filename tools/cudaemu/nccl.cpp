/* Host emulation of the NCCL subset seqrec uses (include/nccl.h), over MPI: a communicator is a
 * duplicate of MPI_COMM_WORLD, an all-reduce is queued on its stream like any GPU work (so a
 * result read before the stream was waited for is stale, as on a GPU) and, when it runs, is an
 * MPI reduce to rank 0 and a broadcast, so every rank gets the same bits, as with NCCL's ring.
 *
 * What it checks that NCCL also refuses: ranks on the same GPU of a node, ranks that pass
 * different ids, host pointers, and (an emulator check) a communicator destroyed while an
 * all-reduce of it is still queued. Non-blocking communicators (config.blocking = 0) answer
 * ncclInProgress once for every call, so the caller's polling runs.
 *
 * The queued MPI call runs when the host waits for the stream: ranks must wait for it at the
 * same point of their program (seqrec waits right after the call), or one rank sits in this
 * reduce while another sits in an MPI call of its own, which a GPU would not. */
#define OMPI_SKIP_MPICXX 1 /* the C API only: no C++ bindings to link */
#define MPICH_SKIP_MPICXX 1
#include <mpi.h>

#include <cstdarg>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <unistd.h>

#include "emu_internal.h"
#include "nccl.h"

struct emu_nccl_comm {
  MPI_Comm mpi;
  int rank, nranks, device;
  int pending;  /* calls left answering ncclInProgress (non-blocking communicators) */
  int blocking;
  int queued;   /* all-reduces issued but not yet run */
  bool finalized, aborted;
};

static char last_error[512];

static ncclResult_t nccl_fail(ncclResult_t r, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(last_error, sizeof last_error, fmt, ap);
  va_end(ap);
  return r;
}

[[noreturn]] static void nccl_abort(const char *what) {
  fprintf(stderr, "EMU ERROR: %s\n", what);
  fflush(stderr);
  abort();
}

/* What a call returns on success: ncclInProgress once on a non-blocking communicator. */
static ncclResult_t nccl_done(emu_nccl_comm *c) {
  if (c->blocking) return ncclSuccess;
  c->pending = 1;
  return ncclInProgress;
}

static unsigned long long fnv1a(const void *p, size_t n) {
  unsigned long long h = 1469598103934665603ull;
  for (size_t i = 0; i < n; i++) h = (h ^ ((const unsigned char *)p)[i]) * 1099511628211ull;
  return h;
}

const char *ncclGetErrorString(ncclResult_t r) {
  switch (r) {
  case ncclSuccess: return "no error";
  case ncclUnhandledCudaError: return "unhandled cuda error";
  case ncclSystemError: return "unhandled system error";
  case ncclInternalError: return "internal error";
  case ncclInvalidArgument: return "invalid argument";
  case ncclInvalidUsage: return "invalid usage";
  case ncclRemoteError: return "remote process exited or there was a network error";
  case ncclInProgress: return "NCCL operation in progress";
  }
  return "unknown result code";
}

const char *ncclGetLastError(ncclComm_t) { return last_error; }

ncclResult_t ncclGetUniqueId(ncclUniqueId *id) {
  memset(id, 0, sizeof *id);
  snprintf(id->internal, sizeof id->internal, "emu-nccl %ld %ld", (long)getpid(),
           (long)time(nullptr));
  return ncclSuccess;
}

ncclResult_t ncclCommInitRankConfig(ncclComm_t *comm, int nranks, ncclUniqueId id, int rank,
                                    ncclConfig_t *config) {
  *comm = nullptr;
  int up = 0, size = 0, me = 0;
  MPI_Initialized(&up);
  if (!up) return nccl_fail(ncclInvalidUsage, "emulated NCCL: MPI is not initialised");
  MPI_Comm_size(MPI_COMM_WORLD, &size);
  MPI_Comm_rank(MPI_COMM_WORLD, &me);
  if (nranks != size || rank != me)
    return nccl_fail(ncclInvalidUsage, "emulated NCCL: rank %d of %d, but MPI_COMM_WORLD has "
                     "rank %d of %d (only world communicators are emulated)", rank, nranks, me,
                     size);
  /* Every rank's id and (node, GPU), to refuse what NCCL refuses; the same verdict on all. */
  char node[MPI_MAX_PROCESSOR_NAME] = {0};
  int len = 0;
  MPI_Get_processor_name(node, &len);
  const unsigned long long mine[3] = {fnv1a(&id, sizeof id), fnv1a(node, (size_t)len),
                                      (unsigned long long)emu_current_device()};
  unsigned long long *all = new unsigned long long[3 * (size_t)size];
  MPI_Allgather(mine, 3, MPI_UNSIGNED_LONG_LONG, all, 3, MPI_UNSIGNED_LONG_LONG, MPI_COMM_WORLD);
  ncclResult_t bad = ncclSuccess;
  for (int a = 0; a < size && bad == ncclSuccess; a++) {
    if (all[3 * a] != all[0])
      bad = nccl_fail(ncclInvalidUsage, "emulated NCCL: ranks 0 and %d passed different ids", a);
    for (int b = a + 1; b < size && bad == ncclSuccess; b++)
      if (all[3 * a + 1] == all[3 * b + 1] && all[3 * a + 2] == all[3 * b + 2])
        bad = nccl_fail(ncclInvalidUsage, "Duplicate GPU detected: rank %d and rank %d both on "
                        "CUDA device %llu", a, b, all[3 * a + 2]);
  }
  delete[] all;
  if (bad != ncclSuccess) return bad;
  emu_nccl_comm *c = new emu_nccl_comm{};
  MPI_Comm_dup(MPI_COMM_WORLD, &c->mpi);
  c->rank = rank, c->nranks = nranks, c->device = emu_current_device();
  c->blocking = !config || config->blocking;
  *comm = c;
  return nccl_done(c);
}

ncclResult_t ncclCommGetAsyncError(ncclComm_t comm, ncclResult_t *state) {
  if (!comm) return nccl_fail(ncclInvalidArgument, "ncclCommGetAsyncError: no communicator");
  *state = comm->pending > 0 ? ncclInProgress : ncclSuccess;
  if (comm->pending > 0) comm->pending--;
  return ncclSuccess;
}

ncclResult_t ncclAllReduce(const void *send, void *recv, size_t count, ncclDataType_t type,
                           ncclRedOp_t op, ncclComm_t comm, cudaStream_t stream) {
  if (!comm) return nccl_fail(ncclInvalidArgument, "ncclAllReduce: no communicator");
  if (comm->finalized) return nccl_fail(ncclInvalidUsage, "ncclAllReduce after ncclCommFinalize");
  if (type != ncclFloat || op != ncclSum)
    return nccl_fail(ncclInvalidArgument, "emulated NCCL: only a float sum (type %d, op %d)",
                     (int)type, (int)op);
  const size_t bytes = count * sizeof(float);
  if (count && (!emu_device_range(send, bytes, "ncclAllReduce send buffer") ||
                !emu_device_range(recv, bytes, "ncclAllReduce receive buffer")))
    return nccl_fail(ncclInvalidArgument, "ncclAllReduce: a buffer in host memory (%p, %p)",
                     send, recv);
  if (emu_current_device() != comm->device)
    return nccl_fail(ncclInvalidUsage, "ncclAllReduce on device %d for a communicator of "
                     "device %d", emu_current_device(), comm->device);
  comm->queued++;
  emu_issue(stream, "ncclAllReduce", [=] {
    comm->queued--;
    if (comm->aborted) { /* dropped, as NCCL drops an aborted communicator's work */
      if (comm->queued == 0) delete comm;
      return;
    }
    float *buf = (float *)recv;
    if (send != recv) memmove(buf, send, bytes);
    const size_t chunk = (size_t)1 << 28;
    for (size_t at = 0; at < count; at += chunk) {
      const int n = (int)(count - at < chunk ? count - at : chunk);
      if (comm->rank == 0)
        MPI_Reduce(MPI_IN_PLACE, buf + at, n, MPI_FLOAT, MPI_SUM, 0, comm->mpi);
      else
        MPI_Reduce(buf + at, nullptr, n, MPI_FLOAT, MPI_SUM, 0, comm->mpi);
      MPI_Bcast(buf + at, n, MPI_FLOAT, 0, comm->mpi);
    }
  });
  return nccl_done(comm);
}

ncclResult_t ncclCommFinalize(ncclComm_t comm) {
  if (!comm) return nccl_fail(ncclInvalidArgument, "ncclCommFinalize: no communicator");
  comm->finalized = true;
  return nccl_done(comm);
}

ncclResult_t ncclCommDestroy(ncclComm_t comm) {
  if (!comm) return nccl_fail(ncclInvalidArgument, "ncclCommDestroy: no communicator");
  if (comm->queued) /* it would run on a freed communicator */
    nccl_abort("ncclCommDestroy with an all-reduce still queued on its stream (the stream was "
               "never waited for)");
  MPI_Comm_free(&comm->mpi);
  delete comm;
  return ncclSuccess;
}

/* Without the collective MPI_Comm_free (the peers may be gone); queued work is dropped when
 * its stream is waited for, and the last of it frees the communicator. */
ncclResult_t ncclCommAbort(ncclComm_t comm) {
  if (!comm) return ncclSuccess;
  comm->aborted = true;
  if (comm->queued == 0) delete comm;
  return ncclSuccess;
}
