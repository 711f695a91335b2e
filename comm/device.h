/* Which accelerators this process can see. runtime.device "auto" picks CUDA when a GPU is
 * visible; one GPU per rank, chosen by local rank. Not for kernels or streams. */
#ifndef SR_DEVICE_H
#define SR_DEVICE_H

#include "core/config.h"
#include "core/status.h"

/* Number of CUDA devices visible (0 when the build has no CUDA or the machine no GPU). */
int sr_device_count(void);
/* A one-line description of device `index` ("NVIDIA H100 80GB HBM3, 79 GiB, sm_90") into buf;
 * "cpu" when there is no such device. */
void sr_device_describe(int index, char *buf, int size);
/* Whether this binary was built with CUDA. */
int sr_device_cuda_built(void);

/* runtime.device as a GPU index for this rank: auto means CUDA when a GPU is visible (else the
 * CPU, with a one-line notice), one GPU per rank chosen by local rank. *gpu = -1 for the CPU.
 * SR_EINVAL when cuda is asked for and no GPU is visible. */
sr_status sr_device_choose(sr_device_kind want, int local_rank, int *gpu);

#endif
