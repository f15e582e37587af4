/*
 * config.c: settings from defaults, a file, the environment and flags,
 * checked against one table. See config.h.
 */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* GAMIFY_<NAME>: upper case, '-' as '_'. */
static void
env_name(const char *name, char *out, size_t cap)
{
    size_t k = (size_t)snprintf(out, cap, "GAMIFY_");
    for (const char *p = name; *p && k + 1 < cap; p++)
        out[k++] = *p == '-' ? '_' : (char)toupper((unsigned char)*p);
    out[k] = '\0';
}

static int
find(const struct gm_config *cfg, const char *name, size_t len)
{
    for (size_t i = 0; i < cfg->n; i++) {
        if (strlen(cfg->table[i].name) == len && strncmp(cfg->table[i].name, name, len) == 0)
            return (int)i;
    }
    return -1;
}

/* Checks and stores one value; where names its origin for errors. */
static int
assign(struct gm_config *cfg, int i, const char *value, const char *origin, const char *where,
       struct gm_err *err)
{
    const struct gm_setting *s = &cfg->table[i];
    switch (s->type) {
    case GM_SET_INT: {
        char *end;
        errno = 0;
        long long v = strtoll(value, &end, 10);
        if (errno || end == value || *end)
            return gm_err_set(err, GM_EINVAL, "%s: %s: \"%s\" is not an integer", where, s->name,
                              value);
        if (v < s->min || v > s->max)
            return gm_err_set(err, GM_EINVAL, "%s: %s: %lld is outside %lld..%lld", where, s->name,
                              v, (long long)s->min, (long long)s->max);
        cfg->num[i] = v;
        break;
    }
    case GM_SET_BOOL:
        if (!strcmp(value, "true") || !strcmp(value, "1") || !strcmp(value, "yes"))
            cfg->num[i] = 1;
        else if (!strcmp(value, "false") || !strcmp(value, "0") || !strcmp(value, "no"))
            cfg->num[i] = 0;
        else
            return gm_err_set(err, GM_EINVAL, "%s: %s: \"%s\" is not true or false", where, s->name,
                              value);
        break;
    case GM_SET_STRING:
        if (!*value && s->required)
            return gm_err_set(err, GM_EINVAL, "%s: %s: must not be empty", where, s->name);
        break;
    }
    free(cfg->str[i]);
    cfg->str[i] = strdup(value);
    cfg->set[i] = true;
    snprintf(cfg->source[i], sizeof cfg->source[i], "%s", origin);
    return 0;
}

static char *
trim(char *s)
{
    while (isspace((unsigned char)*s))
        s++;
    size_t n = strlen(s);
    while (n && isspace((unsigned char)s[n - 1]))
        s[--n] = '\0';
    return s;
}

static int
read_file(struct gm_config *cfg, const char *path, struct gm_err *err)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return gm_err_set(err, GM_EINVAL, "config file %s: %s", path, strerror(errno));
    char line[4096];
    int lineno = 0, rc = 0;
    while (rc == 0 && fgets(line, sizeof line, f)) {
        lineno++;
        char *p = trim(line);
        if (!*p || *p == '#')
            continue;
        char *eq = strchr(p, '=');
        char where[300];
        snprintf(where, sizeof where, "%s:%d", path, lineno);
        if (!eq) {
            rc = gm_err_set(err, GM_EINVAL, "%s: expected name = value", where);
            break;
        }
        *eq = '\0';
        char *key = trim(p), *value = trim(eq + 1);
        int i = find(cfg, key, strlen(key));
        if (i < 0) {
            rc = gm_err_set(err, GM_EINVAL, "%s: unknown setting \"%s\"", where, key);
            break;
        }
        rc = assign(cfg, i, value, "file", where, err);
    }
    fclose(f);
    return rc;
}

/* The parse behind gm_config_parse (command false) and
 * gm_config_parse_command (command true, up to max_args arguments). */
static int
parse(struct gm_config *cfg, const struct gm_setting *table, size_t n, bool command,
      size_t max_args, int argc, char **argv, struct gm_err *err)
{
    memset(cfg, 0, sizeof *cfg);
    cfg->table = table;
    /* a table past the bound is a program's bug: never drop its last settings silently */
    if (n > GM_CONFIG_MAX) {
        fprintf(stderr, "gm_config: %zu settings, GM_CONFIG_MAX is %d\n", n, GM_CONFIG_MAX);
        abort();
    }
    cfg->n = n;
    int rc;
    for (size_t i = 0; i < cfg->n; i++) {
        if (table[i].def && (rc = assign(cfg, (int)i, table[i].def, "default", "default", err)))
            return rc;
    }
    /* --config and --help first, so that precedence is file < env < flags */
    const char *file = command ? NULL : getenv("GAMIFY_CONFIG");
    for (int a = 1; a < argc && !command; a++) {
        if (!strcmp(argv[a], "--config") && a + 1 < argc)
            file = argv[++a];
        else if (!strncmp(argv[a], "--config=", 9))
            file = argv[a] + 9;
    }
    if (file && *file) {
        cfg->file = strdup(file);
        if ((rc = read_file(cfg, file, err)))
            return rc;
    }
    for (size_t i = 0; i < cfg->n; i++) {
        if (table[i].flag_only)
            continue;
        char env[96];
        env_name(table[i].name, env, sizeof env);
        const char *v = getenv(env);
        if (v && (rc = assign(cfg, (int)i, v, "env", env, err)))
            return rc;
    }
    bool flags_done = false;
    for (int a = 1; a < argc; a++) {
        const char *arg = argv[a];
        if (command && (flags_done || strncmp(arg, "--", 2) != 0 || !strcmp(arg, "--"))) {
            if (!flags_done && !strcmp(arg, "--")) {
                flags_done = true;
                continue;
            }
            if (cfg->n_args == max_args || cfg->n_args == GM_CONFIG_MAX_ARGS)
                return gm_err_set(err, GM_EINVAL, "unexpected argument \"%s\"", arg);
            if (!(cfg->args[cfg->n_args++] = strdup(arg)))
                abort();
            continue;
        }
        if (!strcmp(arg, "--help") || !strcmp(arg, "-h")) {
            cfg->help = true;
            continue;
        }
        if (!command && !strcmp(arg, "--check-config")) {
            cfg->check_only = true;
            continue;
        }
        if (!command && !strcmp(arg, "--config")) {
            a++;
            continue;
        }
        if (!command && !strncmp(arg, "--config=", 9))
            continue;
        if (strncmp(arg, "--", 2) != 0)
            return gm_err_set(err, GM_EINVAL, "unexpected argument \"%s\"", arg);
        const char *name = arg + 2, *eq = strchr(name, '=');
        size_t len = eq ? (size_t)(eq - name) : strlen(name);
        int i = find(cfg, name, len);
        if (i < 0)
            return gm_err_set(err, GM_EINVAL, "unknown flag --%.*s (see --help)", (int)len, name);
        const char *value;
        if (eq)
            value = eq + 1;
        else if (table[i].type == GM_SET_BOOL)
            value = "true";
        else if (a + 1 < argc)
            value = argv[++a];
        else
            return gm_err_set(err, GM_EINVAL, "--%s needs a value", table[i].name);
        char where[80];
        snprintf(where, sizeof where, "--%s", table[i].name);
        if ((rc = assign(cfg, i, value, "flag", where, err)))
            return rc;
    }
    if (cfg->help)
        return 0;
    for (size_t i = 0; i < cfg->n; i++) {
        if (table[i].required && !cfg->set[i]) {
            char env[96];
            env_name(table[i].name, env, sizeof env);
            return gm_err_set(err, GM_EINVAL, "--%s is required (or %s%s)", table[i].name, env,
                              command ? "" : ", or the config file");
        }
    }
    return 0;
}

int
gm_config_parse(struct gm_config *cfg, const struct gm_setting *table, size_t n, int argc,
                char **argv, struct gm_err *err)
{
    return parse(cfg, table, n, false, 0, argc, argv, err);
}

int
gm_config_parse_command(struct gm_config *cfg, const struct gm_setting *table, size_t n,
                        size_t max_args, int argc, char **argv, struct gm_err *err)
{
    return parse(cfg, table, n, true, max_args, argc, argv, err);
}

static int
must_find(const struct gm_config *cfg, const char *name)
{
    int i = find(cfg, name, strlen(name));
    if (i < 0)
        abort(); /* a setting the program never declared: a bug */
    return i;
}

const char *
gm_config_str(const struct gm_config *cfg, const char *name)
{
    int i = must_find(cfg, name);
    return cfg->set[i] ? cfg->str[i] : NULL;
}

int64_t
gm_config_int(const struct gm_config *cfg, const char *name)
{
    return cfg->num[must_find(cfg, name)];
}

bool
gm_config_bool(const struct gm_config *cfg, const char *name)
{
    return cfg->num[must_find(cfg, name)] != 0;
}

void
gm_config_usage(const struct gm_setting *table, size_t n, const char *synopsis, FILE *to)
{
    fprintf(to, "usage: %s\n\nsettings (flag, environment variable, config-file key):\n", synopsis);
    gm_config_usage_settings(table, n, to);
    fprintf(to, "  --config FILE  (GAMIFY_CONFIG)\n      read `name = value` lines first\n"
                "  --check-config\n      validate the settings, print them, and exit\n"
                "  --help\n      this text\n");
}

void
gm_config_usage_settings(const struct gm_setting *table, size_t n, FILE *to)
{
    for (size_t i = 0; i < n; i++) {
        const struct gm_setting *s = &table[i];
        char env[96];
        env_name(s->name, env, sizeof env);
        fprintf(to, "  --%s%s  (%s)\n      %s", s->name,
                s->type == GM_SET_BOOL  ? ""
                : s->type == GM_SET_INT ? " N"
                                        : " VALUE",
                s->flag_only ? "flag only" : env, s->help);
        if (s->type == GM_SET_INT)
            fprintf(to, " [%lld..%lld]", (long long)s->min, (long long)s->max);
        if (s->required)
            fprintf(to, " (required)");
        else if (s->def)
            fprintf(to, " (default %s)", *s->def ? s->def : "\"\"");
        fprintf(to, "\n");
    }
}

void
gm_config_print(const struct gm_config *cfg, FILE *to)
{
    for (size_t i = 0; i < cfg->n; i++) {
        if (cfg->set[i])
            fprintf(to, "%s = %s  # %s\n", cfg->table[i].name, cfg->str[i], cfg->source[i]);
        else
            fprintf(to, "# %s unset\n", cfg->table[i].name);
    }
}

void
gm_config_deinit(struct gm_config *cfg)
{
    for (size_t i = 0; i < cfg->n; i++)
        free(cfg->str[i]);
    for (size_t i = 0; i < cfg->n_args; i++)
        free(cfg->args[i]);
    free(cfg->file);
    memset(cfg, 0, sizeof *cfg);
}
