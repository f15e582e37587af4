/*
 * read_alerts.c: reads the ops alerts of an --alerts destination for the
 * tests and prints each as one JSON line (the proto3 JSON mapping):
 *   read_alerts file:DIR              a file log of OpsAlert records
 *   read_alerts kafka BROKERS TOPIC   a whole topic (every partition up to
 *                                     its high watermark at start)
 * A record that is not an OpsAlert is bad (exit 1, with a message); so is
 * a Kafka record whose key is not the alert's kind or whose gamify-id
 * header is not its alert_id.
 */
#include "filelog.h"
#include "json.h"
#include "outbound.pb-c.h"
#include "topic_read.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Prints the alert in data; false (with a message) when it is not one or
 * when key/id (NULL: not checked) disagree with it. */
static bool
take(const void *data, size_t len, const char *key, size_t key_len, const char *id)
{
    Gamification__V1__OpsAlert *al = gamification__v1__ops_alert__unpack(NULL, len, data);
    if (!al) {
        fprintf(stderr, "a record of %zu bytes is not an OpsAlert\n", len);
        return false;
    }
    bool ok = true;
    if (key && (key_len != strlen(al->kind) || memcmp(key, al->kind, key_len) != 0)) {
        fprintf(stderr, "%s: key is \"%.*s\", not its kind %s\n", al->alert_id, (int)key_len, key,
                al->kind);
        ok = false;
    }
    if (id && strcmp(id, al->alert_id) != 0) {
        fprintf(stderr, "%s: gamify-id header is \"%s\"\n", al->alert_id, id);
        ok = false;
    }
    char *js = gm_pb_to_json(&al->base);
    printf("%s\n", js ? js : "null");
    free(js);
    gamification__v1__ops_alert__free_unpacked(al, NULL);
    return ok && js;
}

static int
read_file(const char *dir)
{
    struct gm_filelog_reader *r;
    struct gm_err err;
    gm_err_clear(&err);
    if (gm_filelog_reader_open(dir, 0, &r, &err)) {
        fprintf(stderr, "%s: %s\n", dir, err.msg);
        return 2;
    }
    struct gm_filelog_rec rec;
    bool ok = true;
    int rc;
    while ((rc = gm_filelog_reader_next(r, &rec)) == 1)
        ok &= take(rec.data, rec.len, NULL, 0, NULL);
    if (rc < 0) {
        fprintf(stderr, "%s: %s\n", dir, gm_filelog_reader_errmsg(r));
        ok = false;
    }
    gm_filelog_reader_close(r);
    return ok ? 0 : 1;
}

/* take for a Kafka record: its key must be the alert's kind, its gamify-id header its id. */
static bool
take_kafka(const rd_kafka_message_t *m, rd_kafka_topic_t *rkt, int32_t partitions, void *arg)
{
    (void)rkt, (void)partitions, (void)arg;
    char *id = gm_test_topic_header(m, "gamify-id");
    bool ok = take(m->payload, m->len, m->key ? m->key : "", m->key_len, id);
    free(id);
    return ok;
}

int
main(int argc, char **argv)
{
    if (argc == 2 && strncmp(argv[1], "file:", 5) == 0)
        return read_file(argv[1] + 5);
    if (argc == 4 && strcmp(argv[1], "kafka") == 0)
        return gm_test_topic_read(argv[2], argv[3], "read-alerts", take_kafka, NULL);
    fprintf(stderr, "usage: read_alerts file:DIR | read_alerts kafka BROKERS TOPIC\n");
    return 2;
}
