/* Shared by the libFuzzer harnesses in fuzz/: the entry point's prototype, scratch files for
 * inputs that the code under test reads by path, and a check that stops the run loudly.
 * Not library code: harnesses may abort, library code never does. */
#ifndef SR_FUZZ_COMMON_H
#define SR_FUZZ_COMMON_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/log.h"
#include "core/status.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* A finding: print what broke (and the pending seqrec error, if any), then abort so that
 * libFuzzer keeps the input. */
#define FUZZ_CHECK(cond, ...)                                                  \
  do {                                                                         \
    if (!(cond)) {                                                             \
      fprintf(stderr, "fuzz check failed at %s:%d: %s\n  ", __FILE__, __LINE__, #cond); \
      fprintf(stderr, __VA_ARGS__);                                            \
      fprintf(stderr, "\n  pending error: %s\n", sr_error_message());          \
      abort();                                                                 \
    }                                                                          \
  } while (0)

/* A user's mistake (exit 1), never ours (exit 2): what bad input must turn into. */
static inline int fuzz_user_error(sr_status st) {
  return st == SR_EINVAL || st == SR_EIO || st == SR_EFORMAT;
}

/* "DIR/seqrec-fuzz-PID-NAME": in /dev/shm when it is there (no disk traffic), else TMPDIR. */
static inline void fuzz_path(char *buf, size_t size, const char *name) {
  const char *dir = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : getenv("TMPDIR");
  snprintf(buf, size, "%s/seqrec-fuzz-%ld-%s", dir && dir[0] ? dir : "/tmp", (long)getpid(), name);
}

static inline void fuzz_write_file(const char *path, const void *data, size_t size) {
  FILE *f = fopen(path, "wb");
  FUZZ_CHECK(f != NULL, "cannot create %s", path);
  FUZZ_CHECK(size == 0 || fwrite(data, 1, size, f) == size, "cannot write %s", path);
  FUZZ_CHECK(fclose(f) == 0, "cannot close %s", path);
}

/* Quiet: sr_info, sr_warn and progress lines would flood the terminal at thousands of inputs a
 * second. They print on rank 0 only, so the harness calls itself rank 1 (nothing else in the
 * code under test depends on the log's rank). */
static inline void fuzz_quiet(void) {
  sr_log_set_quiet(1);
  sr_log_set_rank(1, 2);
}

#endif
