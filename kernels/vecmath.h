/* exp, erfc and the normal CDF for the CPU backend's hot loops, written so that the compiler
 * vectorises the loops that call them (libm's expf and erfcf are opaque calls, one element at
 * a time). Within a few float ulps of libm (measured in bench/RESULTS notes); branch-free, so
 * selects become vector blends. Not for code outside kernels/. */
#ifndef SR_KERNELS_VECMATH_H
#define SR_KERNELS_VECMATH_H

#include <math.h>
#include <stdint.h>
#include <string.h>

static inline float kernel_bits_to_float(uint32_t u) {
  float f;
  memcpy(&f, &u, sizeof f);
  return f;
}

/* e^(hi + lo) for hi + lo in [-86, 88] (callers clamp): hi exact, lo small, so that the
 * argument is never rounded as a whole. Cody-Waite reduction hi + lo = n ln2 + r, |r| <= ln2/2
 * (n ln2_hi is exact, and hi - n ln2_hi is exact when hi is large), then Cephes' polynomial.
 * In range 2^n is a normal float: no subnormal ever enters the arithmetic. */
static inline float kernel_expf_core(float hi, float lo) {
  const float shifter = 12582912.0f; /* 1.5 * 2^23: adding it rounds to an integer */
  const float n = ((hi + lo) * 1.44269504088896341f + shifter) - shifter;
  const float r = ((hi - n * 0.693359375f) - n * -2.12194440e-4f) + lo;
  float p = 1.9875691500e-4f;
  p = p * r + 1.3981999507e-3f;
  p = p * r + 8.3334519073e-3f;
  p = p * r + 4.1665795894e-2f;
  p = p * r + 1.6666665459e-1f;
  p = p * r + 5.0000001201e-1f;
  p = p * r * r + r + 1.0f;
  return p * kernel_bits_to_float((uint32_t)((int32_t)n + 127) << 23);
}

/* e^x within 1 ulp (libm: 0.5) for x in [-86, 88]; 0 below (e^-86 = 4e-38: no subnormals), +inf
 * above, NaN stays NaN. */
static inline float kernel_expf(float x) {
  float xc = x > -86.0f ? x : -86.0f; /* NaN lands here too: the conversion stays defined */
  xc = xc < 88.0f ? xc : 88.0f;
  float y = kernel_expf_core(xc, 0.0f);
  y = x < -86.0f ? 0.0f : y;
  y = x > 88.0f ? INFINITY : y;
  return x != x ? x : y;
}

/* erfc(x) for x >= 0 as t * exp(P(t) - x^2), t = 1/(1 + x/2), P a Chebyshev fit with relative
 * error below 1.2e-7 (Numerical Recipes' erfcc). x = xh + xl with xh the top 12 bits of x, so
 * -xh^2 is exact and goes to kernel_expf_core as its exact part. 0 once erfc < 1e-37 (x > 9.3). */
static inline float kernel_erfcf_pos(float x) {
  const float t = 1.0f / (1.0f + 0.5f * x);
  float p = 0.17087277f;
  p = p * t - 0.82215223f;
  p = p * t + 1.48851587f;
  p = p * t - 1.13520398f;
  p = p * t + 0.27886807f;
  p = p * t - 0.18628806f;
  p = p * t + 0.09678418f;
  p = p * t + 0.37409196f;
  p = p * t + 1.00002368f;
  p = p * t - 1.26551223f;
  uint32_t u;
  memcpy(&u, &x, sizeof u);
  const float xh = kernel_bits_to_float(u & 0xfffff000u), xl = x - xh;
  float hi = -xh * xh;
  const float lo = p - xl * (x + xh); /* P(t) - (x^2 - xh^2) */
  const int tiny = hi < -80.0f;       /* also catches x = inf */
  hi = tiny ? 0.0f : hi;
  const float y = t * kernel_expf_core(hi, lo);
  return tiny ? 0.0f : y;
}

/* The standard normal CDF, Phi(x) = erfc(-x/sqrt2) / 2: 0.5 + erf(z)/2 from erf's Taylor series
 * while |z| = |x|/sqrt2 <= 0.5, erfc above (so that Phi(x << 0) keeps its digits). */
static inline float kernel_normal_cdf(float x) {
  const float z = x * 0.70710678118654752f, az = fabsf(z), z2 = z * z;
  float e = 0.00012055332981789664f;
  e = e * z2 - 0.0008548327023450852f;
  e = e * z2 + 0.005223977625442188f;
  e = e * z2 - 0.026866170645131252f;
  e = e * z2 + 0.11283791670955126f;
  e = e * z2 - 0.37612638903183754f;
  e = e * z2 + 1.1283791670955126f;
  const float near = 0.5f + 0.5f * (z * e);
  const float c = 0.5f * kernel_erfcf_pos(az);
  const float far = z < 0.0f ? c : 1.0f - c;
  return az <= 0.5f ? near : far;
}

#endif
