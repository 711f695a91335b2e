/* SHA-256 (FIPS 180-4): the digest that ties a recs.h5 to the exact checkpoint file it was
 * scored with. A small, plain implementation for files of any size, read in blocks. Not for
 * hashing data in hot loops (events/fingerprint.h is the fast, non-cryptographic one). */
#ifndef SR_SHA256_H
#define SR_SHA256_H

#include <stddef.h>
#include <stdint.h>

#include "core/status.h"

typedef struct {
  uint32_t h[8];       /* the chaining state */
  uint64_t bytes;      /* message length so far */
  uint8_t block[64];   /* the block being filled */
  size_t fill;         /* bytes in block */
} sr_sha256;

void sr_sha256_init(sr_sha256 *s);
void sr_sha256_update(sr_sha256 *s, const void *data, size_t n);
/* Pads, finishes and writes the 32-byte digest; s must be initialised again before reuse. */
void sr_sha256_final(sr_sha256 *s, uint8_t digest[32]);
/* 64 lowercase hex digits and a NUL. */
void sr_sha256_hex(const uint8_t digest[32], char out[65]);
/* The digest of a whole file as hex; SR_EIO naming the file when it cannot be read. */
sr_status sr_sha256_file(const char *path, char out[65]);

#endif
