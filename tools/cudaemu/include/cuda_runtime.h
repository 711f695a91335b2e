/* Host emulation of the CUDA runtime and device-code subset that seqrec's .cu files use (see
 * tools/cudaemu/README.md). conv.py rewrites kernel<<<...>>>(...) into emu_launch. */
#pragma once
#include <cstdint>
#include <cstddef>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <cmath>
#include <functional>

#include "cuda_runtime_api.h"

#define __global__
#define __device__
#define __host__
#define __forceinline__ inline
#define __launch_bounds__(...)
/* A function-local static is one object for every thread of the block: shared memory. All of
 * them sit in one section, which the emulator refills with 0xff bytes before each block. */
#define __shared__ static __attribute__((section("emu_smem")))
#define __restrict__ __restrict

/* Round-to-nearest intrinsics are the plain IEEE operations on the host (the emulated sources
 * are compiled with -ffp-contract=off, so nothing is fused that the source did not fuse). */
inline float __fadd_rn(float a, float b) { return a + b; }
inline float __fsub_rn(float a, float b) { return a - b; }
inline float __fmul_rn(float a, float b) { return a * b; }
inline float __fdiv_rn(float a, float b) { return a / b; }
inline float __fmaf_rn(float a, float b, float c) { return std::fmaf(a, b, c); }
inline float __frcp_rn(float a) { return 1.0f / a; }
inline float __fsqrt_rn(float a) { return std::sqrt(a); }
inline double __dadd_rn(double a, double b) { return a + b; }
inline double __dmul_rn(double a, double b) { return a * b; }
inline double __fma_rn(double a, double b, double c) { return std::fma(a, b, c); }
inline float __double2float_rn(double d) { return (float)d; }
/* The fast-math intrinsics are exact here; their device error bounds are not modelled. */
inline float __expf(float a) { return std::exp(a); }
inline float __logf(float a) { return std::log(a); }
inline float __fdividef(float a, float b) { return a / b; }
inline float rsqrtf(float a) { return 1.0f / std::sqrt(a); }
inline float __saturatef(float a) { return a < 0.0f ? 0.0f : a > 1.0f ? 1.0f : a; }
inline float __uint_as_float(unsigned u) { float f; std::memcpy(&f, &u, 4); return f; }
inline unsigned __float_as_uint(float f) { unsigned u; std::memcpy(&u, &f, 4); return u; }
inline float __int_as_float(int u) { float f; std::memcpy(&f, &u, 4); return f; }
inline int __float_as_int(float f) { int u; std::memcpy(&u, &f, 4); return u; }
inline int __popc(unsigned x) { return __builtin_popcount(x); }
inline int __ffs(unsigned x) { return __builtin_ffs((int)x); }
template <class T> inline T __ldg(const T *p) { return *p; }
inline void __threadfence(void) {}

struct uint3 { unsigned x, y, z; };
struct float2 { float x, y; };
struct float4 { float x, y, z, w; };
inline float2 make_float2(float a, float b) { return float2{a, b}; }
inline float4 make_float4(float a, float b, float c, float d) { return float4{a, b, c, d}; }
struct dim3 {
  unsigned x, y, z;
  dim3(unsigned a = 1, unsigned b = 1, unsigned c = 1) : x(a), y(b), z(c) {}
};
/* Set by the scheduler before it resumes a thread; every thread of a block runs on one host
 * thread, so plain globals suffice. */
extern uint3 threadIdx, blockIdx;
extern dim3 blockDim, gridDim;

template <class F> cudaError_t cudaFuncSetAttribute(F *f, cudaFuncAttribute a, int v) {
  return emu_func_set_attribute((const void *)f, (int)a, v);
}

/* Runs `body` once per thread of every block: blocks one after another, a block's threads as
 * coroutines that switch only at barriers, warp operations and exit. */
void emu_launch(const void *fn, const char *name, const char *file, int line, dim3 grid,
                dim3 block, size_t smem, cudaStream_t s, std::function<void()> body);
/* The launch's arguments, copied when it is issued, and the kernel to call with them later. */
template <class F, class... A> std::function<void()> emu_args(F f, A... a) {
  return [=]() { f(a...); };
}
void *emu_dyn_smem(void);
void emu_syncthreads(int line);
/* kind: 0 __syncwarp, 1 ballot, 2 shfl_xor, 3 shfl. */
uint64_t emu_warp_op(int kind, unsigned mask, uint64_t v, int arg, int line);

#define __syncthreads() emu_syncthreads(__LINE__)
inline unsigned emu_mask_or_full(unsigned m = 0xffffffffu) { return m; }
#define __syncwarp(...) (void)emu_warp_op(0, emu_mask_or_full(__VA_ARGS__), 0, 0, __LINE__)
#define __ballot_sync(m, p) ((unsigned)emu_warp_op(1, (m), (p) ? 1 : 0, 0, __LINE__))
#define __any_sync(m, p) (__ballot_sync((m), (p)) != 0u)
#define __all_sync(m, p) (__ballot_sync((m), (p)) == 0xffffffffu)
template <class T> T emu_shfl(int kind, unsigned m, T v, int arg, int line) {
  static_assert(sizeof(T) <= 8, "shuffle of a type wider than 64 bits");
  uint64_t u = 0; std::memcpy(&u, &v, sizeof v);
  u = emu_warp_op(kind, m, u, arg, line);
  T r; std::memcpy(&r, &u, sizeof r); return r;
}
#define __shfl_xor_sync(m, v, o) emu_shfl(2, (m), (v), (o), __LINE__)
#define __shfl_sync(m, v, s) emu_shfl(3, (m), (v), (s), __LINE__)

/* Atomics: plain read-modify-writes, since no two emulated threads ever run at once. */
int atomicAdd(int *p, int v);
unsigned atomicAdd(unsigned *p, unsigned v);
unsigned long long atomicAdd(unsigned long long *p, unsigned long long v);
float atomicAdd(float *p, float v);
double atomicAdd(double *p, double v);
int atomicMin(int *p, int v);
unsigned atomicMin(unsigned *p, unsigned v);
unsigned long long atomicMin(unsigned long long *p, unsigned long long v);
int atomicMax(int *p, int v);
unsigned atomicMax(unsigned *p, unsigned v);
unsigned long long atomicMax(unsigned long long *p, unsigned long long v);
int atomicCAS(int *p, int cmp, int v);
unsigned atomicCAS(unsigned *p, unsigned cmp, unsigned v);
unsigned long long atomicCAS(unsigned long long *p, unsigned long long cmp, unsigned long long v);
int atomicExch(int *p, int v);
unsigned atomicExch(unsigned *p, unsigned v);
float atomicExch(float *p, float v);
