/* Memory: checked allocation, a bump arena for per-step scratch, and a size table that carves
 * one flat buffer into named tensors (parameters, gradients and Adam moments each live in one
 * allocation with the same layout). Not a general-purpose allocator. */
#ifndef SR_ARENA_H
#define SR_ARENA_H

#include <stddef.h>
#include <stdint.h>

#include "core/status.h"

/* *out = a zero-filled, 64-byte-aligned array of n elements of `size` bytes; `what` names it
 * in the out-of-memory message. Free with sr_free. */
sr_status sr_alloc(void *out, size_t n, size_t size, const char *what);
/* Grows (or allocates) *ptr to n elements, keeping its contents; new bytes are not zeroed. */
sr_status sr_realloc(void *ptr, size_t n, size_t size, const char *what);
void sr_free(void *ptr);

/* Bump allocator: allocations are released all at once by sr_arena_reset. */
typedef struct {
  unsigned char *base;
  size_t capacity;
  size_t used;
  size_t high_water;
} sr_arena;

sr_status sr_arena_init(sr_arena *a, size_t capacity, const char *what);
/* 64-byte aligned; SR_ENOMEM (with the arena's fill) when it does not fit. */
sr_status sr_arena_alloc(sr_arena *a, void *out, size_t n, size_t size);
void sr_arena_reset(sr_arena *a);
void sr_arena_free(sr_arena *a);

#define SR_TENSOR_MAX_DIMS 4
#define SR_TENSOR_NAME_MAX 64

/* One named slice of a flat float buffer. */
typedef struct {
  char name[SR_TENSOR_NAME_MAX];
  int ndim;
  int64_t shape[SR_TENSOR_MAX_DIMS];
  size_t offset; /* in elements from the start of the buffer, a multiple of 16 */
  size_t count;  /* product of shape */
} sr_tensor_desc;

typedef struct {
  sr_tensor_desc *tensors;
  int n_tensors;
  int capacity;
  size_t total; /* elements the buffer needs, including alignment padding */
} sr_layout;

void sr_layout_init(sr_layout *l);
/* Appends a tensor; `shape` has ndim entries. Offsets are 16-element aligned so every slice
 * starts on a 64-byte boundary (vector loads, cuBLAS). */
sr_status sr_layout_add(sr_layout *l, const char *name, int ndim, const int64_t *shape);
/* NULL when no tensor has this name. */
const sr_tensor_desc *sr_layout_find(const sr_layout *l, const char *name);
void sr_layout_free(sr_layout *l);

#endif
