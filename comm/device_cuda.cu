// Device discovery through the CUDA runtime; see device.h. No GPU is a normal answer (0).
#include <cuda_runtime.h>
#include <stdio.h>

extern "C" {
#include "comm/device.h"
}

extern "C" int sr_device_count(void) {
  int n = 0;
  if (cudaGetDeviceCount(&n) != cudaSuccess) {
    (void)cudaGetLastError();  // "no device" or "no driver": both mean CPU
    return 0;
  }
  return n;
}

extern "C" void sr_device_describe(int index, char *buf, int size) {
  cudaDeviceProp prop;
  if (index < 0 || index >= sr_device_count() ||
      cudaGetDeviceProperties(&prop, index) != cudaSuccess) {
    snprintf(buf, (size_t)size, "cpu");
    return;
  }
  snprintf(buf, (size_t)size, "%s, %.0f GiB, sm_%d%d", prop.name,
           (double)prop.totalGlobalMem / (1024.0 * 1024.0 * 1024.0), prop.major, prop.minor);
}

extern "C" int sr_device_cuda_built(void) { return 1; }
