/* Learning-rate schedule and clipping factor: pure host functions of their arguments, so the
 * trainer can log, resume and test them without a backend. Not the optimizer update itself. */
#include <math.h>
#include <string.h>

#include "kernels/kernels.h"

#define SR_PI 3.14159265358979323846

double kernel_lr_at(const sr_lr_schedule *s, int64_t step) {
  if (step < 1) step = 1;
  if (s->warmup_steps > 0 && step <= s->warmup_steps)
    return s->base_lr * (double)step / (double)s->warmup_steps;
  if (s->kind == SR_LR_CONSTANT) return s->base_lr;
  const int64_t span = s->total_steps - s->warmup_steps;
  if (span <= 0) return s->min_lr;
  double progress = (double)(step - s->warmup_steps) / (double)span;
  if (progress > 1.0) progress = 1.0;
  const double range = s->base_lr - s->min_lr;
  if (s->kind == SR_LR_COSINE) return s->min_lr + range * 0.5 * (1.0 + cos(SR_PI * progress));
  return s->base_lr - range * progress;
}

sr_status kernel_lr_kind_parse(const char *name, sr_lr_kind *out) {
  static const struct {
    const char *name;
    sr_lr_kind kind;
  } kinds[] = {{"constant", SR_LR_CONSTANT}, {"cosine", SR_LR_COSINE}, {"linear", SR_LR_LINEAR}};
  for (size_t i = 0; i < sizeof kinds / sizeof kinds[0]; i++)
    if (strcmp(name, kinds[i].name) == 0) {
      *out = kinds[i].kind;
      return SR_OK;
    }
  return sr_error(SR_EINVAL, "unknown learning-rate schedule '%s': use constant, cosine or linear",
                  name);
}

double kernel_clip_scale(double norm, double max_norm) {
  if (max_norm <= 0.0 || norm <= max_norm) return 1.0;
  return max_norm / norm;
}
