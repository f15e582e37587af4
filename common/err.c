/*
 * err.c: error codes to text, and the person-readable error record.
 */
#include "err.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static const char *const messages[] = {
    [0] = "success",
    [-(GM_EINVAL - GM_E_BASE)] = "invalid input",
    [-(GM_ETOOBIG - GM_E_BASE)] = "input too large",
    [-(GM_EDECODE - GM_E_BASE)] = "malformed protobuf",
    [-(GM_EJSON - GM_E_BASE)] = "malformed JSON",
    [-(GM_ENOTFOUND - GM_E_BASE)] = "not found",
    [-(GM_EIO - GM_E_BASE)] = "I/O error",
    [-(GM_ECORRUPT - GM_E_BASE)] = "corrupt data",
    [-(GM_EDB - GM_E_BASE)] = "database error",
    [-(GM_EREDIS - GM_E_BASE)] = "Redis error",
    [-(GM_EKAFKA - GM_E_BASE)] = "Kafka error",
    [-(GM_EUNSUPPORTED - GM_E_BASE)] = "not supported by this build",
    [-(GM_EREJECTED - GM_E_BASE)] = "rejected",
};

const char *
gm_strerror(int code)
{
    if (code == 0)
        return messages[0];
    if (code <= GM_E_BASE && code > GM_ELAST)
        return messages[GM_E_BASE - code];
    if (code < 0 && code > GM_E_BASE)
        return strerror(-code);
    return "unknown error";
}

void
gm_err_clear(struct gm_err *e)
{
    /* the texts are read up to their NUL: the first byte clears them
     * (a memset of the whole struct, most of a kilobyte, per decoded event
     * showed in the fold's profile) */
    if (e) {
        e->code = 0;
        e->line = 0;
        e->column = 0;
        e->where[0] = '\0';
        e->msg[0] = '\0';
    }
}

static void
vset(struct gm_err *e, int code, int line, int column, const char *fmt, va_list ap)
{
    e->code = code;
    e->line = line;
    e->column = column;
    vsnprintf(e->msg, sizeof e->msg, fmt, ap);
}

int
gm_err_set(struct gm_err *e, int code, const char *fmt, ...)
{
    if (e) {
        va_list ap;
        va_start(ap, fmt);
        vset(e, code, 0, 0, fmt, ap);
        va_end(ap);
    }
    return code;
}

int
gm_err_setpos(struct gm_err *e, int code, int line, int column, const char *fmt, ...)
{
    if (e) {
        va_list ap;
        va_start(ap, fmt);
        vset(e, code, line, column, fmt, ap);
        va_end(ap);
    }
    return code;
}

int
gm_err_where(struct gm_err *e, const char *where)
{
    if (!e)
        return 0;
    snprintf(e->where, sizeof e->where, "%s", where);
    return e->code;
}
