/*
 * log.h: JSON-lines logging to stderr.
 *
 * Every line is one JSON object: {"ts":..., "level":..., "msg":..., plus the
 * calling thread's context fields (partition, offset, request id)}. The level
 * is checked before anything is formatted.
 */
#ifndef GM_LOG_H
#define GM_LOG_H

#include <stdbool.h>

enum gm_log_level {
    GM_LOG_DEBUG = 0,
    GM_LOG_INFO = 1,
    GM_LOG_WARN = 2,
    GM_LOG_ERROR = 3,
    GM_LOG_OFF = 4,
};

/* Sets the lowest level written (default GM_LOG_INFO). */
void gm_log_set_level(enum gm_log_level level);

/* Parses "debug", "info", "warn", "error" or "off"; returns 0 or GM_EINVAL. */
int gm_log_parse_level(const char *name, enum gm_log_level *out);

bool gm_log_enabled(enum gm_log_level level);

/*
 * Sets this thread's context: extra JSON members written into every line,
 * e.g. "\"partition\":3". Borrows ctx; it must stay valid until replaced or
 * cleared with NULL.
 */
void gm_log_set_context(const char *ctx);

void gm__log_write(enum gm_log_level level, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

#define gm_log(level, ...)                                                                         \
    do {                                                                                           \
        if (gm_log_enabled(level))                                                                 \
            gm__log_write(level, __VA_ARGS__);                                                     \
    } while (0)

#endif
