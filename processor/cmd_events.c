/*
 * cmd_events.c: `gamify events check|normalize [FILE|-]`: validate JSON-lines
 * events against the contract, or print them back in canonical JSON.
 */
#include "codec.h"
#include "commands.h"
#include "json.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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
gm_cmd_events(int argc, char **argv)
{
    if (argc >= 2) {
        const char *path = argc >= 3 ? argv[2] : "-";
        if (strcmp(argv[1], "check") == 0)
            return events_scan(path, 0);
        if (strcmp(argv[1], "normalize") == 0)
            return events_scan(path, 1);
    }
    fprintf(stderr, "usage: gamify events check|normalize [FILE|-]\n");
    return 2;
}
