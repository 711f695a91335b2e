/* Ranks and collectives. Host buffers go through MPI; device buffers through NCCL (comes with
 * the GPU backend). Works without mpirun: a lone process is rank 0 of 1.
 * Not for file I/O: parallel HDF5 takes the communicator from here (sr_comm.mpi). */
#ifndef SR_COMM_H
#define SR_COMM_H

#include <mpi.h>
#include <stddef.h>
#include <stdint.h>

#include "core/status.h"

typedef struct {
  MPI_Comm mpi;      /* the job's communicator (a duplicate of MPI_COMM_WORLD) */
  int rank;
  int size;
  int local_rank;    /* rank among the processes on this node: picks the GPU */
  int local_size;
  int initialized_mpi; /* this module called MPI_Init and will call MPI_Finalize */
} sr_comm;

/* Starts MPI (when not yet started), finds rank and local rank, and tells the logger. */
sr_status sr_comm_init(sr_comm *c, int *argc, char ***argv);
void sr_comm_finalize(sr_comm *c);

/* In-place sums over all ranks. */
sr_status sr_comm_allreduce_sum_f32(const sr_comm *c, float *buf, size_t n);
sr_status sr_comm_allreduce_sum_f64(const sr_comm *c, double *buf, size_t n);
sr_status sr_comm_allreduce_sum_i64(const sr_comm *c, int64_t *buf, size_t n);
/* In-place maximum of one status over all ranks: every rank learns whether any rank failed,
 * so they leave a collective phase together instead of hanging. */
sr_status sr_comm_agree(const sr_comm *c, sr_status local);
sr_status sr_comm_broadcast(const sr_comm *c, void *buf, size_t bytes, int root);
sr_status sr_comm_barrier(const sr_comm *c);
/* out[r] = value of rank r; out has c->size entries. */
sr_status sr_comm_allgather_i64(const sr_comm *c, int64_t value, int64_t *out);

/* Stops every rank of the job: prints "rank R: reason" on stderr and calls MPI_Abort with the
 * exit code of st. For faults after which the ranks cannot agree on how to stop. */
_Noreturn void sr_comm_abort(const sr_comm *c, sr_status st, const char *reason);

/* Checks an MPI call: records expression, file, line and rank, returns SR_EINTERNAL. */
sr_status sr_mpi_check(int rc, const char *expr, const char *file, int line);
#define MPI_CHECK(call) sr_mpi_check((call), #call, __FILE__, __LINE__)

#endif
