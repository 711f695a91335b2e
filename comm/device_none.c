/* Device discovery for a build without CUDA: there is never a GPU. */
#include "comm/device.h"

#include <stdio.h>

int sr_device_count(void) { return 0; }

void sr_device_describe(int index, char *buf, int size) {
  (void)index;
  snprintf(buf, (size_t)size, "cpu");
}

int sr_device_cuda_built(void) { return 0; }
