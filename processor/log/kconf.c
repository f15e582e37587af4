/*
 * kconf.c: librdkafka clients from tables of settings (see kconf.h).
 */
#include "kconf.h"

int
gm__kafka_conf_new(const struct gm__kconf *set, size_t n, rd_kafka_conf_t **out, struct gm_err *err)
{
    char errstr[512];
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    for (size_t i = 0; i < n; i++) {
        if (rd_kafka_conf_set(conf, set[i].name, set[i].value, errstr, sizeof errstr) !=
            RD_KAFKA_CONF_OK) {
            rd_kafka_conf_destroy(conf);
            return gm_err_set(err, GM_EKAFKA, "kafka setting %s=%s: %s", set[i].name, set[i].value,
                              errstr);
        }
    }
    *out = conf;
    return 0;
}

int
gm__kafka_new(rd_kafka_type_t type, rd_kafka_conf_t *conf, rd_kafka_t **out, struct gm_err *err)
{
    char errstr[512];
    /* rd_kafka_new owns conf only when it succeeds */
    rd_kafka_t *rk = rd_kafka_new(type, conf, errstr, sizeof errstr);
    if (!rk) {
        rd_kafka_conf_destroy(conf);
        return gm_err_set(err, GM_EKAFKA, "kafka %s: %s",
                          type == RD_KAFKA_PRODUCER ? "producer" : "consumer", errstr);
    }
    *out = rk;
    return 0;
}
