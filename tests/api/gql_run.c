/*
 * gql_run.c: a test driver for the resolvers: runs GraphQL documents
 * through the engine with gm_api_resolvers bound to a real backend, as the
 * HTTP server will, and prints one response per line.
 *
 *   gql_run --schema FILE --postgres CONNINFO --redis URL [--prefix P]
 *           [--log URI] [--wait-ms N] [--user ID] [--role student|staff|service]
 *           [--parallel N] [--repeat N] [--ready] QUERY [VARIABLES_JSON]
 *
 * --parallel N runs the document in N threads at once (one backend), each
 * printing its response line. --repeat N runs it N times in each thread
 * (the last response printed) and writes to stderr
 * `requests=N seconds=S perSecond=R` (tests/bench/run resolvers). --ready prints the backend's
 * readiness
 * ("ready" or the reason) and exits 0 or 1.
 */
#include "execute.h"
#include "resolvers.h"

#include <jansson.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct job {
    struct gm_gql_engine *eng;
    struct gm_api_backend *b;
    const char *user, *query;
    enum gm_api_role role;
    json_t *vars;
    long repeat;
    char *out; /* owned */
    int rc;
};

static void *
run(void *arg)
{
    struct job *j = arg;
    struct gm_arena a;
    gm_arena_init(&a, 0);
    struct gm_api_request req = {
        .backend = j->b, .viewer = {.user_id = j->user, .role = j->role, .request_id = "test"}};
    struct gm_gql_exec_params params = {.variables = j->vars, .context = &req};
    struct gm_gql_response resp = {.json = "null"};
    for (long i = 0; i < j->repeat; i++) {
        if (i)
            gm_arena_reset(&a);
        j->rc = gm_gql_run(j->eng, j->query, strlen(j->query), &params, &a, &resp);
        if (j->rc || resp.n_errors)
            break;
    }
    j->out = strdup(resp.json);
    gm_arena_deinit(&a);
    return NULL;
}

static char *
slurp(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *s = malloc((size_t)n + 1);
    if (!s || fread(s, 1, (size_t)n, f) != (size_t)n) {
        fclose(f);
        free(s);
        return NULL;
    }
    s[n] = '\0';
    fclose(f);
    return s;
}

int
main(int argc, char **argv)
{
    const char *schema_path = NULL, *user = NULL, *role_s = "student", *query = NULL,
               *vars_s = NULL;
    struct gm_api_backend_opts o = {0};
    struct gm_api_backend_opts_ex ex = {0};
    int parallel = 1;
    long repeat = 1;
    int ready = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--schema") && v)
            schema_path = v, i++;
        else if (!strcmp(a, "--postgres") && v)
            o.postgres = v, i++;
        else if (!strcmp(a, "--redis") && v)
            o.redis = v, i++;
        else if (!strcmp(a, "--prefix") && v)
            ex.redis_prefix = v, i++;
        else if (!strcmp(a, "--log") && v)
            o.log_uri = v, i++;
        else if (!strcmp(a, "--wait-ms") && v)
            o.redeem_wait_ms = atoi(v), i++;
        else if (!strcmp(a, "--user") && v)
            user = v, i++;
        else if (!strcmp(a, "--role") && v)
            role_s = v, i++;
        else if (!strcmp(a, "--parallel") && v)
            parallel = atoi(v), i++;
        else if (!strcmp(a, "--repeat") && v)
            repeat = atol(v), i++;
        else if (!strcmp(a, "--ready"))
            ready = 1;
        else if (!query)
            query = a;
        else if (!vars_s)
            vars_s = a;
        else {
            fprintf(stderr, "gql_run: unexpected %s\n", a);
            return 2;
        }
    }
    if (!schema_path || (!query && !ready) || parallel < 1 || parallel > 256 || repeat < 1) {
        fprintf(stderr, "usage: gql_run --schema FILE --postgres C --redis URL ... QUERY [VARS]\n");
        return 2;
    }
    enum gm_api_role role = !strcmp(role_s, "staff")     ? GM_API_ROLE_STAFF
                            : !strcmp(role_s, "service") ? GM_API_ROLE_SERVICE
                                                         : GM_API_ROLE_STUDENT;
    struct gm_err err;
    gm_err_clear(&err);
    char *sdl = slurp(schema_path);
    struct gm_gql_schema *s = NULL;
    struct gm_api_backend *b = NULL;
    struct gm_gql_engine *eng = NULL;
    json_t *vars = NULL;
    int rc = 1;
    if (!sdl) {
        fprintf(stderr, "gql_run: cannot read %s\n", schema_path);
        goto out;
    }
    if (gm_gql_schema_new(sdl, strlen(sdl), &s, &err) ||
        gm_api_backend_open_ex(&o, &ex, &b, &err) || gm_api_resolvers_bind(s, b, &err) ||
        gm_gql_schema_check(s, &err)) {
        fprintf(stderr, "gql_run: %s\n", err.msg);
        goto out;
    }
    if (ready) {
        char why[256];
        int r = gm_api_backend_ready(b, why, sizeof why);
        printf("%s\n", r ? why : "ready");
        rc = r ? 1 : 0;
        goto out;
    }
    if (vars_s) {
        json_error_t je;
        vars = json_loads(vars_s, 0, &je);
        if (!vars) {
            fprintf(stderr, "gql_run: variables: %s\n", je.text);
            goto out;
        }
    }
    eng = gm_gql_engine_new(s, NULL);
    struct job *jobs = calloc((size_t)parallel, sizeof *jobs);
    pthread_t *th = calloc((size_t)parallel, sizeof *th);
    if (!jobs || !th)
        abort();
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (int i = 0; i < parallel; i++) {
        jobs[i] = (struct job){.eng = eng,
                               .b = b,
                               .user = user,
                               .query = query,
                               .role = role,
                               .vars = vars,
                               .repeat = repeat};
        pthread_create(&th[i], NULL, run, &jobs[i]);
    }
    rc = 0;
    for (int i = 0; i < parallel; i++) {
        pthread_join(th[i], NULL);
        printf("%s\n", jobs[i].out ? jobs[i].out : "null");
        if (jobs[i].rc)
            rc = 1;
        free(jobs[i].out);
    }
    clock_gettime(CLOCK_MONOTONIC, &t1);
    if (repeat > 1) {
        double secs = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
        fprintf(stderr, "requests=%ld seconds=%.2f perSecond=%.0f\n", repeat * parallel, secs,
                (double)(repeat * parallel) / secs);
    }
    free(jobs);
    free(th);
out:
    json_decref(vars);
    gm_gql_engine_free(eng);
    gm_api_backend_close(b);
    gm_gql_schema_free(s);
    free(sdl);
    return rc;
}
