/*
 * kconf.h: a librdkafka client made from a table of settings. The log's
 * producers and consumers (kafka.c, kafka_read.c, outkafka.c) each declare
 * their settings as a table; one place turns a rejected setting or a failed
 * client into a gm error naming it. Only built with librdkafka.
 */
#ifndef GM_LOG_KCONF_H
#define GM_LOG_KCONF_H

#include "err.h"

#include <librdkafka/rdkafka.h>
#include <stddef.h>

struct gm__kconf {
    const char *name;
    const char *value;
};

/* Returns in *out a new configuration holding the n settings; free it with
 * rd_kafka_conf_destroy or hand it to gm__kafka_new. GM_EKAFKA naming the
 * setting when librdkafka refuses one (nothing is returned then). */
int gm__kafka_conf_new(const struct gm__kconf *set, size_t n, rd_kafka_conf_t **out,
                       struct gm_err *err);

/* A producer or consumer from conf, which it takes ownership of whether it
 * succeeds or not. Returns in *out a new handle; free with rd_kafka_destroy.
 * GM_EKAFKA with librdkafka's reason when the client cannot be made. */
int gm__kafka_new(rd_kafka_type_t type, rd_kafka_conf_t *conf, rd_kafka_t **out,
                  struct gm_err *err);

#endif
