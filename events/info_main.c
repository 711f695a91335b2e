/* seqrec info: being written. */
#include "events/cli.h"

sr_status events_info_main(const sr_comm *comm, int argc, char **argv) {
  (void)comm; (void)argc; (void)argv;
  return sr_error(SR_ENOTBUILT, "seqrec info is not built yet");
}
