/*
 * cmd_util.h: small helpers the `gamify` commands share: settings from the
 * environment, time, and the partition-N folders of a partitioned state.
 */
#ifndef GM_CMD_UTIL_H
#define GM_CMD_UTIL_H

#include <stddef.h>
#include <stdint.h>

/* The environment variable name when set and not empty, else fallback. */
const char *gm__env_or(const char *name, const char *fallback);

/* Seconds on the monotonic clock. */
double gm__now_s(void);

/* Sleeps ms milliseconds (a signal cuts it short, as wanted). */
void gm__sleep_ms(int64_t ms);

/*
 * The partition-N subfolders of state (a Kafka processor's state), in
 * partition order: *dirs their paths (new; free with gm__free_dirs), *ids
 * their numbers (new, free(); ids may be NULL), *n how many; 0 for a plain
 * state or a missing folder.
 */
void gm__partition_dirs(const char *state, char ***dirs, int **ids, size_t *n);

/* Frees what gm__partition_dirs returned; NULL is fine. */
void gm__free_dirs(char **dirs, size_t n);

#endif
