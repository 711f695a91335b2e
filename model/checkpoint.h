/* ckpt.h5 (DESIGN.md "Files"): the model's flat buffers as named tensors under /params and
 * /optim/{m,v}, with the training state needed to resume exactly. Written to PATH.tmp, then
 * renamed: a reader never sees half a checkpoint. Not for choosing when to checkpoint. */
#ifndef SR_CHECKPOINT_H
#define SR_CHECKPOINT_H

#include <stdint.h>

#include "core/status.h"
#include "kernels/kernels.h"
#include "model/sasrec.h"
#include "model/vocab.h"

#define SR_CHECKPOINT_FORMAT "seqrec-checkpoint"
#define SR_CHECKPOINT_VERSION 1

/* Where training stands. Together with the config and the data it decides every later number:
 * the batch order is a function of (seed, epoch, step) and dropout of (seed, step, rank). */
typedef struct {
  int64_t step;           /* optimizer updates done */
  int64_t epoch;          /* epochs completed */
  uint64_t seed;
  int64_t world_size;     /* exact resume needs the same number of ranks */
  double best_metric;     /* best validation NDCG@10 so far (-1: none yet) */
  int64_t best_epoch;
  int64_t evals_since_best; /* validations without improvement (early stopping) */
  int64_t finished;       /* 1: training ended; /params hold the best weights */
  int64_t skipped_steps;  /* updates skipped for a non-finite gradient */
  char events_fingerprint[32];
} sr_train_state;

/* Writes params, Adam moments and state; config_yaml is the effective configuration.
 * best_params (host, [n_params], or NULL) are the best weights so far, kept under /best/params
 * so that early stopping survives a restart. */
sr_status sr_checkpoint_write(const char *path, const sr_model *m, const sr_kernels *k,
                              const sr_train_state *state, const char *config_yaml,
                              const float *best_params);
/* The same, also keeping the item vocabulary (items: raw ids of the model's n_items items, or
 * NULL) as /items/raw_id, so that model.init_from can match items by raw id. */
sr_status sr_checkpoint_write_vocab(const char *path, const sr_model *m, const sr_kernels *k,
                                    const sr_train_state *state, const char *config_yaml,
                                    const float *best_params, const sr_vocab *items);
/* Reads the dimensions and state without the tensors (to size a model before loading it). */
sr_status sr_checkpoint_read_header(const char *path, sr_model_dims *dims, sr_train_state *state);
/* Loads params (and the Adam moments when with_optimizer) into a model created with the
 * checkpoint's dimensions. Every tensor's shape is checked against the model's layout.
 * best_params (host, [n_params]): filled from /best/params when the file has them, else from
 * /params; NULL to skip. */
sr_status sr_checkpoint_read(const char *path, sr_model *m, const sr_kernels *k,
                             int with_optimizer, float *best_params);

#endif
