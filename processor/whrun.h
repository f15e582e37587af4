/*
 * whrun.h: the webhook projector (projections/outbound) inside
 * gamify-processor: checking --webhooks, starting it in a projector thread
 * (projrun.h) and its figures for /metrics.
 */
#ifndef GM_WHRUN_H
#define GM_WHRUN_H

#include "err.h"
#include "metrics.h"
#include "projrun.h"
#include "state.h"

struct gm_webhooks;

/* Loads the webhooks file at path to check it. Errors: as
 * gm_webhook_config_load. */
int gm_whrun_check(const char *path, struct gm_err *err);

/*
 * Starts the webhook projector of the state st (in state_dir) configured by
 * path. *run is new (stop it with gm_projrun_stop); *w is borrowed from it
 * for metrics until then.
 */
int gm_whrun_start(const char *path, const char *state_dir, struct gm_state *st,
                   struct gm_projrun **run, const struct gm_webhooks **w, struct gm_err *err);

/* Copies w's counters into m (w NULL: nothing); end is the change feed's end. */
void gm_whrun_metrics(struct gm_metrics *m, const struct gm_webhooks *w, int64_t end);

#endif
