/*
 * test_config.c: the settings table (common/config.h) that gamify-processor,
 * gamify-api and every gamify command parse their flags and environment
 * with: precedence, bounds, booleans, required values, a command's
 * arguments, flag-only settings and what a command does not read.
 */
#include "config.h"

#include <criterion/criterion.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const struct gm_setting table[] = {
    {"state", GM_SET_STRING, NULL, 0, 0, true, "the state"},
    {"batch", GM_SET_INT, "50", 1, 100, false, "records per batch"},
    {"follow", GM_SET_BOOL, "false", 0, 0, false, "keep going"},
    {"user", GM_SET_STRING, NULL, 0, 0, false, "one learner", true},
};
#define N (sizeof table / sizeof *table)

static void
clear_env(void)
{
    unsetenv("GAMIFY_STATE");
    unsetenv("GAMIFY_BATCH");
    unsetenv("GAMIFY_FOLLOW");
    unsetenv("GAMIFY_USER");
    unsetenv("GAMIFY_CONFIG");
}

TestSuite(config, .init = clear_env, .fini = clear_env);

Test(config, defaults_env_then_flags)
{
    struct gm_config cfg;
    struct gm_err err;
    char *argv[] = {"x", "--state", "s1", NULL};
    cr_assert_eq(gm_config_parse_command(&cfg, table, N, 0, 3, argv, &err), 0, "%s", err.msg);
    cr_assert_eq(gm_config_int(&cfg, "batch"), 50);
    cr_assert_not(gm_config_bool(&cfg, "follow"));
    cr_assert_str_eq(gm_config_str(&cfg, "state"), "s1");
    cr_assert_null(gm_config_str(&cfg, "user"));
    gm_config_deinit(&cfg);

    setenv("GAMIFY_BATCH", "70", 1);
    setenv("GAMIFY_FOLLOW", "yes", 1);
    setenv("GAMIFY_STATE", "from-env", 1);
    char *argv2[] = {"x", "--batch=80", NULL};
    cr_assert_eq(gm_config_parse_command(&cfg, table, N, 0, 2, argv2, &err), 0, "%s", err.msg);
    cr_assert_eq(gm_config_int(&cfg, "batch"), 80, "the flag wins over the environment");
    cr_assert(gm_config_bool(&cfg, "follow"));
    cr_assert_str_eq(gm_config_str(&cfg, "state"), "from-env");
    gm_config_deinit(&cfg);
}

Test(config, bad_values_name_the_setting)
{
    struct gm_config cfg;
    struct gm_err err;
    char *big[] = {"x", "--state", "s", "--batch", "101", NULL};
    cr_assert_eq(gm_config_parse_command(&cfg, table, N, 0, 5, big, &err), GM_EINVAL);
    cr_assert(strstr(err.msg, "101 is outside 1..100"), "%s", err.msg);
    gm_config_deinit(&cfg);
    char *word[] = {"x", "--state", "s", "--batch", "ten", NULL};
    cr_assert_eq(gm_config_parse_command(&cfg, table, N, 0, 5, word, &err), GM_EINVAL);
    cr_assert(strstr(err.msg, "is not an integer"), "%s", err.msg);
    gm_config_deinit(&cfg);
    char *missing[] = {"x", "--batch", "5", NULL};
    cr_assert_eq(gm_config_parse_command(&cfg, table, N, 0, 3, missing, &err), GM_EINVAL);
    cr_assert(strstr(err.msg, "--state is required (or GAMIFY_STATE)"), "%s", err.msg);
    gm_config_deinit(&cfg);
    char *unknown[] = {"x", "--state", "s", "--bogus", NULL};
    cr_assert_eq(gm_config_parse_command(&cfg, table, N, 0, 4, unknown, &err), GM_EINVAL);
    cr_assert(strstr(err.msg, "unknown flag --bogus"), "%s", err.msg);
    gm_config_deinit(&cfg);
    char *novalue[] = {"x", "--state", NULL};
    cr_assert_eq(gm_config_parse_command(&cfg, table, N, 0, 2, novalue, &err), GM_EINVAL);
    cr_assert(strstr(err.msg, "--state needs a value"), "%s", err.msg);
    gm_config_deinit(&cfg);
    setenv("GAMIFY_FOLLOW", "maybe", 1);
    char *ok[] = {"x", "--state", "s", NULL};
    cr_assert_eq(gm_config_parse_command(&cfg, table, N, 0, 3, ok, &err), GM_EINVAL);
    cr_assert(strstr(err.msg, "GAMIFY_FOLLOW") && strstr(err.msg, "not true or false"), "%s",
              err.msg);
    gm_config_deinit(&cfg);
}

Test(config, command_arguments)
{
    struct gm_config cfg;
    struct gm_err err;
    char *argv[] = {"x", "a.yaml", "--state", "s", "-", "--", "--not-a-flag", NULL};
    cr_assert_eq(gm_config_parse_command(&cfg, table, N, 3, 7, argv, &err), 0, "%s", err.msg);
    cr_assert_eq(cfg.n_args, 3);
    cr_assert_str_eq(cfg.args[0], "a.yaml");
    cr_assert_str_eq(cfg.args[1], "-");
    cr_assert_str_eq(cfg.args[2], "--not-a-flag", "after --, everything is an argument");
    gm_config_deinit(&cfg);
    char *extra[] = {"x", "--state", "s", "one", "two", NULL};
    cr_assert_eq(gm_config_parse_command(&cfg, table, N, 1, 5, extra, &err), GM_EINVAL);
    cr_assert(strstr(err.msg, "unexpected argument \"two\""), "%s", err.msg);
    gm_config_deinit(&cfg);
    /* a daemon takes none */
    char *daemon[] = {"x", "--state", "s", "one", NULL};
    cr_assert_eq(gm_config_parse(&cfg, table, N, 4, daemon, &err), GM_EINVAL);
    gm_config_deinit(&cfg);
}

Test(config, flag_only_setting_ignores_the_environment)
{
    struct gm_config cfg;
    struct gm_err err;
    setenv("GAMIFY_USER", "alice", 1);
    char *argv[] = {"x", "--state", "s", NULL};
    cr_assert_eq(gm_config_parse_command(&cfg, table, N, 0, 3, argv, &err), 0, "%s", err.msg);
    cr_assert_null(gm_config_str(&cfg, "user"), "GAMIFY_USER must not filter a run");
    gm_config_deinit(&cfg);
    char *flag[] = {"x", "--state", "s", "--user", "bob", NULL};
    cr_assert_eq(gm_config_parse_command(&cfg, table, N, 0, 5, flag, &err), 0, "%s", err.msg);
    cr_assert_str_eq(gm_config_str(&cfg, "user"), "bob");
    gm_config_deinit(&cfg);
}

Test(config, a_command_reads_no_config_file_and_has_no_check_config)
{
    char path[] = "/tmp/gamify-test-config-XXXXXX";
    int fd = mkstemp(path);
    cr_assert(fd >= 0);
    FILE *f = fdopen(fd, "w");
    fprintf(f, "metrics = 127.0.0.1:1\nbatch = 7\n");
    fclose(f);
    setenv("GAMIFY_CONFIG", path, 1);
    struct gm_config cfg;
    struct gm_err err;
    char *argv[] = {"x", "--state", "s", NULL};
    cr_assert_eq(gm_config_parse_command(&cfg, table, N, 0, 3, argv, &err), 0, "%s", err.msg);
    cr_assert_eq(gm_config_int(&cfg, "batch"), 50, "a command ignores GAMIFY_CONFIG");
    gm_config_deinit(&cfg);
    /* the daemon reads it, and refuses the key it does not know */
    cr_assert_eq(gm_config_parse(&cfg, table, N, 3, argv, &err), GM_EINVAL);
    cr_assert(strstr(err.msg, "metrics"), "%s", err.msg);
    gm_config_deinit(&cfg);
    char *check[] = {"x", "--state", "s", "--check-config", NULL};
    unsetenv("GAMIFY_CONFIG");
    cr_assert_eq(gm_config_parse_command(&cfg, table, N, 0, 4, check, &err), GM_EINVAL);
    gm_config_deinit(&cfg);
    unlink(path);
}

/* A table past GM_CONFIG_MAX is the program's bug: it stops loudly instead of
 * dropping the last settings (gamify-api's log-level once went missing so). */
Test(config, a_table_past_the_bound_aborts, .signal = SIGABRT)
{
    static struct gm_setting big[GM_CONFIG_MAX + 1];
    static char names[GM_CONFIG_MAX + 1][16];
    for (size_t i = 0; i < GM_CONFIG_MAX + 1; i++) {
        snprintf(names[i], sizeof names[i], "s%zu", i);
        big[i] = (struct gm_setting){.name = names[i], .type = GM_SET_STRING, .def = "x"};
    }
    struct gm_config cfg;
    struct gm_err err;
    char *argv[] = {"prog", NULL};
    gm_config_parse(&cfg, big, GM_CONFIG_MAX + 1, 1, argv, &err);
}
