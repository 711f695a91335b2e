/* The GPU half of grad_reduce, private to comm/: the reducer's stream, the pinned staging buffer
 * and the NCCL communicator (grad_reduce_cuda.cu; grad_reduce_none.c in a build without CUDA).
 * No MPI here: grad_reduce.c makes every MPI call, so this half is plain CUDA and NCCL. */
#ifndef SR_GRAD_REDUCE_DEVICE_H
#define SR_GRAD_REDUCE_DEVICE_H

#include <stddef.h>
#include <stdint.h>

#include "core/status.h"

#define SR_NCCL_ID_BYTES 128 /* sizeof(ncclUniqueId), checked where nccl.h is included */

typedef struct sr_grad_reduce_device sr_grad_reduce_device;

/* Whether this build has NCCL. */
int sr_grad_reduce_nccl_built(void);
/* The PCI location of GPU `gpu` as one number (see sr_grad_reduce_place). */
sr_status sr_grad_reduce_device_id(int gpu, int64_t *id);
/* Makes GPU `gpu` current and gives the reducer a stream of its own. */
sr_status sr_grad_reduce_device_open(int gpu, sr_grad_reduce_device **out);
/* Rank 0's half of NCCL set-up: the id that every rank then joins with. */
sr_status sr_grad_reduce_nccl_id(unsigned char id[SR_NCCL_ID_BYTES]);
/* Every rank's half (collective over the NCCL ranks). */
sr_status sr_grad_reduce_nccl_open(sr_grad_reduce_device *d, const unsigned char *id, int rank,
                                   int size);
/* ncclAllReduce in place on the reducer's stream, then waits for it. */
sr_status sr_grad_reduce_nccl_sum(sr_grad_reduce_device *d, float *buf, size_t n);
/* Copies buf[n] (device) into the pinned buffer, grown as needed, and gives it in *host. */
sr_status sr_grad_reduce_stage_down(sr_grad_reduce_device *d, const float *buf, size_t n,
                                    float **host);
/* Copies the pinned buffer back into buf[n]. */
sr_status sr_grad_reduce_stage_up(sr_grad_reduce_device *d, float *buf, size_t n);
/* Safe on NULL. */
void sr_grad_reduce_device_close(sr_grad_reduce_device *d);

#endif
