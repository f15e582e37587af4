/*
 * err.h: gamify's error codes and the person-readable error record.
 *
 * Functions return int: 0 on success, a negative code on failure. Negative
 * errno values pass through unchanged; our own codes live below GM_E_BASE so
 * the two ranges never meet. Where a person reads the error (a rules file,
 * an event line, a GraphQL document, a config file) the caller also gets a
 * struct gm_err with a message and, when known, a line and column.
 */
#ifndef GM_ERR_H
#define GM_ERR_H

#include <stddef.h>

#define GM_E_BASE (-10000)

enum gm_error {
    GM_OK = 0,
    GM_EINVAL = GM_E_BASE - 1,        /* input does not follow the contract */
    GM_ETOOBIG = GM_E_BASE - 2,       /* input larger than its bound */
    GM_EDECODE = GM_E_BASE - 3,       /* bytes are not a valid protobuf message */
    GM_EJSON = GM_E_BASE - 4,         /* text is not valid JSON */
    GM_ENOTFOUND = GM_E_BASE - 5,     /* a looked-up thing does not exist */
    GM_EIO = GM_E_BASE - 6,           /* I/O failed; errno-less library failure */
    GM_ECORRUPT = GM_E_BASE - 7,      /* stored data failed its integrity check */
    GM_EDB = GM_E_BASE - 8,           /* a database (LMDB, Postgres) failed */
    GM_EREDIS = GM_E_BASE - 9,        /* Redis failed */
    GM_EKAFKA = GM_E_BASE - 10,       /* Kafka failed */
    GM_EUNSUPPORTED = GM_E_BASE - 11, /* built without the needed feature */
    GM_EREJECTED = GM_E_BASE - 12,    /* the fold rejected an event */
    GM_ELAST = GM_E_BASE - 13,
};

/* Returns a static description of a code (ours or -errno); never NULL. */
const char *gm_strerror(int code);

#define GM_ERR_MSG_MAX 512

/*
 * A person-readable error. line and column are 1-based; 0 means unknown.
 * where names the thing in error (a field path, a file name) or is empty.
 */
struct gm_err {
    int code;
    int line;
    int column;
    char where[128];
    char msg[GM_ERR_MSG_MAX];
};

/* Clears e (e may be NULL): code, line and column 0, where and msg empty
 * strings (their bytes past the NUL are left as they were). */
void gm_err_clear(struct gm_err *e);

/*
 * Fills e (when not NULL) with code and a printf-style message; returns code
 * so that callers can write `return gm_err_set(e, GM_EINVAL, ...)`.
 */
int gm_err_set(struct gm_err *e, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Like gm_err_set, with a position. */
int gm_err_setpos(struct gm_err *e, int code, int line, int column, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

/* Sets e->where (truncated to fit); returns e->code. */
int gm_err_where(struct gm_err *e, const char *where);

#endif
