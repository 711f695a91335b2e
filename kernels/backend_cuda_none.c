/* The CUDA backend's entry point until backend_cuda.cu exists (see kernels/README.md: the CUDA
 * twins are written but not yet validated on a GPU): says so, and nothing else. */
#include "kernels/kernels.h"

sr_status kernels_cuda_init(sr_kernels *k, int device) {
#ifdef SEQREC_HAVE_CUDA
  (void)device;
  return sr_error(SR_ENOTBUILT, "the CUDA backend is not built yet (its kernels are written "
                  "but not validated on a GPU; kernels/README.md): set runtime.device: cpu");
#else
  return sr_error(SR_ENOTBUILT, "this seqrec was built without CUDA (device %d requested): "
                  "rebuild with -DSEQREC_CUDA=ON on a machine with nvcc, or set "
                  "runtime.device: cpu", device);
#endif
}
