/*
 * config.h: a daemon's settings, declared once in a table (name, type,
 * bounds, default, help) and read from, in increasing precedence, the
 * defaults, a config file (`name = value` lines), the environment
 * (GAMIFY_<NAME>, upper case, '-' as '_') and command-line flags
 * (--name value, --name=value; --flag for booleans). Flags, environment and
 * file use the same names. Every value is checked against its bounds.
 */
#ifndef GM_CONFIG_H
#define GM_CONFIG_H

#include "err.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

enum gm_setting_type {
    GM_SET_STRING,
    GM_SET_INT,
    GM_SET_BOOL,
};

struct gm_setting {
    const char *name; /* flag name without "--"; file key; env GAMIFY_<NAME> */
    enum gm_setting_type type;
    const char *def;  /* default as text; NULL: none (unset) */
    int64_t min, max; /* GM_SET_INT bounds */
    bool required;
    const char *help;
    bool flag_only; /* no GAMIFY_<NAME> variable: a value that must not leak from the
                       environment into every run (a learner filter, say) */
};

#define GM_CONFIG_MAX      48
#define GM_CONFIG_MAX_ARGS 8

/* The parsed values, by index in the table; strings are owned. */
struct gm_config {
    const struct gm_setting *table;
    size_t n;
    char *str[GM_CONFIG_MAX];
    int64_t num[GM_CONFIG_MAX];
    bool set[GM_CONFIG_MAX];
    char source[GM_CONFIG_MAX][16]; /* "default", "file", "env", "flag" */
    bool help, check_only;
    char *file;                     /* --config FILE (or GAMIFY_CONFIG) */
    char *args[GM_CONFIG_MAX_ARGS]; /* a command's arguments that are not flags; owned */
    size_t n_args;
};

/*
 * Parses defaults, the config file, the environment and argv (argv[0] is
 * the program) into cfg. --help and --check-config set cfg->help and
 * cfg->check_only. Returns 0, or GM_EINVAL with err naming the setting and
 * where it came from (file line numbers included).
 */
int gm_config_parse(struct gm_config *cfg, const struct gm_setting *table, size_t n, int argc,
                    char **argv, struct gm_err *err);

/*
 * As gm_config_parse, for a command of the gamify CLI: no config file
 * (neither --config nor GAMIFY_CONFIG: a daemon's file would hold keys the
 * command does not know), no --check-config, and up to max_args arguments
 * that are not flags ("-" included; all after "--") kept in cfg->args in
 * order. More than max_args is GM_EINVAL.
 */
int gm_config_parse_command(struct gm_config *cfg, const struct gm_setting *table, size_t n,
                            size_t max_args, int argc, char **argv, struct gm_err *err);

/* The value of the setting named name (must be in the table). */
const char *gm_config_str(const struct gm_config *cfg, const char *name);
int64_t gm_config_int(const struct gm_config *cfg, const char *name);
bool gm_config_bool(const struct gm_config *cfg, const char *name);

/* Writes --help text for the table. */
void gm_config_usage(const struct gm_setting *table, size_t n, const char *synopsis, FILE *to);

/* Writes one entry per setting of the table (flag, environment variable,
 * help, bounds, default): the body of gm_config_usage. */
void gm_config_usage_settings(const struct gm_setting *table, size_t n, FILE *to);

/* Writes the effective settings and where each came from. */
void gm_config_print(const struct gm_config *cfg, FILE *to);

void gm_config_deinit(struct gm_config *cfg);

#endif
