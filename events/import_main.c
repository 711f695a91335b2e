/* seqrec import: being written. */
#include "events/cli.h"

sr_status events_import_main(const sr_comm *comm, int argc, char **argv) {
  (void)comm; (void)argc; (void)argv;
  return sr_error(SR_ENOTBUILT, "seqrec import is not built yet");
}
