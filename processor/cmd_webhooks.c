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

#include <getopt.h>
#include <stdio.h>
#include <string.h>

int
gm_cmd_webhooks(int argc, char **argv)
{
    const char *state = gm__env_or("GAMIFY_STATE", NULL);
    const char *file = gm__env_or("GAMIFY_WEBHOOKS", NULL);
    static const struct option longopts[] = {
        {"state", required_argument, NULL, 's'},
        {"webhooks", required_argument, NULL, 'w'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *verb = argc > 1 ? argv[1] : "";
    int c;
    optind = 2;
    while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
        switch (c) {
        case 's':
            state = optarg;
            break;
        case 'w':
            file = optarg;
            break;
        case 'h':
            printf("usage: gamify webhooks list --state DIR\n"
                   "       gamify webhooks retry --state DIR --webhooks FILE\n"
                   "list: the webhook dead letters of the state, one JSON line each.\n"
                   "retry: sends each again (fresh signature) to its endpoint in FILE;\n"
                   "those answered 2xx are removed, the others kept.\n"
                   "Environment: GAMIFY_STATE, GAMIFY_WEBHOOKS.\n");
            return 0;
        default:
            return 2;
        }
    }
    bool list = strcmp(verb, "list") == 0, retry = strcmp(verb, "retry") == 0;
    if ((!list && !retry) || !state || (retry && !file)) {
        fprintf(stderr, "usage: gamify webhooks list --state DIR | retry --state DIR "
                        "--webhooks FILE\n");
        return 2;
    }
    struct gm_err err;
    gm_err_clear(&err);
    if (list) {
        if (gm_webhooks_dead_list(state, stdout, &err)) {
            fprintf(stderr, "gamify webhooks list: %s\n", err.msg);
            return 2;
        }
        return 0;
    }
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
