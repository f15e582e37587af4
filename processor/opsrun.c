/*
 * opsrun.c: operator alerts as gamify-processor runs them (see opsrun.h).
 */
#include "opsrun.h"

#include "log.h"
#include "logsrc.h"
#include "webhook.h"

#include <string.h>

int
gm_opsrun_check(const char *alerts, const char *out, struct gm_err *err)
{
    if (!alerts)
        return 0;
    int rc = gm_opsalert_check_uri(alerts, err);
    if (rc || !out)
        return rc;
    enum gm_logsrc_scheme sa, so;
    const char *ra, *ro;
    if (gm_logsrc_uri_parse(alerts, &sa, &ra, NULL) || gm_logsrc_uri_parse(out, &so, &ro, NULL))
        return 0; /* --out's own check says what is wrong with it */
    /* the outbound stream resumes after a crash by its own size and
     * records: nothing else may write into it */
    bool same =
        strcmp(ra, ro) == 0 && (sa == so || (sa != GM_LOGSRC_KAFKA && so != GM_LOGSRC_KAFKA));
    if (same)
        return gm_err_set(err, GM_EINVAL,
                          "--alerts %s: the same destination as --out %s; ops alerts need "
                          "their own (the outbound stream carries only the state's events)",
                          alerts, out);
    return 0;
}

int
gm_opsrun_open(const char *alerts, const char *webhooks, size_t queue_max, struct gm_opsalert **a,
               struct gm_err *err)
{
    *a = NULL;
    struct gm_webhook_config *wc = NULL;
    int rc = 0;
    size_t n_eps = 0;
    if (webhooks) {
        if ((rc = gm_webhook_config_load(webhooks, &wc, err)))
            return rc;
        for (size_t i = 0; i < wc->n; i++) {
            if (wc->endpoints[i].wants & GM_WH_OPS_ALERT)
                n_eps++;
        }
    }
    if (alerts || n_eps) {
        struct gm_opsalert_opts o = {.uri = alerts, .webhooks = wc, .queue_max = queue_max};
        if ((rc = gm_opsalert_open(&o, a, err)) == 0)
            gm_log(GM_LOG_INFO, "ops alerts to %s%s%zu webhook endpoints", alerts ? alerts : "",
                   alerts ? " and " : "", n_eps);
    }
    gm_webhook_config_free(wc);
    return rc;
}

void
gm_opsrun_hook(struct gm_redisproj_opts *ro, struct gm_opsalert *a)
{
    if (!a)
        return;
    ro->on_alert = gm_opsalert_emit_cb;
    ro->alert_ctx = a;
}
