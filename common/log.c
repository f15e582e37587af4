/*
 * log.c: JSON-lines logging. One write(2) per line so that lines from
 * several threads or processes sharing stderr never interleave.
 */
#include "log.h"

#include "err.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static enum gm_log_level min_level = GM_LOG_INFO;
static _Thread_local const char *thread_ctx;

static const char *const level_names[] = {"debug", "info", "warn", "error", "off"};

void
gm_log_set_level(enum gm_log_level level)
{
    min_level = level;
}

int
gm_log_parse_level(const char *name, enum gm_log_level *out)
{
    for (int i = 0; i <= GM_LOG_OFF; i++) {
        if (strcmp(name, level_names[i]) == 0) {
            *out = (enum gm_log_level)i;
            return 0;
        }
    }
    return GM_EINVAL;
}

bool
gm_log_enabled(enum gm_log_level level)
{
    return level >= min_level && level < GM_LOG_OFF;
}

void
gm_log_set_context(const char *ctx)
{
    thread_ctx = ctx;
}

/* Appends s to buf as JSON string content; returns the new length. */
static size_t
escape(char *buf, size_t len, size_t cap, const char *s)
{
    for (; *s && len + 7 < cap; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\') {
            buf[len++] = '\\';
            buf[len++] = (char)c;
        } else if (c < 0x20) {
            len += (size_t)snprintf(buf + len, cap - len, "\\u%04x", c);
        } else {
            buf[len++] = (char)c;
        }
    }
    return len;
}

void
gm__log_write(enum gm_log_level level, const char *fmt, ...)
{
    char msg[2048];
    char line[4096];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);

    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    struct tm tm;
    gmtime_r(&now.tv_sec, &tm);

    size_t len =
        (size_t)snprintf(line, sizeof line,
                         "{\"ts\":\"%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ\",\"level\":\"%s\","
                         "\"msg\":\"",
                         tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min,
                         tm.tm_sec, now.tv_nsec / 1000000, level_names[level]);
    len = escape(line, len, sizeof line - 64, msg);
    line[len++] = '"';
    if (thread_ctx && *thread_ctx) {
        size_t ctx_len = strlen(thread_ctx);
        if (len + ctx_len + 4 < sizeof line) {
            line[len++] = ',';
            memcpy(line + len, thread_ctx, ctx_len);
            len += ctx_len;
        }
    }
    line[len++] = '}';
    line[len++] = '\n';
    ssize_t ignored = write(STDERR_FILENO, line, len);
    (void)ignored;
}
