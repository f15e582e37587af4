/*
 * opsrun.h: operator alerts inside gamify-processor: checking --alerts,
 * opening their delivery (projections/outbound/opsalert.h) when --alerts is
 * set or a webhook endpoint wants ops.alert, and hooking the Redis
 * projectors' memory guard to it.
 */
#ifndef GM_OPSRUN_H
#define GM_OPSRUN_H

#include "err.h"
#include "opsalert.h"
#include "redisproj.h"

#include <stddef.h>

/* Checks the form of alerts (may be NULL) and that it is not the
 * destination of out (may be NULL). Errors: GM_EINVAL, GM_EUNSUPPORTED. */
int gm_opsrun_check(const char *alerts, const char *out, struct gm_err *err);

/*
 * Opens the alerts' delivery to alerts (may be NULL) and to the endpoints
 * of the webhooks file (may be NULL) that want ops.alert, with a queue of
 * queue_max. *a is new (close with gm_opsalert_close), or NULL when there
 * is nowhere to deliver. Errors: those of gm_opsalert_open and
 * gm_webhook_config_load.
 */
int gm_opsrun_open(const char *alerts, const char *webhooks, size_t queue_max,
                   struct gm_opsalert **a, struct gm_err *err);

/* Hooks ro's memory guard to a (borrowed; it must outlive the projectors);
 * a NULL: nothing. */
void gm_opsrun_hook(struct gm_redisproj_opts *ro, struct gm_opsalert *a);

#endif
