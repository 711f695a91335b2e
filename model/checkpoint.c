/* ckpt.h5 read and write; see checkpoint.h. Tensors go through a host staging buffer so the
 * same code serves the CPU and CUDA backends.
 * Test-only: SEQREC_TEST_CHECKPOINT_PAUSE_MS=N says on stderr when a write begins and sleeps N ms
 * after each tensor written, so that a test can kill mid-write (tests/crash_trials.sh); it
 * changes no byte written. */
#include "model/checkpoint.h"

#include <hdf5.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/arena.h"
#include "events/h5util.h"

static const char *const buffer_groups[4] = {"/params", "/optim/m", "/optim/v", "/best/params"};

static sr_status attr_write_f64(hid_t obj, const char *file, const char *name, double value) {
  sr_status st = SR_OK;
  hid_t space = H5I_INVALID_HID, attr = H5I_INVALID_HID;
  TRY_GOTO(SR_H5_CHECK(space = H5Screate(H5S_SCALAR), file, name));
  TRY_GOTO(SR_H5_CHECK(attr = H5Acreate2(obj, name, H5T_IEEE_F64LE, space, H5P_DEFAULT,
                                         H5P_DEFAULT), file, name));
  TRY_GOTO(SR_H5_CHECK(H5Awrite(attr, H5T_NATIVE_DOUBLE, &value), file, name));
cleanup:
  sr_h5_close(&attr);
  sr_h5_close(&space);
  return st;
}

static sr_status attr_read_f64(hid_t obj, const char *file, const char *name, double *value) {
  if (!sr_h5_attr_exists(obj, name))
    return sr_error(SR_EFORMAT, "%s: /: missing attribute '%s'", file, name);
  sr_status st = SR_OK;
  hid_t attr = H5I_INVALID_HID;
  TRY_GOTO(SR_H5_CHECK(attr = H5Aopen(obj, name, H5P_DEFAULT), file, name));
  TRY_GOTO(SR_H5_CHECK(H5Aread(attr, H5T_NATIVE_DOUBLE, value), file, name));
cleanup:
  sr_h5_close(&attr);
  return st;
}

static sr_status tensor_write(hid_t file, const char *path, const char *h5path,
                              const sr_tensor_desc *t, const float *data) {
  sr_status st = SR_OK;
  hid_t space = H5I_INVALID_HID, lcpl = H5I_INVALID_HID, dset = H5I_INVALID_HID;
  hsize_t dims[SR_TENSOR_MAX_DIMS];
  for (int i = 0; i < t->ndim; i++) dims[i] = (hsize_t)t->shape[i];
  TRY_GOTO(SR_H5_CHECK(space = H5Screate_simple(t->ndim, dims, NULL), path, h5path));
  TRY_GOTO(SR_H5_CHECK(lcpl = H5Pcreate(H5P_LINK_CREATE), path, h5path));
  TRY_GOTO(SR_H5_CHECK(H5Pset_create_intermediate_group(lcpl, 1), path, h5path));
  TRY_GOTO(SR_H5_CHECK(dset = H5Dcreate2(file, h5path, H5T_IEEE_F32LE, space, lcpl, H5P_DEFAULT,
                                         H5P_DEFAULT), path, h5path));
  TRY_GOTO(SR_H5_CHECK(H5Dwrite(dset, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, data),
                       path, h5path));
cleanup:
  sr_h5_close(&dset);
  sr_h5_close(&lcpl);
  sr_h5_close(&space);
  return st;
}

/* A checkpoint is what a run resumes from: one holding a NaN or an infinity would resume into
 * a run that can only skip steps. Refused, naming the first bad tensor; the last good
 * checkpoint stays. */
static sr_status tensor_check_finite(const char *path, const char *h5path, const sr_tensor_desc *t,
                                     const float *data) {
  for (size_t i = 0; i < t->count; i++)
    if (!isfinite(data[i]))
      return sr_error(SR_EINTERNAL, "%s: %s[%zu] is %s: refusing to write a checkpoint with a "
                      "non-finite value; the previous checkpoint, if any, is kept", path, h5path,
                      i, isnan(data[i]) ? "NaN" : "infinite");
  return SR_OK;
}

#define CHECKPOINT_PAUSE_ENV "SEQREC_TEST_CHECKPOINT_PAUSE_MS"

static long pause_ms(void) {
  const char *env = getenv(CHECKPOINT_PAUSE_ENV);
  return env ? strtol(env, NULL, 10) : 0;
}

static void pause_announce(const char *path) {
  if (pause_ms() <= 0) return;
  fprintf(stderr, "checkpoint: writing %s, %ld ms per tensor (%s)\n", path, pause_ms(),
          CHECKPOINT_PAUSE_ENV);
  fflush(stderr);
}

static void pause_for_tests(void) {
  const long ms = pause_ms();
  if (ms <= 0) return;
  const struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000L};
  nanosleep(&ts, NULL);
}

static sr_status state_write(hid_t f, const char *path, const sr_model *m,
                             const sr_train_state *s, const char *config_yaml) {
  const sr_model_dims *d = &m->dims;
  TRY(sr_h5_attr_write_str(f, path, "/", "format", SR_CHECKPOINT_FORMAT));
  TRY(sr_h5_attr_write_i64(f, path, "/", "version", SR_CHECKPOINT_VERSION));
  const struct { const char *name; int64_t value; } ints[] = {
      {"n_items", d->n_items}, {"max_len", d->max_len}, {"d_model", d->d_model},
      {"n_layers", d->n_layers}, {"n_heads", d->n_heads}, {"d_ff", d->d_ff},
      {"step", s->step}, {"epoch", s->epoch}, {"seed", (int64_t)s->seed},
      {"world_size", s->world_size}, {"best_epoch", s->best_epoch},
      {"evals_since_best", s->evals_since_best}, {"finished", s->finished},
      {"skipped_steps", s->skipped_steps}};
  for (size_t i = 0; i < sizeof ints / sizeof ints[0]; i++)
    TRY(sr_h5_attr_write_i64(f, path, "/", ints[i].name, ints[i].value));
  /* Only a model with content has the attribute: older readers see no change. */
  if (d->content_dim > 0)
    TRY(sr_h5_attr_write_i64(f, path, "/", "content_dim", d->content_dim));
  TRY(attr_write_f64(f, path, "best_metric", s->best_metric));
  TRY(sr_h5_attr_write_str(f, path, "/", "events_fingerprint", s->events_fingerprint));
  return sr_h5_attr_write_str(f, path, "/", "config", config_yaml ? config_yaml : "");
}

sr_status sr_checkpoint_write(const char *path, const sr_model *m, const sr_kernels *k,
                              const sr_train_state *state, const char *config_yaml,
                              const float *best_params) {
  return sr_checkpoint_write_vocab(path, m, k, state, config_yaml, best_params, NULL);
}

sr_status sr_checkpoint_write_vocab(const char *path, const sr_model *m, const sr_kernels *k,
                                    const sr_train_state *state, const char *config_yaml,
                                    const float *best_params, const sr_vocab *items) {
  sr_status st = SR_OK;
  char tmp[4096];
  hid_t f = H5I_INVALID_HID;
  float *host = NULL;
  TRY(sr_h5_tmp_path(path, tmp, sizeof tmp));
  TRY_GOTO(sr_alloc(&host, (size_t)m->n_params, sizeof *host, "checkpoint staging buffer"));
  TRY_GOTO(sr_h5_create(tmp, &f));
  pause_announce(path);
  const float *buffers[3] = {m->params, m->adam_m, m->adam_v};
  for (int b = 0; b < 4; b++) {
    const float *src = host;
    if (b < 3)
      TRY_GOTO(k->download(k, host, buffers[b], (size_t)m->n_params * sizeof *host));
    else if (best_params)
      src = best_params;
    else
      break;
    for (int i = 0; i < m->layout.n_tensors; i++) {
      const sr_tensor_desc *t = &m->layout.tensors[i];
      char h5path[256];
      snprintf(h5path, sizeof h5path, "%s/%s", buffer_groups[b], t->name);
      TRY_GOTO(tensor_check_finite(path, h5path, t, src + t->offset));
      TRY_GOTO(tensor_write(f, tmp, h5path, t, src + t->offset));
      pause_for_tests();
    }
  }
  if (items) TRY_GOTO(sr_vocab_write(f, tmp, items));
  TRY_GOTO(state_write(f, tmp, m, state, config_yaml));
  TRY_GOTO(sr_h5_file_close(&f, tmp));
  st = sr_h5_tmp_commit(tmp, path);
  sr_free(host);
  return st;
cleanup:
  sr_h5_close(&f);
  sr_h5_tmp_discard(tmp);
  sr_free(host);
  return st;
}

static sr_status header_read(hid_t f, const char *path, sr_model_dims *d, sr_train_state *s) {
  char format[64];
  TRY(sr_h5_attr_read_str(f, path, "/", "format", format, sizeof format));
  if (strcmp(format, SR_CHECKPOINT_FORMAT) != 0)
    return sr_error(SR_EFORMAT, "%s: /: format is '%s', not a checkpoint ('%s'): is it the file "
                    "you meant?", path, format, SR_CHECKPOINT_FORMAT);
  int64_t version = 0;
  TRY(sr_h5_attr_read_i64(f, path, "/", "version", &version));
  if (version != SR_CHECKPOINT_VERSION)
    return sr_error(SR_EFORMAT, "%s: checkpoint version %lld, this seqrec reads version %d", path,
                    (long long)version, SR_CHECKPOINT_VERSION);
  int64_t v[14];
  const char *names[14] = {"n_items", "max_len", "d_model", "n_layers", "n_heads", "d_ff",
                           "step", "epoch", "seed", "world_size", "best_epoch",
                           "evals_since_best", "finished", "skipped_steps"};
  for (int i = 0; i < 14; i++) TRY(sr_h5_attr_read_i64(f, path, "/", names[i], &v[i]));
  *d = (sr_model_dims){.n_items = (int)v[0], .max_len = (int)v[1], .d_model = (int)v[2],
                       .n_layers = (int)v[3], .n_heads = (int)v[4], .d_ff = (int)v[5]};
  if (sr_h5_attr_exists(f, "content_dim")) {
    int64_t dim = 0;
    TRY(sr_h5_attr_read_i64(f, path, "/", "content_dim", &dim));
    if (dim < 1 || dim > 1 << 16)
      return sr_error(SR_EFORMAT, "%s: /: attribute content_dim is %lld", path, (long long)dim);
    d->content_dim = (int)dim;
  }
  memset(s, 0, sizeof *s);
  s->step = v[6];
  s->epoch = v[7];
  s->seed = (uint64_t)v[8];
  s->world_size = v[9];
  s->best_epoch = v[10];
  s->evals_since_best = v[11];
  s->finished = v[12];
  s->skipped_steps = v[13];
  TRY(attr_read_f64(f, path, "best_metric", &s->best_metric));
  return sr_h5_attr_read_str(f, path, "/", "events_fingerprint", s->events_fingerprint,
                             sizeof s->events_fingerprint);
}

sr_status sr_checkpoint_read_header(const char *path, sr_model_dims *dims, sr_train_state *state) {
  hid_t f = H5I_INVALID_HID;
  TRY(sr_h5_open_read(path, &f));
  sr_status st = header_read(f, path, dims, state);
  sr_h5_close(&f);
  return st;
}

static sr_status tensor_read(hid_t f, const char *path, const char *h5path,
                             const sr_tensor_desc *t, float *out) {
  sr_status st = SR_OK;
  hid_t dset = H5I_INVALID_HID;
  int64_t dims[SR_TENSOR_MAX_DIMS];
  TRY_GOTO(sr_h5_dataset_open(f, path, h5path, &dset));
  TRY_GOTO(sr_h5_dataset_expect(dset, path, h5path, H5T_NATIVE_FLOAT, t->ndim, dims));
  for (int i = 0; i < t->ndim; i++)
    if (dims[i] != t->shape[i])
      FAIL_GOTO(SR_EFORMAT, "%s: %s: dimension %d is %lld, the model expects %lld", path, h5path,
                i, (long long)dims[i], (long long)t->shape[i]);
  TRY_GOTO(SR_H5_CHECK(H5Dread(dset, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, out), path,
                       h5path));
cleanup:
  sr_h5_close(&dset);
  return st;
}

sr_status sr_checkpoint_read(const char *path, sr_model *m, const sr_kernels *k,
                             int with_optimizer, float *best_params) {
  sr_status st = SR_OK;
  hid_t f = H5I_INVALID_HID;
  float *host = NULL;
  sr_model_dims dims;
  sr_train_state state;
  TRY_GOTO(sr_h5_open_read(path, &f));
  TRY_GOTO(header_read(f, path, &dims, &state));
  if (memcmp(&dims, &m->dims, sizeof dims) != 0)
    FAIL_GOTO(SR_EINVAL,
              "%s: checkpoint holds a model of %d items, max_len %d, d_model %d, %d layers, %d "
              "heads, d_ff %d, content dim %d; the configuration asks for %d, %d, %d, %d, %d, %d, "
              "%d", path, dims.n_items, dims.max_len, dims.d_model, dims.n_layers, dims.n_heads,
              dims.d_ff, dims.content_dim, m->dims.n_items, m->dims.max_len, m->dims.d_model,
              m->dims.n_layers, m->dims.n_heads, m->dims.d_ff, m->dims.content_dim);
  TRY_GOTO(sr_alloc(&host, (size_t)m->n_params, sizeof *host, "checkpoint staging buffer"));
  float *buffers[3] = {m->params, m->adam_m, m->adam_v};
  for (int b = 0; b < (with_optimizer ? 3 : 1); b++) {
    for (int i = 0; i < m->layout.n_tensors; i++) {
      const sr_tensor_desc *t = &m->layout.tensors[i];
      char h5path[256];
      snprintf(h5path, sizeof h5path, "%s/%s", buffer_groups[b], t->name);
      TRY_GOTO(tensor_read(f, path, h5path, t, host + t->offset));
    }
    TRY_GOTO(k->upload(k, buffers[b], host, (size_t)m->n_params * sizeof *host));
    m->act.items_ready = 0;
  }
  if (best_params) {
    const int has_best = sr_h5_exists(f, "/best/params");
    for (int i = 0; i < m->layout.n_tensors; i++) {
      const sr_tensor_desc *t = &m->layout.tensors[i];
      char h5path[256];
      snprintf(h5path, sizeof h5path, "%s/%s", buffer_groups[has_best ? 3 : 0], t->name);
      TRY_GOTO(tensor_read(f, path, h5path, t, best_params + t->offset));
    }
  }
cleanup:
  sr_h5_close(&f);
  sr_free(host);
  return st;
}
