/* The fingerprint of an events.h5: a 64-bit hash over /users/offset, /events/item and
 * /events/time that ties checkpoints and recommendation files to the data they came from.
 * Fed in any chunking (the writer's appends, the checker's reads) it gives the same value.
 * Not a cryptographic digest: it detects changed data, not tampering. */
#ifndef SR_EVENTS_FINGERPRINT_H
#define SR_EVENTS_FINGERPRINT_H

#include <stdint.h>

/* One running hash and count per array: the three arrays arrive interleaved while writing. */
typedef struct {
  uint64_t hash[3];
  int64_t count[3];
} sr_events_fp;

void sr_events_fp_init(sr_events_fp *fp);
void sr_events_fp_add_offsets(sr_events_fp *fp, const int64_t *v, int64_t n);
void sr_events_fp_add_items(sr_events_fp *fp, const int32_t *v, int64_t n);
void sr_events_fp_add_times(sr_events_fp *fp, const int64_t *v, int64_t n);
/* 16 lowercase hex digits and a NUL. */
void sr_events_fp_hex(const sr_events_fp *fp, char out[17]);

#endif
