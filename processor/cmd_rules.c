/*
 * cmd_rules.c: `gamify rules check FILE`: parse and validate a rules file,
 * printing every error as FILE:LINE:COLUMN: message (the form editors and
 * CI annotate), or a one-line summary when the file is good.
 * `rules publish` comes with the event log.
 */
#include "commands.h"
#include "rules.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int
rules_check(const char *path)
{
    struct gm_rules *r = NULL;
    struct gm_err *errs = NULL;
    size_t n_errs = 0;
    int rc = gm_rules_load(path, &r, &errs, &n_errs);
    if (rc && n_errs == 0) {
        fprintf(stderr, "gamify: %s: %s\n", path, gm_strerror(rc));
        return 2;
    }
    if (rc) {
        for (size_t i = 0; i < n_errs; i++)
            fprintf(stderr, "%s:%d:%d: %s\n", path, errs[i].line, errs[i].column, errs[i].msg);
        fprintf(stderr, "gamify: %s: %zu error%s\n", path, n_errs, n_errs == 1 ? "" : "s");
        free(errs);
        return 1;
    }
    char hex[65];
    for (size_t i = 0; i < sizeof r->sha256; i++)
        snprintf(hex + 2 * i, 3, "%02x", r->sha256[i]);
    printf("%s: ok: %zu levels (cap %lld exp), %zu badges, %zu rewards, sha256 %s\n", path,
           r->n_levels, (long long)r->thresholds[r->n_levels - 1], r->n_badges, r->n_rewards, hex);
    gm_rules_free(r);
    return 0;
}

int
gm_cmd_rules(int argc, char **argv)
{
    if (argc == 3 && strcmp(argv[1], "check") == 0)
        return rules_check(argv[2]);
    if (argc == 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
        printf("usage: gamify rules check FILE\n");
        return 0;
    }
    fprintf(stderr, "usage: gamify rules check FILE\n");
    return 2;
}
