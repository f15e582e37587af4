/*
 * kafka_mock_broker.c: a Kafka-protocol broker for the integration tests,
 * built on librdkafka's mock cluster (three brokers in one process). It
 * prints the bootstrap list as its first stdout line, then serves until
 * SIGTERM or SIGINT. tests/run starts it for the tests; no test
 * mocks a client: the clients under test speak the real protocol to it.
 *
 * usage: kafka_mock_broker [--topic NAME:PARTITIONS[:REPLICATION]]...
 *
 * Topics: the mock cluster does not implement CreateTopics, so topics are
 * either created here with --topic (rd_kafka_mock_topic_create) or
 * auto-created by the cluster. With librdkafka 2.0.2 (Debian 12) any
 * Metadata request that names an unknown topic creates it with 4 partitions
 * and 3 replicas: a producer's first produce, and also a consumer's
 * subscribe, although consumers default to allow.auto.create.topics=false
 * (checked: a consumer alone subscribing to a new name made it appear in a
 * full metadata listing; a full listing alone creates nothing). A topic
 * made with --topic NAME:2:1 was still listed with 3 replicas per
 * partition. So tests may use fresh topic names without --topic; pass
 * --topic when a test needs a given partition count.
 */
#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define GM_BROKER_COUNT 3

/*
 * Parses "NAME:PARTITIONS[:REPLICATION]" into name (a new string; free with
 * free()), partitions and replication. Returns 0, or -EINVAL when malformed.
 */
static int
parse_topic(const char *arg, char **name, int *partitions, int *replication)
{
    const char *colon = strchr(arg, ':');
    char *end = NULL;
    long parts, repl = GM_BROKER_COUNT;

    if (!colon || colon == arg)
        return -EINVAL;
    errno = 0;
    parts = strtol(colon + 1, &end, 10);
    if (errno || end == colon + 1 || parts < 1 || parts > 1000)
        return -EINVAL;
    if (*end == ':') {
        const char *r = end + 1;
        repl = strtol(r, &end, 10);
        if (errno || end == r || repl < 1 || repl > GM_BROKER_COUNT)
            return -EINVAL;
    }
    if (*end != '\0')
        return -EINVAL;
    *name = strndup(arg, (size_t)(colon - arg));
    if (!*name)
        abort();
    *partitions = (int)parts;
    *replication = (int)repl;
    return 0;
}

static void
usage(FILE *to)
{
    fprintf(to,
            "usage: kafka_mock_broker [--topic NAME:PARTITIONS[:REPLICATION]]...\n"
            "Prints the bootstrap servers on the first stdout line, then serves a\n"
            "%d-broker mock Kafka cluster until SIGTERM or SIGINT.\n",
            GM_BROKER_COUNT);
}

int
main(int argc, char **argv)
{
    char errstr[512];
    rd_kafka_conf_t *conf = NULL;
    rd_kafka_t *rk = NULL;
    rd_kafka_mock_cluster_t *mcluster = NULL;
    sigset_t stop_signals;
    int sig = 0;
    int rc = 1;

    /*
     * Block the stop signals before librdkafka starts its threads, so they
     * inherit the mask and only sigwait() below receives the signals.
     */
    sigemptyset(&stop_signals);
    sigaddset(&stop_signals, SIGTERM);
    sigaddset(&stop_signals, SIGINT);
    if (pthread_sigmask(SIG_BLOCK, &stop_signals, NULL) != 0) {
        fprintf(stderr, "kafka_mock_broker: cannot block signals\n");
        return 1;
    }

    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            usage(stdout);
            return 0;
        }
        if (strcmp(argv[i], "--topic") == 0 && i + 1 < argc) {
            i++;
            continue;
        }
        fprintf(stderr, "kafka_mock_broker: bad argument '%s'\n", argv[i]);
        usage(stderr);
        return 2;
    }

    conf = rd_kafka_conf_new();
    if (rd_kafka_conf_set(conf, "log_level", "4", errstr, sizeof errstr) != RD_KAFKA_CONF_OK) {
        fprintf(stderr, "kafka_mock_broker: %s\n", errstr);
        goto out;
    }
    /* The mock cluster needs a client instance to own its threads. */
    rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof errstr);
    if (!rk) {
        fprintf(stderr, "kafka_mock_broker: rd_kafka_new: %s\n", errstr);
        goto out;
    }
    conf = NULL; /* rd_kafka_new took ownership */

    mcluster = rd_kafka_mock_cluster_new(rk, GM_BROKER_COUNT);
    if (!mcluster) {
        fprintf(stderr, "kafka_mock_broker: cannot create the mock cluster\n");
        goto out;
    }

    for (int i = 1; i + 1 < argc; i++) {
        char *name = NULL;
        int partitions, replication;
        rd_kafka_resp_err_t err;

        if (strcmp(argv[i], "--topic") != 0)
            continue;
        i++;
        if (parse_topic(argv[i], &name, &partitions, &replication) < 0) {
            fprintf(stderr, "kafka_mock_broker: bad --topic '%s' (NAME:PARTITIONS[:REPLICATION])\n",
                    argv[i]);
            goto out;
        }
        err = rd_kafka_mock_topic_create(mcluster, name, partitions, replication);
        free(name);
        if (err) {
            fprintf(stderr, "kafka_mock_broker: topic '%s': %s\n", argv[i], rd_kafka_err2str(err));
            goto out;
        }
    }

    /* The first stdout line is the contract with tests/run. */
    printf("%s\n", rd_kafka_mock_cluster_bootstraps(mcluster));
    fflush(stdout);

    if (sigwait(&stop_signals, &sig) != 0) {
        fprintf(stderr, "kafka_mock_broker: sigwait failed\n");
        goto out;
    }
    fprintf(stderr, "kafka_mock_broker: signal %d, stopping\n", sig);
    rc = 0;

out:
    if (mcluster)
        rd_kafka_mock_cluster_destroy(mcluster);
    if (rk)
        rd_kafka_destroy(rk);
    if (conf)
        rd_kafka_conf_destroy(conf);
    return rc;
}
