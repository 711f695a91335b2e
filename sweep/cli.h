/* The subcommands that live in sweep/: `seqrec sweep plan|run|report` and `seqrec report`. */
#ifndef SR_SWEEP_CLI_H
#define SR_SWEEP_CLI_H

#include "comm/comm.h"
#include "core/status.h"

sr_status sweep_sweep_main(const sr_comm *comm, int argc, char **argv);
sr_status sweep_report_main(const sr_comm *comm, int argc, char **argv);

#endif
