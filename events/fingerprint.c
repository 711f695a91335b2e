/* The events fingerprint; see fingerprint.h. Each value goes through MurmurHash3's 64-bit block
 * step, so the result depends on every value and its position, and on nothing else. */
#include "events/fingerprint.h"

#include <stdio.h>

static uint64_t rotl64(uint64_t x, int r) { return (x << r) | (x >> (64 - r)); }

static uint64_t fp_step(uint64_t h, uint64_t v) {
  v *= 0x87c37b91114253d5ull;
  v = rotl64(v, 31);
  v *= 0x4cf5ad432745937full;
  h ^= v;
  h = rotl64(h, 27);
  return h * 5 + 0x52dce729ull;
}

static uint64_t fmix64(uint64_t k) {
  k ^= k >> 33;
  k *= 0xff51afd7ed558ccdull;
  k ^= k >> 33;
  k *= 0xc4ceb9fe1a85ec53ull;
  k ^= k >> 33;
  return k;
}

void sr_events_fp_init(sr_events_fp *fp) {
  /* Distinct starting values so that swapping two arrays changes the result. */
  fp->hash[0] = 0x6f66667365747321ull;
  fp->hash[1] = 0x6974656d73212121ull;
  fp->hash[2] = 0x74696d6573212121ull;
  fp->count[0] = fp->count[1] = fp->count[2] = 0;
}

void sr_events_fp_add_offsets(sr_events_fp *fp, const int64_t *v, int64_t n) {
  uint64_t h = fp->hash[0];
  for (int64_t i = 0; i < n; i++) h = fp_step(h, (uint64_t)v[i]);
  fp->hash[0] = h;
  fp->count[0] += n;
}

void sr_events_fp_add_items(sr_events_fp *fp, const int32_t *v, int64_t n) {
  uint64_t h = fp->hash[1];
  for (int64_t i = 0; i < n; i++) h = fp_step(h, (uint64_t)(uint32_t)v[i]);
  fp->hash[1] = h;
  fp->count[1] += n;
}

void sr_events_fp_add_times(sr_events_fp *fp, const int64_t *v, int64_t n) {
  uint64_t h = fp->hash[2];
  for (int64_t i = 0; i < n; i++) h = fp_step(h, (uint64_t)v[i]);
  fp->hash[2] = h;
  fp->count[2] += n;
}

void sr_events_fp_hex(const sr_events_fp *fp, char out[17]) {
  uint64_t x = 0x7365717265632121ull;
  for (int s = 0; s < 3; s++) {
    x = fmix64(x ^ fmix64(fp->hash[s] ^ (uint64_t)fp->count[s] * 0x9e3779b97f4a7c15ull));
    x = rotl64(x, 17) * 0x9e3779b97f4a7c15ull;
  }
  snprintf(out, 17, "%016llx", (unsigned long long)fmix64(x));
}
