/*
 * commands.h: the subcommands of the `gamify` command. Each takes the
 * arguments after its name (argv[0] is the subcommand name) and returns the
 * process exit code: 0 success, 1 the work found problems (bad lines, rule
 * errors), 2 usage or I/O errors.
 */
#ifndef GM_COMMANDS_H
#define GM_COMMANDS_H

int gm_cmd_events(int argc, char **argv);
int gm_cmd_produce(int argc, char **argv);
int gm_cmd_rules(int argc, char **argv);
int gm_cmd_replay(int argc, char **argv);
int gm_cmd_dump(int argc, char **argv);
int gm_cmd_digest(int argc, char **argv);
int gm_cmd_dlq(int argc, char **argv);
int gm_cmd_rebuild(int argc, char **argv);
int gm_cmd_reconcile(int argc, char **argv);
int gm_cmd_project_redis(int argc, char **argv);
int gm_cmd_migrate(int argc, char **argv);
int gm_cmd_project(int argc, char **argv);
int gm_cmd_project_postgres(int argc, char **argv);
int gm_cmd_diff(int argc, char **argv);
int gm_cmd_ledger(int argc, char **argv);
int gm_cmd_webhooks(int argc, char **argv);

#endif
