/* Checked allocation, arenas and flat-buffer layouts; see arena.h. */
#include "core/arena.h"

#include <stdlib.h>
#include <string.h>

#define SR_ALIGN 64

sr_status sr_alloc(void *out, size_t n, size_t size, const char *what) {
  void **p = (void **)out;
  *p = NULL;
  if (n == 0 || size == 0) return SR_OK;
  if (n > SIZE_MAX / size)
    return sr_error(SR_ENOMEM, "allocation of %zu x %zu bytes for %s overflows", n, size, what);
  size_t bytes = n * size;
  size_t rounded = (bytes + SR_ALIGN - 1) / SR_ALIGN * SR_ALIGN;
  void *mem = aligned_alloc(SR_ALIGN, rounded);
  if (!mem) return sr_error(SR_ENOMEM, "out of memory allocating %zu bytes for %s", bytes, what);
  memset(mem, 0, rounded);
  *p = mem;
  return SR_OK;
}

sr_status sr_realloc(void *ptr, size_t n, size_t size, const char *what) {
  void **p = (void **)ptr;
  if (size != 0 && n > SIZE_MAX / size)
    return sr_error(SR_ENOMEM, "allocation of %zu x %zu bytes for %s overflows", n, size, what);
  size_t bytes = n * size;
  void *mem = realloc(*p, bytes > 0 ? bytes : 1);
  if (!mem) return sr_error(SR_ENOMEM, "out of memory growing %s to %zu bytes", what, n * size);
  *p = mem;
  return SR_OK;
}

void sr_free(void *ptr) { free(ptr); }

sr_status sr_arena_init(sr_arena *a, size_t capacity, const char *what) {
  memset(a, 0, sizeof *a);
  TRY(sr_alloc(&a->base, capacity, 1, what));
  a->capacity = capacity;
  return SR_OK;
}

sr_status sr_arena_alloc(sr_arena *a, void *out, size_t n, size_t size) {
  void **p = (void **)out;
  *p = NULL;
  if (size != 0 && n > SIZE_MAX / size)
    return sr_error(SR_ENOMEM, "arena request of %zu x %zu bytes overflows", n, size);
  size_t start = (a->used + SR_ALIGN - 1) / SR_ALIGN * SR_ALIGN;
  size_t bytes = n * size;
  if (start > a->capacity || bytes > a->capacity - start)
    return sr_error(SR_ENOMEM, "arena of %zu bytes full: %zu used, %zu more requested",
                    a->capacity, a->used, bytes);
  *p = a->base + start;
  a->used = start + bytes;
  if (a->used > a->high_water) a->high_water = a->used;
  return SR_OK;
}

void sr_arena_reset(sr_arena *a) { a->used = 0; }

void sr_arena_free(sr_arena *a) {
  sr_free(a->base);
  memset(a, 0, sizeof *a);
}

void sr_layout_init(sr_layout *l) { memset(l, 0, sizeof *l); }

sr_status sr_layout_add(sr_layout *l, const char *name, int ndim, const int64_t *shape) {
  if (ndim < 1 || ndim > SR_TENSOR_MAX_DIMS)
    return sr_error(SR_EINTERNAL, "tensor %s: %d dimensions (1..%d allowed)", name, ndim,
                    SR_TENSOR_MAX_DIMS);
  if (strlen(name) >= SR_TENSOR_NAME_MAX)
    return sr_error(SR_EINTERNAL, "tensor name too long: %s", name);
  if (sr_layout_find(l, name)) return sr_error(SR_EINTERNAL, "tensor %s added twice", name);
  if (l->n_tensors == l->capacity) {
    int cap = l->capacity ? 2 * l->capacity : 16;
    TRY(sr_realloc(&l->tensors, (size_t)cap, sizeof *l->tensors, "tensor layout"));
    l->capacity = cap;
  }
  sr_tensor_desc *t = &l->tensors[l->n_tensors];
  memset(t, 0, sizeof *t);
  strcpy(t->name, name);
  t->ndim = ndim;
  t->count = 1;
  for (int i = 0; i < ndim; i++) {
    if (shape[i] <= 0) return sr_error(SR_EINTERNAL, "tensor %s: dimension %d is %lld", name, i,
                                       (long long)shape[i]);
    t->shape[i] = shape[i];
    t->count *= (size_t)shape[i];
  }
  t->offset = (l->total + 15) / 16 * 16;
  l->total = t->offset + t->count;
  l->n_tensors++;
  return SR_OK;
}

const sr_tensor_desc *sr_layout_find(const sr_layout *l, const char *name) {
  for (int i = 0; i < l->n_tensors; i++)
    if (strcmp(l->tensors[i].name, name) == 0) return &l->tensors[i];
  return NULL;
}

void sr_layout_free(sr_layout *l) {
  sr_free(l->tensors);
  sr_layout_init(l);
}
