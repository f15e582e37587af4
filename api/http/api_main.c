/*
 * api_main.c: gamify-api, the stateless GraphQL-over-HTTP server (DESIGN
 * sections 6 and 8). Settings come from one table (flags, GAMIFY_<NAME>,
 * a config file); the schema is built into the program; the resolvers and
 * their backend (Postgres, Redis, the log) come from api/resolvers.
 *
 * SIGTERM or SIGINT: stop accepting connections, answer the requests in
 * progress (up to --drain-timeout-ms), exit 0.
 */
#include "auth.h"
#include "config.h"
#include "execute.h"
#include "gm_config.h"
#include "log.h"
#include "ratelimit.h"
#include "resolvers.h"
#include "schema.h"
#include "server.h"

#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sched.h>
#include <sys/resource.h>
#include <unistd.h>

extern const char gm_api_schema_sdl[];
extern const size_t gm_api_schema_sdl_len;

static const struct gm_setting settings[] = {
    {"listen", GM_SET_STRING, NULL, 0, 0, true,
     "serve HTTP on HOST:PORT, :PORT (every IPv4 address) or [V6]:PORT"},
    {"postgres", GM_SET_STRING, NULL, 0, 0, true, "the Postgres read model (conninfo)"},
    {"redis", GM_SET_STRING, NULL, 0, 0, true,
     "Redis URL: leaderboards and the rate limits shared by replicas"},
    {"log", GM_SET_STRING, NULL, 0, 0, true,
     "the event log redeemReward appends to: file:DIR or kafka://HOST:PORT/TOPIC"},
    {"jwt-hs256-secret-file", GM_SET_STRING, NULL, 0, 0, false,
     "accept HS256 tokens signed with the secret in this file (32 bytes or more)"},
    {"jwt-rs256-public-key", GM_SET_STRING, NULL, 0, 0, false,
     "accept RS256 tokens signed by the private half of this PEM public key"},
    {"jwt-issuer", GM_SET_STRING, NULL, 0, 0, false, "tokens must carry this iss"},
    {"jwt-audience", GM_SET_STRING, NULL, 0, 0, false, "tokens must carry this aud"},
    {"jwt-leeway-seconds", GM_SET_INT, "30", 0, 3600, false,
     "clock skew allowed when checking exp and nbf"},
    {"threads", GM_SET_INT, "0", 0, 256, false,
     "HTTP threads, each with its own epoll loop (0: per CPU this process may run on, two with "
     "the board mirror on, eight with --mirror-members 0)"},
    {"max-connections", GM_SET_INT, "4096", 1, 1000000, false, "open connections at most"},
    {"max-body-bytes", GM_SET_INT, "65536", 256, 16777216, false,
     "largest request body (413 past it)"},
    {"max-header-bytes", GM_SET_INT, "8192", 4096, 1048576, false,
     "a connection's buffer for the request line and headers (431/413 past it)"},
    {"timeout-seconds", GM_SET_INT, "30", 1, 3600, false,
     "a connection idle this long (a slow or silent client) is closed"},
    {"body-timeout-seconds", GM_SET_INT, "10", 1, 3600, false,
     "a request body still arriving this long after its headers: connection closed"},
    {"drain-timeout-ms", GM_SET_INT, "10000", 0, 600000, false,
     "on SIGTERM, how long requests in progress may take to finish"},
    {"introspection", GM_SET_BOOL, "true", 0, 0, false,
     "answer __schema and __type (switch off in production if the schema is private)"},
    {"persisted-queries", GM_SET_STRING, "apq", 0, 0, false,
     "off, apq (Apollo automatic persisted queries) or allowlist (only --allowlist documents)"},
    {"allowlist", GM_SET_STRING, NULL, 0, 0, false,
     "allow-list file: {\"SHA256\": \"document\"} or an Apollo persisted-query manifest"},
    {"rate-limits", GM_SET_STRING, GM_API_RL_DEFAULT, 0, 0, false,
     "requests per user per minute by operation (root field); * for the others"},
    {"rate-limit-lease", GM_SET_INT, "64", 1, 1000, false,
     "rate-limit cells a replica takes from Redis at once for a user and operation, at most "
     "(a twentieth of the limit, at least 1; 1: Redis decides every request)"},
    {"redis-prefix", GM_SET_STRING, "gamify:", 0, 0, false,
     "prefix of every Redis key (the projector's leaderboards, the rate limits)"},
    {"redeem-wait-ms", GM_SET_INT, "2000", 0, 60000, false,
     "how long redeemReward waits for its outcome before answering PENDING"},
    {"pool-size", GM_SET_INT, "0", 0, 1024, false,
     "Postgres connections (0: one per HTTP thread, at most 32)"},
    {"streams-per-user", GM_SET_INT, "5", 1, 10000, false,
     "open /graphql/stream subscriptions per user at most (429 past it)"},
    {"stream-rate", GM_SET_INT, "4", 1, 1000, false,
     "leaderboard pages per second per subscription at most (changes coalesced)"},
    {"stream-lease-seconds", GM_SET_INT, "30", 3, 3600, false,
     "an open subscription's lease in Redis (the per-user limit shared by replicas) lasts this "
     "long unless renewed: the slots of a replica that dies free after it"},
    {"cache-entries", GM_SET_INT, "1024", 1, 1000000, false, "prepared GraphQL documents kept"},
    {"page-cache-ms", GM_SET_INT, "100", 0, 60000, false,
     "a leaderboard page is shared by requests this long at most (0: off); a "
     "leaderboard-changed message drops it sooner"},
    {"redis-batch", GM_SET_INT, "0", 0, 256, false,
     "Redis calls of concurrent requests sent in one round trip at most (0 or 1: each "
     "request its own round trip)"},
    {"mirror-members", GM_SET_INT, "2000000", 0, 1000000000, false,
     "leaderboards of the current periods held in this process, kept current from the "
     "projector's leaderboard-scores messages: members at most over every board (0: off; "
     "each request then reads Redis)"},
    {"mirror-check-ms", GM_SET_INT, "1000", 100, 3600000, false,
     "how often the board mirror compares its boards' sizes with Redis's"},
    {"log-level", GM_SET_STRING, "info", 0, 0, false, "debug, info, warn or error"},
};
#define N_SETTINGS (sizeof settings / sizeof settings[0])

static const char synopsis[] =
    "gamify-api --listen ADDR --postgres CONNINFO --redis URL --log URI\n"
    "                  [--jwt-hs256-secret-file F] [--jwt-rs256-public-key F] [--check-config]\n"
    "GraphQL over HTTP at /graphql, subscriptions over SSE at /graphql/stream;\n"
    "/healthz, /readyz, /metrics. Every flag also reads\n"
    "GAMIFY_<FLAG> (upper case, '-' as '_').\n";

/*
 * Raises the soft limit of open files to what --max-connections needs
 * (Debian's default of 1024 is below the 1,000 connections plus Redis,
 * Postgres and the log); warns when the hard limit is lower.
 */
static void
raise_nofile(long connections)
{
    struct rlimit rl;
    rlim_t want = (rlim_t)connections + 256;
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0 || rl.rlim_cur >= want)
        return;
    rl.rlim_cur = rl.rlim_max == RLIM_INFINITY || rl.rlim_max >= want ? want : rl.rlim_max;
    if (setrlimit(RLIMIT_NOFILE, &rl) != 0 || rl.rlim_cur < want)
        gm_log(GM_LOG_WARN,
               "open files limited to %llu: fewer than --max-connections %ld can be served",
               (unsigned long long)rl.rlim_cur, connections);
}

/*
 * --threads 0: per CPU of this process's affinity mask (taskset, cpusets),
 * two with the board mirror on, eight with it off. A request holds its
 * thread for its Redis or Postgres round trip, so without the mirror the
 * threads bound how many leaderboard requests wait on Redis at once: with
 * two per CPU the cores sat a fifth idle under load, with eight they stay
 * busy (BENCHMARKS.md, "apithreads"). The mirror answers leaderboards
 * without a round trip; then two per CPU served more than eight, for the
 * leaderboard and for userProfile (Postgres) alike, with a shorter tail
 * (BENCHMARKS.md, "mirror").
 */
static int
api_threads(long configured, bool mirror)
{
    if (configured > 0)
        return (int)configured;
    cpu_set_t set;
    int n = sched_getaffinity(0, sizeof set, &set) == 0 ? CPU_COUNT(&set) : 0;
    if (n <= 0)
        n = (int)sysconf(_SC_NPROCESSORS_ONLN);
    n *= mirror ? 2 : 8;
    int least = mirror ? 4 : 8;
    return n < least ? least : n > 256 ? 256 : n;
}

/*
 * --pool-size 0: one Postgres connection per HTTP thread, at most 32, so
 * that many threads per CPU on a large machine do not take PostgreSQL's
 * whole max_connections (100 by default) from one replica.
 */
static int
api_pool(long threads, bool mirror)
{
    int n = api_threads(threads, mirror);
    return n < 32 ? n : 32;
}

static int
parse_pq(const char *v, enum gm_api_pq_mode *out, struct gm_err *err)
{
    if (strcmp(v, "off") == 0)
        *out = GM_API_PQ_OFF;
    else if (strcmp(v, "apq") == 0)
        *out = GM_API_PQ_APQ;
    else if (strcmp(v, "allowlist") == 0)
        *out = GM_API_PQ_ALLOWLIST;
    else
        return gm_err_set(err, GM_EINVAL,
                          "--persisted-queries: \"%s\" is not off, apq or allowlist", v);
    return 0;
}

int
main(int argc, char **argv)
{
    struct gm_config cfg;
    struct gm_err err;
    struct gm_gql_schema *schema = NULL;
    struct gm_api_auth *auth = NULL;
    struct gm_api_limiter *limiter = NULL;
    struct gm_api_backend *backend = NULL;
    struct gm_gql_engine *engine = NULL;
    struct gm_api_server *srv = NULL;
    int status = 1;
    gm_err_clear(&err);
    memset(&cfg, 0, sizeof cfg);
    if (gm_config_parse(&cfg, settings, N_SETTINGS, argc, argv, &err) != 0) {
        if (cfg.help) {
            gm_config_usage(settings, N_SETTINGS, synopsis, stdout);
            gm_config_deinit(&cfg);
            return 0;
        }
        fprintf(stderr, "gamify-api: %s\n", err.msg);
        gm_config_deinit(&cfg);
        return 2;
    }
    if (cfg.help) {
        gm_config_usage(settings, N_SETTINGS, synopsis, stdout);
        gm_config_deinit(&cfg);
        return 0;
    }
    enum gm_log_level level;
    if (gm_log_parse_level(gm_config_str(&cfg, "log-level"), &level) != 0) {
        fprintf(stderr, "gamify-api: --log-level: \"%s\" is not debug, info, warn or error\n",
                gm_config_str(&cfg, "log-level"));
        goto out_usage;
    }
    gm_log_set_level(level);
    enum gm_api_pq_mode pq = GM_API_PQ_APQ;
    if (parse_pq(gm_config_str(&cfg, "persisted-queries"), &pq, &err) != 0)
        goto out_err;
    struct gm_api_auth_opts ao = {
        .hs256_secret_file = gm_config_str(&cfg, "jwt-hs256-secret-file"),
        .rs256_public_key_file = gm_config_str(&cfg, "jwt-rs256-public-key"),
        .issuer = gm_config_str(&cfg, "jwt-issuer"),
        .audience = gm_config_str(&cfg, "jwt-audience"),
        .leeway_s = (int)gm_config_int(&cfg, "jwt-leeway-seconds"),
    };
    if (gm_api_auth_new(&ao, &auth, &err) != 0)
        goto out_err;
    if (gm_api_limiter_new(gm_config_str(&cfg, "rate-limits"), gm_config_str(&cfg, "redis"),
                           gm_config_str(&cfg, "redis-prefix"), &limiter, &err) != 0)
        goto out_err;
    gm_api_limiter_set_lease(limiter, (int)gm_config_int(&cfg, "rate-limit-lease"));
    if (gm_gql_schema_new(gm_api_schema_sdl, gm_api_schema_sdl_len, &schema, &err) != 0)
        goto out_err;
    bool mirror = gm_config_int(&cfg, "mirror-members") > 0;
    struct gm_api_backend_opts bo = {
        .postgres = gm_config_str(&cfg, "postgres"),
        .redis = gm_config_str(&cfg, "redis"),
        .log_uri = gm_config_str(&cfg, "log"),
        .redeem_wait_ms = (int)gm_config_int(&cfg, "redeem-wait-ms"),
        .pool_size = gm_config_int(&cfg, "pool-size")
                         ? (int)gm_config_int(&cfg, "pool-size")
                         : api_pool(gm_config_int(&cfg, "threads"), mirror),
    };
    if (cfg.check_only) {
        /* The settings, then the servers they name (nginx -t): exit 1 naming what failed. */
        gm_config_print(&cfg, stdout);
        if (gm_api_backend_check(&bo, 0, &err) != 0) {
            fprintf(stderr, "gamify-api: --check-config: %s\n", err.msg);
            goto out;
        }
        printf("gamify-api: configuration ok\n");
        status = 0;
        goto out;
    }
    struct gm_api_backend_opts_ex bx = {.redis_prefix = gm_config_str(&cfg, "redis-prefix"),
                                        .page_cache_ms = (int)gm_config_int(&cfg, "page-cache-ms"),
                                        .redis_batch = (int)gm_config_int(&cfg, "redis-batch"),
                                        .mirror_members = gm_config_int(&cfg, "mirror-members"),
                                        .mirror_check_ms =
                                            (int)gm_config_int(&cfg, "mirror-check-ms")};
    if (gm_api_backend_open_ex(&bo, &bx, &backend, &err) != 0)
        goto out_err;
    if (gm_api_resolvers_bind(schema, backend, &err) != 0 || gm_gql_schema_check(schema, &err))
        goto out_err;
    struct gm_gql_engine_opts eo = {.cache_entries = (size_t)gm_config_int(&cfg, "cache-entries")};
    engine = gm_gql_engine_new(schema, &eo);

    /* Signals go to sigwait below: the HTTP threads inherit the blocked mask. */
    sigset_t sigs;
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGTERM);
    sigaddset(&sigs, SIGINT);
    pthread_sigmask(SIG_BLOCK, &sigs, NULL);
    signal(SIGPIPE, SIG_IGN);

    struct gm_api_server_opts so = {
        .listen = gm_config_str(&cfg, "listen"),
        .threads = api_threads(gm_config_int(&cfg, "threads"), mirror),
        .max_connections = (int)gm_config_int(&cfg, "max-connections"),
        .max_body = (size_t)gm_config_int(&cfg, "max-body-bytes"),
        .max_header = (size_t)gm_config_int(&cfg, "max-header-bytes"),
        .timeout_s = (int)gm_config_int(&cfg, "timeout-seconds"),
        .body_timeout_s = (int)gm_config_int(&cfg, "body-timeout-seconds"),
        .introspection = gm_config_bool(&cfg, "introspection"),
        .pq = pq,
        .allowlist_file = gm_config_str(&cfg, "allowlist"),
        .redis_url = gm_config_str(&cfg, "redis"),
        .redis_prefix = gm_config_str(&cfg, "redis-prefix"),
        .streams_per_user = (int)gm_config_int(&cfg, "streams-per-user"),
        .stream_rate = (int)gm_config_int(&cfg, "stream-rate"),
        .stream_lease_s = (int)gm_config_int(&cfg, "stream-lease-seconds"),
    };
    struct gm_api_server_deps sd = {
        .schema = schema, .engine = engine, .backend = backend, .auth = auth, .limiter = limiter};
    raise_nofile(so.max_connections);
    if (gm_api_server_start(&so, &sd, &srv, &err) != 0)
        goto out_err;
    gm_log(GM_LOG_INFO, "gamify-api %s listening on %s (%d threads, up to %d Postgres connections)",
           GM_VERSION, so.listen, so.threads, bo.pool_size);
    int sig = 0;
    sigwait(&sigs, &sig);
    gm_log(GM_LOG_INFO, "signal %d: draining the requests in progress", sig);
    int left = gm_api_server_drain(srv, (int)gm_config_int(&cfg, "drain-timeout-ms"));
    if (left)
        gm_log(GM_LOG_WARN, "%d requests still in progress after %lld ms; closing them", left,
               (long long)gm_config_int(&cfg, "drain-timeout-ms"));
    gm_api_server_stop(srv);
    srv = NULL;
    gm_log(GM_LOG_INFO, "stopped");
    status = 0;
    goto out;
out_err:
    fprintf(stderr, "gamify-api: %s\n", err.msg);
    gm_log(GM_LOG_ERROR, "%s", err.msg);
    goto out;
out_usage:
    status = 2;
out:
    gm_api_server_stop(srv);
    gm_gql_engine_free(engine);
    gm_api_backend_close(backend);
    gm_api_limiter_free(limiter);
    gm_api_auth_free(auth);
    gm_gql_schema_free(schema);
    gm_config_deinit(&cfg);
    return status;
}
