/*
 * whconfig.c: the webhooks configuration file (YAML, libyaml's document
 * API): bounds, then a list of endpoints with their url, event types and
 * secret file. Every mistake is an error with its line; unknown keys too,
 * so a misspelt bound is not silently the default.
 */
#include "webhook.h"

#include <errno.h>
#include <libgen.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

struct ycx {
    yaml_document_t *doc;
    const char *path;
    struct gm_err *err;
};

static int bad(struct ycx *c, const yaml_node_t *node, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int
bad(struct ycx *c, const yaml_node_t *node, const char *fmt, ...)
{
    int line = node ? (int)node->start_mark.line + 1 : 0;
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    gm_err_set(c->err, GM_EINVAL, "%s:%d: %s", c->path, line, msg);
    if (c->err)
        c->err->line = line;
    return GM_EINVAL;
}

static const char *
scalar(const yaml_node_t *n)
{
    return n && n->type == YAML_SCALAR_NODE ? (const char *)n->data.scalar.value : NULL;
}

static int
int_value(struct ycx *c, const yaml_node_t *n, const char *key, int64_t lo, int64_t hi, int64_t *v)
{
    const char *s = scalar(n);
    char *end;
    errno = 0;
    long long x = s ? strtoll(s, &end, 10) : 0;
    if (!s || !*s || *end || errno || x < lo || x > hi) {
        char what[128];
        snprintf(what, sizeof what, "%s must be an integer %lld..%lld", key, (long long)lo,
                 (long long)hi);
        return bad(c, n, "%s", what);
    }
    *v = x;
    return 0;
}

static const struct {
    const char *name;
    unsigned bit;
} types[] = {
    {"level.up", GM_WH_LEVEL_UP},
    {"badge.earned", GM_WH_BADGE_EARNED},
    {"streak.updated", GM_WH_STREAK_UPDATED},
    {"reward.redeemed", GM_WH_REWARD_REDEEMED},
    {"redemption.rejected", GM_WH_REDEMPTION_REJECTED},
    {"ops.alert", GM_WH_OPS_ALERT},
};

/* Reads the secret file (relative paths from the configuration's folder). */
static int
read_secret(struct ycx *c, const yaml_node_t *n, struct gm_webhook_endpoint *e)
{
    const char *file = scalar(n);
    if (!file || !*file)
        return bad(c, n, "%s", "secret_file must be a path");
    char *path;
    if (file[0] == '/') {
        path = strdup(file);
    } else {
        char *copy = strdup(c->path);
        if (!copy || asprintf(&path, "%s/%s", dirname(copy), file) < 0)
            abort();
        free(copy);
    }
    if (!path)
        abort();
    FILE *f = fopen(path, "rb");
    int rc = 0;
    if (!f) {
        char what[512];
        snprintf(what, sizeof what, "secret_file %s: %s", path, strerror(errno));
        rc = bad(c, n, "%s", what);
        goto out;
    }
    e->secret = malloc(GM_WH_SECRET_MAX + 1);
    if (!e->secret)
        abort();
    e->secret_len = fread(e->secret, 1, GM_WH_SECRET_MAX + 1, f);
    fclose(f);
    while (e->secret_len &&
           (e->secret[e->secret_len - 1] == '\n' || e->secret[e->secret_len - 1] == '\r'))
        e->secret_len--;
    if (e->secret_len > GM_WH_SECRET_MAX || e->secret_len < 16) {
        char what[512];
        snprintf(what, sizeof what, "secret_file %s: the secret must be 16..%d bytes", path,
                 GM_WH_SECRET_MAX);
        rc = bad(c, n, "%s", what);
    }
out:
    free(path);
    return rc;
}

static int
endpoint(struct ycx *c, const yaml_node_t *n, struct gm_webhook_endpoint *e, int max_attempts)
{
    if (n->type != YAML_MAPPING_NODE)
        return bad(c, n, "%s", "an endpoint must be a mapping (name, url, events, secret_file)");
    e->max_attempts = max_attempts;
    const yaml_node_t *secret = NULL;
    for (yaml_node_pair_t *p = n->data.mapping.pairs.start; p < n->data.mapping.pairs.top; p++) {
        const yaml_node_t *k = yaml_document_get_node(c->doc, p->key);
        const yaml_node_t *v = yaml_document_get_node(c->doc, p->value);
        const char *key = scalar(k);
        int rc = 0;
        int64_t x;
        if (!key) {
            rc = bad(c, k, "%s", "keys must be plain names");
        } else if (strcmp(key, "name") == 0) {
            const char *s = scalar(v);
            if (!s || !*s || strlen(s) > GM_WH_NAME_MAX || strpbrk(s, ": \t\n"))
                rc = bad(c, v, "%s", "name must be 1..64 characters without ':' or spaces");
            else if (!(e->name = strdup(s)))
                abort();
        } else if (strcmp(key, "url") == 0) {
            const char *s = scalar(v);
            if (!s || (strncmp(s, "http://", 7) != 0 && strncmp(s, "https://", 8) != 0))
                rc = bad(c, v, "%s", "url must start with http:// or https://");
            else if (!(e->url = strdup(s)))
                abort();
        } else if (strcmp(key, "events") == 0) {
            if (v->type != YAML_SEQUENCE_NODE)
                return bad(c, v, "%s", "events must be a list of event types");
            for (yaml_node_item_t *i = v->data.sequence.items.start;
                 i < v->data.sequence.items.top && rc == 0; i++) {
                const yaml_node_t *t = yaml_document_get_node(c->doc, *i);
                const char *s = scalar(t);
                unsigned bit = 0;
                for (size_t j = 0; s && j < sizeof types / sizeof types[0]; j++) {
                    if (strcmp(s, types[j].name) == 0)
                        bit = types[j].bit;
                }
                if (!bit)
                    rc = bad(c, t, "%s",
                             "unknown event type (level.up, badge.earned, streak.updated, "
                             "reward.redeemed, redemption.rejected, ops.alert)");
                e->wants |= bit;
            }
        } else if (strcmp(key, "secret_file") == 0) {
            secret = v;
        } else if (strcmp(key, "max_attempts") == 0) {
            if ((rc = int_value(c, v, "max_attempts", 1, 1000, &x)) == 0)
                e->max_attempts = (int)x;
        } else {
            rc = bad(c, k, "unknown endpoint key \"%s\"", key);
        }
        if (rc)
            return rc;
    }
    if (!e->name || !e->url || !e->wants || !secret)
        return bad(c, n, "%s", "an endpoint needs name, url, events and secret_file");
    return read_secret(c, secret, e);
}

int
gm_webhook_config_load(const char *path, struct gm_webhook_config **out, struct gm_err *err)
{
    *out = NULL;
    FILE *f = fopen(path, "rb");
    if (!f)
        return gm_err_set(err, -errno, "--webhooks %s: %s", path, strerror(errno));
    yaml_parser_t ps;
    yaml_document_t doc;
    struct ycx c = {&doc, path, err};
    struct gm_webhook_config *cfg = calloc(1, sizeof *cfg);
    if (!cfg || !yaml_parser_initialize(&ps))
        abort();
    cfg->timeout_ms = 5000;
    cfg->backoff_initial_ms = 1000;
    cfg->backoff_max_ms = 300000;
    int64_t max_attempts = 8;
    int rc = 0;
    yaml_parser_set_input_file(&ps, f);
    if (!yaml_parser_load(&ps, &doc)) {
        rc = gm_err_set(err, GM_EINVAL, "%s:%d: %s", path, (int)ps.problem_mark.line + 1,
                        ps.problem ? ps.problem : "not YAML");
        yaml_parser_delete(&ps);
        fclose(f);
        free(cfg);
        return rc;
    }
    yaml_node_t *root = yaml_document_get_root_node(&doc);
    const yaml_node_t *eps = NULL;
    if (!root || root->type != YAML_MAPPING_NODE) {
        rc = bad(&c, root, "%s", "expected a mapping with endpoints");
        goto out;
    }
    /* the bounds first: endpoints take max_attempts as their default */
    for (yaml_node_pair_t *p = root->data.mapping.pairs.start;
         p < root->data.mapping.pairs.top && rc == 0; p++) {
        const yaml_node_t *k = yaml_document_get_node(&doc, p->key);
        const yaml_node_t *v = yaml_document_get_node(&doc, p->value);
        const char *key = scalar(k);
        if (!key)
            rc = bad(&c, k, "%s", "keys must be plain names");
        else if (strcmp(key, "endpoints") == 0)
            eps = v;
        else if (strcmp(key, "timeout_ms") == 0)
            rc = int_value(&c, v, key, 100, 600000, &cfg->timeout_ms);
        else if (strcmp(key, "backoff_initial_ms") == 0)
            rc = int_value(&c, v, key, 1, 3600000, &cfg->backoff_initial_ms);
        else if (strcmp(key, "backoff_max_ms") == 0)
            rc = int_value(&c, v, key, 1, 86400000, &cfg->backoff_max_ms);
        else if (strcmp(key, "max_attempts") == 0)
            rc = int_value(&c, v, key, 1, 1000, &max_attempts);
        else
            rc = bad(&c, k, "unknown key \"%s\"", key);
    }
    if (rc)
        goto out;
    if (cfg->backoff_max_ms < cfg->backoff_initial_ms) {
        rc = bad(&c, root, "%s", "backoff_max_ms is below backoff_initial_ms");
        goto out;
    }
    if (!eps || eps->type != YAML_SEQUENCE_NODE ||
        eps->data.sequence.items.top == eps->data.sequence.items.start) {
        rc = bad(&c, eps ? eps : root, "%s", "endpoints must be a list of at least one endpoint");
        goto out;
    }
    size_t n = (size_t)(eps->data.sequence.items.top - eps->data.sequence.items.start);
    if (n > GM_WH_ENDPOINTS_MAX) {
        rc = bad(&c, eps, "%s", "at most 64 endpoints");
        goto out;
    }
    cfg->endpoints = calloc(n, sizeof *cfg->endpoints);
    if (!cfg->endpoints)
        abort();
    for (size_t i = 0; i < n && rc == 0; i++) {
        const yaml_node_t *en = yaml_document_get_node(&doc, eps->data.sequence.items.start[i]);
        cfg->n++;
        rc = endpoint(&c, en, &cfg->endpoints[i], (int)max_attempts);
        for (size_t j = 0; j < i && rc == 0; j++) {
            if (strcmp(cfg->endpoints[j].name, cfg->endpoints[i].name) == 0)
                rc = bad(&c, en, "endpoint name \"%s\" is used twice", cfg->endpoints[i].name);
        }
    }
out:
    yaml_document_delete(&doc);
    yaml_parser_delete(&ps);
    fclose(f);
    if (rc) {
        gm_webhook_config_free(cfg);
        return rc;
    }
    *out = cfg;
    return 0;
}

void
gm_webhook_config_free(struct gm_webhook_config *cfg)
{
    if (!cfg)
        return;
    for (size_t i = 0; i < cfg->n; i++) {
        free(cfg->endpoints[i].name);
        free(cfg->endpoints[i].url);
        free(cfg->endpoints[i].secret);
    }
    free(cfg->endpoints);
    free(cfg);
}
