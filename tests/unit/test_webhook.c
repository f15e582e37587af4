/*
 * test_webhook.c: the webhooks configuration (every mistake an error with
 * its line), the signature (a known HMAC-SHA256 vector, computed with
 * `openssl dgst -sha256 -hmac`) and the JSON body a receiver gets.
 */
#include "webhook.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static char dir[64];

static void
setup(void)
{
    strcpy(dir, "/tmp/gm-webhook-XXXXXX");
    cr_assert_not_null(mkdtemp(dir));
    char path[128];
    snprintf(path, sizeof path, "%s/s.secret", dir);
    FILE *f = fopen(path, "w");
    cr_assert_not_null(f);
    fputs("0123456789abcdef0123\n", f);
    fclose(f);
}

static void
teardown(void)
{
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    cr_expect_eq(system(cmd), 0);
}

/* Loads text as a configuration; returns the result and fills err. */
static int
load(const char *text, struct gm_webhook_config **cfg, struct gm_err *err)
{
    char path[128];
    snprintf(path, sizeof path, "%s/webhooks.yaml", dir);
    FILE *f = fopen(path, "w");
    cr_assert_not_null(f);
    fputs(text, f);
    fclose(f);
    gm_err_clear(err);
    return gm_webhook_config_load(path, cfg, err);
}

TestSuite(webhook, .init = setup, .fini = teardown);

Test(webhook, config_ok)
{
    struct gm_webhook_config *cfg = NULL;
    struct gm_err err;
    int rc = load("timeout_ms: 3000\n"
                  "max_attempts: 4\n"
                  "endpoints:\n"
                  "  - name: crm\n"
                  "    url: https://crm.example/hook\n"
                  "    events: [level.up, badge.earned]\n"
                  "    secret_file: s.secret\n"
                  "  - name: ops\n"
                  "    url: http://127.0.0.1:1/x\n"
                  "    events: [redemption.rejected]\n"
                  "    secret_file: s.secret\n"
                  "    max_attempts: 2\n",
                  &cfg, &err);
    cr_assert_eq(rc, 0, "%s", err.msg);
    cr_assert_eq(cfg->n, 2);
    cr_expect_eq(cfg->timeout_ms, 3000);
    cr_expect_eq(cfg->endpoints[0].wants, GM_WH_LEVEL_UP | GM_WH_BADGE_EARNED);
    cr_expect_eq(cfg->endpoints[0].max_attempts, 4);
    cr_expect_eq(cfg->endpoints[1].max_attempts, 2);
    /* the trailing newline is not part of the secret */
    cr_expect_eq(cfg->endpoints[0].secret_len, 20);
    cr_expect_eq(memcmp(cfg->endpoints[0].secret, "0123456789abcdef0123", 20), 0);
    gm_webhook_config_free(cfg);
}

Test(webhook, config_errors_have_lines)
{
    static const struct {
        const char *text, *says;
        int line;
    } cases[] = {
        {"endpoints:\n  - name: a\n    url: http://x/\n    events: [level.down]\n"
         "    secret_file: s.secret\n",
         "unknown event type", 4},
        {"timeot_ms: 5\nendpoints: []\n", "unknown key \"timeot_ms\"", 1},
        {"endpoints:\n  - name: a\n    url: ftp://x/\n    events: [level.up]\n"
         "    secret_file: s.secret\n",
         "url must start with", 3},
        {"endpoints:\n  - name: a\n    url: http://x/\n    events: [level.up]\n"
         "    secret_file: missing.secret\n",
         "missing.secret", 5},
        {"endpoints:\n  - name: a\n    url: http://x/\n    events: [level.up]\n",
         "needs name, url, events and secret_file", 2},
        {"endpoints:\n"
         "  - {name: a, url: http://x/, events: [level.up], secret_file: s.secret}\n"
         "  - {name: a, url: http://y/, events: [level.up], secret_file: s.secret}\n",
         "used twice", 3},
        {"max_attempts: 0\nendpoints: []\n", "max_attempts must be", 1},
        {"endpoints: []\n", "at least one endpoint", 1},
        {"endpoints: [\n", "", 0},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct gm_webhook_config *cfg = NULL;
        struct gm_err err;
        int rc = load(cases[i].text, &cfg, &err);
        cr_expect_eq(rc, GM_EINVAL, "case %zu: %d", i, rc);
        cr_expect_null(cfg, "case %zu", i);
        cr_expect_not_null(strstr(err.msg, cases[i].says), "case %zu: %s", i, err.msg);
        if (cases[i].line)
            cr_expect_eq(err.line, cases[i].line, "case %zu: line %d: %s", i, err.line, err.msg);
    }
}

Test(webhook, short_secret_refused)
{
    char path[128];
    snprintf(path, sizeof path, "%s/short.secret", dir);
    FILE *f = fopen(path, "w");
    fputs("tooshort\n", f);
    fclose(f);
    struct gm_webhook_config *cfg = NULL;
    struct gm_err err;
    int rc = load("endpoints:\n  - name: a\n    url: http://x/\n    events: [level.up]\n"
                  "    secret_file: short.secret\n",
                  &cfg, &err);
    cr_expect_eq(rc, GM_EINVAL);
    cr_expect_not_null(strstr(err.msg, "16.."), "%s", err.msg);
}

Test(webhook, signature_known_vector)
{
    char sig[160];
    gm_webhook_sign("0123456789abcdef0123", 20, 1700000000, "{\"a\":1}", sig, sizeof sig);
    cr_expect_str_eq(sig, "t=1700000000,v1="
                          "34e41bd41c08899dd901e050eca2824e8dfecfe16d4778add8a6f330817db525");
}

Test(webhook, body_shape)
{
    Gamification__V1__OutboundEvent oev = GAMIFICATION__V1__OUTBOUND_EVENT__INIT;
    Gamification__V1__LevelUp lu = GAMIFICATION__V1__LEVEL_UP__INIT;
    Google__Protobuf__Timestamp ts = GOOGLE__PROTOBUF__TIMESTAMP__INIT;
    ts.seconds = 1764064800; /* 2025-11-25T10:00:00Z */
    lu.new_level = 3;
    lu.reward = 50;
    lu.exp = 400;
    oev.event_id = "e1:level:3";
    oev.user_id = "u1";
    oev.cause_event_id = "e1";
    oev.occurred_at = &ts;
    oev.body_case = GAMIFICATION__V1__OUTBOUND_EVENT__BODY_LEVEL_UP;
    oev.level_up = &lu;
    unsigned bit;
    cr_expect_str_eq(gm_webhook_type(&oev, &bit), "level.up");
    cr_expect_eq(bit, GM_WH_LEVEL_UP);
    char *body = gm_webhook_body(&oev);
    cr_assert_not_null(body);
    cr_expect_str_eq(body, "{\"id\":\"e1:level:3\",\"type\":\"level.up\",\"userId\":\"u1\","
                           "\"occurredAt\":\"2025-11-25T10:00:00Z\",\"causeEventId\":\"e1\","
                           "\"data\":{\"newLevel\":3,\"reward\":50,\"exp\":\"400\"}}");
    free(body);
}
