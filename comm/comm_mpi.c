/* MPI start-up and host-buffer collectives; see comm.h. */
#include "comm/comm.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>

#include "core/log.h"

sr_status sr_mpi_check(int rc, const char *expr, const char *file, int line) {
  if (rc == MPI_SUCCESS) return SR_OK;
  char text[MPI_MAX_ERROR_STRING];
  int len = 0;
  MPI_Error_string(rc, text, &len);
  return sr_error(SR_EINTERNAL, "MPI call failed on rank %d: %s at %s:%d: %s", sr_log_rank(), expr,
                  file, line, text);
}

sr_status sr_comm_init(sr_comm *c, int *argc, char ***argv) {
  int started = 0;
  c->initialized_mpi = 0;
  TRY(MPI_CHECK(MPI_Initialized(&started)));
  if (!started) {
    TRY(MPI_CHECK(MPI_Init(argc, argv)));
    c->initialized_mpi = 1;
  }
  TRY(MPI_CHECK(MPI_Comm_dup(MPI_COMM_WORLD, &c->mpi)));
  /* Errors come back as codes so that they carry our message, not MPI's default abort. */
  TRY(MPI_CHECK(MPI_Comm_set_errhandler(c->mpi, MPI_ERRORS_RETURN)));
  TRY(MPI_CHECK(MPI_Comm_rank(c->mpi, &c->rank)));
  TRY(MPI_CHECK(MPI_Comm_size(c->mpi, &c->size)));
  MPI_Comm node;
  TRY(MPI_CHECK(MPI_Comm_split_type(c->mpi, MPI_COMM_TYPE_SHARED, c->rank, MPI_INFO_NULL, &node)));
  MPI_Comm_rank(node, &c->local_rank);
  MPI_Comm_size(node, &c->local_size);
  MPI_Comm_free(&node);
  sr_log_set_rank(c->rank, c->size);
  return SR_OK;
}

void sr_comm_finalize(sr_comm *c) {
  int finalized = 0;
  MPI_Finalized(&finalized);
  if (finalized) return;
  if (c->mpi != MPI_COMM_NULL && c->mpi != 0) MPI_Comm_free(&c->mpi);
  if (c->initialized_mpi) MPI_Finalize();
}

/* MPI counts are ints: large buffers go in chunks. */
static sr_status allreduce_chunked(const sr_comm *c, void *buf, size_t n, size_t elem,
                                   MPI_Datatype type, MPI_Op op) {
  const size_t chunk = (size_t)INT_MAX / 2;
  for (size_t done = 0; done < n; done += chunk) {
    size_t count = n - done < chunk ? n - done : chunk;
    TRY(MPI_CHECK(MPI_Allreduce(MPI_IN_PLACE, (char *)buf + done * elem, (int)count, type, op,
                                c->mpi)));
  }
  return SR_OK;
}

sr_status sr_comm_allreduce_sum_f32(const sr_comm *c, float *buf, size_t n) {
  return allreduce_chunked(c, buf, n, sizeof *buf, MPI_FLOAT, MPI_SUM);
}

sr_status sr_comm_allreduce_sum_f64(const sr_comm *c, double *buf, size_t n) {
  return allreduce_chunked(c, buf, n, sizeof *buf, MPI_DOUBLE, MPI_SUM);
}

sr_status sr_comm_allreduce_sum_i64(const sr_comm *c, int64_t *buf, size_t n) {
  return allreduce_chunked(c, buf, n, sizeof *buf, MPI_INT64_T, MPI_SUM);
}

sr_status sr_comm_agree(const sr_comm *c, sr_status local) {
  int worst = (int)local;
  TRY(MPI_CHECK(MPI_Allreduce(MPI_IN_PLACE, &worst, 1, MPI_INT, MPI_MAX, c->mpi)));
  if (worst != SR_OK && local == SR_OK)
    return sr_error((sr_status)worst, "another rank failed (see its message above)");
  return (sr_status)worst == SR_OK ? SR_OK : local;
}

sr_status sr_comm_broadcast(const sr_comm *c, void *buf, size_t bytes, int root) {
  const size_t chunk = (size_t)INT_MAX / 2;
  for (size_t done = 0; done < bytes; done += chunk) {
    size_t count = bytes - done < chunk ? bytes - done : chunk;
    TRY(MPI_CHECK(MPI_Bcast((char *)buf + done, (int)count, MPI_BYTE, root, c->mpi)));
  }
  return SR_OK;
}

sr_status sr_comm_barrier(const sr_comm *c) { return MPI_CHECK(MPI_Barrier(c->mpi)); }

sr_status sr_comm_allgather_i64(const sr_comm *c, int64_t value, int64_t *out) {
  return MPI_CHECK(MPI_Allgather(&value, 1, MPI_INT64_T, out, 1, MPI_INT64_T, c->mpi));
}

_Noreturn void sr_comm_abort(const sr_comm *c, sr_status st, const char *reason) {
  fprintf(stderr, "seqrec: rank %d of %d: aborting the job: %s\n", c->rank, c->size, reason);
  fflush(stderr);
  MPI_Abort(MPI_COMM_WORLD, sr_status_exit_code(st) ? sr_status_exit_code(st) : 2);
  abort(); /* MPI_Abort does not return; this keeps the compiler's promise. */
}
