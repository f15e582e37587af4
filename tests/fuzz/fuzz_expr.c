/*
 * fuzz_expr.c: gm_expr_compile on the bytes as one NUL-terminated string
 * (a `when` of a lesson bonus), then gm_expr_eval over a few variable
 * vectors, extremes included, since evaluation must never fail. A rejected
 * expression must name a column inside the text; an accepted one must
 * report the names it reads, and compile under a narrower mask exactly
 * when it reads only names of that mask, with the same results.
 */
#include "expr.h"
#include "fuzz.h"

#include <string.h>

#define EXPR_INPUT_MAX (64 * 1024)
#define N_VECTORS      6

static void
fill_vectors(int64_t vec[N_VECTORS][GM_VAR_COUNT], const uint8_t *data, size_t size)
{
    for (int v = 0; v < GM_VAR_COUNT; v++) {
        vec[0][v] = 0;
        vec[1][v] = INT64_MAX;
        vec[2][v] = INT64_MIN;
        vec[3][v] = v % 2 ? -1 : 1;
        vec[4][v] = (int64_t)v * 7 - 40;
        /* Some values taken from the input, so the fuzzer steers them too. */
        vec[5][v] = size ? (int64_t)data[(size_t)v % size] - 100 : 0;
    }
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct gm_expr *e = NULL, *narrow = NULL;
    struct gm_err err;

    if (size > EXPR_INPUT_MAX)
        return 0;
    char *src = malloc(size + 1);
    if (!src)
        abort();
    memcpy(src, data, size);
    src[size] = '\0';
    size_t len = strlen(src);

    gm_err_clear(&err);
    int rc = gm_expr_compile(src, GM_VARS_LESSON, &e, &err);
    if (rc) {
        GM_FUZZ_CHECK(rc == GM_EINVAL && !e, "a failed compile is GM_EINVAL with no program");
        GM_FUZZ_CHECK(err.code == rc && err.msg[0], "a failed compile says why");
        GM_FUZZ_CHECK(err.column >= 1 && (size_t)err.column <= len + 1,
                      "the error column lies in the source");
        goto out;
    }
    GM_FUZZ_CHECK(e, "a compile that succeeds returns a program");
    GM_FUZZ_CHECK(strcmp(gm_expr_source(e), src) == 0, "the program keeps its source");
    unsigned used = gm_expr_vars(e);
    GM_FUZZ_CHECK((used & ~GM_VARS_LESSON) == 0, "a program reads only allowed names");

    int64_t vec[N_VECTORS][GM_VAR_COUNT];
    fill_vectors(vec, data, size);
    bool res[N_VECTORS];
    for (int i = 0; i < N_VECTORS; i++) {
        res[i] = gm_expr_eval(e, vec[i]);
        GM_FUZZ_CHECK(gm_expr_eval(e, vec[i]) == res[i], "evaluation is pure");
    }

    rc = gm_expr_compile(src, GM_VARS_COUNTERS, &narrow, &err);
    if (used & ~GM_VARS_COUNTERS) {
        GM_FUZZ_CHECK(rc == GM_EINVAL && !narrow, "a name outside the mask is an error");
    } else {
        GM_FUZZ_CHECK(rc == 0 && narrow, "a program within the narrower mask compiles there");
        GM_FUZZ_CHECK(gm_expr_vars(narrow) == used, "the same source reads the same names");
        for (int i = 0; i < N_VECTORS; i++)
            GM_FUZZ_CHECK(gm_expr_eval(narrow, vec[i]) == res[i], "the same source, same result");
    }
out:
    gm_expr_free(narrow);
    gm_expr_free(e);
    free(src);
    return 0;
}
