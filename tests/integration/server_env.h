/*
 * server_env.h: how integration tests find the servers that tests/run
 * started (PostgreSQL, Redis, a Kafka-protocol broker), through environment
 * variables.
 */
#ifndef GM_TEST_SERVER_ENV_H
#define GM_TEST_SERVER_ENV_H

/*
 * Returns the value of the environment variable name (borrowed; valid until
 * the environment changes). When it is unset or empty the current test is
 * skipped, or fails when GAMIFY_TEST_REQUIRE_SERVERS=1; either way this does
 * not return. Call it only from inside a Criterion test.
 */
const char *gm_test_server_env(const char *name);

/*
 * Returns a name unique to this process and moment, "PREFIX-PID-NANOS", for
 * keys, topics and groups that must not meet those of another run. Returns
 * new; free with free().
 */
char *gm_test_unique_name(const char *prefix);

#endif
