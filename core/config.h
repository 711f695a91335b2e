/* The run configuration (DESIGN.md "Configuration"): schema with defaults, YAML loading with
 * libyaml, `--set key=value` overrides, validation, and the effective configuration as YAML
 * text (printed at start, saved with every output). Not for sweep files (those expand into
 * configs of this schema). */
#ifndef SR_CONFIG_H
#define SR_CONFIG_H

#include <stddef.h>
#include <stdint.h>

#include "core/status.h"

#define SR_PATH_MAX 4096

typedef enum { SR_SPLIT_LEAVE_ONE_OUT, SR_SPLIT_TEMPORAL } sr_split_kind;
typedef enum { SR_LOSS_CE, SR_LOSS_SAMPLED_CE, SR_LOSS_BCE } sr_loss_kind;
typedef enum { SR_PRECISION_FP32, SR_PRECISION_BF16 } sr_precision;
typedef enum { SR_DEVICE_AUTO, SR_DEVICE_CPU, SR_DEVICE_CUDA } sr_device_kind;
/* score.new_items: whether items the checkpoint was not trained on may be recommended. */
typedef enum {
  SR_NEW_ITEMS_AUTO,    /* include with a content model, else exclude */
  SR_NEW_ITEMS_EXCLUDE, /* never recommended */
  SR_NEW_ITEMS_INCLUDE, /* candidates like every other item (needs content vectors) */
  SR_NEW_ITEMS_ONLY     /* the only candidates: a shelf of new items (needs content vectors) */
} sr_new_items_kind;
/* train.schedule. kernels/kernels.h numbers its sr_lr_kind differently: convert with a switch. */
typedef enum { SR_SCHEDULE_CONSTANT, SR_SCHEDULE_LINEAR, SR_SCHEDULE_COSINE } sr_schedule_kind;

/* data.split_time when it is not set (`split_time: null`). */
#define SR_SPLIT_TIME_UNSET INT64_MIN

typedef struct {
  struct {
    char events[SR_PATH_MAX];   /* events.h5 */
    int max_len;                /* positions per training window */
    sr_split_kind split;
    int64_t split_time;         /* temporal split: seconds since epoch; SR_SPLIT_TIME_UNSET */
    int64_t train_since;        /* train on targets at or after it only; SR_SPLIT_TIME_UNSET = all */
  } data;
  struct {
    int d_model;
    int n_layers;
    int n_heads;
    int d_ff;
    float dropout;
    char init_from[SR_PATH_MAX]; /* "" = random init */
    int init_optimizer;         /* init_from: carry the Adam moments over too */
    int item_content;           /* add a learned projection of /items/content to the item table */
  } model;
  struct {
    sr_loss_kind loss;
    int negatives;              /* sampled_ce: negatives per position */
    int batch_size;             /* sequences per rank per step */
    int epochs;
    float lr;
    float weight_decay;
    int warmup_steps;
    sr_schedule_kind schedule;  /* learning rate after warm-up */
    float grad_clip;            /* global-norm clip; 0 = off */
    uint64_t seed;
    sr_precision precision;
    int eval_every;             /* epochs between validations */
    int patience;               /* validations without improvement before stopping; 0 = off */
    char checkpoint[SR_PATH_MAX];
    int checkpoint_every;       /* epochs between checkpoints */
    int max_steps;              /* stop (checkpointed) after this many updates; 0 = no limit */
    int max_nonfinite_steps;    /* stop after this many non-finite steps in a row; 0 = never */
  } train;
  struct {
    sr_device_kind device;
    int threads;                /* 0 = all cores */
  } runtime;
  struct {
    char checkpoint[SR_PATH_MAX];
    int k;
    int exclude_seen;           /* boolean */
    char output[SR_PATH_MAX];
    char users[SR_PATH_MAX];    /* file of raw user ids to score, one per line; "" = all */
    char user_range[64];        /* "BEGIN:END" dense user ids to score; "" = all */
    sr_new_items_kind new_items; /* items of events.h5 the checkpoint lacks */
  } score;
  char source[SR_PATH_MAX];     /* the file it was loaded from, "" for defaults only */
} sr_config;

/* The defaults of DESIGN.md (they live in the schema table of config.c). */
void sr_config_defaults(sr_config *cfg);
/* Loads a YAML file over the current values; keys it does not name keep theirs, so an empty
 * file changes nothing. Errors name the file, line:column and the dotted key; an unknown key
 * gets "did you mean ...?". On any error the configuration is left as it was. */
sr_status sr_config_load(sr_config *cfg, const char *path);
/* Applies one "section.key=value" override (the value is parsed as YAML scalar). On any error
 * the configuration is left as it was. */
sr_status sr_config_set(sr_config *cfg, const char *assignment);
/* One key's value as YAML scalar text ("0.001", "runs/x/ckpt.h5", "null"): for sweep reports
 * and run summaries. SR_EINVAL for an unknown key. */
sr_status sr_config_get(const sr_config *cfg, const char *key, char *out, size_t size);
/* Checks ranges and relations between keys (d_model divisible by n_heads, ...). */
sr_status sr_config_validate(const sr_config *cfg);
/* The common command-line handling of train/score/eval: -c FILE and --set k=v (any order),
 * defaults first, then the file, then the overrides, then validation. */
sr_status sr_config_from_args(sr_config *cfg, int argc, char **argv);
/* The effective configuration as YAML (every key, in schema order, each with its help as a
 * comment); loading it back gives the same values. Free *text with sr_free. */
sr_status sr_config_to_yaml(const sr_config *cfg, char **text);
/* Prints the configuration as an aligned table on rank 0. */
void sr_config_print(const sr_config *cfg);

#endif
