/* The subcommands that live in scorer/: score, and info for recs.h5 files. */
#ifndef SR_SCORER_CLI_H
#define SR_SCORER_CLI_H

#include "comm/comm.h"
#include "core/status.h"

sr_status scorer_score_main(const sr_comm *comm, int argc, char **argv);

/* `seqrec info` for recs.h5. events/ owns `info` and knows nothing of the scorer (DESIGN.md
 * "Layout"), so the dispatcher asks scorer_info_handles first: 1 when the one file named on the
 * command line carries format "seqrec-recs", else 0 (for anything else, bad arguments
 * included, events_info_main answers). Records no error. */
int scorer_info_handles(int argc, char **argv);
sr_status scorer_info_main(const sr_comm *comm, int argc, char **argv);

#endif
