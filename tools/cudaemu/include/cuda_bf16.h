/* Host emulation of the bf16 subset of cuda_bf16.h. */
#pragma once
#include "cuda_runtime.h"
struct __nv_bfloat16 { unsigned short x; };
typedef __nv_bfloat16 nv_bfloat16;
/* Round to nearest, ties to even; a NaN stays a (quiet) NaN, as with the device intrinsic. */
inline __nv_bfloat16 __float2bfloat16_rn(float f) {
  uint32_t u; std::memcpy(&u, &f, 4);
  __nv_bfloat16 r;
  if ((u & 0x7fffffffu) > 0x7f800000u) { r.x = (unsigned short)((u >> 16) | 0x40u); return r; }
  u += 0x7fffu + ((u >> 16) & 1u);
  r.x = (unsigned short)(u >> 16);
  return r;
}
inline __nv_bfloat16 __float2bfloat16(float f) { return __float2bfloat16_rn(f); }
inline float __bfloat162float(__nv_bfloat16 b) {
  uint32_t u = (uint32_t)b.x << 16; float f; std::memcpy(&f, &u, 4); return f;
}
