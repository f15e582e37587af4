/*
 * helpers.h: small helpers shared by the unit tests (reading the
 * repository's examples, building events). Header-only so that each test stays one
 * executable per module.
 */
#ifndef GM_TEST_HELPERS_H
#define GM_TEST_HELPERS_H

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Returns the path of a file in examples/ (GAMIFY_EXAMPLES; static buffer). */
static inline const char *
test_example_path(const char *name)
{
    static char path[4096];
    const char *dir = getenv("GAMIFY_EXAMPLES");
    cr_assert(dir, "GAMIFY_EXAMPLES is not set (run the tests through meson)");
    snprintf(path, sizeof path, "%s/%s", dir, name);
    return path;
}

/* Reads the non-empty lines of a file; returns the count, *lines new (free
 * each and the array). */
static inline size_t
test_read_lines(const char *path, char ***lines)
{
    FILE *f = fopen(path, "r");
    cr_assert(f, "cannot open %s", path);
    size_t n = 0, cap = 16;
    *lines = malloc(cap * sizeof **lines);
    char *line = NULL;
    size_t lcap = 0;
    ssize_t len;
    while ((len = getline(&line, &lcap, f)) >= 0) {
        while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r'))
            line[--len] = '\0';
        if (len == 0)
            continue;
        if (n == cap)
            *lines = realloc(*lines, (cap *= 2) * sizeof **lines);
        (*lines)[n++] = strdup(line);
    }
    free(line);
    fclose(f);
    return n;
}

static inline void
test_free_lines(char **lines, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(lines[i]);
    free(lines);
}

#endif
