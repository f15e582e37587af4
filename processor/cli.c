/*
 * cli.c: the `gamify` command: one binary, one subcommand per operator
 * task (DESIGN section 8). Each subcommand parses its own flags and calls
 * into the libraries; nothing here holds product logic.
 */
#include "commands.h"
#include "gm_config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* One command per line. */
/* clang-format off */
static const struct {
    const char *name;
    int (*run)(int argc, char **argv);
} commands[] = {
    {"events", gm_cmd_events},
    {"produce", gm_cmd_produce},
    {"rules", gm_cmd_rules},
    {"replay", gm_cmd_replay},
    {"dump", gm_cmd_dump},
    {"digest", gm_cmd_digest},
    {"dlq", gm_cmd_dlq},
    {"rebuild", gm_cmd_rebuild},
    {"reconcile", gm_cmd_reconcile},
    {"migrate", gm_cmd_migrate},
    {"project", gm_cmd_project},
    {"diff", gm_cmd_diff},
    {"ledger", gm_cmd_ledger},
    {"webhooks", gm_cmd_webhooks},
};
/* clang-format on */

static void
usage(FILE *to)
{
    fprintf(to, "usage: gamify COMMAND [ARGS]\n"
                "\n"
                "commands:\n"
                "  events check [FILE|-]   validate JSON-lines events (proto3 JSON mapping);\n"
                "                          prints each bad line with its number and reason\n"
                "  events normalize [FILE|-]\n"
                "                          print each event back in canonical JSON\n"
                "  rules check FILE        validate a rules file; errors as FILE:LINE:COLUMN\n"
                "  rules publish --log file:DIR FILE\n"
                "                          append the rules to the log (they apply from there)\n"
                "  produce --log URI [FILE|-]  append JSON-lines events to a log as protobuf\n"
                "  replay --log URI --state DIR [--rules FILE] [--rules-override FILE]\n"
                "                          fold a log (file:, jsonl:, or a whole kafka:// topic)\n"
                "                          into state (resumes where it stopped); with\n"
                "                          --rules-override a what-if replay under other rules\n"
                "  dump --state DIR [--user ID]\n"
                "                          the audit view: one JSON line per learner\n"
                "  digest --state DIR      SHA-256 of the canonical state\n"
                "  diff --state A --state B [--user ID]\n"
                "                          learners whose audit view differs, then totals\n"
                "  ledger --state DIR --user ID [--since TIME] [--until TIME]\n"
                "                          a learner's EXP and coin changes, and their sums\n"
                "  dlq list --state DIR    the dead letters, one JSON line each\n"
                "  dlq requeue --state DIR --log file:DIR [--reason R] [--seq N]\n"
                "                          append dead letters to the log again, once fixed\n"
                "  migrate --postgres CONNINFO\n"
                "                          apply the read model's schema migrations\n"
                "  project --state DIR --postgres CONNINFO [--follow] [--batch N]\n"
                "                          project the change feed into the Postgres read model\n"
                "  project --state DIR --redis URL [--follow]\n"
                "                          project the leaderboards into Redis\n"
                "  rebuild --state DIR --redis URL\n"
                "                          rewrite every board in Redis from the state\n"
                "  webhooks list|retry --state DIR [--webhooks FILE]\n"
                "                          webhook dead letters: print, or send again\n"
                "  reconcile --state DIR --redis URL\n"
                "                          compare the Redis leaderboards with the state now\n"
                "                          and repair drift (exit 1 when there was some)\n"
                "  version                 print the version\n"
                "  help                    this text\n");
}

int
main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    const char *cmd = argv[1];
    if (strcmp(cmd, "help") == 0 || strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0) {
        usage(stdout);
        return 0;
    }
    if (strcmp(cmd, "version") == 0 || strcmp(cmd, "--version") == 0) {
        printf("gamify %s\n", GM_VERSION);
        return 0;
    }
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++) {
        if (strcmp(cmd, commands[i].name) == 0)
            return commands[i].run(argc - 1, argv + 1);
    }
    fprintf(stderr, "gamify: unknown command '%s'\n", cmd);
    usage(stderr);
    return 2;
}
