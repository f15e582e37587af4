/*
 * graphql_http.c: the /graphql endpoint after the GraphQL-over-HTTP
 * specification (https://graphql.github.io/graphql-over-http/draft/).
 *
 * Order of checks, each answered as the specification prescribes:
 *   1. method: GET or POST, else 405;
 *   2. Accept: application/graphql-response+json or application/json
 *      (also * / * and application/ *, answered as application/json; no
 *      Accept header means application/json), else 406;
 *   3. Authorization: a valid bearer token, else 401 with WWW-Authenticate;
 *   4. parameters: a JSON object body (POST, Content-Type
 *      application/json, else 415) or the URL's query string (GET); query,
 *      operationName, variables and extensions of the right types, else 400;
 *   5. the document: persisted (extensions.persistedQuery), allow-listed,
 *      or text; parsed and validated through the engine's cache;
 *   6. mutations over GET: 405 (Allow: POST);
 *   7. introspection, when switched off: refused like a validation error;
 *   8. rate limits of the operation's root fields: 429 with Retry-After
 *      (the check is sent to Redis first; a query executes while Redis
 *      decides and its result is dropped when refused, so that the two
 *      round trips overlap; a mutation executes only once allowed; a
 *      query of leaderboards only hands the check to its resolver, which
 *      runs it in its own script call: one round trip, one script run);
 *   9. execution; internal errors are masked (the details go to the log).
 *
 * Request errors (no data) are 400 with application/graphql-response+json
 * and 200 with application/json; an execution with data is 200.
 */
#include "server_int.h"

#include "fmt.h"
#include "log.h"

#include <jansson.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#define CT_GQL          "application/graphql-response+json; charset=utf-8"
#define CT_JSON         "application/json; charset=utf-8"
#define MAX_ROOT_FIELDS 32
#define MASKED          "Internal server error"

enum media { MEDIA_NONE, MEDIA_JSON, MEDIA_GQL };

/* The request's own state across the steps. */
struct gctx {
    struct gm_api_server *s;
    struct MHD_Connection *c;
    struct gm__api_req *r;
    enum media media;
};

static enum MHD_Result
send_json(struct gctx *g, unsigned status, const char *body, size_t len)
{
    return gm__api_respond(g->c, g->r, status, g->media == MEDIA_GQL ? CT_GQL : CT_JSON, body, len);
}

/* A response with one error and no data. */
static enum MHD_Result send_error(struct gctx *g, unsigned status, const char *code,
                                  const char *fmt, ...) __attribute__((format(printf, 4, 5)));

static enum MHD_Result
send_error(struct gctx *g, unsigned status, const char *code, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    json_t *body =
        json_pack("{s:[{s:s,s:{s:s}}]}", "errors", "message", msg, "extensions", "code", code);
    char *text = json_dumps(body, JSON_COMPACT);
    json_decref(body);
    if (!text)
        abort();
    enum MHD_Result ret = send_json(g, status, text, strlen(text));
    free(text);
    return ret;
}

/* Picks the response media type from an Accept header (see the file comment). */
static enum media
negotiate(const char *accept)
{
    if (!accept || !*accept)
        return MEDIA_JSON;
    enum media best = MEDIA_NONE;
    double best_q = 0;
    const char *s = accept;
    while (*s) {
        const char *end = s + strcspn(s, ",");
        char item[256];
        size_t n = (size_t)(end - s);
        if (n < sizeof item) {
            memcpy(item, s, n);
            item[n] = 0;
            double q = 1;
            char *semi = strchr(item, ';');
            if (semi) {
                *semi = 0;
                char *qp = strstr(semi + 1, "q=");
                if (qp)
                    q = strtod(qp + 2, NULL);
            }
            char *t = item;
            while (*t == ' ' || *t == '\t')
                t++;
            size_t tl = strlen(t);
            while (tl && (t[tl - 1] == ' ' || t[tl - 1] == '\t'))
                t[--tl] = 0;
            enum media m = MEDIA_NONE;
            if (strcasecmp(t, "application/graphql-response+json") == 0)
                m = MEDIA_GQL;
            else if (strcasecmp(t, "application/json") == 0 || strcmp(t, "*/*") == 0 ||
                     strcasecmp(t, "application/*") == 0)
                m = MEDIA_JSON;
            if (m != MEDIA_NONE && q > 0 &&
                (q > best_q || (q == best_q && m == MEDIA_GQL && best != MEDIA_GQL)))
                best = m, best_q = q;
        }
        s = *end ? end + 1 : end;
    }
    return best;
}

/* Whether a Content-Type is application/json, in UTF-8 when a charset is given. */
static bool
is_json_type(const char *ct)
{
    if (!ct)
        return false;
    while (*ct == ' ')
        ct++;
    size_t n = strlen("application/json");
    if (strncasecmp(ct, "application/json", n) != 0)
        return false;
    const char *rest = ct + n;
    while (*rest == ' ')
        rest++;
    if (!*rest)
        return true;
    if (*rest != ';')
        return false;
    const char *cs = strcasestr(rest, "charset=");
    if (!cs)
        return true;
    cs += strlen("charset=");
    if (*cs == '"')
        cs++;
    return strncasecmp(cs, "utf-8", 5) == 0 || strncasecmp(cs, "utf8", 4) == 0;
}

static enum MHD_Result
unauthorized(struct gctx *g, const char *why)
{
    atomic_fetch_add(&g->s->m.auth_failures, 1);
    if (why)
        gm__api_header(g->r, MHD_HTTP_HEADER_WWW_AUTHENTICATE,
                       "Bearer realm=\"gamify\", error=\"invalid_token\", "
                       "error_description=\"%s\"",
                       why);
    else
        gm__api_header(g->r, MHD_HTTP_HEADER_WWW_AUTHENTICATE, "Bearer realm=\"gamify\"");
    gm_log(GM_LOG_INFO, "refused: %s", why ? why : "no bearer token");
    return send_error(g, 401, "UNAUTHENTICATED", "%s",
                      why ? why : "authentication required: send Authorization: Bearer TOKEN");
}

/* GET: the query string's parameters as a JSON object (new); NULL after answering 400. */
static json_t *
get_params(struct gctx *g, enum MHD_Result *ret)
{
    json_t *p = json_object();
    const char *names[] = {"query", "operationName", "variables", "extensions"};
    for (size_t i = 0; i < 4; i++) {
        const char *v = MHD_lookup_connection_value(g->c, MHD_GET_ARGUMENT_KIND, names[i]);
        if (!v)
            continue;
        if (i < 2) {
            json_object_set_new(p, names[i], json_string(v));
            continue;
        }
        json_error_t je;
        json_t *j = json_loads(v, JSON_DECODE_ANY, &je);
        if (!j) {
            json_decref(p);
            *ret = send_error(g, 400, "BAD_REQUEST", "%s is not JSON: %s", names[i], je.text);
            return NULL;
        }
        json_object_set_new(p, names[i], j);
    }
    return p;
}

static int
cmp_allow(const void *a, const void *b)
{
    return memcmp(((const struct gm__api_allow *)a)->sha, ((const struct gm__api_allow *)b)->sha,
                  32);
}

static void
sha256(const char *s, size_t n, unsigned char out[32])
{
    unsigned len = 0;
    if (!EVP_Digest(s, n, out, &len, EVP_sha256(), NULL) || len != 32)
        abort();
}

static bool
hex_to_sha(const char *hex, unsigned char out[32])
{
    if (strlen(hex) != 64)
        return false;
    for (size_t i = 0; i < 32; i++) {
        unsigned v = 0;
        for (size_t k = 0; k < 2; k++) {
            char c = hex[2 * i + k];
            v <<= 4;
            if (c >= '0' && c <= '9')
                v |= (unsigned)(c - '0');
            else if (c >= 'a' && c <= 'f')
                v |= (unsigned)(c - 'a' + 10);
            else if (c >= 'A' && c <= 'F')
                v |= (unsigned)(c - 'A' + 10);
            else
                return false;
        }
        out[i] = (unsigned char)v;
    }
    return true;
}

static const struct gm__api_allow *
allow_find(const struct gm_api_server *s, const unsigned char sha[32])
{
    struct gm__api_allow key;
    memcpy(key.sha, sha, 32);
    return bsearch(&key, s->allow, s->n_allow, sizeof key, cmp_allow);
}

static int
allow_add(struct gm_api_server *s, size_t *cap, const char *id, const char *text,
          struct gm_err *err)
{
    unsigned char sha[32];
    sha256(text, strlen(text), sha);
    if (id) {
        unsigned char given[32];
        if (!hex_to_sha(id, given) || memcmp(given, sha, 32) != 0)
            return gm_err_set(err, GM_EINVAL,
                              "--allowlist %s: \"%.20s...\" is not the SHA-256 of its document",
                              s->o.allowlist_file, id);
    }
    if (s->n_allow == *cap) {
        *cap = *cap ? *cap * 2 : 64;
        s->allow = realloc(s->allow, *cap * sizeof *s->allow);
        if (!s->allow)
            abort();
    }
    memcpy(s->allow[s->n_allow].sha, sha, 32);
    s->allow[s->n_allow].text = strdup(text);
    if (!s->allow[s->n_allow].text)
        abort();
    s->n_allow++;
    return 0;
}

int
gm__api_allowlist_load(struct gm_api_server *s, struct gm_err *err)
{
    int rc = 0;
    size_t cap = 0;
    if (!s->o.allowlist_file)
        return gm_err_set(err, GM_EINVAL, "--persisted-queries allowlist needs --allowlist FILE");
    json_error_t je;
    json_t *doc = json_load_file(s->o.allowlist_file, 0, &je);
    if (!doc)
        return gm_err_set(err, GM_EINVAL, "--allowlist %s:%d: %s", s->o.allowlist_file, je.line,
                          je.text);
    json_t *ops = json_object_get(doc, "operations");
    if (json_is_array(ops)) {
        size_t i;
        json_t *op;
        json_array_foreach(ops, i, op)
        {
            const char *id = json_string_value(json_object_get(op, "id"));
            const char *body = json_string_value(json_object_get(op, "body"));
            if (!id || !body) {
                rc = gm_err_set(err, GM_EINVAL, "--allowlist %s: operations[%zu] needs id and body",
                                s->o.allowlist_file, i);
                goto out;
            }
            if ((rc = allow_add(s, &cap, id, body, err)))
                goto out;
        }
    } else if (json_is_object(doc)) {
        const char *k;
        json_t *v;
        json_object_foreach(doc, k, v)
        {
            if (!json_is_string(v)) {
                rc = gm_err_set(err, GM_EINVAL, "--allowlist %s: the value of %.20s is not text",
                                s->o.allowlist_file, k);
                goto out;
            }
            if ((rc = allow_add(s, &cap, k, json_string_value(v), err)))
                goto out;
        }
    } else {
        rc = gm_err_set(err, GM_EINVAL,
                        "--allowlist %s: expected {\"SHA256\": \"document\", ...} or an Apollo "
                        "manifest {\"operations\": [...]}",
                        s->o.allowlist_file);
        goto out;
    }
    if (s->n_allow)
        qsort(s->allow, s->n_allow, sizeof *s->allow, cmp_allow);
    gm_log(GM_LOG_INFO, "allow-list %s: %zu documents", s->o.allowlist_file, s->n_allow);
out:
    json_decref(doc);
    return rc;
}

void
gm__api_allowlist_free(struct gm_api_server *s)
{
    for (size_t i = 0; i < s->n_allow; i++)
        free(s->allow[i].text);
    free(s->allow);
    s->allow = NULL;
    s->n_allow = 0;
}

/*
 * Replaces the message of every INTERNAL_SERVER_ERROR error of a response
 * by a fixed text, logging the original. Returns new text (free()) or NULL
 * when nothing was masked.
 */
static char *
mask_internal(struct gctx *g, const char *json, size_t len)
{
    json_t *doc = json_loadb(json, len, 0, NULL);
    json_t *errors = json_object_get(doc, "errors");
    size_t i, masked = 0, internal = 0;
    json_t *e;
    json_array_foreach(errors, i, e)
    {
        const char *code =
            json_string_value(json_object_get(json_object_get(e, "extensions"), "code"));
        if (code && strcmp(code, GM_GQL_CODE_INTERNAL) == 0) {
            const char *msg = json_string_value(json_object_get(e, "message"));
            internal++;
            /* The resolvers may have masked it already, having logged the details. */
            if (msg && strcmp(msg, MASKED) == 0)
                continue;
            gm_log(GM_LOG_ERROR, "internal error (masked in the response): %s", msg);
            json_object_set_new(e, "message", json_string(MASKED));
            masked++;
        }
    }
    char *out = NULL;
    atomic_fetch_add(&g->s->m.masked_errors, internal);
    if (masked) {
        out = json_dumps(doc, JSON_COMPACT | JSON_PRESERVE_ORDER);
    }
    json_decref(doc);
    return out;
}

/* The request's arena, one per thread, reset after each request and freed with the thread. */
static pthread_key_t arena_key;
static pthread_once_t arena_once = PTHREAD_ONCE_INIT;

static void
arena_free(void *p)
{
    gm_arena_deinit(p);
    free(p);
}

static void
arena_key_init(void)
{
    if (pthread_key_create(&arena_key, arena_free) != 0)
        abort();
}

static struct gm_arena *
thread_arena(void)
{
    pthread_once(&arena_once, arena_key_init);
    struct gm_arena *a = pthread_getspecific(arena_key);
    if (!a) {
        a = malloc(sizeof *a);
        if (!a)
            abort();
        gm_arena_init(a, 8u << 20);
        pthread_setspecific(arena_key, a);
    }
    return a;
}

/* Answers with the GraphQL errors of a failed preparation. */
static enum MHD_Result
send_errors(struct gctx *g, const struct gm_gql_errors *errs, struct gm_arena *a)
{
    struct gm_gql_response resp;
    gm_gql_errors_response(errs, a, &resp);
    return send_json(g, g->media == MEDIA_GQL ? 400 : 200, resp.json, resp.len);
}

/* Steps 5 to 9, with the parameters checked. */
static enum MHD_Result
run(struct gctx *g, const struct gm_api_viewer *viewer, const char *query, const char *opname,
    json_t *variables, json_t *extensions, bool is_get)
{
    struct gm_api_server *s = g->s;
    struct gm_arena *a = thread_arena();
    struct gm_gql_errors errs;
    struct gm_gql_prepared *p = NULL;
    enum MHD_Result ret;
    int rc;
    gm_gql_errors_init(&errs);

    json_t *pq = json_object_get(extensions, "persistedQuery");
    const char *hash = NULL;
    if (pq) {
        hash = json_string_value(json_object_get(pq, "sha256Hash"));
        json_t *ver = json_object_get(pq, "version");
        if (!json_is_object(pq) || !hash || (ver && json_integer_value(ver) != 1)) {
            ret = send_error(g, 400, "BAD_REQUEST",
                             "extensions.persistedQuery needs version 1 and a sha256Hash");
            goto out;
        }
        if (s->o.pq == GM_API_PQ_OFF) {
            ret = send_error(g, 400, "PERSISTED_QUERY_NOT_SUPPORTED",
                             "persisted queries are not supported by this server");
            goto out;
        }
    }
    if (s->o.pq == GM_API_PQ_ALLOWLIST) {
        unsigned char sha[32];
        if (hash && !hex_to_sha(hash, sha)) {
            ret = send_error(g, 400, "BAD_REQUEST", "sha256Hash is not 64 hexadecimal digits");
            goto out;
        }
        if (!hash && !query) {
            ret = send_error(g, 400, "BAD_REQUEST", "missing query");
            goto out;
        }
        if (!hash)
            sha256(query, strlen(query), sha);
        const struct gm__api_allow *al = allow_find(s, sha);
        if (!al) {
            ret = send_error(g, g->media == MEDIA_GQL ? 400 : 200,
                             hash && !query ? GM_GQL_CODE_PERSISTED_NOT_FOUND
                                            : "PERSISTED_QUERY_NOT_ALLOWED",
                             "this server runs only the documents of its allow-list");
            goto out;
        }
        rc = gm_gql_prepare(s->d.engine, al->text, strlen(al->text), a, &errs, &p);
    } else if (hash) {
        rc = gm_gql_prepare_persisted(s->d.engine, hash, strlen(hash), query,
                                      query ? strlen(query) : 0, a, &errs, &p);
        if (rc == GM_ENOTFOUND) {
            ret = send_error(g, g->media == MEDIA_GQL ? 400 : 200, GM_GQL_CODE_PERSISTED_NOT_FOUND,
                             "PersistedQueryNotFound");
            goto out;
        }
    } else if (!query) {
        ret = send_error(g, 400, "BAD_REQUEST", "missing query");
        goto out;
    } else {
        rc = gm_gql_prepare(s->d.engine, query, strlen(query), a, &errs, &p);
    }
    if (rc) {
        ret = send_errors(g, &errs, a);
        goto out;
    }

    const char *names[MAX_ROOT_FIELDS];
    size_t n = 0;
    rc = gm_gql_prepared_root_fields(p, opname, names, MAX_ROOT_FIELDS, &n);
    if (rc == GM_ETOOBIG) {
        ret = send_error(g, g->media == MEDIA_GQL ? 400 : 200, GM_GQL_CODE_COMPLEX,
                         "more than %d root fields", MAX_ROOT_FIELDS);
        goto out;
    }
    for (size_t i = 0; i < n; i++) {
        int idx = gm__api_op_index(s, names[i]);
        if (idx > 1 || i == 0)
            g->r->op = idx;
        if (idx > 1)
            break;
    }
    int op_type = gm_gql_prepared_op_type(p, opname);
    if (is_get && op_type == GM_GQL_OP_MUTATION) {
        gm__api_header(g->r, MHD_HTTP_HEADER_ALLOW, "POST");
        ret = send_error(g, 405, "METHOD_NOT_ALLOWED",
                         "mutations are not allowed over GET; use POST");
        goto out;
    }
    if (!s->o.introspection)
        for (size_t i = 0; i < n; i++)
            if (strcmp(names[i], "__schema") == 0 || strcmp(names[i], "__type") == 0) {
                ret = send_error(g, g->media == MEDIA_GQL ? 400 : 200, GM_GQL_CODE_VALIDATION,
                                 "GraphQL introspection is not allowed by this server");
                goto out;
            }
    /*
     * The limit is asked of Redis first; a query (reads only) runs while
     * Redis decides and its answer is dropped when refused, a mutation
     * waits for the decision.
     */
    struct gm_api_rl_call rl_call;
    bool early = op_type == GM_GQL_OP_QUERY;
    /* A query whose root fields all read Redis carries the check in its own script call. */
    bool carry = early && n > 0;
    for (size_t i = 0; carry && i < n; i++)
        carry = gm_api_backend_carries(names[i]);
    struct gm_api_carry cy = {0};
    if (carry) {
        gm_api_limiter_prepare(s->d.limiter, viewer->user_id, names, n, &rl_call);
        carry = rl_call.state == 3;
        if (carry) {
            cy.script = gm_api_limiter_script(s->d.limiter, &cy.sha);
            cy.keys = rl_call.keyp;
            cy.n_keys = rl_call.n_keys;
            cy.args = rl_call.argp;
            cy.n_args = 2 * rl_call.n_keys;
        }
    } else {
        gm_api_limiter_start(s->d.limiter, viewer->user_id, names, n, &rl_call);
    }
    struct gm_api_request areq = {
        .backend = s->d.backend, .viewer = *viewer, .carry = carry ? &cy : NULL};
    struct gm_gql_exec_params params = {
        .operation_name = opname, .variables = variables, .context = &areq};
    struct gm_gql_response resp;
    /* A refusal decided from a kept one (ratelimit.h) needs no execution. */
    bool refused_here = rl_call.state == 4 && !rl_call.res.allowed;
    if (early && !refused_here)
        gm_gql_execute(s->d.engine, p, &params, a, &resp);
    {
        struct gm_api_rl_result rl;
        if (carry && cy.sent)
            gm_api_limiter_finish_carried(s->d.limiter, &rl_call, cy.reply, &rl);
        else
            gm_api_limiter_finish(s->d.limiter, &rl_call, &rl);
        if (rl.limited) {
            /* On every limited answer: written without snprintf (common/fmt.h). */
            char lim[GM_FMT_I64_MAX], rem[GM_FMT_I64_MAX], rst[GM_FMT_I64_MAX], v[128];
            gm_fmt_i64(lim, rl.limit);
            gm_fmt_i64(rem, rl.remaining);
            gm_fmt_i64(rst, rl.reset_s);
            const char *policy[] = {lim, ";w=60"};
            gm_fmt_join(v, sizeof v, policy, 2);
            gm__api_header_set(g->r, "RateLimit-Policy", v);
            const char *state[] = {"limit=", lim, ", remaining=", rem, ", reset=", rst};
            gm_fmt_join(v, sizeof v, state, 6);
            gm__api_header_set(g->r, "RateLimit", v);
        }
        if (!rl.allowed) {
            int idx = gm__api_op_index(s, rl.op);
            atomic_fetch_add(&s->m.rate_limited[idx], 1);
            gm__api_header(g->r, MHD_HTTP_HEADER_RETRY_AFTER, "%ld", rl.retry_after_s);
            json_t *body =
                json_pack("{s:[{s:s++,s:{s:s,s:I}}]}", "errors", "message",
                          "rate limit exceeded for ", rl.op, ": try again later", "extensions",
                          "code", "RATE_LIMITED", "retryAfter", (json_int_t)rl.retry_after_s);
            char *text = json_dumps(body, JSON_COMPACT | JSON_PRESERVE_ORDER);
            json_decref(body);
            if (!text)
                abort();
            gm_log(GM_LOG_INFO, "rate limited: %s for %s (%ld per minute)", viewer->user_id, rl.op,
                   rl.limit);
            ret = send_json(g, 429, text, strlen(text));
            free(text);
            goto out;
        }
    }

    if (!early)
        gm_gql_execute(s->d.engine, p, &params, a, &resp);
    unsigned status = resp.has_data || g->media == MEDIA_JSON ? 200 : 400;
    char *masked = resp.n_errors && strstr(resp.json, GM_GQL_CODE_INTERNAL)
                       ? mask_internal(g, resp.json, resp.len)
                       : NULL;
    if (masked) {
        ret = send_json(g, status, masked, strlen(masked));
        free(masked);
    } else {
        ret = send_json(g, status, resp.json, resp.len);
    }
out:
    if (p)
        gm_gql_prepared_release(s->d.engine, p);
    gm_arena_reset(a);
    return ret;
}

enum MHD_Result
gm__api_graphql(struct gm_api_server *s, struct MHD_Connection *c, struct gm__api_req *r,
                const char *method)
{
    struct gctx g = {.s = s, .c = c, .r = r, .media = MEDIA_JSON};
    bool is_get = strcmp(method, "GET") == 0;
    if (!is_get && strcmp(method, "POST") != 0) {
        gm__api_header(r, MHD_HTTP_HEADER_ALLOW, "GET, POST");
        return send_error(&g, 405, "METHOD_NOT_ALLOWED", "use GET or POST");
    }
    g.media = negotiate(MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_ACCEPT));
    if (g.media == MEDIA_NONE) {
        g.media = MEDIA_JSON;
        return send_error(&g, 406, "NOT_ACCEPTABLE",
                          "answers are application/graphql-response+json or application/json");
    }

    const char *authz =
        MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_AUTHORIZATION);
    if (!authz)
        return unauthorized(&g, NULL);
    if (strncasecmp(authz, "Bearer ", 7) != 0)
        return unauthorized(&g, "the Authorization scheme must be Bearer");
    const char *token = authz + 7;
    while (*token == ' ')
        token++;
    char user[GM_API_USER_MAX + 1];
    enum gm_api_role role;
    char why[128];
    if (gm_api_auth_verify(s->d.auth, token, time(NULL), user, &role, why, sizeof why) != 0)
        return unauthorized(&g, why);
    struct gm_api_viewer viewer = {.user_id = user, .role = role, .request_id = r->id};

    enum MHD_Result ret = MHD_NO;
    json_t *params = NULL;
    if (is_get) {
        params = get_params(&g, &ret);
        if (!params)
            return ret;
    } else {
        if (!is_json_type(
                MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_TYPE)))
            return send_error(&g, 415, "UNSUPPORTED_MEDIA_TYPE",
                              "POST bodies must be application/json (UTF-8)");
        if (!r->len)
            return send_error(&g, 400, "BAD_REQUEST", "the request body is empty");
        /* The common body needs no JSON tree (body.c); the others go to jansson. */
        char *scratch = malloc(r->len + 1);
        if (!scratch)
            abort();
        const char *fq, *fop;
        if (gm__api_body_simple(r->body, r->len, scratch, &fq, &fop)) {
            ret = run(&g, &viewer, fq, fop, NULL, NULL, false);
            free(scratch);
            return ret;
        }
        free(scratch);
        json_error_t je;
        params = json_loadb(r->body, r->len, 0, &je);
        if (!params)
            return send_error(&g, 400, "BAD_REQUEST", "the body is not JSON: %s (line %d)", je.text,
                              je.line);
        if (!json_is_object(params)) {
            json_decref(params);
            return send_error(&g, 400, "BAD_REQUEST", "the body is not a JSON object");
        }
    }
    json_t *query = json_object_get(params, "query");
    json_t *opname = json_object_get(params, "operationName");
    json_t *variables = json_object_get(params, "variables");
    json_t *extensions = json_object_get(params, "extensions");
    if (query && !json_is_string(query) && !json_is_null(query))
        ret = send_error(&g, 400, "BAD_REQUEST", "query must be a string");
    else if (opname && !json_is_string(opname) && !json_is_null(opname))
        ret = send_error(&g, 400, "BAD_REQUEST", "operationName must be a string");
    else if (variables && !json_is_object(variables) && !json_is_null(variables))
        ret = send_error(&g, 400, "BAD_REQUEST", "variables must be an object");
    else if (extensions && !json_is_object(extensions) && !json_is_null(extensions))
        ret = send_error(&g, 400, "BAD_REQUEST", "extensions must be an object");
    else
        ret = run(&g, &viewer, json_string_value(query), json_string_value(opname),
                  json_is_object(variables) ? variables : NULL,
                  json_is_object(extensions) ? extensions : NULL, is_get);
    json_decref(params);
    return ret;
}
