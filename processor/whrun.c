/*
 * whrun.c: the webhook projector as gamify-processor runs it (see whrun.h).
 */
#include "whrun.h"

#include "log.h"
#include "webhook.h"

static int
wh_step(void *impl, struct gm_state *st, size_t max, size_t *n, struct gm_err *err)
{
    return gm_webhooks_step(impl, st, max, n, err);
}

static int64_t
wh_cursor(const void *impl)
{
    return gm_webhooks_cursor(impl);
}

static void
wh_close(void *impl)
{
    gm_webhooks_close(impl);
}

/* Per-endpoint backoff lives inside the projector; a failed step (the
 * state, not an endpoint) takes the runner's own. */
static const struct gm_projector_ops wh_ops = {"webhooks", wh_step, NULL, wh_cursor, wh_close};

int
gm_whrun_check(const char *path, struct gm_err *err)
{
    struct gm_webhook_config *cfg = NULL;
    int rc = gm_webhook_config_load(path, &cfg, err);
    gm_webhook_config_free(cfg);
    return rc;
}

int
gm_whrun_start(const char *path, const char *state_dir, struct gm_state *st,
               struct gm_projrun **run, const struct gm_webhooks **w, struct gm_err *err)
{
    struct gm_webhook_config *cfg = NULL;
    struct gm_webhooks *impl = NULL;
    int rc = gm_webhook_config_load(path, &cfg, err);
    if (rc)
        return rc;
    size_t n = cfg->n;
    if ((rc = gm_webhooks_open(cfg, state_dir, &impl, err)))
        return rc;
    if ((rc = gm_projrun_start(&wh_ops, impl, st, run, err)))
        return rc;
    *w = impl;
    gm_log(GM_LOG_INFO, "delivering webhooks to %zu endpoints (%s)", n, path);
    return 0;
}

void
gm_whrun_metrics(struct gm_metrics *m, const struct gm_webhooks *w, int64_t end)
{
    if (!w)
        return;
    struct gm_webhooks_stats s;
    gm_webhooks_stats(w, &s);
    int64_t cursor = gm_webhooks_cursor(w);
    atomic_store(&m->webhook_enabled, true);
    atomic_store(&m->webhook_deliveries, s.deliveries);
    atomic_store(&m->webhook_failures, s.failures);
    atomic_store(&m->webhook_retries, s.retries);
    atomic_store(&m->webhook_dead_letters, s.dead_letters);
    atomic_store(&m->webhook_lag_changes, cursor < 0 ? end : end - cursor);
}
