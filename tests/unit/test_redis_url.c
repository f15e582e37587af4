/*
 * test_redis_url.c: the one Redis URL parser (common/redis_url.h) that the
 * projector, the API's resolvers, rate limits and event streams share.
 */
#include "redis_url.h"

#include <criterion/criterion.h>
#include <string.h>

static struct gm_redis_url
parse_ok(const char *url)
{
    struct gm_redis_url u;
    struct gm_err err;
    gm_err_clear(&err);
    int rc = gm_redis_url_parse(url, "--redis", &u, &err);
    cr_assert_eq(rc, 0, "%s: %s", url, err.msg);
    return u;
}

static void
parse_bad(const char *url, const char *why)
{
    struct gm_redis_url u;
    struct gm_err err;
    gm_err_clear(&err);
    int rc = gm_redis_url_parse(url, "--redis", &u, &err);
    cr_assert_eq(rc, GM_EINVAL, "%s was accepted", url ? url : "(null)");
    cr_assert(strstr(err.msg, why), "%s: '%s' does not say '%s'", url ? url : "(null)", err.msg,
              why);
    cr_assert(strstr(err.msg, "--redis"), "the message names the setting: %s", err.msg);
    gm_redis_url_deinit(&u);
}

Test(redis_url, host_alone_takes_the_defaults)
{
    struct gm_redis_url u = parse_ok("redis://cache.internal");
    cr_assert_str_eq(u.host, "cache.internal");
    cr_assert_eq(u.port, 6379);
    cr_assert_eq(u.db, 0);
    cr_assert_null(u.user);
    cr_assert_null(u.password);
    gm_redis_url_deinit(&u);
}

Test(redis_url, every_part)
{
    struct gm_redis_url u = parse_ok("redis://ops:s3cret@10.0.0.7:6380/3");
    cr_assert_str_eq(u.user, "ops");
    cr_assert_str_eq(u.password, "s3cret");
    cr_assert_str_eq(u.host, "10.0.0.7");
    cr_assert_eq(u.port, 6380);
    cr_assert_eq(u.db, 3);
    gm_redis_url_deinit(&u);
}

Test(redis_url, a_password_alone_and_one_with_at_and_colon)
{
    struct gm_redis_url u = parse_ok("redis://:pw@h");
    cr_assert_null(u.user);
    cr_assert_str_eq(u.password, "pw");
    gm_redis_url_deinit(&u);
    u = parse_ok("redis://pw@h:1");
    cr_assert_null(u.user);
    cr_assert_str_eq(u.password, "pw");
    cr_assert_eq(u.port, 1);
    gm_redis_url_deinit(&u);
    /* the last '@' ends the credentials */
    u = parse_ok("redis://me:p@ss:w@rd@h/0");
    cr_assert_str_eq(u.user, "me");
    cr_assert_str_eq(u.password, "p@ss:w@rd");
    cr_assert_str_eq(u.host, "h");
    gm_redis_url_deinit(&u);
}

Test(redis_url, a_trailing_slash_is_database_0)
{
    struct gm_redis_url u = parse_ok("redis://h:7000/");
    cr_assert_eq(u.port, 7000);
    cr_assert_eq(u.db, 0);
    gm_redis_url_deinit(&u);
}

Test(redis_url, malformed_urls_say_what_is_wrong)
{
    parse_bad(NULL, "expected redis://");
    parse_bad("http://h", "expected redis://");
    parse_bad("redis:/h", "expected redis://");
    parse_bad("redis://", "no host");
    parse_bad("redis://:6379", "no host");
    parse_bad("redis://user:pw@", "no host");
    parse_bad("redis://h:", "bad port");
    parse_bad("redis://h:0", "bad port");
    parse_bad("redis://h:65536", "bad port");
    parse_bad("redis://h:12ab", "bad port");
    parse_bad("redis://h/x", "bad database number");
    parse_bad("redis://h/-1", "bad database number");
    parse_bad("redis://h/2x", "bad database number");
}

Test(redis_url, a_unix_socket_with_its_database_and_credentials)
{
    struct gm_redis_url u = parse_ok("unix:///run/redis/redis.sock");
    cr_assert_str_eq(u.host, "/run/redis/redis.sock");
    cr_assert_eq(u.port, 0, "port 0 marks a socket");
    cr_assert_eq(u.db, 0);
    cr_assert_null(u.password);
    gm_redis_url_deinit(&u);
    u = parse_ok("unix://ops:p@ss@/tmp/r.sock?db=5");
    cr_assert_str_eq(u.user, "ops");
    cr_assert_str_eq(u.password, "p@ss");
    cr_assert_str_eq(u.host, "/tmp/r.sock");
    cr_assert_eq(u.db, 5);
    gm_redis_url_deinit(&u);
    u = parse_ok("unix://pw@/s");
    cr_assert_null(u.user);
    cr_assert_str_eq(u.password, "pw");
    cr_assert_str_eq(u.host, "/s");
    gm_redis_url_deinit(&u);
}

Test(redis_url, malformed_unix_urls_say_what_is_wrong)
{
    parse_bad("unix://", "absolute path");
    parse_bad("unix://run/redis.sock", "absolute path");
    parse_bad("unix:///", "absolute path");
    parse_bad("unix:///s?db=x", "only ?db=N");
    parse_bad("unix:///s?database=1", "only ?db=N");
    parse_bad("unix:///s?db=", "only ?db=N");
    parse_bad("unix:///s?db=99999999", "only ?db=N");
    char longpath[200] = "unix:///";
    memset(longpath + 8, 'a', 120);
    parse_bad(longpath, "longer than 107 bytes");
}

Test(redis_url, where_names_the_address_for_messages)
{
    char buf[64];
    cr_assert_str_eq(gm_redis_url_where("10.0.0.7", 6380, buf, sizeof buf), "10.0.0.7:6380");
    cr_assert_str_eq(gm_redis_url_where("/tmp/r.sock", 0, buf, sizeof buf), "unix:/tmp/r.sock");
    cr_assert_str_eq(GM_REDIS_WHERE("h", 1), "h:1");
}
