/* `seqrec eval`: the held-out metrics of a finished (or running) training's checkpoint, the same
 * lines the trainer prints. Not for training or for writing recommendations. */
#ifndef SR_EVAL_H
#define SR_EVAL_H

#include "comm/comm.h"
#include "core/status.h"

sr_status trainer_eval_main(const sr_comm *comm, int argc, char **argv);

#endif
