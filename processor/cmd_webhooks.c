/*
 * cmd_webhooks.c: `gamify webhooks list --state DIR` prints the webhook
 * dead letters (JSON lines); `gamify webhooks retry --state DIR --webhooks
 * FILE` sends them again and removes those answered 2xx. Both work beside a
 * running processor (the delivery state is its own LMDB environment).
 */
#include "cmd_util.h"
#include "commands.h"
#include "log.h"
#include "webhook.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

/* gamify webhooks list with its settings parsed: an exit status. */
static int
webhooks_list(const struct gm_config *opt)
{
    struct gm_err err;
    gm_err_clear(&err);
    if (gm_webhooks_dead_list(gm_config_str(opt, "state"), stdout, &err)) {
        fprintf(stderr, "gamify webhooks list: %s\n", err.msg);
        return 2;
    }
    return 0;
}

/* gamify webhooks retry with its settings parsed: an exit status. */
static int
webhooks_retry(const struct gm_config *opt)
{
    const char *state = gm_config_str(opt, "state"), *file = gm_config_str(opt, "webhooks");
    if (!file) {
        fprintf(stderr, "gamify webhooks retry: --webhooks FILE is required\n");
        return 2;
    }
    struct gm_err err;
    gm_err_clear(&err);
    struct gm_webhook_config *cfg = NULL;
    uint64_t sent = 0, left = 0;
    int rc = gm_webhook_config_load(file, &cfg, &err);
    if (rc == 0)
        rc = gm_webhooks_dead_retry(cfg, state, &sent, &left, &err);
    gm_webhook_config_free(cfg);
    if (rc) {
        fprintf(stderr, "gamify webhooks retry: %s\n", err.msg);
        return 2;
    }
    printf("sent %llu dead letters, %llu left\n", (unsigned long long)sent,
           (unsigned long long)left);
    return left ? 1 : 0;
}

static const struct gm_setting settings[] = {
    {"state", GM_SET_STRING, NULL, 0, 0, true,
     "the state folder (a kafka:// log: STATE/partition-N)"},
    {"webhooks", GM_SET_STRING, NULL, 0, 0, false,
     "the webhooks YAML file (retry: where each dead letter goes now)"},
};

static const struct gm__command webhooks_cmd = {
    "webhooks",
    "list|retry --state DIR [--webhooks FILE]",
    "list: the webhook dead letters of the state, one JSON line each.\n"
    "retry: sends each again (fresh signature) to its endpoint in FILE; those answered\n"
    "2xx are removed, the others kept (exit 1 when some are left).\n",
    settings,
    sizeof settings / sizeof *settings,
    0};

int
gm_cmd_webhooks(int argc, char **argv)
{
    const char *verb = argc > 1 ? argv[1] : "";
    bool list = strcmp(verb, "list") == 0, retry = strcmp(verb, "retry") == 0;
    if (!list && !retry) {
        if (!strcmp(verb, "--help") || !strcmp(verb, "-h")) {
            gm__command_usage(&webhooks_cmd, stdout);
            return 0;
        }
        gm__command_usage(&webhooks_cmd, stderr);
        return 2;
    }
    return gm__command_run(&webhooks_cmd, argc - 1, argv + 1,
                           list ? webhooks_list : webhooks_retry);
}
