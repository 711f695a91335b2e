// The emulator's own checks (README.md "What it checks") must fire: a result read before its
// stream was waited for is stale, and a host read of device memory is an ASan report. Built and
// run by cudaemu.cmake as the ctest cudaemu_selftest; meaningless on a real GPU.
#include <cuda_runtime.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

__global__ void fill(float *x, int n, float v) {
  const int i = blockIdx.x * blockDim.x + threadIdx.x;
  if (i < n) x[i] = v;
}

static int failures = 0;
static void expect(int ok, const char *what) {
  printf("%s: %s\n", ok ? "ok" : "FAIL", what);
  failures += !ok;
}

int main(void) {
  enum { N = 64 };
  cudaStream_t s;
  float *dev = NULL, *pinned = NULL, host[N];
  if (cudaStreamCreateWithFlags(&s, cudaStreamNonBlocking) != cudaSuccess ||
      cudaMalloc((void **)&dev, N * sizeof *dev) != cudaSuccess ||
      cudaMallocHost((void **)&pinned, N * sizeof *pinned) != cudaSuccess) {
    printf("FAIL: no emulated GPU\n");
    return 1;
  }
  memset(pinned, 0, N * sizeof *pinned);
  fill<<<1, N, 0, s>>>(dev, N, 2.0f);
  cudaMemcpyAsync(pinned, dev, N * sizeof *dev, cudaMemcpyDeviceToHost, s);
  const char *eager = getenv("EMU_EAGER");
  if (eager && *eager && strcmp(eager, "0")) {
    printf("skipped: the checks of queued work (EMU_EAGER runs it at once)\n");
  } else {
    expect(pinned[N - 1] == 0.0f, "a copy to pinned memory has not landed before its stream is waited for");
    cudaMemcpy(host, dev, N * sizeof *dev, cudaMemcpyDeviceToHost);
    expect(host[0] != 2.0f, "a blocking cudaMemcpy does not wait for a non-blocking stream");
  }
  cudaStreamSynchronize(s);
  expect(pinned[N - 1] == 2.0f, "after cudaStreamSynchronize the copy has landed");

  const pid_t child = fork();
  if (child == 0) {
    const volatile float *p = dev;
    printf("child read %f\n", (double)p[0]);  // a host dereference of device memory
    _exit(0);
  }
  int status = 0;
  waitpid(child, &status, 0);
#if defined(__SANITIZE_ADDRESS__)
  expect(!(WIFEXITED(status) && WEXITSTATUS(status) == 0), "a host read of device memory is reported");
#else
  printf("skipped: the host-read check needs ASan (-DSEQREC_SANITIZE=ON)\n");
#endif
  cudaFree(dev);
  cudaFreeHost(pinned);
  cudaStreamDestroy(s);
  return failures ? 1 : 0;
}
