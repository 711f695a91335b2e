/* The subcommands that live in events/: import, gen, info. */
#ifndef SR_EVENTS_CLI_H
#define SR_EVENTS_CLI_H

#include "comm/comm.h"
#include "core/status.h"

sr_status events_import_main(const sr_comm *comm, int argc, char **argv);
sr_status events_gen_main(const sr_comm *comm, int argc, char **argv);
sr_status events_info_main(const sr_comm *comm, int argc, char **argv);

#endif
