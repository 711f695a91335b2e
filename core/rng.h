/* Counter-based random numbers (Philox4x32-10, as in Random123 and cuRAND): a draw is a pure
 * function of (seed, stream, index), so any rank or GPU thread can reproduce any draw without
 * sharing state, and a checkpoint stores three integers. Not for cryptography. */
#ifndef SR_RNG_H
#define SR_RNG_H

#include <stdint.h>

/* The raw block function: 128-bit counter (ctr[0..3]) and 64-bit key (key[0..1]) to 4 words. */
void sr_philox4x32_10(const uint32_t ctr[4], const uint32_t key[2], uint32_t out[4]);

/* Four words for (seed, stream, block). Streams separate independent uses (dropout on rank r,
 * negative sampling, data shuffling) so that one never shifts another's draws. */
void sr_rng_block(uint64_t seed, uint64_t stream, uint64_t block, uint32_t out[4]);

/* A sequential view of one stream. The whole state is (seed, stream, draws). */
typedef struct {
  uint64_t seed;
  uint64_t stream;
  uint64_t draws;     /* 32-bit words consumed so far */
  uint32_t cache[4];  /* the block that holds word `draws`, valid when cache_block == draws/4 */
  uint64_t cache_block;
} sr_rng;

void sr_rng_init(sr_rng *r, uint64_t seed, uint64_t stream);
/* Jumps to an absolute position in the stream (restore from a checkpoint). */
void sr_rng_seek(sr_rng *r, uint64_t draws);
uint32_t sr_rng_u32(sr_rng *r);
uint64_t sr_rng_u64(sr_rng *r);
/* Uniform in [0, 1) with 24 random bits: exactly representable as float. */
float sr_rng_uniform(sr_rng *r);
/* Uniform in [0, 1) with 53 random bits. */
double sr_rng_uniform_f64(sr_rng *r);
/* Uniform integer in [0, n), unbiased (Lemire's multiply-and-reject); n > 0. */
uint32_t sr_rng_below(sr_rng *r, uint32_t n);
uint64_t sr_rng_below64(sr_rng *r, uint64_t n);
/* Standard normal (Box-Muller, one value per two uniforms: simple and reproducible). */
float sr_rng_normal(sr_rng *r);

/* Stateless helpers for code that indexes draws directly (per-element dropout masks). */
float sr_rng_uniform_at(uint64_t seed, uint64_t stream, uint64_t index);

/* A random permutation of [0, n) evaluated one element at a time: returns pi(i) for the
 * permutation pi drawn from (seed, stream). O(1) memory, so every rank can find which global
 * training window comes at any position of an epoch without storing the order (a Feistel
 * network with cycle-walking). n >= 1, i < n. */
uint64_t sr_rng_permute(uint64_t seed, uint64_t stream, uint64_t n, uint64_t i);

#endif
