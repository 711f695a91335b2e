/* The sweep file: reading it with libyaml's document API, checking every key and value against
 * the config schema, and the arithmetic of points (index ↔ values, folder, label, config).
 * Not for writing anything: plan/run/report live in their own files. */
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <yaml.h>

#include "core/arena.h"
#include "sweep/sweep.h"

/* A sweep file larger than this is almost surely the wrong file. */
#define SWEEP_FILE_MAX (1u << 20)

typedef struct {
  const char *file;
  yaml_document_t *doc;
} reader;

static sr_status at_fail(const reader *r, const yaml_node_t *n, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static sr_status at_fail(const reader *r, const yaml_node_t *n, const char *fmt, ...) {
  char problem[1500];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(problem, sizeof problem, fmt, ap);
  va_end(ap);
  return sr_error(SR_EINVAL, "%s:%d:%d: %s", r->file, n ? (int)n->start_mark.line + 1 : 1,
                  n ? (int)n->start_mark.column + 1 : 1, problem);
}

static const char *node_noun(const yaml_node_t *n) {
  switch (n->type) {
    case YAML_SCALAR_NODE: return "a single value";
    case YAML_SEQUENCE_NODE: return "a list";
    case YAML_MAPPING_NODE: return "a mapping";
    default: return "nothing";
  }
}

static const char *scalar(const yaml_node_t *n) { return (const char *)n->data.scalar.value; }

static int is_null(const yaml_node_t *n) {
  if (n->type != YAML_SCALAR_NODE || n->data.scalar.style != YAML_PLAIN_SCALAR_STYLE) return 0;
  const char *s = scalar(n);
  return !*s || strcmp(s, "~") == 0 || strcmp(s, "null") == 0 || strcmp(s, "Null") == 0 ||
         strcmp(s, "NULL") == 0;
}

static sr_status string_dup(const char *s, char **out) {
  const size_t n = strlen(s);
  TRY(sr_alloc(out, n + 1, 1, "sweep file text"));
  memcpy(*out, s, n + 1);
  return SR_OK;
}

static sr_status scalar_into(const reader *r, const yaml_node_t *n, const char *key, char *out,
                             size_t size) {
  if (n->type != YAML_SCALAR_NODE)
    return at_fail(r, n, "%s: expected a single value, got %s", key, node_noun(n));
  if (strlen(scalar(n)) >= size)
    return at_fail(r, n, "%s: longer than %zu characters", key, size - 1);
  snprintf(out, size, "%s", scalar(n));
  return SR_OK;
}

static sr_status int_read(const reader *r, const yaml_node_t *n, const char *key, int lo, int hi,
                          int *out) {
  if (n->type != YAML_SCALAR_NODE)
    return at_fail(r, n, "%s: expected a whole number, got %s", key, node_noun(n));
  char *end;
  errno = 0;
  const long v = strtol(scalar(n), &end, 10);
  if (end == scalar(n) || *end || errno || v < lo || v > hi)
    return at_fail(r, n, "%s: expected a whole number from %d to %d, got '%s'", key, lo, hi,
                   scalar(n));
  *out = (int)v;
  return SR_OK;
}

/* The "key=value" text sr_config_set reads: a quoted value stays a quoted string. */
static void assignment_format(const char *key, const sweep_value *v, char *out, size_t size) {
  if (!v->quoted) {
    snprintf(out, size, "%s=%s", key, v->text);
    return;
  }
  size_t n = (size_t)snprintf(out, size, "%s=\"", key);
  for (const char *s = v->text; *s && n + 3 < size; s++) {
    if (*s == '"' || *s == '\\') out[n++] = '\\';
    out[n++] = *s;
  }
  if (n + 2 <= size) out[n++] = '"';
  out[n < size ? n : size - 1] = '\0';
}

/* Applies key=value to cfg; a failure is placed at the value in the sweep file. */
static sr_status value_apply(const char *file, const char *key, const sweep_value *v,
                             sr_config *cfg) {
  char assignment[SR_PATH_MAX + 256];
  assignment_format(key, v, assignment, sizeof assignment);
  const sr_status st = sr_config_set(cfg, assignment);
  if (st == SR_OK) return SR_OK;
  char msg[2048];
  snprintf(msg, sizeof msg, "%s", sr_error_message());
  sr_error_clear();
  const char *m = strncmp(msg, "--set ", 6) == 0 ? msg + 6 : msg;
  return sr_error(st, "%s:%d:%d: %s", file, v->line, v->column, m);
}

static sr_status value_read(const reader *r, const yaml_node_t *n, const char *key,
                            sweep_value *v) {
  if (n->type != YAML_SCALAR_NODE)
    return at_fail(r, n, "%s: expected a single value, got %s", key, node_noun(n));
  TRY(string_dup(scalar(n), &v->text));
  v->quoted = n->data.scalar.style != YAML_PLAIN_SCALAR_STYLE;
  v->line = (int)n->start_mark.line + 1;
  v->column = (int)n->start_mark.column + 1;
  return SR_OK;
}

/* A config key named in the sweep: it must exist, and appear once in the whole file. */
static sr_status key_read(const reader *r, const sr_sweep *sw, const yaml_node_t *n, char **out) {
  if (n->type != YAML_SCALAR_NODE)
    return at_fail(r, n, "expected a config key (section.name), got %s", node_noun(n));
  const char *key = scalar(n);
  sr_config defaults;
  sr_config_defaults(&defaults);
  char value[SR_PATH_MAX + 64];
  if (sr_config_get(&defaults, key, value, sizeof value) != SR_OK) {
    char msg[1024];
    snprintf(msg, sizeof msg, "%s", sr_error_message());
    sr_error_clear();
    return at_fail(r, n, "%s", msg);
  }
  int seen = 0;
  for (int i = 0; i < sw->n_set; i++) seen |= strcmp(sw->set_keys[i], key) == 0;
  for (int a = 0; a < sw->n_axes; a++)
    for (int k = 0; k < sw->axes[a].n_keys; k++) seen |= strcmp(sw->axes[a].keys[k], key) == 0;
  if (seen) return at_fail(r, n, "%s: named twice in the sweep (set, grid and together take "
                           "each key once)", key);
  static const char *const own[] = {"train.checkpoint", "score.checkpoint", "score.output"};
  for (size_t i = 0; i < sizeof own / sizeof own[0]; i++)
    if (strcmp(key, own[i]) == 0)
      return at_fail(r, n, "%s: a sweep sets it itself (each point writes into run_dir/pNNN); "
                     "choose run_dir instead", key);
  return string_dup(key, out);
}

static sr_status set_read(const reader *r, sr_sweep *sw, const yaml_node_t *map) {
  if (map->type != YAML_MAPPING_NODE)
    return at_fail(r, map, "set: expected a mapping of config keys to values, got %s",
                   node_noun(map));
  const int n = (int)(map->data.mapping.pairs.top - map->data.mapping.pairs.start);
  TRY(sr_alloc(&sw->set_keys, (size_t)n + 1, sizeof *sw->set_keys, "sweep set"));
  TRY(sr_alloc(&sw->set_values, (size_t)n + 1, sizeof *sw->set_values, "sweep set"));
  for (yaml_node_pair_t *p = map->data.mapping.pairs.start; p < map->data.mapping.pairs.top; p++) {
    const yaml_node_t *k = yaml_document_get_node(r->doc, p->key);
    const yaml_node_t *v = yaml_document_get_node(r->doc, p->value);
    char *key = NULL;
    TRY(key_read(r, sw, k, &key));
    sw->set_keys[sw->n_set++] = key;
    TRY(value_read(r, v, key, &sw->set_values[sw->n_set - 1]));
  }
  return SR_OK;
}

/* Appends one axis made of the key → list pairs of `map` (one pair for a grid key). */
static sr_status axis_read(const reader *r, sr_sweep *sw, const yaml_node_pair_t *first,
                           int n_pairs) {
  if (sw->n_axes >= SWEEP_MAX_AXES) {
    const yaml_node_t *k = yaml_document_get_node(r->doc, first[0].key);
    return at_fail(r, k, "more than %d grid axes", SWEEP_MAX_AXES);
  }
  TRY(sr_realloc(&sw->axes, (size_t)sw->n_axes + 1, sizeof *sw->axes, "sweep axes"));
  sweep_axis *ax = &sw->axes[sw->n_axes++];
  memset(ax, 0, sizeof *ax);
  TRY(sr_alloc(&ax->keys, (size_t)n_pairs, sizeof *ax->keys, "sweep axis"));
  for (int i = 0; i < n_pairs; i++) {
    const yaml_node_t *k = yaml_document_get_node(r->doc, first[i].key);
    const yaml_node_t *list = yaml_document_get_node(r->doc, first[i].value);
    char *key = NULL;
    TRY(key_read(r, sw, k, &key));
    ax->keys[ax->n_keys++] = key;
    if (list->type != YAML_SEQUENCE_NODE)
      return at_fail(r, list, "%s: expected a list of values ([a, b, ...]), got %s", key,
                     node_noun(list));
    const int n = (int)(list->data.sequence.items.top - list->data.sequence.items.start);
    if (n == 0) return at_fail(r, list, "%s: the list of values is empty", key);
    if (i == 0) {
      ax->n_values = n;
      TRY(sr_alloc(&ax->values, (size_t)n_pairs * (size_t)n, sizeof *ax->values, "sweep values"));
    } else if (n != ax->n_values) {
      return at_fail(r, list, "%s: %d values, but %s has %d: keys under one `together` entry "
                     "move together, so their lists need one length", key, n, ax->keys[0],
                     ax->n_values);
    }
    for (int v = 0; v < n; v++) {
      const yaml_node_t *item = yaml_document_get_node(r->doc, list->data.sequence.items.start[v]);
      TRY(value_read(r, item, key, &ax->values[i * ax->n_values + v]));
    }
  }
  return SR_OK;
}

static sr_status grid_read(const reader *r, sr_sweep *sw, const yaml_node_t *map) {
  if (map->type != YAML_MAPPING_NODE)
    return at_fail(r, map, "grid: expected a mapping of config keys to lists of values, got %s",
                   node_noun(map));
  for (yaml_node_pair_t *p = map->data.mapping.pairs.start; p < map->data.mapping.pairs.top; p++)
    TRY(axis_read(r, sw, p, 1));
  return SR_OK;
}

static sr_status together_read(const reader *r, sr_sweep *sw, const yaml_node_t *seq) {
  if (seq->type != YAML_SEQUENCE_NODE)
    return at_fail(r, seq, "together: expected a list of groups (- key: [..]\\n  key: [..]), "
                   "got %s", node_noun(seq));
  for (yaml_node_item_t *it = seq->data.sequence.items.start; it < seq->data.sequence.items.top;
       it++) {
    const yaml_node_t *group = yaml_document_get_node(r->doc, *it);
    if (group->type != YAML_MAPPING_NODE)
      return at_fail(r, group, "together: each entry is a mapping of keys to lists of one "
                     "length, got %s", node_noun(group));
    const int n = (int)(group->data.mapping.pairs.top - group->data.mapping.pairs.start);
    if (n == 0) return at_fail(r, group, "together: an empty group");
    TRY(axis_read(r, sw, group->data.mapping.pairs.start, n));
  }
  return SR_OK;
}

static sr_status slurm_read(const reader *r, sr_sweep *sw, const yaml_node_t *map) {
  if (map->type != YAML_MAPPING_NODE)
    return at_fail(r, map, "slurm: expected a mapping, got %s", node_noun(map));
  for (yaml_node_pair_t *p = map->data.mapping.pairs.start; p < map->data.mapping.pairs.top; p++) {
    const yaml_node_t *k = yaml_document_get_node(r->doc, p->key);
    const yaml_node_t *v = yaml_document_get_node(r->doc, p->value);
    const char *key = k->type == YAML_SCALAR_NODE ? scalar(k) : "";
    if (strcmp(key, "max_parallel") == 0) {
      TRY(int_read(r, v, "slurm.max_parallel", 1, 100000, &sw->slurm.max_parallel));
    } else if (strcmp(key, "ntasks") == 0) {
      TRY(int_read(r, v, "slurm.ntasks", 1, 100000, &sw->slurm.ntasks));
    } else if (strcmp(key, "gpus_per_task") == 0) {
      TRY(int_read(r, v, "slurm.gpus_per_task", 0, 64, &sw->slurm.gpus_per_task));
    } else if (strcmp(key, "cpus_per_task") == 0) {
      TRY(int_read(r, v, "slurm.cpus_per_task", 1, 4096, &sw->slurm.cpus_per_task));
    } else if (strcmp(key, "time") == 0) {
      TRY(scalar_into(r, v, "slurm.time", sw->slurm.time, sizeof sw->slurm.time));
    } else if (strcmp(key, "sbatch") == 0) {
      if (is_null(v)) continue;
      if (v->type != YAML_SEQUENCE_NODE)
        return at_fail(r, v, "slurm.sbatch: expected a list of sbatch options "
                       "([\"--partition=gpu\"]), got %s", node_noun(v));
      const int n = (int)(v->data.sequence.items.top - v->data.sequence.items.start);
      TRY(sr_alloc(&sw->slurm.sbatch, (size_t)n + 1, sizeof *sw->slurm.sbatch, "sbatch options"));
      for (int i = 0; i < n; i++) {
        const yaml_node_t *o = yaml_document_get_node(r->doc, v->data.sequence.items.start[i]);
        if (o->type != YAML_SCALAR_NODE || strncmp(scalar(o), "--", 2) != 0 ||
            strchr(scalar(o), '\n'))
          return at_fail(r, o, "slurm.sbatch: each entry is one sbatch option on one line, "
                         "such as \"--partition=gpu\"");
        TRY(string_dup(scalar(o), &sw->slurm.sbatch[sw->slurm.n_sbatch]));
        sw->slurm.n_sbatch++;
      }
    } else {
      return at_fail(r, k, "slurm: unknown key '%s'; the keys are max_parallel, ntasks, "
                     "gpus_per_task, cpus_per_task, time, sbatch", key);
    }
  }
  return SR_OK;
}

static sr_status document_read(const reader *r, sr_sweep *sw) {
  const yaml_node_t *root = yaml_document_get_root_node(r->doc);
  if (!root) return sr_error(SR_EINVAL, "%s: empty; a sweep names at least `base:`", r->file);
  if (root->type != YAML_MAPPING_NODE)
    return at_fail(r, root, "a sweep file is a mapping (base:, grid:, ...), this is %s",
                   node_noun(root));
  int have_base = 0;
  for (yaml_node_pair_t *p = root->data.mapping.pairs.start; p < root->data.mapping.pairs.top;
       p++) {
    const yaml_node_t *k = yaml_document_get_node(r->doc, p->key);
    const yaml_node_t *v = yaml_document_get_node(r->doc, p->value);
    const char *key = k->type == YAML_SCALAR_NODE ? scalar(k) : "";
    if (strcmp(key, "base") == 0) {
      TRY(scalar_into(r, v, "base", sw->base, sizeof sw->base));
      have_base = 1;
    } else if (strcmp(key, "run_dir") == 0) {
      TRY(scalar_into(r, v, "run_dir", sw->run_dir, sizeof sw->run_dir));
    } else if (strcmp(key, "metric") == 0) {
      char text[64];
      TRY(scalar_into(r, v, "metric", text, sizeof text));
      if (sweep_metric_parse(text, &sw->metric) != SR_OK) {
        char msg[1024];
        snprintf(msg, sizeof msg, "%s", sr_error_message());
        sr_error_clear();
        return at_fail(r, v, "%s", msg);
      }
    } else if (strcmp(key, "set") == 0) {
      if (!is_null(v)) TRY(set_read(r, sw, v));
    } else if (strcmp(key, "grid") == 0) {
      if (!is_null(v)) TRY(grid_read(r, sw, v));
    } else if (strcmp(key, "together") == 0) {
      if (!is_null(v)) TRY(together_read(r, sw, v));
    } else if (strcmp(key, "slurm") == 0) {
      if (!is_null(v)) TRY(slurm_read(r, sw, v));
    } else {
      return at_fail(r, k, "unknown key '%s'; a sweep file has base, run_dir, metric, set, "
                     "grid, together and slurm", key);
    }
  }
  if (!have_base || !sw->base[0])
    return sr_error(SR_EINVAL, "%s: no `base:`; name the config every point starts from "
                    "(base: configs/demo.yaml)", r->file);
  return SR_OK;
}

/* Every value must suit its key on its own (types, ranges); relations between keys are
 * checked per point by sweep_point_config. */
static sr_status values_check(const sr_sweep *sw) {
  sr_config scratch;
  sr_config_defaults(&scratch);
  for (int i = 0; i < sw->n_set; i++)
    TRY(value_apply(sw->path, sw->set_keys[i], &sw->set_values[i], &scratch));
  for (int a = 0; a < sw->n_axes; a++)
    for (int k = 0; k < sw->axes[a].n_keys; k++)
      for (int v = 0; v < sw->axes[a].n_values; v++)
        TRY(value_apply(sw->path, sw->axes[a].keys[k],
                        &sw->axes[a].values[k * sw->axes[a].n_values + v], &scratch));
  return SR_OK;
}

static sr_status file_read(const char *path, char **text, size_t *length) {
  sr_status st = SR_OK;
  FILE *f = fopen(path, "rb");
  if (!f) return sr_error(SR_EIO, "cannot open sweep file %s: %s", path, strerror(errno));
  TRY_GOTO(sr_alloc(text, SWEEP_FILE_MAX + 1, 1, "sweep file"));
  *length = fread(*text, 1, SWEEP_FILE_MAX + 1, f);
  if (ferror(f)) FAIL_GOTO(SR_EIO, "cannot read sweep file %s: %s", path, strerror(errno));
  if (*length > SWEEP_FILE_MAX)
    FAIL_GOTO(SR_EINVAL, "%s: larger than %u bytes; is this a sweep file?", path, SWEEP_FILE_MAX);
cleanup:
  fclose(f);
  return st;
}

sr_status sweep_load(const char *path, sr_sweep *sw) {
  sr_status st = SR_OK;
  memset(sw, 0, sizeof *sw);
  sw->metric = (sr_metric_choice){0, SR_METRIC_NDCG10};
  sw->slurm.max_parallel = 4;
  sw->slurm.ntasks = 1;
  sw->slurm.gpus_per_task = 0;
  sw->slurm.cpus_per_task = 1;
  snprintf(sw->slurm.time, sizeof sw->slurm.time, "04:00:00");
  char *text = NULL;
  size_t length = 0;
  yaml_parser_t parser;
  yaml_document_t doc;
  int parser_ready = 0, doc_ready = 0;
  if (strlen(path) >= sizeof sw->path)
    return sr_error(SR_EINVAL, "sweep file name longer than %zu bytes", sizeof sw->path - 1);
  snprintf(sw->path, sizeof sw->path, "%s", path);
  const char *slash = strrchr(path, '/');
  snprintf(sw->name, sizeof sw->name, "%s", slash ? slash + 1 : path);
  char *ext = strrchr(sw->name, '.');
  if (ext && (strcmp(ext, ".yaml") == 0 || strcmp(ext, ".yml") == 0)) *ext = '\0';

  TRY_GOTO(file_read(path, &text, &length));
  if (!yaml_parser_initialize(&parser)) FAIL_GOTO(SR_ENOMEM, "out of memory parsing %s", path);
  parser_ready = 1;
  yaml_parser_set_input_string(&parser, (const unsigned char *)text, length);
  if (!yaml_parser_load(&parser, &doc)) {
    if (parser.error == YAML_MEMORY_ERROR) FAIL_GOTO(SR_ENOMEM, "out of memory parsing %s", path);
    FAIL_GOTO(SR_EINVAL, "%s:%d:%d: YAML syntax error: %s%s%s", path,
              (int)parser.problem_mark.line + 1, (int)parser.problem_mark.column + 1,
              parser.problem ? parser.problem : "unknown problem",
              parser.context ? " " : "", parser.context ? parser.context : "");
  }
  doc_ready = 1;
  reader r = {path, &doc};
  TRY_GOTO(document_read(&r, sw));
  if (!sw->run_dir[0]) snprintf(sw->run_dir, sizeof sw->run_dir, "runs/%s", sw->name);
  TRY_GOTO(values_check(sw));
  const int64_t n = sweep_point_count(sw);
  if (n > SWEEP_MAX_POINTS)
    FAIL_GOTO(SR_EINVAL, "%s: %lld points; more than %d is surely a mistake (split the sweep)",
              path, (long long)n, SWEEP_MAX_POINTS);
cleanup:
  if (doc_ready) yaml_document_delete(&doc);
  if (parser_ready) yaml_parser_delete(&parser);
  sr_free(text);
  return st;
}

static void value_free(sweep_value *v) { sr_free(v->text); }

void sweep_free(sr_sweep *sw) {
  for (int i = 0; i < sw->n_set; i++) {
    sr_free(sw->set_keys[i]);
    value_free(&sw->set_values[i]);
  }
  sr_free(sw->set_keys);
  sr_free(sw->set_values);
  for (int a = 0; a < sw->n_axes; a++) {
    sweep_axis *ax = &sw->axes[a];
    if (ax->values)
      for (int k = 0; k < ax->n_keys; k++)
        for (int v = 0; v < ax->n_values; v++) value_free(&ax->values[k * ax->n_values + v]);
    for (int k = 0; k < ax->n_keys; k++) sr_free(ax->keys[k]);
    sr_free(ax->keys);
    sr_free(ax->values);
  }
  sr_free(sw->axes);
  for (int i = 0; i < sw->slurm.n_sbatch; i++) sr_free(sw->slurm.sbatch[i]);
  sr_free(sw->slurm.sbatch);
  memset(sw, 0, sizeof *sw);
}

/* ---- points ------------------------------------------------------------------------------- */

int64_t sweep_point_count(const sr_sweep *sw) {
  int64_t n = 1;
  for (int a = 0; a < sw->n_axes; a++) {
    n *= sw->axes[a].n_values;
    if (n > SWEEP_MAX_POINTS) return SWEEP_MAX_POINTS + 1;
  }
  return n;
}

void sweep_point_choice(const sr_sweep *sw, int64_t point, int *choice) {
  for (int a = sw->n_axes - 1; a >= 0; a--) {
    choice[a] = (int)(point % sw->axes[a].n_values);
    point /= sw->axes[a].n_values;
  }
}

int sweep_point_dir(const sr_sweep *sw, int64_t point, char *out, size_t size) {
  return snprintf(out, size, "%s/p%03lld", sw->run_dir, (long long)point);
}

void sweep_point_label(const sr_sweep *sw, int64_t point, char *out, size_t size) {
  int choice[SWEEP_MAX_AXES];
  sweep_point_choice(sw, point, choice);
  size_t used = 0;
  out[0] = '\0';
  for (int a = 0; a < sw->n_axes; a++)
    for (int k = 0; k < sw->axes[a].n_keys && used < size; k++) {
      const char *key = sw->axes[a].keys[k];
      const char *leaf = strrchr(key, '.') ? strrchr(key, '.') + 1 : key;
      const sweep_value *v = &sw->axes[a].values[k * sw->axes[a].n_values + choice[a]];
      used += (size_t)snprintf(out + used, size - used, "%s%s=%s", used ? " " : "", leaf, v->text);
    }
}

sr_status sweep_point_config(const sr_sweep *sw, int64_t point, sr_config *cfg) {
  int choice[SWEEP_MAX_AXES];
  sweep_point_choice(sw, point, choice);
  sr_config_defaults(cfg);
  sr_status st = sr_config_load(cfg, sw->base);
  if (st != SR_OK) {
    sr_error_context("the base config of sweep %s", sw->path);
    return st;
  }
  for (int i = 0; i < sw->n_set; i++)
    TRY(value_apply(sw->path, sw->set_keys[i], &sw->set_values[i], cfg));
  for (int a = 0; a < sw->n_axes; a++)
    for (int k = 0; k < sw->axes[a].n_keys; k++)
      TRY(value_apply(sw->path, sw->axes[a].keys[k],
                      &sw->axes[a].values[k * sw->axes[a].n_values + choice[a]], cfg));
  char dir[SR_PATH_MAX];
  sweep_point_dir(sw, point, dir, sizeof dir);
  /* Zero-filled, as the config module keeps its strings, so configs compare with memcmp. */
  memset(cfg->train.checkpoint, 0, sizeof cfg->train.checkpoint);
  memset(cfg->score.checkpoint, 0, sizeof cfg->score.checkpoint);
  memset(cfg->score.output, 0, sizeof cfg->score.output);
  const int n1 = snprintf(cfg->train.checkpoint, sizeof cfg->train.checkpoint, "%s/train.checkpoint", dir);
  const int n2 = snprintf(cfg->score.checkpoint, sizeof cfg->score.checkpoint, "%s/train.checkpoint", dir);
  const int n3 = snprintf(cfg->score.output, sizeof cfg->score.output, "%s/recs.h5", dir);
  if (n1 < 0 || n2 < 0 || n3 < 0 || (size_t)n1 >= sizeof cfg->train.checkpoint ||
      (size_t)n2 >= sizeof cfg->score.checkpoint || (size_t)n3 >= sizeof cfg->score.output)
    return sr_error(SR_EINVAL, "%s: run_dir '%s' is too long", sw->path, sw->run_dir);
  st = sr_config_validate(cfg);
  if (st != SR_OK) {
    char label[512];
    sweep_point_label(sw, point, label, sizeof label);
    sr_error_context("point p%03lld of %s: %s", (long long)point, sw->path, label);
  }
  return st;
}
