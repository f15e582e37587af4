/*
 * server_env.c: the environment contract between tests/run and the
 * integration tests: skip without servers, or fail when they are required.
 */
#include "server_env.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

const char *
gm_test_server_env(const char *name)
{
    const char *value = getenv(name);
    const char *require = getenv("GAMIFY_TEST_REQUIRE_SERVERS");

    if (value && *value)
        return value;
    if (require && strcmp(require, "1") == 0)
        cr_assert_fail(
            "%s is not set but GAMIFY_TEST_REQUIRE_SERVERS=1; run tests/run, which starts "
            "the servers and sets it",
            name);
    cr_skip_test("%s is not set: run tests/run, which starts the servers and sets it", name);
    return NULL; /* not reached */
}

char *
gm_test_unique_name(const char *prefix)
{
    struct timespec now;
    char *name = NULL;

    clock_gettime(CLOCK_REALTIME, &now);
    if (asprintf(&name, "%s-%ld-%lld%09ld", prefix, (long)getpid(), (long long)now.tv_sec,
                 (long)now.tv_nsec) < 0)
        abort();
    return name;
}
