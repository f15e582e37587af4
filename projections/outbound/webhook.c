/*
 * webhook.c: the webhook projector (see webhook.h): the JSON body, the
 * signature, delivery with libcurl, and the delivery state in its own LMDB
 * environment (STATE/webhooks).
 *
 * Delivery state, per endpoint: "c:NAME" holds the cursor (the change
 * sequence number and the index of the next outbound event within it) and
 * the attempts made on that event; "d:NAME:SEQ:INDEX" holds a dead letter
 * (JSON). A 2xx moves the cursor in a transaction of its own right after
 * the answer: a crash in between delivers that one event again (its id and
 * Gamify-Event-Id are the same), the only repeat a receiver can see.
 *
 * Each endpoint is delivered to in feed order, one request at a time, so a
 * learner's events arrive in order. A failed request makes that endpoint
 * wait (exponential backoff with jitter) while the others go on; after
 * max_attempts the event becomes a dead letter and the endpoint moves on.
 */
#include "webhook.h"

#include "feed.h"
#include "gm_config.h"
#include "json.h"
#include "log.h"

#include <curl/curl.h>
#include <errno.h>
#include <jansson.h>
#include <lmdb.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

/* Changes one endpoint reads per step. */
#define STEP_CHANGES_MAX 500
/* An endpoint sends for about this long per step, so that a stop waits at
 * most this and one request's timeout. */
#define STEP_SECONDS 1.0
/* The delivery state reaches the disk at least this often. */
#define SYNC_EVERY_S 1.0

const char *
gm_webhook_type(const Gamification__V1__OutboundEvent *oev, unsigned *bit)
{
    unsigned b = 0;
    const char *name = NULL;
    switch (oev->body_case) {
    case GAMIFICATION__V1__OUTBOUND_EVENT__BODY_LEVEL_UP:
        b = GM_WH_LEVEL_UP, name = "level.up";
        break;
    case GAMIFICATION__V1__OUTBOUND_EVENT__BODY_BADGE_EARNED:
        b = GM_WH_BADGE_EARNED, name = "badge.earned";
        break;
    case GAMIFICATION__V1__OUTBOUND_EVENT__BODY_STREAK_UPDATED:
        b = GM_WH_STREAK_UPDATED, name = "streak.updated";
        break;
    case GAMIFICATION__V1__OUTBOUND_EVENT__BODY_REWARD_REDEEMED:
        b = GM_WH_REWARD_REDEEMED, name = "reward.redeemed";
        break;
    case GAMIFICATION__V1__OUTBOUND_EVENT__BODY_REDEMPTION_REJECTED:
        b = GM_WH_REDEMPTION_REJECTED, name = "redemption.rejected";
        break;
    default:
        break;
    }
    if (bit)
        *bit = b;
    return name;
}

char *
gm_webhook_body(const Gamification__V1__OutboundEvent *oev)
{
    json_t *full = gm_pb_to_json_value(&oev->base);
    if (!full)
        return NULL;
    json_t *body = json_object();
    json_object_set_new(body, "id", json_string(oev->event_id));
    json_object_set_new(body, "type", json_string(gm_webhook_type(oev, NULL)));
    json_object_set_new(body, "userId", json_string(oev->user_id));
    json_t *at = json_object_get(full, "occurredAt");
    json_object_set(body, "occurredAt", at ? at : json_null());
    json_object_set_new(body, "causeEventId", json_string(oev->cause_event_id));
    /* the oneof's object, whatever its JSON name: the one object member */
    const char *key;
    json_t *v, *data = NULL;
    json_object_foreach(full, key, v)
    {
        if (json_is_object(v))
            data = v;
    }
    json_object_set(body, "data", data ? data : json_object());
    char *text = json_dumps(body, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(body);
    json_decref(full);
    return text;
}

void
gm_webhook_sign(const char *secret, size_t secret_len, int64_t t, const char *body, char *out,
                size_t cap)
{
    /* the signed text: T "." body */
    size_t bl = strlen(body);
    char *msg = malloc(bl + 32);
    if (!msg)
        abort();
    int tl = snprintf(msg, 32, "%lld.", (long long)t);
    memcpy(msg + tl, body, bl);
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;
    if (!HMAC(EVP_sha256(), secret, (int)secret_len, (const unsigned char *)msg, (size_t)tl + bl,
              md, &mdlen))
        abort();
    free(msg);
    int n = snprintf(out, cap, "t=%lld,v1=", (long long)t);
    for (unsigned i = 0; i < mdlen && n >= 0 && (size_t)n + 3 <= cap; i++)
        n += snprintf(out + n, cap - (size_t)n, "%02x", md[i]);
}

/* ---- the delivery state ---- */

struct dstate {
    MDB_env *env;
    MDB_dbi dbi;
};

static int
lmdb_err(struct gm_err *err, int rc, const char *what)
{
    return gm_err_set(err, GM_EDB, "webhook delivery state: %s: %s", what, mdb_strerror(rc));
}

static int
dstate_open(const char *state_dir, bool read_only, struct dstate *d, struct gm_err *err)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/webhooks", state_dir);
    if (!read_only && mkdir(path, 0755) && errno != EEXIST)
        return gm_err_set(err, -errno, "cannot create %s: %s", path, strerror(errno));
    int rc = mdb_env_create(&d->env);
    if (rc)
        return lmdb_err(err, rc, "create");
    mdb_env_set_mapsize(d->env, (size_t)256 << 20);
    /* MDB_NOSYNC: a commit survives the process (kill -9) at once and the
     * disk within SYNC_EVERY_S (gm_webhooks_step syncs) */
    rc = mdb_env_open(d->env, path, MDB_NOTLS | (read_only ? MDB_RDONLY : MDB_NOSYNC), 0644);
    if (rc) {
        mdb_env_close(d->env);
        d->env = NULL;
        if (rc == ENOENT)
            return gm_err_set(err, GM_ENOTFOUND, "%s: no webhook delivery state", path);
        return lmdb_err(err, rc, path);
    }
    MDB_txn *txn;
    if ((rc = mdb_txn_begin(d->env, NULL, MDB_RDONLY, &txn)) ||
        (rc = mdb_dbi_open(txn, NULL, 0, &d->dbi))) {
        mdb_env_close(d->env);
        d->env = NULL;
        return lmdb_err(err, rc, "open");
    }
    mdb_txn_commit(txn);
    return 0;
}

static void
put_be(uint8_t *p, uint64_t v, int bytes)
{
    for (int i = bytes - 1; i >= 0; i--, v >>= 8)
        p[i] = (uint8_t)v;
}

static uint64_t
get_be(const uint8_t *p, int bytes)
{
    uint64_t v = 0;
    for (int i = 0; i < bytes; i++)
        v = v << 8 | p[i];
    return v;
}

/* ---- the projector ---- */

struct pending {
    int64_t seq;
    int32_t index;
    char *id, *type, *body;
};

struct ep {
    const struct gm_webhook_endpoint *cfg;
    CURL *curl;
    int64_t seq; /* cursor: the change and outbound index to deliver next; seq -1: new */
    int32_t index, attempts;
    double retry_at; /* monotonic seconds; 0: now */
    struct pending *p;
    size_t n, cap;
    int64_t scan_next; /* after the changes read into p */
};

struct gm_webhooks {
    struct gm_webhook_config *cfg;
    struct dstate d;
    struct ep *eps;
    unsigned seed;    /* jitter */
    double synced_at; /* when the delivery state was last synced to disk */
    atomic_int_fast64_t cursor;
    atomic_uint_fast64_t deliveries, failures, retries, dead;
};

static double
mono_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void
pending_clear(struct ep *e)
{
    for (size_t i = 0; i < e->n; i++) {
        free(e->p[i].id);
        free(e->p[i].type);
        free(e->p[i].body);
    }
    e->n = 0;
}

/* Stores e's cursor and attempts, with a dead letter when dl is not NULL. */
static int
ep_store(struct gm_webhooks *w, struct ep *e, const char *dl_key, const char *dl,
         struct gm_err *err)
{
    char kb[8 + GM_WH_NAME_MAX];
    uint8_t vb[16];
    int kl = snprintf(kb, sizeof kb, "c:%s", e->cfg->name);
    put_be(vb, (uint64_t)e->seq, 8);
    put_be(vb + 8, (uint32_t)e->index, 4);
    put_be(vb + 12, (uint32_t)e->attempts, 4);
    MDB_val k = {(size_t)kl, kb}, v = {sizeof vb, vb};
    MDB_txn *txn;
    int rc = mdb_txn_begin(w->d.env, NULL, 0, &txn);
    if (rc)
        return lmdb_err(err, rc, "begin");
    if ((rc = mdb_put(txn, w->d.dbi, &k, &v, 0)) == 0 && dl) {
        MDB_val dk = {strlen(dl_key), (void *)dl_key}, dv = {strlen(dl), (void *)dl};
        rc = mdb_put(txn, w->d.dbi, &dk, &dv, 0);
    }
    if (rc) {
        mdb_txn_abort(txn);
        return lmdb_err(err, rc, "put");
    }
    if ((rc = mdb_txn_commit(txn)))
        return lmdb_err(err, rc, "commit");
    return 0;
}

static size_t
discard(char *ptr, size_t size, size_t nmemb, void *ctx)
{
    (void)ptr;
    (void)ctx;
    return size * nmemb;
}

int
gm_webhook_post(void *curl, const struct gm_webhook_endpoint *cfg, int64_t timeout_ms,
                const char *id, const char *type, const char *body, char *why, size_t why_cap)
{
    char sig[160], h_sig[200], h_id[300], h_type[80];
    gm_webhook_sign(cfg->secret, cfg->secret_len, (int64_t)time(NULL), body, sig, sizeof sig);
    snprintf(h_sig, sizeof h_sig, "Gamify-Signature: %s", sig);
    snprintf(h_id, sizeof h_id, "Gamify-Event-Id: %s", id);
    snprintf(h_type, sizeof h_type, "Gamify-Event-Type: %s", type);
    struct curl_slist *hdrs = NULL;
    hdrs = curl_slist_append(hdrs, "Content-Type: application/json");
    hdrs = curl_slist_append(hdrs, h_sig);
    hdrs = curl_slist_append(hdrs, h_id);
    hdrs = curl_slist_append(hdrs, h_type);
    hdrs = curl_slist_append(hdrs, "Expect:");
    if (!hdrs)
        abort();
    curl_easy_setopt(curl, CURLOPT_URL, cfg->url);
    curl_easy_setopt(curl, CURLOPT_POST, 1L);
    curl_easy_setopt(curl, CURLOPT_POSTFIELDS, body);
    curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE, (long)strlen(body));
    curl_easy_setopt(curl, CURLOPT_HTTPHEADER, hdrs);
    curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, (long)timeout_ms);
    curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT_MS, (long)timeout_ms);
    curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, discard);
    curl_easy_setopt(curl, CURLOPT_USERAGENT, "gamify/" GM_VERSION);
    CURLcode res = curl_easy_perform(curl);
    long code = 0;
    curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &code);
    curl_easy_setopt(curl, CURLOPT_HTTPHEADER, NULL);
    curl_slist_free_all(hdrs);
    if (res != CURLE_OK) {
        snprintf(why, why_cap, "%s", curl_easy_strerror(res));
        return GM_EIO;
    }
    if (code < 200 || code > 299) {
        snprintf(why, why_cap, "HTTP status %ld", code);
        return GM_EIO;
    }
    return 0;
}

int
gm_webhooks_open(struct gm_webhook_config *cfg, const char *state_dir, struct gm_webhooks **out,
                 struct gm_err *err)
{
    *out = NULL;
    struct gm_webhooks *w = calloc(1, sizeof *w);
    if (!w)
        abort();
    w->cfg = cfg;
    w->seed = (unsigned)time(NULL) ^ (unsigned)(uintptr_t)w;
    atomic_store(&w->cursor, -1);
    int rc = dstate_open(state_dir, false, &w->d, err);
    if (rc) {
        gm_webhooks_close(w);
        return rc;
    }
    curl_global_init(CURL_GLOBAL_DEFAULT);
    w->eps = calloc(cfg->n, sizeof *w->eps);
    if (!w->eps)
        abort();
    MDB_txn *txn;
    if ((rc = mdb_txn_begin(w->d.env, NULL, MDB_RDONLY, &txn))) {
        gm_webhooks_close(w);
        return lmdb_err(err, rc, "begin");
    }
    for (size_t i = 0; i < cfg->n; i++) {
        struct ep *e = &w->eps[i];
        e->cfg = &cfg->endpoints[i];
        e->seq = -1;
        if (!(e->curl = curl_easy_init()))
            abort();
        char kb[8 + GM_WH_NAME_MAX];
        int kl = snprintf(kb, sizeof kb, "c:%s", e->cfg->name);
        MDB_val k = {(size_t)kl, kb}, v;
        if (mdb_get(txn, w->d.dbi, &k, &v) == 0 && v.mv_size == 16) {
            e->seq = (int64_t)get_be(v.mv_data, 8);
            e->index = (int32_t)get_be((const uint8_t *)v.mv_data + 8, 4);
            e->attempts = (int32_t)get_be((const uint8_t *)v.mv_data + 12, 4);
        }
    }
    mdb_txn_abort(txn);
    *out = w;
    return 0;
}

struct collect {
    struct ep *e;
};

static int
collect(void *ctx, const struct gm_change *ch)
{
    struct ep *e = ((struct collect *)ctx)->e;
    for (size_t i = 0; i < ch->n_outbound; i++) {
        const Gamification__V1__OutboundEvent *oev = ch->outbound[i];
        unsigned bit;
        const char *type = gm_webhook_type(oev, &bit);
        if (!(e->cfg->wants & bit) || (ch->seq == e->seq && (int32_t)i < e->index))
            continue;
        if (e->n == e->cap) {
            e->cap = e->cap ? 2 * e->cap : 32;
            e->p = realloc(e->p, e->cap * sizeof *e->p);
            if (!e->p)
                abort();
        }
        struct pending *p = &e->p[e->n];
        p->seq = ch->seq;
        p->index = (int32_t)i;
        p->body = gm_webhook_body(oev);
        if (!p->body)
            return GM_EINVAL;
        if (!(p->id = strdup(oev->event_id)) || !(p->type = strdup(type)))
            abort();
        e->n++;
    }
    return 0;
}

/* The wait before attempt attempts + 1: initial * 2^(attempts-1), capped,
 * then a random 50-100 % of it (jitter: endpoints and restarts spread). */
static double
backoff_s(struct gm_webhooks *w, int attempts)
{
    double ms = (double)w->cfg->backoff_initial_ms;
    for (int i = 1; i < attempts && ms < (double)w->cfg->backoff_max_ms; i++)
        ms *= 2;
    if (ms > (double)w->cfg->backoff_max_ms)
        ms = (double)w->cfg->backoff_max_ms;
    ms *= 0.5 + 0.5 * ((double)rand_r(&w->seed) / RAND_MAX);
    return ms / 1000.0;
}

/* Sends e's pending events in order until one fails or the step's time is
 * up; *n counts 2xx. */
static int
deliver(struct gm_webhooks *w, struct ep *e, size_t *n, struct gm_err *err)
{
    int rc = 0;
    double t0 = mono_s();
    for (size_t i = 0; i < e->n; i++) {
        struct pending *p = &e->p[i];
        if (mono_s() - t0 > STEP_SECONDS)
            return 0; /* the cursor is at p: the next step goes on from there */
        char why[256];
        if (e->attempts > 0)
            atomic_fetch_add(&w->retries, 1);
        if (gm_webhook_post(e->curl, e->cfg, w->cfg->timeout_ms, p->id, p->type, p->body, why,
                            sizeof why) == 0) {
            atomic_fetch_add(&w->deliveries, 1);
            e->seq = p->seq;
            e->index = p->index + 1;
            e->attempts = 0;
            (*n)++;
            if ((rc = ep_store(w, e, NULL, NULL, err)))
                return rc;
            continue;
        }
        atomic_fetch_add(&w->failures, 1);
        e->attempts++;
        if (e->attempts < e->cfg->max_attempts) {
            double wait = backoff_s(w, e->attempts);
            e->retry_at = mono_s() + wait;
            gm_log(GM_LOG_WARN, "webhook %s: %s for %s (attempt %d of %d); retrying in %.1f s",
                   e->cfg->name, why, p->id, e->attempts, e->cfg->max_attempts, wait);
            e->seq = p->seq;
            e->index = p->index;
            return ep_store(w, e, NULL, NULL, err);
        }
        /* given up: a dead letter, and the endpoint moves on */
        json_t *dl = json_object();
        json_object_set_new(dl, "endpoint", json_string(e->cfg->name));
        json_object_set_new(dl, "url", json_string(e->cfg->url));
        json_object_set_new(dl, "id", json_string(p->id));
        json_object_set_new(dl, "type", json_string(p->type));
        json_object_set_new(dl, "seq", json_integer(p->seq));
        json_object_set_new(dl, "index", json_integer(p->index));
        json_object_set_new(dl, "attempts", json_integer(e->attempts));
        json_object_set_new(dl, "error", json_string(why));
        json_object_set_new(dl, "deadAt", json_integer((json_int_t)time(NULL)));
        json_object_set_new(dl, "body", json_string(p->body));
        char *text = json_dumps(dl, JSON_COMPACT | JSON_PRESERVE_ORDER);
        json_decref(dl);
        char key[128 + GM_WH_NAME_MAX];
        snprintf(key, sizeof key, "d:%s:%016llx:%08x", e->cfg->name, (unsigned long long)p->seq,
                 (unsigned)p->index);
        gm_log(GM_LOG_ERROR, "webhook %s: %s for %s after %d attempts: a dead letter", e->cfg->name,
               why, p->id, e->attempts);
        e->seq = p->seq;
        e->index = p->index + 1;
        e->attempts = 0;
        rc = ep_store(w, e, key, text, err);
        free(text);
        if (rc)
            return rc;
        atomic_fetch_add(&w->dead, 1);
    }
    /* all sent: past the changes read */
    e->seq = e->scan_next;
    e->index = 0;
    return ep_store(w, e, NULL, NULL, err);
}

static void
publish_cursor(struct gm_webhooks *w)
{
    int64_t min = INT64_MAX;
    for (size_t i = 0; i < w->cfg->n; i++) {
        if (w->eps[i].seq < 0) {
            min = -1;
            break;
        }
        if (w->eps[i].seq < min)
            min = w->eps[i].seq;
    }
    atomic_store(&w->cursor, min == INT64_MAX ? -1 : min);
}

int
gm_webhooks_step(struct gm_webhooks *w, struct gm_state *st, size_t max, size_t *n,
                 struct gm_err *err)
{
    *n = 0;
    if (max > STEP_CHANGES_MAX)
        max = STEP_CHANGES_MAX;
    struct gm_feed *f;
    int rc = gm_feed_open(st, &f);
    if (rc)
        return gm_err_set(err, rc, "webhooks: reading the change feed: %s", gm_strerror(rc));
    int64_t start = gm_feed_start(f), end = gm_feed_end(f);
    double now = mono_s();
    for (size_t i = 0; i < w->cfg->n && rc == 0; i++) {
        struct ep *e = &w->eps[i];
        if (e->seq < 0) {
            /* a new endpoint: from what the feed still holds */
            e->seq = start;
            e->index = 0;
            gm_log(GM_LOG_INFO, "webhook %s: new endpoint, delivering from change %lld",
                   e->cfg->name, (long long)start);
        } else if (e->seq < start) {
            gm_log(GM_LOG_WARN,
                   "webhook %s: changes %lld..%lld were trimmed before it delivered them (it "
                   "was not configured meanwhile): their events are not sent",
                   e->cfg->name, (long long)e->seq, (long long)start - 1);
            e->seq = start;
            e->index = 0;
            e->attempts = 0;
        }
        e->scan_next = e->seq;
        if (e->retry_at > now || e->seq >= end)
            continue;
        struct collect c = {e};
        rc = gm_feed_changes(f, e->seq, max, collect, &c, &e->scan_next);
        if (rc)
            rc = gm_err_set(err, rc, "webhook %s: reading the change feed at %lld: %s",
                            e->cfg->name, (long long)e->seq, gm_strerror(rc));
    }
    gm_feed_close(f);
    for (size_t i = 0; i < w->cfg->n && rc == 0; i++) {
        struct ep *e = &w->eps[i];
        if (e->retry_at > now || e->scan_next == e->seq)
            continue;
        e->retry_at = 0;
        rc = deliver(w, e, n, err);
    }
    for (size_t i = 0; i < w->cfg->n; i++)
        pending_clear(&w->eps[i]);
    publish_cursor(w);
    double t = mono_s();
    if (*n && t - w->synced_at >= SYNC_EVERY_S) {
        mdb_env_sync(w->d.env, 1);
        w->synced_at = t;
    }
    return rc;
}

int64_t
gm_webhooks_cursor(const struct gm_webhooks *w)
{
    return atomic_load(&((struct gm_webhooks *)w)->cursor);
}

void
gm_webhooks_stats(const struct gm_webhooks *w, struct gm_webhooks_stats *out)
{
    struct gm_webhooks *m = (struct gm_webhooks *)w;
    out->deliveries = atomic_load(&m->deliveries);
    out->failures = atomic_load(&m->failures);
    out->retries = atomic_load(&m->retries);
    out->dead_letters = atomic_load(&m->dead);
}

void
gm_webhooks_close(struct gm_webhooks *w)
{
    if (!w)
        return;
    for (size_t i = 0; w->eps && i < w->cfg->n; i++) {
        pending_clear(&w->eps[i]);
        free(w->eps[i].p);
        if (w->eps[i].curl)
            curl_easy_cleanup(w->eps[i].curl);
    }
    if (w->eps)
        curl_global_cleanup();
    free(w->eps);
    if (w->d.env) {
        mdb_env_sync(w->d.env, 1);
        mdb_env_close(w->d.env);
    }
    gm_webhook_config_free(w->cfg);
    free(w);
}

/* ---- dead letters ---- */

int
gm_webhooks_dead_list(const char *state_dir, FILE *out, struct gm_err *err)
{
    struct dstate d = {0};
    int rc = dstate_open(state_dir, true, &d, err);
    if (rc)
        return rc;
    MDB_txn *txn;
    MDB_cursor *cur;
    if ((rc = mdb_txn_begin(d.env, NULL, MDB_RDONLY, &txn))) {
        mdb_env_close(d.env);
        return lmdb_err(err, rc, "begin");
    }
    if ((rc = mdb_cursor_open(txn, d.dbi, &cur)) == 0) {
        MDB_val k = {2, "d:"}, v;
        for (rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
             rc == 0 && k.mv_size > 2 && memcmp(k.mv_data, "d:", 2) == 0;
             rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT))
            fprintf(out, "%.*s\n", (int)v.mv_size, (const char *)v.mv_data);
        mdb_cursor_close(cur);
        if (rc == MDB_NOTFOUND)
            rc = 0;
    }
    mdb_txn_abort(txn);
    mdb_env_close(d.env);
    return rc ? lmdb_err(err, rc, "list") : 0;
}

int
gm_webhooks_dead_retry(const struct gm_webhook_config *cfg, const char *state_dir, uint64_t *sent,
                       uint64_t *left, struct gm_err *err)
{
    *sent = *left = 0;
    struct dstate d = {0};
    int rc = dstate_open(state_dir, false, &d, err);
    if (rc)
        return rc;
    curl_global_init(CURL_GLOBAL_DEFAULT);
    CURL *curl = curl_easy_init();
    if (!curl)
        abort();
    /* the keys first (a read), then one request and one delete at a time */
    char **keys = NULL;
    size_t n = 0;
    MDB_txn *txn;
    MDB_cursor *cur;
    if ((rc = mdb_txn_begin(d.env, NULL, MDB_RDONLY, &txn)) == 0) {
        if ((rc = mdb_cursor_open(txn, d.dbi, &cur)) == 0) {
            MDB_val k = {2, "d:"}, v;
            for (rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
                 rc == 0 && k.mv_size > 2 && memcmp(k.mv_data, "d:", 2) == 0;
                 rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
                keys = realloc(keys, (n + 1) * sizeof *keys);
                if (!keys || !(keys[n] = strndup(k.mv_data, k.mv_size)))
                    abort();
                n++;
            }
            mdb_cursor_close(cur);
        }
        mdb_txn_abort(txn);
    }
    if (rc && rc != MDB_NOTFOUND) {
        rc = lmdb_err(err, rc, "list");
        goto out;
    }
    rc = 0;
    for (size_t i = 0; i < n && rc == 0; i++) {
        json_t *dl = NULL;
        MDB_val k = {strlen(keys[i]), keys[i]}, v;
        if ((rc = mdb_txn_begin(d.env, NULL, MDB_RDONLY, &txn))) {
            rc = lmdb_err(err, rc, "begin");
            break;
        }
        if (mdb_get(txn, d.dbi, &k, &v) == 0)
            dl = json_loadb(v.mv_data, v.mv_size, 0, NULL);
        mdb_txn_abort(txn);
        const char *name = json_string_value(json_object_get(dl, "endpoint"));
        const char *id = json_string_value(json_object_get(dl, "id"));
        const char *type = json_string_value(json_object_get(dl, "type"));
        const char *body = json_string_value(json_object_get(dl, "body"));
        const struct gm_webhook_endpoint *e = NULL;
        for (size_t j = 0; name && j < cfg->n; j++) {
            if (strcmp(cfg->endpoints[j].name, name) == 0)
                e = &cfg->endpoints[j];
        }
        char why[256] = "";
        if (!e || !id || !type || !body) {
            gm_log(GM_LOG_WARN, "dead letter %s: %s", keys[i],
                   e ? "unreadable" : "its endpoint is not in the configuration");
            (*left)++;
        } else if (gm_webhook_post(curl, e, cfg->timeout_ms, id, type, body, why, sizeof why) ==
                   0) {
            if ((rc = mdb_txn_begin(d.env, NULL, 0, &txn)) == 0) {
                mdb_del(txn, d.dbi, &k, NULL);
                rc = mdb_txn_commit(txn);
            }
            if (rc)
                rc = lmdb_err(err, rc, "delete");
            (*sent)++;
        } else {
            gm_log(GM_LOG_WARN, "dead letter %s to %s: %s (kept)", id, e->name, why);
            (*left)++;
        }
        json_decref(dl);
    }
out:
    for (size_t i = 0; i < n; i++)
        free(keys[i]);
    free(keys);
    curl_easy_cleanup(curl);
    curl_global_cleanup();
    mdb_env_close(d.env);
    return rc;
}
