/* Loading a checkpoint into a model whose item vocabulary differs from the one it was trained
 * on (model.init_from with a newer events.h5): rows of the item table are matched by raw id.
 * Not for resuming a run (same data, checkpoint.h) or for writing checkpoints. */
#ifndef SR_CHECKPOINT_REMAP_H
#define SR_CHECKPOINT_REMAP_H

#include "core/status.h"
#include "kernels/kernels.h"
#include "model/sasrec.h"
#include "model/vocab.h"

/* Loads /params (and /optim/{m,v} when with_optimizer) of `path` into m, whose items are `cur`.
 * Every tensor but wte must have the model's shape. Rows of wte (and of its moments) go to the
 * item with the same raw id; items the checkpoint lacks keep the rows m has now (initialise them
 * before: random weights, zero moments); items only in the checkpoint are dropped. A checkpoint
 * without /items/raw_id (written before vocabularies were kept) loads row for row, and only when
 * it has as many items as m. With content (dims.content_dim > 0) the wte rows of items the
 * checkpoint lacks are set to zero, so that such an item starts as the projection of its
 * content. counts says what the match found; known (room for n_items + 1, or NULL) gets 1 for
 * the items the checkpoint has, 0 for the others and for row 0. */
sr_status sr_checkpoint_read_remapped(const char *path, sr_model *m, const sr_kernels *k,
                                      const sr_vocab *cur, int with_optimizer,
                                      sr_vocab_match_counts *counts, uint8_t *known);

#endif
