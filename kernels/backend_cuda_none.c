/* The CUDA backend's entry point in a build without CUDA: says so, and nothing else.
 * A CUDA build compiles backend_cuda.cu in its place (see kernels/README.md). */
#include "kernels/kernels.h"

sr_status kernels_cuda_init(sr_kernels *k, int device) {
  return sr_error(SR_ENOTBUILT, "this seqrec was built without CUDA (device %d requested): "
                  "rebuild with -DSEQREC_CUDA=ON on a machine with nvcc, or set "
                  "runtime.device: cpu", device);
}
