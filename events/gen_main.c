/* seqrec gen: being written. */
#include "events/cli.h"

sr_status events_gen_main(const sr_comm *comm, int argc, char **argv) {
  (void)comm; (void)argc; (void)argv;
  return sr_error(SR_ENOTBUILT, "seqrec gen is not built yet");
}
