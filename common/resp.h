/*
 * resp.h: a Redis command as RESP text (the protocol's array of bulk
 * strings), written into a caller's buffer, for redisAppendFormattedCommand:
 * cheaper than hiredis's own formatting through sds strings on the API's
 * per-request path.
 */
#ifndef GM_RESP_H
#define GM_RESP_H

#include <stddef.h>

/*
 * Writes argv[0..argc) (lens: their lengths; NULL: NUL-terminated) into buf
 * of size cap. Returns the length written, or 0 when it does not fit or
 * argc is below 1 (format it another way then).
 */
size_t gm_resp_format(char *buf, size_t cap, int argc, const char *const *argv, const size_t *lens);

#endif
