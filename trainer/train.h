/* `seqrec train`: the data-parallel training loop (DESIGN.md "Model and training"): every rank
 * trains on its own users, gradients are summed over ranks each step, validation drives early
 * stopping, and a checkpoint makes every run resumable. Not for the model's math (model/) or
 * for metrics (evaluate.h). */
#ifndef SR_TRAIN_H
#define SR_TRAIN_H

#include "comm/comm.h"
#include "core/status.h"

sr_status trainer_train_main(const sr_comm *comm, int argc, char **argv);

#endif
