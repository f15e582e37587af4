/*
 * cmd_rules.c: `gamify rules check FILE`: parse and validate a rules file,
 * printing every error as FILE:LINE:COLUMN: message (the form editors and
 * CI annotate), or a one-line summary when the file is good.
 * `gamify rules publish --log URI FILE`: check it, then append a
 * RulesPublished event, so the rules take effect at that log position.
 */
#include "codec.h"
#include "commands.h"
#include "filelog.h"
#include "kafka.h"
#include "logsrc.h"
#include "rules.h"
#include "timefmt.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static int
rules_check(const char *path)
{
    struct gm_rules *r = NULL;
    struct gm_err *errs = NULL;
    size_t n_errs = 0;
    int rc = gm_rules_load(path, &r, &errs, &n_errs);
    if (rc && n_errs == 0) {
        fprintf(stderr, "gamify: %s: %s\n", path, gm_strerror(rc));
        return 2;
    }
    if (rc) {
        for (size_t i = 0; i < n_errs; i++)
            fprintf(stderr, "%s:%d:%d: %s\n", path, errs[i].line, errs[i].column, errs[i].msg);
        fprintf(stderr, "gamify: %s: %zu error%s\n", path, n_errs, n_errs == 1 ? "" : "s");
        free(errs);
        return 1;
    }
    char hex[65];
    for (size_t i = 0; i < sizeof r->sha256; i++)
        snprintf(hex + 2 * i, 3, "%02x", r->sha256[i]);
    printf("%s: ok: %zu levels (cap %lld exp), %zu badges, %zu rewards, sha256 %s\n", path,
           r->n_levels, (long long)r->thresholds[r->n_levels - 1], r->n_badges, r->n_rewards, hex);
    gm_rules_free(r);
    return 0;
}

#define PUBLISH_USAGE                                                                              \
    "usage: gamify rules publish --log URI [--user ID] [--comment TEXT]\n"                         \
    "                            [--at RFC3339] FILE\n"                                            \
    "URI: file:DIR, or kafka://HOST:PORT[,HOST:PORT]/TOPIC (the event goes to every\n"             \
    "partition: each partition's state takes the rules at that point of its log)\n"

/*
 * Appends the encoded RulesPublished event to every partition of a Kafka
 * topic: each partition is folded into a state of its own, which must see
 * the rules at its own point of the log (keyed by the user, as any event,
 * but placed by hand). Returns the exit code.
 */
static int
publish_kafka(const char *rest, const char *user, const uint8_t *buf, size_t len)
{
    struct gm_err err;
    gm_err_clear(&err);
    struct gm_kafka_producer *p = NULL;
    int32_t n = 0;
    uint64_t failed = 0;
    int code = 2;
    if (gm_kafka_producer_new(rest, &p, &err) || gm_kafka_producer_partitions(p, &n, &err))
        goto out;
    for (int32_t i = 0; i < n; i++) {
        if (gm_kafka_produce_to(p, i, user, buf, len, &err))
            goto out;
    }
    if (gm_kafka_producer_flush(p, 60000, &failed, &err) || failed)
        goto out;
    code = 0;
out:
    if (code)
        fprintf(stderr, "gamify rules publish: %s\n", err.msg[0] ? err.msg : "delivery failed");
    gm_kafka_producer_free(p);
    return code;
}

static int
rules_publish(int argc, char **argv)
{
    const char *log_uri = getenv("GAMIFY_LOG"), *user = getenv("GAMIFY_USER");
    const char *comment = "", *at = NULL;
    static const struct option longopts[] = {
        {"log", required_argument, NULL, 'l'},     {"user", required_argument, NULL, 'u'},
        {"comment", required_argument, NULL, 'c'}, {"at", required_argument, NULL, 'a'},
        {"help", no_argument, NULL, 'h'},          {NULL, 0, NULL, 0},
    };
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
        switch (c) {
        case 'l':
            log_uri = optarg;
            break;
        case 'u':
            user = optarg;
            break;
        case 'c':
            comment = optarg;
            break;
        case 'a':
            at = optarg;
            break;
        case 'h':
            printf(PUBLISH_USAGE);
            return 0;
        default:
            fprintf(stderr, PUBLISH_USAGE);
            return 2;
        }
    }
    if (optind != argc - 1 || !log_uri) {
        fprintf(stderr, PUBLISH_USAGE);
        return 2;
    }
    const char *path = argv[optind];
    if (!user || !*user)
        user = getenv("USER");
    if (!user || !*user)
        user = "operator";

    int code = rules_check(path);
    if (code)
        return code;

    struct gm_err err;
    gm_err_clear(&err);
    enum gm_logsrc_scheme scheme;
    const char *dir;
    if (gm_logsrc_uri_parse(log_uri, &scheme, &dir, &err)) {
        fprintf(stderr, "gamify rules publish: %s\n", err.msg);
        return 2;
    }
    if (scheme != GM_LOGSRC_FILE && scheme != GM_LOGSRC_KAFKA) {
        fprintf(stderr, "gamify rules publish: rules go to a file: or kafka:// log\n");
        return 2;
    }

    /* the text exactly as checked */
    char *yaml;
    size_t len;
    int rrc = gm_rules_read_text(path, &yaml, &len);
    if (rrc || len > GM_RULES_MAX) {
        fprintf(stderr, "gamify rules publish: cannot read %s (or larger than %d bytes)\n", path,
                GM_RULES_MAX);
        free(yaml);
        return 2;
    }

    Google__Protobuf__Timestamp ts = GOOGLE__PROTOBUF__TIMESTAMP__INIT;
    if (at) {
        if (gm_time_parse_rfc3339(at, strlen(at), &ts.seconds, &ts.nanos)) {
            fprintf(stderr, "gamify rules publish: --at %s is not an RFC 3339 time\n", at);
            free(yaml);
            return 2;
        }
    } else {
        struct timespec now;
        clock_gettime(CLOCK_REALTIME, &now);
        ts.seconds = now.tv_sec;
    }
    struct gm_rules *r = NULL;
    size_t n_errs = 0;
    if (gm_rules_parse(yaml, len, &r, NULL, &n_errs)) {
        fprintf(stderr, "gamify rules publish: %s changed while being read\n", path);
        free(yaml);
        return 1;
    }
    char event_id[64];
    snprintf(event_id, sizeof event_id, "rules-%02x%02x%02x%02x%02x%02x%02x%02x-%lld", r->sha256[0],
             r->sha256[1], r->sha256[2], r->sha256[3], r->sha256[4], r->sha256[5], r->sha256[6],
             r->sha256[7], (long long)ts.seconds);
    gm_rules_free(r);

    Gamification__V1__Event ev = GAMIFICATION__V1__EVENT__INIT;
    Gamification__V1__RulesPublished rp = GAMIFICATION__V1__RULES_PUBLISHED__INIT;
    ev.event_id = event_id;
    ev.user_id = (char *)user;
    ev.occurred_at = &ts;
    ev.source = "rules-cli";
    ev.body_case = GAMIFICATION__V1__EVENT__BODY_RULES_PUBLISHED;
    ev.rules_published = &rp;
    rp.rules_yaml = yaml;
    rp.comment = (char *)comment;
    uint8_t *buf = NULL;
    size_t buf_len = 0;
    struct gm_filelog *log = NULL;
    uint64_t offset = 0;
    code = 2;
    if (gm_event_encode(&ev, &buf, &buf_len, &err)) {
        fprintf(stderr, "gamify rules publish: %s\n", err.msg);
        goto out;
    }
    if (scheme == GM_LOGSRC_KAFKA) {
        code = publish_kafka(dir, user, buf, buf_len);
        if (code == 0)
            printf("published %s as event %s by %s to every partition of %s\n", path, event_id,
                   user, log_uri);
        goto out;
    }
    if (gm_filelog_open(dir, NULL, &log, &err)) {
        fprintf(stderr, "gamify rules publish: %s\n", err.msg);
        goto out;
    }
    const void *recs[1] = {buf};
    int rc = gm_filelog_append(log, recs, &buf_len, 1, &offset);
    if (rc) {
        fprintf(stderr, "gamify rules publish: append failed: %s\n", gm_strerror(rc));
        goto out;
    }
    printf("published %s as event %s by %s at offset %llu\n", path, event_id, user,
           (unsigned long long)offset);
    code = 0;
out:
    gm_filelog_close(log);
    free(buf);
    free(yaml);
    return code;
}

int
gm_cmd_rules(int argc, char **argv)
{
    if (argc == 3 && strcmp(argv[1], "check") == 0)
        return rules_check(argv[2]);
    if (argc >= 2 && strcmp(argv[1], "publish") == 0)
        return rules_publish(argc - 1, argv + 1);
    if (argc == 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
        printf("usage: gamify rules check FILE\n" PUBLISH_USAGE);
        return 0;
    }
    fprintf(stderr, "usage: gamify rules check FILE\n" PUBLISH_USAGE);
    return 2;
}
