/* The all-reduce of the flat gradient buffer, wherever that buffer lives: MPI on host memory,
 * NCCL between GPUs (one per rank), or MPI through pinned host memory when ranks share a GPU.
 * The way is chosen once, by every rank together, at init. Not for other collectives: the
 * trainer's scalars and counts are host memory and go through comm.h. */
#ifndef SR_GRAD_REDUCE_H
#define SR_GRAD_REDUCE_H

#include <stddef.h>
#include <stdint.h>

#include "comm/comm.h"
#include "core/status.h"

typedef enum {
  SR_GRAD_REDUCE_NONE = 1, /* one rank: nothing to sum (0 is left for "not initialised") */
  SR_GRAD_REDUCE_MPI,      /* host buffer: sr_comm_allreduce_sum_f32, as without a reducer */
  SR_GRAD_REDUCE_NCCL,     /* a GPU per rank: NCCL all-reduce in place on the GPU */
  SR_GRAD_REDUCE_STAGED,   /* GPU buffer, but NCCL cannot serve the job (a GPU shared by ranks,
                              or ranks on the CPU): GPU -> pinned host -> MPI -> GPU */
} sr_grad_reduce_mode;

/* Where one rank runs, as every rank gathers it. Three int64 so that one MPI_Allgather moves it. */
typedef struct {
  int64_t node;   /* lowest rank on this rank's node (MPI_COMM_TYPE_SHARED) */
  int64_t gpu;    /* CUDA device index as this rank sees it; -1 on the CPU */
  int64_t gpu_id; /* PCI location (domain << 16 | bus << 8 | device): the same GPU has the same
                     id whatever index CUDA_VISIBLE_DEVICES gives it on each rank; -1 on the CPU */
} sr_grad_reduce_place;

/* What made the decision, for the warning. */
typedef struct {
  int shared_gpus;  /* GPUs that serve more than one rank */
  int shared_first; /* lowest rank on the first such GPU (-1: none) */
  int shared_ranks; /* ranks on that GPU */
  int cpu_ranks;    /* ranks on the CPU */
} sr_grad_reduce_layout;

/* The mode of `rank` given every rank's place (all[size]). Pure, so testable without a GPU:
 * one rank -> NONE; a CPU rank -> MPI; GPU ranks -> NCCL when every rank has a GPU of its own,
 * else STAGED (NCCL is collective over all ranks and refuses two ranks on one GPU). */
sr_grad_reduce_mode sr_grad_reduce_decide(const sr_grad_reduce_place *all, int size, int rank,
                                          sr_grad_reduce_layout *layout);
const char *sr_grad_reduce_mode_name(sr_grad_reduce_mode mode);

typedef struct {
  const sr_comm *comm;
  sr_grad_reduce_mode mode;
  int gpu; /* -1: the buffers are host memory */
  struct sr_grad_reduce_device *dev; /* stream, NCCL communicator, pinned buffer; NULL on host */
} sr_grad_reduce;

/* Collective: every rank calls it with its own gpu (-1 for the CPU), and every rank returns the
 * same success or failure (a rank's own message, "another rank failed" on the others). Rank 0
 * warns once when the job cannot use NCCL. SR_ENOTBUILT "built without NCCL" when NCCL is needed
 * and the build has none. */
sr_status sr_grad_reduce_init(sr_grad_reduce *r, const sr_comm *c, int gpu);
/* The same with the mode forced, for tests and benchmarks (NCCL or staging on one rank, staging
 * where NCCL would do); every rank passes the same mode. SR_EINVAL when the mode cannot reach the
 * buffer (MPI on a GPU, NCCL or staging on the CPU, NONE on several ranks). */
sr_status sr_grad_reduce_init_mode(sr_grad_reduce *r, const sr_comm *c, int gpu,
                                   sr_grad_reduce_mode mode);
/* In-place sum over all ranks of buf[n] (device memory when gpu >= 0). Collective. On a GPU the
 * caller has finished writing buf (synchronised its stream); the sum is complete on return. */
sr_status sr_grad_reduce_sum_f32(sr_grad_reduce *r, float *buf, size_t n);
/* Releases what init took; safe on a zeroed or closed reducer. */
void sr_grad_reduce_close(sr_grad_reduce *r);

#endif
