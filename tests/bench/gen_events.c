/*
 * gen_events.c: a seeded generator of realistic event streams, as JSON
 * lines (the proto3 JSON mapping), for benchmarks and determinism tests.
 * The same arguments always give the same bytes.
 *
 * usage: gen_events --events N --users U [--seed S] [--start UNIX_SECONDS]
 *                   [--span-days D] [--rules-every N] [--uuid-ids]
 *
 * The mix: 80% lesson completions (some repeats), 14% tournament results,
 * 3% redemptions, 2% adjustments, 1% settings changes; times advance
 * through the span with small out-of-order jitter; groups are classes.
 * Event ids are "gSEED-N", or with --uuid-ids random UUIDs (version 4
 * shape, drawn from a stream of their own, so the events are otherwise the
 * same bytes): what producers usually send, and what a store pays more for
 * (each id lands on a random page of the dedupe tree).
 */
#include <getopt.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static uint64_t rng_state;
/* The UUIDs' own stream, so --uuid-ids changes nothing else. */
static uint64_t id_state;

/* splitmix64: small, fast, and the same on every machine */
static uint64_t
splitmix(uint64_t *state)
{
    uint64_t z = (*state += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

static uint64_t
rng(void)
{
    return splitmix(&rng_state);
}

static uint64_t
below(uint64_t n)
{
    return rng() % n;
}

static void
timestamp(int64_t t, char *buf, size_t cap)
{
    time_t tt = (time_t)t;
    struct tm tm;
    gmtime_r(&tt, &tm);
    strftime(buf, cap, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

int
main(int argc, char **argv)
{
    uint64_t events = 1000, users = 100, seed = 1, rules_every = 0;
    int uuid_ids = 0;
    int64_t start = 1793534400; /* 2026-11-01T10:00:00Z */
    int64_t span_days = 28;
    static const struct option opts[] = {
        {"events", required_argument, NULL, 'n'},    {"users", required_argument, NULL, 'u'},
        {"seed", required_argument, NULL, 's'},      {"start", required_argument, NULL, 't'},
        {"span-days", required_argument, NULL, 'd'}, {"rules-every", required_argument, NULL, 'r'},
        {"uuid-ids", no_argument, NULL, 'i'},        {NULL, 0, NULL, 0},
    };
    int c;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (c) {
        case 'n':
            events = strtoull(optarg, NULL, 10);
            break;
        case 'u':
            users = strtoull(optarg, NULL, 10);
            break;
        case 's':
            seed = strtoull(optarg, NULL, 10);
            break;
        case 't':
            start = strtoll(optarg, NULL, 10);
            break;
        case 'd':
            span_days = strtoll(optarg, NULL, 10);
            break;
        case 'r':
            rules_every = strtoull(optarg, NULL, 10);
            break;
        case 'i':
            uuid_ids = 1;
            break;
        default:
            fprintf(stderr, "usage: gen_events --events N --users U [--seed S] [--start T] "
                            "[--span-days D] [--rules-every N] [--uuid-ids]\n");
            return 2;
        }
    }
    if (users == 0 || span_days <= 0) {
        fprintf(stderr, "gen_events: --users and --span-days must be positive\n");
        return 2;
    }
    rng_state = seed;
    id_state = seed ^ 0x5bd1e9955bd1e995ULL;
    static const char *const zones[] = {"Europe/Berlin", "America/New_York", "Asia/Tokyo", "UTC",
                                        "Australia/Sydney"};
    /* the rewards of examples/rules.yaml (one of them retired), and one that
     * no rules define */
    static const char *const rewards[] = {"streak-shield",  "dark-theme", "sticker-pack",
                                          "pointers-ebook", "hoodie",     "no-such-reward"};
    static const char *const outcomes[] = {"WIN", "DRAW", "LOSS"};
    double step = (double)span_days * 86400.0 / (double)(events ? events : 1);
    char ts[32];
    for (uint64_t i = 0; i < events; i++) {
        int64_t t = start + (int64_t)((double)i * step) - (int64_t)below(600);
        timestamp(t, ts, sizeof ts);
        uint64_t u = below(users);
        if (uuid_ids) {
            uint64_t a = splitmix(&id_state), b = splitmix(&id_state);
            printf("{\"eventId\":\"%08" PRIx64 "-%04" PRIx64 "-4%03" PRIx64 "-%04" PRIx64
                   "-%012" PRIx64 "\",",
                   a >> 32, (a >> 16) & 0xffff, a & 0xfff, 0x8000 | (b >> 48 & 0x3fff),
                   b & (uint64_t)0xffffffffffff);
        } else {
            printf("{\"eventId\":\"g%" PRIu64 "-%" PRIu64 "\",", seed, i);
        }
        printf("\"userId\":\"user-%" PRIu64 "\",\"occurredAt\":\"%s\",", u, ts);
        if (rules_every && i > 0 && i % rules_every == 0) {
            printf("\"source\":\"admin\",\"rulesPublished\":{\"rulesYaml\":\"version: 1\\n"
                   "levels:\\n  thresholds: [0, %d, 500, 2000]\\n  level_up_coins: 25\\n"
                   "activities:\\n  lesson_completed:\\n    exp: %d\\n    coins: 2\\n\"}}\n",
                   100 + (int)(i / rules_every) % 50, 10 + (int)(i / rules_every) % 20);
            continue;
        }
        uint64_t kind = below(100);
        if (kind < 80) {
            printf("\"source\":\"learning\",\"groupIds\":[\"class-%" PRIu64
                   "\"],\"lessonCompleted\":{\"lessonId\":\"lesson-%" PRIu64
                   "\",\"courseId\":\"course-%" PRIu64 "\",\"score\":%" PRIu64
                   ",\"durationS\":%" PRIu64 "}}\n",
                   u % 1000, below(60), below(5), below(101), 60 + below(1800));
        } else if (kind < 94) {
            printf("\"source\":\"tournament\",\"tournamentResult\":{\"tournamentId\":\"t-%" PRIu64
                   "\",\"outcome\":\"%s\",\"rank\":%" PRIu64 "}}\n",
                   below(500), outcomes[below(3)], 1 + below(50));
        } else if (kind < 97) {
            printf("\"source\":\"api\",\"redeemReward\":{\"redemptionId\":\"r-%" PRIu64
                   "\",\"rewardId\":\"%s\"}}\n",
                   below(1000), rewards[below(6)]);
        } else if (kind < 99) {
            printf("\"source\":\"admin\",\"adjustment\":{\"exp\":%d,\"coins\":%d,"
                   "\"reason\":\"generated\"}}\n",
                   (int)below(200) - 20, (int)below(700) - 50);
        } else {
            printf("\"source\":\"settings\",\"userSettings\":{\"timezone\":\"%s\","
                   "\"leaderboardOptOut\":%s}}\n",
                   zones[below(5)], below(10) == 0 ? "true" : "false");
        }
    }
    return 0;
}
