/*
 * test_api_resolvers.c: the resolvers without servers: every field of
 * api/schema.graphql gets a resolver, the backend's options are checked,
 * redemption ids are stable per (user, key), and with Postgres and Redis
 * unreachable the backend says so and requests get masked errors (the
 * servers' own text never reaches the response); a redemption waiter is
 * woken when the listener's LISTEN is lost or comes back. tests/api/ runs
 * them against real servers.
 */
#include "execute.h"
#include "internal.h"
#include "resolvers.h"

#include <criterion/criterion.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static struct gm_gql_schema *
public_schema(void)
{
    const char *root = getenv("GAMIFY_SOURCE_ROOT");
    cr_assert(root, "GAMIFY_SOURCE_ROOT is not set (run the tests through meson)");
    char path[4096];
    snprintf(path, sizeof path, "%s/api/schema.graphql", root);
    FILE *f = fopen(path, "rb");
    cr_assert(f, "cannot open %s", path);
    char *buf = malloc(1 << 20);
    size_t len = fread(buf, 1, 1 << 20, f);
    fclose(f);
    struct gm_gql_schema *s = NULL;
    struct gm_err err;
    int rc = gm_gql_schema_new(buf, len, &s, &err);
    free(buf);
    cr_assert_eq(rc, 0, "schema: %s", err.msg);
    return s;
}

/* Servers nobody listens on (port 1 refuses at once). */
static const struct gm_api_backend_opts dead = {
    .postgres = "host=127.0.0.1 port=1 dbname=x connect_timeout=1",
    .redis = "redis://127.0.0.1:1",
};

Test(api_resolvers, every_field_is_bound)
{
    struct gm_gql_schema *s = public_schema();
    struct gm_api_backend *b = NULL;
    struct gm_err err;
    cr_assert_eq(gm_api_backend_open(&dead, &b, &err), 0, "%s", err.msg);
    cr_assert_eq(gm_api_resolvers_bind(s, b, &err), 0, "%s", err.msg);
    cr_assert_eq(gm_gql_schema_check(s, &err), 0, "unbound: %s", err.msg);
    gm_api_backend_close(b);
    gm_gql_schema_free(s);
}

Test(api_resolvers, bad_options)
{
    static const struct {
        struct gm_api_backend_opts o;
        const char *msg;
    } cases[] = {
        {{.redis = "redis://h"}, "--postgres is required"},
        {{.postgres = "x"}, "--redis is required"},
        {{.postgres = "x", .redis = "http://h"}, "expected redis://HOST"},
        {{.postgres = "x", .redis = "redis://h:99999"}, "bad port"},
        {{.postgres = "x", .redis = "redis://h/abc"}, "bad database"},
        {{.postgres = "x", .redis = "redis://h", .redeem_wait_ms = -1}, "redeem wait"},
        {{.postgres = "x", .redis = "redis://h", .pool_size = 5000}, "pool size"},
        {{.postgres = "x", .redis = "redis://h", .log_uri = "ftp:x"}, ""},
        {{.postgres = "x", .redis = "redis://h", .log_uri = "jsonl:/tmp/x"}, "appends to file:"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct gm_api_backend *b = (void *)1;
        struct gm_err err;
        gm_err_clear(&err);
        int rc = gm_api_backend_open(&cases[i].o, &b, &err);
        cr_assert_eq(rc, GM_EINVAL, "case %zu: %d", i, rc);
        cr_assert_null(b, "case %zu", i);
        cr_assert(strstr(err.msg, cases[i].msg), "case %zu: %s", i, err.msg);
    }
}

Test(api_resolvers, redemption_ids)
{
    char a[34], b[34], c[34], d[34];
    gm_api_redemption_id("lea", "key-1", 5, a);
    gm_api_redemption_id("lea", "key-1", 5, b);
    gm_api_redemption_id("ana", "key-1", 5, c);
    gm_api_redemption_id("lea", "key-2", 5, d);
    cr_assert_str_eq(a, b);
    cr_assert_str_neq(a, c);
    cr_assert_str_neq(a, d);
    cr_assert_eq(strlen(a), 33);
    cr_assert_eq(a[0], 'k');
    cr_assert_eq(strspn(a + 1, "0123456789abcdef"), 32);
    /* The user and the key are separated: ("a", "bc") is not ("ab", "c"). */
    gm_api_redemption_id("a", "bc", 2, c);
    gm_api_redemption_id("ab", "c", 1, d);
    cr_assert_str_neq(c, d);
}

Test(api_resolvers, servers_down)
{
    struct gm_gql_schema *s = public_schema();
    struct gm_api_backend *b = NULL;
    struct gm_err err;
    cr_assert_eq(gm_api_backend_open(&dead, &b, &err), 0, "%s", err.msg);
    cr_assert_eq(gm_api_resolvers_bind(s, b, &err), 0, "%s", err.msg);
    char why[256];
    cr_assert_eq(gm_api_backend_ready(b, why, sizeof why), GM_EDB);
    cr_assert(strstr(why, "postgres"), "%s", why);

    struct gm_gql_engine *e = gm_gql_engine_new(s, NULL);
    struct gm_arena a;
    gm_arena_init(&a, 0);
    struct gm_api_request req = {.backend = b,
                                 .viewer = {.user_id = "lea", .role = GM_API_ROLE_STUDENT}};
    struct gm_gql_exec_params params = {.context = &req};
    static const char q[] = "{ userProfile { exp } leaderboard { totalCount } rewards { id } }";
    struct gm_gql_response resp;
    cr_assert_eq(gm_gql_run(e, q, strlen(q), &params, &a, &resp), 0);
    /* rewards is non-null, so its error nulls data as a whole. */
    cr_assert(strstr(resp.json, "\"data\":null"), "%s", resp.json);
    cr_assert_eq(resp.n_errors, 3, "%s", resp.json);
    cr_assert(strstr(resp.json, "\"message\":\"Internal server error\""), "%s", resp.json);
    cr_assert(strstr(resp.json, "INTERNAL_SERVER_ERROR"), "%s", resp.json);
    cr_assert_null(strstr(resp.json, "onnect"), "server text leaked: %s", resp.json);
    cr_assert_null(strstr(resp.json, "127.0.0.1"), "server text leaked: %s", resp.json);

    /* A bad argument is the caller's error, not masked. */
    static const char bad[] = "{ leaderboard(first: 0) { totalCount } }";
    gm_arena_reset(&a);
    cr_assert_eq(gm_gql_run(e, bad, strlen(bad), &params, &a, &resp), 0);
    cr_assert(strstr(resp.json, "BAD_USER_INPUT"), "%s", resp.json);

    struct gm_api_backend_stats st;
    gm_api_backend_stats(b, &st);
    cr_assert_gt(st.pg_errors, 0);
    gm_arena_deinit(&a);
    gm_gql_engine_free(e);
    gm_api_backend_close(b);
    gm_gql_schema_free(s);
}

static void *
drop_listen_later(void *arg)
{
    nanosleep(&(struct timespec){0, 200 * 1000000L}, NULL);
    gm__listening_set(arg, false);
    return NULL;
}

/*
 * The waiters of redeemReward and the listener's state (its Postgres is
 * down here, so the test sets the state itself). A waiter sleeping on
 * notifications must wake when LISTEN is lost, to poll; one that polled
 * while LISTEN was down must wake when it is back, to read the table once
 * (the outcome's NOTIFY may have gone to nobody). Both used to sleep until
 * their deadline.
 */
Test(api_resolvers, waiters_wake_when_listen_changes)
{
    struct gm_api_backend *b = NULL;
    struct gm_err err;
    cr_assert_eq(gm_api_backend_open(&dead, &b, &err), 0, "%s", err.msg);
    struct gm__waiter w = {.user_id = "lea", .redemption_id = "r1"};
    gm__waiter_add(b, &w);
    bool listening = true;
    /* not listening: no wait at all */
    int64_t t0 = gm__now_ms();
    cr_expect_not(gm__waiter_wait(b, &w, t0 + 5000, &listening));
    cr_expect_not(listening);
    cr_expect_lt(gm__now_ms() - t0, 1000);
    /* LISTEN comes back after the waiter's last poll: it is woken to look */
    gm__listening_set(b, true);
    t0 = gm__now_ms();
    cr_expect(gm__waiter_wait(b, &w, t0 + 5000, &listening), "not woken by LISTEN back");
    cr_expect(listening);
    cr_expect_lt(gm__now_ms() - t0, 1000, "waited %lld ms", (long long)(gm__now_ms() - t0));
    /* LISTEN is lost while the waiter sleeps: it is woken to poll */
    pthread_t th;
    cr_assert_eq(pthread_create(&th, NULL, drop_listen_later, b), 0);
    t0 = gm__now_ms();
    cr_expect(gm__waiter_wait(b, &w, t0 + 5000, &listening), "not woken by LISTEN lost");
    int64_t waited = gm__now_ms() - t0;
    pthread_join(th, NULL);
    cr_expect_not(listening);
    cr_expect_lt(waited, 2000, "waited %lld ms", (long long)waited);
    /* no change: no wake */
    gm__listening_set(b, false);
    t0 = gm__now_ms();
    cr_expect_not(gm__waiter_wait(b, &w, t0 + 100, &listening));
    gm__waiter_remove(b, &w);
    gm_api_backend_close(b);
}
