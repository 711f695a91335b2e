/* seqrec gen: the command line of the synthetic log generator (gen.h says what it makes).
 * Under mpirun rank 0 alone generates; the others wait for it and share its verdict. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/log.h"
#include "events/cli.h"
#include "events/gen.h"

static const char gen_usage[] =
    "usage: seqrec gen --users N --items M --events E [--seed S] [--signal P] [--types]\n"
    "                  [--content-dim D] -o events.h5\n"
    "  --signal P       probability that an event is the successor of the previous item (0.5)\n"
    "  --types          add event types view/cart/purchase\n"
    "  --content-dim D  add /items/content, D floats per item hinting at its successor\n"
    "  --quiet          no progress line";

static sr_status parse_i64(const char *option, const char *text, int64_t *value) {
  char *end = NULL;
  errno = 0;
  long long v = strtoll(text, &end, 10);
  if (errno != 0 || end == text || *end != '\0')
    return sr_error(SR_EINVAL, "%s: '%s' is not a whole number", option, text);
  *value = v;
  return SR_OK;
}

static sr_status parse_u64(const char *option, const char *text, uint64_t *value) {
  char *end = NULL;
  errno = 0;
  if (text[0] == '-') return sr_error(SR_EINVAL, "%s: '%s' must not be negative", option, text);
  unsigned long long v = strtoull(text, &end, 10);
  if (errno != 0 || end == text || *end != '\0')
    return sr_error(SR_EINVAL, "%s: '%s' is not a whole number", option, text);
  *value = v;
  return SR_OK;
}

static sr_status parse_f64(const char *option, const char *text, double *value) {
  char *end = NULL;
  errno = 0;
  double v = strtod(text, &end);
  if (errno != 0 || end == text || *end != '\0')
    return sr_error(SR_EINVAL, "%s: '%s' is not a number", option, text);
  *value = v;
  return SR_OK;
}

/* "--name value" or "--name=value": *value set and *i advanced; NULL when argv[*i] is not it. */
static sr_status option_value(int argc, char **argv, int *i, const char *name, const char **value) {
  size_t n = strlen(name);
  *value = NULL;
  if (strncmp(argv[*i], name, n) != 0) return SR_OK;
  if (argv[*i][n] == '=') {
    *value = argv[*i] + n + 1;
  } else if (argv[*i][n] == '\0') {
    if (*i + 1 >= argc) return sr_error(SR_EINVAL, "%s needs a value\n%s", name, gen_usage);
    *value = argv[++*i];
  }
  return SR_OK;
}

typedef struct {
  sr_gen_opts gen;
  const char *output;
  int help;
  int has_users, has_items, has_events;
} gen_args;

static sr_status parse_args(int argc, char **argv, gen_args *a) {
  memset(a, 0, sizeof *a);
  a->gen.seed = 1;
  a->gen.signal = 0.5;
  a->gen.progress = 1;
  for (int i = 1; i < argc; i++) {
    const char *v = NULL;
    const char *arg = argv[i];
    if (strcmp(arg, "-h") == 0 || strcmp(arg, "--help") == 0) {
      a->help = 1;
      return SR_OK;
    }
    if (strcmp(arg, "--types") == 0) {
      a->gen.types = 1;
      continue;
    }
    if (strcmp(arg, "--quiet") == 0) {
      a->gen.progress = 0;
      continue;
    }
    if (strcmp(arg, "-o") == 0) {
      if (i + 1 >= argc) return sr_error(SR_EINVAL, "-o needs a file name\n%s", gen_usage);
      a->output = argv[++i];
      continue;
    }
    TRY(option_value(argc, argv, &i, "--output", &v));
    if (v) {
      a->output = v;
      continue;
    }
    TRY(option_value(argc, argv, &i, "--users", &v));
    if (v) {
      a->has_users = 1;
      TRY(parse_i64("--users", v, &a->gen.n_users));
      continue;
    }
    TRY(option_value(argc, argv, &i, "--items", &v));
    if (v) {
      a->has_items = 1;
      TRY(parse_i64("--items", v, &a->gen.n_items));
      continue;
    }
    TRY(option_value(argc, argv, &i, "--events", &v));
    if (v) {
      a->has_events = 1;
      TRY(parse_i64("--events", v, &a->gen.n_events));
      continue;
    }
    TRY(option_value(argc, argv, &i, "--seed", &v));
    if (v) {
      TRY(parse_u64("--seed", v, &a->gen.seed));
      continue;
    }
    TRY(option_value(argc, argv, &i, "--signal", &v));
    if (v) {
      TRY(parse_f64("--signal", v, &a->gen.signal));
      continue;
    }
    TRY(option_value(argc, argv, &i, "--content-dim", &v));
    if (v) {
      int64_t d = 0;
      TRY(parse_i64("--content-dim", v, &d));
      if (d < 0 || d > 4096)
        return sr_error(SR_EINVAL, "--content-dim must be between 0 (none) and 4096, not %lld",
                        (long long)d);
      a->gen.content_dim = (int)d;
      continue;
    }
    return sr_error(SR_EINVAL, "gen: unknown option '%s'\n%s", arg, gen_usage);
  }
  if (!a->has_users) return sr_error(SR_EINVAL, "--users is required\n%s", gen_usage);
  if (!a->has_items) return sr_error(SR_EINVAL, "--items is required\n%s", gen_usage);
  if (!a->has_events) return sr_error(SR_EINVAL, "--events is required\n%s", gen_usage);
  if (!a->output || !a->output[0])
    return sr_error(SR_EINVAL, "-o is required: where to write events.h5\n%s", gen_usage);
  return sr_gen_validate(&a->gen);
}

static double share(int64_t part, int64_t whole) {
  return whole > 0 ? (double)part / (double)whole : 0.0;
}

static void print_summary(const gen_args *a, const sr_gen_stats *s) {
  const sr_gen_opts *g = &a->gen;
  sr_info("gen: wrote %s: %lld users, %lld items, %lld events (seed %llu, fingerprint %s)",
          a->output, (long long)g->n_users, (long long)g->n_items, (long long)g->n_events,
          (unsigned long long)g->seed, s->fingerprint);
  sr_info("  histories      %lld to %lld events, mean %.1f", (long long)s->min_history,
          (long long)s->max_history, (double)g->n_events / (double)g->n_users);
  sr_info("  planted signal P = %.3f: the next item is the successor of the previous one with "
          "probability P, else a Zipf(1.0) popularity draw", g->signal);
  sr_info("  next-item accuracy over %lld transitions: successor oracle top-1 %.4f; "
          "popularity top-1 %.4f, top-10 %.4f", (long long)s->transitions,
          share(s->followed, s->transitions), share(s->top1_hits, s->transitions),
          share(s->top10_hits, s->transitions));
  if (g->types) {
    int64_t n = s->type_counts[0] + s->type_counts[1] + s->type_counts[2];
    sr_info("  event types    view %.1f%%, cart %.1f%%, purchase %.1f%%",
            100 * share(s->type_counts[0], n), 100 * share(s->type_counts[1], n),
            100 * share(s->type_counts[2], n));
  }
  if (g->content_dim > 0)
    sr_info("  content        %d dims per item: the noisy centroid of its successor's group",
            g->content_dim);
}

sr_status events_gen_main(const sr_comm *comm, int argc, char **argv) {
  gen_args a;
  sr_status st = parse_args(argc, argv, &a);
  if (st == SR_OK && a.help) {
    sr_info("%s", gen_usage);
    return SR_OK;
  }
  /* Every rank parsed the same arguments, so a usage error is already everyone's. */
  if (st != SR_OK) return st;

  char source[512];
  snprintf(source, sizeof source,
           "seqrec gen --users %lld --items %lld --events %lld --seed %llu --signal %g%s",
           (long long)a.gen.n_users, (long long)a.gen.n_items, (long long)a.gen.n_events,
           (unsigned long long)a.gen.seed, a.gen.signal, a.gen.types ? " --types" : "");
  if (a.gen.content_dim > 0) {
    size_t used = strlen(source);
    snprintf(source + used, sizeof source - used, " --content-dim %d", a.gen.content_dim);
  }
  a.gen.source = source;

  sr_gen_stats stats;
  if (comm->rank == 0) {
    st = sr_gen_write(a.output, &a.gen, &stats);
    if (st == SR_OK) print_summary(&a, &stats);
  }
  if (comm->size > 1) st = sr_comm_agree(comm, st);
  return st;
}
