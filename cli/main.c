/* seqrec: one binary, subcommands dispatched to the *_main of their folders.
 * Turns the status of a subcommand into the exit code: 0 ok, 1 user error, 2 internal fault. */
#include <stdio.h>
#include <string.h>

#include "comm/comm.h"
#include "core/log.h"
#include "core/status.h"
#include "events/cli.h"
#include "scorer/cli.h"
#include "sweep/cli.h"
#include "trainer/eval.h"
#include "trainer/train.h"

typedef sr_status (*command_fn)(const sr_comm *comm, int argc, char **argv);

/* info: each folder describes its own files. events/ owns the command and knows nothing of the
 * scorer (DESIGN.md "Layout"), so recs.h5 files are routed to scorer/ here. */
static sr_status info_main(const sr_comm *comm, int argc, char **argv) {
  if (scorer_info_handles(argc, argv)) return scorer_info_main(comm, argc, argv);
  return events_info_main(comm, argc, argv);
}

typedef struct {
  const char *name;
  command_fn run; /* NULL: not built yet */
  const char *usage;
} command;

static const command commands[] = {
    {"import", events_import_main,
     "import --format csv|tsv|movielens|sasrec|taobao [--user COL --item COL --time COL --type COL]\n"
     "         [--min-user-events N] [--min-item-events N] [--dedupe] [--skip-bad] IN... -o events.h5"},
    {"gen", events_gen_main,
     "gen --users N --items M --events E [--seed S] [--signal P] [--types] [--content-dim D]\n"
     "         [--quiet] -o events.h5"},
    {"info", info_main, "info FILE.h5"},
    {"train", trainer_train_main, "train -c config.yaml [--set key=value]..."},
    {"score", scorer_score_main, "score -c config.yaml [--set key=value]..."},
    {"eval", trainer_eval_main, "eval -c config.yaml [--set key=value]..."},
    {"report", sweep_report_main, "report RUN_DIR [-o PNG]"},
    {"sweep", sweep_sweep_main, "sweep plan|run|report SWEEP.yaml [--metric M]"},
    {"bench", NULL, "bench train|score|comm [...]"},
};
enum { n_commands = sizeof commands / sizeof commands[0] };

static void print_usage(FILE *out) {
  fprintf(out, "seqrec %s: sequential recommendation, trained and scored in batch\n\nusage:\n",
          SEQREC_VERSION);
  for (int i = 0; i < n_commands; i++)
    fprintf(out, "  seqrec %s%s\n", commands[i].usage, commands[i].run ? "" : "   (not built yet)");
  fprintf(out, "\nRun under mpirun -np N or srun for several ranks. `seqrec CMD --help` for details.\n");
}

int main(int argc, char **argv) {
  if (argc < 2 || strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0 ||
      strcmp(argv[1], "help") == 0) {
    print_usage(argc < 2 ? stderr : stdout);
    return argc < 2 ? 1 : 0;
  }
  if (strcmp(argv[1], "--version") == 0 || strcmp(argv[1], "version") == 0) {
    printf("seqrec %s\n", SEQREC_VERSION);
    return 0;
  }
  const command *cmd = NULL;
  for (int i = 0; i < n_commands; i++)
    if (strcmp(argv[1], commands[i].name) == 0) cmd = &commands[i];
  if (!cmd) {
    fprintf(stderr, "seqrec: unknown command '%s'\n\n", argv[1]);
    print_usage(stderr);
    return 1;
  }

  /* Config-driven commands share one option parser (core/config.h); their help is the usage
   * row and where the keys are documented. Others parse their own options, -h included. */
  if (strstr(cmd->usage, "-c config.yaml"))
    for (int i = 2; i < argc; i++)
      if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
        printf("usage: seqrec %s\n\nEvery key, its default and meaning: configs/default.yaml.\n",
               cmd->usage);
        return 0;
      }

  sr_comm comm = {0};
  sr_status st = sr_comm_init(&comm, &argc, &argv);
  if (st == SR_OK) {
    if (cmd->run)
      st = cmd->run(&comm, argc - 1, argv + 1);
    else
      st = sr_error(SR_ENOTBUILT, "seqrec %s is not built yet", cmd->name);
  }
  if (st == SR_EINTERRUPTED) {
    if (comm.rank == 0) fprintf(stderr, "seqrec: %s\n", sr_error_message());
  } else if (st != SR_OK) {
    sr_log_error("%s", sr_error_message());
  }
  sr_comm_finalize(&comm);
  return sr_status_exit_code(st);
}
