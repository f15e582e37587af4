/*
 * cli.c: the `gamify` command: one binary, one subcommand per operator
 * task (DESIGN section 8). Each subcommand parses its own flags and calls
 * into the libraries; nothing here holds product logic.
 */
#include "codec.h"
#include "gm_config.h"
#include "json.h"
#include "log.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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
                "  version                 print the version\n"
                "  help                    this text\n");
}

/*
 * Reads JSON-lines events from path ("-" for stdin). For each line, either
 * prints its canonical JSON (when print is set) or nothing; bad lines are
 * reported on stderr with their number. Returns 0 when every line was good.
 */
static int
events_scan(const char *path, int print)
{
    FILE *in = strcmp(path, "-") == 0 ? stdin : fopen(path, "r");
    if (!in) {
        fprintf(stderr, "gamify: %s: %s\n", path, strerror(errno));
        return 2;
    }
    char *line = NULL;
    size_t cap = 0;
    ssize_t n;
    long lineno = 0, good = 0, bad = 0;
    while ((n = getline(&line, &cap, in)) >= 0) {
        lineno++;
        while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
            line[--n] = '\0';
        if (n == 0)
            continue;
        struct gm_err err;
        gm_err_clear(&err);
        Gamification__V1__Event *ev = NULL;
        int rc = gm_event_from_json(line, (size_t)n, &ev, &err);
        if (rc) {
            bad++;
            fprintf(stderr, "%s:%ld: %s\n", path, lineno, err.msg);
            continue;
        }
        good++;
        if (print) {
            char *js = gm_event_to_json(ev);
            if (js)
                printf("%s\n", js);
            free(js);
        }
        gm_event_free(ev);
    }
    free(line);
    if (in != stdin)
        fclose(in);
    fprintf(stderr, "gamify: %s: %ld good, %ld bad\n", path, good, bad);
    return bad ? 1 : 0;
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
    if (strcmp(cmd, "events") == 0 && argc >= 3) {
        const char *path = argc >= 4 ? argv[3] : "-";
        if (strcmp(argv[2], "check") == 0)
            return events_scan(path, 0);
        if (strcmp(argv[2], "normalize") == 0)
            return events_scan(path, 1);
    }
    fprintf(stderr, "gamify: unknown command '%s'\n", cmd);
    usage(stderr);
    return 2;
}
