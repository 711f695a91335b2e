/* The gradient reducer: where every rank runs, the mode that follows, and the sum; see
 * grad_reduce.h. The CUDA and NCCL calls are in grad_reduce_cuda.cu, so this file is plain C
 * with MPI and builds the same with and without CUDA. */
#include "comm/grad_reduce.h"

#include <string.h>

#include "comm/grad_reduce_device.h"
#include "core/arena.h"
#include "core/log.h"

_Static_assert(sizeof(sr_grad_reduce_place) == 3 * sizeof(int64_t),
               "a place is gathered as three MPI_INT64_T");

const char *sr_grad_reduce_mode_name(sr_grad_reduce_mode mode) {
  switch (mode) {
    case SR_GRAD_REDUCE_NONE: return "none (one rank)";
    case SR_GRAD_REDUCE_MPI: return "MPI on host memory";
    case SR_GRAD_REDUCE_NCCL: return "NCCL";
    case SR_GRAD_REDUCE_STAGED: return "MPI through pinned host memory";
  }
  return "not initialised";
}

static int same_gpu(const sr_grad_reduce_place *a, const sr_grad_reduce_place *b) {
  return a->gpu >= 0 && b->gpu >= 0 && a->node == b->node && a->gpu_id == b->gpu_id;
}

sr_grad_reduce_mode sr_grad_reduce_decide(const sr_grad_reduce_place *all, int size, int rank,
                                          sr_grad_reduce_layout *layout) {
  *layout = (sr_grad_reduce_layout){.shared_first = -1};
  for (int r = 0; r < size; r++) {
    if (all[r].gpu < 0) {
      layout->cpu_ranks++;
      continue;
    }
    /* Count a GPU once, at the lowest rank on it. */
    int first = 1, ranks = 0;
    for (int s = 0; s < size; s++)
      if (same_gpu(&all[r], &all[s])) {
        ranks++;
        if (s < r) first = 0;
      }
    if (!first || ranks < 2) continue;
    if (layout->shared_gpus++ == 0) {
      layout->shared_first = r;
      layout->shared_ranks = ranks;
    }
  }
  if (size <= 1) return SR_GRAD_REDUCE_NONE;
  if (all[rank].gpu < 0) return SR_GRAD_REDUCE_MPI;
  return layout->shared_gpus || layout->cpu_ranks ? SR_GRAD_REDUCE_STAGED : SR_GRAD_REDUCE_NCCL;
}

/* This rank's place. A node is what MPI_COMM_TYPE_SHARED groups (as for sr_comm's local rank),
 * named by its lowest rank: a number all its ranks agree on, unlike a host name's spellings. */
static sr_status place_find(const sr_comm *c, int gpu, sr_grad_reduce_place *me) {
  MPI_Comm node = MPI_COMM_NULL;
  TRY(MPI_CHECK(MPI_Comm_split_type(c->mpi, MPI_COMM_TYPE_SHARED, c->rank, MPI_INFO_NULL,
                                    &node)));
  int lowest = c->rank;
  sr_status st = MPI_CHECK(MPI_Allreduce(MPI_IN_PLACE, &lowest, 1, MPI_INT, MPI_MIN, node));
  MPI_Comm_free(&node);
  TRY(st);
  *me = (sr_grad_reduce_place){.node = lowest, .gpu = gpu, .gpu_id = -1};
  return gpu >= 0 ? sr_grad_reduce_device_id(gpu, &me->gpu_id) : SR_OK;
}

/* One line from rank 0 when the GPUs cannot sum through NCCL. */
static void layout_warn(const sr_grad_reduce_place *all, int size,
                        const sr_grad_reduce_layout *l) {
  if (l->shared_gpus > 0) {
    const sr_grad_reduce_place *p = &all[l->shared_first];
    sr_warn("%d ranks share GPU %lld (PCI %04llx:%02llx:%02llx) on the node of rank %lld%s: NCCL "
            "needs a GPU per rank, so gradients are summed through host memory (slower); run "
            "at most one rank per GPU to use NCCL", l->shared_ranks, (long long)p->gpu,
            (unsigned long long)p->gpu_id >> 16, ((unsigned long long)p->gpu_id >> 8) & 0xff,
            (unsigned long long)p->gpu_id & 0xff, (long long)p->node,
            l->shared_gpus > 1 ? " (and other GPUs are shared too)" : "");
  } else if (l->cpu_ranks > 0 && l->cpu_ranks < size) {
    sr_warn("%d of %d ranks run on the CPU: the ranks on GPUs sum gradients through host memory "
            "(slower than NCCL)", l->cpu_ranks, size);
  }
}

/* Every rank joins rank 0's NCCL id. Each step is agreed on, so that no rank waits in a
 * collective that another has left. */
static sr_status nccl_open(sr_grad_reduce *r) {
  const sr_comm *c = r->comm;
  unsigned char id[SR_NCCL_ID_BYTES] = {0};
  sr_status st = SR_OK;
  if (!sr_grad_reduce_nccl_built())
    st = sr_error(SR_ENOTBUILT, "%d ranks on GPUs of their own sum gradients through NCCL, but "
                  "seqrec was built without NCCL: configure again with NCCL_ROOT set to the "
                  "folder of include/nccl.h and lib/libnccl.so*", c->size);
  else if (c->rank == 0)
    st = sr_grad_reduce_nccl_id(id);
  TRY(sr_comm_agree(c, st));
  TRY(sr_comm_broadcast(c, id, sizeof id, 0));
  return sr_comm_agree(c, sr_grad_reduce_nccl_open(r->dev, id, c->rank, c->size));
}

static sr_status reduce_open(sr_grad_reduce *r) {
  if (r->mode == SR_GRAD_REDUCE_NONE || r->mode == SR_GRAD_REDUCE_MPI) return SR_OK;
  /* agreed before NCCL's set-up, which would wait for a rank that failed here */
  TRY(sr_comm_agree(r->comm, sr_grad_reduce_device_open(r->gpu, &r->dev)));
  return r->mode == SR_GRAD_REDUCE_NCCL ? nccl_open(r) : SR_OK;
}

/* Modes that cannot reach the buffer: the same answer on every rank, so no collective yet. */
static sr_status mode_check(const sr_comm *c, int gpu, sr_grad_reduce_mode mode) {
  const int on_gpu = gpu >= 0;
  if (mode < SR_GRAD_REDUCE_NONE || mode > SR_GRAD_REDUCE_STAGED)
    return sr_error(SR_EINVAL, "gradient all-reduce: no mode %d", (int)mode);
  if ((mode == SR_GRAD_REDUCE_MPI && on_gpu) ||
      ((mode == SR_GRAD_REDUCE_NCCL || mode == SR_GRAD_REDUCE_STAGED) && !on_gpu) ||
      (mode == SR_GRAD_REDUCE_NONE && c->size > 1))
    return sr_error(SR_EINVAL, "gradient all-reduce: %s cannot sum a buffer in %s memory on %d "
                    "ranks", sr_grad_reduce_mode_name(mode), on_gpu ? "GPU" : "host", c->size);
  return SR_OK;
}

static sr_status reduce_start(sr_grad_reduce *r, const sr_comm *c, int gpu,
                              sr_grad_reduce_mode mode) {
  r->comm = c;
  r->gpu = gpu;
  r->mode = mode;
  sr_status st = sr_comm_agree(c, reduce_open(r));
  if (st != SR_OK) sr_grad_reduce_close(r);
  else sr_debug("gradient all-reduce: %s", sr_grad_reduce_mode_name(mode));
  return st;
}

sr_status sr_grad_reduce_init(sr_grad_reduce *r, const sr_comm *c, int gpu) {
  memset(r, 0, sizeof *r);
  if (c->size == 1) return reduce_start(r, c, gpu, SR_GRAD_REDUCE_NONE);
  sr_grad_reduce_place me = {0}, *all = NULL;
  sr_status st = place_find(c, gpu, &me); /* first: every rank must reach its collectives */
  if (st == SR_OK) st = sr_alloc(&all, (size_t)c->size, sizeof *all, "rank places");
  TRY_GOTO(sr_comm_agree(c, st));
  TRY_GOTO(MPI_CHECK(MPI_Allgather(&me, 3, MPI_INT64_T, all, 3, MPI_INT64_T, c->mpi)));
  sr_grad_reduce_layout layout;
  const sr_grad_reduce_mode mode = sr_grad_reduce_decide(all, c->size, c->rank, &layout);
  layout_warn(all, c->size, &layout);
  st = reduce_start(r, c, gpu, mode);
cleanup:
  sr_free(all);
  return st;
}

sr_status sr_grad_reduce_init_mode(sr_grad_reduce *r, const sr_comm *c, int gpu,
                                   sr_grad_reduce_mode mode) {
  memset(r, 0, sizeof *r);
  TRY(mode_check(c, gpu, mode));
  return reduce_start(r, c, gpu, mode);
}

sr_status sr_grad_reduce_sum_f32(sr_grad_reduce *r, float *buf, size_t n) {
  float *host = NULL;
  switch (r->mode) {
    case SR_GRAD_REDUCE_NONE: return SR_OK;
    case SR_GRAD_REDUCE_MPI: return sr_comm_allreduce_sum_f32(r->comm, buf, n);
    case SR_GRAD_REDUCE_NCCL: return sr_grad_reduce_nccl_sum(r->dev, buf, n);
    case SR_GRAD_REDUCE_STAGED:
      /* The same MPI sum as a host buffer gets, so CPU and staged ranks can mix. */
      TRY(sr_grad_reduce_stage_down(r->dev, buf, n, &host));
      TRY(sr_comm_allreduce_sum_f32(r->comm, host, n));
      return sr_grad_reduce_stage_up(r->dev, buf, n);
  }
  return sr_error(SR_EINTERNAL, "gradient all-reduce used before sr_grad_reduce_init");
}

void sr_grad_reduce_close(sr_grad_reduce *r) {
  sr_grad_reduce_device_close(r->dev);
  memset(r, 0, sizeof *r);
}
