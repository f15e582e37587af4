/*
 * cmd_util.c: helpers of the `gamify` commands (see cmd_util.h).
 */
#include "cmd_util.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

int
gm__command_parse(const struct gm__command *cmd, int argc, char **argv, struct gm_config *cfg)
{
    struct gm_err err;
    gm_err_clear(&err);
    if (gm_config_parse_command(cfg, cmd->table, cmd->n, cmd->max_args, argc, argv, &err)) {
        fprintf(stderr, "gamify %s: %s\n", cmd->name, err.msg);
        gm_config_deinit(cfg);
        return 2;
    }
    if (cfg->help) {
        gm__command_usage(cmd, stdout);
        gm_config_deinit(cfg);
        return 0;
    }
    return -1;
}

void
gm__command_usage(const struct gm__command *cmd, FILE *to)
{
    fprintf(to, "usage: gamify %s %s\n%s\nsettings (flag, environment variable):\n", cmd->name,
            cmd->synopsis, cmd->about);
    gm_config_usage_settings(cmd->table, cmd->n, to);
    fprintf(to, "  --help\n      this text\n");
}

const char *
gm__env_or(const char *name, const char *fallback)
{
    const char *v = getenv(name);
    return v && *v ? v : fallback;
}

double
gm__now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

void
gm__sleep_ms(int64_t ms)
{
    struct timespec ts = {(time_t)(ms / 1000), (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

void
gm__partition_dirs(const char *state, char ***dirs, int **ids_out, size_t *n)
{
    *dirs = NULL;
    *n = 0;
    if (ids_out)
        *ids_out = NULL;
    DIR *d = state ? opendir(state) : NULL;
    struct dirent *de;
    int *ids = NULL;
    size_t cap = 0;
    while (d && (de = readdir(d))) {
        char *end;
        if (strncmp(de->d_name, "partition-", 10) != 0)
            continue;
        long id = strtol(de->d_name + 10, &end, 10);
        if (end == de->d_name + 10 || *end || id < 0 || id > 1000000)
            continue;
        if (*n == cap) {
            cap = cap ? 2 * cap : 16;
            *dirs = realloc(*dirs, cap * sizeof **dirs);
            ids = realloc(ids, cap * sizeof *ids);
            if (!*dirs || !ids)
                abort();
        }
        size_t i = (*n)++;
        while (i > 0 && ids[i - 1] > id) {
            ids[i] = ids[i - 1];
            (*dirs)[i] = (*dirs)[i - 1];
            i--;
        }
        ids[i] = (int)id;
        if (asprintf(&(*dirs)[i], "%s/%s", state, de->d_name) < 0)
            abort();
    }
    if (d)
        closedir(d);
    if (ids_out)
        *ids_out = ids;
    else
        free(ids);
}

void
gm__free_dirs(char **dirs, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(dirs[i]);
    free(dirs);
}
