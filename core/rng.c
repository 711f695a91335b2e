/* Philox4x32-10 (Salmon et al., "Parallel random numbers: as easy as 1, 2, 3", SC'11). */
#include "core/rng.h"

#include <math.h>

#define PHILOX_M0 0xD2511F53u
#define PHILOX_M1 0xCD9E8D57u
#define PHILOX_W0 0x9E3779B9u
#define PHILOX_W1 0xBB67AE85u

static void philox_round(uint32_t c[4], const uint32_t k[2]) {
  uint64_t p0 = (uint64_t)PHILOX_M0 * c[0];
  uint64_t p1 = (uint64_t)PHILOX_M1 * c[2];
  uint32_t hi0 = (uint32_t)(p0 >> 32), lo0 = (uint32_t)p0;
  uint32_t hi1 = (uint32_t)(p1 >> 32), lo1 = (uint32_t)p1;
  uint32_t n0 = hi1 ^ c[1] ^ k[0];
  uint32_t n2 = hi0 ^ c[3] ^ k[1];
  c[0] = n0;
  c[1] = lo1;
  c[2] = n2;
  c[3] = lo0;
}

void sr_philox4x32_10(const uint32_t ctr[4], const uint32_t key[2], uint32_t out[4]) {
  uint32_t c[4] = {ctr[0], ctr[1], ctr[2], ctr[3]};
  uint32_t k[2] = {key[0], key[1]};
  for (int round = 0; round < 10; round++) {
    if (round > 0) {
      k[0] += PHILOX_W0;
      k[1] += PHILOX_W1;
    }
    philox_round(c, k);
  }
  for (int i = 0; i < 4; i++) out[i] = c[i];
}

void sr_rng_block(uint64_t seed, uint64_t stream, uint64_t block, uint32_t out[4]) {
  const uint32_t ctr[4] = {(uint32_t)block, (uint32_t)(block >> 32), (uint32_t)stream,
                           (uint32_t)(stream >> 32)};
  const uint32_t key[2] = {(uint32_t)seed, (uint32_t)(seed >> 32)};
  sr_philox4x32_10(ctr, key, out);
}

void sr_rng_init(sr_rng *r, uint64_t seed, uint64_t stream) {
  r->seed = seed;
  r->stream = stream;
  r->draws = 0;
  r->cache_block = UINT64_MAX;
}

void sr_rng_seek(sr_rng *r, uint64_t draws) { r->draws = draws; }

uint32_t sr_rng_u32(sr_rng *r) {
  uint64_t block = r->draws >> 2;
  if (block != r->cache_block) {
    sr_rng_block(r->seed, r->stream, block, r->cache);
    r->cache_block = block;
  }
  return r->cache[r->draws++ & 3];
}

uint64_t sr_rng_u64(sr_rng *r) {
  uint64_t hi = sr_rng_u32(r);
  return (hi << 32) | sr_rng_u32(r);
}

float sr_rng_uniform(sr_rng *r) { return (float)(sr_rng_u32(r) >> 8) * 0x1.0p-24f; }

double sr_rng_uniform_f64(sr_rng *r) { return (double)(sr_rng_u64(r) >> 11) * 0x1.0p-53; }

uint32_t sr_rng_below(sr_rng *r, uint32_t n) {
  uint64_t m = (uint64_t)sr_rng_u32(r) * n;
  uint32_t low = (uint32_t)m;
  if (low < n) {
    uint32_t threshold = (uint32_t)(-n) % n;
    while (low < threshold) {
      m = (uint64_t)sr_rng_u32(r) * n;
      low = (uint32_t)m;
    }
  }
  return (uint32_t)(m >> 32);
}

uint64_t sr_rng_below64(sr_rng *r, uint64_t n) {
  if (n <= UINT32_MAX) return sr_rng_below(r, (uint32_t)n);
  /* Rejection on the smallest power-of-two mask that covers n: rare enough to be cheap. */
  uint64_t mask = n - 1;
  mask |= mask >> 1; mask |= mask >> 2; mask |= mask >> 4;
  mask |= mask >> 8; mask |= mask >> 16; mask |= mask >> 32;
  uint64_t x;
  do x = sr_rng_u64(r) & mask; while (x >= n);
  return x;
}

float sr_rng_normal(sr_rng *r) {
  /* 1 - u keeps the logarithm finite. */
  double u1 = 1.0 - sr_rng_uniform_f64(r);
  double u2 = sr_rng_uniform_f64(r);
  return (float)(sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2));
}

float sr_rng_uniform_at(uint64_t seed, uint64_t stream, uint64_t index) {
  uint32_t out[4];
  sr_rng_block(seed, stream, index >> 2, out);
  return (float)(out[index & 3] >> 8) * 0x1.0p-24f;
}

/* Balanced Feistel network on 2*half_bits bits; round keys from Philox. A Feistel network is a
 * bijection whatever its round function, and walking the cycle until the value falls in [0, n)
 * restricts it to a bijection of [0, n) (at most ~4 steps on average since 2^bits < 4n). */
uint64_t sr_rng_permute(uint64_t seed, uint64_t stream, uint64_t n, uint64_t i) {
  if (n <= 1) return 0;
  int bits = 2;
  while (bits < 64 && (n - 1) >> bits) bits++;
  if (bits & 1) bits++;
  const int half = bits / 2;
  const uint64_t mask = (half >= 64) ? UINT64_MAX : ((uint64_t)1 << half) - 1;
  uint32_t round_keys[4];
  sr_rng_block(seed, stream, UINT64_MAX, round_keys);
  uint64_t x = i;
  do {
    uint64_t left = x >> half, right = x & mask;
    for (int r = 0; r < 4; r++) {
      const uint32_t ctr[4] = {(uint32_t)right, (uint32_t)(right >> 32), (uint32_t)r, 0x5eedu};
      const uint32_t key[2] = {round_keys[r], (uint32_t)stream};
      uint32_t f[4];
      sr_philox4x32_10(ctr, key, f);
      uint64_t mixed = ((uint64_t)f[0] << 32 | f[1]) & mask;
      uint64_t next_right = left ^ mixed;
      left = right;
      right = next_right;
    }
    x = (left << half) | right;
  } while (x >= n);
  return x;
}
