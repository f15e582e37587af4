/*
 * cmd_util.h: small helpers the `gamify` commands share: settings from the
 * environment, time, and the partition-N folders of a partitioned state.
 */
#ifndef GM_CMD_UTIL_H
#define GM_CMD_UTIL_H

#include "config.h"

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* A command of the gamify CLI: its settings in one table (config.h), so
 * that every flag has its GAMIFY_<FLAG> variable and its --help line. */
struct gm__command {
    const char *name;     /* "replay", "webhooks list": for usage and errors */
    const char *synopsis; /* after "gamify NAME " in the usage line */
    const char *about;    /* what it does, a few lines ending in '\n' */
    const struct gm_setting *table;
    size_t n;
    size_t max_args; /* arguments that are not flags it takes */
};

/*
 * Parses argv (argv[0] is the command) for cmd into cfg. Returns -1 to run
 * (free cfg with gm_config_deinit after), else the exit status, with cfg
 * freed: 0 after printing --help to stdout, 2 after printing the error to
 * stderr.
 */
int gm__command_parse(const struct gm__command *cmd, int argc, char **argv, struct gm_config *cfg);

/* Prints cmd's usage line and settings to to. */
void gm__command_usage(const struct gm__command *cmd, FILE *to);

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
