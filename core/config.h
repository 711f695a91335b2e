/* The run configuration (DESIGN.md "Configuration"): schema with defaults, YAML loading with
 * libyaml, `--set key=value` overrides, validation, and the effective configuration as YAML
 * text (printed at start, saved with every output). Not for sweep files (those expand into
 * configs of this schema). */
#ifndef SR_CONFIG_H
#define SR_CONFIG_H

#include <stdint.h>

#include "core/status.h"

#define SR_PATH_MAX 4096

typedef enum { SR_SPLIT_LEAVE_ONE_OUT, SR_SPLIT_TEMPORAL } sr_split_kind;
typedef enum { SR_LOSS_CE, SR_LOSS_SAMPLED_CE, SR_LOSS_BCE } sr_loss_kind;
typedef enum { SR_PRECISION_FP32, SR_PRECISION_BF16 } sr_precision;
typedef enum { SR_DEVICE_AUTO, SR_DEVICE_CPU, SR_DEVICE_CUDA } sr_device_kind;

typedef struct {
  struct {
    char events[SR_PATH_MAX];   /* events.h5 */
    int max_len;                /* positions per training window */
    sr_split_kind split;
    int64_t split_time;         /* temporal split: seconds since epoch */
  } data;
  struct {
    int d_model;
    int n_layers;
    int n_heads;
    int d_ff;
    float dropout;
    char init_from[SR_PATH_MAX]; /* "" = random init */
  } model;
  struct {
    sr_loss_kind loss;
    int negatives;              /* sampled_ce: negatives per position */
    int batch_size;             /* sequences per rank per step */
    int epochs;
    float lr;
    float weight_decay;
    int warmup_steps;
    float grad_clip;            /* global-norm clip; 0 = off */
    uint64_t seed;
    sr_precision precision;
    int eval_every;             /* epochs between validations */
    int patience;               /* validations without improvement before stopping; 0 = off */
    char checkpoint[SR_PATH_MAX];
    int checkpoint_every;       /* epochs between checkpoints */
  } train;
  struct {
    sr_device_kind device;
    int threads;                /* 0 = all cores */
  } runtime;
  struct {
    char checkpoint[SR_PATH_MAX];
    int k;
    int exclude_seen;
    char output[SR_PATH_MAX];
  } score;
  char source[SR_PATH_MAX];     /* the file it was loaded from, "" for defaults only */
} sr_config;

/* The defaults of DESIGN.md. */
void sr_config_defaults(sr_config *cfg);
/* Loads a YAML file over the current values. Errors name the file, the key and line:column;
 * an unknown key gets "did you mean ...?". */
sr_status sr_config_load(sr_config *cfg, const char *path);
/* Applies one "section.key=value" override (the value is parsed as YAML scalar). */
sr_status sr_config_set(sr_config *cfg, const char *assignment);
/* Checks ranges and relations between keys (d_model divisible by n_heads, ...). */
sr_status sr_config_validate(const sr_config *cfg);
/* The common command-line handling of train/score/eval: -c FILE and --set k=v (any order),
 * defaults first, then the file, then the overrides, then validation. */
sr_status sr_config_from_args(sr_config *cfg, int argc, char **argv);
/* The effective configuration as YAML (every key, in schema order); *text is malloc'd. */
sr_status sr_config_to_yaml(const sr_config *cfg, char **text);
/* Prints the configuration as an aligned table on rank 0. */
void sr_config_print(const sr_config *cfg);

#endif
