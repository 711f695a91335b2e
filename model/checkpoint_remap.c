/* Checkpoint weights carried across item vocabularies; see checkpoint_remap.h. Everything goes
 * through host staging buffers, as in checkpoint.c, so one code path serves every backend. */
#include "model/checkpoint_remap.h"

#include <hdf5.h>
#include <stdio.h>
#include <string.h>

#include "core/arena.h"
#include "events/h5util.h"
#include "model/checkpoint.h"

static const char *const remap_groups[3] = {"/params", "/optim/m", "/optim/v"};

/* Reads a float32 dataset whose shape must be dims[ndim] into out. */
static sr_status tensor_read_shape(hid_t f, const char *path, const char *h5path, int ndim,
                                   const int64_t *want, float *out) {
  sr_status st = SR_OK;
  hid_t dset = H5I_INVALID_HID;
  int64_t dims[SR_TENSOR_MAX_DIMS];
  TRY_GOTO(sr_h5_dataset_open(f, path, h5path, &dset));
  TRY_GOTO(sr_h5_dataset_expect(dset, path, h5path, H5T_NATIVE_FLOAT, ndim, dims));
  for (int i = 0; i < ndim; i++)
    if (dims[i] != want[i])
      FAIL_GOTO(SR_EFORMAT, "%s: %s: dimension %d is %lld, the model expects %lld", path, h5path,
                i, (long long)dims[i], (long long)want[i]);
  TRY_GOTO(SR_H5_CHECK(H5Dread(dset, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, out), path,
                       h5path));
cleanup:
  sr_h5_close(&dset);
  return st;
}

/* The model's shape apart from the items must be the checkpoint's: the message names the key. */
static sr_status dims_check(const char *path, const sr_model_dims *saved, const sr_model_dims *d) {
  const struct { const char *key; int saved, now; } keys[] = {
      {"data.max_len", saved->max_len, d->max_len},
      {"model.d_model", saved->d_model, d->d_model},
      {"model.n_layers", saved->n_layers, d->n_layers},
      {"model.n_heads", saved->n_heads, d->n_heads},
      {"model.d_ff", saved->d_ff, d->d_ff},
      {"the content dimension (model.item_content, /items/content)", saved->content_dim,
       d->content_dim}};
  for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++)
    if (keys[i].saved != keys[i].now)
      return sr_error(SR_EINVAL, "%s: the checkpoint has %s %d, the configuration %d: fine-tuning "
                      "keeps the model's shape", path, keys[i].key, keys[i].saved, keys[i].now);
  return SR_OK;
}

sr_status sr_checkpoint_read_remapped(const char *path, sr_model *m, const sr_kernels *k,
                                      const sr_vocab *cur, int with_optimizer,
                                      sr_vocab_match_counts *counts, uint8_t *known) {
  sr_model_dims saved;
  sr_train_state state;
  memset(counts, 0, sizeof *counts);
  if (known) memset(known, 0, (size_t)m->dims.n_items + 1);
  TRY(sr_checkpoint_read_header(path, &saved, &state));
  TRY(dims_check(path, &saved, &m->dims));
  if (cur->n_items != m->dims.n_items)
    return sr_error(SR_EINTERNAL, "vocabulary of %lld items for a model of %d",
                    (long long)cur->n_items, m->dims.n_items);

  sr_status st = SR_OK;
  hid_t f = H5I_INVALID_HID;
  sr_vocab old = {0};
  int32_t *old_row = NULL; /* [V] row of the checkpoint's wte for each item of cur */
  float *host = NULL, *old_wte = NULL;
  TRY_GOTO(sr_h5_open_read(path, &f));
  const int has_vocab = sr_h5_exists(f, "/items/raw_id");
  sr_h5_close(&f);
  if (!has_vocab) {
    if (saved.n_items != m->dims.n_items)
      FAIL_GOTO(SR_EINVAL, "%s has %d items and no /items/raw_id (written by an older seqrec), "
                "data.events has %d: such a checkpoint can only start a run on the same items",
                path, saved.n_items, m->dims.n_items);
    TRY_GOTO(sr_checkpoint_read(path, m, k, with_optimizer, NULL));
    counts->kept = m->dims.n_items;
    if (known) memset(known + 1, 1, (size_t)m->dims.n_items);
    goto cleanup;
  }
  TRY_GOTO(sr_vocab_read(path, &old));
  if (old.n_items != saved.n_items)
    FAIL_GOTO(SR_EFORMAT, "%s: /items/raw_id has %lld items, the n_items attribute says %d", path,
              (long long)old.n_items, saved.n_items);
  const int64_t V = (int64_t)m->dims.n_items + 1, V_old = (int64_t)saved.n_items + 1;
  const int64_t C = m->dims.d_model;
  TRY_GOTO(sr_alloc(&old_row, (size_t)V, sizeof *old_row, "item match"));
  TRY_GOTO(sr_vocab_match(&old, path, cur, old_row, counts));
  if (known)
    for (int64_t item = 1; item < V; item++) known[item] = old_row[item] > 0;
  TRY_GOTO(sr_alloc(&host, (size_t)m->n_params, sizeof *host, "checkpoint staging buffer"));
  TRY_GOTO(sr_alloc(&old_wte, (size_t)(V_old * C), sizeof *old_wte, "checkpoint item table"));
  TRY_GOTO(sr_h5_open_read(path, &f));
  float *buffers[3] = {m->params, m->adam_m, m->adam_v};
  for (int b = 0; b < (with_optimizer ? 3 : 1); b++) {
    /* The rows of items the checkpoint lacks stay as the model has them. */
    TRY_GOTO(k->download(k, host, buffers[b], (size_t)m->n_params * sizeof *host));
    for (int i = 0; i < m->layout.n_tensors; i++) {
      const sr_tensor_desc *t = &m->layout.tensors[i];
      char h5path[256];
      snprintf(h5path, sizeof h5path, "%s/%s", remap_groups[b], t->name);
      if (strcmp(t->name, "wte") != 0) {
        TRY_GOTO(tensor_read_shape(f, path, h5path, t->ndim, t->shape, host + t->offset));
        continue;
      }
      TRY_GOTO(tensor_read_shape(f, path, h5path, 2, (int64_t[]){V_old, C}, old_wte));
      float *wte = host + t->offset; /* [V, C] */
      for (int64_t item = 1; item < V; item++)
        if (old_row[item] > 0)
          memcpy(wte + item * C, old_wte + (int64_t)old_row[item] * C, (size_t)C * sizeof *wte);
        else if (m->dims.content_dim > 0 && b == 0)
          /* A new item starts as the learned projection of its content alone. */
          memset(wte + item * C, 0, (size_t)C * sizeof *wte);
    }
    TRY_GOTO(k->upload(k, buffers[b], host, (size_t)m->n_params * sizeof *host));
    m->act.items_ready = 0;
  }
cleanup:
  sr_h5_close(&f);
  sr_vocab_free(&old);
  sr_free(old_row);
  sr_free(host);
  sr_free(old_wte);
  return st;
}
