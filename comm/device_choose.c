/* runtime.device to a GPU index; see device.h. */
#include "comm/device.h"

#include "core/log.h"

sr_status sr_device_choose(sr_device_kind want, int local_rank, int *gpu) {
  const int gpus = sr_device_count();
  *gpu = -1;
  if (want == SR_DEVICE_CPU) return SR_OK;
  if (gpus == 0) {
    if (want == SR_DEVICE_CUDA)
      return sr_error(SR_EINVAL, "runtime.device is cuda but no GPU is visible; use cpu or auto");
    sr_info("runtime.device auto: no GPU visible, running on the CPU");
    return SR_OK;
  }
  *gpu = local_rank % gpus;
  return SR_OK;
}
